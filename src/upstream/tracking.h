/*
 * tracking: keeps the cache coherent with Redis through client-side caching
 * (CLIENT TRACKING in redirect mode: the stream itself speaks RESP2, read
 * with rconn's blocking calls; pipes of either protocol redirect to it).
 *
 * One thread owns one extra connection to Redis: it learns its CLIENT ID,
 * SUBSCRIBEs to __redis__:invalidate and then reads invalidation messages,
 * removing the keys they name from the cache (a null payload, sent for
 * FLUSHALL/FLUSHDB, empties it). Every pipeline registers with CLIENT
 * TRACKING ON REDIRECT <that id> (an inner request, pipe.c: prepare)
 * before the fills it carries, so Redis reports a change to any key the
 * proxy has read.
 *
 * Losing invalidations is the danger, so the thread PINGs its connection
 * every second and treats a PING unanswered for three seconds, like any
 * error, as a drop. On a drop the state becomes DOWN first (fills stop being
 * cached), then every entry is expired and every fill in flight marked
 * (flights_lost), then the thread reconnects with backoff and re-registers.
 * A data connection that had registered and is lost does the same
 * flights_lost (Redis forgets what a closed client read).
 *
 * Against a Redis without CLIENT TRACKING (before 6.0) the state becomes OFF
 * and the cache runs on the TTL alone; this is logged once.
 *
 * Threads: the tracking thread, and any worker asking tracking_state().
 * `lock` guards state, id, gen and reason.
 */
#ifndef RP_TRACKING_H
#define RP_TRACKING_H

#include <stdint.h>

#include "base/config.h"
#include "cache/flight.h"
#include "upstream/redis.h"

enum tracking_state {
    TRACKING_OFF = 0,  /* not used (config off, or Redis lacks it): cache by
                          TTL alone */
    TRACKING_DOWN = 1, /* wanted but not established: cache nothing */
    TRACKING_UP = 2,   /* established: cache, registering connections */
};

struct tracking;

/* Creates the tracker of the Redis at target (state OFF when
 * cache.tracking is off, else DOWN until the stream is up). What a lost
 * stream, a lost tracked connection or a FLUSHALL there takes out of the
 * cache is the keys in scope (NULL: every key; in a cluster, the slots
 * that node owns). cfg, target, fl and scope must outlive it. Returns NULL
 * on failure. */
struct tracking *tracking_create(const struct config_ref *cfg,
                                 const struct redis_target *target,
                                 struct flights *fl,
                                 const struct key_scope *scope);

/* Starts the thread when cfg->cache_tracking is on. Returns 0 or -1. */
int tracking_start(struct tracking *t);

/* Stops and joins the thread, closes the connection. NULL is a no-op. */
void tracking_destroy(struct tracking *t);

/* Waits until the stream's first attempt has ended (established, failed,
 * or found unsupported), at most timeout_ms. Thread-safe. */
void tracking_wait_first(struct tracking *t, int64_t timeout_ms);

/* The current state; when UP, *id is the connection to redirect to and
 * *gen changes every time the stream is re-established. Thread-safe. */
enum tracking_state tracking_state(struct tracking *t, long long *id,
                                   uint64_t *gen);

/* A data connection that had registered for tracking was lost: what it
 * read is no longer tracked. Thread-safe. */
void tracking_conn_lost(struct tracking *t);

/* Counters and the last drop's reason (for logs and readiness). */
struct tracking_stats {
    enum tracking_state state;
    long drops;       /* established streams lost */
    long messages;    /* invalidation messages received */
    char reason[128]; /* why the state is DOWN, or "" */
};
void tracking_stats(struct tracking *t, struct tracking_stats *out);

#endif
