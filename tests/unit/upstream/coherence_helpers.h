/*
 * coherence_helpers: what the upstream unit tests that check the cache's
 * coherence share (test_reach.c, test_tracking.c, test_nodes*.c):
 * header-only because each tests/unit/upstream/test_*.c is its own
 * binary.
 *
 * A real cache (a stale window, so an expired entry can be told from a
 * removed one) with its fill registry, as the proxy makes them; entries
 * put by key, and asked whether they are live, expired (kept for
 * stale-if-error only) or gone; fills led by the test, whose end says
 * whether an invalidation or a loss marked them (a marked fill is not
 * stored).
 */
#ifndef RP_TEST_COHERENCE_HELPERS_H
#define RP_TEST_COHERENCE_HELPERS_H

#include <criterion/criterion.h>
#include <string.h>

#include "base/util.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "unit_helpers.h"

struct coherence {
    struct cache *cache;
    struct flights *flights;
};

static struct coherence coh;

static inline void
coh_init(void)
{
    coh.cache = cache_create(4096, 600000, 600000, NULL);
    cr_assert_not_null(coh.cache);
    coh.flights = flights_create(coh.cache);
    cr_assert_not_null(coh.flights);
}

static inline void
coh_fini(void)
{
    flights_destroy(coh.flights);
    cache_destroy(coh.cache);
}

/* Stores key = "v" in database db. */
static inline void
coh_put_db(int db, const char *key)
{
    struct cache_entry *e =
        cache_entry_create_db(coh.cache, db, key, strlen(key), "v", 1);

    cr_assert_not_null(e);
    cr_assert_eq(cache_put(coh.cache, e), 1);
    cache_release(e);
}

static inline void
coh_put(const char *key)
{
    coh_put_db(0, key);
}

enum coh_state {
    COH_GONE = 0,    /* not in the cache */
    COH_EXPIRED = 1, /* kept for stale-if-error only */
    COH_LIVE = 2,    /* served */
};

/* What the cache holds for key in database db (looking does not change
 * it: a stale lookup first, which leaves an expired entry in place). */
static inline enum coh_state
coh_state_db(int db, const char *key)
{
    struct cache_entry *e = cache_get_stale_db(coh.cache, db, key, strlen(key));

    if (e == NULL) {
        return COH_GONE;
    }
    cache_release(e);
    e = cache_get_db(coh.cache, db, key, strlen(key));
    cache_release(e);
    return e != NULL ? COH_LIVE : COH_EXPIRED;
}

static inline enum coh_state
coh_state(const char *key)
{
    return coh_state_db(0, key);
}

/* Waits (bounded by ms) until key is in state st; returns whether it got
 * there. */
static inline int
coh_await(const char *key, enum coh_state st, int64_t ms)
{
    int64_t until = util_now_ms() + ms;

    while (coh_state(key) != st && util_now_ms() < until) {
        sleep_ms(5);
    }
    return coh_state(key) == st;
}

/* A fill the test leads: its one waiter is told the outcome. */
struct coh_fill {
    struct flight_waiter w; /* first: done() casts back */
    struct flight *f;
    const char *key;
    int told;
};

static inline void
coh_fill_done(struct flight_waiter *w, int status, struct cache_entry *e,
              const char *err)
{
    (void)status;
    (void)e;
    (void)err;
    ((struct coh_fill *)w)->told++;
}

/* Starts the fill of key in database 0; the test is its leader. */
static inline void
coh_fill_start(struct coh_fill *fi, const char *key)
{
    int leader = 0;

    memset(fi, 0, sizeof(*fi));
    fi->w.done = coh_fill_done;
    fi->key = key;
    fi->f = flight_join(coh.flights, 0, key, strlen(key), &fi->w, &leader);
    cr_assert_not_null(fi->f);
    cr_assert_eq(leader, 1, "a fill of %s was in flight already", key);
}

/* Ends the fill with the value "new"; returns 1 when it was stored (no
 * invalidation or loss marked it meanwhile). */
static inline int
coh_fill_end(struct coh_fill *fi)
{
    struct cache_entry *e =
        cache_entry_create_db(coh.cache, 0, fi->key, strlen(fi->key), "new", 3);
    int stored;

    cr_assert_not_null(e);
    stored = flight_finish(coh.flights, fi->f, 0, e, NULL, 1);
    cache_release(e);
    cr_assert_eq(fi->told, 1);
    return stored;
}

#endif
