/*
 * Unit tests for cache: hits and misses with exact bytes (binary keys and
 * values, empty values), replacement, exact LRU eviction, capacity 0 and 1,
 * TTL boundaries on an injected fake clock, removal, exact counters, entry
 * reference counts across eviction, replacement and cache_destroy, a large
 * fill, and a multi-threaded run that checks the cache's invariants. The
 * stale window, cache_clear(), cache_expire_all() and the byte count are in
 * test_cache_stale.c.
 *
 * Whether an entry is still in the cache is observed through its reference
 * count where a cache_get() would disturb the LRU order being tested: an
 * entry the test created and still holds has refs 2 while cached, 1 once the
 * cache dropped it. Run under ASan, the tests that read an entry after it
 * left the cache prove it is not freed early.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "cache_helpers.h"

static struct cache *
make_cache(long capacity, int64_t ttl_ms)
{
    return make_stale_cache(capacity, ttl_ms, 0);
}

static void
expect_stats(struct cache *c, long entries, long hits, long misses,
             long evictions, long expirations)
{
    struct cache_stats st;

    cache_stats(c, &st);
    cr_assert(st.entries == entries && st.hits == hits && st.misses == misses &&
                  st.evictions == evictions && st.expirations == expirations,
              "entries/hits/misses/evictions/expirations are "
              "%ld/%ld/%ld/%ld/%ld, want %ld/%ld/%ld/%ld/%ld",
              st.entries, st.hits, st.misses, st.evictions, st.expirations,
              entries, hits, misses, evictions, expirations);
}

/* ---- basic get / put ---- */

Test(cache, get_on_empty_cache_misses)
{
    struct cache *c = make_cache(8, 0);

    expect_miss(c, S("absent"));
    expect_miss(c, S(""));
    expect_stats(c, 0, 0, 2, 0, 0);
    cache_destroy(c);
}

Test(cache, put_then_get_returns_exact_key_and_value)
{
    struct cache *c = make_cache(8, 0);

    put(c, S("user:1"), S("alice"));
    expect_hit(c, S("user:1"), S("alice"));
    expect_hit(c, S("user:1"), S("alice"));
    expect_miss(c, S("user:2"));
    expect_stats(c, 1, 2, 1, 0, 0);
    cache_destroy(c);
}

/* Keys that differ only in length, in one byte (before, at and past the
 * hash's 8-byte words) or around NUL bytes, and the empty key; values with
 * NUL and high bytes, and an empty one. */
static const struct kv {
    const char *k, *v;
    size_t klen, vlen;
} distinct[] = {
#define KV(k, v)                                                               \
    {                                                                          \
        k, v, sizeof(k) - 1, sizeof(v) - 1                                     \
    }
    KV("", "empty-key"),
    KV("a", "v-a"),
    KV("k-empty", ""),
    KV("ab", "v-ab"),
    KV("abc", "v-abc"),
    KV("12345678", "v-8"),
    KV("12345679", "v-8b"),
    KV("1234567890abcdef", "v-16"),
    KV("1234567890abcdefX", "v-17"),
    KV("1234567890abcdefY", "v-17b"),
    KV("a\0b", "\0\0x\0"),
    KV("a\0c", "\xff\0\x80"),
    KV("a\0", "\0"),
    KV("\0", "\r\n\0\n"),
#undef KV
};

Test(cache, distinct_keys_round_trip_exact_bytes)
{
    size_t n = sizeof(distinct) / sizeof(distinct[0]), i;
    struct cache *c = make_cache(64, 0);

    for (i = 0; i < n; i++) {
        put(c, distinct[i].k, distinct[i].klen, distinct[i].v,
            distinct[i].vlen);
    }
    for (i = 0; i < n; i++) {
        expect_hit(c, distinct[i].k, distinct[i].klen, distinct[i].v,
                   distinct[i].vlen);
    }
    expect_miss(c, S("abcd"));
    expect_miss(c, S("1234567"));
    expect_miss(c, "\0\0", 2);
    expect_stats(c, (long)n, (long)n, 3, 0, 0);
    cache_destroy(c);
}

/* ---- replacement ---- */

Test(cache, put_of_same_key_replaces_value_without_eviction)
{
    struct cache *c = make_cache(4, 0);

    put(c, S("k"), S("old"));
    put(c, S("k"), S("new-and-longer"));
    expect_hit(c, S("k"), S("new-and-longer"));
    put(c, S("k"), S(""));
    expect_hit(c, S("k"), S(""));
    expect_stats(c, 1, 2, 0, 0, 0);
    cache_destroy(c);
}

Test(cache, replaced_entry_stays_readable_until_its_reader_releases_it)
{
    struct cache *c = make_cache(4, 0);
    struct cache_entry *old;

    put(c, S("k"), S("version-1"));
    old = cache_get(c, S("k"));
    cr_assert_not_null(old);
    cr_assert_eq(refs(old), 2, "cache + reader");
    put(c, S("k"), S("version-2"));
    cr_assert_eq(refs(old), 1, "the cache dropped its reference");
    expect_entry(old, S("k"), S("version-1"));
    expect_hit(c, S("k"), S("version-2"));
    cache_release(old); /* frees it: ASan catches any later use */
    expect_hit(c, S("k"), S("version-2"));
    cache_destroy(c);
}

/* ---- LRU ---- */

Test(cache, evicts_least_recently_used_across_reads_replaces_and_inserts)
{
    struct cache *c = make_cache(3, 0);
    struct cache_entry *h[7]; /* a b c d e d2 f */

    h[0] = put_held(c, S("a"), S("va"));
    h[1] = put_held(c, S("b"), S("vb"));
    h[2] = put_held(c, S("c"), S("vc"));
    expect_hit(c, S("a"), S("va"));      /* MRU..LRU: a c b */
    h[3] = put_held(c, S("d"), S("vd")); /* d a c; b out */
    expect_cached(h, "1011");            /* exactly b went */
    expect_stats(c, 3, 1, 0, 1, 0);
    expect_hit(c, S("c"), S("vc"));      /* c d a */
    expect_miss(c, S("b"));              /* a miss moves nothing */
    h[4] = put_held(c, S("e"), S("ve")); /* e c d; a out */
    expect_cached(h, "00111");
    h[5] = put_held(c, S("d"), S("vd2")); /* d e c; replaced, none out */
    expect_cached(h, "001011");
    h[6] = put_held(c, S("f"), S("vf")); /* f d e; c out */
    expect_cached(h, "0000111");
    expect_stats(c, 3, 2, 1, 3, 0);
    expect_hit(c, S("d"), S("vd2"));
    expect_hit(c, S("e"), S("ve"));
    expect_hit(c, S("f"), S("vf"));
    expect_miss(c, S("a"));
    expect_miss(c, S("b"));
    expect_miss(c, S("c"));
    release_all(h, 7);
    cache_destroy(c);
}

Test(cache, capacity_one_keeps_only_the_latest_put)
{
    struct cache *c = make_cache(1, 0);
    struct cache_entry *h[3]; /* a b d */

    h[0] = put_held(c, S("a"), S("va"));
    h[1] = put_held(c, S("b"), S("vb"));
    expect_cached(h, "01");
    expect_hit(c, S("b"), S("vb"));
    expect_miss(c, S("a"));
    h[2] = put_held(c, S("d"), S("vd"));
    expect_cached(h, "001");
    expect_hit(c, S("d"), S("vd"));
    expect_miss(c, S("b"));
    put(c, S("d"), S("vd2")); /* replacing the only entry evicts nothing */
    expect_hit(c, S("d"), S("vd2"));
    expect_stats(c, 1, 3, 2, 2, 0);
    release_all(h, 3);
    cache_destroy(c);
}

Test(cache, capacity_zero_stores_nothing_but_entries_stay_usable)
{
    struct cache *c = make_cache(0, 0);
    struct cache_entry *e = cache_entry_create(c, S("k"), S("value"));

    cr_assert_not_null(e);
    cache_put(c, e);
    cr_assert_eq(refs(e), 1, "the cache took no reference");
    expect_entry(e, S("k"), S("value"));
    expect_miss(c, S("k"));
    expect_miss(c, S("other"));
    cr_assert_null(cache_get_stale(c, S("k")));
    cr_assert_eq(cache_remove(c, S("k")), 0);
    expect_stats(c, 0, 0, 2, 0, 0);
    cache_release(e);
    cache_destroy(c);
}

/* ---- TTL ---- */

Test(cache, entry_is_fresh_until_ttl_and_removed_by_the_get_that_expires_it)
{
    struct cache *c = make_cache(8, 100);

    fake_now = 5000;
    put(c, S("k"), S("v"));
    put(c, S("other"), S("o"));
    fake_now = 5099; /* stored + ttl - 1 */
    expect_hit(c, S("k"), S("v"));
    fake_now = 5100; /* stored + ttl */
    expect_stats(c, 2, 1, 0, 0, 0);
    expect_miss(c, S("k"));
    expect_stats(c, 1, 1, 1, 0, 1);
    expect_miss(c, S("k")); /* now plainly absent: no second expiration */
    expect_stats(c, 1, 1, 2, 0, 1);
    fake_now = 5099; /* a clock read earlier cannot revive it */
    expect_miss(c, S("k"));
    expect_hit(c, S("other"), S("o"));
    cache_destroy(c);
}

Test(cache, reads_never_extend_the_ttl)
{
    struct cache *c = make_cache(8, 100);
    int64_t t;

    fake_now = 0;
    put(c, S("k"), S("v"));
    for (t = 1; t < 100; t += 7) {
        fake_now = t;
        expect_hit(c, S("k"), S("v"));
    }
    fake_now = 99;
    expect_hit(c, S("k"), S("v"));
    fake_now = 100;
    expect_miss(c, S("k"));
    expect_stats(c, 0, 16, 1, 0, 1);
    cache_destroy(c);
}

Test(cache, ttl_counts_from_entry_creation_not_from_put)
{
    struct cache *c = make_cache(8, 100);
    struct cache_entry *e;

    fake_now = 1000;
    e = cache_entry_create(c, S("k"), S("v"));
    cr_assert_not_null(e);
    cr_assert_eq(e->stored_s, 1);
    cr_assert_eq(e->expires_ms, 1100);
    fake_now = 1060;
    cache_put(c, e);
    cache_release(e);
    fake_now = 1099;
    expect_hit(c, S("k"), S("v"));
    fake_now = 1100;
    expect_miss(c, S("k"));
    cache_destroy(c);
}

Test(cache, replacing_a_key_restarts_its_ttl)
{
    struct cache *c = make_cache(8, 100);

    fake_now = 1000;
    put(c, S("k"), S("v1"));
    fake_now = 1090;
    put(c, S("k"), S("v2"));
    fake_now = 1150;
    expect_hit(c, S("k"), S("v2"));
    fake_now = 1189;
    expect_hit(c, S("k"), S("v2"));
    fake_now = 1190;
    expect_miss(c, S("k"));
    expect_stats(c, 0, 2, 1, 0, 1);
    cache_destroy(c);
}

Test(cache, ttl_zero_never_expires)
{
    struct cache *c = make_cache(8, 0);
    struct cache_entry *e;

    fake_now = 1;
    e = put_held(c, S("k"), S("v"));
    fake_now = INT64_MAX / 2;
    expect_hit(c, S("k"), S("v"));
    cr_assert_eq(e->expires_ms, 0);
    cr_assert_eq(cache_entry_ttl_left(c, e), -1);
    cache_release(e);
    expect_stats(c, 1, 1, 0, 0, 0);
    cache_destroy(c);
}

Test(cache, ttl_left_counts_down_to_zero_and_stays_there)
{
    struct cache *c = make_cache(8, 100);
    struct cache_entry *e;

    fake_now = 2000;
    e = put_held(c, S("k"), S("v"));
    cr_assert_eq(cache_entry_ttl_left(c, e), 100);
    fake_now = 2040;
    cr_assert_eq(cache_entry_ttl_left(c, e), 60);
    fake_now = 2099;
    cr_assert_eq(cache_entry_ttl_left(c, e), 1);
    fake_now = 2100;
    cr_assert_eq(cache_entry_ttl_left(c, e), 0);
    fake_now = 9000;
    cr_assert_eq(cache_entry_ttl_left(c, e), 0);
    cache_release(e);
    cache_destroy(c);
}

Test(cache, entry_held_by_a_reader_survives_its_expiry_removal)
{
    struct cache *c = make_cache(8, 100);
    struct cache_entry *e;

    fake_now = 0;
    put(c, S("k"), S("payload"));
    fake_now = 99;
    e = cache_get(c, S("k"));
    cr_assert_not_null(e);
    fake_now = 100;
    expect_miss(c, S("k"));
    cr_assert_eq(refs(e), 1, "only the reader holds it now");
    expect_entry(e, S("k"), S("payload"));
    cache_release(e);
    expect_stats(c, 0, 1, 1, 0, 1);
    cache_destroy(c);
}

/* ---- remove ---- */

Test(cache, remove_reports_presence_frees_a_slot_and_spares_readers)
{
    struct cache *c = make_cache(2, 0);
    struct cache_entry *e;

    put(c, S("a"), S("va"));
    put(c, S("b"), S("vb"));
    e = cache_get(c, S("a"));
    cr_assert_not_null(e);
    cr_assert_eq(cache_remove(c, S("absent")), 0);
    cr_assert_eq(cache_remove(c, S("a")), 1);
    cr_assert_eq(cache_remove(c, S("a")), 0);
    cr_assert_eq(refs(e), 1, "only the reader holds it now");
    expect_entry(e, S("a"), S("va"));
    cache_release(e);
    expect_miss(c, S("a"));
    put(c, S("c"), S("vc")); /* the freed slot: nothing evicted */
    expect_hit(c, S("b"), S("vb"));
    expect_hit(c, S("c"), S("vc"));
    expect_stats(c, 2, 3, 1, 0, 0); /* a removal is not an eviction */
    cache_destroy(c);
}

/* ---- reference counts ---- */

Test(cache, entry_refs_count_the_cache_and_each_reader)
{
    struct cache *c = make_cache(8, 0);
    struct cache_entry *e = cache_entry_create(c, S("k"), S("v"));
    struct cache_entry *r1, *r2;

    cr_assert_not_null(e);
    cr_assert_eq(refs(e), 1);
    cache_put(c, e);
    cr_assert_eq(refs(e), 2);
    r1 = cache_get(c, S("k"));
    r2 = cache_get(c, S("k"));
    cr_assert_eq(r1, e, "a get returns the stored entry itself");
    cr_assert_eq(r2, e);
    cr_assert_eq(refs(e), 4);
    cache_release(r1);
    cache_release(r2);
    cr_assert_eq(refs(e), 2);
    cache_release(e);
    cr_assert_eq(refs(e), 1, "only the cache");
    cache_destroy(c);
}

Test(cache, entry_from_get_survives_eviction_and_destroy_until_released)
{
    struct cache *c = make_cache(1, 0);
    struct cache_entry *a, *b;

    put(c, S("a"), S("value-of-a"));
    a = cache_get(c, S("a"));
    cr_assert_not_null(a);
    put(c, S("b"), S("value-of-b")); /* evicts a */
    expect_miss(c, S("a"));
    cr_assert_eq(refs(a), 1);
    expect_entry(a, S("a"), S("value-of-a"));
    b = cache_get(c, S("b"));
    cr_assert_not_null(b);
    cache_destroy(c);
    cr_assert_eq(refs(b), 1);
    expect_entry(b, S("b"), S("value-of-b"));
    expect_entry(a, S("a"), S("value-of-a"));
    cache_release(a); /* under ASan: no use after free before this */
    cache_release(b);
}

Test(cache, release_and_destroy_of_null_do_nothing)
{
    cache_release(NULL);
    cache_destroy(NULL);
}

/* ---- scale ---- */

Test(cache, fill_past_capacity_keeps_exactly_the_newest_entries)
{
    enum { N = 100000, CAP = 50000 };
    struct cache *c = make_cache(CAP, 0);
    char key[16], val[24];
    int i;

    for (i = 0; i < N; i++) {
        int kn = snprintf(key, sizeof(key), "key:%d", i);
        int vn = snprintf(val, sizeof(val), "value:%d", i * 7);
        put(c, key, (size_t)kn, val, (size_t)vn);
    }
    expect_stats(c, CAP, 0, 0, N - CAP, 0);
    for (i = 0; i < N; i++) {
        int kn = snprintf(key, sizeof(key), "key:%d", i);
        int vn = snprintf(val, sizeof(val), "value:%d", i * 7);
        if (i < N - CAP) {
            expect_miss(c, key, (size_t)kn);
        } else {
            expect_hit(c, key, (size_t)kn, val, (size_t)vn);
        }
    }
    expect_stats(c, CAP, CAP, N - CAP, N - CAP, 0);
    cache_destroy(c);
}

/* ---- threads ---- */

#define MT_THREADS 4
#define MT_ITERS 50000 /* per thread: 200k operations in all */
#define MT_KEYS 64
#define MT_CAPACITY 16

/* The value every writer stores for key k: its length and bytes depend on k,
 * so a hit on the wrong entry or a torn entry shows. */
static size_t
mt_value(unsigned k, char *buf)
{
    size_t n = 1 + (k * 37) % 300, i;

    for (i = 0; i < n; i++) {
        buf[i] = (char)(k * 31 + i);
    }
    return n;
}

#define MT_KEY(k, buf) ((size_t)snprintf(buf, 16, "mt:%u", k))

struct mt_arg {
    struct cache *c;
    unsigned seed;
    long gets, hits, stale, bad;
};

/* Counts e as bad unless it holds key k and its value, and a TTL left of
 * -1 (ttl 0: never) or 0 (expired by cache_expire_all). Releases e. */
static void
mt_check(struct mt_arg *a, struct cache_entry *e, unsigned k)
{
    char key[16], want[300];
    size_t kn = MT_KEY(k, key), vn = mt_value(k, want);
    int64_t left = cache_entry_ttl_left(a->c, e);

    if (e->klen != kn || memcmp(cache_entry_key(e), key, kn) || e->vlen != vn ||
        memcmp(cache_entry_value(e), want, vn) || (left != -1 && left != 0)) {
        a->bad++;
    }
    cache_release(e);
}

/* Per 100 operations: 55 get, 5 stale get, 28 put, 10 remove, 2 expire_all
 * (with the clock standing still, expired entries stay stale for good). */
static void *
mt_worker(void *p)
{
    struct mt_arg *a = p;
    char key[16], val[300];
    struct cache_entry *e;
    int i;

    for (i = 0; i < MT_ITERS; i++) {
        unsigned r = (unsigned)rand_r(&a->seed);
        unsigned k = r % MT_KEYS, op = (r / MT_KEYS) % 100;
        size_t kn = MT_KEY(k, key);

        if (op < 55) {
            a->gets++;
            if ((e = cache_get(a->c, key, kn)) != NULL) {
                a->hits++;
                mt_check(a, e, k);
            }
        } else if (op < 60) {
            if ((e = cache_get_stale(a->c, key, kn)) != NULL) {
                a->stale++;
                mt_check(a, e, k);
            }
        } else if (op < 88) {
            e = cache_entry_create(a->c, key, kn, val, mt_value(k, val));
            if (e == NULL) {
                a->bad++;
                continue;
            }
            cache_put(a->c, e);
            cache_release(e);
        } else if (op < 98) {
            cache_remove(a->c, key, kn);
        } else {
            cache_expire_all(a->c);
        }
    }
    return NULL;
}

Test(cache, concurrent_operations_keep_values_and_capacity)
{
    struct cache *c = make_stale_cache(MT_CAPACITY, 0, 10);
    struct mt_arg args[MT_THREADS];
    pthread_t th[MT_THREADS];
    struct cache_stats st;
    long gets = 0, hits = 0, stale = 0, bad = 0, present = 0;
    char key[16];
    unsigned k;
    int i;

    fake_now = 1000;
    for (i = 0; i < MT_THREADS; i++) {
        args[i] = (struct mt_arg){.c = c, .seed = 12345u + (unsigned)i};
        cr_assert_eq(pthread_create(&th[i], NULL, mt_worker, &args[i]), 0);
    }
    for (i = 0; i < MT_THREADS; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        gets += args[i].gets;
        hits += args[i].hits;
        stale += args[i].stale;
        bad += args[i].bad;
    }
    cr_assert_eq(bad, 0, "%ld lookups returned the wrong bytes", bad);
    cache_stats(c, &st);
    cr_assert_leq(st.entries, MT_CAPACITY);
    cr_assert_eq(st.hits, hits);
    cr_assert_eq(st.hits + st.misses, gets);
    cr_assert_leq(st.stale_hits, stale);
    cr_assert_gt(hits, 0, "the run must exercise hits");
    cr_assert_gt(st.stale_hits, 0, "the run must exercise stale hits");
    cr_assert_gt(st.evictions, 0, "the run must exercise eviction");
    cr_assert_eq(st.expirations, 0, "nothing outlives a frozen clock");
    for (k = 0; k < MT_KEYS; k++) {
        size_t kn = MT_KEY(k, key);
        struct cache_entry *e = cache_get_stale(c, key, kn);
        if (e != NULL) {
            present++;
            mt_check(&args[0], e, k);
        }
    }
    cr_assert_eq(args[0].bad, 0, "a key left holding the wrong bytes");
    cr_assert_eq(present, st.entries, "%ld keys found, stats say %ld", present,
                 st.entries);
    cache_destroy(c);
}
