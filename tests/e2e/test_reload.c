/*
 * End-to-end tests of SIGHUP applying the cache and HTTP settings live:
 * [cache] ttl (on HTTP keep-alive and RESP connections opened before the
 * reload and used after it, by the same process), capacity and max_memory
 * shrunk (the cache evicts down to the new bounds before the reload is
 * over, counted by reason, while a client keeps reading), max_value_size,
 * stale_if_error, [http] writes, [log] level and access, and one log line
 * per changed key. The INI is rewritten in place (reload_util.h) and the
 * proxy signalled; every proxy has an admin port, for the reload counter.
 * Limits, timeouts and the password are in test_reload_limits.c; keys
 * that need a restart, invalid files, -s and sd_notify in
 * test_reload_ops.c; reloads under load in test_reload_load.c.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "reload_util.h"

#define P "redis_proxy_"
#define IO_MS 3000

H_PAIR_SUITE(reload, 60);

/* GET path on the keep-alive fd; a response must come. */
static void
get_on(int fd, const char *path, struct h_resp *r)
{
    cr_assert_eq(h_http_get_on(fd, path, r, IO_MS), 0, "GET %s: no response",
                 path);
}

/* The value test keys k<i> hold: "v<i>-" padded with 'x' to len bytes
 * (at least the prefix). */
static void
value_of(int i, size_t len, char *out, size_t cap)
{
    int n = snprintf(out, cap, "v%d-", i);

    while ((size_t)n < len && (size_t)n + 1 < cap) {
        out[n++] = 'x';
    }
    out[n] = '\0';
}

/* SETs k0..k<n-1> in Redis (pipelined), then GETs each through the
 * proxy's RESP port (pipelined, so every one is a miss that fills the
 * cache) and checks every value. */
static void
fill(int n, size_t vlen)
{
    redisContext *rc = h_redis_ctx(&redis), *pc = h_proxy_resp_ctx(&proxy);
    char key[32], val[4096];
    redisReply *rep;
    int i, j, batch = (int)(32768 / (vlen + 32));

    cr_assert(rc != NULL && pc != NULL);
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        value_of(i, vlen, val, sizeof(val));
        redisAppendCommand(rc, "SET %s %s", key, val);
    }
    for (i = 0; i < n; i++) {
        cr_assert_eq(redisGetReply(rc, (void **)&rep), REDIS_OK);
        freeReplyObject(rep);
    }
    /* Batches whose replies stay under 32 KiB, well below the 64 KiB of
     * unsent replies past which the proxy stops parsing a connection's
     * requests: this fills the cache, it does not test back-pressure. */
    for (i = 0; i < n; i += batch) {
        for (j = i; j < n && j < i + batch; j++) {
            snprintf(key, sizeof(key), "k%d", j);
            redisAppendCommand(pc, "GET %s", key);
        }
        for (j = i; j < n && j < i + batch; j++) {
            cr_assert_eq(redisGetReply(pc, (void **)&rep), REDIS_OK,
                         "GET k%d: %s", j, pc->errstr);
            value_of(j, vlen, val, sizeof(val));
            cr_assert(rep->type == REDIS_REPLY_STRING &&
                          strcmp(rep->str, val) == 0,
                      "GET k%d through the proxy", j);
            freeReplyObject(rep);
        }
    }
    redisFree(rc);
    redisFree(pc);
}

/* ---- a reader that keeps going while the test reloads ---- */

/* GETs /k<i> for i in 0..keys-1 round and round on one keep-alive
 * connection, checking each answer; no assertion in the thread. */
struct reader {
    pthread_t thread;
    int port, keys;
    size_t vlen;
    atomic_int stop;
    atomic_long ok, bad;
    char err[256]; /* the first bad answer */
};

static void *
reader_main(void *arg)
{
    struct reader *rd = arg;
    char path[32], want[4096];
    struct h_resp r;
    int fd = h_connect(rd->port), i = 0;

    while (fd >= 0 && !atomic_load(&rd->stop)) {
        snprintf(path, sizeof(path), "/k%d", i);
        value_of(i, rd->vlen, want, sizeof(want));
        if (h_http_get_on(fd, path, &r, IO_MS) != 0) {
            snprintf(rd->err, sizeof(rd->err), "%s: no response", path);
            atomic_fetch_add(&rd->bad, 1);
            break;
        }
        if (r.status != 200 || !h_body_is(&r, want)) {
            if (atomic_fetch_add(&rd->bad, 1) == 0) {
                snprintf(rd->err, sizeof(rd->err), "%s: %d %.60s", path,
                         r.status, r.body != NULL ? r.body : "");
            }
        } else {
            atomic_fetch_add(&rd->ok, 1);
        }
        h_resp_free(&r);
        i = (i + 1) % rd->keys;
    }
    if (fd < 0) {
        snprintf(rd->err, sizeof(rd->err), "cannot connect");
        atomic_fetch_add(&rd->bad, 1);
    } else {
        close(fd);
    }
    return NULL;
}

static void
reader_start(struct reader *rd, int keys, size_t vlen)
{
    memset(rd, 0, sizeof(*rd));
    rd->port = proxy.http_port;
    rd->keys = keys;
    rd->vlen = vlen;
    cr_assert_eq(pthread_create(&rd->thread, NULL, reader_main, rd), 0);
}

struct reader_after {
    struct reader *rd;
    long until;
};

static int
reader_reached(void *arg)
{
    struct reader_after *a = arg;

    return atomic_load(&a->rd->ok) >= a->until || atomic_load(&a->rd->bad) > 0;
}

/* Waits until rd has answered `more` requests beyond what it had (or
 * got one wrong); returns 1 if it did. */
static int
reader_wait(struct reader *rd, long more)
{
    struct reader_after a = {rd, atomic_load(&rd->ok) + more};

    return h_wait_until(10000, reader_reached, &a) &&
           atomic_load(&rd->bad) == 0;
}

/* reader_wait, then stops and joins rd; every answer must have been
 * right. */
static void
reader_finish(struct reader *rd, long more)
{
    int reached = reader_wait(rd, more);

    atomic_store(&rd->stop, 1);
    pthread_join(rd->thread, NULL);
    cr_assert_eq(atomic_load(&rd->bad), 0, "a wrong answer: %s", rd->err);
    cr_assert(reached, "the reader answered only %ld requests",
              atomic_load(&rd->ok));
}

/* ---- [cache] ttl ---- */

/*
 * A TTL of 1h reloaded to 2s: a value cached after the reload, over the
 * HTTP keep-alive connection and the RESP connection both opened before
 * it, is announced with max-age=1 (or 2, within its first millisecond)
 * and expires after 2 s (not before), in
 * the same process (one "starting" line, the connections still work); a
 * value cached before keeps the expiry it was stored with.
 */
Test(reload, ttl_applies_to_values_cached_after_it_on_open_connections)
{
    struct h_resp r = {0};
    redisContext *rc;
    char v[64], age[32];
    int64_t sent;
    long gets;
    pid_t pid;
    int fd;

    h_set(&redis, "old", "o");
    h_set(&redis, "new", "n");
    h_set(&redis, "rnew", "r");
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\nttl = 1h\n", .admin = 1));
    pid = proxy.pid;
    fd = h_conn(proxy.http_port);
    rc = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(rc);
    get_on(fd, "/old", &r);
    h_check(&r, "GET /old before", 200, "o", "MISS");
    snprintf(age, sizeof(age), "%s", h_hdr(&r, "Cache-Control"));
    cr_assert(strcmp(age, "max-age=3600") == 0 ||
                  strcmp(age, "max-age=3599") == 0,
              "ttl 1h: %s", age);
    h_resp_free(&r);
    cr_assert_eq(h_resp_get(rc, "old", v, sizeof(v)), 1);

    rl_apply(&proxy, &redis, "[cache]\nttl = 2s\n");
    rl_expect_change(&proxy, "cache.ttl", "3600s", "2s");
    cr_assert_eq(rl_last_reload_count(&proxy, "msg=\"config changed\""), 1,
                 "only the ttl changed");
    cr_assert_eq(proxy.pid, pid);
    cr_assert_eq(kill(pid, 0), 0, "the proxy is gone");
    cr_assert_eq(rl_log_count(&proxy, "msg=\"starting\""), 1,
                 "the proxy started again");

    sent = h_now_ms();
    get_on(fd, "/new", &r);
    h_check(&r, "GET /new after the reload", 200, "n", "MISS");
    snprintf(age, sizeof(age), "%s", h_hdr(&r, "Cache-Control"));
    cr_assert(strcmp(age, "max-age=2") == 0 || strcmp(age, "max-age=1") == 0,
              "the new TTL is announced: %s", age);
    h_resp_free(&r);
    get_on(fd, "/new", &r);
    h_check(&r, "GET /new again", 200, "n", "HIT");
    h_resp_free(&r);
    cr_assert_eq(h_resp_get(rc, "rnew", v, sizeof(v)), 1, "RESP: %s", v);
    cr_assert_str_eq(v, "r");
    get_on(fd, "/old", &r);
    h_check(&r, "GET /old after the reload", 200, "o", "HIT");
    snprintf(age, sizeof(age), "%s", h_hdr(&r, "Cache-Control"));
    cr_assert(strncmp(age, "max-age=359", 11) == 0 ||
                  strcmp(age, "max-age=3600") == 0,
              "an entry stored before keeps its expiry: %s", age);
    h_resp_free(&r);

    /* /new expires 2 s after it was stored, not an hour. */
    for (;;) {
        get_on(fd, "/new", &r);
        cr_assert_eq(r.status, 200);
        if (strcmp(h_hdr(&r, "X-Cache"), "HIT") != 0) {
            break;
        }
        h_resp_free(&r);
        cr_assert_lt(h_now_ms() - sent, 8000, "/new still a hit after 8 s");
        h_sleep_ms(50);
    }
    h_check(&r, "GET /new once expired", 200, "n", "MISS");
    h_resp_free(&r);
    cr_assert_geq(h_now_ms() - sent, 2000 - 20,
                  "expired %lld ms after it was stored, TTL 2 s",
                  (long long)(h_now_ms() - sent));
    /* The RESP connection's value, stored after the reload, too: the
     * next GETs reach Redis again. */
    gets = h_redis_calls(&redis, "get");
    for (;;) {
        cr_assert_eq(h_resp_get(rc, "rnew", v, sizeof(v)), 1);
        cr_assert_str_eq(v, "r");
        if (h_redis_calls(&redis, "get") > gets) {
            break;
        }
        cr_assert_lt(h_now_ms() - sent, 8000, "rnew still cached after 8 s");
        h_sleep_ms(50);
    }
    cr_assert_geq(rl_metric(&proxy, P "cache_expirations_total"), 2);
    redisFree(rc);
    close(fd);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- capacity and max_memory shrunk ---- */

#define MANY 20000

/*
 * 20,000 entries, capacity reloaded to 10: by the time the reload is
 * over the cache holds at most 10, the capacity gauge says 10, and the
 * capacity evictions rose by the difference, none for memory. A client
 * reading keys on a keep-alive connection throughout gets every answer
 * right, before, during and after.
 */
Test(reload, capacity_shrunk_evicts_down_to_it_at_once)
{
    struct reader rd;
    double ev, evm;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\ncapacity = 20000\n", .admin = 1));
    fill(MANY, 16);
    cr_assert_eq(h_await_metric(&proxy, P "cache_entries", MANY, RL_MS), MANY);
    ev = rl_metric(&proxy, P "cache_evictions_total{reason=\"capacity\"}");
    evm = rl_metric(&proxy, P "cache_evictions_total{reason=\"memory\"}");
    cr_assert_eq(ev, 0);
    reader_start(&rd, 100, 16);
    cr_assert(reader_wait(&rd, 100), "the reader before: %s", rd.err);

    rl_apply(&proxy, &redis, "[cache]\ncapacity = 10\n");
    cr_assert_leq(rl_metric(&proxy, P "cache_entries"), 10);
    cr_assert_eq(rl_metric(&proxy, P "cache_capacity"), 10);
    cr_assert_geq(
        rl_metric(&proxy, P "cache_evictions_total{reason=\"capacity\"}"),
        MANY - 10);
    cr_assert_eq(
        rl_metric(&proxy, P "cache_evictions_total{reason=\"memory\"}"), evm);
    reader_finish(&rd, 200);
    cr_assert_leq(rl_metric(&proxy, P "cache_entries"), 10,
                  "new fills stay within the new capacity");
    rl_expect_change(&proxy, "cache.capacity", "20000", "10");
    h_cache_key(&redis, proxy.http_port, "still", "caches");
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/*
 * 1,000 entries of 1000 bytes under max_memory = 2mb, reloaded to 100kb:
 * when the reload is over the bytes counted are within 100 KiB, the
 * gauge of the limit says so, and the evictions were for memory, none
 * for capacity; a reader throughout gets every answer right.
 */
Test(reload, max_memory_shrunk_evicts_down_to_it_at_once)
{
    struct reader rd;
    double ev;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\nmax_memory = 2mb\n", .admin = 1));
    fill(1000, 1000);
    cr_assert_eq(h_await_metric(&proxy, P "cache_entries", 1000, RL_MS), 1000);
    cr_assert_gt(rl_metric(&proxy, P "cache_memory_bytes"), 1000 * 1000);
    cr_assert_eq(
        rl_metric(&proxy, P "cache_evictions_total{reason=\"memory\"}"), 0);
    ev = rl_metric(&proxy, P "cache_evictions_total{reason=\"capacity\"}");
    reader_start(&rd, 50, 1000);
    cr_assert(reader_wait(&rd, 100), "the reader before: %s", rd.err);

    rl_apply(&proxy, &redis, "[cache]\nmax_memory = 100kb\n");
    cr_assert_leq(rl_metric(&proxy, P "cache_memory_bytes"), 100 * 1024);
    cr_assert_eq(rl_metric(&proxy, P "cache_max_memory_bytes"), 100 * 1024);
    cr_assert_leq(rl_metric(&proxy, P "cache_entries"), 100);
    cr_assert_geq(
        rl_metric(&proxy, P "cache_evictions_total{reason=\"memory\"}"), 900);
    cr_assert_eq(
        rl_metric(&proxy, P "cache_evictions_total{reason=\"capacity\"}"), ev);
    reader_finish(&rd, 200);
    cr_assert_leq(rl_metric(&proxy, P "cache_memory_bytes"), 100 * 1024);
    rl_expect_change(&proxy, "cache.max_memory", "2mb", "100kb");
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- max_value_size, stale_if_error ---- */

/* A 3000-byte value is over max_value_size = 1kb (answered, never
 * cached); reloaded to 4kb, the next fill is cached; back to 1kb, it is
 * answered uncached again. */
Test(reload, max_value_size_applies_to_the_next_fill)
{
    struct h_resp r = {0};
    char big[3001];
    int fd;

    memset(big, 'b', 3000);
    big[3000] = '\0';
    h_set(&redis, "big", big);
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\nmax_value_size = 1kb\n", .admin = 1));
    fd = h_conn(proxy.http_port);
    for (int i = 0; i < 2; i++) {
        get_on(fd, "/big", &r);
        h_check(&r, "GET /big over 1kb", 200, big, "MISS");
        h_resp_free(&r);
    }
    cr_assert_eq(rl_metric(&proxy, P "cache_oversize_total"), 2);

    rl_apply(&proxy, &redis, "[cache]\nmax_value_size = 4kb\n");
    rl_expect_change(&proxy, "cache.max_value_size", "1kb", "4kb");
    get_on(fd, "/big", &r);
    h_check(&r, "GET /big under 4kb", 200, big, "MISS");
    h_resp_free(&r);
    get_on(fd, "/big", &r);
    h_check(&r, "GET /big cached", 200, big, "HIT");
    h_resp_free(&r);
    cr_assert_eq(rl_metric(&proxy, P "cache_oversize_total"), 2);

    h_set(&redis, "big2", big);
    rl_apply(&proxy, &redis, "[cache]\nmax_value_size = 1kb\n");
    rl_expect_change(&proxy, "cache.max_value_size", "4kb", "1kb");
    for (int i = 0; i < 2; i++) {
        get_on(fd, "/big2", &r);
        h_check(&r, "GET /big2 over 1kb again", 200, big, "MISS");
        h_resp_free(&r);
    }
    cr_assert_eq(rl_metric(&proxy, P "cache_oversize_total"), 4);
    close(fd);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/*
 * TTL 1s, stale_if_error 0, tracking off, Redis killed: an expired entry
 * is a 503. stale_if_error reloaded to 1h (Redis still down): another
 * expired entry is served STALE with max-age=0; reloaded back to 0, it is
 * a 503 again.
 */
Test(reload, stale_if_error_widens_and_narrows_live)
{
    static const char ini[] = TTL_ONLY "ttl = 1s\n";
    struct h_resp r = {0};
    char text[128];
    int64_t t0;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = ini, .admin = 1));
    h_cache_key(&redis, proxy.http_port, "s1", "one");
    h_cache_key(&redis, proxy.http_port, "s2", "two");
    h_redis_kill(&redis, 1);
    t0 = h_now_ms();
    for (;;) {
        cr_assert_eq(h_http_get(proxy.http_port, "/s1", &r), 0);
        if (r.status != 200) {
            break;
        }
        h_resp_free(&r);
        cr_assert_lt(h_now_ms() - t0, 8000, "s1 never expired");
        h_sleep_ms(50);
    }
    cr_assert_eq(r.status, 503, "s1 expired, stale off: %d", r.status);
    h_resp_free(&r);

    snprintf(text, sizeof(text), "%sstale_if_error = 1h\n", ini);
    rl_apply(&proxy, &redis, text);
    rl_expect_change(&proxy, "cache.stale_if_error", "0s", "3600s");
    h_expect_get(proxy.http_port, "/s2", 200, "two", "STALE");
    cr_assert_eq(h_http_get(proxy.http_port, "/s2", &r), 0);
    cr_assert_str_eq(h_hdr(&r, "Cache-Control"), "max-age=0");
    h_resp_free(&r);
    cr_assert_geq(rl_metric(&proxy, P "cache_stale_total"), 2);

    rl_apply(&proxy, &redis, ini);
    rl_expect_change(&proxy, "cache.stale_if_error", "3600s", "0s");
    cr_assert_eq(h_http_get(proxy.http_port, "/s2", &r), 0);
    cr_assert_eq(r.status, 503, "stale off again: %d %s", r.status,
                 h_hdr(&r, "X-Cache"));
    h_resp_free(&r);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- [http] writes ---- */

/* On a keep-alive connection opened before: PUT is 405 with writes off,
 * 204 (and in Redis) once a reload turned them on, 405 again after the
 * next one turned them off; Allow follows. */
Test(reload, http_writes_turn_on_and_off_live)
{
    struct h_resp r = {0};
    char got[32];
    redisContext *c;
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    fd = h_conn(proxy.http_port);
    cr_assert_eq(h_http_do(fd, "PUT", "/w", NULL, "1", 1, &r, IO_MS), 0);
    cr_assert_eq(r.status, 405, "PUT with writes off: %d", r.status);
    cr_assert_str_eq(h_hdr(&r, "Allow"), "GET, HEAD");
    h_resp_free(&r);

    rl_apply(&proxy, &redis, "[http]\nwrites = on\n");
    rl_expect_change(&proxy, "http.writes", "off", "on");
    cr_assert_eq(h_http_do(fd, "PUT", "/w", NULL, "2", 1, &r, IO_MS), 0);
    cr_assert_eq(r.status, 204, "PUT with writes on: %d", r.status);
    h_resp_free(&r);
    c = h_redis_ctx(&redis);
    cr_assert_not_null(c);
    cr_assert_eq(h_resp_get(c, "w", got, sizeof(got)), 1);
    cr_assert_str_eq(got, "2");
    redisFree(c);
    cr_assert_eq(h_http_do(fd, "DELETE", "/w", NULL, NULL, 0, &r, IO_MS), 0);
    cr_assert_eq(r.status, 204, "DELETE with writes on: %d", r.status);
    h_resp_free(&r);

    rl_apply(&proxy, &redis, "[http]\nwrites = off\n");
    rl_expect_change(&proxy, "http.writes", "on", "off");
    cr_assert_eq(h_http_do(fd, "PUT", "/w", NULL, "3", 1, &r, IO_MS), 0);
    cr_assert_eq(r.status, 405, "PUT with writes off again: %d", r.status);
    h_resp_free(&r);
    close(fd);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- [log] level and access ---- */

#define ACCESS "msg=\"access\""

/* Sends a GET on fd and then a reload that changes nothing: once that
 * reload's lines are in the log, so is any access line of the GET (it is
 * queued before its response is sent). Returns the access lines then. */
static int
access_lines_after_get(int fd)
{
    static const char done[] = "msg=\"config reloaded\"";
    struct h_resp r = {0};
    int reloads = rl_log_count(&proxy, done);

    get_on(fd, "/a", &r);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    cr_assert_eq(rl_sighup(&proxy), 1);
    rl_await_log_count(&proxy, done, reloads + 1);
    return rl_log_count(&proxy, ACCESS);
}

/*
 * access off: a GET writes no access line; reloaded on, each GET writes
 * one (proto, method, status); off again, none. A reload that changes
 * nothing logs no "config changed" line.
 */
Test(reload, log_access_lines_appear_and_disappear)
{
    char line[512], *log;
    int fd, n;

    h_set(&redis, "a", "v");
    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    fd = h_conn(proxy.http_port);
    cr_assert_eq(access_lines_after_get(fd), 0);
    cr_assert_eq(rl_last_reload_count(&proxy, "msg=\"config changed\""), 0,
                 "a reload that changes nothing");

    rl_apply(&proxy, &redis, "[log]\naccess = on\n");
    rl_expect_change(&proxy, "log.access", "off", "on");
    n = access_lines_after_get(fd);
    cr_assert_eq(n, 1, "one access line per GET: %d", n);
    n = access_lines_after_get(fd);
    cr_assert_eq(n, 2, "one access line per GET: %d", n);
    log = rl_log(&proxy);
    h_nth_line(log, ACCESS, 0, line, sizeof(line));
    free(log);
    cr_assert(strstr(line, "proto=http method=GET status=200") != NULL, "%s",
              line);

    rl_apply(&proxy, &redis, "[log]\naccess = off\n");
    rl_expect_change(&proxy, "log.access", "on", "off");
    cr_assert_eq(access_lines_after_get(fd), 2, "access lines after off");
    close(fd);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/*
 * level info -> debug: debug lines appear (a connection rejected over
 * max_clients is a debug line); -> error: info lines stop (a reload's own
 * "config reloaded" line is not written), errors still are (a failed
 * reload); -> info again: they are back.
 */
Test(reload, log_level_changes_live)
{
    static const char reject[] = "msg=\"connection rejected: too many open\"";
    struct h_resp r = {0};
    int hold, fd, reloaded;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nmax_clients = 1\n", .admin = 1));
    hold = h_conn(proxy.http_port);
    cr_assert_eq(h_http_get_on(hold, "/healthz", &r, IO_MS), 0);
    h_resp_free(&r);
    fd = h_conn(proxy.http_port);
    cr_assert(h_wait_closed(fd, IO_MS), "the second conn is refused");
    close(fd);
    cr_assert_eq(rl_metric(&proxy, P "connections_rejected_total"), 1);
    cr_assert_eq(rl_log_count(&proxy, reject), 0, "a debug line at info");

    rl_apply(&proxy, &redis,
             "[server]\nmax_clients = 1\n[log]\nlevel = debug\n");
    rl_expect_change(&proxy, "log.level", "info", "debug");
    fd = h_conn(proxy.http_port);
    cr_assert(h_wait_closed(fd, IO_MS));
    close(fd);
    rl_await_log_count(&proxy, reject, 1);

    rl_write_ini(&proxy, &redis, NULL,
                 "[server]\nmax_clients = 1\n[log]\nlevel = error\n");
    cr_assert_eq(rl_sighup(&proxy), 1);
    rl_expect_change(&proxy, "log.level", "debug", "error");
    reloaded = rl_log_count(&proxy, "msg=\"config reloaded\"");
    fd = h_conn(proxy.http_port);
    cr_assert(h_wait_closed(fd, IO_MS));
    close(fd);
    cr_assert_eq(rl_metric(&proxy, P "connections_rejected_total"), 3);
    /* An error line is still written, and comes after anything earlier. */
    rl_write_ini(&proxy, &redis, NULL, "[log]\nlevel = nope\n");
    cr_assert_eq(rl_sighup_quiet(&proxy), 0);
    rl_await_log_count(&proxy, "msg=\"config reload failed", 1);
    cr_assert_eq(rl_log_count(&proxy, reject), 1, "a debug line at error");
    cr_assert_eq(rl_log_count(&proxy, "msg=\"SIGHUP: reloading"), 2,
                 "an info line at error");
    cr_assert_eq(rl_log_count(&proxy, "msg=\"config reloaded\""), reloaded);

    rl_write_ini(&proxy, &redis, NULL, "[server]\nmax_clients = 1\n");
    cr_assert_eq(rl_sighup_quiet(&proxy), 1);
    rl_await_log_count(&proxy, "msg=\"config reloaded\"", reloaded + 1);
    close(hold);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- one line per changed key ---- */

/* A reload that changes six live keys logs six "config changed" lines,
 * one per key with both values, and its summary line says nothing needs
 * a restart. */
Test(reload, one_line_per_changed_key)
{
    static const char ini[] = "[server]\nidle_timeout = 45s\nmax_sessions = 7\n"
                              "[cache]\nttl = 90s\ncapacity = 500\n"
                              "[http]\nmax_body = 2mb\n[log]\naccess = on\n";

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    rl_apply(&proxy, &redis, ini);
    rl_expect_change(&proxy, "server.idle_timeout", "30s", "45s");
    rl_expect_change(&proxy, "server.max_sessions", "256", "7");
    rl_expect_change(&proxy, "cache.ttl", "60s", "90s");
    rl_expect_change(&proxy, "cache.capacity", "10000", "500");
    rl_expect_change(&proxy, "http.max_body", "1mb", "2mb");
    rl_expect_change(&proxy, "log.access", "off", "on");
    rl_await_log_count(&proxy, "msg=\"config reloaded\"", 1);
    cr_assert_eq(rl_last_reload_count(&proxy, "msg=\"config changed\""), 6);
    cr_assert_eq(rl_last_reload_count(&proxy, "not applied"), 0);
    cr_assert_eq(rl_last_reload_count(&proxy, "restart_needed=0"), 1);
    /* The same file again: nothing changed, nothing logged per key. */
    cr_assert_eq(rl_sighup(&proxy), 1);
    rl_await_log_count(&proxy, "msg=\"config reloaded\"", 2);
    cr_assert_eq(rl_last_reload_count(&proxy, "msg=\"config changed\""), 0);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}
