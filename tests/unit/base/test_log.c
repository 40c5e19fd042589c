/*
 * Unit tests of base/log's escaping: a line is always one line, whatever
 * bytes its fields carry (control bytes come out as \n, \r, \t or \xHH),
 * and log_field() escapes an unquoted value so that it cannot end early
 * (a space, a quote) or carry a byte that is not printable ASCII. The
 * lines are read back from stderr, redirected to a file (before
 * log_start(), log_write writes directly). Each test runs in its own
 * process (Criterion), so the redirection stays there.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "unit_helpers.h"

TestSuite(log);

static int
lines_in(const char *s)
{
    int n = 0;

    for (; *s != '\0'; s++) {
        n += *s == '\n';
    }
    return n;
}

Test(log, control_bytes_in_a_field_never_start_a_line)
{
    const char *path = unit_capture_stderr();
    const char *out, *forged = "GET\nts=2020-01-01T00:00:00.000Z level=error "
                               "msg=\"forged\"\r\x01\x7f\tend";

    log_info("msg=\"access\" method=%s status=%d", forged, 200);
    log_warn("msg=\"plain\" n=%d", 7);
    out = unit_captured(path);
    cr_assert_eq(lines_in(out), 2, "%s", out);
    cr_assert_not_null(strstr(out, "method=GET\\nts=2020-01-01T00:00:00.000Z "
                                   "level=error msg=\"forged\"\\r\\x01\\x7f"
                                   "\\tend status=200\n"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "level=warn msg=\"plain\" n=7\n"), "%s",
                       out);
    cr_assert_null(strstr(out, "\nts=2020"), "a forged line:\n%s", out);
}

Test(log, a_long_escaped_line_is_cut_and_still_one_line)
{
    const char *path = unit_capture_stderr();
    char field[9000]; /* escaped: 18000 bytes, past a line's 4096 */
    const char *out;

    memset(field, '\n', sizeof(field) - 1);
    field[sizeof(field) - 1] = '\0';
    log_info("msg=\"long\" v=%s", field);
    out = unit_captured(path);
    cr_assert_eq(lines_in(out), 1, "%s", out);
    cr_assert_leq(strlen(out), 4096);
    cr_assert_not_null(strstr(out, "msg=\"long\" v=\\n\\n"));
}

Test(log, field_escapes_what_would_end_an_unquoted_value)
{
    char out[64];

    cr_assert_str_eq(log_field(out, sizeof(out), "GET", 3), "GET");
    cr_assert_str_eq(log_field(out, sizeof(out), "A\nlevel=x", 9),
                     "A\\nlevel=x");
    cr_assert_str_eq(log_field(out, sizeof(out), "a b\"c\\d", 7),
                     "a\\x20b\\x22c\\\\d");
    cr_assert_str_eq(log_field(out, sizeof(out), "\r\t\x00\xff", 4),
                     "\\r\\t\\x00\\xff");
    cr_assert_str_eq(log_field(out, sizeof(out), "", 0), "");
}

Test(log, field_is_cut_at_a_whole_escape)
{
    char out[8];

    /* "ab\x01": a, b, then an escape of 4 bytes: room for 5 before NUL. */
    cr_assert_str_eq(log_field(out, 6, "ab\x01z", 4), "ab");
    cr_assert_str_eq(log_field(out, 7, "ab\x01z", 4), "ab\\x01");
    cr_assert_str_eq(log_field(out, sizeof(out), "abcdefghij", 10), "abcdefg");
    cr_assert_str_eq(log_field(out, 1, "abc", 3), "");
}
