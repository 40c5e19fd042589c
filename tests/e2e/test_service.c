/*
 * End-to-end tests of running as a service: the sd_notify reports the
 * proxy sends to the datagram socket a test owns ($NOTIFY_SOCKET) and when
 * (READY=1 only once every listener accepts and the invalidation stream is
 * up, STOPPING=1 when shutdown begins, before the request in flight is
 * answered), `make install` / `make uninstall` laying out exactly the
 * documented files under DESTDIR, the installed unit passing `systemd-analyze
 * verify`, the man page listing every key with the default `-t` prints, and
 * no tracked file pointing outside the repository. The tests run from the
 * repository's root (as `make test` runs them) and invoke make there with
 * BUILD set to PROXY_BIN's directory, so nothing is rebuilt.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

#define OUT_CAP 65536
#define MAKE_MS 30000 /* a make install that has nothing to build */
#define LOG_CAP 65536

/* Scratch directories a test made (the notify socket's, DESTDIR, PREFIX),
 * removed after it by the fixture, also when an assertion failed. */
static char scratch[3][128];
static int nscratch;
static int notify_fd = -1; /* the test's notify socket, closed after it */

static struct h_redis redis;
static struct h_proxy proxy;

static void
setup(void)
{
    nscratch = 0;
    notify_fd = -1;
    h_pair_setup(&redis, &proxy);
}

/* Removes root and everything under it. */
static void
remove_tree(const char *root)
{
    char *argv[] = {"rm", "-rf", (char *)root, NULL};
    char out[256];

    h_exec(argv, NULL, out, sizeof(out), 5000);
}

static void
teardown(void)
{
    h_pair_teardown(&redis, &proxy);
    if (notify_fd >= 0) {
        close(notify_fd);
    }
    while (nscratch > 0) {
        remove_tree(scratch[--nscratch]);
    }
}

TestSuite(service, .init = setup, .fini = teardown, .timeout = 60);

/* A fresh /tmp/rp-e2e-KIND-XXXXXX, removed after the test. */
static const char *
scratch_dir(const char *kind)
{
    char *dir;

    cr_assert_lt(nscratch, 3);
    dir = scratch[nscratch];
    snprintf(dir, sizeof(scratch[0]), "/tmp/rp-e2e-%s-XXXXXX", kind);
    cr_assert_not_null(mkdtemp(dir));
    nscratch++;
    return dir;
}

/* ---- the notify socket ---- */

static char notify_path[160];
static char notify_env[192]; /* "NOTIFY_SOCKET=<path>" */

/* Binds notify_fd, a datagram socket at a fresh path, and sets notify_env
 * for a proxy's environment. Returns the fd. */
static int
notify_open(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    snprintf(notify_path, sizeof(notify_path), "%s/notify",
             scratch_dir("notify"));
    snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", notify_path);
    cr_assert_lt(strlen(notify_path), sizeof(sa.sun_path));
    memcpy(sa.sun_path, notify_path, strlen(notify_path) + 1);
    notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(notify_fd, 0);
    cr_assert_eq(bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
                 "bind: %s", strerror(errno));
    return notify_fd;
}

/* Waits up to timeout_ms for one datagram; returns its length (buf
 * NUL-terminated) or -1. */
static ssize_t
notify_recv(int fd, char *buf, size_t cap, int timeout_ms)
{
    ssize_t n;

    if (h_readable(&fd, 1, timeout_ms) == 0) {
        return -1;
    }
    n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    if (n >= 0) {
        buf[n] = '\0';
    }
    return n;
}

/* 1 when a datagram is waiting. */
static int
notify_pending(int fd)
{
    char c;

    return recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
}

/* Index of the first line of text containing needle, or -1. */
static int
line_index(const char *text, const char *needle)
{
    const char *hit = strstr(text, needle);
    int n = 0;

    if (hit == NULL) {
        return -1;
    }
    for (const char *p = text; p < hit; p++) {
        n += *p == '\n';
    }
    return n;
}

/*
 * READY=1 only once the listeners accept and the invalidation stream is up.
 * Redis is paused for PAUSE_MS while the proxy starts, so the stream cannot
 * come up before the pause ends: no report may arrive meanwhile, although
 * the listening sockets already exist. Right after READY, every port
 * answers, Redis already holds the proxy's subscription to the
 * invalidation channel, /readyz says ready, and the log (at debug level,
 * where a report sent is logged) has the stream established before the
 * report, and the report after "listening".
 */
#define PAUSE_MS 1000
Test(service, ready_only_once_listening_and_the_stream_is_up)
{
    const char *env[] = {notify_env, NULL};
    char buf[256], log[LOG_CAP], reply[64], clients[8192];
    struct h_resp r;
    redisContext *c;
    redisReply *list;
    int64_t paused_at, ready_at;
    int fd = notify_open(), stream, listening, ready;

    h_set(&redis, "svc", "value");
    paused_at = h_now_ms();
    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE %d ALL", PAUSE_MS), 0);
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[redis]\ncommand_timeout = 5s\n"
                                "[log]\nlevel = debug\n",
                         .admin = 1, .env = env));
    cr_assert_eq(notify_recv(fd, buf, sizeof(buf), 8000), 7,
                 "no READY within 8 s");
    ready_at = h_now_ms();
    c = h_redis_ctx(&redis);
    cr_assert_not_null(c);
    list = redisCommand(c, "CLIENT LIST");
    cr_assert(list != NULL && list->type == REDIS_REPLY_STRING);
    snprintf(clients, sizeof(clients), "%s", list->str);
    freeReplyObject(list);
    redisFree(c);
    cr_assert_not_null(strstr(clients, " sub=1 "),
                       "no subscriber in Redis at READY:\n%s", clients);
    cr_assert_str_eq(buf, "READY=1", "the first report is READY=1");
    cr_assert_geq(ready_at - paused_at, PAUSE_MS,
                  "READY after %lld ms, while Redis was still paused",
                  (long long)(ready_at - paused_at));

    h_expect_get(proxy.http_port, "/svc", 200, "value", NULL);
    cr_assert_eq(
        h_replies(proxy.resp_port, "PING\r\n", 6, 1, reply, sizeof(reply)), 7);
    cr_assert_eq(memcmp(reply, "+PONG\r\n", 7), 0);
    cr_assert_eq(h_http_get(proxy.admin_port, "/readyz", &r), 0);
    h_check(&r, "/readyz right after READY", 200, NULL, NULL);
    cr_assert(strncmp(r.body, "ready\nnode ", 11) == 0,
              "/readyz right after READY: %s", r.body);
    h_resp_free(&r);
    cr_assert_eq(notify_pending(fd), 0, "READY is sent once");

    cr_assert(h_await_log(&proxy, "report=\"READY=1\"", 3000));
    h_proxy_read_log(&proxy, log, sizeof(log));
    stream = line_index(log, "msg=\"invalidation stream established\"");
    listening = line_index(log, "msg=\"listening\"");
    ready = line_index(log, "report=\"READY=1\"");
    cr_assert_geq(stream, 0, "no stream in the log:\n%s", log);
    cr_assert(stream < ready && listening < ready,
              "READY was sent before the stream came up or before "
              "listening:\n%s",
              log);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/*
 * STOPPING=1 when shutdown begins: a GET is stalled in a paused Redis when
 * SIGTERM arrives; STOPPING comes first, the stalled request is answered
 * after it, the proxy exits 0, and nothing else is reported.
 */
Test(service, stopping_comes_when_shutdown_begins)
{
    const char *env[] = {notify_env, NULL};
    char buf[256];
    struct h_resp r;
    int fd = notify_open(), conn, fds[2];

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[redis]\ncommand_timeout = 5s\n", .admin = 1,
                         .env = env));
    cr_assert_eq(notify_recv(fd, buf, sizeof(buf), 5000), 7);
    cr_assert_str_eq(buf, "READY=1");
    h_set(&redis, "slow", "answered");
    conn = h_conn(proxy.http_port);
    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE 1500 ALL"), 0);
    cr_assert_eq(h_sends(conn, H_REQ("/slow")), 0);
    cr_assert_eq(h_await_metric(&proxy, "redis_proxy_fills_total", 1, 1000), 1,
                 "the GET never reached Redis");

    cr_assert_eq(kill(proxy.pid, SIGTERM), 0);
    fds[0] = fd;
    fds[1] = conn;
    cr_assert_eq(h_readable(fds, 2, 3000), 1u,
                 "STOPPING=1 must come first, alone");
    cr_assert_eq(notify_recv(fd, buf, sizeof(buf), 0), 10);
    cr_assert_str_eq(buf, "STOPPING=1");
    cr_assert_eq(h_read_resp(conn, &r, 0, 5000), 0);
    h_check(&r, "the request in flight at SIGTERM", 200, "answered", "MISS");
    h_resp_free(&r);
    close(conn);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
    cr_assert_eq(notify_pending(fd), 0, "nothing after STOPPING=1");
}

/* A manager that is not there (nobody bound at the path) costs nothing. */
Test(service, an_unreachable_notify_socket_changes_nothing)
{
    const char *env[] = {"NOTIFY_SOCKET=/nonexistent/rp-e2e/notify", NULL};

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis, H_OPTS(.env = env));
    h_expect_get(proxy.http_port, "/k", 200, "v", "MISS");
    h_expect_get(proxy.http_port, "/k", 200, "v", "HIT");
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- the repository, make install ---- */

/* Fails unless the current directory is the repository's root. */
static void
expect_repo_root(void)
{
    cr_assert_eq(access("Makefile", R_OK) == 0 &&
                     access("docs/redis-proxy.8", R_OK) == 0 &&
                     access("tools/redis-proxy.service.in", R_OK) == 0,
                 1, "run the end-to-end tests from the repository's root");
}

/* make -s TARGET VAR=VALUE... in the repository with BUILD = PROXY_BIN's
 * directory (so the binary under test is the one installed, as is); the
 * outer make's flags (MAKEFLAGS: -j, variables) are not passed on. */
static int
run_make(const char *target, const char *const *vars, char *out, size_t cap)
{
    static const char *const env[] = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", NULL};
    char bin[512], build[600];
    char *argv[16] = {"make", "-s", "--no-print-directory", (char *)target};
    int argc = 4;

    snprintf(bin, sizeof(bin), "%s", h_proxy_bin());
    snprintf(build, sizeof(build), "BUILD=%s", dirname(bin));
    argv[argc++] = build;
    while (vars != NULL && *vars != NULL && argc < 15) {
        argv[argc++] = (char *)*vars++;
    }
    argv[argc] = NULL;
    return h_exec(argv, env, out, cap, MAKE_MS);
}

/* Every entry under root, as "d path" or "f path" (or "l", "?") relative
 * to it, one per line, appended to out in directory order; sorted by the
 * caller. */
static void
walk(const char *root, const char *rel, char *out, size_t cap)
{
    char path[2048], sub[1024];
    struct dirent *de;
    struct stat st;
    DIR *d;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    d = opendir(path);
    cr_assert_not_null(d, "opendir %s", path);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "",
                 de->d_name);
        snprintf(path, sizeof(path), "%s/%s", root, sub);
        cr_assert_eq(lstat(path, &st), 0);
        snprintf(out + strlen(out), cap - strlen(out), "%c %s\n",
                 S_ISDIR(st.st_mode)   ? 'd'
                 : S_ISREG(st.st_mode) ? 'f'
                 : S_ISLNK(st.st_mode) ? 'l'
                                       : '?',
                 sub);
        if (S_ISDIR(st.st_mode)) {
            walk(root, sub, out, cap);
        }
    }
    closedir(d);
}

static int
cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The tree under root as sorted lines "d x\nf x/y\n..." in out. */
static void
tree(const char *root, char *out, size_t cap)
{
    char *buf = calloc(1, cap), *lines[256], *save = NULL, *line;
    size_t n = 0;

    cr_assert_not_null(buf);
    walk(root, "", buf, cap);
    for (line = strtok_r(buf, "\n", &save); line != NULL && n < 256;
         line = strtok_r(NULL, "\n", &save)) {
        lines[n++] = line;
    }
    qsort(lines, n, sizeof(lines[0]), cmp_lines);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        snprintf(out + strlen(out), cap - strlen(out), "%s\n", lines[i]);
    }
    free(buf);
}

/* Reads a whole file (malloc'd, NUL-terminated; *len its size) or fails. */
static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len != NULL) {
        *len = (size_t)n;
    }
    return buf;
}

/* Fails unless the files at a and b hold the same bytes. */
static void
expect_same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *x = slurp(a, &la), *y = slurp(b, &lb);

    cr_assert(la == lb && memcmp(x, y, la) == 0, "%s differs from %s", a, b);
    free(x);
    free(y);
}

static void
expect_mode(const char *path, mode_t mode)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "%s", path);
    cr_assert_eq(st.st_mode & 07777, mode, "%s: mode %o, want %o", path,
                 (unsigned)(st.st_mode & 07777), (unsigned)mode);
}

/* What stays in DESTDIR after uninstall: the shared directories install
 * created (README.md, "Install") and the configuration that was there
 * before (etc/redis-proxy/proxy.ini, which install never touches). Sorted
 * as tree() sorts. */
#define KEPT_DIRS                                                              \
    "d etc\n"                                                                  \
    "d etc/redis-proxy\n"                                                      \
    "d usr\n"                                                                  \
    "d usr/bin\n"                                                              \
    "d usr/lib\n"                                                              \
    "d usr/lib/systemd\n"                                                      \
    "d usr/lib/systemd/system\n"                                               \
    "d usr/share\n"                                                            \
    "d usr/share/doc\n"
#define KEPT_MAN_DIRS                                                          \
    "d usr/share/man\n"                                                        \
    "d usr/share/man/man8\n"
#define KEPT_FILES "f etc/redis-proxy/proxy.ini\n"

/* How many "@NAME@" placeholders of the unit's template text holds. */
static int
placeholders(const char *text)
{
    int n = 0;

    for (const char *p = strchr(text, '@'); p != NULL; p = strchr(p + 1, '@')) {
        size_t name = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");

        n += name > 0 && p[1 + name] == '@';
    }
    return n;
}

/* Writes text to path, or fails. */
static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert(fputs(text, f) >= 0 && fclose(f) == 0);
}

/* Fails unless path holds the source file's bytes with mode. */
static void
expect_installed(const char *dest, const char *rel, const char *source,
                 mode_t mode)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dest, rel);
    expect_same_file(path, source);
    expect_mode(path, mode);
}

/*
 * make install DESTDIR=... PREFIX=/usr puts exactly four files in place (the
 * binary, the man page, the example config, the unit), each as its source
 * with the documented mode, and leaves a configuration already in
 * /etc/redis-proxy alone; make uninstall removes exactly those four files
 * and the doc directory, and nothing else.
 */
Test(service, install_and_uninstall_lay_out_exactly_the_documented_files)
{
    const char *conf = "; the administrator's own\n[server]\nworkers = 2\n";
    char dest[128], destvar[160], path[512], *out = malloc(OUT_CAP), *text;
    const char *vars[] = {"PREFIX=/usr", destvar, NULL};
    char *version[] = {path, "-V", NULL};
    char *check[] = {(char *)h_proxy_bin(), "-t", "-c", path, NULL};

    expect_repo_root();
    cr_assert_not_null(out);
    snprintf(dest, sizeof(dest), "%s", scratch_dir("install"));
    snprintf(destvar, sizeof(destvar), "DESTDIR=%s", dest);
    snprintf(path, sizeof(path), "%s/etc", dest);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/etc/redis-proxy", dest);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/etc/redis-proxy/proxy.ini", dest);
    write_file(path, conf);

    cr_assert_eq(run_make("install", vars, out, OUT_CAP), 0,
                 "make install failed:\n%s", out);
    tree(dest, out, OUT_CAP);
    cr_assert_str_eq(out,
                     KEPT_DIRS
                     "d usr/share/doc/redis-proxy\n" KEPT_MAN_DIRS KEPT_FILES
                     "f usr/bin/redis-proxy\n"
                     "f usr/lib/systemd/system/redis-proxy.service\n"
                     "f usr/share/doc/redis-proxy/proxy.ini.example\n"
                     "f usr/share/man/man8/redis-proxy.8\n",
                     "installed tree:\n%s", out);
    expect_installed(dest, "usr/bin/redis-proxy", h_proxy_bin(), 0755);
    expect_installed(dest, "usr/share/man/man8/redis-proxy.8",
                     "docs/redis-proxy.8", 0644);
    expect_installed(dest, "usr/share/doc/redis-proxy/proxy.ini.example",
                     "proxy.ini", 0644);
    snprintf(path, sizeof(path), "%s/usr/bin/redis-proxy", dest);
    cr_assert_eq(h_exec(version, NULL, out, OUT_CAP, 5000), 0, "%s", out);
    cr_assert_eq(strncmp(out, "redis-proxy ", 12), 0, "-V: %s", out);
    snprintf(path, sizeof(path),
             "%s/usr/share/doc/redis-proxy/proxy.ini.example", dest);
    cr_assert_eq(h_exec(check, NULL, out, OUT_CAP, 5000), 0,
                 "the example config is not valid: %s", out);
    snprintf(path, sizeof(path),
             "%s/usr/lib/systemd/system/redis-proxy.service", dest);
    expect_mode(path, 0644);
    text = slurp(path, NULL);
    cr_assert_not_null(strstr(text, "\nExecStart=/usr/bin/redis-proxy -c "
                                    "/etc/redis-proxy/proxy.ini\n"),
                       "%s", text);
    cr_assert_eq(placeholders(text), 0, "a placeholder is left:\n%s", text);
    free(text);
    text = slurp("tools/redis-proxy.service.in", NULL);
    cr_assert_gt(placeholders(text), 0, "the template has none to fill");
    free(text);
    snprintf(path, sizeof(path), "%s/etc/redis-proxy/proxy.ini", dest);
    text = slurp(path, NULL);
    cr_assert_str_eq(text, conf, "install touched the existing config");
    free(text);

    cr_assert_eq(run_make("uninstall", vars, out, OUT_CAP), 0,
                 "make uninstall failed:\n%s", out);
    tree(dest, out, OUT_CAP);
    cr_assert_str_eq(out, KEPT_DIRS KEPT_MAN_DIRS KEPT_FILES,
                     "left after uninstall:\n%s", out);
    free(out);
}

/* Every directive the unit must carry, as whole lines. */
static const char *const unit_lines[] = {
    "Type=notify",
    "ExecReload=/bin/kill -HUP $MAINPID",
    "Restart=on-failure",
    "DynamicUser=yes",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectControlGroups=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces=yes",
    "LockPersonality=yes",
    "MemoryDenyWriteExecute=yes",
    "SystemCallArchitectures=native",
    "CapabilityBoundingSet=",
    /* hard limit: max_clients (1000000 at most) + pool_size (1024) + 64 */
    "LimitNOFILE=1024:1048576",
    "Documentation=man:redis-proxy(8)",
    NULL,
};

/*
 * The unit systemd would load: installed with a real PREFIX (no DESTDIR),
 * so ExecStart names the installed binary, and MANPATH the installed man
 * page, `systemd-analyze verify` accepts it with nothing to say. The same
 * check fails for a copy whose ExecStart names a missing binary, so it is
 * not vacuous.
 */
Test(service, the_installed_unit_passes_systemd_analyze_verify)
{
    char prefix[128], var[160], manpath[200], unit[300], bad[300], dir[200];
    char *out = malloc(OUT_CAP), *text, *line;
    const char *vars[] = {var, NULL};
    const char *env[] = {manpath, NULL};
    char *version[] = {"systemd-analyze", "--version", NULL};
    char *verify[] = {"systemd-analyze", "verify", unit, NULL};
    FILE *f;
    int rc;

    expect_repo_root();
    cr_assert_not_null(out);
    if (h_exec(version, NULL, out, OUT_CAP, 5000) == 127) {
        free(out);
        cr_skip_test("systemd-analyze is not installed: the unit is not "
                     "verified (apt-get install systemd)");
    }
    snprintf(prefix, sizeof(prefix), "%s", scratch_dir("prefix"));
    snprintf(var, sizeof(var), "PREFIX=%s", prefix);
    snprintf(manpath, sizeof(manpath), "MANPATH=%s/share/man", prefix);
    cr_assert_eq(run_make("install", vars, out, OUT_CAP), 0,
                 "make install failed:\n%s", out);
    snprintf(unit, sizeof(unit), "%s/lib/systemd/system/redis-proxy.service",
             prefix);
    text = slurp(unit, NULL);
    for (size_t i = 0; unit_lines[i] != NULL; i++) {
        char want[128];

        snprintf(want, sizeof(want), "\n%s\n", unit_lines[i]);
        cr_expect_not_null(strstr(text, want), "the unit lacks %s",
                           unit_lines[i]);
    }
    rc = h_exec(verify, env, out, OUT_CAP, 20000);
    cr_assert_eq(rc, 0, "systemd-analyze verify: exit %d:\n%s", rc, out);
    cr_assert_str_eq(out, "", "systemd-analyze verify said:\n%s", out);

    /* The control: ExecStart naming a binary that is not there. */
    snprintf(dir, sizeof(dir), "%s/bad", prefix);
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(bad, sizeof(bad), "%s/redis-proxy.service", dir);
    f = fopen(bad, "w");
    cr_assert_not_null(f);
    for (line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        fprintf(f, "%s\n",
                strncmp(line, "ExecStart=", 10) == 0
                    ? "ExecStart=/nonexistent/redis-proxy -c /x.ini"
                    : line);
    }
    cr_assert_eq(fclose(f), 0);
    verify[2] = bad;
    rc = h_exec(verify, env, out, OUT_CAP, 20000);
    cr_assert_neq(rc, 0, "verify accepted a missing binary:\n%s", out);
    cr_assert_not_null(strstr(out, "/nonexistent/redis-proxy"), "%s", out);
    free(text);
    free(out);
}

/* ---- the man page ---- */

/*
 * The CONFIGURATION section lists every key, in -t's order and sections,
 * each as a ".B key = default" line with the default exactly as
 * `redis-proxy -t` prints it with no file, and no other key.
 */
Test(service, the_man_page_lists_every_key_with_its_default)
{
    char *argv[] = {(char *)h_proxy_bin(), "-t", "-c", "/dev/null", NULL};
    char *out = malloc(OUT_CAP), *man, *want, *got, *line, *save = NULL;
    char section[64] = "";
    int in_config = 0, rc;

    expect_repo_root();
    cr_assert_not_null(out);
    rc = h_exec(argv, NULL, out, OUT_CAP, 5000);
    cr_assert_eq(rc, 0, "-t: %s", out);
    want = calloc(1, OUT_CAP);
    got = calloc(1, OUT_CAP);
    cr_assert(want != NULL && got != NULL);
    /* -t: "[section]" lines, then "key = value" ("key =" when empty). */
    for (line = strtok_r(out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '[') {
            snprintf(section, sizeof(section), "%s", line);
        } else {
            snprintf(want + strlen(want), OUT_CAP - strlen(want), "%s %s\n",
                     section, line);
        }
    }
    man = slurp("docs/redis-proxy.8", NULL);
    save = NULL;
    section[0] = '\0';
    for (line = strtok_r(man, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, ".SH ", 4) == 0) {
            in_config = strcmp(line, ".SH CONFIGURATION") == 0;
        } else if (in_config && strncmp(line, ".SS [", 5) == 0) {
            snprintf(section, sizeof(section), "%s", line + 4);
        } else if (in_config && strncmp(line, ".B ", 3) == 0 &&
                   strstr(line, " =") != NULL && section[0] != '\0') {
            snprintf(got + strlen(got), OUT_CAP - strlen(got), "%s %s\n",
                     section, line + 3);
        }
    }
    cr_assert_str_eq(got, want,
                     "docs/redis-proxy.8 CONFIGURATION:\n%s\nredis-proxy "
                     "-t:\n%s",
                     got, want);
    free(man);
    free(want);
    free(got);
    free(out);
}

/* groff's own check (every warning on) and man's rendering say nothing. */
Test(service, the_man_page_renders_without_warnings)
{
    char *groff[] = {
        "groff", "-man", "-Tutf8", "-ww", "-z", "docs/redis-proxy.8", NULL};
    char *man[] = {"man", "-l", "docs/redis-proxy.8", NULL};
    const char *env[] = {"MANWIDTH=80", "MANPAGER=cat", "PAGER=cat", NULL};
    char *out = malloc(OUT_CAP);
    int rc;

    expect_repo_root();
    cr_assert_not_null(out);
    rc = h_exec(groff, NULL, out, OUT_CAP, 10000);
    if (rc == 127) {
        free(out);
        cr_skip_test("groff is not installed: the man page is not checked "
                     "(apt-get install groff-base)");
    }
    cr_assert_eq(rc, 0, "groff: exit %d: %s", rc, out);
    cr_assert_str_eq(out, "", "groff -ww warns:\n%s", out);
    rc = h_exec(man, env, out, OUT_CAP, 10000);
    if (rc != 127) {
        cr_assert_eq(rc, 0, "man -l: exit %d", rc);
        cr_assert_not_null(strstr(out, "SIGHUP"), "%.400s", out);
        cr_assert_null(strstr(out, "warning"), "man -l warns:\n%s", out);
    }
    free(out);
}

/* ---- nothing points outside the repository ---- */

/* References that lead out of the repository: the shared folder beside it
 * and absolute paths into the machine it was written on. Spelled in
 * pieces, so this file does not match itself. */
static const char *const outside[] = {"../"
                                      "shared",
                                      "shared/"
                                      "CONTRACT",
                                      "shared/"
                                      "STYLE",
                                      NULL};
static const char workdir[] = "/"
                              "work"; /* matched as a path component */

static int
path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* The length of the outside reference starting at text[i], or 0. */
static size_t
outside_at(const char *text, size_t len, size_t i)
{
    size_t n = strlen(workdir);

    for (size_t k = 0; outside[k] != NULL; k++) {
        size_t m = strlen(outside[k]);

        if (i + m <= len && memcmp(text + i, outside[k], m) == 0) {
            return m;
        }
    }
    if (i + n <= len && memcmp(text + i, workdir, n) == 0 &&
        (i == 0 || !path_char(text[i - 1])) &&
        (i + n == len || !path_char(text[i + n]))) {
        return n;
    }
    return 0;
}

/* Appends "name:line: text" to report for every outside reference in
 * text[0..len); returns how many. */
static int
scan_text(const char *name, const char *text, size_t len, char *report,
          size_t cap)
{
    int hits = 0, line = 1;

    for (size_t i = 0; i < len; i++) {
        size_t m = outside_at(text, len, i);

        if (text[i] == '\n') {
            line++;
        } else if (m > 0) {
            const char *end = memchr(text + i, '\n', len - i);
            int n = end != NULL ? (int)(end - (text + i)) : (int)(len - i);

            hits++;
            snprintf(report + strlen(report), cap - strlen(report),
                     "%s:%d: ...%.*s\n", name, line, n > 60 ? 60 : n, text + i);
            i += m - 1; /* past the match: one hit per reference */
        }
    }
    return hits;
}

/* The repository's files: `git ls-files`, or, where there is no git
 * metadata (a Docker build context, a tarball), every file under the root
 * but build/, .git and node_modules. Into out (zeroed by the caller) as
 * NUL-terminated names, ending at an empty one. */
static void
repo_files(char *out, size_t cap)
{
    char *git[] = {"git", "ls-files", "-z", NULL};
    char *find[] = {"find",   ".",    "(",     "-path", "./build",      "-o",
                    "-name",  ".git", "-o",    "-name", "node_modules", ")",
                    "-prune", "-o",   "-type", "f",     "-print0",      NULL};
    int rc = h_exec(git, NULL, out, cap - 1, 10000);

    if (rc != 0) {
        cr_log_warn("git ls-files failed (%d): scanning the tree instead", rc);
        memset(out, 0, cap);
        rc = h_exec(find, NULL, out, cap - 1, 10000);
        cr_assert_eq(rc, 0, "find: %s", out);
    }
}

/* The scan itself, on texts spelled in pieces like its needles. */
Test(service, the_scan_finds_a_reference_outside)
{
    char report[512] = "";
    const char bad[] = "see ../sha"
                       "red/CON"
                       "TRACT.md and cd /"
                       "work/x; ok: net/workq.h /workers";
    const char path_only[] = "/"
                             "work";

    cr_assert_eq(scan_text("t", bad, sizeof(bad) - 1, report, sizeof(report)),
                 2, "%s", report);
    cr_assert_eq(scan_text("t", path_only, 5, report, sizeof(report)), 1);
    cr_assert_eq(scan_text("t", "net/workq.h", 11, report, sizeof(report)), 0);
}

Test(service, no_tracked_file_points_outside_the_repository)
{
    char *names = calloc(1, 1 << 20), *report = calloc(1, OUT_CAP);
    size_t files = 0;
    int hits = 0;

    expect_repo_root();
    cr_assert(names != NULL && report != NULL);
    repo_files(names, 1 << 20);
    for (char *p = names; *p != '\0'; p += strlen(p) + 1) {
        struct stat st;
        size_t n;
        char *text;

        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue; /* deleted in the work tree, or a symlink */
        }
        text = slurp(p, &n);
        files++;
        if (memchr(text, '\0', n) == NULL) { /* text files only */
            hits += scan_text(p, text, n, report, OUT_CAP);
        }
        free(text);
    }
    cr_assert_gt(files, 50, "only %zu files found", files);
    cr_assert_eq(hits, 0, "%d reference(s) outside the repository:\n%s", hits,
                 report);
    free(names);
    free(report);
}

/* ---- the README's Deploying section ---- */

/*
 * Every redis_proxy_* name the scrape config and alerting rules use is a
 * family /metrics exposes (and a {label="value"} selector a series it
 * has), so the rules match what the proxy serves.
 */
Test(service, the_alerting_rules_name_only_real_metrics)
{
    char *readme = slurp("README.md", NULL), *metrics, *start, *end, *p;
    char name[128], series[256], want[160];
    int names = 0;

    expect_repo_root();
    start = strstr(readme, "\n## Deploying\n");
    cr_assert_not_null(start, "README.md has no Deploying section");
    end = strstr(start + 1, "\n## ");
    cr_assert_not_null(end);
    *end = '\0';
    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    metrics = h_scrape(&proxy);
    for (p = strstr(start, "redis_proxy_"); p != NULL;
         p = strstr(p + 1, "redis_proxy_")) {
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");

        if (n >= sizeof(name) || (p > start && path_char(p[-1]))) {
            continue; /* part of a longer word, not a metric */
        }
        memcpy(name, p, n);
        name[n] = '\0';
        snprintf(want, sizeof(want), "# TYPE %s ", name);
        cr_expect_not_null(strstr(metrics, want),
                           "README names %s, which /metrics does not have",
                           name);
        if (p[n] == '{') {
            size_t m = strcspn(p + n, "}\n");

            snprintf(series, sizeof(series), "%.*s}", (int)(n + m), p);
            cr_expect_not_null(strstr(metrics, series),
                               "README selects %s, which /metrics does not "
                               "have",
                               series);
        }
        names++;
    }
    cr_assert_geq(names, 8, "only %d metric names in Deploying", names);
    free(metrics);
    free(readme);
}
