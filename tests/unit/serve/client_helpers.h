/*
 * client_helpers: the test playing the client on the other end of a
 * conn's socketpair (unit_conn), shared by the serve unit tests that read
 * what a protocol handler wrote (RESP replies, HTTP responses) or write
 * requests to it; header-only because each tests/unit/serve/test_*.c is
 * its own binary.
 *
 * Every wait is bounded (CLIENT_WAIT_MS), so a handler that never answers
 * fails a test instead of hanging it; the bound only limits how long a
 * failure takes to show, nothing is asserted about speed.
 */
#ifndef RP_TEST_CLIENT_HELPERS_H
#define RP_TEST_CLIENT_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/util.h"
#include "unit_helpers.h"

#define CLIENT_WAIT_MS 5000

/* Writes all of p[0..len) to the blocking fd. */
static inline void
client_send_n(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        cr_assert_gt(n, 0, "write to the conn: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

static inline void
client_send(int fd, const char *s)
{
    client_send_n(fd, s, strlen(s));
}

/* Reads what arrives within ms into buf[0..cap) until cap bytes came,
 * the peer closed (*eof set, when eof is not NULL) or ms passed with
 * nothing more. Returns the bytes read. */
static inline size_t
client_read_for(int fd, char *buf, size_t cap, int ms, int *eof)
{
    int64_t until = util_now_ms() + ms;
    size_t got = 0;

    if (eof != NULL) {
        *eof = 0;
    }
    while (got < cap) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t left = until - util_now_ms();
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            break;
        }
        n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (eof != NULL) {
                *eof = 1;
            }
            break;
        }
        got += (size_t)n;
    }
    return got;
}

/* Reads exactly strlen(want) bytes (bounded) and expects them to be want,
 * byte for byte. */
static inline void
client_expect(int fd, const char *want)
{
    size_t n = strlen(want);
    char *got = malloc(n + 1);
    size_t len;

    cr_assert_not_null(got);
    len = client_read_for(fd, got, n, CLIENT_WAIT_MS, NULL);
    cr_expect(len == n && memcmp(got, want, n) == 0,
              "got %zu bytes '%.*s', want '%s'", len, (int)len, got, want);
    free(got);
}

/* Expects the peer to close with nothing more sent (bounded). */
static inline void
client_expect_eof(int fd)
{
    char buf[256];
    int eof;
    size_t n = client_read_for(fd, buf, sizeof(buf), CLIENT_WAIT_MS, &eof);

    cr_expect_eq(n, 0, "unexpected bytes before the close: '%.*s'", (int)n,
                 buf);
    cr_expect(eof, "the conn was not closed");
}

/* Waits (bounded) until *v reaches want; a counter other threads move. */
static inline void
await_long(atomic_long *v, long want)
{
    int64_t until = util_now_ms() + CLIENT_WAIT_MS;

    while (atomic_load(v) < want && util_now_ms() < until) {
        sleep_ms(2);
    }
    cr_assert_eq(atomic_load(v), want, "counter at %ld, want %ld",
                 atomic_load(v), want);
}

/* ---- HTTP responses ---- */

#define HTTP_RESP_MAX 65536

/* One HTTP response as it came: its head (status line and fields, the
 * blank line included) and its body. */
struct http_resp {
    char head[8192];
    size_t head_len;
    char body[HTTP_RESP_MAX];
    size_t body_len;
    int status;
};

/* The value of field name in r's head (NUL-terminated in a static
 * buffer), or NULL when absent. */
static inline const char *
http_field(const struct http_resp *r, const char *name)
{
    static char value[1024];
    size_t n = strlen(name);
    const char *p = memchr(r->head, '\n', r->head_len);

    while (p != NULL && (size_t)(p + 1 - r->head) < r->head_len) {
        const char *line = p + 1, *end;

        p = memchr(line, '\n', r->head_len - (size_t)(line - r->head));
        end = p != NULL ? p : r->head + r->head_len;
        if ((size_t)(end - line) > n && strncasecmp(line, name, n) == 0 &&
            line[n] == ':') {
            const char *v = line + n + 1;
            size_t len;

            while (*v == ' ') {
                v++;
            }
            len = (size_t)(end - v);
            if (len > 0 && v[len - 1] == '\r') {
                len--;
            }
            if (len >= sizeof(value)) {
                len = sizeof(value) - 1;
            }
            memcpy(value, v, len);
            value[len] = '\0';
            return value;
        }
    }
    return NULL;
}

/* Reads one response (bounded): the head up to its blank line, then
 * Content-Length bytes of body (none when head_only: a HEAD's answer, or
 * a 304). Fails the test when the head does not come. */
static inline void
http_read_resp(int fd, struct http_resp *r, int head_only)
{
    const char *len;
    size_t want;

    memset(r, 0, sizeof(*r));
    while (r->head_len < 4 ||
           memcmp(r->head + r->head_len - 4, "\r\n\r\n", 4) != 0) {
        cr_assert_lt(r->head_len, sizeof(r->head) - 1, "head too long");
        cr_assert_eq(
            client_read_for(fd, r->head + r->head_len, 1, CLIENT_WAIT_MS, NULL),
            1, "no complete response head; got '%.*s'", (int)r->head_len,
            r->head);
        r->head_len++;
    }
    cr_assert(r->head_len > 12 && memcmp(r->head, "HTTP/1.", 7) == 0,
              "not a status line: '%.*s'", (int)r->head_len, r->head);
    r->status = atoi(r->head + 9);
    len = http_field(r, "Content-Length");
    want = head_only || len == NULL ? 0 : (size_t)strtoul(len, NULL, 10);
    cr_assert_leq(want, sizeof(r->body));
    r->body_len = client_read_for(fd, r->body, want, CLIENT_WAIT_MS, NULL);
    cr_assert_eq(r->body_len, want, "body of %zu bytes, want %zu", r->body_len,
                 want);
}

/* The status line of r, without its CRLF, in a static buffer. */
static inline const char *
http_status_line(const struct http_resp *r)
{
    static char line[128];
    const char *cr = memchr(r->head, '\r', r->head_len);
    size_t n = cr != NULL ? (size_t)(cr - r->head) : 0;

    if (n >= sizeof(line)) {
        n = sizeof(line) - 1;
    }
    memcpy(line, r->head, n);
    line[n] = '\0';
    return line;
}

/* r's status line is want, and its body exactly body (NULL: not
 * checked). */
static inline void
http_expect(const struct http_resp *r, const char *status_line,
            const char *body)
{
    cr_expect_str_eq(http_status_line(r), status_line);
    if (body != NULL) {
        cr_expect(r->body_len == strlen(body) &&
                      memcmp(r->body, body, r->body_len) == 0,
                  "body '%.*s', want '%s'", (int)r->body_len, r->body, body);
    }
}

/* r's field name is exactly value. */
static inline void
http_expect_field(const struct http_resp *r, const char *name,
                  const char *value)
{
    const char *v = http_field(r, name);

    cr_expect(v != NULL && strcmp(v, value) == 0, "%s: got '%s', want '%s'",
              name, v != NULL ? v : "(none)", value);
}

#endif
