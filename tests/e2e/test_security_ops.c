/*
 * End-to-end tests of running the proxy on a network it does not trust
 * (docs/security.md), each showing a finding of the security review fixed
 * against the built binary and a real redis-server: protected mode (no
 * password on an open bind, the Docker files included) and passwords kept
 * off the command line (password_file; `ps` never shows -s
 * server.password).
 *
 * Run from the repository's root (the Docker files are read from there).
 */
#include "harness.h"
#include "reload_util.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P "redis_proxy_"
#define OUT_CAP 16384
#define WRONGPASS                                                              \
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n"

H_PAIR_SUITE(security_ops, 60);

/* h_run of the binary with a NULL-terminated list of arguments. */
static int
run(char *out, ...)
{
    char *argv[40];
    int argc = 0;
    va_list ap;

    argv[argc++] = "redis-proxy";
    va_start(ap, out);
    while (argc < 39 && (argv[argc] = va_arg(ap, char *)) != NULL) {
        argc++;
    }
    va_end(ap);
    argv[argc] = NULL;
    return h_run(argv, out, OUT_CAP);
}

/* A file holding text in the test's Redis data dir (removed with it by
 * the fixture, whatever the test's outcome); its path in a static buffer
 * (one at a time). */
static const char *
temp_file(const char *text)
{
    static char path[300];
    static int n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/secret-%d", redis.dir, n++);
    f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    cr_assert(fputs(text, f) >= 0 && fclose(f) == 0);
    return path;
}

/* RESP: AUTH pw on a fresh connection gets want. */
static void
auth_gets(const char *pw, const char *want)
{
    int fd = h_conn(proxy.resp_port);

    H_SEND(fd, "AUTH", pw);
    H_EXPECT(fd, want);
    close(fd);
}

/* ---- row 7: no password on an open bind ---- */

#define NOT_LOOPBACK "is not a loopback address and no [server] password"

Test(security_ops, an_open_bind_without_a_password_is_refused_at_start)
{
    char out[OUT_CAP];
    int rc;

    rc = run(out, "-t", "-s", "server.bind=0.0.0.0", NULL);
    cr_assert_eq(rc, 2, "-t exited %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, "-s server.bind=0.0.0.0: [server] bind: "
                                   "'0.0.0.0' " NOT_LOOPBACK),
                       "%s", out);
    cr_assert_not_null(strstr(out, "protected_mode = off"), "%s", out);
    rc = run(out, "-s", "server.bind=::", "-s", "server.http_port=1", "-s",
             "server.resp_port=0", NULL);
    cr_assert_eq(rc, 2, "started: exit %d:\n%s", rc, out);
    cr_assert_not_null(strstr(out, NOT_LOOPBACK), "%s", out);
    /* Meant: a password, or protected_mode = off. */
    cr_assert_eq(run(out, "-t", "-s", "server.bind=0.0.0.0", "-s",
                     "server.password=pw", NULL),
                 0, "%s", out);
    cr_assert_eq(run(out, "-t", "-s", "server.bind=0.0.0.0", "-s",
                     "server.protected_mode=off", NULL),
                 0, "%s", out);
    cr_assert_eq(run(out, "-t", "-s", "server.bind=localhost", NULL), 0, "%s",
                 out);
}

/* The quoted strings of the JSON array after key in file text, as an
 * argv (NULL-terminated, pointers into a static copy). */
static char **
json_args(const char *path, const char *key, int *n)
{
    static char text[16384];
    static char *argv[40];
    FILE *f = fopen(path, "r");
    char *p, *end;
    size_t len;

    cr_assert_not_null(f, "%s", path);
    len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    p = strstr(text, key);
    cr_assert_not_null(p, "no %s in %s", key, path);
    p = strchr(p, '[');
    end = strchr(p, ']');
    cr_assert(p != NULL && end != NULL);
    *n = 0;
    while ((p = memchr(p, '"', (size_t)(end - p))) != NULL && *n < 38) {
        char *q = strchr(p + 1, '"');

        *q = '\0';
        argv[(*n)++] = p + 1;
        p = q + 1;
    }
    argv[*n] = NULL;
    return argv;
}

/* Runs the entrypoint argv (with its config path replaced by the repo's
 * proxy.ini) and more arguments, with -t. Returns the exit status. */
static int
check_entrypoint(char **ep, int n, const char *const *more, char *out)
{
    char *argv[48];
    int argc = 0, i;

    for (i = 0; i < n; i++) {
        argv[argc++] = strcmp(ep[i], "/etc/redis-proxy/proxy.ini") == 0
                           ? "proxy.ini"
                           : ep[i];
    }
    for (i = 0; more[i] != NULL; i++) {
        argv[argc++] = (char *)more[i];
    }
    argv[argc++] = "-t";
    argv[argc] = NULL;
    return h_run(argv, out, OUT_CAP);
}

Test(security_ops, the_docker_files_set_a_password_or_publish_on_loopback)
{
    static const char *const none[] = {NULL};
    char out[OUT_CAP], more0[128], *compose;
    const char *pwfile = temp_file("Docker-Pw.3\n");
    const char *more[] = {"-s", more0, NULL};
    char **ep;
    int n, rc;
    FILE *f;
    size_t len;

    /* The image: a password from the secret's file, or no start. */
    ep = json_args("Dockerfile", "ENTRYPOINT", &n);
    rc = check_entrypoint(ep, n, none, out);
    cr_assert_eq(rc, 2, "the image starts without its password:\n%s", out);
    cr_assert_not_null(strstr(out, "/run/secrets/redis-proxy-password"), "%s",
                       out);
    snprintf(more0, sizeof(more0), "server.password_file=%s", pwfile);
    rc = check_entrypoint(ep, n, more, out);
    cr_assert_eq(rc, 0, "with the secret:\n%s", out);
    cr_assert_not_null(strstr(out, "bind = 0.0.0.0\n"), "%s", out);
    unlink(pwfile);

    /* Compose: no password, but its ports published on loopback only. */
    ep = json_args("docker-compose.yml", "entrypoint:", &n);
    rc = check_entrypoint(ep, n, none, out);
    cr_assert_eq(rc, 0, "compose's proxy does not start:\n%s", out);
    cr_assert_not_null(strstr(out, "protected_mode = off\n"), "%s", out);
    f = fopen("docker-compose.yml", "r");
    cr_assert_not_null(f);
    compose = malloc(65536);
    cr_assert_not_null(compose);
    len = fread(compose, 1, 65535, f);
    compose[len] = '\0';
    fclose(f);
    cr_assert_not_null(strstr(compose, "\"127.0.0.1:8080:8080\""));
    cr_assert_not_null(strstr(compose, "\"127.0.0.1:6380:6380\""));
    cr_assert_not_null(strstr(compose, "\"127.0.0.1:8081:8081\""));
    cr_assert_null(strstr(compose, "- \"8080:8080\""), "published on all");
    free(compose);
}

/* ---- row 10: the password off the command line ---- */

#define CMD_PW "Cmd-Line.Pw9"

/* /proc/PID/cmdline, NULs turned to spaces (a static buffer). */
static const char *
cmdline_of(pid_t pid)
{
    static char buf[8192];
    char path[64];
    size_t n, i;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    f = fopen(path, "r");
    cr_assert_not_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    for (i = 0; i < n; i++) {
        buf[i] = buf[i] == '\0' ? ' ' : buf[i];
    }
    buf[n] = '\0';
    return buf;
}

Test(security_ops, ps_never_shows_a_password_given_with_s)
{
    const char *cmd;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.admin = 1, .args = (const char *const[]){
                                         "-s", "server.password=" CMD_PW, "-s",
                                         "redis.password=", NULL}));
    cmd = cmdline_of(proxy.pid);
    cr_assert_null(strstr(cmd, CMD_PW), "ps shows the password: %s", cmd);
    cr_assert_not_null(strstr(cmd, "server.password=***"), "%s", cmd);
    auth_gets(CMD_PW, "+OK\r\n");
    /* A reload applies the -s arguments again: the password stays. */
    rl_passwords(CMD_PW, NULL);
    cr_assert_eq(rl_sighup(&proxy), 1);
    auth_gets(CMD_PW, "+OK\r\n");
    auth_gets("***", WRONGPASS);
    cr_assert_null(strstr(cmdline_of(proxy.pid), CMD_PW));
}

Test(security_ops, the_password_is_read_from_password_file)
{
    char ini[512], out[OUT_CAP], hdr[128];
    const char *path = temp_file("File-Pw.1\n");
    char pw_path[300];
    struct h_resp r = {0};
    int fd, rc;

    snprintf(pw_path, sizeof(pw_path), "%s", path);
    snprintf(ini, sizeof(ini), "[server]\npassword_file = %s\n", pw_path);
    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = ini, .admin = 1));
    auth_gets("File-Pw.1", "+OK\r\n");
    auth_gets("File-Pw.1\n", WRONGPASS);
    fd = h_conn(proxy.http_port);
    cr_assert_eq(h_http_do(fd, "GET", "/k",
                           "Authorization: Bearer File-Pw.1\r\n", NULL, 0, &r,
                           3000),
                 0);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    close(fd);
    cr_assert_null(strstr(cmdline_of(proxy.pid), "File-Pw"));

    /* A new password in the file, read on SIGHUP. */
    rl_passwords("File-Pw.1", "File-Pw.2");
    {
        FILE *f = fopen(pw_path, "w");

        cr_assert_not_null(f);
        cr_assert(fputs("File-Pw.2\r\n", f) >= 0 && fclose(f) == 0);
    }
    cr_assert_eq(rl_sighup(&proxy), 1);
    auth_gets("File-Pw.1", WRONGPASS);
    auth_gets("File-Pw.2", "+OK\r\n");
    fd = h_conn(proxy.http_port);
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer File-Pw.2\r\n");
    cr_assert_eq(h_http_do(fd, "GET", "/k", hdr, NULL, 0, &r, 3000), 0);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    close(fd);

    /* Gone: a reload is refused and changes nothing, a start fails. */
    unlink(pw_path);
    cr_assert_eq(rl_sighup(&proxy), 0, "reloaded without its password");
    auth_gets("File-Pw.2", "+OK\r\n");
    rc = run(out, "-t", "-c", proxy.ini, NULL);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert_not_null(strstr(out, "[server] password_file: cannot read"), "%s",
                       out);
    cr_assert_not_null(strstr(out, pw_path), "%s", out);
}

/* ---- row 5: replies held for a client that never reads ---- */

#define BIG_LEN (4 << 20)

static const char getrange[] =
    "*4\r\n$8\r\nGETRANGE\r\n$3\r\nbig\r\n$1\r\n0\r\n$2\r\n-1\r\n";

/* A 4 MiB value at "big" in the test's Redis. */
static void
set_big(void)
{
    char *v = malloc(BIG_LEN);

    cr_assert_not_null(v);
    memset(v, 'g', BIG_LEN);
    h_set_bytes(&redis, "big", v, BIG_LEN);
    free(v);
}

Test(security_ops, a_client_that_never_reads_is_closed_past_max_output)
{
    static const char series[] =
        P "connections_closed_total{reason=\"max_output\"}";
    size_t one = sizeof(getrange) - 1, i;
    char *req = malloc(64 * one);
    long before, peak, rss;
    int64_t deadline;
    int fd, other;

    cr_assert_not_null(req);
    for (i = 0; i < 64; i++) {
        memcpy(req + i * one, getrange, one);
    }
    set_big();
    /* The default max_output, 64mb: a quarter of what is asked. */
    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    before = peak = h_proc_rss_kib(proxy.pid);
    fd = h_conn(proxy.resp_port);
    cr_assert_eq(h_send(fd, req, 64 * one), 0);
    deadline = h_now_ms() + 8000;
    while (h_metric(&proxy, series) < 1 && h_now_ms() < deadline) {
        rss = h_proc_rss_kib(proxy.pid);
        peak = rss > peak ? rss : peak;
        h_sleep_ms(20);
    }
    rss = h_proc_rss_kib(proxy.pid);
    peak = rss > peak ? rss : peak;
    cr_assert_eq(h_metric(&proxy, series), 1, "not closed for its output");
    if (!h_proc_sanitized(proxy.pid)) {
        cr_assert_lt(peak - before, 100 << 10,
                     "RSS %ld -> %ld KiB for one client's replies", before,
                     peak);
    }
    cr_assert(h_wait_closed(fd, 5000), "the client is still open");
    close(fd);
    /* Everyone else is served as before. */
    other = h_conn(proxy.resp_port);
    H_SEND(other, "STRLEN", "big");
    H_EXPECT(other, ":4194304\r\n");
    close(other);
    free(req);
}

Test(security_ops, a_session_reply_past_max_output_closes_the_client)
{
    int fd;

    set_big();
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.admin = 1, .ini = "[server]\nmax_output = 1mb\n"));
    fd = h_conn(proxy.resp_port);
    H_SEND(fd, "SELECT", "0"); /* a session: a private connection */
    H_EXPECT(fd, "+OK\r\n");
    H_SEND(fd, "GET", "k");
    H_EXPECT(fd, "$-1\r\n");
    cr_assert_eq(h_send(fd, getrange, sizeof(getrange) - 1), 0);
    cr_assert(h_wait_closed(fd, 5000), "a 4 MiB reply held for the client");
    close(fd);
    cr_assert_eq(h_await_metric(&proxy,
                                P "connections_closed_total{reason="
                                  "\"max_output\"}",
                                1, 3000),
                 1);
    cr_assert_eq(h_metric(&proxy, P "sessions_open"), 0);
}

/* ---- row 11: reloads and memory ---- */

#define RELOADS 1500

/* Sends SIGHUP and waits until config_reloads_total{result="ok"} is n. */
static void
reload_number(int n)
{
    char series[] = P "config_reloads_total{result=\"ok\"}";
    int64_t deadline = h_now_ms() + 5000;

    cr_assert_eq(kill(proxy.pid, SIGHUP), 0);
    while (h_metric(&proxy, series) < n) {
        cr_assert_lt(h_now_ms(), deadline, "reload %d not done", n);
        h_sleep_ms(1);
    }
}

Test(security_ops, reloads_do_not_grow_memory)
{
    long before, after;
    int i;

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.admin = 1, .ini = "[log]\nlevel = warn\n"));
    for (i = 1; i <= 100; i++) { /* the allocator's pools settle */
        reload_number(i);
    }
    before = h_proc_rss_kib(proxy.pid);
    for (; i <= 100 + RELOADS; i++) {
        reload_number(i);
        if (i % 100 == 0) {
            h_expect_get(proxy.http_port, "/k", 200, "v", NULL);
        }
    }
    after = h_proc_rss_kib(proxy.pid);
    /* Each kept snapshot cost about 5 KiB: 1,500 reloads, 7 MiB. */
    if (!h_proc_sanitized(proxy.pid)) {
        cr_assert_lt(after - before, 1024, "RSS %ld -> %ld KiB over %d reloads",
                     before, after, RELOADS);
    }
    cr_assert_leq(h_metric(&proxy, P "config_snapshots_retired"), 1);
}
