/*
 * admin: routes of the admin port; see admin.h.
 */
#include "serve/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/standby.h"
#include "serve/account.h"
#include "serve/auth.h"
#include "serve/http_conn.h"
#include "serve/httpd.h"
#include "serve/proxy.h"
#include "serve/stats.h"
#include "upstream/nodes.h"
#include "upstream/tracking.h"
#include "upstream/upstream.h"

/* Ready: every master answers PING and, with tracking on, its stream is
 * up. */
static int
readiness(struct proxy *px, char *why, size_t len)
{
    char err[UPSTREAM_ERR_MAX], reason[256];
    int masters[NODES_MAX], k, i, rc;

    if (proxy_cfg(px)->cache_tracking &&
        nodes_tracking_state(px->nodes, reason, sizeof(reason)) ==
            TRACKING_DOWN) {
        snprintf(why, len, "invalidation stream down: %s", reason);
        return 0;
    }
    k = nodes_masters(px->nodes, masters, NODES_MAX);
    if (k == 0) {
        snprintf(why, len, "redis not answering: no cluster slot map yet");
        return 0;
    }
    for (i = 0; i < k; i++) {
        standby_block_begin();
        rc = upstream_ping(nodes_pool(px->nodes, masters[i]), err);
        standby_block_end();
        if (rc != 0) {
            snprintf(why, len, "redis not answering: %s", err);
            return 0;
        }
    }
    snprintf(why, len, "ready");
    return 1;
}

/* /readyz's body after its first line: one line per node. */
static void
node_lines(const struct stats_snapshot *s, struct stats_buf *b)
{
    static const char *const streams[] = {"off", "down", "up"};
    int i;

    for (i = 0; i < s->nnodes; i++) {
        const struct node_stats *nd = &s->nodes[i];

        stats_printf(b,
                     "node %s %s slots=%d (%s) stream=%s pool=%d/%d "
                     "connected=%d%s\n",
                     nd->addr, nd->master ? "master" : "idle", nd->slots,
                     nd->ranges[0] ? nd->ranges : "none",
                     streams[nd->tracking.state], nd->pool.in_use,
                     nd->pool.size, nd->pool.connected,
                     nd->pool.down ? " down" : "");
    }
}

/* "/key/<key>": the dashboard's lookups, and its writes with [http]
 * writes = on, answered here on the admin port's own credentials, so the
 * page needs nothing of the data port's. */
#define KEY_PREFIX "/key/"

static int
is_key_route(const struct http_request *req)
{
    size_t n = sizeof(KEY_PREFIX) - 1;

    return req->path_len > n && memcmp(req->path, KEY_PREFIX, n) == 0;
}

/* /healthz and /readyz: open to every prober (no password, any Host),
 * and answered whatever else the port is doing. */
static int
is_probe(const struct http_request *req)
{
    return (req->path_len == 8 && memcmp(req->path, "/healthz", 8) == 0) ||
           (req->path_len == 7 && memcmp(req->path, "/readyz", 7) == 0);
}

/* routes.admit: probes pass; everything else needs an allowed Host and
 * the password (a browser asks for it). */
static int
admit(struct conn *c, const struct http_request *req)
{
    return !is_probe(req) && httpd_refuse(c, req, METRICS_ADMIN) != 0 ? -1 : 0;
}

static int
route(struct conn *c, const struct http_request *req, const char *body)
{
    struct proxy *px = c->kind->ctx;
    struct account_req a = {
        .listener = METRICS_ADMIN,
        .method = req->method_name,
        .method_len = req->method_len,
        .cache = ACCOUNT_NONE,
        .start_us = util_now_us(),
    };
    struct stats_buf b = {0};
    struct stats_snapshot s;
    struct http_reply r = {
        .status = 200,
        .type = "text/plain; charset=utf-8",
        .extra = "Cache-Control: no-store\r\n",
        .no_body = req->method == HTTP_METHOD_HEAD,
    };
    char why[400];
    int rc;
    const char *path = req->path;
    size_t plen = req->path_len;

#define ROUTE(p) (plen == sizeof(p) - 1 && memcmp(path, p, plen) == 0)
    if (is_key_route(req)) {
        size_t n = sizeof(KEY_PREFIX) - 1;

        return httpd_key(c, req, c->rbuf + (req->path - c->rbuf) + n,
                         req->path_len - n, body, METRICS_ADMIN);
    } else if (req->method != HTTP_METHOD_GET &&
               req->method != HTTP_METHOD_HEAD) {
        r.status = 405;
        r.extra = "Allow: GET, HEAD\r\nCache-Control: no-store\r\n";
        stats_printf(&b, "method not allowed\n");
    } else if (ROUTE("/metrics")) {
        stats_take(px, &s);
        stats_prometheus(&s, &b);
        r.type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (ROUTE("/stats.json")) {
        stats_take(px, &s);
        stats_json(px, &s, &b);
        r.type = "application/json";
    } else if (ROUTE("/healthz")) {
        stats_printf(&b, "ok\n");
    } else if (ROUTE("/readyz")) {
        r.status = readiness(px, why, sizeof(why)) ? 200 : 503;
        stats_printf(&b, "%s\n", why);
        stats_take(px, &s);
        node_lines(&s, &b);
    } else if (ROUTE("/")) {
        /* Never inside another site's frame (clickjacking). */
        r.extra = "Cache-Control: no-store\r\nX-Frame-Options: DENY\r\n"
                  "Content-Security-Policy: frame-ancestors 'none'\r\n";
        r.type = "text/html; charset=utf-8";
        r.body = admin_dashboard_html;
        r.body_len = admin_dashboard_html_len;
        r.body_static = 1;
    } else {
        r.status = 404;
        stats_printf(&b, "not found\n");
    }
#undef ROUTE
    if (b.failed) {
        r.status = 500;
    } else if (r.body == NULL) {
        r.body = b.p != NULL ? b.p : "";
        r.body_len = b.len;
    }
    rc = http_conn_send(c, req, &r);
    free(b.p);
    a.status = r.status;
    account_request(px, &a);
    return rc < 0 || !req->keep_alive ? -1 : 0;
}

static size_t
body_max(struct conn *c, const struct http_request *req)
{
    return is_key_route(req) ? httpd_body_max(c->kind->ctx, req) : 0;
}

static const struct http_routes routes = {
    .admit = admit, .route = route, .body_max = body_max};

static int
serve(struct conn *c)
{
    return http_conn_process(c, &routes, METRICS_ADMIN);
}

const struct conn_ops admin_ops = {
    .name = "admin",
    .serve = serve,
    .expired = http_conn_expired,
    .busy = http_conn_busy,
};
