/*
 * Unit tests of the HTTP response writer (proto/http_out.h): status lines
 * with their reason, the headers every head carries in their order
 * (Content-Type, Content-Length except on 204 and 304, Date,
 * X-Content-Type-Options, the extra lines, Connection), the Date as an
 * IMF-fixdate of now (per thread), a head that does not fit (0 and the
 * sticky flag, at its exact boundary), entity-tags written and matched
 * (weak comparison, lists, "*"), and the canned 408 and 503 byte for
 * byte.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto/http_out.h"

/* ---- the Date ---- */

/* The Unix time of an IMF-fixdate, or -1 when it is not one. */
static time_t
parse_date(const char *d)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || end - d != HTTP_DATE_LEN) {
        return -1;
    }
    return timegm(&tm);
}

/* d[0..HTTP_DATE_LEN) is an IMF-fixdate within [before, after]. */
static void
expect_date_now(const char *d, time_t before, time_t after)
{
    char s[HTTP_DATE_LEN + 1];
    time_t t;

    memcpy(s, d, HTTP_DATE_LEN);
    s[HTTP_DATE_LEN] = '\0';
    t = parse_date(s);
    cr_assert_neq(t, -1, "not an IMF-fixdate: %s", s);
    cr_assert(t >= before && t <= after, "%s is not now", s);
}

Test(http_date, is_an_imf_fixdate_of_now)
{
    char d[HTTP_DATE_LEN + 1];
    time_t before = time(NULL);
    const char *r = http_date(d);
    time_t after = time(NULL);

    cr_assert_eq(r, d);
    cr_assert_eq(strlen(d), HTTP_DATE_LEN);
    cr_assert_str_eq(d + HTTP_DATE_LEN - 4, " GMT");
    expect_date_now(d, before, after);
}

static void *
date_on_thread(void *arg)
{
    return (void *)http_date(arg);
}

Test(http_date, every_thread_gets_the_date_of_now)
{
    char d[HTTP_DATE_LEN + 1], mine[HTTP_DATE_LEN + 1];
    time_t before = time(NULL), after;
    pthread_t t;
    void *r;

    http_date(mine);
    cr_assert_eq(pthread_create(&t, NULL, date_on_thread, d), 0);
    pthread_join(t, &r);
    after = time(NULL);
    cr_assert_eq(r, d);
    expect_date_now(d, before, after);
    expect_date_now(mine, before, after);
}

/* ---- heads ---- */

/* Writes i's head into buf[0..cap); returns its length. */
static size_t
head(char *buf, size_t cap, const struct http_head_info *i)
{
    struct http_head h;

    http_head_init(&h, buf, cap);
    return http_head_write(&h, i);
}

/* buf[0..len) is want with its Date (the one "%D" in want) set to now. */
static void
expect_head(const char *buf, size_t len, const char *want, time_t before)
{
    const char *at = strstr(want, "%D");
    size_t pre, wlen = strlen(want) - 2 + HTTP_DATE_LEN;

    cr_assert_not_null(at);
    pre = (size_t)(at - want);
    cr_assert_eq(len, wlen, "got %zu bytes: %.*s", len, (int)len, buf);
    cr_assert_arr_eq(buf, want, pre, "got %.*s", (int)len, buf);
    expect_date_now(buf + pre, before, time(NULL));
    cr_assert_arr_eq(buf + pre + HTTP_DATE_LEN, at + 2, strlen(at + 2),
                     "got %.*s", (int)len, buf);
}

/* The head i writes is want (its Date as "%D"). */
static void
expect_written(const struct http_head_info *i, const char *want)
{
    char buf[HTTP_HEAD_MAX];
    time_t before = time(NULL);
    size_t n = head(buf, sizeof(buf), i);

    expect_head(buf, n, want, before);
}

Test(http_head, a_200_says_type_length_date_and_nosniff_in_order)
{
    struct http_head_info i = {.status = 200,
                               .type = "application/octet-stream",
                               .length = 11,
                               .extra = "X-Cache: HIT\r\nAge: 3\r\n",
                               .keep_alive = 1};

    expect_written(&i, "HTTP/1.1 200 OK\r\n"
                       "Content-Type: application/octet-stream\r\n"
                       "Content-Length: 11\r\n"
                       "Date: %D\r\n"
                       "X-Content-Type-Options: nosniff\r\n"
                       "X-Cache: HIT\r\nAge: 3\r\n"
                       "\r\n");
}

Test(http_head, status_lines_carry_their_reason)
{
    static const struct {
        int status;
        const char *line;
    } cases[] = {
        {200, "HTTP/1.1 200 OK\r\n"},
        {400, "HTTP/1.1 400 Bad Request\r\n"},
        {401, "HTTP/1.1 401 Unauthorized\r\n"},
        {404, "HTTP/1.1 404 Not Found\r\n"},
        {405, "HTTP/1.1 405 Method Not Allowed\r\n"},
        {408, "HTTP/1.1 408 Request Timeout\r\n"},
        {413, "HTTP/1.1 413 Content Too Large\r\n"},
        {503, "HTTP/1.1 503 Service Unavailable\r\n"},
        {504, "HTTP/1.1 504 Gateway Timeout\r\n"},
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct http_head_info i = {
            .status = cases[k].status, .type = "text/plain", .extra = ""};
        char buf[HTTP_HEAD_MAX];
        size_t n = head(buf, sizeof(buf), &i);

        cr_assert_gt(n, 0);
        cr_assert_eq(strncmp(buf, cases[k].line, strlen(cases[k].line)), 0,
                     "%d: %.*s", cases[k].status, (int)n, buf);
    }
}

Test(http_head, no_length_on_204_and_304_and_no_type_when_null)
{
    struct http_head_info i = {.status = 304,
                               .length = 99,
                               .extra = "ETag: \"x\"\r\n",
                               .keep_alive = 1};

    expect_written(&i, "HTTP/1.1 304 Not Modified\r\n"
                       "Date: %D\r\n"
                       "X-Content-Type-Options: nosniff\r\n"
                       "ETag: \"x\"\r\n"
                       "\r\n");
    i.status = 204;
    expect_written(&i, "HTTP/1.1 204 No Content\r\n"
                       "Date: %D\r\n"
                       "X-Content-Type-Options: nosniff\r\n"
                       "ETag: \"x\"\r\n"
                       "\r\n");
}

Test(http_head, connection_close_or_http10_keep_alive)
{
    struct http_head_info i = {
        .status = 404, .type = "text/plain", .length = 0, .extra = ""};
    char buf[HTTP_HEAD_MAX];
    size_t n;

    expect_written(&i, "HTTP/1.1 404 Not Found\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 0\r\n"
                       "Date: %D\r\n"
                       "X-Content-Type-Options: nosniff\r\n"
                       "Connection: close\r\n\r\n");
    i.keep_alive = 1;
    i.http10_keep_alive = 1;
    expect_written(&i, "HTTP/1.1 404 Not Found\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 0\r\n"
                       "Date: %D\r\n"
                       "X-Content-Type-Options: nosniff\r\n"
                       "Connection: keep-alive\r\n\r\n");
    i.http10_keep_alive = 0;
    n = head(buf, sizeof(buf), &i);
    cr_assert_null(memmem(buf, n, "Connection", 10), "HTTP/1.1 keeps alive");
}

Test(http_head, lengths_print_from_zero_to_the_largest)
{
    struct http_head h;
    char buf[64];

    http_head_init(&h, buf, sizeof(buf));
    http_head_u64(&h, 0);
    http_head_lit(&h, " ");
    http_head_u64(&h, UINT64_MAX);
    http_head_lit(&h, " ");
    http_head_u64(&h, 1000000007);
    cr_assert_eq(h.overflow, 0);
    cr_assert_eq((size_t)(h.p - buf), strlen("0 18446744073709551615 "
                                             "1000000007"));
    cr_assert_arr_eq(buf, "0 18446744073709551615 1000000007", h.p - buf);
}

Test(http_head, a_head_that_does_not_fit_is_0_at_its_exact_boundary)
{
    struct http_head_info i = {.status = 200,
                               .type = "text/plain",
                               .length = 5,
                               .extra = "X-A: b\r\n",
                               .keep_alive = 0};
    char buf[HTTP_HEAD_MAX], small[HTTP_HEAD_MAX];
    size_t n = head(buf, sizeof(buf), &i);
    struct http_head h;

    cr_assert_gt(n, 0);
    memset(small, '#', sizeof(small));
    cr_assert_eq(head(small, n, &i), n, "exactly its length fits");
    cr_assert_eq(memcmp(small, buf, n), 0);
    for (size_t cap = 0; cap < n; cap += cap < 16 || cap + 16 > n ? 1 : 7) {
        memset(small, '#', sizeof(small));
        http_head_init(&h, small, cap);
        cr_assert_eq(http_head_write(&h, &i), 0, "cap %zu of %zu", cap, n);
        cr_assert_eq(h.overflow, 1);
        cr_assert_eq(small[cap], '#', "cap %zu: written past the end", cap);
    }
    /* Sticky: a piece that fits after one that did not still fails. */
    http_head_init(&h, small, 8);
    http_head_lit(&h, "0123456789");
    http_head_lit(&h, "ab");
    cr_assert_eq(h.overflow, 1);
}

/* ---- entity-tags ---- */

Test(http_etag, a_hash_is_16_hex_digits_in_quotes)
{
    char tag[HTTP_ETAG_LEN];

    http_etag_format(tag, 0);
    cr_assert_arr_eq(tag, "\"0000000000000000\"", HTTP_ETAG_LEN);
    http_etag_format(tag, UINT64_C(0x0123456789abcdef));
    cr_assert_arr_eq(tag, "\"0123456789abcdef\"", HTTP_ETAG_LEN);
    http_etag_format(tag, UINT64_MAX);
    cr_assert_arr_eq(tag, "\"ffffffffffffffff\"", HTTP_ETAG_LEN);
}

static int
matches(const char *inm, const char *tag)
{
    return http_etag_matches(inm, strlen(inm), tag, strlen(tag));
}

Test(http_etag, if_none_match_compares_weakly_over_a_list)
{
    const char *t = "\"0123456789abcdef\"";

    cr_assert_eq(matches("\"0123456789abcdef\"", t), 1);
    cr_assert_eq(matches("W/\"0123456789abcdef\"", t), 1, "weak compares");
    cr_assert_eq(matches("*", t), 1);
    cr_assert_eq(matches("  *  ", t), 1);
    cr_assert_eq(matches("\"a\", \"0123456789abcdef\"", t), 1);
    cr_assert_eq(matches("\"a\",W/\"0123456789abcdef\" ,\"b\"", t), 1);
    cr_assert_eq(matches("\"a\" , \"b\"", t), 0);
    cr_assert_eq(matches("\"0123456789abcdee\"", t), 0);
    cr_assert_eq(matches("\"0123456789abcdef", t), 0, "unterminated");
    cr_assert_eq(matches("0123456789abcdef", t), 0, "unquoted");
    cr_assert_eq(matches("\"0123456789ABCDEF\"", t), 0, "case counts");
    cr_assert_eq(matches("", t), 0);
    cr_assert_eq(matches(" , ,", t), 0);
    cr_assert_eq(http_etag_matches("\"0123456789abcdef\"", 17, t, strlen(t)), 0,
                 "only the given length is read");
}

/* ---- the canned responses ---- */

/* The canned response for status, checked byte for byte against want
 * (its Date as "%D"). */
static void
expect_canned(int status, const char *want)
{
    char buf[512];
    time_t before = time(NULL);
    size_t n = http_canned(buf, sizeof(buf), status);

    expect_head(buf, n, want, before);
}

Test(http_canned, the_503_byte_for_byte)
{
    expect_canned(503, "HTTP/1.1 503 Service Unavailable\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n"
                       "Content-Length: 30\r\n"
                       "Date: %D\r\n"
                       "X-Content-Type-Options: nosniff\r\n"
                       "Retry-After: 1\r\n"
                       "Cache-Control: no-store\r\n"
                       "Connection: close\r\n"
                       "\r\n"
                       "max number of clients reached\n");
}

Test(http_canned, the_408_byte_for_byte)
{
    expect_canned(408, "HTTP/1.1 408 Request Timeout\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n"
                       "Content-Length: 16\r\n"
                       "Date: %D\r\n"
                       "X-Content-Type-Options: nosniff\r\n"
                       "Cache-Control: no-store\r\n"
                       "Connection: close\r\n"
                       "\r\n"
                       "request timeout\n");
}

Test(http_canned, other_statuses_and_small_buffers_get_nothing)
{
    char buf[512], small[512];
    size_t n = http_canned(buf, sizeof(buf), 503);

    cr_assert_eq(http_canned(buf, sizeof(buf), 200), 0);
    cr_assert_eq(http_canned(buf, sizeof(buf), 404), 0);
    cr_assert_eq(http_canned(buf, sizeof(buf), 504), 0);
    cr_assert_eq(http_canned(small, n, 503), n, "exactly its length fits");
    cr_assert_eq(http_canned(small, n - 1, 503), 0, "the body does not fit");
    cr_assert_eq(http_canned(small, n - 30, 503), 0, "only the head fits");
    cr_assert_eq(http_canned(small, 10, 408), 0);
}
