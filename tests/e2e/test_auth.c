/*
 * End-to-end tests of client authentication ([server] password) on all
 * three listeners, against a real redis-server: RESP's AUTH, HELLO ...
 * AUTH, NOAUTH before it (QUIT and RESET excepted), RESET logging out,
 * Redis's own texts byte for byte; HTTP's Bearer and Basic credentials,
 * the 401 challenge, malformed and repeated Authorization headers; the
 * admin port's routes behind the same password except its probes; every
 * refusal counted in auth_failures_total{listener} exactly, logged at
 * most once per listener in 10 s, and the password in neither the log
 * nor `-t`.
 *
 * What reached Redis (INFO commandstats) shows that a refused request
 * was refused before it was forwarded.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P "redis_proxy_"
#define PW "Hostile-Pw.7QzX"
#define WRONG "wr0ng-Pw.9Kq"
/* Base64 of "anyone:" PW, "default:" PW, ":" PW, PW alone (no colon) and
 * "anyone:" WRONG. */
#define B64_ANYONE "YW55b25lOkhvc3RpbGUtUHcuN1F6WA=="
#define B64_DEFAULT "ZGVmYXVsdDpIb3N0aWxlLVB3LjdRelg="
#define B64_NOUSER "Okhvc3RpbGUtUHcuN1F6WA=="
#define B64_NOCOLON "SG9zdGlsZS1Qdy43UXpY"
#define B64_WRONG "YW55b25lOndyMG5nLVB3LjlLcQ=="

#define AUTH_INI                                                               \
    "[server]\npassword = " PW "\n[log]\nlevel = debug\naccess = on\n"

#define NOAUTH "-NOAUTH Authentication required.\r\n"
#define WRONGPASS                                                              \
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
#define HELLO_NOAUTH                                                           \
    "-NOAUTH HELLO must be called with the client already authenticated, "     \
    "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "    \
    "authenticate the client and select the RESP protocol version at the "     \
    "same time\r\n"
#define NOPROTO "-NOPROTO unsupported protocol version\r\n"
#define VALUE "a guarded value"
#define VALUE_BULK "$15\r\n" VALUE "\r\n"

#define CHALLENGE "Basic realm=\"redis-proxy\""

H_PAIR_SUITE(auth, 30);

/* ---- helpers ---- */

/* Sends cmd on fd and reads exactly one reply into got (cap bytes);
 * returns its length. */
static long
ask(int fd, const char *cmd, char *got, size_t cap)
{
    char e[256];
    long n;

    cr_assert_eq(h_sends(fd, cmd), 0, "send %s", cmd);
    n = h_read_replies(fd, 1, got, cap - 1, 3000);
    cr_assert_gt(n, 0, "no reply to \"%s\"",
                 h_escape(cmd, strlen(cmd), e, sizeof(e)));
    got[n] = '\0';
    return n;
}

/* Sends cmd on fd and expects exactly the reply want. */
static void
say(int fd, const char *cmd, const char *want)
{
    char got[1024], e1[256], e2[1024], e3[1024];

    ask(fd, cmd, got, sizeof(got));
    cr_assert_str_eq(got, want, "\"%s\": got \"%s\", want \"%s\"",
                     h_escape(cmd, strlen(cmd), e1, sizeof(e1)),
                     h_escape(got, strlen(got), e2, sizeof(e2)),
                     h_escape(want, strlen(want), e3, sizeof(e3)));
}

/* GET path on port with the extra header lines hdrs ("" for none), on a
 * fresh connection. */
static void
get_with(int port, const char *path, const char *hdrs, struct h_resp *r)
{
    char req[1024];
    int fd = h_conn(port);

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n",
             path, hdrs);
    h_roundtrip(fd, req, r, 0);
    close(fd);
}

/* The refusal: 401 with the challenge. */
static void
expect_401(const struct h_resp *r, const char *what)
{
    cr_assert_eq(r->status, 401, "%s: %d, want 401", what, r->status);
    cr_assert_str_eq(h_hdr(r, "WWW-Authenticate"), CHALLENGE, "%s", what);
}

/* One series of an authenticated scrape of /metrics. */
static double
metric(const char *series)
{
    struct h_resp r = {0};
    char err[256];
    double v;

    get_with(proxy.admin_port, "/metrics", "Authorization: Bearer " PW "\r\n",
             &r);
    cr_assert_eq(r.status, 200, "authenticated /metrics: %d", r.status);
    cr_assert_eq(h_prom_validate(r.body, err, sizeof(err)), 0, "%s", err);
    v = h_prom_value(r.body, series);
    h_resp_free(&r);
    return v;
}

/* auth_failures_total of each listener, exactly. */
static void
expect_failures(double http, double resp, double admin)
{
    double h = metric(P "auth_failures_total{listener=\"http\"}");
    double r = metric(P "auth_failures_total{listener=\"resp\"}");
    double a = metric(P "auth_failures_total{listener=\"admin\"}");

    cr_assert(h == http && r == resp && a == admin,
              "auth failures http/resp/admin: %g/%g/%g, want %g/%g/%g", h, r, a,
              http, resp, admin);
}

static void
start_guarded(void)
{
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = AUTH_INI, .admin = 1));
    h_set(&redis, "k", VALUE);
}

/* ---- RESP ---- */

Test(auth, resp_commands_before_auth_are_refused_and_never_forwarded)
{
    int fd, fd2;

    start_guarded();
    fd = h_conn(proxy.resp_port);
    say(fd, "GET k\r\n", NOAUTH);
    say(fd, "PING\r\n", NOAUTH);
    say(fd, "SET k other\r\n", NOAUTH);
    say(fd, "AUTH " WRONG "\r\n", WRONGPASS);
    say(fd, "AUTH someone " WRONG "\r\n", WRONGPASS);
    say(fd, "GET k\r\n", NOAUTH); /* a failed AUTH does not let one in */
    cr_assert_eq(h_redis_calls(&redis, "get"), 0);
    cr_assert_eq(h_redis_calls(&redis, "set"), 1, "the refused SET was sent");
    say(fd, "AUTH " PW "\r\n", "+OK\r\n");
    say(fd, "GET k\r\n", VALUE_BULK);
    say(fd, "PING\r\n", "+PONG\r\n");
    /* Any user name with the password. */
    fd2 = h_conn(proxy.resp_port);
    say(fd2, "AUTH anyone " PW "\r\n", "+OK\r\n");
    say(fd2, "GET k\r\n", VALUE_BULK);
    say(fd2, "ECHO hi\r\n", "$2\r\nhi\r\n");
    cr_assert_eq(h_redis_calls(&redis, "get"), 1, "one fill, then hits");
    expect_failures(0, 6, 0);
    close(fd);
    close(fd2);
}

Test(auth, hello_authenticates_and_answers_with_redis_reply)
{
    static const char head[] = "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n"
                               "$7\r\nversion\r\n";
    char got[4096];
    long n;
    int fd;

    start_guarded();
    fd = h_conn(proxy.resp_port);
    say(fd, "HELLO 2\r\n", HELLO_NOAUTH);
    say(fd, "HELLO\r\n", HELLO_NOAUTH);
    say(fd, "HELLO 3\r\n", HELLO_NOAUTH);
    say(fd, "HELLO 4\r\n", NOPROTO);
    say(fd, "HELLO 2 AUTH someone " WRONG "\r\n", WRONGPASS);
    say(fd, "GET k\r\n", NOAUTH);
    n = ask(fd, "HELLO 2 AUTH someone " PW "\r\n", got, sizeof(got));
    /* Redis's HELLO reply, written by the proxy: seven properties, RESP2. */
    cr_assert_eq(strncmp(got, head, sizeof(head) - 1), 0,
                 "not Redis's HELLO reply: %.80s", got);
    cr_assert_not_null(strstr(got, "$5\r\nproto\r\n:2\r\n"), "%s", got);
    cr_assert_eq(h_reply_len(got, (size_t)n, 1), n);
    say(fd, "GET k\r\n", VALUE_BULK);
    n = ask(fd, "HELLO 3\r\n", got, sizeof(got));
    cr_assert_eq(strncmp(got, "%7\r\n$6\r\nserver\r\n", 16), 0, "%.80s", got);
    cr_assert_not_null(strstr(got, "$5\r\nproto\r\n:3\r\n"), "%s", got);
    ask(fd, "HELLO 2\r\n", got, sizeof(got));
    cr_assert_eq(strncmp(got, head, sizeof(head) - 1), 0, "%.80s", got);
    /* Answered by the proxy: Redis never saw a HELLO. */
    cr_assert_eq(h_redis_calls(&redis, "hello"), 0);
    /* Refused for want of the password: the three HELLOs, the wrong
     * password and the GET; HELLO 4 is a protocol error, not a refusal. */
    expect_failures(0, 5, 0);
    close(fd);
}

Test(auth, quit_works_before_auth_and_reset_logs_out)
{
    int fd;

    start_guarded();
    fd = h_conn(proxy.resp_port);
    say(fd, "QUIT\r\n", "+OK\r\n");
    cr_assert(h_wait_closed(fd, 2000), "QUIT did not close");
    close(fd);

    fd = h_conn(proxy.resp_port);
    say(fd, "RESET\r\n", "+RESET\r\n");
    say(fd, "AUTH " PW "\r\n", "+OK\r\n");
    say(fd, "GET k\r\n", VALUE_BULK);
    say(fd, "RESET\r\n", "+RESET\r\n");
    say(fd, "GET k\r\n", NOAUTH);
    say(fd, "AUTH " PW "\r\n", "+OK\r\n");
    say(fd, "GET k\r\n", VALUE_BULK);
    expect_failures(0, 1, 0);
    close(fd);
}

Test(auth, auth_without_a_password_answers_as_redis_does)
{
    static const char *const cmds[] = {
        "AUTH x\r\n", "AUTH default x\r\n", "AUTH someone x\r\n",
        "AUTH\r\n",   "AUTH a b c\r\n",
    };
    size_t i;
    int fd;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k", VALUE);
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        h_expect_same_replies(&redis, &proxy, cmds[i], strlen(cmds[i]), 1);
    }
    fd = h_conn(proxy.resp_port);
    say(fd, "AUTH x\r\n",
        "-ERR AUTH <password> called without any password configured for "
        "the default user. Are you sure your configuration is correct?\r\n");
    say(fd, "GET k\r\n", VALUE_BULK); /* nothing to authenticate */
    close(fd);
}

/* ---- HTTP data port ---- */

Test(auth, http_needs_the_password_as_bearer_or_basic)
{
    static const char *const refused[] = {
        "",
        "Authorization: Bearer " WRONG "\r\n",
        "Authorization: Basic " B64_WRONG "\r\n",
        "Authorization: Basic !!!not-base64\r\n",
        "Authorization: Basic " B64_NOCOLON "\r\n",
        "Authorization: Bearer\r\n",
        "Authorization: Token " PW "\r\n",
        "Authorization: " PW "\r\n",
    };
    static const char *const accepted[] = {
        "Authorization: Bearer " PW "\r\n",
        "Authorization: Basic " B64_ANYONE "\r\n",
        "Authorization: Basic " B64_DEFAULT "\r\n",
        "Authorization: Basic " B64_NOUSER "\r\n",
    };
    struct h_resp r = {0};
    size_t i;
    int fd;

    start_guarded();
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        get_with(proxy.http_port, "/k", refused[i], &r);
        expect_401(&r, refused[i]);
        h_resp_free(&r);
    }
    cr_assert_eq(h_redis_calls(&redis, "get"), 0, "a refused GET was sent");
    for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        get_with(proxy.http_port, "/k", accepted[i], &r);
        h_check(&r, accepted[i], 200, VALUE, i == 0 ? "MISS" : "HIT");
        h_resp_free(&r);
    }
    /* A 401 keeps the connection: the client may retry on it. */
    fd = h_conn(proxy.http_port);
    h_roundtrip(fd, H_REQ("/k"), &r, 0);
    expect_401(&r, "no credentials, kept alive");
    h_resp_free(&r);
    h_roundtrip(
        fd,
        "GET /k HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " PW
        "\r\n\r\n",
        &r, 0);
    h_check(&r, "retry with the password", 200, VALUE, "HIT");
    h_resp_free(&r);
    close(fd);
    /* Two sets of credentials: a malformed request, then closed. */
    fd = h_conn(proxy.http_port);
    h_roundtrip(
        fd,
        "GET /k HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " PW
        "\r\nAuthorization: Bearer " PW "\r\n\r\n",
        &r, 0);
    cr_assert_eq(r.status, 400, "two Authorization headers: %d", r.status);
    h_resp_free(&r);
    cr_assert(h_wait_closed(fd, 2000), "left open after the 400");
    close(fd);
    cr_assert_eq(h_redis_calls(&redis, "get"), 1);
    expect_failures(sizeof(refused) / sizeof(refused[0]) + 1, 0, 0);
}

/* ---- the admin port ---- */

Test(auth, admin_routes_need_the_password_but_probes_do_not)
{
    static const char *const guarded[] = {"/metrics", "/stats.json", "/",
                                          "/key/k"};
    struct h_resp r = {0};
    size_t i;

    start_guarded();
    for (i = 0; i < 4; i++) {
        get_with(proxy.admin_port, guarded[i], "", &r);
        expect_401(&r, guarded[i]);
        h_resp_free(&r);
        get_with(proxy.admin_port, guarded[i],
                 "Authorization: Bearer " WRONG "\r\n", &r);
        expect_401(&r, guarded[i]);
        h_resp_free(&r);
    }
    cr_assert_eq(h_redis_calls(&redis, "get"), 0, "/key/k reached Redis");
    for (i = 0; i < 4; i++) {
        get_with(proxy.admin_port, guarded[i],
                 i % 2 ? "Authorization: Basic " B64_ANYONE "\r\n"
                       : "Authorization: Bearer " PW "\r\n",
                 &r);
        cr_assert_eq(r.status, 200, "%s with the password: %d", guarded[i],
                     r.status);
        if (strcmp(guarded[i], "/key/k") == 0) {
            h_check(&r, guarded[i], 200, VALUE, "MISS");
        }
        h_resp_free(&r);
    }
    get_with(proxy.admin_port, "/healthz", "", &r);
    cr_assert_eq(r.status, 200, "/healthz: %d", r.status);
    cr_assert_str_eq(r.body, "ok\n");
    h_resp_free(&r);
    get_with(proxy.admin_port, "/readyz", "", &r);
    cr_assert_eq(r.status, 200, "/readyz: %d (%s)", r.status, r.body);
    h_resp_free(&r);
    expect_failures(0, 0, 8);
}

/* ---- counting, logging, -t ---- */

#define LOG_CAP (1 << 20)

Test(auth, every_failure_is_counted_and_logged_without_the_password)
{
    char *log = malloc(LOG_CAP), out[16384];
    char *const argv[] = {"redis-proxy", "-c", proxy.ini, "-t", NULL};
    struct h_resp r = {0};
    const char *server, *redis_sec;
    int fd, fd2, rc;

    cr_assert_not_null(log);
    start_guarded();
    fd = h_conn(proxy.resp_port);
    say(fd, "GET k\r\n", NOAUTH);
    say(fd, "AUTH " WRONG "\r\n", WRONGPASS);
    say(fd, "AUTH " PW WRONG "\r\n", WRONGPASS); /* the password as prefix */
    say(fd, "AUTH u " PW "\r\n", "+OK\r\n");
    say(fd, "GET k\r\n", VALUE_BULK);
    close(fd);
    /* A third wrong password on one connection would close it. */
    fd2 = h_conn(proxy.resp_port);
    say(fd2, "HELLO 2 AUTH u " WRONG "\r\n", WRONGPASS);
    close(fd2);
    get_with(proxy.http_port, "/k", "Authorization: Bearer " WRONG "\r\n", &r);
    expect_401(&r, "http, wrong bearer");
    h_resp_free(&r);
    get_with(proxy.http_port, "/k", "Authorization: Bearer " PW "x\r\n", &r);
    expect_401(&r, "http, the password and more");
    h_resp_free(&r);
    get_with(proxy.http_port, "/k", "Authorization: Basic " B64_ANYONE "\r\n",
             &r);
    h_check(&r, "http, basic", 200, VALUE, "HIT");
    h_resp_free(&r);
    get_with(proxy.admin_port, "/stats.json",
             "Authorization: Basic " B64_WRONG "\r\n", &r);
    expect_401(&r, "admin, wrong basic");
    h_resp_free(&r);
    expect_failures(2, 4, 1);

    rc = h_run(argv, out, sizeof(out));
    cr_assert_eq(rc, 0, "-t exited %d:\n%s", rc, out);
    server = strstr(out, "[server]\n");
    redis_sec = strstr(out, "[redis]\n");
    cr_assert(server != NULL && redis_sec != NULL && server < redis_sec, "%s",
              out);
    cr_assert(strstr(server, "password = ***\n") != NULL &&
                  strstr(server, "password = ***\n") < redis_sec,
              "[server] password is not masked:\n%s", out);
    cr_assert_null(strstr(out, PW), "-t prints the password:\n%s", out);

    cr_assert_eq(h_proxy_stop(&proxy, log, LOG_CAP), 0);
    /* Each failure counted; logged at most once per listener in 10 s,
     * the first at once (the line says how many it stands for). */
    cr_assert_eq(h_count_lines(log, "msg=\"authentication failed\" "
                                    "listener=resp count=1"),
                 1, "%s", log);
    cr_assert_eq(h_count_lines(log, "msg=\"authentication failed\" "
                                    "listener=http count=1"),
                 1, "%s", log);
    cr_assert_eq(h_count_lines(log, "msg=\"authentication failed\" "
                                    "listener=admin count=1"),
                 1, "%s", log);
    cr_assert_eq(h_count_lines(log, "msg=\"authentication failed\""), 3, "%s",
                 log);
    cr_assert_not_null(strstr(log, " server.password=*** "), "%s", log);
    cr_assert_null(strstr(log, PW), "the password is in the log:\n%s", log);
    cr_assert_null(strstr(log, WRONG), "a wrong password is in the log");
    cr_assert_null(strstr(log, B64_ANYONE), "credentials are in the log");
    cr_assert_null(strstr(log, B64_WRONG), "credentials are in the log");
    free(log);
}
