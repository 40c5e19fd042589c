/*
 * tls_conf: the proxy's TLS contexts (net/tls.h) from its settings.
 *
 * The listeners' context ([server] tls_cert_file, tls_key_file,
 * tls_ca_file, tls_verify_clients, tls_ciphers, tls_ciphersuites) is one,
 * shared by every listener that speaks TLS (tls_port; http_port with
 * [http] tls; the admin port with [admin] tls). It is built at start and
 * again on every SIGHUP, which re-reads the files even when their names did
 * not change: a renewed certificate is taken without a restart. The new
 * context serves new connections; connections already open keep theirs.
 *
 * The context of the connections to Redis ([redis] tls, tls_ca_file,
 * tls_cert_file, tls_key_file, tls_verify) is built at start and kept
 * for the proxy's life (the keys need a restart); every connection to a
 * Redis node uses it, verifying [redis] tls_server_name when set, else the
 * node's host (upstream/redis.h's target).
 *
 * Every error is a configuration error in the form of config.h's: where
 * the key was set ("FILE:LINE: ", "-s ARG: ", "defaults: "), the key, what
 * is wrong ("proxy.ini:12: [server] tls_key_file: does not match the
 * certificate"). Main thread only.
 */
#ifndef RP_TLS_CONF_H
#define RP_TLS_CONF_H

#include <stddef.h>

struct config;
struct proxy;
struct tls_ctx;

/* 1 when a listener of cfg speaks TLS. */
int tls_conf_listeners(const struct config *cfg);

/* The listeners' context from cfg (whether or not a listener uses it).
 * Returns it (one reference: the caller's), or NULL with the error in
 * err. */
struct tls_ctx *tls_conf_server(const struct config *cfg, char *err,
                                size_t errlen);

/* The context of the connections to Redis, or NULL with the error in err.
 * Call only with [redis] tls = on. */
struct tls_ctx *tls_conf_redis(const struct config *cfg, char *err,
                               size_t errlen);

/*
 * At start, on the settings published in px: builds the contexts cfg asks
 * for and gives the listeners' to the kinds that speak TLS, the Redis one
 * to px->redis_tls; logs each certificate (subject, expiry; a warning
 * when it has expired) and a warning when [redis] tls_verify is off.
 * Returns 0, or -1 with the error in err (nothing kept).
 */
int tls_conf_start(struct proxy *px, char *err, size_t errlen);

/* On SIGHUP, before cfg (read from the file again) is published: the
 * listeners' new context, or NULL when no listener speaks TLS (running
 * says which do: that needs a restart). Returns 0, or -1 with the error
 * in err (the running context stays). */
int tls_conf_prepare(const struct config *running, const struct config *cfg,
                     struct tls_ctx **out, char *err, size_t errlen);

/* Gives ctx (from tls_conf_prepare; the caller's reference is taken
 * over) to the kinds that speak TLS, releasing their old one, and logs
 * the certificate. NULL is a no-op. */
void tls_conf_install(struct proxy *px, struct tls_ctx *ctx);

/* Releases every context px holds. After the threads have stopped. */
void tls_conf_release(struct proxy *px);

#endif
