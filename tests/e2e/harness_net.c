/*
 * harness_net: the clock, waiting for a condition, client sockets and a
 * service manager's notify socket for the end-to-end tests (see
 * harness.h). Every read is bounded by poll()
 * with a deadline on the monotonic clock, so no helper can hang; sockets
 * are blocking with 2 s timeouts as a second guard, and sends never raise
 * SIGPIPE (the test process ignores it; its children get it back).
 */
#include "harness.h"
#include "harness_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define H_POLL_MS 5 /* between two calls of an h_wait_until condition */

__attribute__((constructor)) static void
h__init(void)
{
    signal(SIGPIPE, SIG_IGN);
}

int64_t
h_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
h_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

int
h_wait_until(int timeout_ms, int (*cond)(void *arg), void *arg)
{
    int64_t deadline = h_now_ms() + timeout_ms;

    for (;;) {
        if (cond(arg)) {
            return 1;
        }
        if (h_now_ms() >= deadline) {
            return 0;
        }
        h_sleep_ms(H_POLL_MS);
    }
}

unsigned
h_readable(const int *fds, int n, int timeout_ms)
{
    int64_t deadline = h_now_ms() + timeout_ms;
    struct pollfd pfd[32];
    unsigned mask = 0;
    int i;

    if (n < 1 || n > 32) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    }
    for (;;) {
        int64_t left = deadline - h_now_ms();
        int got = poll(pfd, (nfds_t)n, left > 0 ? (int)left : 0);

        if (got > 0) {
            break;
        }
        if (got == 0 || errno != EINTR) {
            return 0;
        }
    }
    for (i = 0; i < n; i++) {
        if (pfd[i].revents != 0) {
            mask |= 1u << i;
        }
    }
    return mask;
}

int
h__wait_readable(int fd, int64_t deadline)
{
    return h_readable(&fd, 1, (int)(deadline - h_now_ms())) != 0;
}

int
h__read_exact(int fd, char *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n;

        if (!h__wait_readable(fd, deadline)) {
            return -1;
        }
        n = recv(fd, buf, len, MSG_DONTWAIT);
        if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int
h_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timeval tv = {H_IO_MS / 1000, 0};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1) {
        return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

int
h_send(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
h_sends(int fd, const char *s)
{
    return h_send(fd, s, strlen(s));
}

size_t
h_recv_all(int fd, char *buf, size_t cap, int timeout_ms)
{
    int64_t deadline = h_now_ms() + timeout_ms;
    size_t len = 0;

    if (cap == 0) {
        return 0;
    }
    while (len + 1 < cap && h__wait_readable(fd, deadline)) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);

        if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

int
h_recv_n(int fd, char *buf, size_t n, int timeout_ms)
{
    return h__read_exact(fd, buf, n, h_now_ms() + timeout_ms);
}

int
h_wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = h_now_ms() + timeout_ms;

    while (h__wait_readable(fd, deadline)) {
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);

        if (n == 0 || (n == -1 && (errno == ECONNRESET || errno == EPIPE))) {
            return 1;
        }
        if (n == -1 && errno != EINTR && errno != EAGAIN) {
            return 1;
        }
    }
    return 0;
}

/* ---- a service manager's notify socket ---- */

int
h_notify_open(struct h_notify *n)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char path[sizeof(n->dir) + 8];
    int saved;

    memset(n, 0, sizeof(*n));
    n->fd = -1;
    /* Under /tmp, whatever TMPDIR says: the path must fit sun_path. */
    snprintf(n->dir, sizeof(n->dir), "/tmp/rp-e2e-notify-XXXXXX");
    if (mkdtemp(n->dir) == NULL) {
        n->dir[0] = '\0';
        return -1;
    }
    snprintf(path, sizeof(path), "%s/notify", n->dir);
    snprintf(n->env, sizeof(n->env), "NOTIFY_SOCKET=%s", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (n->fd >= 0 && bind(n->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        return 0;
    }
    saved = errno;
    h_notify_close(n);
    errno = saved;
    return -1;
}

ssize_t
h_notify_recv(const struct h_notify *n, char *buf, size_t cap, int timeout_ms)
{
    ssize_t len;

    if (h_readable(&n->fd, 1, timeout_ms) == 0) {
        return -1;
    }
    len = recv(n->fd, buf, cap - 1, MSG_DONTWAIT);
    if (len >= 0) {
        buf[len] = '\0';
    }
    return len;
}

int
h_notify_pending(const struct h_notify *n)
{
    char c;

    return recv(n->fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
}

void
h_notify_close(struct h_notify *n)
{
    char path[sizeof(n->dir) + 8];

    if (n->dir[0] == '\0') {
        return;
    }
    if (n->fd >= 0) {
        close(n->fd);
    }
    snprintf(path, sizeof(path), "%s/notify", n->dir);
    unlink(path);
    rmdir(n->dir);
    memset(n, 0, sizeof(*n));
    n->fd = -1;
}
