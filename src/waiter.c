/*
 * waiter: epoll over parked connections plus a deadline scan; see waiter.h.
 * Parked conns sit on one intrusive doubly linked list, so parking, waking
 * and expiring are O(1) each and the 100 ms scan is O(parked).
 */
#include "waiter.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define WAITER_TICK_MS 100
#define WAITER_EVENTS 256

static const char http_408[] =
    "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\n"
    "Content-Length: 16\r\nConnection: close\r\n\r\nrequest timeout\n";

struct waiter {
    pthread_mutex_t lock;
    struct conn *head; /* parked conns; lock */
    int count;         /* lock */
    int stopped;       /* lock */
    int epfd;
    int wakefd; /* eventfd that ends epoll_wait at stop */
    struct workq *q;
    pthread_t thread;
    int joined;
};

static void
list_remove(struct waiter *w, struct conn *c)
{
    if (c->wprev != NULL) {
        c->wprev->wnext = c->wnext;
    } else {
        w->head = c->wnext;
    }
    if (c->wnext != NULL) {
        c->wnext->wprev = c->wprev;
    }
    c->wprev = c->wnext = NULL;
    w->count--;
}

/* Closes a conn whose deadline passed. Owned by the caller (not parked). */
static void
expire(struct conn *c)
{
    if (c->proto != CONN_RESP && c->req_start_ms != 0) {
        /* Best effort, one non-blocking send: the peer is not reading. */
        (void)send(c->fd, http_408, sizeof(http_408) - 1,
                   MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    log_debug("msg=\"connection timed out\" fd=%d partial=%d", c->fd,
              c->req_start_ms != 0);
    conn_destroy(c);
}

int
waiter_park(struct waiter *w, struct conn *c, int64_t deadline_ms)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
                             .data.ptr = c};
    int rc;

    pthread_mutex_lock(&w->lock);
    if (w->stopped) {
        pthread_mutex_unlock(&w->lock);
        return -1;
    }
    rc = epoll_ctl(w->epfd, c->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                   c->fd, &ev);
    if (rc == 0) {
        c->in_epoll = 1;
        c->deadline_ms = deadline_ms;
        c->wprev = NULL;
        c->wnext = w->head;
        if (w->head != NULL) {
            w->head->wprev = c;
        }
        w->head = c;
        w->count++;
    }
    pthread_mutex_unlock(&w->lock);
    return rc == 0 ? 0 : -1;
}

/* Moves conns whose deadline passed off the list and closes them. */
static void
expire_due(struct waiter *w, int64_t now)
{
    struct conn *c, *next, *due = NULL;

    pthread_mutex_lock(&w->lock);
    for (c = w->head; c != NULL; c = next) {
        next = c->wnext;
        if (c->deadline_ms <= now) {
            list_remove(w, c);
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
            c->wnext = due;
            due = c;
        }
    }
    pthread_mutex_unlock(&w->lock);
    for (c = due; c != NULL; c = next) {
        next = c->wnext;
        c->wnext = NULL;
        expire(c);
    }
}

/* Hands readable conns back to the queue: one lock for the list, one for
 * the queue, however many woke together. */
static void
wake(struct waiter *w, struct conn **cs, size_t n)
{
    size_t i, queued;

    pthread_mutex_lock(&w->lock);
    for (i = 0; i < n; i++) {
        list_remove(w, cs[i]);
    }
    pthread_mutex_unlock(&w->lock);
    queued = workq_push_many(w->q, (void *const *)cs, n);
    for (i = queued; i < n; i++) {
        conn_destroy(cs[i]);
    }
}

static void *
waiter_main(void *arg)
{
    struct waiter *w = arg;
    struct epoll_event evs[WAITER_EVENTS];
    struct conn *ready[WAITER_EVENTS];
    int64_t next_scan = util_now_ms() + WAITER_TICK_MS;
    size_t nready;
    int stopping = 0;

    for (;;) {
        int64_t now = util_now_ms();
        int i, n, timeout = next_scan > now ? (int)(next_scan - now) : 0;

        n = epoll_wait(w->epfd, evs, WAITER_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            log_error("msg=\"epoll_wait failed\" errno=%d", errno);
            break;
        }
        for (i = 0, nready = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                stopping = 1; /* wakefd */
            } else {
                ready[nready++] = evs[i].data.ptr;
            }
        }
        if (stopping) {
            /* Conns that woke stay listed; waiter_stop closes them. */
            return NULL;
        }
        wake(w, ready, nready);
        now = util_now_ms();
        if (now >= next_scan) {
            expire_due(w, now);
            next_scan = now + WAITER_TICK_MS;
        }
    }
    return NULL;
}

struct waiter *
waiter_create(struct workq *q)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    struct waiter *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        return NULL;
    }
    w->q = q;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) {
        goto fail_epoll;
    }
    w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->wakefd < 0) {
        goto fail_eventfd;
    }
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) < 0 ||
        pthread_mutex_init(&w->lock, NULL) != 0) {
        goto fail_setup;
    }
    if (pthread_create(&w->thread, NULL, waiter_main, w) != 0) {
        goto fail_thread;
    }
    return w;

fail_thread:
    pthread_mutex_destroy(&w->lock);
fail_setup:
    close(w->wakefd);
fail_eventfd:
    close(w->epfd);
fail_epoll:
    free(w);
    return NULL;
}

void
waiter_stop(struct waiter *w)
{
    uint64_t one = 1;
    struct conn *c;

    if (w->joined) {
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->stopped = 1;
    pthread_mutex_unlock(&w->lock);
    while (write(w->wakefd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
    pthread_join(w->thread, NULL);
    w->joined = 1;
    pthread_mutex_lock(&w->lock);
    while ((c = w->head) != NULL) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        char byte;

        list_remove(w, c);
        /* A request that already arrived is in flight: hand it to the
         * workers, which are still draining the queue. Idle and closed
         * conns are closed. */
        if (poll(&pfd, 1, 0) == 1 &&
            recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1 &&
            workq_push(w->q, c) == WORKQ_OK) {
            continue;
        }
        conn_destroy(c);
    }
    pthread_mutex_unlock(&w->lock);
}

void
waiter_destroy(struct waiter *w)
{
    if (w == NULL) {
        return;
    }
    waiter_stop(w);
    pthread_mutex_destroy(&w->lock);
    close(w->wakefd);
    close(w->epfd);
    free(w);
}

int
waiter_count(struct waiter *w)
{
    int n;

    pthread_mutex_lock(&w->lock);
    n = w->count;
    pthread_mutex_unlock(&w->lock);
    return n;
}
