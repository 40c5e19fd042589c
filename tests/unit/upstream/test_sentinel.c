/*
 * Unit tests of the sentinel follower's thread (upstream/sentinel.h; its
 * parsers are test_sentinel_parse.c's) against a real redis-sentinel
 * watching real redis-servers: the master it names is the table's master
 * when sentinel_start returns; a master the sentinel names anew (the
 * operator re-monitors the name) is followed at a later round, the switch
 * hook told; an address named that says ROLE slave is never taken; the
 * replicas the sentinel knows become the master's replicas with replica
 * reads; a sentinel that is not there is shown down with its cause while
 * another serves; and with none answering, start gives up after its
 * timeouts with no master.
 */
#include "nodes_helpers.h"

#include <stdlib.h>
#include <sys/prctl.h>

#include "upstream/sentinel.h"

#define NAME "mymaster"

static struct unit_redis *const a = &nf.redis[0], *const b = &nf.redis[1];
static struct unit_redis sent; /* the sentinel (dir: its config) */
static struct sentinel *s;
static int switches, last_old, last_new;

static void
on_switch(void *arg, int old, int now)
{
    (void)arg;
    __atomic_add_fetch(&switches, 1, __ATOMIC_SEQ_CST);
    last_old = old;
    last_new = now;
}

static void
setup(void)
{
    nf_setup();
    memset(&sent, 0, sizeof(sent));
    s = NULL;
    switches = 0;
}

static void
teardown(void)
{
    char conf[128];

    sentinel_stop(s);
    if (sent.pid > 0) {
        snprintf(conf, sizeof(conf), "%s/sentinel.conf", sent.dir);
        unlink(conf);
        unit_redis_stop(&sent);
    }
    nf_teardown();
}

TestSuite(sentinel, .init = setup, .fini = teardown, .timeout = 60);

/* Starts a redis-sentinel watching NAME at 127.0.0.1:master_port
 * (quorum 1), knowing replica_port as its replica (0: none). */
static void
sentinel_up(int master_port, int replica_port)
{
    char conf[128], p[16];
    FILE *f;

    snprintf(sent.dir, sizeof(sent.dir), "/tmp/rp-unit-sentinel-XXXXXX");
    cr_assert_not_null(mkdtemp(sent.dir));
    snprintf(conf, sizeof(conf), "%s/sentinel.conf", sent.dir);
    sent.port = unit_free_port();
    f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "port %d\nbind 127.0.0.1\ndir %s\n"
            "sentinel monitor " NAME " 127.0.0.1 %d 1\n"
            "sentinel down-after-milliseconds " NAME " 60000\n",
            sent.port, sent.dir, master_port);
    if (replica_port > 0) {
        fprintf(f, "sentinel known-replica " NAME " 127.0.0.1 %d\n",
                replica_port);
    }
    fclose(f);
    snprintf(p, sizeof(p), "%d", sent.port);
    sent.pid = fork();
    cr_assert_geq(sent.pid, 0);
    if (sent.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (freopen("/dev/null", "w", stdout) == NULL) {
            _exit(126);
        }
        execlp("redis-sentinel", "redis-sentinel", conf, (char *)NULL);
        _exit(127);
    }
    sent.ctx = unit_redis_await(sent.pid, sent.port);
    cr_assert_not_null(sent.ctx, "redis-sentinel did not start on %s", p);
}

/* The table in sentinel mode over sentinels (a host:port list), and the
 * follower started on it. */
static void
follow(const char *sentinels, int read_from)
{
    nf_sentinel_settings(sentinels);
    nf.cfg.cache_tracking = 0;
    nf.cfg.read_from = read_from;
    nf_start();
    nodes_on_switch(nf.n, on_switch, NULL);
    s = sentinel_start(&nf.ref, nf.n, NULL);
    cr_assert_not_null(s);
}

static struct sentinel_stats
stats(void)
{
    struct sentinel_stats st;

    sentinel_stats(s, &st);
    return st;
}

static char addr_a[32], addr_b[32];

static void
two_masters(void)
{
    nf_two_servers();
    snprintf(addr_a, sizeof(addr_a), "127.0.0.1:%d", a->port);
    snprintf(addr_b, sizeof(addr_b), "127.0.0.1:%d", b->port);
}

Test(sentinel, the_named_master_is_the_tables_when_start_returns)
{
    struct sentinel_stats st;
    char list[64];

    two_masters();
    sentinel_up(a->port, 0);
    snprintf(list, sizeof(list), "127.0.0.1:%d", sent.port);
    follow(list, CONFIG_READ_MASTER);
    cr_assert_geq(nodes_master(nf.n), 0);
    cr_assert_eq(nodes_target(nf.n, nodes_master(nf.n))->port, a->port);
    cr_assert_eq(switches, 1);
    cr_assert_eq(last_old, -1);
    st = stats();
    cr_assert_str_eq(st.master_name, NAME);
    cr_assert_str_eq(st.master, addr_a);
    cr_assert_eq(st.failovers, 0);
    cr_assert_geq(st.asks, 1);
    cr_assert_eq(st.nservers, 1);
    cr_assert_eq(st.reachable, 1);
    cr_assert_str_eq(st.server[0].addr, list);
    cr_assert_str_eq(st.server[0].error, "");
    UNIT_AWAIT(8000, stats().server[0].subscribed,
               "the +switch-master feed never opened");
}

Test(sentinel, a_master_named_anew_is_followed)
{
    char list[64];

    two_masters();
    sentinel_up(a->port, 0);
    snprintf(list, sizeof(list), "127.0.0.1:%d", sent.port);
    follow(list, CONFIG_READ_MASTER);
    unit_redis_ok(sent.ctx, "SENTINEL REMOVE " NAME);
    unit_redis_ok(sent.ctx, "SENTINEL MONITOR " NAME " 127.0.0.1 %d 1",
                  b->port);
    UNIT_AWAIT(8000, strcmp(stats().master, addr_b) == 0, "still %s",
               stats().master);
    cr_assert_eq(nodes_target(nf.n, nodes_master(nf.n))->port, b->port);
    cr_assert_eq(switches, 2);
    cr_assert_eq(nodes_target(nf.n, last_old)->port, a->port);
    cr_assert_eq(last_new, nodes_master(nf.n));
    cr_assert_eq(stats().failovers, 1);
}

Test(sentinel, a_named_address_that_is_no_master_is_not_taken)
{
    char list[64];
    long asks;

    two_masters();
    sentinel_up(a->port, 0);
    snprintf(list, sizeof(list), "127.0.0.1:%d", sent.port);
    follow(list, CONFIG_READ_MASTER);
    unit_redis_ok(b->ctx, "REPLICAOF 127.0.0.1 %d", a->port);
    unit_redis_ok(sent.ctx, "SENTINEL REMOVE " NAME);
    unit_redis_ok(sent.ctx, "SENTINEL MONITOR " NAME " 127.0.0.1 %d 1",
                  b->port);
    asks = stats().asks;
    UNIT_AWAIT(8000, stats().asks >= asks + 2,
               "the sentinel was not asked again");
    cr_assert_str_eq(stats().master, addr_a, "B said ROLE slave");
    cr_assert_eq(nodes_target(nf.n, nodes_master(nf.n))->port, a->port);
    cr_assert_eq(switches, 1);
}

Test(sentinel, the_replicas_it_knows_become_the_masters_with_replica_reads)
{
    char list[64];
    int m, rep;

    two_masters();
    nf_replicate(); /* in sync before the sentinel first looks at it */
    sentinel_up(a->port, b->port);
    snprintf(list, sizeof(list), "127.0.0.1:%d", sent.port);
    follow(list, CONFIG_READ_PREFER_REPLICA);
    m = nodes_master(nf.n);
    cr_assert_eq(nodes_target(nf.n, m)->port, a->port);
    UNIT_AWAIT(8000,
               (rep = nf_node_at(b->port)) >= 0 &&
                   nodes_replicas(nf.n, m) == UINT64_C(1) << rep,
               "the replica never became a node of the master");
    cr_assert_eq(nodes_master_of(nf.n, rep), m);
}

Test(sentinel, a_sentinel_not_there_is_down_while_another_serves)
{
    struct sentinel_stats st;
    char list[96], want[64];
    int dead = unit_free_port();

    two_masters();
    sentinel_up(a->port, 0);
    snprintf(list, sizeof(list), "127.0.0.1:%d, 127.0.0.1:%d", dead, sent.port);
    follow(list, CONFIG_READ_MASTER);
    st = stats();
    cr_assert_str_eq(st.master, addr_a);
    cr_assert_eq(st.nservers, 2);
    cr_assert_eq(st.reachable, 1);
    cr_assert_eq(st.server[0].up, 0);
    snprintf(want, sizeof(want), "connect to 127.0.0.1:%d: ", dead);
    cr_assert_eq(strncmp(st.server[0].error, want, strlen(want)), 0, "%s",
                 st.server[0].error);
    cr_assert_eq(st.server[1].up, 1);
}

Test(sentinel, with_no_sentinel_answering_start_gives_up_without_a_master)
{
    char list[64], reason[128];

    snprintf(list, sizeof(list), "127.0.0.1:%d", unit_free_port());
    nf_sentinel_settings(list);
    nf.cfg.connect_timeout_ms = 100;
    nf.cfg.command_timeout_ms = 100;
    nf_start();
    s = sentinel_start(&nf.ref, nf.n, NULL);
    cr_assert_not_null(s, "no master yet is no failure");
    cr_assert_eq(nodes_master(nf.n), -1);
    cr_assert_str_eq(stats().master, "");
    cr_assert_eq(stats().reachable, 0);
    cr_assert_eq(nodes_tracking_state(nf.n, reason, sizeof(reason)),
                 TRACKING_DOWN);
}
