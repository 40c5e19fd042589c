/*
 * cluster_helpers: a real Redis Cluster of three masters (no replicas)
 * for the upstream unit tests where cluster behaviour is the point
 * (test_nodes_cluster.c, test_nodes_redirect.c); header-only because each
 * tests/unit/upstream/test_*.c is its own binary.
 *
 * Three cluster-enabled redis-servers (unit_helpers.h), made a cluster
 * the way redis-cli --cluster create does it, minus the replicas: node i
 * takes the i-th third of the slots (CLUSTER ADDSLOTSRANGE) with a config
 * epoch of its own, every node meets the others, and the cluster counts as up
 * once every node knows which third each one owns (reads are allowed before
 * cluster_state says ok). The test moves slots itself the way an operator's
 * resharding does (CLUSTER SETSLOT ... NODE on every node), or half-way, for
 * ASK (MIGRATING on the owner, IMPORTING on the target). Every wait is bounded.
 */
#ifndef RP_TEST_CLUSTER_HELPERS_H
#define RP_TEST_CLUSTER_HELPERS_H

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "unit_helpers.h"

#define CLUSTER_NODES 3
#define CLUSTER_WAIT_MS 20000

struct unit_cluster {
    struct unit_redis node[CLUSTER_NODES];
    char id[CLUSTER_NODES][48]; /* each node's cluster id */
};

/* A command on node i's test connection; its reply must not be an
 * error. Free it with freeReplyObject. */
static inline redisReply *
cluster_cmd(struct unit_cluster *cl, int i, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = unit_redis_vcmd(cl->node[i].ctx, fmt, ap);
    va_end(ap);
    return r;
}

/* The first slot of node i's third (of i + 1: one past its last). */
static inline int
cluster_first_slot(int i)
{
    return i * 16384 / CLUSTER_NODES;
}

/* The node (index) owning slot, as node asker says. */
static inline int
cluster_owner(struct unit_cluster *cl, int asker, unsigned slot)
{
    redisReply *r = cluster_cmd(cl, asker, "CLUSTER SLOTS");
    int owner = -1;

    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];

        if ((unsigned)e->element[0]->integer <= slot &&
            slot <= (unsigned)e->element[1]->integer) {
            for (int k = 0; k < CLUSTER_NODES; k++) {
                if (e->element[2]->element[1]->integer == cl->node[k].port) {
                    owner = k;
                }
            }
        }
    }
    freeReplyObject(r);
    return owner;
}

/* 1 when node i knows every node and which third each one owns. */
static inline int
cluster_node_ok(struct unit_cluster *cl, int i)
{
    redisReply *r = cluster_cmd(cl, i, "CLUSTER INFO");
    char known[48];
    int all;

    snprintf(known, sizeof(known), "cluster_known_nodes:%d\r", CLUSTER_NODES);
    all = strstr(r->str, known) != NULL;
    freeReplyObject(r);
    if (!all) {
        return 0;
    }
    for (int k = 0; k < CLUSTER_NODES; k++) {
        if (cluster_owner(cl, i, (unsigned)cluster_first_slot(k)) != k ||
            cluster_owner(cl, i, (unsigned)cluster_first_slot(k + 1) - 1) !=
                k) {
            return 0;
        }
    }
    return 1;
}

/* Waits (bounded) until every node knows the whole map. */
static inline void
cluster_await_ok(struct unit_cluster *cl)
{
    for (int i = 0; i < CLUSTER_NODES; i++) {
        UNIT_AWAIT(CLUSTER_WAIT_MS, cluster_node_ok(cl, i),
                   "node %d never agreed", i);
    }
}

/* Node i's cluster bus port. */
static inline int
cluster_bus(struct unit_cluster *cl, int i)
{
    redisReply *r = cluster_cmd(cl, i, "CONFIG GET cluster-port");
    int bus;

    cr_assert_eq(r->elements, 2);
    bus = atoi(r->element[1]->str);
    freeReplyObject(r);
    return bus;
}

/* Starts the three nodes and makes them a cluster. */
static inline void
cluster_start(struct unit_cluster *cl)
{
    /* Reads are served before the cluster says ok (a master waits 2 s
     * after its start for that): the map is all these tests need. */
    static const char *const extra[] = {"--cluster-allow-reads-when-down",
                                        "yes", NULL};

    for (int i = 0; i < CLUSTER_NODES; i++) {
        redisReply *r;

        unit_redis_start(&cl->node[i], 1, extra);
        r = cluster_cmd(cl, i, "CLUSTER MYID");
        snprintf(cl->id[i], sizeof(cl->id[i]), "%s", r->str);
        freeReplyObject(r);
        freeReplyObject(
            cluster_cmd(cl, i, "CLUSTER SET-CONFIG-EPOCH %d", i + 1));
        freeReplyObject(cluster_cmd(cl, i, "CLUSTER ADDSLOTSRANGE %d %d",
                                    cluster_first_slot(i),
                                    cluster_first_slot(i + 1) - 1));
    }
    /* Every node meets every other one: the handshakes run at once
     * rather than wait for gossip. */
    for (int j = 0; j < CLUSTER_NODES; j++) {
        for (int i = 0; i < CLUSTER_NODES; i++) {
            if (i != j) {
                freeReplyObject(
                    cluster_cmd(cl, j, "CLUSTER MEET 127.0.0.1 %d %d",
                                cl->node[i].port, cluster_bus(cl, i)));
            }
        }
    }
    cluster_await_ok(cl);
}

/* Stops the nodes that were started. */
static inline void
cluster_stop(struct unit_cluster *cl)
{
    for (int i = 0; i < CLUSTER_NODES; i++) {
        if (cl->node[i].pid > 0) {
            unit_redis_stop(&cl->node[i]);
        }
    }
}

/* Moves slot (empty) to node to, on every node, as a resharding ends;
 * waits until every node says so. */
static inline void
cluster_move_slot(struct unit_cluster *cl, unsigned slot, int to)
{
    for (int i = 0; i < CLUSTER_NODES; i++) {
        freeReplyObject(
            cluster_cmd(cl, i, "CLUSTER SETSLOT %u NODE %s", slot, cl->id[to]));
    }
    for (int i = 0; i < CLUSTER_NODES; i++) {
        UNIT_AWAIT(CLUSTER_WAIT_MS, cluster_owner(cl, i, slot) == to,
                   "node %d: slot %u", i, slot);
    }
}

#endif
