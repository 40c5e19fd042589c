/*
 * metrics: relaxed atomic counters; see metrics.h.
 */
#include "base/metrics.h"

#include <string.h>

#include "base/util.h"

const int64_t metrics_bounds_us[METRICS_BUCKETS] = {
    50,    100,   250,   500,    1000,   2500,   5000,
    10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};

void
metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
    m->started_ms = util_now_ms();
}

void
metrics_request(struct metrics *m, enum metrics_listener l, int status)
{
    int cls = status / 100 - 2;

    if (cls < 0) {
        cls = 0;
    } else if (cls >= METRICS_CLASSES) {
        cls = METRICS_CLASSES - 1;
    }
    atomic_fetch_add_explicit(&m->requests[l][cls], 1, memory_order_relaxed);
}

void
metrics_observe(struct metrics_histogram *h, int64_t us)
{
    int i = 0;

    while (i < METRICS_BUCKETS && us > metrics_bounds_us[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&h->le[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}
