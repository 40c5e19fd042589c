/*
 * status: how a request the proxy made of Redis ended, as the upstream
 * layer reports it (serve/outcome.h turns it into what clients see).
 */
#ifndef RP_STATUS_H
#define RP_STATUS_H

#include "upstream/redis.h"

enum upstream_status {
    UPSTREAM_OK = 0,        /* every reply came */
    UPSTREAM_NIL = 1,       /* (a fill) the key does not exist */
    UPSTREAM_EREPLY = -1,   /* Redis answered an error */
    UPSTREAM_EDOWN = -2,    /* cannot connect, or the connection failed */
    UPSTREAM_ETIMEOUT = -3, /* no reply in time */
    UPSTREAM_ENOMEM = -4,   /* out of memory */
};

#define UPSTREAM_ERR_MAX REDIS_ERR_MAX

#endif
