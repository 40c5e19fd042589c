/*
 * keeper: the upstream layer's housekeeping thread. Once a second it looks
 * at every node's idle pooled connections (nodes_tick), refreshes a
 * cluster's slot map when due, so a tracked data
 * connection that Redis closed while it sat idle is noticed, and the cache
 * entries it read are expired, within a second rather than at its next use;
 * and when the pool has reconnected after Redis was down (Redis may have
 * been upgraded, or have loaded modules), it reads the command table
 * again (commands_load). It also keeps the spare connections sessions
 * start on (spares.h) topped up, at once when one is taken.
 *
 * It exists so that neither the pool nor the invalidation stream has to
 * drive the other: the pool tells the stream about lost connections
 * (tracking_conn_lost), the stream knows nothing of the pool, and this
 * thread, above both, keeps time. Stop it (keeper_destroy) before the
 * pool is destroyed.
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
