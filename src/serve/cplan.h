/*
 * cplan: how one command runs on a Redis Cluster, and how its parts'
 * replies become the one reply a client of a standalone Redis expects.
 * Pure functions over a parsed command and its replies: the cluster's
 * map comes in as callbacks, nothing is sent or received here.
 *
 * A command goes to the master owning the slot of its keys. Commands
 * whose keys span slots are split when Redis Cluster clients split them
 * too: MGET, MSET, DEL, UNLINK, EXISTS and TOUCH become one part per slot,
 * and their replies are merged in the client's key order (MGET's array,
 * MSET's +OK, the others' sum); any other such command gets Redis
 * Cluster's own -CROSSSLOT error (an MSET with a value missing is not
 * split: Redis answers it whole). Commands without keys go to one master,
 * except those whose answer covers the whole keyspace: DBSIZE (summed),
 * KEYS (concatenated), RANDOMKEY (any master that has one), FLUSHALL and
 * FLUSHDB (every master), and SCAN, whose cursor carries the node it is
 * on (cursor * NODES_MAX + node), so iterating visits every master once.
 * CLUSTER commands are refused. Merged replies keep each part's own
 * encoding (the parts speak the client's protocol); only the headers the
 * merge writes itself are the proxy's.
 */
#ifndef RP_CPLAN_H
#define RP_CPLAN_H

#include <stddef.h>

#include "proto/resp.h"

enum cplan_merge {
    CPLAN_ONE,    /* the one part's reply, as it is */
    CPLAN_MGET,   /* an array in the client's key order */
    CPLAN_OK,     /* +OK when every part says so (MSET, FLUSHALL) */
    CPLAN_SUM,    /* integers added (DEL, UNLINK, EXISTS, TOUCH, DBSIZE) */
    CPLAN_CONCAT, /* arrays joined (KEYS) */
    CPLAN_ANY,    /* the first non-nil (RANDOMKEY) */
    CPLAN_SCAN,   /* the node's cursor put in ours */
    CPLAN_LOCAL,  /* an answer of the proxy's (CROSSSLOT, CLUSTER) */
};

/* The map the planner reads. */
struct cplan_map {
    int (*for_slot)(void *arg, unsigned slot);    /* owner, or -1 */
    int (*masters)(void *arg, int *out, int max); /* in node order */
    void *arg;
};

/* One part: the command (or its share) for one node. */
struct cplan_part {
    int node;  /* -1: the map is not known */
    char *req; /* its bytes (heap), or NULL: the client's command as sent */
    size_t len;
};

struct cplan {
    enum cplan_merge merge;
    struct cplan_part *parts; /* heap */
    size_t nparts;
    size_t *key_part;  /* CPLAN_MGET: for the client's key j, its part */
    size_t *key_index; /* ... and its place in that part's array */
    size_t nkeys;
    int scan_node;     /* CPLAN_SCAN: the node the cursor is on */
    const char *local; /* CPLAN_LOCAL: the reply (static) */
};

/* The largest node index a SCAN cursor can carry, plus one. */
#define CPLAN_NODES 64

/*
 * Plans the command argv[0..argc) (every argument), sent as raw (RESP
 * array form), whose keys in argument order are keys[0..nkeys) (with
 * their slots in slots[]). Returns 0, or -1 when out of memory. Free
 * with cplan_free.
 */
int cplan_make(struct cplan *pl, const struct cplan_map *m,
               const struct resp_arg *argv, size_t argc,
               const struct resp_arg *keys, const unsigned *slots,
               size_t nkeys);

/*
 * The reply of the plan from its parts' replies (replies[i][0..lens[i]),
 * complete RESP replies, NULL for a part that got none) into a heap
 * buffer *out of *out_len bytes. The first error among the parts is the
 * reply, as Redis Cluster clients report it. m is read for a SCAN's next
 * node; proto (2 or 3) says how a nil the merge writes looks. Returns 0,
 * or -1 when out of memory.
 */
int cplan_merge(const struct cplan *pl, const struct cplan_map *m,
                const char *const *replies, const size_t *lens, int proto,
                char **out, size_t *out_len);

/* A plan sending the client's command as it came to every master, with
 * merge. Returns 0 or -1. */
int cplan_every(struct cplan *pl, const struct cplan_map *m,
                enum cplan_merge merge);

/* Frees what the plan holds (not pl itself). */
void cplan_free(struct cplan *pl);

#define CPLAN_CROSSSLOT                                                        \
    "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
#define CPLAN_REFUSED                                                          \
    "ERR CLUSTER commands are not served: this proxy presents the cluster "    \
    "as one Redis"

#endif
