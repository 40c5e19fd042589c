/*
 * upstream: the pool of connections to one Redis server (the backing
 * Redis, or one master of a cluster).
 *
 * pool_size slots, each holding at most one connection that exactly one
 * thread uses at a time (borrowed inside a call, never across calls). A
 * connection is opened with redis_open (hiredis: connect, timeouts, AUTH,
 * SELECT) and then driven raw: commands are written as the client sent
 * them, replies are framed with proto/resp_reply and handed over byte for
 * byte, so errors, nested arrays and null bulk versus null array reach the
 * client exactly as Redis sent them. A connection that failed (I/O error,
 * EOF, bytes that are no reply) is closed, never reused; its slot
 * reconnects on next use. Before its next lookup a connection registers
 * for invalidations (CLIENT TRACKING ON REDIRECT, see tracking.h) whenever
 * the tracking stream is new to it.
 *
 * Timeouts do not kill connections: replies are awaited with poll() until
 * command_timeout passes without progress, and replies that come late stay
 * owed on the connection (`pending`, with any partial reply's bytes kept)
 * and are read and discarded by the slot's next user before its own. So a
 * stalled Redis neither hands one request's late reply to another nor
 * costs the connection its tracking state. (A batch that could not even be
 * written in time closes its connection: half a command cannot stay.)
 *
 * When a connect fails the pool is marked down with an exponential backoff
 * (base/backoff.h): until it ends, requests fail at once with the last
 * cause, and then exactly one request probes. So a dead Redis costs each
 * request at most one connect_timeout and never a retry storm, and the
 * pool recovers by itself when Redis returns.
 *
 * Threads: one mutex guards the free-slot stack and the down state; a
 * condition variable wakes threads waiting for a free slot. No Redis I/O
 * happens under the mutex.
 */
#ifndef RP_UPSTREAM_H
#define RP_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/config.h"
#include "upstream/redis.h"
#include "upstream/tracking.h"

enum upstream_status {
    UPSTREAM_OK = 0,        /* the value was handed over */
    UPSTREAM_NIL = 1,       /* the key does not exist */
    UPSTREAM_EREPLY = -1,   /* Redis answered an error (err holds its text,
                               e.g. "WRONGTYPE Operation against ...") */
    UPSTREAM_EDOWN = -2,    /* cannot connect, or the connection failed */
    UPSTREAM_ETIMEOUT = -3, /* no reply within command_timeout */
    UPSTREAM_ENOMEM = -4,   /* the caller's sink failed */
};

#define UPSTREAM_ERR_MAX REDIS_ERR_MAX

/* Takes one reply, reply[0..len) (exact bytes, valid only during the
 * call), the i-th of a batch. Returns 0, or -1 when it cannot (the rest
 * is still read, so the connection stays in step). */
typedef int (*upstream_reply_fn)(void *arg, size_t i, const char *reply,
                                 size_t len);

/* Takes a looked-up value: data[0..len) (valid only during the call) and
 * the key's remaining lifetime in Redis (-1: none set). Returns 0 or -1. */
typedef int (*upstream_value_fn)(void *arg, const char *data, size_t len,
                                 int64_t pttl_ms);

struct upstream;

/* Creates the pool of pool_size connections to target (no connection is
 * made yet). cfg (pool_size, and command_timeout at each call), target and
 * t must outlive it. Returns NULL on allocation failure. */
struct upstream *upstream_create(const struct config_ref *cfg,
                                 const struct redis_target *target,
                                 struct tracking *t);

/* Frees every connection. NULL is a no-op. No concurrent use. */
void upstream_destroy(struct upstream *u);

/*
 * Looks key up: PTTL then GET in one round trip on a pooled connection
 * (after ASKING, when asking: a cluster's ASK redirect),
 * within command_timeout (waiting for a free connection included). A
 * failure on a reused connection (Redis restarted meanwhile) is retried
 * once on a fresh one. Returns an enum upstream_status; on UPSTREAM_OK the
 * value was handed to value(); on errors err[0..UPSTREAM_ERR_MAX) says
 * why. *cacheable is 1 when the value may be cached: tracking is off, or
 * the lookup ran on a connection registered with the current invalidation
 * stream. Thread-safe.
 */
int upstream_fetch(struct upstream *u, const char *key, size_t klen, int asking,
                   upstream_value_fn value, void *arg, char *err,
                   int *cacheable);

/*
 * Sends a batch of ncmds commands, already encoded (iov[0..iovcnt)), on
 * one pooled connection and hands each reply, in order, to reply(). Reads
 * as it writes, so a batch of any size never deadlocks. Returns 0 when
 * every reply was handed over, or an enum upstream_status error with err
 * set: the first *done replies were handed over, the rest not (the caller
 * answers them with the error). Thread-safe.
 */
int upstream_exec(struct upstream *u, const struct iovec *iov, int iovcnt,
                  size_t ncmds, upstream_reply_fn reply, void *arg,
                  size_t *done, char *err);

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

/* Counters since creation. */
struct upstream_stats {
    int size;        /* pool_size */
    int in_use;      /* slots borrowed now */
    int connected;   /* slots holding a live connection */
    long errors;     /* failed commands and connects */
    long reconnects; /* successful connects after the first per slot */
    long epoch;      /* connects that ended a down period: Redis may have
                        restarted, with other commands */
    int down;        /* connects are failing (in backoff) */
};
void upstream_stats(struct upstream *u, struct upstream_stats *out);

#endif
