/*
 * End-to-end tests of installing the proxy as a service: `make install` /
 * `make uninstall` laying out exactly the documented files under DESTDIR,
 * the configuration written once and never overwritten, the installed
 * binary serving with the installed configuration, the installed unit
 * passing `systemd-analyze verify`, the man page
 * listing every key with the default `-t` prints and rendering without a
 * warning. The tests run from the repository's root (as `make test` runs
 * them) and invoke make there with BUILD set to PROXY_BIN's directory, so
 * nothing is rebuilt. Suite `service` (service_util.c).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "service_util.h"

#define MAKE_MS 30000 /* a make install that has nothing to build */

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

/* Fails unless the files at a and b hold the same bytes. */
static void
expect_same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *x = sv_slurp(a, &la), *y = sv_slurp(b, &lb);

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
 * created (docs/operations.md, "Install") and a configuration the
 * administrator changed (etc/redis-proxy/proxy.ini). Sorted as tree()
 * sorts. */
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

/* Fails unless a line of out starts with "what DEST/rel". */
static void
expect_said(const char *out, const char *what, const char *dest,
            const char *rel)
{
    char want[512];

    snprintf(want, sizeof(want), "\n%s %s/%s", what, dest, rel);
    cr_assert(strncmp(out, want + 1, strlen(want + 1)) == 0 ||
                  strstr(out, want) != NULL,
              "make did not say \"%s\":\n%s", want + 1, out);
}

/*
 * make install DESTDIR=... PREFIX=/usr puts exactly four files in place (the
 * binary, the man page, the example config, the unit), each as its source
 * with the documented mode, and leaves a configuration already in
 * /etc/redis-proxy alone, saying so; make uninstall removes exactly those
 * four files and the doc directory, leaves that configuration (it is not
 * the shipped one), says so, and removes nothing else.
 */
Test(service, install_and_uninstall_lay_out_exactly_the_documented_files)
{
    const char *conf = "; the administrator's own\n[server]\nworkers = 2\n";
    char dest[128], destvar[160], path[512], *out = malloc(SV_OUT_CAP), *text;
    const char *vars[] = {"PREFIX=/usr", destvar, NULL};
    char *version[] = {path, "-V", NULL};
    char *check[] = {(char *)h_proxy_bin(), "-t", "-c", path, NULL};

    sv_expect_repo_root();
    cr_assert_not_null(out);
    snprintf(dest, sizeof(dest), "%s", sv_scratch_dir("install"));
    snprintf(destvar, sizeof(destvar), "DESTDIR=%s", dest);
    snprintf(path, sizeof(path), "%s/etc", dest);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/etc/redis-proxy", dest);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/etc/redis-proxy/proxy.ini", dest);
    write_file(path, conf);

    cr_assert_eq(run_make("install", vars, out, SV_OUT_CAP), 0,
                 "make install failed:\n%s", out);
    expect_said(out, "install:", dest, "etc/redis-proxy/proxy.ini exists");
    tree(dest, out, SV_OUT_CAP);
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
    cr_assert_eq(h_exec(version, NULL, out, SV_OUT_CAP, 5000), 0, "%s", out);
    cr_assert_eq(strncmp(out, "redis-proxy ", 12), 0, "-V: %s", out);
    snprintf(path, sizeof(path),
             "%s/usr/share/doc/redis-proxy/proxy.ini.example", dest);
    cr_assert_eq(h_exec(check, NULL, out, SV_OUT_CAP, 5000), 0,
                 "the example config is not valid: %s", out);
    snprintf(path, sizeof(path),
             "%s/usr/lib/systemd/system/redis-proxy.service", dest);
    expect_mode(path, 0644);
    text = sv_slurp(path, NULL);
    cr_assert_not_null(strstr(text, "\nExecStart=/usr/bin/redis-proxy -c "
                                    "/etc/redis-proxy/proxy.ini\n"),
                       "%s", text);
    cr_assert_eq(placeholders(text), 0, "a placeholder is left:\n%s", text);
    free(text);
    text = sv_slurp("tools/redis-proxy.service.in", NULL);
    cr_assert_gt(placeholders(text), 0, "the template has none to fill");
    free(text);
    snprintf(path, sizeof(path), "%s/etc/redis-proxy/proxy.ini", dest);
    text = sv_slurp(path, NULL);
    cr_assert_str_eq(text, conf, "install touched the existing config");
    free(text);

    cr_assert_eq(run_make("uninstall", vars, out, SV_OUT_CAP), 0,
                 "make uninstall failed:\n%s", out);
    expect_said(out, "uninstall:", dest,
                "etc/redis-proxy/proxy.ini differs from the shipped");
    tree(dest, out, SV_OUT_CAP);
    cr_assert_str_eq(out, KEPT_DIRS KEPT_MAN_DIRS KEPT_FILES,
                     "left after uninstall:\n%s", out);
    text = sv_slurp(path, NULL);
    cr_assert_str_eq(text, conf, "uninstall touched the changed config");
    free(text);
    free(out);
}

/*
 * Where there is no configuration, install writes the shipped proxy.ini
 * there (0644: the unit's dynamic user reads it) and says so; a second
 * install leaves the administrator's edit alone, and so does uninstall,
 * each saying so; once the file is the shipped one again, uninstall
 * removes it and its directory (etc itself, shared, stays).
 */
Test(service, install_writes_the_configuration_once_and_uninstall_keeps_edits)
{
    const char *rel = "etc/redis-proxy/proxy.ini";
    char dest[128], destvar[160], conf[512], *out = malloc(SV_OUT_CAP), *text;
    const char *vars[] = {"PREFIX=/usr", destvar, NULL};
    FILE *f;

    sv_expect_repo_root();
    cr_assert_not_null(out);
    snprintf(dest, sizeof(dest), "%s", sv_scratch_dir("install"));
    snprintf(destvar, sizeof(destvar), "DESTDIR=%s", dest);
    snprintf(conf, sizeof(conf), "%s/%s", dest, rel);

    cr_assert_eq(run_make("install", vars, out, SV_OUT_CAP), 0,
                 "make install failed:\n%s", out);
    expect_said(out, "install: wrote", dest, rel);
    expect_installed(dest, rel, "proxy.ini", 0644);

    f = fopen(conf, "a");
    cr_assert_not_null(f);
    cr_assert(fputs("; edited\n", f) >= 0 && fclose(f) == 0);
    cr_assert_eq(run_make("install", vars, out, SV_OUT_CAP), 0,
                 "make install failed:\n%s", out);
    expect_said(out, "install:", dest, "etc/redis-proxy/proxy.ini exists");
    text = sv_slurp(conf, NULL);
    cr_assert_not_null(strstr(text, "\n; edited\n"), "install overwrote it");
    free(text);
    cr_assert_eq(run_make("uninstall", vars, out, SV_OUT_CAP), 0,
                 "make uninstall failed:\n%s", out);
    expect_said(out, "uninstall:", dest,
                "etc/redis-proxy/proxy.ini differs from the shipped");
    tree(dest, out, SV_OUT_CAP);
    cr_assert_str_eq(out, KEPT_DIRS KEPT_MAN_DIRS KEPT_FILES,
                     "left after uninstall:\n%s", out);

    /* The shipped bytes again (as after an install with none there). */
    cr_assert_eq(run_make("install", vars, out, SV_OUT_CAP), 0, "%s", out);
    text = sv_slurp("proxy.ini", NULL);
    write_file(conf, text);
    free(text);
    cr_assert_eq(run_make("uninstall", vars, out, SV_OUT_CAP), 0,
                 "make uninstall failed:\n%s", out);
    expect_said(out, "uninstall: removed", dest, rel);
    tree(dest, out, SV_OUT_CAP);
    cr_assert_str_eq(out,
                     "d etc\n"
                     "d usr\n"
                     "d usr/bin\n"
                     "d usr/lib\n"
                     "d usr/lib/systemd\n"
                     "d usr/lib/systemd/system\n"
                     "d usr/share\n"
                     "d usr/share/doc\n" KEPT_MAN_DIRS,
                     "left after uninstall:\n%s", out);
    free(out);
}

/*
 * What a packager or an administrator gets: after `make install DESTDIR=..
 * PREFIX=/usr` with no configuration there, the installed binary started
 * with the installed configuration (the ports and the Redis address moved
 * by -s to this test's, since the shipped ones are 8080 and 6379) serves a
 * GET over HTTP, from Redis and then from its cache, and over RESP.
 */
Test(service, the_installed_binary_serves_with_the_installed_configuration)
{
    char dest[128], destvar[160], bin[256], conf[256], exe[256], link[64];
    char *out = malloc(SV_OUT_CAP), value[64];
    const char *vars[] = {"PREFIX=/usr", destvar, NULL};
    redisContext *c;
    ssize_t n;

    sv_expect_repo_root();
    cr_assert_not_null(out);
    snprintf(dest, sizeof(dest), "%s", sv_scratch_dir("install"));
    snprintf(destvar, sizeof(destvar), "DESTDIR=%s", dest);
    cr_assert_eq(run_make("install", vars, out, SV_OUT_CAP), 0,
                 "make install failed:\n%s", out);
    snprintf(bin, sizeof(bin), "%s/usr/bin/redis-proxy", dest);
    snprintf(conf, sizeof(conf), "%s/etc/redis-proxy/proxy.ini", dest);
    expect_same_file(conf, "proxy.ini");
    cr_assert_eq(h_redis_cmd(&sv_redis, "SET front:door open"), 0);

    h_start_proxy(&sv_proxy, &sv_redis,
                  H_OPTS(.bin = bin, .config = conf, .admin = 1));
    snprintf(link, sizeof(link), "/proc/%d/exe", (int)sv_proxy.pid);
    n = readlink(link, exe, sizeof(exe) - 1);
    cr_assert_gt(n, 0, "readlink %s", link);
    exe[n] = '\0';
    cr_assert_str_eq(exe, bin, "the proxy running is not the installed one");
    h_expect_get(sv_proxy.http_port, "/front:door", 200, "open", "MISS");
    h_expect_get(sv_proxy.http_port, "/front:door", 200, "open", "HIT");
    c = h_proxy_resp_ctx(&sv_proxy);
    cr_assert_not_null(c);
    cr_assert_eq(h_resp_get(c, "front:door", value, sizeof(value)), 1);
    cr_assert_str_eq(value, "open");
    redisFree(c);
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
    char *out = malloc(SV_OUT_CAP), *text, *line;
    const char *vars[] = {var, NULL};
    const char *env[] = {manpath, NULL};
    char *version[] = {"systemd-analyze", "--version", NULL};
    char *verify[] = {"systemd-analyze", "verify", unit, NULL};
    FILE *f;
    int rc;

    sv_expect_repo_root();
    cr_assert_not_null(out);
    if (h_exec(version, NULL, out, SV_OUT_CAP, 5000) == 127) {
        free(out);
        cr_skip_test("systemd-analyze is not installed: the unit is not "
                     "verified (apt-get install systemd)");
    }
    snprintf(prefix, sizeof(prefix), "%s", sv_scratch_dir("prefix"));
    snprintf(var, sizeof(var), "PREFIX=%s", prefix);
    snprintf(manpath, sizeof(manpath), "MANPATH=%s/share/man", prefix);
    cr_assert_eq(run_make("install", vars, out, SV_OUT_CAP), 0,
                 "make install failed:\n%s", out);
    snprintf(unit, sizeof(unit), "%s/lib/systemd/system/redis-proxy.service",
             prefix);
    text = sv_slurp(unit, NULL);
    for (size_t i = 0; unit_lines[i] != NULL; i++) {
        char want[128];

        snprintf(want, sizeof(want), "\n%s\n", unit_lines[i]);
        cr_expect_not_null(strstr(text, want), "the unit lacks %s",
                           unit_lines[i]);
    }
    rc = h_exec(verify, env, out, SV_OUT_CAP, 20000);
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
    rc = h_exec(verify, env, out, SV_OUT_CAP, 20000);
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
    char *out = malloc(SV_OUT_CAP), *man, *want, *got, *line, *save = NULL;
    char section[64] = "";
    int in_config = 0, rc;

    sv_expect_repo_root();
    cr_assert_not_null(out);
    rc = h_exec(argv, NULL, out, SV_OUT_CAP, 5000);
    cr_assert_eq(rc, 0, "-t: %s", out);
    want = calloc(1, SV_OUT_CAP);
    got = calloc(1, SV_OUT_CAP);
    cr_assert(want != NULL && got != NULL);
    /* -t: "[section]" lines, then "key = value" ("key =" when empty). */
    for (line = strtok_r(out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '[') {
            snprintf(section, sizeof(section), "%s", line);
        } else {
            snprintf(want + strlen(want), SV_OUT_CAP - strlen(want), "%s %s\n",
                     section, line);
        }
    }
    man = sv_slurp("docs/redis-proxy.8", NULL);
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
            snprintf(got + strlen(got), SV_OUT_CAP - strlen(got), "%s %s\n",
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
    char *out = malloc(SV_OUT_CAP);
    int rc;

    sv_expect_repo_root();
    cr_assert_not_null(out);
    rc = h_exec(groff, NULL, out, SV_OUT_CAP, 10000);
    if (rc == 127) {
        free(out);
        cr_skip_test("groff is not installed: the man page is not checked "
                     "(apt-get install groff-base)");
    }
    cr_assert_eq(rc, 0, "groff: exit %d: %s", rc, out);
    cr_assert_str_eq(out, "", "groff -ww warns:\n%s", out);
    rc = h_exec(man, env, out, SV_OUT_CAP, 10000);
    if (rc != 127) {
        cr_assert_eq(rc, 0, "man -l: exit %d", rc);
        cr_assert_not_null(strstr(out, "SIGHUP"), "%.400s", out);
        cr_assert_null(strstr(out, "warning"), "man -l warns:\n%s", out);
    }
    free(out);
}
