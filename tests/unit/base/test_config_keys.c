/*
 * Unit tests for the config keys, one kind of value at a time: defaults,
 * every key's accepted values, its range boundaries and its exact error
 * message with FILE:LINE; durations, sizes and seed lists parsed on their
 * own; config_print of sizes; the cross-key checks on [redis] cluster.
 * Loading, syntax, -s and printing in general are in test_config.c,
 * config_diff and which keys are live in test_config_diff.c.
 */
#include "config_helpers.h"

#include <inttypes.h>

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
    cr_assert_eq(cfg.cache_tracking, 1);
    cr_assert_eq(cfg.cache_stale_ms, 0);
    cr_assert_eq(cfg.admin_port, 0);
    cr_assert_eq(cfg.log_level, CONFIG_LOG_INFO);
    cr_assert_eq(cfg.log_access, 0);
}

Test(config, new_keys_default_as_the_contract_says)
{
    struct config cfg;

    memset(&cfg, 0xa5, sizeof(cfg));
    config_defaults(&cfg);
    cr_assert_str_eq(cfg.server_password, "");
    cr_assert_eq(cfg.max_sessions, 256);
    cr_assert_eq(cfg.send_timeout_ms, 10000);
    cr_assert_eq(cfg.max_request, INT64_C(64) << 20);
    cr_assert_eq(cfg.cluster, 0);
    cr_assert_str_eq(cfg.seeds, "");
    cr_assert_eq(cfg.cluster_refresh_ms, 5000);
    cr_assert_eq(cfg.cache_max_memory, INT64_C(256) << 20);
    cr_assert_eq(cfg.cache_max_value, INT64_C(1) << 20);
    cr_assert_eq(cfg.http_writes, 0);
    cr_assert_eq(cfg.http_max_body, INT64_C(1) << 20);
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
    {"server", "max_sessions", OFF(max_sessions), sizeof(int), 0, 100000,
     "expected an integer 0..100000"},
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

/* ---- the new keys ---- */

Test(config_keys, server_password_is_a_secret_string)
{
    char text[64];

    cr_assert_str_eq(value_ok("server", "password", "s3cr=t").server_password,
                     "s3cr=t");
    cr_assert_str_eq(value_ok("server", "password", "a;b").server_password,
                     "a;b");
    /* the value is never echoed, from the file or from -s */
    snprintf(text, sizeof(text), "[server]\npassword = a\x01secret\n");
    expect_file_error(text, 2,
                      "[server] password: control characters are not allowed");
    expect_set_error("server.password=a\nsecret",
                     "-s server.password=***: [server] password: control "
                     "characters are not allowed");
}

Test(config_keys, server_password_is_not_the_redis_password)
{
    char want[96];
    struct config cfg;

    load_ok("[server]\npassword = front\n[redis]\npassword = back\n", &cfg);
    cr_assert_str_eq(cfg.server_password, "front");
    cr_assert_str_eq(cfg.redis_password, "back");
    snprintf(want, sizeof(want), "%s:2", tmp_path);
    cr_assert_str_eq(config_from(&cfg, "server", "password"), want);
    /* a secret's -s origin is masked too */
    set_ok(&cfg, "server.password=other");
    cr_assert_str_eq(config_from(&cfg, "server", "password"),
                     "-s server.password=***");
    cr_assert_str_eq(cfg.server_password, "other");
}

/* Every duration key that must be > 0, with its field. */
static const struct {
    const char *section, *key;
    size_t off;
} timeout_keys[] = {
    {"server", "idle_timeout", OFF(idle_timeout_ms)},
    {"server", "request_timeout", OFF(request_timeout_ms)},
    {"server", "send_timeout", OFF(send_timeout_ms)},
    {"redis", "connect_timeout", OFF(connect_timeout_ms)},
    {"redis", "command_timeout", OFF(command_timeout_ms)},
    {"redis", "cluster_refresh", OFF(cluster_refresh_ms)},
};

static int64_t
field64(const struct config *cfg, size_t off)
{
    int64_t v;

    memcpy(&v, (const char *)cfg + off, sizeof(v));
    return v;
}

Test(config_keys, every_timeout_takes_1ms_to_596h_and_not_zero)
{
    static const struct {
        const char *text;
        int64_t ms;
    } ok[] = {{"1ms", 1}, {"5", 5000}, {"90m", 5400000}, {"596h", 2145600000}};
    static const char *const bad[] = {"0",    "0ms", "2145600001ms", "597h",
                                      "1.5s", "-1s", "soon"};

    for (size_t i = 0; i < sizeof(timeout_keys) / sizeof(timeout_keys[0]);
         i++) {
        const char *sec = timeout_keys[i].section, *key = timeout_keys[i].key;

        for (size_t j = 0; j < sizeof(ok) / sizeof(ok[0]); j++) {
            struct config cfg = value_ok(sec, key, ok[j].text);
            cr_assert_eq(field64(&cfg, timeout_keys[i].off), ok[j].ms,
                         "%s = %s", key, ok[j].text);
        }
        for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
            expect_value_error(sec, key, bad[j], TIMEOUT_MSG);
        }
    }
}

Test(config_keys, send_timeout_and_cluster_refresh_errors_from_set)
{
    expect_set_error("server.send_timeout=0",
                     "-s server.send_timeout=0: [server] send_timeout: "
                     "expected a duration 1ms..596h (units ms, s, m, h), got "
                     "'0'");
    expect_set_error("redis.cluster_refresh=5x",
                     "-s redis.cluster_refresh=5x: [redis] cluster_refresh: "
                     "expected a duration 1ms..596h (units ms, s, m, h), got "
                     "'5x'");
}

/* Every size key: its range in bytes and its message. */
static const struct size_case {
    const char *section, *key;
    size_t off;
    int64_t lo, hi;
    const char *msg;
} size_cases[] = {
    {"server", "max_request", OFF(max_request), 1024, INT64_C(512) << 20,
     "expected a size 1kb..512mb (units b, kb, mb, gb)"},
    {"cache", "max_memory", OFF(cache_max_memory), 0, INT64_C(1024) << 30,
     "expected a size 0..1024gb (units b, kb, mb, gb)"},
    {"cache", "max_value_size", OFF(cache_max_value), 1, INT64_C(512) << 20,
     "expected a size 1b..512mb (units b, kb, mb, gb)"},
    {"http", "max_body", OFF(http_max_body), 1, INT64_C(512) << 20,
     "expected a size 1b..512mb (units b, kb, mb, gb)"},
};

/* cfg after "[section]\nkey = text\n" has rc's field at want. */
static void
expect_size(const struct size_case *sc, const char *text, int64_t want)
{
    struct config cfg = value_ok(sc->section, sc->key, text);

    cr_assert_eq(field64(&cfg, sc->off), want, "%s = %s", sc->key, text);
}

Test(config_keys, size_keys_accept_min_and_max_and_reject_beyond)
{
    char text[64];

    for (size_t i = 0; i < sizeof(size_cases) / sizeof(size_cases[0]); i++) {
        const struct size_case *sc = &size_cases[i];

        snprintf(text, sizeof(text), "%" PRId64, sc->lo);
        expect_size(sc, text, sc->lo);
        snprintf(text, sizeof(text), "%" PRId64 "b", sc->hi);
        expect_size(sc, text, sc->hi);
        snprintf(text, sizeof(text), "%" PRId64, sc->lo - 1);
        expect_value_error(sc->section, sc->key, text, sc->msg);
        snprintf(text, sizeof(text), "%" PRId64, sc->hi + 1);
        expect_value_error(sc->section, sc->key, text, sc->msg);
        expect_value_error(sc->section, sc->key, "lots", sc->msg);
        expect_value_error(sc->section, sc->key, "1.5mb", sc->msg);
        expect_value_error(sc->section, sc->key, "1tb", sc->msg);
    }
}

Test(config_keys, size_keys_take_each_unit)
{
    const struct size_case *req = &size_cases[0], *mem = &size_cases[1];

    expect_size(req, "1kb", 1024);
    expect_size(req, "64mb", INT64_C(64) << 20);
    expect_size(req, "1536kb", 1536 * 1024);
    expect_size(req, "512mb", INT64_C(512) << 20);
    expect_size(mem, "0", 0);
    expect_size(mem, "0gb", 0);
    expect_size(mem, "2gb", INT64_C(2) << 30);
    expect_size(mem, "1024gb", INT64_C(1024) << 30);
    expect_size(mem, "7b", 7);
    expect_value_error("server", "max_request", "1023b",
                       "expected a size 1kb..512mb (units b, kb, mb, gb)");
    expect_value_error("cache", "max_memory", "1025gb",
                       "expected a size 0..1024gb (units b, kb, mb, gb)");
    expect_value_error("cache", "max_memory", "8589934592gb",
                       "expected a size 0..1024gb (units b, kb, mb, gb)");
    expect_set_error("http.max_body=0",
                     "-s http.max_body=0: [http] max_body: expected a size "
                     "1b..512mb (units b, kb, mb, gb), got '0'");
}

Test(config_keys, sizes_print_in_the_largest_exact_unit)
{
    static const struct {
        const char *set, *line;
    } cases[] = {
        {"server.max_request=67108864", "\nmax_request = 64mb\n"},
        {"server.max_request=1536kb", "\nmax_request = 1536kb\n"},
        {"server.max_request=1025", "\nmax_request = 1025b\n"},
        {"cache.max_value_size=7", "\nmax_value_size = 7b\n"},
        {"cache.max_value_size=1024b", "\nmax_value_size = 1kb\n"},
        {"cache.max_memory=0", "\nmax_memory = 0\n"},
        {"cache.max_memory=1099511627776", "\nmax_memory = 1024gb\n"},
        {"cache.max_memory=1073741825", "\nmax_memory = 1073741825b\n"},
        {"http.max_body=3145728", "\nmax_body = 3mb\n"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char *out;

        config_defaults(&cfg);
        set_ok(&cfg, cases[i].set);
        out = print_to_string(&cfg);
        cr_assert_not_null(strstr(out, cases[i].line), "%s:\n%s", cases[i].set,
                           out);
        free(out);
        assert_round_trip(&cfg);
    }
}

Test(config_keys, bool_keys_take_on_off_and_the_synonyms)
{
    static const struct {
        const char *section, *key;
        size_t off;
    } keys[] = {
        {"redis", "cluster", OFF(cluster)},
        {"cache", "tracking", OFF(cache_tracking)},
        {"http", "writes", OFF(http_writes)},
        {"log", "access", OFF(log_access)},
    };
    static const char *const words[] = {"on",  "yes", "true",  "1",
                                        "off", "no",  "false", "0"};
    static const char *const bad[] = {"ON", "2", "y", "enabled", "on;"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        for (size_t j = 0; j < 8; j++) {
            struct config cfg =
                value_ok(keys[i].section, keys[i].key, words[j]);
            int v;

            memcpy(&v, (const char *)&cfg + keys[i].off, sizeof(v));
            cr_assert_eq(v, j < 4, "%s = %s", keys[i].key, words[j]);
        }
        for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
            expect_value_error(keys[i].section, keys[i].key, bad[j],
                               "expected on or off");
        }
    }
}

Test(config_keys, seeds_are_stored_as_written)
{
    struct config cfg = value_ok("redis", "seeds", "a:1 , b:2");
    static const char *const hosts[] = {"a", "b"};
    static const int ports[] = {1, 2};

    cr_assert_str_eq(cfg.seeds, "a:1 , b:2");
    expect_seeds(cfg.seeds, hosts, ports, 2);
    cr_assert_str_eq(value_ok("redis", "seeds", "").seeds, "");
}

Test(config_keys, seeds_errors_name_the_line_and_the_value)
{
    static const char *const bad[] = {"a",    "a:0",      ":1",
                                      "a:1,", "a:1,,b:2", "a b:1",
                                      "a:1x", "::1:7000", "a:65536"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_value_error("redis", "seeds", bad[i], SEEDS_MSG);
    }
    expect_set_error("redis.seeds=a:1,\tb:2",
                     "-s redis.seeds=a:1,\tb:2: [redis] seeds: control "
                     "characters are not allowed, got 'a:1,\tb:2'");
    expect_set_error("redis.seeds= a:1",
                     "-s redis.seeds= a:1: [redis] seeds: leading or trailing "
                     "blanks are not allowed, got ' a:1'");
}

/* ---- cross-key checks on [redis] cluster ---- */

Test(config_check, seeds_without_cluster_name_the_seeds_line)
{
    char err[CONFIG_ERR_MAX];
    struct config cfg;

    expect_check_error("[redis]\nport = 7000\nseeds = a:1\n", 3,
                       "[redis] seeds: only used with cluster = on");
    config_defaults(&cfg);
    set_ok(&cfg, "redis.seeds=a:1,b:2");
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "-s redis.seeds=a:1,b:2: [redis] seeds: only used "
                          "with cluster = on");
    set_ok(&cfg, "redis.cluster=on");
    expect_check_ok(&cfg);
}

Test(config_check, cluster_with_a_db_names_the_db_line)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX];

    expect_check_error("[redis]\ndb = 3\ncluster = on\n", 2,
                       "[redis] db: a Redis Cluster has only database 0");
    /* the db line is named even when -s turned the cluster on */
    load_ok("[redis]\n\ndb = 1\n", &cfg);
    expect_check_ok(&cfg);
    set_ok(&cfg, "redis.cluster=yes");
    expect_check_error_in(&cfg, 3,
                          "[redis] db: a Redis Cluster has only database 0");
    set_ok(&cfg, "redis.db=0");
    expect_check_ok(&cfg);
    set_ok(&cfg, "redis.db=2");
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "-s redis.db=2: [redis] db: a Redis Cluster has "
                          "only database 0");
}

Test(config_check, cluster_with_seeds_and_db_0_passes)
{
    struct config cfg;

    load_ok("[redis]\ncluster = on\nseeds = a:7001, b:7002\ndb = 0\n", &cfg);
    expect_check_ok(&cfg);
}
