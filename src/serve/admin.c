/*
 * admin: /metrics, /healthz, /readyz, /stats.json and the dashboard; see
 * admin.h. One snapshot of every service's figures is taken per request and
 * rendered either as Prometheus text or as JSON, so both always agree.
 */
#include "serve/admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "cache/flight.h"
#include "serve/httpd.h"
#include "base/log.h"
#include "upstream/tracking.h"
#include "upstream/upstream.h"
#include "base/util.h"
#include "net/standby.h"
#include "net/waiter.h"
#include "net/workq.h"

/* A growable text buffer; on allocation failure it stops growing and
 * `failed` is set. */
struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
};

__attribute__((format(printf, 2, 3))) static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        size_t room = b->cap - b->len;

        va_start(ap, fmt);
        n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0 || b->failed) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        char *np = realloc(b->p, b->cap * 2 + (size_t)n + 1);
        if (np == NULL) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = b->cap * 2 + (size_t)n + 1;
    }
}

/* Every figure, read once. */
struct snapshot {
    struct cache_stats cache;
    struct flight_stats flights;
    struct tracking_stats tracking;
    struct upstream_stats pool;
    long requests[METRICS_LISTENERS][METRICS_CLASSES];
    long hits, misses, stale, accepted, rejected, log_dropped;
    long hist_le[2][METRICS_BUCKETS + 1], hist_count[2], hist_sum_us[2];
    long open, parked, busy, depth;
    double uptime_s;
};

static long
load(atomic_long *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static void
take_snapshot(struct proxy *px, struct snapshot *s)
{
    struct metrics *m = &px->metrics;
    struct metrics_histogram *h[2] = {&m->hit, &m->miss};
    int i, j;

    cache_stats(px->cache, &s->cache);
    flights_stats(px->flights, &s->flights);
    tracking_stats(px->tracking, &s->tracking);
    upstream_stats(px->up, &s->pool);
    for (i = 0; i < METRICS_LISTENERS; i++) {
        for (j = 0; j < METRICS_CLASSES; j++) {
            s->requests[i][j] = load(&m->requests[i][j]);
        }
    }
    s->hits = load(&m->hits);
    s->misses = load(&m->misses);
    s->stale = load(&m->stale);
    s->accepted = load(&m->accepted);
    s->rejected = load(&m->rejected);
    s->log_dropped = log_dropped();
    for (i = 0; i < 2; i++) {
        for (j = 0; j <= METRICS_BUCKETS; j++) {
            s->hist_le[i][j] = load(&h[i]->le[j]);
        }
        s->hist_count[i] = load(&h[i]->count);
        s->hist_sum_us[i] = load(&h[i]->sum_us);
    }
    s->open = atomic_load(&px->open_conns);
    s->parked = waiter_count(px->waiter);
    s->busy = atomic_load(&px->busy_workers);
    s->depth = (long)workq_depth(px->q);
    s->uptime_s = (double)(util_now_ms() - m->started_ms) / 1000.0;
}

static const char *const listener_names[] = {"http", "resp", "admin"};
static const char *const class_names[] = {"2xx", "3xx", "4xx", "5xx"};
static const char *const tracking_names[] = {"off", "down", "up"};

static void
prom_metric(struct sbuf *b, const char *name, const char *type,
            const char *help, double value)
{
    sb_printf(b, "# HELP redis_proxy_%s %s\n# TYPE redis_proxy_%s %s\n", name,
              help, name, type);
    sb_printf(b, "redis_proxy_%s %.17g\n", name, value);
}

static void
prom_histogram(struct sbuf *b, const char *name, const char *help,
               const long *le, long count, long sum_us)
{
    long cumulative = 0;
    int i;

    sb_printf(b, "# HELP redis_proxy_%s %s\n# TYPE redis_proxy_%s histogram\n",
              name, help, name);
    for (i = 0; i < METRICS_BUCKETS; i++) {
        cumulative += le[i];
        sb_printf(b, "redis_proxy_%s_bucket{le=\"%g\"} %ld\n", name,
                  (double)metrics_bounds_us[i] / 1e6, cumulative);
    }
    sb_printf(b, "redis_proxy_%s_bucket{le=\"+Inf\"} %ld\n", name, count);
    sb_printf(b, "redis_proxy_%s_sum %.6f\n", name, (double)sum_us / 1e6);
    sb_printf(b, "redis_proxy_%s_count %ld\n", name, count);
}

static void
render_metrics(struct proxy *px, const struct snapshot *s, struct sbuf *b)
{
    int i, j;

    sb_printf(b, "# HELP redis_proxy_requests_total Requests answered, by "
                 "listener and status class.\n"
                 "# TYPE redis_proxy_requests_total counter\n");
    for (i = 0; i < METRICS_LISTENERS; i++) {
        for (j = 0; j < METRICS_CLASSES; j++) {
            sb_printf(b,
                      "redis_proxy_requests_total{listener=\"%s\","
                      "class=\"%s\"} %ld\n",
                      listener_names[i], class_names[j], s->requests[i][j]);
        }
    }
    prom_metric(b, "cache_hits_total", "counter",
                "Lookups answered from the cache.", (double)s->hits);
    prom_metric(b, "cache_misses_total", "counter",
                "Lookups that had to ask Redis.", (double)s->misses);
    prom_metric(b, "cache_stale_total", "counter",
                "Stale entries served while Redis failed.", (double)s->stale);
    prom_metric(b, "cache_evictions_total", "counter",
                "Entries evicted for capacity (LRU).",
                (double)s->cache.evictions);
    prom_metric(b, "cache_expirations_total", "counter",
                "Expired entries removed.", (double)s->cache.expirations);
    prom_metric(b, "cache_invalidations_total", "counter",
                "Entries removed because Redis reported a change.",
                (double)s->flights.invalidations);
    prom_metric(b, "cache_flushes_total", "counter",
                "Whole-cache invalidations (FLUSHALL, lost tracking).",
                (double)s->flights.flushes);
    prom_metric(b, "cache_entries", "gauge", "Entries held now.",
                (double)s->cache.entries);
    prom_metric(b, "cache_bytes", "gauge", "Key and value bytes held now.",
                (double)s->cache.bytes);
    prom_metric(b, "cache_capacity", "gauge", "Entries held at most.",
                (double)px->cfg->cache_capacity);
    prom_metric(b, "fills_total", "counter", "Fills from Redis started.",
                (double)s->flights.fills);
    prom_metric(b, "fills_coalesced_total", "counter",
                "Misses that waited for a fill already in flight.",
                (double)s->flights.coalesced);
    prom_metric(b, "fills_discarded_total", "counter",
                "Fills not stored because an invalidation raced them.",
                (double)s->flights.discarded);
    prom_metric(b, "connections_open", "gauge",
                "Client connections open (HTTP + RESP).", (double)s->open);
    prom_metric(b, "connections_accepted_total", "counter",
                "Client connections accepted.", (double)s->accepted);
    prom_metric(b, "connections_rejected_total", "counter",
                "Client connections refused over max_clients.",
                (double)s->rejected);
    prom_metric(b, "connections_parked", "gauge",
                "Idle or partial connections held by the waiter.",
                (double)s->parked);
    prom_metric(b, "workq_depth", "gauge", "Connections queued for a worker.",
                (double)s->depth);
    prom_metric(b, "workers_busy", "gauge", "Workers serving a connection.",
                (double)s->busy);
    prom_metric(b, "workers", "gauge", "Worker threads.",
                (double)px->cfg->workers);
    prom_metric(b, "redis_pool_size", "gauge", "Pooled Redis connections.",
                (double)s->pool.size);
    prom_metric(b, "redis_pool_in_use", "gauge",
                "Pooled connections borrowed now.", (double)s->pool.in_use);
    prom_metric(b, "redis_pool_connected", "gauge",
                "Pooled connections open now.", (double)s->pool.connected);
    prom_metric(b, "redis_errors_total", "counter",
                "Failed Redis commands and connects.", (double)s->pool.errors);
    prom_metric(b, "redis_reconnects_total", "counter",
                "Redis connections re-established.",
                (double)s->pool.reconnects);
    prom_metric(b, "tracking_state", "gauge",
                "Invalidation stream: 0 off, 1 down, 2 up.",
                (double)s->tracking.state);
    prom_metric(b, "tracking_drops_total", "counter",
                "Invalidation streams lost.", (double)s->tracking.drops);
    prom_metric(b, "invalidation_messages_total", "counter",
                "Invalidation messages received.",
                (double)s->tracking.messages);
    prom_metric(b, "log_lines_dropped_total", "counter",
                "Log lines dropped because stderr was slow.",
                (double)s->log_dropped);
    prom_metric(b, "uptime_seconds", "gauge", "Seconds since start.",
                s->uptime_s);
    prom_histogram(b, "hit_latency_seconds",
                   "Time to answer a request from the cache.", s->hist_le[0],
                   s->hist_count[0], s->hist_sum_us[0]);
    prom_histogram(b, "miss_latency_seconds",
                   "Time to answer a request that asked Redis.", s->hist_le[1],
                   s->hist_count[1], s->hist_sum_us[1]);
}

/* Writes s as a JSON string literal (quotes included). */
static void
json_str(struct sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            sb_printf(b, "\\%c", ch);
        } else if (ch < 0x20) {
            sb_printf(b, "\\u%04x", ch);
        } else {
            sb_printf(b, "%c", ch);
        }
    }
    sb_printf(b, "\"");
}

static void
json_hist(struct sbuf *b, const char *name, const long *le, long count,
          long sum_us)
{
    int i;

    sb_printf(b, "\"%s\":{\"count\":%ld,\"sum_us\":%ld,\"buckets\":[", name,
              count, sum_us);
    for (i = 0; i <= METRICS_BUCKETS; i++) {
        sb_printf(b, "%s{\"le_us\":%lld,\"n\":%ld}", i > 0 ? "," : "",
                  i < METRICS_BUCKETS ? (long long)metrics_bounds_us[i] : -1LL,
                  le[i]);
    }
    sb_printf(b, "]}");
}

static void
render_json(struct proxy *px, const struct snapshot *s, struct sbuf *b)
{
    const struct config *cfg = px->cfg;
    int i, j;

    sb_printf(b,
              "{\"version\":\"%s\",\"uptime_s\":%.3f,"
              "\"config\":{\"http_port\":%d,\"resp_port\":%d,"
              "\"admin_port\":%d,\"workers\":%d,\"max_clients\":%d,"
              "\"capacity\":%ld,\"ttl_ms\":%lld,\"tracking\":%s,"
              "\"stale_if_error_ms\":%lld},",
              PROXY_VERSION, s->uptime_s, cfg->http_port, cfg->resp_port,
              cfg->admin_port, cfg->workers, cfg->max_clients,
              cfg->cache_capacity, (long long)cfg->cache_ttl_ms,
              cfg->cache_tracking ? "true" : "false",
              (long long)cfg->cache_stale_ms);
    sb_printf(b, "\"requests\":{");
    for (i = 0; i < METRICS_LISTENERS; i++) {
        sb_printf(b, "%s\"%s\":{", i > 0 ? "," : "", listener_names[i]);
        for (j = 0; j < METRICS_CLASSES; j++) {
            sb_printf(b, "%s\"%s\":%ld", j > 0 ? "," : "", class_names[j],
                      s->requests[i][j]);
        }
        sb_printf(b, "}");
    }
    sb_printf(b,
              "},\"cache\":{\"hits\":%ld,\"misses\":%ld,\"stale\":%ld,"
              "\"evictions\":%ld,\"expirations\":%ld,\"invalidations\":%ld,"
              "\"flushes\":%ld,\"entries\":%ld,\"bytes\":%ld,"
              "\"capacity\":%ld,\"fills\":%ld,\"coalesced\":%ld},",
              s->hits, s->misses, s->stale, s->cache.evictions,
              s->cache.expirations, s->flights.invalidations,
              s->flights.flushes, s->cache.entries, s->cache.bytes,
              cfg->cache_capacity, s->flights.fills, s->flights.coalesced);
    sb_printf(b,
              "\"connections\":{\"open\":%ld,\"accepted\":%ld,"
              "\"rejected\":%ld,\"parked\":%ld},"
              "\"workers\":{\"total\":%d,\"busy\":%ld,\"queue_depth\":%ld},",
              s->open, s->accepted, s->rejected, s->parked, cfg->workers,
              s->busy, s->depth);
    sb_printf(b,
              "\"redis\":{\"reachable\":%s,\"tracking\":\"%s\","
              "\"reason\":",
              s->pool.down ? "false" : "true",
              tracking_names[s->tracking.state]);
    json_str(b, s->tracking.reason);
    sb_printf(b,
              ",\"pool_size\":%d,\"pool_in_use\":%d,\"connected\":%d,"
              "\"errors\":%ld,\"reconnects\":%ld},\"latency\":{",
              s->pool.size, s->pool.in_use, s->pool.connected, s->pool.errors,
              s->pool.reconnects);
    json_hist(b, "hit", s->hist_le[0], s->hist_count[0], s->hist_sum_us[0]);
    sb_printf(b, ",");
    json_hist(b, "miss", s->hist_le[1], s->hist_count[1], s->hist_sum_us[1]);
    sb_printf(b, "}}\n");
}

/* Ready: Redis answers PING and, with tracking on, the stream is up. */
static int
readiness(struct proxy *px, char *why, size_t len)
{
    char err[UPSTREAM_ERR_MAX];
    struct tracking_stats ts;
    int rc;

    tracking_stats(px->tracking, &ts);
    if (px->cfg->cache_tracking && ts.state == TRACKING_DOWN) {
        snprintf(why, len, "invalidation stream down: %s", ts.reason);
        return 0;
    }
    standby_block_begin();
    rc = upstream_ping(px->up, err);
    standby_block_end();
    if (rc != 0) {
        snprintf(why, len, "redis not answering: %s", err);
        return 0;
    }
    snprintf(why, len, "ready");
    return 1;
}

int
admin_serve(struct proxy *px, struct conn *c, const struct http_request *req)
{
    struct sbuf b = {0};
    struct snapshot s;
    char why[400];
    int status = 200, rc, dashboard = 0;
    const char *type = "text/plain; charset=utf-8";
    const char *path = req->path;
    size_t plen = req->path_len;

#define ROUTE(p) (plen == sizeof(p) - 1 && memcmp(path, p, plen) == 0)
    if (req->method == HTTP_METHOD_OTHER) {
        status = 405;
        sb_printf(&b, "method not allowed\n");
    } else if (ROUTE("/metrics")) {
        take_snapshot(px, &s);
        render_metrics(px, &s, &b);
        type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (ROUTE("/stats.json")) {
        take_snapshot(px, &s);
        render_json(px, &s, &b);
        type = "application/json";
    } else if (ROUTE("/healthz")) {
        sb_printf(&b, "ok\n");
    } else if (ROUTE("/readyz")) {
        status = readiness(px, why, sizeof(why)) ? 200 : 503;
        sb_printf(&b, "%s\n", why);
    } else if (ROUTE("/")) {
        type = "text/html; charset=utf-8";
        dashboard = 1;
    } else {
        status = 404;
        sb_printf(&b, "not found\n");
    }
#undef ROUTE
    if (b.failed) {
        status = 500;
    }
    rc = httpd_send(
        c, req, status, type,
        status == 405 ? "Allow: GET, HEAD\r\nCache-Control: no-store\r\n"
                      : "Cache-Control: no-store\r\n",
        dashboard ? admin_dashboard_html : (b.failed ? "" : b.p),
        dashboard ? admin_dashboard_html_len : (b.failed ? 0 : b.len));
    free(b.p);
    metrics_request(&px->metrics, METRICS_ADMIN, status);
    return rc < 0 || !req->keep_alive ? -1 : 0;
}
