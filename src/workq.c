/*
 * workq: a fixed ring of pointers under one mutex; see workq.h. The eventfd
 * mirrors "has items or is shut down": written on the empty -> non-empty
 * edge and at shutdown, read back to zero on the non-empty -> empty edge,
 * both under the lock, so its readability never disagrees with count.
 */
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct workq {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    size_t head;     /* index of the oldest item; lock */
    size_t count;    /* items queued; lock */
    size_t capacity; /* fixed */
    int shutdown;    /* lock */
    int efd;         /* readable iff count > 0 || shutdown; lock */
    void *items[];
};

struct workq *
workq_create(size_t capacity)
{
    struct workq *q;

    if (capacity == 0 ||
        capacity > (SIZE_MAX - sizeof(*q)) / sizeof(q->items[0])) {
        return NULL;
    }
    q = calloc(1, sizeof(*q) + capacity * sizeof(q->items[0]));
    if (q == NULL) {
        return NULL;
    }
    q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (q->efd < 0) {
        goto fail_eventfd;
    }
    if (pthread_mutex_init(&q->lock, NULL) != 0) {
        goto fail_mutex;
    }
    if (pthread_cond_init(&q->nonempty, NULL) != 0) {
        goto fail_cond;
    }
    q->capacity = capacity;
    return q;

fail_cond:
    pthread_mutex_destroy(&q->lock);
fail_mutex:
    close(q->efd);
fail_eventfd:
    free(q);
    return NULL;
}

void
workq_destroy(struct workq *q)
{
    if (q == NULL) {
        return;
    }
    pthread_cond_destroy(&q->nonempty);
    pthread_mutex_destroy(&q->lock);
    close(q->efd);
    free(q);
}

/* Makes the eventfd readable (1) or not (0). Called with the lock held. */
static void
signal_fd(struct workq *q, int readable)
{
    uint64_t v = 1;
    ssize_t n;

    do {
        n = readable ? write(q->efd, &v, sizeof(v))
                     : read(q->efd, &v, sizeof(v));
    } while (n < 0 && errno == EINTR);
}

int
workq_push(struct workq *q, void *item)
{
    int rc = WORKQ_OK;

    pthread_mutex_lock(&q->lock);
    if (q->shutdown) {
        rc = WORKQ_ESHUTDOWN;
    } else if (q->count == q->capacity) {
        rc = WORKQ_EFULL;
    } else {
        q->items[(q->head + q->count) % q->capacity] = item;
        if (q->count++ == 0) {
            signal_fd(q, 1);
        }
        pthread_cond_signal(&q->nonempty);
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

/* Takes the oldest item. Called with the lock held and count > 0. */
static void *
take(struct workq *q)
{
    void *item = q->items[q->head];

    q->head = (q->head + 1) % q->capacity;
    if (--q->count == 0 && !q->shutdown) {
        signal_fd(q, 0);
    }
    return item;
}

void *
workq_pop(struct workq *q)
{
    void *item = NULL;

    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->shutdown) {
        pthread_cond_wait(&q->nonempty, &q->lock);
    }
    if (q->count > 0) {
        item = take(q);
    }
    pthread_mutex_unlock(&q->lock);
    return item;
}

int
workq_trypop(struct workq *q, void **item)
{
    int rc;

    pthread_mutex_lock(&q->lock);
    if (q->count > 0) {
        *item = take(q);
        rc = WORKQ_OK;
    } else {
        rc = q->shutdown ? WORKQ_ESHUTDOWN : WORKQ_EEMPTY;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int
workq_fd(const struct workq *q)
{
    return q->efd;
}

void
workq_shutdown(struct workq *q)
{
    pthread_mutex_lock(&q->lock);
    if (!q->shutdown && q->count == 0) {
        signal_fd(q, 1);
    }
    q->shutdown = 1;
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

size_t
workq_depth(struct workq *q)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}
