/*
 * listener: sockets and the accept loop; see listener.h.
 */
#include "listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "httpd.h"
#include "log.h"
#include "respd.h"
#include "util.h"

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
        snprintf(err, errlen, "cannot resolve bind address '%s': %s",
                 bind_addr, gai_strerror(rc));
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
    char drain[4096];

    if (proto == CONN_HTTP) {
        (void)send(fd, httpd_busy_response, httpd_busy_response_len,
                   MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
        (void)send(fd, respd_busy_response, respd_busy_response_len,
                   MSG_NOSIGNAL | MSG_DONTWAIT);
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
        if (atomic_fetch_add(&px->open_conns, 1) >= px->cfg->max_clients) {
            atomic_fetch_sub(&px->open_conns, 1);
            log_debug("msg=\"connection rejected: max_clients\"");
            reject(cfd, proto);
            continue;
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = conn_create(cfd, proto, (int)px->cfg->request_timeout_ms,
                        &px->open_conns);
        if (c == NULL) {
            atomic_fetch_sub(&px->open_conns, 1);
            close(cfd);
            continue;
        }
        if (workq_push(px->q, c) != WORKQ_OK) {
            conn_destroy(c);
        }
    }
}

int
listener_run(struct proxy *px, int http_fd, int resp_fd, int stop_fd)
{
    struct pollfd pfd[3] = {
        {.fd = stop_fd, .events = POLLIN},
        {.fd = http_fd, .events = POLLIN},
        {.fd = resp_fd, .events = POLLIN},
    };

    for (;;) {
        int n = poll(pfd, resp_fd >= 0 ? 3 : 2, -1);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            log_error("msg=\"poll failed\" error=\"%s\"", strerror(errno));
            return -1;
        }
        if (pfd[0].revents != 0) {
            return 0;
        }
        if (pfd[1].revents & POLLIN) {
            accept_all(px, http_fd, CONN_HTTP);
        }
        if (resp_fd >= 0 && (pfd[2].revents & POLLIN)) {
            accept_all(px, resp_fd, CONN_RESP);
        }
    }
}
