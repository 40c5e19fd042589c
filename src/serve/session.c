/*
 * session: private connections relayed without blocking; see session.h.
 * The connection is an rconn (upstream/rconn.h) driven by its conn's
 * owner: opened without waiting, its bytes moved as the waiter reports
 * its socket ready, its replies framed by the one reply scanner.
 */
#include "serve/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/util.h"
#include "cache/flight.h"
#include "net/waiter.h"
#include "proto/resp_encode.h"
#include "proto/resp_reply.h"
#include "serve/clientmap.h"
#include "serve/failover.h"
#include "serve/outcome.h"
#include "serve/proxy.h"
#include "upstream/commands.h"
#include "upstream/idents.h"
#include "upstream/nodes.h"
#include "upstream/rconn.h"
#include "upstream/replicas.h"
#include "upstream/spares.h"

#define SESSION_WROTE_MAX 32 /* keys remembered as written; beyond, all */

struct session {
    struct rconn rc;
    int watched; /* rc's socket is watched for the conn */
    char *out;   /* to Redis: out[sent..len) */
    size_t sent, len, cap;
    size_t owed;
    size_t queued; /* commands sent before the connection opened: each
                      gets an error if it never does */
    size_t silent; /* the next replies owed are not relayed */
    int subscribed, monitor, resetting;
    int multi, watching; /* MULTI sent and no EXEC/DISCARD yet; WATCH */
    int unsubscribing;   /* an unsubscribe sent, its last confirmation
                            (count 0) not come yet */
    int settings;        /* CLIENT, READONLY...: the connection has
                            settings of its own for as long as it lives */
    int node;            /* the node it is pinned to */
    uint64_t client_id;  /* its client's CLIENT ID */
    int mapped;          /* in the clientmap under client_id */
    struct conn *c;
    struct failover_pin pin;           /* sentinel mode: ended when the master
                                          moves off its node */
    uint64_t wrote[SESSION_WROTE_MAX]; /* replica reads: keys written,
                                          pending (written.h) */
    int nwrote;
    int held; /* replica reads: it holds every read on the master */
};

static int
named(const struct resp_command *cmd, const char *name)
{
    size_t n = strlen(name);

    return cmd->argc > 0 && cmd->argv[0].len == n &&
           strncasecmp(cmd->argv[0].p, name, n) == 0;
}

/* Queues the n (at most RESP_KEEP_ARGS) words a silently: their reply
 * is dropped. */
static int
send_words(struct session *s, const struct resp_arg *a, size_t n)
{
    struct resp_command cmd = {.argc = n, .is_inline = 1, .words = a};
    size_t i;

    for (i = 0; i < n; i++) {
        cmd.argv[i] = a[i];
    }
    return session_send(s, &cmd, NULL, SESSION_SILENT);
}

int
session_send_setting(struct session *s, const char *name, int value)
{
    char num[16];
    struct resp_arg a[2] = {{name, strlen(name)}, {num, 0}};

    a[1].len = (size_t)snprintf(num, sizeof(num), "%d", value);
    return send_words(s, a, 2);
}

/* Its connection is open: its client may be named by CLIENT UNBLOCK and
 * CLIENT KILL ID from now on (clientmap.h). */
static void
opened(struct proxy *px, struct session *s)
{
    s->mapped =
        s->rc.redis_id > 0 && clientmap_set(px->clientmap, s->client_id,
                                            s->node, s->rc.redis_id) == 0;
}

int
session_auth(struct session *s, const char *user, const char *pass)
{
    struct resp_arg a[3] = {{"AUTH", 4}};
    size_t n = 1;

    if (user != NULL) {
        a[n++] = (struct resp_arg){user, strlen(user)};
    }
    a[n++] = (struct resp_arg){pass, strlen(pass)};
    return send_words(s, a, n);
}

struct session *
session_open(struct proxy *px, struct conn *c, int node, int proto, int db,
             uint64_t client_id, struct ident *ident, char *err)
{
    const struct redis_target *t = ident_target(px->nodes, ident, node);
    struct rconn_setup setup = {.proto = proto, .db = db, .client_id = 1};
    struct session *s;

    if (t == NULL) {
        snprintf(err, REDIS_ERR_MAX, "out of memory");
        return NULL;
    }
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
    rconn_init(&s->rc);
    s->c = c;
    s->node = node;
    s->client_id = client_id;
    if (px->spares != NULL && spares_take(px->spares, t, &s->rc) == 0) {
        opened(px, s);
        /* A spare speaks RESP2 in the target's database. */
        if ((proto == 3 && session_send_setting(s, "HELLO", 3) < 0) ||
            (db != t->db && session_send_setting(s, "SELECT", db) < 0)) {
            snprintf(err, REDIS_ERR_MAX, "out of memory");
            goto fail_conn;
        }
    } else if (rconn_start(&s->rc, t, &setup) == RCONN_FAILED) {
        snprintf(err, REDIS_ERR_MAX, "%s", rconn_error(&s->rc));
        goto fail_conn;
    }
    if (waiter_watch(px->waiter, c, s->rc.fd) < 0 ||
        waiter_want_write(px->waiter, c, s->rc.fd) < 0) {
        snprintf(err, REDIS_ERR_MAX, "cannot watch the session's connection");
        goto fail_conn;
    }
    s->watched = 1;
    failover_pin(px, &s->pin, node, c->slot, c->gen);
    atomic_fetch_add_explicit(&px->metrics.sessions, 1, memory_order_relaxed);
    return s;

fail_conn:
    if (s->mapped) {
        clientmap_forget(px->clientmap, s->client_id);
    }
    rconn_close(&s->rc);
    free(s->out);
fail:
    free(s);
    atomic_fetch_sub(&px->metrics.sessions_open, 1);
    return NULL;
}

void
session_writes(struct proxy *px, struct session *s, const struct rcmd *w)
{
    uint32_t i;

    if (px->replicas == NULL) {
        return;
    }
    if (!w->known || w->keys_asked ||
        ((w->flags & CMD_WRITE) && w->nkeys == 0)) {
        if (!s->held) {
            replicas_hold(px->replicas);
            s->held = 1;
        }
        flights_invalidate_all(px->flights);
        return;
    }
    for (i = 0; i < w->nkeys; i++) {
        struct resp_arg k = rcmd_key(w, i);
        uint64_t h = written_hash(k.p, k.len);

        if (!w->wkey[i]) {
            continue;
        }
        if (s->nwrote < SESSION_WROTE_MAX &&
            replicas_pending(px->replicas, h) == 0) {
            s->wrote[s->nwrote++] = h;
        } else if (!s->held) {
            replicas_hold(px->replicas);
            s->held = 1;
        }
        flights_invalidate(px->flights, k.p, k.len); /* after the mark */
    }
}

/* What s wrote is in Redis now (or never will be): replicas may serve
 * it once they have it. */
static void
writes_done(struct proxy *px, struct session *s)
{
    int i;

    for (i = 0; i < s->nwrote; i++) {
        replicas_wrote_hash(px->replicas, s->wrote[i]);
    }
    if (s->held) {
        replicas_unhold(px->replicas);
    }
    s->nwrote = 0;
    s->held = 0;
}

void
session_close(struct proxy *px, struct session *s)
{
    if (s == NULL) {
        return;
    }
    if (px->replicas != NULL) {
        writes_done(px, s);
    }
    if (s->watched) {
        waiter_unwatch(px->waiter, s->rc.fd);
        failover_unpin(px, &s->pin);
    }
    if (s->mapped) {
        clientmap_forget(px->clientmap, s->client_id);
    }
    rconn_close(&s->rc);
    free(s->out);
    free(s);
    atomic_fetch_sub(&px->metrics.sessions_open, 1);
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
    } else if (named(cmd, "CLIENT") || named(cmd, "READONLY") ||
               named(cmd, "READWRITE")) {
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
    if (s->rc.state != RCONN_READY) {
        s->queued++;
    }
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
        if (s->rc.state != RCONN_READY) {
            s->queued--; /* nobody is owed an error for it */
        }
        break;
    default:
        s->owed++;
        break;
    }
    return 0;
}

/* The bulk-string first element of a pub/sub message, if any: a RESP2
 * array or a RESP3 push. */
static int
pubsub_kind(const char *r, size_t len, const char **kind, size_t *klen)
{
    const char *nl;

    if (len < 8 || (r[0] != '*' && r[0] != '>') ||
        (nl = memchr(r, '\n', len)) == NULL) {
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

/* Updates the session's state for one reply (type: its type byte, '>'
 * for a RESP3 push) and says what it is. */
static enum reply_role
account_reply(struct session *s, const char *r, size_t len, char type)
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
    if (type == '>') {
        return REPLY_RELAY; /* another push (CLIENT TRACKING's): no reply */
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
pump_out(struct session *s)
{
    while (s->sent < s->len) {
        struct iovec v = {s->out + s->sent, s->len - s->sent};
        long n = rconn_writev(&s->rc, &v, 1);

        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            return 0; /* the socket's writability brings us back */
        }
        s->sent += (size_t)n;
    }
    s->sent = s->len = 0;
    return 0;
}

/* Relays every complete reply buffered to c, while c takes output.
 * Returns 0, SESSION_ENDED, or SESSION_ERR. */
static int
relay(struct proxy *px, struct conn *c, struct session *s)
{
    while (!conn_out_full(c)) {
        const char *r;
        size_t len;
        int rc = rconn_reply(&s->rc, &r, &len);
        enum reply_role role;

        if (rc == RESP_INCOMPLETE) {
            return 0;
        }
        if (rc != RESP_OK) {
            return SESSION_ERR;
        }
        role = account_reply(s, r, len, s->rc.scan.type);
        if (role != REPLY_DROP && relay_one(px, c, s, r, len) < 0) {
            return SESSION_ERR;
        }
        rconn_consume(&s->rc);
        if (role == REPLY_ENDS) {
            return SESSION_ENDED;
        }
    }
    return 0;
}

/* The connection could not open: every command queued gets why. */
static int
open_failed(struct conn *c, struct session *s)
{
    char line[UPSTREAM_ERR_MAX + 64];
    size_t n =
        outcome_resp(line, sizeof(line), OUTCOME_EDOWN, rconn_error(&s->rc));

    log_debug("msg=\"session could not open\" cause=\"%s\"",
              rconn_error(&s->rc));
    for (; s->queued > 0; s->queued--) {
        if (conn_write_buf(c, line, n) < 0) {
            return SESSION_ERR;
        }
    }
    return SESSION_FAILED;
}

int
session_pump(struct proxy *px, struct conn *c, struct session *s)
{
    int rc, drained = 0;

    if (s->rc.state == RCONN_CONNECTING || s->rc.state == RCONN_HANDSHAKE) {
        if (rconn_overdue(&s->rc, util_now_ms())) {
            rconn_fail(&s->rc, "no answer within %lld ms",
                       (long long)proxy_cfg(px)->connect_timeout_ms);
        }
        if (rconn_step(&s->rc) != RCONN_READY) {
            return s->rc.state == RCONN_FAILED ? open_failed(c, s) : SESSION_OK;
        }
        s->queued = 0;
        opened(px, s);
    }
    if (pump_out(s) < 0) {
        return SESSION_EOF;
    }
    for (;;) {
        long n;

        rc = relay(px, c, s);
        if (rc != 0 || conn_out_full(c)) {
            return rc;
        }
        if (drained) {
            return SESSION_OK; /* nothing more until the socket's next edge */
        }
        n = rconn_read(&s->rc);
        if (n < 0) {
            return SESSION_EOF;
        }
        if (n == 0) {
            return SESSION_OK;
        }
        /* A short read drained the socket: relay what it read, then wait
         * for the next edge rather than read again to find nothing. */
        drained = s->rc.drained;
        /* What is read and not yet relayed is held for the client too. */
        if (conn_output_check(c, s->rc.end - s->rc.start) < 0) {
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
    return s->owed > 0 || s->subscribed || s->monitor ||
           s->rc.state != RCONN_READY;
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
           !s->watching && !s->settings && s->rc.state == RCONN_READY;
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
