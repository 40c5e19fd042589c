/*
 * test_http: the request-head parser on tables of (input, expected
 * result): valid and malformed request lines and header fields, framing,
 * and where the parsed fields point. Every case is parsed through
 * check_case() (http_helpers.h): every prefix, in full, resumed and split.
 * The limits are in test_http_limits.c, resumed parses of long heads in
 * test_http_resume.c, percent-decoding, UTF-8 and reason phrases in
 * test_http_text.c.
 */
#include "http_helpers.h"

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
