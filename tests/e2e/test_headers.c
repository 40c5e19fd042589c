/*
 * End-to-end tests of the HTTP metadata the proxy adds: Date on every
 * response, ETag / Cache-Control / Age on values, conditional GETs with
 * If-None-Match (304), no-store on errors, CORS for the dashboard's origin,
 * and the logs (access lines, the startup line with the password masked,
 * the log level). Each test starts its own redis-server (fixture) and proxy.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_CAP (256 * 1024)

H_PAIR_SUITE(headers, 30);

static int
has_hdr(const struct h_resp *r, const char *name)
{
    char buf[8];

    return h_header(r, name, buf, sizeof(buf)) != NULL;
}

/* GET /path on a fresh connection with one extra header line (or ""). */
static void
get_with(int port, const char *path, const char *header, struct h_resp *r)
{
    char req[1024];
    int fd = h_conn(port);

    /* The Host a browser sends; CORS compares the Origin's host with it. */
    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", path, port,
             header);
    h_roundtrip(fd, req, r, 0);
    close(fd);
}

/* ---- Date ---- */

/* Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") strictly;
 * returns the time or -1. */
static time_t
imf_fixdate(const char *s)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    static const char shape[] = "aaa, 00 aaa 0000 00:00:00 GMT";
    char mon[4] = {0}, day[4] = {0};
    struct tm tm = {0};
    const char *m, *d;
    time_t t;
    size_t i;

    if (strlen(s) != sizeof(shape) - 1) {
        return -1;
    }
    for (i = 0; i < sizeof(shape) - 1; i++) {
        if ((shape[i] == '0' && !isdigit((unsigned char)s[i])) ||
            (shape[i] == 'a' && !isalpha((unsigned char)s[i])) ||
            (shape[i] != '0' && shape[i] != 'a' && shape[i] != s[i])) {
            return -1;
        }
    }
    memcpy(day, s, 3);
    memcpy(mon, s + 8, 3);
    m = strstr(months, mon);
    d = strstr(days, day);
    if (m == NULL || d == NULL || (m - months) % 3 != 0 ||
        (d - days) % 3 != 0) {
        return -1;
    }
    tm.tm_mday = atoi(s + 5);
    tm.tm_mon = (int)(m - months) / 3;
    tm.tm_year = atoi(s + 12) - 1900;
    tm.tm_hour = atoi(s + 17);
    tm.tm_min = atoi(s + 20);
    tm.tm_sec = atoi(s + 23);
    t = timegm(&tm);
    if (tm.tm_wday != (int)(d - days) / 3 || tm.tm_mday != atoi(s + 5)) {
        return -1; /* wrong weekday, or a day the month does not have */
    }
    return t;
}

static void
check_date(const struct h_resp *r, const char *what)
{
    char date[64];
    time_t t, now = time(NULL);

    cr_assert_not_null(h_header(r, "Date", date, sizeof(date)),
                       "%s: no Date header", what);
    t = imf_fixdate(date);
    cr_assert_neq(t, (time_t)-1, "%s: Date '%s' is not an IMF-fixdate", what,
                  date);
    cr_assert(t >= now - 3 && t <= now + 1, "%s: Date '%s' is %lld s off", what,
              date, (long long)(t - now));
}

Test(headers, imf_fixdate_parser_is_strict)
{
    cr_assert_eq(imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    cr_assert_eq(imf_fixdate("Mon, 06 Nov 1994 08:49:37 GMT"), -1);
    cr_assert_eq(imf_fixdate("Sun, 6 Nov 1994 08:49:37 GMT"), -1);
    cr_assert_eq(imf_fixdate("Sun, 06 Nov 1994 08:49:37 UTC"), -1);
    cr_assert_eq(imf_fixdate("Sunday, 06-Nov-94 08:49:37 GMT"), -1);
    cr_assert_eq(imf_fixdate("Sun Nov  6 08:49:37 1994"), -1);
}

/* A request sent on one keep-alive connection and the status it gets. */
struct exchange {
    const char *req;
    int status, head;
};

static void
check_dates(int fd, const struct exchange *x, size_t n)
{
    struct h_resp r = {0};
    size_t i;

    for (i = 0; i < n; i++) {
        h_roundtrip(fd, x[i].req, &r, x[i].head);
        cr_assert_eq(r.status, x[i].status, "%s", x[i].req);
        check_date(&r, x[i].req);
        h_resp_free(&r);
    }
}

Test(headers, date_on_every_response)
{
    static const struct exchange data[] = {
        {H_REQ("/k"), 200, 0},
        {"HEAD /k HTTP/1.1\r\nHost: localhost\r\n\r\n", 200, 1},
        {H_REQ("/missing"), 404, 0},
        {"DELETE /k HTTP/1.1\r\nHost: localhost\r\n\r\n", 405, 0},
    };
    static const struct exchange admin[] = {
        {H_REQ("/healthz"), 200, 0},
        {H_REQ("/metrics"), 200, 0},
        {H_REQ("/nope"), 404, 0},
        {"POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
         "0\r\n\r\n",
         405, 0},
    };
    struct h_resp r = {0};
    char req[256], etag[64];
    int fd, fd2;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nmax_clients = 1\n", .admin = 1));
    h_set(&redis, "k", "v");
    fd = h_conn(proxy.http_port);
    check_dates(fd, data, sizeof(data) / sizeof(data[0]));
    h_roundtrip(fd, H_REQ("/k"), &r, 0);
    cr_assert_not_null(h_header(&r, "ETag", etag, sizeof(etag)));
    h_resp_free(&r);
    snprintf(req, sizeof(req),
             "GET /k HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: %s\r\n\r\n",
             etag);
    h_roundtrip(fd, req, &r, 0);
    cr_assert_eq(r.status, 304);
    check_date(&r, "304");
    h_resp_free(&r);
    fd2 = h_conn(proxy.http_port); /* over max_clients */
    cr_assert_eq(h_read_resp(fd2, &r, 0, 3000), 0);
    cr_assert_eq(r.status, 503);
    check_date(&r, "503 over max_clients");
    h_resp_free(&r);
    close(fd2);
    h_roundtrip(fd, "GET  HTTP/1.1\r\n\r\n", &r, 0);
    cr_assert_eq(r.status, 400);
    check_date(&r, "400");
    h_resp_free(&r);
    close(fd);
    fd = h_conn(proxy.admin_port);
    check_dates(fd, admin, sizeof(admin) / sizeof(admin[0]));
    close(fd);
}

/* ---- ETag, Cache-Control, Age ---- */

/* 1 if s is a double-quoted string of 16 hex digits. */
static int
is_etag(const char *s)
{
    size_t i;

    if (strlen(s) != 18 || s[0] != '"' || s[17] != '"') {
        return 0;
    }
    for (i = 1; i < 17; i++) {
        if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* The number in "max-age=<n>", or -1. */
static long
max_age(const struct h_resp *r)
{
    const char *cc = h_hdr(r, "Cache-Control");
    char *end;
    long n;

    if (strncmp(cc, "max-age=", 8) != 0 || !isdigit((unsigned char)cc[8])) {
        return -1;
    }
    n = strtol(cc + 8, &end, 10);
    return *end == '\0' ? n : -1;
}

/* The Age header as a number, or -1 (absent or malformed). */
static long
age(const struct h_resp *r)
{
    char buf[32], *end;
    long n;

    if (h_header(r, "Age", buf, sizeof(buf)) == NULL ||
        !isdigit((unsigned char)buf[0])) {
        return -1;
    }
    n = strtol(buf, &end, 10);
    return *end == '\0' ? n : -1;
}

Test(headers, miss_and_hit_carry_etag_max_age_and_age)
{
    struct h_resp r = {0};
    char tag[64];
    long ma;
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY "ttl = 60s\n"));
    h_set(&redis, "k", "value");
    fd = h_conn(proxy.http_port);
    h_roundtrip(fd, H_REQ("/k"), &r, 0);
    cr_assert_str_eq(h_hdr(&r, "X-Cache"), "MISS");
    cr_assert(is_etag(h_hdr(&r, "ETag")), "ETag '%s'", h_hdr(&r, "ETag"));
    cr_assert_not_null(h_header(&r, "ETag", tag, sizeof(tag)));
    ma = max_age(&r);
    cr_assert(ma == 60 || ma == 59, "MISS Cache-Control '%s'",
              h_hdr(&r, "Cache-Control"));
    cr_assert(!has_hdr(&r, "Age"), "MISS has Age: %s", h_hdr(&r, "Age"));
    h_resp_free(&r);
    h_roundtrip(fd, H_REQ("/k"), &r, 0);
    cr_assert_str_eq(h_hdr(&r, "X-Cache"), "HIT");
    cr_assert_str_eq(h_hdr(&r, "ETag"), tag,
                     "ETag changed between MISS and HIT");
    cr_assert(age(&r) == 0 || age(&r) == 1, "HIT Age '%s'", h_hdr(&r, "Age"));
    ma = max_age(&r);
    cr_assert(ma >= 58 && ma <= 60, "HIT Cache-Control '%s'",
              h_hdr(&r, "Cache-Control"));
    h_resp_free(&r);
    close(fd);
}

Test(headers, age_grows_and_max_age_shrinks)
{
    struct h_resp r = {0};
    long a, ma;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY "ttl = 5s\n"));
    h_set(&redis, "k", "v");
    get_with(proxy.http_port, "/k", "", &r);
    cr_assert_str_eq(h_hdr(&r, "X-Cache"), "MISS");
    ma = max_age(&r);
    cr_assert(ma == 5 || ma == 4, "MISS Cache-Control '%s'",
              h_hdr(&r, "Cache-Control"));
    h_resp_free(&r);
    h_sleep_ms(1200);
    get_with(proxy.http_port, "/k", "", &r);
    cr_assert_str_eq(h_hdr(&r, "X-Cache"), "HIT");
    a = age(&r);
    ma = max_age(&r);
    cr_assert(a >= 1 && a <= 2, "Age '%s' after 1.2 s", h_hdr(&r, "Age"));
    cr_assert(ma >= 2 && ma <= 4, "Cache-Control '%s' after 1.2 s of 5 s",
              h_hdr(&r, "Cache-Control"));
    cr_assert_leq(a + ma, 5, "Age %ld + max-age %ld exceed the TTL", a, ma);
    h_resp_free(&r);
}

Test(headers, ttl_zero_is_no_cache)
{
    struct h_resp r = {0};
    int i;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY "ttl = 0\n"));
    h_set(&redis, "k", "v");
    for (i = 0; i < 2; i++) {
        get_with(proxy.http_port, "/k", "", &r);
        cr_assert_str_eq(h_hdr(&r, "X-Cache"), i == 0 ? "MISS" : "HIT");
        cr_assert_str_eq(h_hdr(&r, "Cache-Control"), "no-cache");
        cr_assert(is_etag(h_hdr(&r, "ETag")));
        h_resp_free(&r);
    }
}

Test(headers, cache_off_is_no_cache_and_has_no_age)
{
    struct h_resp r = {0};
    int i;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY "capacity = 0\n"));
    h_set(&redis, "k", "v");
    for (i = 0; i < 2; i++) {
        get_with(proxy.http_port, "/k", "", &r);
        cr_assert_str_eq(h_hdr(&r, "X-Cache"), "MISS");
        cr_assert_str_eq(h_hdr(&r, "Cache-Control"), "no-cache");
        cr_assert_str_eq(h_hdr(&r, "Age"), "(none)");
        cr_assert(is_etag(h_hdr(&r, "ETag")));
        h_resp_free(&r);
    }
}

Test(headers, etag_changes_with_the_value)
{
    struct h_resp r = {0};
    char tag[64];
    int64_t deadline;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = "[cache]\ntracking = on\n"));
    h_set(&redis, "k", "first value");
    get_with(proxy.http_port, "/k", "", &r);
    cr_assert_not_null(h_header(&r, "ETag", tag, sizeof(tag)));
    cr_assert(is_etag(tag), "ETag '%s'", tag);
    h_resp_free(&r);
    h_set(&redis, "k", "second value");
    deadline = h_now_ms() + 2000;
    for (;;) { /* the invalidation message arrives asynchronously */
        get_with(proxy.http_port, "/k", "", &r);
        if (strcmp(r.body, "second value") == 0 || h_now_ms() >= deadline) {
            break;
        }
        h_resp_free(&r);
        h_sleep_ms(20);
    }
    cr_assert_str_eq(r.body, "second value");
    cr_assert(is_etag(h_hdr(&r, "ETag")), "ETag '%s'", h_hdr(&r, "ETag"));
    cr_assert_str_neq(h_hdr(&r, "ETag"), tag, "same ETag for another value");
    h_resp_free(&r);
}

/* ---- If-None-Match ---- */

/* The ETag of path (asserted 200). */
static void
etag_of(const char *path, char *tag, size_t cap)
{
    struct h_resp r = {0};

    get_with(proxy.http_port, path, "", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(h_header(&r, "ETag", tag, cap));
    h_resp_free(&r);
}

/* 1 if nothing is readable on fd within ms. */
static int
quiet(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    return poll(&pfd, 1, ms) == 0;
}

Test(headers, not_modified_for_current_etag_keeps_connection)
{
    struct h_resp r = {0};
    char tag[64], req[256];
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY));
    h_set(&redis, "k", "hello");
    etag_of("/k", tag, sizeof(tag));
    snprintf(req, sizeof(req),
             "GET /k HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: %s\r\n\r\n",
             tag);
    fd = h_conn(proxy.http_port);
    h_roundtrip(fd, req, &r, 0);
    cr_assert_eq(r.status, 304, "If-None-Match current ETag: %d", r.status);
    cr_assert(!has_hdr(&r, "Content-Length"), "304 with Content-Length: %s",
              h_hdr(&r, "Content-Length"));
    cr_assert(!has_hdr(&r, "Content-Type"), "304 with Content-Type");
    cr_assert_str_eq(h_hdr(&r, "ETag"), tag);
    h_resp_free(&r);
    cr_assert(quiet(fd, 150), "bytes after the 304's head (a body?)");
    h_roundtrip(fd, H_REQ("/k"), &r, 0);
    cr_assert_eq(r.status, 200, "GET after a 304 on the same connection");
    cr_assert_str_eq(r.body, "hello");
    h_resp_free(&r);
    close(fd);
}

Test(headers, if_none_match_lists_weak_tags_and_star)
{
    /* prefix, whether the tag follows, suffix */
    static const struct {
        const char *pre;
        int tag;
        const char *post;
    } forms[] = {
        {"\"x\", ", 1, ""},
        {"W/", 1, ""},
        {"*", 0, ""},
        {"\"y\",W/", 1, " , \"z\""},
    };
    struct h_resp r = {0};
    char tag[64], line[256];
    size_t i;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY));
    h_set(&redis, "k", "hello");
    etag_of("/k", tag, sizeof(tag));
    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        snprintf(line, sizeof(line), "If-None-Match: %s%s%s\r\n", forms[i].pre,
                 forms[i].tag ? tag : "", forms[i].post);
        get_with(proxy.http_port, "/k", line, &r);
        cr_assert_eq(r.status, 304, "%s-> %d", line, r.status);
        cr_assert_eq(r.body_len, 0);
        h_resp_free(&r);
    }
}

Test(headers, if_none_match_other_tag_gets_the_value)
{
    struct h_resp r = {0};
    char tag[64], line[256];

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY));
    h_set(&redis, "k", "hello");
    etag_of("/k", tag, sizeof(tag));
    tag[5] = tag[5] == '0' ? '1' : '0'; /* a different tag */
    snprintf(line, sizeof(line), "If-None-Match: %s, \"abc\"\r\n", tag);
    get_with(proxy.http_port, "/k", line, &r);
    cr_assert_eq(r.status, 200, "%s-> %d", line, r.status);
    cr_assert_str_eq(r.body, "hello");
    h_resp_free(&r);
    /* a tag only a prefix of the real one does not match */
    etag_of("/k", tag, sizeof(tag));
    snprintf(line, sizeof(line), "If-None-Match: %.*s\"\r\n", 10, tag);
    get_with(proxy.http_port, "/k", line, &r);
    cr_assert_eq(r.status, 200, "%s-> %d", line, r.status);
    h_resp_free(&r);
}

/* ---- errors ---- */

Test(headers, errors_are_no_store)
{
    struct h_resp r = {0};

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "[redis]\ncommand_timeout = 300ms\n"));
    get_with(proxy.http_port, "/absent", "", &r);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(h_hdr(&r, "Cache-Control"), "no-store", "404");
    cr_assert(!has_hdr(&r, "ETag"), "404 with an ETag");
    h_resp_free(&r);
    cr_assert_eq(h_redis_cmd(&redis, "CLIENT PAUSE 1000 ALL"), 0);
    get_with(proxy.http_port, "/k1", "", &r);
    cr_assert_eq(r.status, 504, "GET while Redis is paused: %d", r.status);
    cr_assert_str_eq(h_hdr(&r, "Cache-Control"), "no-store", "504");
    h_resp_free(&r);
    h_redis_kill(&redis, 1);
    get_with(proxy.http_port, "/k2", "", &r);
    cr_assert_eq(r.status, 503, "GET with Redis gone: %d", r.status);
    cr_assert_str_eq(h_hdr(&r, "Cache-Control"), "no-store", "503");
    cr_assert_str_eq(h_hdr(&r, "Retry-After"), "1");
    h_resp_free(&r);
}

/* ---- CORS ---- */

static void
origin_get(const char *origin, struct h_resp *r)
{
    char line[256];

    snprintf(line, sizeof(line), "Origin: %s\r\n", origin);
    get_with(proxy.http_port, "/k", line, r);
    cr_assert_eq(r->status, 200);
}

Test(headers, cors_only_for_the_admin_origin)
{
    struct h_resp r = {0};
    char origin[64];

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY, .admin = 1));
    h_set(&redis, "k", "v");
    snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", proxy.admin_port);
    origin_get(origin, &r);
    cr_assert_str_eq(h_hdr(&r, "Access-Control-Allow-Origin"), origin);
    cr_assert_str_eq(h_hdr(&r, "Vary"), "Origin");
    h_resp_free(&r);
    snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", proxy.http_port);
    origin_get(origin, &r);
    cr_assert(!has_hdr(&r, "Access-Control-Allow-Origin"), "ACAO for %s: %s",
              origin, h_hdr(&r, "Access-Control-Allow-Origin"));
    h_resp_free(&r);
    snprintf(origin, sizeof(origin), "http://127.0.0.1:1%d", proxy.admin_port);
    origin_get(origin, &r);
    cr_assert(!has_hdr(&r, "Access-Control-Allow-Origin"), "ACAO for %s",
              origin);
    h_resp_free(&r);
    /* Another site on the admin port number is not this proxy's page. */
    snprintf(origin, sizeof(origin), "http://evil.example:%d",
             proxy.admin_port);
    origin_get(origin, &r);
    cr_assert(!has_hdr(&r, "Access-Control-Allow-Origin"), "ACAO for %s",
              origin);
    h_resp_free(&r);
    get_with(proxy.http_port, "/k", "", &r); /* no Origin, no CORS */
    cr_assert(!has_hdr(&r, "Access-Control-Allow-Origin"));
    h_resp_free(&r);
}

/* docs/protocols.md: "a request whose Origin is on the admin port gets
 * Access-Control-Allow-Origin" -- not only a 200: the dashboard's key
 * lookup must be able to read a 404 to say "not found". */
Test(headers, cors_applies_to_not_found_too)
{
    struct h_resp r = {0};
    char line[128];

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY, .admin = 1));
    snprintf(line, sizeof(line), "Origin: http://127.0.0.1:%d\r\n",
             proxy.admin_port);
    get_with(proxy.http_port, "/absent", line, &r);
    cr_assert_eq(r.status, 404);
    cr_assert(has_hdr(&r, "Access-Control-Allow-Origin"),
              "404 to the dashboard's origin has no CORS headers");
    cr_assert_str_eq(h_hdr(&r, "Vary"), "Origin");
    h_resp_free(&r);
}

Test(headers, no_cors_when_admin_is_off)
{
    struct h_resp r = {0};
    char origin[64];

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY));
    h_set(&redis, "k", "v");
    snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", proxy.http_port);
    origin_get(origin, &r);
    cr_assert(!has_hdr(&r, "Access-Control-Allow-Origin"), "ACAO for %s",
              origin);
    h_resp_free(&r);
    origin_get("http://127.0.0.1:0", &r);
    cr_assert(!has_hdr(&r, "Access-Control-Allow-Origin"), "ACAO for :0");
    h_resp_free(&r);
}

/* ---- logs ---- */

/* One hit, one miss, one 404 over HTTP and a RESP GET (a hit). */
static void
four_requests(void)
{
    struct h_resp r = {0};
    char reply[64] = "";
    int fd;

    h_set(&redis, "secretkey123", "hello");
    get_with(proxy.http_port, "/secretkey123", "", &r);
    cr_assert_str_eq(h_hdr(&r, "X-Cache"), "MISS");
    h_resp_free(&r);
    get_with(proxy.http_port, "/secretkey123", "", &r);
    cr_assert_str_eq(h_hdr(&r, "X-Cache"), "HIT");
    h_resp_free(&r);
    get_with(proxy.http_port, "/secretmissing", "", &r);
    cr_assert_eq(r.status, 404);
    h_resp_free(&r);
    fd = h_conn(proxy.resp_port);
    cr_assert_eq(h_sends(fd, "GET secretkey123\r\n"), 0);
    cr_assert_eq(h_recv_n(fd, reply, 11, 3000), 0, "RESP GET: '%s'", reply);
    cr_assert_str_eq(reply, "$5\r\nhello\r\n");
    close(fd);
}

static const char *const access_want[][2] = {
    {"proto=http method=GET status=200 cache=miss key_len=12 bytes=5 us=",
     "HTTP miss"},
    {"proto=http method=GET status=200 cache=hit key_len=12 bytes=5 us=",
     "HTTP hit"},
    {"proto=http method=GET status=404 cache=miss key_len=13 bytes=0 us=",
     "HTTP 404"},
    {"proto=resp method=GET status=200 cache=hit key_len=12 bytes=5 us=",
     "RESP hit"},
};

Test(headers, access_log_one_line_per_request)
{
    char *log = malloc(LOG_CAP), line[1024];
    int64_t deadline;
    int i;

    cr_assert_not_null(log);
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "[log]\naccess = on\n"));
    four_requests();
    deadline = h_now_ms() + 2000;
    do { /* the log is written by its own thread */
        h_sleep_ms(20);
        h_proxy_read_log(&proxy, log, LOG_CAP);
    } while (h_count_lines(log, "msg=\"access\"") < 4 && h_now_ms() < deadline);
    h_sleep_ms(100);
    h_proxy_read_log(&proxy, log, LOG_CAP);
    cr_assert_eq(h_count_lines(log, "msg=\"access\""), 4, "access lines:\n%s",
                 log);
    for (i = 0; i < 4; i++) {
        const char *l =
            h_nth_line(log, "msg=\"access\"", i, line, sizeof(line));
        const char *us = strstr(l, access_want[i][0]);

        cr_assert_not_null(us, "%s: line '%s', want '%s'", access_want[i][1], l,
                           access_want[i][0]);
        us += strlen(access_want[i][0]);
        cr_assert(isdigit((unsigned char)*us), "%s: us= '%s'",
                  access_want[i][1], us);
        cr_assert(strncmp(l, "ts=", 3) == 0 && strstr(l, " level=info ") != 0,
                  "%s", l);
    }
    cr_assert_null(strstr(log, "secretkey123"), "the key is in the log");
    cr_assert_null(strstr(log, "secretmissing"), "the key is in the log");
    free(log);
}

/* key_len is the key's length, i.e. after percent-decoding
 * (docs/operations.md: "key length (never the key)"), the same figure RESP
 * logs for the same key. */
Test(headers, access_log_key_len_is_the_decoded_length)
{
    char *log = malloc(LOG_CAP), line[1024];
    struct h_resp r = {0};
    int64_t deadline;

    cr_assert_not_null(log);
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "[log]\naccess = on\n"));
    cr_assert_eq(h_redis_cmd(&redis, "SET %s %s", "a/b c", "v"), 0);
    get_with(proxy.http_port, "/a%2Fb%20c", "", &r); /* key "a/b c" */
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "v");
    h_resp_free(&r);
    deadline = h_now_ms() + 2000;
    do {
        h_sleep_ms(20);
        h_proxy_read_log(&proxy, log, LOG_CAP);
    } while (h_count_lines(log, "msg=\"access\"") < 1 && h_now_ms() < deadline);
    h_nth_line(log, "msg=\"access\"", 0, line, sizeof(line));
    cr_assert_not_null(strstr(line, " key_len=5 "),
                       "key \"a/b c\" (5 bytes, sent as /a%%2Fb%%20c): %s",
                       line);
    free(log);
}

Test(headers, access_log_off_writes_no_access_lines)
{
    char *log = malloc(LOG_CAP);

    cr_assert_not_null(log);
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "[log]\naccess = off\n"));
    four_requests();
    cr_assert_eq(h_proxy_stop(&proxy, log, LOG_CAP), 0);
    cr_assert_not_null(strstr(log, "msg=\"stopped\""), "log not flushed:\n%s",
                       log);
    cr_assert_eq(h_count_lines(log, "msg=\"access\""), 0, "%s", log);
    cr_assert_null(strstr(log, "secretkey123"));
    free(log);
}

Test(headers, startup_line_has_config_and_masks_password)
{
    static const char *const keys[] = {
        "server.bind=127.0.0.1 ",
        "server.workers=",
        "server.max_clients=",
        "server.idle_timeout=",
        "server.request_timeout=",
        "redis.host=",
        "redis.db=",
        "redis.pool_size=",
        "redis.connect_timeout=",
        "redis.command_timeout=",
        "cache.ttl=",
        "cache.capacity=",
        "cache.tracking=",
        "cache.stale_if_error=",
        "admin.port=",
        "log.level=info",
        "log.access=",
    };
    const char *pw = "Pa55w0rdXyZ";
    char *log = malloc(LOG_CAP), want[64], line[2048];
    struct h_resp r = {0};
    size_t i;

    cr_assert_not_null(log);
    h_start_proxy(&proxy, &redis, NULL);
    cr_assert_eq(h_proxy_stop(&proxy, log, LOG_CAP), 0);
    h_nth_line(log, "msg=\"starting\"", 0, line, sizeof(line));
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        cr_assert_not_null(strstr(line, keys[i]), "no '%s' in '%s'", keys[i],
                           line);
    }
    cr_assert_not_null(strstr(line, " redis.password= "), "%s", line);
    snprintf(want, sizeof(want), " redis.port=%d ", redis.port);
    cr_assert_not_null(strstr(line, want), "no '%s' in '%s'", want, line);
    snprintf(want, sizeof(want), " server.http_port=%d ", proxy.http_port);
    cr_assert_not_null(strstr(line, want), "no '%s' in '%s'", want, line);

    h_set(&redis, "k", "authed");
    cr_assert_eq(h_redis_cmd(&redis, "CONFIG SET requirepass %s", pw), 0);
    snprintf(line, sizeof(line), TTL_ONLY "[redis]\npassword = %s\n", pw);
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = line));
    get_with(proxy.http_port, "/k", "", &r); /* proves AUTH was sent */
    cr_assert_eq(r.status, 200, "GET with a password: %d %s", r.status, r.body);
    cr_assert_str_eq(r.body, "authed");
    h_resp_free(&r);
    cr_assert_eq(h_proxy_stop(&proxy, log, LOG_CAP), 0);
    cr_assert_not_null(strstr(log, " redis.password=*** "), "%s", log);
    cr_assert_null(strstr(log, pw), "the password is in the log:\n%s", log);
    free(log);
}

Test(headers, log_level_error_hides_info_lines)
{
    char *log = malloc(LOG_CAP);
    struct h_resp r = {0};

    cr_assert_not_null(log);
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "[log]\nlevel = error\n"));
    h_set(&redis, "k", "v");
    get_with(proxy.http_port, "/k", "", &r);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    cr_assert_eq(h_proxy_stop(&proxy, log, LOG_CAP), 0);
    cr_assert_null(strstr(log, "msg=\"listening\""), "%s", log);
    cr_assert_null(strstr(log, "level=info"), "%s", log);
    /* ... while the same start at level info does log it */
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = TTL_ONLY "[log]\nlevel = info\n"));
    cr_assert_eq(h_proxy_stop(&proxy, log, LOG_CAP), 0);
    cr_assert_not_null(strstr(log, "msg=\"listening\""), "%s", log);
    free(log);
}
