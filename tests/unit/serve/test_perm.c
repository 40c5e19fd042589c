/*
 * Unit tests of serve/perm, what a read user may run, decided by Redis's
 * own command table: loaded with commands_load from a redis-server of the
 * test's own, then, command by command, allowed (reads, scans, INFO,
 * COMMAND, transactions, pub/sub and PUBLISH, the read-only scripts) or
 * refused (writes, admin commands and subcommands, scripts that may
 * write, commands Redis does not list); the proxy's own commands always
 * allowed; and the refusal in Redis's words, naming the subcommand as
 * Redis does and never echoing a control byte.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "cmd_helpers.h"
#include "serve/perm.h"
#include "serve/resp_local.h"
#include "upstream/commands.h"
#include "unit_helpers.h"

static struct unit_redis server;
static struct commands *cmds;
static const struct cmd_table *table;

static void
setup(void)
{
    unit_table_up(&server, &cmds, &table);
    cr_assert_gt(commands_count(table), 100, "the table was read");
}

static void
teardown(void)
{
    unit_table_down(&server, cmds);
}

TestSuite(perm, .init = setup, .fini = teardown, .timeout = 30);

/* What perm says of the command line (a RESP array). */
static int
allows(const char *line)
{
    struct resp_command cmd = arr(line);

    return perm_read_allows(
        resp_local_which(&cmd),
        commands_find(table, cmd.argv,
                      cmd.argc < RESP_KEEP_ARGS ? cmd.argc : RESP_KEEP_ARGS));
}

Test(perm, reads_and_harmless_commands_are_allowed)
{
    static const char *const ok[] = {
        "STRLEN k",
        "MGET a b",
        "HGETALL h",
        "ZRANGE z 0 -1",
        "SCAN 0",
        "KEYS *",
        "DBSIZE",
        "TTL k",
        "EXISTS k",
        "INFO",
        "COMMAND COUNT",
        "TIME",
        "MULTI",
        "EXEC",
        "DISCARD",
        "WATCH k",
        "SUBSCRIBE ch",
        "PUBLISH ch hi",
        "XREAD STREAMS s 0",
        "SORT_RO l",
        "EVAL_RO return 1 0",
        "FCALL_RO f 0",
        "PFCOUNT hll",
        "OBJECT ENCODING k",
        "ACL WHOAMI",
        "CLIENT TRACKING on",
        "MEMORY USAGE k",
        "WAIT 0 0",
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_expect_eq(allows(ok[i]), 1, "%s refused", ok[i]);
    }
}

Test(perm, writes_admin_and_scripts_that_may_write_are_refused)
{
    static const char *const refused[] = {
        "SET k v",          "DEL k",          "INCR n",
        "LPUSH l x",        "BLPOP l 0",      "EXPIRE k 1",
        "FLUSHALL",         "FLUSHDB",        "SWAPDB 0 1",
        "SORT l",           "COPY a b",       "RESTORE k 0 x",
        "EVAL return 1 0",  "EVALSHA abc 0",  "FCALL f 0",
        "SCRIPT LOAD x",    "SCRIPT FLUSH",   "FUNCTION LOAD x",
        "CONFIG GET x",     "CONFIG SET x y", "CLIENT KILL ID 1",
        "CLIENT LIST",      "MONITOR",        "DEBUG SLEEP 0",
        "SHUTDOWN",         "ACL SETUSER x",  "SLOWLOG GET",
        "REPLICAOF no one", "BGSAVE",         "NOSUCHCOMMAND x",
    };

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        cr_expect_eq(allows(refused[i]), 0, "%s allowed", refused[i]);
    }
}

Test(perm, the_proxys_own_commands_are_allowed)
{
    static const char *const own[] = {
        "GET k",      "PING",     "ECHO x",
        "QUIT",       "AUTH u p", "HELLO 3",
        "RESET",      "SELECT 1", "CLIENT SETNAME app",
        "CLIENT INFO"};

    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        cr_expect_eq(allows(own[i]), 1, "%s refused", own[i]);
    }
}

/* The refusal of line. */
static const char *
refusal(struct resp_command cmd)
{
    static char out[200];

    perm_refusal(
        &cmd,
        commands_find(table, cmd.argv,
                      cmd.argc < RESP_KEEP_ARGS ? cmd.argc : RESP_KEEP_ARGS),
        out, sizeof(out));
    return out;
}

Test(perm, the_refusal_is_redis_nopermission_text)
{
    cr_expect_str_eq(refusal(arr("set k v")),
                     "NOPERM this user has no permissions to run the 'set' "
                     "command");
    cr_expect_str_eq(refusal(arr("Config get x")),
                     "NOPERM this user has no permissions to run the "
                     "'config|get' command");
    cr_expect_str_eq(refusal(arr("NoSuch x")),
                     "NOPERM this user has no permissions to run the "
                     "'nosuch' command");
    cr_expect_str_eq(refusal(inl("\"a\\r\\nb\" x")),
                     "NOPERM this user has no permissions to run the "
                     "'a??b' command",
                     "control bytes never reach the reply");
}
