/*
 * limit: the benchmark's physical limit on this machine. A one-thread,
 * level-triggered epoll server that does no work beyond framing: every
 * complete HTTP request head gets the same fixed response, every complete
 * RESP command (or inline line) the same fixed bulk string. No lookup, no
 * allocation per request; whatever a real server costs above this on the
 * same core is its own work. One read per readable event and one write per
 * read (a short write is queued and flushed on EPOLLOUT), as Redis does.
 *
 *   limit http PORT TOTAL BODY  every request head: a 200 with a BODY-byte
 *                               body, padded (X-Pad) to TOTAL bytes in all
 *   limit resp PORT SIZE        every command: "$SIZE\r\n" SIZE bytes "\r\n"
 *
 * Listens on 127.0.0.1:PORT until SIGTERM or SIGINT. Built by tools/bench.sh
 * (make build/tools/limit).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define LIMIT_READ (64 * 1024)
#define LIMIT_EVENTS 256
#define LIMIT_MAX_FD 65536

/* Where a connection's request framing stands between reads. */
struct lconn {
    int state;        /* HTTP: bytes of "\r\n\r\n" matched; RESP: below */
    long long n;      /* RESP: number being read (count or length) */
    long long args;   /* RESP: bulk arguments left in this command */
    long long skip;   /* RESP: payload bytes (with CRLF) left to skip */
    char *pend;       /* reply bytes not yet written, or NULL */
    size_t pend_len;  /* bytes at pend */
    size_t pend_off;  /* bytes of pend already written */
};

enum { R_START, R_COUNT, R_DOLLAR, R_LEN, R_SKIP, R_INLINE };

static struct lconn *conns[LIMIT_MAX_FD];
static char *reply;
static size_t reply_len;
static int http_mode;

static int
build_reply(const char *mode, int argc, char **argv)
{
    long total, body, pad;
    char head[256];
    int hl;

    if (strcmp(mode, "http") == 0 && argc == 5) {
        http_mode = 1;
        total = atol(argv[3]);
        body = atol(argv[4]);
        if (body < 0 || body > (1 << 20) || total > (1 << 21)) {
            return -1;
        }
        hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      "Content-Length: %ld\r\nX-Pad: \r\n\r\n",
                      body);
        pad = total - hl - body;
        if (pad < 0) {
            pad = 0;
        }
        reply_len = (size_t)(hl + pad + body);
        reply = malloc(reply_len);
        if (reply == NULL) {
            return -1;
        }
        /* head up to "X-Pad: ", the padding, then the blank line */
        memcpy(reply, head, (size_t)hl - 4);
        memset(reply + hl - 4, 'x', (size_t)pad);
        memcpy(reply + hl - 4 + pad, "\r\n\r\n", 4);
        memset(reply + hl + pad, 'v', (size_t)body);
        return 0;
    }
    if (strcmp(mode, "resp") == 0 && argc == 4) {
        body = atol(argv[3]);
        if (body < 0 || body > (1 << 20)) {
            return -1;
        }
        hl = snprintf(head, sizeof(head), "$%ld\r\n", body);
        reply_len = (size_t)hl + (size_t)body + 2;
        reply = malloc(reply_len);
        if (reply == NULL) {
            return -1;
        }
        memcpy(reply, head, (size_t)hl);
        memset(reply + hl, 'v', (size_t)body);
        memcpy(reply + hl + body, "\r\n", 2);
        return 0;
    }
    return -1;
}

/* Requests completed in buf[0..n), resuming c's framing. */
static size_t
count_http(struct lconn *c, const char *buf, size_t n)
{
    static const char end[] = "\r\n\r\n";
    size_t i, done = 0;

    for (i = 0; i < n; i++) {
        if (buf[i] == end[c->state]) {
            if (++c->state == 4) {
                done++;
                c->state = 0;
            }
        } else {
            c->state = buf[i] == '\r' ? 1 : 0;
        }
    }
    return done;
}

static size_t
count_resp(struct lconn *c, const char *buf, size_t n)
{
    size_t i, done = 0;
    char b;

    for (i = 0; i < n; i++) {
        b = buf[i];
        switch (c->state) {
        case R_START:
            if (b == '*') {
                c->state = R_COUNT;
                c->n = 0;
            } else if (b != '\r' && b != '\n') {
                c->state = R_INLINE;
            }
            break;
        case R_INLINE:
            if (b == '\n') {
                done++;
                c->state = R_START;
            }
            break;
        case R_COUNT:
        case R_LEN:
            if (b >= '0' && b <= '9') {
                c->n = c->n * 10 + (b - '0');
                if (c->n > (1LL << 32)) {
                    return (size_t)-1;
                }
            } else if (b == '\n') {
                if (c->state == R_COUNT) {
                    c->args = c->n;
                    c->state = c->args > 0 ? R_DOLLAR : R_START;
                    done += c->args > 0 ? 0 : 1;
                } else {
                    c->skip = c->n + 2;
                    c->state = R_SKIP;
                }
            } else if (b != '\r') {
                return (size_t)-1;
            }
            break;
        case R_DOLLAR:
            if (b != '$') {
                return (size_t)-1;
            }
            c->state = R_LEN;
            c->n = 0;
            break;
        case R_SKIP:
            /* this byte and up to skip - 1 more are payload */
            if ((long long)(n - i) >= c->skip) {
                i += (size_t)c->skip - 1;
                c->skip = 0;
                if (--c->args == 0) {
                    done++;
                    c->state = R_START;
                } else {
                    c->state = R_DOLLAR;
                }
            } else {
                c->skip -= (long long)(n - i);
                i = n - 1;
            }
            break;
        }
    }
    return done;
}

static void
drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    if (conns[fd] != NULL) {
        free(conns[fd]->pend);
        free(conns[fd]);
        conns[fd] = NULL;
    }
}

/* Writes what is at out (len bytes) or queues the rest for EPOLLOUT. */
static int
send_out(int ep, int fd, struct lconn *c, const char *out, size_t len)
{
    struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
    ssize_t w;

    do {
        w = send(fd, out, len, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN) {
        return -1;
    }
    if (w < 0) {
        w = 0;
    }
    if ((size_t)w == len) {
        return 0;
    }
    c->pend = malloc(len - (size_t)w);
    if (c->pend == NULL) {
        return -1;
    }
    memcpy(c->pend, out + w, len - (size_t)w);
    c->pend_len = len - (size_t)w;
    c->pend_off = 0;
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static int
flush_pending(int ep, int fd, struct lconn *c)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    ssize_t w;

    do {
        w = send(fd, c->pend + c->pend_off, c->pend_len - c->pend_off,
                 MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        return errno == EAGAIN ? 0 : -1;
    }
    c->pend_off += (size_t)w;
    if (c->pend_off < c->pend_len) {
        return 0;
    }
    free(c->pend);
    c->pend = NULL;
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static int
serve(int ep, int fd, char *in, char **out, size_t *out_cap)
{
    struct lconn *c = conns[fd];
    size_t reqs, need, i;
    ssize_t r;

    if (c->pend != NULL) {
        return flush_pending(ep, fd, c);
    }
    do {
        r = recv(fd, in, LIMIT_READ, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EAGAIN) {
        return 0;
    }
    if (r <= 0) {
        return -1;
    }
    reqs = http_mode ? count_http(c, in, (size_t)r)
                     : count_resp(c, in, (size_t)r);
    if (reqs == (size_t)-1) {
        return -1;
    }
    if (reqs == 0) {
        return 0;
    }
    need = reqs * reply_len;
    if (need > *out_cap) {
        free(*out);
        *out = malloc(need);
        *out_cap = *out != NULL ? need : 0;
        if (*out == NULL) {
            return -1;
        }
    }
    for (i = 0; i < reqs; i++) {
        memcpy(*out + i * reply_len, reply, reply_len);
    }
    return send_out(ep, fd, c, *out, need);
}

static void
accept_all(int ep, int ls)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int fd, one = 1;

    for (;;) {
        fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return; /* EAGAIN, or out of descriptors: try next wake-up */
        }
        if (fd >= LIMIT_MAX_FD) {
            close(fd);
            continue;
        }
        conns[fd] = calloc(1, sizeof(struct lconn));
        ev.data.fd = fd;
        if (conns[fd] == NULL || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            drop(ep, fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

static int
listen_on(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int ls, one = 1;

    ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ls < 0) {
        return -1;
    }
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(ls, 4096) < 0) {
        close(ls);
        return -1;
    }
    return ls;
}

int
main(int argc, char **argv)
{
    struct epoll_event ev = {.events = EPOLLIN}, evs[LIMIT_EVENTS];
    static char in[LIMIT_READ];
    char *out = NULL;
    size_t out_cap = 0;
    int ls, ep, n, i, port;

    if (argc < 4 || build_reply(argv[1], argc, argv) < 0) {
        fprintf(stderr, "usage: limit http PORT TOTAL BODY | "
                        "limit resp PORT SIZE\n");
        return 2;
    }
    port = atoi(argv[2]);
    signal(SIGPIPE, SIG_IGN);
    ls = listen_on(port);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ls < 0 || ep < 0) {
        perror("limit: listen");
        return 1;
    }
    ev.data.fd = ls;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) < 0) {
        perror("limit: epoll_ctl");
        return 1;
    }
    for (;;) {
        n = epoll_wait(ep, evs, LIMIT_EVENTS, -1);
        if (n < 0 && errno != EINTR) {
            perror("limit: epoll_wait");
            return 1;
        }
        for (i = 0; i < n; i++) {
            if (evs[i].data.fd == ls) {
                accept_all(ep, ls);
            } else if (serve(ep, evs[i].data.fd, in, &out, &out_cap) < 0) {
                drop(ep, evs[i].data.fd);
            }
        }
    }
}
