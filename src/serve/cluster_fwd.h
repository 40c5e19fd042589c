/*
 * cluster_fwd: a forward batch (forward.h) run on a Redis Cluster, so that
 * a client sees one standalone Redis.
 *
 * Each command goes to the master owning the slot of its keys. Commands
 * whose keys span slots are split when Redis Cluster clients split them
 * too: MGET, MSET, DEL, UNLINK, EXISTS and TOUCH become one sub-command
 * per slot, and their replies are merged into one in the client's key
 * order (MGET's array, MSET's +OK, the others' sum); any other such
 * command gets Redis Cluster's own -CROSSSLOT error. Commands without keys
 * go to one master, except those whose answer covers the whole keyspace:
 * DBSIZE (summed), KEYS (concatenated), RANDOMKEY (any master that has
 * one), FLUSHALL and FLUSHDB (every master), and SCAN, whose cursor
 * carries the node it is on (cursor * NODES_MAX + node), so iterating
 * visits every master once. CLUSTER commands are refused.
 *
 * A reply of MOVED or ASK is followed by the proxy (ASK: ASKING then the
 * command on the target, MOVED: the map is updated) up to NODES_REDIRECTS
 * times; the client never sees a redirect. Replies are collected per
 * command and appended in request order once the batch is done.
 */
#ifndef RP_CLUSTER_FWD_H
#define RP_CLUSTER_FWD_H

#include "serve/forward_cmd.h"

struct proxy;

/* forward_flush's cluster half: runs cmds[0..n), hands every reply in
 * order to on_reply(arg, i, reply, len). Returns 0, or -1 when on_reply
 * failed for any. */
int cluster_fwd_run(struct proxy *px, const struct forward_cmd *cmds, size_t n,
                    int (*on_reply)(void *arg, size_t i, const char *reply,
                                    size_t len),
                    void *arg);

/* The error a CLUSTER command gets through the proxy. */
#define CLUSTER_FWD_REFUSED                                                    \
    "ERR CLUSTER commands are not served: this proxy presents the cluster "    \
    "as one Redis"

#endif
