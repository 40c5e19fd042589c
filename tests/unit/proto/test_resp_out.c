/*
 * Unit tests for resp_out, the reply encoders: the exact bytes of each,
 * per protocol where they differ, each called with every capacity from 0
 * up to the exact size (too small: nothing written, the size returned).
 * The HELLO replies are byte for byte what redis-server 7.0.15 answered
 * to "HELLO 3" and "HELLO 2" on a fresh connection (client id 3). Every
 * reply written is also scanned back with resp_reply_scan: one complete
 * reply, of the type the client is told.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"
#include "proto/resp_out.h"
#include "proto/resp_reply.h"

#define FILL 0x5a
#define OUT_MAX 512

/* want[0..len) must scan as one complete reply of type want[0]; a lone
 * header ("*2\r\n", "$3\r\n") is completed first (elements "_", a
 * payload of x's). */
static void
scans_back(const char *want, size_t len)
{
    const char *lf = memchr(want, '\n', len);
    long k = strtol(want + 1, NULL, 10);
    char *buf = malloc(len + 3 * 2 * 2048 + 8192 + 2);
    struct resp_reply r;
    size_t n = len;

    cr_assert_not_null(buf);
    memcpy(buf, want, len);
    if (lf == want + len - 1 && want[1] != '-' && k >= 0 &&
        k <= (want[0] == '$' ? 8192 : 2048)) {
        if (want[0] == '$') {
            memset(buf + n, 'x', (size_t)k);
            memcpy(buf + n + k, "\r\n", 2);
            n += (size_t)k + 2;
        } else if (strchr("*%~>", want[0]) != NULL) {
            for (k *= want[0] == '%' ? 2 : 1; k > 0; k--, n += 3) {
                memcpy(buf + n, "_\r\n", 3);
            }
        }
    }
    resp_reply_init(&r);
    cr_assert_eq(resp_reply_scan(&r, buf, n), RESP_OK, "%.*s does not scan",
                 (int)len, want);
    cr_assert_eq(r.pos, n, "%.*s: scanned %zu of %zu", (int)len, want, r.pos,
                 n);
    cr_assert_eq(r.type, want[0]);
    free(buf);
}

/*
 * Calls expr (which writes to out with capacity cap) with every cap from 0
 * to the exact size: too small must write nothing and return the size; big
 * enough must write exactly want and nothing after it.
 */
#define EXPECT_FMT(want_, want_len_, expr)                                     \
    do {                                                                       \
        char out[OUT_MAX];                                                     \
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
        scans_back(out, fmt_len);                                              \
    } while (0)
#define EXPECT_FMT_LIT(lit, expr) EXPECT_FMT(lit, sizeof(lit) - 1, expr)

/* The same in both protocols. */

Test(resp_out, simple_writes_status_line)
{
    EXPECT_FMT_LIT("+OK\r\n", resp_out_simple(out, cap, "OK"));
    EXPECT_FMT_LIT("+PONG\r\n", resp_out_simple(out, cap, "PONG"));
    EXPECT_FMT_LIT("+\r\n", resp_out_simple(out, cap, ""));
}

Test(resp_out, simple_replaces_cr_and_lf_with_spaces)
{
    EXPECT_FMT_LIT("+a b  c\r\n", resp_out_simple(out, cap, "a\rb\r\nc"));
}

Test(resp_out, error_formats_message)
{
    EXPECT_FMT_LIT("-ERR unknown command 'FOO'\r\n",
                   resp_out_error(out, cap, "ERR unknown command '%s'", "FOO"));
    EXPECT_FMT_LIT("-ERR 42\r\n", resp_out_error(out, cap, "ERR %d", 42));
}

Test(resp_out, error_replaces_cr_and_lf_with_spaces)
{
    EXPECT_FMT_LIT("-ERR a  b c\r\n",
                   resp_out_error(out, cap, "ERR %s", "a\r\nb\nc"));
}

Test(resp_out, error_sends_parser_error_on_one_line)
{
    char buf[] = "*1\r\n\r\n";
    struct resp_command cmd;
    const char *err = NULL;

    cr_assert_eq(resp_parse(buf, sizeof(buf) - 1, 8192, &cmd, &err),
                 RESP_EPROTO);
    EXPECT_FMT_LIT("-ERR Protocol error: expected '$', got ' '\r\n",
                   resp_out_error(out, cap, "ERR %s", err));
}

Test(resp_out, integer_writes_every_64_bit_value)
{
    EXPECT_FMT_LIT(":0\r\n", resp_out_integer(out, cap, 0));
    EXPECT_FMT_LIT(":7\r\n", resp_out_integer(out, cap, 7));
    EXPECT_FMT_LIT(":-1\r\n", resp_out_integer(out, cap, -1));
    EXPECT_FMT_LIT(":1000\r\n", resp_out_integer(out, cap, 1000));
    EXPECT_FMT_LIT(":9223372036854775807\r\n",
                   resp_out_integer(out, cap, INT64_MAX));
    EXPECT_FMT_LIT(":-9223372036854775808\r\n",
                   resp_out_integer(out, cap, INT64_MIN));
}

Test(resp_out, bulk_header_writes_length_line)
{
    EXPECT_FMT_LIT("$0\r\n", resp_out_bulk_header(out, cap, 0));
    EXPECT_FMT_LIT("$9\r\n", resp_out_bulk_header(out, cap, 9));
    EXPECT_FMT_LIT("$10\r\n", resp_out_bulk_header(out, cap, 10));
    EXPECT_FMT_LIT("$8192\r\n", resp_out_bulk_header(out, cap, 8192));
}

Test(resp_out, bulk_header_writes_largest_size)
{
    char want[32];
    int n = snprintf(want, sizeof(want), "$%zu\r\n", (size_t)SIZE_MAX);
    char out[32];

    cr_assert_eq(resp_out_bulk_header(out, sizeof(out), SIZE_MAX), (size_t)n);
    cr_assert(memcmp(out, want, (size_t)n) == 0);
    cr_assert_eq(resp_out_bulk_header(out, (size_t)n - 1, SIZE_MAX), (size_t)n);
}

Test(resp_out, bulk_writes_binary_payload)
{
    EXPECT_FMT_LIT("$4\r\na\0\r\n\r\n", resp_out_bulk(out, cap, "a\0\r\n", 4));
    EXPECT_FMT_LIT("$5\r\nvalue\r\n", resp_out_bulk(out, cap, "value", 5));
}

Test(resp_out, bulk_writes_empty_payload)
{
    EXPECT_FMT_LIT("$0\r\n\r\n", resp_out_bulk(out, cap, "", 0));
    EXPECT_FMT_LIT("$0\r\n\r\n", resp_out_bulk(out, cap, NULL, 0));
}

Test(resp_out, array_header_writes_count_line)
{
    EXPECT_FMT_LIT("*0\r\n", resp_out_array_header(out, cap, 0));
    EXPECT_FMT_LIT("*2\r\n", resp_out_array_header(out, cap, 2));
    EXPECT_FMT_LIT("*1024\r\n", resp_out_array_header(out, cap, 1024));
}

/* Per protocol. */

Test(resp_out, null_is_null_bulk_or_resp3_null)
{
    EXPECT_FMT_LIT("$-1\r\n", resp_out_null(out, cap, 2));
    EXPECT_FMT_LIT("_\r\n", resp_out_null(out, cap, 3));
}

Test(resp_out, null_array_is_null_array_or_resp3_null)
{
    EXPECT_FMT_LIT("*-1\r\n", resp_out_null_array(out, cap, 2));
    EXPECT_FMT_LIT("_\r\n", resp_out_null_array(out, cap, 3));
}

Test(resp_out, map_header_counts_elements_in_resp2_and_pairs_in_resp3)
{
    EXPECT_FMT_LIT("*0\r\n", resp_out_map_header(out, cap, 2, 0));
    EXPECT_FMT_LIT("*6\r\n", resp_out_map_header(out, cap, 2, 3));
    EXPECT_FMT_LIT("*14\r\n", resp_out_map_header(out, cap, 2, 7));
    EXPECT_FMT_LIT("%0\r\n", resp_out_map_header(out, cap, 3, 0));
    EXPECT_FMT_LIT("%3\r\n", resp_out_map_header(out, cap, 3, 3));
    EXPECT_FMT_LIT("%7\r\n", resp_out_map_header(out, cap, 3, 7));
}

Test(resp_out, set_header_is_array_in_resp2)
{
    EXPECT_FMT_LIT("*3\r\n", resp_out_set_header(out, cap, 2, 3));
    EXPECT_FMT_LIT("~3\r\n", resp_out_set_header(out, cap, 3, 3));
    EXPECT_FMT_LIT("~0\r\n", resp_out_set_header(out, cap, 3, 0));
}

Test(resp_out, push_header_is_array_in_resp2)
{
    EXPECT_FMT_LIT("*3\r\n", resp_out_push_header(out, cap, 2, 3));
    EXPECT_FMT_LIT(">3\r\n", resp_out_push_header(out, cap, 3, 3));
    EXPECT_FMT_LIT(">2\r\n", resp_out_push_header(out, cap, 3, 2));
}

Test(resp_out, bool_is_integer_in_resp2)
{
    EXPECT_FMT_LIT(":1\r\n", resp_out_bool(out, cap, 2, 1));
    EXPECT_FMT_LIT(":0\r\n", resp_out_bool(out, cap, 2, 0));
    EXPECT_FMT_LIT("#t\r\n", resp_out_bool(out, cap, 3, 1));
    EXPECT_FMT_LIT("#f\r\n", resp_out_bool(out, cap, 3, 0));
    EXPECT_FMT_LIT("#t\r\n", resp_out_bool(out, cap, 3, 42));
}

/* What DEBUG PROTOCOL double (3.141) gives in Redis 7.0: "$5\r\n3.141\r\n"
 * and ",3.141\r\n". */
Test(resp_out, double_is_bulk_in_resp2_as_redis_7_0_writes_it)
{
    EXPECT_FMT_LIT("$5\r\n3.141\r\n", resp_out_double(out, cap, 2, 3.141));
    EXPECT_FMT_LIT("$1\r\n0\r\n", resp_out_double(out, cap, 2, 0.0));
    EXPECT_FMT_LIT("$19\r\n0.10000000000000001\r\n",
                   resp_out_double(out, cap, 2, 0.1));
    EXPECT_FMT_LIT("$3\r\ninf\r\n", resp_out_double(out, cap, 2, INFINITY));
    EXPECT_FMT_LIT("$4\r\n-inf\r\n", resp_out_double(out, cap, 2, -INFINITY));
}

Test(resp_out, double_is_resp3_double)
{
    EXPECT_FMT_LIT(",3.141\r\n", resp_out_double(out, cap, 3, 3.141));
    EXPECT_FMT_LIT(",-2.5\r\n", resp_out_double(out, cap, 3, -2.5));
    EXPECT_FMT_LIT(",1e+22\r\n", resp_out_double(out, cap, 3, 1e22));
    EXPECT_FMT_LIT(",-1.7976931348623157e+308\r\n",
                   resp_out_double(out, cap, 3, -1.7976931348623157e308));
    EXPECT_FMT_LIT(",inf\r\n", resp_out_double(out, cap, 3, INFINITY));
    EXPECT_FMT_LIT(",-inf\r\n", resp_out_double(out, cap, 3, -INFINITY));
    EXPECT_FMT_LIT(",nan\r\n", resp_out_double(out, cap, 3, NAN));
}

/* CLIENT INFO's reply: "=N\r\ntxt:...\r\n" in RESP3, the text alone in
 * RESP2 (DEBUG PROTOCOL verbatim in Redis 7.0: "$25\r\nThis is a verbatim
 * \nstring\r\n" and "=29\r\ntxt:This is a verbatim\nstring\r\n"). */
Test(resp_out, verbatim_is_bulk_of_the_text_in_resp2)
{
    EXPECT_FMT_LIT("$25\r\nThis is a verbatim\nstring\r\n",
                   resp_out_verbatim(out, cap, 2, "txt",
                                     "This is a verbatim\nstring", 25));
    EXPECT_FMT_LIT("$0\r\n\r\n", resp_out_verbatim(out, cap, 2, "txt", "", 0));
}

Test(resp_out, verbatim_carries_its_format_in_resp3)
{
    EXPECT_FMT_LIT("=29\r\ntxt:This is a verbatim\nstring\r\n",
                   resp_out_verbatim(out, cap, 3, "txt",
                                     "This is a verbatim\nstring", 25));
    EXPECT_FMT_LIT("=4\r\nmkd:\r\n",
                   resp_out_verbatim(out, cap, 3, "mkd", NULL, 0));
}

/* HELLO: redis-server 7.0.15's replies, client id 3. */

static const struct resp_out_hello redis_7_0 = {"redis", "7.0.15", 3,
                                                "standalone", "master"};

Test(resp_out, hello_3_is_redis_7_0_map)
{
    static const char want[] =
        "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15"
        "\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:3\r\n$4\r\nmode\r\n$10\r\n"
        "standalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";

    EXPECT_FMT_LIT(want, resp_out_hello(out, cap, 3, &redis_7_0));
}

Test(resp_out, hello_2_is_redis_7_0_flat_array_of_14)
{
    static const char want[] =
        "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15"
        "\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:3\r\n$4\r\nmode\r\n$10\r\n"
        "standalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";

    EXPECT_FMT_LIT(want, resp_out_hello(out, cap, 2, &redis_7_0));
}

Test(resp_out, hello_writes_the_fields_given)
{
    static const struct resp_out_hello h = {"redis", "7.2.4", -1, "cluster",
                                            "replica"};
    static const char want[] =
        "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4"
        "\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:-1\r\n$4\r\nmode\r\n$7\r\n"
        "cluster\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$7\r\nmodules\r\n*0\r\n";

    EXPECT_FMT_LIT(want, resp_out_hello(out, cap, 3, &h));
}

Test(resp_out, hello_elements_walk_as_fourteen)
{
    char out[OUT_MAX];
    size_t n = resp_out_hello(out, sizeof(out), 3, &redis_7_0), count, first;
    size_t i, at;
    char type;

    cr_assert(resp_reply_aggregate(out, n, &type, &count, &first));
    cr_assert_eq(type, '%');
    cr_assert_eq(count, 14);
    for (i = 0, at = first; i < count; i++) {
        size_t e = resp_reply_element_len(out, n, at);

        cr_assert_gt(e, 0, "element %zu", i);
        at += e;
    }
    cr_assert_eq(at, n);
}

Test(resp_out, encoders_report_size_for_null_buffer_and_zero_cap)
{
    cr_assert_eq(resp_out_simple(NULL, 0, "OK"), 5);
    cr_assert_eq(resp_out_error(NULL, 0, "ERR %s", "x"), 8);
    cr_assert_eq(resp_out_integer(NULL, 0, -12), 6);
    cr_assert_eq(resp_out_bulk_header(NULL, 0, 123), 6);
    cr_assert_eq(resp_out_bulk(NULL, 0, "abc", 3), 9);
    cr_assert_eq(resp_out_array_header(NULL, 0, 12), 5);
    cr_assert_eq(resp_out_null(NULL, 0, 2), 5);
    cr_assert_eq(resp_out_null(NULL, 0, 3), 3);
    cr_assert_eq(resp_out_map_header(NULL, 0, 2, 5), 5);
    cr_assert_eq(resp_out_double(NULL, 0, 3, 1.5), 6);
    cr_assert_eq(resp_out_verbatim(NULL, 0, 3, "txt", "ab", 2), 12);
    cr_assert_eq(resp_out_hello(NULL, 0, 2, &redis_7_0), 146);
}
