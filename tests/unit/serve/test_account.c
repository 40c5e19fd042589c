/*
 * Unit tests of serve/account, what every answered request leaves behind:
 * one count in requests_total by listener and status class, a latency
 * sample in the hit or the miss histogram when the cache took part (none
 * otherwise), and with [log] access = on one access-log line (its fields,
 * the method escaped and cut, nothing for the admin port), read back
 * from stderr (unit_capture_stderr); and the one classification of
 * Redis's error replies into HTTP-like statuses. The proxy is its
 * services without Redis (live_helpers.h).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "base/util.h"
#include "serve/account.h"

#include "live_helpers.h"

static void
setup(void)
{
    live_defaults();
    live_services();
}

TestSuite(account, .init = setup, .fini = live_down, .timeout = 30);

/* One request answered on listener l with status, the cache as c. */
static void
answered(enum metrics_listener l, const char *method, int status,
         enum account_cache c)
{
    struct account_req r = {
        .listener = l,
        .method = method,
        .method_len = strlen(method),
        .status = status,
        .cache = c,
        .key_len = 3,
        .bytes = 5,
        .start_us = util_now_us(),
    };

    account_request(&live.px, &r);
}

static long
requests(enum metrics_listener l, int cls)
{
    return atomic_load(&live.px.metrics.requests[l][cls]);
}

static long
samples(const struct metrics_histogram *h)
{
    long n = 0;

    for (int i = 0; i <= METRICS_BUCKETS; i++) {
        n += atomic_load(&h->le[i]);
    }
    return n;
}

Test(account, each_request_counts_under_its_listener_and_class)
{
    answered(METRICS_HTTP, "GET", 200, ACCOUNT_HIT);
    answered(METRICS_HTTP, "GET", 304, ACCOUNT_HIT);
    answered(METRICS_HTTP, "GET", 404, ACCOUNT_MISS);
    answered(METRICS_RESP, "SET", 400, ACCOUNT_NONE);
    answered(METRICS_RESP, "GET", 503, ACCOUNT_STALE);
    answered(METRICS_ADMIN, "GET", 200, ACCOUNT_NONE);
    answered(METRICS_ADMIN, "GET", 100, ACCOUNT_NONE); /* below: 2xx */
    answered(METRICS_ADMIN, "GET", 600, ACCOUNT_NONE); /* above: 5xx */
    cr_expect_eq(requests(METRICS_HTTP, 0), 1);
    cr_expect_eq(requests(METRICS_HTTP, 1), 1);
    cr_expect_eq(requests(METRICS_HTTP, 2), 1);
    cr_expect_eq(requests(METRICS_HTTP, 3), 0);
    cr_expect_eq(requests(METRICS_RESP, 2), 1);
    cr_expect_eq(requests(METRICS_RESP, 3), 1);
    cr_expect_eq(requests(METRICS_ADMIN, 0), 2);
    cr_expect_eq(requests(METRICS_ADMIN, 3), 1);
}

Test(account, lookups_leave_a_latency_sample_and_other_requests_none)
{
    struct account_req r = {
        .listener = METRICS_RESP,
        .method = "GET",
        .method_len = 3,
        .status = 200,
        .cache = ACCOUNT_HIT,
        .start_us = util_now_us() - 3000, /* parsed 3 ms ago */
    };

    account_request(&live.px, &r);
    cr_expect_eq(samples(&live.px.metrics.hit), 1);
    cr_expect_eq(samples(&live.px.metrics.miss), 0);
    cr_expect_geq(atomic_load(&live.px.metrics.hit.sum_us), 3000);
    for (int i = 0; metrics_bounds_us[i] < 3000; i++) {
        cr_expect_eq(atomic_load(&live.px.metrics.hit.le[i]), 0,
                     "a 3 ms answer in the %lld us bucket",
                     (long long)metrics_bounds_us[i]);
    }
    answered(METRICS_HTTP, "GET", 200, ACCOUNT_MISS);
    answered(METRICS_HTTP, "GET", 200, ACCOUNT_STALE);
    cr_expect_eq(samples(&live.px.metrics.miss), 2, "Redis was asked");
    answered(METRICS_RESP, "SET", 200, ACCOUNT_NONE);
    cr_expect_eq(samples(&live.px.metrics.hit), 1);
    cr_expect_eq(samples(&live.px.metrics.miss), 2);
}

Test(account, with_access_logging_each_data_request_is_one_line)
{
    const char *path, *out;

    live.cfg.log_access = 1;
    path = unit_capture_stderr();
    answered(METRICS_RESP, "GET", 200, ACCOUNT_HIT);
    answered(METRICS_HTTP, "PUT", 204, ACCOUNT_NONE);
    answered(METRICS_ADMIN, "GET", 200, ACCOUNT_NONE); /* a scrape */
    answered(METRICS_RESP, "G\nT x", 400, ACCOUNT_STALE);
    answered(METRICS_RESP, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 400, ACCOUNT_NONE);
    out = unit_captured(path);
    cr_expect_not_null(strstr(out, " level=info msg=\"access\" proto=resp "
                                   "method=GET status=200 cache=hit key_len=3 "
                                   "bytes=5 us="),
                       "%s", out);
    cr_expect_not_null(strstr(out, "msg=\"access\" proto=http method=PUT "
                                   "status=204 cache=none key_len=3"),
                       "%s", out);
    cr_expect_null(strstr(out, "proto=admin"), "a scrape was logged");
    cr_expect_not_null(strstr(out, "method=G\\nT\\x20x status=400 cache=stale"),
                       "%s", out);
    cr_expect_not_null(strstr(out, "method=ABCDEFGHIJKLMNOP status=400"),
                       "the name is cut at 16 bytes: %s", out);
    {
        int lines = 0;

        for (const char *p = out; *p != '\0'; p++) {
            lines += *p == '\n';
        }
        cr_expect_eq(lines, 4, "%s", out);
    }
}

Test(account, without_access_logging_nothing_is_logged)
{
    const char *path = unit_capture_stderr();

    answered(METRICS_RESP, "GET", 200, ACCOUNT_HIT);
    cr_expect_str_empty(unit_captured(path));
    cr_expect_eq(requests(METRICS_RESP, 0), 1);
}

Test(account, redis_errors_are_classified_as_http_statuses)
{
    static const struct {
        const char *err;
        int status;
    } cases[] = {
        {"WRONGTYPE Operation against a key holding the wrong kind of value",
         409},
        {"LOADING Redis is loading the dataset in memory", 503},
        {"LOADING", 503},
        {"BUSY Redis is busy running a script.", 503},
        {"MASTERDOWN Link with MASTER is down", 503},
        {"TRYAGAIN Multiple keys request during rehashing of slot", 503},
        {"BUSYKEY Target key name already exists.", 502},
        {"BUSYGROUP Consumer Group name already exists", 502},
        {"LOADINGX", 502},
        {"WRONGTYPEX not the error", 502},
        {"ERR unknown command 'X'", 502},
        {"READONLY You can't write against a read only replica.", 502},
        {"NOSCRIPT No matching script.", 502},
        {"", 502},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_expect_eq(account_redis_error_status(cases[i].err), cases[i].status,
                     "'%s': %d, want %d", cases[i].err,
                     account_redis_error_status(cases[i].err), cases[i].status);
    }
}
