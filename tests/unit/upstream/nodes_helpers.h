/*
 * nodes_helpers: the fixture shared by the node table's unit tests
 * (test_nodes.c: standalone and sentinel mode; test_nodes_cluster.c and
 * test_nodes_redirect.c: a real cluster); header-only because each
 * tests/unit/upstream/test_*.c is its own binary.
 *
 * The node table as main.c makes it: the settings (the test sets the
 * mode), the cache and its fill registry (coherence_helpers.h, so a
 * test sees what a change of owner does to them), and a waiter for the
 * pipelines (no event loop: these tests send nothing through the pools).
 * Then the ways a test looks at the table from outside: which node has
 * an address, a key in a given slot, the reply Redis gives a key on the
 * node the table names.
 */
#ifndef RP_TEST_NODES_HELPERS_H
#define RP_TEST_NODES_HELPERS_H

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

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
};

static struct nodes_fixture nf;

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
