/*
 * Unit tests of the resp parser's limits for a client that has yet to
 * authenticate (resp_parser.preauth: Redis's 10 arguments of 16 KiB) and
 * of resp_is_http (POST and "Host:" read as commands). Every prefix of an
 * input is fed to a fresh pre-auth parser, which must say RESP_INCOMPLETE
 * until the number that crosses a limit is complete, then fail with
 * Redis's text; the same input is accepted once the client has
 * authenticated.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"

#define ERR_MBULK_UNAUTH "Protocol error: unauthenticated multibulk length"
#define ERR_BULK_UNAUTH "Protocol error: unauthenticated bulk length"

TestSuite(resp_preauth);

/* Feeds in[0..n) to a fresh parser (preauth as given, max_request 64 MiB).
 * Returns the status; *err on RESP_EPROTO. */
static int
feed(const char *in, size_t n, int preauth, struct resp_command *cmd,
     const char **err)
{
    struct resp_parser ps;
    char *copy = malloc(n > 0 ? n : 1);
    int rc;

    cr_assert_not_null(copy);
    memcpy(copy, in, n);
    resp_parser_init(&ps, (size_t)64 << 20, NULL);
    ps.preauth = preauth;
    rc = resp_parser_feed(&ps, copy, n, cmd, err);
    free(copy);
    return rc;
}

/* in fails with want once whole, and every shorter prefix is incomplete
 * (or the same failure, once the offending number is complete). */
static void
fails_preauth(const char *in, const char *want)
{
    struct resp_command cmd;
    const char *err = NULL;
    size_t n = strlen(in), k;

    for (k = 0; k < n; k++) {
        int rc = feed(in, k, 1, &cmd, &err);

        cr_assert(rc == RESP_INCOMPLETE ||
                      (rc == RESP_EPROTO && strcmp(err, want) == 0),
                  "%s: prefix %zu: %d", in, k, rc);
    }
    cr_assert_eq(feed(in, n, 1, &cmd, &err), RESP_EPROTO, "%s", in);
    cr_assert_str_eq(err, want, "%s", in);
}

/* An array of argc arguments, each a bulk of len bytes of 'x' (malloc'd;
 * *n its length). */
static char *
array_of(int argc, size_t len, size_t *n)
{
    size_t cap = 32 + (size_t)argc * (len + 32), used;
    char *buf = malloc(cap);
    int i;

    cr_assert_not_null(buf);
    used = (size_t)snprintf(buf, cap, "*%d\r\n", argc);
    for (i = 0; i < argc; i++) {
        used += (size_t)snprintf(buf + used, cap - used, "$%zu\r\n", len);
        memset(buf + used, 'x', len);
        used += len;
        memcpy(buf + used, "\r\n", 2);
        used += 2;
    }
    *n = used;
    return buf;
}

Test(resp_preauth, ten_arguments_of_16k_are_accepted)
{
    struct resp_command cmd;
    const char *err;
    size_t n;
    char *in = array_of(RESP_PREAUTH_ARGS, RESP_PREAUTH_BULK, &n);

    cr_assert_eq(feed(in, n, 1, &cmd, &err), RESP_OK);
    cr_assert_eq(cmd.argc, 10);
    cr_assert_eq(cmd.consumed, n);
    free(in);
}

Test(resp_preauth, eleven_arguments_are_refused_before_any_is_read)
{
    fails_preauth("*11\r\n", ERR_MBULK_UNAUTH);
    fails_preauth("*1048576\r\n", ERR_MBULK_UNAUTH);
    /* What is invalid anyway keeps Redis's first error. */
    fails_preauth("*1048577\r\n", "Protocol error: invalid multibulk length");
    fails_preauth("*x\r\n", "Protocol error: invalid multibulk length");
}

Test(resp_preauth, a_bulk_over_16k_is_refused_at_its_header)
{
    fails_preauth("*2\r\n$4\r\nAUTH\r\n$16385\r\n", ERR_BULK_UNAUTH);
    fails_preauth("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$33554432\r\n",
                  ERR_BULK_UNAUTH);
    fails_preauth("*1\r\n$67108865\r\n", "Protocol error: invalid bulk length");
}

Test(resp_preauth, an_authenticated_client_has_the_full_limits)
{
    struct resp_command cmd;
    const char *err;
    size_t n;
    char *in = array_of(11, 16385, &n);

    cr_assert_eq(feed(in, n, 0, &cmd, &err), RESP_OK);
    cr_assert_eq(cmd.argc, 11);
    cr_assert_eq(feed(in, n, 1, &cmd, &err), RESP_EPROTO);
    free(in);
}

Test(resp_preauth, the_limits_last_from_command_to_command)
{
    static char in[] = "*1\r\n$4\r\nPING\r\n*11\r\n";
    struct resp_parser ps;
    struct resp_command cmd;
    const char *err;

    resp_parser_init(&ps, 1 << 20, NULL);
    ps.preauth = 1;
    cr_assert_eq(resp_parser_feed(&ps, in, sizeof(in) - 1, &cmd, &err),
                 RESP_OK);
    cr_assert_eq(ps.preauth, 1, "kept for the next command");
    cr_assert_eq(resp_parser_feed(&ps, in + cmd.consumed,
                                  sizeof(in) - 1 - cmd.consumed, &cmd, &err),
                 RESP_EPROTO);
    cr_assert_str_eq(err, ERR_MBULK_UNAUTH);
    resp_parser_init(&ps, 1 << 20, NULL);
    cr_assert_eq(ps.preauth, 0, "init clears it");
}

Test(resp_preauth, post_and_host_lines_are_http)
{
    static const struct {
        const char *in;
        int http;
    } cases[] = {
        {"POST / HTTP/1.1\r\n", 1},
        {"post /x\r\n", 1},
        {"Host: 127.0.0.1:6380\r\n", 1},
        {"hOsT: evil.example\r\n", 1},
        {"*1\r\n$4\r\npost\r\n", 1},
        {"*2\r\n$5\r\nHOST:\r\n$1\r\nx\r\n", 1},
        {"Host:x\r\n", 0}, /* one word, "Host:x": Redis runs it too */
        {"GET / HTTP/1.1\r\n", 0},
        {"POSTS\r\n", 0},
        {"HOST\r\n", 0},
        {"\r\n", 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct resp_command cmd;
        const char *err;
        char *in = strdup(cases[i].in); /* the arguments point into it */

        cr_assert_not_null(in);
        cr_assert_eq(resp_parse(in, strlen(in), 1 << 20, &cmd, &err), RESP_OK,
                     "%s", cases[i].in);
        cr_expect_eq(resp_is_http(&cmd), cases[i].http, "%s", cases[i].in);
        free(in);
    }
}
