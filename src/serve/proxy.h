/*
 * proxy: the services every handler uses, bundled so they can be passed as
 * one pointer (the ctx of every conn_kind). main.c creates each service,
 * fills this struct, and destroys them after the threads are joined;
 * nothing here is global. Every service pointer is set before any thread
 * starts and never reassigned, so reading them needs no lock (each service
 * is thread-safe on its own); the settings may be replaced by a reload and
 * are read through proxy_cfg(). Only declarations here: a handler includes the
 * headers of the services it calls.
 */
#ifndef RP_PROXY_H
#define RP_PROXY_H

#include <stdatomic.h>

#include "base/config.h"
#include "base/qsbr.h"
#include "base/metrics.h"
#include "base/ratelimit.h"
#include "net/conn.h"

#define PROXY_VERSION "0.2.0"

/* Admin connections allowed, outside max_clients, so a proxy whose clients
 * took every slot can still be scraped; past it, the admin connection that
 * has waited longest for a request is closed to make room (conn_budget). */
#define PROXY_ADMIN_CONNS 64

/* Connections kept open ahead of need for sessions to start on. */
#define PROXY_SPARES 4

struct cache;
struct commands;
struct spares;
struct flights;
struct idents;
struct nodes;
struct sentinel;
struct clientmap;
struct failover;
struct replicas;
struct workq;
struct waiter;
struct worker_pool;
struct tls_ctx;

/* The listener kinds, in proxy.kinds. PROXY_RESP_TLS is tls_port (the RESP
 * protocol over TLS); HTTP and admin speak TLS when [http] / [admin] tls
 * say so (serve/tls_conf.h). */
enum proxy_kind {
    PROXY_HTTP,
    PROXY_RESP,
    PROXY_ADMIN,
    PROXY_RESP_TLS,
    PROXY_KINDS
};

struct proxy {
    struct config_ref cfg;       /* the settings now (proxy_cfg) */
    struct cache *cache;         /* shared by HTTP and RESP */
    struct flights *flights;     /* fills in flight, invalidation races */
    struct nodes *nodes;         /* the Redis servers: pools, streams */
    struct sentinel *sentinel;   /* follows the sentinels' master, or NULL */
    struct failover *failover;   /* what a change of master ends */
    struct clientmap *clientmap; /* sessions by client id (clientmap.h) */
    struct replicas *replicas;   /* read_from not master: the replicas and
                                    what they have applied, or NULL */
    struct commands *commands;   /* what Redis says about its commands */
    struct spares *spares;       /* connections ready for new sessions */
    struct idents *idents;       /* ACL passthrough: the Redis users clients
                                    act as, their pools and partitions */
    struct workq *q;             /* conns with work to do */
    struct waiter *waiter;       /* parked (idle or partial) conns */
    struct worker_pool *workers; /* the threads serving conns */
    struct conn_budget clients;  /* HTTP + RESP conns: max_clients */
    struct conn_budget admins;   /* admin conns: PROXY_ADMIN_CONNS */
    struct conn_kind kinds[PROXY_KINDS]; /* each listener's protocol and
                                            timeouts */
    struct qsbr config_gc; /* frees the configs reloads replace (reload.h) */
    struct conn_tls_stats tls_stats; /* the TLS listeners' handshakes */
    struct tls_ctx *redis_tls;       /* the context of connections to Redis with
                                        [redis] tls = on (serve/tls_conf.h); NULL
                                        without */
    struct metrics metrics;          /* request counters, latency histograms */
    struct ratelimit auth_log[METRICS_LISTENERS]; /* "authentication
                                                     failed" lines */
    struct ratelimit_sources http_on_resp_log;    /* POST/Host: on RESP lines */
    atomic_ullong client_ids; /* the last RESP client id handed out */
    atomic_long records;      /* command records alive (rcmd.h) */
    atomic_long awaiting;     /* ... of them WAITING (on Redis, or made
                                 and not answered yet): what a shutdown
                                 waits for */
};

/* The settings now: a snapshot that stays valid (config.h). */
static inline const struct config *
proxy_cfg(const struct proxy *px)
{
    return config_get(&px->cfg);
}

#endif
