/*
 * Unit tests for net/tls: a server and a client made from our own
 * contexts, over non-blocking socketpairs, each stepped by hand (every
 * call returns at once; the first server step, before the client said
 * anything, wants to read); data both ways, gathered writes of many small
 * ranges in one record, partial writes on a full socket resumed with the
 * same bytes, decrypted bytes held back for a small read (tls_pending,
 * tls_drained), close_notify both ways; refusals with the reason naming
 * the cause (unknown CA, expired certificate, name mismatch for a DNS name
 * and an IP address, no client certificate, a client certificate of an
 * unknown CA, not TLS at all, a closed connection); renegotiation and
 * TLS 1.1 refused; a context released while its connections live on
 * (reload); every context error naming the setting at fault. And the
 * client side against a real redis-server --tls-port: PING, with and
 * without a client certificate, and a wrong CA refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls_helpers.h"

#define STEPS 64 /* handshake steps at most */

/* Both ends of one connection. */
struct pair {
    int sv[2]; /* sv[0]: server, sv[1]: client */
    struct tls *server, *client;
    int server_rc, client_rc;
    int wants; /* TLS_WANT_READ results seen: the calls did not block */
};

static void
pair_open(struct pair *p, struct tls_ctx *sctx, struct tls_ctx *cctx,
          const char *name)
{
    memset(p, 0, sizeof(*p));
    nb_pair(p->sv);
    p->server = tls_create(sctx, p->sv[0], NULL);
    p->client = tls_create(cctx, p->sv[1], name);
    cr_assert_not_null(p->server);
    cr_assert_not_null(p->client);
    p->server_rc = p->client_rc = TLS_WANT_READ;
}

static void
pair_close(struct pair *p)
{
    tls_free(p->server);
    tls_free(p->client);
    close(p->sv[0]);
    close(p->sv[1]);
}

static int
moving(int rc)
{
    return rc == TLS_WANT_READ || rc == TLS_WANT_WRITE;
}

/* Steps both handshakes, server first, until neither can move. */
static void
handshake(struct pair *p)
{
    int i;

    for (i = 0; i < STEPS; i++) {
        if (moving(p->server_rc)) {
            p->server_rc = tls_handshake(p->server);
            p->wants += p->server_rc == TLS_WANT_READ;
        }
        if (moving(p->client_rc)) {
            p->client_rc = tls_handshake(p->client);
            p->wants += p->client_rc == TLS_WANT_READ;
        }
        if (!moving(p->server_rc) && !moving(p->client_rc)) {
            return;
        }
        /* One side failed: let the other read the alert it sent. */
        if (p->server_rc == TLS_ERR || p->client_rc == TLS_ERR) {
            if (i > 4) {
                return;
            }
        }
    }
    cr_assert_fail("handshake did not finish in %d steps", STEPS);
}

/* Reads exactly n bytes from t, stepping until they are there. */
static void
read_n(struct tls *t, char *buf, size_t n)
{
    size_t got = 0;
    int i;

    for (i = 0; got < n && i < 10000; i++) {
        long r = tls_read(t, buf + got, n - got);

        if (r > 0) {
            got += (size_t)r;
        } else {
            cr_assert(moving((int)r), "tls_read: %ld (%s)", r, tls_reason(t));
        }
    }
    cr_assert_eq(got, n);
}

Test(tls, handshake_steps_without_blocking_then_carries_data_both_ways)
{
    struct tls_ctx *s = server_ctx("server", TLS_VERIFY_OFF);
    struct tls_ctx *c = client_ctx("ca.crt", NULL);
    struct pair p;
    char buf[64];

    pair_open(&p, s, c, "localhost");
    /* Nothing sent yet: the server wants to read, at once. */
    cr_assert_eq(tls_handshake(p.server), TLS_WANT_READ);
    cr_assert_not(tls_established(p.server));
    handshake(&p);
    cr_assert_eq(p.server_rc, TLS_OK, "server: %s", tls_reason(p.server));
    cr_assert_eq(p.client_rc, TLS_OK, "client: %s", tls_reason(p.client));
    cr_assert_gt(p.wants, 1);
    cr_assert(tls_established(p.client));
    cr_assert_eq(strncmp(tls_describe(p.server), "TLSv1.3 ", 8), 0, "%s",
                 tls_describe(p.server));
    cr_assert_eq(tls_failure(p.server), TLS_FAIL_NONE);
    cr_assert_str_empty(tls_reason(p.client));

    cr_assert_eq(tls_writev(p.client, &(struct iovec){"PING\r\n", 6}, 1), 6);
    read_n(p.server, buf, 6);
    cr_assert_eq(memcmp(buf, "PING\r\n", 6), 0);
    cr_assert_eq(tls_read(p.server, buf, sizeof(buf)), TLS_WANT_READ);
    cr_assert(tls_drained(p.server));

    struct iovec iov[3] = {{"+PO", 3}, {"NG", 2}, {"\r\n", 2}};
    cr_assert_eq(tls_writev(p.server, iov, 3), 7);
    read_n(p.client, buf, 7);
    cr_assert_eq(memcmp(buf, "+PONG\r\n", 7), 0);
    pair_close(&p);
    tls_ctx_release(s);
    tls_ctx_release(c);
}

Test(tls, small_ranges_are_gathered_into_one_record)
{
    struct tls_ctx *s = server_ctx("server", TLS_VERIFY_OFF);
    struct tls_ctx *c = client_ctx("ca.crt", NULL);
    struct iovec iov[40];
    char want[400], got[400];
    struct pair p;
    int i, n;

    pair_open(&p, s, c, "localhost");
    handshake(&p);
    cr_assert_eq(p.client_rc, TLS_OK);
    for (i = 0; i < 40; i++) {
        memset(want + i * 10, 'a' + i % 26, 10);
        iov[i] = (struct iovec){want + i * 10, 10};
    }
    cr_assert_eq(tls_writev(p.server, iov, 40), 400);
    /* One record: one read returns all of it. */
    n = (int)tls_read(p.client, got, sizeof(got));
    cr_assert_eq(n, 400);
    cr_assert_eq(memcmp(want, got, 400), 0);
    pair_close(&p);
    tls_ctx_release(s);
    tls_ctx_release(c);
}

Test(tls, partial_writes_resume_with_the_same_bytes_on_a_full_socket)
{
    struct tls_ctx *s = server_ctx("server", TLS_VERIFY_OFF);
    struct tls_ctx *c = client_ctx("ca.crt", NULL);
    size_t total = 1 << 20, sent = 0, got = 0, i;
    char *data = malloc(total), *in = malloc(total);
    int small = 4096, blocked = 0, rounds;
    struct pair p;

    cr_assert_not_null(data);
    cr_assert_not_null(in);
    for (i = 0; i < total; i++) {
        data[i] = (char)(i * 7 + i / 4096);
    }
    pair_open(&p, s, c, "localhost");
    handshake(&p);
    cr_assert_eq(p.server_rc, TLS_OK);
    setsockopt(p.sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    for (rounds = 0; got < total && rounds < 1000000; rounds++) {
        if (sent < total) {
            /* Two ranges: a small head, then the rest by reference. */
            struct iovec iov[2] = {{data + sent, 1},
                                   {data + sent + 1, total - sent - 1}};
            long n = tls_writev(p.server, iov, total - sent > 1 ? 2 : 1);

            if (n > 0) {
                sent += (size_t)n;
            } else {
                cr_assert_eq(n, TLS_WANT_WRITE, "%s", tls_reason(p.server));
                cr_assert(tls_wants_write(p.server));
                blocked++;
            }
        }
        long r = tls_read(p.client, in + got, total - got);
        if (r > 0) {
            got += (size_t)r;
        } else {
            cr_assert_eq(r, TLS_WANT_READ);
        }
    }
    cr_assert_eq(got, total);
    cr_assert_gt(blocked, 0, "the socket never filled up");
    cr_assert_eq(memcmp(data, in, total), 0);
    pair_close(&p);
    free(data);
    free(in);
    tls_ctx_release(s);
    tls_ctx_release(c);
}

Test(tls, bytes_decrypted_but_not_read_are_pending_not_drained)
{
    struct tls_ctx *s = server_ctx("server", TLS_VERIFY_OFF);
    struct tls_ctx *c = client_ctx("ca.crt", NULL);
    char buf[16];
    struct pair p;

    pair_open(&p, s, c, "localhost");
    handshake(&p);
    cr_assert_eq(tls_writev(p.client, &(struct iovec){"0123456789", 10}, 1),
                 10);
    cr_assert_eq(tls_read(p.server, buf, 4), 4);
    /* The socket has nothing more, but 6 bytes wait inside: a poller
     * would never be told about them. */
    cr_assert_eq(tls_pending(p.server), 6);
    cr_assert(tls_buffered(p.server));
    cr_assert_not(tls_drained(p.server));
    cr_assert_eq(tls_read(p.server, buf + 4, 12), 6);
    cr_assert_eq(memcmp(buf, "0123456789", 10), 0);
    cr_assert_eq(tls_pending(p.server), 0);
    cr_assert(tls_drained(p.server));
    pair_close(&p);
    tls_ctx_release(s);
    tls_ctx_release(c);
}

Test(tls, close_notify_is_sent_and_read_both_ways)
{
    struct tls_ctx *s = server_ctx("server", TLS_VERIFY_OFF);
    struct tls_ctx *c = client_ctx("ca.crt", NULL);
    char buf[16];
    struct pair p;

    pair_open(&p, s, c, "localhost");
    handshake(&p);
    cr_assert_eq(tls_shutdown(p.client), TLS_OK);
    cr_assert_eq(tls_read(p.server, buf, sizeof(buf)), TLS_EOF);
    cr_assert_eq(tls_shutdown(p.server), TLS_OK);
    cr_assert_eq(tls_read(p.client, buf, sizeof(buf)), TLS_EOF);
    pair_close(&p);

    /* A bare close (no close_notify) after the handshake is an end of
     * file too: many clients do not say goodbye. */
    pair_open(&p, s, c, "localhost");
    handshake(&p);
    shutdown(p.sv[1], SHUT_WR);
    cr_assert_eq(tls_read(p.server, buf, sizeof(buf)), TLS_EOF);
    pair_close(&p);
    tls_ctx_release(s);
    tls_ctx_release(c);
}

/* A handshake the client refuses, with the reason it gives. */
static void
expect_client_refuses(const char *server_cert, const char *ca, const char *name,
                      const char *reason)
{
    struct tls_ctx *s = server_ctx(server_cert, TLS_VERIFY_OFF);
    struct tls_ctx *c = client_ctx(ca, NULL);
    struct pair p;

    pair_open(&p, s, c, name);
    handshake(&p);
    cr_assert_eq(p.client_rc, TLS_ERR, "the client accepted %s", server_cert);
    cr_assert_eq(tls_failure(p.client), TLS_FAIL_CERT);
    cr_assert(strstr(tls_reason(p.client), reason) != NULL,
              "reason '%s' does not say '%s'", tls_reason(p.client), reason);
    /* The server hears of it (the client's alert) and fails too. */
    cr_assert_eq(p.server_rc, TLS_ERR);
    cr_assert_eq(tls_failure(p.server), TLS_FAIL_CERT, "%s",
                 tls_reason(p.server));
    pair_close(&p);
    tls_ctx_release(s);
    tls_ctx_release(c);
}

Test(tls, a_certificate_of_an_unknown_ca_is_refused)
{
    expect_client_refuses("stranger", "ca.crt", "localhost",
                          "certificate verify failed: unknown CA");
}

Test(tls, an_expired_certificate_is_refused)
{
    expect_client_refuses("expired", "ca.crt", "localhost",
                          "certificate verify failed: certificate expired");
}

Test(tls, a_certificate_for_another_name_is_refused)
{
    expect_client_refuses("other-name", "ca.crt", "localhost",
                          "certificate verify failed: name mismatch");
}

Test(tls, an_ip_address_is_matched_against_the_ip_entries)
{
    struct tls_ctx *s = server_ctx("server", TLS_VERIFY_OFF);
    struct tls_ctx *c = client_ctx("ca.crt", NULL);
    struct pair p;

    pair_open(&p, s, c, "127.0.0.1");
    handshake(&p);
    cr_assert_eq(p.client_rc, TLS_OK, "%s", tls_reason(p.client));
    pair_close(&p);
    tls_ctx_release(s);
    tls_ctx_release(c);
    expect_client_refuses("server", "ca.crt", "127.0.0.2",
                          "certificate verify failed: name mismatch");
}

Test(tls, verification_off_accepts_any_certificate)
{
    struct tls_settings cs = {.server = 0, .insecure = 1};
    struct tls_ctx *s = server_ctx("expired", TLS_VERIFY_OFF);
    enum tls_part part;
    char err[256];
    struct tls_ctx *c = tls_ctx_create(&cs, &part, err, sizeof(err));
    struct pair p;

    cr_assert_not_null(c, "%s", err);
    pair_open(&p, s, c, "not-the-name.example");
    handshake(&p);
    cr_assert_eq(p.client_rc, TLS_OK, "%s", tls_reason(p.client));
    pair_close(&p);
    tls_ctx_release(s);
    tls_ctx_release(c);
}

/* Server requiring (or asking for) client certificates. */
static void
client_cert_case(enum tls_verify v, const char *client, int ok,
                 const char *server_reason)
{
    struct tls_ctx *s = server_ctx("server", v);
    struct tls_ctx *c = client_ctx("ca.crt", client);
    char buf[8];
    struct pair p;

    pair_open(&p, s, c, "localhost");
    handshake(&p);
    if (ok) {
        cr_assert_eq(p.server_rc, TLS_OK, "server: %s", tls_reason(p.server));
        cr_assert_eq(p.client_rc, TLS_OK, "client: %s", tls_reason(p.client));
    } else {
        cr_assert_eq(p.server_rc, TLS_ERR, "the server let %s in",
                     client != NULL ? client : "a client without one");
        cr_assert_eq(tls_failure(p.server), TLS_FAIL_CERT);
        cr_assert(strstr(tls_reason(p.server), server_reason) != NULL,
                  "reason '%s' does not say '%s'", tls_reason(p.server),
                  server_reason);
        /* TLS 1.3: the client may have finished first; its next read
         * gets the server's alert. */
        if (p.client_rc == TLS_OK) {
            cr_assert_eq(tls_read(p.client, buf, sizeof(buf)), TLS_ERR);
        }
        cr_assert_eq(tls_failure(p.client), TLS_FAIL_CERT, "%s",
                     tls_reason(p.client));
    }
    pair_close(&p);
    tls_ctx_release(s);
    tls_ctx_release(c);
}

Test(tls, a_required_client_certificate_is_checked)
{
    client_cert_case(TLS_VERIFY_ON, "client", 1, NULL);
    client_cert_case(TLS_VERIFY_ON, NULL, 0, "no certificate");
    client_cert_case(TLS_VERIFY_ON, "stranger-client", 0,
                     "certificate verify failed: unknown CA");
}

Test(tls, an_optional_client_certificate_is_checked_when_sent)
{
    client_cert_case(TLS_VERIFY_OPTIONAL, NULL, 1, NULL);
    client_cert_case(TLS_VERIFY_OPTIONAL, "client", 1, NULL);
    client_cert_case(TLS_VERIFY_OPTIONAL, "stranger-client", 0,
                     "certificate verify failed: unknown CA");
}

/* What the server says of bytes that are no TLS handshake. */
static void
expect_not_tls(const char *bytes, size_t len, enum tls_fail fail,
               const char *reason)
{
    struct tls_ctx *s = server_ctx("server", TLS_VERIFY_OFF);
    struct tls *t;
    int sv[2], rc;

    nb_pair(sv);
    t = tls_create(s, sv[0], NULL);
    cr_assert_not_null(t);
    cr_assert_eq(send(sv[1], bytes, len, 0), (ssize_t)len);
    shutdown(sv[1], SHUT_WR);
    rc = tls_handshake(t);
    cr_assert_eq(rc, TLS_ERR, "rc %d", rc);
    cr_assert_eq(tls_failure(t), fail, "%s", tls_reason(t));
    cr_assert(strstr(tls_reason(t), reason) != NULL,
              "reason '%s' does not say '%s'", tls_reason(t), reason);
    /* Nothing may be sent after a failure: close_notify is skipped. */
    cr_assert_eq(tls_shutdown(t), TLS_OK);
    tls_free(t);
    close(sv[0]);
    close(sv[1]);
    tls_ctx_release(s);
}

Test(tls, plain_text_instead_of_a_client_hello_is_not_tls)
{
    expect_not_tls("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, TLS_FAIL_NOT_TLS,
                   "not TLS");
    expect_not_tls("*1\r\n$4\r\nPING\r\n", 14, TLS_FAIL_NOT_TLS, "not TLS");
    expect_not_tls("\x16\x03\x01\xff\xff garbage", 14, TLS_FAIL_NOT_TLS,
                   "not TLS");
}

Test(tls, a_close_during_the_handshake_is_reported_as_closed)
{
    /* The first bytes of a ClientHello, then the end of the stream. */
    expect_not_tls("\x16\x03\x01\x00\xf0\x01\x00", 7, TLS_FAIL_CLOSED,
                   "closed the connection during the handshake");
    expect_not_tls("", 0, TLS_FAIL_CLOSED, "closed");
}

/* A client of OpenSSL's own, for what our client never does. */
static SSL *
raw_client(int fd, int max_version, SSL_CTX **out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl;

    cr_assert_not_null(ctx);
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_min_proto_version(ctx, 0);
    SSL_CTX_set_max_proto_version(ctx, max_version);
    SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
    ssl = SSL_new(ctx);
    cr_assert_not_null(ssl);
    SSL_set_fd(ssl, fd);
    SSL_set_connect_state(ssl);
    *out = ctx;
    return ssl;
}

Test(tls, renegotiation_is_refused)
{
    struct tls_ctx *s = server_ctx("server", TLS_VERIFY_OFF);
    SSL_CTX *cctx;
    struct tls *t;
    char buf[16];
    int sv[2], i, rc = 0;
    SSL *c;

    nb_pair(sv);
    t = tls_create(s, sv[0], NULL);
    c = raw_client(sv[1], TLS1_2_VERSION, &cctx);
    for (i = 0; i < STEPS && (rc = SSL_do_handshake(c)) != 1; i++) {
        tls_handshake(t);
    }
    cr_assert_eq(rc, 1);
    cr_assert_eq(tls_handshake(t), TLS_OK);
    cr_assert_str_eq(SSL_get_version(c), "TLSv1.2");
    cr_assert_eq(SSL_renegotiate(c), 1);
    for (i = 0; i < STEPS; i++) {
        rc = SSL_do_handshake(c);
        if (rc != 1 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ) {
            break;
        }
        cr_assert_eq(tls_read(t, buf, sizeof(buf)), TLS_WANT_READ);
    }
    /* The server said no (a no_renegotiation alert): the client's
     * renegotiation failed, and the server's connection is intact. */
    cr_assert_neq(rc, 1);
    cr_assert_eq(SSL_get_error(c, rc), SSL_ERROR_SSL);
    cr_assert_eq(ERR_GET_REASON(ERR_peek_error()), SSL_R_NO_RENEGOTIATION);
    ERR_clear_error();
    SSL_free(c);
    SSL_CTX_free(cctx);
    tls_free(t);
    close(sv[0]);
    close(sv[1]);
    tls_ctx_release(s);
}

Test(tls, versions_before_tls_1_2_are_refused)
{
    struct tls_ctx *s = server_ctx("server", TLS_VERIFY_OFF);
    SSL_CTX *cctx;
    struct tls *t;
    int sv[2], i, rc = 0;
    SSL *c;

    nb_pair(sv);
    t = tls_create(s, sv[0], NULL);
    c = raw_client(sv[1], TLS1_1_VERSION, &cctx);
    for (i = 0; i < STEPS; i++) {
        rc = SSL_do_handshake(c);
        if (rc == 1 || SSL_get_error(c, rc) != SSL_ERROR_WANT_READ ||
            tls_handshake(t) == TLS_ERR) {
            break;
        }
    }
    ERR_clear_error();
    cr_assert_eq(tls_handshake(t), TLS_ERR);
    cr_assert_eq(tls_failure(t), TLS_FAIL_PROTOCOL, "%s", tls_reason(t));
    cr_assert(strstr(tls_reason(t), "protocol") != NULL, "%s", tls_reason(t));
    SSL_free(c);
    SSL_CTX_free(cctx);
    tls_free(t);
    close(sv[0]);
    close(sv[1]);
    tls_ctx_release(s);
}

Test(tls, a_released_context_lives_on_in_its_connections)
{
    struct tls_ctx *old = server_ctx("server", TLS_VERIFY_OFF);
    struct tls_ctx *c = client_ctx("ca.crt", NULL);
    struct tls_ctx *fresh;
    struct pair p, q;
    char buf[8];

    pair_open(&p, old, c, "localhost");
    handshake(&p);
    cr_assert_eq(p.server_rc, TLS_OK);
    /* A reload: the listener's reference goes, a new context comes. */
    tls_ctx_release(old);
    fresh = server_ctx("server2", TLS_VERIFY_OFF);
    cr_assert_str_neq(tls_ctx_describe(fresh), "");
    pair_open(&q, fresh, c, "localhost");
    handshake(&q);
    cr_assert_eq(q.client_rc, TLS_OK, "%s", tls_reason(q.client));
    /* The old connection still works. */
    cr_assert_eq(tls_writev(p.server, &(struct iovec){"old", 3}, 1), 3);
    read_n(p.client, buf, 3);
    cr_assert_eq(memcmp(buf, "old", 3), 0);
    pair_close(&p); /* frees the old context's last reference */
    pair_close(&q);
    tls_ctx_release(fresh);
    tls_ctx_release(c);
}

/* tls_ctx_create(s) fails blaming part, with text in its error. */
static void
expect_ctx_error(const struct tls_settings *s, enum tls_part part,
                 const char *text)
{
    enum tls_part got;
    char err[256];

    cr_assert_null(tls_ctx_create(s, &got, err, sizeof(err)));
    cr_assert_eq(got, part, "part %d, error '%s'", got, err);
    cr_assert(strstr(err, text) != NULL, "error '%s' does not say '%s'", err,
              text);
}

Test(tls, context_errors_name_the_setting_at_fault)
{
    char crt[256], key[256], ca[256], mismatch[256], missing[256];
    struct tls_settings s = {.server = 1, .cert_file = crt, .key_file = key};

    snprintf(crt, sizeof(crt), "%s", cert("server.crt"));
    snprintf(key, sizeof(key), "%s", cert("server.key"));
    snprintf(ca, sizeof(ca), "%s", cert("ca.crt"));
    snprintf(mismatch, sizeof(mismatch), "%s", cert("mismatch.key"));
    snprintf(missing, sizeof(missing), "%s", cert("none.pem"));

    s.cert_file = missing;
    expect_ctx_error(&s, TLS_PART_CERT, "cannot open");
    s.cert_file = key; /* a key is no certificate */
    expect_ctx_error(&s, TLS_PART_CERT, "no PEM certificate");
    s.cert_file = crt;
    s.key_file = mismatch;
    expect_ctx_error(&s, TLS_PART_KEY, "does not match the certificate");
    s.key_file = crt; /* a certificate is no key */
    expect_ctx_error(&s, TLS_PART_KEY, "no PEM private key");
    s.key_file = missing;
    expect_ctx_error(&s, TLS_PART_KEY, "No such file or directory");
    s.key_file = NULL;
    expect_ctx_error(&s, TLS_PART_KEY, "both a certificate and its key");
    s.cert_file = NULL;
    expect_ctx_error(&s, TLS_PART_CERT, "a server needs a certificate");
    s.cert_file = crt;
    s.key_file = key;
    s.verify_clients = TLS_VERIFY_ON;
    expect_ctx_error(&s, TLS_PART_CA, "needs a CA file");
    s.ca_file = missing;
    expect_ctx_error(&s, TLS_PART_CA, "cannot open");
    s.ca_file = key;
    expect_ctx_error(&s, TLS_PART_CA, "no PEM CA");
    s.ca_file = ca;
    s.ciphers = "NOT-A-CIPHER";
    expect_ctx_error(&s, TLS_PART_CIPHERS, "no usable cipher");
    s.ciphers = NULL;
    s.ciphersuites = "TLS_NOT_A_SUITE";
    expect_ctx_error(&s, TLS_PART_CIPHERSUITES, "no usable cipher suite");
    s.ciphersuites = "TLS_AES_128_GCM_SHA256";
    tls_ctx_release(tls_ctx_create(&s, &(enum tls_part){0}, crt, 1));
    cr_assert_eq(ERR_peek_error(), 0, "an error was left queued");
}

Test(tls, configured_ciphers_are_the_ones_used)
{
    struct tls_settings ss = {.server = 1,
                              .ciphersuites = "TLS_CHACHA20_POLY1305_SHA256"};
    struct tls_ctx *c = client_ctx("ca.crt", NULL), *s;
    char crt[256], key[256], err[256];
    enum tls_part part;
    struct pair p;

    snprintf(crt, sizeof(crt), "%s", cert("server.crt"));
    snprintf(key, sizeof(key), "%s", cert("server.key"));
    ss.cert_file = crt;
    ss.key_file = key;
    s = tls_ctx_create(&ss, &part, err, sizeof(err));
    cr_assert_not_null(s, "%s", err);
    pair_open(&p, s, c, "localhost");
    handshake(&p);
    cr_assert_eq(p.server_rc, TLS_OK);
    cr_assert_str_eq(tls_describe(p.server),
                     "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256");
    pair_close(&p);
    tls_ctx_release(s);
    tls_ctx_release(c);
}

/* ---- the client side against redis-server --tls-port ---- */

struct tls_redis {
    pid_t pid;
    int port;
    char dir[64];
};

static int
free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* A blocking-free connect to 127.0.0.1:port, waited for with poll. */
static int
connect_nb(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t len = sizeof(err);

    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    if (poll(&pfd, 1, 2000) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
redis_start(struct tls_redis *r, const char *auth_clients)
{
    char port[16];
    int i, fd;

    snprintf(r->dir, sizeof(r->dir), "/tmp/rp-tls-redis-XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir));
    r->port = free_port();
    snprintf(port, sizeof(port), "%d", r->port);
    r->pid = fork();
    cr_assert_geq(r->pid, 0);
    if (r->pid == 0) {
        char crt[256], key[256], ca[256], log[128];

        snprintf(log, sizeof(log), "%s/redis.log", r->dir);
        snprintf(crt, sizeof(crt), "%s", cert("server.crt"));
        snprintf(key, sizeof(key), "%s", cert("server.key"));
        snprintf(ca, sizeof(ca), "%s", cert("ca.crt"));
        execlp("redis-server", "redis-server", "--port", "0", "--tls-port",
               port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", r->dir, "--tls-cert-file", crt, "--tls-key-file", key,
               "--tls-ca-cert-file", ca, "--tls-auth-clients", auth_clients,
               "--logfile", log, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 500; i++) {
        fd = connect_nb(r->port);
        if (fd >= 0) {
            close(fd);
            return;
        }
        usleep(10000);
    }
    cr_assert_fail("redis-server --tls-port did not start");
}

static void
redis_stop(struct tls_redis *r)
{
    char cmd[128];

    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
    (void)system(cmd);
}

/* Waits up to 2 s for what t wants of fd. */
static void
wait_for(int fd, int rc)
{
    struct pollfd pfd = {.fd = fd,
                         .events = rc == TLS_WANT_WRITE ? POLLOUT : POLLIN};

    cr_assert_eq(poll(&pfd, 1, 2000), 1, "no readiness within 2 s");
}

/* Connects to r as a client of cctx and runs the handshake with poll:
 * returns the connection, or NULL with *t_out holding the failure. */
static int
redis_handshake(const struct tls_redis *r, struct tls_ctx *cctx,
                struct tls **out, int *fd)
{
    int rc, i;

    *fd = connect_nb(r->port);
    cr_assert_geq(*fd, 0);
    *out = tls_create(cctx, *fd, "localhost");
    cr_assert_not_null(*out);
    for (i = 0; i < STEPS; i++) {
        rc = tls_handshake(*out);
        if (!moving(rc)) {
            return rc;
        }
        wait_for(*fd, rc);
    }
    return TLS_ERR;
}

/* Sends PING over t and expects +PONG. */
static void
ping(struct tls *t, int fd)
{
    static const char cmd[] = "*1\r\n$4\r\nPING\r\n";
    size_t got = 0;
    char buf[16];
    long n;
    int i;

    for (i = 0; (n = tls_writev(t, &(struct iovec){(void *)cmd, 14}, 1)) < 0;
         i++) {
        cr_assert(moving((int)n) && i < STEPS, "write: %s", tls_reason(t));
        wait_for(fd, (int)n);
    }
    cr_assert_eq(n, 14);
    for (i = 0; got < 7 && i < STEPS; i++) {
        n = tls_read(t, buf + got, sizeof(buf) - got);
        if (n > 0) {
            got += (size_t)n;
        } else {
            cr_assert(moving((int)n), "read: %ld %s", n, tls_reason(t));
            wait_for(fd, (int)n);
        }
    }
    cr_assert_eq(got, 7);
    cr_assert_eq(memcmp(buf, "+PONG\r\n", 7), 0);
}

Test(tls_redis, client_pings_a_redis_server_over_tls, .timeout = 30)
{
    struct tls_redis r = {0};
    struct tls_ctx *c = client_ctx("ca.crt", NULL);
    struct tls *t;
    int fd;

    redis_start(&r, "no");
    cr_assert_eq(redis_handshake(&r, c, &t, &fd), TLS_OK, "%s", tls_reason(t));
    ping(t, fd);
    ping(t, fd);
    cr_assert_eq(tls_shutdown(t), TLS_OK);
    tls_free(t);
    close(fd);
    tls_ctx_release(c);
    redis_stop(&r);
}

Test(tls_redis, client_certificate_for_redis_requiring_one, .timeout = 30)
{
    struct tls_redis r = {0};
    struct tls_ctx *with = client_ctx("ca.crt", "client");
    struct tls_ctx *without = client_ctx("ca.crt", NULL);
    char buf[16];
    struct tls *t;
    int fd, rc, i;
    long n = 0;

    redis_start(&r, "yes");
    cr_assert_eq(redis_handshake(&r, with, &t, &fd), TLS_OK, "%s",
                 tls_reason(t));
    ping(t, fd);
    tls_free(t);
    close(fd);
    /* Without a certificate: refused, at the handshake or (TLS 1.3) at
     * the first read, as a certificate matter. */
    rc = redis_handshake(&r, without, &t, &fd);
    for (i = 0; rc == TLS_OK && i < STEPS; i++) {
        n = tls_read(t, buf, sizeof(buf));
        if (!moving((int)n)) {
            break;
        }
        wait_for(fd, (int)n);
    }
    cr_assert(rc == TLS_ERR || n == TLS_ERR || n == TLS_EOF,
              "rc %d n %ld: the server let a client without a certificate in",
              rc, n);
    if (rc == TLS_ERR || n == TLS_ERR) {
        cr_assert_eq(tls_failure(t), TLS_FAIL_CERT, "%s", tls_reason(t));
    }
    tls_free(t);
    close(fd);
    tls_ctx_release(with);
    tls_ctx_release(without);
    redis_stop(&r);
}

Test(tls_redis, a_redis_server_of_an_unknown_ca_is_refused, .timeout = 30)
{
    struct tls_redis r = {0};
    struct tls_ctx *c = client_ctx("other-ca.crt", NULL);
    struct tls *t;
    int fd;

    redis_start(&r, "no");
    cr_assert_eq(redis_handshake(&r, c, &t, &fd), TLS_ERR);
    cr_assert(strstr(tls_reason(t), "unknown CA") != NULL, "%s", tls_reason(t));
    tls_free(t);
    close(fd);
    tls_ctx_release(c);
    redis_stop(&r);
}
