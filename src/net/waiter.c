/*
 * waiter: a slot table of parked conns, one epoll set shared with the
 * workers, and a deadline thread; see waiter.h.
 *
 * Each parked conn sits in a slot; its epoll registration carries the slot
 * number and the slot's generation (bumped whenever the slot is freed).
 * Parking takes a slot from the free list under the lock, a few
 * instructions; taking and expiring claim a slot with one compare-and-swap
 * and give it back under the lock. The 100 ms deadline scan is O(slots
 * ever used).
 */
#include "net/waiter.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#define WAITER_TICK_MS 100
#define WAITER_QUEUE_TAG UINT64_MAX /* epoll data of the work queue's fd */
#define WAITER_NO_SLOT UINT32_MAX

/* A slot's state word: generation << 32 | kind. */
enum slot_kind {
    SLOT_FREE = 0,   /* no conn (on the free list, or about to be) */
    SLOT_ARMING = 1, /* the parker is registering the conn with epoll */
    SLOT_PARKED = 2, /* the waiter owns the conn */
};

struct waiter_slot {
    _Atomic uint64_t state;      /* see enum slot_kind */
    _Atomic int64_t deadline_ms; /* of the parked conn */
    struct conn *c;              /* set by the parker before it publishes
                                    PARKED; read by whoever claims it */
    uint32_t next_free;          /* free list link; lock */
};

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t tick;       /* wakes the deadline thread at stop */
    struct waiter_slot *slots; /* fixed array */
    uint32_t nslots;           /* fixed */
    uint32_t used;             /* slots [0, used) have been handed out; lock */
    uint32_t free_head;        /* lock; WAITER_NO_SLOT when none */
    int stopped;               /* lock */
    atomic_int count;          /* parked conns */
    int epfd;
    struct workq *q;
    pthread_t thread;
    int joined;
};

static uint64_t
state_of(uint32_t gen, enum slot_kind kind)
{
    return (uint64_t)gen << 32 | kind;
}

/* Takes the conn of slot i if it is parked with generation gen, waiting out
 * a parker that is still arming it. Returns the conn, now the caller's, or
 * NULL when the slot moved on (the report or the scan was stale). */
static struct conn *
claim(struct waiter *w, uint32_t i, uint32_t gen)
{
    struct waiter_slot *s = &w->slots[i];

    for (;;) {
        uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);

        if ((uint32_t)(st >> 32) != gen) {
            return NULL;
        }
        if ((st & 3) == SLOT_ARMING) {
            sched_yield(); /* the parker is between epoll_ctl and publish */
            continue;
        }
        if ((st & 3) != SLOT_PARKED) {
            return NULL;
        }
        if (atomic_compare_exchange_weak_explicit(
                &s->state, &st, state_of(gen + 1, SLOT_FREE),
                memory_order_acq_rel, memory_order_acquire)) {
            break;
        }
    }
    atomic_fetch_sub_explicit(&w->count, 1, memory_order_relaxed);
    return s->c;
}

/* Puts a slot that is SLOT_FREE back on the free list. */
static void
slot_free(struct waiter *w, uint32_t i)
{
    pthread_mutex_lock(&w->lock);
    w->slots[i].next_free = w->free_head;
    w->free_head = i;
    pthread_mutex_unlock(&w->lock);
}

void
waiter_close_expired(struct conn *c)
{
    if (c->kind->ops->expired != NULL) {
        c->kind->ops->expired(c);
    }
    log_debug("msg=\"connection timed out\" fd=%d partial=%d", c->fd,
              c->req_start_ms != 0);
    conn_destroy(c);
}

/* Hands out a free slot, already ARMING (so waiter_stop, which sets
 * stopped under the same lock, waits for its parker), with its generation
 * in *gen. Returns WAITER_NO_SLOT when stopped or full. */
static uint32_t
slot_alloc(struct waiter *w, uint32_t *gen)
{
    uint32_t i = WAITER_NO_SLOT;

    pthread_mutex_lock(&w->lock);
    if (w->stopped) {
        /* refused */
    } else if (w->free_head != WAITER_NO_SLOT) {
        i = w->free_head;
        w->free_head = w->slots[i].next_free;
    } else if (w->used < w->nslots) {
        i = w->used++;
    }
    if (i != WAITER_NO_SLOT) {
        struct waiter_slot *s = &w->slots[i];

        *gen = (uint32_t)(atomic_load(&s->state) >> 32);
        atomic_store_explicit(&s->state, state_of(*gen, SLOT_ARMING),
                              memory_order_relaxed);
    }
    pthread_mutex_unlock(&w->lock);
    return i;
}

int
waiter_park(struct waiter *w, struct conn *c, int64_t deadline_ms)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT};
    struct waiter_slot *s;
    uint32_t gen, i = slot_alloc(w, &gen);

    if (i == WAITER_NO_SLOT) {
        return -1;
    }
    s = &w->slots[i];
    s->c = c;
    atomic_store_explicit(&s->deadline_ms, deadline_ms, memory_order_relaxed);
    /* No lock across the syscall: while ARMING, the deadline scan and
     * waiter_stop leave the slot alone and a worker woken for it waits. */
    ev.data.u64 = (uint64_t)gen << 32 | i;
    if (epoll_ctl(w->epfd, c->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd,
                  &ev) < 0) {
        atomic_store_explicit(&s->state, state_of(gen + 1, SLOT_FREE),
                              memory_order_release);
        slot_free(w, i);
        return -1;
    }
    c->in_epoll = 1;
    atomic_fetch_add_explicit(&w->count, 1, memory_order_relaxed);
    atomic_store_explicit(&s->state, state_of(gen, SLOT_PARKED),
                          memory_order_release);
    return 0;
}

struct conn *
waiter_take(struct waiter *w, int timeout_ms)
{
    struct epoll_event ev;
    struct conn *c;
    uint32_t i;

    if (epoll_wait(w->epfd, &ev, 1, timeout_ms) != 1 ||
        ev.data.u64 == WAITER_QUEUE_TAG) {
        return NULL;
    }
    i = (uint32_t)ev.data.u64;
    /* The slot may have been expired or emptied by waiter_stop since epoll
     * reported it (and even reused): then the generation differs. */
    c = i < w->nslots ? claim(w, i, (uint32_t)(ev.data.u64 >> 32)) : NULL;
    if (c != NULL) {
        slot_free(w, i);
    }
    return c;
}

/* The number of slots handed out so far. */
static uint32_t
slots_used(struct waiter *w)
{
    uint32_t n;

    pthread_mutex_lock(&w->lock);
    n = w->used;
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* Has c's peer sent bytes that nobody has read yet? */
static int
has_input(const struct conn *c)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    char byte;

    return poll(&pfd, 1, 0) == 1 &&
           recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

/* Takes c out of the epoll set (the next park adds it again) and hands it
 * to the queue; closes it if the queue refuses. c is the caller's. */
static void
hand_to_queue(struct waiter *w, struct conn *c)
{
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    c->in_epoll = 0;
    if (workq_push(w->q, c) != WORKQ_OK) {
        conn_destroy(c);
    }
}

/* Claims the conns whose deadline passed and closes them, except those
 * whose input arrived while every worker was busy: they go to the queue,
 * and a worker that finds their request still incomplete and past its
 * deadline closes them (see waiter_close_expired). */
static void
expire_due(struct waiter *w, int64_t now)
{
    uint32_t i, n = slots_used(w);

    for (i = 0; i < n; i++) {
        struct waiter_slot *s = &w->slots[i];
        uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        struct conn *c;

        if ((st & 3) != SLOT_PARKED ||
            atomic_load_explicit(&s->deadline_ms, memory_order_relaxed) > now ||
            (c = claim(w, i, (uint32_t)(st >> 32))) == NULL) {
            continue;
        }
        slot_free(w, i);
        if (has_input(c)) {
            hand_to_queue(w, c);
        } else {
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
            waiter_close_expired(c);
        }
    }
}

static void *
waiter_main(void *arg)
{
    struct waiter *w = arg;
    int64_t next_scan = util_now_ms() + WAITER_TICK_MS;

    pthread_mutex_lock(&w->lock);
    while (!w->stopped) {
        struct timespec ts = util_deadline(next_scan);

        if (pthread_cond_timedwait(&w->tick, &w->lock, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&w->lock);
            expire_due(w, util_now_ms());
            next_scan = util_now_ms() + WAITER_TICK_MS;
            pthread_mutex_lock(&w->lock);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct waiter *
waiter_create(struct workq *q, size_t slots)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET,
                             .data.u64 = WAITER_QUEUE_TAG};
    struct waiter *w;

    if (slots == 0 || slots >= WAITER_NO_SLOT) {
        return NULL;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    w->q = q;
    w->nslots = (uint32_t)slots;
    w->free_head = WAITER_NO_SLOT;
    w->slots = calloc(slots, sizeof(w->slots[0]));
    if (w->slots == NULL) {
        goto fail_slots;
    }
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) {
        goto fail_epoll;
    }
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, workq_fd(q), &ev) < 0 ||
        pthread_mutex_init(&w->lock, NULL) != 0) {
        goto fail_setup;
    }
    if (util_cond_init(&w->tick) != 0) {
        goto fail_cond;
    }
    if (pthread_create(&w->thread, NULL, waiter_main, w) != 0) {
        goto fail_thread;
    }
    return w;

fail_thread:
    pthread_cond_destroy(&w->tick);
fail_cond:
    pthread_mutex_destroy(&w->lock);
fail_setup:
    close(w->epfd);
fail_epoll:
    free(w->slots);
fail_slots:
    free(w);
    return NULL;
}

void
waiter_stop(struct waiter *w)
{
    uint32_t i, n;

    if (w->joined) {
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->stopped = 1; /* no slot is handed out from now on */
    n = w->used;
    pthread_cond_signal(&w->tick);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    w->joined = 1;
    for (i = 0; i < n; i++) {
        uint64_t st = atomic_load(&w->slots[i].state);
        struct conn *c = claim(w, i, (uint32_t)(st >> 32));

        if (c == NULL) {
            continue;
        }
        /* A request that already arrived is in flight: hand it to the
         * workers, which are still draining the queue. Idle and closed
         * conns are closed. The slot is not reused: parks now fail. */
        if (has_input(c)) {
            hand_to_queue(w, c);
        } else {
            conn_destroy(c);
        }
    }
}

void
waiter_destroy(struct waiter *w)
{
    if (w == NULL) {
        return;
    }
    waiter_stop(w);
    pthread_cond_destroy(&w->tick);
    pthread_mutex_destroy(&w->lock);
    close(w->epfd);
    free(w->slots);
    free(w);
}

int
waiter_count(struct waiter *w)
{
    return atomic_load_explicit(&w->count, memory_order_relaxed);
}
