/*
 * End-to-end tests of forwarding on a real Redis Cluster (see
 * harness_cluster.h), each reply compared byte for byte: MGET, MSET, DEL,
 * UNLINK, EXISTS and TOUCH over keys of every master give one reply in
 * the client's key order, and each node holds what it should; other
 * commands across slots get Redis Cluster's -CROSSSLOT and change
 * nothing; DBSIZE, KEYS, RANDOMKEY, FLUSHALL cover every master; a full
 * SCAN visits every key exactly once; a pipeline over every node keeps
 * its order; and a redirect loop made with CLUSTER SETSLOT ends in an
 * error after the proxy's redirect bound.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_cluster.h"

#define REPLY_MS 5000
#define VISIBLE_MS 1000
#define CROSSSLOT "-CROSSSLOT Keys in request don't hash to the same slot\r\n"

H_CLUSTER_SUITE(cluster_fwd, 60);

static int
proxy_fd(void)
{
    return h_conn(proxy.resp_port);
}

#define EXPECT H_CL_EXPECT

/* The value of key on node i (1), nil (0), or an error (-1). */
static int
node_get(int i, const char *key, char *out, size_t cap)
{
    redisContext *c = h_cnode_ctx(&cluster, i);
    int rc;

    cr_assert_not_null(c);
    rc = h_resp_get(c, key, out, cap);
    redisFree(c);
    return rc;
}

static long long
node_int(int i, const char *cmd)
{
    redisReply *r = h_cnode_cmd(&cluster, i, cmd);
    long long v;

    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER, "%s on node %d", cmd,
              i);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

/* Keys k[0..n) with k[i] on master m[i % 3], and a second key on m[0] in
 * another slot than the first. */
struct spread {
    int m[H_CLUSTER_MASTERS];
    char k[4][64];
};

static void
spread_keys(struct spread *s)
{
    h_cl_masters(&cluster, s->m);
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        h_cl_key_on(&cluster, s->m[i], "sp:", s->k[i], sizeof(s->k[i]));
    }
    for (int n = 0;; n++) {
        char pre[32];

        snprintf(pre, sizeof(pre), "sp%d:", n);
        h_cl_key_on(&cluster, s->m[0], pre, s->k[3], sizeof(s->k[3]));
        if (h_cluster_keyslot(&cluster, s->k[3], strlen(s->k[3])) !=
            h_cluster_keyslot(&cluster, s->k[0], strlen(s->k[0]))) {
            break;
        }
    }
}

Test(cluster_fwd, multi_key_commands_are_split_and_merged_in_key_order)
{
    struct spread s;
    char got[64], path[80];
    int fd;

    spread_keys(&s);
    h_cl_proxy(&proxy, &cluster, NULL);
    fd = proxy_fd();
    EXPECT(fd, "+OK\r\n", "MSET", s.k[2], "two", s.k[0], "zero", s.k[1], "one",
           s.k[3], "three");
    for (int i = 0; i < 4; i++) {
        static const char *const want[] = {"zero", "one", "two", "three"};

        cr_assert_eq(node_get(s.m[i % 3], s.k[i], got, sizeof(got)), 1,
                     "%s on its node: %s", s.k[i], got);
        cr_expect_str_eq(got, want[i]);
    }
    /* cache one so that the DEL below must reach the cache too */
    snprintf(path, sizeof(path), "/%s", s.k[0]);
    h_expect_get(proxy.http_port, path, 200, "zero", "MISS");
    h_expect_get(proxy.http_port, path, 200, "zero", "HIT");
    EXPECT(fd,
           "*6\r\n$3\r\ntwo\r\n$-1\r\n$4\r\nzero\r\n$3\r\none\r\n"
           "$5\r\nthree\r\n$4\r\nzero\r\n",
           "MGET", s.k[2], "sp:nobody", s.k[0], s.k[1], s.k[3], s.k[0]);
    EXPECT(fd, ":5\r\n", "EXISTS", s.k[0], s.k[1], s.k[2], "sp:nobody", s.k[3],
           s.k[0]);
    EXPECT(fd, ":3\r\n", "TOUCH", s.k[1], "sp:nobody", s.k[2], s.k[3]);
    EXPECT(fd, ":2\r\n", "DEL", s.k[0], "sp:nobody", s.k[1]);
    cr_expect_eq(node_get(s.m[0], s.k[0], got, sizeof(got)), 0);
    cr_expect_eq(node_get(s.m[1], s.k[1], got, sizeof(got)), 0);
    cr_expect_eq(node_get(s.m[2], s.k[2], got, sizeof(got)), 1);
    h_cl_await_http(&proxy, s.k[0], NULL, "zero", VISIBLE_MS, NULL, 0);
    EXPECT(fd, ":2\r\n", "UNLINK", s.k[3], s.k[2], s.k[0]);
    EXPECT(fd, "*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n", "MGET", s.k[0], s.k[1],
           s.k[2], s.k[3]);
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        cr_expect_eq(node_int(s.m[i], "DBSIZE"), 0, "node %d is empty", i);
    }
    close(fd);
}

Test(cluster_fwd, a_split_command_of_the_wrong_arity_is_refused_whole)
{
    struct spread s;
    char got[64];
    int fd;

    spread_keys(&s);
    h_cl_proxy(&proxy, &cluster, NULL);
    fd = proxy_fd();
    /* a value missing: the whole command is refused, as Redis Cluster
     * refuses it (its keys span slots), not the complete pairs run */
    EXPECT(fd, CROSSSLOT, "MSET", s.k[0], "v0", s.k[1]);
    EXPECT(fd, CROSSSLOT, "MSET", s.k[0], "v0", s.k[1], "v1", s.k[2]);
    cr_expect_eq(node_get(s.m[0], s.k[0], got, sizeof(got)), 0,
                 "%s was set: %s", s.k[0], got);
    cr_expect_eq(node_get(s.m[1], s.k[1], got, sizeof(got)), 0,
                 "%s was set: %s", s.k[1], got);
    /* within one slot, Redis's arity error */
    EXPECT(fd, "-ERR wrong number of arguments for 'mset' command\r\n", "MSET",
           s.k[0], "v0", s.k[0]);
    EXPECT(fd, "-ERR wrong number of arguments for 'mset' command\r\n", "MSET",
           s.k[0]);
    EXPECT(fd, "-ERR wrong number of arguments for 'mget' command\r\n", "MGET");
    EXPECT(fd, "-ERR wrong number of arguments for 'del' command\r\n", "DEL");
    close(fd);
}

Test(cluster_fwd, other_commands_across_slots_get_crossslot_and_do_nothing)
{
    struct spread s;
    char got[64];
    int fd;

    spread_keys(&s);
    h_cl_set(&cluster, s.m[0], s.k[0], "a");
    h_cl_set(&cluster, s.m[0], s.k[3], "b");
    h_cl_proxy(&proxy, &cluster, NULL);
    fd = proxy_fd();
    /* two masters, and two slots of one master: both are cross-slot */
    EXPECT(fd, CROSSSLOT, "RENAME", s.k[0], s.k[1]);
    EXPECT(fd, CROSSSLOT, "RENAME", s.k[0], s.k[3]);
    EXPECT(fd, CROSSSLOT, "SUNION", s.k[0], s.k[1], s.k[2]);
    EXPECT(fd, CROSSSLOT, "MSETNX", s.k[1], "x", s.k[2], "y");
    EXPECT(fd, CROSSSLOT, "SINTERSTORE", s.k[1], s.k[2], s.k[0]);
    cr_expect_eq(node_get(s.m[0], s.k[0], got, sizeof(got)), 1);
    cr_expect_str_eq(got, "a");
    cr_expect_eq(node_get(s.m[0], s.k[3], got, sizeof(got)), 1);
    cr_expect_eq(node_get(s.m[1], s.k[1], got, sizeof(got)), 0,
                 "MSETNX did nothing");
    cr_expect_eq(node_get(s.m[2], s.k[2], got, sizeof(got)), 0);
    /* the connection goes on */
    EXPECT(fd, "$1\r\na\r\n", "GET", s.k[0]);
    close(fd);
}

/* n keys "<prefix>N" on each master, set directly; their names into
 * names (n * 3 of them, each 32 bytes). */
static void
fill_masters(const int *m, const char *prefix, int n, char (*names)[32])
{
    int made = 0;

    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        redisContext *c = h_cnode_ctx(&cluster, m[i]);
        int *owner = malloc(H_CLUSTER_SLOTS * sizeof(int));
        int got = 0;

        cr_assert(c != NULL && owner != NULL);
        cr_assert_eq(h_cluster_slot_map(&cluster, owner), 0);
        for (int j = 0; got < n; j++) {
            char key[32];
            redisReply *r;

            snprintf(key, sizeof(key), "%s%d", prefix, j);
            r = redisCommand(c, "CLUSTER KEYSLOT %s", key);
            cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
            if (owner[r->integer] == m[i]) {
                freeReplyObject(r);
                r = redisCommand(c, "SET %s %d", key, j);
                cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS,
                          "SET %s on node %d", key, m[i]);
                memcpy(names[made++], key, sizeof(key));
                got++;
            }
            freeReplyObject(r);
        }
        free(owner);
        redisFree(c);
    }
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The strings of an array reply, sorted (pointers into r). */
static size_t
sorted_elements(const redisReply *r, const char **out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < r->elements && n < max; i++) {
        cr_assert_eq(r->element[i]->type, REDIS_REPLY_STRING);
        out[n++] = r->element[i]->str;
    }
    qsort(out, n, sizeof(*out), cmp_str);
    return n;
}

#define PER_NODE 40

Test(cluster_fwd, dbsize_keys_and_randomkey_cover_every_master)
{
    static char names[3 * PER_NODE][32];
    const char *want[3 * PER_NODE], *seen[3 * PER_NODE + 8];
    int m[H_CLUSTER_MASTERS];
    char key[64];
    redisContext *c;
    redisReply *r;
    long long sum = 0;
    size_t n;

    h_cl_masters(&cluster, m);
    h_cl_proxy(&proxy, &cluster, NULL);
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    /* an empty cluster first: RANDOMKEY is nil everywhere */
    r = redisCommand(c, "RANDOMKEY");
    cr_assert(r != NULL && r->type == REDIS_REPLY_NIL, "RANDOMKEY: %d",
              r != NULL ? r->type : -1);
    freeReplyObject(r);
    /* one key, on the master with the last slots: RANDOMKEY finds it */
    h_cl_key_on(&cluster, m[2], "rk:", key, sizeof(key));
    h_cl_set(&cluster, m[2], key, "1");
    r = redisCommand(c, "RANDOMKEY");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING &&
                  strcmp(r->str, key) == 0,
              "RANDOMKEY with one key: %s",
              r != NULL && r->str != NULL ? r->str : "(not a key)");
    freeReplyObject(r);
    h_cl_cmd_ok(&cluster, m[2], "DEL %s", key);

    fill_masters(m, "ks:", PER_NODE, names);
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        sum += node_int(m[i], "DBSIZE");
    }
    cr_assert_eq(sum, 3 * PER_NODE);
    r = redisCommand(c, "DBSIZE");
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER &&
                  r->integer == 3 * PER_NODE,
              "DBSIZE through the proxy: %lld", r != NULL ? r->integer : -1LL);
    freeReplyObject(r);
    for (size_t i = 0; i < 3 * PER_NODE; i++) {
        want[i] = names[i];
    }
    qsort(want, 3 * PER_NODE, sizeof(*want), cmp_str);
    r = redisCommand(c, "KEYS ks:*");
    cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3 * PER_NODE, "KEYS gave %zu keys", r->elements);
    n = sorted_elements(r, seen, 3 * PER_NODE + 8);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(seen[i], want[i], "KEYS, key %zu", i);
    }
    freeReplyObject(r);
    r = redisCommand(c, "RANDOMKEY");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING &&
                  strncmp(r->str, "ks:", 3) == 0,
              "RANDOMKEY: %s", r != NULL && r->str ? r->str : "(not a key)");
    freeReplyObject(r);
    redisFree(c);
}

/* One SCAN iteration from cursor "0" to "0" through c (COUNT 7, and
 * MATCH pattern unless NULL); every key into seen[0..max). Returns how
 * many keys were returned in all (duplicates included). */
static size_t
scan_all(redisContext *c, const char *pattern, const char **seen, size_t max,
         redisReply **keep, size_t *nkeep)
{
    char cursor[32] = "0";
    size_t n = 0;
    int calls = 0;

    do {
        redisReply *r =
            pattern != NULL
                ? redisCommand(c, "SCAN %s MATCH %s COUNT 7", cursor, pattern)
                : redisCommand(c, "SCAN %s COUNT 7", cursor);

        cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY &&
                      r->elements == 2 &&
                      r->element[0]->type == REDIS_REPLY_STRING &&
                      r->element[1]->type == REDIS_REPLY_ARRAY,
                  "SCAN %s: not [cursor, keys]: %s", cursor,
                  r != NULL && r->str != NULL ? r->str : "");
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            cr_assert_lt(n, max, "SCAN returned too many keys");
            seen[n++] = r->element[1]->element[i]->str;
        }
        keep[(*nkeep)++] = r; /* seen[] points into it */
        cr_assert_lt(++calls, 1000, "SCAN never came back to cursor 0");
    } while (strcmp(cursor, "0") != 0);
    return n;
}

Test(cluster_fwd, a_full_scan_visits_every_key_of_every_master_once)
{
    static char names[3 * PER_NODE][32];
    static redisReply *keep[2000];
    const char *want[3 * PER_NODE], *seen[4 * PER_NODE];
    size_t n, nkeep = 0, nwant = 0;
    int m[H_CLUSTER_MASTERS];
    char other[64];
    redisContext *c;

    h_cl_masters(&cluster, m);
    fill_masters(m, "sc:", PER_NODE, names);
    h_cl_key_on(&cluster, m[1], "other:", other, sizeof(other));
    h_cl_set(&cluster, m[1], other, "x"); /* not matched below */
    h_cl_proxy(&proxy, &cluster, NULL);
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);

    n = scan_all(c, NULL, seen, 4 * PER_NODE, keep, &nkeep);
    cr_assert_eq(n, 3 * PER_NODE + 1, "SCAN returned %zu keys, want %d", n,
                 3 * PER_NODE + 1);
    qsort(seen, n, sizeof(*seen), cmp_str);
    for (size_t i = 0; i < 3 * PER_NODE; i++) {
        want[i] = names[i];
    }
    qsort(want, 3 * PER_NODE, sizeof(*want), cmp_str);
    cr_assert_str_eq(seen[0], other); /* "other:" sorts first */
    for (size_t i = 0; i < 3 * PER_NODE; i++) {
        cr_assert_str_eq(seen[i + 1], want[i], "SCAN key %zu (sorted)", i);
    }

    /* with MATCH, the options reach every node */
    n = scan_all(c, "sc:1*", seen, 4 * PER_NODE, keep, &nkeep);
    for (size_t i = 0; i < 3 * PER_NODE; i++) {
        if (strncmp(names[i], "sc:1", 4) == 0) {
            want[nwant++] = names[i];
        }
    }
    cr_assert_gt(nwant, 0);
    cr_assert_eq(n, nwant, "SCAN MATCH sc:1* returned %zu keys, want %zu", n,
                 nwant);
    qsort(seen, n, sizeof(*seen), cmp_str);
    qsort(want, nwant, sizeof(*want), cmp_str);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(seen[i], want[i]);
    }
    for (size_t i = 0; i < nkeep; i++) {
        freeReplyObject(keep[i]);
    }
    redisFree(c);
}

Test(cluster_fwd, flushall_empties_every_master_and_the_cache)
{
    static char names[3 * 5][32];
    int m[H_CLUSTER_MASTERS], fd;
    char path[512];

    h_cl_masters(&cluster, m);
    fill_masters(m, "fl:", 5, names);
    h_cl_proxy(&proxy, &cluster, NULL);
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        /* names[5 * i] lives on m[i]; cached */
        snprintf(path, sizeof(path), "/%s", names[5 * i]);
        h_expect_get(proxy.http_port, path, 200, NULL, "MISS");
        h_expect_get(proxy.http_port, path, 200, NULL, "HIT");
    }
    fd = proxy_fd();
    EXPECT(fd, ":15\r\n", "DBSIZE");
    EXPECT(fd, "+OK\r\n", "FLUSHALL");
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        cr_expect_eq(node_int(m[i], "DBSIZE"), 0, "master %d after FLUSHALL",
                     i);
        h_cl_await_http(&proxy, names[5 * i], NULL, NULL, VISIBLE_MS, NULL, 0);
    }
    EXPECT(fd, ":0\r\n", "DBSIZE");
    close(fd);
}

Test(cluster_fwd, a_pipeline_over_every_node_keeps_its_order)
{
    struct spread s;
    char req[4096], got[4096], e1[2048], e2[2048];
    size_t len = 0;
    long n;
    int fd;
    const char *want;

    spread_keys(&s);
    h_cl_set(&cluster, s.m[0], s.k[0], "cached");
    h_cl_proxy(&proxy, &cluster, NULL);
    len += H_CMD(req + len, sizeof(req) - len, "SET", s.k[1], "b");
    len += H_CMD(req + len, sizeof(req) - len, "GET", s.k[0]);
    len += H_CMD(req + len, sizeof(req) - len, "SET", s.k[2], "c");
    len += H_CMD(req + len, sizeof(req) - len, "INCR", s.k[3]);
    len += H_CMD(req + len, sizeof(req) - len, "MGET", s.k[2], s.k[1], s.k[0],
                 s.k[3]);
    len += H_CMD(req + len, sizeof(req) - len, "PING");
    len += H_CMD(req + len, sizeof(req) - len, "INCR", s.k[3]);
    len += H_CMD(req + len, sizeof(req) - len, "EXISTS", s.k[0], s.k[1], s.k[2],
                 s.k[3]);
    len += H_CMD(req + len, sizeof(req) - len, "GET", s.k[1]);
    want = "+OK\r\n$6\r\ncached\r\n+OK\r\n:1\r\n"
           "*4\r\n$1\r\nc\r\n$1\r\nb\r\n$6\r\ncached\r\n$1\r\n1\r\n"
           "+PONG\r\n:2\r\n:4\r\n$1\r\nb\r\n";
    fd = proxy_fd();
    cr_assert_eq(h_send(fd, req, len), 0);
    n = h_read_replies(fd, 9, got, sizeof(got) - 1, REPLY_MS);
    got[n > 0 ? n : 0] = '\0';
    cr_assert(n > 0 && strcmp(got, want) == 0, "want \"%s\", got \"%s\"",
              h_escape(want, strlen(want), e1, sizeof(e1)),
              h_escape(got, n > 0 ? (size_t)n : 0, e2, sizeof(e2)));
    close(fd);
}

/* rejected_calls of cmdstat_<cmd> on node i (what Redis refused with a
 * redirect). */
static long
rejected(int i, const char *cmd)
{
    redisReply *r = h_cnode_cmd(&cluster, i, "INFO commandstats");
    char name[64];
    const char *p, *q;
    long v = 0;

    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING);
    snprintf(name, sizeof(name), "cmdstat_%s:", cmd);
    p = strstr(r->str, name);
    if (p != NULL && (q = strstr(p, "rejected_calls=")) != NULL &&
        q < strchr(p, '\n')) {
        v = strtol(q + 15, NULL, 10);
    }
    freeReplyObject(r);
    return v;
}

/*
 * A slot marked MIGRATING on its owner toward a node that is not
 * IMPORTING it: the owner answers ASK (the key is not there), the target
 * answers MOVED back to the owner, forever. The proxy follows that five
 * times (six sends in all), then answers an error, on the forwarding path
 * and on the cache's fill path alike.
 */
Test(cluster_fwd, a_redirect_loop_ends_in_an_error_after_five_redirects)
{
    int m[H_CLUSTER_MASTERS], fd;
    long slot;
    char key[64], path[80];
    redisContext *c;
    redisReply *r;
    struct h_resp hr = {0};

    h_cl_masters(&cluster, m);
    h_cl_key_on(&cluster, m[0], "loop:", key, sizeof(key));
    slot = h_cluster_keyslot(&cluster, key, strlen(key));
    h_cl_cmd_ok(&cluster, m[0], "CLUSTER SETSLOT %ld MIGRATING %s", slot,
                cluster.node[m[1]].id);
    r = h_cnode_cmd(&cluster, m[0], "GET %s", key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_ERROR &&
                  strncmp(r->str, "ASK ", 4) == 0,
              "the owner answers ASK: %s", r != NULL ? r->str : "");
    freeReplyObject(r);
    h_cl_proxy(&proxy, &cluster, NULL);
    h_cl_cmd_ok(&cluster, m[0], "CONFIG RESETSTAT");
    h_cl_cmd_ok(&cluster, m[1], "CONFIG RESETSTAT");

    fd = proxy_fd();
    EXPECT(fd, "-ERR too many cluster redirects\r\n", "SET", key, "v");
    cr_expect_eq(rejected(m[0], "set") + rejected(m[1], "set"), 6,
                 "SET sent %ld + %ld times", rejected(m[0], "set"),
                 rejected(m[1], "set"));

    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    r = redisCommand(c, "GET %s", key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_ERROR,
              "GET through the loop: not an error");
    cr_expect(strstr(r->str, "too many cluster redirects") != NULL, "GET: %s",
              r->str);
    freeReplyObject(r);
    redisFree(c);
    cr_expect_eq(rejected(m[0], "get") + rejected(m[1], "get"), 6,
                 "GET sent %ld + %ld times", rejected(m[0], "get"),
                 rejected(m[1], "get"));

    snprintf(path, sizeof(path), "/%s", key);
    cr_assert_eq(h_http_get(proxy.http_port, path, &hr), 0);
    cr_expect_eq(hr.status, 502, "HTTP GET through the loop: %d", hr.status);
    cr_expect(hr.body != NULL &&
                  strstr(hr.body, "too many cluster redirects") != NULL,
              "HTTP body: %s", hr.body != NULL ? hr.body : "");
    h_resp_free(&hr);
    /* the proxy still serves everything else */
    EXPECT(fd, "+PONG\r\n", "PING");
    close(fd);
}
