/*
 * Unit tests of fills overtaken by an invalidation: a request that misses
 * after the invalidation (for a forwarded write, after the write's reply
 * was sent) must not join the overtaken fill, whose value may be the one
 * from before the write, but lead a fill of its own. Requests that joined
 * before the invalidation still get the overtaken fill's answer. (The rest
 * of the registry's tests are in test_flight.c.)
 */
#include "flight_helpers.h"

#include <stdio.h>

TestSuite(flight_overtaken, .fini = teardown);

/* f leads a fill of k that an invalidation overtook (by how), g joined it
 * before; a later join must lead; the overtaken value is answered to g
 * only, the new one is stored. */
static void
later_join_leads(void (*how)(void))
{
    struct flight *f, *g, *h;
    struct cache_entry *old;
    struct outcome o;

    setup(8, 0);
    f = join(S("k"), 1);
    g = join(S("k"), 0);
    how();
    h = join(S("k"), 1); /* after the invalidation: a fill of its own */
    cr_assert_eq(finish_value(h, S("k"), S("new"), 1), 1);
    expect_hit(c, S("k"), S("new"));
    old = make_entry(S("k"), S("old"));
    cr_assert_eq(flight_finish(fl, f, 0, old, NULL, 1), 0, "stored over");
    wait_now(g, 0, &o);
    cr_assert_eq(o.rc, 0);
    cr_assert_eq(o.entry, old, "the follower from before gets its answer");
    cache_release(o.entry);
    cache_release(old);
    expect_hit(c, S("k"), S("new"));
}

static void
invalidate_k(void)
{
    flights_invalidate(fl, S("k"));
}

static void
invalidate_all(void)
{
    flights_invalidate_all(fl);
}

static void
lost(void)
{
    flights_lost(fl);
}

Test(flight_overtaken, a_join_after_an_invalidation_leads_a_new_fill)
{
    later_join_leads(invalidate_k);
    expect_flight_stats(2, 1, 1, 0, 0);
}

Test(flight_overtaken, a_join_after_invalidate_all_leads_a_new_fill)
{
    later_join_leads(invalidate_all);
    expect_flight_stats(2, 1, 1, 0, 1);
}

Test(flight_overtaken, a_join_after_a_lost_stream_leads_a_new_fill)
{
    later_join_leads(lost);
    expect_flight_stats(2, 1, 1, 0, 1);
}

/* Overtaken fills of many keys leave the registry consistent: each key
 * has at most one fill to join, the newest, and every flight is freed. */
Test(flight_overtaken, overtaken_fills_of_many_keys_end_cleanly)
{
    struct flight *f[64], *h[64];
    char key[16];

    setup(64, 0);
    for (int i = 0; i < 64; i++) {
        f[i] = join(key, (size_t)snprintf(key, sizeof(key), "k%d", i), 1);
    }
    for (int i = 0; i < 64; i += 2) {
        flights_invalidate(fl, key,
                           (size_t)snprintf(key, sizeof(key), "k%d", i));
    }
    for (int i = 0; i < 64; i++) {
        size_t kn = (size_t)snprintf(key, sizeof(key), "k%d", i);
        struct flight *g = join(key, kn, i % 2 == 0);

        h[i] = i % 2 == 0 ? g : NULL;
        if (g != h[i]) {
            struct outcome o;

            cr_assert_eq(finish_value(f[i], key, kn, "odd", 3, 1), 1);
            f[i] = NULL;
            wait_now(g, 0, &o);
            cr_assert_eq(o.rc, 0);
            cache_release(o.entry);
        }
    }
    for (int i = 0; i < 64; i += 2) {
        size_t kn = (size_t)snprintf(key, sizeof(key), "k%d", i);

        cr_assert_eq(finish_value(f[i], key, kn, "old", 3, 1), 0);
        cr_assert_eq(finish_value(h[i], key, kn, "new", 3, 1), 1);
        expect_hit(c, key, kn, "new", 3);
    }
    expect_entries(64);
    expect_flight_stats(96, 32, 32, 0, 0);
}
