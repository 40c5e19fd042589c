/*
 * test_resp_feed: the resumable side of the resp parser, and what needs
 * inputs too large for test_resp.c's every-prefix tables.
 *
 * - The argument count at RESP_MAX_ARGS: one-shot, and a few prefixes (a
 *   7 MB input fed at every prefix would take a quadratic time).
 * - Linear work: a million-argument command fed in 16 KiB reads, each read
 *   in fresh pages where what the parser has already checked (everything
 *   before ps->pos) cannot be read at all, so a parser that went back over
 *   it would crash or fail; the bytes a call can look at are then at most
 *   what is new plus the partial argument left over, which is counted.
 * - need: what it says at every prefix, and its bound.
 * - resp_iter over arrays and inline commands.
 * - One parser reading a pipelined stream of mixed commands, in reads of
 *   every size.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proto/resp.h"
#include "resp_helpers.h"

/* The largest max_request the configuration allows (512 MB). */
#define LARGE_MAX_REQUEST ((size_t)512 << 20)

/* "*n\r\n" followed by n arguments "x"; *hdr is the count line's length. */
static char *
build_array(size_t n, size_t *len, size_t *hdr)
{
    char *buf = malloc(32 + n * 7), *p = buf;
    size_t i;

    cr_assert_not_null(buf);
    p += sprintf(p, "*%zu\r\n", n);
    *hdr = (size_t)(p - buf);
    for (i = 0; i < n; i++) {
        memcpy(p, "$1\r\nx\r\n", 7);
        p += 7;
    }
    *len = (size_t)(p - buf);
    return buf;
}

/* A fresh parser on a fresh copy of in[0..n); returns the status, *need. */
static int
parse_prefix(const char *in, size_t n, size_t max_request, size_t *need)
{
    char *buf = copy_of(in, n);
    struct resp_parser ps;
    struct outcome o;

    resp_parser_init(&ps, max_request, NULL);
    feed(&ps, buf, n, &o);
    free(buf);
    *need = o.need;
    return o.rc;
}

Test(resp_feed, accepts_count_at_max_args)
{
    size_t len, hdr, need, i, n = 0;
    char *in = build_array(RESP_MAX_ARGS, &len, &hdr);
    size_t mid = hdr + 7 * (RESP_MAX_ARGS / 2); /* where an argument starts */
    struct resp_command cmd;
    struct resp_iter it;
    struct resp_arg arg;
    const char *err = NULL;
    /* (prefix, need): in the count line, right after it, between two
     * arguments, in a payload, in the last header, and at each byte of the
     * last payload and its CRLF. */
    const size_t pre[][2] = {{1, 0},        {hdr - 1, 0},       {hdr, 0},
                             {mid, 0},      {mid + 5, mid + 7}, {len - 5, 0},
                             {len - 4, 0},  {len - 3, len},     {len - 2, len},
                             {len - 1, len}};

    for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
        cr_assert_eq(parse_prefix(in, pre[i][0], LARGE_MAX_REQUEST, &need),
                     RESP_INCOMPLETE, "prefix %zu of %zu", pre[i][0], len);
        cr_assert_eq(need, pre[i][1], "prefix %zu: need %zu", pre[i][0], need);
    }
    cr_assert_eq(resp_parse(in, len, LARGE_MAX_REQUEST, &cmd, &err), RESP_OK);
    cr_assert_eq(cmd.argc, RESP_MAX_ARGS);
    cr_assert_eq(cmd.consumed, len);
    cr_assert_eq(cmd.is_inline, 0);
    for (i = 0; i < RESP_KEEP_ARGS; i++)
        cr_assert(cmd.argv[i].p == in + hdr + 7 * i + 4 && cmd.argv[i].len == 1,
                  "argv[%zu]", i);
    resp_iter_init(&it, &cmd, in);
    while (resp_iter_next(&it, &arg)) {
        cr_assert(arg.p == in + hdr + 7 * n + 4 && arg.len == 1, "argument %zu",
                  n);
        n++;
    }
    cr_assert_eq(n, RESP_MAX_ARGS);
    free(in);
}

/* A read laid out in its own pages; see guarded_copy(). */
struct guarded {
    char *map;
    size_t size;
    char *buf;
};

static uintptr_t
page_round(uintptr_t v, uintptr_t pg, int up)
{
    return (up ? v + pg - 1 : v) / pg * pg;
}

/*
 * Puts in[0..len) in fresh pages so that reading any byte of buf[1..hide)
 * faults or, for less than a page before buf + hide, reads poison: buf[0]
 * ends a page, the pages from buf + 1 on that lie wholly inside the span
 * are PROT_NONE, the rest of it is poisoned. So is what follows buf[len]
 * up to a PROT_NONE page. Only buf[0] and buf[hide..len) are copied, so a
 * read costs what the parser may look at, not the whole command.
 */
static char *
guarded_copy(struct guarded *g, const char *in, size_t len, size_t hide)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), hi;
    size_t data = page_round(pg - 1 + len, pg, 1);

    g->size = data + pg;
    g->map = mmap(NULL, g->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(g->map, MAP_FAILED);
    cr_assert_eq(mprotect(g->map, data, PROT_READ | PROT_WRITE), 0);
    g->buf = g->map + pg - 1;
    hide = hide < 1 ? 1 : hide;
    g->buf[0] = in[0];
    memcpy(g->buf + hide, in + hide, len - hide);
    memset(g->buf + len, POISON, data - (pg - 1 + len));
    hi = page_round((uintptr_t)(g->buf + hide), pg, 0);
    if (hi <= (uintptr_t)(g->buf + 1)) {
        memset(g->buf + 1, POISON, hide - 1);
        return g->buf;
    }
    memset((char *)hi, POISON, (uintptr_t)(g->buf + hide) - hi);
    cr_assert_eq(mprotect(g->buf + 1, hi - (uintptr_t)(g->buf + 1), PROT_NONE),
                 0);
    return g->buf;
}

Test(resp_feed, reads_million_argument_command_once_in_16k_reads)
{
    const size_t n = 1000000, step = 16384;
    size_t len, hdr, avail = 0, start, calls = 0, reread = 0, i;
    char *in = build_array(n, &len, &hdr), *buf;
    struct resp_parser ps;
    struct resp_command cmd;
    struct guarded g;
    const char *err = NULL;
    int rc;

    resp_parser_init(&ps, LARGE_MAX_REQUEST, NULL);
    for (;;) {
        reread += avail - ps.pos; /* given before, not yet checked */
        start = ps.pos;
        avail = avail + step < len ? avail + step : len;
        buf = guarded_copy(&g, in, avail, start);
        rc = resp_parser_feed(&ps, buf, avail, &cmd, &err);
        calls++;
        if (rc == RESP_OK)
            break;
        cr_assert_eq(rc, RESP_INCOMPLETE, "read %zu: %s", calls, err);
        /* Forward, to within one argument "$1\r\nx\r\n" of the end. */
        cr_assert_gt(ps.pos, start, "read %zu: pos stayed at %zu", calls,
                     start);
        cr_assert_lt(avail - ps.pos, 7, "read %zu: %zu bytes unchecked", calls,
                     avail - ps.pos);
        cr_assert_eq(munmap(g.map, g.size), 0);
    }
    cr_assert_eq(calls, (len + step - 1) / step);
    cr_assert_leq(reread, 6 * calls, "%zu bytes read again", reread);
    cr_assert_eq(cmd.argc, n);
    cr_assert_eq(cmd.consumed, len);
    for (i = 0; i < RESP_KEEP_ARGS; i++)
        cr_assert(cmd.argv[i].p == buf + hdr + 7 * i + 4 &&
                      cmd.argv[i].len == 1,
                  "argv[%zu]", i);
    cr_assert_eq(munmap(g.map, g.size), 0);
    free(in);
}

/* need */

#define SET_HEAD "*2\r\n$3\r\nSET\r\n$100000\r\n"

/* SET_HEAD, 100000 bytes of payload and CRLF. */
static char *
build_set(size_t *len)
{
    size_t head = sizeof(SET_HEAD) - 1;
    char *buf = malloc(head + 100000 + 2);

    cr_assert_not_null(buf);
    memcpy(buf, SET_HEAD, head);
    memset(buf + head, 'v', 100000);
    memcpy(buf + head + 100000, "\r\n", 2);
    *len = head + 100000 + 2;
    return buf;
}

Test(resp_feed, need_is_whole_command_once_last_bulk_header_is_read)
{
    size_t len, need, head = sizeof(SET_HEAD) - 1;
    char *in = build_set(&len);

    cr_assert_eq(parse_prefix(in, head, LARGE_MAX_REQUEST, &need),
                 RESP_INCOMPLETE);
    cr_assert_eq(need, len);
    cr_assert_eq(parse_prefix(in, head + 4321, LARGE_MAX_REQUEST, &need),
                 RESP_INCOMPLETE);
    cr_assert_eq(need, len);
    cr_assert_eq(parse_prefix(in, len - 1, LARGE_MAX_REQUEST, &need),
                 RESP_INCOMPLETE);
    cr_assert_eq(need, len);
    free(in);
}

/* Payload bytes of the SET command within its first n bytes. */
static size_t
set_payload_in(size_t n)
{
    size_t first = n < 8 ? 0 : n - 8 < 3 ? n - 8 : 3;

    return first + (n < 22 ? 0 : n - 22 < 100000 ? n - 22 : 100000);
}

/*
 * Fed every prefix through one parser whose max_request the bulks fill
 * exactly: need is 0 in a header, the end of the bulk being read after
 * one, and never more than max_request plus the framing bytes seen (and
 * the CRLF that is to close the bulk).
 */
Test(resp_feed, need_never_exceeds_max_request_plus_framing_seen)
{
    const size_t max = 3 + 100000;
    size_t len, n;
    char *in = build_set(&len);
    struct resp_parser ps;
    struct outcome o;

    resp_parser_init(&ps, max, NULL);
    for (n = 1; n < len; n++) {
        size_t want = n < 8 ? 0 : n < 13 ? 13 : n < 22 ? 0 : len;

        feed(&ps, in, n, &o);
        cr_assert_eq(o.rc, RESP_INCOMPLETE, "prefix %zu", n);
        cr_assert_eq(o.need, want, "prefix %zu: need %zu, want %zu", n, o.need,
                     want);
        cr_assert_leq(o.need, max + (n - set_payload_in(n)) + 2,
                      "prefix %zu: need %zu", n, o.need);
    }
    feed(&ps, in, len, &o);
    cr_assert_eq(o.rc, RESP_OK);
    cr_assert_eq(o.consumed, len);
    free(in);
}

Test(resp_feed, need_stays_zero_for_inline_lines)
{
    char in[] = "GET \"key\r\n";
    size_t n, need;

    for (n = 1; n < sizeof(in) - 2; n++) {
        cr_assert_eq(parse_prefix(in, n, TEST_MAX_REQUEST, &need),
                     RESP_INCOMPLETE);
        cr_assert_eq(need, 0, "prefix %zu", n);
    }
}

/* resp_iter */

/* Appends "*n\r\n" and n bulks to a heap buffer; returns it. */
static char *
encode_array(const struct arg *args, size_t n, size_t *len)
{
    size_t size = 32, i;
    char *buf, *p;

    for (i = 0; i < n; i++)
        size += 32 + args[i].len;
    p = buf = malloc(size);
    cr_assert_not_null(buf);
    p += sprintf(p, "*%zu\r\n", n);
    for (i = 0; i < n; i++) {
        p += sprintf(p, "$%zu\r\n", args[i].len);
        memcpy(p, args[i].p, args[i].len);
        p += args[i].len;
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    *len = (size_t)(p - buf);
    return buf;
}

/* Walks cmd with resp_iter and wants exactly want[0..n), each inside
 * buf[0..cmd->consumed). */
static void
expect_iter(const struct resp_command *cmd, const char *buf,
            const struct arg *want, size_t n)
{
    struct resp_iter it;
    struct resp_arg arg;
    size_t i = 0;

    resp_iter_init(&it, cmd, buf);
    while (resp_iter_next(&it, &arg)) {
        cr_assert_lt(i, n, "more than %zu arguments", n);
        cr_assert(arg.p >= buf && arg.p + arg.len <= buf + cmd->consumed,
                  "argument %zu outside the command", i);
        cr_assert(arg.len == want[i].len &&
                      memcmp(arg.p, want[i].p, arg.len) == 0,
                  "argument %zu is \"%.*s\", want \"%.*s\"", i, (int)arg.len,
                  arg.p, (int)want[i].len, want[i].p);
        i++;
    }
    cr_assert_eq(i, n, "%zu arguments, want %zu", i, n);
    cr_assert_eq(resp_iter_next(&it, &arg), 0, "iterator restarted");
}

/* clang-format off */
#define A(s) {s, sizeof(s) - 1}
/* clang-format on */

Test(resp_feed, iter_returns_every_array_argument_in_order)
{
    static const struct arg args[] = {
        A("MSET"),          A(""),   A("a\r\nb"), A("\0"),
        A("$3\r\nfoo\r\n"), A("k5"), A("v5"),     A("k6"),
        A("twelve bytes"),  A(""),   A("\r\n"),   A("*1\r\n"),
        A("\xff\x00\r")};
    size_t n = sizeof(args) / sizeof(args[0]), len;
    char *in = encode_array(args, n, &len);
    struct resp_command cmd;
    const char *err = NULL;

    cr_assert_gt(n, RESP_KEEP_ARGS);
    cr_assert_eq(resp_parse(in, len, TEST_MAX_REQUEST, &cmd, &err), RESP_OK);
    cr_assert_eq(cmd.argc, n);
    expect_iter(&cmd, in, args, n);
    free(in);
}

Test(resp_feed, iter_returns_nothing_for_empty_arrays)
{
    char zero[] = "*0\r\n", minus[] = "*-1\r\n";
    struct resp_command cmd;
    const char *err = NULL;

    cr_assert_eq(resp_parse(zero, 4, TEST_MAX_REQUEST, &cmd, &err), RESP_OK);
    expect_iter(&cmd, zero, NULL, 0);
    cr_assert_eq(resp_parse(minus, 5, TEST_MAX_REQUEST, &cmd, &err), RESP_OK);
    expect_iter(&cmd, minus, NULL, 0);
}

#define QUOTED_LINE "SET \"a b\" '' \"\\x41\\r\\n\" 4 5 6 7 8 9 10\r\n"
static const struct arg quoted_words[] = {
    A("SET"), A("a b"), A(""),  A("A\r\n"), A("4"), A("5"),
    A("6"),   A("7"),   A("8"), A("9"),     A("10")};

Test(resp_feed, iter_returns_every_inline_word_given_room)
{
    char in[] = QUOTED_LINE;
    struct resp_arg *words = malloc(RESP_MAX_INLINE_ARGS * sizeof(*words));
    size_t n = sizeof(quoted_words) / sizeof(quoted_words[0]);
    struct resp_parser ps;
    struct resp_command cmd;
    const char *err = NULL;

    cr_assert_not_null(words);
    resp_parser_init(&ps, TEST_MAX_REQUEST, words);
    cr_assert_eq(resp_parser_feed(&ps, in, sizeof(in) - 1, &cmd, &err),
                 RESP_OK);
    cr_assert_eq(cmd.argc, n);
    cr_assert(cmd.is_inline && cmd.words == words);
    expect_iter(&cmd, in, quoted_words, n);
    free(words);
}

/* Without room for words only argv is known: the iterator stops there. */
Test(resp_feed, iter_over_inline_without_words_stops_after_kept_args)
{
    char in[] = QUOTED_LINE;
    struct resp_command cmd;
    const char *err = NULL;

    cr_assert_eq(resp_parse(in, sizeof(in) - 1, TEST_MAX_REQUEST, &cmd, &err),
                 RESP_OK);
    cr_assert_eq(cmd.argc, sizeof(quoted_words) / sizeof(quoted_words[0]));
    cr_assert_null(cmd.words);
    expect_iter(&cmd, in, quoted_words, RESP_KEEP_ARGS);
}

/* RESP_MAX_INLINE_ARGS distinct words fill an exactly sized words array. */
Test(resp_feed, iter_returns_max_inline_args_words)
{
    struct resp_arg *words = malloc(RESP_MAX_INLINE_ARGS * sizeof(*words));
    struct arg *want = malloc(RESP_MAX_INLINE_ARGS * sizeof(*want));
    char *in = malloc(RESP_MAX_INLINE_ARGS * 5 + 2), *copy, *p = in;
    struct resp_parser ps;
    struct resp_command cmd;
    const char *err = NULL;
    size_t i, len;

    cr_assert(words != NULL && want != NULL && in != NULL);
    for (i = 0; i < RESP_MAX_INLINE_ARGS; i++)
        p += sprintf(p, "%zu ", i);
    memcpy(p, "\r\n", 2);
    len = (size_t)(p + 2 - in);
    cr_assert_leq(len, RESP_MAX_INLINE);
    copy = copy_of(in, len);
    for (i = 0, p = in; i < RESP_MAX_INLINE_ARGS; i++) {
        want[i].p = p;
        want[i].len = (size_t)((char *)memchr(p, ' ', 8) - p);
        p += want[i].len + 1;
    }
    resp_parser_init(&ps, TEST_MAX_REQUEST, words);
    cr_assert_eq(resp_parser_feed(&ps, copy, len, &cmd, &err), RESP_OK);
    cr_assert_eq(cmd.argc, RESP_MAX_INLINE_ARGS);
    expect_iter(&cmd, copy, want, RESP_MAX_INLINE_ARGS);
    free(copy);
    free(in);
    free(want);
    free(words);
}

/* A pipelined stream through one parser */

/* Mixed commands whose arrays together carry more payload than
 * max_request (STREAM_MAX), so a parser that kept the sum from one
 * command to the next would refuse the third. */
#define STREAM_MAX 16
static const char stream_in[] = "*1\r\n$4\r\nPING\r\n"
                                "GET \"a b\"\r\n"
                                "*0\r\n"
                                "\n"
                                "*2\r\n$3\r\nSET\r\n$10\r\n0123456789\r\n"
                                "ECHO x\n"
                                "*-1\r\n"
                                "*2\r\n$3\r\nGET\r\n$12\r\nabcdefghijkl\r\n"
                                "*1\r\n$4\r\nPI";
static const struct {
    size_t consumed, argc;
    int is_inline;
    struct arg arg0, arg1;
} stream_want[] = {
    {14, 1, 0, A("PING"), {NULL, 0}},
    {11, 2, 1, A("GET"), A("a b")},
    {4, 0, 0, {NULL, 0}, {NULL, 0}},
    {1, 0, 1, {NULL, 0}, {NULL, 0}},
    {30, 2, 0, A("SET"), A("0123456789")},
    {7, 2, 1, A("ECHO"), A("x")},
    {5, 0, 0, {NULL, 0}, {NULL, 0}},
    {32, 2, 0, A("GET"), A("abcdefghijkl")},
};
#define STREAM_CMDS (sizeof(stream_want) / sizeof(stream_want[0]))

static void
expect_arg(const struct resp_command *cmd, size_t i, const struct arg *want,
           size_t k)
{
    if (i >= cmd->argc)
        return;
    cr_assert(cmd->argv[i].len == want->len &&
                  memcmp(cmd->argv[i].p, want->p, want->len) == 0,
              "command %zu: argv[%zu] is \"%.*s\"", k, i, (int)cmd->argv[i].len,
              cmd->argv[i].p);
}

/*
 * Reads the stream step bytes at a time into a connection-like buffer:
 * after each read, parses until RESP_INCOMPLETE, consuming each command and
 * moving what is left to the front of a fresh buffer, as a server compacts
 * its read buffer.
 */
static void
read_stream(size_t step)
{
    static struct resp_arg words[RESP_MAX_INLINE_ARGS];
    const size_t total = sizeof(stream_in) - 1;
    size_t got = 0, have = 0, k = 0;
    struct resp_parser ps;
    struct resp_command cmd;
    const char *err = NULL;
    char *buf = copy_of("", 0), *next;
    int rc;

    resp_parser_init(&ps, STREAM_MAX, words);
    while (got < total) {
        size_t n = total - got < step ? total - got : step;

        next = malloc(have + n);
        cr_assert_not_null(next);
        memcpy(next, buf, have);
        memcpy(next + have, stream_in + got, n);
        free(buf);
        buf = next;
        got += n;
        have += n;
        while ((rc = resp_parser_feed(&ps, buf, have, &cmd, &err)) == RESP_OK) {
            cr_assert_lt(k, STREAM_CMDS, "step %zu: extra command", step);
            cr_assert_eq(cmd.consumed, stream_want[k].consumed,
                         "step %zu: command %zu", step, k);
            cr_assert_eq(cmd.argc, stream_want[k].argc, "command %zu", k);
            cr_assert_eq(cmd.is_inline, stream_want[k].is_inline);
            cr_assert(cmd.is_inline ? cmd.words == words : cmd.words == NULL);
            expect_arg(&cmd, 0, &stream_want[k].arg0, k);
            expect_arg(&cmd, 1, &stream_want[k].arg1, k);
            have -= cmd.consumed;
            memmove(buf, buf + cmd.consumed, have);
            k++;
        }
        cr_assert_eq(rc, RESP_INCOMPLETE, "step %zu: %s", step, err);
    }
    cr_assert_eq(k, STREAM_CMDS, "step %zu: %zu commands", step, k);
    cr_assert_eq(have, 10);
    cr_assert_eq(ps.need, 14, "step %zu: need for the last PING", step);
    free(buf);
}

Test(resp_feed, parses_pipelined_stream_through_one_parser_in_any_reads)
{
    size_t step;

    for (step = 1; step <= sizeof(stream_in); step++)
        read_stream(step);
}
