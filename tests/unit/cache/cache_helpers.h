/*
 * cache_helpers: helpers shared by the cache and flight unit tests
 * (test_cache*.c, and test_flight*.c through flight_helpers.h),
 * header-only because each tests/unit/test_*.c is its own binary. A fake
 * clock (set fake_now), cache creation that asserts success, entries
 * stored with or without keeping the creator's reference, reference-count
 * checks, and exact-bytes hit and miss assertions.
 */
#ifndef RP_TEST_CACHE_HELPERS_H
#define RP_TEST_CACHE_HELPERS_H

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "cache/cache.h"

/* The time the caches' clock returns; tests move it by hand. */
static int64_t fake_now;

static inline int64_t
fake_clock(void)
{
    return fake_now;
}

#define S(s) s, sizeof(s) - 1

static inline struct cache *
make_stale_cache(long capacity, int64_t ttl_ms, int64_t stale_ms)
{
    struct cache *c = cache_create(capacity, ttl_ms, stale_ms, fake_clock);

    cr_assert_not_null(c, "cache_create(%ld, %lld, %lld)", capacity,
                       (long long)ttl_ms, (long long)stale_ms);
    return c;
}

/* Creates an entry and stores it; the caller keeps the creator's reference. */
static inline struct cache_entry *
put_held(struct cache *c, const char *key, size_t klen, const char *val,
         size_t vlen)
{
    struct cache_entry *e = cache_entry_create(c, key, klen, val, vlen);

    cr_assert_not_null(e);
    cache_put(c, e);
    return e;
}

/* Creates an entry, stores it and drops the creator's reference. */
static inline void
put(struct cache *c, const char *key, size_t klen, const char *val, size_t vlen)
{
    cache_release(put_held(c, key, klen, val, vlen));
}

static inline unsigned
refs(struct cache_entry *e)
{
    return atomic_load(&e->refs);
}

/* Asserts which of the held entries the cache still holds: in[i] is '1'
 * when held[i] is cached (refs 2: cache + test), '0' when dropped. */
static inline void
expect_cached(struct cache_entry **held, const char *in)
{
    size_t i;

    for (i = 0; in[i] != '\0'; i++) {
        unsigned want = in[i] == '1' ? 2 : 1;
        cr_assert_eq(refs(held[i]), want, "entry %zu: refs %u, want %u (%s)", i,
                     refs(held[i]), want, in);
    }
}

static inline void
release_all(struct cache_entry **held, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        cache_release(held[i]);
    }
}

static inline void
expect_entry(const struct cache_entry *e, const char *key, size_t klen,
             const char *val, size_t vlen)
{
    cr_assert_not_null(e);
    cr_assert_eq(cache_entry_klen(e), klen, "klen %zu, want %zu",
                 cache_entry_klen(e), klen);
    cr_assert_eq(memcmp(cache_entry_key(e), key, klen), 0, "key bytes");
    cr_assert_eq(e->vlen, vlen, "vlen %zu, want %zu", (size_t)e->vlen, vlen);
    cr_assert_eq(memcmp(cache_entry_value(e), val, vlen), 0, "value bytes");
}

static inline void
expect_hit(struct cache *cache, const char *key, size_t klen, const char *val,
           size_t vlen)
{
    struct cache_entry *e = cache_get(cache, key, klen);

    cr_assert_not_null(e, "miss for '%.*s' at %lld", (int)klen, key,
                       (long long)fake_now);
    expect_entry(e, key, klen, val, vlen);
    cache_release(e);
}

static inline void
expect_miss(struct cache *cache, const char *key, size_t klen)
{
    struct cache_entry *e = cache_get(cache, key, klen);

    cache_release(e); /* NULL: nothing; else the assertion fails next */
    cr_assert_null(e, "hit for '%.*s' at %lld", (int)klen, key,
                   (long long)fake_now);
}

/* The same for key in database db. */
static inline void
expect_hit_db(struct cache *cache, int db, const char *key, size_t klen,
              const char *val, size_t vlen)
{
    struct cache_entry *e = cache_get_db(cache, db, key, klen);

    cr_assert_not_null(e, "miss for '%.*s' in db %d at %lld", (int)klen, key,
                       db, (long long)fake_now);
    expect_entry(e, key, klen, val, vlen);
    cr_assert_eq(cache_entry_db(e), db);
    cache_release(e);
}

static inline void
expect_miss_db(struct cache *cache, int db, const char *key, size_t klen)
{
    struct cache_entry *e = cache_get_db(cache, db, key, klen);

    cache_release(e);
    cr_assert_null(e, "hit for '%.*s' in db %d at %lld", (int)klen, key, db,
                   (long long)fake_now);
}

#endif
