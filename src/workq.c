/*
 * workq: a fixed ring of pointers under one mutex; see workq.h.
 */
#include "workq.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct workq {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    size_t head;     /* index of the oldest item; lock */
    size_t count;    /* items queued; lock */
    size_t capacity; /* fixed */
    int shutdown;    /* lock */
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
    free(q);
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
        q->count++;
        pthread_cond_signal(&q->nonempty);
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

size_t
workq_push_many(struct workq *q, void *const *items, size_t n)
{
    size_t i = 0;

    pthread_mutex_lock(&q->lock);
    while (!q->shutdown && i < n && q->count < q->capacity) {
        q->items[(q->head + q->count) % q->capacity] = items[i++];
        q->count++;
    }
    if (i == 1) {
        pthread_cond_signal(&q->nonempty);
    } else if (i > 1) {
        pthread_cond_broadcast(&q->nonempty);
    }
    pthread_mutex_unlock(&q->lock);
    return i;
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
        item = q->items[q->head];
        q->head = (q->head + 1) % q->capacity;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    return item;
}

void
workq_shutdown(struct workq *q)
{
    pthread_mutex_lock(&q->lock);
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
