/*
 * session: a private Redis connection for one RESP client, for commands
 * that give a connection state in Redis (MULTI, WATCH, SELECT, SUBSCRIBE
 * and friends, MONITOR, CLIENT, blocking commands). From its first such
 * command until it disconnects or sends RESET, every command the client
 * sends goes to that connection, GET included, so transactions, WATCH,
 * pub/sub and blocking behave exactly as in Redis. Nothing a session reads
 * is cached (its connection is not tracked), and it is never returned to
 * the pool: it is closed when the session ends.
 *
 * A session never holds a worker while nothing moves: its socket is
 * non-blocking and watched by the waiter under the client's conn
 * (waiter_watch), so a reply or a published message wakes a worker, which
 * relays it (session_pump) and parks the conn again. Bytes are relayed as
 * they come, reply by reply, under the client's back-pressure: while the
 * client has more than CONN_OUT_HIGH bytes unsent, nothing more is read
 * from Redis (Redis then buffers, as it would for a slow client of its
 * own).
 *
 * The session counts the replies it still owes the client (commands sent
 * minus replies relayed; pub/sub messages and (un)subscribe confirmations
 * are not replies to a counted command), so that the proxy's own answers
 * (AUTH) keep their place in the reply order, and knows when it is
 * subscribed or monitoring, so that a client waiting on Redis is not
 * closed as idle. A session belongs to its conn's owner; not thread-safe.
 */
#ifndef RP_SESSION_H
#define RP_SESSION_H

#include <stddef.h>

#include "net/conn.h"
#include "proto/resp.h"
#include "serve/rcmd.h"

struct proxy;
struct session;

/* How a command sent through a session is counted. */
enum session_kind {
    SESSION_CMD,     /* one reply owed */
    SESSION_PUBSUB,  /* (P|S)(UN)SUBSCRIBE: confirmations, not counted */
    SESSION_MONITOR, /* one reply, then a stream: the session holds on */
    SESSION_RESET,   /* one reply, +RESET, which ends the session */
    SESSION_SILENT,  /* one reply, not relayed: the proxy answered the
                        client already (a cluster MULTI bound late); only
                        before the session's other commands */
};

enum session_status {
    SESSION_OK = 0,
    SESSION_ENDED = 1,  /* +RESET was relayed: close the session */
    SESSION_FAILED = 2, /* it never opened; its commands were answered
                           with why: close the session, not the client */
    SESSION_EOF = -1,   /* Redis closed it: close the client after its
                           output (a QUIT, a CLIENT KILL, Redis gone) */
    SESSION_ERR = -2,   /* I/O or out of memory: close the client */
};

/*
 * Opens a private connection to node (nodes.h: 0 standalone; in a cluster
 * the node of the session's first key, to which the session stays pinned:
 * a redirect Redis answers it with reaches the client as an -ERR naming
 * the node, never as MOVED or ASK) for attached conn c, speaking proto (2
 * or 3) in database db, and watches it for c. Does not wait: the
 * connection opens (connect, AUTH, HELLO, SELECT) while commands queue;
 * if it cannot open, every command queued is answered with why and
 * session_pump says SESSION_FAILED. With ident (ACL passthrough: the
 * client's Redis identity, upstream/idents.h) the connection logs in with
 * its credentials; NULL: the proxy's own (and a spare may serve). Counts
 * against max_sessions. Returns the session, or NULL with a reason in
 * err[0..256): "max number of sessions reached" (nothing was sent to
 * Redis) or why it could not start. Once its connection is open it is in
 * the proxy's clientmap under client_id (the client's CLIENT ID) until it
 * closes.
 */
struct ident;
struct session *session_open(struct proxy *px, struct conn *c, int node,
                             int proto, int db, uint64_t client_id,
                             struct ident *ident, char *err);

/* Queues AUTH user pass (user NULL: the password alone) for Redis,
 * silently: the session's connection follows its client's new identity.
 * Returns 0 or -1 (no memory). */
int session_auth(struct session *s, const char *user, const char *pass);

/* Queues "NAME value" (HELLO 3, SELECT db) silently: a setting the
 * session's connection must have, following its client's. Returns 0 or
 * -1 (no memory). */
int session_send_setting(struct session *s, const char *name, int value);

/* Unwatches and closes s's connection and frees it; with replica reads,
 * what it wrote may be read from replicas once they have it (replicas.h).
 * NULL is a no-op. */
void session_close(struct proxy *px, struct session *s);

/* With replica reads: w (the record of a command about to be sent on s,
 * which may write) changes its keys, or, when its keys are not known,
 * anything: until s ends, reads of them stay on the master, and their
 * entries go now. */
void session_writes(struct proxy *px, struct session *s, const struct rcmd *w);

/* Queues cmd (parsed from buf) for Redis. Returns 0 or -1 (no memory). */
int session_send(struct session *s, const struct resp_command *cmd,
                 const char *buf, enum session_kind kind);

/* Moves bytes both ways without blocking: what is queued to Redis, and
 * Redis's replies to c's output while it is not full. Returns an enum
 * session_status. */
int session_pump(struct proxy *px, struct conn *c, struct session *s);

/* Replies still owed to the client. */
size_t session_owed(const struct session *s);

/* 1 when the client waits on Redis with nothing of its own to say (a
 * blocking command, a subscription, MONITOR): no idle timeout applies. */
int session_waiting(const struct session *s);

/* 1 after MONITOR. */
int session_monitoring(const struct session *s);

/* The node s is pinned to. */
int session_node(const struct session *s);

/* 1 between MULTI and EXEC/DISCARD, or while keys are watched. */
int session_in_transaction(const struct session *s);

/* 1 when s holds nothing for its client: no reply owed, nothing queued,
 * no subscription, MONITOR, transaction or WATCH, and no connection
 * settings (a CLIENT, HELLO, READONLY or READWRITE command was never sent
 * on it). On a cluster such a session is closed, so the client's next
 * command is routed by its key again. */
int session_idle(const struct session *s);

/* 1 when s's client is subscribed (RESP2 pub/sub context). */
int session_subscribed(const struct session *s);

/* 1 when a RESET was sent and its +RESET not yet relayed. */
int session_resetting(const struct session *s);

#endif
