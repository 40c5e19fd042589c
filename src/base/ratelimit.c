/*
 * ratelimit: log lines per interval; see ratelimit.h.
 */
#include "base/ratelimit.h"

long
ratelimit_hit(struct ratelimit *r, int64_t now_ms, int64_t interval_ms)
{
    int64_t next;

    atomic_fetch_add_explicit(&r->pending, 1, memory_order_relaxed);
    next = atomic_load_explicit(&r->next_ms, memory_order_relaxed);
    if (now_ms < next || !atomic_compare_exchange_strong(
                             &r->next_ms, &next, now_ms + interval_ms)) {
        return 0; /* not yet, or another thread writes this line */
    }
    return atomic_exchange(&r->pending, 0);
}

int
ratelimit_source(struct ratelimit_sources *r, uint64_t key, int64_t now_ms,
                 int interval_s)
{
    uint32_t k = (uint32_t)(key ^ key >> 32);
    _Atomic uint64_t *s = &r->slot[k % RATELIMIT_SOURCES];
    uint32_t now_s = (uint32_t)(now_ms / 1000) + 1;
    uint64_t old = atomic_load_explicit(s, memory_order_relaxed);
    uint64_t want = (uint64_t)k << 32 | (now_s + (uint32_t)interval_s);

    if ((uint32_t)(old >> 32) == k && (uint32_t)old > now_s) {
        return 0; /* this source was logged a moment ago */
    }
    if (!atomic_compare_exchange_strong(s, &old, want)) {
        return 0; /* the same source, at the same moment, on another thread */
    }
    return ratelimit_hit(&r->all, now_ms, 1000) > 0;
}
