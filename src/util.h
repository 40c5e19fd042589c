/*
 * util: small helpers shared by every module: the monotonic clock and the
 * EINTR-safe write loop. Nothing here allocates or keeps state.
 */
#ifndef RP_UTIL_H
#define RP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Milliseconds of CLOCK_MONOTONIC. Thread-safe. */
int64_t util_now_ms(void);

/* Microseconds of CLOCK_MONOTONIC. Thread-safe. */
int64_t util_now_us(void);

/*
 * Writes all len bytes to a blocking or non-blocking fd, retrying on EINTR
 * and waiting with poll() up to timeout_ms in total when the socket would
 * block. Uses send(MSG_NOSIGNAL) on sockets so a closed peer never raises
 * SIGPIPE. Returns 0, or -1 with errno set (ETIMEDOUT when the peer did not
 * read in time).
 */
int util_write_all(int fd, const void *buf, size_t len, int timeout_ms);

/* Sets O_NONBLOCK on fd. Returns 0 or -1 with errno set. */
int util_set_nonblock(int fd);

#endif
