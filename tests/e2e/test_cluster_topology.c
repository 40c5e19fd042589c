/*
 * End-to-end tests of a Redis Cluster changing under the proxy (see
 * harness_cluster.h): slots resharded by redis-cli while clients read and
 * write through the proxy without one error, and afterwards a write made
 * on the new owner is seen at once (nothing cached from the old owner,
 * the new one's stream covering what was read from it); a master killed
 * and its replica promoted (CLUSTER FAILOVER TAKEOVER): reads come back
 * within a bound and serve what was written on the new master, never the
 * old value; one master's invalidation stream killed (CLIENT KILL TYPE
 * pubsub): its entries expire, so a change made meanwhile is not served
 * stale, the other masters' entries stay hits, and the stream comes back
 * (/readyz, node_stream_drops_total).
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_cluster.h"

#define VISIBLE_MS 1000  /* a direct write reaches the proxy's clients */
#define RECOVER_MS 15000 /* reads come back after a failover */
#define RESHARD_MS 90000 /* redis-cli --cluster reshard */
#define MOVE_SLOTS 300   /* slots the reshard moves */
#define FILLER 600       /* keys in them for MIGRATE to move */
#define HOT 6            /* keys written and read by the load */
#define FIXED 6          /* keys only read by the load */
#define TAG_FILL 300     /* keys sharing the slot of each of those */

H_CLUSTER_SUITE(cluster_topology, 120);

/* calls of cmdstat_<cmd> on node i */
static long
calls(int i, const char *cmd)
{
    return h_cl_calls(&cluster, i, cmd);
}

/* ---- a client load through the proxy, on its own thread ---- */

struct load {
    char (*keys)[64];
    int nkeys;
    int writer; /* SET each key, then read it back; else read "fixed-N" */
    int http_port, resp_port;
    atomic_int stop;
    atomic_long ops;
    atomic_int errors;
    char first[512]; /* the first error, set once by the thread */
};

/* Counts an error; the first one's text is kept: "<what> <key>: <got>". */
static void
load_error(struct load *l, const char *what, const char *key, const char *got)
{
    if (atomic_fetch_add(&l->errors, 1) == 0) {
        snprintf(l->first, sizeof(l->first), "%s %s: %.400s", what, key, got);
    }
}

static void *
load_main(void *arg)
{
    struct load *l = arg;
    redisContext *c = NULL;
    int fd = -1;
    long n = 0;

    while (!atomic_load(&l->stop)) {
        for (int i = 0; i < l->nkeys && !atomic_load(&l->stop); i++) {
            char want[64], got[256], path[80];
            struct h_resp r = {0};

            if (c == NULL &&
                (c = redisConnect("127.0.0.1", l->resp_port)) != NULL &&
                c->err) {
                load_error(l, "RESP connect", "-", c->errstr);
                redisFree(c);
                c = NULL;
            }
            if (fd < 0 && (fd = h_connect(l->http_port)) < 0) {
                load_error(l, "HTTP connect", "-", "failed");
            }
            if (c == NULL || fd < 0) {
                continue;
            }
            if (l->writer) {
                redisReply *rep;

                snprintf(want, sizeof(want), "%d:%ld", i, ++n);
                rep = redisCommand(c, "SET %s %s", l->keys[i], want);
                if (rep == NULL || rep->type != REDIS_REPLY_STATUS) {
                    load_error(l, "SET", l->keys[i],
                               rep == NULL        ? c->errstr
                               : rep->str != NULL ? rep->str
                                                  : "?");
                }
                freeReplyObject(rep);
                if (rep == NULL) {
                    redisFree(c);
                    c = NULL;
                    continue;
                }
            } else {
                snprintf(want, sizeof(want), "fixed-%d", i);
            }
            snprintf(path, sizeof(path), "/%s", l->keys[i]);
            if (h_http_get_on(fd, path, &r, 5000) < 0) {
                load_error(l, "HTTP GET", l->keys[i], "no response");
                close(fd);
                fd = -1;
            } else if (r.status != 200 || !h_body_is(&r, want)) {
                snprintf(got, sizeof(got), "%d '%.60s', want '%s'", r.status,
                         r.body != NULL ? r.body : "", want);
                load_error(l, "HTTP GET", l->keys[i], got);
            }
            h_resp_free(&r);
            if (h_resp_get(c, l->keys[i], got, sizeof(got)) != 1 ||
                strcmp(got, want) != 0) {
                char both[320];

                snprintf(both, sizeof(both), "'%.200s', want '%s'", got, want);
                load_error(l, "RESP GET", l->keys[i], both);
            }
            atomic_fetch_add(&l->ops, 1);
        }
    }
    if (c != NULL) {
        redisFree(c);
    }
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

struct ops_at_least {
    struct load *l;
    long n;
};

static int
ops_reached(void *arg)
{
    const struct ops_at_least *w = arg;

    return atomic_load(&w->l[0].ops) >= w->n &&
           atomic_load(&w->l[1].ops) >= w->n;
}

struct readyz_has {
    const char *text;
};

/* /readyz on the admin port holds text. */
static int
readyz_has(void *arg)
{
    const struct readyz_has *w = arg;
    int status, has;
    char *body = h_cl_admin_get(&proxy, "/readyz", &status);

    has = strstr(body, w->text) != NULL;
    free(body);
    return has;
}

/* GET key through the proxy twice: val, the second time a hit. */
static void
cache_from(const char *key, const char *val)
{
    char path[80];

    snprintf(path, sizeof(path), "/%s", key);
    h_expect_get(proxy.http_port, path, 200, val, NULL);
    h_expect_get(proxy.http_port, path, 200, val, "HIT");
}

Test(cluster_topology,
     a_reshard_under_load_loses_nothing_and_serves_the_new_owner)
{
    static char keys[FILLER + HOT + FIXED][64];
    char(*hot)[64] = keys + FILLER, (*fixed)[64] = keys + FILLER + HOT;
    struct load l[2] = {0};
    struct ops_at_least w = {l, 20};
    pthread_t th[2];
    int m[H_CLUSTER_MASTERS], *owner, rc, sets = 0;
    long before, during;
    char addr[32], slots[16], out[16384], val[64], ranges[128], rtext[2][256];
    redisContext *c;
    int n;

    h_cl_masters(&cluster, m);
    owner = malloc(H_CLUSTER_SLOTS * sizeof(int));
    cr_assert_not_null(owner);
    cr_assert_eq(h_cluster_slot_map(&cluster, owner), 0);
    for (int s = 0; s < MOVE_SLOTS; s++) {
        cr_assert_eq(owner[s], m[0], "slot %d is not the first master's", s);
    }
    cr_assert_eq(h_cluster_keys_in_slots(&cluster, "mv:", 0, MOVE_SLOTS - 1,
                                         FILLER + HOT + FIXED, keys),
                 0);
    /* The load's keys get hash tags, each shared with TAG_FILL more keys:
     * their slots take a while to migrate, so the load meets them
     * MIGRATING (ASK for what moved already) as well as moved (MOVED). */
    for (int i = FILLER; i < FILLER + HOT + FIXED; i++) {
        char tag[64];

        snprintf(tag, sizeof(tag), "%s", keys[i]);
        snprintf(keys[i], sizeof(keys[i]), "{%.32s}k", tag);
    }
    c = h_cnode_ctx(&cluster, m[0]);
    cr_assert_not_null(c);
    for (int i = 0; i < FILLER + HOT + FIXED; i++) {
        /* the key in the middle of its slot's keys, so that MIGRATE moves
         * it while the slot still has keys to move, whichever end
         * CLUSTER GETKEYSINSLOT starts from */
        for (int j = 0; i >= FILLER && j < TAG_FILL; j++) {
            char more[80];

            if (j == TAG_FILL / 2) {
                redisAppendCommand(c, "SET %s %s%d", keys[i],
                                   i >= FILLER + HOT ? "fixed-" : "hot-",
                                   i >= FILLER + HOT ? i - FILLER - HOT : 0);
                sets++;
            }
            snprintf(more, sizeof(more), "%.*sf%d",
                     (int)(strchr(keys[i], '}') - keys[i] + 1), keys[i], j);
            redisAppendCommand(c, "SET %s filler", more);
            sets++;
        }
        if (i < FILLER) {
            redisAppendCommand(c, "SET %s filler", keys[i]);
            sets++;
        }
    }
    for (int i = 0; i < sets; i++) {
        redisReply *r;

        cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        cr_assert_eq(r->type, REDIS_REPLY_STATUS, "SET %d: %s", i,
                     r->type == REDIS_REPLY_ERROR ? r->str : "?");
        freeReplyObject(r);
    }
    redisFree(c);
    h_cl_proxy(&proxy, &cluster,
               H_OPTS(.ini = "[redis]\ncluster_refresh = 1s\n", .admin = 1));

    for (int t = 0; t < 2; t++) {
        l[t].keys = t == 0 ? hot : fixed;
        l[t].nkeys = t == 0 ? HOT : FIXED;
        l[t].writer = t == 0;
        l[t].http_port = proxy.http_port;
        l[t].resp_port = proxy.resp_port;
        cr_assert_eq(pthread_create(&th[t], NULL, load_main, &l[t]), 0);
    }
    cr_assert(h_wait_until(10000, ops_reached, &w), "the load did not start");
    before = atomic_load(&l[0].ops) + atomic_load(&l[1].ops);

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", cluster.node[m[0]].port);
    snprintf(slots, sizeof(slots), "%d", MOVE_SLOTS);
    rc = h_exec((char *[]){"redis-cli", "--cluster", "reshard", addr,
                           "--cluster-from", cluster.node[m[0]].id,
                           "--cluster-to", cluster.node[m[1]].id,
                           "--cluster-slots", slots, "--cluster-pipeline", "5",
                           "--cluster-yes", NULL},
                NULL, out, sizeof(out), RESHARD_MS);
    during = atomic_load(&l[0].ops) + atomic_load(&l[1].ops) - before;
    /* some more load once the slots are settled at their new owner */
    w.n = atomic_load(&l[0].ops) + 20;
    w.n = w.n > atomic_load(&l[1].ops) + 20 ? w.n : atomic_load(&l[1].ops) + 20;
    h_wait_until(10000, ops_reached, &w);
    for (int t = 0; t < 2; t++) {
        atomic_store(&l[t].stop, 1);
        pthread_join(th[t], NULL);
    }
    cr_assert_eq(rc, 0, "redis-cli --cluster reshard: %d\n%s", rc, out);
    /* the test's point: requests met slots half moved (ASK) */
    cr_expect_gt(calls(m[1], "asking"), 0,
                 "the load never met a slot being migrated");
    cr_expect_eq(atomic_load(&l[0].errors), 0,
                 "%d errors reached the writing client; the first: %s",
                 atomic_load(&l[0].errors), l[0].first);
    cr_expect_eq(atomic_load(&l[1].errors), 0,
                 "%d errors reached the reading client; the first: %s",
                 atomic_load(&l[1].errors), l[1].first);
    cr_expect_gt(during, 0, "no request ran while the slots moved");

    cr_assert(h_cluster_wait_ok(&cluster, 10000), "the cluster did not settle");
    cr_assert_eq(h_cluster_slot_map(&cluster, owner), 0);
    for (int s = 0; s < MOVE_SLOTS; s++) {
        cr_assert_eq(owner[s], m[1], "slot %d did not move", s);
    }
    /* the proxy's map says so too (/readyz, from its refreshes) */
    for (int i = 0; i < 2; i++) {
        struct readyz_has want;

        want.text = rtext[i];
        snprintf(rtext[i], sizeof(rtext[i]),
                 "node 127.0.0.1:%d master slots=", cluster.node[m[i]].port);
        n = h_cluster_ranges(owner, m[i], ranges, sizeof(ranges));
        snprintf(rtext[i] + strlen(rtext[i]),
                 sizeof(rtext[i]) - strlen(rtext[i]), "%d (%s) ", n, ranges);
        cr_expect(h_wait_until(5000, readyz_has, &want),
                  "/readyz never had '%s'", rtext[i]);
    }
    free(owner);
    /* read from the new owner, then written there directly: seen */
    for (int i = 0; i < HOT + FIXED; i++) {
        const char *key = keys[FILLER + i];
        char cur[64];
        redisReply *r = h_cnode_cmd(&cluster, m[1], "GET %s", key);

        cr_assert(r != NULL && r->type == REDIS_REPLY_STRING,
                  "%s is not on the new owner", key);
        snprintf(cur, sizeof(cur), "%s", r->str);
        freeReplyObject(r);
        cache_from(key, cur);
        snprintf(val, sizeof(val), "final-%d", i);
        h_cl_set(&cluster, m[1], key, val);
        h_cl_await_http(&proxy, key, val, cur, VISIBLE_MS, NULL, 0);
    }
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    for (int i = 0; i < HOT + FIXED; i++) {
        snprintf(val, sizeof(val), "final-%d", i);
        h_cl_await_resp(c, keys[FILLER + i], val, NULL, 0);
    }
    redisFree(c);
}

/*
 * Polls GET /key until it answers 200 want, for at most RECOVER_MS: while
 * the proxy has not found the new master it may answer an error (503,
 * 504, 502), never a 200 with anything else; the RESP side likewise (an
 * error reply, never another value). Returns the milliseconds it took.
 */
static long
await_recovery(const char *key, const char *want)
{
    int64_t start = h_now_ms(), deadline = start + RECOVER_MS;
    redisContext *c = h_proxy_resp_ctx(&proxy);
    char path[80], got[256];
    int http_ok = 0, resp_ok = 0, rc;

    cr_assert_not_null(c);
    snprintf(path, sizeof(path), "/%s", key);
    while (!http_ok || !resp_ok) {
        struct h_resp r = {0};

        cr_assert_eq(h_http_get(proxy.http_port, path, &r), 0,
                     "GET %s: no response", path);
        cr_assert(r.status != 200 || h_body_is(&r, want),
                  "GET %s: 200 '%.60s', want '%s' or an error", path, r.body,
                  want);
        http_ok = r.status == 200;
        h_resp_free(&r);
        rc = h_resp_get(c, key, got, sizeof(got));
        cr_assert(rc == -1 || (rc == 1 && strcmp(got, want) == 0),
                  "RESP GET %s: '%s', want '%s' or an error", key,
                  rc == 0 ? "(nil)" : got, want);
        resp_ok = rc == 1;
        cr_assert_lt(h_now_ms(), deadline, "no '%s' after %d ms (last: %s)",
                     want, RECOVER_MS, got);
        h_sleep_ms(10);
    }
    redisFree(c);
    return (long)(h_now_ms() - start);
}

/* node i says it is a master owning slot */
struct owns {
    int node;
    unsigned slot;
};

static int
owns_slot(void *arg)
{
    const struct owns *o = arg;

    return h_cluster_owner(&cluster, o->slot) == o->node;
}

Test(cluster_topology, a_failover_serves_the_new_master_and_nothing_stale)
{
    int m[H_CLUSTER_MASTERS], replica, status;
    char ka[64], kb[64], want[256], *body;
    struct owns o;
    redisReply *r;
    redisContext *c;

    h_cl_masters(&cluster, m);
    replica = h_cluster_replica_of(&cluster, m[0]);
    cr_assert_geq(replica, 0, "no replica of the first master");
    h_cl_key_on(&cluster, m[0], "fo:", ka, sizeof(ka));
    h_cl_key_on(&cluster, m[1], "fo:", kb, sizeof(kb));
    h_cl_set(&cluster, m[0], ka, "before");
    h_cl_set(&cluster, m[1], kb, "other");
    r = h_cnode_cmd(&cluster, m[0], "WAIT 1 5000");
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1,
              "the replica did not take the write");
    freeReplyObject(r);
    /* the first master is also the proxy's configured host:port */
    h_cl_proxy(&proxy, &cluster, H_OPTS(.admin = 1));
    cache_from(ka, "before");
    cache_from(kb, "other");

    h_cluster_kill(&cluster, m[0]);
    h_cl_cmd_ok(&cluster, replica, "CLUSTER FAILOVER TAKEOVER");
    o.node = replica;
    o.slot = (unsigned)h_cluster_keyslot(&cluster, ka, strlen(ka));
    cr_assert(h_wait_until(10000, owns_slot, &o),
              "the replica did not take the slots over");
    h_cl_set(&cluster, replica, ka, "after");

    /* until the proxy finds the new master it may fail, but never answer
     * the old value */
    await_recovery(ka, "after");
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    /* the new master's stream covers what the proxy reads from it */
    cache_from(ka, "after");
    h_cl_set(&cluster, replica, ka, "after2");
    h_cl_await_http(&proxy, ka, "after2", "after", VISIBLE_MS, NULL, 0);
    h_cl_await_resp(c, ka, "after2", NULL, 0);
    /* writes through the proxy reach it too */
    r = redisCommand(c, "SET %s via-proxy", ka);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS, "SET after failover");
    freeReplyObject(r);
    redisFree(c);
    r = h_cnode_cmd(&cluster, replica, "GET %s", ka);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING &&
              strcmp(r->str, "via-proxy") == 0);
    freeReplyObject(r);
    /* the other master's entry was not touched */
    snprintf(want, sizeof(want), "/%s", kb);
    h_expect_get(proxy.http_port, want, 200, "other", "HIT");

    /* /readyz: ready, the new master with the slots */
    body = h_cl_admin_get(&proxy, "/readyz", &status);
    cr_expect_eq(status, 200, "/readyz: %s", body);
    snprintf(want, sizeof(want),
             "node 127.0.0.1:%d master slots=", cluster.node[replica].port);
    cr_expect_eq(h_count_lines(body, want), 1, "/readyz:\n%s", body);
    free(body);
}

/* /readyz's line for node port, into out. */
static void
readyz_line(int port, char *out, size_t cap)
{
    char want[64], *body;
    int status;

    body = h_cl_admin_get(&proxy, "/readyz", &status);
    snprintf(want, sizeof(want), "node 127.0.0.1:%d ", port);
    h_nth_line(body, want, 0, out, cap);
    free(body);
}

struct stream_up {
    int port;
};

static int
stream_is_up(void *arg)
{
    const struct stream_up *s = arg;
    char line[256];

    readyz_line(s->port, line, sizeof(line));
    return strstr(line, " stream=up ") != NULL;
}

Test(cluster_topology, a_killed_stream_expires_only_its_nodes_entries)
{
    int m[H_CLUSTER_MASTERS];
    char k[H_CLUSTER_MASTERS][64], series[160], line[256], path[80];
    struct stream_up up;
    redisReply *r;

    h_cl_masters(&cluster, m);
    h_cl_proxy(&proxy, &cluster, H_OPTS(.admin = 1));
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        h_cl_key_on(&cluster, m[i], "st:", k[i], sizeof(k[i]));
        h_cl_set(&cluster, m[i], k[i], "v1");
        cache_from(k[i], "v1");
    }
    r = h_cnode_cmd(&cluster, m[1], "CLIENT KILL TYPE pubsub");
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1,
              "CLIENT KILL TYPE pubsub on node %d: %lld", m[1],
              r != NULL ? r->integer : -1LL);
    freeReplyObject(r);
    /* changed while the proxy has no stream from that node: Redis tells
     * nobody */
    h_cl_set(&cluster, m[1], k[1], "v2");
    cr_assert(h_await_log(&proxy, "invalidation stream lost", 5000),
              "the proxy did not notice the lost stream");
    snprintf(series, sizeof(series),
             "redis_proxy_node_stream_drops_total{node=\"127.0.0.1:%d\"}",
             cluster.node[m[1]].port);
    cr_expect_eq(h_metric(&proxy, series), 1, "%s", series);
    for (int i = 0; i < H_CLUSTER_MASTERS; i += 2) {
        char other[160];

        snprintf(other, sizeof(other),
                 "redis_proxy_node_stream_drops_total{node=\"127.0.0.1:%d\"}",
                 cluster.node[m[i]].port);
        cr_expect_eq(h_metric(&proxy, other), 0, "%s", other);
    }
    /* the other masters' entries are still hits; the killed one's is not
     * served stale */
    snprintf(path, sizeof(path), "/%s", k[0]);
    h_expect_get(proxy.http_port, path, 200, "v1", "HIT");
    snprintf(path, sizeof(path), "/%s", k[2]);
    h_expect_get(proxy.http_port, path, 200, "v1", "HIT");
    snprintf(path, sizeof(path), "/%s", k[1]);
    h_expect_get(proxy.http_port, path, 200, "v2", "MISS");

    /* the stream comes back, and with it caching and invalidation */
    up.port = cluster.node[m[1]].port;
    cr_assert(h_wait_until(10000, stream_is_up, &up),
              "node %d's stream did not come back", m[1]);
    readyz_line(up.port, line, sizeof(line));
    cr_expect(strstr(line, " master ") != NULL, "%s", line);
    snprintf(series, sizeof(series),
             "redis_proxy_node_stream_state{node=\"127.0.0.1:%d\"}", up.port);
    cr_expect_eq(h_await_metric(&proxy, series, 2, 5000), 2, "%s", series);
    h_cl_set(&cluster, m[1], k[1], "v3");
    h_cl_await_http(&proxy, k[1], "v3", "v2", VISIBLE_MS, NULL, 0);
    cache_from(k[1], "v3");
    h_cl_set(&cluster, m[1], k[1], "v4");
    h_cl_await_http(&proxy, k[1], "v4", "v3", VISIBLE_MS, NULL, 0);
}

/* GET key on node i after ASKING, on one connection. */
static void
expect_asking_get(int i, const char *key, const char *want)
{
    redisContext *c = h_cnode_ctx(&cluster, i);
    redisReply *r;

    cr_assert_not_null(c);
    r = redisCommand(c, "ASKING");
    freeReplyObject(r);
    r = redisCommand(c, "GET %s", key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING &&
                  strcmp(r->str, want) == 0,
              "ASKING GET %s on node %d: %s, want %s", key, i,
              r != NULL && r->str != NULL ? r->str : "(nil)", want);
    freeReplyObject(r);
    redisFree(c);
}

/* Polls GET path until it is a MISS with want (the cached entry gone),
 * for at most VISIBLE_MS. */
static void
await_miss(const char *path, const char *want)
{
    int64_t deadline = h_now_ms() + VISIBLE_MS;
    struct h_resp r = {0};

    for (;;) {
        const char *xc;

        cr_assert_eq(h_http_get(proxy.http_port, path, &r), 0, "GET %s", path);
        xc = h_hdr(&r, "X-Cache");
        if (r.status == 200 && xc != NULL && strcmp(xc, "MISS") == 0) {
            cr_assert_str_eq(r.body, want, "GET %s", path);
            h_resp_free(&r);
            return;
        }
        cr_assert(h_now_ms() < deadline, "GET %s still %d %s after %d ms", path,
                  r.status, xc != NULL ? xc : "-", VISIBLE_MS);
        h_resp_free(&r);
        h_sleep_ms(5);
    }
}

/*
 * One slot moved by hand, step by step: while it is MIGRATING, a key
 * already moved is read and written through ASK (its reads not cached)
 * and a key not moved yet is still served (and cached) by the old owner;
 * once the slot is assigned to the new owner, MOVED takes the proxy there,
 * and a write made there is seen.
 */
Test(cluster_topology, a_migrating_slot_is_followed_by_ask_then_moved)
{
    int m[H_CLUSTER_MASTERS];
    char tag[48], a[64], b[64], path[80];
    long slot;
    int fd;

    h_cl_masters(&cluster, m);
    h_cl_key_on(&cluster, m[0], "mig", tag, sizeof(tag));
    snprintf(a, sizeof(a), "{%s}a", tag);
    snprintf(b, sizeof(b), "{%s}b", tag);
    slot = h_cluster_keyslot(&cluster, a, strlen(a));
    h_cl_set(&cluster, m[0], a, "a1");
    h_cl_set(&cluster, m[0], b, "b1");
    h_cl_proxy(&proxy, &cluster, NULL);
    cache_from(a, "a1");
    cache_from(b, "b1");

    h_cl_cmd_ok(&cluster, m[1], "CLUSTER SETSLOT %ld IMPORTING %s", slot,
                cluster.node[m[0]].id);
    h_cl_cmd_ok(&cluster, m[0], "CLUSTER SETSLOT %ld MIGRATING %s", slot,
                cluster.node[m[1]].id);
    h_cl_cmd_ok(&cluster, m[0], "MIGRATE 127.0.0.1 %d %s 0 5000",
                cluster.node[m[1]].port, a);
    h_cl_cmd_ok(&cluster, m[1], "CONFIG RESETSTAT");

    /* a moved: MIGRATE deleted it on the old owner, whose invalidation
     * message comes soon after; from then it is read through ASK, never
     * cached. b not moved: still a hit. */
    snprintf(path, sizeof(path), "/%s", a);
    await_miss(path, "a1");
    h_expect_get(proxy.http_port, path, 200, "a1", "MISS");
    snprintf(path, sizeof(path), "/%s", b);
    h_expect_get(proxy.http_port, path, 200, "b1", "HIT");
    fd = h_conn(proxy.resp_port);
    H_CL_EXPECT(fd, "+OK\r\n", "SET", a, "a2");
    H_CL_EXPECT(fd, "$2\r\na2\r\n", "GET", a);
    H_CL_EXPECT(fd, "+OK\r\n", "SET", b, "b2");
    expect_asking_get(m[1], a, "a2");
    cr_expect_geq(calls(m[1], "asking"), 3, "ASKING sent %ld times",
                  calls(m[1], "asking"));
    h_cl_await_http(&proxy, b, "b2", NULL, VISIBLE_MS, NULL, 0);

    /* b moves too, and the slot is the new owner's */
    h_cl_cmd_ok(&cluster, m[0], "MIGRATE 127.0.0.1 %d %s 0 5000",
                cluster.node[m[1]].port, b);
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        h_cl_cmd_ok(&cluster, m[i], "CLUSTER SETSLOT %ld NODE %s", slot,
                    cluster.node[m[1]].id);
    }
    cr_assert(h_cluster_wait_ok(&cluster, 10000));
    H_CL_EXPECT(fd, "$2\r\nb2\r\n", "GET", b);
    cache_from(a, "a2");
    cache_from(b, "b2");
    h_cl_set(&cluster, m[1], a, "a3");
    h_cl_await_http(&proxy, a, "a3", "a2", VISIBLE_MS, NULL, 0);
    H_CL_EXPECT(fd, "+OK\r\n", "SET", b, "b3");
    H_CL_EXPECT(fd, "$2\r\nb3\r\n", "GET", b);
    close(fd);
}
