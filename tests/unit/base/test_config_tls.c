/*
 * Unit tests for the TLS keys ([server] tls_*, [http] tls, [admin] tls,
 * [redis] tls*) and [redis] user: defaults, parsing, errors naming
 * FILE:LINE (or the -s argument), printing back, and the cross-key checks
 * of config_check (a TLS listener needs a certificate and key, verifying
 * clients needs a CA, the [redis] tls_* keys need tls = on, a client
 * certificate needs its key, tls_port clashes with the other ports). The
 * certificates themselves are read at start (tests/unit/net/test_tls.c,
 * tests/e2e/test_tls*.c), not here.
 */
#include "config_helpers.h"

#define VERIFY_MSG "expected off, optional or on"

Test(config_tls, defaults_are_off_and_verifying)
{
    struct config cfg;

    config_defaults(&cfg);
    cr_assert_eq(cfg.tls_port, 0);
    cr_assert_str_empty(cfg.tls_cert_file);
    cr_assert_str_empty(cfg.tls_key_file);
    cr_assert_str_empty(cfg.tls_ca_file);
    cr_assert_eq(cfg.tls_verify_clients, CONFIG_TLS_VERIFY_OFF);
    cr_assert_str_empty(cfg.tls_ciphers);
    cr_assert_str_empty(cfg.tls_ciphersuites);
    cr_assert_eq(cfg.http_tls, 0);
    cr_assert_eq(cfg.admin_tls, 0);
    cr_assert_eq(cfg.redis_tls, 0);
    cr_assert_eq(cfg.redis_tls_verify, 1);
    cr_assert_str_empty(cfg.redis_tls_server_name);
    cr_assert_str_empty(cfg.redis_user);
    expect_check_ok(&cfg);
}

Test(config_tls, parses_every_server_tls_key)
{
    struct config cfg;

    load_ok("[server]\ntls_port = 6390\ntls_cert_file = /etc/p/cert.pem\n"
            "tls_key_file = /etc/p/key.pem\ntls_ca_file = /etc/p/ca.pem\n"
            "tls_verify_clients = optional\n"
            "tls_ciphers = ECDHE-ECDSA-AES128-GCM-SHA256\n"
            "tls_ciphersuites = TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384\n"
            "[http]\ntls = on\n[admin]\nport = 8081\ntls = yes\n",
            &cfg);
    cr_assert_eq(cfg.tls_port, 6390);
    cr_assert_str_eq(cfg.tls_cert_file, "/etc/p/cert.pem");
    cr_assert_str_eq(cfg.tls_key_file, "/etc/p/key.pem");
    cr_assert_str_eq(cfg.tls_ca_file, "/etc/p/ca.pem");
    cr_assert_eq(cfg.tls_verify_clients, CONFIG_TLS_VERIFY_OPTIONAL);
    cr_assert_str_eq(cfg.tls_ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256");
    cr_assert_str_eq(cfg.tls_ciphersuites,
                     "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
    cr_assert_eq(cfg.http_tls, 1);
    cr_assert_eq(cfg.admin_tls, 1);
    expect_check_ok(&cfg);
    assert_round_trip(&cfg);
}

Test(config_tls, verify_clients_takes_off_optional_on)
{
    cr_assert_eq(
        value_ok("server", "tls_verify_clients", "off").tls_verify_clients,
        CONFIG_TLS_VERIFY_OFF);
    cr_assert_eq(
        value_ok("server", "tls_verify_clients", "optional").tls_verify_clients,
        CONFIG_TLS_VERIFY_OPTIONAL);
    cr_assert_eq(
        value_ok("server", "tls_verify_clients", "on").tls_verify_clients,
        CONFIG_TLS_VERIFY_ON);
    expect_value_error("server", "tls_verify_clients", "yes", VERIFY_MSG);
    expect_value_error("server", "tls_verify_clients", "required", VERIFY_MSG);
    expect_value_error("server", "tls_verify_clients", "ON", VERIFY_MSG);
    expect_set_error("server.tls_verify_clients=1",
                     "-s server.tls_verify_clients=1: [server] "
                     "tls_verify_clients: " VERIFY_MSG ", got '1'");
}

Test(config_tls, tls_port_is_0_for_off_or_a_port)
{
    cr_assert_eq(value_ok("server", "tls_port", "0").tls_port, 0);
    cr_assert_eq(value_ok("server", "tls_port", "65535").tls_port, 65535);
    expect_value_error("server", "tls_port", "65536",
                       "expected 0 (off) or a port 1..65535");
    expect_value_error("server", "tls_port", "-1",
                       "expected 0 (off) or a port 1..65535");
}

Test(config_tls, tls_port_may_not_be_another_listeners_port)
{
    expect_check_error("[server]\nresp_port = 7000\ntls_cert_file = c\n"
                       "tls_key_file = k\ntls_port = 7000\n",
                       5,
                       "[server] tls_port: port 7000 is also [server] "
                       "resp_port (@:2)");
    expect_check_error("[server]\ntls_cert_file = c\ntls_key_file = k\n"
                       "tls_port = 8080\n",
                       4,
                       "[server] tls_port: port 8080 is also [server] "
                       "http_port (the default)");
}

Test(config_tls, a_tls_listener_needs_the_certificate_and_key)
{
    expect_check_error("[server]\ntls_port = 6390\n", 2,
                       "[server] tls_port: a TLS listener needs [server] "
                       "tls_cert_file and tls_key_file");
    expect_check_error("[server]\ntls_cert_file = c\n[http]\ntls = on\n", 4,
                       "[http] tls: a TLS listener needs [server] "
                       "tls_cert_file and tls_key_file");
    expect_check_error("[server]\ntls_key_file = k\n[admin]\nport = 9\n"
                       "tls = on\n",
                       5,
                       "[admin] tls: a TLS listener needs [server] "
                       "tls_cert_file and tls_key_file");
}

Test(config_tls, admin_tls_without_an_admin_port_needs_nothing)
{
    struct config cfg;

    load_ok("[admin]\ntls = on\n", &cfg);
    expect_check_ok(&cfg);
}

Test(config_tls, verifying_clients_needs_a_ca)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX];

    expect_check_error("[server]\ntls_port = 6390\ntls_cert_file = c\n"
                       "tls_key_file = k\ntls_verify_clients = on\n",
                       5,
                       "[server] tls_verify_clients: needs tls_ca_file, the "
                       "CA client certificates are verified against");
    config_defaults(&cfg);
    set_ok(&cfg, "server.tls_verify_clients=optional");
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "-s server.tls_verify_clients=optional: [server] "
                          "tls_verify_clients: needs tls_ca_file, the CA "
                          "client certificates are verified against");
    set_ok(&cfg, "server.tls_ca_file=ca.pem");
    expect_check_ok(&cfg);
}

Test(config_tls, parses_every_redis_tls_key_and_the_user)
{
    struct config cfg;

    load_ok("[redis]\nuser = app\ntls = on\n"
            "tls_ca_file = /etc/ssl/redis-ca.pem\n"
            "tls_cert_file = /etc/p/client.pem\n"
            "tls_key_file = /etc/p/client.key\n"
            "tls_server_name = master.example.cache.amazonaws.com\n"
            "tls_verify = off\n",
            &cfg);
    cr_assert_str_eq(cfg.redis_user, "app");
    cr_assert_eq(cfg.redis_tls, 1);
    cr_assert_str_eq(cfg.redis_tls_ca_file, "/etc/ssl/redis-ca.pem");
    cr_assert_str_eq(cfg.redis_tls_cert_file, "/etc/p/client.pem");
    cr_assert_str_eq(cfg.redis_tls_key_file, "/etc/p/client.key");
    cr_assert_str_eq(cfg.redis_tls_server_name,
                     "master.example.cache.amazonaws.com");
    cr_assert_eq(cfg.redis_tls_verify, 0);
    expect_check_ok(&cfg);
    assert_round_trip(&cfg);
}

Test(config_tls, redis_tls_and_verify_take_on_or_off)
{
    cr_assert_eq(value_ok("redis", "tls", "yes").redis_tls, 1);
    cr_assert_eq(value_ok("redis", "tls", "off").redis_tls, 0);
    expect_value_error("redis", "tls", "required", "expected on or off");
    expect_value_error("redis", "tls_verify", "never", "expected on or off");
}

Test(config_tls, redis_tls_keys_are_only_used_with_tls_on)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX];

    expect_check_error("[redis]\nport = 6380\ntls_ca_file = ca.pem\n", 3,
                       "[redis] tls_ca_file: only used with tls = on");
    expect_check_error("[redis]\ntls_server_name = r.example\n", 2,
                       "[redis] tls_server_name: only used with tls = on");
    expect_check_error("[redis]\ntls_verify = off\n", 2,
                       "[redis] tls_verify: only used with tls = on");
    expect_check_error("[redis]\n\ntls_key_file = k.pem\n", 3,
                       "[redis] tls_key_file: only used with tls = on");
    /* Saying the default is no misconfiguration. */
    load_ok("[redis]\ntls_verify = on\ntls_ca_file =\n", &cfg);
    expect_check_ok(&cfg);
    config_defaults(&cfg);
    set_ok(&cfg, "redis.tls_cert_file=c.pem");
    cr_assert_eq(config_check(&cfg, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "-s redis.tls_cert_file=c.pem: [redis] "
                          "tls_cert_file: only used with tls = on");
}

Test(config_tls, a_redis_client_certificate_needs_its_key)
{
    expect_check_error("[redis]\ntls = on\ntls_cert_file = c.pem\n", 3,
                       "[redis] tls_cert_file: a client certificate needs "
                       "both tls_cert_file and tls_key_file");
    expect_check_error("[redis]\ntls = on\n\ntls_key_file = k.pem\n", 4,
                       "[redis] tls_key_file: a client certificate needs "
                       "both tls_cert_file and tls_key_file");
}

Test(config_tls, paths_are_strings_that_print_back)
{
    char arg[320], want[CONFIG_ERR_MAX];
    size_t n = (size_t)snprintf(arg, sizeof(arg), "server.tls_cert_file=");

    memset(arg + n, 'a', 256);
    arg[n + 256] = '\0';
    snprintf(want, sizeof(want),
             "-s %s: [server] tls_cert_file: too long (at most 255 bytes), "
             "got '%.64s...'",
             arg, arg + n);
    expect_set_error(arg, want);
    expect_set_error(
        "server.tls_cert_file=;x",
        "-s server.tls_cert_file=;x: [server] tls_cert_file: may not start "
        "with ';' or '#', got ';x'");
}

Test(config_tls, which_keys_a_reload_applies)
{
    /* The certificate, key, CA, policy and ciphers are re-read on SIGHUP;
     * listeners and the Redis side need a restart. */
    cr_assert(config_key_live("server", "tls_cert_file"));
    cr_assert(config_key_live("server", "tls_key_file"));
    cr_assert(config_key_live("server", "tls_ca_file"));
    cr_assert(config_key_live("server", "tls_verify_clients"));
    cr_assert(config_key_live("server", "tls_ciphers"));
    cr_assert(config_key_live("server", "tls_ciphersuites"));
    cr_assert_not(config_key_live("server", "tls_port"));
    cr_assert_not(config_key_live("http", "tls"));
    cr_assert_not(config_key_live("admin", "tls"));
    cr_assert_not(config_key_live("redis", "tls"));
    cr_assert_not(config_key_live("redis", "tls_ca_file"));
    cr_assert_not(config_key_live("redis", "user"));
}
