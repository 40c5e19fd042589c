/*
 * resp_helpers: the parse checks shared by the resp unit tests (test_resp.c
 * and test_resp_feed.c), header-only because each tests/unit/test_*.c is
 * its own binary.
 *
 * check_case() feeds one input four ways, all with max_request =
 * TEST_MAX_REQUEST, and wants the same answer from each:
 *
 *   one-shot  every prefix in a fresh, exactly sized heap copy (so ASan sees
 *             any read past len, and in-place inline unescaping never leaks
 *             into the next feed), through resp_parse and through a fresh
 *             resp_parser: RESP_INCOMPLETE until the command is complete
 *             (or, for bad input, RESP_INCOMPLETE or the very same error),
 *             then the expected result; a multibulk buffer is left alone;
 *   resumed   one resp_parser (with room for inline words) fed the growing
 *             prefixes of one buffer: at every prefix the same status,
 *             error, need and command as the fresh parser on that prefix;
 *   moved     the same, but each prefix in a fresh copy and the previous one
 *             poisoned and freed: the parser keeps offsets, not pointers;
 *   skipped   moved, and the bytes [1, ps->pos) of each copy poisoned: a
 *             resumed parser never reads again what it has already checked.
 */
#ifndef RP_TEST_RESP_HELPERS_H
#define RP_TEST_RESP_HELPERS_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"

/* The max_request of every table case: the old RESP_MAX_BULK. */
#define TEST_MAX_REQUEST 8192

/* What overwrites bytes the parser must not look at: it breaks a count
 * line, a bulk header and a payload's CRLF alike. */
#define POISON 'X'

struct arg {
    const char *p;
    size_t len;
};

struct parse_case {
    const char *name;
    const char *in; /* input bytes, not NUL-terminated */
    size_t len;
    int status;                      /* result for the whole input */
    size_t argc;                     /* RESP_OK: arguments sent */
    struct arg argv[RESP_KEEP_ARGS]; /* RESP_OK: the first min(argc, 8) */
    size_t consumed;                 /* RESP_OK: bytes of the first command */
    const char *err;                 /* RESP_EPROTO: the error text */
};

/* What one feed gave, with argv as offsets so that buffers can differ. */
struct outcome {
    int rc;
    const char *err;
    size_t need; /* ps->need, after RESP_INCOMPLETE */
    size_t consumed, argc;
    int is_inline;
    size_t off[RESP_KEEP_ARGS], len[RESP_KEEP_ARGS];
};

enum feed_mode { FEED_RESUMED, FEED_MOVED, FEED_SKIPPED };
static const char *const feed_mode_name[] = {"resumed", "moved", "skipped"};

#define ERR_MBULK "Protocol error: invalid multibulk length"
#define ERR_BULK "Protocol error: invalid bulk length"
#define ERR_CRLF "Protocol error: bulk data not followed by CRLF"
#define ERR_QUOTES "Protocol error: unbalanced quotes in request"
#define ERR_INLINE "Protocol error: too big inline request"
#define ERR_DOLLAR(c) "Protocol error: expected '$', got '" c "'"

/* A heap copy of in[0..n), exactly n bytes (at least one allocated). */
static inline char *
copy_of(const char *in, size_t n)
{
    char *buf = malloc(n > 0 ? n : 1);

    cr_assert_not_null(buf);
    memcpy(buf, in, n);
    return buf;
}

/* Feeds buf[0..n) to ps and records the outcome; on RESP_OK with inline
 * words, checks that they agree with argv. */
static inline void
feed(struct resp_parser *ps, char *buf, size_t n, struct outcome *o)
{
    struct resp_command cmd;
    size_t i;

    memset(&cmd, 0, sizeof(cmd));
    memset(o, 0, sizeof(*o));
    o->rc = resp_parser_feed(ps, buf, n, &cmd, &o->err);
    if (o->rc == RESP_INCOMPLETE)
        o->need = ps->need;
    if (o->rc != RESP_OK)
        return;
    o->consumed = cmd.consumed;
    o->argc = cmd.argc;
    o->is_inline = cmd.is_inline;
    for (i = 0; i < cmd.argc && i < RESP_KEEP_ARGS; i++) {
        o->off[i] = (size_t)(cmd.argv[i].p - buf);
        o->len[i] = cmd.argv[i].len;
        if (cmd.words != NULL)
            cr_assert(cmd.words[i].p == cmd.argv[i].p &&
                          cmd.words[i].len == cmd.argv[i].len,
                      "words[%zu] is not argv[%zu]", i, i);
    }
}

static inline void
expect_same(const char *name, const char *how, size_t n,
            const struct outcome *got, const struct outcome *want)
{
    size_t i;

    cr_assert_eq(got->rc, want->rc, "%s: %s at %zu bytes: status %d, want %d",
                 name, how, n, got->rc, want->rc);
    if (got->rc == RESP_EPROTO)
        cr_assert_str_eq(got->err, want->err, "%s: %s at %zu: error", name, how,
                         n);
    cr_assert_eq(got->need, want->need, "%s: %s at %zu: need %zu, want %zu",
                 name, how, n, got->need, want->need);
    cr_assert_eq(got->consumed, want->consumed, "%s: %s at %zu: consumed", name,
                 how, n);
    cr_assert_eq(got->argc, want->argc, "%s: %s at %zu: argc", name, how, n);
    cr_assert_eq(got->is_inline, want->is_inline, "%s: %s at %zu: is_inline",
                 name, how, n);
    for (i = 0; i < got->argc && i < RESP_KEEP_ARGS; i++)
        cr_assert(got->off[i] == want->off[i] && got->len[i] == want->len[i],
                  "%s: %s at %zu: argv[%zu] at %zu+%zu, want %zu+%zu", name,
                  how, n, i, got->off[i], got->len[i], want->off[i],
                  want->len[i]);
}

/* The whole of a command (or of a bad input) has arrived: the expected
 * result, bytes included. */
static inline void
check_full(const struct parse_case *c, size_t n, int rc,
           const struct resp_command *cmd, const char *err)
{
    size_t i;

    cr_assert_eq(rc, c->status, "%s: %zu of %zu bytes: status %d, want %d",
                 c->name, n, c->len, rc, c->status);
    if (rc == RESP_EPROTO) {
        cr_assert_str_eq(err, c->err, "%s: error text", c->name);
        return;
    }
    cr_assert_eq(cmd->consumed, c->consumed, "%s: consumed %zu, want %zu",
                 c->name, cmd->consumed, c->consumed);
    cr_assert_eq(cmd->argc, c->argc, "%s: argc %zu, want %zu", c->name,
                 cmd->argc, c->argc);
    cr_assert_eq(cmd->is_inline, c->in[0] != '*', "%s: is_inline", c->name);
    cr_assert_null(cmd->words, "%s: words without room for them", c->name);
    for (i = 0; i < c->argc && i < RESP_KEEP_ARGS; i++) {
        cr_assert_eq(cmd->argv[i].len, c->argv[i].len,
                     "%s: argv[%zu] length %zu, want %zu", c->name, i,
                     cmd->argv[i].len, c->argv[i].len);
        cr_assert(memcmp(cmd->argv[i].p, c->argv[i].p, c->argv[i].len) == 0,
                  "%s: argv[%zu] bytes differ", c->name, i);
    }
}

/* One-shot parses of the first n bytes, each from a fresh copy: checks
 * resp_parse's result and records a fresh parser's in *ref. */
static inline void
check_prefix(const struct parse_case *c, size_t n, struct outcome *ref)
{
    char *buf = copy_of(c->in, n);
    struct resp_command cmd;
    struct resp_parser ps;
    const char *err = NULL;
    size_t full = c->status == RESP_OK ? c->consumed : c->len;
    int rc;

    memset(&cmd, 0, sizeof(cmd));
    rc = resp_parse(buf, n, TEST_MAX_REQUEST, &cmd, &err);
    if (n >= full) {
        check_full(c, n, rc, &cmd, err);
    } else if (rc == RESP_EPROTO && c->status == RESP_EPROTO) {
        cr_assert_str_eq(err, c->err, "%s: prefix %zu of %zu: other error",
                         c->name, n, c->len);
    } else {
        cr_assert_eq(rc, RESP_INCOMPLETE,
                     "%s: prefix %zu of %zu: status %d, want incomplete",
                     c->name, n, c->len, rc);
    }
    if (c->in[0] == '*')
        cr_assert(memcmp(buf, c->in, n) == 0, "%s: multibulk buffer changed",
                  c->name);
    memcpy(buf, c->in, n);
    resp_parser_init(&ps, TEST_MAX_REQUEST, NULL);
    feed(&ps, buf, n, ref);
    cr_assert_eq(ref->rc, rc,
                 "%s: prefix %zu: resp_parse and a fresh parser "
                 "differ",
                 c->name, n);
    free(buf);
}

/* Feeds prefixes 1..c->len through one parser (how: enum feed_mode) until
 * it stops asking for more; each must match ref[n], the fresh parse. */
static inline void
check_resumed(const struct parse_case *c, const struct outcome *ref,
              enum feed_mode how)
{
    static struct resp_arg words[RESP_MAX_INLINE_ARGS];
    const char *name = feed_mode_name[how];
    char *same = copy_of(c->in, c->len), *buf = same;
    struct resp_parser ps;
    struct outcome o;
    size_t n, skip;

    resp_parser_init(&ps, TEST_MAX_REQUEST, words);
    for (n = 1; n <= c->len; n++) {
        if (how != FEED_RESUMED) {
            buf = copy_of(c->in, n);
            skip = how == FEED_SKIPPED && c->in[0] == '*' && ps.pos > 1 ? ps.pos
                                                                        : 1;
            memset(buf + 1, POISON, skip - 1);
        }
        feed(&ps, buf, n, &o);
        if (how != FEED_RESUMED) {
            memset(buf, POISON, n);
            free(buf);
        }
        expect_same(c->name, name, n, &o, &ref[n]);
        if (o.rc != RESP_INCOMPLETE)
            break;
    }
    cr_assert_eq(o.rc, c->status, "%s: %s: ended in %d, want %d", c->name, name,
                 o.rc, c->status);
    free(same);
}

static inline void
check_case(const struct parse_case *c)
{
    struct outcome *ref = calloc(c->len + 1, sizeof(*ref));
    size_t n;

    cr_assert(c->len > 0);
    cr_assert_not_null(ref);
    for (n = 1; n <= c->len; n++)
        check_prefix(c, n, &ref[n]);
    check_resumed(c, ref, FEED_RESUMED);
    check_resumed(c, ref, FEED_MOVED);
    check_resumed(c, ref, FEED_SKIPPED);
    free(ref);
}

#endif
