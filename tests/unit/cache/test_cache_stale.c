/*
 * Unit tests for cache's stale window, cache_clear() and cache_expire_all(),
 * on an injected fake clock: the exact first and last millisecond an
 * expired entry is served by cache_get_stale(), its removal (and counting)
 * once the window has passed, a window of 0, stale_hits, LRU order left
 * alone by stale lookups (seen through which entry an insert evicts),
 * clearing with readers still holding entries, expiring everything
 * (including entries that never expire on their own), and the byte count
 * through every way an entry enters or leaves the cache.
 *
 * Whether an entry is still cached is observed through its reference count
 * where a cache_get() would disturb the LRU order under test: an entry the
 * test created and still holds has refs 2 while cached, 1 once dropped. Run
 * under ASan, tests that read an entry after it left the cache prove it was
 * not freed early.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cache/cache.h"
#include "cache_helpers.h"

/* cache_get_stale() and asserts it returns key with val (val NULL: NULL). */
static void
expect_stale(struct cache *c, const char *key, size_t klen, const char *val,
             size_t vlen)
{
    struct cache_entry *e = cache_get_stale(c, key, klen);

    if (val == NULL) {
        cr_assert_null(e, "stale lookup of '%.*s' found it at %lld", (int)klen,
                       key, (long long)fake_now);
        return;
    }
    cr_assert_not_null(e, "stale lookup of '%.*s' missed at %lld", (int)klen,
                       key, (long long)fake_now);
    expect_entry(e, key, klen, val, vlen);
    cache_release(e);
}

/* The expected counters; fields not named in a test's initializer are 0. */
struct want {
    long entries, hits, misses, evictions, expirations, stale_hits, bytes;
};

static void
expect_stats(struct cache *c, struct want w)
{
    struct cache_stats st;

    cache_stats(c, &st);
    cr_assert(st.entries == w.entries && st.hits == w.hits &&
                  st.misses == w.misses && st.evictions == w.evictions &&
                  st.expirations == w.expirations &&
                  st.stale_hits == w.stale_hits && st.bytes == w.bytes,
              "entries/hits/misses/evictions/expirations/stale_hits/bytes "
              "are %ld/%ld/%ld/%ld/%ld/%ld/%ld, want "
              "%ld/%ld/%ld/%ld/%ld/%ld/%ld at %lld",
              st.entries, st.hits, st.misses, st.evictions, st.expirations,
              st.stale_hits, st.bytes, w.entries, w.hits, w.misses, w.evictions,
              w.expirations, w.stale_hits, w.bytes, (long long)fake_now);
}

/* ---- the stale window ---- */

Test(cache_stale, expired_entry_misses_get_but_is_served_stale_to_window_end)
{
    struct cache *c = make_stale_cache(8, 100, 50);

    fake_now = 1000;
    put(c, S("k"), S("value"));
    fake_now = 1099; /* last fresh millisecond */
    expect_hit(c, S("k"), S("value"));
    expect_stale(c, S("k"), S("value"));
    expect_stats(c, (struct want){.entries = 1, .hits = 1, .bytes = 6});
    fake_now = 1100; /* first expired millisecond */
    expect_miss(c, S("k"));
    /* the get that missed kept the entry for the stale window */
    expect_stats(
        c, (struct want){.entries = 1, .hits = 1, .misses = 1, .bytes = 6});
    expect_stale(c, S("k"), S("value"));
    expect_stats(
        c,
        (struct want){
            .entries = 1, .hits = 1, .misses = 1, .stale_hits = 1, .bytes = 6});
    fake_now = 1149; /* last millisecond of the stale window */
    expect_miss(c, S("k"));
    expect_stale(c, S("k"), S("value"));
    expect_stats(
        c,
        (struct want){
            .entries = 1, .hits = 1, .misses = 2, .stale_hits = 2, .bytes = 6});
    fake_now = 1150; /* past the window */
    expect_stale(c, S("k"), NULL, 0);
    /* a stale lookup removes nothing; the next get removes the entry */
    expect_stats(
        c,
        (struct want){
            .entries = 1, .hits = 1, .misses = 2, .stale_hits = 2, .bytes = 6});
    expect_miss(c, S("k"));
    expect_stats(
        c, (struct want){
               .hits = 1, .misses = 3, .expirations = 1, .stale_hits = 2});
    expect_stale(c, S("k"), NULL, 0);
    expect_miss(c, S("k"));
    expect_stats(
        c, (struct want){
               .hits = 1, .misses = 4, .expirations = 1, .stale_hits = 2});
    cache_destroy(c);
}

Test(cache_stale, each_entry_past_its_window_is_removed_and_counted_once)
{
    struct cache *c = make_stale_cache(8, 100, 50);

    fake_now = 0;
    put(c, S("a"), S("1"));
    put(c, S("b"), S("22"));
    put(c, S("c"), S("333"));
    fake_now = 60;
    put(c, S("d"), S("4444")); /* expires at 160, dead at 210 */
    fake_now = 150;            /* a, b and c are dead, d is fresh */
    expect_miss(c, S("a"));
    expect_miss(c, S("b"));
    expect_miss(c, S("c"));
    expect_miss(c, S("c"));
    expect_stats(
        c,
        (struct want){.entries = 1, .misses = 4, .expirations = 3, .bytes = 5});
    expect_hit(c, S("d"), S("4444"));
    fake_now = 209;
    expect_stale(c, S("d"), S("4444"));
    fake_now = 210;
    expect_miss(c, S("d"));
    expect_stats(
        c, (struct want){
               .hits = 1, .misses = 5, .expirations = 4, .stale_hits = 1});
    cache_destroy(c);
}

Test(cache_stale, window_of_zero_serves_only_fresh_entries_and_get_removes)
{
    struct cache *c = make_stale_cache(8, 100, 0);

    fake_now = 1000;
    put(c, S("k"), S("v"));
    fake_now = 1099;
    expect_stale(c, S("k"), S("v"));
    fake_now = 1100;
    expect_stale(c, S("k"), NULL, 0);
    expect_miss(c, S("k"));
    expect_stats(c, (struct want){.misses = 1, .expirations = 1});
    expect_stale(c, S("k"), NULL, 0);
    expect_stats(c, (struct want){.misses = 1, .expirations = 1});
    cache_destroy(c);
}

Test(cache_stale, stale_lookup_of_fresh_entry_returns_it_without_counting)
{
    struct cache *c = make_stale_cache(8, 100, 50);
    struct cache_entry *held, *e;

    fake_now = 10;
    held = put_held(c, S("k"), S("fresh"));
    fake_now = 109;
    e = cache_get_stale(c, S("k"));
    cr_assert_eq(e, held, "the stored entry itself");
    cr_assert_eq(refs(held), 3, "cache + test + stale reader");
    cache_release(e);
    cr_assert_eq(refs(held), 2);
    expect_stats(c, (struct want){.entries = 1, .bytes = 6});
    cache_release(held);
    cache_destroy(c);
}

Test(cache_stale, stale_hits_count_each_expired_entry_returned)
{
    struct cache *c = make_stale_cache(8, 100, 50);

    fake_now = 0;
    put(c, S("old"), S("o"));
    fake_now = 40;
    put(c, S("young"), S("y"));
    fake_now = 120; /* old expired at 100, young expires at 140 */
    expect_stale(c, S("young"), S("y"));
    expect_stale(c, S("old"), S("o"));
    expect_stale(c, S("absent"), NULL, 0);
    expect_stale(c, S("old"), S("o"));
    expect_stats(c, (struct want){.entries = 2, .stale_hits = 2, .bytes = 10});
    fake_now = 150; /* old is dead, young is stale */
    expect_stale(c, S("old"), NULL, 0);
    expect_stale(c, S("young"), S("y"));
    expect_stats(c, (struct want){.entries = 2, .stale_hits = 3, .bytes = 10});
    cache_destroy(c);
}

Test(cache_stale, stale_reader_keeps_entry_alive_past_its_removal)
{
    struct cache *c = make_stale_cache(8, 100, 50);
    struct cache_entry *e;

    fake_now = 0;
    put(c, S("k"), S("payload"));
    fake_now = 149;
    e = cache_get_stale(c, S("k"));
    cr_assert_not_null(e);
    fake_now = 150;
    expect_miss(c, S("k"));
    expect_stats(c,
                 (struct want){.misses = 1, .expirations = 1, .stale_hits = 1});
    cr_assert_eq(refs(e), 1, "only the stale reader holds it");
    expect_entry(e, S("k"), S("payload"));
    cache_release(e);
    cache_destroy(c);
}

Test(cache_stale, put_replaces_a_stale_entry_with_a_fresh_one)
{
    struct cache *c = make_stale_cache(8, 100, 50);

    fake_now = 0;
    put(c, S("k"), S("old"));
    fake_now = 120;
    put(c, S("k"), S("newer"));
    expect_hit(c, S("k"), S("newer"));
    expect_stale(c, S("k"), S("newer"));
    expect_stats(c, (struct want){.entries = 1, .hits = 1, .bytes = 6});
    fake_now = 219; /* fresh until 220 */
    expect_hit(c, S("k"), S("newer"));
    cache_destroy(c);
}

/* ---- LRU order ---- */

Test(cache_stale, stale_lookups_of_fresh_entries_leave_lru_order_alone)
{
    struct cache *c = make_stale_cache(3, 1000, 50);
    struct cache_entry *h[4]; /* a b c d */

    fake_now = 0;
    h[0] = put_held(c, S("a"), S("va"));
    h[1] = put_held(c, S("b"), S("vb"));
    h[2] = put_held(c, S("c"), S("vc"));
    expect_stale(c, S("a"), S("va"));
    expect_stale(c, S("a"), S("va"));
    expect_stale(c, S("b"), S("vb"));
    expect_stale(c, S("absent"), NULL, 0); /* counted as nothing either */
    h[3] = put_held(c, S("d"), S("vd"));
    expect_cached(h, "0111"); /* a is still the least recently used */
    expect_stats(c, (struct want){.entries = 3, .evictions = 1, .bytes = 9});
    release_all(h, 4);
    cache_destroy(c);
}

Test(cache_stale, get_promotes_where_a_stale_lookup_does_not)
{
    struct cache *c = make_stale_cache(3, 1000, 50);
    struct cache_entry *h[4]; /* a b c d */

    fake_now = 0;
    h[0] = put_held(c, S("a"), S("va"));
    h[1] = put_held(c, S("b"), S("vb"));
    h[2] = put_held(c, S("c"), S("vc"));
    expect_hit(c, S("a"), S("va")); /* a becomes the most recent */
    expect_stale(c, S("b"), S("vb"));
    h[3] = put_held(c, S("d"), S("vd"));
    expect_cached(h, "1011");
    release_all(h, 4);
    cache_destroy(c);
}

Test(cache_stale, stale_lookups_of_expired_entries_leave_lru_order_alone)
{
    struct cache *c = make_stale_cache(3, 100, 1000);
    struct cache_entry *h[4]; /* a b c d */

    fake_now = 0;
    h[0] = put_held(c, S("a"), S("va"));
    fake_now = 1;
    h[1] = put_held(c, S("b"), S("vb"));
    fake_now = 2;
    h[2] = put_held(c, S("c"), S("vc"));
    fake_now = 500; /* all three expired, all inside the stale window */
    expect_stale(c, S("a"), S("va"));
    expect_stale(c, S("b"), S("vb"));
    h[3] = put_held(c, S("d"), S("vd"));
    expect_cached(h, "0111");
    expect_stats(
        c, (struct want){
               .entries = 3, .evictions = 1, .stale_hits = 2, .bytes = 9});
    release_all(h, 4);
    cache_destroy(c);
}

/* ---- clear ---- */

Test(cache_stale, clear_removes_fresh_stale_and_dead_entries_and_counts_them)
{
    struct cache *c = make_stale_cache(8, 100, 50);

    fake_now = 0;
    put(c, S("dead"), S("d"));
    fake_now = 100;
    put(c, S("stale"), S("ss"));
    fake_now = 180;
    put(c, S("fresh"), S("fff"));
    fake_now = 220; /* dead since 150, stale until 250, fresh until 280 */
    expect_stats(c, (struct want){.entries = 3, .bytes = 20});
    cr_assert_eq(cache_clear(c), 3);
    expect_stats(c, (struct want){.entries = 0});
    expect_stale(c, S("fresh"), NULL, 0);
    expect_stale(c, S("stale"), NULL, 0);
    expect_stale(c, S("dead"), NULL, 0);
    expect_miss(c, S("fresh"));
    expect_stats(c, (struct want){.misses = 1});
    cr_assert_eq(cache_clear(c), 0, "nothing left");
    cache_destroy(c);
}

Test(cache_stale, clear_spares_entries_held_by_readers)
{
    struct cache *c = make_stale_cache(8, 100, 50);
    struct cache_entry *fresh, *stale;

    fake_now = 0;
    put(c, S("s"), S("stale-value"));
    fake_now = 120;
    put(c, S("f"), S("fresh-value"));
    fresh = cache_get(c, S("f"));
    stale = cache_get_stale(c, S("s"));
    cr_assert_not_null(fresh);
    cr_assert_not_null(stale);
    cr_assert_eq(cache_clear(c), 2);
    cr_assert_eq(refs(fresh), 1, "only the reader holds it");
    cr_assert_eq(refs(stale), 1, "only the reader holds it");
    expect_stats(c, (struct want){.hits = 1, .stale_hits = 1});
    expect_entry(fresh, S("f"), S("fresh-value"));
    expect_entry(stale, S("s"), S("stale-value"));
    cache_release(fresh); /* under ASan: neither was freed before this */
    cache_release(stale);
    put(c, S("f"), S("again")); /* a cleared key is stored anew */
    expect_hit(c, S("f"), S("again"));
    cache_destroy(c);
}

Test(cache_stale, clear_frees_the_whole_capacity)
{
    struct cache *c = make_stale_cache(3, 0, 0);
    struct cache_entry *h[3];

    fake_now = 0;
    put(c, S("a"), S("1"));
    put(c, S("b"), S("2"));
    put(c, S("c"), S("3"));
    cr_assert_eq(cache_clear(c), 3);
    h[0] = put_held(c, S("x"), S("1"));
    h[1] = put_held(c, S("y"), S("2"));
    h[2] = put_held(c, S("z"), S("3"));
    expect_cached(h, "111"); /* nothing evicted: the count restarted at 0 */
    expect_stats(c, (struct want){.entries = 3, .bytes = 6});
    release_all(h, 3);
    cache_destroy(c);
}

Test(cache_stale, cache_off_has_nothing_to_serve_clear_or_expire)
{
    struct cache *c = make_stale_cache(0, 100, 50);

    fake_now = 0;
    put(c, S("k"), S("v"));
    expect_stale(c, S("k"), NULL, 0);
    cr_assert_eq(cache_expire_all(c), 0);
    cr_assert_eq(cache_clear(c), 0);
    expect_stats(c, (struct want){.entries = 0});
    cache_destroy(c);
}

/* ---- expire_all ---- */

Test(cache_stale, expire_all_counts_fresh_entries_and_makes_every_get_miss)
{
    struct cache *c = make_stale_cache(8, 100, 50);
    struct cache_entry *b;

    fake_now = 0;
    put(c, S("a"), S("va")); /* expires at 100 */
    fake_now = 80;
    b = put_held(c, S("b"), S("vb")); /* expires at 180 */
    fake_now = 90;
    put(c, S("c"), S("vc")); /* expires at 190 */
    fake_now = 120;
    cr_assert_eq(cache_entry_ttl_left(c, b), 60);
    cr_assert_eq(cache_expire_all(c), 2, "b and c were fresh, a was not");
    cr_assert_eq(cache_entry_ttl_left(c, b), 0);
    expect_miss(c, S("a"));
    expect_miss(c, S("b"));
    expect_miss(c, S("c"));
    expect_stats(c, (struct want){.entries = 3, .misses = 3, .bytes = 9});
    expect_stale(c, S("a"), S("va"));
    expect_stale(c, S("b"), S("vb"));
    expect_stale(c, S("c"), S("vc"));
    cr_assert_eq(cache_expire_all(c), 0, "nothing fresh is left");
    cache_release(b);
    cache_destroy(c);
}

Test(cache_stale, expire_all_starts_the_window_now_and_never_extends_one)
{
    struct cache *c = make_stale_cache(8, 100, 50);

    fake_now = 0;
    put(c, S("a"), S("va")); /* expired at 100: window ends at 150 */
    fake_now = 80;
    put(c, S("b"), S("vb")); /* expired by expire_all at 120: ends at 170 */
    fake_now = 120;
    cr_assert_eq(cache_expire_all(c), 1);
    fake_now = 149;
    expect_stale(c, S("a"), S("va"));
    expect_stale(c, S("b"), S("vb"));
    fake_now = 150;
    expect_stale(c, S("a"), NULL, 0);
    expect_stale(c, S("b"), S("vb"));
    fake_now = 169;
    expect_stale(c, S("b"), S("vb"));
    fake_now = 170;
    expect_stale(c, S("b"), NULL, 0);
    expect_miss(c, S("a"));
    expect_miss(c, S("b"));
    expect_stats(c,
                 (struct want){.misses = 2, .expirations = 2, .stale_hits = 4});
    cache_destroy(c);
}

Test(cache_stale, expire_all_expires_entries_that_never_expire_on_their_own)
{
    struct cache *c = make_stale_cache(8, 0, 100);
    struct cache_entry *e;

    fake_now = 1000;
    e = put_held(c, S("forever"), S("v"));
    cr_assert_eq(cache_entry_ttl_left(c, e), -1);
    fake_now = 2000;
    expect_hit(c, S("forever"), S("v"));
    cr_assert_eq(cache_expire_all(c), 1);
    cr_assert_eq(cache_entry_ttl_left(c, e), 0);
    cr_assert_eq(cache_expire_all(c), 0, "nothing fresh is left");
    expect_miss(c, S("forever"));
    expect_stats(
        c, (struct want){.entries = 1, .hits = 1, .misses = 1, .bytes = 8});
    fake_now = 2099;
    expect_stale(c, S("forever"), S("v"));
    fake_now = 2100;
    expect_stale(c, S("forever"), NULL, 0);
    expect_miss(c, S("forever"));
    expect_stats(
        c, (struct want){
               .hits = 1, .misses = 2, .expirations = 1, .stale_hits = 1});
    cr_assert_eq(refs(e), 1, "only the test holds it");
    expect_entry(e, S("forever"), S("v"));
    cache_release(e);
    cache_destroy(c);
}

Test(cache_stale, entry_stored_after_expire_all_is_fresh)
{
    struct cache *c = make_stale_cache(8, 0, 100);

    fake_now = 500;
    put(c, S("old"), S("o"));
    cr_assert_eq(cache_expire_all(c), 1);
    put(c, S("new"), S("n"));
    expect_hit(c, S("new"), S("n"));
    expect_miss(c, S("old"));
    fake_now = 100000; /* ttl 0: still fresh much later */
    expect_hit(c, S("new"), S("n"));
    put(c, S("old"), S("o2")); /* replacing the expired entry */
    expect_hit(c, S("old"), S("o2"));
    cr_assert_eq(cache_expire_all(c), 2);
    expect_miss(c, S("new"));
    expect_miss(c, S("old"));
    cache_destroy(c);
}

Test(cache_stale, expire_all_with_window_zero_leaves_nothing_to_serve)
{
    struct cache *c = make_stale_cache(8, 0, 0);

    fake_now = 300;
    put(c, S("a"), S("va"));
    put(c, S("b"), S("vb"));
    cr_assert_eq(cache_expire_all(c), 2);
    expect_stats(c, (struct want){.entries = 2, .bytes = 6});
    expect_stale(c, S("a"), NULL, 0);
    expect_miss(c, S("a"));
    expect_miss(c, S("b"));
    expect_stats(c, (struct want){.misses = 2, .expirations = 2});
    cache_destroy(c);
}

/* ---- bytes ---- */

Test(cache_stale, bytes_follow_put_replace_evict_remove_expire_and_clear)
{
    struct cache *c = make_stale_cache(3, 100, 50);

    fake_now = 0;
    expect_stats(c, (struct want){.entries = 0});
    put(c, S("k1"), S("abc"));        /* 5 */
    put(c, S(""), S(""));             /* the empty key with an empty value: 0 */
    put(c, S("k\0x"), S("\0\0\0\0")); /* 7, NUL bytes count */
    expect_stats(c, (struct want){.entries = 3, .bytes = 12});
    put(c, S("k1"), S("abcdefgh")); /* replace, longer: 10 */
    expect_stats(c, (struct want){.entries = 3, .bytes = 17});
    put(c, S("k1"), S("a")); /* replace, shorter: 3 */
    expect_stats(c, (struct want){.entries = 3, .bytes = 10});
    fake_now = 10;
    put(c, S("k4"), S("dddd")); /* evicts "", the least recent: 6 */
    expect_stats(c, (struct want){.entries = 3, .evictions = 1, .bytes = 16});
    put(c, S("k5"), S("e")); /* evicts "k\0x": 3 */
    expect_stats(c, (struct want){.entries = 3, .evictions = 2, .bytes = 12});
    cr_assert_eq(cache_remove(c, S("k5")), 1);
    cr_assert_eq(cache_remove(c, S("k5")), 0);
    expect_stats(c, (struct want){.entries = 2, .evictions = 2, .bytes = 9});
    cr_assert_eq(cache_expire_all(c), 2);
    expect_stats(c, (struct want){.entries = 2, .evictions = 2, .bytes = 9});
    fake_now = 60; /* k1 and k4 were expired at 10: dead at 60 */
    expect_miss(c, S("k1"));
    expect_stats(c, (struct want){.entries = 1,
                                  .misses = 1,
                                  .evictions = 2,
                                  .expirations = 1,
                                  .bytes = 6});
    put(c, S("k6"), S("ffffff")); /* 8 */
    expect_stats(c, (struct want){.entries = 2,
                                  .misses = 1,
                                  .evictions = 2,
                                  .expirations = 1,
                                  .bytes = 14});
    cr_assert_eq(cache_clear(c), 2);
    expect_stats(c,
                 (struct want){.misses = 1, .evictions = 2, .expirations = 1});
    put(c, S("key2"), S("")); /* an empty value: the key's 4 bytes */
    expect_stats(c, (struct want){.entries = 1,
                                  .misses = 1,
                                  .evictions = 2,
                                  .expirations = 1,
                                  .bytes = 4});
    cache_destroy(c);
}
