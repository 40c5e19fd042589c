/*
 * End-to-end tests of the Redis-protocol listener (resp_port): GET through
 * the shared cache, inline and multibulk commands, Redis's exact error texts,
 * pipelining and split reads, protocol errors that close the connection,
 * max_clients, redis-cli and redis-benchmark as real clients, and Redis
 * going away or stalling. Every read has a deadline; every process started
 * here is stopped in the fixture's fini. (resp_port = 0 is in test_cli.c.)
 */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define REPLY_TIMEOUT_MS 2000

H_PAIR_SUITE(resp, 20);

/* ---- one complete reply at a time, with the harness's framer ---- */

#define REPLY_CAP (1 << 20) /* room for a full COMMAND reply */

/* A connection to the proxy's resp_port (or fails the test). */
static int
rc_open(int port)
{
    int fd = h_connect(port);

    cr_assert_geq(fd, 0, "cannot connect to port %d", port);
    return fd;
}

/* Reads exactly one reply into out (NUL-terminated). Returns its length,
 * or 0 on timeout, close, garbage or a reply longer than cap - 1. */
static size_t
rc_reply(int fd, char *out, size_t cap, int timeout_ms)
{
    long n = h_read_replies(fd, 1, out, cap - 1, timeout_ms);

    out[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static void
rc_send(int fd, const void *p, size_t n)
{
    cr_assert_eq(h_send(fd, p, n), 0, "send failed");
}

/* Encodes a multibulk command from NUL-terminated strings (NULL ends). */
static size_t
mb(char *out, size_t cap, ...)
{
    const char *argv[32];
    size_t argc = 0, o;
    va_list ap;

    va_start(ap, cap);
    while (argc < 32 && (argv[argc] = va_arg(ap, const char *)) != NULL)
        argc++;
    va_end(ap);
    o = (size_t)snprintf(out, cap, "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++)
        o += (size_t)snprintf(out + o, cap - o, "$%zu\r\n%s\r\n",
                              strlen(argv[i]), argv[i]);
    cr_assert_lt(o, cap);
    return o;
}

#define MB(fd, ...)                                                            \
    do {                                                                       \
        char mb_buf_[1024];                                                    \
        size_t mb_n_ = mb(mb_buf_, sizeof(mb_buf_), __VA_ARGS__, NULL);        \
        rc_send((fd), mb_buf_, mb_n_);                                         \
    } while (0)

static void
expect_reply(int c, const char *exp, size_t explen, int line)
{
    char got[8192], e1[1024], e2[1024];
    size_t n = rc_reply(c, got, sizeof(got), REPLY_TIMEOUT_MS);
    cr_assert(
        n == explen && memcmp(got, exp, explen) == 0,
        "line %d: expected \"%s\", got \"%s\"%s", line,
        h_escape(exp, explen, e1, sizeof(e1)),
        h_escape(got, n < sizeof(got) ? n : sizeof(got) - 1, e2, sizeof(e2)),
        n == 0 ? " (no complete reply within the timeout)" : "");
}

#define EXPECT(c, lit) expect_reply((c), (lit), sizeof(lit) - 1, __LINE__)

/* Sends input on a fresh connection; expects exactly `exp` and then the
 * connection closed by the proxy. */
static void
expect_proto_error(const void *in, size_t inlen, const char *exp)
{
    char got[4096], e1[512], e2[512];
    int fd = h_connect(proxy.resp_port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(h_send(fd, in, inlen), 0);
    size_t n = h_recv_all(fd, got, sizeof(got) - 1, REPLY_TIMEOUT_MS);
    int closed = h_wait_closed(fd, 500);
    close(fd);
    cr_assert(n == strlen(exp) && memcmp(got, exp, n) == 0,
              "expected \"%s\", got \"%s\"",
              h_escape(exp, strlen(exp), e1, 512), h_escape(got, n, e2, 512));
    cr_assert_eq(closed, 1, "connection not closed after protocol error");
}

/* ---- 1, 2: GET through the cache ---- */

Test(resp, get_is_cached_and_binary_safe)
{
    int c;
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY));
    cr_assert_eq(h_redis_cmd(&redis, "SET k v1"), 0);
    c = rc_open(proxy.resp_port);

    MB(c, "GET", "k");
    EXPECT(c, "$2\r\nv1\r\n");
    cr_assert_eq(h_redis_cmd(&redis, "SET k v2"), 0);
    MB(c, "GET", "k");
    EXPECT(c, "$2\r\nv1\r\n");
    cr_assert_eq(h_redis_calls(&redis, "get"), 1,
                 "second GET should be a cache hit");

    MB(c, "GET", "missing");
    EXPECT(c, "$-1\r\n");
    close(c);
}

Test(resp, get_binary_and_empty_values_exact)
{
    static const char bin[] = "a\0b\r\nc\r\n$-1\r\n";
    int c;
    char exp[64];
    size_t explen;

    h_start_proxy(&proxy, &redis, NULL);
    redisContext *ctx = h_redis_ctx(&redis);
    cr_assert_not_null(ctx);
    redisReply *r = redisCommand(ctx, "SET bin %b", bin, sizeof(bin) - 1);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(ctx, "SET empty %b", "", (size_t)0);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(ctx);

    c = rc_open(proxy.resp_port);
    explen = (size_t)snprintf(exp, sizeof(exp), "$%zu\r\n", sizeof(bin) - 1);
    memcpy(exp + explen, bin, sizeof(bin) - 1);
    explen += sizeof(bin) - 1;
    memcpy(exp + explen, "\r\n", 2);
    explen += 2;
    for (int i = 0; i < 2; i++) { /* miss, then hit */
        MB(c, "GET", "bin");
        expect_reply(c, exp, explen, __LINE__);
        MB(c, "GET", "empty");
        EXPECT(c, "$0\r\n\r\n");
    }
    cr_assert_eq(h_redis_calls(&redis, "get"), 2);
    close(c);
}

Test(resp, shares_cache_with_http)
{
    struct h_resp hr;
    int c;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY));
    cr_assert_eq(h_redis_cmd(&redis, "SET shared hello"), 0);
    cr_assert_eq(h_http_get(proxy.http_port, "/shared", &hr), 0);
    cr_assert_eq(hr.status, 200);
    cr_assert(hr.body_len == 5 && memcmp(hr.body, "hello", 5) == 0);
    h_resp_free(&hr);
    cr_assert_eq(h_redis_cmd(&redis, "SET shared changed"), 0);

    c = rc_open(proxy.resp_port);
    MB(c, "GET", "shared");
    EXPECT(c, "$5\r\nhello\r\n");
    cr_assert_eq(h_redis_calls(&redis, "get"), 1,
                 "RESP GET after HTTP GET must be a cache hit");
    close(c);
}

/* ---- 3, 4: inline commands and the small command set ---- */

Test(resp, inline_commands)
{
    int c;
    h_start_proxy(&proxy, &redis, NULL);
    cr_assert_eq(h_redis_cmd(&redis, "SET k val"), 0);
    c = rc_open(proxy.resp_port);

    h_sends(c, "PING\r\n");
    EXPECT(c, "+PONG\r\n");
    h_sends(c, "GET k\n");
    EXPECT(c, "$3\r\nval\r\n");
    h_sends(c, "get k\r\n");
    EXPECT(c, "$3\r\nval\r\n");
    h_sends(c, "ECHO \"a b\"\r\n");
    EXPECT(c, "$3\r\na b\r\n");
    h_sends(c, "  eCHo   'x y'  \r\n");
    EXPECT(c, "$3\r\nx y\r\n");
    close(c);
}

Test(resp, empty_inline_line_and_empty_array_get_no_reply)
{
    int c;
    h_start_proxy(&proxy, &redis, NULL);
    c = rc_open(proxy.resp_port);
    /* Redis ignores both; the first reply must be the PING's. */
    h_sends(c, "\r\n*0\r\nPING\r\n");
    EXPECT(c, "+PONG\r\n");
    close(c);
}

Test(resp, ping_echo_command_and_quit)
{
    char *buf = malloc(REPLY_CAP);
    int c;

    h_start_proxy(&proxy, &redis, NULL);
    c = rc_open(proxy.resp_port);
    MB(c, "PING");
    EXPECT(c, "+PONG\r\n");
    MB(c, "ping", "hello world");
    EXPECT(c, "$11\r\nhello world\r\n");
    MB(c, "EcHo", "msg");
    EXPECT(c, "$3\r\nmsg\r\n");
    MB(c, "ECHO", "");
    EXPECT(c, "$0\r\n\r\n");

    cr_assert_not_null(buf);
    MB(c, "COMMAND");
    size_t n = rc_reply(c, buf, REPLY_CAP, REPLY_TIMEOUT_MS);
    cr_assert(n > 0 && buf[0] == '*', "COMMAND: expected an array, got %s",
              n ? buf : "nothing");
    MB(c, "COMMAND", "DOCS");
    n = rc_reply(c, buf, REPLY_CAP, REPLY_TIMEOUT_MS);
    cr_assert(n > 0 && buf[0] == '*', "COMMAND DOCS: expected an array, got %s",
              n ? buf : "nothing");

    /* Redis's own answer, byte for byte */
    {
        static const char count[] = "*2\r\n$7\r\ncommand\r\n$5\r\ncount\r\n";

        h_expect_same_replies(&redis, &proxy, count, sizeof(count) - 1, 1);
    }
    MB(c, "COMMAND", "COUNT", "x");
    EXPECT(c, "-ERR wrong number of arguments for 'command|count' "
              "command\r\n");

    MB(c, "PING"); /* still in sync after the arrays */
    EXPECT(c, "+PONG\r\n");
    MB(c, "QUIT");
    EXPECT(c, "+OK\r\n");
    cr_assert_eq(h_wait_closed(c, 1000), 1, "QUIT must close");
    close(c);
    free(buf);
}

/* ---- 5: error replies keep the connection ---- */

Test(resp, error_replies_match_redis_and_keep_connection)
{
    int c;
    h_start_proxy(&proxy, &redis, NULL);
    c = rc_open(proxy.resp_port);

    MB(c, "foo", "a", "b");
    EXPECT(c, "-ERR unknown command 'foo', with args beginning with: 'a' "
              "'b' \r\n");
    MB(c, "foo");
    EXPECT(c, "-ERR unknown command 'foo', with args beginning with: \r\n");
    h_sends(c, "bar x\r\n");
    EXPECT(c, "-ERR unknown command 'bar', with args beginning with: 'x' "
              "\r\n");
    MB(c, "GeT");
    EXPECT(c, "-ERR wrong number of arguments for 'get' command\r\n");
    MB(c, "GET", "a", "b");
    EXPECT(c, "-ERR wrong number of arguments for 'get' command\r\n");
    MB(c, "ECHO");
    EXPECT(c, "-ERR wrong number of arguments for 'echo' command\r\n");
    MB(c, "ECHO", "a", "b");
    EXPECT(c, "-ERR wrong number of arguments for 'echo' command\r\n");
    MB(c, "PING", "a", "b");
    EXPECT(c, "-ERR wrong number of arguments for 'ping' command\r\n");
    MB(c, "PING");
    EXPECT(c, "+PONG\r\n");
    cr_assert_eq(h_redis_calls(&redis, "get"), 0,
                 "a malformed GET must not reach Redis");
    close(c);
}

/* ---- 6: pipelining and split commands ---- */

Test(resp, pipelined_commands_answered_in_order)
{
    static const char in[] = "*1\r\n$4\r\nPING\r\n"
                             "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
                             "ECHO inline\r\n"
                             "*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n"
                             "*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n";
    int c;

    h_start_proxy(&proxy, &redis, NULL);
    cr_assert_eq(h_redis_cmd(&redis, "SET k value"), 0);
    c = rc_open(proxy.resp_port);
    for (int i = 0; i < 2; i++) { /* misses first, then hits */
        rc_send(c, in, sizeof(in) - 1);
        EXPECT(c, "+PONG\r\n");
        EXPECT(c, "$5\r\nvalue\r\n");
        EXPECT(c, "$6\r\ninline\r\n");
        EXPECT(c, "$-1\r\n");
        EXPECT(c, "$2\r\nhi\r\n");
        /* k reached Redis only the first time; "none" (not cached) both */
        cr_assert_eq(h_redis_calls(&redis, "get"), i == 0 ? 2 : 3,
                     "round %d: GETs Redis counted", i);
    }
    close(c);
}

Test(resp, command_split_across_writes)
{
    static const char in[] = "*2\r\n$3\r\nGET\r\n$5\r\nsplit\r\n";
    int c;
    char extra[64];

    h_start_proxy(&proxy, &redis, NULL);
    cr_assert_eq(h_redis_cmd(&redis, "SET split whole"), 0);
    c = rc_open(proxy.resp_port);
    for (size_t i = 0; i < sizeof(in) - 1; i++) {
        rc_send(c, in + i, 1);
        h_sleep_ms(5);
    }
    EXPECT(c, "$5\r\nwhole\r\n");
    cr_assert_eq(rc_reply(c, extra, sizeof(extra), 200), 0,
                 "unexpected extra reply: %s", extra);

    /* an inline command split mid-word */
    h_sends(c, "PI");
    h_sleep_ms(50);
    h_sends(c, "NG\r");
    h_sleep_ms(50);
    h_sends(c, "\n");
    EXPECT(c, "+PONG\r\n");
    close(c);
}

/* ---- the same bytes as redis-server ---- */

Test(resp, replies_are_byte_for_byte_those_of_redis)
{
    static const char bin[] = "a\0b\r\n$-1\r\n*-1\r\n";
    static const struct {
        const char *req;
        int n; /* replies */
    } cases[] = {
        {"PING\r\n", 1},
        {"*2\r\n$4\r\nPING\r\n$5\r\nhello\r\n", 1},
        {"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", 1},
        {"ECHO \"a b\" \r\n", 1},
        {"*2\r\n$3\r\nGET\r\n$3\r\nbin\r\n", 1},   /* a miss */
        {"*2\r\n$3\r\nGET\r\n$3\r\nbin\r\n", 1},   /* a hit */
        {"*2\r\n$3\r\nGET\r\n$5\r\nempty\r\n", 1}, /* $0 */
        {"*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n", 1},  /* $-1 */
        {"*2\r\n$3\r\nGET\r\n$4\r\nhash\r\n", 1},  /* WRONGTYPE */
        {"*3\r\n$3\r\nfoo\r\n$1\r\na\r\n$1\r\nb\r\n", 1},
        {"*1\r\n$3\r\nGET\r\n", 1},
        {"*3\r\n$4\r\nPING\r\n$1\r\na\r\n$1\r\nb\r\n", 1},
        {"PING\r\nGET bin\r\nGET none\r\nECHO x\r\n", 4},
        {"*abc\r\n", 1},
        {"*1\r\n:5\r\n", 1},
    };
    redisContext *ctx;
    redisReply *r;
    size_t i;

    h_start_proxy(&proxy, &redis, NULL);
    ctx = h_redis_ctx(&redis);
    cr_assert_not_null(ctx);
    r = redisCommand(ctx, "SET bin %b", bin, sizeof(bin) - 1);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(ctx, "SET empty %b", "", (size_t)0);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(ctx, "HSET hash f v");
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    redisFree(ctx);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        h_expect_same_replies(&redis, &proxy, cases[i].req,
                              strlen(cases[i].req), cases[i].n);
    }
    /* 7 GETs sent to Redis directly, 5 from the proxy: the misses on bin,
     * empty, none, hash and none again; both later GETs of bin were hits
     * and the GET without a key never left the proxy */
    cr_assert_eq(h_redis_calls(&redis, "get"), 7 + 5);
}

/* ---- 7: protocol errors close the connection ---- */

#define PROTO(in, exp) expect_proto_error((in), sizeof(in) - 1, (exp))

Test(resp, protocol_errors_reply_and_close)
{
    static const char *const cases[][2] = {
        {"*abc\r\n", "invalid multibulk length"},
        /* over Redis's 1048576 arguments */
        {"*1048577\r\n", "invalid multibulk length"},
        /* a bulk over max_request (64mb) */
        {"*1\r\n$67108865\r\n", "invalid bulk length"},
        /* two bulks that together pass it */
        {"*2\r\n$4\r\nECHO\r\n$67108861\r\n", "invalid bulk length"},
        {"*1\r\n$abc\r\n", "invalid bulk length"},
        {"*1\r\n:5\r\n", "expected '$', got ':'"},
        {"*2\r\n$4\r\nECHO\r\n+x\r\n", "expected '$', got '+'"},
        {"ECHO \"abc\r\n", "unbalanced quotes in request"},
        {"ECHO 'abc\r\n", "unbalanced quotes in request"},
    };
    char exp[128];

    h_start_proxy(&proxy, &redis, NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(exp, sizeof(exp), "-ERR Protocol error: %s\r\n", cases[i][1]);
        expect_proto_error(cases[i][0], strlen(cases[i][0]), exp);
    }
}

Test(resp, bulk_of_exactly_8192_bytes_is_accepted)
{
    static char in[8300];
    int c;
    char out[9000];
    size_t n;

    h_start_proxy(&proxy, &redis, NULL);
    c = rc_open(proxy.resp_port);
    n = (size_t)snprintf(in, sizeof(in), "*2\r\n$4\r\nECHO\r\n$8192\r\n");
    memset(in + n, 'x', 8192);
    memcpy(in + n + 8192, "\r\n", 2);
    rc_send(c, in, n + 8194);
    size_t got = rc_reply(c, out, sizeof(out), REPLY_TIMEOUT_MS);
    cr_assert_eq(got, 8192 + 9, "ECHO of 8192 bytes: got %zu bytes", got);
    cr_assert(memcmp(out, "$8192\r\nxxx", 10) == 0);
    close(c);
}

Test(resp, too_big_inline_request_is_refused)
{
    static char in[20000];
    h_start_proxy(&proxy, &redis, NULL);
    memset(in, 'a', sizeof(in));
    expect_proto_error(in, sizeof(in),
                       "-ERR Protocol error: too big inline request\r\n");
}

Test(resp, inline_word_up_to_the_line_limit_is_accepted)
{
    static char in[16384];
    static char out[17000];
    size_t got, w = sizeof(in) - 7; /* "ECHO " + word + "\r\n" */
    int c;

    h_start_proxy(&proxy, &redis, NULL);
    c = rc_open(proxy.resp_port);
    memcpy(in, "ECHO ", 5);
    memset(in + 5, 'x', w);
    memcpy(in + 5 + w, "\r\n", 2);
    rc_send(c, in, sizeof(in));
    got = rc_reply(c, out, sizeof(out), REPLY_TIMEOUT_MS);
    cr_assert_eq(got, 1 + 5 + 2 + w + 2, "inline ECHO of %zu bytes: got %zu", w,
                 got);
    close(c);
}

/* Redis's own limits, up to max_request: a 10 MiB argument is read into a
 * buffer that grows for it, and the reply comes back byte for byte. */
Test(resp, ten_mib_argument_is_accepted_and_echoed_exactly)
{
    const size_t n = 10u << 20;
    char head[64], want[64], *in = malloc(n + 64), *out = malloc(n + 64);
    size_t hl, wl, got;
    int c;

    cr_assert(in != NULL && out != NULL);
    hl =
        (size_t)snprintf(head, sizeof(head), "*2\r\n$4\r\nECHO\r\n$%zu\r\n", n);
    wl = (size_t)snprintf(want, sizeof(want), "$%zu\r\n", n);
    memcpy(in, head, hl);
    for (size_t i = 0; i < n; i++) {
        in[hl + i] = (char)('a' + i % 26);
    }
    memcpy(in + hl + n, "\r\n", 2);
    h_start_proxy(&proxy, &redis, NULL);
    c = rc_open(proxy.resp_port);
    rc_send(c, in, hl + n + 2);
    got = rc_reply(c, out, n + 64, 10000);
    cr_assert_eq(got, wl + n + 2, "reply of %zu bytes, want %zu", got,
                 wl + n + 2);
    cr_assert(memcmp(out, want, wl) == 0, "reply header");
    cr_assert(memcmp(out + wl, in + hl, n) == 0, "the echoed bytes differ");
    close(c);
    free(in);
    free(out);
}

Test(resp, argument_over_max_request_is_a_protocol_error)
{
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nmax_request = 1mb\n"));
    PROTO("*2\r\n$4\r\nECHO\r\n$1048573\r\n",
          "-ERR Protocol error: invalid bulk length\r\n");
}

Test(resp, protocol_error_after_good_command_keeps_earlier_reply)
{
    h_start_proxy(&proxy, &redis, NULL);
    PROTO("*1\r\n$4\r\nPING\r\n*x\r\n",
          "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n");
}

/* ---- 8: max_clients ---- */

Test(resp, max_clients_rejects_extra_connection)
{
    int c1, c3;
    char buf[256];
    size_t n = 0;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = "[server]\nmax_clients = 1\n"));
    c1 = rc_open(proxy.resp_port);
    MB(c1, "PING");
    EXPECT(c1, "+PONG\r\n");

    int fd = h_connect(proxy.resp_port);
    cr_assert_geq(fd, 0);
    n = h_recv_all(fd, buf, sizeof(buf) - 1, REPLY_TIMEOUT_MS);
    buf[n] = '\0';
    int closed = h_wait_closed(fd, 500);
    close(fd);
    cr_assert_str_eq(buf, "-ERR max number of clients reached\r\n");
    cr_assert_eq(closed, 1, "rejected connection must be closed");

    MB(c1, "PING"); /* the first is unaffected */
    EXPECT(c1, "+PONG\r\n");
    close(c1);

    /* the slot frees once the first client leaves */
    for (int i = 0; i < 20; i++) {
        h_sleep_ms(50);
        c3 = rc_open(proxy.resp_port);
        MB(c3, "PING");
        n = rc_reply(c3, buf, sizeof(buf), REPLY_TIMEOUT_MS);
        close(c3);
        if (n > 0 && strcmp(buf, "+PONG\r\n") == 0)
            break;
    }
    cr_assert_str_eq(buf, "+PONG\r\n", "slot not released after close");
}

/* ---- 9, 10: real clients ---- */

/* Runs a shell command (10 s limit, stdin /dev/null); stdout into out,
 * stderr into err (each NUL-terminated, 16 KiB). Returns the exit status. */
static int
sh_run(const char *cmd, char *out, char *err)
{
    char errpath[] = "/tmp/rp-resp-err-XXXXXX", full[1024];
    int efd = mkstemp(errpath), st;
    size_t n = 0, r;
    FILE *f;

    cr_assert_geq(efd, 0);
    snprintf(full, sizeof(full), "timeout -s KILL 10 %s 2>%s </dev/null", cmd,
             errpath);
    f = popen(full, "r");
    cr_assert_not_null(f);
    while (n < 16383 && (r = fread(out + n, 1, 16383 - n, f)) > 0)
        n += r;
    out[n] = '\0';
    st = pclose(f);
    ssize_t en = read(efd, err, 16383);
    err[en > 0 ? en : 0] = '\0';
    close(efd);
    unlink(errpath);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(resp, redis_cli_get_and_ping)
{
    static const char *const cmds[][2] = {
        {"GET clikey", "hello\n"}, {"PING", "PONG\n"}, {"GET nokey", "\n"}};
    char cmd[256], out[16384], err[16384];

    h_start_proxy(&proxy, &redis, NULL);
    cr_assert_eq(h_redis_cmd(&redis, "SET clikey hello"), 0);
    for (size_t i = 0; i < 3; i++) {
        snprintf(cmd, sizeof(cmd), "redis-cli -p %d %s", proxy.resp_port,
                 cmds[i][0]);
        int rc = sh_run(cmd, out, err);
        cr_assert_eq(rc, 0, "%s: exit %d, stderr: %s", cmd, rc, err);
        cr_assert_str_eq(out, cmds[i][1], "%s", cmd);
        cr_assert_str_eq(err, "", "%s: warned: %s", cmd, err);
    }
    cr_assert_eq(h_redis_calls(&redis, "get"), 2);
}

static void
run_benchmark(int port, int pipeline)
{
    char cmd[256], out[16384], err[16384];
    int rc;

    snprintf(cmd, sizeof(cmd),
             "redis-benchmark -p %d -t get -n 2000 -c 10 -q -P %d", port,
             pipeline);
    rc = sh_run(cmd, out, err);
    cr_assert_eq(rc, 0, "%s: exit %d\nstdout: %s\nstderr: %s", cmd, rc, out,
                 err);
    cr_assert(strstr(out, "GET: ") != NULL &&
                  strstr(out, "requests per second") != NULL,
              "%s: no result line, stdout: %s\nstderr: %s", cmd, out, err);
    cr_assert_null(strstr(err, "Error from server"), "error replies: %s", err);
}

Test(resp, redis_benchmark_runs_clean)
{
    int c;

    h_start_proxy(&proxy, &redis, NULL);
    cr_assert_eq(h_redis_cmd(&redis, "SET after ok"), 0);
    run_benchmark(proxy.resp_port, 1);
    run_benchmark(proxy.resp_port, 16);

    c = rc_open(proxy.resp_port);
    MB(c, "GET", "after");
    EXPECT(c, "$2\r\nok\r\n");
    close(c);
}

/* ---- 11: Redis unreachable or slow ---- */

Test(resp, redis_down_gives_error_but_serves_cached)
{
    int c;
    char buf[1024];

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "[redis]\nconnect_timeout = 500ms\n"));
    cr_assert_eq(h_redis_cmd(&redis, "SET warm cached"), 0);
    cr_assert_eq(h_redis_cmd(&redis, "SET cold never"), 0);
    c = rc_open(proxy.resp_port);
    MB(c, "GET", "warm");
    EXPECT(c, "$6\r\ncached\r\n");

    h_redis_kill(&redis, 1);
    int64_t t0 = h_now_ms();
    MB(c, "GET", "cold");
    size_t n = rc_reply(c, buf, sizeof(buf), 3000);
    int64_t took = h_now_ms() - t0;
    cr_assert(n > 0, "no reply while Redis is down");
    cr_assert(strncmp(buf, "-ERR ", 5) == 0 && n > 7,
              "expected an -ERR naming the cause, got %s", buf);
    cr_assert_lt(took, 2000, "error took %lld ms", (long long)took);

    MB(c, "GET", "warm");
    EXPECT(c, "$6\r\ncached\r\n");
    MB(c, "PING");
    EXPECT(c, "+PONG\r\n");
    close(c);
}

Test(resp, redis_timeout_gives_error_naming_timeout)
{
    int c;
    char buf[1024];

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[redis]\ncommand_timeout = 300ms\n"));
    cr_assert_eq(h_redis_cmd(&redis, "SET slow v"), 0);
    c = rc_open(proxy.resp_port);
    MB(c, "PING");
    EXPECT(c, "+PONG\r\n");
    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE 1500 ALL"), 0);
    int64_t t0 = h_now_ms();
    MB(c, "GET", "slow");
    size_t n = rc_reply(c, buf, sizeof(buf), 3000);
    int64_t took = h_now_ms() - t0;
    cr_assert(n > 0, "no reply while Redis is paused");
    cr_assert(strncmp(buf, "-ERR ", 5) == 0, "expected -ERR, got %s", buf);
    cr_assert_not_null(strcasestr(buf, "time"),
                       "error does not name the timeout: %s", buf);
    cr_assert_lt(took, 1200, "timeout error took %lld ms", (long long)took);
    close(c);
}
