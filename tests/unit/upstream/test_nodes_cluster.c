/*
 * Unit tests of the node table learning a real Redis Cluster's map
 * (upstream/nodes.h, nodes_map.c): three masters started here
 * (cluster_helpers.h), reached through a [redis] seeds entry while the
 * configured host:port answers nothing. The map learned names the real
 * owner of every one of the 16384 slots (Redis serves keys routed by it
 * without MOVED), each master has its own stream, whose loss expires only
 * the keys of its own slots. When a slot moves, the map stays as it was
 * until a refresh is asked for and the keeper's tick (nodes_tick) runs
 * it: then the slot has its new owner, its entries are expired and its
 * fills marked, the epoch moves, and nothing else is touched.
 *
 * One cluster for the file, so the cluster's states are walked through
 * in one test, step by step; the map not learned when no seed answers is
 * a test of its own.
 */
#include "nodes_helpers.h"

TestSuite(nodes_cluster, .init = nf_setup, .fini = nf_teardown, .timeout = 60);

/* The cluster node owning slot s at the start. */
static int
first_owner(unsigned s)
{
    int k = 0;

    while (k + 1 < CLUSTER_NODES && (int)s >= cluster_first_slot(k + 1)) {
        k++;
    }
    return k;
}

/* The table, in cluster mode, learns from seeds after a dead host:port. */
static void
learn(void)
{
    nf_settings(unit_free_port()); /* nothing answers there */
    nf.cfg.cluster = 1;
    nf.cfg.cluster_refresh_ms = 600000; /* only when asked, here */
    snprintf(nf.cfg.seeds, sizeof(nf.cfg.seeds), "127.0.0.1:%d",
             nf.cl.node[2].port);
    nf_up();
    cr_assert_eq(nodes_start(nf.n), 0);
    cr_assert_eq(nodes_mode(nf.n), NODES_CLUSTER);
    cr_assert_eq(nodes_count(nf.n), CLUSTER_NODES);
    nf_cluster_map();
}

static void
map_names_every_real_owner(void)
{
    static const char *ranges[CLUSTER_NODES] = {"0-5460", "5461-10921",
                                                "10922-16383"};
    char key[32], got[128];
    struct node_stats st;
    int masters[8];

    for (unsigned s = 0; s < NODES_SLOTS; s++) {
        cr_assert_eq(nodes_for_slot(nf.n, s), nf.idx[first_owner(s)], "slot %u",
                     s);
    }
    for (int i = 0; i < 300; i++) {
        int len = snprintf(key, sizeof(key), "user:%d", i);
        int node = nodes_for_key(nf.n, key, (size_t)len);

        nf_get_on(node, key, got, sizeof(got));
        cr_assert_str_eq(got, "", "%s on node %d: %s", key, node, got);
    }
    cr_assert_eq(nodes_masters(nf.n, masters, 8), CLUSTER_NODES);
    for (int k = 0; k < CLUSTER_NODES; k++) {
        nodes_stats(nf.n, nf.idx[k], &st);
        cr_assert_eq(st.role, NODE_MASTER);
        cr_assert_str_eq(st.ranges, ranges[k]);
        cr_assert_eq(st.slots,
                     cluster_first_slot(k + 1) - cluster_first_slot(k));
        cr_assert_eq(nodes_target(nf.n, nf.idx[k])->db, 0);
    }
    cr_assert_eq(nodes_epoch(nf.n), 0, "nothing moved yet");
}

/* Each master has its own stream; losing one expires its keys only. */
static void
a_lost_stream_expires_its_own_slots_only(void)
{
    char on0[32], on1[32], sid[32];
    long long id;
    uint64_t gen;
    redisReply *r;

    nodes_wait_first(nf.n, 5000);
    cr_assert_eq(nodes_tracking_state(nf.n, NULL, 0), TRACKING_UP);
    nf_key_in_slot(on0, sizeof(on0), "a", 100);
    nf_key_in_slot(on1, sizeof(on1), "b", 6000);
    coh_put(on0);
    coh_put(on1);
    cr_assert_eq(tracking_state(nodes_tracking(nf.n, nf.idx[0]), &id, &gen),
                 TRACKING_UP);
    snprintf(sid, sizeof(sid), "%lld", id);
    r = cluster_cmd(&nf.cl, 0, "CLIENT KILL ID %s", sid);
    cr_assert_eq(r->integer, 1, "node 0's stream is a client of node 0");
    freeReplyObject(r);
    cr_assert(coh_await(on0, COH_EXPIRED, 5000), "%s stayed", on0);
    cr_assert_eq(coh_state(on1), COH_LIVE, "another node's key");
}

/* A slot moves: nothing changes until a refresh is asked and ticked. */
static void
a_moved_slot_follows_at_the_next_asked_refresh(void)
{
    const unsigned slot = 200, beside = 201;
    char moved[32], stays[32], got[128];
    struct coh_fill fi;
    struct node_stats st;
    uint64_t epoch = nodes_epoch(nf.n);

    nf_key_in_slot(moved, sizeof(moved), "m", slot);
    nf_key_in_slot(stays, sizeof(stays), "s", beside);
    coh_put(moved);
    coh_put(stays);
    coh_fill_start(&fi, moved);
    cluster_move_slot(&nf.cl, slot, 2);
    nodes_tick(nf.n);
    cr_assert_eq(nodes_for_slot(nf.n, slot), nf.idx[0], "not asked: not yet");
    cr_assert_eq(nodes_epoch(nf.n), epoch);
    nodes_want_refresh(nf.n);
    nodes_tick(nf.n);
    cr_assert_eq(nodes_for_slot(nf.n, slot), nf.idx[2]);
    cr_assert_eq(nodes_for_slot(nf.n, beside), nf.idx[0]);
    cr_assert_eq(nodes_epoch(nf.n), epoch + 1);
    cr_assert_eq(coh_state(moved), COH_EXPIRED, "read from the old owner");
    cr_assert_eq(coh_state(stays), COH_LIVE);
    cr_assert_eq(coh_fill_end(&fi), 0, "a fill that asked the old owner");
    nf_get_on(nodes_for_key(nf.n, moved, strlen(moved)), moved, got,
              sizeof(got));
    cr_assert_str_eq(got, "", "the new owner serves it: %s", got);
    nodes_stats(nf.n, nf.idx[0], &st);
    cr_assert_eq(st.slots, cluster_first_slot(1) - 1);
    cr_assert_str_eq(st.ranges, "0-199,201-5460");
    nodes_stats(nf.n, nf.idx[2], &st);
    cr_assert_eq(st.slots, NODES_SLOTS - cluster_first_slot(2) + 1);
    cr_assert_str_eq(st.ranges, "200,10922-16383");
    /* A refresh that finds nothing moved moves no epoch. */
    nodes_want_refresh(nf.n);
    nodes_tick(nf.n);
    cr_assert_eq(nodes_epoch(nf.n), epoch + 1);
}

Test(nodes_cluster, learns_the_map_from_a_seed_and_follows_a_moved_slot)
{
    cluster_start(&nf.cl);
    learn();
    map_names_every_real_owner();
    a_lost_stream_expires_its_own_slots_only();
    a_moved_slot_follows_at_the_next_asked_refresh();
}

Test(nodes_cluster, no_map_until_a_seed_answers)
{
    char reason[128];

    nf_settings(unit_free_port());
    nf.cfg.cluster = 1;
    nf_up();
    cr_assert_eq(nodes_start(nf.n), 0, "a failure is retried later");
    cr_assert_eq(nodes_count(nf.n), 0);
    cr_assert_eq(nodes_for_key(nf.n, "a", 1), -1);
    cr_assert_eq(nodes_master(nf.n), -1);
    cr_assert_eq(nodes_want_taken(nf.n), 1, "a refresh was asked for");
    cr_assert_eq(nodes_tracking_state(nf.n, reason, sizeof(reason)),
                 TRACKING_DOWN);
    cr_assert_str_eq(reason, "no cluster slot map yet");
}
