/*
 * harness_fixture: the one suite fixture of the end-to-end tests (a
 * redis-server started before each test, and the proxy the test starts,
 * both stopped after it even when an assertion failed) and the steps the
 * suites take on that pair (see harness.h). These fail the running
 * Criterion test instead of returning an error, so fixtures and tests can
 * call them directly. No Test() lives here.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define H_LOG_CAP (256 * 1024) /* h_await_log reads this much of the log */

void
h_pair_setup(struct h_redis *r, struct h_proxy *p)
{
    memset(r, 0, sizeof(*r));
    memset(p, 0, sizeof(*p));
    cr_assert_eq(h_redis_start(r, 0, NULL), 0, "redis-server did not start");
}

void
h_pair_teardown(struct h_redis *r, struct h_proxy *p)
{
    h_proxy_stop(p, NULL, 0); /* prints its log unless it exited 0 */
    h_redis_stop(r);
}

void
h_start_proxy(struct h_proxy *p, const struct h_redis *r,
              const struct h_proxy_opts *o)
{
    cr_assert_eq(h_proxy_start(p, r->port, o), 0,
                 "proxy did not start (is %s built? ini: %s)", h_proxy_bin(),
                 o != NULL && o->ini != NULL ? o->ini : "none");
}

void
h_proxy_serving(const struct h_proxy *p)
{
    char buf[256];
    int fd = h_conn(p->resp_port);

    cr_assert_eq(h_send(fd, "*1\r\n$4\r\nPING\r\n", 14), 0, "send PING");
    cr_assert_gt(h_read_replies(fd, 1, buf, sizeof(buf) - 1, 10000), 0,
                 "the proxy does not answer PING");
    close(fd);
}

void
h_set(const struct h_redis *r, const char *key, const char *val)
{
    cr_assert_eq(h_redis_cmd(r, "SET %s %s", key, val), 0, "SET %s", key);
}

void
h_set_db(const struct h_redis *r, int db, const char *key, const char *val)
{
    redisContext *c = h_redis_ctx(r);
    redisReply *rep;

    cr_assert_not_null(c);
    rep = redisCommand(c, "SELECT %d", db);
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS, "SELECT %d", db);
    freeReplyObject(rep);
    rep = redisCommand(c, "SET %s %s", key, val);
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS, "SET %s in db %d",
              key, db);
    freeReplyObject(rep);
    redisFree(c);
}

void
h_set_bytes(const struct h_redis *r, const char *key, const char *v, size_t n)
{
    redisContext *c = h_redis_ctx(r);
    redisReply *rep;

    cr_assert_not_null(c);
    rep = redisCommand(c, "SET %s %b", key, v, n);
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS, "SET %s", key);
    freeReplyObject(rep);
    redisFree(c);
}

void
h_cache_key(const struct h_redis *r, int port, const char *key, const char *val)
{
    char path[128];

    snprintf(path, sizeof(path), "/%s", key);
    h_set(r, key, val);
    h_expect_get(port, path, 200, val, "MISS");
    h_expect_get(port, path, 200, val, "HIT");
}

/* ---- the admin port and the log ---- */

char *
h_scrape(const struct h_proxy *p)
{
    struct h_resp r = {0};
    char err[512];

    cr_assert_gt(p->admin_port, 0, "the proxy has no admin port");
    cr_assert_eq(h_http_get(p->admin_port, "/metrics", &r), 0,
                 "GET /metrics on port %d", p->admin_port);
    cr_assert_eq(r.status, 200, "/metrics: %d", r.status);
    cr_assert_eq(h_prom_validate(r.body, err, sizeof(err)), 0,
                 "/metrics invalid: %s", err);
    return r.body;
}

double
h_metric(const struct h_proxy *p, const char *series)
{
    char *text = h_scrape(p);
    double v = h_prom_value(text, series);

    free(text);
    return v;
}

struct h__metric_want {
    const struct h_proxy *p;
    const char *series;
    double want, last;
};

static int
h__metric_is(void *arg)
{
    struct h__metric_want *w = arg;

    w->last = h_metric(w->p, w->series);
    return w->last == w->want;
}

double
h_await_metric(const struct h_proxy *p, const char *series, double want,
               int timeout_ms)
{
    struct h__metric_want w = {p, series, want, NAN};

    h_wait_until(timeout_ms, h__metric_is, &w);
    return w.last;
}

struct h__log_want {
    const struct h_proxy *p;
    const char *text;
    char *buf;
};

static int
h__log_has(void *arg)
{
    struct h__log_want *w = arg;

    h_proxy_read_log(w->p, w->buf, H_LOG_CAP);
    return strstr(w->buf, w->text) != NULL;
}

int
h_await_log(const struct h_proxy *p, const char *text, int timeout_ms)
{
    struct h__log_want w = {p, text, malloc(H_LOG_CAP)};
    int found;

    cr_assert_not_null(w.buf);
    found = h_wait_until(timeout_ms, h__log_has, &w);
    free(w.buf);
    return found;
}
