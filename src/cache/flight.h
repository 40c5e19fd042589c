/*
 * flight: single-flight cache fills, and the race between a fill and an
 * invalidation.
 *
 * The first request to miss on a key (in a database) becomes the fill's
 * leader: it asks Redis. Requests that miss on the same key meanwhile join
 * the fill instead of asking Redis too, so concurrent misses on one key
 * cost one GET. Nobody waits: every request that joined (the leader
 * included) is a flight_waiter, and flight_finish hands the outcome
 * (value, not found, error) to each of them, on the thread that finished
 * the fill. A request that stops caring (its client timed out or left)
 * stays a waiter; its done() simply finds nobody to answer.
 *
 * The race: Redis may report a change to a key (an invalidation) before the
 * reply to a GET that read the old value reaches us. An invalidation that
 * arrives while a fill for that key is in flight marks the fill, and a
 * marked fill's value is answered (to the requests that joined it before)
 * but never stored, and the fill leaves the registry: a request that misses
 * after the invalidation (after a forwarded write's reply) leads a fill of
 * its own rather than join one that may predate the write. Events
 * that lose track of everything (FLUSHALL, a dropped invalidation stream,
 * a lost tracked connection) mark every fill in flight. Checking the mark and
 * storing the entry happen under the registry lock, and so do marking and
 * removing, so no ordering of the two can leave a stale value in the cache.
 * Invalidations name keys without a database (Redis tracks key names), so
 * they mark the key's fills in every database and remove it from every
 * database of the cache.
 *
 * Lock order: the registry mutex, then the cache's locks. The registry lock
 * guards the table and every flight's fields; waiters' done() run after it
 * is released. No I/O happens under it.
 */
#ifndef RP_FLIGHT_H
#define RP_FLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"

#define FLIGHT_ERR_MAX 256

struct flight;
struct flights;

/* One request that joined a fill; embedded in the caller's request
 * record. */
struct flight_waiter {
    struct flight_waiter *next; /* the flight's list; registry lock */
    /* The fill's outcome: status is the leader's code, entry the value
     * (or NULL: borrowed for the call; take a reference with
     * cache_retain to keep it), err its text ("" when none). Called once,
     * by flight_finish's caller, with no lock held. */
    void (*done)(struct flight_waiter *w, int status, struct cache_entry *e,
                 const char *err);
};

/* Creates the registry for fills into c. Returns NULL on failure. */
struct flights *flights_create(struct cache *c);

/* Frees the registry. No flight may be in progress. NULL is a no-op. */
void flights_destroy(struct flights *fl);

/*
 * Joins w to the fill of key in database db, starting one if none is in
 * flight. Returns the flight (valid until flight_finish); *leader is 1
 * when the caller started it and must ask Redis and end it with
 * flight_finish(), 0 when w is only told the outcome. NULL (w not joined)
 * when out of memory. Thread-safe.
 */
struct flight *flight_join(struct flights *fl, int db, const char *key,
                           size_t klen, struct flight_waiter *w, int *leader);

/*
 * Leader: ends the fill. status is the caller's code; entry (may be NULL)
 * the value, stored in the cache when store is 1 and nothing marked the
 * fill; err (may be NULL) its error text. Then hands the outcome to every
 * waiter (the leader's own included), with no lock held, and frees the
 * flight. Returns 1 when the entry was stored. The caller keeps its own
 * reference to entry. Thread-safe.
 */
int flight_finish(struct flights *fl, struct flight *f, int status,
                  struct cache_entry *entry, const char *err, int store);

/* Redis changed key: removes it from the cache (every database) and marks
 * its fills. */
void flights_invalidate(struct flights *fl, const char *key, size_t klen);

/* Redis dropped everything (FLUSHALL/FLUSHDB): empties the cache and marks
 * every fill. */
void flights_invalidate_all(struct flights *fl);

/* Invalidations may have been lost: expires every entry now (kept for
 * stale-if-error only) and marks every fill. */
void flights_lost(struct flights *fl);

/* The same two for the keys in scope only (one cluster node's share):
 * NULL scope is every key. */
void flights_invalidate_in(struct flights *fl, const struct key_scope *scope);
void flights_lost_in(struct flights *fl, const struct key_scope *scope);

/* Counters: fills started, requests that joined one, fills not stored
 * because an invalidation marked them. */
struct flight_stats {
    long fills;
    long coalesced;
    long discarded;
    long invalidations; /* keys removed by invalidation */
    long flushes;       /* invalidate_all + lost */
    long in_flight;     /* fills in flight now */
};
void flights_stats(struct flights *fl, struct flight_stats *out);

#endif
