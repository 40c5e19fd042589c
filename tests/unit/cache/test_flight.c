/*
 * Unit tests for flight, on a real cache: who leads and who follows, what a
 * finish stores and what every follower receives, follower deadlines, and
 * the race the module exists for: an invalidation (of one key, of all, or
 * of lost track) during a fill keeps the fill's value out of the cache.
 * The same race between threads is in test_flight_race.c.
 *
 * A flight holds one reference to its entry until it is freed, so exact
 * entry reference counts once every party is done prove no flight leaked
 * (LeakSanitizer reports do not fail a Criterion test); under ASan the
 * timeout tests prove none is used after it is freed. setup() builds the
 * cache and registry; the suite's fini frees them even after a failure.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "flight_helpers.h"

TestSuite(flight, .fini = teardown);

/* ---- leaders and followers ---- */

Test(flight, joins_of_a_key_in_flight_follow_and_after_finish_lead_again)
{
    struct flight *a, *a2, *a3, *b, *ab, *anul;
    struct outcome o;

    setup(8, 0);
    a = join(S("a"), 1);
    a2 = join(S("a"), 0);
    b = join(S("b"), 1);
    ab = join(S("ab"), 1);    /* "a" is a prefix: another key */
    anul = join(S("a\0"), 1); /* differs from "a" by a NUL byte */
    cr_assert_eq(a2, a, "a follower joins the leader's flight");
    cr_assert_neq(b, a);
    expect_flight_stats(4, 1, 0, 0, 0);
    cr_assert_eq(finish_value(a, S("a"), S("v"), 1), 1);
    cr_assert_eq(flight_finish(fl, b, 0, NULL, NULL, 1), 0);
    cr_assert_eq(flight_finish(fl, ab, 0, NULL, NULL, 1), 0);
    cr_assert_eq(flight_finish(fl, anul, 0, NULL, NULL, 1), 0);
    a = join(S("a"), 1); /* a new fill, while a2 still holds the old one */
    a3 = join(S("a"), 0);
    cr_assert_eq(a3, a);
    wait_now(a2, 0, &o);
    cr_assert_eq(o.rc, 0);
    expect_entry(o.entry, S("a"), S("v"));
    cache_release(o.entry);
    cr_assert_eq(flight_finish(fl, a, 0, NULL, NULL, 0), 0);
    wait_now(a3, 0, &o);
    cr_assert_eq(o.rc, 0);
    cr_assert_null(o.entry, "the second fill's outcome, not the first's");
    expect_flight_stats(5, 2, 0, 0, 0);
}

/* ---- what finish stores ---- */

Test(flight, finish_with_store_caches_the_entry_and_returns_1)
{
    struct flight *f;
    struct cache_entry *e, *got;

    setup(8, 0);
    f = join(S("user:1"), 1);
    e = make_entry(S("user:1"), S("alice"));
    cr_assert_eq(flight_finish(fl, f, 0, e, NULL, 1), 1);
    cr_assert_eq(refs(e), 2, "the test and the cache; the flight is gone");
    got = cache_get(c, S("user:1"));
    cr_assert_eq(got, e, "the leader's entry itself is cached");
    expect_entry(got, S("user:1"), S("alice"));
    cache_release(got);
    cache_release(e);
    expect_flight_stats(1, 0, 0, 0, 0);
}

Test(flight, finish_without_store_leaves_the_cache_alone_but_answers)
{
    struct flight *f, *g;
    struct cache_entry *e;
    struct outcome o;

    setup(8, 0);
    f = join(S("k"), 1);
    g = join(S("k"), 0);
    e = make_entry(S("k"), S("uncacheable"));
    cr_assert_eq(flight_finish(fl, f, 3, e, NULL, 0), 0);
    expect_miss(c, S("k"));
    expect_entries(0);
    wait_now(g, 0, &o);
    cr_assert_eq(o.rc, 0);
    cr_assert_eq(o.status, 3);
    cr_assert_eq(o.entry, e);
    expect_entry(o.entry, S("k"), S("uncacheable"));
    cr_assert_eq(refs(e), 2, "the test and the follower; the flight is gone");
    cache_release(o.entry);
    cache_release(e);
    expect_flight_stats(1, 1, 0, 0, 0);
}

/* A not-found or failed fill: no entry; the error text reaches followers
 * whole, as "" when NULL and cut to FLIGHT_ERR_MAX - 1 bytes when longer. */
Test(flight, finish_without_entry_publishes_status_and_error_text)
{
    static const char *const errs[] = {"connection refused", NULL, ""};
    char longerr[FLIGHT_ERR_MAX + 100];
    struct outcome o[2];
    struct flight *f, *g[2];
    int i, j;

    setup(8, 0);
    memset(longerr, 'e', sizeof(longerr) - 1);
    longerr[sizeof(longerr) - 1] = '\0';
    for (i = 0; i < 4; i++) {
        const char *err = i < 3 ? errs[i] : longerr;
        f = join(S("k"), 1);
        g[0] = join(S("k"), 0);
        g[1] = join(S("k"), 0);
        cr_assert_eq(flight_finish(fl, f, -7 - i, NULL, err, 1), 0);
        for (j = 0; j < 2; j++) {
            memset(o[j].err, 'x', sizeof(o[j].err));
            wait_now(g[j], j == 0 ? 0 : util_now_ms() + LONG_WAIT_MS, &o[j]);
            cr_assert(o[j].rc == 0 && o[j].status == -7 - i &&
                      o[j].entry == NULL);
            if (i < 3) {
                cr_assert_str_eq(o[j].err, err != NULL ? err : "");
            } else {
                cr_assert_eq(strnlen(o[j].err, FLIGHT_ERR_MAX),
                             FLIGHT_ERR_MAX - 1, "cut and terminated");
                cr_assert_eq(memcmp(o[j].err, longerr, FLIGHT_ERR_MAX - 1), 0);
            }
        }
    }
    expect_entries(0);
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

/* ---- followers in threads ---- */

struct follower {
    struct flight *f;
    int64_t deadline_ms;
    atomic_int *ready;
    struct outcome o;
    int64_t woke_ms; /* when flight_wait() returned */
};

static void *
follower_main(void *p)
{
    struct follower *a = p;

    atomic_fetch_add(a->ready, 1);
    wait_now(a->f, a->deadline_ms, &a->o);
    a->woke_ms = util_now_ms();
    return NULL;
}

/* Waits until every follower thread is about to wait, then a little more
 * so that most are blocked when the leader finishes. Correctness never
 * depends on the pause: a follower that has not blocked yet finds the
 * flight done. */
static void
await_ready(atomic_int *ready, int n)
{
    struct timespec pause = {0, 20 * 1000 * 1000};

    while (atomic_load(ready) < n) {
        sched_yield();
    }
    nanosleep(&pause, NULL);
}

#define FOLLOWERS 6

Test(flight, followers_in_threads_all_receive_status_entry_and_error)
{
    struct follower fw[FOLLOWERS];
    pthread_t th[FOLLOWERS];
    atomic_int ready = 0;
    struct cache_entry *e;
    struct flight *f;
    int i;

    setup(8, 0);
    f = join(S("hot"), 1);
    for (i = 0; i < FOLLOWERS; i++) {
        fw[i] = (struct follower){.f = join(S("hot"), 0),
                                  .deadline_ms = util_now_ms() + LONG_WAIT_MS,
                                  .ready = &ready};
        cr_assert_eq(pthread_create(&th[i], NULL, follower_main, &fw[i]), 0);
    }
    await_ready(&ready, FOLLOWERS);
    e = make_entry(S("hot"), S("the\0value"));
    cr_assert_eq(flight_finish(fl, f, 42, e, "partial: from replica", 1), 1);
    for (i = 0; i < FOLLOWERS; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
    }
    cr_assert_eq(refs(e), 2 + FOLLOWERS, "test, cache and each follower");
    for (i = 0; i < FOLLOWERS; i++) {
        cr_assert_eq(fw[i].o.rc, 0, "follower %d timed out", i);
        /* A follower the finish failed to wake still gets the result, but
         * only when its deadline (LONG_WAIT_MS away) ends the wait. */
        cr_assert_lt(fw[i].woke_ms, fw[i].deadline_ms,
                     "follower %d was not woken by the finish", i);
        cr_assert_eq(fw[i].o.status, 42);
        cr_assert_eq(fw[i].o.entry, e, "follower %d", i);
        expect_entry(fw[i].o.entry, S("hot"), S("the\0value"));
        cr_assert_str_eq(fw[i].o.err, "partial: from replica");
        cache_release(fw[i].o.entry);
    }
    cr_assert_eq(refs(e), 2, "test and cache: every flight reference dropped");
    cache_release(e);
    expect_hit(c, S("hot"), S("the\0value"));
    expect_flight_stats(1, FOLLOWERS, 0, 0, 0);
}

Test(flight, follower_past_its_deadline_gets_minus_1_and_leader_still_stores)
{
    struct flight *f, *g, *late;
    struct cache_entry *e;
    struct outcome o;

    setup(8, 0);
    f = join(S("slow"), 1);
    g = join(S("slow"), 0);
    wait_now(g, util_now_ms() - 1, &o);
    cr_assert_eq(o.rc, -1);
    late = join(S("slow"), 0); /* the fill is still in flight */
    e = make_entry(S("slow"), S("finally"));
    cr_assert_eq(flight_finish(fl, f, 0, e, NULL, 1), 1);
    expect_hit(c, S("slow"), S("finally"));
    cr_assert_eq(refs(e), 3, "test, cache and the flight `late` pins");
    /* The fill is done, so a passed deadline no longer matters. */
    wait_now(late, util_now_ms() - 1, &o);
    cr_assert_eq(o.rc, 0);
    cr_assert_eq(o.entry, e);
    cache_release(o.entry);
    cr_assert_eq(refs(e), 2, "test and cache: the flight is freed");
    cache_release(e);
    expect_flight_stats(1, 2, 0, 0, 0);
}

Test(flight, follower_times_out_while_blocked_then_leader_finishes_cleanly)
{
    atomic_int ready = 0;
    struct follower fw;
    struct cache_entry *e;
    struct flight *f;
    pthread_t th;

    setup(8, 0);
    f = join(S("slow"), 1);
    fw = (struct follower){.f = join(S("slow"), 0),
                           .deadline_ms = util_now_ms() + 30,
                           .ready = &ready};
    cr_assert_eq(pthread_create(&th, NULL, follower_main, &fw), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(fw.o.rc, -1, "the leader had not finished");
    e = make_entry(S("slow"), S("late"));
    cr_assert_eq(flight_finish(fl, f, 0, e, NULL, 1), 1);
    cr_assert_eq(refs(e), 2, "test and cache: the flight is freed");
    cache_release(e);
    expect_hit(c, S("slow"), S("late"));
    f = join(S("slow"), 1); /* the finished fill left the registry */
    flight_finish(fl, f, 0, NULL, NULL, 0);
    expect_flight_stats(2, 1, 0, 0, 0);
}

/* ---- invalidation during a fill ---- */

Test(flight, invalidate_during_fill_discards_the_value_but_answers_followers)
{
    struct flight *f, *g;
    struct cache_entry *e;
    struct outcome o;

    setup(8, 0);
    f = join(S("k"), 1);
    g = join(S("k"), 0);
    e = make_entry(S("k"), S("read-before-the-write"));
    flights_invalidate(fl, S("k"));
    cr_assert_eq(flight_finish(fl, f, 0, e, NULL, 1), 0);
    expect_miss(c, S("k"));
    expect_entries(0);
    wait_now(g, 0, &o);
    cr_assert_eq(o.rc, 0);
    cr_assert_eq(o.entry, e, "a marked fill is still answered");
    cache_release(o.entry);
    cr_assert_eq(refs(e), 1, "only the test: never cached");
    cache_release(e);
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

#define MANY 200 /* several flights per registry bucket */

#define MANY_KEY(i, buf) ((size_t)snprintf(buf, 16, "key:%d", i))
#define MANY_VALUE(i, buf) ((size_t)snprintf(buf, 24, "value:%d", i))

Test(flight, invalidation_marks_only_its_own_fill_among_many)
{
    struct flight *f[MANY], *g[MANY];
    char key[16], val[24];
    struct outcome o;
    int i, pass, discarded = 0;

    setup(MANY, 0);
    for (i = 0; i < MANY; i++) {
        size_t kn = MANY_KEY(i, key);
        f[i] = join(key, kn, 1);
        g[i] = join(key, kn, 0);
    }
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
        wait_now(g[i], 0, &o);
        cr_assert_eq(o.rc, 0);
        expect_entry(o.entry, key, kn, val, vn);
        cr_assert_eq(refs(o.entry), i % 3 != 0 ? 2u : 1u,
                     "key %d: the flight is freed", i);
        cache_release(o.entry);
        if (i % 3 != 0) {
            expect_hit(c, key, kn, val, vn);
        } else {
            expect_miss(c, key, kn);
        }
    }
    expect_entries(MANY - discarded);
    expect_flight_stats(MANY, MANY, discarded, 0, 0);
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
