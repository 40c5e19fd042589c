/*
 * Unit tests of serve/route on a Redis Cluster whose slot map is not
 * known yet (the node set made, never started: no node, no master): a
 * command that needs a master is answered with OUTCOME_ENOMAP at once,
 * without anything sent, whether it has keys (their slot has no owner)
 * or goes to every master (there is none).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "base/config.h"
#include "serve/outcome.h"
#include "serve/proxy.h"
#include "serve/rcmd.h"
#include "serve/route.h"
#include "upstream/nodes.h"

#include "cmd_helpers.h"

static struct proxy px; /* big (metrics): not on the stack */
static struct config cfg;

static void
setup(void)
{
    config_defaults(&cfg);
    cfg.cluster = 1;
    atomic_init(&px.cfg.cur, &cfg);
    px.nodes = nodes_create(&px.cfg, NULL, NULL, NULL);
    cr_assert_not_null(px.nodes);
}

static void
teardown(void)
{
    nodes_destroy(px.nodes);
}

TestSuite(route, .init = setup, .fini = teardown, .timeout = 30);

/* Routes the words of line (a record as a cluster makes it: every
 * argument kept; no command table) and expects it answered at once with
 * the map not known. */
static void
expect_no_map(const char *line)
{
    struct resp_command cmd = arr(line);
    struct rcmd *r =
        rcmd_command(&px, NULL, &cmd, cmd_buf, NULL, 2, 0, RCMD_KEYS_ALL);

    cr_assert_not_null(r);
    cr_expect_eq(route_submit(&px, r, 0), ROUTE_DONE, "%s", line);
    cr_expect_eq(r->status, OUTCOME_ENOMAP, "%s: outcome %d", line, r->status);
    rcmd_free(r);
    cr_expect_eq(atomic_load(&px.records), 0);
}

Test(route, keyless_command_before_the_map_is_known_fails_with_enomap)
{
    expect_no_map("INFO");
}

Test(route, keyspace_command_before_the_map_is_known_fails_with_enomap)
{
    expect_no_map("DBSIZE");
}
