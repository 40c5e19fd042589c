/*
 * auth: client authentication by the proxy itself, the same for every
 * listener: RESP's AUTH and HELLO ... AUTH (respd), HTTP's
 * "Authorization: Bearer <password>" and Basic (the data port and the
 * admin port). Two kinds of credentials, either or both configured:
 *
 *   - [server] password: one shared password. `AUTH <password>`, Bearer,
 *     and a user name with it (`AUTH <user> <password>`, Basic) for any
 *     user name that is not one of [users]. It lets a client do anything.
 *   - [users]: client users, each with a password hash and a permission,
 *     read or write (config.h, base/pwhash.h). `AUTH <user> <password>`,
 *     HELLO ... AUTH and Basic check that user's password; without a user
 *     name (`AUTH <password>`, Bearer) the user "default" when it is
 *     configured and there is no [server] password, as Redis reads
 *     `AUTH <password>` as the default user's.
 *
 * With neither, the proxy does not authenticate clients: RESP's AUTH is
 * Redis's business (ACL passthrough, serve/verify.h) and HTTP needs no
 * credentials.
 *
 * Passwords are compared in constant time: [server] password over the
 * longest password the configuration allows, without branching on its
 * bytes; a user's through its hash (pwhash_check), and a name that is no
 * user costs a hash too. A failed attempt is counted in
 * auth_failures_total{listener} (and {listener,user} when it named a user
 * and [users] is set: the user's name if configured, else "unknown", so
 * the labels stay bounded) and logged, never with what was sent, at most
 * one line per AUTH_LOG_INTERVAL_MS and listener, saying how many failures
 * it stands for (count=N: those since the last line). Thread-safe.
 */
#ifndef RP_AUTH_H
#define RP_AUTH_H

#include <stddef.h>

#include "base/config.h"
#include "base/metrics.h"
#include "proto/http.h"

struct proxy;

/* What credentials that passed let a client do. */
enum auth_perm {
    AUTH_DENIED = -1,               /* they did not pass */
    AUTH_READ = CONFIG_PERM_READ,   /* the cache and read-only commands */
    AUTH_WRITE = CONFIG_PERM_WRITE, /* everything */
};

/* 1 when clients must authenticate with the proxy: [server] password or
 * [users] is set. 0: ACL passthrough (RESP) and open HTTP. */
int auth_required(const struct proxy *px);

/* 1 when p[0..len) is [server] password (set). Constant time. */
int auth_password_ok(const struct proxy *px, const char *p, size_t len);

/*
 * Checks credentials a client gave: user[0..ulen) (NULL: no user name)
 * and pass[0..plen), as described at the top. Returns AUTH_READ or
 * AUTH_WRITE, or AUTH_DENIED. Counts nothing (auth_failed does).
 */
int auth_check(const struct proxy *px, const char *user, size_t ulen,
               const char *pass, size_t plen);

/*
 * The permission req's Authorization header grants: Bearer <password>, or
 * Basic <base64 of user:password> (a user of [users], else any name with
 * [server] password); AUTH_WRITE when no credentials are required. The
 * user name Basic carried, if any, is in *user[0..*ulen) (into buf, of
 * AUTH_BASIC_MAX bytes), for auth_failed; *user NULL otherwise.
 */
#define AUTH_BASIC_MAX 1024 /* decoded "user:password" bytes at most */
int auth_http(const struct proxy *px, const struct http_request *req, char *buf,
              const char **user, size_t *ulen);

#define AUTH_LOG_INTERVAL_MS                                                   \
    10000 /* between "authentication failed"                                   \
             lines of one listener */

/* Counts and logs (rate-limited) one failed attempt on listener that
 * named user[0..ulen) (NULL: no user name). */
void auth_failed(struct proxy *px, enum metrics_listener listener,
                 const char *user, size_t ulen);

/* The challenge an HTTP 401 carries. */
#define AUTH_HTTP_CHALLENGE "WWW-Authenticate: Basic realm=\"redis-proxy\"\r\n"

#endif
