/*
 * metrics: relaxed atomic counters; see metrics.h.
 */
#include "base/metrics.h"

#include <stdio.h>
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
    pthread_mutex_init(&m->users_lock, NULL);
    m->started_ms = util_now_ms();
}

/* The slot of label name, made when new and there is room (one slot is
 * kept for "unknown"). Lock held. */
static struct metrics_user *
user_slot(struct metrics *m, const char *name)
{
    int i;

    for (i = 0; i < m->nusers; i++) {
        if (strcmp(m->users[i].name, name) == 0) {
            return &m->users[i];
        }
    }
    if (m->nusers == METRICS_USERS ||
        (m->nusers == METRICS_USERS - 1 && strcmp(name, "unknown") != 0)) {
        return strcmp(name, "unknown") == 0 ? NULL : user_slot(m, "unknown");
    }
    snprintf(m->users[m->nusers].name, METRICS_USER_NAME, "%s", name);
    return &m->users[m->nusers++];
}

void
metrics_user_failure(struct metrics *m, enum metrics_listener l,
                     const char *name)
{
    struct metrics_user *u;

    pthread_mutex_lock(&m->users_lock);
    u = user_slot(m, name);
    if (u != NULL) {
        u->failures[l]++;
    }
    pthread_mutex_unlock(&m->users_lock);
}

int
metrics_user_failures(struct metrics *m, struct metrics_user *out, int max)
{
    int n;

    pthread_mutex_lock(&m->users_lock);
    n = m->nusers < max ? m->nusers : max;
    memcpy(out, m->users, (size_t)n * sizeof(*out));
    pthread_mutex_unlock(&m->users_lock);
    return n;
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
