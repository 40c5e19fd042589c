/*
 * Unit tests of serve/respd, the RESP port, through its conn_ops on a
 * whole proxy in front of a redis-server of the test's own
 * (live_helpers.h): the client is a conn on a socketpair served by the
 * proxy's workers, and every test reads its replies byte for byte.
 * Pipelines mixing cache hits, misses and forwarded commands answered in
 * request order over one conn (Redis's command counts show the hits never
 * reached it), a GET behind a write of its key, QUIT and protocol errors
 * answered after the replies owed before them, inline commands, a command
 * arriving in pieces, Redis's errors relayed, RESP3 nulls, large values,
 * a lookup timing out, the client closing its side with replies owed,
 * SELECT, and commands that move the client onto a session (MULTI/EXEC,
 * SUBSCRIBE, a BLPOP unblocked by CLIENT UNBLOCK naming the proxy's id).
 */
#include <criterion/criterion.h>

#include <string.h>
#include <sys/socket.h>

#include "live_helpers.h"

TestSuite(respd, .init = live_defaults, .fini = live_down, .timeout = 30);

/* A client of the RESP port of a proxy just started. */
static int
client(void)
{
    if (!live.up) {
        live_up();
    }
    return live_client(PROXY_RESP);
}

Test(respd, a_pipeline_of_hits_misses_and_forwards_is_answered_in_order)
{
    int fd = client();

    redis_do("OK", "SET h hit");
    redis_do("OK", "SET m miss");
    client_send(fd, "GET h\r\n");
    client_expect(fd, "$3\r\nhit\r\n"); /* now cached */
    client_send(fd, "*2\r\n$3\r\nGET\r\n$1\r\nh\r\n"
                    "GET m\r\n"
                    "SET w 1\r\n"
                    "PING\r\n"
                    "GET nokey\r\n"
                    "INCR w\r\n"
                    "ECHO e\r\n"
                    "GET h\r\n");
    client_expect(fd, "$3\r\nhit\r\n"
                      "$4\r\nmiss\r\n"
                      "+OK\r\n"
                      "+PONG\r\n"
                      "$-1\r\n"
                      ":2\r\n"
                      "$1\r\ne\r\n"
                      "$3\r\nhit\r\n");
    close(fd);
    cr_expect_eq(redis_calls("get"), 3, "h once, m, nokey: hits stay here");
    cr_expect_eq(redis_calls("set"), 3, "two of the test's, one forwarded");
    cr_expect_eq(redis_calls("incr"), 1);
    cr_expect_eq(atomic_load(&live.px.metrics.hits), 2);
    cr_expect_eq(atomic_load(&live.px.metrics.misses), 3);
}

Test(respd, a_get_behind_a_write_of_its_key_reads_what_was_written)
{
    int fd = client();

    redis_do("OK", "SET k old");
    client_send(fd, "GET k\r\n");
    client_expect(fd, "$3\r\nold\r\n");
    client_send(fd, "SET k new\r\nGET k\r\nDEL k\r\nGET k\r\n");
    client_expect(fd, "+OK\r\n$3\r\nnew\r\n:1\r\n$-1\r\n");
    close(fd);
}

Test(respd, quit_is_answered_after_the_replies_owed_before_it)
{
    int fd = client();

    redis_do("OK", "SET m M");
    client_send(fd, "GET m\r\nSET x 1\r\nQUIT\r\nPING\r\n");
    client_expect(fd, "$1\r\nM\r\n+OK\r\n+OK\r\n");
    client_expect_eof(fd);
    close(fd);
}

Test(respd, inline_commands_are_run_like_arrays)
{
    int fd = client();

    client_send(fd, "PING\r\nPING hi\r\nECHO hello\r\n"
                    "SET 'a b' \"c d\"\r\nGET \"a b\"\r\n"
                    "  \r\nEXISTS nokey\r\n");
    client_expect(fd, "+PONG\r\n$2\r\nhi\r\n$5\r\nhello\r\n+OK\r\n"
                      "$3\r\nc d\r\n:0\r\n");
    close(fd);
}

Test(respd, a_protocol_error_is_answered_in_turn_and_closes_the_conn)
{
    int fd = client();

    redis_do("OK", "SET m M");
    client_send(fd, "GET m\r\n*1\r\n$x\r\nPING\r\n");
    client_expect(fd, "$1\r\nM\r\n-ERR Protocol error: invalid bulk "
                      "length\r\n");
    client_expect_eof(fd);
    close(fd);
    cr_expect_eq(atomic_load(&live.px.metrics.requests[METRICS_RESP][2]), 1,
                 "the error counts as a 4xx");

    fd = client();
    client_send(fd, "ECHO \"unbalanced\r\n");
    client_expect(fd, "-ERR Protocol error: unbalanced quotes in request\r\n");
    client_expect_eof(fd);
    close(fd);
}

Test(respd, a_command_arriving_in_pieces_is_answered_once_whole)
{
    /* The test is the conn's worker here: each piece is read and served
     * before the next is sent. */
    static const char *const pieces[] = {"*2\r\n$4\r\nEC", "HO\r\n$2\r\nh",
                                         "i\r\nPI", "NG\r\n"};
    int peer;
    struct conn *c;

    live_up();
    c = unit_conn(&live.px.kinds[PROXY_RESP], &peer);
    for (size_t i = 0; i < 4; i++) {
        client_send(peer, pieces[i]);
        cr_assert_gt(conn_read(c), 0);
        cr_assert_eq(respd_ops.serve(c), 0);
        if (i < 2) {
            cr_expect_eq(outq_bytes(&c->out), 0, "answered after piece %zu", i);
            cr_expect_neq(c->req_start_ms, 0, "no partial command held");
        }
    }
    cr_assert_eq(conn_flush(c), CONN_IO_OK);
    client_expect(peer, "$2\r\nhi\r\n+PONG\r\n");
    cr_expect_eq(c->req_start_ms, 0);
    conn_destroy(c);
    close(peer);
}

Test(respd, redis_errors_reach_the_client_as_redis_wrote_them)
{
    int fd = client();

    client_send(fd, "LPUSH l a\r\nGET l\r\nNOSUCHCMD x\r\nGET\r\n");
    client_expect(fd, ":1\r\n"
                      "-WRONGTYPE Operation against a key holding the wrong "
                      "kind of value\r\n"
                      "-ERR unknown command 'NOSUCHCMD', with args beginning "
                      "with: 'x' \r\n"
                      "-ERR wrong number of arguments for 'get' command\r\n");
    close(fd);
}

Test(respd, resp3_clients_get_resp3_nulls)
{
    int fd = client();

    redis_do("OK", "SET k v");
    client_send(fd, "HELLO 3\r\n");
    {
        char buf[512];
        size_t n = client_read_for(fd, buf, 3, CLIENT_WAIT_MS, NULL);

        cr_assert(n == 3 && memcmp(buf, "%7\r", 3) == 0, "HELLO 3: '%.*s'",
                  (int)n, buf);
        client_read_for(fd, buf, sizeof(buf), 100, NULL); /* the rest */
    }
    client_send(fd, "GET nokey\r\nGET k\r\nGET k\r\n");
    client_expect(fd, "_\r\n$1\r\nv\r\n$1\r\nv\r\n");
    close(fd);
}

Test(respd, a_large_value_is_sent_whole_from_the_cache_and_from_redis)
{
    static char value[20000], want[20100];
    int fd = client(), n;

    for (size_t i = 0; i < sizeof(value) - 1; i++) {
        value[i] = (char)('a' + i % 26);
    }
    redis_do("OK", "SET big %s", value);
    n = snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(value), value);
    cr_assert_lt(n, (int)sizeof(want));
    client_send(fd, "GET big\r\n");
    client_expect(fd, want);
    client_send(fd, "GET big\r\n");
    client_expect(fd, want);
    close(fd);
    cr_expect_eq(atomic_load(&live.px.metrics.hits), 1);
}

Test(respd, a_lookup_redis_does_not_answer_in_time_gets_a_timeout_error)
{
    int fd;

    live.cfg.command_timeout_ms = 200;
    fd = client();
    client_send(fd, "PING\r\n");
    client_expect(fd, "+PONG\r\n");
    redis_do("OK", "CLIENT PAUSE 1500 ALL");
    client_send(fd, "GET k\r\nPING\r\n");
    client_expect(fd, "-ERR redis timeout: no reply within 200 ms\r\n"
                      "+PONG\r\n");
    close(fd);
}

Test(respd, a_client_that_closed_its_side_still_gets_the_replies_owed)
{
    int fd = client();

    redis_do("OK", "SET m M");
    client_send(fd, "GET m\r\nINCR n\r\nGET m\r\n");
    cr_assert_eq(shutdown(fd, SHUT_WR), 0);
    client_expect(fd, "$1\r\nM\r\n:1\r\n$1\r\nM\r\n");
    client_expect_eof(fd);
    close(fd);
}

Test(respd, select_moves_lookups_and_writes_to_another_database)
{
    int fd = client();

    redis_do("OK", "SELECT 2");
    redis_do("OK", "SET k two");
    client_send(fd, "GET k\r\nSELECT 2\r\nGET k\r\nSET j 1\r\nSELECT 0\r\n"
                    "GET j\r\n");
    client_expect(fd, "$-1\r\n+OK\r\n$3\r\ntwo\r\n+OK\r\n+OK\r\n$-1\r\n");
    close(fd);
    redis_do("1", "GET j"); /* written in database 2 */
}

Test(respd, multi_and_exec_run_on_a_session)
{
    int fd = client();

    client_send(fd, "SET a 1\r\nMULTI\r\nINCR a\r\nGET a\r\nEXEC\r\nGET a\r\n");
    client_expect(fd, "+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:2\r\n$1\r\n"
                      "2\r\n$1\r\n2\r\n");
    close(fd);
    cr_expect_eq(atomic_load(&live.px.metrics.sessions), 1);
    cr_expect_eq(redis_calls("multi"), 1);
    cr_expect_eq(redis_calls("exec"), 1);
}

Test(respd, a_subscriber_gets_what_is_published)
{
    int fd = client();

    client_send(fd, "SUBSCRIBE ch\r\n");
    client_expect(fd, "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    redis_do(NULL, "PUBLISH ch hi");
    client_expect(fd, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
    client_send(fd, "UNSUBSCRIBE ch\r\nPING\r\n");
    client_expect(fd, "*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n"
                      "+PONG\r\n");
    close(fd);
}

Test(respd, client_unblock_names_a_blocked_client_by_the_proxys_id)
{
    char buf[64];
    int a = client(), b = live_client(PROXY_RESP);
    long id;
    size_t n;

    client_send(a, "CLIENT ID\r\n");
    n = client_read_for(a, buf, sizeof(buf) - 1, 200, NULL);
    buf[n] = '\0';
    cr_assert(n > 3 && buf[0] == ':', "CLIENT ID: '%s'", buf);
    id = strtol(buf + 1, NULL, 10);
    client_send(a, "BLPOP list 0\r\n");
    /* Until the session's connection is open and mapped, b may find
     * nothing: asked again until it is unblocked. */
    for (int tries = 0;; tries++) {
        char cmd[64];

        cr_assert_lt(tries, 500, "the blocked client was never unblocked");
        snprintf(cmd, sizeof(cmd), "CLIENT UNBLOCK %ld\r\n", id);
        client_send(b, cmd);
        n = client_read_for(b, buf, 4, CLIENT_WAIT_MS, NULL);
        cr_assert_eq(n, 4);
        if (memcmp(buf, ":1\r\n", 4) == 0) {
            break;
        }
        cr_assert(memcmp(buf, ":0\r\n", 4) == 0, "'%.4s'", buf);
        sleep_ms(5);
    }
    client_expect(a, "*-1\r\n");
    client_send(b, "CLIENT UNBLOCK 999999\r\n");
    client_expect(b, ":0\r\n");
    close(a);
    close(b);
}
