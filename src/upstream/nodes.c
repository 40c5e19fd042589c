/*
 * nodes: the node table, routing by slot, a sentinel's master and the
 * replicas read from; see nodes.h. Learning a cluster's map is in
 * nodes_map.c.
 */
#include "upstream/nodes.h"
#include "upstream/nodes_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/keyslot.h"

_Static_assert(NODES__MAX == NODES_MAX && NODES__SLOTS == NODES_SLOTS &&
                   NODES__HOST == NODES_HOST_MAX,
               "nodes_int.h mirrors nodes.h");
_Static_assert(NODES_MAX <= 64, "a master's replicas are a 64-bit mask");

/* ---- scopes ---- */

/* A key is a node's when its slot's owner is the node, or, for a replica,
 * the node's master. */
static int
node_has(void *arg, const char *key, size_t klen)
{
    struct nodes__node *nd = arg;
    unsigned slot = keyslot_of(key, klen);
    unsigned char o =
        atomic_load_explicit(&nd->set->owner[slot], memory_order_relaxed);
    int m = atomic_load_explicit(&nd->master_of, memory_order_relaxed);

    return o == (unsigned char)nd->index || (m >= 0 && o == (unsigned char)m);
}

/* ---- nodes ---- */

struct nodes *
nodes_create(const struct config_ref *cfg, struct flights *fl, struct waiter *w,
             struct tls_ctx *tls)
{
    const struct config *c = config_get(cfg);
    struct nodes *n = calloc(1, sizeof(*n));
    int i;

    if (n == NULL) {
        return NULL;
    }
    n->want_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (n->want_fd < 0 || pthread_mutex_init(&n->lock, NULL) != 0) {
        if (n->want_fd >= 0) {
            close(n->want_fd);
        }
        free(n);
        return NULL;
    }
    n->cfg = cfg;
    n->flights = fl;
    n->waiter = w;
    n->mode = c->cluster                ? NODES_CLUSTER
              : c->sentinels[0] != '\0' ? NODES_SENTINEL
                                        : NODES_STANDALONE;
    n->cluster = n->mode == NODES_CLUSTER;
    n->replica_reads = c->read_from != CONFIG_READ_MASTER;
    n->tls = tls;
    for (i = 0; i < NODES_SLOTS; i++) {
        atomic_init(&n->owner[i],
                    n->mode == NODES_STANDALONE ? 0 : NODES__NONE);
    }
    return n;
}

static void
node_free(struct nodes__node *nd)
{
    if (nd == NULL) {
        return;
    }
    upstream_destroy(nd->pool);
    tracking_destroy(nd->tracking);
    free(nd);
}

void
nodes_destroy(struct nodes *n)
{
    int i;

    if (n == NULL) {
        return;
    }
    for (i = 0; i < atomic_load(&n->count); i++) {
        node_free(atomic_load(&n->node[i]));
    }
    pthread_mutex_destroy(&n->lock);
    close(n->want_fd);
    free(n);
}

struct nodes__node *
nodes__at(const struct nodes *n, int i)
{
    return atomic_load_explicit(&((struct nodes *)n)->node[i],
                                memory_order_acquire);
}

int
nodes__get(struct nodes *n, const char *host, int port)
{
    const struct config *cfg = config_get(n->cfg);
    int i, count = atomic_load(&n->count);
    struct nodes__node *nd;

    for (i = 0; i < count; i++) {
        nd = nodes__at(n, i);
        if (nd->port == port && strcmp(nd->host, host) == 0) {
            return i;
        }
    }
    if (count == NODES_MAX || strlen(host) >= sizeof(nd->host) ||
        (nd = calloc(1, sizeof(*nd))) == NULL) {
        return -1;
    }
    nd->set = n;
    nd->index = count;
    snprintf(nd->host, sizeof(nd->host), "%s", host);
    nd->port = port;
    atomic_init(&nd->master_of, -1);
    nd->target = redis_target_of(n->cfg, n->tls);
    snprintf(nd->target.host, sizeof(nd->target.host), "%s", nd->host);
    nd->target.port = port;
    nd->target.db = n->cluster ? 0 : cfg->redis_db;
    /* A cluster replica serves reads only after READONLY; a master takes
     * it and ignores it, so every node gets it (roles change). */
    nd->target.readonly = n->cluster && n->replica_reads;
    nd->scope.has = node_has;
    nd->scope.arg = nd;
    nd->tracking =
        tracking_create(n->cfg, &nd->target, n->flights,
                        n->mode == NODES_STANDALONE ? NULL : &nd->scope);
    nd->pool = nd->tracking != NULL ? upstream_create(n->cfg, &nd->target,
                                                      nd->tracking, n->waiter)
                                    : NULL;
    if (nd->pool == NULL || tracking_start(nd->tracking) < 0) {
        node_free(nd);
        return -1;
    }
    atomic_store_explicit(&n->node[count], nd, memory_order_release);
    atomic_store(&n->count, count + 1);
    if (n->mode != NODES_STANDALONE) {
        log_info("msg=\"%s node added\" addr=%s:%d index=%d",
                 n->cluster ? "cluster" : "redis", host, port, count);
    }
    return count;
}

int
nodes_start(struct nodes *n)
{
    const struct config *cfg = config_get(n->cfg);
    int rc = 0;

    if (n->mode == NODES_SENTINEL) {
        return 0; /* the sentinel thread names the master */
    }
    if (!n->cluster) {
        pthread_mutex_lock(&n->lock);
        rc = nodes__get(n, cfg->redis_host, cfg->redis_port) == 0 ? 0 : -1;
        pthread_mutex_unlock(&n->lock);
        return rc;
    }
    nodes__refresh(n);
    n->next_refresh_ms = util_now_ms() + cfg->cluster_refresh_ms;
    return 0;
}

enum nodes_mode
nodes_mode(const struct nodes *n)
{
    return (enum nodes_mode)n->mode;
}

int
nodes_is_cluster(const struct nodes *n)
{
    return n->cluster;
}

int
nodes_is_sentinel(const struct nodes *n)
{
    return n->mode == NODES_SENTINEL;
}

uint64_t
nodes_epoch(const struct nodes *n)
{
    return atomic_load_explicit(&((struct nodes *)n)->epoch,
                                memory_order_acquire);
}

int
nodes_count(const struct nodes *n)
{
    return atomic_load(&((struct nodes *)n)->count);
}

int
nodes_for_slot(struct nodes *n, unsigned slot)
{
    unsigned char o = atomic_load_explicit(&n->owner[slot % NODES_SLOTS],
                                           memory_order_acquire);

    if (o == NODES__NONE) {
        nodes_want_refresh(n);
        return -1;
    }
    return o;
}

int
nodes_for_key(struct nodes *n, const char *key, size_t klen)
{
    switch (n->mode) {
    case NODES_CLUSTER:
        return nodes_for_slot(n, keyslot_of(key, klen));
    case NODES_SENTINEL:
        return nodes_for_slot(n, 0); /* the master owns every slot */
    default:
        return 0;
    }
}

int
nodes_masters(struct nodes *n, int *out, int max)
{
    int i, k = 0, count = nodes_count(n);

    for (i = 0; i < count && k < max; i++) {
        if (n->mode == NODES_STANDALONE ||
            atomic_load(&nodes__at(n, i)->slots) > 0) {
            out[k++] = i;
        }
    }
    return k;
}

int
nodes_any(struct nodes *n)
{
    int m;

    if (nodes_masters(n, &m, 1) == 1) {
        return m;
    }
    nodes_want_refresh(n);
    return -1;
}

int
nodes_master(struct nodes *n)
{
    return n->cluster ? nodes_any(n) : nodes_for_slot(n, 0);
}

struct upstream *
nodes_pool(struct nodes *n, int i)
{
    return nodes__at(n, i)->pool;
}

struct tracking *
nodes_tracking(struct nodes *n, int i)
{
    return nodes__at(n, i)->tracking;
}

const struct redis_target *
nodes_target(struct nodes *n, int i)
{
    return &nodes__at(n, i)->target;
}

/* ---- a sentinel's master, and the replicas ---- */

void
nodes_on_switch(struct nodes *n, void (*fn)(void *arg, int old, int now),
                void *arg)
{
    n->on_switch = fn;
    n->switch_arg = arg;
}

int
nodes_set_master(struct nodes *n, const char *host, int port)
{
    int idx, old, i;

    pthread_mutex_lock(&n->lock);
    idx = nodes__get(n, host, port);
    old = atomic_load(&n->owner[0]) == NODES__NONE ? -1
                                                   : atomic_load(&n->owner[0]);
    if (idx < 0 || idx == old) {
        pthread_mutex_unlock(&n->lock);
        return idx;
    }
    /* What was read from the old master (or its replicas, which follow
     * another now) goes before the new one serves, and once more after
     * it is published: a fill that chose the old master in between is
     * marked too, and never stored. */
    flights_invalidate_all(n->flights);
    for (i = 0; i < NODES_SLOTS; i++) {
        atomic_store_explicit(&n->owner[i], (unsigned char)idx,
                              memory_order_release);
    }
    atomic_store(&nodes__at(n, idx)->master_of, -1);
    atomic_store(&nodes__at(n, idx)->slots, NODES_SLOTS);
    if (old >= 0) {
        atomic_store(&nodes__at(n, old)->slots, 0);
        atomic_store(&nodes__at(n, old)->replicas, 0);
    }
    atomic_fetch_add(&n->epoch, 1);
    flights_invalidate_all(n->flights);
    pthread_mutex_unlock(&n->lock);
    if (old >= 0) {
        log_warn("msg=\"master changed (failover); cache emptied\" "
                 "from=%s:%d to=%s:%d",
                 nodes__at(n, old)->host, nodes__at(n, old)->port, host, port);
    } else {
        log_info("msg=\"master found\" addr=%s:%d", host, port);
    }
    if (n->on_switch != NULL) {
        n->on_switch(n->switch_arg, old, idx);
    }
    return idx;
}

int
nodes_set_replicas(struct nodes *n, int m, const struct nodes_addr *a,
                   int count)
{
    uint64_t mask = 0, was;
    int i, idx, k = 0;

    if (!n->replica_reads || m < 0) {
        return 0;
    }
    pthread_mutex_lock(&n->lock);
    for (i = 0; i < count; i++) {
        idx = nodes__get(n, a[i].host, a[i].port);
        if (idx >= 0 && idx != m) {
            mask |= UINT64_C(1) << idx;
        }
    }
    was = atomic_load(&nodes__at(n, m)->replicas);
    for (i = 0; i < nodes_count(n); i++) {
        struct nodes__node *nd = nodes__at(n, i);

        if (mask & (UINT64_C(1) << i)) {
            atomic_store(&nd->master_of, m);
            k++;
            if (!(was & (UINT64_C(1) << i))) {
                log_info("msg=\"replica found\" addr=%s:%d master=%s:%d",
                         nd->host, nd->port, nodes__at(n, m)->host,
                         nodes__at(n, m)->port);
            }
        } else if (atomic_load(&nd->master_of) == m) {
            atomic_store(&nd->master_of, -1);
        }
    }
    atomic_store(&nodes__at(n, m)->replicas, mask);
    pthread_mutex_unlock(&n->lock);
    return k;
}

uint64_t
nodes_replicas(struct nodes *n, int m)
{
    if (m < 0 || m >= nodes_count(n)) {
        return 0;
    }
    return atomic_load_explicit(&nodes__at(n, m)->replicas,
                                memory_order_acquire);
}

int
nodes_master_of(struct nodes *n, int i)
{
    return atomic_load_explicit(&nodes__at(n, i)->master_of,
                                memory_order_relaxed);
}

void
nodes_tick_pipes(void *arg)
{
    struct nodes *n = arg;
    int i;

    for (i = 0; i < nodes_count(n); i++) {
        upstream_tick(nodes__at(n, i)->pool);
    }
}

void
nodes_want_refresh(struct nodes *n)
{
    uint64_t one = 1;

    if (n->mode == NODES_STANDALONE ||
        atomic_exchange(&n->want_refresh, 1) != 0) {
        return; /* asked already, not taken yet */
    }
    if (n->mode == NODES_SENTINEL) {
        while (write(n->want_fd, &one, sizeof(one)) < 0 && errno == EINTR) {
        }
    }
}

int
nodes_want_fd(const struct nodes *n)
{
    return n->want_fd;
}

int
nodes_want_taken(struct nodes *n)
{
    uint64_t v;

    while (read(n->want_fd, &v, sizeof(v)) < 0 && errno == EINTR) {
    }
    return atomic_exchange(&n->want_refresh, 0);
}

void
nodes_tick(struct nodes *n)
{
    int64_t now = util_now_ms();

    if (!n->cluster) {
        return;
    }
    if (atomic_exchange(&n->want_refresh, 0) || now >= n->next_refresh_ms) {
        nodes__refresh(n);
        n->next_refresh_ms =
            util_now_ms() + config_get(n->cfg)->cluster_refresh_ms;
    }
}

void
nodes_wait_first(struct nodes *n, int64_t timeout_ms)
{
    int64_t end = util_now_ms() + timeout_ms;
    int i;

    for (i = 0; i < nodes_count(n); i++) {
        int64_t left = end - util_now_ms();

        tracking_wait_first(nodes__at(n, i)->tracking, left > 0 ? left : 0);
    }
}

/* The slots node i owns as ranges ("0-5460,10923"), "..." when they do
 * not fit. */
static void
slot_ranges(struct nodes *n, int i, char *out, size_t len)
{
    size_t used = 0;
    unsigned s = 0, from;

    out[0] = '\0';
    while (s < NODES_SLOTS) {
        int w;

        if (atomic_load_explicit(&n->owner[s], memory_order_relaxed) !=
            (unsigned char)i) {
            s++;
            continue;
        }
        from = s;
        while (s < NODES_SLOTS &&
               atomic_load_explicit(&n->owner[s], memory_order_relaxed) ==
                   (unsigned char)i) {
            s++;
        }
        w = from + 1 == s ? snprintf(out + used, len - used, "%s%u",
                                     used ? "," : "", from)
                          : snprintf(out + used, len - used, "%s%u-%u",
                                     used ? "," : "", from, s - 1);
        if (w < 0 || (size_t)w >= len - used - 4) {
            snprintf(out + used, len - used, "%s...", used ? "," : "");
            return;
        }
        used += (size_t)w;
    }
}

void
nodes_stats(struct nodes *n, int i, struct node_stats *out)
{
    struct nodes__node *nd = nodes__at(n, i);

    int m = atomic_load(&nd->master_of);

    snprintf(out->addr, sizeof(out->addr), "%s:%d", nd->host, nd->port);
    out->slots =
        n->mode == NODES_STANDALONE ? NODES_SLOTS : atomic_load(&nd->slots);
    out->master = out->slots > 0;
    out->role = out->master ? NODE_MASTER
                : m >= 0 && nodes_replicas(n, m) & (UINT64_C(1) << i)
                    ? NODE_REPLICA
                    : NODE_IDLE;
    out->master_addr[0] = '\0';
    out->in_sync = 0;
    out->lag_bytes = 0;
    out->lag_ms = 0;
    if (out->role == NODE_REPLICA) {
        snprintf(out->master_addr, sizeof(out->master_addr), "%s:%d",
                 nodes__at(n, m)->host, nodes__at(n, m)->port);
    }
    slot_ranges(n, i, out->ranges, sizeof(out->ranges));
    tracking_stats(nd->tracking, &out->tracking);
    upstream_stats(nd->pool, &out->pool);
}

void
nodes_pool_stats(struct nodes *n, struct upstream_stats *out)
{
    int i, masters[NODES_MAX], k = nodes_masters(n, masters, NODES_MAX), j;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < nodes_count(n); i++) {
        struct upstream_stats s;
        int master = 0;

        for (j = 0; j < k; j++) {
            master |= masters[j] == i;
        }
        upstream_stats(nodes__at(n, i)->pool, &s);
        out->size += s.size;
        out->in_use += s.in_use;
        out->connected += s.connected;
        out->errors += s.errors;
        out->reconnects += s.reconnects;
        out->epoch += s.epoch;
        out->down |= master && s.down; /* an old master down is no outage */
    }
}

void
nodes_tracking_totals(struct nodes *n, struct tracking_stats *out)
{
    int i;

    memset(out, 0, sizeof(*out));
    out->state = nodes_tracking_state(n, out->reason, sizeof(out->reason));
    for (i = 0; i < nodes_count(n); i++) {
        struct tracking_stats ts;

        tracking_stats(nodes__at(n, i)->tracking, &ts);
        out->drops += ts.drops;
        out->messages += ts.messages;
    }
}

enum tracking_state
nodes_tracking_state(struct nodes *n, char *reason, size_t len)
{
    enum tracking_state worst = TRACKING_UP;
    int masters[NODES_MAX], k = nodes_masters(n, masters, NODES_MAX), i;

    if (reason != NULL && len > 0) {
        reason[0] = '\0';
    }
    if (k == 0) {
        if (reason != NULL) {
            snprintf(reason, len, "%s",
                     n->mode == NODES_SENTINEL
                         ? "no master named by the sentinels yet"
                         : "no cluster slot map yet");
        }
        return config_get(n->cfg)->cache_tracking ? TRACKING_DOWN
                                                  : TRACKING_OFF;
    }
    for (i = 0; i < k; i++) {
        struct tracking_stats ts;

        tracking_stats(nodes__at(n, masters[i])->tracking, &ts);
        if (ts.state == TRACKING_OFF && worst == TRACKING_UP) {
            worst = TRACKING_OFF;
        } else if (ts.state == TRACKING_DOWN) {
            if (worst != TRACKING_DOWN && reason != NULL) {
                snprintf(reason, len, "%s:%d: %s",
                         nodes__at(n, masters[i])->host,
                         nodes__at(n, masters[i])->port, ts.reason);
            }
            worst = TRACKING_DOWN;
        }
    }
    return worst;
}
