/*
 * Unit tests for waiter, over real sockets and a real work queue: each conn
 * is one end of a socketpair (non-blocking, as the accept loop makes it) and
 * the test plays the client on the other end, while the test thread plays
 * the worker with waiter_take(). Covered: a readable conn, or one whose
 * peer hung up, is handed to a taker exactly once; a re-parked conn wakes
 * again; a queued item wakes a taker; an idle conn is closed at (never
 * before) its deadline, silently or with "408 Request Timeout" for an HTTP
 * conn holding a partial request; waiter_count; waiter_stop hands conns
 * with input to the queue, closes the rest and refuses later parks, and
 * the reports epoll still holds for them are dropped; waiter_destroy closes
 * every parked conn; a socket epoll cannot watch is handed back; input
 * that arrived before a deadline while no worker was free is queued, not
 * dropped; and four taker threads racing over 32 conns each get every
 * readable conn exactly once, with no wake-up lost.
 *
 * The waiter's thread scans deadlines every 100 ms, so the test waits for
 * its effects with bounded polls (a few ms apart, up to a second or two).
 * Nothing asserts how fast it is, only what it did, and for deadlines that
 * it did not act early.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/conn.h"
#include "serve/http_conn.h"
#include "base/util.h"
#include "net/waiter.h"
#include "net/workq.h"

#define FAR_MS 60000 /* a deadline that never comes during a test */
#define WAIT_MS 2000 /* bound on waiting for the waiter thread */

static const char status_408[] = "HTTP/1.1 408 Request Timeout\r\n";

/* The two kinds of conn the waiter must tell apart only through their
 * ops: one with a last word at its deadline (HTTP's 408), one without. */
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

static void
setup(struct fixture *f)
{
    f->q = workq_create(256);
    cr_assert_not_null(f->q);
    f->w = waiter_create(f->q, 256);
    cr_assert_not_null(f->w);
    memset(&f->budget, 0, sizeof(f->budget));
    for (int i = 0; i < 2; i++) {
        f->kinds[i].ops = i == KIND_HTTP ? &http_ops : &resp_ops;
        f->kinds[i].ctx = NULL;
        f->kinds[i].budget = &f->budget;
        atomic_init(&f->kinds[i].idle_timeout_ms, FAR_MS);
        atomic_init(&f->kinds[i].request_timeout_ms, 1000);
    }
}

static void
teardown(struct fixture *f)
{
    waiter_destroy(f->w);
    workq_destroy(f->q);
}

/* Creates a conn on one end of a fresh socketpair; *peer gets the other. */
static struct conn *
new_conn(struct fixture *f, enum kind kind, int *peer)
{
    struct conn *c;
    int sv[2];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert_eq(util_set_nonblock(sv[0]), 0);
    c = conn_create(sv[0], &f->kinds[kind]);
    cr_assert_not_null(c);
    atomic_fetch_add(&f->budget.open, 1);
    *peer = sv[1];
    return c;
}

static void
park(struct fixture *f, struct conn *c, int64_t deadline_ms)
{
    cr_assert_eq(waiter_park(f->w, c, deadline_ms), 0);
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Takes the next readable conn as a worker does; NULL after WAIT_MS. */
static struct conn *
take(struct fixture *f)
{
    int64_t until = util_now_ms() + WAIT_MS;
    struct conn *c = NULL;

    while (c == NULL && util_now_ms() < until) {
        c = waiter_take(f->w, 50);
    }
    return c;
}

/* Asserts that no conn is handed to a taker within ms. */
static void
expect_no_take(struct fixture *f, int ms)
{
    struct conn *c = waiter_take(f->w, ms);

    cr_assert_null(c, "a conn woke without input");
}

/* Polls until *open falls to want; returns its value. */
static int
wait_open(atomic_int *open, int want)
{
    int64_t until = util_now_ms() + WAIT_MS;

    while (atomic_load(open) > want && util_now_ms() < until) {
        sleep_ms(2);
    }
    return atomic_load(open);
}

/* Polls until the waiter holds n conns; returns its count. */
static int
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
 * pass. Collects at most cap bytes into buf (*len). */
static int
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
            cr_assert_lt(*len, cap, "peer got more than %zu bytes", cap);
        } else if (errno != EINTR && errno != EAGAIN) {
            cr_assert_fail("recv: %s", strerror(errno));
        }
    }
}

/* Asserts the peer sees a clean close within timeout_ms, with no bytes. */
static void
expect_closed_silently(int peer, long timeout_ms)
{
    char buf[256];
    size_t len;
    int rc = peer_read_all(peer, timeout_ms, buf, sizeof(buf), &len);

    cr_assert_eq(rc, PEER_EOF, "peer state %d, want EOF", rc);
    cr_assert_eq(len, 0, "peer got %zu bytes: '%.*s'", len, (int)len, buf);
}

/* Asserts nothing arrived for the peer and its connection is still open. */
static void
expect_peer_open(int peer)
{
    char buf[16];
    size_t len;

    cr_assert_eq(peer_read_all(peer, 0, buf, sizeof(buf), &len), PEER_OPEN);
}

static void
send_byte(int peer, char b)
{
    cr_assert_eq(send(peer, &b, 1, MSG_NOSIGNAL), 1);
}

/* ---- lifecycle ---- */

Test(waiter, destroy_of_null_does_nothing)
{
    waiter_destroy(NULL);
}

Test(waiter, new_waiter_holds_nothing)
{
    struct fixture f;

    setup(&f);
    cr_assert_eq(waiter_count(f.w), 0);
    teardown(&f);
}

/* ---- waking ---- */

Test(waiter, idle_conn_stays_parked_until_its_deadline)
{
    struct fixture f;
    struct conn *c;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() + FAR_MS);
    cr_assert_eq(waiter_count(f.w), 1);
    sleep_ms(250); /* two deadline scans */
    cr_assert_eq(waiter_count(f.w), 1);
    cr_assert_eq(workq_depth(f.q), 0);
    cr_assert_eq(atomic_load(&f.budget.open), 1);
    expect_peer_open(peer);
    teardown(&f);
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    close(peer);
}

Test(waiter, readable_conn_is_handed_to_a_taker)
{
    struct fixture f;
    struct conn *c;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() + FAR_MS);
    expect_no_take(&f, 50);
    send_byte(peer, 'x');
    cr_assert_eq(take(&f), c, "the conn was never handed over");
    expect_no_take(&f, 50);
    cr_assert_eq(waiter_count(f.w), 0);
    cr_assert_eq(conn_read(c), 1);
    cr_assert_eq(c->rbuf[0], 'x');
    cr_assert_eq(atomic_load(&f.budget.open), 1, "waking does not close");
    conn_destroy(c);
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    expect_closed_silently(peer, 0);
    close(peer);
    teardown(&f);
}

Test(waiter, reparked_conn_wakes_again)
{
    struct fixture f;
    struct conn *c;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() + FAR_MS);
    send_byte(peer, 'a');
    cr_assert_eq(take(&f), c);

    /* Input still unread: parked again, it is readable at once. */
    park(&f, c, util_now_ms() + FAR_MS);
    cr_assert_eq(take(&f), c, "unread input did not wake it");
    cr_assert_eq(conn_read(c), 1);
    conn_consume(c, 1);

    /* Drained: parked again, it waits for the next byte. */
    park(&f, c, util_now_ms() + FAR_MS);
    expect_no_take(&f, 50);
    cr_assert_eq(waiter_count(f.w), 1);
    send_byte(peer, 'b');
    cr_assert_eq(take(&f), c, "new input did not wake it");
    cr_assert_eq(conn_read(c), 1);
    cr_assert_eq(c->rbuf[c->rpos], 'b');
    cr_assert_eq(waiter_count(f.w), 0);
    conn_destroy(c);
    close(peer);
    teardown(&f);
}

Test(waiter, peer_hangup_wakes_the_conn_for_its_worker)
{
    struct fixture f;
    struct conn *c;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() + FAR_MS);
    close(peer);
    cr_assert_eq(take(&f), c, "hang-up did not wake the conn");
    cr_assert_eq(waiter_count(f.w), 0);
    cr_assert_eq(conn_read(c), CONN_IO_EOF);
    cr_assert_eq(atomic_load(&f.budget.open), 1,
                 "the worker closes it, not the waiter");
    conn_destroy(c);
    teardown(&f);
}

Test(waiter, queued_item_wakes_a_taker, .timeout = 10)
{
    struct fixture f;
    int item = 7;
    void *got;

    setup(&f);
    cr_assert_eq(workq_push(f.q, &item), WORKQ_OK);
    /* With no limit: returns only because the queue's fd is in the set. */
    cr_assert_null(waiter_take(f.w, -1));
    cr_assert_eq(workq_trypop(f.q, &got), WORKQ_OK);
    cr_assert_eq(got, &item);
    expect_no_take(&f, 50); /* the queue is empty again */
    workq_shutdown(f.q);
    cr_assert_null(waiter_take(f.w, -1), "shutdown did not wake a taker");
    teardown(&f);
}

/* ---- deadlines ---- */

Test(waiter, idle_conn_is_closed_at_its_deadline_and_not_before)
{
    struct fixture f;
    struct conn *c;
    int64_t t0;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    t0 = util_now_ms();
    park(&f, c, t0 + 200);
    expect_closed_silently(peer, 1500);
    cr_assert_geq(util_now_ms() - t0, 200, "closed before its deadline");
    cr_assert_eq(wait_open(&f.budget.open, 0), 0);
    cr_assert_eq(waiter_count(f.w), 0);
    expect_no_take(&f, 0); /* an expired conn is not handed out */
    close(peer);
    teardown(&f);
}

Test(waiter, conn_parked_past_its_deadline_is_closed)
{
    struct fixture f;
    struct conn *c;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() - 1);
    expect_closed_silently(peer, 1500);
    cr_assert_eq(wait_open(&f.budget.open, 0), 0);
    cr_assert_eq(waiter_count(f.w), 0);
    close(peer);
    teardown(&f);
}

Test(waiter, only_conns_past_their_deadline_are_closed)
{
    struct fixture f;
    struct conn *soon, *late;
    int peer_soon, peer_late;

    setup(&f);
    soon = new_conn(&f, KIND_RESP, &peer_soon);
    late = new_conn(&f, KIND_RESP, &peer_late);
    park(&f, late, util_now_ms() + FAR_MS);
    park(&f, soon, util_now_ms() + 150);
    cr_assert_eq(waiter_count(f.w), 2);
    expect_closed_silently(peer_soon, 1500);
    cr_assert_eq(wait_open(&f.budget.open, 1), 1);
    cr_assert_eq(waiter_count(f.w), 1);
    expect_peer_open(peer_late);
    send_byte(peer_late, 'x'); /* the survivor still wakes */
    cr_assert_eq(take(&f), late);
    conn_destroy(late);
    close(peer_soon);
    close(peer_late);
    teardown(&f);
}

Test(waiter, input_that_arrived_while_workers_were_busy_outlives_the_deadline)
{
    struct fixture f;
    struct conn *c;
    void *got;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() + 100);
    send_byte(peer, 'x'); /* in time, but nobody calls waiter_take */
    sleep_ms(400);        /* several deadline scans */
    cr_assert_eq(atomic_load(&f.budget.open), 1,
                 "a request that came in time "
                 "was dropped");
    cr_assert_eq(waiter_count(f.w), 0);
    cr_assert_eq(workq_trypop(f.q, &got), WORKQ_OK,
                 "the readable conn was not queued for a worker");
    cr_assert_eq(got, c);
    cr_assert_eq(conn_read(c), 1);
    cr_assert_eq(c->rbuf[0], 'x');
    /* Parked again, it is still watched: epoll_ctl ADDs it anew. */
    park(&f, c, util_now_ms() + FAR_MS);
    send_byte(peer, 'y');
    cr_assert_eq(take(&f), c);
    conn_destroy(c);
    close(peer);
    teardown(&f);
}

Test(waiter, http_conn_with_partial_request_gets_408_then_close)
{
    struct fixture f;
    struct conn *c;
    char buf[512], *body;
    size_t len, clen;
    int peer, rc;

    setup(&f);
    c = new_conn(&f, KIND_HTTP, &peer);
    c->req_start_ms = util_now_ms();
    park(&f, c, util_now_ms() + 200);
    rc = peer_read_all(peer, 1500, buf, sizeof(buf), &len);
    cr_assert_eq(rc, PEER_EOF, "peer state %d after %zu bytes", rc, len);
    buf[len] = '\0';
    cr_assert_eq(strncmp(buf, status_408, strlen(status_408)), 0, "got: %s",
                 buf);
    cr_assert_not_null(strstr(buf, "\r\nConnection: close\r\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\nDate: "), "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\nX-Content-Type-Options: nosniff\r\n"),
                       "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\nCache-Control: no-store\r\n"), "%s",
                       buf);
    body = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(body);
    body += 4;
    cr_assert_not_null(strstr(buf, "\r\nContent-Length: "));
    clen = strtoul(strstr(buf, "\r\nContent-Length: ") + 18, NULL, 10);
    cr_assert_eq(strlen(body), clen, "body '%s' vs Content-Length %zu", body,
                 clen);
    cr_assert_eq(wait_open(&f.budget.open, 0), 0);
    close(peer);
    teardown(&f);
}

Test(waiter, http_conn_between_requests_closes_without_reply)
{
    struct fixture f;
    struct conn *c;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_HTTP, &peer);
    park(&f, c, util_now_ms() + 100);
    expect_closed_silently(peer, 1500);
    cr_assert_eq(wait_open(&f.budget.open, 0), 0);
    close(peer);
    teardown(&f);
}

Test(waiter, resp_conn_with_partial_request_closes_without_reply)
{
    struct fixture f;
    struct conn *c;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    c->req_start_ms = util_now_ms();
    park(&f, c, util_now_ms() + 100);
    expect_closed_silently(peer, 1500);
    cr_assert_eq(wait_open(&f.budget.open, 0), 0);
    close(peer);
    teardown(&f);
}

/* ---- counting, stop, refusal ---- */

Test(waiter, count_follows_parks_wakes_and_expiries)
{
    struct fixture f;
    struct conn *c[4];
    int peer[4], i;

    setup(&f);
    for (i = 0; i < 3; i++) {
        c[i] = new_conn(&f, KIND_RESP, &peer[i]);
        park(&f, c[i], util_now_ms() + FAR_MS);
        cr_assert_eq(waiter_count(f.w), i + 1);
    }
    send_byte(peer[1], 'x');
    cr_assert_eq(take(&f), c[1]);
    cr_assert_eq(waiter_count(f.w), 2);
    conn_destroy(c[1]);
    c[3] = new_conn(&f, KIND_RESP, &peer[3]);
    park(&f, c[3], util_now_ms() + 100);
    cr_assert_eq(waiter_count(f.w), 3);
    cr_assert_eq(wait_count(f.w, 2), 2, "the expired conn is still counted");
    expect_closed_silently(peer[3], 1000);
    cr_assert_eq(wait_open(&f.budget.open, 2), 2);
    teardown(&f);
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    for (i = 0; i < 4; i++) {
        close(peer[i]);
    }
}

#define MANY 100

Test(waiter, wakes_exactly_the_conns_that_got_input)
{
    struct fixture f;
    struct conn *c[MANY];
    int peer[MANY], seen[MANY] = {0}, i, j;

    setup(&f);
    for (i = 0; i < MANY; i++) {
        c[i] = new_conn(&f, KIND_RESP, &peer[i]);
        park(&f, c[i], util_now_ms() + FAR_MS);
    }
    cr_assert_eq(waiter_count(f.w), MANY);
    for (i = 0; i < MANY; i += 2) {
        send_byte(peer[i], 'x');
    }
    for (i = 0; i < MANY / 2; i++) {
        struct conn *got = take(&f);

        for (j = 0; j < MANY && c[j] != got; j++) {
        }
        cr_assert_lt(j, MANY, "an unknown conn (%p) was handed out",
                     (void *)got);
        cr_assert_eq(j % 2, 0, "conn %d woke without input", j);
        cr_assert_eq(seen[j]++, 0, "conn %d handed out twice", j);
    }
    expect_no_take(&f, 50); /* room for a wrong extra wake-up to show */
    cr_assert_eq(waiter_count(f.w), MANY / 2);
    for (i = 0; i < MANY; i += 2) {
        conn_destroy(c[i]);
    }
    cr_assert_eq(atomic_load(&f.budget.open), MANY / 2);
    teardown(&f);
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    for (i = 0; i < MANY; i++) {
        close(peer[i]);
    }
}

Test(waiter, stop_closes_every_parked_conn_and_refuses_new_ones)
{
    struct fixture f;
    struct conn *c[3], *late;
    int peer[3], peer_late, i;

    setup(&f);
    for (i = 0; i < 3; i++) {
        c[i] = new_conn(&f, KIND_RESP, &peer[i]);
        park(&f, c[i], util_now_ms() + FAR_MS);
    }
    waiter_stop(f.w);
    cr_assert_eq(atomic_load(&f.budget.open), 0,
                 "stop returned with conns open");
    cr_assert_eq(waiter_count(f.w), 0);
    for (i = 0; i < 3; i++) {
        expect_closed_silently(peer[i], 0);
        close(peer[i]);
    }
    late = new_conn(&f, KIND_RESP, &peer_late);
    cr_assert_eq(waiter_park(f.w, late, util_now_ms() + FAR_MS), -1);
    cr_assert_eq(waiter_count(f.w), 0);
    expect_peer_open(peer_late); /* still the caller's */
    waiter_stop(f.w);            /* idempotent */
    conn_destroy(late);
    expect_closed_silently(peer_late, 0);
    close(peer_late);
    teardown(&f);
}

Test(waiter, stop_hands_conns_with_input_to_the_queue_and_drops_their_reports)
{
    struct fixture f;
    struct conn *busy, *idle;
    int peer_busy, peer_idle, i;
    void *got;

    setup(&f);
    busy = new_conn(&f, KIND_RESP, &peer_busy);
    idle = new_conn(&f, KIND_RESP, &peer_idle);
    park(&f, busy, util_now_ms() + FAR_MS);
    park(&f, idle, util_now_ms() + FAR_MS);
    send_byte(peer_busy, 'x'); /* a request in flight, not yet taken */
    waiter_stop(f.w);
    expect_closed_silently(peer_idle, 0);
    cr_assert_eq(atomic_load(&f.budget.open), 1);
    /* The queue's wake-up (and any report epoll still held for busy) is
     * not a conn for a taker. */
    for (i = 0; i < 4; i++) {
        cr_assert_null(waiter_take(f.w, 20));
    }
    cr_assert_eq(workq_trypop(f.q, &got), WORKQ_OK);
    cr_assert_eq(got, busy, "the conn with input was not queued");
    cr_assert_eq(conn_read(busy), 1);
    conn_destroy(busy);
    close(peer_busy);
    close(peer_idle);
    teardown(&f);
}

Test(waiter, destroy_closes_every_parked_conn)
{
    struct fixture f;
    struct conn *c[2];
    int peer[2], i;

    setup(&f);
    for (i = 0; i < 2; i++) {
        c[i] = new_conn(&f, KIND_HTTP, &peer[i]);
        c[i]->req_start_ms = util_now_ms();
        park(&f, c[i], util_now_ms() + FAR_MS);
    }
    teardown(&f);
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    for (i = 0; i < 2; i++) {
        expect_closed_silently(peer[i], 0); /* shutdown is not a timeout */
        close(peer[i]);
    }
}

Test(waiter, park_of_a_socket_epoll_cannot_watch_is_refused)
{
    struct fixture f;
    struct conn *c;
    FILE *tmp = tmpfile();
    int fd;

    setup(&f);
    cr_assert_not_null(tmp);
    fd = dup(fileno(tmp)); /* a regular file: epoll_ctl says EPERM */
    cr_assert_geq(fd, 0);
    fclose(tmp);
    c = conn_create(fd, &f.kinds[KIND_RESP]);
    cr_assert_not_null(c);
    atomic_fetch_add(&f.budget.open, 1);
    cr_assert_eq(waiter_park(f.w, c, util_now_ms() + FAR_MS), -1);
    cr_assert_eq(waiter_count(f.w), 0);
    cr_assert_eq(atomic_load(&f.budget.open), 1, "the caller still owns it");
    conn_destroy(c);
    teardown(&f);
}

/* ---- many takers at once ---- */

#define STRESS_CONNS 32
#define STRESS_TAKERS 4
#define STRESS_BYTES 4000 /* sent in all, one at a time */

struct stress {
    struct fixture *f;
    struct conn *c[STRESS_CONNS];
    atomic_int owner[STRESS_CONNS]; /* 1 while a taker holds conn i */
    atomic_long received;
    atomic_int doubled; /* a conn handed to two takers at once */
    atomic_int stop;
};

static int
stress_index(struct stress *st, const struct conn *c)
{
    int i;

    for (i = 0; i < STRESS_CONNS && st->c[i] != c; i++) {
    }
    return i;
}

/* A worker: takes readable conns, reads what they hold, parks them again. */
static void *
stress_take(void *arg)
{
    struct stress *st = arg;

    while (!atomic_load(&st->stop)) {
        struct conn *c = waiter_take(st->f->w, 20);
        long n;
        int i;

        if (c == NULL) {
            continue;
        }
        i = stress_index(st, c);
        if (i == STRESS_CONNS || atomic_exchange(&st->owner[i], 1) != 0) {
            atomic_store(&st->doubled, 1);
            continue;
        }
        while ((n = conn_read(c)) > 0) {
            atomic_fetch_add(&st->received, n);
            conn_consume(c, (size_t)n);
        }
        atomic_store(&st->owner[i], 0);
        if (waiter_park(st->f->w, c, util_now_ms() + FAR_MS) < 0) {
            atomic_store(&st->doubled, 1);
        }
    }
    return NULL;
}

Test(waiter, concurrent_takers_each_get_a_readable_conn_exactly_once)
{
    struct fixture f;
    struct stress st = {.f = &f};
    pthread_t th[STRESS_TAKERS];
    int peer[STRESS_CONNS], i;
    int64_t until;

    setup(&f);
    for (i = 0; i < STRESS_CONNS; i++) {
        st.c[i] = new_conn(&f, KIND_RESP, &peer[i]);
        park(&f, st.c[i], util_now_ms() + FAR_MS);
    }
    for (i = 0; i < STRESS_TAKERS; i++) {
        cr_assert_eq(pthread_create(&th[i], NULL, stress_take, &st), 0);
    }
    for (i = 0; i < STRESS_BYTES; i++) {
        send_byte(peer[(i * 7) % STRESS_CONNS], 'x');
    }
    until = util_now_ms() + 10000;
    while (atomic_load(&st.received) < STRESS_BYTES && util_now_ms() < until) {
        sleep_ms(2);
    }
    atomic_store(&st.stop, 1);
    for (i = 0; i < STRESS_TAKERS; i++) {
        pthread_join(th[i], NULL);
    }
    cr_assert_eq(atomic_load(&st.doubled), 0,
                 "a conn was handed out while another taker held it");
    cr_assert_eq(atomic_load(&st.received), STRESS_BYTES,
                 "%ld of %d bytes were read: a wake-up was lost",
                 atomic_load(&st.received), STRESS_BYTES);
    cr_assert_eq(waiter_count(f.w), STRESS_CONNS);
    teardown(&f);
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    for (i = 0; i < STRESS_CONNS; i++) {
        close(peer[i]);
    }
}
