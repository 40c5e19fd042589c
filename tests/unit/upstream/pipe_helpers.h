/*
 * pipe_helpers: the fixture shared by the pipe unit tests (test_pipe.c:
 * the in-order matcher; test_pipe_fail.c: losses, bounds, an unreachable
 * Redis) and the pool's (test_upstream.c: pipes made by upstream_pipe,
 * on the same event loop); header-only because each
 * tests/unit/upstream/test_*.c is its own binary.
 *
 * One pipe as the pool makes it: a struct reach over a target on a
 * loopback port, the node's invalidation stream (struct tracking, off, or
 * on against a fake stream served by a thread of the test's), a waiter
 * whose events (the pipe's socket) an event loop thread of the test's own
 * runs by calling waiter_wait, as an idle worker does. The test thread
 * submits (not being a worker, it runs the pipe itself then, as
 * pipe_submit says) and plays Redis on the other end of the pipe's
 * connection (peer_helpers.h).
 *
 * loop_sync() returns once the event loop has run two rounds: any
 * readiness that came before the call has then been served, so a test
 * that sends Redis's bytes in pieces knows the pipe read each piece
 * before the next one came.
 *
 * Requests (struct treq) record what the pipe hands them under one lock:
 * each reply's bytes, its index, type and attribute length, and the one
 * done() call, numbered in the order they came. Nothing here asserts off
 * the test thread: what the other threads see is checked after they
 * stop.
 */
#ifndef RP_TEST_PIPE_HELPERS_H
#define RP_TEST_PIPE_HELPERS_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "base/util.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "net/waiter.h"
#include "net/workq.h"
#include "peer_helpers.h"
#include "proto/resp_reply.h"
#include "unit_helpers.h"
#include "upstream/pipe.h"
#include "upstream/reach.h"
#include "upstream/status.h"
#include "upstream/tracking.h"

/* ---- the pipe and its event loop ---- */

struct fixture {
    struct config cfg;
    struct config_ref ref;
    struct redis_target target;
    struct cache *cache;
    struct flights *flights;
    struct tracking *tracking;
    struct reach reach;
    struct workq *q;
    struct waiter *w;
    struct pipe *p;
    pthread_t loop;
    atomic_int stop;
    atomic_long rounds; /* waiter_wait calls returned */
    atomic_int claimed; /* conns waiter_wait handed the loop: none due */
    int up;
    int looping; /* the event loop runs */
    int lfd;     /* the test's listener, or -1 */
    int peer;    /* the test's end of the pipe's connection, or -1 */
};

static struct fixture fx;

static inline void *
loop_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&fx.stop)) {
        struct conn *c[8];

        atomic_fetch_add(&fx.claimed, waiter_wait(fx.w, c, 8, 1));
        atomic_fetch_add(&fx.rounds, 1);
    }
    return NULL;
}

/* What a pipe to 127.0.0.1:port needs, without the pipe: the settings,
 * the cache, the node's stream on (started and waited for: the caller
 * serves it) or off, and the event loop (test_upstream.c makes its pipes
 * through a pool). */
static inline void
fx_base_up(int port, int tracking_on)
{
    config_defaults(&fx.cfg);
    fx.cfg.cache_tracking = tracking_on;
    atomic_init(&fx.ref.cur, &fx.cfg);
    fx.target = (struct redis_target){.host = "127.0.0.1",
                                      .port = port,
                                      .user = "",
                                      .password = "",
                                      .cfg = &fx.ref};
    fx.cache = cache_create(1024, 60000, 0, NULL);
    cr_assert_not_null(fx.cache);
    fx.flights = flights_create(fx.cache);
    cr_assert_not_null(fx.flights);
    fx.tracking = tracking_create(&fx.ref, &fx.target, fx.flights, NULL);
    cr_assert_not_null(fx.tracking);
    if (tracking_on) {
        long long id;
        uint64_t gen;

        cr_assert_eq(tracking_start(fx.tracking), 0);
        tracking_wait_first(fx.tracking, WAIT_MS);
        cr_assert_eq(tracking_state(fx.tracking, &id, &gen), TRACKING_UP);
    }
    fx.q = workq_create(64);
    cr_assert_not_null(fx.q);
    fx.w = waiter_create(fx.q, 16);
    cr_assert_not_null(fx.w);
    fx.p = NULL;
    fx.looping = 1;
    atomic_store(&fx.stop, 0);
    cr_assert_eq(pthread_create(&fx.loop, NULL, loop_main, NULL), 0);
    fx.up = 1;
}

/* A pipe speaking proto to 127.0.0.1:port, its stream on or off (as
 * fx_base_up), and its event loop. */
static inline void
fx_up(int port, int proto, int tracking_on)
{
    fx_base_up(port, tracking_on);
    cr_assert_eq(reach_init(&fx.reach, &fx.ref, &fx.target, fx.tracking), 0);
    fx.p = pipe_create(&fx.reach, proto, fx.w);
    cr_assert_not_null(fx.p);
}

/* Stops the event loop and the waiter's deadline thread: what was made
 * on the waiter may go then, before the waiter. Idempotent. */
static inline void
fx_loop_stop(void)
{
    if (!fx.looping) {
        return;
    }
    fx.looping = 0;
    atomic_store(&fx.stop, 1);
    pthread_join(fx.loop, NULL);
    waiter_stop(fx.w);
}

/* Stops the loop, then frees the pipe (failing what it still holds),
 * the waiter and the rest. */
static inline void
fx_down(void)
{
    if (!fx.up) {
        return;
    }
    fx.up = 0;
    fx_loop_stop();
    if (fx.p != NULL) {
        pipe_destroy(fx.p);
        reach_deinit(&fx.reach);
    }
    waiter_destroy(fx.w);
    workq_destroy(fx.q);
    tracking_destroy(fx.tracking);
    flights_destroy(fx.flights);
    cache_destroy(fx.cache);
}

/* Returns once the event loop has run two whole rounds since the call. */
static inline void
loop_sync(void)
{
    long r0 = atomic_load(&fx.rounds);
    int64_t until = util_now_ms() + WAIT_MS;

    while (atomic_load(&fx.rounds) < r0 + 2) {
        struct timespec ts = {0, 20000};

        cr_assert_lt(util_now_ms(), until, "the event loop is stuck");
        nanosleep(&ts, NULL);
    }
}

/* ---- requests that record what the pipe hands them ---- */

#define TREQ_REPLIES 8
#define TREQ_BYTES 2048

struct treq {
    struct ureq u; /* first: the ops are handed &u */
    int client, seq;
    char req[TREQ_BYTES]; /* its commands, back to back */
    size_t req_len;
    char want[TREQ_BYTES]; /* the replies it must get, back to back */
    size_t want_len;
    /* What the pipe handed it (tr.lock): */
    char got[TREQ_BYTES];
    size_t got_len;
    uint32_t ngot;
    char type[TREQ_REPLIES];       /* each reply's scan type */
    size_t attr_len[TREQ_REPLIES]; /* ... and attribute bytes */
    uint32_t index[TREQ_REPLIES];  /* the index of each reply handed over */
    int bad;                       /* a reply out of order, too long, or
                                      whose scan was not its length */
    int ndone;
    int status;
    char err[UPSTREAM_ERR_MAX];
    long done_seq; /* the order of done() calls, from 1 */
    int tracked;   /* u.tracked at done() */
};

/* What the requests' ops saw (every thread). */
struct tr_state {
    pthread_mutex_t lock;
    pthread_cond_t cv; /* a done() came */
    long dones;        /* done() calls; lock */
    long replies;      /* replies handed over; lock */
    pthread_t threads[8];
    int nthreads; /* threads replies were handed over on; lock */
};

static struct tr_state tr = {.lock = PTHREAD_MUTEX_INITIALIZER};

static inline void
tr_init(void)
{
    cr_assert_eq(util_cond_init(&tr.cv), 0);
}

/* A test's start and end: no pipe, listener or connection yet; then
 * whatever the test left of them is closed. */
static inline void
pipe_setup(void)
{
    tr_init();
    fx.lfd = fx.peer = -1;
}

static inline void
pipe_teardown(void)
{
    fx_down();
    if (fx.peer >= 0) {
        close(fx.peer);
    }
    if (fx.lfd >= 0) {
        close(fx.lfd);
    }
}

static inline void
tr_reply(struct ureq *u, uint32_t i, const char *p, size_t len,
         const struct resp_reply *scan)
{
    struct treq *t = (struct treq *)u;
    int k, seen = 0;

    pthread_mutex_lock(&tr.lock);
    if (t->ngot < TREQ_REPLIES) {
        t->index[t->ngot] = i;
    }
    if (i != t->ngot || i >= TREQ_REPLIES || scan->pos != len ||
        t->got_len + len > sizeof(t->got)) {
        t->bad = 1;
    } else {
        memcpy(t->got + t->got_len, p, len);
        t->got_len += len;
        t->type[i] = scan->type;
        t->attr_len[i] = scan->attr_len;
    }
    t->ngot++;
    tr.replies++;
    for (k = 0; k < tr.nthreads; k++) {
        seen |= pthread_equal(tr.threads[k], pthread_self());
    }
    if (!seen && tr.nthreads < 8) {
        tr.threads[tr.nthreads++] = pthread_self();
    }
    pthread_mutex_unlock(&tr.lock);
}

static inline void
tr_done(struct ureq *u, int status, const char *err)
{
    struct treq *t = (struct treq *)u;

    pthread_mutex_lock(&tr.lock);
    t->ndone++;
    t->status = status;
    snprintf(t->err, sizeof(t->err), "%s", err != NULL ? err : "");
    t->done_seq = ++tr.dones;
    t->tracked = u->tracked;
    pthread_cond_broadcast(&tr.cv);
    pthread_mutex_unlock(&tr.lock);
}

static const struct ureq_ops tr_ops = {tr_reply, tr_done};

/* A request of client's, its seq-th, in database db (-1: any). */
static inline void
treq_init(struct treq *t, int client, int seq, int db)
{
    memset(t, 0, sizeof(*t));
    t->u.ops = &tr_ops;
    t->u.db = db;
    t->client = client;
    t->seq = seq;
}

/* Appends a command (its RESP bytes) and the reply Redis gives it. */
static inline void
treq_add(struct treq *t, const char *cmd, const char *reply)
{
    size_t c = strlen(cmd), r = strlen(reply);

    cr_assert_lt(t->req_len + c, sizeof(t->req));
    cr_assert_lt(t->want_len + r, sizeof(t->want));
    memcpy(t->req + t->req_len, cmd, c);
    t->req_len += c;
    memcpy(t->want + t->want_len, reply, r);
    t->want_len += r;
    t->u.nreplies++;
    t->u.iov[0].iov_base = t->req;
    t->u.iov[0].iov_len = t->req_len;
    t->u.iovcnt = 1;
}

/* The RESP array of words (NULL-terminated) into out[0..cap). */
static inline const char *
cmd_of(char *out, size_t cap, ...)
{
    const char *w[16];
    size_t n = 0, len;
    va_list ap;

    va_start(ap, cap);
    while (n < 16 && (w[n] = va_arg(ap, const char *)) != NULL) {
        n++;
    }
    va_end(ap);
    len = (size_t)snprintf(out, cap, "*%zu\r\n", n);
    for (size_t i = 0; i < n && len < cap; i++) {
        len += (size_t)snprintf(out + len, cap - len, "$%zu\r\n%s\r\n",
                                strlen(w[i]), w[i]);
    }
    cr_assert_lt(len, cap);
    return out;
}

/* Queues t on pipe p; it must be taken. */
static inline void
submit_to(struct pipe *p, struct treq *t)
{
    char err[UPSTREAM_ERR_MAX] = "";
    int rc = pipe_submit(p, &t->u, 0, 0, err);

    cr_assert_eq(rc, PIPE_QUEUED, "pipe_submit: %d (%s)", rc, err);
}

/* Queues t on the fixture's pipe; it must be taken. */
static inline void
submit(struct treq *t)
{
    submit_to(fx.p, t);
}

/* Waits until n done() calls came in all (bounded). */
static inline void
wait_dones(long n)
{
    struct timespec until = util_deadline(util_now_ms() + 2 * WAIT_MS);

    pthread_mutex_lock(&tr.lock);
    while (tr.dones < n) {
        if (pthread_cond_timedwait(&tr.cv, &tr.lock, &until) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&tr.lock);
    cr_assert_geq(tr.dones, n, "%ld of %ld requests ended", tr.dones, n);
}

/* Replies handed over so far. */
static inline long
replies_now(void)
{
    long n;

    pthread_mutex_lock(&tr.lock);
    n = tr.replies;
    pthread_mutex_unlock(&tr.lock);
    return n;
}

/* t ended once, with exactly its own replies, in order. */
static inline void
expect_answered(const struct treq *t)
{
    pthread_mutex_lock(&tr.lock);
    cr_expect_eq(t->ndone, 1, "client %d request %d: %d done() calls",
                 t->client, t->seq, t->ndone);
    cr_expect_eq(t->status, UPSTREAM_OK, "client %d request %d: %d (%s)",
                 t->client, t->seq, t->status, t->err);
    cr_expect_eq(t->bad, 0, "client %d request %d: a reply out of order",
                 t->client, t->seq);
    cr_expect_eq(t->ngot, t->u.nreplies, "client %d request %d: %u replies",
                 t->client, t->seq, t->ngot);
    cr_expect(t->got_len == t->want_len &&
                  memcmp(t->got, t->want, t->got_len) == 0,
              "client %d request %d: got %.*s, want %.*s", t->client, t->seq,
              (int)t->got_len, t->got, (int)t->want_len, t->want);
    pthread_mutex_unlock(&tr.lock);
}

#endif
