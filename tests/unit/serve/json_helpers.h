/*
 * json_helpers: a strict checker of one JSON document (RFC 8259: objects,
 * arrays, strings with their escapes, numbers, true/false/null, nothing
 * after the value but whitespace), for the serve unit tests of what the
 * admin port renders as JSON (test_stats.c, test_admin.c); header-only
 * because each tests/unit/serve/test_*.c is its own binary. It says where
 * the first error is; it builds nothing.
 */
#ifndef RP_TEST_JSON_HELPERS_H
#define RP_TEST_JSON_HELPERS_H

#include <stddef.h>
#include <string.h>

struct json_scan {
    const char *p, *end;
    int depth;
};

static int json_value(struct json_scan *s);

static inline void
json_ws(struct json_scan *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) {
        s->p++;
    }
}

static inline int
json_lit(struct json_scan *s, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0) {
        return 0;
    }
    s->p += n;
    return 1;
}

static inline int
json_string(struct json_scan *s)
{
    if (s->p >= s->end || *s->p++ != '"') {
        return 0;
    }
    while (s->p < s->end && *s->p != '"') {
        unsigned char ch = (unsigned char)*s->p++;

        if (ch < 0x20) {
            return 0;
        }
        if (ch == '\\') {
            if (s->p >= s->end) {
                return 0;
            }
            ch = (unsigned char)*s->p++;
            if (ch == 'u') {
                for (int i = 0; i < 4; i++, s->p++) {
                    if (s->p >= s->end ||
                        !strchr("0123456789abcdefABCDEF", *s->p)) {
                        return 0;
                    }
                }
            } else if (!strchr("\"\\/bfnrt", ch)) {
                return 0;
            }
        }
    }
    return s->p++ < s->end;
}

static inline int
json_digits(struct json_scan *s)
{
    const char *start = s->p;

    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }
    return s->p > start;
}

static inline int
json_number(struct json_scan *s)
{
    if (s->p < s->end && *s->p == '-') {
        s->p++;
    }
    if (s->p < s->end && *s->p == '0') {
        s->p++;
    } else if (!json_digits(s)) {
        return 0;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!json_digits(s)) {
            return 0;
        }
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }
        if (!json_digits(s)) {
            return 0;
        }
    }
    return 1;
}

/* The members of an object or the elements of an array, after its
 * opening bracket. */
static inline int
json_container(struct json_scan *s, char close, int object)
{
    json_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 1;
    }
    for (;;) {
        json_ws(s);
        if (object) {
            if (!json_string(s)) {
                return 0;
            }
            json_ws(s);
            if (s->p >= s->end || *s->p++ != ':') {
                return 0;
            }
        }
        if (!json_value(s)) {
            return 0;
        }
        json_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        return s->p < s->end && *s->p++ == close;
    }
}

static int
json_value(struct json_scan *s)
{
    int ok;

    json_ws(s);
    if (s->p >= s->end || ++s->depth > 64) {
        return 0;
    }
    switch (*s->p) {
    case '{':
        s->p++;
        ok = json_container(s, '}', 1);
        break;
    case '[':
        s->p++;
        ok = json_container(s, ']', 0);
        break;
    case '"':
        ok = json_string(s);
        break;
    case 't':
        ok = json_lit(s, "true");
        break;
    case 'f':
        ok = json_lit(s, "false");
        break;
    case 'n':
        ok = json_lit(s, "null");
        break;
    default:
        ok = json_number(s);
    }
    s->depth--;
    return ok;
}

/* -1 when doc[0..len) is one valid JSON value (whitespace around it
 * allowed), else the offset of the first byte found wrong. */
static inline long
json_check(const char *doc, size_t len)
{
    struct json_scan s = {doc, doc + len, 0};

    if (!json_value(&s)) {
        return (long)(s.p - doc);
    }
    json_ws(&s);
    return s.p == s.end ? -1 : (long)(s.p - doc);
}

#endif
