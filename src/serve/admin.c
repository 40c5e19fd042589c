/*
 * admin: routes of the admin port; see admin.h.
 */
#include "serve/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/worker.h"
#include "proto/resp_reply.h"
#include "serve/account.h"
#include "serve/auth.h"
#include "serve/http_conn.h"
#include "serve/httpd.h"
#include "serve/outcome.h"
#include "serve/proxy.h"
#include "serve/rcmd.h"
#include "serve/route.h"
#include "serve/stats.h"
#include "upstream/nodes.h"
#include "upstream/tracking.h"
#include "upstream/upstream.h"

#define TAG_READY 1 /* rcmd.tag of a readiness probe */

/* Ready: every master answers PING and, with tracking on, its stream is
 * up. The stream's state is known here; the PINGs go out as one record
 * (route_submit_every) and /readyz is answered when their replies come.
 * Returns 1 (ready), 0 (not: why says so) or HTTP_CONN_PENDING (*probe
 * is the record, sent). */
static int
readiness(struct proxy *px, struct conn *c, char *why, size_t len,
          struct rcmd **probe)
{
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    char reason[256];
    struct rcmd *r;

    if (proxy_cfg(px)->cache_tracking &&
        nodes_tracking_state(px->nodes, reason, sizeof(reason)) ==
            TRACKING_DOWN) {
        snprintf(why, len, "invalidation stream down: %s", reason);
        return 0;
    }
    r = rcmd_new(px, c, RCMD_FORWARD, sizeof(ping) - 1);
    if (r == NULL) {
        snprintf(why, len, "out of memory");
        return 0;
    }
    memcpy(r->raw, ping, sizeof(ping) - 1);
    r->raw_len = sizeof(ping) - 1;
    r->known = 1; /* a read: nothing to invalidate */
    r->http = 1;
    r->tag = TAG_READY;
    r->start_us = util_now_us();
    r->deadline_ms = util_now_ms() + proxy_cfg(px)->command_timeout_ms;
    r->token = worker_index();
    if (route_submit_every(px, r) == ROUTE_QUEUED) {
        *probe = r;
        return HTTP_CONN_PENDING;
    }
    snprintf(why, len, "redis not answering: %s",
             outcome_text(r->status, r->err));
    rcmd_free(r);
    return 0;
}

/* The probe's outcome: ready, or why not. */
static int
probe_result(const struct rcmd *r, int timed_out, char *why, size_t len)
{
    const char *msg;
    size_t mlen;

    if (timed_out) {
        snprintf(why, len,
                 "redis not answering: no reply within the "
                 "command timeout");
        return 0;
    }
    if (r->status < 0) {
        snprintf(why, len, "redis not answering: %s",
                 outcome_text(r->status, r->err));
        return 0;
    }
    if (resp_reply_error(r->reply, r->reply_len, &msg, &mlen)) {
        /* A part's failure, as "ERR redis unavailable: ..." */
        if (mlen > 4 && memcmp(msg, "ERR ", 4) == 0) {
            msg += 4;
            mlen -= 4;
        }
        snprintf(why, len, "redis not answering: %.*s", (int)mlen, msg);
        return 0;
    }
    snprintf(why, len, "ready");
    return 1;
}

/* /readyz's body after its first line: one line per node, and with
 * sentinels the master they name and one line per sentinel. */
static void
node_lines(const struct stats_snapshot *s, struct stats_buf *b)
{
    static const char *const streams[] = {"off", "down", "up"};
    static const char *const roles[] = {"idle", "master", "replica"};
    int i;

    for (i = 0; i < s->nnodes; i++) {
        const struct node_stats *nd = &s->nodes[i];

        stats_printf(b,
                     "node %s %s slots=%d (%s) stream=%s pool=%d/%d "
                     "connected=%d%s%s%s",
                     nd->addr, roles[nd->role], nd->slots,
                     nd->ranges[0] ? nd->ranges : "none",
                     streams[nd->tracking.state], nd->pool.in_use,
                     nd->pool.size, nd->pool.connected,
                     nd->pool.down ? " down" : "",
                     nd->master_addr[0] ? " of=" : "", nd->master_addr);
        if (nd->role == NODE_REPLICA && s->replica_reads) {
            stats_printf(b, " %s lag=%ldms", nd->in_sync ? "in-sync" : "unused",
                         nd->lag_ms);
        }
        stats_printf(b, "\n");
    }
    if (!s->sentinel) {
        return;
    }
    stats_printf(b, "sentinel master %s %s failovers=%ld reachable=%d/%d\n",
                 s->sent.master_name,
                 s->sent.master[0] ? s->sent.master : "unknown",
                 s->sent.failovers, s->sent.reachable, s->sent.nservers);
    for (i = 0; i < s->sent.nservers; i++) {
        const struct sentinel_server_stats *sv = &s->sent.server[i];

        stats_printf(b, "sentinel %s %s%s%s%s\n", sv->addr,
                     sv->up ? "up" : "down",
                     sv->subscribed ? " subscribed" : "",
                     sv->error[0] ? ": " : "", sv->error);
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
        struct rcmd *probe = NULL;
        int ready = readiness(px, c, why, sizeof(why), &probe);

        if (ready == HTTP_CONN_PENDING) {
            http_conn_pend(c, probe);
            free(b.p);
            return HTTP_CONN_PENDING; /* answered by finish */
        }
        r.status = ready ? 200 : 503;
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

/* /readyz answered from its probe, or a key route's record. */
static int
finish(struct conn *c, const struct http_request *req, struct rcmd *pr,
       int timed_out)
{
    struct proxy *px = c->kind->ctx;
    struct account_req a = {
        .listener = METRICS_ADMIN,
        .method = req->method_name,
        .method_len = req->method_len,
        .cache = ACCOUNT_NONE,
        .start_us = pr->start_us,
    };
    struct stats_buf b = {0};
    struct stats_snapshot s;
    struct http_reply r = {
        .type = "text/plain; charset=utf-8",
        .extra = "Cache-Control: no-store\r\n",
        .no_body = req->method == HTTP_METHOD_HEAD,
    };
    char why[400];
    int rc;

    if (pr->tag != TAG_READY) {
        return httpd_finish(c, req, pr, timed_out, METRICS_ADMIN);
    }
    r.status = probe_result(pr, timed_out, why, sizeof(why)) ? 200 : 503;
    stats_printf(&b, "%s\n", why);
    stats_take(px, &s);
    node_lines(&s, &b);
    if (b.failed) {
        r.status = 500;
    }
    r.body = b.p != NULL ? b.p : "";
    r.body_len = b.len;
    rc = http_conn_send(c, req, &r);
    free(b.p);
    a.status = r.status;
    account_request(px, &a);
    return rc < 0 || !req->keep_alive ? -1 : 0;
}

static const struct http_routes routes = {
    .admit = admit, .route = route, .finish = finish, .body_max = body_max};

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
    .release = http_conn_release,
};
