/*
 * End-to-end tests of reads from replicas ([redis] read_from) behind
 * Sentinel (harness_sentinel.h):
 *   - cache fills and read-only forwarded commands go to the replicas, as
 *     Redis counts them (INFO commandstats on each node: the master counts
 *     none of them); a client's read right after its own write goes to the
 *     master and gets what it wrote; what a fill from a replica cached is
 *     invalidated by that replica's own stream once it applies a write
 *     made straight into the master;
 *   - read_from = replica with no replica left: reads get an error naming
 *     why, writes still work; prefer_replica: the master answers;
 *   - real replication lag: one replica replicates through a relay holding
 *     every byte 200 ms each way; clients writing and reading their own
 *     keys through the proxy (GET through the cache, GETRANGE and MGET
 *     forwarded) never get an old value, while that replica does serve
 *     reads of keys not written lately, and the proxy measures its lag.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_cluster.h"
#include "harness_sentinel.h"

#define KEYS 30
#define RELAY_US 200000 /* each way */
#define CLIENTS 3
#define ROUNDS 300

H_SENTINEL_SUITE(replica_reads, 90);

static void
start_proxy(const char *read_from)
{
    char ini[128];

    snprintf(ini, sizeof(ini), "[redis]\nread_from = %s\n", read_from);
    h_st_proxy(&proxy, &sent, H_OPTS(.ini = ini, .admin = 1));
}

/* Both replicas are read from, their invalidation streams up, as the
 * proxy says. */
static int
replicas_in_sync(void *arg)
{
    char series[128];
    int i;

    (void)arg;
    for (i = 1; i < H_SENT_REDIS; i++) {
        snprintf(series, sizeof(series),
                 "redis_proxy_node_replica_in_sync{node=\"127.0.0.1:%d\"}",
                 sent.redis[i].port);
        if (h_metric(&proxy, series) != 1) {
            return 0;
        }
        snprintf(series, sizeof(series),
                 "redis_proxy_node_stream_state{node=\"127.0.0.1:%d\"}",
                 sent.redis[i].port);
        if (h_metric(&proxy, series) != 2) {
            return 0;
        }
    }
    return 1;
}

static void
await_replicas(int timeout_ms)
{
    cr_assert(h_wait_until(timeout_ms, replicas_in_sync, NULL),
              "the proxy does not read from both replicas");
    h_sleep_ms(300); /* the monitor's next rounds see both streams up */
}

/* SET key val straight into the master (node 0). */
static void
master_set(const char *key, const char *val)
{
    redisReply *r = h_sent_redis_cmd(&sent, 0, "SET %s %s", key, val);

    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

/* A command through the proxy on c: its reply as text into out (a bulk,
 * an integer, the first element of an array, or the error). */
static void
cmd(redisContext *c, char *out, size_t cap, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    cr_assert_not_null(r, "no reply: %s", c->errstr);
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        snprintf(out, cap, "%s",
                 r->element[0]->str != NULL ? r->element[0]->str : "(nil)");
    } else if (r->type == REDIS_REPLY_INTEGER) {
        snprintf(out, cap, "%lld", r->integer);
    } else if (r->str != NULL) {
        snprintf(out, cap, "%s%s", r->type == REDIS_REPLY_ERROR ? "-" : "",
                 r->str);
    } else {
        snprintf(out, cap, "(nil)");
    }
    freeReplyObject(r);
}

Test(replica_reads, reads_go_to_the_replicas_and_are_counted_there)
{
    long get0[H_SENT_REDIS], len0[H_SENT_REDIS], dget = 0, dlen = 0;
    char key[32], out[64];
    redisContext *c;
    int i;

    h_st_start(&sent, NULL);
    for (i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "r:%d", i);
        master_set(key, "v");
    }
    cr_assert(h_sent_wait_synced(&sent, 0, 5000));
    start_proxy("replica");
    await_replicas(5000);
    for (i = 0; i < H_SENT_REDIS; i++) {
        get0[i] = h_sent_calls(&sent, i, "get");
        len0[i] = h_sent_calls(&sent, i, "strlen");
    }
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    for (i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "r:%d", i);
        cmd(c, out, sizeof(out), "GET %s", key); /* a fill */
        cr_assert_str_eq(out, "v", "GET %s", key);
        cmd(c, out, sizeof(out), "STRLEN %s", key); /* forwarded */
        cr_assert_str_eq(out, "1", "STRLEN %s", key);
    }
    cr_expect_eq(h_sent_calls(&sent, 0, "get"), get0[0],
                 "the master served fills");
    cr_expect_eq(h_sent_calls(&sent, 0, "strlen"), len0[0],
                 "the master served reads");
    for (i = 1; i < H_SENT_REDIS; i++) {
        long g = h_sent_calls(&sent, i, "get") - get0[i];

        cr_expect_gt(g, 0, "replica %d served no fill", i);
        dget += g;
        dlen += h_sent_calls(&sent, i, "strlen") - len0[i];
    }
    cr_expect_eq(dget, KEYS, "fills on the replicas");
    cr_expect_eq(dlen, KEYS, "STRLENs on the replicas");
    cr_expect_eq(h_metric(&proxy, "redis_proxy_replica_reads_total{to="
                                  "\"replica\"}"),
                 2 * KEYS);

    /* A client's own write, then its reads: from the master. */
    cmd(c, out, sizeof(out), "SET r:0 written");
    cmd(c, out, sizeof(out), "GET r:0");
    cr_expect_str_eq(out, "written");
    cmd(c, out, sizeof(out), "STRLEN r:0");
    cr_expect_str_eq(out, "7");
    cr_expect_geq(h_metric(&proxy, "redis_proxy_replica_reads_total{to="
                                   "\"master_written\"}"),
                  2);

    /* Cached from a replica (a HIT), changed in the master directly: the
     * replica's stream invalidates it once the replica applies it. */
    h_expect_get(proxy.http_port, "/r:1", 200, "v", "HIT");
    master_set("r:1", "changed");
    h_cl_await_http(&proxy, "r:1", "changed", "v", 2000, NULL, 0);
    redisFree(c);
}

Test(replica_reads, no_replica_left_replica_errors_prefer_replica_falls_back)
{
    char out[256];
    redisContext *c;

    h_st_start(&sent, NULL);
    master_set("k", "v");
    cr_assert(h_sent_wait_synced(&sent, 0, 5000));
    start_proxy("replica");
    await_replicas(5000);
    h_sent_kill_redis(&sent, 1);
    h_sent_kill_redis(&sent, 2);
    h_sleep_ms(500); /* a few rounds of the monitor */
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    cmd(c, out, sizeof(out), "GET k");
    cr_expect(strstr(out, "-ERR redis unavailable: no replica to read from "
                          "(read_from = replica)") == out,
              "%s", out);
    cmd(c, out, sizeof(out), "STRLEN k");
    cr_expect(strstr(out, "no replica to read from") != NULL, "%s", out);
    cmd(c, out, sizeof(out), "SET k w");
    cr_expect_str_eq(out, "OK");
    redisFree(c);
    cr_expect_geq(
        h_metric(&proxy, "redis_proxy_replica_reads_total{to=\"refused\"}"), 2);

    start_proxy("prefer_replica");
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    cmd(c, out, sizeof(out), "GET k");
    cr_expect_str_eq(out, "w");
    cmd(c, out, sizeof(out), "STRLEN k");
    cr_expect_str_eq(out, "1");
    redisFree(c);
    cr_expect_geq(h_metric(&proxy, "redis_proxy_replica_reads_total{to="
                                   "\"master_fallback\"}"),
                  2);
}

/* ---- real lag ---- */

struct own {
    pthread_t thread;
    int id, port;
    atomic_long old, errors, done;
    char last[160];
};

/* Writes its key ROUNDS times, reading it back three ways after each. */
static void *
own_main(void *arg)
{
    struct own *o = arg;
    redisContext *c = redisConnect("127.0.0.1", o->port);
    int n;

    if (c == NULL || c->err) {
        atomic_fetch_add(&o->errors, 1);
        return NULL;
    }
    for (n = 1; n <= ROUNDS; n++) {
        char key[32], val[32];
        const char *cmds[] = {"GET %s", "GETRANGE %s 0 -1", "MGET %s p:0"};
        size_t i;
        redisReply *r;

        snprintf(key, sizeof(key), "own:%d", o->id);
        snprintf(val, sizeof(val), "%d", n);
        r = redisCommand(c, "SET %s %s", key, val);
        if (r == NULL || r->type != REDIS_REPLY_STATUS) {
            atomic_fetch_add(&o->errors, 1);
        }
        freeReplyObject(r);
        for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
            const char *got;

            r = redisCommand(c, cmds[i], key);
            got = r == NULL                       ? "(none)"
                  : r->type == REDIS_REPLY_ARRAY  ? r->element[0]->str
                  : r->type == REDIS_REPLY_STRING ? r->str
                                                  : "(other)";
            if (got == NULL || strcmp(got, val) != 0) {
                atomic_fetch_add(&o->old, 1);
                snprintf(o->last, sizeof(o->last), "%.*s %s after SET %s: %s",
                         (int)strcspn(cmds[i], " "), cmds[i], key, val,
                         got != NULL ? got : "(nil)");
            }
            freeReplyObject(r);
        }
        atomic_fetch_add(&o->done, 1);
        h_sleep_ms(2); /* a steady stream of writes for a while */
    }
    redisFree(c);
    return NULL;
}

/* The largest lag_ms stats.json shows for node port, or -1. */
static double
lag_ms_of(int port)
{
    char *body = h_st_admin(&proxy, "/stats.json"), needle[64];
    const char *at;
    double v = -1;

    snprintf(needle, sizeof(needle), "\"addr\":\"127.0.0.1:%d\"", port);
    at = strstr(body, needle);
    if (at != NULL) {
        v = h_json_num(at, "\"lag_ms\":");
    }
    free(body);
    return v;
}

Test(replica_reads, a_replica_200ms_behind_never_serves_a_clients_old_value)
{
    struct own o[CLIENTS];
    long far0;
    double lag = 0, l;
    char key[32], out[32];
    redisContext *c;
    int i, far;

    h_st_start(&sent, &(struct h_sent_opts){.delay_us = RELAY_US});
    far = sent.relayed;
    for (i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "p:%d", i);
        master_set(key, "still");
    }
    cr_assert(h_sent_wait_synced(&sent, 0, 5000));
    start_proxy("replica");
    await_replicas(5000);
    /* Keys nobody writes: the far replica serves some of their fills. */
    far0 = h_sent_calls(&sent, far, "get");
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    for (i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "p:%d", i);
        cmd(c, out, sizeof(out), "GET %s", key);
        cr_assert_str_eq(out, "still");
    }
    redisFree(c);
    cr_expect_gt(h_sent_calls(&sent, far, "get") - far0, 0,
                 "the far replica served no read");

    for (i = 0; i < CLIENTS; i++) {
        memset(&o[i], 0, sizeof(o[i]));
        o[i].id = i;
        o[i].port = proxy.resp_port;
        cr_assert_eq(pthread_create(&o[i].thread, NULL, own_main, &o[i]), 0);
    }
    for (;;) {
        long done = 0;

        for (i = 0; i < CLIENTS; i++) {
            done += atomic_load(&o[i].done);
        }
        l = lag_ms_of(sent.redis[far].port);
        lag = l > lag ? l : lag;
        if (done == (long)CLIENTS * ROUNDS) {
            break;
        }
        h_sleep_ms(50);
    }
    for (i = 0; i < CLIENTS; i++) {
        pthread_join(o[i].thread, NULL);
        cr_expect_eq(atomic_load(&o[i].errors), 0, "client %d: errors", i);
        cr_expect_eq(atomic_load(&o[i].old), 0, "client %d: %s", i, o[i].last);
    }
    cr_expect_geq(lag, RELAY_US / 1000 * 0.75,
                  "the far replica's lag was never seen (at most %.0f ms)",
                  lag);
    cr_expect_gt(h_metric(&proxy, "redis_proxy_replica_reads_total{to="
                                  "\"master_written\"}"),
                 0);
}
