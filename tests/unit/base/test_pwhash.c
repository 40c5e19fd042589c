/*
 * Unit tests of base/pwhash, the password hashes of [users]: the text
 * form ("sha256:" and 64 hex digits, either case) parsed exactly and
 * refused otherwise, digests equal to SHA-256 (the known vectors, and what
 * `printf %s PASSWORD | sha256sum` prints), checks that tell the right
 * password from every near miss, and a text form that parses back.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "base/pwhash.h"

/* SHA-256 of "" and of "alicepw" (sha256sum). */
#define EMPTY_HEX                                                              \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ALICE_HEX                                                              \
    "6624974ea2baffac164422e4490376c1c31313cd97724ae8ce62fb3f0a0370f2"

static void
hex_of(const unsigned char h[PWHASH_LEN], char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < PWHASH_LEN; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 0xf];
    }
    out[2 * PWHASH_LEN] = '\0';
}

static int
parse(const char *text, unsigned char out[PWHASH_LEN])
{
    return pwhash_parse(text, strlen(text), out);
}

Test(pwhash, digests_are_sha256)
{
    unsigned char h[PWHASH_LEN];
    char hex[2 * PWHASH_LEN + 1];

    cr_assert_eq(pwhash_of("", 0, h), 0);
    hex_of(h, hex);
    cr_assert_str_eq(hex, EMPTY_HEX);
    cr_assert_eq(pwhash_of("alicepw", 7, h), 0);
    hex_of(h, hex);
    cr_assert_str_eq(hex, ALICE_HEX);
}

Test(pwhash, parses_the_text_form_in_either_case)
{
    unsigned char h[PWHASH_LEN], want[PWHASH_LEN];
    char upper[80];

    cr_assert_eq(pwhash_of("alicepw", 7, want), 0);
    cr_assert_eq(parse("sha256:" ALICE_HEX, h), 0);
    cr_assert_arr_eq(h, want, PWHASH_LEN);
    snprintf(upper, sizeof(upper), "SHA256:%s", ALICE_HEX);
    for (char *p = upper + 7; *p; p++) {
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
    }
    memset(h, 0, sizeof(h));
    cr_assert_eq(parse(upper, h), 0, "%s", upper);
    cr_assert_arr_eq(h, want, PWHASH_LEN);
}

Test(pwhash, refuses_anything_else_and_leaves_the_output)
{
    static const char *const bad[] = {
        "",
        ALICE_HEX,               /* no prefix */
        "sha1:" ALICE_HEX,       /* another algorithm */
        "#" ALICE_HEX,           /* Redis's ACL form */
        "sha256:" ALICE_HEX "0", /* 65 digits */
        "sha256:" EMPTY_HEX "x", /* a stray byte */
        "sha256:"
        "6624974ea2baffac164422e4490376c1c31313cd97724ae8ce62fb3f0a0370f",
        "sha256:"
        "g624974ea2baffac164422e4490376c1c31313cd97724ae8ce62fb3f0a0370f2",
        "sha256: "
        "624974ea2baffac164422e4490376c1c31313cd97724ae8ce62fb3f0a0370f2",
        "alicepw", /* a password pasted in */
    };
    unsigned char h[PWHASH_LEN], ones[PWHASH_LEN];

    memset(ones, 0xff, sizeof(ones));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(h, 0xff, sizeof(h));
        cr_expect_eq(parse(bad[i], h), -1, "'%s' parsed", bad[i]);
        cr_expect_arr_eq(h, ones, PWHASH_LEN, "'%s' wrote the output", bad[i]);
    }
}

Test(pwhash, check_takes_the_password_and_nothing_near_it)
{
    static const char *const near[] = {"alicepw ",  "alicep", "Alicepw",
                                       "alicepw\n", "",       "bobpw"};
    unsigned char h[PWHASH_LEN];

    cr_assert_eq(parse("sha256:" ALICE_HEX, h), 0);
    cr_expect_eq(pwhash_check(h, "alicepw", 7), 1);
    for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
        cr_expect_eq(pwhash_check(h, near[i], strlen(near[i])), 0, "'%s'",
                     near[i]);
    }
    /* Binary-safe: a NUL inside counts. */
    cr_expect_eq(pwhash_check(h, "alicepw\0", 8), 0);
}

Test(pwhash, format_parses_back)
{
    unsigned char h[PWHASH_LEN], back[PWHASH_LEN];
    char text[PWHASH_TEXT], small[10] = "untouched";

    cr_assert_eq(pwhash_of("s3cret", 6, h), 0);
    pwhash_format(h, text, sizeof(text));
    cr_assert_eq(strlen(text), PWHASH_TEXT - 1);
    cr_assert_eq(strncmp(text, "sha256:", 7), 0, "%s", text);
    cr_assert_eq(parse(text, back), 0, "%s", text);
    cr_assert_arr_eq(back, h, PWHASH_LEN);
    pwhash_format(h, small, sizeof(small));
    cr_assert_str_eq(small, "", "a buffer too small gets nothing");
}
