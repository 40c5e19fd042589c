/*
 * Helpers of the TLS unit tests: the test certificates (tools/tls-certs.sh,
 * made once per test binary, before any test, into a temporary directory
 * removed after the last; its path in $RP_TLS_CERTS for the test
 * processes), contexts built from them, and non-blocking socketpairs.
 * Include after <criterion/criterion.h>, in one test file per binary.
 */
#ifndef RP_TEST_TLS_HELPERS_H
#define RP_TEST_TLS_HELPERS_H

#include <criterion/hooks.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "net/tls.h"

static char tls_certs_dir[128];

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    char cmd[256];

    (void)set;
    snprintf(tls_certs_dir, sizeof(tls_certs_dir), "/tmp/rp-tls-unit-XXXXXX");
    if (mkdtemp(tls_certs_dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(cmd, sizeof(cmd), "bash tools/tls-certs.sh %s", tls_certs_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "tls-certs.sh failed\n");
        exit(1);
    }
    setenv("RP_TLS_CERTS", tls_certs_dir, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    char cmd[256];

    (void)stats;
    if (tls_certs_dir[0] != '\0' &&
        strncmp(tls_certs_dir, "/tmp/rp-tls-unit-", 17) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tls_certs_dir);
        (void)system(cmd);
    }
}

/* The path of a test certificate file, in a static buffer (one of 8). */
static inline const char *
cert(const char *name)
{
    static char bufs[8][256];
    static int next;
    const char *dir = getenv("RP_TLS_CERTS");
    char *b = bufs[next++ % 8];

    cr_assert_not_null(dir, "RP_TLS_CERTS is not set");
    snprintf(b, 256, "%s/%s", dir, name);
    return b;
}

/* A server context with the named certificate ("server" for
 * server.crt/server.key), verifying clients as v. */
static inline struct tls_ctx *
server_ctx(const char *name, enum tls_verify v)
{
    char c[256], k[256], err[256];
    enum tls_part part;
    struct tls_ctx *ctx;
    struct tls_settings s = {.server = 1,
                             .cert_file = c,
                             .key_file = k,
                             .verify_clients = v,
                             .ca_file =
                                 v != TLS_VERIFY_OFF ? cert("ca.crt") : NULL};

    snprintf(c, sizeof(c), "%s", cert(name));
    strcat(c, ".crt");
    snprintf(k, sizeof(k), "%s", cert(name));
    strcat(k, ".key");
    ctx = tls_ctx_create(&s, &part, err, sizeof(err));
    cr_assert_not_null(ctx, "server context %s: %s", name, err);
    return ctx;
}

/* A client context trusting ca ("ca.crt"), with the named client
 * certificate ("client" or NULL). */
static inline struct tls_ctx *
client_ctx(const char *ca, const char *name)
{
    char c[256] = "", k[256] = "", err[256];
    enum tls_part part;
    struct tls_ctx *ctx;
    struct tls_settings s = {.server = 0, .ca_file = cert(ca)};

    if (name != NULL) {
        snprintf(c, sizeof(c), "%s.crt", cert(name));
        snprintf(k, sizeof(k), "%s.key", cert(name));
        s.cert_file = c;
        s.key_file = k;
    }
    ctx = tls_ctx_create(&s, &part, err, sizeof(err));
    cr_assert_not_null(ctx, "client context: %s", err);
    return ctx;
}

/* A socketpair, both ends non-blocking. */
static inline void
nb_pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert_eq(util_set_nonblock(sv[0]), 0);
    cr_assert_eq(util_set_nonblock(sv[1]), 0);
}

#endif
