/*
 * http_out: writing HTTP/1.1 response heads, apart from handling requests
 * (the split of nginx's ngx_http_header_filter_module.c and
 * ngx_http_special_response.c). The one place that knows the status line,
 * the headers every response carries (Date, X-Content-Type-Options) and
 * their order, the Date cache, entity-tags, and the canned responses sent
 * outside any handler (408 by the waiter, 503 by the accept loop).
 *
 * Like the parsers in this layer it does no I/O and never allocates:
 * everything is written into the caller's buffer, and a head that does not
 * fit sets a sticky overflow flag that the caller checks once at the end.
 * Thread-safe (the Date cache is per thread).
 */
#ifndef RP_HTTP_OUT_H
#define RP_HTTP_OUT_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_DATE_LEN 29   /* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define HTTP_ETAG_LEN 18   /* a quoted 64-bit hash in hex */
#define HTTP_HEAD_MAX 1024 /* bytes of any head this proxy writes */

/* A head being written into buf[0..cap). */
struct http_head {
    char *start, *p, *end;
    int overflow; /* something did not fit; the head is unusable */
};

/* What every response head says. */
struct http_head_info {
    int status;
    const char *type;      /* Content-Type, or NULL for none (304) */
    uint64_t length;       /* Content-Length (not written for 204, 304) */
    const char *extra;     /* more header lines, each ending in CRLF, or "" */
    int keep_alive;        /* 0: "Connection: close" */
    int http10_keep_alive; /* an HTTP/1.0 client asked for keep-alive */
};

void http_head_init(struct http_head *h, char *buf, size_t cap);
void http_head_mem(struct http_head *h, const void *s, size_t n);
void http_head_str(struct http_head *h, const char *s);
void http_head_u64(struct http_head *h, uint64_t v);
#define http_head_lit(h, s) http_head_mem((h), (s), sizeof(s) - 1)

/* Writes the whole head: status line, Content-Type, Content-Length, Date,
 * X-Content-Type-Options, the extra lines, Connection, and the empty line.
 * Returns the head's length, or 0 when it overflowed. */
size_t http_head_write(struct http_head *h, const struct http_head_info *i);

/* Formats the IMF-fixdate of now into out (HTTP_DATE_LEN + 1 bytes),
 * cached per thread for the current second. Returns out. */
const char *http_date(char *out);

/* Writes the quoted entity-tag of a 64-bit hash (HTTP_ETAG_LEN bytes, no
 * terminator). */
void http_etag_format(char out[HTTP_ETAG_LEN], uint64_t hash);

/* Does an If-None-Match value (a list of entity-tags, or "*") match tag?
 * Weak comparison, as RFC 9110 13.1.2 asks for GET. */
int http_etag_matches(const char *inm, size_t len, const char *tag,
                      size_t tlen);

/*
 * Formats into out a complete response that is sent outside any handler
 * and followed by close: 503 (a connection over max_clients) or 408 (a
 * request that did not arrive within request_timeout). It carries what
 * every response carries (Date, X-Content-Type-Options, Cache-Control:
 * no-store). Returns its length, or 0 when cap is too small or status is
 * neither.
 */
size_t http_canned(char *out, size_t cap, int status);

#endif
