/*
 * respd: Redis-protocol semantics on top of the resp parser: GET through the
 * shared cache (fetch), PING, ECHO, QUIT and COMMAND, with Redis's own
 * error texts. Pipelined commands are answered in order.
 */
#ifndef RP_RESPD_H
#define RP_RESPD_H

#include "net/conn.h"
#include "serve/proxy.h"

/*
 * Answers every complete command in c's read buffer, appending replies to
 * c's output. Returns 0 when the conn stays open (c->req_start_ms is set
 * when a partial command remains), or -1 when it must be closed after the
 * output is flushed (QUIT, a protocol error, a failed write). Called by the
 * conn's owning worker.
 */
int respd_process(struct proxy *px, struct conn *c);

/* The reply sent (by the accept loop) to a connection over max_clients. */
extern const char respd_busy_response[];
extern const size_t respd_busy_response_len;

#endif
