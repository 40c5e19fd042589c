/*
 * respd: the Redis-protocol port: GET through the shared cache (fetch),
 * the proxy's own answers (PING, ECHO, QUIT, AUTH, HELLO, SELECT, RESET
 * and the CLIENT subcommands about the connection: resp_state.h), every
 * other command forwarded as a record (rcmd.h, route.h) or, when it gives
 * the connection state in Redis, on a session (session.h). Pipelined
 * commands are answered in order (the conn's fifo of records), with
 * Redis's own error texts.
 */
#ifndef RP_RESPD_H
#define RP_RESPD_H

#include "net/conn.h"

/* The Redis-protocol port's conn_ops; a conn's kind->ctx is the struct
 * proxy. */
extern const struct conn_ops respd_ops;

#endif
