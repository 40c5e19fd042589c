/*
 * Unit tests of fills per database: one key's fills in two databases are
 * two fills, each joined, told and stored in its own database; an
 * invalidation (which names no database, as Redis's do) marks the key's
 * fills in every database and removes the key from every database of the
 * cache, and later misses lead fills of their own; scoped losses and
 * invalidations (one cluster node's keys) cover every database too. (The
 * rest of the registry's tests are in test_flight.c.)
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "flight_helpers.h"

TestSuite(flight_db, .fini = teardown);

Test(flight_db, fills_of_one_key_in_two_databases_are_two_fills)
{
    struct flight *f0, *f1, *f2;
    struct waiter w1, w2;

    setup(8, 0);
    waiter_init(&w1);
    waiter_init(&w2);
    f1 = join_db(1, S("k"), 1);
    f2 = join_db(2, S("k"), 1);
    cr_assert_neq(f1, f2);
    cr_assert_eq(join_db_w(1, S("k"), &w1, 0), f1);
    cr_assert_eq(join_db_w(2, S("k"), &w2, 0), f2);
    f0 = join(S("k"), 1);
    expect_flight_stats(3, 2, 0, 0, 0);
    expect_in_flight(3);
    cr_assert_eq(finish_value_db(f2, 2, S("k"), S("two"), 1), 1);
    expect_untold(&w1);
    cr_assert_eq(atomic_load(&w2.calls), 1);
    expect_entry(w2.entry, S("k"), S("two"));
    cr_assert_eq(cache_entry_db(w2.entry), 2);
    cr_assert_eq(finish_value_db(f1, 1, S("k"), S("one"), 1), 1);
    cr_assert_eq(atomic_load(&w1.calls), 1);
    expect_entry(w1.entry, S("k"), S("one"));
    cr_assert_eq(cache_entry_db(w1.entry), 1);
    cr_assert_eq(flight_finish(fl, f0, 2, NULL, NULL, 1), 0);
    expect_hit_db(c, 1, S("k"), S("one"));
    expect_hit_db(c, 2, S("k"), S("two"));
    expect_miss_db(c, 0, S("k"));
    forget(&w1);
    forget(&w2);
    expect_spares_told();
    expect_in_flight(0);
    expect_entries(2);
}

Test(flight_db, an_invalidation_marks_the_key_fills_in_every_database)
{
    struct flight *f1, *f2, *other, *n1, *n2;
    struct waiter w1, w2;

    setup(8, 0);
    waiter_init(&w1);
    waiter_init(&w2);
    cr_assert_eq(fill_db(0, S("k"), S("zero")), 1);
    cr_assert_eq(fill_db(3, S("k"), S("three")), 1);
    f1 = join_db(1, S("k"), 1);
    join_db_w(1, S("k"), &w1, 0);
    f2 = join_db(2, S("k"), 1);
    join_db_w(2, S("k"), &w2, 0);
    other = join_db(1, S("k2"), 1);
    flights_invalidate(fl, S("k"));
    expect_flight_stats(5, 2, 0, 2, 0); /* removed from dbs 0 and 3 */
    expect_in_flight(3);
    /* A miss after the invalidation leads a fill of its own, per db. */
    n1 = join_db(1, S("k"), 1);
    n2 = join_db(2, S("k"), 1);
    cr_assert(n1 != f1 && n2 != f2 && n1 != n2);
    flights_invalidate(fl, S("k")); /* marks those two as well */
    cr_assert_eq(finish_value_db(f1, 1, S("k"), S("old1"), 1), 0);
    cr_assert_eq(finish_value_db(f2, 2, S("k"), S("old2"), 1), 0);
    cr_assert_eq(finish_value_db(other, 1, S("k2"), S("v"), 1), 1);
    expect_entry(w1.entry, S("k"), S("old1")); /* answered, not stored */
    expect_entry(w2.entry, S("k"), S("old2"));
    for (int db = 0; db < 4; db++) {
        expect_miss_db(c, db, S("k"));
    }
    expect_hit_db(c, 1, S("k2"), S("v"));
    forget(&w1);
    forget(&w2);
    expect_in_flight(2); /* the two fills begun after the invalidation */
    cr_assert_eq(finish_value_db(n1, 1, S("k"), S("new1"), 1), 0);
    cr_assert_eq(finish_value_db(n2, 2, S("k"), S("new2"), 1), 0);
    expect_spares_told();
    expect_in_flight(0);
    expect_flight_stats(7, 2, 4, 2, 0);
}

/* A scope of the keys that start with one letter. */
static int
starts_with(void *arg, const char *key, size_t klen)
{
    return klen > 0 && key[0] == *(const char *)arg;
}

Test(flight_db, scoped_losses_and_invalidations_cover_every_database)
{
    struct key_scope in_a = {starts_with, "a"}, in_b = {starts_with, "b"};
    struct flight *a1, *a2, *b1;
    struct cache_entry *e;

    setup(8, 1000);
    cr_assert_eq(fill_db(0, S("a0"), S("x")), 1);
    cr_assert_eq(fill_db(3, S("a0"), S("x")), 1);
    cr_assert_eq(fill_db(3, S("b0"), S("x")), 1);
    a1 = join_db(1, S("a1"), 1);
    a2 = join_db(2, S("a1"), 1);
    b1 = join_db(1, S("b1"), 1);
    flights_lost_in(fl, &in_a);
    cr_assert_eq(finish_value_db(a1, 1, S("a1"), S("v"), 1), 0);
    cr_assert_eq(finish_value_db(a2, 2, S("a1"), S("v"), 1), 0);
    cr_assert_eq(finish_value_db(b1, 1, S("b1"), S("v"), 1), 1);
    expect_miss_db(c, 0, S("a0")); /* expired in every db, kept for stale */
    expect_miss_db(c, 3, S("a0"));
    e = cache_get_stale_db(c, 3, S("a0"));
    cr_assert_not_null(e);
    cache_release(e);
    expect_hit_db(c, 3, S("b0"), S("x"));
    expect_hit_db(c, 1, S("b1"), S("v"));
    b1 = join_db(2, S("b1"), 1);
    flights_invalidate_in(fl, &in_b);
    cr_assert_eq(finish_value_db(b1, 2, S("b1"), S("v"), 1), 0);
    cr_assert_null(cache_get_stale_db(c, 3, S("b0")), "removed, not expired");
    expect_miss_db(c, 1, S("b1"));
    expect_entries(2); /* the two expired a0 */
    expect_spares_told();
    expect_flight_stats(7, 0, 3, 0, 2);
}
