/*
 * rconn: one connection to a Redis server, the one byte mover every Redis
 * connection of the proxy goes through: the shared pipelines (pipe.h),
 * sessions, the invalidation stream, the slot-map refresh and the command
 * table load. How a connection is opened (a non-blocking connect, TLS
 * when configured, then the handshake: AUTH, HELLO 3, SELECT, CLIENT
 * READONLY, CLIENT ID; over TLS a PING when none of those, so that a
 * client certificate Redis refuses fails the opening) is here, apart from what
 * is done on it (hiredis's split between net.c and hiredis.c); so is moving
 * bytes (gathered non-blocking writes, reads into one growing input buffer) and
 * framing replies with the one RESP2/RESP3 reply scanner (proto/resp_reply.h).
 * TLS (net/tls.h) lives inside the three byte movers of rconn.c.
 *
 * Two ways to drive one:
 *   - event-driven (pipes, sessions): the owner calls rconn_start, then
 *     rconn_step whenever the socket is ready (or after writing, as it
 *     likes) until it says RCONN_READY; from then on rconn_writev and
 *     rconn_read move bytes without ever blocking, and rconn_reply frames
 *     what came. The owner watches rconn_fd in its own poll/epoll set for
 *     what rconn_step / rconn_writev asked (RCONN_WANT_READ/WRITE).
 *   - blocking (setup traffic on threads of their own: keeper, tracking,
 *     command table): rconn_open waits for the whole open, bounded by
 *     connect_timeout; rconn_call sends one command and waits for its
 *     reply, bounded by command_timeout, parsed into a hiredis redisReply
 *     (hiredis's reader, RESP2: setup connections speak RESP2).
 *
 * Errors are sticky: once an rconn failed (I/O error, EOF, bytes that are
 * no reply, a refused handshake) every call fails and rconn_error says
 * why; the owner closes it and opens another, never reuses it.
 *
 * Not thread-safe: an rconn belongs to one owner at a time (the pipe's
 * runner, the session's conn owner, one setup thread). No locks inside.
 */
#ifndef RP_RCONN_H
#define RP_RCONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "proto/resp_reply.h"
#include "upstream/redis.h"

struct redisReply;

/* What the handshake sets up after the connect (all optional). */
struct rconn_setup {
    int proto;     /* 2 (no HELLO) or 3 (HELLO 3) */
    int db;        /* SELECT db when not 0 (overrides target->db;
                      -1: the target's) */
    int client_id; /* CLIENT ID: Redis's id for it (rconn.redis_id) */
};

enum rconn_state {
    RCONN_CLOSED = 0, /* not started, or closed */
    RCONN_CONNECTING, /* TCP connect (and TLS handshake) in progress */
    RCONN_HANDSHAKE,  /* the setup commands sent, replies owed */
    RCONN_READY,      /* open: bytes may move */
    RCONN_FAILED,     /* sticky: rconn_error says why */
};

/* What the owner must wait for before calling rconn_step again. */
enum rconn_want {
    RCONN_WANT_NONE = 0,  /* nothing: READY or FAILED */
    RCONN_WANT_READ = 1,  /* the socket readable */
    RCONN_WANT_WRITE = 2, /* the socket writable */
};

/* Bytes read and not yet consumed: in[start..end). */
struct tls;

struct rconn {
    int fd;          /* -1 when closed */
    struct tls *tls; /* its TLS connection (net/tls), or NULL */
    int tcp_up;      /* the TCP connect ended (a TLS handshake may follow) */
    enum rconn_state state;
    const struct redis_target *target;
    struct rconn_setup setup;
    enum rconn_want want; /* what the open in progress, or the last
                             write that could not finish, waits for */
    int64_t deadline_ms;  /* of the open in progress (connect_timeout) */
    size_t setup_owed;    /* handshake replies still owed */
    char *in;             /* input buffer (heap), grows as replies need */
    size_t start, end, cap;
    struct resp_reply scan; /* the reply at in + start so far */
    char *hs;               /* handshake bytes still to write (heap) */
    size_t hs_sent, hs_len;
    int drained;             /* the last read found nothing more waiting
                                (a short read): read again only after the
                                socket says it is readable */
    long long redis_id;      /* Redis's CLIENT ID, with setup.client_id
                                once READY (0: not asked) */
    int refused;             /* the handshake failed on Redis's error reply:
                                err is "<COMMAND> failed: <its text>" */
    char err[REDIS_ERR_MAX]; /* why it failed ("" while it has not) */
};

/* Sets rc up closed (fd -1, no buffer). */
void rconn_init(struct rconn *rc);

/*
 * Starts opening a connection to t (its address, credentials, db and TLS)
 * with setup s (may be NULL: RESP2, the target's db, nothing else):
 * resolves and connects without blocking. Returns the state: CONNECTING
 * (call rconn_step when rconn_want says), READY (connected at once with
 * nothing to set up: rare), or FAILED (rconn_error says why). t must
 * outlive the rconn. The connect must end within t's connect_timeout:
 * the owner checks rconn_overdue.
 */
enum rconn_state rconn_start(struct rconn *rc, const struct redis_target *t,
                             const struct rconn_setup *s);

/* Goes on with an open in progress without blocking (connect result, TLS
 * handshake, handshake writes and replies). Returns the new state. */
enum rconn_state rconn_step(struct rconn *rc);

/* What the open in progress, or a write that could not finish, waits for. */
enum rconn_want rconn_want(const struct rconn *rc);

/* 1 when an open in progress passed its deadline (connect_timeout from
 * rconn_start): the owner then fails it (rconn_fail) and closes it. */
int rconn_overdue(const struct rconn *rc, int64_t now_ms);

/*
 * Writes what the socket takes of iov[0..n) without blocking (READY
 * only). Returns the bytes written (possibly 0: try again when writable),
 * or -1 when the connection failed (now FAILED).
 */
long rconn_writev(struct rconn *rc, const struct iovec *iov, int n);

/*
 * Reads what the socket has into the input buffer without blocking
 * (READY only). Returns the bytes read (> 0), 0 when there was nothing
 * (wait until readable), or -1 on EOF or an error (now FAILED).
 */
long rconn_read(struct rconn *rc);

/*
 * Frames the next complete reply in the input buffer: on RESP_OK its bytes
 * are *p[0..*len) (valid until the next rconn_read or rconn_consume), its
 * scan (type, attribute length) in rc->scan, and the caller calls
 * rconn_consume once done with it. RESP_INCOMPLETE: read more. RESP_EPROTO:
 * the bytes are no reply (the rconn is now FAILED).
 */
int rconn_reply(struct rconn *rc, const char **p, size_t *len);

/* Drops the reply rconn_reply returned; the buffer shrinks back when a
 * large reply has passed and nothing else waits. */
void rconn_consume(struct rconn *rc);

/* 1 when unconsumed bytes are buffered. */
int rconn_buffered(const struct rconn *rc);

/* Marks rc failed with a reason (printf-style); a no-op if it already
 * failed (the first reason stays). */
void rconn_fail(struct rconn *rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Why rc failed, or "". */
const char *rconn_error(const struct rconn *rc);

/* Closes the socket and frees the buffers; rc is CLOSED and may be
 * started again. Safe on a closed rconn. */
void rconn_close(struct rconn *rc);

/* Blocking use, for setup threads. */

/* Opens rc to t with setup s (may be NULL) and waits until it is READY,
 * within connect_timeout for the connect and command_timeout for the
 * handshake. Returns 0, or -1 with the reason in err[0..REDIS_ERR_MAX)
 * such as "connect to 127.0.0.1:6379: Connection refused" or
 * "AUTH failed: WRONGPASS ..." (rc is closed then). */
int rconn_open(struct rconn *rc, const struct redis_target *t,
               const struct rconn_setup *s, char *err);

/*
 * Sends one command (printf-style, hiredis's redisFormatCommand syntax:
 * "%s" and "%b" arguments) on a READY rc and waits for its reply, within
 * command_timeout. Returns the reply (free with freeReplyObject), or NULL
 * with "WHAT: reason" in err[0..REDIS_ERR_MAX) for an I/O failure (rc
 * FAILED) or "WHAT failed: <error>" for an error reply (rc still READY);
 * *is_error_reply (may be NULL) tells the two apart.
 */
struct redisReply *rconn_call(struct rconn *rc, const char *what, char *err,
                              int *is_error_reply, const char *fmt, ...);

/*
 * Waits up to timeout_ms for the next reply (or push) on a READY rc and
 * parses it; for a stream read on a thread of its own (the invalidation
 * stream). Returns the reply, or NULL: *timed_out 1 when nothing complete
 * came in time (rc still READY), else rc FAILED (rconn_error says why).
 * stopfd (-1: none) readable also ends the wait (NULL, *timed_out 1).
 */
struct redisReply *rconn_wait_reply(struct rconn *rc, int64_t timeout_ms,
                                    int stopfd, int *timed_out);

/* Sends cmd[0..len) whole (blocking, within command_timeout), without
 * waiting for a reply. Returns 0 or -1 (rc FAILED). */
int rconn_send_all(struct rconn *rc, const char *cmd, size_t len);

#endif
