/*
 * Unit tests of the choice of a replica (upstream/replicas.h,
 * replicas_choose) and of reading INFO replication: a read goes to a
 * usable replica that has reached what it needs, those with their
 * invalidation stream up first, spread by the caller's hash; to the master
 * when replicas are usable but behind (a read of something just written);
 * when none is usable, to the master with prefer_replica, nowhere (-1)
 * with replica.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "upstream/replicas.h"

#define MASTER 0

static int
choose(const struct replica_view *v, int n, uint64_t need, uint64_t hash,
       int mode)
{
    return replicas_choose(v, n, MASTER, need, hash, mode);
}

Test(replicas_choose, a_replica_that_reached_the_need_serves)
{
    struct replica_view v[] = {
        {.node = 3, .usable = 1, .tracked = 1, .reached = 10}};

    cr_assert_eq(choose(v, 1, 10, 0, CONFIG_READ_REPLICA), 3);
    cr_assert_eq(choose(v, 1, 0, 7, CONFIG_READ_PREFER_REPLICA), 3);
}

Test(replicas_choose, replicas_behind_the_need_leave_it_to_the_master)
{
    struct replica_view v[] = {
        {.node = 3, .usable = 1, .tracked = 1, .reached = 9},
        {.node = 4, .usable = 1, .tracked = 1, .reached = 8},
    };

    /* read_from = replica too: they are there, only behind. */
    cr_assert_eq(choose(v, 2, 10, 0, CONFIG_READ_REPLICA), MASTER);
    cr_assert_eq(choose(v, 2, 10, 0, CONFIG_READ_PREFER_REPLICA), MASTER);
    cr_assert_eq(choose(v, 2, WRITTEN_PENDING, 0, CONFIG_READ_REPLICA), MASTER,
                 "a write still on its way: the master");
    cr_assert_eq(choose(v, 2, 9, 1, CONFIG_READ_REPLICA), 3,
                 "only the one that reached 9");
}

Test(replicas_choose, none_usable_prefer_replica_falls_back_replica_refuses)
{
    struct replica_view v[] = {
        {.node = 3, .usable = 0, .tracked = 1, .reached = 99},
        {.node = 4, .usable = 0, .tracked = 0, .reached = 99},
    };

    cr_assert_eq(choose(v, 2, 0, 0, CONFIG_READ_PREFER_REPLICA), MASTER);
    cr_assert_eq(choose(v, 2, 0, 0, CONFIG_READ_REPLICA), -1);
    cr_assert_eq(choose(NULL, 0, 0, 0, CONFIG_READ_REPLICA), -1,
                 "no replica known");
    cr_assert_eq(choose(NULL, 0, 0, 0, CONFIG_READ_PREFER_REPLICA), MASTER);
}

Test(replicas_choose, the_hash_spreads_reads_over_those_that_fit)
{
    struct replica_view v[] = {
        {.node = 3, .usable = 1, .tracked = 1, .reached = 10},
        {.node = 4, .usable = 0, .tracked = 1, .reached = 10},
        {.node = 5, .usable = 1, .tracked = 1, .reached = 10},
        {.node = 6, .usable = 1, .tracked = 1, .reached = 2},
    };
    int seen[8] = {0};
    uint64_t hash;

    for (hash = 0; hash < 100; hash++) {
        seen[choose(v, 4, 5, hash, CONFIG_READ_REPLICA)]++;
    }
    cr_assert_eq(seen[3], 50);
    cr_assert_eq(seen[5], 50);
    cr_assert_eq(seen[4] + seen[6] + seen[MASTER], 0);
    /* One hash, one replica: a client's reads stay on one. */
    cr_assert_eq(choose(v, 4, 5, 42, CONFIG_READ_REPLICA),
                 choose(v, 4, 5, 42, CONFIG_READ_REPLICA));
}

Test(replicas_choose, replicas_with_their_stream_up_come_first)
{
    struct replica_view v[] = {
        {.node = 3, .usable = 1, .tracked = 0, .reached = 10},
        {.node = 4, .usable = 1, .tracked = 1, .reached = 10},
    };
    uint64_t hash;

    for (hash = 0; hash < 10; hash++) {
        cr_assert_eq(choose(v, 2, 0, hash, CONFIG_READ_REPLICA), 4);
    }
    v[1].tracked = 0; /* none tracked: still read from, not cached */
    cr_assert_eq(choose(v, 2, 0, 0, CONFIG_READ_REPLICA), 3);
    cr_assert_eq(choose(v, 2, 0, 1, CONFIG_READ_REPLICA), 4);
}

static const char master_info[] =
    "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
    "slave0:ip=127.0.0.1,port=7002,state=online,offset=1234,lag=0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:3047c010ba41c07eae9869882c9d20baedde03d5\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:1250\r\nsecond_repl_offset:-1\r\n";

static const char replica_info[] =
    "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\n"
    "master_port:7001\r\nmaster_link_status:up\r\n"
    "master_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\n"
    "slave_read_repl_offset:1250\r\nslave_repl_offset:1234\r\n"
    "master_replid:3047c010ba41c07eae9869882c9d20baedde03d5\r\n"
    "master_repl_offset:1250\r\n";

Test(replicas_info, a_master_says_its_id_and_offset)
{
    struct repl_info ri;

    cr_assert_eq(replicas_parse_info(master_info, strlen(master_info), &ri), 0);
    cr_assert_eq(ri.master, 1);
    cr_assert_str_eq(ri.replid, "3047c010ba41c07eae9869882c9d20baedde03d5");
    cr_assert_eq(ri.offset, 1250);
}

Test(replicas_info, a_replica_says_what_it_applied_not_what_it_read)
{
    struct repl_info ri;

    cr_assert_eq(replicas_parse_info(replica_info, strlen(replica_info), &ri),
                 0);
    cr_assert_eq(ri.master, 0);
    cr_assert_eq(ri.link_up, 1);
    cr_assert_eq(ri.offset, 1234, "slave_repl_offset, not the read one");
    cr_assert_str_eq(ri.master_host, "10.0.0.1");
    cr_assert_eq(ri.master_port, 7001);
}

Test(replicas_info, a_link_down_or_no_role_is_said)
{
    static const char down[] =
        "role:slave\nmaster_link_status:down\nslave_repl_offset:x\n";
    struct repl_info ri;

    cr_assert_eq(replicas_parse_info(down, strlen(down), &ri), 0);
    cr_assert_eq(ri.link_up, 0);
    cr_assert_eq(ri.offset, -1, "an offset that is no number");
    cr_assert_eq(replicas_parse_info("# Replication\r\n", 15, &ri), -1);
    /* A field name inside another is not it. */
    cr_assert_eq(replicas_parse_info("xrole:master\n", 13, &ri), -1);
}
