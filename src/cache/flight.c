/*
 * flight: the registry of fills in flight; see flight.h. Fills in flight
 * are few (at most one per worker), so the registry is a small chained hash
 * table under one mutex, and each flight owns a condition variable.
 */
#include "cache/flight.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "base/util.h"

#define FLIGHT_BUCKETS 64

struct flight {
    struct flight *next; /* bucket chain */
    pthread_cond_t done_cv;
    int refs;                  /* leader + waiting followers */
    int done;                  /* the leader finished */
    int marked;                /* an invalidation arrived during the fill
                                  (and took it out of the table) */
    int status;                /* the leader's outcome */
    struct cache_entry *entry; /* the leader's value; one reference */
    char err[FLIGHT_ERR_MAX];
    uint64_t hash;
    size_t klen;
    char key[];
};

struct flights {
    pthread_mutex_t lock;
    struct cache *cache;
    struct flight *buckets[FLIGHT_BUCKETS];
    long fills, coalesced, discarded, invalidations, flushes;
};

struct flights *
flights_create(struct cache *c)
{
    struct flights *fl = calloc(1, sizeof(*fl));

    if (fl == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&fl->lock, NULL) != 0) {
        free(fl);
        return NULL;
    }
    fl->cache = c;
    return fl;
}

void
flights_destroy(struct flights *fl)
{
    if (fl == NULL) {
        return;
    }
    pthread_mutex_destroy(&fl->lock);
    free(fl);
}

static struct flight **
find(struct flights *fl, uint64_t hash, const char *key, size_t klen)
{
    struct flight **pp = &fl->buckets[hash % FLIGHT_BUCKETS];

    while (*pp != NULL && ((*pp)->hash != hash || (*pp)->klen != klen ||
                           memcmp((*pp)->key, key, klen) != 0)) {
        pp = &(*pp)->next;
    }
    return pp;
}

/* Drops one reference; frees at zero. Lock held. */
static void
flight_unref(struct flight *f)
{
    if (--f->refs == 0) {
        cache_release(f->entry);
        pthread_cond_destroy(&f->done_cv);
        free(f);
    }
}

struct flight *
flight_join(struct flights *fl, const char *key, size_t klen, int *leader)
{
    uint64_t hash = hash_bytes(0, key, klen);
    struct flight **pp, *f;

    pthread_mutex_lock(&fl->lock);
    pp = find(fl, hash, key, klen);
    if (*pp != NULL) {
        f = *pp;
        f->refs++;
        fl->coalesced++;
        *leader = 0;
        pthread_mutex_unlock(&fl->lock);
        return f;
    }
    f = calloc(1, sizeof(*f) + klen);
    if (f == NULL || util_cond_init(&f->done_cv) != 0) {
        pthread_mutex_unlock(&fl->lock);
        free(f);
        return NULL;
    }
    f->refs = 1;
    f->hash = hash;
    f->klen = klen;
    memcpy(f->key, key, klen);
    *pp = f;
    fl->fills++;
    *leader = 1;
    pthread_mutex_unlock(&fl->lock);
    return f;
}

int
flight_finish(struct flights *fl, struct flight *f, int status,
              struct cache_entry *entry, const char *err, int store)
{
    struct flight **pp;
    int stored = 0;

    pthread_mutex_lock(&fl->lock);
    pp = find(fl, f->hash, f->key, f->klen);
    if (*pp == f) {
        *pp = f->next;
    }
    if (entry != NULL && store) {
        if (f->marked) {
            fl->discarded++;
        } else {
            stored = cache_put(fl->cache, entry);
        }
    }
    if (entry != NULL) {
        atomic_fetch_add_explicit(&entry->refs, 1, memory_order_relaxed);
    }
    f->entry = entry;
    f->status = status;
    snprintf(f->err, sizeof(f->err), "%s", err != NULL ? err : "");
    f->done = 1;
    pthread_cond_broadcast(&f->done_cv);
    flight_unref(f);
    pthread_mutex_unlock(&fl->lock);
    return stored;
}

int
flight_wait(struct flights *fl, struct flight *f, int64_t deadline_ms,
            int *status, struct cache_entry **entry, char *err)
{
    struct timespec ts = util_deadline(deadline_ms);
    int rc = -1;

    pthread_mutex_lock(&fl->lock);
    while (!f->done) {
        if (pthread_cond_timedwait(&f->done_cv, &fl->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    if (f->done) {
        *status = f->status;
        *entry = f->entry;
        if (f->entry != NULL) {
            atomic_fetch_add_explicit(&f->entry->refs, 1, memory_order_relaxed);
        }
        memcpy(err, f->err, FLIGHT_ERR_MAX);
        rc = 0;
    }
    flight_unref(f);
    pthread_mutex_unlock(&fl->lock);
    return rc;
}

/* Marks the flight *pp points at and takes it out of the table: its value
 * may predate the change, so it is answered to those who joined it but
 * neither stored nor joined by later requests, which lead fills of their
 * own. flight_finish() copes with a flight no longer in the table. Lock
 * held. */
static void
overtake(struct flight **pp)
{
    struct flight *f = *pp;

    f->marked = 1;
    *pp = f->next;
    f->next = NULL;
}

void
flights_invalidate(struct flights *fl, const char *key, size_t klen)
{
    struct flight **pp;

    pthread_mutex_lock(&fl->lock);
    pp = find(fl, hash_bytes(0, key, klen), key, klen);
    if (*pp != NULL) {
        overtake(pp);
    }
    fl->invalidations += cache_remove(fl->cache, key, klen);
    pthread_mutex_unlock(&fl->lock);
}

/* Overtakes every fill of a key in scope (NULL: every fill). Lock held. */
static void
mark_in(struct flights *fl, const struct key_scope *scope)
{
    size_t i;

    for (i = 0; i < FLIGHT_BUCKETS; i++) {
        struct flight **pp = &fl->buckets[i];

        while (*pp != NULL) {
            if (scope == NULL ||
                scope->has(scope->arg, (*pp)->key, (*pp)->klen)) {
                overtake(pp); /* *pp is now the next one */
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    fl->flushes++;
}

void
flights_invalidate_all(struct flights *fl)
{
    flights_invalidate_in(fl, NULL);
}

void
flights_lost(struct flights *fl)
{
    flights_lost_in(fl, NULL);
}

void
flights_invalidate_in(struct flights *fl, const struct key_scope *scope)
{
    pthread_mutex_lock(&fl->lock);
    mark_in(fl, scope);
    if (scope == NULL) {
        cache_clear(fl->cache);
    } else {
        cache_remove_if(fl->cache, scope);
    }
    pthread_mutex_unlock(&fl->lock);
}

void
flights_lost_in(struct flights *fl, const struct key_scope *scope)
{
    pthread_mutex_lock(&fl->lock);
    mark_in(fl, scope);
    if (scope == NULL) {
        cache_expire_all(fl->cache);
    } else {
        cache_expire_if(fl->cache, scope);
    }
    pthread_mutex_unlock(&fl->lock);
}

void
flights_stats(struct flights *fl, struct flight_stats *out)
{
    pthread_mutex_lock(&fl->lock);
    out->fills = fl->fills;
    out->coalesced = fl->coalesced;
    out->discarded = fl->discarded;
    out->invalidations = fl->invalidations;
    out->flushes = fl->flushes;
    pthread_mutex_unlock(&fl->lock);
}
