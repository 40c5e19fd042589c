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

enum fetch_status {
    FETCH_HIT = 0,     /* *hit holds the entry (a reference) */
    FETCH_PENDING = 1, /* r joined the key's fill; it completes r */
    FETCH_ENOMEM = -4,
};

/* 1 when r (its identity set) may look key up in the cache in database
 * db: the proxy's own identity, or one whose partition db fits and whose
 * reads Redis lets it track (idents.h). Else the GET goes to Redis as
 * any command does. */
int fetch_may_cache(const struct rcmd *r, int db);

/*
 * Looks key up in database db, in the cache partition of r's identity
 * (rcmd_partition; fetch_may_cache must be 1), and fills it through that
 * identity's pipelines. A fresh entry is a hit (*hit, a reference
 * the caller drops). Otherwise r (an RCMD_LOOKUP record holding the key
 * in its raw bytes, with its deadline set) joins the key's fill, leading
 * it when none is in flight; r is completed later with: status
 * OUTCOME_OK and r->entry (r->cache ACCOUNT_MISS, or ACCOUNT_STALE for an
 * entry within stale-if-error after Redis failed), OUTCOME_NIL, or a
 * failure. Counts hits and misses. Thread-safe.
 */
int fetch_lookup(struct proxy *px, struct rcmd *r, int db,
                 struct cache_entry **hit);

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
