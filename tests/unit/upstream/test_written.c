/*
 * Unit tests of the written keys' table (upstream/written.h), which keeps
 * reads of keys written through the proxy on the master until the
 * replicas have them: a key's round, replaced by a later write; entries
 * free once settled; a key forgotten for room raising the floor instead
 * (never a read let through too early); pending keys and holds.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>

#include "upstream/written.h"

static struct written *w;

static void
setup(void)
{
    w = written_create(64);
    cr_assert_not_null(w);
}

static void
teardown(void)
{
    written_destroy(w);
}

TestSuite(written, .init = setup, .fini = teardown);

static uint64_t
h(const char *key)
{
    return written_hash(key, strlen(key));
}

Test(written, a_key_needs_the_round_of_its_last_write)
{
    cr_assert_eq(written_need(w, h("a")), 0, "nothing written: no need");
    cr_assert_eq(written_key(w, h("a"), 5), 0);
    cr_assert_eq(written_need(w, h("a")), 5);
    cr_assert_eq(written_need(w, h("b")), 0, "another key is not held");
    cr_assert_eq(written_key(w, h("a"), 9), 0);
    cr_assert_eq(written_need(w, h("a")), 9, "the later write counts");
}

Test(written, settled_rounds_free_their_keys)
{
    written_key(w, h("a"), 5);
    written_key(w, h("b"), 8);
    written_settle(w, 5);
    cr_assert_eq(written_need(w, h("a")), 0, "every replica has round 5");
    cr_assert_eq(written_need(w, h("b")), 8);
    written_settle(w, 4);
    cr_assert_eq(written_settled(w), 5, "settling never goes back");
    written_settle(w, 8);
    cr_assert_eq(written_need(w, h("b")), 0);
}

Test(written, a_write_of_unknown_keys_raises_the_floor)
{
    written_key(w, h("a"), 3);
    written_all(w, 7);
    cr_assert_eq(written_floor(w), 7);
    cr_assert_eq(written_need(w, h("a")), 7, "the floor is above its round");
    cr_assert_eq(written_need(w, h("never")), 7);
    written_all(w, 4);
    cr_assert_eq(written_floor(w), 7, "the floor never goes down");
}

Test(written, a_full_probe_forgets_its_oldest_key_and_the_floor_takes_it)
{
    struct written *t = written_create(1); /* WRITTEN_PROBE places */
    char key[16];
    uint64_t i;

    cr_assert_not_null(t);
    /* Every key lands in the one probe of the small table. */
    for (i = 0; i < WRITTEN_PROBE; i++) {
        snprintf(key, sizeof(key), "k%llu", (unsigned long long)i);
        cr_assert_eq(written_key(t, h(key), 10 + i), 0);
    }
    cr_assert_eq(written_floor(t), 0);
    cr_assert_eq(written_key(t, h("late"), 50), 0);
    /* k0 (round 10, the oldest) made room: every read needs 10 now, so k0
     * is still safe though forgotten. */
    cr_assert_eq(written_floor(t), 10);
    cr_assert_eq(written_need(t, h("k0")), 10);
    cr_assert_eq(written_need(t, h("late")), 50);
    cr_assert_eq(written_need(t, h(key)), 10 + WRITTEN_PROBE - 1);
    {
        struct written_stats st;

        written_stats(t, &st);
        cr_assert_eq(st.keys, WRITTEN_PROBE);
        cr_assert_eq(st.dropped, 1);
    }
    written_destroy(t);
}

Test(written, a_pending_key_stays_on_the_master_until_its_round_is_set)
{
    cr_assert_eq(written_key(w, h("p"), WRITTEN_PENDING), 0);
    cr_assert_eq(written_need(w, h("p")), WRITTEN_PENDING);
    written_settle(w, 1000);
    cr_assert_eq(written_need(w, h("p")), WRITTEN_PENDING,
                 "settling never frees a pending key");
    written_key(w, h("p"), 1001);
    cr_assert_eq(written_need(w, h("p")), 1001);
}

Test(written, pending_keys_are_never_forgotten_for_room)
{
    struct written *t = written_create(1);
    char key[16];
    int i;

    cr_assert_not_null(t);
    for (i = 0; i < WRITTEN_PROBE; i++) {
        snprintf(key, sizeof(key), "p%d", i);
        cr_assert_eq(written_key(t, h(key), WRITTEN_PENDING), 0);
    }
    cr_assert_eq(written_key(t, h("one-more"), WRITTEN_PENDING), -1,
                 "no room: the caller must hold the table");
    cr_assert_eq(written_need(t, h("p0")), WRITTEN_PENDING);
    /* A key with a known round and no room: the floor takes it. */
    cr_assert_eq(written_key(t, h("known"), 33), 0);
    cr_assert_eq(written_floor(t), 33);
    written_destroy(t);
}

Test(written, a_hold_keeps_every_read_on_the_master)
{
    written_hold(w);
    written_hold(w);
    cr_assert_eq(written_need(w, h("x")), WRITTEN_PENDING);
    cr_assert_eq(written_floor(w), WRITTEN_PENDING);
    written_release(w);
    cr_assert_eq(written_need(w, h("x")), WRITTEN_PENDING, "held twice");
    written_release(w);
    cr_assert_eq(written_need(w, h("x")), 0);
    written_release(w); /* one too many: no harm */
    cr_assert_eq(written_need(w, h("x")), 0);
}

Test(written, a_key_hashing_to_zero_is_still_kept)
{
    cr_assert_eq(written_key(w, 0, 12), 0);
    cr_assert_eq(written_need(w, 0), 12);
    cr_assert_eq(written_need(w, 1), 12, "0 is stored as 1");
}
