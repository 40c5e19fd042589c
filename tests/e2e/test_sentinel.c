/*
 * End-to-end tests of the proxy following Redis Sentinel (see
 * harness_sentinel.h: a master, two replicas and three redis-sentinel
 * processes on loopback):
 *   - the master the sentinels name is the one used, and readiness,
 *     /metrics, /stats.json and the dashboard show it and every sentinel;
 *   - the master killed (SIGKILL) under load from clients writing and
 *     reading their own keys: writes resume through the proxy once the
 *     sentinels promote a replica, with no step by anyone; no reply is
 *     ever -READONLY; a client's read right after its write gets what it
 *     wrote; entries cached from the old master are gone after the switch
 *     (a value written straight into the new master is what the proxy
 *     answers, never the one cached before);
 *   - one sentinel down: the others are asked, readiness shows it down,
 *     and a failover (SENTINEL FAILOVER, the old master alive) is still
 *     followed; sessions on the old master (a subscriber, a client blocked
 *     in BLPOP) end with the failover error and their connection closes;
 *   - every sentinel down: the proxy keeps serving the last master it knew.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_sentinel.h"

#define FAILOVER_MS 20000 /* sentinels promote a replica (down after 1 s) */
#define LOADERS 3

H_SENTINEL_SUITE(sentinel, 120);

/* ---- clients writing and reading their own keys ---- */

struct loader {
    pthread_t thread;
    int port;
    int id;
    atomic_int stop;
    atomic_long ok, errors, readonly, stale;
    atomic_long ok_after; /* writes acknowledged after `mark` was set */
    atomic_int *mark;
    char last_error[256];
};

/* SET w:<id> n, then GET it, until told to stop; counts what came. */
static void *
loader_main(void *arg)
{
    struct loader *l = arg;
    redisContext *c = NULL;
    long n = 0;

    while (!atomic_load(&l->stop)) {
        char key[32], val[32], got[64];
        redisReply *r;
        int rc, set_ok;

        if (c == NULL || c->err) {
            if (c != NULL) {
                redisFree(c);
            }
            c = redisConnect("127.0.0.1", l->port);
            if (c == NULL || c->err) {
                h_sleep_ms(20);
                continue;
            }
        }
        snprintf(key, sizeof(key), "w:%d", l->id);
        snprintf(val, sizeof(val), "%ld", ++n);
        r = redisCommand(c, "SET %s %s", key, val);
        set_ok = r != NULL && r->type == REDIS_REPLY_STATUS;
        if (r != NULL && r->type == REDIS_REPLY_ERROR) {
            atomic_fetch_add(&l->errors, 1);
            if (strncmp(r->str, "READONLY", 8) == 0) {
                atomic_fetch_add(&l->readonly, 1);
            }
            snprintf(l->last_error, sizeof(l->last_error), "%s", r->str);
        }
        freeReplyObject(r);
        if (!set_ok) {
            h_sleep_ms(10);
            continue;
        }
        atomic_fetch_add(&l->ok, 1);
        if (atomic_load(l->mark)) {
            atomic_fetch_add(&l->ok_after, 1);
        }
        rc = h_resp_get(c, key, got, sizeof(got));
        if (rc == 1 && strcmp(got, val) != 0) {
            atomic_fetch_add(&l->stale, 1); /* its own write, not seen */
        } else if (rc < 0 && strncmp(got, "READONLY", 8) == 0) {
            atomic_fetch_add(&l->readonly, 1);
        }
    }
    if (c != NULL) {
        redisFree(c);
    }
    return NULL;
}

static void
loaders_start(struct loader *l, int n, int port, atomic_int *mark)
{
    int i;

    for (i = 0; i < n; i++) {
        memset(&l[i], 0, sizeof(l[i]));
        l[i].port = port;
        l[i].id = i;
        l[i].mark = mark;
        cr_assert_eq(pthread_create(&l[i].thread, NULL, loader_main, &l[i]), 0);
    }
}

static void
loaders_stop(struct loader *l, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        atomic_store(&l[i].stop, 1);
    }
    for (i = 0; i < n; i++) {
        pthread_join(l[i].thread, NULL);
    }
}

/* Every loader: no -READONLY, writes acknowledged after the mark, and,
 * with own_values, never its own old value. (Not when the old master
 * lives on: a write it acknowledged after the sentinels promoted another,
 * before they announced it, is lost by Redis when it is made a replica.) */
static void
loaders_check(struct loader *l, int n, int own_values)
{
    int i;

    for (i = 0; i < n; i++) {
        cr_expect_eq(atomic_load(&l[i].readonly), 0,
                     "loader %d saw -READONLY (%s)", i, l[i].last_error);
        cr_expect(!own_values || atomic_load(&l[i].stale) == 0,
                  "loader %d read an old value of its own key", i);
        cr_expect_gt(atomic_load(&l[i].ok_after), 0,
                     "loader %d: no write went through after the failover "
                     "(%ld ok, %ld errors, last: %s)",
                     i, atomic_load(&l[i].ok), atomic_load(&l[i].errors),
                     l[i].last_error);
    }
}

/* ---- helpers ---- */

static struct h_proxy_opts
opts(void)
{
    struct h_proxy_opts o = {.admin = 1};
    return o;
}

/* The proxy's master, as /metrics says, is node want. */
static int
proxy_master_is(const struct h_proxy *p, const struct h_sentinels *s, int want)
{
    char series[128], *text = h_scrape(p);
    double v;

    snprintf(series, sizeof(series),
             "redis_proxy_sentinel_master_info{name=\"%s\","
             "master=\"127.0.0.1:%d\"}",
             H_SENT_NAME, s->redis[want].port);
    v = h_prom_value(text, series);
    free(text);
    return v == 1;
}

struct master_wait {
    const struct h_proxy *p;
    const struct h_sentinels *s;
    int want;
};

static int
follows(void *arg)
{
    struct master_wait *w = arg;

    return proxy_master_is(w->p, w->s, w->want);
}

static void
await_proxy_master(int want, int timeout_ms)
{
    struct master_wait w = {&proxy, &sent, want};

    cr_assert(h_wait_until(timeout_ms, follows, &w),
              "the proxy does not follow the new master 127.0.0.1:%d",
              sent.redis[want].port);
}

/* GET /key on the HTTP port: its status, value into out, X-Cache into
 * xc. */
static int
http_get(const char *key, char *out, size_t cap, char *xc, size_t xcap)
{
    struct h_resp r = {0};
    char path[128];
    int st;

    snprintf(path, sizeof(path), "/%s", key);
    cr_assert_eq(h_http_get(proxy.http_port, path, &r), 0);
    snprintf(out, cap, "%.*s", (int)r.body_len, r.body != NULL ? r.body : "");
    h_header(&r, "X-Cache", xc, xcap);
    st = r.status;
    h_resp_free(&r);
    return st;
}

/* ---- tests ---- */

Test(sentinel, the_master_they_name_is_used_and_shown)
{
    char list[256], *body, want[128];
    redisContext *c;
    redisReply *r;
    int i;

    h_st_start(&sent, NULL);
    {
        struct h_proxy_opts o = opts();

        h_st_proxy(&proxy, &sent, &o);
    }
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    r = redisCommand(c, "SET k v");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(c);
    r = h_sent_redis_cmd(&sent, 0, "GET k");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING &&
                  strcmp(r->str, "v") == 0,
              "the write did not reach the master");
    freeReplyObject(r);

    body = h_st_admin(&proxy, "/readyz");
    snprintf(want, sizeof(want), "node 127.0.0.1:%d master",
             sent.redis[0].port);
    cr_expect(strstr(body, want) != NULL, "%s", body);
    snprintf(want, sizeof(want),
             "sentinel master %s 127.0.0.1:%d failovers=0 reachable=3/3",
             H_SENT_NAME, sent.redis[0].port);
    cr_expect(strstr(body, want) != NULL, "%s", body);
    h_sent_list(&sent, list, sizeof(list));
    for (i = 0; i < H_SENT_SENTINELS; i++) {
        snprintf(want, sizeof(want), "sentinel 127.0.0.1:%d up subscribed",
                 sent.sentinel[i].port);
        cr_expect(strstr(body, want) != NULL, "%s", body);
    }
    free(body);

    body = h_st_admin(&proxy, "/stats.json");
    cr_expect_eq(h_json_check(body), 0, "%s", body);
    snprintf(want, sizeof(want), "\"master\":\"127.0.0.1:%d\"",
             sent.redis[0].port);
    cr_expect(strstr(body, want) != NULL, "%s", body);
    cr_expect(strstr(body, "\"failovers\":0") != NULL, "%s", body);
    cr_expect(strstr(body, "\"mode\":\"sentinel\"") != NULL, "%s", body);
    free(body);

    cr_expect(proxy_master_is(&proxy, &sent, 0));
    snprintf(want, sizeof(want),
             "redis_proxy_sentinel_up{sentinel=\"127.0.0.1:%d\"}",
             sent.sentinel[2].port);
    cr_expect_eq(h_metric(&proxy, want), 1);
    cr_expect_eq(h_metric(&proxy, "redis_proxy_sentinels_reachable"), 3);
    cr_expect_eq(h_metric(&proxy, "redis_proxy_sentinel_failovers_total"), 0);

    body = h_st_admin(&proxy, "/");
    cr_expect(strstr(body, "id=\"sentinel-panel\"") != NULL);
    free(body);
}

Test(sentinel, the_master_killed_under_load_writes_resume_with_no_stale_read)
{
    struct loader l[LOADERS];
    atomic_int after;
    char key[32], val[64], xc[16], *body, want[64];
    int i, m;

    h_st_start(&sent, NULL);
    {
        struct h_proxy_opts o = opts();

        h_st_proxy(&proxy, &sent, &o);
    }
    /* Cached from the first master: c:0.. read through the proxy twice. */
    for (i = 0; i < 10; i++) {
        redisReply *r;

        snprintf(key, sizeof(key), "c:%d", i);
        r = h_sent_redis_cmd(&sent, 0, "SET %s old", key);
        freeReplyObject(r);
        cr_assert_eq(http_get(key, val, sizeof(val), xc, sizeof(xc)), 200);
        cr_assert_eq(http_get(key, val, sizeof(val), xc, sizeof(xc)), 200);
        cr_assert_str_eq(xc, "HIT", "%s not cached", key);
    }
    cr_assert(h_sent_wait_synced(&sent, 0, 5000));
    atomic_init(&after, 0);
    loaders_start(l, LOADERS, proxy.resp_port, &after);
    h_sleep_ms(300);
    h_sent_kill_redis(&sent, 0);
    m = h_sent_wait_master(&sent, 0, FAILOVER_MS);
    cr_assert_geq(m, 0, "the sentinels promoted no replica");
    await_proxy_master(m, 5000);
    atomic_store(&after, 1);
    h_sleep_ms(500);
    loaders_stop(l, LOADERS);
    loaders_check(l, LOADERS, 1);

    /* Written straight into the new master, which never saw the proxy
     * read these keys: only a cache emptied at the switch answers it. */
    for (i = 0; i < 10; i++) {
        redisReply *r;

        snprintf(key, sizeof(key), "c:%d", i);
        r = h_sent_redis_cmd(&sent, m, "SET %s new", key);
        cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
        cr_assert_eq(http_get(key, val, sizeof(val), xc, sizeof(xc)), 200);
        cr_expect_str_eq(val, "new", "%s: the old master's value served", key);
        cr_expect_str_eq(xc, "MISS", "%s", key);
    }
    cr_expect_eq(h_metric(&proxy, "redis_proxy_sentinel_failovers_total"), 1);
    body = h_st_admin(&proxy, "/readyz");
    snprintf(want, sizeof(want), "127.0.0.1:%d failovers=1",
             sent.redis[m].port);
    cr_expect(strstr(body, want) != NULL, "%s", body);
    free(body);
}

/* A connection in a session: sends argv, reads its first reply. */
static int
session_client(const char *const *argv, const char *first)
{
    char buf[256];
    int fd = h_conn(proxy.resp_port);

    h_send_argv(fd, argv);
    if (first != NULL) {
        cr_assert_gt(h_read_replies(fd, 1, buf, sizeof(buf), 3000), 0);
        cr_assert(strstr(buf, first) != NULL, "%s", buf);
    }
    return fd;
}

Test(sentinel, one_sentinel_down_a_failover_is_still_followed_and_sessions_end)
{
    static const char ended[] =
        "-ERR the master changed (failover): session ended\r\n";
    struct loader l[1];
    atomic_int after;
    char buf[512], *body, want[128];
    int sub, blocked, m;
    redisReply *r;

    h_st_start(&sent, NULL);
    {
        struct h_proxy_opts o = opts();

        h_st_proxy(&proxy, &sent, &o);
    }
    h_sent_kill_sentinel(&sent, 0);
    sub = session_client((const char *const[]){"SUBSCRIBE", "news", NULL},
                         "subscribe");
    blocked =
        session_client((const char *const[]){"BLPOP", "q", "0", NULL}, NULL);
    /* Readiness says which sentinel is down once the proxy asked it. */
    h_sleep_ms(1500);
    body = h_st_admin(&proxy, "/readyz");
    snprintf(want, sizeof(want), "sentinel 127.0.0.1:%d down",
             sent.sentinel[0].port);
    cr_expect(strstr(body, want) != NULL, "%s", body);
    cr_expect(strstr(body, "reachable=2/3") != NULL, "%s", body);
    free(body);

    atomic_init(&after, 0);
    loaders_start(l, 1, proxy.resp_port, &after);
    cr_assert(h_sent_wait_synced(&sent, 0, 5000));
    r = h_sent_sentinel_cmd(&sent, 1, "SENTINEL FAILOVER %s", H_SENT_NAME);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS, "%s",
              r != NULL && r->str != NULL ? r->str : "no reply");
    freeReplyObject(r);
    m = h_sent_wait_master(&sent, 0, FAILOVER_MS);
    cr_assert_geq(m, 0, "the sentinels promoted no replica");
    await_proxy_master(m, 5000);
    atomic_store(&after, 1);
    h_sleep_ms(500);
    loaders_stop(l, 1);
    loaders_check(l, 1, 0);

    /* The subscriber and the blocked client hear why, then the close. */
    cr_expect_eq(h_read_replies(sub, 1, buf, sizeof(buf), 3000),
                 (long)sizeof(ended) - 1);
    cr_expect_str_eq(buf, ended);
    cr_expect(h_wait_closed(sub, 3000));
    cr_expect_eq(h_read_replies(blocked, 1, buf, sizeof(buf), 3000),
                 (long)sizeof(ended) - 1);
    cr_expect_str_eq(buf, ended);
    cr_expect(h_wait_closed(blocked, 3000));
    close(sub);
    close(blocked);
    cr_expect_geq(h_metric(&proxy, "redis_proxy_failover_sessions_ended_total"),
                  2);

    /* A new session goes to the new master. */
    sub = session_client((const char *const[]){"SUBSCRIBE", "news", NULL},
                         "subscribe");
    r = h_sent_redis_cmd(&sent, m, "PUBLISH news hello");
    cr_expect(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1,
              "the new subscriber is not on the new master");
    freeReplyObject(r);
    close(sub);
}

Test(sentinel, every_sentinel_down_the_last_master_is_served)
{
    redisContext *c;
    redisReply *r;
    char *body, want[128];
    int i;

    h_st_start(&sent, NULL);
    {
        struct h_proxy_opts o = opts();

        h_st_proxy(&proxy, &sent, &o);
    }
    for (i = 0; i < H_SENT_SENTINELS; i++) {
        h_sent_kill_sentinel(&sent, i);
    }
    h_sleep_ms(1500); /* asked again at least once: none answers */
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    for (i = 0; i < 20; i++) {
        char got[32];

        r = redisCommand(c, "SET k%d v%d", i, i);
        cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS, "SET k%d: %s", i,
                  r != NULL && r->str != NULL ? r->str : "no reply");
        freeReplyObject(r);
        snprintf(want, sizeof(want), "k%d", i);
        cr_assert_eq(h_resp_get(c, want, got, sizeof(got)), 1, "%s", got);
    }
    redisFree(c);
    r = h_sent_redis_cmd(&sent, 0, "GET k19");
    cr_expect(r != NULL && r->type == REDIS_REPLY_STRING &&
              strcmp(r->str, "v19") == 0);
    freeReplyObject(r);
    body = h_st_admin(&proxy, "/readyz");
    cr_expect(strncmp(body, "ready\n", 6) == 0, "%s", body);
    snprintf(want, sizeof(want), "127.0.0.1:%d failovers=0 reachable=0/3",
             sent.redis[0].port);
    cr_expect(strstr(body, want) != NULL, "%s", body);
    free(body);
    cr_expect_eq(h_metric(&proxy, "redis_proxy_sentinels_reachable"), 0);
}
