/*
 * harness_cluster_fixture: the proxy in front of the cluster, the
 * cluster suites' fixture and the assertions they share; see
 * harness_cluster.h. These fail the running Criterion test (but
 * h_cluster_proxy_start and h_closed_port, which return an error).
 */
#include "harness_cluster.h"
#include "harness_int.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
h_cluster_proxy_start(struct h_proxy *p, const struct h_cluster *cl, int port,
                      const char *seeds, const struct h_proxy_opts *o)
{
    struct h_proxy_opts opts = {0};
    char list[512], *ini;
    size_t len = 0, cap;
    int i, m[1], rc;

    if (o != NULL) {
        opts = *o;
    }
    if (port <= 0) {
        if (h_cluster_masters(cl, m, 1) != 1) {
            return -1;
        }
        port = cl->node[m[0]].port;
    }
    list[0] = '\0';
    for (i = 0; seeds == NULL && i < H_CLUSTER_NODES; i++) {
        if (cl->node[i].port != port && cl->node[i].port > 0) {
            len += (size_t)snprintf(
                list + len, sizeof(list) - len, "%s%d",
                len > 0 ? ",127.0.0.1:" : "127.0.0.1:", cl->node[i].port);
        }
    }
    cap = strlen(list) + (seeds != NULL ? strlen(seeds) : 0) +
          (opts.ini != NULL ? strlen(opts.ini) : 0) + 64;
    if ((ini = malloc(cap)) == NULL) {
        return -1;
    }
    snprintf(ini, cap, "[redis]\ncluster = on\nseeds = %s\n%s",
             seeds != NULL ? seeds : list, opts.ini != NULL ? opts.ini : "");
    opts.ini = ini;
    rc = h_proxy_start(p, port, &opts);
    free(ini);
    return rc;
}

int
h_closed_port(void)
{
    int port;

    return h__free_ports(&port, 1) == 0 ? port : -1;
}

/* ---- the fixture ---- */

void
h_cl_setup(struct h_cluster *cl, struct h_proxy *p)
{
    memset(p, 0, sizeof(*p));
    cr_assert_eq(h_cluster_start(cl, NULL), 0, "the cluster did not start");
}

void
h_cl_teardown(struct h_cluster *cl, struct h_proxy *p)
{
    h_proxy_stop(p, NULL, 0);
    h_cluster_stop(cl);
}

void
h_cl_proxy(struct h_proxy *p, const struct h_cluster *cl,
           const struct h_proxy_opts *o)
{
    cr_assert_eq(h_cluster_proxy_start(p, cl, 0, NULL, o), 0,
                 "proxy did not start in front of the cluster (is %s built?)",
                 h_proxy_bin());
}

void
h_cl_masters(const struct h_cluster *cl, int m[H_CLUSTER_MASTERS])
{
    cr_assert_eq(h_cluster_masters(cl, m, H_CLUSTER_MASTERS), H_CLUSTER_MASTERS,
                 "the cluster has not three masters");
}

void
h_cl_key_on(const struct h_cluster *cl, int m, const char *prefix, char *out,
            size_t cap)
{
    cr_assert_eq(h_cluster_key_on(cl, m, prefix, out, cap), 0,
                 "no key '%s...' on node %d", prefix, m);
}

void
h_cl_set(const struct h_cluster *cl, int i, const char *key, const char *val)
{
    redisReply *r = h_cnode_cmd(cl, i, "SET %s %s", key, val);

    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS,
              "SET %s on node %d (port %d): %s", key, i, cl->node[i].port,
              r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
    freeReplyObject(r);
}

long
h_cl_calls(const struct h_cluster *cl, int i, const char *cmd)
{
    redisReply *r = h_cnode_cmd(cl, i, "INFO commandstats");
    long v;

    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING);
    v = h_cmdstat_calls(r->str, cmd);
    freeReplyObject(r);
    return v;
}

void
h_cl_cmd_ok(const struct h_cluster *cl, int i, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = h_cnode_vcmd(cl, i, fmt, ap);
    va_end(ap);
    cr_assert(r != NULL && r->type != REDIS_REPLY_ERROR,
              "'%s' on node %d (port %d): %s", fmt, i, cl->node[i].port,
              r != NULL ? r->str : "no reply");
    freeReplyObject(r);
}

void
h_cl_await_http(const struct h_proxy *p, const char *key, const char *want,
                const char *old, int timeout_ms, char *xc, size_t cap)
{
    int64_t deadline = h_now_ms() + timeout_ms;
    char path[512];

    snprintf(path, sizeof(path), "/%s", key);
    for (;;) {
        struct h_resp r = {0};
        int done, fine;

        cr_assert_eq(h_http_get(p->http_port, path, &r), 0,
                     "GET %s: no response", path);
        done = want != NULL ? r.status == 200 && h_body_is(&r, want)
                            : r.status == 404;
        fine = old != NULL && ((r.status == 200 && h_body_is(&r, old)) ||
                               (old[0] == '\0' && r.status == 404));
        cr_assert(done || fine,
                  "GET %s: %d '%.80s' while waiting for '%s' (old '%s')", path,
                  r.status, r.body != NULL ? r.body : "",
                  want != NULL ? want : "(404)", old != NULL ? old : "(none)");
        if (done && xc != NULL && h_header(&r, "X-Cache", xc, cap) == NULL) {
            snprintf(xc, cap, "(none)");
        }
        h_resp_free(&r);
        if (done) {
            return;
        }
        cr_assert_lt(h_now_ms(), deadline,
                     "GET %s: still '%s' after %d ms, want '%s'", path, old,
                     timeout_ms, want != NULL ? want : "(404)");
        h_sleep_ms(5);
    }
}

void
h_cl_await_resp(redisContext *c, const char *key, const char *want,
                const char *old, int timeout_ms)
{
    int64_t deadline = h_now_ms() + timeout_ms;

    for (;;) {
        char got[512];
        int rc = h_resp_get(c, key, got, sizeof(got));
        int done = want != NULL ? rc == 1 && strcmp(got, want) == 0 : rc == 0;
        int fine = old != NULL && ((rc == 1 && strcmp(got, old) == 0) ||
                                   (old[0] == '\0' && rc == 0));

        cr_assert(done || fine,
                  "RESP GET %s: '%s' while waiting for '%s' (old '%s')", key,
                  got, want != NULL ? want : "(nil)",
                  old != NULL ? old : "(none)");
        if (done) {
            return;
        }
        cr_assert_lt(h_now_ms(), deadline,
                     "RESP GET %s: still '%s' after %d ms, want '%s'", key, got,
                     timeout_ms, want != NULL ? want : "(nil)");
        h_sleep_ms(5);
    }
}

char *
h_cl_admin_get(const struct h_proxy *p, const char *path, int *status)
{
    struct h_resp r = {0};

    cr_assert_gt(p->admin_port, 0, "the proxy has no admin port");
    cr_assert_eq(h_http_get(p->admin_port, path, &r), 0, "GET %s on admin",
                 path);
    *status = r.status;
    return r.body; /* h_resp_free frees only the body */
}

void
h_cl_expect_argv(int fd, const char *const *argv, const char *want, int line)
{
    h_send_argv(fd, argv);
    h_expect_reply(fd, want, 5000, line);
}
