/*
 * proxy: the services every worker uses, bundled so they can be passed as
 * one pointer. main.c creates each service, fills this struct, and destroys
 * them after the threads are joined; nothing here is global. Every field is
 * set before any thread starts and never reassigned, so reading the
 * pointers needs no lock (each service is thread-safe on its own).
 */
#ifndef RP_PROXY_H
#define RP_PROXY_H

#include <stdatomic.h>

#include "cache/cache.h"
#include "base/config.h"
#include "cache/flight.h"
#include "base/metrics.h"
#include "upstream/tracking.h"
#include "upstream/upstream.h"
#include "net/waiter.h"
#include "net/workq.h"

#define PROXY_VERSION "0.2.0"

struct proxy {
    const struct config *cfg;  /* read-only settings */
    struct cache *cache;       /* shared by HTTP and RESP */
    struct flights *flights;   /* fills in flight, invalidation races */
    struct tracking *tracking; /* invalidation stream */
    struct upstream *up;       /* Redis connection pool */
    struct workq *q;           /* conns with work to do */
    struct waiter *waiter;     /* parked (idle or partial) conns */
    atomic_int open_conns;     /* client conns open now (HTTP + RESP) */
    atomic_int admin_conns;    /* admin conns open now (own small budget) */
    atomic_int busy_workers;   /* workers serving a conn now */
    struct metrics metrics;    /* request counters, latency histograms */
};

#endif
