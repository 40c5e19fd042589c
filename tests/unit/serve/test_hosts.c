/*
 * Unit tests of serve/hosts: the names a Host may carry without a
 * password: loopback names, the bind address (an IPv6 one in brackets),
 * allowed_hosts (exact, or a '.' name and every name under it), without
 * case, a trailing dot or a port; and where a Host value's port begins.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "base/config.h"
#include "serve/hosts.h"
#include "serve/proxy.h"

TestSuite(hosts);

static struct proxy px; /* big (metrics): not on the stack */
static struct config cfg;

/* px with the defaults and then each "-s" argument of sets. */
static void
settings(const char *const *sets)
{
    char err[CONFIG_ERR_MAX];

    config_defaults(&cfg);
    for (; *sets != NULL; sets++) {
        cr_assert_eq(config_set(&cfg, *sets, err, sizeof(err)), 0, "%s", err);
    }
    atomic_store(&px.cfg.cur, &cfg);
}

static int
allowed(const char *host)
{
    return hosts_allowed(&px, host, strlen(host));
}

Test(hosts, loopback_names_and_the_bind_address)
{
    settings((const char *const[]){"server.bind=10.0.0.7", NULL});
    cr_assert(allowed("localhost"));
    cr_assert(allowed("LOCALHOST:8080"));
    cr_assert(allowed("localhost.:8080"));
    cr_assert(allowed("127.0.0.1:6380"));
    cr_assert(allowed("[::1]"));
    cr_assert(allowed("[::1]:8080"));
    cr_assert(allowed("10.0.0.7:8080"));
    cr_assert(!allowed("10.0.0.8"));
    cr_assert(!allowed("evil.example"));
    cr_assert(!allowed("localhost.evil.example"));
    cr_assert(!allowed("127.0.0.1.nip.io"));
    cr_assert(!allowed(""));
    cr_assert(!allowed(":8080"));
    cr_assert(hosts_allowed(&px, NULL, 0), "no Host at all");
}

Test(hosts, an_ipv6_bind_is_matched_in_brackets)
{
    settings((const char *const[]){"server.bind=fd00::7", NULL});
    cr_assert(allowed("[fd00::7]:8080"));
    cr_assert(allowed("[FD00::7]"));
    cr_assert(!allowed("fd00::7"));
}

Test(hosts, allowed_hosts_exact_and_under_a_domain)
{
    settings((const char *const[]){
        "http.allowed_hosts=proxy, .svc.example, [fd00::1]", NULL});
    cr_assert(allowed("proxy:8080"));
    cr_assert(allowed("Proxy"));
    cr_assert(allowed("svc.example"));
    cr_assert(allowed("a.svc.example"));
    cr_assert(allowed("a.b.svc.example.:443"));
    cr_assert(allowed("[fd00::1]:8081"));
    cr_assert(!allowed("proxy.example"));
    cr_assert(!allowed("xsvc.example"));
    cr_assert(!allowed("svc.example.evil"));
    cr_assert(!allowed("example"));
}

Test(hosts, the_name_ends_where_the_port_begins)
{
    static const struct {
        const char *host;
        size_t name;
    } cases[] = {
        {"a:1", 1},   {"a", 1},          {"[::1]:80", 5},
        {"[::1]", 5}, {"a.b.c:8080", 5}, {"[::1", 4},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].host);

        cr_assert_eq(hosts_name_of(cases[i].host, &len), cases[i].host);
        cr_assert_eq(len, cases[i].name, "%s", cases[i].host);
    }
}
