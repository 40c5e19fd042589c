/*
 * End-to-end tests of the connection state the proxy keeps per client
 * (issue 18): CLIENT SETNAME, GETNAME, SETINFO, ID, INFO, NO-EVICT and
 * NO-TOUCH answered by the proxy for each client connection, in RESP2 and
 * RESP3, with Redis's replies (byte for byte against a second
 * redis-server, the twin, where Redis 7.0 knows the command; SETINFO and
 * NO-TOUCH are Redis 7.2's, whose replies are +OK), never reaching Redis
 * (its commandstats count none) and never opening a session (the
 * sessions metric stays 0, and GET keeps being answered from the cache).
 * Then what client libraries send on every connection (CLIENT SETINFO,
 * SELECT, CLIENT SETNAME), from more connections than max_sessions.
 *
 * Expected to fail until the rewrite lands: every test here. Today any
 * CLIENT subcommand and SELECT open a session, so the sessions metric
 * moves (and Redis 7.0 answers SETINFO and NO-TOUCH with "unknown
 * subcommand"); the last test's third connection gets "-ERR max number of
 * sessions reached"; the RESP3 test stops at HELLO 3 (-NOPROTO).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define P "redis_proxy_"
#define REPLY_MS 3000

static struct h_redis redis, twin;
static struct h_proxy proxy;

static void
setup(void)
{
    memset(&twin, 0, sizeof(twin));
    h_pair_setup(&redis, &proxy);
    cr_assert_eq(h_redis_start(&twin, 0, NULL), 0, "twin did not start");
}

static void
teardown(void)
{
    h_pair_teardown(&redis, &proxy);
    h_redis_stop(&twin);
}

TestSuite(conn_state, .init = setup, .fini = teardown, .timeout = 60);

#define SEND H_SEND
#define EXPECT H_EXPECT
#define C(...) ((const char *const[]){__VA_ARGS__, NULL})

/* argv sent to the twin (rfd) and to the proxy (pfd): the same reply,
 * byte for byte, copied into out. */
static void
same(int rfd, int pfd, const char *const *argv, char *out, size_t cap)
{
    char req[4096];
    size_t n = h_cmd_encode(req, sizeof(req), argv);

    cr_assert_gt(n, 0);
    h_expect_same_on(rfd, pfd, req, n, 1, argv[1] ? argv[1] : argv[0], out,
                     cap);
}

#define SAME(rfd, pfd, out, ...)                                               \
    same((rfd), (pfd), C(__VA_ARGS__), (out), sizeof(out))

/* CLIENT ID on fd: the integer, or fails. */
static long long
client_id(int fd)
{
    char got[128];
    long n;

    SEND(fd, "CLIENT", "ID");
    n = h_read_replies(fd, 1, got, sizeof(got) - 1, REPLY_MS);
    cr_assert_gt(n, 0, "CLIENT ID: no reply");
    got[n] = '\0';
    cr_assert(got[0] == ':' && atoll(got + 1) > 0, "CLIENT ID: %s", got);
    return atoll(got + 1);
}

/* CLIENT INFO on fd: the text of the line (bulk or verbatim string, the
 * verbatim's "txt:" dropped) into out; the reply's type into *type. */
static void
client_info(int fd, char *out, size_t cap, char *type)
{
    char got[4096], *body;
    long n;

    SEND(fd, "CLIENT", "INFO");
    n = h_read_replies(fd, 1, got, sizeof(got) - 1, REPLY_MS);
    cr_assert_gt(n, 0, "CLIENT INFO: no reply");
    got[n] = '\0';
    *type = got[0];
    body = strstr(got, "\r\n");
    cr_assert(body != NULL && (got[0] == '$' || got[0] == '='),
              "CLIENT INFO: %s", got);
    body += 2;
    if (got[0] == '=') {
        cr_assert_eq(strncmp(body, "txt:", 4), 0, "CLIENT INFO: %s", got);
        body += 4;
    }
    /* Redis's line ends with a newline, inside the string */
    cr_assert(n >= 3 && strcmp(got + n - 3, "\n\r\n") == 0, "CLIENT INFO: %s",
              got);
    snprintf(out, cap, "%.*s", (int)(got + n - 2 - body), body);
}

/* The field `field=` of a CLIENT INFO line is exactly want. */
static void
expect_field(const char *info, const char *field, const char *want)
{
    char needle[256];
    const char *p;
    size_t len;

    snprintf(needle, sizeof(needle), " %s=", field);
    if (strncmp(info, needle + 1, strlen(needle + 1)) == 0) {
        p = info + strlen(needle + 1); /* the first field */
    } else {
        p = strstr(info, needle);
        cr_assert_not_null(p, "CLIENT INFO has no %s: %s", field, info);
        p += strlen(needle);
    }
    len = strcspn(p, " \n");
    cr_assert(len == strlen(want) && strncmp(p, want, len) == 0,
              "CLIENT INFO %s=%.*s, want %s: %s", field, (int)len, p, want,
              info);
}

/* The CLIENT subcommands the proxy answers itself. */
static const char *const subs[] = {"setname", "getname",  "setinfo", "id",
                                   "info",    "no-evict", "no-touch"};
#define NSUBS (sizeof(subs) / sizeof(subs[0]))

/* What Redis counted of each (commandstats client|<sub>). The proxy's own
 * connections may use some (CLIENT ID for tracking): a test compares the
 * counts before and after its clients' commands. */
static void
client_calls(long *calls)
{
    char sub[32];

    for (size_t i = 0; i < NSUBS; i++) {
        snprintf(sub, sizeof(sub), "client|%s", subs[i]);
        calls[i] = h_redis_calls(&redis, sub);
        cr_assert_geq(calls[i], 0, "INFO commandstats");
    }
}

/* None of CLIENT's subcommands reached Redis since before[] was counted,
 * no session was opened, and GET k is still answered from the cache (one
 * more hit). */
static void
expect_no_session(int fd, const char *k, const char *v, const long *before)
{
    long after[NSUBS];
    char want[128];
    double hits;

    client_calls(after);
    for (size_t i = 0; i < NSUBS; i++) {
        cr_assert_eq(after[i], before[i], "Redis counted %ld CLIENT %s calls",
                     after[i] - before[i], subs[i]);
    }
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    hits = h_metric(&proxy, P "cache_hits_total");
    snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(v), v);
    SEND(fd, "GET", k);
    EXPECT(fd, want);
    cr_assert_eq(h_await_metric(&proxy, P "cache_hits_total", hits + 1, 2000),
                 hits + 1, "GET %s was not a hit", k);
}

Test(conn_state, client_metadata_is_answered_per_connection_in_resp2)
{
    char out[4096], info[4096], idtext[32], type;
    long long id, id2;
    long before[NSUBS];
    int rfd, pfd, other;

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    rfd = h_conn(twin.port);
    pfd = h_conn(proxy.resp_port);
    other = h_conn(proxy.resp_port);
    SEND(pfd, "GET", "k"); /* cached */
    EXPECT(pfd, "$1\r\nv\r\n");
    client_calls(before);

    SAME(rfd, pfd, out, "CLIENT", "GETNAME");
    cr_assert_str_eq(out, "$-1\r\n");
    SAME(rfd, pfd, out, "CLIENT", "SETNAME", "app-1");
    cr_assert_str_eq(out, "+OK\r\n");
    SAME(rfd, pfd, out, "CLIENT", "GETNAME");
    cr_assert_str_eq(out, "$5\r\napp-1\r\n");
    SAME(rfd, pfd, out, "CLIENT", "SETNAME", "has space");
    cr_assert_eq(strncmp(out, "-ERR ", 5), 0, "%s", out);
    SAME(rfd, pfd, out, "client", "getname");
    cr_assert_str_eq(out, "$5\r\napp-1\r\n");
    SAME(rfd, pfd, out, "CLIENT", "SETNAME");
    SAME(rfd, pfd, out, "CLIENT", "NO-EVICT", "on");
    cr_assert_str_eq(out, "+OK\r\n");
    SAME(rfd, pfd, out, "CLIENT", "NO-EVICT", "maybe");
    cr_assert_str_eq(out, "-ERR syntax error\r\n");
    SAME(rfd, pfd, out, "CLIENT", "NO-EVICT", "off");
    /* Redis 7.2's */
    SEND(pfd, "CLIENT", "NO-TOUCH", "on");
    EXPECT(pfd, "+OK\r\n");
    SEND(pfd, "CLIENT", "SETINFO", "lib-name", "mylib");
    EXPECT(pfd, "+OK\r\n");
    SEND(pfd, "CLIENT", "SETINFO", "LIB-VER", "1.2.3");
    EXPECT(pfd, "+OK\r\n");

    /* the connection's own id, stable, and another connection's not */
    id = client_id(pfd);
    cr_assert_eq(client_id(pfd), id);
    id2 = client_id(other);
    cr_assert_neq(id2, id);
    SEND(other, "CLIENT", "GETNAME");
    EXPECT(other, "$-1\r\n");

    client_info(pfd, info, sizeof(info), &type);
    cr_assert_eq(type, '$', "CLIENT INFO in RESP2 is a bulk string");
    snprintf(idtext, sizeof(idtext), "%lld", id);
    expect_field(info, "id", idtext);
    expect_field(info, "name", "app-1");
    expect_field(info, "db", "0");
    expect_field(info, "lib-name", "mylib");
    expect_field(info, "lib-ver", "1.2.3");
    expect_field(info, "resp", "2");
    SEND(pfd, "SELECT", "3");
    EXPECT(pfd, "+OK\r\n");
    client_info(pfd, info, sizeof(info), &type);
    expect_field(info, "db", "3");
    SEND(pfd, "SELECT", "0");
    EXPECT(pfd, "+OK\r\n");
    expect_no_session(pfd, "k", "v", before);
    close(rfd);
    close(pfd);
    close(other);
}

Test(conn_state, client_metadata_is_answered_per_connection_in_resp3)
{
    char out[4096], info[4096], idtext[32], type;
    long long id;
    long before[NSUBS];
    int rfd, pfd;

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    rfd = h_conn(twin.port);
    pfd = h_conn(proxy.resp_port);
    h_hello(rfd, 3);
    h_hello(pfd, 3);
    SEND(pfd, "GET", "k"); /* cached */
    EXPECT(pfd, "$1\r\nv\r\n");
    client_calls(before);
    SAME(rfd, pfd, out, "CLIENT", "GETNAME");
    cr_assert_str_eq(out, "_\r\n");
    SAME(rfd, pfd, out, "CLIENT", "SETNAME", "app-3");
    SAME(rfd, pfd, out, "CLIENT", "GETNAME");
    cr_assert_str_eq(out, "$5\r\napp-3\r\n");
    SAME(rfd, pfd, out, "CLIENT", "NO-EVICT", "on");
    SEND(pfd, "CLIENT", "SETINFO", "lib-name", "lib3");
    EXPECT(pfd, "+OK\r\n");
    id = client_id(pfd);
    client_info(pfd, info, sizeof(info), &type);
    cr_assert_eq(type, '=', "CLIENT INFO in RESP3 is a verbatim string");
    snprintf(idtext, sizeof(idtext), "%lld", id);
    expect_field(info, "id", idtext);
    expect_field(info, "name", "app-3");
    expect_field(info, "lib-name", "lib3");
    expect_field(info, "resp", "3");
    /* HELLO's SETNAME names the connection too */
    cr_assert_eq(h_sends(pfd, "HELLO 3 SETNAME renamed\r\n"), 0);
    cr_assert_gt(h_read_replies(pfd, 1, out, sizeof(out), REPLY_MS), 0);
    SEND(pfd, "CLIENT", "GETNAME");
    EXPECT(pfd, "$7\r\nrenamed\r\n");
    expect_no_session(pfd, "k", "v", before);
    close(rfd);
    close(pfd);
}

/* ---- what client libraries send on every connection ---- */

#define LIB_CONNS 12

Test(conn_state, library_handshakes_on_more_connections_than_max_sessions)
{
    /* node-redis with a database and a name, pipelined as it sends them */
    static const char handshake[] =
        "*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$8\r\nLIB-NAME\r\n"
        "$10\r\nnode-redis\r\n"
        "*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$7\r\nLIB-VER\r\n"
        "$5\r\n5.8.3\r\n"
        "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\nweb\r\n"
        "*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n"
        "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    int fds[LIB_CONNS];
    double hits;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nmax_sessions = 2\n", .admin = 1));
    h_set_db(&redis, 2, "k", "in-db-2");
    for (int i = 0; i < LIB_CONNS; i++) {
        fds[i] = h_conn(proxy.resp_port);
        cr_assert_eq(h_send(fds[i], handshake, sizeof(handshake) - 1), 0);
        h_expect_reply(fds[i], "+OK\r\n", REPLY_MS, i);
        h_expect_reply(fds[i], "+OK\r\n", REPLY_MS, i);
        h_expect_reply(fds[i], "+OK\r\n", REPLY_MS, i);
        h_expect_reply(fds[i], "+OK\r\n", REPLY_MS, i);
        h_expect_reply(fds[i], "$7\r\nin-db-2\r\n", REPLY_MS, i);
    }
    /* all still connected, none in a session: the GETs again are hits */
    hits = h_metric(&proxy, P "cache_hits_total");
    for (int i = 0; i < LIB_CONNS; i++) {
        SEND(fds[i], "GET", "k");
        h_expect_reply(fds[i], "$7\r\nin-db-2\r\n", REPLY_MS, i);
    }
    cr_assert_geq(
        h_await_metric(&proxy, P "cache_hits_total", hits + LIB_CONNS, 2000),
        hits + LIB_CONNS);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    cr_assert_lt(h_redis_calls(&redis, "get"), LIB_CONNS,
                 "Redis counted %ld GETs", h_redis_calls(&redis, "get"));
    for (int i = 0; i < LIB_CONNS; i++) {
        close(fds[i]);
    }
}
