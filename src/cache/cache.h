/*
 * cache: the in-process key/value cache: a chained hash table plus an exact
 * LRU list over at most `capacity` entries and at most `max_memory` bytes,
 * with one global TTL counted from when an entry was stored (reads never
 * extend it). Memory is counted honestly: each entry's whole allocation as
 * malloc reports it (header, key, value, rounding) plus malloc's own chunk
 * header; the LRU evicts until both limits hold.
 *
 * Design: an entry is ONE allocation (header + key + value) carrying its own
 * intrusive hash-chain and LRU links and a reference count. The cache holds
 * one reference; cache_get() hands the caller another, so the caller can
 * write the value to a socket after every lock is released, even if the
 * entry is evicted or replaced meanwhile. Every operation is O(1) (expected,
 * for the hash): get, put, evict and remove.
 *
 * Threads and locks (lock order: rwlock, then lru_lock):
 *   rwlock (pthread_rwlock_t)  guards the hash table (buckets, hnext), the
 *                              entry count and insert/remove/evict. Lookups
 *                              take it for reading, so hits run in parallel.
 *   lru_lock (pthread_mutex_t) guards the LRU links (lru_prev, lru_next)
 *                              while the rwlock is held for READING: a hit
 *                              moves its entry to the head under it, for a
 *                              few nanoseconds. Under the WRITE lock no reader
 *                              can exist, so the LRU is changed without it.
 *   refs (atomic)              no lock; the entry is freed at zero.
 * Key, value, hash and the store time never change after creation, so a
 * referenced entry is read without any lock; expiry may only be lowered
 * (cache_expire_all) and the annotation is set once, lazily (see the
 * struct), both through atomics. No I/O happens under either lock.
 */
#ifndef RP_CACHE_H
#define RP_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* One cached value: 52 bytes of header, then key and value (allocated as
 * offsetof(data) + klen + vlen: with 16-byte malloc chunks, a 16-byte key
 * and a 100-byte value fit 176 bytes). Fields are read-only after
 * cache_entry_create() except where noted. The key's hash is not kept:
 * the table recomputes it (seeded) when it must find an entry again. */
struct cache_entry {
    struct cache_entry *hnext;    /* hash chain; rwlock */
    struct cache_entry *lru_prev; /* toward the head (most recent); see top */
    struct cache_entry *lru_next; /* toward the tail (least recent) */
    _Atomic int64_t expires_ms;   /* clock value when it expires; 0 = never.
                                     The only mutable field: lowered (never
                                     raised) by cache_expire_all() */
    uint32_t klen;                /* key bytes (with the database prefix,
                                     and CACHE_KLEN_DB, when db != 0) */
    uint32_t vlen;                /* value bytes (Redis caps values at
                                     512 MB) */
    uint32_t stored_s;            /* clock value when created, in seconds */
    atomic_uint note;             /* annotation a protocol handler computes
                                     once from the value, set once, lazily
                                     (httpd: CACHE_NOTE_DONE, a flag and a
                                     30-bit hash for its ETag); 0 = not yet.
                                     Concurrent readers may both compute it:
                                     the same value */
    atomic_uint refs;             /* owners: the cache and each reader */
    char data[];                  /* key, then value; no terminators */
};

/* The bit of cache_entry.note that says it was computed. */
#define CACHE_NOTE_DONE 0x80000000u

/* The key and value bytes of an entry. An entry of a database other
 * than 0 keeps its database number in the first CACHE_DB_BYTES of data,
 * before the key (counted in klen, flagged by CACHE_KLEN_DB): database 0,
 * the common case, costs nothing. */
#define CACHE_KLEN_DB 0x80000000u /* klen's flag: data starts with the db */
#define CACHE_DB_BYTES 4

/* The key's length, without any database prefix. */
static inline size_t
cache_entry_klen(const struct cache_entry *e)
{
    return (e->klen & ~CACHE_KLEN_DB) -
           ((e->klen & CACHE_KLEN_DB) ? CACHE_DB_BYTES : 0);
}

static inline const char *
cache_entry_key(const struct cache_entry *e)
{
    return e->data + ((e->klen & CACHE_KLEN_DB) ? CACHE_DB_BYTES : 0);
}

static inline const char *
cache_entry_value(const struct cache_entry *e)
{
    return e->data + (e->klen & ~CACHE_KLEN_DB);
}

/* The entry's database. */
int cache_entry_db(const struct cache_entry *e);

/* A set of keys, by a predicate: has(arg, key, klen) is 1 for a key in
 * it (of any database). For the share of the keyspace one cluster node
 * owns. */
struct key_scope {
    int (*has)(void *arg, const char *key, size_t klen);
    void *arg;
};

/* A clock in milliseconds; injectable for tests. */
typedef int64_t (*cache_clock_fn)(void);

struct cache;

/*
 * Creates a cache holding at most capacity entries (0 = the cache is off:
 * every get misses, put stores nothing) that expire ttl_ms after being
 * stored (0 = never). An expired entry is kept for stale_ms more, for
 * cache_get_stale() only (0 = removed as soon as it is found expired).
 * clock may be NULL for the monotonic clock. Returns NULL on allocation
 * failure or a negative capacity.
 */
struct cache *cache_create(long capacity, int64_t ttl_ms, int64_t stale_ms,
                           cache_clock_fn clock);

/* Frees the cache and drops its references; entries still referenced by
 * readers live on until released. NULL is a no-op. No concurrent use. */
void cache_destroy(struct cache *c);

/*
 * Creates a detached entry (refs = 1, owned by the caller) of database db
 * (>= 0) holding copies of key and value, stamped with the cache's clock
 * and TTL. Returns NULL on allocation failure or a key or value over
 * 2^30 bytes. Thread-safe.
 */
struct cache_entry *cache_entry_create_db(struct cache *c, int db,
                                          const char *key, size_t klen,
                                          const char *val, size_t vlen);

/*
 * Looks key up in database db. On a fresh hit, returns the entry with a
 * reference the caller must drop with cache_release(), and makes it the
 * most recently used. Returns NULL when absent or expired (an expired
 * entry is removed). Thread-safe. The table hashes the key alone, so a
 * key's entries of every database share a chain (cache_remove finds them
 * all at once).
 */
struct cache_entry *cache_get_db(struct cache *c, int db, const char *key,
                                 size_t klen);

/* The same in database 0. */
static inline struct cache_entry *
cache_entry_create(struct cache *c, const char *key, size_t klen,
                   const char *val, size_t vlen)
{
    return cache_entry_create_db(c, 0, key, klen, val, vlen);
}

static inline struct cache_entry *
cache_get(struct cache *c, const char *key, size_t klen)
{
    return cache_get_db(c, 0, key, klen);
}

/*
 * Stores e (the cache takes its own reference; the caller keeps its own),
 * replacing any entry with the same key, and evicts least recently used
 * entries while over a limit: in batches, releasing the lock between them
 * so lookups go on; while cache_set_limits is evicting after a shrink,
 * one batch only (it does the rest). Returns 1, or 0 when the cache is
 * off (capacity 0) and nothing was stored. Thread-safe.
 */
int cache_put(struct cache *c, struct cache_entry *e);

/*
 * Looks key up for serving stale: returns an entry (with a reference) that
 * expired less than stale_ms ago, or NULL. Fresh entries are returned too.
 * Does not touch the LRU order. Thread-safe.
 */
struct cache_entry *cache_get_stale_db(struct cache *c, int db, const char *key,
                                       size_t klen);

static inline struct cache_entry *
cache_get_stale(struct cache *c, const char *key, size_t klen)
{
    return cache_get_stale_db(c, 0, key, klen);
}

/* Removes key from every database (an invalidation: Redis names keys
 * without their database). Returns how many entries were removed.
 * Thread-safe. */
int cache_remove(struct cache *c, const char *key, size_t klen);

/* Removes every entry. Returns how many. Thread-safe. */
long cache_clear(struct cache *c);

/*
 * Changes the limits on a running cache (SIGHUP): capacity (0 = off) and
 * max_memory (bytes, 0 = no byte limit) are applied by evicting least
 * recently used entries down to them, in batches, releasing the lock
 * between batches so lookups go on meanwhile; a larger capacity than the
 * table was sized for rehashes it once. ttl_ms applies to entries
 * stored from now on (an entry's expiry is stamped when it is stored);
 * stale_ms, the window after expiry, is read at each lookup, so it applies
 * to the entries already held too. Returns 0, or -1 when out of memory (the
 * old table is kept, the limits still change). Thread-safe.
 */
int cache_set_limits(struct cache *c, long capacity, int64_t max_memory,
                     int64_t ttl_ms, int64_t stale_ms);

/* The bytes an entry counts against max_memory. */
size_t cache_entry_footprint(const struct cache_entry *e);

/* Removes, or marks expired now (kept for stale-if-error), every entry
 * whose key is in scope (cache_expire_if: NULL = every entry). O(entries)
 * under the write lock; for rare events
 * (a cluster node's stream lost, its FLUSHALL, a slot moved). Return how
 * many. Thread-safe. */
long cache_remove_if(struct cache *c, const struct key_scope *scope);
long cache_expire_if(struct cache *c, const struct key_scope *scope);

/*
 * Marks every entry expired now (entries keep their bytes and remain
 * available to cache_get_stale() for stale_ms). O(entries) under the write
 * lock; for rare events such as losing the invalidation stream. Returns how
 * many entries were fresh. Thread-safe.
 */
long cache_expire_all(struct cache *c);

/* Drops a reference from cache_get(), cache_retain() or
 * cache_entry_create(); frees the entry at zero. NULL is a no-op.
 * Thread-safe. */
void cache_release(struct cache_entry *e);

/* Takes one more reference on e, which the caller already holds one of.
 * Thread-safe. */
static inline void
cache_retain(struct cache_entry *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

/* Makes a detached entry (not yet stored) expire within ms from now, if
 * that is sooner than the cache's TTL would. For a key Redis itself will
 * expire: the entry must not outlive it. */
void cache_entry_expire_within(const struct cache *c, struct cache_entry *e,
                               int64_t ms);

/* Milliseconds of TTL left for e at the cache's clock (-1 = never expires). */
int64_t cache_entry_ttl_left(const struct cache *c,
                             const struct cache_entry *e);

/* Whole seconds since e was stored, at the cache's clock. */
int64_t cache_entry_age_s(const struct cache *c, const struct cache_entry *e);

/* Counters since creation. Approximate while other threads run. */
struct cache_stats {
    long entries;          /* entries held now */
    long hits;             /* cache_get found a fresh entry */
    long misses;           /* cache_get found nothing or an expired entry */
    long evictions;        /* entries dropped to stay within capacity */
    long evictions_memory; /* ... within max_memory */
    long expirations;      /* expired entries removed */
    long stale_hits;       /* cache_get_stale returned an expired entry */
    long bytes;            /* key + value bytes held now */
    long memory;           /* bytes counted against max_memory now */
    long max_memory;       /* the byte limit; 0 = none */
    long capacity;         /* the entry limit */
};
void cache_stats(struct cache *c, struct cache_stats *out);

#endif
