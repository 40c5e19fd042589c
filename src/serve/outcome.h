/*
 * outcome: how a request the proxy made of Redis ended, as one enum, and
 * the one place that turns it into what a client sees: an -ERR line on
 * the Redis protocol, a status on HTTP. Nothing else writes "redis
 * unavailable" or maps a failure to 503/504.
 */
#ifndef RP_OUTCOME_H
#define RP_OUTCOME_H

#include <stddef.h>

#include "upstream/upstream.h"

enum outcome {
    OUTCOME_OK = UPSTREAM_OK,
    OUTCOME_NIL = UPSTREAM_NIL,           /* (a lookup) no such key */
    OUTCOME_EREPLY = UPSTREAM_EREPLY,     /* Redis answered an error: the
                                             detail is its text */
    OUTCOME_EDOWN = UPSTREAM_EDOWN,       /* Redis cannot be reached */
    OUTCOME_ETIMEOUT = UPSTREAM_ETIMEOUT, /* no reply in time */
    OUTCOME_ENOMEM = UPSTREAM_ENOMEM,
    OUTCOME_ESESSIONS = -5,  /* max_sessions private connections in use */
    OUTCOME_ENOMAP = -6,     /* the cluster's slot map (or, with
                                sentinels, the master) is not known yet */
    OUTCOME_EREDIRECTS = -7, /* a cluster redirect loop */
    OUTCOME_EFAILOVER = -8,  /* the master changed (Sentinel failover)
                                under the command: the detail says what
                                became of it */
};

/* The RESP error line for a failure (o < 0) with its detail (Redis's
 * text for OUTCOME_EREPLY, the cause otherwise; may be NULL), CRLF
 * included, into out[0..cap). Returns its length (cut to fit). */
size_t outcome_resp(char *out, size_t cap, int o, const char *detail);

/* The HTTP status for a failure (o < 0; detail as above): 503 when Redis
 * cannot be reached (or answers LOADING, BUSY, MASTERDOWN, TRYAGAIN), 504
 * when it did not answer in time, 409 for WRONGTYPE, 502 for another
 * error reply, 500 out of memory. */
int outcome_http(int o, const char *detail);

/* The text of an HTTP failure's body (the detail, or what o means). */
const char *outcome_text(int o, const char *detail);

#endif
