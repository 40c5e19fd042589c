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
 * Whether the server can be reached, and the backoff after a failed
 * connect, is reach.h's, which every pipeline of the pool reports to.
 *
 * Threads: pipelines are made once (an atomic pointer each) and live
 * until the pool is destroyed.
 */
#ifndef RP_UPSTREAM_H
#define RP_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "upstream/reach.h"
#include "upstream/status.h"
#include "upstream/redis.h"
#include "upstream/tracking.h"

struct pipe;
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

/* 1 once Redis refused CLIENT TRACKING to the target's user (its ACL):
 * nothing read on these pipelines is ever cached. Lock-free. */
int upstream_untracked(const struct upstream *u);

/* For the waiter's tick: every pipeline's (pipe_tick). */
void upstream_tick(struct upstream *u);

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
