/*
 * Unit tests of the request counters and latency histograms
 * (base/metrics.h): a status counts in its class (clamped below 2xx and
 * above 5xx) for its listener only; a latency lands in the first bucket
 * whose bound it does not pass (each bound inclusive), past the last in
 * +Inf, its microseconds added to the sum; and counts from four threads
 * recording at once add up exactly.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "base/metrics.h"
#include "base/util.h"

static struct metrics m;

static void
setup(void)
{
    metrics_init(&m);
}

TestSuite(metrics, .init = setup);

static long
req(enum metrics_listener l, int cls)
{
    return atomic_load(&m.requests[l][cls]);
}

static long
bucket(const struct metrics_histogram *h, int i)
{
    return atomic_load(&h->le[i]);
}

Test(metrics, init_zeroes_and_stamps_the_start)
{
    struct metrics dirty;
    int64_t before = util_now_ms();

    memset(&dirty, 0x5a, sizeof(dirty));
    metrics_init(&dirty);
    cr_assert_geq(dirty.started_ms, before);
    cr_assert_leq(dirty.started_ms, util_now_ms());
    cr_assert_eq(atomic_load(&dirty.hits), 0);
    cr_assert_eq(atomic_load(&dirty.requests[METRICS_ADMIN][3]), 0);
    cr_assert_eq(atomic_load(&dirty.miss.sum_us), 0);
    cr_assert_eq(atomic_load(&dirty.hit.le[METRICS_BUCKETS]), 0);
}

Test(metrics, a_status_counts_in_its_class_for_its_listener)
{
    static const int status[] = {200, 204, 299, 301, 304, 400,
                                 404, 499, 500, 503, 504};
    static const int cls[] = {0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3};

    for (size_t i = 0; i < sizeof(status) / sizeof(status[0]); i++) {
        long before = req(METRICS_RESP, cls[i]);

        metrics_request(&m, METRICS_RESP, status[i]);
        cr_assert_eq(req(METRICS_RESP, cls[i]), before + 1, "status %d",
                     status[i]);
    }
    for (int c = 0; c < METRICS_CLASSES; c++) {
        cr_assert_eq(req(METRICS_HTTP, c), 0, "another listener's counts");
        cr_assert_eq(req(METRICS_ADMIN, c), 0);
    }
}

Test(metrics, statuses_outside_2xx_to_5xx_are_clamped)
{
    metrics_request(&m, METRICS_HTTP, 100);
    metrics_request(&m, METRICS_HTTP, 0);
    cr_assert_eq(req(METRICS_HTTP, 0), 2, "below 2xx counts as 2xx");
    metrics_request(&m, METRICS_HTTP, 600);
    metrics_request(&m, METRICS_HTTP, 999);
    cr_assert_eq(req(METRICS_HTTP, 3), 2, "above 5xx counts as 5xx");
}

Test(metrics, bounds_rise_and_end_at_one_second)
{
    for (int i = 1; i < METRICS_BUCKETS; i++) {
        cr_assert_gt(metrics_bounds_us[i], metrics_bounds_us[i - 1]);
    }
    cr_assert_eq(metrics_bounds_us[0], 50);
    cr_assert_eq(metrics_bounds_us[METRICS_BUCKETS - 1], 1000000);
}

Test(metrics, a_latency_lands_in_the_first_bucket_it_does_not_pass)
{
    long sum = 0;

    for (int i = 0; i < METRICS_BUCKETS; i++) {
        int64_t b = metrics_bounds_us[i];

        metrics_observe(&m.hit, b); /* a bound is inclusive (le) */
        cr_assert_eq(bucket(&m.hit, i), 1, "%lld us", (long long)b);
        metrics_observe(&m.hit, b + 1); /* one more: the next bucket */
        cr_assert_eq(bucket(&m.hit, i + 1), 1, "%lld us", (long long)b + 1);
        sum += 2 * b + 1;
        /* Take the next bucket's count back to 0 for the next round. */
        atomic_store(&m.hit.le[i + 1], 0);
    }
    cr_assert_eq(atomic_load(&m.hit.sum_us), sum);
    metrics_observe(&m.miss, 0);
    cr_assert_eq(bucket(&m.miss, 0), 1, "0 us is the first bucket");
    metrics_observe(&m.miss, INT64_C(3600000000));
    cr_assert_eq(bucket(&m.miss, METRICS_BUCKETS), 1, "an hour is +Inf");
    cr_assert_eq(bucket(&m.hit, METRICS_BUCKETS), 0, "hit and miss apart");
}

/* ---- four threads at once ---- */

#define PER_THREAD 100000

static void *
record(void *arg)
{
    int t = (int)(intptr_t)arg;

    for (int i = 0; i < PER_THREAD; i++) {
        metrics_request(&m, METRICS_HTTP, 200 + 100 * (i % 4));
        metrics_observe(&m.miss, (t + i) % 3 == 0 ? 10 : 2000000);
        atomic_fetch_add_explicit(&m.hits, 1, memory_order_relaxed);
    }
    return NULL;
}

Test(metrics, counts_from_four_threads_add_up_exactly)
{
    pthread_t th[4];
    long in_first = 0, total;

    for (int t = 0; t < 4; t++) {
        cr_assert_eq(pthread_create(&th[t], NULL, record, (void *)(intptr_t)t),
                     0);
        for (int i = 0; i < PER_THREAD; i++) {
            in_first += (t + i) % 3 == 0;
        }
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
    }
    for (int c = 0; c < METRICS_CLASSES; c++) {
        cr_assert_eq(req(METRICS_HTTP, c), PER_THREAD, "class %d", c);
    }
    total = 4L * PER_THREAD;
    cr_assert_eq(bucket(&m.miss, 0), in_first);
    cr_assert_eq(bucket(&m.miss, METRICS_BUCKETS), total - in_first);
    cr_assert_eq(atomic_load(&m.miss.sum_us),
                 in_first * 10 + (total - in_first) * 2000000);
    cr_assert_eq(atomic_load(&m.hits), total);
}
