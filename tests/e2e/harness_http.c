/*
 * harness_http: assertion helpers shared by the end-to-end suites, built on
 * harness.c. Unlike harness.c these fail the running Criterion test (cr_assert)
 * instead of returning an error, so a suite's fixtures and tests can call
 * them directly. No Test() lives here.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

void
h_pair_setup(struct h_redis *r, struct h_proxy *p)
{
    memset(r, 0, sizeof(*r));
    memset(p, 0, sizeof(*p));
    cr_assert_eq(h_redis_start(r, 0), 0, "redis-server did not start");
}

void
h_pair_teardown(struct h_redis *r, struct h_proxy *p)
{
    h_proxy_stop(p); /* dumps its log unless it exited 0 */
    h_redis_stop(r);
}

void
h_start_proxy(struct h_proxy *p, const struct h_redis *r, const char *extra)
{
    const char *bin = getenv("PROXY_BIN");
    int rc = h_proxy_start(p, r->port, extra);

    if (rc != 0) {
        h_proxy_dump_log(p);
    }
    cr_assert_eq(rc, 0, "proxy did not start (is %s built? extra: %s)",
                 bin != NULL ? bin : "build/redis-proxy",
                 extra != NULL ? extra : "none");
}

void
h_start_proxy_admin(struct h_proxy *p, const struct h_redis *r,
                    const char *extra, int *admin_port)
{
    cr_assert_eq(h_proxy_start_admin(p, r->port, extra, NULL, admin_port), 0,
                 "proxy did not start");
}

void
h_set(const struct h_redis *r, const char *key, const char *val)
{
    cr_assert_eq(h_redis_cmd(r, "SET %s %s", key, val), 0, "SET %s", key);
}

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
    cr_assert_eq(h_read_resp(fd, r, is_head, 3000), 0, "no response to %s",
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

void
h_cache_key(const struct h_redis *r, int port, const char *key, const char *val)
{
    char path[128];

    snprintf(path, sizeof(path), "/%s", key);
    h_set(r, key, val);
    h_expect_get(port, path, 200, val, "MISS");
    h_expect_get(port, path, 200, val, "HIT");
}
