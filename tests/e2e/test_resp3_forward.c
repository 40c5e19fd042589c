/*
 * End-to-end tests of RESP3 on resp_port (issue 18): after `HELLO 3` on
 * a connection to the proxy and on one to a second redis-server (the twin)
 * holding the same data, every reply is compared byte for byte: the
 * forwarding suite's table of commands (forward_util.c: every type, every
 * kind of error, cache hits and the writes that invalidate them, a session
 * at the end) and its burst of thousands of pipelined commands. The HELLO
 * replies themselves are compared field by field (the `id` is each
 * connection's own). What the proxy answers itself (a cache hit, a miss,
 * nil, PING, ECHO, its errors) is encoded for the client's protocol: nil
 * is `_` in RESP3 and `$-1` again after `HELLO 2`.
 *
 * Expected to fail until the rewrite lands: every test here. Today the
 * proxy answers `HELLO 3` with `-NOPROTO unsupported protocol version`
 * (RESP2 only), so each test stops at its first HELLO 3.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward_util.h"
#include "harness.h"

#define P "redis_proxy_"
#define REPLY_MS 3000

static struct h_redis redis, twin;
static struct h_proxy proxy;

static void
setup(void)
{
    memset(&twin, 0, sizeof(twin));
    h_pair_setup(&redis, &proxy);
    cr_assert_eq(h_redis_start(&twin, 0, NULL), 0, "twin did not start");
}

static void
teardown(void)
{
    h_pair_teardown(&redis, &proxy);
    h_redis_stop(&twin);
}

TestSuite(resp3_forward, .init = setup, .fini = teardown, .timeout = 90);

#define SEND H_SEND
#define EXPECT H_EXPECT

/* ---- HELLO ---- */

/* Reads one reply on fd into buf; returns its length or fails. */
static long
one_reply(int fd, char *buf, size_t cap, const char *what)
{
    long n = h_read_replies(fd, 1, buf, cap - 1, REPLY_MS);

    cr_assert_gt(n, 0, "%s: no reply", what);
    buf[n] = '\0';
    return n;
}

/* The HELLO replies of Redis (want) and of the proxy (got) are alike: the
 * same header (a map of 7 in RESP3, an array of 14 in RESP2), the same
 * keys in the same order, the same values except `id`, which is an
 * integer in both. */
static void
same_hello(const char *want, long wl, const char *got, long gl,
           const char *what)
{
    char e1[2048], e2[2048];
    const char *eol = strstr(want, "\r\n");
    long ow, og;
    int i, n;

    h_escape(want, (size_t)wl, e1, sizeof(e1));
    h_escape(got, (size_t)gl, e2, sizeof(e2));
    cr_assert(eol != NULL && (want[0] == '%' || want[0] == '*'),
              "%s: Redis answered \"%s\"", what, e1);
    ow = eol - want + 2;
    cr_assert(gl > ow && memcmp(want, got, (size_t)ow) == 0,
              "%s: Redis answered\n  \"%s\"\nthe proxy\n  \"%s\"", what, e1,
              e2);
    n = atoi(want + 1) * (want[0] == '%' ? 2 : 1);
    og = ow;
    for (i = 0; i < n; i += 2) {
        long kw = h_reply_len(want + ow, (size_t)(wl - ow), 1);
        long kg = h_reply_len(got + og, (size_t)(gl - og), 1);
        long vw, vg;
        int is_id;

        cr_assert(
            kw > 0 && kg == kw && memcmp(want + ow, got + og, (size_t)kw) == 0,
            "%s: key %d differs:\n  \"%s\"\n  \"%s\"", what, i / 2, e1, e2);
        is_id = kw == 8 && memcmp(want + ow, "$2\r\nid\r\n", 8) == 0;
        ow += kw;
        og += kg;
        vw = h_reply_len(want + ow, (size_t)(wl - ow), 1);
        vg = h_reply_len(got + og, (size_t)(gl - og), 1);
        cr_assert(vw > 0 && vg > 0, "%s: value %d missing", what, i / 2);
        if (is_id) {
            cr_assert(got[og] == ':' && want[ow] == ':',
                      "%s: id is not an integer: \"%s\"", what, e2);
        } else {
            cr_assert(vw == vg && memcmp(want + ow, got + og, (size_t)vw) == 0,
                      "%s: value %d differs:\n  \"%s\"\n  \"%s\"", what, i / 2,
                      e1, e2);
        }
        ow += vw;
        og += vg;
    }
    cr_assert(ow == wl && og == gl, "%s: trailing bytes", what);
}

/* Sends the inline command line on both and compares the HELLO
 * replies; copies the proxy's into out unless out is NULL. */
static void
hello_on_both(int rfd, int pfd, const char *line, char *out, size_t cap)
{
    static char want[4096], got[4096];
    char req[256];
    long wl, gl;

    snprintf(req, sizeof(req), "%s\r\n", line);
    cr_assert_eq(h_sends(rfd, req), 0);
    wl = one_reply(rfd, want, sizeof(want), line);
    cr_assert_eq(h_sends(pfd, req), 0);
    gl = one_reply(pfd, got, sizeof(got), line);
    same_hello(want, wl, got, gl, line);
    if (out != NULL) {
        snprintf(out, cap, "%s", got);
    }
}

Test(resp3_forward, hello_replies_have_redis_fields_in_both_protocols)
{
    char got[4096];
    size_t n;
    int rfd, pfd;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    rfd = h_conn(twin.port);
    pfd = h_conn(proxy.resp_port);
    hello_on_both(rfd, pfd, "HELLO 3", got, sizeof(got));
    cr_assert_eq(strncmp(got, "%7\r\n", 4), 0, "%s", got);
    cr_assert_not_null(strstr(got, "$5\r\nproto\r\n:3\r\n"), "%s", got);
    /* HELLO alone: the connection's protocol as it now is */
    hello_on_both(rfd, pfd, "HELLO", got, sizeof(got));
    cr_assert_eq(got[0], '%');
    /* an unknown version is refused as Redis refuses it, and changes
     * nothing */
    n = strlen("HELLO 4\r\n");
    h_expect_same_on(rfd, pfd, "HELLO 4\r\n", n, 1, "HELLO 4", got,
                     sizeof(got));
    cr_assert_str_eq(got, "-NOPROTO unsupported protocol version\r\n");
    h_expect_same_on(rfd, pfd, "GET nosuch\r\n", 12, 1, "GET after HELLO 4",
                     got, sizeof(got));
    cr_assert_str_eq(got, "_\r\n");
    /* back to RESP2 */
    hello_on_both(rfd, pfd, "HELLO 2", got, sizeof(got));
    cr_assert_eq(strncmp(got, "*14\r\n", 5), 0, "%s", got);
    cr_assert_not_null(strstr(got, "$5\r\nproto\r\n:2\r\n"), "%s", got);
    h_expect_same_on(rfd, pfd, "GET nosuch\r\n", 12, 1, "GET after HELLO 2",
                     got, sizeof(got));
    cr_assert_str_eq(got, "$-1\r\n");
    /* every HELLO was the proxy's own: no session opened for them */
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    close(rfd);
    close(pfd);
}

Test(resp3_forward, hello_3_with_setname_names_the_connection)
{
    char got[4096];
    int rfd, pfd;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    rfd = h_conn(twin.port);
    pfd = h_conn(proxy.resp_port);
    hello_on_both(rfd, pfd, "HELLO 3 SETNAME app-7", NULL, 0);
    h_expect_same_on(rfd, pfd, "CLIENT GETNAME\r\n", 16, 1, "CLIENT GETNAME",
                     got, sizeof(got));
    cr_assert_str_eq(got, "$5\r\napp-7\r\n");
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    close(rfd);
    close(pfd);
}

/* ---- the forwarding table and the burst, in RESP3 ---- */

Test(resp3_forward, every_type_and_error_matches_redis_byte_for_byte)
{
    static char req[4096], got[1 << 16];
    int rfd, pfd, nulls = 0, maps = 0, sets = 0, doubles = 0;

    fwd_seed(&redis, &twin);
    /* Tracking off, as in the RESP2 suite: a stale GET could only be the
     * forwarding path's fault. */
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY, .admin = 1));
    rfd = h_conn(twin.port);
    pfd = h_conn(proxy.resp_port);
    hello_on_both(rfd, pfd, "HELLO 3", NULL, 0);
    for (size_t i = 0; i < fwd_ncases; i++) {
        const struct fwd_case *t = &fwd_cases[i];
        size_t n = fwd_encode(t, req, sizeof(req));
        char what[128];

        snprintf(what, sizeof(what), "case %zu (%s %s)", i, t->argv[0],
                 t->argv[1] != NULL ? t->argv[1] : "");
        h_expect_same_on(rfd, pfd, req, n, 1, what, got, sizeof(got));
        nulls += strcmp(got, "_\r\n") == 0 || strstr(got, "\r\n_\r\n");
        maps += got[0] == '%';
        sets += got[0] == '~';
        doubles += got[0] == ',';
    }
    /* The replies were RESP3's, not RESP2's on both sides: nulls (the
     * table's null bulks and null arrays), maps (HGETALL, XINFO), sets
     * (SMEMBERS) and doubles (ZSCORE, ZINCRBY, GEODIST). */
    cr_assert_geq(nulls, 8, "RESP3 nulls seen: %d", nulls);
    cr_assert_geq(maps, 2, "maps seen: %d", maps);
    cr_assert_geq(sets, 1, "sets seen: %d", sets);
    cr_assert_geq(doubles, 2, "doubles seen: %d", doubles);
    cr_assert_eq(
        h_await_metric(&proxy, P "cache_hits_total", FWD_CASE_HITS, 2000),
        FWD_CASE_HITS);
    /* BLPOP at the end: the one session, speaking RESP3 as its client */
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 1);
    close(rfd);
    close(pfd);
}

Test(resp3_forward, pipelined_burst_matches_redis_byte_for_byte)
{
    struct fwd_script s = {0};
    char *want, *got;
    long wl, gl;
    double hits;

    fwd_build_script(&s);
    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    wl = fwd_run_burst(twin.port, "HELLO 3\r\n", &s, &want);
    gl = fwd_run_burst(proxy.resp_port, "HELLO 3\r\n", &s, &got);
    if (gl != wl || memcmp(want, got, (size_t)wl) != 0) {
        fwd_report_difference(want, (size_t)wl, got, (size_t)gl);
    }
    cr_assert_not_null(memmem(want, (size_t)wl, "\r\n_\r\n", 5),
                       "no RESP3 null in the stream: was it RESP3?");
    hits = h_metric(&proxy, P "cache_hits_total");
    cr_assert_gt(hits, 100, "cache hits: %g of %d GETs", hits, s.gets);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    free(want);
    free(got);
    free(s.p);
}

/* ---- what the proxy answers itself ---- */

Test(resp3_forward, get_hit_miss_and_nil_are_encoded_for_the_protocol)
{
    int c;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    h_set(&redis, "k", "v1");
    c = h_conn(proxy.resp_port);
    h_hello(c, 3);
    SEND(c, "GET", "k"); /* a miss, filled */
    EXPECT(c, "$2\r\nv1\r\n");
    SEND(c, "GET", "k"); /* a hit */
    EXPECT(c, "$2\r\nv1\r\n");
    SEND(c, "GET", "nosuch"); /* nil, from Redis */
    EXPECT(c, "_\r\n");
    SEND(c, "GET", "nosuch");
    EXPECT(c, "_\r\n");
    cr_assert_eq(h_await_metric(&proxy, P "cache_hits_total", 1, 2000), 1);
    cr_assert_eq(h_redis_calls(&redis, "get"), 3);
    /* the proxy's own replies */
    SEND(c, "PING");
    EXPECT(c, "+PONG\r\n");
    SEND(c, "PING", "hi");
    EXPECT(c, "$2\r\nhi\r\n");
    SEND(c, "ECHO", "e");
    EXPECT(c, "$1\r\ne\r\n");
    SEND(c, "GET");
    EXPECT(c, "-ERR wrong number of arguments for 'get' command\r\n");
    /* pipelined: hit, nil, miss, forwarded, in order */
    h_set(&redis, "k2", "v2");
    cr_assert_eq(h_sends(c, "GET k\r\nGET nosuch\r\nGET k2\r\n"
                            "HSET h f x\r\nHGETALL h\r\nGET k\r\n"),
                 0);
    EXPECT(c, "$2\r\nv1\r\n");
    EXPECT(c, "_\r\n");
    EXPECT(c, "$2\r\nv2\r\n");
    EXPECT(c, ":1\r\n");
    EXPECT(c, "%1\r\n$1\r\nf\r\n$1\r\nx\r\n");
    EXPECT(c, "$2\r\nv1\r\n");
    /* HELLO 2: nil is RESP2's again */
    h_hello(c, 2);
    SEND(c, "GET", "nosuch");
    EXPECT(c, "$-1\r\n");
    SEND(c, "HGETALL", "h");
    EXPECT(c, "*2\r\n$1\r\nf\r\n$1\r\nx\r\n");
    SEND(c, "GET", "k");
    EXPECT(c, "$2\r\nv1\r\n");
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    close(c);
}
