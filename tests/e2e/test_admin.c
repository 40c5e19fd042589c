/*
 * End-to-end tests of the admin listener: its routes (/healthz, /readyz,
 * /metrics, /stats.json, the dashboard), the Prometheus text it exposes
 * (checked by the harness's validator of the exposition format), counters that
 * move exactly with the traffic that drives them, readiness following Redis
 * going away and coming back, scrapes that are not stalled by a slow Redis,
 * and the admin port's separate connection budget. Each test starts its own
 * redis-server (fixture) and a proxy with [admin] port on a free port.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define P "redis_proxy_"

H_PAIR_SUITE(admin, 30);

/* One-shot GET on port; asserts a response arrived. */
static void
get(int port, const char *path, struct h_resp *r)
{
    cr_assert_eq(h_http_get(port, path, r), 0, "GET %s on port %d", path, port);
}

#define EXPECT_METRIC(series, want)                                            \
    do {                                                                       \
        double got_ = h_await_metric(&proxy, series, want, 2000);              \
        cr_assert(got_ == (want), "%s = %g, want %g", series, got_,            \
                  (double)(want));                                             \
    } while (0)

/* ---- tests ---- */

Test(admin, routes_and_no_key_shadowing)
{
    struct h_resp r = {0};
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    fd = h_conn(proxy.admin_port);
    h_roundtrip(fd, H_REQ("/healthz"), &r, 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "ok\n");
    h_resp_free(&r);
    h_roundtrip(fd, "HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", &r, 1);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    /* A HEAD body would be read as the start of this response. */
    h_roundtrip(fd,
                "POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
                "0\r\n\r\n",
                &r, 0);
    cr_assert_eq(r.status, 405, "POST /metrics: %d", r.status);
    cr_assert_str_eq(h_hdr(&r, "Allow"), "GET, HEAD");
    h_resp_free(&r);
    h_roundtrip(fd, H_REQ("/nope"), &r, 0);
    cr_assert_eq(r.status, 404, "GET /nope: %d", r.status);
    h_resp_free(&r);
    close(fd);

    h_set(&redis, "metrics", "a value, not metrics");
    get(proxy.http_port, "/metrics", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "a value, not metrics");
    h_resp_free(&r);
    get(proxy.admin_port, "/metrics", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(h_hdr(&r, "Content-Type"),
                     "text/plain; version=0.0.4; charset=utf-8");
    cr_assert(strncmp(r.body, "# HELP ", 7) == 0, "not Prometheus text: %.60s",
              r.body);
    h_resp_free(&r);
}

Test(admin, validators_reject_malformed_text)
{
    static const char *const bad[] = {
        "# HELP a_total x\n# TYPE a_total counter\na_total 1", /* no \n */
        "a_total 1\n",                                         /* no HELP */
        "# TYPE a_total counter\na_total 1\n",                 /* no HELP */
        "# HELP a x\n# TYPE a counter\na 1\n",           /* counter name */
        "# HELP a x\n# TYPE a gauge\na x1\n",            /* value */
        "# HELP a x\n# TYPE a gauge\n1a 1\n",            /* name */
        "# HELP a x\n# TYPE a gauge\na{l=1} 1\n",        /* label quotes */
        "# HELP a x\n# TYPE a gauge\na{l=\"1\" 1\n",     /* label close */
        "# HELP a x\n# HELP a x\n# TYPE a gauge\na 1\n", /* two HELPs */
        "# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\n"
        "a 2\n", /* sample outside its block */
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
        "h_bucket{le=\"0.5\"} 2\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\n"
        "h_count 2\n", /* le decreasing */
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", /* counts decrease */
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
        "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", /* +Inf != count */
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
        "h_sum 1\nh_count 1\n", /* no +Inf */
        "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n"
        "h_count 1\n", /* no _sum */
    };
    const char *good = "# HELP a_total x y\n# TYPE a_total counter\n"
                       "a_total{l=\"v\\\"\",m=\"2\"} 3\n# HELP h x\n"
                       "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\n"
                       "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                       "h_sum 1.5\nh_count 2\n";
    static const char *const bad_json[] = {
        "{\"a\":1", "{\"a\":1}}",      "{\"a\":\"x}", "{\"a\":1} x",
        "[1,2}",    "{\"a\":\"\\q\"}", "{\"a\":NaN}", "",
    };
    char err[512];
    size_t i;

    cr_assert_eq(h_prom_validate(good, err, sizeof(err)), 0,
                 "good text rejected: %s", err);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(h_prom_validate(bad[i], err, sizeof(err)), -1,
                     "bad text %zu accepted: %s", i, bad[i]);
    }
    cr_assert_eq(h_json_check("{\"a\":[1,-2.5e3,true,null,\"\\u00e9\"]}\n"), 0);
    for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        cr_assert_eq(h_json_check(bad_json[i]), -1, "bad JSON accepted: %s",
                     bad_json[i]);
    }
}

Test(admin, metrics_are_valid_exposition_with_every_family)
{
    /* "name type" of the families dashboards and alerts rely on */
    static const char *const families[] = {
        "requests_total counter",
        "cache_hits_total counter",
        "cache_misses_total counter",
        "cache_stale_total counter",
        "cache_evictions_total counter",
        "cache_expirations_total counter",
        "cache_invalidations_total counter",
        "cache_entries gauge",
        "cache_bytes gauge",
        "connections_open gauge",
        "connections_rejected_total counter",
        "workq_depth gauge",
        "workers_busy gauge",
        "redis_pool_size gauge",
        "redis_pool_in_use gauge",
        "redis_errors_total counter",
        "redis_reconnects_total counter",
        "hit_latency_seconds histogram",
        "miss_latency_seconds histogram",
    };
    static const char *const listeners[] = {"http", "resp", "admin"};
    static const char *const classes[] = {"2xx", "3xx", "4xx", "5xx"};
    struct h_resp r = {0};
    char *text, want[256];
    size_t i, j;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    h_set(&redis, "k", "v");
    get(proxy.http_port, "/k", &r); /* fill the histograms */
    h_resp_free(&r);
    text = h_scrape(&proxy);
    for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        snprintf(want, sizeof(want), "\n# TYPE " P "%s\n", families[i]);
        cr_assert_not_null(strstr(text, want), "missing: %s", want + 1);
    }
    for (i = 0; i < 3; i++) {
        for (j = 0; j < 4; j++) {
            snprintf(want, sizeof(want),
                     P "requests_total{listener=\"%s\",class=\"%s\"}",
                     listeners[i], classes[j]);
            cr_assert(!isnan(h_prom_value(text, want)), "missing %s", want);
        }
    }
    cr_assert(!isnan(h_prom_value(text, P "hit_latency_seconds_sum")));
    cr_assert(!isnan(h_prom_value(text, P "miss_latency_seconds_sum")));
    cr_assert(!isnan(
        h_prom_value(text, P "miss_latency_seconds_bucket{le=\"+Inf\"}")));
    free(text);
}

Test(admin, counters_move_exactly_with_requests)
{
    struct h_resp r = {0};
    redisContext *rc;
    char val[16];
    int fd, i;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY, .admin = 1));
    h_set(&redis, "k", "v1");
    fd = h_conn(proxy.http_port);
    for (i = 0; i < 4; i++) {
        h_roundtrip(fd, H_REQ("/k"), &r, 0);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(h_hdr(&r, "X-Cache"), i == 0 ? "MISS" : "HIT");
        h_resp_free(&r);
    }
    close(fd);
    rc = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(rc);
    cr_assert_eq(h_resp_get(rc, "k", val, sizeof(val)), 1);
    cr_assert_str_eq(val, "v1");
    redisFree(rc);
    EXPECT_METRIC(P "requests_total{listener=\"http\",class=\"2xx\"}", 4);
    EXPECT_METRIC(P "requests_total{listener=\"resp\",class=\"2xx\"}", 1);
    EXPECT_METRIC(P "cache_hits_total", 4);
    EXPECT_METRIC(P "cache_misses_total", 1);
    EXPECT_METRIC(P "hit_latency_seconds_count", 4);
    EXPECT_METRIC(P "miss_latency_seconds_count", 1);
    EXPECT_METRIC(P "requests_total{listener=\"http\",class=\"4xx\"}", 0);

    get(proxy.http_port, "/absent", &r);
    cr_assert_eq(r.status, 404);
    h_resp_free(&r);
    EXPECT_METRIC(P "requests_total{listener=\"http\",class=\"4xx\"}", 1);
    EXPECT_METRIC(P "requests_total{listener=\"http\",class=\"2xx\"}", 4);
    EXPECT_METRIC(P "cache_hits_total", 4);
}

Test(admin, evictions_entries_and_bytes)
{
    struct h_resp r = {0};

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "capacity = 2\n", .admin = 1));
    h_set(&redis, "k1", "a");
    h_set(&redis, "key2", "bbbbbb");
    h_set(&redis, "k3", "cccccccccc");
    get(proxy.http_port, "/k1", &r);
    h_resp_free(&r);
    get(proxy.http_port, "/key2", &r);
    h_resp_free(&r);
    get(proxy.http_port, "/k3", &r);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    EXPECT_METRIC(P "cache_evictions_total{reason=\"capacity\"}", 1);
    EXPECT_METRIC(P "cache_evictions_total{reason=\"memory\"}", 0);
    EXPECT_METRIC(P "cache_entries", 2);
    /* key2 + bbbbbb + k3 + cccccccccc */
    EXPECT_METRIC(P "cache_bytes", 4 + 6 + 2 + 10);
}

Test(admin, rejected_connection_is_counted)
{
    struct h_resp r = {0};
    int fd, fd2;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nmax_clients = 1\n", .admin = 1));
    h_set(&redis, "k", "v");
    fd = h_conn(proxy.http_port);
    h_roundtrip(fd, H_REQ("/k"), &r, 0); /* fd surely holds the one slot */
    h_resp_free(&r);
    fd2 = h_conn(proxy.http_port);
    cr_assert_eq(h_read_resp(fd2, &r, 0, 3000), 0, "no 503");
    cr_assert_eq(r.status, 503);
    h_resp_free(&r);
    close(fd2);
    EXPECT_METRIC(P "connections_rejected_total", 1);
    EXPECT_METRIC(P "connections_open", 1);
    close(fd);
}

Test(admin, invalidation_is_counted)
{
    struct h_resp r = {0};
    int64_t deadline;
    double v = 0;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\ntracking = on\n", .admin = 1));
    h_set(&redis, "k", "v1");
    get(proxy.http_port, "/k", &r);
    cr_assert_str_eq(r.body, "v1");
    h_resp_free(&r);
    EXPECT_METRIC(P "cache_invalidations_total", 0);
    h_set(&redis, "k", "v2");
    deadline = h_now_ms() + 2000;
    while (h_now_ms() < deadline) {
        char *text = h_scrape(&proxy);

        v = h_prom_value(text, P "cache_invalidations_total");
        free(text);
        if (v >= 1) {
            break;
        }
        h_sleep_ms(20);
    }
    cr_assert_geq(v, 1, "cache_invalidations_total %g after SET", v);
    EXPECT_METRIC(P "cache_entries", 0);
}

Test(admin, stats_json_parses_and_agrees_with_metrics)
{
    static const char *const pairs[][2] = {
        {"\"cache_hits_total\":", P "cache_hits_total"},
        {"\"cache_misses_total\":", P "cache_misses_total"},
        {"\"cache_evictions_total\":{\"capacity\":",
         P "cache_evictions_total{reason=\"capacity\"}"},
        {"\"cache_entries\":", P "cache_entries"},
        {"\"cache_bytes\":", P "cache_bytes"},
        {"\"connections_rejected_total\":", P "connections_rejected_total"},
        {"\"http\":{\"2xx\":",
         P "requests_total{listener=\"http\",class=\"2xx\"}"},
        {"\"4xx\":", P "requests_total{listener=\"http\",class=\"4xx\"}"},
    };
    struct h_resp r = {0};
    char *text;
    size_t i;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "capacity = 1\n", .admin = 1));
    h_set(&redis, "a", "1");
    h_set(&redis, "b", "22");
    get(proxy.http_port, "/a", &r); /* miss */
    h_resp_free(&r);
    get(proxy.http_port, "/a", &r); /* hit */
    h_resp_free(&r);
    get(proxy.http_port, "/b", &r); /* miss, evicts a */
    h_resp_free(&r);
    get(proxy.http_port, "/nope", &r); /* 404 */
    h_resp_free(&r);
    EXPECT_METRIC(P "requests_total{listener=\"http\",class=\"4xx\"}", 1);
    text = h_scrape(&proxy);
    get(proxy.admin_port, "/stats.json", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(h_hdr(&r, "Content-Type"), "application/json");
    cr_assert_eq(h_json_check(r.body), 0, "/stats.json is not JSON: %s",
                 r.body);
    cr_assert_not_null(strstr(r.body, "\"cache_hits_total\":1,"), "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\"cache_misses_total\":3,"), "%s",
                       r.body);
    cr_assert_not_null(strstr(r.body, "\"cache_bytes\":3,"), "%s", r.body);
    for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        double m = h_prom_value(text, pairs[i][1]);
        double j = h_json_num(r.body, pairs[i][0]);

        cr_assert(!isnan(m) && m == j, "%s %g in JSON, %s %g in /metrics",
                  pairs[i][0], j, pairs[i][1], m);
    }
    h_resp_free(&r);
    free(text);
}

/* Both outputs come from one list: every family /metrics declares (its
 * "# TYPE" line) is a key of stats.json's "metrics" object. */
Test(admin, every_prometheus_family_is_in_stats_json)
{
    struct h_resp r = {0};
    char *text, *line, *save = NULL, want[160];
    int families = 0;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    text = h_scrape(&proxy);
    get(proxy.admin_port, "/stats.json", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, "\"metrics\":{"), "%s", r.body);
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char name[128];

        if (sscanf(line, "# TYPE redis_proxy_%127s", name) != 1) {
            continue;
        }
        families++;
        snprintf(want, sizeof(want), "\"%s\":", name);
        cr_expect_not_null(strstr(strstr(r.body, "\"metrics\":{"), want),
                           "family %s is missing from stats.json", name);
    }
    cr_assert_geq(families, 30, "only %d families in /metrics", families);
    h_resp_free(&r);
    free(text);
}

/* ---- /readyz ---- */

/* Polls GET /readyz until status want or timeout_ms; returns the last
 * status (the body is left in r, which the caller frees). */
static int
readyz_wait(int want, int timeout_ms, struct h_resp *r)
{
    int64_t deadline = h_now_ms() + timeout_ms;

    for (;;) {
        h_resp_free(r);
        if (h_http_get(proxy.admin_port, "/readyz", r) == 0 &&
            (r->status == want || h_now_ms() >= deadline)) {
            return r->status;
        }
        if (h_now_ms() >= deadline) {
            return -1;
        }
        h_sleep_ms(50);
    }
}

/* Ready: "ready", then the node's line. The 503 body must start with
 * reason (or alt, when not NULL) and go on to say why. */
static void
readiness_follows_redis(const char *extra, const char *reason, const char *alt)
{
    struct h_resp r = {0};
    char line[160];
    int port;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = extra, .admin = 1));
    cr_assert_eq(readyz_wait(200, 2000, &r), 200, "not ready at start: %s",
                 r.body);
    snprintf(line, sizeof(line),
             "ready\nnode 127.0.0.1:%d master slots=16384 (0-16383) stream=%s",
             redis.port, strstr(extra, "tracking = on") ? "up" : "off");
    cr_assert(strncmp(r.body, line, strlen(line)) == 0,
              "/readyz says '%s', not '%s...'", r.body, line);
    port = redis.port;
    h_redis_kill(&redis, 1);
    cr_assert_eq(readyz_wait(503, 3000, &r), 503,
                 "still ready 3 s after redis died");
    if (alt != NULL && strncmp(r.body, alt, strlen(alt)) == 0) {
        reason = alt;
    }
    cr_assert(strncmp(r.body, reason, strlen(reason)) == 0 &&
                  strlen(r.body) > strlen(reason) + 1,
              "503 body '%s' does not name the reason ('%s...')", r.body,
              reason);
    cr_assert_eq(h_redis_start(&redis, port, NULL), 0, "redis restart on %d",
                 port);
    cr_assert_eq(readyz_wait(200, 5000, &r), 200,
                 "not ready 5 s after redis came back: %s", r.body);
    h_resp_free(&r);
}

Test(admin, readyz_follows_redis_with_tracking)
{
    readiness_follows_redis(
        "[cache]\ntracking = on\n",
        "invalidation stream down: ", "redis not answering: ");
}

Test(admin, readyz_follows_redis_without_tracking)
{
    readiness_follows_redis(TTL_ONLY, "redis not answering: ", NULL);
}

/* ---- no stalls, dashboard, budget ---- */

Test(admin, scrape_answers_while_a_miss_is_stalled)
{
    static const char *const paths[] = {"/healthz", "/metrics"};
    struct h_resp r = {0};
    int64_t t0, t;
    int fd;
    size_t i;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "[server]\nworkers = 2\n"
                                         "[redis]\ncommand_timeout = 8s\n",
                         .admin = 1));
    h_set(&redis, "slow", "v");
    h_set(&redis, "warm", "v");
    /* A first miss opens the pipeline (and registers its tracking) before
     * Redis is paused: the stalled miss below is in flight on it. */
    h_expect_get(proxy.http_port, "/warm", 200, "v", "MISS");
    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE 3000 ALL"), 0);
    t0 = h_now_ms();
    fd = h_conn(proxy.http_port);
    cr_assert_eq(h_sends(fd, H_REQ("/slow")), 0);
    /* the miss is waiting on Redis: its pipeline has it in flight */
    EXPECT_METRIC(P "redis_pool_in_use", 1);
    /* Answered while the miss still waits (checked below), however long
     * a scrape takes on a slow build. */
    for (i = 0; i < 2; i++) {
        get(proxy.admin_port, paths[i], &r);
        cr_assert_eq(r.status, 200, "%s: %d", paths[i], r.status);
        if (i == 1) {
            cr_assert_eq(h_prom_value(r.body, P "redis_pool_in_use"), 1,
                         "the scrape did not see the stalled miss");
        }
        h_resp_free(&r);
    }
    cr_assert_eq(h_readable(&fd, 1, 0), 0,
                 "the miss was answered before the scrapes: test is void");
    cr_assert_eq(h_read_resp(fd, &r, 0, 8000), 0,
                 "stalled miss never answered");
    t = h_now_ms() - t0;
    cr_assert_eq(r.status, 200);
    cr_assert_geq(t, 2000, "the miss was not stalled (%lld ms): test is void",
                  (long long)t);
    h_resp_free(&r);
    close(fd);
}

/* 1 if s has an attribute attr= whose value starts with an absolute or
 * protocol-relative URL (another host). */
static int
has_external_ref(const char *s, const char *attr)
{
    size_t n = strlen(attr);

    for (; *s != '\0'; s++) {
        const char *v = s + n;

        if (strncasecmp(s, attr, n) != 0) {
            continue;
        }
        while (*v == ' ') {
            v++;
        }
        if (*v == '"' || *v == '\'') {
            v++;
        }
        if (strncasecmp(v, "http://", 7) == 0 ||
            strncasecmp(v, "https://", 8) == 0 || strncmp(v, "//", 2) == 0) {
            return 1;
        }
    }
    return 0;
}

Test(admin, dashboard_is_self_contained_html)
{
    struct h_resp r = {0};

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    get(proxy.admin_port, "/", &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strncmp(h_hdr(&r, "Content-Type"), "text/html", 9) == 0, "%s",
              h_hdr(&r, "Content-Type"));
    cr_assert_eq(strlen(r.body), r.body_len, "NUL byte in the page");
    cr_assert_not_null(strstr(r.body, "<html"));
    cr_assert(!has_external_ref(r.body, "src="), "external src= in the page");
    cr_assert(!has_external_ref(r.body, "href="), "external href= in page");
    cr_assert(!has_external_ref(r.body, "url("), "external url( in the page");
    cr_assert(!has_external_ref(r.body, "@import "), "@import in the page");
    cr_assert_null(strcasestr(r.body, "<script src="));
    h_resp_free(&r);
}

Test(admin, admin_connections_do_not_count_toward_max_clients)
{
    struct h_resp r = {0};
    int fd, fd2;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nmax_clients = 1\n", .admin = 1));
    h_set(&redis, "k", "v");
    fd = h_conn(proxy.http_port);
    h_roundtrip(fd, H_REQ("/k"), &r, 0);
    h_resp_free(&r);
    fd2 = h_conn(proxy.http_port); /* proves the one slot is taken */
    cr_assert_eq(h_read_resp(fd2, &r, 0, 3000), 0);
    cr_assert_eq(r.status, 503);
    h_resp_free(&r);
    close(fd2);
    get(proxy.admin_port, "/healthz", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "ok\n");
    h_resp_free(&r);
    get(proxy.admin_port, "/metrics", &r);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    /* the data connection still works */
    h_roundtrip(fd, H_REQ("/k"), &r, 0);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    close(fd);
}
