/*
 * waiter: a slot table of conns, one edge-triggered epoll set shared with
 * the workers, and a deadline thread; see waiter.h.
 *
 * Attaching takes a slot from the free list under the lock; everything
 * else on the hot path (a report claiming a parked conn, a park) is one
 * compare-and-swap on the slot's state word. The 100 ms deadline scan is
 * O(slots ever used).
 */
#include "net/waiter.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/qsbr.h"
#include "base/util.h"

#define WAITER_TICK_MS 100
#define WAITER_QUEUE_TAG UINT64_MAX   /* epoll data of the work queue's fd */
#define WAITER_EVENT_TAG (1ull << 63) /* | a struct waiter_event pointer */
#define WAITER_GEN_MASK 0x7fffffffu   /* generations stay below bit 63 */
#define WAITER_NO_SLOT UINT32_MAX
#define WAITER_EVENTS 64 /* reports taken per epoll_wait */
/* What every registered fd reports; waiter_want_write adds EPOLLOUT. */
#define WAITER_EVENTS_WATCHED (EPOLLIN | EPOLLRDHUP | EPOLLET)

/* A slot's state word: generation << 32 | kind, plus the pending bit. */
enum slot_kind {
    SLOT_FREE = 0,    /* no conn (on the free list, or about to be) */
    SLOT_RUNNING = 1, /* a worker or the queue has the conn */
    SLOT_PARKED = 2,  /* the waiter has the conn */
};
#define SLOT_KIND 3u
#define SLOT_PENDING 4u /* readiness reported while RUNNING */

struct waiter_slot {
    _Atomic uint64_t state;      /* see enum slot_kind */
    _Atomic int64_t deadline_ms; /* of the parked conn; 0 = none */
    struct conn *c;              /* set at attach, before any report can
                                    claim it; read by whoever claims it */
    uint32_t next_free;          /* free list link; lock */
};

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t tick;       /* wakes the deadline thread at stop */
    struct waiter_slot *slots; /* fixed array */
    uint32_t nslots;           /* fixed */
    uint32_t used;             /* slots [0, used) have been handed out; lock */
    uint32_t free_head;        /* lock; WAITER_NO_SLOT when none */
    atomic_int stopped;        /* set once, under lock; park reads it
                                  (seq_cst) after publishing, see there */
    atomic_int parked;         /* conns parked now */
    int epfd;
    struct workq *q;
    pthread_t thread;
    int joined;
    void (*hook)(void *arg); /* waiter_on_tick's, or NULL; lock */
    void *hook_arg;          /* lock */
};

/* The calling worker's adoption list (waiter_adopt_into), or NULL. */
static _Thread_local struct waiter_adopted *adopted;

static uint64_t
state_of(uint32_t gen, unsigned kind)
{
    return (uint64_t)gen << 32 | kind;
}

static uint32_t
gen_of(uint64_t st)
{
    return (uint32_t)(st >> 32);
}

/* Takes the conn of slot i if it is parked with generation gen; a report
 * for a conn someone has marks it pending instead. Returns the conn, now
 * the caller's, or NULL. */
static struct conn *
claim(struct waiter *w, uint32_t i, uint32_t gen)
{
    struct waiter_slot *s = &w->slots[i];
    uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);

    for (;;) {
        uint64_t next;

        if (gen_of(st) != gen) {
            return NULL;
        }
        switch (st & SLOT_KIND) {
        case SLOT_PARKED:
            next = state_of(gen, SLOT_RUNNING);
            break;
        case SLOT_RUNNING:
            if (st & SLOT_PENDING) {
                return NULL;
            }
            next = st | SLOT_PENDING;
            break;
        default:
            return NULL;
        }
        if (atomic_compare_exchange_weak_explicit(&s->state, &st, next,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire)) {
            break;
        }
    }
    if ((st & SLOT_KIND) != SLOT_PARKED) {
        return NULL; /* marked pending: its owner will serve it again */
    }
    atomic_fetch_sub_explicit(&w->parked, 1, memory_order_relaxed);
    return s->c;
}

/* Claims slot i for the deadline scan or stop: only if it is PARKED. */
static struct conn *
claim_parked(struct waiter *w, uint32_t i)
{
    struct waiter_slot *s = &w->slots[i];
    uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);

    if ((st & SLOT_KIND) != SLOT_PARKED ||
        !atomic_compare_exchange_strong_explicit(
            &s->state, &st, state_of(gen_of(st), SLOT_RUNNING),
            memory_order_acq_rel, memory_order_acquire)) {
        return NULL;
    }
    atomic_fetch_sub_explicit(&w->parked, 1, memory_order_relaxed);
    return s->c;
}

static uint64_t
tag_of(const struct conn *c)
{
    return (uint64_t)c->gen << 32 | c->slot;
}

/* Gives c's slot back: its generation moves on, so reports still in
 * flight for c are dropped. */
static void
slot_release(struct waiter *w, struct conn *c)
{
    struct waiter_slot *s = &w->slots[c->slot];

    atomic_store_explicit(&s->state,
                          state_of((c->gen + 1) & WAITER_GEN_MASK, SLOT_FREE),
                          memory_order_release);
    pthread_mutex_lock(&w->lock);
    s->next_free = w->free_head;
    w->free_head = c->slot;
    pthread_mutex_unlock(&w->lock);
    c->attached = 0;
}

int
waiter_attach(struct waiter *w, struct conn *c)
{
    struct epoll_event ev = {.events = WAITER_EVENTS_WATCHED};
    struct waiter_slot *s;
    uint32_t i = WAITER_NO_SLOT;

    pthread_mutex_lock(&w->lock);
    if (atomic_load_explicit(&w->stopped, memory_order_relaxed)) {
        /* refused */
    } else if (w->free_head != WAITER_NO_SLOT) {
        i = w->free_head;
        w->free_head = w->slots[i].next_free;
    } else if (w->used < w->nslots) {
        i = w->used++;
    }
    pthread_mutex_unlock(&w->lock);
    if (i == WAITER_NO_SLOT) {
        return -1;
    }
    s = &w->slots[i];
    s->c = c;
    c->slot = i;
    c->gen = gen_of(atomic_load_explicit(&s->state, memory_order_relaxed));
    c->attached = 1;
    atomic_store_explicit(&s->state, state_of(c->gen, SLOT_RUNNING),
                          memory_order_release);
    /* From here on a report may arrive at any time; the slot says
     * RUNNING, so it only marks c pending. */
    ev.data.u64 = tag_of(c);
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        slot_release(w, c);
        return -1;
    }
    return 0;
}

int
waiter_want_write(struct waiter *w, struct conn *c, int fd)
{
    struct epoll_event ev = {.events = WAITER_EVENTS_WATCHED | EPOLLOUT,
                             .data.u64 = tag_of(c)};

    return epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev);
}

int
waiter_watch_event(struct waiter *w, int fd, struct waiter_event *ev)
{
    struct epoll_event e = {
        .events = WAITER_EVENTS_WATCHED | EPOLLOUT,
        .data.u64 = WAITER_EVENT_TAG | (uint64_t)(uintptr_t)ev,
    };

    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e);
}

void
waiter_adopt_into(struct waiter_adopted *a)
{
    adopted = a;
}

/* Hands c (claimed, still attached) to the queue; drops it if the queue
 * refuses. */
static void
hand_to_queue(struct waiter *w, struct conn *c)
{
    if (workq_push(w->q, c) != WORKQ_OK) {
        waiter_drop(w, c);
    }
}

void
waiter_defer(struct waiter_event *ev)
{
    if (adopted == NULL || adopted->ndeferred == WAITER_DEFER_MAX) {
        ev->ready(ev);
        return;
    }
    adopted->deferred[adopted->ndeferred++] = ev;
}

void
waiter_run_deferred(void)
{
    int i;

    /* A ready() may defer more (a redirect sent on to another node's
     * pipeline): they run in this loop too. */
    for (i = 0; adopted != NULL && i < adopted->ndeferred; i++) {
        adopted->deferred[i]->ready(adopted->deferred[i]);
    }
    if (adopted != NULL) {
        adopted->ndeferred = 0;
    }
}

void
waiter_wake(struct waiter *w, uint32_t slot, uint32_t gen)
{
    struct conn *c;

    if (slot >= w->nslots || (c = claim(w, slot, gen)) == NULL) {
        return; /* gone, or its owner will serve it again */
    }
    if (adopted != NULL && adopted->n < WAITER_ADOPT_MAX) {
        adopted->c[adopted->n++] = c;
    } else {
        hand_to_queue(w, c);
    }
}

int
waiter_watch(struct waiter *w, struct conn *c, int fd)
{
    struct epoll_event ev = {.events = WAITER_EVENTS_WATCHED,
                             .data.u64 = tag_of(c)};

    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void
waiter_unwatch(struct waiter *w, int fd)
{
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int
waiter_park(struct waiter *w, struct conn *c, int64_t deadline_ms)
{
    struct waiter_slot *s = &w->slots[c->slot];
    uint64_t running = state_of(c->gen, SLOT_RUNNING);
    uint64_t parked = state_of(c->gen, SLOT_PARKED);

    if (atomic_load(&w->stopped)) {
        return -1;
    }
    atomic_store_explicit(&s->deadline_ms, deadline_ms, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->parked, 1, memory_order_relaxed);
    if (atomic_compare_exchange_strong(&s->state, &running, parked)) {
        /* From here c may already be someone else's: touch only the slot.
         * waiter_stop sets `stopped`, then scans the slots. In the one
         * order of these seq_cst operations, either its scan sees this
         * slot PARKED and takes the conn, or we see `stopped` here and
         * take it back. */
        running = parked ^ SLOT_PARKED ^ SLOT_RUNNING;
        if (atomic_load(&w->stopped) &&
            atomic_compare_exchange_strong(&s->state, &parked, running)) {
            atomic_fetch_sub_explicit(&w->parked, 1, memory_order_relaxed);
            return -1;
        }
        return 0;
    }
    /* A report came while we had c (the only other change a RUNNING slot
     * sees): take the mark off and serve again. */
    atomic_fetch_sub_explicit(&w->parked, 1, memory_order_relaxed);
    atomic_store_explicit(&s->state, state_of(c->gen, SLOT_RUNNING),
                          memory_order_release);
    return 1;
}

int
waiter_wait(struct waiter *w, struct conn **out, int max, int timeout_ms)
{
    struct epoll_event ev[WAITER_EVENTS];
    int i, n, got = 0, queue = 0;

    if (max > WAITER_EVENTS) {
        max = WAITER_EVENTS;
    }
    waiter_run_deferred(); /* nothing put off may wait for our sleep */
    if (adopted != NULL && adopted->n > 0) {
        timeout_ms = 0; /* what that woke is to be served first */
    }
    qsbr_offline(); /* holds no settings snapshot while it sleeps */
    n = epoll_wait(w->epfd, ev, max, timeout_ms);
    qsbr_online();
    for (i = 0; i < n; i++) {
        uint64_t tag = ev[i].data.u64;
        uint32_t slot = (uint32_t)tag;
        struct conn *c;

        if (tag == WAITER_QUEUE_TAG || slot >= w->nslots) {
            queue = 1; /* the caller looks at the queue */
            continue;
        }
        if (tag & WAITER_EVENT_TAG) {
            continue; /* after the conns, below */
        }
        /* The slot may have been expired, dropped or even reused since
         * epoll reported it: then the generation differs. */
        c = claim(w, slot, (uint32_t)(tag >> 32));
        if (c != NULL) {
            out[got++] = c;
        }
    }
    for (i = 0; i < n; i++) {
        uint64_t tag = ev[i].data.u64;

        if (tag != WAITER_QUEUE_TAG && (tag & WAITER_EVENT_TAG)) {
            struct waiter_event *e =
                (struct waiter_event *)(uintptr_t)(tag & ~WAITER_EVENT_TAG);

            e->ready(e);
        }
    }
    if (queue && got > 0) {
        /* The caller serves its claims first: the queue's items need
         * another worker. */
        workq_pass_on(w->q);
    }
    return got;
}

void
waiter_drop(struct waiter *w, struct conn *c)
{
    if (c->attached) {
        slot_release(w, c);
    }
    conn_destroy(c);
}

void
waiter_expire(struct waiter *w, struct conn *c)
{
    /* With output still queued, a last word would land inside a response
     * the client is receiving: then the conn just closes. A conn still in
     * its TLS handshake has no protocol to say it in. */
    if (conn_handshaking(c)) {
        conn_handshake_timed_out(c);
    } else if (c->kind->ops->expired != NULL && outq_bytes(&c->out) == 0) {
        c->kind->ops->expired(c);
    }
    log_debug("msg=\"connection timed out\" fd=%d partial=%d", c->fd,
              c->req_start_ms != 0);
    waiter_drop(w, c);
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

/* Claims the conns whose deadline passed and expires them, except those
 * whose input arrived while every worker was busy: they go to the queue,
 * and a worker that finds their request still incomplete and past its
 * deadline expires them. */
static void
expire_due(struct waiter *w, int64_t now)
{
    uint32_t i, n = slots_used(w);

    for (i = 0; i < n; i++) {
        struct waiter_slot *s = &w->slots[i];
        uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        int64_t due;
        struct conn *c;

        if ((st & SLOT_KIND) != SLOT_PARKED) {
            continue;
        }
        due = atomic_load_explicit(&s->deadline_ms, memory_order_relaxed);
        if (due == 0 || due > now || (c = claim_parked(w, i)) == NULL) {
            continue;
        }
        /* The conn may have been served and parked again, with a later
         * deadline, between our two loads: the claim's acquire makes its
         * deadline current now. Then it is not due: park it back (or, if
         * a report came meanwhile, let a worker serve it). */
        due = atomic_load_explicit(&s->deadline_ms, memory_order_relaxed);
        if (due == 0 || due > now) {
            if (waiter_park(w, c, due) != 0) {
                hand_to_queue(w, c);
            }
            continue;
        }
        if ((c->waiting && c->wait_deadline_ms != 0 &&
             c->wait_deadline_ms <= now) ||
            (outq_bytes(&c->out) == 0 && conn_input_waiting(c))) {
            /* Replies it waits for are overdue (its protocol answers
             * them), or its input came while every worker was busy. */
            hand_to_queue(w, c);
        } else {
            waiter_expire(w, c);
        }
    }
}

long
waiter_retime(struct waiter *w,
              int64_t (*deadline)(const struct conn *c, int64_t now))
{
    uint32_t i, n = slots_used(w);
    int64_t now = util_now_ms();
    long retimed = 0;

    for (i = 0; i < n; i++) {
        struct conn *c = claim_parked(w, i);

        if (c == NULL) {
            continue;
        }
        retimed++;
        if (waiter_park(w, c, deadline(c, now)) != 0) {
            hand_to_queue(w, c);
        }
    }
    return retimed;
}

static void *
waiter_main(void *arg)
{
    struct waiter *w = arg;
    int64_t next_scan = util_now_ms() + WAITER_TICK_MS;

    pthread_mutex_lock(&w->lock);
    while (!atomic_load_explicit(&w->stopped, memory_order_relaxed)) {
        struct timespec ts = util_deadline(next_scan);

        int timed_out;

        qsbr_offline();
        timed_out =
            pthread_cond_timedwait(&w->tick, &w->lock, &ts) == ETIMEDOUT;
        qsbr_online();
        if (timed_out) {
            void (*hook)(void *) = w->hook;
            void *hook_arg = w->hook_arg;

            pthread_mutex_unlock(&w->lock);
            expire_due(w, util_now_ms());
            if (hook != NULL) {
                hook(hook_arg); /* Redis connects overdue (reads settings) */
                qsbr_quiescent();
            }
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
    atomic_store(&w->stopped, 1); /* no slot is handed out from now on */
    n = w->used;
    pthread_cond_signal(&w->tick);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    w->joined = 1;
    for (i = 0; i < n; i++) {
        struct conn *c = claim_parked(w, i);

        if (c == NULL) {
            continue;
        }
        /* A request that already arrived, or output not yet taken, is in
         * flight: hand it to the workers, which are still draining the
         * queue. Idle conns are closed. */
        if (outq_bytes(&c->out) > 0 || conn_input_waiting(c)) {
            hand_to_queue(w, c);
        } else {
            waiter_drop(w, c);
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

void
waiter_on_tick(struct waiter *w, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&w->lock);
    w->hook = fn;
    w->hook_arg = arg;
    pthread_mutex_unlock(&w->lock);
}

int
waiter_count(struct waiter *w)
{
    return atomic_load_explicit(&w->parked, memory_order_relaxed);
}
