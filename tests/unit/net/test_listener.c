/*
 * Unit tests of the listening sockets and the accept loop
 * (net/listener.h) on real loopback sockets: listener_open's socket and
 * its errors; accepted conns queued non-blocking, close-on-exec, with
 * TCP_NODELAY, of the listener's kind, counted in its budget; over
 * max_clients the kind's busy reply (the canned 503) and an orderly close
 * even for a client that had already sent a request, nothing queued;
 * with reuse, an idle conn shut down to make room instead; a TLS
 * listener's refusal said with a close alone; the stop fd ending the loop
 * after the connections already waiting are taken.
 */
#include "echo_helpers.h"

#include <fcntl.h>
#include <netinet/tcp.h>

#include "tls_helpers.h"

static void
teardown(void)
{
    echo_close();
}

TestSuite(listener, .fini = teardown, .timeout = 30);

/* The next conn the accept loop queued (bounded wait). */
static struct conn *
queued(void)
{
    void *item;

    UNIT_AWAIT(ECHO_WAIT_MS, workq_trypop(ef.q, &item) == WORKQ_OK,
               "nothing was queued");
    return item;
}

Test(listener, open_makes_a_nonblocking_listening_socket_or_says_why)
{
    char err[256] = "";
    int flags, one = 0, fd;
    socklen_t len = sizeof(one);
    char want[128];

    echo_listen(4, 0);
    flags = fcntl(ef.l.fd, F_GETFL);
    cr_assert(flags & O_NONBLOCK);
    cr_assert(fcntl(ef.l.fd, F_GETFD) & FD_CLOEXEC);
    cr_assert_eq(getsockopt(ef.l.fd, SOL_SOCKET, SO_ACCEPTCONN, &one, &len), 0);
    cr_assert_eq(one, 1, "listening");
    fd = listener_open("127.0.0.1", ef.port, err, sizeof(err));
    cr_assert_eq(fd, -1, "the port is taken");
    snprintf(want, sizeof(want),
             "cannot listen on 127.0.0.1:%d: Address already in use", ef.port);
    cr_assert_str_eq(err, want);
    fd = listener_open("not-an-address.invalid", 1, err, sizeof(err));
    cr_assert_eq(fd, -1);
    snprintf(want, sizeof(want),
             "cannot resolve bind address 'not-an-address.invalid': ");
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
}

Test(listener, accepted_conns_are_queued_ready_to_serve)
{
    struct conn *c;
    int cfd, nodelay = 0;
    socklen_t len = sizeof(nodelay);
    char b;

    echo_listen(4, 0);
    echo_accept_start();
    cfd = client();
    c = queued();
    cr_assert_eq(c->kind, &ef.kind);
    cr_assert_null(c->tls);
    cr_assert(fcntl(c->fd, F_GETFL) & O_NONBLOCK);
    cr_assert(fcntl(c->fd, F_GETFD) & FD_CLOEXEC);
    cr_assert_eq(getsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len),
                 0);
    cr_assert_eq(nodelay, 1);
    cr_assert_eq(atomic_load(&ef.budget.open), 1);
    cr_assert_eq(atomic_load(&ef.budget.accepted), 1);
    cr_assert_eq(atomic_load(&ef.budget.rejected), 0);
    /* It is the client's connection. */
    client_send(cfd, "x");
    UNIT_AWAIT(ECHO_WAIT_MS, recv(c->fd, &b, 1, 0) == 1, "nothing came");
    cr_assert_eq(b, 'x');
    conn_destroy(c);
    cr_assert_eq(atomic_load(&ef.budget.open), 0);
    close(cfd);
}

Test(listener, over_max_clients_the_busy_reply_then_an_orderly_close)
{
    struct conn *first;
    int a, b;

    echo_listen(1, 0);
    a = client();
    /* b connects and sends a request before the loop runs: it is in the
     * kernel's queue, its bytes with it. */
    b = client();
    client_send(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    echo_accept_start();
    first = queued();
    client_expect_busy(b);
    client_expect_eof(b); /* a FIN: its request was read, not reset */
    cr_assert_eq(atomic_load(&ef.budget.rejected), 1);
    cr_assert_eq(atomic_load(&ef.budget.accepted), 1);
    cr_assert_eq(atomic_load(&ef.budget.open), 1);
    cr_assert_eq(workq_depth(ef.q), 0, "the refused one never queued");
    conn_destroy(first);
    close(a);
    close(b);
}

Test(listener, with_reuse_an_idle_conn_makes_room)
{
    struct conn *first, *second;
    int a, b;

    echo_listen(1, 1);
    echo_accept_start();
    a = client();
    first = queued();
    conn_idle(first); /* as a worker parks it waiting for a request */
    b = client();
    second = queued();
    cr_assert_eq(atomic_load(&ef.budget.reused), 1);
    cr_assert_eq(atomic_load(&ef.budget.rejected), 0);
    client_expect_eof(a); /* shut down: its owner reads EOF and closes */
    conn_destroy(first);
    conn_destroy(second);
    cr_assert_eq(atomic_load(&ef.budget.open), 0);
    close(a);
    close(b);
}

Test(listener, a_tls_listener_refuses_with_a_close_alone)
{
    struct conn *first;
    int a, b;

    echo_listen(1, 0);
    ef.kind.tls = server_ctx("server", TLS_VERIFY_OFF);
    echo_accept_start();
    a = client();
    first = queued();
    cr_assert_not_null(first->tls, "a TLS conn, its handshake to come");
    b = client();
    client_expect_eof(b); /* not a byte: a reply could only follow a
                             handshake */
    cr_assert_eq(atomic_load(&ef.budget.rejected), 1);
    conn_destroy(first);
    echo_accept_stop();
    tls_ctx_release(ef.kind.tls);
    close(a);
    close(b);
}

Test(listener, the_stop_fd_ends_the_loop_after_taking_what_waits)
{
    uint64_t one = 1;
    int a, b;

    echo_listen(8, 0);
    a = client();
    b = client();
    cr_assert_eq(write(ef.stopfd, &one, sizeof(one)), (ssize_t)sizeof(one));
    cr_assert_eq(listener_run(&ef.l, 1, ef.q, ef.stopfd), 0);
    cr_assert_eq(workq_depth(ef.q), 2, "both clients were taken");
    cr_assert_eq(listener_run(&ef.l, 9, ef.q, ef.stopfd), -1,
                 "more listeners than it can watch");
    close(a);
    close(b);
}
