/*
 * http_helpers: what the request-head parser's unit tests (test_http.c,
 * test_http_limits.c, test_http_resume.c) share, header-only because each
 * tests/unit/proto/test_*.c is its own binary.
 *
 * Parser cases are (input, expected result). check_case() parses every
 * prefix of a case's bytes, each copied to the very end of a heap block so
 * that a read past the given length trips AddressSanitizer: a complete
 * head must be HTTP_INCOMPLETE until its last byte and the same request
 * from then on; a bad one must be HTTP_INCOMPLETE until it becomes its
 * error, and stay that error. Each prefix is parsed twice more through
 * http_parse_request_resume(): resumed from the previous prefix (so a byte
 * at a time, the bytes at a new address each time), and split in two (this
 * prefix, then the whole input); both must answer as the full parse does.
 *
 * struct text builds the long inputs around the limits.
 */
#ifndef RP_TEST_HTTP_HELPERS_H
#define RP_TEST_HTTP_HELPERS_H

#include "proto/http.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parse_case {
    const char *name;
    const char *in;
    size_t len;
    int rc;
    /* checked only when rc is HTTP_OK */
    enum http_method method;
    const char *path;
    int minor;
    int keep_alive;
    int64_t content_length;
    size_t head_len;    /* 0: the whole input */
    const char *inm;    /* expected If-None-Match, NULL: absent */
    const char *origin; /* expected Origin, NULL: absent */
};

#define IN(s) .in = (s), .len = sizeof(s) - 1
#define GET11(path_) .method = HTTP_METHOD_GET, .path = (path_), .minor = 1
#define KA .keep_alive = 1
#define H11 " HTTP/1.1\r\nHost: example.com\r\n"

static inline int
within(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && p <= buf + len && n <= (size_t)(buf + len - p);
}

static inline void
expect_field(const struct parse_case *c, size_t k, const char *what,
             const char *got, size_t got_len, const char *want)
{
    if (want == NULL) {
        cr_assert_null(got, "%s: prefix %zu: %s should be absent", c->name, k,
                       what);
        return;
    }
    cr_assert_not_null(got, "%s: prefix %zu: %s missing", c->name, k, what);
    cr_assert(got_len == strlen(want) && memcmp(got, want, got_len) == 0,
              "%s: prefix %zu: %s is \"%.*s\", want \"%s\"", c->name, k, what,
              (int)got_len, got, want);
}

static inline void
expect_request(const struct parse_case *c, size_t k,
               const struct http_request *r, const char *buf)
{
    size_t head = c->head_len ? c->head_len : c->len;

    cr_assert_eq(r->method, c->method, "%s: method", c->name);
    cr_assert_eq(r->minor_version, c->minor, "%s: minor", c->name);
    cr_assert_eq(r->keep_alive, c->keep_alive, "%s: keep_alive", c->name);
    cr_assert_eq(r->content_length, c->content_length, "%s: content_length",
                 c->name);
    cr_assert_eq(r->head_len, head, "%s: prefix %zu: head_len %zu, want %zu",
                 c->name, k, r->head_len, head);
    expect_field(c, k, "path", r->path, r->path_len, c->path);
    expect_field(c, k, "If-None-Match", r->if_none_match, r->if_none_match_len,
                 c->inm);
    expect_field(c, k, "Origin", r->origin, r->origin_len, c->origin);
    cr_assert(within(r->method_name, r->method_len, buf, head) &&
                  within(r->target, r->target_len, buf, head) &&
                  within(r->path, r->path_len, r->target, r->target_len),
              "%s: pointers outside the buffer", c->name);
}

/* Every field of a resumed parse equals the full parse's (same bytes). */
static inline void
expect_same_request(const struct parse_case *c, size_t k, const char *how,
                    const struct http_request *got,
                    const struct http_request *want)
{
    cr_assert(
        got->method == want->method && got->method_name == want->method_name &&
            got->method_len == want->method_len &&
            got->target == want->target &&
            got->target_len == want->target_len && got->path == want->path &&
            got->path_len == want->path_len &&
            got->minor_version == want->minor_version &&
            got->keep_alive == want->keep_alive &&
            got->content_length == want->content_length &&
            got->if_none_match == want->if_none_match &&
            got->if_none_match_len == want->if_none_match_len &&
            got->origin == want->origin &&
            got->origin_len == want->origin_len && got->host == want->host &&
            got->host_len == want->host_len && got->head_len == want->head_len,
        "%s: prefix %zu: %s parse differs from the full parse", c->name, k,
        how);
}

/*
 * Parses every prefix of c->in, including the whole input: from the first
 * byte, resumed from the previous prefix, and as that prefix followed by
 * the rest of the input in one piece.
 */
static inline void
check_case(const struct parse_case *c)
{
    size_t head = c->head_len ? c->head_len : c->len, k, last = 0;
    char *block = malloc(c->len + 1), *whole = malloc(c->len + 1);
    struct http_request req, resumed, split, want;
    int rc, rc_resumed, want_rc, failed = 0;

    cr_assert(block != NULL && whole != NULL);
    memcpy(whole, c->in, c->len);
    want_rc = http_parse_request(whole, c->len, &want);
    for (k = 0; k <= c->len; k++) {
        char *buf = block + 1 + c->len - k;

        memcpy(buf, c->in, k);
        rc = http_parse_request(buf, k, &req);
        if (c->rc == HTTP_OK && k < head) {
            cr_assert_eq(rc, HTTP_INCOMPLETE, "%s: prefix %zu/%zu gave %d",
                         c->name, k, c->len, rc);
        } else if (c->rc == HTTP_OK) {
            cr_assert_eq(rc, HTTP_OK, "%s: prefix %zu/%zu gave %d", c->name, k,
                         c->len, rc);
            expect_request(c, k, &req, buf);
        } else if (failed || k == c->len) {
            cr_assert_eq(rc, c->rc, "%s: prefix %zu/%zu gave %d, want %d",
                         c->name, k, c->len, rc, c->rc);
        } else {
            cr_assert(rc == HTTP_INCOMPLETE || rc == c->rc,
                      "%s: prefix %zu/%zu gave %d, want %d or incomplete",
                      c->name, k, c->len, rc, c->rc);
            failed = rc == c->rc;
        }

        rc_resumed = http_parse_request_resume(buf, k, last, &resumed);
        cr_assert_eq(rc_resumed, rc,
                     "%s: prefix %zu/%zu resumed from %zu "
                     "gave %d, the full parse %d",
                     c->name, k, c->len, last, rc_resumed, rc);
        if (rc == HTTP_OK) {
            expect_same_request(c, k, "resumed", &resumed, &req);
        }
        if (rc_resumed == HTTP_INCOMPLETE) {
            last = k;
        }

        if (rc == HTTP_INCOMPLETE && k < c->len) {
            split = req;
            rc = http_parse_request_resume(whole, c->len, k, &split);
            cr_assert_eq(rc, want_rc, "%s: split at %zu/%zu gave %d, want %d",
                         c->name, k, c->len, rc, want_rc);
            if (rc == HTTP_OK) {
                expect_same_request(c, k, "split", &split, &want);
            }
        }
    }
    free(whole);
    free(block);
}

static inline void
check_table(const struct parse_case *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        check_case(&cases[i]);
    }
}

#define CHECK_TABLE(t) check_table((t), sizeof(t) / sizeof((t)[0]))

/* A growable byte string for inputs built around the limits. */
struct text {
    char *p;
    size_t len;
};

static inline void
add(struct text *t, const char *s, size_t n)
{
    t->p = realloc(t->p, t->len + n + 1);
    cr_assert_not_null(t->p);
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static inline void
adds(struct text *t, const char *s)
{
    add(t, s, strlen(s));
}

static inline void
fill(struct text *t, char c, size_t n)
{
    t->p = realloc(t->p, t->len + n + 1);
    cr_assert_not_null(t->p);
    memset(t->p + t->len, c, n);
    t->len += n;
}

static inline struct parse_case
built(const char *name, const struct text *t, int rc)
{
    return (struct parse_case){
        .name = name, .in = t->p, .len = t->len, .rc = rc};
}

/* built() for a request that parses: GET path, HTTP/1.1, keep-alive. */
static inline struct parse_case
built_get(const char *name, const struct text *t, const char *path)
{
    struct parse_case c = built(name, t, HTTP_OK);

    c.method = HTTP_METHOD_GET;
    c.path = path;
    c.minor = 1;
    c.keep_alive = 1;
    return c;
}

/* The parse of t's first at bytes is rc, and HTTP_INCOMPLETE one byte
 * before: the answer comes as soon as it can be told. */
static inline void
expect_answer_at(const struct text *t, size_t at, int rc)
{
    struct http_request req;

    cr_assert_eq(http_parse_request(t->p, at - 1, &req), HTTP_INCOMPLETE,
                 "prefix %zu", at - 1);
    cr_assert_eq(http_parse_request(t->p, at, &req), rc, "prefix %zu", at);
}

/* "GET /xxx... HTTP/1.1" with a target of target_len bytes. */
static inline void
target_request(struct text *t, size_t target_len)
{
    adds(t, "GET /");
    fill(t, 'x', target_len - 1);
    adds(t, " HTTP/1.1\r\nHost: h\r\n\r\n");
}

/* A request whose head is exactly head_len bytes, padded by one field. */
static inline void
sized_request(struct text *t, size_t head_len)
{
    static const char start[] = "GET /k HTTP/1.1\r\nHost: h\r\nX-Pad: ";

    adds(t, start);
    fill(t, 'p', head_len - (sizeof(start) - 1) - 4);
    adds(t, "\r\n\r\n");
    cr_assert_eq(t->len, head_len);
}

#endif
