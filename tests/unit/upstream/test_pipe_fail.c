/*
 * Unit tests of upstream/pipe's failure rules and bounds, with the test
 * playing Redis (peer_helpers.h) and counting what it received:
 *
 *   - the connection reset mid-pipeline: requests written get
 *     UPSTREAM_EDOWN ("connection lost: ...") and are never sent again;
 *     those not yet written (held back by a Redis that stopped reading)
 *     go out on the next connection and succeed; a request marked retry
 *     (a fill) goes out once more, and only once;
 *   - the bounds: PIPE_MAX_CMDS requests in flight, then PIPE_FULL
 *     (also for bytes over PIPE_MAX_BYTES), `must` requests taken over
 *     them, and the refused conn woken once half the room is back, not
 *     one reply earlier;
 *   - a port nothing listens on: the request fails with UPSTREAM_EDOWN
 *     at once (connect_timeout is a minute), the server is marked down,
 *     submits are refused with its reason during the backoff, and one
 *     connect probes after it, doubling the backoff when it fails too.
 */
#include "pipe_helpers.h"

#include <sys/socket.h>

#include "base/backoff.h"
#include "net/conn.h"

TestSuite(pipe_fail, .init = pipe_setup, .fini = pipe_teardown, .timeout = 60);

/* ---- the connection lost mid-pipeline ---- */

#define BIG (1u << 20) /* a value Redis is slow to take */
#define BIGS 12        /* more than the socket buffers hold */

static char big[BIG];

/* A SET of a BIG value: its bytes from three ranges. */
static void
big_set(struct treq *t, int seq, char *head, size_t cap)
{
    char key[16];

    treq_init(t, 0, seq, 0);
    snprintf(key, sizeof(key), "d%d", seq);
    t->u.iov[0].iov_base = head;
    t->u.iov[0].iov_len =
        (size_t)snprintf(head, cap, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%u\r\n",
                         strlen(key), key, BIG);
    t->u.iov[1].iov_base = big;
    t->u.iov[1].iov_len = BIG;
    t->u.iov[2].iov_base = "\r\n";
    t->u.iov[2].iov_len = 2;
    t->u.iovcnt = 3;
    t->u.nreplies = 1;
    memcpy(t->want, "+OK\r\n", 5);
    t->want_len = 5;
}

/* The seq of a command of ours: the number after its key's letter. */
static int
seq_of(const struct resp_command *c)
{
    cr_assert_geq(c->argc, 2);
    return (int)strtol(c->argv[1].p + 1, NULL, 10);
}

static void
expect_lost(const struct treq *t)
{
    cr_expect_eq(t->ndone, 1, "request %d: %d done() calls", t->seq, t->ndone);
    cr_expect_eq(t->status, UPSTREAM_EDOWN, "request %d: status %d", t->seq,
                 t->status);
    cr_expect_eq(strncmp(t->err, "connection lost: ", 17), 0, "request %d: %s",
                 t->seq, t->err);
    cr_expect_eq(t->ngot, 0);
}

Test(pipe_fail, reset_fails_what_was_written_and_resends_what_was_not)
{
    static struct treq a, b, c, d[BIGS], e;
    static char heads[BIGS][64];
    struct fake_in in1 = {0}, in2 = {0};
    struct resp_command cmd;
    const char *raw;
    size_t raw_len;
    char line[64];
    int port, peer, first_resent = -1, next = -1, received2[BIGS] = {0};
    long errors, reconnects, epoch;
    int down;
    struct pipe_stats ps;

    memset(big, 'v', sizeof(big));
    fx.lfd = fake_listen_rcvbuf(&port, 8, 4096);
    fx_up(port, 2, 0);
    treq_init(&a, 0, 100, 0);
    treq_add(&a, cmd_of(line, sizeof(line), "ECHO", "a100", NULL),
             "$4\r\na100\r\n");
    treq_init(&b, 0, 101, 0); /* a fill: PTTL and GET may go twice */
    b.u.retry = 1;
    b.u.tracked = 1;
    treq_add(&b, cmd_of(line, sizeof(line), "GET", "b101", NULL),
             "$2\r\nbv\r\n");
    treq_init(&c, 0, 102, 0);
    treq_add(&c, cmd_of(line, sizeof(line), "INCR", "c102", NULL), ":1\r\n");
    submit(&a);
    submit(&b);
    submit(&c);
    for (int i = 0; i < BIGS; i++) {
        big_set(&d[i], i, heads[i], sizeof(heads[i]));
        submit(&d[i]);
    }
    treq_init(&e, 0, 103, 0);
    treq_add(&e, cmd_of(line, sizeof(line), "ECHO", "e103", NULL),
             "$4\r\ne103\r\n");
    submit(&e);

    /* Redis reads A, B, C and the first SET, answers A, and stops
     * reading: the SETs after fill the socket buffers, E waits. */
    peer = fake_accept(fx.lfd);
    fake_command(peer, &in1, &cmd, &raw, &raw_len);
    cr_assert(fake_arg_is(&cmd, 1, "a100"));
    fake_command(peer, &in1, &cmd, &raw, &raw_len);
    cr_assert(fake_arg_is(&cmd, 1, "b101"));
    fake_command(peer, &in1, &cmd, &raw, &raw_len);
    cr_assert(fake_arg_is(&cmd, 1, "c102"));
    fake_command(peer, &in1, &cmd, &raw, &raw_len);
    cr_assert(fake_arg_is(&cmd, 1, "d0"));
    fake_send(peer, "$4\r\na100\r\n");
    wait_dones(1);
    expect_answered(&a);
    fake_reset(peer);

    /* The next connection: B again, then what was never written. */
    peer = fake_accept(fx.lfd);
    fake_command(peer, &in2, &cmd, &raw, &raw_len);
    cr_assert(fake_arg_is(&cmd, 1, "b101"), "B is not the first resent");
    for (;;) {
        fake_command(peer, &in2, &cmd, &raw, &raw_len);
        if (fake_arg_is(&cmd, 1, "e103")) {
            break;
        }
        cr_assert(fake_arg_is(&cmd, 0, "SET"), "resent: %.*s",
                  (int)cmd.argv[0].len, cmd.argv[0].p);
        if (first_resent < 0) {
            first_resent = next = seq_of(&cmd);
        }
        cr_assert_eq(seq_of(&cmd), next, "SET %d resent out of order",
                     seq_of(&cmd));
        received2[next++]++;
    }
    cr_assert_geq(first_resent, 0,
                  "no SET was held back unwritten: the "
                  "test did not reach its state");
    cr_assert_eq(next, BIGS, "the SETs after %d were not resent", next - 1);
    fake_send(peer, "$2\r\nbv\r\n");
    for (int i = first_resent; i >= 0 && i < BIGS; i++) {
        fake_send(peer, "+OK\r\n");
    }
    fake_send(peer, "$4\r\ne103\r\n");
    wait_dones(3 + BIGS + 1);

    cr_log_info("the reset came with SETs 0..%d written", first_resent - 1);
    cr_assert_gt(first_resent, 0, "SET 0, which Redis read, was resent");
    expect_answered(&b); /* sent twice, answered on the second */
    expect_lost(&c);
    for (int i = 0; i < BIGS; i++) {
        if (i < first_resent) {
            expect_lost(&d[i]);
            cr_expect_eq(received2[i], 0, "SET %d was written and resent", i);
        } else {
            expect_answered(&d[i]);
            cr_expect_eq(received2[i], 1, "SET %d went %d times", i,
                         received2[i]);
        }
    }
    expect_answered(&e);
    /* What was written went in order: the resent ones end after. */
    cr_expect_lt(c.done_seq, b.done_seq);
    pipe_stats(fx.p, &ps);
    cr_expect_eq(ps.lost, 1);
    reach_stats(&fx.reach, &errors, &reconnects, &epoch, &down);
    cr_expect_eq(reconnects, 1);
    cr_expect_eq(down, 0);
    fake_in_free(&in1);
    fake_in_free(&in2);
    close(peer);
}

Test(pipe_fail, retried_request_goes_once_more_and_no_more)
{
    static struct treq f;
    struct fake_in in = {0};
    struct resp_command cmd;
    const char *raw;
    size_t raw_len;
    char line[64];
    int port, peer;

    fx.lfd = fake_listen(&port, 8);
    fx_up(port, 2, 0);
    treq_init(&f, 0, 1, 0);
    f.u.retry = 1;
    treq_add(&f, cmd_of(line, sizeof(line), "PTTL", "f1", NULL), ":-1\r\n");
    treq_add(&f, cmd_of(line, sizeof(line), "GET", "f1", NULL), "$1\r\nv\r\n");
    submit(&f);
    for (int conn = 0; conn < 2; conn++) {
        peer = fake_accept(fx.lfd);
        fake_command(peer, &in, &cmd, &raw, &raw_len);
        cr_assert(fake_arg_is(&cmd, 0, "PTTL"));
        fake_command(peer, &in, &cmd, &raw, &raw_len);
        cr_assert(fake_arg_is(&cmd, 0, "GET"));
        fake_send(peer, ":-1\r\n"); /* one of its two replies */
        loop_sync();
        fake_reset(peer);
        fake_in_free(&in);
    }
    wait_dones(1);
    cr_expect_eq(f.ndone, 1);
    cr_expect_eq(f.status, UPSTREAM_EDOWN, "status %d", f.status);
    cr_expect_eq(strncmp(f.err, "connection lost: ", 17), 0, "%s", f.err);
    /* Each connection handed over the first reply: sent again, the
     * request gets its replies again from the first. */
    cr_expect_eq(f.ngot, 2);
    cr_expect_eq(f.index[0], 0);
    cr_expect_eq(f.index[1], 0);
    /* Nothing waits: no third connection was opened. */
    loop_sync();
    cr_expect_eq(poll(&(struct pollfd){.fd = fx.lfd, .events = POLLIN}, 1, 0),
                 0, "a connection was opened for nothing");
}

/* ---- the bounds ---- */

/* A small request of the bounds test: PING, counted when it ends. */
struct lreq {
    struct ureq u;
    atomic_int status;
};

static atomic_long lreq_dones;

static void
lreq_reply(struct ureq *u, uint32_t i, const char *p, size_t len,
           const struct resp_reply *scan)
{
    (void)u;
    (void)i;
    (void)p;
    (void)len;
    (void)scan;
}

static void
lreq_done(struct ureq *u, int status, const char *err)
{
    (void)err;
    atomic_store(&((struct lreq *)u)->status, status);
    atomic_fetch_add(&lreq_dones, 1);
}

static const struct ureq_ops lreq_ops = {lreq_reply, lreq_done};
static const char ping[] = "*1\r\n$4\r\nPING\r\n";

static void
lreq_init(struct lreq *l)
{
    memset(l, 0, sizeof(*l));
    l->u.ops = &lreq_ops;
    l->u.iov[0].iov_base = (void *)ping;
    l->u.iov[0].iov_len = sizeof(ping) - 1;
    l->u.iovcnt = 1;
    l->u.nreplies = 1;
    l->u.db = -1;
    atomic_init(&l->status, 99);
}

static const struct conn_ops test_ops = {.name = "test"};
static struct conn_budget budget;
static const struct conn_kind test_kind = {.ops = &test_ops, .budget = &budget};

/* Sends n PONGs. */
static void
pongs(int peer, int n)
{
    static char buf[4096 * 7];

    cr_assert_leq(n, 4096);
    for (int i = 0; i < n; i++) {
        memcpy(buf + 7 * i, "+PONG\r\n", 7);
    }
    fake_send_bytes(peer, buf, (size_t)n * 7);
}

/* Waits until the pipe counts n requests in flight (bounded). */
static void
wait_inflight(long n)
{
    int64_t until = util_now_ms() + WAIT_MS;
    struct pipe_stats ps;

    for (;;) {
        pipe_stats(fx.p, &ps);
        if (ps.inflight == n || util_now_ms() > until) {
            break;
        }
        sleep_ms(1);
    }
    cr_assert_eq(ps.inflight, n, "%ld in flight, want %ld", ps.inflight, n);
}

Test(pipe_fail, full_pipe_refuses_then_wakes_the_conn_at_half_room)
{
    static struct lreq reqs[PIPE_MAX_CMDS], over, must, later, huge;
    static char huge_bytes[PIPE_MAX_BYTES];
    struct fake_in in = {0};
    struct resp_command cmd;
    const char *raw;
    size_t raw_len;
    char err[UPSTREAM_ERR_MAX];
    struct conn *c;
    void *item = NULL;
    int port, peer, cpeer;

    fx.lfd = fake_listen(&port, 8);
    fx_up(port, 2, 0);
    c = unit_conn(&test_kind, &cpeer);
    cr_assert_eq(waiter_attach(fx.w, c), 0);
    cr_assert_eq(waiter_park(fx.w, c, 0), 0);

    /* Bytes: with one request in flight, one of PIPE_MAX_BYTES does not
     * fit (and is not sent). */
    lreq_init(&reqs[0]);
    cr_assert_eq(pipe_submit(fx.p, &reqs[0].u, 0, 0, err), PIPE_QUEUED);
    lreq_init(&huge);
    huge.u.iov[0].iov_base = huge_bytes;
    huge.u.iov[0].iov_len = sizeof(huge_bytes);
    cr_expect_eq(pipe_submit(fx.p, &huge.u, 15, 0, err), PIPE_FULL);

    /* Requests: PIPE_MAX_CMDS in flight, then no more... */
    for (int i = 1; i < PIPE_MAX_CMDS; i++) {
        lreq_init(&reqs[i]);
        cr_assert_eq(pipe_submit(fx.p, &reqs[i].u, 0, 0, err), PIPE_QUEUED,
                     "request %d", i);
    }
    lreq_init(&over);
    cr_expect_eq(pipe_submit(fx.p, &over.u, c->slot, c->gen, err), PIPE_FULL);
    /* ... but the must ones. */
    lreq_init(&must);
    must.u.must = 1;
    cr_expect_eq(pipe_submit(fx.p, &must.u, 0, 0, err), PIPE_QUEUED);

    peer = fake_accept(fx.lfd);
    for (int i = 0; i < PIPE_MAX_CMDS + 1; i++) {
        fake_command(peer, &in, &cmd, &raw, &raw_len);
        cr_assert(fake_arg_is(&cmd, 0, "PING"), "command %d", i);
    }
    /* Half the room back but one: the conn still waits. */
    pongs(peer, PIPE_MAX_CMDS + 1 - PIPE_MAX_CMDS / 2 - 1);
    wait_inflight(PIPE_MAX_CMDS / 2 + 1);
    loop_sync();
    cr_expect_eq(workq_trypop(fx.q, &item), WORKQ_EEMPTY,
                 "the conn was woken with %d in flight", PIPE_MAX_CMDS / 2 + 1);
    cr_expect_eq(waiter_count(fx.w), 1);
    /* One more reply: half the room is back, the conn is woken. */
    pongs(peer, 1);
    wait_inflight(PIPE_MAX_CMDS / 2);
    for (int64_t until = util_now_ms() + WAIT_MS;
         workq_trypop(fx.q, &item) != WORKQ_OK && util_now_ms() < until;) {
        sleep_ms(1);
    }
    cr_expect_eq(item, c, "the refused conn was not woken");
    cr_expect_eq(waiter_count(fx.w), 0);
    /* There is room again. */
    lreq_init(&later);
    cr_expect_eq(pipe_submit(fx.p, &later.u, 0, 0, err), PIPE_QUEUED);
    pongs(peer, PIPE_MAX_CMDS / 2);
    fake_command(peer, &in, &cmd, &raw, &raw_len);
    pongs(peer, 1);
    wait_inflight(0);
    cr_expect_eq(atomic_load(&lreq_dones), PIPE_MAX_CMDS + 2);
    cr_expect_eq(atomic_load(&must.status), UPSTREAM_OK);
    cr_expect_eq(atomic_load(&later.status), UPSTREAM_OK);
    cr_expect_eq(atomic_load(&over.status), 99, "a refused request ended");
    cr_expect_eq(atomic_load(&huge.status), 99, "a refused request ended");
    waiter_drop(fx.w, c);
    close(cpeer);
    fake_in_free(&in);
    close(peer);
}

/* ---- Redis not there ---- */

static void
expect_refused(const struct treq *t)
{
    cr_expect_eq(t->ndone, 1);
    cr_expect_eq(t->status, UPSTREAM_EDOWN, "status %d", t->status);
    cr_expect_neq(strstr(t->err, "refused"), NULL, "%s", t->err);
}

Test(pipe_fail, connect_refused_fails_at_once_and_backs_off)
{
    static struct treq first, during, probe;
    char err[UPSTREAM_ERR_MAX] = "", line[64];
    long errors, reconnects, epoch;
    int down;
    int64_t until;

    fx_up(unit_free_port(), 2, 0); /* nothing listens there */
    fx.cfg.connect_timeout_ms = 60000;
    treq_init(&first, 0, 0, 0);
    treq_add(&first, cmd_of(line, sizeof(line), "GET", "k", NULL), "");
    submit(&first);
    wait_dones(1); /* well before connect_timeout */
    expect_refused(&first);
    reach_stats(&fx.reach, &errors, &reconnects, &epoch, &down);
    cr_expect_eq(errors, 1);
    cr_expect_eq(down, 1);

    /* During the backoff: refused at once with the reason, not taken. */
    treq_init(&during, 0, 1, 0);
    treq_add(&during, cmd_of(line, sizeof(line), "GET", "k", NULL), "");
    cr_expect_eq(pipe_submit(fx.p, &during.u, 0, 0, err), PIPE_DOWN);
    cr_expect_str_eq(err, first.err);
    cr_expect_eq(during.ndone, 0);

    /* After it: one connect probes, fails, and the backoff doubles. */
    until = util_now_ms() + WAIT_MS;
    while (reach_is_down(&fx.reach, err) && util_now_ms() < until) {
        sleep_ms(5);
    }
    cr_assert_eq(reach_is_down(&fx.reach, err), 0);
    treq_init(&probe, 0, 2, 0);
    treq_add(&probe, cmd_of(line, sizeof(line), "GET", "k", NULL), "");
    submit(&probe);
    wait_dones(2);
    expect_refused(&probe);
    reach_stats(&fx.reach, &errors, &reconnects, &epoch, &down);
    cr_expect_eq(errors, 2);
    cr_expect_eq(down, 1);
    pthread_mutex_lock(&fx.reach.lock);
    cr_expect_eq(fx.reach.backoff_ms, 2 * BACKOFF_MIN_MS);
    pthread_mutex_unlock(&fx.reach.lock);
    cr_expect_eq(during.ndone, 0);
}
