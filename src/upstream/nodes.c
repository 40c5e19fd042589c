/*
 * nodes: the node table and the slot map; see nodes.h.
 */
#include "upstream/nodes.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/keyslot.h"
#include "upstream/rconn.h"

#define NO_NODE 0xffu
#define MAX_REDIRECT_HOST 256

struct node {
    struct nodes *set;
    int index;
    char host[MAX_REDIRECT_HOST];
    int port;
    struct redis_target target;
    struct upstream *pool;
    struct tracking *tracking;
    struct key_scope scope; /* the keys of the slots this node owns */
    atomic_int slots;       /* slots owned now */
};

struct nodes {
    const struct config_ref *cfg;
    struct flights *flights;
    struct waiter *waiter; /* the pipelines report through it */
    struct tls_ctx *tls;   /* TLS towards every node, or NULL */
    int cluster;
    pthread_mutex_t lock; /* node creation, refreshes */
    _Atomic(struct node *) node[NODES_MAX];
    atomic_int count;
    _Atomic unsigned char owner[NODES_SLOTS]; /* node index or NO_NODE */
    atomic_int want_refresh;
    int64_t next_refresh_ms; /* keeper only */
    int known;               /* a refresh has succeeded; lock */
};

/* ---- scopes ---- */

static int
node_has(void *arg, const char *key, size_t klen)
{
    struct node *nd = arg;
    unsigned slot = keyslot_of(key, klen);

    return atomic_load_explicit(&nd->set->owner[slot], memory_order_relaxed) ==
           (unsigned char)nd->index;
}

/* A set of slots, for expiring what a move takes away. */
struct slot_set {
    unsigned char bit[NODES_SLOTS / 8];
    int any;
};

static int
set_has(void *arg, const char *key, size_t klen)
{
    const struct slot_set *ss = arg;
    unsigned slot = keyslot_of(key, klen);

    return (ss->bit[slot / 8] >> (slot % 8)) & 1;
}

static void
set_add(struct slot_set *ss, unsigned slot)
{
    ss->bit[slot / 8] |= (unsigned char)(1u << (slot % 8));
    ss->any = 1;
}

/* ---- nodes ---- */

struct nodes *
nodes_create(const struct config_ref *cfg, struct flights *fl, struct waiter *w,
             struct tls_ctx *tls)
{
    struct nodes *n = calloc(1, sizeof(*n));
    int i;

    if (n == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&n->lock, NULL) != 0) {
        free(n);
        return NULL;
    }
    n->cfg = cfg;
    n->flights = fl;
    n->waiter = w;
    n->tls = tls;
    n->cluster = config_get(cfg)->cluster;
    for (i = 0; i < NODES_SLOTS; i++) {
        atomic_init(&n->owner[i], n->cluster ? NO_NODE : 0);
    }
    return n;
}

static void
node_free(struct node *nd)
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
    free(n);
}

static struct node *
node_at(const struct nodes *n, int i)
{
    return atomic_load_explicit(&((struct nodes *)n)->node[i],
                                memory_order_acquire);
}

/* The node at host:port, made (pool and stream started) when new.
 * Lock held. Returns its index, or -1. */
static int
node_get(struct nodes *n, const char *host, int port)
{
    const struct config *cfg = config_get(n->cfg);
    int i, count = atomic_load(&n->count);
    struct node *nd;

    for (i = 0; i < count; i++) {
        nd = node_at(n, i);
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
    nd->target = redis_target_of(n->cfg, n->tls);
    snprintf(nd->target.host, sizeof(nd->target.host), "%s", nd->host);
    nd->target.port = port;
    nd->target.db = n->cluster ? 0 : cfg->redis_db;
    nd->scope.has = node_has;
    nd->scope.arg = nd;
    nd->tracking = tracking_create(n->cfg, &nd->target, n->flights,
                                   n->cluster ? &nd->scope : NULL);
    nd->pool = nd->tracking != NULL ? upstream_create(n->cfg, &nd->target,
                                                      nd->tracking, n->waiter)
                                    : NULL;
    if (nd->pool == NULL || tracking_start(nd->tracking) < 0) {
        node_free(nd);
        return -1;
    }
    atomic_store_explicit(&n->node[count], nd, memory_order_release);
    atomic_store(&n->count, count + 1);
    if (n->cluster) {
        log_info("msg=\"cluster node added\" addr=%s:%d index=%d", host, port,
                 count);
    }
    return count;
}

/* ---- learning the map ---- */

/* A new owner for every slot, from one seed's view, by address: the map
 * is read without the lock, and addresses become nodes under it. */
struct view {
    char host[NODES_MAX][MAX_REDIRECT_HOST];
    int port[NODES_MAX];
    int naddr;
    unsigned char owner[NODES_SLOTS]; /* address index or NO_NODE */
};

/* The address index of host:port in v, added when new; -1 when full. */
static int
view_addr(struct view *v, const char *host, long long port)
{
    int i;

    for (i = 0; i < v->naddr; i++) {
        if (v->port[i] == port && strcmp(v->host[i], host) == 0) {
            return i;
        }
    }
    if (v->naddr == NODES_MAX || strlen(host) >= MAX_REDIRECT_HOST) {
        return -1;
    }
    snprintf(v->host[v->naddr], MAX_REDIRECT_HOST, "%s", host);
    v->port[v->naddr] = (int)port;
    return v->naddr++;
}

static void
view_range(struct view *v, long long from, long long to, int addr)
{
    long long s;

    for (s = from; s <= to && s < NODES_SLOTS; s++) {
        if (s >= 0) {
            v->owner[s] = (unsigned char)addr;
        }
    }
}

/* CLUSTER SHARDS: the online master of each shard and its slot ranges.
 * A node of a cluster with tls-cluster on says its TLS port as
 * "tls-port" ("port" is its plain one, absent when it has none): that is
 * the one to use when tls is set. */
static void
view_from_shards(const redisReply *r, struct view *v, int tls)
{
    size_t i, j;

    for (i = 0; i < r->elements; i++) {
        const redisReply *slots = redis_reply_map_get(r->element[i], "slots");
        const redisReply *members = redis_reply_map_get(r->element[i], "nodes");
        int idx = -1;

        for (j = 0; members != NULL && members->type == REDIS_REPLY_ARRAY &&
                    j < members->elements;
             j++) {
            const redisReply *m = members->element[j];
            const redisReply *role = redis_reply_map_get(m, "role"),
                             *ip = redis_reply_map_get(m, "ip");
            const redisReply *port = redis_reply_map_get(m, "port");
            const redisReply *health = redis_reply_map_get(m, "health");
            const redisReply *tls_port = redis_reply_map_get(m, "tls-port");

            if (tls && tls_port != NULL) {
                port = tls_port;
            }

            if (redis_reply_is_str(role) && strcmp(role->str, "master") == 0 &&
                redis_reply_is_str(ip) && port != NULL &&
                port->type == REDIS_REPLY_INTEGER &&
                (!redis_reply_is_str(health) ||
                 strcmp(health->str, "online") == 0)) {
                idx = view_addr(v, ip->str, port->integer);
            }
        }
        if (idx < 0 || slots == NULL || slots->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        for (j = 0; j + 1 < slots->elements; j += 2) {
            view_range(v, slots->element[j]->integer,
                       slots->element[j + 1]->integer, idx);
        }
    }
}

/* CLUSTER SLOTS: [from, to, [ip, port, id], replicas...] per range. */
static void
view_from_slots(const redisReply *r, struct view *v)
{
    size_t i;

    for (i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i], *m;
        int idx;

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3) {
            continue;
        }
        m = e->element[2];
        if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
            !redis_reply_is_str(m->element[0]) ||
            m->element[1]->type != REDIS_REPLY_INTEGER) {
            continue;
        }
        idx = view_addr(v, m->element[0]->str, m->element[1]->integer);
        if (idx >= 0) {
            view_range(v, e->element[0]->integer, e->element[1]->integer, idx);
        }
    }
}

/* Asks one node for the map. Returns 0 with v filled, or -1 (err set). */
static int
ask_view(struct nodes *n, const char *host, int port, struct view *v, char *err)
{
    struct redis_target t = redis_target_of(n->cfg, n->tls);
    struct rconn conn;
    redisReply *r;
    int refused, rc = -1;

    snprintf(t.host, sizeof(t.host), "%s", host);
    t.port = port;
    t.db = 0;
    rconn_init(&conn);
    if (rconn_open(&conn, &t, NULL, err) < 0) {
        return -1;
    }
    v->naddr = 0;
    memset(v->owner, NO_NODE, sizeof(v->owner));
    r = rconn_call(&conn, "CLUSTER SHARDS", err, &refused, "CLUSTER SHARDS");
    if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
        view_from_shards(r, v, n->tls != NULL);
        rc = 0;
    } else if (r == NULL && refused) {
        /* A Redis before 7.0: the older form. */
        r = rconn_call(&conn, "CLUSTER SLOTS", err, NULL, "CLUSTER SLOTS");
        if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
            view_from_slots(r, v);
            rc = 0;
        }
    }
    freeReplyObject(r);
    rconn_close(&conn);
    if (rc == 0 && v->naddr == 0) {
        snprintf(err, REDIS_ERR_MAX, "%s:%d: no slot has an online master",
                 host, port);
        rc = -1;
    }
    return rc;
}

/* Publishes a view: its addresses become nodes, and slots whose owner
 * changes lose their entries first. Lock held. */
static void
apply_view(struct nodes *n, const struct view *v)
{
    static struct slot_set moved; /* lock held: one refresh at a time */
    int counts[NODES_MAX] = {0}, idx[NODES_MAX], i, count;
    unsigned s;

    for (i = 0; i < v->naddr; i++) {
        idx[i] = node_get(n, v->host[i], v->port[i]);
    }
    memset(&moved, 0, sizeof(moved));
    for (s = 0; s < NODES_SLOTS; s++) {
        unsigned char old = atomic_load(&n->owner[s]);
        int to = v->owner[s] == NO_NODE ? -1 : idx[v->owner[s]];

        if (to >= 0) {
            counts[to]++;
        }
        if (old != NO_NODE && (to < 0 || old != (unsigned char)to)) {
            set_add(&moved, s);
        }
    }
    if (moved.any) {
        struct key_scope scope = {set_has, &moved};

        flights_lost_in(n->flights, &scope);
        log_info("msg=\"cluster slots moved; their entries expired\"");
    }
    for (s = 0; s < NODES_SLOTS; s++) {
        int to = v->owner[s] == NO_NODE ? -1 : idx[v->owner[s]];

        atomic_store_explicit(&n->owner[s],
                              to < 0 ? NO_NODE : (unsigned char)to,
                              memory_order_release);
    }
    count = atomic_load(&n->count);
    for (i = 0; i < count; i++) {
        atomic_store(&node_at(n, i)->slots, counts[i]);
    }
}

/* Asks the known masters, then the seeds, until one tells the map
 * (network I/O without the lock), and publishes it. */
static void
refresh(struct nodes *n)
{
    static struct view v; /* only the keeper (and start) refreshes */
    const struct config *cfg = config_get(n->cfg);
    char err[REDIS_ERR_MAX] = "no seed", host[MAX_REDIRECT_HOST];
    const char *cursor = cfg->seeds;
    int i, port;

    for (i = 0; i < nodes_count(n); i++) {
        struct node *nd = node_at(n, i);

        if (atomic_load(&nd->slots) > 0 &&
            ask_view(n, nd->host, nd->port, &v, err) == 0) {
            goto found;
        }
    }
    if (ask_view(n, cfg->redis_host, cfg->redis_port, &v, err) == 0) {
        goto found;
    }
    while (config_seed_next(&cursor, host, sizeof(host), &port) == 1) {
        if (ask_view(n, host, port, &v, err) == 0) {
            goto found;
        }
    }
    pthread_mutex_lock(&n->lock);
    if (n->known || nodes_count(n) == 0) {
        log_warn("msg=\"cannot learn the cluster's slot map\" cause=\"%s\"",
                 err);
    }
    n->known = 0;
    pthread_mutex_unlock(&n->lock);
    return;

found:
    pthread_mutex_lock(&n->lock);
    apply_view(n, &v);
    if (!n->known) {
        log_info("msg=\"cluster slot map learned\" nodes=%d", nodes_count(n));
    }
    n->known = 1;
    pthread_mutex_unlock(&n->lock);
}

int
nodes_start(struct nodes *n)
{
    const struct config *cfg = config_get(n->cfg);
    int rc = 0;

    if (!n->cluster) {
        pthread_mutex_lock(&n->lock);
        rc = node_get(n, cfg->redis_host, cfg->redis_port) == 0 ? 0 : -1;
        pthread_mutex_unlock(&n->lock);
        return rc;
    }
    refresh(n);
    n->next_refresh_ms = util_now_ms() + cfg->cluster_refresh_ms;
    return 0;
}

int
nodes_is_cluster(const struct nodes *n)
{
    return n->cluster;
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

    if (o == NO_NODE) {
        nodes_want_refresh(n);
        return -1;
    }
    return o;
}

int
nodes_for_key(struct nodes *n, const char *key, size_t klen)
{
    return n->cluster ? nodes_for_slot(n, keyslot_of(key, klen)) : 0;
}

int
nodes_masters(struct nodes *n, int *out, int max)
{
    int i, k = 0, count = nodes_count(n);

    for (i = 0; i < count && k < max; i++) {
        if (!n->cluster || atomic_load(&node_at(n, i)->slots) > 0) {
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

struct upstream *
nodes_pool(struct nodes *n, int i)
{
    return node_at(n, i)->pool;
}

struct tracking *
nodes_tracking(struct nodes *n, int i)
{
    return node_at(n, i)->tracking;
}

const struct redis_target *
nodes_target(struct nodes *n, int i)
{
    return &node_at(n, i)->target;
}

int
nodes_redirect(struct nodes *n, const char *err, size_t len, int *ask)
{
    char text[MAX_REDIRECT_HOST + 32], host[MAX_REDIRECT_HOST];
    unsigned slot;
    int port, idx;
    char *colon;

    if (!n->cluster || len >= sizeof(text)) {
        return -1;
    }
    memcpy(text, err, len);
    text[len] = '\0';
    if (sscanf(text, "MOVED %u %255s", &slot, host) == 2) {
        *ask = 0;
    } else if (sscanf(text, "ASK %u %255s", &slot, host) == 2) {
        *ask = 1;
    } else {
        return -1;
    }
    colon = strrchr(host, ':');
    if (colon == NULL || slot >= NODES_SLOTS ||
        sscanf(colon + 1, "%d", &port) != 1) {
        return -1;
    }
    *colon = '\0';
    pthread_mutex_lock(&n->lock);
    idx = node_get(n, host, port);
    if (idx >= 0 && !*ask &&
        atomic_load(&n->owner[slot]) != (unsigned char)idx) {
        struct slot_set one;
        struct key_scope scope = {set_has, &one};

        /* The slot is somewhere else now: what was cached from its old
         * owner goes before the new one is used. */
        memset(&one, 0, sizeof(one));
        set_add(&one, slot);
        flights_lost_in(n->flights, &scope);
        atomic_store(&n->owner[slot], (unsigned char)idx);
    }
    pthread_mutex_unlock(&n->lock);
    if (!*ask) {
        nodes_want_refresh(n);
    }
    return idx;
}

void
nodes_tick_pipes(void *arg)
{
    struct nodes *n = arg;
    int i;

    for (i = 0; i < nodes_count(n); i++) {
        upstream_tick(node_at(n, i)->pool);
    }
}

void
nodes_want_refresh(struct nodes *n)
{
    if (n->cluster) {
        atomic_store(&n->want_refresh, 1);
    }
}

void
nodes_tick(struct nodes *n)
{
    int64_t now = util_now_ms();
    int i;

    (void)i;
    if (!n->cluster) {
        return;
    }
    if (atomic_exchange(&n->want_refresh, 0) || now >= n->next_refresh_ms) {
        refresh(n);
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

        tracking_wait_first(node_at(n, i)->tracking, left > 0 ? left : 0);
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
    struct node *nd = node_at(n, i);

    snprintf(out->addr, sizeof(out->addr), "%s:%d", nd->host, nd->port);
    out->slots = n->cluster ? atomic_load(&nd->slots) : NODES_SLOTS;
    out->master = out->slots > 0;
    slot_ranges(n, i, out->ranges, sizeof(out->ranges));
    tracking_stats(nd->tracking, &out->tracking);
    upstream_stats(nd->pool, &out->pool);
}

void
nodes_pool_stats(struct nodes *n, struct upstream_stats *out)
{
    int i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < nodes_count(n); i++) {
        struct upstream_stats s;

        upstream_stats(node_at(n, i)->pool, &s);
        out->size += s.size;
        out->in_use += s.in_use;
        out->connected += s.connected;
        out->errors += s.errors;
        out->reconnects += s.reconnects;
        out->epoch += s.epoch;
        out->down |= s.down;
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

        tracking_stats(node_at(n, i)->tracking, &ts);
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
            snprintf(reason, len, "no cluster slot map yet");
        }
        return config_get(n->cfg)->cache_tracking ? TRACKING_DOWN
                                                  : TRACKING_OFF;
    }
    for (i = 0; i < k; i++) {
        struct tracking_stats ts;

        tracking_stats(node_at(n, masters[i])->tracking, &ts);
        if (ts.state == TRACKING_OFF && worst == TRACKING_UP) {
            worst = TRACKING_OFF;
        } else if (ts.state == TRACKING_DOWN) {
            if (worst != TRACKING_DOWN && reason != NULL) {
                snprintf(reason, len, "%s:%d: %s", node_at(n, masters[i])->host,
                         node_at(n, masters[i])->port, ts.reason);
            }
            worst = TRACKING_DOWN;
        }
    }
    return worst;
}
