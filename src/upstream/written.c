/*
 * written: a fixed open-addressing table of (key hash, round); see
 * written.h. An entry is free when its hash is 0 or its round is at or
 * below `settled`; hash 0 is never stored (a key hashing to 0 counts as
 * 1).
 */
#include "upstream/written.h"

#include <pthread.h>
#include <stdlib.h>

#include "base/hash.h"

struct entry {
    uint64_t hash;
    uint64_t round;
};

struct written {
    pthread_mutex_t lock; /* everything below */
    struct entry *table;
    size_t mask;
    uint64_t floor;
    uint64_t settled;
    long held;
    long dropped;
};

struct written *
written_create(size_t capacity)
{
    struct written *w = calloc(1, sizeof(*w));
    size_t n = WRITTEN_PROBE;

    if (w == NULL) {
        return NULL;
    }
    while (n < capacity && n < ((size_t)1 << 30)) {
        n <<= 1;
    }
    w->table = calloc(n, sizeof(*w->table));
    if (w->table == NULL || pthread_mutex_init(&w->lock, NULL) != 0) {
        free(w->table);
        free(w);
        return NULL;
    }
    w->mask = n - 1;
    return w;
}

void
written_destroy(struct written *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_destroy(&w->lock);
    free(w->table);
    free(w);
}

uint64_t
written_hash(const char *key, size_t klen)
{
    uint64_t h = hash_bytes(0, key, klen);

    return h != 0 ? h : 1;
}

static int
is_free(const struct written *w, const struct entry *e)
{
    return e->hash == 0 || e->round <= w->settled;
}

int
written_key(struct written *w, uint64_t h, uint64_t round)
{
    struct entry *victim = NULL, *place = NULL;
    size_t i;
    int rc = 0;

    h = h != 0 ? h : 1;
    pthread_mutex_lock(&w->lock);
    for (i = 0; i < WRITTEN_PROBE; i++) {
        struct entry *e = &w->table[(h + i) & w->mask];

        if (e->hash == h) {
            place = e; /* the key's own: replaced */
            break;
        }
        if (place == NULL && is_free(w, e)) {
            place = e;
        }
        if (e->round != WRITTEN_PENDING &&
            (victim == NULL || e->round < victim->round)) {
            victim = e;
        }
    }
    if (place == NULL && victim != NULL) {
        /* Forgetting it is safe once every replica must reach its round
         * anyway. */
        if (victim->round > w->floor) {
            w->floor = victim->round;
        }
        w->dropped++;
        place = victim;
    }
    if (place != NULL) {
        place->hash = h;
        place->round = round;
    } else if (round == WRITTEN_PENDING) {
        rc = -1; /* the caller holds the table instead */
    } else if (round > w->floor) {
        w->floor = round; /* every place pending: all keys wait */
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

void
written_all(struct written *w, uint64_t round)
{
    pthread_mutex_lock(&w->lock);
    if (round > w->floor) {
        w->floor = round;
    }
    pthread_mutex_unlock(&w->lock);
}

void
written_hold(struct written *w)
{
    pthread_mutex_lock(&w->lock);
    w->held++;
    pthread_mutex_unlock(&w->lock);
}

void
written_release(struct written *w)
{
    pthread_mutex_lock(&w->lock);
    if (w->held > 0) {
        w->held--;
    }
    pthread_mutex_unlock(&w->lock);
}

uint64_t
written_need(struct written *w, uint64_t h)
{
    uint64_t need;
    size_t i;

    h = h != 0 ? h : 1;
    pthread_mutex_lock(&w->lock);
    need = w->held > 0 ? WRITTEN_PENDING : w->floor;
    for (i = 0; i < WRITTEN_PROBE && need != WRITTEN_PENDING; i++) {
        const struct entry *e = &w->table[(h + i) & w->mask];

        if (e->hash == h && !is_free(w, e)) {
            need = e->round > need ? e->round : need;
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return need;
}

uint64_t
written_floor(struct written *w)
{
    uint64_t f;

    pthread_mutex_lock(&w->lock);
    f = w->held > 0 ? WRITTEN_PENDING : w->floor;
    pthread_mutex_unlock(&w->lock);
    return f;
}

void
written_settle(struct written *w, uint64_t done)
{
    pthread_mutex_lock(&w->lock);
    if (done > w->settled && done != WRITTEN_PENDING) {
        w->settled = done;
    }
    pthread_mutex_unlock(&w->lock);
}

uint64_t
written_settled(struct written *w)
{
    uint64_t s;

    pthread_mutex_lock(&w->lock);
    s = w->settled;
    pthread_mutex_unlock(&w->lock);
    return s;
}

void
written_stats(struct written *w, struct written_stats *out)
{
    size_t i;

    pthread_mutex_lock(&w->lock);
    out->keys = 0;
    for (i = 0; i <= w->mask; i++) {
        out->keys += !is_free(w, &w->table[i]);
    }
    out->dropped = w->dropped;
    out->floor = w->floor;
    out->settled = w->settled;
    pthread_mutex_unlock(&w->lock);
}
