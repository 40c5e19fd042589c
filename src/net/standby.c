/*
 * standby: a counting gate for the worker pool; see standby.h.
 */
#include "net/standby.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct standby {
    pthread_mutex_t lock;
    pthread_cond_t turn;
    int limit;          /* fixed */
    atomic_int running; /* attached, neither blocked nor standing by; lock
                           to change */
    int waiting;        /* standing by; lock */
    int turns;          /* turns handed out, not yet taken; lock */
    int stopped;        /* lock */
};

/* The gate of the calling thread, and how deep its blocking calls nest. */
static _Thread_local struct standby *tl_gate;
static _Thread_local int tl_depth;
static _Thread_local void (*tl_on_block)(void *);
static _Thread_local void *tl_on_block_arg;

void
standby_on_block(void (*fn)(void *arg), void *arg)
{
    tl_on_block = fn;
    tl_on_block_arg = arg;
}

struct standby *
standby_create(int limit)
{
    struct standby *s;

    if (limit < 1 || (s = calloc(1, sizeof(*s))) == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        goto fail_mutex;
    }
    if (pthread_cond_init(&s->turn, NULL) != 0) {
        goto fail_cond;
    }
    s->limit = limit;
    return s;

fail_cond:
    pthread_mutex_destroy(&s->lock);
fail_mutex:
    free(s);
    return NULL;
}

void
standby_destroy(struct standby *s)
{
    if (s == NULL) {
        return;
    }
    pthread_cond_destroy(&s->turn);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void
standby_attach(struct standby *s)
{
    pthread_mutex_lock(&s->lock);
    atomic_fetch_add(&s->running, 1);
    pthread_mutex_unlock(&s->lock);
    tl_gate = s;
    tl_depth = 0;
}

void
standby_idle(struct standby *s)
{
    if (atomic_load_explicit(&s->running, memory_order_relaxed) <= s->limit) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (atomic_load(&s->running) > s->limit && !s->stopped) {
        atomic_fetch_sub(&s->running, 1);
        s->waiting++;
        while (s->turns == 0 && !s->stopped) {
            pthread_cond_wait(&s->turn, &s->lock);
        }
        if (s->turns > 0) {
            s->turns--;
        }
        s->waiting--;
        atomic_fetch_add(&s->running, 1);
    }
    pthread_mutex_unlock(&s->lock);
}

void
standby_block_begin(void)
{
    struct standby *s = tl_gate;

    if (s == NULL || tl_depth++ > 0) {
        return;
    }
    if (tl_on_block != NULL) {
        tl_on_block(tl_on_block_arg);
    }
    pthread_mutex_lock(&s->lock);
    if (atomic_fetch_sub(&s->running, 1) - 1 < s->limit &&
        s->waiting > s->turns) {
        s->turns++;
        pthread_cond_signal(&s->turn);
    }
    pthread_mutex_unlock(&s->lock);
}

void
standby_block_end(void)
{
    struct standby *s = tl_gate;

    if (s == NULL || --tl_depth > 0) {
        return;
    }
    pthread_mutex_lock(&s->lock);
    atomic_fetch_add(&s->running, 1);
    pthread_mutex_unlock(&s->lock);
}

void
standby_stop(struct standby *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopped = 1;
    pthread_cond_broadcast(&s->turn);
    pthread_mutex_unlock(&s->lock);
}
