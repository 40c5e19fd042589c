/*
 * waiter: the one thread that watches parked connections, so that idle
 * keep-alive clients and slow senders never occupy a worker (the model of
 * Varnish's waiter and Apache's event MPM).
 *
 * A worker that has answered everything a connection sent parks it here
 * with a deadline: now + idle_timeout when nothing is pending, or the
 * partial request's start + request_timeout. The waiter registers the socket
 * with epoll (EPOLLONESHOT); when it becomes readable the conn goes back on
 * the work queue, and when its deadline passes the conn is closed (an HTTP
 * conn with a partial request gets "408 Request Timeout" first).
 *
 * Threads and locks: `lock` guards the parked list, the stopped flag and the
 * epoll registrations; workers take it in waiter_park(), the waiter thread
 * when a conn wakes up or expires. Deadlines are checked every 100 ms.
 */
#ifndef RP_WAITER_H
#define RP_WAITER_H

#include <stdint.h>

#include "conn.h"
#include "workq.h"

struct waiter;

/* Creates the waiter and starts its thread; readable conns are pushed to q.
 * Returns NULL on failure. */
struct waiter *waiter_create(struct workq *q);

/*
 * Hands c to the waiter until it is readable or deadline_ms (monotonic)
 * passes. On success the caller no longer owns c and must not touch it.
 * Returns 0, or -1 when the waiter is stopped or epoll fails (the caller
 * still owns c and should close it). Thread-safe.
 */
int waiter_park(struct waiter *w, struct conn *c, int64_t deadline_ms);

/* Stops and joins the thread, then hands parked conns that have bytes
 * waiting (a request in flight) to the queue and closes the rest. Later
 * waiter_park() calls fail. Call before workq_shutdown(). Idempotent. */
void waiter_stop(struct waiter *w);

/* Stops (if needed) and frees the waiter. NULL is a no-op. */
void waiter_destroy(struct waiter *w);

/* Conns parked now. Thread-safe. */
int waiter_count(struct waiter *w);

#endif
