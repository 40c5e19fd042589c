/*
 * Unit tests of [users] (base/config_users.c through config.h): entries
 * that load (both permissions, hashes in either case, blanks between the
 * words), every refusal with its exact "FILE:LINE: ..." error and never
 * the hash text (an unknown permission, a malformed hash, a missing one,
 * a bad name, a duplicate user naming both lines, one user too many),
 * -s users.NAME=..., config_user_find, -t's section that loads back, the
 * startup line without hashes, config_diff's calls for users added,
 * removed and changed, config_apply_live carrying them, every name live,
 * and protected mode satisfied by users alone.
 */
#include "config_helpers.h"

#define AHEX "6624974ea2baffac164422e4490376c1c31313cd97724ae8ce62fb3f0a0370f2"
#define EHEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define AHASH "sha256:" AHEX /* of "alicepw" */
#define EHASH "sha256:" EHEX /* of "" */

#define HASH_MSG(user)                                                         \
    "[users] " user ": malformed password hash (expected sha256: and 64 "      \
    "hex digits, as redis-proxy --hash-password prints)"
#define WORDS_MSG(user)                                                        \
    "[users] " user ": expected a permission and a password hash ('read "      \
    "sha256:...' or 'write sha256:...')"
#define NAME_MSG(user)                                                         \
    "[users] '" user "': a user name is 1 to 63 letters, digits, '-', '_', "   \
    "'.' or '@'"

Test(config_users, entries_load_with_their_permission_and_hash)
{
    struct config cfg;
    const struct config_user *u;

    load_ok("[users]\nalice = write " AHASH "\nreport.bot@x-1 = read  "
            "\tSHA256:" EHEX "\n",
            &cfg);
    cr_assert_eq(cfg.nusers, 2);
    u = config_user_find(&cfg, "alice", 5);
    cr_assert_not_null(u);
    cr_assert_eq(u->perm, CONFIG_PERM_WRITE);
    cr_assert_eq(u->hash[0], 0x66);
    cr_assert_eq(u->hash[31], 0xf2);
    u = config_user_find(&cfg, "report.bot@x-1", 14);
    cr_assert_not_null(u);
    cr_assert_eq(u->perm, CONFIG_PERM_READ);
    cr_assert_eq(u->hash[0], 0xe3);
    cr_assert_null(config_user_find(&cfg, "Alice", 5), "names are exact");
    cr_assert_null(config_user_find(&cfg, "alic", 4));
    config_defaults(&cfg);
    cr_assert_eq(cfg.nusers, 0, "no users by default");
}

Test(config_users, each_refusal_names_the_line_and_what_is_wrong)
{
    expect_file_error("[users]\nalice = admin " AHASH "\n", 2,
                      "[users] alice: unknown permission 'admin' (expected "
                      "read or write)");
    expect_file_error("[users]\nalice = Read " AHASH "\n", 2,
                      "[users] alice: unknown permission 'Read' (expected "
                      "read or write)");
    expect_file_error("[users]\nalice = read sha256:" EHEX "0\n", 2,
                      HASH_MSG("alice"));
    expect_file_error("[users]\nalice = read hunter2\n", 2, HASH_MSG("alice"));
    expect_file_error("[users]\nalice = read\n", 2, WORDS_MSG("alice"));
    expect_file_error("[users]\nalice =\n", 2, WORDS_MSG("alice"));
    expect_file_error("[users]\nalice = read " AHASH " extra\n", 2,
                      WORDS_MSG("alice"));
    expect_file_error("[users]\nbad name = read " AHASH "\n", 2,
                      NAME_MSG("bad name"));
    expect_file_error("[users]\nal/ice = read " AHASH "\n", 2,
                      NAME_MSG("al/ice"));
    expect_file_error("[users]\n"
                      "a234567890123456789012345678901234567890123456789012345"
                      "678901234 = read " AHASH "\n",
                      2,
                      NAME_MSG("a2345678901234567890123456789012345678901234567"
                               "89012345678901234"));
    expect_file_error("[users]\nalice = read " AHASH "\n\n; a comment\n"
                      "alice = write " EHASH "\n",
                      5,
                      "duplicate user 'alice' in [users] (first set at line "
                      "2)");
}

Test(config_users, an_error_never_shows_the_hash_text)
{
    char err[CONFIG_ERR_MAX] = "";
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(load_text(&cfg, "[users]\nalice = read MyS3cretPassw0rd\n",
                           err, sizeof(err)),
                 -1);
    cr_assert_null(strstr(err, "MyS3cret"), "%s", err);
}

Test(config_users, at_most_64_users)
{
    char text[64 * 100 + 200];
    size_t n = (size_t)snprintf(text, sizeof(text), "[users]\n");
    struct config cfg;

    for (int i = 0; i < CONFIG_USERS_MAX; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "u%d = read %s\n", i,
                              AHASH);
    }
    load_ok(text, &cfg);
    cr_assert_eq(cfg.nusers, CONFIG_USERS_MAX);
    snprintf(text + n, sizeof(text) - n, "one_more = read %s\n", AHASH);
    expect_file_error(text, CONFIG_USERS_MAX + 2,
                      "[users] one_more: too many users (at most 64)");
}

Test(config_users, set_on_the_command_line_adds_or_replaces)
{
    struct config cfg;

    load_ok("[users]\nalice = read " AHASH "\n", &cfg);
    set_ok(&cfg, "users.alice=write " EHASH);
    set_ok(&cfg, "users.bob=read " AHASH);
    cr_assert_eq(cfg.nusers, 2);
    cr_assert_eq(config_user_find(&cfg, "alice", 5)->perm, CONFIG_PERM_WRITE);
    cr_assert_eq(config_user_find(&cfg, "alice", 5)->hash[0], 0xe3);
    cr_assert_eq(config_user_find(&cfg, "bob", 3)->perm, CONFIG_PERM_READ);
    expect_set_error("users.carol=write",
                     "-s users.carol=write: " WORDS_MSG("carol"));
    cr_assert_eq(config_set_is_secret("users.alice=read " AHASH), 0);
}

Test(config_users, print_shows_them_last_and_loads_back)
{
    struct config cfg;
    const char *sec;
    char *out;

    load_ok("[users]\nbob = read " EHASH "\nalice = write " AHASH "\n", &cfg);
    out = print_to_string(&cfg);
    sec = strstr(out, "\n[users]\n");
    cr_assert_not_null(sec, "%s", out);
    cr_assert_str_eq(
        sec, "\n[users]\nbob = read " EHASH "\nalice = write " AHASH "\n",
        "[users] is the last section, each user as loaded");
    free(out);
    assert_round_trip(&cfg);
    config_defaults(&cfg);
    out = print_to_string(&cfg);
    cr_assert_null(strstr(out, "[users]"), "no section without users");
    free(out);
}

Test(config_users, the_startup_line_names_them_without_hashes)
{
    char line[8192];
    struct config cfg;

    load_ok("[users]\nalice = write " AHASH "\nbob = read " EHASH "\n", &cfg);
    config_format_line(&cfg, line, sizeof(line));
    cr_assert_not_null(strstr(line, " users=alice:write,bob:read"), "%s", line);
    cr_assert_null(strstr(line, AHEX), "%s", line);
    cr_assert_null(strstr(line, "sha256"), "%s", line);
}

/* config_diff's calls for [users], as "name old|new|live" lines. */
static void
record(void *arg, const char *section, const char *name, const char *old_text,
       const char *new_text, int live)
{
    char *out = arg;
    size_t n = strlen(out);

    snprintf(out + n, 1024 - n, "%s.%s %s|%s|%d\n", section, name, old_text,
             new_text, live);
}

Test(config_users, diff_reports_users_added_removed_and_changed)
{
    struct config a, b;
    char calls[1024] = "";

    load_ok("[users]\nalice = write " AHASH "\nbob = read " AHASH
            "\ncarol = read " AHASH "\n",
            &a);
    load_ok("[users]\nbob = write " AHASH "\ncarol = read " EHASH
            "\ndave = read " EHASH "\n",
            &b);
    config_diff(&a, &b, record, calls);
    cr_assert_str_eq(calls, "users.alice write||1\n"
                            "users.bob read|write|1\n"
                            "users.carol read|read, new password|1\n"
                            "users.dave |read|1\n");
    calls[0] = '\0';
    config_diff(&b, &b, record, calls);
    cr_assert_str_eq(calls, "", "equal: no call");
}

Test(config_users, every_user_is_live)
{
    struct config cur, next;

    load_ok("[server]\nworkers = 2\n[users]\nalice = read " AHASH "\n", &cur);
    load_ok("[server]\nworkers = 4\n[users]\nbob = write " EHASH "\n", &next);
    config_apply_live(&cur, &next);
    cr_assert_eq(cur.workers, 2, "a restart key stays");
    cr_assert_eq(cur.nusers, 1);
    cr_assert_str_eq(cur.users[0].name, "bob");
    cr_assert_eq(cur.users[0].perm, CONFIG_PERM_WRITE);
    cr_assert_eq(config_key_live("users", "anyone"), 1);
}

Test(config_users, users_satisfy_protected_mode)
{
    struct config cfg;

    load_ok("[server]\nbind = 0.0.0.0\n[users]\nalice = read " AHASH "\n",
            &cfg);
    expect_check_ok(&cfg);
}
