/*
 * Unit tests of serve/session, a client's private Redis connection,
 * through its header, driven as respd drives it (session_helpers.h) on
 * the live proxy (live_helpers.h) in front of a redis-server of the
 * test's own: commands queued before the connection is open and relayed
 * in order once it is, the replies owed counted, MULTI/EXEC and WATCH as
 * a transaction, SUBSCRIBE then PUBLISH (messages are no replies),
 * silent commands whose replies are dropped, RESET ending the session,
 * RESP3 and the database, Redis closing the connection, the session in
 * the clientmap under its client's id while it is open, max_sessions,
 * and a session that cannot open (Redis refuses the password) answering
 * each command queued on it with why.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "serve/clientmap.h"
#include "serve/session.h"

#include "cmd_helpers.h"
#include "live_helpers.h"
#include "session_helpers.h"

TestSuite(session, .init = live_defaults, .fini = sconn_down, .timeout = 30);

/* The live proxy and a session on its node for client id 77. */
static void
open_on(int proto, int db)
{
    char err[256] = "";

    if (!live.up) {
        live_up();
    }
    sconn_open(&sc);
    s = session_open(&live.px, sc.c, 0, proto, db, 77, NULL, err);
    cr_assert_not_null(s, "session_open: %s", err);
}

Test(session, commands_queued_while_it_opens_are_relayed_in_order)
{
    live_up();
    redis_do("OK", "SET k v");
    open_on(2, 0);
    sconn_send(s, "GET k", SESSION_CMD);
    sconn_send(s, "SET j 1", SESSION_CMD);
    sconn_send(s, "INCR j", SESSION_CMD);
    cr_expect_eq(session_owed(s), 3);
    cr_expect_eq(session_waiting(s), 1);
    cr_expect_eq(session_idle(s), 0);
    sconn_expect(&sc, s, "$1\r\nv\r\n+OK\r\n:2\r\n");
    cr_expect_eq(session_owed(s), 0);
    cr_expect_eq(session_waiting(s), 0);
    cr_expect_eq(session_idle(s), 1);
    cr_expect_eq(session_node(s), 0);
    cr_expect_eq(atomic_load(&live.px.metrics.sessions), 1);
    cr_expect_eq(atomic_load(&live.px.metrics.sessions_open), 1);
    session_close(&live.px, s);
    s = NULL;
    cr_expect_eq(atomic_load(&live.px.metrics.sessions_open), 0);
}

Test(session, multi_exec_and_watch_make_a_transaction)
{
    open_on(2, 0);
    sconn_send(s, "MULTI", SESSION_CMD);
    cr_expect_eq(session_in_transaction(s), 1);
    sconn_send(s, "SET a 1", SESSION_CMD);
    sconn_send(s, "INCR a", SESSION_CMD);
    sconn_send(s, "EXEC", SESSION_CMD);
    cr_expect_eq(session_in_transaction(s), 0);
    sconn_expect(&sc, s, "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n:2\r\n");

    sconn_send(s, "WATCH a", SESSION_CMD);
    cr_expect_eq(session_in_transaction(s), 1);
    cr_expect_eq(session_idle(s), 0, "a WATCH holds the session");
    sconn_expect(&sc, s, "+OK\r\n");
    redis_do("OK", "SET a changed"); /* another client: EXEC fails */
    sconn_send(s, "MULTI", SESSION_CMD);
    sconn_send(s, "INCR a", SESSION_CMD);
    sconn_send(s, "EXEC", SESSION_CMD);
    sconn_expect(&sc, s, "+OK\r\n+QUEUED\r\n*-1\r\n");
    sconn_send(s, "WATCH a", SESSION_CMD);
    sconn_send(s, "UNWATCH", SESSION_CMD);
    cr_expect_eq(session_in_transaction(s), 0);
    sconn_expect(&sc, s, "+OK\r\n+OK\r\n");
}

Test(session, a_subscriber_gets_what_is_published)
{
    open_on(2, 0);
    sconn_send(s, "SUBSCRIBE ch other", SESSION_PUBSUB);
    cr_expect_eq(session_owed(s), 0, "confirmations are no replies");
    cr_expect_eq(session_subscribed(s), 1);
    cr_expect_eq(session_waiting(s), 1);
    sconn_expect(&sc, s,
                 "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
                 "*3\r\n$9\r\nsubscribe\r\n$5\r\nother\r\n:2\r\n");
    redis_do(NULL, "PUBLISH ch hello");
    sconn_expect(&sc, s, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    cr_expect_eq(session_owed(s), 0);
    sconn_send(s, "UNSUBSCRIBE ch other", SESSION_PUBSUB);
    sconn_expect(&sc, s,
                 "*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:1\r\n"
                 "*3\r\n$11\r\nunsubscribe\r\n$5\r\nother\r\n:0\r\n");
    cr_expect_eq(session_subscribed(s), 0, "the count reached 0");
    cr_expect_eq(session_idle(s), 1);
}

Test(session, silent_commands_are_run_and_their_replies_dropped)
{
    open_on(2, 0);
    sconn_send(s, "SELECT 5", SESSION_SILENT);
    sconn_send(s, "SET k five", SESSION_CMD);
    sconn_send(s, "GET k", SESSION_CMD);
    cr_expect_eq(session_owed(s), 3);
    sconn_expect(&sc, s, "+OK\r\n$4\r\nfive\r\n");
    cr_expect_eq(session_owed(s), 0);
    redis_do("OK", "SELECT 5");
    redis_do("five", "GET k");
}

Test(session, reset_is_relayed_and_ends_the_session)
{
    open_on(2, 0);
    sconn_send(s, "MULTI", SESSION_CMD);
    sconn_send(s, "RESET", SESSION_RESET);
    cr_expect_eq(session_resetting(s), 1);
    cr_expect_eq(session_in_transaction(s), 0);
    sconn_expect(&sc, s, "+OK\r\n+RESET\r\n");
    cr_expect_eq(sc.last, SESSION_ENDED);
    cr_expect_eq(session_resetting(s), 0);
}

Test(session, it_speaks_the_clients_protocol_in_the_clients_database)
{
    live_up();
    redis_do("OK", "SELECT 3");
    redis_do("OK", "SET k three");
    open_on(3, 3);
    sconn_send(s, "GET k", SESSION_CMD);
    sconn_send(s, "GET nokey", SESSION_CMD);
    sconn_send(s, "HGETALL nokey", SESSION_CMD);
    sconn_expect(&sc, s, "$5\r\nthree\r\n_\r\n%0\r\n");
}

Test(session, redis_closing_the_connection_is_eof)
{
    open_on(2, 0);
    sconn_send(s, "QUIT", SESSION_CMD);
    sconn_expect(&sc, s, "+OK\r\n");
    cr_expect_eq(sc.last == SESSION_EOF ? SESSION_EOF
                                        : sconn_pump_until_not_ok(&sc, s),
                 SESSION_EOF, "pump %d", sc.last);
}

Test(session, an_open_session_is_in_the_clientmap_under_its_clients_id)
{
    char want[32];
    long long redis_id = -1;
    int node = -1;
    redisReply *r;

    open_on(2, 0);
    sconn_send(s, "PING", SESSION_CMD);
    sconn_expect(&sc, s, "+PONG\r\n");
    cr_assert_eq(clientmap_find(live.px.clientmap, 77, &node, &redis_id), 1);
    cr_expect_eq(node, 0);
    /* Redis knows that connection by that id: its own CLIENT ID says. */
    snprintf(want, sizeof(want), ":%lld\r\n", redis_id);
    sconn_send(s, "CLIENT ID", SESSION_CMD);
    sconn_expect(&sc, s, want);
    cr_expect_eq(session_idle(s), 0, "CLIENT gave it settings of its own");
    r = redisCommand(live.redis.ctx, "CLIENT KILL ID %lld", redis_id);
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    session_close(&live.px, s);
    s = NULL;
    cr_expect_eq(clientmap_find(live.px.clientmap, 77, &node, &redis_id), 0);
}

Test(session, no_more_than_max_sessions_open_at_once)
{
    struct sconn other;
    struct session *s2;
    char err[256] = "";

    live.cfg.max_sessions = 1;
    open_on(2, 0);
    sconn_open(&other);
    s2 = session_open(&live.px, other.c, 0, 2, 0, 78, NULL, err);
    cr_expect_null(s2);
    cr_expect_str_eq(err, "max number of sessions reached");
    cr_expect_eq(atomic_load(&live.px.metrics.sessions_open), 1);
    session_close(&live.px, s);
    s = NULL;
    s2 = session_open(&live.px, other.c, 0, 2, 0, 78, NULL, err);
    cr_expect_not_null(s2, "room after a close: %s", err);
    session_close(&live.px, s2);
    sconn_close(&other);
    cr_expect_eq(atomic_load(&live.px.metrics.sessions), 2);
}

Test(session, a_session_that_cannot_open_answers_each_command_queued)
{
    static const char *const pass[] = {"--requirepass", "right", NULL};
    char err[256] = "";
    int n;

    /* The proxy's password is not Redis's: the handshake fails. */
    snprintf(live.cfg.redis_password, sizeof(live.cfg.redis_password), "wrong");
    live_redis(pass);
    live_services();
    live_nodes();
    sconn_open(&sc);
    s = session_open(&live.px, sc.c, 0, 2, 0, 77, NULL, err);
    cr_assert_not_null(s, "%s", err);
    sconn_send(s, "GET k", SESSION_CMD);
    sconn_send(s, "SELECT 1", SESSION_SILENT); /* nobody is owed an answer */
    sconn_send(s, "PING", SESSION_CMD);
#define WHY                                                                    \
    "-ERR redis unavailable: AUTH failed: WRONGPASS invalid "                  \
    "username-password pair or user is disabled.\r\n"
    sconn_expect(&sc, s, WHY WHY); /* GET's and PING's */
#undef WHY
    cr_expect_eq(sc.last, SESSION_FAILED);
    cr_expect_eq(clientmap_find(live.px.clientmap, 77, &n, &(long long){0}), 0);
}
