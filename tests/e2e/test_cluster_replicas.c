/*
 * End-to-end tests of reads from a Redis Cluster's replicas ([redis]
 * cluster = on, read_from = replica; see harness_cluster.h): the proxy
 * learns each shard's replicas from CLUSTER SHARDS and opens its
 * connections to them with READONLY, so a fill of a key goes to the
 * replica of the master owning its slot (its GET counted there, not on
 * any master), a read-only forwarded command too, and a client reading
 * its own write gets it (from the master).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_cluster.h"

H_CLUSTER_SUITE(cluster_replicas, 90);

/* calls of cmdstat_<cmd> on node i */
static long
calls(int i, const char *cmd)
{
    return h_cl_calls(&cluster, i, cmd);
}

/* Replica node `node` holds key (asked with READONLY). */
struct has {
    int node;
    const char *key;
};

static int
replica_has(void *arg)
{
    const struct has *h = arg;
    redisContext *c = h_cnode_ctx(&cluster, h->node);
    redisReply *r;
    int yes = 0;

    if (c == NULL) {
        return 0;
    }
    r = redisCommand(c, "READONLY");
    freeReplyObject(r);
    r = redisCommand(c, "GET %s", h->key);
    yes = r != NULL && r->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    redisFree(c);
    return yes;
}

/* Every replica is read from, as the proxy says. */
static int
all_in_sync(void *arg)
{
    double v = h_metric(&proxy, "redis_proxy_replica_written_keys");
    char *text = h_scrape(&proxy);
    const char *p = text;
    int n = 0;

    (void)arg;
    while ((p = strstr(p, "redis_proxy_node_replica_in_sync{")) != NULL) {
        p = strchr(p, '}');
        n += p != NULL && strncmp(p, "} 1", 3) == 0;
        if (p == NULL) {
            break;
        }
    }
    free(text);
    return v == 0 && n == H_CLUSTER_NODES - H_CLUSTER_MASTERS;
}

Test(cluster_replicas, fills_and_reads_go_to_the_shards_replicas)
{
    int m[H_CLUSTER_MASTERS], rep[H_CLUSTER_MASTERS], i;
    long get0[H_CLUSTER_NODES], len0[H_CLUSTER_NODES];
    char key[H_CLUSTER_MASTERS][64], val[64];
    redisContext *c;
    redisReply *r;

    h_cl_masters(&cluster, m);
    for (i = 0; i < H_CLUSTER_MASTERS; i++) {
        rep[i] = h_cluster_replica_of(&cluster, m[i]);
        cr_assert_geq(rep[i], 0, "master %d has no replica", i);
        h_cl_key_on(&cluster, m[i], "rk", key[i], sizeof(key[i]));
        h_cl_set(&cluster, m[i], key[i], "v");
        cr_assert(
            h_wait_until(3000, replica_has, &(struct has){rep[i], key[i]}),
            "the replica of master %d did not get %s", i, key[i]);
    }
    h_cl_proxy(&proxy, &cluster,
               H_OPTS(.ini = "[redis]\nread_from = replica\n", .admin = 1));
    if (!h_wait_until(5000, all_in_sync, NULL)) {
        int st;
        char *body = h_cl_admin_get(&proxy, "/readyz", &st);

        cr_assert_fail("the proxy does not read from every replica:\n%s", body);
    }
    for (i = 0; i < H_CLUSTER_NODES; i++) {
        get0[i] = calls(i, "get");
        len0[i] = calls(i, "strlen");
    }
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    for (i = 0; i < H_CLUSTER_MASTERS; i++) {
        cr_assert_eq(h_resp_get(c, key[i], val, sizeof(val)), 1, "%s", val);
        cr_assert_str_eq(val, "v");
        r = redisCommand(c, "STRLEN %s", key[i]);
        cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER &&
                  r->integer == 1);
        freeReplyObject(r);
    }
    for (i = 0; i < H_CLUSTER_MASTERS; i++) {
        cr_expect_eq(calls(rep[i], "get") - get0[rep[i]], 1,
                     "the replica of master %d served no fill", i);
        cr_expect_eq(calls(rep[i], "strlen") - len0[rep[i]], 1,
                     "the replica of master %d served no STRLEN", i);
        cr_expect_eq(calls(m[i], "get"), get0[m[i]], "master %d filled", i);
        cr_expect_eq(calls(m[i], "strlen"), len0[m[i]], "master %d read", i);
    }
    /* Its own write, read back at once. */
    for (i = 0; i < H_CLUSTER_MASTERS; i++) {
        r = redisCommand(c, "SET %s mine", key[i]);
        cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
        cr_assert_eq(h_resp_get(c, key[i], val, sizeof(val)), 1, "%s", val);
        cr_expect_str_eq(val, "mine");
    }
    redisFree(c);
}
