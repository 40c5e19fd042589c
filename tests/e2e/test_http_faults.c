/*
 * End-to-end tests of the HTTP listener when Redis misbehaves: Redis killed
 * and restarted (503 with Retry-After, cached keys still served, recovery
 * without a proxy restart) and non-string values (409). (Redis stalled past
 * command_timeout, the 504 and its late reply, is in test_faults.c.) Each
 * test starts its own redis-server (fixture) and proxy; the fixture's
 * teardown stops both even on failure.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

H_PAIR_SUITE(http_faults, 30);

Test(http_faults, redis_down_serves_cache_503s_misses_and_recovers)
{
    struct h_resp r = {0};
    int64_t t0, took, deadline;
    int port = redis.port, status = 0;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "[redis]\nconnect_timeout = 500ms\n"
                                         "command_timeout = 500ms\n"));
    cr_assert_eq(h_redis_cmd(&redis, "SET w wv"), 0);
    h_expect_get(proxy.http_port, "/w", 200, "wv", "MISS");
    h_redis_kill(&redis, 1);

    h_expect_get(proxy.http_port, "/w", 200, "wv", "HIT");
    t0 = h_now_ms();
    cr_assert_eq(h_http_get(proxy.http_port, "/cold", &r), 0);
    took = h_now_ms() - t0;
    cr_assert_eq(r.status, 503, "Redis down: status %d", r.status);
    cr_assert_str_neq(h_hdr(&r, "Retry-After"), "(none)");
    cr_assert_lt(took, 1500, "503 took %lld ms", (long long)took);
    h_resp_free(&r);

    cr_assert_eq(h_redis_start(&redis, port, NULL), 0, "restart on port %d",
                 port);
    cr_assert_eq(h_redis_cmd(&redis, "SET cold cv"), 0);
    for (deadline = h_now_ms() + 3000;
         status != 200 && h_now_ms() < deadline;) {
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

Test(http_faults, wrongtype_is_409_with_redis_error_and_not_cached)
{
    struct h_resp r = {0};
    int i;

    h_start_proxy(&proxy, &redis, NULL);
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
