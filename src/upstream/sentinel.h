/*
 * sentinel: follows the master that Redis Sentinel names ([redis]
 * sentinels, master_name, sentinel_user, sentinel_password), on a thread
 * of its own, the way Sentinel's client guidelines describe: ask the
 * sentinels (SENTINEL get-master-addr-by-name), connect to the address
 * they name and check with ROLE that it is a master before using it,
 * listen for +switch-master on every sentinel (a pub/sub connection to
 * each), and ask again every SENTINEL_ASK_MS, whenever a connection to the
 * master fails or a write comes back -READONLY (nodes_want_refresh wakes
 * the thread), and at once on a +switch-master. A new master is made the
 * node table's (nodes_set_master: the cache is emptied before and after
 * it is published, and the switch hook ends what was bound to the old
 * one). With replica reads ([redis] read_from), the master's replicas come
 * from SENTINEL replicas <name> (those the sentinels see up, with their
 * link to the master up).
 *
 * When the sentinels disagree, the addresses named by more of them are
 * tried first, and the first that says ROLE master wins; an address named
 * by a +switch-master message is tried before any. When no sentinel
 * answers, the master stays what it was: the proxy keeps serving the last
 * master it knew.
 *
 * Connections to the sentinels are the [redis] target's (its timeouts,
 * and its TLS settings when the target carries them) with the sentinel's
 * address and [redis] sentinel_user / sentinel_password, database 0.
 *
 * Threads: the sentinel thread does all the I/O; sentinel_stats is read
 * by the admin port under `lock`, which guards the figures only.
 */
#ifndef RP_SENTINEL_H
#define RP_SENTINEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "upstream/nodes.h"

#define SENTINEL_MAX 16        /* sentinels listed at most */
#define SENTINEL_ASK_MS 1000   /* the sentinels are asked this often */
#define SENTINEL_MIN_GAP_MS 50 /* and never more often than this */

struct sentinel;
struct redisReply;

/*
 * Makes the follower of the sentinels cfg lists for the node table n (in
 * sentinel mode; both outlive it), speaking TLS to them and to Redis with
 * tls (NULL: plain TCP; it outlives it too), asks them for the master on the
 * calling thread until one is found or connect_timeout + command_timeout have
 * passed (each sentinel asked within those timeouts), and starts the
 * thread. Returns NULL when out of memory or the
 * thread cannot start; a master not found yet is logged and asked again.
 */
struct sentinel *sentinel_start(const struct config_ref *cfg, struct nodes *n,
                                struct tls_ctx *tls);

/* Stops and joins the thread, closes its connections. NULL is a no-op. */
void sentinel_stop(struct sentinel *s);

/* One sentinel, for the admin port. */
struct sentinel_server_stats {
    char addr[NODES_HOST_MAX + 24]; /* host:port */
    int up;                         /* answered the last time it was asked */
    int subscribed;                 /* its +switch-master feed is open */
    char error[128];                /* why it is down, or "" */
};

/* What the follower knows, for the admin port. */
struct sentinel_stats {
    char master_name[256];
    char master[NODES_HOST_MAX + 24]; /* host:port, "" while none is known */
    long failovers;                   /* master changes seen since start */
    long asks;                        /* times the sentinels were asked */
    int nservers;
    int reachable; /* sentinels that answered the last time */
    struct sentinel_server_stats server[SENTINEL_MAX];
};
void sentinel_stats(struct sentinel *s, struct sentinel_stats *out);

/* ---- the replies, parsed (pure; exposed for tests) ---- */

/* A reply to SENTINEL get-master-addr-by-name: ["ip", "port"]. Returns 1
 * with host[0..cap) and *port set, 0 for a nil (the sentinel does not know
 * that name), or -1 for anything else. */
int sentinel_parse_master(const struct redisReply *r, char *host, size_t cap,
                          int *port);

/* A reply to SENTINEL replicas <name>: an array of flat maps. Fills
 * out[0..max) with the replicas fit to read from: flags without s_down,
 * o_down or disconnected, and master-link-status ok. Returns how many
 * (-1 when r is no array). */
int sentinel_parse_replicas(const struct redisReply *r, struct nodes_addr *out,
                            int max);

/* The payload of a +switch-master message, "<name> <old-ip> <old-port>
 * <new-ip> <new-port>". Returns 1 with the new address when it is about
 * name, else 0. */
int sentinel_parse_switch(const char *payload, size_t len, const char *name,
                          char *host, size_t cap, int *port);

/* A reply to ROLE: its first element. Returns 1 for "master", 0 for
 * another role ("slave", "sentinel"), -1 for no ROLE reply. */
int sentinel_parse_role(const struct redisReply *r);

#endif
