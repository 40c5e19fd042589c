/*
 * test_http: the request-head parser, percent-decoding, reason phrases and
 * the UTF-8 check.
 *
 * Parser cases are tables of (input, expected result). Every case is also
 * re-fed as every prefix of its bytes, each copied to the very end of a heap
 * block so that a read past the given length trips AddressSanitizer: a
 * complete head must be HTTP_INCOMPLETE until its last byte and the same
 * request from then on; a bad one must be HTTP_INCOMPLETE until it becomes
 * its error, and stay that error. Each prefix is parsed twice more through
 * http_parse_request_resume(): resumed from the previous prefix (so a byte
 * at a time, the bytes at a new address each time), and split in two (this
 * prefix, then the whole input); both must answer as the full parse does.
 */
#include "proto/http.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parse_case {
    const char *name;
    const char *in;
    size_t len;
    int rc;
    /* checked only when rc is HTTP_OK */
    enum http_method method;
    const char *path;
    int minor;
    int keep_alive;
    int64_t content_length;
    size_t head_len;    /* 0: the whole input */
    const char *inm;    /* expected If-None-Match, NULL: absent */
    const char *origin; /* expected Origin, NULL: absent */
};

#define IN(s) .in = (s), .len = sizeof(s) - 1
#define GET11(path_) .method = HTTP_METHOD_GET, .path = (path_), .minor = 1
#define KA .keep_alive = 1
#define H11 " HTTP/1.1\r\nHost: example.com\r\n"

static int
within(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && p <= buf + len && n <= (size_t)(buf + len - p);
}

static void
expect_field(const struct parse_case *c, size_t k, const char *what,
             const char *got, size_t got_len, const char *want)
{
    if (want == NULL) {
        cr_assert_null(got, "%s: prefix %zu: %s should be absent", c->name, k,
                       what);
        return;
    }
    cr_assert_not_null(got, "%s: prefix %zu: %s missing", c->name, k, what);
    cr_assert(got_len == strlen(want) && memcmp(got, want, got_len) == 0,
              "%s: prefix %zu: %s is \"%.*s\", want \"%s\"", c->name, k, what,
              (int)got_len, got, want);
}

static void
expect_request(const struct parse_case *c, size_t k,
               const struct http_request *r, const char *buf)
{
    size_t head = c->head_len ? c->head_len : c->len;

    cr_assert_eq(r->method, c->method, "%s: method", c->name);
    cr_assert_eq(r->minor_version, c->minor, "%s: minor", c->name);
    cr_assert_eq(r->keep_alive, c->keep_alive, "%s: keep_alive", c->name);
    cr_assert_eq(r->content_length, c->content_length, "%s: content_length",
                 c->name);
    cr_assert_eq(r->head_len, head, "%s: prefix %zu: head_len %zu, want %zu",
                 c->name, k, r->head_len, head);
    expect_field(c, k, "path", r->path, r->path_len, c->path);
    expect_field(c, k, "If-None-Match", r->if_none_match, r->if_none_match_len,
                 c->inm);
    expect_field(c, k, "Origin", r->origin, r->origin_len, c->origin);
    cr_assert(within(r->method_name, r->method_len, buf, head) &&
                  within(r->target, r->target_len, buf, head) &&
                  within(r->path, r->path_len, r->target, r->target_len),
              "%s: pointers outside the buffer", c->name);
}

/* Every field of a resumed parse equals the full parse's (same bytes). */
static void
expect_same_request(const struct parse_case *c, size_t k, const char *how,
                    const struct http_request *got,
                    const struct http_request *want)
{
    cr_assert(
        got->method == want->method && got->method_name == want->method_name &&
            got->method_len == want->method_len &&
            got->target == want->target &&
            got->target_len == want->target_len && got->path == want->path &&
            got->path_len == want->path_len &&
            got->minor_version == want->minor_version &&
            got->keep_alive == want->keep_alive &&
            got->content_length == want->content_length &&
            got->if_none_match == want->if_none_match &&
            got->if_none_match_len == want->if_none_match_len &&
            got->origin == want->origin &&
            got->origin_len == want->origin_len && got->host == want->host &&
            got->host_len == want->host_len && got->head_len == want->head_len,
        "%s: prefix %zu: %s parse differs from the full parse", c->name, k,
        how);
}

/*
 * Parses every prefix of c->in, including the whole input: from the first
 * byte, resumed from the previous prefix, and as that prefix followed by
 * the rest of the input in one piece.
 */
static void
check_case(const struct parse_case *c)
{
    size_t head = c->head_len ? c->head_len : c->len, k, last = 0;
    char *block = malloc(c->len + 1), *whole = malloc(c->len + 1);
    struct http_request req, resumed, split, want;
    int rc, rc_resumed, want_rc, failed = 0;

    cr_assert(block != NULL && whole != NULL);
    memcpy(whole, c->in, c->len);
    want_rc = http_parse_request(whole, c->len, &want);
    for (k = 0; k <= c->len; k++) {
        char *buf = block + 1 + c->len - k;

        memcpy(buf, c->in, k);
        rc = http_parse_request(buf, k, &req);
        if (c->rc == HTTP_OK && k < head) {
            cr_assert_eq(rc, HTTP_INCOMPLETE, "%s: prefix %zu/%zu gave %d",
                         c->name, k, c->len, rc);
        } else if (c->rc == HTTP_OK) {
            cr_assert_eq(rc, HTTP_OK, "%s: prefix %zu/%zu gave %d", c->name, k,
                         c->len, rc);
            expect_request(c, k, &req, buf);
        } else if (failed || k == c->len) {
            cr_assert_eq(rc, c->rc, "%s: prefix %zu/%zu gave %d, want %d",
                         c->name, k, c->len, rc, c->rc);
        } else {
            cr_assert(rc == HTTP_INCOMPLETE || rc == c->rc,
                      "%s: prefix %zu/%zu gave %d, want %d or incomplete",
                      c->name, k, c->len, rc, c->rc);
            failed = rc == c->rc;
        }

        rc_resumed = http_parse_request_resume(buf, k, last, &resumed);
        cr_assert_eq(rc_resumed, rc,
                     "%s: prefix %zu/%zu resumed from %zu "
                     "gave %d, the full parse %d",
                     c->name, k, c->len, last, rc_resumed, rc);
        if (rc == HTTP_OK) {
            expect_same_request(c, k, "resumed", &resumed, &req);
        }
        if (rc_resumed == HTTP_INCOMPLETE) {
            last = k;
        }

        if (rc == HTTP_INCOMPLETE && k < c->len) {
            split = req;
            rc = http_parse_request_resume(whole, c->len, k, &split);
            cr_assert_eq(rc, want_rc, "%s: split at %zu/%zu gave %d, want %d",
                         c->name, k, c->len, rc, want_rc);
            if (rc == HTTP_OK) {
                expect_same_request(c, k, "split", &split, &want);
            }
        }
    }
    free(whole);
    free(block);
}

static void
check_table(const struct parse_case *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        check_case(&cases[i]);
    }
}

#define CHECK_TABLE(t) check_table((t), sizeof(t) / sizeof((t)[0]))

static const struct parse_case request_line_ok[] = {
    {"simple GET", IN("GET /key" H11 "\r\n"), HTTP_OK, GET11("/key"), KA},
    {"HEAD", IN("HEAD /k" H11 "\r\n"), HTTP_OK, .method = HTTP_METHOD_HEAD,
     .path = "/k", .minor = 1, KA},
    {"POST is another method", IN("POST /k" H11 "\r\n"), HTTP_OK,
     .method = HTTP_METHOD_OTHER, .path = "/k", .minor = 1, KA},
    {"PUT", IN("PUT /k" H11 "\r\n"), HTTP_OK, .method = HTTP_METHOD_PUT,
     .path = "/k", .minor = 1, KA},
    {"DELETE", IN("DELETE /k" H11 "\r\n"), HTTP_OK,
     .method = HTTP_METHOD_DELETE, .path = "/k", .minor = 1, KA},
    {"lower-case put is another method", IN("put /k" H11 "\r\n"), HTTP_OK,
     .method = HTTP_METHOD_OTHER, .path = "/k", .minor = 1, KA},
    {"lower-case get is another method", IN("get /k" H11 "\r\n"), HTTP_OK,
     .method = HTTP_METHOD_OTHER, .path = "/k", .minor = 1, KA},
    {"GETX is another method", IN("GETX /k" H11 "\r\n"), HTTP_OK,
     .method = HTTP_METHOD_OTHER, .path = "/k", .minor = 1, KA},
    {"method with every tchar", IN("!#$%&'*+-.^_`|~09AZaz /k" H11 "\r\n"),
     HTTP_OK, .method = HTTP_METHOD_OTHER, .path = "/k", .minor = 1, KA},
    {"root path", IN("GET /" H11 "\r\n"), HTTP_OK, GET11("/"), KA},
    {"query is not path", IN("GET /k?x=1&y" H11 "\r\n"), HTTP_OK, GET11("/k"),
     KA},
    {"empty query", IN("GET /?" H11 "\r\n"), HTTP_OK, GET11("/"), KA},
    {"fragment is not path", IN("GET /a#b" H11 "\r\n"), HTTP_OK, GET11("/a"),
     KA},
    {"fragment after query", IN("GET /a?b#c" H11 "\r\n"), HTTP_OK, GET11("/a"),
     KA},
    {"path stays percent-encoded", IN("GET /a%2Fb%20c" H11 "\r\n"), HTTP_OK,
     GET11("/a%2Fb%20c"), KA},
    {"query after a long path",
     IN("GET /0123456789abcdef?q=0123456789" H11 "\r\n"), HTTP_OK,
     GET11("/0123456789abcdef"), KA},
    {"fragment after a long path",
     IN("GET /0123456789abcdef#0123456789" H11 "\r\n"), HTTP_OK,
     GET11("/0123456789abcdef"), KA},
    {"double slash path", IN("GET //x" H11 "\r\n"), HTTP_OK, GET11("//x"), KA},
    {"high bytes in path", IN("GET /\xc3\xa9\xff" H11 "\r\n"), HTTP_OK,
     GET11("/\xc3\xa9\xff"), KA},
    {"absolute-form", IN("GET http://h:8080/p/q?x" H11 "\r\n"), HTTP_OK,
     GET11("/p/q"), KA},
    {"absolute-form https", IN("GET https://h/p" H11 "\r\n"), HTTP_OK,
     GET11("/p"), KA},
    {"absolute-form scheme any case", IN("GET HtTpS://h/p" H11 "\r\n"), HTTP_OK,
     GET11("/p"), KA},
    {"absolute-form without path", IN("GET http://h" H11 "\r\n"), HTTP_OK,
     GET11("/"), KA},
    {"absolute-form query without path", IN("GET http://h?x" H11 "\r\n"),
     HTTP_OK, GET11("/"), KA},
    {"absolute-form fragment without path", IN("GET http://h#f" H11 "\r\n"),
     HTTP_OK, GET11("/"), KA},
    {"HTTP/1.0 without Host closes", IN("GET /k HTTP/1.0\r\n\r\n"), HTTP_OK,
     .method = HTTP_METHOD_GET, .path = "/k", .minor = 0},
    {"HTTP/1.0 with Host", IN("GET /k HTTP/1.0\r\nHost: h\r\n\r\n"), HTTP_OK,
     .method = HTTP_METHOD_GET, .path = "/k", .minor = 0},
    {"bare LF line ends", IN("GET /k HTTP/1.1\nHost: h\n\n"), HTTP_OK,
     GET11("/k"), KA},
    {"mixed line ends", IN("GET /k HTTP/1.1\nHost: h\r\nA: b\n\r\n"), HTTP_OK,
     GET11("/k"), KA},
    {"leading CRLF skipped", IN("\r\n\r\nGET /k" H11 "\r\n"), HTTP_OK,
     GET11("/k"), KA},
    {"leading LF skipped", IN("\n\r\nGET /k" H11 "\n"), HTTP_OK, GET11("/k"),
     KA},
    {"pipelined: head ends at first request",
     IN("GET /a" H11 "\r\nGET /b" H11 "\r\n"), HTTP_OK, GET11("/a"), KA,
     .head_len = sizeof("GET /a" H11 "\r\n") - 1},
    {"pipelined: partial second request", IN("GET /a" H11 "\r\nGET /b HT"),
     HTTP_OK, GET11("/a"), KA, .head_len = sizeof("GET /a" H11 "\r\n") - 1},
    {"pipelined: garbage after head is not looked at",
     IN("GET /a" H11 "\r\n\x01\x02 junk"), HTTP_OK, GET11("/a"), KA,
     .head_len = sizeof("GET /a" H11 "\r\n") - 1},
    {"body is not part of the head",
     IN("POST /k" H11 "Content-Length: 5\r\n\r\nhello"), HTTP_OK,
     .method = HTTP_METHOD_OTHER, .path = "/k", .minor = 1, KA,
     .content_length = 5,
     .head_len = sizeof("POST /k" H11 "Content-Length: 5\r\n\r\n") - 1},
};

static const struct parse_case fields_ok[] = {
    {"HTTP/1.0 keep-alive",
     IN("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), HTTP_OK,
     .method = HTTP_METHOD_GET, .path = "/k", .minor = 0, KA},
    {"HTTP/1.0 Keep-Alive any case",
     IN("GET /k HTTP/1.0\r\nconnection: Keep-ALIVE\r\n\r\n"), HTTP_OK,
     .method = HTTP_METHOD_GET, .path = "/k", .minor = 0, KA},
    {"HTTP/1.0 keep-alive and close closes",
     IN("GET /k HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"), HTTP_OK,
     .method = HTTP_METHOD_GET, .path = "/k", .minor = 0},
    {"HTTP/1.0 other option closes",
     IN("GET /k HTTP/1.0\r\nConnection: upgrade\r\n\r\n"), HTTP_OK,
     .method = HTTP_METHOD_GET, .path = "/k", .minor = 0},
    {"HTTP/1.1 close", IN("GET /k" H11 "Connection: close\r\n\r\n"), HTTP_OK,
     GET11("/k")},
    {"HTTP/1.1 CLOSE any case", IN("GET /k" H11 "CONNECTION: CLOSE\r\n\r\n"),
     HTTP_OK, GET11("/k")},
    {"close in a list", IN("GET /k" H11 "Connection: te, close\r\n\r\n"),
     HTTP_OK, GET11("/k")},
    {"close among empty elements",
     IN("GET /k" H11 "Connection: , ,\tclose\t ,\r\n\r\n"), HTTP_OK,
     GET11("/k")},
    {"close in a second Connection line",
     IN("GET /k" H11 "Connection: upgrade\r\nConnection: close\r\n\r\n"),
     HTTP_OK, GET11("/k")},
    {"closed is not close", IN("GET /k" H11 "Connection: closed\r\n\r\n"),
     HTTP_OK, GET11("/k"), KA},
    {"HTTP/1.1 keep-alive", IN("GET /k" H11 "Connection: keep-alive\r\n\r\n"),
     HTTP_OK, GET11("/k"), KA},
    {"value OWS trimmed",
     IN("GET /k" H11 "If-None-Match: \t \"abc\" \t\r\n\r\n"), HTTP_OK,
     GET11("/k"), KA, .inm = "\"abc\""},
    {"Origin captured", IN("GET /k" H11 "Origin: https://a.example\r\n\r\n"),
     HTTP_OK, GET11("/k"), KA, .origin = "https://a.example"},
    {"first If-None-Match kept",
     IN("GET /k" H11 "if-none-match: \"a\"\r\nIf-None-Match: \"b\"\r\n\r\n"),
     HTTP_OK, GET11("/k"), KA, .inm = "\"a\""},
    {"empty If-None-Match", IN("GET /k" H11 "If-None-Match:\r\n\r\n"), HTTP_OK,
     GET11("/k"), KA, .inm = ""},
    {"header names any case",
     IN("GET /k HTTP/1.1\r\nhOsT: h\r\ncontent-LENGTH: 3\r\n\r\n"), HTTP_OK,
     GET11("/k"), KA, .content_length = 3},
    {"no space after colon", IN("GET /k HTTP/1.1\r\nHost:h\r\n\r\n"), HTTP_OK,
     GET11("/k"), KA},
    {"empty Host", IN("GET /k HTTP/1.1\r\nHost:\r\n\r\n"), HTTP_OK, GET11("/k"),
     KA},
    {"Content-Length 0", IN("GET /k" H11 "Content-Length: 0\r\n\r\n"), HTTP_OK,
     GET11("/k"), KA},
    {"Content-Length leading zeros",
     IN("GET /k" H11 "Content-Length: 0007\r\n\r\n"), HTTP_OK, GET11("/k"), KA,
     .content_length = 7},
    {"empty value", IN("GET /k" H11 "X-Empty:\r\nX-Blank: \t \r\n\r\n"),
     HTTP_OK, GET11("/k"), KA},
    {"obs-text and HTAB in a value",
     IN("GET /k" H11 "X-A: caf\xc3\xa9\tand\xff more\r\n\r\n"), HTTP_OK,
     GET11("/k"), KA},
    {"long value crossing words",
     IN("GET /k" H11 "X-Long: 0123456789abcdef0123456789\tabcdef!\r\n\r\n"),
     HTTP_OK, GET11("/k"), KA},
    {"name with every tchar", IN("GET /k" H11 "!#$%&'*+-.^_`|~09: v\r\n\r\n"),
     HTTP_OK, GET11("/k"), KA},
    {"look-alike names ignored",
     IN("GET /k" H11 "X-Transfer-Encoding: chunked\r\nContent-Lengths: x\r\n"
        "Hosts: a\r\nConnectio: close\r\n\r\n"),
     HTTP_OK, GET11("/k"), KA},
    {"value with colons", IN("GET /k" H11 "X-T: a:b: c\r\n\r\n"), HTTP_OK,
     GET11("/k"), KA},
};

static const struct parse_case request_line_bad[] = {
    {"empty method", IN(" /k" H11 "\r\n"), HTTP_EBAD},
    {"method with a non-token byte", IN("GE(T /k" H11 "\r\n"), HTTP_EBAD},
    {"method with a high byte", IN("G\xc3\xa9T /k" H11 "\r\n"), HTTP_EBAD},
    {"two spaces after method", IN("GET  /k" H11 "\r\n"), HTTP_EBAD},
    {"two spaces before version", IN("GET /k  HTTP/1.1\r\n\r\n"), HTTP_EBAD},
    {"HTAB as separator", IN("GET\t/k" H11 "\r\n"), HTTP_EBAD},
    {"HTTP/0.9 request line", IN("GET /k\r\n\r\n"), HTTP_EBAD},
    {"no target", IN("GET\r\n\r\n"), HTTP_EBAD},
    {"asterisk target", IN("GET *" H11 "\r\n"), HTTP_EBAD},
    {"relative target", IN("GET foo" H11 "\r\n"), HTTP_EBAD},
    {"other scheme", IN("GET ftp://h/k" H11 "\r\n"), HTTP_EBAD},
    {"scheme without slashes", IN("GET http:/k" H11 "\r\n"), HTTP_EBAD},
    {"empty authority", IN("GET http:///k" H11 "\r\n"), HTTP_EBAD},
    {"DEL in target",
     IN("GET /a\x7f"
        "b" H11 "\r\n"),
     HTTP_EBAD},
    {"NUL in target", IN("GET /a\0b" H11 "\r\n"), HTTP_EBAD},
    {"control byte in target", IN("GET /a\x01" H11 "\r\n"), HTTP_EBAD},
    {"lower-case version", IN("GET /k http/1.1\r\nHost: h\r\n\r\n"), HTTP_EBAD},
    {"version without minor", IN("GET /k HTTP/1\r\nHost: h\r\n\r\n"),
     HTTP_EBAD},
    {"two-digit major", IN("GET /k HTTP/10.0\r\nHost: h\r\n\r\n"), HTTP_EBAD},
    {"two-digit minor", IN("GET /k HTTP/1.10\r\nHost: h\r\n\r\n"), HTTP_EBAD},
    {"space after version", IN("GET /k HTTP/1.1 \r\nHost: h\r\n\r\n"),
     HTTP_EBAD},
    {"bare CR after version", IN("GET /k HTTP/1.1\rHost: h\r\n\r\n"),
     HTTP_EBAD},
    {"bare CR in a leading empty line", IN("\r\rGET /k" H11 "\r\n"), HTTP_EBAD},
    {"HTTP/2.0", IN("GET /k HTTP/2.0\r\nHost: h\r\n\r\n"), HTTP_EVERSION},
    {"HTTP/0.9 version", IN("GET /k HTTP/0.9\r\n\r\n"), HTTP_EVERSION},
    {"HTTP/1.2", IN("GET /k HTTP/1.2\r\nHost: h\r\n\r\n"), HTTP_EVERSION},
    {"HTTP/3.0 with bare LF", IN("GET /k HTTP/3.0\n\n"), HTTP_EVERSION},
};

static const struct parse_case fields_bad[] = {
    {"HTTP/1.1 without Host", IN("GET /k HTTP/1.1\r\nA: b\r\n\r\n"), HTTP_EBAD},
    {"HTTP/1.1 with two Host", IN("GET /k" H11 "Host: h\r\n\r\n"), HTTP_EBAD},
    {"HTTP/1.0 with two Host", IN("GET /k HTTP/1.0\r\nHost: a\r\nhost: a\r\n"),
     HTTP_EBAD},
    {"space before colon", IN("GET /k HTTP/1.1\r\nHost : h\r\n\r\n"),
     HTTP_EBAD},
    {"HTAB before colon", IN("GET /k" H11 "A\t: b\r\n\r\n"), HTTP_EBAD},
    {"field without colon", IN("GET /k" H11 "Host\r\n\r\n"), HTTP_EBAD},
    {"empty field name", IN("GET /k" H11 ": v\r\n\r\n"), HTTP_EBAD},
    {"non-token byte in name", IN("GET /k" H11 "A@B: v\r\n\r\n"), HTTP_EBAD},
    {"high byte in name", IN("GET /k" H11 "\xc3\xa9: v\r\n\r\n"), HTTP_EBAD},
    {"obs-fold with SP", IN("GET /k" H11 "A: b\r\n c\r\n\r\n"), HTTP_EBAD},
    {"obs-fold with HTAB", IN("GET /k" H11 "A: b\r\n\tc\r\n\r\n"), HTTP_EBAD},
    {"whitespace before first field", IN("GET /k HTTP/1.1\r\n Host: h\r\n\r\n"),
     HTTP_EBAD},
    {"NUL in value", IN("GET /k" H11 "A: b\0c\r\n\r\n"), HTTP_EBAD},
    {"bare CR in value", IN("GET /k" H11 "A: b\rc\r\n\r\n"), HTTP_EBAD},
    {"control byte in value", IN("GET /k" H11 "A: b\x01\r\n\r\n"), HTTP_EBAD},
    {"DEL in value", IN("GET /k" H11 "A: b\x7f\r\n\r\n"), HTTP_EBAD},
    {"control byte late in a long value",
     IN("GET /k" H11 "A: 0123456789abcdef0123\x1b\r\n\r\n"), HTTP_EBAD},
    {"bare CR ending the head", IN("GET /k" H11 "\rX"), HTTP_EBAD},
    {"Content-Length not a number",
     IN("GET /k" H11 "Content-Length: abc\r\n\r\n"), HTTP_EBAD},
    {"Content-Length empty", IN("GET /k" H11 "Content-Length:  \r\n\r\n"),
     HTTP_EBAD},
    {"Content-Length negative", IN("GET /k" H11 "Content-Length: -1\r\n\r\n"),
     HTTP_EBAD},
    {"Content-Length with plus", IN("GET /k" H11 "Content-Length: +1\r\n\r\n"),
     HTTP_EBAD},
    {"Content-Length hex", IN("GET /k" H11 "Content-Length: 0x10\r\n\r\n"),
     HTTP_EBAD},
    {"Content-Length inner space",
     IN("GET /k" H11 "Content-Length: 1 2\r\n\r\n"), HTTP_EBAD},
    {"Content-Length list", IN("GET /k" H11 "Content-Length: 1,1\r\n\r\n"),
     HTTP_EBAD},
    {"Content-Length repeated equal",
     IN("GET /k" H11 "Content-Length: 1\r\nContent-Length: 1\r\n\r\n"),
     HTTP_EBAD},
    {"Content-Length repeated different",
     IN("GET /k" H11 "Content-Length: 1\r\ncontent-length: 2\r\n\r\n"),
     HTTP_EBAD},
    {"Content-Length huge",
     IN("GET /k" H11 "Content-Length: "
        "99999999999999999999999999\r\n\r\n"),
     HTTP_EBODY},
    {"Transfer-Encoding alone",
     IN("POST /k" H11 "Transfer-Encoding: chunked\r\n\r\n"), HTTP_EFRAMING},
    {"Transfer-Encoding any value",
     IN("GET /k" H11 "transfer-encoding: identity\r\n\r\n"), HTTP_EFRAMING},
    {"Transfer-Encoding empty", IN("GET /k" H11 "Transfer-Encoding:\r\n\r\n"),
     HTTP_EFRAMING},
    {"Content-Length then Transfer-Encoding",
     IN("POST /k" H11
        "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
     HTTP_EFRAMING},
    {"Transfer-Encoding then Content-Length",
     IN("POST /k" H11
        "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
     HTTP_EFRAMING},
};

Test(http, parses_valid_request_lines)
{
    CHECK_TABLE(request_line_ok);
}

Test(http, parses_valid_header_fields)
{
    CHECK_TABLE(fields_ok);
}

Test(http, rejects_malformed_request_lines)
{
    CHECK_TABLE(request_line_bad);
}

Test(http, rejects_malformed_or_ambiguous_header_fields)
{
    CHECK_TABLE(fields_bad);
}

Test(http, rejects_content_length_with_transfer_encoding)
{
    static const char in[] = "POST /k HTTP/1.1\r\nHost: h\r\nContent-Length: "
                             "3\r\nTransfer-Encoding: chunked\r\n\r\nabc";
    struct http_request req;

    cr_assert_eq(http_parse_request(in, sizeof(in) - 1, &req), HTTP_EFRAMING);
}

Test(http, points_into_the_callers_buffer)
{
    static const char in[] = "GET http://h/a%2Fb?q HTTP/1.1\r\nHost: h\r\n"
                             "If-None-Match: \"e\"\r\nOrigin: o\r\n\r\n";
    struct http_request req;

    cr_assert_eq(http_parse_request(in, sizeof(in) - 1, &req), HTTP_OK);
    cr_assert_eq(req.method_name, in);
    cr_assert_eq(req.method_len, 3);
    cr_assert_eq(req.target, in + 4);
    cr_assert_eq(req.target_len, strlen("http://h/a%2Fb?q"));
    cr_assert_eq(req.path, in + 12);
    cr_assert_eq(req.path_len, strlen("/a%2Fb"));
    cr_assert_eq(req.if_none_match, strstr(in, "\"e\""));
    cr_assert_eq(req.origin, strstr(in, "o\r\n\r\n"));
}

/* A growable byte string for inputs built around the limits. */
struct text {
    char *p;
    size_t len;
};

static void
add(struct text *t, const char *s, size_t n)
{
    t->p = realloc(t->p, t->len + n + 1);
    cr_assert_not_null(t->p);
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static void
adds(struct text *t, const char *s)
{
    add(t, s, strlen(s));
}

static void
fill(struct text *t, char c, size_t n)
{
    t->p = realloc(t->p, t->len + n + 1);
    cr_assert_not_null(t->p);
    memset(t->p + t->len, c, n);
    t->len += n;
}

static struct parse_case
built(const char *name, const struct text *t, int rc)
{
    return (struct parse_case){
        .name = name, .in = t->p, .len = t->len, .rc = rc};
}

/* "GET /xxx... HTTP/1.1" with a target of target_len bytes. */
static void
target_request(struct text *t, size_t target_len)
{
    adds(t, "GET /");
    fill(t, 'x', target_len - 1);
    adds(t, " HTTP/1.1\r\nHost: h\r\n\r\n");
}

Test(http, accepts_target_of_exactly_max_length)
{
    struct text t = {0};
    struct parse_case c;

    target_request(&t, HTTP_MAX_TARGET);
    c = built("target at limit", &t, HTTP_OK);
    c.method = HTTP_METHOD_GET;
    c.minor = 1;
    c.keep_alive = 1;
    c.path = strndup(t.p + 4, HTTP_MAX_TARGET);
    check_case(&c);
    free((char *)c.path);
    free(t.p);
}

Test(http, rejects_target_one_byte_over_limit_as_soon_as_seen)
{
    struct text t = {0};
    struct parse_case c;
    struct http_request req;

    target_request(&t, HTTP_MAX_TARGET + 1);
    c = built("target over limit", &t, HTTP_ETARGET);
    check_case(&c);
    cr_assert_eq(http_parse_request(t.p, 4 + HTTP_MAX_TARGET, &req),
                 HTTP_INCOMPLETE);
    cr_assert_eq(http_parse_request(t.p, 5 + HTTP_MAX_TARGET, &req),
                 HTTP_ETARGET);
    free(t.p);
}

Test(http, rejects_overlong_target_even_with_bad_bytes_after_limit)
{
    struct text t = {0};
    struct parse_case c;

    adds(&t, "GET /");
    fill(&t, 'x', HTTP_MAX_TARGET - 1);
    adds(&t, "\r\n\r\n");
    c = built("control byte right after the limit", &t, HTTP_ETARGET);
    check_case(&c);
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
    c = built("fields at limit", &t, HTTP_OK);
    c.method = HTTP_METHOD_GET;
    c.path = "/k";
    c.minor = 1;
    c.keep_alive = 1;
    check_case(&c);
    free(t.p);
}

Test(http, rejects_one_header_field_over_limit_before_head_ends)
{
    struct text t = {0};
    struct parse_case c;
    struct http_request req;
    size_t first_extra;

    fields_request(&t, HTTP_MAX_HEADERS + 1);
    c = built("fields over limit", &t, HTTP_EHEADERS);
    check_case(&c);
    first_extra = t.len - strlen("X-100: 100\r\n\r\n");
    cr_assert_eq(http_parse_request(t.p, first_extra, &req), HTTP_INCOMPLETE);
    cr_assert_eq(http_parse_request(t.p, first_extra + 1, &req), HTTP_EHEADERS);
    free(t.p);
}

/* A request whose head is exactly head_len bytes, padded by one field. */
static void
sized_request(struct text *t, size_t head_len)
{
    static const char start[] = "GET /k HTTP/1.1\r\nHost: h\r\nX-Pad: ";

    adds(t, start);
    fill(t, 'p', head_len - (sizeof(start) - 1) - 4);
    adds(t, "\r\n\r\n");
    cr_assert_eq(t->len, head_len);
}

Test(http, accepts_head_of_exactly_max_bytes)
{
    struct text t = {0};
    struct parse_case c;

    sized_request(&t, HTTP_MAX_HEAD);
    c = built("head at limit", &t, HTTP_OK);
    c.method = HTTP_METHOD_GET;
    c.path = "/k";
    c.minor = 1;
    c.keep_alive = 1;
    check_case(&c);
    free(t.p);
}

Test(http, rejects_head_one_byte_over_limit_once_limit_bytes_arrive)
{
    struct text t = {0};
    struct parse_case c;
    struct http_request req;

    sized_request(&t, HTTP_MAX_HEAD + 1);
    c = built("head over limit", &t, HTTP_EHEADERS);
    check_case(&c);
    cr_assert_eq(http_parse_request(t.p, HTTP_MAX_HEAD - 1, &req),
                 HTTP_INCOMPLETE);
    cr_assert_eq(http_parse_request(t.p, HTTP_MAX_HEAD, &req), HTTP_EHEADERS);
    free(t.p);
}

Test(http, counts_leading_empty_lines_toward_head_limit)
{
    struct text t = {0};
    struct parse_case c;

    fill(&t, '\n', HTTP_MAX_HEAD - 10);
    adds(&t, "GET / HTTP/1.0\r\n\r\n");
    c = built("leading lines push head over", &t, HTTP_EHEADERS);
    check_case(&c);
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
    c = built(line, &t, rc);
    c.method = HTTP_METHOD_OTHER;
    c.path = "/k";
    c.minor = 1;
    c.keep_alive = 1;
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

/*
 * request_line, then n fields (Host first), in a head of exactly head_len
 * bytes, the fields after Host padded evenly. The padding mixes the bytes a
 * value may hold but a name, a method or a version may not (SP, HTAB, ':',
 * '@', high bytes), so the parser must know where it is to accept them.
 */
static void
padded_request(struct text *t, const char *request_line, int n, size_t head_len)
{
    static const char pad[] = "v a:l\tu@e\xc3\xa9 ";
    size_t lines = (size_t)n - 1, room, each, extra, i, j;
    char name[16];

    adds(t, request_line);
    adds(t, "Host: h\r\n");
    room = head_len - t->len - 2 - lines * strlen("X-000: \r\n");
    each = room / lines;
    extra = room % lines;
    for (i = 0; i < lines; i++) {
        snprintf(name, sizeof(name), "X-%03zu: ", i + 1);
        adds(t, name);
        for (j = 0; j < each + (i < extra); j++) {
            add(t, &pad[j % (sizeof(pad) - 1)], 1);
        }
        adds(t, "\r\n");
    }
    adds(t, "\r\n");
    cr_assert_eq(t->len, head_len);
}

#define REQUEST_LINE "GET /k HTTP/1.1\r\n"

/*
 * Feeds t->p a byte at a time, each prefix parsed in full (resume == 0) or
 * resumed from the previous one. Returns the first prefix length with an
 * answer other than HTTP_INCOMPLETE (0: none), that answer in *rc, the
 * request in *req and the bytes the parser examined in *work.
 */
static size_t
feed_bytewise(const struct text *t, int resume, int *rc,
              struct http_request *req, size_t *work)
{
    size_t k, last = 0, before = http_scan_bytes();

    *rc = HTTP_INCOMPLETE;
    for (k = 1; k <= t->len; k++) {
        *rc = resume ? http_parse_request_resume(t->p, k, last, req)
                     : http_parse_request(t->p, k, req);
        if (*rc != HTTP_INCOMPLETE) {
            break;
        }
        last = k;
    }
    *work = http_scan_bytes() - before;
    return k <= t->len ? k : 0;
}

/*
 * A 16 KiB head of 100 fields sent a byte at a time: every prefix but the
 * whole is HTTP_INCOMPLETE, the request is the one-shot parse's, and the
 * parser examines a bounded number of bytes per byte sent. Parsing every
 * prefix from its first byte, as httpd did before it resumed, examines
 * about len^2 / 2 bytes: 134,832,707 for this 16,383-byte head, against
 * 33,084 resumed (2.0 per byte: each byte once as it arrives, and once more
 * in the parse from the first byte that fills the request at the end).
 */
Test(http, resumes_a_head_sent_a_byte_at_a_time_in_linear_work)
{
    struct text t = {0};
    struct http_request once, req;
    struct parse_case c;
    size_t at, resumed, full;
    int rc;

    padded_request(&t, REQUEST_LINE, HTTP_MAX_HEADERS, HTTP_MAX_HEAD - 1);
    cr_assert_eq(http_parse_request(t.p, t.len, &once), HTTP_OK);
    cr_assert_eq(once.head_len, t.len);

    at = feed_bytewise(&t, 1, &rc, &req, &resumed);
    cr_assert_eq(at, t.len, "answered at prefix %zu of %zu", at, t.len);
    cr_assert_eq(rc, HTTP_OK);
    c = built("16 KiB head", &t, HTTP_OK);
    c.method = HTTP_METHOD_GET;
    c.path = "/k";
    c.minor = 1;
    c.keep_alive = 1;
    expect_same_request(&c, at, "byte-at-a-time", &req, &once);
    check_case(&c);
    cr_assert_lt(resumed, 8 * t.len, "resumed: %zu bytes examined for %zu",
                 resumed, t.len);

    at = feed_bytewise(&t, 0, &rc, &req, &full);
    cr_assert(at == t.len && rc == HTTP_OK);
    cr_assert_gt(full, t.len * t.len / 4, "full: %zu bytes examined for %zu",
                 full, t.len);
    cr_log_info("16 KiB head a byte at a time: %zu bytes examined resumed, "
                "%zu parsing every prefix from the first byte",
                resumed, full);
    free(t.p);
}

/*
 * Heads that cross a limit or turn bad far from their start, sent a byte at
 * a time: resumed, each gives the full parse's error at the same prefix
 * length (the first prefix at which the full parse fails), in linear work.
 */
struct late_case {
    const char *name;
    int rc;
    size_t at; /* prefix length of the first answer; 0: just check equal */
};

static void
check_late(const struct late_case *lc, const struct text *t)
{
    struct http_request req;
    size_t at_full, at_resumed, work_full, work_resumed;
    int rc_full, rc_resumed;

    at_full = feed_bytewise(t, 0, &rc_full, &req, &work_full);
    at_resumed = feed_bytewise(t, 1, &rc_resumed, &req, &work_resumed);
    cr_assert_eq(rc_full, lc->rc, "%s: full parse gave %d at %zu", lc->name,
                 rc_full, at_full);
    cr_assert(lc->at == 0 || at_full == lc->at,
              "%s: full parse failed at %zu, want %zu", lc->name, at_full,
              lc->at);
    cr_assert(rc_resumed == rc_full && at_resumed == at_full,
              "%s: resumed gave %d at %zu, full %d at %zu", lc->name,
              rc_resumed, at_resumed, rc_full, at_full);
    cr_assert_lt(work_resumed, 8 * at_full + 64,
                 "%s: %zu bytes examined for %zu", lc->name, work_resumed,
                 at_full);
}

Test(http, resumed_parse_fails_at_the_same_byte_as_a_full_parse)
{
    struct text t = {0};
    struct late_case lc;
    size_t line;

    target_request(&t, HTTP_MAX_TARGET + 1);
    lc = (struct late_case){"414", HTTP_ETARGET, 5 + HTTP_MAX_TARGET};
    check_late(&lc, &t);
    free(t.p), t = (struct text){0};

    sized_request(&t, HTTP_MAX_HEAD + 1);
    lc = (struct late_case){"431 by size", HTTP_EHEADERS, HTTP_MAX_HEAD};
    check_late(&lc, &t);
    free(t.p), t = (struct text){0};

    padded_request(&t, REQUEST_LINE, HTTP_MAX_HEADERS + 1, 12000);
    line = (size_t)(strstr(t.p, "X-100: ") - t.p);
    lc = (struct late_case){"431 by count", HTTP_EHEADERS, line + 1};
    check_late(&lc, &t);
    free(t.p), t = (struct text){0};

    fill(&t, '\n', HTTP_MAX_HEAD - 10);
    adds(&t, "GET / HTTP/1.0\r\n\r\n");
    lc = (struct late_case){"431 after empty lines", HTTP_EHEADERS,
                            HTTP_MAX_HEAD};
    check_late(&lc, &t);
    free(t.p), t = (struct text){0};
}

/* A padded 99-field head with bad[0..bad_len) inserted as its 60th line. */
static void
late_bad_line(struct text *t, const char *bad, size_t bad_len)
{
    struct text good = {0};
    size_t at;

    padded_request(&good, REQUEST_LINE, HTTP_MAX_HEADERS - 1,
                   HTTP_MAX_HEAD - 200);
    at = (size_t)(strstr(good.p, "X-060: ") - good.p);
    add(t, good.p, at);
    add(t, bad, bad_len);
    add(t, good.p + at, good.len - at);
    free(good.p);
}

#define LINE(s) (s), sizeof(s) - 1

Test(http, resumed_parse_finds_a_late_bad_byte_at_the_same_byte)
{
    static const struct {
        const char *name;
        const char *line;
        size_t len;
        int rc;
    } cases[] = {
        {"NUL in a value", LINE("X-Bad: abc\0def\r\n"), HTTP_EBAD},
        {"DEL in a value", LINE("X-Bad: abc\x7f\r\n"), HTTP_EBAD},
        {"bare CR in a value", LINE("X-Bad: abc\rdef\r\n"), HTTP_EBAD},
        {"'@' in a name", LINE("X-B@d: abc\r\n"), HTTP_EBAD},
        {"space before a colon", LINE("X-Bad : abc\r\n"), HTTP_EBAD},
        {"obs-fold", LINE(" folded\r\n"), HTTP_EBAD},
        {"second Host", LINE("host: again\r\n"), HTTP_EBAD},
        {"Content-Length not a number", LINE("Content-Length: 12a\r\n"),
         HTTP_EBAD},
        {"Content-Length over max body", LINE("Content-Length: 999999999\r\n"),
         HTTP_EBODY},
        {"Transfer-Encoding", LINE("Transfer-Encoding: chunked\r\n"),
         HTTP_EFRAMING},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct text t = {0};
        struct late_case lc = {cases[i].name, cases[i].rc, 0};

        late_bad_line(&t, cases[i].line, cases[i].len);
        check_late(&lc, &t);
        free(t.p);
    }
}

Test(http, resumed_parse_finds_a_bad_request_line_at_the_same_byte)
{
    static const struct {
        const char *name;
        const char *start;
        int rc;
        size_t at;
    } cases[] = {
        {"lower-case version", "GET /k http/1.1\r\n", HTTP_EBAD, 8},
        {"HTTP/2.0", "GET /k HTTP/2.0\r\n", HTTP_EVERSION, 17},
        {"two-digit minor", "GET /k HTTP/1.10\r\n", HTTP_EBAD, 16},
        {"relative target", "GET k/x HTTP/1.1\r\n", HTTP_EBAD, 8},
        {"method with a non-token byte", "GE(T /k HTTP/1.1\r\n", HTTP_EBAD, 3},
        {"bare CR in a leading empty line", "\r\n\r\n\r\rGET", HTTP_EBAD, 6},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct text t = {0};
        struct late_case lc = {cases[i].name, cases[i].rc, cases[i].at};

        padded_request(&t, cases[i].start, 50, 8000);
        check_late(&lc, &t);
        free(t.p);
    }
}

Test(http, resume_with_a_stale_last_len_parses_from_the_first_byte)
{
    static const char in[] = "GET /k HTTP/1.1\r\nHost: h\r\n\r\n";
    struct http_request want, req;

    cr_assert_eq(http_parse_request(in, sizeof(in) - 1, &want), HTTP_OK);
    /* req->progress says 10 bytes were seen, the caller says 12. */
    cr_assert_eq(http_parse_request(in, 10, &req), HTTP_INCOMPLETE);
    cr_assert_eq(http_parse_request_resume(in, sizeof(in) - 1, 12, &req),
                 HTTP_OK);
    cr_assert(req.head_len == want.head_len && req.host == want.host);
    /* After an answer there is nothing to resume. */
    cr_assert_eq(http_parse_request_resume(in, sizeof(in) - 1, 10, &req),
                 HTTP_OK);
    cr_assert_eq(req.path, want.path);
    /* No new bytes: the same answer. */
    cr_assert_eq(http_parse_request(in, 20, &req), HTTP_INCOMPLETE);
    cr_assert_eq(http_parse_request_resume(in, 20, 20, &req), HTTP_INCOMPLETE);
    cr_assert_eq(http_parse_request_resume(in, 21, 20, &req), HTTP_INCOMPLETE);
    cr_assert_eq(http_parse_request_resume(in, sizeof(in) - 1, 21, &req),
                 HTTP_OK);
    cr_assert_eq(req.head_len, want.head_len);
}

struct decode_case {
    const char *in;
    size_t len;
    long rc;
    const char *out;
    size_t out_len;
};

#define DEC(in_, out_)                                                         \
    {                                                                          \
        (in_), sizeof(in_) - 1, sizeof(out_) - 1, (out_), sizeof(out_) - 1     \
    }
#define DEC_BAD(in_)                                                           \
    {                                                                          \
        (in_), sizeof(in_) - 1, -1, NULL, 0                                    \
    }

Test(http, percent_decodes_exactly_once)
{
    static const struct decode_case cases[] = {
        DEC("", ""),
        DEC("plain", "plain"),
        DEC("a%2Fb", "a/b"),
        DEC("a%2fb", "a/b"),
        DEC("%20", " "),
        DEC("a+b", "a+b"),
        DEC("%00", "\0"),
        DEC("x%00y", "x\0y"),
        DEC("%C3%A9", "\xc3\xa9"),
        DEC("%25", "%"),
        DEC("%2541", "%41"),
        DEC("%41%42%43", "ABC"),
        DEC("ab%2F%2Fcd%2Fe", "ab//cd/e"),
        DEC("%ff", "\xff"),
        DEC_BAD("%4"),
        DEC_BAD("%zz"),
        DEC_BAD("%"),
        DEC_BAD("abc%"),
        DEC_BAD("%g0"),
        DEC_BAD("ok%41%4"),
        DEC_BAD("%-1"),
    };
    char buf[64];
    size_t i;
    long rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(buf, cases[i].in, cases[i].len);
        rc = http_percent_decode(buf, cases[i].len);
        cr_assert_eq(rc, cases[i].rc, "\"%s\": got %ld, want %ld", cases[i].in,
                     rc, cases[i].rc);
        if (rc >= 0) {
            cr_assert(memcmp(buf, cases[i].out, cases[i].out_len) == 0,
                      "\"%s\": wrong bytes", cases[i].in);
        }
    }
}

struct utf8_case {
    const char *name;
    const char *in;
    size_t len;
    int valid;
};

#define U8(name_, in_, valid_)                                                 \
    {                                                                          \
        (name_), (in_), sizeof(in_) - 1, (valid_)                              \
    }

Test(http, checks_utf8_strictly)
{
    static const struct utf8_case cases[] = {
        U8("empty", "", 1),
        U8("ASCII", "hello, world", 1),
        U8("NUL is ASCII", "a\0b", 1),
        U8("two-byte", "caf\xc3\xa9", 1),
        U8("three-byte", "\xe2\x82\xac", 1),
        U8("four-byte", "\xf0\x9f\x98\x80", 1),
        U8("lowest three-byte", "\xe0\xa0\x80", 1),
        U8("highest code point", "\xf4\x8f\xbf\xbf", 1),
        U8("last before surrogates", "\xed\x9f\xbf", 1),
        U8("first after surrogates", "\xee\x80\x80", 1),
        U8("multi-byte after long ASCII", "0123456789abcdef\xc3\xa9xyz", 1),
        U8("overlong two-byte C0", "\xc0\xaf", 0),
        U8("overlong two-byte C1", "\xc1\xbf", 0),
        U8("overlong three-byte", "\xe0\x80\xaf", 0),
        U8("overlong four-byte", "\xf0\x80\x80\xaf", 0),
        U8("high surrogate", "\xed\xa0\x80", 0),
        U8("low surrogate", "\xed\xbf\xbf", 0),
        U8("above U+10FFFF", "\xf4\x90\x80\x80", 0),
        U8("F5 lead", "\xf5\x80\x80\x80", 0),
        U8("FF byte", "a\xff", 0),
        U8("lone continuation", "a\x80", 0),
        U8("truncated two-byte", "ab\xc3", 0),
        U8("truncated three-byte", "\xe2\x82", 0),
        U8("truncated four-byte", "\xf0\x9f\x98", 0),
        U8("bad second continuation", "\xe2\x82\x41", 0),
        U8("invalid after long ASCII", "0123456789abcdef\xc3", 0),
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(http_is_utf8(cases[i].in, cases[i].len), cases[i].valid,
                     "%s", cases[i].name);
    }
}

Test(http, gives_reason_phrases_for_every_status_served)
{
    static const int served[] = {200, 304, 400, 404, 405, 408, 409, 413,
                                 414, 431, 500, 501, 503, 504, 505};
    size_t i;

    for (i = 0; i < sizeof(served) / sizeof(served[0]); i++) {
        cr_assert_neq(http_reason(served[i])[0], '\0', "%d", served[i]);
    }
    cr_assert_str_eq(http_reason(200), "OK");
    cr_assert_str_eq(http_reason(404), "Not Found");
    cr_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
    cr_assert_str_eq(http_reason(505), "HTTP Version Not Supported");
    cr_assert_str_eq(http_reason(299), "");
    cr_assert_str_eq(http_reason(-1), "");
}
