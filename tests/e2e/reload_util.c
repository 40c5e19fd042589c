/*
 * reload_util: see reload_util.h.
 */
#include "reload_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RL_LOG_CAP (1024 * 1024)
#define RL_SIGHUP_LINE "msg=\"SIGHUP: reloading the settings\""
#define RL_OK "redis_proxy_config_reloads_total{result=\"ok\"}"
#define RL_FAILED "redis_proxy_config_reloads_total{result=\"failed\"}"

void
rl_write_ini(const struct h_proxy *p, const struct h_redis *r,
             const struct rl_ports *ports, const char *extra)
{
    const struct rl_ports none = {0};
    const struct rl_ports *o = ports != NULL ? ports : &none;
    char tmp[300];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.new", p->ini);
    f = fopen(tmp, "w");
    cr_assert_not_null(f, "cannot write %s", tmp);
    fprintf(f, "[server]\nbind = 127.0.0.1\nhttp_port = %d\nresp_port = %d\n",
            o->http ? o->http : p->http_port, o->resp ? o->resp : p->resp_port);
    if (p->tls_port > 0) {
        fprintf(f, "tls_port = %d\n", p->tls_port);
    }
    fprintf(f, "[redis]\nhost = 127.0.0.1\nport = %d\n",
            o->redis ? o->redis : r->port);
    if (o->admin || p->admin_port) {
        fprintf(f, "[admin]\nport = %d\n", o->admin ? o->admin : p->admin_port);
    }
    if (extra != NULL && extra[0] != '\0') {
        fprintf(f, "%s%s", extra, extra[strlen(extra) - 1] != '\n' ? "\n" : "");
    }
    cr_assert_eq(ferror(f), 0);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, p->ini), 0, "rename to %s", p->ini);
}

char *
rl_log(const struct h_proxy *p)
{
    char *buf = malloc(RL_LOG_CAP);

    cr_assert_not_null(buf);
    h_proxy_read_log(p, buf, RL_LOG_CAP);
    return buf;
}

int
rl_log_count(const struct h_proxy *p, const char *needle)
{
    char *log = rl_log(p);
    int n = h_count_lines(log, needle);

    free(log);
    return n;
}

struct rl_count_want {
    const struct h_proxy *p;
    const char *needle;
    int n, last;
};

static int
rl__count_reached(void *arg)
{
    struct rl_count_want *w = arg;

    w->last = rl_log_count(w->p, w->needle);
    return w->last >= w->n;
}

int
rl_await_log_count(const struct h_proxy *p, const char *needle, int n)
{
    struct rl_count_want w = {p, needle, n, 0};

    if (!h_wait_until(RL_MS, rl__count_reached, &w)) {
        h_proxy_dump_log(p);
        cr_assert_fail("%d log lines with %s, want at least %d", w.last, needle,
                       n);
    }
    return w.last;
}

static const char *rl_pw[2];

void
rl_passwords(const char *first, const char *second)
{
    rl_pw[0] = first;
    rl_pw[1] = second;
}

/* GET /metrics on the admin port, without a password, then with each of
 * rl_pw; the body of the first 200 (malloc'd), validated. */
static char *
rl__scrape(const struct h_proxy *p)
{
    char hdr[300], err[512];
    struct h_resp r = {0};
    int i, fd;

    cr_assert_gt(p->admin_port, 0, "the proxy has no admin port");
    for (i = -1; i < 2; i++) {
        if (i >= 0 && rl_pw[i] == NULL) {
            continue;
        }
        snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n",
                 i >= 0 ? rl_pw[i] : "");
        fd = h_conn(p->admin_port);
        cr_assert_eq(h_http_do(fd, "GET", "/metrics", i >= 0 ? hdr : NULL, NULL,
                               0, &r, 3000),
                     0, "GET /metrics");
        close(fd);
        if (r.status == 200) {
            cr_assert_eq(h_prom_validate(r.body, err, sizeof(err)), 0,
                         "/metrics invalid: %s", err);
            return r.body;
        }
        cr_assert_eq(r.status, 401, "/metrics: %d", r.status);
        h_resp_free(&r);
    }
    cr_assert_fail("/metrics refused every password");
    return NULL;
}

double
rl_metric(const struct h_proxy *p, const char *series)
{
    char *text = rl__scrape(p);
    double v = h_prom_value(text, series);

    free(text);
    return v;
}

struct rl_reload_want {
    const struct h_proxy *p;
    double ok, failed; /* before the signal */
    int outcome;       /* 1 ok, 0 failed */
};

static int
rl__reload_over(void *arg)
{
    struct rl_reload_want *w = arg;
    char *text = rl__scrape(w->p);
    double ok = h_prom_value(text, RL_OK),
           failed = h_prom_value(text, RL_FAILED);

    free(text);
    cr_assert(ok + failed <= w->ok + w->failed + 1,
              "more reloads than signals: ok %g failed %g", ok, failed);
    w->outcome = ok > w->ok;
    return ok + failed > w->ok + w->failed;
}

static int
rl__sighup(const struct h_proxy *p, int wait_line)
{
    char *text = rl__scrape(p);
    struct rl_reload_want w = {p, h_prom_value(text, RL_OK),
                               h_prom_value(text, RL_FAILED), -1};
    int lines = wait_line ? rl_log_count(p, RL_SIGHUP_LINE) : 0;

    free(text);
    cr_assert(!isnan(w.ok) && !isnan(w.failed), "no config_reloads_total");
    cr_assert_gt(p->pid, 0);
    cr_assert_eq(kill(p->pid, SIGHUP), 0);
    if (!h_wait_until(RL_MS, rl__reload_over, &w)) {
        h_proxy_dump_log(p);
        cr_assert_fail("no reload within %d ms of SIGHUP", RL_MS);
    }
    if (wait_line) {
        rl_await_log_count(p, RL_SIGHUP_LINE, lines + 1);
    }
    return w.outcome;
}

int
rl_sighup(const struct h_proxy *p)
{
    return rl__sighup(p, 1);
}

int
rl_sighup_quiet(const struct h_proxy *p)
{
    return rl__sighup(p, 0);
}

void
rl_apply(const struct h_proxy *p, const struct h_redis *r, const char *extra)
{
    rl_write_ini(p, r, NULL, extra);
    if (rl_sighup(p) != 1) {
        h_proxy_dump_log(p);
        cr_assert_fail("the reload failed; ini:\n%s", extra);
    }
}

/* The part of log after its last SIGHUP line (log itself when none). */
static const char *
rl__last_reload(const char *log)
{
    const char *at = log, *hit;

    while ((hit = strstr(at, RL_SIGHUP_LINE)) != NULL) {
        at = hit + 1;
    }
    return at;
}

int
rl_last_reload_count(const struct h_proxy *p, const char *needle)
{
    char *log = rl_log(p);
    int n = h_count_lines(rl__last_reload(log), needle);

    free(log);
    return n;
}

struct rl_line_want {
    const struct h_proxy *p;
    const char *line;
};

static int
rl__line_in_last_reload(void *arg)
{
    struct rl_line_want *w = arg;

    return rl_last_reload_count(w->p, w->line) > 0;
}

static void
rl__expect_key_line(const struct h_proxy *p, const char *key, const char *line)
{
    struct rl_line_want w = {p, line};
    char name[128];
    int n;

    if (!h_wait_until(RL_MS, rl__line_in_last_reload, &w)) {
        h_proxy_dump_log(p);
        cr_assert_fail("the last reload did not log: %s", line);
    }
    snprintf(name, sizeof(name), " key=%s ", key);
    n = rl_last_reload_count(p, name);
    cr_assert_eq(n, 1, "the last reload logged %d lines for %s, want 1", n,
                 key);
}

void
rl_expect_change(const struct h_proxy *p, const char *key, const char *old_text,
                 const char *new_text)
{
    char line[512];

    snprintf(line, sizeof(line),
             "level=info msg=\"config changed\" key=%s old=\"%s\" new=\"%s\"",
             key, old_text, new_text);
    rl__expect_key_line(p, key, line);
}

void
rl_expect_not_applied(const struct h_proxy *p, const char *key,
                      const char *running, const char *file)
{
    char line[512];

    snprintf(line, sizeof(line),
             "level=warn msg=\"config change not applied: needs a restart\" "
             "key=%s running=\"%s\" file=\"%s\"",
             key, running, file);
    rl__expect_key_line(p, key, line);
}
