/*
 * keeper: the upstream layer's housekeeping thread, for the work that may
 * block (it opens connections with rconn_open and waits for replies). Once
 * a second it refreshes a cluster's slot map when due or asked for
 * (nodes_tick); when Redis has come back after it was unreachable (it may
 * have been upgraded, or have loaded modules), it reads the command table
 * again (commands_load); and it keeps the spare connections sessions start
 * on (spares.h) topped up, at once when one is taken. The pipelines' own
 * timing (connect deadlines, reconnects) runs on the waiter's tick
 * instead (nodes_tick_pipes), and a lost tracked connection is reported to
 * the invalidation stream by reach (tracking_conn_lost).
 *
 * Stop it (keeper_destroy) before the node table is destroyed.
 */
#ifndef RP_KEEPER_H
#define RP_KEEPER_H

#include "upstream/commands.h"
#include "upstream/nodes.h"
#include "upstream/spares.h"

struct keeper;

/* Starts the thread over the nodes n, the command table cmds and the
 * spare connections sp (NULL: none; all outliving it). Returns NULL on
 * failure. */
struct keeper *keeper_create(struct nodes *n, struct commands *cmds,
                             struct spares *sp);

/* Stops and joins the thread, frees it. NULL is a no-op. */
void keeper_destroy(struct keeper *k);

#endif
