/*
 * test_config_sentinel: the [redis] keys of Sentinel and replica reads
 * (sentinels, master_name, sentinel_user, sentinel_password, read_from):
 * defaults, values, errors, printing, and the checks across keys.
 */
#include <criterion/criterion.h>

#include "config_helpers.h"

Test(config_sentinel, defaults_are_off_and_mymaster)
{
    struct config cfg;

    memset(&cfg, 0xa5, sizeof(cfg));
    config_defaults(&cfg);
    cr_assert_str_eq(cfg.sentinels, "");
    cr_assert_str_eq(cfg.master_name, "mymaster");
    cr_assert_str_eq(cfg.sentinel_user, "");
    cr_assert_str_eq(cfg.sentinel_password, "");
    cr_assert_eq(cfg.read_from, CONFIG_READ_MASTER);
}

Test(config_sentinel, sentinels_are_a_host_port_list)
{
    struct config cfg =
        value_ok("redis", "sentinels", "10.0.0.1:26379, [::1]:26380");
    static const char *const hosts[] = {"10.0.0.1", "::1"};
    static const int ports[] = {26379, 26380};

    cr_assert_str_eq(cfg.sentinels, "10.0.0.1:26379, [::1]:26380");
    expect_seeds(cfg.sentinels, hosts, ports, 2);
    expect_value_error("redis", "sentinels", "a", SEEDS_MSG);
    expect_value_error("redis", "sentinels", "a:1,", SEEDS_MSG);
    expect_value_error("redis", "sentinels", "a:0", SEEDS_MSG);
}

Test(config_sentinel, read_from_takes_its_three_words)
{
    cr_assert_eq(value_ok("redis", "read_from", "master").read_from,
                 CONFIG_READ_MASTER);
    cr_assert_eq(value_ok("redis", "read_from", "replica").read_from,
                 CONFIG_READ_REPLICA);
    cr_assert_eq(value_ok("redis", "read_from", "prefer_replica").read_from,
                 CONFIG_READ_PREFER_REPLICA);
    expect_value_error("redis", "read_from", "replicas",
                       "expected master, replica or prefer_replica");
    expect_value_error("redis", "read_from", "Master",
                       "expected master, replica or prefer_replica");
}

Test(config_sentinel, the_password_is_a_secret)
{
    struct config cfg;
    char *out;

    config_defaults(&cfg);
    set_ok(&cfg, "redis.sentinel_password=s3cret");
    set_ok(&cfg, "redis.sentinel_user=watcher");
    cr_assert_str_eq(cfg.sentinel_password, "s3cret");
    cr_assert_str_eq(config_from(&cfg, "redis", "sentinel_password"),
                     "-s redis.sentinel_password=***");
    out = print_to_string(&cfg);
    cr_assert_not_null(strstr(out, "sentinel_password = ***\n"), "%s", out);
    cr_assert_not_null(strstr(out, "sentinel_user = watcher\n"), "%s", out);
    cr_assert_null(strstr(out, "s3cret"), "%s", out);
    free(out);
}

Test(config_sentinel, every_key_prints_back_as_it_loads)
{
    struct config cfg;

    load_ok("[redis]\nsentinels = a:26379,b:26380\nmaster_name = cache-1\n"
            "sentinel_user = u\nread_from = prefer_replica\n",
            &cfg);
    assert_round_trip(&cfg);
}

Test(config_check, sentinels_with_a_cluster_name_the_sentinels_line)
{
    expect_check_error("[redis]\ncluster = on\nsentinels = a:26379\n", 3,
                       "[redis] sentinels: a Redis Cluster fails over by "
                       "itself; sentinels are for cluster = off");
}

Test(config_check, sentinels_need_a_master_name)
{
    struct config cfg;

    expect_check_error("[redis]\nsentinels = a:26379\nmaster_name =\n", 3,
                       "[redis] master_name: the sentinels need the name of "
                       "the master they watch");
    load_ok("[redis]\nsentinels = a:26379, b:26380\n", &cfg);
    expect_check_ok(&cfg);
    /* no sentinels: an empty name is never used */
    load_ok("[redis]\nmaster_name =\n", &cfg);
    expect_check_ok(&cfg);
}

Test(config_check, replica_reads_go_with_any_mode)
{
    struct config cfg;

    load_ok("[redis]\nread_from = replica\n", &cfg);
    expect_check_ok(&cfg);
    load_ok("[redis]\ncluster = on\nread_from = prefer_replica\n", &cfg);
    expect_check_ok(&cfg);
    load_ok("[redis]\nsentinels = a:1\nread_from = replica\n", &cfg);
    expect_check_ok(&cfg);
}
