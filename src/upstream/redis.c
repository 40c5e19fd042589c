/*
 * redis: the one connection opener; see redis.h.
 */
#include "upstream/redis.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

static struct timeval
ms_to_tv(int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

struct redis_target
redis_target_of(const struct config_ref *ref)
{
    const struct config *cfg = config_get(ref);
    struct redis_target t = {
        .port = cfg->redis_port,
        .db = cfg->redis_db,
        .cfg = ref,
    };

    snprintf(t.host, sizeof(t.host), "%s", cfg->redis_host);
    snprintf(t.password, sizeof(t.password), "%s", cfg->redis_password);
    return t;
}

/* Runs one command on the blocking context. Returns the reply, or NULL
 * with "WHAT: reason" or "WHAT failed: <error>" in err. */
static redisReply *
setup_call(redisContext *ctx, const char *what, char *err, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = redisvCommand(ctx, fmt, ap);
    va_end(ap);
    if (r == NULL) {
        snprintf(err, REDIS_ERR_MAX, "%s: %.200s", what, ctx->errstr);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, REDIS_ERR_MAX, "%s failed: %.*s", what, (int)r->len,
                 r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

redisContext *
redis_open(const struct redis_target *t, char *err)
{
    const struct config *cfg = config_get(t->cfg);
    redisContext *ctx;
    redisReply *r;

    ctx = redisConnectWithTimeout(t->host, t->port,
                                  ms_to_tv(cfg->connect_timeout_ms));
    if (ctx == NULL) {
        snprintf(err, REDIS_ERR_MAX, "cannot allocate a redis context");
        return NULL;
    }
    if (ctx->err) {
        snprintf(err, REDIS_ERR_MAX, "connect to %.64s:%d: %.120s", t->host,
                 t->port, ctx->errstr);
        goto fail;
    }
    if (redisSetTimeout(ctx, ms_to_tv(cfg->command_timeout_ms)) != REDIS_OK) {
        snprintf(err, REDIS_ERR_MAX, "set timeout: %.200s", ctx->errstr);
        goto fail;
    }
    if (t->password[0] != '\0') {
        r = setup_call(ctx, "AUTH", err, "AUTH %s", t->password);
        if (r == NULL) {
            goto fail;
        }
        freeReplyObject(r);
    }
    if (t->db != 0) {
        r = setup_call(ctx, "SELECT", err, "SELECT %d", t->db);
        if (r == NULL) {
            goto fail;
        }
        freeReplyObject(r);
    }
    return ctx;

fail:
    redisFree(ctx);
    return NULL;
}

int
redis_reply_is_str(const redisReply *r)
{
    return r != NULL &&
           (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

const redisReply *
redis_reply_map_get(const redisReply *m, const char *key)
{
    size_t i;

    if (m == NULL || m->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    for (i = 0; i + 1 < m->elements; i += 2) {
        if (redis_reply_is_str(m->element[i]) &&
            strcasecmp(m->element[i]->str, key) == 0) {
            return m->element[i + 1];
        }
    }
    return NULL;
}
