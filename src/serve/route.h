/*
 * route: the one way a command record reaches Redis and its reply comes
 * back, standalone or a Redis Cluster behind it. The caller hands over a
 * record and goes on; the record is completed (rcmd_complete) on the
 * thread that got its last reply, after:
 *   - the command's parts went to their nodes' pipelines (one part
 *     standalone; in a cluster, the plan's: cplan.h), each on the
 *     pipeline the client's token picks, so one client's commands keep
 *     their order;
 *   - MOVED and ASK replies were followed (the one redirect handler,
 *     route_redirect, used by the cache's fills too), up to
 *     NODES_REDIRECTS times, without the client ever seeing one;
 *   - a split command's replies were merged;
 *   - what a write changed was invalidated, before anyone can see its
 *     reply (read-your-writes): the keys it may change, from Redis's key
 *     specs, or from COMMAND GETKEYS sent just before it where only Redis
 *     can tell; a write whose keys cannot be known, or a command Redis's
 *     table does not list, empties the cache (counted).
 * A failure (Redis unreachable, a connection lost with the command on
 * it) completes the record with the outcome; a write that failed is
 * invalidated as if it ran (it may have). With sentinels, a -READONLY
 * reply (a master demoted by a failover the proxy has not heard of yet)
 * is never relayed: the record waits for the new master (failover.h) and
 * is completed with `reroute` set, for its owner to send it again
 * (route_again). Thread-safe.
 */
#ifndef RP_ROUTE_H
#define RP_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "serve/rcmd.h"

struct proxy;

enum route_result {
    ROUTE_QUEUED = 0, /* r is Redis's until rcmd_complete */
    ROUTE_FULL = 1,   /* not sent: the pipeline is full; r's conn is woken
                         when there is room (try again then) */
    ROUTE_DONE = 2,   /* answered at once (a failure, or an answer of the
                         proxy's such as -CROSSSLOT): r's outcome is set
                         and r is still the caller's */
};

/* Sends r, an RCMD_FORWARD record, on the pipelines r->token picks (of
 * the node its keys say, or of r->pin when r->pinned); with
 * must, even over a pipeline's bounds (an HTTP request: one per conn at a
 * time). Returns an enum route_result. */
int route_submit(struct proxy *px, struct rcmd *r, int must);

/* The same for a command every master answers (a readiness PING): one
 * part per master, the first error or +OK as the reply. */
int route_submit_every(struct proxy *px, struct rcmd *r);

/* If reply[0..len) is a MOVED or ASK redirect, the node it names (the map
 * learns a MOVED), with *ask set; else -1. */
int route_redirect(struct proxy *px, const char *reply, size_t len, int *ask);

/*
 * r came back with `reroute` set (not run by a demoted master). When safe
 * (its owner knows no later command of the same client went to Redis
 * after it: a reply to it is all the client waits for), sends it again,
 * as route_submit, on the pipelines its token picks: returns ROUTE_QUEUED (r
 * is Redis's again) or ROUTE_DONE. When not safe, sets r's outcome to the
 * failover error (ROUTE_DONE). At most ROUTE_REROUTES times per record.
 */
int route_again(struct proxy *px, struct rcmd *r, int safe);
#define ROUTE_REROUTES 2

/* Why a command has no node to go to: the map, or the master, is not
 * known yet. */
const char *route_no_node(struct proxy *px);

/* The RESP form of ASKING, sent before a command redirected by ASK. */
#define ROUTE_ASKING "*1\r\n$6\r\nASKING\r\n"

#endif
