/*
 * conn: connection buffers and socket I/O; see conn.h. Every call is
 * non-blocking; sends use MSG_NOSIGNAL and gather up to CONN_IOV ranges.
 * A TLS conn's bytes go through net/tls instead of recv/send; a failed
 * handshake is counted by cause and logged at debug level, at most
 * CONN_TLS_LOG_PER_S lines a second (then one line of how many were not),
 * so a flood of bad handshakes cannot flood the log.
 */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"
#include "base/util.h"

void
conn_budget_init(struct conn_budget *b, int max, int reuse)
{
    atomic_init(&b->max, max);
    b->reuse = reuse;
    pthread_mutex_init(&b->lock, NULL);
    b->idle_head = b->idle_tail = NULL;
}

void
conn_budget_deinit(struct conn_budget *b)
{
    pthread_mutex_destroy(&b->lock);
}

/* Takes c off its budget's list. Lock held. */
static void
idle_unlink(struct conn_budget *b, struct conn *c)
{
    if (!c->idle_linked) {
        return;
    }
    *(c->idle_prev != NULL ? &c->idle_prev->idle_next : &b->idle_head) =
        c->idle_next;
    *(c->idle_next != NULL ? &c->idle_next->idle_prev : &b->idle_tail) =
        c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
    c->idle_linked = 0;
}

/* Puts c at the young end of the list. Lock held. */
static void
idle_link(struct conn_budget *b, struct conn *c)
{
    if (c->idle_linked || c->reaped) {
        return;
    }
    c->idle_prev = b->idle_tail;
    c->idle_next = NULL;
    *(b->idle_tail != NULL ? &b->idle_tail->idle_next : &b->idle_head) = c;
    b->idle_tail = c;
    c->idle_linked = 1;
}

void
conn_idle(struct conn *c)
{
    struct conn_budget *b = c->kind->budget;

    if (b->reuse) {
        pthread_mutex_lock(&b->lock);
        idle_link(b, c);
        pthread_mutex_unlock(&b->lock);
    }
}

/* c's owner read a byte, or is closing c: off the list. */
static void
busy(struct conn *c)
{
    struct conn_budget *b = c->kind->budget;

    if (b->reuse) {
        pthread_mutex_lock(&b->lock);
        idle_unlink(b, c);
        pthread_mutex_unlock(&b->lock);
    }
}

int
conn_budget_make_room(struct conn_budget *b)
{
    struct conn *c;

    if (!b->reuse) {
        return 0;
    }
    pthread_mutex_lock(&b->lock);
    c = b->idle_head;
    if (c != NULL) {
        idle_unlink(b, c);
        c->reaped = 1;
        /* Its fd stays open until its owner, which unlinks it under this
         * lock before closing, destroys it: shutting it down here reaches
         * the right socket. The owner reads EOF and closes it. */
        shutdown(c->fd, SHUT_RDWR);
        atomic_fetch_add_explicit(&b->reused, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&b->lock);
    return c != NULL;
}

#define CONN_IOV 64 /* ranges gathered into one sendmsg */
#define CONN_TLS_LOG_PER_S 10

struct conn *
conn_create(int fd, const struct conn_kind *kind)
{
    struct conn *c = malloc(sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    memset(c, 0, offsetof(struct conn, rbuf_inline));
    c->fd = fd;
    c->kind = kind;
    c->rbuf = c->rbuf_inline;
    c->rcap = CONN_RBUF;
    c->created_ms = util_now_ms();
    outq_init(&c->out, c->wbuf, sizeof(c->wbuf));
    conn_idle(c); /* waiting for its first request */
    return c;
}

void
conn_destroy(struct conn *c)
{
    if (c == NULL) {
        return;
    }
    busy(c); /* before close: make_room may be about to shut it down */
    if (c->kind->ops->release != NULL) {
        c->kind->ops->release(c);
    }
    outq_deinit(&c->out);
    if (c->rbuf != c->rbuf_inline) {
        free(c->rbuf);
    }
    if (c->tls != NULL) {
        (void)tls_shutdown(c->tls);
        tls_free(c->tls);
    }
    close(c->fd);
    atomic_fetch_sub(&c->kind->budget->open, 1);
    free(c);
}

int
conn_start_tls(struct conn *c)
{
    c->tls = tls_create(c->kind->tls, c->fd, NULL);
    if (c->tls == NULL) {
        return CONN_IO_ERR;
    }
    c->req_start_ms = util_now_ms();
    return 0;
}

/* The peer's address as "ip:port", for logs. */
static void
peer_text(int fd, char *out, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;

            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
            port = ntohs(a->sin6_port);
        }
    }
    snprintf(out, len, "%s:%d", ip, port);
}

/* May one more debug line about a failed handshake be written this
 * second? Says how many were not, once a second has passed. */
static int
tls_log_allowed(struct conn_tls_stats *st)
{
    long now = (long)(util_now_ms() / 1000);
    long second = atomic_load_explicit(&st->log_second, memory_order_relaxed);

    if (!log_enabled(CONFIG_LOG_DEBUG)) {
        return 0;
    }
    if (second != now &&
        atomic_compare_exchange_strong(&st->log_second, &second, now)) {
        int skipped = atomic_exchange(&st->log_skipped, 0);

        atomic_store(&st->log_lines, 0);
        if (skipped > 0) {
            log_debug("msg=\"TLS handshake failures not logged\" count=%d",
                      skipped);
        }
    }
    if (atomic_fetch_add(&st->log_lines, 1) < CONN_TLS_LOG_PER_S) {
        return 1;
    }
    atomic_fetch_add(&st->log_skipped, 1);
    return 0;
}

/* c's handshake failed with cause f (reason: why). */
static void
tls_refused(struct conn *c, enum tls_fail f, const char *reason)
{
    struct conn_tls_stats *st = c->kind->tls_stats;
    char peer[64];

    atomic_fetch_add_explicit(&st->failed[f], 1, memory_order_relaxed);
    if (tls_log_allowed(st)) {
        peer_text(c->fd, peer, sizeof(peer));
        log_debug("msg=\"TLS handshake failed\" listener=%s peer=%s "
                  "cause=%s reason=\"%s\"",
                  c->kind->ops->name, peer, tls_fail_name(f), reason);
    }
}

void
conn_handshake_timed_out(struct conn *c)
{
    struct conn_tls_stats *st = c->kind->tls_stats;
    char peer[64];

    atomic_fetch_add_explicit(&st->timeouts, 1, memory_order_relaxed);
    if (tls_log_allowed(st)) {
        peer_text(c->fd, peer, sizeof(peer));
        log_debug("msg=\"TLS handshake failed\" listener=%s peer=%s "
                  "cause=timeout reason=\"not complete within "
                  "request_timeout\"",
                  c->kind->ops->name, peer);
    }
}

int
conn_handshaking(const struct conn *c)
{
    return c->tls != NULL && !tls_established(c->tls);
}

/* Advances c's handshake: CONN_IO_OK once it is complete (the request
 * clock stops: c is idle now), else what conn_read returns. */
static long
tls_step(struct conn *c)
{
    int rc = tls_handshake(c->tls);

    if (rc == TLS_OK) {
        c->req_start_ms = 0;
        atomic_fetch_add_explicit(&c->kind->tls_stats->handshakes, 1,
                                  memory_order_relaxed);
        return CONN_IO_OK;
    }
    if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
        return CONN_IO_AGAIN;
    }
    tls_refused(c,
                tls_failure(c->tls) != TLS_FAIL_NONE ? tls_failure(c->tls)
                                                     : TLS_FAIL_CLOSED,
                tls_reason(c->tls));
    return rc == TLS_EOF ? CONN_IO_EOF : CONN_IO_ERR;
}

/* conn_read of a TLS conn, rbuf having room. */
static long
read_tls(struct conn *c)
{
    long n;

    if (!tls_established(c->tls) && (n = tls_step(c)) != CONN_IO_OK) {
        return n;
    }
    n = tls_read(c->tls, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n > 0) {
        c->drained = tls_drained(c->tls);
        c->rlen += (size_t)n;
        return n;
    }
    switch (n) {
    case TLS_WANT_READ:
    case TLS_WANT_WRITE:
        return CONN_IO_AGAIN;
    case TLS_EOF:
        return CONN_IO_EOF;
    default:
        return CONN_IO_ERR;
    }
}

/* Moves the unconsumed bytes to the front of rbuf. */
static void
compact(struct conn *c)
{
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
}

long
conn_read(struct conn *c)
{
    ssize_t n;

    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    } else if (c->rpos > 0 && c->rlen == c->rcap) {
        compact(c);
    }
    if (c->rlen == c->rcap) {
        c->drained = 0;
        return 0;
    }
    if (c->tls != NULL) {
        return read_tls(c);
    }
    do {
        n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        c->drained = (size_t)n < c->rcap - c->rlen;
        c->rlen += (size_t)n;
        c->used = 1;
        busy(c);
        return n;
    }
    if (n == 0) {
        return CONN_IO_EOF;
    }
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? CONN_IO_AGAIN
                                                     : CONN_IO_ERR;
}

int
conn_reserve(struct conn *c, size_t need)
{
    char *nb;
    size_t cap;

    if (c->rcap - c->rpos >= need) {
        return 0;
    }
    if (c->rcap >= need) {
        compact(c);
        return 0;
    }
    /* Grow geometrically, so a request whose size is learned piece by
     * piece (many arguments) costs amortized O(1) copies per byte. */
    cap = c->rcap * 2 > need ? c->rcap * 2 : need;
    nb = malloc(cap);
    if (nb == NULL) {
        return CONN_IO_ERR;
    }
    memcpy(nb, c->rbuf + c->rpos, c->rlen - c->rpos);
    if (c->rbuf != c->rbuf_inline) {
        free(c->rbuf);
    }
    c->rlen -= c->rpos;
    c->rpos = 0;
    c->rbuf = nb;
    c->rcap = cap;
    return 0;
}

void
conn_consume(struct conn *c, size_t n)
{
    c->rpos += n;
    if (c->rpos < c->rlen) {
        return;
    }
    c->rpos = c->rlen = 0;
    if (c->rbuf != c->rbuf_inline) {
        /* The large request is done: give its buffer back. */
        free(c->rbuf);
        c->rbuf = c->rbuf_inline;
        c->rcap = CONN_RBUF;
    }
}

int
conn_output_check(struct conn *c, size_t held)
{
    int64_t max =
        atomic_load_explicit(&c->kind->max_output, memory_order_relaxed);

    if (c->abort) {
        return CONN_IO_ERR; /* already over: nothing more is queued */
    }
    if (max <= 0 || (uint64_t)outq_bytes(&c->out) + held <= (uint64_t)max) {
        return 0;
    }
    conn_abort(c);
    atomic_fetch_add_explicit(&c->kind->budget->overflowed, 1,
                              memory_order_relaxed);
    return CONN_IO_ERR;
}

int
conn_write(struct conn *c, const struct iovec *iov, int iovcnt)
{
    size_t n = 0;
    int i;

    for (i = 0; i < iovcnt; i++) {
        n += iov[i].iov_len;
    }
    if (conn_output_check(c, n) < 0) {
        return CONN_IO_ERR;
    }
    for (i = 0; i < iovcnt; i++) {
        if (outq_copy(&c->out, iov[i].iov_base, iov[i].iov_len) < 0) {
            return CONN_IO_ERR;
        }
    }
    return 0;
}

int
conn_write_buf(struct conn *c, const void *p, size_t len)
{
    if (conn_output_check(c, len) < 0) {
        return CONN_IO_ERR;
    }
    return outq_copy(&c->out, p, len) < 0 ? CONN_IO_ERR : 0;
}

int
conn_write_ref(struct conn *c, const void *p, size_t len,
               void (*release)(void *owner), void *owner)
{
    if (conn_output_check(c, len) < 0 ||
        outq_ref(&c->out, p, len, release, owner) < 0) {
        release(owner);
        return CONN_IO_ERR;
    }
    return 0;
}

/* The socket took nothing, or less than offered: the stall begins now
 * unless it already had. */
static int
stalled(struct conn *c)
{
    if (c->stall_ms == 0) {
        c->stall_ms = util_now_ms();
    }
    return CONN_IO_AGAIN;
}

/* conn_flush of a TLS conn: a record at a time until the socket is full. */
static int
flush_tls(struct conn *c)
{
    struct iovec iov[CONN_IOV];

    while (outq_bytes(&c->out) > 0) {
        int cnt = outq_iov(&c->out, iov, CONN_IOV);
        long n = tls_writev(c->tls, iov, cnt);

        if (n > 0) {
            outq_sent(&c->out, (size_t)n);
            c->stall_ms = 0;
            continue;
        }
        return n == TLS_WANT_WRITE || n == TLS_WANT_READ ? stalled(c)
                                                         : CONN_IO_ERR;
    }
    return CONN_IO_OK;
}

int
conn_flush(struct conn *c)
{
    struct iovec iov[CONN_IOV];

    if (c->tls != NULL) {
        return flush_tls(c);
    }
    while (outq_bytes(&c->out) > 0) {
        struct msghdr msg = {.msg_iov = iov};
        size_t offered = 0, i;
        ssize_t n;

        msg.msg_iovlen = (size_t)outq_iov(&c->out, iov, CONN_IOV);
        for (i = 0; i < msg.msg_iovlen; i++) {
            offered += iov[i].iov_len;
        }
        n = msg.msg_iovlen == 1
                ? send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
                : sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? stalled(c)
                                                           : CONN_IO_ERR;
        }
        outq_sent(&c->out, (size_t)n);
        c->stall_ms = 0;
        if ((size_t)n < offered) {
            /* The socket's buffer is full: asking again would only cost
             * a send() that fails with EAGAIN. */
            return stalled(c);
        }
    }
    return CONN_IO_OK;
}

void
conn_send_now(struct conn *c, const void *p, size_t len)
{
    if (c->tls == NULL) {
        (void)send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else if (tls_established(c->tls) && len > 0) {
        (void)tls_writev(c->tls, &(struct iovec){(void *)p, len}, 1);
    }
}

int
conn_input_waiting(const struct conn *c)
{
    char byte;

    if (c->tls != NULL && tls_buffered(c->tls)) {
        return 1;
    }
    return recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}
