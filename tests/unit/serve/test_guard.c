/*
 * Unit tests of serve/guard, the RESP port's rules before and around
 * authentication: who may run commands (authenticated, or no password
 * now), the pre-auth parser limits (10 arguments, bulks of 16 KiB),
 * wrong passwords counted with the third on a conn closing it, and POST
 * or "Host:" read as commands closing the conn without a reply. Each is
 * checked through the hooks themselves and through the RESP port of a
 * whole proxy (live_helpers.h), as a client on a socketpair sees it:
 * replies byte for byte, the close, the counters.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "proto/resp.h"
#include "serve/guard.h"
#include "serve/resp_local.h"

#include "cmd_helpers.h"
#include "live_helpers.h"

static void
setup(void)
{
    live_defaults();
    snprintf(live.cfg.server_password, sizeof(live.cfg.server_password),
             "s3cret");
}

TestSuite(guard, .init = setup, .fini = live_down, .timeout = 30);

#define WRONGPASS "-" RESP_WRONGPASS "\r\n"
#define NOAUTH "-" RESP_NOAUTH "\r\n"

Test(guard, commands_run_once_authenticated_or_without_a_password)
{
    live_services();
    cr_expect_eq(guard_let_in(&live.px, 0), 0);
    cr_expect_eq(guard_let_in(&live.px, 1), 1);
    live.cfg.server_password[0] = '\0'; /* a reload removed it */
    cr_expect_eq(guard_let_in(&live.px, 0), 1);
}

Test(guard, the_parser_takes_the_preauth_limits_until_authenticated)
{
    struct resp_parser ps;

    live_services();
    resp_parser_init(&ps, 1 << 20, NULL);
    guard_parser(&live.px, &ps, 0);
    cr_expect_eq(ps.preauth, 1);
    guard_parser(&live.px, &ps, 1);
    cr_expect_eq(ps.preauth, 0);
    guard_parser(&live.px, &ps, 0);
    live.cfg.server_password[0] = '\0';
    guard_parser(&live.px, &ps, 0);
    cr_expect_eq(ps.preauth, 0);
}

Test(guard, the_third_wrong_password_on_a_conn_closes_it)
{
    struct guard g = {0}, other = {0};

    live_services();
    cr_expect_eq(guard_wrong_password(&live.px, &g, NULL, 0), 0);
    cr_expect_eq(guard_wrong_password(&live.px, &g, NULL, 0), 0);
    cr_expect_eq(guard_wrong_password(&live.px, &other, NULL, 0), 0,
                 "per conn");
    cr_expect_eq(guard_wrong_password(&live.px, &g, NULL, 0), 1);
    cr_expect_eq(atomic_load(&live.px.metrics.auth_failures[METRICS_RESP]), 4);
    cr_expect_eq(atomic_load(&live.px.metrics.closed[METRICS_CLOSE_AUTH]), 1);
}

Test(guard, post_and_host_lines_abort_the_conn_and_count)
{
    const char *lines[] = {"POST / HTTP/1.1", "Host: localhost:6379",
                           "post /x HTTP/1.0", "host: a"};
    int peer;
    struct conn *c;

    live_services();
    for (size_t i = 0; i < 4; i++) {
        struct resp_command cmd = inl(lines[i]);

        c = unit_conn(&live.px.kinds[PROXY_RESP], &peer);
        cr_expect_eq(guard_http_on_resp(&live.px, c, &cmd), 1, "%s", lines[i]);
        cr_expect(c->abort && c->closing, "%s: not aborted", lines[i]);
        conn_destroy(c);
        close(peer);
    }
    cr_expect_eq(
        atomic_load(&live.px.metrics.closed[METRICS_CLOSE_HTTP_ON_RESP]), 4);

    c = unit_conn(&live.px.kinds[PROXY_RESP], &peer);
    {
        struct resp_command get = inl("GET Host:"), post = arr("POSTS /");

        cr_expect_eq(guard_http_on_resp(&live.px, c, &get), 0);
        cr_expect_eq(guard_http_on_resp(&live.px, c, &post), 0);
    }
    cr_expect_eq(c->abort, 0);
    conn_destroy(c);
    close(peer);
}

/* ---- on the RESP port ---- */

Test(guard, wrong_passwords_on_the_resp_port_close_on_the_third)
{
    int fd;

    live_up();
    fd = live_client(PROXY_RESP);
    client_send(fd, "AUTH nope\r\nAUTH nope\r\n");
    client_expect(fd, WRONGPASS WRONGPASS);
    client_send(fd, "AUTH nope\r\nPING\r\n");
    client_expect(fd, WRONGPASS);
    client_expect_eof(fd);
    close(fd);
    cr_expect_eq(atomic_load(&live.px.metrics.auth_failures[METRICS_RESP]), 3);
    cr_expect_eq(atomic_load(&live.px.metrics.closed[METRICS_CLOSE_AUTH]), 1);
}

Test(guard, the_right_password_after_two_wrong_ones_lets_the_client_in)
{
    int fd;

    live_up();
    fd = live_client(PROXY_RESP);
    client_send(fd, "PING\r\nAUTH a\r\nAUTH b\r\nAUTH s3cret\r\nPING\r\n");
    client_expect(fd, NOAUTH WRONGPASS WRONGPASS "+OK\r\n+PONG\r\n");
    close(fd);
    cr_expect_eq(atomic_load(&live.px.metrics.closed[METRICS_CLOSE_AUTH]), 0);
}

Test(guard, an_http_request_on_the_resp_port_is_closed_without_a_reply)
{
    int fd;

    live.cfg.server_password[0] = '\0';
    live_up();
    fd = live_client(PROXY_RESP);
    client_send(fd, "POST /x HTTP/1.1\r\nHost: localhost\r\n\r\nPING\r\n");
    client_expect_eof(fd);
    close(fd);
    fd = live_client(PROXY_RESP);
    client_send(fd, "PING\r\n");
    client_expect(fd, "+PONG\r\n");
    client_send(fd, "Host: evil.example\r\nPING\r\n");
    client_expect_eof(fd);
    close(fd);
    cr_expect_eq(
        atomic_load(&live.px.metrics.closed[METRICS_CLOSE_HTTP_ON_RESP]), 2);
}

Test(guard, before_auth_more_than_ten_arguments_are_a_protocol_error)
{
    int fd;

    live_up();
    fd = live_client(PROXY_RESP);
    client_send(fd, "*11\r\n");
    client_expect(fd, "-ERR Protocol error: unauthenticated multibulk "
                      "length\r\n");
    client_expect_eof(fd);
    close(fd);

    fd = live_client(PROXY_RESP);
    client_send(fd, "AUTH s3cret\r\n*11\r\n$4\r\nMGET");
    client_expect(fd, "+OK\r\n");
    for (int i = 0; i < 10; i++) {
        client_send(fd, "\r\n$1\r\nk");
    }
    client_send(fd, "\r\n");
    client_expect(fd, "*10\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n"
                      "$-1\r\n$-1\r\n$-1\r\n$-1\r\n");
    close(fd);
}

Test(guard, before_auth_a_bulk_over_16_kib_is_a_protocol_error)
{
    int fd;

    live_up();
    fd = live_client(PROXY_RESP);
    client_send(fd, "*2\r\n$4\r\nAUTH\r\n$16385\r\n");
    client_expect(fd, "-ERR Protocol error: unauthenticated bulk length\r\n");
    client_expect_eof(fd);
    close(fd);

    fd = live_client(PROXY_RESP);
    client_send(fd, "*2\r\n$4\r\nAUTH\r\n$16384\r\n");
    {
        static char pw[16384 + 2];

        memset(pw, 'x', 16384);
        memcpy(pw + 16384, "\r\n", 2);
        client_send_n(fd, pw, sizeof(pw));
    }
    client_expect(fd, WRONGPASS);
    close(fd);
}
