/*
 * spares: a few connections to Redis opened ahead of need, so a session
 * (serve/session.h) starts on a ready connection instead of waiting for a
 * connect and its AUTH/SELECT. Without them a client's first blocking
 * command reaches Redis a connect later than the plain command it sent
 * just after on another connection, which reorders them; with them, a
 * session costs what any command does.
 *
 * A taken spare is replaced in the background by the keeper thread
 * (keeper.h), woken through spares_fd(). A spare that Redis closed while
 * it waited is noticed when taken and dropped. With sentinels the target
 * follows the master (spares_follow): spares to the old one are closed,
 * and a session takes only a spare to the node it opens on. Thread-safe:
 * one mutex guards the stack of ready connections and the target; no I/O
 * under it.
 */
#ifndef RP_SPARES_H
#define RP_SPARES_H

#include "upstream/rconn.h"
#include "upstream/redis.h"

struct spares;

/* Creates the holder for up to want connections to target (outliving it;
 * NULL: none until spares_follow names one); none is opened yet. Returns
 * NULL on failure. */
struct spares *spares_create(const struct redis_target *target, int want);

/* From now on spares go to target (outliving the holder): those ready for
 * another are closed, and the keeper is woken to open new ones. */
void spares_follow(struct spares *s, const struct redis_target *target);

/* Closes every spare and frees the holder. NULL is a no-op. */
void spares_destroy(struct spares *s);

/* Moves a ready connection to target (open, RESP2, the target's db, its
 * rconn.redis_id known) into
 * *out, which must be closed; the caller owns it then. Returns 0, or -1
 * when none is ready (*out stays closed). Wakes the refill either way. */
int spares_take(struct spares *s, const struct redis_target *target,
                struct rconn *out);

/* Readable when spares were taken: the keeper then calls spares_fill. */
int spares_fd(const struct spares *s);

/* Opens connections until want are ready; stops at the first failure
 * (Redis down: the next tick tries again). For the keeper thread. */
void spares_fill(struct spares *s);

/* Spares ready now. */
int spares_ready(struct spares *s);

#endif
