/*
 * peer_helpers: the test playing Redis on one end of a loopback TCP
 * connection, shared by the upstream unit tests that need a Redis which
 * does exactly what they say (test_rconn*.c, test_pipe*.c); header-only
 * because each tests/unit/upstream/test_*.c is its own binary.
 *
 * A listening socket on a free loopback port, accepted on by the test,
 * which reads what the proxy's side sent (exact bytes, or whole commands
 * parsed with the proxy's own parser) and answers (or not) as it likes:
 * in one piece, byte by byte, or by closing with a reset. Every wait is
 * bounded (WAIT_MS), so a broken peer fails a test instead of hanging it;
 * the bound only limits how long a failure takes to show.
 */
#ifndef RP_TEST_PEER_HELPERS_H
#define RP_TEST_PEER_HELPERS_H

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/resp.h"

#define WAIT_MS 5000

/* Waits until fd is ready for events (bounded). */
static inline void
wait_fd(int fd, short events)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int n;

    do {
        n = poll(&pfd, 1, WAIT_MS);
    } while (n < 0 && errno == EINTR);
    cr_assert_eq(n, 1, "the socket did not become ready within %d ms", WAIT_MS);
}

/* Listens on a free loopback port with the given backlog; returns the fd
 * and sets *port. rcvbuf > 0 sets the receive buffer of the connections
 * it accepts (so a peer that stops reading holds back its sender soon). */
static inline int
fake_listen_rcvbuf(int *port, int backlog, int rcvbuf)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    if (rcvbuf > 0) {
        cr_assert_eq(
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    }
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, backlog), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static inline int
fake_listen(int *port, int backlog)
{
    return fake_listen_rcvbuf(port, backlog, 0);
}

/* Accepts one connection (bounded). What the test sends on it goes out
 * at once (TCP_NODELAY: no piece waits for the previous one's ACK). */
static inline int
fake_accept(int lfd)
{
    int fd, one = 1;

    wait_fd(lfd, POLLIN);
    fd = accept(lfd, NULL, NULL);
    cr_assert_geq(fd, 0, "accept: %s", strerror(errno));
    cr_assert_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)),
                 0);
    return fd;
}

/* Sends p[0..len) whole (the socket is blocking). */
static inline void
fake_send_bytes(int fd, const void *p, size_t len)
{
    size_t sent = 0;

    while (sent < len) {
        ssize_t n = send(fd, (const char *)p + sent, len - sent, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        sent += (size_t)n;
    }
}

static inline void
fake_send(int fd, const char *s)
{
    fake_send_bytes(fd, s, strlen(s));
}

/* Reads exactly len bytes into buf (bounded). */
static inline void
fake_read(int fd, char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n;

        wait_fd(fd, POLLIN);
        n = recv(fd, buf + got, len - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        cr_assert_gt(n, 0, "the fake's peer closed after %zu of %zu bytes", got,
                     len);
        got += (size_t)n;
    }
}

/* Reads exactly what the fake's peer should have sent, and checks it. */
static inline void
fake_expect_bytes(int fd, const char *want, size_t len)
{
    char *buf = malloc(len + 1);

    cr_assert_not_null(buf);
    fake_read(fd, buf, len);
    cr_assert_arr_eq(buf, want, len, "got %.*s, want %.*s", (int)len, buf,
                     (int)len, want);
    free(buf);
}

static inline void
fake_expect(int fd, const char *want)
{
    fake_expect_bytes(fd, want, strlen(want));
}

/* Commands read from the peer: parsed from a buffer that grows. */
struct fake_in {
    char *buf;
    size_t len, cap, pos; /* parsed up to pos */
};

/* The next command the peer sent (bounded wait): its first arguments in
 * *cmd (pointing into in->buf until the next call), its bytes at
 * *raw[0..*raw_len). */
static inline void
fake_command(int fd, struct fake_in *in, struct resp_command *cmd,
             const char **raw, size_t *raw_len)
{
    for (;;) {
        const char *err;
        ssize_t n;

        if (in->len > in->pos) {
            int rc = resp_parse(in->buf + in->pos, in->len - in->pos,
                                (size_t)64 << 20, cmd, &err);

            cr_assert_neq(rc, RESP_EPROTO, "the peer sent no command");
            if (rc == RESP_OK) {
                *raw = in->buf + in->pos;
                *raw_len = cmd->consumed;
                in->pos += cmd->consumed;
                return;
            }
        }
        if (in->pos > 0) {
            memmove(in->buf, in->buf + in->pos, in->len - in->pos);
            in->len -= in->pos;
            in->pos = 0;
        }
        if (in->cap - in->len < 65536) {
            in->cap = in->cap ? in->cap * 2 : 1 << 20;
            in->buf = realloc(in->buf, in->cap);
            cr_assert_not_null(in->buf);
        }
        wait_fd(fd, POLLIN);
        n = recv(fd, in->buf + in->len, in->cap - in->len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        cr_assert_gt(n, 0, "the fake's peer closed mid-command");
        in->len += (size_t)n;
    }
}

static inline void
fake_in_free(struct fake_in *in)
{
    free(in->buf);
    memset(in, 0, sizeof(*in));
}

/* 1 when the command's i-th argument is s. */
static inline int
fake_arg_is(const struct resp_command *cmd, size_t i, const char *s)
{
    return i < cmd->argc && cmd->argv[i].len == strlen(s) &&
           memcmp(cmd->argv[i].p, s, cmd->argv[i].len) == 0;
}

/* Closes fd with a reset: what the peer sent and was not read is
 * dropped, and its next read or write fails. */
static inline void
fake_reset(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};

    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)), 0);
    close(fd);
}

#endif
