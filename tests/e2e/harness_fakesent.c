/*
 * harness_fakesent: a scripted sentinel for the tests (see
 * harness_sentinel.h): a thread in poll() over a listening socket and its
 * clients, answering the few commands the proxy sends a sentinel with
 * what the test set, so the proxy hears of a failover exactly when the
 * test says.
 */
#include "harness_sentinel.h"
#include "harness_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define H_FS_CLIENTS 16
#define H_FS_BUF 4096

struct h__fsclient {
    int fd;
    char buf[H_FS_BUF];
    size_t len;
};

static int
h__fs_send(int fd, const char *s)
{
    return h_send(fd, s, strlen(s));
}

/* Parses one RESP array of bulks at buf[0..len): its words into argv
 * (pointers into buf, NUL-terminated in place). Returns the bytes it took,
 * 0 when incomplete, -1 when malformed. */
static long
h__fs_parse(char *buf, size_t len, char **argv, int *argc)
{
    char *p = buf, *end = buf + len, *nl;
    long n, i, l;

    if (len == 0 || buf[0] != '*' || (nl = memchr(p, '\n', len)) == NULL) {
        return len > 0 && buf[0] != '*' ? -1 : 0;
    }
    n = strtol(p + 1, NULL, 10);
    if (n < 1 || n > 8) {
        return -1;
    }
    p = nl + 1;
    for (i = 0; i < n; i++) {
        if (p >= end || (nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
            return 0;
        }
        if (*p != '$') {
            return -1;
        }
        l = strtol(p + 1, NULL, 10);
        p = nl + 1;
        if (l < 0 || end - p < l + 2) {
            return 0;
        }
        argv[i] = p;
        p[l] = '\0';
        p += l + 2;
    }
    *argc = (int)n;
    return p - buf;
}

/* Answers one command. */
static void
h__fs_answer(struct h_fakesent *f, int fd, char **argv, int argc)
{
    char out[256];
    int port;

    if (strcasecmp(argv[0], "PING") == 0) {
        h__fs_send(fd, "+PONG\r\n");
    } else if (strcasecmp(argv[0], "AUTH") == 0) {
        h__fs_send(fd, "+OK\r\n");
    } else if (strcasecmp(argv[0], "SUBSCRIBE") == 0 && argc == 2) {
        snprintf(out, sizeof(out),
                 "*3\r\n$9\r\nsubscribe\r\n$%zu\r\n%s\r\n:1\r\n",
                 strlen(argv[1]), argv[1]);
        pthread_mutex_lock(&f->lock);
        if (f->nsubs < 8) {
            f->subs[f->nsubs++] = fd;
        }
        pthread_mutex_unlock(&f->lock);
        h__fs_send(fd, out);
    } else if (strcasecmp(argv[0], "SENTINEL") == 0 && argc == 3 &&
               strcasecmp(argv[1], "get-master-addr-by-name") == 0) {
        pthread_mutex_lock(&f->lock);
        port = f->master_port;
        f->asks++;
        pthread_mutex_unlock(&f->lock);
        if (strcmp(argv[2], H_SENT_NAME) != 0) {
            h__fs_send(fd, "*-1\r\n");
            return;
        }
        snprintf(out, sizeof(out), "*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%d\r\n",
                 snprintf(NULL, 0, "%d", port), port);
        h__fs_send(fd, out);
    } else if (strcasecmp(argv[0], "SENTINEL") == 0 && argc == 3 &&
               strcasecmp(argv[1], "replicas") == 0) {
        h__fs_send(fd, "*0\r\n");
    } else {
        h__fs_send(fd, "-ERR unknown command\r\n");
    }
}

/* Reads and answers what fd has. Returns 0, or -1 when it closed. */
static int
h__fs_serve(struct h_fakesent *f, struct h__fsclient *c)
{
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    char *argv[8];
    int argc;
    long used;

    if (n <= 0) {
        return -1;
    }
    c->len += (size_t)n;
    while ((used = h__fs_parse(c->buf, c->len, argv, &argc)) > 0) {
        h__fs_answer(f, c->fd, argv, argc);
        memmove(c->buf, c->buf + used, c->len - (size_t)used);
        c->len -= (size_t)used;
    }
    return used < 0 || c->len == sizeof(c->buf) ? -1 : 0;
}

static void
h__fs_drop_sub(struct h_fakesent *f, int fd)
{
    int i;

    pthread_mutex_lock(&f->lock);
    for (i = 0; i < f->nsubs; i++) {
        if (f->subs[i] == fd) {
            f->subs[i] = f->subs[--f->nsubs];
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
}

static void *
h__fs_main(void *arg)
{
    struct h_fakesent *f = arg;
    struct h__fsclient *cl = calloc(H_FS_CLIENTS, sizeof(*cl));
    struct pollfd pfd[H_FS_CLIENTS + 2];
    int n = 0, i;

    if (cl == NULL) {
        return NULL;
    }
    for (;;) {
        pfd[0] = (struct pollfd){.fd = f->stopfd, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
        for (i = 0; i < n; i++) {
            pfd[i + 2] = (struct pollfd){.fd = cl[i].fd, .events = POLLIN};
        }
        if (poll(pfd, (nfds_t)n + 2, -1) < 0 && errno != EINTR) {
            break;
        }
        if (pfd[0].revents) {
            break;
        }
        for (i = n - 1; i >= 0; i--) {
            if (pfd[i + 2].revents && h__fs_serve(f, &cl[i]) < 0) {
                h__fs_drop_sub(f, cl[i].fd);
                close(cl[i].fd);
                cl[i] = cl[--n];
            }
        }
        if (pfd[1].revents) {
            int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);

            if (fd >= 0 && n < H_FS_CLIENTS) {
                cl[n].fd = fd;
                cl[n++].len = 0;
            } else if (fd >= 0) {
                close(fd);
            }
        }
    }
    for (i = 0; i < n; i++) {
        close(cl[i].fd);
    }
    free(cl);
    return NULL;
}

int
h_fakesent_start(struct h_fakesent *f, int master_port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);

    memset(f, 0, sizeof(*f));
    f->master_port = master_port;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    f->stopfd = eventfd(0, EFD_CLOEXEC);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (f->lfd < 0 || f->stopfd < 0 ||
        bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(f->lfd, 16) < 0 ||
        getsockname(f->lfd, (struct sockaddr *)&sa, &sl) < 0 ||
        pthread_mutex_init(&f->lock, NULL) != 0) {
        return -1;
    }
    f->port = ntohs(sa.sin_port);
    if (pthread_create(&f->thread, NULL, h__fs_main, f) != 0) {
        return -1;
    }
    f->running = 1;
    return 0;
}

void
h_fakesent_set(struct h_fakesent *f, int master_port, int announce)
{
    char payload[128], msg[256];
    int old, i;

    pthread_mutex_lock(&f->lock);
    old = f->master_port;
    f->master_port = master_port;
    snprintf(payload, sizeof(payload), "%s 127.0.0.1 %d 127.0.0.1 %d",
             H_SENT_NAME, old, master_port);
    snprintf(msg, sizeof(msg),
             "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$%zu\r\n%s\r\n",
             strlen(payload), payload);
    for (i = 0; announce && i < f->nsubs; i++) {
        h__fs_send(f->subs[i], msg);
    }
    pthread_mutex_unlock(&f->lock);
}

long
h_fakesent_asks(struct h_fakesent *f)
{
    long n;

    pthread_mutex_lock(&f->lock);
    n = f->asks;
    pthread_mutex_unlock(&f->lock);
    return n;
}

void
h_fakesent_stop(struct h_fakesent *f)
{
    uint64_t one = 1;

    if (f->running) {
        if (write(f->stopfd, &one, sizeof(one)) < 0) {
            /* the thread then stays in poll; nothing better to do */
        }
        pthread_join(f->thread, NULL);
        pthread_mutex_destroy(&f->lock);
        f->running = 0;
    }
    if (f->lfd > 0) {
        close(f->lfd);
    }
    if (f->stopfd > 0) {
        close(f->stopfd);
    }
    f->lfd = f->stopfd = 0;
}
