/*
 * End-to-end tests of transparency on resp_port: the proxy against a
 * second redis-server (the twin) that holds the same data as the proxy's
 * own Redis, every command sent to both, every reply compared byte for
 * byte. Commands of every type, errors of every kind, null bulk against
 * null array, cache hits and the writes that must invalidate them
 * (including a write the proxy only learns the keys of by asking Redis,
 * SORT ... STORE), a session at the end; then a burst of thousands of
 * pipelined mixed commands whose whole reply stream must be the twin's.
 * The table and the burst are in forward_util.c (test_resp3_forward.c
 * runs them in RESP3).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward_util.h"
#include "harness.h"

#define P "redis_proxy_"

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

TestSuite(forward, .init = setup, .fini = teardown, .timeout = 90);

Test(forward, every_type_and_error_matches_redis_byte_for_byte)
{
    static char req[4096], got[1 << 16];
    size_t i;
    int rfd, pfd, null_bulk = 0, null_array = 0;
    double hits;

    fwd_seed(&redis, &twin);
    /* Tracking off: a stale GET here could only be the forwarding path's
     * fault, never hidden by an invalidation arriving in time. */
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = TTL_ONLY, .admin = 1));
    rfd = h_conn(twin.port);
    pfd = h_conn(proxy.resp_port);
    for (i = 0; i < fwd_ncases; i++) {
        const struct fwd_case *t = &fwd_cases[i];
        size_t n = fwd_encode(t, req, sizeof(req));
        char what[128], e1[512], e2[512];

        snprintf(what, sizeof(what), "case %zu (%s %s)", i, t->argv[0],
                 t->argv[1] != NULL ? t->argv[1] : "");
        h_expect_same_on(rfd, pfd, req, n, 1, what, got, sizeof(got));
        if (t->want != NULL) {
            cr_assert_str_eq(
                got, t->want, "%s: both answered \"%s\", want \"%s\"", what,
                h_escape(got, strlen(got), e1, sizeof(e1)),
                h_escape(t->want, strlen(t->want), e2, sizeof(e2)));
        }
        null_bulk += strstr(got, "$-1\r\n") != NULL;
        null_array += strstr(got, "*-1\r\n") != NULL;
    }
    cr_assert_geq(null_bulk, 5, "null bulks seen: %d", null_bulk);
    cr_assert_geq(null_array, 3, "null arrays seen: %d", null_array);
    /* the second GETs of s, ev (old, then new) and sorted, nothing else:
     * every GET after a write was a miss */
    hits = h_metric(&proxy, P "cache_hits_total");
    cr_assert_eq(hits, FWD_CASE_HITS, "cache hits: %g", hits);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 1);
    close(rfd);
    close(pfd);
}

/* ---- a burst of pipelined commands ---- */

static void
burst_matches_redis(const char *ini)
{
    struct fwd_script s = {0};
    char *want, *got;
    long wl, gl, redis_gets;
    double hits;

    fwd_build_script(&s);
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = ini, .admin = 1));
    wl = fwd_run_burst(twin.port, NULL, &s, &want);
    gl = fwd_run_burst(proxy.resp_port, NULL, &s, &got);
    if (gl != wl || memcmp(want, got, (size_t)wl) != 0) {
        fwd_report_difference(want, (size_t)wl, got, (size_t)gl);
    }
    /* The cache answered part of the GETs, so the comparison covered
     * hits as well as misses and forwarded commands. */
    redis_gets = h_redis_calls(&redis, "get");
    hits = h_metric(&proxy, P "cache_hits_total");
    cr_assert_gt(hits, 100, "cache hits: %g of %d GETs", hits, s.gets);
    cr_assert_lt(redis_gets, s.gets, "Redis counted %ld GETs of %d", redis_gets,
                 s.gets);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    free(want);
    free(got);
    free(s.p);
}

Test(forward, pipelined_burst_of_mixed_commands_matches_redis_byte_for_byte)
{
    burst_matches_redis(NULL);
}

Test(forward, pipelined_burst_matches_redis_with_tracking_off)
{
    burst_matches_redis(TTL_ONLY);
}
