/*
 * harness_sentinel: Redis Sentinel for the end-to-end tests (see harness.h
 * for the rest of the harness), and the proxy in front of it.
 *
 * h_sent_start starts a master and two replicas (redis-server, diskless
 * replication without delay) and three sentinels (Debian's
 * redis-sentinel) on free loopback ports, all in one temp dir, the
 * sentinels watching the master as H_SENT_NAME with quorum 2 and
 * down-after-milliseconds H_SENT_DOWN_MS. Each sentinel's file names the
 * other sentinels and the replicas from the start (known-sentinel,
 * known-replica, its own myid), so nothing waits for discovery; it waits
 * until every replica's link is up and every sentinel sees the master,
 * two replicas and two other sentinels. Optionally one replica replicates
 * through tools/delay_relay (build/tools/delay_relay, or
 * $DELAY_RELAY_BIN) holding bytes a given time each way. h_sent_stop
 * kills everything by pid and removes the dir. Tests never assume which
 * node is the master after a failover: they ask (h_sent_master).
 *
 * Also a scripted sentinel (struct h_fakesent): a thread answering SENTINEL
 * get-master-addr-by-name with an address the test sets, SENTINEL replicas
 * with none, PING, and SUBSCRIBE (it can publish +switch-master), for the
 * tests that need the proxy not to hear of a failover until they say.
 *
 * Functions named h_sent_* return an error; the fixture's (h_st_*) fail the
 * running Criterion test instead. Nothing here is thread-safe unless it
 * says so.
 */
#ifndef RP_E2E_HARNESS_SENTINEL_H
#define RP_E2E_HARNESS_SENTINEL_H

#include <pthread.h>
#include <stdarg.h>
#include <sys/types.h>
#include <hiredis/hiredis.h>

#include "harness.h"

#define H_SENT_REDIS 3     /* a master and two replicas */
#define H_SENT_SENTINELS 3 /* quorum 2 */
#define H_SENT_NAME "rpmaster"
#define H_SENT_DOWN_MS 1000 /* down-after-milliseconds */

struct h_snode {
    pid_t pid; /* 0 when not running */
    int port;
};

struct h_sentinels {
    struct h_snode redis[H_SENT_REDIS]; /* [0] is the first master */
    struct h_snode sentinel[H_SENT_SENTINELS];
    struct h_snode relay; /* delay_relay, when one replica uses it */
    int relayed;          /* the replica behind the relay, or -1 */
    char dir[256];
};

/* How to start. */
struct h_sent_opts {
    int delay_us; /* > 0: redis[2] replicates through a relay holding
                     bytes this long each way */
    const char *const *redis_args; /* extra redis-server arguments, or NULL */
};

/* Starts everything (o may be NULL) and waits until it has settled (see
 * the top). Returns 0, or -1 after printing why (what started still runs:
 * h_sent_stop). */
int h_sent_start(struct h_sentinels *s, const struct h_sent_opts *o);
/* Kills everything still running (SIGKILL, by pid), removes the dir
 * (unless E2E_KEEP is set). Safe to call twice. */
void h_sent_stop(struct h_sentinels *s);

/* A command on a fresh connection to redis node i / sentinel i (2 s
 * timeouts): the reply (freeReplyObject it), or NULL. */
redisReply *h_sent_redis_cmd(const struct h_sentinels *s, int i,
                             const char *fmt, ...);
redisReply *h_sent_sentinel_cmd(const struct h_sentinels *s, int i,
                                const char *fmt, ...);
/* A hiredis connection to redis node i, or NULL. */
redisContext *h_sent_redis_ctx(const struct h_sentinels *s, int i);

/* The redis node the running sentinels name as master when all of those
 * that answer agree and it says ROLE master; else -1. */
int h_sent_master(const struct h_sentinels *s);
/* Waits up to timeout_ms until h_sent_master is a node other than not
 * (-1: any). Returns it, or -1. */
int h_sent_wait_master(const struct h_sentinels *s, int not, int timeout_ms);
/* Waits up to timeout_ms until every running replica of master m has its
 * link up and what m has written (master_repl_offset). Returns 1 or 0. */
int h_sent_wait_synced(const struct h_sentinels *s, int m, int timeout_ms);
/* Stops (SIGKILL, reaped) redis node i / sentinel i. */
void h_sent_kill_redis(struct h_sentinels *s, int i);
void h_sent_kill_sentinel(struct h_sentinels *s, int i);
/* "calls" of cmdstat_<cmd> on redis node i (0 if absent, -1 when it does
 * not answer). */
long h_sent_calls(const struct h_sentinels *s, int i, const char *cmd);

/* "127.0.0.1:P,..." of every sentinel, into out. */
void h_sent_list(const struct h_sentinels *s, char *out, size_t cap);
/* Starts the proxy in front: [redis] sentinels = every sentinel,
 * master_name, then o's INI text (which must not set those) and options.
 * Returns 0 or -1, as h_proxy_start. */
int h_sent_proxy_start(struct h_proxy *p, const struct h_sentinels *s,
                       const struct h_proxy_opts *o);

/* ---- a scripted sentinel ---- */

struct h_fakesent {
    int port;
    int lfd;
    pthread_t thread;
    int running;
    int stopfd;
    pthread_mutex_t lock;
    int master_port; /* what get-master-addr-by-name answers; lock */
    long asks;       /* get-master-addr-by-name answered; lock */
    int subs[8];     /* subscribed connections; lock */
    int nsubs;
};
/* Starts it on a free port answering master_port. Returns 0 or -1. */
int h_fakesent_start(struct h_fakesent *f, int master_port);
/* From now on it names master_port; with announce, every subscriber also
 * gets +switch-master "<H_SENT_NAME> 127.0.0.1 <old> 127.0.0.1 <new>". */
void h_fakesent_set(struct h_fakesent *f, int master_port, int announce);
/* get-master-addr-by-name answered so far. Thread-safe. */
long h_fakesent_asks(struct h_fakesent *f);
/* Stops the thread and closes every socket. Safe on a zeroed struct. */
void h_fakesent_stop(struct h_fakesent *f);

/* ---- the fixture (fail the test) ---- */

/*
 * Declares the file's `sent` and `proxy` and the Criterion suite `suite`
 * (timeout in seconds): before each test both are zeroed (nothing is
 * started: each test starts what it needs, with h_st_start); after it,
 * even after a failed assertion, the proxy and every process started are
 * stopped. Include <criterion/criterion.h> first.
 */
#define H_SENTINEL_SUITE(suite, timeout_s)                                     \
    static struct h_sentinels sent;                                            \
    static struct h_proxy proxy;                                               \
    static void suite##_sent_setup(void)                                       \
    {                                                                          \
        h_st_setup(&sent, &proxy);                                             \
    }                                                                          \
    static void suite##_sent_teardown(void)                                    \
    {                                                                          \
        h_st_teardown(&sent, &proxy);                                          \
    }                                                                          \
    TestSuite(suite, .init = suite##_sent_setup,                               \
              .fini = suite##_sent_teardown, .timeout = (timeout_s))

void h_st_setup(struct h_sentinels *s, struct h_proxy *p);
void h_st_teardown(struct h_sentinels *s, struct h_proxy *p);
/* h_sent_start, or fails the test. */
void h_st_start(struct h_sentinels *s, const struct h_sent_opts *o);
/* h_sent_proxy_start, then h_proxy_serving (its startup, the sentinels
 * asked, is over), or fails the test. */
void h_st_proxy(struct h_proxy *p, const struct h_sentinels *s,
                const struct h_proxy_opts *o);
/* GET path on p's admin port: its body (malloc'd), or fails. */
char *h_st_admin(const struct h_proxy *p, const char *path);

#endif
