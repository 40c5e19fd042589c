/*
 * respd: the Redis-protocol port; see respd.h.
 *
 * Each serve() call walks the commands buffered on the conn. Outside a
 * session, the proxy's own commands are answered here (GET from the cache,
 * PING, ECHO, QUIT, AUTH, HELLO's authentication, RESET) and everything
 * else is collected into a forward batch (forward.h) that is sent to Redis
 * on one pooled connection whenever an own command, a session, the end of
 * the buffer or a full batch comes. A command that gives the connection
 * state in Redis opens a session (session.h); from then on the conn's
 * commands go to its private connection, and serve() also relays what
 * Redis sends back. Parsed commands stay in rbuf (`held`) until the batch
 * that refers to them has been sent, and are consumed together.
 */
#include "serve/respd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "cache/cache.h"
#include "proto/resp.h"
#include "serve/account.h"
#include "serve/auth.h"
#include "serve/fetch.h"
#include "serve/cluster_fwd.h"
#include "serve/forward.h"
#include "serve/guard.h"
#include "serve/multi_wait.h"
#include "serve/proxy.h"
#include "serve/resp_local.h"
#include "serve/session.h"
#include "upstream/commands.h"
#include "upstream/nodes.h"

static const char busy_reply[] = "-ERR max number of clients reached\r\n";

#define REPLY_MAX 512 /* replies built on the stack: errors, small bulks */
#define HELLO_ARGS 16 /* HELLO arguments looked at */

/* The per-conn state of a RESP conn (c->proto). */
struct respd_conn {
    struct resp_parser ps;   /* the command being parsed */
    int authed;              /* AUTH passed, or no password required when
                                it opened (guard_let_in decides) */
    struct guard guard;      /* wrong passwords so far */
    struct session *session; /* the private connection, or NULL */
    struct multi_wait mw;    /* cluster: a MULTI waiting for its node */
    size_t held;             /* parsed bytes at rpos not yet consumed */
};

/* What one serve() call works with. */
struct run {
    struct proxy *px;
    struct conn *c;
    struct respd_conn *st;
    struct forward_batch b;
};

static int
reply(struct conn *c, const char *buf, size_t len)
{
    return conn_write_buf(c, buf, len);
}

static int
reply_error(struct conn *c, const char *msg)
{
    char buf[REPLY_MAX];
    size_t n = resp_fmt_error(buf, sizeof(buf), "%s", msg);

    return reply(c, buf, n < sizeof(buf) ? n : 0);
}

static int
reply_bulk(struct conn *c, const char *p, size_t len)
{
    char head[32];
    struct iovec iov[3];

    iov[0].iov_base = head;
    iov[0].iov_len = resp_fmt_bulk_header(head, sizeof(head), len);
    iov[1].iov_base = (void *)p;
    iov[1].iov_len = len;
    iov[2].iov_base = "\r\n";
    iov[2].iov_len = 2;
    return conn_write(c, iov, 3);
}

/* A bulk reply of an entry's value, the value by reference when large. */
static int
reply_entry(struct conn *c, struct cache_entry *e)
{
    char head[32];
    size_t n = resp_fmt_bulk_header(head, sizeof(head), e->vlen);

    if (conn_write_buf(c, head, n) < 0 || fetch_write_value(c, e) < 0) {
        return CONN_IO_ERR;
    }
    return conn_write_buf(c, "\r\n", 2);
}

static int
reply_arity(struct conn *c, const char *lower_name)
{
    char buf[REPLY_MAX];
    size_t n = resp_fmt_error(buf, sizeof(buf),
                              "ERR wrong number of arguments for '%s' command",
                              lower_name);

    return reply(c, buf, n);
}

static int
cmd_get(struct proxy *px, struct conn *c, const struct resp_arg *key,
        struct account_req *o)
{
    struct fetch_result res;
    char buf[REPLY_MAX];
    int rc;

    rc = fetch_get(px, key->p, key->len, &res);
    o->cache = rc == FETCH_HIT     ? ACCOUNT_HIT
               : rc == FETCH_STALE ? ACCOUNT_STALE
                                   : ACCOUNT_MISS;
    switch (rc) {
    case FETCH_HIT:
    case FETCH_MISS:
    case FETCH_STALE:
        o->bytes = res.entry->vlen;
        rc = reply_entry(c, res.entry);
        cache_release(res.entry);
        return rc;
    case FETCH_NOTFOUND:
        return reply(c, "$-1\r\n", 5);
    case FETCH_EREPLY:
        o->status = account_redis_error_status(res.err);
        return reply(c, buf, resp_fmt_error(buf, sizeof(buf), "%s", res.err));
    case FETCH_EDOWN:
        o->status = 503;
        return reply(c, buf,
                     resp_fmt_error(buf, sizeof(buf),
                                    "ERR redis unavailable: %s", res.err));
    case FETCH_ETIMEOUT:
        o->status = 504;
        return reply(
            c, buf,
            resp_fmt_error(buf, sizeof(buf), "ERR redis timeout: %s", res.err));
    default:
        o->status = 500;
        return reply_error(c, "ERR out of memory");
    }
}

/* The first HELLO_ARGS arguments of cmd. */
static size_t
args_of(const struct resp_command *cmd, const char *buf, struct resp_arg *argv)
{
    struct resp_iter it;
    size_t n = 0;

    resp_iter_init(&it, cmd, buf);
    while (n < HELLO_ARGS && resp_iter_next(&it, &argv[n])) {
        n++;
    }
    return n;
}

/* AUTH [user] password, answered by the proxy (Redis 7's texts). */
static int
cmd_auth(struct run *r, const struct resp_command *cmd, const char *buf,
         struct account_req *o)
{
    struct resp_arg argv[HELLO_ARGS];
    size_t argc = args_of(cmd, buf, argv);
    const struct resp_arg *pw = &argv[argc - 1];

    if (argc < 2) {
        o->status = 400;
        return reply_arity(r->c, "auth");
    }
    if (argc > 3) {
        o->status = 400;
        return reply_error(r->c, "ERR syntax error");
    }
    if (!auth_required(r->px)) {
        /* As Redis with no password: the one-argument form is a mistake,
         * the default user takes any password. */
        if (argc == 2) {
            o->status = 400;
            return reply_error(r->c, RESP_AUTH_NOPASS);
        }
        if (argv[1].len == 7 && strncmp(argv[1].p, "default", 7) == 0) {
            r->st->authed = 1; /* authenticated, as in Redis */
            return reply(r->c, "+OK\r\n", 5);
        }
        o->status = 401;
        return reply_error(r->c, RESP_WRONGPASS);
    }
    if (!auth_password_ok(r->px, pw->p, pw->len)) {
        o->status = 401;
        return reply_error(r->c, RESP_WRONGPASS) < 0 ||
                       guard_wrong_password(r->px, &r->st->guard)
                   ? CONN_IO_ERR
                   : 0;
    }
    r->st->authed = 1;
    return reply(r->c, "+OK\r\n", 5);
}

static int open_session(struct run *r, int node, struct account_req *o);

static int
is_cmd(const struct resp_command *cmd, const char *name)
{
    size_t n = strlen(name);

    return cmd->argv[0].len == n && strncasecmp(cmd->argv[0].p, name, n) == 0;
}

/* The first key commands_keys finds. */
struct first_key {
    struct resp_arg key;
    int found;
};

static void
first_key_seen(void *arg, const struct resp_arg *key)
{
    struct first_key *fk = arg;

    if (!fk->found) {
        fk->key = *key;
        fk->found = 1;
    }
}

/* The node a session opened by cmd goes to: standalone 0; in a cluster its
 * first key's (SSUBSCRIBE's channel counts), else any master. 1 in *keyed
 * when it has a key. */
static int
command_node(struct run *r, const struct resp_command *cmd, const char *buf,
             const struct cmd_info *ci, int *keyed)
{
    struct first_key fk = {.found = 0};

    if (!nodes_is_cluster(r->px->nodes)) {
        *keyed = 0;
        return 0;
    }
    if (ci != NULL) {
        commands_keys(ci, cmd, buf, 0, first_key_seen, &fk);
    }
    *keyed = fk.found;
    return fk.found ? nodes_for_key(r->px->nodes, fk.key.p, fk.key.len)
                    : nodes_any(r->px->nodes);
}

static int
opening_node(struct run *r, const struct resp_command *cmd, const char *buf,
             const struct cmd_info *ci)
{
    int keyed;

    return command_node(r, cmd, buf, ci, &keyed);
}

/* HELLO [2 [AUTH user pass] [SETNAME name]]: authentication here, the
 * rest (Redis's reply: the connection's properties) from Redis. */
static int
cmd_hello(struct run *r, const struct resp_command *cmd, const char *buf,
          struct account_req *o)
{
    struct resp_arg argv[HELLO_ARGS], fwd[4];
    struct resp_command out = {.is_inline = 1, .words = fwd};
    struct resp_hello h;
    size_t argc = args_of(cmd, buf, argv), n = 0;
    const char *err;
    char line[REPLY_MAX];
    int rc;

    if (resp_local_hello(argv, argc, &h, &err) < 0) {
        o->status = 400;
        if (err != NULL) {
            return reply_error(r->c, err);
        }
        snprintf(line, sizeof(line), "ERR Syntax error in HELLO option '%.*s'",
                 (int)(h.bad_option->len < 128 ? h.bad_option->len : 128),
                 h.bad_option->p);
        return reply_error(r->c, line);
    }
    if (h.password != NULL && auth_required(r->px)) {
        if (!auth_password_ok(r->px, h.password->p, h.password->len)) {
            o->status = 401;
            return reply_error(r->c, RESP_WRONGPASS) < 0 ||
                           guard_wrong_password(r->px, &r->st->guard)
                       ? CONN_IO_ERR
                       : 0;
        }
        r->st->authed = 1;
    }
    if (!guard_let_in(r->px, r->st->authed)) {
        auth_failed(r->px, METRICS_RESP); /* refused as any command is */
        o->status = 401;
        return reply_error(r->c, RESP_HELLO_NOAUTH);
    }
    fwd[n++] = argv[0];
    if (h.has_version) {
        fwd[n++] = argv[1];
    }
    if (h.name != NULL) {
        fwd[n++] = (struct resp_arg){"SETNAME", 7};
        fwd[n++] = *h.name;
    }
    out.argc = n;
    memcpy(out.argv, fwd, n * sizeof(fwd[0]));
    if (h.name != NULL && r->st->session == NULL &&
        (rc = open_session(r, nodes_any(r->px->nodes), o)) != 0) {
        return rc < 0 ? rc : 0;
    }
    if (r->st->session != NULL) {
        return session_send(r->st->session, &out, NULL, SESSION_CMD) < 0
                   ? CONN_IO_ERR
                   : 0;
    }
    rc = forward_add(&r->b, &out, NULL);
    if (rc == 1 && forward_flush(&r->b) == 0) {
        rc = forward_add(&r->b, &out, NULL);
    }
    return rc < 0 ? CONN_IO_ERR : forward_flush(&r->b);
}

/* Opens the conn's session on node (-1: the cluster's map is not known).
 * Returns 0, 1 when it could not (the client got the error), or
 * CONN_IO_ERR. */
static int
open_session(struct run *r, int node, struct account_req *o)
{
    char err[256], line[REPLY_MAX];

    if (forward_flush(&r->b) < 0) {
        return CONN_IO_ERR;
    }
    if (node < 0) {
        o->status = 503;
        return reply_error(r->c, "ERR redis unavailable: the cluster's slot "
                                 "map is not known yet") < 0
                   ? CONN_IO_ERR
                   : 1;
    }
    r->st->session = session_open(r->px, r->c, node, err);
    if (r->st->session != NULL) {
        return 0;
    }
    o->status = 503;
    if (strncmp(err, "max number", 10) == 0) {
        snprintf(line, sizeof(line), "ERR %s", err);
    } else {
        snprintf(line, sizeof(line), "ERR redis unavailable: %s", err);
    }
    return reply_error(r->c, line) < 0 ? CONN_IO_ERR : 1;
}

/* Ends the conn's session (after its +RESET was relayed). */
static void
end_session(struct run *r)
{
    session_close(r->px, r->st->session);
    r->st->session = NULL;
    /* RESET also logs the connection out, as Redis does. */
    r->st->authed = !auth_required(r->px);
}

/* One command of a session. Returns 0, 1 to stop for now (a barrier: the
 * command must wait for replies owed), or -1 to close. */
static int
in_session(struct run *r, const struct resp_command *cmd, const char *buf,
           enum resp_local_cmd local, struct account_req *o)
{
    struct session *s = r->st->session;

    if (local == LOCAL_AUTH || local == LOCAL_HELLO) {
        /* Answered here, so it waits its turn behind the owed replies
         * (except in pub/sub, where there is no turn to keep). */
        if (session_owed(s) > 0 && !session_subscribed(s)) {
            return 1;
        }
        return (local == LOCAL_AUTH ? cmd_auth(r, cmd, buf, o)
                                    : cmd_hello(r, cmd, buf, o)) < 0
                   ? -1
                   : 0;
    }
    return session_send(s, cmd, buf, resp_local_session_kind(cmd)) < 0 ? -1 : 0;
}

/* One command outside a session. Returns 0, or -1 to close. */
static int
pooled(struct run *r, const struct resp_command *cmd, const char *buf,
       enum resp_local_cmd local, struct account_req *o)
{
    struct conn *c = r->c;
    int rc;

    if (local == LOCAL_NONE) {
        const struct cmd_info *ci = commands_find(
            r->b.table, cmd->argv,
            cmd->argc < RESP_KEEP_ARGS ? cmd->argc : RESP_KEEP_ARGS);

        if (resp_local_opens_session(cmd, ci)) {
            if (nodes_is_cluster(r->px->nodes) && is_cmd(cmd, "MULTI")) {
                /* Its node is its first keyed command's: wait for it. */
                multi_wait_begin(&r->st->mw);
                return forward_flush(&r->b) < 0 ? -1 : reply(c, "+OK\r\n", 5);
            }
            rc = open_session(r, opening_node(r, cmd, buf, ci), o);
            if (rc != 0) {
                return rc < 0 ? -1 : 0;
            }
            return in_session(r, cmd, buf, LOCAL_NONE, o);
        }
        o->cache = ACCOUNT_NONE;
        rc = forward_add(&r->b, cmd, buf);
        if (rc == 1) {
            rc = forward_flush(&r->b) < 0 ? -1 : forward_add(&r->b, cmd, buf);
        }
        return rc < 0 ? -1 : 0;
    }
    /* The proxy's own answer: everything forwarded before it first. */
    if (forward_flush(&r->b) < 0) {
        return -1;
    }
    switch (local) {
    case LOCAL_GET:
        return cmd_get(r->px, c, &cmd->argv[1], o) < 0 ? -1 : 0;
    case LOCAL_PING:
        if (cmd->argc > 2) {
            o->status = 400;
            return reply_arity(c, "ping");
        }
        return cmd->argc == 1 ? reply(c, "+PONG\r\n", 7)
                              : reply_bulk(c, cmd->argv[1].p, cmd->argv[1].len);
    case LOCAL_ECHO:
        if (cmd->argc != 2) {
            o->status = 400;
            return reply_arity(c, "echo");
        }
        return reply_bulk(c, cmd->argv[1].p, cmd->argv[1].len);
    case LOCAL_QUIT:
        reply(c, "+OK\r\n", 5);
        return -1;
    case LOCAL_AUTH:
        return cmd_auth(r, cmd, buf, o) < 0 ? -1 : 0;
    case LOCAL_HELLO:
        return cmd_hello(r, cmd, buf, o) < 0 ? -1 : 0;
    case LOCAL_RESET:
        r->st->authed = !auth_required(r->px);
        return reply(c, "+RESET\r\n", 8);
    default:
        return 0;
    }
}

#define NOT_MINE 2 /* cluster_rules: the command goes on as usual */

/* SELECT and CLUSTER on a cluster: SELECT 0 is answered +OK (a cluster
 * has database 0 only), other databases and CLUSTER commands refused.
 * Returns as run_one. */
static int
cluster_refuse(struct run *r, const struct resp_command *cmd,
               struct account_req *o)
{
    struct session *s = r->st->session;
    char *end;
    long db;

    if (s != NULL && session_owed(s) > 0 && !session_subscribed(s)) {
        return 1; /* answered here: it waits its turn */
    }
    if (forward_flush(&r->b) < 0) {
        return -1;
    }
    o->status = 400;
    if (is_cmd(cmd, "CLUSTER")) {
        return reply_error(r->c, CLUSTER_FWD_REFUSED) < 0 ? -1 : 0;
    }
    if (cmd->argc != 2) {
        return reply_arity(r->c, "select") < 0 ? -1 : 0;
    }
    db = strtol(cmd->argv[1].p, &end, 10);
    if (cmd->argv[1].len == 0 || end != cmd->argv[1].p + cmd->argv[1].len) {
        return reply_error(r->c,
                           "ERR value is not an integer or out of range") < 0
                   ? -1
                   : 0;
    }
    if (db != 0) {
        return reply_error(r->c, "ERR SELECT is not allowed in cluster mode") <
                       0
                   ? -1
                   : 0;
    }
    o->status = 200;
    return reply(r->c, "+OK\r\n", 5) < 0 ? -1 : 0;
}

/* The cluster's rules before a command runs (cluster_refuse, and a MULTI
 * waiting for its node: multi_wait.h). Returns NOT_MINE, or as run_one. */
static int
cluster_rules(struct run *r, const struct resp_command *cmd, const char *buf,
              enum resp_local_cmd local, struct account_req *o)
{
    struct respd_conn *st = r->st;
    const struct cmd_info *ci;
    int node, keyed, rc;

    if (is_cmd(cmd, "SELECT") || is_cmd(cmd, "CLUSTER")) {
        return cluster_refuse(r, cmd, o);
    }
    if (st->session != NULL && !session_in_transaction(st->session) &&
        !session_subscribed(st->session) && !session_monitoring(st->session) &&
        session_owed(st->session) > 0) {
        /* A blocking command's session: what follows waits for its reply;
         * then the session closes (pump) and it routes by key. */
        return 1;
    }
    if (!st->mw.active || st->session != NULL || local == LOCAL_AUTH ||
        local == LOCAL_HELLO || local == LOCAL_QUIT) {
        return NOT_MINE;
    }
    if (local == LOCAL_RESET) {
        multi_wait_end(&st->mw);
        return NOT_MINE;
    }
    if (is_cmd(cmd, "MULTI")) {
        return reply_error(r->c, "ERR MULTI calls can not be nested") < 0 ? -1
                                                                          : 0;
    }
    if (is_cmd(cmd, "DISCARD") || (is_cmd(cmd, "EXEC") && st->mw.n == 0)) {
        multi_wait_end(&st->mw);
        return (is_cmd(cmd, "EXEC") ? reply(r->c, "*0\r\n", 4)
                                    : reply(r->c, "+OK\r\n", 5)) < 0
                   ? -1
                   : 0;
    }
    ci = commands_find(r->b.table, cmd->argv,
                       cmd->argc < RESP_KEEP_ARGS ? cmd->argc : RESP_KEEP_ARGS);
    node = command_node(r, cmd, buf, ci, &keyed);
    if (!keyed && !is_cmd(cmd, "EXEC")) {
        rc = multi_wait_keep(&st->mw, cmd, buf);
        if (rc <= 0) {
            return rc < 0 || reply(r->c, "+QUEUED\r\n", 9) < 0 ? -1 : 0;
        }
    }
    rc = open_session(r, node, o);
    if (rc != 0) {
        multi_wait_end(&st->mw);
        return rc < 0 ? -1 : 0;
    }
    if (multi_wait_bind(&st->mw, st->session) < 0) {
        return -1;
    }
    return in_session(r, cmd, buf, local, o);
}

/* Runs one command. Returns 0, 1 (wait: leave it unparsed for now), or
 * -1 to close after flushing. */
static int
run_one(struct run *r, const struct resp_command *cmd, const char *buf)
{
    enum resp_local_cmd local = resp_local_which(cmd);
    struct account_req o = {
        .listener = METRICS_RESP,
        .method = cmd->argv[0].p,
        .method_len = cmd->argv[0].len,
        .status = 200,
        .cache = local == LOCAL_GET && r->st->session == NULL ? ACCOUNT_MISS
                                                              : ACCOUNT_NONE,
        .key_len = cmd->argc > 1 ? cmd->argv[1].len : 0,
        .start_us = util_now_us(),
    };
    int rc;

    if (!guard_let_in(r->px, r->st->authed) && local != LOCAL_AUTH &&
        local != LOCAL_HELLO && local != LOCAL_QUIT && local != LOCAL_RESET) {
        auth_failed(r->px, METRICS_RESP);
        o.status = 401;
        rc = forward_flush(&r->b) < 0 || reply_error(r->c, RESP_NOAUTH) < 0 ? -1
                                                                            : 0;
        account_request(r->px, &o);
        return rc;
    }
    rc = nodes_is_cluster(r->px->nodes) ? cluster_rules(r, cmd, buf, local, &o)
                                        : NOT_MINE;
    if (rc == NOT_MINE) {
        rc = r->st->session != NULL ? in_session(r, cmd, buf, local, &o)
                                    : pooled(r, cmd, buf, local, &o);
    }
    if (rc != 1) {
        account_request(r->px, &o);
    }
    return rc;
}

static struct respd_conn *
conn_state(struct proxy *px, struct conn *c)
{
    struct respd_conn *rc = c->proto;

    if (rc == NULL && (rc = calloc(1, sizeof(*rc))) != NULL) {
        resp_parser_init(&rc->ps, (size_t)proxy_cfg(px)->max_request, NULL);
        rc->authed = !auth_required(px);
        c->proto = rc;
    }
    return rc;
}

/* Consumes the commands run so far (after their batch was sent). */
static void
consume_held(struct conn *c, struct respd_conn *st)
{
    if (st->held > 0) {
        conn_consume(c, st->held);
        st->held = 0;
    }
}

/* A partial command: makes room when the parser says how much it needs
 * (already checked against max_request) or the buffer is full of an
 * array's small arguments. Returns 0, or -1 when out of memory. */
static int
await_more(struct conn *c, const struct respd_conn *st, size_t avail)
{
    size_t need = st->ps.need;

    if (c->req_start_ms == 0) {
        c->req_start_ms = util_now_ms();
    }
    if (need == 0 && avail == c->rcap - c->rpos) {
        need = avail + 1; /* grows geometrically (conn_reserve) */
    }
    return need > c->rcap - c->rpos && conn_reserve(c, need) < 0 ? -1 : 0;
}

/* Moves a session's bytes. Returns 0, or -1 to close the client. */
static int
pump(struct run *r)
{
    int rc = session_pump(r->px, r->c, r->st->session);

    if (rc == SESSION_ENDED) {
        end_session(r);
        return 0;
    }
    if (rc == SESSION_OK && nodes_is_cluster(r->px->nodes) &&
        session_idle(r->st->session)) {
        /* Nothing holds it to its node: the next command routes by key. */
        session_close(r->px, r->st->session);
        r->st->session = NULL;
    }
    return rc == SESSION_OK ? 0 : -1;
}

/* Walks the buffered commands (see the top of this file). */
static int
serve_loop(struct run *r, struct resp_arg *words)
{
    struct conn *c = r->c;
    struct respd_conn *st = r->st;
    struct resp_command cmd;
    const char *err;
    char buf[REPLY_MAX];
    int rc;

    st->ps.words = words; /* inline words live for this call only */
    for (;;) {
        size_t avail = c->rlen - c->rpos - st->held;
        char *at = c->rbuf + c->rpos + st->held;

        if (st->session != NULL && pump(r) < 0) {
            return -1;
        }
        if (conn_out_full(c) ||
            (st->session != NULL && session_resetting(st->session))) {
            return 0; /* back-pressure, or waiting for +RESET */
        }
        if (avail == 0) {
            c->req_start_ms = 0;
            return 0;
        }
        guard_parser(r->px, &st->ps, st->authed);
        rc = resp_parser_feed(&st->ps, at, avail, &cmd, &err);
        if (rc == RESP_INCOMPLETE) {
            /* The buffer may move: the batch and the held bytes first. */
            if (forward_flush(&r->b) < 0) {
                return -1;
            }
            consume_held(c, st);
            return await_more(c, st, c->rlen - c->rpos);
        }
        if (rc != RESP_OK) {
            metrics_request(&r->px->metrics, METRICS_RESP, 400);
            if (forward_flush(&r->b) < 0) {
                return -1;
            }
            reply(c, buf, resp_fmt_error(buf, sizeof(buf), "ERR %s", err));
            return -1;
        }
        c->req_start_ms = 0;
        if (guard_http_on_resp(r->px, c, &cmd)) {
            return -1; /* a web page's request: closed, no reply */
        }
        rc = cmd.argc == 0 ? 0 : run_one(r, &cmd, at);
        if (rc == 1) {
            /* Parse it again once the replies owed have come. */
            resp_parser_init(&st->ps, st->ps.max_request, words);
            return 0;
        }
        st->held += cmd.consumed;
        if (rc < 0) {
            return -1;
        }
    }
}

static int
serve(struct conn *c)
{
    struct resp_arg words[RESP_MAX_INLINE_ARGS];
    struct run r = {.px = c->kind->ctx, .c = c};
    int rc;

    r.st = conn_state(r.px, c);
    if (r.st == NULL) {
        return -1;
    }
    forward_init(&r.b, r.px, c, commands_acquire(r.px->commands));
    rc = serve_loop(&r, words);
    if (forward_flush(&r.b) < 0) {
        rc = -1;
    }
    commands_release(r.px->commands);
    consume_held(c, r.st);
    /* A session has bytes of its own to move: serve it even when the
     * client is silent, and never close it as idle while it waits. */
    c->pump = r.st->session != NULL;
    c->hold = r.st->session != NULL && session_waiting(r.st->session);
    return rc;
}

static void
release(struct conn *c)
{
    struct respd_conn *st = c->proto;

    if (st != NULL) {
        session_close(c->kind->ctx, st->session);
        multi_wait_end(&st->mw);
        free(st);
        c->proto = NULL;
    }
}

static size_t
busy(char *out, size_t cap)
{
    if (cap < sizeof(busy_reply) - 1) {
        return 0;
    }
    memcpy(out, busy_reply, sizeof(busy_reply) - 1);
    return sizeof(busy_reply) - 1;
}

const struct conn_ops respd_ops = {
    .name = "resp",
    .serve = serve,
    .expired = NULL, /* no last word: Redis closes idle clients silently */
    .busy = busy,
    .release = release,
};
