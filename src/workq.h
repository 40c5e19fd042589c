/*
 * workq: the bounded work queue between the accept loop / waiter (producers)
 * and the worker threads (consumers). A fixed ring of item pointers: push
 * never blocks and never grows the queue; it refuses when full (after
 * nginx's thread pool). Sized to max_clients plus slack, it cannot fill in
 * practice, because each connection is in at most one place at a time: the
 * queue, one worker, or the waiter.
 *
 * Thread-safe. One mutex guards head, count and the shutdown flag; one
 * condition variable wakes consumers.
 */
#ifndef RP_WORKQ_H
#define RP_WORKQ_H

#include <stddef.h>

enum workq_status {
    WORKQ_OK = 0,
    WORKQ_EFULL = -1,     /* the ring holds capacity items */
    WORKQ_ESHUTDOWN = -2, /* workq_shutdown() was called */
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

/* Appends items[0..n) in order under one lock acquisition, waking one
 * consumer per item. Returns how many were queued (the rest, from the
 * first refused one on, still belong to the caller). */
size_t workq_push_many(struct workq *q, void *const *items, size_t n);

/* Removes the oldest item, waiting while the queue is empty. After
 * workq_shutdown() it keeps returning queued items, then NULL. */
void *workq_pop(struct workq *q);

/* Wakes every waiting consumer; later pushes fail. Idempotent. */
void workq_shutdown(struct workq *q);

/* Items queued now. */
size_t workq_depth(struct workq *q);

#endif
