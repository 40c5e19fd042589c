/*
 * Unit tests of serve/http_conn, the request loop and response writer of
 * both HTTP listeners, through its header with routes of the test's own:
 * admit refuses /refuse (403), route answers each request with its path
 * (and a PUT's body), pends /pend on a record (http_conn_pend) that the
 * test completes from another thread as Redis's reply would, and closes
 * after /close; finish answers from the record. The test is the conn's
 * worker: it sends bytes on the socketpair, reads them into the conn,
 * runs http_conn_process and reads what came out, byte for byte:
 * pipelined requests answered in order, a pending request holding back
 * the ones after it until its record is done (or overdue), parse errors
 * (400, 414, 431, 505, 413) answered with the conn closed, bodies skipped
 * or held, 100 Continue, refused heads, HTTP/1.0, the 408 and 503 hooks,
 * and responses from cache entries and static bodies.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <string.h>

#include "cache/cache.h"
#include "proto/http.h"
#include "serve/fetch.h"
#include "serve/http_conn.h"
#include "serve/outcome.h"
#include "serve/rcmd.h"

#include "live_helpers.h"

static struct conn *c;
static int peer;
static struct rcmd *pending; /* the record /pend waits for */
static int finished;         /* finish() calls */

static void
setup(void)
{
    live_defaults();
    live_services();
    c = unit_conn(&live.px.kinds[PROXY_HTTP], &peer);
}

static void
teardown(void)
{
    conn_destroy(c);
    close(peer);
    live_down();
}

TestSuite(http_conn, .init = setup, .fini = teardown, .timeout = 30);

/* ---- the test's routes ---- */

static int
admit(struct conn *cn, const struct http_request *req)
{
    if (req->path_len == 7 && memcmp(req->path, "/refuse", 7) == 0) {
        http_conn_text(cn, req, 403, "", "refused", req->keep_alive);
        return -1;
    }
    return 0;
}

static int
route(struct conn *cn, const struct http_request *req, const char *body)
{
    char msg[1024];

    if (req->path_len == 5 && memcmp(req->path, "/pend", 5) == 0) {
        pending = rcmd_new(&live.px, cn, RCMD_FORWARD, 0);
        cr_assert_not_null(pending);
        pending->deadline_ms = util_now_ms() + 60000;
        http_conn_pend(cn, pending);
        return HTTP_CONN_PENDING;
    }
    snprintf(msg, sizeof(msg), "%.*s%s%.*s", (int)req->path_len, req->path,
             body != NULL ? " body=" : "",
             body != NULL ? (int)req->content_length : 0,
             body != NULL ? body : "");
    if (http_conn_text(cn, req, 200, "", msg, req->keep_alive) < 0) {
        return -1;
    }
    if (req->path_len == 6 && memcmp(req->path, "/close", 6) == 0) {
        return -1;
    }
    return req->keep_alive ? 0 : -1;
}

static int
finish(struct conn *cn, const struct http_request *req, struct rcmd *r,
       int timed_out)
{
    finished++;
    cr_expect_eq(r, pending);
    return http_conn_text(cn, req, timed_out ? 504 : 200, "",
                          timed_out ? "overdue" : "done", req->keep_alive) < 0
               ? -1
               : 0;
}

static size_t
body_max(struct conn *cn, const struct http_request *req)
{
    (void)cn;
    return req->method == HTTP_METHOD_PUT ? 100 : 0;
}

static const struct http_routes routes = {
    .admit = admit, .route = route, .finish = finish, .body_max = body_max};

/* ---- driving the conn ---- */

/* Sends s to the conn, reads it in and serves it; returns
 * http_conn_process's answer, and flushes what it wrote. */
static int
serve(const char *s)
{
    int rc;

    if (s != NULL && *s != '\0') {
        client_send(peer, s);
        while (conn_input_waiting(c) && conn_read(c) > 0) {
        }
    }
    rc = http_conn_process(c, &routes, METRICS_HTTP);
    cr_assert_neq(conn_flush(c), CONN_IO_ERR);
    return rc;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: localhost\r\n\r\n"

/* The next response is status_line with body. */
static void
expect_resp(const char *status_line, const char *body)
{
    struct http_resp r;

    http_read_resp(peer, &r, 0);
    http_expect(&r, status_line, body);
}

/* Nothing more has been written to the client. */
static void
expect_nothing_yet(void)
{
    char b[64];
    size_t n = client_read_for(peer, b, sizeof(b), 0, NULL);

    cr_expect_eq(n, 0, "unexpected output: '%.*s'", (int)n, b);
}

/* Completes the pending record on a thread of its own, as a pipeline's
 * runner completes a record. */
static void *
complete_on_thread(void *arg)
{
    rcmd_complete(arg);
    return NULL;
}

static void
complete_pending(void)
{
    pthread_t t;

    cr_assert_not_null(pending);
    pending->status = OUTCOME_OK;
    cr_assert_eq(pthread_create(&t, NULL, complete_on_thread, pending), 0);
    pthread_join(t, NULL);
}

Test(http_conn, pipelined_requests_are_answered_in_order)
{
    cr_expect_eq(serve(GET("/a") GET("/b") GET("/c")), 0);
    expect_resp("HTTP/1.1 200 OK", "/a\n");
    expect_resp("HTTP/1.1 200 OK", "/b\n");
    expect_resp("HTTP/1.1 200 OK", "/c\n");
    cr_expect_eq(c->rpos, c->rlen, "every request consumed");
    cr_expect_eq(c->req_start_ms, 0);
    cr_expect_eq(atomic_load(&live.px.metrics.requests[METRICS_HTTP][0]), 0,
                 "the routes account, not the loop");
}

Test(http_conn, a_long_text_body_is_cut_and_still_ends_with_its_newline)
{
    char path[401], req[600], want[400];

    memset(path, 'p', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    snprintf(req, sizeof(req), GET("/%s"), path);
    /* 319 bytes of the message ("/ppp..."), then the newline. */
    snprintf(want, sizeof(want), "/%.318s\n", path);
    cr_expect_eq(serve(req), 0);
    expect_resp("HTTP/1.1 200 OK", want);
}

Test(http_conn, a_pending_request_holds_back_the_next_until_its_record_is_done)
{
    cr_expect_eq(serve(GET("/a") GET("/pend") GET("/b")), 0);
    expect_resp("HTTP/1.1 200 OK", "/a\n");
    expect_nothing_yet();
    cr_expect(c->stalled && c->waiting, "the conn does not wait");
    cr_expect_eq(c->wait_deadline_ms, pending->deadline_ms);
    cr_expect_eq(serve(NULL), 0, "served again before the reply came");
    expect_nothing_yet();
    cr_expect_eq(finished, 0);

    complete_pending();
    cr_expect_eq(serve(NULL), 0);
    expect_resp("HTTP/1.1 200 OK", "done\n");
    expect_resp("HTTP/1.1 200 OK", "/b\n");
    cr_expect_eq(finished, 1);
    cr_expect(!c->stalled && !c->waiting);
    cr_expect_eq(atomic_load(&live.px.records), 0, "the record was freed");
}

Test(http_conn, a_pending_request_past_its_deadline_is_answered_as_overdue)
{
    cr_expect_eq(serve(GET("/pend") GET("/b")), 0);
    expect_nothing_yet();
    pending->deadline_ms = util_now_ms() - 1;
    cr_expect_eq(serve(NULL), 0);
    expect_resp("HTTP/1.1 504 Gateway Timeout", "overdue\n");
    expect_resp("HTTP/1.1 200 OK", "/b\n");
    /* Abandoned to its completer, which frees it when Redis answers. */
    cr_expect_eq(atomic_load(&live.px.records), 1);
    complete_pending();
    cr_expect_eq(atomic_load(&live.px.records), 0);
}

Test(http_conn, releasing_a_conn_abandons_its_pending_record)
{
    cr_expect_eq(serve(GET("/pend")), 0);
    http_conn_release(c);
    cr_expect_null(c->proto);
    cr_expect_eq(atomic_load(&live.px.records), 1);
    complete_pending();
    cr_expect_eq(atomic_load(&live.px.records), 0);
    cr_expect_eq(finished, 0);
}

/* req is answered status_line with body, then the conn closes: one 4xx
 * (or 5xx) counted. */
static void
expect_parse_error(const char *req, const char *status_line, const char *body)
{
    cr_expect_eq(serve(req), -1);
    {
        struct http_resp r;

        http_read_resp(peer, &r, 0);
        http_expect(&r, status_line, body);
        http_expect_field(&r, "Connection", "close");
        http_expect_field(&r, "Cache-Control", "no-store");
    }
}

Test(http_conn, a_malformed_request_is_a_400_and_closes)
{
    struct http_resp r;

    cr_expect_eq(serve(GET("/a") "GET /b HTTP/1.1\r\nHost: x\r\nbad line\r\n"
                                 "\r\n" GET("/c")),
                 -1);
    expect_resp("HTTP/1.1 200 OK", "/a\n");
    http_read_resp(peer, &r, 0);
    http_expect(&r, "HTTP/1.1 400 Bad Request", "bad request\n");
    http_expect_field(&r, "Connection", "close");
    expect_nothing_yet();
    cr_expect_eq(atomic_load(&live.px.metrics.requests[METRICS_HTTP][2]), 1);
}

Test(http_conn, a_request_target_over_the_limit_is_a_414)
{
    static char req[HTTP_MAX_TARGET + 64];
    int n = snprintf(req, sizeof(req), "GET /");

    memset(req + n, 'k', HTTP_MAX_TARGET);
    snprintf(req + n + HTTP_MAX_TARGET,
             sizeof(req) - (size_t)n - HTTP_MAX_TARGET,
             " HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_parse_error(req, "HTTP/1.1 414 URI Too Long",
                       "request-target too long\n");
}

Test(http_conn, too_many_header_fields_are_a_431)
{
    static char req[8192];
    size_t n =
        (size_t)snprintf(req, sizeof(req), "GET /a HTTP/1.1\r\nHost: x\r\n");

    for (int i = 0; i < HTTP_MAX_HEADERS; i++) {
        n += (size_t)snprintf(req + n, sizeof(req) - n, "X-%d: v\r\n", i);
    }
    snprintf(req + n, sizeof(req) - n, "\r\n");
    expect_parse_error(req, "HTTP/1.1 431 Request Header Fields Too Large",
                       "request header fields too large\n");
}

Test(http_conn, another_http_version_is_a_505)
{
    expect_parse_error("GET /a HTTP/2.0\r\nHost: x\r\n\r\n",
                       "HTTP/1.1 505 HTTP Version Not Supported",
                       "HTTP version not supported\n");
    cr_expect_eq(atomic_load(&live.px.metrics.requests[METRICS_HTTP][3]), 1);
}

Test(http_conn, a_body_over_the_routes_limit_is_a_413)
{
    expect_parse_error("PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n"
                       "\r\n",
                       "HTTP/1.1 413 Content Too Large",
                       "request body too large\n");
}

Test(http_conn, a_body_nobody_takes_is_skipped_up_to_its_limit)
{
    cr_expect_eq(serve("GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                       "\r\n01234"),
                 0);
    expect_resp("HTTP/1.1 200 OK", "/a\n");
    cr_expect_eq(c->discard, 5, "the rest of the body is still to come");
    cr_expect_eq(serve("56789" GET("/b")), 0);
    expect_resp("HTTP/1.1 200 OK", "/b\n");
    cr_expect_eq(c->discard, 0);

    expect_parse_error("GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 65537"
                       "\r\n\r\n",
                       "HTTP/1.1 413 Content Too Large",
                       "request body too large\n");
}

Test(http_conn, a_body_the_route_takes_is_held_whole)
{
    cr_expect_eq(serve("PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
                       "\r\nhel"),
                 0);
    expect_nothing_yet();
    cr_expect_neq(c->req_start_ms, 0, "a partial request is timed");
    cr_expect_eq(serve("lo!" GET("/b")), 0);
    expect_resp("HTTP/1.1 200 OK", "/k body=hello!\n");
    expect_resp("HTTP/1.1 200 OK", "/b\n");
}

Test(http_conn, expect_100_continue_is_answered_before_the_body)
{
    cr_expect_eq(serve("PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                       "Expect: 100-continue\r\n\r\n"),
                 0);
    client_expect(peer, "HTTP/1.1 100 Continue\r\n\r\n");
    cr_expect_eq(serve(NULL), 0);
    expect_nothing_yet(); /* once */
    cr_expect_eq(serve("ok"), 0);
    expect_resp("HTTP/1.1 200 OK", "/k body=ok\n");
}

Test(http_conn, a_refused_head_is_answered_and_its_body_skipped)
{
    cr_expect_eq(serve("GET /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 3"
                       "\r\n\r\nabc" GET("/b")),
                 0);
    expect_resp("HTTP/1.1 403 Forbidden", "refused\n");
    expect_resp("HTTP/1.1 200 OK", "/b\n");
}

Test(http_conn, http_1_0_closes_after_its_answer_unless_kept_alive)
{
    struct http_resp r;

    cr_expect_eq(serve("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
    http_read_resp(peer, &r, 0);
    http_expect(&r, "HTTP/1.1 200 OK", "/a\n");
    http_expect_field(&r, "Connection", "keep-alive");
    cr_expect_eq(serve("GET /b HTTP/1.0\r\n\r\nGET /c HTTP/1.0\r\n\r\n"), -1);
    http_read_resp(peer, &r, 0);
    http_expect(&r, "HTTP/1.1 200 OK", "/b\n");
    http_expect_field(&r, "Connection", "close");
    expect_nothing_yet();
}

Test(http_conn, a_route_that_closes_stops_the_loop)
{
    cr_expect_eq(serve(GET("/close") GET("/b")), -1);
    expect_resp("HTTP/1.1 200 OK", "/close\n");
    expect_nothing_yet();
}

Test(http_conn, a_partial_request_at_its_deadline_gets_a_408)
{
    http_conn_expired(c); /* idle: nothing to say */
    expect_nothing_yet();
    cr_expect_eq(serve("GET /a HTTP/1.1\r\nHo"), 0);
    cr_expect_neq(c->req_start_ms, 0);
    http_conn_expired(c);
    {
        struct http_resp r;

        http_read_resp(peer, &r, 0);
        http_expect(&r, "HTTP/1.1 408 Request Timeout", "request timeout\n");
        http_expect_field(&r, "Connection", "close");
    }
}

Test(http_conn, the_busy_answer_is_a_503_that_closes)
{
    char buf[512];
    size_t n = http_conn_busy(buf, sizeof(buf));
    const char *body = "max number of clients reached\n";

    cr_assert_gt(n, 0);
    cr_expect(n > strlen(body) &&
                  memcmp(buf + n - strlen(body), body, strlen(body)) == 0,
              "%.*s", (int)n, buf);
    cr_expect(memcmp(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
    cr_expect_not_null(memmem(buf, n, "Retry-After: 1\r\n", 16));
    cr_expect_not_null(memmem(buf, n, "Connection: close\r\n", 19));
    cr_expect_eq(http_conn_busy(buf, 40), 0, "does not fit");
}

Test(http_conn, an_entrys_value_and_a_static_body_are_sent_whole)
{
    static char big[FETCH_COPY_MAX * 2];
    struct http_request req;
    struct cache_entry *e;
    struct http_resp r;
    static const char get[] = "GET /k HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char head[] = "HEAD /k HTTP/1.1\r\nHost: x\r\n\r\n";

    memset(big, 'b', sizeof(big));
    e = cache_entry_create_db(live.px.cache, 0, "k", 1, "value", 5);
    cr_assert_not_null(e);
    cr_assert_eq(http_parse_request(get, sizeof(get) - 1, &req), HTTP_OK);
    cr_assert_eq(http_conn_send(c, &req,
                                &(struct http_reply){.status = 200,
                                                     .type = HTTP_TYPE_BINARY,
                                                     .extra = "X-A: 1\r\n",
                                                     .entry = e}),
                 0);
    cache_release(e);
    cr_assert_eq(http_conn_send(c, &req,
                                &(struct http_reply){.status = 200,
                                                     .type = HTTP_TYPE_TEXT,
                                                     .extra = "",
                                                     .body = big,
                                                     .body_len = sizeof(big),
                                                     .body_static = 1}),
                 0);
    cr_assert_eq(http_parse_request(head, sizeof(head) - 1, &req), HTTP_OK);
    cr_assert_eq(http_conn_send(c, &req,
                                &(struct http_reply){.status = 200,
                                                     .type = HTTP_TYPE_TEXT,
                                                     .extra = "",
                                                     .body = "abc",
                                                     .body_len = 3,
                                                     .no_body = 1}),
                 0);
    cr_assert_eq(conn_flush(c), CONN_IO_OK);
    http_read_resp(peer, &r, 0);
    http_expect(&r, "HTTP/1.1 200 OK", "value");
    http_expect_field(&r, "Content-Type", HTTP_TYPE_BINARY);
    http_expect_field(&r, "X-A", "1");
    http_expect_field(&r, "X-Content-Type-Options", "nosniff");
    cr_expect_not_null(http_field(&r, "Date"));
    cr_expect_null(http_field(&r, "Connection"), "keep-alive is the default");
    http_read_resp(peer, &r, 0);
    cr_expect_eq(r.body_len, sizeof(big));
    cr_expect_eq(memcmp(r.body, big, sizeof(big)), 0);
    http_read_resp(peer, &r, 1);
    http_expect(&r, "HTTP/1.1 200 OK", "");
    http_expect_field(&r, "Content-Length", "3");
    expect_nothing_yet();
}
