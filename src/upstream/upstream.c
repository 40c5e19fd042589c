/*
 * upstream: a node's pipelines and their shared down state; see
 * upstream.h.
 */
#include "upstream/upstream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/log.h"
#include "base/util.h"

#define PROTOS 2 /* RESP2, RESP3 */

struct upstream {
    const struct config_ref *cfg;
    const struct redis_target *target;
    struct tracking *tracking;
    struct waiter *w;
    int size;                        /* pipelines per protocol */
    pthread_mutex_t lock;
    int64_t down_until;              /* while in the future, fail fast; lock */
    int64_t backoff_ms;              /* next backoff; 0 = healthy; lock */
    int probing;                     /* one pipeline is connecting; lock */
    char down_reason[REDIS_ERR_MAX]; /* lock */
    long errors, reconnects, epoch;  /* lock */
    _Atomic(struct pipe *) *pipes;   /* [proto - 2][i], made on first use */
};

struct upstream *
upstream_create(const struct config_ref *cfg, const struct redis_target *target,
                struct tracking *t, struct waiter *w)
{
    struct upstream *u = calloc(1, sizeof(*u));
    int i;

    if (u == NULL) {
        return NULL;
    }
    u->size = config_get(cfg)->pool_size;
    u->pipes = calloc((size_t)u->size * PROTOS, sizeof(u->pipes[0]));
    if (u->pipes == NULL || pthread_mutex_init(&u->lock, NULL) != 0) {
        free(u->pipes);
        free(u);
        return NULL;
    }
    for (i = 0; i < u->size * PROTOS; i++) {
        atomic_init(&u->pipes[i], NULL);
    }
    u->cfg = cfg;
    u->target = target;
    u->tracking = t;
    u->w = w;
    return u;
}

void
upstream_destroy(struct upstream *u)
{
    int i;

    if (u == NULL) {
        return;
    }
    for (i = 0; i < u->size * PROTOS; i++) {
        pipe_destroy(atomic_load(&u->pipes[i]));
    }
    pthread_mutex_destroy(&u->lock);
    free(u->pipes);
    free(u);
}

struct pipe *
upstream_pipe(struct upstream *u, int proto, uint64_t token)
{
    _Atomic(struct pipe *) *at =
        &u->pipes[(proto == 3 ? u->size : 0) + (int)(token % (uint64_t)u->size)];
    struct pipe *p = atomic_load_explicit(at, memory_order_acquire), *none;

    if (p != NULL) {
        return p;
    }
    p = pipe_create(u, proto == 3 ? 3 : 2, u->w);
    if (p == NULL) {
        return NULL;
    }
    none = NULL;
    if (!atomic_compare_exchange_strong_explicit(
            at, &none, p, memory_order_acq_rel, memory_order_acquire)) {
        pipe_destroy(p); /* another thread made it first */
        return none;
    }
    return p;
}

void
upstream_tick(struct upstream *u)
{
    int i;

    for (i = 0; i < u->size * PROTOS; i++) {
        struct pipe *p = atomic_load_explicit(&u->pipes[i],
                                              memory_order_acquire);

        if (p != NULL) {
            pipe_tick(p);
        }
    }
}

int
upstream_may_connect(struct upstream *u, char *err)
{
    int64_t now = util_now_ms();
    int rc = 0;

    pthread_mutex_lock(&u->lock);
    if (u->backoff_ms > 0 && (now < u->down_until || u->probing)) {
        snprintf(err, UPSTREAM_ERR_MAX, "%s", u->down_reason);
        rc = -1;
    } else if (u->backoff_ms > 0) {
        u->probing = 1;
    }
    pthread_mutex_unlock(&u->lock);
    return rc;
}

int
upstream_is_down(struct upstream *u, char *err)
{
    int64_t now = util_now_ms();
    int down;

    pthread_mutex_lock(&u->lock);
    down = u->backoff_ms > 0 && (now < u->down_until || u->probing);
    if (down) {
        snprintf(err, UPSTREAM_ERR_MAX, "%s", u->down_reason);
    }
    pthread_mutex_unlock(&u->lock);
    return down;
}

void
upstream_connect_failed(struct upstream *u, const char *why)
{
    pthread_mutex_lock(&u->lock);
    u->probing = 0;
    u->errors++;
    if (u->backoff_ms == 0) {
        log_warn("msg=\"redis unreachable\" addr=%s:%d cause=\"%s\"",
                 u->target->host, u->target->port, why);
    }
    u->backoff_ms = backoff_next(u->backoff_ms);
    u->down_until = util_now_ms() + u->backoff_ms;
    snprintf(u->down_reason, sizeof(u->down_reason), "%s", why);
    pthread_mutex_unlock(&u->lock);
}

void
upstream_connected(struct upstream *u, int first)
{
    pthread_mutex_lock(&u->lock);
    u->probing = 0;
    if (u->backoff_ms > 0) {
        log_info("msg=\"redis reachable again\" addr=%s:%d", u->target->host,
                 u->target->port);
        u->epoch++;
    }
    u->backoff_ms = 0;
    if (!first) {
        u->reconnects++;
    }
    pthread_mutex_unlock(&u->lock);
}

void
upstream_conn_lost(struct upstream *u, int was_tracked, const char *why)
{
    log_debug("msg=\"redis connection lost\" addr=%s:%d cause=\"%s\"",
              u->target->host, u->target->port, why);
    pthread_mutex_lock(&u->lock);
    u->errors++;
    pthread_mutex_unlock(&u->lock);
    if (was_tracked) {
        tracking_conn_lost(u->tracking);
    }
}

const struct redis_target *
upstream_target(const struct upstream *u)
{
    return u->target;
}

struct tracking *
upstream_tracking(const struct upstream *u)
{
    return u->tracking;
}

int64_t
upstream_connect_timeout(const struct upstream *u)
{
    return config_get(u->cfg)->connect_timeout_ms;
}

void
upstream_stats(struct upstream *u, struct upstream_stats *out)
{
    int i;

    memset(out, 0, sizeof(*out));
    out->size = u->size;
    for (i = 0; i < u->size * PROTOS; i++) {
        struct pipe *p = atomic_load_explicit(&u->pipes[i],
                                              memory_order_acquire);
        struct pipe_stats ps;

        if (p == NULL) {
            continue;
        }
        pipe_stats(p, &ps);
        out->in_use += ps.inflight > 0;
        out->connected += ps.connected;
        out->inflight += ps.inflight;
        out->commands += ps.commands;
        out->writes += ps.writes;
    }
    pthread_mutex_lock(&u->lock);
    out->errors = u->errors;
    out->reconnects = u->reconnects;
    out->epoch = u->epoch;
    out->down = u->backoff_ms > 0;
    pthread_mutex_unlock(&u->lock);
}
