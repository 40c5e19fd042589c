/*
 * account: what every answered request leaves behind, the same for HTTP,
 * RESP and the admin port: one count in requests_total by listener and
 * status class, one latency sample (hit or miss histogram) when the cache
 * was consulted, and, with [log] access = on, one access-log line (data
 * ports only: admin scrapes are not logged). Also the
 * one classification of Redis error replies into HTTP-like statuses, so a
 * LOADING reply counts as 503 whichever protocol asked.
 * Thread-safe (relaxed atomics and the log ring).
 */
#ifndef RP_ACCOUNT_H
#define RP_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "base/metrics.h"

struct proxy;

/* How the cache took part in a request. */
enum account_cache {
    ACCOUNT_NONE = -1, /* not a lookup */
    ACCOUNT_HIT = 0,
    ACCOUNT_MISS = 1, /* Redis was asked */
    ACCOUNT_STALE = 2,
};

/* One answered request. */
struct account_req {
    enum metrics_listener listener;
    const char *method; /* HTTP method or RESP command name, as sent */
    size_t method_len;
    int status;               /* HTTP status, or RESP's HTTP-like class */
    enum account_cache cache; /* ACCOUNT_NONE unless the cache was asked */
    size_t key_len;           /* 0 when there was no key */
    size_t bytes;             /* value bytes sent */
    int64_t start_us;         /* util_now_us() when the request was parsed */
};

/* Counts and (with access logging on) logs one answered request. */
void account_request(struct proxy *px, const struct account_req *r);

/* The HTTP-like status of a Redis error reply's text: 409 for WRONGTYPE,
 * 503 for the transient LOADING, BUSY, MASTERDOWN and TRYAGAIN, else 502. */
int account_redis_error_status(const char *err);

#endif
