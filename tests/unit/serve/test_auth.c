/*
 * Unit tests of serve/auth: whether a password is required, the
 * constant-time comparison's answers (equal, a prefix, longer, one byte
 * off anywhere, the empty password, the longest one allowed), the HTTP
 * Authorization header (Bearer, Basic with any user name, the scheme's
 * case, bad base64, no colon, no header), failures counted per listener,
 * and the 401 with its challenge as the data port and the admin port
 * write it (httpd_refuse on a conn, read on its socketpair). The proxy is
 * its services without Redis (live_helpers.h).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "proto/http.h"
#include "serve/auth.h"
#include "serve/httpd.h"

#include "live_helpers.h"

/* With password pw ("" for none). */
static void
up_with(const char *pw)
{
    live_defaults();
    snprintf(live.cfg.server_password, sizeof(live.cfg.server_password), "%s",
             pw);
    live_services();
}

static void
setup(void)
{
    up_with("s3cret");
}

TestSuite(auth, .init = setup, .fini = live_down, .timeout = 30);

/* Whether the password p[0..n) passes auth_check (no user name). */
static int
pass_ok(const char *p, size_t n)
{
    return auth_check(&live.px, NULL, 0, p, n) != AUTH_DENIED;
}

static int
ok(const char *p)
{
    return pass_ok(p, strlen(p));
}

Test(auth, a_password_is_required_only_when_set)
{
    cr_expect_eq(auth_required(&live.px), 1);
    live.cfg.server_password[0] = '\0';
    cr_expect_eq(auth_required(&live.px), 0);
}

Test(auth, only_the_exact_password_compares_equal)
{
    cr_expect_eq(ok("s3cret"), 1);
    cr_expect_eq(ok("s3cre"), 0, "a prefix");
    cr_expect_eq(ok("s3crett"), 0, "longer");
    cr_expect_eq(ok("S3cret"), 0, "case");
    cr_expect_eq(ok("s3creT"), 0, "the last byte");
    cr_expect_eq(ok(""), 0, "empty");
    cr_expect_eq(pass_ok("s3cret\0", 7), 0, "a NUL after");
    cr_expect_eq(pass_ok("s3cretXYZ", 6), 1, "only len bytes count");
}

Test(auth, the_longest_password_compares_whole)
{
    char pw[256], other[300];

    memset(pw, 'p', 255);
    pw[255] = '\0';
    snprintf(live.cfg.server_password, sizeof(live.cfg.server_password), "%s",
             pw);
    cr_expect_eq(ok(pw), 1);
    memcpy(other, pw, 256);
    other[254] = 'q';
    cr_expect_eq(ok(other), 0, "the 255th byte differs");
    memset(other, 'p', sizeof(other));
    cr_expect_eq(pass_ok(other, 256), 0, "256 bytes");
    cr_expect_eq(pass_ok(other, sizeof(other)), 0,
                 "past what the configuration allows");
}

/* Whether auth_http lets in a request carrying the header line hdr (""
 * for none). */
static int
http_ok(const char *hdr)
{
    static char buf[2048];
    struct http_request req;
    size_t n = (size_t)snprintf(
        buf, sizeof(buf), "GET /k HTTP/1.1\r\nHost: localhost\r\n%s\r\n", hdr);

    cr_assert_eq(http_parse_request(buf, n, &req), HTTP_OK, "%s", hdr);
    {
        char b[AUTH_BASIC_MAX];
        const char *user;
        size_t ulen;

        return auth_http(&live.px, &req, b, &user, &ulen) != AUTH_DENIED;
    }
}

/* One Authorization value and whether it carries the password. */
struct cred {
    const char *value;
    int ok;
    const char *why;
};

static void
expect_creds(const struct cred *c, size_t n)
{
    char hdr[256];

    for (size_t i = 0; i < n; i++) {
        snprintf(hdr, sizeof(hdr), "Authorization: %s\r\n", c[i].value);
        cr_expect_eq(http_ok(hdr), c[i].ok, "%s: %s", c[i].value, c[i].why);
    }
}

Test(auth, bearer_carries_the_password)
{
    static const struct cred creds[] = {
        {"Bearer s3cret", 1, "the password"},
        {"bearer s3cret", 1, "the scheme ignores case"},
        {"Bearer   s3cret", 1, "spaces before the credentials"},
        {"Bearer wrong", 0, "another password"},
        {"Bearer s3cret2", 0, "longer"},
        {"Bearers3cret", 0, "no space after the scheme"},
        {"Token s3cret", 0, "another scheme"},
        {"Bearer", 0, "no credentials"},
    };

    expect_creds(creds, sizeof(creds) / sizeof(creds[0]));
}

Test(auth, basic_carries_the_password_with_any_user_name)
{
    static const struct cred creds[] = {
        {"Basic YWRtaW46czNjcmV0", 1, "admin:s3cret"},
        {"BASIC YWRtaW46czNjcmV0", 1, "the scheme ignores case"},
        {"Basic OnMzY3JldA==", 1, ":s3cret, an empty user, padded"},
        {"Basic OnMzY3JldA", 1, "padding is optional"},
        {"Basic YTpiOnMzY3JldA==", 0, "a:b:s3cret: the password is b:s3cret"},
        {"Basic YWRtaW46d3Jvbmc=", 0, "admin:wrong"},
        {"Basic czNjcmV0", 0, "s3cret alone: no colon"},
        {"Basic YWRtaW46czNjcmV0!", 0, "not base64"},
        {"Basic", 0, "no credentials"},
    };

    expect_creds(creds, sizeof(creds) / sizeof(creds[0]));
}

Test(auth, a_request_without_credentials_passes_only_without_a_password)
{
    cr_expect_eq(http_ok(""), 0);
    live.cfg.server_password[0] = '\0';
    cr_expect_eq(http_ok(""), 1);
    cr_expect_eq(http_ok("Authorization: Bearer anything\r\n"), 1);
}

Test(auth, failures_are_counted_per_listener)
{
    auth_failed(&live.px, METRICS_RESP, NULL, 0);
    auth_failed(&live.px, METRICS_RESP, NULL, 0);
    auth_failed(&live.px, METRICS_ADMIN, NULL, 0);
    cr_expect_eq(atomic_load(&live.px.metrics.auth_failures[METRICS_HTTP]), 0);
    cr_expect_eq(atomic_load(&live.px.metrics.auth_failures[METRICS_RESP]), 2);
    cr_expect_eq(atomic_load(&live.px.metrics.auth_failures[METRICS_ADMIN]), 1);
}

/* httpd_refuse of a keep-alive GET without credentials on a conn of kind
 * k, answered as listener l; returns its response. */
static void
refused(enum proxy_kind k, enum metrics_listener l, struct http_resp *resp)
{
    static const char get[] = "GET /k HTTP/1.1\r\nHost: localhost\r\n\r\n";
    struct http_request req;
    int peer;
    struct conn *c = unit_conn(&live.px.kinds[k], &peer);

    cr_assert_eq(http_parse_request(get, sizeof(get) - 1, &req), HTTP_OK);
    cr_expect_eq(httpd_refuse(c, &req, l), 1, "refused, the conn stays open");
    cr_assert_eq(conn_flush(c), CONN_IO_OK);
    http_read_resp(peer, resp, 0);
    conn_destroy(c);
    close(peer);
}

Test(auth, a_401_carries_the_basic_challenge_on_both_http_ports)
{
    struct http_resp r;

    refused(PROXY_HTTP, METRICS_HTTP, &r);
    http_expect(&r, "HTTP/1.1 401 Unauthorized", "authentication required\n");
    http_expect_field(&r, "WWW-Authenticate", "Basic realm=\"redis-proxy\"");
    http_expect_field(&r, "Cache-Control", "no-store");
    cr_expect_not_null(strstr(r.head, AUTH_HTTP_CHALLENGE));
    refused(PROXY_ADMIN, METRICS_ADMIN, &r);
    http_expect(&r, "HTTP/1.1 401 Unauthorized", "authentication required\n");
    http_expect_field(&r, "WWW-Authenticate", "Basic realm=\"redis-proxy\"");
    cr_expect_eq(atomic_load(&live.px.metrics.auth_failures[METRICS_HTTP]), 1);
    cr_expect_eq(atomic_load(&live.px.metrics.auth_failures[METRICS_ADMIN]), 1);
    cr_expect_eq(atomic_load(&live.px.metrics.requests[METRICS_HTTP][2]), 1,
                 "counted as a 4xx");
}
