/*
 * End-to-end tests of SIGHUP applying the connection settings live:
 * idle_timeout and request_timeout (on connections opened after the
 * reload, on those opened before and used after, and on those already
 * waiting when it came), max_clients lowered (new connections over it get
 * the busy reply, those open stay) and raised past the value the proxy
 * started with, max_sessions, and [server] password on HTTP, RESP and the
 * admin port (the old one refused after the reload, the new one
 * accepted). See test_reload.c for the cache settings.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "reload_util.h"

#define P "redis_proxy_"
#define IO_MS 3000

H_PAIR_SUITE(reload_limits, 60);

/* One GET of path on fd, answered with status. */
static void
expect_status(int fd, const char *path, const char *extra, int status)
{
    struct h_resp r = {0};

    cr_assert_eq(h_http_do(fd, "GET", path, extra, NULL, 0, &r, IO_MS), 0,
                 "GET %s: no response", path);
    cr_assert_eq(r.status, status, "GET %s: %d, want %d", path, r.status,
                 status);
    h_resp_free(&r);
}

/* ---- timeouts ---- */

/*
 * idle_timeout 30s reloaded to 300ms: a connection opened after the
 * reload, one opened before and used after, and one idle since before it
 * are all closed within a few seconds, the last one too (its wait is
 * counted again from the reload).
 */
Test(reload_limits, idle_timeout_applies_to_every_idle_connection)
{
    int before, used, after;

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    before = h_conn(proxy.http_port);
    used = h_conn(proxy.http_port);
    expect_status(before, "/k", NULL, 200);
    expect_status(used, "/k", NULL, 200);
    cr_assert_eq(h_wait_closed(before, 500), 0, "closed at once, idle 30s");

    rl_apply(&proxy, &redis, "[server]\nidle_timeout = 300ms\n");
    rl_expect_change(&proxy, "server.idle_timeout", "30s", "300ms");
    after = h_conn(proxy.http_port);
    expect_status(after, "/k", NULL, 200);
    expect_status(used, "/k", NULL, 200);
    cr_assert(h_wait_closed(after, 5000), "opened after: still open");
    cr_assert(h_wait_closed(used, 5000), "used after: still open");
    cr_assert(h_wait_closed(before, 5000), "idle since before: still open");
    close(before);
    close(used);
    close(after);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* Reads the 408 a partial request gets and then the close. */
static void
expect_408(int fd, const char *what)
{
    struct h_resp r = {0};

    cr_assert_eq(h_read_resp(fd, &r, 0, 5000), 0, "%s: no 408", what);
    cr_assert_eq(r.status, 408, "%s: %d", what, r.status);
    h_resp_free(&r);
    cr_assert(h_wait_closed(fd, IO_MS), "%s: not closed after the 408", what);
}

/*
 * request_timeout 10s reloaded to 300ms: a partial request begun after
 * the reload and one begun before it both get 408 within a few seconds.
 */
Test(reload_limits, request_timeout_applies_to_partial_requests)
{
    static const char partial[] = "GET /k HTTP/1.1\r\nHost: localhost\r\n";
    int before, after;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    before = h_conn(proxy.http_port);
    cr_assert_eq(h_sends(before, partial), 0);
    cr_assert_eq(h_await_metric(&proxy, P "connections_parked", 1, RL_MS), 1);

    rl_apply(&proxy, &redis, "[server]\nrequest_timeout = 300ms\n");
    rl_expect_change(&proxy, "server.request_timeout", "10s", "300ms");
    after = h_conn(proxy.http_port);
    cr_assert_eq(h_sends(after, partial), 0);
    expect_408(after, "begun after the reload");
    expect_408(before, "begun before the reload");
    close(before);
    close(after);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- max_clients ---- */

/* A new connection over max_clients: the busy reply, then the close. */
static void
expect_refused(int port, int resp)
{
    char buf[1024];
    int fd = h_conn(port);
    size_t n = h_recv_all(fd, buf, sizeof(buf), IO_MS);

    close(fd);
    if (resp) {
        cr_assert_str_eq(buf, "-ERR max number of clients reached\r\n");
    } else {
        cr_assert(n > 12 && strncmp(buf, "HTTP/1.1 503 ", 13) == 0 &&
                      strstr(buf, "\r\nConnection: close\r\n") != NULL,
                  "over max_clients: %s", buf);
    }
}

/*
 * max_clients 3 with three connections open, reloaded to 2: the three
 * still work, a fourth gets 503 (HTTP) or the -ERR (RESP) and is counted
 * as rejected; two closed, a new one is accepted.
 */
Test(reload_limits, max_clients_lowered_refuses_new_connections)
{
    int h1, h2, r1, h3;

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nmax_clients = 3\n", .admin = 1));
    h1 = h_conn(proxy.http_port);
    h2 = h_conn(proxy.http_port);
    r1 = h_conn(proxy.resp_port);
    expect_status(h1, "/k", NULL, 200);
    expect_status(h2, "/k", NULL, 200);
    H_SEND(r1, "PING");
    H_EXPECT(r1, "+PONG\r\n");
    cr_assert_eq(rl_metric(&proxy, P "connections_open"), 3);

    rl_apply(&proxy, &redis, "[server]\nmax_clients = 2\n");
    rl_expect_change(&proxy, "server.max_clients", "3", "2");
    expect_status(h1, "/k", NULL, 200);
    expect_status(h2, "/k", NULL, 200);
    H_SEND(r1, "GET", "k");
    H_EXPECT(r1, "$1\r\nv\r\n");
    expect_refused(proxy.http_port, 0);
    expect_refused(proxy.resp_port, 1);
    cr_assert_eq(rl_metric(&proxy, P "connections_rejected_total"), 2);

    close(h1);
    close(h2);
    cr_assert_eq(h_await_metric(&proxy, P "connections_open", 1, RL_MS), 1);
    h3 = h_conn(proxy.http_port);
    expect_status(h3, "/k", NULL, 200);
    expect_refused(proxy.http_port, 0);
    close(h3);
    close(r1);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

#define MANY_CONNS 150

/*
 * max_clients 2 raised to 300: 150 connections open at once (more than
 * the proxy had room for at start, 2 clients plus its 64 admin
 * connections) are each answered, and none is refused.
 */
Test(reload_limits, max_clients_raised_past_the_start_value)
{
    int fds[MANY_CONNS], i;

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nmax_clients = 2\n", .admin = 1));
    rl_apply(&proxy, &redis, "[server]\nmax_clients = 300\n");
    rl_expect_change(&proxy, "server.max_clients", "2", "300");
    for (i = 0; i < MANY_CONNS; i++) {
        fds[i] = h_conn(proxy.http_port);
        expect_status(fds[i], "/k", NULL, 200);
    }
    cr_assert_eq(rl_metric(&proxy, P "connections_open"), MANY_CONNS);
    for (i = 0; i < MANY_CONNS; i++) {
        expect_status(fds[i], "/k", NULL, 200);
    }
    cr_assert_eq(rl_metric(&proxy, P "connections_rejected_total"), 0);
    for (i = 0; i < MANY_CONNS; i++) {
        close(fds[i]);
    }
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- max_sessions ---- */

#define NO_SESSION "-ERR max number of sessions reached\r\n"

/*
 * max_sessions 1: a second MULTI is refused; reloaded to 2 it is
 * accepted and a third refused; reloaded to 0 the sessions open go on
 * (their EXEC runs) and a new one is refused.
 */
Test(reload_limits, max_sessions_changes_live)
{
    int c1, c2, c3;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nmax_sessions = 1\n", .admin = 1));
    c1 = h_conn(proxy.resp_port);
    c2 = h_conn(proxy.resp_port);
    c3 = h_conn(proxy.resp_port);
    H_SEND(c1, "MULTI");
    H_EXPECT(c1, "+OK\r\n");
    H_SEND(c2, "MULTI");
    H_EXPECT(c2, NO_SESSION);

    rl_apply(&proxy, &redis, "[server]\nmax_sessions = 2\n");
    rl_expect_change(&proxy, "server.max_sessions", "1", "2");
    H_SEND(c2, "MULTI");
    H_EXPECT(c2, "+OK\r\n");
    H_SEND(c3, "MULTI");
    H_EXPECT(c3, NO_SESSION);
    cr_assert_eq(rl_metric(&proxy, P "sessions_open"), 2);

    rl_apply(&proxy, &redis, "[server]\nmax_sessions = 0\n");
    rl_expect_change(&proxy, "server.max_sessions", "2", "0");
    H_SEND(c1, "SET", "s", "1");
    H_EXPECT(c1, "+QUEUED\r\n");
    H_SEND(c1, "EXEC");
    H_EXPECT(c1, "*1\r\n+OK\r\n");
    H_SEND(c2, "EXEC");
    H_EXPECT(c2, "*0\r\n");
    H_SEND(c3, "MULTI");
    H_EXPECT(c3, NO_SESSION);
    close(c1);
    close(c2);
    close(c3);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- [server] password ---- */

#define OLD_PW "pw-old-7f3a"
#define NEW_PW "pw-new-9c1e"
#define WRONGPASS                                                              \
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n"

/*
 * password OLD reloaded to NEW: on an HTTP keep-alive connection opened
 * before, OLD is now 401 and NEW 200; a new RESP connection is refused
 * OLD and accepted with NEW; the admin port takes NEW. The RESP
 * connection that authenticated before stays authenticated (as Redis
 * keeps its clients after CONFIG SET requirepass). Neither password is
 * ever written to the log. Reloaded with no password, clients need none.
 */
Test(reload_limits, password_changes_on_http_resp_and_admin)
{
    static const char old_ini[] = "[server]\npassword = " OLD_PW "\n";
    static const char new_ini[] = "[server]\npassword = " NEW_PW "\n";
    static const char old_hdr[] = "Authorization: Bearer " OLD_PW "\r\n";
    static const char new_hdr[] = "Authorization: Bearer " NEW_PW "\r\n";
    int http, resp, fresh;
    char *log;

    rl_passwords(OLD_PW, NEW_PW);
    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = old_ini, .admin = 1));
    http = h_conn(proxy.http_port);
    resp = h_conn(proxy.resp_port);
    expect_status(http, "/k", NULL, 401);
    expect_status(http, "/k", old_hdr, 200);
    H_SEND(resp, "AUTH", OLD_PW);
    H_EXPECT(resp, "+OK\r\n");

    rl_apply(&proxy, &redis, new_ini);
    rl_expect_change(&proxy, "server.password", "***", "***");
    expect_status(http, "/k", old_hdr, 401);
    expect_status(http, "/k", new_hdr, 200);
    fresh = h_conn(proxy.resp_port);
    H_SEND(fresh, "GET", "k");
    H_EXPECT(fresh, "-NOAUTH Authentication required.\r\n");
    H_SEND(fresh, "AUTH", OLD_PW);
    H_EXPECT(fresh, WRONGPASS);
    H_SEND(fresh, "AUTH", NEW_PW);
    H_EXPECT(fresh, "+OK\r\n");
    H_SEND(fresh, "GET", "k");
    H_EXPECT(fresh, "$1\r\nv\r\n");
    H_SEND(resp, "GET", "k");
    H_EXPECT(resp, "$1\r\nv\r\n");
    close(fresh);
    rl_passwords(NEW_PW, NULL);
    cr_assert_geq(rl_metric(&proxy, P "auth_failures_total{listener=\"http\"}"),
                  2);

    rl_apply(&proxy, &redis, NULL);
    rl_expect_change(&proxy, "server.password", "***", "");
    expect_status(http, "/k", NULL, 200);
    fresh = h_conn(proxy.resp_port);
    H_SEND(fresh, "GET", "k");
    H_EXPECT(fresh, "$1\r\nv\r\n");
    close(fresh);
    close(http);
    close(resp);
    log = rl_log(&proxy);
    cr_assert(strstr(log, OLD_PW) == NULL && strstr(log, NEW_PW) == NULL,
              "a password in the log");
    free(log);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}
