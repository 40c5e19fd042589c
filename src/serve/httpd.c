/*
 * httpd: the data port's route, GET/HEAD /<key>; see httpd.h.
 *
 * A value's response is the head built on the stack plus the value written
 * from the cache entry itself (the entry's reference keeps it alive after
 * the cache lock is gone), so a hit allocates nothing.
 */
#include "serve/httpd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/hash.h"
#include "base/util.h"
#include "cache/cache.h"
#include "proto/http_out.h"
#include "serve/account.h"
#include "serve/auth.h"
#include "serve/fetch.h"
#include "serve/http_conn.h"
#include "serve/proxy.h"

/* cache_entry.notes bits this module sets (see entry_notes). */
#define NOTE_DONE 0x1u /* note holds the ETag hash, NOTE_UTF8 is valid */
#define NOTE_UTF8 0x2u /* the value is valid UTF-8 */

/* The entry's ETag hash and UTF-8 flag, computed on its first HTTP
 * response and kept on the entry. Two threads may race to compute them;
 * they store the same values. */
static unsigned
entry_notes(struct cache_entry *e, uint64_t *etag)
{
    unsigned n = atomic_load_explicit(&e->notes, memory_order_acquire);

    if (!(n & NOTE_DONE)) {
        const char *v = cache_entry_value(e);

        atomic_store_explicit(&e->note, hash_bytes(0, v, e->vlen),
                              memory_order_relaxed);
        n = NOTE_DONE | (http_is_utf8(v, e->vlen) ? NOTE_UTF8 : 0);
        atomic_store_explicit(&e->notes, n, memory_order_release);
    }
    *etag = atomic_load_explicit(&e->note, memory_order_relaxed);
    return n;
}

/*
 * CORS for the dashboard: the page, served from the admin port, may read
 * the data port's answers. Allowed: an Origin "http(s)://H:<admin port>"
 * whose host H is the host this request was sent to (its Host header,
 * without the port), i.e. the dashboard of this very proxy.
 */
static int
origin_allowed(const struct proxy *px, const struct http_request *req)
{
    const char *o = req->origin, *h = req->host, *colon;
    size_t olen = req->origin_len, hlen = req->host_len, ohost;
    char port[16];
    int n;

    if (o == NULL || h == NULL || px->cfg->admin_port == 0 || olen > 256) {
        return 0;
    }
    n = snprintf(port, sizeof(port), ":%d", px->cfg->admin_port);
    if (olen <= (size_t)n || memcmp(o + olen - n, port, (size_t)n) != 0) {
        return 0;
    }
    if (olen > 7 && strncasecmp(o, "http://", 7) == 0) {
        o += 7, olen -= 7;
    } else if (olen > 8 && strncasecmp(o, "https://", 8) == 0) {
        o += 8, olen -= 8;
    } else {
        return 0;
    }
    ohost = olen - (size_t)n;
    colon = memrchr(h, ':', hlen);
    if (colon != NULL &&
        memchr(colon, ']', hlen - (size_t)(colon - h)) == NULL) {
        hlen = (size_t)(colon - h); /* drop the port, not an IPv6 colon */
    }
    return ohost == hlen && strncasecmp(o, h, hlen) == 0;
}

/* The CORS lines for an allowed origin, and Vary whenever the admin port
 * makes answers depend on Origin. */
static void
head_cors(struct http_head *h, const struct proxy *px,
          const struct http_request *req)
{
    if (px->cfg->admin_port == 0) {
        return;
    }
    http_head_lit(h, "Vary: Origin\r\n");
    if (origin_allowed(px, req)) {
        http_head_lit(h, "Access-Control-Allow-Origin: ");
        http_head_mem(h, req->origin, req->origin_len);
        http_head_lit(h, "\r\nAccess-Control-Expose-Headers: X-Cache, ETag, "
                         "Age\r\n");
    }
}

/* A short text response with the CORS lines after the extra ones. */
static int
send_text(struct proxy *px, struct conn *c, const struct http_request *req,
          int status, const char *extra, const char *msg, int keep_alive)
{
    char lines[HTTP_HEAD_MAX / 2];
    struct http_head h;

    http_head_init(&h, lines, sizeof(lines) - 1);
    http_head_str(&h, extra);
    head_cors(&h, px, req);
    if (h.overflow) {
        return CONN_IO_ERR;
    }
    *h.p = '\0';
    return http_conn_text(c, req, status, lines, msg, keep_alive);
}

/* The value's response: 200 (or 304 when If-None-Match matches). */
static int
send_entry(struct proxy *px, struct conn *c, const struct http_request *req,
           struct cache_entry *e, int how, int *status)
{
    char lines[HTTP_HEAD_MAX / 2], tag[HTTP_ETAG_LEN];
    struct http_head h;
    int64_t left = cache_entry_ttl_left(px->cache, e);
    uint64_t etag;
    unsigned notes = entry_notes(e, &etag);
    struct http_reply r = {
        .status = 200,
        .type = (notes & NOTE_UTF8) ? HTTP_TYPE_TEXT : HTTP_TYPE_BINARY,
        .extra = lines,
        .entry = e,
        .no_body = req->method == HTTP_METHOD_HEAD,
    };

    http_head_init(&h, lines, sizeof(lines) - 1);
    http_etag_format(tag, etag);
    http_head_lit(&h, "X-Cache: ");
    if (how == FETCH_HIT) {
        http_head_lit(&h, "HIT");
    } else if (how == FETCH_STALE) {
        http_head_lit(&h, "STALE");
    } else {
        http_head_lit(&h, "MISS");
    }
    http_head_lit(&h, "\r\nETag: ");
    http_head_mem(&h, tag, sizeof(tag));
    if (how == FETCH_STALE || left == 0) {
        http_head_lit(&h, "\r\nCache-Control: max-age=0\r\n");
    } else if (left < 0 || px->cfg->cache_capacity == 0) {
        /* Never expires (an invalidation may still come), or the cache is
         * off and the value is not held: revalidate every time. */
        http_head_lit(&h, "\r\nCache-Control: no-cache\r\n");
    } else {
        http_head_lit(&h, "\r\nCache-Control: max-age=");
        http_head_u64(&h, (uint64_t)(left / 1000));
        http_head_lit(&h, "\r\n");
    }
    if (how != FETCH_MISS) {
        http_head_lit(&h, "Age: ");
        http_head_u64(&h, (uint64_t)cache_entry_age_s(px->cache, e));
        http_head_lit(&h, "\r\n");
    }
    head_cors(&h, px, req);
    if (h.overflow) {
        return CONN_IO_ERR;
    }
    *h.p = '\0';
    if (req->if_none_match != NULL &&
        http_etag_matches(req->if_none_match, req->if_none_match_len, tag,
                          sizeof(tag))) {
        r.status = 304;
        r.type = NULL;
        r.no_body = 1;
    }
    *status = r.status;
    return http_conn_send(c, req, &r);
}

static enum account_cache
cache_outcome(int how)
{
    switch (how) {
    case FETCH_HIT:
        return ACCOUNT_HIT;
    case FETCH_STALE:
        return ACCOUNT_STALE;
    default:
        return ACCOUNT_MISS;
    }
}

/* Answers a failed lookup. Returns the status sent in *status. */
static int
send_failure(struct proxy *px, struct conn *c, const struct http_request *req,
             int how, const char *err, int *status)
{
    int ka = req->keep_alive;

    switch (how) {
    case FETCH_NOTFOUND:
        *status = 404;
        return send_text(px, c, req, 404, "", "not found", ka);
    case FETCH_EREPLY:
        *status = account_redis_error_status(err);
        return send_text(px, c, req, *status,
                         *status == 503 ? "Retry-After: 1\r\n" : "", err, ka);
    case FETCH_EDOWN:
        *status = 503;
        return send_text(px, c, req, 503, "Retry-After: 1\r\n", err, ka);
    case FETCH_ETIMEOUT:
        *status = 504;
        return send_text(px, c, req, 504, "", err, ka);
    default:
        *status = 500;
        return send_text(px, c, req, 500, "", "out of memory", ka);
    }
}

/* Serves one parsed data-port request. Returns 0, or -1 to close. */
static int
route(struct conn *c, const struct http_request *req)
{
    struct proxy *px = c->kind->ctx;
    struct account_req a = {
        .listener = METRICS_HTTP,
        .method = req->method_name,
        .method_len = req->method_len,
        .status = 500,
        .cache = ACCOUNT_NONE,
        .start_us = util_now_us(),
    };
    struct fetch_result res;
    char *key;
    long klen;
    int rc, how, ka = req->keep_alive;

    if (!auth_http_ok(px, req)) {
        auth_failed(px, METRICS_HTTP);
        a.status = 401;
        rc = send_text(px, c, req, 401, AUTH_HTTP_CHALLENGE,
                       "authentication required", ka);
        goto done;
    }
    if (req->method == HTTP_METHOD_OTHER) {
        a.status = 405;
        rc = send_text(px, c, req, 405, "Allow: GET, HEAD\r\n",
                       "method not allowed", ka);
        goto done;
    }
    /* The path lies in c->rbuf, which this worker owns: decode in place. */
    key = c->rbuf + (req->path - c->rbuf) + 1;
    klen = http_percent_decode(key, req->path_len - 1);
    if (klen <= 0) {
        a.status = 400;
        ka = 0;
        rc = send_text(px, c, req, 400, "",
                       klen < 0 ? "bad percent-encoding in key" : "empty key",
                       0);
        goto done;
    }
    a.key_len = (size_t)klen;
    how = fetch_get(px, key, (size_t)klen, &res);
    a.cache = cache_outcome(how);
    if (how == FETCH_HIT || how == FETCH_MISS || how == FETCH_STALE) {
        rc = send_entry(px, c, req, res.entry, how, &a.status);
        a.bytes = a.status == 200 && req->method == HTTP_METHOD_GET
                      ? res.entry->vlen
                      : 0;
        cache_release(res.entry);
    } else {
        rc = send_failure(px, c, req, how, res.err, &a.status);
    }
done:
    account_request(px, &a);
    return rc < 0 || !ka ? -1 : 0;
}

static int
serve(struct conn *c)
{
    return http_conn_process(c, route, METRICS_HTTP);
}

const struct conn_ops httpd_ops = {
    .name = "http",
    .serve = serve,
    .expired = http_conn_expired,
    .busy = http_conn_busy,
};
