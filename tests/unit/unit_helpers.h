/*
 * unit_helpers: what unit tests of every layer share, header-only because
 * each tests/unit/<layer>/test_*.c is its own binary (the Makefile puts
 * tests/unit on every one's include path): a sleep that a signal does not
 * cut short, free ports on 127.0.0.1, a conn on one end of a socketpair,
 * and a redis-server of the test's own (plain or cluster-enabled, with
 * the test's own arguments such as --requirepass), started on one of them
 * and waited for until it answers, commands to it whose replies must be
 * no error, a reply parsed from its bytes, its command table, a bounded
 * wait for a state; and stderr captured in a file, to read the lines
 * logged (each test runs in a process of its own, so the redirection
 * stays there).
 */
#ifndef RP_TEST_UNIT_HELPERS_H
#define RP_TEST_UNIT_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "base/config.h"
#include "base/util.h"
#include "net/conn.h"
#include "upstream/commands.h"

#define UNIT_MAX_PORTS 4

/* Points stderr at a fresh temporary file (log lines written before
 * log_start go there directly); returns its path for unit_captured. */
static inline const char *
unit_capture_stderr(void)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/rp-unit-stderr-XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_geq(dup2(fd, STDERR_FILENO), 0);
    close(fd);
    return path;
}

/* What was written to the captured stderr at path (a static buffer);
 * the file is removed. */
static inline const char *
unit_captured(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n;

    cr_assert_not_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    return buf;
}

static inline void
sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Polls every 5 ms until cond holds, failing the test with the message
 * (printf-style) once ms have passed: for a state another thread or
 * process reaches (the bound only says how long a failure takes). */
#define UNIT_AWAIT(ms, cond, ...)                                              \
    do {                                                                       \
        int64_t unit_until_ = util_now_ms() + (ms);                            \
        while (!(cond)) {                                                      \
            cr_assert_lt(util_now_ms(), unit_until_, __VA_ARGS__);             \
            sleep_ms(5);                                                       \
        }                                                                      \
    } while (0)

/* n (<= UNIT_MAX_PORTS) distinct ports the kernel just handed out on
 * 127.0.0.1, never 6379. Free when this returns: another process may
 * take one before the caller binds it. */
static inline void
unit_free_ports(int *ports, int n)
{
    int fds[UNIT_MAX_PORTS];

    cr_assert_leq(n, UNIT_MAX_PORTS);
    for (int i = 0; i < n; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t sl = sizeof(sa);

        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert(fds[i] >= 0 &&
                  bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                  getsockname(fds[i], (struct sockaddr *)&sa, &sl) == 0);
        ports[i] = ntohs(sa.sin_port);
        if (ports[i] == 6379) {
            i--; /* held open, so the next one differs */
        }
    }
    for (int i = 0; i < n; i++) {
        close(fds[i]);
    }
}

static inline int
unit_free_port(void)
{
    int port;

    unit_free_ports(&port, 1);
    return port;
}

/* A conn of kind on one end of a fresh socketpair (non-blocking, as the
 * accept loop makes it), counted open in kind's budget, not attached to a
 * waiter; *peer gets the other end (blocking). */
static inline struct conn *
unit_conn(const struct conn_kind *kind, int *peer)
{
    struct conn *c;
    int sv[2];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert_eq(util_set_nonblock(sv[0]), 0);
    c = conn_create(sv[0], kind);
    cr_assert_not_null(c);
    atomic_fetch_add(&kind->budget->open, 1);
    *peer = sv[1];
    return c;
}

/* A redis-server of the test's own on 127.0.0.1. */
struct unit_redis {
    pid_t pid;         /* 0 when none runs */
    int port;          /* its client port */
    char dir[64];      /* its --dir, made for it; removed by unit_redis_stop */
    redisContext *ctx; /* a connection it answered on (not authenticated
                          when it was started with --requirepass) */
};

#define UNIT_REDIS_EXTRA_MAX 16 /* extra arguments unit_redis_start takes */

/* A connection once pid answers on port (within 5 s), or NULL if it
 * exits (its port was taken) or never does. Any reply counts: with
 * --requirepass PING gets -NOAUTH. */
static inline redisContext *
unit_redis_await(pid_t pid, int port)
{
    for (int i = 0; i < 500; i++) {
        struct timeval tv = {2, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
        redisReply *r = NULL;

        if (c != NULL && !c->err) {
            r = redisCommand(c, "PING");
            if (r != NULL) {
                freeReplyObject(r);
                return c;
            }
        }
        redisFree(c);
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            return NULL;
        }
        sleep_ms(10);
    }
    return NULL;
}

/* Where a cluster node on port keeps its nodes file. */
static inline void
unit_redis_conf(char *conf, size_t cap, const char *dir, int port)
{
    snprintf(conf, cap, "%s/nodes-%d.conf", dir, port);
}

/* Runs redis-server in a child that dies with the test: nothing saved,
 * in cluster mode its bus on bus and its nodes file in dir, then the
 * arguments in extra (NULL-terminated; NULL for none). */
static inline pid_t
unit_redis_spawn(const char *dir, int port, int cluster, int bus,
                 const char *const *extra)
{
    const char *argv[UNIT_REDIS_EXTRA_MAX + 20];
    char p[16], b[16], conf[128];
    int argc = 0;
    pid_t pid;

    snprintf(p, sizeof(p), "%d", port);
    snprintf(b, sizeof(b), "%d", bus);
    unit_redis_conf(conf, sizeof(conf), dir, port);
    argv[argc++] = "redis-server";
    argv[argc++] = "--port";
    argv[argc++] = p;
    argv[argc++] = "--bind";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "--save";
    argv[argc++] = "";
    argv[argc++] = "--appendonly";
    argv[argc++] = "no";
    argv[argc++] = "--dir";
    argv[argc++] = dir;
    if (cluster) {
        argv[argc++] = "--cluster-enabled";
        argv[argc++] = "yes";
        argv[argc++] = "--cluster-port";
        argv[argc++] = b;
        argv[argc++] = "--cluster-config-file";
        argv[argc++] = conf;
    }
    for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
        cr_assert_lt(i, UNIT_REDIS_EXTRA_MAX);
        argv[argc++] = extra[i];
    }
    argv[argc] = NULL;
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid > 0) {
        return pid;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (freopen("/dev/null", "w", stdout) == NULL) {
        _exit(126);
    }
    execvp("redis-server", (char *const *)argv);
    _exit(127);
}

/*
 * Starts a redis-server (cluster: cluster-enabled, one node, no slots;
 * extra: more arguments, NULL-terminated, or NULL) on a free port and
 * waits until it answers, trying up to three ports when one is taken
 * meanwhile; fails the test when it does not start. Stop it with
 * unit_redis_stop.
 */
static inline void
unit_redis_start(struct unit_redis *r, int cluster, const char *const *extra)
{
    char conf[128];

    r->pid = 0;
    r->ctx = NULL;
    snprintf(r->dir, sizeof(r->dir), "/tmp/rp-unit-redis-XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir));
    for (int tries = 0; tries < 3; tries++) {
        int ports[2];
        pid_t pid;

        unit_free_ports(ports, 2);
        pid = unit_redis_spawn(r->dir, ports[0], cluster, ports[1], extra);
        if ((r->ctx = unit_redis_await(pid, ports[0])) != NULL) {
            r->pid = pid;
            r->port = ports[0];
            return;
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        unit_redis_conf(conf, sizeof(conf), r->dir, ports[0]);
        unlink(conf);
    }
    cr_assert_fail("redis-server did not start (is it installed?)");
}

/* Kills and reaps the server, closes ctx, removes dir and what the server
 * left there (its nodes file; the RDB a replica received). Safe on a
 * server that did not start. */
static inline void
unit_redis_stop(struct unit_redis *r)
{
    char conf[128], rdb[80];

    if (r->ctx != NULL) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
    unit_redis_conf(conf, sizeof(conf), r->dir, r->port);
    unlink(conf);
    snprintf(rdb, sizeof(rdb), "%s/dump.rdb", r->dir);
    unlink(rdb);
    rmdir(r->dir);
}

/* A command (hiredis's format) on c whose reply must be no error; free
 * the reply with freeReplyObject. */
static inline redisReply *
unit_redis_vcmd(redisContext *c, const char *fmt, va_list ap)
{
    redisReply *r = redisvCommand(c, fmt, ap);

    cr_assert_not_null(r, "%s: %s", fmt, c->errstr);
    cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s: %s", fmt, r->str);
    return r;
}

static inline redisReply *
unit_redis_cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = unit_redis_vcmd(c, fmt, ap);
    va_end(ap);
    return r;
}

/* The same, the reply dropped. */
static inline void
unit_redis_ok(redisContext *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    freeReplyObject(unit_redis_vcmd(c, fmt, ap));
    va_end(ap);
}

/* The reply object hiredis's reader makes of the bytes resp (a whole
 * reply); free it with freeReplyObject. */
static inline redisReply *
unit_reply_of(const char *resp)
{
    redisReader *rd = redisReaderCreate();
    void *r = NULL;

    cr_assert_not_null(rd);
    cr_assert_eq(redisReaderFeed(rd, resp, strlen(resp)), REDIS_OK);
    cr_assert_eq(redisReaderGetReply(rd, &r), REDIS_OK);
    cr_assert_not_null(r, "incomplete: %s", resp);
    redisReaderFree(rd);
    return r;
}

/* The command table of r's server, read with COMMAND on a connection of
 * its own (timeouts 1 s); fails the test when it cannot be. Free it with
 * commands_destroy. */
static inline struct commands *
unit_redis_commands(const struct unit_redis *r)
{
    static struct config cfg;
    static struct config_ref ref;
    struct redis_target t;
    struct commands *cmds;
    char err[REDIS_ERR_MAX];
    long n;

    config_defaults(&cfg);
    atomic_init(&ref.cur, &cfg);
    t = (struct redis_target){.host = "127.0.0.1",
                              .port = r->port,
                              .user = "",
                              .password = "",
                              .cfg = &ref};
    cmds = commands_create();
    cr_assert_not_null(cmds);
    n = commands_load(cmds, &t, err);
    cr_assert_gt(n, 200, "commands_load: %ld (%s)", n, n < 0 ? err : "");
    return cmds;
}

/* A suite's own redis-server, its command table and that table acquired
 * (a suite's .init); unit_table_down releases and stops them (its .fini). */
static inline void
unit_table_up(struct unit_redis *server, struct commands **cmds,
              const struct cmd_table **table)
{
    unit_redis_start(server, 0, NULL);
    *cmds = unit_redis_commands(server);
    *table = commands_acquire(*cmds);
}

static inline void
unit_table_down(struct unit_redis *server, struct commands *cmds)
{
    if (cmds != NULL) {
        commands_release(cmds);
        commands_destroy(cmds);
    }
    unit_redis_stop(server);
}

#endif
