/*
 * waiter_helpers: the fixture shared by the waiter unit tests
 * (test_waiter.c and test_waiter_ready.c), header-only because each
 * tests/unit/net/test_*.c is its own binary.
 *
 * Each conn is one end of a socketpair (non-blocking, as the accept loop
 * makes it) and the test plays the client on the other end, while the test
 * thread plays the worker: it attaches conns, parks them and takes them
 * back with waiter_wait(). Two kinds of conn, told apart by the waiter only
 * through their ops: HTTP (a 408 as its last word at a deadline) and RESP
 * (none). The budget's open count says how many conns are not yet
 * destroyed, so a test sees whether the waiter closed one.
 *
 * Every wait is bounded, so a broken waiter fails a test instead of
 * hanging it; the bounds are generous (a loaded 2-core machine) and only
 * ever limit how long a failure takes to show.
 */
#ifndef RP_TEST_WAITER_HELPERS_H
#define RP_TEST_WAITER_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "net/conn.h"
#include "net/waiter.h"
#include "net/workq.h"
#include "serve/http_conn.h"
#include "unit_helpers.h"

#define FAR_MS 60000 /* a deadline that never comes during a test */
#define WAIT_MS 3000 /* bound on waiting for the waiter's thread */

static const struct conn_ops http_ops = {.name = "http",
                                         .expired = http_conn_expired};
static const struct conn_ops resp_ops = {.name = "resp", .expired = NULL};
enum kind { KIND_HTTP, KIND_RESP };

struct fixture {
    struct workq *q;
    struct waiter *w;
    struct conn_budget budget; /* .open: conns not yet destroyed */
    struct conn_kind kinds[2];
};

static inline void
setup_slots(struct fixture *f, size_t slots)
{
    f->q = workq_create(256);
    cr_assert_not_null(f->q);
    f->w = waiter_create(f->q, slots);
    cr_assert_not_null(f->w);
    memset(&f->budget, 0, sizeof(f->budget));
    for (int i = 0; i < 2; i++) {
        f->kinds[i].ops = i == KIND_HTTP ? &http_ops : &resp_ops;
        f->kinds[i].ctx = NULL;
        f->kinds[i].budget = &f->budget;
        atomic_init(&f->kinds[i].idle_timeout_ms, FAR_MS);
        atomic_init(&f->kinds[i].request_timeout_ms, 1000);
        atomic_init(&f->kinds[i].send_timeout_ms, 1000);
    }
}

static inline void
setup(struct fixture *f)
{
    setup_slots(f, 256);
}

static inline void
teardown(struct fixture *f)
{
    waiter_destroy(f->w);
    workq_destroy(f->q);
}

/* A conn on one end of a fresh socketpair, not attached; *peer gets the
 * other end (blocking). */
static inline struct conn *
new_detached(struct fixture *f, enum kind kind, int *peer)
{
    return unit_conn(&f->kinds[kind], peer);
}

/* A conn attached to the waiter, owned by the test (RUNNING). */
static inline struct conn *
new_conn(struct fixture *f, enum kind kind, int *peer)
{
    struct conn *c = new_detached(f, kind, peer);

    cr_assert_eq(waiter_attach(f->w, c), 0);
    cr_assert_eq(c->attached, 1);
    return c;
}

static inline void
park(struct fixture *f, struct conn *c, int64_t deadline_ms)
{
    cr_assert_eq(waiter_park(f->w, c, deadline_ms), 0);
}

/* Takes the next ready conn as a worker does; NULL after WAIT_MS. */
static inline struct conn *
take(struct fixture *f)
{
    int64_t until = util_now_ms() + WAIT_MS;
    struct conn *c = NULL;

    while (util_now_ms() < until) {
        if (waiter_wait(f->w, &c, 1, 50) == 1) {
            return c;
        }
    }
    return NULL;
}

/* Asserts that no conn is handed to a taker within ms. */
static inline void
expect_no_take(struct fixture *f, int ms)
{
    struct conn *c[16];
    int n = waiter_wait(f->w, c, 16, ms);

    cr_assert_eq(n, 0, "%d conn(s) woke without readiness", n);
}

/* Waits for the next batch of reports (no time limit: the caller knows
 * one is due) and returns how many conns it claimed into out[0..16). */
static inline int
wait_batch(struct fixture *f, struct conn **out)
{
    return waiter_wait(f->w, out, 16, -1);
}

/* Polls until *open falls to want; returns its value. */
static inline int
wait_open(atomic_int *open, int want)
{
    int64_t until = util_now_ms() + WAIT_MS;

    while (atomic_load(open) > want && util_now_ms() < until) {
        sleep_ms(2);
    }
    return atomic_load(open);
}

/* Polls until the waiter holds n conns; returns its count. */
static inline int
wait_count(struct waiter *w, int n)
{
    int64_t until = util_now_ms() + WAIT_MS;

    while (waiter_count(w) != n && util_now_ms() < until) {
        sleep_ms(2);
    }
    return waiter_count(w);
}

#define PEER_EOF 0    /* the conn closed its end cleanly */
#define PEER_RESET -1 /* the conn closed with our bytes unread */
#define PEER_OPEN -2  /* still open when the wait ended */

/* Reads what the peer receives until the conn's end closes or timeout_ms
 * pass. Collects fewer than cap bytes into buf (*len). */
static inline int
peer_read_all(int peer, long timeout_ms, char *buf, size_t cap, size_t *len)
{
    int64_t until = util_now_ms() + timeout_ms;

    *len = 0;
    for (;;) {
        struct pollfd pfd = {.fd = peer, .events = POLLIN};
        int64_t left = until - util_now_ms();
        ssize_t n;

        if (poll(&pfd, 1, left > 0 ? (int)left : 0) == 0) {
            return PEER_OPEN;
        }
        n = recv(peer, buf + *len, cap - *len, MSG_DONTWAIT);
        if (n == 0) {
            return PEER_EOF;
        }
        if (n < 0 && errno == ECONNRESET) {
            return PEER_RESET;
        }
        if (n > 0) {
            *len += (size_t)n;
            cr_assert_lt(*len, cap, "peer got %zu bytes or more", cap);
        } else if (errno != EINTR && errno != EAGAIN) {
            cr_assert_fail("recv: %s", strerror(errno));
        }
    }
}

/* Asserts the peer sees a clean close within timeout_ms, with no bytes. */
static inline void
expect_closed_silently(int peer, long timeout_ms)
{
    char buf[256];
    size_t len;
    int rc = peer_read_all(peer, timeout_ms, buf, sizeof(buf), &len);

    cr_assert_eq(rc, PEER_EOF, "peer state %d, want EOF", rc);
    cr_assert_eq(len, 0, "peer got %zu bytes: '%.*s'", len, (int)len, buf);
}

/* Asserts nothing arrived for the peer and its connection is still open. */
static inline void
expect_peer_open(int peer)
{
    char buf[16];
    size_t len;

    cr_assert_eq(peer_read_all(peer, 0, buf, sizeof(buf), &len), PEER_OPEN);
}

static inline void
send_byte(int peer, char b)
{
    cr_assert_eq(send(peer, &b, 1, MSG_NOSIGNAL), 1);
}

/* Reads c's socket until it has nothing more; returns the bytes read. */
static inline long
drain_conn(struct conn *c)
{
    long n, got = 0;

    while ((n = conn_read(c)) > 0) {
        got += n;
        conn_consume(c, (size_t)n);
    }
    cr_assert_eq(n, CONN_IO_AGAIN, "conn_read: %ld", n);
    return got;
}

/* Parks a conn with a passed deadline and waits until a scan closes it:
 * every conn parked before this call has been looked at by a scan that
 * decided to leave it. */
static inline void
wait_for_a_scan(struct fixture *f)
{
    int open = atomic_load(&f->budget.open), peer;
    struct conn *probe = new_conn(f, KIND_RESP, &peer);

    park(f, probe, util_now_ms() - 1);
    expect_closed_silently(peer, WAIT_MS);
    cr_assert_eq(wait_open(&f->budget.open, open), open);
    close(peer);
}

#endif
