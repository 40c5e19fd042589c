/*
 * Unit tests of redirects (upstream/nodes.h, nodes_redirect) with the
 * error texts a real Redis Cluster sends (cluster_helpers.h: three
 * masters started here, the table's map learned from them). A slot moved
 * in the cluster behind the table's back: the old owner answers MOVED,
 * and the redirect moves that slot in the map at once (its entries
 * expired, its fills marked, the epoch moved, a full refresh asked for),
 * the same MOVED again changes nothing more in the map; a MOVED naming an
 * address the table does not know makes that node, and the next refresh puts
 * the truth back. A slot being migrated: the owner answers ASK, which names the
 * target without touching the map or asking for a refresh. Texts that are no
 * redirect change nothing, nor does a port no server can have. After a MOVED
 * each node counts the slots it owns now, as its ranges say (two one-node
 * clusters, the second named by the MOVED).
 */
#include "nodes_helpers.h"

TestSuite(nodes_redirect, .init = nf_setup, .fini = nf_teardown, .timeout = 60);

/* A cluster-mode table over port (refreshed only when asked). */
static void
table_at(int port)
{
    nf_settings(port);
    nf.cfg.cluster = 1;
    nf.cfg.cluster_refresh_ms = 600000;
    nf_up();
    cr_assert_eq(nodes_start(nf.n), 0);
}

/* nodes_redirect of text; *ask as it says. */
static int
redirect(const char *text, int *ask)
{
    return nodes_redirect(nf.n, text, strlen(text), ask);
}

static void
moved_moves_the_slot_at_once(void)
{
    const unsigned slot = 300;
    char key[32], other[32], text[128];
    struct coh_fill fi;
    uint64_t epoch = nodes_epoch(nf.n);
    int ask = 7;

    nf_key_in_slot(key, sizeof(key), "k", slot);
    nf_key_in_slot(other, sizeof(other), "o", slot + 1);
    cluster_move_slot(&nf.cl, slot, 1);
    cr_assert_eq(nodes_for_slot(nf.n, slot), nf.idx[0], "the map is behind");
    nf_get_on(nf.idx[0], key, text, sizeof(text));
    cr_assert_eq(strncmp(text, "MOVED 300 127.0.0.1:", 20), 0, "%s", text);
    coh_put(key);
    coh_put(other);
    coh_fill_start(&fi, key);
    cr_assert_eq(redirect(text, &ask), nf.idx[1]);
    cr_assert_eq(ask, 0);
    cr_assert_eq(nodes_for_slot(nf.n, slot), nf.idx[1]);
    cr_assert_eq(nodes_for_slot(nf.n, slot + 1), nf.idx[0]);
    cr_assert_eq(nodes_epoch(nf.n), epoch + 1);
    cr_assert_eq(coh_state(key), COH_EXPIRED, "read from the old owner");
    cr_assert_eq(coh_state(other), COH_LIVE);
    cr_assert_eq(coh_fill_end(&fi), 0);
    cr_assert_eq(nodes_want_taken(nf.n), 1, "a full refresh is asked for");
    /* The same MOVED once more: already so. */
    coh_put(key);
    cr_assert_eq(redirect(text, &ask), nf.idx[1]);
    cr_assert_eq(nodes_epoch(nf.n), epoch + 1);
    cr_assert_eq(coh_state(key), COH_LIVE);
    cr_assert_eq(nodes_want_taken(nf.n), 1, "every MOVED asks for one");
    nf_get_on(nf.idx[1], key, text, sizeof(text));
    cr_assert_str_eq(text, "", "the owner the redirect named serves it");
}

static void
ask_names_the_target_and_changes_nothing(void)
{
    const unsigned slot = 400;
    char key[32], text[128];
    uint64_t epoch = nodes_epoch(nf.n);
    redisReply *r;
    int ask = 0;

    nf_key_in_slot(key, sizeof(key), "q", slot);
    freeReplyObject(cluster_cmd(&nf.cl, 2, "CLUSTER SETSLOT %u IMPORTING %s",
                                slot, nf.cl.id[0]));
    freeReplyObject(cluster_cmd(&nf.cl, 0, "CLUSTER SETSLOT %u MIGRATING %s",
                                slot, nf.cl.id[2]));
    nf_get_on(nf.idx[0], key, text, sizeof(text));
    cr_assert_eq(strncmp(text, "ASK 400 127.0.0.1:", 18), 0, "%s", text);
    coh_put(key);
    cr_assert_eq(redirect(text, &ask), nf.idx[2]);
    cr_assert_eq(ask, 1);
    cr_assert_eq(nodes_for_slot(nf.n, slot), nf.idx[0], "the owner still");
    cr_assert_eq(nodes_epoch(nf.n), epoch);
    cr_assert_eq(coh_state(key), COH_LIVE);
    cr_assert_eq(nodes_want_taken(nf.n), 0, "no refresh for an ASK");
    /* The target it named takes the key after ASKING. */
    redisAppendCommand(nf.cl.node[2].ctx, "ASKING");
    redisAppendCommand(nf.cl.node[2].ctx, "GET %s", key);
    cr_assert_eq(redisGetReply(nf.cl.node[2].ctx, (void **)&r), REDIS_OK);
    freeReplyObject(r);
    cr_assert_eq(redisGetReply(nf.cl.node[2].ctx, (void **)&r), REDIS_OK);
    cr_assert_eq(r->type, REDIS_REPLY_NIL, "%s", r->str);
    freeReplyObject(r);
}

static void
a_moved_to_a_new_address_makes_a_node_until_the_refresh(void)
{
    char text[64];
    int ask, port = unit_free_port(), made;

    snprintf(text, sizeof(text), "MOVED 500 127.0.0.1:%d", port);
    made = redirect(text, &ask);
    cr_assert_eq(made, CLUSTER_NODES, "a fourth node");
    cr_assert_eq(nodes_count(nf.n), CLUSTER_NODES + 1);
    cr_assert_eq(nodes_for_slot(nf.n, 500), made);
    cr_assert_eq(nodes_want_taken(nf.n), 1);
    nodes_want_refresh(nf.n);
    nodes_tick(nf.n);
    cr_assert_eq(nodes_for_slot(nf.n, 500), nf.idx[0], "the truth is back");
    cr_assert_eq(nodes_for_slot(nf.n, 300), nf.idx[1], "the move stays");
}

Test(nodes_redirect, moved_moves_a_slot_ask_does_not)
{
    cluster_start(&nf.cl);
    table_at(nf.cl.node[0].port);
    nf_cluster_map();
    moved_moves_the_slot_at_once();
    ask_names_the_target_and_changes_nothing();
    a_moved_to_a_new_address_makes_a_node_until_the_refresh();
}

Test(nodes_redirect, texts_that_are_no_redirect_change_nothing)
{
    static const char *const texts[] = {
        "ERR unknown command",
        "MOVED",
        "MOVED 12",
        "MOVED x 127.0.0.1:7000",
        "MOVED 16384 127.0.0.1:7000",
        "MOVED 12 127.0.0.1",
        "MOVED 12 127.0.0.1:",
        "MOVED 12 127.0.0.1:port",
        "ASK 12 nowhere",
        "moved 12 127.0.0.1:7000",
        "CLUSTERDOWN The cluster is down",
    };
    char longer[400];
    int ask;

    table_at(unit_free_port()); /* no map: nothing to change either */
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        cr_assert_eq(redirect(texts[i], &ask), -1, "%s", texts[i]);
    }
    memset(longer, 'a', sizeof(longer));
    memcpy(longer, "MOVED 12 ", 9);
    memcpy(longer + sizeof(longer) - 6, ":7000", 6);
    cr_assert_eq(redirect(longer, &ask), -1, "longer than any address");
    cr_assert_eq(nodes_count(nf.n), 0);
    cr_assert_eq(nodes_epoch(nf.n), 0);
}

Test(nodes_redirect, a_port_outside_1_to_65535_is_no_address)
{
    static const char *const texts[] = {
        "MOVED 12 127.0.0.1:0",       "MOVED 12 127.0.0.1:65536",
        "MOVED 12 127.0.0.1:-6379",   "ASK 12 127.0.0.1:99999",
        "MOVED 12 127.0.0.1:7000abc", "MOVED 12 127.0.0.1:",
    };
    int ask;

    table_at(unit_free_port());
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        cr_expect_eq(redirect(texts[i], &ask), -1, "%s", texts[i]);
    }
    cr_assert_eq(nodes_count(nf.n), 0,
                 "%d nodes made for addresses nobody can connect to",
                 nodes_count(nf.n));
}

Test(nodes_redirect, after_a_moved_each_node_counts_the_slots_it_owns_now)
{
    struct unit_redis *a = &nf.redis[0], *b = &nf.redis[1];
    struct node_stats st;
    char text[64];
    int masters[4], ask, to;

    /* Two one-node clusters: a owns every slot, b none (yet). */
    unit_redis_start(a, 1, NULL);
    unit_redis_start(b, 1, NULL);
    unit_redis_ok(a->ctx, "CLUSTER ADDSLOTSRANGE 0 16383");
    table_at(a->port);
    cr_assert_eq(nodes_count(nf.n), 1);
    snprintf(text, sizeof(text), "MOVED 300 127.0.0.1:%d", b->port);
    to = redirect(text, &ask);
    cr_assert_eq(to, 1);
    nodes_stats(nf.n, 0, &st);
    cr_assert_str_eq(st.ranges, "0-299,301-16383");
    cr_expect_eq(st.slots, NODES_SLOTS - 1, "its ranges say 16383");
    nodes_stats(nf.n, to, &st);
    cr_assert_str_eq(st.ranges, "300");
    cr_expect_eq(st.slots, 1, "its ranges say 1");
    cr_expect_eq(st.role, NODE_MASTER, "it owns slot 300");
    cr_expect_eq(nodes_masters(nf.n, masters, 4), 2,
                 "a node owning a slot is a master");
}
