/*
 * End-to-end tests of cluster mode against a real six-node Redis Cluster
 * (harness_cluster.h: three masters, one replica each, a fresh cluster per
 * test): reads and writes through the proxy, HTTP and RESP, on keys of
 * every master, each checked against what that master holds; hash tags
 * keep keys on one node; a write made directly on any master is seen
 * through the proxy at once (each node's own invalidation stream); HTTP
 * PUT and DELETE on every master; a dead first seed; and the per-node lines of
 * /readyz, /metrics and /stats.json, against the cluster's own slot map.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_cluster.h"

#define VISIBLE_MS 1000 /* a direct write reaches the proxy's clients */

H_CLUSTER_SUITE(cluster, 60);

/* The value of key on node i, directly: 1 and out, 0 for nil, -1. */
static int
node_get(int i, const char *key, char *out, size_t cap)
{
    redisContext *c = h_cnode_ctx(&cluster, i);
    int rc;

    cr_assert_not_null(c, "node %d does not answer", i);
    rc = h_resp_get(c, key, out, cap);
    redisFree(c);
    return rc;
}

static void
expect_on_node(int i, const char *key, const char *want)
{
    char got[256];

    cr_assert_eq(node_get(i, key, got, sizeof(got)), 1,
                 "GET %s on node %d (port %d): %s", key, i,
                 cluster.node[i].port, got);
    cr_expect_str_eq(got, want, "node %d holds %s = '%s', want '%s'", i, key,
                     got, want);
}

static redisContext *
proxy_ctx(void)
{
    redisContext *c = h_proxy_resp_ctx(&proxy);

    cr_assert_not_null(c, "no RESP connection to the proxy");
    return c;
}

/* A command through the proxy whose reply must be status +OK. */
static void
proxy_ok(redisContext *c, const char *what, redisReply *r)
{
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS &&
                  strcmp(r->str, "OK") == 0,
              "%s through the proxy: %s", what,
              r == NULL        ? c->errstr
              : r->str != NULL ? r->str
                               : "(not +OK)");
    freeReplyObject(r);
}

static void
expect_resp_get(redisContext *c, const char *key, const char *want)
{
    char got[256];

    cr_assert_eq(h_resp_get(c, key, got, sizeof(got)), 1, "RESP GET %s: %s",
                 key, got);
    cr_expect_str_eq(got, want, "RESP GET %s", key);
}

Test(cluster, reads_and_writes_reach_the_master_owning_each_key)
{
    redisContext *c;
    int m[H_CLUSTER_MASTERS];
    char key[64], direct[64], path[80], val[64];

    h_cl_masters(&cluster, m);
    h_cl_proxy(&proxy, &cluster, NULL);
    c = proxy_ctx();
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        /* written through the proxy: lands on its master */
        h_cl_key_on(&cluster, m[i], "rw:", key, sizeof(key));
        snprintf(val, sizeof(val), "via-proxy-%d", i);
        proxy_ok(c, "SET", redisCommand(c, "SET %s %s", key, val));
        expect_on_node(m[i], key, val);
        snprintf(path, sizeof(path), "/%s", key);
        h_expect_get(proxy.http_port, path, 200, val, "MISS");
        h_expect_get(proxy.http_port, path, 200, val, "HIT");
        expect_resp_get(c, key, val);

        /* written on the master: read through the proxy, RESP first */
        h_cl_key_on(&cluster, m[i], "direct:", direct, sizeof(direct));
        snprintf(val, sizeof(val), "on-node-%d", i);
        h_cl_set(&cluster, m[i], direct, val);
        expect_resp_get(c, direct, val);
        snprintf(path, sizeof(path), "/%s", direct);
        h_expect_get(proxy.http_port, path, 200, val, "HIT");
    }
    /* a key nobody wrote, on each side */
    h_expect_get(proxy.http_port, "/rw:nobody", 404, NULL, NULL);
    redisFree(c);
}

Test(cluster, hash_tags_put_keys_on_one_node)
{
    redisContext *c;
    long sa = h_cluster_keyslot(&cluster, "{user1}a", 8);
    long sb = h_cluster_keyslot(&cluster, "{user1}b", 8);
    int owner;
    redisReply *r;

    cr_assert(sa >= 0 && sa == sb, "CLUSTER KEYSLOT: %ld and %ld", sa, sb);
    owner = h_cluster_owner(&cluster, (unsigned)sa);
    cr_assert_geq(owner, 0);
    h_cl_proxy(&proxy, &cluster, NULL);
    c = proxy_ctx();
    proxy_ok(c, "MSET", redisCommand(c, "MSET {user1}a 1 {user1}b 2"));
    expect_on_node(owner, "{user1}a", "1");
    expect_on_node(owner, "{user1}b", "2");
    /* a command of two keys of one slot is not split: Redis runs it */
    r = redisCommand(c, "RENAME {user1}a {user1}c");
    proxy_ok(c, "RENAME {user1}a {user1}c", r);
    expect_on_node(owner, "{user1}c", "1");
    r = redisCommand(c, "SUNIONSTORE {user1}s {user1}x {user1}y");
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 0,
              "SUNIONSTORE in one slot: %s",
              r != NULL && r->str != NULL ? r->str : "not :0");
    freeReplyObject(r);
    h_expect_get(proxy.http_port, "/%7Buser1%7Db", 200, "2", "MISS");
    h_expect_get(proxy.http_port, "/%7Buser1%7Db", 200, "2", "HIT");
    redisFree(c);
}

Test(cluster, a_write_on_any_master_is_seen_at_once)
{
    redisContext *c;
    int m[H_CLUSTER_MASTERS];
    char key[H_CLUSTER_MASTERS][64], xc[16], path[256];

    h_cl_masters(&cluster, m);
    h_cl_proxy(&proxy, &cluster, H_OPTS(.admin = 1));
    c = proxy_ctx();
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        h_cl_key_on(&cluster, m[i], "inv:", key[i], sizeof(key[i]));
        h_cl_set(&cluster, m[i], key[i], "v1");
        snprintf(path, sizeof(path), "/%s", key[i]);
        h_expect_get(proxy.http_port, path, 200, "v1", "MISS");
        h_expect_get(proxy.http_port, path, 200, "v1", "HIT");
        expect_resp_get(c, key[i], "v1");
    }
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        /* HTTP sees the write, and so does RESP */
        h_cl_set(&cluster, m[i], key[i], "v2");
        h_cl_await_http(&proxy, key[i], "v2", "v1", VISIBLE_MS, xc, sizeof(xc));
        cr_expect_str_eq(xc, "MISS", "the first read after the write");
        expect_resp_get(c, key[i], "v2");
        /* RESP first this time: it is the same cache */
        h_cl_set(&cluster, m[i], key[i], "v3");
        h_cl_await_resp(c, key[i], "v3", "v2", VISIBLE_MS);
        snprintf(path, sizeof(path), "/%s", key[i]);
        h_expect_get(proxy.http_port, path, 200, "v3", "HIT");
        /* a delete too */
        h_cl_cmd_ok(&cluster, m[i], "DEL %s", key[i]);
        h_cl_await_resp(c, key[i], NULL, "v3", VISIBLE_MS);
    }
    cr_expect_geq(h_metric(&proxy, "redis_proxy_cache_invalidations_total"),
                  3 * H_CLUSTER_MASTERS);
    redisFree(c);
}

Test(cluster, readyz_metrics_and_stats_name_every_master)
{
    int *owner = malloc(H_CLUSTER_SLOTS * sizeof(int));
    int m[H_CLUSTER_MASTERS], status;
    char *body, *text, line[256], series[160], ranges[128];

    cr_assert_not_null(owner);
    h_cl_masters(&cluster, m);
    cr_assert_eq(h_cluster_slot_map(&cluster, owner), 0);
    h_cl_proxy(&proxy, &cluster, H_OPTS(.admin = 1));
    body = h_cl_admin_get(&proxy, "/readyz", &status);
    cr_assert_eq(status, 200, "/readyz: %d %s", status, body);
    cr_assert(strncmp(body, "ready\n", 6) == 0, "/readyz: %s", body);
    cr_assert_eq(h_count_lines(body, "node "), H_CLUSTER_MASTERS,
                 "/readyz lists the masters only: %s", body);
    text = h_scrape(&proxy);
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        int port = cluster.node[m[i]].port;
        int n = h_cluster_ranges(owner, m[i], ranges, sizeof(ranges));
        char want[256];

        snprintf(want, sizeof(want),
                 "node 127.0.0.1:%d master slots=%d (%s) "
                 "stream=up pool=",
                 port, n, ranges);
        h_nth_line(body, want, 0, line, sizeof(line));
        cr_expect(strncmp(line, want, strlen(want)) == 0,
                  "/readyz has no line '%s...':\n%s", want, body);
        snprintf(series, sizeof(series),
                 "redis_proxy_node_slots{node=\"127.0.0.1:%d\"}", port);
        cr_expect_eq(h_prom_value(text, series), n, "%s", series);
        snprintf(series, sizeof(series),
                 "redis_proxy_node_stream_state{node=\"127.0.0.1:%d\"}", port);
        cr_expect_eq(h_prom_value(text, series), 2, "%s", series);
        snprintf(series, sizeof(series),
                 "redis_proxy_node_stream_drops_total{node=\"127.0.0.1:%d\"}",
                 port);
        cr_expect_eq(h_prom_value(text, series), 0, "%s", series);
        snprintf(series, sizeof(series),
                 "redis_proxy_node_pool_in_use{node=\"127.0.0.1:%d\"}", port);
        cr_expect_eq(h_prom_value(text, series), 0, "%s", series);
        snprintf(series, sizeof(series),
                 "redis_proxy_node_pool_connected{node=\"127.0.0.1:%d\"}",
                 port);
        cr_expect(!isnan(h_prom_value(text, series)), "%s", series);
        snprintf(series, sizeof(series),
                 "redis_proxy_node_errors_total{node=\"127.0.0.1:%d\"}", port);
        cr_expect_eq(h_prom_value(text, series), 0, "%s", series);
    }
    free(text);
    free(body);
    body = h_cl_admin_get(&proxy, "/stats.json", &status);
    cr_assert_eq(status, 200);
    cr_assert_eq(h_json_check(body), 0, "/stats.json is not JSON: %s", body);
    cr_assert_not_null(strstr(body, "\"nodes\":["));
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        char want[256];

        h_cluster_ranges(owner, m[i], ranges, sizeof(ranges));
        snprintf(want, sizeof(want),
                 "{\"addr\":\"127.0.0.1:%d\",\"role\":\"master\",\"slots\":%d,"
                 "\"ranges\":\"%s\",\"stream\":\"up\"",
                 cluster.node[m[i]].port,
                 h_cluster_ranges(owner, m[i], ranges, sizeof(ranges)), ranges);
        cr_expect_not_null(strstr(body, want), "/stats.json lacks %s: %s", want,
                           body);
    }
    free(body);
    free(owner);
}

Test(cluster, a_dead_first_seed_and_a_live_replica_in_seeds_suffice)
{
    int dead = h_closed_port(), dead2 = h_closed_port(), m[H_CLUSTER_MASTERS];
    int replica, status;
    char seeds[96], key[64], path[80], *body;
    redisContext *c;

    cr_assert(dead > 0 && dead2 > 0);
    h_cl_masters(&cluster, m);
    replica = h_cluster_replica_of(&cluster, m[1]);
    cr_assert_geq(replica, 0, "no replica of node %d", m[1]);
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d,127.0.0.1:%d", dead2,
             cluster.node[replica].port);
    cr_assert_eq(h_cluster_proxy_start(&proxy, &cluster, dead, seeds,
                                       H_OPTS(.admin = 1)),
                 0, "the proxy did not start with a dead first seed");
    body = h_cl_admin_get(&proxy, "/readyz", &status);
    cr_expect_eq(status, 200, "/readyz: %s", body);
    cr_expect_eq(h_count_lines(body, " master slots="), H_CLUSTER_MASTERS, "%s",
                 body);
    free(body);
    c = proxy_ctx();
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        h_cl_key_on(&cluster, m[i], "seed:", key, sizeof(key));
        proxy_ok(c, "SET", redisCommand(c, "SET %s v%d", key, i));
        expect_on_node(m[i], key, (char[]){'v', (char)('0' + i), 0});
        snprintf(path, sizeof(path), "/%s", key);
        h_expect_get(proxy.http_port, path, 200,
                     (char[]){'v', (char)('0' + i), 0}, "MISS");
    }
    redisFree(c);
}

Test(cluster, http_put_and_delete_reach_the_master_owning_each_key)
{
    int m[H_CLUSTER_MASTERS], fd;
    char key[64], path[80], got[64];
    struct h_resp r = {0};

    h_cl_masters(&cluster, m);
    h_cl_proxy(&proxy, &cluster, H_OPTS(.ini = "[http]\nwrites = on\n"));
    fd = h_conn(proxy.http_port);
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        h_cl_key_on(&cluster, m[i], "put:", key, sizeof(key));
        snprintf(path, sizeof(path), "/%s", key);
        cr_assert_eq(h_http_do(fd, "PUT", path, NULL, "put-value", 9, &r, 5000),
                     0, "PUT %s", path);
        cr_expect_eq(r.status, 204, "PUT %s: %d %s", path, r.status, r.body);
        h_resp_free(&r);
        expect_on_node(m[i], key, "put-value");
        h_expect_get(proxy.http_port, path, 200, "put-value", "MISS");
        h_expect_get(proxy.http_port, path, 200, "put-value", "HIT");
        cr_assert_eq(h_http_do(fd, "DELETE", path, NULL, NULL, 0, &r, 5000), 0);
        cr_expect_eq(r.status, 204, "DELETE %s: %d", path, r.status);
        h_resp_free(&r);
        cr_expect_eq(node_get(m[i], key, got, sizeof(got)), 0,
                     "%s still on node %d", key, m[i]);
        h_expect_get(proxy.http_port, path, 404, NULL, NULL);
        cr_assert_eq(h_http_do(fd, "DELETE", path, NULL, NULL, 0, &r, 5000), 0);
        cr_expect_eq(r.status, 404, "DELETE %s again: %d", path, r.status);
        h_resp_free(&r);
    }
    close(fd);
}
