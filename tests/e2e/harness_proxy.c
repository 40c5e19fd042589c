/*
 * harness_proxy: the proxy under test (see harness.h): its generated INI,
 * its start on fresh ports with the means of harness_proc.c, its stop (an
 * exit status other than 0 fails the whole run), its log, and one-shot
 * runs of the binary for the command-line tests.
 */
#include "harness.h"
#include "harness_int.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *
h_proxy_bin(void)
{
    const char *bin = getenv("PROXY_BIN");

    return bin != NULL && bin[0] != '\0' ? bin : "build/redis-proxy";
}

/* Writes the INI for this attempt's ports. */
static int
h__write_ini(const struct h_proxy *p, int redis_port, const char *extra)
{
    FILE *f = fopen(p->ini, "w");
    int rc;

    if (f == NULL) {
        return -1;
    }
    fprintf(f, "[server]\nbind = 127.0.0.1\nhttp_port = %d\nresp_port = %d\n",
            p->http_port, p->resp_port);
    if (p->tls_port > 0) {
        fprintf(f, "tls_port = %d\n", p->tls_port);
    }
    fprintf(f, "[redis]\nhost = 127.0.0.1\nport = %d\n", redis_port);
    if (p->admin_port > 0) {
        fprintf(f, "[admin]\nport = %d\n", p->admin_port);
    }
    if (extra != NULL && extra[0] != '\0') {
        fprintf(f, "%s%s", extra, extra[strlen(extra) - 1] != '\n' ? "\n" : "");
    }
    rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0) {
        rc = -1;
    }
    return rc;
}

/* Removes the proxy's temp dir (the parent of ini) unless E2E_KEEP is set. */
static void
h__proxy_cleanup(struct h_proxy *p)
{
    char dir[256];
    char *slash;

    if (p->ini[0] == '\0') {
        return;
    }
    if (getenv("E2E_KEEP") != NULL) {
        fprintf(stderr, "harness: kept %s\n", p->ini);
    } else {
        snprintf(dir, sizeof(dir), "%s", p->ini);
        slash = strrchr(dir, '/');
        if (slash != NULL) {
            *slash = '\0';
            h__rmdir(dir);
        }
    }
    p->ini[0] = '\0';
    p->log[0] = '\0';
}

/* This process's environment changed by extra: "NAME=VALUE" added or
 * replacing NAME's entry, a bare "NAME" removing it. A malloc'd array of
 * borrowed strings (free the array only), or NULL when extra is NULL or on
 * allocation failure. */
static char **
h__env_with(const char *const *extra)
{
    extern char **environ;
    size_t n = 0, m = 0, i, j;
    char **env;

    if (extra == NULL) {
        return NULL;
    }
    while (environ[n] != NULL) {
        n++;
    }
    while (extra[m] != NULL) {
        m++;
    }
    env = calloc(n + m + 1, sizeof(*env));
    if (env == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        env[i] = environ[i];
    }
    for (j = 0; j < m; j++) {
        size_t name = strcspn(extra[j], "=");
        int unset = extra[j][name] == '\0';

        for (i = 0; i < n; i++) {
            if (strncmp(env[i], extra[j], name) == 0 && env[i][name] == '=') {
                break;
            }
        }
        if (unset && i < n) {
            env[i] = env[--n];
            env[n] = NULL;
        } else if (!unset) {
            env[i < n ? i : n++] = (char *)extra[j];
        }
    }
    return env;
}

/* The harness's settings as "-s" arguments, for a proxy started with a
 * configuration file of the test's own (o->config): into argv[*argc..],
 * the texts in set[] (which must live until the exec). */
#define H_SETS 6
static void
h__config_sets(const struct h_proxy *p, int redis_port, char **argv, int *argc,
               char set[H_SETS][48])
{
    snprintf(set[0], sizeof(set[0]), "server.bind=127.0.0.1");
    snprintf(set[1], sizeof(set[1]), "server.http_port=%d", p->http_port);
    snprintf(set[2], sizeof(set[2]), "server.resp_port=%d", p->resp_port);
    snprintf(set[3], sizeof(set[3]), "redis.host=127.0.0.1");
    snprintf(set[4], sizeof(set[4]), "redis.port=%d", redis_port);
    snprintf(set[5], sizeof(set[5]), "admin.port=%d", p->admin_port);
    for (int i = 0; i < H_SETS; i++) {
        argv[(*argc)++] = "-s";
        argv[(*argc)++] = set[i];
    }
}

/* One attempt: fresh ports, INI (or -s settings), exec, wait for the
 * listeners. */
static int
h__proxy_try(struct h_proxy *p, int redis_port, const struct h_proxy_opts *o)
{
    char *argv[H_MAX_ARGS], set[H_SETS][48];
    char **env;
    int ports[4], wait[4], nwait = 0, argc = 0, rc;

    if (h__free_ports(ports, 4) == -1) {
        return -1;
    }
    p->http_port = ports[0];
    p->resp_port = ports[1];
    p->admin_port = o->admin ? ports[2] : 0;
    p->tls_port = o->tls ? ports[3] : 0;
    wait[nwait++] = p->http_port;
    if (!o->resp_off) {
        wait[nwait++] = p->resp_port;
    }
    if (o->admin) {
        wait[nwait++] = p->admin_port;
    }
    if (o->tls) {
        wait[nwait++] = p->tls_port;
    }
    argv[argc++] = (char *)(o->bin != NULL ? o->bin : h_proxy_bin());
    argv[argc++] = "-c";
    if (o->config != NULL) {
        argv[argc++] = (char *)o->config;
        h__config_sets(p, redis_port, argv, &argc, set);
    } else if (h__write_ini(p, redis_port, o->ini) == -1) {
        return -1;
    } else {
        argv[argc++] = p->ini;
    }
    h__add_args(argv, &argc, o->args);
    env = h__env_with(o->env);
    if (o->env != NULL && env == NULL) {
        return -1;
    }
    rc = h__launch_env(p->log, argv, env, wait, nwait, &p->pid);
    free(env);
    return rc;
}

int
h_proxy_start(struct h_proxy *p, int redis_port, const struct h_proxy_opts *o)
{
    static const struct h_proxy_opts defaults = {0};
    char dir[200];
    int tries;

    h__kill_child(&p->pid);
    if (strstr(p->ini, "/rp-e2e-proxy-") != NULL) {
        h__proxy_cleanup(p);
    }
    if (h__mkdtemp(dir, sizeof(dir), "proxy") == -1) {
        p->ini[0] = p->log[0] = '\0';
        return -1;
    }
    snprintf(p->ini, sizeof(p->ini), "%s/proxy.ini", dir);
    snprintf(p->log, sizeof(p->log), "%s/proxy.log", dir);
    if (o == NULL) {
        o = &defaults;
    }
    for (tries = 0; tries < H_START_TRIES; tries++) {
        if (h__proxy_try(p, redis_port, o) == 0) {
            return 0;
        }
        h__kill_child(&p->pid);
    }
    fprintf(stderr, "harness: %s did not start; its log:\n",
            o->bin != NULL ? o->bin : h_proxy_bin());
    h_proxy_dump_log(p);
    h__proxy_cleanup(p);
    return -1;
}

/*
 * A proxy that did not exit 0 after SIGTERM (a crash, a hang, or a
 * sanitizer report, which changes the exit status) is appended to the file
 * named by $E2E_PROXY_FAILURES; tools/run-tests.sh fails the run if that
 * file is not empty, even when every assertion in the test passed.
 */
static void
h__record_bad_exit(const struct h_proxy *p, int rc)
{
    const char *path = getenv("E2E_PROXY_FAILURES");
    char buf[4096];
    size_t n;
    FILE *out, *in;

    if (path == NULL || path[0] == '\0' || (out = fopen(path, "a")) == NULL) {
        return;
    }
    fprintf(out, "proxy %s exited with status %d; its log:\n", p->ini, rc);
    if ((in = fopen(p->log, "r")) != NULL) {
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
            fwrite(buf, 1, n, out);
        }
        fclose(in);
    }
    fclose(out);
}

int
h_proxy_stop(struct h_proxy *p, char *log, size_t cap)
{
    int st, rc = -1;

    if (p->pid > 0) {
        st = h__terminate(p->pid, SIGTERM);
        p->pid = 0;
        if (st != -1 && WIFEXITED(st)) {
            rc = WEXITSTATUS(st);
        }
        if (rc != 0) {
            fprintf(stderr, "harness: proxy stopped with status %d; log:\n",
                    rc);
            h_proxy_dump_log(p);
            h__record_bad_exit(p, rc);
        }
    }
    if (log != NULL) {
        h_proxy_read_log(p, log, cap);
    }
    h__proxy_cleanup(p);
    return rc;
}

size_t
h_proxy_read_log(const struct h_proxy *p, char *buf, size_t cap)
{
    size_t len = 0, n;
    FILE *f;

    if (cap == 0) {
        return 0;
    }
    if (p->log[0] != '\0' && (f = fopen(p->log, "r")) != NULL) {
        while (len + 1 < cap &&
               (n = fread(buf + len, 1, cap - 1 - len, f)) > 0) {
            len += n;
        }
        fclose(f);
    }
    buf[len] = '\0';
    return len;
}

void
h_proxy_dump_log(const struct h_proxy *p)
{
    char buf[4096];
    size_t n;
    FILE *f;

    if (p->log[0] == '\0' || (f = fopen(p->log, "r")) == NULL) {
        return;
    }
    fprintf(stderr, "---- %s ----\n", p->log);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        fwrite(buf, 1, n, stderr);
    }
    fprintf(stderr, "---- end ----\n");
    fclose(f);
}

/* ---- one-shot runs ---- */

/* Reads what the child writes to fd until EOF or deadline into out. */
static void
h__collect(int fd, char *out, size_t cap, int64_t deadline)
{
    size_t len = 0;

    while (h__wait_readable(fd, deadline)) {
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof(tmp));
        size_t keep;

        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        keep = cap > len + 1 ? cap - len - 1 : 0;
        keep = keep < (size_t)n ? keep : (size_t)n;
        memcpy(out + len, tmp, keep);
        len += keep;
    }
    if (cap > 0) {
        out[len] = '\0';
    }
}

int
h_exec(char *const argv[], const char *const *env, char *out, size_t cap,
       int timeout_ms)
{
    char **envp = h__env_with(env);
    int pfd[2], st;
    int64_t deadline = h_now_ms() + timeout_ms;
    pid_t pid;

    if ((env != NULL && envp == NULL) || pipe2(pfd, O_CLOEXEC) == -1) {
        free(envp);
        return -1;
    }
    pid = h__spawn_env(argv, envp, pfd[1]);
    close(pfd[1]);
    free(envp);
    if (pid == -1) {
        close(pfd[0]);
        return -1;
    }
    h__collect(pfd[0], out, cap, deadline);
    close(pfd[0]);
    st = h__reap(pid, (int)(deadline - h_now_ms()));
    if (st == -1) {
        kill(pid, SIGKILL);
        h__reap(pid, H_STOP_MS);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define H_PYTHON "/usr/bin/python3"
#define H_PY_MS 45000 /* a client-library script's whole run */

void
h_need_redis_py(void)
{
    char out[4096] = "";

    if (access(H_PYTHON, X_OK) != 0 ||
        h_exec((char *[]){H_PYTHON, "-c", "import redis", NULL}, NULL, out,
               sizeof(out), H_PY_MS) != 0) {
        cr_skip_test("%s has no redis module (Debian: apt-get install "
                     "python3-redis): %s",
                     H_PYTHON, out);
    }
}

int
h_redis_py(const char *script, const char *const args[], char *out, size_t cap)
{
    const char *slash = strrchr(__FILE__, '/');
    char path[512], *argv[H_MAX_ARGS];
    int argc = 0;

    snprintf(path, sizeof(path), "%.*s%s%s",
             slash != NULL ? (int)(slash - __FILE__) : 0, __FILE__,
             slash != NULL ? "/" : "", script);
    cr_assert_eq(access(path, R_OK), 0, "%s not found (cwd must be the repo)",
                 path);
    argv[argc++] = H_PYTHON;
    argv[argc++] = path;
    while (args != NULL && *args != NULL && argc < H_MAX_ARGS - 1) {
        argv[argc++] = (char *)*args++;
    }
    argv[argc] = NULL;
    return h_exec(argv, NULL, out, cap, H_PY_MS);
}

int
h_run(char *const argv[], char *out, size_t cap)
{
    char *av[H_MAX_ARGS];
    int pfd[2], argc = 0, st;
    int64_t deadline = h_now_ms() + H_STOP_MS;
    pid_t pid;

    av[argc++] = (char *)h_proxy_bin();
    h__add_args(av, &argc,
                argv != NULL && argv[0] != NULL ? (const char *const *)argv + 1
                                                : NULL);
    if (pipe2(pfd, O_CLOEXEC) == -1) {
        return -1;
    }
    pid = h__spawn(av, pfd[1]);
    close(pfd[1]);
    if (pid == -1) {
        close(pfd[0]);
        return -1;
    }
    h__collect(pfd[0], out, cap, deadline);
    close(pfd[0]);
    st = h__reap(pid, (int)(deadline - h_now_ms()));
    if (st == -1) {
        kill(pid, SIGKILL);
        h__reap(pid, H_STOP_MS);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
