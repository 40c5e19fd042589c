/*
 * upstream: the connections to one Redis server (the backing Redis, or
 * one master of a cluster): pool_size shared pipelines (pipe.h) for each
 * protocol a client speaks (RESP2 and RESP3; the RESP3 ones made when a
 * RESP3 client first needs one), and the state they share: the server's
 * address and credentials, its invalidation stream (tracking.h), and
 * whether it can be reached.
 *
 * Each client conn uses one pipeline of the pool for its whole life (its
 * token, e.g. its slot, picks it), so one client's commands reach Redis
 * in the order it sent them, while many clients share each pipeline.
 *
 * When a connect fails the pool is marked down with an exponential
 * backoff (base/backoff.h): until it ends, requests fail at once with the
 * last cause, and then exactly one pipeline probes. So a dead Redis costs
 * each request at most one connect_timeout and never a retry storm, and
 * the pool recovers by itself when Redis returns.
 *
 * Threads: pipelines are made once (an atomic pointer each) and live
 * until the pool is destroyed; one mutex guards the down state and the
 * counters, taken by pipes around connects only. No I/O under it.
 */
#ifndef RP_UPSTREAM_H
#define RP_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "upstream/pipe.h"
#include "upstream/redis.h"
#include "upstream/tracking.h"

enum upstream_status {
    UPSTREAM_OK = 0,        /* every reply came */
    UPSTREAM_NIL = 1,       /* (a fill) the key does not exist */
    UPSTREAM_EREPLY = -1,   /* Redis answered an error */
    UPSTREAM_EDOWN = -2,    /* cannot connect, or the connection failed */
    UPSTREAM_ETIMEOUT = -3, /* no reply in time */
    UPSTREAM_ENOMEM = -4,   /* out of memory */
};

#define UPSTREAM_ERR_MAX REDIS_ERR_MAX

struct upstream;
struct waiter;

/* Creates the pool for target (no connection yet; cfg's pool_size is read
 * now). cfg, target, t and w must outlive it. Returns NULL when out of
 * memory. */
struct upstream *upstream_create(const struct config_ref *cfg,
                                 const struct redis_target *target,
                                 struct tracking *t, struct waiter *w);

/* Fails what the pipelines hold, closes them and frees the pool. After
 * every worker has stopped. NULL is a no-op. */
void upstream_destroy(struct upstream *u);

/* The pipeline for protocol proto (2 or 3) that the client with token
 * uses. NULL only when out of memory. Thread-safe. */
struct pipe *upstream_pipe(struct upstream *u, int proto, uint64_t token);

/* For the waiter's tick: every pipeline's (pipe_tick). */
void upstream_tick(struct upstream *u);

/* ---- for the pipelines (pipe.c) ---- */

/* 0 when a pipeline may connect now (healthy, or this one probes after
 * the backoff), else -1 with the reason Redis was last unreachable in
 * err[0..UPSTREAM_ERR_MAX). */
int upstream_may_connect(struct upstream *u, char *err);

/* 1 while connects fail (in backoff, err set to why), else 0. */
int upstream_is_down(struct upstream *u, char *err);

/* A pipeline's connect failed (why) / succeeded (first: the first time
 * for that pipeline). */
void upstream_connect_failed(struct upstream *u, const char *why);
void upstream_connected(struct upstream *u, int first);

/* An open connection was lost (why): what it read after registering with
 * the invalidation stream (was_tracked) is no longer tracked. */
void upstream_conn_lost(struct upstream *u, int was_tracked, const char *why);

const struct redis_target *upstream_target(const struct upstream *u);
struct tracking *upstream_tracking(const struct upstream *u);
int64_t upstream_connect_timeout(const struct upstream *u);

/* Counters since creation. */
struct upstream_stats {
    int size;        /* pool_size */
    int in_use;      /* pipelines with requests queued or in flight */
    int connected;   /* pipelines holding an open connection */
    long inflight;   /* requests queued or in flight now */
    long commands;   /* requests answered */
    long writes;     /* gathered writes */
    long errors;     /* failed connects and lost connections */
    long reconnects; /* successful connects after a pipeline's first */
    long epoch;      /* connects that ended a down period: Redis may have
                        restarted, with other commands */
    int down;        /* connects are failing (in backoff) */
};
void upstream_stats(struct upstream *u, struct upstream_stats *out);

#endif
