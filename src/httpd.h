/*
 * httpd: HTTP/1.1 semantics on top of the http parser: turns each complete
 * request buffered on a conn into a response (GET/HEAD /<key> through
 * fetch), in order, so pipelined requests are answered in the order sent.
 */
#ifndef RP_HTTPD_H
#define RP_HTTPD_H

#include "conn.h"
#include "proxy.h"

/*
 * Answers every complete request in c's read buffer, appending responses to
 * c's output. Returns 0 when the conn stays open (a partial request may
 * remain; c->req_start_ms is set then), or -1 when it must be closed after
 * the output is flushed (Connection: close, HTTP/1.0, an error that ends
 * the connection, or a failed write). Called by the conn's owning worker.
 */
int httpd_process(struct proxy *px, struct conn *c);

/* The complete response sent (by the accept loop) to a connection over
 * max_clients, and its length. */
extern const char httpd_busy_response[];
extern const size_t httpd_busy_response_len;

#endif
