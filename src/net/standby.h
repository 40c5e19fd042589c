/*
 * standby: lets at most `limit` workers run at once (the number of CPUs),
 * and keeps the rest standing by until one of the running ones has to
 * wait (the idea of an I/O completion port's concurrency value).
 *
 * Why: idle workers sleep in the waiter's epoll, and the kernel wakes one
 * of them for every event that arrives while the running ones are busy.
 * With more workers than CPUs, that is a context switch per request for no
 * extra parallelism (the README has the measured figures). Workers beyond
 * the limit are only needed while others are blocked, so they wait here
 * instead, and a worker that is about to block (standby_block_begin) hands
 * its turn to one of them.
 *
 * No worker waits on Redis or on a client (Redis connections are
 * non-blocking and driven by readiness events), so the one wait a worker
 * still makes outside epoll is resolving a Redis host given by name
 * (getaddrinfo, in upstream/rconn.c), bracketed by standby_block_begin/end;
 * a wait that is not bracketed only costs parallelism for as long as it
 * lasts, never correctness. Writes to clients never wait (conn.h).
 *
 * Threads and locks: one mutex guards the counts; `running` is also read
 * without it on the idle path, where a stale value only delays standing by.
 */
#ifndef RP_STANDBY_H
#define RP_STANDBY_H

struct standby;

/* Creates the gate for up to limit (>= 1) running workers. Returns NULL on
 * failure. */
struct standby *standby_create(int limit);

/* Frees it. Call after every attached thread has returned. NULL is a no-op. */
void standby_destroy(struct standby *s);

/* Counts the calling thread as a running worker, and makes it the thread
 * standby_block_begin/end act for. */
void standby_attach(struct standby *s);

/* Called by an attached worker that found nothing to do and is about to
 * wait for work: if more than limit workers run, waits here until another
 * one blocks or standby_stop() is called. */
void standby_idle(struct standby *s);

/* The calling worker is about to wait (resolving a name) / has stopped
 * waiting. A standing-by worker takes its turn
 * meanwhile. No-ops in a thread that is not attached. Calls nest. */
void standby_block_begin(void);
void standby_block_end(void);

/* Sets what the calling worker does just before it blocks (in
 * standby_block_begin, outermost call only): the worker hands the conns it
 * has claimed but not started to other workers, so none of them waits
 * behind this one's wait. fn may be NULL. */
void standby_on_block(void (*fn)(void *arg), void *arg);

/* Releases every standing-by worker for good (shutdown). */
void standby_stop(struct standby *s);

#endif
