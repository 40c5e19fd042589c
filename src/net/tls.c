/*
 * tls: OpenSSL contexts and non-blocking connections; see tls.h.
 *
 * The socket is reached through a BIO method of our own (one per context,
 * so there is no global state): recv/send with MSG_NOSIGNAL, EINTR
 * retried, and a note of whether the last recv found the socket empty.
 * With read-ahead on, OpenSSL asks the BIO for as much as its buffer
 * holds, so one recv usually brings a whole request's records, and a short
 * one proves the socket empty (tls_drained). Partial writes are on, so a
 * write returns after each record with what it took; moving write buffers
 * are allowed, so a retry may gather the same bytes into another buffer.
 */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS_RECORD 16384 /* plaintext bytes of one TLS record at most */
#define TLS_REASON_MAX 192
#define TLS_DESCRIBE_MAX 320

struct tls_ctx {
    SSL_CTX *ssl;
    BIO_METHOD *bio; /* the socket BIO of this context's connections */
    atomic_int refs;
    int server;
    int64_t not_after;               /* the certificate's; 0 = none */
    char describe[TLS_DESCRIBE_MAX]; /* tls_ctx_describe */
};

struct tls {
    SSL *ssl;
    struct tls_ctx *ctx; /* one reference */
    int fd;
    int sock_errno;          /* the socket's last error, 0 = none */
    unsigned sock_empty : 1; /* the last recv found no more bytes */
    unsigned want_write : 1; /* the last call stopped on WANT_WRITE */
    unsigned established : 1;
    unsigned failed : 1; /* a fatal error: no close_notify, no more I/O */
    enum tls_fail fail;
    char reason[TLS_REASON_MAX];
    char describe[64];
};

/* ---- the socket BIO ---- */

static int
bio_sock_read(BIO *b, char *buf, int len)
{
    struct tls *t = BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    do {
        n = recv(t->fd, buf, (size_t)len, 0);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        t->sock_empty = n < len;
        return (int)n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        t->sock_empty = 1;
        BIO_set_retry_read(b);
    } else {
        t->sock_errno = errno;
    }
    return -1;
}

static int
bio_sock_write(BIO *b, const char *buf, int len)
{
    struct tls *t = BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    do {
        n = send(t->fd, buf, (size_t)len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        return (int)n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        BIO_set_retry_write(b);
    } else {
        t->sock_errno = errno;
    }
    return -1;
}

static long
bio_sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct tls *t = BIO_get_data(b);

    (void)num, (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; /* nothing is buffered here */
    case BIO_C_GET_FD:
        return t != NULL ? t->fd : -1;
    default:
        return 0;
    }
}

static int
bio_sock_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *
bio_method_new(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "redis-proxy socket");

    if (m == NULL || !BIO_meth_set_read(m, bio_sock_read) ||
        !BIO_meth_set_write(m, bio_sock_write) ||
        !BIO_meth_set_ctrl(m, bio_sock_ctrl) ||
        !BIO_meth_set_create(m, bio_sock_create)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* ---- contexts ---- */

/* The passphrase callback: there is none, so an encrypted key fails to
 * load instead of OpenSSL prompting on the terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0;
}

/* OpenSSL's first queued error as text, then the queue cleared. */
static void
openssl_error(char *out, size_t len, const char *fallback)
{
    unsigned long e = ERR_peek_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    snprintf(out, len, "%s", r != NULL ? r : fallback);
    ERR_clear_error();
}

/* Fails with part and a message; returns -1. */
static int
ctx_fail(enum tls_part *part, enum tls_part which, char *err, size_t errlen,
         const char *what)
{
    char why[160];

    openssl_error(why, sizeof(why), "unknown error");
    *part = which;
    snprintf(err, errlen, "%s: %s", what, why);
    return -1;
}

/* Checks that path can be opened for reading, with the system's words. */
static int
readable(const char *path, enum tls_part which, enum tls_part *part, char *err,
         size_t errlen)
{
    FILE *f = fopen(path, "re");

    if (f == NULL) {
        *part = which;
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

static int
set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* The certificate's subject and notAfter into ctx, for logs and metrics. */
static void
ctx_note_cert(struct tls_ctx *ctx)
{
    X509 *x = SSL_CTX_get0_certificate(ctx->ssl);
    char subject[160] = "";
    BIGNUM *bn = NULL;
    char *serial = NULL;
    struct tm tm = {0};

    if (x == NULL) {
        return;
    }
    X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    serial = bn != NULL ? BN_bn2hex(bn) : NULL;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
        ctx->not_after = (int64_t)timegm(&tm);
    }
    snprintf(ctx->describe, sizeof(ctx->describe),
             "subject=\"%s\" serial=%s expires=%04d-%02d-%02dT%02d:%02d:%02dZ",
             subject, serial != NULL ? serial : "?", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    OPENSSL_free(serial);
    BN_free(bn);
    ERR_clear_error();
}

/* The certificate and its key; both or neither. */
static int
ctx_load_pair(SSL_CTX *c, const struct tls_settings *s, enum tls_part *part,
              char *err, size_t errlen)
{
    if (!set(s->cert_file) && !set(s->key_file)) {
        if (!s->server) {
            return 0;
        }
        *part = TLS_PART_CERT;
        snprintf(err, errlen, "a server needs a certificate");
        return -1;
    }
    if (!set(s->cert_file) || !set(s->key_file)) {
        *part = set(s->cert_file) ? TLS_PART_KEY : TLS_PART_CERT;
        snprintf(err, errlen, "needs both a certificate and its key");
        return -1;
    }
    if (readable(s->cert_file, TLS_PART_CERT, part, err, errlen) < 0 ||
        readable(s->key_file, TLS_PART_KEY, part, err, errlen) < 0) {
        return -1;
    }
    if (SSL_CTX_use_certificate_chain_file(c, s->cert_file) != 1) {
        return ctx_fail(part, TLS_PART_CERT, err, errlen,
                        "no PEM certificate read");
    }
    if (SSL_CTX_use_PrivateKey_file(c, s->key_file, SSL_FILETYPE_PEM) != 1) {
        unsigned long e = ERR_peek_error();

        if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
            ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            *part = TLS_PART_KEY;
            snprintf(err, errlen, "does not match the certificate");
            return -1;
        }
        return ctx_fail(part, TLS_PART_KEY, err, errlen,
                        "no PEM private key read (an encrypted key is not "
                        "supported)");
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        ERR_clear_error();
        *part = TLS_PART_KEY;
        snprintf(err, errlen, "does not match the certificate");
        return -1;
    }
    return 0;
}

/* Who is verified, and against what. */
static int
ctx_load_verify(SSL_CTX *c, const struct tls_settings *s, enum tls_part *part,
                char *err, size_t errlen)
{
    int mode = SSL_VERIFY_NONE;

    if (set(s->ca_file)) {
        if (readable(s->ca_file, TLS_PART_CA, part, err, errlen) < 0) {
            return -1;
        }
        if (SSL_CTX_load_verify_locations(c, s->ca_file, NULL) != 1) {
            return ctx_fail(part, TLS_PART_CA, err, errlen,
                            "no PEM CA certificate read");
        }
    }
    if (s->server) {
        if (s->verify_clients != TLS_VERIFY_OFF) {
            STACK_OF(X509_NAME) *names = NULL;

            if (!set(s->ca_file)) {
                *part = TLS_PART_CA;
                snprintf(err, errlen,
                         "verifying client certificates needs "
                         "a CA file");
                return -1;
            }
            /* The CAs a client is told to choose its certificate by. */
            names = SSL_load_client_CA_file(s->ca_file);
            if (names == NULL) {
                return ctx_fail(part, TLS_PART_CA, err, errlen,
                                "no CA names read");
            }
            SSL_CTX_set_client_CA_list(c, names);
            mode = SSL_VERIFY_PEER;
            if (s->verify_clients == TLS_VERIFY_ON) {
                mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
            }
        }
    } else if (!s->insecure) {
        if (!set(s->ca_file) && SSL_CTX_set_default_verify_paths(c) != 1) {
            return ctx_fail(part, TLS_PART_CA, err, errlen,
                            "the system's CA store cannot be read");
        }
        mode = SSL_VERIFY_PEER;
    }
    SSL_CTX_set_verify(c, mode, NULL);
    return 0;
}

static int
ctx_setup(SSL_CTX *c, const struct tls_settings *s, enum tls_part *part,
          char *err, size_t errlen)
{
    static const unsigned char sid_ctx[] = "redis-proxy";

    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_IGNORE_UNEXPECTED_EOF |
                               SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_default_passwd_cb(c, no_passphrase);
    if (s->server) {
        SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
        /* Resumed sessions with client certificates need an id context. */
        SSL_CTX_set_session_id_context(c, sid_ctx, sizeof(sid_ctx) - 1);
    }
    if (set(s->ciphers) && SSL_CTX_set_cipher_list(c, s->ciphers) != 1) {
        return ctx_fail(part, TLS_PART_CIPHERS, err, errlen,
                        "no usable cipher in the list");
    }
    if (set(s->ciphersuites) &&
        SSL_CTX_set_ciphersuites(c, s->ciphersuites) != 1) {
        return ctx_fail(part, TLS_PART_CIPHERSUITES, err, errlen,
                        "no usable cipher suite in the list");
    }
    if (ctx_load_pair(c, s, part, err, errlen) < 0) {
        return -1;
    }
    return ctx_load_verify(c, s, part, err, errlen);
}

/*
 * OpenSSL caches what it derives from a certificate's extensions (key
 * identifiers, purposes) at the certificate's first use, and two threads
 * that both find the cache empty both fill it, one while the other reads
 * it (openssl/openssl#25202, #32609): so the first handshakes at once,
 * such as the proxy's first connections to Redis from several threads,
 * race on the trusted CAs and on the context's own chain. Filled here,
 * before any connection, the caches are only ever read.
 */
static void
ctx_warm(SSL_CTX *c)
{
    STACK_OF(X509_OBJECT) *objs =
        X509_STORE_get0_objects(SSL_CTX_get_cert_store(c));
    STACK_OF(X509) *chain = NULL;
    int i;

    for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

        if (x != NULL) {
            (void)X509_check_purpose(x, -1, 0);
        }
    }
    if (SSL_CTX_get0_certificate(c) != NULL) {
        (void)X509_check_purpose(SSL_CTX_get0_certificate(c), -1, 0);
    }
    SSL_CTX_get0_chain_certs(c, &chain);
    for (i = 0; i < sk_X509_num(chain); i++) {
        (void)X509_check_purpose(sk_X509_value(chain, i), -1, 0);
    }
}

struct tls_ctx *
tls_ctx_create(const struct tls_settings *s, enum tls_part *part, char *err,
               size_t errlen)
{
    struct tls_ctx *ctx = calloc(1, sizeof(*ctx));

    *part = TLS_PART_NONE;
    ERR_clear_error();
    if (ctx == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&ctx->refs, 1);
    ctx->server = s->server;
    ctx->ssl =
        SSL_CTX_new(s->server ? TLS_server_method() : TLS_client_method());
    ctx->bio = bio_method_new();
    if (ctx->ssl == NULL || ctx->bio == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (ctx_setup(ctx->ssl, s, part, err, errlen) < 0) {
        goto fail;
    }
    ctx_warm(ctx->ssl);
    ctx_note_cert(ctx);
    return ctx;

fail:
    ERR_clear_error();
    SSL_CTX_free(ctx->ssl);
    BIO_meth_free(ctx->bio);
    free(ctx);
    return NULL;
}

struct tls_ctx *
tls_ctx_ref(struct tls_ctx *ctx)
{
    atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
    return ctx;
}

void
tls_ctx_release(struct tls_ctx *ctx)
{
    if (ctx == NULL ||
        atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    SSL_CTX_free(ctx->ssl);
    BIO_meth_free(ctx->bio);
    free(ctx);
}

const char *
tls_ctx_describe(const struct tls_ctx *ctx)
{
    return ctx->describe;
}

int64_t
tls_ctx_not_after(const struct tls_ctx *ctx)
{
    return ctx->not_after;
}

/* ---- connections ---- */

/* Client side: the name the server's certificate must carry, and SNI. */
static int
set_peer_name(struct tls *t, const char *name)
{
    unsigned char addr[16];
    int ip = inet_pton(AF_INET, name, addr) == 1 ||
             inet_pton(AF_INET6, name, addr) == 1;

    if (!ip && SSL_set_tlsext_host_name(t->ssl, name) != 1) {
        return -1;
    }
    if (SSL_get_verify_mode(t->ssl) == SSL_VERIFY_NONE) {
        return 0;
    }
    if (ip) {
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name) == 1
                   ? 0
                   : -1;
    }
    SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(t->ssl, name) == 1 ? 0 : -1;
}

struct tls *
tls_create(struct tls_ctx *ctx, int fd, const char *server_name)
{
    struct tls *t = calloc(1, sizeof(*t));
    BIO *b = NULL;

    ERR_clear_error();
    if (t == NULL) {
        return NULL;
    }
    t->fd = fd;
    t->ssl = SSL_new(ctx->ssl);
    b = BIO_new(ctx->bio);
    if (t->ssl == NULL || b == NULL) {
        goto fail;
    }
    BIO_set_data(b, t);
    SSL_set_bio(t->ssl, b, b); /* the SSL owns b now */
    b = NULL;
    if (ctx->server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (server_name != NULL && set_peer_name(t, server_name) < 0) {
            goto fail;
        }
    }
    t->ctx = tls_ctx_ref(ctx);
    return t;

fail:
    ERR_clear_error();
    BIO_free(b);
    SSL_free(t->ssl);
    free(t);
    return NULL;
}

void
tls_free(struct tls *t)
{
    if (t == NULL) {
        return;
    }
    SSL_free(t->ssl);
    tls_ctx_release(t->ctx);
    free(t);
}

/* ---- why a connection failed ---- */

/* A verification result as the cause it names. */
static const char *
verify_cause(long v)
{
    switch (v) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return "unknown CA";
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return "certificate expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return "certificate not yet valid";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return "name mismatch";
    default:
        return "certificate refused";
    }
}

/* Alerts the peer sent that are about certificates. */
static int
cert_alert(int alert)
{
    switch (alert) {
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_ACCESS_DENIED:
    case SSL_AD_CERTIFICATE_REQUIRED:
        return 1;
    default:
        return 0;
    }
}

/* Records the failure of an SSL_ERROR_SSL from OpenSSL's error queue. */
static void
note_ssl_error(struct tls *t)
{
    unsigned long e = ERR_peek_error();
    int reason = ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0;
    const char *text = ERR_reason_error_string(e);
    long v = SSL_get_verify_result(t->ssl);

    if (text == NULL) {
        text = "unknown error";
    }
    t->fail = TLS_FAIL_PROTOCOL;
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && v != X509_V_OK) {
        t->fail = TLS_FAIL_CERT;
        snprintf(t->reason, sizeof(t->reason),
                 "certificate verify failed: %s (%s)", verify_cause(v),
                 X509_verify_cert_error_string(v));
    } else if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        t->fail = TLS_FAIL_CERT;
        snprintf(t->reason, sizeof(t->reason),
                 "no certificate: the client sent none and one is required");
    } else if (reason > SSL_AD_REASON_OFFSET &&
               cert_alert(reason - SSL_AD_REASON_OFFSET)) {
        t->fail = TLS_FAIL_CERT;
        snprintf(t->reason, sizeof(t->reason),
                 "the peer refused the certificate exchange (%s)", text);
    } else if (reason == SSL_R_WRONG_VERSION_NUMBER ||
               reason == SSL_R_HTTP_REQUEST ||
               reason == SSL_R_HTTPS_PROXY_REQUEST ||
               reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
               reason == SSL_R_UNKNOWN_PROTOCOL ||
               reason == SSL_R_RECORD_LENGTH_MISMATCH) {
        t->fail = TLS_FAIL_NOT_TLS;
        snprintf(t->reason, sizeof(t->reason), "not TLS (%s)", text);
    } else if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        t->fail = TLS_FAIL_CLOSED;
        snprintf(t->reason, sizeof(t->reason),
                 "the peer closed the connection during the handshake");
    } else {
        snprintf(t->reason, sizeof(t->reason), "%s", text);
    }
}

/* Maps the result of an SSL call that did not succeed. */
static int
result(struct tls *t, int ret)
{
    int e = SSL_get_error(t->ssl, ret);

    t->want_write = 0;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        t->want_write = 1;
        return TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        if (!t->established) {
            t->fail = TLS_FAIL_CLOSED;
            snprintf(t->reason, sizeof(t->reason),
                     "the peer closed the connection during the handshake");
        }
        return TLS_EOF;
    case SSL_ERROR_SYSCALL:
        /* The socket failed or closed under OpenSSL: nothing more may be
         * sent on it, close_notify included. */
        t->failed = 1;
        ERR_clear_error();
        if (t->sock_errno != 0) {
            t->fail = TLS_FAIL_CLOSED;
            snprintf(t->reason, sizeof(t->reason), "socket error: %s",
                     strerror(t->sock_errno));
            return TLS_ERR;
        }
        if (t->established) {
            return TLS_EOF;
        }
        t->fail = TLS_FAIL_CLOSED;
        snprintf(t->reason, sizeof(t->reason),
                 "the peer closed the connection during the handshake");
        return TLS_ERR;
    case SSL_ERROR_SSL:
    default:
        t->failed = 1;
        note_ssl_error(t);
        ERR_clear_error();
        return TLS_ERR;
    }
}

int
tls_handshake(struct tls *t)
{
    int ret;

    if (t->established) {
        return TLS_OK;
    }
    if (t->failed) {
        return TLS_ERR;
    }
    ERR_clear_error();
    ret = SSL_do_handshake(t->ssl);
    if (ret == 1) {
        t->established = 1;
        t->want_write = 0;
        return TLS_OK;
    }
    return result(t, ret);
}

int
tls_established(const struct tls *t)
{
    return t->established;
}

long
tls_read(struct tls *t, void *buf, size_t len)
{
    size_t n = 0;
    int rc;

    if (!t->established && (rc = tls_handshake(t)) != TLS_OK) {
        return rc;
    }
    if (t->failed) {
        return TLS_ERR;
    }
    ERR_clear_error();
    if (SSL_read_ex(t->ssl, buf, len, &n) == 1) {
        t->want_write = 0;
        return (long)n;
    }
    return result(t, 0);
}

long
tls_writev(struct tls *t, const struct iovec *iov, int iovcnt)
{
    /* Where small ranges are gathered into one record. A retry after
     * WANT_WRITE may gather on another thread: moving write buffers are
     * allowed, and OpenSSL resends the record it already encrypted. */
    static _Thread_local char stage[TLS_RECORD];
    const void *p = iov[0].iov_base;
    size_t len = iov[0].iov_len, n = 0;
    int i;

    if (t->failed) {
        return TLS_ERR;
    }
    if (iovcnt > 1 && len < TLS_RECORD) {
        len = 0;
        for (i = 0; i < iovcnt && len < TLS_RECORD; i++) {
            size_t take = iov[i].iov_len < TLS_RECORD - len ? iov[i].iov_len
                                                            : TLS_RECORD - len;

            memcpy(stage + len, iov[i].iov_base, take);
            len += take;
        }
        p = stage;
    }
    ERR_clear_error();
    if (SSL_write_ex(t->ssl, p, len, &n) == 1) {
        t->want_write = 0;
        return (long)n;
    }
    return result(t, 0);
}

size_t
tls_pending(const struct tls *t)
{
    int n = SSL_pending(t->ssl);

    return n > 0 ? (size_t)n : 0;
}

int
tls_buffered(const struct tls *t)
{
    return SSL_has_pending(t->ssl);
}

int
tls_drained(const struct tls *t)
{
    return t->sock_empty && !SSL_has_pending(t->ssl);
}

int
tls_wants_write(const struct tls *t)
{
    return t->want_write;
}

int
tls_shutdown(struct tls *t)
{
    int ret;

    if (t->failed || !t->established) {
        return TLS_OK; /* nothing may be said on a failed connection */
    }
    ERR_clear_error();
    ret = SSL_shutdown(t->ssl);
    if (ret >= 0) {
        /* 0: ours sent, the peer's not yet read; 1: both. */
        t->want_write = 0;
        return TLS_OK;
    }
    ret = result(t, ret);
    return ret == TLS_WANT_WRITE ? TLS_WANT_WRITE : TLS_ERR;
}

const char *
tls_reason(const struct tls *t)
{
    return t->reason;
}

enum tls_fail
tls_failure(const struct tls *t)
{
    return t->fail;
}

const char *
tls_fail_name(enum tls_fail f)
{
    switch (f) {
    case TLS_FAIL_NOT_TLS:
        return "not_tls";
    case TLS_FAIL_CERT:
        return "certificate";
    case TLS_FAIL_PROTOCOL:
        return "protocol";
    case TLS_FAIL_CLOSED:
        return "closed";
    default:
        return "none";
    }
}

const char *
tls_describe(struct tls *t)
{
    if (!t->established) {
        return "";
    }
    snprintf(t->describe, sizeof(t->describe), "%s %s", SSL_get_version(t->ssl),
             SSL_get_cipher_name(t->ssl));
    return t->describe;
}
