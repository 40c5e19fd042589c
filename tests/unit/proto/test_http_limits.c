/*
 * test_http_limits: the request-head parser at its limits (the target's
 * length, the number of header fields, the head's size, Content-Length
 * against the largest body): a request exactly at a limit parses, one a
 * byte or a field over it is refused as soon as that can be told. Each
 * input is also parsed through check_case() (http_helpers.h).
 */
#include "http_helpers.h"

/* check_case() on t's bytes as the case name, expecting rc. */
static void
check_text(const char *name, const struct text *t, int rc)
{
    struct parse_case c = built(name, t, rc);

    check_case(&c);
}

Test(http, accepts_target_of_exactly_max_length)
{
    struct text t = {0};
    struct parse_case c;
    char *path;

    target_request(&t, HTTP_MAX_TARGET);
    path = strndup(t.p + 4, HTTP_MAX_TARGET);
    c = built_get("target at limit", &t, path);
    check_case(&c);
    free(path);
    free(t.p);
}

Test(http, rejects_target_one_byte_over_limit_as_soon_as_seen)
{
    struct text t = {0};

    target_request(&t, HTTP_MAX_TARGET + 1);
    check_text("target over limit", &t, HTTP_ETARGET);
    expect_answer_at(&t, 5 + HTTP_MAX_TARGET, HTTP_ETARGET);
    free(t.p);
}

Test(http, rejects_overlong_target_even_with_bad_bytes_after_limit)
{
    struct text t = {0};

    adds(&t, "GET /");
    fill(&t, 'x', HTTP_MAX_TARGET - 1);
    adds(&t, "\r\n\r\n");
    check_text("control byte right after the limit", &t, HTTP_ETARGET);
    free(t.p);
}

/* A request with n header fields, Host first. */
static void
fields_request(struct text *t, int n)
{
    char line[32];
    int i;

    adds(t, "GET /k HTTP/1.1\r\nHost: h\r\n");
    for (i = 1; i < n; i++) {
        snprintf(line, sizeof(line), "X-%d: %d\r\n", i, i);
        adds(t, line);
    }
    adds(t, "\r\n");
}

Test(http, accepts_exactly_max_header_fields)
{
    struct text t = {0};
    struct parse_case c;

    fields_request(&t, HTTP_MAX_HEADERS);
    c = built_get("fields at limit", &t, "/k");
    check_case(&c);
    free(t.p);
}

Test(http, rejects_one_header_field_over_limit_before_head_ends)
{
    struct text t = {0};

    fields_request(&t, HTTP_MAX_HEADERS + 1);
    check_text("fields over limit", &t, HTTP_EHEADERS);
    /* the first byte of the extra field's line */
    expect_answer_at(&t, t.len - strlen("X-100: 100\r\n\r\n") + 1,
                     HTTP_EHEADERS);
    free(t.p);
}

Test(http, accepts_head_of_exactly_max_bytes)
{
    struct text t = {0};
    struct parse_case c;

    sized_request(&t, HTTP_MAX_HEAD);
    c = built_get("head at limit", &t, "/k");
    check_case(&c);
    free(t.p);
}

Test(http, rejects_head_one_byte_over_limit_once_limit_bytes_arrive)
{
    struct text t = {0};

    sized_request(&t, HTTP_MAX_HEAD + 1);
    check_text("head over limit", &t, HTTP_EHEADERS);
    expect_answer_at(&t, HTTP_MAX_HEAD, HTTP_EHEADERS);
    free(t.p);
}

Test(http, counts_leading_empty_lines_toward_head_limit)
{
    struct text t = {0};

    fill(&t, '\n', HTTP_MAX_HEAD - 10);
    adds(&t, "GET / HTTP/1.0\r\n\r\n");
    check_text("leading lines push head over", &t, HTTP_EHEADERS);
    free(t.p);
}

static void
content_length_case(long n, int rc)
{
    struct text t = {0};
    struct parse_case c;
    char line[64];

    snprintf(line, sizeof(line), "Content-Length: %ld\r\n\r\n", n);
    adds(&t, "POST /k HTTP/1.1\r\nHost: h\r\n");
    adds(&t, line);
    c = built_get(line, &t, "/k");
    c.rc = rc;
    c.method = HTTP_METHOD_OTHER;
    c.content_length = n;
    check_case(&c);
    free(t.p);
}

Test(http, accepts_content_length_at_max_body)
{
    content_length_case(HTTP_MAX_BODY, HTTP_OK);
}

Test(http, rejects_content_length_over_max_body)
{
    content_length_case(HTTP_MAX_BODY + 1L, HTTP_EBODY);
}
