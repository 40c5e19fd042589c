/*
 * Unit tests of the node table (upstream/nodes.h) outside a cluster:
 * standalone, one node at the configured Redis owning every slot, in the
 * configured database, its stream's losses covering every key, refreshes
 * and redirects meaning nothing; sentinel mode, no master until the
 * sentinel thread names one (routing answers -1 and asks for a refresh
 * through the want fd), then a named master owning every slot, the cache
 * emptied and the fills marked at each change of master (not when the
 * same one is named again), the switch hook called with the old and new
 * master, and with replica reads its replicas as nodes of their own; at
 * most NODES_MAX nodes are ever made. The test plays the sentinel thread
 * (nodes_set_master, nodes_set_replicas); the Redis servers are real.
 */
#include "nodes_helpers.h"

#include <poll.h>

static struct unit_redis *const a = &nf.redis[0], *const b = &nf.redis[1];

TestSuite(nodes, .init = nf_setup, .fini = nf_teardown, .timeout = 30);

/* 1 when a refresh was asked for through the want fd. */
static int
want_readable(void)
{
    struct pollfd pfd = {.fd = nodes_want_fd(nf.n), .events = POLLIN};

    return poll(&pfd, 1, 0) == 1;
}

/* ---- standalone ---- */

Test(nodes, standalone_is_one_node_owning_every_slot_in_its_db)
{
    struct node_stats st;
    int masters[4], ask = 7;

    unit_redis_start(a, 0, NULL);
    nf_settings(a->port);
    nf.cfg.redis_db = 3;
    nf_up();
    cr_assert_eq(nodes_mode(nf.n), NODES_STANDALONE);
    cr_assert_eq(nodes_is_cluster(nf.n) + nodes_is_sentinel(nf.n), 0);
    cr_assert_eq(nodes_count(nf.n), 0, "no node before the start");
    cr_assert_eq(nodes_start(nf.n), 0);
    cr_assert_eq(nodes_count(nf.n), 1);
    cr_assert_eq(nodes_target(nf.n, 0)->port, a->port);
    cr_assert_eq(nodes_target(nf.n, 0)->db, 3);
    cr_assert_eq(nodes_for_key(nf.n, "a", 1), 0);
    cr_assert_eq(nodes_for_key(nf.n, "{x}y", 4), 0);
    cr_assert_eq(nodes_for_slot(nf.n, 16383), 0);
    cr_assert_eq(nodes_master(nf.n), 0);
    cr_assert_eq(nodes_any(nf.n), 0);
    cr_assert_eq(nodes_masters(nf.n, masters, 4), 1);
    cr_assert_eq(masters[0], 0);
    nodes_stats(nf.n, 0, &st);
    cr_assert_str_eq(st.ranges, "0-16383");
    cr_assert_eq(st.slots, NODES_SLOTS);
    cr_assert_eq(st.role, NODE_MASTER);
    cr_assert_str_eq(st.master_addr, "");
    /* Nothing to refresh, nowhere to be redirected. */
    nodes_want_refresh(nf.n);
    cr_assert_eq(want_readable(), 0);
    cr_assert_eq(nodes_want_taken(nf.n), 0);
    nodes_tick(nf.n);
    cr_assert_eq(nodes_redirect(nf.n, "MOVED 1 127.0.0.1:1", 19, &ask), -1);
    cr_assert_eq(nodes_count(nf.n), 1);
    cr_assert_eq(nodes_epoch(nf.n), 0);
}

Test(nodes, standalone_stream_losses_cover_every_key)
{
    struct tracking_stats st;
    char reason[128] = "x", sid[32];
    long long id;
    uint64_t gen;
    redisReply *r;

    unit_redis_start(a, 0, NULL);
    nf_settings(a->port);
    nf_start();
    nodes_wait_first(nf.n, 5000);
    cr_assert_eq(nodes_tracking_state(nf.n, reason, sizeof(reason)),
                 TRACKING_UP);
    cr_assert_str_eq(reason, "");
    cr_assert_eq(tracking_state(nodes_tracking(nf.n, 0), &id, &gen),
                 TRACKING_UP);
    coh_put("a");
    coh_put("{x}b");
    coh_put_db(9, "c");
    snprintf(sid, sizeof(sid), "%lld", id);
    r = redisCommand(a->ctx, "CLIENT KILL ID %s", sid);
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    cr_assert(coh_await("a", COH_EXPIRED, 5000), "the loss expired it");
    cr_assert_eq(coh_state("{x}b"), COH_EXPIRED, "every slot");
    cr_assert_eq(coh_state_db(9, "c"), COH_EXPIRED, "every database");
    nodes_tracking_totals(nf.n, &st);
    cr_assert_eq(st.drops, 1);
}

/* ---- sentinel mode ---- */

static int switches, switch_old, switch_new;

static void
on_switch(void *arg, int old, int now)
{
    cr_assert_eq(arg, &switches);
    switches++;
    switch_old = old;
    switch_new = now;
}

/* Sentinel mode (sentinels that are never asked: the test names the
 * master), tracking on or off. */
static void
sentinel_mode(int tracking)
{
    nf_sentinel_settings(NULL);
    nf.cfg.cache_tracking = tracking;
    nf_start();
    nodes_on_switch(nf.n, on_switch, &switches);
    switches = 0;
    cr_assert_eq(nodes_mode(nf.n), NODES_SENTINEL);
    cr_assert_eq(nodes_is_sentinel(nf.n), 1);
}

Test(nodes, sentinel_mode_has_no_master_until_one_is_named)
{
    char reason[128];

    sentinel_mode(1);
    cr_assert_eq(nodes_count(nf.n), 0);
    cr_assert_eq(want_readable(), 0);
    cr_assert_eq(nodes_for_key(nf.n, "a", 1), -1);
    cr_assert_eq(want_readable(), 1, "the sentinel thread is woken");
    cr_assert_eq(nodes_master(nf.n), -1);
    cr_assert_eq(nodes_any(nf.n), -1);
    cr_assert_eq(nodes_want_taken(nf.n), 1);
    cr_assert_eq(want_readable(), 0, "taken");
    cr_assert_eq(nodes_want_taken(nf.n), 0);
    cr_assert_eq(nodes_tracking_state(nf.n, reason, sizeof(reason)),
                 TRACKING_DOWN);
    cr_assert_str_eq(reason, "no master named by the sentinels yet");
}

Test(nodes, a_new_master_empties_the_cache_and_calls_the_hook)
{
    struct coh_fill fi;
    struct node_stats st;
    int masters[4];

    nf_two_servers();
    sentinel_mode(1);
    coh_put("k");
    coh_fill_start(&fi, "f");
    cr_assert_eq(nodes_set_master(nf.n, "127.0.0.1", a->port), 0);
    cr_assert_eq(switches, 1);
    cr_assert_eq(switch_old, -1, "no master before");
    cr_assert_eq(switch_new, 0);
    cr_assert_eq(nodes_for_key(nf.n, "k", 1), 0);
    cr_assert_eq(nodes_master(nf.n), 0);
    cr_assert_eq(nodes_epoch(nf.n), 1);
    cr_assert_eq(coh_state("k"), COH_GONE);
    cr_assert_eq(coh_fill_end(&fi), 0, "a fill from before is not stored");
    nodes_wait_first(nf.n, 5000);
    cr_assert_eq(nodes_tracking_state(nf.n, NULL, 0), TRACKING_UP,
                 "the master's own stream");
    /* Named again: nothing changes. */
    coh_put("k");
    cr_assert_eq(nodes_set_master(nf.n, "127.0.0.1", a->port), 0);
    cr_assert_eq(switches, 1);
    cr_assert_eq(nodes_epoch(nf.n), 1);
    cr_assert_eq(coh_state("k"), COH_LIVE);
    /* A failover: the other one. */
    coh_fill_start(&fi, "f");
    cr_assert_eq(nodes_set_master(nf.n, "127.0.0.1", b->port), 1);
    cr_assert_eq(switches, 2);
    cr_assert_eq(switch_old, 0);
    cr_assert_eq(switch_new, 1);
    cr_assert_eq(nodes_epoch(nf.n), 2);
    cr_assert_eq(coh_state("k"), COH_GONE);
    cr_assert_eq(coh_fill_end(&fi), 0);
    cr_assert_eq(nodes_for_slot(nf.n, 12345), 1);
    cr_assert_eq(nodes_masters(nf.n, masters, 4), 1);
    cr_assert_eq(masters[0], 1);
    nodes_stats(nf.n, 0, &st);
    cr_assert_eq(st.role, NODE_IDLE, "the old master owns nothing");
    cr_assert_eq(st.slots, 0);
    nodes_stats(nf.n, 1, &st);
    cr_assert_eq(st.role, NODE_MASTER);
    cr_assert_str_eq(st.ranges, "0-16383");
}

Test(nodes, replicas_are_nodes_of_their_master_with_replica_reads)
{
    struct nodes_addr r[2] = {{"127.0.0.1", 7002}, {"127.0.0.1", 7003}};
    struct node_stats st;

    nf_sentinel_settings(NULL);
    nf.cfg.cache_tracking = 0; /* no stream: nothing connects */
    nf.cfg.read_from = CONFIG_READ_REPLICA;
    nf_start();
    cr_assert_eq(nodes_set_replicas(nf.n, -1, r, 2), 0, "no master yet");
    cr_assert_eq(nodes_set_master(nf.n, "127.0.0.1", 7001), 0);
    cr_assert_eq(nodes_set_replicas(nf.n, 0, r, 2), 2);
    cr_assert_eq(nodes_count(nf.n), 3);
    cr_assert_eq(nodes_replicas(nf.n, 0), UINT64_C(0x6));
    cr_assert_eq(nodes_master_of(nf.n, 1), 0);
    cr_assert_eq(nodes_master_of(nf.n, 2), 0);
    cr_assert_eq(nodes_master_of(nf.n, 0), -1);
    nodes_stats(nf.n, 2, &st);
    cr_assert_eq(st.role, NODE_REPLICA);
    cr_assert_str_eq(st.master_addr, "127.0.0.1:7001");
    cr_assert_eq(st.slots, 0);
    /* One of them is no longer listed: it stops being a replica. */
    cr_assert_eq(nodes_set_replicas(nf.n, 0, r + 1, 1), 1);
    cr_assert_eq(nodes_replicas(nf.n, 0), UINT64_C(0x4));
    cr_assert_eq(nodes_master_of(nf.n, 1), -1);
    nodes_stats(nf.n, 1, &st);
    cr_assert_eq(st.role, NODE_IDLE);
    /* The master listed as its own replica is not one. */
    cr_assert_eq(
        nodes_set_replicas(nf.n, 0, &(struct nodes_addr){"127.0.0.1", 7001}, 1),
        0);
    cr_assert_eq(nodes_replicas(nf.n, 0), 0);
}

Test(nodes, without_replica_reads_replicas_are_not_nodes)
{
    struct nodes_addr r = {"127.0.0.1", 7002};

    sentinel_mode(0);
    cr_assert_eq(nodes_set_master(nf.n, "127.0.0.1", 7001), 0);
    cr_assert_eq(nodes_set_replicas(nf.n, 0, &r, 1), 0);
    cr_assert_eq(nodes_count(nf.n), 1);
    cr_assert_eq(nodes_replicas(nf.n, 0), 0);
    cr_assert_eq(nodes_replicas(nf.n, 5), 0, "no such node");
}

Test(nodes, at_most_nodes_max_are_ever_made)
{
    static struct nodes_addr r[NODES_MAX + 6];

    nf_sentinel_settings(NULL);
    nf.cfg.cache_tracking = 0;
    nf.cfg.read_from = CONFIG_READ_PREFER_REPLICA;
    nf_start();
    cr_assert_eq(nodes_set_master(nf.n, "127.0.0.1", 10000), 0);
    for (int i = 0; i < NODES_MAX + 6; i++) {
        snprintf(r[i].host, sizeof(r[i].host), "127.0.0.1");
        r[i].port = 10001 + i;
    }
    cr_assert_eq(nodes_set_replicas(nf.n, 0, r, NODES_MAX + 6), NODES_MAX - 1,
                 "every node that could be made");
    cr_assert_eq(nodes_count(nf.n), NODES_MAX);
    cr_assert_eq(nodes_replicas(nf.n, 0), ~UINT64_C(1));
    cr_assert_eq(nodes_set_master(nf.n, "127.0.0.1", 20000), -1, "no room");
    cr_assert_eq(nodes_master(nf.n), 0, "the master stays");
    cr_assert_eq(nodes_set_master(nf.n, "127.0.0.1", 10005), 5,
                 "a known node can still become the master");
}
