/*
 * metrics: the request counters and latency histograms that only the
 * request path can see (everything else is read from each service's own
 * stats at scrape time). All fields are atomics updated with relaxed
 * increments, so recording never takes a lock and a scrape never stalls a
 * worker; a scrape reads a consistent-enough snapshot, field by field.
 */
#ifndef RP_METRICS_H
#define RP_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

enum metrics_listener {
    METRICS_HTTP,
    METRICS_RESP,
    METRICS_ADMIN,
    METRICS_LISTENERS,
};

/* Why the proxy closed a client of its own accord, for
 * connections_closed_total{reason} (with the output bound and the admin
 * port's room, which the net layer counts). */
enum metrics_close {
    METRICS_CLOSE_HTTP_ON_RESP, /* POST or Host: sent to the RESP port */
    METRICS_CLOSE_AUTH,         /* too many wrong passwords on one conn */
    METRICS_CLOSES,
};

/* How checks of a client's credentials against Redis ended (ACL
 * passthrough: serve/verify.h), for auth_verifications_total{result}. */
enum metrics_verify {
    METRICS_VERIFY_OK,      /* Redis accepted them */
    METRICS_VERIFY_REFUSED, /* Redis refused them (its error relayed) */
    METRICS_VERIFY_FAILED,  /* Redis could not be asked (down, timeout) */
    METRICS_VERIFIES,
};

/* The user labels of auth_failures_total{listener,user}: the names of
 * configured users that failed, and "unknown" for every other name, so a
 * guesser cannot grow the label set. */
#define METRICS_USERS 128    /* labels at most; past them, "unknown" */
#define METRICS_USER_NAME 64 /* bytes of a label, NUL included */

struct metrics_user {
    char name[METRICS_USER_NAME];
    long failures[METRICS_LISTENERS];
};

/* Status classes: 2xx, 3xx, 4xx, 5xx. A RESP reply counts as 2xx when it is
 * a value, nil or status, 4xx for a client's error (unknown command, wrong
 * arity, protocol error), 5xx when Redis failed. */
#define METRICS_CLASSES 4

/* Histogram bucket upper bounds in microseconds; the last bucket is +Inf. */
#define METRICS_BUCKETS 14
extern const int64_t metrics_bounds_us[METRICS_BUCKETS];

struct metrics_histogram {
    atomic_long le[METRICS_BUCKETS + 1]; /* per bucket (not cumulative);
                                            their sum is the count */
    atomic_long sum_us;
};

struct metrics {
    int64_t started_ms; /* monotonic; set by metrics_init */
    atomic_long requests[METRICS_LISTENERS][METRICS_CLASSES];
    atomic_long accepted; /* client connections accepted */
    atomic_long rejected; /* client connections refused (max_clients) */
    atomic_long hits;     /* lookups answered from the cache */
    atomic_long misses;   /* lookups that had to ask Redis */
    atomic_long stale;    /* answered with a stale entry (Redis failing) */
    atomic_long oversize; /* fetched values over max_value_size, not kept */
    atomic_long write_flushes;  /* writes whose keys were unknown: cache
                                   emptied */
    atomic_long forwarded;      /* commands forwarded to Redis */
    atomic_long sessions;       /* sessions opened */
    atomic_int sessions_open;   /* sessions open now */
    atomic_long reloads_ok;     /* SIGHUP reloads applied */
    atomic_long reloads_failed; /* ... refused (invalid settings) */
    atomic_long auth_failures[METRICS_LISTENERS]; /* wrong or no password,
                                                     no user named */
    atomic_long verifies[METRICS_VERIFIES];       /* checks against Redis */
    pthread_mutex_t users_lock;                   /* nusers, users */
    int nusers;
    struct metrics_user users[METRICS_USERS]; /* failures naming a user */
    atomic_long closed[METRICS_CLOSES];       /* clients closed, by reason */
    atomic_long readonly_rerouted;            /* writes a demoted master refused
                                                 (-READONLY), sent to the new one */
    atomic_long readonly_failed;   /* ... answered the failover error */
    atomic_long failover_sessions; /* sessions ended by a master change */
    struct metrics_histogram hit;  /* requests answered from the cache */
    struct metrics_histogram miss; /* requests that asked Redis */
};

/* Zeroes m and stamps the start time. */
void metrics_init(struct metrics *m);

/* Counts one answered request with HTTP-like status (200, 404, ...). */
void metrics_request(struct metrics *m, enum metrics_listener l, int status);

/* Records a request's latency in the hit or miss histogram. */
void metrics_observe(struct metrics_histogram *h, int64_t us);

/* Counts one failure on listener l that named the user label name (a
 * configured user's name, or "unknown"); past METRICS_USERS labels it
 * counts as "unknown". Takes users_lock (a failure is no hot path). */
void metrics_user_failure(struct metrics *m, enum metrics_listener l,
                          const char *name);

/* Copies the user labels into out[0..max). Returns how many. */
int metrics_user_failures(struct metrics *m, struct metrics_user *out, int max);

#endif
