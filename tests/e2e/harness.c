/*
 * harness: process and socket helpers for the end-to-end tests (see
 * harness.h for the API).
 *
 * Every child (redis-server, redis-proxy) is started with fork+exec, its
 * output in a log file under a private temp dir, its fds above stderr
 * closed, signals reset to their defaults, and PR_SET_PDEATHSIG = SIGKILL,
 * so a test process that crashes or is killed by Criterion's timeout still
 * takes its children with it. A child counts as started only when the
 * listening socket on its port is one of *its* fds (checked in /proc), so a
 * port stolen by a parallel test between "find a free port" and "bind" is
 * detected and retried instead of silently talking to someone else's server.
 * Every socket read is bounded by poll() with a deadline: no helper can hang.
 */
#include "harness.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define H_START_MS 5000  /* a child must be listening within this */
#define H_STOP_MS 5000   /* a child must exit within this after a signal */
#define H_IO_MS 2000     /* SO_RCVTIMEO / SO_SNDTIMEO of h_connect sockets */
#define H_GET_MS 5000    /* h_http_get's wait for the response */
#define H_MAX_HEAD 65536 /* a response head longer than this is an error */
#define H_START_TRIES 3  /* fresh ports tried when a child fails to bind */

/* The test process never dies of SIGPIPE; children get SIG_DFL back. */
__attribute__((constructor)) static void
h__init(void)
{
    signal(SIGPIPE, SIG_IGN);
}

static int64_t
h__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
h_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* Waits until fd is readable or deadline passes (polls at least once).
 * Returns 1 if readable (or closed/errored), 0 on timeout. */
static int
h__wait_readable(int fd, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - h__now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, left > 0 ? (int)left : 0);

        if (n > 0) {
            return 1;
        }
        if (n == 0 || errno != EINTR) {
            return 0;
        }
    }
}

/* n distinct ports the kernel just handed out for 127.0.0.1; never 6379. */
static int
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

/*
 * Forks and execs argv with stdout and stderr going to out_fd; the child
 * dies with the test process. Returns the pid or -1.
 */
static pid_t
h__spawn(const char *file, char *const argv[], int out_fd)
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
        execvp(file, argv);
        _exit(127);
    }
}

/* Waits for pid up to ms; returns the wait status or -1 if still running. */
static int
h__reap(pid_t pid, int ms)
{
    int64_t deadline = h__now_ms() + ms;

    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);

        if (w == pid) {
            return st;
        }
        if (w == -1 && errno != EINTR) {
            return 0; /* not our child any more: nothing to wait for */
        }
        if (h__now_ms() >= deadline) {
            return -1;
        }
        h_sleep_ms(5);
    }
}

/* Signals pid, waits, SIGKILLs if needed. Returns the wait status or -1. */
static int
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

/* Removes dir and the plain files in it. */
static void
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

/* Creates $TMPDIR/rp-e2e-<kind>-XXXXXX (default /tmp). Returns 0 or -1. */
static int
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

/* 1 if pid is a running child of this process (never a stray number). */
static int
h__is_child(pid_t pid)
{
    return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

/* ---- redis ---- */

/*
 * Spawns argv with output appended to log and waits until it listens on
 * every port. Returns 0; or -1 with *pid = 0 if it died, or still running
 * (the caller kills it) if it did not listen in time.
 */
static int
h__launch(const char *log, char *const argv[], const int *ports, int nports,
          pid_t *pid)
{
    int64_t deadline = h__now_ms() + H_START_MS;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int i, gone;

    *pid = fd == -1 ? -1 : h__spawn(argv[0], argv, fd);
    if (fd != -1) {
        close(fd);
    }
    gone = *pid <= 0;
    while (!gone && h__now_ms() < deadline) {
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

/* One attempt at starting redis-server on port. */
static int
h__redis_try(struct h_redis *r, int port)
{
    char portstr[16], log[300];
    char *argv[] = {"redis-server", "--save", "",          "--appendonly",
                    "no",           "--bind", "127.0.0.1", "--port",
                    portstr,        "--dir",  r->dir,      "--daemonize",
                    "no",           NULL};

    snprintf(portstr, sizeof(portstr), "%d", port);
    snprintf(log, sizeof(log), "%s/redis.log", r->dir);
    r->port = port;
    if (h__launch(log, argv, &port, 1, &r->pid) == -1) {
        return -1;
    }
    return h_redis_cmd(r, "PING");
}

int
h_redis_start(struct h_redis *r, int port)
{
    int tries = port > 0 ? 1 : H_START_TRIES;

    if (h__is_child(r->pid)) { /* started twice: stop the first one */
        h__terminate(r->pid, SIGKILL);
    }
    r->pid = 0;
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
        if (h__redis_try(r, p) == 0) {
            return 0;
        }
        h_redis_kill(r, 1);
    }
    fprintf(stderr, "harness: redis-server did not start on port %d\n",
            r->port);
    return -1;
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

redisContext *
h_redis_ctx(const struct h_redis *r)
{
    struct timeval tv = {H_IO_MS / 1000, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);

    if (c == NULL) {
        return NULL;
    }
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        redisFree(c);
        return NULL;
    }
    return c;
}

int
h_redis_cmd(const struct h_redis *r, const char *fmt, ...)
{
    redisContext *c = h_redis_ctx(r);
    redisReply *rep;
    va_list ap;
    int rc;

    if (c == NULL) {
        return -1;
    }
    va_start(ap, fmt);
    rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    rc = rep != NULL && rep->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (rep != NULL) {
        freeReplyObject(rep);
    }
    redisFree(c);
    return rc;
}

long
h_redis_calls(const struct h_redis *r, const char *cmd)
{
    redisContext *c = h_redis_ctx(r);
    redisReply *rep;
    char needle[128];
    const char *p;
    long calls = 0;
    size_t i;

    if (c == NULL) {
        return -1;
    }
    rep = redisCommand(c, "INFO commandstats");
    if (rep == NULL || rep->type != REDIS_REPLY_STRING) {
        calls = -1;
        goto out;
    }
    snprintf(needle, sizeof(needle), "cmdstat_%s:calls=", cmd);
    for (i = 8; needle[i] != ':' && needle[i] != '\0'; i++) {
        needle[i] = (char)tolower((unsigned char)needle[i]);
    }
    p = strstr(rep->str, needle);
    if (p != NULL) {
        calls = strtol(p + strlen(needle), NULL, 10);
    }
out:
    if (rep != NULL) {
        freeReplyObject(rep);
    }
    redisFree(c);
    return calls;
}

/* ---- proxy ---- */

static const char *
h__proxy_bin(void)
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
    fprintf(f,
            "[server]\nbind = 127.0.0.1\nhttp_port = %d\nresp_port = %d\n"
            "[redis]\nhost = 127.0.0.1\nport = %d\n%s%s",
            p->http_port, p->resp_port, redis_port, extra ? extra : "",
            extra && extra[0] && extra[strlen(extra) - 1] != '\n' ? "\n" : "");
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

/* One attempt: fresh ports, INI, exec, wait for both listeners. */
static int
h__proxy_try(struct h_proxy *p, int redis_port, const char *extra,
             char *const args[])
{
    char *argv[64];
    int ports[2], argc = 0;

    if (h__free_ports(ports, 2) == -1) {
        return -1;
    }
    p->http_port = ports[0];
    p->resp_port = ports[1];
    if (h__write_ini(p, redis_port, extra) == -1) {
        return -1;
    }
    argv[argc++] = (char *)h__proxy_bin();
    argv[argc++] = "-c";
    argv[argc++] = p->ini;
    for (; args != NULL && *args != NULL && argc < 63; args++) {
        argv[argc++] = *args;
    }
    argv[argc] = NULL;
    return h__launch(p->log, argv, ports, 2, &p->pid);
}

int
h_proxy_start_args(struct h_proxy *p, int redis_port, const char *extra,
                   char *const args[])
{
    char dir[200];
    int tries;

    if (h__is_child(p->pid)) { /* started twice: stop the first one */
        h__terminate(p->pid, SIGKILL);
    }
    p->pid = 0;
    if (strstr(p->ini, "/rp-e2e-proxy-") != NULL) {
        h__proxy_cleanup(p);
    }
    if (h__mkdtemp(dir, sizeof(dir), "proxy") == -1) {
        p->ini[0] = p->log[0] = '\0';
        return -1;
    }
    snprintf(p->ini, sizeof(p->ini), "%s/proxy.ini", dir);
    snprintf(p->log, sizeof(p->log), "%s/proxy.log", dir);
    for (tries = 0; tries < H_START_TRIES; tries++) {
        if (h__proxy_try(p, redis_port, extra, args) == 0) {
            return 0;
        }
        if (p->pid > 0) {
            h__terminate(p->pid, SIGKILL);
            p->pid = 0;
        }
    }
    fprintf(stderr, "harness: %s did not start; its log:\n", h__proxy_bin());
    h_proxy_dump_log(p);
    h__proxy_cleanup(p);
    return -1;
}

int
h_proxy_start(struct h_proxy *p, int redis_port, const char *extra)
{
    return h_proxy_start_args(p, redis_port, extra, NULL);
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
h_proxy_stop(struct h_proxy *p)
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
    h__proxy_cleanup(p);
    return rc;
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

int
h_run(char *const argv[], char *out, size_t cap)
{
    char *av[64];
    int pfd[2], argc = 0, st;
    size_t len = 0;
    int64_t deadline = h__now_ms() + H_STOP_MS;
    pid_t pid;

    av[argc++] = (char *)h__proxy_bin();
    if (argv != NULL && argv[0] != NULL) {
        for (argv++; *argv != NULL && argc < 63; argv++) {
            av[argc++] = *argv;
        }
    }
    av[argc] = NULL;
    if (pipe2(pfd, O_CLOEXEC) == -1) {
        return -1;
    }
    pid = h__spawn(av[0], av, pfd[1]);
    close(pfd[1]);
    if (pid == -1) {
        close(pfd[0]);
        return -1;
    }
    while (h__wait_readable(pfd[0], deadline)) {
        char tmp[4096];
        ssize_t n = read(pfd[0], tmp, sizeof(tmp));
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
    close(pfd[0]);
    if (cap > 0) {
        out[len] = '\0';
    }
    st = h__reap(pid, (int)(deadline - h__now_ms()));
    if (st == -1) {
        kill(pid, SIGKILL);
        h__reap(pid, H_STOP_MS);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- sockets ---- */

int
h_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timeval tv = {H_IO_MS / 1000, 0};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1) {
        return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

int
h_send(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
h_sends(int fd, const char *s)
{
    return h_send(fd, s, strlen(s));
}

/* Reads into buf up to cap-1 bytes (NUL-terminated) until close/timeout. */
size_t
h_recv_all(int fd, char *buf, size_t cap, int timeout_ms)
{
    int64_t deadline = h__now_ms() + timeout_ms;
    size_t len = 0;

    if (cap == 0) {
        return 0;
    }
    while (len + 1 < cap && h__wait_readable(fd, deadline)) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);

        if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

int
h_wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = h__now_ms() + timeout_ms;

    while (h__wait_readable(fd, deadline)) {
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);

        if (n == 0 || (n == -1 && (errno == ECONNRESET || errno == EPIPE))) {
            return 1;
        }
        if (n == -1 && errno != EINTR && errno != EAGAIN) {
            return 1;
        }
    }
    return 0;
}

/* Reads exactly len bytes by deadline. Returns 0 or -1. */
static int
h__read_exact(int fd, char *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n;

        if (!h__wait_readable(fd, deadline)) {
            return -1;
        }
        n = recv(fd, buf, len, MSG_DONTWAIT);
        if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads the response head byte by byte (never past it) into r->headers. */
static int
h__read_head(int fd, struct h_resp *r, int64_t deadline)
{
    size_t len = 0, kept = 0;
    uint32_t last4 = 0;

    while (len < H_MAX_HEAD) {
        char c;

        if (h__read_exact(fd, &c, 1, deadline) == -1) {
            return -1;
        }
        len++;
        if (kept + 1 < sizeof(r->headers)) {
            r->headers[kept++] = c;
            r->headers[kept] = '\0';
        }
        last4 = (last4 << 8) | (unsigned char)c;
        if (last4 == 0x0d0a0d0a) {
            return 0;
        }
    }
    return -1;
}

int
h_read_resp(int fd, struct h_resp *r, int is_head, int timeout_ms)
{
    int64_t deadline = h__now_ms() + timeout_ms;
    char cl[32];
    char *end;

    r->status = 0;
    r->headers[0] = '\0';
    r->body = NULL;
    r->body_len = 0;
    if (h__read_head(fd, r, deadline) == -1 ||
        strncmp(r->headers, "HTTP/1.", 7) != 0 || r->headers[8] != ' ') {
        return -1;
    }
    r->status = (int)strtol(r->headers + 9, &end, 10);
    if (end != r->headers + 12 || r->status < 100) {
        return -1;
    }
    if (is_head || r->status < 200 || r->status == 204 || r->status == 304) {
        r->body = calloc(1, 1);
        return r->body != NULL ? 0 : -1;
    }
    if (h_header(r, "Content-Length", cl, sizeof(cl)) == NULL) {
        return -1; /* the proxy always sends it */
    }
    r->body_len = strtoul(cl, &end, 10);
    if (*end != '\0' || r->body_len > (size_t)1 << 30) {
        return -1;
    }
    r->body = malloc(r->body_len + 1);
    if (r->body == NULL ||
        h__read_exact(fd, r->body, r->body_len, deadline) == -1) {
        h_resp_free(r);
        return -1;
    }
    r->body[r->body_len] = '\0';
    return 0;
}

const char *
h_header(const struct h_resp *r, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *line = strstr(r->headers, "\r\n");

    while (line != NULL && line[2] != '\r' && line[2] != '\0') {
        const char *p = line + 2;
        const char *eol = strstr(p, "\r\n");

        if (eol == NULL) {
            eol = p + strlen(p);
        }
        if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
            strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            const char *ve = eol;
            size_t n;

            while (v < ve && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
                ve--;
            }
            n = (size_t)(ve - v);
            if (cap == 0) {
                return NULL;
            }
            n = n < cap - 1 ? n : cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
        line = *eol != '\0' ? eol : NULL;
    }
    return NULL;
}

void
h_resp_free(struct h_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

int
h_http_get(int port, const char *path, struct h_resp *r)
{
    char req[16384];
    int fd, rc = -1;
    int n;

    r->body = NULL;
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (n < 0 || (size_t)n >= sizeof(req)) {
        return -1;
    }
    fd = h_connect(port);
    if (fd == -1) {
        return -1;
    }
    if (h_send(fd, req, (size_t)n) == 0) {
        rc = h_read_resp(fd, r, 0, H_GET_MS);
    }
    close(fd);
    return rc;
}

/* ---- added: admin listener, log access ---- */

/* One attempt: three fresh ports (HTTP, RESP, admin), INI, exec, wait. */
static int
h__proxy_try_admin(struct h_proxy *p, int redis_port, const char *extra,
                   char *const args[], int *admin_port)
{
    char *argv[64], *ini_extra;
    int ports[3], argc = 0, rc;
    size_t elen = extra != NULL ? strlen(extra) : 0;

    if (h__free_ports(ports, 3) == -1) {
        return -1;
    }
    p->http_port = ports[0];
    p->resp_port = ports[1];
    *admin_port = ports[2];
    ini_extra = malloc(elen + 64);
    if (ini_extra == NULL) {
        return -1;
    }
    snprintf(ini_extra, elen + 64, "%s%s[admin]\nport = %d\n",
             extra != NULL ? extra : "",
             elen > 0 && extra[elen - 1] != '\n' ? "\n" : "", ports[2]);
    rc = h__write_ini(p, redis_port, ini_extra);
    free(ini_extra);
    if (rc == -1) {
        return -1;
    }
    argv[argc++] = (char *)h__proxy_bin();
    argv[argc++] = "-c";
    argv[argc++] = p->ini;
    for (; args != NULL && *args != NULL && argc < 63; args++) {
        argv[argc++] = *args;
    }
    argv[argc] = NULL;
    return h__launch(p->log, argv, ports, 3, &p->pid);
}

int
h_proxy_start_admin(struct h_proxy *p, int redis_port, const char *extra,
                    char *const args[], int *admin_port)
{
    char dir[200];
    int tries;

    if (h__is_child(p->pid)) { /* started twice: stop the first one */
        h__terminate(p->pid, SIGKILL);
    }
    p->pid = 0;
    if (strstr(p->ini, "/rp-e2e-proxy-") != NULL) {
        h__proxy_cleanup(p);
    }
    if (h__mkdtemp(dir, sizeof(dir), "proxy") == -1) {
        p->ini[0] = p->log[0] = '\0';
        return -1;
    }
    snprintf(p->ini, sizeof(p->ini), "%s/proxy.ini", dir);
    snprintf(p->log, sizeof(p->log), "%s/proxy.log", dir);
    for (tries = 0; tries < H_START_TRIES; tries++) {
        if (h__proxy_try_admin(p, redis_port, extra, args, admin_port) == 0) {
            return 0;
        }
        if (p->pid > 0) {
            h__terminate(p->pid, SIGKILL);
            p->pid = 0;
        }
    }
    fprintf(stderr, "harness: %s did not start; its log:\n", h__proxy_bin());
    h_proxy_dump_log(p);
    h__proxy_cleanup(p);
    return -1;
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

int
h_proxy_stop_log(struct h_proxy *p, char *buf, size_t cap)
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
    h_proxy_read_log(p, buf, cap);
    h__proxy_cleanup(p);
    return rc;
}

/* ---- added for the coherence and fault tests ---- */

int64_t
h_now_ms(void)
{
    return h__now_ms();
}

/* One attempt at starting redis-server on port with extra options. */
static int
h__redis_try_args(struct h_redis *r, int port, char *const extra[])
{
    char portstr[16], log[300];
    char *argv[64] = {
        "redis-server", "--save",      "",       "--appendonly", "no",
        "--bind",       "127.0.0.1",   "--port", portstr,        "--dir",
        r->dir,         "--daemonize", "no"};
    int argc = 13;

    for (; extra != NULL && *extra != NULL && argc < 63; extra++) {
        argv[argc++] = *extra;
    }
    argv[argc] = NULL;
    snprintf(portstr, sizeof(portstr), "%d", port);
    snprintf(log, sizeof(log), "%s/redis.log", r->dir);
    r->port = port;
    if (h__launch(log, argv, &port, 1, &r->pid) == -1) {
        return -1;
    }
    return h_redis_cmd(r, "PING");
}

int
h_redis_start_args(struct h_redis *r, int port, char *const extra[])
{
    int tries = port > 0 ? 1 : H_START_TRIES;

    if (h__is_child(r->pid)) {
        h__terminate(r->pid, SIGKILL);
    }
    r->pid = 0;
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
        if (h__redis_try_args(r, p, extra) == 0) {
            return 0;
        }
        h_redis_kill(r, 1);
    }
    fprintf(stderr, "harness: redis-server did not start on port %d\n",
            r->port);
    return -1;
}

redisContext *
h_proxy_resp_ctx(const struct h_proxy *p)
{
    struct timeval tv = {H_IO_MS / 1000, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", p->resp_port, tv);

    if (c == NULL) {
        return NULL;
    }
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        redisFree(c);
        return NULL;
    }
    return c;
}

int
h_resp_get(redisContext *c, const char *key, char *out, size_t cap)
{
    redisReply *rep = redisCommand(c, "GET %s", key);
    int rc = -1;

    if (rep == NULL) {
        snprintf(out, cap, "(no reply: %s)", c->errstr);
        return -1;
    }
    switch (rep->type) {
    case REDIS_REPLY_STRING:
        snprintf(out, cap, "%.*s", (int)rep->len, rep->str);
        rc = 1;
        break;
    case REDIS_REPLY_NIL:
        snprintf(out, cap, "(nil)");
        rc = 0;
        break;
    case REDIS_REPLY_ERROR:
        snprintf(out, cap, "%.*s", (int)rep->len, rep->str);
        rc = -1;
        break;
    default:
        snprintf(out, cap, "(reply type %d)", rep->type);
        rc = -1;
        break;
    }
    freeReplyObject(rep);
    return rc;
}

int
h_http_get_on(int fd, const char *path, struct h_resp *r, int timeout_ms)
{
    char req[1024];
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);

    r->body = NULL;
    if (n < 0 || (size_t)n >= sizeof(req) || h_send(fd, req, (size_t)n) != 0) {
        return -1;
    }
    return h_read_resp(fd, r, 0, timeout_ms);
}

/* ---- added: Prometheus text, JSON, log lines (admin and header tests) ---- */

#include <math.h>

/* Per family: the validator's state inside one HELP/TYPE block. */
struct h__prom_fam {
    int help, typed, samples;
    double le, bucket, inf, count; /* histogram: last le, its count, +Inf */
    int buckets, has_inf, has_sum, has_count;
};

struct h__prom {
    char fam[128], type[16], seen[16384], err[256];
    struct h__prom_fam f;
};

static int
h__prom_err(struct h__prom *p, const char *why, const char *l, size_t len)
{
    snprintf(p->err, sizeof(p->err), "%s: '%.*s'", why,
             (int)(len > 120 ? 120 : len), l);
    return -1;
}

/* Length of the name at s: [a-zA-Z_:][a-zA-Z0-9_:]* (no ':' for labels). */
static size_t
h__name_len(const char *s, int colon)
{
    size_t n = 0;

    while (isalpha((unsigned char)s[n]) || s[n] == '_' ||
           (colon && s[n] == ':') || (n > 0 && isdigit((unsigned char)s[n]))) {
        n++;
    }
    return n;
}

/* A whole token as a float: decimal, or +Inf, -Inf, NaN. 0 or -1. */
static int
h__number(const char *s, size_t len, double *v)
{
    char buf[64], *end;

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strcmp(buf, "+Inf") != 0 && strcmp(buf, "-Inf") != 0 &&
        strcmp(buf, "NaN") != 0 &&
        (strspn(buf, "+-.0123456789eE") != len ||
         !isdigit((unsigned char)buf[len - 1]))) {
        return -1;
    }
    *v = strtod(buf, &end);
    return *end == '\0' ? 0 : -1;
}

/* Ends the current family's block. */
static int
h__prom_end(struct h__prom *p)
{
    if (p->fam[0] != '\0' && (!p->f.help || !p->f.typed)) {
        return h__prom_err(p, "family without HELP and TYPE", p->fam, 128);
    }
    if (strcmp(p->type, "histogram") == 0 &&
        (p->f.buckets == 0 || !p->f.has_inf || !p->f.has_sum ||
         !p->f.has_count || p->f.inf != p->f.count)) {
        return h__prom_err(p, "histogram without buckets, +Inf = _count, _sum",
                           p->fam, 128);
    }
    return 0;
}

/* "# HELP name text" / "# TYPE name type"; other comments are ignored. */
static int
h__prom_comment(struct h__prom *p, const char *l, size_t len)
{
    int help = strncmp(l, "# HELP ", 7) == 0;
    size_t n = h__name_len(l + 7, 1);
    char key[132];

    if (!help && strncmp(l, "# TYPE ", 7) != 0) {
        return 0;
    }
    if (n == 0 || n > 120 || l[7 + n] != ' ') {
        return h__prom_err(p, "bad metric name", l, len);
    }
    if (strlen(p->fam) != n || memcmp(p->fam, l + 7, n) != 0) {
        if (h__prom_end(p) != 0) {
            return -1;
        }
        snprintf(key, sizeof(key), " %.*s ", (int)n, l + 7);
        if (strstr(p->seen, key) != NULL ||
            strlen(p->seen) + n + 2 >= sizeof(p->seen)) {
            return h__prom_err(p, "family declared twice", l, len);
        }
        strcat(p->seen, key);
        snprintf(p->fam, sizeof(p->fam), "%.*s", (int)n, l + 7);
        p->type[0] = '\0';
        p->f = (struct h__prom_fam){.le = -INFINITY};
    }
    if (p->f.samples > 0 || (help ? p->f.help++ : p->f.typed++) > 0) {
        return h__prom_err(p, "HELP/TYPE repeated or after samples", l, len);
    }
    if (!help) {
        snprintf(p->type, sizeof(p->type), "%.*s", (int)(len - 8 - n),
                 l + 8 + n);
        snprintf(key, sizeof(key), " %s ", p->type);
        if (p->type[0] == '\0' || strchr(p->type, ' ') != NULL ||
            strstr(" counter gauge histogram summary untyped ", key) == NULL) {
            return h__prom_err(p, "bad type", l, len);
        }
        if (strcmp(p->type, "counter") == 0 &&
            (n < 6 || strncmp(l + 7 + n - 6, "_total", 6) != 0)) {
            return h__prom_err(p, "counter not named *_total", l, len);
        }
    }
    return 0;
}

/* {name="value",...} at *s; le's value is copied out. *s ends after '}'. */
static int
h__labels(const char **s, char *le, size_t lecap, int *count)
{
    const char *q = *s + 1;

    for (*count = 0; *q != '}'; (*count)++) {
        size_t n = h__name_len(q, 0), vl = 0;
        int is_le = n == 2 && strncmp(q, "le", 2) == 0;

        if (n == 0 || q[n] != '=' || q[n + 1] != '"') {
            return -1;
        }
        for (q += n + 2; *q != '"'; q++) {
            if (*q == '\n' ||
                (*q == '\\' && (q[1] == '\0' || !strchr("\\\"n", *++q)))) {
                return -1;
            }
            if (is_le && vl + 1 < lecap) {
                le[vl++] = *q;
                le[vl] = '\0';
            }
        }
        if (q[1] != ',' && q[1] != '}') {
            return -1;
        }
        q += q[1] == ',' ? 2 : 1;
    }
    *s = q + 1;
    return 0;
}

/* Histogram rules for one sample named fam + sfx (sl bytes). */
static int
h__prom_hist(struct h__prom *p, const char *sfx, size_t sl, const char *le,
             int nl, double v)
{
    double lev;

    if (sl == 4 && strncmp(sfx, "_sum", 4) == 0) {
        p->f.has_sum = 1;
    } else if (sl == 6 && strncmp(sfx, "_count", 6) == 0) {
        p->f.has_count = 1;
        p->f.count = v;
    } else if (sl == 7 && strncmp(sfx, "_bucket", 7) == 0 && nl == 1 &&
               h__number(le, strlen(le), &lev) == 0 && !p->f.has_inf &&
               lev > p->f.le && v >= p->f.bucket) {
        p->f.le = lev;
        p->f.bucket = v;
        p->f.buckets++;
        p->f.has_inf = isinf(lev);
        p->f.inf = v;
    } else {
        return -1;
    }
    return 0;
}

/* name[{labels}] value, inside its family's block. */
static int
h__prom_sample(struct h__prom *p, const char *l, size_t len)
{
    size_t n = h__name_len(l, 1), fl = strlen(p->fam);
    const char *q = l + n;
    char le[64] = "";
    int nl = 0, hist = strcmp(p->type, "histogram") == 0;
    double v;

    if (n == 0 || (*q == '{' && h__labels(&q, le, sizeof(le), &nl) != 0)) {
        return h__prom_err(p, "bad name or labels", l, len);
    }
    if (*q != ' ' || h__number(q + 1, len - (size_t)(q + 1 - l), &v) != 0) {
        return h__prom_err(p, "bad value", l, len);
    }
    if (fl == 0 || !p->f.help || !p->f.typed || n < fl ||
        strncmp(l, p->fam, fl) != 0 || (!hist && n != fl)) {
        return h__prom_err(p, "sample outside its HELP/TYPE block", l, len);
    }
    p->f.samples++;
    if (hist && h__prom_hist(p, l + fl, n - fl, le, nl, v) != 0) {
        return h__prom_err(p, "bad histogram sample or bucket order", l, len);
    }
    return 0;
}

/* Validates a whole exposition; returns 0, or -1 with p->err. */
static int
h__prom_check(struct h__prom *p, const char *text)
{
    const char *l, *eol;

    memset(p, 0, sizeof(*p));
    if (*text == '\0' || text[strlen(text) - 1] != '\n') {
        return h__prom_err(p, "empty or no final newline", "", 0);
    }
    for (l = text; *l != '\0'; l = eol + 1) {
        size_t len;

        eol = strchr(l, '\n');
        len = (size_t)(eol - l);
        if (len == 0) {
            return h__prom_err(p, "empty line", "", 0);
        }
        if ((*l == '#' ? h__prom_comment(p, l, len)
                       : h__prom_sample(p, l, len)) != 0) {
            return -1;
        }
    }
    return h__prom_end(p);
}

double
h_prom_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    const char *s = text;

    while (s != NULL) {
        if (strncmp(s, series, n) == 0 && s[n] == ' ') {
            return strtod(s + n + 1, NULL);
        }
        s = strchr(s, '\n');
        s = s != NULL && s[1] != '\0' ? s + 1 : NULL;
    }
    return NAN;
}

int
h_json_check(const char *s)
{
    char stack[64];
    int depth = 0, done = 0;

    for (; *s != '\0'; s++) {
        if (done && strchr(" \t\r\n", *s) == NULL) {
            return -1; /* bytes after the top-level value */
        }
        if (*s == '"') {
            for (s++; *s != '"'; s++) {
                if ((unsigned char)*s < 0x20 ||
                    (*s == '\\' &&
                     (s[1] == '\0' || strchr("\"\\/bfnrtu", *++s) == NULL))) {
                    return -1;
                }
            }
        } else if (*s == '{' || *s == '[') {
            if (depth == (int)sizeof(stack)) {
                return -1;
            }
            stack[depth++] = *s == '{' ? '}' : ']';
        } else if (*s == '}' || *s == ']') {
            if (depth == 0 || stack[--depth] != *s) {
                return -1;
            }
            done = depth == 0;
        } else if (strchr(" \t\r\n,:-+.eE0123456789truefalsn", *s) == NULL) {
            return -1;
        }
    }
    return done ? 0 : -1;
}

double
h_json_num(const char *json, const char *needle)
{
    const char *p = strstr(json, needle);

    return p != NULL ? strtod(p + strlen(needle), NULL) : NAN;
}

int
h_prom_validate(const char *text, char *err, size_t cap)
{
    struct h__prom *p = malloc(sizeof(*p));
    int rc;

    if (p == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    rc = h__prom_check(p, text);
    snprintf(err, cap, "%s", rc == 0 ? "" : p->err);
    free(p);
    return rc;
}

/* The line of text holding hit, copied into out. */
static void
h__line_at(const char *text, const char *hit, char *out, size_t cap)
{
    const char *start = hit, *end = strchr(hit, '\n');

    while (start > text && start[-1] != '\n') {
        start--;
    }
    if (end == NULL) {
        end = hit + strlen(hit);
    }
    snprintf(out, cap, "%.*s", (int)(end - start), start);
}

int
h_count_lines(const char *text, const char *needle)
{
    const char *hit = text;
    int n = 0;

    while ((hit = strstr(hit, needle)) != NULL) {
        const char *eol = strchr(hit, '\n');

        n++;
        if (eol == NULL) {
            break;
        }
        hit = eol + 1;
    }
    return n;
}

const char *
h_nth_line(const char *text, const char *needle, int n, char *out, size_t cap)
{
    const char *hit = text;

    snprintf(out, cap, "(none)");
    while ((hit = strstr(hit, needle)) != NULL) {
        const char *eol = strchr(hit, '\n');

        if (n-- == 0) {
            h__line_at(text, hit, out, cap);
            break;
        }
        if (eol == NULL) {
            break;
        }
        hit = eol + 1;
    }
    return out;
}

int
h_recv_n(int fd, char *buf, size_t n, int timeout_ms)
{
    return h__read_exact(fd, buf, n, h__now_ms() + timeout_ms);
}
