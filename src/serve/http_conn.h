/*
 * http_conn: HTTP/1.1 connection handling shared by the data port (httpd)
 * and the admin port (admin): the request loop over a conn's read buffer
 * (pipelined requests answered in order, request bodies skipped, parse
 * errors answered with their status and the connection closed), writing a
 * response through proto/http_out, and the conn_ops hooks both HTTP
 * listeners share (408 at a deadline, 503 over the budget).
 */
#ifndef RP_HTTP_CONN_H
#define RP_HTTP_CONN_H

#include <stddef.h>

#include "base/metrics.h"
#include "net/conn.h"
#include "proto/http.h"

#define HTTP_TYPE_TEXT "text/plain; charset=utf-8"
#define HTTP_TYPE_BINARY "application/octet-stream"

/* One response. */
struct cache_entry;

struct http_reply {
    int status;
    const char *type;  /* Content-Type, or NULL for none (304) */
    const char *extra; /* more header lines, each ending in CRLF, or "" */
    const char *body;  /* (ignored when entry is set) */
    size_t body_len;
    struct cache_entry *entry; /* the body is this entry's value (the
                                  caller keeps its reference), or NULL */
    int body_static;           /* body lives as long as the process */
    int no_body;               /* HEAD or 304: headers only */
};

/* Bodies a route does not take (a GET's) are read and dropped up to this
 * size; larger ones are a 413. */
#define HTTP_CONN_DISCARD_MAX 65536

struct rcmd;

/* route() handed a record to Redis (http_conn_pend): the response comes
 * when it is answered. */
#define HTTP_CONN_PENDING 1

/* What a listener does with its requests. */
struct http_routes {
    /* Decides on req as soon as its head is complete, before a byte of
     * its body is read or a 100 Continue sent: returns 0 to go on (the
     * body, then route), or -1 after answering req itself (a refusal:
     * 401, 421). A refused request's body is never buffered: up to
     * HTTP_CONN_DISCARD_MAX it is read and dropped, a larger one (or one
     * the client holds back for a 100 Continue) closes the conn, which
     * req->keep_alive already says for the answer. May be NULL. */
    int (*admit)(struct conn *c, const struct http_request *req);
    /* Serves one parsed request on c; body is its body (content_length
     * bytes) when body_max asked for it, else NULL. Returns 0, -1 to
     * close the conn once its output is flushed, or HTTP_CONN_PENDING
     * after http_conn_pend(): then the request stays where it is in
     * c->rbuf (nothing more is read meanwhile) until finish() answers. */
    int (*route)(struct conn *c, const struct http_request *req,
                 const char *body);
    /* Answers req from its record r, now DONE, or overdue (timed_out 1:
     * r is still Redis's and must not be touched beyond its request
     * fields). Returns 0 or -1 as route. NULL when route never pends. */
    int (*finish)(struct conn *c, const struct http_request *req,
                  struct rcmd *r, int timed_out);
    /* The largest body the route takes for req (held whole in rbuf before
     * route runs; over it: 413), or 0 for one it does not take. May be
     * NULL: no route takes bodies. */
    size_t (*body_max)(struct conn *c, const struct http_request *req);
};

/*
 * Answers every complete request in c's read buffer through routes, in
 * order: each head is admitted (routes->admit) before its body is read;
 * a body the route takes is then awaited (after a "100 Continue" when
 * the client asked for one with Expect). Returns 0 when the conn stays open (a
 * partial request may remain; c->req_start_ms is set then), or -1 when it must
 * be closed after the output is flushed. Parse errors are answered here (400,
 * 413, 414, 431, 505), counted under listener, and close the conn.
 */
int http_conn_process(struct conn *c, const struct http_routes *routes,
                      enum metrics_listener listener);

/* Makes r (handed to Redis, or to a fill) the record the request route()
 * is serving waits for; route() then returns HTTP_CONN_PENDING. */
void http_conn_pend(struct conn *c, struct rcmd *r);

/* conn_ops release for both HTTP listeners: abandons a record still
 * waiting. */
void http_conn_release(struct conn *c);

/* Appends r as the response to req (NULL: an error before any request was
 * parsed; the conn closes). The head is copied; a large body is queued by
 * reference when it is an entry's value or static, else copied. Returns 0
 * or CONN_IO_ERR. */
int http_conn_send(struct conn *c, const struct http_request *req,
                   const struct http_reply *r);

/* Appends a short text response: the body is msg (cut past 319 bytes)
 * and a newline, with
 * Cache-Control: no-store and the extra lines. keep_alive 0 closes the
 * conn after it. Returns 0 or CONN_IO_ERR. */
int http_conn_text(struct conn *c, const struct http_request *req, int status,
                   const char *extra, const char *msg, int keep_alive);

/* conn_ops hooks for both HTTP listeners: a 408 to a conn holding a
 * partial request at its deadline; the 503 for a conn over its budget. */
void http_conn_expired(struct conn *c);
size_t http_conn_busy(char *out, size_t cap);

#endif
