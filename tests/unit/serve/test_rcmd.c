/*
 * Unit tests of serve/rcmd, the command record: what rcmd_command makes
 * of a parsed command (its bytes copied, an inline command encoded as an
 * array; its flags, name, protocol and database; its keys and which of
 * them it may change, from the command table of a real redis-server
 * started here: a write's keys, EVAL's read-write keys from its key
 * specs, none of a read's; keys_asked when only Redis can tell a write's
 * keys; every argument for a cluster), a conn's fifo of records (order,
 * counts, abandoning, the waiting state), the client's own order rules
 * between a GET on its way and a write of the same key (rfifo_writes_key,
 * rfifo_reads_keys_of), and the record's two-party state machine:
 * completed first (the conn is woken, its owner frees), abandoned first
 * (the completer frees, nobody is woken), and both racing on many records
 * from two threads, where both orders must be seen and every record freed
 * once (px.records back to 0; ASan for the rest).
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/config.h"
#include "base/util.h"
#include "net/conn.h"
#include "net/waiter.h"
#include "net/workq.h"
#include "proto/resp.h"
#include "serve/proxy.h"
#include "serve/rcmd.h"
#include "upstream/commands.h"

#include "cmd_helpers.h"
#include "unit_helpers.h"

static struct proxy px; /* big (metrics): not on the stack */

/* ---- the proxy: a waiter to wake conns through ---- */

static void
proxy_up(void)
{
    memset(&px, 0, sizeof(px));
    px.q = workq_create(64);
    cr_assert_not_null(px.q);
    px.waiter = waiter_create(px.q, 16);
    cr_assert_not_null(px.waiter);
}

static void
proxy_down(void)
{
    waiter_destroy(px.waiter);
    workq_destroy(px.q);
}

static void
expect_no_records(void)
{
    cr_expect_eq(atomic_load(&px.records), 0, "%ld records still alive",
                 atomic_load(&px.records));
}

/* ---- a command table from a redis-server of our own ---- */

static struct unit_redis server;
static struct commands *cmds;
static const struct cmd_table *table;

static void
table_up(void)
{
    proxy_up();
    unit_table_up(&server, &cmds, &table);
}

static void
table_down(void)
{
    unit_table_down(&server, cmds);
    proxy_down();
}

TestSuite(rcmd, .init = table_up, .fini = table_down, .timeout = 30);
TestSuite(rfifo, .init = table_up, .fini = table_down, .timeout = 30);
TestSuite(rcmd_state, .init = proxy_up, .fini = proxy_down, .timeout = 60);

/* ---- commands as the RESP port parses them (cmd_helpers.h) ---- */

static const struct cmd_info *
info_of(const struct resp_command *cmd)
{
    return commands_find(table, cmd->argv,
                         cmd->argc < RESP_KEEP_ARGS ? cmd->argc
                                                    : RESP_KEEP_ARGS);
}

/* The record of cmd (in cmd_buf) as the RESP port makes it (RESP2, db 0, no
 * conn). */
static struct rcmd *
record_of(const struct resp_command *cmd, unsigned what)
{
    struct rcmd *r =
        rcmd_command(&px, NULL, cmd, cmd_buf, info_of(cmd), 2, 0, what);

    cr_assert_not_null(r);
    return r;
}

/* The FORWARD record of the words of line, sent as an array. */
static struct rcmd *
forward(const char *line, unsigned what)
{
    struct resp_command cmd = arr(line);

    return record_of(&cmd, what);
}

/* r's keys are exactly those in want (comma-separated), and of them
 * those in changing (comma-separated) are marked as changing. */
static void
expect_keys(const struct rcmd *r, const char *want, const char *changing)
{
    char copy[256], *save = NULL, *tok;
    uint32_t i = 0;

    snprintf(copy, sizeof(copy), "%s", want);
    for (tok = strtok_r(copy, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save), i++) {
        struct resp_arg k;
        char marked[64], among[280];
        int wk;

        cr_assert_lt(i, r->nkeys, "%.*s: %u keys, want key %s", r->name_len,
                     r->name, r->nkeys, tok);
        k = rcmd_key(r, i);
        cr_expect(k.len == strlen(tok) && memcmp(k.p, tok, k.len) == 0,
                  "%.*s: key %u is %.*s, want %s", r->name_len, r->name, i,
                  (int)k.len, k.p, tok);
        cr_expect(k.p >= r->raw && k.p + k.len <= r->raw + r->raw_len,
                  "key %u is not inside the record's bytes", i);
        snprintf(marked, sizeof(marked), ",%s,", tok);
        snprintf(among, sizeof(among), ",%s,", changing);
        wk = strstr(among, marked) != NULL;
        cr_expect_eq(r->wkey[i], wk, "%.*s: key %s changing %d, want %d",
                     r->name_len, r->name, tok, r->wkey[i], wk);
    }
    cr_expect_eq(r->nkeys, i, "%.*s: %u keys, want %u", r->name_len, r->name,
                 r->nkeys, i);
}

/* ---- rcmd_command ---- */

Test(rcmd, copies_an_array_command_byte_for_byte)
{
    static const char set[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    struct resp_command cmd = arr("SET k v");
    struct rcmd *r;

    /* The next command follows in the buffer. */
    memcpy(cmd_buf + cmd.consumed, "*1\r\n$4\r\nPING\r\n", 14);
    r = record_of(&cmd, RCMD_KEYS_WRITES);

    cr_assert_eq(r->raw_len, sizeof(set) - 1, "%zu bytes", r->raw_len);
    cr_expect_arr_eq(r->raw, set, sizeof(set) - 1);
    cr_expect_neq(r->raw, cmd_buf, "the record points into the read buffer");
    memset(cmd_buf, 'x',
           sizeof(cmd_buf)); /* the conn reads on into its buffer */
    cr_expect_arr_eq(r->raw, set, sizeof(set) - 1);
    expect_keys(r, "k", "k");
    cr_expect_eq(r->kind, RCMD_FORWARD);
    cr_expect_eq(atomic_load(&r->state), RCMD_WAITING);
    cr_expect_eq(r->nparts, 1);
    cr_expect_eq(r->parts, &r->part0);
    rcmd_free(r);
    expect_no_records();
}

Test(rcmd, encodes_an_inline_command_as_an_array)
{
    static const char want[] =
        "*4\r\n$3\r\nset\r\n$3\r\nk 1\r\n$5\r\na\"b c\r\n$0\r\n\r\n";
    struct resp_command cmd = inl("set \"k 1\" 'a\"b c' \"\"");
    struct rcmd *r;

    cr_assert(cmd.is_inline);
    r = record_of(&cmd, RCMD_KEYS_ALL);

    cr_assert_eq(r->raw_len, sizeof(want) - 1, "%zu bytes: %.*s", r->raw_len,
                 (int)r->raw_len, r->raw);
    cr_expect_arr_eq(r->raw, want, sizeof(want) - 1);
    expect_keys(r, "k 1", "k 1");
    cr_assert_eq(r->nargs, 4);
    cr_expect_eq(r->args[2].len, 5);
    cr_expect_arr_eq(r->raw + r->args[2].off, "a\"b c", 5);
    cr_expect_eq(r->args[3].len, 0);
    rcmd_free(r);
    expect_no_records();
}

Test(rcmd, records_what_the_command_is_and_whose_it_is)
{
    static struct conn c; /* only its slot and generation are read */
    struct resp_command cmd = arr("get k");
    struct rcmd *r;

    c.slot = 7;
    c.gen = 9;
    r = rcmd_command(&px, &c, &cmd, cmd_buf, info_of(&cmd), 3, 5,
                     RCMD_KEYS_WRITES);
    cr_assert_not_null(r);
    cr_expect_eq(r->slot, 7);
    cr_expect_eq(r->gen, 9);
    cr_expect_eq(r->proto, 3);
    cr_expect_eq(r->db, 5);
    cr_expect_eq(r->known, 1);
    cr_expect(r->flags & CMD_READONLY);
    cr_expect_not(r->flags & CMD_WRITE);
    cr_expect_eq(r->name_len, 3);
    cr_expect_arr_eq(r->name, "get", 3);
    cr_expect_eq(atomic_load(&px.records), 1);
    rcmd_free(r);
    expect_no_records();
}

Test(rcmd, keeps_the_first_bytes_of_a_long_name)
{
    struct resp_command cmd =
        arr("averyveryverylongcommandnamethatredisdoesnotknow k");
    struct rcmd *r = record_of(&cmd, RCMD_KEYS_WRITES);

    cr_expect_eq(r->name_len, sizeof(r->name));
    cr_expect_arr_eq(r->name, "averyveryverylongcommand", sizeof(r->name));
    rcmd_free(r);
}

Test(rcmd, command_redis_does_not_list_has_no_flags_and_no_keys)
{
    struct resp_command cmd = arr("NOSUCHCMD k v");
    struct rcmd *r;

    cr_assert_null(info_of(&cmd));
    r = record_of(&cmd, RCMD_KEYS_WRITES);
    cr_expect_eq(r->known, 0);
    cr_expect_eq(r->flags, 0);
    cr_expect_eq(r->nkeys, 0);
    cr_expect_null(r->keys);
    cr_expect_eq(r->keys_asked, 0);
    rcmd_free(r);
}

Test(rcmd, write_may_change_every_key_it_names)
{
    struct rcmd *r = forward("MSET a 1 b 2", RCMD_KEYS_WRITES);

    cr_expect(r->flags & CMD_WRITE);
    expect_keys(r, "a,b", "a,b");
    cr_expect_eq(r->keys_asked, 0);
    rcmd_free(r);
    /* Its sources too: a write's keys are all taken as changing. */
    r = forward("SUNIONSTORE dst s1 s2", RCMD_KEYS_WRITES);
    expect_keys(r, "dst,s1,s2", "dst,s1,s2");
    rcmd_free(r);
    r = forward("DEL a b c", RCMD_KEYS_WRITES);
    expect_keys(r, "a,b,c", "a,b,c");
    rcmd_free(r);
    expect_no_records();
}

Test(rcmd, read_changes_none_of_its_keys)
{
    const char *const lines[] = {"GET k", "MGET a b", "EXISTS a",
                                 "EVAL_RO return 2 a b x"};
    const char *const keys[] = {"k", "a,b", "a", "a,b"};

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        for (unsigned what = RCMD_KEYS_WRITES; what <= RCMD_KEYS_ALL; what++) {
            struct rcmd *r = forward(lines[i], what);

            cr_expect_not(r->flags & CMD_WRITE, "%s", lines[i]);
            for (uint32_t k = 0; k < r->nkeys; k++) {
                cr_expect_eq(r->wkey[k], 0, "%s: key %u marked changing",
                             lines[i], k);
            }
            if (what == RCMD_KEYS_ALL) {
                expect_keys(r, keys[i], ""); /* a cluster routes by them */
            }
            cr_expect_eq(r->keys_asked, 0, "%s", lines[i]);
            rcmd_free(r);
        }
    }
    expect_no_records();
}

Test(rcmd, eval_may_change_the_keys_its_specs_call_read_write)
{
    struct rcmd *r = forward("EVAL return 2 k1 k2 arg", RCMD_KEYS_WRITES);

    cr_expect_not(r->flags & CMD_WRITE, "EVAL has no write flag");
    expect_keys(r, "k1,k2", "k1,k2");
    cr_expect_eq(r->keys_asked, 0);
    rcmd_free(r);
    r = forward("FCALL f 1 k3 arg", RCMD_KEYS_WRITES);
    expect_keys(r, "k3", "k3");
    rcmd_free(r);
    r = forward("EVAL return 0", RCMD_KEYS_WRITES);
    cr_expect_eq(r->nkeys, 0);
    rcmd_free(r);
    expect_no_records();
}

Test(rcmd, write_whose_keys_only_redis_can_tell_asks_it)
{
    /* SORT's STORE and MIGRATE's KEYS are INCOMPLETE specs. */
    const char *const asked[] = {"SORT k STORE dst",
                                 "MIGRATE 127.0.0.1 1 \"\" 0 100 KEYS a b"};
    struct rcmd *r;

    for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++) {
        r = forward(asked[i], RCMD_KEYS_WRITES);
        cr_expect(r->flags & CMD_WRITE, "%s", asked[i]);
        cr_expect_eq(r->keys_asked, 1, "%s", asked[i]);
        rcmd_free(r);
    }
    r = forward("SORT_RO k BY w", RCMD_KEYS_WRITES);
    cr_expect_eq(r->keys_asked, 0, "a read's keys are never asked for");
    rcmd_free(r);
    r = forward("SET k v", RCMD_KEYS_WRITES);
    cr_expect_eq(r->keys_asked, 0);
    rcmd_free(r);
    expect_no_records();
}

Test(rcmd, keys_all_keeps_every_argument_for_a_cluster)
{
    static const char *const words[] = {"SET", "k", "v", "EX", "10"};
    struct rcmd *r = forward("SET k v EX 10", RCMD_KEYS_ALL);

    cr_assert_eq(r->nargs, 5);
    for (uint32_t i = 0; i < 5; i++) {
        cr_expect(
            r->args[i].len == strlen(words[i]) &&
                memcmp(r->raw + r->args[i].off, words[i], r->args[i].len) == 0,
            "argument %u: %.*s", i, (int)r->args[i].len,
            r->raw + r->args[i].off);
    }
    expect_keys(r, "k", "k");
    rcmd_free(r);
    r = forward("SET k v EX 10", RCMD_KEYS_WRITES);
    cr_expect_eq(r->nargs, 0);
    cr_expect_null(r->args);
    rcmd_free(r);
    expect_no_records();
}

/* ---- the fifo ---- */

/* A LOOKUP record (a GET that missed) of key, still waiting. */
static struct rcmd *
lookup(const char *key)
{
    size_t n = strlen(key);
    struct rcmd *r = rcmd_new(&px, NULL, RCMD_LOOKUP, n);

    cr_assert_not_null(r);
    memcpy(r->raw, key, n);
    r->raw_len = n;
    return r;
}

/* A HELD record (an answer of the proxy's), DONE at once. */
static struct rcmd *
held(void)
{
    struct rcmd *r = rcmd_new(&px, NULL, RCMD_HELD, 0);

    cr_assert_not_null(r);
    cr_assert_eq(rcmd_set_reply(r, "+PONG\r\n", 7), 0);
    atomic_store(&r->state, RCMD_DONE);
    return r;
}

/* Pops and frees every record of f (none has a completer). */
static void
drain(struct rfifo *f)
{
    struct rcmd *r;

    while ((r = rfifo_pop(f)) != NULL) {
        rcmd_free(r);
    }
}

static void
expect_counts(const struct rfifo *f, size_t n, size_t forwards, size_t lookups)
{
    cr_expect_eq(f->n, n, "n %zu, want %zu", f->n, n);
    cr_expect_eq(f->forwards, forwards, "forwards %zu, want %zu", f->forwards,
                 forwards);
    cr_expect_eq(f->lookups, lookups, "lookups %zu, want %zu", f->lookups,
                 lookups);
}

Test(rfifo, pops_in_push_order_and_counts_each_kind)
{
    struct rfifo f = {0};
    struct rcmd *a = forward("SET a 1", RCMD_KEYS_WRITES), *b = lookup("b"),
                *c = held(), *d = forward("GET d", RCMD_KEYS_WRITES);

    cr_expect(rfifo_empty(&f));
    cr_expect_null(rfifo_pop(&f));
    rfifo_push(&f, a);
    rfifo_push(&f, b);
    rfifo_push(&f, c);
    rfifo_push(&f, d);
    cr_expect_not(rfifo_empty(&f));
    expect_counts(&f, 4, 2, 1);
    cr_expect_eq(rfifo_pop(&f), a);
    expect_counts(&f, 3, 1, 1);
    cr_expect_eq(rfifo_pop(&f), b);
    expect_counts(&f, 2, 1, 0);
    cr_expect_eq(rfifo_pop(&f), c);
    expect_counts(&f, 1, 1, 0);
    rfifo_push(&f, a); /* pushed again behind d */
    cr_expect_eq(rfifo_pop(&f), d);
    cr_expect_eq(rfifo_pop(&f), a);
    cr_expect_null(a->next);
    expect_counts(&f, 0, 0, 0);
    cr_expect(rfifo_empty(&f));
    cr_expect_null(f.tail);
    rcmd_free(a);
    rcmd_free(b);
    rcmd_free(c);
    rcmd_free(d);
    expect_no_records();
}

Test(rfifo, wait_state_follows_the_head)
{
    static struct conn c;
    struct rfifo f = {0};
    struct rcmd *a = forward("SET a 1", RCMD_KEYS_WRITES), *b = lookup("b");

    a->deadline_ms = 1234;
    b->deadline_ms = 5678;
    rfifo_wait_state(&f, &c);
    cr_expect_eq(c.waiting, 0);
    cr_expect_eq(c.wait_deadline_ms, 0);
    rfifo_push(&f, a);
    rfifo_push(&f, b);
    rfifo_wait_state(&f, &c);
    cr_expect_eq(c.waiting, 1);
    cr_expect_eq(c.wait_deadline_ms, 1234);
    rcmd_free(rfifo_pop(&f));
    rfifo_wait_state(&f, &c);
    cr_expect_eq(c.wait_deadline_ms, 5678);
    rcmd_free(rfifo_pop(&f));
    rfifo_wait_state(&f, &c);
    cr_expect_eq(c.waiting, 0);
    expect_no_records();
}

Test(rfifo, abandon_all_frees_the_done_and_orphans_the_waiting)
{
    struct rfifo f = {0};
    struct rcmd *waiting1 = forward("SET a 1", RCMD_KEYS_WRITES),
                *waiting2 = lookup("b");

    rfifo_push(&f, waiting1);
    rfifo_push(&f, held());
    rfifo_push(&f, waiting2);
    cr_assert_eq(atomic_load(&px.records), 3);
    rfifo_abandon_all(&f);
    expect_counts(&f, 0, 0, 0);
    cr_expect(rfifo_empty(&f));
    /* The held one was DONE: freed. The others wait for their
     * completers. */
    cr_expect_eq(atomic_load(&px.records), 2);
    cr_expect_eq(atomic_load(&waiting1->state), RCMD_ORPHAN);
    cr_expect_eq(atomic_load(&waiting2->state), RCMD_ORPHAN);
    rcmd_complete(waiting2);
    cr_expect_eq(atomic_load(&px.records), 1);
    rcmd_complete(waiting1);
    expect_no_records();
}

Test(rfifo, get_waits_behind_a_write_of_its_key_on_its_way)
{
    struct rfifo f = {0};
    struct rcmd *w = forward("SET k v", RCMD_KEYS_WRITES);

    cr_expect_eq(rfifo_writes_key(&f, "k", 1), 0);
    rfifo_push(&f, forward("GET k", RCMD_KEYS_WRITES)); /* a read */
    rfifo_push(&f, lookup("k"));                        /* a lookup */
    cr_expect_eq(rfifo_writes_key(&f, "k", 1), 0, "no write of k yet");
    rfifo_push(&f, w);
    rfifo_push(&f, forward("GET j", RCMD_KEYS_WRITES));
    cr_expect_eq(rfifo_writes_key(&f, "k", 1), 1);
    cr_expect_eq(rfifo_writes_key(&f, "kk", 2), 0);
    cr_expect_eq(rfifo_writes_key(&f, "K", 1), 0);
    cr_expect_eq(rfifo_writes_key(&f, "", 0), 0);
    cr_expect_eq(rfifo_writes_key(&f, "j", 1), 0);
    /* Its reply came: Redis has it, a GET may go its own way. */
    atomic_store(&w->state, RCMD_DONE);
    cr_expect_eq(rfifo_writes_key(&f, "k", 1), 0);
    drain(&f);
    expect_no_records();
}

Test(rfifo, write_of_any_of_several_keys_holds_a_get_of_each)
{
    struct rfifo f = {0};

    rfifo_push(&f, forward("DEL a k b", RCMD_KEYS_WRITES));
    cr_expect_eq(rfifo_writes_key(&f, "a", 1), 1);
    cr_expect_eq(rfifo_writes_key(&f, "k", 1), 1);
    cr_expect_eq(rfifo_writes_key(&f, "b", 1), 1);
    cr_expect_eq(rfifo_writes_key(&f, "c", 1), 0);
    drain(&f);
    rfifo_push(&f, forward("EVAL return 1 k arg", RCMD_KEYS_WRITES));
    cr_expect_eq(rfifo_writes_key(&f, "k", 1), 1, "EVAL may change k");
    cr_expect_eq(rfifo_writes_key(&f, "arg", 3), 0);
    drain(&f);
    rfifo_push(&f, forward("EVAL_RO return 1 k", RCMD_KEYS_WRITES));
    cr_expect_eq(rfifo_writes_key(&f, "k", 1), 0, "EVAL_RO changes nothing");
    drain(&f);
    expect_no_records();
}

Test(rfifo, write_without_keys_or_with_keys_redis_must_tell_holds_every_get)
{
    const char *const lines[] = {"FLUSHALL", "FLUSHDB ASYNC",
                                 "SORT k STORE dst"};

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct rfifo f = {0};

        rfifo_push(&f, forward(lines[i], RCMD_KEYS_WRITES));
        cr_expect_eq(rfifo_writes_key(&f, "anything", 8), 1, "%s", lines[i]);
        cr_expect_eq(rfifo_writes_key(&f, "x", 1), 1, "%s", lines[i]);
        drain(&f);
    }
    expect_no_records();
}

Test(rfifo, command_redis_does_not_list_holds_no_get)
{
    struct rfifo f = {0};

    rfifo_push(&f, forward("NOSUCHCMD k", RCMD_KEYS_WRITES));
    cr_expect_eq(rfifo_writes_key(&f, "k", 1), 0);
    drain(&f);
    expect_no_records();
}

Test(rfifo, write_waits_for_a_lookup_of_its_key_on_its_way)
{
    struct rfifo f = {0};
    struct rcmd *l = lookup("k"), *w1 = forward("SET k v", RCMD_KEYS_WRITES),
                *w2 = forward("DEL a k", RCMD_KEYS_WRITES),
                *w3 = forward("SET j v", RCMD_KEYS_WRITES),
                *w4 = forward("FLUSHALL", RCMD_KEYS_WRITES),
                *rd = forward("GET k", RCMD_KEYS_WRITES),
                *ev = forward("EVAL return 1 k", RCMD_KEYS_WRITES);

    cr_expect_eq(rfifo_reads_keys_of(&f, w1), 0);
    rfifo_push(&f, forward("SET k other", RCMD_KEYS_WRITES)); /* no lookup */
    cr_expect_eq(rfifo_reads_keys_of(&f, w1), 0, "only lookups count");
    rfifo_push(&f, l);
    cr_expect_eq(rfifo_reads_keys_of(&f, w1), 1);
    cr_expect_eq(rfifo_reads_keys_of(&f, w2), 1);
    cr_expect_eq(rfifo_reads_keys_of(&f, w3), 0);
    cr_expect_eq(rfifo_reads_keys_of(&f, w4), 1, "FLUSHALL changes k too");
    cr_expect_eq(rfifo_reads_keys_of(&f, rd), 0, "a read changes nothing");
    cr_expect_eq(rfifo_reads_keys_of(&f, ev), 1);
    /* The lookup's fill came: what it read is what was there. */
    atomic_store(&l->state, RCMD_DONE);
    cr_expect_eq(rfifo_reads_keys_of(&f, w1), 0);
    cr_expect_eq(rfifo_reads_keys_of(&f, w4), 0);
    drain(&f);
    rcmd_free(w1);
    rcmd_free(w2);
    rcmd_free(w3);
    rcmd_free(w4);
    rcmd_free(rd);
    rcmd_free(ev);
    expect_no_records();
}

/* ---- the state machine ---- */

static const struct conn_ops test_ops = {.name = "test"};
static struct conn_budget budget;
static const struct conn_kind test_kind = {.ops = &test_ops, .budget = &budget};

/* A conn parked in the waiter, as one waiting for Redis is; *peer gets
 * the other end of its socket. */
static struct conn *
parked_conn(int *peer)
{
    struct conn *c = unit_conn(&test_kind, peer);

    cr_assert_eq(waiter_attach(px.waiter, c), 0);
    cr_assert_eq(waiter_park(px.waiter, c, 0), 0);
    return c;
}

/* The conn the waiter handed to the work queue, or NULL. */
static struct conn *
queued_conn(void)
{
    void *item = NULL;

    return workq_trypop(px.q, &item) == WORKQ_OK ? item : NULL;
}

Test(rcmd_state, completed_first_wakes_the_conn_and_its_owner_frees)
{
    int peer;
    struct conn *c = parked_conn(&peer);
    struct rcmd *r = rcmd_new(&px, c, RCMD_FORWARD, 0);

    cr_assert_not_null(r);
    cr_expect_not(rcmd_done(r));
    cr_assert_null(queued_conn(), "woken before its reply came");
    cr_assert_eq(rcmd_set_reply(r, ":1\r\n", 4), 0);
    rcmd_complete(r);
    cr_expect(rcmd_done(r));
    cr_expect_eq(atomic_load(&px.records), 1, "the completer freed it");
    cr_expect_eq(queued_conn(), c, "the conn was not woken");
    cr_expect_eq(r->reply_len, 4);
    cr_expect_arr_eq(r->reply, ":1\r\n", 4);
    rcmd_free(r); /* the owner, having answered */
    expect_no_records();
    waiter_drop(px.waiter, c);
    close(peer);
}

Test(rcmd_state, abandoned_done_record_is_freed_by_its_owner)
{
    struct rcmd *r = rcmd_new(&px, NULL, RCMD_FORWARD, 0);

    cr_assert_not_null(r);
    rcmd_complete(r);
    cr_expect_eq(atomic_load(&px.records), 1);
    rcmd_abandon(r); /* the conn goes before it wrote the reply */
    expect_no_records();
}

Test(rcmd_state, abandoned_first_is_freed_by_its_completer_and_wakes_nobody)
{
    int peer;
    struct conn *c = parked_conn(&peer);
    struct rcmd *r = rcmd_new(&px, c, RCMD_FORWARD, 0);

    cr_assert_not_null(r);
    rcmd_abandon(r); /* the conn timed out waiting for it */
    cr_expect_eq(atomic_load(&r->state), RCMD_ORPHAN);
    cr_expect_eq(atomic_load(&px.records), 1, "freed under its completer");
    rcmd_fail(r, -2, "connection lost");
    rcmd_complete(r);
    expect_no_records();
    cr_expect_null(queued_conn(), "a conn that stopped waiting was woken");
    cr_expect_eq(waiter_count(px.waiter), 1);
    close(peer);
}

Test(rcmd_state, completing_for_a_conn_that_left_touches_nothing_of_it)
{
    int peer;
    struct conn *c = parked_conn(&peer);
    struct rcmd *r = rcmd_new(&px, c, RCMD_FORWARD, 0);
    struct conn *again;

    cr_assert_not_null(r);
    cr_assert_eq(queued_conn(), NULL);
    /* The conn is taken back and dropped (its slot's generation moves
     * on), and another conn gets the slot. */
    waiter_wake(px.waiter, c->slot, c->gen);
    cr_assert_eq(queued_conn(), c);
    waiter_drop(px.waiter, c);
    close(peer);
    again = parked_conn(&peer);
    rcmd_complete(r);
    cr_expect_null(queued_conn(), "a later conn in the slot was woken");
    rcmd_free(r);
    expect_no_records();
    (void)again; /* parked: the waiter closes it */
    close(peer);
}

/* ---- complete and abandon racing ---- */

#define RACE_RECORDS 20000
#define RACE_ROUNDS 200

struct race {
    struct rcmd **recs;
    pthread_barrier_t start;
    long complete_first; /* the abandoner found the record DONE */
    long abandon_first;  /* the completer found the record ORPHAN */
};

/* Completes every record, first to last. Before it acts the record is
 * still there whatever the other did: only the second party frees. */
static void *
completer(void *arg)
{
    struct race *rc = arg;

    pthread_barrier_wait(&rc->start);
    for (int i = 0; i < RACE_RECORDS; i++) {
        struct rcmd *r = rc->recs[i];

        if (atomic_load(&r->state) == RCMD_ORPHAN) {
            rc->abandon_first++;
        }
        rcmd_fail(r, -3, "timeout");
        rcmd_complete(r);
    }
    return NULL;
}

/* Abandons every record, last to first: the two meet on the way. */
static void *
abandoner(void *arg)
{
    struct race *rc = arg;

    pthread_barrier_wait(&rc->start);
    for (int i = RACE_RECORDS - 1; i >= 0; i--) {
        struct rcmd *r = rc->recs[i];

        if (atomic_load(&r->state) == RCMD_DONE) {
            rc->complete_first++;
        }
        rcmd_abandon(r);
    }
    return NULL;
}

Test(rcmd_state, complete_and_abandon_race_frees_every_record_once)
{
    static struct rcmd *recs[RACE_RECORDS];
    long complete_first = 0, abandon_first = 0;
    int round;

    for (round = 0;
         round < RACE_ROUNDS && (complete_first == 0 || abandon_first == 0);
         round++) {
        struct race rc = {.recs = recs};
        pthread_t a, b;

        for (int i = 0; i < RACE_RECORDS; i++) {
            recs[i] = rcmd_new(&px, NULL, RCMD_FORWARD, 0);
            cr_assert_not_null(recs[i]);
        }
        cr_assert_eq(pthread_barrier_init(&rc.start, NULL, 2), 0);
        cr_assert_eq(pthread_create(&a, NULL, completer, &rc), 0);
        cr_assert_eq(pthread_create(&b, NULL, abandoner, &rc), 0);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        pthread_barrier_destroy(&rc.start);
        cr_assert_eq(atomic_load(&px.records), 0,
                     "round %d: %ld records not freed", round,
                     atomic_load(&px.records));
        complete_first += rc.complete_first;
        abandon_first += rc.abandon_first;
    }
    cr_log_info("%d rounds: %ld completed first, %ld abandoned first", round,
                complete_first, abandon_first);
    cr_expect_gt(complete_first, 0, "no record was completed first");
    cr_expect_gt(abandon_first, 0, "no record was abandoned first");
}

Test(rcmd, read_outside_a_cluster_records_no_keys)
{
    /* rcmd.h: keys are "NULL when none matter: a read outside a
     * cluster", and rcmd_command reads them "as `what` asks". */
    struct rcmd *r = forward("MGET a b c", RCMD_KEYS_WRITES);

    cr_expect_eq(r->nkeys, 0, "a read outside a cluster has %u keys", r->nkeys);
    cr_expect_null(r->keys);
    rcmd_free(r);
    expect_no_records();
}
