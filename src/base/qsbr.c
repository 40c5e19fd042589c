/*
 * qsbr: quiescent-state-based reclamation; see qsbr.h.
 */
#include "base/qsbr.h"

#include <stdlib.h>
#include <string.h>

_Thread_local struct qsbr_reader *qsbr__self;

static pthread_key_t qsbr_key; /* its destructor: a reader's thread exits */
static pthread_once_t qsbr_once = PTHREAD_ONCE_INIT;

_Static_assert(sizeof(struct qsbr_reader) == 64, "one cache line");

/* Takes r out of its domain's list and frees it. */
static void
unregister(struct qsbr_reader *r)
{
    struct qsbr *q = r->q;
    struct qsbr_reader **pp;

    pthread_mutex_lock(&q->lock);
    for (pp = &q->readers; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    pthread_mutex_unlock(&q->lock);
    free(r);
}

/* pthread key destructor: the thread of reader arg exits. */
static void
thread_exit(void *arg)
{
    if (qsbr__self == arg) {
        qsbr__self = NULL;
    }
    unregister(arg);
}

static void
make_key(void)
{
    pthread_key_create(&qsbr_key, thread_exit);
}

int
qsbr_init(struct qsbr *q)
{
    pthread_once(&qsbr_once, make_key);
    atomic_init(&q->epoch, 1);
    atomic_init(&q->pending, 0);
    q->readers = NULL;
    q->retired = NULL;
    q->tail = &q->retired;
    return pthread_mutex_init(&q->lock, NULL) == 0 ? 0 : -1;
}

void
qsbr_deinit(struct qsbr *q)
{
    if (q == NULL) {
        return;
    }
    while (q->retired != NULL) {
        struct qsbr_retired *d = q->retired;

        q->retired = d->next;
        d->free_fn(d->p);
        free(d);
    }
    q->tail = &q->retired;
    atomic_store(&q->pending, 0);
    if (qsbr__self != NULL && qsbr__self->q == q) {
        pthread_setspecific(qsbr_key, NULL);
        qsbr__self = NULL;
    }
    while (q->readers != NULL) {
        struct qsbr_reader *r = q->readers;

        q->readers = r->next;
        free(r);
    }
    pthread_mutex_destroy(&q->lock);
}

void
qsbr__register(struct qsbr *q)
{
    struct qsbr_reader *r = qsbr__self;

    if (r != NULL) {
        pthread_setspecific(qsbr_key, NULL);
        qsbr__self = NULL;
        unregister(r); /* another domain's (tests) */
    }
    r = aligned_alloc(64, sizeof(*r)); /* its own cache line */
    if (r == NULL) {
        abort(); /* 64 bytes, once per thread: nothing to go on with */
    }
    memset(r, 0, sizeof(*r));
    r->q = q;
    pthread_mutex_lock(&q->lock);
    r->next = q->readers;
    q->readers = r;
    pthread_mutex_unlock(&q->lock);
    qsbr__self = r;
    pthread_setspecific(qsbr_key, r);
    qsbr_online();
}

void
qsbr_offline(void)
{
    struct qsbr_reader *r = qsbr__self;

    if (r != NULL) {
        atomic_store_explicit(&r->seen, 0, memory_order_release);
    }
}

void
qsbr_online(void)
{
    struct qsbr_reader *r = qsbr__self;
    uint64_t e, again;

    if (r == NULL) {
        return;
    }
    /* seq_cst throughout, against the writer's bump and scan (qsbr.h):
     * the epoch read again after the slot is written must be the one
     * written, else the writer may have scanned in between. */
    e = atomic_load(&r->q->epoch);
    for (;;) {
        atomic_store(&r->seen, e);
        again = atomic_load(&r->q->epoch);
        if (again == e) {
            return;
        }
        e = again;
    }
}

int
qsbr_online_in(const struct qsbr *q)
{
    struct qsbr_reader *r = qsbr__self;

    return r != NULL && r->q == q &&
           atomic_load_explicit(&r->seen, memory_order_relaxed) != 0;
}

long
qsbr_reclaim(struct qsbr *q)
{
    struct qsbr_retired *d;
    struct qsbr_reader *r;
    uint64_t min = UINT64_MAX;
    long left;

    qsbr_quiescent(); /* the caller, if it reads q, holds nothing now */
    pthread_mutex_lock(&q->lock);
    for (r = q->readers; r != NULL; r = r->next) {
        uint64_t s = atomic_load(&r->seen); /* seq_cst: see qsbr_online */

        if (s != 0 && s < min) {
            min = s;
        }
    }
    while ((d = q->retired) != NULL && d->epoch <= min) {
        q->retired = d->next;
        if (q->retired == NULL) {
            q->tail = &q->retired;
        }
        d->free_fn(d->p);
        free(d);
        atomic_fetch_sub_explicit(&q->pending, 1, memory_order_relaxed);
    }
    left = atomic_load_explicit(&q->pending, memory_order_relaxed);
    pthread_mutex_unlock(&q->lock);
    return left;
}

int
qsbr_retire(struct qsbr *q, void *p, void (*free_fn)(void *p))
{
    struct qsbr_retired *d = malloc(sizeof(*d));

    if (d == NULL) {
        return -1;
    }
    d->next = NULL;
    d->p = p;
    d->free_fn = free_fn;
    pthread_mutex_lock(&q->lock);
    /* After the caller's store of the new pointer: a reader that sees
     * this epoch loads that pointer, or a newer one. */
    d->epoch = atomic_fetch_add(&q->epoch, 1) + 1;
    *q->tail = d;
    q->tail = &d->next;
    atomic_fetch_add_explicit(&q->pending, 1, memory_order_relaxed);
    pthread_mutex_unlock(&q->lock);
    qsbr_reclaim(q);
    return 0;
}

long
qsbr_pending(struct qsbr *q)
{
    return atomic_load_explicit(&q->pending, memory_order_relaxed);
}
