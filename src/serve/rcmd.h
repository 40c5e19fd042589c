/*
 * rcmd: the command record. One per request that cannot be answered on
 * the spot, made once where the request enters (respd from a parsed RESP
 * command, httpd from a GET/PUT/DELETE), carrying everything later stages
 * need: what the command is (its flags from Redis's command table, its
 * keys and their slot, the client's database and protocol), its bytes as
 * Redis will get them, and, once Redis answered, the outcome. Routing,
 * the cache's fills, forwarding, cluster splits and the reply all work
 * from the record; nothing parses the request again.
 *
 * A conn keeps its records in request order (struct rfifo) and answers
 * from the head: a record whose reply came (DONE) is written out, one
 * still waiting holds back everything after it. Replies come on other
 * threads (a pipeline's runner, a fill's leader): the completer fills the
 * outcome fields and marks the record DONE with one atomic exchange, then
 * wakes the conn (waiter_wake, by slot and generation). A conn that goes
 * away, or stops waiting (a timeout), marks its waiting records ORPHAN
 * instead of freeing them: the completer frees an orphan when it gets to
 * it. So each record has exactly one owner at a time, and whoever moves
 * the state word last frees it.
 *
 *   WAITING --complete--> DONE     (the conn's owner answers and frees)
 *   WAITING --abandon---> ORPHAN   (the completer frees)
 *
 * Fields are written by the conn's owner before the record is handed to
 * Redis, then only read; the outcome fields are the completer's until
 * DONE (release), then the owner's (acquire). Not thread-safe otherwise.
 */
#ifndef RP_RCMD_H
#define RP_RCMD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/flight.h"
#include "net/conn.h"
#include "proto/resp.h"
#include "upstream/pipe.h"

struct proxy;
struct cmd_info;

enum rcmd_state {
    RCMD_WAITING = 0,
    RCMD_DONE = 1,
    RCMD_ORPHAN = 2,
};

/* What a record is. */
enum rcmd_kind {
    RCMD_HELD,    /* an answer of the proxy's held back behind earlier
                     replies: its bytes are the reply (DONE at once) */
    RCMD_LOOKUP,  /* a cache lookup (GET) that missed: the fill's outcome */
    RCMD_FORWARD, /* a command for Redis: its reply, byte for byte (merged
                     from its parts when split across cluster nodes) */
};

/* A key of the command: where it is in raw. */
struct rkey {
    uint32_t off, len;
};

/* One request on one node: the whole command, or one node's share of a
 * command split across a cluster. */
struct rpart {
    struct ureq u;     /* on the node's pipeline */
    struct rcmd *r;    /* its record */
    int node;          /* where it goes */
    uint8_t redirects; /* MOVED/ASK followed so far */
    uint8_t asking;    /* send ASKING before it (an ASK redirect) */
    uint8_t getkeys;   /* COMMAND GETKEYS goes first (keys only Redis can
                          tell, for invalidation) */
    uint8_t readonly;  /* Redis refused it: -READONLY from a master that
                          a failover demoted (sentinel mode) */
    const char *req;   /* its bytes: the record's raw, or its own */
    size_t req_len;
    char *own;   /* req when the part owns it (heap), else NULL */
    char *reply; /* its reply when the record merges parts (heap) */
    size_t reply_len;
    char *redirect; /* a MOVED/ASK reply to follow (heap), or NULL */
    size_t redirect_len;
    char hdr[48]; /* COMMAND GETKEYS's head, when getkeys */
    uint8_t hdr_len;
};

/*
 * The bytes of a conn's replies answered and not yet written to it,
 * shared by the conn's fifo and its records (refcounted: a record may
 * outlive its conn). The completer adds a reply's bytes as it completes
 * it; past the conn's max_output it drops the reply and sets `over`
 * instead, so that a client that never reads cannot make the proxy hold
 * more than max_output for it, however fast Redis answers.
 */
struct rheld {
    atomic_uint refs;
    atomic_size_t bytes;
    atomic_int over;
    const _Atomic int64_t *max; /* the listener's max_output (0: no limit) */
};

struct rcmd {
    struct rcmd *next;  /* the conn's fifo; the owner's */
    struct rheld *held; /* its conn's held bytes (a reference), or NULL */
    size_t held_n;      /* what it added there */
    _Atomic int state;  /* enum rcmd_state */
    struct proxy *px;
    uint32_t slot, gen; /* the conn to wake (waiter_wake) */
    uint32_t token;     /* which of a node's pipelines it goes on: its
                           client keeps one while it has commands on
                           their way, so they reach Redis in order */
    uint8_t kind;       /* enum rcmd_kind */
    uint8_t proto;      /* the client's protocol, 2 or 3 */
    uint8_t http;       /* made by the HTTP port */
    uint8_t splits;     /* the command is split across nodes: merge */
    uint8_t tag;        /* its maker's own mark (the admin port's
                           readiness probe) */
    uint8_t pinned;     /* goes to node `pin`, whatever its keys (a
                           command naming a session's connection) */
    int pin;
    int db;              /* the client's database */
    struct ident *ident; /* the Redis identity it runs as (ACL passthrough:
                            its pools, its cache partition); NULL: the
                            proxy's own. Identities outlive records */
    unsigned flags;      /* the command's flags (CMD_*), 0 when unknown */
    uint8_t known;       /* Redis's table knows the command */
    uint8_t keys_asked;  /* its keys come from COMMAND GETKEYS */
    uint8_t reroute;     /* outcome: not run (a demoted master refused
                            it); its owner sends it again (route_again)
                            or answers the failover error */
    uint8_t reroutes;    /* times it was sent again */
    uint64_t need;       /* a read: the round a replica must have reached
                            to serve it for this client (replicas.h; its
                            own writes), 0 for none */
    int64_t deadline_ms; /* answered with a timeout then; 0 = never */
    int64_t start_us;    /* when it was parsed (latency) */

    /* The request. */
    char *raw; /* the command as Redis gets it (RESP array) */
    size_t raw_len;
    struct rkey *keys; /* its keys in argument order (heap; NULL when
                          none matter: a read outside a cluster) */
    uint8_t *wkey;     /* per key: 1 when the command may change it
                          (inside the keys allocation) */
    uint32_t nkeys;
    struct rkey *args; /* cluster: every argument (heap), for splits */
    uint32_t nargs;
    char name[24]; /* the command's name as sent (accounting) */
    uint8_t name_len;

    /* The parts on nodes: part[0] always; more when split. */
    struct rpart *parts;
    uint32_t nparts;
    atomic_uint parts_left; /* parts not finished yet */
    void *plan;             /* the cluster plan's own data, or NULL */

    /* The outcome: the completer's until DONE. */
    int status;                /* enum outcome */
    int cache;                 /* enum account_cache of a lookup */
    struct cache_entry *entry; /* RCMD_LOOKUP: the value, a reference */
    char *reply;               /* the reply's bytes (RESP, the client's
                                  protocol) */
    size_t reply_len;
    char *err;               /* a failure's detail (heap), or NULL */
    struct flight_waiter fw; /* RCMD_LOOKUP: joined to the key's fill */
    char *getkeys;           /* keys COMMAND GETKEYS named: a RESP array
                                (heap), or NULL */
    size_t getkeys_len;
    struct rcmd *parked;  /* serve/failover's list of records waiting
                             for a new master; its lock */
    int64_t parked_until; /* ... until then */

    struct rpart part0; /* the first part, inside the record */
    char inl[64];       /* a small reply lives here */
};

/* The records of one conn, in request order. The owner's. */
struct rfifo {
    struct rcmd *head, *tail;
    struct rheld *held; /* set by rfifo_limit, or NULL */
    size_t n;
    size_t forwards; /* RCMD_FORWARD records in it */
    size_t lookups;  /* RCMD_LOOKUP records in it */
};

/* A new record for the conn c (its waiter slot/gen) of proxy px, of kind
 * kind; raw_cap bytes of room for the request after it (0 for none).
 * Returns NULL when out of memory. */
struct rcmd *rcmd_new(struct proxy *px, const struct conn *c,
                      enum rcmd_kind kind, size_t raw_cap);

/* How rcmd_command reads a command's keys. */
enum rcmd_keys {
    RCMD_KEYS_WRITES = 1, /* the keys a write may change (invalidation) */
    RCMD_KEYS_ALL = 2,    /* every key and every argument (a cluster) */
};

/*
 * The RCMD_FORWARD record of the command cmd parsed from buf, for conn c
 * speaking proto in database db: its bytes copied (an inline command
 * encoded as an array), its flags and keys from ci (Redis's table entry,
 * NULL when Redis did not list it), as `what` asks. When ci says only
 * Redis can tell a write's keys, keys_asked is set (COMMAND GETKEYS goes
 * before it). Returns NULL when out of memory.
 */
struct rcmd *rcmd_command(struct proxy *px, const struct conn *c,
                          const struct resp_command *cmd, char *buf,
                          const struct cmd_info *ci, int proto, int db,
                          unsigned what);

/* The cache partition r reads and fills: its database, with its
 * identity's number folded in (idents_partition); -1 when r may not use
 * the cache (a database too large to fold). */
int rcmd_partition(const struct rcmd *r);

/* The i-th key of r. */
static inline struct resp_arg
rcmd_key(const struct rcmd *r, uint32_t i)
{
    struct resp_arg a = {r->raw + r->keys[i].off, r->keys[i].len};
    return a;
}

/* Frees r and what it owns (its entry reference, buffers, parts). For
 * whoever owns it (see the top). NULL is a no-op. */
void rcmd_free(struct rcmd *r);

/* Sets r's reply to a copy of p[0..len). Returns 0 or -1. */
int rcmd_set_reply(struct rcmd *r, const char *p, size_t len);

/* Sets r's outcome to a failure (o < 0) with detail (copied; may be
 * NULL). */
void rcmd_fail(struct rcmd *r, int o, const char *detail);

/* Completer: the outcome is set; marks r DONE and wakes its conn, or
 * frees r when its conn abandoned it. r is not to be touched after. */
void rcmd_complete(struct rcmd *r);

/* Owner: r, WAITING and never handed to a completer (or handed back), is
 * answered here: its outcome is set, and it is DONE now. */
void rcmd_settle(struct rcmd *r);

/* Owner: r, DONE, goes to Redis again (route_again): WAITING. */
void rcmd_rewait(struct rcmd *r);

/* Owner: stops waiting for r (its conn is going, or r timed out): it
 * becomes the completer's to free, or is freed now when it is DONE. */
void rcmd_abandon(struct rcmd *r);

/* 1 when r's outcome is there (acquire). */
static inline int
rcmd_done(struct rcmd *r)
{
    return atomic_load_explicit(&r->state, memory_order_acquire) == RCMD_DONE;
}

/* ---- the fifo ---- */

static inline int
rfifo_empty(const struct rfifo *f)
{
    return f->head == NULL;
}

/* Appends r. */
void rfifo_push(struct rfifo *f, struct rcmd *r);
/* Removes and returns the head (NULL when empty). */
struct rcmd *rfifo_pop(struct rfifo *f);

/* Abandons every record (the conn is closing). */
void rfifo_abandon_all(struct rfifo *f);

/*
 * A client's own order between its commands on one key, when they travel
 * different ways (a fill on the pipeline of the key, a command on the
 * client's own): a GET behind a write of that key still waiting for its
 * reply must go to Redis behind it (rfifo_writes_key: 1 when a FORWARD
 * record still waiting may change key: it names it, or its keys are not
 * known), and a write behind a lookup of one of its keys still waiting
 * must wait for it (rfifo_reads_keys_of: 1 when a LOOKUP record still
 * waiting reads a key w may change, or any when w's keys are not known).
 */
int rfifo_writes_key(const struct rfifo *f, const char *key, size_t klen);
int rfifo_reads_keys_of(const struct rfifo *f, const struct rcmd *w);

/* Counts the replies f's records hold against max (a listener's
 * max_output; struct rheld). Returns 0, or -1 when out of memory. */
int rfifo_limit(struct rfifo *f, const _Atomic int64_t *max);

/* The bytes of the replies ready in f and not yet written to the client
 * (what max_output counts besides the output queue); INT64_MAX once a
 * reply was dropped for being over. */
size_t rfifo_held_bytes(const struct rfifo *f);
/* 1 when a FORWARD record in f (answered or not) may write. */
int rfifo_has_write(const struct rfifo *f);

/* 1 when r may change data: a write, a command Redis did not list, or one
 * whose specs say it changes some of its keys. */
int rcmd_may_write(const struct rcmd *r);

/* 1 when no record after h (f's head) goes to Redis: nothing the client
 * sent after h has been sent on, so h may be sent again (route_again). */
int rfifo_alone(const struct rfifo *f, const struct rcmd *h);

/* Sets c's waiting state from f: waiting while records are held, with the
 * head's deadline when it still waits. */
void rfifo_wait_state(const struct rfifo *f, struct conn *c);

#endif
