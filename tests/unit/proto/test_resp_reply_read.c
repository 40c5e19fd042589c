/*
 * Unit tests for the reply accessors (resp_reply_error, _integer, _bulk,
 * _is_null, _aggregate, _element_len): what each reads from a complete
 * reply of every type, through a leading attribute, and that each says 0
 * for every other type and for bytes cut short. Each input is an exactly
 * sized heap copy, so ASan sees any read past its end.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"
#include "proto/resp_reply.h"
#include "reply_helpers.h"

/* One complete reply of every type, the accessors' "other types". */
static const char *const every_type[] = {
    "+OK\r\n",
    "-ERR x\r\n",
    ":7\r\n",
    "$1\r\nx\r\n",
    "$-1\r\n",
    "*-1\r\n",
    "*1\r\n:1\r\n",
    "_\r\n",
    ",1.5\r\n",
    "#t\r\n",
    "(123\r\n",
    "!3\r\nERR\r\n",
    "=5\r\ntxt:x\r\n",
    "%1\r\n+k\r\n+v\r\n",
    "~1\r\n+a\r\n",
    ">1\r\n+p\r\n",
    "|1\r\n+a\r\n+b\r\n:9\r\n",
    "$?\r\n;1\r\nx\r\n;0\r\n",
    "*?\r\n:1\r\n.\r\n",
};
#define N_TYPES (sizeof(every_type) / sizeof(every_type[0]))

/* Which accessor says 1 for which of every_type, by its first byte (an
 * attribute's by its reply's). */
static int
is_a(int (*accepts)(const char *, size_t), const char *s)
{
    char *buf = reply_copy(s, strlen(s));
    int yes = accepts(buf, strlen(s));

    free(buf);
    return yes;
}

static int
error_ok(const char *b, size_t n)
{
    const char *m;
    size_t ml;

    return resp_reply_error(b, n, &m, &ml);
}

static int
integer_ok(const char *b, size_t n)
{
    long long v;

    return resp_reply_integer(b, n, &v);
}

static int
bulk_ok(const char *b, size_t n)
{
    const char *p;
    size_t pl;

    return resp_reply_bulk(b, n, &p, &pl);
}

static int
aggregate_ok(const char *b, size_t n)
{
    char t;
    size_t count, first;

    return resp_reply_aggregate(b, n, &t, &count, &first);
}

/* Exactly the replies in yes[] (by index into every_type) are accepted,
 * and no prefix of any of them is (with head_only, no prefix of their
 * first line: what the aggregate accessor reads of a fixed one). */
static void
accepts_only(int (*accepts)(const char *, size_t), const char *name,
             const char *yes, int head_only)
{
    size_t i, k;

    for (i = 0; i < N_TYPES; i++) {
        const char *s = every_type[i];
        int want = strchr(yes, 'a' + (int)i) != NULL;

        cr_assert_eq(is_a(accepts, s), want, "%s(%s): %d, want %d", name, s,
                     !want, want);
        for (k = 0; k < (head_only ? (size_t)(strchr(s, '\n') - s) : strlen(s));
             k++) {
            char *buf = reply_copy(s, k);

            cr_assert_eq(accepts(buf, k), 0, "%s: prefix %zu of %s", name, k,
                         s);
            free(buf);
        }
    }
}

/* Indexes into every_type as letters: a = "+OK", b = "-ERR x", ... */
Test(resp_reply_read, error_accepts_only_errors)
{
    accepts_only(error_ok, "error", "bl", 0);
}

Test(resp_reply_read, integer_accepts_only_integers)
{
    accepts_only(integer_ok, "integer", "cq", 0);
}

Test(resp_reply_read, bulk_accepts_only_bulks_and_nulls)
{
    accepts_only(bulk_ok, "bulk", "deh", 0);
}

Test(resp_reply_read, is_null_accepts_only_nulls)
{
    accepts_only(resp_reply_is_null, "is_null", "efh", 0);
}

Test(resp_reply_read, aggregate_accepts_only_aggregates)
{
    accepts_only(aggregate_ok, "aggregate", "gnops", 1);
}

/* One accessor call on an exactly sized copy of a literal. */
#define COPY(lit, var)                                                         \
    char *var = reply_copy(lit, sizeof(lit) - 1);                              \
    size_t var##_len = sizeof(lit) - 1

Test(resp_reply_read, error_gives_simple_error_text)
{
    COPY("-ERR unknown command 'FOO'\r\n", b);
    const char *m = NULL;
    size_t ml = 0;

    cr_assert(resp_reply_error(b, b_len, &m, &ml));
    cr_assert_eq(ml, 25);
    cr_assert(memcmp(m, "ERR unknown command 'FOO'", ml) == 0);
    free(b);
}

Test(resp_reply_read, error_gives_blob_error_text)
{
    COPY("!21\r\nSYNTAX invalid syntax\r\n", b);
    const char *m = NULL;
    size_t ml = 0;

    cr_assert(resp_reply_error(b, b_len, &m, &ml));
    cr_assert_eq(ml, 21);
    cr_assert(memcmp(m, "SYNTAX invalid syntax", ml) == 0);
    cr_assert_eq(m, b + 5);
    free(b);
}

Test(resp_reply_read, error_gives_empty_error_text)
{
    COPY("-\r\n", b);
    const char *m = NULL;
    size_t ml = 1;

    cr_assert(resp_reply_error(b, b_len, &m, &ml));
    cr_assert_eq(ml, 0);
    free(b);
}

Test(resp_reply_read, error_reads_through_attribute)
{
    COPY("|1\r\n+a\r\n:1\r\n-ERR x\r\n", b);
    const char *m = NULL;
    size_t ml = 0;

    cr_assert(resp_reply_error(b, b_len, &m, &ml));
    cr_assert_eq(ml, 5);
    cr_assert_eq(m, b + 13);
    free(b);
}

Test(resp_reply_read, error_ignores_bytes_after_the_reply)
{
    COPY("-ERR x\r\n+OK\r\n", b);
    const char *m = NULL;
    size_t ml = 0;

    cr_assert(resp_reply_error(b, b_len, &m, &ml));
    cr_assert_eq(ml, 5);
    free(b);
}

Test(resp_reply_read, integer_gives_every_64_bit_value)
{
    static const struct {
        const char *in;
        long long v;
    } cases[] = {
        {":0\r\n", 0},
        {":-1\r\n", -1},
        {":12345\r\n", 12345},
        {":9223372036854775807\r\n", 9223372036854775807LL},
        {":-9223372036854775808\r\n", -9223372036854775807LL - 1},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *b = reply_copy(cases[i].in, strlen(cases[i].in));
        long long v = 42;

        cr_assert(resp_reply_integer(b, strlen(cases[i].in), &v), "%s",
                  cases[i].in);
        cr_assert_eq(v, cases[i].v, "%s: %lld", cases[i].in, v);
        free(b);
    }
}

Test(resp_reply_read, integer_refuses_values_past_64_bits)
{
    COPY(":9223372036854775808\r\n", b);
    long long v = 42;

    cr_assert_eq(resp_reply_integer(b, b_len, &v), 0);
    cr_assert_eq(v, 42);
    free(b);
}

Test(resp_reply_read, integer_reads_through_attribute)
{
    COPY("|1\r\n+ttl\r\n:3600\r\n:3\r\n", b);
    long long v = 0;

    cr_assert(resp_reply_integer(b, b_len, &v));
    cr_assert_eq(v, 3);
    free(b);
}

Test(resp_reply_read, bulk_gives_payload_in_place)
{
    COPY("$4\r\na\r\nb\r\n", b);
    const char *p = NULL;
    size_t pl = 0;

    cr_assert(resp_reply_bulk(b, b_len, &p, &pl));
    cr_assert_eq(p, b + 4);
    cr_assert_eq(pl, 4);
    free(b);
}

Test(resp_reply_read, bulk_gives_empty_payload)
{
    COPY("$0\r\n\r\n", b);
    const char *p = NULL;
    size_t pl = 1;

    cr_assert(resp_reply_bulk(b, b_len, &p, &pl));
    cr_assert_eq(p, b + 4);
    cr_assert_eq(pl, 0);
    free(b);
}

Test(resp_reply_read, bulk_gives_null_for_resp2_and_resp3_nulls)
{
    COPY("$-1\r\n", b2);
    COPY("_\r\n", b3);
    const char *p = b2;
    size_t pl = 1;

    cr_assert(resp_reply_bulk(b2, b2_len, &p, &pl));
    cr_assert_null(p);
    cr_assert_eq(pl, 0);
    p = b3;
    pl = 1;
    cr_assert(resp_reply_bulk(b3, b3_len, &p, &pl));
    cr_assert_null(p);
    cr_assert_eq(pl, 0);
    free(b2);
    free(b3);
}

Test(resp_reply_read, bulk_reads_through_attribute)
{
    COPY("|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39"
         "\r\nSome real reply following the attribute\r\n",
         b);
    const char *p = NULL;
    size_t pl = 0;

    cr_assert(resp_reply_bulk(b, b_len, &p, &pl));
    cr_assert_eq(pl, 39);
    cr_assert(memcmp(p, "Some real reply following the attribute", pl) == 0);
    free(b);
}

Test(resp_reply_read, bulk_refuses_payload_without_crlf)
{
    COPY("$3\r\nabcd\r\n", b);
    const char *p = NULL;
    size_t pl = 0;

    cr_assert_eq(resp_reply_bulk(b, b_len, &p, &pl), 0);
    free(b);
}

Test(resp_reply_read, is_null_reads_through_attribute)
{
    COPY("|0\r\n_\r\n", b);

    cr_assert(resp_reply_is_null(b, b_len));
    free(b);
}

Test(resp_reply_read, is_null_refuses_empty_bulk_and_empty_array)
{
    COPY("$0\r\n\r\n", b);
    COPY("*0\r\n", a);

    cr_assert_eq(resp_reply_is_null(b, b_len), 0);
    cr_assert_eq(resp_reply_is_null(a, a_len), 0);
    free(b);
    free(a);
}

/* The aggregate at in: its header, then each element walked with
 * resp_reply_element_len must be want[i], ending where the reply does
 * (after a streamed one's "."). */
static void
check_walk(const char *in, size_t len, char type, size_t first,
           const char *const *want, size_t nwant)
{
    char *b = reply_copy(in, len);
    size_t count = 0, at = 0, i, e, end = reply_len(b, len);
    char t = 0;

    cr_assert_neq(end, 0, "%s: no complete reply", in);
    cr_assert(resp_reply_aggregate(b, len, &t, &count, &at), "%s", in);
    cr_assert_eq(t, type, "%s: type '%c'", in, t);
    cr_assert_eq(count, nwant, "%s: %zu elements, want %zu", in, count, nwant);
    cr_assert_eq(at, first, "%s: first at %zu, want %zu", in, at, first);
    for (i = 0; i < count; i++) {
        e = resp_reply_element_len(b, len, at);
        cr_assert_eq(e, strlen(want[i]), "%s: element %zu is %zu bytes", in, i,
                     e);
        cr_assert(memcmp(b + at, want[i], e) == 0, "%s: element %zu", in, i);
        at += e;
    }
    if (at < end) {
        cr_assert_eq(resp_reply_element_len(b, len, at), 0, "%s: the end", in);
        cr_assert(end - at == 3 && memcmp(b + at, ".\r\n", 3) == 0, "%s", in);
        at += 3;
    }
    cr_assert_eq(at, end, "%s: walk ends at %zu, the reply at %zu", in, at,
                 end);
    free(b);
}

#define WALKS(in, type, first, ...)                                            \
    do {                                                                       \
        static const char *const w_[] = {__VA_ARGS__};                         \
        check_walk(in, sizeof(in) - 1, type, first, w_,                        \
                   sizeof(w_) / sizeof(w_[0]));                                \
    } while (0)

Test(resp_reply_read, walks_array_elements)
{
    WALKS("*3\r\n:1\r\n$5\r\nhello\r\n*2\r\n:1\r\n_\r\n", '*', 4, ":1\r\n",
          "$5\r\nhello\r\n", "*2\r\n:1\r\n_\r\n");
}

Test(resp_reply_read, walks_hello_map_counting_keys_and_values)
{
    WALKS("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15"
          "\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:3\r\n$4\r\nmode\r\n$10\r\n"
          "standalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
          '%', 4, "$6\r\nserver\r\n", "$5\r\nredis\r\n", "$7\r\nversion\r\n",
          "$6\r\n7.0.15\r\n", "$5\r\nproto\r\n", ":3\r\n", "$2\r\nid\r\n",
          ":3\r\n", "$4\r\nmode\r\n", "$10\r\nstandalone\r\n", "$4\r\nrole\r\n",
          "$6\r\nmaster\r\n", "$7\r\nmodules\r\n", "*0\r\n");
}

Test(resp_reply_read, walks_set_and_push)
{
    WALKS("~2\r\n+a\r\n#t\r\n", '~', 4, "+a\r\n", "#t\r\n");
    WALKS(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n", '>', 4,
          "$10\r\ninvalidate\r\n", "*1\r\n$1\r\nk\r\n");
}

Test(resp_reply_read, walks_attribute_with_the_element_it_annotates)
{
    WALKS("*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n", '*', 4, ":1\r\n",
          ":2\r\n", "|1\r\n+ttl\r\n:3600\r\n:3\r\n");
}

Test(resp_reply_read, walks_through_leading_attribute)
{
    WALKS("|1\r\n+a\r\n:1\r\n*2\r\n:7\r\n:8\r\n", '*', 16, ":7\r\n", ":8\r\n");
}

Test(resp_reply_read, walks_streamed_aggregates_counting_their_elements)
{
    WALKS("*?\r\n:1\r\n*?\r\n.\r\n$?\r\n;1\r\nx\r\n;0\r\n.\r\n", '*', 4,
          ":1\r\n", "*?\r\n.\r\n", "$?\r\n;1\r\nx\r\n;0\r\n");
    WALKS("%?\r\n+a\r\n:1\r\n.\r\n", '%', 4, "+a\r\n", ":1\r\n");
    check_walk("~?\r\n.\r\n", 7, '~', 4, NULL, 0);
}

Test(resp_reply_read, walks_empty_aggregates)
{
    COPY("%0\r\n", b);
    char t = 0;
    size_t count = 1, first = 0;

    cr_assert(resp_reply_aggregate(b, b_len, &t, &count, &first));
    cr_assert_eq(t, '%');
    cr_assert_eq(count, 0);
    cr_assert_eq(first, 4);
    free(b);
}

Test(resp_reply_read, element_len_says_zero_past_the_end_and_when_cut_short)
{
    COPY("*2\r\n$3\r\nabc\r\n", b);

    cr_assert_eq(resp_reply_element_len(b, b_len, 4), 9);
    cr_assert_eq(resp_reply_element_len(b, b_len - 1, 4), 0);
    cr_assert_eq(resp_reply_element_len(b, b_len, b_len), 0);
    cr_assert_eq(resp_reply_element_len(b, b_len, b_len + 10), 0);
    free(b);
}

Test(resp_reply_read, element_len_says_zero_for_malformed_bytes)
{
    COPY("*1\r\n$3\r\nabcd\r\n", b);

    cr_assert_eq(resp_reply_element_len(b, b_len, 4), 0);
    free(b);
}
