/*
 * Unit tests of base/qsbr: a retired pointer is freed only once every
 * online reader has passed a quiescent state since it was replaced, at
 * once when none reads, never while a reader may hold it (readers check a
 * canary the free erases, under a writer that replaces the pointer as
 * fast as it can, and ASan sees any use after free); offline readers and
 * exited threads delay nothing.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/qsbr.h"

#define CANARY 0x51ab5eedu

TestSuite(qsbr);

struct obj {
    unsigned canary;
    long value;
};

static atomic_long freed;

static void
obj_free(void *p)
{
    struct obj *o = p;

    o->canary = 0; /* a reader that still held it would see this */
    atomic_fetch_add(&freed, 1);
    free(o);
}

static struct obj *
obj_new(long value)
{
    struct obj *o = malloc(sizeof(*o));

    cr_assert_not_null(o);
    o->canary = CANARY;
    o->value = value;
    return o;
}

static struct qsbr q;
static _Atomic(struct obj *) shared;

static struct obj *
read_shared(void)
{
    qsbr_read(&q);
    return atomic_load_explicit(&shared, memory_order_acquire);
}

/* Replaces shared with a new object of value v and retires the old. */
static void
replace(long v)
{
    struct obj *old = atomic_load(&shared);

    atomic_store(&shared, obj_new(v));
    cr_assert_eq(qsbr_retire(&q, old, obj_free), 0);
}

Test(qsbr, with_no_reader_a_retired_pointer_is_freed_at_once)
{
    cr_assert_eq(qsbr_init(&q), 0);
    atomic_store(&shared, obj_new(0));
    atomic_store(&freed, 0);
    replace(1);
    replace(2);
    cr_assert_eq(atomic_load(&freed), 2);
    cr_assert_eq(qsbr_pending(&q), 0);
    free(atomic_load(&shared));
    qsbr_deinit(&q);
}

struct gate {
    atomic_int step;
};

static void
await(struct gate *g, int step)
{
    while (atomic_load(&g->step) < step) {
        sched_yield();
    }
}

static void *
holding_reader(void *arg)
{
    struct gate *g = arg;
    struct obj *o = read_shared();

    atomic_store(&g->step, 1);
    await(g, 2);
    cr_assert_eq(o->canary, CANARY, "freed while held");
    qsbr_offline(); /* a long wait: delays nothing */
    atomic_store(&g->step, 3);
    await(g, 4);
    qsbr_online();
    o = read_shared();
    cr_assert_eq(o->canary, CANARY);
    atomic_store(&g->step, 5);
    await(g, 6);
    return NULL;
}

Test(qsbr, a_held_pointer_waits_an_offline_reader_does_not_delay)
{
    struct gate g = {0};
    pthread_t th;

    cr_assert_eq(qsbr_init(&q), 0);
    atomic_store(&shared, obj_new(0));
    atomic_store(&freed, 0);
    cr_assert_eq(pthread_create(&th, NULL, holding_reader, &g), 0);
    await(&g, 1);
    replace(1);
    replace(2);
    cr_assert_eq(atomic_load(&freed), 0, "the reader may hold them");
    cr_assert_eq(qsbr_pending(&q), 2);
    atomic_store(&g.step, 2);
    await(&g, 3); /* offline now */
    cr_assert_eq(qsbr_reclaim(&q), 0);
    cr_assert_eq(atomic_load(&freed), 2);
    replace(3);
    cr_assert_eq(atomic_load(&freed), 3, "offline: no delay");
    atomic_store(&g.step, 4);
    await(&g, 5); /* online again, holding the newest */
    replace(4);
    cr_assert_eq(atomic_load(&freed), 3, "held again");
    atomic_store(&g.step, 6);
    pthread_join(th, NULL);
    cr_assert_eq(qsbr_reclaim(&q), 0, "an exited thread delays nothing");
    cr_assert_eq(atomic_load(&freed), 4);
    free(atomic_load(&shared));
    qsbr_deinit(&q);
}

#define READERS 3
#define ROUNDS 20000

static atomic_int stop;

static void *
busy_reader(void *arg)
{
    long seen = 0, n = 0;

    (void)arg;
    while (!atomic_load(&stop)) {
        struct obj *o = read_shared();

        cr_assert_eq(o->canary, CANARY, "a pointer freed while read");
        cr_assert_geq(o->value, seen, "went back in time");
        seen = o->value;
        if (++n % 64 == 0) {
            qsbr_offline();
            qsbr_online();
        } else {
            qsbr_quiescent();
        }
    }
    return NULL;
}

Test(qsbr, readers_never_see_a_freed_pointer_under_a_fast_writer)
{
    pthread_t th[READERS];
    long left;
    int i;

    cr_assert_eq(qsbr_init(&q), 0);
    atomic_store(&shared, obj_new(0));
    atomic_store(&freed, 0);
    atomic_store(&stop, 0);
    for (i = 0; i < READERS; i++) {
        cr_assert_eq(pthread_create(&th[i], NULL, busy_reader, NULL), 0);
    }
    for (i = 1; i <= ROUNDS; i++) {
        replace(i);
        if (i % 1000 == 0) {
            /* Frees go on while they read: they pass quiescent states. */
            for (left = qsbr_reclaim(&q); left >= 1000;
                 left = qsbr_reclaim(&q)) {
                sched_yield();
            }
        }
    }
    atomic_store(&stop, 1);
    for (i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
    }
    cr_assert_eq(qsbr_reclaim(&q), 0);
    cr_assert_eq(atomic_load(&freed), ROUNDS);
    free(atomic_load(&shared));
    qsbr_deinit(&q);
}
