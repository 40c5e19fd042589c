/*
 * Unit tests for waiter_retime (a reload changing the timeouts of conns
 * already parked), over real sockets (fixture: waiter_helpers.h): every
 * parked conn, and only those, gets the deadline the function gives it
 * now, shorter (the next scan closes it, with a 408 for an HTTP conn
 * holding a partial request) or longer (a scan that would have closed it
 * leaves it); a conn whose input comes around the retime is still handed
 * on exactly once; a waiter with nothing parked retimes nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "waiter_helpers.h"

static int64_t
passed(const struct conn *c, int64_t now)
{
    (void)c;
    return now - 1;
}

static int64_t
far(const struct conn *c, int64_t now)
{
    (void)c;
    return now + FAR_MS;
}

/* What a worker would park an idle conn with: its kind's idle timeout. */
static int64_t
idle_of_kind(const struct conn *c, int64_t now)
{
    return now + atomic_load(&c->kind->idle_timeout_ms);
}

Test(waiter_retime, nothing_parked_retimes_nothing)
{
    struct fixture f;
    struct conn *c;
    int peer;

    setup(&f);
    cr_assert_eq(waiter_retime(f.w, passed), 0);
    c = new_conn(&f, KIND_RESP, &peer); /* attached, but the test has it */
    cr_assert_eq(waiter_retime(f.w, passed), 0);
    cr_assert_eq(c->attached, 1);
    park(&f, c, util_now_ms() + FAR_MS);
    cr_assert_eq(waiter_count(f.w), 1);
    teardown(&f);
    close(peer);
}

/* Three conns parked far out; a shorter timeout (the kind's idle timeout
 * lowered, as a reload does) closes them at the next scans; a conn the
 * test holds is not touched. */
Test(waiter_retime, a_shorter_deadline_closes_parked_conns)
{
    struct fixture f;
    struct conn *c[3], *held;
    int peer[3], hpeer, i;

    setup(&f);
    for (i = 0; i < 3; i++) {
        c[i] = new_conn(&f, KIND_RESP, &peer[i]);
        park(&f, c[i], util_now_ms() + FAR_MS);
    }
    held = new_conn(&f, KIND_RESP, &hpeer);
    cr_assert_eq(waiter_count(f.w), 3);
    atomic_store(&f.kinds[KIND_RESP].idle_timeout_ms, 50);
    cr_assert_eq(waiter_retime(f.w, idle_of_kind), 3);
    for (i = 0; i < 3; i++) {
        expect_closed_silently(peer[i], WAIT_MS);
        close(peer[i]);
    }
    cr_assert_eq(wait_open(&f.budget.open, 1), 1);
    cr_assert_eq(held->attached, 1);
    expect_peer_open(hpeer);
    park(&f, held, util_now_ms() + FAR_MS);
    teardown(&f);
    close(hpeer);
}

/* An HTTP conn with a partial request, retimed to a passed deadline,
 * gets its 408 from the next scan. */
Test(waiter_retime, a_partial_request_past_its_new_deadline_gets_408)
{
    static const char want[] = "HTTP/1.1 408 Request Timeout\r\n";
    struct fixture f;
    struct conn *c;
    char buf[1024];
    size_t len;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_HTTP, &peer);
    c->req_start_ms = util_now_ms();
    park(&f, c, util_now_ms() + FAR_MS);
    cr_assert_eq(waiter_retime(f.w, passed), 1);
    cr_assert_eq(peer_read_all(peer, WAIT_MS, buf, sizeof(buf), &len),
                 PEER_EOF);
    cr_assert(len >= sizeof(want) - 1 &&
                  memcmp(buf, want, sizeof(want) - 1) == 0,
              "got '%.*s'", (int)len, buf);
    teardown(&f);
    close(peer);
}

/* A conn parked with a deadline about to pass, retimed far out, outlives
 * two scans. */
Test(waiter_retime, a_longer_deadline_keeps_a_conn)
{
    struct fixture f;
    struct conn *c;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() + 150);
    cr_assert_eq(waiter_retime(f.w, far), 1);
    wait_for_a_scan(&f);
    wait_for_a_scan(&f);
    wait_for_a_scan(&f);
    cr_assert_eq(waiter_count(f.w), 1);
    expect_peer_open(peer);
    teardown(&f);
    close(peer);
}

/* Input that arrived for a parked conn: whether the report claims it
 * before the retime or the retime parks it back after the report, it is
 * handed on once, to a taker or the queue, never lost, never twice. */
Test(waiter_retime, a_conn_with_input_is_handed_on_once)
{
    struct fixture f;
    struct conn *c, *got[16];
    void *item;
    int peer, n = 0, k;
    int64_t until;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() + FAR_MS);
    send_byte(peer, 'x');
    waiter_retime(f.w, far);
    until = util_now_ms() + WAIT_MS;
    while (n == 0 && util_now_ms() < until) {
        k = waiter_wait(f.w, got, 16, 20);
        for (int i = 0; i < k; i++) {
            cr_assert_eq(got[i], c);
        }
        n += k;
        while (workq_trypop(f.q, &item) == WORKQ_OK) {
            cr_assert_eq(item, c);
            n++;
        }
    }
    cr_assert_eq(n, 1, "handed on %d times", n);
    cr_assert_eq(waiter_wait(f.w, got, 16, 100), 0, "handed on again");
    cr_assert_neq(workq_trypop(f.q, &item), WORKQ_OK, "queued again");
    cr_assert_eq(drain_conn(c), 1);
    park(&f, c, util_now_ms() + FAR_MS);
    teardown(&f);
    close(peer);
}
