/*
 * test_http_resume: long request heads sent a byte at a time and parsed
 * through http_parse_request_resume(): a 16 KiB head in linear work, and
 * heads that cross a limit or turn bad far from their start failing at the
 * very byte a full parse fails at; and a resume given a stale last length.
 */
#include "http_helpers.h"

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
    c = built_get("16 KiB head", &t, "/k");
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
