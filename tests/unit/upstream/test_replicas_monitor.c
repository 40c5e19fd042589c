/*
 * Unit tests of the replication monitor (upstream/replicas.h: its thread
 * and where replicas_pick sends a read; the choice itself and the INFO
 * parse are test_replicas.c's) against a real master and a real replica
 * of it, named to the node table as the sentinel thread names them. Off
 * with read_from = master; a replica in sync serves reads from the first
 * round on; a key being written (pending, then answered) is read from the
 * master until the replica has reached the write's round, while other
 * keys go on to the replica; a hold keeps every read on the master; a
 * replica that stops replicating is not read from (refused with replica,
 * the master with prefer_replica) and is again once it replicates.
 */
#include "nodes_helpers.h"

#include "upstream/replicas.h"

static struct unit_redis *const a = &nf.redis[0], *const b = &nf.redis[1];
static struct replicas *r;
static int m, rep; /* the master's node, the replica's */

static void
setup(void)
{
    nf_setup();
    r = NULL;
}

static void
teardown(void)
{
    replicas_stop(r);
    nf_teardown();
}

TestSuite(replicas_monitor, .init = setup, .fini = teardown, .timeout = 30);

/* a and its replica b, in sync; the table (sentinel mode, read_from)
 * told so; the monitor started. */
static void
replicated(int read_from)
{
    int err = 7;

    nf_two_servers();
    nf_replicate();
    nf_sentinel_settings(NULL);
    nf.cfg.cache_tracking = 0;
    nf.cfg.read_from = read_from;
    nf_start();
    m = nodes_set_master(nf.n, "127.0.0.1", a->port);
    cr_assert_geq(m, 0);
    cr_assert_eq(nodes_set_replicas(
                     nf.n, m, &(struct nodes_addr){"127.0.0.1", b->port}, 1),
                 1);
    rep = nf_node_at(b->port);
    r = replicas_start(&nf.ref, nf.n, &err);
    cr_assert_not_null(r);
    cr_assert_eq(err, 0);
}

/* Where a read of key goes now. */
static int
pick_key(const char *key)
{
    char err[128];

    return replicas_pick(r, m, replicas_need(r, key, strlen(key)), 0, err,
                         sizeof(err));
}

Test(replicas_monitor, off_with_read_from_master)
{
    int err = 7;

    nf_settings(1);
    nf_up();
    cr_assert_null(replicas_start(&nf.ref, nf.n, &err));
    cr_assert_eq(err, 0, "no replica reads is no failure");
}

Test(replicas_monitor, a_replica_in_sync_serves_from_the_first_round)
{
    struct replica_stats st;
    struct replicas_totals t;

    replicated(CONFIG_READ_REPLICA);
    cr_assert_eq(pick_key("k"), rep, "sampled before start returned");
    replicas_node_stats(r, rep, &st);
    cr_assert_eq(st.watched, 1);
    cr_assert_eq(st.usable, 1);
    replicas_node_stats(r, m, &st);
    cr_assert_eq(st.watched, 0, "the master is sampled, not watched");
    replicas_totals(r, &t);
    cr_assert_eq(t.to_replica, 1);
    cr_assert_geq(t.round, 1);
}

Test(replicas_monitor, a_written_key_stays_on_the_master_until_replicated)
{
    uint64_t h = written_hash("k", 1), need, next;
    struct replicas_totals t;

    replicated(CONFIG_READ_REPLICA);
    /* The write is on its way: until Redis answers, the key is pending. */
    cr_assert_eq(replicas_pending(r, h), 0);
    cr_assert_eq(pick_key("k"), m, "a write on its way: the master");
    cr_assert_eq(pick_key("other"), rep, "other keys are not held");
    unit_redis_ok(a->ctx, "SET k v");
    next = replicas_next_round(r);
    replicas_wrote_hash(r, h); /* Redis answered */
    need = replicas_need(r, "k", 1);
    cr_assert_neq(need, WRITTEN_PENDING);
    cr_assert_geq(need, next, "a round not announced when it was answered");
    UNIT_AWAIT(5000, pick_key("k") == rep,
               "the replica never reached round %llu",
               (unsigned long long)need);
    replicas_totals(r, &t);
    cr_assert_geq(t.written, 1);
    cr_assert_eq(t.refused + t.fallback, 0);
}

Test(replicas_monitor, a_hold_keeps_every_read_on_the_master)
{
    replicated(CONFIG_READ_REPLICA);
    replicas_hold(r);
    cr_assert_eq(pick_key("a"), m);
    cr_assert_eq(pick_key("b"), m);
    sleep_ms(250); /* rounds pass: still held */
    cr_assert_eq(pick_key("a"), m);
    replicas_unhold(r);
    UNIT_AWAIT(5000, pick_key("a") == rep,
               "reads never went back to the replica");
}

Test(replicas_monitor, a_replica_that_stops_replicating_is_not_read_from)
{
    char err[128];
    struct replica_stats st;

    replicated(CONFIG_READ_REPLICA);
    cr_assert_eq(pick_key("k"), rep);
    unit_redis_ok(b->ctx, "REPLICAOF NO ONE");
    UNIT_AWAIT(5000, (replicas_node_stats(r, rep, &st), !st.usable),
               "still read from as a master");
    cr_assert_eq(replicas_pick(r, m, 0, 0, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "no replica to read from (read_from = replica): "
                          "none reachable and in sync");
    unit_redis_ok(b->ctx, "REPLICAOF 127.0.0.1 %d", a->port);
    UNIT_AWAIT(5000, pick_key("k") == rep, "never read from again");
}

Test(replicas_monitor, with_prefer_replica_the_master_serves_meanwhile)
{
    struct replicas_totals t;
    struct replica_stats st;

    replicated(CONFIG_READ_PREFER_REPLICA);
    unit_redis_ok(b->ctx, "REPLICAOF NO ONE");
    UNIT_AWAIT(5000, (replicas_node_stats(r, rep, &st), !st.usable),
               "still read from as a master");
    cr_assert_eq(pick_key("k"), m);
    replicas_totals(r, &t);
    cr_assert_eq(t.fallback, 1);
    cr_assert_eq(t.refused, 0);
}
