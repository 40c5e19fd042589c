/*
 * reply_helpers: the scan checks shared by the reply scanner's unit tests
 * (test_resp_reply.c, test_resp_reply_read.c), header-only because each
 * tests/unit/test_*.c is its own binary.
 *
 * check_reply() feeds one input four ways and wants the same answer from
 * each, the picohttpparser way:
 *
 *   one-shot  every prefix in a fresh, exactly sized heap copy (ASan sees
 *             any read past len) scanned by a fresh scanner: RESP_INCOMPLETE
 *             until the reply's last byte (for bad input: RESP_INCOMPLETE or
 *             RESP_EPROTO), then the expected result;
 *   resumed   one scanner fed the growing prefixes of one buffer: at every
 *             prefix what the fresh scanner said;
 *   moved     the same, each prefix in a fresh copy, the previous one
 *             poisoned and freed: the scanner keeps offsets, not pointers;
 *   skipped   moved, and what the scanner has already checked or needs
 *             not read poisoned in each copy: the bytes before r.pos, the
 *             payload of the bulk it is in, and the part of a simple
 *             string or error already searched for its end filled with
 *             LFs: a scanner that went back over them would stop at the
 *             wrong place or fail.
 */
#ifndef RP_TEST_REPLY_HELPERS_H
#define RP_TEST_REPLY_HELPERS_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"
#include "proto/resp_reply.h"

#define POISON 'X'

struct reply_case {
    const char *name;
    const char *in; /* input bytes, not NUL-terminated */
    size_t len;
    int status;      /* for the whole input */
    size_t pos;      /* RESP_OK: the reply's length (len unless pipelined) */
    char type;       /* RESP_OK: the reply proper's type byte */
    size_t attr_len; /* RESP_OK: bytes of a leading attribute */
};

/* What one scan gave. */
struct scan_outcome {
    int rc;
    size_t pos, attr_len;
    char type;
};

enum scan_mode { SCAN_RESUMED, SCAN_MOVED, SCAN_SKIPPED };
static const char *const scan_mode_name[] = {"resumed", "moved", "skipped"};

/* A heap copy of in[0..n), exactly n bytes (at least one allocated). */
static inline char *
reply_copy(const char *in, size_t n)
{
    char *buf = malloc(n > 0 ? n : 1);

    cr_assert_not_null(buf);
    memcpy(buf, in, n);
    return buf;
}

static inline void
scan_into(struct resp_reply *r, const char *buf, size_t n,
          struct scan_outcome *o)
{
    o->rc = resp_reply_scan(r, buf, n);
    o->pos = r->pos;
    o->attr_len = o->rc == RESP_OK ? r->attr_len : 0;
    o->type = o->rc == RESP_OK ? r->type : 0;
    cr_assert_leq(r->pos, n, "pos %zu beyond the %zu bytes given", r->pos, n);
}

/* A fresh scan of a fresh copy of the first n bytes. */
static inline void
scan_prefix(const struct reply_case *c, size_t n, struct scan_outcome *o)
{
    char *buf = reply_copy(c->in, n);
    struct resp_reply r;

    resp_reply_init(&r);
    scan_into(&r, buf, n, o);
    free(buf);
}

/* The outcome the whole of a reply (or of a bad input) must give. */
static inline void
check_full(const struct reply_case *c, size_t n, const struct scan_outcome *o)
{
    cr_assert_eq(o->rc, c->status, "%s: %zu of %zu bytes: status %d, want %d",
                 c->name, n, c->len, o->rc, c->status);
    if (o->rc != RESP_OK) {
        return;
    }
    cr_assert_eq(o->pos, c->pos, "%s: length %zu, want %zu", c->name, o->pos,
                 c->pos);
    cr_assert_eq(o->type, c->type, "%s: type '%c', want '%c'", c->name, o->type,
                 c->type);
    cr_assert_eq(o->attr_len, c->attr_len, "%s: attribute %zu, want %zu",
                 c->name, o->attr_len, c->attr_len);
}

/* The shortest prefix that must give the final answer. */
static inline size_t
full_len(const struct reply_case *c)
{
    return c->status == RESP_OK ? c->pos : c->len;
}

static inline void
check_one_shot(const struct reply_case *c, struct scan_outcome *ref)
{
    size_t n, full = full_len(c);

    for (n = 0; n <= c->len; n++) {
        scan_prefix(c, n, &ref[n]);
        if (n >= full) {
            check_full(c, n, &ref[n]);
        } else if (c->status == RESP_EPROTO && ref[n].rc == RESP_EPROTO) {
            /* found out before the last byte: fine */
        } else {
            cr_assert_eq(ref[n].rc, RESP_INCOMPLETE,
                         "%s: prefix %zu of %zu: status %d, want incomplete",
                         c->name, n, c->len, ref[n].rc);
        }
    }
}

/* Poisons what r has checked in buf[0..n): see the file comment. */
static inline void
poison_checked(const struct resp_reply *r, char *buf, size_t n)
{
    size_t lf_to = r->line_from > 0 ? r->line_from - 1 : 0;

    size_t pay_to = r->bulk_end >= 2 ? r->bulk_end - 2 : 0, i;

    memset(buf, POISON, r->pos < n ? r->pos : n);
    /* Only simple strings and errors go unread: other lines' text is
     * checked once they are whole. */
    if (r->bulk_end == 0 && lf_to > r->pos + 1 && lf_to <= n &&
        (buf[r->pos] == '+' || buf[r->pos] == '-')) {
        memset(buf + r->pos + 1, '\n', lf_to - (r->pos + 1));
    }
    /* A payload is skipped unread, all but a verbatim string's ':'. */
    for (i = r->pos; i < pay_to && i < n; i++) {
        if (r->verbatim == 0 || i != r->verbatim + 3) {
            buf[i] = POISON;
        }
    }
}

static inline void
check_resumed(const struct reply_case *c, const struct scan_outcome *ref,
              enum scan_mode how)
{
    const char *name = scan_mode_name[how];
    char *same = reply_copy(c->in, c->len), *buf = same;
    struct resp_reply r;
    struct scan_outcome o = {RESP_INCOMPLETE, 0, 0, 0};
    size_t n;

    resp_reply_init(&r);
    for (n = 0; n <= c->len; n++) {
        if (how != SCAN_RESUMED) {
            buf = reply_copy(c->in, n);
            if (how == SCAN_SKIPPED) {
                poison_checked(&r, buf, n);
            }
        }
        scan_into(&r, buf, n, &o);
        if (how != SCAN_RESUMED) {
            memset(buf, POISON, n);
            free(buf);
        }
        cr_assert_eq(o.rc, ref[n].rc, "%s: %s at %zu bytes: status %d, want %d",
                     c->name, name, n, o.rc, ref[n].rc);
        if (o.rc != RESP_INCOMPLETE) {
            break;
        }
    }
    check_full(c, n, &o);
    free(same);
}

static inline void
check_reply(const struct reply_case *c)
{
    struct scan_outcome *ref = calloc(c->len + 1, sizeof(*ref));

    cr_assert_not_null(ref);
    check_one_shot(c, ref);
    check_resumed(c, ref, SCAN_RESUMED);
    check_resumed(c, ref, SCAN_MOVED);
    check_resumed(c, ref, SCAN_SKIPPED);
    free(ref);
}

/* The length of the complete reply at the start of in[0..n), 0 if none. */
static inline size_t
reply_len(const char *in, size_t n)
{
    struct resp_reply r;

    resp_reply_init(&r);
    return resp_reply_scan(&r, in, n) == RESP_OK ? r.pos : 0;
}

#endif
