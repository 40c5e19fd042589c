/*
 * Unit tests of serve/resp_local: which commands the proxy answers itself,
 * which open a session (the contract's list, XREAD only with BLOCK, case
 * ignored, BLOCK found in an inline command's later words), how commands
 * count in a session, and HELLO's parsing with Redis 7's error texts.
 * Commands are parsed with the proxy's own parser, as the RESP port does.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "proto/resp.h"
#include "serve/resp_local.h"

#include "cmd_helpers.h"

TestSuite(resp_local);

/* ---- the proxy's own commands ---- */

Test(resp_local,
     the_proxy_answers_get_ping_echo_quit_auth_hello_reset_select_client)
{
    static const struct {
        const char *line;
        enum resp_local_cmd want;
    } cases[] = {
        {"GET k", LOCAL_GET},
        {"get k", LOCAL_GET},
        {"gEt k", LOCAL_GET},
        {"GET", LOCAL_NONE},     /* Redis gives the arity error */
        {"GET a b", LOCAL_NONE}, /* likewise */
        {"GETEX k", LOCAL_NONE},
        {"GETDEL k", LOCAL_NONE},
        {"PING", LOCAL_PING},
        {"ping hello", LOCAL_PING},
        {"ECHO x", LOCAL_ECHO},
        {"QUIT", LOCAL_QUIT},
        {"AUTH pw", LOCAL_AUTH},
        {"auth user pw", LOCAL_AUTH},
        {"HELLO 2", LOCAL_HELLO},
        {"RESET", LOCAL_RESET},
        {"SELECT 2", LOCAL_SELECT},
        {"select", LOCAL_SELECT}, /* its arity error is the proxy's */
        {"CLIENT SETNAME n", LOCAL_CLIENT},
        {"client getname", LOCAL_CLIENT},
        {"CLIENT SETINFO lib-ver 1", LOCAL_CLIENT},
        {"CLIENT ID", LOCAL_CLIENT},
        {"CLIENT INFO", LOCAL_CLIENT},
        {"CLIENT NO-EVICT on", LOCAL_CLIENT},
        {"CLIENT NO-TOUCH off", LOCAL_CLIENT},
        {"CLIENT LIST", LOCAL_NONE},
        {"CLIENT TRACKING on", LOCAL_NONE},
        {"CLIENT", LOCAL_NONE},
        {"SET k v", LOCAL_NONE},
        {"MULTI", LOCAL_NONE},
        {"PINGX", LOCAL_NONE},
        {"GE k", LOCAL_NONE},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct resp_command a = arr(cases[i].line);

        cr_expect_eq(resp_local_which(&a), cases[i].want, "%s", cases[i].line);
        a = inl(cases[i].line);
        cr_expect_eq(resp_local_which(&a), cases[i].want, "%s inline",
                     cases[i].line);
    }
}

/* ---- sessions ---- */

Test(resp_local, commands_that_give_the_connection_state_open_a_session)
{
    static const char *const opens[] = {
        "MULTI",
        "watch k",
        "SUBSCRIBE c",
        "PSUBSCRIBE p*",
        "SSUBSCRIBE c",
        "UNSUBSCRIBE",
        "PUNSUBSCRIBE",
        "SUNSUBSCRIBE",
        "MONITOR",
        "CLIENT TRACKING on",
        "client reply off",
        "CLIENT CACHING yes",
        "CLIENT GETREDIR",
        "WAIT 1 0",
        "BLPOP q 0",
        "brpop q 1",
        "BLMOVE a b LEFT RIGHT 0",
        "BRPOPLPUSH a b 0",
        "BLMPOP 0 1 q LEFT",
        "BZPOPMIN z 0",
        "BZPOPMAX z 0",
        "BZMPOP 0 1 z MIN",
        "XREAD BLOCK 0 STREAMS s $",
        "xread count 1 block 100 streams s 0",
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
    };
    static const char *const pooled[] = {
        "GET k",
        "SET k v",
        "EVAL s 0",
        "PUBLISH c m",
        "LPOP q",
        "XREAD STREAMS s 0",
        "XREAD COUNT 5 STREAMS s 0",
        "XREADGROUP GROUP g c STREAMS s >",
        "XADD s * BLOCK 1", /* BLOCK as a field name is no option here */
        "EXEC",
        "DISCARD",
        "UNWATCH",
        "PING",
        "DBSIZE",
        "SELECT 2",         /* the conn's database, kept by the proxy */
        "client setname x", /* ... its name */
        "CLIENT SETINFO lib-name x",
        "CLIENT ID",
        "CLIENT INFO",
        "CLIENT LIST", /* about the server: any connection answers */
        "client kill id 1",
        "CLIENT PAUSE 10",
    };

    for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++) {
        struct resp_command a = arr(opens[i]), b;

        cr_expect_eq(resp_local_opens_session(&a, NULL), 1, "%s", opens[i]);
        b = inl(opens[i]);
        cr_expect_eq(resp_local_opens_session(&b, NULL), 1, "%s inline",
                     opens[i]);
    }
    for (size_t i = 0; i < sizeof(pooled) / sizeof(pooled[0]); i++) {
        struct resp_command a = arr(pooled[i]);

        cr_expect_eq(resp_local_opens_session(&a, NULL), 0, "%s", pooled[i]);
    }
}

Test(resp_local, block_is_found_past_the_first_arguments_of_an_inline_xread)
{
    /* BLOCK after more than RESP_KEEP_ARGS words: an inline command keeps
     * every word, so it is still seen */
    struct resp_command c =
        inl("XREAD COUNT 1 COUNT 1 COUNT 1 COUNT 1 BLOCK 0 STREAMS s $");

    cr_assert_gt(c.argc, RESP_KEEP_ARGS);
    cr_assert_eq(resp_local_opens_session(&c, NULL), 1);
    c = inl("XREAD COUNT 1 COUNT 1 COUNT 1 COUNT 1 COUNT 1 STREAMS s $");
    cr_assert_eq(resp_local_opens_session(&c, NULL), 0);
}

Test(resp_local, session_commands_count_by_their_kind)
{
    static const struct {
        const char *line;
        enum session_kind want;
    } cases[] = {
        {"SUBSCRIBE a b", SESSION_PUBSUB},
        {"psubscribe p*", SESSION_PUBSUB},
        {"SSUBSCRIBE s", SESSION_PUBSUB},
        {"UNSUBSCRIBE", SESSION_PUBSUB},
        {"PUNSUBSCRIBE p*", SESSION_PUBSUB},
        {"SUNSUBSCRIBE", SESSION_PUBSUB},
        {"MONITOR", SESSION_MONITOR},
        {"reset", SESSION_RESET},
        {"MULTI", SESSION_CMD},
        {"GET k", SESSION_CMD},
        {"BLPOP q 0", SESSION_CMD},
        {"PUBLISH c m", SESSION_CMD},
        {"PING", SESSION_CMD},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct resp_command a = arr(cases[i].line);

        cr_expect_eq(resp_local_session_kind(&a), cases[i].want, "%s",
                     cases[i].line);
    }
}

/* ---- HELLO ---- */

/* Parses "HELLO ..." (words of line) with resp_local_hello. h points into
 * the arguments, which stay until the next call. */
static int
hello(const char *line, struct resp_hello *h, const char **err)
{
    static struct resp_arg argv[16];
    struct resp_command c = arr(line);
    struct resp_iter it;
    size_t n = 0;

    resp_iter_init(&it, &c, cmd_buf);
    while (n < 16 && resp_iter_next(&it, &argv[n])) {
        n++;
    }
    *err = "(not set)";
    return resp_local_hello(argv, n, h, err);
}

static int
arg_is(const struct resp_arg *a, const char *s)
{
    return a != NULL && a->len == strlen(s) && memcmp(a->p, s, a->len) == 0;
}

Test(resp_local, hello_takes_version_2_or_3_auth_and_setname)
{
    struct resp_hello h;
    const char *err;

    cr_assert_eq(hello("HELLO", &h, &err), 0);
    cr_assert(!h.has_version && h.password == NULL && h.name == NULL);
    cr_assert_eq(hello("HELLO 2", &h, &err), 0);
    cr_assert(h.has_version && h.version == 2 && h.password == NULL &&
              h.name == NULL);
    cr_assert_eq(hello("HELLO 3", &h, &err), 0);
    cr_assert(h.has_version && h.version == 3);
    cr_assert_eq(hello("HELLO 2 AUTH user pw", &h, &err), 0);
    cr_assert(arg_is(h.password, "pw"), "the password, not the user");
    cr_assert(arg_is(h.user, "user"));
    cr_assert_eq(hello("hello 2 setname conn1 auth u secret", &h, &err), 0);
    cr_assert(arg_is(h.name, "conn1") && arg_is(h.password, "secret"));
    cr_assert_eq(hello("HELLO 2 AUTH u p SETNAME n", &h, &err), 0);
    cr_assert(arg_is(h.name, "n") && arg_is(h.password, "p"));
}

Test(resp_local, hello_errors_are_redis_texts)
{
    static const struct {
        const char *line;
        const char *err; /* NULL: a syntax error naming bad */
        const char *bad;
    } cases[] = {
        {"HELLO 4", "NOPROTO unsupported protocol version", NULL},
        {"HELLO 1", "NOPROTO unsupported protocol version", NULL},
        {"HELLO -2", "NOPROTO unsupported protocol version", NULL},
        {"HELLO 4 AUTH u p", "NOPROTO unsupported protocol version", NULL},
        {"HELLO two", "ERR Protocol version is not an integer or out of range",
         NULL},
        {"HELLO 2x", "ERR Protocol version is not an integer or out of range",
         NULL},
        {"HELLO 99999999999999999999",
         "ERR Protocol version is not an integer or out of range", NULL},
        /* 19 digits over LLONG_MAX: an overflow (undefined behaviour,
         * UBSan's report) once wrapped to a number. */
        {"HELLO 9999999999999999999",
         "ERR Protocol version is not an integer or out of range", NULL},
        {"HELLO 9223372036854775808",
         "ERR Protocol version is not an integer or out of range", NULL},
        {"HELLO -9223372036854775809",
         "ERR Protocol version is not an integer or out of range", NULL},
        /* In range, and not 2. */
        {"HELLO 9223372036854775807", "NOPROTO unsupported protocol version",
         NULL},
        {"HELLO -9223372036854775808", "NOPROTO unsupported protocol version",
         NULL},
        {"HELLO 18446744073709551618",
         "ERR Protocol version is not an integer or out of range", NULL},
        {"HELLO -", "ERR Protocol version is not an integer or out of range",
         NULL},
        {"HELLO 2 AUTH u", NULL, "AUTH"},
        {"HELLO 2 AUTH", NULL, "AUTH"},
        {"HELLO 2 SETNAME", NULL, "SETNAME"},
        {"HELLO 2 FOO", NULL, "FOO"},
        {"HELLO 2 SETNAME n EXTRA", NULL, "EXTRA"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct resp_hello h;
        const char *err;

        cr_expect_eq(hello(cases[i].line, &h, &err), -1, "%s", cases[i].line);
        if (cases[i].err != NULL) {
            cr_expect(err != NULL && strcmp(err, cases[i].err) == 0,
                      "%s: '%s', want '%s'", cases[i].line,
                      err != NULL ? err : "(NULL)", cases[i].err);
        } else {
            cr_expect_null(err, "%s: '%s'", cases[i].line, err);
            cr_expect(arg_is(h.bad_option, cases[i].bad),
                      "%s: bad option '%.*s', want '%s'", cases[i].line,
                      h.bad_option ? (int)h.bad_option->len : 6,
                      h.bad_option ? h.bad_option->p : "(NULL)", cases[i].bad);
        }
    }
}
