/*
 * conn: one client connection (of any listener) with its read and write
 * buffers, allocated once at accept and freed at close.
 *
 * Ownership: a conn belongs to exactly one thread at a time: the accept loop
 * (until pushed to the work queue), the worker that popped it, or the
 * waiter (while parked). Whoever owns it may touch any field. Nothing in a
 * conn is shared, so no field needs a lock of its own.
 *
 * Buffers: requests are parsed in place in rbuf (zero-copy); unconsumed
 * bytes are rbuf[rpos..rlen). Replies are gathered in wbuf and written with
 * one send per batch of pipelined requests; a reply too large for wbuf is
 * written straight from its source (e.g. a cache entry) with writev, so a
 * value is never copied twice.
 */
#ifndef RP_CONN_H
#define RP_CONN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define CONN_RBUF 16384 /* = HTTP_MAX_HEAD = RESP_MAX_INLINE */
#define CONN_WBUF 16384

struct conn;

/*
 * What a listener's protocol does with its conns, set once at accept (the
 * seam of twemproxy's nc_connection.h): the worker, the waiter and the
 * accept loop call through it and never ask which protocol a conn speaks.
 */
struct conn_ops {
    const char *name; /* "http", "resp", "admin": for logs */
    /* Answers every complete request buffered in c's read buffer,
     * appending responses to its output. Returns 0 when c stays open
     * (c->req_start_ms set when a partial request remains), or -1 when it
     * must be closed once its output is flushed. Called by c's owner. */
    int (*serve)(struct conn *c);
    /* c's deadline passed: a last word before it is closed (HTTP 408 for
     * a partial request), one non-blocking send. May be NULL. */
    void (*expired)(struct conn *c);
    /* The reply written to a client over its budget before it is closed
     * (HTTP 503, RESP -ERR max number of clients reached); returns its
     * length in out[0..cap), 0 if it does not fit. */
    size_t (*busy)(char *out, size_t cap);
};

/* How many conns may be open at once, shared by the listeners that draw
 * on it (HTTP and RESP share max_clients; the admin port has its own). */
struct conn_budget {
    atomic_int open;      /* conns open now */
    atomic_int max;       /* at most; may change on reload */
    atomic_long accepted; /* accepted since start */
    atomic_long rejected; /* refused over max */
};

/* One kind of conn: its protocol and the policy of its listener. Set up
 * by main before the listeners open; the timeouts may change on reload. */
struct conn_kind {
    const struct conn_ops *ops;
    void *ctx;                          /* the protocol's state (the proxy) */
    struct conn_budget *budget;         /* shared with other kinds, or own */
    _Atomic int64_t idle_timeout_ms;    /* idle keep-alive conn closed */
    _Atomic int64_t request_timeout_ms; /* a request must arrive within */
};

enum conn_io {
    CONN_IO_OK = 0,
    CONN_IO_AGAIN = -1, /* nothing to read now */
    CONN_IO_EOF = -2,   /* the peer closed */
    CONN_IO_ERR = -3,   /* reset, timeout or other socket error */
};

struct conn {
    int fd;
    const struct conn_kind *kind; /* its protocol and listener policy */
    int64_t req_start_ms; /* first byte of a partial request; 0 = none */
    int in_epoll;         /* registered with the waiter's epoll */
    int drained;          /* the last read left room in rbuf: the
                             socket had nothing more just then */
    int write_timeout_ms; /* budget for flushing one batch of replies */
    size_t rpos, rlen;    /* unconsumed bytes: rbuf[rpos..rlen) */
    size_t discard;       /* HTTP body bytes still to skip */
    size_t wlen;          /* bytes waiting in wbuf */
    char rbuf[CONN_RBUF];
    char wbuf[CONN_WBUF];
};

/* Wraps an accepted, non-blocking socket of the given kind (counted in
 * kind->budget->open by the caller; conn_destroy uncounts it). Its write
 * budget is the kind's request_timeout. Returns NULL on failure (the fd is
 * left open then). */
struct conn *conn_create(int fd, const struct conn_kind *kind);

/* Closes the socket, uncounts it from its budget and frees the conn. NULL
 * is a no-op. */
void conn_destroy(struct conn *c);

/* Reads once into rbuf (moving unconsumed bytes to the front first when
 * that makes room). Returns bytes read (> 0) or a negative enum conn_io.
 * With rbuf full it returns 0: the caller must consume or fail. */
long conn_read(struct conn *c);

/* Marks n bytes at rpos consumed. */
void conn_consume(struct conn *c, size_t n);

/* Appends the iovec's bytes to the output, flushing wbuf and writing
 * directly when they do not fit. Returns 0 or CONN_IO_ERR. */
int conn_write(struct conn *c, const struct iovec *iov, int iovcnt);

/* Appends one buffer; see conn_write. */
int conn_write_buf(struct conn *c, const void *p, size_t len);

/* Writes everything in wbuf, waiting at most write_timeout_ms for a slow
 * reader. Returns 0 or CONN_IO_ERR. */
int conn_flush(struct conn *c);

#endif
