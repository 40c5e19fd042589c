/*
 * fetch: the one lookup path shared by HTTP and RESP: the cache first; on
 * a miss, one fill per key and database at a time (flight.h) on the key's
 * node's pipeline, storing what Redis returned when nothing invalidated
 * it meanwhile; when Redis fails, an entry within its stale-if-error
 * window. Not found, errors and timeouts are never cached. Nobody waits:
 * a miss joins the key's fill with a lookup record, which the fill's
 * outcome completes. Knows nothing of either protocol: what a protocol
 * derives from a value (httpd's ETag and Content-Type) it computes itself,
 * once per entry (cache_entry.note).
 *
 * A fill sends PTTL and GET of the key in one go (each after ASKING when
 * an ASK redirect sent it to a slot being imported), so the entry expires
 * no later than the key does in Redis; it follows MOVED and ASK through
 * route_redirect (a value read after ASK is not cached: the slot is
 * between owners), and goes out once more on a fresh connection if its
 * connection is lost (a read: running it twice changes nothing).
 */
#ifndef RP_FETCH_H
#define RP_FETCH_H

#include <stddef.h>

#include "cache/cache.h"
#include "net/conn.h"
#include "serve/rcmd.h"

struct proxy;

/* The cache partition of database db for a client of identity ident
 * (NULL: the proxy's own; upstream/idents.h), or -1 when that identity's
 * reads are never cached (Redis does not let it track them). */
int fetch_partition(const struct ident *ident, int db);

/* A fresh entry of key in cache partition part (fetch_partition; a
 * reference the caller drops, counted as a hit), or NULL. Thread-safe. */
struct cache_entry *fetch_hit(struct proxy *px, int part, const char *key,
                              size_t klen);

/*
 * After fetch_hit found nothing: r (an RCMD_LOOKUP record holding the key
 * in its raw bytes, with its deadline set and its identity, already where
 * its completion is looked for: its conn's fifo or pending request) joins
 * the key's fill in r's partition of database db, leading it when none is
 * in flight (through the identity's pipelines), and is counted as a miss. r
 * may be completed before this returns, on this thread or another, with:
 * status OUTCOME_OK and r->entry (r->cache ACCOUNT_MISS, or ACCOUNT_STALE
 * for an entry within stale-if-error after Redis failed), OUTCOME_NIL,
 * or a failure. Returns 0, or -1 when out of memory (r not joined: still
 * the caller's). Thread-safe.
 */
int fetch_miss(struct proxy *px, struct rcmd *r, int db);

/* An entry of key (in the cache partition part: rcmd_partition) within
 * its stale-if-error window, or NULL: for a lookup that timed out. Counts
 * it. */
struct cache_entry *fetch_stale(struct proxy *px, int db, const char *key,
                                size_t klen);

/* Values up to this size are copied into a conn's output; larger ones are
 * queued by reference. */
#define FETCH_COPY_MAX 4096

/* Appends e's value to c's output: copied when small, else by reference
 * (on a reference of its own, dropped once the bytes are sent). The
 * caller keeps its own reference. Returns 0 or CONN_IO_ERR. */
int fetch_write_value(struct conn *c, struct cache_entry *e);

#endif
