/*
 * upstream: the pool of hiredis connections to the one backing Redis.
 *
 * pool_size slots, each holding at most one redisContext that exactly one
 * thread uses at a time (borrowed inside upstream_get, never across calls).
 * A context that failed (I/O error, EOF, protocol error) is freed, never
 * reused; its slot reconnects on next use. Connecting sets connect_timeout,
 * then redisSetTimeout(command_timeout), then AUTH and SELECT when
 * configured; before its next GET a connection registers for invalidations
 * (CLIENT TRACKING ON REDIRECT, see tracking.h) whenever the tracking stream
 * is new to it.
 *
 * Timeouts do not kill connections: replies are awaited with poll() up to
 * the request's deadline, and a reply that comes late stays owed on the
 * connection (`pending`) and is read and discarded by the slot's next user
 * before it sends anything. So a stalled Redis neither hands one request's
 * late reply to another nor costs the connection its tracking state.
 *
 * When a connect fails the pool is marked down with an exponential backoff
 * (100 ms doubling to 2 s): until it ends, requests fail at once with the
 * last cause, and then exactly one request probes. So a dead Redis costs
 * each request at most one connect_timeout and never a retry storm, and the
 * pool recovers by itself when Redis returns.
 *
 * Threads: one mutex guards the free-slot stack and the down state; a
 * condition variable wakes threads waiting for a free slot. No Redis I/O
 * happens under the mutex.
 */
#ifndef RP_UPSTREAM_H
#define RP_UPSTREAM_H

#include <stddef.h>

#include "base/config.h"
#include "upstream/redis.h"
#include "upstream/tracking.h"

struct redisContext;

enum upstream_status {
    UPSTREAM_OK = 0,        /* *value set: a string reply */
    UPSTREAM_NIL = 1,       /* the key does not exist */
    UPSTREAM_EREPLY = -1,   /* Redis answered an error (err holds its text,
                               e.g. "WRONGTYPE Operation against ...") */
    UPSTREAM_EDOWN = -2,    /* cannot connect, or the connection failed */
    UPSTREAM_ETIMEOUT = -3, /* no reply within command_timeout */
};

#define UPSTREAM_ERR_MAX REDIS_ERR_MAX

/* A value fetched from Redis. Free with upstream_value_free(). */
struct upstream_value {
    const char *data;
    size_t len;
    void *reply; /* the hiredis reply that owns data */
};

struct upstream;

/* Creates the pool (no connection is made yet). cfg and t must outlive it.
 * Returns NULL on allocation failure. */
struct upstream *upstream_create(const struct config *cfg, struct tracking *t);

/* Frees every context. NULL is a no-op. No concurrent use. */
void upstream_destroy(struct upstream *u);

/*
 * GET key from Redis on a pooled connection, all within command_timeout
 * (waiting for a free connection included). A failure on a reused context
 * (Redis restarted meanwhile) is retried once on a fresh one. Returns an
 * enum upstream_status; on UPSTREAM_OK *out owns the value; on errors
 * err[0..UPSTREAM_ERR_MAX) says why. *cacheable is 1 when the value may be
 * cached: tracking is off, or the GET ran on a connection registered with
 * the current invalidation stream. Thread-safe.
 */
int upstream_get(struct upstream *u, const char *key, size_t klen,
                 struct upstream_value *out, char *err, int *cacheable);

/* PINGs Redis on a pooled connection within command_timeout. Returns 0,
 * or an enum upstream_status error with err set. Thread-safe. */
int upstream_ping(struct upstream *u, char *err);

/*
 * Looks at every idle pooled connection without blocking and drops those
 * Redis has closed (EOF) or that hold unexpected bytes, so a lost tracked
 * connection is noticed (and the cache expired) within a tick, not at its
 * next use. The keeper thread (keeper.h) calls it. Thread-safe.
 */
void upstream_check_idle(struct upstream *u);

/* Frees a value from upstream_get. NULL data is a no-op. */
void upstream_value_free(struct upstream_value *v);

/* Counters since creation. */
struct upstream_stats {
    int size;        /* pool_size */
    int in_use;      /* slots borrowed now */
    int connected;   /* slots holding a live context */
    long errors;     /* failed commands and connects */
    long reconnects; /* successful connects after the first per slot */
    int down;        /* connects are failing (in backoff) */
};
void upstream_stats(struct upstream *u, struct upstream_stats *out);

#endif
