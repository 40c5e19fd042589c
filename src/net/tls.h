/*
 * tls: one OpenSSL wrapper for both directions: the listeners' HTTPS and
 * RESP-over-TLS (server side) and the proxy's own connections to a Redis
 * that speaks TLS (client side), behind the same non-blocking calls.
 *
 * A tls_ctx is what a side is configured with: the certificate and key,
 * the CA, the verification policy, TLS 1.2 at least, renegotiation refused
 * (SSL_OP_NO_RENEGOTIATION), OpenSSL's default ciphers unless given. It is
 * reference counted: every connection made from it holds a reference, so a
 * reload can build a new one for new connections and release the old,
 * which lives on until its last connection is freed.
 *
 * A tls is one connection's state over a socket the caller owns, connected
 * and non-blocking. Nothing here waits or polls: every call does what the
 * socket allows now and says what it needs next (TLS_WANT_READ: call again
 * once fd is readable; TLS_WANT_WRITE: once writable), so the caller drives
 * it from whatever loop it has (the workers' epoll here, a poll() in a
 * Redis connection elsewhere). The socket is read and written with
 * recv/send (MSG_NOSIGNAL) through a BIO of our own, which also tells
 * whether the last read found the socket empty (tls_drained), for callers
 * with edge-triggered readiness.
 *
 * Driving a connection:
 *
 *   t = tls_create(ctx, fd, name);       (name: client side, the server's)
 *   while ((rc = tls_handshake(t)) != TLS_OK)
 *       TLS_WANT_READ / TLS_WANT_WRITE: wait for fd, again;
 *       TLS_ERR: tls_reason(t) says why; tls_free(t), close(fd).
 *   n = tls_read(t, buf, cap);           (> 0 bytes, or an enum tls_rc)
 *       Bytes decrypted but not yet read (tls_pending) and raw bytes
 *       already taken off the socket (tls_buffered) are not announced by
 *       the socket again: read until TLS_WANT_READ (or tls_drained) before
 *       waiting on fd.
 *   n = tls_writev(t, iov, cnt);         (> 0 bytes taken, a prefix of iov)
 *       After TLS_WANT_WRITE, call again with iovecs that start with the
 *       same bytes, at least as many (OpenSSL has part of them encrypted
 *       already); an output queue that is only ever consumed from its
 *       front does that by itself.
 *   tls_shutdown(t);                     (close_notify, one attempt)
 *   tls_free(t); close(fd);
 *
 * A tls belongs to one thread at a time (its owner's); tls_ctx calls are
 * thread-safe. OpenSSL keeps error state per thread: every call here
 * clears it before and after, so nothing leaks from one connection to the
 * next on a thread.
 */
#ifndef RP_TLS_H
#define RP_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct tls_ctx;
struct tls;

/* Server side: whether clients must show a certificate. */
enum tls_verify {
    TLS_VERIFY_OFF,      /* none asked for */
    TLS_VERIFY_OPTIONAL, /* asked for; a client without one is let in, one
                            whose certificate fails is refused */
    TLS_VERIFY_ON,       /* required, and verified against ca_file */
};

/* What a context is built from. Strings: NULL or "" = not set. */
struct tls_settings {
    int server;            /* 1: accepts (a listener); 0: connects */
    const char *cert_file; /* PEM certificate (chain); required for a
                              server, a client's for mutual TLS */
    const char *key_file;  /* PEM private key of cert_file (unencrypted) */
    const char *ca_file;   /* PEM CA certificates: a server verifies client
                              certificates against it; a client the
                              server's (NULL: the system's store) */
    enum tls_verify verify_clients; /* server only */
    int insecure;                   /* client only: 1 = do not verify the server
                                       (its certificate and name); 0, the default,
                                       verifies */
    const char *ciphers;            /* TLS 1.2 cipher list (OpenSSL syntax) */
    const char *ciphersuites;       /* TLS 1.3 cipher suites */
};

/* Which setting tls_ctx_create could not use. */
enum tls_part {
    TLS_PART_NONE,
    TLS_PART_CERT,
    TLS_PART_KEY, /* unreadable, or not the key of the certificate */
    TLS_PART_CA,
    TLS_PART_CIPHERS,
    TLS_PART_CIPHERSUITES,
};

/* Results of the connection calls; byte counts are > 0 instead. */
enum tls_rc {
    TLS_OK = 0,
    TLS_WANT_READ = -1,  /* call again once the socket is readable */
    TLS_WANT_WRITE = -2, /* call again once the socket is writable */
    TLS_EOF = -3,        /* the peer closed: close_notify, or a bare close */
    TLS_ERR = -4,        /* failed for good: see tls_reason, tls_failure */
};

/* Why a connection failed, in categories for counting. */
enum tls_fail {
    TLS_FAIL_NONE,
    TLS_FAIL_NOT_TLS,  /* the peer does not speak TLS (plain HTTP or RESP,
                          garbage instead of a ClientHello) */
    TLS_FAIL_CERT,     /* a certificate refused (unknown CA, expired, name
                          mismatch) or missing where one is required, on
                          either side */
    TLS_FAIL_PROTOCOL, /* no common version or cipher, a malformed or
                          unexpected message */
    TLS_FAIL_CLOSED,   /* the peer closed or reset the connection */
    TLS_FAILS
};

/*
 * Builds a context: reads and checks the files (the key must belong to the
 * certificate), applies the policy. Returns it with one reference, or NULL
 * with *part naming the setting at fault and err saying what is wrong
 * ("cannot open: No such file or directory", "does not match the
 * certificate", ...). Thread-safe.
 */
struct tls_ctx *tls_ctx_create(const struct tls_settings *s,
                               enum tls_part *part, char *err, size_t errlen);

/* Takes one more reference to ctx; returns ctx. Thread-safe. */
struct tls_ctx *tls_ctx_ref(struct tls_ctx *ctx);

/* Drops a reference; the last one frees ctx. NULL is a no-op.
 * Thread-safe. */
void tls_ctx_release(struct tls_ctx *ctx);

/* The certificate's subject, serial and expiry, for logs
 * ("subject=\"/CN=...\" serial=1A2B... expires=2027-01-31T10:00:00Z"; ""
 * without a certificate), and its
 * notAfter as Unix time (0 without one). Valid while ctx is. */
const char *tls_ctx_describe(const struct tls_ctx *ctx);
int64_t tls_ctx_not_after(const struct tls_ctx *ctx);

/*
 * A connection over fd (connected, non-blocking; still the caller's to
 * close, after tls_free) as the side ctx was built for. Client side:
 * server_name is sent as SNI and, unless ctx is insecure, must match the
 * server's certificate; an IP address is matched against the
 * certificate's IP entries and sent as no SNI. NULL: no name is checked,
 * only the chain. Takes a reference to ctx. Returns NULL when out of
 * memory.
 */
struct tls *tls_create(struct tls_ctx *ctx, int fd, const char *server_name);

/* Frees t (not its socket) and its reference to the context. Sends
 * nothing: call tls_shutdown first for a close_notify. NULL is a no-op. */
void tls_free(struct tls *t);

/* Advances the handshake. TLS_OK once it is complete (and on every call
 * after), TLS_WANT_READ, TLS_WANT_WRITE, TLS_EOF (closed during it) or
 * TLS_ERR. */
int tls_handshake(struct tls *t);

/* 1 once the handshake has completed. */
int tls_established(const struct tls *t);

/* Reads up to len decrypted bytes into buf: > 0, TLS_WANT_READ,
 * TLS_WANT_WRITE, TLS_EOF or TLS_ERR. Advances the handshake first if it
 * is not complete. */
long tls_read(struct tls *t, void *buf, size_t len);

/*
 * Encrypts and sends a prefix of the iovecs' bytes: returns how many it
 * took (> 0; at most one TLS record's worth, 16 KiB, per call: loop while
 * bytes remain), TLS_WANT_WRITE, TLS_WANT_READ or TLS_ERR. Small ranges
 * are gathered into one record, so a response head and its body go out
 * in one send. After a TLS_WANT_*, call again with the same bytes first
 * (see the top of this file). iovcnt >= 1, total > 0.
 */
long tls_writev(struct tls *t, const struct iovec *iov, int iovcnt);

/* Decrypted bytes waiting in t that tls_read returns without the socket. */
size_t tls_pending(const struct tls *t);

/* 1 when t holds bytes already taken off the socket, decrypted or not:
 * the socket will not report them as readable again. */
int tls_buffered(const struct tls *t);

/* 1 when the last read of the socket found it empty (it returned fewer
 * bytes than asked, or none) and t holds nothing: an edge-triggered
 * caller can wait for readiness without another read. */
int tls_drained(const struct tls *t);

/* 1 when the last call stopped on TLS_WANT_WRITE: the caller should
 * wait for writability even with nothing of its own to send. */
int tls_wants_write(const struct tls *t);

/* Sends close_notify once the handshake is complete (never after a
 * failure): TLS_OK (sent, or nothing to send), TLS_WANT_WRITE (the socket
 * is full; call again or give up) or TLS_ERR. Does not wait for the
 * peer's: tls_read returns TLS_EOF when it comes. */
int tls_shutdown(struct tls *t);

/* Why the last TLS_ERR (or TLS_EOF during the handshake), as one phrase
 * naming the cause: "certificate verify failed: unknown CA (unable to get
 * local issuer certificate)", "no certificate: the client sent none",
 * "not TLS (wrong version number)", ...; "" when nothing failed. Valid
 * until the next call on t. */
const char *tls_reason(const struct tls *t);

/* The category of that failure; TLS_FAIL_NONE when nothing failed. */
enum tls_fail tls_failure(const struct tls *t);

/* Short names of the categories, for metrics labels and logs ("not_tls",
 * "certificate", "protocol", "closed"). */
const char *tls_fail_name(enum tls_fail f);

/* The protocol version and cipher agreed ("TLSv1.3
 * TLS_AES_256_GCM_SHA384"), "" before the handshake completes. */
const char *tls_describe(struct tls *t);

#endif
