/*
 * upstream: pooled hiredis contexts with a shared down/backoff state, and
 * deadline-bounded replies that may arrive late; see upstream.h.
 *
 * Commands are written with redisAppendCommand + redisBufferWrite and
 * replies read with poll() + redisBufferRead + redisGetReplyFromReader, so
 * the wait for a reply ends at the request's deadline without putting the
 * context into an error state.
 */
#include "upstream/upstream.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/log.h"
#include "base/util.h"
#include "upstream/redis.h"

struct slot {
    redisContext *ctx;  /* owned by the thread that borrowed the slot */
    int pending;        /* replies owed by Redis after a timeout */
    uint64_t track_gen; /* tracking stream this ctx registered with; 0 =
                           none */
    int ever_connected;
};

struct upstream {
    const struct config *cfg;
    struct tracking *tracking;
    pthread_mutex_t lock;
    pthread_cond_t slot_free;
    int *free_stack;    /* indices of free slots; lock */
    int nfree;          /* lock */
    int64_t down_until; /* while in the future, fail fast; lock */
    int64_t backoff_ms; /* next backoff; 0 = healthy; lock */
    int probing;        /* one thread is trying to connect; lock */
    char down_reason[UPSTREAM_ERR_MAX]; /* lock */
    long errors;                        /* lock */
    long reconnects;                    /* lock */
    int connected;                      /* slots holding a context; lock */
    int nslots;
    struct slot slots[];
};

struct upstream *
upstream_create(const struct config *cfg, struct tracking *t)
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
    if (util_cond_init(&u->slot_free) != 0) {
        goto fail_cond;
    }
    u->cfg = cfg;
    u->tracking = t;
    u->nslots = cfg->pool_size;
    for (i = u->nslots - 1; i >= 0; i--) {
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

/* Borrows a free slot, waiting until deadline. Returns its index or -1
 * (err set). */
static int
slot_get(struct upstream *u, int64_t deadline, char *err)
{
    struct timespec ts = util_deadline(deadline);
    int idx = -1;

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

/*
 * Gives slot s a live context. Fails fast while the pool is down; after the
 * backoff, one thread probes. Returns 0, or -1 with err set.
 */
static int
slot_connect(struct upstream *u, struct slot *s, char *err)
{
    int64_t now = util_now_ms();
    struct redis_target target;

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

    target = redis_target_of(u->cfg);
    s->ctx = redis_open(&target, err);
    s->pending = 0;
    s->track_gen = 0;

    pthread_mutex_lock(&u->lock);
    u->probing = 0;
    if (s->ctx == NULL) {
        u->errors++;
        if (u->backoff_ms == 0) {
            log_warn("msg=\"redis unreachable\" cause=\"%s\"", err);
        }
        u->backoff_ms = backoff_next(u->backoff_ms);
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

/* Frees the slot's failed context. What it read is no longer tracked. */
static void
slot_drop(struct upstream *u, struct slot *s)
{
    int was_tracked = s->track_gen != 0;

    redisFree(s->ctx);
    s->ctx = NULL;
    s->pending = 0;
    s->track_gen = 0;
    pthread_mutex_lock(&u->lock);
    u->errors++;
    u->connected--;
    pthread_mutex_unlock(&u->lock);
    if (was_tracked) {
        tracking_conn_lost(u->tracking);
    }
}

/*
 * Waits for one reply until deadline. Returns 0 with *reply set,
 * UPSTREAM_ETIMEOUT (the context stays usable; the reply is still owed) or
 * UPSTREAM_EDOWN (the context failed). err is set on errors.
 */
static int
read_reply(struct upstream *u, redisContext *ctx, int64_t deadline,
           redisReply **reply, char *err)
{
    for (;;) {
        struct pollfd pfd = {.fd = ctx->fd, .events = POLLIN};
        void *r = NULL;
        int64_t left;
        int n;

        if (redisGetReplyFromReader(ctx, &r) != REDIS_OK) {
            break;
        }
        if (r != NULL) {
            *reply = r;
            return 0;
        }
        left = deadline - util_now_ms();
        n = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n == 0) {
            snprintf(err, UPSTREAM_ERR_MAX, "no reply within %lld ms",
                     (long long)u->cfg->command_timeout_ms);
            return UPSTREAM_ETIMEOUT;
        }
        if (n < 0 || redisBufferRead(ctx) != REDIS_OK) {
            break;
        }
    }
    snprintf(err, UPSTREAM_ERR_MAX, "connection lost: %.200s",
             ctx->err ? ctx->errstr : strerror(errno));
    return UPSTREAM_EDOWN;
}

/* Reads and discards replies owed from earlier timeouts. */
static int
slot_drain(struct upstream *u, struct slot *s, int64_t deadline, char *err)
{
    while (s->pending > 0) {
        redisReply *r;
        int rc = read_reply(u, s->ctx, deadline, &r, err);

        if (rc != 0) {
            return rc;
        }
        freeReplyObject(r);
        s->pending--;
    }
    return 0;
}

/* Sends a command and waits for its reply. A timeout leaves it owed. */
static int
slot_call(struct upstream *u, struct slot *s, int64_t deadline,
          redisReply **reply, char *err, const char *fmt, ...)
{
    va_list ap;
    int rc, done = 0;

    va_start(ap, fmt);
    rc = redisvAppendCommand(s->ctx, fmt, ap);
    va_end(ap);
    while (rc == REDIS_OK && !done) {
        rc = redisBufferWrite(s->ctx, &done);
    }
    if (rc != REDIS_OK) {
        snprintf(err, UPSTREAM_ERR_MAX, "connection lost: %.200s",
                 s->ctx->errstr);
        return UPSTREAM_EDOWN;
    }
    rc = read_reply(u, s->ctx, deadline, reply, err);
    if (rc == UPSTREAM_ETIMEOUT) {
        s->pending++;
    }
    return rc;
}

/*
 * Registers the slot's connection with the current invalidation stream if
 * it is new to it, and says whether what the connection reads may be
 * cached.
 */
static int
slot_track(struct upstream *u, struct slot *s, int64_t deadline, int *cacheable,
           char *err)
{
    long long id = 0;
    uint64_t gen = 0;
    redisReply *r;
    int rc;

    switch (tracking_state(u->tracking, &id, &gen)) {
    case TRACKING_OFF:
        *cacheable = 1;
        return 0;
    case TRACKING_DOWN:
        *cacheable = 0;
        return 0;
    case TRACKING_UP:
        break;
    }
    if (s->track_gen == gen) {
        *cacheable = 1;
        return 0;
    }
    rc = slot_call(u, s, deadline, &r, err, "CLIENT TRACKING ON REDIRECT %lld",
                   id);
    if (rc != 0) {
        return rc;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        /* E.g. the stream's connection vanished a moment ago. */
        log_debug("msg=\"client tracking refused\" error=\"%.*s\"", (int)r->len,
                  r->str);
        *cacheable = 0;
    } else {
        s->track_gen = gen;
        *cacheable = 1;
    }
    freeReplyObject(r);
    return 0;
}

/* Drain, register, GET on a live context; classifies the outcome. On
 * UPSTREAM_EDOWN the context has been dropped. */
static int
slot_fetch(struct upstream *u, struct slot *s, const char *key, size_t klen,
           int64_t deadline, struct upstream_value *out, char *err,
           int *cacheable)
{
    redisReply *r;
    int rc;

    rc = slot_drain(u, s, deadline, err);
    if (rc == 0) {
        rc = slot_track(u, s, deadline, cacheable, err);
    }
    if (rc == 0) {
        rc = slot_call(u, s, deadline, &r, err, "GET %b", key, klen);
    }
    if (rc != 0) {
        if (rc == UPSTREAM_EDOWN) {
            slot_drop(u, s);
        }
        return rc;
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
             struct upstream_value *out, char *err, int *cacheable)
{
    int64_t deadline = util_now_ms() + u->cfg->command_timeout_ms;
    struct slot *s;
    int idx, rc, fresh = 0;

    memset(out, 0, sizeof(*out));
    *cacheable = 0;
    idx = slot_get(u, deadline, err);
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
    rc = slot_fetch(u, s, key, klen, deadline, out, err, cacheable);
    if (rc == UPSTREAM_EDOWN && !fresh && slot_connect(u, s, err) == 0) {
        /* The context was stale (e.g. Redis restarted): one fresh try. */
        rc = slot_fetch(u, s, key, klen, deadline, out, err, cacheable);
    }
out:
    slot_put(u, idx);
    return rc;
}

int
upstream_ping(struct upstream *u, char *err)
{
    int64_t deadline = util_now_ms() + u->cfg->command_timeout_ms;
    redisReply *r = NULL;
    struct slot *s;
    int idx, rc;

    idx = slot_get(u, deadline, err);
    if (idx < 0) {
        return UPSTREAM_ETIMEOUT;
    }
    s = &u->slots[idx];
    rc = s->ctx == NULL && slot_connect(u, s, err) < 0 ? UPSTREAM_EDOWN : 0;
    if (rc == 0) {
        rc = slot_drain(u, s, deadline, err);
    }
    if (rc == 0) {
        rc = slot_call(u, s, deadline, &r, err, "PING");
    }
    if (rc == UPSTREAM_EDOWN && s->ctx != NULL) {
        slot_drop(u, s);
    } else if (rc == 0 && r->type == REDIS_REPLY_ERROR) {
        snprintf(err, UPSTREAM_ERR_MAX, "%.*s", (int)r->len, r->str);
        rc = UPSTREAM_EREPLY;
    }
    freeReplyObject(r);
    slot_put(u, idx);
    return rc;
}

void
upstream_check_idle(struct upstream *u)
{
    int i;

    for (i = 0; i < u->nslots; i++) {
        struct slot *s = &u->slots[i];
        struct pollfd pfd;
        int j, idle = 0;

        /* Borrow slot i only if it is free right now. */
        pthread_mutex_lock(&u->lock);
        for (j = 0; j < u->nfree; j++) {
            if (u->free_stack[j] == i) {
                u->free_stack[j] = u->free_stack[--u->nfree];
                idle = 1;
                break;
            }
        }
        pthread_mutex_unlock(&u->lock);
        if (!idle) {
            continue;
        }
        if (s->ctx != NULL && s->pending == 0) {
            pfd.fd = s->ctx->fd;
            pfd.events = POLLIN;
            pfd.revents = 0;
            if (poll(&pfd, 1, 0) > 0) {
                /* Nothing is owed, so any readable state is an EOF, an
                 * error or a protocol violation: the context is done. */
                log_debug("msg=\"idle redis connection closed by peer\"");
                slot_drop(u, s);
            }
        }
        slot_put(u, i);
    }
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
    out->down = u->backoff_ms > 0;
    pthread_mutex_unlock(&u->lock);
}
