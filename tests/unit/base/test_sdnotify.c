/*
 * Unit tests for sdnotify: each test owns an AF_UNIX datagram socket (a
 * path under a fresh temp dir, or an abstract name unique to the test
 * process), points $NOTIFY_SOCKET at it and reads exactly what arrives:
 * one datagram per report, its bytes, its sender's credentials (how the
 * service manager attributes it), nothing else. Without $NOTIFY_SOCKET, or
 * with one nobody listens on, a report is a no-op that returns 0 or -1.
 * Criterion runs each test in its own process, so setenv is private to it.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sdnotify.h"
#include "base/util.h"

static char dir[64];  /* temp dir of a path socket, "" when none */
static char path[96]; /* the path socket in it */
static int rx = -1;   /* the socket the test reads */

static void
teardown(void)
{
    if (rx >= 0) {
        close(rx);
        rx = -1;
    }
    if (path[0] != '\0') {
        unlink(path);
        path[0] = '\0';
    }
    if (dir[0] != '\0') {
        rmdir(dir);
        dir[0] = '\0';
    }
}

/* The failures these tests provoke would each log a warning. */
static void
setup(void)
{
    log_set_level(CONFIG_LOG_ERROR);
}

TestSuite(sdnotify, .init = setup, .fini = teardown, .timeout = 10);

/* Binds rx to a fresh path and points $NOTIFY_SOCKET at it. */
static void
listen_on_path(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    snprintf(dir, sizeof(dir), "/tmp/rp-sdnotify-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/notify", dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(rx, 0);
    cr_assert_eq(bind(rx, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s",
                 strerror(errno));
    cr_assert_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
}

/* Binds rx to the abstract name "\0rp-sdnotify-<pid>" and sets
 * $NOTIFY_SOCKET to "@rp-sdnotify-<pid>". */
static void
listen_on_abstract(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char name[64];
    int n = snprintf(name, sizeof(name), "rp-sdnotify-%d", (int)getpid());
    socklen_t len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    char env[66];

    memcpy(sa.sun_path + 1, name, (size_t)n);
    rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(rx, 0);
    cr_assert_eq(bind(rx, (struct sockaddr *)&sa, len), 0, "%s",
                 strerror(errno));
    snprintf(env, sizeof(env), "@%s", name);
    cr_assert_eq(setenv("NOTIFY_SOCKET", env, 1), 0);
}

/* Reads one datagram (waiting up to 2 s) into buf, NUL-terminated; returns
 * its length, or -1 when none came. */
static ssize_t
recv_one(char *buf, size_t cap)
{
    struct pollfd p = {.fd = rx, .events = POLLIN};
    ssize_t n;

    if (poll(&p, 1, 2000) != 1) {
        return -1;
    }
    n = recv(rx, buf, cap - 1, MSG_DONTWAIT);
    if (n >= 0) {
        buf[n] = '\0';
    }
    return n;
}

/* 1 when a datagram is waiting on rx. */
static int
pending(void)
{
    char c;

    return recv(rx, &c, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
}

/* The lowest free descriptor number now. */
static int
lowest_free_fd(void)
{
    int fd = dup(0);

    cr_assert_geq(fd, 0);
    close(fd);
    return fd;
}

Test(sdnotify, does_nothing_without_notify_socket)
{
    int fd = lowest_free_fd();

    cr_assert_eq(unsetenv("NOTIFY_SOCKET"), 0);
    cr_assert_eq(sdnotify("READY=1"), 0);
    cr_assert_eq(sdnotify_reloading(), 0);
    cr_assert_eq(setenv("NOTIFY_SOCKET", "", 1), 0);
    cr_assert_eq(sdnotify("STOPPING=1"), 0);
    cr_assert_eq(lowest_free_fd(), fd);
}

Test(sdnotify, sends_one_datagram_to_a_path_socket)
{
    char buf[256];

    listen_on_path();
    cr_assert_eq(sdnotify("READY=1"), 1);
    cr_assert_eq(recv_one(buf, sizeof(buf)), 7);
    cr_assert_str_eq(buf, "READY=1");
    cr_assert_eq(pending(), 0, "one report is one datagram");
}

Test(sdnotify, sends_one_datagram_to_an_abstract_socket)
{
    char buf[256];

    listen_on_abstract();
    cr_assert_eq(sdnotify("STOPPING=1"), 1);
    cr_assert_eq(recv_one(buf, sizeof(buf)), 10);
    cr_assert_str_eq(buf, "STOPPING=1");
    cr_assert_eq(pending(), 0);
}

Test(sdnotify, keeps_several_assignments_in_one_datagram)
{
    char buf[256];

    listen_on_path();
    cr_assert_eq(sdnotify("READY=1\nSTATUS=serving"), 1);
    cr_assert_eq(recv_one(buf, sizeof(buf)), 22);
    cr_assert_str_eq(buf, "READY=1\nSTATUS=serving");
    cr_assert_eq(sdnotifyf("STATUS=reload failed: %s:%d", "proxy.ini", 7), 1);
    recv_one(buf, sizeof(buf));
    cr_assert_str_eq(buf, "STATUS=reload failed: proxy.ini:7");
    cr_assert_eq(pending(), 0);
}

Test(sdnotify, reports_come_in_the_order_sent)
{
    static const char *const msgs[] = {"READY=1", "STATUS=a", "STOPPING=1"};
    char buf[256];

    listen_on_abstract();
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(sdnotify(msgs[i]), 1);
    }
    for (size_t i = 0; i < 3; i++) {
        cr_assert_geq(recv_one(buf, sizeof(buf)), 0);
        cr_assert_str_eq(buf, msgs[i]);
    }
}

/* systemd attributes a report to a process through SCM_CREDENTIALS, which
 * the kernel attaches for a receiver with SO_PASSCRED. */
Test(sdnotify, the_sender_is_this_process)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } ctl;
    char data[64];
    struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = ctl.buf,
                        .msg_controllen = sizeof(ctl.buf)};
    struct ucred cred;
    struct cmsghdr *c;
    int on = 1;

    listen_on_path();
    cr_assert_eq(setsockopt(rx, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);
    cr_assert_eq(sdnotify("READY=1"), 1);
    cr_assert_eq(recvmsg(rx, &mh, MSG_DONTWAIT), 7);
    c = CMSG_FIRSTHDR(&mh);
    cr_assert_not_null(c);
    cr_assert_eq(c->cmsg_level, SOL_SOCKET);
    cr_assert_eq(c->cmsg_type, SCM_CREDENTIALS);
    memcpy(&cred, CMSG_DATA(c), sizeof(cred));
    cr_assert_eq(cred.pid, getpid());
    cr_assert_eq(cred.uid, getuid());
}

Test(sdnotify, reloading_carries_the_monotonic_clock)
{
    char buf[256], *end;
    int64_t before, after;
    long long usec;
    const char *prefix = "RELOADING=1\nMONOTONIC_USEC=";

    listen_on_path();
    before = util_now_us();
    cr_assert_eq(sdnotify_reloading(), 1);
    after = util_now_us();
    cr_assert_gt(recv_one(buf, sizeof(buf)), 0);
    cr_assert_eq(strncmp(buf, prefix, strlen(prefix)), 0, "got '%s'", buf);
    errno = 0;
    usec = strtoll(buf + strlen(prefix), &end, 10);
    cr_assert_eq(errno, 0);
    cr_assert_neq(end, buf + strlen(prefix), "digits expected: '%s'", buf);
    cr_assert_eq(*end, '\0', "nothing after the number: '%s'", buf);
    cr_assert(usec >= before && usec <= after,
              "MONOTONIC_USEC=%lld outside [%" PRId64 ", %" PRId64 "]", usec,
              before, after);
}

Test(sdnotify, refuses_a_report_over_the_limit_and_sends_nothing)
{
    static char big[SDNOTIFY_MSG_MAX + 2];

    listen_on_path();
    memset(big, 'x', sizeof(big) - 1);
    memcpy(big, "STATUS=", 7);
    errno = 0;
    cr_assert_eq(sdnotify(big), -1);
    cr_assert_eq(errno, EMSGSIZE);
    errno = 0;
    cr_assert_eq(sdnotifyf("%s", big), -1);
    cr_assert_eq(errno, EMSGSIZE);
    big[SDNOTIFY_MSG_MAX] = '\0'; /* exactly the limit: sent */
    cr_assert_eq(sdnotify(big), 1);
    cr_assert_eq(pending(), 1);
}

/* Each case: the return, errno, and no descriptor left behind. */
static void
expect_unreachable(const char *value, int want_errno)
{
    int fd = lowest_free_fd();

    cr_assert_eq(setenv("NOTIFY_SOCKET", value, 1), 0);
    errno = 0;
    cr_assert_eq(sdnotify("READY=1"), -1, "NOTIFY_SOCKET=%s", value);
    cr_assert_eq(errno, want_errno, "NOTIFY_SOCKET=%s: errno %d (%s)", value,
                 errno, strerror(errno));
    cr_assert_eq(lowest_free_fd(), fd, "NOTIFY_SOCKET=%s leaked an fd", value);
}

Test(sdnotify, an_unreachable_socket_only_fails_the_call)
{
    char longpath[200];

    expect_unreachable("/nonexistent/rp-sdnotify/notify", ENOENT);
    expect_unreachable("@rp-sdnotify-nobody-listens-here", ECONNREFUSED);
    expect_unreachable("relative/notify", EAFNOSUPPORT);
    expect_unreachable("vsock:2:1234", EAFNOSUPPORT);
    expect_unreachable("@", EINVAL);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    expect_unreachable(longpath, ENAMETOOLONG);
}

/* A socket of another type at the path: the datagram cannot be delivered. */
Test(sdnotify, a_stream_socket_at_the_path_is_refused)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    snprintf(dir, sizeof(dir), "/tmp/rp-sdnotify-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/notify", dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    rx = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(bind(rx, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(rx, 1), 0);
    expect_unreachable(path, EPROTOTYPE);
}

Test(sdnotify, leaves_no_descriptor_open)
{
    int fd;

    listen_on_path();
    fd = lowest_free_fd();
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(sdnotify("STATUS=x"), 1);
        char buf[16];
        cr_assert_eq(recv_one(buf, sizeof(buf)), 8);
    }
    cr_assert_eq(lowest_free_fd(), fd);
}

/* A manager that stops reading costs a report at most about a second. */
Test(sdnotify, a_full_socket_fails_the_call_after_a_bounded_wait)
{
    int64_t start = 0, took = 0;
    int i, rc = 1;

    listen_on_path();
    for (i = 0; i < 10000 && rc == 1; i++) {
        start = util_now_ms();
        rc = sdnotify("STATUS=filling");
        took = util_now_ms() - start;
    }
    cr_assert_eq(rc, -1, "the socket never filled");
    cr_assert_eq(errno, EAGAIN, "errno %d (%s)", errno, strerror(errno));
    cr_assert_geq(took, 900, "gave up after %" PRId64 " ms", took);
    cr_assert_lt(took, 5000, "waited %" PRId64 " ms", took);
    cr_assert_eq(pending(), 1, "what was sent before is still there");
}
