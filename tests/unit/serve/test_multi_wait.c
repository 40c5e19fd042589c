/*
 * Unit tests of serve/multi_wait, a cluster MULTI held until its node is
 * known: commands kept (MULTI_WAIT_MAX of them, then "bind now"), a new
 * MULTI forgetting what an old one kept, and the binding: MULTI and the
 * kept commands sent silently on a real session (session_helpers.h, the
 * live proxy in front of a redis-server of the test's own), so the client
 * hears only what comes after (EXEC's array), and Redis ran them all in
 * one transaction, inline commands re-encoded whole.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "serve/multi_wait.h"
#include "serve/session.h"

#include "cmd_helpers.h"
#include "live_helpers.h"
#include "session_helpers.h"

static struct multi_wait mw;

static void
teardown(void)
{
    multi_wait_end(&mw);
    sconn_down();
}

TestSuite(multi_wait, .init = live_defaults, .fini = teardown, .timeout = 30);

/* Keeps the words of line (a RESP array); returns multi_wait_keep's. */
static int
keep(const char *line)
{
    struct resp_command cmd = arr(line);

    return multi_wait_keep(&mw, &cmd, cmd_buf);
}

Test(multi_wait, it_keeps_up_to_its_limit_then_asks_to_bind)
{
    char line[32];

    multi_wait_begin(&mw);
    cr_expect_eq(mw.active, 1);
    cr_expect_eq(mw.n, 0);
    for (int i = 0; i < MULTI_WAIT_MAX; i++) {
        snprintf(line, sizeof(line), "PING %d", i);
        cr_assert_eq(keep(line), 0, "command %d", i);
    }
    cr_expect_eq(mw.n, MULTI_WAIT_MAX);
    cr_expect_eq(keep("PING one-more"), 1);
    cr_expect_eq(mw.n, MULTI_WAIT_MAX, "the one more is not kept");
}

Test(multi_wait, a_new_multi_forgets_what_the_old_one_kept)
{
    multi_wait_begin(&mw);
    cr_assert_eq(keep("PING a"), 0);
    cr_assert_eq(keep("PING b"), 0);
    multi_wait_begin(&mw);
    cr_expect_eq(mw.active, 1);
    cr_expect_eq(mw.n, 0);
    cr_expect_eq(mw.len, 0);
    multi_wait_end(&mw);
    cr_expect_eq(mw.active, 0);
    cr_expect_null(mw.q);
    multi_wait_end(&mw); /* twice: nothing held */
}

/* A session for the test's client on the live proxy's node. */
static void
open_session(void)
{
    char err[256] = "";

    live_up();
    sconn_open(&sc);
    s = session_open(&live.px, sc.c, 0, 2, 0, 1, NULL, err);
    cr_assert_not_null(s, "%s", err);
}

Test(multi_wait, binding_sends_multi_and_the_kept_commands_silently)
{
    open_session();
    multi_wait_begin(&mw);
    cr_assert_eq(keep("SET a 1"), 0);
    cr_assert_eq(keep("INCR a"), 0);
    cr_assert_eq(multi_wait_bind(&mw, s), 0);
    cr_expect_eq(mw.active, 0, "bound: no longer waiting");
    cr_expect_eq(session_in_transaction(s), 1);
    cr_expect_eq(session_owed(s), 3, "MULTI and two commands, silent");
    sconn_send(s, "INCR a", SESSION_CMD);
    sconn_send(s, "EXEC", SESSION_CMD);
    /* The client already heard +OK and +QUEUED twice from the proxy. */
    sconn_expect(&sc, s, "+QUEUED\r\n*3\r\n+OK\r\n:2\r\n:3\r\n");
    cr_expect_eq(session_owed(s), 0);
    cr_expect_eq(session_in_transaction(s), 0);
    cr_expect_eq(redis_calls("multi"), 1);
    cr_expect_eq(redis_calls("exec"), 1);
    redis_do("3", "GET a");
}

Test(multi_wait, an_exec_with_nothing_kept_runs_an_empty_transaction)
{
    open_session();
    multi_wait_begin(&mw);
    cr_assert_eq(multi_wait_bind(&mw, s), 0);
    sconn_send(s, "EXEC", SESSION_CMD);
    sconn_expect(&sc, s, "*0\r\n");
}

Test(multi_wait, inline_commands_kept_are_sent_whole)
{
    struct resp_command cmd;

    open_session();
    multi_wait_begin(&mw);
    cmd = inl("SET 'a key' \"a value\"");
    cr_assert_eq(multi_wait_keep(&mw, &cmd, cmd_buf), 0);
    cmd = inl("APPEND 'a key' !");
    cr_assert_eq(multi_wait_keep(&mw, &cmd, cmd_buf), 0);
    cr_assert_eq(multi_wait_bind(&mw, s), 0);
    sconn_send(s, "EXEC", SESSION_CMD);
    sconn_expect(&sc, s, "*2\r\n+OK\r\n:8\r\n");
    redis_do("a value!", "GET %s", "a key");
}
