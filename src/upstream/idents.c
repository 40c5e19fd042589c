/*
 * idents: the registry of Redis identities and their pools; see
 * idents.h.
 *
 * The registry is an array indexed by identity number, each slot an
 * atomic pointer published once; lookups by credentials walk it under
 * the lock (an AUTH is no hot path), the tick and the stats walk it
 * without. An identity's per-node part (the target with its credentials,
 * and the pool) is made on first use and published with a compare and
 * swap, as upstream.c makes pipelines.
 */
#include "upstream/idents.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "upstream/nodes.h"

_Static_assert(IDENTS_MAX < (1u << (31 - IDENTS_DB_BITS)),
               "a partition fits a positive int");

#define CRED_MAX 256 /* = sizeof(struct redis_target.user), .password */

/* An identity's share of one node. */
struct ident_node {
    struct redis_target target; /* the node's, with the identity's
                                   credentials */
    struct upstream *pool;
};

struct ident {
    struct idents *set;
    unsigned id;
    atomic_int holds; /* client connections holding it */
    char user[CRED_MAX];
    char pass[CRED_MAX];
    _Atomic(struct ident_node *) node[NODES_MAX];
};

struct idents {
    const struct config_ref *cfg;
    struct nodes *nodes;
    struct waiter *w;
    pthread_mutex_t lock;                   /* lookups, count */
    atomic_uint count;                      /* identities made */
    _Atomic(struct ident *) id[IDENTS_MAX]; /* [number - 1] */
};

struct idents *
idents_create(const struct config_ref *cfg, struct nodes *n, struct waiter *w)
{
    struct idents *s = calloc(1, sizeof(*s));
    int i;

    if (s == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return NULL;
    }
    for (i = 0; i < IDENTS_MAX; i++) {
        atomic_init(&s->id[i], NULL);
    }
    s->cfg = cfg;
    s->nodes = n;
    s->w = w;
    return s;
}

static struct ident *
at(const struct idents *s, unsigned i)
{
    return atomic_load_explicit(&((struct idents *)s)->id[i],
                                memory_order_acquire);
}

static unsigned
made(const struct idents *s)
{
    return atomic_load_explicit(&((struct idents *)s)->count,
                                memory_order_acquire);
}

void
idents_destroy(struct idents *s)
{
    unsigned i;
    int j;

    if (s == NULL) {
        return;
    }
    for (i = 0; i < made(s); i++) {
        struct ident *id = at(s, i);

        for (j = 0; j < NODES_MAX; j++) {
            struct ident_node *in = atomic_load(&id->node[j]);

            if (in != NULL) {
                upstream_destroy(in->pool);
                free(in);
            }
        }
        explicit_bzero(id->pass, sizeof(id->pass));
        free(id);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static int
same(const char *kept, const char *p, size_t len)
{
    return strlen(kept) == len && memcmp(kept, p, len) == 0;
}

int
idents_is_own(const struct idents *s, const char *user, size_t ulen)
{
    const char *own = config_get(s->cfg)->redis_user;

    if (own[0] == '\0') {
        own = "default";
    }
    return user == NULL ? strcmp(own, "default") == 0 : same(own, user, ulen);
}

struct ident *
idents_get(struct idents *s, const char *user, size_t ulen, const char *pass,
           size_t plen)
{
    struct ident *id = NULL;
    unsigned i, n;

    if (ulen == 0 || ulen >= CRED_MAX || plen == 0 || plen >= CRED_MAX ||
        memchr(user, '\0', ulen) != NULL || memchr(pass, '\0', plen) != NULL) {
        return NULL;
    }
    pthread_mutex_lock(&s->lock);
    n = made(s);
    for (i = 0; i < n; i++) {
        struct ident *it = at(s, i);

        if (same(it->user, user, ulen) && same(it->pass, pass, plen)) {
            id = it;
            break;
        }
    }
    if (id == NULL && n < IDENTS_MAX && (id = calloc(1, sizeof(*id))) != NULL) {
        id->set = s;
        id->id = n + 1;
        memcpy(id->user, user, ulen);
        memcpy(id->pass, pass, plen);
        atomic_init(&id->holds, 0);
        for (i = 0; i < NODES_MAX; i++) {
            atomic_init(&id->node[i], NULL);
        }
        atomic_store_explicit(&s->id[n], id, memory_order_release);
        atomic_store_explicit(&s->count, n + 1, memory_order_release);
        log_info("msg=\"redis identity added\" user=%s id=%u", id->user,
                 id->id);
    } else if (id == NULL && n == IDENTS_MAX) {
        log_warn("msg=\"redis identities full: credentials refused\" max=%d",
                 IDENTS_MAX);
    }
    if (id != NULL) {
        atomic_fetch_add_explicit(&id->holds, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&s->lock);
    return id;
}

void
ident_hold(struct ident *id)
{
    if (id != NULL) {
        atomic_fetch_add_explicit(&id->holds, 1, memory_order_relaxed);
    }
}

void
ident_drop(struct ident *id)
{
    if (id != NULL) {
        atomic_fetch_sub_explicit(&id->holds, 1, memory_order_relaxed);
    }
}

unsigned
ident_id(const struct ident *id)
{
    return id->id;
}

const char *
ident_user(const struct ident *id)
{
    return id->user;
}

int
idents_partition(const struct ident *id, int db)
{
    if (id == NULL) {
        return db;
    }
    if (db < 0 || db >= (1 << IDENTS_DB_BITS)) {
        return -1;
    }
    return (int)(id->id << IDENTS_DB_BITS | (unsigned)db);
}

/* id's part of node i, made when new. NULL when out of memory. */
static struct ident_node *
node_of(struct ident *id, int i)
{
    _Atomic(struct ident_node *) *at_i = &id->node[i];
    struct ident_node *in = atomic_load_explicit(at_i, memory_order_acquire);
    struct ident_node *none = NULL;
    struct idents *s = id->set;

    if (in != NULL) {
        return in;
    }
    in = calloc(1, sizeof(*in));
    if (in == NULL) {
        return NULL;
    }
    in->target = *nodes_target(s->nodes, i);
    memcpy(in->target.user, id->user, sizeof(in->target.user));
    memcpy(in->target.password, id->pass, sizeof(in->target.password));
    in->pool =
        upstream_create(s->cfg, &in->target, nodes_tracking(s->nodes, i), s->w);
    if (in->pool == NULL) {
        free(in);
        return NULL;
    }
    if (!atomic_compare_exchange_strong_explicit(
            at_i, &none, in, memory_order_acq_rel, memory_order_acquire)) {
        upstream_destroy(in->pool); /* another thread made it first */
        free(in);
        return none;
    }
    return in;
}

struct upstream *
ident_pool(struct nodes *nodes, struct ident *id, int i)
{
    struct ident_node *in;

    if (id == NULL) {
        return nodes_pool(nodes, i);
    }
    in = node_of(id, i);
    return in != NULL ? in->pool : NULL;
}

const struct redis_target *
ident_target(struct nodes *nodes, struct ident *id, int i)
{
    struct ident_node *in;

    if (id == NULL) {
        return nodes_target(nodes, i);
    }
    in = node_of(id, i);
    return in != NULL ? &in->target : NULL;
}

int
ident_caches(const struct ident *id)
{
    int i, n = nodes_count(id->set->nodes);

    for (i = 0; i < n; i++) {
        struct ident_node *in = atomic_load_explicit(
            &((struct ident *)id)->node[i], memory_order_acquire);

        if (in != NULL && upstream_untracked(in->pool)) {
            return 0;
        }
    }
    return 1;
}

void
idents_tick_pipes(void *arg)
{
    struct idents *s = arg;
    int j, n = nodes_count(s->nodes);
    unsigned i;

    for (i = 0; i < made(s); i++) {
        struct ident *id = at(s, i);

        for (j = 0; j < n; j++) {
            struct ident_node *in =
                atomic_load_explicit(&id->node[j], memory_order_acquire);

            if (in != NULL) {
                upstream_tick(in->pool);
            }
        }
    }
}

void
idents_stats(struct idents *s, struct idents_stats *out)
{
    unsigned i;

    out->known = (long)made(s);
    out->in_use = 0;
    for (i = 0; i < made(s); i++) {
        out->in_use +=
            atomic_load_explicit(&at(s, i)->holds, memory_order_relaxed) > 0;
    }
}
