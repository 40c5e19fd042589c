/*
 * stats: every figure the admin port exposes, declared once. One snapshot
 * of every service's counters is taken per scrape (each service under its
 * own short lock or with relaxed loads, never two locks at once, so a
 * scrape never stalls request processing) and rendered from the same list
 * (the X-macro of twemproxy's nc_stats.h) as Prometheus text for /metrics
 * and as JSON for /stats.json, where each family appears under its
 * Prometheus name without the redis_proxy_ prefix.
 */
#ifndef RP_STATS_H
#define RP_STATS_H

#include "base/metrics.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "net/tls.h"
#include "upstream/nodes.h"
#include "upstream/replicas.h"
#include "upstream/sentinel.h"
#include "upstream/tracking.h"
#include "upstream/upstream.h"

struct proxy;

/* Every figure, read once. */
struct stats_snapshot {
    struct cache_stats cache;
    struct flight_stats flights;
    struct tracking_stats tracking;
    struct upstream_stats pool;
    long requests[METRICS_LISTENERS][METRICS_CLASSES];
    long hits, misses, stale, oversize, accepted, rejected, log_dropped;
    long sessions_open, sessions, forwarded, write_flushes;
    long readonly_refused, readonly_rerouted, readonly_failed;
    long failover_sessions, readonly_waiting;
    long reloads_ok, reloads_failed, config_retired;
    long tls_handshakes, tls_failed[TLS_FAILS], tls_timeouts;
    double tls_not_after;
    long auth_failures[METRICS_LISTENERS];
    long verifies[METRICS_VERIFIES];
    long idents_known, idents_in_use;
    int nusers; /* auth failures that named a user ([users] set) */
    struct metrics_user users[METRICS_USERS];
    long closed[METRICS_CLOSES], closed_output, closed_admin_room;
    long hist_le[2][METRICS_BUCKETS + 1], hist_count[2], hist_sum_us[2];
    long open, parked, busy, depth, workers;
    double uptime_s;
    int nnodes; /* every Redis node known (standalone: one) */
    struct node_stats nodes[NODES_MAX];
    int sentinel; /* sentinel mode: sent is filled */
    struct sentinel_stats sent;
    int replica_reads; /* read_from not master: reads is filled */
    struct replicas_totals reads;
};

/*
 * The families with one row per sentinel, labelled sentinel="host:port":
 * X(name, type, help, value), value an expression over
 * `const struct sentinel_server_stats *sv`. In stats.json the sentinels
 * are listed in full under "sentinel".
 */
#define STATS_SENTINEL_ROWS(X)                                                 \
    X(sentinel_up, gauge,                                                      \
      "1 when the sentinel answered the last time it was asked.", sv->up)      \
    X(sentinel_subscribed, gauge,                                              \
      "1 while the sentinel's +switch-master feed is open.", sv->subscribed)

/*
 * The families with one row per node, labelled node="host:port":
 * X(name, type, help, value), value an expression over
 * `const struct node_stats *nd`. In stats.json each is an object keyed by
 * the address, and "nodes" lists each node in full for the dashboard.
 */
#define STATS_NODE_ROWS(X)                                                     \
    X(node_slots, gauge, "Hash slots the node owns now (0: not a master).",    \
      nd->slots)                                                               \
    X(node_stream_state, gauge,                                                \
      "The node's invalidation stream: 0 off, 1 down, 2 up.",                  \
      nd->tracking.state)                                                      \
    X(node_stream_drops_total, counter,                                        \
      "The node's invalidation streams lost.", nd->tracking.drops)             \
    X(node_pool_in_use, gauge, "The node's pooled connections borrowed now.",  \
      nd->pool.in_use)                                                         \
    X(node_pool_connected, gauge, "The node's pooled connections open now.",   \
      nd->pool.connected)                                                      \
    X(node_errors_total, counter, "Failed commands and connects on the node.", \
      nd->pool.errors)                                                         \
    X(node_replica_in_sync, gauge,                                             \
      "1 while the node is a replica reads may go to.", nd->in_sync)           \
    X(node_replica_lag_bytes, gauge,                                           \
      "A replica's master's offset minus what it applied.", nd->lag_bytes)     \
    X(node_replica_lag_seconds, gauge,                                         \
      "How far behind its master a replica is, in time.",                      \
      (double)nd->lag_ms / 1000.0)

/*
 * Every family but requests_total and the two latency histograms (which
 * both outputs render beside these): X(name, type, help, label, value).
 * label is "" or one label as `key="value"`; the rows of a labelled family
 * are consecutive. value is an expression over
 * `const struct stats_snapshot *s`. In stats.json an unlabelled family is
 * "name": value, a labelled one "name": {"value": v, ...}.
 * auth_failures_total has rows labelled {listener,user} besides, one per
 * user label (metrics.h) that failed; in stats.json they are
 * "auth_failures_by_user": {"user": {"http": n, "resp": n, "admin": n}}.
 */
#define STATS_ROWS(X)                                                          \
    X(cache_hits_total, counter, "Lookups answered from the cache.", "",       \
      s->hits)                                                                 \
    X(cache_misses_total, counter, "Lookups that had to ask Redis.", "",       \
      s->misses)                                                               \
    X(cache_stale_total, counter, "Stale entries served while Redis failed.",  \
      "", s->stale)                                                            \
    X(cache_oversize_total, counter,                                           \
      "Values over max_value_size: answered, not cached.", "", s->oversize)    \
    X(cache_evictions_total, counter, "Entries evicted (LRU), by the limit.",  \
      "reason=\"capacity\"", s->cache.evictions)                               \
    X(cache_evictions_total, counter, "Entries evicted (LRU), by the limit.",  \
      "reason=\"memory\"", s->cache.evictions_memory)                          \
    X(cache_expirations_total, counter, "Expired entries removed.", "",        \
      s->cache.expirations)                                                    \
    X(cache_invalidations_total, counter,                                      \
      "Entries removed because Redis reported a change.", "",                  \
      s->flights.invalidations)                                                \
    X(cache_flushes_total, counter,                                            \
      "Whole-cache invalidations (FLUSHALL, lost tracking).", "",              \
      s->flights.flushes)                                                      \
    X(cache_entries, gauge, "Entries held now.", "", s->cache.entries)         \
    X(cache_bytes, gauge, "Key and value bytes held now.", "", s->cache.bytes) \
    X(cache_memory_bytes, gauge,                                               \
      "Bytes counted against max_memory (allocations with overhead).", "",     \
      s->cache.memory)                                                         \
    X(cache_max_memory_bytes, gauge, "The max_memory limit; 0 = none.", "",    \
      s->cache.max_memory)                                                     \
    X(cache_capacity, gauge, "Entries held at most.", "", s->cache.capacity)   \
    X(fills_total, counter, "Fills from Redis started.", "", s->flights.fills) \
    X(fills_coalesced_total, counter,                                          \
      "Misses that waited for a fill already in flight.", "",                  \
      s->flights.coalesced)                                                    \
    X(fills_discarded_total, counter,                                          \
      "Fills not stored because an invalidation raced them.", "",              \
      s->flights.discarded)                                                    \
    X(connections_open, gauge, "Client connections open (HTTP + RESP).", "",   \
      s->open)                                                                 \
    X(connections_accepted_total, counter, "Client connections accepted.", "", \
      s->accepted)                                                             \
    X(connections_rejected_total, counter,                                     \
      "Client connections refused over max_clients.", "", s->rejected)         \
    X(connections_parked, gauge,                                               \
      "Connections held by the waiter (idle, partial, or slow to read).", "",  \
      s->parked)                                                               \
    X(sessions_open, gauge,                                                    \
      "RESP sessions (private Redis connections) open now.", "",               \
      s->sessions_open)                                                        \
    X(sessions_total, counter, "RESP sessions opened.", "", s->sessions)       \
    X(commands_forwarded_total, counter,                                       \
      "RESP commands and HTTP writes sent to Redis over the pool.", "",        \
      s->forwarded)                                                            \
    X(replica_reads_total, counter,                                            \
      "Reads (fills and forwarded) with replica reads on, by where they "      \
      "went.",                                                                 \
      "to=\"replica\"", s->reads.to_replica)                                   \
    X(replica_reads_total, counter,                                            \
      "Reads (fills and forwarded) with replica reads on, by where they "      \
      "went.",                                                                 \
      "to=\"master_written\"", s->reads.written)                               \
    X(replica_reads_total, counter,                                            \
      "Reads (fills and forwarded) with replica reads on, by where they "      \
      "went.",                                                                 \
      "to=\"master_fallback\"", s->reads.fallback)                             \
    X(replica_reads_total, counter,                                            \
      "Reads (fills and forwarded) with replica reads on, by where they "      \
      "went.",                                                                 \
      "to=\"refused\"", s->reads.refused)                                      \
    X(replica_written_keys, gauge,                                             \
      "Keys written through the proxy that replicas may not have yet.", "",    \
      s->reads.keys.keys)                                                      \
    X(replica_round, gauge, "Replication samples taken (rounds).", "",         \
      (double)s->reads.round)                                                  \
    X(readonly_refused_total, counter,                                         \
      "Writes a demoted master refused (-READONLY), never relayed, by what "   \
      "became of them.",                                                       \
      "outcome=\"rerouted\"", s->readonly_rerouted)                            \
    X(readonly_refused_total, counter,                                         \
      "Writes a demoted master refused (-READONLY), never relayed, by what "   \
      "became of them.",                                                       \
      "outcome=\"failed\"", s->readonly_failed)                                \
    X(readonly_waiting, gauge,                                                 \
      "Writes a demoted master refused, waiting for the new master now.", "",  \
      s->readonly_waiting)                                                     \
    X(failover_sessions_ended_total, counter,                                  \
      "Sessions ended because the master changed (failover).", "",             \
      s->failover_sessions)                                                    \
    X(write_flushes_total, counter,                                            \
      "Writes whose keys were unknown or that clear databases: cache "         \
      "emptied.",                                                              \
      "", s->write_flushes)                                                    \
    X(auth_failures_total, counter,                                            \
      "Requests refused for a missing or wrong password.",                     \
      "listener=\"http\"", s->auth_failures[0])                                \
    X(auth_failures_total, counter,                                            \
      "Requests refused for a missing or wrong password.",                     \
      "listener=\"resp\"", s->auth_failures[1])                                \
    X(auth_failures_total, counter,                                            \
      "Requests refused for a missing or wrong password.",                     \
      "listener=\"admin\"", s->auth_failures[2])                               \
    X(auth_verifications_total, counter,                                       \
      "Client credentials checked by Redis (ACL passthrough), by result.",     \
      "result=\"ok\"", s->verifies[METRICS_VERIFY_OK])                         \
    X(auth_verifications_total, counter,                                       \
      "Client credentials checked by Redis (ACL passthrough), by result.",     \
      "result=\"refused\"", s->verifies[METRICS_VERIFY_REFUSED])               \
    X(auth_verifications_total, counter,                                       \
      "Client credentials checked by Redis (ACL passthrough), by result.",     \
      "result=\"failed\"", s->verifies[METRICS_VERIFY_FAILED])                 \
    X(redis_identities, gauge,                                                 \
      "Redis users clients act as (ACL passthrough), each with its own "       \
      "pools and cache partition.",                                            \
      "", s->idents_known)                                                     \
    X(redis_identities_in_use, gauge,                                          \
      "Redis identities held by a client connection now.", "",                 \
      s->idents_in_use)                                                        \
    X(connections_closed_total, counter,                                       \
      "Clients the proxy closed of its own accord, by reason.",                \
      "reason=\"http_on_resp\"", s->closed[METRICS_CLOSE_HTTP_ON_RESP])        \
    X(connections_closed_total, counter,                                       \
      "Clients the proxy closed of its own accord, by reason.",                \
      "reason=\"auth_failures\"", s->closed[METRICS_CLOSE_AUTH])               \
    X(connections_closed_total, counter,                                       \
      "Clients the proxy closed of its own accord, by reason.",                \
      "reason=\"max_output\"", s->closed_output)                               \
    X(connections_closed_total, counter,                                       \
      "Clients the proxy closed of its own accord, by reason.",                \
      "reason=\"admin_room\"", s->closed_admin_room)                           \
    X(config_reloads_total, counter, "Reloads on SIGHUP, by outcome.",         \
      "result=\"ok\"", s->reloads_ok)                                          \
    X(config_reloads_total, counter, "Reloads on SIGHUP, by outcome.",         \
      "result=\"failed\"", s->reloads_failed)                                  \
    X(config_snapshots_retired, gauge,                                         \
      "Settings replaced by reloads, not yet freed (a reader may hold them).", \
      "", s->config_retired)                                                   \
    X(tls_handshakes_total, counter, "TLS handshakes of clients completed.",   \
      "", s->tls_handshakes)                                                   \
    X(tls_handshake_failures_total, counter,                                   \
      "TLS connections closed before their handshake completed, by cause.",    \
      "reason=\"not_tls\"", s->tls_failed[TLS_FAIL_NOT_TLS])                   \
    X(tls_handshake_failures_total, counter,                                   \
      "TLS connections closed before their handshake completed, by cause.",    \
      "reason=\"certificate\"", s->tls_failed[TLS_FAIL_CERT])                  \
    X(tls_handshake_failures_total, counter,                                   \
      "TLS connections closed before their handshake completed, by cause.",    \
      "reason=\"protocol\"", s->tls_failed[TLS_FAIL_PROTOCOL])                 \
    X(tls_handshake_failures_total, counter,                                   \
      "TLS connections closed before their handshake completed, by cause.",    \
      "reason=\"closed\"", s->tls_failed[TLS_FAIL_CLOSED])                     \
    X(tls_handshake_failures_total, counter,                                   \
      "TLS connections closed before their handshake completed, by cause.",    \
      "reason=\"timeout\"", s->tls_timeouts)                                   \
    X(tls_certificate_expiry_timestamp_seconds, gauge,                         \
      "When the TLS listeners' certificate expires (Unix time); 0 = none.",    \
      "", s->tls_not_after)                                                    \
    X(workq_depth, gauge, "Connections queued for a worker.", "", s->depth)    \
    X(workers_busy, gauge, "Workers serving a connection.", "", s->busy)       \
    X(workers, gauge, "Worker threads.", "", s->workers)                       \
    X(redis_pool_size, gauge, "Pooled Redis connections.", "", s->pool.size)   \
    X(redis_pool_in_use, gauge, "Pooled connections borrowed now.", "",        \
      s->pool.in_use)                                                          \
    X(redis_pool_connected, gauge, "Pooled connections open now.", "",         \
      s->pool.connected)                                                       \
    X(redis_errors_total, counter, "Failed Redis commands and connects.", "",  \
      s->pool.errors)                                                          \
    X(redis_reconnects_total, counter, "Redis connections re-established.",    \
      "", s->pool.reconnects)                                                  \
    X(tracking_state, gauge, "Invalidation stream: 0 off, 1 down, 2 up.", "",  \
      s->tracking.state)                                                       \
    X(tracking_drops_total, counter, "Invalidation streams lost.", "",         \
      s->tracking.drops)                                                       \
    X(invalidation_messages_total, counter, "Invalidation messages received.", \
      "", s->tracking.messages)                                                \
    X(log_lines_dropped_total, counter,                                        \
      "Log lines dropped because stderr was slow.", "", s->log_dropped)        \
    X(uptime_seconds, gauge, "Seconds since start.", "", s->uptime_s)

/* Reads every figure into s. Thread-safe. */
void stats_take(struct proxy *px, struct stats_snapshot *s);

/* A growable text buffer; on allocation failure it stops growing and
 * `failed` is set. Free p with free(). */
struct stats_buf {
    char *p;
    size_t len, cap;
    int failed;
};

void stats_printf(struct stats_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends s as Prometheus text (0.0.4) / as the /stats.json document. */
void stats_prometheus(const struct stats_snapshot *s, struct stats_buf *b);
void stats_json(struct proxy *px, const struct stats_snapshot *s,
                struct stats_buf *b);

#endif
