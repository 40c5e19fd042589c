/*
 * Unit tests of moving bytes on an open rconn (upstream/rconn): a write
 * larger than the socket buffer progressing through EAGAIN, a reply larger
 * than the input buffer framed whole (and the buffer given back after),
 * replies split across reads at every awkward place (a fake server sends
 * the pieces), bytes that are no reply, EOF when Redis kills the client,
 * and the blocking calls: rconn_call's error replies against its I/O
 * failures and timeouts, rconn_wait_reply's timeout, stop and pushes.
 */
#include "rconn_helpers.h"

#include <stdlib.h>
#include <sys/eventfd.h>

#define BIG (4u << 20)

static void
start_plain(void)
{
    start_server(0, NULL);
}

TestSuite(rconn_io, .init = start_plain, .fini = stop_server, .timeout = 60);
TestSuite(rconn_fake, .init = config_setup, .timeout = 30);

static char *
big_value(void)
{
    char *v = malloc(BIG);

    cr_assert_not_null(v);
    for (size_t i = 0; i < BIG; i++) {
        v[i] = (char)('a' + i % 26);
    }
    return v;
}

Test(rconn_io, write_larger_than_the_socket_buffer_progresses)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    struct rconn rc;
    char head[64], *v = big_value();
    int sndbuf = 65536, shorts = 0, n;
    size_t total, sent = 0;
    const char *p;
    char err[REDIS_ERR_MAX];
    redisReply *r;

    open_ok(&rc, &t, NULL);
    /* A small send buffer makes the 4 MiB certain not to fit at once. */
    cr_assert_eq(
        setsockopt(rc.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    n = snprintf(head, sizeof(head), "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%u\r\n",
                 BIG);
    total = (size_t)n + BIG + 2;
    while (sent < total) {
        struct iovec all[3] = {{head, (size_t)n}, {v, BIG}, {"\r\n", 2}}, *iov;
        size_t skip = sent;
        int k = 0;
        long w;

        while (skip >= all[k].iov_len) {
            skip -= all[k++].iov_len;
        }
        iov = &all[k];
        iov->iov_base = (char *)iov->iov_base + skip;
        iov->iov_len -= skip;
        w = rconn_writev(&rc, iov, 3 - k);
        cr_assert_geq(w, 0, "%s", rconn_error(&rc));
        sent += (size_t)w;
        if (sent < total) {
            shorts++;
            cr_assert_eq(rconn_want(&rc), RCONN_WANT_WRITE);
            wait_fd(rc.fd, POLLOUT);
        }
    }
    cr_assert_eq(rconn_want(&rc), RCONN_WANT_NONE, "all written");
    cr_assert_gt(shorts, 0, "every write fit: the test proved nothing");
    cr_assert_eq(next_reply(&rc, &p), 5);
    cr_assert_arr_eq(p, "+OK\r\n", 5);
    rconn_consume(&rc);

    r = rconn_call(&rc, "STRLEN", err, NULL, "STRLEN big");
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER, "%s", err);
    cr_assert_eq(r->integer, BIG);
    freeReplyObject(r);
    rconn_close(&rc);
    free(v);
}

Test(rconn_io, reply_larger_than_the_buffer_is_framed_whole)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    struct rconn rc;
    char err[REDIS_ERR_MAX], head[32], *v = big_value();
    redisReply *r;
    const char *p;
    size_t len;
    int hl, reads = 0, fr;

    open_ok(&rc, &t, NULL);
    r = rconn_call(&rc, "SET", err, NULL, "SET big %b", v, (size_t)BIG);
    cr_assert_not_null(r, "%s", err);
    freeReplyObject(r);
    cr_assert_eq(rc.cap, 16384, "small replies keep the first buffer");

    write_all(&rc, "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 22);
    while ((fr = rconn_reply(&rc, &p, &len)) == RESP_INCOMPLETE) {
        long n = rconn_read(&rc);

        cr_assert_geq(n, 0, "%s", rconn_error(&rc));
        reads += n > 0;
        if (n == 0) {
            wait_fd(rc.fd, POLLIN);
        }
    }
    cr_assert_eq(fr, RESP_OK);
    hl = snprintf(head, sizeof(head), "$%u\r\n", BIG);
    cr_assert_eq(len, (size_t)hl + BIG + 2);
    cr_assert_arr_eq(p, head, (size_t)hl);
    cr_assert(memcmp(p + hl, v, BIG) == 0, "the value came back intact");
    cr_assert_gt(reads, 1, "one read cannot carry 4 MiB");
    cr_assert_geq(rc.cap, len);
    rconn_consume(&rc);
    cr_assert_eq(rconn_buffered(&rc), 0);
    cr_assert_eq(rc.cap, 0, "the large buffer was given back");
    cr_assert_null(rc.in);

    r = rconn_call(&rc, "PING", err, NULL, "PING"); /* the buffer regrows */
    cr_assert(r != NULL && strcmp(r->str, "PONG") == 0, "%s", err);
    freeReplyObject(r);
    cr_assert_eq(rc.cap, 16384);
    rconn_close(&rc);
    free(v);
}

Test(rconn_io, redis_closing_the_client_fails_it_stickily)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    struct rconn victim, killer;
    char err[REDIS_ERR_MAX];
    redisReply *r;
    long n;

    open_ok(&victim, &t, NULL);
    open_ok(&killer, &t, NULL);
    r = rconn_call(&killer, "CLIENT KILL", err, NULL, "CLIENT KILL ID %lld",
                   client_id(&victim));
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1,
              "%s", err);
    freeReplyObject(r);

    wait_fd(victim.fd, POLLIN);
    n = rconn_read(&victim);
    cr_assert_eq(n, -1);
    cr_assert_eq(victim.state, RCONN_FAILED);
    cr_assert_str_eq(rconn_error(&victim), "Server closed the connection");
    cr_assert_eq(rconn_read(&victim), -1, "sticky");
    {
        struct iovec v = {"*1\r\n$4\r\nPING\r\n", 14};

        cr_assert_eq(rconn_writev(&victim, &v, 1), -1, "sticky");
    }
    cr_assert_null(rconn_call(&victim, "PING", err, NULL, "PING"));
    cr_assert_str_eq(err, "PING: Server closed the connection");
    cr_assert_str_eq(rconn_error(&victim), "Server closed the connection",
                     "the first reason stays");
    rconn_close(&victim);
    rconn_close(&killer);
}

Test(rconn_io, call_error_reply_keeps_the_connection)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    struct rconn rc;
    char err[REDIS_ERR_MAX], pong[16];
    int is_error = -1;
    redisReply *r;

    open_ok(&rc, &t, NULL);
    r = rconn_call(&rc, "SET", err, NULL, "SET s %s", "abc");
    cr_assert_not_null(r, "%s", err);
    freeReplyObject(r);
    r = rconn_call(&rc, "INCR", err, &is_error, "INCR s");
    cr_assert_null(r);
    cr_assert_eq(is_error, 1);
    cr_assert_str_eq(
        err, "INCR failed: ERR value is not an integer or out of range");
    cr_assert_eq(rc.state, RCONN_READY);
    call_text(&rc, "PING", pong, sizeof(pong));
    cr_assert_str_eq(pong, "PONG");
    rconn_close(&rc);
}

Test(rconn_io, call_io_failure_fails_the_connection)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    struct rconn victim, killer;
    char err[REDIS_ERR_MAX];
    int is_error = -1;
    redisReply *r;

    open_ok(&victim, &t, NULL);
    open_ok(&killer, &t, NULL);
    r = rconn_call(&killer, "CLIENT KILL", err, NULL, "CLIENT KILL ID %lld",
                   client_id(&victim));
    cr_assert_not_null(r, "%s", err);
    freeReplyObject(r);
    r = rconn_call(&victim, "PING", err, &is_error, "PING");
    cr_assert_null(r);
    cr_assert_eq(is_error, 0);
    cr_assert(strcmp(err, "PING: Server closed the connection") == 0 ||
                  strcmp(err, "PING: Connection reset by peer") == 0 ||
                  strcmp(err, "PING: Broken pipe") == 0,
              "%s", err);
    cr_assert_eq(victim.state, RCONN_FAILED);
    rconn_close(&victim);
    rconn_close(&killer);
}

Test(rconn_io, wait_reply_times_out_then_gets_a_push)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    struct rconn sub, pub;
    char err[REDIS_ERR_MAX];
    int timed_out = -1;
    redisReply *r;

    open_ok(&sub, &t, NULL);
    open_ok(&pub, &t, NULL);
    r = rconn_call(&sub, "SUBSCRIBE", err, NULL, "SUBSCRIBE ch");
    cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY, "%s", err);
    freeReplyObject(r);

    cr_assert_null(rconn_wait_reply(&sub, 100, -1, &timed_out));
    cr_assert_eq(timed_out, 1);
    cr_assert_eq(sub.state, RCONN_READY, "a timeout leaves it open");

    r = rconn_call(&pub, "PUBLISH", err, NULL, "PUBLISH ch %s", "hi");
    cr_assert(r != NULL && r->integer == 1, "%s", err);
    freeReplyObject(r);
    r = rconn_wait_reply(&sub, WAIT_MS, -1, &timed_out);
    cr_assert_not_null(r, "%s", rconn_error(&sub));
    cr_assert_eq(timed_out, 0);
    cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 3);
    cr_assert_str_eq(r->element[0]->str, "message");
    cr_assert_str_eq(r->element[2]->str, "hi");
    freeReplyObject(r);
    rconn_close(&pub);
    rconn_close(&sub);
}

Test(rconn_io, wait_reply_ends_on_stopfd)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    struct rconn rc;
    int efd = eventfd(0, EFD_CLOEXEC), timed_out = -1;
    uint64_t one = 1;

    cr_assert_geq(efd, 0);
    open_ok(&rc, &t, NULL);
    cr_assert_eq(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
    /* A minute's wait, far past the suite's timeout: only the stop fd can
     * end it. */
    cr_assert_null(rconn_wait_reply(&rc, 60000, efd, &timed_out));
    cr_assert_eq(timed_out, 1);
    cr_assert_eq(rc.state, RCONN_READY);
    rconn_close(&rc);
    close(efd);
}

/* ---- a fake server sends the bytes ---- */

/* rc open (no handshake) to a fake; returns the fake's end. */
static int
fake_open(struct rconn *rc, int lfd, int port, struct redis_target *t)
{
    enum rconn_state st;
    int peer;

    *t = target_at(port, "", "", 0);
    rconn_init(rc);
    st = rconn_start(rc, t, NULL);
    peer = fake_accept(lfd);
    if (st == RCONN_CONNECTING) {
        st = drive_open(rc);
    }
    cr_assert_eq(st, RCONN_READY, "%s", rconn_error(rc));
    return peer;
}

/* Reads until n bytes are buffered in all (bounded). */
static void
read_until(struct rconn *rc, size_t n)
{
    while (rc->end - rc->start < n) {
        long got = rconn_read(rc);

        cr_assert_geq(got, 0, "%s", rconn_error(rc));
        if (got == 0) {
            wait_fd(rc->fd, POLLIN);
        }
    }
}

Test(rconn_fake, reply_split_across_reads)
{
    static const char reply[] = "*3\r\n$5\r\nhello\r\n:42\r\n*1\r\n+OK\r\n";
    int port, lfd = fake_listen(&port, 8), peer;
    struct redis_target t;
    struct rconn rc;
    const char *p;
    size_t len, i;

    peer = fake_open(&rc, lfd, port, &t);
    /* One byte at a time: incomplete until the last. */
    for (i = 0; i + 1 < sizeof(reply) - 1; i++) {
        char one[2] = {reply[i], '\0'};

        fake_send(peer, one);
        read_until(&rc, i + 1);
        cr_assert_eq(rconn_reply(&rc, &p, &len), RESP_INCOMPLETE,
                     "complete after %zu bytes", i + 1);
    }
    fake_send(peer, reply + i);
    cr_assert_eq(next_reply(&rc, &p), sizeof(reply) - 1);
    cr_assert_arr_eq(p, reply, sizeof(reply) - 1);
    rconn_consume(&rc);
    cr_assert_eq(rconn_buffered(&rc), 0);

    /* Two replies in one read, the second cut inside its bulk. */
    fake_send(peer, "+one\r\n$5\r\nhel");
    cr_assert_eq(next_reply(&rc, &p), 6);
    cr_assert_arr_eq(p, "+one\r\n", 6);
    rconn_consume(&rc);
    cr_assert_eq(rconn_buffered(&rc), 1);
    read_until(&rc, 7);
    cr_assert_eq(rconn_reply(&rc, &p, &len), RESP_INCOMPLETE);
    fake_send(peer, "lo\r\n");
    cr_assert_eq(next_reply(&rc, &p), 11);
    cr_assert_arr_eq(p, "$5\r\nhello\r\n", 11);
    rconn_consume(&rc);
    cr_assert_eq(rconn_buffered(&rc), 0);
    rconn_close(&rc);
    close(peer);
    close(lfd);
}

Test(rconn_fake, bytes_that_are_no_reply_fail_it)
{
    int port, lfd = fake_listen(&port, 8), peer;
    struct redis_target t;
    struct rconn rc;
    const char *p;
    size_t len;

    peer = fake_open(&rc, lfd, port, &t);
    fake_send(peer, "?what\r\n");
    read_until(&rc, 7);
    cr_assert_eq(rconn_reply(&rc, &p, &len), RESP_EPROTO);
    cr_assert_eq(rc.state, RCONN_FAILED);
    cr_assert_str_eq(rconn_error(&rc),
                     "Protocol error: bytes from redis are no reply");
    rconn_close(&rc);
    close(peer);
    close(lfd);
}

Test(rconn_fake, call_without_reply_times_out)
{
    int port, lfd = fake_listen(&port, 8), peer;
    struct redis_target t;
    struct rconn rc;
    char err[REDIS_ERR_MAX];
    int is_error = -1;

    peer = fake_open(&rc, lfd, port, &t);
    tcfg.command_timeout_ms = 200; /* read at the call */
    cr_assert_null(rconn_call(&rc, "PING", err, &is_error, "PING"));
    cr_assert_str_eq(err, "PING: no reply within 200 ms");
    cr_assert_eq(is_error, 0);
    cr_assert_eq(rc.state, RCONN_FAILED, "a reply is owed: out of step");
    fake_expect(peer, "*1\r\n$4\r\nPING\r\n");
    rconn_close(&rc);
    close(peer);
    close(lfd);
}

Test(rconn_fake, wait_reply_keeps_a_partial_reply_across_a_timeout)
{
    int port, lfd = fake_listen(&port, 8), peer, timed_out = -1;
    struct redis_target t;
    struct rconn rc;
    redisReply *r;

    peer = fake_open(&rc, lfd, port, &t);
    fake_send(peer, "*2\r\n$3\r\nabc\r\n");
    cr_assert_null(rconn_wait_reply(&rc, 100, -1, &timed_out));
    cr_assert_eq(timed_out, 1);
    cr_assert_eq(rc.state, RCONN_READY);
    fake_send(peer, ":7\r\n");
    r = rconn_wait_reply(&rc, WAIT_MS, -1, &timed_out);
    cr_assert_not_null(r, "%s", rconn_error(&rc));
    cr_assert_eq(r->elements, 2);
    cr_assert_str_eq(r->element[0]->str, "abc");
    cr_assert_eq(r->element[1]->integer, 7);
    freeReplyObject(r);
    rconn_close(&rc);
    close(peer);
    close(lfd);
}

Test(rconn_fake, send_all_then_eof)
{
    int port, lfd = fake_listen(&port, 8), peer, timed_out = -1;
    struct redis_target t;
    struct rconn rc;

    peer = fake_open(&rc, lfd, port, &t);
    cr_assert_eq(rconn_send_all(&rc, "*1\r\n$4\r\nPING\r\n", 14), 0);
    fake_expect(peer, "*1\r\n$4\r\nPING\r\n");
    close(peer);
    cr_assert_null(rconn_wait_reply(&rc, WAIT_MS, -1, &timed_out));
    cr_assert_eq(timed_out, 0);
    cr_assert_eq(rc.state, RCONN_FAILED);
    cr_assert_str_eq(rconn_error(&rc), "Server closed the connection");
    cr_assert_eq(rconn_send_all(&rc, "x", 1), -1, "sticky");
    rconn_close(&rc);
    close(lfd);
}
