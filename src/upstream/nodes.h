/*
 * nodes: the Redis servers behind the proxy, in one of three modes.
 *   - standalone: one node, the configured Redis;
 *   - cluster ([redis] cluster = on): the masters of a Redis Cluster,
 *     learned from any reachable seed (the configured host:port and every
 *     [redis] seeds entry; CLUSTER SHARDS, or CLUSTER SLOTS on a Redis
 *     without it) with the owner of each of the 16384 slots;
 *   - sentinel ([redis] sentinels): one node per address the sentinels
 *     ever named; the master is the node that owns all 16384 slots, so a
 *     failover is a change of the map (nodes_set_master, called by the
 *     sentinel thread: upstream/sentinel.h).
 * With [redis] read_from other than master, the replicas of each master
 * (a cluster shard's, or the sentinels') are nodes too, each with its
 * master noted (nodes_replicas, nodes_master_of).
 *
 * Each node has its own pool (upstream.h: pool_size connections, opened
 * lazily) and, with tracking on, its own invalidation stream (tracking.h),
 * to which that node's pooled connections redirect. What a node's stream
 * (or a tracked connection to it) loses is only that node's share of the
 * cache: the keys of the slots it owns, or its master owns for a replica
 * (its key_scope). A cluster's map is refreshed by the keeper thread
 * periodically ([redis] cluster_refresh), after a redirect and after a
 * connection failure; a slot that moved to another node (a resharding, a
 * failover) has its entries expired and its fills marked before the new
 * owner is published, so nothing cached from the old owner outlives the
 * move. A sentinel failover drops every entry and marks every fill both
 * before and after the new master is published (nodes_set_master), so no
 * fill that read the old master is stored either.
 *
 * Every change of an owner moves the map's epoch (nodes_epoch): a reader
 * that saw one epoch before it routed, and sees it again after, knows
 * its node was the owner throughout.
 *
 * Threads: workers route (lock-free: the slot map is an array of atomics,
 * node pointers are published once and never freed before exit, a
 * master's replicas are one atomic bit mask); the keeper refreshes a
 * cluster's map, the sentinel thread moves the master; a worker that
 * meets MOVED updates one slot. `lock` serialises node creation and map
 * changes. At most NODES_MAX nodes are ever known (old ones stay, idle).
 */
#ifndef RP_NODES_H
#define RP_NODES_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "upstream/tracking.h"
#include "upstream/upstream.h"

#define NODES_MAX 64
#define NODES_SLOTS 16384
#define NODES_HOST_MAX 256 /* bytes of a node's host, NUL included */

struct nodes;
struct tls_ctx;
struct waiter;

enum nodes_mode {
    NODES_STANDALONE = 0,
    NODES_CLUSTER = 1,
    NODES_SENTINEL = 2,
};

/* Creates the set for cfg (its mode from [redis] cluster and sentinels),
 * no connection yet; the pipelines report through w; every connection to
 * a node speaks TLS with tls (NULL: plain TCP). cfg, fl, w and tls must
 * outlive it. Returns NULL on failure. */
struct nodes *nodes_create(const struct config_ref *cfg, struct flights *fl,
                           struct waiter *w, struct tls_ctx *tls);

/* Standalone: makes the one node. Cluster: learns the map from the seeds
 * (a failure is logged and retried by nodes_refresh). Sentinel: nothing
 * (the sentinel thread names the master). Starts the streams. Returns 0,
 * or -1 when out of memory. */
int nodes_start(struct nodes *n);

/* Stops every stream, frees every pool and node. NULL is a no-op. After
 * every thread using them has stopped. */
void nodes_destroy(struct nodes *n);

/* The mode; 1 in cluster mode, in sentinel mode. */
enum nodes_mode nodes_mode(const struct nodes *n);
int nodes_is_cluster(const struct nodes *n);
int nodes_is_sentinel(const struct nodes *n);

/* Nodes known, masters or not (indices 0..count-1). */
int nodes_count(const struct nodes *n);

/* The node owning slot / key's slot now, or -1 (the map, or the master,
 * is not known yet: a refresh is asked for). Standalone: always 0. */
int nodes_for_slot(struct nodes *n, unsigned slot);
int nodes_for_key(struct nodes *n, const char *key, size_t klen);

/* Some master, for a command without keys, or -1. */
int nodes_any(struct nodes *n);

/* Standalone and sentinel: the master (the owner of every slot), or -1
 * while the sentinels have named none (a refresh is asked for). Cluster:
 * as nodes_any. Lock-free. */
int nodes_master(struct nodes *n);

/* The current masters (nodes owning a slot), into out[0..max), in node
 * order. Returns how many. */
int nodes_masters(struct nodes *n, int *out, int max);

/* The map's epoch: moves whenever a slot (or the master) changes owner. */
uint64_t nodes_epoch(const struct nodes *n);

/* Node i's pool, stream and address. */
struct upstream *nodes_pool(struct nodes *n, int i);
struct tracking *nodes_tracking(struct nodes *n, int i);
const struct redis_target *nodes_target(struct nodes *n, int i);

/*
 * Sentinel: makes host:port (a node, made when new) the master. When it
 * is not the master already, every cached entry and every fill in flight
 * is dropped, the new owner published, dropped again, the epoch moved,
 * and the switch hook called (after the lock is released) with the old
 * master (-1: none) and the new one. Returns the node, or -1 when no node
 * can be made (NODES_MAX, out of memory). For the sentinel thread.
 */
int nodes_set_master(struct nodes *n, const char *host, int port);

/* Sets fn(arg, old, new) to run after each master change in sentinel
 * mode, on the thread that made it, with no lock held. Call before the
 * sentinel thread starts; one hook. */
void nodes_on_switch(struct nodes *n, void (*fn)(void *arg, int old, int now),
                     void *arg);

/* One address, for nodes_set_replicas. */
struct nodes_addr {
    char host[NODES_HOST_MAX];
    int port;
};

/* Sentinel: the replicas of master m are a[0..count) (nodes made when
 * new; nodes that were its replicas and are not listed stop being).
 * Returns how many are its replicas now. For the sentinel thread. */
int nodes_set_replicas(struct nodes *n, int m, const struct nodes_addr *a,
                       int count);

/* The replicas of master m now, as a bit mask of node indices (bit i:
 * node i); 0 when none is known or replicas are not read from. */
uint64_t nodes_replicas(struct nodes *n, int m);

/* The master node i replicates, as the last refresh said, or -1 (a
 * master, or not known). */
int nodes_master_of(struct nodes *n, int i);

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

/* Asks for a full refresh soon (a connection failed, a write was refused
 * as -READONLY): the keeper's, in a cluster; the sentinel thread's (woken
 * through nodes_want_fd), with sentinels. Thread-safe, never blocks. */
void nodes_want_refresh(struct nodes *n);

/* Sentinel: readable after nodes_want_refresh; nodes_want_taken drains it
 * and says whether a refresh was asked for since the last call. */
int nodes_want_fd(const struct nodes *n);
int nodes_want_taken(struct nodes *n);

/* For the keeper, once a tick: refreshes the map when asked to or every
 * cluster_refresh. */
void nodes_tick(struct nodes *n);

/* For the waiter's tick (waiter_on_tick; arg is the nodes): every node's
 * pipelines' (upstream_tick). */
void nodes_tick_pipes(void *arg);

/* Waits for every stream's first attempt, at most timeout_ms in all. */
void nodes_wait_first(struct nodes *n, int64_t timeout_ms);

/* What a node is now, for the admin port. */
enum node_role {
    NODE_IDLE = 0,    /* owns nothing, replicates nothing we know of */
    NODE_MASTER = 1,  /* owns slots (standalone, sentinel: all) */
    NODE_REPLICA = 2, /* a replica we may read from */
};

/* One node, for the admin port. */
struct node_stats {
    char addr[NODES_HOST_MAX + 24]; /* host:port */
    int master;                     /* owns slots now */
    enum node_role role;
    int slots;                             /* how many */
    char ranges[96];                       /* which: "0-5460,10923", "..." */
    char master_addr[NODES_HOST_MAX + 24]; /* a replica's master, or "" */
    struct tracking_stats tracking;
    struct upstream_stats pool;
    /* A replica read from, as replicas.h's monitor saw it last (set by
     * the admin port's caller, 0 otherwise): */
    int in_sync;         /* usable for reads now */
    long long lag_bytes; /* its master's offset minus what it applied */
    long lag_ms;         /* how far behind, in time */
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
