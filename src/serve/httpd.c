/*
 * httpd: request -> response for the HTTP listeners; see httpd.h.
 *
 * A response is a header block formatted on the stack plus the value,
 * written from the cache entry itself (the entry's reference keeps it alive
 * after the cache lock is gone), so a hit allocates nothing.
 */
#include "serve/httpd.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "serve/admin.h"
#include "serve/fetch.h"
#include "base/log.h"
#include "base/util.h"

#define TYPE_TEXT "text/plain; charset=utf-8"
#define TYPE_BINARY "application/octet-stream"
#define HEAD_MAX 1024

/* One response being written. */
struct reply {
    int status;
    const char *type;  /* Content-Type, or NULL for none (304) */
    const char *extra; /* more header lines, each ending in CRLF, or "" */
    const char *body;
    size_t body_len;
    int no_body;    /* HEAD or 304: headers only */
    int keep_alive; /* 0: "Connection: close" */
    int http10;     /* HTTP/1.0 keep-alive needs an explicit header */
};

const char *
httpd_date(char *out)
{
    static _Thread_local time_t cached_sec;
    static _Thread_local char cached[32];
    time_t now = time(NULL);

    if (now != cached_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_sec = now;
    }
    memcpy(out, cached, sizeof(cached));
    return out;
}

/* A header block under construction: bytes are appended with memcpy, so
 * the hot path never runs printf. Overflow is sticky and checked once. */
struct hbuf {
    char *p, *end;
    int overflow;
};

static void
hb_mem(struct hbuf *b, const char *s, size_t n)
{
    if (n > (size_t)(b->end - b->p)) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p, s, n);
    b->p += n;
}

#define hb_lit(b, s) hb_mem((b), (s), sizeof(s) - 1)

static void
hb_str(struct hbuf *b, const char *s)
{
    hb_mem(b, s, strlen(s));
}

static void
hb_u64(struct hbuf *b, uint64_t v)
{
    char tmp[20];
    int i = (int)sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    hb_mem(b, tmp + i, sizeof(tmp) - (size_t)i);
}

/* The quoted entity-tag of a 64-bit hash: 18 bytes. */
static void
format_etag(char out[18], uint64_t h)
{
    static const char hex[] = "0123456789abcdef";
    int i;

    out[0] = out[17] = '"';
    for (i = 16; i >= 1; i--) {
        out[i] = hex[h & 15];
        h >>= 4;
    }
}

static int
send_reply(struct conn *c, const struct reply *r)
{
    char head[HEAD_MAX], date[32], status[4];
    struct hbuf b = {head, head + sizeof(head), 0};
    struct iovec iov[2];

    status[0] = (char)('0' + r->status / 100 % 10);
    status[1] = (char)('0' + r->status / 10 % 10);
    status[2] = (char)('0' + r->status % 10);
    status[3] = ' ';
    hb_lit(&b, "HTTP/1.1 ");
    hb_mem(&b, status, 4);
    hb_str(&b, http_reason(r->status));
    hb_lit(&b, "\r\n");
    if (r->type != NULL) {
        hb_lit(&b, "Content-Type: ");
        hb_str(&b, r->type);
        hb_lit(&b, "\r\n");
    }
    if (r->status != 304) {
        hb_lit(&b, "Content-Length: ");
        hb_u64(&b, r->body_len);
        hb_lit(&b, "\r\n");
    }
    hb_lit(&b, "Date: ");
    hb_str(&b, httpd_date(date));
    hb_lit(&b, "\r\nX-Content-Type-Options: nosniff\r\n");
    hb_str(&b, r->extra);
    if (!r->keep_alive) {
        hb_lit(&b, "Connection: close\r\n");
    } else if (r->http10) {
        hb_lit(&b, "Connection: keep-alive\r\n");
    }
    hb_lit(&b, "\r\n");
    if (b.overflow) {
        return CONN_IO_ERR;
    }
    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)(b.p - head);
    iov[1].iov_base = (void *)r->body;
    iov[1].iov_len = r->no_body ? 0 : r->body_len;
    return conn_write(c, iov, 2);
}

int
httpd_send(struct conn *c, const struct http_request *req, int status,
           const char *type, const char *extra, const char *body, size_t len)
{
    struct reply r = {
        .status = status,
        .type = type,
        .extra = extra,
        .body = body,
        .body_len = len,
        .no_body = req != NULL && req->method == HTTP_METHOD_HEAD,
        .keep_alive = req != NULL && req->keep_alive,
        .http10 = req != NULL && req->minor_version == 0,
    };
    return send_reply(c, &r);
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
hb_cors(struct hbuf *b, const struct proxy *px, const struct http_request *req)
{
    if (req == NULL || px->cfg->admin_port == 0) {
        return;
    }
    hb_lit(b, "Vary: Origin\r\n");
    if (origin_allowed(px, req)) {
        hb_lit(b, "Access-Control-Allow-Origin: ");
        hb_mem(b, req->origin, req->origin_len);
        hb_lit(b, "\r\nAccess-Control-Expose-Headers: X-Cache, ETag, Age\r\n");
    }
}

/* A short text response: the body is msg, a newline appended. */
static int
send_text(const struct proxy *px, struct conn *c,
          const struct http_request *req, int status, const char *extra,
          const char *msg, int keep_alive)
{
    char body[FLIGHT_ERR_MAX + 64];
    char hdrs[768];
    struct hbuf b = {hdrs, hdrs + sizeof(hdrs) - 1, 0};
    int n = snprintf(body, sizeof(body), "%s\n", msg);
    struct reply r = {
        .status = status,
        .type = TYPE_TEXT,
        .extra = hdrs,
        .body = body,
        .body_len = n < 0                       ? 0
                    : (size_t)n >= sizeof(body) ? sizeof(body) - 1
                                                : (size_t)n,
        .no_body = req != NULL && req->method == HTTP_METHOD_HEAD,
        .keep_alive = keep_alive,
        .http10 = req != NULL && req->minor_version == 0,
    };

    hb_lit(&b, "Cache-Control: no-store\r\n");
    hb_str(&b, extra);
    hb_cors(&b, px, req);
    if (b.overflow) {
        return CONN_IO_ERR;
    }
    *b.p = '\0';
    return send_reply(c, &r);
}

static int
status_for_parse_error(int rc)
{
    switch (rc) {
    case HTTP_ETARGET:
        return 414;
    case HTTP_EHEADERS:
        return 431;
    case HTTP_EVERSION:
        return 505;
    case HTTP_EBODY:
        return 413;
    default:
        return 400;
    }
}

static const char *
text_for_status(int status)
{
    switch (status) {
    case 414:
        return "request-target too long";
    case 431:
        return "request header fields too large";
    case 505:
        return "HTTP version not supported";
    case 413:
        return "request body too large";
    default:
        return "bad request";
    }
}

/* Does If-None-Match (a list of entity-tags, or "*") match tag ("...")?
 * Weak comparison, as RFC 9110 13.1.2 asks for GET. */
static int
etag_matches(const char *inm, size_t len, const char *tag, size_t tlen)
{
    const char *end = inm + len;

    while (inm < end) {
        const char *start;

        while (inm < end && (*inm == ' ' || *inm == '\t' || *inm == ',')) {
            inm++;
        }
        if (inm < end && *inm == '*') {
            return 1;
        }
        if (end - inm >= 2 && inm[0] == 'W' && inm[1] == '/') {
            inm += 2;
        }
        start = inm;
        if (inm < end && *inm == '"') {
            inm++;
            while (inm < end && *inm != '"') {
                inm++;
            }
            inm += inm < end;
        } else {
            while (inm < end && *inm != ',') {
                inm++;
            }
        }
        if ((size_t)(inm - start) == tlen && memcmp(start, tag, tlen) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The value's response: 200 (or 304 when If-None-Match matches). */
static int
send_entry(struct proxy *px, struct conn *c, const struct http_request *req,
           const struct cache_entry *e, int how, int *status)
{
    char hdrs[720], tag[18];
    struct hbuf b = {hdrs, hdrs + sizeof(hdrs) - 1, 0};
    int64_t left = cache_entry_ttl_left(px->cache, e);
    struct reply r = {
        .status = 200,
        .type = (e->flags & FETCH_FLAG_UTF8) ? TYPE_TEXT : TYPE_BINARY,
        .extra = hdrs,
        .body = cache_entry_value(e),
        .body_len = e->vlen,
        .no_body = req->method == HTTP_METHOD_HEAD,
        .keep_alive = req->keep_alive,
        .http10 = req->minor_version == 0,
    };

    format_etag(tag, e->etag);
    hb_lit(&b, "X-Cache: ");
    if (how == FETCH_HIT) {
        hb_lit(&b, "HIT");
    } else if (how == FETCH_STALE) {
        hb_lit(&b, "STALE");
    } else {
        hb_lit(&b, "MISS");
    }
    hb_lit(&b, "\r\nETag: ");
    hb_mem(&b, tag, sizeof(tag));
    if (how == FETCH_STALE || left == 0) {
        hb_lit(&b, "\r\nCache-Control: max-age=0\r\n");
    } else if (left < 0 || px->cfg->cache_capacity == 0) {
        /* Never expires (an invalidation may still come), or the cache is
         * off and the value is not held: revalidate every time. */
        hb_lit(&b, "\r\nCache-Control: no-cache\r\n");
    } else {
        hb_lit(&b, "\r\nCache-Control: max-age=");
        hb_u64(&b, (uint64_t)(left / 1000));
        hb_lit(&b, "\r\n");
    }
    if (how != FETCH_MISS) {
        hb_lit(&b, "Age: ");
        hb_u64(&b, (uint64_t)cache_entry_age_s(px->cache, e));
        hb_lit(&b, "\r\n");
    }
    hb_cors(&b, px, req);
    if (b.overflow) {
        return CONN_IO_ERR;
    }
    *b.p = '\0';
    if (req->if_none_match != NULL &&
        etag_matches(req->if_none_match, req->if_none_match_len, tag,
                     sizeof(tag))) {
        r.status = 304;
        r.type = NULL;
        r.no_body = 1;
    }
    *status = r.status;
    return send_reply(c, &r);
}

/* One access-log line and the metrics for one answered request. */
static void
account(struct proxy *px, const struct http_request *req, int status, int how,
        size_t key_len, size_t bytes, int64_t t0)
{
    int64_t us = util_now_us() - t0;

    metrics_request(&px->metrics, METRICS_HTTP, status);
    if (how == FETCH_HIT) {
        metrics_observe(&px->metrics.hit, us);
    } else if (how != -1) {
        metrics_observe(&px->metrics.miss, us); /* Redis was asked */
    }
    if (px->cfg->log_access) {
        log_info("msg=\"access\" proto=http method=%.*s status=%d cache=%s "
                 "key_len=%zu bytes=%zu us=%lld",
                 (int)(req->method_len < 16 ? req->method_len : 16),
                 req->method_name, status,
                 how == -1            ? "none"
                 : how == FETCH_HIT   ? "hit"
                 : how == FETCH_STALE ? "stale"
                                      : "miss",
                 key_len, bytes, (long long)us);
    }
}

/* Serves one parsed data-port request. Returns 0, or -1 to close. */
static int
serve(struct proxy *px, struct conn *c, const struct http_request *req)
{
    struct fetch_result res;
    int64_t t0 = util_now_us();
    char *key;
    long klen = 0;
    int rc, how = -1, status = 500, ka = req->keep_alive;
    size_t bytes = 0;

    if (req->method == HTTP_METHOD_OTHER) {
        status = 405;
        rc = send_text(px, c, req, 405, "Allow: GET, HEAD\r\n",
                       "method not allowed", ka);
        goto done;
    }
    /* The path lies in c->rbuf, which this worker owns: decode in place. */
    key = c->rbuf + (req->path - c->rbuf) + 1;
    klen = http_percent_decode(key, req->path_len - 1);
    if (klen <= 0) {
        status = 400;
        ka = 0;
        rc = send_text(px, c, req, 400, "",
                       klen < 0 ? "bad percent-encoding in key" : "empty key",
                       0);
        goto done;
    }
    how = fetch_get(px, key, (size_t)klen, &res);
    switch (how) {
    case FETCH_HIT:
    case FETCH_MISS:
    case FETCH_STALE:
        rc = send_entry(px, c, req, res.entry, how, &status);
        bytes = status == 200 && req->method == HTTP_METHOD_GET
                    ? res.entry->vlen
                    : 0;
        cache_release(res.entry);
        break;
    case FETCH_NOTFOUND:
        status = 404;
        rc = send_text(px, c, req, 404, "", "not found", ka);
        break;
    case FETCH_EREPLY:
        if (strncmp(res.err, "WRONGTYPE", 9) == 0) {
            status = 409;
            rc = send_text(px, c, req, 409, "", res.err, ka);
        } else if (strncmp(res.err, "LOADING", 7) == 0 ||
                   strncmp(res.err, "BUSY", 4) == 0 ||
                   strncmp(res.err, "MASTERDOWN", 10) == 0 ||
                   strncmp(res.err, "TRYAGAIN", 8) == 0) {
            status = 503;
            rc = send_text(px, c, req, 503, "Retry-After: 1\r\n", res.err, ka);
        } else {
            status = 502;
            rc = send_text(px, c, req, 502, "", res.err, ka);
        }
        break;
    case FETCH_EDOWN:
        status = 503;
        rc = send_text(px, c, req, 503, "Retry-After: 1\r\n", res.err, ka);
        break;
    case FETCH_ETIMEOUT:
        status = 504;
        rc = send_text(px, c, req, 504, "", res.err, ka);
        break;
    default:
        status = 500;
        rc = send_text(px, c, req, 500, "", "out of memory", ka);
        break;
    }
done:
    account(px, req, status, how, klen > 0 ? (size_t)klen : 0, bytes, t0);
    return rc < 0 || !ka ? -1 : 0;
}

int
httpd_process(struct proxy *px, struct conn *c)
{
    struct http_request *req = &c->req;
    int rc;

    for (;;) {
        size_t avail = c->rlen - c->rpos;

        if (c->discard > 0) {
            size_t n = c->discard < avail ? c->discard : avail;
            conn_consume(c, n);
            c->discard -= n;
            avail -= n;
        }
        if (avail == 0) {
            if (c->discard == 0) {
                c->req_start_ms = 0;
            } else if (c->req_start_ms == 0) {
                c->req_start_ms = util_now_ms();
            }
            return 0;
        }
        rc = http_parse_request_resume(c->rbuf + c->rpos, avail, c->parsed_len,
                                       req);
        c->parsed_len = rc == HTTP_INCOMPLETE ? avail : 0;
        if (rc == HTTP_INCOMPLETE) {
            if (c->req_start_ms == 0) {
                c->req_start_ms = util_now_ms();
            }
            return 0;
        }
        if (rc < 0) {
            int status = status_for_parse_error(rc);
            metrics_request(
                &px->metrics,
                c->proto == CONN_ADMIN ? METRICS_ADMIN : METRICS_HTTP, status);
            send_text(px, c, NULL, status, "", text_for_status(status), 0);
            return -1;
        }
        c->req_start_ms = 0;
        conn_consume(c, req->head_len);
        c->discard = (size_t)req->content_length;
        rc = c->proto == CONN_ADMIN ? admin_serve(px, c, req)
                                    : serve(px, c, req);
        if (rc < 0) {
            return -1;
        }
    }
}

size_t
httpd_final_response(char *out, size_t cap, int status)
{
    const char *body, *extra;
    char date[32];
    int n;

    if (status == 503) {
        body = "max number of clients reached\n";
        extra = "Retry-After: 1\r\n";
    } else if (status == 408) {
        body = "request timeout\n";
        extra = "";
    } else {
        return 0;
    }
    n = snprintf(out, cap,
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: %zu\r\nDate: %s\r\n"
                 "X-Content-Type-Options: nosniff\r\n"
                 "%sCache-Control: no-store\r\n"
                 "Connection: close\r\n\r\n%s",
                 status, http_reason(status), strlen(body), httpd_date(date),
                 extra, body);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}
