/*
 * Unit tests for what a reload needs from config: config_diff (which keys
 * changed, in table order, with both values as config_print writes them,
 * secrets masked, and whether each can change live) and config_key_live.
 * The oracle is the list of keys the contract lets SIGHUP apply at once.
 */
#include "config_helpers.h"

/* One config_diff callback, copied. */
struct diff_call {
    char key[48]; /* "section.name" */
    char old_text[256];
    char new_text[256];
    int live;
};

/* Every callback of one config_diff. */
struct diff_log {
    size_t n;
    struct diff_call calls[CONFIG_KEYS + 1];
};

static void
record(void *arg, const char *section, const char *name, const char *old_text,
       const char *new_text, int live)
{
    struct diff_log *log = arg;
    struct diff_call *c;

    cr_assert_lt(log->n, CONFIG_KEYS, "more callbacks than keys");
    c = &log->calls[log->n++];
    snprintf(c->key, sizeof(c->key), "%s.%s", section, name);
    snprintf(c->old_text, sizeof(c->old_text), "%s", old_text);
    snprintf(c->new_text, sizeof(c->new_text), "%s", new_text);
    c->live = live;
}

static void
diff(const struct config *a, const struct config *b, struct diff_log *log)
{
    memset(log, 0, sizeof(*log));
    config_diff(a, b, record, log);
}

static void
expect_call(const struct diff_log *log, size_t i, const char *key,
            const char *old_text, const char *new_text, int live)
{
    cr_assert_lt(i, log->n, "no call %zu (%s)", i, key);
    cr_assert_str_eq(log->calls[i].key, key);
    cr_assert_str_eq(log->calls[i].old_text, old_text, "%s", key);
    cr_assert_str_eq(log->calls[i].new_text, new_text, "%s", key);
    cr_assert_eq(log->calls[i].live, live, "%s", key);
}

/* Every key in table order, and whether SIGHUP may apply it
 * (docs/configuration.md: cache sizes and TTLs, timeouts, limits, password,
 * log settings). */
static const struct {
    const char *section, *name;
    int live;
} every_key[CONFIG_KEYS] = {
    {"server", "bind", 0},
    {"server", "http_port", 0},
    {"server", "resp_port", 0},
    {"server", "workers", 0},
    {"server", "max_clients", 1},
    {"server", "idle_timeout", 1},
    {"server", "request_timeout", 1},
    {"server", "password", 1},
    {"server", "max_sessions", 1},
    {"server", "send_timeout", 1},
    {"server", "max_request", 1},
    {"server", "password_file", 1},
    {"server", "protected_mode", 1},
    {"server", "max_output", 1},
    {"server", "session_idle_timeout", 1},
    {"server", "tls_port", 0},
    {"server", "tls_cert_file", 1},
    {"server", "tls_key_file", 1},
    {"server", "tls_ca_file", 1},
    {"server", "tls_verify_clients", 1},
    {"server", "tls_ciphers", 1},
    {"server", "tls_ciphersuites", 1},
    {"redis", "host", 0},
    {"redis", "port", 0},
    {"redis", "user", 0},
    {"redis", "password", 0},
    {"redis", "db", 0},
    {"redis", "pool_size", 0},
    {"redis", "connect_timeout", 1},
    {"redis", "command_timeout", 1},
    {"redis", "forward_timeout", 1},
    {"redis", "cluster", 0},
    {"redis", "seeds", 0},
    {"redis", "cluster_refresh", 1},
    {"redis", "tls", 0},
    {"redis", "tls_ca_file", 0},
    {"redis", "tls_cert_file", 0},
    {"redis", "tls_key_file", 0},
    {"redis", "tls_server_name", 0},
    {"redis", "tls_verify", 0},
    {"redis", "sentinels", 0},
    {"redis", "master_name", 0},
    {"redis", "sentinel_user", 0},
    {"redis", "sentinel_password", 0},
    {"redis", "read_from", 0},
    {"cache", "ttl", 1},
    {"cache", "capacity", 1},
    {"cache", "tracking", 0},
    {"cache", "stale_if_error", 1},
    {"cache", "max_memory", 1},
    {"cache", "max_value_size", 1},
    {"http", "writes", 1},
    {"http", "max_body", 1},
    {"http", "allowed_hosts", 1},
    {"http", "tls", 0},
    {"admin", "port", 0},
    {"admin", "tls", 0},
    {"log", "level", 1},
    {"log", "access", 1},
};

/* A file that sets every key to something other than its default. */
static const char every_key_changed[] =
    "[server]\nbind = ::1\nhttp_port = 1\nresp_port = 0\nworkers = 1\n"
    "max_clients = 1\nidle_timeout = 1s\nrequest_timeout = 2s\n"
    "password = p\nmax_sessions = 0\nsend_timeout = 3s\nmax_request = 1kb\n"
    "password_file = /f\nprotected_mode = off\nmax_output = 1mb\n"
    "session_idle_timeout = 9s\n"
    "tls_port = 4\ntls_cert_file = c.pem\ntls_key_file = k.pem\n"
    "tls_ca_file = ca.pem\ntls_verify_clients = optional\n"
    "tls_ciphers = HIGH\ntls_ciphersuites = TLS_AES_128_GCM_SHA256\n"
    "[redis]\nhost = h\nport = 2\nuser = u\npassword = q\ndb = 1\n"
    "pool_size = 1\nconnect_timeout = 4s\ncommand_timeout = 5s\n"
    "forward_timeout = 9s\ncluster = on\n"
    "seeds = a:1\ncluster_refresh = 6s\ntls = on\ntls_ca_file = rca.pem\n"
    "tls_cert_file = rc.pem\ntls_key_file = rk.pem\n"
    "tls_server_name = redis.example\ntls_verify = off\n"
    "sentinels = s:26379\nmaster_name = m\nsentinel_user = u\n"
    "sentinel_password = sp\nread_from = replica\n"
    "[cache]\nttl = 7s\ncapacity = 1\ntracking = off\nstale_if_error = 8s\n"
    "max_memory = 0\nmax_value_size = 2kb\n"
    "[http]\nwrites = on\nmax_body = 3kb\nallowed_hosts = h\ntls = on\n"
    "[admin]\nport = 3\ntls = on\n[log]\nlevel = debug\naccess = on\n";

Test(config_diff, equal_configs_call_nothing)
{
    struct config a, b;
    struct diff_log log;

    config_defaults(&a);
    config_defaults(&b);
    diff(&a, &b, &log);
    cr_assert_eq(log.n, 0);
    load_ok(every_key_changed, &a);
    load_ok(every_key_changed, &b);
    diff(&a, &b, &log);
    cr_assert_eq(log.n, 0);
}

Test(config_diff, where_a_value_was_set_is_no_change)
{
    struct config def, file;
    struct diff_log log;

    /* the shipped file sets every key, all but the admin port to the
     * default, so only that one differs */
    config_defaults(&def);
    config_defaults(&file);
    cr_assert_eq(config_load_file(&file, "proxy.ini", NULL, 0), 0);
    diff(&def, &file, &log);
    cr_assert_eq(log.n, 1);
    expect_call(&log, 0, "admin.port", "0", "8081", 0);
}

Test(config_diff, reports_live_and_restart_keys_in_table_order)
{
    struct config old, cur;
    struct diff_log log;

    config_defaults(&old);
    cur = old;
    set_ok(&cur, "log.level=debug");
    set_ok(&cur, "cache.ttl=1500ms");
    set_ok(&cur, "server.http_port=9000");
    set_ok(&cur, "cache.max_memory=1gb");
    set_ok(&cur, "redis.seeds=a:1, b:2");
    diff(&old, &cur, &log);
    cr_assert_eq(log.n, 5);
    expect_call(&log, 0, "server.http_port", "8080", "9000", 0);
    expect_call(&log, 1, "redis.seeds", "", "a:1, b:2", 0);
    expect_call(&log, 2, "cache.ttl", "60s", "1500ms", 1);
    expect_call(&log, 3, "cache.max_memory", "256mb", "1gb", 1);
    expect_call(&log, 4, "log.level", "info", "debug", 1);
    /* and back */
    diff(&cur, &old, &log);
    cr_assert_eq(log.n, 5);
    expect_call(&log, 0, "server.http_port", "9000", "8080", 0);
}

Test(config_diff, secrets_are_masked_but_their_changes_reported)
{
    struct config old, cur;
    struct diff_log log;

    config_defaults(&old);
    cur = old;
    set_ok(&cur, "server.password=hunter2");
    set_ok(&cur, "redis.password=letmein");
    diff(&old, &cur, &log);
    cr_assert_eq(log.n, 2);
    expect_call(&log, 0, "server.password", "", "***", 1);
    expect_call(&log, 1, "redis.password", "", "***", 0);
    /* one secret for another: both sides masked, still a change */
    old = cur;
    set_ok(&cur, "server.password=hunter3");
    diff(&old, &cur, &log);
    cr_assert_eq(log.n, 1);
    expect_call(&log, 0, "server.password", "***", "***", 1);
}

Test(config_diff, every_key_is_reported_with_its_live_flag)
{
    struct config def, cfg;
    struct diff_log log;
    char key[48];

    config_defaults(&def);
    load_ok(every_key_changed, &cfg);
    diff(&def, &cfg, &log);
    cr_assert_eq(log.n, CONFIG_KEYS);
    for (size_t i = 0; i < CONFIG_KEYS; i++) {
        snprintf(key, sizeof(key), "%s.%s", every_key[i].section,
                 every_key[i].name);
        cr_assert_str_eq(log.calls[i].key, key, "call %zu", i);
        cr_assert_eq(log.calls[i].live, every_key[i].live, "%s", key);
        cr_assert_str_neq(log.calls[i].old_text, log.calls[i].new_text, "%s",
                          key);
    }
    expect_call(&log, 7, "server.password", "", "***", 1);
    expect_call(&log, 10, "server.max_request", "64mb", "1kb", 1);
    expect_call(&log, 11, "server.password_file", "", "/f", 1);
    expect_call(&log, 12, "server.protected_mode", "on", "off", 1);
    expect_call(&log, 13, "server.max_output", "64mb", "1mb", 1);
    expect_call(&log, 14, "server.session_idle_timeout", "0s", "9s", 1);
    expect_call(&log, 25, "redis.password", "", "***", 0);
    expect_call(&log, 36, "redis.tls_cert_file", "", "rc.pem", 0);
    expect_call(&log, 43, "redis.sentinel_password", "", "***", 0);
    expect_call(&log, 49, "cache.max_memory", "256mb", "0", 1);
    expect_call(&log, 53, "http.allowed_hosts", "", "h", 1);
}

Test(config_key_live, matches_the_reload_contract)
{
    for (size_t i = 0; i < CONFIG_KEYS; i++) {
        cr_assert_eq(config_key_live(every_key[i].section, every_key[i].name),
                     every_key[i].live, "[%s] %s", every_key[i].section,
                     every_key[i].name);
    }
}

Test(config_key_live, unknown_keys_are_not_live)
{
    cr_assert_eq(config_key_live("server", "nope"), 0);
    cr_assert_eq(config_key_live("nope", "ttl"), 0);
    cr_assert_eq(config_key_live("", ""), 0);
    cr_assert_eq(config_key_live("cache", "ttl"), 1);
}
