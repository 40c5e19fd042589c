/*
 * verify: checks credentials a RESP client gave (AUTH, HELLO ... AUTH)
 * against Redis itself, for ACL passthrough (the proxy has no [server]
 * password nor [users]: see auth.h). Redis decides: a connection of its
 * own opens to the master (in a cluster, any master) and logs in with
 * them (upstream/rconn.h: the handshake is that AUTH alone), and Redis's
 * answer is the client's: +OK, or its own error text (WRONGPASS ...,
 * -ERR AUTH <password> called without any password configured ...),
 * relayed as it is.
 *
 * Nothing waits: the connection opens without blocking and its socket is
 * watched by the waiter under the client's conn (waiter_watch), so a
 * worker steps it (verify_step) when Redis answers, as a session's
 * connection is. The client's AUTH stays unparsed meanwhile, and the
 * commands after it too: they run as whoever the AUTH makes the client.
 * The check ends within connect_timeout (rconn's deadline).
 *
 * Credentials Redis accepted become the client's identity
 * (upstream/idents.h): none when they are the proxy's own user's.
 *
 * Belongs to one conn's owner; not thread-safe.
 */
#ifndef RP_VERIFY_H
#define RP_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"

struct proxy;
struct verify;
struct ident;

enum verify_result {
    VERIFY_PENDING = 0, /* Redis has not answered yet */
    VERIFY_OK,          /* accepted: verify_take_ident */
    VERIFY_REFUSED,     /* Redis refused them: verify_error is its text */
    VERIFY_FAILED,      /* Redis could not be asked: verify_error says why */
};

/*
 * Starts checking user[0..ulen) (NULL: none, `AUTH <password>`) and
 * pass[0..plen) for the attached conn c. Returns the check, or NULL with
 * why in err[0..256) when it cannot start (no master known, credentials
 * too long to send, out of memory): the client is answered that as a
 * failure to reach Redis.
 */
struct verify *verify_start(struct proxy *px, struct conn *c, const char *user,
                            size_t ulen, const char *pass, size_t plen,
                            char *err);

/* Goes on with v without blocking (call whenever c is served). Returns
 * its result: PENDING until Redis answered or the deadline passed. */
int verify_step(struct proxy *px, struct verify *v);

/* The result so far. */
int verify_result(const struct verify *v);

/* 1 when v checks exactly user[0..ulen) (NULL: none) and pass[0..plen). */
int verify_matches(const struct verify *v, const char *user, size_t ulen,
                   const char *pass, size_t plen);

/* REFUSED: Redis's error line without its '-' (e.g. "WRONGPASS invalid
 * username-password pair or user is disabled."); FAILED: the cause. */
const char *verify_error(const struct verify *v);

/* 1 when REFUSED with WRONGPASS: a wrong password (guard.h counts it). */
int verify_wrong_password(const struct verify *v);

/* OK: the identity, whose hold passes to the caller (NULL: the proxy's
 * own user; then the client needs none). Once. */
struct ident *verify_take_ident(struct verify *v);

/* The credentials v checks: the user name (NULL: none) and password.
 * Valid while v is. */
const char *verify_user(const struct verify *v);
const char *verify_password(const struct verify *v);

/* When v passes its deadline (connect_timeout from its start). */
int64_t verify_deadline(const struct verify *v);

/* Stops watching and closes v's connection, gives back an identity not
 * taken, forgets the credentials. NULL is a no-op. */
void verify_free(struct proxy *px, struct verify *v);

#endif
