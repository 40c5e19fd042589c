/*
 * harness_tls: TLS for the end-to-end tests (see harness.h): the test
 * certificates (tools/tls-certs.sh, made once per run of the test binary
 * before any test into a temporary directory, $RP_TLS_CERTS for the test
 * processes, removed after the last test), the INI lines that point a
 * proxy at them, and a blocking TLS client of OpenSSL's own (not the
 * proxy's net/tls: the tests check the proxy against an independent
 * implementation) with RESP and HTTP helpers on top.
 */
#include "harness.h"
#include "harness_int.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static char h__certs[128];

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    char cmd[256];

    (void)set;
    if (h__mkdtemp(h__certs, sizeof(h__certs), "tls") == -1) {
        perror("harness: mkdtemp");
        exit(1);
    }
    snprintf(cmd, sizeof(cmd), "bash tools/tls-certs.sh %s", h__certs);
    if (system(cmd) != 0) {
        fprintf(stderr, "harness: tools/tls-certs.sh failed\n");
        exit(1);
    }
    setenv("RP_TLS_CERTS", h__certs, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    if (h__certs[0] != '\0' && getenv("E2E_KEEP") == NULL) {
        h__rmdir(h__certs);
    }
}

const char *
h_tls_path(const char *name)
{
    static _Thread_local char bufs[8][256];
    static _Thread_local int next;
    const char *dir = getenv("RP_TLS_CERTS");
    char *b = bufs[next++ % 8];

    snprintf(b, 256, "%s/%s", dir != NULL ? dir : "/nonexistent", name);
    return b;
}

const char *
h_tls_ini(char *buf, size_t cap, const char *extra)
{
    snprintf(buf, cap, "[server]\ntls_cert_file = %s\ntls_key_file = %s\n%s",
             h_tls_path("server.crt"), h_tls_path("server.key"),
             extra != NULL ? extra : "");
    return buf;
}

/* OpenSSL's queued errors as one line, then cleared. */
static void
h__tls_error(char *err, size_t cap, const char *what, SSL *ssl)
{
    unsigned long e = ERR_get_error();
    long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;

    if (v != X509_V_OK) {
        snprintf(err, cap, "%s: %s", what, X509_verify_cert_error_string(v));
    } else if (e != 0) {
        snprintf(err, cap, "%s: %s", what, ERR_reason_error_string(e));
    } else {
        snprintf(err, cap, "%s: %s", what, errno ? strerror(errno) : "closed");
    }
    ERR_clear_error();
}

int
h_tls_connect(struct h_tls *t, int port, const char *ca, const char *client,
              char *err, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char crt[256], key[256];
    SSL *ssl = NULL;

    memset(t, 0, sizeof(*t));
    t->fd = -1;
    if (ctx == NULL) {
        snprintf(err, cap, "SSL_CTX_new failed");
        return -1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca != NULL &&
        SSL_CTX_load_verify_locations(ctx, h_tls_path(ca), NULL) != 1) {
        h__tls_error(err, cap, "CA", NULL);
        goto fail;
    }
    if (client != NULL) {
        snprintf(crt, sizeof(crt), "%s.crt", h_tls_path(client));
        snprintf(key, sizeof(key), "%s.key", h_tls_path(client));
        if (SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
            h__tls_error(err, cap, "client certificate", NULL);
            goto fail;
        }
    }
    t->fd = h_connect(port);
    if (t->fd == -1) {
        snprintf(err, cap, "connect: %s", strerror(errno));
        goto fail;
    }
    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, t->fd) != 1 ||
        SSL_set_tlsext_host_name(ssl, "localhost") != 1 ||
        SSL_set1_host(ssl, "localhost") != 1) {
        h__tls_error(err, cap, "SSL_new", NULL);
        goto fail;
    }
    errno = 0;
    if (SSL_connect(ssl) != 1) {
        h__tls_error(err, cap, "handshake", ssl);
        goto fail;
    }
    t->ctx = ctx;
    t->ssl = ssl;
    return 0;

fail:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (t->fd != -1) {
        close(t->fd);
        t->fd = -1;
    }
    return -1;
}

void
h_tls_close(struct h_tls *t)
{
    if (t->ssl != NULL) {
        SSL_shutdown(t->ssl);
        SSL_free(t->ssl);
        t->ssl = NULL;
    }
    SSL_CTX_free(t->ctx);
    t->ctx = NULL;
    if (t->fd != -1) {
        close(t->fd);
        t->fd = -1;
    }
    ERR_clear_error();
}

int
h_tls_send(struct h_tls *t, const void *buf, size_t len)
{
    size_t n = 0;

    if (len == 0) {
        return 0;
    }
    if (SSL_write_ex(t->ssl, buf, len, &n) != 1 || n != len) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

long
h_tls_recv(struct h_tls *t, void *buf, size_t cap, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    size_t n = 0;
    int rc;

    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    rc = SSL_read_ex(t->ssl, buf, cap, &n);
    if (rc == 1) {
        return (long)n;
    }
    rc = SSL_get_error(t->ssl, 0);
    ERR_clear_error();
    return rc == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

long
h_tls_reply(struct h_tls *t, char *buf, size_t cap, int timeout_ms)
{
    int64_t deadline = h_now_ms() + timeout_ms;
    size_t len = 0;
    long want;

    while ((want = h_reply_len(buf, len, 1)) == 0) {
        int left = (int)(deadline - h_now_ms());
        long n;

        if (left <= 0 || len + 1 >= cap) {
            return -1;
        }
        n = h_tls_recv(t, buf + len, cap - 1 - len, left);
        if (n <= 0) {
            return -1;
        }
        len += (size_t)n;
        buf[len] = '\0';
    }
    if (want < 0 || (size_t)want != len) {
        return -1; /* not RESP, or more than one reply */
    }
    return want;
}

long
h_tls_cmd(struct h_tls *t, char *out, size_t cap, const char *const *argv)
{
    char req[4096];
    size_t n = h_cmd_encode(req, sizeof(req), argv);

    if (n == 0 || h_tls_send(t, req, n) != 0) {
        return -1;
    }
    return h_tls_reply(t, out, cap, 5000);
}

long
h_tls_run(int port, char *out, size_t cap, const char *const *argv)
{
    struct h_tls t;
    long n;

    if (h_tls_connect(&t, port, "ca.crt", "client", out, cap) != 0) {
        return -1;
    }
    n = h_tls_cmd(&t, out, cap, argv);
    h_tls_close(&t);
    if (n < 0) {
        snprintf(out, cap, "no reply");
    }
    return n;
}

int
h_tls_closed(struct h_tls *t, int timeout_ms)
{
    int64_t deadline = h_now_ms() + timeout_ms;
    char buf[256];

    while (h_now_ms() < deadline) {
        long n =
            h_tls_recv(t, buf, sizeof(buf), (int)(deadline - h_now_ms()) + 1);

        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            return 1;
        }
    }
    return 0;
}

const char *
h_tls_peer_serial(const struct h_tls *t, char *out, size_t cap)
{
    X509 *x = SSL_get1_peer_certificate(t->ssl);
    BIGNUM *bn =
        x != NULL ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

    snprintf(out, cap, "%s", hex != NULL ? hex : "(none)");
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    return out;
}

const char *
h_tls_file_serial(const char *name, char *out, size_t cap)
{
    FILE *f = fopen(h_tls_path(name), "r");
    X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    BIGNUM *bn =
        x != NULL ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

    snprintf(out, cap, "%s", hex != NULL ? hex : "(none)");
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    if (f != NULL) {
        fclose(f);
    }
    return out;
}

size_t
h_tls_client_hello(char *out, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = ctx != NULL ? SSL_new(ctx) : NULL;
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    size_t n = 0;

    if (ssl != NULL && rb != NULL && wb != NULL) {
        SSL_set_bio(ssl, rb, wb); /* the SSL owns both now */
        rb = wb = NULL;
        SSL_set_tlsext_host_name(ssl, "localhost");
        SSL_connect(ssl); /* writes the ClientHello, then wants to read */
        n = (size_t)BIO_read(SSL_get_wbio(ssl), out, (int)cap);
        if ((int)n < 0) {
            n = 0;
        }
    }
    BIO_free(rb);
    BIO_free(wb);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return n;
}
