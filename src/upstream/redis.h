/*
 * redis: how a connection to a Redis server is opened, apart from what is
 * done on it (hiredis's split between net.c and hiredis.c). Every
 * connection the proxy makes (the pool's, the invalidation stream's)
 * comes from redis_open: connect within connect_timeout, then every
 * blocking call on it bounded by command_timeout (redisSetTimeout), then
 * AUTH and SELECT when configured. Thread-safe: no shared state.
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
    char host[256]; /* its own copy: a config a reload
                       replaces is freed (reload.h) */
    int port;
    char password[256];           /* "" = no AUTH */
    int db;                       /* 0 = no SELECT */
    const struct config_ref *cfg; /* connect_timeout, command_timeout */
};

/* The target the configuration names now ([redis] host, port, password,
 * db), its strings copied. */
struct redis_target redis_target_of(const struct config_ref *ref);

/*
 * Opens a connection to t. Returns it (the caller frees it with
 * redisFree), or NULL with a reason in err[0..REDIS_ERR_MAX) such as
 * "connect to 127.0.0.1:6379: Connection refused" or "AUTH failed: ...".
 */
struct redisContext *redis_open(const struct redis_target *t, char *err);

/*
 * Runs one command on a blocking context (setup traffic only; bounded by
 * command_timeout). Returns the reply (free with freeReplyObject), or NULL
 * with "WHAT: reason" in err[0..REDIS_ERR_MAX) for an I/O failure or an
 * error reply; *is_error_reply (may be NULL) tells the two apart.
 */
struct redisReply *redis_setup(struct redisContext *ctx, const char *what,
                               char *err, int *is_error_reply, const char *fmt,
                               ...);

/* 1 when r is a string or status reply (of any text). */
int redis_reply_is_str(const struct redisReply *r);

/* The value for key (compared case-insensitively) in a map Redis sent as a
 * flat array of key, value, ...; NULL when m is no array or lacks it. */
const struct redisReply *redis_reply_map_get(const struct redisReply *m,
                                             const char *key);

#endif
