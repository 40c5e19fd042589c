/*
 * fetch: cache, then one fill per key on a pipeline, then stale-if-error;
 * see fetch.h. The value is copied once, from the pipeline's input into
 * the new entry.
 */
#include "serve/fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/util.h"
#include "proto/resp_out.h"
#include "serve/account.h"
#include "serve/outcome.h"
#include "serve/proxy.h"
#include "serve/route.h"
#include "upstream/idents.h"
#include "upstream/nodes.h"
#include "upstream/replicas.h"
#include "upstream/upstream.h"

/* One fill: the leader's request for the key, on the key's node. */
struct fill {
    struct ureq u;
    struct proxy *px;
    struct flight *f;
    int db;              /* the database it reads (SELECT) */
    int part;            /* the cache partition it fills (rcmd_partition) */
    struct ident *ident; /* the identity it reads as; NULL: the proxy's */
    int node;
    uint64_t token;    /* the pipeline: the leader's client's own, so its
                          misses go out with its other commands */
    uint8_t asking;    /* ASKING before each of PTTL and GET */
    uint8_t redirects; /* MOVED/ASK followed so far */
    uint8_t was_asked; /* a value read after ASK is not cached */
    int64_t pttl;      /* PTTL's answer; -2 when absent */
    int status;        /* enum outcome of the GET */
    struct cache_entry *entry;
    char *redirect; /* a MOVED/ASK to follow (heap) */
    size_t redirect_len;
    char err[UPSTREAM_ERR_MAX];
    char h1[48], h2[48]; /* PTTL's and GET's heads */
    size_t klen;
    char key[];
};

static void fill_reply(struct ureq *u, uint32_t i, const char *p, size_t len,
                       const struct resp_reply *scan);
static void fill_done(struct ureq *u, int status, const char *err);

static const struct ureq_ops fill_ops = {fill_reply, fill_done};

/* The RESP head of "CMD <key of klen bytes>" into out (0 if cap is too
 * small). */
static size_t
key_head(char *out, size_t cap, const char *cmd, size_t klen)
{
    size_t n = resp_out_array_header(out, cap, 2), m;

    if (n > cap ||
        (m = resp_out_bulk(out + n, cap - n, cmd, strlen(cmd))) > cap - n) {
        return 0;
    }
    n += m;
    m = resp_out_bulk_header(out + n, cap - n, klen);
    return m <= cap - n ? n + m : 0;
}

/* Queues the fill on its node. Returns 0, or -1 with fl->err set. */
static int
fill_send(struct fill *fl)
{
    struct ureq *u = &fl->u;
    struct upstream *pool;
    struct pipe *p;
    int n = 0;

    if (fl->node < 0) {
        snprintf(fl->err, sizeof(fl->err), "%s", route_no_node(fl->px));
        return -1;
    }
    memset(u, 0, sizeof(*u));
    u->ops = &fill_ops;
    u->db = fl->db;
    u->retry = 1;
    u->tracked = 1;
    u->must = 1; /* other clients' lookups wait on it: never refused */
    if (fl->asking) {
        u->iov[n++] =
            (struct iovec){(void *)ROUTE_ASKING, sizeof(ROUTE_ASKING) - 1};
    }
    u->iov[n++] = (struct iovec){
        fl->h1, key_head(fl->h1, sizeof(fl->h1), "PTTL", fl->klen)};
    u->iov[n++] = (struct iovec){fl->key, fl->klen};
    u->iov[n++] = (struct iovec){"\r\n", 2};
    if (fl->asking) {
        u->iov[n++] =
            (struct iovec){(void *)ROUTE_ASKING, sizeof(ROUTE_ASKING) - 1};
    }
    u->iov[n++] = (struct iovec){
        fl->h2, key_head(fl->h2, sizeof(fl->h2), "GET", fl->klen)};
    u->iov[n++] = (struct iovec){fl->key, fl->klen};
    u->iov[n++] = (struct iovec){"\r\n", 2};
    u->iovcnt = n;
    u->nreplies = fl->asking ? 4 : 2;
    fl->pttl = -2;
    fl->status = OUTCOME_EDOWN;
    pool = ident_pool(fl->px->nodes, fl->ident, fl->node);
    p = pool != NULL ? upstream_pipe(pool, 2, fl->token) : NULL;
    if (p == NULL) {
        snprintf(fl->err, sizeof(fl->err), "out of memory");
        return -1;
    }
    return pipe_submit(p, u, 0, 0, fl->err) == PIPE_QUEUED ? 0 : -1;
}

static void
fill_reply(struct ureq *u, uint32_t i, const char *p, size_t len,
           const struct resp_reply *scan)
{
    struct fill *fl = (struct fill *)u;
    const char *data, *msg;
    size_t dlen, mlen;
    long long v;

    (void)scan;
    if (fl->asking) {
        if (i % 2 == 0) {
            return; /* ASKING's +OK */
        }
        i /= 2;
    }
    if (i == 0) {
        fl->pttl = resp_reply_integer(p, len, &v) && v >= -1 ? v : -2;
        return;
    }
    cache_release(fl->entry); /* a fill sent again after a loss */
    fl->entry = NULL;
    if (resp_reply_error(p, len, &msg, &mlen)) {
        if (len > 8 &&
            (memcmp(p, "-ASK ", 5) == 0 || memcmp(p, "-MOVED ", 7) == 0)) {
            free(fl->redirect);
            fl->redirect = malloc(len);
            if (fl->redirect != NULL) {
                memcpy(fl->redirect, p, len);
                fl->redirect_len = len;
            }
        }
        snprintf(fl->err, sizeof(fl->err), "%.*s", (int)mlen, msg);
        fl->status = OUTCOME_EREPLY;
        return;
    }
    if (!resp_reply_bulk(p, len, &data, &dlen)) {
        snprintf(fl->err, sizeof(fl->err), "unexpected reply type '%c'",
                 len > 0 ? p[0] : '?');
        fl->status = OUTCOME_EREPLY;
        return;
    }
    if (data == NULL) {
        fl->status = OUTCOME_NIL;
        return;
    }
    fl->entry = cache_entry_create_db(fl->px->cache, fl->part, fl->key,
                                      fl->klen, data, dlen);
    if (fl->entry == NULL) {
        fl->status = OUTCOME_ENOMEM;
        return;
    }
    if (fl->pttl >= 0) {
        cache_entry_expire_within(fl->px->cache, fl->entry, fl->pttl);
    }
    fl->status = OUTCOME_OK;
}

static void
fill_free(struct fill *fl)
{
    cache_release(fl->entry);
    free(fl->redirect);
    free(fl);
}

/* Sends the fill where its redirect points. Returns 0 when it went. */
static int
fill_follow(struct fill *fl)
{
    int ask,
        node = route_redirect(fl->px, fl->redirect, fl->redirect_len, &ask);

    free(fl->redirect);
    fl->redirect = NULL;
    if (node < 0) {
        return -1; /* relayed as the error it is */
    }
    if (fl->redirects >= NODES_REDIRECTS) {
        snprintf(fl->err, sizeof(fl->err), "too many cluster redirects (%d)",
                 NODES_REDIRECTS);
        return -1;
    }
    fl->redirects++;
    fl->asking = (uint8_t)ask;
    fl->was_asked |= (uint8_t)ask;
    fl->node = node;
    cache_release(fl->entry);
    fl->entry = NULL;
    if (fill_send(fl) < 0) {
        fl->status = OUTCOME_EDOWN;
        nodes_want_refresh(fl->px->nodes);
        return -1;
    }
    return 0;
}

static void
fill_done(struct ureq *u, int status, const char *err)
{
    struct fill *fl = (struct fill *)u;
    struct proxy *px = fl->px;
    int cacheable;

    if (status == 0 && fl->redirect != NULL && fill_follow(fl) == 0) {
        return;
    }
    if (status != 0) {
        fl->status = status;
        snprintf(fl->err, sizeof(fl->err), "%s", err != NULL ? err : "");
        if (status == UPSTREAM_EDOWN) {
            nodes_want_refresh(px->nodes);
        }
    }
    cacheable = fl->status == OUTCOME_OK && fl->u.tracked && !fl->was_asked &&
                fl->pttl >= -1;
    /* pttl < -1: the key did not exist at PTTL and did at GET: a write
     * came in between, whose invalidation may not have reached us yet. */
    if (fl->status == OUTCOME_OK &&
        (int64_t)fl->entry->vlen > proxy_cfg(px)->cache_max_value) {
        cacheable = 0; /* answered (and shared), never stored */
        atomic_fetch_add_explicit(&px->metrics.oversize, 1,
                                  memory_order_relaxed);
    }
    flight_finish(px->flights, fl->f, fl->status, fl->entry, fl->err,
                  cacheable);
    fill_free(fl);
}

/* Starts the fill of the key r holds (its flight's leader); when it
 * cannot start, finishes the flight with why. */
static void
lead(struct proxy *px, struct flight *f, struct rcmd *r, int db, int part)
{
    struct fill *fl = calloc(1, sizeof(*fl) + r->raw_len);
    char err[UPSTREAM_ERR_MAX];

    if (fl == NULL) {
        flight_finish(px->flights, f, OUTCOME_ENOMEM, NULL, "out of memory", 0);
        return;
    }
    fl->px = px;
    fl->f = f;
    fl->db = db;
    fl->part = part;
    fl->ident = r->ident;
    fl->token = r->token;
    fl->klen = r->raw_len;
    memcpy(fl->key, r->raw, r->raw_len);
    fl->node = nodes_for_key(px->nodes, fl->key, fl->klen);
    if (px->replicas != NULL && fl->node >= 0) {
        /* A replica that has what was written of the key (replicas.h),
         * picked by the key, so one replica tracks it. */
        fl->node = replicas_pick(px->replicas, fl->node,
                                 replicas_need(px->replicas, fl->key, fl->klen),
                                 hash_bytes(0, fl->key, fl->klen), fl->err,
                                 sizeof(fl->err));
        if (fl->node < 0) {
            snprintf(err, sizeof(err), "%s", fl->err);
            fill_free(fl);
            flight_finish(px->flights, f, OUTCOME_EDOWN, NULL, err, 0);
            return;
        }
    }
    if (fill_send(fl) < 0) {
        snprintf(err, sizeof(err), "%s", fl->err);
        if (fl->node < 0) {
            nodes_want_refresh(px->nodes);
        }
        fill_free(fl);
        flight_finish(px->flights, f, OUTCOME_EDOWN, NULL, err, 0);
    }
}

/* flight_waiter: the fill's outcome for one lookup record. */
static void
lookup_done(struct flight_waiter *w, int status, struct cache_entry *e,
            const char *err)
{
    struct rcmd *r = (struct rcmd *)((char *)w - offsetof(struct rcmd, fw));
    struct proxy *px = r->px;

    r->status = status;
    r->cache = ACCOUNT_MISS;
    if (e != NULL) {
        cache_retain(e);
        r->entry = e;
    } else if (status == OUTCOME_EDOWN || status == OUTCOME_ETIMEOUT) {
        r->entry = fetch_stale(px, rcmd_partition(r), r->raw, r->raw_len);
        if (r->entry != NULL) {
            r->status = OUTCOME_OK;
            r->cache = ACCOUNT_STALE;
        }
    }
    if (r->status < 0 && r->entry == NULL) {
        rcmd_fail(r, status, err);
    }
    rcmd_complete(r);
}

struct cache_entry *
fetch_hit(struct proxy *px, int part, const char *key, size_t klen)
{
    struct cache_entry *e = cache_get_db(px->cache, part, key, klen);

    if (e != NULL) {
        atomic_fetch_add_explicit(&px->metrics.hits, 1, memory_order_relaxed);
    }
    return e;
}

int
fetch_partition(const struct ident *ident, int db)
{
    int part = idents_partition(ident, db);

    return part >= 0 && (ident == NULL || ident_caches(ident)) ? part : -1;
}

int
fetch_miss(struct proxy *px, struct rcmd *r, int db)
{
    struct flight *f;
    int leader, part = idents_partition(r->ident, db);

    atomic_fetch_add_explicit(&px->metrics.misses, 1, memory_order_relaxed);
    r->db = db;
    r->fw.done = lookup_done;
    f = flight_join(px->flights, part, r->raw, r->raw_len, &r->fw, &leader);
    if (f == NULL) {
        return -1;
    }
    if (leader) {
        /* A fill may have ended between our miss and our join. */
        struct cache_entry *e =
            cache_get_db(px->cache, part, r->raw, r->raw_len);

        if (e != NULL) {
            flight_finish(px->flights, f, OUTCOME_OK, e, NULL, 0);
            cache_release(e);
            return 0;
        }
        lead(px, f, r, db, part);
    }
    return 0;
}

struct cache_entry *
fetch_stale(struct proxy *px, int db, const char *key, size_t klen)
{
    struct cache_entry *e = cache_get_stale_db(px->cache, db, key, klen);

    if (e != NULL) {
        atomic_fetch_add_explicit(&px->metrics.stale, 1, memory_order_relaxed);
    }
    return e;
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
