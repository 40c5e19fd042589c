/*
 * End-to-end tests of ACL passthrough: a proxy with no password nor
 * [users] of its own, in front of a redis-server with the ACL users alice
 * (~a:* +@all) and bob (~b:* +@read), its default user the proxy's own.
 * The credentials a client would give Redis work through the proxy, and
 * Redis's ACL decides, for writes and for cache hits alike:
 *   - alice writes and reads a:* (her second GET a hit of her own
 *     partition) and gets Redis's -NOPERM for b:*, byte for byte as
 *     Redis answers her directly;
 *   - a value the proxy's own user cached is never served to alice, who
 *     may not read it (she gets -NOPERM), while clients without AUTH and
 *     HTTP still get it from the cache;
 *   - bob, whom Redis refuses CLIENT TRACKING, reads b:* uncached (each
 *     GET reaches Redis) and gets -NOPERM for a write;
 *   - a value changed in Redis directly reaches alice's next GET
 *     (invalidation of an identity's entries);
 *   - wrong passwords get Redis's WRONGPASS, the third closes;
 *   - sessions (MULTI, SUBSCRIBE) run as the user, answered as Redis
 *     answers the user directly; HELLO 3 AUTH;
 *   - redis-py with a username and password (acl_lib.py);
 * and what each identity costs is in the metrics (identities, checks by
 * result).
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P "redis_proxy_"
#define OK "+OK\r\n"
#define WRONGPASS                                                              \
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
#define KEY_NOPERM                                                             \
    "-NOPERM this user has no permissions to access one of the keys used as "  \
    "arguments\r\n"

H_PAIR_SUITE(acl, 60);

/* ---- helpers ---- */

static void
start_acl(void)
{
    cr_assert_eq(h_redis_cmd(&redis, "ACL SETUSER alice on >alicepw ~a:* "
                                     "+@all"),
                 0);
    cr_assert_eq(h_redis_cmd(&redis, "ACL SETUSER bob on >bobpw ~b:* +@read"),
                 0);
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[log]\nlevel = debug\n", .admin = 1));
}

/* A RESP connection to port logged in as user (AUTH answered +OK). */
static int
as_user(int port, const char *user, const char *pw)
{
    int fd = h_conn(port);

    H_SEND(fd, "AUTH", user, pw);
    H_EXPECT(fd, OK);
    return fd;
}

/* The same request through the proxy as alice and to Redis as alice. */
static void
same_as_redis(int proxy_fd, int redis_fd, const char *what,
              const char *const *argv, int n)
{
    char req[4096];
    size_t len = h_cmd_encode(req, sizeof(req), argv);

    cr_assert_gt(len, 0);
    h_expect_same_on(redis_fd, proxy_fd, req, len, n, what, NULL, 0);
}
#define SAME(pfd, rfd, n, ...)                                                 \
    same_as_redis((pfd), (rfd), #__VA_ARGS__,                                  \
                  (const char *const[]){__VA_ARGS__, NULL}, (n))

/* ---- reads, writes, the cache ---- */

Test(acl, an_acl_user_writes_reads_and_gets_redis_own_refusals)
{
    int fd, rfd;

    start_acl();
    fd = as_user(proxy.resp_port, "alice", "alicepw");
    rfd = as_user(redis.port, "alice", "alicepw");
    H_SEND(fd, "SET", "a:1", "one");
    H_EXPECT(fd, OK);
    H_SEND(fd, "GET", "a:1");
    H_EXPECT(fd, "$3\r\none\r\n");
    H_SEND(fd, "GET", "a:1");
    H_EXPECT(fd, "$3\r\none\r\n");
    cr_assert_eq(h_redis_calls(&redis, "get"), 1,
                 "alice's second GET came from her cache partition");
    cr_assert_eq(h_metric(&proxy, P "cache_hits_total"), 1);
    h_set(&redis, "b:1", "secret");
    SAME(fd, rfd, 1, "GET", "b:1");
    SAME(fd, rfd, 1, "SET", "b:1", "x");
    SAME(fd, rfd, 1, "GET", "b:1");
    SAME(fd, rfd, 1, "ACL", "WHOAMI");
    SAME(fd, rfd, 1, "MGET", "a:1", "b:1");
    cr_assert_eq(h_metric(&proxy, P "redis_identities"), 1);
    cr_assert_eq(h_metric(&proxy, P "redis_identities_in_use"), 1);
    cr_assert_eq(h_metric(&proxy, P "auth_verifications_total{result=\"ok\"}"),
                 1);
    close(fd);
    close(rfd);
    cr_assert_eq(h_await_metric(&proxy, P "redis_identities_in_use", 0, 3000),
                 0, "closed: not in use");
}

Test(acl,
     a_value_cached_for_the_proxy_is_never_served_to_a_user_who_may_not_read_it)
{
    struct h_resp r = {0};
    int plain, fd;

    start_acl();
    h_set(&redis, "b:1", "secret");
    plain = h_conn(proxy.resp_port); /* the proxy's own user */
    H_SEND(plain, "GET", "b:1");
    H_EXPECT(plain, "$6\r\nsecret\r\n");
    H_SEND(plain, "GET", "b:1");
    H_EXPECT(plain, "$6\r\nsecret\r\n");
    cr_assert_eq(h_redis_calls(&redis, "get"), 1, "cached for the proxy");
    fd = as_user(proxy.resp_port, "alice", "alicepw");
    H_SEND(fd, "GET", "b:1");
    H_EXPECT(fd, KEY_NOPERM);
    H_SEND(fd, "GET", "b:1");
    H_EXPECT(fd, KEY_NOPERM);
    /* Still cached for the others. */
    H_SEND(plain, "GET", "b:1");
    H_EXPECT(plain, "$6\r\nsecret\r\n");
    cr_assert_eq(h_http_get(proxy.http_port, "/b:1", &r), 0);
    h_check(&r, "HTTP GET /b:1", 200, "secret", "HIT");
    h_resp_free(&r);
    /* AUTH as the proxy's own user: its identity, its cache. */
    H_SEND(fd, "AUTH", "default", "anything");
    H_EXPECT(fd, OK);
    H_SEND(fd, "GET", "b:1");
    H_EXPECT(fd, "$6\r\nsecret\r\n");
    cr_assert_eq(h_metric(&proxy, P "cache_hits_total"), 4,
                 "the plain GET, HTTP, and the one after AUTH default");
    cr_assert_eq(h_metric(&proxy, P "redis_identities"), 1, "alice's only");
    close(fd);
    close(plain);
}

Test(acl, a_user_redis_refuses_tracking_is_never_cached)
{
    int fd;

    start_acl();
    h_set(&redis, "b:1", "v1");
    fd = as_user(proxy.resp_port, "bob", "bobpw");
    for (int i = 0; i < 3; i++) {
        H_SEND(fd, "GET", "b:1");
        H_EXPECT(fd, "$2\r\nv1\r\n");
    }
    cr_assert_eq(h_redis_calls(&redis, "get"), 3, "every GET reached Redis");
    cr_assert_eq(h_metric(&proxy, P "cache_hits_total"), 0);
    cr_assert_eq(
        h_await_log(&proxy, "redis refused CLIENT TRACKING to this user", 3000),
        1);
    H_SEND(fd, "SET", "b:1", "x");
    H_EXPECT(fd, "-NOPERM this user has no permissions to run the 'set' "
                 "command\r\n");
    h_set(&redis, "b:1", "v2");
    H_SEND(fd, "GET", "b:1");
    H_EXPECT(fd, "$2\r\nv2\r\n");
    close(fd);
}

struct alice_sees {
    int fd;
    const char *want;
};

static int
alice_sees(void *arg)
{
    struct alice_sees *a = arg;
    char got[256];
    long n;

    H_SEND(a->fd, "GET", "a:1");
    n = h_read_replies(a->fd, 1, got, sizeof(got) - 1, 3000);
    cr_assert_gt(n, 0);
    got[n] = '\0';
    return strcmp(got, a->want) == 0;
}

Test(acl, a_change_in_redis_reaches_an_identitys_cached_entry)
{
    struct alice_sees a = {0, "$2\r\nv2\r\n"};

    start_acl();
    h_set(&redis, "a:1", "v1");
    a.fd = as_user(proxy.resp_port, "alice", "alicepw");
    H_SEND(a.fd, "GET", "a:1");
    H_EXPECT(a.fd, "$2\r\nv1\r\n");
    H_SEND(a.fd, "GET", "a:1");
    H_EXPECT(a.fd, "$2\r\nv1\r\n");
    cr_assert_eq(h_metric(&proxy, P "cache_hits_total"), 1, "cached");
    h_set(&redis, "a:1", "v2"); /* another client of Redis */
    cr_assert(h_wait_until(3000, alice_sees, &a), "still the old value");
    cr_assert_geq(h_metric(&proxy, P "cache_invalidations_total"), 1);
    close(a.fd);
}

/* ---- authentication ---- */

Test(acl, wrong_passwords_get_redis_wrongpass_and_the_third_closes)
{
    int fd;

    start_acl();
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "AUTH", "alice", "nope");
    H_EXPECT(fd, WRONGPASS);
    H_SEND(fd, "AUTH", "nobody", "x");
    H_EXPECT(fd, WRONGPASS);
    H_SEND(fd, "AUTH", "x"); /* Redis's answer without a default password */
    H_EXPECT(fd, "-ERR AUTH <password> called without any password "
                 "configured for the default user. Are you sure your "
                 "configuration is correct?\r\n");
    H_SEND(fd, "GET", "k"); /* still the proxy's own user */
    H_EXPECT(fd, "$-1\r\n");
    H_SEND(fd, "HELLO", "2", "AUTH", "bob", "nope");
    H_EXPECT(fd, WRONGPASS);
    cr_assert_eq(h_wait_closed(fd, 3000), 1, "the third wrong password");
    close(fd);
    cr_assert_eq(h_metric(&proxy, P "auth_failures_total{listener=\"resp\"}"),
                 3);
    cr_assert_eq(
        h_metric(&proxy, P "auth_verifications_total{result=\"refused\"}"), 4);
    cr_assert_eq(h_metric(&proxy, P "redis_identities"), 0);
}

Test(acl, hello_3_auth_and_sessions_run_as_the_user)
{
    char got[4096];
    int fd, rfd;
    long n;

    start_acl();
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "HELLO", "3", "AUTH", "alice", "alicepw");
    n = h_read_replies(fd, 1, got, sizeof(got) - 1, 3000);
    cr_assert_gt(n, 0);
    got[n] = '\0';
    cr_assert_not_null(strstr(got, "$5\r\nproto\r\n:3\r\n"), "%s", got);
    rfd = h_conn(redis.port);
    H_SEND(rfd, "HELLO", "3", "AUTH", "alice", "alicepw");
    cr_assert_gt(h_read_replies(rfd, 1, got, sizeof(got) - 1, 3000), 0);
    SAME(fd, rfd, 1, "SET", "a:1", "x");
    SAME(fd, rfd, 1, "MULTI");
    SAME(fd, rfd, 1, "SET", "a:2", "y");
    SAME(fd, rfd, 1, "GET", "b:1");
    SAME(fd, rfd, 1, "EXEC");
    SAME(fd, rfd, 1, "SUBSCRIBE", "news");
    cr_assert_geq(h_metric(&proxy, P "sessions_total"), 1);
    close(fd);
    close(rfd);
}

/* ---- a client library ---- */

Test(acl, redis_py_with_a_username_and_password)
{
    static const char want[] = "ok alice\nok bob\nok wrong_password\nall ok\n";
    char port[16], out[16384];
    int rc;

    h_need_redis_py();
    start_acl();
    h_set(&redis, "b:1", "b");
    snprintf(port, sizeof(port), "%d", proxy.resp_port);
    rc = h_redis_py("acl_lib.py", (const char *const[]){port, NULL}, out,
                    sizeof(out));
    cr_assert_eq(rc, 0, "acl_lib.py exited %d:\n%s", rc, out);
    cr_assert_str_eq(out, want);
    cr_assert_geq(h_metric(&proxy, P "redis_identities"), 2);
    cr_assert_eq(h_redis_calls(&redis, "exec"), 1, "alice's transaction");
}
