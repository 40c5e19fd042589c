/*
 * auth: client authentication against [server] password, the same for
 * every listener: RESP's AUTH and HELLO ... AUTH (respd), HTTP's
 * "Authorization: Bearer <password>" or Basic with any user name (the data
 * port and the admin port). Passwords are compared in constant time (the
 * loop always covers the longest password the configuration allows, and
 * does not branch on the bytes). A failed attempt is counted in
 * auth_failures_total{listener} and logged, never with what was sent, at
 * most one line per AUTH_LOG_INTERVAL_MS and listener, saying how many
 * failures it stands for (count=N: those since the last line).
 * Thread-safe.
 */
#ifndef RP_AUTH_H
#define RP_AUTH_H

#include <stddef.h>

#include "base/metrics.h"
#include "proto/http.h"

struct proxy;

/* 1 when clients must authenticate ([server] password is set). */
int auth_required(const struct proxy *px);

/* 1 when p[0..len) is the password. Constant time. */
int auth_password_ok(const struct proxy *px, const char *p, size_t len);

/* 1 when req carries the password in its Authorization header (Bearer, or
 * Basic with any user name), or no password is required. */
int auth_http_ok(const struct proxy *px, const struct http_request *req);

#define AUTH_LOG_INTERVAL_MS                                                   \
    10000 /* between "authentication failed"                                   \
             lines of one listener */

/* Counts and logs (rate-limited) one failed attempt on listener. */
void auth_failed(struct proxy *px, enum metrics_listener listener);

/* The challenge an HTTP 401 carries. */
#define AUTH_HTTP_CHALLENGE "WWW-Authenticate: Basic realm=\"redis-proxy\"\r\n"

#endif
