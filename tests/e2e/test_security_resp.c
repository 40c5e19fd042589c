/*
 * End-to-end tests of the RESP port on a network it does not trust
 * (docs/security.md), each showing an attack of the security review
 * failing against the built binary and a real redis-server: a browser's
 * cross-site POST read as commands, unauthenticated clients making the
 * proxy buffer large commands, password guessing, log lines forged
 * through a command name before authentication, a password removed by a
 * reload, HELLO's version overflowing.
 *
 * Evidence is what Redis counted (INFO commandstats, keys), what the
 * proxy logged and counted, and what the client received, never timing.
 */
#include "harness.h"
#include "reload_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P "redis_proxy_"
#define PW "Sec-Pw.4Rt9"
#define NOAUTH "-NOAUTH Authentication required.\r\n"
#define LOG_CAP (1 << 20)

H_PAIR_SUITE(security_resp, 60);

#define WRONGPASS                                                              \
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
#define PW_INI "[server]\npassword = " PW "\n"

/* The proxy's whole log once it has stopped (malloc'd). */
static char *
stopped_log(void)
{
    char *log = malloc(LOG_CAP);

    cr_assert_not_null(log);
    cr_assert_eq(h_proxy_stop(&proxy, log, LOG_CAP), 0);
    return log;
}

/* ---- row 9: log injection ---- */

Test(security_resp, a_command_name_cannot_forge_a_log_line_before_auth)
{
    /* A name whose first 16 bytes (what the access line shows) hold a
     * newline and what a forged line would start with. */
    static const char name[] = "X\nlevel=error m";
    char cmd[128], *log;
    int fd;

    h_start_proxy(
        &proxy, &redis,
        H_OPTS(.ini = "[server]\npassword = " PW "\n[log]\naccess = on\n"));
    fd = h_conn(proxy.resp_port);
    snprintf(cmd, sizeof(cmd), "*1\r\n$%zu\r\n%s\r\n", sizeof(name) - 1, name);
    cr_assert_eq(h_sends(fd, cmd), 0);
    H_EXPECT(fd, NOAUTH);
    close(fd);
    cr_assert(h_await_log(&proxy, "status=401", 3000));
    log = stopped_log();
    cr_assert_null(strstr(log, "\nlevel=error"), "a forged line:\n%s", log);
    cr_assert_not_null(strstr(log, " method=X\\nlevel=error\\x20m status=401"),
                       "the name is not escaped:\n%s", log);
    free(log);
}

/* ---- row 13: HELLO's version ---- */

Test(security_resp, hello_with_a_version_past_long_long_is_redis_error)
{
    static const char *const lines[] = {
        "HELLO 9999999999999999999\r\n",
        "HELLO 9223372036854775808\r\n",
        "HELLO -9223372036854775809\r\n",
        "HELLO 9223372036854775807\r\n",
    };
    char got[512];
    long n;
    size_t i;

    h_start_proxy(&proxy, &redis, NULL);
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        h_expect_same_replies(&redis, &proxy, lines[i], strlen(lines[i]), 1);
    }
    n = h_replies(proxy.resp_port, lines[0], strlen(lines[0]), 1, got,
                  sizeof(got) - 1);
    cr_assert_gt(n, 0);
    got[n] = '\0';
    cr_assert_str_eq(got, "-ERR Protocol version is not an integer or out of "
                          "range\r\n");
}

/* Redis's answer to EXISTS key. */
static long long
exists(const char *key)
{
    redisContext *c = h_redis_ctx(&redis);
    redisReply *r;
    long long n;

    cr_assert_not_null(c);
    r = redisCommand(c, "EXISTS %s", key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    n = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* Sends req on a fresh connection to the RESP port; 1 when the proxy
 * closed it without sending a byte. */
static int
closed_silently(const char *req, size_t len)
{
    char got[512];
    int fd = h_conn(proxy.resp_port);
    size_t n;

    cr_assert_eq(h_send(fd, req, len), 0);
    n = h_recv_all(fd, got, sizeof(got), 3000);
    close(fd);
    return n == 0;
}

/* ---- row 1: a web page's POST read as commands ---- */

Test(security_resp, a_browser_post_is_closed_before_its_body_runs)
{
    static const char body[] = "PING\r\nSET pwned yes\r\n";
    static const char *const others[] = {
        "host: 127.0.0.1\r\nSET pwned yes\r\n",
        "*1\r\n$4\r\npost\r\n*3\r\n$3\r\nSET\r\n$5\r\npwned\r\n$3\r\nyes\r\n",
    };
    char req[512];
    int i, n;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    /* What a form with enctype=text/plain, or fetch() in no-cors mode,
     * sends from a page the user happens to visit. */
    n = snprintf(req, sizeof(req),
                 "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 "Origin: http://evil.example\r\n"
                 "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                 proxy.resp_port, sizeof(body) - 1, body);
    for (i = 0; i < 3; i++) {
        cr_assert(closed_silently(req, (size_t)n), "POST #%d answered", i);
    }
    for (i = 0; i < 2; i++) {
        cr_assert(closed_silently(others[i], strlen(others[i])), "%s",
                  others[i]);
    }
    cr_assert_eq(exists("pwned"), 0, "the page's command ran");
    cr_assert_eq(h_redis_calls(&redis, "set"), 0);
    cr_assert_eq(h_await_metric(&proxy,
                                P "connections_closed_total{reason="
                                  "\"http_on_resp\"}",
                                5, 3000),
                 5);
    /* Still a Redis port for everyone else. */
    {
        int fd = h_conn(proxy.resp_port);

        H_SEND(fd, "PING");
        H_EXPECT(fd, "+PONG\r\n");
        close(fd);
    }
    {
        char *log = stopped_log();

        /* Logged once for the one source (127.0.0.1) in a minute. */
        cr_assert_eq(h_count_lines(log, "msg=\"possible security attack"), 1,
                     "%s", log);
        cr_assert_not_null(strstr(log, " client=127.0.0.1:"), "%s", log);
        free(log);
    }
}

/* ---- row 2: memory held for clients that never authenticated ---- */

#define CLIENTS 8
#define PAYLOAD (4 << 20) /* sent by each after its command's header */

Test(security_resp, unauthenticated_clients_cannot_make_it_buffer_commands)
{
    static const char head[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$33554432\r\n";
    static const char bulk_err[] =
        "-ERR Protocol error: unauthenticated bulk length\r\n";
    static const char count_err[] =
        "-ERR Protocol error: unauthenticated multibulk length\r\n";
    char got[256], *junk = malloc(PAYLOAD), *big;
    int fds[CLIENTS], fd, i;
    long before, after, n;
    size_t blen;

    cr_assert_not_null(junk);
    memset(junk, 'x', PAYLOAD);
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = PW_INI));
    fd = h_conn(proxy.resp_port);
    cr_assert_eq(h_sends(fd, head), 0);
    n = h_read_replies(fd, 1, got, sizeof(got) - 1, 3000);
    cr_assert_eq(n, (long)sizeof(bulk_err) - 1, "no refusal");
    cr_assert_eq(memcmp(got, bulk_err, (size_t)n), 0);
    cr_assert(h_wait_closed(fd, 3000), "left open");
    close(fd);
    fd = h_conn(proxy.resp_port);
    cr_assert_eq(h_sends(fd, "*11\r\n"), 0);
    n = h_read_replies(fd, 1, got, sizeof(got) - 1, 3000);
    cr_assert_eq(n, (long)sizeof(count_err) - 1, "no refusal");
    cr_assert_eq(memcmp(got, count_err, (size_t)n), 0);
    cr_assert(h_wait_closed(fd, 3000), "left open");
    close(fd);

    /* The attack of the review: clients that never send AUTH declare a
     * 32 MiB argument and send its bytes. */
    before = h_proc_rss_kib(proxy.pid);
    for (i = 0; i < CLIENTS; i++) {
        fds[i] = h_conn(proxy.resp_port);
        (void)h_sends(fds[i], head);
        (void)h_send(fds[i], junk, PAYLOAD); /* fails once it is closed */
    }
    for (i = 0; i < CLIENTS; i++) {
        cr_assert(h_wait_closed(fds[i], 3000), "client %d left open", i);
        close(fds[i]);
    }
    after = h_proc_rss_kib(proxy.pid);
    if (!h_proc_sanitized(proxy.pid)) {
        cr_assert_lt(after - before, 8 << 10,
                     "RSS %ld -> %ld KiB: unauthenticated clients' bytes "
                     "were held",
                     before, after);
    }

    /* Once authenticated, the full limits: a 1 MiB SET. */
    blen = (size_t)1 << 20;
    big = malloc(blen + 64);
    cr_assert_not_null(big);
    n = snprintf(big, 64, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", blen);
    memset(big + n, 'v', blen);
    memcpy(big + n + blen, "\r\n", 2);
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "AUTH", PW);
    H_EXPECT(fd, "+OK\r\n");
    cr_assert_eq(h_send(fd, big, (size_t)n + blen + 2), 0);
    H_EXPECT(fd, "+OK\r\n");
    close(fd);
    cr_assert_eq(h_redis_calls(&redis, "set"), 1, "only the authenticated SET");
    free(big);
    free(junk);
}

/* ---- row 8: password guessing ---- */

/* Scrapes (with rl_passwords) until series is want, for up to 3 s;
 * returns the last value. */
static double
await_metric(const char *series, double want)
{
    int64_t deadline = h_now_ms() + 3000;
    double v;

    while ((v = rl_metric(&proxy, series)) != want && h_now_ms() < deadline) {
        h_sleep_ms(20);
    }
    return v;
}

Test(security_resp, guessing_closes_the_connection_after_three_wrong_passwords)
{
    char *pipelined, got[4096], *log;
    size_t one = strlen("AUTH guess\r\n"), i, n;
    int fd, k;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = PW_INI, .admin = 1));
    fd = h_conn(proxy.resp_port);
    for (k = 0; k < 3; k++) {
        H_SEND(fd, "AUTH", "guess");
        H_EXPECT(fd, WRONGPASS);
    }
    cr_assert(h_wait_closed(fd, 3000), "a fourth guess would be answered");
    close(fd);

    /* 2,000 guesses pipelined on one connection: three are answered. */
    pipelined = malloc(2000 * one);
    cr_assert_not_null(pipelined);
    for (i = 0; i < 2000; i++) {
        memcpy(pipelined + i * one, "AUTH guess\r\n", one);
    }
    fd = h_conn(proxy.resp_port);
    (void)h_send(fd, pipelined, 2000 * one);
    n = h_recv_all(fd, got, sizeof(got), 3000);
    close(fd);
    cr_assert_leq(n, 3 * (sizeof(WRONGPASS) - 1), "%zu bytes of replies", n);
    free(pipelined);

    /* Each connection costs a guesser a new one every three tries. */
    for (k = 0; k < 10; k++) {
        fd = h_conn(proxy.resp_port);
        cr_assert_eq(h_sends(fd, "AUTH a\r\nAUTH b\r\nAUTH c\r\n"), 0);
        cr_assert(h_wait_closed(fd, 3000), "connection %d left open", k);
        close(fd);
    }
    rl_passwords(PW, NULL);
    cr_assert_eq(await_metric(P "connections_closed_total{reason="
                                "\"auth_failures\"}",
                              12),
                 12);
    cr_assert_geq(rl_metric(&proxy, P "auth_failures_total{listener=\"resp\"}"),
                  36);
    /* The right password still works. */
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "AUTH", "guess");
    H_EXPECT(fd, WRONGPASS);
    H_SEND(fd, "AUTH", PW);
    H_EXPECT(fd, "+OK\r\n");
    H_SEND(fd, "PING");
    H_EXPECT(fd, "+PONG\r\n");
    close(fd);
    /* The failures did not flood the log: one line in 10 s. */
    log = stopped_log();
    cr_assert_eq(h_count_lines(log, "msg=\"authentication failed\" "
                                    "listener=resp count=1"),
                 1, "%s", log);
    cr_assert_eq(h_count_lines(log, "listener=resp"), 1, "%s", log);
    free(log);
}

/* ---- row 12: a password removed by a reload ---- */

/* req gets the same n replies from Redis and from the proxy. */
static void
same(const char *req, int n)
{
    h_expect_same_replies(&redis, &proxy, req, strlen(req), n);
}

Test(security_resp, a_reload_that_removes_the_password_lets_waiting_clients_in)
{
    int fd, fresh;

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = PW_INI, .admin = 1));
    rl_passwords(PW, NULL);
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, NOAUTH);
    rl_apply(&proxy, &redis, NULL);
    rl_passwords(NULL, NULL);
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, "$1\r\nv\r\n");
    /* Without a password, AUTH is answered as Redis answers it. */
    same("AUTH default x\r\nPING\r\n", 2);
    same("AUTH x\r\n", 1);
    same("AUTH someone x\r\n", 1);
    fresh = h_conn(proxy.resp_port);
    H_SEND(fresh, "AUTH", "default", "anything");
    H_EXPECT(fresh, "+OK\r\n");
    H_SEND(fresh, "GET", "k");
    H_EXPECT(fresh, "$1\r\nv\r\n");
    close(fresh);
    close(fd);
}

/* ---- row 14: sessions that hold a private connection forever ---- */

Test(security_resp, idle_sessions_are_closed_after_session_idle_timeout)
{
    static const char subscribed[] =
        "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
    int sub, blocked, third, busy, k;
    char got[256];

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.admin = 1, .ini = "[server]\nmax_sessions = 3\n"
                                            "session_idle_timeout = 1s\n"));
    sub = h_conn(proxy.resp_port);
    H_SEND(sub, "SUBSCRIBE", "ch");
    H_EXPECT(sub, subscribed);
    blocked = h_conn(proxy.resp_port);
    H_SEND(blocked, "BLPOP", "nothing", "0");
    busy = h_conn(proxy.resp_port);
    H_SEND(busy, "SUBSCRIBE", "busy");
    cr_assert_gt(h_read_replies(busy, 1, got, sizeof(got), 3000), 0);
    third = h_conn(proxy.resp_port);
    H_SEND(third, "SUBSCRIBE", "ch");
    H_EXPECT(third, "-ERR max number of sessions reached\r\n");
    /* A session with traffic stays; idle ones are closed. */
    for (k = 0; k < 8; k++) {
        cr_assert(h_redis_cmd(&redis, "PUBLISH busy m%d", k) == 0);
        cr_assert_gt(h_read_replies(busy, 1, got, sizeof(got), 3000), 0);
        h_sleep_ms(250);
    }
    cr_assert(h_wait_closed(sub, 3000), "an idle subscriber is still open");
    cr_assert(h_wait_closed(blocked, 3000), "an idle BLPOP is still open");
    cr_assert(!h_wait_closed(busy, 10), "a busy subscriber was closed");
    H_SEND(third, "SUBSCRIBE", "ch");
    H_EXPECT(third, subscribed);
    close(sub);
    close(blocked);
    close(busy);
    close(third);
}
