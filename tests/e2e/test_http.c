/*
 * End-to-end tests of the HTTP listener: caching (hits, misses, TTL, LRU),
 * the worker pool, keep-alive and pipelining, methods, binary values, key
 * decoding, malformed requests and the connection limits and timeouts. Each
 * test starts its own redis-server (fixture) and proxy (in the test, with the
 * settings it needs); the fixture's teardown stops both even on failure.
 * Set E2E_KEEP=1 to keep the proxy's config and log for a failed test.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

H_PAIR_SUITE(http, 30);

/* ---- caching ---- */

Test(http, get_is_cached_and_hit_does_not_contact_redis)
{
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY));
    h_set(&redis, "k", "v1");
    h_expect_get(proxy.http_port, "/k", 200, "v1", "MISS");
    h_set(&redis, "k", "v2");
    h_expect_get(proxy.http_port, "/k", 200, "v1", "HIT");
    cr_assert_eq(h_redis_calls(&redis, "get"), 1);
}

Test(http, entry_expires_after_global_ttl)
{
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY "ttl = 1s\n"));
    h_set(&redis, "k", "v1");
    h_expect_get(proxy.http_port, "/k", 200, "v1", "MISS");
    h_set(&redis, "k", "v2");
    h_expect_get(proxy.http_port, "/k", 200, "v1", "HIT");
    h_sleep_ms(1300);
    h_expect_get(proxy.http_port, "/k", 200, "v2", "MISS");
}

Test(http, evicts_least_recently_used_at_capacity)
{
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY "capacity = 2\n"));
    h_set(&redis, "a", "a1");
    h_set(&redis, "b", "b1");
    h_set(&redis, "c", "c1");
    h_expect_get(proxy.http_port, "/a", 200, "a1", "MISS");
    h_expect_get(proxy.http_port, "/b", 200, "b1", "MISS");
    h_expect_get(proxy.http_port, "/a", 200, "a1", "HIT");
    /* evicts b, the LRU */
    h_expect_get(proxy.http_port, "/c", 200, "c1", "MISS");
    h_set(&redis, "a", "a2");
    h_set(&redis, "b", "b2");
    h_expect_get(proxy.http_port, "/a", 200, "a1", "HIT");
    h_expect_get(proxy.http_port, "/b", 200, "b2", "MISS");
}

Test(http, missing_key_is_404_and_not_cached)
{
    struct h_resp r = {0};

    h_start_proxy(&proxy, &redis, NULL);
    cr_assert_eq(h_http_get(proxy.http_port, "/nokey", &r), 0);
    h_check(&r, "/nokey", 404, NULL, NULL);
    cr_assert_str_neq(h_hdr(&r, "Content-Length"), "(none)");
    cr_assert_gt(r.body_len, 0, "404 has a short text body");
    h_resp_free(&r);
    h_expect_get(proxy.http_port, "/nokey", 404, NULL, NULL);
    cr_assert_eq(h_redis_calls(&redis, "get"), 2, "misses are not cached");
    h_set(&redis, "nokey", "now");
    h_expect_get(proxy.http_port, "/nokey", 200, "now", "MISS");
}

Test(http, utf8_value_is_text_plain_with_nosniff)
{
    struct h_resp r = {0};

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "u", "h\xC3\xA9llo \xE2\x82\xAC");
    cr_assert_eq(h_http_get(proxy.http_port, "/u", &r), 0);
    h_check(&r, "/u", 200, "h\xC3\xA9llo \xE2\x82\xAC", "MISS");
    cr_assert_str_eq(h_hdr(&r, "Content-Type"), "text/plain; charset=utf-8");
    cr_assert_str_eq(h_hdr(&r, "X-Content-Type-Options"), "nosniff");
    h_resp_free(&r);
}

Test(http, binary_value_is_octet_stream_with_nosniff)
{
    struct h_resp r = {0};

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "bin", "ab\xC3\x28\xFF");
    cr_assert_eq(h_http_get(proxy.http_port, "/bin", &r), 0);
    h_check(&r, "/bin", 200, "ab\xC3\x28\xFF", "MISS");
    cr_assert_str_eq(h_hdr(&r, "Content-Type"), "application/octet-stream");
    cr_assert_str_eq(h_hdr(&r, "X-Content-Type-Options"), "nosniff");
    h_resp_free(&r);
}

/* ---- worker pool ---- */

#define PAUSE_MS 1500 /* < 2 s: the invalidation stream survives it */
#define FIRST_A 1u    /* h_readable's bits for clients A and B */
#define FIRST_B 2u

/* The miss is in a worker, waiting on Redis: the pool lent a connection. */
static void
miss_waits_on_redis(void)
{
    double in_use =
        h_await_metric(&proxy, "redis_proxy_redis_pool_in_use", 1, 2000);

    cr_assert_eq(in_use, 1, "redis_pool_in_use %g: the miss is not waiting",
                 in_use);
}

/*
 * Warms hit key h, pauses Redis, sends a miss (client A), calls a_in (the
 * test's evidence that A's request is in; may be NULL), then sends a hit
 * (client B) while A is still unanswered. Returns which answers were there
 * when the first arrived (FIRST_A, FIRST_B or both); checks both responses
 * and that only the miss reached Redis.
 */
static unsigned
stalled_miss_then_hit(void (*a_in)(void))
{
    struct h_resp ra = {0}, rb = {0};
    unsigned first;
    int fds[2];
    long gets;

    h_set(&redis, "h", "hv");
    h_set(&redis, "m", "mv");
    h_expect_get(proxy.http_port, "/h", 200, "hv", "MISS");
    h_expect_get(proxy.http_port, "/h", 200, "hv", "HIT");
    gets = h_redis_calls(&redis, "get");
    cr_assert_eq(gets, 1, "the warm-up cost %ld GETs", gets);
    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE %d ALL", PAUSE_MS), 0);
    fds[0] = h_conn(proxy.http_port);
    cr_assert_eq(h_sends(fds[0], H_REQ("/m")), 0);
    if (a_in != NULL) {
        a_in();
    }
    fds[1] = h_conn(proxy.http_port);
    cr_assert_eq(h_readable(fds, 1, 0), 0,
                 "the miss was answered before the hit was sent");
    cr_assert_eq(h_sends(fds[1], H_REQ("/h")), 0);
    first = h_readable(fds, 2, 2 * PAUSE_MS);
    cr_assert_neq(first, 0, "no answer within %d ms", 2 * PAUSE_MS);
    cr_assert_eq(h_read_resp(fds[1], &rb, 0, 2 * PAUSE_MS), 0,
                 "no response for B");
    h_check(&rb, "B /h", 200, "hv", "HIT");
    cr_assert_eq(h_read_resp(fds[0], &ra, 0, 2 * PAUSE_MS), 0,
                 "no response for A");
    h_check(&ra, "A /m", 200, "mv", "MISS");
    cr_assert_eq(h_redis_calls(&redis, "get"), gets + 1,
                 "Redis counted more than the miss's GET");
    h_resp_free(&ra);
    h_resp_free(&rb);
    close(fds[0]);
    close(fds[1]);
    return first;
}

Test(http, one_worker_answers_a_hit_while_a_miss_waits)
{
    unsigned first;

    /* No worker waits on Redis: the one worker hands the miss to Redis
     * and goes on to the hit (and to the admin port's scrape that shows
     * the miss waiting). */
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nworkers = 1\n"
                                "[redis]\ncommand_timeout = 3s\n",
                         .admin = 1));
    first = stalled_miss_then_hit(miss_waits_on_redis);
    cr_assert_eq(first, FIRST_B,
                 "answers when the first came: %s%s; want only the hit",
                 first & FIRST_A ? "miss " : "", first & FIRST_B ? "hit" : "");
}

Test(http, four_workers_answer_hit_while_miss_waits)
{
    unsigned first;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nworkers = 4\n"
                                "[redis]\ncommand_timeout = 3s\n",
                         .admin = 1));
    first = stalled_miss_then_hit(miss_waits_on_redis);
    cr_assert_eq(first, FIRST_B,
                 "answers when the first came: %s%s; want only the hit",
                 first & FIRST_A ? "miss " : "", first & FIRST_B ? "hit" : "");
}

/* ---- connections ---- */

Test(http, keep_alive_serves_several_requests_on_one_connection)
{
    struct h_resp r = {0};
    int fd;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k1", "one");
    h_set(&redis, "k2", "two");
    fd = h_conn(proxy.http_port);
    h_roundtrip(fd, H_REQ("/k1"), &r, 0);
    h_check(&r, "/k1", 200, "one", "MISS");
    h_resp_free(&r);
    h_roundtrip(fd, H_REQ("/k2"), &r, 0);
    h_check(&r, "/k2", 200, "two", "MISS");
    h_resp_free(&r);
    h_roundtrip(fd, H_REQ("/k1"), &r, 0);
    h_check(&r, "/k1 again", 200, "one", "HIT");
    h_resp_free(&r);
    close(fd);
}

Test(http, pipelined_requests_are_answered_in_order)
{
    static const char *const want[][2] = {
        {"v1", "MISS"}, {"v2", "HIT"}, {"v3", "MISS"}, {"v2", "HIT"}};
    struct h_resp r = {0};
    size_t i;
    int fd;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "p1", "v1");
    h_set(&redis, "p2", "v2");
    h_set(&redis, "p3", "v3");
    /* a hit among misses */
    h_expect_get(proxy.http_port, "/p2", 200, "v2", "MISS");
    cr_assert_eq(h_redis_calls(&redis, "get"), 1);
    fd = h_conn(proxy.http_port);
    cr_assert_eq(
        h_sends(fd, H_REQ("/p1") H_REQ("/p2") H_REQ("/p3") H_REQ("/p2")), 0);
    for (i = 0; i < 4; i++) {
        char what[32];

        snprintf(what, sizeof(what), "pipelined response %zu", i);
        cr_assert_eq(h_read_resp(fd, &r, 0, 3000), 0, "response %zu", i);
        h_check(&r, what, 200, want[i][0], want[i][1]);
        h_resp_free(&r);
    }
    /* p1 and p3 reached Redis; neither p2 did */
    cr_assert_eq(h_redis_calls(&redis, "get"), 3);
    close(fd);
}

Test(http, http10_without_keep_alive_is_closed_after_response)
{
    struct h_resp r = {0};
    int fd;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k", "v");
    fd = h_conn(proxy.http_port);
    h_roundtrip(fd, "GET /k HTTP/1.0\r\n\r\n", &r, 0);
    h_check(&r, "HTTP/1.0", 200, "v", NULL);
    cr_assert(h_wait_closed(fd, 1000), "HTTP/1.0 connection left open");
    h_resp_free(&r);
    close(fd);
}

Test(http, http10_with_keep_alive_stays_open)
{
    static const char req[] =
        "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    struct h_resp r = {0};
    int fd;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k", "v");
    fd = h_conn(proxy.http_port);
    h_roundtrip(fd, req, &r, 0);
    h_check(&r, "first", 200, "v", "MISS");
    h_resp_free(&r);
    cr_assert_not(h_wait_closed(fd, 300), "keep-alive connection closed");
    h_roundtrip(fd, req, &r, 0);
    h_check(&r, "second", 200, "v", "HIT");
    h_resp_free(&r);
    close(fd);
}

Test(http, connection_close_is_honoured)
{
    struct h_resp r = {0};
    int fd;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k", "v");
    fd = h_conn(proxy.http_port);
    h_roundtrip(
        fd, "GET /k HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        &r, 0);
    h_check(&r, "close", 200, "v", NULL);
    cr_assert(h_wait_closed(fd, 1000), "connection left open");
    h_resp_free(&r);
    close(fd);
}

/* ---- methods ---- */

Test(http, head_has_get_headers_and_no_body)
{
    struct h_resp r = {0};
    int fd;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k", "hello world");
    fd = h_conn(proxy.http_port);
    cr_assert_eq(h_sends(fd, "HEAD /k HTTP/1.1\r\nHost: localhost\r\n\r\n"), 0);
    cr_assert_eq(h_read_resp(fd, &r, 1, 3000), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(h_hdr(&r, "Content-Length"), "11");
    cr_assert_str_eq(h_hdr(&r, "Content-Type"), "text/plain; charset=utf-8");
    cr_assert_str_eq(h_hdr(&r, "X-Content-Type-Options"), "nosniff");
    cr_assert_str_eq(h_hdr(&r, "X-Cache"), "MISS");
    h_resp_free(&r);
    /* had a body been sent, it would now be read as the next status line */
    h_roundtrip(fd, H_REQ("/k"), &r, 0);
    h_check(&r, "GET after HEAD", 200, "hello world", NULL);
    h_resp_free(&r);
    close(fd);
}

Test(http, other_methods_get_405_with_allow)
{
    static const char *const methods[] = {"POST", "PUT", "DELETE"};
    struct h_resp r = {0};
    char req[128];
    size_t i;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k", "v");
    for (i = 0; i < 3; i++) {
        int fd = h_conn(proxy.http_port);

        snprintf(
            req, sizeof(req),
            "%s /k HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
            methods[i]);
        h_roundtrip(fd, req, &r, 0);
        cr_assert_eq(r.status, 405, "%s: status %d", methods[i], r.status);
        cr_assert_str_eq(h_hdr(&r, "Allow"), "GET, HEAD", "%s", methods[i]);
        h_resp_free(&r);
        close(fd);
    }
    h_expect_get(proxy.http_port, "/k", 200, "v", "MISS");
}

/* ---- values ---- */

Test(http, binary_value_with_nul_and_crlf_is_exact)
{
    static const char val[] = "a\0b\r\nc\r\n\r\n\0\xff";
    struct h_resp r = {0};

    h_start_proxy(&proxy, &redis, NULL);
    cr_assert_eq(h_redis_cmd(&redis, "SET bin %b", val, sizeof(val) - 1), 0);
    cr_assert_eq(h_http_get(proxy.http_port, "/bin", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, sizeof(val) - 1);
    cr_assert_eq(memcmp(r.body, val, sizeof(val) - 1), 0);
    h_resp_free(&r);
}

Test(http, empty_value_is_200_with_zero_length)
{
    struct h_resp r = {0};

    h_start_proxy(&proxy, &redis, NULL);
    cr_assert_eq(h_redis_cmd(&redis, "SET e %b", "", (size_t)0), 0);
    cr_assert_eq(h_http_get(proxy.http_port, "/e", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(h_hdr(&r, "Content-Length"), "0");
    cr_assert_eq(r.body_len, 0);
    h_resp_free(&r);
    h_expect_get(proxy.http_port, "/e", 200, "", "HIT");
}

Test(http, one_mib_value_is_exact)
{
    const size_t len = 1 << 20;
    struct h_resp r = {0};
    char *val = malloc(len);
    int pass;

    cr_assert_not_null(val);
    for (size_t i = 0; i < len; i++) {
        val[i] = (char)((i * 7 + i / 251) & 0xff);
    }
    h_start_proxy(&proxy, &redis, NULL);
    cr_assert_eq(h_redis_cmd(&redis, "SET big %b", val, len), 0);
    for (pass = 0; pass < 2; pass++) {
        cr_assert_eq(h_http_get(proxy.http_port, "/big", &r), 0);
        h_check(&r, "/big", 200, NULL, pass == 0 ? "MISS" : "HIT");
        cr_assert_str_eq(h_hdr(&r, "Content-Length"), "1048576");
        cr_assert_eq(r.body_len, len);
        cr_assert_eq(memcmp(r.body, val, len), 0, "1 MiB body differs");
        h_resp_free(&r);
    }
    free(val);
}

/* ---- keys ---- */

Test(http, slash_and_encoded_slash_are_the_same_key)
{
    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "a/b", "ab");
    h_expect_get(proxy.http_port, "/a/b", 200, "ab", "MISS");
    h_expect_get(proxy.http_port, "/a%2Fb", 200, "ab", "HIT");
    h_expect_get(proxy.http_port, "/a%2fb", 200, "ab", "HIT");
}

Test(http, percent20_decodes_to_space)
{
    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "a b", "space");
    h_expect_get(proxy.http_port, "/a%20b", 200, "space", "MISS");
}

Test(http, percent_encoded_utf8_key)
{
    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "caf\xC3\xA9", "coffee");
    h_expect_get(proxy.http_port, "/caf%C3%A9", 200, "coffee", "MISS");
}

Test(http, percent00_is_a_nul_byte_in_the_key)
{
    h_start_proxy(&proxy, &redis, NULL);
    cr_assert_eq(h_redis_cmd(&redis, "SET %b nul", "x\0y", (size_t)3), 0);
    h_set(&redis, "x", "just-x");
    h_expect_get(proxy.http_port, "/x%00y", 200, "nul", "MISS");
}

Test(http, plus_is_a_literal_plus)
{
    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "a+b", "plus");
    h_set(&redis, "a b", "space");
    h_expect_get(proxy.http_port, "/a+b", 200, "plus", "MISS");
}

Test(http, query_string_is_not_part_of_the_key)
{
    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k", "vk");
    h_expect_get(proxy.http_port, "/k?x=1", 200, "vk", "MISS");
    h_expect_get(proxy.http_port, "/k?y=2", 200, "vk", "HIT");
    h_expect_get(proxy.http_port, "/k", 200, "vk", "HIT");
}

Test(http, key_just_under_the_limit_is_served)
{
    char *key = malloc(8001), *path = malloc(8002);

    cr_assert(key != NULL && path != NULL);
    memset(key, 'k', 8000);
    key[8000] = '\0';
    snprintf(path, 8002, "/%s", key);
    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, key, "long");
    h_expect_get(proxy.http_port, path, 200, "long", "MISS");
    free(key);
    free(path);
}

/* ---- malformed requests ---- */

/* Sends len bytes of req (the send may fail once the proxy rejects it),
 * expects one response with status, and the close when closes is set. */
static void
expect_rejected(const char *req, size_t len, int status, int closes)
{
    struct h_resp r = {0};
    int fd;

    h_start_proxy(&proxy, &redis, NULL);
    fd = h_conn(proxy.http_port);
    (void)h_send(fd, req, len);
    cr_assert_eq(h_read_resp(fd, &r, 0, 3000), 0, "no response");
    cr_assert_eq(r.status, status, "status %d, want %d", r.status, status);
    cr_assert_str_neq(h_hdr(&r, "Content-Length"), "(none)");
    if (closes) {
        cr_assert(h_wait_closed(fd, 1000), "connection left open");
    }
    h_resp_free(&r);
    close(fd);
}

Test(http, garbage_request_line_is_400_and_closed)
{
    static const char req[] = "GARBAGE\r\n\r\n";

    expect_rejected(req, sizeof(req) - 1, 400, 1);
}

Test(http, empty_key_is_400)
{
    static const char req[] = H_REQ("/");

    expect_rejected(req, sizeof(req) - 1, 400, 1);
}

Test(http, bad_percent_escape_is_400)
{
    static const char req[] = H_REQ("/a%zzb");

    expect_rejected(req, sizeof(req) - 1, 400, 1);
}

Test(http, request_target_over_limit_is_414_and_closed)
{
    char *req = malloc(9100);
    int n;

    cr_assert_not_null(req);
    memset(req, 'a', 9100);
    memcpy(req, "GET /", 5);
    n = snprintf(req + 9000, 100, " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect_rejected(req, 9000 + (size_t)n, 414, 1);
    free(req);
}

Test(http, headers_over_limit_are_431_and_closed)
{
    char *req = malloc(32768), line[300];
    size_t len = 0;
    int i;

    cr_assert_not_null(req);
    len += (size_t)sprintf(req, "GET /k HTTP/1.1\r\nHost: localhost\r\n");
    memset(line, 'h', sizeof(line));
    for (i = 0; i < 80; i++) { /* 80 fields of 256 bytes: 20 KiB */
        memcpy(line, "X-Fill: ", 8);
        memcpy(line + 254, "\r\n", 2);
        memcpy(req + len, line, 256);
        len += 256;
    }
    memcpy(req + len, "\r\n", 2);
    expect_rejected(req, len + 2, 431, 1);
    free(req);
}

Test(http, content_length_with_transfer_encoding_is_400_and_closed)
{
    static const char req[] =
        "GET /k HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
        "0\r\nTransfer-Encoding: chunked\r\n\r\n";

    expect_rejected(req, sizeof(req) - 1, 400, 1);
}

Test(http, http11_without_host_is_400)
{
    static const char req[] = "GET /k HTTP/1.1\r\n\r\n";

    expect_rejected(req, sizeof(req) - 1, 400, 1);
}

Test(http, http2_version_is_505)
{
    static const char req[] = "GET /k HTTP/2.0\r\nHost: localhost\r\n\r\n";

    expect_rejected(req, sizeof(req) - 1, 505, 1);
}

/* ---- limits and timeouts ---- */

Test(http, idle_connections_do_not_occupy_workers)
{
    struct h_resp r = {0};
    int fds[20], i, fd;
    int64_t t0, lat;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = "[server]\nworkers = 2\n"));
    h_set(&redis, "k", "v");
    for (i = 0; i < 20; i++) {
        fds[i] = h_conn(proxy.http_port);
        h_roundtrip(fds[i], H_REQ("/k"), &r, 0);
        h_check(&r, "idle conn", 200, "v", i == 0 ? "MISS" : "HIT");
        h_resp_free(&r);
    }
    fd = h_conn(proxy.http_port);
    t0 = h_now_ms();
    h_roundtrip(fd, H_REQ("/k"), &r, 0);
    lat = h_now_ms() - t0;
    h_check(&r, "new conn", 200, "v", "HIT");
    cr_assert_lt(lat, 500, "answered after %lld ms", (long long)lat);
    h_resp_free(&r);
    h_roundtrip(fds[0], H_REQ("/k"), &r, 0);
    h_check(&r, "first conn again", 200, "v", "HIT");
    h_resp_free(&r);
    close(fd);
    for (i = 0; i < 20; i++) {
        close(fds[i]);
    }
}

Test(http, partial_request_is_cut_off_and_does_not_pin_the_worker)
{
    struct h_resp r = {0};
    int64_t t0, t1, lat;
    int slow, rc;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nworkers = 1\n"
                                "request_timeout = 1s\n"));
    h_set(&redis, "k", "v");
    slow = h_conn(proxy.http_port);
    t0 = h_now_ms();
    cr_assert_eq(h_sends(slow, "GET /k HTTP/1.1\r\nHo"), 0);
    h_sleep_ms(50);
    t1 = h_now_ms();
    h_expect_get(proxy.http_port, "/k", 200, "v", "MISS");
    lat = h_now_ms() - t1;
    cr_assert_lt(lat, 500, "other client waited %lld ms", (long long)lat);
    rc = h_read_resp(slow, &r, 0, 2500);
    cr_assert_eq(rc, 0, "the partial request got no 408 within 2.5 s");
    cr_assert_eq(r.status, 408, "partial request got %d", r.status);
    cr_assert_str_eq(h_hdr(&r, "Connection"), "close");
    cr_assert_str_eq(h_hdr(&r, "X-Content-Type-Options"), "nosniff");
    cr_assert_str_eq(h_hdr(&r, "Cache-Control"), "no-store");
    cr_assert_str_eq(h_hdr(&r, "Content-Type"), "text/plain; charset=utf-8");
    cr_assert_str_neq(h_hdr(&r, "Date"), "(none)");
    h_resp_free(&r);
    cr_assert(h_wait_closed(slow, (int)(t0 + 2500 - h_now_ms())),
              "partial request not cut off within 2.5 s");
    lat = h_now_ms() - t0;
    cr_assert_geq(lat, 700, "cut off after only %lld ms", (long long)lat);
    close(slow);
}

Test(http, dribbling_client_is_cut_off_after_request_timeout)
{
    static const char req[] = H_REQ("/k");
    int64_t t0, lat;
    size_t i;
    int fd, closed = 0;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nrequest_timeout = 1s\n"));
    h_set(&redis, "k", "v");
    fd = h_conn(proxy.http_port);
    t0 = h_now_ms();
    for (i = 0; i < sizeof(req) - 1 && !closed; i++) {
        closed = h_send(fd, req + i, 1) == -1 || h_wait_closed(fd, 300);
    }
    lat = h_now_ms() - t0;
    cr_assert(closed, "a request dribbled over %lld ms was served",
              (long long)lat);
    cr_assert_geq(lat, 700, "cut off after only %lld ms", (long long)lat);
    cr_assert_leq(lat, 2500, "cut off after %lld ms", (long long)lat);
    close(fd);
}

/* Sends s[0..len) one byte per write, Nagle off, so most land in a read of
 * their own. */
static void
send_bytewise(int fd, const char *s, size_t len)
{
    int one = 1;
    size_t i;

    cr_assert_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)),
                 0);
    for (i = 0; i < len; i++) {
        cr_assert_eq(h_send(fd, s + i, 1), 0, "byte %zu", i);
        h_sleep_ms(1);
    }
}

Test(http, head_sent_a_byte_at_a_time_is_served_as_if_sent_whole)
{
    static const char first[] = "GET /a HTTP/1.1\r\nHost: localhost\r\nX-Pad: "
                                "0123456789 abc:def\r\n\r\nGET /b HT";
    static const char rest[] = "TP/1.1\r\nHost: localhost\r\n\r\n";
    struct h_resp r = {0};
    int fd;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "a", "one");
    h_set(&redis, "b", "two");
    fd = h_conn(proxy.http_port);
    /* The end of the first head and the start of the next in one piece. */
    send_bytewise(fd, first, sizeof(first) - 10 - 1);
    cr_assert_eq(h_send(fd, first + sizeof(first) - 10 - 1, 10), 0);
    cr_assert_eq(h_read_resp(fd, &r, 0, 3000), 0);
    h_check(&r, "/a a byte at a time", 200, "one", "MISS");
    h_resp_free(&r);
    send_bytewise(fd, rest, sizeof(rest) - 1);
    cr_assert_eq(h_read_resp(fd, &r, 0, 3000), 0);
    h_check(&r, "/b begun with /a", 200, "two", "MISS");
    h_resp_free(&r);
    h_roundtrip(fd, H_REQ("/a"), &r, 0);
    h_check(&r, "/a again, whole", 200, "one", "HIT");
    h_resp_free(&r);
    close(fd);
}

Test(http, idle_keep_alive_connection_is_closed_after_idle_timeout)
{
    struct h_resp r = {0};
    int fd;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nidle_timeout = 1s\n"));
    h_set(&redis, "k", "v");
    fd = h_conn(proxy.http_port);
    h_roundtrip(fd, H_REQ("/k"), &r, 0);
    h_check(&r, "/k", 200, "v", "MISS");
    h_resp_free(&r);
    cr_assert_not(h_wait_closed(fd, 700), "closed before 0.7 s idle");
    cr_assert(h_wait_closed(fd, 1800), "still open after 2.5 s idle");
    close(fd);
}

Test(http, connection_over_max_clients_gets_503_and_is_closed)
{
    struct h_resp r = {0};
    int a, b, c, d = -1, status = 0;
    int64_t deadline;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = "[server]\nmax_clients = 2\n"));
    h_set(&redis, "k", "v");
    a = h_conn(proxy.http_port);
    h_roundtrip(a, H_REQ("/k"), &r, 0);
    h_check(&r, "a", 200, "v", NULL);
    h_resp_free(&r);
    b = h_conn(proxy.http_port);
    h_roundtrip(b, H_REQ("/k"), &r, 0);
    h_check(&r, "b", 200, "v", NULL);
    h_resp_free(&r);
    c = h_conn(proxy.http_port);
    (void)h_sends(c, H_REQ("/k"));
    cr_assert_eq(h_read_resp(c, &r, 0, 3000), 0, "no response over limit");
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(h_hdr(&r, "Connection"), "close");
    cr_assert_str_eq(h_hdr(&r, "X-Content-Type-Options"), "nosniff");
    cr_assert_str_eq(h_hdr(&r, "Cache-Control"), "no-store");
    cr_assert_str_eq(h_hdr(&r, "Retry-After"), "1");
    cr_assert_str_neq(h_hdr(&r, "Date"), "(none)");
    cr_assert(h_wait_closed(c, 1000), "connection over the limit left open");
    h_resp_free(&r);
    close(c);
    close(a);
    for (deadline = h_now_ms() + 1000;
         status != 200 && h_now_ms() < deadline;) {
        h_sleep_ms(50);
        d = h_conn(proxy.http_port);
        (void)h_sends(d, H_REQ("/k"));
        status = h_read_resp(d, &r, 0, 1000) == 0 ? r.status : -1;
        h_resp_free(&r);
        if (status != 200) {
            close(d);
        }
    }
    cr_assert_eq(status, 200, "no room after a client left (last %d)", status);
    h_roundtrip(b, H_REQ("/k"), &r, 0);
    h_check(&r, "b again", 200, "v", "HIT");
    h_resp_free(&r);
    close(b);
    close(d);
}

Test(http, sigterm_with_idle_keep_alive_connections_exits_zero)
{
    struct h_resp r = {0};
    int fds[3], i, rc;
    int64_t t0, took;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k", "v");
    for (i = 0; i < 3; i++) {
        fds[i] = h_conn(proxy.http_port);
        h_roundtrip(fds[i], H_REQ("/k"), &r, 0);
        h_check(&r, "/k", 200, "v", NULL);
        h_resp_free(&r);
    }
    t0 = h_now_ms();
    rc = h_proxy_stop(&proxy, NULL, 0);
    took = h_now_ms() - t0;
    cr_assert_eq(rc, 0, "exit status %d", rc);
    cr_assert_lt(took, 3000, "took %lld ms to exit", (long long)took);
    for (i = 0; i < 3; i++) {
        close(fds[i]);
    }
}
