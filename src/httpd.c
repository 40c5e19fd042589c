/*
 * httpd: request -> response for the HTTP listener; see httpd.h.
 *
 * A response is a header block formatted on the stack plus the value,
 * written from the cache entry itself (the entry's reference keeps it alive
 * after the cache lock is gone), so a hit allocates nothing.
 */
#include "httpd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fetch.h"
#include "http.h"
#include "util.h"

#define TYPE_TEXT "text/plain; charset=utf-8"
#define TYPE_BINARY "application/octet-stream"

const char httpd_busy_response[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 28\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    "max number of clients reached\n";
const size_t httpd_busy_response_len = sizeof(httpd_busy_response) - 1;

/* What one response needs to be written. */
struct reply {
    int status;
    const char *type;  /* Content-Type */
    const char *extra; /* more header lines, each ending in CRLF, or "" */
    const char *body;
    size_t body_len;
    int no_body;    /* HEAD: headers only */
    int keep_alive; /* 0: "Connection: close" */
    int http10;     /* HTTP/1.0 keep-alive needs an explicit header */
};

static int
send_reply(struct conn *c, const struct reply *r)
{
    char head[512];
    struct iovec iov[2];
    int n;

    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "X-Content-Type-Options: nosniff\r\n"
                 "%s%s\r\n",
                 r->status, http_reason(r->status), r->type, r->body_len,
                 r->extra,
                 !r->keep_alive ? "Connection: close\r\n"
                 : r->http10    ? "Connection: keep-alive\r\n"
                                : "");
    if (n < 0 || (size_t)n >= sizeof(head)) {
        return CONN_IO_ERR;
    }
    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)n;
    iov[1].iov_base = (void *)r->body;
    iov[1].iov_len = r->no_body ? 0 : r->body_len;
    return conn_write(c, iov, 2);
}

/* A short text response: the body is msg, a newline appended. */
static int
send_text(struct conn *c, const struct http_request *req, int status,
          const char *extra, const char *msg, int keep_alive)
{
    char body[UPSTREAM_ERR_MAX + 64];
    int n = snprintf(body, sizeof(body), "%s\n", msg);
    struct reply r = {
        .status = status,
        .type = TYPE_TEXT,
        .extra = extra,
        .body = body,
        .body_len = n < 0 ? 0 : (size_t)n >= sizeof(body) ? sizeof(body) - 1
                                                          : (size_t)n,
        .no_body = req != NULL && req->method == HTTP_METHOD_HEAD,
        .keep_alive = keep_alive,
        .http10 = req != NULL && req->minor_version == 0,
    };
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

static int
send_entry(struct conn *c, const struct http_request *req,
           const struct cache_entry *e, int how)
{
    struct reply r = {
        .status = 200,
        .type = (e->flags & FETCH_FLAG_UTF8) ? TYPE_TEXT : TYPE_BINARY,
        .extra = how == FETCH_HIT     ? "X-Cache: HIT\r\n"
                 : how == FETCH_STALE ? "X-Cache: STALE\r\n"
                                      : "X-Cache: MISS\r\n",
        .body = cache_entry_value(e),
        .body_len = e->vlen,
        .no_body = req->method == HTTP_METHOD_HEAD,
        .keep_alive = req->keep_alive,
        .http10 = req->minor_version == 0,
    };
    return send_reply(c, &r);
}

/* Serves one parsed request. Returns 0, or -1 to close the conn. */
static int
serve(struct proxy *px, struct conn *c, const struct http_request *req)
{
    struct fetch_result res;
    char *key;
    long klen;
    int rc, ka = req->keep_alive;

    if (req->method == HTTP_METHOD_OTHER) {
        rc = send_text(c, req, 405, "Allow: GET, HEAD\r\n",
                       "method not allowed", ka);
        return rc < 0 || !ka ? -1 : 0;
    }
    /* The path lies in c->rbuf, which this worker owns: decode in place. */
    key = c->rbuf + (req->path - c->rbuf) + 1;
    klen = http_percent_decode(key, req->path_len - 1);
    if (klen <= 0) {
        send_text(c, req, 400, "",
                  klen < 0 ? "bad percent-encoding in key" : "empty key", 0);
        return -1;
    }
    rc = fetch_get(px, key, (size_t)klen, &res);
    switch (rc) {
    case FETCH_HIT:
    case FETCH_MISS:
    case FETCH_STALE:
        rc = send_entry(c, req, res.entry, rc);
        cache_release(res.entry);
        break;
    case FETCH_NOTFOUND:
        rc = send_text(c, req, 404, "", "not found", ka);
        break;
    case FETCH_EREPLY:
        if (strncmp(res.err, "WRONGTYPE", 9) == 0) {
            rc = send_text(c, req, 409, "", res.err, ka);
        } else if (strncmp(res.err, "LOADING", 7) == 0 ||
                   strncmp(res.err, "BUSY", 4) == 0 ||
                   strncmp(res.err, "MASTERDOWN", 10) == 0 ||
                   strncmp(res.err, "TRYAGAIN", 8) == 0) {
            rc = send_text(c, req, 503, "Retry-After: 1\r\n", res.err, ka);
        } else {
            rc = send_text(c, req, 502, "", res.err, ka);
        }
        break;
    case FETCH_EDOWN:
        rc = send_text(c, req, 503, "Retry-After: 1\r\n", res.err, ka);
        break;
    case FETCH_ETIMEOUT:
        rc = send_text(c, req, 504, "", res.err, ka);
        break;
    default:
        rc = send_text(c, req, 500, "", "out of memory", ka);
        break;
    }
    return rc < 0 || !ka ? -1 : 0;
}

int
httpd_process(struct proxy *px, struct conn *c)
{
    struct http_request req;
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
        rc = http_parse_request(c->rbuf + c->rpos, avail, &req);
        if (rc == HTTP_INCOMPLETE) {
            if (c->req_start_ms == 0) {
                c->req_start_ms = util_now_ms();
            }
            return 0;
        }
        if (rc < 0) {
            int status = status_for_parse_error(rc);
            send_text(c, NULL, status, "", text_for_status(status), 0);
            return -1;
        }
        c->req_start_ms = 0;
        conn_consume(c, req.head_len);
        c->discard = (size_t)req.content_length;
        if (serve(px, c, &req) < 0) {
            return -1;
        }
    }
}
