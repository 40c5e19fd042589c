/*
 * End-to-end tests of Redis connections as shared pipelines (issue 19),
 * with pool_size = 1 so every client's forwarded commands and fills share
 * one Redis connection: 16 clients each pipelining their own commands
 * read exactly their own replies, in order, byte for byte what a second
 * redis-server (the twin) gives the same clients (and MONITOR shows the
 * one connection carrying all of them, interleaved); a script that keeps
 * Redis busy does not hold up other clients' cache hits, with one worker
 * (the hits are answered while the script still runs); pipelined batches
 * of GET misses from several clients come back in order; HTTP clients
 * pipelining GETs with the cache off each get every response right.
 *
 * Expected to fail until the rewrite lands:
 * slow_command_does_not_stall_other_clients_cache_hits: today the one
 * worker waits for the script's reply, so the hits come after it. The
 * others pass today too (pool_size = 1 serializes the clients), as they
 * must after it.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define P "redis_proxy_"
#define REPLY_MS 10000
#define POOL_1 "[redis]\npool_size = 1\n"

static struct h_redis redis, twin;
static struct h_proxy proxy;

static void
setup(void)
{
    memset(&twin, 0, sizeof(twin));
    h_pair_setup(&redis, &proxy);
    cr_assert_eq(h_redis_start(&twin, 0, NULL), 0, "twin did not start");
}

static void
teardown(void)
{
    h_pair_teardown(&redis, &proxy);
    h_redis_stop(&twin);
}

TestSuite(pipeline, .init = setup, .fini = teardown, .timeout = 120);

#define SEND H_SEND
#define EXPECT H_EXPECT

/* ---- clients, each with its own script ---- */

#define MAX_CLIENTS 16

/* One client's script: rounds of commands sent in one write each, and
 * the replies it read (on the twin, then on the proxy). */
struct client {
    int id, rounds, per_round;
    char **round;    /* the rounds' bytes */
    size_t *len;     /* their lengths */
    char *replies;   /* every reply read, in order (malloc'd) */
    size_t got, cap; /* bytes in replies, and its size */
    int port;        /* where the run sends it */
    char fail[256];  /* why the run stopped, or "" */
};

/* Runs c's rounds on a fresh connection to c->port: each round written
 * at once, then its replies read. Thread body; no assertion. */
static void *
run_client(void *arg)
{
    struct client *c = arg;
    int fd = h_connect(c->port);

    c->got = 0;
    c->fail[0] = '\0';
    if (fd < 0) {
        snprintf(c->fail, sizeof(c->fail), "client %d: no connection", c->id);
        return NULL;
    }
    for (int r = 0; r < c->rounds; r++) {
        long n;

        if (h_send(fd, c->round[r], c->len[r]) != 0) {
            snprintf(c->fail, sizeof(c->fail), "client %d: send", c->id);
            break;
        }
        n = h_read_replies(fd, c->per_round, c->replies + c->got,
                           c->cap - c->got, REPLY_MS);
        if (n < 0) {
            snprintf(c->fail, sizeof(c->fail),
                     "client %d: round %d: no %d replies", c->id, r,
                     c->per_round);
            break;
        }
        c->got += (size_t)n;
    }
    close(fd);
    return NULL;
}

/* Runs the n clients at once against port. */
static void
run_all(struct client *cl, int n, int port)
{
    pthread_t t[MAX_CLIENTS];

    for (int i = 0; i < n; i++) {
        cl[i].port = port;
        cr_assert_eq(pthread_create(&t[i], NULL, run_client, &cl[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    for (int i = 0; i < n; i++) {
        cr_assert_str_empty(cl[i].fail, "port %d: %s", port, cl[i].fail);
    }
}

/* Runs the clients on the twin, then on the proxy, and compares each
 * client's replies byte for byte. */
static void
same_as_twin(struct client *cl, int n)
{
    char **want = calloc((size_t)n, sizeof(*want));
    size_t *wl = calloc((size_t)n, sizeof(*wl));

    cr_assert(want != NULL && wl != NULL);
    run_all(cl, n, twin.port);
    for (int i = 0; i < n; i++) {
        want[i] = malloc(cl[i].got);
        cr_assert_not_null(want[i]);
        memcpy(want[i], cl[i].replies, cl[i].got);
        wl[i] = cl[i].got;
    }
    run_all(cl, n, proxy.resp_port);
    for (int i = 0; i < n; i++) {
        size_t o = 0;
        char e1[512], e2[512];

        if (wl[i] == cl[i].got && memcmp(want[i], cl[i].replies, wl[i]) == 0) {
            continue;
        }
        for (int k = 0;; k++) { /* the first reply that differs */
            long a = h_reply_len(want[i] + o, wl[i] - o, 1);
            long b = h_reply_len(cl[i].replies + o, cl[i].got - o, 1);

            if (a <= 0 || a != b ||
                memcmp(want[i] + o, cl[i].replies + o, (size_t)a) != 0) {
                cr_assert_fail("client %d, reply %d: redis-server \"%s\", "
                               "the proxy \"%s\"",
                               i, k,
                               h_escape(want[i] + o, a > 0 ? (size_t)a : 0, e1,
                                        sizeof(e1)),
                               h_escape(cl[i].replies + o,
                                        b > 0 ? (size_t)b : 0, e2, sizeof(e2)));
            }
            o += (size_t)a;
        }
    }
    for (int i = 0; i < n; i++) {
        free(want[i]);
    }
    free(want);
    free(wl);
}

static void
client_free(struct client *c)
{
    for (int r = 0; r < c->rounds; r++) {
        free(c->round[r]);
    }
    free(c->round);
    free(c->len);
    free(c->replies);
}

/* Appends argv's RESP array to round r of c. */
static void
add(struct client *c, int r, const char *const *argv)
{
    size_t n;

    c->round[r] = realloc(c->round[r], c->len[r] + 4096);
    cr_assert_not_null(c->round[r]);
    n = h_cmd_encode(c->round[r] + c->len[r], 4096, argv);
    cr_assert_gt(n, 0);
    c->len[r] += n;
}

#define ADD(c, r, ...) add((c), (r), (const char *const[]){__VA_ARGS__, NULL})

static void
client_init(struct client *c, int id, int rounds, int per_round)
{
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->rounds = rounds;
    c->per_round = per_round;
    c->round = calloc((size_t)rounds, sizeof(*c->round));
    c->len = calloc((size_t)rounds, sizeof(*c->len));
    c->cap = (size_t)rounds * (size_t)per_round * 512 + 4096;
    c->replies = malloc(c->cap);
    cr_assert(c->round != NULL && c->len != NULL && c->replies != NULL);
}

/* ---- many clients on one connection ---- */

#define MIX_CLIENTS 16
#define MIX_ROUNDS 8
#define MIX_PER_ROUND 40

/* Client id's script: commands of every kind on keys of its own
 * ("c<id>:..."), so its replies do not depend on the others'. */
static void
mixed_script(struct client *c, int id)
{
    unsigned x = 7919u * (unsigned)(id + 1);
    char k[32], k2[32], v[32], h[32], l[32], n[32], none[32];

    client_init(c, id, MIX_ROUNDS, MIX_PER_ROUND);
    snprintf(h, sizeof(h), "c%d:h", id);
    snprintf(l, sizeof(l), "c%d:l", id);
    snprintf(n, sizeof(n), "c%d:n", id);
    for (int r = 0; r < MIX_ROUNDS; r++) {
        for (int i = 0; i < MIX_PER_ROUND; i++) {
            x = x * 1103515245u + 12345u;
            snprintf(k, sizeof(k), "c%d:k%u", id, (x >> 16) % 5);
            snprintf(k2, sizeof(k2), "c%d:k%u", id, (x >> 20) % 5);
            snprintf(v, sizeof(v), "v%d.%d.%d", id, r, i);
            snprintf(none, sizeof(none), "c%d:none%u", id, (x >> 12) % 50);
            switch ((x >> 8) % 12) {
            case 0:
                ADD(c, r, "SET", k, v);
                break;
            case 1:
            case 2:
            case 3:
                ADD(c, r, "GET", k); /* hits, misses, nil */
                break;
            case 4:
                ADD(c, r, "GET", none); /* a miss every time */
                break;
            case 5:
                ADD(c, r, "INCR", n);
                break;
            case 6:
                ADD(c, r, "RPUSH", l, v);
                break;
            case 7:
                ADD(c, r, "LRANGE", l, "-2", "-1");
                break;
            case 8:
                ADD(c, r, "HSET", h, k, v);
                break;
            case 9:
                ADD(c, r, "MGET", k, k2, none);
                break;
            case 10:
                ADD(c, r, "GET", h); /* WRONGTYPE once h exists */
                break;
            default:
                ADD(c, r, "EVAL",
                    "return {KEYS[1], redis.call('EXISTS', KEYS[1])}", "1", k);
                break;
            }
        }
    }
}

/* Reads MONITOR lines from m until one holds end: for each line that
 * names a client's key ("c<id>:"), the address it came from must be the
 * same; counts the clients seen and how often the client changes from
 * one line to the next. */
static void
monitor_lines(redisContext *m, const char *end, char *addr, size_t cap,
              int *seen, int *switches)
{
    int last = -1;

    addr[0] = '\0';
    for (;;) {
        redisReply *rep = NULL;
        const char *p, *a, *b;
        char *idend = NULL;
        int id;

        cr_assert_eq(redisGetReply(m, (void **)&rep), REDIS_OK, "MONITOR: %s",
                     m->errstr);
        cr_assert_eq(rep->type, REDIS_REPLY_STATUS);
        if (strstr(rep->str, end) != NULL) {
            freeReplyObject(rep);
            return;
        }
        p = strstr(rep->str, "\"c");
        a = strchr(rep->str, '[');
        id = p != NULL ? (int)strtol(p + 2, &idend, 10) : -1;
        if (p != NULL && a != NULL && idend != p + 2 && *idend == ':' &&
            strstr(rep->str, "lua]") == NULL && id >= 0 && id < MIX_CLIENTS) {
            a = strchr(a, ' ');
            b = a != NULL ? strchr(a, ']') : NULL;
            cr_assert(b != NULL, "MONITOR: %s", rep->str);
            if (addr[0] == '\0') {
                snprintf(addr, cap, "%.*s", (int)(b - a - 1), a + 1);
            }
            cr_assert(strncmp(a + 1, addr, (size_t)(b - a - 1)) == 0 &&
                          strlen(addr) == (size_t)(b - a - 1),
                      "clients' commands came from two connections: %s and %s",
                      addr, rep->str);
            seen[id] = 1;
            *switches += last >= 0 && last != id;
            last = id;
        }
        freeReplyObject(rep);
    }
}

Test(pipeline, sixteen_clients_share_one_connection_each_reading_its_own)
{
    static struct client cl[MIX_CLIENTS];
    int seen[MIX_CLIENTS] = {0}, switches = 0, nseen = 0;
    char addr[64];
    redisContext *m;
    redisReply *rep;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = POOL_1, .admin = 1));
    for (int i = 0; i < MIX_CLIENTS; i++) {
        mixed_script(&cl[i], i);
    }
    m = h_redis_ctx(&redis);
    cr_assert_not_null(m);
    rep = redisCommand(m, "MONITOR");
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    same_as_twin(cl, MIX_CLIENTS);
    cr_assert_eq(h_redis_cmd(&redis, "ECHO monitor-end"), 0);
    monitor_lines(m, "monitor-end", addr, sizeof(addr), seen, &switches);
    for (int i = 0; i < MIX_CLIENTS; i++) {
        nseen += seen[i];
    }
    cr_assert_eq(nseen, MIX_CLIENTS, "MONITOR saw %d clients' commands", nseen);
    cr_assert_gt(switches, 2 * MIX_CLIENTS,
                 "the clients' commands interleaved only %d times", switches);
    cr_assert_gt(h_metric(&proxy, P "cache_hits_total"), 0);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    redisFree(m);
    for (int i = 0; i < MIX_CLIENTS; i++) {
        client_free(&cl[i]);
    }
}

/* ---- a batch of misses ---- */

#define MISS_CLIENTS 4
#define MISS_KEYS 500 /* per client: 400 present, 100 absent */
#define MISS_GETS 600 /* each key once, then 100 again */

/* Sets keys prefix0 .. prefix<n-1> in r in one round trip, each to a
 * value of its own of 1 to 97 bytes and more. */
static void
seed_keys(const struct h_redis *r, const char *prefix, int n)
{
    char count[16];
    redisContext *c = h_redis_ctx(r);
    redisReply *rep;

    cr_assert_not_null(c);
    snprintf(count, sizeof(count), "%d", n);
    rep = redisCommand(c, "EVAL %s 0 %s %s",
                       "for i = 0, tonumber(ARGV[2]) - 1 do "
                       "redis.call('SET', ARGV[1] .. i, "
                       "string.rep('v', 1 + i % 97) .. i) end",
                       prefix, count);
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_NIL, "seeding %s",
              prefix);
    freeReplyObject(rep);
    redisFree(c);
}

Test(pipeline, pipelined_batches_of_get_misses_come_back_in_order)
{
    static struct client cl[MISS_CLIENTS];
    char prefix[32], key[48];
    int order[MISS_KEYS];

    for (int i = 0; i < MISS_CLIENTS; i++) {
        snprintf(prefix, sizeof(prefix), "m:%d:", i);
        seed_keys(&redis, prefix, MISS_KEYS - 100);
        seed_keys(&twin, prefix, MISS_KEYS - 100);
    }
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = POOL_1, .admin = 1));
    for (int i = 0; i < MISS_CLIENTS; i++) {
        unsigned x = 31u * (unsigned)(i + 1);

        client_init(&cl[i], i, 1, MISS_GETS);
        for (int k = 0; k < MISS_KEYS; k++) {
            order[k] = k;
        }
        for (int k = MISS_KEYS - 1; k > 0; k--) { /* a shuffle */
            int j, t;

            x = x * 1103515245u + 12345u;
            j = (int)((x >> 8) % (unsigned)(k + 1));
            t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
        for (int g = 0; g < MISS_GETS; g++) {
            snprintf(key, sizeof(key), "m:%d:%d", i, order[g % MISS_KEYS]);
            ADD(&cl[i], 0, "GET", key);
        }
    }
    same_as_twin(cl, MISS_CLIENTS);
    /* the first read of every key was a miss */
    cr_assert_geq(h_metric(&proxy, P "cache_misses_total"),
                  MISS_CLIENTS * MISS_KEYS);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    for (int i = 0; i < MISS_CLIENTS; i++) {
        client_free(&cl[i]);
    }
}

/* ---- a slow command and other clients' hits ---- */

#define HITS 10

Test(pipeline, slow_command_does_not_stall_other_clients_cache_hits)
{
    char path[32], val[32], want[64], got[64];
    redisContext *q;
    redisReply *rep;
    int a, b, h;

    /* One worker and one Redis connection: a worker or a connection
     * waiting for the script would hold up everything else. */
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nworkers = 1\n" POOL_1
                                "command_timeout = 10s\n",
                         .admin = 1));
    b = h_conn(proxy.resp_port);
    h = h_conn(proxy.http_port);
    for (int i = 0; i < HITS; i++) {
        snprintf(path, sizeof(path), "hot:%d", i);
        snprintf(val, sizeof(val), "value-%d", i);
        h_set(&redis, path, val);
        snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(val), val);
        SEND(b, "GET", path); /* cached now */
        EXPECT(b, want);
    }
    a = h_conn(proxy.resp_port);
    SEND(a, "EVAL", H_BUSY_SCRIPT, "0", "2000");
    q = h_redis_await_busy(&redis, REPLY_MS);
    /* hits over RESP (pipelined) and over HTTP, while Redis is busy */
    for (int i = 0; i < HITS; i++) {
        snprintf(path, sizeof(path), "hot:%d", i);
        SEND(b, "GET", path);
    }
    for (int i = 0; i < HITS; i++) {
        struct h_resp r = {0};
        long n;

        snprintf(val, sizeof(val), "value-%d", i);
        snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(val), val);
        n = h_read_replies(b, 1, got, sizeof(got) - 1, REPLY_MS);
        got[n > 0 ? n : 0] = '\0';
        cr_assert_str_eq(got, want, "RESP hit %d", i);
        snprintf(path, sizeof(path), "/hot:%d", i);
        cr_assert_eq(h_http_get_on(h, path, &r, REPLY_MS), 0, "%s", path);
        h_check(&r, path, 200, val, "HIT");
        h_resp_free(&r);
    }
    /* ... all before the script's reply, while it still ran */
    cr_assert_eq(h_readable(&a, 1, 0), 0u,
                 "the script was answered before the hits");
    cr_assert_eq(h_readable(&q->fd, 1, 0), 0u,
                 "the script had ended before the hits were answered");
    EXPECT(a, "$4\r\ndone\r\n");
    cr_assert_eq(redisGetReply(q, (void **)&rep), REDIS_OK);
    freeReplyObject(rep);
    redisFree(q);
    cr_assert_eq(h_await_metric(&proxy, P "cache_hits_total", 2 * HITS, 2000),
                 2 * HITS);
    close(a);
    close(b);
    close(h);
}

/* ---- HTTP misses ---- */

#define HTTP_CLIENTS 8
#define HTTP_ROUNDS 8
#define HTTP_PER_ROUND 25
#define HTTP_KEYS 250 /* 200 present, 50 absent */

struct http_client {
    int id;
    long ok;
    char fail[256];
};

/* Pipelines HTTP_PER_ROUND GETs a round and checks every response. */
static void *
http_client(void *arg)
{
    struct http_client *c = arg;
    unsigned x = 131u * (unsigned)(c->id + 1);
    int fd = h_connect(proxy.http_port);

    for (int r = 0; fd >= 0 && r < HTTP_ROUNDS && c->fail[0] == '\0'; r++) {
        char req[HTTP_PER_ROUND * 64];
        int keys[HTTP_PER_ROUND];
        size_t len = 0;

        for (int i = 0; i < HTTP_PER_ROUND; i++) {
            x = x * 1103515245u + 12345u;
            keys[i] = (int)((x >> 8) % HTTP_KEYS);
            len += (size_t)snprintf(
                req + len, sizeof(req) - len,
                "GET /hk:%d HTTP/1.1\r\nHost: localhost\r\n\r\n", keys[i]);
        }
        if (h_send(fd, req, len) != 0) {
            snprintf(c->fail, sizeof(c->fail), "client %d: send", c->id);
            break;
        }
        for (int i = 0; i < HTTP_PER_ROUND; i++) {
            struct h_resp resp = {0};
            char want[32], xc[16] = "";
            int present = keys[i] < HTTP_KEYS - 50;

            snprintf(want, sizeof(want), "hv:%d", keys[i]);
            if (h_read_resp(fd, &resp, 0, REPLY_MS) != 0 ||
                resp.status != (present ? 200 : 404) ||
                (present && (!h_body_is(&resp, want) ||
                             !h_header(&resp, "X-Cache", xc, sizeof(xc)) ||
                             strcmp(xc, "MISS") != 0))) {
                snprintf(c->fail, sizeof(c->fail),
                         "client %d, /hk:%d: status %d, X-Cache %s, body "
                         "'%.40s'",
                         c->id, keys[i], resp.status, xc,
                         resp.body ? resp.body : "");
                h_resp_free(&resp);
                break;
            }
            c->ok++;
            h_resp_free(&resp);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

Test(pipeline, http_get_misses_under_concurrency_are_each_right)
{
    struct http_client cl[HTTP_CLIENTS] = {{0}};
    pthread_t t[HTTP_CLIENTS];
    char key[32], val[32];
    long gets;

    for (int k = 0; k < HTTP_KEYS - 50; k++) {
        snprintf(key, sizeof(key), "hk:%d", k);
        snprintf(val, sizeof(val), "hv:%d", k);
        h_set(&redis, key, val);
    }
    /* the cache off: every GET is a fill */
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = POOL_1 "[cache]\ncapacity = 0\n", .admin = 1));
    for (int i = 0; i < HTTP_CLIENTS; i++) {
        cl[i].id = i;
        cr_assert_eq(pthread_create(&t[i], NULL, http_client, &cl[i]), 0);
    }
    for (int i = 0; i < HTTP_CLIENTS; i++) {
        pthread_join(t[i], NULL);
    }
    for (int i = 0; i < HTTP_CLIENTS; i++) {
        cr_assert_str_empty(cl[i].fail, "%s", cl[i].fail);
        cr_assert_eq(cl[i].ok, HTTP_ROUNDS * HTTP_PER_ROUND);
    }
    /* Redis answered them (fills of one key at once may be shared) */
    gets = h_redis_calls(&redis, "get");
    cr_assert_gt(gets, HTTP_KEYS, "Redis counted %ld GETs", gets);
}
