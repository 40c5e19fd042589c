/*
 * End-to-end tests of cache coherence with Redis client tracking
 * ([cache] tracking = on, the default): a write by anyone in Redis (SET,
 * DEL, expiry, FLUSHALL, a type change) stops being masked by the cache
 * within milliseconds, over HTTP and RESP; concurrent misses on one key cost
 * one Redis GET; losing the invalidation stream (CLIENT KILL, a Redis
 * restart) never lets an old value through and tracking comes back by
 * itself; readers racing writers end on Redis's final values. And the
 * TTL-only modes: tracking = off, and a Redis whose CLIENT command is
 * renamed away. Each test starts its own redis-server (fixture) and proxy;
 * the fixture's fini stops both even on failure.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VISIBLE_MS 200 /* a write in Redis reaches the proxy's clients */
#define POLL_MS 5      /* between polls while waiting for that */
#define READ_MS 5000   /* a response must arrive within this */

H_PAIR_SUITE(coherence, 30);

static const char *
xcache(const struct h_resp *r, char *buf, size_t cap)
{
    return h_header(r, "X-Cache", buf, cap) ? buf : "(none)";
}

/*
 * Polls GET path until it answers want_status (and, for 200, body want) by
 * deadline; until then only 200 with body old is acceptable (old NULL:
 * nothing else). Returns the X-Cache of the awaited answer in xc.
 */
static void
await_http(const char *path, int want_status, const char *want, const char *old,
           int64_t deadline, char *xc, size_t cap)
{
    for (;;) {
        struct h_resp r = {0};
        int done;

        cr_assert_eq(h_http_get(proxy.http_port, path, &r), 0,
                     "GET %s: no response", path);
        done = r.status == want_status && (want == NULL || h_body_is(&r, want));
        cr_assert(
            done || (old != NULL && r.status == 200 && h_body_is(&r, old)),
            "GET %s: %d '%.64s' while waiting for %d '%.64s' (old '%.64s')",
            path, r.status, r.body, want_status, want ? want : "",
            old ? old : "(none)");
        if (done && xc != NULL) {
            xcache(&r, xc, cap);
        }
        h_resp_free(&r);
        if (done) {
            return;
        }
        cr_assert_lt(h_now_ms(), deadline,
                     "GET %s: still '%.64s' at the deadline, want %d '%.64s'",
                     path, old, want_status, want ? want : "");
        h_sleep_ms(POLL_MS);
    }
}

/* Polls GET path until it answers 200 body HIT by deadline; until then only
 * 200 body MISS is acceptable (tracking is being re-established). */
static void
await_hit(const char *path, const char *body, int64_t deadline)
{
    char xc[32];

    for (;;) {
        await_http(path, 200, body, NULL, deadline, xc, sizeof(xc));
        if (strcmp(xc, "HIT") == 0) {
            return;
        }
        cr_assert_str_eq(xc, "MISS", "GET %s: X-Cache", path);
        cr_assert_lt(h_now_ms(), deadline, "GET %s: no HIT by the deadline",
                     path);
        h_sleep_ms(POLL_MS);
    }
}

/* The same over RESP: want NULL awaits nil. */
static void
await_resp(redisContext *c, const char *key, const char *want, const char *old,
           int64_t deadline)
{
    char got[256];

    for (;;) {
        int rc = h_resp_get(c, key, got, sizeof(got));
        int done = want == NULL ? rc == 0 : rc == 1 && strcmp(got, want) == 0;

        cr_assert(done || (old != NULL && rc == 1 && strcmp(got, old) == 0),
                  "RESP GET %s: '%.64s' (rc %d) while waiting for '%.64s'", key,
                  got, rc, want ? want : "(nil)");
        if (done) {
            return;
        }
        cr_assert_lt(h_now_ms(), deadline,
                     "RESP GET %s: still '%.64s' at the deadline", key, old);
        h_sleep_ms(POLL_MS);
    }
}

/* ---- a write in Redis reaches the proxy's clients ---- */

Test(coherence, set_in_redis_reaches_http_clients_within_200ms)
{
    char xc[32];

    h_start_proxy(&proxy, &redis, NULL);
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    h_set(&redis, "k", "v2");
    await_http("/k", 200, "v2", "v1", h_now_ms() + VISIBLE_MS, NULL, 0);
    h_expect_get(proxy.http_port, "/k", 200, "v2", "HIT");
    h_set(&redis, "k", "v3");
    await_http("/k", 200, "v3", "v2", h_now_ms() + VISIBLE_MS, xc, sizeof(xc));
    cr_assert_str_eq(xc, "MISS", "the first answer with v3 was refetched");
    h_expect_get(proxy.http_port, "/k", 200, "v3", "HIT");
}

Test(coherence, set_in_redis_reaches_resp_clients_within_200ms)
{
    redisContext *c;
    char got[64];
    long calls;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k", "v1");
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c, "connect to resp_port");
    cr_assert_eq(h_resp_get(c, "k", got, sizeof(got)), 1);
    cr_assert_str_eq(got, "v1");
    calls = h_redis_calls(&redis, "get");
    cr_assert_eq(h_resp_get(c, "k", got, sizeof(got)), 1);
    cr_assert_str_eq(got, "v1");
    cr_assert_eq(h_redis_calls(&redis, "get"), calls, "not served cached");
    h_set(&redis, "k", "v2");
    await_resp(c, "k", "v2", "v1", h_now_ms() + VISIBLE_MS);
    redisFree(c);
}

Test(coherence, del_in_redis_gives_404_and_nil_within_200ms)
{
    redisContext *c;
    char got[64];

    h_start_proxy(&proxy, &redis, NULL);
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    h_cache_key(&redis, proxy.http_port, "r", "rv");
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c, "connect to resp_port");
    cr_assert_eq(h_resp_get(c, "r", got, sizeof(got)), 1);
    cr_assert_eq(h_redis_cmd(&redis, "DEL k r"), 0);
    await_http("/k", 404, NULL, "v1", h_now_ms() + VISIBLE_MS, NULL, 0);
    await_resp(c, "r", NULL, "rv", h_now_ms() + VISIBLE_MS);
    h_expect_get(proxy.http_port, "/k", 404, NULL, NULL);
    redisFree(c);
}

Test(coherence, expiry_in_redis_gives_404_soon_after)
{
    int64_t ta, tb;

    /* ttl = 60s: only Redis's expiry can remove them */
    h_start_proxy(&proxy, &redis, NULL);
    ta = h_now_ms();
    cr_assert_eq(h_redis_cmd(&redis, "SET a va PX 1000"), 0);
    h_expect_get(proxy.http_port, "/a", 200, "va", "MISS");
    h_expect_get(proxy.http_port, "/a", 200, "va", "HIT");
    h_cache_key(&redis, proxy.http_port, "b", "vb");
    tb = h_now_ms();
    cr_assert_eq(h_redis_cmd(&redis, "PEXPIRE b 300"), 0);
    await_http("/b", 404, NULL, "vb", tb + 300 + 1500, NULL, 0);
    await_http("/a", 404, NULL, "va", ta + 1000 + 1500, NULL, 0);
}

/* Caches 20 keys, runs cmd in Redis, expects every one gone. */
static void
flush_test(const char *cmd)
{
    char path[32], val[32];
    redisContext *c;
    int64_t deadline;
    int i;

    h_start_proxy(&proxy, &redis, NULL);
    for (i = 0; i < 20; i++) {
        snprintf(path, sizeof(path), "f%d", i);
        snprintf(val, sizeof(val), "fv%d", i);
        h_cache_key(&redis, proxy.http_port, path, val);
    }
    c = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(c, "connect to resp_port");
    cr_assert_eq(h_redis_cmd(&redis, cmd), 0, "%s", cmd);
    deadline = h_now_ms() + VISIBLE_MS;
    for (i = 0; i < 20; i++) {
        snprintf(path, sizeof(path), "/f%d", i);
        snprintf(val, sizeof(val), "fv%d", i);
        if (i % 2 == 0) {
            await_http(path, 404, NULL, val, deadline, NULL, 0);
        } else {
            await_resp(c, path + 1, NULL, val, deadline);
        }
    }
    redisFree(c);
}

Test(coherence, flushall_in_redis_empties_the_cache)
{
    flush_test("FLUSHALL");
}

Test(coherence, flushdb_in_redis_empties_the_cache)
{
    flush_test("FLUSHDB");
}

Test(coherence, key_retyped_in_redis_gives_409)
{
    h_start_proxy(&proxy, &redis, NULL);
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    cr_assert_eq(h_redis_cmd(&redis, "DEL k"), 0);
    cr_assert_eq(h_redis_cmd(&redis, "HSET k f v"), 0);
    await_http("/k", 409, NULL, "v1", h_now_ms() + VISIBLE_MS, NULL, 0);
    h_expect_get(proxy.http_port, "/k", 409, NULL, NULL);
}

/* ---- single flight ---- */

#define SF_CLIENTS 50
#define SF_PAUSE_MS 1500 /* < 2 s: the invalidation stream survives it */

struct sf_client {
    int fd; /* connected before Redis is paused */
    const char *path;
    int ok; /* a response arrived */
    int status;
    char body[64];
    char xcache[32];
};

static void *
sf_run(void *arg)
{
    struct sf_client *c = arg;
    struct h_resp r = {0};

    if (h_http_get_on(c->fd, c->path, &r, READ_MS) == 0) {
        c->ok = 1;
        c->status = r.status;
        snprintf(c->body, sizeof(c->body), "%.*s", (int)r.body_len,
                 r.body ? r.body : "");
        xcache(&r, c->xcache, sizeof(c->xcache));
        h_resp_free(&r);
    }
    return NULL;
}

/*
 * With Redis paused, SF_CLIENTS clients (connected beforehand) ask for path
 * at once. Returns how many got X-Cache MISS; every client must get status
 * and body.
 */
static int
single_flight(const char *path, int status, const char *body)
{
    static struct sf_client cl[SF_CLIENTS];
    pthread_t th[SF_CLIENTS];
    int i, misses = 0;

    h_proxy_serving(&proxy);
    for (i = 0; i < SF_CLIENTS; i++) {
        memset(&cl[i], 0, sizeof(cl[i]));
        cl[i].path = path;
        cl[i].fd = h_connect(proxy.http_port);
        cr_assert_geq(cl[i].fd, 0, "client %d: connect", i);
    }
    cr_assert_eq(h_redis_calls(&redis, "get"), 0);
    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE %d ALL", SF_PAUSE_MS), 0);
    for (i = 0; i < SF_CLIENTS; i++) {
        cr_assert_eq(pthread_create(&th[i], NULL, sf_run, &cl[i]), 0);
    }
    for (i = 0; i < SF_CLIENTS; i++) {
        pthread_join(th[i], NULL);
        close(cl[i].fd);
    }
    for (i = 0; i < SF_CLIENTS; i++) {
        cr_assert(cl[i].ok, "client %d: no response", i);
        cr_assert_eq(cl[i].status, status, "client %d: status %d", i,
                     cl[i].status);
        if (body != NULL) {
            cr_assert_str_eq(cl[i].body, body, "client %d: body", i);
        }
        misses += strcmp(cl[i].xcache, "MISS") == 0;
    }
    cr_assert_eq(h_redis_calls(&redis, "get"), 1,
                 "%d concurrent misses cost more than one GET", SF_CLIENTS);
    return misses;
}

Test(coherence, concurrent_misses_on_one_key_cost_one_get)
{
    int misses;

    /* 8 workers: 8 requests wait on the fill, the rest queue and then hit */
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nworkers = 8\n"
                                "[redis]\ncommand_timeout = 3s\n"));
    h_set(&redis, "hot", "hot-value");
    misses = single_flight("/hot", 200, "hot-value");
    cr_assert_geq(misses, 2, "only %d request(s) waited on the fill", misses);
    h_expect_get(proxy.http_port, "/hot", 200, "hot-value", "HIT");
}

Test(coherence, concurrent_misses_on_absent_key_cost_one_get)
{
    /* not-found is not cached, so every client must have joined the one
     * fill: enough workers for all of them to wait at once */
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nworkers = 64\n"
                                "[redis]\ncommand_timeout = 3s\n"));
    single_flight("/absent", 404, NULL);
}

/* ---- losing the invalidation stream ---- */

/* Kills the proxy's invalidation stream, then sets k to val in Redis (a
 * write Redis can no longer report). */
static void
kill_stream_then_set(const char *val)
{
    redisContext *c = h_redis_ctx(&redis);
    redisReply *rep;

    cr_assert_not_null(c);
    rep = redisCommand(c, "CLIENT KILL TYPE pubsub");
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_INTEGER &&
                  rep->integer == 1,
              "CLIENT KILL TYPE pubsub did not kill the proxy's stream");
    freeReplyObject(rep);
    /* The proxy learns of the kill when its stream reads the EOF, a
     * scheduling delay later; a write inside that delay is the one window
     * docs/ARCHITECTURE.md's "What is not" names. Write once the proxy has
     * logged the loss: from then on the old value must never be served. */
    cr_assert(h_await_log(&proxy, "invalidation stream lost", 5000),
              "the proxy never noticed its stream was killed");
    rep = redisCommand(c, "SET k %s", val);
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    redisFree(c);
}

Test(coherence, killed_invalidation_stream_never_serves_the_old_value)
{
    int64_t end;
    int n = 0;

    h_start_proxy(&proxy, &redis, NULL);
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    kill_stream_then_set("v2");

    for (end = h_now_ms() + 1500; h_now_ms() < end; n++) {
        h_expect_get(proxy.http_port, "/k", 200, "v2", NULL);
        h_sleep_ms(10);
    }
    cr_assert_gt(n, 10);
    /* the stream is back: the value is cached and invalidated again */
    await_hit("/k", "v2", h_now_ms() + 3000);
    h_set(&redis, "k", "v3");
    await_http("/k", 200, "v3", "v2", h_now_ms() + VISIBLE_MS, NULL, 0);
}

Test(coherence, redis_restart_never_serves_values_from_before)
{
    char key[16], val[16];
    int64_t end;
    int i, port, status = 0;

    h_start_proxy(&proxy, &redis, NULL);
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    for (i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "o%d", i);
        snprintf(val, sizeof(val), "ov%d", i);
        h_cache_key(&redis, proxy.http_port, key, val);
    }
    port = redis.port;
    h_redis_kill(&redis, 1);
    cr_assert_eq(h_redis_start(&redis, port, NULL), 0, "restart on port %d",
                 port);
    h_set(&redis, "k", "v2");

    for (end = h_now_ms() + 3000; status != 200;) {
        struct h_resp r = {0};

        cr_assert_eq(h_http_get(proxy.http_port, "/k", &r), 0);
        status = r.status;
        cr_assert(status == 503 || (status == 200 && h_body_is(&r, "v2")),
                  "after the restart: %d '%.64s'", status, r.body);
        h_resp_free(&r);
        cr_assert(status == 200 || h_now_ms() < end, "no 200 within 3 s");
        h_sleep_ms(10);
    }
    for (i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "/o%d", i);
        h_expect_get(proxy.http_port, key, 404, NULL, NULL);
    }
    await_hit("/k", "v2", h_now_ms() + 5000);
    h_set(&redis, "k", "v3");
    await_http("/k", 200, "v3", "v2", h_now_ms() + VISIBLE_MS, NULL, 0);
}

Test(coherence, nothing_is_cached_while_the_stream_is_down)
{
    int i;

    h_start_proxy(&proxy, &redis, NULL);
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    /* the stream cannot come back while SUBSCRIBE is refused */
    cr_assert_eq(h_redis_cmd(&redis, "ACL SETUSER default -subscribe"), 0);
    kill_stream_then_set("v2");
    for (i = 0; i < 10; i++) {
        h_expect_get(proxy.http_port, "/k", 200, "v2", "MISS");
        h_sleep_ms(20);
    }
    cr_assert_eq(h_redis_cmd(&redis, "ACL SETUSER default +subscribe"), 0);
    await_hit("/k", "v2", h_now_ms() + 5000);
    h_set(&redis, "k", "v3");
    await_http("/k", 200, "v3", "v2", h_now_ms() + VISIBLE_MS, NULL, 0);
}

/* ---- readers racing writers ---- */

#define RACE_KEYS 8
#define RACE_WRITERS 2
#define RACE_READERS 4

struct race {
    atomic_int stop_writers, stop_readers;
    atomic_long writes, reads, errors;
    atomic_long hits, misses; /* X-Cache of the reads */
    char first_error[256];
    pthread_mutex_t lock; /* first_error */
};

struct race_arg {
    struct race *race;
    int id;
};

static void
race_error(struct race *rc, int id, const char *what, int detail)
{
    pthread_mutex_lock(&rc->lock);
    if (atomic_fetch_add(&rc->errors, 1) == 0) {
        snprintf(rc->first_error, sizeof(rc->first_error), "thread %d: %s %d",
                 id, what, detail);
    }
    pthread_mutex_unlock(&rc->lock);
}

static void *
race_writer(void *arg)
{
    struct race_arg *a = arg;
    redisContext *c = h_redis_ctx(&redis);
    unsigned seed = (unsigned)a->id * 7919u + 1;
    long n = 0;

    if (c == NULL) {
        race_error(a->race, a->id, "no connection", 0);
        return NULL;
    }
    while (!atomic_load(&a->race->stop_writers)) {
        redisReply *rep = redisCommand(c, "SET rk%d w%d-%ld",
                                       rand_r(&seed) % RACE_KEYS, a->id, n++);
        if (rep == NULL) {
            race_error(a->race, a->id, "SET failed", 0);
            break;
        }
        freeReplyObject(rep);
        atomic_fetch_add(&a->race->writes, 1);
        usleep(500);
    }
    redisFree(c);
    return NULL;
}

static void *
race_reader(void *arg)
{
    struct race_arg *a = arg;
    unsigned seed = (unsigned)a->id * 104729u + 3;
    int fd = h_connect(proxy.http_port);

    if (fd < 0) {
        race_error(a->race, a->id, "connect failed", 0);
        return NULL;
    }
    while (!atomic_load(&a->race->stop_readers)) {
        struct h_resp r = {0};
        char path[16], xc[16];
        int k = (int)(rand_r(&seed) % RACE_KEYS);

        snprintf(path, sizeof(path), "/rk%d", k);
        if (h_http_get_on(fd, path, &r, READ_MS) != 0) {
            race_error(a->race, a->id, "no response for key rk", k);
            break;
        }
        if (r.status != 200 || r.body_len < 2 || r.body[0] != 'w') {
            race_error(a->race, a->id, "unexpected answer, status", r.status);
        }
        if (h_header(&r, "X-Cache", xc, sizeof(xc)) != NULL) {
            atomic_fetch_add(
                strcmp(xc, "HIT") == 0 ? &a->race->hits : &a->race->misses, 1);
        }
        h_resp_free(&r);
        atomic_fetch_add(&a->race->reads, 1);
        usleep(200);
    }
    close(fd);
    return NULL;
}

Test(coherence, readers_racing_writers_end_on_the_final_values)
{
    static struct race rc;
    struct race_arg wa[RACE_WRITERS], ra[RACE_READERS];
    pthread_t wt[RACE_WRITERS], rt[RACE_READERS];
    redisContext *direct, *resp;
    char key[16], path[16], got[64];
    int i;

    memset(&rc, 0, sizeof(rc));
    pthread_mutex_init(&rc.lock, NULL);
    h_start_proxy(&proxy, &redis, NULL);
    for (i = 0; i < RACE_KEYS; i++) {
        snprintf(key, sizeof(key), "rk%d", i);
        h_set(&redis, key, "w-init");
    }
    for (i = 0; i < RACE_READERS; i++) {
        ra[i] = (struct race_arg){&rc, i};
        cr_assert_eq(pthread_create(&rt[i], NULL, race_reader, &ra[i]), 0);
    }
    for (i = 0; i < RACE_WRITERS; i++) {
        wa[i] = (struct race_arg){&rc, i};
        cr_assert_eq(pthread_create(&wt[i], NULL, race_writer, &wa[i]), 0);
    }
    h_sleep_ms(2000);
    atomic_store(&rc.stop_writers, 1);
    for (i = 0; i < RACE_WRITERS; i++) {
        pthread_join(wt[i], NULL);
    }
    h_sleep_ms(300);
    atomic_store(&rc.stop_readers, 1);
    for (i = 0; i < RACE_READERS; i++) {
        pthread_join(rt[i], NULL);
    }
    cr_assert_eq(atomic_load(&rc.errors), 0, "%ld errors, first: %s",
                 atomic_load(&rc.errors), rc.first_error);
    cr_assert_gt(atomic_load(&rc.writes), 100, "too few writes");
    cr_assert_gt(atomic_load(&rc.reads), 100, "too few reads");
    /* the race was on: reads were served from the cache, and entries were
     * invalidated under them (more misses than the keys' first reads) */
    cr_assert_gt(atomic_load(&rc.hits), 0, "no read was a cache hit");
    cr_assert_gt(atomic_load(&rc.misses), RACE_KEYS,
                 "%ld misses: no entry was invalidated while being read",
                 atomic_load(&rc.misses));

    direct = h_redis_ctx(&redis);
    resp = h_proxy_resp_ctx(&proxy);
    cr_assert(direct != NULL && resp != NULL);
    for (i = 0; i < RACE_KEYS; i++) {
        redisReply *rep = redisCommand(direct, "GET rk%d", i);

        cr_assert(rep != NULL && rep->type == REDIS_REPLY_STRING);
        snprintf(key, sizeof(key), "rk%d", i);
        snprintf(path, sizeof(path), "/rk%d", i);
        h_expect_get(proxy.http_port, path, 200, rep->str, NULL);
        cr_assert_eq(h_resp_get(resp, key, got, sizeof(got)), 1);
        cr_assert_str_eq(got, rep->str, "RESP GET %s", key);
        freeReplyObject(rep);
    }
    redisFree(resp);
    redisFree(direct);
    pthread_mutex_destroy(&rc.lock);
}

/* ---- a write racing a fill ---- */

#define BIG_LEN (4 << 20) /* a reply that takes many Redis writes */
#define FILL_ROUNDS 8     /* each round reaches the race once, by order */
#define FILL_PAUSE_MS 300 /* << 3 s: the invalidation stream survives it */
#define P "redis_proxy_"

struct big_get {
    char path[16];
    struct h_resp r;
};

static void *
big_get(void *arg)
{
    struct big_get *g = arg;

    if (h_http_get(proxy.http_port, g->path, &g->r) != 0) {
        g->r.status = -1;
    }
    return NULL;
}

/*
 * One round on key path+1: with Redis paused, the proxy's GET (a fill) is
 * queued first and a SET of the small value after it, so when the pause
 * ends Redis runs them back to back and reports the write on the stream
 * while the 4 MiB reply is still being written, 64 KiB per turn of its
 * event loop: the invalidation reaches the proxy during the fill.
 */
static void
race_a_fill(redisContext *c, struct big_get *g, const char *big,
            const char *small)
{
    redisReply *rep;
    pthread_t th;
    double fills;

    rep = redisCommand(c, "SET %s %b", g->path + 1, big, (size_t)BIG_LEN);
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    fills = h_metric(&proxy, P "fills_total");
    rep = redisCommand(c, "CLIENT PAUSE %d ALL", FILL_PAUSE_MS);
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    cr_assert_eq(pthread_create(&th, NULL, big_get, g), 0);
    /* the fill has a Redis connection: its GET is on the way */
    cr_assert_eq(h_await_metric(&proxy, P "fills_total", fills + 1, 2000),
                 fills + 1, "%s: no fill started", g->path);
    cr_assert_eq(h_await_metric(&proxy, P "redis_pool_in_use", 1, 2000), 1,
                 "%s: the fill borrowed no Redis connection", g->path);
    rep = redisCommand(c, "SET %s %s", g->path + 1, small); /* after it */
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    pthread_join(th, NULL);
}

Test(coherence, write_racing_a_fill_is_never_stored_over)
{
    char *big = malloc(BIG_LEN + 1), small[16];
    redisContext *c;
    double discarded;
    int i;

    /* The proxy asks Redis for k's big value; while the reply is still on
     * its way, k is set to a small value and Redis reports it on the
     * stream. The big value must not stay cached: the fill that the
     * invalidation raced is discarded, and the proxy counts it. */
    cr_assert_not_null(big);
    memset(big, 'b', BIG_LEN);
    big[BIG_LEN] = '\0';
    /* max_value_size above the big value: a fill that may be stored */
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\nmax_value_size = 8mb\n", .admin = 1));
    c = h_redis_ctx(&redis);
    cr_assert_not_null(c);
    for (i = 0; i < FILL_ROUNDS; i++) {
        struct big_get g = {{0}, {0}};

        snprintf(g.path, sizeof(g.path), "/k%d", i);
        snprintf(small, sizeof(small), "s%d", i);
        race_a_fill(c, &g, big, small);
        cr_assert(g.r.status == 200 &&
                      (h_body_is(&g.r, big) || h_body_is(&g.r, small)),
                  "%s: status %d, %zu bytes", g.path, g.r.status, g.r.body_len);
        h_resp_free(&g.r);
        await_http(g.path, 200, small, big, h_now_ms() + VISIBLE_MS, NULL, 0);
    }
    discarded = h_metric(&proxy, P "fills_discarded_total");
    cr_assert_gt(discarded, 0,
                 "no fill of %d was raced by its invalidation: the test "
                 "never reached the race",
                 FILL_ROUNDS);
    redisFree(c);
    free(big);
}

/* ---- TTL-only caching ---- */

/* Every GET for ms answers 200 HIT with body old (the change is masked). */
static void
expect_masked(const char *path, const char *old, int ms)
{
    int64_t end = h_now_ms() + ms;

    while (h_now_ms() < end) {
        h_expect_get(proxy.http_port, path, 200, old, "HIT");
        h_sleep_ms(20);
    }
}

Test(coherence, tracking_off_masks_changes_until_the_ttl)
{
    int64_t stored;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY "ttl = 2s\n"));
    stored = h_now_ms();
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    h_set(&redis, "k", "v2");
    expect_masked("/k", "v1", 500);
    await_http("/k", 200, "v2", "v1", stored + 2000 + 1500, NULL, 0);
}

Test(coherence, redis_without_client_command_runs_ttl_only)
{
    static const char *const args[] = {"--rename-command", "CLIENT", "", NULL};

    cr_assert_eq(h_redis_start(&redis, 0, args), 0,
                 "redis-server with CLIENT renamed away did not start");
    cr_assert_neq(h_redis_cmd(&redis, "CLIENT ID"), 0, "CLIENT still works");
    h_start_proxy(&proxy, &redis, NULL);
    h_cache_key(&redis, proxy.http_port, "k", "v1");
    h_set(&redis, "k", "v2");
    expect_masked("/k", "v1", 300);
    cr_assert(h_await_log(&proxy, "TTL only", 2000),
              "the log does not say the cache runs on TTL only");
}
