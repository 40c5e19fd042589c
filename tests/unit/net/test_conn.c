/*
 * Unit tests for conn on socketpairs (the conn's end non-blocking, as the
 * accept loop makes it; the test is the client on the other end):
 * conn_flush sends everything the peer takes, gathers more ranges than one
 * sendmsg carries, and on a full socket returns CONN_IO_AGAIN with the rest
 * queued and stall_ms set (kept while nothing moves), then completes once
 * the peer drains; a closed peer is an error, not SIGPIPE; a referenced
 * range is released once, after its last byte is sent or when the conn is
 * destroyed; conn_read returns bytes, CONN_IO_AGAIN, CONN_IO_EOF,
 * CONN_IO_ERR (reset), and 0 when rbuf is full, compacting consumed bytes
 * away first; conn_reserve grows rbuf past CONN_RBUF keeping the unconsumed
 * bytes (or compacts when that makes room) and conn_consume of everything
 * gives the inline buffer back; conn_destroy releases the protocol's state,
 * closes the socket and uncounts the conn.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "net/conn.h"
#include "unit_helpers.h"

static atomic_int proto_released;

static void
proto_release(struct conn *c)
{
    (void)c;
    atomic_fetch_add(&proto_released, 1);
}

static const struct conn_ops test_ops = {.name = "test",
                                         .release = proto_release};
static struct conn_budget budget;
static struct conn_kind kind = {.ops = &test_ops, .budget = &budget};

/* A conn on one end of a fresh socketpair; *peer gets the other end. */
static struct conn *
new_conn(int *peer)
{
    return unit_conn(&kind, peer);
}

static char
pattern(size_t i)
{
    return (char)('A' + i % 53);
}

/* Releases of referenced ranges: owner ids in order. */
static int released[256];
static int nreleased;

static void
record_release(void *owner)
{
    cr_assert_lt(nreleased, 256);
    released[nreleased++] = (int)(intptr_t)owner;
}

/* Reads exactly n bytes from the peer (blocking) into buf. */
static void
peer_recv(int peer, char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = recv(peer, buf + got, n - got, 0);

        cr_assert_gt(k, 0, "recv: %zd (%s)", k, strerror(errno));
        got += (size_t)k;
    }
}

/* Sends n bytes of pattern, starting at pattern(from), from the peer. */
static void
peer_send(int peer, size_t from, size_t n)
{
    char buf[4096];

    while (n > 0) {
        size_t k = n < sizeof(buf) ? n : sizeof(buf), i;

        for (i = 0; i < k; i++) {
            buf[i] = pattern(from + i);
        }
        cr_assert_eq(send(peer, buf, k, MSG_NOSIGNAL), (ssize_t)k);
        from += k;
        n -= k;
    }
}

/* Reads into c until rbuf holds want bytes. */
static void
read_until(struct conn *c, size_t want)
{
    while (c->rlen < want) {
        cr_assert_gt(conn_read(c), 0);
    }
    cr_assert_eq(c->rlen, want);
}

/* Asserts rbuf[rpos..rlen) is pattern(from), pattern(from + 1), ... */
static void
expect_unconsumed(const struct conn *c, size_t from, size_t n)
{
    cr_assert_eq(c->rlen - c->rpos, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(c->rbuf[c->rpos + i], pattern(from + i),
                     "byte %zu of the unconsumed ones", i);
    }
}

/* ---- writing ---- */

Test(conn, flush_sends_everything_when_the_peer_reads)
{
    static const char value[] = "VALUE";
    struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
    struct conn *c;
    char buf[32];
    int peer;

    nreleased = 0;
    c = new_conn(&peer);
    cr_assert_eq(conn_write_buf(c, "head:", 5), 0);
    cr_assert_eq(conn_write_ref(c, value, 5, record_release, (void *)1), 0);
    cr_assert_eq(conn_write(c, iov, 2), 0);
    cr_assert_eq(outq_bytes(&c->out), 14);
    cr_assert_eq(nreleased, 0);
    cr_assert_eq(conn_flush(c), CONN_IO_OK);
    cr_assert_eq(outq_bytes(&c->out), 0);
    cr_assert_eq(c->stall_ms, 0);
    cr_assert_eq(nreleased, 1, "the sent ref was released %d times", nreleased);
    peer_recv(peer, buf, 14);
    cr_assert_eq(memcmp(buf, "head:VALUEabcd", 14), 0);
    cr_assert_eq(conn_flush(c), CONN_IO_OK, "nothing queued is done");
    conn_destroy(c);
    cr_assert_eq(nreleased, 1);
    close(peer);
}

Test(conn, flush_gathers_more_ranges_than_one_sendmsg_takes)
{
    static char bytes[200];
    char buf[200];
    struct conn *c;
    int peer, i;

    nreleased = 0;
    c = new_conn(&peer);
    for (i = 0; i < 200; i++) {
        bytes[i] = pattern((size_t)i);
        cr_assert_eq(conn_write_ref(c, &bytes[i], 1, record_release,
                                    (void *)(intptr_t)i),
                     0);
    }
    cr_assert_eq(conn_flush(c), CONN_IO_OK);
    cr_assert_eq(outq_bytes(&c->out), 0);
    peer_recv(peer, buf, 200);
    cr_assert_eq(memcmp(buf, bytes, 200), 0);
    cr_assert_eq(nreleased, 200);
    for (i = 0; i < 200; i++) {
        cr_assert_eq(released[i], i);
    }
    conn_destroy(c);
    close(peer);
}

#define BIG (4 << 20) /* more than a socketpair buffers */

Test(conn, flush_on_a_full_socket_keeps_the_rest_until_the_peer_drains)
{
    static char big[BIG], buf[65536];
    struct conn *c;
    size_t got = 0, left;
    int64_t t0, t1, stall;
    int peer, rc;

    nreleased = 0;
    for (size_t i = 0; i < BIG; i++) {
        big[i] = pattern(i);
    }
    c = new_conn(&peer);
    cr_assert_eq(conn_write_ref(c, big, BIG, record_release, (void *)7), 0);
    t0 = util_now_ms();
    cr_assert_eq(conn_flush(c), CONN_IO_AGAIN);
    t1 = util_now_ms();
    left = outq_bytes(&c->out);
    cr_assert(left > 0 && left < BIG, "%zu of %d left", left, BIG);
    stall = c->stall_ms;
    cr_assert(stall >= t0 && stall <= t1, "stall_ms %lld not in [%lld, %lld]",
              (long long)stall, (long long)t0, (long long)t1);
    cr_assert_eq(nreleased, 0, "released with bytes unsent");

    /* Nothing moved: still stalled since the first attempt. */
    cr_assert_eq(conn_flush(c), CONN_IO_AGAIN);
    cr_assert_eq(outq_bytes(&c->out), left);
    cr_assert_eq(c->stall_ms, stall);

    /* The peer drains, the conn flushes again, until all is across. */
    do {
        ssize_t n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);

        if (n > 0) {
            cr_assert_eq(memcmp(buf, big + got, (size_t)n), 0,
                         "bytes out of order at %zu", got);
            got += (size_t)n;
        }
        cr_assert_eq(nreleased, 0);
        rc = conn_flush(c);
        cr_assert(rc == CONN_IO_OK || rc == CONN_IO_AGAIN, "flush: %d", rc);
    } while (rc == CONN_IO_AGAIN);
    cr_assert_eq(outq_bytes(&c->out), 0);
    cr_assert_eq(c->stall_ms, 0, "a finished flush is no stall");
    cr_assert_eq(nreleased, 1);
    cr_assert_eq(released[0], 7);
    while (got < BIG) {
        size_t k = BIG - got < sizeof(buf) ? BIG - got : sizeof(buf);

        peer_recv(peer, buf, k);
        cr_assert_eq(memcmp(buf, big + got, k), 0, "at %zu", got);
        got += k;
    }
    conn_destroy(c);
    cr_assert_eq(nreleased, 1, "released again at destroy");
    close(peer);
}

Test(conn, destroy_releases_an_unsent_ref_once)
{
    static char big[BIG];
    struct conn *c;
    int peer;

    nreleased = 0;
    c = new_conn(&peer);
    cr_assert_eq(conn_write_ref(c, "tiny", 4, record_release, (void *)1), 0);
    cr_assert_eq(conn_write_ref(c, big, BIG, record_release, (void *)2), 0);
    cr_assert_eq(conn_flush(c), CONN_IO_AGAIN);
    cr_assert_eq(nreleased, 1, "the sent ref was not released");
    cr_assert_eq(released[0], 1);
    conn_destroy(c);
    cr_assert_eq(nreleased, 2);
    cr_assert_eq(released[1], 2);
    close(peer);
}

Test(conn, flush_to_a_closed_peer_is_an_error_not_sigpipe)
{
    struct conn *c;
    int peer;

    c = new_conn(&peer);
    close(peer);
    cr_assert_eq(conn_write_buf(c, "late", 4), 0);
    cr_assert_eq(conn_flush(c), CONN_IO_ERR);
    conn_destroy(c);
}

/* ---- reading ---- */

Test(conn, read_returns_what_came_then_again)
{
    struct conn *c;
    int peer;

    c = new_conn(&peer);
    cr_assert_eq(conn_read(c), CONN_IO_AGAIN);
    peer_send(peer, 0, 10);
    cr_assert_eq(conn_read(c), 10);
    cr_assert_eq(c->drained, 1, "a short read leaves room");
    expect_unconsumed(c, 0, 10);
    cr_assert_eq(conn_read(c), CONN_IO_AGAIN);
    conn_destroy(c);
    close(peer);
}

Test(conn, read_returns_eof_after_the_peer_closes)
{
    struct conn *c;
    int peer;

    c = new_conn(&peer);
    peer_send(peer, 0, 3);
    close(peer);
    cr_assert_eq(conn_read(c), 3);
    cr_assert_eq(conn_read(c), CONN_IO_EOF);
    expect_unconsumed(c, 0, 3); /* what came before EOF stays */
    conn_destroy(c);
}

Test(conn, read_returns_err_on_a_reset)
{
    struct conn *c;
    int peer;

    c = new_conn(&peer);
    cr_assert_eq(conn_write_buf(c, "unread", 6), 0);
    cr_assert_eq(conn_flush(c), CONN_IO_OK);
    close(peer); /* with our bytes unread: a reset */
    cr_assert_eq(conn_read(c), CONN_IO_ERR);
    conn_destroy(c);
}

Test(conn, read_returns_0_when_rbuf_is_full)
{
    struct conn *c;
    int peer;

    c = new_conn(&peer);
    peer_send(peer, 0, CONN_RBUF + 100);
    read_until(c, CONN_RBUF);
    cr_assert_eq(c->drained, 0);
    cr_assert_eq(conn_read(c), 0, "bytes wait, but rbuf has no room");
    cr_assert_eq(c->rlen, CONN_RBUF);
    expect_unconsumed(c, 0, CONN_RBUF);
    conn_destroy(c);
    close(peer);
}

Test(conn, read_into_a_full_rbuf_moves_unconsumed_bytes_to_the_front)
{
    struct conn *c;
    int peer;

    c = new_conn(&peer);
    peer_send(peer, 0, CONN_RBUF + 100);
    read_until(c, CONN_RBUF);
    conn_consume(c, 40);
    cr_assert_eq(conn_read(c), 40);
    cr_assert_eq(c->rpos, 0);
    cr_assert_eq(c->rbuf, c->rbuf_inline);
    expect_unconsumed(c, 40, CONN_RBUF);
    conn_destroy(c);
    close(peer);
}

Test(conn, consume_of_everything_starts_the_next_read_at_the_front)
{
    struct conn *c;
    int peer;

    c = new_conn(&peer);
    peer_send(peer, 0, 10);
    read_until(c, 10);
    conn_consume(c, 4);
    cr_assert_eq(c->rpos, 4);
    conn_consume(c, 6);
    cr_assert_eq(c->rpos, 0);
    cr_assert_eq(c->rlen, 0);
    peer_send(peer, 10, 5);
    cr_assert_eq(conn_read(c), 5);
    expect_unconsumed(c, 10, 5);
    conn_destroy(c);
    close(peer);
}

Test(conn, reserve_grows_rbuf_keeping_the_unconsumed_bytes)
{
    struct conn *c;
    int peer;

    c = new_conn(&peer);
    peer_send(peer, 0, CONN_RBUF); /* the head of a 30000-byte request */
    read_until(c, CONN_RBUF);
    conn_consume(c, 100); /* the request before it */
    cr_assert_eq(conn_reserve(c, 30000), 0);
    cr_assert_neq(c->rbuf, c->rbuf_inline);
    cr_assert_eq(c->rcap, 2 * CONN_RBUF, "grown geometrically");
    cr_assert_eq(c->rpos, 0);
    expect_unconsumed(c, 100, CONN_RBUF - 100);
    peer_send(peer, CONN_RBUF, 30100 - CONN_RBUF);
    read_until(c, 30000); /* the rest of the request fits */
    expect_unconsumed(c, 100, 30000);
    cr_assert_eq(conn_reserve(c, 30000), 0, "room enough: no change");
    cr_assert_eq(c->rcap, 2 * CONN_RBUF);

    /* A larger need than twice the buffer is met exactly. */
    cr_assert_eq(conn_reserve(c, 100000), 0);
    cr_assert_eq(c->rcap, 100000);
    expect_unconsumed(c, 100, 30000);
    conn_destroy(c); /* frees the heap rbuf (ASan sees a leak) */
    close(peer);
}

Test(conn, consume_of_everything_gives_the_inline_buffer_back)
{
    struct conn *c;
    int peer;

    c = new_conn(&peer);
    peer_send(peer, 0, 20000);
    read_until(c, CONN_RBUF);
    cr_assert_eq(conn_reserve(c, 20000), 0);
    read_until(c, 20000);
    conn_consume(c, 19999);
    cr_assert_neq(c->rbuf, c->rbuf_inline, "a byte is still unconsumed");
    conn_consume(c, 1);
    cr_assert_eq(c->rbuf, c->rbuf_inline);
    cr_assert_eq(c->rcap, CONN_RBUF);
    cr_assert_eq(c->rpos, 0);
    cr_assert_eq(c->rlen, 0);
    peer_send(peer, 7, 3);
    cr_assert_eq(conn_read(c), 3);
    expect_unconsumed(c, 7, 3);
    conn_destroy(c);
    close(peer);
}

Test(conn, reserve_that_fits_the_inline_buffer_compacts_instead)
{
    struct conn *c;
    int peer;

    c = new_conn(&peer);
    peer_send(peer, 0, CONN_RBUF);
    read_until(c, CONN_RBUF);
    conn_consume(c, 1000);
    cr_assert_eq(conn_reserve(c, CONN_RBUF - 10), 0);
    cr_assert_eq(c->rbuf, c->rbuf_inline);
    cr_assert_eq(c->rpos, 0);
    expect_unconsumed(c, 1000, CONN_RBUF - 1000);
    conn_destroy(c);
    close(peer);
}

/* ---- lifetime ---- */

Test(conn, destroy_releases_state_closes_and_uncounts)
{
    struct conn *c;
    char b;
    int peer, open;

    atomic_store(&proto_released, 0);
    c = new_conn(&peer);
    open = atomic_load(&budget.open);
    conn_destroy(c);
    cr_assert_eq(atomic_load(&proto_released), 1);
    cr_assert_eq(atomic_load(&budget.open), open - 1);
    cr_assert_eq(recv(peer, &b, 1, 0), 0, "the socket was not closed");
    conn_destroy(NULL);
    cr_assert_eq(atomic_load(&proto_released), 1);
    close(peer);
}

/* ---- max_output ---- */

Test(conn, output_past_max_output_aborts_the_conn_and_counts_it)
{
    char buf[1000];
    int peer;
    struct conn *c = new_conn(&peer);
    long before = atomic_load(&budget.overflowed);

    memset(buf, 'x', sizeof(buf));
    atomic_store(&kind.max_output, 2500);
    cr_assert_eq(conn_write_buf(c, buf, 1000), 0);
    cr_assert_eq(conn_write_ref(c, buf, 1000, record_release, (void *)7), 0);
    cr_assert_eq(conn_output_check(c, 500), 0, "exactly at the bound");
    cr_assert_eq(c->abort, 0);
    nreleased = 0;
    cr_assert_eq(conn_write_ref(c, buf, 501, record_release, (void *)8),
                 CONN_IO_ERR);
    cr_assert_eq(nreleased, 1, "the refused range's owner is released");
    cr_assert_eq(released[0], 8);
    cr_assert(c->abort && c->closing, "aborted");
    cr_assert_eq(outq_bytes(&c->out), 2000, "nothing more queued");
    cr_assert_eq(atomic_load(&budget.overflowed), before + 1);
    /* Once over, nothing more is taken, and it is counted once. */
    cr_assert_eq(conn_write_buf(c, "y", 1), CONN_IO_ERR);
    cr_assert_eq(atomic_load(&budget.overflowed), before + 1);
    atomic_store(&kind.max_output, 0);
    conn_destroy(c);
    close(peer);
}

Test(conn, held_bytes_count_against_max_output)
{
    struct iovec iov[2] = {{"abc", 3}, {"defg", 4}};
    int peer;
    struct conn *c = new_conn(&peer);

    atomic_store(&kind.max_output, 10);
    cr_assert_eq(conn_write(c, iov, 2), 0);
    cr_assert_eq(conn_output_check(c, 3), 0);
    cr_assert_eq(conn_output_check(c, 4), CONN_IO_ERR);
    cr_assert(c->abort);
    atomic_store(&kind.max_output, 0);
    conn_destroy(c);
    close(peer);
}

Test(conn, no_max_output_takes_anything)
{
    static char big[1 << 20];
    int peer;
    struct conn *c = new_conn(&peer);

    atomic_store(&kind.max_output, 0);
    cr_assert_eq(conn_write_buf(c, big, sizeof(big)), 0);
    cr_assert_eq(conn_output_check(c, (size_t)1 << 40), 0);
    cr_assert_eq(c->abort, 0);
    conn_destroy(c);
    close(peer);
}

/* ---- making room: the conn that has waited longest for a request ---- */

static struct conn_budget reuse_budget;
static struct conn_kind reuse_kind = {.ops = &test_ops,
                                      .budget = &reuse_budget};

static struct conn *
reuse_conn(int *peer)
{
    struct conn *c;
    int sv[2];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert_eq(util_set_nonblock(sv[0]), 0);
    c = conn_create(sv[0], &reuse_kind);
    cr_assert_not_null(c);
    atomic_fetch_add(&reuse_budget.open, 1);
    *peer = sv[1];
    return c;
}

/* 1 when the conn's side of peer was shut down (the peer reads EOF). */
static int
shut_down(int peer)
{
    char b;

    return recv(peer, &b, 1, MSG_DONTWAIT) == 0;
}

Test(conn, room_is_made_by_closing_the_longest_idle_conn)
{
    struct conn *a, *b, *c;
    int pa, pb, pc;
    char byte = 'x';

    conn_budget_init(&reuse_budget, 3, 1);
    a = reuse_conn(&pa); /* new conns wait for a first request */
    b = reuse_conn(&pb);
    c = reuse_conn(&pc);
    /* a sends: it is busy, no longer a candidate; b is the oldest. */
    cr_assert_eq(send(pa, &byte, 1, 0), 1);
    cr_assert_eq(conn_read(a), 1);
    cr_assert_eq(conn_budget_make_room(&reuse_budget), 1);
    cr_assert(shut_down(pb), "b was the oldest waiting");
    cr_assert(!shut_down(pa) && !shut_down(pc));
    /* a answered and idle again: now the youngest. */
    conn_idle(a);
    conn_idle(b); /* b was shut down: never a candidate again */
    cr_assert_eq(conn_budget_make_room(&reuse_budget), 1);
    cr_assert(shut_down(pc), "c before a");
    cr_assert_eq(conn_budget_make_room(&reuse_budget), 1);
    cr_assert(shut_down(pa));
    cr_assert_eq(conn_budget_make_room(&reuse_budget), 0, "none waits now");
    cr_assert_eq(atomic_load(&reuse_budget.reused), 3);
    conn_destroy(a);
    conn_destroy(b);
    conn_destroy(c);
    close(pa);
    close(pb);
    close(pc);
    conn_budget_deinit(&reuse_budget);
}

Test(conn, a_destroyed_conn_leaves_the_list)
{
    struct conn *a, *b;
    int pa, pb;

    conn_budget_init(&reuse_budget, 2, 1);
    a = reuse_conn(&pa);
    b = reuse_conn(&pb);
    conn_destroy(a);
    cr_assert_eq(conn_budget_make_room(&reuse_budget), 1);
    cr_assert(shut_down(pb));
    cr_assert_eq(conn_budget_make_room(&reuse_budget), 0);
    conn_destroy(b);
    close(pa);
    close(pb);
    conn_budget_deinit(&reuse_budget);
}

Test(conn, without_reuse_no_room_is_made)
{
    int peer;
    struct conn *c = new_conn(&peer);

    cr_assert_eq(conn_budget_make_room(&budget), 0);
    cr_assert(!shut_down(peer));
    conn_destroy(c);
    close(peer);
}
