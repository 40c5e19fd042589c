/*
 * Unit tests for the cache's byte accounting and its live limits, on an
 * injected fake clock: each entry's footprint counted against max_memory
 * from put to remove, eviction, replacement, expiry and clear; LRU order
 * under the byte limit; evictions counted by the limit that forced them;
 * an entry larger than max_memory on its own never stored; and
 * cache_set_limits() lowering capacity or max_memory (more evictions than
 * one batch), raising capacity past twice the table (a rehash that keeps
 * every entry and the LRU order), and changing ttl and the stale window.
 *
 * Entries with keys and values of equal lengths have equal footprints
 * (same-sized allocations), so a limit of n footprints holds exactly n of
 * them. As in test_cache.c, whether a held entry is still cached is seen
 * through its reference count (2: cache and test, 1: dropped), which a
 * cache_get() would disturb by promoting it.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "cache_helpers.h"

#define VLEN 1000 /* the value length of the equal-sized entries */

/* A value of n bytes, the same every call for the same n and seed. */
static char *
value_of(size_t n, unsigned seed)
{
    char *v = malloc(n > 0 ? n : 1);
    size_t i;

    cr_assert_not_null(v);
    for (i = 0; i < n; i++) {
        v[i] = (char)('a' + (i * 7 + seed) % 26);
    }
    return v;
}

/* The footprint of an entry with a klen-byte key and a vlen-byte value. */
static long
footprint_of(struct cache *c, size_t klen, size_t vlen)
{
    char *v = value_of(vlen, 0), k[64] = {0};
    struct cache_entry *e;
    long f;

    cr_assert_leq(klen, sizeof(k));
    e = cache_entry_create(c, k, klen, v, vlen);
    cr_assert_not_null(e);
    f = (long)cache_entry_footprint(e);
    cache_release(e);
    free(v);
    return f;
}

/* Stores an entry for "k<i>" (4-digit i, so every key is 5 bytes) with a
 * VLEN-byte value; held: returns the creator's reference, else NULL. */
static struct cache_entry *
put_nth(struct cache *c, int i, int held)
{
    char key[16], *v = value_of(VLEN, (unsigned)i);
    struct cache_entry *e;

    snprintf(key, sizeof(key), "k%04d", i);
    e = put_held(c, key, 5, v, VLEN);
    free(v);
    if (!held) {
        cache_release(e);
        return NULL;
    }
    return e;
}

static void
expect_nth_hit(struct cache *c, int i)
{
    char key[16], *v = value_of(VLEN, (unsigned)i);

    snprintf(key, sizeof(key), "k%04d", i);
    expect_hit(c, key, 5, v, VLEN);
    free(v);
}

static void
expect_nth_miss(struct cache *c, int i)
{
    char key[16];

    snprintf(key, sizeof(key), "k%04d", i);
    expect_miss(c, key, 5);
}

static struct cache_stats
stats_of(struct cache *c)
{
    struct cache_stats st;

    cache_stats(c, &st);
    return st;
}

/* Entries, memory, capacity evictions and memory evictions, exactly. */
static void
expect_counts(struct cache *c, long entries, long memory, long evictions,
              long evictions_memory)
{
    struct cache_stats st = stats_of(c);

    cr_assert(st.entries == entries && st.memory == memory &&
                  st.evictions == evictions &&
                  st.evictions_memory == evictions_memory,
              "entries/memory/evictions/evictions_memory are "
              "%ld/%ld/%ld/%ld, want %ld/%ld/%ld/%ld",
              st.entries, st.memory, st.evictions, st.evictions_memory, entries,
              memory, evictions, evictions_memory);
}

static long
foot(const struct cache_entry *e)
{
    return (long)cache_entry_footprint(e);
}

/* ---- the footprint ---- */

Test(cache_memory, footprint_covers_header_key_value_and_allocator_overhead)
{
    static const size_t sizes[][2] = {
        {0, 0}, {1, 1}, {5, 100}, {10, 4096}, {16, 65536}, {8, 300000},
    };
    struct cache *c = make_stale_cache(8, 0, 0);
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t k = sizes[i][0], v = sizes[i][1];
        long want = (long)(offsetof(struct cache_entry, data) + k + v),
             got = footprint_of(c, k, v);

        /* At least the allocation and malloc's chunk header; at most a
         * page more (an mmapped chunk is rounded up to a page). */
        cr_assert_geq(got, want + (long)sizeof(size_t),
                      "key %zu, value %zu: footprint %ld, allocation %ld", k, v,
                      got, want);
        cr_assert_leq(got, want + 4096 + 2 * (long)sizeof(size_t),
                      "key %zu, value %zu: footprint %ld, allocation %ld", k, v,
                      got, want);
    }
    cache_destroy(c);
}

Test(cache_memory, memory_follows_put_replace_evict_remove_expire_and_clear)
{
    struct cache *c = make_stale_cache(3, 100, 0);
    struct cache_entry *a, *b, *a2, *cc, *d, *r;
    char *big = value_of(5000, 1);

    fake_now = 0;
    expect_counts(c, 0, 0, 0, 0);
    a = put_held(c, S("a"), S("small"));
    b = put_held(c, S("b"), big, 2000);
    expect_counts(c, 2, foot(a) + foot(b), 0, 0);
    a2 = put_held(c, S("a"), big, 5000); /* replaces a: its bytes go */
    cr_assert_eq(refs(a), 1, "the replaced entry is still held by the cache");
    expect_counts(c, 2, foot(a2) + foot(b), 0, 0);
    cc = put_held(c, S("c"), S("ccc"));
    fake_now = 50;
    d = put_held(c, S("d"), S("dddd")); /* over capacity: evicts b */
    cr_assert_eq(refs(b), 1, "b, the least recent, was not evicted");
    expect_counts(c, 3, foot(a2) + foot(cc) + foot(d), 1, 0);
    cr_assert_eq(cache_remove(c, S("c")), 1);
    expect_counts(c, 2, foot(a2) + foot(d), 1, 0);
    fake_now = 100; /* a2 expired (stored at 0), d not (stored at 50) */
    expect_miss(c, S("a"));
    expect_counts(c, 1, foot(d), 1, 0);
    r = cache_get(c, S("d")); /* a reader's reference is not the cache's */
    cr_assert_not_null(r);
    cr_assert_eq(cache_clear(c), 1);
    expect_counts(c, 0, 0, 1, 0);
    cr_assert_eq(stats_of(c).bytes, 0);
    cache_release(r);
    cache_release(a);
    cache_release(b);
    cache_release(a2);
    cache_release(cc);
    cache_release(d);
    free(big);
    cache_destroy(c);
}

/* ---- max_memory ---- */

Test(cache_memory, max_memory_evicts_least_recently_used_first)
{
    struct cache *c = make_stale_cache(100, 0, 0);
    long f = footprint_of(c, 5, VLEN);
    struct cache_entry *held[7];
    int i;

    cr_assert_eq(cache_set_limits(c, 100, 4 * f, 0, 0), 0);
    for (i = 0; i < 4; i++) {
        held[i] = put_nth(c, i, 1);
    }
    cr_assert_eq(foot(held[0]), f, "entries of one size differ in footprint");
    expect_counts(c, 4, 4 * f, 0, 0);
    expect_nth_hit(c, 0); /* LRU: 1 2 3 0 */
    held[4] = put_nth(c, 4, 1);
    expect_cached(held, "10111");
    held[5] = put_nth(c, 5, 1); /* LRU: 3 0 4 5 */
    expect_cached(held, "100111");
    expect_nth_hit(c, 3); /* LRU: 0 4 5 3 */
    held[6] = put_nth(c, 6, 1);
    expect_cached(held, "0001111");
    expect_counts(c, 4, 4 * f, 0, 3);
    release_all(held, 7);
    cache_destroy(c);
}

Test(cache_memory, evictions_are_counted_by_the_limit_that_forced_them)
{
    struct cache *c = make_stale_cache(2, 0, 0);
    long f = footprint_of(c, 5, VLEN), fb;
    struct cache_entry *held[3], *big;
    char *v = value_of(2 * VLEN + 100, 9);

    cr_assert_eq(cache_set_limits(c, 2, 2 * f + f / 2, 0, 0), 0);
    held[0] = put_nth(c, 0, 1);
    held[1] = put_nth(c, 1, 1);
    held[2] = put_nth(c, 2, 1); /* three entries, room for two: capacity */
    expect_cached(held, "011");
    expect_counts(c, 2, 2 * f, 1, 0);
    big = cache_entry_create(c, S("large"), v, 2 * VLEN + 100);
    cr_assert_not_null(big);
    fb = foot(big);
    cr_assert(fb > f + f / 2 && fb <= 2 * f + f / 2,
              "the large entry's footprint %ld does not fit the plan (%ld)", fb,
              f);
    /* Three entries again: k0001 goes for the count; then k0002 and the
     * large one are over max_memory: k0002 goes for the bytes. */
    cr_assert_eq(cache_put(c, big), 1);
    expect_cached(held, "000");
    expect_counts(c, 1, fb, 2, 1);
    release_all(held, 3);
    cache_release(big);
    free(v);
    cache_destroy(c);
}

Test(cache_memory, entry_larger_than_max_memory_alone_is_not_stored)
{
    struct cache *c = make_stale_cache(10, 0, 0);
    struct cache_entry *held[2], *big;
    char *v = value_of(20000, 3);
    long f, fb;

    held[0] = put_nth(c, 0, 1);
    held[1] = put_nth(c, 1, 1);
    f = foot(held[0]);
    big = cache_entry_create(c, S("large"), v, 20000);
    cr_assert_not_null(big);
    fb = foot(big);
    cr_assert_eq(cache_set_limits(c, 10, fb - 1, 0, 0), 0);
    expect_counts(c, 2, 2 * f, 0, 0);
    cr_assert_eq(cache_put(c, big), 0, "stored an entry over max_memory");
    cr_assert_eq(refs(big), 1, "the cache kept a reference to it");
    expect_cached(held, "11"); /* nothing was evicted to make room */
    expect_counts(c, 2, 2 * f, 0, 0);
    expect_miss(c, S("large"));
    /* Exactly max_memory fits, alone. */
    cr_assert_eq(cache_set_limits(c, 10, fb, 0, 0), 0);
    cr_assert_eq(cache_put(c, big), 1);
    expect_cached(held, "00");
    expect_counts(c, 1, fb, 0, 2);
    expect_hit(c, S("large"), v, 20000);
    release_all(held, 2);
    cache_release(big);
    free(v);
    cache_destroy(c);
}

/* ---- cache_set_limits ---- */

Test(cache_memory, lowering_capacity_evicts_down_to_it_across_batches)
{
    enum { N = 5000, CAP = 100 }; /* 4900 evictions: several batches */
    struct cache *c = make_stale_cache(N, 0, 0);
    long f = footprint_of(c, 5, VLEN);
    int i;

    for (i = 0; i < N; i++) {
        put_nth(c, i, 0);
    }
    expect_counts(c, N, N * f, 0, 0);
    cr_assert_eq(cache_set_limits(c, CAP, 0, 0, 0), 0);
    expect_counts(c, CAP, CAP * f, N - CAP, 0);
    expect_nth_miss(c, 0);
    expect_nth_miss(c, N - CAP - 1);
    for (i = N - CAP; i < N; i++) {
        expect_nth_hit(c, i);
    }
    cr_assert_eq(stats_of(c).capacity, CAP);
    cache_destroy(c);
}

Test(cache_memory, lowering_max_memory_evicts_down_to_it_across_batches)
{
    enum { N = 3000, KEEP = 10 };
    struct cache *c = make_stale_cache(N, 0, 0);
    long f = footprint_of(c, 5, VLEN);
    int i;

    for (i = 0; i < N; i++) {
        put_nth(c, i, 0);
    }
    expect_counts(c, N, N * f, 0, 0); /* max_memory 0: no byte limit */
    cr_assert_eq(cache_set_limits(c, N, KEEP * f, 0, 0), 0);
    expect_counts(c, KEEP, KEEP * f, 0, N - KEEP);
    cr_assert_eq(stats_of(c).max_memory, KEEP * f);
    expect_nth_miss(c, N - KEEP - 1);
    for (i = N - KEEP; i < N; i++) {
        expect_nth_hit(c, i);
    }
    cache_destroy(c);
}

Test(cache_memory, raising_capacity_past_twice_the_table_keeps_entries_and_lru)
{
    enum { FIRST = 16, MORE = 2000, BIG = 100000 };
    struct cache *c = make_stale_cache(FIRST, 0, 0); /* a 16-bucket table */
    struct cache_entry *held[FIRST];
    int i;

    for (i = 0; i < FIRST; i++) {
        held[i] = put_nth(c, i, 1);
    }
    expect_nth_hit(c, 0);                               /* LRU: 1 .. 15 0 */
    cr_assert_eq(cache_set_limits(c, BIG, 0, 0, 0), 0); /* > 32: rehash */
    expect_cached(held, "1111111111111111");
    /* The LRU order came through: one fewer than held evicts k0001. */
    cr_assert_eq(cache_set_limits(c, FIRST - 1, 0, 0, 0), 0);
    expect_cached(held, "1011111111111111");
    cr_assert_eq(cache_set_limits(c, BIG, 0, 0, 0), 0);
    for (i = FIRST; i < FIRST + MORE; i++) {
        put_nth(c, i, 0);
    }
    expect_counts(c, FIRST - 1 + MORE,
                  (FIRST - 1 + MORE) * footprint_of(c, 5, VLEN), 1, 0);
    for (i = 0; i < FIRST + MORE; i++) {
        if (i == 1) {
            expect_nth_miss(c, i);
        } else {
            expect_nth_hit(c, i);
        }
    }
    cr_assert_eq(cache_remove(c, "k0000", 5), 1);
    expect_nth_miss(c, 0);
    release_all(held, FIRST);
    cache_destroy(c);
}

Test(cache_memory, raising_capacity_within_twice_the_table_holds_the_new_limit)
{
    enum { FIRST = 16, NEXT = 32 }; /* 32 buckets' worth: no rehash */
    struct cache *c = make_stale_cache(FIRST, 0, 0);
    int i;

    for (i = 0; i < FIRST; i++) {
        put_nth(c, i, 0);
    }
    cr_assert_eq(cache_set_limits(c, NEXT, 0, 0, 0), 0);
    for (i = FIRST; i < NEXT; i++) {
        put_nth(c, i, 0);
    }
    expect_counts(c, NEXT, NEXT * footprint_of(c, 5, VLEN), 0, 0);
    for (i = 0; i < NEXT; i++) {
        expect_nth_hit(c, i);
    }
    put_nth(c, NEXT, 0); /* evicts k0000, the least recently read */
    expect_nth_miss(c, 0);
    cr_assert_eq(stats_of(c).evictions, 1);
    cache_destroy(c);
}

Test(cache_memory, ttl_change_applies_to_entries_stored_after_it)
{
    struct cache *c = make_stale_cache(8, 1000, 0);

    fake_now = 0;
    put(c, S("old"), S("o"));
    cr_assert_eq(cache_set_limits(c, 8, 0, 5000, 0), 0);
    put(c, S("new"), S("n"));
    fake_now = 999;
    expect_hit(c, S("old"), S("o"));
    expect_hit(c, S("new"), S("n"));
    fake_now = 1000; /* the old entry keeps the TTL it was stored with */
    expect_miss(c, S("old"));
    expect_hit(c, S("new"), S("n"));
    fake_now = 4999;
    expect_hit(c, S("new"), S("n"));
    cr_assert_eq(cache_set_limits(c, 8, 0, 0, 0), 0); /* 0: never expires */
    put(c, S("forever"), S("f"));
    fake_now = 5000;
    expect_miss(c, S("new"));
    fake_now = 1000000000;
    expect_hit(c, S("forever"), S("f"));
    cache_destroy(c);
}

/*
 * cache.h: the TTL given to cache_set_limits() applies to entries stored
 * from then on (the expiry is stamped on the entry), the stale window to
 * every entry at its next lookup (it is the cache's, read each time).
 */
Test(cache_memory, stale_window_change_applies_at_the_next_lookup)
{
    struct cache *c = make_stale_cache(8, 100, 0);
    struct cache_entry *e;

    fake_now = 0;
    put(c, S("old"), S("o")); /* stored while there was no stale window */
    fake_now = 150;           /* expired, and no window: not served */
    cr_assert_null(cache_get_stale(c, S("old")));
    put(c, S("old"), S("o")); /* stored again at 150, expires at 250 */
    cr_assert_eq(cache_set_limits(c, 8, 0, 100, 1000), 0);
    put(c, S("new"), S("n")); /* stored with the same TTL, expires at 250 */
    fake_now = 500;
    e = cache_get_stale(c, S("new"));
    cr_assert_not_null(e, "the new entry is not served stale in its window");
    cache_release(e);
    e = cache_get_stale(c, S("old"));
    cr_assert_not_null(e, "the raised window does not reach an entry "
                          "stored before it");
    cache_release(e);
    cr_assert_eq(cache_set_limits(c, 8, 0, 100, 0), 0);
    cr_assert_null(cache_get_stale(c, S("new")),
                   "a window lowered to 0 still serves stale");
    cache_destroy(c);
}
