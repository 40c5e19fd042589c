/*
 * redis_server: a redis-server of the test's own on a free loopback port
 * (never 6379), shared by the upstream unit tests; header-only because
 * each tests/unit/upstream/test_*.c is its own binary.
 *
 * rs_start forks redis-server with the arguments every test wants (no
 * persistence, bound to 127.0.0.1) plus the test's own, and returns once
 * it answers (any reply: with --requirepass PING gets -NOAUTH); a port
 * taken in between is retried on another. The child dies with the test
 * (PR_SET_PDEATHSIG), and rs_stop kills and reaps it.
 */
#ifndef RP_TEST_REDIS_SERVER_H
#define RP_TEST_REDIS_SERVER_H

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define RS_MAX_ARGS 16

/* A port the kernel just handed out on 127.0.0.1 (never 6379), or -1. */
static int
rs_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
        port = ntohs(sa.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port == 6379 ? -1 : port;
}

/* 1 once redis-server answers on port (within 5 s), 0 if it exits or
 * never does. */
static int
rs_await(pid_t pid, int port)
{
    for (int i = 0; i < 500; i++) {
        struct timeval tv = {0, 200000};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
        redisReply *r = NULL;
        int ok = 0;

        if (c != NULL && !c->err) {
            r = redisCommand(c, "PING");
            ok = r != NULL;
        }
        freeReplyObject(r);
        redisFree(c);
        if (ok) {
            return 1;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            return 0; /* it died: the port was taken */
        }
        usleep(10000);
    }
    return 0;
}

/* Starts redis-server with the arguments in extra (NULL-terminated; NULL
 * for none). Returns its pid and sets *port. */
static pid_t
rs_start(const char *const *extra, int *port)
{
    for (int tries = 0; tries < 3; tries++) {
        const char *argv[RS_MAX_ARGS + 12] = {
            "redis-server", "--port", NULL,  "--bind",
            "127.0.0.1",    "--save", "",    "--appendonly",
            "no",           "--dir",  "/tmp"};
        char portbuf[16];
        int argc = 11;
        pid_t pid;

        *port = rs_free_port();
        cr_assert_gt(*port, 0);
        snprintf(portbuf, sizeof(portbuf), "%d", *port);
        argv[2] = portbuf;
        for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
            cr_assert_lt(i, RS_MAX_ARGS);
            argv[argc++] = extra[i];
        }
        argv[argc] = NULL;
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (freopen("/dev/null", "w", stdout) == NULL) {
                _exit(126);
            }
            execvp("redis-server", (char *const *)argv);
            _exit(127);
        }
        if (rs_await(pid, *port)) {
            return pid;
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    cr_assert_fail("redis-server did not start (is it installed?)");
    return -1;
}

/* Kills and reaps a server rs_start started; pid <= 0 is a no-op. */
static void
rs_stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

#endif
