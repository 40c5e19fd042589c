/*
 * fuzz_http: libFuzzer harness for the HTTP request-head parser, the
 * percent-decoder and the UTF-8 check (src/proto/http.c).
 *
 * Each input is parsed whole, then as prefixes, each copied to the very end
 * of its own heap block so that reading one byte past the length it was
 * given trips AddressSanitizer. Every result must lie inside the bytes it
 * was given, and the prefixes must keep the contract written in http.h and
 * test_http.c: a complete head is HTTP_INCOMPLETE until its last byte and
 * the same request from then on; a bad one is HTTP_INCOMPLETE until it
 * becomes its error, and stays that error. Short inputs re-feed every
 * prefix; long ones a sample, so that a 16 KB input costs milliseconds.
 * The same prefixes are also fed to one http_parse_request_resume() chain,
 * each resumed from the previous one at its new address, and the input is
 * fed once more in pieces whose sizes are drawn from its bytes: every
 * resumed answer must be the full parse's, and the bytes the parser examined
 * up to the first answer must stay linear in the bytes fed (a resume that
 * re-scans from the start, or falls back to full parses, breaks that).
 * The decoder and the UTF-8 check are compared with plain byte-at-a-time
 * reference versions written here; http_reason is called for coverage.
 */
#include "proto/http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ALL_PREFIXES 256 /* every prefix up to this length */
#define FUZZ_PREFIX_STEPS 128 /* then about this many more */
#define FUZZ_WORK_PER_BYTE 16 /* bytes examined per byte fed, resumed */
#define FUZZ_WORK_SLACK 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_http: %s:%d: check failed: %s\n", __FILE__,  \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* A request with its pointers turned into offsets, to compare two parses. */
struct fuzz_view {
    long method; /* long: no padding for memcmp to see */
    long method_name, target, path, inm, origin; /* -1: NULL */
    size_t method_len, target_len, path_len, inm_len, origin_len;
    int minor, keep_alive;
    int64_t content_length;
    size_t head_len;
};

static long
fuzz_off(const char *p, const char *base)
{
    return p == NULL ? -1 : (long)(p - base);
}

static void
fuzz_view(const struct http_request *req, const char *base, struct fuzz_view *v)
{
    memset(v, 0, sizeof(*v));
    v->method = (long)req->method;
    v->method_name = fuzz_off(req->method_name, base);
    v->method_len = req->method_len;
    v->target = fuzz_off(req->target, base);
    v->target_len = req->target_len;
    v->path = fuzz_off(req->path, base);
    v->path_len = req->path_len;
    v->inm = fuzz_off(req->if_none_match, base);
    v->inm_len = req->if_none_match_len;
    v->origin = fuzz_off(req->origin, base);
    v->origin_len = req->origin_len;
    v->minor = req->minor_version;
    v->keep_alive = req->keep_alive;
    v->content_length = req->content_length;
    v->head_len = req->head_len;
}

/* p[0..n) lies inside base[0..len). */
static int
fuzz_inside(const char *p, size_t n, const char *base, size_t len)
{
    return p != NULL && p >= base && (size_t)(p - base) <= len &&
           n <= len - (size_t)(p - base);
}

static int
fuzz_known_rc(int rc)
{
    return rc == HTTP_OK || rc == HTTP_INCOMPLETE || rc == HTTP_EBAD ||
           rc == HTTP_ETARGET || rc == HTTP_EHEADERS || rc == HTTP_EVERSION ||
           rc == HTTP_EBODY || rc == HTTP_EFRAMING;
}

/* What must hold of any HTTP_OK result for buf[0..len). */
static void
fuzz_check_request(const struct http_request *r, const char *buf, size_t len)
{
    const char *head = buf;
    size_t hl = r->head_len;

    FUZZ_CHECK(hl > 0 && hl <= len && hl <= HTTP_MAX_HEAD);
    FUZZ_CHECK(fuzz_inside(r->method_name, r->method_len, head, hl));
    FUZZ_CHECK(r->method_len > 0);
    FUZZ_CHECK(r->method != HTTP_METHOD_GET ||
               (r->method_len == 3 && memcmp(r->method_name, "GET", 3) == 0));
    FUZZ_CHECK(r->method != HTTP_METHOD_HEAD ||
               (r->method_len == 4 && memcmp(r->method_name, "HEAD", 4) == 0));
    FUZZ_CHECK(fuzz_inside(r->target, r->target_len, head, hl));
    FUZZ_CHECK(r->target_len > 0 && r->target_len <= HTTP_MAX_TARGET);
    FUZZ_CHECK(fuzz_inside(r->path, r->path_len, r->target, r->target_len));
    FUZZ_CHECK(r->path_len > 0 && r->path[0] == '/');
    FUZZ_CHECK(memchr(r->path, '?', r->path_len) == NULL);
    FUZZ_CHECK(memchr(r->path, '#', r->path_len) == NULL);
    FUZZ_CHECK(r->minor_version == 0 || r->minor_version == 1);
    FUZZ_CHECK(r->keep_alive == 0 || r->keep_alive == 1);
    FUZZ_CHECK(r->content_length >= 0 && r->content_length <= HTTP_MAX_BODY);
    FUZZ_CHECK(r->if_none_match == NULL ||
               fuzz_inside(r->if_none_match, r->if_none_match_len, head, hl));
    FUZZ_CHECK(r->origin == NULL ||
               fuzz_inside(r->origin, r->origin_len, head, hl));
    FUZZ_CHECK(buf[hl - 1] == '\n');
}

/* Byte-at-a-time percent-decoding: the reference for http_percent_decode. */
static long
fuzz_ref_decode(const char *s, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef0123456789ABCDEF";
    const char *hi, *lo;
    size_t i, w = 0;

    for (i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[w++] = s[i];
            continue;
        }
        if (len - i < 3 || s[i + 1] == '\0' || s[i + 2] == '\0' ||
            (hi = strchr(hex, s[i + 1])) == NULL ||
            (lo = strchr(hex, s[i + 2])) == NULL) {
            return -1;
        }
        out[w++] = (char)(((hi - hex) % 16) << 4 | (lo - hex) % 16);
        i += 2;
    }
    return (long)w;
}

/* Decodes s[0..len) with both versions, each on an exact-size heap copy. */
static void
fuzz_check_decode(const char *s, size_t len)
{
    char *got = malloc(len + 1), *want = malloc(len + 1);
    long n, ref;

    FUZZ_CHECK(got != NULL && want != NULL);
    memcpy(got, s, len);
    n = http_percent_decode(got, len);
    ref = fuzz_ref_decode(s, len, want);
    FUZZ_CHECK(n == ref);
    FUZZ_CHECK(n < 0 || memcmp(got, want, (size_t)n) == 0);
    free(want);
    free(got);
}

/* Code point by code point: the reference for http_is_utf8. */
static int
fuzz_ref_utf8(const unsigned char *s, size_t len)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t i = 0, n, k;
    uint32_t cp;

    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if ((s[i] & 0xe0) == 0xc0) {
            n = 2, cp = s[i] & 0x1f;
        } else if ((s[i] & 0xf0) == 0xe0) {
            n = 3, cp = s[i] & 0x0f;
        } else if ((s[i] & 0xf8) == 0xf0) {
            n = 4, cp = s[i] & 0x07;
        } else {
            return 0;
        }
        if (len - i < n) {
            return 0;
        }
        for (k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += n;
    }
    return 1;
}

/* A resumed parse carried along growing prefixes of one input. */
struct fuzz_chain {
    struct http_request req;
    size_t last;  /* the previous prefix, if it gave HTTP_INCOMPLETE */
    size_t work;  /* bytes examined by its calls up to the first answer */
    int answered; /* a call gave something other than HTTP_INCOMPLETE */
};

/*
 * Resumes ch on buf[0..k), the bytes of the previous call plus more (maybe
 * at another address): it must give rc, and on HTTP_OK the request want
 * (offsets from buf), within the linear work bound.
 */
static void
fuzz_resume(struct fuzz_chain *ch, const char *buf, size_t k, int rc,
            const struct fuzz_view *want)
{
    size_t before = http_scan_bytes();
    struct fuzz_view v;
    int r;

    r = http_parse_request_resume(buf, k, ch->last, &ch->req);
    if (!ch->answered) {
        ch->work += http_scan_bytes() - before;
        FUZZ_CHECK(ch->work <= FUZZ_WORK_PER_BYTE * k + FUZZ_WORK_SLACK);
    }
    FUZZ_CHECK(r == rc);
    if (r == HTTP_OK) {
        fuzz_check_request(&ch->req, buf, k);
        fuzz_view(&ch->req, buf, &v);
        FUZZ_CHECK(memcmp(&v, want, sizeof(v)) == 0);
    }
    if (r == HTTP_INCOMPLETE) {
        ch->last = k;
    } else {
        ch->answered = 1;
    }
}

/*
 * Parses data[0..k) from the end of a k-byte heap block; checks the result
 * against the whole input's (rc, want). *seen_err is the first error a
 * shorter prefix gave, which every longer prefix must repeat. Then, until
 * ch has answered, resumes it on the same block: it must answer as the full
 * parse just did.
 */
static void
fuzz_check_prefix(const char *data, size_t k, int rc,
                  const struct fuzz_view *want, int *seen_err,
                  struct fuzz_chain *ch)
{
    char *copy = malloc(k);
    struct http_request req;
    struct fuzz_view v;
    int r;

    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, k);
    r = http_parse_request(copy, k, &req);
    FUZZ_CHECK(fuzz_known_rc(r));
    if (*seen_err != HTTP_OK) {
        FUZZ_CHECK(r == *seen_err);
    } else if (r != HTTP_INCOMPLETE && r != HTTP_OK) {
        *seen_err = r;
    }
    if (rc == HTTP_OK) {
        FUZZ_CHECK(r == (k < want->head_len ? HTTP_INCOMPLETE : HTTP_OK));
    } else {
        FUZZ_CHECK(r == HTTP_INCOMPLETE || r == rc);
    }
    memset(&v, 0, sizeof(v));
    if (r == HTTP_OK) {
        fuzz_check_request(&req, copy, k);
        fuzz_view(&req, copy, &v);
        FUZZ_CHECK(memcmp(&v, want, sizeof(v)) == 0);
    }
    if (!ch->answered) {
        fuzz_resume(ch, copy, k, r, &v);
    }
    free(copy);
}

/*
 * The shortest prefix with an answer other than HTTP_INCOMPLETE, or size + 1:
 * by the contract fuzz_check_prefix checks, prefixes give HTTP_INCOMPLETE up
 * to some length and the whole input's answer from there on.
 */
static size_t
fuzz_first_answer(const char *buf, size_t size)
{
    struct http_request req;
    size_t lo = 1, hi = size + 1, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (http_parse_request(buf, mid, &req) != HTTP_INCOMPLETE) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

/*
 * Feeds the input to a resumed parse in pieces of 1 to 16 bytes, now and
 * then up to 512, the sizes drawn from a hash of the input, and checks each
 * answer against what the full parse gives for that prefix.
 */
static void
fuzz_check_splits(const char *data, size_t size, int rc,
                  const struct fuzz_view *want)
{
    static const struct fuzz_view none;
    char *copy = malloc(size);
    struct fuzz_chain ch;
    size_t first = fuzz_first_answer(data, size), k = 0, i;
    uint32_t x = 2166136261u;

    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    memset(&ch, 0, sizeof(ch));
    for (i = 0; i < size && i < 64; i++) {
        x = (x ^ (uint8_t)data[i]) * 16777619u;
    }
    while (k < size && !ch.answered) {
        x = x * 1103515245u + 12345u;
        k += 1 + (x >> 16) % ((x & 0xf00) == 0 ? 512 : 16);
        k = k < size ? k : size;
        fuzz_resume(&ch, copy, k, k < first ? HTTP_INCOMPLETE : rc,
                    k < first || rc != HTTP_OK ? &none : want);
    }
    free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct http_request req;
    struct fuzz_chain chain;
    struct fuzz_view want;
    size_t k, step;
    int rc, seen_err = HTTP_OK;

    rc = http_parse_request(buf, size, &req);
    FUZZ_CHECK(fuzz_known_rc(rc));
    FUZZ_CHECK(rc != HTTP_INCOMPLETE || size < HTTP_MAX_HEAD);
    memset(&want, 0, sizeof(want));
    if (rc == HTTP_OK) {
        fuzz_check_request(&req, buf, size);
        fuzz_view(&req, buf, &want);
        fuzz_check_decode(req.path, req.path_len);
    }

    memset(&chain, 0, sizeof(chain));
    step = size <= FUZZ_ALL_PREFIXES ? 1 : size / FUZZ_PREFIX_STEPS + 1;
    for (k = 1; k < size; k += k < FUZZ_ALL_PREFIXES ? 1 : step) {
        fuzz_check_prefix(buf, k, rc, &want, &seen_err, &chain);
    }
    if (rc == HTTP_OK && want.head_len > 1) {
        memset(&chain, 0, sizeof(chain));
        fuzz_check_prefix(buf, want.head_len - 1, rc, &want, &seen_err, &chain);
        fuzz_check_prefix(buf, want.head_len, rc, &want, &seen_err, &chain);
    }
    fuzz_check_splits(buf, size, rc, &want);

    fuzz_check_decode(buf, size);
    FUZZ_CHECK(http_is_utf8(buf, size) == fuzz_ref_utf8(data, size));
    if (size >= 2) {
        FUZZ_CHECK(http_reason((data[0] << 8 | data[1]) % 1000) != NULL);
    }
    return 0;
}
