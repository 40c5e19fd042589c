/*
 * End-to-end tests of running as a service, its sd_notify reports: the
 * proxy sends them to the datagram socket a test owns ($NOTIFY_SOCKET),
 * READY=1 only once every listener accepts and the invalidation stream is
 * up, STOPPING=1 when shutdown begins, before the request in flight is
 * answered, and nothing changes when no manager listens. make install, the
 * unit and the man page are in test_service_install.c, the repository's
 * own files in test_service_repo.c; the suite's fixture in service_util.c.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "service_util.h"

#define LOG_CAP 65536

/* Opens the test's notify socket, sv_notify (closed after the test). */
static void
notify_open(void)
{
    cr_assert_eq(h_notify_open(&sv_notify), 0, "notify socket: %s",
                 strerror(errno));
}

/* Index of the first line of text containing needle, or -1. */
static int
line_index(const char *text, const char *needle)
{
    const char *hit = strstr(text, needle);
    int n = 0;

    if (hit == NULL) {
        return -1;
    }
    for (const char *p = text; p < hit; p++) {
        n += *p == '\n';
    }
    return n;
}

/*
 * READY=1 only once the listeners accept and the invalidation stream is up.
 * Redis is paused for PAUSE_MS while the proxy starts, so the stream cannot
 * come up before the pause ends: no report may arrive meanwhile, although
 * the listening sockets already exist. Right after READY, every port
 * answers, Redis already holds the proxy's subscription to the
 * invalidation channel, /readyz says ready, and the log (at debug level,
 * where a report sent is logged) has the stream established before the
 * report, and the report after "listening".
 */
#define PAUSE_MS 1000
Test(service, ready_only_once_listening_and_the_stream_is_up)
{
    const char *env[] = {sv_notify.env, NULL};
    char buf[256], log[LOG_CAP], reply[64], clients[8192];
    struct h_resp r;
    redisContext *c;
    redisReply *list;
    int64_t paused_at, ready_at;
    int stream, listening, ready;

    notify_open();
    h_set(&sv_redis, "svc", "value");
    paused_at = h_now_ms();
    cr_assert_eq(h_redis_cmd(&sv_redis, "CLIENT PAUSE %d ALL", PAUSE_MS), 0);
    h_start_proxy(&sv_proxy, &sv_redis,
                  H_OPTS(.ini = "[redis]\ncommand_timeout = 5s\n"
                                "[log]\nlevel = debug\n",
                         .admin = 1, .env = env));
    cr_assert_eq(h_notify_recv(&sv_notify, buf, sizeof(buf), 8000), 7,
                 "no READY within 8 s");
    ready_at = h_now_ms();
    c = h_redis_ctx(&sv_redis);
    cr_assert_not_null(c);
    list = redisCommand(c, "CLIENT LIST");
    cr_assert(list != NULL && list->type == REDIS_REPLY_STRING);
    snprintf(clients, sizeof(clients), "%s", list->str);
    freeReplyObject(list);
    redisFree(c);
    cr_assert_not_null(strstr(clients, " sub=1 "),
                       "no subscriber in Redis at READY:\n%s", clients);
    cr_assert_str_eq(buf, "READY=1", "the first report is READY=1");
    cr_assert_geq(ready_at - paused_at, PAUSE_MS,
                  "READY after %lld ms, while Redis was still paused",
                  (long long)(ready_at - paused_at));

    h_expect_get(sv_proxy.http_port, "/svc", 200, "value", NULL);
    cr_assert_eq(
        h_replies(sv_proxy.resp_port, "PING\r\n", 6, 1, reply, sizeof(reply)),
        7);
    cr_assert_eq(memcmp(reply, "+PONG\r\n", 7), 0);
    cr_assert_eq(h_http_get(sv_proxy.admin_port, "/readyz", &r), 0);
    h_check(&r, "/readyz right after READY", 200, NULL, NULL);
    cr_assert(strncmp(r.body, "ready\nnode ", 11) == 0,
              "/readyz right after READY: %s", r.body);
    h_resp_free(&r);
    cr_assert_eq(h_notify_pending(&sv_notify), 0, "READY is sent once");

    cr_assert(h_await_log(&sv_proxy, "report=\"READY=1\"", 3000));
    h_proxy_read_log(&sv_proxy, log, sizeof(log));
    stream = line_index(log, "msg=\"invalidation stream established\"");
    listening = line_index(log, "msg=\"listening\"");
    ready = line_index(log, "report=\"READY=1\"");
    cr_assert_geq(stream, 0, "no stream in the log:\n%s", log);
    cr_assert(stream < ready && listening < ready,
              "READY was sent before the stream came up or before "
              "listening:\n%s",
              log);
    cr_assert_eq(h_proxy_stop(&sv_proxy, NULL, 0), 0);
}

/*
 * STOPPING=1 when shutdown begins: a GET is stalled in a paused Redis when
 * SIGTERM arrives; STOPPING comes first, the stalled request is answered
 * after it, the proxy exits 0, and nothing else is reported.
 */
Test(service, stopping_comes_when_shutdown_begins)
{
    const char *env[] = {sv_notify.env, NULL};
    char buf[256];
    struct h_resp r;
    int conn, fds[2];

    notify_open();
    h_start_proxy(&sv_proxy, &sv_redis,
                  H_OPTS(.ini = "[redis]\ncommand_timeout = 5s\n", .admin = 1,
                         .env = env));
    cr_assert_eq(h_notify_recv(&sv_notify, buf, sizeof(buf), 5000), 7);
    cr_assert_str_eq(buf, "READY=1");
    h_set(&sv_redis, "slow", "answered");
    conn = h_conn(sv_proxy.http_port);
    cr_assert_eq(h_redis_cmd(&sv_redis, "CLIENT PAUSE 1500 ALL"), 0);
    cr_assert_eq(h_sends(conn, H_REQ("/slow")), 0);
    cr_assert_eq(h_await_metric(&sv_proxy, "redis_proxy_fills_total", 1, 1000),
                 1, "the GET never reached Redis");

    cr_assert_eq(kill(sv_proxy.pid, SIGTERM), 0);
    fds[0] = sv_notify.fd;
    fds[1] = conn;
    cr_assert_eq(h_readable(fds, 2, 3000), 1u,
                 "STOPPING=1 must come first, alone");
    cr_assert_eq(h_notify_recv(&sv_notify, buf, sizeof(buf), 0), 10);
    cr_assert_str_eq(buf, "STOPPING=1");
    cr_assert_eq(h_read_resp(conn, &r, 0, 5000), 0);
    h_check(&r, "the request in flight at SIGTERM", 200, "answered", "MISS");
    h_resp_free(&r);
    close(conn);
    cr_assert_eq(h_proxy_stop(&sv_proxy, NULL, 0), 0);
    cr_assert_eq(h_notify_pending(&sv_notify), 0, "nothing after STOPPING=1");
}

/* A manager that is not there (nobody bound at the path) costs nothing. */
Test(service, an_unreachable_notify_socket_changes_nothing)
{
    const char *env[] = {"NOTIFY_SOCKET=/nonexistent/rp-e2e/notify", NULL};

    h_set(&sv_redis, "k", "v");
    h_start_proxy(&sv_proxy, &sv_redis, H_OPTS(.env = env));
    h_expect_get(sv_proxy.http_port, "/k", 200, "v", "MISS");
    h_expect_get(sv_proxy.http_port, "/k", 200, "v", "HIT");
    cr_assert_eq(h_proxy_stop(&sv_proxy, NULL, 0), 0);
}
