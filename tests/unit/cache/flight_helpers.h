/*
 * flight_helpers: the fixture and assertions shared by the flight unit
 * tests (test_flight.c, test_flight_race.c, test_flight_overtaken.c),
 * header-only because each test file is its own binary: a cache on the
 * fake clock of cache_helpers.h with its registry, joins that assert the
 * caller's role, fills, and counter checks; the clock, reference counts
 * and exact-bytes hit and miss checks are cache_helpers.h's.
 */
#ifndef RP_TEST_FLIGHT_HELPERS_H
#define RP_TEST_FLIGHT_HELPERS_H

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "cache_helpers.h"

/* Far enough that a correct follower is always woken before it passes. */
#define LONG_WAIT_MS 10000

static struct cache *c;
static struct flights *fl;

/* The cache (ttl 0: entries never expire on their own) and its registry,
 * the clock at 1000. */
static inline void
setup(long capacity, int64_t stale_ms)
{
    fake_now = 1000;
    c = cache_create(capacity, 0, stale_ms, fake_clock);
    cr_assert_not_null(c);
    fl = flights_create(c);
    cr_assert_not_null(fl);
}

static inline void
teardown(void)
{
    flights_destroy(fl);
    cache_destroy(c);
}

/* Joins key and asserts the caller's role (1 leader, 0 follower). */
static inline struct flight *
join(const char *key, size_t klen, int want_leader)
{
    int leader = -1;
    struct flight *f = flight_join(fl, key, klen, &leader);

    cr_assert_not_null(f, "join '%.*s'", (int)klen, key);
    cr_assert_eq(leader, want_leader, "join '%.*s': leader %d, want %d",
                 (int)klen, key, leader, want_leader);
    return f;
}

static inline struct cache_entry *
make_entry(const char *key, size_t klen, const char *val, size_t vlen)
{
    struct cache_entry *e = cache_entry_create(c, key, klen, val, vlen);

    cr_assert_not_null(e);
    return e;
}

/* Leader: finishes f with status 0 and a new entry for key, keeping no
 * reference to it. Returns flight_finish()'s result. */
static inline int
finish_value(struct flight *f, const char *key, size_t klen, const char *val,
             size_t vlen, int store)
{
    struct cache_entry *e = make_entry(key, klen, val, vlen);
    int stored = flight_finish(fl, f, 0, e, NULL, store);

    cache_release(e);
    return stored;
}

/* A whole fill of key with val, led by the caller, meant to be stored. */
static inline int
fill(const char *key, size_t klen, const char *val, size_t vlen)
{
    return finish_value(join(key, klen, 1), key, klen, val, vlen, 1);
}

static inline void
expect_entries(long entries)
{
    struct cache_stats st;

    cache_stats(c, &st);
    cr_assert_eq(st.entries, entries, "cache holds %ld entries, want %ld",
                 st.entries, entries);
}

static inline void
expect_flight_stats(long fills, long coalesced, long discarded,
                    long invalidations, long flushes)
{
    struct flight_stats st;

    flights_stats(fl, &st);
    cr_assert(st.fills == fills && st.coalesced == coalesced &&
                  st.discarded == discarded &&
                  st.invalidations == invalidations && st.flushes == flushes,
              "fills/coalesced/discarded/invalidations/flushes are "
              "%ld/%ld/%ld/%ld/%ld, want %ld/%ld/%ld/%ld/%ld",
              st.fills, st.coalesced, st.discarded, st.invalidations,
              st.flushes, fills, coalesced, discarded, invalidations, flushes);
}

/* A follower's outcome. */
struct outcome {
    int rc, status;
    struct cache_entry *entry; /* a reference the test must release */
    char err[FLIGHT_ERR_MAX];
};

static inline void
wait_now(struct flight *f, int64_t deadline_ms, struct outcome *o)
{
    o->entry = NULL;
    o->rc = flight_wait(fl, f, deadline_ms, &o->status, &o->entry, o->err);
}

#endif
