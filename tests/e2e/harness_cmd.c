/*
 * harness_cmd: what the forwarding suites share (see harness.h): commands
 * encoded as RESP arrays from C strings, sent and their replies checked
 * byte for byte, HTTP requests of any method with
 * a body (the PUT and DELETE of [http] writes), and the comparison of the
 * proxy with a second redis-server on long-lived connections, so a
 * transparency test can run a whole script, cache hits and sessions
 * included, and see every reply byte for byte.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H_SAME_MS 5000               /* h_expect_same_on's wait */
#define H_SAME_BUF ((size_t)4 << 20) /* its buffers for the replies */

size_t
h_cmd_encode(char *out, size_t cap, const char *const *argv)
{
    size_t argc = 0, o;
    int n;

    while (argv[argc] != NULL) {
        argc++;
    }
    n = snprintf(out, cap, "*%zu\r\n", argc);
    if (n < 0 || (size_t)n >= cap) {
        return 0;
    }
    o = (size_t)n;
    for (size_t i = 0; i < argc; i++) {
        size_t len = strlen(argv[i]);

        n = snprintf(out + o, cap - o, "$%zu\r\n", len);
        if (n < 0 || (size_t)n + len + 2 >= cap - o) {
            return 0;
        }
        o += (size_t)n;
        memcpy(out + o, argv[i], len);
        memcpy(out + o + len, "\r\n", 2);
        o += len + 2;
    }
    out[o] = '\0';
    return o;
}

void
h_send_argv(int fd, const char *const *argv)
{
    char req[16384];
    size_t n = h_cmd_encode(req, sizeof(req), argv);

    cr_assert_gt(n, 0, "%s: too long to encode", argv[0]);
    cr_assert_eq(h_send(fd, req, n), 0, "send %s", argv[0]);
}

void
h_expect_reply(int fd, const char *want, int timeout_ms, int line)
{
    char got[65536], e1[4096], e2[4096];
    long len = h_read_replies(fd, 1, got, sizeof(got) - 1, timeout_ms);

    got[len > 0 ? len : 0] = '\0';
    cr_assert(len > 0 && strcmp(got, want) == 0,
              "line %d: want \"%s\", got \"%s\"%s", line,
              h_escape(want, strlen(want), e1, sizeof(e1)),
              h_escape(got, len > 0 ? (size_t)len : 0, e2, sizeof(e2)),
              len > 0 ? "" : " (no reply)");
}

void
h_hello(int fd, int proto)
{
    char req[32], got[4096], want[32], e[1024];
    long len;

    snprintf(req, sizeof(req), "HELLO %d\r\n", proto);
    snprintf(want, sizeof(want), "$5\r\nproto\r\n:%d\r\n", proto);
    cr_assert_eq(h_sends(fd, req), 0, "send HELLO %d", proto);
    len = h_read_replies(fd, 1, got, sizeof(got) - 1, H_REPLY_MS);
    got[len > 0 ? len : 0] = '\0';
    cr_assert(len > 0 && got[0] == (proto == 3 ? '%' : '*') &&
                  strstr(got, want) != NULL,
              "HELLO %d: \"%s\"%s", proto,
              h_escape(got, len > 0 ? (size_t)len : 0, e, sizeof(e)),
              len > 0 ? "" : " (no reply)");
}

int
h_http_do(int fd, const char *method, const char *path, const char *extra,
          const void *body, size_t blen, struct h_resp *r, int timeout_ms)
{
    char head[16384];
    int n;

    r->body = NULL;
    if (body != NULL) {
        n = snprintf(
            head, sizeof(head),
            "%s %s HTTP/1.1\r\nHost: localhost\r\n%sContent-Length: %zu\r\n"
            "\r\n",
            method, path, extra != NULL ? extra : "", blen);
    } else {
        n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n", method,
                     path, extra != NULL ? extra : "");
    }
    if (n < 0 || (size_t)n >= sizeof(head) ||
        h_send(fd, head, (size_t)n) != 0 ||
        (body != NULL && blen > 0 && h_send(fd, body, blen) != 0)) {
        return -1;
    }
    return h_read_resp(fd, r, strcmp(method, "HEAD") == 0, timeout_ms);
}

long
h_expect_same_on(int redis_fd, int proxy_fd, const void *req, size_t len, int n,
                 const char *what, char *out, size_t cap)
{
    char *want = malloc(H_SAME_BUF), *got = malloc(H_SAME_BUF);
    char e1[2048], e2[2048];
    long wl, gl;

    cr_assert(want != NULL && got != NULL);
    cr_assert_eq(h_send(redis_fd, req, len), 0, "%s: send to redis", what);
    wl = h_read_replies(redis_fd, n, want, H_SAME_BUF, H_SAME_MS);
    cr_assert_gt(wl, 0, "%s: redis-server gave no %d replies", what, n);
    cr_assert_eq(h_send(proxy_fd, req, len), 0, "%s: send to proxy", what);
    gl = h_read_replies(proxy_fd, n, got, H_SAME_BUF, H_SAME_MS);
    cr_assert_gt(gl, 0, "%s: the proxy gave no %d replies", what, n);
    cr_assert(gl == wl && memcmp(got, want, (size_t)wl) == 0,
              "%s: redis-server answered\n  \"%s\"\nthe proxy\n  \"%s\"", what,
              h_escape(want, (size_t)wl, e1, sizeof(e1)),
              h_escape(got, (size_t)gl, e2, sizeof(e2)));
    if (out != NULL) {
        size_t k = (size_t)wl < cap ? (size_t)wl : cap - 1;

        memcpy(out, want, k);
        out[k] = '\0';
    }
    free(want);
    free(got);
    return wl;
}
