/*
 * Unit tests for the cache's databases, on an injected fake clock: one key
 * held separately in each database, replaced and looked up (fresh and
 * stale) in its own; cache_remove() taking it out of every database and
 * nothing else (not another key on the chain, not a database-0 key whose
 * bytes spell a database prefix); what an entry says of its database, key
 * and value; the limits on key and value lengths; what an entry costs (a
 * database-0 entry exactly what it did before databases, another database
 * CACHE_DB_BYTES more); byte, memory, LRU and max_memory accounting across
 * databases; key_scope predicates seeing keys without the prefix; and a
 * rehash that keeps every database's entries.
 *
 * Whether a held entry is still cached is seen through its reference count
 * (2: cache and test, 1: dropped), as in test_cache_memory.c.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "cache_helpers.h"

/* Creates an entry of key in db and stores it; returns the creator's
 * reference. */
static struct cache_entry *
put_db_held(struct cache *c, int db, const char *key, size_t klen,
            const char *val, size_t vlen)
{
    struct cache_entry *e = cache_entry_create_db(c, db, key, klen, val, vlen);

    cr_assert_not_null(e, "create in db %d", db);
    cr_assert_eq(cache_put(c, e), 1);
    return e;
}

static void
put_db(struct cache *c, int db, const char *key, size_t klen, const char *val,
       size_t vlen)
{
    cache_release(put_db_held(c, db, key, klen, val, vlen));
}

static struct cache_stats
stats_of(struct cache *c)
{
    struct cache_stats st;

    cache_stats(c, &st);
    return st;
}

/* ---- one key, many databases ---- */

Test(cache_db, the_same_key_in_databases_0_1_2_is_held_separately)
{
    struct cache *c = make_stale_cache(8, 0, 0);

    put_db(c, 0, S("k"), S("zero"));
    put_db(c, 1, S("k"), S("one"));
    put_db(c, 2, S("k"), S("two"));
    expect_hit_db(c, 0, S("k"), S("zero"));
    expect_hit_db(c, 1, S("k"), S("one"));
    expect_hit_db(c, 2, S("k"), S("two"));
    expect_hit(c, S("k"), S("zero")); /* cache_get: database 0 */
    expect_miss_db(c, 3, S("k"));
    put_db(c, 1, S("k"), S("uno")); /* replaces database 1's only */
    expect_hit_db(c, 0, S("k"), S("zero"));
    expect_hit_db(c, 1, S("k"), S("uno"));
    expect_hit_db(c, 2, S("k"), S("two"));
    cr_assert_eq(stats_of(c).entries, 3);
    cr_assert_eq(stats_of(c).evictions, 0);
    cache_destroy(c);
}

Test(cache_db, remove_takes_the_key_out_of_every_database_and_nothing_else)
{
    static const int dbs[] = {0, 1, 2, 7};
    struct cache *c = make_stale_cache(16, 0, 0);
    size_t i;

    for (i = 0; i < 4; i++) {
        put_db(c, dbs[i], S("k"), S("v"));
    }
    put_db(c, 1, S("kk"), S("1"));
    put_db(c, 2, S("k\0"), S("2"));
    put_db(c, 0, S(""), S("3"));
    put_db(c, 1, S("K"), S("4"));
    cr_assert_eq(cache_remove(c, S("k")), 4);
    for (i = 0; i < 4; i++) {
        expect_miss_db(c, dbs[i], S("k"));
    }
    expect_hit_db(c, 1, S("kk"), S("1"));
    expect_hit_db(c, 2, S("k\0"), S("2"));
    expect_hit_db(c, 0, S(""), S("3"));
    expect_hit_db(c, 1, S("K"), S("4"));
    cr_assert_eq(cache_remove(c, S("k")), 0);
    cr_assert_eq(stats_of(c).entries, 4);
    cache_destroy(c);
}

/* Database 1's key "k" is stored as the bytes of 1 then "k": a key of
 * database 0 made of those same bytes is another key. */
Test(cache_db, a_database_0_key_that_spells_a_prefix_is_another_key)
{
    struct cache *c = make_stale_cache(8, 0, 0);
    uint32_t one = 1;
    char spelled[CACHE_DB_BYTES + 1];

    memcpy(spelled, &one, CACHE_DB_BYTES);
    spelled[CACHE_DB_BYTES] = 'k';
    put_db(c, 0, spelled, sizeof(spelled), S("spelled"));
    put_db(c, 1, S("k"), S("prefixed"));
    expect_hit_db(c, 0, spelled, sizeof(spelled), S("spelled"));
    expect_hit_db(c, 1, S("k"), S("prefixed"));
    expect_miss_db(c, 0, S("k"));
    expect_miss_db(c, 1, spelled, sizeof(spelled));
    cr_assert_eq(cache_remove(c, S("k")), 1);
    expect_hit_db(c, 0, spelled, sizeof(spelled), S("spelled"));
    cr_assert_eq(cache_remove(c, spelled, sizeof(spelled)), 1);
    cr_assert_eq(stats_of(c).entries, 0);
    cache_destroy(c);
}

/* ---- the entry ---- */

Test(cache_db, entries_know_their_database_and_skip_its_prefix)
{
    static const int dbs[] = {0, 1, 15, 65535, INT_MAX};
    struct cache *c = make_stale_cache(8, 0, 0);
    size_t i;

    for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
        struct cache_entry *e =
            cache_entry_create_db(c, dbs[i], S("key"), S("value"));

        cr_assert_not_null(e);
        cr_assert_eq(cache_entry_db(e), dbs[i]);
        expect_entry(e, S("key"), S("value"));
        cr_assert_eq(e->klen,
                     dbs[i] == 0 ? 3u : (3u + CACHE_DB_BYTES) | CACHE_KLEN_DB,
                     "db %d: klen word %#x", dbs[i], e->klen);
        cache_release(e);
    }
    cr_assert_null(cache_entry_create_db(c, -1, S("key"), S("value")));
    cache_destroy(c);
}

/* Checked before anything is read or allocated, so a short buffer does. */
Test(cache_db, keys_and_values_over_2_to_the_30_bytes_are_refused)
{
    struct cache *c = make_stale_cache(8, 0, 0);
    size_t over = ((size_t)1 << 30) + 1;
    int db;

    for (db = 0; db < 2; db++) {
        cr_assert_null(cache_entry_create_db(c, db, "k", over, "v", 1));
        cr_assert_null(cache_entry_create_db(c, db, "k", 1, "v", over));
    }
    cache_destroy(c);
}

/* The footprint of an allocation of n bytes, as the cache counts one. */
static long
alloc_footprint(size_t n)
{
    void *p = malloc(n);
    long f;

    cr_assert_not_null(p);
    f = (long)(malloc_usable_size(p) + sizeof(size_t));
    free(p);
    return f;
}

static long
entry_footprint(struct cache *c, int db, size_t klen, size_t vlen)
{
    char *buf = calloc(1, klen + vlen + 1);
    struct cache_entry *e;
    long f;

    cr_assert_not_null(buf);
    e = cache_entry_create_db(c, db, buf, klen, buf, vlen);
    cr_assert_not_null(e);
    f = (long)cache_entry_footprint(e);
    cache_release(e);
    free(buf);
    return f;
}

Test(cache_db, a_database_0_entry_costs_what_it_did_another_4_bytes_more)
{
    static const size_t sizes[][2] = {
        {0, 0}, {1, 1}, {5, 100}, {16, 100}, {12, 100}, {10, 4096},
    };
    struct cache *c = make_stale_cache(8, 0, 0);
    size_t head = offsetof(struct cache_entry, data), i;

    cr_assert_eq(head, 52, "the entry header grew");
    /* A 16-byte key and a 100-byte value fit a 176-byte malloc chunk. */
    cr_assert_eq(entry_footprint(c, 0, 16, 100), 176);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t k = sizes[i][0], v = sizes[i][1];

        cr_assert_eq(entry_footprint(c, 0, k, v), alloc_footprint(head + k + v),
                     "db 0, key %zu, value %zu", k, v);
        cr_assert_eq(entry_footprint(c, 1, k, v),
                     alloc_footprint(head + CACHE_DB_BYTES + k + v),
                     "db 1, key %zu, value %zu", k, v);
        cr_assert_eq(entry_footprint(c, 9, k, v), entry_footprint(c, 1, k, v),
                     "every database but 0 costs the same");
    }
    cache_destroy(c);
}

/* ---- accounting ---- */

Test(cache_db, bytes_and_memory_count_entries_of_every_database)
{
    struct cache *c = make_stale_cache(8, 0, 0);
    struct cache_entry *e[4];
    long memory = 0;
    int i;

    e[0] = put_db_held(c, 0, S("k"), S("abc"));
    e[1] = put_db_held(c, 1, S("k"), S("abcd"));
    e[2] = put_db_held(c, 2, S("k2"), S(""));
    e[3] = put_db_held(c, 3, S("k"), S("a"));
    for (i = 0; i < 4; i++) {
        memory += (long)cache_entry_footprint(e[i]);
    }
    /* Key and value bytes, prefixes not included: 4 + 5 + 2 + 2. */
    cr_assert_eq(stats_of(c).bytes, 13);
    cr_assert_eq(stats_of(c).memory, memory);
    put_db(c, 1, S("k"), S("ab")); /* replaced: 2 bytes fewer */
    cr_assert_eq(stats_of(c).bytes, 11);
    cr_assert_eq(cache_remove(c, S("k")), 3);
    cr_assert_eq(stats_of(c).bytes, 2);
    cr_assert_eq(stats_of(c).memory, (long)cache_entry_footprint(e[2]));
    cr_assert_eq(cache_clear(c), 1);
    cr_assert(stats_of(c).bytes == 0 && stats_of(c).memory == 0);
    release_all(e, 4);
    cache_destroy(c);
}

Test(cache_db, lru_and_max_memory_evict_across_databases)
{
    struct cache *c = make_stale_cache(3, 0, 0);
    struct cache_entry *held[5], *got;
    long foot;

    held[0] = put_db_held(c, 1, S("a"), S("v"));
    held[1] = put_db_held(c, 2, S("a"), S("v"));
    held[2] = put_db_held(c, 3, S("a"), S("v"));
    got = cache_get_db(c, 1, S("a")); /* now the most recent */
    cache_release(got);
    held[3] = put_db_held(c, 2, S("b"), S("v")); /* over capacity */
    expect_cached(held, "1011");
    cr_assert_eq(stats_of(c).evictions, 1);
    /* Room for two of these under max_memory: the least recent goes. */
    foot = (long)cache_entry_footprint(held[0]);
    cr_assert_eq(cache_set_limits(c, 8, 2 * foot, 0, 0), 0);
    expect_cached(held, "1001");
    held[4] = put_db_held(c, 4, S("a"), S("v"));
    expect_cached(held, "00011");
    cr_assert_eq(stats_of(c).evictions_memory, 2);
    cr_assert_eq(stats_of(c).memory, 2 * foot);
    release_all(held, 5);
    cache_destroy(c);
}

Test(cache_db, stale_lookups_find_only_their_own_database)
{
    struct cache *c = make_stale_cache(8, 100, 50);
    struct cache_entry *e;

    fake_now = 0;
    put_db(c, 0, S("k"), S("zero"));
    put_db(c, 1, S("k"), S("one"));
    fake_now = 120; /* expired at 100, stale until 150 */
    expect_miss_db(c, 1, S("k"));
    e = cache_get_stale_db(c, 1, S("k"));
    cr_assert_not_null(e);
    expect_entry(e, S("k"), S("one"));
    cr_assert_eq(cache_entry_db(e), 1);
    cache_release(e);
    e = cache_get_stale(c, S("k"));
    cr_assert_not_null(e);
    expect_entry(e, S("k"), S("zero"));
    cache_release(e);
    cr_assert_null(cache_get_stale_db(c, 2, S("k")));
    cache_destroy(c);
}

/* ---- key scopes ---- */

/* A scope of the keys starting with one letter, recording what it was
 * asked about. */
struct letter_scope {
    char letter;
    int asked;
    int asked_prefixed; /* asked about a key that is not one of ours */
};

static int
starts_with(void *arg, const char *key, size_t klen)
{
    struct letter_scope *ls = arg;

    ls->asked++;
    if (!(klen == 2 && (key[0] == 'a' || key[0] == 'b') &&
          (key[1] == '1' || key[1] == '2'))) {
        ls->asked_prefixed++;
    }
    return klen > 0 && key[0] == ls->letter;
}

Test(cache_db, scope_predicates_see_keys_without_the_prefix)
{
    struct cache *c = make_stale_cache(8, 100, 1000);
    struct letter_scope a = {'a', 0, 0}, b = {'b', 0, 0};
    struct key_scope in_a = {starts_with, &a}, in_b = {starts_with, &b};
    struct cache_entry *e;

    fake_now = 0;
    put_db(c, 0, S("a1"), S("x"));
    put_db(c, 1, S("a1"), S("x"));
    put_db(c, 1, S("b1"), S("x"));
    put_db(c, 5, S("a2"), S("x"));
    put_db(c, 6, S("b2"), S("x"));
    cr_assert_eq(cache_expire_if(c, &in_b), 2);
    cr_assert_eq(b.asked, 5);
    expect_miss_db(c, 1, S("b1"));
    e = cache_get_stale_db(c, 6, S("b2")); /* expired, kept for stale */
    cr_assert_not_null(e);
    cache_release(e);
    cr_assert_eq(cache_remove_if(c, &in_a), 3);
    cr_assert_eq(a.asked, 5);
    cr_assert_eq(a.asked_prefixed + b.asked_prefixed, 0,
                 "a predicate was given a key with its database prefix");
    expect_miss_db(c, 0, S("a1"));
    expect_miss_db(c, 1, S("a1"));
    expect_miss_db(c, 5, S("a2"));
    cr_assert_eq(stats_of(c).entries, 2);
    cache_destroy(c);
}

Test(cache_db, a_rehash_keeps_every_database_and_its_chains)
{
    struct cache *c = make_stale_cache(4, 0, 0);
    char key[16];
    int i;

    cr_assert_eq(cache_set_limits(c, 256, 0, 0, 0), 0); /* rehashes */
    for (i = 0; i < 64; i++) {
        put_db(c, i % 4, key, (size_t)snprintf(key, sizeof(key), "k%d", i / 4),
               key, 1);
    }
    cr_assert_eq(cache_set_limits(c, 4096, 0, 0, 0), 0); /* again */
    for (i = 0; i < 64; i++) {
        size_t kn = (size_t)snprintf(key, sizeof(key), "k%d", i / 4);

        expect_hit_db(c, i % 4, key, kn, "k", 1);
    }
    for (i = 0; i < 16; i++) {
        cr_assert_eq(
            cache_remove(c, key, (size_t)snprintf(key, sizeof(key), "k%d", i)),
            4, "k%d", i);
    }
    cr_assert_eq(stats_of(c).entries, 0);
    cache_destroy(c);
}

/* ---- identity partitions (upstream/idents.h: id << 20 | db) ---- */

#define PART(id, db) ((int)((unsigned)(id) << 20 | (unsigned)(db)))

Test(cache_db, partitions_of_identities_are_apart_and_one_remove_takes_all)
{
    struct cache *c = make_stale_cache(16, 0, 0);
    const int parts[] = {
        0, 3, PART(1, 0), PART(1, 3), PART(1023, 0), PART(1023, 1048575)};
    const size_t n = sizeof(parts) / sizeof(parts[0]);
    char val[16];

    for (size_t i = 0; i < n; i++) {
        snprintf(val, sizeof(val), "v%zu", i);
        put_db(c, parts[i], S("k"), val, strlen(val));
        put_db(c, parts[i], S("other"), S("o"));
    }
    for (size_t i = 0; i < n; i++) {
        struct cache_entry *e;

        snprintf(val, sizeof(val), "v%zu", i);
        expect_hit_db(c, parts[i], S("k"), val, strlen(val));
        e = cache_get_db(c, parts[i], S("k"));
        cr_assert_not_null(e);
        cr_assert_eq(cache_entry_db(e), parts[i]);
        cache_release(e);
    }
    expect_miss_db(c, PART(2, 0), S("k"));
    expect_miss_db(c, PART(1, 1), S("k"));
    cr_assert_eq(cache_remove(c, S("k")), (int)n,
                 "an invalidation reaches every partition");
    for (size_t i = 0; i < n; i++) {
        expect_miss_db(c, parts[i], S("k"));
        expect_hit_db(c, parts[i], S("other"), S("o"));
    }
    cache_destroy(c);
}
