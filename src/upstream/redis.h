/*
 * redis: where a Redis server is (struct redis_target, shared by every
 * connection: rconn.h opens them), helpers over hiredis reply objects, and
 * redis_open, the pool's blocking hiredis connection (connect within
 * connect_timeout, then every blocking call on it bounded by
 * command_timeout (redisSetTimeout), then AUTH and SELECT when
 * configured) until the pool moves to rconn. Thread-safe: no shared state.
 */
#ifndef RP_REDIS_H
#define RP_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

struct redisContext;
struct redisReply;

#define REDIS_ERR_MAX 256

/* Where and how to connect. The strings are borrowed; the timeouts are
 * read from the current settings at each connect (they may change on
 * reload; the address may not). */
struct redis_target {
    const char *host;
    int port;
    const char *user;             /* ACL user for AUTH user password;
                                     "" = AUTH password alone */
    const char *password;         /* "" = no AUTH */
    int db;                       /* 0 = no SELECT */
    int readonly;                 /* READONLY on every connection (a
                                     cluster node read from as a replica) */
    const struct config_ref *cfg; /* connect_timeout, command_timeout */
};

/* The target the configuration names ([redis] host, port, password, db).
 * Borrows the current config's strings: valid while that config is (every
 * published config lives until exit). */
struct redis_target redis_target_of(const struct config_ref *ref);

/*
 * Opens a connection to t. Returns it (the caller frees it with
 * redisFree), or NULL with a reason in err[0..REDIS_ERR_MAX) such as
 * "connect to 127.0.0.1:6379: Connection refused" or "AUTH failed: ...".
 */
struct redisContext *redis_open(const struct redis_target *t, char *err);

/* 1 when r is a string or status reply (of any text). */
int redis_reply_is_str(const struct redisReply *r);

/* The value for key (compared case-insensitively) in a map Redis sent as a
 * flat array of key, value, ...; NULL when m is no array or lacks it. */
const struct redisReply *redis_reply_map_get(const struct redisReply *m,
                                             const char *key);

#endif
