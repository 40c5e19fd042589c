/*
 * worker: per-connection processing loop; see worker.h. An idle worker
 * waits in the waiter's epoll (waiter_wait), which also reports the work
 * queue's eventfd, so it wakes for a ready conn or a queued one; the conns
 * one wake-up claims are served in turn by the worker that claimed them.
 *
 * One round: answer what is buffered (as far as the output allows), send
 * what the socket takes, read once more. The conn is parked when the
 * socket has nothing more to read (EAGAIN, or a read that did not fill
 * the buffer) or will not take more output; a conn that keeps sending is
 * put back at the tail of the queue after WORKER_ROUNDS rounds so one
 * pipelining client cannot starve the others.
 */
#include "net/worker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/util.h"
#include "net/conn.h"
#include "net/standby.h"

#define WORKER_ROUNDS 16
#define WORKER_CLAIMS                                                          \
    8 /* conns one wake-up may claim; given away when                          \
         the worker is about to wait on Redis */

struct worker_pool {
    struct workq *q;
    struct waiter *waiter;
    struct standby *gate; /* at most `running` workers run at once */
    atomic_int busy;      /* workers serving a conn now */
    int n;
    pthread_t threads[];
};

enum serve_outcome {
    SERVE_PARK,    /* nothing to do until the socket is ready again */
    SERVE_REQUEUE, /* more to read, but yield to other conns */
    SERVE_CLOSE,
};

/* Has c bytes that were read but not yet parsed? */
static int
has_input(const struct conn *c)
{
    return c->rpos < c->rlen;
}

static enum serve_outcome
serve_rounds(struct conn *c)
{
    int round, full = 0;

    /* A short read of an earlier call says nothing of the socket now: the
     * edges since may have been taken while the output was full. */
    c->drained = 0;
    for (round = 0;; round++) {
        size_t before = c->rlen - c->rpos, cap = c->rcap;
        int served = 0, held = 1, more;
        long n;
        int rc;

        if (!c->closing && (has_input(c) || c->pump) && !conn_out_full(c)) {
            served = 1;
            if (c->kind->ops->serve(c) < 0) {
                c->closing = 1;
            }
            held = conn_out_full(c); /* it stopped early for the output */
            if (full && c->rlen - c->rpos == before && c->rcap == cap &&
                !c->closing) {
                /* A full buffer the protocol neither consumed nor grew:
                 * it can never complete. (Protocols enforce their limits
                 * before this; this only guards against a spin.) */
                return SERVE_CLOSE;
            }
        }
        rc = conn_flush(c);
        if (rc == CONN_IO_ERR) {
            return SERVE_CLOSE;
        }
        if (c->closing) {
            /* Say what is left to say, then close. */
            return rc == CONN_IO_OK ? SERVE_CLOSE : SERVE_PARK;
        }
        if (conn_out_full(c)) {
            return SERVE_PARK; /* back-pressure: wait until it is taken */
        }
        /* Requests the output held back have room now: answer them before
         * reading or parking, as no more bytes (and so no readiness) may
         * ever come for them. */
        more = held && (has_input(c) || c->pump);
        if (c->eof) {
            /* The peer sent all it will: answer every complete request
             * it sent (the output may have held some back), then close. */
            if ((more || (served && c->rlen - c->rpos < before)) &&
                has_input(c)) {
                continue;
            }
            return rc == CONN_IO_OK ? SERVE_CLOSE : SERVE_PARK;
        }
        if (round == WORKER_ROUNDS) {
            return SERVE_REQUEUE;
        }
        if (more) {
            continue;
        }
        if (round > 0 && c->drained) {
            /* A short read: the socket was empty a moment ago. Park now
             * rather than spend a recv() on EAGAIN; the edge-triggered
             * registration reports anything that arrived since. */
            return SERVE_PARK;
        }
        n = conn_read(c);
        if (n == CONN_IO_AGAIN) {
            return SERVE_PARK;
        }
        if (n == CONN_IO_ERR) {
            return SERVE_CLOSE;
        }
        if (n == CONN_IO_EOF) {
            c->eof = 1;
        }
        /* n == 0: rbuf is full of a partial request; the protocol turns
         * that into its "too large" error or asks for room. */
        full = n == 0;
    }
}

/* When a parked c is closed if nothing happens: its output must move
 * within send_timeout, a partial request complete within
 * request_timeout, an idle conn be used within idle_timeout. */
static int64_t
deadline_of(const struct conn *c, int64_t now)
{
    const struct conn_kind *k = c->kind;

    if (outq_bytes(&c->out) > 0) {
        return (c->stall_ms != 0 ? c->stall_ms : now) +
               atomic_load_explicit(&k->send_timeout_ms, memory_order_relaxed);
    }
    if (c->req_start_ms != 0) {
        return c->req_start_ms + atomic_load_explicit(&k->request_timeout_ms,
                                                      memory_order_relaxed);
    }
    if (c->hold) {
        return 0; /* waiting on its own peer, not idle: no deadline */
    }
    return now +
           atomic_load_explicit(&k->idle_timeout_ms, memory_order_relaxed);
}

/* Runs one conn until it is parked, requeued or closed. */
static void
serve(struct worker_pool *wp, struct conn *c)
{
    for (;;) {
        enum serve_outcome o = serve_rounds(c);
        int64_t now, deadline;
        int rc;

        if (o == SERVE_CLOSE) {
            waiter_drop(wp->waiter, c);
            return;
        }
        if (o == SERVE_REQUEUE && workq_push(wp->q, c) == WORKQ_OK) {
            return;
        }
        now = util_now_ms();
        deadline = deadline_of(c, now);
        if (deadline != 0 && deadline <= now) {
            /* Out of time: a partial request still incomplete at its
             * deadline however recently its last byte came, or output
             * that did not move for send_timeout. */
            waiter_expire(wp->waiter, c);
            return;
        }
        if (conn_wants_write(c) && !c->want_write) {
            /* The first stall of this conn's life (or its TLS handshake
             * waiting to send): from now on the waiter reports when its
             * socket takes output again. */
            if (waiter_want_write(wp->waiter, c, c->fd) < 0) {
                waiter_drop(wp->waiter, c);
                return;
            }
            c->want_write = 1;
        }
        rc = waiter_park(wp->waiter, c, deadline);
        if (rc == 0) {
            return;
        }
        if (rc < 0) {
            waiter_drop(wp->waiter, c);
            return;
        }
        /* Readiness arrived while we had it: go round again. */
    }
}

/* What one worker thread has claimed but not started yet. */
struct claims {
    struct worker_pool *wp;
    struct conn *c[WORKER_CLAIMS];
    int n;
};

/* standby_on_block: this worker is about to wait on Redis; the conns it
 * claimed go to the queue, where other workers take them. */
static void
spill(void *arg)
{
    struct claims *cl = arg;

    while (cl->n > 0) {
        struct conn *c = cl->c[--cl->n];

        if (workq_push(cl->wp->q, c) != WORKQ_OK) {
            waiter_drop(cl->wp->waiter, c);
        }
    }
}

/* The next conn to serve: one this worker claimed, a queued one (new
 * connections, yielded ones), else whatever the next wake-up claims. NULL
 * when there is none yet; *stop is set once the queue is shut down and
 * drained. */
static struct conn *
next_conn(struct worker_pool *wp, struct claims *cl, int *stop)
{
    void *item;

    if (cl->n > 0) {
        return cl->c[--cl->n];
    }
    switch (workq_trypop(wp->q, &item)) {
    case WORKQ_OK:
        return item;
    case WORKQ_ESHUTDOWN:
        *stop = 1;
        return NULL;
    default:
        /* Idle: stand by while enough others run, else wait for work. */
        standby_idle(wp->gate);
        cl->n = waiter_wait(wp->waiter, cl->c, WORKER_CLAIMS, -1);
        return NULL;
    }
}

static void *
worker_main(void *arg)
{
    struct worker_pool *wp = arg;
    struct claims cl = {.wp = wp, .n = 0};
    struct conn *c;
    int stop = 0;

    standby_attach(wp->gate);
    standby_on_block(spill, &cl);
    while (!stop) {
        c = next_conn(wp, &cl, &stop);
        if (c == NULL) {
            continue;
        }
        if (!c->attached && waiter_attach(wp->waiter, c) < 0) {
            waiter_drop(wp->waiter, c); /* stopped, or out of slots */
            continue;
        }
        atomic_fetch_add_explicit(&wp->busy, 1, memory_order_relaxed);
        serve(wp, c);
        atomic_fetch_sub_explicit(&wp->busy, 1, memory_order_relaxed);
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

long
worker_pool_retime(struct worker_pool *wp)
{
    return waiter_retime(wp->waiter, deadline_of);
}

int
worker_pool_busy(struct worker_pool *wp)
{
    return atomic_load_explicit(&wp->busy, memory_order_relaxed);
}
