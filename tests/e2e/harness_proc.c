/*
 * harness_proc: the child processes of the end-to-end tests (see
 * harness.h): starting, reaping and killing them, their ports and temp
 * dirs, and redis-server itself; harness_proxy.c starts the proxy with
 * the same means.
 *
 * Every child is started with fork+exec, its output in a log file under a
 * private temp dir, its fds above stderr closed, signals reset to their
 * defaults, and PR_SET_PDEATHSIG = SIGKILL, so a test process that crashes
 * or is killed by Criterion's timeout still takes its children with it. A
 * child counts as started only when the listening socket on each of its
 * ports is one of *its* fds (checked in /proc), so a port stolen by a
 * parallel test between "find a free port" and "bind" is detected and
 * retried with fresh ports instead of silently talking to someone else's
 * server.
 */
#include "harness.h"
#include "harness_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#define H_START_MS 5000 /* a child must be listening within this */

/* Shared with harness_proxy.c: documented in harness_int.h. */

int
h__free_ports(int *ports, int n)
{
    int fds[8];
    int nfd = 0, got = 0, rc = -1;

    while (got < n && nfd < 8) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t sl = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd == -1) {
            goto out;
        }
        fds[nfd++] = fd; /* held open until all are found: distinct */
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
            getsockname(fd, (struct sockaddr *)&sa, &sl) == -1) {
            goto out;
        }
        if (ntohs(sa.sin_port) != 6379) {
            ports[got++] = ntohs(sa.sin_port);
        }
    }
    rc = got == n ? 0 : -1;
out:
    while (nfd > 0) {
        close(fds[--nfd]);
    }
    return rc;
}

/* Inode of the IPv4 socket listening on port, or 0. */
static unsigned long
h__listen_inode(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    unsigned long inode = 0, ino;
    unsigned int lport, state;

    if (f == NULL) {
        return 0;
    }
    while (inode == 0 && fgets(line, sizeof(line), f) != NULL) {
        /* sl local:port remote:port st tx:rx tr:when retrnsmt uid tmo inode */
        if (sscanf(line,
                   " %*u: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu",
                   &lport, &state, &ino) == 3 &&
            state == 0x0A && lport == (unsigned int)port) {
            inode = ino;
        }
    }
    fclose(f);
    return inode;
}

/* 1 if process pid holds the socket listening on 127.0.0.1:port. */
static int
h__pid_listens(pid_t pid, int port)
{
    unsigned long inode = h__listen_inode(port);
    char path[64], want[64], link[64];
    struct dirent *de;
    DIR *d;
    int found = 0;

    if (inode == 0) {
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    snprintf(want, sizeof(want), "socket:[%lu]", inode);
    d = opendir(path);
    if (d == NULL) {
        return 0;
    }
    while (!found && (de = readdir(d)) != NULL) {
        ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);

        if (n > 0) {
            link[n] = '\0';
            found = strcmp(link, want) == 0;
        }
    }
    closedir(d);
    return found;
}

pid_t
h__spawn(char *const argv[], int out_fd)
{
    return h__spawn_env(argv, NULL, out_fd);
}

pid_t
h__spawn_env(char *const argv[], char *const envp[], int out_fd)
{
    pid_t parent = getpid();
    long maxfd = sysconf(_SC_OPEN_MAX);
    pid_t pid;

    if (maxfd < 0 || maxfd > 65536) {
        maxfd = 65536;
    }
    pid = fork();
    if (pid != 0) {
        return pid;
    }
    /* child: async-signal-safe calls only */
    {
        sigset_t none;
        int devnull = open("/dev/null", O_RDONLY);
        long fd;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        if (devnull != -1) {
            dup2(devnull, 0);
        }
        dup2(out_fd, 1);
        dup2(out_fd, 2);
        for (fd = 3; fd < maxfd; fd++) {
            close((int)fd);
        }
        if (envp != NULL) {
            execvpe(argv[0], argv, envp);
        } else {
            execvp(argv[0], argv);
        }
        _exit(127);
    }
}

int
h__reap(pid_t pid, int ms)
{
    int64_t deadline = h_now_ms() + ms;

    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);

        if (w == pid) {
            return st;
        }
        if (w == -1 && errno != EINTR) {
            return 0; /* not our child any more: nothing to wait for */
        }
        if (h_now_ms() >= deadline) {
            return -1;
        }
        h_sleep_ms(5);
    }
}

int
h__terminate(pid_t pid, int sig)
{
    int st;

    kill(pid, sig);
    st = h__reap(pid, H_STOP_MS);
    if (st == -1) {
        kill(pid, SIGKILL);
        h__reap(pid, H_STOP_MS);
    }
    return st;
}

void
h__kill_child(pid_t *pid)
{
    if (*pid > 0 && waitpid(*pid, NULL, WNOHANG) == 0) {
        h__terminate(*pid, SIGKILL);
    }
    *pid = 0;
}

void
h__rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                unlinkat(dirfd(d), de->d_name, 0);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

static int
h__dir_exists(const char *dir)
{
    struct stat st;

    return dir[0] != '\0' && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

int
h__mkdtemp(char *buf, size_t cap, const char *kind)
{
    const char *base = getenv("TMPDIR");
    int n;

    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    n = snprintf(buf, cap, "%s/rp-e2e-%s-XXXXXX", base, kind);
    if (n < 0 || (size_t)n >= cap || mkdtemp(buf) == NULL) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

void
h__add_args(char **argv, int *argc, const char *const *args)
{
    for (; args != NULL && *args != NULL && *argc < H_MAX_ARGS - 1; args++) {
        argv[(*argc)++] = (char *)*args;
    }
    argv[*argc] = NULL;
}

int
h__launch(const char *log, char *const argv[], const int *ports, int nports,
          pid_t *pid)
{
    return h__launch_env(log, argv, NULL, ports, nports, pid);
}

int
h__launch_env(const char *log, char *const argv[], char *const envp[],
              const int *ports, int nports, pid_t *pid)
{
    int64_t deadline = h_now_ms() + H_START_MS;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int i, gone;

    *pid = fd == -1 ? -1 : h__spawn_env(argv, envp, fd);
    if (fd != -1) {
        close(fd);
    }
    gone = *pid <= 0;
    while (!gone && h_now_ms() < deadline) {
        if (h__reap(*pid, 0) != -1) {
            gone = 1;
            break;
        }
        for (i = 0; i < nports && h__pid_listens(*pid, ports[i]); i++) {
        }
        if (i == nports) {
            return 0;
        }
        h_sleep_ms(10);
    }
    if (gone) {
        *pid = 0;
    }
    return -1;
}

/* ---- redis ---- */

/* The arguments that make r speak TLS on port (portstr) alone, with its
 * certificate r->tls, into argv[*argc..]; bufs hold the paths. */
static void
h__redis_tls_args(const struct h_redis *r, const char *portstr, char **argv,
                  int *argc, char bufs[3][256])
{
    snprintf(bufs[0], 256, "%s.crt", h_tls_path(r->tls));
    snprintf(bufs[1], 256, "%s.key", h_tls_path(r->tls));
    snprintf(bufs[2], 256, "%s", h_tls_path("ca.crt"));
    h__add_args(argv, argc,
                (const char *const[]){
                    "--port", "0", "--tls-port", portstr, "--tls-cert-file",
                    bufs[0], "--tls-key-file", bufs[1], "--tls-ca-cert-file",
                    bufs[2], "--tls-auth-clients", "no", NULL});
}

/* One attempt at starting redis-server on port. */
static int
h__redis_try(struct h_redis *r, int port, const char *const *extra)
{
    char portstr[16], log[300], tls[3][256];
    char *argv[H_MAX_ARGS] = {
        "redis-server", "--save", "",     "--appendonly", "no", "--bind",
        "127.0.0.1",    "--dir",  r->dir, "--daemonize",  "no"};
    int argc = 11;

    snprintf(portstr, sizeof(portstr), "%d", port);
    if (r->tls[0] != '\0') {
        h__redis_tls_args(r, portstr, argv, &argc, tls);
    } else {
        h__add_args(argv, &argc,
                    (const char *const[]){"--port", portstr, NULL});
    }
    h__add_args(argv, &argc, extra);
    snprintf(log, sizeof(log), "%s/redis.log", r->dir);
    r->port = port;
    if (h__launch(log, argv, &port, 1, &r->pid) == -1) {
        return -1;
    }
    return r->tls[0] != '\0' ? 0 : h_redis_cmd(r, "PING");
}

/* h_redis_start and h_redis_start_tls, once r->tls is set. */
static int
h__redis_start(struct h_redis *r, int port, const char *const *extra_args)
{
    int tries = port > 0 ? 1 : H_START_TRIES;

    h__kill_child(&r->pid);
    if (port <= 0 && strstr(r->dir, "/rp-e2e-redis-") != NULL) {
        h__rmdir(r->dir);
    }
    if ((port <= 0 || !h__dir_exists(r->dir)) &&
        h__mkdtemp(r->dir, sizeof(r->dir), "redis") == -1) {
        return -1;
    }
    while (tries-- > 0) {
        int p = port;

        if (p <= 0 && h__free_ports(&p, 1) == -1) {
            return -1;
        }
        if (h__redis_try(r, p, extra_args) == 0) {
            return 0;
        }
        h_redis_kill(r, 1);
    }
    fprintf(stderr, "harness: redis-server did not start on port %d\n",
            r->port);
    return -1;
}

int
h_redis_start(struct h_redis *r, int port, const char *const *extra_args)
{
    r->tls[0] = '\0';
    return h__redis_start(r, port, extra_args);
}

int
h_redis_start_tls(struct h_redis *r, int port, const char *cert,
                  const char *const *extra_args)
{
    snprintf(r->tls, sizeof(r->tls), "%s", cert);
    return h__redis_start(r, port, extra_args);
}

void
h_redis_kill(struct h_redis *r, int hard)
{
    if (r->pid > 0) {
        h__terminate(r->pid, hard ? SIGKILL : SIGTERM);
        r->pid = 0;
    }
}

void
h_redis_stop(struct h_redis *r)
{
    h_redis_kill(r, 1);
    if (r->dir[0] != '\0') {
        h__rmdir(r->dir);
        r->dir[0] = '\0';
    }
}

/* ---- memory ---- */

long
h_proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL) {
        return -1;
    }
    while (kib == -1 && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            char *end;

            kib = strtol(line + 6, &end, 10);
            if (end == line + 6 || strncmp(end, " kB", 3) != 0) {
                kib = -1;
                break;
            }
        }
    }
    fclose(f);
    return kib;
}

/* The VmSize of pid in KiB, or -1. */
static long
h__vmsize_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL) {
        return -1;
    }
    while (kib == -1 && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmSize:", 7) == 0) {
            kib = strtol(line + 7, NULL, 10);
        }
    }
    fclose(f);
    return kib;
}

/* A runtime linked in shows in the maps; one linked statically (clang's
 * default) still reserves terabytes of shadow address space. */
int
h_proc_sanitized(pid_t pid)
{
    static const char *const runtimes[] = {"/libasan.so", "/libtsan.so",
                                           "/libmsan.so", "/libclang_rt."};
    char path[64], line[512];
    int found = h__vmsize_kib(pid) > (1L << 30); /* over 1 TiB */
    size_t i;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    if (found || (f = fopen(path, "r")) == NULL) {
        return found;
    }
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        for (i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
            found |= strstr(line, runtimes[i]) != NULL;
        }
    }
    fclose(f);
    return found;
}
