/*
 * echo_helpers: what the accept loop's and the workers' unit tests share
 * (test_listener.c, test_worker.c); header-only because each
 * tests/unit/net/test_*.c is its own binary.
 *
 * The net layer is protocol-blind: a listener's conns carry a conn_ops
 * table and nothing else. So these tests give it a protocol of their own,
 * a line echo: every complete line "x\n" buffered is answered "+x\r\n"
 * (consumed, as a protocol parses in place), "QUIT" is answered "+BYE"
 * and closes the conn once that is sent, and "WAIT" holds its worker
 * until a "GO" is served on another conn (so a test can show a second
 * worker serving while the first is busy). Its busy reply is the canned
 * HTTP 503 (proto/http_out.h), as the data port's.
 *
 * Real sockets throughout: a listening socket on a free loopback port,
 * the accept loop (listener_run) on a thread of the test's, stopped
 * through its stop eventfd, and blocking clients with bounded reads.
 */
#ifndef RP_TEST_ECHO_HELPERS_H
#define RP_TEST_ECHO_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "base/util.h"
#include "net/conn.h"
#include "net/listener.h"
#include "net/worker.h"
#include "net/workq.h"
#include "proto/http_out.h"
#include "unit_helpers.h"

#define ECHO_WAIT_MS 5000 /* bound on every wait for the other side */

/* ---- the line-echo protocol ---- */

/* What the protocol saw, for the tests (every worker thread). */
struct echo_seen {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int go;              /* a GO was served; lock */
    int waiting;         /* a WAIT is holding its worker; lock */
    long lines;          /* lines answered; lock */
    unsigned workers;    /* bit i: worker i answered a line; lock */
    unsigned wait_index; /* the worker that served WAIT; lock */
    unsigned go_index;   /* the worker that served GO; lock */
};

static struct echo_seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static inline void
echo_init(void)
{
    cr_assert_eq(util_cond_init(&seen.cv), 0);
    seen.go = seen.waiting = 0;
    seen.lines = 0;
    seen.workers = 0;
}

/* A WAIT: holds this worker until a GO is served (bounded). */
static inline void
echo_wait(void)
{
    struct timespec until = util_deadline(util_now_ms() + ECHO_WAIT_MS);

    pthread_mutex_lock(&seen.lock);
    seen.waiting = 1;
    seen.wait_index = worker_index();
    while (!seen.go &&
           pthread_cond_timedwait(&seen.cv, &seen.lock, &until) == 0) {
    }
    seen.waiting = 0;
    pthread_mutex_unlock(&seen.lock);
}

static inline void
echo_go(void)
{
    pthread_mutex_lock(&seen.lock);
    seen.go = 1;
    seen.go_index = worker_index();
    pthread_cond_broadcast(&seen.cv);
    pthread_mutex_unlock(&seen.lock);
}

/* conn_ops.serve: every complete line, answered in order. */
static inline int
echo_serve(struct conn *c)
{
    while (!conn_out_full(c)) {
        const char *p = c->rbuf + c->rpos;
        size_t avail = c->rlen - c->rpos;
        const char *nl = memchr(p, '\n', avail);
        size_t len;

        if (nl == NULL) {
            c->req_start_ms =
                avail > 0
                    ? (c->req_start_ms != 0 ? c->req_start_ms : util_now_ms())
                    : 0;
            return 0;
        }
        len = (size_t)(nl - p);
        if (len == 4 && memcmp(p, "WAIT", 4) == 0) {
            echo_wait();
        } else if (len == 2 && memcmp(p, "GO", 2) == 0) {
            echo_go();
        }
        pthread_mutex_lock(&seen.lock);
        seen.lines++;
        seen.workers |= 1u << worker_index();
        pthread_mutex_unlock(&seen.lock);
        if (len == 4 && memcmp(p, "QUIT", 4) == 0) {
            conn_consume(c, len + 1);
            conn_write_buf(c, "+BYE\r\n", 6);
            return -1;
        }
        if (conn_write_buf(c, "+", 1) < 0 || conn_write_buf(c, p, len) < 0 ||
            conn_write_buf(c, "\r\n", 2) < 0) {
            return -1;
        }
        conn_consume(c, len + 1);
        c->req_start_ms = 0;
    }
    return 0;
}

static inline size_t
echo_busy(char *out, size_t cap)
{
    return http_canned(out, cap, 503);
}

static const struct conn_ops echo_ops = {
    .name = "echo", .serve = echo_serve, .busy = echo_busy};

/* ---- the listener and its kind ---- */

struct echo_fixture {
    struct conn_budget budget;
    struct conn_kind kind;
    struct listener l;
    int port;
    int stopfd;
    struct workq *q;
    pthread_t thread;
    int running; /* the accept loop runs on thread */
    int rc;      /* what listener_run returned */
};

static struct echo_fixture ef;

/* A listening socket on a free loopback port for the echo kind, at most
 * max_clients conns (reuse: idle ones make room), and the queue. */
static inline void
echo_listen(int max_clients, int reuse)
{
    char err[256];

    echo_init();
    conn_budget_init(&ef.budget, max_clients, reuse);
    memset(&ef.kind, 0, sizeof(ef.kind));
    ef.kind.ops = &echo_ops;
    ef.kind.budget = &ef.budget;
    atomic_init(&ef.kind.idle_timeout_ms, 60000);
    atomic_init(&ef.kind.request_timeout_ms, 60000);
    atomic_init(&ef.kind.send_timeout_ms, 60000);
    for (int tries = 0;; tries++) {
        struct sockaddr_in sa;
        socklen_t sl = sizeof(sa);

        ef.port = unit_free_port();
        ef.l.fd = listener_open("127.0.0.1", ef.port, err, sizeof(err));
        if (ef.l.fd >= 0) {
            cr_assert_eq(getsockname(ef.l.fd, (struct sockaddr *)&sa, &sl), 0);
            cr_assert_eq(ntohs(sa.sin_port), ef.port);
            break;
        }
        cr_assert_lt(tries, 3, "%s", err);
    }
    ef.l.kind = &ef.kind;
    ef.stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    cr_assert_geq(ef.stopfd, 0);
    ef.q = workq_create(64);
    cr_assert_not_null(ef.q);
    ef.running = 0;
}

static inline void *
echo_accept_loop(void *arg)
{
    (void)arg;
    ef.rc = listener_run(&ef.l, 1, ef.q, ef.stopfd);
    return NULL;
}

/* Runs the accept loop on a thread of its own. */
static inline void
echo_accept_start(void)
{
    cr_assert_eq(pthread_create(&ef.thread, NULL, echo_accept_loop, NULL), 0);
    ef.running = 1;
}

/* Stops the accept loop (its stop fd), joins it; returns what it
 * returned. */
static inline int
echo_accept_stop(void)
{
    uint64_t one = 1;

    if (!ef.running) {
        return 0;
    }
    cr_assert_eq(write(ef.stopfd, &one, sizeof(one)), (ssize_t)sizeof(one));
    pthread_join(ef.thread, NULL);
    ef.running = 0;
    return ef.rc;
}

/* Destroys what is still queued, then the queue, the listener, the
 * budget. */
static inline void
echo_close(void)
{
    void *item;

    echo_accept_stop();
    workq_shutdown(ef.q);
    while (workq_trypop(ef.q, &item) == WORKQ_OK) {
        conn_destroy(item);
    }
    workq_destroy(ef.q);
    close(ef.l.fd);
    close(ef.stopfd);
    conn_budget_deinit(&ef.budget);
}

/* ---- clients ---- */

/* A blocking client connected to the listener. */
static inline int
client(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)ef.port);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s",
                 strerror(errno));
    return fd;
}

static inline void
client_send(int fd, const char *s)
{
    size_t len = strlen(s), sent = 0;

    while (sent < len) {
        ssize_t n = send(fd, s + sent, len - sent, MSG_NOSIGNAL);

        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        sent += (size_t)n;
    }
}

/* Reads up to cap bytes until want bytes came, EOF, or ECHO_WAIT_MS;
 * returns how many (-errno on an error such as a reset). */
static inline ssize_t
client_read(int fd, char *buf, size_t cap, size_t want)
{
    int64_t until = util_now_ms() + ECHO_WAIT_MS;
    size_t got = 0;

    while (got < want && got < cap) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t left = until - util_now_ms();
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, (int)left) != 1) {
            break;
        }
        n = recv(fd, buf + got, cap - got, 0);
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Reads exactly what want says, and checks it. */
static inline void
client_expect(int fd, const char *want)
{
    char buf[4096];
    size_t len = strlen(want);
    ssize_t n;

    cr_assert_lt(len, sizeof(buf));
    n = client_read(fd, buf, len, len);
    cr_assert_eq(n, (ssize_t)len, "got %zd of %zu bytes: %.*s", n, len,
                 n > 0 ? (int)n : 0, buf);
    cr_assert_arr_eq(buf, want, len, "got %.*s, want %s", (int)n, buf, want);
}

/* The peer closed (an orderly FIN, not a reset) with nothing more sent. */
static inline void
client_expect_eof(int fd)
{
    char c;
    ssize_t n = client_read(fd, &c, 1, 1);

    cr_assert_eq(n, 0, "%zd (bytes, or -errno) rather than EOF", n);
}

/* The busy reply: the canned 503, whatever its Date. */
static inline void
client_expect_busy(int fd)
{
    char want[512], got[512];
    size_t len = http_canned(want, sizeof(want), 503);
    ssize_t n = client_read(fd, got, sizeof(got), len);
    const char *date = strstr(want, "Date: ");

    cr_assert_eq(n, (ssize_t)len, "got %zd of %zu bytes", n, len);
    cr_assert_not_null(date);
    date += 6;
    /* Everything but the Date byte for byte; the Date is one. */
    memcpy(got + (date - want), date, HTTP_DATE_LEN);
    cr_assert_arr_eq(got, want, len, "got %.*s", (int)n, got);
}

#endif
