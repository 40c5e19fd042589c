/*
 * Unit tests of the housekeeping thread (upstream/keeper.h) over a real
 * node table, driven as the proxy drives it (pipe_helpers.h's event loop
 * for the pools). Its tick reads the command table once Redis is there,
 * and again after an outage (a Redis restarted with 7 databases rather
 * than 16: what the server says of itself is read again once the pool
 * reconnected); its spares are opened at its start and refilled as soon as one
 * is taken; in a cluster (three masters, cluster_helpers.h) a refresh
 * asked for is run by its tick, and a moved slot followed.
 */
#include "cluster_helpers.h"
#include "pipe_helpers.h"

#include "upstream/keeper.h"
#include "upstream/nodes.h"
#include "upstream/spares.h"

static struct unit_redis server;
static struct unit_cluster cl;
static struct nodes *n;
static struct commands *cmds;
static struct spares *sp;
static struct keeper *k;

static void
setup(void)
{
    pipe_setup();
    memset(&server, 0, sizeof(server));
    memset(&cl, 0, sizeof(cl));
    n = NULL;
    cmds = NULL;
    sp = NULL;
    k = NULL;
}

static void
teardown(void)
{
    keeper_destroy(k);
    fx_loop_stop();
    nodes_destroy(n);
    commands_destroy(cmds);
    spares_destroy(sp);
    pipe_teardown();
    if (server.pid > 0) {
        unit_redis_stop(&server);
    }
    for (int i = 0; i < CLUSTER_NODES; i++) {
        if (cl.node[i].pid > 0) {
            unit_redis_stop(&cl.node[i]);
        }
    }
}

TestSuite(keeper, .init = setup, .fini = teardown, .timeout = 60);

/* The node table for Redis at port (a cluster's seed when cluster), on
 * the event loop, and an empty command table. */
static void
table_at(int port, int cluster)
{
    fx_base_up(port, 0);
    snprintf(fx.cfg.redis_host, sizeof(fx.cfg.redis_host), "127.0.0.1");
    fx.cfg.redis_port = port;
    fx.cfg.cluster = cluster;
    fx.cfg.cluster_refresh_ms = 600000; /* only when asked */
    n = nodes_create(&fx.ref, fx.flights, fx.w, NULL);
    cr_assert_not_null(n);
    cr_assert_eq(nodes_start(n), 0);
    cmds = commands_create();
    cr_assert_not_null(cmds);
}

/* 1 when the current command table knows name. */
static int
knows(const char *name)
{
    struct resp_arg a = {name, strlen(name)};
    int found = commands_find(commands_acquire(cmds), &a, 1) != NULL;

    commands_release(cmds);
    return found;
}

/* The databases the last table read said the server has. */
static int
databases(void)
{
    char version[32];
    int dbs;

    commands_server(cmds, version, sizeof(version), &dbs);
    return dbs;
}

static size_t
commands_now(void)
{
    size_t c = commands_count(commands_acquire(cmds));

    commands_release(cmds);
    return c;
}

Test(keeper, its_tick_reads_the_command_table_once_redis_is_there)
{
    unit_redis_start(&server, 0, NULL);
    table_at(server.port, 0);
    cr_assert_eq(commands_now(), 0, "nothing read yet");
    k = keeper_create(n, cmds, NULL);
    cr_assert_not_null(k);
    UNIT_AWAIT(5000, commands_now() > 200, "no table after a tick");
    cr_assert(knows("flushall"));
}

static struct treq pings[64];
static int npings;

/* A PING on node 0's pipeline: its status, or PIPE_DOWN's -100 when the
 * pool refused it at once. */
static int
ping(void)
{
    struct treq *t = &pings[npings];
    char err[UPSTREAM_ERR_MAX];
    long before = tr.dones;

    cr_assert_lt(npings, 64);
    treq_init(t, 0, npings, -1);
    treq_add(t, "*1\r\n$4\r\nPING\r\n", "+PONG\r\n");
    if (pipe_submit(upstream_pipe(nodes_pool(n, 0), 2, 0), &t->u, 0, 0, err) ==
        PIPE_DOWN) {
        return -100;
    }
    npings++;
    wait_dones(before + 1);
    return t->status;
}

Test(keeper, after_an_outage_it_reads_the_table_again)
{
    const char *const fewer[] = {"--databases", "7", NULL};
    struct upstream_stats st;

    unit_redis_start(&server, 0, NULL);
    table_at(server.port, 0);
    k = keeper_create(n, cmds, NULL);
    cr_assert_not_null(k);
    UNIT_AWAIT(5000, commands_now() > 200, "no table after a tick");
    cr_assert_eq(databases(), 16);
    cr_assert_eq(ping(), UPSTREAM_OK);
    /* Redis goes; the pool finds out (a lost connection, then a refused
     * connect: down). */
    redisFree(server.ctx);
    server.ctx = NULL;
    kill(server.pid, SIGKILL);
    waitpid(server.pid, NULL, 0);
    UNIT_AWAIT(5000, ping() == -100, "the pool never went down");
    /* Redis comes back on its port, another one. */
    server.pid = unit_redis_spawn(server.dir, server.port, 0, 0, fewer);
    server.ctx = unit_redis_await(server.pid, server.port);
    cr_assert_not_null(server.ctx, "port %d was taken meanwhile", server.port);
    UNIT_AWAIT(5000, ping() == UPSTREAM_OK, "the pool never came back");
    nodes_pool_stats(n, &st);
    cr_assert_eq(st.epoch, 1, "one connect ended a down period");
    UNIT_AWAIT(5000, databases() == 7, "the table was not read again");
    cr_assert_gt(commands_now(), 200);
}

Test(keeper, spares_are_opened_at_start_and_refilled_when_taken)
{
    struct rconn rc;

    unit_redis_start(&server, 0, NULL);
    table_at(server.port, 0);
    sp = spares_create(nodes_target(n, 0), 2);
    cr_assert_not_null(sp);
    k = keeper_create(n, cmds, sp);
    cr_assert_not_null(k);
    UNIT_AWAIT(5000, spares_ready(sp) == 2, "no spares at the start");
    for (int i = 0; i < 3; i++) {
        rconn_init(&rc);
        cr_assert_eq(spares_take(sp, nodes_target(n, 0), &rc), 0);
        rconn_close(&rc);
        UNIT_AWAIT(5000, spares_ready(sp) == 2, "take %d: not refilled", i);
    }
}

Test(keeper, in_a_cluster_its_tick_runs_the_refresh_asked_for)
{
    const unsigned slot = 42;
    int to;

    cluster_start(&cl);
    table_at(cl.node[0].port, 1);
    cr_assert_eq(nodes_count(n), CLUSTER_NODES);
    k = keeper_create(n, cmds, NULL);
    cr_assert_not_null(k);
    cluster_move_slot(&cl, slot, 1);
    to = -1;
    for (int i = 0; i < nodes_count(n); i++) {
        to = nodes_target(n, i)->port == cl.node[1].port ? i : to;
    }
    cr_assert_neq(nodes_for_slot(n, slot), to);
    nodes_want_refresh(n);
    UNIT_AWAIT(5000, nodes_for_slot(n, slot) == to,
               "the keeper never refreshed");
}
