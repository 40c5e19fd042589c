/*
 * redis: where a Redis server is (struct redis_target, shared by every
 * connection: rconn.h opens them, over TLS when the target has a context)
 * and helpers over hiredis reply objects (the blocking calls' replies,
 * parsed by hiredis's reader). Thread-safe: no shared state.
 */
#ifndef RP_REDIS_H
#define RP_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

struct redisReply;
struct tls_ctx;

#define REDIS_ERR_MAX 256

/* Where and how to connect. The strings are borrowed; the timeouts are
 * read from the current settings at each connect (they may change on
 * reload; the address may not). */
struct redis_target {
    char host[256]; /* its own copy: a config a reload
                       replaces is freed (reload.h) */
    int port;
    char user[256];               /* ACL user for AUTH user password;
                                     "" = AUTH password alone */
    char password[256];           /* "" = no AUTH */
    int db;                       /* 0 = no SELECT */
    int readonly;                 /* READONLY on every connection (a
                                     cluster node read from as a replica) */
    const struct config_ref *cfg; /* connect_timeout, command_timeout */
    struct tls_ctx *tls;          /* borrowed: TLS towards it ([redis] tls =
                                     on; the proxy's, for its whole life),
                                     or NULL for plain TCP */
    char tls_name[256];           /* the name its certificate must carry
                                     ([redis] tls_server_name); "" = host */
};

/* The target the configuration names now ([redis] host, port, user,
 * password, db, tls_server_name), its strings copied, speaking TLS with
 * tls (NULL: plain TCP). */
struct redis_target redis_target_of(const struct config_ref *ref,
                                    struct tls_ctx *tls);

/* 1 when r is a string or status reply (of any text). */
int redis_reply_is_str(const struct redisReply *r);

/* The value for key (compared case-insensitively) in a map Redis sent as a
 * flat array of key, value, ...; NULL when m is no array or lacks it. */
const struct redisReply *redis_reply_map_get(const struct redisReply *m,
                                             const char *key);

#endif
