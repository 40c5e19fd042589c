/*
 * Unit tests for standby, the gate that lets at most `limit` workers run:
 * an idle worker with few enough running passes at once; workers over the
 * limit stand by until a running one blocks, and exactly one takes each
 * turn; nested blocking calls hand over one turn; standby_stop releases
 * everyone; the blocking hooks do nothing in a thread that never attached;
 * the function a worker sets with standby_on_block runs once per outermost
 * standby_block_begin in that thread only, before the turn is handed over.
 *
 * Each "worker" is a thread driven by the test through a small command
 * word; every wait is bounded, so a broken gate fails instead of hanging.
 * Checks that something did NOT happen wait 100 ms first: they cannot fail
 * when the gate is right.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>

#include "net/standby.h"
#include "base/util.h"
#include "unit_helpers.h"

#define WAIT_MS 2000

enum cmd {
    CMD_NONE,
    CMD_PING,        /* just report: the worker is attached and listening */
    CMD_IDLE,        /* standby_idle, then report passed */
    CMD_BLOCK_BEGIN, /* standby_block_begin */
    CMD_BLOCK_END,   /* standby_block_end */
    CMD_ON_BLOCK,    /* standby_on_block(on_block, NULL) */
    CMD_NO_ON_BLOCK, /* standby_on_block(NULL, NULL) */
    CMD_EXIT,
};

struct worker {
    struct standby *gate;
    pthread_t th;
    atomic_int cmd;    /* written by the test, cleared by the worker */
    atomic_int passed; /* standby_idle calls that returned */
    atomic_int done;   /* commands finished */
};

/* What on_block saw: how often it ran, and how many standby_idle calls
 * of the worker `other` had returned during its last call. It gives other
 * 100 ms to pass, so a turn handed over before it ran would show. */
static atomic_int on_block_calls;
static atomic_int other_passed_at_call = -1;
static struct worker *other;

static void
on_block(void *arg)
{
    int64_t until = util_now_ms() + 100;

    (void)arg;
    atomic_fetch_add(&on_block_calls, 1);
    while (atomic_load(&other->passed) == 0 && util_now_ms() < until) {
        sleep_ms(1);
    }
    atomic_store(&other_passed_at_call, atomic_load(&other->passed));
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;

    standby_attach(w->gate);
    for (;;) {
        int c = atomic_exchange(&w->cmd, CMD_NONE);

        switch (c) {
        case CMD_NONE:
            sleep_ms(1);
            continue;
        case CMD_PING:
            break;
        case CMD_IDLE:
            standby_idle(w->gate);
            atomic_fetch_add(&w->passed, 1);
            break;
        case CMD_BLOCK_BEGIN:
            standby_block_begin();
            break;
        case CMD_BLOCK_END:
            standby_block_end();
            break;
        case CMD_ON_BLOCK:
            standby_on_block(on_block, NULL);
            break;
        case CMD_NO_ON_BLOCK:
            standby_on_block(NULL, NULL);
            break;
        default:
            return NULL;
        }
        atomic_fetch_add(&w->done, 1);
    }
}

static void
start(struct worker *w, struct standby *gate)
{
    w->gate = gate;
    atomic_init(&w->cmd, CMD_NONE);
    atomic_init(&w->passed, 0);
    atomic_init(&w->done, 0);
    cr_assert_eq(pthread_create(&w->th, NULL, worker_main, w), 0);
}

/* Sends a command and waits (bounded) until the worker finished it. */
static void
run(struct worker *w, enum cmd c)
{
    int before = atomic_load(&w->done);
    int64_t until = util_now_ms() + WAIT_MS;

    atomic_store(&w->cmd, c);
    while (atomic_load(&w->done) == before && util_now_ms() < until) {
        sleep_ms(1);
    }
    cr_assert_gt(atomic_load(&w->done), before, "command %d never finished", c);
}

/* Sends a command without waiting for it. */
static void
post(struct worker *w, enum cmd c)
{
    atomic_store(&w->cmd, c);
}

/* Waits (bounded) until w has passed standby_idle n times in all. */
static int
passed_within(struct worker *w, int n)
{
    int64_t until = util_now_ms() + WAIT_MS;

    while (atomic_load(&w->passed) < n && util_now_ms() < until) {
        sleep_ms(1);
    }
    return atomic_load(&w->passed) >= n;
}

static void
finish(struct worker *w)
{
    post(w, CMD_EXIT);
    cr_assert_eq(pthread_join(w->th, NULL), 0);
}

/* A gate of the given limit with n (<= 3) attached workers, listening. */
struct crew {
    struct standby *gate;
    struct worker w[3];
    int n;
};

static void
crew_start(struct crew *k, int limit, int n)
{
    int i;

    k->gate = standby_create(limit);
    cr_assert_not_null(k->gate);
    k->n = n;
    for (i = 0; i < n; i++) {
        start(&k->w[i], k->gate);
        run(&k->w[i], CMD_PING);
    }
}

static void
crew_finish(struct crew *k)
{
    int i;

    for (i = 0; i < k->n; i++) {
        finish(&k->w[i]);
    }
    standby_destroy(k->gate);
}

Test(standby, create_refuses_a_limit_below_one)
{
    cr_assert_null(standby_create(0));
    cr_assert_null(standby_create(-1));
    standby_destroy(NULL);
}

Test(standby, idle_passes_at_once_within_the_limit)
{
    struct crew k;

    crew_start(&k, 2, 2);
    run(&k.w[0], CMD_IDLE);
    run(&k.w[1], CMD_IDLE);
    cr_assert_eq(atomic_load(&k.w[0].passed), 1);
    cr_assert_eq(atomic_load(&k.w[1].passed), 1);
    crew_finish(&k);
}

Test(standby, worker_over_the_limit_stands_by_until_one_blocks)
{
    struct crew k;
    struct worker *a = &k.w[0], *b = &k.w[1];

    crew_start(&k, 1, 2);
    post(b, CMD_IDLE);
    sleep_ms(100);
    cr_assert_eq(atomic_load(&b->passed), 0, "ran over the limit");
    run(a, CMD_BLOCK_BEGIN); /* a waits on Redis: b's turn */
    cr_assert(passed_within(b, 1), "a blocked, b never got its turn");
    run(a, CMD_BLOCK_END); /* two running again */
    post(a, CMD_IDLE);     /* a is idle now: it stands by */
    sleep_ms(100);
    cr_assert_eq(atomic_load(&a->passed), 0, "ran over the limit");
    run(b, CMD_BLOCK_BEGIN);
    cr_assert(passed_within(a, 1), "b blocked, a never got its turn");
    run(b, CMD_BLOCK_END);
    crew_finish(&k);
}

Test(standby, one_block_hands_over_exactly_one_turn)
{
    struct crew k;
    struct worker *a = &k.w[0], *b = &k.w[1], *c = &k.w[2];

    crew_start(&k, 1, 3);
    post(b, CMD_IDLE);
    post(c, CMD_IDLE);
    sleep_ms(100);
    cr_assert_eq(atomic_load(&b->passed) + atomic_load(&c->passed), 0);
    /* nested: the inner pair must not hand over a second turn */
    run(a, CMD_BLOCK_BEGIN);
    run(a, CMD_BLOCK_BEGIN);
    run(a, CMD_BLOCK_END);
    sleep_ms(100);
    cr_assert_eq(atomic_load(&b->passed) + atomic_load(&c->passed), 1,
                 "one block released %d workers",
                 atomic_load(&b->passed) + atomic_load(&c->passed));
    run(a, CMD_BLOCK_END);
    standby_stop(k.gate); /* shutdown releases the one still standing by */
    cr_assert(passed_within(b, 1) && passed_within(c, 1),
              "stop left a worker standing by");
    crew_finish(&k);
}

Test(standby, idle_after_stop_never_waits)
{
    struct crew k;
    struct worker *b = &k.w[1];

    crew_start(&k, 1, 2);
    standby_stop(k.gate);
    run(b, CMD_IDLE); /* two running, limit one, but stopped */
    cr_assert_eq(atomic_load(&b->passed), 1);
    crew_finish(&k);
}

Test(standby, blocking_hooks_do_nothing_outside_an_attached_thread)
{
    struct crew k;
    struct worker *b = &k.w[1];

    crew_start(&k, 1, 2);
    post(b, CMD_IDLE);
    standby_block_begin(); /* the test thread never attached */
    sleep_ms(100);
    cr_assert_eq(atomic_load(&b->passed), 0,
                 "an unattached thread's block "
                 "handed over a turn");
    standby_block_end();
    standby_stop(k.gate);
    cr_assert(passed_within(b, 1));
    crew_finish(&k);
}

Test(standby, on_block_runs_once_per_outermost_block_before_the_handover)
{
    struct crew k;
    struct worker *a = &k.w[0], *b = &k.w[1];

    crew_start(&k, 1, 2);
    other = b;
    run(a, CMD_ON_BLOCK);
    post(b, CMD_IDLE);
    sleep_ms(100);
    cr_assert_eq(atomic_load(&b->passed), 0, "ran over the limit");
    run(a, CMD_BLOCK_BEGIN);
    cr_assert_eq(atomic_load(&on_block_calls), 1);
    cr_assert_eq(atomic_load(&other_passed_at_call), 0,
                 "the turn was handed over before on_block ran");
    cr_assert(passed_within(b, 1), "a blocked, b never got its turn");
    run(a, CMD_BLOCK_BEGIN); /* nested: not again */
    run(a, CMD_BLOCK_END);
    cr_assert_eq(atomic_load(&on_block_calls), 1);
    run(a, CMD_BLOCK_END);
    run(b, CMD_BLOCK_BEGIN); /* another thread: not a's function */
    run(b, CMD_BLOCK_END);
    cr_assert_eq(atomic_load(&on_block_calls), 1);
    run(a, CMD_BLOCK_BEGIN); /* the next outermost block: again */
    run(a, CMD_BLOCK_END);
    cr_assert_eq(atomic_load(&on_block_calls), 2);
    run(a, CMD_NO_ON_BLOCK);
    run(a, CMD_BLOCK_BEGIN);
    run(a, CMD_BLOCK_END);
    cr_assert_eq(atomic_load(&on_block_calls), 2, "ran after being unset");
    crew_finish(&k);
}
