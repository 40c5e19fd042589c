/*
 * nodes_helpers: the fixture shared by the node table's unit tests
 * (test_nodes.c: standalone and sentinel mode; test_nodes_cluster.c and
 * test_nodes_redirect.c: a real cluster); header-only because each
 * tests/unit/upstream/test_*.c is its own binary.
 *
 * The node table as main.c makes it: the settings (the test sets the
 * mode), the cache and its fill registry (coherence_helpers.h, so a
 * test sees what a change of owner does to them), and a waiter for the
 * pipelines (no event loop: these tests send nothing through the pools);
 * the servers behind it (two plain ones, or a cluster: cluster_helpers.h)
 * stopped at the test's end. Then the ways a test looks at the table from
 * outside: which node has an address, a key in a given slot, the reply
 * Redis gives a key on the node the table names.
 */
#ifndef RP_TEST_NODES_HELPERS_H
#define RP_TEST_NODES_HELPERS_H

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "cluster_helpers.h"
#include "coherence_helpers.h"
#include "net/waiter.h"
#include "net/workq.h"
#include "proto/keyslot.h"
#include "upstream/nodes.h"

struct nodes_fixture {
    struct config cfg;
    struct config_ref ref;
    struct workq *q;
    struct waiter *w;
    struct nodes *n;
    struct unit_redis redis[2]; /* servers the test started (pid 0: none) */
    struct unit_cluster cl;     /* a cluster the test started, or none */
    int idx[CLUSTER_NODES];     /* the table's node of each cluster node */
};

static struct nodes_fixture nf;

/* A test's start and end (TestSuite's init and fini): nothing yet; then
 * the table freed and whatever servers the test started stopped. */
static inline void
nf_setup(void)
{
    memset(&nf, 0, sizeof(nf));
}

/* Defaults, Redis at 127.0.0.1:port; the test changes nf.cfg before
 * nf_up. */
static inline void
nf_settings(int port)
{
    config_defaults(&nf.cfg);
    snprintf(nf.cfg.redis_host, sizeof(nf.cfg.redis_host), "127.0.0.1");
    nf.cfg.redis_port = port;
    atomic_init(&nf.ref.cur, &nf.cfg);
    nf.n = NULL;
}

/* The table for nf.cfg, created (not started). */
static inline void
nf_up(void)
{
    coh_init();
    nf.q = workq_create(64);
    cr_assert_not_null(nf.q);
    nf.w = waiter_create(nf.q, 16);
    cr_assert_not_null(nf.w);
    nf.n = nodes_create(&nf.ref, coh.flights, nf.w, NULL);
    cr_assert_not_null(nf.n);
}

/* Sentinel mode over sentinels (a host:port list; NULL: one that is never
 * asked, the test naming the master itself); the test changes nf.cfg
 * further before nf_start. */
static inline void
nf_sentinel_settings(const char *sentinels)
{
    nf_settings(1);
    snprintf(nf.cfg.sentinels, sizeof(nf.cfg.sentinels), "%s",
             sentinels != NULL ? sentinels : "127.0.0.1:1");
}

/* nf_up, then nodes_start, which must succeed. */
static inline void
nf_start(void)
{
    nf_up();
    cr_assert_eq(nodes_start(nf.n), 0);
}

/* Starts the test's two servers, nf.redis[0] and [1]; a replica of the
 * first syncs at once, not after diskless sync's delay. */
static inline void
nf_two_servers(void)
{
    static const char *const no_delay[] = {"--repl-diskless-sync-delay", "0",
                                           NULL};

    unit_redis_start(&nf.redis[0], 0, no_delay);
    unit_redis_start(&nf.redis[1], 0, NULL);
}

/* 1 when r says its link to its master is up. */
static inline int
nf_synced(struct unit_redis *r)
{
    redisReply *x = unit_redis_cmd(r->ctx, "INFO replication");
    int up = strstr(x->str, "master_link_status:up") != NULL;

    freeReplyObject(x);
    return up;
}

/* Makes nf.redis[1] a replica of [0] and waits until it is in sync. */
static inline void
nf_replicate(void)
{
    unit_redis_ok(nf.redis[1].ctx, "REPLICAOF 127.0.0.1 %d", nf.redis[0].port);
    UNIT_AWAIT(5000, nf_synced(&nf.redis[1]), "the replica never synced");
}

/* Frees what nf_up made, in main.c's order. Safe when nf_up never ran. */
static inline void
nf_down(void)
{
    if (nf.n == NULL) {
        return;
    }
    waiter_stop(nf.w);
    nodes_destroy(nf.n);
    waiter_destroy(nf.w);
    workq_destroy(nf.q);
    coh_fini();
    nf.n = NULL;
}

static inline void
nf_teardown(void)
{
    nf_down();
    for (int i = 0; i < 2; i++) {
        if (nf.redis[i].pid > 0) {
            unit_redis_stop(&nf.redis[i]);
        }
    }
    cluster_stop(&nf.cl);
}

/* The node of the table at 127.0.0.1:port, or -1. */
static inline int
nf_node_at(int port)
{
    for (int i = 0; i < nodes_count(nf.n); i++) {
        const struct redis_target *t = nodes_target(nf.n, i);

        if (t->port == port && strcmp(t->host, "127.0.0.1") == 0) {
            return i;
        }
    }
    return -1;
}

/* Fills nf.idx: every node of the cluster must be a node of the table. */
static inline void
nf_cluster_map(void)
{
    for (int k = 0; k < CLUSTER_NODES; k++) {
        nf.idx[k] = nf_node_at(nf.cl.node[k].port);
        cr_assert_geq(nf.idx[k], 0, "cluster node %d is no node", k);
    }
}

/* A key ("<prefix>:<n>") whose cluster slot is slot, into out. */
static inline const char *
nf_key_in_slot(char *out, size_t cap, const char *prefix, unsigned slot)
{
    for (int i = 0; i < 1000000; i++) {
        int len = snprintf(out, cap, "%s:%d", prefix, i);

        if (keyslot_of(out, (size_t)len) == slot) {
            return out;
        }
    }
    cr_assert_fail("no key of slot %u", slot);
    return NULL;
}

/* What Redis at node i of the table answers GET key ("" for nil, the
 * error text for an error: "MOVED 12 127.0.0.1:7001") into out. */
static inline void
nf_get_on(int i, const char *key, char *out, size_t cap)
{
    const struct redis_target *t = nodes_target(nf.n, i);
    redisContext *c = redisConnect(t->host, t->port);
    redisReply *r;

    cr_assert(c != NULL && !c->err, "node %d: no connection", i);
    r = redisCommand(c, "GET %s", key);
    cr_assert_not_null(r);
    snprintf(out, cap, "%s",
             r->type == REDIS_REPLY_NIL ? ""
             : r->str != NULL           ? r->str
                                        : "?");
    freeReplyObject(r);
    redisFree(c);
}

#endif
