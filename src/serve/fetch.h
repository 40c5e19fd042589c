/*
 * fetch: the one lookup path shared by HTTP and RESP: the cache first; on a
 * miss, one fill per key at a time (flight.h) through the Redis pool,
 * storing what Redis returned when nothing invalidated it meanwhile; when
 * Redis fails or times out, an entry within its stale-if-error window.
 * Not found, errors and timeouts are never cached. Knows nothing of either
 * protocol: what a protocol derives from a value (httpd's ETag and
 * Content-Type) it computes itself, once per entry (cache_entry.notes).
 */
#ifndef RP_FETCH_H
#define RP_FETCH_H

#include <stddef.h>

#include "cache/cache.h"
#include "cache/flight.h"
#include "net/conn.h"

struct proxy;

enum fetch_status {
    FETCH_HIT = 0,  /* entry from the cache */
    FETCH_MISS = 1, /* entry fetched from Redis (and cached) */
    FETCH_NOTFOUND = 2,
    FETCH_STALE = 3,     /* Redis failed; entry expired less than
                            stale_if_error ago */
    FETCH_EREPLY = -1,   /* Redis answered an error; err has its text */
    FETCH_EDOWN = -2,    /* Redis unreachable; err says why */
    FETCH_ETIMEOUT = -3, /* Redis did not answer in time; err says why */
    FETCH_ENOMEM = -4,
};

struct fetch_result {
    struct cache_entry *entry; /* on HIT/MISS/STALE: a reference the caller
                                  drops with cache_release() */
    char err[FLIGHT_ERR_MAX];
};

/* Looks key up; see enum fetch_status. Thread-safe. */
int fetch_get(struct proxy *px, const char *key, size_t klen,
              struct fetch_result *out);

/* Values up to this size are copied into a conn's output; larger ones are
 * queued by reference. */
#define FETCH_COPY_MAX 4096

/* Appends e's value to c's output: copied when small, else by reference
 * (on a reference of its own, dropped once the bytes are sent). The
 * caller keeps its own reference. Returns 0 or CONN_IO_ERR. */
int fetch_write_value(struct conn *c, struct cache_entry *e);

#endif
