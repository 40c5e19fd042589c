/*
 * workq: the bounded work queue between the accept loop / waiter (producers)
 * and the worker threads (consumers). A fixed ring of item pointers: push
 * never blocks and never grows the queue; it refuses when full (after
 * nginx's thread pool). Sized to max_clients plus slack, it cannot fill in
 * practice, because each connection is in at most one place at a time: the
 * queue, one worker, or the waiter.
 *
 * Consumers (the workers) also wait for other events, the waiter's
 * readable conns, so the queue has no blocking pop: a consumer watches
 * workq_fd() edge-triggered in its epoll set and takes items with
 * workq_trypop(). Every push writes the eventfd, so each
 * item wakes one sleeping consumer (not all of them, as a level-triggered
 * fd would); a trypop that leaves items behind, or finds the queue shut
 * down, writes it again, so the wake-up is passed on until every item has
 * a consumer and every consumer has seen the shutdown.
 *
 * Thread-safe. One mutex guards head, count and the shutdown flag.
 * No other lock is taken while it is held.
 */
#ifndef RP_WORKQ_H
#define RP_WORKQ_H

#include <stddef.h>

enum workq_status {
    WORKQ_OK = 0,
    WORKQ_EFULL = -1,     /* the ring holds capacity items */
    WORKQ_ESHUTDOWN = -2, /* workq_shutdown() was called */
    WORKQ_EEMPTY = -3,    /* workq_trypop(): nothing queued right now */
};

struct workq;

/* Creates a queue of capacity items (>= 1). Returns NULL on failure. */
struct workq *workq_create(size_t capacity);

/* Frees the queue; items still queued are not touched. NULL is a no-op.
 * Call only after every consumer has returned. */
void workq_destroy(struct workq *q);

/* Appends item. Returns WORKQ_OK, WORKQ_EFULL or WORKQ_ESHUTDOWN; on error
 * the caller still owns item. Never blocks for long. */
int workq_push(struct workq *q, void *item);

/* Removes the oldest item into *item without waiting. Returns WORKQ_OK,
 * WORKQ_EEMPTY, or WORKQ_ESHUTDOWN once the queue is shut down and empty.
 * Writes the eventfd when it leaves items behind or returns
 * WORKQ_ESHUTDOWN (see the top of this file). */
int workq_trypop(struct workq *q, void **item);

/* Passes on a wake-up taken from the eventfd by a consumer that will not
 * call workq_trypop() now: writes the eventfd if items are queued or the
 * queue is shut down. */
void workq_pass_on(struct workq *q);

/* The eventfd written on every push, by trypop as above, and at shutdown;
 * watch it with EPOLLET. It is never read (its counter would need 2^64
 * writes to fill). Owned by the queue: never read, write or close it. */
int workq_fd(const struct workq *q);

/* Wakes a waiting consumer, which passes the wake-up on (workq_trypop);
 * later pushes fail. Idempotent. */
void workq_shutdown(struct workq *q);

/* Items queued now. */
size_t workq_depth(struct workq *q);

#endif
