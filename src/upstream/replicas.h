/*
 * replicas: reads from replicas ([redis] read_from = replica |
 * prefer_replica): which replica a read may go to, and how far behind its
 * master each one is.
 *
 * A thread of its own samples replication every REPLICAS_POLL_MS in
 * rounds: it announces round s, then reads INFO replication from every
 * master that has replicas (its replication id and master_repl_offset)
 * and from each of its replicas (role, master_link_status, master_replid,
 * slave_repl_offset: what the replica has applied). A replica has reached
 * round s once its applied offset is at least its master's offset of
 * round s (the same replication id); the masters' offsets of the last
 * REPLICAS_HISTORY rounds are kept, so a replica steadily behind still
 * reaches an earlier round. A replica is usable while it answers, says it
 * replicates our master with its link up, its pool is not down, and it
 * has reached the round every entry already forgotten needed
 * (written_settle), so a replica coming back never serves what the others
 * had to catch up on.
 *
 * Read-your-writes (written.h): a write through the proxy records its
 * keys with the next round (replicas_wrote_key), after Redis answered and
 * before its reply is seen; a read of a key goes to a replica only if
 * that replica has reached the key's round (and the floor). A client's
 * own reads without keys follow its last write the same way (the caller
 * passes that round as the read's need).
 *
 * The choice (replicas_choose, pure): among the usable replicas of the
 * key's master that have reached the read's need, those whose
 * invalidation stream is up first, one picked by the caller's hash; when
 * replicas are usable but none has reached the need, the master (a read
 * of something just written); when none is usable, the master with
 * prefer_replica, nothing (-1: the caller answers an error) with replica.
 *
 * Threads: the monitor thread does all the I/O; workers read the atomics
 * per node (replicas_pick) without a lock.
 */
#ifndef RP_REPLICAS_H
#define RP_REPLICAS_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "upstream/nodes.h"
#include "upstream/written.h"

#define REPLICAS_POLL_MS 100         /* a round every this often */
#define REPLICAS_HISTORY 64          /* masters' offsets kept, in rounds */
#define REPLICAS_WRITTEN (64 * 1024) /* keys remembered (written.h) */

struct replicas;

/* Starts the monitor over the node table n (outliving it) when cfg's
 * read_from is not master, after one round on the calling thread.
 * Returns NULL when it is master (no replica reads) or on failure (*err
 * set to 1 then). */
struct replicas *replicas_start(const struct config_ref *cfg, struct nodes *n,
                                int *err);

/* Stops and joins the thread, closes its connections. NULL is a no-op. */
void replicas_stop(struct replicas *r);

/* Where a read goes (see the top): the node of a usable replica of master
 * m that has reached need (hash picks among them), or m, or -1 with why
 * in err[0..len) when read_from = replica and none is usable. */
int replicas_pick(struct replicas *r, int m, uint64_t need, uint64_t hash,
                  char *err, size_t len);

/* The round a write answered now needs replicas to reach. */
uint64_t replicas_next_round(struct replicas *r);

/* Writes through the proxy: a key (its hash, written_hash), a write whose
 * keys are not known, both answered by Redis now. A key being written
 * whose answer is still to come: replicas_pending, settled later by
 * replicas_wrote_hash (returns -1 when it held the table instead:
 * replicas_unhold once the write is answered). A write being made whose
 * keys are not known: replicas_hold, then replicas_unhold (every read
 * stays on the master meanwhile, and until the replicas have it). */
void replicas_wrote_key(struct replicas *r, const char *key, size_t klen);
void replicas_wrote_hash(struct replicas *r, uint64_t h);
void replicas_wrote_all(struct replicas *r);
int replicas_pending(struct replicas *r, uint64_t h);
void replicas_hold(struct replicas *r);
void replicas_unhold(struct replicas *r);

/* The round a read of key needs (the floor, or the key's own); a read
 * without keys, the floor. */
uint64_t replicas_need(struct replicas *r, const char *key, size_t klen);
uint64_t replicas_floor(struct replicas *r);

/* One replica as the choice sees it. */
struct replica_view {
    int node;
    int usable;       /* answers, replicates its master, link up */
    int tracked;      /* its invalidation stream is up (or tracking off) */
    uint64_t reached; /* the round it has reached */
};

/* The choice (pure; exposed for tests): v[0..n) the replicas of master,
 * read_from a enum config_read_from. Returns the node, master, or -1. */
int replicas_choose(const struct replica_view *v, int n, int master,
                    uint64_t need, uint64_t hash, int read_from);

/* What INFO replication says (pure parse; exposed for tests). */
struct repl_info {
    int master;       /* role:master */
    int link_up;      /* a replica's master_link_status:up */
    char replid[48];  /* master_replid */
    long long offset; /* master_repl_offset (a master), slave_repl_offset
                         (a replica), -1 when absent */
    char master_host[NODES_HOST_MAX]; /* a replica's master_host */
    int master_port;
};
/* Parses text[0..len). Returns 0, or -1 when it has no role line. */
int replicas_parse_info(const char *text, size_t len, struct repl_info *out);

/* One node as the monitor last saw it, for the admin port. */
struct replica_stats {
    int watched; /* a replica the monitor samples */
    int usable;
    uint64_t reached;
    long long lag_bytes; /* its master's offset minus what it applied */
    long lag_ms;         /* since the round it reached was announced */
};
void replicas_node_stats(struct replicas *r, int i, struct replica_stats *out);

/* Counters of where reads went, and the written keys' table. */
struct replicas_totals {
    long to_replica; /* reads (fills and forwarded) sent to a replica */
    long written;    /* kept on the master: just written (need unmet) */
    long fallback;   /* kept on the master: no replica usable */
    long refused;    /* refused: no replica usable, read_from = replica */
    uint64_t round;
    struct written_stats keys;
};
void replicas_totals(struct replicas *r, struct replicas_totals *out);

#endif
