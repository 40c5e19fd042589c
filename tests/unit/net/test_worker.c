/*
 * Unit tests of the worker threads (net/worker.h) with the accept loop,
 * the work queue and the waiter, as main.c wires them, on real loopback
 * sockets and a line-echo protocol of the test's (echo_helpers.h): a conn
 * accepted and served, pipelined requests answered in order, a request
 * sent in two pieces answered once whole (the conn parked in between); a
 * worker held by one conn while the other worker serves another one (the
 * busy count says two); a conn its protocol closes gets its last reply
 * first, and one whose client leaves is closed; over max_clients the
 * busy reply while the others are served; a reload's new idle timeout
 * reaching a conn already parked only through worker_pool_retime.
 */
#include "echo_helpers.h"

#include "net/waiter.h"

#define WORKERS 2

static struct waiter *w;
static struct worker_pool *wp;

/* The listener (max_clients), the waiter and WORKERS workers. */
static void
serve_up(int max_clients)
{
    echo_listen(max_clients, 0);
    w = waiter_create(ef.q, 64);
    cr_assert_not_null(w);
    wp = worker_pool_create(WORKERS, WORKERS, ef.q, w);
    cr_assert_not_null(wp);
    echo_accept_start();
}

/* In main.c's order: the listener, the waiter, the queue, the workers. */
static void
teardown(void)
{
    echo_accept_stop();
    if (w != NULL) {
        waiter_stop(w);
        workq_shutdown(ef.q);
        worker_pool_destroy(wp);
        waiter_destroy(w);
    }
    echo_close();
}

TestSuite(worker, .fini = teardown, .timeout = 30);

/* Waits (bounded) until the budget counts open conns. */
static void
await_open(int open)
{
    UNIT_AWAIT(ECHO_WAIT_MS, atomic_load(&ef.budget.open) == open,
               "%d open, not %d", atomic_load(&ef.budget.open), open);
}

Test(worker, a_conn_is_accepted_and_served_in_order)
{
    int c;

    serve_up(8);
    c = client();
    client_send(c, "hello\n");
    client_expect(c, "+hello\r\n");
    client_send(c, "a\nb\nc\n");
    client_expect(c, "+a\r\n+b\r\n+c\r\n");
    client_send(c, "par");
    await_open(1);
    UNIT_AWAIT(ECHO_WAIT_MS, waiter_count(w) == 1, "the conn was never parked");
    client_send(c, "tial\n");
    client_expect(c, "+partial\r\n");
    cr_assert_eq(atomic_load(&ef.budget.accepted), 1);
    close(c);
}

/* 1 while a WAIT holds a worker. */
static int
holding(void)
{
    int h;

    pthread_mutex_lock(&seen.lock);
    h = seen.waiting;
    pthread_mutex_unlock(&seen.lock);
    return h;
}

Test(worker, one_worker_held_the_other_serves)
{
    int a, b;

    serve_up(8);
    a = client();
    b = client();
    client_send(a, "WAIT\n");
    UNIT_AWAIT(ECHO_WAIT_MS, holding(), "WAIT never reached a worker");
    cr_assert_eq(worker_pool_busy(wp), 1);
    client_send(b, "GO\n");
    client_expect(b, "+GO\r\n");
    client_expect(a, "+WAIT\r\n");
    pthread_mutex_lock(&seen.lock);
    cr_assert_neq(seen.wait_index, seen.go_index, "served by another worker");
    cr_assert_lt(seen.wait_index, WORKERS);
    cr_assert_lt(seen.go_index, WORKERS);
    pthread_mutex_unlock(&seen.lock);
    UNIT_AWAIT(ECHO_WAIT_MS, worker_pool_busy(wp) == 0, "a worker stayed busy");
    close(a);
    close(b);
}

Test(worker, a_conn_closed_by_its_protocol_gets_its_reply_first)
{
    int c;

    serve_up(8);
    c = client();
    client_send(c, "x\nQUIT\ny\n");
    client_expect(c, "+x\r\n+BYE\r\n");
    client_expect_eof(c);
    await_open(0);
    close(c);
}

Test(worker, a_client_that_leaves_is_closed)
{
    int c;

    serve_up(8);
    c = client();
    client_send(c, "x\n");
    client_expect(c, "+x\r\n");
    await_open(1);
    close(c);
    await_open(0);
}

Test(worker, over_max_clients_the_busy_reply_while_others_are_served)
{
    int a, b, c;

    serve_up(2);
    a = client();
    b = client();
    client_send(a, "a\n");
    client_send(b, "b\n");
    client_expect(a, "+a\r\n");
    client_expect(b, "+b\r\n");
    c = client();
    client_expect_busy(c);
    client_expect_eof(c);
    client_send(a, "still\n");
    client_expect(a, "+still\r\n");
    cr_assert_eq(atomic_load(&ef.budget.rejected), 1);
    close(b);
    await_open(1);
    close(c);
    c = client(); /* room again */
    client_send(c, "c\n");
    client_expect(c, "+c\r\n");
    close(a);
    close(c);
}

Test(worker, a_new_idle_timeout_reaches_parked_conns_through_retime)
{
    int c;

    serve_up(8);
    c = client();
    client_send(c, "x\n");
    client_expect(c, "+x\r\n");
    UNIT_AWAIT(ECHO_WAIT_MS, waiter_count(w) == 1, "the conn was never parked");
    /* A reload shortens the idle timeout: the parked conn keeps the
     * deadline it was parked with (a minute) until it is retimed. */
    atomic_store(&ef.kind.idle_timeout_ms, 100);
    sleep_ms(300);
    cr_assert_eq(atomic_load(&ef.budget.open), 1, "closed without retime");
    cr_assert_eq(worker_pool_retime(wp), 1, "one conn parked");
    client_expect_eof(c);
    await_open(0);
    close(c);
}
