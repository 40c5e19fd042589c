/*
 * cmd_helpers: commands as the RESP port parses them, for the serve unit
 * tests that take commands (test_resp_local.c, test_rcmd.c); header-only
 * because each tests/unit/serve/test_*.c is its own binary.
 *
 * A line of words (split on spaces) becomes either an inline command or
 * the same words sent as a RESP array, written into cmd_buf and parsed
 * there with the proxy's own parser; the command's arguments point into
 * cmd_buf until the next call.
 */
#ifndef RP_TEST_CMD_HELPERS_H
#define RP_TEST_CMD_HELPERS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "proto/resp.h"

static char cmd_buf[1 << 16];
static struct resp_arg cmd_words[RESP_MAX_INLINE_ARGS];

/* Parses line as an inline command, every word kept. */
static inline struct resp_command
inl(const char *line)
{
    struct resp_parser ps;
    struct resp_command cmd;
    const char *err;
    size_t n = (size_t)snprintf(cmd_buf, sizeof(cmd_buf), "%s\r\n", line);

    resp_parser_init(&ps, 1 << 20, cmd_words);
    cr_assert_eq(resp_parser_feed(&ps, cmd_buf, n, &cmd, &err), RESP_OK, "%s",
                 line);
    return cmd;
}

/* Parses the words of line sent as a RESP array. */
static inline struct resp_command
arr(const char *line)
{
    struct resp_command cmd;
    char copy[4096], *save = NULL, *tok;
    const char *argv[256];
    const char *err;
    size_t argc = 0, n;

    snprintf(copy, sizeof(copy), "%s", line);
    for (tok = strtok_r(copy, " ", &save); tok != NULL && argc < 256;
         tok = strtok_r(NULL, " ", &save)) {
        argv[argc++] = tok;
    }
    n = (size_t)snprintf(cmd_buf, sizeof(cmd_buf), "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++) {
        n += (size_t)snprintf(cmd_buf + n, sizeof(cmd_buf) - n,
                              "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    }
    cr_assert_eq(resp_parse(cmd_buf, n, 1 << 20, &cmd, &err), RESP_OK, "%s",
                 line);
    return cmd;
}

#endif
