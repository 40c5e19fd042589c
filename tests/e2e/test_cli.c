/*
 * End-to-end tests of the command line and the configuration file: -t
 * printing the effective settings, every kind of configuration error with
 * its FILE:LINE (or -s argument) and exit status 2, -s overrides, -h/-V,
 * a port already in use (exit 1), resp_port = 0 turning the RESP listener
 * off, and SIGTERM/SIGINT finishing the request in flight and exiting 0.
 * One-shot runs go through h_run (5 s deadline).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define OUT_CAP 16384

static char tmpdir[128]; /* per-test directory for INI files */
static int nfiles;
static struct h_redis redis; /* started only by the tests that need one */
static struct h_proxy proxy;
static int busy_fd = -1; /* a socket holding a port, for port_in_use tests */

/* The shared fixture's teardown, with a setup that starts no redis-server:
 * most of these tests only run the binary once. */
static void
setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/rp-e2e-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    nfiles = 0;
    memset(&redis, 0, sizeof(redis));
    memset(&proxy, 0, sizeof(proxy));
    busy_fd = -1;
}

static void
teardown(void)
{
    char path[256];

    if (busy_fd >= 0)
        close(busy_fd);
    h_pair_teardown(&redis, &proxy);
    for (int i = 0; i < nfiles; i++) {
        snprintf(path, sizeof(path), "%s/%d.ini", tmpdir, i);
        unlink(path);
    }
    rmdir(tmpdir);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 30);

/* Writes text to a new INI file in tmpdir; returns its path (static slot). */
static const char *
write_ini(const char *text)
{
    static char paths[8][256];
    char *path;
    FILE *f;

    cr_assert_lt(nfiles, 8);
    path = paths[nfiles];
    snprintf(path, 256, "%s/%d.ini", tmpdir, nfiles);
    nfiles++;
    f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fputs(text, f) >= 0 && fclose(f) == 0, 1);
    return path;
}

/* h_run with a NULL-terminated list of arguments (after argv[0]). */
static int
run(char *out, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;

    argv[argc++] = "redis-proxy";
    va_start(ap, out);
    while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
        argc++;
    va_end(ap);
    argv[argc] = NULL;
    return h_run(argv, out, OUT_CAP);
}

/*
 * Runs the binary through sh with `args` (already shell-safe) and `redir`
 * ("2>/dev/null" keeps stdout, "2>&1 >/dev/null" keeps stderr); captures
 * what is left into out. Returns the exit status.
 */
static int
run_stream(char *out, const char *args, const char *redir)
{
    char cmd[1024];
    size_t n = 0, r;
    FILE *p;
    int st;

    snprintf(cmd, sizeof(cmd), "timeout -s KILL 5 '%s' %s %s", h_proxy_bin(),
             args, redir);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    while (n + 1 < OUT_CAP && (r = fread(out + n, 1, OUT_CAP - 1 - n, p)) > 0)
        n += r;
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define STDOUT_ONLY "2>/dev/null"
#define STDERR_ONLY "2>&1 >/dev/null"

/* Asserts out contains "PATH:LINE: rest". */
static void
expect_at(const char *out, const char *path, int line, const char *rest)
{
    char want[512];
    snprintf(want, sizeof(want), "%s:%d: %s", path, line, rest);
    cr_assert_not_null(strstr(out, want), "expected \"%s\" in output:\n%s",
                       want, out);
}

/* ---- 13: -t ---- */

Test(cli, test_config_prints_effective_settings)
{
    char out[OUT_CAP], again[OUT_CAP], args[512];
    const char *ini = write_ini("[server]\n"
                                "http_port = 18081\n"
                                "workers = 3\n"
                                "[redis]\n"
                                "password = s3cr3t\n"
                                "db = 2\n");
    int rc = run(out, "-c", ini, "-t", NULL);

    cr_assert_eq(rc, 0, "exit %d, output:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "[server]"), "%s", out);
    cr_assert_not_null(strstr(out, "http_port = 18081\n"), "%s", out);
    cr_assert_not_null(strstr(out, "workers = 3\n"), "%s", out);
    cr_assert_not_null(strstr(out, "[redis]"), "%s", out);
    cr_assert_not_null(strstr(out, "password = ***\n"), "%s", out);
    cr_assert_not_null(strstr(out, "db = 2\n"), "%s", out);
    cr_assert_not_null(strstr(out, "[cache]"), "%s", out);
    cr_assert_null(strstr(out, "s3cr3t"), "password leaked:\n%s", out);
    /* defaults are part of the effective settings */
    cr_assert_not_null(strstr(out, "resp_port = 6380\n"), "%s", out);
    cr_assert_not_null(strstr(out, "pool_size = 8\n"), "%s", out);

    /* stdout alone is an INI the proxy accepts and prints identically */
    snprintf(args, sizeof(args), "-c '%s' -t", ini);
    cr_assert_eq(run_stream(out, args, STDOUT_ONLY), 0);
    const char *copy = write_ini(out);
    snprintf(args, sizeof(args), "-c '%s' -t", copy);
    cr_assert_eq(run_stream(again, args, STDOUT_ONLY), 0,
                 "printed settings do not load:\n%s", out);
    cr_assert_str_eq(again, out);
}

Test(cli, test_config_accepts_units_and_resp_port_zero)
{
    char out[OUT_CAP];
    const char *ini =
        write_ini("[server]\nresp_port = 0\nidle_timeout = 1500ms\n"
                  "request_timeout = 2m\n[redis]\n"
                  "connect_timeout = 1h\ncommand_timeout = 7\n"
                  "[cache]\nttl = 0\ncapacity = 0\n"
                  "[log]\nlevel = debug\n");
    int rc = run(out, "-c", ini, "-t", NULL);
    cr_assert_eq(rc, 0, "exit %d, output:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "resp_port = 0\n"), "%s", out);
    cr_assert_not_null(strstr(out, "capacity = 0\n"), "%s", out);
    cr_assert_not_null(strstr(out, "level = debug\n"), "%s", out);
}

/* ---- 14: configuration errors ---- */

Test(cli, unknown_key_names_file_and_line)
{
    char out[OUT_CAP], args[512];
    const char *ini = write_ini("[server]\nhttp_port = 8080\nfoo = 1\n");

    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    expect_at(out, ini, 3, "unknown key 'foo' in section [server]");
    /* the same without -t, and the message is on stderr */
    snprintf(args, sizeof(args), "-c '%s'", ini);
    cr_assert_eq(run_stream(out, args, STDERR_ONLY), 2);
    expect_at(out, ini, 3, "unknown key 'foo' in section [server]");
}

Test(cli, unknown_section_names_file_and_line)
{
    char out[OUT_CAP];
    const char *ini = write_ini("[server]\nworkers = 2\n[bar]\nx = 1\n");

    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    expect_at(out, ini, 3, "unknown section [bar]");
}

Test(cli, bad_duration_is_an_error)
{
    char out[OUT_CAP];
    const char *ini = write_ini("[server]\nworkers = 2\nidle_timeout = 10x\n");
    char want[300];

    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    snprintf(want, sizeof(want), "%s:3: [server] idle_timeout: ", ini);
    cr_assert_not_null(strstr(out, want), "expected \"%s\" in:\n%s", want, out);
    cr_assert_not_null(strstr(out, "'10x'"), "value not quoted:\n%s", out);

    ini = write_ini("[cache]\nttl = -1s\n");
    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    expect_at(out, ini, 2, "[cache] ttl: ");
}

Test(cli, bad_port_is_an_error)
{
    char out[OUT_CAP];
    const char *ini = write_ini("[server]\nhttp_port = abc\n");

    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    expect_at(out, ini, 2,
              "[server] http_port: expected a port 1..65535, got 'abc'");

    ini = write_ini("; comment\n[server]\nhttp_port = 65536\n");
    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    expect_at(out, ini, 3,
              "[server] http_port: expected a port 1..65535, got '65536'");

    ini = write_ini("[server]\nhttp_port = 0\n");
    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    expect_at(out, ini, 2, "[server] http_port: ");

    ini = write_ini("[redis]\nport = 8080x\n");
    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    expect_at(out, ini, 2, "[redis] port: ");
}

Test(cli, other_bad_values_are_errors)
{
    char out[OUT_CAP];
    const char *ini = write_ini("[log]\nlevel = verbose\n");

    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    expect_at(out, ini, 2, "[log] level: ");

    ini = write_ini("[server]\nworkers = 0\n");
    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    expect_at(out, ini, 2, "[server] workers: ");

    ini = write_ini("[cache]\ncapacity = lots\n");
    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    expect_at(out, ini, 2, "[cache] capacity: ");
}

Test(cli, duplicate_key_names_both_lines)
{
    char out[OUT_CAP], want[300];
    const char *ini = write_ini("[server]\nworkers = 5\nworkers = 6\n");
    const char *at, *eol;

    cr_assert_eq(run(out, "-c", ini, "-t", NULL), 2, "%s", out);
    snprintf(want, sizeof(want), "%s:3: ", ini);
    at = strstr(out, want);
    cr_assert_not_null(at, "expected \"%s\" in output:\n%s", want, out);
    at += strlen(want);
    eol = strchr(at, '\n');
    if (eol == NULL)
        eol = at + strlen(at);
    cr_assert_not_null(memmem(at, (size_t)(eol - at), "workers", 7),
                       "message does not name the key: %s", at);
    cr_assert_not_null(memchr(at, '2', (size_t)(eol - at)),
                       "message does not name the first line (2): %s", at);
}

Test(cli, missing_file_is_an_error)
{
    char out[OUT_CAP];

    cr_assert_eq(run(out, "-c", "/nonexistent/proxy.ini", "-t", NULL), 2, "%s",
                 out);
    cr_assert_not_null(strstr(out, "/nonexistent/proxy.ini"), "%s", out);
    cr_assert_eq(run(out, "-c", "/nonexistent/proxy.ini", NULL), 2, "%s", out);
    cr_assert_not_null(strstr(out, "/nonexistent/proxy.ini"), "%s", out);
}

/* ---- 15: -s overrides ---- */

Test(cli, set_overrides_file)
{
    char out[OUT_CAP];
    const char *ini = write_ini("[server]\nworkers = 2\n");
    int rc;

    rc = run(out, "-c", ini, "-s", "server.workers=4", "-t", NULL);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "workers = 4\n"), "%s", out);
    cr_assert_null(strstr(out, "workers = 2\n"), "%s", out);

    rc = run(out, "-c", ini, "-s", "server.workers=4", "-s", "server.workers=5",
             "-s", "redis.password=hunter2", "-t", NULL);
    cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "workers = 5\n"), "last -s wins:\n%s", out);
    cr_assert_not_null(strstr(out, "password = ***\n"), "%s", out);
    cr_assert_null(strstr(out, "hunter2"), "password leaked:\n%s", out);

    rc = run(out, "--config", ini, "--set", "cache.capacity=7", "--test-config",
             NULL);
    cr_assert_eq(rc, 0, "long options: exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "capacity = 7\n"), "%s", out);
}

Test(cli, set_errors_name_the_argument)
{
    char out[OUT_CAP];
    const char *ini = write_ini("[server]\nworkers = 2\n");

    cr_assert_eq(run(out, "-c", ini, "-s", "bad", "-t", NULL), 2, "%s", out);
    cr_assert_not_null(strstr(out, "-s bad: "), "%s", out);

    cr_assert_eq(run(out, "-c", ini, "-s", "server.nope=1", "-t", NULL), 2,
                 "%s", out);
    cr_assert_not_null(strstr(out, "-s server.nope=1: "), "%s", out);

    cr_assert_eq(run(out, "-c", ini, "-s", "nosuch.workers=1", "-t", NULL), 2,
                 "%s", out);
    cr_assert_not_null(strstr(out, "-s nosuch.workers=1: "), "%s", out);

    cr_assert_eq(run(out, "-c", ini, "-s", "server.http_port=abc", "-t", NULL),
                 2, "%s", out);
    cr_assert_not_null(strstr(out, "-s server.http_port=abc: "), "%s", out);
    cr_assert_not_null(strstr(out, "'abc'"), "%s", out);
}

Test(cli, listeners_on_one_port_and_bad_bind_fail_the_check)
{
    char out[OUT_CAP];
    const char *ini = write_ini("[server]\nhttp_port = 17990\n"
                                "[admin]\nport = 17990\n");

    cr_assert_eq(run(out, "-t", "-c", "/dev/null", "-s",
                     "server.http_port=17991", "-s", "server.resp_port=17991",
                     NULL),
                 2, "%s", out);
    cr_assert_not_null(strstr(out, "-s server.resp_port=17991: [server] "
                                   "resp_port: port 17991 is also [server] "
                                   "http_port (-s server.http_port=17991)"),
                       "%s", out);
    cr_assert_eq(run(out, "-t", "-c", ini, NULL), 2, "%s", out);
    expect_at(out, ini, 4,
              "[admin] port: port 17990 is also [server] "
              "http_port");
    cr_assert_eq(run(out, "-c", ini, "-s", "admin.port=0", "-t", NULL), 0, "%s",
                 out);
    /* the running proxy checks the same, before it binds anything */
    cr_assert_eq(run(out, "-c", ini, NULL), 2, "%s", out);
    cr_assert_eq(run(out, "-t", "-c", "/dev/null", "-s",
                     "server.bind=not-an-address.invalid", NULL),
                 2, "%s", out);
    cr_assert_not_null(strstr(out, "-s server.bind=not-an-address.invalid: "
                                   "[server] bind: cannot resolve"),
                       "%s", out);
}

/* ---- 16: -h, -V, bad usage ---- */

Test(cli, help_version_and_bad_option)
{
    char out[OUT_CAP];
    int rc;

    rc = run_stream(out, "-h", STDOUT_ONLY);
    cr_assert_eq(rc, 0, "-h exit %d", rc);
    cr_assert_not_null(strstr(out, "--config"), "usage on stdout:\n%s", out);
    cr_assert_not_null(strstr(out, "--set"), "%s", out);
    cr_assert_not_null(strstr(out, "--test-config"), "%s", out);

    rc = run(out, "-V", NULL);
    cr_assert_eq(rc, 0, "-V exit %d: %s", rc, out);
    cr_assert(strlen(out) > 1 && strchr(out, '\n') == out + strlen(out) - 1,
              "-V should print one line, got: %s", out);
    cr_assert_not_null(strpbrk(out, "0123456789"), "no version: %s", out);

    rc = run_stream(out, "--bogus", STDOUT_ONLY);
    cr_assert_eq(rc, 2, "unknown option exit %d", rc);
    cr_assert_str_eq(out, "", "nothing on stdout for bad usage");
    rc = run_stream(out, "--bogus", STDERR_ONLY);
    cr_assert_eq(rc, 2);
    cr_assert_not_null(strcasestr(out, "usage"), "usage on stderr:\n%s", out);

    rc = run(out, "-c", NULL);
    cr_assert_eq(rc, 2, "-c without FILE: exit %d: %s", rc, out);
    rc = run(out, "-t", "extra-arg", NULL);
    cr_assert_eq(rc, 2, "stray argument: exit %d: %s", rc, out);
}

/* ---- 17: ports in use ---- */

/* Binds and listens on a kernel-chosen loopback port; returns the port. */
static int
hold_port(int *fd_out)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(fd, 8), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *fd_out = fd;
    return ntohs(a.sin_port);
}

static void
expect_port_in_use(int http_port, int resp_port, int busy)
{
    char out[OUT_CAP], ini_text[256], busy_s[16];
    const char *ini;
    int rc;

    snprintf(ini_text, sizeof(ini_text),
             "[server]\nbind = 127.0.0.1\nhttp_port = %d\nresp_port = %d\n",
             http_port, resp_port);
    ini = write_ini(ini_text);
    rc = run(out, "-c", ini, NULL);
    cr_assert_eq(rc, 1, "port %d in use: exit %d, output:\n%s", busy, rc, out);
    snprintf(busy_s, sizeof(busy_s), "%d", busy);
    cr_assert(strstr(out, busy_s) != NULL || strstr(out, "in use") != NULL,
              "message does not say what failed:\n%s", out);
}

Test(cli, http_port_in_use_exits_1)
{
    int other_fd, other;
    int busy = hold_port(&busy_fd);

    other = hold_port(&other_fd);
    close(other_fd); /* a port that was free a moment ago */
    expect_port_in_use(busy, other, busy);
}

Test(cli, resp_port_in_use_exits_1)
{
    int other_fd, other;
    int busy = hold_port(&busy_fd);

    other = hold_port(&other_fd);
    close(other_fd);
    expect_port_in_use(other, busy, busy);
}

/* ---- 18: signals ---- */

/* Waits up to ms for the proxy to exit; returns its wait status or -1. */
static int
wait_proxy_exit(int ms)
{
    int64_t deadline = h_now_ms() + ms;
    int st;

    for (;;) {
        pid_t w = waitpid(proxy.pid, &st, WNOHANG);
        if (w == proxy.pid) {
            proxy.pid = 0; /* reaped: h_proxy_stop only cleans up */
            return st;
        }
        if (w < 0 && errno != EINTR)
            return -1;
        if (h_now_ms() >= deadline)
            return -1;
        h_sleep_ms(10);
    }
}

/* redis-server and a proxy started with o. */
static void
start_both(const struct h_proxy_opts *o)
{
    cr_assert_eq(h_redis_start(&redis, 0, NULL), 0,
                 "redis-server did not start");
    h_start_proxy(&proxy, &redis, o);
}

static void
expect_clean_exit(int st, const char *sig)
{
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        h_proxy_dump_log(&proxy);
    cr_assert_neq(st, -1, "proxy did not exit within 3 s of %s", sig);
    cr_assert(WIFEXITED(st), "proxy died of signal %d after %s",
              WIFSIGNALED(st) ? WTERMSIG(st) : 0, sig);
    cr_assert_eq(WEXITSTATUS(st), 0, "exit status after %s", sig);
}

Test(cli, sigterm_finishes_request_in_flight)
{
    struct h_resp r;
    int fd, rc;
    int64_t t_sig;
    double in_use;

    start_both(H_OPTS(.admin = 1, .ini = "[redis]\ncommand_timeout = 10s\n"));
    /* serving first: a pause during its startup would hold the accept loop
     * (it waits for the invalidation stream) and the request with it */
    h_proxy_serving(&proxy);
    cr_assert_eq(h_redis_cmd(&redis, "SET cold inflight"), 0);
    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE 1500 ALL"), 0);
    fd = h_connect(proxy.http_port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(h_sends(fd, "GET /cold HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                 0);
    /* in flight: a worker holds a Redis connection for it, unanswered */
    in_use = h_await_metric(&proxy, "redis_proxy_redis_pool_in_use", 1, 2000);
    cr_assert_eq(in_use, 1, "the request never reached Redis (in use %g)",
                 in_use);
    cr_assert_eq(h_readable(&fd, 1, 0), 0,
                 "answered before the signal: not in flight");
    t_sig = h_now_ms();
    cr_assert_eq(kill(proxy.pid, SIGTERM), 0);

    rc = h_read_resp(fd, &r, 0, 6000);
    close(fd);
    cr_assert_eq(rc, 0, "no response to the request in flight");
    cr_assert_eq(r.status, 200, "status %d", r.status);
    cr_assert(r.body_len == 8 && memcmp(r.body, "inflight", 8) == 0);
    h_resp_free(&r);
    /* the answer is the one Redis gave once the pause was over */
    cr_assert_eq(h_redis_calls(&redis, "get"), 1,
                 "Redis did not answer the request in flight");

    expect_clean_exit(wait_proxy_exit((int)(t_sig + 6000 - h_now_ms())),
                      "SIGTERM");
}

Test(cli, sigint_exits_zero_with_idle_connections)
{
    struct h_resp r;
    int http_fd, resp_fd;
    char buf[64];

    start_both(NULL);
    cr_assert_eq(h_redis_cmd(&redis, "SET k v"), 0);
    /* a keep-alive connection after one request, and an idle RESP one */
    http_fd = h_connect(proxy.http_port);
    cr_assert_geq(http_fd, 0);
    cr_assert_eq(h_sends(http_fd, "GET /k HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                 0);
    cr_assert_eq(h_read_resp(http_fd, &r, 0, 2000), 0);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    resp_fd = h_connect(proxy.resp_port);
    cr_assert_geq(resp_fd, 0);
    cr_assert_eq(h_sends(resp_fd, "PING\r\n"), 0);
    size_t n = 0;
    int64_t deadline = h_now_ms() + 2000;
    while (n < 7 && h_now_ms() < deadline) {
        ssize_t k = recv(resp_fd, buf + n, 7 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    cr_assert(n == 7 && memcmp(buf, "+PONG\r\n", 7) == 0);

    cr_assert_eq(kill(proxy.pid, SIGINT), 0);
    int st = wait_proxy_exit(3000);
    close(http_fd);
    close(resp_fd);
    expect_clean_exit(st, "SIGINT");
}

Test(cli, sigterm_when_idle_exits_zero)
{
    start_both(NULL);
    cr_assert_eq(kill(proxy.pid, SIGTERM), 0);
    expect_clean_exit(wait_proxy_exit(3000), "SIGTERM");
}

/* ---- 12: resp_port = 0 (an -s override of the file) ---- */

/* 1 if something accepts TCP connections on 127.0.0.1:port. */
static int
port_listening(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* Number of TCP sockets in LISTEN state held by process pid. */
static int
count_listening(pid_t pid)
{
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    char path[64], link[128], line[512];
    unsigned long inodes[256], ino;
    int ninodes = 0, count = 0;
    struct dirent *de;
    unsigned st;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL && ninodes < 256) {
        ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = '\0';
        if (sscanf(link, "socket:[%lu]", &ino) == 1)
            inodes[ninodes++] = ino;
    }
    closedir(d);
    for (size_t t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
            if (sscanf(line, "%*s %*s %*s %x %*s %*s %*s %*s %*s %lu", &st,
                       &ino) != 2 ||
                st != 0x0A)
                continue;
            for (int i = 0; i < ninodes; i++)
                count += inodes[i] == ino;
        }
        if (f != NULL)
            fclose(f);
    }
    return count;
}

Test(cli, resp_port_zero_disables_listener)
{
    static const char *const args[] = {"-s", "server.resp_port=0", NULL};
    struct h_resp hr;

    /* the INI names a resp_port; the -s override turns it off */
    start_both(H_OPTS(.args = args, .resp_off = 1));
    cr_assert_eq(h_redis_cmd(&redis, "SET only http"), 0);

    cr_assert_eq(port_listening(proxy.resp_port), 0,
                 "something listens on the disabled resp_port %d",
                 proxy.resp_port);
    cr_assert_eq(count_listening(proxy.pid), 1,
                 "with resp_port = 0 only the HTTP listener should exist");
    cr_assert_eq(h_http_get(proxy.http_port, "/only", &hr), 0);
    cr_assert_eq(hr.status, 200);
    cr_assert(hr.body_len == 4 && memcmp(hr.body, "http", 4) == 0);
    h_resp_free(&hr);
}

Test(cli, resp_listener_present_by_default)
{
    /* the counterpart of the test above, so its count is meaningful */
    start_both(NULL);
    cr_assert_eq(count_listening(proxy.pid), 2);
    cr_assert_eq(port_listening(proxy.resp_port), 1);
}

/* ---- the worker gate counts the CPUs the proxy may use ---- */

/* The proxy's Cpus_allowed_list, as /proc shows it. */
static void
cpus_allowed(pid_t pid, char out[64])
{
    char path[64], line[256];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    cr_assert_not_null(f);
    out[0] = '\0';
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "Cpus_allowed_list: %63s", out) == 1)
            break;
    }
    fclose(f);
}

Test(cli, pinned_to_one_cpu_lets_one_worker_run)
{
    static const char *const args[] = {"-s", "server.workers=4", NULL};
    cpu_set_t mine, one;
    char list[64], want[64];
    int first = -1;

    /* the proxy inherits this test's mask, as under `taskset -c N` */
    cr_assert_eq(sched_getaffinity(0, sizeof(mine), &mine), 0);
    for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
        if (CPU_ISSET(i, &mine))
            first = i;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
    start_both(H_OPTS(.args = args));
    cr_assert_eq(sched_setaffinity(0, sizeof(mine), &mine), 0);
    cpus_allowed(proxy.pid, list);
    snprintf(want, sizeof(want), "%d", first);
    cr_assert_str_eq(list, want, "the proxy is not pinned");
    cr_assert(h_await_log(&proxy, "workers=4 running=1", 3000),
              "pinned to CPU %d, the gate does not let exactly one run", first);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);

    /* unpinned: as many as the mask holds, up to the workers */
    h_start_proxy(&proxy, &redis, H_OPTS(.args = args));
    snprintf(want, sizeof(want), "workers=4 running=%d",
             CPU_COUNT(&mine) < 4 ? CPU_COUNT(&mine) : 4);
    cr_assert(h_await_log(&proxy, want, 3000), "no \"%s\" in the log", want);
}
