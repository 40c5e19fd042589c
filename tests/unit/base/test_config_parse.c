/*
 * Unit tests for the value parsers config exposes, on their own: durations
 * (config_parse_duration), sizes (config_parse_size) and seed lists
 * (config_seed_next): every unit, bare numbers, overflow, and each bad
 * form. How each key uses them is in test_config_keys.c.
 */
#include "config_helpers.h"

#include <inttypes.h>

static int64_t
duration(const char *s)
{
    int64_t ms = -42;

    cr_assert_eq(config_parse_duration(s, &ms), 0, "'%s'", s);
    return ms;
}

static void
expect_bad_duration(const char *s)
{
    int64_t ms = -42;

    cr_assert_eq(config_parse_duration(s, &ms), -1, "'%s'", s);
    cr_assert_eq(ms, -42, "'%s' wrote the output", s);
}

/* ---- durations ---- */

Test(duration, accepts_ms_s_m_and_h)
{
    cr_assert_eq(duration("250ms"), 250);
    cr_assert_eq(duration("2s"), 2000);
    cr_assert_eq(duration("3m"), 180000);
    cr_assert_eq(duration("1h"), 3600000);
}

Test(duration, bare_number_means_seconds)
{
    cr_assert_eq(duration("5"), 5000);
}

Test(duration, zero_is_zero)
{
    cr_assert_eq(duration("0"), 0);
    cr_assert_eq(duration("0ms"), 0);
}

Test(duration, largest_value_fits)
{
    cr_assert_eq(duration("9223372036854775807ms"), INT64_MAX);
}

Test(duration, rejects_empty_and_null)
{
    int64_t ms;

    expect_bad_duration("");
    cr_assert_eq(config_parse_duration(NULL, &ms), -1);
}

Test(duration, rejects_sign_and_fraction)
{
    expect_bad_duration("-1s");
    expect_bad_duration("+1s");
    expect_bad_duration("1.5s");
}

Test(duration, rejects_unknown_unit)
{
    expect_bad_duration("10x");
    expect_bad_duration("10S");
    expect_bad_duration("10sec");
    expect_bad_duration("10mss");
    expect_bad_duration("s");
    expect_bad_duration("ms");
}

Test(duration, rejects_spaces)
{
    expect_bad_duration("10 s");
    expect_bad_duration(" 10s");
    expect_bad_duration("10s ");
}

Test(duration, rejects_overflow)
{
    expect_bad_duration("9223372036854775808ms");
    expect_bad_duration("9223372036854775807s");
    expect_bad_duration("2562047788015216h");
    expect_bad_duration("99999999999999999999");
}

/* ---- sizes on their own ---- */

static int64_t
size_of(const char *s)
{
    int64_t bytes = -42;

    cr_assert_eq(config_parse_size(s, &bytes), 0, "'%s'", s);
    return bytes;
}

static void
expect_bad_size(const char *s)
{
    int64_t bytes = -42;

    cr_assert_eq(config_parse_size(s, &bytes), -1, "'%s'", s);
    cr_assert_eq(bytes, -42, "'%s' wrote the output", s);
}

Test(size, units_are_powers_of_1024)
{
    cr_assert_eq(size_of("7b"), 7);
    cr_assert_eq(size_of("1kb"), 1024);
    cr_assert_eq(size_of("1536kb"), 1572864);
    cr_assert_eq(size_of("64mb"), 67108864);
    cr_assert_eq(size_of("3gb"), INT64_C(3221225472));
}

Test(size, bare_number_means_bytes)
{
    cr_assert_eq(size_of("0"), 0);
    cr_assert_eq(size_of("4096"), 4096);
    cr_assert_eq(size_of("007"), 7);
}

Test(size, largest_values_fit_and_overflow_is_rejected)
{
    cr_assert_eq(size_of("9223372036854775807"), INT64_MAX);
    cr_assert_eq(size_of("9223372036854775807b"), INT64_MAX);
    cr_assert_eq(size_of("8589934591gb"), INT64_MAX - ((INT64_C(1) << 30) - 1));
    expect_bad_size("9223372036854775808");
    expect_bad_size("8589934592gb");
    expect_bad_size("9007199254740992kb");
    expect_bad_size("8796093022208mb");
    expect_bad_size("99999999999999999999999b");
}

Test(size, rejects_empty_null_signs_fractions_and_spaces)
{
    int64_t bytes;

    expect_bad_size("");
    cr_assert_eq(config_parse_size(NULL, &bytes), -1);
    expect_bad_size("-1");
    expect_bad_size("+1kb");
    expect_bad_size("1.5mb");
    expect_bad_size(" 1kb");
    expect_bad_size("1kb ");
    expect_bad_size("1 kb");
}

Test(size, rejects_unknown_and_upper_case_units)
{
    static const char *const bad[] = {"1k",  "1m",   "1g",  "1KB", "1Mb",
                                      "1tb", "1bb",  "kb",  "b",   "1kib",
                                      "1s",  "1kbb", "1mbs"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_bad_size(bad[i]);
    }
}

/* ---- seeds ---- */
Test(seeds, walks_each_host_and_port)
{
    static const char *const h1[] = {"a"},
                             *h3[] = {"r1.internal", "10.0.0.2", "c"};
    static const char *const h6[] = {"::1", "fe80::1%eth0"};
    static const int p1[] = {1}, p3[] = {6379, 6380, 65535}, p6[] = {7000, 1};

    expect_seeds("", NULL, NULL, 0);
    expect_seeds("   ", NULL, NULL, 0);
    expect_seeds("a:1", h1, p1, 1);
    expect_seeds("r1.internal:6379,10.0.0.2:6380,c:65535", h3, p3, 3);
    expect_seeds("  r1.internal:6379 ,10.0.0.2:6380\t,   c:65535  ", h3, p3, 3);
    expect_seeds("[::1]:7000, [fe80::1%eth0]:01", h6, p6, 2);
}

Test(seeds, each_bad_form_is_refused)
{
    static const char *const bad[] = {
        "a",
        "a:",
        ":1",
        "a:0",
        "a:65536",
        "a:1x",
        "a:+1",
        "a:-1",
        "a b:1",
        "a: 1",
        "a :1",
        "a:1,",
        "a:1, ",
        "a:1,,b:2",
        ",a:1",
        "a:1, ,b:2",
        "::1:7000",
        "[::1:7000",
        "[]:1",
        "a]:1",
        "[a:1",
        "a:1;b:2",
        "a:99999999999999999999",
        "[::1]7000",
    };
    char host[256];
    int port;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *cursor = bad[i];
        int rc;

        while ((rc = config_seed_next(&cursor, host, sizeof(host), &port)) ==
               1) {
        }
        cr_assert_eq(rc, -1, "'%s' was accepted", bad[i]);
    }
}

Test(seeds, a_host_that_does_not_fit_is_refused)
{
    char host[5];
    const char *cursor = "abcd:1";
    int port;

    cr_assert_eq(config_seed_next(&cursor, host, sizeof(host), &port), 1);
    cr_assert_str_eq(host, "abcd");
    cursor = "abcde:1";
    cr_assert_eq(config_seed_next(&cursor, host, sizeof(host), &port), -1);
}
