/*
 * resp: Redis-protocol request parser and reply encoders.
 *
 * The parser is stateless: every call starts again at buf[0], so the caller
 * keeps nothing between reads but the unconsumed bytes. That costs a re-scan
 * of the few header bytes of a command that arrives in pieces, never of its
 * payload: a bulk's length is parsed and checked against RESP_MAX_BULK, then
 * the payload is skipped over by arithmetic. Number lines are parsed in one
 * pass that fails as soon as the digits can no longer form an acceptable
 * value, so a client cannot make us scan an endless "*000..." line; inline
 * lines are bounded by RESP_MAX_INLINE the same way, and their words by
 * RESP_MAX_BULK and RESP_MAX_ARGS as an array's are. What is accepted and the
 * error texts follow Redis 7 (networking.c, string2ll(), sdssplitargs()),
 * except that we also insist on "\r\n" where Redis trusts the client: after a
 * count and after a bulk's payload.
 *
 * Encoders compute the exact size first and write only when it fits, so a
 * caller can size its buffer with a first call and never sees a partial reply.
 */
#include "proto/resp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERR_MBULK_LEN "Protocol error: invalid multibulk length"
#define ERR_BULK_LEN "Protocol error: invalid bulk length"
#define ERR_BULK_CRLF "Protocol error: bulk data not followed by CRLF"
#define ERR_INLINE_BIG "Protocol error: too big inline request"
#define ERR_QUOTES "Protocol error: unbalanced quotes in request"

/*
 * "Protocol error: expected '$', got 'X'" for every byte X, so that *err can
 * point to a static string. As in Redis, a NUL byte ends the text early.
 */
#define DOLLAR_ERR(x)                                                          \
    {                                                                          \
        'P', 'r', 'o', 't', 'o', 'c', 'o', 'l', ' ', 'e', 'r', 'r', 'o', 'r',  \
            ':', ' ', 'e', 'x', 'p', 'e', 'c', 't', 'e', 'd', ' ', '\'', '$',  \
            '\'', ',', ' ', 'g', 'o', 't', ' ', '\'', (char)(x), '\'', '\0'    \
    }
#define DOLLAR_ERR4(x)                                                         \
    DOLLAR_ERR(x), DOLLAR_ERR(x + 1), DOLLAR_ERR(x + 2), DOLLAR_ERR(x + 3)
#define DOLLAR_ERR16(x)                                                        \
    DOLLAR_ERR4(x), DOLLAR_ERR4(x + 4), DOLLAR_ERR4(x + 8), DOLLAR_ERR4(x + 12)
#define DOLLAR_ERR64(x)                                                        \
    DOLLAR_ERR16(x), DOLLAR_ERR16(x + 16), DOLLAR_ERR16(x + 32),               \
        DOLLAR_ERR16(x + 48)

static const char dollar_err[256][38] = {DOLLAR_ERR64(0), DOLLAR_ERR64(64),
                                         DOLLAR_ERR64(128), DOLLAR_ERR64(192)};

/* 2^63: the magnitude of LLONG_MIN, the largest string2ll() accepts. */
#define MAGNITUDE_MAX ((unsigned long long)9223372036854775807LL + 1)

/*
 * Parses "<integer>\r\n" at p[0..n) with string2ll()'s rules: an optional
 * '-' (only when allow_neg), no '+', no spaces, no leading zeros, no "-0",
 * within long long. Positive values above max fail at the first digit that
 * crosses it. Returns RESP_OK with *val and *used (bytes up to and including
 * the LF), RESP_INCOMPLETE, or RESP_EPROTO.
 */
static int
parse_number(const char *p, size_t n, unsigned long long max, int allow_neg,
             long long *val, size_t *used)
{
    unsigned long long v = 0, limit = max, cutoff, cutlim;
    size_t start = 0, i;

    if (n > 0 && p[0] == '-') {
        if (!allow_neg)
            return RESP_EPROTO;
        start = 1;
        limit = MAGNITUDE_MAX;
    }
    if (start < n && p[start] == '0' &&
        (start == 1 || (start + 1 < n && p[start + 1] != '\r')))
        return RESP_EPROTO;
    cutoff = limit / 10;
    cutlim = limit % 10;
    for (i = start; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)p[i] - '0';

        if (d > 9)
            break;
        if (v > cutoff || (v == cutoff && d > cutlim))
            return RESP_EPROTO;
        v = v * 10 + d;
    }
    if (i == n)
        return RESP_INCOMPLETE;
    if (p[i] != '\r' || i == start)
        return RESP_EPROTO;
    if (i + 1 == n)
        return RESP_INCOMPLETE;
    if (p[i + 1] != '\n')
        return RESP_EPROTO;
    *val = start == 1 ? -(long long)(v - 1) - 1 : (long long)v;
    *used = i + 2;
    return RESP_OK;
}

static int
parse_multibulk(const char *buf, size_t len, struct resp_command *cmd,
                const char **err)
{
    long long n, v;
    size_t pos = 1, used, blen, i;
    int rc;

    rc = parse_number(buf + 1, len - 1, RESP_MAX_ARGS, 1, &n, &used);
    if (rc != RESP_OK) {
        if (rc == RESP_EPROTO)
            *err = ERR_MBULK_LEN;
        return rc;
    }
    pos += used;
    if (n < 0)
        n = 0;

    for (i = 0; i < (size_t)n; i++) {
        if (pos == len)
            return RESP_INCOMPLETE;
        if (buf[pos] != '$') {
            *err = dollar_err[(unsigned char)buf[pos]];
            return RESP_EPROTO;
        }
        rc = parse_number(buf + pos + 1, len - pos - 1, RESP_MAX_BULK, 0, &v,
                          &used);
        if (rc != RESP_OK) {
            if (rc == RESP_EPROTO)
                *err = ERR_BULK_LEN;
            return rc;
        }
        pos += 1 + used;
        blen = (size_t)v;
        if (len - pos < blen + 2)
            return RESP_INCOMPLETE;
        if (buf[pos + blen] != '\r' || buf[pos + blen + 1] != '\n') {
            *err = ERR_BULK_CRLF;
            return RESP_EPROTO;
        }
        if (i < RESP_KEEP_ARGS) {
            cmd->argv[i].p = buf + pos;
            cmd->argv[i].len = blen;
        }
        pos += blen + 2;
    }
    cmd->argc = (size_t)n;
    cmd->consumed = pos;
    return RESP_OK;
}

/* isspace() in the C locale: what sdssplitargs() skips between arguments. */
static inline int
is_blank(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* What ends an unquoted argument in sdssplitargs() (NUL is cut off first). */
static inline int
is_arg_end(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline char
unescape(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'b':
        return '\b';
    case 'a':
        return '\a';
    default:
        return c;
    }
}

/*
 * Copies the quoted text that starts at p (just after the opening quote q)
 * to *wp, unescaping as Redis does: in double quotes \n \r \t \b \a \xHH and
 * any other escaped byte as itself; in single quotes only \'. The closing
 * quote must be followed by a blank or the end of the line. Returns the
 * position after the closing quote, or NULL for unbalanced quotes.
 */
static char *
unquote(char *p, char *end, char q, char **wp)
{
    char *w = *wp;
    int hi, lo;

    while (p < end && *p != q) {
        if (*p != '\\' || end - p < 2) {
            *w++ = *p++;
        } else if (q == '\'') {
            if (p[1] == '\'')
                p++;
            *w++ = *p++;
        } else if (p[1] == 'x' && end - p >= 4 && (hi = hex_value(p[2])) >= 0 &&
                   (lo = hex_value(p[3])) >= 0) {
            *w++ = (char)(hi << 4 | lo);
            p += 4;
        } else {
            *w++ = unescape(p[1]);
            p += 2;
        }
    }
    if (p == end || (end - p > 1 && !is_blank(p[1])))
        return NULL;
    *wp = w;
    return p + 1;
}

/*
 * Reads one argument starting at the non-blank p, unescaping it in place.
 * Returns the position after it, or NULL for unbalanced quotes.
 */
static char *
split_arg(char *p, char *end, struct resp_arg *arg)
{
    char *start = p, *w = p;

    while (p < end && !is_arg_end(*p)) {
        if (*p == '"' || *p == '\'') {
            p = unquote(p + 1, end, *p, &w);
            if (p == NULL)
                return NULL;
            break;
        }
        *w++ = *p++;
    }
    arg->p = start;
    arg->len = (size_t)(w - start);
    return p;
}

static int
parse_inline(char *buf, size_t len, struct resp_command *cmd, const char **err)
{
    size_t scan = len > RESP_MAX_INLINE ? RESP_MAX_INLINE + 1 : len;
    char *nl = memchr(buf, '\n', scan);
    char *p = buf, *end, *nul;
    struct resp_arg arg;
    size_t argc = 0;

    if (nl == NULL) {
        if (len <= RESP_MAX_INLINE)
            return RESP_INCOMPLETE;
        *err = ERR_INLINE_BIG;
        return RESP_EPROTO;
    }
    end = nl > buf && nl[-1] == '\r' ? nl - 1 : nl;
    nul = memchr(buf, '\0', (size_t)(end - buf));
    if (nul != NULL)
        end = nul; /* sdssplitargs() sees a C string */

    for (;;) {
        while (p < end && is_blank(*p))
            p++;
        if (p == end)
            break;
        p = split_arg(p, end, &arg);
        if (p == NULL) {
            *err = ERR_QUOTES;
            return RESP_EPROTO;
        }
        /* The array form's limits hold for inline commands too. */
        if (arg.len > RESP_MAX_BULK || argc == RESP_MAX_ARGS) {
            *err = ERR_INLINE_BIG;
            return RESP_EPROTO;
        }
        if (argc < RESP_KEEP_ARGS)
            cmd->argv[argc] = arg;
        argc++;
    }
    cmd->argc = argc;
    cmd->consumed = (size_t)(nl - buf) + 1;
    return RESP_OK;
}

int
resp_parse(char *buf, size_t len, struct resp_command *cmd, const char **err)
{
    if (len == 0)
        return RESP_INCOMPLETE;
    if (buf[0] == '*')
        return parse_multibulk(buf, len, cmd, err);
    return parse_inline(buf, len, cmd, err);
}

static size_t
count_digits(size_t v)
{
    size_t n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Writes "<type><v>\r\n" (ndigits = count_digits(v)); returns its end. */
static char *
put_line(char *out, char type, size_t v, size_t ndigits)
{
    char *p = out + 1 + ndigits;

    out[0] = type;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    p = out + 1 + ndigits;
    p[0] = '\r';
    p[1] = '\n';
    return p + 2;
}

/* A reply line must not break the framing: CR and LF become spaces. */
static void
blank_newlines(char *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (p[i] == '\r' || p[i] == '\n')
            p[i] = ' ';
}

size_t
resp_fmt_simple(char *out, size_t cap, const char *s)
{
    size_t len = strlen(s), need = len + 3;

    if (need > cap)
        return need;
    out[0] = '+';
    memcpy(out + 1, s, len);
    blank_newlines(out + 1, len);
    out[len + 1] = '\r';
    out[len + 2] = '\n';
    return need;
}

size_t
resp_fmt_error(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    size_t len, need;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return 0; /* bad format: nothing to send */
    len = (size_t)n;
    need = len + 3;
    if (need > cap)
        return need;
    out[0] = '-';
    va_start(ap, fmt);
    vsnprintf(out + 1, cap - 1, fmt, ap);
    va_end(ap);
    blank_newlines(out + 1, len);
    out[len + 1] = '\r';
    out[len + 2] = '\n';
    return need;
}

size_t
resp_fmt_bulk_header(char *out, size_t cap, size_t len)
{
    size_t nd = count_digits(len), need = nd + 3;

    if (need > cap)
        return need;
    put_line(out, '$', len, nd);
    return need;
}

size_t
resp_fmt_bulk(char *out, size_t cap, const char *p, size_t len)
{
    size_t nd = count_digits(len), need = nd + 3 + len + 2;
    char *w;

    if (need > cap)
        return need;
    w = put_line(out, '$', len, nd);
    if (len > 0)
        memcpy(w, p, len);
    w[len] = '\r';
    w[len + 1] = '\n';
    return need;
}

size_t
resp_fmt_nil(char *out, size_t cap)
{
    if (cap < 5)
        return 5;
    memcpy(out, "$-1\r\n", 5);
    return 5;
}

size_t
resp_fmt_array_header(char *out, size_t cap, size_t n)
{
    size_t nd = count_digits(n), need = nd + 3;

    if (need > cap)
        return need;
    put_line(out, '*', n, nd);
    return need;
}
