/*
 * End-to-end tests of the HTTP listener when Redis misbehaves: Redis killed
 * and restarted (503 with Retry-After, cached keys still served, recovery
 * without a proxy restart), Redis stalled past command_timeout (504, and the
 * late reply never answers a later request), and non-string values (409).
 * Each test starts its own redis-server (fixture) and proxy; the fixture's
 * teardown stops both even on failure.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct h_redis redis;
static struct h_proxy proxy;

static void
setup(void)
{
    cr_assert_eq(h_redis_start(&redis, 0), 0, "redis-server did not start");
}

static void
teardown(void)
{
    h_proxy_stop(&proxy);
    h_redis_stop(&redis);
}

TestSuite(http_faults, .init = setup, .fini = teardown, .timeout = 30);

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
start_proxy(const char *extra)
{
    cr_assert_eq(h_proxy_start(&proxy, redis.port, extra), 0,
                 "proxy did not start");
}

static const char *
hdr(const struct h_resp *r, const char *name)
{
    static char buf[512];

    return h_header(r, name, buf, sizeof(buf)) ? buf : "(none)";
}

/* GET path; checks status, exact body (if given) and X-Cache (if given). */
static void
expect_get(const char *path, int status, const char *body, const char *xcache)
{
    struct h_resp r = {0};

    cr_assert_eq(h_http_get(proxy.http_port, path, &r), 0,
                 "GET %s: no response", path);
    cr_assert_eq(r.status, status, "GET %s: status %d, want %d", path, r.status,
                 status);
    if (body != NULL) {
        cr_assert_eq(r.body_len, strlen(body), "GET %s: body length", path);
        cr_assert_eq(memcmp(r.body, body, r.body_len), 0,
                     "GET %s: body '%s', want '%s'", path, r.body, body);
    }
    if (xcache != NULL) {
        cr_assert_str_eq(hdr(&r, "X-Cache"), xcache, "GET %s: X-Cache", path);
    }
    h_resp_free(&r);
}

Test(http_faults, redis_down_serves_cache_503s_misses_and_recovers)
{
    struct h_resp r = {0};
    int64_t t0, took, deadline;
    int port = redis.port, status = 0;

    start_proxy(TTL_ONLY "[redis]\nconnect_timeout = 500ms\ncommand_timeout = 500ms\n");
    cr_assert_eq(h_redis_cmd(&redis, "SET w wv"), 0);
    expect_get("/w", 200, "wv", "MISS");
    h_redis_kill(&redis, 1);

    expect_get("/w", 200, "wv", "HIT");
    t0 = now_ms();
    cr_assert_eq(h_http_get(proxy.http_port, "/cold", &r), 0);
    took = now_ms() - t0;
    cr_assert_eq(r.status, 503, "Redis down: status %d", r.status);
    cr_assert_str_neq(hdr(&r, "Retry-After"), "(none)");
    cr_assert_lt(took, 1500, "503 took %lld ms", (long long)took);
    h_resp_free(&r);

    cr_assert_eq(h_redis_start(&redis, port), 0, "restart on port %d", port);
    cr_assert_eq(h_redis_cmd(&redis, "SET cold cv"), 0);
    for (deadline = now_ms() + 3000; status != 200 && now_ms() < deadline;) {
        cr_assert_eq(h_http_get(proxy.http_port, "/cold", &r), 0);
        status = r.status;
        if (status == 200) {
            cr_assert_eq(r.body_len, 2);
            cr_assert_eq(memcmp(r.body, "cv", 2), 0);
        }
        h_resp_free(&r);
        if (status != 200) {
            h_sleep_ms(100);
        }
    }
    cr_assert_eq(status, 200, "no recovery within 3 s (last status %d)",
                 status);
}

Test(http_faults, redis_stall_gives_504_and_late_reply_is_discarded)
{
    struct h_resp r = {0};
    int64_t tp, took, wait;

    /* one pooled connection: a reused timed-out context would hand the late
     * reply for t1 to the next request */
    start_proxy("[redis]\npool_size = 1\ncommand_timeout = 300ms\n");
    cr_assert_eq(h_redis_cmd(&redis, "SET t1 one"), 0);
    cr_assert_eq(h_redis_cmd(&redis, "SET t2 two"), 0);
    expect_get("/warm", 404, NULL, NULL);

    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE 1500 ALL"), 0);
    tp = now_ms();
    cr_assert_eq(h_http_get(proxy.http_port, "/t1", &r), 0);
    took = now_ms() - tp;
    cr_assert_eq(r.status, 504, "stalled Redis: status %d", r.status);
    cr_assert_lt(took, 1000, "504 took %lld ms", (long long)took);
    cr_assert_gt(r.body_len, 0, "504 has a short text body");
    h_resp_free(&r);

    wait = tp + 1700 - now_ms();
    if (wait > 0) {
        h_sleep_ms((int)wait);
    }
    expect_get("/t2", 200, "two", "MISS");
    expect_get("/t1", 200, "one", "MISS");
}

Test(http_faults, wrongtype_is_409_with_redis_error_and_not_cached)
{
    struct h_resp r = {0};
    int i;

    start_proxy(NULL);
    cr_assert_eq(h_redis_cmd(&redis, "HSET h f v"), 0);
    for (i = 0; i < 2; i++) {
        cr_assert_eq(h_http_get(proxy.http_port, "/h", &r), 0);
        cr_assert_eq(r.status, 409, "GET /h #%d: status %d", i + 1, r.status);
        cr_assert_not_null(strstr(r.body, "WRONGTYPE"), "409 body: '%s'",
                           r.body);
        h_resp_free(&r);
    }
    cr_assert_eq(h_redis_calls(&redis, "get"), 2, "a 409 was cached");
}
