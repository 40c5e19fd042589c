/*
 * live_helpers: a whole proxy inside the test process, wired as main.c
 * wires it (cache, fill registry, work queue, waiter with its tick, node
 * table and its streams, clientmap, failover, command table, a worker
 * pool), in front of a redis-server of the test's own (unit_helpers.h),
 * without listeners: a client is a conn on one end of a socketpair handed
 * to the workers through the work queue, as the accept loop hands one,
 * and the test plays the client on the other end (client_helpers.h).
 * Records complete on the pipelines' threads and wake their conns through
 * the waiter, exactly as in the proxy. Shared by the serve unit tests of
 * the modules that run on it (fetch, respd, httpd, admin, stats, session,
 * multi_wait, failover); header-only because each tests/unit/serve/
 * test_*.c is its own binary.
 *
 * A test sets live.cfg (after live_defaults) before live_up and may stop
 * the redis-server (unit_redis_stop) while the proxy runs. live_down
 * closes the test's client (live.fd), stops the proxy in main.c's order,
 * then the redis-server.
 */
#ifndef RP_TEST_LIVE_HELPERS_H
#define RP_TEST_LIVE_HELPERS_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "base/metrics.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "net/conn.h"
#include "net/waiter.h"
#include "net/worker.h"
#include "net/workq.h"
#include "serve/admin.h"
#include "serve/clientmap.h"
#include "serve/failover.h"
#include "serve/httpd.h"
#include "serve/proxy.h"
#include "serve/respd.h"
#include "upstream/commands.h"
#include "upstream/nodes.h"
#include "upstream/redis.h"

#include "client_helpers.h"
#include "unit_helpers.h"

#define LIVE_WORKERS 2
#define LIVE_CONNS 64 /* slots of the queue and the waiter */

struct live {
    struct proxy px; /* big (metrics) */
    struct config cfg;
    struct unit_redis redis;
    int up;
    int fd; /* the test's client, or -1; closed by live_down */
};

static struct live live;

/* The settings every live test starts from: Redis at 127.0.0.1 (its port
 * set by live_up), LIVE_WORKERS workers, small pools. */
static inline void
live_defaults(void)
{
    config_defaults(&live.cfg);
    live.fd = -1;
    snprintf(live.cfg.redis_host, sizeof(live.cfg.redis_host), "127.0.0.1");
    live.cfg.workers = LIVE_WORKERS;
    live.cfg.pool_size = 2;
    live.cfg.connect_timeout_ms = 1000;
    live.cfg.command_timeout_ms = 2000;
}

/* A listener kind of the proxy, as main.c's kind_init makes it. */
static inline void
live_kind(enum proxy_kind k, const struct conn_ops *ops,
          struct conn_budget *budget)
{
    struct conn_kind *kind = &live.px.kinds[k];

    kind->ops = ops;
    kind->ctx = &live.px;
    kind->budget = budget;
    kind->tls_stats = &live.px.tls_stats;
    atomic_init(&kind->idle_timeout_ms, live.cfg.idle_timeout_ms);
    atomic_init(&kind->request_timeout_ms, live.cfg.request_timeout_ms);
    atomic_init(&kind->send_timeout_ms, live.cfg.send_timeout_ms);
    atomic_init(&kind->max_output, live.cfg.max_output);
    atomic_init(&kind->session_idle_ms, live.cfg.session_idle_timeout_ms);
    atomic_init(&kind->first_byte_ms, 0);
}

/* The waiter's tick, as main.c's. */
static inline void
live_tick(void *arg)
{
    struct proxy *px = arg;

    nodes_tick_pipes(px->nodes);
    failover_tick(px);
}

/* The proxy without workers or Redis: settings, metrics, budgets, kinds,
 * cache, registry, queue, waiter, node table (not started), clientmap and
 * failover. For tests that drive a conn themselves. */
static inline void
live_services(void)
{
    struct proxy *px = &live.px;

    atomic_init(&px->cfg.cur, &live.cfg);
    metrics_init(&px->metrics);
    conn_budget_init(&px->clients, live.cfg.max_clients, 0);
    conn_budget_init(&px->admins, PROXY_ADMIN_CONNS, 1);
    live_kind(PROXY_HTTP, &httpd_ops, &px->clients);
    live_kind(PROXY_RESP, &respd_ops, &px->clients);
    live_kind(PROXY_ADMIN, &admin_ops, &px->admins);
    live_kind(PROXY_RESP_TLS, &respd_ops, &px->clients);
    px->cache = cache_create(live.cfg.cache_capacity, live.cfg.cache_ttl_ms,
                             live.cfg.cache_stale_ms, NULL);
    cr_assert_not_null(px->cache);
    cache_set_limits(px->cache, live.cfg.cache_capacity,
                     live.cfg.cache_max_memory, live.cfg.cache_ttl_ms,
                     live.cfg.cache_stale_ms);
    px->flights = flights_create(px->cache);
    px->q = workq_create(LIVE_CONNS);
    cr_assert(px->flights != NULL && px->q != NULL);
    px->waiter = waiter_create(px->q, LIVE_CONNS);
    cr_assert_not_null(px->waiter);
    px->nodes = nodes_create(&px->cfg, px->flights, px->waiter, NULL);
    px->clientmap = clientmap_create();
    cr_assert(px->nodes != NULL && px->clientmap != NULL);
    px->failover = failover_create(px);
    cr_assert_not_null(px->failover);
    waiter_on_tick(px->waiter, live_tick, px);
    nodes_on_switch(px->nodes, failover_switched, px);
    px->commands = commands_create();
    cr_assert_not_null(px->commands);
    live.up = 1;
}

/* Starts the node table (standalone: the one node; sentinel mode: none
 * yet) and waits for the streams' first attempt. */
static inline void
live_nodes(void)
{
    cr_assert_eq(nodes_start(live.px.nodes), 0);
    nodes_wait_first(live.px.nodes, 2000);
}

/* Reads the command table from the redis-server, as live.cfg reaches it,
 * and starts the workers. */
static inline void
live_workers(void)
{
    struct proxy *px = &live.px;
    struct redis_target t = redis_target_of(&px->cfg, NULL);
    char err[REDIS_ERR_MAX];

    cr_assert_gt(commands_load(px->commands, &t, err), 200, "%s", err);
    px->workers = worker_pool_create(live.cfg.workers, live.cfg.workers, px->q,
                                     px->waiter);
    cr_assert_not_null(px->workers);
}

/* A redis-server of the test's own (extra: its arguments, or NULL); the
 * proxy's settings point at it. */
static inline void
live_redis(const char *const *extra)
{
    unit_redis_start(&live.redis, 0, extra);
    live.cfg.redis_port = live.redis.port;
}

/* A redis-server of the test's own, and the whole proxy in front of it
 * with live.cfg. */
static inline void
live_up_with(const char *const *extra)
{
    live_redis(extra);
    live_services();
    live_nodes();
    live_workers();
}

static inline void
live_up(void)
{
    live_up_with(NULL);
}

/* Stops the proxy in main.c's order, then the redis-server. */
static inline void
live_down(void)
{
    struct proxy *px = &live.px;

    if (live.fd >= 0) {
        close(live.fd);
        live.fd = -1;
    }
    if (live.up) {
        live.up = 0;
        waiter_stop(px->waiter);
        workq_shutdown(px->q);
        worker_pool_destroy(px->workers);
        failover_destroy(px->failover);
        clientmap_destroy(px->clientmap);
        nodes_destroy(px->nodes);
        waiter_destroy(px->waiter);
        workq_destroy(px->q);
        commands_destroy(px->commands);
        flights_destroy(px->flights);
        cache_destroy(px->cache);
        conn_budget_deinit(&px->admins);
        conn_budget_deinit(&px->clients);
    }
    if (live.redis.dir[0] != '\0') {
        unit_redis_stop(&live.redis);
    }
}

/* A new client of listener kind k, handed to the workers; returns the
 * client's end. */
static inline int
live_client(enum proxy_kind k)
{
    int peer;
    struct conn *c = unit_conn(&live.px.kinds[k], &peer);

    cr_assert_eq(workq_push(live.px.q, c), WORKQ_OK);
    return peer;
}

/* Runs a command on the test's own connection to the redis-server and
 * expects its reply to be a status or string equal to want (NULL: any). */
static inline void
redis_do(const char *want, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = redisvCommand(live.redis.ctx, fmt, ap);
    va_end(ap);
    cr_assert_not_null(r, "redis: %s", live.redis.ctx->errstr);
    if (want != NULL) {
        cr_assert(r->str != NULL && strcmp(r->str, want) == 0,
                  "redis answered '%s', want '%s'",
                  r->str != NULL ? r->str : "(not a string)", want);
    }
    freeReplyObject(r);
}

/* Redis's count of calls of cmd (INFO commandstats), 0 when none. */
static inline long
redis_calls(const char *cmd)
{
    redisReply *r = redisCommand(live.redis.ctx, "INFO commandstats");
    char field[64];
    const char *at;
    long n = 0;

    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING);
    snprintf(field, sizeof(field), "cmdstat_%s:calls=", cmd);
    at = strstr(r->str, field);
    if (at != NULL) {
        n = strtol(at + strlen(field), NULL, 10);
    }
    freeReplyObject(r);
    return n;
}

#endif
