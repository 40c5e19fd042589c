/*
 * workq: a fixed ring of pointers under one mutex; see workq.h. The eventfd
 * only ever carries edges for epoll (EPOLLET) consumers: one per push, one
 * per wake-up passed on.
 */
#include "net/workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct workq {
    pthread_mutex_t lock;
    size_t head;     /* index of the oldest item; lock */
    size_t count;    /* items queued; lock */
    size_t capacity; /* fixed */
    int shutdown;    /* lock */
    int efd;         /* eventfd: written, never read */
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
    q->capacity = capacity;
    return q;

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
    pthread_mutex_destroy(&q->lock);
    close(q->efd);
    free(q);
}

/* Wakes one consumer sleeping in epoll on the eventfd. */
static void
signal_fd(struct workq *q)
{
    uint64_t one = 1;

    while (write(q->efd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
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
    }
    pthread_mutex_unlock(&q->lock);
    if (rc == WORKQ_OK) {
        signal_fd(q);
    }
    return rc;
}

/* Takes the oldest item. Called with the lock held and count > 0. */
static void *
take(struct workq *q)
{
    void *item = q->items[q->head];

    q->head = (q->head + 1) % q->capacity;
    q->count--;
    return item;
}

int
workq_trypop(struct workq *q, void **item)
{
    int rc, pass_on;

    pthread_mutex_lock(&q->lock);
    if (q->count > 0) {
        *item = take(q);
        rc = WORKQ_OK;
    } else {
        rc = q->shutdown ? WORKQ_ESHUTDOWN : WORKQ_EEMPTY;
    }
    pass_on = q->count > 0 || q->shutdown;
    pthread_mutex_unlock(&q->lock);
    if (pass_on) {
        signal_fd(q);
    }
    return rc;
}

void
workq_pass_on(struct workq *q)
{
    int pass_on;

    pthread_mutex_lock(&q->lock);
    pass_on = q->count > 0 || q->shutdown;
    pthread_mutex_unlock(&q->lock);
    if (pass_on) {
        signal_fd(q);
    }
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
    q->shutdown = 1;
    pthread_mutex_unlock(&q->lock);
    signal_fd(q);
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
