/*
 * Unit tests of the registry of Redis identities (upstream/idents): one
 * identity per (user, password), numbered from 1 in order and found again
 * by the same credentials only; refused credentials (empty, too long,
 * with a NUL); IDENTS_MAX of them and no more; the cache partition folded
 * from the number and the database (and -1 for a database that does not
 * fit); which users are the proxy's own; holds counted as in use; and
 * each identity's target per node: the node's address with the
 * identity's credentials, its pool made once. No connection is opened: a
 * standalone node table that was started (its one node) with tracking
 * off, pointing nowhere in particular.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "upstream/idents.h"
#include "upstream/nodes.h"

static struct config cfg;
static struct config_ref ref;
static struct cache *cache;
static struct flights *flights;
static struct nodes *nodes;
static struct idents *reg;

static void
setup(void)
{
    config_defaults(&cfg);
    cfg.cache_tracking = 0;
    snprintf(cfg.redis_host, sizeof(cfg.redis_host), "127.0.0.9");
    cfg.redis_port = 6390;
    atomic_init(&ref.cur, &cfg);
    cache = cache_create(100, 0, 0, NULL);
    flights = flights_create(cache);
    nodes = nodes_create(&ref, flights, NULL, NULL);
    cr_assert_not_null(nodes);
    cr_assert_eq(nodes_start(nodes), 0);
    reg = idents_create(&ref, nodes, NULL);
    cr_assert_not_null(reg);
}

static void
teardown(void)
{
    idents_destroy(reg);
    nodes_destroy(nodes);
    flights_destroy(flights);
    cache_destroy(cache);
}

TestSuite(idents, .init = setup, .fini = teardown, .timeout = 30);

static struct ident *
get(const char *user, const char *pass)
{
    return idents_get(reg, user, strlen(user), pass, strlen(pass));
}

static long
in_use(void)
{
    struct idents_stats st;

    idents_stats(reg, &st);
    return st.in_use;
}

Test(idents, one_identity_per_user_and_password)
{
    struct ident *alice = get("alice", "alicepw");
    struct ident *bob = get("bob", "bobpw");
    struct ident *alice2 = get("alice", "other");
    struct idents_stats st;

    cr_assert_not_null(alice);
    cr_assert_not_null(bob);
    cr_assert_not_null(alice2);
    cr_expect_eq(ident_id(alice), 1);
    cr_expect_eq(ident_id(bob), 2);
    cr_expect_eq(ident_id(alice2), 3, "another password: another identity");
    cr_expect_str_eq(ident_user(alice2), "alice");
    cr_expect_eq(get("alice", "alicepw"), alice, "found again");
    cr_expect_eq(get("bob", "bobpw"), bob);
    cr_expect_eq(ident_id(get("alicepw", "alice")), 4, "fields swapped");
    idents_stats(reg, &st);
    cr_expect_eq(st.known, 4);
}

Test(idents, refuses_credentials_it_cannot_send)
{
    char longer[300];

    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    cr_expect_null(get("", "pw"));
    cr_expect_null(get("alice", ""));
    cr_expect_null(get(longer, "pw"));
    cr_expect_null(get("alice", longer));
    longer[255] = '\0';
    cr_expect_not_null(get(longer, "pw"), "255 bytes fit");
    cr_expect_null(idents_get(reg, "al\0ce", 5, "pw", 2));
    cr_expect_null(idents_get(reg, "alice", 5, "p\0w", 3));
}

Test(idents, at_most_idents_max)
{
    char user[32];
    int i;

    for (i = 1; i <= IDENTS_MAX; i++) {
        struct ident *id;

        snprintf(user, sizeof(user), "u%d", i);
        id = get(user, "pw");
        cr_assert_not_null(id, "%s", user);
        cr_assert_eq(ident_id(id), (unsigned)i);
    }
    cr_expect_null(get("one_more", "pw"), "past IDENTS_MAX");
    cr_expect_not_null(get("u7", "pw"), "a known one is still found");
}

Test(idents, partitions_fold_the_number_into_the_database)
{
    struct ident *a = get("alice", "pw"), *b = get("bob", "pw");

    cr_expect_eq(idents_partition(NULL, 0), 0, "the proxy's own: db itself");
    cr_expect_eq(idents_partition(NULL, 7), 7);
    cr_expect_eq(idents_partition(a, 0), 1 << IDENTS_DB_BITS);
    cr_expect_eq(idents_partition(a, 5), (1 << IDENTS_DB_BITS) | 5);
    cr_expect_eq(idents_partition(b, 1000000), (2 << IDENTS_DB_BITS) | 1000000,
                 "[redis] db's largest fits");
    cr_expect_eq(idents_partition(b, 1 << IDENTS_DB_BITS), -1);
    cr_expect_eq(idents_partition(b, -1), -1);
    for (int i = 3; i <= IDENTS_MAX; i++) {
        char user[16];

        snprintf(user, sizeof(user), "u%d", i);
        a = get(user, "pw");
    }
    cr_expect_eq(ident_id(a), IDENTS_MAX);
    cr_expect_gt(idents_partition(a, (1 << IDENTS_DB_BITS) - 1), 0,
                 "the last number and database stay a positive int");
}

Test(idents, the_proxys_own_user_needs_no_identity)
{
    cr_expect_eq(idents_is_own(reg, NULL, 0), 1, "AUTH <password>: default");
    cr_expect_eq(idents_is_own(reg, "default", 7), 1);
    cr_expect_eq(idents_is_own(reg, "alice", 5), 0);
    snprintf(cfg.redis_user, sizeof(cfg.redis_user), "svc");
    cr_expect_eq(idents_is_own(reg, "svc", 3), 1);
    cr_expect_eq(idents_is_own(reg, "default", 7), 0);
    cr_expect_eq(idents_is_own(reg, NULL, 0), 0);
    cr_expect_eq(idents_is_own(reg, "sv", 2), 0);
}

Test(idents, holds_count_as_in_use)
{
    struct ident *a = get("alice", "pw");

    cr_expect_eq(in_use(), 1, "idents_get hands out a hold");
    ident_hold(a);
    ident_drop(a);
    cr_expect_eq(in_use(), 1);
    ident_drop(a);
    cr_expect_eq(in_use(), 0);
    cr_expect_eq(get("alice", "pw"), a, "known still, held again");
    cr_expect_eq(in_use(), 1);
    ident_drop(NULL);
    ident_hold(NULL);
}

Test(idents, targets_have_the_nodes_address_and_the_identitys_credentials)
{
    struct ident *a = get("alice", "alicepw");
    const struct redis_target *t = ident_target(nodes, a, 0);
    struct upstream *pool = ident_pool(nodes, a, 0);

    cr_assert_not_null(t);
    cr_expect_str_eq(t->host, "127.0.0.9");
    cr_expect_eq(t->port, 6390);
    cr_expect_str_eq(t->user, "alice");
    cr_expect_str_eq(t->password, "alicepw");
    cr_expect_str_eq(nodes_target(nodes, 0)->user, "", "the node's own stays");
    cr_expect_neq((const void *)t, (const void *)nodes_target(nodes, 0));
    cr_assert_not_null(pool);
    cr_expect_eq(ident_pool(nodes, a, 0), pool, "made once");
    cr_expect_neq((void *)pool, (void *)nodes_pool(nodes, 0));
    cr_expect_eq(ident_target(nodes, a, 0), t);
    cr_expect_eq(ident_caches(a), 1, "no refusal of tracking seen");
    /* The proxy's own identity (NULL) uses the node's own. */
    cr_expect_eq(ident_pool(nodes, NULL, 0), nodes_pool(nodes, 0));
    cr_expect_eq(ident_target(nodes, NULL, 0), nodes_target(nodes, 0));
}
