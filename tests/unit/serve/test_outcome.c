/*
 * Unit tests of serve/outcome, the one place a failed request to Redis
 * becomes what a client sees: the exact -ERR line of every outcome on the
 * Redis protocol (with and without a detail, cut to fit and still one
 * line), the HTTP status of each (Redis's transient errors 503, WRONGTYPE
 * 409, another error reply 502, down 503, timeout 504, out of memory
 * 500), and the text of an HTTP failure's body.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "serve/outcome.h"

TestSuite(outcome);

/* outcome_resp(o, detail) into a roomy buffer is exactly want. */
static void
expect_resp(int o, const char *detail, const char *want)
{
    char out[512];
    size_t n;

    memset(out, 'x', sizeof(out));
    n = outcome_resp(out, sizeof(out), o, detail);
    cr_expect(n == strlen(want) && memcmp(out, want, n) == 0,
              "outcome %d, detail %s: got %.*s, want %s", o,
              detail != NULL ? detail : "NULL", (int)n, out, want);
}

Test(outcome, error_reply_is_redis_own_text)
{
    expect_resp(OUTCOME_EREPLY,
                "WRONGTYPE Operation against a key holding the wrong kind of "
                "value",
                "-WRONGTYPE Operation against a key holding the wrong kind of "
                "value\r\n");
    expect_resp(OUTCOME_EREPLY, "ERR unknown command 'x'",
                "-ERR unknown command 'x'\r\n");
    expect_resp(OUTCOME_EREPLY, NULL, "-ERR\r\n");
}

Test(outcome, down_and_timeout_say_what_and_why)
{
    expect_resp(OUTCOME_EDOWN, "connection lost: Connection reset by peer",
                "-ERR redis unavailable: connection lost: Connection reset by "
                "peer\r\n");
    expect_resp(OUTCOME_EDOWN, NULL, "-ERR redis unavailable\r\n");
    expect_resp(OUTCOME_EDOWN, "", "-ERR redis unavailable\r\n");
    expect_resp(OUTCOME_ETIMEOUT, "no reply within 1000 ms",
                "-ERR redis timeout: no reply within 1000 ms\r\n");
    expect_resp(OUTCOME_ETIMEOUT, NULL, "-ERR redis timeout\r\n");
}

Test(outcome, proxy_own_failures_leave_out_the_detail)
{
    expect_resp(OUTCOME_ENOMEM, "malloc", "-ERR out of memory\r\n");
    expect_resp(OUTCOME_ESESSIONS, "64 in use",
                "-ERR max number of sessions reached\r\n");
    expect_resp(OUTCOME_EREDIRECTS, "MOVED 1 a:1",
                "-ERR too many cluster redirects\r\n");
    /* No node to go to: why comes from the router (route_no_node: the
     * slot map, or the master the sentinels name), else the map. */
    expect_resp(OUTCOME_ENOMAP, "the master is not known yet",
                "-ERR redis unavailable: the master is not known yet\r\n");
    expect_resp(OUTCOME_ENOMAP, NULL,
                "-ERR redis unavailable: the cluster's slot map is not known "
                "yet\r\n");
}

Test(outcome, resp_line_cut_to_fit_is_still_one_line)
{
    char out[16];
    size_t n = outcome_resp(out, sizeof(out), OUTCOME_EDOWN,
                            "a cause far longer than the room there is");

    cr_assert_eq(n, 15);
    cr_expect_arr_eq(out, "-ERR redis un\r\n", 15);
    n = outcome_resp(out, sizeof(out), OUTCOME_EREPLY, "ERR 0123456789");
    cr_assert_eq(n, 15);
    cr_expect_arr_eq(out, "-ERR 01234567\r\n", 15);
    /* One byte over (the line and its NUL need 17): cut. */
    n = outcome_resp(out, sizeof(out), OUTCOME_EREPLY, "ERR 012345678");
    cr_assert_eq(n, 15);
    cr_expect_arr_eq(out, "-ERR 01234567\r\n", 15);
    /* Exactly the room: whole. */
    n = outcome_resp(out, sizeof(out), OUTCOME_EREPLY, "ERR 01234567");
    cr_assert_eq(n, 15);
    cr_expect_arr_eq(out, "-ERR 01234567\r\n", 15);
    cr_expect_eq(out[15], '\0');
}

Test(outcome, http_status_of_each_failure)
{
    cr_expect_eq(outcome_http(OUTCOME_EDOWN, "connection refused"), 503);
    cr_expect_eq(outcome_http(OUTCOME_EDOWN, NULL), 503);
    cr_expect_eq(outcome_http(OUTCOME_ETIMEOUT, NULL), 504);
    cr_expect_eq(outcome_http(OUTCOME_ENOMEM, NULL), 500);
    cr_expect_eq(outcome_http(OUTCOME_ESESSIONS, NULL), 503);
    cr_expect_eq(outcome_http(OUTCOME_ENOMAP, NULL), 503);
    cr_expect_eq(outcome_http(OUTCOME_EREDIRECTS, NULL), 502);
}

Test(outcome, http_status_of_redis_error_replies)
{
    cr_expect_eq(outcome_http(OUTCOME_EREPLY,
                              "WRONGTYPE Operation against a key holding the "
                              "wrong kind of value"),
                 409);
    cr_expect_eq(
        outcome_http(OUTCOME_EREPLY, "LOADING Redis is loading the dataset"),
        503);
    cr_expect_eq(outcome_http(OUTCOME_EREPLY, "BUSY Redis is busy running a "
                                              "script"),
                 503);
    cr_expect_eq(outcome_http(OUTCOME_EREPLY, "MASTERDOWN Link with MASTER is "
                                              "down"),
                 503);
    cr_expect_eq(outcome_http(OUTCOME_EREPLY, "TRYAGAIN Multiple keys request "
                                              "during rehashing of slot"),
                 503);
    cr_expect_eq(outcome_http(OUTCOME_EREPLY, "BUSY"), 503);
    /* A word that starts like one of them is another error. */
    cr_expect_eq(outcome_http(OUTCOME_EREPLY, "BUSYKEY Target key name "
                                              "already exists."),
                 502);
    cr_expect_eq(outcome_http(OUTCOME_EREPLY, "ERR syntax error"), 502);
    cr_expect_eq(outcome_http(OUTCOME_EREPLY, NULL), 502);
}

Test(outcome, http_body_is_the_detail_or_what_the_outcome_means)
{
    cr_expect_str_eq(outcome_text(OUTCOME_EDOWN, "connection refused"),
                     "connection refused");
    cr_expect_str_eq(outcome_text(OUTCOME_EREPLY, "ERR syntax error"),
                     "ERR syntax error");
    cr_expect_str_eq(outcome_text(OUTCOME_EDOWN, NULL), "redis unavailable");
    cr_expect_str_eq(outcome_text(OUTCOME_EDOWN, ""), "redis unavailable");
    cr_expect_str_eq(outcome_text(OUTCOME_ETIMEOUT, NULL), "redis timeout");
    cr_expect_str_eq(outcome_text(OUTCOME_ENOMEM, NULL), "out of memory");
    cr_expect_str_eq(outcome_text(OUTCOME_ESESSIONS, NULL),
                     "max number of sessions reached");
    cr_expect_str_eq(outcome_text(OUTCOME_EREDIRECTS, NULL),
                     "too many cluster redirects");
    cr_expect_str_eq(outcome_text(OUTCOME_ENOMAP, NULL),
                     "redis unavailable: the cluster's slot map is not known "
                     "yet");
}
