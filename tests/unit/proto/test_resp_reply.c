/*
 * Unit tests for the reply scanner (resp_reply_scan): one table row per
 * behaviour, each its own Test, every one fed through check_reply()
 * (reply_helpers.h): each prefix scanned fresh must be RESP_INCOMPLETE
 * until the reply's last byte, and one scanner resumed on growing
 * prefixes, in place, moved and with what it has checked poisoned, must
 * say the same at every length. Inputs are what Redis 7.0 sends where it
 * sends them (HELLO, DEBUG PROTOCOL, CLIENT TRACKING's pushes), and the
 * RESP3 specification's examples for what it does not (streamed forms).
 * Then what tables cannot show: the bound on streamed nesting, arrays
 * nested 100000 deep, a 64 KiB line searched once across reads, and a
 * pipelined stream of every type read in pieces of every size from 1 to
 * 64. The accessors and the element walk are in test_resp_reply_read.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"
#include "proto/resp_reply.h"
#include "reply_helpers.h"

#define CASE_TEST(name_, ...)                                                  \
    Test(resp_reply, name_)                                                    \
    {                                                                          \
        static const struct reply_case c = {#name_, __VA_ARGS__};              \
        check_reply(&c);                                                       \
    }

/* input is exactly one complete reply of type type_. */
#define SCANS(name_, input, type_)                                             \
    CASE_TEST(name_, input, sizeof(input) - 1, RESP_OK, sizeof(input) - 1,     \
              type_, 0)
/* input is one reply whose first attr_ bytes are attributes. */
#define SCANS_ATTR(name_, input, type_, attr_)                                 \
    CASE_TEST(name_, input, sizeof(input) - 1, RESP_OK, sizeof(input) - 1,     \
              type_, attr_)
/* The first reply of input is its first len_ bytes (attr_ of them
 * attributes). */
#define SCANS_FIRST_ATTR(name_, input, len_, type_, attr_)                     \
    CASE_TEST(name_, input, sizeof(input) - 1, RESP_OK, len_, type_, attr_)
#define SCANS_FIRST(name_, input, len_, type_)                                 \
    SCANS_FIRST_ATTR(name_, input, len_, type_, 0)
#define REJECTS(name_, input)                                                  \
    CASE_TEST(name_, input, sizeof(input) - 1, RESP_EPROTO, 0, 0, 0)

/* RESP2. */

SCANS(scans_simple_string, "+OK\r\n", '+')
SCANS(scans_empty_simple_string, "+\r\n", '+')
SCANS(scans_simple_string_with_lone_cr, "+a\rb\r\n", '+')
SCANS(scans_error, "-ERR unknown command 'FOO'\r\n", '-')
SCANS(scans_integer, ":12345\r\n", ':')
SCANS(scans_negative_integer, ":-1\r\n", ':')
SCANS(scans_largest_integer, ":9223372036854775807\r\n", ':')
SCANS(scans_smallest_integer, ":-9223372036854775808\r\n", ':')
SCANS(scans_bulk, "$11\r\nHello World\r\n", '$')
SCANS(scans_empty_bulk, "$0\r\n\r\n", '$')
SCANS(scans_bulk_of_crlfs, "$4\r\n\r\n\r\n\r\n", '$')
SCANS(scans_bulk_with_nul_bytes, "$3\r\n\0\0\0\r\n", '$')
SCANS(scans_null_bulk, "$-1\r\n", '$')
SCANS(scans_null_array, "*-1\r\n", '*')
SCANS(scans_empty_array, "*0\r\n", '*')
SCANS(scans_array, "*3\r\n:0\r\n:1\r\n:2\r\n", '*')
SCANS(scans_nested_arrays,
      "*2\r\n*3\r\n:1\r\n$5\r\nhello\r\n:2\r\n*2\r\n*0\r\n*1\r\n$-1\r\n", '*')
SCANS(scans_array_of_nulls, "*3\r\n$-1\r\n*-1\r\n_\r\n", '*')
SCANS(scans_hello_2,
      "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15"
      "\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:3\r\n$4\r\nmode\r\n$10\r\n"
      "standalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
      '*')

/* RESP3 simple types. */

SCANS(scans_null, "_\r\n", '_')
SCANS(scans_double, ",3.141\r\n", ',')
SCANS(scans_double_with_exponent, ",1.5e-07\r\n", ',')
SCANS(scans_double_integral, ",10\r\n", ',')
SCANS(scans_double_inf, ",inf\r\n", ',')
SCANS(scans_double_negative_inf, ",-inf\r\n", ',')
SCANS(scans_double_nan, ",nan\r\n", ',')
SCANS(scans_double_libc_nan, ",-nan(0x8000)\r\n", ',')
SCANS(scans_true, "#t\r\n", '#')
SCANS(scans_false, "#f\r\n", '#')
SCANS(scans_big_number, "(1234567999999999999999999999999999999\r\n", '(')
SCANS(scans_negative_big_number,
      "(-3492890328409238509324850943850943825024385\r\n", '(')
SCANS(scans_blob_error, "!21\r\nSYNTAX invalid syntax\r\n", '!')
SCANS(scans_empty_blob_error, "!0\r\n\r\n", '!')
SCANS(scans_verbatim_string, "=29\r\ntxt:This is a verbatim\nstring\r\n", '=')
SCANS(scans_verbatim_with_empty_text, "=4\r\nmkd:\r\n", '=')

/* RESP3 aggregates. */

SCANS(scans_map, "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n", '%')
SCANS(scans_empty_map, "%0\r\n", '%')
SCANS(scans_set, "~5\r\n+orange\r\n+apple\r\n#t\r\n:100\r\n:999\r\n", '~')
SCANS(scans_empty_set, "~0\r\n", '~')
SCANS(scans_hello_3,
      "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n"
      "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:3\r\n$4\r\nmode\r\n$10\r\n"
      "standalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
      '%')
SCANS(scans_map_of_aggregates,
      "%2\r\n*2\r\n:1\r\n:2\r\n~1\r\n#t\r\n%1\r\n+k\r\n+v\r\n%0\r\n", '%')
SCANS(scans_map_inside_array_inside_set,
      "~2\r\n*1\r\n%1\r\n+a\r\n,1.5\r\n_\r\n", '~')

/* Pushes: a reply of their own, recognisable by their type. */

SCANS(scans_invalidation_push, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n",
      '>')
SCANS(scans_flush_invalidation_push, ">2\r\n$10\r\ninvalidate\r\n_\r\n", '>')
SCANS_FIRST(scans_push_before_the_reply_it_precedes,
            ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n$9\r\nGet-Reply"
            "\r\n",
            33, '>')
SCANS_FIRST(scans_reply_before_the_push_after_it,
            "$9\r\nGet-Reply\r\n>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi"
            "\r\n",
            15, '$')
SCANS_FIRST(scans_debug_protocol_push_then_its_reply,
            ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply "
            "following the push reply\r\n",
            32, '>')

/* Attributes: one reply with what they annotate, its type that one's. */

SCANS_ATTR(scans_debug_protocol_attribute_with_its_reply,
           "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39"
           "\r\nSome real reply following the attribute\r\n",
           '$', 47)
SCANS_ATTR(scans_spec_attribute_before_array,
           "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n"
           ",0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
           '*', 57)
SCANS_ATTR(scans_empty_attribute, "|0\r\n+OK\r\n", '+', 4)
SCANS_ATTR(scans_two_attributes_in_a_row,
           "|1\r\n+a\r\n:1\r\n|1\r\n+b\r\n:2\r\n:3\r\n", ':', 24)
SCANS_ATTR(scans_attribute_inside_attribute,
           "|1\r\n|1\r\n+x\r\n+y\r\n+a\r\n:1\r\n_\r\n", '_', 24)
SCANS_ATTR(scans_attribute_before_push, "|1\r\n+a\r\n:1\r\n>1\r\n+p\r\n", '>',
           12)
SCANS_ATTR(scans_attribute_before_streamed_array,
           "|1\r\n+a\r\n:1\r\n*?\r\n:1\r\n.\r\n", '*', 12)
SCANS(scans_attribute_before_array_element,
      "*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n", '*')
SCANS(scans_attribute_before_map_key_and_value,
      "%1\r\n|1\r\n+a\r\n+b\r\n+k\r\n|0\r\n+v\r\n", '%')
SCANS(scans_attribute_before_nested_aggregate,
      "*2\r\n|1\r\n+a\r\n*1\r\n:1\r\n*1\r\n:2\r\n:3\r\n", '*')
SCANS_FIRST_ATTR(stops_after_attribute_and_its_reply,
                 "|1\r\n+a\r\n:1\r\n+OK\r\n+NEXT\r\n", 17, '+', 12)

/* Streamed strings. */

SCANS(scans_streamed_string,
      "$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n", '$')
SCANS(scans_empty_streamed_string, "$?\r\n;0\r\n", '$')
SCANS(scans_streamed_string_of_crlfs, "$?\r\n;2\r\n\r\n\r\n;0\r\n", '$')
SCANS(scans_streamed_string_inside_array, "*2\r\n$?\r\n;1\r\na\r\n;0\r\n:1\r\n",
      '*')

/* Streamed aggregates. */

SCANS(scans_streamed_array, "*?\r\n:1\r\n:2\r\n:3\r\n.\r\n", '*')
SCANS(scans_empty_streamed_array, "*?\r\n.\r\n", '*')
SCANS(scans_streamed_map, "%?\r\n+a\r\n:1\r\n+b\r\n:2\r\n.\r\n", '%')
SCANS(scans_streamed_set, "~?\r\n+a\r\n#t\r\n.\r\n", '~')
SCANS(scans_streamed_array_inside_array, "*2\r\n*?\r\n:1\r\n.\r\n:2\r\n", '*')
SCANS(scans_array_inside_streamed_array,
      "*?\r\n*2\r\n:1\r\n*1\r\n:2\r\n$1\r\nx\r\n.\r\n", '*')
SCANS(scans_streamed_inside_streamed,
      "*?\r\n*?\r\n:1\r\n.\r\n%?\r\n.\r\n~?\r\n*?\r\n.\r\n.\r\n.\r\n", '*')
SCANS(scans_attribute_inside_streamed_array,
      "*?\r\n|1\r\n+a\r\n+b\r\n:1\r\n.\r\n", '*')
SCANS(scans_attribute_inside_streamed_map_counts_with_its_element,
      "%?\r\n|1\r\n+a\r\n+b\r\n+k\r\n+v\r\n.\r\n", '%')
SCANS(scans_streamed_string_inside_streamed_map,
      "%?\r\n$?\r\n;1\r\nk\r\n;0\r\n$?\r\n;0\r\n.\r\n", '%')
SCANS_ATTR(scans_streamed_array_inside_attribute,
           "|1\r\n*?\r\n.\r\n~?\r\n.\r\n:7\r\n", ':', 18)
SCANS_FIRST(stops_after_streamed_array, "*?\r\n:1\r\n.\r\n.\r\n", 11, '*')

/* Malformed: RESP_EPROTO, however far the bytes go. */

REJECTS(rejects_unknown_type, "x\r\n")
REJECTS(rejects_end_marker_at_top, ".\r\n")
REJECTS(rejects_chunk_at_top, ";1\r\na\r\n")
REJECTS(rejects_bare_lf, "+OK\n")
REJECTS(rejects_lf_right_after_type, "+\n")
REJECTS(rejects_bulk_not_followed_by_crlf, "$3\r\nabcd\r\n")
REJECTS(rejects_bulk_length_below_null, "$-2\r\n")
REJECTS(rejects_empty_bulk_length, "$\r\n")
REJECTS(rejects_bulk_length_with_plus, "$+1\r\na\r\n")
REJECTS(rejects_bulk_length_with_trailing_text, "$1x\r\na\r\n")
REJECTS(rejects_bulk_length_with_leading_zero, "$01\r\na\r\n")
REJECTS(rejects_null_bulk_with_leading_zero, "$-01\r\n")
REJECTS(rejects_bulk_length_minus_zero, "$-0\r\n\r\n")
REJECTS(rejects_array_count_with_leading_zero, "*00\r\n")
REJECTS(rejects_chunk_length_with_leading_zero, "$?\r\n;01\r\na\r\n;0\r\n")
REJECTS(rejects_bulk_length_beyond_any_reply, "$99999999999999999999\r\n")
REJECTS(rejects_array_count_below_null, "*-2\r\n")
REJECTS(rejects_array_count_beyond_any_reply, "*1152921504606846977\r\n")
REJECTS(rejects_integer_with_text, ":12a\r\n")
REJECTS(rejects_empty_integer, ":\r\n")
REJECTS(rejects_lone_minus_integer, ":-\r\n")
REJECTS(rejects_integer_over_64_bits, ":9223372036854775808\r\n")
REJECTS(rejects_integer_under_64_bits, ":-9223372036854775809\r\n")
REJECTS(rejects_null_with_text, "_x\r\n")
REJECTS(rejects_boolean_other_than_t_or_f, "#x\r\n")
REJECTS(rejects_boolean_of_two_letters, "#tt\r\n")
REJECTS(rejects_empty_boolean, "#\r\n")
REJECTS(rejects_empty_double, ",\r\n")
REJECTS(rejects_double_with_space, ",1 2\r\n")
REJECTS(rejects_big_number_with_fraction, "(1.5\r\n")
REJECTS(rejects_empty_big_number, "(\r\n")
REJECTS(rejects_null_blob_error, "!-1\r\n")
REJECTS(rejects_null_verbatim, "=-1\r\n")
REJECTS(rejects_verbatim_shorter_than_format, "=3\r\ntxt\r\n")
REJECTS(rejects_verbatim_without_colon, "=5\r\ntxt-a\r\n")
REJECTS(rejects_negative_map_count, "%-1\r\n")
REJECTS(rejects_negative_set_count, "~-1\r\n")
REJECTS(rejects_negative_push_count, ">-1\r\n")
REJECTS(rejects_negative_attribute_count, "|-1\r\n")
REJECTS(rejects_streamed_push, ">?\r\n.\r\n")
REJECTS(rejects_streamed_attribute, "|?\r\n.\r\n")
REJECTS(rejects_streamed_blob_error, "!?\r\n;0\r\n")
REJECTS(rejects_streamed_verbatim, "=?\r\n;0\r\n")
REJECTS(rejects_question_mark_not_alone, "*?1\r\n")
REJECTS(rejects_streamed_string_without_chunk, "$?\r\n:1\r\n")
REJECTS(rejects_negative_chunk, "$?\r\n;-1\r\n")
REJECTS(rejects_chunk_longer_than_said, "$?\r\n;2\r\nabc\r\n;0\r\n")
REJECTS(rejects_empty_chunk_length, "$?\r\n;\r\n")
REJECTS(rejects_end_marker_with_text, "*?\r\n.x\r\n")
REJECTS(rejects_end_marker_without_crlf, "*?\r\n.\n")
REJECTS(rejects_end_marker_inside_fixed_array, "*1\r\n.\r\n")
REJECTS(rejects_end_marker_inside_array_in_streamed, "*?\r\n*1\r\n.\r\n.\r\n")
REJECTS(rejects_streamed_map_ending_after_a_key,
        "%?\r\n+a\r\n:1\r\n+b\r\n.\r\n")
REJECTS(rejects_attribute_annotating_nothing, "*?\r\n|1\r\n+a\r\n+b\r\n.\r\n")
REJECTS(rejects_chunk_inside_array, "*1\r\n;1\r\na\r\n")

/* Streamed aggregates inside one another: up to the bound. */

static void
nested_streamed(char *buf, size_t *len, int depth)
{
    int i;

    *len = 0;
    for (i = 0; i < depth; i++) {
        memcpy(buf + *len, "*?\r\n", 4);
        *len += 4;
    }
    memcpy(buf + *len, ":1\r\n", 4);
    *len += 4;
    for (i = 0; i < depth; i++) {
        memcpy(buf + *len, ".\r\n", 3);
        *len += 3;
    }
}

Test(resp_reply, scans_streamed_aggregates_nested_to_the_bound)
{
    char buf[8 * (RESP_REPLY_MAX_STREAMED + 1) + 8];
    struct reply_case c = {"nested_to_the_bound", buf, 0, RESP_OK, 0, '*', 0};

    nested_streamed(buf, &c.len, RESP_REPLY_MAX_STREAMED);
    c.pos = c.len;
    check_reply(&c);
}

Test(resp_reply, rejects_streamed_aggregates_nested_past_the_bound)
{
    char buf[8 * (RESP_REPLY_MAX_STREAMED + 1) + 8];
    struct reply_case c = {
        "nested_past_the_bound", buf, 0, RESP_EPROTO, 0, 0, 0};

    nested_streamed(buf, &c.len, RESP_REPLY_MAX_STREAMED + 1);
    check_reply(&c);
}

/* Fixed-size aggregates need no stack: any depth. */
Test(resp_reply, scans_arrays_nested_deeper_than_any_stack)
{
    enum { DEPTH = 100000 };
    size_t len = DEPTH * 4 + 4, n;
    char *buf = malloc(len);
    struct resp_reply r;
    int rc = RESP_INCOMPLETE;

    cr_assert_not_null(buf);
    for (n = 0; n < DEPTH; n++) {
        memcpy(buf + 4 * n, n % 2 ? "*1\r\n" : ">1\r\n", 4);
    }
    memcpy(buf + 4 * DEPTH, ":1\r\n", 4);
    cr_assert_eq(reply_len(buf, len), len);
    cr_assert_eq(reply_len(buf, len - 1), 0);
    /* And a byte at a time: each call reads only what is new. */
    resp_reply_init(&r);
    for (n = 0; n <= len && rc == RESP_INCOMPLETE; n++) {
        rc = resp_reply_scan(&r, buf, n);
        cr_assert(rc == RESP_OK ? n == len : rc == RESP_INCOMPLETE,
                  "at %zu: %d", n, rc);
    }
    cr_assert_eq(rc, RESP_OK);
    cr_assert_eq(r.type, '>');
    free(buf);
}

/* A long line arriving in pieces is searched once: the part searched
 * before is filled with LFs in the next buffer, and the scanner must not
 * see them. */
Test(resp_reply, searches_a_long_line_only_once)
{
    enum { TEXT = 65536 };
    size_t len = TEXT + 3, n, prev = 0;
    char *want = malloc(len), *buf;
    struct resp_reply r;
    int rc = RESP_INCOMPLETE;

    cr_assert_not_null(want);
    want[0] = '+';
    memset(want + 1, 'a', TEXT);
    memcpy(want + 1 + TEXT, "\r\n", 2);
    resp_reply_init(&r);
    for (n = 1; rc == RESP_INCOMPLETE; n = n + 4096 < len ? n + 4096 : len) {
        buf = reply_copy(want, n);
        if (prev > 2) {
            memset(buf + 1, '\n', prev - 2); /* the bytes searched before */
        }
        rc = resp_reply_scan(&r, buf, n);
        cr_assert_eq(r.line_from, rc == RESP_INCOMPLETE ? n : r.line_from);
        prev = n;
        free(buf);
    }
    cr_assert_eq(rc, RESP_OK);
    cr_assert_eq(r.pos, len);
    free(want);
}

/* A pipelined stream of mixed replies, the way a pooled connection reads
 * them: each scanned in the bytes after the last, the scanner re-inited,
 * in reads of every size from 1 to 64. */
Test(resp_reply, scans_pipelined_stream_in_reads_of_every_size)
{
    static const char stream[] =
        "+OK\r\n_\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
        "$5\r\nvalue\r\n|1\r\n+a\r\n:1\r\n%1\r\n+k\r\n~1\r\n#t\r\n"
        "$?\r\n;2\r\nab\r\n;0\r\n*?\r\n,1.5\r\n.\r\n-ERR x\r\n"
        "!3\r\nERR\r\n=5\r\ntxt:x\r\n(12\r\n*-1\r\n:7\r\n";
    static const char types[] = "+_>$%$*-!=(*:";
    size_t total = sizeof(stream) - 1, step;

    for (step = 1; step <= 64; step++) {
        size_t got = 0, start = 0, k = 0;
        struct resp_reply r;

        resp_reply_init(&r);
        while (got < total) {
            got = got + step < total ? got + step : total;
            for (;;) {
                int rc = resp_reply_scan(&r, stream + start, got - start);

                if (rc == RESP_INCOMPLETE) {
                    break;
                }
                cr_assert_eq(rc, RESP_OK, "step %zu: reply %zu", step, k);
                cr_assert_eq(r.type, types[k], "step %zu: reply %zu is '%c'",
                             step, k, r.type);
                start += r.pos;
                k++;
                resp_reply_init(&r);
            }
        }
        cr_assert_eq(start, total, "step %zu", step);
        cr_assert_eq(k, sizeof(types) - 1, "step %zu: %zu replies", step, k);
    }
}

Test(resp_reply, answers_incomplete_for_no_bytes)
{
    struct resp_reply r;

    resp_reply_init(&r);
    cr_assert_eq(resp_reply_scan(&r, "", 0), RESP_INCOMPLETE);
    cr_assert_eq(r.pos, 0);
    cr_assert_eq(r.type, 0);
}

Test(resp_reply, reads_nothing_when_given_fewer_bytes_than_before)
{
    struct resp_reply r;

    resp_reply_init(&r);
    cr_assert_eq(resp_reply_scan(&r, "*2\r\n:1\r\n", 8), RESP_INCOMPLETE);
    cr_assert_eq(r.pos, 8);
    cr_assert_eq(resp_reply_scan(&r, NULL, 3), RESP_INCOMPLETE);
    cr_assert_eq(r.pos, 8);
}
