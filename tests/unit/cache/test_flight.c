/*
 * Unit tests for flight, on a real cache: who leads and who joins, what a
 * finish stores and what every waiter is told, and the race the module
 * exists for: an invalidation (of one key, of all, or of lost track)
 * during a fill keeps the fill's value out of the cache. The same race
 * between threads is in test_flight_race.c; delivery (order, threads, no
 * lock held, thousands in flight) in test_flight_waiters.c; databases in
 * test_flight_db.c.
 *
 * A flight keeps no reference to the entry it was finished with, so exact
 * entry reference counts after a finish prove no flight leaked one
 * (LeakSanitizer reports do not fail a Criterion test). setup() builds the
 * cache and registry; the suite's fini frees them even after a failure.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flight_helpers.h"

TestSuite(flight, .fini = teardown);

/* ---- leaders and followers ---- */

Test(flight, joins_of_a_key_in_flight_follow_and_after_finish_lead_again)
{
    struct flight *a, *a2, *a3, *b, *ab, *anul;
    struct waiter w2, w3;
    struct cache_entry *e;

    setup(8, 0);
    waiter_init(&w2);
    waiter_init(&w3);
    a = join(S("a"), 1);
    a2 = join_w(S("a"), &w2, 0);
    b = join(S("b"), 1);
    ab = join(S("ab"), 1);    /* "a" is a prefix: another key */
    anul = join(S("a\0"), 1); /* differs from "a" by a NUL byte */
    cr_assert_eq(a2, a, "a follower joins the leader's flight");
    cr_assert_neq(b, a);
    expect_flight_stats(4, 1, 0, 0, 0);
    expect_in_flight(4);
    expect_untold(&w2);
    e = make_entry(S("a"), S("v"));
    cr_assert_eq(flight_finish(fl, a, 0, e, NULL, 1), 1);
    expect_told(&w2, 0, e, "");
    expect_entry(w2.entry, S("a"), S("v"));
    cr_assert_eq(flight_finish(fl, b, 0, NULL, NULL, 1), 0);
    cr_assert_eq(flight_finish(fl, ab, 0, NULL, NULL, 1), 0);
    cr_assert_eq(flight_finish(fl, anul, 0, NULL, NULL, 1), 0);
    expect_in_flight(0);
    a = join(S("a"), 1); /* a new fill: the finished one left the registry */
    a3 = join_w(S("a"), &w3, 0);
    cr_assert_eq(a3, a);
    cr_assert_eq(flight_finish(fl, a, 0, NULL, NULL, 0), 0);
    expect_told(&w3, 0, NULL, ""); /* the second fill's, not the first's */
    cr_assert_eq(atomic_load(&w2.calls), 1, "told again by the second fill");
    forget(&w2);
    forget(&w3);
    cr_assert_eq(refs(e), 2, "the test and the cache");
    cache_release(e);
    expect_spares_told();
    expect_flight_stats(5, 2, 0, 0, 0);
    expect_in_flight(0);
}

/* ---- what finish stores ---- */

Test(flight, finish_with_store_caches_the_entry_and_returns_1)
{
    struct flight *f;
    struct cache_entry *e, *got;
    struct waiter lw;

    setup(8, 0);
    waiter_init(&lw);
    lw.keep = 0;
    f = join_w(S("user:1"), &lw, 1);
    e = make_entry(S("user:1"), S("alice"));
    cr_assert_eq(flight_finish(fl, f, 0, e, NULL, 1), 1);
    expect_told(&lw, 0, e, ""); /* the leader's own waiter too */
    cr_assert_eq(refs(e), 2, "the test and the cache; the flight keeps none");
    got = cache_get(c, S("user:1"));
    cr_assert_eq(got, e, "the leader's entry itself is cached");
    expect_entry(got, S("user:1"), S("alice"));
    cache_release(got);
    cache_release(e);
    expect_flight_stats(1, 0, 0, 0, 0);
}

Test(flight, finish_without_store_leaves_the_cache_alone_but_answers)
{
    struct flight *f;
    struct cache_entry *e;
    struct waiter g;

    setup(8, 0);
    waiter_init(&g);
    f = join(S("k"), 1);
    join_w(S("k"), &g, 0);
    e = make_entry(S("k"), S("uncacheable"));
    cr_assert_eq(flight_finish(fl, f, 3, e, NULL, 0), 0);
    expect_miss(c, S("k"));
    expect_entries(0);
    expect_told(&g, 3, e, "");
    expect_entry(g.entry, S("k"), S("uncacheable"));
    cr_assert_eq(refs(e), 2, "the test and the waiter; the flight keeps none");
    forget(&g);
    cache_release(e);
    expect_spares_told();
    expect_flight_stats(1, 1, 0, 0, 0);
}

/* A not-found or failed fill: no entry; the error text reaches every
 * waiter whole, as "" when NULL, however long. */
Test(flight, finish_without_entry_tells_status_and_error_text)
{
    static const char *const errs[] = {"connection refused", NULL, ""};
    char longerr[FLIGHT_ERR_MAX + 100];
    struct waiter g[4][2];
    struct flight *f;
    int i, j;

    setup(8, 0);
    memset(longerr, 'e', sizeof(longerr) - 1);
    longerr[sizeof(longerr) - 1] = '\0';
    for (i = 0; i < 4; i++) {
        const char *err = i < 3 ? errs[i] : longerr;

        f = join(S("k"), 1);
        for (j = 0; j < 2; j++) {
            waiter_init(&g[i][j]);
            join_w(S("k"), &g[i][j], 0);
        }
        cr_assert_eq(flight_finish(fl, f, -7 - i, NULL, err, 1), 0);
        for (j = 0; j < 2; j++) {
            expect_told(&g[i][j], -7 - i, NULL, err != NULL ? err : "");
            cr_assert_eq(g[i][j].errlen, err != NULL ? strlen(err) : 0);
        }
    }
    cr_assert_eq(g[3][1].errlen, sizeof(longerr) - 1, "told whole");
    expect_entries(0);
    expect_spares_told();
    expect_flight_stats(4, 8, 0, 0, 0);
}

/* The cache is off (capacity 0): nothing can be stored, so finish must not
 * report the entry stored. */
Test(flight, finish_into_a_cache_that_is_off_reports_nothing_stored)
{
    setup(0, 0);
    cr_assert_eq(fill(S("k"), S("v")), 0,
                 "flight_finish() said it stored into a cache that is off");
    expect_miss(c, S("k"));
}

/* ---- joins from threads ---- */

#define FOLLOWERS 6

struct joiner {
    struct waiter w;
    struct flight *f; /* what flight_join returned */
    int leader;
};

static void *
joiner_main(void *p)
{
    struct joiner *j = p;

    j->f = flight_join(fl, 0, S("hot"), &j->w.w, &j->leader);
    return NULL;
}

/* Followers join from threads of their own; the finish tells every one of
 * them, on the leader's thread, the entry itself. */
Test(flight, followers_joined_from_threads_are_all_told_status_entry_and_error)
{
    struct joiner jn[FOLLOWERS];
    pthread_t th[FOLLOWERS];
    struct cache_entry *e;
    struct flight *f;
    int i;

    setup(8, 0);
    f = join(S("hot"), 1);
    for (i = 0; i < FOLLOWERS; i++) {
        waiter_init(&jn[i].w);
        jn[i].leader = -1;
        cr_assert_eq(pthread_create(&th[i], NULL, joiner_main, &jn[i]), 0);
    }
    for (i = 0; i < FOLLOWERS; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_assert(jn[i].f == f && jn[i].leader == 0, "joiner %d", i);
        expect_untold(&jn[i].w);
    }
    e = make_entry(S("hot"), S("the\0value"));
    cr_assert_eq(flight_finish(fl, f, 42, e, "partial: from replica", 1), 1);
    cr_assert_eq(refs(e), 2 + FOLLOWERS, "test, cache and each follower");
    for (i = 0; i < FOLLOWERS; i++) {
        expect_told(&jn[i].w, 42, e, "partial: from replica");
        cr_assert(pthread_equal(jn[i].w.thread, pthread_self()),
                  "follower %d told on another thread", i);
        expect_entry(jn[i].w.entry, S("hot"), S("the\0value"));
        forget(&jn[i].w);
    }
    cr_assert_eq(refs(e), 2, "test and cache: the flight keeps none");
    cache_release(e);
    expect_hit(c, S("hot"), S("the\0value"));
    expect_spares_told();
    expect_flight_stats(1, FOLLOWERS, 0, 0, 0);
}

/* A request that stops caring (its client timed out or left) stays a
 * waiter: however late it joined, it is told the outcome of the fill in
 * flight, and the fill is stored all the same. */
Test(flight, late_joiners_are_told_the_fill_in_flight_and_it_is_still_stored)
{
    struct waiter early, late;
    struct cache_entry *e;
    struct flight *f;

    setup(8, 0);
    waiter_init(&early);
    waiter_init(&late);
    f = join(S("slow"), 1);
    join_w(S("slow"), &early, 0);
    fake_now += 60000; /* nothing in the registry goes by the clock */
    cr_assert_eq(join_w(S("slow"), &late, 0), f, "the fill is in flight");
    expect_untold(&early);
    e = make_entry(S("slow"), S("finally"));
    cr_assert_eq(flight_finish(fl, f, 0, e, NULL, 1), 1);
    expect_hit(c, S("slow"), S("finally"));
    expect_told(&early, 0, e, "");
    expect_told(&late, 0, e, "");
    cr_assert_lt(early.order, late.order, "told in join order");
    forget(&early);
    forget(&late);
    cr_assert_eq(refs(e), 2, "test and cache: the flight is freed");
    cache_release(e);
    f = join(S("slow"), 1); /* the finished fill left the registry */
    flight_finish(fl, f, 0, NULL, NULL, 0);
    expect_spares_told();
    expect_flight_stats(2, 2, 0, 0, 0);
}

/* ---- invalidation during a fill ---- */

Test(flight, invalidate_during_fill_discards_the_value_but_answers_followers)
{
    struct flight *f;
    struct cache_entry *e;
    struct waiter g;

    setup(8, 0);
    waiter_init(&g);
    f = join(S("k"), 1);
    join_w(S("k"), &g, 0);
    e = make_entry(S("k"), S("read-before-the-write"));
    flights_invalidate(fl, S("k"));
    expect_in_flight(1); /* marked, still in flight */
    cr_assert_eq(flight_finish(fl, f, 0, e, NULL, 1), 0);
    expect_in_flight(0);
    expect_miss(c, S("k"));
    expect_entries(0);
    expect_told(&g, 0, e, ""); /* a marked fill is still answered */
    forget(&g);
    cr_assert_eq(refs(e), 1, "only the test: never cached");
    cache_release(e);
    expect_spares_told();
    expect_flight_stats(1, 1, 1, 0, 0);
}

Test(flight, marked_fill_without_store_is_not_counted_as_discarded)
{
    struct flight *f;

    setup(8, 0);
    f = join(S("k"), 1);
    flights_invalidate(fl, S("k"));
    cr_assert_eq(finish_value(f, S("k"), S("v"), 0), 0);
    f = join(S("k"), 1);
    flights_invalidate(fl, S("k"));
    cr_assert_eq(flight_finish(fl, f, 1, NULL, "nil", 1), 0);
    expect_flight_stats(2, 0, 0, 0, 0);
}

Test(flight, invalidate_removes_a_cached_key_and_counts_only_removals)
{
    setup(8, 0);
    cr_assert_eq(fill(S("k"), S("v")), 1);
    cr_assert_eq(fill(S("other"), S("o")), 1);
    flights_invalidate(fl, S("k"));
    expect_miss(c, S("k"));
    expect_hit(c, S("other"), S("o"));
    expect_flight_stats(2, 0, 0, 1, 0);
    flights_invalidate(fl, S("k"));
    flights_invalidate(fl, S("absent"));
    expect_flight_stats(2, 0, 0, 1, 0);
    expect_entries(1);
}

/* A mark hits the fill of its own key that is in flight, nothing else: not
 * a fill of another key (a prefix, a NUL byte more), not a later fill. */
Test(flight, mark_covers_only_the_fill_of_its_key_in_flight)
{
    struct flight *f;

    setup(8, 0);
    flights_invalidate(fl, S("a")); /* before any fill: marks nothing */
    f = join(S("a"), 1);
    flights_invalidate(fl, S("b"));
    flights_invalidate(fl, S("ab"));
    flights_invalidate(fl, S("a\0"));
    flights_invalidate(fl, S(""));
    cr_assert_eq(finish_value(f, S("a"), S("first"), 1), 1);
    expect_hit(c, S("a"), S("first"));
    f = join(S("a"), 1);
    flights_invalidate(fl, S("a"));
    flights_invalidate(fl, S("a"));
    cr_assert_eq(finish_value(f, S("a"), S("old"), 1), 0);
    expect_miss(c, S("a"));
    cr_assert_eq(fill(S("a"), S("new")), 1, "the mark ended with its fill");
    expect_hit(c, S("a"), S("new"));
    expect_flight_stats(3, 0, 1, 1, 0);
}

#define MANY 1000 /* past the registry's first table: it grows meanwhile */

#define MANY_KEY(i, buf) ((size_t)snprintf(buf, 16, "key:%d", i))
#define MANY_VALUE(i, buf) ((size_t)snprintf(buf, 24, "value:%d", i))

Test(flight, invalidation_marks_only_its_own_fill_among_many)
{
    struct flight **f = calloc(MANY, sizeof(*f));
    struct waiter *lw = calloc(MANY, sizeof(*lw)),
                  *g = calloc(MANY, sizeof(*g));
    char key[16], val[24];
    int i, pass, discarded = 0;

    cr_assert(f != NULL && lw != NULL && g != NULL);
    setup(MANY, 0);
    for (i = 0; i < MANY; i++) {
        size_t kn = MANY_KEY(i, key);

        waiter_init(&lw[i]);
        lw[i].keep = 0;
        waiter_init(&g[i]);
        f[i] = join_w(key, kn, &lw[i], 1);
        cr_assert_eq(join_w(key, kn, &g[i], 0), f[i]);
    }
    expect_in_flight(MANY);
    for (i = 0; i < MANY; i += 3) {
        flights_invalidate(fl, key, MANY_KEY(i, key));
        discarded++;
    }
    for (pass = 1; pass >= 0; pass--) { /* odd ones backwards, then even */
        for (i = pass ? MANY - 1 : 0; i >= 0 && i < MANY; i += pass ? -2 : 2) {
            size_t kn = MANY_KEY(i, key), vn = MANY_VALUE(i, val);
            cr_assert_eq(finish_value(f[i], key, kn, val, vn, 1), i % 3 != 0,
                         "key %d", i);
        }
    }
    for (i = 0; i < MANY; i++) {
        size_t kn = MANY_KEY(i, key), vn = MANY_VALUE(i, val);

        cr_assert_eq(atomic_load(&lw[i].calls), 1, "leader %d", i);
        cr_assert_eq(atomic_load(&g[i].calls), 1, "follower %d", i);
        cr_assert_eq(g[i].entry, lw[i].entry, "key %d: one outcome", i);
        expect_entry(g[i].entry, key, kn, val, vn);
        cr_assert_eq(refs(g[i].entry), i % 3 != 0 ? 2u : 1u,
                     "key %d: the flight keeps no reference", i);
        forget(&g[i]);
        if (i % 3 != 0) {
            expect_hit(c, key, kn, val, vn);
        } else {
            expect_miss(c, key, kn);
        }
    }
    expect_entries(MANY - discarded);
    expect_in_flight(0);
    expect_flight_stats(MANY, MANY, discarded, 0, 0);
    free(g);
    free(lw);
    free(f);
}

Test(flight, invalidate_all_during_fills_marks_them_all_and_clears_the_cache)
{
    struct flight *f1, *f2;

    setup(8, 100);
    cr_assert_eq(fill(S("x"), S("1")), 1);
    cr_assert_eq(fill(S("y"), S("2")), 1);
    f1 = join(S("k1"), 1);
    f2 = join(S("k2"), 1);
    flights_invalidate_all(fl);
    expect_entries(0);
    expect_miss(c, S("x"));
    cr_assert_null(cache_get_stale(c, S("y")), "cleared, not expired");
    cr_assert_eq(finish_value(f1, S("k1"), S("v1"), 1), 0);
    cr_assert_eq(finish_value(f2, S("k2"), S("v2"), 1), 0);
    expect_entries(0);
    expect_flight_stats(4, 0, 2, 0, 1);
    cr_assert_eq(fill(S("k1"), S("v1")), 1, "a later fill is not marked");
    expect_hit(c, S("k1"), S("v1"));
    expect_flight_stats(5, 0, 2, 0, 1);
}

Test(flight, lost_during_fill_marks_it_and_expires_cached_entries)
{
    struct flight *f;
    struct cache_entry *e;

    setup(8, 1000);
    fake_now = 5000;
    cr_assert_eq(fill(S("x"), S("1")), 1);
    f = join(S("k"), 1);
    flights_lost(fl);
    cr_assert_eq(finish_value(f, S("k"), S("v"), 1), 0);
    expect_miss(c, S("x"));
    expect_miss(c, S("k"));
    expect_entries(1); /* x is kept for stale-if-error */
    fake_now = 5999;
    e = cache_get_stale(c, S("x"));
    expect_entry(e, S("x"), S("1"));
    cache_release(e);
    fake_now = 6000;
    cr_assert_null(cache_get_stale(c, S("x")), "past the stale window");
    expect_flight_stats(2, 0, 1, 0, 1);
    cr_assert_eq(fill(S("k"), S("v")), 1, "a later fill is not marked");
    expect_hit(c, S("k"), S("v"));
    flights_lost(fl);
    expect_flight_stats(3, 0, 1, 0, 2);
}
