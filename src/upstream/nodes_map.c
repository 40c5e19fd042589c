/*
 * nodes_map: learning a Redis Cluster's slot map (and, with replica
 * reads, each shard's replicas) from its nodes; see nodes.h. A view is
 * read from one node without the lock, by address, and published under
 * it: its addresses become nodes, the slots whose owner changes lose
 * their entries first.
 */
#include "upstream/nodes.h"
#include "upstream/nodes_int.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "proto/keyslot.h"
#include "upstream/rconn.h"

/* A new owner for every slot, and the replicas, from one node's view. */
struct view {
    char host[NODES_MAX][NODES_HOST_MAX];
    int port[NODES_MAX];
    int master_of[NODES_MAX]; /* address index of its master, or -1 */
    int naddr;
    unsigned char owner[NODES_SLOTS]; /* address index or NODES__NONE */
    int tls; /* the proxy speaks TLS: a node's "tls-port" is the one */
};

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
    if (v->naddr == NODES_MAX || strlen(host) >= NODES_HOST_MAX) {
        return -1;
    }
    snprintf(v->host[v->naddr], NODES_HOST_MAX, "%s", host);
    v->port[v->naddr] = (int)port;
    v->master_of[v->naddr] = -1;
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

/* A CLUSTER SHARDS member's address when it has role and is online
 * (a replica: not failed; one "loading" by the asked node's gossip may
 * well be in sync, which the replicas' monitor finds out), else -1 (not
 * added). */
static int
member_addr(struct view *v, const redisReply *m, const char *role)
{
    const redisReply *r = redis_reply_map_get(m, "role"),
                     *ip = redis_reply_map_get(m, "ip");
    const redisReply *port = redis_reply_map_get(m, "port");
    const redisReply *health = redis_reply_map_get(m, "health");
    const redisReply *tls_port = redis_reply_map_get(m, "tls-port");

    const char *h = redis_reply_is_str(health) ? health->str : NULL;
    int unfit =
        h != NULL && (strcmp(role, "master") == 0 ? strcmp(h, "online") != 0
                                                  : strcmp(h, "failed") == 0);

    if (v->tls && tls_port != NULL) {
        /* With tls-cluster on, a node says its TLS port as "tls-port"
         * ("port" is its plain one, absent when it has none). */
        port = tls_port;
    }
    if (!redis_reply_is_str(r) || strcmp(r->str, role) != 0 ||
        !redis_reply_is_str(ip) || port == NULL ||
        port->type != REDIS_REPLY_INTEGER || unfit) {
        return -1;
    }
    return view_addr(v, ip->str, port->integer);
}

/* CLUSTER SHARDS: the online master of each shard and its slot ranges;
 * with replicas, its online replicas too. */
static void
view_from_shards(const redisReply *r, struct view *v, int replicas)
{
    size_t i, j;

    for (i = 0; i < r->elements; i++) {
        const redisReply *slots = redis_reply_map_get(r->element[i], "slots");
        const redisReply *members = redis_reply_map_get(r->element[i], "nodes");
        int idx = -1, rep;

        if (members == NULL || members->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        for (j = 0; j < members->elements && idx < 0; j++) {
            idx = member_addr(v, members->element[j], "master");
        }
        if (idx < 0 || slots == NULL || slots->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        for (j = 0; j + 1 < slots->elements; j += 2) {
            view_range(v, slots->element[j]->integer,
                       slots->element[j + 1]->integer, idx);
        }
        for (j = 0; replicas && j < members->elements; j++) {
            rep = member_addr(v, members->element[j], "replica");
            if (rep >= 0) {
                v->master_of[rep] = idx;
            }
        }
    }
}

/* CLUSTER SLOTS: [from, to, [ip, port, id], replicas...] per range. */
static void
view_from_slots(const redisReply *r, struct view *v, int replicas)
{
    size_t i, k;

    for (i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        int idx = -1, rep;

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3) {
            continue;
        }
        for (k = 2; k < e->elements && (k == 2 || (replicas && idx >= 0));
             k++) {
            const redisReply *m = e->element[k];

            if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
                !redis_reply_is_str(m->element[0]) ||
                m->element[1]->type != REDIS_REPLY_INTEGER) {
                continue;
            }
            rep = view_addr(v, m->element[0]->str, m->element[1]->integer);
            if (k == 2) {
                idx = rep;
            } else if (rep >= 0 && rep != idx) {
                v->master_of[rep] = idx;
            }
        }
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
    v->tls = n->tls != NULL;
    memset(v->owner, NODES__NONE, sizeof(v->owner));
    r = rconn_call(&conn, "CLUSTER SHARDS", err, &refused, "CLUSTER SHARDS");
    if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
        view_from_shards(r, v, n->replica_reads);
        rc = 0;
    } else if (r == NULL && refused) {
        /* A Redis before 7.0: the older form. */
        r = rconn_call(&conn, "CLUSTER SLOTS", err, NULL, "CLUSTER SLOTS");
        if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
            view_from_slots(r, v, n->replica_reads);
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

/* The view's replicas become each node's: its master noted, and each
 * master's mask of replicas. Lock held. */
static void
apply_replicas(struct nodes *n, const struct view *v, const int *idx)
{
    uint64_t masks[NODES_MAX] = {0};
    int i, count;

    for (i = 0; i < v->naddr; i++) {
        int m = v->master_of[i] >= 0 ? idx[v->master_of[i]] : -1;

        if (idx[i] >= 0 && m >= 0) {
            masks[m] |= UINT64_C(1) << idx[i];
        }
    }
    count = atomic_load(&n->count);
    for (i = 0; i < count; i++) {
        struct nodes__node *nd = nodes__at(n, i);
        int m = -1, j;

        for (j = 0; j < count; j++) {
            if (masks[j] & (UINT64_C(1) << i)) {
                m = j;
            }
        }
        atomic_store(&nd->master_of, m);
        atomic_store(&nd->replicas, masks[i]);
    }
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
        idx[i] = nodes__get(n, v->host[i], v->port[i]);
    }
    memset(&moved, 0, sizeof(moved));
    for (s = 0; s < NODES_SLOTS; s++) {
        unsigned char old = atomic_load(&n->owner[s]);
        int to = v->owner[s] == NODES__NONE ? -1 : idx[v->owner[s]];

        if (to >= 0) {
            counts[to]++;
        }
        if (old != NODES__NONE && (to < 0 || old != (unsigned char)to)) {
            set_add(&moved, s);
        }
    }
    if (moved.any) {
        struct key_scope scope = {set_has, &moved};

        flights_lost_in(n->flights, &scope);
        log_info("msg=\"cluster slots moved; their entries expired\"");
    }
    for (s = 0; s < NODES_SLOTS; s++) {
        int to = v->owner[s] == NODES__NONE ? -1 : idx[v->owner[s]];

        atomic_store_explicit(&n->owner[s],
                              to < 0 ? NODES__NONE : (unsigned char)to,
                              memory_order_release);
    }
    if (moved.any) {
        atomic_fetch_add(&n->epoch, 1);
    }
    count = atomic_load(&n->count);
    for (i = 0; i < count; i++) {
        atomic_store(&nodes__at(n, i)->slots, counts[i]);
    }
    apply_replicas(n, v, idx);
}

void
nodes__refresh(struct nodes *n)
{
    static struct view v; /* only the keeper (and start) refreshes */
    const struct config *cfg = config_get(n->cfg);
    char err[REDIS_ERR_MAX] = "no seed", host[NODES_HOST_MAX];
    const char *cursor = cfg->seeds;
    int i, port;

    for (i = 0; i < nodes_count(n); i++) {
        struct nodes__node *nd = nodes__at(n, i);

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
nodes_redirect(struct nodes *n, const char *err, size_t len, int *ask)
{
    char text[NODES_HOST_MAX + 32], host[NODES_HOST_MAX];
    unsigned slot;
    int port, idx;
    char *colon, *end;
    long p;

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
    if (colon == NULL || slot >= NODES_SLOTS) {
        return -1;
    }
    p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || p < 1 || p > 65535) {
        return -1; /* no port, or not only a port */
    }
    port = (int)p;
    *colon = '\0';
    pthread_mutex_lock(&n->lock);
    idx = nodes__get(n, host, port);
    if (idx >= 0 && !*ask &&
        atomic_load(&n->owner[slot]) != (unsigned char)idx) {
        struct slot_set one;
        struct key_scope scope = {set_has, &one};

        /* The slot is somewhere else now: what was cached from its old
         * owner goes before the new one is used. */
        unsigned char old = atomic_load(&n->owner[slot]);

        memset(&one, 0, sizeof(one));
        set_add(&one, slot);
        flights_lost_in(n->flights, &scope);
        atomic_store(&n->owner[slot], (unsigned char)idx);
        atomic_fetch_add(&n->epoch, 1);
        /* Each node counts the slots it owns now (nodes_int.h). */
        if (old != NODES__NONE) {
            atomic_fetch_sub(&nodes__at(n, old)->slots, 1);
        }
        atomic_fetch_add(&nodes__at(n, idx)->slots, 1);
    }
    pthread_mutex_unlock(&n->lock);
    if (!*ask) {
        nodes_want_refresh(n);
    }
    return idx;
}
