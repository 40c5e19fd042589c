/*
 * Unit tests of serve/cplan, the cluster planner and reply merger, over a
 * map of the test's own (cplan_map callbacks over a slot table and a list
 * of masters): which commands are split and how (MGET, DEL, UNLINK,
 * EXISTS, TOUCH by slot; MSET by pairs, not when a value is missing),
 * which stay whole (keys in one slot, keyless commands on one master),
 * which go to every master (DBSIZE, KEYS, FLUSHALL, FLUSHDB, RANDOMKEY,
 * cplan_every), which are answered by the proxy (CROSSSLOT, CLUSTER), the
 * map not known (node -1), SCAN's cursor carrying its node across the
 * masters; and every merge, byte for byte: MGET in the client's key order
 * across parts, +OK, sums, KEYS joined, RANDOMKEY's first non-nil, SCAN's
 * cursor, the first error among the parts, RESP3 parts as they came, and
 * nils the merge writes itself in the client's protocol.
 *
 * Slots of the keys used (CRC16 mod 16384; test_keyslot checks keyslot_of
 * against Redis): a 15495, {a}x 15495, b 3300, c 7365, d 11298. With the
 * usual three-master split (0-5460, 5461-10922, 10923-16383): a, {a}x and
 * d on node 2 (d in another slot), b on node 0, c on node 1.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/keyslot.h"
#include "serve/cplan.h"

/* ---- the map ---- */

struct fake_map {
    int known; /* 0: no slot has an owner, no master listed */
    int masters[CPLAN_NODES];
    int nmasters;
    int calls_for_slot; /* how often the planner asked */
};

static struct fake_map fm;

static int
fake_for_slot(void *arg, unsigned slot)
{
    struct fake_map *f = arg;

    f->calls_for_slot++;
    if (!f->known || slot >= 16384) {
        return -1;
    }
    return slot <= 5460    ? f->masters[0]
           : slot <= 10922 ? f->masters[1]
                           : f->masters[2];
}

static int
fake_masters(void *arg, int *out, int max)
{
    struct fake_map *f = arg;
    int i, n = f->known ? f->nmasters : 0;

    for (i = 0; i < n && i < max; i++) {
        out[i] = f->masters[i];
    }
    return i;
}

static const struct cplan_map map = {fake_for_slot, fake_masters, &fm};

/* Three masters, nodes 0, 1 and 2, owning the usual thirds. */
static void
three_masters(void)
{
    memset(&fm, 0, sizeof(fm));
    fm.known = 1;
    fm.nmasters = 3;
    fm.masters[0] = 0;
    fm.masters[1] = 1;
    fm.masters[2] = 2;
}

TestSuite(cplan, .init = three_masters);

/* ---- planning a command given as words ---- */

#define MAX_WORDS 32

struct cmd {
    char text[512];
    struct resp_arg argv[MAX_WORDS];
    size_t argc;
    struct resp_arg keys[MAX_WORDS];
    unsigned slots[MAX_WORDS];
    size_t nkeys;
};

static struct cmd cmd;

/* Splits line on spaces into cmd; its keys are the words from first on,
 * every step-th (first 0: none), as the record's key positions give
 * them. */
static void
words(const char *line, size_t first, size_t step)
{
    char *save = NULL, *tok;

    memset(&cmd, 0, sizeof(cmd));
    snprintf(cmd.text, sizeof(cmd.text), "%s", line);
    for (tok = strtok_r(cmd.text, " ", &save); tok != NULL;
         tok = strtok_r(NULL, " ", &save)) {
        cr_assert_lt(cmd.argc, MAX_WORDS);
        cmd.argv[cmd.argc++] = (struct resp_arg){tok, strlen(tok)};
    }
    for (size_t i = first; first > 0 && i < cmd.argc; i += step) {
        cmd.keys[cmd.nkeys] = cmd.argv[i];
        cmd.slots[cmd.nkeys] = keyslot_of(cmd.argv[i].p, cmd.argv[i].len);
        cmd.nkeys++;
    }
}

/* Plans line (keys as words() takes them); fails the test on -1. */
static void
make(struct cplan *pl, const char *line, size_t first, size_t step)
{
    words(line, first, step);
    cr_assert_eq(cplan_make(pl, &map, cmd.argv, cmd.argc, cmd.keys, cmd.slots,
                            cmd.nkeys),
                 0, "cplan_make(%s)", line);
}

/* Part i goes to node with req (NULL: the client's command as sent). */
static void
expect_part(const struct cplan *pl, size_t i, int node, const char *req)
{
    cr_assert_lt(i, pl->nparts);
    cr_expect_eq(pl->parts[i].node, node, "part %zu on node %d, want %d", i,
                 pl->parts[i].node, node);
    if (req == NULL) {
        cr_expect_null(pl->parts[i].req, "part %zu has bytes of its own: %.*s",
                       i, (int)pl->parts[i].len, pl->parts[i].req);
        return;
    }
    cr_assert_not_null(pl->parts[i].req, "part %zu is the command as sent", i);
    cr_expect(pl->parts[i].len == strlen(req) &&
                  memcmp(pl->parts[i].req, req, pl->parts[i].len) == 0,
              "part %zu: got %.*s, want %s", i, (int)pl->parts[i].len,
              pl->parts[i].req, req);
}

/* Merges the replies given (one per part, NULL for none) in proto and
 * checks the result is exactly want. */
static void
expect_merge(const struct cplan *pl, int proto, const char *const *replies,
             const char *want)
{
    size_t lens[MAX_WORDS];
    char *out = NULL;
    size_t out_len = 0;

    cr_assert_leq(pl->nparts, MAX_WORDS);
    for (size_t i = 0; i < pl->nparts; i++) {
        lens[i] = replies[i] != NULL ? strlen(replies[i]) : 0;
    }
    cr_assert_eq(cplan_merge(pl, &map, replies, lens, proto, &out, &out_len),
                 0);
    cr_expect(out_len == strlen(want) && memcmp(out, want, out_len) == 0,
              "merged: got %.*s, want %s", (int)out_len, out, want);
    free(out);
}

#define REPLIES(...) ((const char *const[]){__VA_ARGS__})

/* ---- one part: the command as sent ---- */

Test(cplan, keyed_command_goes_whole_to_the_owner_of_its_slot)
{
    struct cplan pl;

    make(&pl, "GET a", 1, 1);
    cr_expect_eq(pl.merge, CPLAN_ONE);
    cr_assert_eq(pl.nparts, 1);
    expect_part(&pl, 0, 2, NULL);
    expect_merge(&pl, 2, REPLIES("$5\r\nvalue\r\n"), "$5\r\nvalue\r\n");
    cplan_free(&pl);
}

Test(cplan, one_part_reply_is_passed_as_it_came_in_resp3)
{
    struct cplan pl;

    make(&pl, "HGETALL a", 1, 1);
    cr_assert_eq(pl.nparts, 1);
    expect_merge(&pl, 3, REPLIES("%1\r\n$1\r\nf\r\n_\r\n"),
                 "%1\r\n$1\r\nf\r\n_\r\n");
    cplan_free(&pl);
}

Test(cplan, keys_in_one_slot_are_not_split)
{
    const char *const lines[] = {"MGET a {a}x", "DEL {a}x a a",
                                 "MSET a 1 {a}x 2", "SUNION a {a}x"};

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct cplan pl;

        make(&pl, lines[i], 1, strncmp(lines[i], "MSET", 4) == 0 ? 2 : 1);
        cr_expect_eq(pl.merge, CPLAN_ONE, "%s", lines[i]);
        cr_assert_eq(pl.nparts, 1, "%s", lines[i]);
        expect_part(&pl, 0, 2, NULL);
        cplan_free(&pl);
    }
}

Test(cplan, keyless_command_goes_whole_to_the_first_master)
{
    struct cplan pl;

    fm.masters[0] = 4; /* the map lists node 4 first */
    make(&pl, "INFO keyspace", 0, 0);
    cr_expect_eq(pl.merge, CPLAN_ONE);
    cr_assert_eq(pl.nparts, 1);
    expect_part(&pl, 0, 4, NULL);
    cr_expect_eq(fm.calls_for_slot, 0, "a keyless command asked for a slot");
    cplan_free(&pl);
}

Test(cplan, mset_with_a_value_missing_is_not_split)
{
    struct cplan pl;

    /* a and b are in different slots: a complete MSET would be split. */
    make(&pl, "MSET a 1 b", 1, 2);
    cr_expect_eq(pl.merge, CPLAN_ONE);
    cr_assert_eq(pl.nparts, 1);
    expect_part(&pl, 0, 2, NULL); /* whole, to a's owner: Redis's arity
                                     error, not half an MSET applied */
    expect_merge(
        &pl, 2,
        REPLIES("-ERR wrong number of arguments for 'mset' command\r\n"),
        "-ERR wrong number of arguments for 'mset' command\r\n");
    cplan_free(&pl);
}

/* ---- split by slot ---- */

Test(cplan, mget_is_split_by_slot_in_order_of_first_key)
{
    struct cplan pl;

    make(&pl, "MGET a b d {a}x", 1, 1);
    cr_expect_eq(pl.merge, CPLAN_MGET);
    cr_assert_eq(pl.nparts, 3);
    /* a and {a}x share a slot: one part; d is on a's node but in another
     * slot: a part of its own (Redis would refuse CROSSSLOT). */
    expect_part(&pl, 0, 2, "*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$4\r\n{a}x\r\n");
    expect_part(&pl, 1, 0, "*2\r\n$4\r\nMGET\r\n$1\r\nb\r\n");
    expect_part(&pl, 2, 2, "*2\r\n$4\r\nMGET\r\n$1\r\nd\r\n");
    cr_assert_eq(pl.nkeys, 4);
    cr_expect_eq(pl.key_part[0], 0);
    cr_expect_eq(pl.key_index[0], 0);
    cr_expect_eq(pl.key_part[1], 1);
    cr_expect_eq(pl.key_index[1], 0);
    cr_expect_eq(pl.key_part[2], 2);
    cr_expect_eq(pl.key_index[2], 0);
    cr_expect_eq(pl.key_part[3], 0);
    cr_expect_eq(pl.key_index[3], 1);
    cplan_free(&pl);
}

Test(cplan, mget_merge_answers_in_the_clients_key_order)
{
    struct cplan pl;

    make(&pl, "MGET a b d {a}x", 1, 1);
    expect_merge(&pl, 2,
                 REPLIES("*2\r\n$2\r\nva\r\n$3\r\nvax\r\n", "*1\r\n$-1\r\n",
                         "*1\r\n$2\r\nvd\r\n"),
                 "*4\r\n$2\r\nva\r\n$-1\r\n$2\r\nvd\r\n$3\r\nvax\r\n");
    cplan_free(&pl);
}

Test(cplan, mget_merge_keeps_resp3_nils_of_the_parts)
{
    struct cplan pl;

    make(&pl, "MGET a b d {a}x", 1, 1);
    expect_merge(&pl, 3,
                 REPLIES("*2\r\n_\r\n$3\r\nvax\r\n", "*1\r\n$2\r\nvb\r\n",
                         "*1\r\n_\r\n"),
                 "*4\r\n_\r\n$2\r\nvb\r\n_\r\n$3\r\nvax\r\n");
    cplan_free(&pl);
}

Test(cplan, mget_merge_writes_a_nil_in_the_clients_protocol_for_a_short_part)
{
    struct cplan pl;

    make(&pl, "MGET a b d {a}x", 1, 1);
    /* Part 0 answered one element for its two keys, part 2 no array. */
    expect_merge(&pl, 2,
                 REPLIES("*1\r\n$2\r\nva\r\n", "*1\r\n$2\r\nvb\r\n", "+OK\r\n"),
                 "*4\r\n$2\r\nva\r\n$2\r\nvb\r\n$-1\r\n$-1\r\n");
    expect_merge(&pl, 3, REPLIES("*1\r\n$2\r\nva\r\n", "*-1\r\n", "*0\r\n"),
                 "*4\r\n$2\r\nva\r\n_\r\n_\r\n_\r\n");
    cplan_free(&pl);
}

Test(cplan, mget_merge_copies_elements_of_any_type_whole)
{
    struct cplan pl;

    make(&pl, "MGET a b", 1, 1);
    /* Elements a scan must skip whole to reach the next (an aggregate, a
     * bulk whose payload holds CRLF). */
    expect_merge(&pl, 3, REPLIES("*1\r\n$4\r\nx\r\ny\r\n", "*1\r\n$0\r\n\r\n"),
                 "*2\r\n$4\r\nx\r\ny\r\n$0\r\n\r\n");
    cplan_free(&pl);
    make(&pl, "MGET a {a}x b", 1, 1);
    expect_merge(
        &pl, 2,
        REPLIES("*2\r\n$6\r\n1\r\n2\r\n\r\n$1\r\nz\r\n", "*1\r\n$1\r\nb\r\n"),
        "*3\r\n$6\r\n1\r\n2\r\n\r\n$1\r\nz\r\n$1\r\nb\r\n");
    cplan_free(&pl);
}

Test(cplan, del_unlink_exists_touch_are_split_and_summed)
{
    const char *const names[] = {"DEL", "UNLINK", "EXISTS", "TOUCH", "del"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char line[64];
        struct cplan pl;
        char want0[64];

        snprintf(line, sizeof(line), "%s a b c", names[i]);
        make(&pl, line, 1, 1);
        cr_expect_eq(pl.merge, CPLAN_SUM, "%s", line);
        cr_assert_eq(pl.nparts, 3, "%s", line);
        snprintf(want0, sizeof(want0), "*2\r\n$%zu\r\n%s\r\n$1\r\na\r\n",
                 strlen(names[i]), names[i]);
        expect_part(&pl, 0, 2, want0);
        expect_merge(&pl, 2, REPLIES(":1\r\n", ":0\r\n", ":2\r\n"), ":3\r\n");
        cplan_free(&pl);
    }
}

Test(cplan, sum_skips_a_part_that_is_no_integer)
{
    struct cplan pl;

    make(&pl, "EXISTS a b c", 1, 1);
    expect_merge(&pl, 2, REPLIES(":1\r\n", "+OK\r\n", ":1\r\n"), ":2\r\n");
    cplan_free(&pl);
}

Test(cplan, mset_is_split_by_pairs_and_merged_to_ok)
{
    struct cplan pl;

    make(&pl, "MSET a 1 b 2 {a}x 3", 1, 2);
    cr_expect_eq(pl.merge, CPLAN_OK);
    cr_assert_eq(pl.nparts, 2);
    expect_part(&pl, 0, 2,
                "*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$4\r\n{a}x\r\n$1\r\n"
                "3\r\n");
    expect_part(&pl, 1, 0, "*3\r\n$4\r\nMSET\r\n$1\r\nb\r\n$1\r\n2\r\n");
    expect_merge(&pl, 2, REPLIES("+OK\r\n", "+OK\r\n"), "+OK\r\n");
    cplan_free(&pl);
}

Test(cplan, first_error_among_the_parts_is_the_reply)
{
    struct cplan pl;

    make(&pl, "MSET a 1 b 2 c 3", 1, 2);
    cr_assert_eq(pl.nparts, 3);
    expect_merge(
        &pl, 2,
        REPLIES("+OK\r\n", "-OOM command not allowed\r\n", "-ERR second\r\n"),
        "-OOM command not allowed\r\n");
    cplan_free(&pl);
    make(&pl, "MGET a b c", 1, 1);
    expect_merge(&pl, 3,
                 REPLIES("*1\r\n$1\r\nx\r\n", "*1\r\n_\r\n",
                         "!21\r\nSYNTAX invalid syntax\r\n"),
                 "!21\r\nSYNTAX invalid syntax\r\n");
    cplan_free(&pl);
    make(&pl, "DEL a b c", 1, 1);
    expect_merge(
        &pl, 2,
        REPLIES("-MOVED 3300 127.0.0.1:7001\r\n", ":1\r\n", "-ERR later\r\n"),
        "-MOVED 3300 127.0.0.1:7001\r\n");
    cplan_free(&pl);
}

Test(cplan, part_without_a_reply_makes_the_merge_an_error)
{
    struct cplan pl;

    make(&pl, "DEL a b", 1, 1);
    expect_merge(&pl, 2, REPLIES(":1\r\n", NULL), "-ERR out of memory\r\n");
    cplan_free(&pl);
}

/* ---- answered by the proxy ---- */

Test(cplan, other_commands_across_slots_get_crossslot)
{
    const char *const lines[] = {"SUNION a b", "RENAME a b",
                                 "SINTERSTORE a b c", "MSETNX a 1 b 2"};

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct cplan pl;

        make(&pl, lines[i], 1, strncmp(lines[i], "MSETNX", 6) == 0 ? 2 : 1);
        cr_expect_eq(pl.merge, CPLAN_LOCAL, "%s", lines[i]);
        cr_expect_eq(pl.nparts, 0, "%s", lines[i]);
        expect_merge(&pl, 2, NULL,
                     "-CROSSSLOT Keys in request don't hash to the same "
                     "slot\r\n");
        cplan_free(&pl);
    }
}

Test(cplan, cluster_commands_are_refused)
{
    const char *const lines[] = {"CLUSTER NODES", "cluster info",
                                 "Cluster KEYSLOT a"};

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct cplan pl;

        make(&pl, lines[i], 0, 0);
        cr_expect_eq(pl.merge, CPLAN_LOCAL, "%s", lines[i]);
        cr_expect_eq(pl.nparts, 0, "%s", lines[i]);
        expect_merge(&pl, 3, NULL,
                     "-ERR CLUSTER commands are not served: this proxy "
                     "presents the cluster as one Redis\r\n");
        cplan_free(&pl);
    }
}

/* ---- every master ---- */

/* line goes as sent to nodes 0, 1, 2 with merge kind k. */
static void
expect_every(const char *line, enum cplan_merge k)
{
    struct cplan pl;

    make(&pl, line, 0, 0);
    cr_expect_eq(pl.merge, k, "%s: merge %d", line, pl.merge);
    cr_assert_eq(pl.nparts, 3, "%s", line);
    for (int i = 0; i < 3; i++) {
        expect_part(&pl, (size_t)i, i, NULL);
    }
    cplan_free(&pl);
}

Test(cplan, keyspace_commands_go_to_every_master)
{
    expect_every("DBSIZE", CPLAN_SUM);
    expect_every("KEYS *", CPLAN_CONCAT);
    expect_every("FLUSHALL", CPLAN_OK);
    expect_every("flushall ASYNC", CPLAN_OK);
    expect_every("FLUSHDB", CPLAN_OK);
    expect_every("RANDOMKEY", CPLAN_ANY);
}

Test(cplan, every_sends_the_command_as_sent_to_each_master_in_map_order)
{
    struct cplan pl;

    fm.masters[0] = 5;
    fm.masters[1] = 3;
    fm.masters[2] = 9;
    cr_assert_eq(cplan_every(&pl, &map, CPLAN_OK), 0);
    cr_expect_eq(pl.merge, CPLAN_OK);
    cr_assert_eq(pl.nparts, 3);
    expect_part(&pl, 0, 5, NULL);
    expect_part(&pl, 1, 3, NULL);
    expect_part(&pl, 2, 9, NULL);
    expect_merge(&pl, 2, REPLIES("+OK\r\n", "+OK\r\n", "+OK\r\n"), "+OK\r\n");
    expect_merge(&pl, 2, REPLIES("+OK\r\n", "-ERR no\r\n", "+OK\r\n"),
                 "-ERR no\r\n");
    cplan_free(&pl);
}

Test(cplan, dbsize_sums_the_masters)
{
    struct cplan pl;

    make(&pl, "DBSIZE", 0, 0);
    expect_merge(&pl, 2, REPLIES(":10\r\n", ":0\r\n", ":32\r\n"), ":42\r\n");
    cplan_free(&pl);
}

Test(cplan, keys_joins_the_masters_arrays)
{
    struct cplan pl;

    make(&pl, "KEYS *", 0, 0);
    expect_merge(
        &pl, 2,
        REPLIES("*1\r\n$1\r\nb\r\n", "*0\r\n", "*2\r\n$1\r\na\r\n$1\r\nd\r\n"),
        "*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n");
    expect_merge(&pl, 2, REPLIES("*0\r\n", "*0\r\n", "*0\r\n"), "*0\r\n");
    cplan_free(&pl);
}

Test(cplan, randomkey_answers_the_first_master_that_has_one)
{
    struct cplan pl;

    make(&pl, "RANDOMKEY", 0, 0);
    expect_merge(&pl, 2, REPLIES("$-1\r\n", "$1\r\nc\r\n", "$1\r\na\r\n"),
                 "$1\r\nc\r\n");
    expect_merge(&pl, 3, REPLIES("_\r\n", "_\r\n", "$1\r\na\r\n"),
                 "$1\r\na\r\n");
    expect_merge(&pl, 2, REPLIES("$-1\r\n", "$-1\r\n", "$-1\r\n"), "$-1\r\n");
    expect_merge(&pl, 3, REPLIES("_\r\n", "_\r\n", "_\r\n"), "_\r\n");
    cplan_free(&pl);
}

/* ---- SCAN ---- */

/* Plans SCAN line; expects one part on node with bytes req. */
static void
expect_scan(struct cplan *pl, const char *line, int node, const char *req)
{
    make(pl, line, 0, 0);
    cr_expect_eq(pl->merge, CPLAN_SCAN, "%s: merge %d", line, pl->merge);
    cr_expect_eq(pl->scan_node, node, "%s: on node %d", line, pl->scan_node);
    cr_assert_eq(pl->nparts, 1, "%s", line);
    expect_part(pl, 0, node, req);
}

Test(cplan, scan_starts_on_the_first_master)
{
    struct cplan pl;

    expect_scan(&pl, "SCAN 0 MATCH k* COUNT 10", 0,
                "*6\r\n$4\r\nSCAN\r\n$1\r\n0\r\n$5\r\nMATCH\r\n$2\r\nk*\r\n"
                "$5\r\nCOUNT\r\n$2\r\n10\r\n");
    /* The node's cursor 17 on node 0 becomes 17 * 64 + 0. */
    expect_merge(&pl, 2, REPLIES("*2\r\n$2\r\n17\r\n*1\r\n$2\r\nk1\r\n"),
                 "*2\r\n$4\r\n1088\r\n*1\r\n$2\r\nk1\r\n");
    cplan_free(&pl);
}

Test(cplan, scan_cursor_carries_its_node)
{
    struct cplan pl;

    /* 1088 = 17 * 64 + 0: node 0, its cursor 17. */
    expect_scan(&pl, "SCAN 1088", 0, "*2\r\n$4\r\nSCAN\r\n$2\r\n17\r\n");
    cplan_free(&pl);
    /* 6401 = 100 * 64 + 1: node 1, its cursor 100. */
    expect_scan(&pl, "scan 6401 COUNT 5", 1,
                "*4\r\n$4\r\nscan\r\n$3\r\n100\r\n$5\r\nCOUNT\r\n$1\r\n5\r\n");
    expect_merge(&pl, 3, REPLIES("*2\r\n$3\r\n101\r\n*0\r\n"),
                 "*2\r\n$4\r\n6465\r\n*0\r\n");
    cplan_free(&pl);
}

Test(cplan, scan_moves_to_the_next_master_when_a_node_ends)
{
    struct cplan pl;

    /* Node 0 ends: the next cursor is node 1's start, 0 * 64 + 1. */
    expect_scan(&pl, "SCAN 1088", 0, "*2\r\n$4\r\nSCAN\r\n$2\r\n17\r\n");
    expect_merge(&pl, 2, REPLIES("*2\r\n$1\r\n0\r\n*1\r\n$1\r\nb\r\n"),
                 "*2\r\n$1\r\n1\r\n*1\r\n$1\r\nb\r\n");
    cplan_free(&pl);
    expect_scan(&pl, "SCAN 1", 1, "*2\r\n$4\r\nSCAN\r\n$1\r\n0\r\n");
    expect_merge(&pl, 2, REPLIES("*2\r\n$1\r\n0\r\n*0\r\n"),
                 "*2\r\n$1\r\n2\r\n*0\r\n");
    cplan_free(&pl);
    /* The last master ends: the iteration is over. */
    expect_scan(&pl, "SCAN 2", 2, "*2\r\n$4\r\nSCAN\r\n$1\r\n0\r\n");
    expect_merge(&pl, 2, REPLIES("*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n"),
                 "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n");
    cplan_free(&pl);
}

Test(cplan, scan_of_a_node_that_left_goes_on_at_the_next_from_its_start)
{
    struct cplan pl;

    fm.masters[0] = 0;
    fm.masters[1] = 2;
    fm.masters[2] = 5;
    /* 65 = 1 * 64 + 1: node 1, gone; node 2 from its cursor 0. */
    expect_scan(&pl, "SCAN 65", 2, "*2\r\n$4\r\nSCAN\r\n$1\r\n0\r\n");
    /* Node 2 ends: the next master is 5. */
    expect_merge(&pl, 2, REPLIES("*2\r\n$1\r\n0\r\n*0\r\n"),
                 "*2\r\n$1\r\n5\r\n*0\r\n");
    cplan_free(&pl);
    /* 6 = node 6: after every master; the iteration is over. */
    make(&pl, "SCAN 6", 0, 0);
    cr_expect_eq(pl.merge, CPLAN_LOCAL);
    cr_expect_eq(pl.nparts, 0);
    expect_merge(&pl, 2, NULL, "*2\r\n$1\r\n0\r\n*0\r\n");
    cplan_free(&pl);
}

Test(cplan, scan_with_a_cursor_that_is_no_number_goes_whole_for_redis_to_refuse)
{
    const char *const lines[] = {"SCAN abc", "SCAN -1", "SCAN", "SCAN 1x",
                                 "SCAN 12345678901234567890"};

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct cplan pl;

        make(&pl, lines[i], 0, 0);
        cr_expect_eq(pl.merge, CPLAN_ONE, "%s", lines[i]);
        cr_assert_eq(pl.nparts, 1, "%s", lines[i]);
        expect_part(&pl, 0, 0, NULL);
        expect_merge(&pl, 2, REPLIES("-ERR invalid cursor\r\n"),
                     "-ERR invalid cursor\r\n");
        cplan_free(&pl);
    }
}

Test(cplan, scan_error_reply_is_passed_as_it_came)
{
    struct cplan pl;

    expect_scan(&pl, "SCAN 0 TYPE", 0,
                "*3\r\n$4\r\nSCAN\r\n$1\r\n0\r\n$4\r\nTYPE\r\n");
    expect_merge(&pl, 2, REPLIES("-ERR syntax error\r\n"),
                 "-ERR syntax error\r\n");
    cplan_free(&pl);
}

/* ---- the map not known ---- */

Test(cplan, keyed_parts_go_to_node_minus_1_when_the_map_is_not_known)
{
    struct cplan pl;

    fm.known = 0;
    make(&pl, "GET a", 1, 1);
    cr_assert_eq(pl.nparts, 1);
    expect_part(&pl, 0, -1, NULL);
    cplan_free(&pl);
    make(&pl, "MGET a b", 1, 1);
    cr_expect_eq(pl.merge, CPLAN_MGET);
    cr_assert_eq(pl.nparts, 2);
    expect_part(&pl, 0, -1, "*2\r\n$4\r\nMGET\r\n$1\r\na\r\n");
    expect_part(&pl, 1, -1, "*2\r\n$4\r\nMGET\r\n$1\r\nb\r\n");
    cplan_free(&pl);
}

Test(cplan, keyless_command_goes_to_node_minus_1_when_no_master_is_known)
{
    struct cplan pl;

    fm.known = 0;
    make(&pl, "INFO", 0, 0);
    cr_assert_eq(pl.nparts, 1);
    expect_part(&pl, 0, -1, NULL);
    cplan_free(&pl);
}

Test(cplan, keyspace_command_with_no_master_known_is_not_answered_without_redis)
{
    /* Until the map is known, these must fail (a part on node -1: the
     * router answers that the map is not known), not be answered by the
     * merge from no parts at all: DBSIZE 0, KEYS none, FLUSHALL +OK
     * having flushed nothing, SCAN finished having seen no key. */
    const char *const lines[] = {"DBSIZE", "KEYS *", "FLUSHALL", "RANDOMKEY",
                                 "SCAN 0"};

    fm.known = 0;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct cplan pl;

        make(&pl, lines[i], 0, 0);
        cr_expect_neq(pl.merge, CPLAN_LOCAL, "%s: answered by the proxy",
                      lines[i]);
        cr_expect_geq(pl.nparts, 1, "%s: no part, nothing asks Redis",
                      lines[i]);
        for (size_t k = 0; k < pl.nparts; k++) {
            cr_expect_eq(pl.parts[k].node, -1, "%s", lines[i]);
        }
        cplan_free(&pl);
    }
}
