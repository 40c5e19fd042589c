/*
 * Unit tests for config loading: the file's syntax and every error message
 * with its exact FILE:LINE or -s prefix, strings, -s overrides, the
 * config_print round trip, config_check on listeners and bind, and the
 * shipped proxy.ini. Each test writes its INI text to a mkstemp file under
 * /tmp and removes it. Each key's values are in test_config_keys.c.
 */
#include "config_helpers.h"

Test(config, empty_file_and_comments_keep_defaults)
{
    struct config cfg, def;

    config_defaults(&def);
    load_ok("", &cfg);
    assert_config_eq(&cfg, &def);
    load_ok("; comment\n# also a comment\n\n   \n[server]\n; x = y\n", &cfg);
    assert_config_eq(&cfg, &def);
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

Test(config, text_after_a_section_header_is_an_error)
{
    struct config cfg;

    expect_file_error("[cache] ttl = 5s\n", 1, "unexpected text after [cache]");
    expect_file_error("[server]\nworkers = 2\n[cache]junk\n", 3,
                      "unexpected text after [cache]");
    load_ok("[cache] ; comment\nttl = 5s\n", &cfg);
    cr_assert_eq(cfg.cache_ttl_ms, 5000);
}

/* ---- -s overrides ---- */

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
        /* A password, so that protected mode has nothing to say. */
        set_ok(&cfg, "server.password=pw");
        cr_assert_eq(config_check(&cfg, err, sizeof(err)), 0, "%s: %s", ok[i],
                     err);
    }
}

/* The defaults, as config_print writes them: every key, in table order. */
#define DEFAULTS_INI                                                           \
    "[server]\n"                                                               \
    "bind = 127.0.0.1\n"                                                       \
    "http_port = 8080\n"                                                       \
    "resp_port = 6380\n"                                                       \
    "workers = 8\n"                                                            \
    "max_clients = 1024\n"                                                     \
    "idle_timeout = 30s\n"                                                     \
    "request_timeout = 10s\n"                                                  \
    "password =\n"                                                             \
    "max_sessions = 256\n"                                                     \
    "send_timeout = 10s\n"                                                     \
    "max_request = 64mb\n"                                                     \
    "password_file =\n"                                                        \
    "protected_mode = on\n"                                                    \
    "max_output = 64mb\n"                                                      \
    "session_idle_timeout = 0s\n"                                              \
    "tls_port = 0\n"                                                           \
    "tls_cert_file =\n"                                                        \
    "tls_key_file =\n"                                                         \
    "tls_ca_file =\n"                                                          \
    "tls_verify_clients = off\n"                                               \
    "tls_ciphers =\n"                                                          \
    "tls_ciphersuites =\n"                                                     \
    "\n[redis]\n"                                                              \
    "host = 127.0.0.1\n"                                                       \
    "port = 6379\n"                                                            \
    "user =\n"                                                                 \
    "password =\n"                                                             \
    "db = 0\n"                                                                 \
    "pool_size = 8\n"                                                          \
    "connect_timeout = 1s\n"                                                   \
    "command_timeout = 1s\n"                                                   \
    "forward_timeout = 0s\n"                                                   \
    "cluster = off\n"                                                          \
    "seeds =\n"                                                                \
    "cluster_refresh = 5s\n"                                                   \
    "tls = off\n"                                                              \
    "tls_ca_file =\n"                                                          \
    "tls_cert_file =\n"                                                        \
    "tls_key_file =\n"                                                         \
    "tls_server_name =\n"                                                      \
    "tls_verify = on\n"                                                        \
    "sentinels =\n"                                                            \
    "master_name = mymaster\n"                                                 \
    "sentinel_user =\n"                                                        \
    "sentinel_password =\n"                                                    \
    "read_from = master\n"                                                     \
    "\n[cache]\n"                                                              \
    "ttl = 60s\n"                                                              \
    "capacity = 10000\n"                                                       \
    "tracking = on\n"                                                          \
    "stale_if_error = 0s\n"                                                    \
    "max_memory = 256mb\n"                                                     \
    "max_value_size = 1mb\n"                                                   \
    "\n[http]\n"                                                               \
    "writes = off\n"                                                           \
    "max_body = 1mb\n"                                                         \
    "allowed_hosts =\n"                                                        \
    "tls = off\n"                                                              \
    "\n[admin]\n"                                                              \
    "port = 0\n"                                                               \
    "tls = off\n"                                                              \
    "\n[log]\n"                                                                \
    "level = info\n"                                                           \
    "access = off\n"

Test(config_print, defaults_print_as_the_contract_writes_them)
{
    struct config cfg;
    char *out;

    config_defaults(&cfg);
    out = print_to_string(&cfg);
    cr_assert_str_eq(out, DEFAULTS_INI);
    free(out);
}

Test(config_print, prints_one_line_per_key)
{
    struct config cfg;
    char *out;
    int keys = 0;

    config_defaults(&cfg);
    out = print_to_string(&cfg);
    for (const char *p = out; (p = strstr(p, " =")) != NULL; p++) {
        keys++;
    }
    cr_assert_eq(keys, CONFIG_KEYS, "%s", out);
    free(out);
}

Test(config_print, round_trips_defaults)
{
    struct config def;

    config_defaults(&def);
    assert_round_trip(&def);
}

Test(config_print, round_trips_every_changed_key)
{
    struct config cfg;
    char *out;

    load_ok("[server]\nbind = ::1\nhttp_port = 1\nresp_port = 0\nworkers = 1\n"
            "max_clients = 1000000\nidle_timeout = 1500ms\n"
            "request_timeout = 2h\nmax_sessions = 0\nsend_timeout = 90m\n"
            "max_request = 1536kb\n"
            "[redis]\nhost = r\nport = 65535\n"
            "db = 0\npool_size = 1024\nconnect_timeout = 1ms\n"
            "command_timeout = 3m\ncluster = on\n"
            "seeds = a:1 , [::1]:7000\ncluster_refresh = 250ms\n"
            "[cache]\nttl = 0\ncapacity = 0\ntracking = off\n"
            "stale_if_error = 1h\nmax_memory = 0\nmax_value_size = 7\n"
            "[http]\nwrites = yes\nmax_body = 1048576\n"
            "[admin]\nport = 9\n[log]\nlevel = warn\naccess = on\n",
            &cfg);
    out = print_to_string(&cfg);
    cr_assert(strstr(out, "idle_timeout = 1500ms\n") != NULL, "%s", out);
    cr_assert(strstr(out, "request_timeout = 7200s\n") != NULL, "%s", out);
    cr_assert(strstr(out, "ttl = 0s\n") != NULL, "%s", out);
    cr_assert(strstr(out, "max_request = 1536kb\n") != NULL, "%s", out);
    cr_assert(strstr(out, "seeds = a:1 , [::1]:7000\n") != NULL, "%s", out);
    cr_assert(strstr(out, "max_memory = 0\n") != NULL, "%s", out);
    cr_assert(strstr(out, "max_value_size = 7b\n") != NULL, "%s", out);
    cr_assert(strstr(out, "max_body = 1mb\n") != NULL, "%s", out);
    cr_assert(strstr(out, "writes = on\n") != NULL, "%s", out);
    free(out);
    assert_round_trip(&cfg);
    /* and the other way round from every default */
    load_ok("[server]\nmax_request = 512mb\n[redis]\ndb = 1000000\n"
            "[cache]\nmax_memory = 1024gb\nmax_value_size = 512mb\n"
            "[http]\nmax_body = 1b\n",
            &cfg);
    assert_round_trip(&cfg);
}

Test(config_print, masks_both_passwords)
{
    struct config cfg;
    char *out;

    config_defaults(&cfg);
    set_ok(&cfg, "redis.password=hunter2");
    set_ok(&cfg, "server.password=letmein");
    out = print_to_string(&cfg);
    cr_assert(strstr(out, "request_timeout = 10s\npassword = ***\n") != NULL,
              "%s", out);
    cr_assert(strstr(out, "port = 6379\nuser =\npassword = ***\n") != NULL,
              "%s", out);
    cr_assert(strstr(out, "hunter2") == NULL, "%s", out);
    cr_assert(strstr(out, "letmein") == NULL, "%s", out);
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

/* Every "name =" line under a "[section]" of DEFAULTS_INI was set by a line
 * of the shipped file: it lists every key (and, above, with its default). */
Test(config, shipped_proxy_ini_lists_every_key)
{
    char err[CONFIG_ERR_MAX] = "", section[32] = "", name[32];
    const char *p = DEFAULTS_INI, *from;
    struct config cfg;
    int keys = 0;

    config_defaults(&cfg);
    cr_assert_eq(config_load_file(&cfg, "proxy.ini", err, sizeof(err)), 0, "%s",
                 err);
    for (; *p != '\0'; p = strchr(p, '\n') + 1) {
        size_t n = strcspn(p, " ]\n");

        if (*p == '[') {
            snprintf(section, sizeof(section), "%.*s", (int)n - 1, p + 1);
        } else if (*p != '\n') {
            snprintf(name, sizeof(name), "%.*s", (int)n, p);
            from = config_from(&cfg, section, name);
            cr_assert_not_null(from, "[%s] %s", section, name);
            cr_assert_eq(strncmp(from, "proxy.ini:", 10), 0,
                         "[%s] %s is not in proxy.ini", section, name);
            keys++;
        }
    }
    cr_assert_eq(keys, CONFIG_KEYS);
}

Test(config, format_line_lists_every_key_with_the_passwords_masked)
{
    struct config cfg;
    char line[2048];

    config_defaults(&cfg);
    set_ok(&cfg, "redis.password=hunter2");
    set_ok(&cfg, "server.password=letmein");
    config_format_line(&cfg, line, sizeof(line));
    cr_assert_str_eq(
        line, "server.bind=127.0.0.1 server.http_port=8080 "
              "server.resp_port=6380 server.workers=8 server.max_clients=1024 "
              "server.idle_timeout=30s server.request_timeout=10s "
              "server.password=*** server.max_sessions=256 "
              "server.send_timeout=10s server.max_request=64mb "
              "server.password_file= server.protected_mode=on "
              "server.max_output=64mb server.session_idle_timeout=0s "
              "server.tls_port=0 server.tls_cert_file= server.tls_key_file= "
              "server.tls_ca_file= server.tls_verify_clients=off "
              "server.tls_ciphers= server.tls_ciphersuites= "
              "redis.host=127.0.0.1 redis.port=6379 redis.user= "
              "redis.password=*** "
              "redis.db=0 redis.pool_size=8 redis.connect_timeout=1s "
              "redis.command_timeout=1s redis.forward_timeout=0s "
              "redis.cluster=off redis.seeds= "
              "redis.cluster_refresh=5s redis.tls=off redis.tls_ca_file= "
              "redis.tls_cert_file= redis.tls_key_file= "
              "redis.tls_server_name= redis.tls_verify=on "
              "redis.sentinels= "
              "redis.master_name=mymaster redis.sentinel_user= "
              "redis.sentinel_password= redis.read_from=master "
              "cache.ttl=60s cache.capacity=10000 "
              "cache.tracking=on cache.stale_if_error=0s "
              "cache.max_memory=256mb cache.max_value_size=1mb "
              "http.writes=off http.max_body=1mb http.allowed_hosts= "
              "http.tls=off admin.port=0 admin.tls=off "
              "log.level=info log.access=off");
}

Test(config, format_line_cuts_at_the_buffer)
{
    struct config cfg;
    char line[40];

    config_defaults(&cfg);
    memset(line, 'x', sizeof(line));
    config_format_line(&cfg, line, sizeof(line));
    cr_assert_str_eq(line, "server.bind=127.0.0.1 server.http_port=");
}
