/*
 * tls_conf: the settings of net/tls from the configuration; see
 * tls_conf.h. net/tls names the setting at fault (enum tls_part); here it
 * becomes the key and where it was set.
 */
#include "serve/tls_conf.h"

#include <stdio.h>
#include <time.h>

#include "base/config.h"
#include "base/log.h"
#include "net/tls.h"
#include "serve/proxy.h"

/* The keys of one side, by enum tls_part. */
struct tls_conf_keys {
    const char *section;
    const char *key[TLS_PART_CIPHERSUITES + 1];
};

static const struct tls_conf_keys server_keys = {
    "server",
    {
        [TLS_PART_CERT] = "tls_cert_file",
        [TLS_PART_KEY] = "tls_key_file",
        [TLS_PART_CA] = "tls_ca_file",
        [TLS_PART_CIPHERS] = "tls_ciphers",
        [TLS_PART_CIPHERSUITES] = "tls_ciphersuites",
    },
};

static const struct tls_conf_keys redis_keys = {
    "redis",
    {
        [TLS_PART_CERT] = "tls_cert_file",
        [TLS_PART_KEY] = "tls_key_file",
        [TLS_PART_CA] = "tls_ca_file",
        [TLS_PART_CIPHERS] = "tls",
        [TLS_PART_CIPHERSUITES] = "tls",
    },
};

/* Builds a context, turning its error into a configuration error. */
static struct tls_ctx *
build(const struct config *cfg, const struct tls_settings *s,
      const struct tls_conf_keys *keys, char *err, size_t errlen)
{
    char why[CONFIG_ERR_MAX];
    enum tls_part part;
    struct tls_ctx *ctx = tls_ctx_create(s, &part, why, sizeof(why));
    const char *key, *from;

    if (ctx != NULL) {
        return ctx;
    }
    key = part != TLS_PART_NONE ? keys->key[part] : "tls";
    from = config_from(cfg, keys->section, key);
    snprintf(err, errlen, "%s: [%s] %s: %s",
             from != NULL && *from != '\0' ? from : "defaults", keys->section,
             key, why);
    return NULL;
}

int
tls_conf_listeners(const struct config *cfg)
{
    return cfg->tls_port != 0 || cfg->http_tls ||
           (cfg->admin_tls && cfg->admin_port != 0);
}

struct tls_ctx *
tls_conf_server(const struct config *cfg, char *err, size_t errlen)
{
    const struct tls_settings s = {
        .server = 1,
        .cert_file = cfg->tls_cert_file,
        .key_file = cfg->tls_key_file,
        .ca_file = cfg->tls_ca_file,
        .verify_clients = (enum tls_verify)cfg->tls_verify_clients,
        .ciphers = cfg->tls_ciphers,
        .ciphersuites = cfg->tls_ciphersuites,
    };

    return build(cfg, &s, &server_keys, err, errlen);
}

struct tls_ctx *
tls_conf_redis(const struct config *cfg, char *err, size_t errlen)
{
    const struct tls_settings s = {
        .server = 0,
        .cert_file = cfg->redis_tls_cert_file,
        .key_file = cfg->redis_tls_key_file,
        .ca_file = cfg->redis_tls_ca_file,
        .insecure = !cfg->redis_tls_verify,
    };

    return build(cfg, &s, &redis_keys, err, errlen);
}

/* Logs the certificate ctx shows; a warning when it has expired. */
static void
log_certificate(const char *what, const struct tls_ctx *ctx)
{
    int64_t not_after = tls_ctx_not_after(ctx);

    if (not_after != 0 && not_after < (int64_t)time(NULL)) {
        log_warn("msg=\"%s certificate has expired\" %s", what,
                 tls_ctx_describe(ctx));
    } else if (*tls_ctx_describe(ctx) != '\0') {
        log_info("msg=\"%s certificate loaded\" %s", what,
                 tls_ctx_describe(ctx));
    }
}

/* Does kind k of px speak TLS, with cfg's listeners? */
static int
kind_speaks_tls(const struct config *cfg, int k)
{
    switch (k) {
    case PROXY_HTTP:
        return cfg->http_tls;
    case PROXY_ADMIN:
        return cfg->admin_tls && cfg->admin_port != 0;
    case PROXY_RESP_TLS:
        return cfg->tls_port != 0;
    default:
        return 0;
    }
}

void
tls_conf_install(struct proxy *px, struct tls_ctx *ctx)
{
    const struct config *cfg = proxy_cfg(px);
    int k;

    if (ctx == NULL) {
        return;
    }
    for (k = 0; k < PROXY_KINDS; k++) {
        if (kind_speaks_tls(cfg, k)) {
            tls_ctx_release(px->kinds[k].tls);
            px->kinds[k].tls = tls_ctx_ref(ctx);
        }
    }
    atomic_store(&px->tls_stats.not_after, tls_ctx_not_after(ctx));
    log_certificate("TLS", ctx);
    tls_ctx_release(ctx);
}

int
tls_conf_start(struct proxy *px, char *err, size_t errlen)
{
    const struct config *cfg = proxy_cfg(px);
    struct tls_ctx *server = NULL;

    if (tls_conf_listeners(cfg) &&
        (server = tls_conf_server(cfg, err, errlen)) == NULL) {
        return -1;
    }
    if (cfg->redis_tls) {
        px->redis_tls = tls_conf_redis(cfg, err, errlen);
        if (px->redis_tls == NULL) {
            tls_ctx_release(server);
            return -1;
        }
        if (!cfg->redis_tls_verify) {
            log_warn("msg=\"[redis] tls_verify = off: the certificate of "
                     "Redis is not checked; anyone between the proxy and "
                     "Redis can read and change the traffic\"");
        }
        log_certificate("TLS client (to Redis)", px->redis_tls);
    }
    tls_conf_install(px, server);
    return 0;
}

int
tls_conf_prepare(const struct config *running, const struct config *cfg,
                 struct tls_ctx **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!tls_conf_listeners(running)) {
        return 0;
    }
    *out = tls_conf_server(cfg, err, errlen);
    return *out != NULL ? 0 : -1;
}

void
tls_conf_release(struct proxy *px)
{
    int k;

    for (k = 0; k < PROXY_KINDS; k++) {
        tls_ctx_release(px->kinds[k].tls);
        px->kinds[k].tls = NULL;
    }
    tls_ctx_release(px->redis_tls);
    px->redis_tls = NULL;
}
