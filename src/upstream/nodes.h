/*
 * nodes: the Redis servers behind the proxy. Standalone, one: the
 * configured Redis. With [redis] cluster = on, the masters of a Redis
 * Cluster, learned from any reachable seed (the configured host:port and
 * every [redis] seeds entry; CLUSTER SHARDS, or CLUSTER SLOTS on a Redis
 * without it) with the owner of each of the 16384 slots.
 *
 * Each node has its own pool (upstream.h: pool_size connections, opened
 * lazily) and, with tracking on, its own invalidation stream (tracking.h),
 * to which that node's pooled connections redirect. What a node's stream
 * (or a tracked connection to it) loses is only that node's share of the
 * cache: the keys of the slots it owns (its key_scope). The map is
 * refreshed by the keeper thread periodically ([redis] cluster_refresh),
 * after a redirect and after a connection failure; a slot that moved to
 * another node (a resharding, a failover) has its entries expired and its
 * fills marked before the new owner is published, so nothing cached from
 * the old owner outlives the move.
 *
 * Threads: workers route (lock-free: the slot map is an array of atomics,
 * node pointers are published once and never freed before exit); the
 * keeper refreshes; a worker that meets MOVED updates one slot. `lock`
 * serialises node creation and refreshes. At most NODES_MAX nodes are
 * ever known (old ones stay, idle).
 */
#ifndef RP_NODES_H
#define RP_NODES_H

#include <stddef.h>

#include "base/config.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "upstream/tracking.h"
#include "upstream/upstream.h"

#define NODES_MAX 64
#define NODES_SLOTS 16384

struct nodes;
struct tls_ctx;
struct waiter;

/* Creates the set for cfg (standalone or cluster), no connection yet; the
 * pipelines report through w; every connection to a node speaks TLS with
 * tls (NULL: plain TCP). cfg, fl, w and tls must outlive it. Returns NULL
 * on failure. */
struct nodes *nodes_create(const struct config_ref *cfg, struct flights *fl,
                           struct waiter *w, struct tls_ctx *tls);

/* Standalone: makes the one node. Cluster: learns the map from the seeds
 * (a failure is logged and retried by nodes_refresh). Starts the streams.
 * Returns 0, or -1 when out of memory. */
int nodes_start(struct nodes *n);

/* Stops every stream, frees every pool and node. NULL is a no-op. After
 * every thread using them has stopped. */
void nodes_destroy(struct nodes *n);

/* 1 in cluster mode. */
int nodes_is_cluster(const struct nodes *n);

/* Nodes known, masters or not (indices 0..count-1). */
int nodes_count(const struct nodes *n);

/* The node owning slot / key's slot now, or -1 (the map is not known
 * yet: a refresh is asked for). Standalone: always 0. */
int nodes_for_slot(struct nodes *n, unsigned slot);
int nodes_for_key(struct nodes *n, const char *key, size_t klen);

/* Some master, for a command without keys, or -1. */
int nodes_any(struct nodes *n);

/* The current masters (nodes owning a slot), into out[0..max), in node
 * order. Returns how many. */
int nodes_masters(struct nodes *n, int *out, int max);

/* Node i's pool, stream and address. */
struct upstream *nodes_pool(struct nodes *n, int i);
struct tracking *nodes_tracking(struct nodes *n, int i);
const struct redis_target *nodes_target(struct nodes *n, int i);

/*
 * A redirect error reply ("MOVED 3999 127.0.0.1:6381" or "ASK ...", the
 * text without "-"). Returns the node it points to (found, or made), with
 * *ask 1 for ASK, or -1 when it is no redirect. A MOVED moves the slot in
 * the map now (expiring its entries) and asks for a full refresh.
 */
int nodes_redirect(struct nodes *n, const char *err, size_t len, int *ask);

/* Redirects followed for one command at most; one more is an error, not
 * a loop. */
#define NODES_REDIRECTS 5

/* Asks the keeper for a full refresh soon (a connection failed). */
void nodes_want_refresh(struct nodes *n);

/* For the keeper, once a tick: refreshes the map when asked to or every
 * cluster_refresh. */
void nodes_tick(struct nodes *n);

/* For the waiter's tick (waiter_on_tick; arg is the nodes): every node's
 * pipelines' (upstream_tick). */
void nodes_tick_pipes(void *arg);

/* Waits for every stream's first attempt, at most timeout_ms in all. */
void nodes_wait_first(struct nodes *n, int64_t timeout_ms);

/* One node, for the admin port. */
struct node_stats {
    char addr[280];  /* host:port */
    int master;      /* owns slots now */
    int slots;       /* how many */
    char ranges[96]; /* which: "0-5460,10923", "..." when cut short */
    struct tracking_stats tracking;
    struct upstream_stats pool;
};
void nodes_stats(struct nodes *n, int i, struct node_stats *out);

/* Pool figures summed over every node. */
void nodes_pool_stats(struct nodes *n, struct upstream_stats *out);

/* Stream figures over every node: the worst state (nodes_tracking_state,
 * its reason), drops and messages summed. */
void nodes_tracking_totals(struct nodes *n, struct tracking_stats *out);

/* The worst stream state over the masters (DOWN if any is down), with
 * the reason of one that is down in reason[0..len). */
enum tracking_state nodes_tracking_state(struct nodes *n, char *reason,
                                         size_t len);

#endif
