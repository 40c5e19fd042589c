/*
 * resp_state: a RESP client's connection state and the proxy's answers
 * that set or show it; see resp_state.h.
 */
#include "serve/resp_state.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/util.h"
#include "net/conn.h"
#include "serve/auth.h"
#include "serve/proxy.h"
#include "serve/resp_local.h"
#include "serve/verify.h"
#include "upstream/commands.h"
#include "upstream/idents.h"
#include "upstream/nodes.h"

void
resp_state_init(struct resp_state *s, struct proxy *px)
{
    memset(s, 0, sizeof(*s));
    s->authed = !auth_required(px);
    s->perm = AUTH_WRITE;
    s->proto = 2;
    s->db = nodes_is_cluster(px->nodes) ? 0 : proxy_cfg(px)->redis_db;
    s->id = (uint64_t)atomic_fetch_add(&px->client_ids, 1) + 1;
    s->since_ms = util_now_ms();
}

void
resp_state_reset(struct resp_state *s, struct proxy *px)
{
    uint64_t id = s->id;
    int64_t since = s->since_ms;
    struct guard g = s->guard; /* RESET does not forgive wrong passwords */

    resp_state_free(s);
    resp_state_init(s, px);
    s->id = id;
    s->since_ms = since;
    s->guard = g;
}

void
resp_state_free(struct resp_state *s)
{
    free(s->name);
    free(s->lib_name);
    free(s->lib_ver);
    free(s->user);
    ident_drop(s->ident);
    memset(s, 0, sizeof(*s));
}

int
resp_state_databases(struct proxy *px)
{
    char version[32];
    int n;

    commands_server(px->commands, version, sizeof(version), &n);
    return n > 0 ? n : 16;
}

/* An answer being built (heap, grown as it is written). */
struct ans {
    char *buf;
    size_t len, cap;
    int status;
    int close;  /* close the conn after the answer */
    int verify; /* no answer: Redis must check the credentials first */
    int oom;    /* out of memory: the answer is incomplete */
};

/* Room for n more bytes and a NUL in a. Returns 0 or -1. */
static int
room(struct ans *a, size_t n)
{
    char *p;
    size_t cap = a->cap > 0 ? a->cap : 256;

    if (a->oom) {
        return -1;
    }
    while (cap - a->len < n + 1) {
        cap *= 2;
    }
    if (cap != a->cap) {
        p = realloc(a->buf, cap);
        if (p == NULL) {
            a->oom = 1;
            return -1;
        }
        a->buf = p;
        a->cap = cap;
    }
    return 0;
}

static void
put(struct ans *a, const char *p, size_t n)
{
    if (room(a, n) == 0) {
        memcpy(a->buf + a->len, p, n);
        a->len += n;
    }
}

static void add(struct ans *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add(struct ans *a, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || room(a, (size_t)n) < 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(a->buf + a->len, a->cap - a->len, fmt, ap);
    va_end(ap);
    a->len += (size_t)n;
}

static void
error(struct ans *a, int status, const char *msg)
{
    a->len = 0;
    a->status = status;
    add(a, "-%s\r\n", msg);
}

static void
bulk(struct ans *a, const char *p, size_t n)
{
    add(a, "$%zu\r\n", n);
    put(a, p, n);
    add(a, "\r\n");
}

static void
nil(struct ans *a, int proto)
{
    add(a, proto == 3 ? "_\r\n" : "$-1\r\n");
}

static int
is(const struct resp_arg *a, const char *name)
{
    size_t n = strlen(name);

    return a->len == n && strncasecmp(a->p, name, n) == 0;
}

static void
arity(struct ans *a, const char *name)
{
    char msg[96];

    snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command",
             name);
    error(a, 400, msg);
}

/* A decimal integer, all of a, read as Redis's string2ll does: an
 * optional '-', digits with no leading zero, no "-0", no sign '+', no
 * space, within a long long. */
static int
integer(const struct resp_arg *a, long long *v)
{
    unsigned long long u = 0, lim;
    size_t i = 0;
    int neg = 0;

    if (a->len == 1 && a->p[0] == '0') {
        *v = 0;
        return 0;
    }
    if (a->len > 0 && a->p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= a->len || a->p[i] < '1' || a->p[i] > '9') {
        return -1;
    }
    lim =
        neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; i < a->len; i++) {
        unsigned d = (unsigned)(a->p[i] - '0');

        if (a->p[i] < '0' || a->p[i] > '9' || u > (lim - d) / 10) {
            return -1;
        }
        u = u * 10 + d;
    }
    *v = neg ? (long long)(0 - u) : (long long)u;
    return 0;
}

/* ---- AUTH and HELLO ---- */

/* Keeps the name the client authenticated as (NULL: the default user). */
static void
keep_user(struct ans *a, struct resp_state *s, const struct resp_arg *user)
{
    char *p = NULL;

    if (user != NULL &&
        !(user->len == 7 && memcmp(user->p, "default", 7) == 0)) {
        p = malloc(user->len + 1);
        if (p == NULL) {
            a->oom = 1;
            return;
        }
        memcpy(p, user->p, user->len);
        p[user->len] = '\0';
    }
    free(s->user);
    s->user = p;
}

/* ACL passthrough: Redis checks user and pass (verify.h). The first time
 * the caller is asked to start the check (a->verify); once it is over,
 * its outcome is the answer. Returns as credentials. */
static int
passthrough(struct proxy *px, struct resp_state *s, struct ans *a,
            const struct resp_arg *user, const struct resp_arg *pass)
{
    struct verify *vf = s->vf;
    char line[300];

    if (vf == NULL || verify_result(vf) == VERIFY_PENDING ||
        !verify_matches(vf, user != NULL ? user->p : NULL,
                        user != NULL ? user->len : 0, pass->p, pass->len)) {
        s->ask_user = user;
        s->ask_pass = pass;
        a->verify = 1;
        return 0;
    }
    switch (verify_result(vf)) {
    case VERIFY_OK:
        ident_drop(s->ident);
        s->ident = verify_take_ident(vf);
        s->perm = AUTH_WRITE; /* Redis's ACL decides the rest */
        keep_user(a, s, user);
        return 1;
    case VERIFY_REFUSED:
        error(a, verify_wrong_password(vf) ? 401 : 400, verify_error(vf));
        if (verify_wrong_password(vf)) {
            a->close = guard_wrong_password(px, &s->guard, NULL, 0);
        }
        return 0;
    default:
        snprintf(line, sizeof(line), "ERR redis unavailable: %s",
                 verify_error(vf));
        error(a, 503, line);
        return 0;
    }
}

/* Checks user (may be NULL: the password alone) and pass as AUTH does.
 * Returns 1 when they let the client in; else the error is in a, and
 * a->close set when this wrong password was one too many (guard.h), or
 * a->verify set when Redis must check them first (passthrough). */
static int
credentials(struct proxy *px, struct resp_state *s, struct ans *a,
            const struct resp_arg *user, const struct resp_arg *pass)
{
    int perm;

    if (!auth_required(px)) {
        return passthrough(px, s, a, user, pass);
    }
    perm = auth_check(px, user != NULL ? user->p : NULL,
                      user != NULL ? user->len : 0, pass->p, pass->len);
    if (perm == AUTH_DENIED) {
        error(a, 401, RESP_WRONGPASS);
        a->close =
            guard_wrong_password(px, &s->guard, user != NULL ? user->p : NULL,
                                 user != NULL ? user->len : 0);
        return 0;
    }
    s->perm = perm;
    keep_user(a, s, user);
    return 1;
}

static int
cmd_auth(struct proxy *px, struct resp_state *s, struct ans *a,
         const struct resp_arg *argv, size_t argc)
{
    if (argc < 2) {
        arity(a, "auth");
        return STATE_NONE;
    }
    if (argc > 3) {
        error(a, 400, "ERR syntax error");
        return STATE_NONE;
    }
    if (!credentials(px, s, a, argc == 3 ? &argv[1] : NULL, &argv[argc - 1])) {
        return STATE_NONE;
    }
    s->authed = 1;
    add(a, "+OK\r\n");
    return STATE_AUTHED;
}

/* Redis's HELLO reply: the connection's properties. */
static void
hello_reply(struct proxy *px, const struct resp_state *s, struct ans *a)
{
    char ver[32];
    int dbs;

    commands_server(px->commands, ver, sizeof(ver), &dbs);
    if (ver[0] == '\0') {
        snprintf(ver, sizeof(ver), "7.0.0"); /* not learned yet */
    }

    add(a, s->proto == 3 ? "%%7\r\n" : "*14\r\n");
    add(a, "$6\r\nserver\r\n$5\r\nredis\r\n");
    add(a, "$7\r\nversion\r\n");
    bulk(a, ver, strlen(ver));
    add(a, "$5\r\nproto\r\n:%d\r\n", s->proto);
    add(a, "$2\r\nid\r\n:%llu\r\n", (unsigned long long)s->id);
    add(a, "$4\r\nmode\r\n$10\r\nstandalone\r\n");
    add(a, "$4\r\nrole\r\n$6\r\nmaster\r\n");
    add(a, "$7\r\nmodules\r\n*0\r\n");
}

/* A CLIENT SETNAME / SETINFO value: printable, no spaces (Redis's rule). */
static int
name_ok(const struct resp_arg *v)
{
    size_t i;

    for (i = 0; i < v->len; i++) {
        if (v->p[i] < '!' || v->p[i] > '~') {
            return 0;
        }
    }
    return 1;
}

/* Replaces *to with a copy of v (an empty v: none). */
static void
keep(struct ans *a, char **to, const struct resp_arg *v)
{
    char *p = NULL;

    if (v->len > 0) {
        p = malloc(v->len + 1);
        if (p == NULL) {
            a->oom = 1;
            return;
        }
        memcpy(p, v->p, v->len);
        p[v->len] = '\0';
    }
    free(*to);
    *to = p;
}

/* A kept name, "" when none. */
static const char *
str(const char *p)
{
    return p != NULL ? p : "";
}

static int
cmd_hello(struct proxy *px, struct resp_state *s, struct ans *a,
          const struct resp_arg *argv, size_t argc)
{
    struct resp_hello h;
    const char *err;
    int effect = STATE_NONE, was = s->proto;

    if (resp_local_hello(argv, argc, &h, &err) < 0) {
        char line[200];

        if (err == NULL) {
            snprintf(line, sizeof(line),
                     "ERR Syntax error in HELLO option '%.*s'",
                     (int)(h.bad_option->len < 128 ? h.bad_option->len : 128),
                     h.bad_option->p);
            err = line;
        }
        error(a, 400, err);
        return STATE_NONE;
    }
    if (h.password != NULL) {
        if (!credentials(px, s, a, h.user, h.password)) {
            return STATE_NONE;
        }
        s->authed = 1;
        effect = STATE_AUTHED;
    }
    if (!guard_let_in(px, s->authed)) {
        auth_failed(px, METRICS_RESP, NULL, 0); /* refused as any is */
        error(a, 401, RESP_HELLO_NOAUTH);
        return STATE_NONE;
    }
    if (h.name != NULL) {
        if (!name_ok(h.name)) {
            error(a, 400,
                  "ERR Client names cannot contain spaces, newlines "
                  "or special characters.");
            return effect;
        }
        keep(a, &s->name, h.name);
    }
    if (h.has_version) {
        s->proto = h.version;
    }
    hello_reply(px, s, a);
    return s->proto != was ? STATE_PROTO : effect;
}

/* ---- SELECT ---- */

static int
cmd_select(struct proxy *px, struct resp_state *s, struct ans *a,
           const struct resp_arg *argv, size_t argc)
{
    long long db;

    if (argc != 2) {
        arity(a, "select");
        return STATE_NONE;
    }
    if (integer(&argv[1], &db) < 0 || db < -2147483648ll || db > 2147483647ll) {
        error(a, 400, "ERR value is not an integer or out of range");
        return STATE_NONE;
    }
    if (nodes_is_cluster(px->nodes) && db != 0) {
        error(a, 400, "ERR SELECT is not allowed in cluster mode");
        return STATE_NONE;
    }
    if (db < 0 || db >= resp_state_databases(px)) {
        error(a, 400, "ERR DB index is out of range");
        return STATE_NONE;
    }
    add(a, "+OK\r\n");
    if (s->db == (int)db) {
        return STATE_NONE;
    }
    s->db = (int)db;
    return STATE_DB;
}

/* ---- CLIENT ---- */

/* The peer and local addresses of fd as "ip:port". */
static void
addr_of(int fd, int local, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if ((local ? getsockname(fd, (struct sockaddr *)&ss, &len)
               : getpeername(fd, (struct sockaddr *)&ss, &len)) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;

            inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(out, cap, "%s:%d", ip, port);
}

/* CLIENT INFO's line (Redis 7's fields; see docs/protocols.md for which
 * are the proxy's own). */
static void
client_info(const struct resp_state *s, const struct conn *c, struct ans *a)
{
    struct ans line = {0};
    char peer[64], local[64], flags[4];
    int n = 0;

    addr_of(c->fd, 0, peer, sizeof(peer));
    addr_of(c->fd, 1, local, sizeof(local));
    if (s->no_evict) {
        flags[n++] = 'e';
    }
    if (s->no_touch) {
        flags[n++] = 'T';
    }
    if (n == 0) {
        flags[n++] = 'N';
    }
    flags[n] = '\0';
    add(&line,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=0 "
        "flags=%s db=%d sub=0 psub=0 ssub=0 multi=-1 qbuf=0 "
        "qbuf-free=0 argv-mem=0 multi-mem=0 rbs=%d rbp=0 obl=0 "
        "oll=0 omem=0 tot-mem=0 events=r cmd=client|info "
        "user=%s redir=-1 resp=%d lib-name=%s lib-ver=%s\n",
        (unsigned long long)s->id, peer, local, c->fd, str(s->name),
        (long long)((util_now_ms() - s->since_ms) / 1000), flags, s->db,
        CONN_RBUF, s->user != NULL ? s->user : "default", s->proto,
        str(s->lib_name), str(s->lib_ver));
    if (line.oom) {
        a->oom = 1;
    } else if (s->proto == 3) {
        add(a, "=%zu\r\ntxt:", line.len + 4); /* a verbatim string */
        put(a, line.buf, line.len);
        add(a, "\r\n");
    } else {
        bulk(a, line.buf, line.len);
    }
    free(line.buf);
}

/* on|off (Redis's NO-EVICT / NO-TOUCH argument). */
static int
on_off(const struct resp_arg *v)
{
    return is(v, "on") ? 1 : is(v, "off") ? 0 : -1;
}

static int
cmd_client(struct resp_state *s, const struct conn *c, struct ans *a,
           const struct resp_arg *argv, size_t argc)
{
    const struct resp_arg *sub = &argv[1];
    int v;

    if (is(sub, "ID") || is(sub, "INFO") || is(sub, "GETNAME")) {
        if (argc != 2) {
            char what[32];

            snprintf(what, sizeof(what), "client|%.*s", (int)sub->len, sub->p);
            for (v = 0; what[v]; v++) {
                what[v] = (char)(what[v] >= 'A' && what[v] <= 'Z'
                                     ? what[v] - 'A' + 'a'
                                     : what[v]);
            }
            arity(a, what);
        } else if (is(sub, "ID")) {
            add(a, ":%llu\r\n", (unsigned long long)s->id);
        } else if (is(sub, "INFO")) {
            client_info(s, c, a);
        } else if (s->name == NULL) {
            nil(a, s->proto);
        } else {
            bulk(a, s->name, strlen(s->name));
        }
        return STATE_NONE;
    }
    if (is(sub, "SETNAME")) {
        if (argc != 3) {
            arity(a, "client|setname");
        } else if (!name_ok(&argv[2])) {
            error(a, 400,
                  "ERR Client names cannot contain spaces, newlines "
                  "or special characters.");
        } else {
            keep(a, &s->name, &argv[2]);
            add(a, "+OK\r\n");
        }
        return STATE_NONE;
    }
    if (is(sub, "SETINFO")) {
        if (argc != 4) {
            arity(a, "client|setinfo");
        } else if (!is(&argv[2], "lib-name") && !is(&argv[2], "lib-ver")) {
            char msg[200];

            snprintf(msg, sizeof(msg), "ERR Unrecognized option '%.*s'",
                     (int)(argv[2].len < 100 ? argv[2].len : 100), argv[2].p);
            error(a, 400, msg);
        } else if (!name_ok(&argv[3])) {
            char msg[200];

            snprintf(msg, sizeof(msg),
                     "ERR %.*s cannot contain spaces, newlines or special "
                     "characters.",
                     (int)argv[2].len, argv[2].p);
            error(a, 400, msg);
        } else {
            keep(a, is(&argv[2], "lib-name") ? &s->lib_name : &s->lib_ver,
                 &argv[3]);
            add(a, "+OK\r\n");
        }
        return STATE_NONE;
    }
    /* NO-EVICT, NO-TOUCH on|off */
    if (argc != 3) {
        arity(a, is(sub, "NO-EVICT") ? "client|no-evict" : "client|no-touch");
        return STATE_NONE;
    }
    v = on_off(&argv[2]);
    if (v < 0) {
        error(a, 400, "ERR syntax error");
        return STATE_NONE;
    }
    if (is(sub, "NO-EVICT")) {
        s->no_evict = (unsigned)v;
    } else {
        s->no_touch = (unsigned)v;
    }
    add(a, "+OK\r\n");
    return STATE_NONE;
}

int
resp_state_answer(struct proxy *px, struct conn *c, struct resp_state *s,
                  const struct resp_arg *argv, size_t argc, char **out,
                  size_t *out_len, int *status)
{
    struct ans a = {0};
    int effect = STATE_NONE;

    a.status = 200;
    if (is(&argv[0], "AUTH")) {
        effect = cmd_auth(px, s, &a, argv, argc);
    } else if (is(&argv[0], "HELLO")) {
        effect = cmd_hello(px, s, &a, argv, argc);
    } else if (is(&argv[0], "SELECT")) {
        effect = cmd_select(px, s, &a, argv, argc);
    } else if (is(&argv[0], "RESET")) {
        resp_state_reset(s, px);
        add(&a, "+RESET\r\n");
        effect = STATE_RESET;
    } else {
        effect = cmd_client(s, c, &a, argv, argc);
    }
    if (a.oom) {
        free(a.buf);
        return -1;
    }
    if (a.close) {
        effect = STATE_CLOSE;
    }
    if (a.verify) {
        effect = STATE_VERIFY; /* no answer yet */
        a.len = 0;
    }
    *status = a.status;
    *out_len = a.len;
    *out = a.buf;
    return effect;
}
