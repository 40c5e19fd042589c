/*
 * resp: Redis-protocol request parser (the reply encoders are resp_out).
 *
 * An array command is parsed incrementally (struct resp_parser keeps the
 * count, the bulks done and the current bulk's length between calls), so
 * its bytes are scanned once however they arrive: a bulk's length is
 * parsed and checked against the room left under max_request, then its
 * payload is skipped over by arithmetic. Number lines are parsed in one
 * pass that fails as soon as the digits can no longer form an acceptable
 * value, so a client cannot make us scan an endless "*000..." line; inline
 * lines are bounded by RESP_MAX_INLINE and RESP_MAX_INLINE_ARGS the same
 * way, and re-scanned from their start (they are at most 16 KiB). What is
 * accepted and the error texts follow Redis 7 (networking.c, string2ll(),
 * sdssplitargs()), except that we also insist on "\r\n" where Redis trusts
 * the client: after a count and after a bulk's payload.

 */
#include "proto/resp.h"

#include <string.h>
#include <strings.h>

#define ERR_MBULK_LEN "Protocol error: invalid multibulk length"
#define ERR_MBULK_UNAUTH "Protocol error: unauthenticated multibulk length"
#define ERR_BULK_UNAUTH "Protocol error: unauthenticated bulk length"
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

void
resp_parser_init(struct resp_parser *ps, size_t max_request,
                 struct resp_arg *words)
{
    memset(ps, 0, sizeof(*ps));
    ps->max_request = max_request;
    ps->argc = -1;
    ps->bulk = -1;
    ps->words = words;
}

/* Forgets the command just parsed; keeps the limits. */
static void
parser_next(struct resp_parser *ps)
{
    int preauth = ps->preauth;

    resp_parser_init(ps, ps->max_request, ps->words);
    ps->preauth = preauth;
}

/* Reads the next bulk's header at ps->pos. Returns RESP_OK with ps->bulk
 * set, RESP_INCOMPLETE, or RESP_EPROTO. */
static int
bulk_header(struct resp_parser *ps, const char *buf, size_t len,
            const char **err)
{
    size_t pos = ps->pos, used, room;
    long long v;
    int rc;

    if (pos == len)
        return RESP_INCOMPLETE;
    if (buf[pos] != '$') {
        *err = dollar_err[(unsigned char)buf[pos]];
        return RESP_EPROTO;
    }
    /* Each bulk, and all of them together, within max_request: the
     * number is refused at the first digit that crosses the room left. */
    room = ps->max_request - ps->payload;
    rc = parse_number(buf + pos + 1, len - pos - 1, room, 0, &v, &used);
    if (rc != RESP_OK) {
        if (rc == RESP_EPROTO)
            *err = ERR_BULK_LEN;
        return rc;
    }
    if (ps->preauth && v > RESP_PREAUTH_BULK) {
        *err = ERR_BULK_UNAUTH; /* checked after the length, as Redis */
        return RESP_EPROTO;
    }
    ps->pos = pos + 1 + used;
    ps->bulk = v;
    ps->payload += (size_t)v;
    return RESP_OK;
}

static int
parse_multibulk(struct resp_parser *ps, const char *buf, size_t len,
                struct resp_command *cmd, const char **err)
{
    size_t i, used;
    int rc;

    if (ps->argc < 0) {
        long long n;

        rc = parse_number(buf + 1, len - 1, RESP_MAX_ARGS, 1, &n, &used);
        if (rc != RESP_OK) {
            if (rc == RESP_EPROTO)
                *err = ERR_MBULK_LEN;
            return rc;
        }
        if (ps->preauth && n > RESP_PREAUTH_ARGS) {
            *err = ERR_MBULK_UNAUTH;
            return RESP_EPROTO;
        }
        ps->pos = 1 + used;
        ps->argc = n < 0 ? 0 : n;
    }
    while (ps->argi < ps->argc) {
        size_t end;

        if (ps->bulk < 0 && (rc = bulk_header(ps, buf, len, err)) != RESP_OK)
            return rc;
        end = ps->pos + (size_t)ps->bulk + 2;
        if (len < end) {
            ps->need = end;
            return RESP_INCOMPLETE;
        }
        if (buf[end - 2] != '\r' || buf[end - 1] != '\n') {
            *err = ERR_BULK_CRLF;
            return RESP_EPROTO;
        }
        if (ps->argi < RESP_KEEP_ARGS) {
            ps->keep_off[ps->argi] = ps->pos;
            ps->keep_len[ps->argi] = (size_t)ps->bulk;
        }
        ps->pos = end;
        ps->argi++;
        ps->bulk = -1;
        ps->need = 0;
    }
    cmd->argc = (size_t)ps->argc;
    for (i = 0; i < cmd->argc && i < RESP_KEEP_ARGS; i++) {
        cmd->argv[i].p = buf + ps->keep_off[i];
        cmd->argv[i].len = ps->keep_len[i];
    }
    cmd->consumed = ps->pos;
    cmd->is_inline = 0;
    cmd->words = NULL;
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
parse_inline(struct resp_parser *ps, char *buf, size_t len,
             struct resp_command *cmd, const char **err)
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
        if (argc == RESP_MAX_INLINE_ARGS) {
            *err = ERR_INLINE_BIG;
            return RESP_EPROTO;
        }
        if (argc < RESP_KEEP_ARGS)
            cmd->argv[argc] = arg;
        if (ps->words != NULL)
            ps->words[argc] = arg;
        argc++;
    }
    cmd->argc = argc;
    cmd->consumed = (size_t)(nl - buf) + 1;
    cmd->is_inline = 1;
    cmd->words = ps->words;
    return RESP_OK;
}

int
resp_parser_feed(struct resp_parser *ps, char *buf, size_t len,
                 struct resp_command *cmd, const char **err)
{
    int rc;

    if (len == 0)
        return RESP_INCOMPLETE;
    rc = buf[0] == '*' ? parse_multibulk(ps, buf, len, cmd, err)
                       : parse_inline(ps, buf, len, cmd, err);
    if (rc == RESP_OK)
        parser_next(ps);
    return rc;
}

int
resp_is_http(const struct resp_command *cmd)
{
    const struct resp_arg *a = &cmd->argv[0];

    return cmd->argc > 0 &&
           ((a->len == 4 && strncasecmp(a->p, "POST", 4) == 0) ||
            (a->len == 5 && strncasecmp(a->p, "Host:", 5) == 0));
}

int
resp_parse(char *buf, size_t len, size_t max_request, struct resp_command *cmd,
           const char **err)
{
    struct resp_parser ps;

    resp_parser_init(&ps, max_request, NULL);
    return resp_parser_feed(&ps, buf, len, cmd, err);
}

void
resp_iter_init(struct resp_iter *it, const struct resp_command *cmd,
               const char *buf)
{
    it->cmd = cmd;
    it->i = 0;
    it->p = buf;
    if (!cmd->is_inline) {
        /* Skip "*<count>\r\n": the bytes were validated by the parse. */
        it->p = (const char *)memchr(buf, '\n', cmd->consumed) + 1;
    }
}

int
resp_iter_next(struct resp_iter *it, struct resp_arg *arg)
{
    const struct resp_command *cmd = it->cmd;
    size_t n = 0;

    if (it->i >= cmd->argc)
        return 0;
    if (cmd->is_inline) {
        if (cmd->words == NULL && it->i >= RESP_KEEP_ARGS)
            return 0;
        *arg = cmd->words != NULL ? cmd->words[it->i] : cmd->argv[it->i];
        it->i++;
        return 1;
    }
    for (it->p++; *it->p != '\r'; it->p++)
        n = n * 10 + (size_t)(*it->p - '0');
    arg->p = it->p + 2;
    arg->len = n;
    it->p = arg->p + n + 2;
    it->i++;
    return 1;
}
