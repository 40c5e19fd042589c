/*
 * httpd: the HTTP data port: GET and HEAD /<key> through the shared lookup
 * path (fetch), on the request loop of http_conn.
 *
 * Every response carries Date and Content-Length (except 304). A value
 * carries X-Cache, ETag (a hash of the value, computed once per entry, on
 * its first HTTP response), Age on hits and Cache-Control: max-age=<seconds
 * of TTL left>; If-None-Match gets 304. Errors carry Cache-Control:
 * no-store. A request from the dashboard's origin gets CORS headers.
 */
#ifndef RP_HTTPD_H
#define RP_HTTPD_H

#include "net/conn.h"

/* The data port's conn_ops; a conn's kind->ctx is the struct proxy. */
extern const struct conn_ops httpd_ops;

#endif
