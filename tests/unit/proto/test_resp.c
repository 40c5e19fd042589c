/*
 * Unit tests for resp: one table row per behaviour, each its own Test.
 *
 * Every parse case is checked the picohttpparser way: each prefix of the
 * input is fed in a fresh, exactly sized heap copy (so ASan sees any read
 * past len, and in-place inline unescaping never leaks into the next feed),
 * and must give RESP_INCOMPLETE until the command is complete (or, for bad
 * input, RESP_INCOMPLETE or the very same error); then the full input must
 * give the expected result. Multibulk parsing must leave the bytes alone.
 * Encoders are called with every capacity from 0 up to the exact size.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"

struct arg {
    const char *p;
    size_t len;
};

struct parse_case {
    const char *name;
    const char *in; /* input bytes, not NUL-terminated */
    size_t len;
    int status;                      /* result for the whole input */
    size_t argc;                     /* RESP_OK: arguments sent */
    struct arg argv[RESP_KEEP_ARGS]; /* RESP_OK: the first min(argc, 8) */
    size_t consumed;                 /* RESP_OK: bytes of the first command */
    const char *err;                 /* RESP_EPROTO: the error text */
};

/* clang-format off */
#define A(s) {s, sizeof(s) - 1}
/* clang-format on */

#define ERR_MBULK "Protocol error: invalid multibulk length"
#define ERR_BULK "Protocol error: invalid bulk length"
#define ERR_CRLF "Protocol error: bulk data not followed by CRLF"
#define ERR_QUOTES "Protocol error: unbalanced quotes in request"
#define ERR_INLINE "Protocol error: too big inline request"
#define ERR_DOLLAR(c) "Protocol error: expected '$', got '" c "'"

#define CASE_TEST(name_, ...)                                                  \
    Test(resp, name_)                                                          \
    {                                                                          \
        static const struct parse_case c = {#name_, __VA_ARGS__};              \
        check_case(&c);                                                        \
    }

/* The first command of input is complete; consumed stops after it. */
#define PIPELINED(name_, input, consumed_, argc_, ...)                         \
    CASE_TEST(name_, input, sizeof(input) - 1, RESP_OK, argc_, {__VA_ARGS__},  \
              consumed_, NULL)
/* input is exactly one complete command. */
#define PARSES(name_, input, argc_, ...)                                       \
    PIPELINED(name_, input, sizeof(input) - 1, argc_, __VA_ARGS__)
/* input starts with a complete command without arguments. */
#define PARSES_EMPTY(name_, input, consumed_)                                  \
    CASE_TEST(name_, input, sizeof(input) - 1, RESP_OK, 0, {{NULL, 0}},        \
              consumed_, NULL)
#define REJECTS(name_, input, err_)                                            \
    CASE_TEST(name_, input, sizeof(input) - 1, RESP_EPROTO, 0, {{NULL, 0}}, 0, \
              err_)

static void
check_full(const struct parse_case *c, size_t n, int rc,
           const struct resp_command *cmd, const char *err)
{
    size_t i;

    cr_assert_eq(rc, c->status, "%s: %zu of %zu bytes: status %d, want %d",
                 c->name, n, c->len, rc, c->status);
    if (rc == RESP_EPROTO) {
        cr_assert_str_eq(err, c->err, "%s: error text", c->name);
        return;
    }
    cr_assert_eq(cmd->consumed, c->consumed, "%s: consumed %zu, want %zu",
                 c->name, cmd->consumed, c->consumed);
    cr_assert_eq(cmd->argc, c->argc, "%s: argc %zu, want %zu", c->name,
                 cmd->argc, c->argc);
    for (i = 0; i < c->argc && i < RESP_KEEP_ARGS; i++) {
        cr_assert_eq(cmd->argv[i].len, c->argv[i].len,
                     "%s: argv[%zu] length %zu, want %zu", c->name, i,
                     cmd->argv[i].len, c->argv[i].len);
        cr_assert(memcmp(cmd->argv[i].p, c->argv[i].p, c->argv[i].len) == 0,
                  "%s: argv[%zu] bytes differ", c->name, i);
    }
}

/* Parses the first n bytes of c->in from a fresh copy and checks the result. */
static void
check_prefix(const struct parse_case *c, size_t n)
{
    char *buf = malloc(n);
    struct resp_command cmd;
    const char *err = NULL;
    size_t full = c->status == RESP_OK ? c->consumed : c->len;
    int rc;

    cr_assert_not_null(buf);
    memcpy(buf, c->in, n);
    memset(&cmd, 0, sizeof(cmd));
    rc = resp_parse(buf, n, &cmd, &err);
    if (n >= full) {
        check_full(c, n, rc, &cmd, err);
    } else if (rc == RESP_EPROTO && c->status == RESP_EPROTO) {
        cr_assert_str_eq(err, c->err, "%s: prefix %zu of %zu: other error",
                         c->name, n, c->len);
    } else {
        cr_assert_eq(rc, RESP_INCOMPLETE,
                     "%s: prefix %zu of %zu: status %d, want incomplete",
                     c->name, n, c->len, rc);
    }
    if (c->in[0] == '*')
        cr_assert(memcmp(buf, c->in, n) == 0, "%s: multibulk buffer changed",
                  c->name);
    free(buf);
}

static void
check_case(const struct parse_case *c)
{
    size_t n;

    cr_assert(c->len > 0);
    for (n = 1; n <= c->len; n++)
        check_prefix(c, n);
}

/* Parsing: multibulk arrays. */

PARSES(parses_get_key, "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", 2, A("GET"),
       A("key"))
PARSES(parses_ping_array, "*1\r\n$4\r\nPING\r\n", 1, A("PING"))
PARSES(parses_lowercase_command_unchanged, "*1\r\n$4\r\nping\r\n", 1, A("ping"))
PARSES(parses_empty_bulk_argument, "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", 2,
       A("ECHO"), A(""))
PARSES(parses_lone_empty_bulk, "*1\r\n$0\r\n\r\n", 1, A(""))
PARSES(keeps_nul_bytes_inside_bulk, "*2\r\n$3\r\nGET\r\n$5\r\na\0b\0c\r\n", 2,
       A("GET"), A("a\0b\0c"))
PARSES(keeps_crlf_inside_bulk, "*2\r\n$3\r\nGET\r\n$6\r\na\r\nb\r\n\r\n", 2,
       A("GET"), A("a\r\nb\r\n"))
PARSES(keeps_protocol_bytes_inside_bulk, "*1\r\n$6\r\n*$:+-\n\r\n", 1,
       A("*$:+-\n"))
PARSES(keeps_high_bytes_inside_bulk, "*1\r\n$3\r\n\xe2\x82\xac\r\n", 1,
       A("\xe2\x82\xac"))
PARSES(parses_multi_digit_bulk_length, "*1\r\n$12\r\nhello world!\r\n", 1,
       A("hello world!"))
PARSES(keeps_all_args_at_keep_limit,
       "*8\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
       "$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n",
       8, A("a"), A("b"), A("c"), A("d"), A("e"), A("f"), A("g"), A("h"))
PARSES(counts_args_beyond_keep_limit,
       "*10\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"
       "$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n$1\r\ni\r\n$2\r\nj!\r\n",
       10, A("a"), A("b"), A("c"), A("d"), A("e"), A("f"), A("g"), A("h"))
PIPELINED(stops_at_first_pipelined_array,
          "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 14, 1,
          A("PING"))
PIPELINED(stops_at_array_followed_by_inline, "*1\r\n$4\r\nPING\r\nPING\r\n", 14,
          1, A("PING"))
PIPELINED(stops_at_array_followed_by_garbage, "*1\r\n$4\r\nPING\r\n\xff\xfe",
          14, 1, A("PING"))
PARSES_EMPTY(treats_zero_count_as_empty_command, "*0\r\n", 4)
PARSES_EMPTY(treats_minus_one_count_as_empty_command, "*-1\r\n", 5)
PARSES_EMPTY(treats_any_negative_count_as_empty_command, "*-10\r\n", 6)
PARSES_EMPTY(treats_int64_min_count_as_empty_command,
             "*-9223372036854775808\r\n", 23)
PARSES_EMPTY(stops_after_empty_array, "*0\r\n*1\r\n$4\r\nPING\r\n", 4)

REJECTS(rejects_count_over_limit_before_args_arrive, "*1025\r\n", ERR_MBULK)
REJECTS(rejects_huge_count, "*20000000\r\n", ERR_MBULK)
REJECTS(rejects_non_numeric_count, "*abc\r\n", ERR_MBULK)
REJECTS(rejects_empty_count, "*\r\n", ERR_MBULK)
REJECTS(rejects_lone_minus_count, "*-\r\n", ERR_MBULK)
REJECTS(rejects_minus_zero_count, "*-0\r\n", ERR_MBULK)
REJECTS(rejects_count_with_plus_sign, "*+1\r\n$4\r\nPING\r\n", ERR_MBULK)
REJECTS(rejects_count_with_leading_zero, "*01\r\n$4\r\nPING\r\n", ERR_MBULK)
REJECTS(rejects_count_with_leading_space, "* 1\r\n$4\r\nPING\r\n", ERR_MBULK)
REJECTS(rejects_count_with_trailing_space, "*1 \r\n$4\r\nPING\r\n", ERR_MBULK)
REJECTS(rejects_count_line_with_cr_but_no_lf, "*1\r$4\r\nPING\r\n", ERR_MBULK)
REJECTS(rejects_count_line_ending_in_bare_lf, "*1\n$4\r\nPING\r\n", ERR_MBULK)
REJECTS(rejects_count_below_int64_min, "*-9223372036854775809\r\n", ERR_MBULK)
REJECTS(rejects_endless_count_line_without_waiting_for_crlf,
        "*-99999999999999999999999999999999999999", ERR_MBULK)
REJECTS(rejects_endless_zero_count_line_without_waiting_for_crlf,
        "*00000000000000000000000000000000000000", ERR_MBULK)

REJECTS(rejects_integer_element_in_array, "*1\r\n:1\r\n", ERR_DOLLAR(":"))
REJECTS(rejects_simple_string_element_in_array, "*1\r\n+OK\r\n",
        ERR_DOLLAR("+"))
REJECTS(rejects_nested_array_element, "*1\r\n*1\r\n$1\r\na\r\n",
        ERR_DOLLAR("*"))
REJECTS(rejects_wrong_element_after_valid_ones,
        "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", ERR_DOLLAR("f"))
REJECTS(names_a_cr_byte_where_a_bulk_was_expected, "*1\r\n\r\n",
        ERR_DOLLAR("\r"))
REJECTS(names_a_high_byte_where_a_bulk_was_expected, "*1\r\n\xff",
        ERR_DOLLAR("\xff"))
/* Redis formats the byte with %c into a C string: a NUL ends the text. */
REJECTS(truncates_error_at_nul_byte_like_redis, "*1\r\n\0",
        "Protocol error: expected '$', got '")

REJECTS(rejects_negative_bulk_length, "*1\r\n$-1\r\n", ERR_BULK)
REJECTS(rejects_bulk_length_over_limit_before_payload_arrives,
        "*1\r\n$8193\r\n", ERR_BULK)
REJECTS(rejects_huge_bulk_length, "*1\r\n$99999999999999999999999\r\n",
        ERR_BULK)
REJECTS(rejects_non_numeric_bulk_length, "*1\r\n$x\r\nx\r\n", ERR_BULK)
REJECTS(rejects_empty_bulk_length, "*1\r\n$\r\n\r\n", ERR_BULK)
REJECTS(rejects_bulk_length_with_leading_zero, "*1\r\n$04\r\nPING\r\n",
        ERR_BULK)
REJECTS(rejects_bulk_length_with_plus_sign, "*1\r\n$+4\r\nPING\r\n", ERR_BULK)
REJECTS(rejects_bulk_length_line_with_cr_but_no_lf, "*1\r\n$4\rPING\r\n",
        ERR_BULK)
REJECTS(rejects_bulk_length_line_ending_in_bare_lf, "*1\r\n$4\nPING\r\n",
        ERR_BULK)
REJECTS(rejects_payload_not_followed_by_crlf, "*1\r\n$4\r\nPINGXX", ERR_CRLF)
REJECTS(rejects_payload_longer_than_declared, "*1\r\n$3\r\nPING\r\n", ERR_CRLF)
REJECTS(rejects_payload_followed_by_bare_lf, "*1\r\n$4\r\nPING\n*", ERR_CRLF)
REJECTS(rejects_payload_followed_by_cr_without_lf, "*1\r\n$4\r\nPING\r*",
        ERR_CRLF)
REJECTS(rejects_bad_second_payload_terminator,
        "*2\r\n$3\r\nGET\r\n$1\r\nkk\r\n", ERR_CRLF)

/* Parsing: inline commands. */

PARSES(parses_inline_get_ending_in_crlf, "GET key\r\n", 2, A("GET"), A("key"))
PARSES(parses_inline_get_ending_in_bare_lf, "GET key\n", 2, A("GET"), A("key"))
PARSES(parses_inline_ping, "PING\r\n", 1, A("PING"))
PARSES(strips_only_one_cr_before_lf, "PING\r\r\n", 1, A("PING"))
PARSES_EMPTY(treats_empty_crlf_line_as_empty_command, "\r\n", 2)
PARSES_EMPTY(treats_empty_lf_line_as_empty_command, "\n", 1)
PARSES_EMPTY(treats_blank_inline_line_as_empty_command, " \t\v\f \r\n", 7)
PARSES(splits_inline_on_runs_of_spaces_and_tabs, "  SET\t a  \t b \r\n", 3,
       A("SET"), A("a"), A("b"))
PARSES(splits_inline_on_cr_inside_line, "GET a\rb\r\n", 3, A("GET"), A("a"),
       A("b"))
PARSES(keeps_vertical_tab_inside_inline_argument, "GET a\vb\r\n", 2, A("GET"),
       A("a\vb"))
PARSES(ignores_inline_bytes_after_nul_like_redis, "GET a\0b c\r\n", 2, A("GET"),
       A("a"))
PARSES(parses_inline_high_bytes, "GET \xe2\x82\xac\r\n", 2, A("GET"),
       A("\xe2\x82\xac"))
PARSES(treats_any_first_byte_but_star_as_inline, "$3\r\n", 1, A("$3"))
PARSES(counts_inline_args_beyond_keep_limit, "a b c d e f g h i j\r\n", 10,
       A("a"), A("b"), A("c"), A("d"), A("e"), A("f"), A("g"), A("h"))
PIPELINED(stops_inline_at_first_newline, "PING\r\nGET k\r\n", 6, 1, A("PING"))
PIPELINED(stops_inline_before_pipelined_array, "PING\n*1\r\n$4\r\nPING\r\n", 5,
          1, A("PING"))

PARSES(parses_double_quoted_argument_with_space, "SET \"a b\" c\r\n", 3,
       A("SET"), A("a b"), A("c"))
PARSES(unescapes_control_escapes_in_double_quotes,
       "ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\"\r\n", 2, A("ECHO"),
       A("\n\r\t\b\a\\\""))
PARSES(unescapes_hex_escapes_in_double_quotes, "ECHO \"\\x41\\x00\\xfF\"\r\n",
       2, A("ECHO"), A("A\0\xff"))
PARSES(keeps_invalid_hex_escape_as_literal_x, "ECHO \"\\x4g\"\r\n", 2,
       A("ECHO"), A("x4g"))
PARSES(keeps_short_hex_escape_as_literal_x, "ECHO \"\\x4\"\r\n", 2, A("ECHO"),
       A("x4"))
PARSES(keeps_unknown_escape_as_escaped_byte, "ECHO \"\\q\\'\"\r\n", 2,
       A("ECHO"), A("q'"))
PARSES(keeps_single_quoted_text_verbatim, "ECHO 'a \"b\" \\n'\r\n", 2,
       A("ECHO"), A("a \"b\" \\n"))
PARSES(unescapes_quote_in_single_quotes, "ECHO 'it\\'s'\r\n", 2, A("ECHO"),
       A("it's"))
PARSES(parses_empty_quoted_arguments, "SET \"\" ''\r\n", 3, A("SET"), A(""),
       A(""))
PARSES(joins_quote_opened_inside_argument, "ECHO foo\"bar baz\"\r\n", 2,
       A("ECHO"), A("foobar baz"))
PARSES(accepts_closing_quote_followed_by_tab, "ECHO \"a\"\tb\r\n", 3, A("ECHO"),
       A("a"), A("b"))
PARSES(accepts_closing_quote_at_end_of_lf_line, "ECHO 'a'\n", 2, A("ECHO"),
       A("a"))
PARSES(keeps_later_args_after_unescaped_one, "SET \"\\x41\\x42\" tail\r\n", 3,
       A("SET"), A("AB"), A("tail"))

REJECTS(rejects_unterminated_double_quote, "GET \"key\r\n", ERR_QUOTES)
REJECTS(rejects_unterminated_single_quote, "GET 'key\r\n", ERR_QUOTES)
REJECTS(rejects_text_right_after_closing_double_quote, "GET \"a\"b\r\n",
        ERR_QUOTES)
REJECTS(rejects_text_right_after_closing_single_quote, "GET 'a'b\r\n",
        ERR_QUOTES)
REJECTS(rejects_escaped_closing_quote_at_end_of_line, "GET \"a\\\"\r\n",
        ERR_QUOTES)
REJECTS(rejects_quote_cut_short_by_nul, "GET \"a\0\"\r\n", ERR_QUOTES)

Test(resp, returns_incomplete_for_empty_buffer)
{
    char buf[1] = {'*'};
    struct resp_command cmd;
    const char *err = NULL;

    cr_assert_eq(resp_parse(buf, 0, &cmd, &err), RESP_INCOMPLETE);
    cr_assert_null(err);
}

/* Parsing: limits, at the boundary and one over. */

static void
check_built(const char *name, char *in, size_t len, int status, size_t argc,
            const char *err)
{
    struct parse_case c = {name, in, len, status, argc, {{NULL, 0}}, len, err};
    size_t i;

    if (status == RESP_OK && in[0] == '*') {
        for (i = 0; i < argc && i < RESP_KEEP_ARGS; i++)
            c.argv[i] = (struct arg){"x", 1};
    }
    check_case(&c);
    free(in);
}

/* "*n\r\n" followed by n arguments "x". */
static char *
build_array(size_t n, size_t *len)
{
    char *buf = malloc(32 + n * 7), *p = buf;
    size_t i;

    cr_assert_not_null(buf);
    p += sprintf(p, "*%zu\r\n", n);
    for (i = 0; i < n; i++)
        p += sprintf(p, "$1\r\nx\r\n");
    *len = (size_t)(p - buf);
    return buf;
}

/* "*1\r\n$n\r\n" followed by n bytes of payload and CRLF. */
static char *
build_bulk(size_t n, size_t *len)
{
    char *buf = malloc(32 + n), *p = buf;

    cr_assert_not_null(buf);
    p += sprintf(p, "*1\r\n$%zu\r\n", n);
    memset(p, 'v', n);
    p += n;
    memcpy(p, "\r\n", 2);
    *len = (size_t)(p + 2 - buf);
    return buf;
}

/* "GET kkk... kkk..." with line bytes before the terminator term: a space
 * after every RESP_MAX_BULK k's, so each word is within the limit. */
static char *
build_inline(size_t line, const char *term, size_t *len)
{
    size_t tlen = strlen(term);
    char *buf = malloc(line + tlen);

    cr_assert_not_null(buf);
    memcpy(buf, "GET ", 4);
    memset(buf + 4, 'k', line - 4);
    if (line > 4 + RESP_MAX_BULK)
        buf[4 + RESP_MAX_BULK] = ' ';
    memcpy(buf + line, term, tlen);
    *len = line + tlen;
    return buf;
}

/* "GET " and one word of n k's, then CRLF. */
static char *
build_inline_word(size_t n, size_t *len)
{
    char *buf = malloc(n + 6);

    cr_assert_not_null(buf);
    memcpy(buf, "GET ", 4);
    memset(buf + 4, 'k', n);
    memcpy(buf + 4 + n, "\r\n", 2);
    *len = n + 6;
    return buf;
}

/* n words "a" separated by spaces, then CRLF. */
static char *
build_inline_words(size_t n, size_t *len)
{
    char *buf = malloc(2 * n + 2), *p = buf;
    size_t i;

    cr_assert_not_null(buf);
    for (i = 0; i < n; i++) {
        *p++ = 'a';
        *p++ = ' ';
    }
    memcpy(p, "\r\n", 2);
    *len = 2 * n + 2;
    return buf;
}

Test(resp, accepts_count_at_max_args)
{
    size_t len;
    char *in = build_array(RESP_MAX_ARGS, &len);

    check_built("max args", in, len, RESP_OK, RESP_MAX_ARGS, NULL);
}

Test(resp, rejects_count_one_over_max_args)
{
    size_t len;
    char *in = build_array(RESP_MAX_ARGS + 1, &len);

    check_built("max args + 1", in, len, RESP_EPROTO, 0, ERR_MBULK);
}

Test(resp, accepts_bulk_at_max_length)
{
    size_t len;
    char *in = build_bulk(RESP_MAX_BULK, &len);
    struct parse_case c = {"max bulk", in,          len, RESP_OK,
                           1,          {{NULL, 0}}, len, NULL};
    char *want = malloc(RESP_MAX_BULK);

    cr_assert_not_null(want);
    memset(want, 'v', RESP_MAX_BULK);
    c.argv[0] = (struct arg){want, RESP_MAX_BULK};
    check_case(&c);
    free(want);
    free(in);
}

Test(resp, rejects_bulk_one_over_max_length)
{
    size_t len;
    char *in = build_bulk(RESP_MAX_BULK + 1, &len);

    check_built("max bulk + 1", in, len, RESP_EPROTO, 0, ERR_BULK);
}

Test(resp, accepts_crlf_inline_line_at_max_length)
{
    size_t len;
    char *in = build_inline(RESP_MAX_INLINE - 1, "\r\n", &len);
    struct parse_case c = {
        "max inline crlf",
        in,
        len,
        RESP_OK,
        3,
        {A("GET"),
         {in + 4, RESP_MAX_BULK},
         {in + 5 + RESP_MAX_BULK, RESP_MAX_INLINE - 6 - RESP_MAX_BULK}},
        len,
        NULL};

    check_case(&c);
    free(in);
}

Test(resp, accepts_lf_inline_line_at_max_length)
{
    size_t len;
    char *in = build_inline(RESP_MAX_INLINE, "\n", &len);
    struct parse_case c = {
        "max inline lf",
        in,
        len,
        RESP_OK,
        3,
        {A("GET"),
         {in + 4, RESP_MAX_BULK},
         {in + 5 + RESP_MAX_BULK, RESP_MAX_INLINE - 5 - RESP_MAX_BULK}},
        len,
        NULL};

    check_case(&c);
    free(in);
}

Test(resp, rejects_crlf_inline_line_one_over_max_length)
{
    size_t len;
    char *in = build_inline(RESP_MAX_INLINE, "\r\n", &len);

    check_built("max inline + 1", in, len, RESP_EPROTO, 0, ERR_INLINE);
}

Test(resp, rejects_unterminated_inline_line_over_max_length)
{
    size_t len;
    char *in = build_inline(RESP_MAX_INLINE + 1, "", &len);

    check_built("max inline, no newline", in, len, RESP_EPROTO, 0, ERR_INLINE);
}

Test(resp, accepts_inline_word_at_max_bulk_length)
{
    size_t len;
    char *in = build_inline_word(RESP_MAX_BULK, &len);
    struct parse_case c = {"max inline word",
                           in,
                           len,
                           RESP_OK,
                           2,
                           {A("GET"), {in + 4, RESP_MAX_BULK}},
                           len,
                           NULL};

    check_case(&c);
    free(in);
}

Test(resp, rejects_inline_word_one_over_max_bulk_length)
{
    size_t len;
    char *in = build_inline_word(RESP_MAX_BULK + 1, &len);

    check_built("max inline word + 1", in, len, RESP_EPROTO, 0, ERR_INLINE);
}

Test(resp, accepts_inline_words_at_max_args)
{
    size_t len;
    char *in = build_inline_words(RESP_MAX_ARGS, &len);
    struct parse_case c = {"max inline words", in,          len, RESP_OK,
                           RESP_MAX_ARGS,      {{NULL, 0}}, len, NULL};
    size_t i;

    for (i = 0; i < RESP_KEEP_ARGS; i++)
        c.argv[i] = (struct arg){"a", 1};
    check_case(&c);
    free(in);
}

Test(resp, rejects_inline_words_one_over_max_args)
{
    size_t len;
    char *in = build_inline_words(RESP_MAX_ARGS + 1, &len);

    check_built("max inline words + 1", in, len, RESP_EPROTO, 0, ERR_INLINE);
}

Test(resp, parses_pipelined_stream_command_by_command)
{
    char in[] = "*1\r\n$4\r\nPING\r\n"
                "GET \"a b\"\r\n"
                "*0\r\n"
                "\n"
                "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
                "*1\r\n$4\r\nPI";
    static const size_t want_argc[] = {1, 2, 0, 0, 2};
    static const char *const want_arg0[] = {"PING", "GET", NULL, NULL, "GET"};
    struct resp_command cmd;
    const char *err = NULL;
    size_t off = 0, len = sizeof(in) - 1, i;

    for (i = 0; i < sizeof(want_argc) / sizeof(want_argc[0]); i++) {
        cr_assert_eq(resp_parse(in + off, len - off, &cmd, &err), RESP_OK,
                     "command %zu", i);
        cr_assert_eq(cmd.argc, want_argc[i], "command %zu", i);
        if (want_arg0[i] != NULL)
            cr_assert(
                cmd.argv[0].len == strlen(want_arg0[i]) &&
                    memcmp(cmd.argv[0].p, want_arg0[i], cmd.argv[0].len) == 0,
                "command %zu", i);
        off += cmd.consumed;
    }
    cr_assert_eq(resp_parse(in + off, len - off, &cmd, &err), RESP_INCOMPLETE);
    cr_assert_eq(len - off, 10);
}

/* Encoders. */

#define FILL 0x5a

/*
 * Calls expr (which writes to out with capacity cap) with every cap from 0
 * to the exact size: too small must write nothing and return the size; big
 * enough must write exactly want and nothing after it.
 */
#define EXPECT_FMT(want_, want_len_, expr)                                     \
    do {                                                                       \
        char out[64];                                                          \
        const char *fmt_want = (want_);                                        \
        size_t fmt_len = (want_len_), cap, fmt_got, fmt_i;                     \
                                                                               \
        cr_assert_lt(fmt_len, sizeof(out));                                    \
        for (cap = 0; cap <= fmt_len; cap++) {                                 \
            memset(out, FILL, sizeof(out));                                    \
            fmt_got = (expr);                                                  \
            cr_assert_eq(fmt_got, fmt_len, "cap %zu: returned %zu, want %zu",  \
                         cap, fmt_got, fmt_len);                               \
            for (fmt_i = cap < fmt_len ? 0 : fmt_len; fmt_i < sizeof(out);     \
                 fmt_i++)                                                      \
                cr_assert_eq(out[fmt_i], FILL, "cap %zu: byte %zu written",    \
                             cap, fmt_i);                                      \
        }                                                                      \
        cr_assert(memcmp(out, fmt_want, fmt_len) == 0, "wrote %.*s",           \
                  (int)fmt_len, out);                                          \
    } while (0)
#define EXPECT_FMT_LIT(lit, expr) EXPECT_FMT(lit, sizeof(lit) - 1, expr)

Test(resp, fmt_simple_writes_status_line)
{
    EXPECT_FMT_LIT("+OK\r\n", resp_fmt_simple(out, cap, "OK"));
    EXPECT_FMT_LIT("+PONG\r\n", resp_fmt_simple(out, cap, "PONG"));
    EXPECT_FMT_LIT("+\r\n", resp_fmt_simple(out, cap, ""));
}

Test(resp, fmt_simple_replaces_cr_and_lf_with_spaces)
{
    EXPECT_FMT_LIT("+a b  c\r\n", resp_fmt_simple(out, cap, "a\rb\r\nc"));
}

Test(resp, fmt_error_formats_message)
{
    EXPECT_FMT_LIT("-ERR unknown command 'FOO'\r\n",
                   resp_fmt_error(out, cap, "ERR unknown command '%s'", "FOO"));
    EXPECT_FMT_LIT("-ERR 42\r\n", resp_fmt_error(out, cap, "ERR %d", 42));
}

Test(resp, fmt_error_replaces_cr_and_lf_with_spaces)
{
    EXPECT_FMT_LIT("-ERR a  b c\r\n",
                   resp_fmt_error(out, cap, "ERR %s", "a\r\nb\nc"));
}

Test(resp, fmt_error_sends_parser_error_on_one_line)
{
    char buf[] = "*1\r\n\r\n";
    struct resp_command cmd;
    const char *err = NULL;

    cr_assert_eq(resp_parse(buf, sizeof(buf) - 1, &cmd, &err), RESP_EPROTO);
    EXPECT_FMT_LIT("-ERR Protocol error: expected '$', got ' '\r\n",
                   resp_fmt_error(out, cap, "ERR %s", err));
}

Test(resp, fmt_bulk_header_writes_length_line)
{
    EXPECT_FMT_LIT("$0\r\n", resp_fmt_bulk_header(out, cap, 0));
    EXPECT_FMT_LIT("$9\r\n", resp_fmt_bulk_header(out, cap, 9));
    EXPECT_FMT_LIT("$10\r\n", resp_fmt_bulk_header(out, cap, 10));
    EXPECT_FMT_LIT("$8192\r\n", resp_fmt_bulk_header(out, cap, 8192));
}

Test(resp, fmt_bulk_header_writes_largest_size)
{
    char want[32];
    int n = snprintf(want, sizeof(want), "$%zu\r\n", (size_t)SIZE_MAX);

    EXPECT_FMT(want, (size_t)n, resp_fmt_bulk_header(out, cap, SIZE_MAX));
}

Test(resp, fmt_bulk_writes_binary_payload)
{
    EXPECT_FMT_LIT("$4\r\na\0\r\n\r\n", resp_fmt_bulk(out, cap, "a\0\r\n", 4));
    EXPECT_FMT_LIT("$5\r\nvalue\r\n", resp_fmt_bulk(out, cap, "value", 5));
}

Test(resp, fmt_bulk_writes_empty_payload)
{
    EXPECT_FMT_LIT("$0\r\n\r\n", resp_fmt_bulk(out, cap, "", 0));
    EXPECT_FMT_LIT("$0\r\n\r\n", resp_fmt_bulk(out, cap, NULL, 0));
}

Test(resp, fmt_nil_writes_null_bulk)
{
    EXPECT_FMT_LIT("$-1\r\n", resp_fmt_nil(out, cap));
}

Test(resp, fmt_array_header_writes_count_line)
{
    EXPECT_FMT_LIT("*0\r\n", resp_fmt_array_header(out, cap, 0));
    EXPECT_FMT_LIT("*2\r\n", resp_fmt_array_header(out, cap, 2));
    EXPECT_FMT_LIT("*1024\r\n", resp_fmt_array_header(out, cap, 1024));
}

Test(resp, encoders_report_size_for_null_buffer_and_zero_cap)
{
    cr_assert_eq(resp_fmt_simple(NULL, 0, "OK"), 5);
    cr_assert_eq(resp_fmt_error(NULL, 0, "ERR %s", "x"), 8);
    cr_assert_eq(resp_fmt_bulk_header(NULL, 0, 123), 6);
    cr_assert_eq(resp_fmt_bulk(NULL, 0, "abc", 3), 9);
    cr_assert_eq(resp_fmt_nil(NULL, 0), 5);
    cr_assert_eq(resp_fmt_array_header(NULL, 0, 12), 5);
}
