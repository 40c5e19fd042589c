/*
 * respd: the Redis-protocol port; see respd.h.
 *
 * Each serve() call first answers what is ready at the head of the conn's
 * records (rcmd.h: replies that came, in request order), then walks the
 * commands buffered on the conn. Outside a session a command is:
 *   - one of the proxy's own (PING, ECHO, QUIT, AUTH, HELLO, RESET, SELECT,
 *     the CLIENT subcommands about the conn's settings: resp_state.h),
 *     answered at once;
 *   - a GET, answered from the cache at once on a hit, else a lookup
 *     record that the key's fill completes (fetch.h); a GET behind a
 *     write of the same client still waiting for its reply goes to Redis
 *     as any command does, behind that write, so it reads it;
 *   - any other command: a record handed to Redis (route.h), answered
 *     when its reply comes;
 *   - one that gives the connection state in Redis: the conn moves onto
 *     a session (session.h) once every earlier reply has been written.
 * A read user's command ([users]) is first checked against Redis's table
 * (perm.h) and refused there. Without a password and users, an AUTH is
 * Redis's to check (ACL passthrough): it waits, unparsed, for the verdict
 * of a connection of its own (verify.h), and the commands after it run as
 * the Redis identity it gives the conn (its records' ident).
 * An answer given at once while earlier records still wait is kept in a
 * record of its own, so replies leave in request order. Every command is
 * consumed as soon as it is run: records keep copies of what they need.
 */
#include "serve/respd.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/util.h"
#include "cache/cache.h"
#include "proto/resp.h"
#include "net/worker.h"
#include "serve/account.h"
#include "serve/auth.h"
#include "serve/cplan.h"
#include "serve/clientmap.h"
#include "serve/failover.h"
#include "serve/fetch.h"
#include "serve/guard.h"
#include "serve/multi_wait.h"
#include "serve/outcome.h"
#include "serve/perm.h"
#include "serve/proxy.h"
#include "serve/rcmd.h"
#include "serve/resp_local.h"
#include "serve/resp_state.h"
#include "serve/route.h"
#include "serve/session.h"
#include "serve/verify.h"
#include "upstream/commands.h"
#include "upstream/nodes.h"
#include "upstream/replicas.h"

static const char busy_reply[] = "-ERR max number of clients reached\r\n";

#define REPLY_MAX 512          /* replies built on the stack */
#define RESPD_MAX_RECORDS 1024 /* records one conn may have waiting */
#define NOT_MINE 2             /* cluster_rules: the command goes on as usual */
#define WAIT 1                 /* run_one: leave the command unparsed for now */

/* The per-conn state of a RESP conn (c->proto). */
struct respd_conn {
    struct resp_parser ps;   /* the command being parsed */
    struct resp_state st;    /* protocol, database, name, auth... */
    struct rfifo fifo;       /* records, in request order */
    struct session *session; /* the private connection, or NULL */
    struct verify *vf;       /* ACL passthrough: its AUTH's credentials
                                being checked by Redis (or checked, until
                                the AUTH is answered), or NULL */
    struct multi_wait mw;    /* cluster: a MULTI waiting for its node */
    int closing;             /* QUIT or a protocol error: close once every
                                reply before it is written */
    uint32_t token;          /* the pipelines its commands go on while any
                                is on its way (rcmd.token) */
    uint64_t rw_need;        /* replica reads: the round its last write
                                (or session) needs replicas to reach before
                                its reads go to them (replicas.h) */
};

/* What one serve() call works with. */
struct run {
    struct proxy *px;
    struct conn *c;
    struct respd_conn *rc;
    const struct cmd_table *table;
    int64_t now_ms;
    int held_back; /* parsing stopped for something else than input:
                      replies owed, a full pipeline, a session's turn */
};

/* ---- answers, in order ---- */

/* Appends bytes as the reply to the command being run: now when nothing
 * waits before it, else held in a record behind the others. Returns 0
 * or -1. */
static int
answer(struct run *r, const char *p, size_t len)
{
    struct rcmd *h;

    if (rfifo_empty(&r->rc->fifo)) {
        return conn_write_buf(r->c, p, len);
    }
    h = rcmd_new(r->px, r->c, RCMD_HELD, 0);
    if (h == NULL || rcmd_set_reply(h, p, len) < 0) {
        rcmd_free(h);
        return -1;
    }
    h->status = OUTCOME_OK;
    rcmd_settle(h);
    rfifo_push(&r->rc->fifo, h);
    return 0;
}

static int
answer_error(struct run *r, const char *msg)
{
    char buf[REPLY_MAX];
    size_t n = resp_fmt_error(buf, sizeof(buf), "%s", msg);

    return answer(r, buf, n < sizeof(buf) ? n : 0);
}

static int
answer_bulk(struct run *r, const char *p, size_t len)
{
    char head[32], *b;
    size_t n = resp_fmt_bulk_header(head, sizeof(head), len);
    int rc;

    if (rfifo_empty(&r->rc->fifo)) {
        struct iovec iov[3] = {{head, n}, {(void *)p, len}, {"\r\n", 2}};

        return conn_write(r->c, iov, 3);
    }
    b = malloc(n + len + 2);
    if (b == NULL) {
        return -1;
    }
    memcpy(b, head, n);
    memcpy(b + n, p, len);
    memcpy(b + n + len, "\r\n", 2);
    rc = answer(r, b, n + len + 2);
    free(b);
    return rc;
}

/* A bulk reply of an entry's value (the value by reference when large). */
static int
write_entry(struct conn *c, struct cache_entry *e)
{
    char head[32];
    size_t n = resp_fmt_bulk_header(head, sizeof(head), e->vlen);

    if (conn_write_buf(c, head, n) < 0 || fetch_write_value(c, e) < 0) {
        return CONN_IO_ERR;
    }
    return conn_write_buf(c, "\r\n", 2);
}

static void
free_reply(void *p)
{
    free(p);
}

/* Writes a record's outcome to the client. Returns 0 or -1. */
static int
write_outcome(struct run *r, struct rcmd *h, struct account_req *o)
{
    struct conn *c = r->c;
    char line[REPLY_MAX];
    int rc;

    if (h->status < 0 && h->entry == NULL) {
        o->status = outcome_http(h->status, h->err);
        return conn_write_buf(
            c, line, outcome_resp(line, sizeof(line), h->status, h->err));
    }
    if (h->kind == RCMD_LOOKUP && h->reply == NULL) {
        o->cache = h->cache;
        if (h->entry == NULL) {
            return conn_write_buf(c, h->proto == 3 ? "_\r\n" : "$-1\r\n",
                                  h->proto == 3 ? 3 : 5);
        }
        o->bytes = h->entry->vlen;
        return write_entry(c, h->entry);
    }
    if (h->reply_len > 0 && (h->reply[0] == '-' || h->reply[0] == '!')) {
        o->status = 400;
    }
    if (h->reply != h->inl && h->reply_len > FETCH_COPY_MAX) {
        /* A large reply changes hands: the output queue frees it. */
        rc = conn_write_ref(c, h->reply, h->reply_len, free_reply, h->reply);
        h->reply = NULL;
        return rc;
    }
    return conn_write_buf(c, h->reply, h->reply_len);
}

/* Answers what is ready at the head of the records, and what waited past
 * its deadline. Returns 0 or -1. */
static int
drain(struct run *r)
{
    struct rfifo *f = &r->rc->fifo;
    struct rcmd *h;

    if (conn_output_check(r->c, rfifo_held_bytes(f)) < 0) {
        return -1; /* a reply was dropped: over max_output (rcmd.h) */
    }
    while ((h = f->head) != NULL && !conn_out_full(r->c)) {
        struct account_req o = {
            .listener = METRICS_RESP,
            .method = h->name,
            .method_len = h->name_len,
            .status = 200,
            .cache = ACCOUNT_NONE,
            .key_len = h->kind == RCMD_LOOKUP ? h->raw_len : 0,
            .start_us = h->start_us,
        };
        struct cache_entry *stale;
        int rc;

        if (!rcmd_done(h)) {
            if (h->deadline_ms == 0 || r->now_ms < h->deadline_ms) {
                break;
            }
            /* Overdue: it is answered now, and abandoned to whoever
             * completes it (its fields are the completer's: nothing here
             * writes them). A lookup may still have a stale entry. */
            rfifo_pop(f);
            if (h->kind == RCMD_LOOKUP &&
                (stale = fetch_stale(r->px, rcmd_partition(h), h->raw,
                                     h->raw_len)) != NULL) {
                o.cache = ACCOUNT_STALE;
                o.bytes = stale->vlen;
                rc = write_entry(r->c, stale);
                cache_release(stale);
            } else {
                char line[REPLY_MAX], why[96];

                snprintf(
                    why, sizeof(why), "no reply within %lld ms",
                    (long long)(h->kind == RCMD_LOOKUP
                                    ? proxy_cfg(r->px)->command_timeout_ms
                                    : proxy_cfg(r->px)->forward_timeout_ms));
                o.status = 504;
                o.cache = h->kind == RCMD_LOOKUP ? ACCOUNT_MISS : ACCOUNT_NONE;
                rc = conn_write_buf(
                    r->c, line,
                    outcome_resp(line, sizeof(line), OUTCOME_ETIMEOUT, why));
            }
            account_request(r->px, &o);
            rcmd_abandon(h);
            if (rc < 0) {
                return -1;
            }
            continue;
        }
        if (h->reroute &&
            route_again(r->px, h, rfifo_alone(f, h)) == ROUTE_QUEUED) {
            continue; /* on its way to the new master */
        }
        rfifo_pop(f);
        if (r->px->replicas != NULL && h->kind == RCMD_FORWARD &&
            rcmd_may_write(h)) {
            /* Its reads follow this write to whichever replica has it. */
            r->rc->rw_need = replicas_next_round(r->px->replicas);
        }
        rc = h->kind == RCMD_HELD ? conn_write_buf(r->c, h->reply, h->reply_len)
                                  : write_outcome(r, h, &o);
        if (h->kind != RCMD_HELD) {
            account_request(r->px, &o);
        }
        rcmd_free(h);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- commands ---- */

static int
is_arg(const struct resp_arg *a, const char *name)
{
    size_t n = strlen(name);

    return a->len == n && strncasecmp(a->p, name, n) == 0;
}

static int
is_cmd(const struct resp_command *cmd, const char *name)
{
    return is_arg(&cmd->argv[0], name);
}

/* Every argument of cmd (parsed from buf) into argv[0..cap). Returns how
 * many. */
static size_t
args_of(const struct resp_command *cmd, const char *buf, struct resp_arg *argv,
        size_t cap)
{
    struct resp_iter it;
    size_t n = 0;

    resp_iter_init(&it, cmd, buf);
    while (n < cap && resp_iter_next(&it, &argv[n])) {
        n++;
    }
    return n;
}

static const struct cmd_info *
info_of(struct run *r, const struct resp_command *cmd)
{
    return commands_find(r->table, cmd->argv,
                         cmd->argc < RESP_KEEP_ARGS ? cmd->argc
                                                    : RESP_KEEP_ARGS);
}

/* The pipeline token of the conn's next command: its own while commands
 * of its are on their way (they must reach Redis in order), else the
 * worker's, so that what one worker sends in a round goes out together. */
static uint32_t
token_of(struct run *r)
{
    if (rfifo_empty(&r->rc->fifo)) {
        r->rc->token = worker_index();
    }
    return r->rc->token;
}

/* Hands a record to Redis and keeps it in order. Returns 0, WAIT (the
 * pipeline is full: the command is run again once there is room), or -1. */
static int
send_record(struct run *r, struct rcmd *h)
{
    int rc;

    h->start_us = util_now_us();
    h->token = token_of(r);
    rfifo_push(&r->rc->fifo, h);
    rc = route_submit(r->px, h, 0);
    if (rc == ROUTE_FULL) {
        /* Not sent: take it back (it is the tail), free it, wait. */
        struct rfifo *f = &r->rc->fifo;
        struct rcmd *prev = NULL, *it;

        for (it = f->head; it != h; it = it->next) {
            prev = it;
        }
        if (prev != NULL) {
            prev->next = NULL;
        } else {
            f->head = NULL;
        }
        f->tail = prev;
        f->n--;
        f->forwards--;
        rcmd_free(h);
        return WAIT;
    }
    if (rc == ROUTE_DONE) {
        rcmd_settle(h);
    }
    return 0;
}

/* A command for Redis (outside a session). Returns as send_record. */
static int
forward(struct run *r, const struct resp_command *cmd, char *buf,
        const struct cmd_info *ci)
{
    int cluster = nodes_is_cluster(r->px->nodes);
    struct rcmd *h =
        rcmd_command(r->px, r->c, cmd, buf, ci, r->rc->st.proto, r->rc->st.db,
                     cluster ? RCMD_KEYS_ALL : RCMD_KEYS_WRITES);
    int64_t ft = proxy_cfg(r->px)->forward_timeout_ms;

    if (h == NULL) {
        return -1;
    }
    h->ident = r->rc->st.ident;
    if (rfifo_reads_keys_of(&r->rc->fifo, h)) {
        /* A lookup of its own of a key it changes is still on its way:
         * the write waits for it, so the lookup reads what was there. */
        rcmd_free(h);
        return WAIT;
    }
    h->deadline_ms = ft > 0 ? r->now_ms + ft : 0;
    if (r->px->replicas != NULL) {
        /* A read behind a write of its own still in the fifo waits for
         * nothing on the master; after it, on a replica that has it. */
        h->need =
            rfifo_has_write(&r->rc->fifo) ? WRITTEN_PENDING : r->rc->rw_need;
    }
    return send_record(r, h);
}

/* A CLIENT UNBLOCK or CLIENT KILL ID rewritten for Redis (client_by_id). */
struct client_rewrite {
    struct resp_arg words[RESP_KEEP_ARGS];
    char num[24];
    struct resp_command cmd;
    int node;
};

/* An id named by CLIENT UNBLOCK id [TIMEOUT|ERROR] or CLIENT KILL ID id
 * [...], rewritten for Redis. Clients are named by the proxy's ids
 * (CLIENT ID); one holding a session is reached through Redis's id for
 * the session's connection (clientmap.h), on *node; one without a session
 * has no connection of its own in Redis, so it is named LLONG_MAX, which
 * no Redis client has (0 unblocked, 0 killed; node -1). Returns 1 with *cr set,
 * or 0 for any other command and an id that is no integer (Redis's error
 * then). */
static int
client_by_id(struct run *r, const struct resp_command *cmd,
             struct client_rewrite *cr)
{
    long long rid = 0;
    uint64_t id = 0;
    size_t at, i;

    if (!is_cmd(cmd, "CLIENT") || cmd->argc < 3 || cmd->argc > RESP_KEEP_ARGS) {
        return 0;
    }
    if (is_arg(&cmd->argv[1], "UNBLOCK")) {
        at = 2;
    } else if (is_arg(&cmd->argv[1], "KILL") && cmd->argc >= 4 &&
               is_arg(&cmd->argv[2], "ID")) {
        at = 3;
    } else {
        return 0;
    }
    if (cmd->argv[at].len == 0 || cmd->argv[at].len > 19) {
        return 0;
    }
    for (i = 0; i < cmd->argv[at].len; i++) {
        if (cmd->argv[at].p[i] < '0' || cmd->argv[at].p[i] > '9') {
            return 0;
        }
        id = id * 10 + (uint64_t)(cmd->argv[at].p[i] - '0');
    }
    if (!clientmap_find(r->px->clientmap, id, &cr->node, &rid)) {
        cr->node = -1;
        rid = LLONG_MAX;
    }
    memcpy(cr->words, cmd->argv, cmd->argc * sizeof(cr->words[0]));
    cr->words[at].len = (size_t)snprintf(cr->num, sizeof(cr->num), "%lld", rid);
    cr->words[at].p = cr->num;
    cr->cmd = (struct resp_command){
        .argc = cmd->argc, .is_inline = 1, .words = cr->words};
    memcpy(cr->cmd.argv, cr->words, cmd->argc * sizeof(cr->words[0]));
    return 1;
}

/* GET key outside a session. Returns 0, WAIT or -1. */
static int
cmd_get(struct run *r, const struct resp_command *cmd, char *buf,
        const struct cmd_info *ci)
{
    const struct resp_arg *key = &cmd->argv[1];
    struct account_req o = {
        .listener = METRICS_RESP,
        .method = cmd->argv[0].p,
        .method_len = cmd->argv[0].len,
        .status = 200,
        .cache = ACCOUNT_HIT,
        .key_len = key->len,
        .start_us = util_now_us(),
    };
    struct cache_entry *e;
    struct rcmd *h;
    int rc, part = fetch_partition(r->rc->st.ident, r->rc->st.db);

    if (part < 0 || rfifo_writes_key(&r->rc->fifo, key->p, key->len)) {
        /* An identity Redis does not let track its reads: never cached,
         * Redis answers (and its ACL decides). Or behind a write of this
         * key of its own still on its way: to Redis, after it, so it
         * reads it. */
        return forward(r, cmd, buf, ci);
    }
    e = fetch_hit(r->px, part, key->p, key->len);
    if (e != NULL && rfifo_empty(&r->rc->fifo)) {
        /* The common hit: nothing owed before it, nothing allocated. */
        o.bytes = e->vlen;
        rc = write_entry(r->c, e);
        cache_release(e);
        account_request(r->px, &o);
        return rc < 0 ? -1 : 0;
    }
    h = rcmd_new(r->px, r->c, RCMD_LOOKUP, key->len);
    if (h == NULL) {
        cache_release(e);
        return -1;
    }
    h->ident = r->rc->st.ident;
    memcpy(h->raw, key->p, key->len);
    h->raw_len = key->len;
    h->proto = (uint8_t)r->rc->st.proto;
    h->start_us = o.start_us;
    memcpy(h->name, "GET", 3);
    h->name_len = 3;
    h->db = r->rc->st.db;
    h->deadline_ms = r->now_ms + proxy_cfg(r->px)->command_timeout_ms;
    h->token = token_of(r);
    if (e != NULL) {
        /* Behind replies still owed: held, in order. */
        h->entry = e;
        h->cache = ACCOUNT_HIT;
        h->status = OUTCOME_OK;
        rcmd_settle(h);
        rfifo_push(&r->rc->fifo, h);
        return 0;
    }
    /* In the fifo before its fill can complete it (rcmd.h: held bytes). */
    rfifo_push(&r->rc->fifo, h);
    if (fetch_miss(r->px, h, r->rc->st.db) < 0) {
        rcmd_fail(h, OUTCOME_ENOMEM, NULL);
        rcmd_settle(h);
    }
    return 0;
}

static int open_session(struct run *r, int node);

/* ACL passthrough: Redis is to check the credentials of the AUTH being
 * run (resp_state's ask_user, ask_pass). Once every earlier reply has
 * come (the commands after the AUTH run as whoever it makes the client,
 * on other pipelines: nothing of before may still be on its way), the
 * check starts and the AUTH waits, unparsed, for its outcome; serve_loop
 * steps it. Returns WAIT, or as answer when it cannot start. */
static int
start_verify(struct run *r, struct account_req *o)
{
    struct respd_conn *rc = r->rc;
    const struct resp_arg *u = rc->st.ask_user, *p = rc->st.ask_pass;
    char err[256], line[REPLY_MAX];

    if (!rfifo_empty(&rc->fifo)) {
        return WAIT;
    }
    verify_free(r->px, rc->vf);
    rc->vf = verify_start(r->px, r->c, u != NULL ? u->p : NULL,
                          u != NULL ? u->len : 0, p->p, p->len, err);
    if (rc->vf == NULL) {
        o->status = 503;
        return answer(r, line,
                      outcome_resp(line, sizeof(line), OUTCOME_EDOWN, err));
    }
    return WAIT;
}

/* The proxy's own state commands (resp_state.h). Returns 0, WAIT (an
 * AUTH Redis is checking) or -1. */
static int
state_command(struct run *r, const struct resp_command *cmd, char *buf,
              struct account_req *o)
{
    struct resp_arg stack[16], *argv = stack;
    struct respd_conn *rc = r->rc;
    size_t argc;
    char *out;
    size_t len;
    int effect, ret;
    struct ident *was = rc->st.ident;

    if (cmd->argc > 16 && (argv = malloc(cmd->argc * sizeof(*argv))) == NULL) {
        return -1;
    }
    argc = args_of(cmd, buf, argv, cmd->argc > 16 ? cmd->argc : 16);
    rc->st.vf = rc->vf;
    effect = resp_state_answer(r->px, r->c, &rc->st, argv, argc, &out, &len,
                               &o->status);
    rc->st.vf = NULL;
    if (effect == STATE_VERIFY) {
        free(out); /* nothing in it: no answer yet */
        ret = start_verify(r, o);
        if (argv != stack) {
            free(argv);
        }
        return ret;
    }
    if (argv != stack) {
        free(argv);
    }
    if (effect < 0) {
        return -1;
    }
    if (rc->vf != NULL) {
        /* The AUTH its check was for is answered now. */
        if (rc->session != NULL && rc->st.ident != was &&
            session_auth(rc->session, verify_user(rc->vf),
                         verify_password(rc->vf)) < 0) {
            verify_free(r->px, rc->vf);
            rc->vf = NULL;
            free(out);
            return -1;
        }
        verify_free(r->px, rc->vf);
        rc->vf = NULL;
    }
    if (rc->session != NULL && (effect == STATE_PROTO || effect == STATE_DB)) {
        /* The session's connection follows, silently. */
        int proto = effect == STATE_PROTO;

        if (session_send_setting(rc->session, proto ? "HELLO" : "SELECT",
                                 proto ? rc->st.proto : rc->st.db) < 0) {
            free(out);
            return -1;
        }
    }
    ret = answer(r, out, len);
    free(out);
    if (effect == STATE_RESET) {
        multi_wait_end(&rc->mw);
    }
    return effect == STATE_CLOSE ? -1 : ret;
}

/* ---- sessions ---- */

/* The node a session opened by cmd goes to: the master standalone (with
 * sentinels, -1 while none is known); in a cluster its
 * first key's (SSUBSCRIBE's channel counts), else any master. */
static int
session_node_for(struct run *r, const struct resp_command *cmd, char *buf,
                 const struct cmd_info *ci, int *keyed)
{
    struct rcmd *h;
    int node;

    *keyed = 0;
    if (!nodes_is_cluster(r->px->nodes)) {
        return nodes_master(r->px->nodes); /* with sentinels, -1 for none */
    }
    h = ci != NULL
            ? rcmd_command(r->px, r->c, cmd, buf, ci, 2, 0, RCMD_KEYS_ALL)
            : NULL;
    if (h != NULL && h->nkeys > 0) {
        struct resp_arg k = rcmd_key(h, 0);

        *keyed = 1;
        node = nodes_for_key(r->px->nodes, k.p, k.len);
    } else {
        node = nodes_any(r->px->nodes);
    }
    rcmd_free(h);
    return node;
}

/* Opens the conn's session on node (-1: the cluster's map is not known).
 * Returns 0, 1 when it could not (the client got the error), or -1. */
static int
open_session(struct run *r, int node)
{
    char err[256], line[REPLY_MAX];

    if (node < 0) {
        return answer(r, line,
                      outcome_resp(line, sizeof(line), OUTCOME_ENOMAP,
                                   route_no_node(r->px))) < 0
                   ? -1
                   : 1;
    }
    r->rc->session =
        session_open(r->px, r->c, node, r->rc->st.proto, r->rc->st.db,
                     r->rc->st.id, r->rc->st.ident, err);
    if (r->rc->session != NULL) {
        return 0;
    }
    return answer(r, line,
                  outcome_resp(line, sizeof(line),
                               strncmp(err, "max number", 10) == 0
                                   ? OUTCOME_ESESSIONS
                                   : OUTCOME_EDOWN,
                               err)) < 0
               ? -1
               : 1;
}

/* Closes the conn's session; with replica reads, the client's reads
 * follow what it may have written there. */
static void
close_session(struct run *r)
{
    session_close(r->px, r->rc->session);
    r->rc->session = NULL;
    if (r->px->replicas != NULL) {
        r->rc->rw_need = replicas_next_round(r->px->replicas);
    }
}

/* Ends the conn's session (after its +RESET was relayed): RESET also
 * puts the connection's state back to a new one's. */
static void
end_session(struct run *r)
{
    close_session(r);
    resp_state_reset(&r->rc->st, r->px);
}

/* With replica reads, a command about to go on session s that may write:
 * its keys' reads stay on the master until the session ends. Returns 0
 * or -1 (out of memory). */
static int
session_note_write(struct run *r, struct session *s,
                   const struct resp_command *cmd, char *buf)
{
    const struct cmd_info *ci = info_of(r, cmd);
    struct rcmd *w;

    if (ci != NULL && !(commands_flags(ci) & CMD_WRITE) &&
        (commands_flags(ci) & CMD_READONLY)) {
        return 0; /* a read: nothing to note */
    }
    w = rcmd_command(r->px, r->c, cmd, buf, ci, 2, r->rc->st.db,
                     RCMD_KEYS_WRITES);
    if (w == NULL) {
        return -1;
    }
    if (rcmd_may_write(w)) {
        session_writes(r->px, s, w);
    }
    rcmd_free(w);
    return 0;
}

/* One command of a session. Returns 0, WAIT (a barrier: it must wait for
 * replies owed), or -1. */
static int
in_session(struct run *r, const struct resp_command *cmd, char *buf,
           enum resp_local_cmd local, struct account_req *o)
{
    struct session *s = r->rc->session;
    struct client_rewrite cr;

    if (local == LOCAL_AUTH || local == LOCAL_HELLO || local == LOCAL_CLIENT ||
        (local == LOCAL_SELECT && !session_in_transaction(s))) {
        /* Answered here, so it waits its turn behind the owed replies
         * (except in pub/sub, where there is no turn to keep). */
        if (session_owed(s) > 0 && !session_subscribed(s)) {
            return WAIT;
        }
        return state_command(r, cmd, buf, o);
    }
    if (r->px->replicas != NULL && session_note_write(r, s, cmd, buf) < 0) {
        return -1;
    }
    if (client_by_id(r, cmd, &cr)) {
        return session_send(s, &cr.cmd, NULL, SESSION_CMD) < 0 ? -1 : 0;
    }
    return session_send(s, cmd, buf, resp_local_session_kind(cmd)) < 0 ? -1 : 0;
}

/* Moves a session's bytes. Returns 0, or -1 to close the client. */
static int
pump(struct run *r)
{
    int rc;

    if (failover_session_gone(r->px, session_node(r->rc->session))) {
        /* Its node is no longer the master (a failover): the client
         * hears why, then the connection closes. */
        close_session(r);
        atomic_fetch_add_explicit(&r->px->metrics.failover_sessions, 1,
                                  memory_order_relaxed);
        conn_write_buf(r->c, FAILOVER_SESSION_ENDED,
                       sizeof(FAILOVER_SESSION_ENDED) - 1);
        return -1;
    }
    rc = session_pump(r->px, r->c, r->rc->session);
    if (rc == SESSION_ENDED) {
        end_session(r);
        return 0;
    }
    if (rc == SESSION_FAILED) {
        /* It never opened: its commands were answered with why. */
        close_session(r);
        return 0;
    }
    if (rc == SESSION_OK && nodes_is_cluster(r->px->nodes) &&
        session_idle(r->rc->session)) {
        /* Nothing holds it to its node: the next command routes by key. */
        close_session(r);
    }
    return rc == SESSION_OK ? 0 : -1;
}

/* ---- the cluster's rules ---- */

/* CLUSTER refused, and a MULTI waiting for its node (multi_wait.h).
 * Returns NOT_MINE, or as run_one. */
static int
cluster_rules(struct run *r, const struct resp_command *cmd, char *buf,
              enum resp_local_cmd local, struct account_req *o)
{
    struct respd_conn *rc = r->rc;
    const struct cmd_info *ci;
    int node, keyed, ret;

    if (is_cmd(cmd, "CLUSTER")) {
        if (rc->session != NULL && session_owed(rc->session) > 0 &&
            !session_subscribed(rc->session)) {
            return WAIT;
        }
        o->status = 400;
        return answer_error(r, CPLAN_REFUSED);
    }
    if (rc->session != NULL && !session_in_transaction(rc->session) &&
        !session_subscribed(rc->session) && !session_monitoring(rc->session) &&
        session_owed(rc->session) > 0) {
        /* A blocking command's session: what follows waits for its reply;
         * then the session closes (pump) and it routes by key. */
        return WAIT;
    }
    if (!rc->mw.active || rc->session != NULL || local == LOCAL_AUTH ||
        local == LOCAL_HELLO || local == LOCAL_QUIT) {
        return NOT_MINE;
    }
    if (local == LOCAL_RESET) {
        multi_wait_end(&rc->mw);
        return NOT_MINE;
    }
    if (is_cmd(cmd, "MULTI")) {
        return answer_error(r, "ERR MULTI calls can not be nested");
    }
    if (is_cmd(cmd, "DISCARD") || (is_cmd(cmd, "EXEC") && rc->mw.n == 0)) {
        multi_wait_end(&rc->mw);
        return is_cmd(cmd, "EXEC") ? answer(r, "*0\r\n", 4)
                                   : answer(r, "+OK\r\n", 5);
    }
    ci = info_of(r, cmd);
    node = session_node_for(r, cmd, buf, ci, &keyed);
    if (!keyed && !is_cmd(cmd, "EXEC")) {
        ret = multi_wait_keep(&rc->mw, cmd, buf);
        if (ret <= 0) {
            return ret < 0 ? -1 : answer(r, "+QUEUED\r\n", 9);
        }
    }
    if (!rfifo_empty(&rc->fifo)) {
        return WAIT; /* the session starts after every earlier reply */
    }
    ret = open_session(r, node);
    if (ret != 0) {
        multi_wait_end(&rc->mw);
        return ret < 0 ? -1 : 0;
    }
    if (multi_wait_bind(&rc->mw, rc->session) < 0) {
        return -1;
    }
    return in_session(r, cmd, buf, local, o);
}

/* ---- one command ---- */

/* One command outside a session. Returns 0, WAIT or -1. */
static int
pooled(struct run *r, const struct resp_command *cmd, char *buf,
       enum resp_local_cmd local, struct account_req *o, int *accounted)
{
    const struct cmd_info *ci =
        local == LOCAL_NONE || local == LOCAL_GET ? info_of(r, cmd) : NULL;
    struct client_rewrite cr;
    int node, keyed, rc;

    switch (local) {
    case LOCAL_NONE:
        break;
    case LOCAL_GET:
        *accounted = 1;
        return cmd_get(r, cmd, buf, ci);
    case LOCAL_PING:
        if (cmd->argc > 2) {
            o->status = 400;
            return answer_error(
                r, "ERR wrong number of arguments for 'ping' command");
        }
        return cmd->argc == 1
                   ? answer(r, "+PONG\r\n", 7)
                   : answer_bulk(r, cmd->argv[1].p, cmd->argv[1].len);
    case LOCAL_ECHO:
        if (cmd->argc != 2) {
            o->status = 400;
            return answer_error(
                r, "ERR wrong number of arguments for 'echo' command");
        }
        return answer_bulk(r, cmd->argv[1].p, cmd->argv[1].len);
    case LOCAL_QUIT:
        answer(r, "+OK\r\n", 5);
        return -1;
    default:
        return state_command(r, cmd, buf, o);
    }
    if (client_by_id(r, cmd, &cr)) {
        struct rcmd *h =
            rcmd_command(r->px, r->c, &cr.cmd, NULL, ci, r->rc->st.proto,
                         r->rc->st.db, RCMD_KEYS_WRITES);

        if (h == NULL) {
            return -1;
        }
        h->pinned = cr.node >= 0;
        h->pin = cr.node;
        *accounted = 1; /* when its reply is written */
        return send_record(r, h);
    }
    if (resp_local_opens_session(cmd, ci)) {
        if (nodes_is_cluster(r->px->nodes) && is_cmd(cmd, "MULTI")) {
            /* Its node is its first keyed command's: wait for it. */
            multi_wait_begin(&r->rc->mw);
            return answer(r, "+OK\r\n", 5);
        }
        if (!rfifo_empty(&r->rc->fifo)) {
            return WAIT; /* the session starts after every earlier reply */
        }
        node = session_node_for(r, cmd, buf, ci, &keyed);
        rc = open_session(r, node);
        if (rc != 0) {
            o->status = 503;
            return rc < 0 ? -1 : 0;
        }
        return in_session(r, cmd, buf, LOCAL_NONE, o);
    }
    *accounted = 1; /* when its reply is written */
    return forward(r, cmd, buf, ci);
}

/* A read user's command it may not run (perm.h): Redis's -NOPERM, in
 * its turn. Queued in a transaction, a command Redis refuses goes in its
 * place, silently, so EXEC aborts as Redis would abort it. Returns 0,
 * WAIT (replies owed go first) or -1. */
static int
refuse_perm(struct run *r, const struct resp_command *cmd,
            const struct cmd_info *ci, struct account_req *o)
{
    struct respd_conn *rc = r->rc;
    struct session *s = rc->session;
    struct resp_arg a = {PERM_ABORT_TX, sizeof(PERM_ABORT_TX) - 1};
    struct resp_command abort_tx = {.argc = 1, .is_inline = 1, .words = &a};
    char msg[REPLY_MAX / 2];

    if (s != NULL && session_owed(s) > 0 && !session_subscribed(s)) {
        return WAIT;
    }
    abort_tx.argv[0] = a;
    if (s != NULL && session_in_transaction(s) &&
        session_send(s, &abort_tx, NULL, SESSION_SILENT) < 0) {
        return -1;
    }
    if (s == NULL && rc->mw.active &&
        multi_wait_keep(&rc->mw, &abort_tx, NULL) < 0) {
        return -1;
    }
    perm_refusal(cmd, ci, msg, sizeof(msg));
    o->status = 403;
    return answer_error(r, msg);
}

/* Runs one command. Returns 0, WAIT (leave it unparsed for now), or -1
 * to close after flushing. */
static int
run_one(struct run *r, const struct resp_command *cmd, char *buf)
{
    enum resp_local_cmd local = resp_local_which(cmd);
    struct account_req o = {
        .listener = METRICS_RESP,
        .method = cmd->argv[0].p,
        .method_len = cmd->argv[0].len,
        .status = 200,
        .cache = ACCOUNT_NONE,
        .key_len = cmd->argc > 1 ? cmd->argv[1].len : 0,
        .start_us = util_now_us(),
    };
    int rc, accounted = 0;

    if (!guard_let_in(r->px, r->rc->st.authed) && local != LOCAL_AUTH &&
        local != LOCAL_HELLO && local != LOCAL_QUIT && local != LOCAL_RESET) {
        auth_failed(r->px, METRICS_RESP, NULL, 0);
        o.status = 401;
        rc = answer_error(r, RESP_NOAUTH);
        account_request(r->px, &o);
        return rc;
    }
    if (r->rc->st.perm == AUTH_READ) {
        const struct cmd_info *ci =
            local == LOCAL_NONE ? info_of(r, cmd) : NULL;

        if (!perm_read_allows(local, ci)) {
            rc = refuse_perm(r, cmd, ci, &o);
            if (rc != WAIT) {
                account_request(r->px, &o);
            }
            return rc;
        }
    }
    rc = nodes_is_cluster(r->px->nodes) ? cluster_rules(r, cmd, buf, local, &o)
                                        : NOT_MINE;
    if (rc == NOT_MINE) {
        rc = r->rc->session != NULL
                 ? in_session(r, cmd, buf, local, &o)
                 : pooled(r, cmd, buf, local, &o, &accounted);
    }
    if (rc != WAIT && !accounted) {
        account_request(r->px, &o);
    }
    return rc;
}

/* ---- the conn ---- */

static struct respd_conn *
conn_state(struct proxy *px, struct conn *c)
{
    struct respd_conn *rc = c->proto;

    if (rc == NULL && (rc = calloc(1, sizeof(*rc))) != NULL) {
        resp_parser_init(&rc->ps, (size_t)proxy_cfg(px)->max_request, NULL);
        resp_state_init(&rc->st, px);
        if (rfifo_limit(&rc->fifo, &c->kind->max_output) < 0) {
            free(rc);
            return NULL;
        }
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
    if (need == 0 && avail == c->rcap - c->rpos) {
        need = avail + 1; /* grows geometrically (conn_reserve) */
    }
    return need > c->rcap - c->rpos && conn_reserve(c, need) < 0 ? -1 : 0;
}

/* Walks the buffered commands (see the top of this file). */
static int
serve_loop(struct run *r, struct resp_arg *words)
{
    struct conn *c = r->c;
    struct respd_conn *rc = r->rc;
    struct resp_command cmd;
    const char *err;
    char buf[REPLY_MAX];
    int ret;

    rc->ps.words = words; /* inline words live for this call only */
    for (;;) {
        size_t avail = c->rlen - c->rpos;
        char *at = c->rbuf + c->rpos;

        if (drain(r) < 0) {
            return -1;
        }
        if (rc->closing) {
            /* The close waits for every reply owed before it. */
            r->held_back = !rfifo_empty(&rc->fifo);
            return r->held_back ? 0 : -1;
        }
        if (rc->session != NULL && rfifo_empty(&rc->fifo) && pump(r) < 0) {
            return -1;
        }
        if (rc->vf != NULL && verify_step(r->px, rc->vf) == VERIFY_PENDING) {
            r->held_back = 1; /* its AUTH waits for Redis's verdict */
            return 0;
        }
        if (conn_out_full(c)) {
            return 0; /* back-pressure: the worker parks it */
        }
        if (rc->fifo.n >= RESPD_MAX_RECORDS ||
            (rc->session != NULL && session_resetting(rc->session))) {
            r->held_back = 1; /* replies owed, or waiting for +RESET */
            return 0;
        }
        if (avail == 0) {
            c->req_start_ms = 0;
            return 0;
        }
        guard_parser(r->px, &rc->ps, rc->st.authed);
        ret = resp_parser_feed(&rc->ps, at, avail, &cmd, &err);
        if (ret == RESP_INCOMPLETE) {
            return await_more(c, rc, avail);
        }
        if (ret != RESP_OK) {
            metrics_request(&r->px->metrics, METRICS_RESP, 400);
            if (answer(r, buf,
                       resp_fmt_error(buf, sizeof(buf), "ERR %s", err)) < 0) {
                return -1;
            }
            rc->closing = 1;
            continue;
        }
        c->req_start_ms = 0;
        if (guard_http_on_resp(r->px, c, &cmd)) {
            return -1; /* a web page's request: closed, no reply */
        }
        ret = cmd.argc == 0 ? 0 : run_one(r, &cmd, at);
        if (ret == WAIT) {
            /* Parse it again once the replies owed have come. */
            resp_parser_init(&rc->ps, rc->ps.max_request, words);
            r->held_back = 1;
            return 0;
        }
        conn_consume(c, cmd.consumed);
        if (ret < 0) {
            rc->closing = 1; /* after what is owed before it */
        }
    }
}

static int
serve(struct conn *c)
{
    struct resp_arg words[RESP_MAX_INLINE_ARGS];
    struct run r = {.px = c->kind->ctx, .c = c, .now_ms = util_now_ms()};
    int rc;

    r.rc = conn_state(r.px, c);
    if (r.rc == NULL) {
        return -1;
    }
    r.table = commands_acquire(r.px->commands);
    rc = serve_loop(&r, words);
    commands_release(r.px->commands);
    /* Records and a session have bytes of their own to move: serve the
     * conn even when the client is silent, and never close it as idle
     * while it waits. */
    rfifo_wait_state(&r.rc->fifo, c);
    if (r.rc->vf != NULL && verify_result(r.rc->vf) == VERIFY_PENDING) {
        /* Redis owes the check an answer (the fifo is empty meanwhile):
         * past its deadline the conn is served, and the check fails. */
        c->waiting = 1;
        c->wait_deadline_ms = verify_deadline(r.rc->vf);
    }
    c->stalled = r.held_back;
    c->pump = r.rc->session != NULL || c->waiting;
    c->hold = r.rc->session != NULL && session_waiting(r.rc->session);
    return rc;
}

static size_t
held(const struct conn *c)
{
    const struct respd_conn *rc = c->proto;

    return rc != NULL ? rfifo_held_bytes(&rc->fifo) : 0;
}

static void
release(struct conn *c)
{
    struct respd_conn *rc = c->proto;

    if (rc != NULL) {
        rfifo_abandon_all(&rc->fifo);
        verify_free(c->kind->ctx, rc->vf);
        session_close(c->kind->ctx, rc->session);
        multi_wait_end(&rc->mw);
        resp_state_free(&rc->st);
        free(rc);
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
    .held = held,
    .release = release,
};
