/*
 * Unit tests of how a fill's outcome reaches its waiters: in join order,
 * on the thread that finishes, once each; with no lock of the registry or
 * the cache held, so a done() may call back into either (checked both
 * from done() itself and from another thread while done() runs); to
 * waiters that free themselves in done(); and with thousands of fills in
 * flight at once. (The rest of the registry's tests are in test_flight.c.)
 *
 * A done() that found a lock held would deadlock: the tests that call back
 * have a timeout, and the cross-thread one fails after LOCK_WAIT_S instead
 * of hanging.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flight_helpers.h"

TestSuite(flight_waiters, .fini = teardown);

/* How long another thread may take to get a lock done() should not hold. */
#define LOCK_WAIT_S 5

Test(flight_waiters, told_once_each_in_join_order_on_the_finishing_thread)
{
    struct waiter w[4];
    struct cache_entry *e;
    struct flight *f;
    int i;

    setup(8, 0);
    for (i = 0; i < 4; i++) {
        waiter_init(&w[i]);
    }
    f = join_w(S("k"), &w[0], 1);
    for (i = 1; i < 4; i++) {
        cr_assert_eq(join_w(S("k"), &w[i], 0), f);
    }
    e = make_entry(S("k"), S("v"));
    cr_assert_eq(flight_finish(fl, f, 0, e, "why", 1), 1);
    for (i = 0; i < 4; i++) {
        expect_told(&w[i], 0, e, "why");
        cr_assert_eq(w[i].order, i + 1, "waiter %d told as %ld", i, w[i].order);
        cr_assert(pthread_equal(w[i].thread, pthread_self()));
        forget(&w[i]);
    }
    cr_assert_eq(atomic_load(&told), 4);
    cache_release(e);
}

/* ---- calling back from done() ---- */

/* What a done() that calls back into the registry and cache found. */
struct reentry {
    int hit;          /* cache_get of the key found the finished value */
    int led_again;    /* a join of the key led a fill of its own */
    int nested_told;  /* that fill's own waiter was told, inside */
    int joined_other; /* a join of another key in flight followed it */
    long fills;       /* flights_stats from inside */
    struct flight *other;
    struct waiter nested, other_w;
};

static void
call_back(struct waiter *w)
{
    struct reentry *r = w->arg;
    struct cache_entry *e = cache_get(c, S("k"));
    struct flight_stats st;
    struct flight *f;
    int leader = -1;

    r->hit = e != NULL && e == w->entry;
    cache_release(e);
    waiter_init(&r->nested);
    f = flight_join(fl, 0, S("k"), &r->nested.w, &leader);
    r->led_again = f != NULL && leader == 1;
    if (f != NULL) {
        flight_finish(fl, f, 7, NULL, "nested", 0);
    }
    r->nested_told =
        atomic_load(&r->nested.calls) == 1 && r->nested.status == 7;
    waiter_init(&r->other_w);
    r->joined_other =
        flight_join(fl, 0, S("other"), &r->other_w.w, &leader) == r->other &&
        leader == 0;
    flights_invalidate(fl, S("unrelated"));
    flights_stats(fl, &st);
    r->fills = st.fills;
}

Test(flight_waiters, done_may_call_back_into_the_registry_and_the_cache,
     .timeout = 30)
{
    struct reentry r = {0};
    struct cache_entry *e;
    struct waiter g;
    struct flight *f;

    setup(8, 0);
    waiter_init(&g);
    g.then = call_back;
    g.arg = &r;
    r.other = join(S("other"), 1);
    f = join(S("k"), 1);
    join_w(S("k"), &g, 0);
    e = make_entry(S("k"), S("v"));
    cr_assert_eq(flight_finish(fl, f, 0, e, NULL, 1), 1);
    expect_told(&g, 0, e, "");
    cr_assert(r.hit, "stored before anyone is told");
    cr_assert(r.led_again, "the finished fill had left the registry");
    cr_assert(r.nested_told, "a finish inside done() tells its own waiter");
    cr_assert(r.joined_other, "a join inside done() finds a fill in flight");
    cr_assert_eq(r.fills, 3);
    expect_untold(&r.other_w);
    flight_finish(fl, r.other, 0, NULL, NULL, 0);
    cr_assert_eq(atomic_load(&r.other_w.calls), 1);
    forget(&g);
    forget(&r.nested);
    forget(&r.other_w);
    cache_release(e);
    expect_spares_told();
    expect_in_flight(0);
    expect_flight_stats(3, 2, 0, 0, 0);
}

/* Another thread, while done() runs, uses every lock: the registry's (a
 * join and finish), the cache's write lock (a store, an invalidation) and
 * its read lock (a lookup). */
static void *
use_every_lock(void *p)
{
    struct waiter *w = p;
    struct cache_entry *e = make_entry(S("x"), S("from-another-thread"));
    struct flight *f;
    int leader = -1;

    f = flight_join(fl, 0, S("x"), &w->w, &leader);
    if (f != NULL && leader == 1) {
        flight_finish(fl, f, 0, e, NULL, 1);
    }
    cache_release(e);
    cache_release(cache_get(c, S("x")));
    flights_invalidate(fl, S("k"));
    return NULL;
}

struct locks_free {
    struct waiter other; /* the other thread's waiter */
    int finished;        /* the other thread ended within LOCK_WAIT_S */
};

static void
while_told(struct waiter *w)
{
    struct locks_free *lf = w->arg;
    struct timespec until;
    pthread_t th;

    waiter_init(&lf->other);
    if (pthread_create(&th, NULL, use_every_lock, &lf->other) != 0) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += LOCK_WAIT_S;
    /* Still blocked after that: on a lock the finishing thread holds, so
     * joining it would hang; the failed assertion ends the test. */
    cr_assert_eq(pthread_timedjoin_np(th, NULL, &until), 0,
                 "another thread waited on a lock held while done() ran");
    lf->finished = 1;
}

Test(flight_waiters, no_lock_is_held_while_done_runs, .timeout = 30)
{
    struct locks_free lf = {0};
    struct waiter g;
    struct flight *f;

    setup(8, 0);
    waiter_init(&g);
    g.then = while_told;
    g.arg = &lf;
    f = join(S("k"), 1);
    join_w(S("k"), &g, 0);
    cr_assert_eq(finish_value(f, S("k"), S("v"), 1), 1);
    cr_assert_eq(atomic_load(&g.calls), 1);
    cr_assert(lf.finished, "another thread waited on a lock done() held");
    expect_told(&lf.other, 0, lf.other.entry, "");
    expect_entry(lf.other.entry, S("x"), S("from-another-thread"));
    expect_hit(c, S("x"), S("from-another-thread"));
    expect_miss(c, S("k")); /* invalidated by the other thread */
    forget(&g);
    forget(&lf.other);
    expect_flight_stats(2, 1, 0, 1, 0);
}

/* ---- waiters that go away ---- */

/* A done() that frees its waiter, scribbling over it first: the registry
 * must have read what it needs of the waiter (its next link) before. */
static void
free_self(struct waiter *w)
{
    atomic_fetch_add((atomic_int *)w->arg, 1);
    memset(w, 0xa5, sizeof(*w));
    free(w);
}

Test(flight_waiters, a_waiter_may_free_itself_in_done)
{
    atomic_int freed = 0;
    struct flight *f;
    int i;

    setup(8, 0);
    f = join(S("k"), 1);
    for (i = 0; i < 5; i++) {
        struct waiter *w = malloc(sizeof(*w));

        cr_assert_not_null(w);
        waiter_init(w);
        w->keep = 0;
        w->then = free_self;
        w->arg = &freed;
        join_w(S("k"), w, 0);
    }
    cr_assert_eq(finish_value(f, S("k"), S("v"), 1), 1);
    cr_assert_eq(atomic_load(&freed), 5);
    expect_spares_told();
}

/* ---- many at once ---- */

#define THOUSANDS 20000 /* every pipelined GET miss of many clients */
#define DBS 4

#define T_KEY(i, buf) ((size_t)snprintf(buf, 16, "t:%d", i))

/* Fill i is of key t:<i / DBS> in database i % DBS. */
Test(flight_waiters, thousands_of_fills_in_flight_at_once)
{
    struct flight **f = calloc(THOUSANDS, sizeof(*f));
    struct waiter *lw = calloc(THOUSANDS, sizeof(*lw)),
                  *g = calloc(THOUSANDS, sizeof(*g));
    long stored = 0, marked = 0;
    char key[16];
    int i, n;

    cr_assert(f != NULL && lw != NULL && g != NULL);
    setup(THOUSANDS, 0);
    for (i = 0; i < THOUSANDS; i++) {
        size_t kn = T_KEY(i / DBS, key);

        waiter_init(&lw[i]);
        lw[i].keep = 0;
        waiter_init(&g[i]);
        g[i].keep = 0;
        f[i] = join_db_w(i % DBS, key, kn, &lw[i], 1);
    }
    expect_in_flight(THOUSANDS);
    for (i = THOUSANDS - 1; i >= 0; i--) { /* each finds its own fill */
        cr_assert_eq(join_db_w(i % DBS, key, T_KEY(i / DBS, key), &g[i], 0),
                     f[i], "fill %d", i);
    }
    for (i = 0; i < THOUSANDS / DBS; i += 5) { /* in every database */
        flights_invalidate(fl, key, T_KEY(i, key));
        marked += DBS;
    }
    expect_in_flight(THOUSANDS);
    for (n = 0; n < THOUSANDS; n++) {
        /* 7919 is prime to THOUSANDS: every fill once, scattered. */
        size_t kn;

        i = (int)((long)n * 7919 % THOUSANDS);
        kn = T_KEY(i / DBS, key);
        stored += finish_value_db(f[i], i % DBS, key, kn, key, kn, 1);
        cr_assert_eq(atomic_load(&g[i].calls), 1, "fill %d", i);
        cr_assert_eq(g[i].entry, lw[i].entry, "fill %d: one outcome", i);
    }
    cr_assert_eq(stored, THOUSANDS - marked);
    for (i = 0; i < THOUSANDS; i++) {
        struct cache_entry *e =
            cache_get_db(c, i % DBS, key, T_KEY(i / DBS, key));

        cr_assert_eq(e != NULL, i / DBS % 5 != 0, "fill %d", i);
        cache_release(e);
    }
    cr_assert_eq(atomic_load(&told), 2 * THOUSANDS);
    expect_in_flight(0);
    expect_entries(THOUSANDS - marked);
    expect_flight_stats(THOUSANDS, THOUSANDS, marked, 0, 0);
    free(g);
    free(lw);
    free(f);
}
