/*
 * End-to-end tests of TLS on the proxy's listeners, against a real
 * redis-server, with the certificates of tools/tls-certs.sh: redis-cli
 * --tls against tls_port (a GET from the cache, shown by Redis's own GET
 * count, and a forwarded SET), beside resp_port and instead of it; curl
 * --cacert against HTTPS on the data and admin ports; a plain-text client
 * on a TLS port refused and counted; client certificates required (a
 * client without one and one from an unknown CA refused, counted as
 * certificate failures), and optional; the configuration errors at start
 * naming the key and FILE:LINE (a missing file, a key that does not match
 * the certificate), -t reading the certificates too; the [redis] TLS
 * files checked at start, with the warning for tls_verify = off (TLS
 * towards Redis itself is test_tls_redis.c's).
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P "redis_proxy_"
#define OUT_CAP 8192
#define TLS_FAIL(reason) P "tls_handshake_failures_total{reason=\"" reason "\"}"

H_PAIR_SUITE(tls, 60);

/* Runs argv (a client tool), output in out; returns its exit status. */
static int
run(char *const argv[], char *out)
{
    return h_exec(argv, NULL, out, OUT_CAP, 10000);
}

/* redis-cli --tls --cacert ca.crt -p port ARGS...: its exit status. */
static int
cli(int port, char *out, const char *const *args)
{
    char portstr[16], *argv[32];
    int n = 0;

    snprintf(portstr, sizeof(portstr), "%d", port);
    argv[n++] = "redis-cli";
    argv[n++] = "--tls";
    argv[n++] = "--cacert";
    argv[n++] = (char *)h_tls_path("ca.crt");
    argv[n++] = "-h";
    argv[n++] = "127.0.0.1";
    argv[n++] = "-p";
    argv[n++] = portstr;
    while (*args != NULL && n < 31) {
        argv[n++] = (char *)*args++;
    }
    argv[n] = NULL;
    return run(argv, out);
}
#define CLI(port, out, ...)                                                    \
    cli((port), (out), (const char *const[]){__VA_ARGS__, NULL})

/* curl --cacert ca.crt -s -i URL (on localhost, as the certificate
 * says): its exit status; out holds the response head and body. */
static int
curl(const char *scheme, int port, const char *path, char *out)
{
    char url[256];

    snprintf(url, sizeof(url), "%s://localhost:%d%s", scheme, port, path);
    return run((char *[]){"curl", "-s", "-S", "-i", "--max-time", "5",
                          "--cacert", (char *)h_tls_path("ca.crt"), url, NULL},
               out);
}

static void
start_tls_proxy(const char *extra, int admin)
{
    char ini[2048];

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = h_tls_ini(ini, sizeof(ini), extra),
                         .admin = admin, .tls = 1));
}

Test(tls, redis_cli_gets_from_the_cache_and_forwards_a_set)
{
    char out[OUT_CAP];
    long gets;

    h_set(&redis, "k", "cached value");
    start_tls_proxy(NULL, 1);
    cr_assert_eq(CLI(proxy.tls_port, out, "GET", "k"), 0, "%s", out);
    cr_assert_str_eq(out, "cached value\n");
    gets = h_redis_calls(&redis, "get");
    /* The second GET is a hit: Redis sees no GET for it. */
    cr_assert_eq(CLI(proxy.tls_port, out, "GET", "k"), 0, "%s", out);
    cr_assert_str_eq(out, "cached value\n");
    cr_assert_eq(h_redis_calls(&redis, "get"), gets);
    cr_assert_eq(CLI(proxy.tls_port, out, "SET", "w", "written"), 0, "%s", out);
    cr_assert_str_eq(out, "OK\n");
    cr_assert_eq(h_redis_cmd(&redis, "GET w"), 0);
    redisContext *rc = h_redis_ctx(&redis);
    redisReply *r = redisCommand(rc, "GET w");
    cr_assert_str_eq(r->str, "written");
    freeReplyObject(r);
    redisFree(rc);
    /* The plain RESP port serves beside it, from the same cache. */
    rc = h_proxy_resp_ctx(&proxy);
    cr_assert_eq(h_resp_get(rc, "k", out, OUT_CAP), 1);
    redisFree(rc);
    cr_assert_eq(h_await_metric(&proxy, P "tls_handshakes_total", 3, 2000), 3);
}

Test(tls, tls_port_alone_instead_of_resp_port)
{
    char ini[1024], out[OUT_CAP];
    struct h_tls t;
    char err[256];

    h_set(&redis, "k", "v");
    h_start_proxy(
        &proxy, &redis,
        H_OPTS(.ini = h_tls_ini(ini, sizeof(ini), NULL),
               .args = (const char *const[]){"-s", "server.resp_port=0", NULL},
               .tls = 1, .resp_off = 1));
    cr_assert_eq(
        h_tls_connect(&t, proxy.tls_port, "ca.crt", NULL, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_gt(H_TLS_CMD(&t, out, sizeof(out), "GET", "k"), 0);
    cr_assert_str_eq(out, "$1\r\nv\r\n");
    cr_assert_gt(H_TLS_CMD(&t, out, sizeof(out), "PING"), 0);
    cr_assert_str_eq(out, "+PONG\r\n");
    h_tls_close(&t);
    cr_assert_eq(h_connect(proxy.resp_port), -1, "resp_port still listens");
}

Test(tls, curl_gets_over_https_on_the_data_and_admin_ports)
{
    char out[OUT_CAP];

    h_set(&redis, "k", "over https");
    start_tls_proxy("[http]\ntls = on\n[admin]\ntls = on\n", 1);
    cr_assert_eq(curl("https", proxy.http_port, "/k", out), 0, "%s", out);
    cr_assert(strstr(out, "HTTP/1.1 200 OK\r\n") == out, "%s", out);
    cr_assert(strstr(out, "X-Cache: MISS\r\n") != NULL, "%s", out);
    cr_assert(strstr(out, "\r\n\r\nover https") != NULL, "%s", out);
    cr_assert_eq(curl("https", proxy.http_port, "/k", out), 0, "%s", out);
    cr_assert(strstr(out, "X-Cache: HIT\r\n") != NULL, "%s", out);
    cr_assert_eq(curl("https", proxy.admin_port, "/metrics", out), 0, "%s",
                 out);
    cr_assert(strstr(out, P "tls_handshakes_total ") != NULL, "%s", out);
    cr_assert_eq(curl("https", proxy.admin_port, "/healthz", out), 0, "%s",
                 out);
    cr_assert(strstr(out, "HTTP/1.1 200 OK\r\n") == out, "%s", out);
    /* Plain HTTP to an HTTPS port gets no answer, and is counted. */
    cr_assert_neq(curl("http", proxy.http_port, "/k", out), 0, "%s", out);
    cr_assert(strstr(out, "200 OK") == NULL, "%s", out);
}

Test(tls, plain_text_on_a_tls_port_is_refused_and_counted)
{
    char out[OUT_CAP];
    double before;
    int fd;

    h_set(&redis, "k", "v");
    start_tls_proxy(NULL, 1);
    before = h_metric(&proxy, TLS_FAIL("not_tls"));
    fd = h_conn(proxy.tls_port);
    H_SEND(fd, "GET", "k");
    cr_assert_eq(h_wait_closed(fd, 3000), 1, "the proxy kept it open");
    close(fd);
    cr_assert_eq(h_await_metric(&proxy, TLS_FAIL("not_tls"), before + 1, 3000),
                 before + 1);
    /* The listener serves TLS clients as before. */
    cr_assert_eq(CLI(proxy.tls_port, out, "GET", "k"), 0, "%s", out);
}

/* redis-cli with a client certificate (or none): its status and output. */
static int
cli_cert(const char *client, char *out)
{
    char crt[256], key[256], port[16];

    snprintf(port, sizeof(port), "%d", proxy.tls_port);
    if (client == NULL) {
        return cli(proxy.tls_port, out, (const char *const[]){"PING", NULL});
    }
    snprintf(crt, sizeof(crt), "%s.crt", h_tls_path(client));
    snprintf(key, sizeof(key), "%s.key", h_tls_path(client));
    return cli(
        proxy.tls_port, out,
        (const char *const[]){"--cert", crt, "--key", key, "PING", NULL});
}

Test(tls, client_certificates_required_and_refused)
{
    char extra[512], out[OUT_CAP];
    struct h_tls t;
    char err[256];
    double before;

    snprintf(extra, sizeof(extra),
             "tls_ca_file = %s\ntls_verify_clients = on\n",
             h_tls_path("ca.crt"));
    start_tls_proxy(extra, 1);
    cr_assert_eq(cli_cert("client", out), 0, "%s", out);
    cr_assert_str_eq(out, "PONG\n");
    before = h_metric(&proxy, TLS_FAIL("certificate"));
    /* Without one: the handshake (TLS 1.3: the first read) fails. */
    cr_assert_eq(
        h_tls_connect(&t, proxy.tls_port, "ca.crt", NULL, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_lt(H_TLS_CMD(&t, out, sizeof(out), "PING"), 0, "%s", out);
    h_tls_close(&t);
    cr_assert_neq(cli_cert(NULL, out), 0, "%s", out);
    cr_assert(strstr(out, "PONG") == NULL, "%s", out);
    /* One from a CA the proxy does not trust. */
    cr_assert_neq(cli_cert("stranger-client", out), 0, "%s", out);
    cr_assert(strstr(out, "PONG") == NULL, "%s", out);
    cr_assert_eq(
        h_await_metric(&proxy, TLS_FAIL("certificate"), before + 3, 3000),
        before + 3);
}

Test(tls, an_optional_client_certificate_is_checked_when_sent)
{
    char extra[512], out[OUT_CAP];

    snprintf(extra, sizeof(extra),
             "tls_ca_file = %s\ntls_verify_clients = optional\n",
             h_tls_path("ca.crt"));
    start_tls_proxy(extra, 0);
    cr_assert_eq(cli_cert(NULL, out), 0, "%s", out);
    cr_assert_str_eq(out, "PONG\n");
    cr_assert_eq(cli_cert("client", out), 0, "%s", out);
    cr_assert_str_eq(out, "PONG\n");
    cr_assert_neq(cli_cert("stranger-client", out), 0, "%s", out);
}

/* Runs the proxy with -c FILE holding text and more args; returns the
 * exit status, output in out. */
static int
run_proxy(const char *text, const char *const *args, char *out, char *path)
{
    char *argv[16] = {"redis-proxy", "-c", path};
    int n = 3;
    FILE *f;

    snprintf(path, 64, "/tmp/rp-e2e-tls-ini-XXXXXX");
    close(mkstemp(path));
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    while (args != NULL && *args != NULL) {
        argv[n++] = (char *)*args++;
    }
    argv[n] = NULL;
    n = h_run(argv, out, OUT_CAP);
    unlink(path);
    return n;
}

Test(tls, configuration_errors_name_the_key_and_line)
{
    char text[2048], out[OUT_CAP], path[64], want[256];

    snprintf(text, sizeof(text),
             "[server]\nhttp_port = 1\ntls_port = 2\ntls_cert_file = %s\n"
             "tls_key_file = %s\n",
             h_tls_path("server.crt"), h_tls_path("mismatch.key"));
    cr_assert_eq(run_proxy(text, NULL, out, path), 2, "%s", out);
    snprintf(want, sizeof(want),
             "%s:5: [server] tls_key_file: does not match the certificate",
             path);
    cr_assert(strstr(out, want) != NULL, "%s", out);

    snprintf(text, sizeof(text),
             "[server]\ntls_port = 2\ntls_cert_file = %s\n"
             "tls_key_file = %s\n",
             h_tls_path("missing.crt"), h_tls_path("server.key"));
    cr_assert_eq(run_proxy(text, (const char *const[]){"-t", NULL}, out, path),
                 2, "%s", out);
    snprintf(want, sizeof(want),
             "%s:3: [server] tls_cert_file: cannot open '%s': No such file "
             "or directory",
             path, h_tls_path("missing.crt"));
    cr_assert(strstr(out, want) != NULL, "%s", out);

    /* A CA the client certificates would need, unreadable: -t says so. */
    snprintf(text, sizeof(text),
             "[server]\ntls_port = 2\ntls_cert_file = %s\n"
             "tls_key_file = %s\ntls_ca_file = %s\n"
             "tls_verify_clients = on\n",
             h_tls_path("server.crt"), h_tls_path("server.key"),
             h_tls_path("server.key"));
    cr_assert_eq(run_proxy(text, (const char *const[]){"-t", NULL}, out, path),
                 2, "%s", out);
    snprintf(want, sizeof(want), "%s:5: [server] tls_ca_file: no PEM CA", path);
    cr_assert(strstr(out, want) != NULL, "%s", out);

    /* -s names itself. */
    snprintf(text, sizeof(text), "[server]\ntls_port = 2\n");
    snprintf(want, sizeof(want), "server.tls_key_file=%s",
             h_tls_path("server.crt"));
    cr_assert_eq(run_proxy(text,
                           (const char *const[]){"-t", "-s",
                                                 "server.tls_cert_file=/"
                                                 "nonexistent.pem",
                                                 "-s", want, NULL},
                           out, path),
                 2, "%s", out);
    cr_assert(strstr(out, "-s server.tls_cert_file=/nonexistent.pem: "
                          "[server] tls_cert_file: cannot open") != NULL,
              "%s", out);
}

Test(tls, valid_certificates_pass_the_test_config)
{
    char text[2048], out[OUT_CAP], path[64];

    snprintf(text, sizeof(text),
             "[server]\ntls_port = 2\ntls_cert_file = %s\n"
             "tls_key_file = %s\ntls_ca_file = %s\n"
             "tls_verify_clients = optional\n[http]\ntls = on\n",
             h_tls_path("server.crt"), h_tls_path("server.key"),
             h_tls_path("ca.crt"));
    cr_assert_eq(run_proxy(text, (const char *const[]){"-t", NULL}, out, path),
                 0, "%s", out);
    cr_assert(strstr(out, "tls_verify_clients = optional\n") != NULL, "%s",
              out);
    cr_assert(strstr(out, "msg=\"TLS certificate loaded\" "
                          "subject=\"/CN=localhost\"") != NULL,
              "%s", out);
}

Test(tls, redis_tls_files_are_checked_at_start)
{
    char text[2048], out[OUT_CAP], path[64], want[256];

    /* -t reads the files and says what verification is off. */
    snprintf(text, sizeof(text),
             "[redis]\ntls = on\ntls_ca_file = %s\ntls_verify = off\n",
             h_tls_path("ca.crt"));
    cr_assert_eq(run_proxy(text, (const char *const[]){"-t", NULL}, out, path),
                 0, "%s", out);
    cr_assert(strstr(out, "level=warn msg=\"[redis] tls_verify = off: the "
                          "certificate of Redis is not checked") != NULL,
              "%s", out);
    /* A client key that is not the certificate's: exit 2, naming it. */
    snprintf(text, sizeof(text),
             "[redis]\ntls = on\ntls_cert_file = %s\ntls_key_file = %s\n",
             h_tls_path("client.crt"), h_tls_path("mismatch.key"));
    cr_assert_eq(run_proxy(text, NULL, out, path), 2, "%s", out);
    snprintf(want, sizeof(want),
             "%s:4: [redis] tls_key_file: does not match the certificate",
             path);
    cr_assert(strstr(out, want) != NULL, "%s", out);
}
