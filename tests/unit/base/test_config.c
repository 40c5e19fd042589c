/*
 * Unit tests for config: defaults, every key and duration form, every error
 * message with its exact FILE:LINE or -s prefix, range boundaries, -s
 * overrides, the config_print round trip, and the shipped proxy.ini. Each
 * test writes its INI text to a mkstemp file under /tmp and removes it.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"

#define TIMEOUT_MSG "expected a duration 1ms..596h (units ms, s, m, h)"
#define SYNTAX_MSG "syntax error (expected 'key = value' or '[section]')"
#define TTL_MSG "expected a duration 0..87600h (units ms, s, m, h)"

static char tmp_path[64];

/* Writes len bytes to a fresh temp file, loads it over cfg, removes it. */
static int
load_bytes(struct config *cfg, const char *text, size_t len, char *err,
           size_t errlen)
{
    int fd;
    int rc;

    snprintf(tmp_path, sizeof(tmp_path), "/tmp/test_config_XXXXXX");
    fd = mkstemp(tmp_path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    rc = config_load_file(cfg, tmp_path, err, errlen);
    unlink(tmp_path);
    return rc;
}

static int
load_text(struct config *cfg, const char *text, char *err, size_t errlen)
{
    return load_bytes(cfg, text, strlen(text), err, errlen);
}

/* Loads text over the defaults and asserts it loads cleanly. */
static void
load_ok(const char *text, struct config *cfg)
{
    char err[CONFIG_ERR_MAX] = "";

    config_defaults(cfg);
    cr_assert_eq(load_text(cfg, text, err, sizeof(err)), 0, "%s", err);
}

/* Asserts that text fails with exactly "TMPFILE:line: msg". */
static void
expect_file_error(const char *text, int line, const char *msg)
{
    char err[CONFIG_ERR_MAX] = "";
    char want[CONFIG_ERR_MAX];
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(load_text(&cfg, text, err, sizeof(err)), -1, "%s", text);
    snprintf(want, sizeof(want), "%s:%d: %s", tmp_path, line, msg);
    cr_assert_str_eq(err, want);
}

/* Asserts "[section]\nkey = value\n" fails at line 2 with msg. */
static void
expect_value_error(const char *section, const char *key, const char *value,
                   const char *msg)
{
    char text[512];
    char want[512];

    snprintf(text, sizeof(text), "[%s]\n%s = %s\n", section, key, value);
    snprintf(want, sizeof(want), "[%s] %s: %s, got '%s'", section, key, msg,
             value);
    expect_file_error(text, 2, want);
}

/* Asserts text loads and sets [cache] ttl to ttl_ms. */
static void
load_ok_text(const char *text, int64_t ttl_ms)
{
    struct config cfg;

    load_ok(text, &cfg);
    cr_assert_eq(cfg.cache_ttl_ms, ttl_ms);
}

/* Asserts "[section]\nkey = value\n" loads; returns the config. */
static struct config
value_ok(const char *section, const char *key, const char *value)
{
    char text[512];
    struct config cfg;

    snprintf(text, sizeof(text), "[%s]\n%s = %s\n", section, key, value);
    load_ok(text, &cfg);
    return cfg;
}

/* Asserts config_set(arg) succeeds. */
static void
set_ok(struct config *cfg, const char *arg)
{
    char err[CONFIG_ERR_MAX] = "";

    cr_assert_eq(config_set(cfg, arg, err, sizeof(err)), 0, "%s", err);
}

/* Asserts config_set(arg) fails with exactly msg; returns nothing. */
static void
expect_set_error(const char *arg, const char *msg)
{
    char err[CONFIG_ERR_MAX] = "";
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(config_set(&cfg, arg, err, sizeof(err)), -1, "%s", arg);
    cr_assert_str_eq(err, msg);
}

static void
assert_config_eq(const struct config *a, const struct config *b)
{
    cr_assert_str_eq(a->bind, b->bind);
    cr_assert_eq(a->http_port, b->http_port);
    cr_assert_eq(a->resp_port, b->resp_port);
    cr_assert_eq(a->workers, b->workers);
    cr_assert_eq(a->max_clients, b->max_clients);
    cr_assert_eq(a->idle_timeout_ms, b->idle_timeout_ms);
    cr_assert_eq(a->request_timeout_ms, b->request_timeout_ms);
    cr_assert_str_eq(a->redis_host, b->redis_host);
    cr_assert_eq(a->redis_port, b->redis_port);
    cr_assert_str_eq(a->redis_password, b->redis_password);
    cr_assert_eq(a->redis_db, b->redis_db);
    cr_assert_eq(a->pool_size, b->pool_size);
    cr_assert_eq(a->connect_timeout_ms, b->connect_timeout_ms);
    cr_assert_eq(a->command_timeout_ms, b->command_timeout_ms);
    cr_assert_eq(a->cache_ttl_ms, b->cache_ttl_ms);
    cr_assert_eq(a->cache_capacity, b->cache_capacity);
    cr_assert_eq(a->log_level, b->log_level);
}

/* config_print output in a malloc'd string (caller frees). */
static char *
print_to_string(const struct config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    cr_assert_not_null(out);
    config_print(cfg, out);
    fclose(out);
    return buf;
}

static int64_t
duration(const char *s)
{
    int64_t ms = -42;

    cr_assert_eq(config_parse_duration(s, &ms), 0, "'%s'", s);
    return ms;
}

static void
expect_bad_duration(const char *s)
{
    int64_t ms = -42;

    cr_assert_eq(config_parse_duration(s, &ms), -1, "'%s'", s);
    cr_assert_eq(ms, -42, "'%s' wrote the output", s);
}

/* ---- defaults and each key ---- */

Test(config, defaults_match_the_contract)
{
    struct config cfg;

    memset(&cfg, 0xa5, sizeof(cfg));
    config_defaults(&cfg);
    cr_assert_str_eq(cfg.bind, "127.0.0.1");
    cr_assert_eq(cfg.http_port, 8080);
    cr_assert_eq(cfg.resp_port, 6380);
    cr_assert_eq(cfg.workers, 8);
    cr_assert_eq(cfg.max_clients, 1024);
    cr_assert_eq(cfg.idle_timeout_ms, 30000);
    cr_assert_eq(cfg.request_timeout_ms, 10000);
    cr_assert_str_eq(cfg.redis_host, "127.0.0.1");
    cr_assert_eq(cfg.redis_port, 6379);
    cr_assert_str_eq(cfg.redis_password, "");
    cr_assert_eq(cfg.redis_db, 0);
    cr_assert_eq(cfg.pool_size, 8);
    cr_assert_eq(cfg.connect_timeout_ms, 1000);
    cr_assert_eq(cfg.command_timeout_ms, 1000);
    cr_assert_eq(cfg.cache_ttl_ms, 60000);
    cr_assert_eq(cfg.cache_capacity, 10000);
    cr_assert_eq(cfg.log_level, CONFIG_LOG_INFO);
}

Test(config, empty_file_and_comments_keep_defaults)
{
    struct config cfg, def;

    config_defaults(&def);
    load_ok("", &cfg);
    assert_config_eq(&cfg, &def);
    load_ok("; comment\n# also a comment\n\n   \n[server]\n; x = y\n", &cfg);
    assert_config_eq(&cfg, &def);
}

Test(config, parses_every_server_key)
{
    struct config cfg;

    load_ok("[server]\nbind = 0.0.0.0\nhttp_port = 9000\nresp_port = 0\n"
            "workers = 3\nmax_clients = 50\nidle_timeout = 5s\n"
            "request_timeout = 250ms\n",
            &cfg);
    cr_assert_str_eq(cfg.bind, "0.0.0.0");
    cr_assert_eq(cfg.http_port, 9000);
    cr_assert_eq(cfg.resp_port, 0);
    cr_assert_eq(cfg.workers, 3);
    cr_assert_eq(cfg.max_clients, 50);
    cr_assert_eq(cfg.idle_timeout_ms, 5000);
    cr_assert_eq(cfg.request_timeout_ms, 250);
}

Test(config, parses_every_redis_key)
{
    struct config cfg;

    load_ok("[redis]\nhost = redis.internal\nport = 7000\npassword = s3cr=t\n"
            "db = 4\npool_size = 16\nconnect_timeout = 2s\n"
            "command_timeout = 1500ms\n",
            &cfg);
    cr_assert_str_eq(cfg.redis_host, "redis.internal");
    cr_assert_eq(cfg.redis_port, 7000);
    cr_assert_str_eq(cfg.redis_password, "s3cr=t");
    cr_assert_eq(cfg.redis_db, 4);
    cr_assert_eq(cfg.pool_size, 16);
    cr_assert_eq(cfg.connect_timeout_ms, 2000);
    cr_assert_eq(cfg.command_timeout_ms, 1500);
}

Test(config, parses_cache_and_log_keys)
{
    struct config cfg;

    load_ok("[cache]\nttl = 0\ncapacity = 0\n[log]\nlevel = debug\n", &cfg);
    cr_assert_eq(cfg.cache_ttl_ms, 0);
    cr_assert_eq(cfg.cache_capacity, 0);
    cr_assert_eq(cfg.log_level, CONFIG_LOG_DEBUG);
}

Test(config, log_level_accepts_each_name)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    static const int levels[] = {CONFIG_LOG_ERROR, CONFIG_LOG_WARN,
                                 CONFIG_LOG_INFO, CONFIG_LOG_DEBUG};

    for (int i = 0; i < 4; i++) {
        struct config cfg = value_ok("log", "level", names[i]);
        cr_assert_eq(cfg.log_level, levels[i], "%s", names[i]);
    }
}

Test(config, log_level_rejects_other_words)
{
    expect_value_error("log", "level", "verbose",
                       "expected error, warn, info or debug");
}

Test(config, later_file_overrides_earlier_file)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX];

    load_ok("[server]\nworkers = 2\n", &cfg);
    cr_assert_eq(load_text(&cfg, "[server]\nworkers = 5\n", err, sizeof(err)),
                 0);
    cr_assert_eq(cfg.workers, 5);
}

/* ---- durations ---- */

Test(duration, accepts_ms_s_m_and_h)
{
    cr_assert_eq(duration("250ms"), 250);
    cr_assert_eq(duration("2s"), 2000);
    cr_assert_eq(duration("3m"), 180000);
    cr_assert_eq(duration("1h"), 3600000);
}

Test(duration, bare_number_means_seconds)
{
    cr_assert_eq(duration("5"), 5000);
}

Test(duration, zero_is_zero)
{
    cr_assert_eq(duration("0"), 0);
    cr_assert_eq(duration("0ms"), 0);
}

Test(duration, largest_value_fits)
{
    cr_assert_eq(duration("9223372036854775807ms"), INT64_MAX);
}

Test(duration, rejects_empty_and_null)
{
    int64_t ms;

    expect_bad_duration("");
    cr_assert_eq(config_parse_duration(NULL, &ms), -1);
}

Test(duration, rejects_sign_and_fraction)
{
    expect_bad_duration("-1s");
    expect_bad_duration("+1s");
    expect_bad_duration("1.5s");
}

Test(duration, rejects_unknown_unit)
{
    expect_bad_duration("10x");
    expect_bad_duration("10S");
    expect_bad_duration("10sec");
    expect_bad_duration("10mss");
    expect_bad_duration("s");
    expect_bad_duration("ms");
}

Test(duration, rejects_spaces)
{
    expect_bad_duration("10 s");
    expect_bad_duration(" 10s");
    expect_bad_duration("10s ");
}

Test(duration, rejects_overflow)
{
    expect_bad_duration("9223372036854775808ms");
    expect_bad_duration("9223372036854775807s");
    expect_bad_duration("2562047788015216h");
    expect_bad_duration("99999999999999999999");
}

Test(config, timeouts_reject_zero)
{
    static const char *keys[] = {"idle_timeout", "request_timeout"};

    for (int i = 0; i < 2; i++) {
        expect_value_error("server", keys[i], "0", TIMEOUT_MSG);
    }
    expect_value_error("redis", "connect_timeout", "0ms", TIMEOUT_MSG);
    expect_value_error("redis", "command_timeout", "0s", TIMEOUT_MSG);
}

Test(config, timeouts_accept_1ms_to_596h)
{
    cr_assert_eq(value_ok("server", "idle_timeout", "1ms").idle_timeout_ms, 1);
    cr_assert_eq(value_ok("server", "idle_timeout", "596h").idle_timeout_ms,
                 2145600000);
    expect_value_error("server", "idle_timeout", "2145600001ms", TIMEOUT_MSG);
}

Test(config, invalid_duration_in_file_names_line)
{
    expect_value_error("server", "request_timeout", "1.5s", TIMEOUT_MSG);
    expect_value_error("cache", "ttl", "-1s", TTL_MSG);
}

Test(config, ttl_accepts_zero_and_87600h)
{
    cr_assert_eq(value_ok("cache", "ttl", "0").cache_ttl_ms, 0);
    cr_assert_eq(value_ok("cache", "ttl", "87600h").cache_ttl_ms,
                 INT64_C(315360000000));
    expect_value_error("cache", "ttl", "87601h", TTL_MSG);
}

/* ---- numbers: min-1, min, max, max+1 for every integer key ---- */

#define OFF(field) offsetof(struct config, field)

static const struct range_case {
    const char *section, *key;
    size_t off, size; /* the field */
    long lo, hi;
    const char *msg;
} range_cases[] = {
    {"server", "http_port", OFF(http_port), sizeof(int), 1, 65535,
     "expected a port 1..65535"},
    {"server", "workers", OFF(workers), sizeof(int), 1, 1024,
     "expected an integer 1..1024"},
    {"server", "max_clients", OFF(max_clients), sizeof(int), 1, 1000000,
     "expected an integer 1..1000000"},
    {"redis", "port", OFF(redis_port), sizeof(int), 1, 65535,
     "expected a port 1..65535"},
    {"redis", "db", OFF(redis_db), sizeof(int), 0, 1000000,
     "expected an integer 0..1000000"},
    {"redis", "pool_size", OFF(pool_size), sizeof(int), 1, 1024,
     "expected an integer 1..1024"},
    {"cache", "capacity", OFF(cache_capacity), sizeof(long), 0, 100000000,
     "expected an integer 0..100000000"},
};

static long
field_value(const struct config *cfg, const struct range_case *rc)
{
    const char *p = (const char *)cfg + rc->off;

    return rc->size == sizeof(int) ? *(const int *)p : *(const long *)p;
}

Test(config, integer_keys_accept_min_and_max_and_reject_beyond)
{
    char text[64];

    for (size_t i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
        const struct range_case *rc = &range_cases[i];
        const long ok[] = {rc->lo, rc->hi}, bad[] = {rc->lo - 1, rc->hi + 1};

        for (int j = 0; j < 2; j++) {
            snprintf(text, sizeof(text), "%ld", ok[j]);
            struct config cfg = value_ok(rc->section, rc->key, text);
            cr_assert_eq(field_value(&cfg, rc), ok[j], "%s = %s", rc->key,
                         text);
            snprintf(text, sizeof(text), "%ld", bad[j]);
            expect_value_error(rc->section, rc->key, text, rc->msg);
        }
    }
}

Test(config, resp_port_is_0_for_off_or_1_to_65535)
{
    static const char *ok[] = {"0", "1", "65535"}, *bad[] = {"-1", "65536"};
    static const int want[] = {0, 1, 65535};

    for (int i = 0; i < 3; i++) {
        cr_assert_eq(value_ok("server", "resp_port", ok[i]).resp_port, want[i]);
    }
    for (int i = 0; i < 2; i++) {
        expect_value_error("server", "resp_port", bad[i],
                           "expected 0 (off) or a port 1..65535");
    }
}

Test(config, numbers_reject_words_signs_and_huge_values)
{
    expect_value_error("server", "http_port", "abc",
                       "expected a port 1..65535");
    expect_value_error("server", "workers", "+4",
                       "expected an integer 1..1024");
    expect_value_error("server", "workers", "4x",
                       "expected an integer 1..1024");
    expect_value_error("server", "workers", "99999999999999999999",
                       "expected an integer 1..1024");
}

Test(config, empty_number_is_an_error)
{
    expect_file_error("[server]\nworkers =\n", 2,
                      "[server] workers: expected an integer 1..1024, got "
                      "''");
}

/* ---- file errors: exact message and line ---- */

Test(config, missing_file_or_directory_cannot_open)
{
    char err[CONFIG_ERR_MAX];
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(config_load_file(&cfg, "/nonexistent/x.ini", err, sizeof(err)),
                 -1);
    cr_assert_str_eq(err, "/nonexistent/x.ini: cannot open: No such file or "
                          "directory");
    cr_assert_eq(config_load_file(&cfg, "/tmp", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "/tmp: cannot open: Is a directory");
}

Test(config, unknown_key_names_file_line_and_section)
{
    expect_file_error("[server]\nworkers = 2\n\nfoo = 1\n", 4,
                      "unknown key 'foo' in section [server]");
    expect_file_error("[cache]\ntracking_mode = on\n", 2,
                      "unknown key 'tracking_mode' in section [cache]");
}

Test(config, unknown_section_names_its_header_line_even_with_keys)
{
    expect_file_error("[server]\nworkers = 2\n[bar]\n", 3,
                      "unknown section [bar]");
    expect_file_error("; top\n[metrics]\nport = 8081\n", 2,
                      "unknown section [metrics]");
    expect_file_error("[Server]\n", 1, "unknown section [Server]");
}

Test(config, duplicate_key_names_both_lines)
{
    expect_file_error("[server]\nworkers = 2\nhttp_port = 1\nworkers = 3\n", 4,
                      "duplicate key [server] workers (first set at line 2)");
}

Test(config, duplicate_key_across_repeated_sections)
{
    expect_file_error("[redis]\ndb = 1\n[cache]\nttl = 1s\n[redis]\ndb = 2\n",
                      6, "duplicate key [redis] db (first set at line 2)");
}

Test(config, key_before_any_section)
{
    expect_file_error("; hello\nworkers = 2\n[server]\n", 2,
                      "key 'workers' is outside any [section]");
}

Test(config, line_without_equals_is_a_syntax_error)
{
    expect_file_error("[server]\n\nworkers 2\n", 3, SYNTAX_MSG);
}

Test(config, unclosed_section_is_a_syntax_error)
{
    expect_file_error("[server\n", 1, SYNTAX_MSG);
}

Test(config, first_error_in_the_file_wins)
{
    expect_file_error("[server]\nbogus\nworkers = 0\n", 2, SYNTAX_MSG);
    expect_file_error("[server]\nworkers = 0\nbogus\n", 2,
                      "[server] workers: expected an integer 1..1024, got "
                      "'0'");
}

Test(config, long_line_is_an_error_not_split)
{
    char text[400];

    snprintf(text, sizeof(text), "[server]\nbind = %0250d\n", 0);
    expect_file_error(text, 2, "line too long (at most 199 characters)");
}

Test(config, long_comment_line_is_allowed)
{
    char text[600];
    struct config cfg;

    memset(text, 'x', sizeof(text));
    memcpy(text, "[server]\n; ", 11);
    snprintf(text + 500, sizeof(text) - 500, "\nworkers = 7\n");
    load_ok(text, &cfg);
    cr_assert_eq(cfg.workers, 7);
}

Test(config, nul_byte_is_an_error)
{
    char err[CONFIG_ERR_MAX];
    char want[CONFIG_ERR_MAX];
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(
        load_bytes(&cfg, "[server]\nbind = a\0b\n", 20, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:2: unexpected NUL byte", tmp_path);
    cr_assert_str_eq(err, want);
}

Test(config, long_bad_value_is_quoted_truncated)
{
    char text[200];
    char want[200];

    snprintf(text, sizeof(text), "[server]\nworkers = %080d\n", 0);
    snprintf(want, sizeof(want),
             "[server] workers: expected an integer 1..1024, got '%064d...'",
             0);
    expect_file_error(text, 2, want);
}

Test(config, failed_load_leaves_config_unchanged)
{
    char err[CONFIG_ERR_MAX];
    struct config cfg, def;

    config_defaults(&cfg);
    cr_assert_eq(
        load_text(&cfg, "[server]\nworkers = 3\nbogus = 1\n", err, sizeof(err)),
        -1);
    config_defaults(&def);
    assert_config_eq(&cfg, &def);
}

Test(config, error_with_null_buffer_still_fails)
{
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(load_text(&cfg, "[nope]\n", NULL, 0), -1);
    cr_assert_eq(config_set(&cfg, "x", NULL, 0), -1);
}

/* ---- layout: comments, whitespace, line endings ---- */

Test(config, inline_comment_after_whitespace_is_stripped)
{
    struct config cfg;

    load_ok("[server] ; the server\nbind = 10.0.0.1   ; address\n"
            "workers = 4\t; threads\n[redis]\npassword = ; none\n",
            &cfg);
    cr_assert_str_eq(cfg.bind, "10.0.0.1");
    cr_assert_eq(cfg.workers, 4);
    cr_assert_str_eq(cfg.redis_password, "");
}

Test(config, semicolon_without_space_is_part_of_the_value)
{
    struct config cfg;

    expect_value_error("server", "workers", "4;x",
                       "expected an integer 1..1024");
    load_ok("[redis]\npassword = a;b\n", &cfg);
    cr_assert_str_eq(cfg.redis_password, "a;b");
}

Test(config, indented_keys_crlf_and_no_final_newline_are_accepted)
{
    struct config cfg;

    load_ok("[server]\r\n  workers = 6\r\n\thttp_port = 81\r\n", &cfg);
    cr_assert_eq(cfg.workers, 6);
    cr_assert_eq(cfg.http_port, 81);
    load_ok("[server]\nworkers = 9", &cfg);
    cr_assert_eq(cfg.workers, 9);
}

/* ---- strings ---- */

Test(config, string_of_255_bytes_fits_and_256_is_too_long)
{
    char arg[300];
    char want[CONFIG_ERR_MAX];
    struct config cfg;

    config_defaults(&cfg);
    /* The password is printed masked, so only the field size bounds it;
     * other strings must also print back on one line (see below). */
    snprintf(arg, sizeof(arg), "redis.password=%0255d", 0);
    set_ok(&cfg, arg);
    cr_assert_eq(strlen(cfg.redis_password), 255);
    snprintf(arg, sizeof(arg), "server.bind=%0192d", 0);
    set_ok(&cfg, arg);
    cr_assert_eq(strlen(cfg.bind), 192);
    snprintf(arg, sizeof(arg), "server.bind=%0193d", 0);
    snprintf(want, sizeof(want),
             "-s %s: [server] bind: too long to print back on one line (199 "
             "characters), got '%064d...'",
             arg, 0);
    expect_set_error(arg, want);
    snprintf(arg, sizeof(arg), "redis.host=%0256d", 0);
    snprintf(want, sizeof(want),
             "-s %s: [redis] host: too long (at most 255 bytes), got "
             "'%064d...'",
             arg, 0);
    expect_set_error(arg, want);
}

Test(config, password_error_never_echoes_the_password)
{
    char arg[300];

    snprintf(arg, sizeof(arg), "redis.password=%0256d", 0);
    expect_set_error(arg, "-s redis.password=***: [redis] password: too long "
                          "(at most 255 bytes)");
}

/* ---- -s overrides ---- */

Test(config, text_after_a_section_header_is_an_error)
{
    expect_file_error("[cache] ttl = 5s\n", 1, "unexpected text after [cache]");
    expect_file_error("[server]\nworkers = 2\n[cache]junk\n", 3,
                      "unexpected text after [cache]");
    load_ok_text("[cache] ; comment\nttl = 5s\n", 5000);
}

Test(config, tracking_takes_on_or_off)
{
    cr_assert_eq(value_ok("cache", "tracking", "off").cache_tracking, 0);
    cr_assert_eq(value_ok("cache", "tracking", "on").cache_tracking, 1);
    cr_assert_eq(value_ok("cache", "tracking", "no").cache_tracking, 0);
    cr_assert_eq(value_ok("cache", "tracking", "true").cache_tracking, 1);
    expect_value_error("cache", "tracking", "maybe", "expected on or off");
    expect_value_error("cache", "tracking", "ON", "expected on or off");
}

Test(config, stale_if_error_is_a_duration_defaulting_to_zero)
{
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(cfg.cache_stale_ms, 0);
    cr_assert_eq(cfg.cache_tracking, 1);
    cr_assert_eq(value_ok("cache", "stale_if_error", "90s").cache_stale_ms,
                 90000);
    cr_assert_eq(value_ok("cache", "stale_if_error", "250ms").cache_stale_ms,
                 250);
    cr_assert_eq(value_ok("cache", "stale_if_error", "0").cache_stale_ms, 0);
    expect_file_error("[cache]\nstale_if_error = soon\n", 2,
                      "[cache] stale_if_error: expected a duration 0..87600h "
                      "(units ms, s, m, h), got 'soon'");
}

Test(config_set, overrides_one_key)
{
    struct config cfg;

    config_defaults(&cfg);
    set_ok(&cfg, "server.workers=12");
    set_ok(&cfg, "redis.host=cache.example.com");
    set_ok(&cfg, "cache.ttl=1500ms");
    cr_assert_eq(cfg.workers, 12);
    cr_assert_str_eq(cfg.redis_host, "cache.example.com");
    cr_assert_eq(cfg.cache_ttl_ms, 1500);
}

Test(config_set, value_may_contain_dots_and_equals)
{
    struct config cfg;

    config_defaults(&cfg);
    set_ok(&cfg, "redis.password=a.b=c");
    cr_assert_str_eq(cfg.redis_password, "a.b=c");
    set_ok(&cfg, "redis.password=");
    cr_assert_str_eq(cfg.redis_password, "");
}

Test(config_set, malformed_arguments)
{
    static const char *bad[] = {"",          "server",     "server.workers",
                                "workers=2", "a=b.c",      ".workers=2",
                                "server.=2", "server=x.y", NULL};
    char want[CONFIG_ERR_MAX];

    for (int i = 0; bad[i] != NULL; i++) {
        snprintf(want, sizeof(want), "-s %s: expected SECTION.KEY=VALUE",
                 bad[i]);
        expect_set_error(bad[i], want);
    }
}

Test(config_set, unknown_key_and_section)
{
    expect_set_error("server.foo=1",
                     "-s server.foo=1: unknown key 'foo' in section [server]");
    expect_set_error("bar.foo=1", "-s bar.foo=1: unknown section [bar]");
}

Test(config_set, invalid_value_uses_the_file_message)
{
    expect_set_error("server.http_port=abc",
                     "-s server.http_port=abc: [server] http_port: expected a "
                     "port 1..65535, got 'abc'");
    expect_set_error("server.idle_timeout=0",
                     "-s server.idle_timeout=0: [server] idle_timeout: "
                     "expected a duration 1ms..596h (units ms, s, m, h), got "
                     "'0'");
}

Test(config_set, failure_leaves_the_value_unchanged)
{
    char err[CONFIG_ERR_MAX];
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(config_set(&cfg, "server.workers=0", err, sizeof(err)), -1);
    cr_assert_eq(cfg.workers, 8);
}

Test(config_set, override_after_file_wins)
{
    struct config cfg;

    load_ok("[server]\nworkers = 2\n[redis]\nport = 7001\n", &cfg);
    set_ok(&cfg, "server.workers=4");
    set_ok(&cfg, "server.workers=5");
    cr_assert_eq(cfg.workers, 5);
    cr_assert_eq(cfg.redis_port, 7001);
}

/* ---- config_print ---- */

/* ---- config_check: what no single key can say ---- */

/* Loads text over the defaults, then asserts config_check's error is
 * exactly "TMPFILE:want_line: msg", each '@' in msg standing for TMPFILE. */
static void
expect_check_error(const char *text, int want_line, const char *msg)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX] = "", want[2 * CONFIG_ERR_MAX];
    size_t n;

    load_ok(text, &cfg);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1, "%s passed", text);
    n = (size_t)snprintf(want, sizeof(want), "%s:%d: ", tmp_path, want_line);
    for (; *msg != '\0' && n + sizeof(tmp_path) < sizeof(want); msg++) {
        if (*msg == '@') {
            n += (size_t)snprintf(want + n, sizeof(want) - n, "%s", tmp_path);
        } else {
            want[n++] = *msg;
        }
    }
    want[n] = '\0';
    cr_assert_str_eq(err, want);
}

Test(config_check, defaults_and_the_shipped_file_pass)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX] = "";

    config_defaults(&cfg);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(config_load_file(&cfg, "proxy.ini", err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(config_check, two_listeners_on_one_port_name_both_lines)
{
    expect_check_error("[server]\nhttp_port = 7000\nresp_port = 7000\n", 3,
                       "[server] resp_port: port 7000 is also [server] "
                       "http_port (@:2)");
    expect_check_error("[server]\nhttp_port = 7001\n[admin]\nport = 7001\n", 4,
                       "[admin] port: port 7001 is also [server] http_port "
                       "(@:2)");
    expect_check_error("[server]\nresp_port = 7002\n[admin]\nport = 7002\n", 4,
                       "[admin] port: port 7002 is also [server] resp_port "
                       "(@:2)");
}

Test(config_check, a_key_that_meets_a_default_is_named_not_the_default)
{
    expect_check_error("[server]\nhttp_port = 6380\n", 2,
                       "[server] http_port: port 6380 is also [server] "
                       "resp_port (the default)");
}

Test(config_check, listeners_that_are_off_never_clash)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX] = "";

    load_ok("[server]\nresp_port = 0\n[admin]\nport = 0\n", &cfg);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(config_check, override_is_named_by_its_argument)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX] = "";

    config_defaults(&cfg);
    cr_assert_eq(config_set(&cfg, "admin.port=8080", err, sizeof(err)), 0);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "-s admin.port=8080: [admin] port: port 8080 is "
                          "also [server] http_port (the default)");
    /* moving the other listener away resolves it */
    cr_assert_eq(config_set(&cfg, "server.http_port=8090", err, sizeof(err)),
                 0);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(config_check, unresolvable_bind_names_its_line)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX] = "", want[CONFIG_ERR_MAX];

    load_ok("[server]\nbind = not-an-address.invalid\n", &cfg);
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
    /* the resolver's own words follow (they vary with its setup) */
    snprintf(want, sizeof(want),
             "%s:2: [server] bind: cannot resolve 'not-an-address.invalid': ",
             tmp_path);
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "got: %s", err);
    cr_assert_gt(strlen(err), strlen(want), "no reason given: %s", err);
}

Test(config_check, numeric_and_local_bind_addresses_pass)
{
    static const char *const ok[] = {"127.0.0.1", "::1", "0.0.0.0",
                                     "::", "localhost"};
    struct config cfg;
    char err[CONFIG_ERR_MAX] = "", arg[64];
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        config_defaults(&cfg);
        snprintf(arg, sizeof(arg), "server.bind=%s", ok[i]);
        cr_assert_eq(config_set(&cfg, arg, err, sizeof(err)), 0, "%s", err);
        cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s: %s", ok[i],
                     err);
    }
}

Test(config_print, defaults_print_as_the_contract_writes_them)
{
    struct config cfg;
    char *out;

    config_defaults(&cfg);
    out = print_to_string(&cfg);
    cr_assert_str_eq(out, "[server]\n"
                          "bind = 127.0.0.1\n"
                          "http_port = 8080\n"
                          "resp_port = 6380\n"
                          "workers = 8\n"
                          "max_clients = 1024\n"
                          "idle_timeout = 30s\n"
                          "request_timeout = 10s\n"
                          "\n[redis]\n"
                          "host = 127.0.0.1\n"
                          "port = 6379\n"
                          "password =\n"
                          "db = 0\n"
                          "pool_size = 8\n"
                          "connect_timeout = 1s\n"
                          "command_timeout = 1s\n"
                          "\n[cache]\n"
                          "ttl = 60s\n"
                          "capacity = 10000\n"
                          "tracking = on\n"
                          "stale_if_error = 0s\n"
                          "\n[admin]\n"
                          "port = 0\n"
                          "\n[log]\n"
                          "level = info\n"
                          "access = off\n");
    free(out);
}

Test(config_print, round_trips_defaults)
{
    struct config def, back;
    char *out;

    config_defaults(&def);
    out = print_to_string(&def);
    load_ok(out, &back);
    assert_config_eq(&back, &def);
    free(out);
}

Test(config_print, round_trips_every_changed_key)
{
    struct config cfg, back;
    char *out;

    load_ok("[server]\nbind = ::1\nhttp_port = 1\nresp_port = 0\nworkers = 1\n"
            "max_clients = 1000000\nidle_timeout = 1500ms\n"
            "request_timeout = 2h\n[redis]\nhost = r\nport = 65535\n"
            "db = 1000000\npool_size = 1024\nconnect_timeout = 1ms\n"
            "command_timeout = 3m\n[cache]\nttl = 0\ncapacity = 0\n"
            "[log]\nlevel = warn\n",
            &cfg);
    out = print_to_string(&cfg);
    cr_assert(strstr(out, "idle_timeout = 1500ms\n") != NULL, "%s", out);
    cr_assert(strstr(out, "request_timeout = 7200s\n") != NULL, "%s", out);
    cr_assert(strstr(out, "ttl = 0s\n") != NULL, "%s", out);
    load_ok(out, &back);
    assert_config_eq(&back, &cfg);
    free(out);
}

Test(config_print, masks_a_set_password)
{
    struct config cfg;
    char *out;

    config_defaults(&cfg);
    set_ok(&cfg, "redis.password=hunter2");
    out = print_to_string(&cfg);
    cr_assert(strstr(out, "\npassword = ***\n") != NULL, "%s", out);
    cr_assert(strstr(out, "hunter2") == NULL, "%s", out);
    free(out);
}

/* ---- the shipped file ---- */

Test(config, shipped_proxy_ini_loads_as_the_defaults_but_the_admin_port)
{
    char err[CONFIG_ERR_MAX] = "";
    struct config cfg, def;

    config_defaults(&cfg);
    cr_assert_eq(config_load_file(&cfg, "proxy.ini", err, sizeof(err)), 0, "%s",
                 err);
    config_defaults(&def);
    def.admin_port = 8081; /* the contract: shipped proxy.ini sets 8081 */
    assert_config_eq(&cfg, &def);
}

Test(config, format_line_lists_every_key_with_the_password_masked)
{
    struct config cfg;
    char line[2048];

    config_defaults(&cfg);
    set_ok(&cfg, "redis.password=hunter2");
    config_format_line(&cfg, line, sizeof(line));
    cr_assert(strstr(line, "server.bind=127.0.0.1 server.http_port=8080 ") ==
              line);
    cr_assert_not_null(strstr(line, " redis.password=*** "));
    cr_assert_null(strstr(line, "hunter2"));
    cr_assert_not_null(strstr(line, " admin.port=0 log.level=info "
                                    "log.access=off"));
}
