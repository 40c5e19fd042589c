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
#include "base/qsbr.h"
#include "base/util.h"
#include "net/conn.h"
#include "net/standby.h"

#define WORKER_ROUNDS 16
#define WORKER_BATCH 16 /* conns served between runs of deferred work */
#define WORKER_CLAIMS                                                          \
    64 /* conns one wake-up may claim: what one round                          \
          of the worker serves before its deferred                             \
          writes to Redis go out */

/* The calling thread's worker index (worker_index). */
static _Thread_local unsigned my_index;

/* What a worker thread starts with. */
struct worker_arg {
    struct worker_pool *wp;
    unsigned index;
};

struct worker_pool {
    struct workq *q;
    struct waiter *waiter;
    struct standby *gate;    /* at most `running` workers run at once */
    struct worker_arg *args; /* one per thread */
    atomic_int busy;         /* workers serving a conn now */
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
        size_t before = c->rlen - c->rpos, cap = c->rcap,
               out = outq_bytes(&c->out);
        int served = 0, held = 1, more;
        long n;
        int rc;

        if (!c->closing && (has_input(c) || c->pump) && !conn_out_full(c)) {
            served = 1;
            if (c->kind->ops->serve(c) < 0) {
                c->closing = 1;
            }
            if (c->abort) {
                return SERVE_CLOSE; /* nothing more is sent */
            }
            held = conn_out_full(c); /* it stopped early for the output */
            if (full && c->rlen - c->rpos == before && c->rcap == cap &&
                outq_bytes(&c->out) == out && !c->closing && !c->stalled) {
                /* A full buffer the protocol neither consumed nor grew,
                 * nor answered anything else: it can never complete.
                 * (Protocols enforce their limits before this; this only
                 * guards against a spin.) */
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
            /* Back-pressure: wait until it is taken; answers that keep
             * coming for it while it does not read count too. */
            if (c->kind->ops->held != NULL &&
                conn_output_check(c, c->kind->ops->held(c)) < 0) {
                return SERVE_CLOSE;
            }
            return SERVE_PARK;
        }
        /* Requests the output held back have room now: answer them before
         * reading or parking, as no more bytes (and so no readiness) may
         * ever come for them. */
        more = held && (has_input(c) || c->pump);
        if (c->eof) {
            /* The peer sent all it will: answer every complete request
             * it sent (the output may have held some back), then close
             * once the replies owed have come and gone out. */
            if ((more || (served && c->rlen - c->rpos < before)) &&
                has_input(c)) {
                continue;
            }
            return rc == CONN_IO_OK && !c->waiting ? SERVE_CLOSE : SERVE_PARK;
        }
        if (round == WORKER_ROUNDS) {
            return SERVE_REQUEUE;
        }
        if (more) {
            continue;
        }
        if (c->stalled) {
            return SERVE_PARK; /* a reply's arrival wakes it */
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
 * request_timeout, an idle conn be used within idle_timeout, and a conn
 * with a session of its own (pump) see traffic within session_idle
 * (when set), even while it waits on its peer (hold). */
static int64_t
deadline_of(const struct conn *c, int64_t now)
{
    const struct conn_kind *k = c->kind;
    int64_t idle, session;

    if (outq_bytes(&c->out) > 0) {
        int64_t send =
            (c->stall_ms != 0 ? c->stall_ms : now) +
            atomic_load_explicit(&k->send_timeout_ms, memory_order_relaxed);

        return c->waiting && c->wait_deadline_ms != 0 &&
                       c->wait_deadline_ms < send
                   ? c->wait_deadline_ms
                   : send;
    }
    if (c->waiting) {
        return c->wait_deadline_ms; /* not idle: Redis owes it replies */
    }
    if (c->req_start_ms != 0) {
        return c->req_start_ms + atomic_load_explicit(&k->request_timeout_ms,
                                                      memory_order_relaxed);
    }
    idle = atomic_load_explicit(&k->idle_timeout_ms, memory_order_relaxed);
    if (!c->used) {
        /* Nothing sent yet: the first byte has its own bound. */
        int64_t first =
            atomic_load_explicit(&k->first_byte_ms, memory_order_relaxed);

        if (first > 0 && c->created_ms + first - now < idle) {
            idle = c->created_ms + first - now;
        }
    }
    session = c->pump ? atomic_load_explicit(&k->session_idle_ms,
                                             memory_order_relaxed)
                      : 0;
    if (c->hold) {
        /* Waiting on its own peer, not idle: only a session's own bound. */
        return session > 0 ? now + session : 0;
    }
    return now + (session > 0 && session < idle ? session : idle);
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
            if (c->waiting && c->wait_deadline_ms != 0 &&
                c->wait_deadline_ms <= now) {
                continue; /* its protocol answers what is overdue */
            }
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
        if (outq_bytes(&c->out) == 0 && c->req_start_ms == 0 && !c->hold &&
            c->rpos == c->rlen) {
            conn_idle(c); /* waiting for a request: room may be made */
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

/* What one worker thread has claimed but not started yet: from its own
 * wake-ups, and conns other parties' replies woke (waiter_wake) while
 * this worker ran their delivery. */
struct claims {
    struct worker_pool *wp;
    struct conn *c[WORKER_CLAIMS];
    int n;     /* claimed by the last wake-up */
    int next;  /* the next of them to serve: in the order epoll reported */
    int anext; /* the next adopted one to serve: in the order woken */
    struct waiter_adopted adopted;
};

/* standby_on_block: this worker is about to wait (standby.h); the conns
 * it claimed go to the queue, where other workers take them. */
static void
spill(void *arg)
{
    struct claims *cl = arg;

    while (cl->next < cl->n || cl->anext < cl->adopted.n) {
        struct conn *c = cl->anext < cl->adopted.n ? cl->adopted.c[cl->anext++]
                                                   : cl->c[cl->next++];

        if (workq_push(cl->wp->q, c) != WORKQ_OK) {
            waiter_drop(cl->wp->waiter, c);
        }
    }
    cl->n = cl->next = 0;
    cl->adopted.n = cl->anext = 0;
}

/* The next conn to serve: one this worker claimed, a queued one (new
 * connections, yielded ones), else whatever the next wake-up claims. NULL
 * when there is none yet; *stop is set once the queue is shut down and
 * drained. */
static struct conn *
next_conn(struct worker_pool *wp, struct claims *cl, int *stop)
{
    void *item;

    /* In the order things happened, as far as it is known: the queue
     * first (new connections, whose bytes came before anything a later
     * wake-up reported, and conns that yielded), then conns woken by
     * replies, then those the last wake-up reported, each in turn. */
    if ((cl->anext < cl->adopted.n || cl->next < cl->n) &&
        workq_trypop(wp->q, &item) == WORKQ_OK) {
        return item;
    }
    if (cl->anext < cl->adopted.n) {
        struct conn *c = cl->adopted.c[cl->anext++];

        if (cl->anext == cl->adopted.n) {
            cl->adopted.n = cl->anext = 0; /* room for the next ones */
        }
        return c;
    }
    if (cl->next < cl->n) {
        return cl->c[cl->next++];
    }
    cl->n = cl->next = 0;
    switch (workq_trypop(wp->q, &item)) {
    case WORKQ_OK:
        return item;
    case WORKQ_ESHUTDOWN:
        *stop = 1;
        return NULL;
    default:
        /* Idle: stand by while enough others run, else wait for work;
         * offline while it waits, so the wait delays no reclamation
         * (qsbr.h). */
        qsbr_offline();
        standby_idle(wp->gate);
        qsbr_online();
        /* waiter_wait runs deferred work and Redis connections' events
         * (they read settings) and is offline only around its sleep. */
        cl->n = waiter_wait(wp->waiter, cl->c, WORKER_CLAIMS, -1);
        return NULL;
    }
}

static void *
worker_main(void *arg)
{
    struct worker_pool *wp = ((struct worker_arg *)arg)->wp;
    struct claims cl = {.wp = wp, .n = 0};
    struct conn *c;
    unsigned served = 0;
    int stop = 0;

    my_index = ((struct worker_arg *)arg)->index;
    waiter_adopt_into(&cl.adopted);
    standby_attach(wp->gate);
    standby_on_block(spill, &cl);
    while (!stop) {
        /* Between two conns a worker holds no settings snapshot. */
        qsbr_quiescent();
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
        if (++served % WORKER_BATCH == 0) {
            /* Commands queued for Redis by the conns served so far go
             * out together now, not only when this worker sleeps. */
            waiter_run_deferred();
        }
    }
    waiter_run_deferred();
    waiter_adopt_into(NULL);
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
    wp->args = calloc((size_t)n, sizeof(wp->args[0]));
    wp->gate = standby_create(running > 0 && running < n ? running : n);
    if (wp->gate == NULL || wp->args == NULL) {
        standby_destroy(wp->gate);
        free(wp->args);
        free(wp);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        wp->args[i].wp = wp;
        wp->args[i].index = (unsigned)i;
        if (pthread_create(&wp->threads[i], NULL, worker_main, &wp->args[i]) !=
            0) {
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
    free(wp->args);
    free(wp);
}

long
worker_pool_retime(struct worker_pool *wp)
{
    return waiter_retime(wp->waiter, deadline_of);
}

unsigned
worker_index(void)
{
    return my_index;
}

int
worker_pool_busy(struct worker_pool *wp)
{
    return atomic_load_explicit(&wp->busy, memory_order_relaxed);
}
