/*
 * cache: chained hash table + intrusive LRU list; see cache.h for the lock
 * rules. The bucket array is sized once, at creation, to the next power of
 * two at or above capacity, so the load factor never exceeds 1 and nothing
 * rehashes under load. The hash is seeded per cache from the kernel's random
 * source, so clients cannot aim many keys at one chain.
 *
 * Databases: an entry is found by its database and key, but hashed by its
 * key alone, so the entries of one key in every database share a chain and
 * cache_remove() (an invalidation names no database) unlinks them all in
 * one walk. An entry of database d != 0 starts its data with d's
 * CACHE_DB_BYTES (native order) and flags klen with CACHE_KLEN_DB, so the
 * stored klen word alone tells a database-0 entry from any other: a lookup
 * compares that word, then the prefix (d != 0), then the key bytes. The
 * hash, key_scope predicates and the bytes counter see the key without
 * the prefix; the prefix is counted in the entry's footprint.
 */
#include "cache/cache.h"

#include <malloc.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/hash.h"
#include "base/util.h"

_Static_assert(offsetof(struct cache_entry, data) == 52,
               "entry header is 52 bytes");

struct cache {
    pthread_rwlock_t rwlock;
    pthread_mutex_t lru_lock;
    struct cache_entry **buckets; /* rwlock */
    uint64_t mask;                /* buckets - 1 */
    uint64_t seed;
    struct cache_entry *lru_head; /* most recent; see cache.h */
    struct cache_entry *lru_tail; /* least recent */
    long count;                   /* rwlock (write) */
    long bytes;                   /* key + value bytes; rwlock (write) */
    long memory;                  /* footprints; rwlock (write) */
    atomic_long capacity;         /* rwlock (write) to change */
    atomic_llong max_memory;      /* rwlock (write) to change; 0 = none */
    _Atomic int64_t ttl_ms;       /* for entries created from now on */
    _Atomic int64_t stale_ms;
    atomic_int shrinking; /* cache_set_limits calls evicting in batches */
    cache_clock_fn clock;
    atomic_long hits, misses, evictions, evictions_memory, expirations,
        stale_hits;
};

/* Entries evicted per batch when limits shrink, between lock releases. */
#define CACHE_EVICT_BATCH 1024

/* The largest key or value: klen's top bit is CACHE_KLEN_DB. */
#define CACHE_MAX_LEN ((size_t)1 << 30)

_Static_assert(CACHE_MAX_LEN + CACHE_DB_BYTES < CACHE_KLEN_DB,
               "a prefixed key's length leaves klen's flag bit clear");

/* The klen word of an entry of key length klen in database db. */
static uint32_t
klen_word(int db, size_t klen)
{
    return db == 0 ? (uint32_t)klen
                   : (uint32_t)(klen + CACHE_DB_BYTES) | CACHE_KLEN_DB;
}

int
cache_entry_db(const struct cache_entry *e)
{
    uint32_t db = 0;

    if (e->klen & CACHE_KLEN_DB) {
        memcpy(&db, e->data, sizeof(db));
    }
    return (int)db;
}

/* Whether e is the entry of key in database db (kw: klen_word(db, klen)). */
static int
entry_is(const struct cache_entry *e, uint32_t kw, int db, const char *key,
         size_t klen)
{
    uint32_t d = (uint32_t)db;

    return e->klen == kw &&
           (db == 0 || memcmp(e->data, &d, CACHE_DB_BYTES) == 0) &&
           memcmp(cache_entry_key(e), key, klen) == 0;
}

size_t
cache_entry_footprint(const struct cache_entry *e)
{
    /* The allocation as malloc sizes it, plus glibc's chunk header. */
    return malloc_usable_size((void *)e) + sizeof(size_t);
}

static long
capacity_of(const struct cache *c)
{
    return atomic_load_explicit(&c->capacity, memory_order_relaxed);
}

static int64_t
stale_of(const struct cache *c)
{
    return atomic_load_explicit(&c->stale_ms, memory_order_relaxed);
}

static uint32_t
cache_hash(uint64_t seed, const char *p, size_t n)
{
    return (uint32_t)hash_bytes(seed, p, n);
}

struct cache *
cache_create(long capacity, int64_t ttl_ms, int64_t stale_ms,
             cache_clock_fn clock)
{
    struct cache *c;
    uint64_t nb = 16;

    if (capacity < 0) {
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    while (nb < (uint64_t)capacity) {
        nb <<= 1;
    }
    c->buckets = calloc(nb, sizeof(*c->buckets));
    if (c->buckets == NULL) {
        goto fail_buckets;
    }
    if (getrandom(&c->seed, sizeof(c->seed), 0) != sizeof(c->seed)) {
        c->seed = (uint64_t)util_now_us() * 0x9e3779b97f4a7c15ULL;
    }
    if (pthread_rwlock_init(&c->rwlock, NULL) != 0) {
        goto fail_rwlock;
    }
    if (pthread_mutex_init(&c->lru_lock, NULL) != 0) {
        goto fail_mutex;
    }
    c->mask = nb - 1;
    atomic_init(&c->capacity, capacity);
    atomic_init(&c->max_memory, 0);
    atomic_init(&c->ttl_ms, ttl_ms);
    atomic_init(&c->stale_ms, stale_ms);
    c->clock = clock != NULL ? clock : util_now_ms;
    return c;

fail_mutex:
    pthread_rwlock_destroy(&c->rwlock);
fail_rwlock:
    free(c->buckets);
fail_buckets:
    free(c);
    return NULL;
}

void
cache_destroy(struct cache *c)
{
    struct cache_entry *e, *next;

    if (c == NULL) {
        return;
    }
    for (e = c->lru_head; e != NULL; e = next) {
        next = e->lru_next;
        cache_release(e);
    }
    pthread_mutex_destroy(&c->lru_lock);
    pthread_rwlock_destroy(&c->rwlock);
    free(c->buckets);
    free(c);
}

struct cache_entry *
cache_entry_create_db(struct cache *c, int db, const char *key, size_t klen,
                      const char *val, size_t vlen)
{
    struct cache_entry *e;
    size_t pre = db != 0 ? CACHE_DB_BYTES : 0;
    uint32_t d = (uint32_t)db;
    int64_t now, ttl;

    if (db < 0 || klen > CACHE_MAX_LEN || vlen > CACHE_MAX_LEN) {
        return NULL;
    }
    e = malloc(offsetof(struct cache_entry, data) + pre + klen + vlen);
    if (e == NULL) {
        return NULL;
    }
    e->hnext = e->lru_prev = e->lru_next = NULL;
    atomic_init(&e->refs, 1);
    e->klen = klen_word(db, klen);
    atomic_init(&e->note, 0);
    e->vlen = (uint32_t)vlen;
    now = c->clock();
    e->stored_s = (uint32_t)(now / 1000);
    ttl = atomic_load_explicit(&c->ttl_ms, memory_order_relaxed);
    atomic_init(&e->expires_ms, ttl > 0 ? now + ttl : 0);
    memcpy(e->data, &d, pre);
    memcpy(e->data + pre, key, klen);
    if (vlen > 0) {
        memcpy(e->data + pre + klen, val, vlen);
    }
    return e;
}

void
cache_release(struct cache_entry *e)
{
    if (e != NULL &&
        atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        free(e);
    }
}

static int64_t
entry_expires(const struct cache_entry *e)
{
    return atomic_load_explicit(&e->expires_ms, memory_order_relaxed);
}

static int
entry_expired(const struct cache_entry *e, int64_t now)
{
    int64_t exp = entry_expires(e);

    return exp != 0 && now >= exp;
}

/* Expired longer than the stale window: of no use to anyone. */
static int
entry_dead(const struct cache *c, const struct cache_entry *e, int64_t now)
{
    int64_t exp = entry_expires(e);

    return exp != 0 && now >= exp + stale_of(c);
}

int64_t
cache_entry_age_s(const struct cache *c, const struct cache_entry *e)
{
    int64_t age = c->clock() / 1000 - (int64_t)e->stored_s;

    return age > 0 ? age : 0;
}

void
cache_entry_expire_within(const struct cache *c, struct cache_entry *e,
                          int64_t ms)
{
    int64_t at = c->clock() + ms, exp = entry_expires(e);

    if (exp == 0 || at < exp) {
        /* 0 would mean "never": an injected clock may read 0. */
        atomic_store_explicit(&e->expires_ms, at != 0 ? at : -1,
                              memory_order_relaxed);
    }
}

int64_t
cache_entry_ttl_left(const struct cache *c, const struct cache_entry *e)
{
    int64_t left;

    if (entry_expires(e) == 0) {
        return -1;
    }
    left = entry_expires(e) - c->clock();
    return left > 0 ? left : 0;
}

/* Returns the link that points at the entry for key in database db (or
 * the chain's end). hash is the key's. */
static struct cache_entry **
find_slot(struct cache *c, uint32_t hash, int db, const char *key, size_t klen)
{
    struct cache_entry **pp = &c->buckets[hash & c->mask];
    uint32_t kw = klen_word(db, klen);

    while (*pp != NULL && !entry_is(*pp, kw, db, key, klen)) {
        pp = &(*pp)->hnext;
    }
    return pp;
}

/* The entry's key hash (not stored: see cache.h). */
static uint32_t
entry_hash(const struct cache *c, const struct cache_entry *e)
{
    return cache_hash(c->seed, cache_entry_key(e), cache_entry_klen(e));
}

/* Returns the link that points at e itself, or the chain's end when e is
 * not in the table. */
static struct cache_entry **
find_entry(struct cache *c, const struct cache_entry *e)
{
    struct cache_entry **pp = &c->buckets[entry_hash(c, e) & c->mask];

    while (*pp != NULL && *pp != e) {
        pp = &(*pp)->hnext;
    }
    return pp;
}

static void
lru_unlink(struct cache *c, struct cache_entry *e)
{
    if (e->lru_prev != NULL) {
        e->lru_prev->lru_next = e->lru_next;
    } else {
        c->lru_head = e->lru_next;
    }
    if (e->lru_next != NULL) {
        e->lru_next->lru_prev = e->lru_prev;
    } else {
        c->lru_tail = e->lru_prev;
    }
    e->lru_prev = e->lru_next = NULL;
}

static void
lru_push_head(struct cache *c, struct cache_entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head != NULL) {
        c->lru_head->lru_prev = e;
    } else {
        c->lru_tail = e;
    }
    c->lru_head = e;
}

/* Unlinks the entry *pp points at from the table and the LRU, and drops the
 * cache's reference. Write lock held. */
static void
unlink_entry(struct cache *c, struct cache_entry **pp)
{
    struct cache_entry *e = *pp;

    *pp = e->hnext;
    e->hnext = NULL;
    lru_unlink(c, e);
    c->count--;
    c->bytes -= (long)cache_entry_klen(e) + (long)e->vlen;
    c->memory -= (long)cache_entry_footprint(e);
    cache_release(e);
}

/* Removes the entry e, expired past its stale window, if it is still the one
 * stored for its key. */
static void
remove_expired(struct cache *c, struct cache_entry *e)
{
    struct cache_entry **pp;

    pthread_rwlock_wrlock(&c->rwlock);
    pp = find_entry(c, e);
    if (*pp == e && entry_dead(c, e, c->clock())) {
        unlink_entry(c, pp);
        atomic_fetch_add_explicit(&c->expirations, 1, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&c->rwlock);
}

struct cache_entry *
cache_get_db(struct cache *c, int db, const char *key, size_t klen)
{
    struct cache_entry *e;
    uint32_t hash;
    int expired = 0;

    if (capacity_of(c) == 0) {
        atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
        return NULL;
    }
    hash = cache_hash(c->seed, key, klen);
    pthread_rwlock_rdlock(&c->rwlock);
    e = *find_slot(c, hash, db, key, klen);
    if (e != NULL) {
        int64_t now = c->clock();

        if (entry_expired(e, now)) {
            expired = entry_dead(c, e, now) ? 2 : 1;
        } else {
            pthread_mutex_lock(&c->lru_lock);
            if (c->lru_head != e) {
                lru_unlink(c, e);
                lru_push_head(c, e);
            }
            pthread_mutex_unlock(&c->lru_lock);
        }
        /* Also pins an expired entry until remove_expired() compares it. */
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&c->rwlock);

    if (e == NULL || expired) {
        if (expired == 2) {
            remove_expired(c, e);
        }
        if (expired) {
            cache_release(e);
        }
        atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
        return NULL;
    }
    atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed);
    return e;
}

/* Evicts least recently used entries while over a limit, at most max of
 * them. Write lock held. Returns 1 when still over a limit. */
static int
evict_over(struct cache *c, long max)
{
    long cap = capacity_of(c);
    int64_t mem = atomic_load_explicit(&c->max_memory, memory_order_relaxed);

    while (c->lru_tail != NULL && max-- > 0) {
        struct cache_entry *victim = c->lru_tail;
        int for_count = c->count > cap;

        if (!for_count && (mem == 0 || c->memory <= mem)) {
            return 0;
        }
        unlink_entry(c, find_entry(c, victim));
        atomic_fetch_add_explicit(for_count ? &c->evictions
                                            : &c->evictions_memory,
                                  1, memory_order_relaxed);
    }
    return c->lru_tail != NULL &&
           (c->count > cap || (mem != 0 && c->memory > mem));
}

int
cache_put(struct cache *c, struct cache_entry *e)
{
    struct cache_entry **pp;
    uint32_t hash = entry_hash(c, e);
    long foot = (long)cache_entry_footprint(e);
    int64_t mem = atomic_load_explicit(&c->max_memory, memory_order_relaxed);
    int more;

    if (capacity_of(c) == 0 || (mem != 0 && foot > mem)) {
        return 0;
    }
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    pthread_rwlock_wrlock(&c->rwlock);
    pp = find_slot(c, hash, cache_entry_db(e), cache_entry_key(e),
                   cache_entry_klen(e));
    if (*pp != NULL) {
        unlink_entry(c, pp);
    }
    e->hnext = c->buckets[hash & c->mask];
    c->buckets[hash & c->mask] = e;
    lru_push_head(c, e);
    c->count++;
    c->bytes += (long)cache_entry_klen(e) + (long)e->vlen;
    c->memory += foot;
    /* One insert is over a limit by at most one entry's worth, though
     * that can be many small entries (a large value under max_memory):
     * evict in batches, letting lookups in between, until within both.
     * Right after the limits shrank everything over them is left: then
     * cache_set_limits is evicting it batch by batch, and a fill helps
     * with one batch instead of waiting for the whole of it. (Its own
     * entry's worth over the memory limit may be left for the next put
     * if the shrink ended meanwhile.) */
    more = evict_over(c, CACHE_EVICT_BATCH);
    pthread_rwlock_unlock(&c->rwlock);
    while (more && atomic_load(&c->shrinking) == 0) {
        pthread_rwlock_wrlock(&c->rwlock);
        more = evict_over(c, CACHE_EVICT_BATCH);
        pthread_rwlock_unlock(&c->rwlock);
    }
    return 1;
}

/* Moves every entry into a table of nb buckets. Write lock held. */
static int
rehash(struct cache *c, uint64_t nb)
{
    struct cache_entry **nbk = calloc(nb, sizeof(*nbk)), *e;

    if (nbk == NULL) {
        return -1;
    }
    for (e = c->lru_head; e != NULL; e = e->lru_next) {
        uint32_t h = entry_hash(c, e);

        e->hnext = nbk[h & (nb - 1)];
        nbk[h & (nb - 1)] = e;
    }
    free(c->buckets);
    c->buckets = nbk;
    c->mask = nb - 1;
    return 0;
}

int
cache_set_limits(struct cache *c, long capacity, int64_t max_memory,
                 int64_t ttl_ms, int64_t stale_ms)
{
    uint64_t nb = c->mask + 1;
    int rc = 0, more;

    atomic_store(&c->ttl_ms, ttl_ms);
    atomic_store(&c->stale_ms, stale_ms);
    pthread_rwlock_wrlock(&c->rwlock);
    atomic_store(&c->capacity, capacity);
    atomic_store(&c->max_memory, max_memory);
    if ((uint64_t)capacity > nb * 2) {
        while (nb < (uint64_t)capacity) {
            nb <<= 1;
        }
        rc = rehash(c, nb);
    }
    atomic_fetch_add(&c->shrinking, 1);
    more = evict_over(c, CACHE_EVICT_BATCH);
    pthread_rwlock_unlock(&c->rwlock);
    while (more) {
        /* Lookups and fills run between batches. */
        pthread_rwlock_wrlock(&c->rwlock);
        more = evict_over(c, CACHE_EVICT_BATCH);
        pthread_rwlock_unlock(&c->rwlock);
    }
    atomic_fetch_sub(&c->shrinking, 1);
    return rc;
}

struct cache_entry *
cache_get_stale_db(struct cache *c, int db, const char *key, size_t klen)
{
    struct cache_entry *e;
    int64_t now;

    if (capacity_of(c) == 0) {
        return NULL;
    }
    pthread_rwlock_rdlock(&c->rwlock);
    e = *find_slot(c, cache_hash(c->seed, key, klen), db, key, klen);
    now = c->clock();
    if (e != NULL && !entry_dead(c, e, now)) {
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        if (entry_expired(e, now)) {
            atomic_fetch_add_explicit(&c->stale_hits, 1, memory_order_relaxed);
        }
    } else {
        e = NULL;
    }
    pthread_rwlock_unlock(&c->rwlock);
    return e;
}

long
cache_clear(struct cache *c)
{
    long n;

    pthread_rwlock_wrlock(&c->rwlock);
    n = c->count;
    while (c->lru_head != NULL) {
        struct cache_entry *e = c->lru_head;
        unlink_entry(c, find_entry(c, e));
    }
    pthread_rwlock_unlock(&c->rwlock);
    return n;
}

long
cache_expire_all(struct cache *c)
{
    return cache_expire_if(c, NULL);
}

long
cache_remove_if(struct cache *c, const struct key_scope *scope)
{
    struct cache_entry *e, *next;
    long n = 0;

    pthread_rwlock_wrlock(&c->rwlock);
    for (e = c->lru_head; e != NULL; e = next) {
        next = e->lru_next;
        if (scope->has(scope->arg, cache_entry_key(e), cache_entry_klen(e))) {
            unlink_entry(c, find_entry(c, e));
            n++;
        }
    }
    pthread_rwlock_unlock(&c->rwlock);
    return n;
}

long
cache_expire_if(struct cache *c, const struct key_scope *scope)
{
    struct cache_entry *e;
    long n = 0;
    int64_t now;

    pthread_rwlock_wrlock(&c->rwlock);
    now = c->clock();
    for (e = c->lru_head; e != NULL; e = e->lru_next) {
        if (!entry_expired(e, now) &&
            (scope == NULL ||
             scope->has(scope->arg, cache_entry_key(e), cache_entry_klen(e)))) {
            /* 0 would mean "never": an injected clock may read 0. */
            atomic_store_explicit(&e->expires_ms, now != 0 ? now : -1,
                                  memory_order_relaxed);
            n++;
        }
    }
    pthread_rwlock_unlock(&c->rwlock);
    return n;
}

int
cache_remove(struct cache *c, const char *key, size_t klen)
{
    struct cache_entry **pp;
    uint32_t hash;
    int removed = 0;

    if (capacity_of(c) == 0) {
        return 0;
    }
    hash = cache_hash(c->seed, key, klen);
    pthread_rwlock_wrlock(&c->rwlock);
    /* Every database's entry of key is on this chain. */
    pp = &c->buckets[hash & c->mask];
    while (*pp != NULL) {
        struct cache_entry *e = *pp;

        if (cache_entry_klen(e) == klen &&
            memcmp(cache_entry_key(e), key, klen) == 0) {
            unlink_entry(c, pp); /* *pp is now the next one */
            removed++;
        } else {
            pp = &e->hnext;
        }
    }
    pthread_rwlock_unlock(&c->rwlock);
    return removed;
}

void
cache_stats(struct cache *c, struct cache_stats *out)
{
    pthread_rwlock_rdlock(&c->rwlock);
    out->entries = c->count;
    out->bytes = c->bytes;
    out->memory = c->memory;
    pthread_rwlock_unlock(&c->rwlock);
    out->capacity = capacity_of(c);
    out->max_memory =
        (long)atomic_load_explicit(&c->max_memory, memory_order_relaxed);
    out->evictions_memory =
        atomic_load_explicit(&c->evictions_memory, memory_order_relaxed);
    out->hits = atomic_load_explicit(&c->hits, memory_order_relaxed);
    out->misses = atomic_load_explicit(&c->misses, memory_order_relaxed);
    out->evictions = atomic_load_explicit(&c->evictions, memory_order_relaxed);
    out->expirations =
        atomic_load_explicit(&c->expirations, memory_order_relaxed);
    out->stale_hits =
        atomic_load_explicit(&c->stale_hits, memory_order_relaxed);
}
