/*
 * Unit tests for resp: one table row per behaviour, each its own Test.
 *
 * Every parse case goes through check_case() (resp_helpers.h): each prefix
 * is parsed one-shot the picohttpparser way and must give RESP_INCOMPLETE
 * until the command is complete (or, for bad input, RESP_INCOMPLETE or the
 * very same error), then the expected result; and the same prefixes fed
 * through one resumed resp_parser, in place, moved, and with the bytes it
 * has checked poisoned, must give what the one-shot parse gave at every
 * length. All with max_request = TEST_MAX_REQUEST (8192). The feeding
 * machinery itself, the argument iterator and the limits that need large
 * inputs are in test_resp_feed.c; the reply encoders in test_resp_out.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"
#include "resp_helpers.h"

/* clang-format off */
#define A(s) {s, sizeof(s) - 1}
/* clang-format on */

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

REJECTS(rejects_count_one_over_max_args_before_args_arrive, "*1048577\r\n",
        ERR_MBULK)
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
REJECTS(rejects_bulk_length_over_max_request_before_payload_arrives,
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
    struct resp_parser ps, before;
    const char *err = NULL;

    cr_assert_eq(resp_parse(buf, 0, TEST_MAX_REQUEST, &cmd, &err),
                 RESP_INCOMPLETE);
    cr_assert_null(err);
    resp_parser_init(&ps, TEST_MAX_REQUEST, NULL);
    before = ps;
    cr_assert_eq(resp_parser_feed(&ps, buf, 0, &cmd, &err), RESP_INCOMPLETE);
    cr_assert(memcmp(&ps, &before, sizeof(ps)) == 0, "parser state moved");
    cr_assert_null(err);
}

/* Parsing: limits, at the boundary and one over. */

/*
 * A case for "*n\r\n" and n bulks of lens[i] bytes ('a' + i each): whole
 * (RESP_OK, argv pointing into the input), or, when cut, ending with the
 * last bulk's header. The caller sets status and err for a bad one and
 * frees *buf.
 */
static struct parse_case
bulks_case(const char *name, const size_t *lens, size_t n, int cut, char **buf)
{
    struct parse_case c = {name, NULL, 0, RESP_OK, n, {{NULL, 0}}, 0, NULL};
    size_t size = 32, i;
    char *p;

    for (i = 0; i < n; i++)
        size += 32 + lens[i];
    p = *buf = malloc(size);
    cr_assert_not_null(p);
    p += sprintf(p, "*%zu\r\n", n);
    for (i = 0; i < n; i++) {
        p += sprintf(p, "$%zu\r\n", lens[i]);
        if (cut && i == n - 1)
            break;
        memset(p, 'a' + (int)i, lens[i]);
        if (i < RESP_KEEP_ARGS)
            c.argv[i] = (struct arg){p, lens[i]};
        p += lens[i];
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    c.in = *buf;
    c.len = c.consumed = (size_t)(p - *buf);
    return c;
}

static void
check_bulks(const size_t *lens, size_t n, int cut, int status, const char *err)
{
    char *buf;
    struct parse_case c =
        bulks_case(criterion_current_test->name, lens, n, cut, &buf);

    c.status = status;
    c.err = err;
    check_case(&c);
    free(buf);
}

Test(resp, accepts_bulk_at_max_request)
{
    size_t lens[] = {TEST_MAX_REQUEST};

    check_bulks(lens, 1, 0, RESP_OK, NULL);
}

Test(resp, rejects_bulk_one_over_max_request)
{
    size_t lens[] = {TEST_MAX_REQUEST + 1};

    check_bulks(lens, 1, 0, RESP_EPROTO, ERR_BULK);
}

/* The sum of an array's bulks is bounded too, checked at each header. */
Test(resp, accepts_bulks_summing_to_max_request)
{
    size_t lens[] = {5000, TEST_MAX_REQUEST - 5000};

    check_bulks(lens, 2, 0, RESP_OK, NULL);
}

Test(resp, rejects_at_second_header_bulks_summing_past_max_request)
{
    size_t lens[] = {5000, TEST_MAX_REQUEST - 5000 + 1};

    /* Each bulk alone is within the limit; together they are one over,
     * refused as soon as the second header is read, before its payload. */
    check_bulks(lens + 1, 1, 0, RESP_OK, NULL);
    check_bulks(lens, 2, 1, RESP_EPROTO, ERR_BULK);
}

Test(resp, accepts_empty_bulks_once_sum_reaches_max_request)
{
    size_t lens[] = {TEST_MAX_REQUEST, 0, 0};

    check_bulks(lens, 3, 0, RESP_OK, NULL);
}

Test(resp, rejects_one_byte_bulk_once_sum_reaches_max_request)
{
    size_t lens[] = {TEST_MAX_REQUEST, 0, 1};

    check_bulks(lens, 3, 1, RESP_EPROTO, ERR_BULK);
}

/* "GET kkk...k" (one word) with line bytes before the terminator term;
 * *c is the case for it, RESP_OK unless the caller says otherwise. */
static char *
build_inline(size_t line, const char *term, struct parse_case *c)
{
    size_t tlen = strlen(term);
    char *buf = malloc(line + tlen);

    cr_assert_not_null(buf);
    memcpy(buf, "GET ", 4);
    memset(buf + 4, 'k', line - 4);
    memcpy(buf + line, term, tlen);
    *c = (struct parse_case){
        criterion_current_test->name,    buf,         line + tlen, RESP_OK, 2,
        {A("GET"), {buf + 4, line - 4}}, line + tlen, NULL};
    return buf;
}

/* The line counts up to the LF: with CRLF, the CR is its last byte. */
Test(resp, accepts_crlf_inline_line_at_max_length)
{
    struct parse_case c;
    char *in = build_inline(RESP_MAX_INLINE - 1, "\r\n", &c);

    check_case(&c);
    free(in);
}

Test(resp, accepts_lf_inline_line_at_max_length)
{
    struct parse_case c;
    char *in = build_inline(RESP_MAX_INLINE, "\n", &c);

    check_case(&c);
    free(in);
}

Test(resp, rejects_crlf_inline_line_one_over_max_length)
{
    struct parse_case c;
    char *in = build_inline(RESP_MAX_INLINE, "\r\n", &c);

    c.status = RESP_EPROTO;
    c.err = ERR_INLINE;
    check_case(&c);
    free(in);
}

Test(resp, rejects_unterminated_inline_line_over_max_length)
{
    struct parse_case c;
    char *in = build_inline(RESP_MAX_INLINE + 1, "", &c);

    c.status = RESP_EPROTO;
    c.err = ERR_INLINE;
    check_case(&c);
    free(in);
}

/* An inline word is bounded by the line, not by max_request (as in Redis,
 * whose proto-max-bulk-len applies to bulks only). */
Test(resp, accepts_inline_word_longer_than_max_request)
{
    struct parse_case c;
    char *in = build_inline(4 + TEST_MAX_REQUEST + 1, "\r\n", &c);

    cr_assert_eq(c.argv[1].len, TEST_MAX_REQUEST + 1);
    check_case(&c);
    free(in);
}

/* n words "a" separated by spaces, then CRLF. */
static char *
build_inline_words(size_t n, struct parse_case *c)
{
    char *buf = malloc(2 * n + 2), *p = buf;
    size_t i;

    cr_assert_not_null(buf);
    for (i = 0; i < n; i++) {
        *p++ = 'a';
        *p++ = ' ';
    }
    memcpy(p, "\r\n", 2);
    *c = (struct parse_case){criterion_current_test->name,
                             buf,
                             2 * n + 2,
                             RESP_OK,
                             n,
                             {{NULL, 0}},
                             2 * n + 2,
                             NULL};
    for (i = 0; i < n && i < RESP_KEEP_ARGS; i++)
        c->argv[i] = (struct arg){"a", 1};
    return buf;
}

Test(resp, accepts_inline_words_at_max_inline_args)
{
    struct parse_case c;
    char *in = build_inline_words(RESP_MAX_INLINE_ARGS, &c);

    check_case(&c);
    free(in);
}

Test(resp, rejects_inline_words_one_over_max_inline_args)
{
    struct parse_case c;
    char *in = build_inline_words(RESP_MAX_INLINE_ARGS + 1, &c);

    c.status = RESP_EPROTO;
    c.err = ERR_INLINE;
    check_case(&c);
    free(in);
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
        cr_assert_eq(
            resp_parse(in + off, len - off, TEST_MAX_REQUEST, &cmd, &err),
            RESP_OK, "command %zu", i);
        cr_assert_eq(cmd.argc, want_argc[i], "command %zu", i);
        if (want_arg0[i] != NULL)
            cr_assert(
                cmd.argv[0].len == strlen(want_arg0[i]) &&
                    memcmp(cmd.argv[0].p, want_arg0[i], cmd.argv[0].len) == 0,
                "command %zu", i);
        off += cmd.consumed;
    }
    cr_assert_eq(resp_parse(in + off, len - off, TEST_MAX_REQUEST, &cmd, &err),
                 RESP_INCOMPLETE);
    cr_assert_eq(len - off, 10);
}
