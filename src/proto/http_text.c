/*
 * http_text: percent-decoding, reason phrases and UTF-8 validation; see
 * http_text.h.
 */
#include "proto/http_text.h"

#include <stdint.h>
#include <string.h>

#define ASCII_MASK 0x8080808080808080ull /* a high bit in any byte */

static inline uint64_t
load64(const char *p)
{
    uint64_t x;

    memcpy(&x, p, sizeof(x));
    return x;
}

static inline int
http_hex(unsigned char c)
{
    if ((unsigned char)(c - '0') < 10) {
        return c - '0';
    }
    c |= 0x20;
    if ((unsigned char)(c - 'a') < 6) {
        return c - 'a' + 10;
    }
    return -1;
}

long
http_percent_decode(char *s, size_t len)
{
    char *end, *r, *w, *next;
    size_t run;
    int hi, lo;

    if (len == 0 || (r = memchr(s, '%', len)) == NULL) {
        return (long)len;
    }
    end = s + len;
    w = r;
    while (r < end) {
        if (end - r < 3) {
            return -1;
        }
        hi = http_hex((unsigned char)r[1]);
        lo = http_hex((unsigned char)r[2]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        *w++ = (char)(hi << 4 | lo);
        r += 3;
        next = memchr(r, '%', (size_t)(end - r));
        run = (size_t)((next != NULL ? next : end) - r);
        memmove(w, r, run);
        w += run;
        r += run;
    }
    return (long)(w - s);
}

const char *
http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 421:
        return "Misdirected Request";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

/*
 * Length of the valid UTF-8 sequence at p (RFC 3629 table 3.9: no
 * overlongs, no surrogates, nothing past U+10FFFF), or 0.
 */
static size_t
http_utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (c < 0xc2 || c > 0xf4) {
        return 0;
    }
    n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (avail < n) {
        return 0;
    }
    if (c == 0xe0) {
        lo = 0xa0;
    } else if (c == 0xed) {
        hi = 0x9f;
    } else if (c == 0xf0) {
        lo = 0x90;
    } else if (c == 0xf4) {
        hi = 0x8f;
    }
    if (p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n;
}

int
http_is_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;

    while (i < len) {
        if (len - i >= 8 && !(load64(s + i) & ASCII_MASK)) {
            i += 8;
        } else if (p[i] < 0x80) {
            i++;
        } else if ((n = http_utf8_seq(p + i, len - i)) != 0) {
            i += n;
        } else {
            return 0;
        }
    }
    return 1;
}
