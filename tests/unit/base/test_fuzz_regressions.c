/*
 * test_fuzz_regressions: inputs found by the libFuzzer harnesses in
 * tests/fuzz/ (or while writing their checks), each reduced to the smallest
 * case that shows the bug, so that it stays fixed.
 *
 * The config cases check the contract, not one fix: docs/configuration.md
 * promises that "-t" prints the effective settings as an INI file, so whatever
 * config_load_file or config_set accepts must print as a file that loads
 * back to the same settings. The fix chosen for each input below was to
 * reject it up front, so each case asserts exactly that: the input is
 * rejected with its message (a change of behaviour fails the case), and
 * the nearest value that is accepted prints back as itself.
 */
#include "config_helpers.h"

/* Loading len bytes of text fails with a message that starts with
 * "TMPFILE:line: " and then prefix. */
static void
file_rejected(const char *text, size_t len, int line, const char *prefix)
{
    char err[CONFIG_ERR_MAX] = "", want[CONFIG_ERR_MAX];
    struct config cfg, def;

    config_defaults(&cfg);
    cr_assert_eq(load_bytes(&cfg, text, len, err, sizeof(err)), -1,
                 "accepted: %s", text);
    snprintf(want, sizeof(want), "%s:%d: %s", tmp_path, line, prefix);
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "want %s..., got %s",
                 want, err);
    config_defaults(&def);
    assert_config_eq(&cfg, &def);
}

/* A file that loads prints as a file that loads back the same. */
static void
file_round_trips(const char *text)
{
    struct config cfg;

    load_ok(text, &cfg);
    assert_round_trip(&cfg);
}

/* config_set(arg) fails with a message that starts with "-s ARG: " and then
 * prefix. */
static void
override_rejected(const char *arg, const char *prefix)
{
    char err[CONFIG_ERR_MAX] = "", want[CONFIG_ERR_MAX];
    struct config cfg, def;

    config_defaults(&cfg);
    cr_assert_eq(config_set(&cfg, arg, err, sizeof(err)), -1, "accepted: %s",
                 arg);
    snprintf(want, sizeof(want), "-s %s: %s", arg, prefix);
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "want %s..., got %s",
                 want, err);
    config_defaults(&def);
    assert_config_eq(&cfg, &def);
}

/* An override that is accepted prints as a file that loads back the same. */
static void
override_round_trips(const char *arg)
{
    struct config cfg;

    config_defaults(&cfg);
    set_ok(&cfg, arg);
    assert_round_trip(&cfg);
}

/*
 * fuzz_config, crash-8fac4cd3 (and crash-036b4591, "host=;eis"): "bind=;x"
 * stored ";x" (no blank before the ';', so inih keeps it), but config_print
 * wrote "bind = ;x", where inih takes ";x" for an inline comment and loads
 * an empty bind. Now a value may not start with ';' or '#'; one with a ';'
 * inside (no blank before it) still loads and prints back.
 */
Test(fuzz_regressions, config_print_keeps_value_starting_with_semicolon)
{
    static const char text[] = "[server]\nbind=;h0 a=c\n";

    file_rejected(text, sizeof(text) - 1, 2,
                  "[server] bind: may not start with ';' or '#', got ';h0 "
                  "a=c'");
    file_rejected("[redis]\nhost=#x\n", 16, 2,
                  "[redis] host: may not start with ';' or '#'");
    file_round_trips("[server]\nbind=h0;a=c\n");
}

/*
 * A 194-byte value fits a 199-byte line as "host=VALUE", but config_print
 * added " = " and the line no longer fit inih's buffer: "line too long".
 * Now a value must fit "host = VALUE" in 199 bytes: 192 bytes load and
 * print back, 193 are refused.
 */
Test(fuzz_regressions, config_print_keeps_longest_file_value)
{
    char text[256];

    snprintf(text, sizeof(text), "[redis]\nhost=%0194d\n", 0);
    file_rejected(text, strlen(text), 2,
                  "[redis] host: too long to print back on one line (199 "
                  "characters), got '0000");
    snprintf(text, sizeof(text), "[redis]\nhost=%0193d\n", 0);
    file_rejected(text, strlen(text), 2,
                  "[redis] host: too long to print back on one line");
    snprintf(text, sizeof(text), "[redis]\nhost=%0192d\n", 0);
    file_round_trips(text);
}

/*
 * -s took any bytes up to 255, and config_print wrote these back as
 * something else: a trimmed value, a comment, an extra key line, a line too
 * long to load. Each is now refused; the value without the offending bytes
 * is accepted and prints back.
 */
Test(fuzz_regressions, config_print_keeps_override_with_leading_blank)
{
    override_rejected("server.bind= 10.0.0.1",
                      "[server] bind: leading or trailing blanks are not "
                      "allowed, got ' 10.0.0.1'");
    override_rejected("server.bind=10.0.0.1 ",
                      "[server] bind: leading or trailing blanks are not "
                      "allowed");
    override_round_trips("server.bind=10.0.0.1");
}

Test(fuzz_regressions, config_print_keeps_override_with_blank_semicolon)
{
    override_rejected("server.bind=10.0.0.1 ;x",
                      "[server] bind: ' ;' would start a comment, got "
                      "'10.0.0.1 ;x'");
    override_rejected("server.bind=10.0.0.1\t;x",
                      "[server] bind: control characters are not allowed");
    override_round_trips("server.bind=10.0.0.1;x");
}

Test(fuzz_regressions, config_print_keeps_override_with_line_break)
{
    override_rejected("redis.host=a\nworkers = 3",
                      "[redis] host: control characters are not allowed");
    override_rejected("redis.host=a\rb",
                      "[redis] host: control characters are not allowed");
    override_round_trips("redis.host=a workers = 3");
}

Test(fuzz_regressions, config_print_keeps_override_too_long_for_a_line)
{
    char arg[300];

    snprintf(arg, sizeof(arg), "redis.host=%0250d", 0);
    override_rejected(arg, "[redis] host: too long to print back on one line "
                           "(199 characters), got '0000");
    snprintf(arg, sizeof(arg), "redis.host=%0192d", 0);
    override_round_trips(arg);
}

/*
 * Unknown sections are errors, but a UTF-8 BOM before the first line hid
 * a "[section]" header from the check: inih strips the BOM itself after
 * our line reader has looked at the line, so "[nope]" loaded cleanly.
 */
Test(fuzz_regressions, bom_does_not_hide_unknown_section)
{
    static const char text[] = "\xef\xbb\xbf[nope]\n";

    file_rejected(text, sizeof(text) - 1, 1, "unknown section [nope]");
}
