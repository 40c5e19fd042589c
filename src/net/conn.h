/*
 * conn: one client connection (of any listener) with its read buffer and
 * its queue of unsent output, allocated once at accept and freed at close.
 *
 * Ownership: a conn belongs to exactly one thread at a time: the accept loop
 * (until pushed to the work queue), the worker serving it, or the waiter
 * (while parked; see waiter.h). Whoever owns it may touch any field.
 * Nothing in a conn is shared, so no field needs a lock of its own.
 *
 * Reading: requests are parsed in place in rbuf (zero-copy); unconsumed
 * bytes are rbuf[rpos..rlen). rbuf starts as the 16 KiB inside the conn;
 * a protocol that has checked a larger request's declared size against
 * its limit asks for room with conn_reserve(), and the buffer goes back
 * inside the conn once that request is consumed.
 *
 * Writing never waits: responses are appended to `out` (net/outq.h), small
 * ones copied, large ones by reference, and conn_flush() sends what the
 * socket takes without blocking. What it does not take stays queued; the
 * worker then parks the conn until the socket is writable, and a client
 * that takes nothing for send_timeout is closed. While more than
 * CONN_OUT_HIGH bytes wait, the protocol parses no more requests from this
 * conn (back-pressure), so a client that never reads costs bounded memory.
 *
 * Whatever the protocol, the output held for one client is bounded by its
 * kind's max_output (Redis's client-output-buffer-limit): every byte
 * queued counts, values queued by reference included, and so do bytes a
 * protocol holds for the client outside the queue (conn_output_check: a
 * session's reply still arriving). Past the bound the client is closed at
 * once, its output dropped (conn_abort), and counted in its budget.
 * TLS: a conn of a kind with a TLS context gets a net/tls connection at
 * accept, and every read and write of its socket goes through it here
 * (conn_read, conn_flush, conn_send_now, conn_input_waiting), so the
 * worker, the waiter and the protocols never ask whether a conn is
 * encrypted. The handshake is the conn's first request: conn_read steps
 * it (never waiting), req_start_ms runs from the accept, so a client that
 * says nothing or stalls mid-handshake is closed at request_timeout like a
 * slow request; its outcome is counted in the kind's conn_tls_stats.
 */
#ifndef RP_CONN_H
#define RP_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "net/outq.h"
#include "net/tls.h"
#include "proto/http.h"

#define CONN_RBUF 16384     /* = HTTP_MAX_HEAD = RESP_MAX_INLINE */
#define CONN_WBUF 16384     /* the inline output block */
#define CONN_OUT_HIGH 65536 /* unsent bytes that stop request parsing */

struct conn;

/*
 * What a listener's protocol does with its conns, set once at accept (the
 * seam of twemproxy's nc_connection.h): the worker, the waiter and the
 * accept loop call through it and never ask which protocol a conn speaks.
 */
struct conn_ops {
    const char *name; /* "http", "resp", "admin": for logs */
    /* Answers the complete requests buffered in c's read buffer, in order,
     * appending responses to its output, and stops early once
     * conn_out_full(c). Returns 0 when c stays open (c->req_start_ms set
     * when a partial request remains), or -1 when it must be closed once
     * its output is flushed. Called by c's owner. */
    int (*serve)(struct conn *c);
    /* c's deadline passed: a last word before it is closed (HTTP 408 for
     * a partial request), one non-blocking send. Not called while output
     * is queued for c. May be NULL. */
    void (*expired)(struct conn *c);
    /* The reply written to a client over its budget before it is closed
     * (HTTP 503, RESP -ERR max number of clients reached); returns its
     * length in out[0..cap), 0 if it does not fit. */
    size_t (*busy)(char *out, size_t cap);
    /* The bytes of replies ready for c and not yet in its output (answers
     * waiting their turn): counted with the output against max_output
     * while the output is full. May be NULL. */
    size_t (*held)(const struct conn *c);
    /* c is being destroyed: release the protocol's state (c->proto). May
     * be NULL. */
    void (*release)(struct conn *c);
};

/*
 * How many conns may be open at once, shared by the listeners that draw
 * on it (HTTP and RESP share max_clients; the admin port has its own).
 *
 * With reuse on (nginx's reusable connections), a conn that comes over
 * max is not refused while another waits for a request (it has sent
 * nothing yet, or is idle between requests): the one that has waited
 * longest is shut down to make room (conn_budget_make_room), so idle
 * conns can never lock a listener out. Such conns are kept in a list,
 * oldest first, under `lock`.
 */
struct conn_budget {
    atomic_int open;        /* conns open now */
    atomic_int max;         /* at most; may change on reload */
    atomic_long accepted;   /* accepted since start */
    atomic_long rejected;   /* refused over max */
    atomic_long overflowed; /* closed for holding more than max_output */
    atomic_long reused;     /* idle conns closed to make room */
    int reuse;              /* set by conn_budget_init, before any conn */
    pthread_mutex_t lock;   /* reuse: the list and every conn's idle_*
                               fields; taken for a few instructions, never
                               across I/O but one shutdown() */
    struct conn *idle_head, *idle_tail; /* waiting for a request */
};

/* How the handshakes of the TLS listeners ended, for the metrics; one set
 * shared by every kind that speaks TLS. Counters only grow. */
struct conn_tls_stats {
    atomic_long handshakes;        /* completed */
    atomic_long failed[TLS_FAILS]; /* refused, by enum tls_fail */
    atomic_long timeouts;          /* still in the handshake at the
                                      request_timeout */
    atomic_long log_second;        /* the debug lines' rate limit: this
                                      second (monotonic), */
    atomic_int log_lines;          /* lines logged in it, */
    atomic_int log_skipped;        /* lines not logged in it */
    _Atomic int64_t not_after;     /* the listeners' certificate's notAfter
                                      (Unix time); 0 = none */
};

/* One kind of conn: its protocol and the policy of its listener. Set up
 * by main before the listeners open; the timeouts may change on reload. */
struct conn_kind {
    const struct conn_ops *ops;
    void *ctx;                          /* the protocol's state (the proxy) */
    struct conn_budget *budget;         /* shared with other kinds, or own */
    _Atomic int64_t idle_timeout_ms;    /* idle keep-alive conn closed */
    _Atomic int64_t request_timeout_ms; /* a request must arrive within */
    _Atomic int64_t send_timeout_ms;    /* output must make progress within */
    _Atomic int64_t max_output;         /* bytes held for one conn at most
                                           (0 = no limit) */
    _Atomic int64_t session_idle_ms;    /* a conn with a session of its own
                                           (pump) idle this long is closed,
                                           waiting on its peer or not; 0 =
                                           never (the idle timeout alone) */
    _Atomic int64_t first_byte_ms;      /* a conn that has sent nothing is
                                           closed this long after accept;
                                           0 = the idle timeout alone */
    struct tls_ctx *tls;                /* NULL: plain TCP. Main thread only:
                                           the accept loop reads it, a reload
                                           replaces it (holding a reference);
                                           conns hold their own */
    struct conn_tls_stats *tls_stats;   /* where a TLS kind counts its
                                           handshakes; set before the
                                           threads start, fixed */
};

enum conn_io {
    CONN_IO_OK = 0,
    CONN_IO_AGAIN = -1, /* nothing to read now / output still queued */
    CONN_IO_EOF = -2,   /* the peer closed */
    CONN_IO_ERR = -3,   /* reset, out of memory or other failure */
};

struct conn {
    int fd;
    const struct conn_kind *kind; /* its protocol and listener policy */
    void *proto;                  /* the protocol's per-conn state, or NULL */
    struct tls *tls;              /* its TLS connection; NULL: plain TCP */
    uint32_t slot;                /* waiter slot, held for life */
    uint32_t gen;                 /* the slot's generation for this conn */
    int64_t req_start_ms;     /* first byte of a partial request; 0 = none */
    int64_t stall_ms;         /* since when queued output has made no
                                 progress; 0 = none waiting or it moves */
    int64_t created_ms;       /* when it was accepted (monotonic) */
    unsigned drained : 1;     /* the last read left room: the socket had
                                 nothing more just then */
    unsigned eof : 1;         /* the peer closed its side; answer what came */
    unsigned closing : 1;     /* close once the output is flushed */
    unsigned attached : 1;    /* registered with the waiter */
    unsigned want_write : 1;  /* the waiter reports writability too */
    unsigned pump : 1;        /* the protocol moves bytes of its own (a
                                 session): serve it even without input */
    unsigned hold : 1;        /* it waits on its own peer (a blocked or
                                 subscribed session): no idle timeout */
    unsigned abort : 1;       /* close at once, its output dropped */
    unsigned admitted : 1;    /* HTTP: the partial request's head passed
                                 its checks (credentials, Host) */
    unsigned continued : 1;   /* HTTP: its "100 Continue" was sent */
    unsigned used : 1;        /* a byte has been read from it */
    unsigned waiting : 1;     /* replies are owed to it by Redis (its
                                 protocol's records in flight): not idle,
                                 and not closed at EOF before they came */
    unsigned stalled : 1;     /* read nothing more now: the protocol waits
                                 for a reply before it parses on */
    int64_t wait_deadline_ms; /* while waiting: when the first reply owed
                                 is overdue (the protocol then answers it
                                 with a timeout); 0 = none */
    /* Guarded by kind->budget->lock (with reuse on), never by the owner
     * alone: its place in the budget's list of conns waiting for a
     * request, and whether room was made by shutting it down. */
    struct conn *idle_prev, *idle_next;
    int idle_linked, reaped;
    char *rbuf;              /* rbuf_inline, or a larger heap buffer */
    size_t rcap;             /* bytes rbuf holds */
    size_t rpos, rlen;       /* unconsumed bytes: rbuf[rpos..rlen) */
    size_t discard;          /* HTTP body bytes still to skip */
    size_t parsed_len;       /* HTTP: bytes of the partial request already
                                handed to the parser (from rpos); 0 = none */
    struct http_request req; /* HTTP: the request being parsed; while its
                                head is partial, its progress is what
                                http_parse_request_resume() goes on from */
    struct outq out;         /* unsent output */
    char rbuf_inline[CONN_RBUF];
    char wbuf[CONN_WBUF];
};

/* Sets b up with max conns, making room for new ones by closing idle
 * ones when reuse is 1. Before any conn of b exists. */
void conn_budget_init(struct conn_budget *b, int max, int reuse);

/* Frees what conn_budget_init set up; after every conn of b is gone. */
void conn_budget_deinit(struct conn_budget *b);

/* For an accept over b's max: shuts down the conn that has waited longest
 * for a request (its owner then reads EOF and closes it) and counts it.
 * Returns 1 when one was (the new conn may be admitted), 0 when none
 * waits or reuse is off. Thread-safe. */
int conn_budget_make_room(struct conn_budget *b);

/* c's owner parks it waiting for its next request (nothing unanswered,
 * nothing unsent): with reuse on, c may now be closed to make room.
 * Reading a byte from c takes it off again. */
void conn_idle(struct conn *c);

/* Wraps an accepted, non-blocking socket of the given kind (counted in
 * kind->budget->open by the caller; conn_destroy uncounts it). A new conn
 * waits for its first request: with reuse on, room may be made with it.
 * Returns NULL on failure (the fd is left open then). */
struct conn *conn_create(int fd, const struct conn_kind *kind);

/* Releases the protocol's state, drops queued output, says close_notify
 * (one attempt) on a TLS conn past its handshake, closes the socket,
 * uncounts it from its budget and frees the conn. NULL is a no-op. */
void conn_destroy(struct conn *c);

/* Gives c, just accepted, a TLS connection from its kind's context and
 * starts its request clock: the handshake must be over within
 * request_timeout. For the accept loop. Returns 0, or CONN_IO_ERR (out of
 * memory; c is still the caller's to destroy). */
int conn_start_tls(struct conn *c);

/* Reads once into rbuf (moving unconsumed bytes to the front first when
 * that makes room). Returns bytes read (> 0) or a negative enum conn_io.
 * With rbuf full it returns 0: the caller must consume, reserve or fail.
 * A TLS conn still in its handshake advances it first: CONN_IO_AGAIN while
 * it waits for the peer (see conn_wants_write), CONN_IO_ERR (or EOF) when
 * it failed, counted and logged. */
long conn_read(struct conn *c);

/* Makes room for a request of need bytes from rpos (need already checked
 * against the protocol's limit), growing rbuf when the inline one is too
 * small. Returns 0 or CONN_IO_ERR (out of memory). */
int conn_reserve(struct conn *c, size_t need);

/* Marks n bytes at rpos consumed; an emptied heap rbuf is given back. */
void conn_consume(struct conn *c, size_t n);

/* Appends a copy of the iovec's bytes to the output. Returns 0 or
 * CONN_IO_ERR (out of memory, or past max_output: then c is aborted and
 * nothing more is queued; the same for every conn_write* call). */
int conn_write(struct conn *c, const struct iovec *iov, int iovcnt);

/* Appends a copy of one buffer; see conn_write. */
int conn_write_buf(struct conn *c, const void *p, size_t len);

/* Appends p[0..len) by reference: release(owner) runs once it is sent or
 * the conn is destroyed (and at once when this fails). Returns 0 or
 * CONN_IO_ERR. */
int conn_write_ref(struct conn *c, const void *p, size_t len,
                   void (*release)(void *owner), void *owner);

/* The protocol holds held bytes for c outside its queue (a reply still
 * arriving). Returns 0, or CONN_IO_ERR when those and the queued output
 * pass max_output: c is then aborted and counted. */
int conn_output_check(struct conn *c, size_t held);

/* Sends queued output without blocking. Returns CONN_IO_OK when all of it
 * is out, CONN_IO_AGAIN when some waits for the socket, CONN_IO_ERR. */
int conn_flush(struct conn *c);

/* Closes c as soon as its owner's serve() returns, without sending what
 * is queued (a client closed for what it did, not answered). */
static inline void
conn_abort(struct conn *c)
{
    c->abort = 1;
    c->closing = 1;
}

/* A last word outside the queue (HTTP's 408 at a deadline): one
 * non-blocking attempt, whatever the socket takes; nothing on a TLS conn
 * still in its handshake. */
void conn_send_now(struct conn *c, const void *p, size_t len);

/* 1 when the peer has sent bytes nobody has read yet: on the socket, or
 * already inside c's TLS connection. Never blocks. */
int conn_input_waiting(const struct conn *c);

/* 1 while c is a TLS conn whose handshake is not complete. */
int conn_handshaking(const struct conn *c);

/* c's deadline passed during its handshake: counted and logged (debug,
 * rate limited) as a TLS handshake timeout. For the waiter. */
void conn_handshake_timed_out(struct conn *c);

/* 1 when c must be woken for writability: output is queued, or its TLS
 * connection stopped on a write (a handshake message, a reply to the
 * peer's). */
static inline int
conn_wants_write(const struct conn *c)
{
    return outq_bytes(&c->out) > 0 ||
           (c->tls != NULL && tls_wants_write(c->tls));
}

/* 1 when so much output waits that no more requests should be parsed. */
static inline int
conn_out_full(const struct conn *c)
{
    return outq_bytes(&c->out) > CONN_OUT_HIGH;
}

#endif
