/*
 * listener: sockets and the accept loop; see listener.h.
 */
#include "net/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#define LISTEN_BACKLOG 1024

int
listener_open(const char *bind_addr, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    char service[16];
    int fd = -1, one = 1, rc, saved = 0;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(service, sizeof(service), "%d", port);
    rc = getaddrinfo(bind_addr, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve bind address '%s': %s", bind_addr,
                 gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, LISTEN_BACKLOG) == 0) {
            break;
        }
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", bind_addr, port,
                 strerror(saved));
    }
    return fd;
}

#define LISTEN_MAX 8 /* listeners at most */

/* Answers a conn over its budget and closes it, without blocking. A TLS
 * conn gets no answer: one could only be sent after a handshake, whose
 * cost is what the budget bounds; its client sees the connection close. */
static void
reject(int fd, const struct conn_kind *kind)
{
    char drain[4096], busy[512];
    size_t n = kind->tls == NULL ? kind->ops->busy(busy, sizeof(busy)) : 0;

    if (n > 0) {
        (void)send(fd, busy, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    shutdown(fd, SHUT_WR);
    /* Read what already arrived so close() sends FIN, not RST. */
    while (recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0) {
    }
    close(fd);
}

/* Accepts every pending connection on l. */
static void
accept_all(const struct listener *l, struct workq *q)
{
    struct conn_budget *b = l->kind->budget;
    int one = 1;

    for (;;) {
        struct conn *c;
        int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE) {
                log_error("msg=\"accept: out of file descriptors\"");
                /* Back off instead of spinning on a full fd table. */
                poll(NULL, 0, 50);
            }
            return;
        }
        if (atomic_fetch_add(&b->open, 1) >=
                atomic_load_explicit(&b->max, memory_order_relaxed) &&
            !conn_budget_make_room(b)) {
            atomic_fetch_sub(&b->open, 1);
            atomic_fetch_add_explicit(&b->rejected, 1, memory_order_relaxed);
            log_debug("msg=\"connection rejected: too many open\" "
                      "listener=%s",
                      l->kind->ops->name);
            reject(cfd, l->kind);
            continue;
        }
        atomic_fetch_add_explicit(&b->accepted, 1, memory_order_relaxed);
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = conn_create(cfd, l->kind);
        if (c == NULL) {
            atomic_fetch_sub(&b->open, 1);
            close(cfd);
            continue;
        }
        if (l->kind->tls != NULL && conn_start_tls(c) < 0) {
            conn_destroy(c);
            continue;
        }
        if (workq_push(q, c) != WORKQ_OK) {
            conn_destroy(c);
        }
    }
}

int
listener_run(const struct listener *ls, int n, struct workq *q, int stop_fd)
{
    struct pollfd pfd[LISTEN_MAX + 1];
    int i;

    if (n > LISTEN_MAX) {
        return -1;
    }
    pfd[0] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
    for (i = 0; i < n; i++) {
        pfd[i + 1] = (struct pollfd){.fd = ls[i].fd, .events = POLLIN};
    }
    for (;;) {
        if (poll(pfd, (nfds_t)n + 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            log_error("msg=\"poll failed\" error=\"%s\"", strerror(errno));
            return -1;
        }
        for (i = 0; i < n; i++) {
            /* At stop, take what already completed its handshake too:
             * those clients may have sent a request. */
            if ((pfd[i + 1].revents & POLLIN) || pfd[0].revents != 0) {
                accept_all(&ls[i], q);
            }
        }
        if (pfd[0].revents != 0) {
            return 0;
        }
    }
}
