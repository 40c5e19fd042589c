/*
 * idents: the Redis users clients act as through the proxy (ACL
 * passthrough: the proxy has no [server] password nor [users] of its
 * own, and a client authenticates with the credentials it would give
 * Redis). An identity is a (user, password) pair Redis accepted
 * (serve/verify.h checks it first); what it may do is Redis's ACL's
 * business, so everything it runs goes to Redis as that user:
 *
 *   - it has pipelines of its own to each node, a pool per node made on
 *     first use (upstream.h), whose connections log in with its
 *     credentials and redirect their tracking to the node's invalidation
 *     stream like the proxy's own;
 *   - it has a cache partition of its own: its number (1..IDENTS_MAX) is
 *     folded into the database of every entry it fills or reads
 *     (idents_partition: id << IDENTS_DB_BITS | db), so a value one user
 *     read is never a hit for another. Invalidations name keys without a
 *     database, so they reach every partition alike;
 *   - when Redis refuses it CLIENT TRACKING (the user may not run it), it
 *     caches nothing (ident_caches): a value never sits in the cache
 *     without Redis reporting its changes.
 *
 * Clients that never authenticate, or do so as the proxy's own [redis]
 * user, have no identity (NULL here): the proxy's pools and partition 0.
 *
 * Identities live until the proxy stops: their pools may be running on
 * any worker at any time, and IDENTS_MAX bounds them (a credential Redis
 * accepts once more past it is refused: idents_get). Each counts the
 * client connections holding it, for the metrics.
 *
 * Thread-safe: `lock` guards the lookup and the making of identities;
 * an identity's fields are written once before it is published (its
 * nodes through an atomic pointer each) and only read after.
 */
#ifndef RP_IDENTS_H
#define RP_IDENTS_H

#include <stddef.h>

#include "base/config.h"
#include "upstream/redis.h"
#include "upstream/upstream.h"

#define IDENTS_MAX 1023   /* identities at most (ids 1..IDENTS_MAX) */
#define IDENTS_DB_BITS 20 /* a partition: id << 20 | db, db < 2^20 */

struct idents;
struct ident;
struct nodes;
struct waiter;

/* Creates the registry for the nodes n; pipelines report through w. cfg,
 * n and w must outlive it. Returns NULL when out of memory. */
struct idents *idents_create(const struct config_ref *cfg, struct nodes *n,
                             struct waiter *w);

/* Frees every identity and its pools (which fail what they hold). After
 * every worker has stopped, before the nodes go. NULL is a no-op. */
void idents_destroy(struct idents *s);

/* The identity of user[0..ulen) with password pass[0..plen), made when
 * new (no connection yet), with a hold the caller gives back with
 * ident_drop. NULL when IDENTS_MAX exist already, a credential is empty
 * or too long (255 bytes), or out of memory. */
struct ident *idents_get(struct idents *s, const char *user, size_t ulen,
                         const char *pass, size_t plen);

/* 1 when user[0..ulen) (NULL: "default", as `AUTH <password>`) is the
 * user the proxy's own connections log in as ([redis] user, or
 * "default"): Redis grants the same to both, so such a client needs no
 * identity of its own. */
int idents_is_own(const struct idents *s, const char *user, size_t ulen);

/* One more hold / one less (NULL: no-op). */
void ident_hold(struct ident *id);
void ident_drop(struct ident *id);

/* Its number, 1..IDENTS_MAX, and its user name. */
unsigned ident_id(const struct ident *id);
const char *ident_user(const struct ident *id);

/* The cache partition of database db for id (NULL: the proxy's own: db
 * itself); -1 when db does not fit IDENTS_DB_BITS (nothing is cached
 * then). */
int idents_partition(const struct ident *id, int db);

/* id's pool for node i of nodes (its node table), and the target its
 * connections open (node i's, with the identity's credentials); made on
 * first use. id NULL (the proxy's own identity): node i's own pool and
 * target. NULL only when out of memory. */
struct upstream *ident_pool(struct nodes *nodes, struct ident *id, int i);
const struct redis_target *ident_target(struct nodes *nodes, struct ident *id,
                                        int i);

/* 0 once Redis refused CLIENT TRACKING to the identity's user on any
 * node: its reads are never cached. */
int ident_caches(const struct ident *id);

/* For the waiter's tick (arg: the registry): every identity's pipelines
 * (upstream_tick). */
void idents_tick_pipes(void *arg);

/* For the admin port. */
struct idents_stats {
    long known;  /* identities made */
    long in_use; /* ... held by a client connection now */
};
void idents_stats(struct idents *s, struct idents_stats *out);

#endif
