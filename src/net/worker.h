/*
 * worker: the pool of `workers` threads that drain the work queue. A worker
 * owns one connection at a time: it reads what is there, answers every
 * complete request (through the conn's ops), flushes, and then parks it with
 * the waiter, so an idle client never holds a thread. With workers = 1
 * requests are processed strictly one after another. At most one worker
 * per CPU runs at a time; the others stand by (standby.h) until a running
 * one has to wait (resolving a Redis host name): no worker waits on Redis
 * or on a client.
 */
#ifndef RP_WORKER_H
#define RP_WORKER_H

#include "net/waiter.h"
#include "net/workq.h"

struct worker_pool;

/* Starts n threads serving the conns queued on q and parked in w, letting
 * at most `running` of them run at once (standby.h). Returns NULL on
 * failure (threads already started are stopped). q and w must outlive the
 * pool. */
struct worker_pool *worker_pool_create(int n, int running, struct workq *q,
                                       struct waiter *w);

/* Waits for every thread to return; call after workq_shutdown(q), which
 * lets them finish what is queued. Frees the pool. NULL is a no-op. */
void worker_pool_destroy(struct worker_pool *wp);

/* The calling worker thread's index (0..n-1), 0 on other threads: the
 * pipeline a conn with nothing on its way to Redis uses, so that what one
 * worker sends in a round goes out together, and workers do not share a
 * pipeline's lock more than they must. */
unsigned worker_index(void);

/* Workers serving a conn now. Thread-safe. */
int worker_pool_busy(struct worker_pool *wp);

/* The timeouts of the conns' kinds changed (a reload): every conn parked
 * now gets the deadline its timeouts give it as if it were parked now
 * (waiter_retime). Returns how many conns that was. Thread-safe. */
long worker_pool_retime(struct worker_pool *wp);

#endif
