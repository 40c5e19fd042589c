/*
 * Unit tests for waiter, over real sockets and a real work queue (fixture:
 * waiter_helpers.h): attach gives a conn a slot for life and refuses a
 * socket epoll cannot watch (giving the slot back) or a full table; a
 * parked conn whose peer sent bytes or hung up is handed to a taker exactly
 * once; being edge-triggered, a re-parked conn wakes for new input, not for
 * input its owner left unread; a queued item wakes a taker; an idle conn is
 * closed at (never before) its deadline, silently or with "408 Request
 * Timeout" for an HTTP conn holding a partial request, but never with a
 * 408 spliced into a response still being sent; input that arrived
 * before a deadline while no worker was free is queued, not dropped;
 * waiter_count; waiter_stop hands conns with input or unsent output to the
 * queue, closes the rest, refuses later attaches and parks, and the reports
 * epoll still holds are dropped; waiter_destroy closes every parked conn.
 * Readiness while a worker has the conn, stale reports, writability,
 * watched descriptors and many takers at once: test_waiter_ready.c.
 *
 * The waiter's thread scans deadlines every 100 ms, so the tests wait for
 * its effects with bounded polls. Nothing asserts how fast it is, only
 * what it did; that it did not act too early is shown by ordering (a
 * control conn expired by a later scan), not by sleeping.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "waiter_helpers.h"

static const char status_408[] = "HTTP/1.1 408 Request Timeout\r\n";

/* ---- lifecycle and attach ---- */

Test(waiter, destroy_of_null_does_nothing)
{
    waiter_destroy(NULL);
}

Test(waiter, create_refuses_zero_slots)
{
    struct workq *q = workq_create(4);

    cr_assert_not_null(q);
    cr_assert_null(waiter_create(q, 0));
    workq_destroy(q);
}

Test(waiter, new_waiter_holds_nothing)
{
    struct fixture f;

    setup(&f);
    cr_assert_eq(waiter_count(f.w), 0);
    teardown(&f);
}

Test(waiter, attach_of_a_socket_epoll_cannot_watch_is_refused)
{
    struct fixture f;
    struct conn *c, *ok;
    FILE *tmp = tmpfile();
    int fd, peer;

    setup_slots(&f, 1);
    cr_assert_not_null(tmp);
    fd = dup(fileno(tmp)); /* a regular file: epoll_ctl says EPERM */
    cr_assert_geq(fd, 0);
    fclose(tmp);
    c = conn_create(fd, &f.kinds[KIND_RESP]);
    cr_assert_not_null(c);
    atomic_fetch_add(&f.budget.open, 1);
    cr_assert_eq(waiter_attach(f.w, c), -1);
    cr_assert_eq(c->attached, 0);
    cr_assert_eq(atomic_load(&f.budget.open), 1, "the caller still owns it");
    waiter_drop(f.w, c); /* right for a conn never attached */
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    /* The only slot was given back. */
    ok = new_conn(&f, KIND_RESP, &peer);
    waiter_drop(f.w, ok);
    close(peer);
    teardown(&f);
}

Test(waiter, attach_to_a_full_waiter_is_refused_until_a_conn_is_dropped)
{
    struct fixture f;
    struct conn *a, *b, *extra;
    uint32_t b_slot;
    int pa, pb, pe;

    setup_slots(&f, 2);
    a = new_conn(&f, KIND_RESP, &pa);
    b = new_conn(&f, KIND_RESP, &pb);
    cr_assert_neq(a->slot, b->slot);
    extra = new_detached(&f, KIND_RESP, &pe);
    cr_assert_eq(waiter_attach(f.w, extra), -1);
    cr_assert_eq(extra->attached, 0);
    park(&f, a, util_now_ms() + FAR_MS); /* parked conns keep their slot */
    cr_assert_eq(waiter_attach(f.w, extra), -1);
    b_slot = b->slot;
    waiter_drop(f.w, b);
    cr_assert_eq(waiter_attach(f.w, extra), 0);
    cr_assert_eq(extra->slot, b_slot);
    waiter_drop(f.w, extra);
    teardown(&f); /* closes a */
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    close(pa);
    close(pb);
    close(pe);
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
    wait_for_a_scan(&f);
    wait_for_a_scan(&f); /* the second began after c was surely parked */
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
    waiter_drop(f.w, c);
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    expect_closed_silently(peer, 0);
    close(peer);
    teardown(&f);
}

Test(waiter, reparked_conn_wakes_again_for_new_input_only)
{
    struct fixture f;
    struct conn *c;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() + FAR_MS);
    send_byte(peer, 'a');
    send_byte(peer, 'b');
    cr_assert_eq(take(&f), c);

    /* Edge-triggered: input the owner left unread is no new edge. */
    park(&f, c, util_now_ms() + FAR_MS);
    expect_no_take(&f, 50);
    send_byte(peer, 'c');
    cr_assert_eq(take(&f), c, "new input did not wake it");
    cr_assert_eq(drain_conn(c), 3);
    cr_assert_eq(memcmp(c->rbuf, "abc", 3), 0);

    /* Drained: parked again, it waits for the next byte. */
    park(&f, c, util_now_ms() + FAR_MS);
    expect_no_take(&f, 50);
    cr_assert_eq(waiter_count(f.w), 1);
    send_byte(peer, 'd');
    cr_assert_eq(take(&f), c, "new input did not wake it");
    cr_assert_eq(conn_read(c), 1);
    cr_assert_eq(c->rbuf[c->rpos], 'd');
    cr_assert_eq(waiter_count(f.w), 0);
    waiter_drop(f.w, c);
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
    waiter_drop(f.w, c);
    teardown(&f);
}

Test(waiter, queued_item_wakes_a_taker, .timeout = 10)
{
    struct fixture f;
    struct conn *out[4];
    int item = 7;
    void *got;

    setup(&f);
    cr_assert_eq(workq_push(f.q, &item), WORKQ_OK);
    /* With no limit: returns only because the queue's fd is in the set. */
    cr_assert_eq(waiter_wait(f.w, out, 4, -1), 0);
    cr_assert_eq(workq_trypop(f.q, &got), WORKQ_OK);
    cr_assert_eq(got, &item);
    expect_no_take(&f, 50); /* the queue is empty again */
    workq_shutdown(f.q);
    cr_assert_eq(waiter_wait(f.w, out, 4, -1), 0,
                 "shutdown did not wake a taker");
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
    expect_closed_silently(peer, WAIT_MS);
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
    expect_closed_silently(peer, WAIT_MS);
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
    expect_closed_silently(peer_soon, WAIT_MS);
    cr_assert_eq(wait_open(&f.budget.open, 1), 1);
    cr_assert_eq(waiter_count(f.w), 1);
    expect_peer_open(peer_late);
    send_byte(peer_late, 'x'); /* the survivor still wakes */
    cr_assert_eq(take(&f), late);
    waiter_drop(f.w, late);
    close(peer_soon);
    close(peer_late);
    teardown(&f);
}

Test(waiter, conn_parked_with_deadline_zero_never_expires)
{
    struct fixture f;
    struct conn *c;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, 0);
    wait_for_a_scan(&f);
    wait_for_a_scan(&f);
    cr_assert_eq(waiter_count(f.w), 1);
    cr_assert_eq(atomic_load(&f.budget.open), 1);
    expect_peer_open(peer);
    send_byte(peer, 'x'); /* still watched */
    cr_assert_eq(take(&f), c);
    waiter_drop(f.w, c);
    close(peer);
    teardown(&f);
}

Test(waiter, input_that_arrived_while_workers_were_busy_outlives_the_deadline)
{
    struct fixture f;
    struct conn *c;
    int64_t until;
    void *got;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() + 100);
    send_byte(peer, 'x'); /* in time, but nobody calls waiter_wait */
    until = util_now_ms() + WAIT_MS;
    while (workq_depth(f.q) == 0 && atomic_load(&f.budget.open) == 1 &&
           util_now_ms() < until) {
        sleep_ms(2);
    }
    cr_assert_eq(atomic_load(&f.budget.open), 1,
                 "a request that came in time was dropped");
    cr_assert_eq(waiter_count(f.w), 0);
    cr_assert_eq(workq_trypop(f.q, &got), WORKQ_OK,
                 "the readable conn was not queued for a worker");
    cr_assert_eq(got, c);
    cr_assert_eq(conn_read(c), 1);
    cr_assert_eq(c->rbuf[0], 'x');
    /* Parked again, it is still watched. */
    park(&f, c, util_now_ms() + FAR_MS);
    send_byte(peer, 'y');
    cr_assert_eq(take(&f), c);
    waiter_drop(f.w, c);
    close(peer);
    teardown(&f);
}

Test(waiter, http_conn_with_partial_request_gets_408_then_close)
{
    struct fixture f;
    struct conn *c;
    char buf[512], *body, *cl;
    size_t len;
    int peer, rc;

    setup(&f);
    c = new_conn(&f, KIND_HTTP, &peer);
    c->req_start_ms = util_now_ms();
    park(&f, c, util_now_ms() + 200);
    rc = peer_read_all(peer, WAIT_MS, buf, sizeof(buf), &len);
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
    cl = strstr(buf, "\r\nContent-Length: ");
    cr_assert_not_null(cl);
    cr_assert_eq(strlen(body + 4), strtoul(cl + 18, NULL, 10),
                 "body '%s' vs its Content-Length", body + 4);
    cr_assert_eq(wait_open(&f.budget.open, 0), 0);
    close(peer);
    teardown(&f);
}

/* A client that stopped reading mid-response, its next request partly
 * sent: at the send timeout the conn closes, and no 408 is spliced into
 * the response the client was receiving. */
Test(waiter, http_conn_expired_mid_response_gets_no_408_inside_it)
{
    enum { RESP_LEN = 1 << 20 };
    static char resp[RESP_LEN], got[RESP_LEN];
    struct fixture f;
    struct conn *c;
    size_t len = 0, sent;
    ssize_t n;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_HTTP, &peer);
    for (size_t i = 0; i < RESP_LEN; i++) {
        resp[i] = (char)('a' + i % 26);
    }
    cr_assert_eq(conn_write_buf(c, resp, RESP_LEN), 0);
    cr_assert_eq(conn_flush(c), CONN_IO_AGAIN);
    sent = RESP_LEN - outq_bytes(&c->out);
    c->req_start_ms = util_now_ms();
    cr_assert_eq(waiter_want_write(f.w, c, c->fd), 0);
    /* The client reads a little (room for a 408), then stops. */
    while (len < 65536 && (n = recv(peer, got + len, 65536 - len, 0)) > 0) {
        len += (size_t)n;
    }
    park(&f, c, util_now_ms() - 1);
    cr_assert_eq(wait_open(&f.budget.open, 0), 0);
    while ((n = recv(peer, got + len, RESP_LEN - len, 0)) > 0) {
        len += (size_t)n;
    }
    cr_assert_eq(n, 0, "recv: %s", strerror(errno));
    cr_assert_eq(memcmp(got, resp, len), 0,
                 "the client got bytes that are not its response");
    cr_assert_eq(len, sent, "got %zu bytes, %zu were sent", len, sent);
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
    expect_closed_silently(peer, WAIT_MS);
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
    expect_closed_silently(peer, WAIT_MS);
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
        cr_assert_eq(waiter_count(f.w), i, "an attached conn is not parked");
        park(&f, c[i], util_now_ms() + FAR_MS);
        cr_assert_eq(waiter_count(f.w), i + 1);
    }
    send_byte(peer[1], 'x');
    cr_assert_eq(take(&f), c[1]);
    cr_assert_eq(waiter_count(f.w), 2);
    waiter_drop(f.w, c[1]);
    c[3] = new_conn(&f, KIND_RESP, &peer[3]);
    park(&f, c[3], util_now_ms() + 100);
    cr_assert_eq(waiter_count(f.w), 3);
    cr_assert_eq(wait_count(f.w, 2), 2, "the expired conn is still counted");
    expect_closed_silently(peer[3], WAIT_MS);
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
        waiter_drop(f.w, c[i]);
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
    struct conn *c[3], *held, *late;
    int peer[3], peer_held, peer_late, i;

    setup(&f);
    for (i = 0; i < 3; i++) {
        c[i] = new_conn(&f, KIND_RESP, &peer[i]);
        park(&f, c[i], util_now_ms() + FAR_MS);
    }
    held = new_conn(&f, KIND_RESP, &peer_held); /* a worker has it */
    waiter_stop(f.w);
    cr_assert_eq(atomic_load(&f.budget.open), 1,
                 "stop returned with parked conns open");
    cr_assert_eq(waiter_count(f.w), 0);
    for (i = 0; i < 3; i++) {
        expect_closed_silently(peer[i], 0);
        close(peer[i]);
    }
    cr_assert_eq(waiter_park(f.w, held, util_now_ms() + FAR_MS), -1);
    cr_assert_eq(waiter_count(f.w), 0);
    expect_peer_open(peer_held); /* still the caller's */
    late = new_detached(&f, KIND_RESP, &peer_late);
    cr_assert_eq(waiter_attach(f.w, late), -1);
    cr_assert_eq(late->attached, 0);
    waiter_stop(f.w); /* idempotent */
    waiter_drop(f.w, held);
    waiter_drop(f.w, late);
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    expect_closed_silently(peer_held, 0);
    expect_closed_silently(peer_late, 0);
    close(peer_held);
    close(peer_late);
    teardown(&f);
}

Test(waiter, stop_hands_conns_with_input_or_output_to_the_queue)
{
    struct fixture f;
    struct conn *in, *out, *idle;
    int peer_in, peer_out, peer_idle, i;
    void *got;

    setup(&f);
    in = new_conn(&f, KIND_RESP, &peer_in);
    out = new_conn(&f, KIND_RESP, &peer_out);
    idle = new_conn(&f, KIND_RESP, &peer_idle);
    cr_assert_eq(conn_write_buf(out, "+OK\r\n", 5), 0); /* not yet sent */
    park(&f, in, util_now_ms() + FAR_MS);
    park(&f, out, util_now_ms() + FAR_MS);
    park(&f, idle, util_now_ms() + FAR_MS);
    send_byte(peer_in, 'x'); /* a request in flight, not yet taken */
    waiter_stop(f.w);
    expect_closed_silently(peer_idle, 0);
    cr_assert_eq(atomic_load(&f.budget.open), 2);
    cr_assert_eq(waiter_count(f.w), 0);
    /* The queue's wake-up, and the report epoll still held for `in`, are
     * not conns for a taker: the queue has them now. */
    for (i = 0; i < 4; i++) {
        expect_no_take(&f, 20);
    }
    cr_assert_eq(workq_depth(f.q), 2);
    cr_assert_eq(workq_trypop(f.q, &got), WORKQ_OK);
    cr_assert_eq(got, in, "the conn with input was not queued first");
    cr_assert_eq(workq_trypop(f.q, &got), WORKQ_OK);
    cr_assert_eq(got, out, "the conn with unsent output was not queued");
    cr_assert_eq(conn_read(in), 1);
    cr_assert_eq(conn_flush(out), CONN_IO_OK);
    waiter_drop(f.w, in);
    waiter_drop(f.w, out);
    close(peer_in);
    close(peer_out);
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
