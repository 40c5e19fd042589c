/*
 * resp_out: reply encoders; see resp_out.h.
 *
 * Every encoder computes the exact size first and writes only when it
 * fits. Numbers are written backwards from their last digit, without
 * printf, except the double, which must be printf's "%.17g" to match what
 * Redis 7.0 sends.
 */
#include "proto/resp_out.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static size_t
count_digits(unsigned long long v)
{
    size_t n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/*
 * The line "<type>[-]<v>\r\n" (neg: with the minus) into out[0..cap).
 * Returns its size; writes it only when it fits.
 */
static size_t
number_line(char *out, size_t cap, char type, int neg, unsigned long long v)
{
    size_t nd = count_digits(v), need = 1 + (size_t)neg + nd + 2;
    char *p;

    if (need > cap) {
        return need;
    }
    out[0] = type;
    if (neg) {
        out[1] = '-';
    }
    p = out + 1 + neg + nd;
    p[0] = '\r';
    p[1] = '\n';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return need;
}

/* A fixed line such as "_\r\n" (n bytes). */
static size_t
fixed(char *out, size_t cap, const char *s, size_t n)
{
    if (n <= cap) {
        memcpy(out, s, n);
    }
    return n;
}

/* A reply line must not break the framing: CR and LF become spaces. */
static void
blank_newlines(char *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (p[i] == '\r' || p[i] == '\n') {
            p[i] = ' ';
        }
    }
}

size_t
resp_out_simple(char *out, size_t cap, const char *s)
{
    size_t len = strlen(s), need = len + 3;

    if (need > cap) {
        return need;
    }
    out[0] = '+';
    memcpy(out + 1, s, len);
    blank_newlines(out + 1, len);
    out[len + 1] = '\r';
    out[len + 2] = '\n';
    return need;
}

size_t
resp_out_error(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    size_t len, need;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return 0; /* bad format: nothing to send */
    }
    len = (size_t)n;
    need = len + 3;
    if (need > cap) {
        return need;
    }
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
resp_out_integer(char *out, size_t cap, long long v)
{
    unsigned long long mag =
        v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;

    return number_line(out, cap, ':', v < 0, mag);
}

size_t
resp_out_bulk_header(char *out, size_t cap, size_t len)
{
    return number_line(out, cap, '$', 0, len);
}

size_t
resp_out_bulk(char *out, size_t cap, const char *p, size_t len)
{
    size_t head = number_line(NULL, 0, '$', 0, len), need = head + len + 2;

    if (need > cap) {
        return need;
    }
    number_line(out, cap, '$', 0, len);
    if (len > 0) {
        memcpy(out + head, p, len);
    }
    out[head + len] = '\r';
    out[head + len + 1] = '\n';
    return need;
}

size_t
resp_out_array_header(char *out, size_t cap, size_t n)
{
    return number_line(out, cap, '*', 0, n);
}

size_t
resp_out_null(char *out, size_t cap, int proto)
{
    return proto == 3 ? fixed(out, cap, "_\r\n", 3)
                      : fixed(out, cap, "$-1\r\n", 5);
}

size_t
resp_out_null_array(char *out, size_t cap, int proto)
{
    return proto == 3 ? fixed(out, cap, "_\r\n", 3)
                      : fixed(out, cap, "*-1\r\n", 5);
}

size_t
resp_out_map_header(char *out, size_t cap, int proto, size_t npairs)
{
    return proto == 3
               ? number_line(out, cap, '%', 0, npairs)
               : number_line(out, cap, '*', 0, 2 * (unsigned long long)npairs);
}

size_t
resp_out_set_header(char *out, size_t cap, int proto, size_t n)
{
    return number_line(out, cap, proto == 3 ? '~' : '*', 0, n);
}

size_t
resp_out_push_header(char *out, size_t cap, int proto, size_t n)
{
    return number_line(out, cap, proto == 3 ? '>' : '*', 0, n);
}

size_t
resp_out_bool(char *out, size_t cap, int proto, int v)
{
    if (proto == 3) {
        return fixed(out, cap, v ? "#t\r\n" : "#f\r\n", 4);
    }
    return fixed(out, cap, v ? ":1\r\n" : ":0\r\n", 4);
}

size_t
resp_out_double(char *out, size_t cap, int proto, double d)
{
    char num[64];
    size_t n, need;
    int k;

    if (isinf(d)) {
        k = snprintf(num, sizeof(num), "%s", d > 0 ? "inf" : "-inf");
    } else if (isnan(d)) {
        k = snprintf(num, sizeof(num), "nan");
    } else {
        k = snprintf(num, sizeof(num), "%.17g", d);
    }
    n = (size_t)k; /* at most 24 bytes: fits num */
    if (proto != 3) {
        return resp_out_bulk(out, cap, num, n);
    }
    need = 1 + n + 2;
    if (need > cap) {
        return need;
    }
    out[0] = ',';
    memcpy(out + 1, num, n);
    out[1 + n] = '\r';
    out[2 + n] = '\n';
    return need;
}

size_t
resp_out_verbatim(char *out, size_t cap, int proto, const char *format,
                  const char *p, size_t len)
{
    size_t head, need;

    if (proto != 3) {
        return resp_out_bulk(out, cap, p, len);
    }
    head = number_line(NULL, 0, '=', 0, len + 4);
    need = head + 4 + len + 2;
    if (need > cap) {
        return need;
    }
    number_line(out, cap, '=', 0, len + 4);
    memcpy(out + head, format, 3);
    out[head + 3] = ':';
    if (len > 0) {
        memcpy(out + head + 4, p, len);
    }
    out[need - 2] = '\r';
    out[need - 1] = '\n';
    return need;
}

/* Where a multi-part reply is being written: at p with room bytes left, or
 * only measured (p NULL). */
struct cursor {
    char *p;
    size_t room, len;
};

static void
advance(struct cursor *c, size_t n)
{
    c->len += n;
    if (c->p != NULL) {
        c->p += n;
        c->room -= n;
    }
}

static void
put_bulk(struct cursor *c, const char *s)
{
    advance(c, resp_out_bulk(c->p, c->room, s, strlen(s)));
}

/* HELLO's reply into c: measured when c->p is NULL, written otherwise
 * (with room for all of it). */
static void
hello_parts(struct cursor *c, int proto, const struct resp_out_hello *h)
{
    advance(c, resp_out_map_header(c->p, c->room, proto, 7));
    put_bulk(c, "server");
    put_bulk(c, h->server);
    put_bulk(c, "version");
    put_bulk(c, h->version);
    put_bulk(c, "proto");
    advance(c, resp_out_integer(c->p, c->room, proto == 3 ? 3 : 2));
    put_bulk(c, "id");
    advance(c, resp_out_integer(c->p, c->room, h->id));
    put_bulk(c, "mode");
    put_bulk(c, h->mode);
    put_bulk(c, "role");
    put_bulk(c, h->role);
    put_bulk(c, "modules");
    advance(c, resp_out_array_header(c->p, c->room, 0));
}

size_t
resp_out_hello(char *out, size_t cap, int proto, const struct resp_out_hello *h)
{
    struct cursor measure = {NULL, 0, 0}, write;

    hello_parts(&measure, proto, h);
    if (measure.len > cap) {
        return measure.len;
    }
    write.p = out;
    write.room = measure.len;
    write.len = 0;
    hello_parts(&write, proto, h);
    return write.len;
}
