/*
 * test_http_text: percent-decoding, the UTF-8 check and the reason
 * phrases (src/proto/http_text.c).
 */
#include "proto/http.h"

#include <criterion/criterion.h>
#include <string.h>

struct decode_case {
    const char *in;
    size_t len;
    long rc;
    const char *out;
    size_t out_len;
};

#define DEC(in_, out_)                                                         \
    {                                                                          \
        (in_), sizeof(in_) - 1, sizeof(out_) - 1, (out_), sizeof(out_) - 1     \
    }
#define DEC_BAD(in_)                                                           \
    {                                                                          \
        (in_), sizeof(in_) - 1, -1, NULL, 0                                    \
    }

Test(http, percent_decodes_exactly_once)
{
    static const struct decode_case cases[] = {
        DEC("", ""),
        DEC("plain", "plain"),
        DEC("a%2Fb", "a/b"),
        DEC("a%2fb", "a/b"),
        DEC("%20", " "),
        DEC("a+b", "a+b"),
        DEC("%00", "\0"),
        DEC("x%00y", "x\0y"),
        DEC("%C3%A9", "\xc3\xa9"),
        DEC("%25", "%"),
        DEC("%2541", "%41"),
        DEC("%41%42%43", "ABC"),
        DEC("ab%2F%2Fcd%2Fe", "ab//cd/e"),
        DEC("%ff", "\xff"),
        DEC_BAD("%4"),
        DEC_BAD("%zz"),
        DEC_BAD("%"),
        DEC_BAD("abc%"),
        DEC_BAD("%g0"),
        DEC_BAD("ok%41%4"),
        DEC_BAD("%-1"),
    };
    char buf[64];
    size_t i;
    long rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(buf, cases[i].in, cases[i].len);
        rc = http_percent_decode(buf, cases[i].len);
        cr_assert_eq(rc, cases[i].rc, "\"%s\": got %ld, want %ld", cases[i].in,
                     rc, cases[i].rc);
        if (rc >= 0) {
            cr_assert(memcmp(buf, cases[i].out, cases[i].out_len) == 0,
                      "\"%s\": wrong bytes", cases[i].in);
        }
    }
}

struct utf8_case {
    const char *name;
    const char *in;
    size_t len;
    int valid;
};

#define U8(name_, in_, valid_)                                                 \
    {                                                                          \
        (name_), (in_), sizeof(in_) - 1, (valid_)                              \
    }

Test(http, checks_utf8_strictly)
{
    static const struct utf8_case cases[] = {
        U8("empty", "", 1),
        U8("ASCII", "hello, world", 1),
        U8("NUL is ASCII", "a\0b", 1),
        U8("two-byte", "caf\xc3\xa9", 1),
        U8("three-byte", "\xe2\x82\xac", 1),
        U8("four-byte", "\xf0\x9f\x98\x80", 1),
        U8("lowest three-byte", "\xe0\xa0\x80", 1),
        U8("highest code point", "\xf4\x8f\xbf\xbf", 1),
        U8("last before surrogates", "\xed\x9f\xbf", 1),
        U8("first after surrogates", "\xee\x80\x80", 1),
        U8("multi-byte after long ASCII", "0123456789abcdef\xc3\xa9xyz", 1),
        U8("overlong two-byte C0", "\xc0\xaf", 0),
        U8("overlong two-byte C1", "\xc1\xbf", 0),
        U8("overlong three-byte", "\xe0\x80\xaf", 0),
        U8("overlong four-byte", "\xf0\x80\x80\xaf", 0),
        U8("high surrogate", "\xed\xa0\x80", 0),
        U8("low surrogate", "\xed\xbf\xbf", 0),
        U8("above U+10FFFF", "\xf4\x90\x80\x80", 0),
        U8("F5 lead", "\xf5\x80\x80\x80", 0),
        U8("FF byte", "a\xff", 0),
        U8("lone continuation", "a\x80", 0),
        U8("truncated two-byte", "ab\xc3", 0),
        U8("truncated three-byte", "\xe2\x82", 0),
        U8("truncated four-byte", "\xf0\x9f\x98", 0),
        U8("bad second continuation", "\xe2\x82\x41", 0),
        U8("invalid after long ASCII", "0123456789abcdef\xc3", 0),
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(http_is_utf8(cases[i].in, cases[i].len), cases[i].valid,
                     "%s", cases[i].name);
    }
}

Test(http, gives_reason_phrases_for_every_status_served)
{
    static const int served[] = {200, 304, 400, 404, 405, 408, 409, 413,
                                 414, 431, 500, 501, 503, 504, 505};
    size_t i;

    for (i = 0; i < sizeof(served) / sizeof(served[0]); i++) {
        cr_assert_neq(http_reason(served[i])[0], '\0', "%d", served[i]);
    }
    cr_assert_str_eq(http_reason(200), "OK");
    cr_assert_str_eq(http_reason(404), "Not Found");
    cr_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
    cr_assert_str_eq(http_reason(505), "HTTP Version Not Supported");
    cr_assert_str_eq(http_reason(299), "");
    cr_assert_str_eq(http_reason(-1), "");
}
