/*
 * fetch: cache, then one fill per key, then stale-if-error; see fetch.h.
 * The pooled Redis call happens with no lock held; the value is copied
 * once, into the new entry.
 */
#include "serve/fetch.h"

#include <stdio.h>

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
    struct flight *f;
    int rc, leader;

    f = flight_join(px->flights, key, klen, &leader);
    if (f == NULL) {
        snprintf(out->err, sizeof(out->err), "out of memory");
        return FETCH_ENOMEM;
    }
    if (leader) {
        return lead(px, f, key, klen, out);
    }
    if (flight_wait(px->flights, f,
                    util_now_ms() + proxy_cfg(px)->command_timeout_ms, &rc,
                    &out->entry, out->err) < 0) {
        rc = FETCH_ETIMEOUT;
        snprintf(out->err, sizeof(out->err),
                 "no reply within %lld ms (waiting for another request's "
                 "fetch of this key)",
                 (long long)proxy_cfg(px)->command_timeout_ms);
    }
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
