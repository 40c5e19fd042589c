/*
 * stats: the snapshot and its two renderings from the STATS_SCALARS list;
 * see stats.h. The admin port is not a hot path: output is built in a
 * heap buffer with printf.
 */
#include "serve/stats.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "net/waiter.h"
#include "net/worker.h"
#include "net/workq.h"
#include "serve/failover.h"
#include "serve/proxy.h"
#include "upstream/idents.h"
#include "upstream/nodes.h"

static const char *const listener_names[] = {"http", "resp", "admin"};

/* A family of per-node (or per-sentinel) rows. */
struct stats_node_row {
    const char *name, *type, *help;
};
static const char *const class_names[] = {"2xx", "3xx", "4xx", "5xx"};
static const char *const tracking_names[] = {"off", "down", "up"};
static const char *const role_names[] = {"idle", "master", "replica"};
static const char *const mode_names[] = {"standalone", "cluster", "sentinel"};
static const char *const read_from_names[] = {"master", "replica",
                                              "prefer_replica"};
static const char *const hist_names[] = {"hit_latency_seconds",
                                         "miss_latency_seconds"};
static const char *const hist_help[] = {
    "Time to answer a request from the cache.",
    "Time to answer a request that asked Redis."};

void
stats_printf(struct stats_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        size_t room = b->cap - b->len;
        char *np;

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
        np = realloc(b->p, b->cap * 2 + (size_t)n + 1);
        if (np == NULL) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = b->cap * 2 + (size_t)n + 1;
    }
}

static long
load(atomic_long *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

void
stats_take(struct proxy *px, struct stats_snapshot *s)
{
    struct metrics *m = &px->metrics;
    struct metrics_histogram *h[2] = {&m->hit, &m->miss};
    int i, j;

    cache_stats(px->cache, &s->cache);
    flights_stats(px->flights, &s->flights);
    nodes_tracking_totals(px->nodes, &s->tracking);
    nodes_pool_stats(px->nodes, &s->pool);
    for (i = 0; i < METRICS_LISTENERS; i++) {
        for (j = 0; j < METRICS_CLASSES; j++) {
            s->requests[i][j] = load(&m->requests[i][j]);
        }
    }
    s->hits = load(&m->hits);
    s->misses = load(&m->misses);
    s->stale = load(&m->stale);
    s->oversize = load(&m->oversize);
    s->sessions_open = atomic_load(&m->sessions_open);
    s->sessions = load(&m->sessions);
    s->forwarded = load(&m->forwarded);
    s->write_flushes = load(&m->write_flushes);
    s->readonly_rerouted = load(&m->readonly_rerouted);
    s->readonly_failed = load(&m->readonly_failed);
    s->failover_sessions = load(&m->failover_sessions);
    s->readonly_waiting = failover_waiting(px);
    s->reloads_ok = load(&m->reloads_ok);
    s->reloads_failed = load(&m->reloads_failed);
    s->config_retired = qsbr_pending(&px->config_gc);
    s->tls_handshakes = load(&px->tls_stats.handshakes);
    for (i = 0; i < TLS_FAILS; i++) {
        s->tls_failed[i] = load(&px->tls_stats.failed[i]);
    }
    s->tls_timeouts = load(&px->tls_stats.timeouts);
    s->tls_not_after = (double)atomic_load(&px->tls_stats.not_after);
    for (i = 0; i < METRICS_LISTENERS; i++) {
        s->auth_failures[i] = load(&m->auth_failures[i]);
    }
    for (i = 0; i < METRICS_VERIFIES; i++) {
        s->verifies[i] = load(&m->verifies[i]);
    }
    s->nusers = metrics_user_failures(m, s->users, METRICS_USERS);
    if (px->idents != NULL) {
        struct idents_stats is;

        idents_stats(px->idents, &is);
        s->idents_known = is.known;
        s->idents_in_use = is.in_use;
    } else {
        s->idents_known = s->idents_in_use = 0;
    }
    for (i = 0; i < METRICS_CLOSES; i++) {
        s->closed[i] = load(&m->closed[i]);
    }
    s->closed_output =
        load(&px->clients.overflowed) + load(&px->admins.overflowed);
    s->closed_admin_room = load(&px->admins.reused);
    s->accepted = load(&px->clients.accepted);
    s->rejected = load(&px->clients.rejected);
    s->log_dropped = log_dropped();
    for (i = 0; i < 2; i++) {
        /* The count is the sum of the buckets as read, not the count
         * counter: requests observed while the buckets are read would
         * otherwise leave +Inf below the last bucket. */
        s->hist_count[i] = 0;
        for (j = 0; j <= METRICS_BUCKETS; j++) {
            s->hist_le[i][j] = load(&h[i]->le[j]);
            s->hist_count[i] += s->hist_le[i][j];
        }
        s->hist_sum_us[i] = load(&h[i]->sum_us);
    }
    s->open = atomic_load(&px->clients.open);
    s->parked = waiter_count(px->waiter);
    s->busy = worker_pool_busy(px->workers);
    s->depth = (long)workq_depth(px->q);
    s->workers = proxy_cfg(px)->workers;
    s->uptime_s = (double)(util_now_ms() - m->started_ms) / 1000.0;
    s->nnodes = nodes_count(px->nodes);
    for (i = 0; i < s->nnodes; i++) {
        nodes_stats(px->nodes, i, &s->nodes[i]);
    }
    s->replica_reads = px->replicas != NULL;
    if (s->replica_reads) {
        replicas_totals(px->replicas, &s->reads);
        for (i = 0; i < s->nnodes; i++) {
            struct replica_stats rs;

            replicas_node_stats(px->replicas, i, &rs);
            s->nodes[i].in_sync = rs.watched && rs.usable;
            s->nodes[i].lag_bytes = rs.watched ? rs.lag_bytes : 0;
            s->nodes[i].lag_ms = rs.watched ? rs.lag_ms : 0;
        }
    } else {
        memset(&s->reads, 0, sizeof(s->reads));
    }
    s->sentinel = px->sentinel != NULL;
    if (s->sentinel) {
        sentinel_stats(px->sentinel, &s->sent);
    }
}

/* The per-sentinel families, for both renderers. */
static const struct stats_node_row sentinel_rows[] = {
#define SENTINEL_ROW(name, type, help, value) {#name, #type, help},
    STATS_SENTINEL_ROWS(SENTINEL_ROW)
#undef SENTINEL_ROW
};

static double
sentinel_value(const struct sentinel_server_stats *sv, size_t r)
{
    size_t i = 0;

#define SENTINEL_VALUE(name, type, help, value)                                \
    if (i++ == r) {                                                            \
        return (double)(value);                                                \
    }
    STATS_SENTINEL_ROWS(SENTINEL_VALUE)
#undef SENTINEL_VALUE
    return 0;
}

/* The per-node families, for both renderers. */

static const struct stats_node_row node_rows[] = {
#define NODE_ROW(name, type, help, value) {#name, #type, help},
    STATS_NODE_ROWS(NODE_ROW)
#undef NODE_ROW
};

static double
node_value(const struct node_stats *nd, size_t r)
{
    size_t i = 0;

#define NODE_VALUE(name, type, help, value)                                    \
    if (i++ == r) {                                                            \
        return (double)(value);                                                \
    }
    STATS_NODE_ROWS(NODE_VALUE)
#undef NODE_VALUE
    return 0;
}

/* The rows of STATS_ROWS, for the renderers to walk. */
struct stats_row {
    const char *name, *type, *help, *label;
};

#define STATS_ROW(name, type, help, label, value) {#name, #type, help, label},
static const struct stats_row rows[] = {STATS_ROWS(STATS_ROW)};
#undef STATS_ROW

/* The value of row i. */
static double
row_value(const struct stats_snapshot *s, size_t i)
{
    size_t n = 0;

#define STATS_VALUE(name, type, help, label, value)                            \
    if (i == n++) {                                                            \
        return (double)(value);                                                \
    }
    STATS_ROWS(STATS_VALUE)
#undef STATS_VALUE
    return 0;
}

/* Is row i the first of its family? */
static int
family_starts(size_t i)
{
    return i == 0 || strcmp(rows[i].name, rows[i - 1].name) != 0;
}

static void
prom_family(struct stats_buf *b, const char *name, const char *type,
            const char *help)
{
    stats_printf(b, "# HELP redis_proxy_%s %s\n# TYPE redis_proxy_%s %s\n",
                 name, help, name, type);
}

static void
prom_histogram(struct stats_buf *b, const struct stats_snapshot *s, int h)
{
    long cumulative = 0;
    int i;

    prom_family(b, hist_names[h], "histogram", hist_help[h]);
    for (i = 0; i < METRICS_BUCKETS; i++) {
        cumulative += s->hist_le[h][i];
        stats_printf(b, "redis_proxy_%s_bucket{le=\"%g\"} %ld\n", hist_names[h],
                     (double)metrics_bounds_us[i] / 1e6, cumulative);
    }
    stats_printf(b, "redis_proxy_%s_bucket{le=\"+Inf\"} %ld\n", hist_names[h],
                 s->hist_count[h]);
    stats_printf(b, "redis_proxy_%s_sum %.6f\n", hist_names[h],
                 (double)s->hist_sum_us[h] / 1e6);
    stats_printf(b, "redis_proxy_%s_count %ld\n", hist_names[h],
                 s->hist_count[h]);
}

/* With sentinels: the master they name, failovers seen, and one row per
 * sentinel of each STATS_SENTINEL_ROWS family. */
static void
prom_sentinel(const struct stats_snapshot *s, struct stats_buf *b)
{
    int i;

    prom_family(b, "sentinel_master_info", "gauge",
                "The master the sentinels name (1), by name and address.");
    stats_printf(b,
                 "redis_proxy_sentinel_master_info{name=\"%s\","
                 "master=\"%s\"} 1\n",
                 s->sent.master_name, s->sent.master);
    prom_family(b, "sentinel_failovers_total", "counter",
                "Changes of master followed since start.");
    stats_printf(b, "redis_proxy_sentinel_failovers_total %ld\n",
                 s->sent.failovers);
    prom_family(b, "sentinels_reachable", "gauge",
                "Sentinels that answered the last time they were asked.");
    stats_printf(b, "redis_proxy_sentinels_reachable %d\n", s->sent.reachable);
    for (size_t r = 0; r < RP_ARRAY_LEN(sentinel_rows); r++) {
        prom_family(b, sentinel_rows[r].name, sentinel_rows[r].type,
                    sentinel_rows[r].help);
        for (i = 0; i < s->sent.nservers; i++) {
            stats_printf(b, "redis_proxy_%s{sentinel=\"%s\"} %.17g\n",
                         sentinel_rows[r].name, s->sent.server[i].addr,
                         sentinel_value(&s->sent.server[i], r));
        }
    }
}

/* auth_failures_total's rows by user: a label from [users] or
 * "unknown" (metrics.h), so no escaping is needed. */
static void
prom_user_failures(const struct stats_snapshot *s, struct stats_buf *b)
{
    int i, l;

    for (i = 0; i < s->nusers; i++) {
        for (l = 0; l < METRICS_LISTENERS; l++) {
            stats_printf(b,
                         "redis_proxy_auth_failures_total{listener=\"%s\","
                         "user=\"%s\"} %ld\n",
                         listener_names[l], s->users[i].name,
                         s->users[i].failures[l]);
        }
    }
}

void
stats_prometheus(const struct stats_snapshot *s, struct stats_buf *b)
{
    int i, j;

    prom_family(b, "requests_total", "counter",
                "Requests answered, by listener and status class.");
    for (i = 0; i < METRICS_LISTENERS; i++) {
        for (j = 0; j < METRICS_CLASSES; j++) {
            stats_printf(b,
                         "redis_proxy_requests_total{listener=\"%s\","
                         "class=\"%s\"} %ld\n",
                         listener_names[i], class_names[j], s->requests[i][j]);
        }
    }
    for (size_t r = 0; r < RP_ARRAY_LEN(rows); r++) {
        if (family_starts(r)) {
            prom_family(b, rows[r].name, rows[r].type, rows[r].help);
        }
        stats_printf(b, "redis_proxy_%s%s%s%s %.17g\n", rows[r].name,
                     *rows[r].label ? "{" : "", rows[r].label,
                     *rows[r].label ? "}" : "", row_value(s, r));
        if (strcmp(rows[r].name, "auth_failures_total") == 0 &&
            (r + 1 == RP_ARRAY_LEN(rows) || family_starts(r + 1))) {
            prom_user_failures(s, b);
        }
    }
    for (size_t r = 0; r < RP_ARRAY_LEN(node_rows); r++) {
        prom_family(b, node_rows[r].name, node_rows[r].type, node_rows[r].help);
        for (i = 0; i < s->nnodes; i++) {
            stats_printf(b, "redis_proxy_%s{node=\"%s\"} %.17g\n",
                         node_rows[r].name, s->nodes[i].addr,
                         node_value(&s->nodes[i], r));
        }
    }
    if (s->sentinel) {
        prom_sentinel(s, b);
    }
    prom_histogram(b, s, 0);
    prom_histogram(b, s, 1);
}

/* Writes str as a JSON string literal (quotes included). */
static void
json_str(struct stats_buf *b, const char *str)
{
    stats_printf(b, "\"");
    for (; *str != '\0'; str++) {
        unsigned char ch = (unsigned char)*str;
        if (ch == '"' || ch == '\\') {
            stats_printf(b, "\\%c", ch);
        } else if (ch < 0x20) {
            stats_printf(b, "\\u%04x", ch);
        } else {
            stats_printf(b, "%c", ch);
        }
    }
    stats_printf(b, "\"");
}

static void
json_histogram(struct stats_buf *b, const struct stats_snapshot *s, int h)
{
    int i;

    stats_printf(b, ",\"%s\":{\"count\":%ld,\"sum_us\":%ld,\"buckets\":[",
                 hist_names[h], s->hist_count[h], s->hist_sum_us[h]);
    for (i = 0; i <= METRICS_BUCKETS; i++) {
        stats_printf(b, "%s{\"le_us\":%lld,\"n\":%ld}", i > 0 ? "," : "",
                     i < METRICS_BUCKETS ? (long long)metrics_bounds_us[i]
                                         : -1LL,
                     s->hist_le[h][i]);
    }
    stats_printf(b, "]}");
}

/* "sentinel": the master they name, failovers, and every sentinel. */
static void
json_sentinel(const struct stats_snapshot *s, struct stats_buf *b)
{
    int i;

    stats_printf(b, ",\"sentinel\":{\"master_name\":");
    json_str(b, s->sent.master_name);
    stats_printf(b, ",\"master\":");
    json_str(b, s->sent.master);
    stats_printf(b,
                 ",\"failovers\":%ld,\"asks\":%ld,\"reachable\":%d,"
                 "\"sentinels\":[",
                 s->sent.failovers, s->sent.asks, s->sent.reachable);
    for (i = 0; i < s->sent.nservers; i++) {
        const struct sentinel_server_stats *sv = &s->sent.server[i];

        stats_printf(b, "%s{\"addr\":", i > 0 ? "," : "");
        json_str(b, sv->addr);
        stats_printf(b, ",\"up\":%s,\"subscribed\":%s,\"error\":",
                     sv->up ? "true" : "false",
                     sv->subscribed ? "true" : "false");
        json_str(b, sv->error);
        stats_printf(b, "}");
    }
    stats_printf(b, "]}");
}

void
stats_json(struct proxy *px, const struct stats_snapshot *s,
           struct stats_buf *b)
{
    const struct config *cfg = proxy_cfg(px);
    int i, j;

    stats_printf(
        b,
        "{\"version\":\"%s\",\"uptime_s\":%.3f,"
        "\"config\":{\"http_port\":%d,\"resp_port\":%d,"
        "\"admin_port\":%d,\"workers\":%d,\"max_clients\":%d,"
        "\"capacity\":%ld,\"ttl_ms\":%lld,\"tracking\":%s,"
        "\"stale_if_error_ms\":%lld,\"http_writes\":%s,"
        "\"password\":%s,\"users\":%d,\"max_sessions\":%d,"
        "\"mode\":\"%s\",\"read_from\":\"%s\"},",
        PROXY_VERSION, s->uptime_s, cfg->http_port, cfg->resp_port,
        cfg->admin_port, cfg->workers, cfg->max_clients, cfg->cache_capacity,
        (long long)cfg->cache_ttl_ms, cfg->cache_tracking ? "true" : "false",
        (long long)cfg->cache_stale_ms, cfg->http_writes ? "true" : "false",
        cfg->server_password[0] ? "true" : "false", cfg->nusers,
        cfg->max_sessions, mode_names[nodes_mode(px->nodes)],
        read_from_names[cfg->read_from]);
    stats_printf(b,
                 "\"redis\":{\"reachable\":%s,\"tracking\":\"%s\","
                 "\"reason\":",
                 s->pool.down ? "false" : "true",
                 tracking_names[s->tracking.state]);
    json_str(b, s->tracking.reason);
    stats_printf(b, "},\"metrics\":{\"requests_total\":{");
    for (i = 0; i < METRICS_LISTENERS; i++) {
        stats_printf(b, "%s\"%s\":{", i > 0 ? "," : "", listener_names[i]);
        for (j = 0; j < METRICS_CLASSES; j++) {
            stats_printf(b, "%s\"%s\":%ld", j > 0 ? "," : "", class_names[j],
                         s->requests[i][j]);
        }
        stats_printf(b, "}");
    }
    stats_printf(b, "}");
    for (size_t r = 0; r < RP_ARRAY_LEN(rows); r++) {
        const char *label = rows[r].label, *q = strchr(label, '"');
        int last = r + 1 == RP_ARRAY_LEN(rows) || family_starts(r + 1);

        if (q == NULL) {
            stats_printf(b, ",\"%s\":%.17g", rows[r].name, row_value(s, r));
            continue;
        }
        /* key="v": the family is an object keyed by v */
        if (family_starts(r)) {
            stats_printf(b, ",\"%s\":{", rows[r].name);
        }
        stats_printf(b, "%s\"%.*s\":%.17g%s", family_starts(r) ? "" : ",",
                     (int)(strlen(q + 1) - 1), q + 1, row_value(s, r),
                     last ? "}" : "");
    }
    for (size_t r = 0; r < RP_ARRAY_LEN(node_rows); r++) {
        stats_printf(b, ",\"%s\":{", node_rows[r].name);
        for (i = 0; i < s->nnodes; i++) {
            stats_printf(b, "%s", i > 0 ? "," : "");
            json_str(b, s->nodes[i].addr);
            stats_printf(b, ":%.17g", node_value(&s->nodes[i], r));
        }
        stats_printf(b, "}");
    }
    stats_printf(b, ",\"auth_failures_by_user\":{");
    for (i = 0; i < s->nusers; i++) {
        stats_printf(b, "%s", i > 0 ? "," : "");
        json_str(b, s->users[i].name);
        stats_printf(b, ":{");
        for (j = 0; j < METRICS_LISTENERS; j++) {
            stats_printf(b, "%s\"%s\":%ld", j > 0 ? "," : "", listener_names[j],
                         s->users[i].failures[j]);
        }
        stats_printf(b, "}");
    }
    stats_printf(b, "}");
    json_histogram(b, s, 0);
    json_histogram(b, s, 1);
    stats_printf(b, "},\"nodes\":[");
    for (i = 0; i < s->nnodes; i++) {
        const struct node_stats *nd = &s->nodes[i];

        stats_printf(b, "%s{\"addr\":", i > 0 ? "," : "");
        json_str(b, nd->addr);
        stats_printf(b, ",\"role\":\"%s\",\"slots\":%d,\"ranges\":",
                     role_names[nd->role], nd->slots);
        json_str(b, nd->ranges);
        stats_printf(b, ",\"stream\":\"%s\",\"reason\":",
                     tracking_names[nd->tracking.state]);
        json_str(b, nd->tracking.reason);
        stats_printf(b,
                     ",\"pool_size\":%d,\"pool_in_use\":%d,"
                     "\"pool_connected\":%d,\"errors\":%ld,\"down\":%s,"
                     "\"master\":",
                     nd->pool.size, nd->pool.in_use, nd->pool.connected,
                     nd->pool.errors, nd->pool.down ? "true" : "false");
        json_str(b, nd->master_addr);
        stats_printf(b, ",\"in_sync\":%s,\"lag_bytes\":%lld,\"lag_ms\":%ld}",
                     nd->in_sync ? "true" : "false", nd->lag_bytes, nd->lag_ms);
    }
    stats_printf(b, "]");
    if (s->sentinel) {
        json_sentinel(s, b);
    }
    stats_printf(b, "}\n");
}
