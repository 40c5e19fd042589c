/*
 * Unit tests for workq: creation limits, FIFO order across the ring's wrap,
 * refusal when full, depth, non-blocking trypop, the eventfd edges an epoll
 * consumer sees (one per push, passed on by a trypop that leaves items or
 * finds the queue shut down, or by workq_pass_on), consumers that wait as
 * workers do (trypop, then sleep in one shared epoll set), shutdown (wakes
 * every waiting consumer, drains what is queued, refuses later pushes), and a
 * multi-producer / multi-consumer run that checks every item arrives
 * exactly once and each producer's items arrive in the order pushed.
 *
 * Threads report to the test through a mutex and condition variable. A
 * test about a waiting consumer first sees it asleep in epoll_wait on the
 * queue's set (/proc/self/task/TID/syscall names the system call a
 * blocked thread is in, and its arguments), so the wake-up it checks is
 * the one that ended that wait, not a trypop that found the item before
 * the consumer ever slept. Every wait is bounded, so a broken queue fails
 * the test instead of hanging it.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "net/workq.h"
#include "unit_helpers.h"

#define ITEM(n) ((void *)(uintptr_t)(n))
#define NUM(p) ((uintptr_t)(p))

static struct workq *
make_queue(size_t capacity)
{
    struct workq *q = workq_create(capacity);

    cr_assert_not_null(q, "workq_create(%zu)", capacity);
    return q;
}

/* An absolute CLOCK_REALTIME time timeout_ms from now. */
static struct timespec
deadline_in(long timeout_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += timeout_ms % 1000 * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

/* Joins th, failing the test instead of hanging when it does not end. */
static void
join_within(pthread_t th, long timeout_ms)
{
    struct timespec until = deadline_in(timeout_ms);
    int rc = pthread_timedjoin_np(th, NULL, &until);

    cr_assert_eq(rc, 0, "thread still running after %ld ms (rc %d)", timeout_ms,
                 rc);
}

/* Takes an item that must be there, or NULL from a shut-down, drained
 * queue, without waiting. */
static void *
take(struct workq *q)
{
    void *item;
    int rc = workq_trypop(q, &item);

    cr_assert(rc == WORKQ_OK || rc == WORKQ_ESHUTDOWN, "trypop: %d", rc);
    return rc == WORKQ_OK ? item : NULL;
}

/* An epoll set watching the queue's eventfd edge-triggered, as the waiter
 * does for every worker. */
static int
watch_fd(const struct workq *q)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
    int ep = epoll_create1(EPOLL_CLOEXEC);

    cr_assert_geq(ep, 0);
    cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, workq_fd(q), &ev), 0);
    return ep;
}

/* The next item as a worker takes it: trypop, else sleep in the shared
 * epoll set ep (no time limit: a lost wake-up hangs the consumer and fails
 * the test's bounded join). NULL once the queue is shut down and drained. */
static void *
pop(struct workq *q, int ep)
{
    struct epoll_event ev;
    void *item;

    for (;;) {
        switch (workq_trypop(q, &item)) {
        case WORKQ_OK:
            return item;
        case WORKQ_ESHUTDOWN:
            return NULL;
        default:
            (void)epoll_wait(ep, &ev, 1, -1);
        }
    }
}

/* ---- single thread ---- */

Test(workq, create_with_capacity_zero_fails)
{
    cr_assert_null(workq_create(0));
}

Test(workq, create_rejects_a_capacity_whose_size_overflows)
{
    /* capacity * sizeof(void *) wraps to 0, so a naive size computation
     * allocates just the header. */
    struct workq *q = workq_create(SIZE_MAX / sizeof(void *) + 1);

    workq_destroy(q);
    cr_assert_null(q, "a queue whose ring could not be allocated");
}

Test(workq, destroy_of_null_does_nothing)
{
    workq_destroy(NULL);
}

Test(workq, new_queue_is_empty)
{
    struct workq *q = make_queue(4);

    cr_assert_eq(workq_depth(q), 0);
    workq_destroy(q);
}

Test(workq, pops_items_in_push_order)
{
    struct workq *q = make_queue(8);
    uintptr_t i;

    for (i = 1; i <= 8; i++) {
        cr_assert_eq(workq_push(q, ITEM(i)), WORKQ_OK);
    }
    for (i = 1; i <= 8; i++) {
        cr_assert_eq(NUM(take(q)), i);
    }
    cr_assert_eq(workq_depth(q), 0);
    workq_destroy(q);
}

Test(workq, keeps_fifo_order_across_the_ring_wrap)
{
    struct workq *q = make_queue(3);
    uintptr_t next_in = 1, next_out = 1;
    int round;

    /* Keep 2 queued while head walks around the ring many times. */
    cr_assert_eq(workq_push(q, ITEM(next_in++)), WORKQ_OK);
    for (round = 0; round < 20; round++) {
        cr_assert_eq(workq_push(q, ITEM(next_in++)), WORKQ_OK);
        cr_assert_eq(workq_depth(q), 2);
        cr_assert_eq(NUM(take(q)), next_out++);
    }
    cr_assert_eq(NUM(take(q)), next_out++);
    cr_assert_eq(next_out, next_in);
    cr_assert_eq(workq_depth(q), 0);
    workq_destroy(q);
}

Test(workq, push_on_full_queue_is_refused_and_changes_nothing)
{
    struct workq *q = make_queue(3);

    cr_assert_eq(workq_push(q, ITEM(1)), WORKQ_OK);
    cr_assert_eq(workq_push(q, ITEM(2)), WORKQ_OK);
    cr_assert_eq(workq_push(q, ITEM(3)), WORKQ_OK);
    cr_assert_eq(workq_push(q, ITEM(4)), WORKQ_EFULL);
    cr_assert_eq(workq_push(q, ITEM(5)), WORKQ_EFULL);
    cr_assert_eq(workq_depth(q), 3);
    cr_assert_eq(NUM(take(q)), 1);
    cr_assert_eq(workq_push(q, ITEM(6)), WORKQ_OK, "one slot free again");
    cr_assert_eq(workq_push(q, ITEM(7)), WORKQ_EFULL);
    cr_assert_eq(NUM(take(q)), 2);
    cr_assert_eq(NUM(take(q)), 3);
    cr_assert_eq(NUM(take(q)), 6);
    cr_assert_eq(workq_depth(q), 0);
    workq_destroy(q);
}

Test(workq, capacity_one_holds_exactly_one_item)
{
    struct workq *q = make_queue(1);

    cr_assert_eq(workq_push(q, ITEM(10)), WORKQ_OK);
    cr_assert_eq(workq_push(q, ITEM(11)), WORKQ_EFULL);
    cr_assert_eq(NUM(take(q)), 10);
    cr_assert_eq(workq_push(q, ITEM(12)), WORKQ_OK);
    cr_assert_eq(NUM(take(q)), 12);
    workq_destroy(q);
}

Test(workq, depth_counts_pushes_minus_pops)
{
    struct workq *q = make_queue(5);

    cr_assert_eq(workq_push(q, ITEM(1)), WORKQ_OK);
    cr_assert_eq(workq_depth(q), 1);
    cr_assert_eq(workq_push(q, ITEM(2)), WORKQ_OK);
    cr_assert_eq(workq_push(q, ITEM(3)), WORKQ_OK);
    cr_assert_eq(workq_depth(q), 3);
    (void)take(q);
    cr_assert_eq(workq_depth(q), 2);
    (void)take(q);
    (void)take(q);
    cr_assert_eq(workq_depth(q), 0);
    workq_destroy(q);
}

Test(workq, after_shutdown_queued_items_drain_then_pop_returns_null)
{
    struct workq *q = make_queue(4);

    cr_assert_eq(workq_push(q, ITEM(1)), WORKQ_OK);
    cr_assert_eq(workq_push(q, ITEM(2)), WORKQ_OK);
    workq_shutdown(q);
    cr_assert_eq(workq_depth(q), 2);
    cr_assert_eq(NUM(take(q)), 1);
    cr_assert_eq(NUM(take(q)), 2);
    cr_assert_null(take(q));
    cr_assert_null(take(q), "still NULL");
    workq_destroy(q);
}

Test(workq, push_after_shutdown_is_refused_and_changes_nothing)
{
    struct workq *q = make_queue(4);

    cr_assert_eq(workq_push(q, ITEM(1)), WORKQ_OK);
    workq_shutdown(q);
    workq_shutdown(q); /* idempotent */
    cr_assert_eq(workq_push(q, ITEM(2)), WORKQ_ESHUTDOWN);
    cr_assert_eq(workq_depth(q), 1);
    cr_assert_eq(NUM(take(q)), 1);
    cr_assert_null(take(q));
    cr_assert_eq(workq_push(q, ITEM(3)), WORKQ_ESHUTDOWN);
    workq_destroy(q);
}

Test(workq, shutdown_outranks_full)
{
    struct workq *q = make_queue(1);

    cr_assert_eq(workq_push(q, ITEM(1)), WORKQ_OK);
    workq_shutdown(q);
    cr_assert_eq(workq_push(q, ITEM(2)), WORKQ_ESHUTDOWN);
    workq_destroy(q);
}

/* ---- blocking ---- */

/* One consumer's single pop, reported under a lock. */
struct popper {
    struct workq *q;
    int ep; /* the epoll set the consumers share */
    pthread_mutex_t lock;
    pthread_cond_t done_cv; /* tid set, or done */
    pid_t tid;              /* lock: the thread's id, 0 until it runs */
    int done;               /* lock */
    void *item;             /* lock */
};

static void *
popper_main(void *arg)
{
    struct popper *p = arg;
    void *item;

    pthread_mutex_lock(&p->lock);
    p->tid = (pid_t)syscall(SYS_gettid);
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->lock);
    item = pop(p->q, p->ep);

    pthread_mutex_lock(&p->lock);
    p->item = item;
    p->done = 1;
    pthread_cond_signal(&p->done_cv);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void
popper_init(struct popper *p, struct workq *q, int ep)
{
    p->q = q;
    p->ep = ep;
    p->tid = 0;
    p->done = 0;
    p->item = NULL;
    cr_assert_eq(pthread_mutex_init(&p->lock, NULL), 0);
    cr_assert_eq(pthread_cond_init(&p->done_cv, NULL), 0);
}

static int
popper_done(struct popper *p)
{
    int done;

    pthread_mutex_lock(&p->lock);
    done = p->done;
    pthread_mutex_unlock(&p->lock);
    return done;
}

/* Waits up to timeout_ms for the popper to finish. Returns done. */
static int
popper_wait(struct popper *p, long timeout_ms)
{
    struct timespec until = deadline_in(timeout_ms);
    int done;

    pthread_mutex_lock(&p->lock);
    while (!p->done &&
           pthread_cond_timedwait(&p->done_cv, &p->lock, &until) == 0) {
    }
    done = p->done;
    pthread_mutex_unlock(&p->lock);
    return done;
}

/* Whether thread tid is asleep in epoll_wait (or epoll_pwait) on ep: the
 * system call number and first argument /proc shows for a blocked thread
 * ("running" for one that is not). */
static int
in_epoll_wait(pid_t tid, int ep)
{
    char path[64], line[256], *end;
    long nr;
    FILE *f;
    int in = 0;

    snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
    f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    if (fgets(line, sizeof(line), f) != NULL) {
        nr = strtol(line, &end, 10);
        in = end != line &&
#ifdef SYS_epoll_wait
             (nr == SYS_epoll_wait || nr == SYS_epoll_pwait) &&
#else
             nr == SYS_epoll_pwait &&
#endif
             strtol(end, NULL, 16) == ep;
    }
    fclose(f);
    return in;
}

/* Waits until the popper's thread is asleep in epoll_wait on its set:
 * it found the queue empty and waits for a wake-up. Fails the test after
 * about 10 s. */
static void
popper_await_sleep(struct popper *p)
{
    struct timespec until = deadline_in(10000);
    pid_t tid;
    int i;

    pthread_mutex_lock(&p->lock);
    while (p->tid == 0 &&
           pthread_cond_timedwait(&p->done_cv, &p->lock, &until) == 0) {
    }
    tid = p->tid;
    pthread_mutex_unlock(&p->lock);
    cr_assert_neq(tid, 0, "the consumer thread never ran");
    for (i = 0; i < 10000 && !in_epoll_wait(tid, p->ep); i++) {
        sleep_ms(1);
    }
    cr_assert(in_epoll_wait(tid, p->ep),
              "consumer %d never slept in epoll_wait", (int)tid);
    cr_assert_eq(popper_done(p), 0, "pop returned from an empty queue");
}

static void
popper_deinit(struct popper *p)
{
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->lock);
}

/* Did the eventfd get a wake-up since the last call? */
static int
woken(int ep)
{
    struct epoll_event ev;

    return epoll_wait(ep, &ev, 1, 0) == 1;
}

Test(workq, trypop_takes_items_in_order_and_never_waits)
{
    struct workq *q = make_queue(4);
    void *item = ITEM(99);

    cr_assert_eq(workq_trypop(q, &item), WORKQ_EEMPTY);
    cr_assert_eq(NUM(item), 99, "EEMPTY leaves *item alone");
    cr_assert_eq(workq_push(q, ITEM(1)), WORKQ_OK);
    cr_assert_eq(workq_push(q, ITEM(2)), WORKQ_OK);
    cr_assert_eq(workq_trypop(q, &item), WORKQ_OK);
    cr_assert_eq(NUM(item), 1);
    cr_assert_eq(workq_trypop(q, &item), WORKQ_OK);
    cr_assert_eq(NUM(item), 2);
    cr_assert_eq(workq_trypop(q, &item), WORKQ_EEMPTY);
    cr_assert_eq(workq_depth(q), 0);
    workq_destroy(q);
}

Test(workq, each_push_wakes_one_epoll_waiter)
{
    struct workq *q = make_queue(4);
    int ep = watch_fd(q);

    cr_assert_not(woken(ep), "a new queue woke a consumer");
    cr_assert_eq(workq_push(q, ITEM(1)), WORKQ_OK);
    cr_assert(woken(ep), "a push woke nobody");
    cr_assert_not(woken(ep), "one push, two wake-ups");
    cr_assert_eq(workq_push(q, ITEM(2)), WORKQ_OK);
    cr_assert(woken(ep), "the second push woke nobody");
    close(ep);
    workq_destroy(q);
}

Test(workq, trypop_passes_the_wake_up_on_while_items_remain)
{
    struct workq *q = make_queue(4);
    int ep = watch_fd(q);
    void *item;

    cr_assert_eq(workq_push(q, ITEM(1)), WORKQ_OK);
    cr_assert_eq(workq_push(q, ITEM(2)), WORKQ_OK);
    (void)woken(ep); /* both pushes, seen as one edge */
    cr_assert_eq(workq_trypop(q, &item), WORKQ_OK);
    cr_assert(woken(ep), "an item was left with nobody woken for it");
    cr_assert_eq(workq_trypop(q, &item), WORKQ_OK);
    cr_assert_not(woken(ep), "the last item passed a wake-up on");
    cr_assert_eq(workq_trypop(q, &item), WORKQ_EEMPTY);
    cr_assert_not(woken(ep), "an empty trypop woke someone");
    close(ep);
    workq_destroy(q);
}

Test(workq, pass_on_wakes_another_consumer_only_while_it_has_work)
{
    struct workq *q = make_queue(4);
    int ep = watch_fd(q);
    void *item;

    workq_pass_on(q);
    cr_assert_not(woken(ep), "an empty queue passed a wake-up on");
    cr_assert_eq(workq_push(q, ITEM(1)), WORKQ_OK);
    (void)woken(ep); /* taken by a consumer that serves something else */
    workq_pass_on(q);
    cr_assert(woken(ep), "the queued item was left with nobody woken");
    cr_assert_eq(workq_depth(q), 1, "pass_on took an item");
    cr_assert_eq(workq_trypop(q, &item), WORKQ_OK);
    (void)woken(ep);
    workq_shutdown(q);
    (void)woken(ep);
    workq_pass_on(q);
    cr_assert(woken(ep), "the shutdown was not passed on");
    close(ep);
    workq_destroy(q);
}

Test(workq, shutdown_wakes_and_every_consumer_passes_it_on)
{
    struct workq *q = make_queue(2);
    int ep = watch_fd(q), i;
    void *item;

    cr_assert_eq(workq_push(q, ITEM(5)), WORKQ_OK);
    (void)woken(ep);
    workq_shutdown(q);
    cr_assert(woken(ep), "shutdown woke nobody");
    cr_assert_eq(workq_trypop(q, &item), WORKQ_OK);
    cr_assert_eq(NUM(item), 5);
    cr_assert(woken(ep), "a shut-down queue must keep waking consumers");
    for (i = 0; i < 3; i++) {
        cr_assert_eq(workq_trypop(q, &item), WORKQ_ESHUTDOWN);
        cr_assert(woken(ep), "consumer %d did not pass the shutdown on", i);
    }
    close(ep);
    workq_destroy(q);
}

Test(workq, pop_waits_for_a_push_from_another_thread)
{
    struct workq *q = make_queue(4);
    int ep = watch_fd(q);
    struct popper p;
    pthread_t th;

    popper_init(&p, q, ep);
    cr_assert_eq(pthread_create(&th, NULL, popper_main, &p), 0);
    popper_await_sleep(&p);
    cr_assert_eq(workq_push(q, ITEM(42)), WORKQ_OK);
    cr_assert(popper_wait(&p, 5000), "push did not wake the consumer");
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(NUM(p.item), 42);
    cr_assert_eq(workq_depth(q), 0);
    popper_deinit(&p);
    close(ep);
    workq_destroy(q);
}

Test(workq, shutdown_wakes_a_waiting_consumer_with_null)
{
    struct workq *q = make_queue(4);
    int ep = watch_fd(q);
    struct popper p;
    pthread_t th;

    popper_init(&p, q, ep);
    p.item = ITEM(1); /* must be overwritten with NULL */
    cr_assert_eq(pthread_create(&th, NULL, popper_main, &p), 0);
    popper_await_sleep(&p);
    workq_shutdown(q);
    cr_assert(popper_wait(&p, 5000), "shutdown did not wake the consumer");
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_null(p.item);
    popper_deinit(&p);
    close(ep);
    workq_destroy(q);
}

#define WAITERS 8

Test(workq, shutdown_wakes_every_waiting_consumer)
{
    struct workq *q = make_queue(4);
    int ep = watch_fd(q);
    struct popper p[WAITERS];
    pthread_t th[WAITERS];
    int i, woken = 0;

    for (i = 0; i < WAITERS; i++) {
        popper_init(&p[i], q, ep);
        p[i].item = ITEM(1);
        cr_assert_eq(pthread_create(&th[i], NULL, popper_main, &p[i]), 0);
    }
    for (i = 0; i < WAITERS; i++) {
        popper_await_sleep(&p[i]); /* all asleep in the one set */
    }
    workq_shutdown(q);
    for (i = 0; i < WAITERS; i++) {
        woken += popper_wait(&p[i], 5000);
    }
    cr_assert_eq(woken, WAITERS, "%d of %d consumers woke", woken, WAITERS);
    for (i = 0; i < WAITERS; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_assert_null(p[i].item, "consumer %d got an item", i);
        popper_deinit(&p[i]);
    }
    close(ep);
    workq_destroy(q);
}

Test(workq, each_push_wakes_one_waiting_consumer)
{
    struct workq *q = make_queue(4);
    int ep = watch_fd(q);
    struct popper p[3];
    pthread_t th[3];
    uintptr_t sum = 0;
    int i;

    for (i = 0; i < 3; i++) {
        popper_init(&p[i], q, ep);
        cr_assert_eq(pthread_create(&th[i], NULL, popper_main, &p[i]), 0);
    }
    for (i = 0; i < 3; i++) {
        popper_await_sleep(&p[i]);
    }
    cr_assert_eq(workq_push(q, ITEM(1)), WORKQ_OK);
    cr_assert_eq(workq_push(q, ITEM(2)), WORKQ_OK);
    cr_assert_eq(workq_push(q, ITEM(4)), WORKQ_OK);
    for (i = 0; i < 3; i++) {
        cr_assert(popper_wait(&p[i], 5000), "consumer %d never woke", i);
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        sum += NUM(p[i].item);
        popper_deinit(&p[i]);
    }
    cr_assert_eq(sum, 7, "each item went to exactly one consumer");
    close(ep);
    workq_destroy(q);
}

/* ---- many producers, many consumers ---- */

#define MP_PRODUCERS 4
#define MP_CONSUMERS 4
#define MP_ITEMS 50000 /* per producer */
#define MP_TOTAL (MP_PRODUCERS * MP_ITEMS)

/* Item n (1-based) of producer p is p * MP_ITEMS + n: never NULL, and the
 * producer and sequence number can be recovered. */
struct mp_shared {
    struct workq *q;
    int ep; /* the epoll set every consumer waits in, as workers do */
    atomic_uchar seen[MP_TOTAL + 1]; /* by item value */
};

struct mp_producer {
    struct mp_shared *s;
    uintptr_t id;
    long full; /* pushes refused as full, then retried */
};

struct mp_consumer {
    struct mp_shared *s;
    long count;
    uintptr_t sum;
    long out_of_order; /* a producer's items seen in the wrong order */
};

static void *
mp_produce(void *arg)
{
    struct mp_producer *p = arg;
    uintptr_t n;

    for (n = 1; n <= MP_ITEMS; n++) {
        int rc;
        while ((rc = workq_push(p->s->q, ITEM(p->id * MP_ITEMS + n))) ==
               WORKQ_EFULL) {
            p->full++;
            sched_yield();
        }
        if (rc != WORKQ_OK) {
            break;
        }
    }
    return NULL;
}

static void *
mp_consume(void *arg)
{
    struct mp_consumer *c = arg;
    uintptr_t last[MP_PRODUCERS] = {0};
    void *item;

    while ((item = pop(c->s->q, c->s->ep)) != NULL) {
        uintptr_t v = NUM(item), p = (v - 1) / MP_ITEMS;
        if (v > MP_TOTAL || p >= MP_PRODUCERS) {
            c->out_of_order++;
            continue;
        }
        if (v <= last[p]) {
            c->out_of_order++;
        }
        last[p] = v;
        atomic_fetch_add(&c->s->seen[v], 1);
        c->count++;
        c->sum += v;
    }
    return NULL;
}

Test(workq, many_producers_and_consumers_deliver_each_item_once)
{
    static struct mp_shared s;
    struct mp_producer prod[MP_PRODUCERS];
    struct mp_consumer cons[MP_CONSUMERS];
    pthread_t pt[MP_PRODUCERS], ct[MP_CONSUMERS];
    long count = 0, disorder = 0, full = 0;
    uintptr_t sum = 0, want = 0, v;
    int i;

    memset(&s, 0, sizeof(s));
    s.q = make_queue(64);
    s.ep = watch_fd(s.q);
    for (i = 0; i < MP_CONSUMERS; i++) {
        cons[i] = (struct mp_consumer){.s = &s};
        cr_assert_eq(pthread_create(&ct[i], NULL, mp_consume, &cons[i]), 0);
    }
    for (i = 0; i < MP_PRODUCERS; i++) {
        prod[i] = (struct mp_producer){.s = &s, .id = (uintptr_t)i};
        cr_assert_eq(pthread_create(&pt[i], NULL, mp_produce, &prod[i]), 0);
    }
    for (i = 0; i < MP_PRODUCERS; i++) {
        join_within(pt[i], 30000);
        full += prod[i].full;
    }
    workq_shutdown(s.q);
    for (i = 0; i < MP_CONSUMERS; i++) {
        join_within(ct[i], 30000);
        count += cons[i].count;
        sum += cons[i].sum;
        disorder += cons[i].out_of_order;
    }
    cr_assert_eq(workq_depth(s.q), 0);
    cr_assert_eq(disorder, 0, "%ld items out of order or invalid", disorder);
    cr_assert_eq(count, MP_TOTAL, "received %ld of %d", count, MP_TOTAL);
    for (v = 1; v <= MP_TOTAL; v++) {
        want += v;
        cr_assert_eq(atomic_load(&s.seen[v]), 1, "item %lu seen %u times",
                     (unsigned long)v, (unsigned)atomic_load(&s.seen[v]));
    }
    cr_assert_eq(sum, want);
    cr_log_info("pushes refused as full and retried: %ld", full);
    close(s.ep);
    workq_destroy(s.q);
}
