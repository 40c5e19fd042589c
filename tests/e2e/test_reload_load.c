/*
 * End-to-end test of reloads under load: client threads keep reading over
 * HTTP keep-alive and RESP (pipelined) and writing through the proxy
 * (SET, then GET of what was just written) while the test sends SIGHUP
 * twenty times, alternating two valid files that differ in TTL,
 * capacity (so every other reload shrinks the cache far below the keys
 * being read) and log level. Every reply must be right, every reload
 * applied, and the proxy still up (and exit 0 when stopped).
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "reload_util.h"

#define P "redis_proxy_"
#define IO_MS 3000
#define KEYS 200   /* read keys L0..L199; more than capacity in file A */
#define RELOADS 20 /* SIGHUPs, alternating A and B */
#define PIPE 10    /* RESP GETs per pipelined batch */

H_PAIR_SUITE(reload_load, 120);

enum client_kind { HTTP_READER, RESP_READER, WRITER };

/* One client thread; no assertion inside, the first wrong reply is kept
 * as text. */
struct client {
    pthread_t thread;
    enum client_kind kind;
    int id;
    atomic_long ops, bad;
    char err[256];
};

static atomic_int stop;

__attribute__((format(printf, 2, 3))) static void
client_fail(struct client *c, const char *fmt, ...)
{
    va_list ap;

    if (atomic_fetch_add(&c->bad, 1) == 0) {
        va_start(ap, fmt);
        vsnprintf(c->err, sizeof(c->err), fmt, ap);
        va_end(ap);
    }
}

static void
http_reader(struct client *c)
{
    char path[32], want[32];
    struct h_resp r;
    int fd = h_connect(proxy.http_port), i = c->id * 37;

    if (fd < 0) {
        client_fail(c, "http: cannot connect");
        return;
    }
    while (!atomic_load(&stop)) {
        i = (i + 1) % KEYS;
        snprintf(path, sizeof(path), "/L%d", i);
        snprintf(want, sizeof(want), "val-L%d", i);
        if (h_http_get_on(fd, path, &r, IO_MS) != 0) {
            client_fail(c, "GET %s: %s", path, "no response");
            break;
        }
        if (r.status != 200 || !h_body_is(&r, want)) {
            client_fail(c, "GET %s: %.80s", path,
                        r.body != NULL ? r.body : "(no body)");
        }
        h_resp_free(&r);
        atomic_fetch_add(&c->ops, 1);
    }
    close(fd);
}

static void
resp_reader(struct client *c)
{
    redisContext *ctx = h_proxy_resp_ctx(&proxy);
    char want[32];
    redisReply *rep;
    int i = c->id * 53, j;

    if (ctx == NULL) {
        client_fail(c, "resp: cannot connect");
        return;
    }
    while (!atomic_load(&stop)) {
        for (j = 0; j < PIPE; j++) {
            redisAppendCommand(ctx, "GET L%d", (i + j) % KEYS);
        }
        for (j = 0; j < PIPE; j++) {
            snprintf(want, sizeof(want), "val-L%d", (i + j) % KEYS);
            if (redisGetReply(ctx, (void **)&rep) != REDIS_OK) {
                client_fail(c, "GET %s: %s", want, ctx->errstr);
                redisFree(ctx);
                return;
            }
            if (rep->type != REDIS_REPLY_STRING ||
                strcmp(rep->str, want) != 0) {
                client_fail(c, "GET for %s: %.80s", want,
                            rep->str != NULL ? rep->str : "(not a string)");
            }
            freeReplyObject(rep);
            atomic_fetch_add(&c->ops, 1);
        }
        i = (i + PIPE) % KEYS;
    }
    redisFree(ctx);
}

/* SET W<id> <n>, then GET W<id> must read n back: a write is forwarded
 * and invalidates the key before its reply, reload or not. */
static void
writer(struct client *c)
{
    redisContext *ctx = h_proxy_resp_ctx(&proxy);
    char key[32], val[32];
    redisReply *rep;
    long n = 0;

    if (ctx == NULL) {
        client_fail(c, "resp: cannot connect");
        return;
    }
    snprintf(key, sizeof(key), "W%d", c->id);
    while (!atomic_load(&stop)) {
        snprintf(val, sizeof(val), "%ld", ++n);
        rep = redisCommand(ctx, "SET %s %s", key, val);
        if (rep == NULL || rep->type != REDIS_REPLY_STATUS ||
            strcmp(rep->str, "OK") != 0) {
            client_fail(c, "SET %s: %s", key,
                        rep == NULL ? ctx->errstr : "not +OK");
            freeReplyObject(rep);
            break;
        }
        freeReplyObject(rep);
        rep = redisCommand(ctx, "GET %s", key);
        if (rep == NULL || rep->type != REDIS_REPLY_STRING ||
            strcmp(rep->str, val) != 0) {
            client_fail(c, "GET %s after SET: %s", key,
                        rep == NULL        ? ctx->errstr
                        : rep->str != NULL ? rep->str
                                           : "(not a string)");
            freeReplyObject(rep);
            break;
        }
        freeReplyObject(rep);
        atomic_fetch_add(&c->ops, 2);
    }
    redisFree(ctx);
}

static void *
client_main(void *arg)
{
    struct client *c = arg;

    if (c->kind == HTTP_READER) {
        http_reader(c);
    } else if (c->kind == RESP_READER) {
        resp_reader(c);
    } else {
        writer(c);
    }
    return NULL;
}

#define CLIENTS 5

struct progress {
    struct client *cs;
    long base[CLIENTS];
    long more;
};

/* Every client made `more` ops beyond its base, or one went wrong. */
static int
all_progressed(void *arg)
{
    struct progress *p = arg;

    for (int i = 0; i < CLIENTS; i++) {
        if (atomic_load(&p->cs[i].bad) > 0) {
            return 1;
        }
        if (atomic_load(&p->cs[i].ops) < p->base[i] + p->more) {
            return 0;
        }
    }
    return 1;
}

/* Waits until every client has made `more` ops since now. */
static int
await_progress(struct client *cs, long more)
{
    struct progress p = {.cs = cs, .more = more};

    for (int i = 0; i < CLIENTS; i++) {
        p.base[i] = atomic_load(&cs[i].ops);
    }
    return h_wait_until(10000, all_progressed, &p);
}

Test(reload_load, twenty_reloads_under_load_fail_no_request)
{
    static const char file_a[] = "[cache]\nttl = 2s\ncapacity = 50\n"
                                 "[log]\nlevel = info\n";
    static const char file_b[] = "[cache]\nttl = 1h\ncapacity = 5000\n"
                                 "[log]\nlevel = debug\n";
    static const enum client_kind kinds[CLIENTS] = {
        HTTP_READER, HTTP_READER, RESP_READER, WRITER, WRITER};
    struct client cs[CLIENTS];
    redisContext *rc;
    redisReply *rep;
    int i, progressed = 1;
    long total = 0;
    pid_t pid;

    rc = h_redis_ctx(&redis);
    cr_assert_not_null(rc);
    for (i = 0; i < KEYS; i++) {
        redisAppendCommand(rc, "SET L%d val-L%d", i, i);
    }
    for (i = 0; i < KEYS; i++) {
        cr_assert_eq(redisGetReply(rc, (void **)&rep), REDIS_OK);
        freeReplyObject(rep);
    }
    redisFree(rc);
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = file_b, .admin = 1));
    pid = proxy.pid;

    atomic_store(&stop, 0);
    memset(cs, 0, sizeof(cs));
    for (i = 0; i < CLIENTS; i++) {
        cs[i].kind = kinds[i];
        cs[i].id = i;
        cr_assert_eq(pthread_create(&cs[i].thread, NULL, client_main, &cs[i]),
                     0);
    }
    progressed = await_progress(cs, 50);
    for (i = 0; i < RELOADS && progressed; i++) {
        rl_write_ini(&proxy, &redis, NULL, i % 2 == 0 ? file_a : file_b);
        if (rl_sighup(&proxy) != 1) {
            break;
        }
        /* Load between every two reloads, on every client. */
        progressed = await_progress(cs, 200);
    }
    atomic_store(&stop, 1);
    for (int k = 0; k < CLIENTS; k++) {
        pthread_join(cs[k].thread, NULL);
    }
    for (int k = 0; k < CLIENTS; k++) {
        cr_assert_eq(atomic_load(&cs[k].bad), 0, "client %d: %s", k, cs[k].err);
        total += atomic_load(&cs[k].ops);
    }
    cr_assert(progressed, "a client stopped making progress");
    cr_assert_eq(i, RELOADS, "reload %d failed", i + 1);
    cr_assert_eq(rl_metric(&proxy, P "config_reloads_total{result=\"ok\"}"),
                 RELOADS);
    cr_assert_eq(rl_metric(&proxy, P "config_reloads_total{result=\"failed\"}"),
                 0);
    cr_assert_gt(
        rl_metric(&proxy, P "cache_evictions_total{reason=\"capacity\"}"), 0,
        "no reload shrank the cache");
    cr_assert_eq(proxy.pid, pid);
    cr_assert_eq(kill(pid, 0), 0, "the proxy is gone");
    cr_assert_eq(rl_log_count(&proxy, "msg=\"starting\""), 1);
    cr_log_info("%ld requests answered across %d reloads", total, RELOADS);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}
