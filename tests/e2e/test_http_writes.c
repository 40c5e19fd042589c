/*
 * End-to-end tests of HTTP writes ([http] writes = on): PUT /<key> is SET
 * (?ex=SECONDS an expiry), DELETE /<key> is DEL, answered 204 (DELETE of a
 * missing key 404) after the cache entry is gone, so a GET right after
 * reads the write; what Redis holds is checked directly. Bad ex, bodies
 * over max_body, authentication; with writes off both are 405 and Allow
 * lists exactly what is accepted. The admin port's /key/<key> answers as
 * the data port does.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define IO_MS 3000

H_PAIR_SUITE(http_writes, 30);

static const char writes_on[] = "[http]\nwrites = on\n";

/* One request on fd (body NULL: none); fails the test without an answer. */
static void
req(int fd, const char *method, const char *path, const char *extra,
    const char *body, struct h_resp *r)
{
    cr_assert_eq(h_http_do(fd, method, path, extra, body,
                           body != NULL ? strlen(body) : 0, r, IO_MS),
                 0, "%s %s: no response", method, path);
}

/* GET key directly from Redis into out; 1 found, 0 not. */
static int
redis_get(const char *key, char *out, size_t cap)
{
    redisContext *c = h_redis_ctx(&redis);
    int rc;

    cr_assert_not_null(c);
    rc = h_resp_get(c, key, out, cap);
    redisFree(c);
    cr_assert_geq(rc, 0, "GET %s: %s", key, out);
    return rc;
}

static long long
redis_ttl(const char *key)
{
    redisContext *c = h_redis_ctx(&redis);
    redisReply *r;
    long long ttl;

    cr_assert_not_null(c);
    r = redisCommand(c, "TTL %s", key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    ttl = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return ttl;
}

/* ---- writes on ---- */

Test(http_writes, put_stores_the_body_in_redis_and_get_returns_it)
{
    static const char bin[] = "a\0b\r\n\xff";
    struct h_resp r = {0};
    char got[64];
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = writes_on));
    fd = h_conn(proxy.http_port);
    req(fd, "PUT", "/k", NULL, "hello world", &r);
    h_check(&r, "PUT /k", 204, NULL, NULL);
    cr_assert_str_eq(h_hdr(&r, "Content-Length"), "(none)");
    h_resp_free(&r);
    cr_assert_eq(redis_get("k", got, sizeof(got)), 1);
    cr_assert_str_eq(got, "hello world");
    cr_assert_eq(redis_ttl("k"), -1, "no expiry asked for");
    req(fd, "GET", "/k", NULL, NULL, &r);
    h_check(&r, "GET /k", 200, "hello world", "MISS");
    h_resp_free(&r);

    /* binary body, percent-encoded key, an empty value */
    cr_assert_eq(
        h_http_do(fd, "PUT", "/a%2Fb", NULL, bin, sizeof(bin) - 1, &r, IO_MS),
        0);
    h_check(&r, "PUT /a%2Fb", 204, NULL, NULL);
    h_resp_free(&r);
    req(fd, "GET", "/a/b", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(r.body_len == sizeof(bin) - 1 &&
              memcmp(r.body, bin, r.body_len) == 0);
    h_resp_free(&r);
    req(fd, "PUT", "/empty", NULL, "", &r);
    h_check(&r, "PUT /empty", 204, NULL, NULL);
    h_resp_free(&r);
    req(fd, "GET", "/empty", NULL, NULL, &r);
    h_check(&r, "GET /empty", 200, "", NULL);
    h_resp_free(&r);
    cr_assert_eq(h_redis_calls(&redis, "set"), 3);
    close(fd);
}

Test(http_writes, put_with_ex_sets_an_expiry_in_redis)
{
    struct h_resp r = {0};
    long long ttl;
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = writes_on));
    fd = h_conn(proxy.http_port);
    req(fd, "PUT", "/e?ex=5", NULL, "soon gone", &r);
    h_check(&r, "PUT /e?ex=5", 204, NULL, NULL);
    h_resp_free(&r);
    ttl = redis_ttl("e");
    cr_assert(ttl >= 1 && ttl <= 5, "TTL %lld", ttl);
    req(fd, "PUT", "/e2?x=1&ex=100", NULL, "v", &r);
    h_check(&r, "PUT /e2?x=1&ex=100", 204, NULL, NULL);
    h_resp_free(&r);
    ttl = redis_ttl("e2");
    cr_assert(ttl >= 96 && ttl <= 100, "TTL %lld", ttl);
    close(fd);
}

Test(http_writes, bad_ex_is_400_and_writes_nothing)
{
    static const char *const bad[] = {
        "/b?ex=abc", "/b?ex=0",   "/b?ex=-1",
        "/b?ex=5s",  "/b?ex=1.5", "/b?ex=99999999999999999999",
        "/b?ex=",
    };
    struct h_resp r = {0};

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = writes_on));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int fd = h_conn(proxy.http_port);

        req(fd, "PUT", bad[i], NULL, "v", &r);
        h_check(&r, bad[i], 400, NULL, NULL);
        h_resp_free(&r);
        close(fd);
    }
    cr_assert_eq(h_redis_calls(&redis, "set"), 0);
}

Test(http_writes, delete_removes_the_key_and_a_missing_key_is_404)
{
    struct h_resp r = {0};
    char got[64];
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = writes_on));
    h_set(&redis, "d", "doomed");
    fd = h_conn(proxy.http_port);
    req(fd, "DELETE", "/d", NULL, NULL, &r);
    h_check(&r, "DELETE /d", 204, NULL, NULL);
    h_resp_free(&r);
    cr_assert_eq(redis_get("d", got, sizeof(got)), 0);
    req(fd, "GET", "/d", NULL, NULL, &r);
    h_check(&r, "GET /d", 404, NULL, NULL);
    h_resp_free(&r);
    req(fd, "DELETE", "/d", NULL, NULL, &r);
    h_check(&r, "DELETE /d again", 404, NULL, NULL);
    h_resp_free(&r);
    req(fd, "DELETE", "/never", NULL, NULL, &r);
    h_check(&r, "DELETE /never", 404, NULL, NULL);
    h_resp_free(&r);
    cr_assert_eq(h_redis_calls(&redis, "del"), 3);
    close(fd);
}

Test(http_writes, put_over_max_body_is_413_and_closes)
{
    char head[256], body[1025];
    struct h_resp r = {0};
    int fd, n;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[http]\nwrites = on\nmax_body = 1kb\n"));
    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    fd = h_conn(proxy.http_port);
    req(fd, "PUT", "/fits", NULL, body, &r); /* exactly 1 KiB */
    h_check(&r, "PUT of 1024 bytes", 204, NULL, NULL);
    h_resp_free(&r);

    /* one byte more: refused on the head alone */
    n = snprintf(
        head, sizeof(head),
        "PUT /big HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1025\r\n\r\n");
    cr_assert_eq(h_send(fd, head, (size_t)n), 0);
    cr_assert_eq(h_read_resp(fd, &r, 0, IO_MS), 0, "no answer to the PUT");
    h_check(&r, "PUT of 1025 bytes", 413, NULL, NULL);
    h_resp_free(&r);
    cr_assert_eq(h_wait_closed(fd, 2000), 1, "413 must close");
    close(fd);
    cr_assert_eq(h_redis_calls(&redis, "set"), 1);
}

Test(http_writes, writes_need_the_password_when_one_is_set)
{
    struct h_resp r = {0};
    char got[64];
    int fd;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\npassword = secret\n[http]\n"
                                "writes = on\n"));
    h_set(&redis, "keep", "kept");
    fd = h_conn(proxy.http_port);
    req(fd, "PUT", "/p", NULL, "v", &r);
    h_check(&r, "PUT without credentials", 401, NULL, NULL);
    cr_assert_str_eq(h_hdr(&r, "WWW-Authenticate"),
                     "Basic realm=\"redis-proxy\"");
    h_resp_free(&r);
    req(fd, "DELETE", "/keep", "Authorization: Bearer wrong\r\n", NULL, &r);
    h_check(&r, "DELETE with a wrong password", 401, NULL, NULL);
    h_resp_free(&r);
    cr_assert_eq(h_redis_calls(&redis, "set"), 1); /* the test's own */
    cr_assert_eq(h_redis_calls(&redis, "del"), 0);

    req(fd, "PUT", "/p", "Authorization: Bearer secret\r\n", "v", &r);
    h_check(&r, "PUT with Bearer", 204, NULL, NULL);
    h_resp_free(&r);
    /* Basic, any user: "u:secret" */
    req(fd, "DELETE", "/keep", "Authorization: Basic dTpzZWNyZXQ=\r\n", NULL,
        &r);
    h_check(&r, "DELETE with Basic", 204, NULL, NULL);
    h_resp_free(&r);
    cr_assert_eq(redis_get("p", got, sizeof(got)), 1);
    cr_assert_eq(redis_get("keep", got, sizeof(got)), 0);
    close(fd);
}

/* Tracking off: only the write's own invalidation can drop the entry. */
Test(http_writes, put_and_delete_drop_the_cached_entry_before_answering)
{
    struct h_resp r = {0};
    redisContext *rc;
    char got[64];
    int fd;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "[http]\nwrites = on\n"));
    h_cache_key(&redis, proxy.http_port, "c", "v1");
    fd = h_conn(proxy.http_port);
    rc = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(rc);
    req(fd, "PUT", "/c", NULL, "v2", &r);
    h_check(&r, "PUT /c", 204, NULL, NULL);
    h_resp_free(&r);
    req(fd, "GET", "/c", NULL, NULL, &r);
    h_check(&r, "GET /c after PUT", 200, "v2", "MISS");
    h_resp_free(&r);
    req(fd, "GET", "/c", NULL, NULL, &r);
    h_check(&r, "GET /c again", 200, "v2", "HIT");
    h_resp_free(&r);
    cr_assert_eq(h_resp_get(rc, "c", got, sizeof(got)), 1);
    cr_assert_str_eq(got, "v2");

    req(fd, "DELETE", "/c", NULL, NULL, &r);
    h_check(&r, "DELETE /c", 204, NULL, NULL);
    h_resp_free(&r);
    req(fd, "GET", "/c", NULL, NULL, &r);
    h_check(&r, "GET /c after DELETE", 404, NULL, NULL);
    h_resp_free(&r);
    cr_assert_eq(h_resp_get(rc, "c", got, sizeof(got)), 0);
    redisFree(rc);
    close(fd);
}

Test(http_writes, allow_lists_put_and_delete_when_writes_are_on)
{
    static const char *const methods[] = {"POST", "PATCH", "OPTIONS"};
    struct h_resp r = {0};
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = writes_on));
    fd = h_conn(proxy.http_port);
    for (size_t i = 0; i < 3; i++) {
        req(fd, methods[i], "/k", NULL, NULL, &r);
        h_check(&r, methods[i], 405, NULL, NULL);
        cr_assert_str_eq(h_hdr(&r, "Allow"), "GET, HEAD, PUT, DELETE");
        h_resp_free(&r);
    }
    close(fd);
}

/* ---- writes off (the default) ---- */

Test(http_writes, put_and_delete_are_405_when_writes_are_off)
{
    static const char *const methods[] = {"PUT", "DELETE", "POST"};
    struct h_resp r = {0};
    char got[64];
    int fd;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k", "v");
    fd = h_conn(proxy.http_port);
    for (size_t i = 0; i < 3; i++) {
        req(fd, methods[i], "/k", NULL, i == 1 ? NULL : "new", &r);
        h_check(&r, methods[i], 405, NULL, NULL);
        cr_assert_str_eq(h_hdr(&r, "Allow"), "GET, HEAD");
        h_resp_free(&r);
    }
    /* the body was read past: the connection goes on */
    req(fd, "GET", "/k", NULL, NULL, &r);
    h_check(&r, "GET /k", 200, "v", NULL);
    h_resp_free(&r);
    cr_assert_eq(redis_get("k", got, sizeof(got)), 1);
    cr_assert_str_eq(got, "v");
    cr_assert_eq(h_redis_calls(&redis, "set"), 1); /* the test's own */
    cr_assert_eq(h_redis_calls(&redis, "del"), 0);
    close(fd);
}

/* ---- the admin port's /key/<key> ---- */

Test(http_writes, admin_key_route_reads_like_the_data_port_and_writes)
{
    struct h_resp r = {0};
    char got[64];
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = writes_on, .admin = 1));
    h_set(&redis, "ak", "admin value");
    fd = h_conn(proxy.admin_port);
    req(fd, "GET", "/key/ak", NULL, NULL, &r);
    h_check(&r, "admin GET /key/ak", 200, "admin value", "MISS");
    h_resp_free(&r);
    h_expect_get(proxy.http_port, "/ak", 200, "admin value", "HIT");
    req(fd, "GET", "/key/nothing", NULL, NULL, &r);
    h_check(&r, "admin GET /key/nothing", 404, NULL, NULL);
    h_resp_free(&r);

    req(fd, "PUT", "/key/ak", NULL, "changed", &r);
    h_check(&r, "admin PUT /key/ak", 204, NULL, NULL);
    h_resp_free(&r);
    cr_assert_eq(redis_get("ak", got, sizeof(got)), 1);
    cr_assert_str_eq(got, "changed");
    h_expect_get(proxy.http_port, "/ak", 200, "changed", "MISS");
    req(fd, "DELETE", "/key/ak", NULL, NULL, &r);
    h_check(&r, "admin DELETE /key/ak", 204, NULL, NULL);
    h_resp_free(&r);
    h_expect_get(proxy.http_port, "/ak", 404, NULL, NULL);
    req(fd, "POST", "/key/ak", NULL, NULL, &r);
    h_check(&r, "admin POST /key/ak", 405, NULL, NULL);
    cr_assert_str_eq(h_hdr(&r, "Allow"), "GET, HEAD, PUT, DELETE");
    h_resp_free(&r);
    close(fd);
}

Test(http_writes, admin_key_route_refuses_writes_when_they_are_off)
{
    struct h_resp r = {0};
    char got[64];
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    h_set(&redis, "ak", "v");
    fd = h_conn(proxy.admin_port);
    req(fd, "GET", "/key/ak", NULL, NULL, &r);
    h_check(&r, "admin GET /key/ak", 200, "v", "MISS");
    h_resp_free(&r);
    req(fd, "PUT", "/key/ak", NULL, "x", &r);
    h_check(&r, "admin PUT", 405, NULL, NULL);
    cr_assert_str_eq(h_hdr(&r, "Allow"), "GET, HEAD");
    h_resp_free(&r);
    req(fd, "DELETE", "/key/ak", NULL, NULL, &r);
    h_check(&r, "admin DELETE", 405, NULL, NULL);
    h_resp_free(&r);
    cr_assert_eq(redis_get("ak", got, sizeof(got)), 1);
    cr_assert_str_eq(got, "v");
    close(fd);
}
