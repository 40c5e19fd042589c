/*
 * resp_reply: the reply scanner; see resp_reply.h.
 */
#include "proto/resp_reply.h"

#include <string.h>

#include "proto/resp.h"

void
resp_reply_init(struct resp_reply *r)
{
    r->pos = 0;
    r->pending = 1;
    r->bulk_end = 0;
    r->type = 0;
}

/* Reads the signed number that ends a line at p[0..n): "<digits>\r\n".
 * Returns the bytes it took including CRLF, 0 when the line is not all
 * there yet, or -1 when it is not a number line. */
static long
number_line(const char *p, size_t n, long long *v)
{
    size_t i = 0;
    int neg = 0;
    long long x = 0;

    if (n > 0 && p[0] == '-') {
        neg = 1;
        i = 1;
    }
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        if (x > (long long)1 << 56) {
            return -1; /* longer than any real length or count */
        }
        x = x * 10 + (p[i] - '0');
    }
    if (i == n || (i + 1 == n && p[i] == '\r')) {
        return 0;
    }
    if (p[i] != '\r' || p[i + 1] != '\n' || i == (size_t)neg) {
        return -1;
    }
    *v = neg ? -x : x;
    return (long)(i + 2);
}

/* Skips a line-typed element's text (simple string, error, integer). */
static long
text_line(const char *p, size_t n)
{
    const char *lf = memchr(p, '\n', n);

    if (lf == NULL) {
        return 0;
    }
    if (lf == p || lf[-1] != '\r') {
        return -1;
    }
    return (long)(lf - p + 1);
}

int
resp_reply_scan(struct resp_reply *r, const char *buf, size_t len)
{
    while (r->pending > 0) {
        const char *p = buf + r->pos;
        size_t n = len - r->pos;
        long long v = 0;
        long used;

        if (r->bulk_end != 0) {
            if (len < r->bulk_end) {
                return RESP_INCOMPLETE;
            }
            if (buf[r->bulk_end - 2] != '\r' || buf[r->bulk_end - 1] != '\n') {
                return RESP_EPROTO;
            }
            r->pos = r->bulk_end;
            r->bulk_end = 0;
            r->pending--;
            continue;
        }
        if (n == 0) {
            return RESP_INCOMPLETE;
        }
        if (r->type == 0) {
            r->type = p[0];
        }
        switch (p[0]) {
        case '+':
        case '-':
        case ':':
            used = text_line(p + 1, n - 1);
            break;
        case '$':
        case '*':
            used = number_line(p + 1, n - 1, &v);
            break;
        default:
            return RESP_EPROTO;
        }
        if (used < 0) {
            return RESP_EPROTO;
        }
        if (used == 0) {
            return RESP_INCOMPLETE;
        }
        r->pos += 1 + (size_t)used;
        if (p[0] == '$' && v >= 0) {
            r->bulk_end = r->pos + (size_t)v + 2;
            continue;
        }
        if ((p[0] == '$' || p[0] == '*') && v < -1) {
            return RESP_EPROTO;
        }
        r->pending--;
        if (p[0] == '*' && v > 0) {
            r->pending += v;
        }
    }
    return RESP_OK;
}

int
resp_reply_error(const char *buf, size_t len, const char **msg, size_t *mlen)
{
    if (len < 3 || buf[0] != '-') {
        return 0;
    }
    *msg = buf + 1;
    *mlen = len - 3;
    return 1;
}

int
resp_reply_integer(const char *buf, size_t len, long long *v)
{
    return len > 1 && buf[0] == ':' && number_line(buf + 1, len - 1, v) > 0;
}

int
resp_reply_bulk(const char *buf, size_t len, const char **p, size_t *plen)
{
    long long v;
    long used;

    if (len < 2 || buf[0] != '$' ||
        (used = number_line(buf + 1, len - 1, &v)) <= 0) {
        return 0;
    }
    if (v < 0) {
        *p = NULL;
        *plen = 0;
        return 1;
    }
    if ((size_t)used + 1 + (size_t)v + 2 > len) {
        return 0;
    }
    *p = buf + 1 + used;
    *plen = (size_t)v;
    return 1;
}
