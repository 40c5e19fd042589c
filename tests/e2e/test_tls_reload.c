/*
 * End-to-end tests of TLS certificates reloaded on SIGHUP: under load
 * (client threads keep reading over RESP-over-TLS and HTTPS, each on one
 * connection for the whole test, while the certificate is switched ten
 * times) no reply is wrong, no connection is dropped (no thread ever
 * reconnects: the handshakes counted are the threads' and the checks'),
 * and every new connection after a reload gets the new certificate; a
 * file rewritten in place is read again without any key changing; a bad
 * certificate or key fails the reload (logged with FILE:LINE, counted)
 * and the running certificate stays; a stricter tls_verify_clients
 * applies to new connections while established ones go on.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "reload_util.h"

#define P "redis_proxy_"
#define KEYS 50
#define RELOADS 10
#define THREADS 4 /* 2 RESP over TLS, 2 HTTPS */

H_PAIR_SUITE(tls_reload, 120);

/* The [server] TLS lines for certificate name ("server", "server2"),
 * with more lines after. */
static const char *
cert_ini(char *buf, size_t cap, const char *name, const char *more)
{
    char crt[256], key[256];

    snprintf(crt, sizeof(crt), "%s.crt", h_tls_path(name));
    snprintf(key, sizeof(key), "%s.key", h_tls_path(name));
    snprintf(buf, cap,
             "[server]\ntls_cert_file = %s\ntls_key_file = %s\n"
             "[http]\ntls = on\n%s",
             crt, key, more != NULL ? more : "");
    return buf;
}

/* The serial of the certificate a new connection gets now. */
static const char *
served_serial(char *out, size_t cap)
{
    struct h_tls t;
    char err[256];

    cr_assert_eq(
        h_tls_connect(&t, proxy.tls_port, "ca.crt", NULL, err, sizeof(err)), 0,
        "%s", err);
    h_tls_peer_serial(&t, out, cap);
    h_tls_close(&t);
    return out;
}

static void
expect_serial(const char *file)
{
    char want[128], got[128];

    h_tls_file_serial(file, want, sizeof(want));
    cr_assert_str_eq(served_serial(got, sizeof(got)), want,
                     "a new connection did not get %s", file);
}

/* ---- the load ---- */

struct client {
    pthread_t thread;
    int https;
    atomic_long ops, bad;
    char err[256];
};

static atomic_int stop;

/* One GET over HTTPS on t: 1 when the body is exactly want. */
static int
https_get(struct h_tls *t, const char *path, const char *want)
{
    char req[128], buf[4096];
    size_t len = 0;
    const char *body, *cl;

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n",
             path);
    if (h_tls_send(t, req, strlen(req)) != 0) {
        return 0;
    }
    for (;;) {
        long n = h_tls_recv(t, buf + len, sizeof(buf) - 1 - len, 5000);

        if (n <= 0) {
            return 0;
        }
        len += (size_t)n;
        buf[len] = '\0';
        body = strstr(buf, "\r\n\r\n");
        cl = strstr(buf, "Content-Length: ");
        if (body != NULL && cl != NULL &&
            len >= (size_t)(body + 4 - buf) + (size_t)atol(cl + 16)) {
            break;
        }
    }
    return strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0 &&
           strcmp(body + 4, want) == 0;
}

static void *
client_main(void *arg)
{
    struct client *c = arg;
    char err[256], key[32], want[64], out[128], path[40];
    struct h_tls t;
    long i;

    if (h_tls_connect(&t, c->https ? proxy.http_port : proxy.tls_port, "ca.crt",
                      NULL, err, sizeof(err)) != 0) {
        snprintf(c->err, sizeof(c->err), "connect: %.200s", err);
        atomic_fetch_add(&c->bad, 1);
        return NULL;
    }
    for (i = 0; !atomic_load(&stop); i++) {
        int ok;

        snprintf(key, sizeof(key), "key%ld", i % KEYS);
        snprintf(want, sizeof(want), "value of key%ld", i % KEYS);
        if (c->https) {
            snprintf(path, sizeof(path), "/%s", key);
            ok = https_get(&t, path, want);
        } else {
            char reply[96];

            snprintf(reply, sizeof(reply), "$%zu\r\n%s\r\n", strlen(want),
                     want);
            ok = H_TLS_CMD(&t, out, sizeof(out), "GET", key) > 0 &&
                 strcmp(out, reply) == 0;
        }
        if (!ok) {
            /* The connection is in an unknown state: stop here. */
            snprintf(c->err, sizeof(c->err), "%s GET %s failed at op %ld",
                     c->https ? "https" : "resp", key, i);
            atomic_fetch_add(&c->bad, 1);
            break;
        }
        atomic_fetch_add(&c->ops, 1);
    }
    h_tls_close(&t);
    return NULL;
}

static long
ops_of(struct client *cs)
{
    long n = 0;
    int i;

    for (i = 0; i < THREADS; i++) {
        n += atomic_load(&cs[i].ops);
    }
    return n;
}

Test(tls_reload, certificates_reloaded_under_load_drop_no_connection)
{
    static struct client cs[THREADS];
    char ini[2048], k[32], v[64];
    double handshakes;
    long before;
    int i;

    for (i = 0; i < KEYS; i++) {
        snprintf(k, sizeof(k), "key%d", i);
        snprintf(v, sizeof(v), "value of %s", k);
        h_set(&redis, k, v);
    }
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = cert_ini(ini, sizeof(ini), "server", NULL),
                         .admin = 1, .tls = 1));
    handshakes = h_metric(&proxy, P "tls_handshakes_total");
    atomic_store(&stop, 0);
    for (i = 0; i < THREADS; i++) {
        memset(&cs[i], 0, sizeof(cs[i]));
        cs[i].https = i % 2;
        cr_assert_eq(pthread_create(&cs[i].thread, NULL, client_main, &cs[i]),
                     0);
    }
    for (i = 0; i < RELOADS; i++) {
        const char *name = i % 2 == 0 ? "server2" : "server";

        /* The load runs across every reload. */
        before = ops_of(cs);
        while (ops_of(cs) < before + 20 && h_now_ms() > 0) {
            h_sleep_ms(5);
            cr_assert_eq(atomic_load(&cs[0].bad) + atomic_load(&cs[1].bad) +
                             atomic_load(&cs[2].bad) + atomic_load(&cs[3].bad),
                         0, "%s%s%s%s", cs[0].err, cs[1].err, cs[2].err,
                         cs[3].err);
        }
        rl_write_ini(&proxy, &redis, NULL,
                     cert_ini(ini, sizeof(ini), name, NULL));
        cr_assert_eq(rl_sighup(&proxy), 1, "reload %d failed", i);
        expect_serial(i % 2 == 0 ? "server2.crt" : "server.crt");
    }
    before = ops_of(cs);
    while (ops_of(cs) < before + 20) {
        h_sleep_ms(5);
    }
    atomic_store(&stop, 1);
    for (i = 0; i < THREADS; i++) {
        pthread_join(cs[i].thread, NULL);
        cr_assert_eq(atomic_load(&cs[i].bad), 0, "client %d: %s", i, cs[i].err);
        cr_assert_gt(atomic_load(&cs[i].ops), RELOADS, "client %d", i);
    }
    /* No client reconnected: the handshakes are the threads' and one
     * check per reload. */
    cr_assert_eq(h_metric(&proxy, P "tls_handshakes_total"),
                 handshakes + THREADS + RELOADS);
    cr_assert_eq(rl_await_log_count(&proxy, "msg=\"TLS certificate loaded\"",
                                    RELOADS + 1),
                 RELOADS + 1);
}

/* Copies the test file from to path. */
static void
copy_file(const char *from, const char *path)
{
    char tmp[300], buf[8192];
    FILE *in = fopen(h_tls_path(from), "r"), *out;
    size_t n;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    out = fopen(tmp, "w");
    cr_assert_not_null(in);
    cr_assert_not_null(out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    }
    fclose(in);
    cr_assert_eq(fclose(out), 0);
    cr_assert_eq(rename(tmp, path), 0);
}

Test(tls_reload, a_certificate_rewritten_in_place_is_read_again)
{
    char dir[] = "/tmp/rp-e2e-tls-rewrite-XXXXXX", crt[128], key[128];
    char ini[1024];

    cr_assert_not_null(mkdtemp(dir));
    snprintf(crt, sizeof(crt), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    copy_file("server.crt", crt);
    copy_file("server.key", key);
    snprintf(ini, sizeof(ini),
             "[server]\ntls_cert_file = %s\ntls_key_file = %s\n", crt, key);
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = ini, .admin = 1, .tls = 1));
    expect_serial("server.crt");
    /* The renewal: new files under the same names, the same INI. */
    copy_file("server2.crt", crt);
    copy_file("server2.key", key);
    cr_assert_eq(rl_sighup(&proxy), 1);
    expect_serial("server2.crt");
    cr_assert_eq(
        rl_await_log_count(&proxy, "msg=\"TLS certificate loaded\"", 2), 2);
    cr_assert_eq(rl_last_reload_count(&proxy, "msg=\"config changed\""), 0);
    unlink(crt);
    unlink(key);
    rmdir(dir);
}

Test(tls_reload, a_bad_certificate_fails_the_reload_and_the_old_one_stays)
{
    char ini[2048], more[512], want[512], *log;
    double failed;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = cert_ini(ini, sizeof(ini), "server", NULL),
                         .admin = 1, .tls = 1));
    failed = rl_metric(&proxy, P "config_reloads_total{result=\"failed\"}");
    /* A key of another certificate (the harness's lines are 10, then
     * [server], tls_cert_file, tls_key_file). */
    snprintf(more, sizeof(more),
             "[server]\ntls_cert_file = %s\ntls_key_file = %s\n",
             h_tls_path("server2.crt"), h_tls_path("server.key"));
    rl_write_ini(&proxy, &redis, NULL, more);
    cr_assert_eq(rl_sighup(&proxy), 0, "a mismatched key was taken");
    snprintf(want, sizeof(want),
             "msg=\"config reload failed; settings unchanged\" "
             "error=\"%s:13: [server] tls_key_file: does not match the "
             "certificate\"",
             proxy.ini);
    /* Lines reach the log after the counter moves: wait for it. */
    if (!h_await_log(&proxy, want, RL_MS)) {
        log = rl_log(&proxy);
        cr_assert_fail("no '%s' in\n%s", want, log);
    }
    expect_serial("server.crt");
    /* A file that is gone. */
    snprintf(more, sizeof(more),
             "[server]\ntls_cert_file = %s\ntls_key_file = %s\n",
             h_tls_path("gone.crt"), h_tls_path("server2.key"));
    rl_write_ini(&proxy, &redis, NULL, more);
    cr_assert_eq(rl_sighup(&proxy), 0, "a missing certificate was taken");
    expect_serial("server.crt");
    cr_assert_eq(rl_metric(&proxy, P "config_reloads_total{result=\"failed\"}"),
                 failed + 2);
    /* Fixed: taken. */
    rl_write_ini(&proxy, &redis, NULL,
                 cert_ini(ini, sizeof(ini), "server2", NULL));
    cr_assert_eq(rl_sighup(&proxy), 1);
    expect_serial("server2.crt");
}

Test(tls_reload, client_verification_turned_on_applies_to_new_connections)
{
    char ini[2048], more[512], out[64], err[256];
    struct h_tls old, t;

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = cert_ini(ini, sizeof(ini), "server", NULL),
                         .admin = 1, .tls = 1));
    cr_assert_eq(
        h_tls_connect(&old, proxy.tls_port, "ca.crt", NULL, err, sizeof(err)),
        0, "%s", err);
    snprintf(more, sizeof(more),
             "[server]\ntls_ca_file = %s\ntls_verify_clients = on\n",
             h_tls_path("ca.crt"));
    rl_write_ini(&proxy, &redis, NULL,
                 cert_ini(ini, sizeof(ini), "server", more));
    cr_assert_eq(rl_sighup(&proxy), 1);
    rl_expect_change(&proxy, "server.tls_verify_clients", "off", "on");
    /* New: a certificate is required. */
    cr_assert_eq(
        h_tls_connect(&t, proxy.tls_port, "ca.crt", NULL, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_lt(H_TLS_CMD(&t, out, sizeof(out), "PING"), 0,
                 "let in without a certificate");
    h_tls_close(&t);
    cr_assert_eq(
        h_tls_connect(&t, proxy.tls_port, "ca.crt", "client", err, sizeof(err)),
        0, "%s", err);
    cr_assert_gt(H_TLS_CMD(&t, out, sizeof(out), "PING"), 0);
    h_tls_close(&t);
    /* Established before: goes on. */
    cr_assert_gt(H_TLS_CMD(&old, out, sizeof(out), "GET", "k"), 0);
    cr_assert_str_eq(out, "$1\r\nv\r\n");
    h_tls_close(&old);
}
