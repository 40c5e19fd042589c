/*
 * resp_reply: the reply scanner and its accessors; see resp_reply.h.
 *
 * resp_reply_scan reads one header line at a time and changes its state
 * only once a line is whole, so an RESP_INCOMPLETE leaves nothing half
 * done: the next call reads the same line again from its type byte (a
 * text line's search for its LF goes on from where it stopped). Payloads
 * (bulk, blob error, verbatim, chunks) are skipped by length, unread,
 * apart from the CRLF after them.
 */
#include "proto/resp_reply.h"

#include <stdint.h>
#include <string.h>

#include "proto/resp.h"

/* More elements outstanding than any real reply has: one more header may
 * add at most 2^61 (a map count under 2^60), so the count cannot wrap. */
#define RESP_REPLY_MAX_PENDING ((long long)1 << 62)

void
resp_reply_init(struct resp_reply *r)
{
    r->pos = 0;
    r->attr_len = 0;
    r->type = 0;
    r->pending = 1;
    r->bulk_end = 0;
    r->verbatim = 0;
    r->line_from = 0;
    r->chunked = 0;
    r->depth = 0;
}

/* Reads the signed number that ends a line at p[0..n): "<digits>\r\n",
 * written as Redis writes it (no '+', no leading zero, no "-0"). Returns
 * the bytes it took including CRLF, 0 when the line is not all there yet,
 * or -1 when it is not a number line (or a number beyond any real length
 * or count, 2^60). */
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
            return -1;
        }
        x = x * 10 + (p[i] - '0');
    }
    if ((i > (size_t)neg + 1 && p[neg] == '0') || (neg && i > 1 && x == 0)) {
        return -1; /* "01", "-0": Redis writes neither */
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

/* Whether p[0..n) is a signed 64-bit decimal ("-?[0-9]+", in range);
 * its value in *v. */
static int
parse_ll(const char *p, size_t n, long long *v)
{
    unsigned long long x = 0, lim;
    size_t i = 0;
    int neg = n > 0 && p[0] == '-';

    lim = neg ? (unsigned long long)INT64_MAX + 1 : INT64_MAX;
    if ((size_t)neg == n) {
        return 0;
    }
    for (i = (size_t)neg; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');

        if (d > 9 || x > (lim - d) / 10) {
            return 0;
        }
        x = x * 10 + d;
    }
    *v = neg && x > 0 ? -(long long)(x - 1) - 1 : (long long)x;
    return 1;
}

/* Whether the text t[0..n) of a line is valid for a reply of type c. */
static int
line_valid(char c, const char *t, size_t n)
{
    long long v;
    size_t i;

    switch (c) {
    case ':':
        return parse_ll(t, n, &v);
    case '_':
        return n == 0;
    case '#':
        return n == 1 && (t[0] == 't' || t[0] == 'f');
    case '(':
        i = n > 0 && (t[0] == '-' || t[0] == '+');
        if (i == n) {
            return 0;
        }
        for (; i < n; i++) {
            if (t[i] < '0' || t[i] > '9') {
                return 0;
            }
        }
        return 1;
    case ',':
        /* Digits, sign, point, exponent, and the spellings of infinity
         * and NaN a libc may print ("-nan", "nan(0x1f)"). */
        for (i = 0; i < n; i++) {
            char k = t[i];

            if (!((k >= '0' && k <= '9') || (k >= 'a' && k <= 'z') ||
                  (k >= 'A' && k <= 'Z') || strchr("+-.()_", k) != NULL) ||
                k == '\0') {
                return 0;
            }
        }
        return n > 0;
    default: /* '+', '-': any text */
        return 1;
    }
}

/*
 * The text line of type buf[r->pos] (simple string, error, integer, null,
 * double, boolean, big number). Returns the line's length including the
 * type byte and CRLF, 0 when its LF has not arrived (remembering how far
 * it looked), or -1 when it is malformed.
 */
static long
text_line(struct resp_reply *r, const char *buf, size_t len)
{
    size_t from = r->pos + 1 > r->line_from ? r->pos + 1 : r->line_from;
    const char *lf, *t;

    if (from > len) {
        from = len; /* a caller who shrank buf: search what is there */
    }
    lf = memchr(buf + from, '\n', len - from);
    if (lf == NULL) {
        r->line_from = len;
        return 0;
    }
    t = buf + r->pos + 1;
    if (lf == t || lf[-1] != '\r' ||
        !line_valid(buf[r->pos], t, (size_t)(lf - 1 - t))) {
        return -1;
    }
    return (long)(lf + 1 - (buf + r->pos));
}

/* "?\r\n" after a type byte at p[0..n): 3 when it is there, 0 when it may
 * still come, -1 when it is something else. */
static long
streamed_line(const char *p, size_t n)
{
    static const char q[] = "?\r\n";
    size_t k = n < 3 ? n : 3;

    if (memcmp(p, q, k) != 0) {
        return -1;
    }
    return k == 3 ? 3 : 0;
}

/* Whether the element just begun fills the reply's own place: then its
 * type byte is the reply proper's (anything before it was attributes). */
static void
note_type(struct resp_reply *r, char c)
{
    if (r->type == 0 && r->depth == 0 && r->pending == 1 && c != '|') {
        r->type = c;
        r->attr_len = r->pos;
    }
}

/* The element at r->pos is complete: one fewer is needed. */
static void
element_done(struct resp_reply *r)
{
    r->pending--;
}

/* A bulk-like payload of v bytes starts at r->pos: where it ends. */
static int
begin_payload(struct resp_reply *r, long long v)
{
    if ((unsigned long long)v > SIZE_MAX - 2 - r->pos) {
        return RESP_EPROTO;
    }
    r->bulk_end = r->pos + (size_t)v + 2;
    return RESP_OK;
}

/* A header with a count or length v ('?' streamed: is_q) of type c has
 * been read (r->pos is after it): what follows. */
static int
counted(struct resp_reply *r, char c, long long v, int is_q)
{
    long long add;

    if (is_q) {
        if (c == '$') {
            r->chunked = 1;
            return RESP_OK;
        }
        if (r->depth == RESP_REPLY_MAX_STREAMED) {
            return RESP_EPROTO;
        }
        r->open[r->depth].outer = r->pending;
        r->open[r->depth].count = 0;
        r->open[r->depth].type = c;
        r->depth++;
        r->pending = 0;
        return RESP_OK;
    }
    if (v == -1 && (c == '$' || c == '*')) {
        element_done(r); /* RESP2 null */
        return RESP_OK;
    }
    if (v < 0) {
        return RESP_EPROTO;
    }
    switch (c) {
    case '$':
    case '!':
        return begin_payload(r, v);
    case '=':
        if (v < 4) {
            return RESP_EPROTO; /* "txt:" at least */
        }
        r->verbatim = r->pos;
        return begin_payload(r, v);
    case '%':
        add = 2 * v - 1;
        break;
    case '|':
        add = 2 * v; /* the annotated element is still to come */
        break;
    default: /* '*', '~', '>' */
        add = v - 1;
        break;
    }
    r->pending += add;
    return r->pending > RESP_REPLY_MAX_PENDING ? RESP_EPROTO : RESP_OK;
}

/* Reads the header of the element at r->pos. */
static int
element_header(struct resp_reply *r, const char *buf, size_t len)
{
    const char *p = buf + r->pos;
    size_t n = len - r->pos;
    char c = p[0];
    long long v = 0;
    long used;
    int is_q = 0;

    switch (c) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
        used = text_line(r, buf, len);
        break;
    case '$':
    case '*':
    case '%':
    case '~':
        if (n > 1 && p[1] == '?') {
            is_q = 1;
            used = streamed_line(p + 1, n - 1);
            break;
        }
        /* fall through */
    case '!':
    case '=':
    case '>':
    case '|':
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
    note_type(r, c);
    if (c == '+' || c == '-' || c == ':' || c == '_' || c == ',' || c == '#' ||
        c == '(') {
        r->pos += (size_t)used;
        element_done(r);
        return RESP_OK;
    }
    r->pos += 1 + (size_t)used;
    return counted(r, c, v, is_q);
}

/* Inside a streamed string: reads the next ";len" chunk header. */
static int
chunk_header(struct resp_reply *r, const char *buf, size_t len)
{
    const char *p = buf + r->pos;
    long long v = 0;
    long used;

    if (p[0] != ';') {
        return RESP_EPROTO;
    }
    used = number_line(p + 1, len - r->pos - 1, &v);
    if (used < 0 || (used > 0 && v < 0)) {
        return RESP_EPROTO;
    }
    if (used == 0) {
        return RESP_INCOMPLETE;
    }
    r->pos += 1 + (size_t)used;
    if (v > 0) {
        return begin_payload(r, v);
    }
    r->chunked = 0; /* ";0": the string is complete */
    element_done(r);
    return RESP_OK;
}

/* Between two elements of the innermost streamed aggregate: either the
 * "." that ends it, or the start of one more element. */
static int
boundary(struct resp_reply *r, const char *buf, size_t len)
{
    static const char end[] = ".\r\n";
    size_t k = len - r->pos < 3 ? len - r->pos : 3;
    struct resp_reply_open *o = &r->open[r->depth - 1];

    if (k == 0) {
        return RESP_INCOMPLETE;
    }
    if (buf[r->pos] != '.') {
        o->count++;
        r->pending = 1;
        return RESP_OK;
    }
    if (memcmp(buf + r->pos, end, k) != 0) {
        return RESP_EPROTO;
    }
    if (k < 3) {
        return RESP_INCOMPLETE;
    }
    if (o->type == '%' && o->count % 2 != 0) {
        return RESP_EPROTO; /* a key without its value */
    }
    r->pos += 3;
    r->pending = o->outer;
    r->depth--;
    element_done(r);
    return RESP_OK;
}

/* The payload (or chunk) ending at r->bulk_end has arrived: checks its
 * CRLF (and a verbatim string's "fmt:"). */
static int
payload_done(struct resp_reply *r, const char *buf)
{
    if (buf[r->bulk_end - 2] != '\r' || buf[r->bulk_end - 1] != '\n') {
        return RESP_EPROTO;
    }
    if (r->verbatim != 0 && buf[r->verbatim + 3] != ':') {
        return RESP_EPROTO;
    }
    r->pos = r->bulk_end;
    r->bulk_end = 0;
    r->verbatim = 0;
    if (!r->chunked) {
        element_done(r);
    }
    return RESP_OK;
}

int
resp_reply_scan(struct resp_reply *r, const char *buf, size_t len)
{
    int rc;

    if (len < r->pos) {
        return RESP_INCOMPLETE; /* a caller's mistake: read nothing */
    }
    for (;;) {
        if (r->bulk_end != 0) {
            if (len < r->bulk_end) {
                return RESP_INCOMPLETE;
            }
            rc = payload_done(r, buf);
        } else if (r->pending == 0) {
            if (r->depth == 0) {
                return RESP_OK;
            }
            rc = boundary(r, buf, len);
        } else if (r->pos == len) {
            return RESP_INCOMPLETE;
        } else if (r->chunked) {
            rc = chunk_header(r, buf, len);
        } else {
            rc = element_header(r, buf, len);
        }
        if (rc != RESP_OK) {
            return rc;
        }
    }
}

/* Where the reply proper of the complete reply at buf starts (after any
 * attribute), or len when buf holds no complete reply. */
static size_t
reply_start(const char *buf, size_t len)
{
    struct resp_reply r;

    if (len == 0 || buf[0] != '|') {
        return 0;
    }
    resp_reply_init(&r);
    return resp_reply_scan(&r, buf, len) == RESP_OK ? r.attr_len : len;
}

/* The payload of a "$", "!" or "=" reply at p[0..n) in *out, *olen;
 * *olen = -1 for a null ("$-1"). Returns 1, or 0 when it is no such
 * complete reply. */
static int
payload(const char *p, size_t n, const char **out, long long *olen)
{
    long long v;
    long used;
    size_t avail;

    if (n < 2 || (used = number_line(p + 1, n - 1, &v)) <= 0 || v < -1) {
        return 0;
    }
    if (v == -1) {
        *olen = -1;
        return 1;
    }
    avail = n - 1 - (size_t)used; /* bytes after the length line */
    if (avail < 2 || (unsigned long long)v > avail - 2) {
        return 0;
    }
    if (p[1 + used + v] != '\r' || p[1 + used + v + 1] != '\n') {
        return 0;
    }
    *out = p + 1 + used;
    *olen = v;
    return 1;
}

/* The text of the complete line reply at p[0..n) (after its type byte,
 * before CRLF). Returns 1, or 0 when the line is not complete. */
static int
line_text(const char *p, size_t n, const char **t, size_t *tlen)
{
    const char *lf = n > 1 ? memchr(p + 1, '\n', n - 1) : NULL;

    if (lf == NULL || lf == p + 1 || lf[-1] != '\r') {
        return 0;
    }
    *t = p + 1;
    *tlen = (size_t)(lf - 1 - (p + 1));
    return 1;
}

int
resp_reply_error(const char *buf, size_t len, const char **msg, size_t *mlen)
{
    size_t at = reply_start(buf, len);
    const char *p = buf + at, *t;
    size_t n = len - at, tlen;
    long long plen;

    if (n > 0 && p[0] == '-' && line_text(p, n, &t, &tlen)) {
        *msg = t;
        *mlen = tlen;
        return 1;
    }
    if (n > 0 && p[0] == '!' && payload(p, n, &t, &plen) && plen >= 0) {
        *msg = t;
        *mlen = (size_t)plen;
        return 1;
    }
    return 0;
}

int
resp_reply_integer(const char *buf, size_t len, long long *v)
{
    size_t at = reply_start(buf, len);
    const char *p = buf + at, *t;
    size_t n = len - at, tlen;

    return n > 0 && p[0] == ':' && line_text(p, n, &t, &tlen) &&
           parse_ll(t, tlen, v);
}

int
resp_reply_bulk(const char *buf, size_t len, const char **p, size_t *plen)
{
    size_t at = reply_start(buf, len);
    const char *b = buf + at, *t = NULL;
    size_t n = len - at;
    long long v;

    if (n >= 3 && memcmp(b, "_\r\n", 3) == 0) {
        *p = NULL;
        *plen = 0;
        return 1;
    }
    if (n == 0 || b[0] != '$' || !payload(b, n, &t, &v)) {
        return 0;
    }
    *p = v < 0 ? NULL : t;
    *plen = v < 0 ? 0 : (size_t)v;
    return 1;
}

int
resp_reply_is_null(const char *buf, size_t len)
{
    size_t at = reply_start(buf, len);
    const char *p = buf + at;
    size_t n = len - at;
    long long v;

    if (n >= 3 && memcmp(p, "_\r\n", 3) == 0) {
        return 1;
    }
    return n > 1 && (p[0] == '$' || p[0] == '*') &&
           number_line(p + 1, n - 1, &v) > 0 && v == -1;
}

int
resp_reply_aggregate(const char *buf, size_t len, char *type, size_t *count,
                     size_t *first)
{
    size_t at = reply_start(buf, len), n = len - at, off, e, k = 0;
    const char *p = buf + at;
    long long v;
    long used;

    if (n < 2 || strchr("*%~>", p[0]) == NULL || p[0] == '\0') {
        return 0;
    }
    if (p[1] == '?') {
        if (p[0] == '>' || streamed_line(p + 1, n - 1) != 3) {
            return 0;
        }
        for (off = at + 4; off < len && buf[off] != '.'; off += e, k++) {
            if ((e = resp_reply_element_len(buf, len, off)) == 0) {
                return 0;
            }
        }
        if (off == len) {
            return 0;
        }
        *first = at + 4;
    } else {
        if ((used = number_line(p + 1, n - 1, &v)) <= 0 || v < 0) {
            return 0;
        }
        k = p[0] == '%' ? 2 * (size_t)v : (size_t)v;
        *first = at + 1 + (size_t)used;
    }
    *type = p[0];
    *count = k;
    return 1;
}

size_t
resp_reply_element_len(const char *buf, size_t len, size_t off)
{
    struct resp_reply r;

    if (off >= len) {
        return 0;
    }
    resp_reply_init(&r);
    return resp_reply_scan(&r, buf + off, len - off) == RESP_OK ? r.pos : 0;
}
