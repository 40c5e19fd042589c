/*
 * http: the HTTP/1.x request-head parser, percent-decoding, reason phrases
 * and the UTF-8 check used to pick a Content-Type.
 *
 * The parser keeps no state between calls: each call re-reads the head from
 * its first byte, the way picohttpparser does. A head is at most
 * HTTP_MAX_HEAD bytes, so re-reading is cheap, and it makes "incomplete" a
 * plain answer instead of a saved state machine. Only the first
 * HTTP_MAX_HEAD bytes are ever looked at: running out of them without
 * finding the end of the head is HTTP_EHEADERS, running out of input is
 * HTTP_INCOMPLETE. Each check is made as soon as the bytes it needs are
 * there and in the order the bytes arrive, so a prefix of an input either
 * needs more bytes or fails the same way the whole input does.
 *
 * Speed comes from scanning, not from cleverness per byte: the method and
 * field names go through a 256-entry token table, and the request-target and
 * field values (the long parts) are skipped eight bytes at a time with a
 * word-wide test for "any control byte here?" before falling back to bytes.
 */
#include "proto/http.h"

#include <string.h>

#define HTTP_ONES 0x0101010101010101ull
#define HTTP_HIGH 0x8080808080808080ull

/* RFC 9110 tchar: "!#$%&'*+-.^_`|~", DIGIT, ALPHA. Bytes >= 0x80 are not. */
static const unsigned char http_tchar[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, /* 0x70 */
};

/* What the header fields said, beyond what goes into struct http_request. */
struct http_seen {
    int fields;      /* field lines so far */
    int hosts;       /* Host field lines */
    int have_length; /* a Content-Length was seen */
    int close;       /* Connection: close */
    int keep_alive;  /* Connection: keep-alive */
};

static inline uint64_t
http_load64(const char *p)
{
    uint64_t x;

    memcpy(&x, p, sizeof(x));
    return x;
}

/*
 * Word-at-a-time tests. Each answer is exact for the word as a whole (not
 * per byte), which is all the scanners need: they fall back to bytes.
 */

/* Nonzero when any byte of x is c. */
static inline uint64_t
http_has_byte(uint64_t x, unsigned char c)
{
    uint64_t y = x ^ (HTTP_ONES * c);

    return (y - HTTP_ONES) & ~y & HTTP_HIGH;
}

/* Nonzero when any byte of x is below n (n <= 0x80) or is DEL. */
static inline uint64_t
http_has_ctl(uint64_t x, unsigned n)
{
    return ((x - HTTP_ONES * n) & ~x & HTTP_HIGH) | http_has_byte(x, 0x7f);
}

/*
 * Compares n bytes of s with the lower-case literal lit, ignoring ASCII
 * case. OR-ing 0x20 maps nothing but the same letter in either case, or a
 * control byte (never present in a token or an accepted value), onto a
 * letter or one of "-:/" in lit, so no table is needed.
 */
static inline int
http_ieq(const char *s, const char *lit, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if ((s[i] | 0x20) != lit[i]) {
            return 0;
        }
    }
    return 1;
}

/*
 * Length of the line end at p, which points at CR or LF: 2 for CRLF, 1 for
 * a bare LF, 0 when CR is the last byte, -1 for a CR without LF.
 */
static inline int
http_eol(const char *p, const char *end)
{
    if (*p == '\n') {
        return 1;
    }
    if (p + 1 == end) {
        return 0;
    }
    return p[1] == '\n' ? 2 : -1;
}

/* Skips empty lines before the request line (RFC 9112 section 2.2). */
static int
http_skip_empty_lines(const char **pp, const char *end)
{
    const char *p = *pp;
    int n;

    while (p < end && (*p == '\r' || *p == '\n')) {
        n = http_eol(p, end);
        if (n <= 0) {
            return n == 0 ? HTTP_INCOMPLETE : HTTP_EBAD;
        }
        p += n;
    }
    *pp = p;
    return HTTP_OK;
}

static int
http_parse_method(const char **pp, const char *end, struct http_request *req)
{
    const char *p = *pp;

    while (p < end && http_tchar[(unsigned char)*p]) {
        p++;
    }
    if (p == end) {
        return HTTP_INCOMPLETE;
    }
    if (*p != ' ' || p == *pp) {
        return HTTP_EBAD;
    }
    req->method_name = *pp;
    req->method_len = (size_t)(p - *pp);
    req->method = HTTP_METHOD_OTHER;
    if (req->method_len == 3 && memcmp(*pp, "GET", 3) == 0) {
        req->method = HTTP_METHOD_GET;
    } else if (req->method_len == 4 && memcmp(*pp, "HEAD", 4) == 0) {
        req->method = HTTP_METHOD_HEAD;
    }
    *pp = p + 1;
    return HTTP_OK;
}

/*
 * Finds the request-target's terminating SP. Only HTTP_MAX_TARGET + 1 bytes
 * are examined: if the byte after HTTP_MAX_TARGET target bytes is not SP,
 * the target is too long, whatever follows.
 */
static int
http_scan_target(const char **pp, const char *end, struct http_request *req)
{
    const char *t = *pp;
    size_t avail = (size_t)(end - t);
    size_t n = avail < HTTP_MAX_TARGET + 1 ? avail : HTTP_MAX_TARGET + 1;
    size_t i = 0;
    unsigned char c = 0;

    for (;;) {
        if (n - i >= 8 && !http_has_ctl(http_load64(t + i), 0x21)) {
            i += 8;
            continue;
        }
        if (i == n) {
            return n > HTTP_MAX_TARGET ? HTTP_ETARGET : HTTP_INCOMPLETE;
        }
        c = (unsigned char)t[i];
        if (c <= 0x20 || c == 0x7f) {
            break;
        }
        i++;
    }
    if (c != ' ' || i == 0) {
        return i == HTTP_MAX_TARGET ? HTTP_ETARGET : HTTP_EBAD;
    }
    req->target = t;
    req->target_len = i;
    *pp = t + i + 1;
    return HTTP_OK;
}

/* Length of a leading "http://" or "https://" (any case), else 0. */
static size_t
http_scheme_len(const char *t, size_t len)
{
    if (len >= 7 && http_ieq(t, "http://", 7)) {
        return 7;
    }
    if (len >= 8 && http_ieq(t, "https://", 8)) {
        return 8;
    }
    return 0;
}

/* The first '?' or '#' in [p, end), or end. */
static inline const char *
http_path_end(const char *p, const char *end)
{
    uint64_t x;

    while (end - p >= 8) {
        x = http_load64(p);
        if (http_has_byte(x, '?') | http_has_byte(x, '#')) {
            break;
        }
        p += 8;
    }
    while (p < end && *p != '?' && *p != '#') {
        p++;
    }
    return p;
}

/* Sets req->path from the origin-form or absolute-form target. */
static int
http_split_target(struct http_request *req)
{
    const char *t = req->target, *end = t + req->target_len;
    const char *path = t, *a;
    size_t skip;

    if (*t != '/') {
        skip = http_scheme_len(t, req->target_len);
        if (skip == 0) {
            return HTTP_EBAD;
        }
        for (a = t + skip; a < end && *a != '/' && *a != '?' && *a != '#';) {
            a++;
        }
        if (a == t + skip) {
            return HTTP_EBAD; /* no authority */
        }
        if (a == end || *a != '/') {
            /* No path: "/", borrowed from the scheme's "//". */
            req->path = t + skip - 1;
            req->path_len = 1;
            return HTTP_OK;
        }
        path = a;
    }
    req->path = path;
    req->path_len = (size_t)(http_path_end(path, end) - path);
    return HTTP_OK;
}

/*
 * Checks avail bytes at p that are not a complete "HTTP/1.0" or "HTTP/1.1":
 * HTTP_EBAD when they cannot start "HTTP/" DIGIT "." DIGIT, HTTP_INCOMPLETE
 * when they may, HTTP_EVERSION when they are another such version.
 */
static int
http_other_version(const char *p, size_t avail)
{
    static const char pattern[] = "HTTP/0.0";
    size_t i;

    for (i = 0; i < 8 && i < avail; i++) {
        if (i == 5 || i == 7) {
            if ((unsigned char)(p[i] - '0') > 9) {
                return HTTP_EBAD;
            }
        } else if (p[i] != pattern[i]) {
            return HTTP_EBAD;
        }
    }
    return avail < 9 ? HTTP_INCOMPLETE : HTTP_EVERSION;
}

/* The version and the line end; only 1.0 and 1.1 are served. */
static int
http_parse_version(const char **pp, const char *end, struct http_request *req)
{
    const char *p = *pp;
    size_t avail = (size_t)(end - p);
    int n, rc = HTTP_OK;

    if (avail < 9 || memcmp(p, "HTTP/1.", 7) != 0 ||
        (p[7] != '0' && p[7] != '1')) {
        rc = http_other_version(p, avail);
        if (rc != HTTP_EVERSION) {
            return rc;
        }
    }
    if (p[8] != '\r' && p[8] != '\n') {
        return HTTP_EBAD;
    }
    n = http_eol(p + 8, end);
    if (n <= 0) {
        return n == 0 ? HTTP_INCOMPLETE : HTTP_EBAD;
    }
    if (rc != HTTP_OK) {
        return rc; /* reported once the request line is known to be whole */
    }
    req->minor_version = p[7] - '0';
    *pp = p + 8 + n;
    return HTTP_OK;
}

/*
 * Scans one field line: name ':' OWS value OWS line-end. On HTTP_OK the
 * value is trimmed and *pp is past the line end.
 */
static int
http_scan_field(const char **pp, const char *end, const char **name,
                size_t *name_len, const char **value, size_t *value_len)
{
    const char *p = *pp, *v, *ve;
    unsigned char c = 0;
    int n;

    while (p < end && http_tchar[(unsigned char)*p]) {
        p++;
    }
    if (p == end) {
        return HTTP_INCOMPLETE;
    }
    if (*p != ':' || p == *pp) {
        return HTTP_EBAD;
    }
    *name = *pp;
    *name_len = (size_t)(p - *pp);
    p++;
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    v = p;
    for (;;) {
        if (end - p >= 8 && !http_has_ctl(http_load64(p), 0x20)) {
            p += 8;
            continue;
        }
        if (p == end) {
            return HTTP_INCOMPLETE;
        }
        c = (unsigned char)*p;
        if (c < 0x20 ? c != '\t' : c == 0x7f) {
            break;
        }
        p++;
    }
    if (c != '\r' && c != '\n') {
        return HTTP_EBAD;
    }
    n = http_eol(p, end);
    if (n <= 0) {
        return n == 0 ? HTTP_INCOMPLETE : HTTP_EBAD;
    }
    for (ve = p; ve > v && (ve[-1] == ' ' || ve[-1] == '\t');) {
        ve--;
    }
    *value = v;
    *value_len = (size_t)(ve - v);
    *pp = p + n;
    return HTTP_OK;
}

/* Notes "close" and "keep-alive" among the comma-separated options. */
static void
http_parse_connection(const char *v, size_t len, struct http_seen *seen)
{
    const char *end = v + len, *comma, *e;

    while (v < end) {
        comma = memchr(v, ',', (size_t)(end - v));
        e = comma != NULL ? comma : end;
        while (v < e && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (e > v && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        if (e - v == 5 && http_ieq(v, "close", 5)) {
            seen->close = 1;
        } else if (e - v == 10 && http_ieq(v, "keep-alive", 10)) {
            seen->keep_alive = 1;
        }
        v = comma != NULL ? comma + 1 : end;
    }
}

static int
http_parse_content_length(const char *v, size_t len, struct http_request *req,
                          struct http_seen *seen)
{
    int64_t n = 0;
    size_t i;
    unsigned d;

    if (seen->have_length || len == 0) {
        return HTTP_EBAD;
    }
    seen->have_length = 1;
    for (i = 0; i < len; i++) {
        d = (unsigned char)v[i] - (unsigned)'0';
        if (d > 9) {
            return HTTP_EBAD;
        }
        if (n <= HTTP_MAX_BODY) {
            n = n * 10 + d;
        }
    }
    if (n > HTTP_MAX_BODY) {
        return HTTP_EBODY;
    }
    req->content_length = n;
    return HTTP_OK;
}

/* Acts on the fields the proxy cares about; the rest are ignored. */
static int
http_apply_field(const char *name, size_t name_len, const char *v, size_t len,
                 struct http_request *req, struct http_seen *seen)
{
    switch (name_len) {
    case 4:
        if (http_ieq(name, "host", 4)) {
            if (seen->hosts++ > 0) {
                return HTTP_EBAD;
            }
            req->host = v;
            req->host_len = len;
        }
        break;
    case 6:
        if (http_ieq(name, "origin", 6) && req->origin == NULL) {
            req->origin = v;
            req->origin_len = len;
        }
        break;
    case 10:
        if (http_ieq(name, "connection", 10)) {
            http_parse_connection(v, len, seen);
        }
        break;
    case 13:
        /* The first line only: matching part of a list never gives a
           wrong 304, missing the rest only gives a 200. */
        if (http_ieq(name, "if-none-match", 13) && req->if_none_match == NULL) {
            req->if_none_match = v;
            req->if_none_match_len = len;
        } else if (http_ieq(name, "authorization", 13)) {
            if (req->authorization != NULL) {
                return HTTP_EBAD; /* two sets of credentials */
            }
            req->authorization = v;
            req->authorization_len = len;
        }
        break;
    case 14:
        if (http_ieq(name, "content-length", 14)) {
            return http_parse_content_length(v, len, req, seen);
        }
        break;
    case 17:
        if (http_ieq(name, "transfer-encoding", 17)) {
            return HTTP_EFRAMING;
        }
        break;
    }
    return HTTP_OK;
}

/* Field lines up to and including the empty line that ends the head. */
static int
http_parse_fields(const char **pp, const char *end, struct http_request *req,
                  struct http_seen *seen)
{
    const char *p = *pp, *name, *value;
    size_t name_len, value_len;
    int rc;

    for (;;) {
        if (p == end) {
            return HTTP_INCOMPLETE;
        }
        if (*p == '\r' || *p == '\n') {
            rc = http_eol(p, end);
            if (rc <= 0) {
                return rc == 0 ? HTTP_INCOMPLETE : HTTP_EBAD;
            }
            *pp = p + rc;
            return HTTP_OK;
        }
        if (*p == ' ' || *p == '\t') {
            return HTTP_EBAD; /* obs-fold, or space before the first field */
        }
        if (seen->fields++ == HTTP_MAX_HEADERS) {
            return HTTP_EHEADERS;
        }
        rc = http_scan_field(&p, end, &name, &name_len, &value, &value_len);
        if (rc == HTTP_OK) {
            rc = http_apply_field(name, name_len, value, value_len, req, seen);
        }
        if (rc != HTTP_OK) {
            return rc;
        }
    }
}

static int
http_parse_head(const char *buf, const char *end, struct http_request *req)
{
    struct http_seen seen = {0};
    const char *p = buf;
    int rc;

    if ((rc = http_skip_empty_lines(&p, end)) != HTTP_OK ||
        (rc = http_parse_method(&p, end, req)) != HTTP_OK ||
        (rc = http_scan_target(&p, end, req)) != HTTP_OK ||
        (rc = http_split_target(req)) != HTTP_OK ||
        (rc = http_parse_version(&p, end, req)) != HTTP_OK ||
        (rc = http_parse_fields(&p, end, req, &seen)) != HTTP_OK) {
        return rc;
    }
    if (req->minor_version == 1 && seen.hosts != 1) {
        return HTTP_EBAD;
    }
    if (req->minor_version == 1) {
        req->keep_alive = !seen.close;
    } else {
        req->keep_alive = seen.keep_alive && !seen.close;
    }
    req->head_len = (size_t)(p - buf);
    return HTTP_OK;
}

int
http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    size_t n = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    int rc;

    /* Field by field: cheaper than a memset on this path. */
    req->method = HTTP_METHOD_OTHER;
    req->method_name = req->target = req->path = NULL;
    req->method_len = req->target_len = req->path_len = 0;
    req->minor_version = req->keep_alive = 0;
    req->content_length = 0;
    req->if_none_match = req->origin = req->host = req->authorization = NULL;
    req->if_none_match_len = req->origin_len = req->host_len = 0;
    req->authorization_len = 0;
    req->head_len = 0;
    if (len == 0) {
        return HTTP_INCOMPLETE;
    }
    rc = http_parse_head(buf, buf + n, req);
    if (rc == HTTP_INCOMPLETE && len >= HTTP_MAX_HEAD) {
        return HTTP_EHEADERS;
    }
    return rc;
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
        if (len - i >= 8 && !(http_load64(s + i) & HTTP_HIGH)) {
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
