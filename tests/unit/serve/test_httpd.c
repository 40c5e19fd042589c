/*
 * Unit tests of serve/httpd, the HTTP data port, through its conn_ops on
 * a whole proxy in front of a redis-server of the test's own
 * (live_helpers.h), a client on a socketpair reading each response:
 * GET and HEAD through the cache (X-Cache MISS then HIT, ETag, Age,
 * Cache-Control, Content-Type by the value's bytes, 304 on If-None-Match),
 * 404 for a missing key, 409 for WRONGTYPE, 405 with Allow (as [http]
 * writes says), PUT (with ?ex) and DELETE with writes on (204, 404, the
 * cached entry gone before the answer), percent-decoded keys and their
 * errors, the Host check (421) and the password (401), Redis down (503
 * with Retry-After), and misses pipelined on one conn answered in order.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "live_helpers.h"

TestSuite(httpd, .init = live_defaults, .fini = live_down, .timeout = 30);

/* The proxy (started on first use) and a client of its data port. */
static void
connect_client(void)
{
    if (!live.up) {
        live_up();
    }
    live.fd = live_client(PROXY_HTTP);
}

/* Sends "METHOD target HTTP/1.1" with Host: localhost, the extra header
 * lines and body, and reads the response. */
static void
request(const char *method, const char *target, const char *extra,
        const char *body, struct http_resp *r)
{
    char req[4096];

    if (live.fd < 0) {
        connect_client();
    }
    snprintf(req, sizeof(req),
             "%s %s HTTP/1.1\r\nHost: localhost\r\n%sContent-Length: %zu\r\n"
             "\r\n%s",
             method, target, extra, strlen(body), body);
    client_send(live.fd, req);
    http_read_resp(live.fd, r, strcmp(method, "HEAD") == 0);
}

static void
get(const char *target, struct http_resp *r)
{
    request("GET", target, "", "", r);
}

Test(httpd, a_get_misses_then_hits_with_the_same_etag)
{
    struct http_resp r;
    char etag[1100];

    connect_client();
    redis_do("OK", "SET k hello");
    get("/k", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "hello");
    http_expect_field(&r, "X-Cache", "MISS");
    http_expect_field(&r, "Content-Type", "text/plain; charset=utf-8");
    cr_expect_null(http_field(&r, "Age"), "a miss has no age");
    cr_assert_not_null(http_field(&r, "ETag"));
    snprintf(etag, sizeof(etag), "%s", http_field(&r, "ETag"));
    cr_expect_eq(strlen(etag), 18, "a quoted 16-digit tag: %s", etag);
    cr_expect_not_null(http_field(&r, "Cache-Control"));

    get("/k", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "hello");
    http_expect_field(&r, "X-Cache", "HIT");
    http_expect_field(&r, "ETag", etag);
    http_expect_field(&r, "Age", "0");
    cr_expect_eq(redis_calls("get"), 1, "the hit never reached Redis");
    cr_expect_eq(atomic_load(&live.px.metrics.requests[METRICS_HTTP][0]), 2);
}

Test(httpd, the_max_age_is_what_is_left_of_the_ttl)
{
    struct http_resp r;

    live.cfg.cache_ttl_ms = 30000;
    connect_client();
    redis_do("OK", "SET k v");
    redis_do("OK", "SET short v EX 5");
    get("/k", &r);
    http_expect_field(&r, "Cache-Control", "max-age=30");
    get("/short", &r);
    /* Whole seconds left of Redis's 5 s, as PTTL said a moment ago. */
    cr_expect(strcmp(http_field(&r, "Cache-Control"), "max-age=4") == 0 ||
                  strcmp(http_field(&r, "Cache-Control"), "max-age=5") == 0,
              "%s", http_field(&r, "Cache-Control"));
}

Test(httpd, head_answers_the_headers_of_get_without_the_body)
{
    struct http_resp r;

    connect_client();
    redis_do("OK", "SET k hello");
    request("HEAD", "/k", "", "", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "");
    http_expect_field(&r, "Content-Length", "5");
    http_expect_field(&r, "X-Cache", "MISS");
    get("/k", &r); /* the next response starts right after the head */
    http_expect(&r, "HTTP/1.1 200 OK", "hello");
}

Test(httpd, a_binary_value_is_octet_stream)
{
    struct http_resp r;
    redisReply *rr;

    connect_client();
    rr = redisCommand(live.redis.ctx, "SET bin %b", "\xff\x00\x01", (size_t)3);
    freeReplyObject(rr);
    get("/bin", &r);
    cr_expect_eq(r.status, 200);
    http_expect_field(&r, "Content-Type", "application/octet-stream");
    cr_expect(r.body_len == 3 && memcmp(r.body, "\xff\x00\x01", 3) == 0);
}

Test(httpd, if_none_match_with_the_etag_is_a_304)
{
    struct http_resp r;
    char hdr[1100];

    connect_client();
    redis_do("OK", "SET k hello");
    get("/k", &r);
    snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", http_field(&r, "ETag"));
    request("GET", "/k", hdr, "", &r);
    http_expect(&r, "HTTP/1.1 304 Not Modified", "");
    cr_expect_null(http_field(&r, "Content-Length"));
    request("GET", "/k", "If-None-Match: \"0000000000000000\"\r\n", "", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "hello");
}

Test(httpd, a_missing_key_is_a_404_and_wrongtype_a_409)
{
    struct http_resp r;

    connect_client();
    redis_do(NULL, "RPUSH list a");
    get("/nokey", &r);
    http_expect(&r, "HTTP/1.1 404 Not Found", "not found\n");
    http_expect_field(&r, "Cache-Control", "no-store");
    get("/list", &r);
    http_expect(&r, "HTTP/1.1 409 Conflict",
                "WRONGTYPE Operation against a key holding the wrong kind of "
                "value\n");
    cr_expect_eq(atomic_load(&live.px.metrics.requests[METRICS_HTTP][2]), 2);
}

Test(httpd, other_methods_are_405_with_allow)
{
    struct http_resp r;

    connect_client();
    request("POST", "/k", "", "x", &r);
    http_expect(&r, "HTTP/1.1 405 Method Not Allowed", "method not allowed\n");
    http_expect_field(&r, "Allow", "GET, HEAD");
    request("PUT", "/k", "", "v", &r);
    http_expect(&r, "HTTP/1.1 405 Method Not Allowed", "method not allowed\n");
    request("DELETE", "/k", "", "", &r);
    cr_expect_eq(r.status, 405);
    cr_expect_eq(redis_calls("set") + redis_calls("del"), 0);
}

Test(httpd, with_writes_on_put_and_delete_go_to_redis)
{
    struct http_resp r;

    live.cfg.http_writes = 1;
    connect_client();
    redis_do("OK", "SET k old");
    get("/k", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "old"); /* cached */
    request("PUT", "/k", "", "new", &r);
    http_expect(&r, "HTTP/1.1 204 No Content", "");
    cr_expect_null(http_field(&r, "Content-Length"));
    get("/k", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "new");
    http_expect_field(&r, "X-Cache", "MISS"); /* the entry went first */
    redis_do("new", "GET k");
    request("DELETE", "/k", "", "", &r);
    http_expect(&r, "HTTP/1.1 204 No Content", "");
    request("DELETE", "/k", "", "", &r);
    http_expect(&r, "HTTP/1.1 404 Not Found", "not found\n");
    get("/k", &r);
    cr_expect_eq(r.status, 404);
    request("POST", "/k", "", "", &r);
    http_expect_field(&r, "Allow", "GET, HEAD, PUT, DELETE");
}

Test(httpd, put_takes_an_expiry_in_seconds)
{
    struct http_resp r;
    redisReply *ttl;

    live.cfg.http_writes = 1;
    connect_client();
    request("PUT", "/k?ex=100", "", "v", &r);
    http_expect(&r, "HTTP/1.1 204 No Content", "");
    ttl = redisCommand(live.redis.ctx, "TTL k");
    cr_assert_not_null(ttl);
    cr_expect(ttl->integer > 90 && ttl->integer <= 100, "TTL %lld",
              ttl->integer);
    freeReplyObject(ttl);
    request("PUT", "/k?ex=soon", "", "v", &r);
    http_expect(&r, "HTTP/1.1 400 Bad Request",
                "ex must be a positive number of seconds\n");
    request("PUT", "/k?ex=0", "", "v", &r);
    cr_expect_eq(r.status, 400);
    request("PUT", "/wrong?ex=1", "", "", &r);
    http_expect(&r, "HTTP/1.1 204 No Content", ""); /* an empty value */
}

Test(httpd, keys_are_percent_decoded)
{
    struct http_resp r;

    connect_client();
    redis_do("OK", "SET %s %s", "a b/c", "spaced");
    get("/a%20b%2Fc", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "spaced");
    get("/a%zz", &r);
    http_expect(&r, "HTTP/1.1 400 Bad Request",
                "bad percent-encoding in key\n");
    http_expect_field(&r, "Connection", "close");
    client_expect_eof(live.fd);
    close(live.fd);
    live.fd = live_client(PROXY_HTTP);
    get("/", &r);
    http_expect(&r, "HTTP/1.1 400 Bad Request", "empty key\n");
}

Test(httpd, without_a_password_a_foreign_host_is_a_421)
{
    struct http_resp r;

    connect_client();
    client_send(live.fd, "GET /k HTTP/1.1\r\nHost: evil.example\r\n\r\n");
    http_read_resp(live.fd, &r, 0);
    http_expect(&r, "HTTP/1.1 421 Misdirected Request",
                "this proxy does not answer for that Host\n");
    cr_expect_eq(redis_calls("get"), 0);
    get("/k", &r); /* the conn goes on */
    http_expect(&r, "HTTP/1.1 404 Not Found", "not found\n");
}

Test(httpd, with_a_password_a_request_without_it_is_a_401)
{
    struct http_resp r;

    snprintf(live.cfg.server_password, sizeof(live.cfg.server_password), "pw");
    connect_client();
    redis_do("OK", "SET k v");
    request("GET", "/k", "Authorization: Bearer pw\r\n", "", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "v");
    get("/k", &r);
    http_expect(&r, "HTTP/1.1 401 Unauthorized", "authentication required\n");
    http_expect_field(&r, "WWW-Authenticate", "Basic realm=\"redis-proxy\"");
    cr_expect_eq(atomic_load(&live.px.metrics.auth_failures[METRICS_HTTP]), 1);
}

Test(httpd, redis_down_is_a_503_to_retry)
{
    struct http_resp r;

    connect_client();
    unit_redis_stop(&live.redis);
    get("/k", &r);
    cr_expect_eq(r.status, 503);
    http_expect_field(&r, "Retry-After", "1");
    cr_expect(r.body_len > 19 &&
                  memcmp(r.body, "connect to 127.0.0.1", 20) == 0,
              "'%.*s'", (int)r.body_len, r.body);
}

Test(httpd, pipelined_misses_on_one_conn_are_answered_in_order)
{
    struct http_resp r;

    connect_client();
    redis_do("OK", "SET a 1");
    redis_do("OK", "SET b 22");
    client_send(live.fd, "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n"
                         "GET /nokey HTTP/1.1\r\nHost: localhost\r\n\r\n"
                         "GET /b HTTP/1.1\r\nHost: localhost\r\n\r\n"
                         "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n");
    http_read_resp(live.fd, &r, 0);
    http_expect(&r, "HTTP/1.1 200 OK", "1");
    http_read_resp(live.fd, &r, 0);
    http_expect(&r, "HTTP/1.1 404 Not Found", "not found\n");
    http_read_resp(live.fd, &r, 0);
    http_expect(&r, "HTTP/1.1 200 OK", "22");
    http_read_resp(live.fd, &r, 0);
    http_expect(&r, "HTTP/1.1 200 OK", "1");
    http_expect_field(&r, "X-Cache", "HIT");
}
