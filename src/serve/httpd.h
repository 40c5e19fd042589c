/*
 * httpd: HTTP/1.1 semantics on top of the http parser: turns each complete
 * request buffered on a conn into a response, in order, so pipelined
 * requests are answered in the order sent. The data listener serves
 * GET/HEAD /<key> through fetch; the admin listener routes to admin.c
 * through the same loop and response writer.
 *
 * Every response carries Date and Content-Length (except 304). A value
 * carries X-Cache, ETag (computed once, when the entry was stored), Age on
 * hits and Cache-Control: max-age=<seconds of TTL left>; If-None-Match
 * gets 304. Errors carry Cache-Control: no-store.
 */
#ifndef RP_HTTPD_H
#define RP_HTTPD_H

#include <stddef.h>

#include "net/conn.h"
#include "proto/http.h"
#include "serve/proxy.h"

/*
 * Answers every complete request in c's read buffer, appending responses to
 * c's output. Returns 0 when the conn stays open (a partial request may
 * remain; c->req_start_ms is set then), or -1 when it must be closed after
 * the output is flushed (Connection: close, HTTP/1.0, an error that ends
 * the connection, or a failed write). Called by the conn's owning worker.
 */
int httpd_process(struct proxy *px, struct conn *c);

/*
 * Appends one complete response: status, Content-Type, the extra header
 * lines (each ending in CRLF, or ""), Date, Content-Length and the body
 * (omitted for HEAD). Returns 0 or CONN_IO_ERR. For admin.c.
 */
int httpd_send(struct conn *c, const struct http_request *req, int status,
               const char *type, const char *extra, const char *body,
               size_t len);

/* Formats the IMF-fixdate for now into out (at least 30 bytes); cached per
 * thread for the current second. Returns out. */
const char *httpd_date(char *out);

/*
 * Formats into out a complete response that is sent outside a worker's
 * write path and followed by close: 503 (the accept loop, to a connection
 * over max_clients) or 408 (a request that did not arrive within
 * request_timeout). It carries the headers every response carries (Date,
 * X-Content-Type-Options, Cache-Control: no-store). Returns its length, or
 * 0 when cap is too small or status is neither. Thread-safe.
 */
size_t httpd_final_response(char *out, size_t cap, int status);

#endif
