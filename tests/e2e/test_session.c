/*
 * End-to-end tests of sessions on resp_port: transactions (MULTI/EXEC,
 * EXECABORT, WATCH aborting with the null array, DISCARD) compared byte
 * for byte with a second redis-server (the twin) run through the same
 * steps; SELECT on a session never reaching the cache of db 0; RESET
 * ending the session so GET is served from the cache again; max_sessions
 * refusing a session without Redis ever seeing its command; and the
 * sessions metrics. Blocking and pub/sub sessions are in
 * test_session_block.c.
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

TestSuite(session, .init = setup, .fini = teardown, .timeout = 60);

/* One command sent, one exact reply read (harness.h). */
#define SEND H_SEND
#define EXPECT H_EXPECT

/* The commands, pipelined, on one connection each to the twin and to the
 * proxy: the n replies must be the same bytes; they are returned in out. */
static void
same(int rfd, int pfd, const char *what, int n, char *out, size_t cap,
     const char *const *const *cmds)
{
    char req[8192];
    size_t len = 0;

    for (int i = 0; cmds[i] != NULL; i++) {
        size_t k = h_cmd_encode(req + len, sizeof(req) - len, cmds[i]);

        cr_assert_gt(k, 0);
        len += k;
    }
    h_expect_same_on(rfd, pfd, req, len, n, what, out, cap);
}

#define C(...) ((const char *const[]){__VA_ARGS__, NULL})
#define SAME(rfd, pfd, what, n, out, ...)                                      \
    same((rfd), (pfd), (what), (n), (out), sizeof(out),                        \
         (const char *const *const[]){__VA_ARGS__, NULL})

/* ---- transactions, against the twin ---- */

Test(session, multi_exec_replies_match_redis_byte_for_byte)
{
    char out[4096];
    int rfd, pfd;

    h_start_proxy(&proxy, &redis, NULL);
    rfd = h_conn(twin.port);
    pfd = h_conn(proxy.resp_port);
    SAME(rfd, pfd, "MULTI ... EXEC", 7, out, C("MULTI"), C("SET", "a", "1"),
         C("INCR", "a"), C("LPUSH", "a", "x"), C("GET", "a"),
         C("EVAL", "return {1,false}", "0"), C("EXEC"));
    cr_assert_str_eq(out,
                     "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"
                     "+QUEUED\r\n"
                     "*5\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key "
                     "holding the wrong kind of value\r\n$1\r\n2\r\n"
                     "*2\r\n:1\r\n$-1\r\n");
    /* an error while queueing aborts the transaction */
    SAME(rfd, pfd, "EXECABORT", 5, out, C("MULTI"), C("SET", "b", "1"),
         C("NOSUCH", "x"), C("EXEC"), C("GET", "b"));
    cr_assert(strstr(out, "-EXECABORT") != NULL && strstr(out, "$-1\r\n"), "%s",
              out);
    SAME(rfd, pfd, "nested MULTI", 3, out, C("MULTI"), C("MULTI"), C("EXEC"));
    SAME(rfd, pfd, "EXEC without MULTI", 1, out, C("EXEC"));
    /* Redis saw exactly what the twin saw: each command once */
    for (int i = 0; i < 3; i++) {
        const char *cmd = (const char *[]){"multi", "exec", "set"}[i];

        cr_assert_eq(h_redis_calls(&redis, cmd), h_redis_calls(&twin, cmd),
                     "%s: %ld calls, the twin %ld", cmd,
                     h_redis_calls(&redis, cmd), h_redis_calls(&twin, cmd));
    }
    cr_assert_gt(h_redis_calls(&twin, "multi"), 2);
    close(rfd);
    close(pfd);
}

/* WATCH w, then MULTI and SET w on conn a; another client changes w; EXEC
 * on a. Returns a's replies (out). other writes through other_port. */
static void
watch_script(int port, int other_port, char *out, size_t cap)
{
    int a = h_conn(port), b = h_conn(other_port);
    char req[1024];
    size_t len = 0;
    long n;

    SEND(a, "WATCH", "w");
    SEND(a, "MULTI");
    SEND(a, "SET", "w", "mine");
    n = h_read_replies(a, 3, out, cap, REPLY_MS);
    cr_assert_gt(n, 0, "port %d: no replies to WATCH, MULTI, SET", port);
    SEND(b, "SET", "w", "other");
    EXPECT(b, "+OK\r\n");
    len = h_cmd_encode(req, sizeof(req), C("EXEC"));
    cr_assert_eq(h_send(a, req, len), 0);
    cr_assert_gt(h_read_replies(a, 1, out + n, cap - (size_t)n, REPLY_MS), 0,
                 "port %d: no reply to EXEC", port);
    SEND(b, "GET", "w");
    EXPECT(b, "$5\r\nother\r\n");
    close(a);
    close(b);
}

Test(session, watch_aborts_exec_with_the_null_array_as_redis_does)
{
    char want[1024] = {0}, got[1024] = {0};

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "w", "before");
    h_set(&twin, "w", "before");
    watch_script(twin.port, twin.port, want, sizeof(want));
    /* the other client goes through the proxy too, on the pool */
    watch_script(proxy.resp_port, proxy.resp_port, got, sizeof(got));
    cr_assert_str_eq(want, "+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n");
    cr_assert_str_eq(got, want);
    cr_assert_eq(h_redis_calls(&redis, "exec"), 1);
}

Test(session, watch_without_a_change_commits)
{
    char out[1024];
    int rfd, pfd;

    h_start_proxy(&proxy, &redis, NULL);
    rfd = h_conn(twin.port);
    pfd = h_conn(proxy.resp_port);
    SAME(rfd, pfd, "WATCH, MULTI, EXEC", 5, out, C("WATCH", "w2"), C("MULTI"),
         C("SET", "w2", "x"), C("EXEC"), C("GET", "w2"));
    cr_assert_str_eq(out, "+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n$1\r\nx\r\n");
    close(rfd);
    close(pfd);
}

Test(session, discard_drops_what_was_queued)
{
    char out[1024];
    int rfd, pfd;

    h_start_proxy(&proxy, &redis, NULL);
    rfd = h_conn(twin.port);
    pfd = h_conn(proxy.resp_port);
    SAME(rfd, pfd, "MULTI, DISCARD", 5, out, C("MULTI"), C("SET", "d", "1"),
         C("DISCARD"), C("GET", "d"), C("EXEC"));
    cr_assert_str_eq(out, "+OK\r\n+QUEUED\r\n+OK\r\n$-1\r\n"
                          "-ERR EXEC without MULTI\r\n");
    SAME(rfd, pfd, "DISCARD without MULTI", 1, out, C("DISCARD"));
    cr_assert_eq(h_redis_calls(&redis, "set"), 0);
    close(rfd);
    close(pfd);
}

/* ---- SELECT ---- */

Test(session, select_keeps_another_db_out_of_the_cache)
{
    struct h_resp r = {0};
    int s, p, h;

    h_start_proxy(&proxy, &redis, NULL);
    h_set(&redis, "k", "db0value");
    p = h_conn(proxy.resp_port);
    h = h_conn(proxy.http_port);
    SEND(p, "GET", "k"); /* cached from db 0 */
    EXPECT(p, "$8\r\ndb0value\r\n");

    s = h_conn(proxy.resp_port);
    SEND(s, "SELECT", "2");
    EXPECT(s, "+OK\r\n");
    SEND(s, "SET", "k", "db2value");
    EXPECT(s, "+OK\r\n");
    SEND(s, "GET", "k");
    EXPECT(s, "$8\r\ndb2value\r\n");
    SEND(s, "SET", "only2", "two");
    EXPECT(s, "+OK\r\n");
    SEND(s, "GET", "only2");
    EXPECT(s, "$3\r\ntwo\r\n");

    /* db 0, through the cache and over HTTP: never db 2's values, and
     * what the cache holds (a hit) is db 0's */
    SEND(p, "GET", "k");
    EXPECT(p, "$8\r\ndb0value\r\n");
    SEND(p, "GET", "only2");
    EXPECT(p, "$-1\r\n");
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(h_http_get_on(h, "/k", &r, REPLY_MS), 0);
        h_check(&r, "/k", 200, "db0value", i == 0 ? NULL : "HIT");
        h_resp_free(&r);
        cr_assert_eq(h_http_get_on(h, "/only2", &r, REPLY_MS), 0);
        h_check(&r, "/only2", 404, NULL, NULL);
        h_resp_free(&r);
    }
    SEND(p, "GET", "k");
    EXPECT(p, "$8\r\ndb0value\r\n");
    /* and Redis holds both */
    SEND(s, "GET", "k");
    EXPECT(s, "$8\r\ndb2value\r\n");
    close(s);
    close(p);
    close(h);
}

/* ---- RESET ---- */

Test(session, reset_ends_the_session_and_get_is_served_from_the_cache_again)
{
    int c;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    h_set(&redis, "r", "v");
    c = h_conn(proxy.resp_port);
    SEND(c, "GET", "r");
    EXPECT(c, "$1\r\nv\r\n");
    SEND(c, "GET", "r");
    EXPECT(c, "$1\r\nv\r\n");
    cr_assert_eq(h_metric(&proxy, P "cache_hits_total"), 1);
    cr_assert_eq(h_redis_calls(&redis, "get"), 1);

    SEND(c, "WATCH", "x"); /* a session now */
    EXPECT(c, "+OK\r\n");
    cr_assert_eq(h_metric(&proxy, P "sessions_open"), 1);
    SEND(c, "GET", "r"); /* to Redis, on the session */
    EXPECT(c, "$1\r\nv\r\n");
    cr_assert_eq(h_redis_calls(&redis, "get"), 2);
    cr_assert_eq(h_metric(&proxy, P "cache_hits_total"), 1);

    SEND(c, "RESET");
    EXPECT(c, "+RESET\r\n");
    cr_assert_eq(h_redis_calls(&redis, "reset"), 1, "RESET reached Redis");
    cr_assert_eq(h_await_metric(&proxy, P "sessions_open", 0, 2000), 0);
    SEND(c, "GET", "r"); /* the cache again */
    EXPECT(c, "$1\r\nv\r\n");
    cr_assert_eq(h_await_metric(&proxy, P "cache_hits_total", 2, 2000), 2);
    cr_assert_eq(h_redis_calls(&redis, "get"), 2);

    SEND(c, "RESET"); /* outside a session: the proxy's own answer */
    EXPECT(c, "+RESET\r\n");
    cr_assert_eq(h_redis_calls(&redis, "reset"), 1);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 1);
    close(c);
}

Test(session, reset_inside_multi_discards_the_transaction)
{
    char out[1024];
    int rfd, pfd;

    h_start_proxy(&proxy, &redis, NULL);
    rfd = h_conn(twin.port);
    pfd = h_conn(proxy.resp_port);
    SAME(rfd, pfd, "MULTI, RESET", 5, out, C("MULTI"), C("SET", "t", "1"),
         C("RESET"), C("EXEC"), C("GET", "t"));
    cr_assert_str_eq(out, "+OK\r\n+QUEUED\r\n+RESET\r\n"
                          "-ERR EXEC without MULTI\r\n$-1\r\n");
    close(rfd);
    close(pfd);
}

/* ---- max_sessions and the metrics ---- */

Test(session, max_sessions_refuses_a_session_without_sending_it_to_redis)
{
    int c1, c2, c3;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nmax_sessions = 2\n", .admin = 1));
    cr_assert_eq(h_metric(&proxy, P "sessions_open"), 0);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    c1 = h_conn(proxy.resp_port);
    c2 = h_conn(proxy.resp_port);
    c3 = h_conn(proxy.resp_port);
    SEND(c1, "MULTI");
    EXPECT(c1, "+OK\r\n");
    SEND(c2, "MULTI");
    EXPECT(c2, "+OK\r\n");
    SEND(c3, "MULTI");
    EXPECT(c3, "-ERR max number of sessions reached\r\n");
    cr_assert_eq(h_redis_calls(&redis, "multi"), 2);
    cr_assert_eq(h_metric(&proxy, P "sessions_open"), 2);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 2);

    /* the refused client keeps its connection, outside a session */
    SEND(c3, "SET", "q", "1");
    EXPECT(c3, "+OK\r\n");
    SEND(c3, "EXEC");
    EXPECT(c3, "-ERR EXEC without MULTI\r\n");

    close(c1); /* frees a session */
    cr_assert_eq(h_await_metric(&proxy, P "sessions_open", 1, 3000), 1);
    SEND(c3, "MULTI");
    EXPECT(c3, "+OK\r\n");
    SEND(c3, "EXEC");
    EXPECT(c3, "*0\r\n");
    cr_assert_eq(h_redis_calls(&redis, "multi"), 3);
    cr_assert_eq(h_metric(&proxy, P "sessions_open"), 2);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 3);
    close(c2);
    close(c3);
    cr_assert_eq(h_await_metric(&proxy, P "sessions_open", 0, 3000), 0);
}
