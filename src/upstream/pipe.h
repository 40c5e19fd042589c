/*
 * pipe: one connection to a Redis server shared by many clients'
 * commands, in order (twemproxy's server connection and its out-queue).
 *
 * A caller hands a request (struct ureq: bytes to send, how many replies
 * they bring) to the pipe and goes on at once. The pipe writes every
 * request queued in one gathered write, reads replies as they come, and
 * matches them in order to the requests they answer, handing each reply
 * to its request's ops. Nobody waits: a worker that queues a request
 * defers the write to just before it sleeps (waiter_defer), so the
 * commands of every conn it served meanwhile go out together; the pipe's
 * socket is an event source in the waiter's epoll set (waiter_watch_event),
 * and the worker that gets its report reads and delivers.
 *
 * One runner at a time: whoever finds the pipe idle runs it (writes,
 * reads, delivers) and whoever finds it running only leaves a note that
 * there is more (`again`), which the runner picks up before it stops. So
 * the connection, its buffers and the in-flight list belong to the runner
 * alone; the lock guards only the queue of requests not yet taken and the
 * running/again flags, for a few instructions.
 *
 * The connection is opened when the first request comes, without
 * blocking (rconn: connect, AUTH, HELLO 3 for a RESP3 pipe, CLIENT
 * TRACKING to the node's invalidation stream), and reopened after a loss.
 * Each request names the database it runs in; the pipe sends SELECT
 * before it when the connection is in another one (pipes are shared by
 * clients of every database), and CLIENT TRACKING again before a fill
 * whenever the invalidation stream is new to the connection. Redis
 * refusing CLIENT TRACKING with -NOPERM (the target's ACL user may not
 * run it) is remembered for good (reach_tracking_refused): no fill of
 * that server's pipelines is marked tracked from then on.
 *
 * Failure rules: a request not yet written is never failed by a lost
 * connection: it goes out on the next one. A request written (even in
 * part) when the connection died gets UPSTREAM_EDOWN and is never sent
 * again, so a write is never applied twice; except a request marked
 * `retry` (the cache's fills: PTTL and GET, read-only, so running twice
 * changes nothing), which goes out once more on the next connection.
 * While Redis cannot be reached at all (a connect that failed, with
 * backoff: upstream.h), requests fail at once with UPSTREAM_EDOWN.
 *
 * Bounds: at most PIPE_MAX_CMDS requests and PIPE_MAX_BYTES request
 * bytes queued or in flight; over them pipe_submit refuses and wakes the
 * caller's conn (waiter_wake) once there is room again, so a flood of
 * commands is held back in the clients' own buffers, not here.
 *
 * Threads: any worker submits; the runner is whichever thread found the
 * pipe idle (a submitter's deferred write, a worker woken by the socket,
 * the tick). Lock order: a pipe's lock is a leaf (nothing is taken while
 * it is held); ops are called with no lock held.
 */
#ifndef RP_PIPE_H
#define RP_PIPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "proto/resp.h"
#include "proto/resp_reply.h"

#define PIPE_MAX_CMDS 4096         /* requests queued or in flight */
#define PIPE_MAX_BYTES (16u << 20) /* their request bytes */
#define PIPE_IOV 8                 /* a request's byte ranges at most */

struct ureq;
struct pipe;
struct reach;
struct waiter;

/* What a request's owner does with what the pipe hands it. Called on the
 * runner's thread with no lock held; must not block. */
struct ureq_ops {
    /* The i-th reply of u (0-based; p[0..len) valid during the call only;
     * scan: its type, and the length of any leading RESP3 attribute). */
    void (*reply)(struct ureq *u, uint32_t i, const char *p, size_t len,
                  const struct resp_reply *scan);
    /* u is over: every reply was handed over (status 0), or it failed
     * with an enum upstream_status and why (the replies after those
     * handed over will not come). The pipe does not touch u afterwards. */
    void (*done)(struct ureq *u, int status, const char *err);
};

/* One request on a pipe: owned by the caller, lent to the pipe from
 * pipe_submit until its done() call. */
struct ureq {
    const struct ureq_ops *ops;
    struct iovec iov[PIPE_IOV]; /* the bytes to send (the caller's,
                                   valid until done) */
    int iovcnt;
    uint32_t nreplies;    /* replies the bytes bring (> 0) */
    int db;               /* the database it runs in; -1: any */
    unsigned must : 1;    /* queued even over the bounds (a later part of
                             a command split across nodes, a redirect) */
    unsigned retry : 1;   /* idempotent: may be sent again on the next
                             connection after a loss while in flight */
    unsigned tracked : 1; /* a fill: needs the connection registered with
                             the invalidation stream. Out: set when it
                             was read on a registered connection */
    /* The pipe's own, from submit to done: */
    struct ureq *next;
    uint64_t track_gen; /* the stream registration it was sent under; 0:
                           none was needed (tracking off) */
    size_t len;         /* bytes in all */
    size_t sent;        /* bytes written so far */
    uint32_t got;       /* replies handed over so far */
    unsigned retried : 1;
};

/* Creates a pipeline to the server rs describes (reach.h: its target,
 * stream, backoff) speaking RESP proto (2 or 3), reporting through waiter
 * w. No connection yet. Returns NULL when out of memory. */
struct pipe *pipe_create(struct reach *rs, int proto, struct waiter *w);

/* Fails what is queued or in flight (UPSTREAM_EDOWN, "shutting down"),
 * closes the connection and frees the pipe. No concurrent use: after
 * every worker has stopped. NULL is a no-op. */
void pipe_destroy(struct pipe *p);

enum pipe_submit {
    PIPE_QUEUED = 0, /* u is the pipe's until its done() */
    PIPE_FULL = 1,   /* over the bounds: not taken; the conn of
                        (wake_slot, wake_gen) is woken once there is room */
    PIPE_DOWN = 2,   /* Redis cannot be reached now (backoff): not taken;
                        err[0..UPSTREAM_ERR_MAX) says why */
};

/*
 * Queues u (its ops, iov, nreplies, db and flags set; the rest is the
 * pipe's) to be written before the calling worker sleeps. Returns an enum
 * pipe_submit. Thread-safe; never blocks. May run ops of other requests
 * on the calling thread when it is not a worker (it then runs the pipe).
 */
int pipe_submit(struct pipe *p, struct ureq *u, uint32_t wake_slot,
                uint32_t wake_gen, char *err);

/* For the waiter's tick: fails an open that passed connect_timeout (and
 * what waits for it), and reopens after a backoff when requests wait.
 * Thread-safe. */
void pipe_tick(struct pipe *p);

/* Figures for the admin port. */
struct pipe_stats {
    int connected; /* the connection is open */
    long inflight; /* requests queued or in flight now */
    long commands; /* requests answered since start */
    long writes;   /* gathered writes since start */
    long lost;     /* connections lost while open */
};
void pipe_stats(struct pipe *p, struct pipe_stats *out);

#endif
