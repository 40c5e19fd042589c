/*
 * http: the HTTP/1.x request-head parser, percent-decoding, reason phrases
 * and the UTF-8 check used to pick a Content-Type.
 *
 * The parser is a small state machine over the parts of a head, in the
 * order they arrive: leading empty lines, method, target, version, then for
 * each field line its first byte, name, OWS and value, and the empty line.
 * Each part is scanned as a run; a run that meets the end of the bytes
 * records in req->progress where it stopped, as offsets, and a resumed call
 * goes on from that byte. Only two things are read again: the version (at
 * most ten bytes, re-parsed whole) and a CR that was the last byte (it may
 * yet get its LF). The counts the limits need (field lines, Host lines, a
 * Content-Length seen) travel in the progress too. So the resumed scans of
 * a head fed in pieces examine each byte a bounded number of times, plus a
 * constant per call.
 *
 * A parse from the first byte and a resumed one run the same code. A resumed
 * call that reaches any answer but HTTP_INCOMPLETE throws its work away and
 * parses once more from the first byte: that fills the pointers of *req and
 * makes the answer exactly the full parse's, at the cost of one more pass per
 * request. Only the first HTTP_MAX_HEAD bytes are ever looked at: running
 * out of them without finding the end of the head is HTTP_EHEADERS, running
 * out of input is HTTP_INCOMPLETE. Each check is made as soon as the bytes it
 * needs are there and in the order the bytes arrive, so a prefix of an input
 * either needs more bytes or fails the same way the whole input does.
 *
 * Speed comes from scanning, not from cleverness per byte: the method and
 * field names go through a 256-entry token table, and the request-target and
 * field values (the long parts) are skipped eight bytes at a time with a
 * word-wide test for "any control byte here?" before falling back to bytes.
 * http_scan_bytes() counts what the scans examined: each run (or, for the
 * field lines, each call) adds its length to a local sum, and the sum goes
 * into the per-thread total once per call.
 */
#include "proto/http.h"

#include <assert.h>
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

/* The parts of a head; progress.phase. Zero is where a parse starts. */
enum http_phase {
    HTTP_PH_LEADING = 0, /* empty lines before the request line */
    HTTP_PH_METHOD,      /* tok: the method's first byte */
    HTTP_PH_TARGET,      /* tok: the request-target's first byte */
    HTTP_PH_VERSION,     /* tok: the version's first byte; re-read whole */
    HTTP_PH_LINE,        /* tok: the first byte of a field or empty line */
    HTTP_PH_NAME,        /* tok: the field line, at: in its name */
    HTTP_PH_OWS,         /* past the ':'; name_len is set */
    HTTP_PH_VALUE,       /* in the value; value is set */
    HTTP_PH_DONE,        /* the empty line is past: at is the head's length */
};

/* Bytes examined by this thread's scans; see http_scan_bytes(). */
static _Thread_local size_t http_examined;

/*
 * One call's run over buf[0..end). The progress and the count are copies,
 * written back once per call: kept local, nothing the parser stores can
 * alias them, so they stay in registers.
 */
struct http_scan {
    const char *buf, *end;
    struct http_progress pr;
    size_t examined;
};

/* Counts a run that examined [from, to) and, before end, the byte at to. */
static inline void
http_count(struct http_scan *s, const char *from, const char *to)
{
    s->examined += (size_t)(to - from) + (to < s->end ? 1 : 0);
}

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

/* Moves on to the part that starts at offset off. */
static inline int
http_enter(struct http_progress *pr, int phase, size_t off)
{
    pr->phase = phase;
    pr->tok = pr->at = off;
    return HTTP_OK;
}

/* Skips empty lines before the request line (RFC 9112 section 2.2). */
static int
http_skip_empty_lines(struct http_scan *s)
{
    struct http_progress *pr = &s->pr;
    const char *buf = s->buf, *end = s->end, *p = buf + pr->at, *from = p;
    int n = 1;

    while (p < end && (*p == '\r' || *p == '\n')) {
        n = http_eol(p, end);
        if (n <= 0) {
            break;
        }
        p += n;
    }
    http_count(s, from, p);
    pr->at = (size_t)(p - buf);
    if (n <= 0) {
        return n == 0 ? HTTP_INCOMPLETE : HTTP_EBAD; /* at: the CR */
    }
    if (p == end) {
        return HTTP_INCOMPLETE; /* more empty lines may follow */
    }
    return http_enter(pr, HTTP_PH_METHOD, pr->at);
}

static int
http_parse_method(struct http_scan *s, struct http_request *req)
{
    struct http_progress *pr = &s->pr;
    const char *m = s->buf + pr->tok, *p = s->buf + pr->at, *from = p;

    while (p < s->end && http_tchar[(unsigned char)*p]) {
        p++;
    }
    http_count(s, from, p);
    pr->at = (size_t)(p - s->buf);
    if (p == s->end) {
        return HTTP_INCOMPLETE;
    }
    if (*p != ' ' || p == m) {
        return HTTP_EBAD;
    }
    req->method_name = m;
    req->method_len = (size_t)(p - m);
    req->method = HTTP_METHOD_OTHER;
    if (req->method_len == 3 && memcmp(m, "GET", 3) == 0) {
        req->method = HTTP_METHOD_GET;
    } else if (req->method_len == 4 && memcmp(m, "HEAD", 4) == 0) {
        req->method = HTTP_METHOD_HEAD;
    } else if (req->method_len == 3 && memcmp(m, "PUT", 3) == 0) {
        req->method = HTTP_METHOD_PUT;
    } else if (req->method_len == 6 && memcmp(m, "DELETE", 6) == 0) {
        req->method = HTTP_METHOD_DELETE;
    }
    return http_enter(pr, HTTP_PH_TARGET, pr->at + 1);
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
 * Finds the request-target's terminating SP, resuming at progress.at. Only
 * HTTP_MAX_TARGET + 1 bytes are examined: if the byte after HTTP_MAX_TARGET
 * target bytes is not SP, the target is too long, whatever follows.
 */
static int
http_scan_target(struct http_scan *s, struct http_request *req)
{
    struct http_progress *pr = &s->pr;
    const char *t = s->buf + pr->tok;
    size_t avail = (size_t)(s->end - t);
    size_t n = avail < HTTP_MAX_TARGET + 1 ? avail : HTTP_MAX_TARGET + 1;
    size_t i = pr->at - pr->tok, from = i;
    unsigned char c = 0;
    int rc;

    for (;;) {
        if (n - i >= 8 && !http_has_ctl(http_load64(t + i), 0x21)) {
            i += 8;
            continue;
        }
        if (i == n) {
            break;
        }
        c = (unsigned char)t[i];
        if (c <= 0x20 || c == 0x7f) {
            break;
        }
        i++;
    }
    s->examined += i - from + (i < n ? 1 : 0);
    if (i == n) {
        pr->at = pr->tok + i;
        return n > HTTP_MAX_TARGET ? HTTP_ETARGET : HTTP_INCOMPLETE;
    }
    if (c != ' ' || i == 0) {
        return i == HTTP_MAX_TARGET ? HTTP_ETARGET : HTTP_EBAD;
    }
    req->target = t;
    req->target_len = i;
    s->examined += i; /* the split looks at each byte at most once more */
    if ((rc = http_split_target(req)) != HTTP_OK) {
        return rc;
    }
    return http_enter(pr, HTTP_PH_VERSION, pr->tok + i + 1);
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

/*
 * The version and the line end; only 1.0 and 1.1 are served. Short enough
 * to re-read from its first byte on every call until it is whole.
 */
static int
http_parse_version(struct http_scan *s, struct http_request *req)
{
    struct http_progress *pr = &s->pr;
    const char *p = s->buf + pr->tok;
    size_t avail = (size_t)(s->end - p);
    int n, rc = HTTP_OK;

    s->examined += avail < 10 ? avail : 10;
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
    n = http_eol(p + 8, s->end);
    if (n <= 0) {
        return n == 0 ? HTTP_INCOMPLETE : HTTP_EBAD;
    }
    if (rc != HTTP_OK) {
        return rc; /* reported once the request line is known to be whole */
    }
    req->minor_version = p[7] - '0';
    return http_enter(pr, HTTP_PH_LINE, pr->tok + 8 + (size_t)n);
}

/* Notes "close" and "keep-alive" among the comma-separated options. */
static void
http_parse_connection(const char *v, size_t len, struct http_progress *seen)
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
                          struct http_progress *seen)
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

/* http_ieq(name, lit, n), counted. */
static inline int
http_name_is(struct http_scan *s, const char *name, const char *lit, size_t n)
{
    s->examined += n;
    return http_ieq(name, lit, n);
}

/* Acts on the fields the proxy cares about; the rest are ignored. */
static int
http_apply_field(struct http_scan *s, const char *name, size_t name_len,
                 const char *v, size_t len, struct http_request *req)
{
    struct http_progress *seen = &s->pr;

    switch (name_len) {
    case 4:
        if (http_name_is(s, name, "host", 4)) {
            if (seen->hosts++ > 0) {
                return HTTP_EBAD;
            }
            req->host = v;
            req->host_len = len;
        }
        break;
    case 6:
        if (http_name_is(s, name, "origin", 6) && req->origin == NULL) {
            req->origin = v;
            req->origin_len = len;
        } else if (http_ieq(name, "expect", 6)) {
            s->examined += len;
            req->expect_continue = len == 12 && http_ieq(v, "100-continue", 12);
        }
        break;
    case 10:
        if (http_name_is(s, name, "connection", 10)) {
            s->examined += len;
            http_parse_connection(v, len, seen);
        }
        break;
    case 13:
        /* The first line only: matching part of a list never gives a
           wrong 304, missing the rest only gives a 200. */
        if (http_name_is(s, name, "if-none-match", 13) &&
            req->if_none_match == NULL) {
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
        if (http_name_is(s, name, "content-length", 14)) {
            s->examined += len;
            return http_parse_content_length(v, len, req, seen);
        }
        break;
    case 17:
        if (http_name_is(s, name, "transfer-encoding", 17)) {
            return HTTP_EFRAMING;
        }
        break;
    }
    return HTTP_OK;
}

/*
 * The field lines and the empty line that ends the head, entered at the
 * step the progress names: a line's first byte, its name, the OWS after
 * the ':', its value. Runs on locals and writes the progress back only when
 * it stops; the switch is the way back in. The runs of one call are
 * contiguous, so what they examined is counted once, on the way out.
 */
static int
http_parse_fields(struct http_scan *s, struct http_request *req)
{
    struct http_progress *pr = &s->pr;
    const char *buf = s->buf, *end = s->end, *ve;
    const char *line = buf + pr->tok, *p = buf + pr->at, *v = buf + pr->value;
    const char *from = p;
    size_t name_len = pr->name_len, again = 0; /* again: bytes re-read */
    int phase = pr->phase, fields = pr->fields, n, rc = HTTP_EBAD;
    unsigned char c;

    for (;;) {
        switch (phase) {
        case HTTP_PH_LINE:
            if (p == end) {
                goto incomplete;
            }
            if (*p == '\r' || *p == '\n') {
                n = http_eol(p, end);
                if (n <= 0) {
                    goto eol;
                }
                p += n;
                pr->at = (size_t)(p - buf);
                pr->phase = HTTP_PH_DONE;
                rc = HTTP_OK;
                goto out;
            }
            if (*p == ' ' || *p == '\t') {
                goto out; /* obs-fold, or space before the first field */
            }
            if (fields++ == HTTP_MAX_HEADERS) {
                rc = HTTP_EHEADERS;
                goto out;
            }
            phase = HTTP_PH_NAME;
            /* fall through */
        case HTTP_PH_NAME:
            while (p < end && http_tchar[(unsigned char)*p]) {
                p++;
            }
            if (p == end) {
                goto incomplete;
            }
            if (*p != ':' || p == line) {
                goto out;
            }
            name_len = (size_t)(p - line);
            p++;
            phase = HTTP_PH_OWS;
            /* fall through */
        case HTTP_PH_OWS:
            while (p < end && (*p == ' ' || *p == '\t')) {
                p++;
            }
            if (p == end) {
                goto incomplete;
            }
            v = p;
            phase = HTTP_PH_VALUE;
            /* fall through */
        default:
            c = 0;
            for (;;) {
                if (end - p >= 8 && !http_has_ctl(http_load64(p), 0x20)) {
                    p += 8;
                    continue;
                }
                if (p == end) {
                    goto incomplete;
                }
                c = (unsigned char)*p;
                if (c < 0x20 ? c != '\t' : c == 0x7f) {
                    break;
                }
                p++;
            }
            if (c != '\r' && c != '\n') {
                goto out;
            }
            n = http_eol(p, end);
            if (n <= 0) {
                goto eol; /* a CR last resumes at the CR */
            }
            for (ve = p; ve > v && (ve[-1] == ' ' || ve[-1] == '\t');) {
                ve--;
            }
            again += (size_t)(p - ve);
            rc = http_apply_field(s, line, name_len, v, (size_t)(ve - v), req);
            if (rc != HTTP_OK) {
                goto out;
            }
            rc = HTTP_EBAD;
            line = p += n;
            phase = HTTP_PH_LINE;
        }
    }
eol:
    if (n < 0) {
        goto out;
    }
incomplete:
    pr->phase = phase;
    pr->tok = (size_t)(line - buf);
    pr->at = (size_t)(p - buf);
    pr->name_len = name_len;
    pr->value = (size_t)(v - buf);
    rc = HTTP_INCOMPLETE;
out:
    pr->fields = fields;
    s->examined += (size_t)(p - from) + again + (p < end ? 1 : 0);
    return rc;
}

/* The checks that need the whole head. */
static int
http_finish(const struct http_scan *s, struct http_request *req)
{
    const struct http_progress *pr = &s->pr;

    if (req->minor_version == 1 && pr->hosts != 1) {
        return HTTP_EBAD;
    }
    if (req->minor_version == 1) {
        req->keep_alive = !pr->close;
    } else {
        req->keep_alive = pr->keep_alive && !pr->close;
    }
    req->head_len = pr->at;
    return HTTP_OK;
}

/* Runs the parts from where s->pr stands to an answer. */
static int
http_run(struct http_scan *s, struct http_request *req)
{
    int rc;

    do {
        switch (s->pr.phase) {
        case HTTP_PH_LEADING:
            rc = http_skip_empty_lines(s);
            break;
        case HTTP_PH_METHOD:
            rc = http_parse_method(s, req);
            break;
        case HTTP_PH_TARGET:
            rc = http_scan_target(s, req);
            break;
        case HTTP_PH_VERSION:
            rc = http_parse_version(s, req);
            break;
        case HTTP_PH_LINE:
        case HTTP_PH_NAME:
        case HTTP_PH_OWS:
        case HTTP_PH_VALUE:
            rc = http_parse_fields(s, req);
            break;
        default:
            return http_finish(s, req);
        }
    } while (rc == HTTP_OK);
    return rc;
}

/*
 * Runs buf[0..len) from progress pr (NULL: the first byte) to an answer and
 * stores where it stopped in req->progress: an HTTP_INCOMPLETE is kept for a
 * resume, unless HTTP_MAX_HEAD bytes are there (then the head is too large).
 */
static int
http_scan(const char *buf, size_t len, const struct http_progress *pr,
          struct http_request *req)
{
    struct http_scan s;
    int rc;

    s.buf = buf;
    s.end = buf + (len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD);
    if (pr != NULL) {
        s.pr = *pr;
    } else {
        s.pr = (struct http_progress){.phase = HTTP_PH_LEADING};
    }
    s.examined = 0;
    rc = http_run(&s, req);
    http_examined += s.examined;
    if (rc == HTTP_INCOMPLETE && len < HTTP_MAX_HEAD) {
        s.pr.len = len;
        req->progress = s.pr;
        return rc;
    }
    req->progress.len = 0; /* nothing to resume */
    return rc == HTTP_INCOMPLETE ? HTTP_EHEADERS : rc;
}

/* Progress a resumed call can trust: offsets in order, within last_len. */
static int
http_progress_ok(const struct http_progress *pr, size_t last_len)
{
    if (pr->len != last_len || last_len >= HTTP_MAX_HEAD || pr->tok > pr->at ||
        pr->at > last_len || pr->phase < HTTP_PH_LEADING ||
        pr->phase > HTTP_PH_VALUE) {
        return 0;
    }
    if (pr->phase == HTTP_PH_OWS || pr->phase == HTTP_PH_VALUE) {
        return pr->name_len > 0 && pr->tok + pr->name_len < pr->at &&
               (pr->phase == HTTP_PH_OWS || pr->value <= pr->at);
    }
    return 1;
}

int
http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    /* Field by field: cheaper than a memset on this path. */
    req->method = HTTP_METHOD_OTHER;
    req->method_name = req->target = req->path = NULL;
    req->method_len = req->target_len = req->path_len = 0;
    req->minor_version = req->keep_alive = 0;
    req->content_length = 0;
    req->expect_continue = 0;
    req->if_none_match = req->origin = req->host = req->authorization = NULL;
    req->if_none_match_len = req->origin_len = req->host_len = 0;
    req->authorization_len = 0;
    req->head_len = 0;
    req->progress.len = 0;
    if (len == 0) {
        return HTTP_INCOMPLETE;
    }
    return http_scan(buf, len, NULL, req);
}

int
http_parse_request_resume(const char *buf, size_t len, size_t last_len,
                          struct http_request *req)
{
    int rc, full;

    if (last_len == 0 || last_len > len ||
        !http_progress_ok(&req->progress, last_len)) {
        return http_parse_request(buf, len, req);
    }
    if (len == last_len) {
        return HTTP_INCOMPLETE; /* the same bytes, the same answer */
    }
    rc = http_scan(buf, len, &req->progress, req);
    if (rc == HTTP_INCOMPLETE) {
        return rc;
    }
    /* An answer at last: the parse from the first byte gives it, with
       every pointer set as http_parse_request() sets it. */
    full = http_parse_request(buf, len, req);
    assert(full == rc); /* the same machine, resumed or not */
    return full;
}

size_t
http_scan_bytes(void)
{
    return http_examined;
}
