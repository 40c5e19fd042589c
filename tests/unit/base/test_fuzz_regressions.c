/*
 * test_fuzz_regressions: inputs found by the libFuzzer harnesses in
 * tests/fuzz/ (or while writing their checks), each reduced to the smallest
 * case that shows the bug, so that it stays fixed.
 *
 * The config cases check the contract, not one fix: README promises that
 * "-t" prints the effective settings as an INI file, so whatever
 * config_load_file or config_set accepts must print as a file that loads
 * back to the same settings. A fix may equally reject the value up front;
 * only "accepted, then printed as something else" fails.
 */
#include "base/config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes len bytes to a fresh temp file and loads it over cfg. */
static int
load_bytes(struct config *cfg, const char *text, size_t len, char *err,
           size_t errlen)
{
    char path[] = "/tmp/test_fuzz_regressions_XXXXXX";
    int fd = mkstemp(path);
    int rc;

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    rc = config_load_file(cfg, path, err, errlen);
    unlink(path);
    return rc;
}

/* cfg, printed by config_print and loaded back, keeps bind and host. */
static void
assert_round_trip(const struct config *cfg)
{
    char err[CONFIG_ERR_MAX] = "", *text = NULL;
    size_t len = 0;
    struct config back;
    FILE *out = open_memstream(&text, &len);

    cr_assert_not_null(out);
    config_print(cfg, out);
    cr_assert_eq(fclose(out), 0);
    config_defaults(&back);
    cr_assert_eq(load_bytes(&back, text, len, err, sizeof(err)), 0,
                 "config_print output does not load: %s", err);
    cr_expect_str_eq(back.bind, cfg->bind, "bind '%s' came back as '%s'",
                     cfg->bind, back.bind);
    cr_expect_str_eq(back.redis_host, cfg->redis_host,
                     "host '%s' came back as '%s'", cfg->redis_host,
                     back.redis_host);
    free(text);
}

/* A file that loads prints as a file that loads back the same. */
static void
file_round_trips(const char *text)
{
    char err[CONFIG_ERR_MAX];
    struct config cfg;

    config_defaults(&cfg);
    if (load_bytes(&cfg, text, strlen(text), err, sizeof(err)) == 0) {
        assert_round_trip(&cfg);
    }
}

/* An override that is accepted prints as a file that loads back the same. */
static void
override_round_trips(const char *arg)
{
    char err[CONFIG_ERR_MAX];
    struct config cfg;

    config_defaults(&cfg);
    if (config_set(&cfg, arg, err, sizeof(err)) == 0) {
        assert_round_trip(&cfg);
    }
}

/*
 * fuzz_config, crash-8fac4cd3 (and crash-036b4591, "host=;eis"): "bind=;x"
 * stored ";x" (no blank before the ';', so inih keeps it), but config_print
 * wrote "bind = ;x", where inih takes ";x" for an inline comment and loads
 * an empty bind.
 */
Test(fuzz_regressions, config_print_keeps_value_starting_with_semicolon)
{
    file_round_trips("[server]\nbind=;h0 a=c\n");
}

/*
 * A 194-byte value fits a 199-byte line as "host=VALUE", but config_print
 * added " = " and the line no longer fit inih's buffer: "line too long".
 */
Test(fuzz_regressions, config_print_keeps_longest_file_value)
{
    char text[256];

    snprintf(text, sizeof(text), "[redis]\nhost=%0194d\n", 0);
    file_round_trips(text);
}

/*
 * -s took any bytes up to 255, and config_print wrote these back as
 * something else: a trimmed value, a comment, an extra key line, a line too
 * long to load.
 */
Test(fuzz_regressions, config_print_keeps_override_with_leading_blank)
{
    override_round_trips("server.bind= 10.0.0.1");
}

Test(fuzz_regressions, config_print_keeps_override_with_blank_semicolon)
{
    override_round_trips("server.bind=10.0.0.1 ;x");
}

Test(fuzz_regressions, config_print_keeps_override_with_line_break)
{
    override_round_trips("redis.host=a\nworkers = 3");
}

Test(fuzz_regressions, config_print_keeps_override_too_long_for_a_line)
{
    char arg[300];

    snprintf(arg, sizeof(arg), "redis.host=%0250d", 0);
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
    char err[CONFIG_ERR_MAX] = "";
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(load_bytes(&cfg, text, sizeof(text) - 1, err, sizeof(err)),
                 -1);
    cr_expect_not_null(strstr(err, ":1: unknown section [nope]"), "got: %s",
                       err);
}
