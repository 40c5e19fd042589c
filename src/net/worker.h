/*
 * worker: the pool of `workers` threads that drain the work queue. A worker
 * owns one connection at a time: it reads what is there, answers every
 * complete request (httpd or respd), flushes, and then parks the conn with
 * the waiter, so an idle client never holds a thread. With workers = 1
 * requests are processed strictly one after another. At most one worker
 * per CPU runs at a time; the others stand by (standby.h) until a running
 * one blocks on Redis or a slow client.
 */
#ifndef RP_WORKER_H
#define RP_WORKER_H

#include "serve/proxy.h"

struct worker_pool;

/* Starts n threads serving px->q. Returns NULL on failure (threads already
 * started are stopped). px must outlive the pool. */
struct worker_pool *worker_pool_create(struct proxy *px, int n);

/* Waits for every thread to return; call after workq_shutdown(px->q), which
 * lets them finish what is queued. Frees the pool. NULL is a no-op. */
void worker_pool_destroy(struct worker_pool *wp);

#endif
