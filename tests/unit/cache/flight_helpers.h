/*
 * flight_helpers: the fixture and assertions shared by the flight unit
 * tests (test_flight.c, test_flight_race.c, test_flight_overtaken.c),
 * header-only because each test file is its own binary: a cache on the
 * fake clock of cache_helpers.h with its registry, waiters that record
 * what they are told, joins that assert the caller's role, fills, and
 * counter checks; the clock, reference counts and exact-bytes hit and
 * miss checks are cache_helpers.h's.
 */
#ifndef RP_TEST_FLIGHT_HELPERS_H
#define RP_TEST_FLIGHT_HELPERS_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "cache_helpers.h"

/* What a done() records of the error text, whole up to this. */
#define WAITER_ERR_MAX 1024

/* A request in a fill as the tests play it: done() records what it was
 * told, on which thread and in what order, then runs then() if set. */
struct waiter {
    struct flight_waiter w;    /* first: done() casts back */
    int keep;                  /* 1: done() takes a reference on the entry */
    atomic_int calls;          /* done() calls: 1 once the fill ended */
    int status;                /* as told */
    struct cache_entry *entry; /* as told: a reference when keep (dropped
                                  by forget()), else only the address */
    char err[WAITER_ERR_MAX];  /* as told, cut to fit */
    size_t errlen;             /* the whole told text's length */
    long order;                /* its place among every done() call */
    pthread_t thread;          /* the thread that called done() */
    void (*then)(struct waiter *w); /* run at the end of done(), or NULL */
    void *arg;                      /* then()'s */
};

static struct cache *c;
static struct flights *fl;
static atomic_long told;      /* done() calls so far */
static struct waiter *spares; /* join()'s waiters, not kept */
static size_t spares_used;
#define SPARES 512

static inline void
waiter_done(struct flight_waiter *fw, int status, struct cache_entry *e,
            const char *err)
{
    struct waiter *w = (struct waiter *)fw;

    w->status = status;
    w->entry = e;
    if (w->keep && e != NULL) {
        cache_retain(e);
    }
    w->errlen = strlen(err);
    snprintf(w->err, sizeof(w->err), "%s", err);
    w->order = atomic_fetch_add(&told, 1) + 1;
    w->thread = pthread_self();
    atomic_fetch_add(&w->calls, 1);
    if (w->then != NULL) {
        w->then(w);
    }
}

/* A waiter that keeps a reference on what it is told. */
static inline void
waiter_init(struct waiter *w)
{
    memset(w, 0, sizeof(*w));
    w->w.done = waiter_done;
    w->keep = 1;
}

/* Drops the reference a kept waiter holds. */
static inline void
forget(struct waiter *w)
{
    if (w->keep) {
        cache_release(w->entry);
    }
    w->entry = NULL;
}

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
    spares = calloc(SPARES, sizeof(*spares));
    cr_assert_not_null(spares);
    spares_used = 0;
    atomic_store(&told, 0);
}

static inline void
teardown(void)
{
    flights_destroy(fl);
    cache_destroy(c);
    free(spares);
}

/* Joins w to the fill of key in db and asserts the caller's role (1
 * leader, 0 follower). */
static inline struct flight *
join_db_w(int db, const char *key, size_t klen, struct waiter *w,
          int want_leader)
{
    int leader = -1;
    struct flight *f = flight_join(fl, db, key, klen, &w->w, &leader);

    cr_assert_not_null(f, "join '%.*s' in db %d", (int)klen, key, db);
    cr_assert_eq(leader, want_leader,
                 "join '%.*s' in db %d: leader %d, want %d", (int)klen, key, db,
                 leader, want_leader);
    return f;
}

static inline struct flight *
join_w(const char *key, size_t klen, struct waiter *w, int want_leader)
{
    return join_db_w(0, key, klen, w, want_leader);
}

/* The same with a waiter of the fixture's whose outcome the test does not
 * look at (a leader's own, typically). */
static inline struct flight *
join_db(int db, const char *key, size_t klen, int want_leader)
{
    struct waiter *w;

    cr_assert_lt(spares_used, SPARES, "out of spare waiters");
    w = &spares[spares_used++];
    waiter_init(w);
    w->keep = 0;
    return join_db_w(db, key, klen, w, want_leader);
}

static inline struct flight *
join(const char *key, size_t klen, int want_leader)
{
    return join_db(0, key, klen, want_leader);
}

/* Every spare waiter joined so far was told exactly once. */
static inline void
expect_spares_told(void)
{
    size_t i;

    for (i = 0; i < spares_used; i++) {
        cr_assert_eq(atomic_load(&spares[i].calls), 1,
                     "spare waiter %zu: %d done() calls", i,
                     atomic_load(&spares[i].calls));
    }
}

/* w was told once: status, the entry itself (NULL for none) and err
 * ("" for none). */
static inline void
expect_told(struct waiter *w, int status, const struct cache_entry *e,
            const char *err)
{
    cr_assert_eq(atomic_load(&w->calls), 1, "done() called %d times",
                 atomic_load(&w->calls));
    cr_assert_eq(w->status, status, "status %d, want %d", w->status, status);
    cr_assert_eq(w->entry, e, "told entry %p, want %p", (void *)w->entry,
                 (const void *)e);
    cr_assert_str_eq(w->err, err);
}

static inline void
expect_untold(struct waiter *w)
{
    cr_assert_eq(atomic_load(&w->calls), 0, "told before its fill ended");
}

static inline struct cache_entry *
make_entry_db(int db, const char *key, size_t klen, const char *val,
              size_t vlen)
{
    struct cache_entry *e = cache_entry_create_db(c, db, key, klen, val, vlen);

    cr_assert_not_null(e);
    return e;
}

static inline struct cache_entry *
make_entry(const char *key, size_t klen, const char *val, size_t vlen)
{
    return make_entry_db(0, key, klen, val, vlen);
}

/* Leader: finishes f with status 0 and a new entry for key in db, keeping
 * no reference to it. Returns flight_finish()'s result. */
static inline int
finish_value_db(struct flight *f, int db, const char *key, size_t klen,
                const char *val, size_t vlen, int store)
{
    struct cache_entry *e = make_entry_db(db, key, klen, val, vlen);
    int stored = flight_finish(fl, f, 0, e, NULL, store);

    cache_release(e);
    return stored;
}

static inline int
finish_value(struct flight *f, const char *key, size_t klen, const char *val,
             size_t vlen, int store)
{
    return finish_value_db(f, 0, key, klen, val, vlen, store);
}

/* A whole fill of key in db with val, led by the caller, meant to be
 * stored. */
static inline int
fill_db(int db, const char *key, size_t klen, const char *val, size_t vlen)
{
    return finish_value_db(join_db(db, key, klen, 1), db, key, klen, val, vlen,
                           1);
}

static inline int
fill(const char *key, size_t klen, const char *val, size_t vlen)
{
    return fill_db(0, key, klen, val, vlen);
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

/* Fills in flight now, as the registry counts them. */
static inline void
expect_in_flight(long n)
{
    struct flight_stats st;

    flights_stats(fl, &st);
    cr_assert_eq(st.in_flight, n, "%ld fills in flight, want %ld", st.in_flight,
                 n);
}

#endif
