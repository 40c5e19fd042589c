/*
 * respd: command dispatch for the Redis-protocol listener; see respd.h.
 * A GET hit is written as "$<len>\r\n", the entry's value and "\r\n" in one
 * gather write, straight from the referenced cache entry.
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
#include "serve/fetch.h"
#include "serve/proxy.h"

static const char busy_reply[] = "-ERR max number of clients reached\r\n";

#define REPLY_MAX 512 /* replies built on the stack: errors, small bulks */

static int
is_cmd(const struct resp_arg *a, const char *name)
{
    size_t n = strlen(name);

    return a->len == n && strncasecmp(a->p, name, n) == 0;
}

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

/* Redis 7's text: the name and up to 128 bytes of arguments, quoted. */
static int
reply_unknown(struct conn *c, const struct resp_command *cmd)
{
    char args[160];
    char buf[REPLY_MAX];
    size_t i, used = 0;

    args[0] = '\0';
    for (i = 1; i < cmd->argc && i < RESP_KEEP_ARGS && used < 128; i++) {
        size_t take =
            cmd->argv[i].len < 128 - used ? cmd->argv[i].len : 128 - used;
        int w = snprintf(args + used, sizeof(args) - used, "'%.*s' ", (int)take,
                         cmd->argv[i].p);
        if (w < 0) {
            break;
        }
        used += (size_t)w < sizeof(args) - used ? (size_t)w
                                                : sizeof(args) - used - 1;
    }
    return reply(
        c, buf,
        resp_fmt_error(buf, sizeof(buf),
                       "ERR unknown command '%.*s', with args "
                       "beginning with: %s",
                       (int)(cmd->argv[0].len > 128 ? 128 : cmd->argv[0].len),
                       cmd->argv[0].p, args));
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

static int
cmd_command(struct conn *c, const struct resp_command *cmd)
{
    char buf[REPLY_MAX];

    if (cmd->argc == 1 || is_cmd(&cmd->argv[1], "DOCS") ||
        is_cmd(&cmd->argv[1], "INFO")) {
        return reply(c, "*0\r\n", 4);
    }
    if (is_cmd(&cmd->argv[1], "COUNT")) {
        return cmd->argc == 2 ? reply(c, ":0\r\n", 4)
                              : reply_arity(c, "command|count");
    }
    return reply(
        c, buf,
        resp_fmt_error(buf, sizeof(buf),
                       "ERR unknown subcommand '%.*s'. Try COMMAND "
                       "HELP.",
                       (int)(cmd->argv[1].len > 128 ? 128 : cmd->argv[1].len),
                       cmd->argv[1].p));
}

/* Runs one command. Returns 0, or -1 to close after flushing. */
static int
dispatch(struct proxy *px, struct conn *c, const struct resp_command *cmd,
         struct account_req *o)
{
    const struct resp_arg *name = &cmd->argv[0];

    if (is_cmd(name, "GET")) {
        if (cmd->argc == 2) {
            return cmd_get(px, c, &cmd->argv[1], o);
        }
        o->status = 400;
        return reply_arity(c, "get");
    }
    o->status = 400; /* until a known command below says otherwise */
    if (is_cmd(name, "PING")) {
        o->status = cmd->argc <= 2 ? 200 : 400;
        if (cmd->argc == 1) {
            return reply(c, "+PONG\r\n", 7);
        }
        return cmd->argc == 2 ? reply_bulk(c, cmd->argv[1].p, cmd->argv[1].len)
                              : reply_arity(c, "ping");
    }
    if (is_cmd(name, "ECHO")) {
        o->status = cmd->argc == 2 ? 200 : 400;
        return cmd->argc == 2 ? reply_bulk(c, cmd->argv[1].p, cmd->argv[1].len)
                              : reply_arity(c, "echo");
    }
    if (is_cmd(name, "QUIT")) {
        o->status = 200;
        reply(c, "+OK\r\n", 5);
        return -1;
    }
    if (is_cmd(name, "COMMAND")) {
        o->status = 200;
        return cmd_command(c, cmd);
    }
    return reply_unknown(c, cmd);
}

/* Dispatches one command and accounts for it. */
static int
run(struct proxy *px, struct conn *c, const struct resp_command *cmd)
{
    struct account_req o = {
        .listener = METRICS_RESP,
        .method = cmd->argv[0].p,
        .method_len = cmd->argv[0].len,
        .status = 200,
        .cache = ACCOUNT_NONE,
        .key_len = cmd->argc > 1 ? cmd->argv[1].len : 0,
        .start_us = util_now_us(),
    };
    int rc = dispatch(px, c, cmd, &o);

    account_request(px, &o);
    return rc;
}

/* The per-conn state of a RESP conn (c->proto). */
struct respd_conn {
    struct resp_parser ps; /* the command being parsed */
};

static struct respd_conn *
conn_state(struct proxy *px, struct conn *c)
{
    struct respd_conn *rc = c->proto;

    if (rc == NULL && (rc = calloc(1, sizeof(*rc))) != NULL) {
        resp_parser_init(&rc->ps, (size_t)px->cfg->max_request, NULL);
        c->proto = rc;
    }
    return rc;
}

/* A partial command: makes room when the parser says how much it needs
 * (already checked against max_request) or the buffer is full of an
 * array's small arguments. Returns 0, or -1 when out of memory. */
static int
await_more(struct conn *c, const struct respd_conn *rc, size_t avail)
{
    size_t need = rc->ps.need;

    if (c->req_start_ms == 0) {
        c->req_start_ms = util_now_ms();
    }
    if (need == 0 && avail == c->rcap) {
        need = avail + 1; /* grows geometrically (conn_reserve) */
    }
    return need > c->rcap - c->rpos && conn_reserve(c, need) < 0 ? -1 : 0;
}

static int
serve(struct conn *c)
{
    struct proxy *px = c->kind->ctx;
    struct respd_conn *st = conn_state(px, c);
    struct resp_arg words[RESP_MAX_INLINE_ARGS];
    struct resp_command cmd;
    const char *err;
    char buf[REPLY_MAX];
    int rc;

    if (st == NULL) {
        return -1;
    }
    st->ps.words = words; /* inline words live for this call only */
    for (;;) {
        size_t avail = c->rlen - c->rpos;

        if (avail == 0) {
            c->req_start_ms = 0;
            return 0;
        }
        if (conn_out_full(c)) {
            return 0; /* back-pressure: the rest waits in rbuf */
        }
        rc = resp_parser_feed(&st->ps, c->rbuf + c->rpos, avail, &cmd, &err);
        if (rc == RESP_INCOMPLETE) {
            return await_more(c, st, avail);
        }
        if (rc != RESP_OK) {
            metrics_request(&px->metrics, METRICS_RESP, 400);
            reply(c, buf, resp_fmt_error(buf, sizeof(buf), "ERR %s", err));
            return -1;
        }
        c->req_start_ms = 0;
        /* The arguments point into rbuf: consume only after running. */
        rc = cmd.argc == 0 ? 0 : run(px, c, &cmd);
        conn_consume(c, cmd.consumed);
        if (rc < 0) {
            return -1;
        }
    }
}

static void
release(struct conn *c)
{
    free(c->proto);
    c->proto = NULL;
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
    .release = release,
    .busy = busy,
};
