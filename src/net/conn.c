/*
 * conn: connection buffers and socket I/O; see conn.h. Writes loop over
 * short writes and EINTR, use MSG_NOSIGNAL, and wait with poll() within the
 * conn's write budget when the peer's window is full.
 */
#include "net/conn.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/standby.h"
#include "base/util.h"

struct conn *
conn_create(int fd, const struct conn_kind *kind)
{
    struct conn *c = malloc(sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    memset(c, 0, offsetof(struct conn, rbuf));
    c->fd = fd;
    c->kind = kind;
    c->write_timeout_ms = (int)atomic_load_explicit(&kind->request_timeout_ms,
                                                    memory_order_relaxed);
    return c;
}

void
conn_destroy(struct conn *c)
{
    if (c == NULL) {
        return;
    }
    close(c->fd);
    atomic_fetch_sub(&c->kind->budget->open, 1);
    free(c);
}

long
conn_read(struct conn *c)
{
    ssize_t n;

    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    } else if (c->rpos > 0 && c->rlen == CONN_RBUF) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen == CONN_RBUF) {
        c->drained = 0;
        return 0;
    }
    do {
        n = recv(c->fd, c->rbuf + c->rlen, CONN_RBUF - c->rlen, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        c->drained = (size_t)n < CONN_RBUF - c->rlen;
        c->rlen += (size_t)n;
        return n;
    }
    if (n == 0) {
        return CONN_IO_EOF;
    }
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? CONN_IO_AGAIN
                                                     : CONN_IO_ERR;
}

void
conn_consume(struct conn *c, size_t n)
{
    c->rpos += n;
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    }
}

/* writev() until every byte is out, within the write budget. */
static int
writev_all(struct conn *c, struct iovec *iov, int iovcnt)
{
    int64_t deadline = util_now_ms() + c->write_timeout_ms;
    struct msghdr msg = {0};

    while (iovcnt > 0) {
        ssize_t n;
        int err;

        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)iovcnt;
        n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
            int64_t left = deadline - util_now_ms();

            if (errno == EINTR) {
                continue;
            }
            if ((errno != EAGAIN && errno != EWOULDBLOCK) || left <= 0) {
                return CONN_IO_ERR;
            }
            /* The client is not reading: let another worker run. */
            standby_block_begin();
            n = poll(&pfd, 1, (int)left);
            err = errno;
            standby_block_end();
            if (n < 0 && err != EINTR) {
                return CONN_IO_ERR;
            }
            continue;
        }
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

int
conn_flush(struct conn *c)
{
    struct iovec v = {.iov_base = c->wbuf, .iov_len = c->wlen};

    c->wlen = 0;
    return v.iov_len == 0 ? 0 : writev_all(c, &v, 1);
}

int
conn_write(struct conn *c, const struct iovec *iov, int iovcnt)
{
    struct iovec v[8];
    size_t total = 0;
    int i, n = 0;

    for (i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
    }
    if (total <= CONN_WBUF - c->wlen) {
        for (i = 0; i < iovcnt; i++) {
            memcpy(c->wbuf + c->wlen, iov[i].iov_base, iov[i].iov_len);
            c->wlen += iov[i].iov_len;
        }
        return 0;
    }
    if (iovcnt > (int)RP_ARRAY_LEN(v) - 1) {
        return CONN_IO_ERR;
    }
    if (c->wlen > 0) {
        v[n].iov_base = c->wbuf;
        v[n++].iov_len = c->wlen;
        c->wlen = 0;
    }
    for (i = 0; i < iovcnt; i++) {
        v[n++] = iov[i];
    }
    return writev_all(c, v, n);
}

int
conn_write_buf(struct conn *c, const void *p, size_t len)
{
    struct iovec v = {.iov_base = (void *)p, .iov_len = len};

    return conn_write(c, &v, 1);
}
