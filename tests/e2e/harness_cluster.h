/*
 * harness_cluster: a real Redis Cluster for the end-to-end tests, and the
 * proxy in front of it (see harness.h for the rest of the harness).
 *
 * h_cluster_start starts six redis-servers on free loopback ports (each
 * with a cluster bus port of its own, so no port + 10000 has to be free),
 * all in one temp dir, makes them a cluster of three masters with one
 * replica each with `redis-cli --cluster create --cluster-replicas 1`, and
 * waits until every node says cluster_state:ok, every node reports the
 * same slot map (masters and replicas) and every replica's link to its
 * master is up. h_cluster_stop kills them by pid and removes the dir.
 * Tests never assume which node got which role or slots: they ask
 * (h_cluster_masters, h_cluster_owner, h_cluster_key_on).
 *
 * Functions named h_cluster_* and h_cnode_* return an error; the fixture's
 * (H_CLUSTER_SUITE, h_cl_*) fail the running Criterion test instead. The
 * nodes are in harness_cluster.c; the proxy, the fixture and the shared
 * assertions in harness_cluster_fixture.c.
 * Unless it says so, nothing here is thread-safe; h_cnode_ctx's
 * connections may be used from any one thread each.
 */
#ifndef RP_E2E_HARNESS_CLUSTER_H
#define RP_E2E_HARNESS_CLUSTER_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>
#include <hiredis/hiredis.h>

#include "harness.h"

#define H_CLUSTER_NODES 6
#define H_CLUSTER_MASTERS 3
#define H_CLUSTER_SLOTS 16384

/* One node of the cluster. */
struct h_cnode {
    pid_t pid;   /* 0 when not running */
    int port;    /* client port */
    int bus;     /* cluster bus port */
    char id[48]; /* CLUSTER MYID */
};

struct h_cluster {
    struct h_cnode node[H_CLUSTER_NODES];
    char dir[256]; /* nodes-PORT.conf, redis-PORT.log, dump-PORT.rdb */
    int tls;       /* the nodes speak only TLS (h_tls_cluster_start) */
};

/* ---- the cluster (return errors) ---- */

/* Starts the six nodes (extra_args appended to every redis-server's
 * command line: NULL-terminated, or NULL), creates the cluster and waits
 * for it (h_cluster_wait_ok). Returns 0, or -1 after printing why (the
 * nodes it started still run: h_cluster_stop). */
int h_cluster_start(struct h_cluster *cl, const char *const *extra_args);
/* Starts n (1 to H_CLUSTER_NODES) masters that speak only TLS, to
 * clients and to each other (--port 0, --tls-port, --tls-cluster yes,
 * --tls-replication yes; the test certificate "server", no client
 * certificate asked of clients), node i owning the i-th of n equal slot
 * ranges (node 0 slot 0), joined by CLUSTER MEET; waits until every node
 * says cluster_state:ok and knows every other's address. The functions
 * below that use hiredis do not work on it: talk to node i with
 * H_TLS_RUN(cl->node[i].port, ...) (harness.h). Returns 0, or -1 after
 * printing why (the nodes it started still run: h_cluster_stop). */
int h_tls_cluster_start(struct h_cluster *cl, int n);
/* Kills every node still running (SIGKILL, by pid) and removes the dir
 * (unless E2E_KEEP is set). Safe to call twice. */
void h_cluster_stop(struct h_cluster *cl);
/* SIGKILL node i and reap it. */
void h_cluster_kill(struct h_cluster *cl, int i);
/* Waits up to timeout_ms until every running node says cluster_state:ok,
 * every one reports the same slot map (CLUSTER SLOTS: ranges, master,
 * replicas) and every running replica's master link is up. Returns 1, or
 * 0 at the deadline. */
int h_cluster_wait_ok(const struct h_cluster *cl, int timeout_ms);

/* A hiredis connection to node i (2 s timeouts), or NULL. */
redisContext *h_cnode_ctx(const struct h_cluster *cl, int i);
/* A command on a fresh connection to node i: the reply (freeReplyObject
 * it), or NULL when the node does not answer. */
redisReply *h_cnode_cmd(const struct h_cluster *cl, int i, const char *fmt,
                        ...);
/* The same with a va_list. */
redisReply *h_cnode_vcmd(const struct h_cluster *cl, int i, const char *fmt,
                         va_list ap);
/* The node listening on port, or -1. */
int h_cnode_index(const struct h_cluster *cl, int port);

/* The slot map as a running node sees it (the first running master that
 * answers): owner[s] = index of the master owning slot s, -1 for none.
 * Returns 0 or -1. */
int h_cluster_slot_map(const struct h_cluster *cl, int *owner);
/* The slots node i owns in owner[] (a slot map), as the proxy's /readyz
 * prints them ("0-5460", "0-299,5461-10922") into out. Returns how many. */
int h_cluster_ranges(const int *owner, int i, char *out, size_t cap);
/* The master owning slot, or -1. */
int h_cluster_owner(const struct h_cluster *cl, unsigned slot);
/* The masters into out[0..max), in the order of the first slot each
 * owns. Returns how many (-1 when no node answers). */
int h_cluster_masters(const struct h_cluster *cl, int *out, int max);
/* The running replica of master m (by CLUSTER NODES), or -1. */
int h_cluster_replica_of(const struct h_cluster *cl, int m);
/* CLUSTER KEYSLOT of key[0..len) asked of a running node, or -1. */
long h_cluster_keyslot(const struct h_cluster *cl, const char *key, size_t len);
/* The first key "<prefix><n>" (n = 0, 1, ...) whose slot master m owns,
 * by CLUSTER KEYSLOT and the slot map, into out. Returns 0 or -1. */
int h_cluster_key_on(const struct h_cluster *cl, int m, const char *prefix,
                     char *out, size_t cap);

/* n keys "<prefix><N>" (N = 0, 1, ...) whose slots lie in [from, to], by
 * CLUSTER KEYSLOT (pipelined), into out[0..n). Returns 0 or -1. */
int h_cluster_keys_in_slots(const struct h_cluster *cl, const char *prefix,
                            unsigned from, unsigned to, int n, char (*out)[64]);

/* Starts the proxy against the cluster: [redis] port = port (0: the first
 * master), cluster = on, seeds = seeds (NULL: every other node, as
 * "127.0.0.1:P,..."), then o's own INI text and options. o->ini must not
 * set [redis] cluster or seeds. Returns 0 or -1, as h_proxy_start. */
int h_cluster_proxy_start(struct h_proxy *p, const struct h_cluster *cl,
                          int port, const char *seeds,
                          const struct h_proxy_opts *o);

/* A loopback port nothing listened on a moment ago (never 6379), or -1. */
int h_closed_port(void);

/* ---- the fixture (fail the test) ---- */

/*
 * Declares the file's `cluster` and `proxy` and the Criterion suite
 * `suite` (timeout in seconds): before each test a fresh cluster is
 * started; after it, even after a failed assertion, the proxy (if the
 * test started one) and every node are stopped. Include
 * <criterion/criterion.h> first.
 */
#define H_CLUSTER_SUITE(suite, timeout_s)                                      \
    static struct h_cluster cluster;                                           \
    static struct h_proxy proxy;                                               \
    static void suite##_cluster_setup(void)                                    \
    {                                                                          \
        h_cl_setup(&cluster, &proxy);                                          \
    }                                                                          \
    static void suite##_cluster_teardown(void)                                 \
    {                                                                          \
        h_cl_teardown(&cluster, &proxy);                                       \
    }                                                                          \
    TestSuite(suite, .init = suite##_cluster_setup,                            \
              .fini = suite##_cluster_teardown, .timeout = (timeout_s))

/* The fixture's halves: zeroes cl and p and starts cl (or fails); stops p
 * (if started) and cl. */
void h_cl_setup(struct h_cluster *cl, struct h_proxy *p);
void h_cl_teardown(struct h_cluster *cl, struct h_proxy *p);
/* h_cluster_proxy_start with port 0 and seeds NULL, or fails the test. */
void h_cl_proxy(struct h_proxy *p, const struct h_cluster *cl,
                const struct h_proxy_opts *o);
/* The three masters in slot order (m[0] owns slot 0), or fails. */
void h_cl_masters(const struct h_cluster *cl, int m[H_CLUSTER_MASTERS]);
/* h_cluster_key_on, or fails. */
void h_cl_key_on(const struct h_cluster *cl, int m, const char *prefix,
                 char *out, size_t cap);
/* SET key val directly on node i, or fails. */
void h_cl_set(const struct h_cluster *cl, int i, const char *key,
              const char *val);
/* A command on node i that must not fail (an error reply or none fails
 * the test); the reply is freed. */
void h_cl_cmd_ok(const struct h_cluster *cl, int i, const char *fmt, ...);
/* "calls" of cmdstat_<cmd> in node i's INFO commandstats (0 if absent);
 * no INFO reply fails the test. */
long h_cl_calls(const struct h_cluster *cl, int i, const char *cmd);

/* Polls GET /key on p's HTTP port until it answers 200 with want (want
 * NULL: 404), for at most timeout_ms; until then only 200 with old is
 * acceptable (old NULL: nothing else; "" accepts a 404 too). Copies the
 * awaited answer's X-Cache into xc unless xc is NULL. Thread-safe. */
void h_cl_await_http(const struct h_proxy *p, const char *key, const char *want,
                     const char *old, int timeout_ms, char *xc, size_t cap);
/* The same over RESP (GET key on c; want NULL: nil): until want, only old
 * (or, for "", nil) is acceptable. Thread-safe per c. */
void h_cl_await_resp(redisContext *c, const char *key, const char *want,
                     const char *old, int timeout_ms);
/* Sends argv (NULL-terminated) on fd as a RESP array and expects exactly
 * the bytes want as its one reply (within 5 s); line names the caller in
 * failure messages. H_CL_EXPECT(fd, want, "GET", "k"). */
void h_cl_expect_argv(int fd, const char *const *argv, const char *want,
                      int line);
#define H_CL_EXPECT(fd, want, ...)                                             \
    h_cl_expect_argv((fd), (const char *const[]){__VA_ARGS__, NULL}, (want),   \
                     __LINE__)
/* (H_SEND and h_expect_reply in harness.h send without reading, and
 * read one reply.) */

/* GET path on p's admin port: its status into *status, its body
 * (malloc'd: free it), or fails. */
char *h_cl_admin_get(const struct h_proxy *p, const char *path, int *status);

#endif
