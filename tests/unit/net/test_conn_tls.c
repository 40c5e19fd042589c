/*
 * Unit tests for conn over TLS, on socketpairs (the conn's end as a TLS
 * listener's conn after accept; the test is a net/tls client on the
 * other): conn_start_tls starts the request clock; conn_read steps the
 * handshake without blocking (CONN_IO_AGAIN until the client answers),
 * stops the clock and counts the handshake once it completes, then returns
 * decrypted bytes; a failed handshake is CONN_IO_ERR and counted by cause;
 * decrypted bytes held back by a small rbuf are not "drained" and count as
 * input waiting (what the waiter checks); conn_flush sends queued output
 * (copied and referenced ranges, more than a record) through TLS, and on a
 * full socket keeps the rest with conn_wants_write set until the client
 * reads; conn_send_now says nothing during the handshake and sends after
 * it; conn_destroy sends close_notify.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/conn.h"
#include "tls_helpers.h"

static const struct conn_ops test_ops = {.name = "test"};
static struct conn_budget budget;
static struct conn_tls_stats stats;
static struct conn_kind kind = {
    .ops = &test_ops, .budget = &budget, .tls_stats = &stats};

/* The conn (server side, from kind) and the client, handshake not done. */
struct fixture {
    struct conn *c;
    struct tls *client;
    struct tls_ctx *cctx;
    int peer;
};

static void
open_fixture(struct fixture *f, enum tls_verify v)
{
    int sv[2];

    kind.tls = server_ctx("server", v);
    f->cctx = client_ctx("ca.crt", NULL);
    nb_pair(sv);
    f->c = conn_create(sv[0], &kind);
    cr_assert_not_null(f->c);
    atomic_fetch_add(&budget.open, 1);
    cr_assert_eq(conn_start_tls(f->c), 0);
    f->peer = sv[1];
    f->client = tls_create(f->cctx, sv[1], "localhost");
    cr_assert_not_null(f->client);
}

static void
close_fixture(struct fixture *f)
{
    conn_destroy(f->c);
    tls_free(f->client);
    close(f->peer);
    tls_ctx_release(f->cctx);
    tls_ctx_release(kind.tls);
    kind.tls = NULL;
}

/* Steps client and conn until the conn has completed its handshake. */
static void
handshake(struct fixture *f)
{
    int i, rc = TLS_WANT_READ;
    long n = CONN_IO_AGAIN;

    for (i = 0; i < 32 && (n == CONN_IO_AGAIN || rc != TLS_OK); i++) {
        if (rc != TLS_OK) {
            rc = tls_handshake(f->client);
            cr_assert(rc == TLS_OK || rc == TLS_WANT_READ, "client: %s",
                      tls_reason(f->client));
        }
        if (n == CONN_IO_AGAIN) {
            n = conn_read(f->c);
        }
        if (!conn_handshaking(f->c) && rc == TLS_OK) {
            return;
        }
    }
    cr_assert_fail("no handshake");
}

Test(conn_tls, reading_steps_the_handshake_then_returns_plaintext)
{
    long handshakes = atomic_load(&stats.handshakes);
    struct fixture f;

    open_fixture(&f, TLS_VERIFY_OFF);
    cr_assert_neq(f.c->req_start_ms, 0, "the handshake is a request");
    cr_assert(conn_handshaking(f.c));
    /* Nothing from the client yet: again later, at once. */
    cr_assert_eq(conn_read(f.c), CONN_IO_AGAIN);
    handshake(&f);
    cr_assert_not(conn_handshaking(f.c));
    cr_assert_eq(f.c->req_start_ms, 0, "idle once the handshake is over");
    cr_assert_eq(atomic_load(&stats.handshakes), handshakes + 1);
    cr_assert_eq(tls_writev(f.client, &(struct iovec){"PING\r\n", 6}, 1), 6);
    cr_assert_eq(conn_read(f.c), 6);
    cr_assert_eq(memcmp(f.c->rbuf, "PING\r\n", 6), 0);
    cr_assert(f.c->drained, "one short read emptied the socket");
    cr_assert_eq(conn_read(f.c), CONN_IO_AGAIN);
    close_fixture(&f);
}

Test(conn_tls, a_failed_handshake_is_an_error_counted_by_cause)
{
    long not_tls = atomic_load(&stats.failed[TLS_FAIL_NOT_TLS]);
    long cert = atomic_load(&stats.failed[TLS_FAIL_CERT]);
    struct fixture f;
    int i, rc = 0;
    long n = CONN_IO_AGAIN;

    open_fixture(&f, TLS_VERIFY_OFF);
    cr_assert_eq(send(f.peer, "GET / HTTP/1.1\r\n\r\n", 18, 0), 18);
    cr_assert_eq(conn_read(f.c), CONN_IO_ERR);
    cr_assert_eq(atomic_load(&stats.failed[TLS_FAIL_NOT_TLS]), not_tls + 1);
    close_fixture(&f);

    /* A client certificate required, none sent. */
    open_fixture(&f, TLS_VERIFY_ON);
    for (i = 0; i < 32 && n == CONN_IO_AGAIN; i++) {
        rc = tls_handshake(f.client);
        n = conn_read(f.c);
    }
    (void)rc;
    cr_assert_eq(n, CONN_IO_ERR);
    cr_assert_eq(atomic_load(&stats.failed[TLS_FAIL_CERT]), cert + 1);
    close_fixture(&f);
}

Test(conn_tls, decrypted_bytes_held_back_are_input_waiting)
{
    static char big[CONN_RBUF + 100];
    struct fixture f;
    size_t sent = 0;

    memset(big, 'x', sizeof(big));
    open_fixture(&f, TLS_VERIFY_OFF);
    handshake(&f);
    while (sent < sizeof(big)) {
        long n = tls_writev(f.client,
                            &(struct iovec){big + sent, sizeof(big) - sent}, 1);

        cr_assert_gt(n, 0);
        sent += (size_t)n;
    }
    cr_assert_gt(conn_read(f.c), 0);
    while (conn_read(f.c) > 0) {
    }
    /* rbuf is full; what the client sent beyond it is inside the TLS
     * connection, no longer on the socket. */
    cr_assert_eq(f.c->rlen, CONN_RBUF);
    cr_assert_eq(conn_read(f.c), 0);
    cr_assert_not(f.c->drained);
    cr_assert(conn_input_waiting(f.c));
    conn_consume(f.c, CONN_RBUF);
    cr_assert_eq(conn_read(f.c), 100);
    cr_assert_not(conn_input_waiting(f.c));
    close_fixture(&f);
}

static int released;

static void
count_release(void *owner)
{
    (void)owner;
    released++;
}

Test(conn_tls, flush_sends_queued_output_through_tls_and_waits_on_a_full_socket)
{
    static char value[256 * 1024];
    size_t want = 5 + sizeof(value) + 2, got = 0;
    static char in[256 * 1024 + 16];
    struct fixture f;
    int small = 4096, rc, i;

    for (i = 0; i < (int)sizeof(value); i++) {
        value[i] = (char)('a' + i % 26);
    }
    open_fixture(&f, TLS_VERIFY_OFF);
    handshake(&f);
    setsockopt(f.c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    cr_assert_eq(conn_write_buf(f.c, "$big\n", 5), 0);
    cr_assert_eq(conn_write_ref(f.c, value, sizeof(value), count_release, NULL),
                 0);
    cr_assert_eq(conn_write_buf(f.c, "\r\n", 2), 0);
    rc = conn_flush(f.c);
    cr_assert_eq(rc, CONN_IO_AGAIN, "256 KiB fit a 4 KiB socket buffer?");
    cr_assert(conn_wants_write(f.c));
    cr_assert_neq(f.c->stall_ms, 0);
    for (i = 0; got < want && i < 100000; i++) {
        long n = tls_read(f.client, in + got, sizeof(in) - got);

        if (n > 0) {
            got += (size_t)n;
        } else if (conn_flush(f.c) == CONN_IO_ERR) {
            cr_assert_fail("flush failed");
        }
    }
    cr_assert_eq(got, want);
    cr_assert_eq(memcmp(in, "$big\n", 5), 0);
    cr_assert_eq(memcmp(in + 5, value, sizeof(value)), 0);
    cr_assert_eq(memcmp(in + 5 + sizeof(value), "\r\n", 2), 0);
    cr_assert_eq(conn_flush(f.c), CONN_IO_OK);
    cr_assert_not(conn_wants_write(f.c));
    cr_assert_eq(released, 1);
    close_fixture(&f);
}

Test(conn_tls, send_now_is_silent_in_the_handshake_and_encrypted_after)
{
    struct fixture f;
    char buf[32];
    int n;

    open_fixture(&f, TLS_VERIFY_OFF);
    conn_send_now(f.c, "408", 3);
    cr_assert_eq(recv(f.peer, buf, sizeof(buf), MSG_DONTWAIT), -1,
                 "plain text went out before the handshake");
    handshake(&f);
    conn_send_now(f.c, "late word", 9);
    n = (int)tls_read(f.client, buf, sizeof(buf));
    cr_assert_eq(n, 9);
    cr_assert_eq(memcmp(buf, "late word", 9), 0);
    close_fixture(&f);
}

Test(conn_tls, destroy_says_close_notify)
{
    struct fixture f;
    char buf[8];

    open_fixture(&f, TLS_VERIFY_OFF);
    handshake(&f);
    conn_destroy(f.c);
    f.c = NULL;
    cr_assert_eq(tls_read(f.client, buf, sizeof(buf)), TLS_EOF);
    tls_free(f.client);
    close(f.peer);
    tls_ctx_release(f.cctx);
    tls_ctx_release(kind.tls);
    kind.tls = NULL;
}
