/*
 * respd: Redis-protocol semantics on top of the resp parser: GET through the
 * shared cache (fetch), PING, ECHO, QUIT and COMMAND, with Redis's own
 * error texts. Pipelined commands are answered in order.
 */
#ifndef RP_RESPD_H
#define RP_RESPD_H

#include "net/conn.h"

/* The Redis-protocol port's conn_ops; a conn's kind->ctx is the struct
 * proxy. */
extern const struct conn_ops respd_ops;

#endif
