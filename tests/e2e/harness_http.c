/*
 * harness_http: an HTTP/1.1 client for the end-to-end tests, and the
 * assertions the suites make on its responses (see harness.h). The client
 * reads a response head byte by byte, so it never consumes a byte of the
 * next pipelined response, and the body by Content-Length (the proxy
 * always sends it). The assertions fail the running Criterion test.
 */
#include "harness.h"
#include "harness_int.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define H_GET_MS 5000    /* h_http_get's wait for the response */
#define H_TRIP_MS 3000   /* h_roundtrip's */
#define H_MAX_HEAD 65536 /* a response head longer than this is an error */

/* Reads the response head byte by byte (never past it) into r->headers. */
static int
h__read_head(int fd, struct h_resp *r, int64_t deadline)
{
    size_t len = 0, kept = 0;
    uint32_t last4 = 0;

    while (len < H_MAX_HEAD) {
        char c;

        if (h__read_exact(fd, &c, 1, deadline) == -1) {
            return -1;
        }
        len++;
        if (kept + 1 < sizeof(r->headers)) {
            r->headers[kept++] = c;
            r->headers[kept] = '\0';
        }
        last4 = (last4 << 8) | (unsigned char)c;
        if (last4 == 0x0d0a0d0a) {
            return 0;
        }
    }
    return -1;
}

int
h_read_resp(int fd, struct h_resp *r, int is_head, int timeout_ms)
{
    int64_t deadline = h_now_ms() + timeout_ms;
    char cl[32];
    char *end;

    r->status = 0;
    r->headers[0] = '\0';
    r->body = NULL;
    r->body_len = 0;
    if (h__read_head(fd, r, deadline) == -1 ||
        strncmp(r->headers, "HTTP/1.", 7) != 0 || r->headers[8] != ' ') {
        return -1;
    }
    r->status = (int)strtol(r->headers + 9, &end, 10);
    if (end != r->headers + 12 || r->status < 100) {
        return -1;
    }
    if (is_head || r->status < 200 || r->status == 204 || r->status == 304) {
        r->body = calloc(1, 1);
        return r->body != NULL ? 0 : -1;
    }
    if (h_header(r, "Content-Length", cl, sizeof(cl)) == NULL) {
        return -1; /* the proxy always sends it */
    }
    r->body_len = strtoul(cl, &end, 10);
    if (*end != '\0' || r->body_len > (size_t)1 << 30) {
        return -1;
    }
    r->body = malloc(r->body_len + 1);
    if (r->body == NULL ||
        h__read_exact(fd, r->body, r->body_len, deadline) == -1) {
        h_resp_free(r);
        return -1;
    }
    r->body[r->body_len] = '\0';
    return 0;
}

const char *
h_header(const struct h_resp *r, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *line = strstr(r->headers, "\r\n");

    while (line != NULL && line[2] != '\r' && line[2] != '\0') {
        const char *p = line + 2;
        const char *eol = strstr(p, "\r\n");

        if (eol == NULL) {
            eol = p + strlen(p);
        }
        if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
            strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            const char *ve = eol;
            size_t n;

            while (v < ve && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
                ve--;
            }
            n = (size_t)(ve - v);
            if (cap == 0) {
                return NULL;
            }
            n = n < cap - 1 ? n : cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
        line = *eol != '\0' ? eol : NULL;
    }
    return NULL;
}

void
h_resp_free(struct h_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

int
h_http_get_on(int fd, const char *path, struct h_resp *r, int timeout_ms)
{
    char req[16384];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);

    r->body = NULL;
    if (n < 0 || (size_t)n >= sizeof(req) || h_send(fd, req, (size_t)n) != 0) {
        return -1;
    }
    return h_read_resp(fd, r, 0, timeout_ms);
}

int
h_http_get(int port, const char *path, struct h_resp *r)
{
    int fd = h_connect(port), rc;

    r->body = NULL;
    if (fd == -1) {
        return -1;
    }
    rc = h_http_get_on(fd, path, r, H_GET_MS);
    close(fd);
    return rc;
}

/* ---- assertions ---- */

const char *
h_hdr(const struct h_resp *r, const char *name)
{
    static char buf[512];

    return h_header(r, name, buf, sizeof(buf)) ? buf : "(none)";
}

int
h_body_is(const struct h_resp *r, const char *s)
{
    return r->body_len == strlen(s) && memcmp(r->body, s, r->body_len) == 0;
}

int
h_conn(int port)
{
    int fd = h_connect(port);

    cr_assert_geq(fd, 0, "connect to port %d", port);
    return fd;
}

void
h_roundtrip(int fd, const char *req, struct h_resp *r, int is_head)
{
    cr_assert_eq(h_sends(fd, req), 0, "send %s", req);
    cr_assert_eq(h_read_resp(fd, r, is_head, H_TRIP_MS), 0, "no response to %s",
                 req);
}

void
h_check(const struct h_resp *r, const char *what, int status, const char *body,
        const char *xcache)
{
    cr_assert_eq(r->status, status, "%s: status %d, want %d ('%.64s')", what,
                 r->status, status, r->body ? r->body : "");
    if (body != NULL) {
        cr_assert_eq(r->body_len, strlen(body), "%s: body length %zu, want %zu",
                     what, r->body_len, strlen(body));
        cr_assert_eq(memcmp(r->body, body, r->body_len), 0,
                     "%s: body '%.64s', want '%.64s'", what, r->body, body);
    }
    if (xcache != NULL) {
        char buf[512];
        const char *got =
            h_header(r, "X-Cache", buf, sizeof(buf)) ? buf : "(none)";

        cr_assert_str_eq(got, xcache, "%s: X-Cache %s, want %s", what, got,
                         xcache);
    }
}

void
h_expect_get(int port, const char *path, int status, const char *body,
             const char *xcache)
{
    struct h_resp r = {0};

    cr_assert_eq(h_http_get(port, path, &r), 0, "GET %s: no response", path);
    h_check(&r, path, status, body, xcache);
    h_resp_free(&r);
}
