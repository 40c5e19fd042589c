/*
 * Unit tests of serve/failover, what a change of master means to the
 * clients in sentinel mode, on a live proxy (live_helpers.h) in sentinel
 * mode in front of two redis-servers of the test's own, A and B; the test
 * plays the sentinel thread, moving the master with nodes_set_master
 * (which runs the switch hook, failover_switched). A session pinned to A
 * ends when B becomes the master: its client hears why, then is closed,
 * while a client without a session goes on. Writes a demoted master
 * refused are parked until a master is named (completed to be sent
 * again), completed at once when the master moved already, failed when
 * none comes within FAILOVER_WAIT_MS (the test's own tick, past the
 * deadline) or when the proxy stops. Outside sentinel mode pins are not
 * kept and no session is ever gone.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "serve/failover.h"
#include "serve/outcome.h"
#include "serve/rcmd.h"
#include "upstream/nodes.h"

#include "live_helpers.h"

static struct unit_redis b; /* the other server */
static int node_a, node_b;

static void
teardown(void)
{
    live_down();
    if (b.dir[0] != '\0') {
        unit_redis_stop(&b);
    }
}

TestSuite(failover, .init = live_defaults, .fini = teardown, .timeout = 30);

/* The proxy in sentinel mode (no sentinel thread: the test names the
 * master), A its master. */
static void
up_sentinel(void)
{
    snprintf(live.cfg.sentinels, sizeof(live.cfg.sentinels), "127.0.0.1:1");
    snprintf(live.cfg.master_name, sizeof(live.cfg.master_name), "m");
    live_redis(NULL);
    unit_redis_start(&b, 0, NULL);
    live_services();
    live_nodes();
    cr_assert_eq(nodes_is_sentinel(live.px.nodes), 1);
    cr_assert_eq(nodes_master(live.px.nodes), -1, "no master named yet");
    node_a = nodes_set_master(live.px.nodes, "127.0.0.1", live.redis.port);
    cr_assert_geq(node_a, 0);
    live_workers();
}

static void
switch_to_b(void)
{
    node_b = nodes_set_master(live.px.nodes, "127.0.0.1", b.port);
    cr_assert_geq(node_b, 0);
    cr_assert_neq(node_b, node_a);
    cr_assert_eq(nodes_master(live.px.nodes), node_b);
}

/* A record of a write, as a demoted master's -READONLY leaves it. */
static struct rcmd *
refused_write(void)
{
    struct rcmd *r = rcmd_new(&live.px, NULL, RCMD_FORWARD, 0);

    cr_assert_not_null(r);
    return r;
}

Test(failover, outside_sentinel_mode_nothing_is_pinned_or_gone)
{
    struct failover_pin pin = {.prev = &pin, .next = &pin};

    live_services();
    failover_pin(&live.px, &pin, 0, 1, 1);
    cr_expect_null(pin.next, "a pin was kept");
    failover_unpin(&live.px, &pin);
    cr_expect_eq(failover_session_gone(&live.px, 0), 0);
    cr_expect_eq(failover_session_gone(&live.px, 5), 0);
    cr_expect_eq(failover_waiting(&live.px), 0);
}

Test(failover, a_switch_ends_sessions_on_the_old_master_only)
{
    int sub, plain;

    up_sentinel();
    cr_expect_eq(failover_session_gone(&live.px, node_a), 0);
    sub = live_client(PROXY_RESP);
    plain = live_client(PROXY_RESP);
    client_send(sub, "SUBSCRIBE ch\r\n");
    client_expect(sub, "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    client_send(plain, "SET k 1\r\n");
    client_expect(plain, "+OK\r\n");

    switch_to_b();
    cr_expect_eq(failover_session_gone(&live.px, node_a), 1);
    cr_expect_eq(failover_session_gone(&live.px, node_b), 0);
    client_expect(sub, FAILOVER_SESSION_ENDED);
    client_expect_eof(sub);
    cr_expect_eq(atomic_load(&live.px.metrics.failover_sessions), 1);
    cr_expect_eq(atomic_load(&live.px.metrics.sessions_open), 0);

    client_send(plain, "GET k\r\nSUBSCRIBE ch\r\n");
    client_expect(plain, "$-1\r\n" /* B has no k */
                         "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    close(sub);
    close(plain);
}

Test(failover, a_parked_write_is_sent_again_when_a_master_is_named)
{
    struct rcmd *r;

    up_sentinel();
    r = refused_write();
    failover_park(&live.px, r, node_a);
    cr_expect_eq(failover_waiting(&live.px), 1);
    cr_expect_eq(rcmd_done(r), 0, "completed before any master was named");
    switch_to_b();
    cr_assert_eq(rcmd_done(r), 1, "the switch did not complete it");
    cr_expect_eq(r->reroute, 1);
    cr_expect_eq(r->status, OUTCOME_OK);
    cr_expect_eq(failover_waiting(&live.px), 0);
    rcmd_free(r);
}

Test(failover, a_write_refused_by_a_master_already_replaced_goes_at_once)
{
    struct rcmd *r;

    up_sentinel();
    switch_to_b();
    r = refused_write();
    failover_park(&live.px, r, node_a);
    cr_assert_eq(rcmd_done(r), 1);
    cr_expect_eq(r->reroute, 1);
    cr_expect_eq(failover_waiting(&live.px), 0);
    rcmd_free(r);
}

static atomic_int ticks;

static void
count_tick(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ticks, 1);
}

Test(failover, a_write_no_master_is_named_for_gets_the_failover_error)
{
    struct rcmd *r, *later;
    char line[512];

    up_sentinel();
    /* The waiter's thread runs failover_tick no more: the test's own
     * tick does, once the thread has been seen running the new hook. */
    waiter_on_tick(live.px.waiter, count_tick, NULL);
    while (atomic_load(&ticks) == 0) {
        sleep_ms(5);
    }
    r = refused_write();
    later = refused_write();
    failover_park(&live.px, r, node_a);
    failover_park(&live.px, later, node_a);
    failover_tick(&live.px);
    cr_expect_eq(rcmd_done(r), 0, "failed before its wait was over");
    r->parked_until = util_now_ms() - 1; /* FAILOVER_WAIT_MS went by */
    failover_tick(&live.px);
    cr_assert_eq(rcmd_done(r), 1);
    cr_expect_eq(rcmd_done(later), 0);
    cr_expect_eq(r->status, OUTCOME_EFAILOVER);
    cr_expect_eq(r->reroute, 0);
    outcome_resp(line, sizeof(line), r->status, r->err);
    cr_expect_str_eq(line, "-ERR the master changed (failover): the master "
                           "answered as a replica (READONLY) and the "
                           "sentinels named no other within 3000 ms; not "
                           "run\r\n");
    cr_expect_eq(failover_waiting(&live.px), 1);
    cr_expect_eq(atomic_load(&live.px.metrics.readonly_failed), 1);
    rcmd_free(r);

    failover_destroy(live.px.failover); /* the proxy stops */
    live.px.failover = failover_create(&live.px);
    cr_assert_eq(rcmd_done(later), 1);
    cr_expect_eq(later->status, OUTCOME_EFAILOVER);
    cr_expect_str_eq(later->err, "the proxy is shutting down; not run");
    cr_expect_eq(atomic_load(&live.px.metrics.readonly_failed), 2);
    rcmd_free(later);
}
