/*
 * Unit tests of serve/stats, every figure of the admin port declared
 * once: one snapshot of a live proxy (live_helpers.h) rendered as
 * Prometheus text and as JSON. Every row of the X-macro lists appears in
 * both (the test walks the same lists), each family's HELP and TYPE once;
 * counters, labelled families, the cache's figures, the per-node rows,
 * the cumulative latency histograms and the configuration come out with
 * exactly the values put in; the JSON is one valid document
 * (json_helpers.h); the growable buffer keeps every byte.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "serve/stats.h"

#include "json_helpers.h"
#include "live_helpers.h"

static struct stats_snapshot snap;
static struct stats_buf prom, json;

static void
setup(void)
{
    live_defaults();
    live_up();
}

static void
teardown(void)
{
    free(prom.p);
    free(json.p);
    live_down();
}

TestSuite(stats, .init = setup, .fini = teardown, .timeout = 30);

/* Takes a snapshot and renders it both ways (NUL-terminated). */
static void
render(void)
{
    free(prom.p);
    free(json.p);
    memset(&prom, 0, sizeof(prom));
    memset(&json, 0, sizeof(json));
    stats_take(&live.px, &snap);
    stats_prometheus(&snap, &prom);
    stats_json(&live.px, &snap, &json);
    cr_assert(!prom.failed && !json.failed);
    stats_printf(&prom, "%s", "");
    stats_printf(&json, "%s", "");
}

static void
expect_in(const struct stats_buf *b, const char *want)
{
    cr_expect_not_null(strstr(b->p, want), "'%s' not in the output", want);
}

static int
count_of(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    return n;
}

/* Row name with label (key="v", or "") is in the Prometheus text as a
 * sample (name then tail, when tail is not NULL: another label or a
 * histogram's suffix), its family's TYPE and HELP once, and in the JSON
 * under its name (and the label's value). */
static void
expect_row(const char *name, const char *type, const char *label,
           const char *tail)
{
    char line[256], q[128];
    const char *v;

    if (tail != NULL) {
        snprintf(line, sizeof(line), "\nredis_proxy_%s%s", name, tail);
    } else {
        snprintf(line, sizeof(line), "\nredis_proxy_%s%s%s%s ", name,
                 *label ? "{" : "", label, *label ? "}" : "");
    }
    expect_in(&prom, line);
    snprintf(line, sizeof(line), "# TYPE redis_proxy_%s %s\n", name, type);
    cr_expect_eq(count_of(prom.p, line), 1, "%s", line);
    snprintf(line, sizeof(line), "# HELP redis_proxy_%s ", name);
    cr_expect_eq(count_of(prom.p, line), 1, "%s", line);
    snprintf(line, sizeof(line), "\"%s\":", name);
    expect_in(&json, line);
    if ((v = strchr(label, '"')) != NULL) {
        snprintf(q, sizeof(q), "\"%.*s\":", (int)(strlen(v + 1) - 1), v + 1);
        expect_in(&json, q);
    }
}

Test(stats, every_row_of_the_lists_is_in_both_renderings)
{
    char node[64];

    render();
    snprintf(node, sizeof(node), "{node=\"127.0.0.1:%d\"} ", live.redis.port);
#define ROW(name, type, help, label, value)                                    \
    expect_row(#name, #type, label, NULL);
    STATS_ROWS(ROW)
#undef ROW
#define NODE_ROW(name, type, help, value) expect_row(#name, #type, "", node);
    STATS_NODE_ROWS(NODE_ROW)
#undef NODE_ROW
    expect_row("requests_total", "counter", "",
               "{listener=\"admin\",class=\"5xx\"} ");
    expect_row("hit_latency_seconds", "histogram", "", "_count ");
    expect_row("miss_latency_seconds", "histogram", "", "_bucket{le=\"1\"} ");
}

Test(stats, counters_are_rendered_with_their_values)
{
    struct metrics *m = &live.px.metrics;

    atomic_store(&m->hits, 3);
    atomic_store(&m->misses, 2);
    atomic_store(&m->oversize, 4);
    atomic_store(&m->requests[METRICS_HTTP][0], 5);
    atomic_store(&m->requests[METRICS_RESP][3], 2);
    atomic_store(&m->auth_failures[METRICS_ADMIN], 7);
    atomic_store(&m->closed[METRICS_CLOSE_HTTP_ON_RESP], 1);
    atomic_store(&m->sessions_open, 6);
    render();
    expect_in(&prom, "\nredis_proxy_cache_hits_total 3\n");
    expect_in(&prom, "# HELP redis_proxy_cache_hits_total Lookups answered "
                     "from the cache.\n# TYPE redis_proxy_cache_hits_total "
                     "counter\nredis_proxy_cache_hits_total 3\n");
    expect_in(&prom, "\nredis_proxy_cache_misses_total 2\n");
    expect_in(&prom, "\nredis_proxy_cache_oversize_total 4\n");
    expect_in(&prom, "\nredis_proxy_requests_total{listener=\"http\","
                     "class=\"2xx\"} 5\n");
    expect_in(&prom, "\nredis_proxy_requests_total{listener=\"resp\","
                     "class=\"5xx\"} 2\n");
    expect_in(&prom, "\nredis_proxy_auth_failures_total{listener=\"admin\"} "
                     "7\n");
    expect_in(&prom, "\nredis_proxy_connections_closed_total{reason="
                     "\"http_on_resp\"} 1\n");
    expect_in(&prom, "\nredis_proxy_sessions_open 6\n");
    expect_in(&prom, "\nredis_proxy_workers 2\n");

    expect_in(&json, "\"cache_hits_total\":3,");
    expect_in(&json, "\"requests_total\":{\"http\":{\"2xx\":5,\"3xx\":0,"
                     "\"4xx\":0,\"5xx\":0},\"resp\":{\"2xx\":0,\"3xx\":0,"
                     "\"4xx\":0,\"5xx\":2},\"admin\":{");
    expect_in(&json, "\"auth_failures_total\":{\"http\":0,\"resp\":0,"
                     "\"admin\":7}");
    expect_in(&json, "\"connections_closed_total\":{\"http_on_resp\":1,"
                     "\"auth_failures\":0,\"max_output\":0,\"admin_room\":0}");
    expect_in(&json, "\"sessions_open\":6,");
}

Test(stats, the_cache_figures_are_the_caches)
{
    struct cache_entry *a =
        cache_entry_create_db(live.px.cache, 0, "ab", 2, "1234", 4);
    struct cache_entry *b =
        cache_entry_create_db(live.px.cache, 0, "c", 1, "56", 2);

    cr_assert(a != NULL && b != NULL);
    cr_assert_eq(cache_put(live.px.cache, a), 1);
    cr_assert_eq(cache_put(live.px.cache, b), 1);
    cache_release(a);
    cache_release(b);
    render();
    expect_in(&prom, "\nredis_proxy_cache_entries 2\n");
    expect_in(&prom, "\nredis_proxy_cache_bytes 9\n");
    expect_in(&json, "\"cache_entries\":2,");
    expect_in(&json, "\"cache_bytes\":9,");
    {
        char cap[64];

        snprintf(cap, sizeof(cap), "\nredis_proxy_cache_capacity %ld\n",
                 live.cfg.cache_capacity);
        expect_in(&prom, cap);
    }
}

Test(stats, each_node_has_its_rows)
{
    char want[512];

    render();
    cr_expect_eq(snap.nnodes, 1);
    snprintf(want, sizeof(want),
             "\nredis_proxy_node_slots{node=\"127.0.0.1:%d\"} 16384\n",
             live.redis.port);
    expect_in(&prom, want);
    snprintf(want, sizeof(want),
             "\nredis_proxy_node_stream_state{node=\"127.0.0.1:%d\"} 2\n",
             live.redis.port);
    expect_in(&prom, want);
    snprintf(want, sizeof(want), "\"node_slots\":{\"127.0.0.1:%d\":16384}",
             live.redis.port);
    expect_in(&json, want);
    snprintf(want, sizeof(want),
             "\"nodes\":[{\"addr\":\"127.0.0.1:%d\",\"role\":\"master\","
             "\"slots\":16384,\"ranges\":\"0-16383\",\"stream\":\"up\","
             "\"reason\":\"\",\"pool_size\":2,",
             live.redis.port);
    expect_in(&json, want);
    expect_in(&json, "\"redis\":{\"reachable\":true,\"tracking\":\"up\","
                     "\"reason\":\"\"}");
}

Test(stats, latency_histograms_are_cumulative)
{
    metrics_observe(&live.px.metrics.hit, 40);
    metrics_observe(&live.px.metrics.hit, 300);
    metrics_observe(&live.px.metrics.hit, 2000000);
    metrics_observe(&live.px.metrics.miss, 1000);
    render();
    expect_in(&prom, "# TYPE redis_proxy_hit_latency_seconds histogram\n"
                     "redis_proxy_hit_latency_seconds_bucket{le=\"5e-05\"} 1\n"
                     "redis_proxy_hit_latency_seconds_bucket{le=\"0.0001\"} 1\n"
                     "redis_proxy_hit_latency_seconds_bucket{le=\"0.00025\"} "
                     "1\n"
                     "redis_proxy_hit_latency_seconds_bucket{le=\"0.0005\"} "
                     "2\n");
    expect_in(&prom, "redis_proxy_hit_latency_seconds_bucket{le=\"1\"} 2\n"
                     "redis_proxy_hit_latency_seconds_bucket{le=\"+Inf\"} 3\n"
                     "redis_proxy_hit_latency_seconds_sum 2.000340\n"
                     "redis_proxy_hit_latency_seconds_count 3\n");
    expect_in(&prom, "redis_proxy_miss_latency_seconds_bucket{le=\"0.0005\"} "
                     "0\nredis_proxy_miss_latency_seconds_bucket{le=\"0.001\"}"
                     " 1\n");
    expect_in(&json, "\"hit_latency_seconds\":{\"count\":3,\"sum_us\":2000340,"
                     "\"buckets\":[{\"le_us\":50,\"n\":1},{\"le_us\":100,"
                     "\"n\":0},{\"le_us\":250,\"n\":0},{\"le_us\":500,"
                     "\"n\":1},");
    expect_in(&json, "{\"le_us\":1000000,\"n\":0},{\"le_us\":-1,\"n\":1}]}");
}

Test(stats, the_json_is_one_valid_document_with_the_settings)
{
    char want[512];
    long bad;

    snprintf(live.cfg.server_password, sizeof(live.cfg.server_password), "x");
    render();
    bad = json_check(json.p, json.len);
    cr_expect_eq(bad, -1, "invalid JSON at %ld: '%.40s'", bad,
                 bad >= 0 ? json.p + bad : "");
    cr_expect_eq(json.p[json.len - 1], '\n');
    snprintf(want, sizeof(want),
             "{\"version\":\"%s\",\"uptime_s\":", PROXY_VERSION);
    cr_expect_eq(strncmp(json.p, want, strlen(want)), 0, "%.60s", json.p);
    snprintf(want, sizeof(want),
             "\"config\":{\"http_port\":%d,\"resp_port\":%d,"
             "\"admin_port\":%d,\"workers\":2,",
             live.cfg.http_port, live.cfg.resp_port, live.cfg.admin_port);
    expect_in(&json, want);
    expect_in(&json, "\"tracking\":true,");
    expect_in(&json, "\"password\":true,");
    expect_in(&json, "\"mode\":\"standalone\",\"read_from\":\"master\"}");
    cr_expect_null(strstr(json.p, "\"x\""), "the password itself is shown");
    cr_expect_null(strstr(json.p, "\"sentinel\":{"), "no sentinels here");
}

Test(stats, the_buffer_grows_and_keeps_every_byte)
{
    struct stats_buf b = {0};
    size_t want = 0;

    for (int i = 0; i < 5000; i++) {
        stats_printf(&b, "%d,", i);
        want += (size_t)snprintf(NULL, 0, "%d,", i);
    }
    cr_assert_eq(b.failed, 0);
    cr_expect_eq(b.len, want);
    cr_expect_eq(strncmp(b.p, "0,1,2,", 6), 0);
    cr_expect_eq(strcmp(b.p + b.len - 5, "4999,"), 0);
    free(b.p);
}
