/*
 * httpd: the HTTP data port: GET and HEAD /<key> through the shared lookup
 * path (fetch), and with [http] writes = on PUT and DELETE through the
 * forwarding path (route.h), on the request loop of http_conn; a request
 * that waits for Redis holds its conn (nothing more is read from it) but
 * no worker (http_conn_pend).
 *
 * Every response carries Date and Content-Length (except 304). A value
 * carries X-Cache, ETag (a hash of the value, computed once per entry, on
 * its first HTTP response), Age on hits and Cache-Control: max-age=<seconds
 * of TTL left>; If-None-Match gets 304. Errors carry Cache-Control:
 * no-store. A request from the dashboard's origin gets CORS headers.
 */
#ifndef RP_HTTPD_H
#define RP_HTTPD_H

#include "base/metrics.h"
#include "net/conn.h"
#include "proto/http.h"

struct proxy;

/* The data port's conn_ops; a conn's kind->ctx is the struct proxy. */
extern const struct conn_ops httpd_ops;

/*
 * Answers req for the key key[0..len) (still percent-encoded; decoded in
 * place, so it must lie in c's rbuf): GET and HEAD through the cache, and
 * with [http] writes = on, PUT (SET, the body as value, ?ex=SECONDS) and
 * DELETE (DEL), which invalidate the entry before answering (204; DELETE
 * of a missing key 404); other methods 405 with Allow. Accounted under
 * listener. For the data port and the admin port's /key/ route. Returns
 * 0, or -1 to close.
 */
int httpd_key(struct conn *c, const struct http_request *req, char *key,
              size_t len, const char *body, enum metrics_listener listener);

/*
 * The checks of a request's head, before its body is read (both HTTP
 * listeners): without a password, a Host that is not one of the proxy's
 * names (hosts.h) gets 421; then a request without the password (or a
 * [users] user's) gets 401 with the challenge (counted and logged as a
 * failure on listener), and a read user's PUT or DELETE (with [http]
 * writes on) 403, before its body is read.
 * Accounted under listener. Returns 0 when req may go on, 1 when it was
 * refused and the conn stays open, -1 when refused and the conn closes
 * (req->keep_alive was 0).
 */
int httpd_refuse(struct conn *c, const struct http_request *req,
                 enum metrics_listener listener);

/* The largest body httpd_key takes for req: max_body for a PUT with
 * writes on, else 0. */
size_t httpd_body_max(const struct proxy *px, const struct http_request *req);

struct rcmd;

/* Answers a request httpd_key left pending, from its record (an
 * http_routes finish for both HTTP listeners). */
int httpd_finish(struct conn *c, const struct http_request *req, struct rcmd *r,
                 int timed_out, enum metrics_listener listener);

#endif
