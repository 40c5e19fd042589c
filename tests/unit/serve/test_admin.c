/*
 * Unit tests of serve/admin, the admin port's routes, through its
 * conn_ops on a whole proxy in front of a redis-server of the test's own
 * (live_helpers.h), a client on a socketpair reading each response:
 * /healthz, /readyz (ready with one line per node; 503 with the reason
 * when Redis does not answer its PING or the invalidation stream is
 * down), /metrics and /stats.json (their types, their rows, a valid JSON
 * document), the dashboard and its framing headers, /key/ answered as
 * the data port answers, 404 and 405, HEAD, and the credentials and Host
 * rules, which the probes are spared. Admin requests count under the
 * admin listener.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "serve/admin.h"

#include "json_helpers.h"
#include "live_helpers.h"

TestSuite(admin, .init = live_defaults, .fini = live_down, .timeout = 30);

/* Sends "METHOD path" with the extra header lines (Host: localhost unless
 * they name one) on the admin port and reads the response. */
static void
ask(const char *method, const char *path, const char *extra,
    struct http_resp *r)
{
    char req[2048];

    if (!live.up) {
        live_up();
    }
    if (live.fd < 0) {
        live.fd = live_client(PROXY_ADMIN);
    }
    snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\n%s%s\r\n", method, path,
             strstr(extra, "Host:") != NULL ? "" : "Host: localhost\r\n",
             extra);
    client_send(live.fd, req);
    http_read_resp(live.fd, r, strcmp(method, "HEAD") == 0);
}

static void
get(const char *path, struct http_resp *r)
{
    ask("GET", path, "", r);
}

Test(admin, healthz_answers_ok)
{
    struct http_resp r;

    get("/healthz", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "ok\n");
    http_expect_field(&r, "Cache-Control", "no-store");
    cr_expect_eq(atomic_load(&live.px.metrics.requests[METRICS_ADMIN][0]), 1);
    cr_expect_eq(atomic_load(&live.px.metrics.requests[METRICS_HTTP][0]), 0);
}

Test(admin, readyz_is_ready_when_redis_answers_with_a_line_per_node)
{
    struct http_resp r;
    char want[256];

    get("/readyz", &r);
    http_expect(&r, "HTTP/1.1 200 OK", NULL);
    snprintf(want, sizeof(want),
             "ready\nnode 127.0.0.1:%d master slots=16384 (0-16383) "
             "stream=up pool=",
             live.redis.port);
    cr_expect(r.body_len > strlen(want) &&
                  memcmp(r.body, want, strlen(want)) == 0,
              "'%.*s'", (int)r.body_len, r.body);
    cr_expect_eq(r.body[r.body_len - 1], '\n');
    cr_expect_geq(redis_calls("ping"), 1, "the probe asked Redis");
}

Test(admin, readyz_is_503_when_redis_does_not_answer)
{
    struct http_resp r;
    const char *want = "redis not answering: ";

    live.cfg.cache_tracking = 0; /* the PING decides */
    live_up();
    unit_redis_stop(&live.redis);
    get("/readyz", &r);
    http_expect(&r, "HTTP/1.1 503 Service Unavailable", NULL);
    cr_expect(r.body_len > strlen(want) &&
                  memcmp(r.body, want, strlen(want)) == 0,
              "'%.*s'", (int)r.body_len, r.body);
    cr_expect_not_null(memmem(r.body, r.body_len, "stream=off", 10));
}

Test(admin, readyz_is_503_while_the_invalidation_stream_is_down)
{
    struct http_resp r;
    const char *want = "invalidation stream down: ";
    int64_t until;

    live_up();
    unit_redis_stop(&live.redis);
    until = util_now_ms() + CLIENT_WAIT_MS;
    do {
        get("/readyz", &r);
        cr_assert_eq(r.status, 503);
    } while (memcmp(r.body, want, strlen(want)) != 0 && util_now_ms() < until &&
             (sleep_ms(20), 1));
    cr_expect_eq(memcmp(r.body, want, strlen(want)), 0, "'%.*s'",
                 (int)r.body_len, r.body);
    cr_expect_not_null(memmem(r.body, r.body_len, "stream=down", 11));
}

Test(admin, metrics_is_prometheus_text_of_the_proxys_figures)
{
    struct http_resp r;

    get("/healthz", &r);
    get("/metrics", &r);
    http_expect(&r, "HTTP/1.1 200 OK", NULL);
    http_expect_field(&r, "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    r.body[r.body_len < sizeof(r.body) ? r.body_len : sizeof(r.body) - 1] =
        '\0';
    cr_expect_eq(strncmp(r.body, "# HELP redis_proxy_requests_total ", 34), 0);
    cr_expect_not_null(strstr(r.body, "\nredis_proxy_requests_total{listener="
                                      "\"admin\",class=\"2xx\"} 1\n"),
                       "the /healthz before it");
    cr_expect_not_null(strstr(r.body, "\nredis_proxy_workers 2\n"));
    cr_expect_not_null(strstr(r.body, "\nredis_proxy_tracking_state 2\n"));
}

Test(admin, stats_json_is_one_valid_document)
{
    struct http_resp r;
    long bad;

    get("/stats.json", &r);
    http_expect(&r, "HTTP/1.1 200 OK", NULL);
    http_expect_field(&r, "Content-Type", "application/json");
    bad = json_check(r.body, r.body_len);
    cr_expect_eq(bad, -1, "invalid JSON at %ld", bad);
    cr_expect_eq(strncmp(r.body, "{\"version\":\"" PROXY_VERSION "\"", 16), 0);
}

Test(admin, the_dashboard_is_served_and_never_framed)
{
    struct http_resp r;

    get("/", &r);
    http_expect(&r, "HTTP/1.1 200 OK", NULL);
    http_expect_field(&r, "Content-Type", "text/html; charset=utf-8");
    http_expect_field(&r, "X-Frame-Options", "DENY");
    http_expect_field(&r, "Content-Security-Policy", "frame-ancestors 'none'");
    cr_expect_eq(r.body_len, admin_dashboard_html_len);
    cr_expect_eq(memcmp(r.body, admin_dashboard_html, r.body_len), 0);
}

Test(admin, key_routes_answer_as_the_data_port)
{
    struct http_resp r;

    live_up();
    redis_do("OK", "SET k v");
    get("/key/k", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "v");
    http_expect_field(&r, "X-Cache", "MISS");
    get("/key/k", &r);
    http_expect_field(&r, "X-Cache", "HIT");
    get("/key/nokey", &r);
    http_expect(&r, "HTTP/1.1 404 Not Found", "not found\n");
    ask("PUT", "/key/k", "Content-Length: 1\r\n\r\nx", &r);
    http_expect(&r, "HTTP/1.1 405 Method Not Allowed", "method not allowed\n");
    cr_expect_eq(atomic_load(&live.px.metrics.requests[METRICS_ADMIN][0]), 2);
    cr_expect_eq(atomic_load(&live.px.metrics.requests[METRICS_HTTP][0]), 0);
}

Test(admin, other_paths_are_404_and_other_methods_405)
{
    struct http_resp r;

    get("/nope", &r);
    http_expect(&r, "HTTP/1.1 404 Not Found", "not found\n");
    ask("POST", "/metrics", "Content-Length: 0\r\n", &r);
    http_expect(&r, "HTTP/1.1 405 Method Not Allowed", "method not allowed\n");
    http_expect_field(&r, "Allow", "GET, HEAD");
    ask("HEAD", "/healthz", "", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "");
    http_expect_field(&r, "Content-Length", "3");
    get("/healthz", &r); /* nothing of HEAD's body came before it */
    http_expect(&r, "HTTP/1.1 200 OK", "ok\n");
}

Test(admin, with_a_password_only_the_probes_are_open)
{
    struct http_resp r;

    snprintf(live.cfg.server_password, sizeof(live.cfg.server_password), "pw");
    get("/metrics", &r);
    http_expect(&r, "HTTP/1.1 401 Unauthorized", "authentication required\n");
    http_expect_field(&r, "WWW-Authenticate", "Basic realm=\"redis-proxy\"");
    get("/key/k", &r);
    cr_expect_eq(r.status, 401);
    get("/healthz", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "ok\n");
    get("/readyz", &r);
    cr_expect_eq(r.status, 200);
    ask("GET", "/metrics", "Authorization: Basic dTpwdw==\r\n", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(atomic_load(&live.px.metrics.auth_failures[METRICS_ADMIN]), 2);
}

Test(admin, without_a_password_a_foreign_host_is_refused_but_probes_pass)
{
    struct http_resp r;

    ask("GET", "/metrics", "Host: evil.example\r\n", &r);
    http_expect(&r, "HTTP/1.1 421 Misdirected Request",
                "this proxy does not answer for that Host\n");
    ask("GET", "/healthz", "Host: evil.example\r\n", &r);
    http_expect(&r, "HTTP/1.1 200 OK", "ok\n");
}
