/*
 * delay_relay: a TCP relay that holds every byte for a fixed time each way,
 * to put a far-away server on loopback: a Redis replica replicating from
 * its master through it (the Sentinel tests' replication lag), or a proxy
 * in front of a "far Redis" (the benchmark's rows).
 *
 *   delay_relay [-l ADDR] LISTEN_PORT TARGET_HOST:TARGET_PORT DELAY_US
 *               [BACK_DELAY_US]
 *
 * Listens on ADDR (default 127.0.0.1) port LISTEN_PORT; each connection
 * accepted gets one to TARGET_HOST:TARGET_PORT, and the bytes read on
 * either side are written to the other DELAY_US microseconds after they
 * were read (BACK_DELAY_US for the target's bytes back, default the
 * same). Order is kept; a side that closes is shut down on the other once
 * what it sent before has gone. Prints "delay_relay: listening on
 * ADDR:PORT" once it accepts, and runs until SIGTERM or SIGINT.
 *
 * One thread, one epoll loop: each direction of a pair is a queue of
 * chunks stamped with when they may go; epoll_pwait2 waits until the
 * earliest of them to the microsecond, so a chunk goes out its delay after
 * it was read, late by the kernel's timer slack at most (epoll_wait's
 * millisecond timeout would stretch a delay of a few hundred microseconds
 * to a whole millisecond or more). A kernel without epoll_pwait2 (before
 * Linux 5.11) gets epoll_wait, each wait rounded up to a millisecond. A
 * direction holding more than RELAY_HOLD_MAX bytes stops reading its side
 * until it has sent half, so a fast sender costs bounded memory. Built by
 * `make $(BUILD)/tools/delay_relay`; nothing outside the C library.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RELAY_CHUNK 65536          /* bytes read at once */
#define RELAY_HOLD_MAX (64u << 20) /* bytes one direction may hold */
#define RELAY_EVENTS 64

struct chunk {
    struct chunk *next;
    int64_t due_us; /* may be written from then on */
    size_t len, off;
    char data[];
};

/* One direction: bytes read from `from`, queued for `to`. */
struct way {
    int from, to;
    struct chunk *head, *tail;
    size_t held;
    int64_t delay_us;
    int eof;     /* `from` closed: shut `to` down once the queue is empty */
    int shut;    /* done */
    int blocked; /* `to` would block: wait for EPOLLOUT */
    int paused;  /* over RELAY_HOLD_MAX: not reading `from` */
};

struct pair {
    struct way way[2]; /* 0: client to target, 1: target to client */
    int fd[2];         /* client, target */
    int connecting;    /* the target's connect is in progress */
    int dead;
};

/* What an epoll event points at. */
struct tag {
    struct pair *p; /* NULL: the listener or the signals */
    int side;       /* 0 client, 1 target */
};

static int ep;

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
die(const char *what)
{
    fprintf(stderr, "delay_relay: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void
usage(void)
{
    fprintf(stderr, "usage: delay_relay [-l ADDR] LISTEN_PORT "
                    "TARGET_HOST:TARGET_PORT DELAY_US [BACK_DELAY_US]\n");
    exit(2);
}

/* Parses a non-negative decimal in [0, max] or exits. */
static long long
number(const char *s, long long max)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max) {
        fprintf(stderr, "delay_relay: '%s' is not a number in 0..%lld\n", s,
                max);
        exit(2);
    }
    return v;
}

/* The events side of p wants now. */
static uint32_t
wants(const struct pair *p, int side)
{
    const struct way *in = &p->way[side], *out = &p->way[1 - side];
    uint32_t ev = 0;

    if (!in->eof && !in->paused && !p->connecting) {
        ev |= EPOLLIN;
    }
    if (out->blocked || (side == 1 && p->connecting)) {
        ev |= EPOLLOUT;
    }
    return ev;
}

static void
rearm(struct pair *p, int side, struct tag *t)
{
    struct epoll_event e = {.events = wants(p, side), .data.ptr = t};

    epoll_ctl(ep, EPOLL_CTL_MOD, p->fd[side], &e);
}

/* Tags live with the pair: two after it in one allocation. */
static struct tag *
tag_of(struct pair *p, int side)
{
    return (struct tag *)(p + 1) + side;
}

static void
pair_close(struct pair *p)
{
    int i;

    for (i = 0; i < 2; i++) {
        struct chunk *c, *n;

        for (c = p->way[i].head; c != NULL; c = n) {
            n = c->next;
            free(c);
        }
        p->way[i].head = p->way[i].tail = NULL;
        if (p->fd[i] >= 0) {
            epoll_ctl(ep, EPOLL_CTL_DEL, p->fd[i], NULL);
            close(p->fd[i]);
            p->fd[i] = -1;
        }
    }
    p->dead = 1;
}

/* Reads what side has into its way's queue. Returns 0 or -1 (close). */
static int
read_side(struct pair *p, int side)
{
    struct way *w = &p->way[side];

    while (!w->eof && !w->paused) {
        struct chunk *c = malloc(sizeof(*c) + RELAY_CHUNK);
        ssize_t n;

        if (c == NULL) {
            return -1;
        }
        do {
            n = recv(p->fd[side], c->data, RELAY_CHUNK, 0);
        } while (n < 0 && errno == EINTR);
        if (n <= 0) {
            free(c);
            if (n == 0) {
                w->eof = 1;
                return 0;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        c->next = NULL;
        c->len = (size_t)n;
        c->off = 0;
        c->due_us = now_us() + w->delay_us;
        if (w->tail != NULL) {
            w->tail->next = c;
        } else {
            w->head = c;
        }
        w->tail = c;
        w->held += (size_t)n;
        w->paused = w->held > RELAY_HOLD_MAX;
    }
    return 0;
}

/* Writes what is due of way w. Returns 0 or -1 (close). */
static int
flush_way(struct way *w, int64_t now)
{
    struct chunk *c;

    while ((c = w->head) != NULL && c->due_us <= now && !w->blocked) {
        ssize_t n;

        do {
            n = send(w->to, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                w->blocked = 1;
                return 0;
            }
            return -1;
        }
        c->off += (size_t)n;
        w->held -= (size_t)n;
        if (c->off < c->len) {
            continue;
        }
        w->head = c->next;
        if (w->head == NULL) {
            w->tail = NULL;
        }
        free(c);
    }
    if (w->paused && w->held <= RELAY_HOLD_MAX / 2) {
        w->paused = 0;
    }
    if (w->head == NULL && w->eof && !w->shut) {
        shutdown(w->to, SHUT_WR);
        w->shut = 1;
    }
    return 0;
}

/* Moves p on: reads, writes what is due, closes when both ways are done. */
static void
pair_run(struct pair *p, int64_t now)
{
    int i;

    for (i = 0; i < 2 && !p->dead; i++) {
        if (read_side(p, i) < 0 || flush_way(&p->way[i], now) < 0) {
            pair_close(p);
        }
    }
    if (!p->dead && p->way[0].shut && p->way[1].shut) {
        pair_close(p);
    }
    for (i = 0; i < 2 && !p->dead; i++) {
        rearm(p, i, tag_of(p, i));
    }
}

/* Opens the target side of a new pair for client fd. */
static struct pair *
pair_open(int fd, const struct addrinfo *target, int64_t d0, int64_t d1)
{
    struct pair *p = calloc(1, sizeof(*p) + 2 * sizeof(struct tag));
    struct epoll_event e;
    int t, one = 1, i;

    if (p == NULL) {
        close(fd);
        return NULL;
    }
    t = socket(target->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
               0);
    if (t < 0 || (connect(t, target->ai_addr, target->ai_addrlen) < 0 &&
                  errno != EINPROGRESS)) {
        if (t >= 0) {
            close(t);
        }
        close(fd);
        free(p);
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    p->fd[0] = fd;
    p->fd[1] = t;
    p->connecting = 1;
    p->way[0] = (struct way){.from = fd, .to = t, .delay_us = d0};
    p->way[1] = (struct way){.from = t, .to = fd, .delay_us = d1};
    for (i = 0; i < 2; i++) {
        *tag_of(p, i) = (struct tag){p, i};
        e.events = wants(p, i);
        e.data.ptr = tag_of(p, i);
        epoll_ctl(ep, EPOLL_CTL_ADD, p->fd[i], &e);
    }
    return p;
}

/* The pairs alive, for the timer. A small array: a relay carries a few
 * connections. */
static struct pair **pairs;
static size_t npairs, cap_pairs;

static void
pairs_add(struct pair *p)
{
    if (npairs == cap_pairs) {
        size_t cap = cap_pairs ? cap_pairs * 2 : 16;
        struct pair **np = realloc(pairs, cap * sizeof(*np));

        if (np == NULL) {
            pair_close(p);
            free(p);
            return;
        }
        pairs = np;
        cap_pairs = cap;
    }
    pairs[npairs++] = p;
}

/* Frees dead pairs; returns the earliest due time of a queued chunk that
 * is not blocked, or -1. */
static int64_t
pairs_sweep(void)
{
    int64_t next = -1;
    size_t i, k = 0;

    for (i = 0; i < npairs; i++) {
        struct pair *p = pairs[i];
        int j;

        if (p->dead) {
            free(p);
            continue;
        }
        pairs[k++] = p;
        for (j = 0; j < 2; j++) {
            const struct way *w = &p->way[j];

            if (w->head != NULL && !w->blocked &&
                (next < 0 || w->head->due_us < next)) {
                next = w->head->due_us;
            }
        }
    }
    npairs = k;
    return next;
}

/* Waits for events until due_us (-1: no deadline). Returns epoll's
 * answer. */
static int
wait_events(struct epoll_event *evs, int64_t due_us)
{
    static int no_pwait2;
    int64_t wait_us = -1;

    if (due_us >= 0) {
        int64_t now = now_us();

        wait_us = due_us <= now ? 0 : due_us - now;
    }
    if (!no_pwait2) {
        struct timespec ts = {.tv_sec = (time_t)(wait_us / 1000000),
                              .tv_nsec = (long)(wait_us % 1000000) * 1000};
        int n =
            epoll_pwait2(ep, evs, RELAY_EVENTS, wait_us < 0 ? NULL : &ts, NULL);

        if (n >= 0 || errno != ENOSYS) {
            return n;
        }
        no_pwait2 = 1;
    }
    return epoll_wait(ep, evs, RELAY_EVENTS,
                      wait_us < 0 ? -1 : (int)((wait_us + 999) / 1000));
}

static int
listen_on(const char *addr, const char *port, char *shown, size_t cap)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    int fd, one = 1;

    if (getaddrinfo(addr, port, &hints, &res) != 0) {
        fprintf(stderr, "delay_relay: cannot resolve %s\n", addr);
        exit(2);
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        die("socket");
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        die("bind");
    }
    freeaddrinfo(res);
    if (listen(fd, 128) < 0) {
        die("listen");
    }
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv,
                sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(shown, cap, "%s:%s", host, serv);
    return fd;
}

int
main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *target;
    struct epoll_event e, evs[RELAY_EVENTS];
    struct tag listen_tag = {NULL, 0}, sig_tag = {NULL, 1};
    char host[NI_MAXHOST], *colon, shown[NI_MAXHOST + NI_MAXSERV];
    int64_t d0, d1;
    sigset_t sigs;
    int lfd, sfd, opt;

    while ((opt = getopt(argc, argv, "l:h")) != -1) {
        if (opt != 'l') {
            usage();
        }
        addr = optarg;
    }
    if (argc - optind < 3 || argc - optind > 4) {
        usage();
    }
    number(argv[optind], 65535);
    snprintf(host, sizeof(host), "%s", argv[optind + 1]);
    colon = strrchr(host, ':');
    if (colon == NULL || colon == host) {
        usage();
    }
    *colon = '\0';
    number(colon + 1, 65535);
    d0 = number(argv[optind + 2], 3600LL * 1000000);
    d1 = argc - optind == 4 ? number(argv[optind + 3], 3600LL * 1000000) : d0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (getaddrinfo(host, colon + 1, &hints, &target) != 0) {
        fprintf(stderr, "delay_relay: cannot resolve %s\n", host);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || ep < 0) {
        die("epoll");
    }
    lfd = listen_on(addr, argv[optind], shown, sizeof(shown));
    e.events = EPOLLIN;
    e.data.ptr = &listen_tag;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
    e.data.ptr = &sig_tag;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e);
    printf("delay_relay: listening on %s\n", shown);
    fflush(stdout);
    for (;;) {
        int64_t next = pairs_sweep(), now;
        int n, i;
        size_t j;

        n = wait_events(evs, next);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
        for (i = 0; i < n; i++) {
            struct tag *t = evs[i].data.ptr;

            if (t == &sig_tag) {
                return 0;
            }
            if (t == &listen_tag) {
                int fd;

                while ((fd = accept4(lfd, NULL, NULL,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct pair *p = pair_open(fd, target, d0, d1);

                    if (p != NULL) {
                        pairs_add(p);
                    }
                }
                continue;
            }
            if (t->p->dead) {
                continue;
            }
            if (t->side == 1 && t->p->connecting) {
                int err = 0;
                socklen_t sl = sizeof(err);

                getsockopt(t->p->fd[1], SOL_SOCKET, SO_ERROR, &err, &sl);
                if (err != 0) {
                    pair_close(t->p);
                    continue;
                }
                t->p->connecting = 0;
            }
            if (evs[i].events & EPOLLOUT) {
                t->p->way[1 - t->side].blocked = 0;
            }
        }
        now = now_us();
        for (j = 0; j < npairs; j++) {
            if (!pairs[j]->dead && !pairs[j]->connecting) {
                pair_run(pairs[j], now);
            }
        }
    }
}
