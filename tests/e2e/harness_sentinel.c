/*
 * harness_sentinel: a master, two replicas and three sentinels on
 * loopback, the proxy in front of them, and a scripted sentinel; see
 * harness_sentinel.h. Processes are started with the means of
 * harness_proc.c (a process counts as started once its pid listens on
 * its port; a port taken meanwhile by a parallel test means a fresh
 * start on fresh ports).
 */
#include "harness_sentinel.h"
#include "harness_int.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#define H_SETTLE_MS 20000 /* until replicas and sentinels agree */

/* ---- connections ---- */

static redisContext *
h__ctx(int port)
{
    struct timeval tv = {H_IO_MS / 1000, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

    if (c != NULL && (c->err || redisSetTimeout(c, tv) != REDIS_OK)) {
        redisFree(c);
        c = NULL;
    }
    return c;
}

static redisReply *
h__vcmd(int port, const char *fmt, va_list ap)
{
    redisContext *c = h__ctx(port);
    redisReply *r;

    if (c == NULL) {
        return NULL;
    }
    r = redisvCommand(c, fmt, ap);
    redisFree(c);
    return r;
}

redisContext *
h_sent_redis_ctx(const struct h_sentinels *s, int i)
{
    return s->redis[i].pid > 0 ? h__ctx(s->redis[i].port) : NULL;
}

redisReply *
h_sent_redis_cmd(const struct h_sentinels *s, int i, const char *fmt, ...)
{
    redisReply *r = NULL;
    va_list ap;

    if (s->redis[i].pid > 0) {
        va_start(ap, fmt);
        r = h__vcmd(s->redis[i].port, fmt, ap);
        va_end(ap);
    }
    return r;
}

redisReply *
h_sent_sentinel_cmd(const struct h_sentinels *s, int i, const char *fmt, ...)
{
    redisReply *r = NULL;
    va_list ap;

    if (s->sentinel[i].pid > 0) {
        va_start(ap, fmt);
        r = h__vcmd(s->sentinel[i].port, fmt, ap);
        va_end(ap);
    }
    return r;
}

/* The value of "name:" in an INFO text, copied into out; 0 when absent. */
static int
h__info(const char *text, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    const char *p = text;

    while ((p = strstr(p, name)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ':') {
            size_t len = strcspn(p + n + 1, "\r\n");

            snprintf(out, cap, "%.*s", (int)len, p + n + 1);
            return 1;
        }
        p += n;
    }
    return 0;
}

/* INFO field name of redis node i into out. Returns 1 or 0. */
static int
h__redis_info(const struct h_sentinels *s, int i, const char *name, char *out,
              size_t cap)
{
    redisReply *r = h_sent_redis_cmd(s, i, "INFO replication");
    int ok = r != NULL && r->type == REDIS_REPLY_STRING &&
             h__info(r->str, name, out, cap);

    freeReplyObject(r);
    return ok;
}

long
h_sent_calls(const struct h_sentinels *s, int i, const char *cmd)
{
    redisReply *r = h_sent_redis_cmd(s, i, "INFO commandstats");
    long v = -1;

    if (r != NULL && r->type == REDIS_REPLY_STRING) {
        v = h_cmdstat_calls(r->str, cmd);
    }
    freeReplyObject(r);
    return v;
}

/* ---- what they say ---- */

static int
h__index_of_port(const struct h_sentinels *s, long port)
{
    int i;

    for (i = 0; i < H_SENT_REDIS; i++) {
        if (s->redis[i].port == port) {
            return i;
        }
    }
    return -1;
}

int
h_sent_master(const struct h_sentinels *s)
{
    char role[32];
    int i, named = -1;

    for (i = 0; i < H_SENT_SENTINELS; i++) {
        redisReply *r = h_sent_sentinel_cmd(
            s, i, "SENTINEL get-master-addr-by-name %s", H_SENT_NAME);
        int m = -1;

        if (r == NULL) {
            continue;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            m = h__index_of_port(s, strtol(r->element[1]->str, NULL, 10));
        }
        freeReplyObject(r);
        if (m < 0 || (named >= 0 && m != named)) {
            return -1;
        }
        named = m;
    }
    if (named < 0 || !h__redis_info(s, named, "role", role, sizeof(role)) ||
        strcmp(role, "master") != 0) {
        return -1;
    }
    return named;
}

struct h__not {
    const struct h_sentinels *s;
    int not, got;
};

static int
h__new_master(void *arg)
{
    struct h__not *w = arg;

    w->got = h_sent_master(w->s);
    return w->got >= 0 && w->got != w->not ;
}

int
h_sent_wait_master(const struct h_sentinels *s, int not, int timeout_ms)
{
    struct h__not w = {s, not, -1};

    return h_wait_until(timeout_ms, h__new_master, &w) ? w.got : -1;
}

struct h__sync {
    const struct h_sentinels *s;
    int m;
};

static int
h__synced(void *arg)
{
    const struct h__sync *w = arg;
    char off[32], roff[32], link[16], port[16];
    int i;

    if (!h__redis_info(w->s, w->m, "master_repl_offset", off, sizeof(off))) {
        return 0;
    }
    for (i = 0; i < H_SENT_REDIS; i++) {
        if (i == w->m || w->s->redis[i].pid <= 0) {
            continue;
        }
        if (!h__redis_info(w->s, i, "master_link_status", link, sizeof(link)) ||
            strcmp(link, "up") != 0 ||
            !h__redis_info(w->s, i, "master_port", port, sizeof(port)) ||
            (atoi(port) != w->s->redis[w->m].port &&
             !(i == w->s->relayed && atoi(port) == w->s->relay.port)) ||
            !h__redis_info(w->s, i, "slave_repl_offset", roff, sizeof(roff)) ||
            atoll(roff) < atoll(off)) {
            return 0;
        }
    }
    return 1;
}

int
h_sent_wait_synced(const struct h_sentinels *s, int m, int timeout_ms)
{
    struct h__sync w = {s, m};

    return h_wait_until(timeout_ms, h__synced, &w);
}

/* Every sentinel sees the master with two replicas and two others. */
static int
h__sentinels_settled(void *arg)
{
    const struct h_sentinels *s = arg;
    int i;

    for (i = 0; i < H_SENT_SENTINELS; i++) {
        redisReply *r =
            h_sent_sentinel_cmd(s, i, "SENTINEL master %s", H_SENT_NAME);
        int ok = 0;
        size_t j;
        long slaves = -1, others = -1;
        const char *flags = "";

        for (j = 0;
             r != NULL && r->type == REDIS_REPLY_ARRAY && j + 1 < r->elements;
             j += 2) {
            const char *k = r->element[j]->str, *v = r->element[j + 1]->str;

            if (strcmp(k, "num-slaves") == 0) {
                slaves = atol(v);
            } else if (strcmp(k, "num-other-sentinels") == 0) {
                others = atol(v);
            } else if (strcmp(k, "flags") == 0) {
                flags = v;
            }
        }
        ok = slaves == H_SENT_REDIS - 1 && others == H_SENT_SENTINELS - 1 &&
             strcmp(flags, "master") == 0;
        freeReplyObject(r);
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

/* ---- processes ---- */

static const char *
h__relay_bin(void)
{
    const char *b = getenv("DELAY_RELAY_BIN");

    return b != NULL && b[0] != '\0' ? b : "build/tools/delay_relay";
}

static int
h__start_redis(struct h_sentinels *s, int i, int of_port,
               const struct h_sent_opts *o)
{
    char port[16], of[16], log[320], rdb[32];
    char *argv[H_MAX_ARGS] = {"redis-server",
                              "--port",
                              port,
                              "--bind",
                              "127.0.0.1",
                              "--save",
                              "",
                              "--appendonly",
                              "no",
                              "--dir",
                              s->dir,
                              "--dbfilename",
                              rdb,
                              "--repl-diskless-sync",
                              "yes",
                              "--repl-diskless-sync-delay",
                              "0",
                              "--repl-ping-replica-period",
                              "1",
                              "--daemonize",
                              "no"};
    int argc = 21;

    snprintf(port, sizeof(port), "%d", s->redis[i].port);
    snprintf(rdb, sizeof(rdb), "dump-%d.rdb", s->redis[i].port);
    snprintf(log, sizeof(log), "%s/redis-%d.log", s->dir, s->redis[i].port);
    if (of_port > 0) {
        snprintf(of, sizeof(of), "%d", of_port);
        argv[argc++] = "--replicaof";
        argv[argc++] = "127.0.0.1";
        argv[argc++] = of;
    }
    h__add_args(argv, &argc, o != NULL ? o->redis_args : NULL);
    return h__launch(log, argv, &s->redis[i].port, 1, &s->redis[i].pid);
}

static int
h__start_relay(struct h_sentinels *s, int target, int delay_us)
{
    char port[16], to[32], delay[16], log[320];
    char *argv[] = {(char *)h__relay_bin(), port, to, delay, NULL};

    snprintf(port, sizeof(port), "%d", s->relay.port);
    snprintf(to, sizeof(to), "127.0.0.1:%d", target);
    snprintf(delay, sizeof(delay), "%d", delay_us);
    snprintf(log, sizeof(log), "%s/relay.log", s->dir);
    return h__launch(log, argv, &s->relay.port, 1, &s->relay.pid);
}

/* A sentinel's id: 40 hex digits, one per sentinel. */
static void
h__myid(int i, char *out)
{
    snprintf(out, 41, "%040d", i + 1);
}

static int
h__start_sentinel(struct h_sentinels *s, int i)
{
    char conf[320], log[320], id[41];
    char *argv[] = {"redis-sentinel", conf, NULL};
    FILE *f;
    int j;

    snprintf(conf, sizeof(conf), "%s/sentinel-%d.conf", s->dir,
             s->sentinel[i].port);
    snprintf(log, sizeof(log), "%s/sentinel-%d.log", s->dir,
             s->sentinel[i].port);
    if ((f = fopen(conf, "w")) == NULL) {
        return -1;
    }
    h__myid(i, id);
    fprintf(f,
            "port %d\nbind 127.0.0.1\ndir %s\ndaemonize no\n"
            "sentinel myid %s\n"
            "sentinel monitor %s 127.0.0.1 %d 2\n"
            "sentinel down-after-milliseconds %s %d\n"
            "sentinel failover-timeout %s 6000\n"
            "sentinel parallel-syncs %s 2\n",
            s->sentinel[i].port, s->dir, id, H_SENT_NAME, s->redis[0].port,
            H_SENT_NAME, H_SENT_DOWN_MS, H_SENT_NAME, H_SENT_NAME);
    for (j = 1; j < H_SENT_REDIS; j++) {
        fprintf(f, "sentinel known-replica %s 127.0.0.1 %d\n", H_SENT_NAME,
                s->redis[j].port);
    }
    for (j = 0; j < H_SENT_SENTINELS; j++) {
        if (j != i) {
            h__myid(j, id);
            fprintf(f, "sentinel known-sentinel %s 127.0.0.1 %d %s\n",
                    H_SENT_NAME, s->sentinel[j].port, id);
        }
    }
    fclose(f);
    return h__launch(log, argv, &s->sentinel[i].port, 1, &s->sentinel[i].pid);
}

/* One attempt on fresh ports. */
static int
h__sent_try(struct h_sentinels *s, const struct h_sent_opts *o)
{
    int ports[H_SENT_REDIS + H_SENT_SENTINELS + 1], i, n = 0, up;
    int delay = o != NULL ? o->delay_us : 0;

    if (h__free_ports(ports, H_SENT_REDIS + H_SENT_SENTINELS + 1) < 0) {
        return -1;
    }
    for (i = 0; i < H_SENT_REDIS; i++) {
        s->redis[i].port = ports[n++];
    }
    for (i = 0; i < H_SENT_SENTINELS; i++) {
        s->sentinel[i].port = ports[n++];
    }
    s->relay.port = ports[n];
    s->relayed = delay > 0 ? H_SENT_REDIS - 1 : -1;
    if (h__start_redis(s, 0, 0, o) < 0 ||
        (delay > 0 && h__start_relay(s, s->redis[0].port, delay) < 0)) {
        return -1;
    }
    for (i = 1; i < H_SENT_REDIS; i++) {
        up = i == s->relayed ? s->relay.port : s->redis[0].port;
        if (h__start_redis(s, i, up, o) < 0) {
            return -1;
        }
    }
    if (!h_sent_wait_synced(s, 0, H_SETTLE_MS)) {
        fprintf(stderr, "harness: the replicas did not sync\n");
        return -1;
    }
    for (i = 0; i < H_SENT_SENTINELS; i++) {
        if (h__start_sentinel(s, i) < 0) {
            return -1;
        }
    }
    if (!h_wait_until(H_SETTLE_MS, h__sentinels_settled, s)) {
        fprintf(stderr, "harness: the sentinels did not settle\n");
        return -1;
    }
    return 0;
}

static void
h__kill_all(struct h_sentinels *s)
{
    int i;

    for (i = 0; i < H_SENT_SENTINELS; i++) {
        h__kill_child(&s->sentinel[i].pid);
    }
    for (i = 0; i < H_SENT_REDIS; i++) {
        h__kill_child(&s->redis[i].pid);
    }
    h__kill_child(&s->relay.pid);
}

int
h_sent_start(struct h_sentinels *s, const struct h_sent_opts *o)
{
    int tries;

    memset(s, 0, sizeof(*s));
    s->relayed = -1;
    if (h__mkdtemp(s->dir, sizeof(s->dir), "sentinel") == -1) {
        return -1;
    }
    for (tries = 0; tries < H_START_TRIES; tries++) {
        if (h__sent_try(s, o) == 0) {
            return 0;
        }
        h__kill_all(s);
    }
    fprintf(stderr, "harness: the sentinels' set did not start (%s)\n", s->dir);
    return -1;
}

void
h_sent_stop(struct h_sentinels *s)
{
    h__kill_all(s);
    if (s->dir[0] != '\0') {
        if (getenv("E2E_KEEP") != NULL) {
            fprintf(stderr, "harness: kept %s\n", s->dir);
        } else {
            h__rmdir(s->dir);
        }
        s->dir[0] = '\0';
    }
}

void
h_sent_kill_redis(struct h_sentinels *s, int i)
{
    h__kill_child(&s->redis[i].pid);
}

void
h_sent_kill_sentinel(struct h_sentinels *s, int i)
{
    h__kill_child(&s->sentinel[i].pid);
}

void
h_sent_list(const struct h_sentinels *s, char *out, size_t cap)
{
    size_t len = 0;
    int i;

    out[0] = '\0';
    for (i = 0; i < H_SENT_SENTINELS; i++) {
        len += (size_t)snprintf(out + len, cap - len, "%s127.0.0.1:%d",
                                i > 0 ? "," : "", s->sentinel[i].port);
    }
}

int
h_sent_proxy_start(struct h_proxy *p, const struct h_sentinels *s,
                   const struct h_proxy_opts *o)
{
    struct h_proxy_opts opts = {0};
    char list[256], *ini;
    size_t cap;
    int rc;

    if (o != NULL) {
        opts = *o;
    }
    h_sent_list(s, list, sizeof(list));
    cap = strlen(list) + (opts.ini != NULL ? strlen(opts.ini) : 0) + 128;
    if ((ini = malloc(cap)) == NULL) {
        return -1;
    }
    snprintf(ini, cap, "[redis]\nsentinels = %s\nmaster_name = %s\n%s", list,
             H_SENT_NAME, opts.ini != NULL ? opts.ini : "");
    opts.ini = ini;
    /* [redis] host/port (the harness's own lines) are not used with
     * sentinels: any port does. */
    rc = h_proxy_start(p, s->redis[0].port, &opts);
    free(ini);
    return rc;
}

/* ---- the fixture ---- */

void
h_st_setup(struct h_sentinels *s, struct h_proxy *p)
{
    memset(s, 0, sizeof(*s));
    memset(p, 0, sizeof(*p));
    s->relayed = -1;
}

void
h_st_teardown(struct h_sentinels *s, struct h_proxy *p)
{
    h_proxy_stop(p, NULL, 0);
    h_sent_stop(s);
}

void
h_st_start(struct h_sentinels *s, const struct h_sent_opts *o)
{
    cr_assert_eq(h_sent_start(s, o), 0, "the sentinels' set did not start");
}

void
h_st_proxy(struct h_proxy *p, const struct h_sentinels *s,
           const struct h_proxy_opts *o)
{
    cr_assert_eq(h_sent_proxy_start(p, s, o), 0, "the proxy did not start");
    h_proxy_serving(p); /* its startup (the sentinels asked) is over */
}

char *
h_st_admin(const struct h_proxy *p, const char *path)
{
    struct h_resp r = {0};

    cr_assert_gt(p->admin_port, 0, "the proxy has no admin port");
    cr_assert_eq(h_http_get(p->admin_port, path, &r), 0, "GET %s on admin",
                 path);
    cr_assert_eq(r.status, 200, "GET %s: %d %s", path, r.status,
                 r.body != NULL ? r.body : "");
    return r.body;
}
