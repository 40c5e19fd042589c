/*
 * http_conn: the request loop and the response writer of both HTTP
 * listeners; see http_conn.h. A response is a head built on the stack plus
 * the body written from where it lies (a cache entry, a static page), so
 * a hit allocates nothing.
 */
#include "serve/http_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/util.h"
#include "cache/cache.h"
#include "proto/http_out.h"
#include "serve/fetch.h"
#include "serve/proxy.h"
#include "serve/rcmd.h"
#include "serve/route.h"

/* An HTTP conn's state (c->proto), made when a request first pends. */
struct http_state {
    struct rcmd *pending; /* the record the request at rpos waits for */
    size_t keep;          /* that request's body bytes held in rbuf */
};

void
http_conn_pend(struct conn *c, struct rcmd *r)
{
    struct http_state *st = c->proto;

    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL) {
            rcmd_abandon(r); /* the conn then closes: its route fails */
            return;
        }
        c->proto = st;
    }
    st->pending = r;
}

void
http_conn_release(struct conn *c)
{
    struct http_state *st = c->proto;

    if (st != NULL) {
        if (st->pending != NULL) {
            rcmd_abandon(st->pending);
        }
        free(st);
        c->proto = NULL;
    }
}

/* Consumes the request at rpos (its head, and its body: held, or to be
 * skipped). */
static void
consume_request(struct conn *c, const struct http_request *req, size_t keep)
{
    if (keep > 0) {
        conn_consume(c, req->head_len + (size_t)req->content_length);
    } else {
        conn_consume(c, req->head_len);
        c->discard = (size_t)req->content_length;
    }
}

/* The request at rpos waits for its record: answers it once the record
 * is done (or overdue). Returns 0 with *waiting set while it still waits,
 * 0 when answered, or -1 to close. */
static int
finish_pending(struct conn *c, const struct http_routes *routes, int *waiting)
{
    struct http_state *st = c->proto;
    struct rcmd *r = st->pending;
    int64_t now = util_now_ms();
    int done = rcmd_done(r), rc;

    *waiting = 0;
    if (done && r->reroute && route_again(c->kind->ctx, r, 1) == ROUTE_QUEUED) {
        done = 0; /* a write the old master refused: to the new one (an
                     HTTP conn has one request out at a time) */
    }
    if (!done && (r->deadline_ms == 0 || now < r->deadline_ms)) {
        *waiting = 1;
        c->stalled = 1;
        c->waiting = 1;
        c->pump = 1;
        c->wait_deadline_ms = r->deadline_ms;
        return 0;
    }
    st->pending = NULL;
    c->stalled = c->waiting = c->pump = 0;
    c->wait_deadline_ms = 0;
    rc = routes->finish(c, &c->req, r, !done);
    if (done) {
        rcmd_free(r);
    } else {
        rcmd_abandon(r);
    }
    consume_request(c, &c->req, st->keep);
    return rc;
}

#define HTTP_TEXT_MAX 320 /* bytes of a short text body */

/* The release of a static body: nothing to do. */
static void
forget(void *owner)
{
    (void)owner;
}

int
http_conn_send(struct conn *c, const struct http_request *req,
               const struct http_reply *r)
{
    char head[HTTP_HEAD_MAX];
    struct http_head h;
    struct http_head_info i = {
        .status = r->status,
        .type = r->type,
        .length = r->body_len,
        .extra = r->extra,
        .keep_alive = req != NULL && req->keep_alive,
        .http10_keep_alive = req != NULL && req->minor_version == 0,
    };
    size_t n;

    if (r->entry != NULL) {
        i.length = r->entry->vlen;
    }
    http_head_init(&h, head, sizeof(head));
    n = http_head_write(&h, &i);
    if (n == 0 || conn_write_buf(c, head, n) < 0) {
        return CONN_IO_ERR;
    }
    if (r->no_body) {
        return 0;
    }
    if (r->entry != NULL) {
        return fetch_write_value(c, r->entry);
    }
    if (r->body_static && r->body_len > FETCH_COPY_MAX) {
        return conn_write_ref(c, r->body, r->body_len, forget, NULL);
    }
    return conn_write_buf(c, r->body, r->body_len);
}

int
http_conn_text(struct conn *c, const struct http_request *req, int status,
               const char *extra, const char *msg, int keep_alive)
{
    char body[HTTP_TEXT_MAX], hdrs[HTTP_HEAD_MAX / 2];
    struct http_request copy;
    size_t n = strlen(msg) < sizeof(body) - 1 ? strlen(msg) : sizeof(body) - 1;
    int m =
        snprintf(hdrs, sizeof(hdrs), "Cache-Control: no-store\r\n%s", extra);
    struct http_reply r = {
        .status = status,
        .type = HTTP_TYPE_TEXT,
        .extra = hdrs,
        .body = body,
        .body_len = n + 1,
        .no_body = req != NULL && req->method == HTTP_METHOD_HEAD,
    };

    if (m < 0 || (size_t)m >= sizeof(hdrs)) {
        return CONN_IO_ERR;
    }
    /* A longer message is cut, and still ends with its newline. */
    memcpy(body, msg, n);
    body[n] = '\n';
    if (req != NULL && !keep_alive && req->keep_alive) {
        copy = *req;
        copy.keep_alive = 0;
        req = &copy;
    }
    return http_conn_send(c, req, &r);
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

/* Is c's request body over its limit? A body the route takes is held
 * up to its own limit; any other is read and thrown away, up to
 * HTTP_CONN_DISCARD_MAX. */
static int
body_too_large(const struct http_request *req, size_t keep)
{
    uint64_t n = (uint64_t)req->content_length;

    return keep > 0 ? n > keep : n > HTTP_CONN_DISCARD_MAX;
}

/*
 * Runs routes->admit on a complete head, once per request. Returns 0 when
 * it was admitted, 1 when it was refused and the conn goes on with the
 * next request (the body skipped), -1 when it was refused and the conn
 * closes.
 */
static int
admission(struct conn *c, const struct http_routes *routes,
          const struct http_request *req)
{
    struct http_request head;

    if (c->admitted || routes->admit == NULL) {
        c->admitted = 1;
        return 0;
    }
    head = *req;
    if (req->expect_continue || req->content_length > HTTP_CONN_DISCARD_MAX) {
        head.keep_alive = 0; /* its body is not coming, or not worth it */
    }
    if (routes->admit(c, &head) == 0) {
        c->admitted = 1;
        return 0;
    }
    c->req_start_ms = 0;
    conn_consume(c, req->head_len);
    c->discard = (size_t)req->content_length;
    return head.keep_alive ? 1 : -1;
}

/* The client waits for a 100 before it sends the body the route takes. */
static int
send_continue(struct conn *c, const struct http_request *req)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

    if (!req->expect_continue || req->minor_version == 0 || c->continued) {
        return 0;
    }
    c->continued = 1;
    return conn_write_buf(c, cont, sizeof(cont) - 1);
}

int
http_conn_process(struct conn *c, const struct http_routes *routes,
                  enum metrics_listener listener)
{
    struct http_request *req = &c->req;
    struct proxy *px = c->kind->ctx;
    int rc;

    for (;;) {
        size_t avail, keep = 0, need;
        int waiting;

        if (c->proto != NULL &&
            ((struct http_state *)c->proto)->pending != NULL) {
            if (finish_pending(c, routes, &waiting) < 0) {
                return -1;
            }
            if (waiting) {
                return 0; /* its record's completion wakes the conn */
            }
        }
        avail = c->rlen - c->rpos;
        if (conn_out_full(c)) {
            return 0; /* back-pressure: the rest waits in rbuf */
        }
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
        /* A head arriving in pieces is checked once, not once per read. */
        rc = http_parse_request_resume(c->rbuf + c->rpos, avail, c->parsed_len,
                                       req);
        c->parsed_len = rc == HTTP_INCOMPLETE ? avail : 0;
        if (rc == HTTP_OK) {
            int admit = admission(c, routes, req);

            if (admit < 0) {
                return -1;
            }
            if (admit > 0) {
                continue;
            }
            keep = routes->body_max != NULL ? routes->body_max(c, req) : 0;
            if (body_too_large(req, keep)) {
                rc = HTTP_EBODY;
            }
        }
        if (rc == HTTP_OK && keep > 0 &&
            avail < (need = req->head_len + (size_t)req->content_length)) {
            /* A body the route needs whole: wait for it (its size is
             * within the route's limit). */
            rc = HTTP_INCOMPLETE;
            if (send_continue(c, req) < 0 || conn_reserve(c, need) < 0) {
                return -1;
            }
        }
        if (rc == HTTP_INCOMPLETE) {
            if (c->req_start_ms == 0) {
                c->req_start_ms = util_now_ms();
            }
            return 0;
        }
        if (rc < 0) {
            int status = status_for_parse_error(rc);

            c->admitted = c->continued = 0;
            metrics_request(&px->metrics, listener, status);
            http_conn_text(c, NULL, status, "", text_for_status(status), 0);
            return -1;
        }
        c->req_start_ms = 0;
        c->admitted = c->continued = 0;
        /* The request's fields point into rbuf: consume after routing. */
        rc = routes->route(c, req,
                           keep > 0 ? c->rbuf + c->rpos + req->head_len : NULL);
        if (rc == HTTP_CONN_PENDING) {
            if (c->proto == NULL) {
                return -1; /* out of memory in http_conn_pend */
            }
            ((struct http_state *)c->proto)->keep = keep;
            continue; /* finish_pending says when it waits */
        }
        consume_request(c, req, keep);
        if (rc < 0) {
            return -1;
        }
    }
}

void
http_conn_expired(struct conn *c)
{
    char buf[512];
    size_t n;

    if (c->req_start_ms == 0) {
        return; /* idle: nothing was asked, nothing to say */
    }
    n = http_canned(buf, sizeof(buf), 408);
    /* Best effort, one non-blocking send: the peer is not reading. */
    conn_send_now(c, buf, n);
}

size_t
http_conn_busy(char *out, size_t cap)
{
    return http_canned(out, cap, 503);
}
