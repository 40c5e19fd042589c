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

#include "net/conn.h"
#include "serve/httpd.h"
#include "base/log.h"
#include "serve/respd.h"
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

/* Answers a conn over max_clients and closes it, without blocking. */
static void
reject(int fd, enum conn_proto proto)
{
    char drain[4096], busy[512];
    size_t n;

    if (proto == CONN_RESP) {
        (void)send(fd, respd_busy_response, respd_busy_response_len,
                   MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
        n = httpd_final_response(busy, sizeof(busy), 503);
        (void)send(fd, busy, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    shutdown(fd, SHUT_WR);
    /* Read what already arrived so close() sends FIN, not RST. */
    while (recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0) {
    }
    close(fd);
}

/* Accepts every pending connection on fd. */
static void
accept_all(struct proxy *px, int fd, enum conn_proto proto)
{
    /* The admin port has its own small budget, so operators can still
     * scrape a proxy whose clients have taken every slot. */
    atomic_int *count =
        proto == CONN_ADMIN ? &px->admin_conns : &px->open_conns;
    int limit =
        proto == CONN_ADMIN ? LISTENER_ADMIN_CLIENTS : px->cfg->max_clients;
    int one = 1;

    for (;;) {
        struct conn *c;
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

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
        if (atomic_fetch_add(count, 1) >= limit) {
            atomic_fetch_sub(count, 1);
            if (proto != CONN_ADMIN) {
                atomic_fetch_add_explicit(&px->metrics.rejected, 1,
                                          memory_order_relaxed);
            }
            log_debug("msg=\"connection rejected: max_clients\"");
            reject(cfd, proto);
            continue;
        }
        if (proto != CONN_ADMIN) {
            atomic_fetch_add_explicit(&px->metrics.accepted, 1,
                                      memory_order_relaxed);
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = conn_create(cfd, proto, (int)px->cfg->request_timeout_ms, count);
        if (c == NULL) {
            atomic_fetch_sub(count, 1);
            close(cfd);
            continue;
        }
        if (workq_push(px->q, c) != WORKQ_OK) {
            conn_destroy(c);
        }
    }
}

int
listener_run(struct proxy *px, int http_fd, int resp_fd, int admin_fd,
             int stop_fd)
{
    struct pollfd pfd[4];
    enum conn_proto proto[4];
    int i, n = 0;

    pfd[n++] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
    proto[n] = CONN_HTTP;
    pfd[n++] = (struct pollfd){.fd = http_fd, .events = POLLIN};
    if (resp_fd >= 0) {
        proto[n] = CONN_RESP;
        pfd[n++] = (struct pollfd){.fd = resp_fd, .events = POLLIN};
    }
    if (admin_fd >= 0) {
        proto[n] = CONN_ADMIN;
        pfd[n++] = (struct pollfd){.fd = admin_fd, .events = POLLIN};
    }
    for (;;) {
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            log_error("msg=\"poll failed\" error=\"%s\"", strerror(errno));
            return -1;
        }
        if (pfd[0].revents != 0) {
            /* Stop accepting, but take what already completed its
             * handshake: those clients may have sent a request. */
            for (i = 1; i < n; i++) {
                accept_all(px, pfd[i].fd, proto[i]);
            }
            return 0;
        }
        for (i = 1; i < n; i++) {
            if (pfd[i].revents & POLLIN) {
                accept_all(px, pfd[i].fd, proto[i]);
            }
        }
    }
}
