/*
 * reach: whether one Redis server can be reached, as the connections to
 * it find out, and what they share about it: its address and credentials
 * (the target), its invalidation stream, and the settings. The pool's
 * pipelines (pipe.h) report every connect and every loss here.
 *
 * When a connect fails the server is marked down with an exponential
 * backoff (base/backoff.h): until it ends, requests fail at once with the
 * last cause, and then exactly one connect probes. So a dead Redis costs
 * each request at most one connect_timeout and never a retry storm, and
 * the pool recovers by itself when Redis returns.
 *
 * Thread-safe: one mutex guards the down state and the counters, taken
 * around connects only; no I/O under it.
 */
#ifndef RP_REACH_H
#define RP_REACH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/config.h"
#include "upstream/redis.h"

struct tracking;

struct reach {
    const struct config_ref *cfg;
    const struct redis_target *target;
    struct tracking *tracking;
    pthread_mutex_t lock;
    int64_t down_until;              /* while in the future, fail fast; lock */
    int64_t backoff_ms;              /* next backoff; 0 = healthy; lock */
    int probing;                     /* one connect is probing; lock */
    char down_reason[REDIS_ERR_MAX]; /* lock */
    long errors, reconnects, epoch;  /* lock */
    atomic_int untracked; /* Redis refused CLIENT TRACKING to the target's
                             user (-NOPERM): nothing read is cached */
};

/* Sets rs up healthy for target (its stream t); cfg, target and t must
 * outlive it. Returns 0 or -1. */
int reach_init(struct reach *rs, const struct config_ref *cfg,
               const struct redis_target *target, struct tracking *t);
void reach_deinit(struct reach *rs);

/* 0 when a connection may be opened now (healthy, or this one probes
 * after the backoff), else -1 with the reason Redis was last unreachable
 * in err[0..REDIS_ERR_MAX). */
int reach_may_connect(struct reach *rs, char *err);

/* 1 while connects fail (in backoff, err set to why), else 0. */
int reach_is_down(struct reach *rs, char *err);

/* A connect failed (why) / succeeded (first: the first time for that
 * connection's owner). */
void reach_connect_failed(struct reach *rs, const char *why);
void reach_connected(struct reach *rs, int first);

/* An open connection was lost (why): what it read after registering with
 * the invalidation stream (was_tracked) is no longer tracked. */
void reach_conn_lost(struct reach *rs, int was_tracked, const char *why);

/* Redis refused CLIENT TRACKING to the target's user for good (its ACL):
 * from now on what these connections read is never cached. */
void reach_tracking_refused(struct reach *rs);

/* 1 after reach_tracking_refused. Lock-free. */
int reach_untracked(const struct reach *rs);

/* connect_timeout now. */
int64_t reach_connect_timeout(const struct reach *rs);

/* The counters and whether it is down, for the admin port. */
void reach_stats(struct reach *rs, long *errors, long *reconnects, long *epoch,
                 int *down);

#endif
