/*
 * worker: per-connection processing loop; see worker.h. An idle worker
 * waits in the waiter's epoll (waiter_take), which also reports the work
 * queue's eventfd, so it wakes for a readable parked conn or a queued one.
 *
 * One round: read once, answer what is complete, repeat until the socket has
 * nothing more (EAGAIN, or a read that did not fill the buffer); then flush
 * and park. A conn that keeps sending is
 * put back at the tail of the queue after WORKER_ROUNDS rounds so one
 * pipelining client cannot starve the others.
 */
#include "net/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "net/conn.h"
#include "net/standby.h"

#define WORKER_ROUNDS 16

struct worker_pool {
    struct workq *q;
    struct waiter *waiter;
    struct standby *gate; /* at most `running` workers run at once */
    atomic_int busy;      /* workers serving a conn now */
    int n;
    pthread_t threads[];
};

enum serve_outcome {
    SERVE_PARK,    /* nothing buffered to do: hand to the waiter */
    SERVE_REQUEUE, /* more to read, but yield to other conns */
    SERVE_CLOSE,
};

static enum serve_outcome
serve_rounds(struct conn *c)
{
    int round;

    for (round = 0; round < WORKER_ROUNDS; round++) {
        long n = conn_read(c);

        if (n == CONN_IO_AGAIN) {
            return SERVE_PARK;
        }
        if (n == CONN_IO_EOF || n == CONN_IO_ERR) {
            return SERVE_CLOSE;
        }
        /* n == 0 means rbuf is full of a partial request: the protocol
         * handler turns that into its "too large" error. */
        if (c->kind->ops->serve(c) < 0) {
            return SERVE_CLOSE;
        }
        if (c->drained) {
            /* A short read: the socket was empty a moment ago. Park now
             * rather than spend a recv() on EAGAIN; the waiter's epoll
             * reports anything that arrived since at once. */
            return SERVE_PARK;
        }
    }
    return SERVE_REQUEUE;
}

/* Runs one conn until it is parked, requeued or closed. */
static void
serve(struct worker_pool *wp, struct conn *c)
{
    enum serve_outcome o = serve_rounds(c);
    const struct conn_kind *k = c->kind;
    int64_t now, deadline;

    if (conn_flush(c) < 0 || o == SERVE_CLOSE) {
        conn_destroy(c);
        return;
    }
    if (o == SERVE_REQUEUE && workq_push(wp->q, c) == WORKQ_OK) {
        return;
    }
    now = util_now_ms();
    deadline =
        c->req_start_ms != 0
            ? c->req_start_ms + atomic_load_explicit(&k->request_timeout_ms,
                                                     memory_order_relaxed)
            : now + atomic_load_explicit(&k->idle_timeout_ms,
                                         memory_order_relaxed);
    if (deadline <= now) {
        /* A partial request still incomplete at its deadline: however
         * recently the client sent its last byte, it is out of time. */
        waiter_close_expired(c);
        return;
    }
    if (waiter_park(wp->waiter, c, deadline) < 0) {
        conn_destroy(c);
    }
}

/* The next conn to serve: a queued one first (new connections, yielded
 * ones), else a parked one that became readable. NULL when there is none
 * yet; *stop is set once the queue is shut down and drained. */
static struct conn *
next_conn(struct worker_pool *wp, int *stop)
{
    void *item;

    switch (workq_trypop(wp->q, &item)) {
    case WORKQ_OK:
        return item;
    case WORKQ_ESHUTDOWN:
        *stop = 1;
        return NULL;
    default:
        /* Idle: stand by while enough others run, else wait for work. */
        standby_idle(wp->gate);
        return waiter_take(wp->waiter, -1);
    }
}

static void *
worker_main(void *arg)
{
    struct worker_pool *wp = arg;
    struct conn *c;
    int stop = 0;

    standby_attach(wp->gate);
    while (!stop) {
        if ((c = next_conn(wp, &stop)) != NULL) {
            atomic_fetch_add_explicit(&wp->busy, 1, memory_order_relaxed);
            serve(wp, c);
            atomic_fetch_sub_explicit(&wp->busy, 1, memory_order_relaxed);
        }
    }
    return NULL;
}

struct worker_pool *
worker_pool_create(int n, int running, struct workq *q, struct waiter *w)
{
    struct worker_pool *wp;
    int i;

    wp = calloc(1, sizeof(*wp) + (size_t)n * sizeof(wp->threads[0]));
    if (wp == NULL) {
        return NULL;
    }
    wp->q = q;
    wp->waiter = w;
    wp->gate = standby_create(running > 0 && running < n ? running : n);
    if (wp->gate == NULL) {
        free(wp);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (pthread_create(&wp->threads[i], NULL, worker_main, wp) != 0) {
            log_error("msg=\"cannot start worker thread\" index=%d", i);
            workq_shutdown(q);
            wp->n = i;
            worker_pool_destroy(wp);
            return NULL;
        }
    }
    wp->n = n;
    return wp;
}

void
worker_pool_destroy(struct worker_pool *wp)
{
    int i;

    if (wp == NULL) {
        return;
    }
    standby_stop(wp->gate);
    for (i = 0; i < wp->n; i++) {
        pthread_join(wp->threads[i], NULL);
    }
    standby_destroy(wp->gate);
    free(wp);
}

int
worker_pool_busy(struct worker_pool *wp)
{
    return atomic_load_explicit(&wp->busy, memory_order_relaxed);
}
