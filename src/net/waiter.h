/*
 * waiter: holds parked connections, so that idle keep-alive clients and
 * slow senders never occupy a worker (the model of Varnish's waiter and
 * Apache's event MPM).
 *
 * A worker that has answered everything a connection sent parks it here
 * with a deadline: now + idle_timeout when nothing is pending, or the
 * partial request's start + request_timeout. The socket is registered with
 * the waiter's epoll (EPOLLONESHOT). Idle workers wait in that epoll
 * themselves (waiter_take): the worker the kernel wakes for a readable conn
 * serves it at once, with no thread in between. The waiter's own thread
 * only enforces deadlines: every 100 ms it closes conns whose deadline
 * passed (an HTTP conn with a partial request gets "408 Request Timeout"
 * first), except that a conn whose input arrived while every worker was
 * busy goes to the work queue instead, so a request that came in time is
 * never dropped for want of a worker.
 *
 * Why workers take readable conns from epoll rather than through the work
 * queue: a hand-off (waiter thread wakes, queues, signals a sleeping
 * worker) cost two context switches per request (the README has the
 * figures). The work queue still carries new connections from the accept
 * loop and conns a worker yields for fairness; its eventfd (workq_fd,
 * edge-triggered) is in the same epoll set, so a worker waiting there
 * wakes for either, one worker per event.
 *
 * Ownership: a parked conn belongs to the waiter until someone claims its
 * slot: a worker woken for it, the deadline thread, or waiter_stop. Each
 * slot has an atomic state word (generation << 32 | FREE, ARMING or
 * PARKED) and a claim is one compare-and-swap that also bumps the
 * generation, so exactly one claimer wins. epoll reports a conn by slot and
 * generation, never by pointer, so a report that lost the race (the conn
 * expired, or was handed on by waiter_stop, since epoll queued it) is
 * recognised and dropped without touching the conn.
 *
 * Threads and locks: `lock` guards only the slot free list, the count of
 * slots handed out and the stopped flag, for a few instructions at a time;
 * no lock is held across a syscall (epoll_ctl runs while the slot is
 * ARMING: the deadline scan skips it, a woken worker waits for it), and the
 * waiter never holds its lock while calling into the work queue.
 */
#ifndef RP_WAITER_H
#define RP_WAITER_H

#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "net/workq.h"

struct waiter;

/* Creates the waiter for at most slots parked conns and starts its
 * deadline thread; workers also wake for items in q. Returns NULL on
 * failure. */
struct waiter *waiter_create(struct workq *q, size_t slots);

/*
 * Hands c to the waiter until it is readable or deadline_ms (monotonic)
 * passes. On success the caller no longer owns c and must not touch it.
 * Returns 0, or -1 when the waiter is stopped or full or epoll fails (the
 * caller still owns c and should close it). Thread-safe.
 */
int waiter_park(struct waiter *w, struct conn *c, int64_t deadline_ms);

/*
 * Waits up to timeout_ms (-1 = no limit) until a parked conn is readable
 * (or its peer hung up) and returns it, owned by the caller from then on.
 * Returns NULL when the work queue has items or is shut down, when the
 * report lost a race, or on timeout; the caller checks the queue and calls
 * again. For worker threads. Thread-safe.
 */
struct conn *waiter_take(struct waiter *w, int timeout_ms);

/* Closes c, whose deadline passed, after its ops' last word (an HTTP conn
 * holding a partial request gets "408 Request Timeout": one non-blocking
 * send). For the owner of c: the deadline thread, or a worker that read a
 * request still incomplete at its deadline. */
void waiter_close_expired(struct conn *c);

/* Stops and joins the deadline thread, then hands parked conns that have
 * bytes waiting (a request in flight) to the queue and closes the rest.
 * Later waiter_park() calls fail and waiter_take() returns only NULL. Call
 * before workq_shutdown(). Idempotent. */
void waiter_stop(struct waiter *w);

/* Stops (if needed) and frees the waiter. Call after every worker that
 * may be in waiter_take() has returned. NULL is a no-op. */
void waiter_destroy(struct waiter *w);

/* Conns parked now. Thread-safe. */
int waiter_count(struct waiter *w);

#endif
