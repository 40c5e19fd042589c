/*
 * nodes_int: what the node table's two files share (nodes.c: the table,
 * routing, the master and replicas; nodes_map.c: learning a cluster's
 * map). Internal to the module: everything here carries "nodes__".
 */
#ifndef RP_NODES_INT_H
#define RP_NODES_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/config.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "upstream/redis.h"
#include "upstream/tracking.h"
#include "upstream/upstream.h"

#define NODES__NONE 0xffu /* a slot owned by no node */
#define NODES__MAX 64     /* NODES_MAX */
#define NODES__SLOTS 16384
#define NODES__HOST 256 /* NODES_HOST_MAX */

struct waiter;

struct nodes__node {
    struct nodes *set;
    int index;
    char host[NODES__HOST];
    int port;
    struct redis_target target;
    struct upstream *pool;
    struct tracking *tracking;
    struct key_scope scope;    /* the keys of the slots this node owns, or its
                                  master owns */
    atomic_int slots;          /* slots owned now */
    atomic_int master_of;      /* the master it replicates, or -1 */
    _Atomic uint64_t replicas; /* its replicas we read from (bit i: node i) */
};

struct nodes {
    const struct config_ref *cfg;
    struct flights *flights;
    struct waiter *waiter; /* the pipelines report through it */
    struct tls_ctx *tls;   /* TLS towards every node, or NULL */
    int mode;              /* enum nodes_mode */
    int cluster;           /* mode == NODES_CLUSTER */
    int replica_reads;     /* read_from is not master: replicas are nodes */
    pthread_mutex_t lock;  /* node creation, map changes */
    _Atomic(struct nodes__node *) node[NODES__MAX];
    atomic_int count;
    _Atomic unsigned char owner[NODES__SLOTS]; /* node index or NONE */
    _Atomic uint64_t epoch;                    /* moves with every owner
                                                  change */
    atomic_int want_refresh;
    int want_fd;             /* eventfd: a refresh asked (sentinel) */
    int64_t next_refresh_ms; /* keeper only */
    int known;               /* a refresh has succeeded; lock */
    void (*on_switch)(void *arg, int old, int now);
    void *switch_arg;
};

/* Node i (published with release: read with acquire). */
struct nodes__node *nodes__at(const struct nodes *n, int i);

/* The node at host:port, made (pool and stream started) when new. Lock
 * held. Returns its index, or -1. */
int nodes__get(struct nodes *n, const char *host, int port);

/* Cluster: asks the known masters, then the seeds, for the map (network
 * I/O without the lock) and publishes it. For the keeper (and the start). */
void nodes__refresh(struct nodes *n);

#endif
