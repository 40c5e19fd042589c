/*
 * End-to-end tests of hostile clients on a TLS port: the handshake never
 * holds a worker (with workers = 1, another client is served while one
 * says nothing, stalls half-way through its ClientHello, or sends it a
 * byte at a time), and each of those is closed at request_timeout, while
 * still sending, and counted as a timeout; garbage instead of a ClientHello
 * is closed at once (long before request_timeout) and counted; a flood of
 * failed handshakes is logged at debug level at most 10 lines a second,
 * then one line of how many were not; a client past its handshake is idle
 * (idle_timeout), no longer in a request; a slow reader of large values
 * over TLS holds no worker and still gets every byte, in order; a TLS
 * client over max_clients is closed without a reply. Against a real
 * redis-server.
 *
 * Evidence is ordering and the proxy's own counters: who was answered
 * while the hostile client was still open, what the metrics counted.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define P "redis_proxy_"
#define TLS_FAIL(reason) P "tls_handshake_failures_total{reason=\"" reason "\"}"

H_PAIR_SUITE(tls_hostile, 90);

/* workers = 1 and a short request_timeout, so a held worker would show. */
static void
start(const char *extra)
{
    char more[512], ini[2048];

    snprintf(more, sizeof(more),
             "workers = 1\nrequest_timeout = 1s\nidle_timeout = 30s\n%s",
             extra != NULL ? extra : "");
    h_start_proxy(
        &proxy, &redis,
        H_OPTS(.ini = h_tls_ini(ini, sizeof(ini), more), .admin = 1, .tls = 1));
    h_proxy_serving(&proxy);
}

/* A TLS client that connects, GETs k and gets v: the proxy is serving
 * TLS clients right now. */
static void
tls_client_is_answered(const char *k, const char *v)
{
    char out[256], err[256], want[256];
    struct h_tls t;

    cr_assert_eq(
        h_tls_connect(&t, proxy.tls_port, "ca.crt", NULL, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_gt(H_TLS_CMD(&t, out, sizeof(out), "GET", k), 0);
    snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(v), v);
    cr_assert_str_eq(out, want);
    h_tls_close(&t);
}

/* 1 while the proxy has not closed fd (nothing to read, no EOF). */
static int
open_now(int fd)
{
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    return n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

Test(tls_hostile, a_client_that_says_nothing_is_closed_at_request_timeout)
{
    double before;
    int fd;

    h_set(&redis, "k", "v");
    start(NULL);
    before = h_metric(&proxy, TLS_FAIL("timeout"));
    fd = h_conn(proxy.tls_port);
    /* Served meanwhile, by the one worker. */
    tls_client_is_answered("k", "v");
    cr_assert(open_now(fd), "closed before its request_timeout");
    cr_assert_eq(h_wait_closed(fd, 5000), 1, "never closed");
    close(fd);
    cr_assert_eq(h_await_metric(&proxy, TLS_FAIL("timeout"), before + 1, 3000),
                 before + 1);
}

Test(tls_hostile, a_handshake_stalled_half_way_is_closed_at_request_timeout)
{
    char hello[2048];
    size_t n = h_tls_client_hello(hello, sizeof(hello));
    double before;
    int fd;

    cr_assert_gt(n, 100);
    h_set(&redis, "k", "v");
    start(NULL);
    before = h_metric(&proxy, TLS_FAIL("timeout"));
    fd = h_conn(proxy.tls_port);
    cr_assert_eq(h_send(fd, hello, n / 2), 0);
    tls_client_is_answered("k", "v");
    cr_assert(open_now(fd), "closed before its request_timeout");
    cr_assert_eq(h_wait_closed(fd, 5000), 1, "never closed");
    close(fd);
    cr_assert_eq(h_await_metric(&proxy, TLS_FAIL("timeout"), before + 1, 3000),
                 before + 1);
}

Test(tls_hostile, a_slow_handshake_is_closed_while_it_is_still_sending)
{
    char hello[2048];
    size_t n = h_tls_client_hello(hello, sizeof(hello)), sent = 0;
    double before;
    int fd, closed = 0;

    cr_assert_gt(n, 100);
    h_set(&redis, "k", "v");
    start(NULL);
    before = h_metric(&proxy, TLS_FAIL("timeout"));
    fd = h_conn(proxy.tls_port);
    /* One byte every 50 ms: the whole hello would take n / 20 s, far
     * past request_timeout (1 s). */
    for (; sent < n && !closed; sent++) {
        if (h_send(fd, hello + sent, 1) != 0) {
            closed = 1;
            break;
        }
        if (sent == 5) {
            tls_client_is_answered("k", "v");
        }
        closed = h_wait_closed(fd, 50);
    }
    cr_assert(closed, "the slow handshake was never closed");
    cr_assert_lt(sent, n, "the whole hello went through: nothing was slow");
    cr_assert_gt(sent, 5);
    close(fd);
    cr_assert_eq(h_await_metric(&proxy, TLS_FAIL("timeout"), before + 1, 3000),
                 before + 1);
}

/* Sends bytes instead of a ClientHello; the proxy must close at once. */
static void
expect_closed_at_once(const char *bytes, size_t len)
{
    int fd = h_conn(proxy.tls_port);

    cr_assert_eq(h_send(fd, bytes, len), 0);
    /* request_timeout is 30 s here: closing within 3 s is the garbage's
     * doing. */
    cr_assert_eq(h_wait_closed(fd, 3000), 1, "kept open after garbage");
    close(fd);
}

Test(tls_hostile, garbage_instead_of_a_client_hello_is_closed_at_once)
{
    static const char binary[] = "\x00\x01\x02\x03\xff\xfe\xfd garbage";
    double not_tls, all;

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = h_tls_ini((char[1024]){0}, 1024,
                                          "workers = 1\n"
                                          "request_timeout = 30s\n"),
                         .admin = 1, .tls = 1));
    not_tls = h_metric(&proxy, TLS_FAIL("not_tls"));
    all = not_tls + h_metric(&proxy, TLS_FAIL("protocol"));
    expect_closed_at_once("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    expect_closed_at_once("*1\r\n$4\r\nPING\r\n", 14);
    expect_closed_at_once(binary, sizeof(binary) - 1);
    cr_assert_geq(
        h_await_metric(&proxy, TLS_FAIL("not_tls"), not_tls + 2, 3000),
        not_tls + 2);
    cr_assert_eq(h_metric(&proxy, TLS_FAIL("not_tls")) +
                     h_metric(&proxy, TLS_FAIL("protocol")),
                 all + 3);
    tls_client_is_answered("k", "v");
}

Test(tls_hostile, failed_handshakes_are_logged_without_flooding)
{
    char *log = malloc(1 << 20);
    int i, fd, lines;

    cr_assert_not_null(log);
    start("[log]\nlevel = debug\n");
    for (i = 0; i < 40; i++) {
        expect_closed_at_once("GET / HTTP/1.0\r\n\r\n", 18);
    }
    cr_assert_eq(h_await_metric(&proxy, TLS_FAIL("not_tls"), 40, 3000), 40);
    /* A second later, the next one says how many were not logged. */
    h_sleep_ms(1100);
    fd = h_conn(proxy.tls_port);
    cr_assert_eq(h_send(fd, "x", 1), 0);
    shutdown(fd, SHUT_WR);
    cr_assert_eq(h_wait_closed(fd, 3000), 1);
    close(fd);
    cr_assert(
        h_await_log(&proxy, "msg=\"TLS handshake failures not logged\"", 3000),
        "no line says how many were not logged");
    h_proxy_read_log(&proxy, log, 1 << 20);
    lines = h_count_lines(log, "msg=\"TLS handshake failed\"");
    /* 40 failures within a second or two: at most 10 lines a second. */
    cr_assert(lines >= 10 && lines <= 31, "%d lines logged", lines);
    cr_assert(h_count_lines(log, "cause=not_tls reason=\"not TLS (http "
                                 "request)\"") >= 10,
              "%s", log);
    free(log);
}

Test(tls_hostile, a_client_past_its_handshake_is_idle_not_in_a_request)
{
    char out[64], err[256];
    struct h_tls t;

    h_set(&redis, "k", "v");
    start(NULL);
    cr_assert_eq(
        h_tls_connect(&t, proxy.tls_port, "ca.crt", NULL, err, sizeof(err)), 0,
        "%s", err);
    /* Twice request_timeout without a request: idle, not slow. */
    h_sleep_ms(2200);
    cr_assert_gt(H_TLS_CMD(&t, out, sizeof(out), "GET", "k"), 0,
                 "closed while idle");
    cr_assert_str_eq(out, "$1\r\nv\r\n");
    h_tls_close(&t);
}

#define BIG_LEN (1 << 20)
#define PIPELINED 24

Test(tls_hostile, a_slow_reader_over_tls_holds_no_worker_and_gets_every_byte)
{
    char *big = malloc(BIG_LEN), *buf = malloc(BIG_LEN + 64), req[64 * 32];
    size_t len = 0, want, got = 0;
    char err[256], reply_head[32];
    struct h_tls t;
    int i;

    cr_assert_not_null(big);
    cr_assert_not_null(buf);
    for (i = 0; i < BIG_LEN; i++) {
        big[i] = (char)('a' + (i / 7 + i / 4096) % 26);
    }
    h_set_bytes(&redis, "big", big, BIG_LEN);
    h_set(&redis, "k", "v");
    start("send_timeout = 60s\n[cache]\nmax_value_size = 4mb\n");
    cr_assert_eq(
        h_tls_connect(&t, proxy.tls_port, "ca.crt", NULL, err, sizeof(err)), 0,
        "%s", err);
    for (i = 0; i < PIPELINED; i++) {
        len += H_CMD(req + len, sizeof(req) - len, "GET", "big");
    }
    cr_assert_eq(h_tls_send(&t, req, len), 0);
    /* 24 MiB asked for, nothing read: the proxy parks this client with
     * output the socket will not take, and serves another. */
    cr_assert_eq(h_await_metric(&proxy, P "connections_parked", 1, 10000), 1);
    tls_client_is_answered("k", "v");
    /* Every byte, in order. */
    snprintf(reply_head, sizeof(reply_head), "$%d\r\n", BIG_LEN);
    want = strlen(reply_head) + BIG_LEN + 2;
    for (i = 0; i < PIPELINED; i++) {
        for (got = 0; got < want;) {
            long n = h_tls_recv(&t, buf + got, want - got, 20000);

            cr_assert_gt(n, 0, "reply %d: %zu of %zu bytes", i, got, want);
            got += (size_t)n;
        }
        cr_assert_eq(memcmp(buf, reply_head, strlen(reply_head)), 0);
        cr_assert_eq(memcmp(buf + strlen(reply_head), big, BIG_LEN), 0,
                     "reply %d differs", i);
    }
    h_tls_close(&t);
    free(big);
    free(buf);
}

Test(tls_hostile, a_tls_client_over_max_clients_is_closed_without_a_reply)
{
    char out[64], err[256];
    struct h_tls t, u;
    double rejected;

    h_set(&redis, "k", "v");
    start("max_clients = 1\n");
    rejected = h_metric(&proxy, P "connections_rejected_total");
    cr_assert_eq(
        h_tls_connect(&t, proxy.tls_port, "ca.crt", NULL, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_gt(H_TLS_CMD(&t, out, sizeof(out), "PING"), 0);
    cr_assert_eq(
        h_tls_connect(&u, proxy.tls_port, "ca.crt", NULL, err, sizeof(err)), -1,
        "a second client got in");
    cr_assert_eq(h_metric(&proxy, P "connections_rejected_total"),
                 rejected + 1);
    /* The first is still served. */
    cr_assert_gt(H_TLS_CMD(&t, out, sizeof(out), "GET", "k"), 0);
    cr_assert_str_eq(out, "$1\r\nv\r\n");
    h_tls_close(&t);
}
