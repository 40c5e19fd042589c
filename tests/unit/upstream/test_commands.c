/*
 * Unit tests of the command table (upstream/commands): loaded with
 * commands_load from a real redis-server started here (the COMMAND reply
 * of the Redis the tests run against, parsed through hiredis as in the
 * proxy), then, for commands of every shape of key spec, the keys found,
 * the keys a command may change, and whether Redis must be asked (SORT,
 * MIGRATE). Wherever the table finds the keys itself, Redis's own COMMAND
 * GETKEYS on the same server must name the same ones, in the same order.
 */
#include <criterion/criterion.h>

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"
#include "upstream/commands.h"
#include "unit_helpers.h"

/* ---- a redis-server of our own ---- */

static struct unit_redis server;
static struct commands *cmds;
static const struct cmd_table *table;

static struct config target_cfg;
static struct config_ref target_ref;

static struct redis_target
target(int port)
{
    config_defaults(&target_cfg); /* connect and command timeouts: 1 s */
    atomic_init(&target_ref.cur, &target_cfg);
    return (struct redis_target){.host = "127.0.0.1",
                                 .port = port,
                                 .user = "",
                                 .password = "",
                                 .cfg = &target_ref};
}

static void
setup(void)
{
    unit_table_up(&server, &cmds, &table);
}

static void
teardown(void)
{
    unit_table_down(&server, cmds);
}

TestSuite(commands, .init = setup, .fini = teardown, .timeout = 30);

/* ---- commands as the proxy parses them ---- */

/* A command line, words split on spaces, parsed from its RESP array form
 * (in buf, which must outlive cmd) or inline (words in w). */
static void
parse(const char *line, int as_inline, char *buf, size_t cap,
      struct resp_arg *w, struct resp_command *cmd)
{
    struct resp_parser ps;
    const char *err;
    size_t n = 0;

    if (as_inline) {
        n = (size_t)snprintf(buf, cap, "%s\r\n", line);
        resp_parser_init(&ps, 1 << 20, w);
        cr_assert_eq(resp_parser_feed(&ps, buf, n, cmd, &err), RESP_OK, "%s",
                     line);
        return;
    }
    {
        char copy[4096], *save = NULL, *tok;
        const char *argv[1100];
        size_t argc = 0;

        snprintf(copy, sizeof(copy), "%s", line);
        for (tok = strtok_r(copy, " ", &save); tok != NULL && argc < 1099;
             tok = strtok_r(NULL, " ", &save)) {
            argv[argc++] = tok;
        }
        n = (size_t)snprintf(buf, cap, "*%zu\r\n", argc);
        for (size_t i = 0; i < argc; i++) {
            n += (size_t)snprintf(buf + n, cap - n, "$%zu\r\n%s\r\n",
                                  strlen(argv[i]), argv[i]);
        }
        cr_assert_lt(n, cap);
    }
    cr_assert_eq(resp_parse(buf, n, 1 << 20, cmd, &err), RESP_OK, "%s", line);
}

/* Collects keys as one space-separated string. */
struct keys {
    char s[8192];
    size_t n;
};

static void
collect(void *arg, const struct resp_arg *key)
{
    struct keys *k = arg;
    size_t len = strlen(k->s);

    snprintf(k->s + len, sizeof(k->s) - len, "%s%.*s", k->n ? " " : "",
             (int)key->len, key->p);
    k->n++;
}

static const struct cmd_info *
find(const struct resp_command *cmd)
{
    return commands_find(table, cmd->argv,
                         cmd->argc < RESP_KEEP_ARGS ? cmd->argc
                                                    : RESP_KEEP_ARGS);
}

/* commands_keys over line; returns its result, the keys in *k. */
static int
keys_of(const char *line, int as_inline, int writes_only, struct keys *k)
{
    static char buf[1 << 16];
    static struct resp_arg w[RESP_MAX_INLINE_ARGS];
    struct resp_command cmd;
    const struct cmd_info *ci;

    memset(k, 0, sizeof(*k));
    parse(line, as_inline, buf, sizeof(buf), w, &cmd);
    ci = find(&cmd);
    cr_assert_not_null(ci, "%s: not in the table", line);
    return commands_keys(ci, &cmd, buf, writes_only, collect, k);
}

/* Redis's own answer: COMMAND GETKEYS <line>, space-separated. */
static void
redis_getkeys(const char *line, struct keys *k)
{
    char copy[4096], *save = NULL, *tok;
    const char *argv[1100] = {"COMMAND", "GETKEYS"};
    int argc = 2;
    redisContext *c = redisConnect("127.0.0.1", server.port);
    redisReply *r;

    cr_assert(c != NULL && !c->err);
    snprintf(copy, sizeof(copy), "%s", line);
    for (tok = strtok_r(copy, " ", &save); tok != NULL && argc < 1099;
         tok = strtok_r(NULL, " ", &save)) {
        argv[argc++] = tok;
    }
    r = redisCommandArgv(c, argc, argv, NULL);
    cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY, "GETKEYS %s: %s", line,
              r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "?");
    memset(k, 0, sizeof(*k));
    for (size_t i = 0; i < r->elements; i++) {
        struct resp_arg a = {r->element[i]->str, r->element[i]->len};

        collect(k, &a);
    }
    freeReplyObject(r);
    redisFree(c);
}

/* ---- key extraction ---- */

static const struct key_case {
    const char *line;
    int rc;            /* commands_keys over every key */
    const char *keys;  /* ... and what it found */
    int wrc;           /* commands_keys over the keys it may change */
    const char *wkeys; /* ... and what it found (writes_only) */
} key_cases[] = {
    {"GET k", 0, "k", 0, ""},
    {"SET k v EX 10", 0, "k", 0, "k"},
    {"MSET a 1 b 2 c 3", 0, "a b c", 0, "a b c"},
    {"MGET a b c", 0, "a b c", 0, ""},
    {"DEL a b c", 0, "a b c", 0, "a b c"},
    {"RENAME a b", 0, "a b", 0, "a b"},
    {"LMOVE src dst LEFT RIGHT", 0, "src dst", 0, "src dst"},
    {"BLPOP a b 0", 0, "a b", 0, "a b"},
    {"BLMOVE src dst LEFT RIGHT 0", 0, "src dst", 0, "src dst"},
    {"BZPOPMIN z1 z2 5", 0, "z1 z2", 0, "z1 z2"},
    /* keyword begin-search with a limit: keys up to the ids */
    {"XREAD COUNT 2 STREAMS s1 s2 0 0", 0, "s1 s2", 0, ""},
    {"XREAD BLOCK 0 STREAMS s1 $", 0, "s1", 0, ""},
    {"XREADGROUP GROUP g c STREAMS s1 s2 > >", 0, "s1 s2", 0, ""},
    {"XADD s * f v", 0, "s", 0, "s"},
    /* keynum: the count decides */
    {"EVAL s 2 k1 k2 a1", 0, "k1 k2", 0, "k1 k2"},
    {"EVAL s 0 a1", 0, "", 0, ""},
    {"EVALSHA abc 1 k1", 0, "k1", 0, "k1"},
    {"EVAL_RO s 1 k1", 0, "k1", 0, ""},
    {"FCALL f 1 k a", 0, "k", 0, "k"},
    {"ZUNIONSTORE d 2 a b", 0, "d a b", 0, "d"},
    {"SINTERCARD 2 a b LIMIT 1", 0, "a b", 0, ""},
    {"LMPOP 2 a b LEFT", 0, "a b", 0, "a b"},
    {"BITOP AND d a b", 0, "d a b", 0, "d"},
    /* optional keywords: present or not */
    {"GEORADIUS g 15 37 200 km STORE d", 0, "g d", 0, "d"},
    {"GEORADIUS g 15 37 200 km", 0, "g", 0, ""},
    /* container commands resolve to their subcommand */
    {"OBJECT ENCODING k", 0, "k", 0, ""},
    {"MEMORY USAGE k", 0, "k", 0, ""},
    /* no keys at all */
    {"PING", 0, "", 0, ""},
    {"FLUSHALL", 0, "", 0, ""},
    /* only Redis can tell */
    {"SORT k", 1, "", 1, ""},
    {"SORT k STORE d", 1, "", 1, ""},
    {"SORT_RO k BY w*", 1, "", 1, ""},
    {"MIGRATE h 6379 k 0 5000", 1, "", 1, ""},
    /* arguments that do not fit the spec */
    {"GET", -1, "", 0, ""}, /* its one spec is read-only: skipped */
    {"EVAL s 3 k1", -1, "", -1, ""},
    {"EVAL s x k1", -1, "", -1, ""},
};

Test(commands, keys_of_every_spec_shape_are_found_as_redis_finds_them)
{
    for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
        const struct key_case *kc = &key_cases[i];
        struct keys k, w, r;
        int rc = keys_of(kc->line, 0, 0, &k);
        int wrc = keys_of(kc->line, 0, 1, &w);

        cr_expect_eq(rc, kc->rc, "%s: commands_keys %d, want %d", kc->line, rc,
                     kc->rc);
        cr_expect_eq(wrc, kc->wrc, "%s: writes only: %d, want %d", kc->line,
                     wrc, kc->wrc);
        if (wrc == 0) {
            cr_expect_str_eq(w.s, kc->wkeys, "%s: changed keys '%s', want '%s'",
                             kc->line, w.s, kc->wkeys);
        }
        if (kc->rc != 0) {
            continue;
        }
        cr_expect_str_eq(k.s, kc->keys, "%s: keys '%s', want '%s'", kc->line,
                         k.s, kc->keys);
        if (k.n > 0) {
            redis_getkeys(kc->line, &r);
            cr_expect_str_eq(k.s, r.s, "%s: the table says '%s', Redis '%s'",
                             kc->line, k.s, r.s);
        }
    }
}

Test(commands, an_inline_command_has_the_keys_of_its_array_form)
{
    static const char *const lines[] = {
        "MSET a 1 b 2 c 3 d 4 e 5", /* more than RESP_KEEP_ARGS */
        "EVAL s 3 k1 k2 k3 x y z",
        "XREAD COUNT 1 STREAMS s1 s2 s3 0 0 0",
        "GET k",
    };

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct keys a, b;

        cr_assert_eq(keys_of(lines[i], 0, 0, &a), 0, "%s", lines[i]);
        cr_assert_eq(keys_of(lines[i], 1, 0, &b), 0, "%s inline", lines[i]);
        cr_assert_str_eq(a.s, b.s, "%s: array '%s', inline '%s'", lines[i], a.s,
                         b.s);
        cr_assert_gt(a.n, 0);
    }
}

Test(commands, hundreds_of_keys_are_all_found_in_order)
{
    static char line[8192], want[8192];
    struct keys k, r;
    size_t o = 0, wo = 0;

    o += (size_t)snprintf(line, sizeof(line), "DEL");
    for (int i = 0; i < 300; i++) { /* past the 256 indexed on the stack */
        o += (size_t)snprintf(line + o, sizeof(line) - o, " key%d", i);
        wo += (size_t)snprintf(want + wo, sizeof(want) - wo, "%skey%d",
                               i ? " " : "", i);
    }
    cr_assert_eq(keys_of(line, 0, 1, &k), 0);
    cr_assert_eq(k.n, 300);
    cr_assert_str_eq(k.s, want);
    redis_getkeys(line, &r);
    cr_assert_str_eq(k.s, r.s);
}

/* ---- the table itself ---- */

static const struct cmd_info *
find_line(const char *line)
{
    static char buf[4096];
    static struct resp_command cmd;

    parse(line, 0, buf, sizeof(buf), NULL, &cmd);
    return find(&cmd);
}

Test(commands, lookups_ignore_case_and_resolve_subcommands)
{
    const struct cmd_info *get = find_line("get k"), *obj, *enc;

    cr_assert_not_null(get);
    cr_assert_eq(find_line("GeT k"), get);
    cr_assert_null(find_line("NOSUCHCOMMAND"));
    cr_assert_eq(commands_arity(get), 2);
    cr_assert_eq(commands_arity(find_line("SET k v")), -3);
    obj = find_line("OBJECT");
    enc = find_line("object Encoding k");
    cr_assert(obj != NULL && enc != NULL && obj != enc);
    cr_assert_eq(commands_arity(obj), -2);
    cr_assert_eq(commands_arity(enc), 3, "object|encoding");
    /* an unknown subcommand is the container's */
    cr_assert_eq(find_line("OBJECT NOPE"), obj);
    cr_assert_eq(commands_arity(find_line("CLIENT LIST")), -2);
}

Test(commands, flags_are_redis_own)
{
    static const struct {
        const char *line;
        unsigned set, clear;
    } cases[] = {
        {"SET k v", CMD_WRITE, CMD_READONLY | CMD_BLOCKING},
        {"GET k", CMD_READONLY, CMD_WRITE},
        {"BLPOP k 0", CMD_WRITE | CMD_BLOCKING, 0},
        {"XREAD STREAMS s 0", CMD_READONLY | CMD_BLOCKING | CMD_MOVABLEKEYS,
         CMD_WRITE},
        {"SUBSCRIBE c", CMD_PUBSUB | CMD_NOSCRIPT, CMD_WRITE},
        {"EVAL s 0", CMD_MOVABLEKEYS | CMD_NOSCRIPT, CMD_WRITE | CMD_READONLY},
        {"SORT k", CMD_WRITE | CMD_MOVABLEKEYS, 0},
        {"MULTI", CMD_NOSCRIPT, CMD_WRITE | CMD_BLOCKING},
        {"FLUSHALL", CMD_WRITE, CMD_READONLY},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct cmd_info *ci = find_line(cases[i].line);
        unsigned f;

        cr_assert_not_null(ci, "%s", cases[i].line);
        f = commands_flags(ci);
        cr_expect_eq(f & cases[i].set, cases[i].set, "%s: flags %#x",
                     cases[i].line, f);
        cr_expect_eq(f & cases[i].clear, 0, "%s: flags %#x", cases[i].line, f);
    }
}

Test(commands, a_failed_reload_keeps_the_table)
{
    struct redis_target dead = target(unit_free_port());
    char err[REDIS_ERR_MAX] = "";
    size_t n = commands_count(table);

    commands_release(cmds);
    cr_assert_eq(commands_load(cmds, &dead, err), -1);
    cr_assert_neq(err[0], '\0', "the reason");
    table = commands_acquire(cmds);
    cr_assert_eq(commands_count(table), n);
    cr_assert_not_null(find_line("GET k"));
}

Test(commands, an_empty_holder_knows_no_command)
{
    struct commands *empty = commands_create();
    const struct cmd_table *t;
    struct resp_arg get = {"GET", 3};

    cr_assert_not_null(empty);
    t = commands_acquire(empty);
    cr_assert_eq(commands_count(t), 0);
    cr_assert_null(commands_find(t, &get, 1));
    commands_release(empty);
    commands_destroy(empty);
    commands_destroy(NULL);
}
