/*
 * upstream_fetch: the cache's fills on a pooled connection; see
 * upstream.h (upstream_fetch) and pool_int.h.
 *
 * A fill registers the connection with the current invalidation stream
 * first when it is new to it (CLIENT TRACKING ON REDIRECT), then sends
 * PTTL and GET of the key in one round trip (each after ASKING when the
 * slot is being imported), so the entry can expire with the key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "proto/resp.h"
#include "upstream/pool_int.h"
#include "upstream/upstream.h"

/*
 * Registers the slot's connection with the current invalidation stream if
 * it is new to it, and says whether what the connection reads may be
 * cached.
 */
static int
slot_track(struct upstream *u, struct slot *s, int *cacheable, char *err)
{
    long long id = 0;
    uint64_t gen = 0;
    struct one_reply r;
    char cmd[96];
    int rc, n;

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
    n = snprintf(cmd, sizeof(cmd), "CLIENT TRACKING ON REDIRECT %lld\r\n", id);
    rc = slot_call(u, s, cmd, (size_t)n, &r, err);
    if (rc != 0) {
        return rc;
    }
    if (r.is_error) {
        /* E.g. the stream's connection vanished a moment ago. */
        log_debug("msg=\"client tracking refused\" error=\"%s\"", r.text);
        *cacheable = 0;
    } else {
        s->track_gen = gen;
        *cacheable = 1;
    }
    return 0;
}

/* A fill's two replies: PTTL's, then GET's (each after ASKING's +OK when
 * asking). */
struct fetch_sink {
    upstream_value_fn value;
    void *arg;
    int asking; /* replies 0 and 2 are ASKING's */
    int64_t pttl;
    int status; /* enum upstream_status of the GET */
    char *err;
};

static int
fetch_reply(void *arg, size_t i, const char *p, size_t len)
{
    struct fetch_sink *f = arg;
    const char *data, *msg;
    size_t dlen, mlen;
    long long v;

    if (f->asking) {
        if (i % 2 == 0) {
            return 0;
        }
        i /= 2;
    }
    if (i == 0) {
        f->pttl = resp_reply_integer(p, len, &v) && v >= -1 ? v : -2;
        return 0;
    }
    if (resp_reply_error(p, len, &msg, &mlen)) {
        snprintf(f->err, UPSTREAM_ERR_MAX, "%.*s", (int)mlen, msg);
        f->status = UPSTREAM_EREPLY;
        return 0;
    }
    if (!resp_reply_bulk(p, len, &data, &dlen)) {
        snprintf(f->err, UPSTREAM_ERR_MAX, "unexpected reply type '%c'",
                 len > 0 ? p[0] : '?');
        f->status = UPSTREAM_EREPLY;
        return 0;
    }
    if (data == NULL) {
        f->status = UPSTREAM_NIL;
        return 0;
    }
    f->status = UPSTREAM_OK;
    return f->value(f->arg, data, dlen, f->pttl);
}

/* Writes the RESP head of "CMD <key of klen bytes>" (the key and its
 * CRLF follow) into out[0..cap). Returns its length, or 0. */
static size_t
encode_key_command(char *out, size_t cap, const char *cmd, size_t klen)
{
    size_t n = (size_t)snprintf(out, cap, "*2\r\n$%zu\r\n%s\r\n$%zu\r\n",
                                strlen(cmd), cmd, klen);
    return n < cap ? n : 0;
}

/* Register, then PTTL + GET (each after ASKING when asking: ASKING lets
 * only the next command into a slot being imported), on a live
 * connection. */
static int
slot_fetch(struct upstream *u, struct slot *s, const char *key, size_t klen,
           int asking, struct fetch_sink *f, int *cacheable)
{
    static const char ask[] = "*1\r\n$6\r\nASKING\r\n";
    char h1[64], h2[64];
    struct iovec v[8];
    struct outbound o = {.iov = v, .n = 6};
    size_t n1, n2, done;
    int rc, i;

    rc = slot_track(u, s, cacheable, f->err);
    if (rc != 0) {
        return rc;
    }
    n1 = encode_key_command(h1, sizeof(h1), "PTTL", klen);
    n2 = encode_key_command(h2, sizeof(h2), "GET", klen);
    i = 0;
    if (asking) {
        /* ASKING's +OKs are replies 0 and 2, skipped by the sink. */
        v[i++] = (struct iovec){(void *)ask, sizeof(ask) - 1};
        o.n += 2;
    }
    v[i++] = (struct iovec){h1, n1};
    v[i++] = (struct iovec){(void *)key, klen};
    v[i++] = (struct iovec){"\r\n", 2};
    if (asking) {
        v[i++] = (struct iovec){(void *)ask, sizeof(ask) - 1};
    }
    v[i++] = (struct iovec){h2, n2};
    v[i++] = (struct iovec){(void *)key, klen};
    v[i++] = (struct iovec){"\r\n", 2};
    for (i = 0; i < o.n; i++) {
        o.total += v[i].iov_len;
    }
    f->status = UPSTREAM_EDOWN;
    f->asking = asking;
    rc = slot_io(u, s, &o, asking ? 4 : 2, fetch_reply, f, &done, f->err);
    if (rc == UPSTREAM_ENOMEM) {
        return rc;
    }
    return rc != 0 ? rc : f->status;
}

/* Is the idle connection of s still there? Nothing is owed on it, so
 * anything readable is an EOF, an error or stray bytes: it is not. */
struct fetch_call {
    const char *key;
    size_t klen;
    int asking;
    struct fetch_sink f;
    int *cacheable;
};

static int
fetch_fn(struct upstream *u, struct slot *s, void *arg)
{
    struct fetch_call *fc = arg;

    return slot_fetch(u, s, fc->key, fc->klen, fc->asking, &fc->f,
                      fc->cacheable);
}

int
upstream_fetch(struct upstream *u, const char *key, size_t klen, int asking,
               upstream_value_fn value, void *arg, char *err, int *cacheable)
{
    struct fetch_call fc = {
        .key = key,
        .klen = klen,
        .asking = asking,
        .f = {.value = value, .arg = arg, .err = err},
        .cacheable = cacheable,
    };

    *cacheable = 0;
    return with_slot(u, err, 1, fetch_fn, &fc);
}
