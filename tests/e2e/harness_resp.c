/*
 * harness_resp: Redis for the end-to-end tests (see harness.h): hiredis
 * connections to the test redis-server and to the proxy's resp_port, what
 * Redis counted (INFO), and RESP replies as raw bytes, so a test can
 * compare the proxy's answer with redis-server's byte for byte.
 *
 * The reply framer does no I/O, as hiredis's reader: bytes go in, the
 * length of the first n complete replies comes out, 0 ("incomplete") is a
 * normal answer. It frames RESP2 and RESP3 alike. Every aggregate
 * announces its element count, so framing needs no stack: it counts the
 * replies still owed, and an array, set or push of k adds k of them, a
 * map of k adds 2k, and an attribute of k adds 2k + 1 (its pairs, then
 * the reply it annotates, which is what counts as one). h_read_replies peeks at
 * what has arrived and consumes exactly the framed bytes, so the next reply
 * stays in the socket for the next call.
 */
#include "harness.h"
#include "harness_int.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define H_REPLIES_MS 3000            /* h_replies' wait for the replies */
#define H_BULK_MAX (512L << 20)      /* Redis's proto-max-bulk-len */
#define H_ARRAY_MAX (1L << 24)       /* elements of one array at most */
#define H_SAME_CAP ((size_t)1 << 20) /* h_expect_same_replies' buffers */
#define H_INFO_CAP (256 * 1024)      /* INFO's text over TLS */

/* ---- hiredis ---- */

static redisContext *
h__ctx(int port)
{
    struct timeval tv = {H_IO_MS / 1000, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

    if (c == NULL) {
        return NULL;
    }
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        redisFree(c);
        return NULL;
    }
    return c;
}

redisContext *
h_redis_ctx(const struct h_redis *r)
{
    return h__ctx(r->port);
}

redisContext *
h_proxy_resp_ctx(const struct h_proxy *p)
{
    return h__ctx(p->resp_port);
}

int
h_redis_cmd(const struct h_redis *r, const char *fmt, ...)
{
    redisContext *c = h_redis_ctx(r);
    redisReply *rep;
    va_list ap;
    int rc;

    if (c == NULL) {
        return -1;
    }
    va_start(ap, fmt);
    rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    rc = rep != NULL && rep->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (rep != NULL) {
        freeReplyObject(rep);
    }
    redisFree(c);
    return rc;
}

/* The number after "\n<name>" (or at the start) in INFO text, or dflt. */
static long
h__info_num(const char *text, const char *name, long dflt)
{
    size_t n = strlen(name);
    const char *p = text;

    while (p != NULL) {
        if (strncmp(p, name, n) == 0) {
            return strtol(p + n, NULL, 10);
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return dflt;
}

/* INFO section over TLS (h_tls_run): as h__info. */
static long
h__info_tls(const struct h_redis *r, const char *section, const char *name,
            long dflt)
{
    char *out = malloc(H_INFO_CAP);
    long v = -1;

    if (out != NULL &&
        H_TLS_RUN(r->port, out, H_INFO_CAP, "INFO", section) > 0 &&
        out[0] == '$') {
        v = h__info_num(strchr(out, '\n') + 1, name, dflt);
    }
    free(out);
    return v;
}

/* INFO section on a fresh connection; the number after name, dflt when
 * absent, -1 when Redis does not answer. */
static long
h__info(const struct h_redis *r, const char *section, const char *name,
        long dflt)
{
    redisContext *c;
    redisReply *rep;
    long v = -1;

    if (r->tls[0] != '\0') {
        return h__info_tls(r, section, name, dflt);
    }
    c = h_redis_ctx(r);
    if (c == NULL) {
        return -1;
    }
    rep = redisCommand(c, "INFO %s", section);
    if (rep != NULL && rep->type == REDIS_REPLY_STRING) {
        v = h__info_num(rep->str, name, dflt);
    }
    if (rep != NULL) {
        freeReplyObject(rep);
    }
    redisFree(c);
    return v;
}

long
h_redis_info(const struct h_redis *r, const char *section, const char *field)
{
    char name[128];

    snprintf(name, sizeof(name), "%s:", field);
    return h__info(r, section, name, -1);
}

long
h_cmdstat_calls(const char *info, const char *cmd)
{
    char name[64];
    const char *p;

    snprintf(name, sizeof(name), "cmdstat_%s:calls=", cmd);
    p = strstr(info, name);
    return p != NULL ? strtol(p + strlen(name), NULL, 10) : 0;
}

long
h_redis_calls(const struct h_redis *r, const char *cmd)
{
    char name[128];
    size_t i;

    snprintf(name, sizeof(name), "cmdstat_%s:calls=", cmd);
    for (i = 8; name[i] != ':' && name[i] != '\0'; i++) {
        name[i] = (char)tolower((unsigned char)name[i]);
    }
    return h__info(r, "commandstats", name, 0);
}

#define H_BUSY_SIGN_MS 200 /* a PING unanswered this long: Redis is busy */

redisContext *
h_redis_await_busy(const struct h_redis *r, int timeout_ms)
{
    redisContext *q = h_redis_ctx(r);
    int64_t end = h_now_ms() + timeout_ms;

    cr_assert_not_null(q, "no connection to redis-server");
    for (;;) {
        redisReply *rep;
        int done = 0;

        cr_assert_eq(redisAppendCommand(q, "PING"), REDIS_OK);
        while (!done) {
            cr_assert_eq(redisBufferWrite(q, &done), REDIS_OK);
        }
        if (h_readable(&q->fd, 1, H_BUSY_SIGN_MS) == 0) {
            return q;
        }
        cr_assert_eq(redisGetReply(q, (void **)&rep), REDIS_OK);
        freeReplyObject(rep);
        cr_assert_lt(h_now_ms(), end, "redis-server never ran the script");
    }
}

int
h_resp_get(redisContext *c, const char *key, char *out, size_t cap)
{
    redisReply *rep = redisCommand(c, "GET %s", key);
    int rc = -1;

    if (rep == NULL) {
        snprintf(out, cap, "(no reply: %s)", c->errstr);
        return -1;
    }
    switch (rep->type) {
    case REDIS_REPLY_STRING:
        snprintf(out, cap, "%.*s", (int)rep->len, rep->str);
        rc = 1;
        break;
    case REDIS_REPLY_NIL:
        snprintf(out, cap, "(nil)");
        rc = 0;
        break;
    case REDIS_REPLY_ERROR:
        snprintf(out, cap, "%.*s", (int)rep->len, rep->str);
        rc = -1;
        break;
    default:
        snprintf(out, cap, "(reply type %d)", rep->type);
        rc = -1;
        break;
    }
    freeReplyObject(rep);
    return rc;
}

/* ---- RESP replies as bytes ---- */

/* The line at p[0..len) up to CRLF: its length without CRLF, -2 while the
 * CRLF has not arrived, -1 for a bare CR or LF inside it. */
static long
h__line(const char *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (p[i] == '\n') {
            return -1;
        }
        if (p[i] == '\r') {
            if (i + 1 == len) {
                return -2;
            }
            return p[i + 1] == '\n' ? (long)i : -1;
        }
    }
    return -2;
}

/* A header's number: [-]digits, no sign otherwise, at most 18 digits.
 * Returns 0 with *v, or -1. */
static int
h__number(const char *p, long n, long long *v)
{
    long i = p[0] == '-' ? 1 : 0;

    if (n <= i || n - i > 18) {
        return -1;
    }
    for (*v = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i])) {
            return -1;
        }
        *v = *v * 10 + (p[i] - '0');
    }
    if (p[0] == '-') {
        *v = -*v;
    }
    return 0;
}

/* What a reply's header (its first byte) announces. */
enum h__kind {
    H__LINE,      /* + - : , ( : the line is all */
    H__NUMBER,    /* : the line is an integer */
    H__BLOB,      /* $ ! = : a length, then that many bytes and CRLF */
    H__AGGREGATE, /* * ~ > % | : a count of replies that follow */
    H__NULL,      /* _ : an empty line */
    H__BOOLEAN,   /* # : t or f */
};

/* The kind of header ch, or -1 for a byte no reply starts with. */
static int
h__kind(char ch)
{
    switch (ch) {
    case '+':
    case '-':
    case ',':
    case '(':
        return H__LINE;
    case ':':
        return H__NUMBER;
    case '$':
    case '!':
    case '=':
        return H__BLOB;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|':
        return H__AGGREGATE;
    case '_':
        return H__NULL;
    case '#':
        return H__BOOLEAN;
    default:
        return -1;
    }
}

/* The replies an aggregate header ch with count v adds to those owed:
 * a map's and an attribute's pairs, and the reply an attribute
 * annotates. */
static long long
h__owed(char ch, long long v)
{
    if (v <= 0) {
        return ch == '|' ? 1 : 0;
    }
    return ch == '%' ? 2 * v : ch == '|' ? 2 * v + 1 : v;
}

/* Checks the line of a header of kind k (at p, n bytes): the number of a
 * blob or an aggregate into *v. Only $ and * may be -1 (RESP2's nils).
 * Returns 0 or -1. */
static int
h__header(char ch, int k, const char *p, long n, long long *v)
{
    *v = 0;
    switch (k) {
    case H__NUMBER:
        return h__number(p, n, v);
    case H__BLOB:
    case H__AGGREGATE:
        if (h__number(p, n, v) != 0 || *v < (ch == '$' || ch == '*' ? -1 : 0) ||
            *v > (k == H__BLOB ? H_BULK_MAX : H_ARRAY_MAX)) {
            return -1;
        }
        return 0;
    case H__NULL:
        return n == 0 ? 0 : -1;
    case H__BOOLEAN:
        return n == 1 && (p[0] == 't' || p[0] == 'f') ? 0 : -1;
    default:
        return 0;
    }
}

long
h_reply_len(const char *p, size_t len, int n)
{
    long long owed = n;
    size_t pos = 0;

    while (owed > 0) {
        long long v = 0;
        long line;
        int k;

        if (pos == len) {
            return 0;
        }
        if ((k = h__kind(p[pos])) < 0) {
            return -1;
        }
        line = h__line(p + pos + 1, len - pos - 1);
        if (line < 0) {
            return line == -2 ? 0 : -1;
        }
        if (h__header(p[pos], k, p + pos + 1, line, &v) != 0) {
            return -1;
        }
        owed--;
        if (k == H__AGGREGATE) {
            owed += h__owed(p[pos], v);
        }
        if (k == H__BLOB && v >= 0) {
            size_t body = pos + 1 + (size_t)line + 2;

            if (len < body + (size_t)v + 2) {
                return 0;
            }
            if (memcmp(p + body + v, "\r\n", 2) != 0) {
                return -1;
            }
            pos = body + (size_t)v + 2;
        } else {
            pos += 1 + (size_t)line + 2;
        }
    }
    return (long)pos;
}

/* Waits for bytes past the len already taken and peeks at them: returns
 * how many are there now (> 0), or -1 on timeout, close or error. */
static long
h__peek(int fd, char *buf, size_t len, size_t cap, int64_t deadline)
{
    for (;;) {
        ssize_t n;

        if (len == cap || !h__wait_readable(fd, deadline)) {
            return -1;
        }
        n = recv(fd, buf + len, cap - len, MSG_PEEK | MSG_DONTWAIT);
        if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        return n > 0 ? (long)n : -1;
    }
}

long
h_read_replies(int fd, int n, char *buf, size_t cap, int timeout_ms)
{
    int64_t deadline = h_now_ms() + timeout_ms;
    size_t len = 0;

    if (n < 1) {
        return -1;
    }
    for (;;) {
        long seen = h__peek(fd, buf, len, cap, deadline), want, take;

        if (seen < 0) {
            return -1;
        }
        want = h_reply_len(buf, len + (size_t)seen, n);
        if (want < 0) {
            return -1;
        }
        /* Incomplete: all of it belongs to the n replies; else up to the
         * end of the n-th. What was peeked is there, so recv gets it. */
        take = want == 0 ? seen : want - (long)len;
        if (h__read_exact(fd, buf + len, (size_t)take, deadline) != 0) {
            return -1;
        }
        len += (size_t)take;
        if (want > 0) {
            return (long)len;
        }
    }
}

long
h_replies(int port, const void *req, size_t len, int n, char *buf, size_t cap)
{
    int fd = h_connect(port);
    long got = -1;

    if (fd == -1) {
        return -1;
    }
    if (h_send(fd, req, len) == 0) {
        got = h_read_replies(fd, n, buf, cap, H_REPLIES_MS);
    }
    close(fd);
    return got;
}

const char *
h_escape(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0, i;

    if (cap == 0) {
        return out;
    }
    for (i = 0; i < n && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (ch == '\r') {
            o += (size_t)snprintf(out + o, cap - o, "\\r");
        } else if (ch == '\n') {
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        } else if (isprint(ch) && ch != '\\') {
            out[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        }
    }
    out[o] = '\0';
    return out;
}

void
h_expect_same_replies(const struct h_redis *r, const struct h_proxy *p,
                      const void *req, size_t len, int n)
{
    char *want = malloc(H_SAME_CAP), *got = malloc(H_SAME_CAP);
    char e1[1024], e2[1024], e3[512];
    long wl, gl;

    cr_assert(want != NULL && got != NULL);
    h_escape(req, len, e3, sizeof(e3));
    wl = h_replies(r->port, req, len, n, want, H_SAME_CAP);
    cr_assert_gt(wl, 0, "redis-server: no %d replies to \"%s\"", n, e3);
    gl = h_replies(p->resp_port, req, len, n, got, H_SAME_CAP);
    cr_assert_gt(gl, 0, "proxy: no %d replies to \"%s\"", n, e3);
    cr_assert(gl == wl && memcmp(got, want, (size_t)wl) == 0,
              "\"%s\": redis-server answered\n  \"%s\"\nthe proxy\n  \"%s\"",
              e3, h_escape(want, (size_t)wl, e1, sizeof(e1)),
              h_escape(got, (size_t)gl, e2, sizeof(e2)));
    free(want);
    free(got);
}
