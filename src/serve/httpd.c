/*
 * httpd: the data port's route, GET/HEAD /<key>; see httpd.h.
 *
 * A value's response is the head built on the stack plus the value written
 * from the cache entry itself (the entry's reference keeps it alive after
 * the cache lock is gone), so a hit allocates nothing.
 */
#include "serve/httpd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/hash.h"
#include "base/util.h"
#include "cache/cache.h"
#include "proto/http_out.h"
#include "net/worker.h"
#include "proto/resp_reply.h"
#include "serve/account.h"
#include "serve/auth.h"
#include "serve/fetch.h"
#include "serve/hosts.h"
#include "serve/http_conn.h"
#include "serve/outcome.h"
#include "serve/proxy.h"
#include "serve/rcmd.h"
#include "serve/route.h"
#include "upstream/commands.h"
#include "upstream/nodes.h"

/* cache_entry.note as this module sets it: CACHE_NOTE_DONE, NOTE_UTF8 and
 * a 30-bit hash of the value. */
#define NOTE_UTF8 0x40000000u /* the value is valid UTF-8 */
#define NOTE_HASH 0x3fffffffu

/* The entry's ETag (its value's length and a 30-bit hash of it: a changed
 * value of the same length changes it but for one chance in 2^30) and
 * UTF-8 flag, computed on its first HTTP response and kept on the entry.
 * Two threads may race to compute them; they store the same value. */
static unsigned
entry_notes(struct cache_entry *e, uint64_t *etag)
{
    unsigned n = atomic_load_explicit(&e->note, memory_order_relaxed);

    if (!(n & CACHE_NOTE_DONE)) {
        const char *v = cache_entry_value(e);

        n = CACHE_NOTE_DONE | (http_is_utf8(v, e->vlen) ? NOTE_UTF8 : 0) |
            ((unsigned)hash_bytes(0, v, e->vlen) & NOTE_HASH);
        atomic_store_explicit(&e->note, n, memory_order_relaxed);
    }
    *etag = (uint64_t)e->vlen << 32 | (n & NOTE_HASH);
    return n;
}

/*
 * CORS for the dashboard: the page, served from the admin port, may read
 * the data port's answers. Allowed: an Origin "http(s)://H:<admin port>"
 * whose host H is the host this request was sent to (its Host header,
 * without the port), i.e. the dashboard of this very proxy, and one of
 * the proxy's own names (hosts.h): a page whose name was rebound to the
 * proxy's address is not the dashboard.
 */
static int
origin_allowed(const struct proxy *px, const struct http_request *req)
{
    const char *o = req->origin, *h = req->host;
    size_t olen = req->origin_len, hlen = req->host_len, ohost;
    char port[16];
    int n;

    if (o == NULL || h == NULL || proxy_cfg(px)->admin_port == 0 ||
        olen > 256) {
        return 0;
    }
    n = snprintf(port, sizeof(port), ":%d", proxy_cfg(px)->admin_port);
    if (olen <= (size_t)n || memcmp(o + olen - n, port, (size_t)n) != 0) {
        return 0;
    }
    if (olen > 7 && strncasecmp(o, "http://", 7) == 0) {
        o += 7, olen -= 7;
    } else if (olen > 8 && strncasecmp(o, "https://", 8) == 0) {
        o += 8, olen -= 8;
    } else {
        return 0;
    }
    ohost = olen - (size_t)n;
    hosts_name_of(h, &hlen); /* drop the port, not an IPv6 colon */
    return ohost == hlen && strncasecmp(o, h, hlen) == 0 &&
           hosts_name_allowed(px, o, ohost);
}

/* The CORS lines for an allowed origin, and Vary whenever the admin port
 * makes answers depend on Origin. */
static void
head_cors(struct http_head *h, const struct proxy *px,
          const struct http_request *req)
{
    if (proxy_cfg(px)->admin_port == 0) {
        return;
    }
    http_head_lit(h, "Vary: Origin\r\n");
    if (origin_allowed(px, req)) {
        http_head_lit(h, "Access-Control-Allow-Origin: ");
        http_head_mem(h, req->origin, req->origin_len);
        http_head_lit(h, "\r\nAccess-Control-Expose-Headers: X-Cache, ETag, "
                         "Age\r\n");
    }
}

/* A short text response with the CORS lines after the extra ones. */
static int
send_text(struct proxy *px, struct conn *c, const struct http_request *req,
          int status, const char *extra, const char *msg, int keep_alive)
{
    char lines[HTTP_HEAD_MAX / 2];
    struct http_head h;

    http_head_init(&h, lines, sizeof(lines) - 1);
    http_head_str(&h, extra);
    head_cors(&h, px, req);
    if (h.overflow) {
        return CONN_IO_ERR;
    }
    *h.p = '\0';
    return http_conn_text(c, req, status, lines, msg, keep_alive);
}

/* A response without a body (204), with the CORS lines. */
static int
send_text_status(struct proxy *px, struct conn *c,
                 const struct http_request *req, int status)
{
    char lines[HTTP_HEAD_MAX / 2];
    struct http_head h;
    struct http_reply r = {.status = status, .extra = lines, .no_body = 1};

    http_head_init(&h, lines, sizeof(lines) - 1);
    http_head_lit(&h, "Cache-Control: no-store\r\n");
    head_cors(&h, px, req);
    if (h.overflow) {
        return CONN_IO_ERR;
    }
    *h.p = '\0';
    return http_conn_send(c, req, &r);
}

/* The value's response: 200 (or 304 when If-None-Match matches). */
static int
send_entry(struct proxy *px, struct conn *c, const struct http_request *req,
           struct cache_entry *e, int how, int *status)
{
    char lines[HTTP_HEAD_MAX / 2], tag[HTTP_ETAG_LEN];
    struct http_head h;
    int64_t left = cache_entry_ttl_left(px->cache, e);
    uint64_t etag;
    unsigned notes = entry_notes(e, &etag);
    struct http_reply r = {
        .status = 200,
        .type = (notes & NOTE_UTF8) ? HTTP_TYPE_TEXT : HTTP_TYPE_BINARY,
        .extra = lines,
        .entry = e,
        .no_body = req->method == HTTP_METHOD_HEAD,
    };

    http_head_init(&h, lines, sizeof(lines) - 1);
    http_etag_format(tag, etag);
    http_head_lit(&h, "X-Cache: ");
    if (how == ACCOUNT_HIT) {
        http_head_lit(&h, "HIT");
    } else if (how == ACCOUNT_STALE) {
        http_head_lit(&h, "STALE");
    } else {
        http_head_lit(&h, "MISS");
    }
    http_head_lit(&h, "\r\nETag: ");
    http_head_mem(&h, tag, sizeof(tag));
    if (how == ACCOUNT_STALE || left == 0) {
        http_head_lit(&h, "\r\nCache-Control: max-age=0\r\n");
    } else if (left < 0 || proxy_cfg(px)->cache_capacity == 0) {
        /* Never expires (an invalidation may still come), or the cache is
         * off and the value is not held: revalidate every time. */
        http_head_lit(&h, "\r\nCache-Control: no-cache\r\n");
    } else {
        http_head_lit(&h, "\r\nCache-Control: max-age=");
        http_head_u64(&h, (uint64_t)(left / 1000));
        http_head_lit(&h, "\r\n");
    }
    if (how != ACCOUNT_MISS) {
        http_head_lit(&h, "Age: ");
        http_head_u64(&h, (uint64_t)cache_entry_age_s(px->cache, e));
        http_head_lit(&h, "\r\n");
    }
    head_cors(&h, px, req);
    if (h.overflow) {
        return CONN_IO_ERR;
    }
    *h.p = '\0';
    if (req->if_none_match != NULL &&
        http_etag_matches(req->if_none_match, req->if_none_match_len, tag,
                          sizeof(tag))) {
        r.status = 304;
        r.type = NULL;
        r.no_body = 1;
    }
    *status = r.status;
    return http_conn_send(c, req, &r);
}

/* The ex=SECONDS of a PUT's query string: 0 when absent, -1 when bad. */
static long long
query_ex(const struct http_request *req)
{
    const char *q = req->path + req->path_len;
    const char *end = req->target + req->target_len;
    long long v = 0;

    if (q >= end || *q != '?') {
        return 0;
    }
    for (q++; q < end;) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp != NULL ? amp : end;

        if (stop - q >= 3 && memcmp(q, "ex=", 3) == 0) {
            for (q += 3; q < stop; q++) {
                if (*q < '0' || *q > '9' || v > 100000000000LL) {
                    return -1;
                }
                v = v * 10 + (*q - '0');
            }
            return v > 0 ? v : -1;
        }
        q = stop + (amp != NULL);
    }
    return 0;
}

/* The answer to a PUT or DELETE from its record's outcome. */
static int
finish_write(struct proxy *px, struct conn *c, const struct http_request *req,
             const struct rcmd *r, int *status)
{
    const char *msg;
    size_t mlen;
    long long n = 0;
    char text[256];
    int ka = req->keep_alive;

    if (r->status < 0) {
        *status = outcome_http(r->status, r->err);
        return send_text(px, c, req, *status,
                         *status == 503 ? "Retry-After: 1\r\n" : "",
                         outcome_text(r->status, r->err), ka);
    }
    if (resp_reply_error(r->reply, r->reply_len, &msg, &mlen)) {
        snprintf(text, sizeof(text), "%.*s", (int)mlen, msg);
        *status = account_redis_error_status(text);
        return send_text(px, c, req, *status,
                         *status == 503 ? "Retry-After: 1\r\n" : "", text, ka);
    }
    resp_reply_integer(r->reply, r->reply_len, &n);
    if (req->method == HTTP_METHOD_DELETE && n == 0) {
        *status = 404;
        return send_text(px, c, req, 404, "", "not found", ka);
    }
    *status = 204;
    return send_text_status(px, c, req, 204);
}

/* PUT (SET) or DELETE (DEL) of key, through the same path as forwarded
 * commands: the cache entry is invalidated before the answer. Returns as
 * a route. */
static int
write_key(struct proxy *px, struct conn *c, const struct http_request *req,
          const char *key, size_t klen, const char *body, int *status)
{
    struct resp_arg argv[5];
    struct resp_command cmd = {.is_inline = 1, .words = argv};
    const struct cmd_info *ci;
    char exbuf[24];
    long long ex = 0;
    size_t argc = 0, i;
    struct rcmd *r;
    int rc;

    if (req->method == HTTP_METHOD_PUT) {
        ex = query_ex(req);
        if (ex < 0) {
            *status = 400;
            return send_text(px, c, req, 400, "",
                             "ex must be a positive number of seconds",
                             req->keep_alive);
        }
        argv[argc++] = (struct resp_arg){"SET", 3};
        argv[argc++] = (struct resp_arg){key, klen};
        argv[argc++] = (struct resp_arg){body, (size_t)req->content_length};
        if (ex > 0) {
            argv[argc++] = (struct resp_arg){"EX", 2};
            argv[argc].len = (size_t)snprintf(exbuf, sizeof(exbuf), "%lld", ex);
            argv[argc++].p = exbuf;
        }
    } else {
        argv[argc++] = (struct resp_arg){"DEL", 3};
        argv[argc++] = (struct resp_arg){key, klen};
    }
    cmd.argc = argc;
    for (i = 0; i < argc; i++) {
        cmd.argv[i] = argv[i];
    }
    ci = commands_find(commands_acquire(px->commands), argv, argc);
    r = rcmd_command(px, c, &cmd, NULL, ci, 2, proxy_cfg(px)->redis_db,
                     nodes_is_cluster(px->nodes) ? RCMD_KEYS_ALL
                                                 : RCMD_KEYS_WRITES);
    commands_release(px->commands);
    if (r == NULL) {
        *status = 500;
        return send_text(px, c, req, 500, "", "out of memory", 0);
    }
    r->http = 1;
    r->start_us = util_now_us();
    if (proxy_cfg(px)->forward_timeout_ms > 0) {
        r->deadline_ms = util_now_ms() + proxy_cfg(px)->forward_timeout_ms;
    }
    r->token = worker_index();
    rc = route_submit(px, r, 1);
    if (rc == ROUTE_QUEUED) {
        http_conn_pend(c, r);
        return HTTP_CONN_PENDING;
    }
    rc = finish_write(px, c, req, r, status);
    rcmd_free(r);
    return rc;
}

/* The methods the data port accepts, for Allow. */
static const char *
allowed(const struct proxy *px)
{
    return proxy_cfg(px)->http_writes ? "Allow: GET, HEAD, PUT, DELETE\r\n"
                                      : "Allow: GET, HEAD\r\n";
}

/* A lookup's answer: the value, or why there is none. */
static int
send_lookup(struct proxy *px, struct conn *c, const struct http_request *req,
            struct cache_entry *e, int how, int o, const char *err,
            struct account_req *a)
{
    if (e != NULL) {
        int rc = send_entry(px, c, req, e, how, &a->status);

        a->bytes =
            a->status == 200 && req->method == HTTP_METHOD_GET ? e->vlen : 0;
        return rc;
    }
    if (o == OUTCOME_NIL) {
        a->status = 404;
        return send_text(px, c, req, 404, "", "not found", req->keep_alive);
    }
    a->status = outcome_http(o, err);
    return send_text(px, c, req, a->status,
                     a->status == 503 ? "Retry-After: 1\r\n" : "",
                     outcome_text(o, err), req->keep_alive);
}

int
httpd_key(struct conn *c, const struct http_request *req, char *key, size_t len,
          const char *body, enum metrics_listener listener)
{
    struct proxy *px = c->kind->ctx;
    struct account_req a = {
        .listener = listener,
        .method = req->method_name,
        .method_len = req->method_len,
        .status = 500,
        .cache = ACCOUNT_NONE,
        .start_us = util_now_us(),
    };
    struct cache_entry *e;
    struct rcmd *r;
    long klen;
    int rc, ka = req->keep_alive;
    int writes = proxy_cfg(px)->http_writes;

    if (req->method == HTTP_METHOD_OTHER ||
        (!writes && (req->method == HTTP_METHOD_PUT ||
                     req->method == HTTP_METHOD_DELETE))) {
        a.status = 405;
        rc = send_text(px, c, req, 405, allowed(px), "method not allowed", ka);
        goto done;
    }
    /* The path lies in c->rbuf, which this worker owns: decode in place. */
    klen = http_percent_decode(key, len);
    if (klen <= 0) {
        a.status = 400;
        ka = 0;
        rc = send_text(px, c, req, 400, "",
                       klen < 0 ? "bad percent-encoding in key" : "empty key",
                       0);
        goto done;
    }
    a.key_len = (size_t)klen;
    if (req->method == HTTP_METHOD_PUT || req->method == HTTP_METHOD_DELETE) {
        rc = write_key(px, c, req, key, (size_t)klen, body, &a.status);
        if (rc == HTTP_CONN_PENDING) {
            return rc; /* accounted when answered */
        }
        goto done;
    }
    e = fetch_hit(px, proxy_cfg(px)->redis_db, key, (size_t)klen);
    if (e != NULL) {
        a.cache = ACCOUNT_HIT;
        rc = send_lookup(px, c, req, e, ACCOUNT_HIT, OUTCOME_OK, NULL, &a);
        cache_release(e);
        goto done;
    }
    r = rcmd_new(px, c, RCMD_LOOKUP, (size_t)klen);
    if (r == NULL) {
        a.status = 500;
        rc = send_text(px, c, req, 500, "", "out of memory", 0);
        goto done;
    }
    memcpy(r->raw, key, (size_t)klen);
    r->raw_len = (size_t)klen;
    r->http = 1;
    r->token = worker_index();
    r->start_us = a.start_us;
    r->deadline_ms = util_now_ms() + proxy_cfg(px)->command_timeout_ms;
    if (fetch_miss(px, r, proxy_cfg(px)->redis_db) == 0) {
        http_conn_pend(c, r);
        return HTTP_CONN_PENDING;
    }
    rcmd_free(r);
    a.status = 500;
    rc = send_text(px, c, req, 500, "", "out of memory", 0);
done:
    account_request(px, &a);
    return rc < 0 || !ka ? -1 : 0;
}

int
httpd_finish(struct conn *c, const struct http_request *req, struct rcmd *r,
             int timed_out, enum metrics_listener listener)
{
    struct proxy *px = c->kind->ctx;
    struct account_req a = {
        .listener = listener,
        .method = req->method_name,
        .method_len = req->method_len,
        .status = 500,
        .cache = r->kind == RCMD_LOOKUP ? ACCOUNT_MISS : ACCOUNT_NONE,
        .key_len = r->kind == RCMD_LOOKUP ? r->raw_len : 0,
        .start_us = r->start_us,
    };
    char why[96];
    int rc;

    if (timed_out) {
        struct cache_entry *e =
            r->kind == RCMD_LOOKUP
                ? fetch_stale(px, proxy_cfg(px)->redis_db, r->raw, r->raw_len)
                : NULL;

        snprintf(why, sizeof(why), "redis timeout: no reply within %lld ms",
                 (long long)(r->kind == RCMD_LOOKUP
                                 ? proxy_cfg(px)->command_timeout_ms
                                 : proxy_cfg(px)->forward_timeout_ms));
        if (e != NULL) {
            a.cache = ACCOUNT_STALE;
        }
        rc = send_lookup(px, c, req, e, ACCOUNT_STALE, OUTCOME_ETIMEOUT, why,
                         &a);
        cache_release(e);
    } else if (r->kind == RCMD_LOOKUP) {
        a.cache = r->cache;
        rc = send_lookup(px, c, req, r->entry,
                         r->cache == ACCOUNT_STALE ? ACCOUNT_STALE
                                                   : ACCOUNT_MISS,
                         r->status, r->err, &a);
    } else {
        rc = finish_write(px, c, req, r, &a.status);
    }
    account_request(px, &a);
    return rc < 0 || !req->keep_alive ? -1 : 0;
}

size_t
httpd_body_max(const struct proxy *px, const struct http_request *req)
{
    return req->method == HTTP_METHOD_PUT && proxy_cfg(px)->http_writes
               ? (size_t)proxy_cfg(px)->http_max_body
               : 0;
}

int
httpd_refuse(struct conn *c, const struct http_request *req,
             enum metrics_listener listener)
{
    struct proxy *px = c->kind->ctx;
    struct account_req a = {
        .listener = listener,
        .method = req->method_name,
        .method_len = req->method_len,
        .cache = ACCOUNT_NONE,
        .start_us = util_now_us(),
    };
    char basic[AUTH_BASIC_MAX];
    const char *user;
    size_t ulen;
    int rc, perm;

    if (!auth_required(px) && !hosts_allowed(px, req->host, req->host_len)) {
        /* No password, and a name that is not the proxy's: DNS
         * rebinding, or a client that meant another server. */
        a.status = HOSTS_REFUSED;
        rc = http_conn_text(c, req, HOSTS_REFUSED, "",
                            "this proxy does not answer for that Host",
                            req->keep_alive);
    } else if ((perm = auth_http(px, req, basic, &user, &ulen)) ==
               AUTH_DENIED) {
        a.status = 401;
        auth_failed(px, listener, user, ulen);
        rc = listener == METRICS_HTTP
                 ? send_text(px, c, req, 401, AUTH_HTTP_CHALLENGE,
                             "authentication required", req->keep_alive)
                 : http_conn_text(c, req, 401, AUTH_HTTP_CHALLENGE,
                                  "authentication required", req->keep_alive);
    } else if (perm == AUTH_READ && proxy_cfg(px)->http_writes &&
               (req->method == HTTP_METHOD_PUT ||
                req->method == HTTP_METHOD_DELETE)) {
        /* A read user's write, refused before its body is read. */
        a.status = 403;
        rc = http_conn_text(c, req, 403, "",
                            "this user has no permissions to write",
                            req->keep_alive);
    } else {
        return 0;
    }
    account_request(px, &a);
    return rc < 0 || !req->keep_alive ? -1 : 1;
}

/* routes.admit: the Host and the credentials, before any body. */
static int
admit(struct conn *c, const struct http_request *req)
{
    return httpd_refuse(c, req, METRICS_HTTP) != 0 ? -1 : 0;
}

/* Serves one parsed data-port request (admitted). Returns 0, or -1 to
 * close. */
static int
route(struct conn *c, const struct http_request *req, const char *body)
{
    return httpd_key(c, req, c->rbuf + (req->path - c->rbuf) + 1,
                     req->path_len - 1, body, METRICS_HTTP);
}

static size_t
body_max(struct conn *c, const struct http_request *req)
{
    return httpd_body_max(c->kind->ctx, req);
}

static int
finish(struct conn *c, const struct http_request *req, struct rcmd *r,
       int timed_out)
{
    return httpd_finish(c, req, r, timed_out, METRICS_HTTP);
}

static const struct http_routes routes = {
    .admit = admit, .route = route, .finish = finish, .body_max = body_max};

static int
serve(struct conn *c)
{
    return http_conn_process(c, &routes, METRICS_HTTP);
}

const struct conn_ops httpd_ops = {
    .name = "http",
    .serve = serve,
    .expired = http_conn_expired,
    .busy = http_conn_busy,
    .release = http_conn_release,
};
