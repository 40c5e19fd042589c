/*
 * End-to-end tests of TLS towards Redis ([redis] tls = on): a real
 * redis-server that speaks only TLS (--port 0 --tls-port, the certificates
 * of tools/tls-certs.sh), the built proxy in front of it, and Redis
 * checked directly over TLS (h_tls_run). The pool: a SET through the proxy
 * lands in Redis, a GET is a miss and then a hit (Redis's own GET count
 * says so), over RESP and HTTP, a value larger than a TLS record both
 * ways. Sessions over TLS: a transaction, a subscriber reached by a
 * PUBLISH sent straight to Redis, a BLPOP woken by an LPUSH. The
 * invalidation stream over TLS: a value changed in Redis is never served
 * again once the proxy has dropped it. A Redis killed (its connections no
 * longer counted open) and restarted on its TLS port, found again. The
 * refusals, each with its cause in the reply, the log and /readyz: a
 * server certificate of an unknown CA, a CA file that is not the
 * server's, an expired certificate, a certificate without the address, a
 * wrong tls_server_name; then tls_server_name naming the certificate's
 * name, and tls_verify = off with its warning. Mutual TLS, with the
 * client certificate and without (refused after the handshake, which
 * must fail the opening all the same). An ACL user ([redis] user). The
 * cluster suite: three masters that speak only TLS, keys spread over
 * them, MGET across slots. The proxy's own TLS listeners are
 * test_tls.c's; a node client over TLS is tests/clients/tls.test.mjs.
 */
#include "harness.h"
#include "harness_cluster.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P "redis_proxy_"
#define OUT_CAP 8192
#define BIG (300 * 1024) /* a value of many TLS records (16 KiB each) */
#define WAIT_MS 3000     /* something the proxy does soon */

static struct h_redis redis;
static struct h_proxy proxy;

static void
setup(void)
{
    memset(&redis, 0, sizeof(redis));
    memset(&proxy, 0, sizeof(proxy));
}

static void
teardown(void)
{
    h_pair_teardown(&redis, &proxy);
}

TestSuite(tls_redis, .init = setup, .fini = teardown, .timeout = 30);

/* redis-server on a TLS port alone with the test certificate cert. */
static void
start_redis(const char *cert, const char *const *extra)
{
    cr_assert_eq(h_redis_start_tls(&redis, 0, cert, extra), 0,
                 "redis-server with TLS (%s) did not start", cert);
}

/* The proxy with [redis] tls = on, trusting the test CA ca ("ca.crt"),
 * then extra ([redis] keys, or any section reopened), with an admin
 * port. */
static void
start_proxy_ca(const char *ca, const char *extra)
{
    char ini[2048];

    snprintf(ini, sizeof(ini), "[redis]\ntls = on\ntls_ca_file = %s\n%s",
             h_tls_path(ca), extra != NULL ? extra : "");
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = ini, .admin = 1));
}

static void
start_proxy(const char *extra)
{
    start_proxy_ca("ca.crt", extra);
}

/* Runs argv straight on Redis over TLS; its reply must be want. */
static void
expect_direct(const char *want, const char *const *argv, int line)
{
    char out[OUT_CAP], esc[OUT_CAP];

    cr_assert_gt(h_tls_run(redis.port, out, sizeof(out), argv), 0,
                 "line %d: %s on redis over TLS: %s", line, argv[0], out);
    cr_assert_str_eq(out, want, "line %d: %s on redis: %s", line, argv[0],
                     h_escape(out, strlen(out), esc, sizeof(esc)));
}
#define DIRECT(want, ...)                                                      \
    expect_direct((want), (const char *const[]){__VA_ARGS__, NULL}, __LINE__)

/* argv on a fresh connection to the proxy's RESP port: its one reply
 * into out (NUL-terminated). */
static void
proxy_once(char *out, size_t cap, const char *const *argv)
{
    char req[512];
    size_t n = h_cmd_encode(req, sizeof(req), argv);
    long got;

    cr_assert_gt(n, 0);
    got = h_replies(proxy.resp_port, req, n, 1, out, cap - 1);
    cr_assert_gt(got, 0, "%s: no reply", argv[0]);
    out[got] = '\0';
}
#define PROXY_ONCE(out, cap, ...)                                              \
    proxy_once((out), (cap), (const char *const[]){__VA_ARGS__, NULL})

/* GET path on the admin port: its status, the body into out. */
static int
admin_get(const char *path, char *out, size_t cap)
{
    struct h_resp r = {0};
    int status;

    cr_assert_eq(h_http_get(proxy.admin_port, path, &r), 0, "GET %s", path);
    snprintf(out, cap, "%.*s", (int)r.body_len, r.body);
    status = r.status;
    h_resp_free(&r);
    return status;
}

/* ---- the pool ---- */

Test(tls_redis, a_set_lands_in_redis_and_gets_miss_then_hit)
{
    char out[OUT_CAP];
    long gets;
    int fd;

    start_redis("server", NULL);
    start_proxy(NULL);
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "SET", "k", "over tls");
    H_EXPECT(fd, "+OK\r\n");
    DIRECT("$8\r\nover tls\r\n", "GET", "k");
    gets = h_redis_calls(&redis, "get");
    cr_assert_geq(gets, 1, "no GET counted: INFO over TLS failed");
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, "$8\r\nover tls\r\n");
    cr_assert_eq(h_redis_calls(&redis, "get"), gets + 1, "a miss asks Redis");
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, "$8\r\nover tls\r\n");
    cr_assert_eq(h_redis_calls(&redis, "get"), gets + 1, "a hit does not");
    close(fd);
    /* HTTP: a key set straight in Redis, a MISS and then a HIT. */
    DIRECT("+OK\r\n", "SET", "h", "by http");
    h_expect_get(proxy.http_port, "/h", 200, "by http", "MISS");
    h_expect_get(proxy.http_port, "/h", 200, "by http", "HIT");
    cr_assert_eq(h_redis_calls(&redis, "get"), gets + 2, "one GET per miss");
    cr_assert_eq(h_metric(&proxy, P "cache_hits_total"), 2);
    cr_assert_eq(admin_get("/readyz", out, sizeof(out)), 200, "%s", out);
}

Test(tls_redis, a_value_of_many_records_goes_both_ways)
{
    char *val = malloc(BIG), *req = malloc(BIG + 128), *out = malloc(BIG + 64);
    char head[64];
    size_t n, hl;
    struct h_resp r = {0};
    int fd;

    cr_assert(val != NULL && req != NULL && out != NULL);
    for (size_t i = 0; i < BIG; i++) {
        val[i] = (char)('a' + i % 26);
    }
    start_redis("server", NULL);
    start_proxy(NULL);
    n = (size_t)snprintf(req, BIG + 128,
                         "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n", BIG);
    memcpy(req + n, val, BIG);
    memcpy(req + n + BIG, "\r\n", 2);
    fd = h_conn(proxy.resp_port);
    cr_assert_eq(h_send(fd, req, n + BIG + 2), 0);
    H_EXPECT(fd, "+OK\r\n");
    /* In Redis whole, as sent. */
    hl = (size_t)snprintf(head, sizeof(head), "$%d\r\n", BIG);
    cr_assert_eq(H_TLS_RUN(redis.port, out, BIG + 64, "GET", "big"),
                 (long)(hl + BIG + 2), "%.64s", out);
    cr_assert(memcmp(out, head, hl) == 0 && memcmp(out + hl, val, BIG) == 0);
    /* Read back through the proxy: a miss filled over TLS, then a hit. */
    H_SEND(fd, "GET", "big");
    cr_assert_eq(h_read_replies(fd, 1, out, BIG + 64, WAIT_MS),
                 (long)(hl + BIG + 2));
    cr_assert(memcmp(out, head, hl) == 0 && memcmp(out + hl, val, BIG) == 0);
    close(fd);
    fd = h_conn(proxy.http_port);
    h_roundtrip(fd, H_REQ("/big"), &r, 0);
    cr_assert_eq(r.body_len, (size_t)BIG);
    cr_assert(memcmp(r.body, val, BIG) == 0);
    cr_assert_str_eq(h_hdr(&r, "X-Cache"), "HIT");
    h_resp_free(&r);
    close(fd);
    free(val);
    free(req);
    free(out);
}

/* ---- sessions ---- */

static int
one_blocked(void *arg)
{
    (void)arg;
    return h_redis_info(&redis, "clients", "blocked_clients") == 1;
}

Test(tls_redis, sessions_run_transactions_pubsub_and_blocking_commands)
{
    int fd, sub, blk;

    start_redis("server", NULL);
    start_proxy(NULL);
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "MULTI");
    H_EXPECT(fd, "+OK\r\n");
    H_SEND(fd, "SET", "m", "1");
    H_EXPECT(fd, "+QUEUED\r\n");
    H_SEND(fd, "INCR", "m");
    H_EXPECT(fd, "+QUEUED\r\n");
    H_SEND(fd, "EXEC");
    H_EXPECT(fd, "*2\r\n+OK\r\n:2\r\n");
    DIRECT("$1\r\n2\r\n", "GET", "m");

    /* A subscriber: its session's connection is the one subscriber Redis
     * counts when a PUBLISH comes straight to it. */
    sub = h_conn(proxy.resp_port);
    H_SEND(sub, "SUBSCRIBE", "ch");
    H_EXPECT(sub, "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    DIRECT(":1\r\n", "PUBLISH", "ch", "direct");
    H_EXPECT(sub, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$6\r\ndirect\r\n");
    H_SEND(fd, "PUBLISH", "ch", "proxied");
    H_EXPECT(fd, ":1\r\n");
    H_EXPECT(sub, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$7\r\nproxied\r\n");

    /* A BLPOP that Redis holds blocked, woken by an LPUSH of another
     * client. */
    blk = h_conn(proxy.resp_port);
    H_SEND(blk, "BLPOP", "q", "10");
    cr_assert(h_wait_until(WAIT_MS, one_blocked, NULL),
              "Redis never blocked the BLPOP");
    cr_assert_eq(h_readable(&blk, 1, 0), 0u, "BLPOP answered early");
    H_SEND(fd, "LPUSH", "q", "x");
    H_EXPECT(fd, ":1\r\n");
    H_EXPECT(blk, "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    close(blk);
    close(sub);
    close(fd);
}

/* ---- the invalidation stream ---- */

Test(tls_redis, a_value_changed_in_redis_is_dropped_by_the_stream)
{
    double inv;

    start_redis("server", NULL);
    start_proxy(NULL);
    cr_assert_eq(h_metric(&proxy, P "tracking_state"), 2, "stream not up");
    DIRECT("+OK\r\n", "SET", "t", "v1");
    h_expect_get(proxy.http_port, "/t", 200, "v1", "MISS");
    h_expect_get(proxy.http_port, "/t", 200, "v1", "HIT");
    inv = h_metric(&proxy, P "cache_invalidations_total");
    DIRECT("+OK\r\n", "SET", "t", "v2");
    /* Counted once the entry is gone: the next GET cannot be stale. */
    cr_assert_eq(
        h_await_metric(&proxy, P "cache_invalidations_total", inv + 1, WAIT_MS),
        inv + 1, "no invalidation came over the TLS stream");
    h_expect_get(proxy.http_port, "/t", 200, "v2", "MISS");
    h_expect_get(proxy.http_port, "/t", 200, "v2", "HIT");
    DIRECT(":1\r\n", "DEL", "t");
    cr_assert_eq(
        h_await_metric(&proxy, P "cache_invalidations_total", inv + 2, WAIT_MS),
        inv + 2);
    h_expect_get(proxy.http_port, "/t", 404, NULL, NULL);
}

/* ---- a lost connection ---- */

static int
ready(void *arg)
{
    char out[OUT_CAP];

    (void)arg;
    return admin_get("/readyz", out, sizeof(out)) == 200;
}

Test(tls_redis, a_restarted_redis_is_reached_again_over_tls)
{
    char out[OUT_CAP];
    int fd;

    start_redis("server", NULL);
    start_proxy(NULL);
    DIRECT("+OK\r\n", "SET", "k", "before");
    h_expect_get(proxy.http_port, "/k", 200, "before", "MISS");
    h_expect_get(proxy.http_port, "/k", 200, "before", "HIT");
    cr_assert_geq(h_metric(&proxy, P "redis_pool_connected"), 1);
    h_redis_kill(&redis, 1);
    fd = h_conn(proxy.resp_port);
    PROXY_ONCE(out, sizeof(out), "SET", "w", "1");
    cr_assert(strncmp(out, "-ERR redis unavailable: ", 24) == 0, "%s", out);
    /* The lost connection is no longer counted as open. */
    cr_assert_eq(h_metric(&proxy, P "redis_pool_connected"), 0);
    cr_assert_eq(admin_get("/readyz", out, sizeof(out)), 503, "%s", out);
    /* Back on the same port, empty: found again over TLS, and the value
     * cached before is not served (the stream was lost meanwhile). */
    cr_assert_eq(h_redis_start_tls(&redis, redis.port, "server", NULL), 0);
    cr_assert(h_wait_until(5000, ready, NULL), "not ready again");
    h_expect_get(proxy.http_port, "/k", 404, NULL, NULL);
    H_SEND(fd, "SET", "k", "after");
    H_EXPECT(fd, "+OK\r\n");
    DIRECT("$5\r\nafter\r\n", "GET", "k");
    h_expect_get(proxy.http_port, "/k", 200, "after", "MISS");
    h_expect_get(proxy.http_port, "/k", 200, "after", "HIT");
    cr_assert_geq(h_metric(&proxy, P "redis_pool_connected"), 1);
    close(fd);
}

/* ---- refusals ---- */

/*
 * The proxy in front of a Redis it must refuse: a command gets "-ERR
 * redis unavailable: TLS handshake with 127.0.0.1:PORT: <cause>...", an
 * HTTP GET 503, the log says "redis unreachable" with that cause, and
 * /readyz is not ready, with the node down.
 */
static void
expect_refused(const char *cause)
{
    char want[512], out[OUT_CAP], line[OUT_CAP], esc[OUT_CAP];
    struct h_resp r = {0};

    snprintf(want, sizeof(want),
             "-ERR redis unavailable: TLS handshake with 127.0.0.1:%d: %s",
             redis.port, cause);
    PROXY_ONCE(out, sizeof(out), "GET", "k");
    cr_assert(strncmp(out, want, strlen(want)) == 0, "got %s, want %s...",
              h_escape(out, strlen(out), esc, sizeof(esc)), want);
    cr_assert_eq(h_http_get(proxy.http_port, "/k", &r), 0);
    cr_assert_eq(r.status, 503, "HTTP GET: %d", r.status);
    h_resp_free(&r);
    snprintf(want, sizeof(want),
             "level=warn msg=\"redis unreachable\" addr=127.0.0.1:%d "
             "cause=\"TLS handshake with 127.0.0.1:%d: %s",
             redis.port, redis.port, cause);
    cr_assert(h_await_log(&proxy, want, WAIT_MS), "no log line %s", want);
    cr_assert_eq(admin_get("/readyz", out, sizeof(out)), 503, "%s", out);
    snprintf(want, sizeof(want), "node 127.0.0.1:%d master", redis.port);
    h_nth_line(out, want, 0, line, sizeof(line));
    cr_assert(strstr(line, " down") != NULL, "/readyz: %s", out);
}

Test(tls_redis, refuses_a_server_certificate_of_an_unknown_ca)
{
    start_redis("stranger", NULL);
    start_proxy(NULL);
    expect_refused("certificate verify failed: unknown CA");
}

Test(tls_redis, refuses_a_server_whose_ca_is_not_tls_ca_file)
{
    start_redis("server", NULL);
    start_proxy_ca("other-ca.crt", NULL);
    expect_refused("certificate verify failed: unknown CA");
}

Test(tls_redis, refuses_an_expired_server_certificate)
{
    start_redis("expired", NULL);
    start_proxy(NULL);
    expect_refused("certificate verify failed: certificate expired");
}

Test(tls_redis, refuses_a_certificate_without_the_address)
{
    start_redis("other-name", NULL);
    start_proxy(NULL);
    expect_refused("certificate verify failed: name mismatch");
}

Test(tls_redis, refuses_a_certificate_without_tls_server_name)
{
    start_redis("server", NULL);
    start_proxy("tls_server_name = wrong.example\n");
    expect_refused("certificate verify failed: name mismatch");
}

Test(tls_redis, tls_server_name_names_the_certificate_to_expect)
{
    char out[OUT_CAP];

    start_redis("other-name", NULL);
    start_proxy("tls_server_name = other.example\n");
    PROXY_ONCE(out, sizeof(out), "DBSIZE");
    cr_assert_str_eq(out, ":0\r\n");
    cr_assert_eq(admin_get("/readyz", out, sizeof(out)), 200, "%s", out);
}

Test(tls_redis, tls_verify_off_takes_any_certificate_with_a_warning)
{
    char out[OUT_CAP];

    start_redis("stranger", NULL);
    start_proxy("tls_verify = off\n");
    cr_assert(h_await_log(&proxy,
                          "level=warn msg=\"[redis] tls_verify = off: the "
                          "certificate of Redis is not checked",
                          0),
              "no warning");
    PROXY_ONCE(out, sizeof(out), "DBSIZE");
    cr_assert_str_eq(out, ":0\r\n");
    cr_assert_eq(admin_get("/readyz", out, sizeof(out)), 200, "%s", out);
}

/* ---- mutual TLS ---- */

/* Redis asking every client for a certificate, which a client without
 * one learns at its first read (TLS 1.3). */
static void
start_redis_mutual(void)
{
    char out[OUT_CAP], err[256];
    struct h_tls t;

    start_redis("server",
                (const char *const[]){"--tls-auth-clients", "yes", NULL});
    cr_assert_eq(
        h_tls_connect(&t, redis.port, "ca.crt", NULL, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_lt(H_TLS_CMD(&t, out, sizeof(out), "PING"), 0,
                 "Redis answered a client without a certificate: %s", out);
    h_tls_close(&t);
}

Test(tls_redis, mutual_tls_with_the_client_certificate)
{
    char extra[512], out[OUT_CAP];

    start_redis_mutual();
    snprintf(extra, sizeof(extra), "tls_cert_file = %s\ntls_key_file = %s\n",
             h_tls_path("client.crt"), h_tls_path("client.key"));
    start_proxy(extra);
    DIRECT("+OK\r\n", "SET", "k", "mutual");
    h_expect_get(proxy.http_port, "/k", 200, "mutual", "MISS");
    h_expect_get(proxy.http_port, "/k", 200, "mutual", "HIT");
    cr_assert_eq(admin_get("/readyz", out, sizeof(out)), 200, "%s", out);
}

/*
 * Without a certificate: with TLS 1.3 Redis refuses it after the proxy's
 * side of the handshake is done, so the refusal comes at the first read
 * (its alert, or the reset that follows it when the proxy's first bytes
 * were already on their way). Either way the connection fails to open:
 * the node is down and the cause names the TLS handshake.
 */
Test(tls_redis, mutual_tls_without_a_client_certificate_is_refused)
{
    char want[256], out[OUT_CAP], line[OUT_CAP];
    int alert, reset;

    start_redis_mutual();
    start_proxy(NULL);
    PROXY_ONCE(out, sizeof(out), "GET", "k");
    snprintf(want, sizeof(want),
             "-ERR redis unavailable: TLS handshake with 127.0.0.1:%d: ",
             redis.port);
    cr_assert(strncmp(out, want, strlen(want)) == 0, "%s", out);
    alert = strstr(out, "the peer refused the certificate exchange "
                        "(tlsv13 alert certificate required)") != NULL;
    reset = strstr(out, "Connection reset by peer") != NULL;
    cr_assert(alert || reset, "%s", out);
    snprintf(want, sizeof(want),
             "level=warn msg=\"redis unreachable\" addr=127.0.0.1:%d "
             "cause=\"TLS handshake with 127.0.0.1:%d: ",
             redis.port, redis.port);
    cr_assert(h_await_log(&proxy, want, WAIT_MS), "no log line %s", want);
    cr_assert_eq(admin_get("/readyz", out, sizeof(out)), 503, "%s", out);
    snprintf(want, sizeof(want), "node 127.0.0.1:%d master", redis.port);
    h_nth_line(out, want, 0, line, sizeof(line));
    cr_assert(strstr(line, " down") != NULL, "/readyz: %s", out);
    cr_assert_eq(h_metric(&proxy, P "redis_pool_connected"), 0);
}

/* ---- an ACL user ---- */

/* A Redis whose default user is off and whose user app has the password
 * apppw. */
static void
start_redis_with_app_user(void)
{
    start_redis("server", (const char *const[]){"--user", "default", "off",
                                                "--user", "app", "on", ">apppw",
                                                "~*", "&*", "+@all", NULL});
}

/* argv on Redis over TLS as the user app; its reply into out. */
static void
as_app(char *out, size_t cap, const char *const *argv)
{
    struct h_tls t;
    char err[256];

    cr_assert_eq(
        h_tls_connect(&t, redis.port, "ca.crt", NULL, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_gt(H_TLS_CMD(&t, out, cap, "AUTH", "app", "apppw"), 0);
    cr_assert_str_eq(out, "+OK\r\n");
    cr_assert_gt(h_tls_cmd(&t, out, cap, argv), 0);
    h_tls_close(&t);
}

Test(tls_redis, logs_in_as_the_acl_user_on_every_connection)
{
    char out[OUT_CAP], *line, *save = NULL;
    int fd, clients = 0, stream = 0;

    start_redis_with_app_user();
    /* Nothing without a user: the default user is off. */
    DIRECT("-NOAUTH Authentication required.\r\n", "GET", "k");
    start_proxy("user = app\npassword = apppw\n");
    cr_assert_eq(h_metric(&proxy, P "tracking_state"), 2, "stream not up");
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "ACL", "WHOAMI");
    H_EXPECT(fd, "$3\r\napp\r\n");
    H_SEND(fd, "SET", "k", "as app");
    H_EXPECT(fd, "+OK\r\n");
    H_SEND(fd, "MULTI"); /* a session's connection too */
    H_EXPECT(fd, "+OK\r\n");
    H_SEND(fd, "ACL", "WHOAMI");
    H_EXPECT(fd, "+QUEUED\r\n");
    H_SEND(fd, "EXEC");
    H_EXPECT(fd, "*1\r\n$3\r\napp\r\n");
    close(fd);
    h_expect_get(proxy.http_port, "/k", 200, "as app", "MISS");
    h_expect_get(proxy.http_port, "/k", 200, "as app", "HIT");
    /* Every connection Redis has but this one is the proxy's, as app: the
     * invalidation stream (subscribed), and pooled and spare ones. One
     * being opened right now has sent nothing yet (cmd=NULL). */
    as_app(out, sizeof(out), (const char *const[]){"CLIENT", "LIST", NULL});
    for (line = strtok_r(strchr(out, '\n') + 1, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "id=", 3) != 0 ||
            strstr(line, " cmd=client|list ") != NULL ||
            strstr(line, " cmd=NULL ") != NULL) {
            continue; /* RESP's CRLF, this connection, one just opened */
        }
        cr_assert(strstr(line, " user=app ") != NULL, "not as app: %s", line);
        stream += strstr(line, " sub=1 ") != NULL;
        clients++;
    }
    cr_assert_eq(stream, 1, "no invalidation stream as app: %s", out);
    cr_assert_geq(clients, 2, "no pooled connection as app: %s", out);
}

Test(tls_redis, a_wrong_password_is_logged_with_redis_error)
{
    char out[OUT_CAP];
    const char *want = "AUTH failed: WRONGPASS invalid username-password "
                       "pair or user is disabled.";

    start_redis_with_app_user();
    start_proxy("user = app\npassword = wrong\n");
    PROXY_ONCE(out, sizeof(out), "GET", "k");
    cr_assert(strstr(out, "-ERR redis unavailable: AUTH failed: WRONGPASS") ==
                  out,
              "%s", out);
    cr_assert(h_await_log(&proxy, "msg=\"redis unreachable\"", WAIT_MS));
    cr_assert(h_await_log(&proxy, want, 0), "no '%s' in the log", want);
    cr_assert_eq(admin_get("/readyz", out, sizeof(out)), 503, "%s", out);
}

/* ---- a cluster ---- */

#define MASTERS 3
#define PER_NODE 2 /* keys set on each master */

static struct h_cluster cluster;

static void
cluster_setup(void)
{
    memset(&proxy, 0, sizeof(proxy));
    cr_assert_eq(h_tls_cluster_start(&cluster, MASTERS), 0,
                 "the TLS cluster did not start");
}

static void
cluster_teardown(void)
{
    h_proxy_stop(&proxy, NULL, 0);
    h_cluster_stop(&cluster);
}

TestSuite(tls_redis_cluster, .init = cluster_setup, .fini = cluster_teardown,
          .timeout = 40);

/* The master owning key: node i owns the i-th of MASTERS equal slot
 * ranges (h_tls_cluster_start), the slot asked of node 0. */
static int
owner_of(const char *key)
{
    char out[64];
    long slot;
    int i;

    cr_assert_gt(H_TLS_RUN(cluster.node[0].port, out, sizeof(out), "CLUSTER",
                           "KEYSLOT", key),
                 0, "%s", out);
    slot = atol(out + 1);
    for (i = MASTERS - 1; slot < (long)i * H_CLUSTER_SLOTS / MASTERS; i--) {
    }
    return i;
}

Test(tls_redis_cluster, keys_spread_over_three_masters_set_and_read_back)
{
    char keys[MASTERS * PER_NODE][16], out[OUT_CAP], want[OUT_CAP], ini[512];
    int owner[MASTERS * PER_NODE], count[MASTERS] = {0}, n = 0, fd, i;
    size_t wl;

    /* PER_NODE keys on each master, by their slots. */
    for (i = 0; n < MASTERS * PER_NODE && i < 1000; i++) {
        char key[16];
        int m;

        snprintf(key, sizeof(key), "key%d", i);
        m = owner_of(key);
        if (count[m] < PER_NODE) {
            count[m]++;
            owner[n] = m;
            snprintf(keys[n++], sizeof(keys[0]), "%s", key);
        }
    }
    cr_assert_eq(n, MASTERS * PER_NODE);
    snprintf(ini, sizeof(ini), "[redis]\ntls = on\ntls_ca_file = %s\n",
             h_tls_path("ca.crt"));
    cr_assert_eq(h_cluster_proxy_start(&proxy, &cluster, cluster.node[0].port,
                                       NULL, H_OPTS(.ini = ini, .admin = 1)),
                 0, "the proxy did not start");
    fd = h_conn(proxy.resp_port);
    for (i = 0; i < n; i++) {
        H_SEND(fd, "SET", keys[i], keys[i]);
        H_EXPECT(fd, "+OK\r\n");
    }
    /* Each key is on its master, straight over TLS. */
    for (i = 0; i < n; i++) {
        snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(keys[i]),
                 keys[i]);
        cr_assert_gt(H_TLS_RUN(cluster.node[owner[i]].port, out, sizeof(out),
                               "GET", keys[i]),
                     0, "%s", out);
        cr_assert_str_eq(out, want, "%s on node %d", keys[i], owner[i]);
    }
    for (i = 0; i < MASTERS; i++) {
        H_TLS_RUN(cluster.node[i].port, out, sizeof(out), "DBSIZE");
        cr_assert_str_eq(out, ":2\r\n", "node %d", i);
    }
    /* Read back one by one, then in one MGET across the slots. */
    for (i = 0; i < n; i++) {
        H_SEND(fd, "GET", keys[i]);
        snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(keys[i]),
                 keys[i]);
        H_EXPECT(fd, want);
    }
    wl = (size_t)snprintf(want, sizeof(want), "*%d\r\n", n);
    for (i = 0; i < n; i++) {
        wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "$%zu\r\n%s\r\n",
                               strlen(keys[i]), keys[i]);
    }
    H_SEND(fd, "MGET", keys[0], keys[1], keys[2], keys[3], keys[4], keys[5]);
    H_EXPECT(fd, want);
    close(fd);
    cr_assert_eq(admin_get("/readyz", out, sizeof(out)), 200, "%s", out);
}

Test(tls_redis_cluster, each_master_invalidates_over_its_own_stream)
{
    char key[16], ini[512], path[32], out[OUT_CAP];
    double inv;

    snprintf(ini, sizeof(ini), "[redis]\ntls = on\ntls_ca_file = %s\n",
             h_tls_path("ca.crt"));
    cr_assert_eq(h_cluster_proxy_start(&proxy, &cluster, cluster.node[0].port,
                                       NULL, H_OPTS(.ini = ini, .admin = 1)),
                 0, "the proxy did not start");
    for (int m = 0; m < MASTERS; m++) {
        for (int i = 0;; i++) {
            snprintf(key, sizeof(key), "inv%d", i);
            if (owner_of(key) == m) {
                break;
            }
        }
        snprintf(path, sizeof(path), "/%s", key);
        H_TLS_RUN(cluster.node[m].port, out, sizeof(out), "SET", key, "old");
        cr_assert_str_eq(out, "+OK\r\n");
        h_expect_get(proxy.http_port, path, 200, "old", "MISS");
        h_expect_get(proxy.http_port, path, 200, "old", "HIT");
        inv = h_metric(&proxy, P "cache_invalidations_total");
        H_TLS_RUN(cluster.node[m].port, out, sizeof(out), "SET", key, "new");
        cr_assert_eq(h_await_metric(&proxy, P "cache_invalidations_total",
                                    inv + 1, WAIT_MS),
                     inv + 1, "no invalidation from node %d", m);
        h_expect_get(proxy.http_port, path, 200, "new", "MISS");
    }
}
