/*
 * End-to-end test with a real client library: client_lib.py (redis-py,
 * Debian's python3-redis, run by /usr/bin/python3) uses the proxy's
 * resp_port for pipelines, transactions (with a WATCH another client
 * breaks), pub/sub, blocking pops and scan_iter; this test checks the
 * script's exit status and every line it prints, and what Redis counted.
 * Skipped, saying so, only where that interpreter has no redis module.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

H_PAIR_SUITE(client_lib, 60);

Test(client_lib, redis_py_pipelines_transactions_pubsub_blocking_and_scan)
{
    static const char want[] = "ok pipelines\nok transactions\nok watch\n"
                               "ok pubsub\nok blocking\nok scan_iter\n"
                               "ok errors_and_bytes\nall ok\n";
    char pport[16], rport[16], out[16384];
    int rc;

    h_need_redis_py();
    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    snprintf(pport, sizeof(pport), "%d", proxy.resp_port);
    snprintf(rport, sizeof(rport), "%d", redis.port);
    rc = h_redis_py("client_lib.py", (const char *const[]){pport, rport, NULL},
                    out, sizeof(out));
    cr_assert_eq(rc, 0, "the script exited %d:\n%s", rc, out);
    cr_assert_str_eq(out, want);
    /* It ran through the proxy: transactions and pub/sub on sessions (a
     * connection stays one, and redis-py reuses its connections), the
     * second read of pl:0..4 from the cache. */
    cr_assert_geq(h_metric(&proxy, "redis_proxy_sessions_total"), 2);
    cr_assert_geq(h_metric(&proxy, "redis_proxy_cache_hits_total"), 4);
    cr_assert_eq(h_await_metric(&proxy, "redis_proxy_sessions_open", 0, 3000),
                 0);
    cr_assert_eq(h_redis_calls(&redis, "exec"), 3);
}
