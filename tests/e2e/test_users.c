/*
 * End-to-end tests of client users ([users]) against a real redis-server:
 * the user matrix. A read user reads, hits the cache, and is refused
 * every write with Redis's -NOPERM (a transaction with one aborts at EXEC,
 * a script that may write is refused, a read-only one runs) and HTTP 403
 * for PUT and DELETE, on the data port and the admin port's /key/; a
 * write user writes; wrong passwords and unknown users get WRONGPASS,
 * the third on one connection closes it, each counted by listener and
 * user (configured names as themselves, others as "unknown") and logged
 * without the password; HELLO 3 AUTH; Basic auth on HTTP and on the admin
 * port (its probes still open); [server] password beside the users; and a
 * SIGHUP that changes a user's password.
 *
 * What reached Redis (INFO commandstats) shows that a refused command
 * was never forwarded and that a read user's second GET was a hit.
 */
#include "harness.h"
#include "reload_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define P "redis_proxy_"
#define RPW_HASH                                                               \
    "sha256:6dde532e82159e351f3b9b685073aa8531b0f11d64a13d6c7947e66e0fb0ef5c"
#define WPW_HASH                                                               \
    "sha256:eaa2897900a40c0860930f19e38e30f66b06ebb38e86e29083d84c3be8a5cd31"
#define RPW2_HASH                                                              \
    "sha256:cee7de0eb07c3203bc0590f3415d148172f4880414258e1bbb2a8d622634e377"
#define B64_READER "cmVhZGVyOnJwdw=="     /* reader:rpw */
#define B64_WRITER "d3JpdGVyOndwdw=="     /* writer:wpw */
#define B64_NOBODY "bm9ib2R5OnJwdw=="     /* nobody:rpw */
#define B64_READER_BAD "cmVhZGVyOmJhZA==" /* reader:bad */

#define USERS                                                                  \
    "[users]\nreader = read " RPW_HASH "\nwriter = write " WPW_HASH "\n"
#define USERS_INI                                                              \
    "[http]\nwrites = on\n[log]\nlevel = debug\naccess = on\n" USERS

#define OK "+OK\r\n"
#define NOAUTH "-NOAUTH Authentication required.\r\n"
#define WRONGPASS                                                              \
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
#define NOPERM(cmd)                                                            \
    "-NOPERM this user has no permissions to run the '" cmd "' command\r\n"
#define EXECABORT                                                              \
    "-EXECABORT Transaction discarded because of previous errors.\r\n"

H_PAIR_SUITE(users, 40);

/* ---- helpers ---- */

/* A RESP connection authenticated as user (its AUTH answered +OK). */
static int
as_user(const char *user, const char *pw)
{
    int fd = h_conn(proxy.resp_port);

    H_SEND(fd, "AUTH", user, pw);
    H_EXPECT(fd, OK);
    return fd;
}

/* method path on port with Authorization: Basic b64 (NULL: none) and
 * body (NULL: none), on a fresh connection. */
static void
http(int port, const char *method, const char *path, const char *b64,
     const char *body, struct h_resp *r)
{
    char hdr[128] = "";
    int fd = h_conn(port);

    if (b64 != NULL) {
        snprintf(hdr, sizeof(hdr), "Authorization: Basic %s\r\n", b64);
    }
    cr_assert_eq(h_http_do(fd, method, path, hdr, body,
                           body != NULL ? strlen(body) : 0, r, 3000),
                 0, "%s %s", method, path);
    close(fd);
}

/* One series of /metrics, scraped as the write user. */
static double
metric(const char *series)
{
    struct h_resp r = {0};
    char err[256];
    double v;

    http(proxy.admin_port, "GET", "/metrics", B64_WRITER, NULL, &r);
    cr_assert_eq(r.status, 200, "/metrics as writer: %d", r.status);
    cr_assert_eq(h_prom_validate(r.body, err, sizeof(err)), 0, "%s", err);
    v = h_prom_value(r.body, series);
    h_resp_free(&r);
    return v;
}

static void
start_users(const char *more)
{
    char ini[2048];

    snprintf(ini, sizeof(ini), "%s%s", USERS_INI, more != NULL ? more : "");
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = ini, .admin = 1));
    h_set(&redis, "k", "v");
}

/* ---- RESP ---- */

Test(users, read_user_reads_from_the_cache_and_is_refused_every_write)
{
    int fd, before;

    start_users(NULL);
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, NOAUTH);
    H_SEND(fd, "AUTH", "reader", "rpw");
    H_EXPECT(fd, OK);
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, "$1\r\nv\r\n");
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, "$1\r\nv\r\n");
    cr_assert_eq(h_redis_calls(&redis, "get"), 1, "the second GET was a hit");
    before = (int)h_redis_calls(&redis, "set");
    H_SEND(fd, "SET", "k", "x");
    H_EXPECT(fd, NOPERM("set"));
    H_SEND(fd, "DEL", "k");
    H_EXPECT(fd, NOPERM("del"));
    H_SEND(fd, "FLUSHALL");
    H_EXPECT(fd, NOPERM("flushall"));
    H_SEND(fd, "EVAL", "return redis.call('set', KEYS[1], 'e')", "1", "k");
    H_EXPECT(fd, NOPERM("eval"));
    H_SEND(fd, "CONFIG", "GET", "maxmemory");
    H_EXPECT(fd, NOPERM("config|get"));
    H_SEND(fd, "EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k");
    H_EXPECT(fd, "$1\r\nv\r\n");
    H_SEND(fd, "STRLEN", "k");
    H_EXPECT(fd, ":1\r\n");
    H_SEND(fd, "PUBLISH", "news", "hi");
    H_EXPECT(fd, ":0\r\n");
    /* A write queued in a transaction aborts it at EXEC, as in Redis. */
    H_SEND(fd, "MULTI");
    H_EXPECT(fd, OK);
    H_SEND(fd, "SET", "k", "x");
    H_EXPECT(fd, NOPERM("set"));
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, "+QUEUED\r\n");
    H_SEND(fd, "EXEC");
    H_EXPECT(fd, EXECABORT);
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, "$1\r\nv\r\n");
    cr_assert_eq(h_redis_calls(&redis, "set"), before, "a write was sent");
    cr_assert_eq(h_redis_calls(&redis, "del"), 0);
    cr_assert_eq(h_redis_calls(&redis, "flushall"), 0);
    cr_assert_eq(h_redis_calls(&redis, "eval"), 0);
    cr_assert_eq(h_redis_calls(&redis, "exec"), 1, "EXEC went, and aborted");
    close(fd);
}

Test(users, write_user_writes)
{
    redisContext *ctx;
    char got[64];
    int fd, rc;

    start_users(NULL);
    fd = as_user("writer", "wpw");
    H_SEND(fd, "SET", "k", "w1");
    H_EXPECT(fd, OK);
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, "$2\r\nw1\r\n");
    H_SEND(fd, "EVAL", "return redis.call('set', KEYS[1], 'e')", "1", "k2");
    H_EXPECT(fd, OK);
    H_SEND(fd, "MULTI");
    H_EXPECT(fd, OK);
    H_SEND(fd, "INCR", "n");
    H_EXPECT(fd, "+QUEUED\r\n");
    H_SEND(fd, "EXEC");
    H_EXPECT(fd, "*1\r\n:1\r\n");
    close(fd);
    ctx = h_redis_ctx(&redis);
    cr_assert_not_null(ctx);
    rc = h_resp_get(ctx, "k2", got, sizeof(got));
    redisFree(ctx);
    cr_assert_eq(rc, 1);
    cr_assert_str_eq(got, "e");
}

Test(users, wrong_passwords_and_unknown_users_are_refused_and_counted)
{
    char log[1 << 16];
    int fd;

    start_users(NULL);
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "AUTH", "reader", "wpw"); /* another user's password */
    H_EXPECT(fd, WRONGPASS);
    H_SEND(fd, "AUTH", "nobody", "rpw");
    H_EXPECT(fd, WRONGPASS);
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, NOAUTH);
    H_SEND(fd, "AUTH", "writer", "Secret-Guess-1");
    H_EXPECT(fd, WRONGPASS);
    cr_assert_eq(h_wait_closed(fd, 3000), 1, "the third wrong password");
    close(fd);
    cr_assert_eq(metric(P "auth_failures_total{listener=\"resp\","
                          "user=\"reader\"}"),
                 1);
    cr_assert_eq(metric(P "auth_failures_total{listener=\"resp\","
                          "user=\"writer\"}"),
                 1);
    cr_assert_eq(metric(P "auth_failures_total{listener=\"resp\","
                          "user=\"unknown\"}"),
                 1);
    cr_assert_eq(metric(P "auth_failures_total{listener=\"resp\"}"), 1,
                 "the NOAUTH GET named no user");
    cr_assert(isnan(metric(P "auth_failures_total{listener=\"resp\","
                             "user=\"nobody\"}")),
              "an unknown name is no label");
    cr_assert_eq(metric(P "connections_closed_total{reason=\"auth_failures\"}"),
                 1);
    cr_assert_eq(h_redis_calls(&redis, "get"), 0);
    h_proxy_read_log(&proxy, log, sizeof(log));
    cr_assert_gt(h_count_lines(log, "msg=\"authentication failed\""), 0);
    cr_assert_null(strstr(log, "Secret-Guess-1"), "a password in the log");
    cr_assert_null(strstr(log, RPW_HASH + 7), "a hash in the log");
}

Test(users, hello_3_auth_gives_resp3_and_the_users_permission)
{
    char got[4096];
    int fd;
    long n;

    start_users(NULL);
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "HELLO", "3", "AUTH", "reader", "bad");
    H_EXPECT(fd, WRONGPASS);
    H_SEND(fd, "HELLO", "3", "AUTH", "reader", "rpw");
    n = h_read_replies(fd, 1, got, sizeof(got) - 1, 3000);
    cr_assert_gt(n, 0);
    got[n] = '\0';
    cr_assert_eq(got[0], '%', "a RESP3 map: %.40s", got);
    cr_assert_not_null(strstr(got, "$5\r\nproto\r\n:3\r\n"));
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, "$1\r\nv\r\n");
    H_SEND(fd, "SET", "k", "x");
    H_EXPECT(fd, NOPERM("set"));
    H_SEND(fd, "CLIENT", "INFO");
    n = h_read_replies(fd, 1, got, sizeof(got) - 1, 3000);
    cr_assert_gt(n, 0);
    got[n] = '\0';
    cr_assert_not_null(strstr(got, " user=reader "), "%s", got);
    close(fd);
}

Test(users, server_password_beside_users)
{
    int fd;

    start_users("[server]\npassword = adminpw\n");
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "AUTH", "adminpw");
    H_EXPECT(fd, OK);
    H_SEND(fd, "SET", "k", "s");
    H_EXPECT(fd, OK);
    H_SEND(fd, "AUTH", "someone", "adminpw");
    H_EXPECT(fd, OK);
    H_SEND(fd, "AUTH", "reader", "adminpw"); /* a user's own password only */
    H_EXPECT(fd, WRONGPASS);
    H_SEND(fd, "AUTH", "reader", "rpw");
    H_EXPECT(fd, OK);
    H_SEND(fd, "SET", "k", "r");
    H_EXPECT(fd, NOPERM("set"));
    close(fd);
}

/* ---- HTTP ---- */

Test(users, http_and_admin_take_basic_users_and_refuse_a_read_users_writes)
{
    struct h_resp r = {0};
    long sets;

    start_users(NULL);
    http(proxy.http_port, "GET", "/k", NULL, NULL, &r);
    cr_assert_eq(r.status, 401);
    cr_assert_str_eq(h_hdr(&r, "WWW-Authenticate"),
                     "Basic realm=\"redis-proxy\"");
    h_resp_free(&r);
    http(proxy.http_port, "GET", "/k", B64_NOBODY, NULL, &r);
    h_check(&r, "GET nobody", 401, NULL, NULL);
    h_resp_free(&r);
    http(proxy.http_port, "GET", "/k", B64_READER, NULL, &r);
    h_check(&r, "GET reader", 200, "v", "MISS");
    h_resp_free(&r);
    http(proxy.http_port, "GET", "/k", B64_READER, NULL, &r);
    h_check(&r, "GET reader again", 200, "v", "HIT");
    h_resp_free(&r);
    sets = h_redis_calls(&redis, "set");
    http(proxy.http_port, "PUT", "/k", B64_READER, "x", &r);
    h_check(&r, "PUT reader", 403, "this user has no permissions to write\n",
            NULL);
    h_resp_free(&r);
    http(proxy.http_port, "DELETE", "/k", B64_READER, NULL, &r);
    h_check(&r, "DELETE reader", 403, NULL, NULL);
    h_resp_free(&r);
    http(proxy.admin_port, "PUT", "/key/k", B64_READER, "x", &r);
    h_check(&r, "admin PUT reader", 403, NULL, NULL);
    h_resp_free(&r);
    cr_assert_eq(h_redis_calls(&redis, "set"), sets, "a refused PUT was sent");
    cr_assert_eq(h_redis_calls(&redis, "del"), 0);
    http(proxy.http_port, "PUT", "/k", B64_WRITER, "w", &r);
    h_check(&r, "PUT writer", 204, NULL, NULL);
    h_resp_free(&r);
    http(proxy.http_port, "GET", "/k", B64_READER, NULL, &r);
    h_check(&r, "GET after the writer's PUT", 200, "w", "MISS");
    h_resp_free(&r);
    /* The admin port: Basic users too; its probes stay open. */
    http(proxy.admin_port, "GET", "/metrics", B64_READER, NULL, &r);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    http(proxy.admin_port, "GET", "/metrics", B64_READER_BAD, NULL, &r);
    cr_assert_eq(r.status, 401);
    h_resp_free(&r);
    http(proxy.admin_port, "GET", "/healthz", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    cr_assert_eq(metric(P "auth_failures_total{listener=\"http\","
                          "user=\"unknown\"}"),
                 1);
    cr_assert_eq(metric(P "auth_failures_total{listener=\"admin\","
                          "user=\"reader\"}"),
                 1);
    cr_assert_eq(metric(P "auth_failures_total{listener=\"http\"}"), 1,
                 "the request without credentials");
}

/* ---- reload ---- */

Test(users, sighup_changes_a_users_password)
{
    int old_fd, fd;

    rl_passwords("adminpw", NULL); /* rl_sighup scrapes with Bearer */
    start_users("[server]\npassword = adminpw\n");
    old_fd = as_user("reader", "rpw");
    rl_apply(&proxy, &redis,
             "[http]\nwrites = on\n[log]\nlevel = debug\n[server]\n"
             "password = adminpw\n[users]\nreader = read " RPW2_HASH
             "\nwriter = write " WPW_HASH "\n");
    rl_expect_change(&proxy, "users.reader", "read", "read, new password");
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "AUTH", "reader", "rpw");
    H_EXPECT(fd, WRONGPASS);
    H_SEND(fd, "AUTH", "reader", "rpw2");
    H_EXPECT(fd, OK);
    H_SEND(fd, "SET", "k", "x");
    H_EXPECT(fd, NOPERM("set"));
    close(fd);
    /* A connection keeps what it authenticated as (Redis's rule for an
     * ACL user whose password changes). */
    H_SEND(old_fd, "GET", "k");
    H_EXPECT(old_fd, "$1\r\nv\r\n");
    H_SEND(old_fd, "SET", "k", "x");
    H_EXPECT(old_fd, NOPERM("set"));
    close(old_fd);
    rl_passwords(NULL, NULL);
}

/* ---- --hash-password ---- */

/* The binary's --hash-password fed input on stdin; its output in out.
 * Returns the exit status. */
static int
hash_password(const char *input, char *out, size_t cap)
{
    char cmd[1024];
    size_t n;
    FILE *f;
    int st;

    snprintf(cmd, sizeof(cmd), "printf '%s' | %s --hash-password 2>&1", input,
             h_proxy_bin());
    f = popen(cmd, "r");
    cr_assert_not_null(f);
    n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(users, hash_password_prints_what_a_users_entry_takes)
{
    char out[512];
    int fd;

    cr_assert_eq(hash_password("rpw\\n", out, sizeof(out)), 0, "%s", out);
    cr_assert_str_eq(out, RPW_HASH "\n");
    cr_assert_eq(hash_password("rpw", out, sizeof(out)), 0, "no newline");
    cr_assert_str_eq(out, RPW_HASH "\n");
    cr_assert_eq(hash_password("wpw\\r\\n", out, sizeof(out)), 0);
    cr_assert_str_eq(out, WPW_HASH "\n");
    cr_assert_eq(hash_password("", out, sizeof(out)), 2);
    cr_assert_not_null(strstr(out, "no password on standard input"), "%s", out);
    /* What it printed lets that password in. */
    start_users(NULL);
    fd = as_user("reader", "rpw");
    close(fd);
}
