/*
 * guard: what the RESP port allows a client that has not authenticated,
 * and what it does with one that misbehaves, in one place apart from the
 * command handling (respd), so that any code that parses and runs
 * commands calls the same few hooks:
 *
 *   - guard_let_in: may this conn run commands now? It may once it has
 *     authenticated, and whenever the proxy does not authenticate clients
 *     (no password nor [users]: a reload may have removed them since the
 *     conn opened), as Redis decides per command.
 *   - guard_parser: before that, Redis's small limits on what is buffered
 *     (10 arguments of 16 KiB: resp_parser.preauth), so unauthenticated
 *     clients cannot make the proxy hold max_request bytes each.
 *   - guard_http_on_resp: a command named POST or "Host:" is a web page's
 *     request read as commands (cross-protocol scripting): the client is
 *     closed at once without a reply, as Redis does, counted, and logged
 *     once a minute per source address.
 *   - guard_wrong_password: each wrong password is counted and logged
 *     (auth_failed: rate-limited), and the GUARD_AUTH_TRIES-th on one
 *     connection closes it, so a guesser pays a new connection every few
 *     tries. Whoever said the password was wrong: the proxy, or Redis
 *     (WRONGPASS, with ACL passthrough).
 *
 * Thread-safe: per-conn state lives in struct guard (owned with its
 * conn); the rest is atomics in struct proxy.
 */
#ifndef RP_GUARD_H
#define RP_GUARD_H

#include "net/conn.h"
#include "proto/resp.h"

#define GUARD_AUTH_TRIES 3 /* wrong passwords on one conn, then closed */
#define GUARD_HTTP_LOG_INTERVAL 60 /* seconds between lines per source */

struct proxy;

/* Per-conn state, zeroed with the protocol's conn state. */
struct guard {
    unsigned wrong_passwords; /* on this conn so far */
};

/* 1 when a conn may run commands: it authenticated (authed), or no
 * password is required now. */
int guard_let_in(const struct proxy *px, int authed);

/* Sets ps's limits for the command it parses next: the pre-auth ones
 * unless guard_let_in(px, authed). Call before each resp_parser_feed. */
void guard_parser(const struct proxy *px, struct resp_parser *ps, int authed);

/* When cmd is an HTTP request line or header (resp_is_http): closes c at
 * once (conn_abort: no reply, its output dropped), counts it and logs it
 * (once per source per GUARD_HTTP_LOG_INTERVAL), and returns 1; the caller
 * stops serving c (its serve returns -1). Else returns 0. */
int guard_http_on_resp(struct proxy *px, struct conn *c,
                       const struct resp_command *cmd);

/* Counts and logs one wrong password on a RESP conn (auth_failed), given
 * with the user name user[0..ulen) (NULL: none). Returns 1 when it was the
 * GUARD_AUTH_TRIES-th on that conn (counted as a close): the caller sends
 * the refusal and closes the conn. */
int guard_wrong_password(struct proxy *px, struct guard *g, const char *user,
                         size_t ulen);

#endif
