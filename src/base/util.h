/*
 * util: small helpers shared by every module: the monotonic clock,
 * monotonic condition-variable deadlines and O_NONBLOCK. Nothing here
 * allocates or keeps state.
 */
#ifndef RP_UTIL_H
#define RP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#define RP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Milliseconds of CLOCK_MONOTONIC. Thread-safe. */
int64_t util_now_ms(void);

/* Microseconds of CLOCK_MONOTONIC. Thread-safe. */
int64_t util_now_us(void);

/* Initialises a condition variable that waits on CLOCK_MONOTONIC, so a
 * stepped wall clock never stretches or cuts a wait. Returns 0 or an
 * error number. */
int util_cond_init(pthread_cond_t *cv);

/* The absolute CLOCK_MONOTONIC time of deadline_ms (a util_now_ms()
 * value), for pthread_cond_timedwait on a util_cond_init() variable. */
struct timespec util_deadline(int64_t deadline_ms);

/* Sets O_NONBLOCK on fd. Returns 0 or -1 with errno set. */
int util_set_nonblock(int fd);

#endif
