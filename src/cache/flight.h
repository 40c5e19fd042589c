/*
 * flight: single-flight cache fills, and the race between a fill and an
 * invalidation.
 *
 * The first request to miss on a key becomes the fill's leader: it asks
 * Redis. Requests that miss on the same key meanwhile become followers and
 * wait for the leader's result instead of asking Redis too, so concurrent
 * misses on one key cost one GET. Every outcome (value, not found, error)
 * reaches every follower, and a follower never waits longer than its own
 * deadline.
 *
 * The race: Redis may report a change to a key (an invalidation) before the
 * reply to a GET that read the old value reaches us. An invalidation that
 * arrives while a fill for that key is in flight marks the fill, and a
 * marked fill's value is answered (to the requests that joined it before)
 * but never stored, and the fill leaves the registry: a request that misses
 * after the invalidation (after a forwarded write's reply) leads a fill of
 * its own rather than wait for a value that may predate the write. Events
 * that lose track of everything (FLUSHALL, a dropped invalidation stream,
 * a lost tracked connection) mark every fill in flight. Checking the mark and
 * storing the entry happen under the registry lock, and so do marking and
 * removing, so no ordering of the two can leave a stale value in the cache.
 *
 * Lock order: the registry mutex, then the cache's locks. The registry lock
 * guards the table, every flight's fields and its reference count; each
 * flight's condition variable waits on it. No I/O happens under it.
 */
#ifndef RP_FLIGHT_H
#define RP_FLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"

#define FLIGHT_ERR_MAX 256

struct flight;
struct flights;

/* Creates the registry for fills into c. Returns NULL on failure. */
struct flights *flights_create(struct cache *c);

/* Frees the registry. No flight may be in progress. NULL is a no-op. */
void flights_destroy(struct flights *fl);

/*
 * Joins the fill for key, starting one if none is in flight. Returns the
 * flight with a reference for the caller; *leader is 1 when the caller
 * started it and must end it with flight_finish(), 0 when it must call
 * flight_wait(). NULL on allocation failure. Thread-safe.
 */
struct flight *flight_join(struct flights *fl, const char *key, size_t klen,
                           int *leader);

/*
 * Leader: publishes the fill's outcome to the followers and drops the
 * leader's reference. status is the caller's code; entry (may be NULL) is
 * the value, which is stored in the cache only when store is 1 and nothing
 * marked the fill; err (may be NULL) is copied for the followers. Returns 1
 * when the entry was stored. Thread-safe.
 */
int flight_finish(struct flights *fl, struct flight *f, int status,
                  struct cache_entry *entry, const char *err, int store);

/*
 * Follower: waits for the leader until deadline_ms (monotonic), then drops
 * the follower's reference. Returns 0 with *status, *entry (a new reference
 * or NULL) and err[0..FLIGHT_ERR_MAX) set from the leader, or -1 when the
 * deadline passed first. Thread-safe.
 */
int flight_wait(struct flights *fl, struct flight *f, int64_t deadline_ms,
                int *status, struct cache_entry **entry, char *err);

/* Redis changed key: removes it from the cache and marks its fill. */
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
};
void flights_stats(struct flights *fl, struct flight_stats *out);

#endif
