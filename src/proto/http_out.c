/*
 * http_out: response heads, appended with memcpy so the hot path never
 * runs printf; see http_out.h.
 */
#include "proto/http_out.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto/http.h"

void
http_head_init(struct http_head *h, char *buf, size_t cap)
{
    h->start = h->p = buf;
    h->end = buf + cap;
    h->overflow = 0;
}

void
http_head_mem(struct http_head *h, const void *s, size_t n)
{
    if (n > (size_t)(h->end - h->p)) {
        h->overflow = 1;
        return;
    }
    memcpy(h->p, s, n);
    h->p += n;
}

void
http_head_str(struct http_head *h, const char *s)
{
    http_head_mem(h, s, strlen(s));
}

void
http_head_u64(struct http_head *h, uint64_t v)
{
    char tmp[20];
    int i = (int)sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    http_head_mem(h, tmp + i, sizeof(tmp) - (size_t)i);
}

const char *
http_date(char *out)
{
    static _Thread_local time_t cached_sec;
    static _Thread_local char cached[HTTP_DATE_LEN + 1];
    time_t now = time(NULL);

    if (now != cached_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_sec = now;
    }
    memcpy(out, cached, sizeof(cached));
    return out;
}

size_t
http_head_write(struct http_head *h, const struct http_head_info *i)
{
    char date[HTTP_DATE_LEN + 1], status[4];

    status[0] = (char)('0' + i->status / 100 % 10);
    status[1] = (char)('0' + i->status / 10 % 10);
    status[2] = (char)('0' + i->status % 10);
    status[3] = ' ';
    http_head_lit(h, "HTTP/1.1 ");
    http_head_mem(h, status, 4);
    http_head_str(h, http_reason(i->status));
    http_head_lit(h, "\r\n");
    if (i->type != NULL) {
        http_head_lit(h, "Content-Type: ");
        http_head_str(h, i->type);
        http_head_lit(h, "\r\n");
    }
    if (i->status != 304 && i->status != 204) {
        http_head_lit(h, "Content-Length: ");
        http_head_u64(h, i->length);
        http_head_lit(h, "\r\n");
    }
    http_head_lit(h, "Date: ");
    http_head_mem(h, http_date(date), HTTP_DATE_LEN);
    http_head_lit(h, "\r\nX-Content-Type-Options: nosniff\r\n");
    http_head_str(h, i->extra);
    if (!i->keep_alive) {
        http_head_lit(h, "Connection: close\r\n");
    } else if (i->http10_keep_alive) {
        http_head_lit(h, "Connection: keep-alive\r\n");
    }
    http_head_lit(h, "\r\n");
    return h->overflow ? 0 : (size_t)(h->p - h->start);
}

void
http_etag_format(char out[HTTP_ETAG_LEN], uint64_t h)
{
    static const char hex[] = "0123456789abcdef";
    int i;

    out[0] = out[HTTP_ETAG_LEN - 1] = '"';
    for (i = HTTP_ETAG_LEN - 2; i >= 1; i--) {
        out[i] = hex[h & 15];
        h >>= 4;
    }
}

int
http_etag_matches(const char *inm, size_t len, const char *tag, size_t tlen)
{
    const char *end = inm + len;

    while (inm < end) {
        const char *start;

        while (inm < end && (*inm == ' ' || *inm == '\t' || *inm == ',')) {
            inm++;
        }
        if (inm < end && *inm == '*') {
            return 1;
        }
        if (end - inm >= 2 && inm[0] == 'W' && inm[1] == '/') {
            inm += 2;
        }
        start = inm;
        if (inm < end && *inm == '"') {
            inm++;
            while (inm < end && *inm != '"') {
                inm++;
            }
            inm += inm < end;
        } else {
            while (inm < end && *inm != ',') {
                inm++;
            }
        }
        if ((size_t)(inm - start) == tlen && memcmp(start, tag, tlen) == 0) {
            return 1;
        }
    }
    return 0;
}

size_t
http_canned(char *out, size_t cap, int status)
{
    struct http_head h;
    struct http_head_info i = {
        .status = status,
        .type = "text/plain; charset=utf-8",
        .keep_alive = 0,
    };
    const char *body;
    size_t n, blen;

    if (status == 503) {
        body = "max number of clients reached\n";
        i.extra = "Retry-After: 1\r\nCache-Control: no-store\r\n";
    } else if (status == 408) {
        body = "request timeout\n";
        i.extra = "Cache-Control: no-store\r\n";
    } else {
        return 0;
    }
    blen = strlen(body);
    i.length = blen;
    http_head_init(&h, out, cap);
    n = http_head_write(&h, &i);
    if (n == 0 || cap - n < blen) {
        return 0;
    }
    memcpy(out + n, body, blen);
    return n + blen;
}
