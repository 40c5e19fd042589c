/*
 * flight: the registry of fills in flight; see flight.h. A fill is in
 * flight for every request that missed and is waiting on Redis (each
 * pipelined GET miss of each client), so there can be many thousands at
 * once: the table is chained and grows (doubling, never shrinking) to keep
 * at most one flight per bucket on average, rehashing under the registry
 * lock. Like the cache, it hashes the key alone, seeded from the kernel's
 * random source: the fills of one key in every database share a chain, so
 * an invalidation (which names no database) finds them all in one walk.
 *
 * A flight keeps its waiters in join order, the leader first.
 * flight_finish() takes the flight out of the table and the list off the
 * flight under the lock, then calls each done() unlocked. So a done() may
 * call back into the registry or the cache (join another fill, even of the
 * same key, which then starts afresh; invalidate; look up), and one
 * finish's callbacks never hold up another thread's joins. A waiter's next
 * link is read before its done() runs, since done() may free the waiter.
 * An overtaken (marked) flight is already out of the table; marked is
 * therefore also "not in the table".
 */
#include "cache/flight.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/hash.h"
#include "base/util.h"

/* Buckets of a new registry; the table doubles from there. */
#define FLIGHT_BUCKETS_MIN 256

struct flight {
    struct flight *next;           /* bucket chain; lock */
    struct flight_waiter *waiters; /* in join order; lock */
    struct flight_waiter **last;   /* the list's last next link; lock */
    int marked;                    /* an invalidation arrived during the
                                      fill and took it out of the table;
                                      lock */
    int db;                        /* read-only after join */
    uint64_t hash;                 /* of the key */
    size_t klen;
    char key[];
};

struct flights {
    pthread_mutex_t lock;
    struct cache *cache;
    struct flight **buckets; /* lock */
    size_t mask;             /* buckets - 1; lock */
    uint64_t seed;
    long in_flight; /* joined and not finished, marked ones included; lock */
    long fills, coalesced, discarded, invalidations, flushes; /* lock */
};

struct flights *
flights_create(struct cache *c)
{
    struct flights *fl = calloc(1, sizeof(*fl));

    if (fl == NULL) {
        return NULL;
    }
    fl->buckets = calloc(FLIGHT_BUCKETS_MIN, sizeof(*fl->buckets));
    if (fl->buckets == NULL) {
        goto fail_buckets;
    }
    if (pthread_mutex_init(&fl->lock, NULL) != 0) {
        goto fail_mutex;
    }
    if (getrandom(&fl->seed, sizeof(fl->seed), 0) != sizeof(fl->seed)) {
        fl->seed = (uint64_t)util_now_us() * 0x9e3779b97f4a7c15ULL;
    }
    fl->mask = FLIGHT_BUCKETS_MIN - 1;
    fl->cache = c;
    return fl;

fail_mutex:
    free(fl->buckets);
fail_buckets:
    free(fl);
    return NULL;
}

void
flights_destroy(struct flights *fl)
{
    if (fl == NULL) {
        return;
    }
    pthread_mutex_destroy(&fl->lock);
    free(fl->buckets);
    free(fl);
}

static uint64_t
key_hash(const struct flights *fl, const char *key, size_t klen)
{
    return hash_bytes(fl->seed, key, klen);
}

static int
same_key(const struct flight *f, const char *key, size_t klen)
{
    return f->klen == klen && memcmp(f->key, key, klen) == 0;
}

/* The link to the flight of key in database db, or the chain's end. Lock
 * held. */
static struct flight **
find(struct flights *fl, uint64_t hash, int db, const char *key, size_t klen)
{
    struct flight **pp = &fl->buckets[hash & fl->mask];

    while (*pp != NULL && ((*pp)->hash != hash || (*pp)->db != db ||
                           !same_key(*pp, key, klen))) {
        pp = &(*pp)->next;
    }
    return pp;
}

/* Doubles the table once it holds more flights than buckets. Out of
 * memory, the chains just grow longer. Lock held. */
static void
grow(struct flights *fl)
{
    size_t nb = (fl->mask + 1) * 2, i;
    struct flight **nbk;

    if ((size_t)fl->in_flight <= fl->mask + 1 ||
        (nbk = calloc(nb, sizeof(*nbk))) == NULL) {
        return;
    }
    for (i = 0; i <= fl->mask; i++) {
        struct flight *f, *next;

        for (f = fl->buckets[i]; f != NULL; f = next) {
            next = f->next;
            f->next = nbk[f->hash & (nb - 1)];
            nbk[f->hash & (nb - 1)] = f;
        }
    }
    free(fl->buckets);
    fl->buckets = nbk;
    fl->mask = nb - 1;
}

static void
add_waiter(struct flight *f, struct flight_waiter *w)
{
    w->next = NULL;
    *f->last = w;
    f->last = &w->next;
}

struct flight *
flight_join(struct flights *fl, int db, const char *key, size_t klen,
            struct flight_waiter *w, int *leader)
{
    uint64_t hash = key_hash(fl, key, klen);
    struct flight **pp, *f;

    pthread_mutex_lock(&fl->lock);
    pp = find(fl, hash, db, key, klen);
    if (*pp != NULL) {
        f = *pp;
        add_waiter(f, w);
        fl->coalesced++;
        *leader = 0;
        pthread_mutex_unlock(&fl->lock);
        return f;
    }
    f = calloc(1, sizeof(*f) + klen);
    if (f == NULL) {
        pthread_mutex_unlock(&fl->lock);
        return NULL;
    }
    f->last = &f->waiters;
    add_waiter(f, w);
    f->db = db;
    f->hash = hash;
    f->klen = klen;
    memcpy(f->key, key, klen);
    *pp = f;
    fl->in_flight++;
    fl->fills++;
    grow(fl);
    *leader = 1;
    pthread_mutex_unlock(&fl->lock);
    return f;
}

int
flight_finish(struct flights *fl, struct flight *f, int status,
              struct cache_entry *entry, const char *err, int store)
{
    struct flight_waiter *w, *next;
    int stored = 0;

    pthread_mutex_lock(&fl->lock);
    if (!f->marked) {
        struct flight **pp = &fl->buckets[f->hash & fl->mask];

        while (*pp != f) {
            pp = &(*pp)->next;
        }
        *pp = f->next;
    }
    if (entry != NULL && store) {
        if (f->marked) {
            fl->discarded++;
        } else {
            stored = cache_put(fl->cache, entry);
        }
    }
    fl->in_flight--;
    w = f->waiters;
    pthread_mutex_unlock(&fl->lock);

    /* Out of the table and off every list: f is ours alone now. */
    for (; w != NULL; w = next) {
        next = w->next;
        w->done(w, status, entry, err != NULL ? err : "");
    }
    free(f);
    return stored;
}

/* Marks the flight *pp points at and takes it out of the table: its value
 * may predate the change, so it is answered to those who joined it but
 * neither stored nor joined by later requests, which lead fills of their
 * own. Lock held. */
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
    uint64_t hash = key_hash(fl, key, klen);
    struct flight **pp;

    pthread_mutex_lock(&fl->lock);
    /* The key's fills of every database are on this chain. */
    pp = &fl->buckets[hash & fl->mask];
    while (*pp != NULL) {
        if ((*pp)->hash == hash && same_key(*pp, key, klen)) {
            overtake(pp); /* *pp is now the next one */
        } else {
            pp = &(*pp)->next;
        }
    }
    fl->invalidations += cache_remove(fl->cache, key, klen);
    pthread_mutex_unlock(&fl->lock);
}

/* Overtakes every fill of a key in scope (NULL: every fill), of every
 * database. Lock held. */
static void
mark_in(struct flights *fl, const struct key_scope *scope)
{
    size_t i;

    for (i = 0; i <= fl->mask; i++) {
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
    out->in_flight = fl->in_flight;
    pthread_mutex_unlock(&fl->lock);
}
