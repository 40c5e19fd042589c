/*
 * http: an incremental, zero-copy HTTP/1.x request-head parser.
 *
 * Contract (after picohttpparser): the caller owns the bytes; the parser never
 * copies, allocates or does I/O. It is handed everything received so far for
 * the current request, starting at its first byte, and either finds the
 * complete head (request line + header fields + empty line), says
 * HTTP_INCOMPLETE (call again with more bytes), or returns an error that maps
 * to one HTTP status. Every pointer in struct http_request points into the
 * caller's buffer and is valid as long as those bytes stay in place. Limits
 * are enforced as soon as they are crossed, even on an incomplete head, so a
 * client can never make the caller buffer more than HTTP_MAX_HEAD bytes.
 * Re-feeding a longer prefix of the same input gives the same result once it
 * is complete.
 *
 * Resuming (picohttpparser's last_len, nginx's saved state): on
 * HTTP_INCOMPLETE the parser leaves in req->progress where it stopped, as
 * offsets from the first byte. http_parse_request_resume() given the same
 * bytes plus new ones, the previous call's length and that same req goes on
 * from there: it re-reads only the new bytes and a bounded tail of the
 * unfinished token (a CR waiting for its LF, an unfinished version), so a
 * head sent a byte at a time costs a bounded number of byte examinations per
 * byte in total. When the answer is no longer HTTP_INCOMPLETE it parses the
 * head once more from its first byte, so the result and every field are
 * exactly those of http_parse_request() on the same bytes. Thread-safe: no
 * state outside the arguments, apart from the per-thread count read by
 * http_scan_bytes().
 */
#ifndef RP_HTTP_H
#define RP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "proto/http_text.h"

#define HTTP_MAX_TARGET 8192 /* request-target bytes; more: 414 */
#define HTTP_MAX_HEAD 16384  /* request line + fields + CRLFCRLF; more: 431 */
#define HTTP_MAX_HEADERS 100 /* header field lines; more: 431 */
#define HTTP_MAX_BODY                                                          \
    (512L << 20) /* Content-Length at most; a handler                          \
                    applies its own, lower limit */

enum http_status_code {
    HTTP_OK = 0,
    HTTP_INCOMPLETE = -1, /* need more bytes */
    HTTP_EBAD = -2,       /* malformed: 400 */
    HTTP_ETARGET = -3,    /* request-target over HTTP_MAX_TARGET: 414 */
    HTTP_EHEADERS = -4,   /* head over HTTP_MAX_HEAD or too many fields: 431 */
    HTTP_EVERSION = -5,   /* not HTTP/1.0 or HTTP/1.1: 505 */
    HTTP_EBODY = -6,      /* Content-Length over HTTP_MAX_BODY: 413 */
    HTTP_EFRAMING = -7,   /* Transfer-Encoding, alone or with Content-Length:
                             400, the body cannot be delimited safely */
};

enum http_method {
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_PUT,
    HTTP_METHOD_DELETE,
    HTTP_METHOD_OTHER, /* any other valid token */
};

/*
 * Where a parse that returned HTTP_INCOMPLETE stopped. Offsets count from
 * the request's first byte, so the caller may move the bytes between calls.
 * Read and written only by http.c; callers keep it, untouched, inside the
 * struct http_request they resume with.
 */
struct http_progress {
    size_t len;      /* len of the call that returned HTTP_INCOMPLETE; 0 after
                        any other answer */
    size_t tok;      /* start of the unfinished token or field line */
    size_t at;       /* where scanning resumes: bytes from tok to here were
                        already checked */
    size_t name_len; /* field line: its name's length, once the ':' is seen */
    size_t value;    /* field line: offset of its value, once OWS is past */
    int phase;       /* which part of the head tok is in (private enum) */
    int fields;      /* field lines started */
    int hosts;       /* Host field lines */
    int have_length; /* a Content-Length was seen */
    int close;       /* Connection: close */
    int keep_alive;  /* Connection: keep-alive */
};

/* One parsed request head. All pointers point into the caller's buffer. */
struct http_request {
    enum http_method method;
    const char *method_name; /* the method token as sent */
    size_t method_len;
    const char *target; /* request-target as sent (origin or absolute form) */
    size_t target_len;
    const char *path; /* target's path: starts with '/', no query, still
                         percent-encoded; for absolute-form the part after
                         the authority */
    size_t path_len;
    int minor_version; /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
    int keep_alive;    /* 1 when the connection persists after this request:
                          HTTP/1.1 unless "Connection: close", HTTP/1.0 only
                          with "Connection: keep-alive" */
    int64_t content_length;    /* body bytes that follow the head; 0 if none */
    const char *if_none_match; /* If-None-Match value, or NULL */
    size_t if_none_match_len;
    const char *origin; /* Origin value, or NULL */
    size_t origin_len;
    const char *host; /* Host value, or NULL */
    size_t host_len;
    const char *authorization; /* Authorization value, or NULL (a second
                                  one is a 400) */
    size_t authorization_len;
    int expect_continue; /* "Expect: 100-continue": the client waits for
                            a 100 (or the final answer) before its body */
    size_t head_len;     /* bytes of the head, including the final empty line */
    struct http_progress progress; /* resume state; see struct http_progress */
};

/*
 * Parses the request head at buf[0..len) from its first byte. Returns HTTP_OK
 * and fills *req when the head is complete, HTTP_INCOMPLETE when more bytes
 * are needed (then req holds only req->progress), or one of the negative
 * error codes above. Accepts CRLF or bare LF line ends, rejects obsolete line
 * folding, NUL and other control bytes, whitespace before a field's colon, an
 * HTTP/1.1 request without exactly one Host, and repeated or non-numeric
 * Content-Length. Equal to http_parse_request_resume() with last_len 0.
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/*
 * The same parse, resumed. last_len is the len of the previous call for this
 * request if that call returned HTTP_INCOMPLETE, else 0; req must then be the
 * struct that call filled, unchanged, and buf[0..last_len) the same bytes
 * (possibly at another address). Returns exactly what http_parse_request()
 * returns for buf[0..len), and with any answer but HTTP_INCOMPLETE the same
 * fields, however the bytes were split between calls. Work: the new bytes,
 * at most a dozen bytes re-read per call, and one parse from the first byte
 * when the answer comes. When last_len does not match what req->progress
 * recorded it falls back to the full parse.
 */
int http_parse_request_resume(const char *buf, size_t len, size_t last_len,
                              struct http_request *req);

/*
 * Bytes the request-head parser has examined on the calling thread, in
 * total since the thread started (wrapping): every byte a scan looked at,
 * once for each time it looked, counted per run rather than per byte and
 * added up once per call. For tests and benchmarks that compare work, not
 * time; take the difference around the calls measured.
 */
size_t http_scan_bytes(void);

#endif
