/*
 * backoff: the reconnect delay shared by the Redis pool and the
 * invalidation stream: BACKOFF_MIN_MS after the first failure, doubling
 * with each further failure up to BACKOFF_MAX_MS, back to 0 on success.
 * So a dead Redis costs one attempt per delay, never a retry storm, and a
 * Redis that returns is found within BACKOFF_MAX_MS.
 */
#ifndef RP_BACKOFF_H
#define RP_BACKOFF_H

#include <stdint.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

/* The delay after one more failure, given the current one (0 = healthy). */
static inline int64_t
backoff_next(int64_t current_ms)
{
    if (current_ms <= 0) {
        return BACKOFF_MIN_MS;
    }
    return current_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : current_ms * 2;
}

#endif
