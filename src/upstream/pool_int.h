/*
 * pool_int: the inside of an upstream pool (upstream.h), shared by its two
 * halves: upstream.c (slots, connects, the down state, raw round trips,
 * batches, PING) and upstream_fetch.c (the cache's fills: tracking
 * registration, PTTL and GET in one round trip, ASKING). Nothing outside
 * upstream/ includes it.
 */
#ifndef RP_POOL_INT_H
#define RP_POOL_INT_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/config.h"
#include "proto/resp_reply.h"
#include "upstream/redis.h"

struct tracking;

/* Bytes read from a connection and not yet consumed: p[start..end). */
struct ibuf {
    char *p;
    size_t start, end, cap;
};

struct slot {
    redisContext *ctx;      /* owned by the thread that borrowed the slot */
    struct ibuf in;         /* raw input */
    struct resp_reply scan; /* the reply at in.start so far */
    size_t pending;         /* replies owed by Redis after a timeout */
    uint64_t track_gen;     /* tracking stream this connection registered
                               with; 0 = none */
    int ever_connected;
};

struct upstream {
    const struct config_ref *cfg;
    const struct redis_target *target;
    struct tracking *tracking;
    pthread_mutex_t lock;
    pthread_cond_t slot_free;
    int *free_stack;                 /* indices of free slots; lock */
    int nfree;                       /* lock */
    int64_t down_until;              /* while in the future, fail fast; lock */
    int64_t backoff_ms;              /* next backoff; 0 = healthy; lock */
    int probing;                     /* one thread is trying to connect; lock */
    char down_reason[REDIS_ERR_MAX]; /* lock */
    long errors;                     /* lock */
    long reconnects;                 /* lock */
    long epoch;                      /* lock */
    int connected;                   /* slots holding a context; lock */
    int nslots;
    struct slot slots[];
};

/* One round trip's bytes to send: iov[0..n), off bytes already sent. */
struct outbound {
    const struct iovec *iov;
    int n;
    size_t total, sent;
};

/* One command's reply, copied out of the slot buffer by a sink. */
struct one_reply {
    int is_error;
    int is_nil;
    long long integer;
    char text[REDIS_ERR_MAX]; /* an error's or status's text */
};

/*
 * One round trip on s: sends o, then reads want replies (after any owed
 * from earlier timeouts, which are discarded), handing each to
 * sink(arg, i, bytes, len); *done counts those handed over. Bounded by
 * command_timeout without progress. Returns 0 or an upstream_status.
 */
int slot_io(struct upstream *u, struct slot *s, struct outbound *o, size_t want,
            int (*sink)(void *arg, size_t i, const char *reply, size_t len),
            void *arg, size_t *done, char *err);

/* Sends one command (encoded in cmd[0..len)) and reads its reply into r. */
int slot_call(struct upstream *u, struct slot *s, const char *cmd, size_t len,
              struct one_reply *r, char *err);

/* Borrows a slot (connecting it if needed, within command_timeout), runs
 * fn on it, returns it. With retry, fn runs once more on a fresh
 * connection when a reused one failed (idempotent calls only). Returns
 * fn's result or an upstream_status. */
int with_slot(struct upstream *u, char *err, int retry,
              int (*fn)(struct upstream *u, struct slot *s, void *arg),
              void *arg);

#endif
