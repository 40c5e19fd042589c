/*
 * failover: what a change of master (a Sentinel failover, nodes.h's
 * nodes_set_master) means to the clients, in sentinel mode.
 *
 *   - Sessions (serve/session.h) are bound to the node they opened on. A
 *     session registers a pin (failover_pin); at a switch every conn
 *     whose session is pinned to another node than the new master is
 *     woken (waiter_wake), and its owner ends the session with
 *     FAILOVER_SESSION_ENDED and closes the client (failover_session_gone
 *     says when), so a client blocked or subscribed on the old master
 *     learns of it at once instead of waiting on a server nobody writes
 *     to any more.
 *   - A write the master refused with -READONLY (it was demoted before
 *     the proxy heard of the failover) was not run: Redis refuses before
 *     executing. Its record is parked here (failover_park) and the
 *     sentinels asked again at once; when the new master is published the
 *     record is completed with `reroute` set, and its owner sends it there
 *     (route_again) if that keeps the client's order, else answers the
 *     failover error; when no new master comes within FAILOVER_WAIT_MS
 *     the record gets that error. -READONLY itself never reaches a client.
 *
 * Threads: the switch hook runs on the sentinel thread, the tick on the
 * waiter's; pins and parked records are added and removed by workers.
 * `lock` (a leaf: nothing is taken under it; records are completed and
 * conns woken after it is released) guards both lists.
 */
#ifndef RP_FAILOVER_H
#define RP_FAILOVER_H

#include <stdint.h>

#include "serve/rcmd.h"

struct proxy;
struct failover;

#define FAILOVER_WAIT_MS 3000 /* a -READONLY waits this long for a master */

#define FAILOVER_SESSION_ENDED                                                 \
    "-ERR the master changed (failover): session ended\r\n"

/* One session's registration, embedded in it. */
struct failover_pin {
    struct failover_pin *prev, *next; /* the failover's lock */
    int node;                         /* the node it is bound to */
    uint32_t slot, gen;               /* its conn, to wake */
};

/* Creates the state for px. Returns NULL when out of memory. */
struct failover *failover_create(struct proxy *px);

/* Frees it; parked records are failed first. NULL is a no-op. After the
 * workers and the sentinel thread have stopped. */
void failover_destroy(struct failover *f);

/* The node table's switch hook (nodes_on_switch; arg is the proxy):
 * completes every parked record with `reroute`, wakes the conns of
 * sessions pinned elsewhere, and points the spare connections at the new
 * master. */
void failover_switched(void *arg, int old, int now);

/* Registers pin (node, and its conn's slot/gen) / removes it. No-ops
 * outside sentinel mode. Thread-safe. */
void failover_pin(struct proxy *px, struct failover_pin *pin, int node,
                  uint32_t slot, uint32_t gen);
void failover_unpin(struct proxy *px, struct failover_pin *pin);

/* 1 when a session on node must end: the master is now another node. */
int failover_session_gone(struct proxy *px, int node);

/* Parks r, refused by node as a demoted master (see the top); when the
 * master is another node already, completes it with `reroute` at once.
 * The record is the failover's until it is completed. Thread-safe. */
void failover_park(struct proxy *px, struct rcmd *r, int node);

/* For the waiter's tick: fails the parked records whose wait is over. */
void failover_tick(struct proxy *px);

/* Records parked now (the admin port). Thread-safe. */
long failover_waiting(struct proxy *px);

#endif
