/*
 * conn: one client connection (HTTP or RESP) with its read and write
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

#include "proto/http.h"

#define CONN_RBUF 16384 /* = HTTP_MAX_HEAD = RESP_MAX_INLINE */
#define CONN_WBUF 16384

enum conn_proto {
    CONN_HTTP,  /* data port: GET /<key> */
    CONN_RESP,  /* Redis protocol */
    CONN_ADMIN, /* admin port: metrics, health, dashboard */
};

enum conn_io {
    CONN_IO_OK = 0,
    CONN_IO_AGAIN = -1, /* nothing to read now */
    CONN_IO_EOF = -2,   /* the peer closed */
    CONN_IO_ERR = -3,   /* reset, timeout or other socket error */
};

struct conn {
    int fd;
    enum conn_proto proto;
    int64_t req_start_ms;   /* first byte of a partial request; 0 = none */
    int in_epoll;           /* registered with the waiter's epoll */
    int drained;            /* the last read left room in rbuf: the
                               socket had nothing more just then */
    int write_timeout_ms;   /* budget for flushing one batch of replies */
    size_t rpos, rlen;      /* unconsumed bytes: rbuf[rpos..rlen) */
    size_t discard;         /* HTTP body bytes still to skip */
    size_t parsed_len;      /* bytes of the partial request already handed
                               to the parser (from rpos); 0 = none */
    size_t wlen;            /* bytes waiting in wbuf */
    atomic_int *open_count; /* decremented by conn_destroy */
    /* HTTP: the request being parsed; while its head is partial, req's
       progress is what http_parse_request_resume() goes on from. */
    struct http_request req;
    char rbuf[CONN_RBUF];
    char wbuf[CONN_WBUF];
};

/* Wraps an accepted, non-blocking socket. open_count (may be NULL) is
 * decremented when the conn is destroyed. Returns NULL on failure (the fd
 * is left open then). */
struct conn *conn_create(int fd, enum conn_proto proto, int write_timeout_ms,
                         atomic_int *open_count);

/* Closes the socket and frees the conn. NULL is a no-op. */
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
