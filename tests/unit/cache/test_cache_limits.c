/*
 * Unit tests for cache_set_limits (a reload changing the cache's settings
 * on a running cache) and for the evictions a put makes: a smaller
 * capacity or max_memory evicts least recently used entries down to it,
 * counted by reason, keeping the most recent; a larger capacity than the
 * table was sized for rehashes it (every entry still found, the new
 * capacity filled); capacity 0 turns the cache off and back on; a new
 * TTL applies to entries created after it, a new stale window at once;
 * a put that needs more than one batch of evictions (a large value under
 * max_memory) still ends within the limit; and a shrink while threads put
 * and get keeps every value exact and ends within the new capacity, with
 * every entry accounted for. The clock is fake (cache_helpers.h) except in
 * the threaded test.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache_helpers.h"

static struct cache_stats
stats_of(struct cache *c)
{
    struct cache_stats s;

    cache_stats(c, &s);
    return s;
}

/* k<i> = v<i>, i in [from, to). */
static void
put_range(struct cache *c, int from, int to)
{
    char k[16], v[16];

    for (int i = from; i < to; i++) {
        int kn = snprintf(k, sizeof(k), "k%d", i);
        int vn = snprintf(v, sizeof(v), "v%d", i);

        put(c, k, (size_t)kn, v, (size_t)vn);
    }
}

/* k<i> for i in [from, to) hit (want 1) or miss (want 0). */
static void
expect_range(struct cache *c, int from, int to, int want)
{
    char k[16], v[16];

    for (int i = from; i < to; i++) {
        int kn = snprintf(k, sizeof(k), "k%d", i);
        int vn = snprintf(v, sizeof(v), "v%d", i);

        if (want) {
            expect_hit(c, k, (size_t)kn, v, (size_t)vn);
        } else {
            expect_miss(c, k, (size_t)kn);
        }
    }
}

Test(cache_limits, smaller_capacity_keeps_the_most_recent)
{
    struct cache *c = make_stale_cache(5000, 0, 0);
    struct cache_stats s;

    put_range(c, 0, 5000);
    expect_range(c, 0, 10, 1); /* k0..k9 now the most recent */
    cr_assert_eq(cache_set_limits(c, 10, 0, 0, 0), 0);
    s = stats_of(c);
    cr_assert_eq(s.entries, 10);
    cr_assert_eq(s.capacity, 10);
    cr_assert_eq(s.evictions, 4990);
    cr_assert_eq(s.evictions_memory, 0);
    expect_range(c, 0, 10, 1);
    expect_range(c, 10, 5000, 0);
    put_range(c, 5000, 5001); /* evicts the least recent: k0 */
    expect_miss(c, S("k0"));
    cr_assert_eq(stats_of(c).entries, 10);
    cache_destroy(c);
}

Test(cache_limits, smaller_max_memory_evicts_for_memory)
{
    struct cache *c = make_stale_cache(10000, 0, 0);
    char big[1000];
    struct cache_stats s;
    long foot;

    memset(big, 'x', sizeof(big));
    cr_assert_eq(cache_set_limits(c, 10000, 4 << 20, 0, 0), 0);
    for (int i = 0; i < 1000; i++) {
        char k[16];
        int kn = snprintf(k, sizeof(k), "k%d", i);

        put(c, k, (size_t)kn, big, sizeof(big));
    }
    s = stats_of(c);
    cr_assert_eq(s.entries, 1000);
    foot = s.memory / 1000;
    cr_assert_eq(cache_set_limits(c, 10000, 100 * foot, 0, 0), 0);
    s = stats_of(c);
    cr_assert_leq(s.memory, 100 * foot);
    cr_assert(s.entries >= 99 && s.entries <= 100, "%ld entries", s.entries);
    cr_assert_eq(s.max_memory, 100 * foot);
    cr_assert_eq(s.evictions_memory, 1000 - s.entries);
    cr_assert_eq(s.evictions, 0);
    expect_miss(c, S("k800"));
    expect_hit(c, S("k999"), big, sizeof(big));
    cache_destroy(c);
}

/* A table sized for 16 grown to 100000: every entry is found after the
 * rehash, and 100000 fit without an eviction. */
Test(cache_limits, larger_capacity_rehashes_and_fills)
{
    struct cache *c = make_stale_cache(16, 0, 0);

    put_range(c, 0, 16);
    cr_assert_eq(cache_set_limits(c, 100000, 0, 0, 0), 0);
    expect_range(c, 0, 16, 1);
    put_range(c, 16, 100000);
    cr_assert_eq(stats_of(c).entries, 100000);
    cr_assert_eq(stats_of(c).evictions, 0);
    expect_range(c, 0, 100000, 1);
    cache_destroy(c);
}

Test(cache_limits, capacity_zero_turns_the_cache_off_and_back_on)
{
    struct cache *c = make_stale_cache(100, 0, 0);

    put_range(c, 0, 50);
    cr_assert_eq(cache_set_limits(c, 0, 0, 0, 0), 0);
    cr_assert_eq(stats_of(c).entries, 0);
    cr_assert_eq(stats_of(c).evictions, 50);
    put_range(c, 0, 50);
    cr_assert_eq(stats_of(c).entries, 0, "stored with the cache off");
    expect_range(c, 0, 1, 0);
    cr_assert_eq(cache_set_limits(c, 100, 0, 0, 0), 0);
    put_range(c, 0, 50);
    expect_range(c, 0, 50, 1);
    cache_destroy(c);
}

/* The TTL applies to entries created after the change; an entry created
 * before keeps its expiry. The stale window applies to every expired
 * entry at its next lookup. */
Test(cache_limits, ttl_for_new_entries_stale_window_at_once)
{
    struct cache *c = make_stale_cache(100, 1000, 0);
    struct cache_entry *e;

    fake_now = 10000;
    put(c, S("old"), S("o"));
    cr_assert_eq(cache_set_limits(c, 100, 0, 60000, 0), 0);
    put(c, S("new"), S("n"));
    fake_now = 11000;
    expect_miss(c, S("old")); /* expired at 11000, removed (stale 0) */
    expect_hit(c, S("new"), S("n"));
    fake_now = 70000;
    expect_miss(c, S("new"));

    put(c, S("s"), S("v")); /* expires at 130000 */
    fake_now = 140000;
    cr_assert_null(cache_get_stale(c, S("s")));
    cr_assert_eq(cache_set_limits(c, 100, 0, 60000, 20000), 0);
    e = cache_get_stale(c, S("s"));
    cr_assert_not_null(e, "the wider window serves it stale");
    expect_entry(e, S("s"), S("v"));
    cache_release(e);
    cr_assert_eq(cache_set_limits(c, 100, 0, 60000, 5000), 0);
    cr_assert_null(cache_get_stale(c, S("s")), "the narrower window");
    cache_destroy(c);
}

/* 4000 small entries, then one value worth 90 % of max_memory: the put
 * evicts thousands (more than one batch of 1024) and ends within the
 * limit, counted for memory. */
Test(cache_limits, a_put_that_needs_many_evictions_ends_within_the_limit)
{
    enum { SMALL = 4000 };
    struct cache *c = make_stale_cache(100000, 0, 0);
    struct cache_entry *probe, *bigent;
    size_t bigsz;
    long foot, limit;
    char *big;

    probe = cache_entry_create(c, S("k0"), S("v0"));
    cr_assert_not_null(probe);
    foot = (long)cache_entry_footprint(probe);
    cache_release(probe);
    limit = 2 * SMALL * foot; /* room for every small one */
    cr_assert_eq(cache_set_limits(c, 100000, limit, 0, 0), 0);
    put_range(c, 0, SMALL);
    cr_assert_eq(stats_of(c).entries, SMALL);
    bigsz = (size_t)(limit / 10 * 9);
    big = malloc(bigsz);
    cr_assert_not_null(big);
    memset(big, 'b', bigsz);
    bigent = put_held(c, S("big"), big, bigsz);
    cr_assert_leq(stats_of(c).memory, limit);
    cr_assert_gt(stats_of(c).evictions_memory, 2000);
    cr_assert_eq(stats_of(c).evictions, 0);
    cr_assert_eq(refs(bigent), 2, "the large entry is cached");
    cache_release(bigent);
    expect_hit(c, S("big"), big, bigsz);
    free(big);
    cache_destroy(c);
}

/* ---- a shrink while threads put and get ---- */

#define TH 3
#define TH_PUTS 30000
#define TH_CAP 50

struct worker {
    pthread_t t;
    struct cache *c;
    int id;
    atomic_int *go;
    long puts, wrong;
};

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    char k[32], v[32];

    while (!atomic_load(w->go)) {
    }
    for (int i = 0; i < TH_PUTS; i++) {
        int kn = snprintf(k, sizeof(k), "t%d:%d", w->id, i);
        int vn = snprintf(v, sizeof(v), "val-%d-%d", w->id, i);
        struct cache_entry *e =
            cache_entry_create(w->c, k, (size_t)kn, v, (size_t)vn);

        w->puts += cache_put(w->c, e);
        cache_release(e);
        kn = snprintf(k, sizeof(k), "t%d:%d", w->id, i / 2);
        vn = snprintf(v, sizeof(v), "val-%d-%d", w->id, i / 2);
        e = cache_get(w->c, k, (size_t)kn);
        if (e != NULL && (e->vlen != (uint32_t)vn ||
                          memcmp(cache_entry_value(e), v, (size_t)vn) != 0)) {
            w->wrong++;
        }
        cache_release(e);
    }
    return NULL;
}

Test(cache_limits, shrink_while_threads_put_and_get)
{
    struct cache *c = cache_create(200000, 0, 0, NULL);
    struct worker w[TH];
    atomic_int go = 0;
    struct cache_stats s;
    long puts = 100000;

    cr_assert_not_null(c);
    put_range(c, 0, 100000);
    for (int i = 0; i < TH; i++) {
        w[i] = (struct worker){.c = c, .id = i, .go = &go};
        cr_assert_eq(pthread_create(&w[i].t, NULL, worker_main, &w[i]), 0);
    }
    atomic_store(&go, 1);
    cr_assert_eq(cache_set_limits(c, TH_CAP, 0, 0, 0), 0);
    for (int i = 0; i < TH; i++) {
        pthread_join(w[i].t, NULL);
        cr_assert_eq(w[i].wrong, 0, "thread %d read a wrong value", i);
        puts += w[i].puts;
    }
    s = stats_of(c);
    cr_assert_leq(s.entries, TH_CAP);
    cr_assert_eq(s.entries + s.evictions, puts,
                 "%ld entries + %ld evictions for %ld puts", s.entries,
                 s.evictions, puts);
    cache_destroy(c);
}
