/*
 * clientmap: which RESP client, by the id the proxy hands out (CLIENT
 * ID), holds a session, and where: the session's node and Redis's own id
 * for the session's connection. CLIENT UNBLOCK and CLIENT KILL ID name
 * clients by the ids a client can learn, the proxy's; Redis knows only its
 * own, so respd translates through this map (a client without a session
 * has no connection of its own in Redis: it is neither blocked nor
 * killable there).
 *
 * A session enters the map once its connection is open (its Redis id is
 * known then: rconn_setup.client_id) and leaves it when it closes.
 * Thread-safe: one mutex, a leaf (docs/ARCHITECTURE.md), held for a few
 * instructions.
 */
#ifndef RP_CLIENTMAP_H
#define RP_CLIENTMAP_H

#include <stdint.h>

struct clientmap;

/* An empty map. Returns NULL when out of memory. */
struct clientmap *clientmap_create(void);

/* Frees m (entries left included). NULL is a no-op. */
void clientmap_destroy(struct clientmap *m);

/* Client id's session is on node, as Redis's client redis_id (replacing
 * what id had). Returns 0, or -1 when out of memory (id is then not
 * found: CLIENT UNBLOCK answers that it was not blocked). */
int clientmap_set(struct clientmap *m, uint64_t id, int node,
                  long long redis_id);

/* Client id has no session any more. */
void clientmap_forget(struct clientmap *m, uint64_t id);

/* 1 with *node and *redis_id set when client id has a session, else 0. */
int clientmap_find(struct clientmap *m, uint64_t id, int *node,
                   long long *redis_id);

#endif
