/*
 * Unit tests of resp_encode: an inline command (as typed into telnet,
 * with Redis's quoting) becomes the RESP array Redis would have been sent,
 * exactly; an array is passed on as the bytes the client sent, only the
 * command's own; commands are appended to what the buffer holds, which
 * grows from nothing. Every encoding is parsed back with the proxy's
 * parser and must give the same arguments.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"
#include "proto/resp_encode.h"

TestSuite(resp_encode);

static struct resp_arg words[RESP_MAX_INLINE_ARGS];

/* Parses in[0..len) (copied into buf, which the command points into). */
static void
parse(char *buf, const char *in, size_t len, struct resp_command *cmd)
{
    struct resp_parser ps;
    const char *err;

    memcpy(buf, in, len);
    resp_parser_init(&ps, 1 << 20, words);
    cr_assert_eq(resp_parser_feed(&ps, buf, len, cmd, &err), RESP_OK,
                 "parse: %s", err);
}

/* Encodes the one command in `in` into a fresh buffer; returns it (the
 * length in *n). */
static char *
encode(const char *in, size_t len, size_t *n)
{
    static char buf[1 << 16];
    struct resp_command cmd;
    char *out = NULL;
    size_t cap = 0;

    *n = 0;
    parse(buf, in, len, &cmd);
    cr_assert_eq(resp_encode(&cmd, buf, &out, n, &cap), 0);
    cr_assert_geq(cap, *n);
    return out;
}

#define S(s) s, sizeof(s) - 1

/* p[0..n) with CR, LF and other bytes escaped, for messages. */
static const char *
esc(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];

        o += (size_t)(c >= 32 && c < 127 && c != '\\'
                          ? snprintf(out + o, cap - o, "%c", c)
                          : snprintf(out + o, cap - o, "\\x%02x", c));
    }
    out[o] = '\0';
    return out;
}

static void
expect_encoding(const char *in, size_t len, const char *want, size_t wlen)
{
    char e1[1024], e2[1024], e3[1024];
    size_t n;
    char *out = encode(in, len, &n);

    cr_assert(n == wlen && memcmp(out, want, n) == 0,
              "\"%s\": got \"%s\", want \"%s\"", esc(in, len, e1, sizeof(e1)),
              esc(out, n, e2, sizeof(e2)), esc(want, wlen, e3, sizeof(e3)));
    free(out);
}

Test(resp_encode, inline_commands_become_the_array_redis_expects)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
        size_t wlen;
    } cases[] = {
        {S("SET k v\r\n"), S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")},
        {S("PING\n"), S("*1\r\n$4\r\nPING\r\n")},
        {S("  lpush   list\ta b  \r\n"),
         S("*4\r\n$5\r\nlpush\r\n$4\r\nlist\r\n$1\r\na\r\n$1\r\nb\r\n")},
        {S("SET k \"a b\"\r\n"),
         S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n")},
        {S("SET k \"\\x41\\r\\n\\t\\\"\"\r\n"),
         S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nA\r\n\t\"\r\n")},
        {S("SET k 'it\\'s'\r\n"),
         S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nit's\r\n")},
        {S("SET k ''\r\n"), S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n")},
        {S("SET k \"\\x00\"\r\n"),
         S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n\0\r\n")},
        {S("ECHO $-1\r\n"), S("*2\r\n$4\r\nECHO\r\n$3\r\n$-1\r\n")},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_encoding(cases[i].in, cases[i].len, cases[i].want,
                        cases[i].wlen);
    }
}

Test(resp_encode, every_word_of_a_long_inline_command_is_encoded)
{
    char in[4096], want[8192];
    size_t o = 0, w = 0, n;
    char *out;

    o += (size_t)snprintf(in, sizeof(in), "DEL");
    w += (size_t)snprintf(want, sizeof(want), "*201\r\n$3\r\nDEL\r\n");
    for (int i = 0; i < 200; i++) { /* far past RESP_KEEP_ARGS */
        char k[16];
        int kl = snprintf(k, sizeof(k), "key%d", i);

        o += (size_t)snprintf(in + o, sizeof(in) - o, " %s", k);
        w += (size_t)snprintf(want + w, sizeof(want) - w, "$%d\r\n%s\r\n", kl,
                              k);
    }
    o += (size_t)snprintf(in + o, sizeof(in) - o, "\r\n");
    out = encode(in, o, &n);
    cr_assert_eq(n, w);
    cr_assert_eq(memcmp(out, want, w), 0);
    free(out);
}

Test(resp_encode, an_array_is_passed_on_as_sent_and_only_its_own_bytes)
{
    static const char two[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
                              "*1\r\n$4\r\nPING\r\n";
    static const char bin[] = "*2\r\n$4\r\nECHO\r\n$5\r\na\r\n\0b\r\n";
    size_t n;
    char *out = encode(two, sizeof(two) - 1, &n);

    cr_assert_eq(n, 20, "the first command only");
    cr_assert_eq(memcmp(out, two, 20), 0);
    free(out);
    out = encode(bin, sizeof(bin) - 1, &n);
    cr_assert_eq(n, sizeof(bin) - 1);
    cr_assert_eq(memcmp(out, bin, n), 0);
    free(out);
}

Test(resp_encode, commands_are_appended_and_parse_back_to_the_same_words)
{
    static const char *const lines[] = {
        "SET a 1\r\n",
        "*3\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n",
        "MSET \"x y\" 'z' q \"\\x7f\"\r\n",
        "GET a\n",
    };
    static char buf[4096];
    char *out = NULL;
    size_t len = 0, cap = 0, off = 0;
    struct resp_command orig[4];
    struct resp_arg oargs[4][8];
    size_t oargc[4];

    for (size_t i = 0; i < 4; i++) {
        struct resp_iter it;

        parse(buf, lines[i], strlen(lines[i]), &orig[i]);
        resp_iter_init(&it, &orig[i], buf);
        for (oargc[i] = 0; resp_iter_next(&it, &oargs[i][oargc[i]]);) {
            /* copy each word: buf is reused */
            char *p = malloc(oargs[i][oargc[i]].len + 1);

            cr_assert_not_null(p);
            memcpy(p, oargs[i][oargc[i]].p, oargs[i][oargc[i]].len);
            oargs[i][oargc[i]].p = p;
            oargc[i]++;
        }
        cr_assert_eq(resp_encode(&orig[i], buf, &out, &len, &cap), 0);
    }
    for (size_t i = 0; i < 4; i++) {
        struct resp_command back;
        struct resp_iter it;
        struct resp_arg a;
        const char *err;
        size_t k = 0;

        cr_assert_eq(resp_parse(out + off, len - off, 1 << 20, &back, &err),
                     RESP_OK, "command %zu: %s", i, err);
        cr_assert_eq(back.is_inline, 0, "command %zu is an array now", i);
        cr_assert_eq(back.argc, oargc[i]);
        resp_iter_init(&it, &back, out + off);
        while (resp_iter_next(&it, &a)) {
            cr_assert(a.len == oargs[i][k].len &&
                          memcmp(a.p, oargs[i][k].p, a.len) == 0,
                      "command %zu, word %zu", i, k);
            free((void *)oargs[i][k].p);
            k++;
        }
        off += back.consumed;
    }
    cr_assert_eq(off, len, "nothing but the four commands");
    free(out);
}

Test(resp_encode, the_buffer_grows_for_a_long_inline_command)
{
    static char in[RESP_MAX_INLINE];
    size_t n, word = sizeof(in) - 16;
    char *out, head[32];
    int hl;

    memcpy(in, "ECHO ", 5);
    memset(in + 5, 'x', word);
    memcpy(in + 5 + word, "\r\n", 2);
    out = encode(in, 5 + word + 2, &n);
    hl = snprintf(head, sizeof(head), "*2\r\n$4\r\nECHO\r\n$%zu\r\n", word);
    cr_assert_eq(n, (size_t)hl + word + 2);
    cr_assert_eq(memcmp(out, head, (size_t)hl), 0);
    cr_assert_eq(memcmp(out + n - 2, "\r\n", 2), 0);
    free(out);
}
