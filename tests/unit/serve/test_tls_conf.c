/*
 * Unit tests of serve/tls_conf, the proxy's TLS contexts from its
 * settings, with certificates made by tools/tls-certs.sh into a temporary
 * directory (net/tls_helpers.h) and settings read from INI files written
 * there or given as -s arguments: the listeners' context built and
 * installed on exactly the kinds that speak TLS (with its expiry in the
 * TLS figures), the Redis one kept apart, a reload's context prepared and
 * installed, contexts released; every error a configuration error naming
 * where the key was set (FILE:LINE, -s ARG, or the defaults), the key,
 * and what is wrong; an expired certificate loaded with a warning.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "net/tls.h"
#include "serve/tls_conf.h"

#include "live_helpers.h"
#include "net/tls_helpers.h"

static char ini[256]; /* this test's settings file (tests run in parallel) */

static void
setup(void)
{
    int fd;

    live_defaults();
    live_services();
    snprintf(ini, sizeof(ini), "%s", cert("proxy.ini.XXXXXX"));
    fd = mkstemp(ini);
    cr_assert_geq(fd, 0);
    close(fd);
}

static void
teardown(void)
{
    unlink(ini);
    live_down();
}

TestSuite(tls_conf, .init = setup, .fini = teardown, .timeout = 30);

/* Writes the file's text (each %s replaced by the certificates' folder)
 * and loads it on top of live.cfg. */
static void
load(const char *text)
{
    char body[2048], err[CONFIG_ERR_MAX];
    const char *dir = getenv("RP_TLS_CERTS");
    size_t n = 0;
    FILE *f;

    for (const char *p = text; *p != '\0' && n < sizeof(body) - 256; p++) {
        if (p[0] == '%' && p[1] == 's') {
            n += (size_t)snprintf(body + n, sizeof(body) - n, "%s", dir);
            p++;
        } else {
            body[n++] = *p;
        }
    }
    body[n] = '\0';
    f = fopen(ini, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fputs(body, f) >= 0, 1);
    fclose(f);
    cr_assert_eq(config_load_file(&live.cfg, ini, err, sizeof(err)), 0, "%s",
                 err);
}

/* err is "<where>: [section] key: " then something containing text. */
static void
expect_error(const char *err, const char *where, const char *key,
             const char *text)
{
    char head[512];

    snprintf(head, sizeof(head), "%s: %s: ", where, key);
    cr_expect_eq(strncmp(err, head, strlen(head)), 0,
                 "'%s' does not start '%s'", err, head);
    cr_expect_not_null(strstr(err + strlen(head), text),
                       "'%s' does not say '%s'", err, text);
}

/* The file's name and line, as config errors name them. */
static const char *
at(int line)
{
    static char where[300];

    snprintf(where, sizeof(where), "%s:%d", ini, line);
    return where;
}

#define SERVER_CERT                                                            \
    "[server]\ntls_port = 6390\ntls_cert_file = %s/server.crt\n"               \
    "tls_key_file = %s/server.key\n"

Test(tls_conf, a_listener_speaks_tls_with_tls_port_http_tls_or_admin_tls)
{
    cr_expect_eq(tls_conf_listeners(&live.cfg), 0);
    live.cfg.tls_port = 6390;
    cr_expect_eq(tls_conf_listeners(&live.cfg), 1);
    live.cfg.tls_port = 0;
    live.cfg.http_tls = 1;
    cr_expect_eq(tls_conf_listeners(&live.cfg), 1);
    live.cfg.http_tls = 0;
    live.cfg.admin_tls = 1;
    cr_expect_eq(tls_conf_listeners(&live.cfg), 0, "the admin port is off");
    live.cfg.admin_port = 8081;
    cr_expect_eq(tls_conf_listeners(&live.cfg), 1);
}

Test(tls_conf, the_listeners_context_comes_from_the_certificate_files)
{
    char err[CONFIG_ERR_MAX] = "";
    struct tls_ctx *ctx;

    load(SERVER_CERT);
    ctx = tls_conf_server(&live.cfg, err, sizeof(err));
    cr_assert_not_null(ctx, "%s", err);
    cr_expect_gt(tls_ctx_not_after(ctx), (int64_t)time(NULL));
    cr_expect_not_null(strstr(tls_ctx_describe(ctx), "CN=localhost"), "%s",
                       tls_ctx_describe(ctx));
    tls_ctx_release(ctx);
}

Test(tls_conf, a_key_not_of_the_certificate_names_its_file_and_line)
{
    char err[CONFIG_ERR_MAX] = "";

    load("[server]\ntls_port = 6390\ntls_cert_file = %s/server.crt\n"
         "tls_key_file = %s/mismatch.key\n");
    cr_expect_null(tls_conf_server(&live.cfg, err, sizeof(err)));
    expect_error(err, at(4), "[server] tls_key_file",
                 "does not match the certificate");
}

Test(tls_conf, each_bad_setting_is_named)
{
    char err[CONFIG_ERR_MAX] = "";

    load("[server]\ntls_port = 6390\n"
         "tls_cert_file = %s/none.crt\ntls_key_file = %s/server.key\n");
    cr_expect_null(tls_conf_server(&live.cfg, err, sizeof(err)));
    expect_error(err, at(3), "[server] tls_cert_file", "cannot open");

    load("[server]\ntls_cert_file = %s/server.crt\n"
         "tls_verify_clients = on\ntls_ca_file = %s/server.key\n");
    cr_expect_null(tls_conf_server(&live.cfg, err, sizeof(err)));
    expect_error(err, at(4), "[server] tls_ca_file", "no PEM CA");

    load("[server]\ntls_ca_file = %s/ca.crt\ntls_ciphers = NOT-A-CIPHER\n");
    cr_expect_null(tls_conf_server(&live.cfg, err, sizeof(err)));
    expect_error(err, at(3), "[server] tls_ciphers", "no usable cipher");

    load("[server]\ntls_ciphers = \ntls_ciphersuites = TLS_NOPE\n");
    cr_expect_null(tls_conf_server(&live.cfg, err, sizeof(err)));
    expect_error(err, at(3), "[server] tls_ciphersuites",
                 "no usable cipher suite");
}

Test(tls_conf, a_key_set_by_an_argument_or_not_at_all_says_so)
{
    char err[CONFIG_ERR_MAX] = "", arg[300];

    cr_expect_null(tls_conf_server(&live.cfg, err, sizeof(err)));
    expect_error(err, "defaults", "[server] tls_cert_file",
                 "a server needs a certificate");

    load(SERVER_CERT);
    snprintf(arg, sizeof(arg), "server.tls_key_file=%s", cert("mismatch.key"));
    cr_assert_eq(config_set(&live.cfg, arg, err, sizeof(err)), 0, "%s", err);
    cr_expect_null(tls_conf_server(&live.cfg, err, sizeof(err)));
    {
        char where[320];

        snprintf(where, sizeof(where), "-s %s", arg);
        expect_error(err, where, "[server] tls_key_file",
                     "does not match the certificate");
    }
}

Test(tls_conf, the_redis_context_is_built_apart_and_its_errors_named)
{
    char err[CONFIG_ERR_MAX] = "";
    struct tls_ctx *ctx;

    load("[redis]\ntls = on\ntls_ca_file = %s/ca.crt\n");
    ctx = tls_conf_redis(&live.cfg, err, sizeof(err));
    cr_assert_not_null(ctx, "%s", err);
    tls_ctx_release(ctx);

    load("[redis]\ntls = on\ntls_ca_file = %s/none.crt\n");
    cr_expect_null(tls_conf_redis(&live.cfg, err, sizeof(err)));
    expect_error(err, at(3), "[redis] tls_ca_file", "cannot open");

    load("[redis]\ntls = on\ntls_ca_file = %s/ca.crt\n"
         "tls_cert_file = %s/client.crt\ntls_key_file = %s/mismatch.key\n");
    cr_expect_null(tls_conf_redis(&live.cfg, err, sizeof(err)));
    expect_error(err, at(5), "[redis] tls_key_file",
                 "does not match the certificate");
}

Test(tls_conf, start_gives_the_context_to_the_kinds_that_speak_tls)
{
    char err[CONFIG_ERR_MAX] = "";
    struct proxy *px = &live.px;

    load(SERVER_CERT "[http]\ntls = on\n[redis]\ntls = on\n"
                     "tls_ca_file = %s/ca.crt\n");
    cr_assert_eq(tls_conf_start(px, err, sizeof(err)), 0, "%s", err);
    cr_expect_not_null(px->kinds[PROXY_RESP_TLS].tls);
    cr_expect_eq(px->kinds[PROXY_HTTP].tls, px->kinds[PROXY_RESP_TLS].tls,
                 "one context for every TLS listener");
    cr_expect_null(px->kinds[PROXY_RESP].tls);
    cr_expect_null(px->kinds[PROXY_ADMIN].tls, "the admin port is off");
    cr_assert_not_null(px->redis_tls);
    cr_expect_neq(px->redis_tls, px->kinds[PROXY_HTTP].tls);
    cr_expect_eq(atomic_load(&px->tls_stats.not_after),
                 tls_ctx_not_after(px->kinds[PROXY_HTTP].tls));
    tls_conf_release(px);
    for (int k = 0; k < PROXY_KINDS; k++) {
        cr_expect_null(px->kinds[k].tls);
    }
    cr_expect_null(px->redis_tls);
}

Test(tls_conf, start_keeps_nothing_when_a_context_fails)
{
    char err[CONFIG_ERR_MAX] = "";
    struct proxy *px = &live.px;

    load(SERVER_CERT "[redis]\ntls = on\ntls_ca_file = %s/none.crt\n");
    cr_expect_eq(tls_conf_start(px, err, sizeof(err)), -1);
    expect_error(err, at(7), "[redis] tls_ca_file", "cannot open");
    for (int k = 0; k < PROXY_KINDS; k++) {
        cr_expect_null(px->kinds[k].tls);
    }
    cr_expect_null(px->redis_tls);
    cr_expect_eq(atomic_load(&px->tls_stats.not_after), 0);
}

Test(tls_conf, a_reload_prepares_a_new_context_and_installs_it)
{
    char err[CONFIG_ERR_MAX] = "";
    struct proxy *px = &live.px;
    struct config running;
    struct tls_ctx *next = NULL, *old;

    load(SERVER_CERT);
    cr_assert_eq(tls_conf_start(px, err, sizeof(err)), 0, "%s", err);
    old = px->kinds[PROXY_RESP_TLS].tls;
    running = live.cfg;
    load("[server]\ntls_cert_file = %s/server2.crt\n"
         "tls_key_file = %s/server2.key\n");
    cr_assert_eq(tls_conf_prepare(&running, &live.cfg, &next, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_not_null(next);
    cr_expect_neq(next, old);
    tls_conf_install(px, next);
    cr_expect_eq(px->kinds[PROXY_RESP_TLS].tls, next);

    load("[server]\ntls_key_file = %s/mismatch.key\n");
    next = (struct tls_ctx *)1;
    cr_expect_eq(tls_conf_prepare(&running, &live.cfg, &next, err, sizeof(err)),
                 -1);
    cr_expect_null(next);
    expect_error(err, at(2), "[server] tls_key_file",
                 "does not match the certificate");
    tls_conf_install(px, NULL); /* nothing to install: no-op */
    cr_expect_not_null(px->kinds[PROXY_RESP_TLS].tls);
    tls_conf_release(px);

    config_defaults(&running); /* no TLS listener running */
    cr_expect_eq(tls_conf_prepare(&running, &live.cfg, &next, err, sizeof(err)),
                 0);
    cr_expect_null(next, "a listener needs a restart to start TLS");
}

Test(tls_conf, an_expired_certificate_is_loaded_with_a_warning)
{
    char err[CONFIG_ERR_MAX] = "";
    const char *path, *out;

    load("[server]\ntls_port = 6390\ntls_cert_file = %s/expired.crt\n"
         "tls_key_file = %s/expired.key\n");
    path = unit_capture_stderr();
    cr_assert_eq(tls_conf_start(&live.px, err, sizeof(err)), 0, "%s", err);
    out = unit_captured(path);
    cr_expect_not_null(strstr(out, "level=warn msg=\"TLS certificate has "
                                   "expired\" subject="),
                       "%s", out);
    cr_expect_lt(atomic_load(&live.px.tls_stats.not_after),
                 (int64_t)time(NULL));
    tls_conf_release(&live.px);
}
