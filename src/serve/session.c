/*
 * session: private connections relayed without blocking; see session.h.
 */
#include "serve/session.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/util.h"
#include "net/standby.h"
#include "net/waiter.h"
#include "proto/resp_encode.h"
#include "proto/resp_reply.h"
#include "serve/proxy.h"
#include "upstream/nodes.h"
#include "upstream/redis.h"
#include "upstream/spares.h"

#define SESSION_READ 16384 /* bytes asked of recv at a time */

struct session {
    redisContext *ctx;
    int fd;
    int want_write; /* EPOLLOUT asked for on fd */
    char *out;      /* to Redis: out[sent..len) */
    size_t sent, len, cap;
    char *in; /* from Redis: in[start..end) */
    size_t start, end, icap;
    struct resp_reply scan; /* the reply at in + start */
    size_t owed;
    size_t silent; /* the next replies owed are not relayed */
    int subscribed, monitor, resetting;
    int multi, watching; /* MULTI sent and no EXEC/DISCARD yet; WATCH */
    int unsubscribing;   /* an unsubscribe sent, its last confirmation
                            (count 0) not come yet */
    int settings;        /* CLIENT, HELLO, READONLY...: the connection has
                            settings of its own for as long as it lives */
    int node;            /* the node it is pinned to */
    struct conn *c;
};

struct session *
session_open(struct proxy *px, struct conn *c, int node, char *err)
{
    struct session *s;

    if (atomic_fetch_add(&px->metrics.sessions_open, 1) >=
        proxy_cfg(px)->max_sessions) {
        atomic_fetch_sub(&px->metrics.sessions_open, 1);
        snprintf(err, REDIS_ERR_MAX, "max number of sessions reached");
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, REDIS_ERR_MAX, "out of memory");
        goto fail;
    }
    s->ctx = px->spares != NULL ? spares_take(px->spares) : NULL;
    if (s->ctx == NULL) {
        standby_block_begin();
        s->ctx = redis_open(nodes_target(px->nodes, node), err);
        standby_block_end();
    }
    if (s->ctx == NULL) {
        goto fail;
    }
    s->fd = s->ctx->fd;
    s->c = c;
    s->node = node;
    resp_reply_init(&s->scan);
    if (util_set_nonblock(s->fd) < 0 ||
        waiter_watch(px->waiter, c, s->fd) < 0) {
        snprintf(err, REDIS_ERR_MAX, "cannot watch the session's connection");
        redisFree(s->ctx);
        goto fail;
    }
    atomic_fetch_add_explicit(&px->metrics.sessions, 1, memory_order_relaxed);
    return s;

fail:
    free(s);
    atomic_fetch_sub(&px->metrics.sessions_open, 1);
    return NULL;
}

void
session_close(struct proxy *px, struct session *s)
{
    if (s == NULL) {
        return;
    }
    waiter_unwatch(px->waiter, s->fd);
    redisFree(s->ctx);
    free(s->out);
    free(s->in);
    free(s);
    atomic_fetch_sub(&px->metrics.sessions_open, 1);
}

static int
named(const struct resp_command *cmd, const char *name)
{
    size_t n = strlen(name);

    return cmd->argc > 0 && cmd->argv[0].len == n &&
           strncasecmp(cmd->argv[0].p, name, n) == 0;
}

/* The state a command sent gives the connection. */
static void
track_state(struct session *s, const struct resp_command *cmd)
{
    if (named(cmd, "MULTI")) {
        s->multi = 1;
    } else if (named(cmd, "EXEC") || named(cmd, "DISCARD") ||
               named(cmd, "RESET")) {
        s->multi = s->watching = 0;
    } else if (named(cmd, "WATCH") && !s->multi) {
        s->watching = 1;
    } else if (named(cmd, "UNWATCH")) {
        s->watching = 0;
    } else if (named(cmd, "CLIENT") || named(cmd, "HELLO") ||
               named(cmd, "READONLY") || named(cmd, "READWRITE")) {
        s->settings = 1;
    }
}

int
session_send(struct session *s, const struct resp_command *cmd, const char *buf,
             enum session_kind kind)
{
    if (s->sent > 0 && s->sent == s->len) {
        s->sent = s->len = 0;
    }
    if (resp_encode(cmd, buf, &s->out, &s->len, &s->cap) < 0) {
        return -1;
    }
    track_state(s, cmd);
    switch (kind) {
    case SESSION_PUBSUB:
        /* Subscribed from now: the confirmations come later. */
        if (named(cmd, "UNSUBSCRIBE") || named(cmd, "PUNSUBSCRIBE") ||
            named(cmd, "SUNSUBSCRIBE")) {
            s->unsubscribing = 1;
        } else {
            s->subscribed = 1;
        }
        break;
    case SESSION_MONITOR:
        s->monitor = 1;
        s->owed++;
        break;
    case SESSION_RESET:
        s->resetting = 1;
        s->owed++;
        break;
    case SESSION_SILENT:
        s->silent++;
        s->owed++;
        break;
    default:
        s->owed++;
        break;
    }
    return 0;
}

/* The bulk-string first element of a pub/sub array reply, if any. */
static int
pubsub_kind(const char *r, size_t len, const char **kind, size_t *klen)
{
    const char *nl;

    if (len < 8 || r[0] != '*' || (nl = memchr(r, '\n', len)) == NULL) {
        return 0;
    }
    return resp_reply_bulk(nl + 1, len - (size_t)(nl + 1 - r), kind, klen) &&
           *kind != NULL;
}

static int
kind_is(const char *k, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(k, want, n) == 0;
}

/* The count at the end of a (un)subscribe confirmation: ":<n>\r\n". */
static long long
trailing_count(const char *r, size_t len)
{
    const char *colon = len > 3 ? memrchr(r, ':', len) : NULL;
    long long v = -1;

    if (colon != NULL) {
        resp_reply_integer(colon, len - (size_t)(colon - r), &v);
    }
    return v;
}

/* What one reply from Redis is to the session. */
enum reply_role {
    REPLY_RELAY, /* relayed */
    REPLY_DROP,  /* the reply to a SESSION_SILENT command */
    REPLY_ENDS,  /* the +RESET that ends the session: relayed */
};

/* Updates the session's state for one reply and says what it is. */
static enum reply_role
account_reply(struct session *s, const char *r, size_t len)
{
    const char *k;
    size_t kl;

    if (pubsub_kind(r, len, &k, &kl)) {
        if (kind_is(k, kl, "subscribe") || kind_is(k, kl, "psubscribe") ||
            kind_is(k, kl, "ssubscribe")) {
            s->subscribed = 1;
            return REPLY_RELAY;
        }
        if (kind_is(k, kl, "unsubscribe") || kind_is(k, kl, "punsubscribe") ||
            kind_is(k, kl, "sunsubscribe")) {
            if (trailing_count(r, len) == 0) {
                s->subscribed = s->unsubscribing = 0;
            }
            return REPLY_RELAY;
        }
        if (kind_is(k, kl, "message") || kind_is(k, kl, "pmessage") ||
            kind_is(k, kl, "smessage")) {
            return REPLY_RELAY; /* pushed, not a reply */
        }
    }
    if (s->owed > 0) {
        s->owed--;
    }
    if (s->silent > 0) {
        s->silent--;
        return REPLY_DROP;
    }
    if (s->resetting && len == 8 && memcmp(r, "+RESET\r\n", 8) == 0) {
        s->resetting = 0;
        return REPLY_ENDS;
    }
    return REPLY_RELAY;
}

/* Writes one reply to c: as it is, or, for a redirect (the session's node
 * no longer serves that slot, or never did), an error that says so (the
 * map learns a MOVED). */
static int
relay_one(struct proxy *px, struct conn *c, const struct session *s,
          const char *r, size_t len)
{
    char line[512];
    int ask, n;

    if (len < 8 || r[0] != '-' ||
        (memcmp(r + 1, "MOVED ", 6) != 0 && memcmp(r + 1, "ASK ", 4) != 0)) {
        return conn_write_buf(c, r, len);
    }
    nodes_redirect(px->nodes, r + 1, len - 3, &ask);
    n = snprintf(line, sizeof(line),
                 "-ERR this connection's session is pinned to the cluster "
                 "node %s:%d, which does not serve that key's slot (keys "
                 "of one session must live on one node: use a hash tag)\r\n",
                 nodes_target(px->nodes, s->node)->host,
                 nodes_target(px->nodes, s->node)->port);
    return conn_write_buf(c, line, (size_t)n);
}

/* Writes what is queued for Redis. Returns 0, or -1 when the connection
 * failed. */
static int
pump_out(struct proxy *px, struct conn *c, struct session *s)
{
    while (s->sent < s->len) {
        ssize_t n =
            send(s->fd, s->out + s->sent, s->len - s->sent, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!s->want_write) {
                if (waiter_want_write(px->waiter, c, s->fd) < 0) {
                    return -1;
                }
                s->want_write = 1;
            }
            return 0;
        }
        if (n < 0) {
            return -1;
        }
        s->sent += (size_t)n;
    }
    s->sent = s->len = 0;
    return 0;
}

/* Relays every complete reply in the input to c, while c takes output.
 * Returns 0, SESSION_ENDED, or SESSION_ERR. */
static int
relay(struct proxy *px, struct conn *c, struct session *s)
{
    while (!conn_out_full(c)) {
        const char *r = s->in + s->start;
        int rc = resp_reply_scan(&s->scan, r, s->end - s->start);
        size_t len = s->scan.pos;
        enum reply_role role;

        if (rc == RESP_INCOMPLETE) {
            return 0;
        }
        if (rc != RESP_OK) {
            return SESSION_ERR;
        }
        role = account_reply(s, r, len);
        if (role != REPLY_DROP && relay_one(px, c, s, r, len) < 0) {
            return SESSION_ERR;
        }
        s->start += len;
        resp_reply_init(&s->scan);
        if (role == REPLY_ENDS) {
            return SESSION_ENDED;
        }
    }
    return 0;
}

int
session_pump(struct proxy *px, struct conn *c, struct session *s)
{
    int rc;

    if (pump_out(px, c, s) < 0) {
        return SESSION_ERR;
    }
    for (;;) {
        ssize_t n;

        rc = relay(px, c, s);
        if (rc != 0 || conn_out_full(c)) {
            return rc;
        }
        if (s->start == s->end) {
            s->start = s->end = 0;
            if (s->icap > (1u << 20)) {
                free(s->in); /* a large reply passed: do not keep it */
                s->in = NULL;
                s->icap = 0;
            }
        } else if (s->start > 0) {
            memmove(s->in, s->in + s->start, s->end - s->start);
            s->end -= s->start;
            s->start = 0;
        }
        if (s->icap - s->end < SESSION_READ) {
            size_t cap = s->icap == 0 ? SESSION_READ * 2 : s->icap * 2;
            char *np = realloc(s->in, cap);

            if (np == NULL) {
                return SESSION_ERR;
            }
            s->in = np;
            s->icap = cap;
        }
        do {
            n = recv(s->fd, s->in + s->end, s->icap - s->end, 0);
        } while (n < 0 && errno == EINTR);
        if (n == 0) {
            return SESSION_EOF;
        }
        if (n < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK ? SESSION_OK
                                                           : SESSION_EOF;
        }
        s->end += (size_t)n;
        /* What is read and not yet relayed is held for the client too. */
        if (conn_output_check(c, s->end - s->start) < 0) {
            return SESSION_ERR;
        }
    }
}

size_t
session_owed(const struct session *s)
{
    return s->owed;
}

int
session_waiting(const struct session *s)
{
    return s->owed > 0 || s->subscribed || s->monitor;
}

int
session_monitoring(const struct session *s)
{
    return s->monitor;
}

int
session_node(const struct session *s)
{
    return s->node;
}

int
session_in_transaction(const struct session *s)
{
    return s->multi || s->watching;
}

int
session_idle(const struct session *s)
{
    return s->owed == 0 && s->sent == s->len && !s->subscribed &&
           !s->unsubscribing && !s->monitor && !s->resetting && !s->multi &&
           !s->watching && !s->settings;
}

int
session_subscribed(const struct session *s)
{
    return s->subscribed;
}

int
session_resetting(const struct session *s)
{
    return s->resetting;
}
