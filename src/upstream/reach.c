/*
 * reach: one server's reachability and what its connections share; see
 * reach.h.
 */
#include "upstream/reach.h"

#include <stdio.h>
#include <string.h>

#include "base/backoff.h"
#include "base/log.h"
#include "base/util.h"
#include "upstream/tracking.h"

int
reach_init(struct reach *rs, const struct config_ref *cfg,
           const struct redis_target *target, struct tracking *t)
{
    memset(rs, 0, sizeof(*rs));
    rs->cfg = cfg;
    rs->target = target;
    rs->tracking = t;
    return pthread_mutex_init(&rs->lock, NULL) == 0 ? 0 : -1;
}

void
reach_deinit(struct reach *rs)
{
    pthread_mutex_destroy(&rs->lock);
}

int
reach_may_connect(struct reach *rs, char *err)
{
    int64_t now = util_now_ms();
    int rc = 0;

    pthread_mutex_lock(&rs->lock);
    if (rs->backoff_ms > 0 && (now < rs->down_until || rs->probing)) {
        snprintf(err, REDIS_ERR_MAX, "%s", rs->down_reason);
        rc = -1;
    } else if (rs->backoff_ms > 0) {
        rs->probing = 1;
    }
    pthread_mutex_unlock(&rs->lock);
    return rc;
}

int
reach_is_down(struct reach *rs, char *err)
{
    int64_t now = util_now_ms();
    int down;

    pthread_mutex_lock(&rs->lock);
    down = rs->backoff_ms > 0 && (now < rs->down_until || rs->probing);
    if (down) {
        snprintf(err, REDIS_ERR_MAX, "%s", rs->down_reason);
    }
    pthread_mutex_unlock(&rs->lock);
    return down;
}

void
reach_connect_failed(struct reach *rs, const char *why)
{
    pthread_mutex_lock(&rs->lock);
    rs->probing = 0;
    rs->errors++;
    if (rs->backoff_ms == 0) {
        log_warn("msg=\"redis unreachable\" addr=%s:%d cause=\"%s\"",
                 rs->target->host, rs->target->port, why);
    }
    rs->backoff_ms = backoff_next(rs->backoff_ms);
    rs->down_until = util_now_ms() + rs->backoff_ms;
    snprintf(rs->down_reason, sizeof(rs->down_reason), "%s", why);
    pthread_mutex_unlock(&rs->lock);
}

void
reach_connected(struct reach *rs, int first)
{
    pthread_mutex_lock(&rs->lock);
    rs->probing = 0;
    if (rs->backoff_ms > 0) {
        log_info("msg=\"redis reachable again\" addr=%s:%d", rs->target->host,
                 rs->target->port);
        rs->epoch++;
    }
    rs->backoff_ms = 0;
    if (!first) {
        rs->reconnects++;
    }
    pthread_mutex_unlock(&rs->lock);
}

void
reach_conn_lost(struct reach *rs, int was_tracked, const char *why)
{
    log_debug("msg=\"redis connection lost\" addr=%s:%d cause=\"%s\"",
              rs->target->host, rs->target->port, why);
    pthread_mutex_lock(&rs->lock);
    rs->errors++;
    pthread_mutex_unlock(&rs->lock);
    if (was_tracked) {
        tracking_conn_lost(rs->tracking);
    }
}

void
reach_tracking_refused(struct reach *rs)
{
    if (atomic_exchange(&rs->untracked, 1) == 0) {
        log_info("msg=\"redis refused CLIENT TRACKING to this user: what it "
                 "reads is not cached\" addr=%s:%d user=%s",
                 rs->target->host, rs->target->port,
                 rs->target->user[0] != '\0' ? rs->target->user : "default");
    }
}

int
reach_untracked(const struct reach *rs)
{
    return atomic_load_explicit(&((struct reach *)rs)->untracked,
                                memory_order_relaxed);
}

int64_t
reach_connect_timeout(const struct reach *rs)
{
    return config_get(rs->cfg)->connect_timeout_ms;
}

void
reach_stats(struct reach *rs, long *errors, long *reconnects, long *epoch,
            int *down)
{
    pthread_mutex_lock(&rs->lock);
    *errors = rs->errors;
    *reconnects = rs->reconnects;
    *epoch = rs->epoch;
    *down = rs->backoff_ms > 0;
    pthread_mutex_unlock(&rs->lock);
}
