/*
 * upstream: pooled hiredis contexts with a shared down/backoff state; see
 * upstream.h.
 */
#include "upstream.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

struct slot {
    redisContext *ctx; /* owned by the thread that borrowed the slot */
    int ever_connected;
};

struct upstream {
    const struct config *cfg;
    pthread_mutex_t lock;
    pthread_cond_t slot_free;
    int *free_stack;     /* indices of free slots; lock */
    int nfree;           /* lock */
    int64_t down_until;  /* while in the future, fail fast; lock */
    int64_t backoff_ms;  /* next backoff; 0 = healthy; lock */
    int probing;         /* one thread is trying to connect; lock */
    char down_reason[UPSTREAM_ERR_MAX]; /* lock */
    long errors;         /* lock */
    long reconnects;     /* lock */
    int connected;       /* slots holding a context; lock */
    int nslots;
    struct slot slots[];
};

struct upstream *
upstream_create(const struct config *cfg)
{
    struct upstream *u;
    int i;

    u = calloc(1, sizeof(*u) + (size_t)cfg->pool_size * sizeof(u->slots[0]));
    if (u == NULL) {
        return NULL;
    }
    u->free_stack = calloc((size_t)cfg->pool_size, sizeof(int));
    if (u->free_stack == NULL) {
        goto fail_stack;
    }
    if (pthread_mutex_init(&u->lock, NULL) != 0) {
        goto fail_mutex;
    }
    if (pthread_cond_init(&u->slot_free, NULL) != 0) {
        goto fail_cond;
    }
    u->cfg = cfg;
    u->nslots = cfg->pool_size;
    for (i = 0; i < u->nslots; i++) {
        u->free_stack[u->nfree++] = i;
    }
    return u;

fail_cond:
    pthread_mutex_destroy(&u->lock);
fail_mutex:
    free(u->free_stack);
fail_stack:
    free(u);
    return NULL;
}

void
upstream_destroy(struct upstream *u)
{
    int i;

    if (u == NULL) {
        return;
    }
    for (i = 0; i < u->nslots; i++) {
        if (u->slots[i].ctx != NULL) {
            redisFree(u->slots[i].ctx);
        }
    }
    pthread_cond_destroy(&u->slot_free);
    pthread_mutex_destroy(&u->lock);
    free(u->free_stack);
    free(u);
}

static struct timeval
ms_to_tv(int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

/* Borrows a free slot, waiting up to command_timeout. Returns its index or
 * -1 (err set). */
static int
slot_get(struct upstream *u, char *err)
{
    int64_t deadline = util_now_ms() + u->cfg->command_timeout_ms;
    struct timespec ts;
    int idx = -1;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += u->cfg->command_timeout_ms / 1000;
    ts.tv_nsec += (u->cfg->command_timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&u->lock);
    while (u->nfree == 0 && util_now_ms() < deadline) {
        pthread_cond_timedwait(&u->slot_free, &u->lock, &ts);
    }
    if (u->nfree > 0) {
        idx = u->free_stack[--u->nfree];
    } else {
        snprintf(err, UPSTREAM_ERR_MAX,
                 "no free redis connection within %lld ms",
                 (long long)u->cfg->command_timeout_ms);
    }
    pthread_mutex_unlock(&u->lock);
    return idx;
}

static void
slot_put(struct upstream *u, int idx)
{
    pthread_mutex_lock(&u->lock);
    u->free_stack[u->nfree++] = idx;
    pthread_cond_signal(&u->slot_free);
    pthread_mutex_unlock(&u->lock);
}

/* Sends one setup command; returns 0, or -1 with err set. */
static int
setup_command(redisContext *ctx, char *err, const char *what,
              const char *fmt, ...)
{
    redisReply *r;
    va_list ap;
    int rc = 0;

    va_start(ap, fmt);
    r = redisvCommand(ctx, fmt, ap);
    va_end(ap);
    if (r == NULL) {
        snprintf(err, UPSTREAM_ERR_MAX, "%s: %.200s", what, ctx->errstr);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, UPSTREAM_ERR_MAX, "%s failed: %.*s", what,
                 (int)r->len, r->str);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

/* Opens and prepares a context. Returns it, or NULL with err set. */
static redisContext *
connect_redis(const struct config *cfg, char *err)
{
    redisContext *ctx;

    ctx = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port,
                                  ms_to_tv(cfg->connect_timeout_ms));
    if (ctx == NULL) {
        snprintf(err, UPSTREAM_ERR_MAX, "cannot allocate a redis context");
        return NULL;
    }
    if (ctx->err) {
        snprintf(err, UPSTREAM_ERR_MAX, "connect to %.64s:%d: %.120s",
                 cfg->redis_host, cfg->redis_port, ctx->errstr);
        goto fail;
    }
    if (redisSetTimeout(ctx, ms_to_tv(cfg->command_timeout_ms)) != REDIS_OK) {
        snprintf(err, UPSTREAM_ERR_MAX, "set timeout: %s", ctx->errstr);
        goto fail;
    }
    if (cfg->redis_password[0] != '\0' &&
        setup_command(ctx, err, "AUTH", "AUTH %s", cfg->redis_password) < 0) {
        goto fail;
    }
    if (cfg->redis_db != 0 &&
        setup_command(ctx, err, "SELECT", "SELECT %d", cfg->redis_db) < 0) {
        goto fail;
    }
    return ctx;

fail:
    redisFree(ctx);
    return NULL;
}

/*
 * Gives slot s a live context. Fails fast while the pool is down; after the
 * backoff, one thread probes. Returns 0, or -1 with err set.
 */
static int
slot_connect(struct upstream *u, struct slot *s, char *err)
{
    int64_t now = util_now_ms();

    pthread_mutex_lock(&u->lock);
    if (u->backoff_ms > 0 && (now < u->down_until || u->probing)) {
        snprintf(err, UPSTREAM_ERR_MAX, "%s", u->down_reason);
        pthread_mutex_unlock(&u->lock);
        return -1;
    }
    if (u->backoff_ms > 0) {
        u->probing = 1;
    }
    pthread_mutex_unlock(&u->lock);

    s->ctx = connect_redis(u->cfg, err);

    pthread_mutex_lock(&u->lock);
    u->probing = 0;
    if (s->ctx == NULL) {
        u->errors++;
        if (u->backoff_ms == 0) {
            log_warn("msg=\"redis unreachable\" cause=\"%s\"", err);
        }
        u->backoff_ms = u->backoff_ms == 0 ? BACKOFF_MIN_MS
                        : u->backoff_ms * 2 > BACKOFF_MAX_MS
                            ? BACKOFF_MAX_MS
                            : u->backoff_ms * 2;
        u->down_until = util_now_ms() + u->backoff_ms;
        snprintf(u->down_reason, sizeof(u->down_reason), "%s", err);
    } else {
        if (u->backoff_ms > 0) {
            log_info("msg=\"redis reachable again\"");
        }
        u->backoff_ms = 0;
        u->connected++;
        if (s->ever_connected) {
            u->reconnects++;
        }
        s->ever_connected = 1;
    }
    pthread_mutex_unlock(&u->lock);
    return s->ctx != NULL ? 0 : -1;
}

/* Frees the slot's failed context and counts the error. */
static void
slot_drop(struct upstream *u, struct slot *s)
{
    redisFree(s->ctx);
    s->ctx = NULL;
    pthread_mutex_lock(&u->lock);
    u->errors++;
    u->connected--;
    pthread_mutex_unlock(&u->lock);
}

/* One GET on the slot's context; classifies the outcome. */
static int
slot_get_key(struct upstream *u, struct slot *s, const char *key,
             size_t klen, struct upstream_value *out, char *err)
{
    redisReply *r;
    int saved_errno;

    errno = 0;
    r = redisCommand(s->ctx, "GET %b", key, klen);
    saved_errno = errno;
    if (r == NULL) {
        int timeout = s->ctx->err == REDIS_ERR_IO &&
                      (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK);
        if (timeout) {
            snprintf(err, UPSTREAM_ERR_MAX, "no reply within %lld ms",
                     (long long)u->cfg->command_timeout_ms);
        } else {
            snprintf(err, UPSTREAM_ERR_MAX, "connection lost: %.200s",
                     s->ctx->errstr);
        }
        slot_drop(u, s);
        return timeout ? UPSTREAM_ETIMEOUT : UPSTREAM_EDOWN;
    }
    switch (r->type) {
    case REDIS_REPLY_STRING:
        out->data = r->str;
        out->len = r->len;
        out->reply = r;
        return UPSTREAM_OK;
    case REDIS_REPLY_NIL:
        freeReplyObject(r);
        return UPSTREAM_NIL;
    case REDIS_REPLY_ERROR:
        snprintf(err, UPSTREAM_ERR_MAX, "%.*s", (int)r->len, r->str);
        freeReplyObject(r);
        return UPSTREAM_EREPLY;
    default:
        snprintf(err, UPSTREAM_ERR_MAX, "unexpected reply type %d", r->type);
        freeReplyObject(r);
        slot_drop(u, s);
        return UPSTREAM_EDOWN;
    }
}

int
upstream_get(struct upstream *u, const char *key, size_t klen,
             struct upstream_value *out, char *err)
{
    struct slot *s;
    int idx, rc, fresh = 0;

    memset(out, 0, sizeof(*out));
    idx = slot_get(u, err);
    if (idx < 0) {
        return UPSTREAM_ETIMEOUT;
    }
    s = &u->slots[idx];
    if (s->ctx == NULL) {
        if (slot_connect(u, s, err) < 0) {
            rc = UPSTREAM_EDOWN;
            goto out;
        }
        fresh = 1;
    }
    rc = slot_get_key(u, s, key, klen, out, err);
    if (rc == UPSTREAM_EDOWN && !fresh) {
        /* The context was stale (e.g. Redis restarted): one fresh try. */
        if (slot_connect(u, s, err) == 0) {
            rc = slot_get_key(u, s, key, klen, out, err);
        }
    }
out:
    slot_put(u, idx);
    return rc;
}

void
upstream_value_free(struct upstream_value *v)
{
    if (v != NULL && v->reply != NULL) {
        freeReplyObject(v->reply);
        v->reply = NULL;
        v->data = NULL;
    }
}

void
upstream_stats(struct upstream *u, struct upstream_stats *out)
{
    pthread_mutex_lock(&u->lock);
    out->size = u->nslots;
    out->in_use = u->nslots - u->nfree;
    out->errors = u->errors;
    out->reconnects = u->reconnects;
    out->connected = u->connected;
    pthread_mutex_unlock(&u->lock);
}
