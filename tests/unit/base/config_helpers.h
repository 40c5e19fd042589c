/*
 * config_helpers: helpers shared by the config unit tests (test_config.c
 * and test_config_keys.c), header-only because each tests/unit/test_*.c is
 * its own binary. Each load writes its INI text to a mkstemp file under /tmp
 * (its name kept in tmp_path, for the expected "FILE:LINE: " prefixes) and
 * removes it; the assertions compare exact error texts.
 */
#ifndef RP_TEST_CONFIG_HELPERS_H
#define RP_TEST_CONFIG_HELPERS_H

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
#define SEEDS_MSG "expected host:port[, host:port...] (port 1..65535)"

#define OFF(field) offsetof(struct config, field)

/* The temp file of the last load. */
static char tmp_path[64];

/* Writes len bytes to a fresh temp file, loads it over cfg, removes it. */
static inline int
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

static inline int
load_text(struct config *cfg, const char *text, char *err, size_t errlen)
{
    return load_bytes(cfg, text, strlen(text), err, errlen);
}

/* Loads text over the defaults and asserts it loads cleanly. */
static inline void
load_ok(const char *text, struct config *cfg)
{
    char err[CONFIG_ERR_MAX] = "";

    config_defaults(cfg);
    cr_assert_eq(load_text(cfg, text, err, sizeof(err)), 0, "%s", err);
}

/* Asserts that text fails with exactly "TMPFILE:line: msg". */
static inline void
expect_file_error(const char *text, int line, const char *msg)
{
    char err[CONFIG_ERR_MAX] = "";
    char want[2 * CONFIG_ERR_MAX];
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(load_text(&cfg, text, err, sizeof(err)), -1, "%s", text);
    snprintf(want, sizeof(want), "%s:%d: %s", tmp_path, line, msg);
    cr_assert_str_eq(err, want);
}

/* Asserts "[section]\nkey = value\n" fails at line 2 with msg. */
static inline void
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

/* Asserts "[section]\nkey = value\n" loads; returns the config. */
static inline struct config
value_ok(const char *section, const char *key, const char *value)
{
    char text[512];
    struct config cfg;

    snprintf(text, sizeof(text), "[%s]\n%s = %s\n", section, key, value);
    load_ok(text, &cfg);
    return cfg;
}

/* Asserts config_set(arg) succeeds. */
static inline void
set_ok(struct config *cfg, const char *arg)
{
    char err[CONFIG_ERR_MAX] = "";

    cr_assert_eq(config_set(cfg, arg, err, sizeof(err)), 0, "%s", err);
}

/* Asserts config_set(arg) on the defaults fails with exactly msg. */
static inline void
expect_set_error(const char *arg, const char *msg)
{
    char err[CONFIG_ERR_MAX] = "";
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(config_set(&cfg, arg, err, sizeof(err)), -1, "%s", arg);
    cr_assert_str_eq(err, msg);
}

/* Every setting of a and b is equal (where they were set is not compared). */
static inline void
assert_config_eq(const struct config *a, const struct config *b)
{
    cr_assert_str_eq(a->bind, b->bind);
    cr_assert_eq(a->http_port, b->http_port);
    cr_assert_eq(a->resp_port, b->resp_port);
    cr_assert_eq(a->workers, b->workers);
    cr_assert_eq(a->max_clients, b->max_clients);
    cr_assert_eq(a->idle_timeout_ms, b->idle_timeout_ms);
    cr_assert_eq(a->request_timeout_ms, b->request_timeout_ms);
    cr_assert_str_eq(a->server_password, b->server_password);
    cr_assert_eq(a->max_sessions, b->max_sessions);
    cr_assert_eq(a->send_timeout_ms, b->send_timeout_ms);
    cr_assert_eq(a->max_request, b->max_request);
    cr_assert_str_eq(a->server_password_file, b->server_password_file);
    cr_assert_eq(a->protected_mode, b->protected_mode);
    cr_assert_eq(a->max_output, b->max_output);
    cr_assert_eq(a->session_idle_timeout_ms, b->session_idle_timeout_ms);
    cr_assert_eq(a->tls_port, b->tls_port);
    cr_assert_str_eq(a->tls_cert_file, b->tls_cert_file);
    cr_assert_str_eq(a->tls_key_file, b->tls_key_file);
    cr_assert_str_eq(a->tls_ca_file, b->tls_ca_file);
    cr_assert_eq(a->tls_verify_clients, b->tls_verify_clients);
    cr_assert_str_eq(a->tls_ciphers, b->tls_ciphers);
    cr_assert_str_eq(a->tls_ciphersuites, b->tls_ciphersuites);
    cr_assert_str_eq(a->redis_host, b->redis_host);
    cr_assert_eq(a->redis_port, b->redis_port);
    cr_assert_str_eq(a->redis_password, b->redis_password);
    cr_assert_eq(a->redis_db, b->redis_db);
    cr_assert_eq(a->pool_size, b->pool_size);
    cr_assert_eq(a->connect_timeout_ms, b->connect_timeout_ms);
    cr_assert_eq(a->command_timeout_ms, b->command_timeout_ms);
    cr_assert_eq(a->cluster, b->cluster);
    cr_assert_str_eq(a->seeds, b->seeds);
    cr_assert_eq(a->cluster_refresh_ms, b->cluster_refresh_ms);
    cr_assert_str_eq(a->redis_user, b->redis_user);
    cr_assert_eq(a->redis_tls, b->redis_tls);
    cr_assert_str_eq(a->redis_tls_ca_file, b->redis_tls_ca_file);
    cr_assert_str_eq(a->redis_tls_cert_file, b->redis_tls_cert_file);
    cr_assert_str_eq(a->redis_tls_key_file, b->redis_tls_key_file);
    cr_assert_str_eq(a->redis_tls_server_name, b->redis_tls_server_name);
    cr_assert_eq(a->redis_tls_verify, b->redis_tls_verify);
    cr_assert_str_eq(a->sentinels, b->sentinels);
    cr_assert_str_eq(a->master_name, b->master_name);
    cr_assert_str_eq(a->sentinel_user, b->sentinel_user);
    cr_assert_str_eq(a->sentinel_password, b->sentinel_password);
    cr_assert_eq(a->read_from, b->read_from);
    cr_assert_eq(a->cache_ttl_ms, b->cache_ttl_ms);
    cr_assert_eq(a->cache_capacity, b->cache_capacity);
    cr_assert_eq(a->cache_tracking, b->cache_tracking);
    cr_assert_eq(a->cache_stale_ms, b->cache_stale_ms);
    cr_assert_eq(a->cache_max_memory, b->cache_max_memory);
    cr_assert_eq(a->cache_max_value, b->cache_max_value);
    cr_assert_eq(a->http_writes, b->http_writes);
    cr_assert_eq(a->http_max_body, b->http_max_body);
    cr_assert_str_eq(a->http_allowed_hosts, b->http_allowed_hosts);
    cr_assert_eq(a->http_tls, b->http_tls);
    cr_assert_eq(a->admin_port, b->admin_port);
    cr_assert_eq(a->admin_tls, b->admin_tls);
    cr_assert_eq(a->log_level, b->log_level);
    cr_assert_eq(a->log_access, b->log_access);
    cr_assert_eq(a->nusers, b->nusers);
    for (int i = 0; i < a->nusers; i++) {
        cr_assert_str_eq(a->users[i].name, b->users[i].name);
        cr_assert_eq(a->users[i].perm, b->users[i].perm);
        cr_assert_arr_eq(a->users[i].hash, b->users[i].hash,
                         sizeof(a->users[i].hash));
    }
}

/* config_print output in a malloc'd string (caller frees). */
static inline char *
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

/* Asserts cfg prints as a file that loads back to the same settings. */
static inline void
assert_round_trip(const struct config *cfg)
{
    struct config back;
    char *out = print_to_string(cfg);

    load_ok(out, &back);
    assert_config_eq(&back, cfg);
    free(out);
}

/* Asserts config_check(cfg) fails with exactly "TMPFILE:want_line: msg",
 * each '@' in msg standing for TMPFILE. */
static inline void
expect_check_error_in(const struct config *cfg, int want_line, const char *msg)
{
    char err[CONFIG_ERR_MAX] = "", want[2 * CONFIG_ERR_MAX];
    size_t n;

    cr_assert_eq(config_check(cfg, err, sizeof(err)), -1, "check passed");
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

/* Loads text over the defaults, then expect_check_error_in. */
static inline void
expect_check_error(const char *text, int want_line, const char *msg)
{
    struct config cfg;

    load_ok(text, &cfg);
    expect_check_error_in(&cfg, want_line, msg);
}

/* Asserts config_check(cfg) passes. */
static inline void
expect_check_ok(const struct config *cfg)
{
    char err[CONFIG_ERR_MAX] = "";

    cr_assert_eq(config_check(cfg, err, sizeof(err)), 0, "%s", err);
}

/* Asserts config_seed_next walks list through exactly want[0..n). */
static inline void
expect_seeds(const char *list, const char *const *hosts, const int *ports,
             size_t n)
{
    char host[256];
    const char *cursor = list;
    int port = -1;

    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(config_seed_next(&cursor, host, sizeof(host), &port), 1,
                     "'%s': seed %zu", list, i);
        cr_assert_str_eq(host, hosts[i], "'%s': seed %zu", list, i);
        cr_assert_eq(port, ports[i], "'%s': seed %zu", list, i);
    }
    cr_assert_eq(config_seed_next(&cursor, host, sizeof(host), &port), 0,
                 "'%s': more than %zu seeds", list, n);
    cr_assert_eq(*cursor, '\0');
    cr_assert_eq(config_seed_next(&cursor, host, sizeof(host), &port), 0);
}

#endif
