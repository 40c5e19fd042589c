/*
 * fetch: cache, then one fill per key, then stale-if-error; see fetch.h.
 * The pooled Redis call happens with no lock held; the value is copied
 * once, into the new entry.
 *
 * The fill registry hands outcomes to waiters and never blocks; this path
 * still does (a follower waits for the leader's outcome, at most
 * command_timeout), through a fill_wait: a waiter with a condition
 * variable. A follower that gives up leaves its fill_wait to the flight,
 * which still calls done() on it later, so it is on the heap with two
 * owners (the request and the flight), freed by the last to let go.
 */
#include "serve/fetch.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/standby.h"
#include "serve/proxy.h"
#include "upstream/nodes.h"
#include "upstream/upstream.h"

_Static_assert(FLIGHT_ERR_MAX >= UPSTREAM_ERR_MAX, "error text fits");

static int
status_from_upstream(int rc)
{
    switch (rc) {
    case UPSTREAM_OK:
        return FETCH_MISS;
    case UPSTREAM_NIL:
        return FETCH_NOTFOUND;
    case UPSTREAM_EREPLY:
        return FETCH_EREPLY;
    case UPSTREAM_ETIMEOUT:
        return FETCH_ETIMEOUT;
    case UPSTREAM_ENOMEM:
        return FETCH_ENOMEM;
    default:
        return FETCH_EDOWN;
    }
}

/* A request's place in a fill: what its done() received, for the
 * request's thread to wait on. */
struct fill_wait {
    struct flight_waiter w;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int owners;                /* the request and the flight; lock */
    int done;                  /* the outcome arrived; lock */
    int status;                /* the leader's code; lock */
    struct cache_entry *entry; /* a reference, or NULL; lock */
    char err[FLIGHT_ERR_MAX];  /* lock */
};

static void
fill_wait_free(struct fill_wait *fw)
{
    if (fw == NULL) {
        return;
    }
    cache_release(fw->entry);
    pthread_cond_destroy(&fw->cv);
    pthread_mutex_destroy(&fw->lock);
    free(fw);
}

/* Drops one owner's hold; frees at the last. */
static void
fill_wait_put(struct fill_wait *fw)
{
    int left;

    pthread_mutex_lock(&fw->lock);
    left = --fw->owners;
    pthread_mutex_unlock(&fw->lock);
    if (left == 0) {
        fill_wait_free(fw);
    }
}

/* flight_waiter.done: keeps the outcome and wakes the request. */
static void
fill_wait_done(struct flight_waiter *w, int status, struct cache_entry *e,
               const char *err)
{
    struct fill_wait *fw =
        (struct fill_wait *)((char *)w - offsetof(struct fill_wait, w));

    if (e != NULL) {
        cache_retain(e);
    }
    pthread_mutex_lock(&fw->lock);
    fw->status = status;
    fw->entry = e;
    snprintf(fw->err, sizeof(fw->err), "%s", err);
    fw->done = 1;
    pthread_cond_signal(&fw->cv);
    pthread_mutex_unlock(&fw->lock);
    fill_wait_put(fw);
}

static struct fill_wait *
fill_wait_create(void)
{
    struct fill_wait *fw = calloc(1, sizeof(*fw));

    if (fw == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&fw->lock, NULL) != 0) {
        free(fw);
        return NULL;
    }
    if (util_cond_init(&fw->cv) != 0) {
        pthread_mutex_destroy(&fw->lock);
        free(fw);
        return NULL;
    }
    fw->w.done = fill_wait_done;
    fw->owners = 2;
    return fw;
}

/* Follower: waits for the leader's outcome until deadline_ms. Returns 0
 * with *status, out->entry (a reference or NULL) and out->err set, or -1
 * when the deadline passed first. */
static int
follow(struct fill_wait *fw, int64_t deadline_ms, int *status,
       struct fetch_result *out)
{
    struct timespec ts = util_deadline(deadline_ms);
    int rc = -1;

    pthread_mutex_lock(&fw->lock);
    while (!fw->done) {
        if (pthread_cond_timedwait(&fw->cv, &fw->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    if (fw->done) {
        *status = fw->status;
        out->entry = fw->entry;
        fw->entry = NULL;
        memcpy(out->err, fw->err, sizeof(out->err));
        rc = 0;
    }
    pthread_mutex_unlock(&fw->lock);
    return rc;
}

/* What the leader's lookup made of Redis's reply. */
struct lead_value {
    struct proxy *px;
    const char *key;
    size_t klen;
    struct cache_entry *entry; /* the new entry, or NULL */
    int64_t pttl_ms;           /* the key's own lifetime left; -1 = none */
};

/* upstream_value_fn: the value, straight from the reply, into a new
 * entry that expires no later than the key itself does in Redis. */
static int
make_entry(void *arg, const char *data, size_t len, int64_t pttl_ms)
{
    struct lead_value *lv = arg;

    lv->pttl_ms = pttl_ms;
    lv->entry = cache_entry_create(lv->px->cache, lv->key, lv->klen, data, len);
    if (lv->entry == NULL) {
        return -1;
    }
    if (pttl_ms >= 0) {
        cache_entry_expire_within(lv->px->cache, lv->entry, pttl_ms);
    }
    return 0;
}

/* Leader of a fill: asks Redis, publishes the outcome to the followers. */
static int
lead(struct proxy *px, struct flight *f, const char *key, size_t klen,
     struct fetch_result *out)
{
    struct lead_value lv = {px, key, klen, NULL, -1};
    int rc, cacheable;

    /* A fill may have ended between our miss and our join. */
    out->entry = cache_get(px->cache, key, klen);
    if (out->entry != NULL) {
        flight_finish(px->flights, f, FETCH_MISS, out->entry, NULL, 0);
        return FETCH_HIT;
    }
    rc = nodes_fetch(px->nodes, key, klen, make_entry, &lv, out->err,
                     &cacheable);
    out->entry = lv.entry;
    rc = rc == UPSTREAM_ENOMEM ? FETCH_ENOMEM : status_from_upstream(rc);
    if (rc == FETCH_MISS && lv.pttl_ms < -1) {
        /* The key did not exist at PTTL and did at GET: a write came in
         * between; its invalidation may not have reached us yet. */
        cacheable = 0;
    }
    if (rc == FETCH_MISS &&
        (int64_t)out->entry->vlen > proxy_cfg(px)->cache_max_value) {
        /* Answered (and shared with the followers), never stored. */
        cacheable = 0;
        atomic_fetch_add_explicit(&px->metrics.oversize, 1,
                                  memory_order_relaxed);
    }
    if (rc != FETCH_MISS && out->entry != NULL) {
        cache_release(out->entry);
        out->entry = NULL;
    }
    flight_finish(px->flights, f, rc, out->entry, out->err, cacheable);
    return rc;
}

/* The miss path: joins or leads the fill of key. Returns its outcome. */
static int
fill(struct proxy *px, const char *key, size_t klen, struct fetch_result *out)
{
    struct fill_wait *fw = fill_wait_create();
    struct flight *f = NULL;
    int rc, leader;

    if (fw != NULL) {
        f = flight_join(px->flights, 0, key, klen, &fw->w, &leader);
    }
    if (f == NULL) {
        fill_wait_free(fw); /* never joined: ours alone */
        snprintf(out->err, sizeof(out->err), "out of memory");
        return FETCH_ENOMEM;
    }
    if (leader) {
        rc = lead(px, f, key, klen, out);
    } else if (follow(fw, util_now_ms() + proxy_cfg(px)->command_timeout_ms,
                      &rc, out) < 0) {
        rc = FETCH_ETIMEOUT;
        snprintf(out->err, sizeof(out->err),
                 "no reply within %lld ms (waiting for another request's "
                 "fetch of this key)",
                 (long long)proxy_cfg(px)->command_timeout_ms);
    }
    fill_wait_put(fw);
    return rc;
}

int
fetch_get(struct proxy *px, const char *key, size_t klen,
          struct fetch_result *out)
{
    int rc;

    out->err[0] = '\0';
    out->entry = cache_get(px->cache, key, klen);
    if (out->entry != NULL) {
        atomic_fetch_add_explicit(&px->metrics.hits, 1, memory_order_relaxed);
        return FETCH_HIT;
    }
    atomic_fetch_add_explicit(&px->metrics.misses, 1, memory_order_relaxed);
    /* Redis, or another request's fill, may keep this worker waiting. */
    standby_block_begin();
    rc = fill(px, key, klen, out);
    standby_block_end();
    if (rc == FETCH_EDOWN || rc == FETCH_ETIMEOUT) {
        out->entry = cache_get_stale(px->cache, key, klen);
        if (out->entry != NULL) {
            atomic_fetch_add_explicit(&px->metrics.stale, 1,
                                      memory_order_relaxed);
            return FETCH_STALE;
        }
    }
    return rc;
}

static void
release_entry(void *e)
{
    cache_release(e);
}

int
fetch_write_value(struct conn *c, struct cache_entry *e)
{
    if (e->vlen <= FETCH_COPY_MAX) {
        return conn_write_buf(c, cache_entry_value(e), e->vlen);
    }
    cache_retain(e);
    return conn_write_ref(c, cache_entry_value(e), e->vlen, release_entry, e);
}
