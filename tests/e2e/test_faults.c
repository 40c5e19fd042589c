/*
 * End-to-end tests of the proxy when Redis fails, with tracking on (the
 * default): startup waits for the invalidation stream; a pooled connection
 * Redis closed stops masking writes; stale-if-error (an expired entry
 * served as X-Cache: STALE while Redis is down or stalled, never one
 * removed by an invalidation, never once Redis answers again); a lost
 * stream's entries not served without it; a stall shorter than the
 * stream's 3 s PING limit keeping hits as HIT and misses as 504; Redis
 * killed and restarted under load (only clean answers, a clean exit); and
 * a timed-out command (a 504) leaving its pooled connection usable and its
 * late reply discarded. Each test starts its own redis-server (fixture)
 * and proxy; the fixture's fini stops both even on failure.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_MS 5000   /* a response must arrive within this */
#define NOTICE_MS 1000 /* the proxy notices that Redis died within this */

H_PAIR_SUITE(faults, 30);

static const char *
header(const struct h_resp *r, const char *name, char *buf, size_t cap)
{
    return h_header(r, name, buf, cap) ? buf : "(none)";
}

/* GET path, checked as in h_check; a 503 must carry Retry-After. */
static void
expect_get(const char *path, int status, const char *body, const char *xc)
{
    struct h_resp r = {0};
    char buf[64];

    cr_assert_eq(h_http_get(proxy.http_port, path, &r), 0,
                 "GET %s: no response", path);
    h_check(&r, path, status, body, xc);
    if (status == 503) {
        cr_assert_str_neq(header(&r, "Retry-After", buf, sizeof(buf)), "(none)",
                          "GET %s: 503 without Retry-After", path);
    }
    h_resp_free(&r);
}

/*
 * Redis was just killed: until the proxy reads the end of its stream (a
 * matter of microseconds, bounded here by NOTICE_MS) path may still be a
 * HIT with body old; waits for the first other answer.
 */
static void
await_not_hit(const char *path, const char *old)
{
    int64_t end = h_now_ms() + NOTICE_MS;
    char buf[64];

    for (;;) {
        struct h_resp r = {0};
        int hit;

        cr_assert_eq(h_http_get(proxy.http_port, path, &r), 0,
                     "GET %s: no response", path);
        hit = r.status == 200 &&
              strcmp(header(&r, "X-Cache", buf, sizeof(buf)), "HIT") == 0;
        cr_assert(!hit || h_body_is(&r, old), "GET %s: HIT '%.64s'", path,
                  r.body);
        h_resp_free(&r);
        if (!hit) {
            return;
        }
        cr_assert_lt(h_now_ms(), end,
                     "GET %s: still HIT %d ms after Redis died", path,
                     NOTICE_MS);
        h_sleep_ms(5);
    }
}

/* ---- losing track of what Redis reports ---- */

Test(faults, startup_waits_for_the_stream_before_serving)
{
    struct h_resp r = {0};
    redisContext *q;
    redisReply *rep;
    int fd, done = 0;

    h_set(&redis, "k", "v1");
    /* The stream's setup is held for 1.2 s, inside its command_timeout
     * (the proxy waits connect_timeout + command_timeout for it): answers
     * given before it is up are not cached. A PING sent after the pause
     * comes back only when it ends, so while it is unanswered the first
     * GET is known to be in before the stream. */
    q = h_redis_ctx(&redis);
    cr_assert_not_null(q);
    rep = redisCommand(q, "CLIENT PAUSE 1200 ALL");
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    cr_assert_eq(redisAppendCommand(q, "PING"), REDIS_OK);
    while (!done) {
        cr_assert_eq(redisBufferWrite(q, &done), REDIS_OK);
    }
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[redis]\ncommand_timeout = 3s\n"));
    fd = h_conn(proxy.http_port);
    cr_assert_eq(h_sends(fd, H_REQ("/k")), 0);
    cr_assert_eq(h_readable(&q->fd, 1, 0), 0,
                 "the pause was over before the first GET: test is void");
    cr_assert_eq(h_read_resp(fd, &r, 0, READ_MS), 0, "no first answer");
    h_check(&r, "first /k", 200, "v1", "MISS");
    h_resp_free(&r);
    close(fd);
    expect_get("/k", 200, "v1", "HIT");
    cr_assert_eq(redisGetReply(q, (void **)&rep), REDIS_OK);
    freeReplyObject(rep);
    redisFree(q);
}

/* The id of the proxy's pooled data connection (the one redirecting its
 * tracking), from CLIENT LIST; -1 if none. */
static long long
data_connection_id(redisContext *c)
{
    redisReply *rep = redisCommand(c, "CLIENT LIST");
    long long id = -1;
    const char *line;

    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STRING);
    for (line = rep->str; line != NULL && *line != '\0';) {
        const char *redir = strstr(line, " redir=");
        const char *eol = strchr(line, '\n');

        if (redir != NULL && (eol == NULL || redir < eol) &&
            strncmp(redir, " redir=-1", 9) != 0) {
            id = strtoll(line + 3, NULL, 10); /* "id=..." */
            break;
        }
        line = eol != NULL ? eol + 1 : NULL;
    }
    freeReplyObject(rep);
    return id;
}

#define LOST_MS 1500 /* a lost data connection is noticed within this */

Test(faults, lost_data_connection_stops_masking_writes)
{
    redisContext *c;
    redisReply *rep;
    long long id;
    int64_t end;

    /* One pooled connection read k and is registered for its changes. When
     * Redis closes it (CLIENT KILL here; in production its idle `timeout`),
     * Redis forgets what it read and will never report a change to k. */
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = "[redis]\npool_size = 1\n"));
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    c = h_redis_ctx(&redis);
    cr_assert_not_null(c);
    id = data_connection_id(c);
    cr_assert_gt(id, 0, "no tracked data connection in CLIENT LIST");
    rep = redisCommand(c, "CLIENT KILL ID %lld", id);
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_INTEGER &&
              rep->integer == 1);
    freeReplyObject(rep);
    rep = redisCommand(c, "SET k v2");
    cr_assert_not_null(rep);
    freeReplyObject(rep);
    redisFree(c);
    for (end = h_now_ms() + LOST_MS;; h_sleep_ms(5)) {
        struct h_resp r = {0};
        int fresh;

        cr_assert_eq(h_http_get(proxy.http_port, "/k", &r), 0);
        fresh = r.status == 200 && h_body_is(&r, "v2");
        cr_assert(fresh || (r.status == 200 && h_body_is(&r, "v1")),
                  "GET /k: %d '%.64s'", r.status, r.body);
        h_resp_free(&r);
        if (fresh) {
            break;
        }
        cr_assert_lt(h_now_ms(), end, "GET /k: still v1 %d ms after the write",
                     LOST_MS);
    }
}

/* ---- stale-if-error ---- */

Test(faults, redis_down_serves_expired_entries_stale)
{
    struct h_resp r = {0};
    redisContext *c;
    char got[64], buf[64];

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\nstale_if_error = 10s\n"
                                "[redis]\nconnect_timeout = 500ms\n"));
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    h_redis_kill(&redis, 1);
    await_not_hit("/k", "v1");

    cr_assert_eq(h_http_get(proxy.http_port, "/k", &r), 0);
    cr_assert_eq(r.status, 200, "stale entry: status %d", r.status);
    cr_assert(h_body_is(&r, "v1"), "stale entry: body '%.64s'", r.body);
    cr_assert_str_eq(header(&r, "X-Cache", buf, sizeof(buf)), "STALE");
    cr_assert_str_eq(header(&r, "Cache-Control", buf, sizeof(buf)),
                     "max-age=0");
    h_resp_free(&r);
    expect_get("/never-cached", 503, NULL, NULL);

    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c);
    cr_assert_eq(h_resp_get(c, "k", got, sizeof(got)), 1, "RESP: %s", got);
    cr_assert_str_eq(got, "v1");
    cr_assert_eq(h_resp_get(c, "never-cached", got, sizeof(got)), -1);
    cr_assert(strncmp(got, "ERR redis unavailable", 21) == 0, "RESP: %s", got);
    redisFree(c);
}

Test(faults, redis_down_without_stale_if_error_is_503_even_for_cached)
{
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[redis]\nconnect_timeout = 500ms\n"));
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    h_redis_kill(&redis, 1);
    await_not_hit("/k", "v1");
    expect_get("/k", 503, NULL, NULL);
    expect_get("/k", 503, NULL, NULL);
}

Test(faults, invalidated_entry_is_never_served_stale)
{
    struct h_resp r = {0};
    int64_t end;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\nstale_if_error = 10s\n"
                                "[redis]\nconnect_timeout = 500ms\n"));
    h_cache_key(&redis, proxy.http_port, "gone", "v1");
    /* the control: stale-if-error works */
    h_cache_key(&redis, proxy.http_port, "kept", "v2");
    cr_assert_eq(h_redis_cmd(&redis, "DEL gone"), 0);
    for (end = h_now_ms() + 1000;; h_sleep_ms(5)) {
        cr_assert_eq(h_http_get(proxy.http_port, "/gone", &r), 0);
        if (r.status == 404) {
            break;
        }
        cr_assert(r.status == 200 && h_body_is(&r, "v1"), "%d '%.64s'",
                  r.status, r.body);
        h_resp_free(&r);
        cr_assert_lt(h_now_ms(), end, "DEL not seen within 1 s");
    }
    h_resp_free(&r);
    h_redis_kill(&redis, 1);
    await_not_hit("/kept", "v2");
    expect_get("/kept", 200, "v2", "STALE");
    expect_get("/gone", 503, NULL, NULL);
}

Test(faults, stale_stops_once_redis_answers_again)
{
    struct h_resp r = {0};
    char xc[32];
    int64_t end;
    int port = redis.port;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\nstale_if_error = 10s\n"
                                "[redis]\nconnect_timeout = 500ms\n"));
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    h_redis_kill(&redis, 1);
    await_not_hit("/k", "v1");
    expect_get("/k", 200, "v1", "STALE");
    cr_assert_eq(h_redis_start(&redis, port, NULL), 0, "restart on port %d",
                 port);
    h_set(&redis, "k", "v2");

    /* STALE v1 until the pool reconnects, then the new value, refetched */
    for (end = h_now_ms() + 5000;; h_sleep_ms(10)) {
        cr_assert_eq(h_http_get(proxy.http_port, "/k", &r), 0);
        header(&r, "X-Cache", xc, sizeof(xc));
        if (strcmp(xc, "STALE") != 0) {
            break;
        }
        cr_assert(r.status == 200 && h_body_is(&r, "v1"), "%d '%.64s'",
                  r.status, r.body);
        h_resp_free(&r);
        cr_assert_lt(h_now_ms(), end, "still STALE 5 s after the restart");
    }
    cr_assert_eq(r.status, 200, "first answer after STALE: %d", r.status);
    cr_assert(h_body_is(&r, "v2"), "first answer after STALE: '%.64s'", r.body);
    cr_assert_str_eq(xc, "MISS");
    h_resp_free(&r);

    /* MISS while the invalidation stream comes back, then HIT */
    for (end = h_now_ms() + 5000;; h_sleep_ms(10)) {
        cr_assert_eq(h_http_get(proxy.http_port, "/k", &r), 0);
        header(&r, "X-Cache", xc, sizeof(xc));
        cr_assert(r.status == 200 && h_body_is(&r, "v2"), "%d '%.64s' %s",
                  r.status, r.body, xc);
        h_resp_free(&r);
        if (strcmp(xc, "HIT") == 0) {
            break;
        }
        cr_assert_str_eq(xc, "MISS");
        cr_assert_lt(h_now_ms(), end, "no HIT 5 s after the restart");
    }
}

/* ---- clients reading through a stall or an outage ---- */

#define LOAD_CLIENTS 4
#define LOAD_KEYS 8

struct load {
    atomic_int stop;
    atomic_long answers, errors, count[600]; /* per status */
    const char *(*check)(int key,
                         const struct h_resp *r); /* why r is bad, or NULL */
    pthread_mutex_t lock;                         /* first_error */
    char first_error[256];
};

struct load_arg {
    struct load *load;
    int id;
};

static void
load_error(struct load *ld, int id, int key, const char *what)
{
    pthread_mutex_lock(&ld->lock);
    if (atomic_fetch_add(&ld->errors, 1) == 0) {
        snprintf(ld->first_error, sizeof(ld->first_error),
                 "client %d, key %d: %s", id, key, what);
    }
    pthread_mutex_unlock(&ld->lock);
}

/* A keep-alive client cycling through the keys until told to stop. */
static void *
load_client(void *arg)
{
    struct load_arg *a = arg;
    struct load *ld = a->load;
    int fd = h_connect(proxy.http_port), n = a->id;

    if (fd < 0) {
        load_error(ld, a->id, -1, "connect failed");
        return NULL;
    }
    while (!atomic_load(&ld->stop)) {
        struct h_resp r = {0};
        const char *bad;
        char path[16];
        int key = n++ % LOAD_KEYS;

        snprintf(path, sizeof(path), "/l%d", key);
        if (h_http_get_on(fd, path, &r, READ_MS) != 0) {
            load_error(ld, a->id, key, "no complete response");
            break;
        }
        atomic_fetch_add(&ld->answers, 1);
        atomic_fetch_add(&ld->count[r.status % 600], 1);
        if ((bad = ld->check(key, &r)) != NULL) {
            load_error(ld, a->id, key, bad);
        }
        h_resp_free(&r);
        usleep(1000);
    }
    close(fd);
    return NULL;
}

/* Runs LOAD_CLIENTS clients over ld until ms have passed since t0, calling
 * during(elapsed) every 10 ms (it may be NULL). */
static void
run_load(struct load *ld, int64_t t0, int ms, void (*during)(int64_t))
{
    pthread_t th[LOAD_CLIENTS];
    struct load_arg args[LOAD_CLIENTS];
    int i;

    pthread_mutex_init(&ld->lock, NULL);
    for (i = 0; i < LOAD_CLIENTS; i++) {
        args[i] = (struct load_arg){ld, i};
        cr_assert_eq(pthread_create(&th[i], NULL, load_client, &args[i]), 0);
    }
    while (h_now_ms() - t0 < ms) {
        if (during != NULL) {
            during(h_now_ms() - t0);
        }
        h_sleep_ms(10);
    }
    atomic_store(&ld->stop, 1);
    for (i = 0; i < LOAD_CLIENTS; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_mutex_destroy(&ld->lock);
    cr_assert_eq(atomic_load(&ld->errors), 0, "%ld bad answers; first: %s",
                 atomic_load(&ld->errors), ld->first_error);
}

/* Keys l0..l3 are cached with values c0..c3; l4..l7 hold u4..u7 and are not
 * cached before the stall. */
static const char *
check_stall(int key, const struct h_resp *r)
{
    char want[16], xc[32];

    snprintf(want, sizeof(want), "%c%d", key < 4 ? 'c' : 'u', key);
    header(r, "X-Cache", xc, sizeof(xc));
    if (r->status == 200 && !h_body_is(r, want)) {
        return "200 with a wrong body";
    }
    if (key < 4 && (r->status != 200 || strcmp(xc, "HIT") != 0)) {
        return "a cached key was not a HIT";
    }
    if (key >= 4 && r->status != 200 && r->status != 504) {
        return "an uncached key answered neither 200 nor 504";
    }
    return NULL;
}

Test(faults, stall_keeps_hits_and_times_out_misses)
{
    static struct load ld;
    char key[16], val[16], path[16];
    int64_t t0;
    int i;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[redis]\ncommand_timeout = 300ms\n"));
    for (i = 0; i < LOAD_KEYS; i++) {
        snprintf(key, sizeof(key), "l%d", i);
        snprintf(val, sizeof(val), "%c%d", i < 4 ? 'c' : 'u', i);
        if (i < 4) {
            h_cache_key(&redis, proxy.http_port, key, val);
        } else {
            h_set(&redis, key, val);
        }
    }
    memset(&ld, 0, sizeof(ld));
    ld.check = check_stall;
    /* 1.5 s: the invalidation stream survives (silence limit 3 s) */
    t0 = h_now_ms();
    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE 1500 ALL"), 0);
    run_load(&ld, t0, 2500, NULL);
    cr_assert_gt(atomic_load(&ld.count[504]), 0, "the stall gave no 504");
    cr_assert_gt(atomic_load(&ld.count[200]), 0, "the stall gave no 200");
    cr_assert_eq(atomic_load(&ld.count[200]) + atomic_load(&ld.count[504]),
                 atomic_load(&ld.answers));
    for (i = 0; i < LOAD_KEYS; i++) {
        snprintf(path, sizeof(path), "/l%d", i);
        snprintf(val, sizeof(val), "%c%d", i < 4 ? 'c' : 'u', i);
        expect_get(path, 200, val, NULL);
    }
}

Test(faults, stall_serves_ttl_expired_entry_stale)
{
    int64_t cached, wait;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\nttl = 600ms\nstale_if_error = 5s\n"
                                "[redis]\ncommand_timeout = 200ms\n"));
    h_set(&redis, "u", "uv");
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    cached = h_now_ms(); /* the entry was stored before this */
    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE 1500 ALL"), 0);
    expect_get("/u", 504, NULL, NULL); /* the control: Redis is stalled */
    wait = cached + 700 - h_now_ms();
    if (wait > 0) {
        h_sleep_ms((int)wait);
    }
    expect_get("/k", 200, "v1", "STALE");
    /* a PING returns once the pause is over: Redis answers again, and the
     * fill the stale answer stood in for stores the value when its reply
     * comes (a HIT), or this GET joins it (a MISS) */
    cr_assert_eq(h_redis_cmd(&redis, "PING"), 0);
    expect_get("/k", 200, "v1", NULL);
    expect_get("/u", 200, "uv", NULL);
}

/* Waits (MONITOR) until the proxy's invalidation stream sends its PING,
 * so a stall can start at a known point of its PING cycle. Returns 0 or
 * -1 if none came within 3 s. */
static int
await_stream_ping(void)
{
    redisContext *m = h_redis_ctx(&redis);
    redisReply *rep;
    int64_t end = h_now_ms() + 3000;
    int seen = 0;

    cr_assert_not_null(m);
    rep = redisCommand(m, "MONITOR");
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    while (!seen && h_now_ms() < end) {
        void *v = NULL;

        if (redisGetReply(m, &v) != REDIS_OK) {
            break;
        }
        rep = v;
        seen = rep->type == REDIS_REPLY_STATUS &&
               strstr(rep->str, "\"PING\"") != NULL;
        freeReplyObject(rep);
    }
    redisFree(m);
    return seen ? 0 : -1;
}

Test(faults, stall_shorter_than_3s_just_after_a_ping_keeps_hits)
{
    int64_t paused, end;
    int n = 0;

    h_start_proxy(&proxy, &redis, NULL);
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    /* The stream PINGs every second and gives up after 3 s without an
     * answer. A 2.6 s stall starting 0.7 s after a PING leaves the next
     * PING (sent 0.3 s into it) unanswered for 2.3 s: the stream stays. */
    cr_assert_eq(await_stream_ping(), 0, "the stream sent no PING in 3 s");
    h_sleep_ms(700);
    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE 2600 ALL"), 0);
    paused = h_now_ms();
    for (end = paused + 2600 + 300; h_now_ms() < end; n++) {
        expect_get("/k", 200, "v1", "HIT");
        h_sleep_ms(50);
    }
    cr_assert_gt(n, 10);
}

/* Keys l0..l7 start as a0..a7 and are set to b0..b7 after the restart. */
static const char *
check_outage(int key, const struct h_resp *r)
{
    char a[16], b[16];

    snprintf(a, sizeof(a), "a%d", key);
    snprintf(b, sizeof(b), "b%d", key);
    switch (r->status) {
    case 200:
        return h_body_is(r, a) || h_body_is(r, b) ? NULL
                                                  : "200 with a wrong body";
    case 404:
    case 503:
    case 504:
        return NULL;
    default:
        return "status not 200/404/503/504";
    }
}

static void
outage(int64_t elapsed)
{
    static int port;
    char key[16], val[16];
    int i;

    if (elapsed >= 700 && redis.pid > 0 && port == 0) {
        port = redis.port;
        h_redis_kill(&redis, 1);
    } else if (elapsed >= 1400 && redis.pid == 0) {
        cr_assert_eq(h_redis_start(&redis, port, NULL), 0, "restart");
        for (i = 0; i < LOAD_KEYS; i++) {
            snprintf(key, sizeof(key), "l%d", i);
            snprintf(val, sizeof(val), "b%d", i);
            h_set(&redis, key, val);
        }
    }
}

Test(faults, redis_killed_and_restarted_under_load)
{
    static struct load ld;
    char key[16], val[16], path[16];
    int64_t end;
    int i;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[redis]\nconnect_timeout = 500ms\n"));
    for (i = 0; i < LOAD_KEYS; i++) {
        snprintf(key, sizeof(key), "l%d", i);
        snprintf(val, sizeof(val), "a%d", i);
        h_set(&redis, key, val);
    }
    memset(&ld, 0, sizeof(ld));
    ld.check = check_outage;
    run_load(&ld, h_now_ms(), 3000, outage);
    cr_assert_gt(redis.pid, 0, "Redis was not restarted");
    cr_assert_gt(atomic_load(&ld.count[503]), 0, "the outage gave no 503");

    end = h_now_ms() + 3000;
    for (i = 0; i < LOAD_KEYS; i++) {
        struct h_resp r = {0};

        snprintf(path, sizeof(path), "/l%d", i);
        snprintf(val, sizeof(val), "b%d", i);
        for (;; h_sleep_ms(10)) {
            cr_assert_eq(h_http_get(proxy.http_port, path, &r), 0);
            if (r.status == 200 && h_body_is(&r, val)) {
                break;
            }
            h_resp_free(&r);
            cr_assert_lt(h_now_ms(), end, "GET %s: not '%.64s' 3 s after", path,
                         val);
        }
        h_resp_free(&r);
    }
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0, "the proxy did not exit 0");
}

/* ---- a timed-out command keeps its connection ---- */

static long
connections_received(redisContext *c)
{
    redisReply *rep = redisCommand(c, "INFO stats");
    const char *p;
    long n = -1;

    if (rep != NULL && rep->type == REDIS_REPLY_STRING &&
        (p = strstr(rep->str, "total_connections_received:")) != NULL) {
        n = strtol(p + strlen("total_connections_received:"), NULL, 10);
    }
    if (rep != NULL) {
        freeReplyObject(rep);
    }
    return n;
}

Test(faults, timed_out_fill_keeps_its_connection_and_its_late_reply)
{
    struct h_resp r = {0};
    redisContext *c;
    redisReply *rep;
    int64_t paused, took;
    long before;

    /* One pooled connection: a reused timed-out context would hand the
     * late reply for a to the next request, and a new connection would
     * never see it (so the count of connections must not move). */
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[redis]\npool_size = 1\n"
                                "command_timeout = 300ms\n"));
    h_set(&redis, "a", "va");
    h_set(&redis, "b", "vb");
    expect_get("/warm", 404, NULL, NULL); /* the one connection is open */
    c = h_redis_ctx(&redis);
    cr_assert_not_null(c);
    before = connections_received(c);
    cr_assert_gt(before, 0);

    rep = redisCommand(c, "CLIENT PAUSE 1000 ALL");
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    paused = h_now_ms();
    cr_assert_eq(h_http_get(proxy.http_port, "/a", &r), 0);
    took = h_now_ms() - paused;
    h_check(&r, "/a", 504, NULL, NULL);
    cr_assert_lt(took, 1000, "504 took %lld ms", (long long)took);
    cr_assert_gt(r.body_len, 0, "504 has a short text body");
    h_resp_free(&r);
    /* returns once the pause is over: the late reply for a is on its way */
    rep = redisCommand(c, "PING");
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    expect_get("/b", 200, "vb", "MISS");
    /* The timed-out fill of a went on: its late reply is a's value, which
     * the fill stored, or which this GET joins while it is still on its
     * way. */
    expect_get("/a", 200, "va", NULL);
    expect_get("/b", 200, "vb", "HIT");
    cr_assert_eq(connections_received(c), before,
                 "the proxy opened a new connection to Redis");
    redisFree(c);
}
