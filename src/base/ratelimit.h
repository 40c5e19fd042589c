/*
 * ratelimit: at most one log line per interval for an event a client can
 * cause at will (a wrong password, a cross-protocol request), so an attack
 * cannot flood the log or make the proxy spend its time writing it (after
 * the Linux kernel's printk_ratelimit and Redis's securityWarningCommand,
 * which logs once a minute). The counters, not the log, are the record of
 * every event: the metrics count each one.
 *
 * struct ratelimit counts the events of one kind and says when a line is
 * due, with the number of events it stands for. struct ratelimit_sources
 * remembers the last sources it let through (a small direct-mapped table
 * of hashed addresses), so each source is logged once per interval, and
 * all sources together at most once a second.
 *
 * Both are lock-free (atomics only), zero-initialised (a zeroed struct is
 * ready: the first event is logged), and thread-safe.
 */
#ifndef RP_RATELIMIT_H
#define RP_RATELIMIT_H

#include <stdatomic.h>
#include <stdint.h>

#define RATELIMIT_SOURCES 64 /* sources remembered at once */

struct ratelimit {
    _Atomic int64_t next_ms; /* monotonic ms: when a line may come again */
    atomic_long pending;     /* events since the last line */
};

struct ratelimit_sources {
    /* Per slot: (32-bit hash of the source << 32) | the second (monotonic,
     * + 1) until which that source is quiet; 0 = empty. */
    _Atomic uint64_t slot[RATELIMIT_SOURCES];
    struct ratelimit all; /* every source together: one line a second */
};

/*
 * Counts one event at now_ms (util_now_ms()). Returns 0 when no line is
 * due, else the number of events (this one included) since the last line
 * was due: the caller writes one line saying so. The next line is due
 * interval_ms later.
 */
long ratelimit_hit(struct ratelimit *r, int64_t now_ms, int64_t interval_ms);

/*
 * One event from the source whose address hashes to key. Returns 1 when a
 * line is due: this source was not let through in the last interval_s
 * seconds (as far as the table remembers) and no other source was in the
 * last second. Else 0.
 */
int ratelimit_source(struct ratelimit_sources *r, uint64_t key, int64_t now_ms,
                     int interval_s);

#endif
