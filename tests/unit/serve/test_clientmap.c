/*
 * Unit tests of serve/clientmap, the proxy's client ids of sessions to
 * Redis's: set, find, forget and replace, ids that share a bucket (the
 * table has 1024), a map destroyed with entries left, and four threads
 * setting, finding and forgetting ids of their own at once while reading
 * each other's, every answer checked after they are joined.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>

#include "serve/clientmap.h"

static struct clientmap *m;

static void
setup(void)
{
    m = clientmap_create();
    cr_assert_not_null(m);
}

static void
teardown(void)
{
    clientmap_destroy(m);
}

TestSuite(clientmap, .init = setup, .fini = teardown, .timeout = 30);

/* id is found, on node as redis_id. */
static void
expect_found(uint64_t id, int node, long long redis_id)
{
    int n = -7;
    long long rid = -7;

    cr_assert_eq(clientmap_find(m, id, &n, &rid), 1, "id %llu not found",
                 (unsigned long long)id);
    cr_expect_eq(n, node, "id %llu: node %d, want %d", (unsigned long long)id,
                 n, node);
    cr_expect_eq(rid, redis_id, "id %llu: redis id %lld, want %lld",
                 (unsigned long long)id, rid, redis_id);
}

static void
expect_missing(uint64_t id)
{
    int n = -7;
    long long rid = -7;

    cr_expect_eq(clientmap_find(m, id, &n, &rid), 0, "id %llu found",
                 (unsigned long long)id);
    cr_expect_eq(n, -7, "a miss wrote the node");
    cr_expect_eq(rid, -7, "a miss wrote the redis id");
}

Test(clientmap, an_empty_map_finds_nothing)
{
    expect_missing(0);
    expect_missing(1);
    expect_missing(UINT64_MAX);
}

Test(clientmap, a_set_id_is_found_until_forgotten)
{
    cr_assert_eq(clientmap_set(m, 42, 3, 1007), 0);
    expect_found(42, 3, 1007);
    expect_missing(41);
    clientmap_forget(m, 42);
    expect_missing(42);
    clientmap_forget(m, 42); /* twice: nothing there */
    expect_missing(42);
}

Test(clientmap, setting_an_id_again_replaces_its_session)
{
    cr_assert_eq(clientmap_set(m, 7, 0, 100), 0);
    cr_assert_eq(clientmap_set(m, 7, 2, 200), 0);
    expect_found(7, 2, 200);
    clientmap_forget(m, 7);
    expect_missing(7); /* one entry: nothing older shows through */
}

Test(clientmap, ids_sharing_a_bucket_are_kept_apart)
{
    /* 1024 buckets by the low bits: these four share one. */
    const uint64_t ids[] = {5, 5 + 1024, 5 + 2048, (uint64_t)5 + (1ull << 40)};

    for (int i = 0; i < 4; i++) {
        cr_assert_eq(clientmap_set(m, ids[i], i, 1000 + i), 0);
    }
    for (int i = 0; i < 4; i++) {
        expect_found(ids[i], i, 1000 + i);
    }
    clientmap_forget(m, ids[1]); /* from the middle of the chain */
    expect_missing(ids[1]);
    expect_found(ids[0], 0, 1000);
    expect_found(ids[2], 2, 1002);
    expect_found(ids[3], 3, 1003);
    clientmap_forget(m, ids[3]); /* the chain's head (set last) */
    expect_found(ids[0], 0, 1000);
    expect_found(ids[2], 2, 1002);
    expect_missing(ids[3]);
}

Test(clientmap, the_largest_ids_and_redis_ids_round_trip)
{
    cr_assert_eq(clientmap_set(m, UINT64_MAX, 63, 9223372036854775807LL), 0);
    expect_found(UINT64_MAX, 63, 9223372036854775807LL);
    expect_missing(UINT64_MAX - 1024);
}

Test(clientmap, destroying_a_map_with_entries_frees_them)
{
    struct clientmap *other = clientmap_create();

    cr_assert_not_null(other);
    for (uint64_t id = 1; id <= 3000; id++) {
        cr_assert_eq(clientmap_set(other, id, 0, (long long)id), 0);
    }
    clientmap_destroy(other); /* the sanitizer build reports a leak */
    clientmap_destroy(NULL);
}

/* ---- several threads ---- */

#define THREADS 4
#define ROUNDS 2000

struct worker {
    pthread_t t;
    int index;
    long wrong; /* finds of its own ids that did not answer as set */
    long seen;  /* finds of others' ids that hit (they raced) */
};

static pthread_barrier_t start;

/* Sets, finds and forgets ids of its own (index + k * THREADS), and looks
 * at the neighbour's. */
static void *
churn(void *arg)
{
    struct worker *w = arg;

    pthread_barrier_wait(&start);
    for (int k = 0; k < ROUNDS; k++) {
        uint64_t id = (uint64_t)(w->index + k * THREADS);
        int node;
        long long rid;

        if (clientmap_set(m, id, w->index, (long long)id * 10) != 0) {
            w->wrong++;
            continue;
        }
        if (!clientmap_find(m, id, &node, &rid) || node != w->index ||
            rid != (long long)id * 10) {
            w->wrong++;
        }
        if (clientmap_find(m, id + 1, &node, &rid)) {
            w->seen++;
            if (rid != (long long)(id + 1) * 10) {
                w->wrong++;
            }
        }
        if (k % 2 == 0) {
            clientmap_forget(m, id);
            if (clientmap_find(m, id, &node, &rid)) {
                w->wrong++;
            }
        }
    }
    return NULL;
}

Test(clientmap, threads_set_find_and_forget_at_once)
{
    struct worker w[THREADS];

    cr_assert_eq(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.index = i};
        cr_assert_eq(pthread_create(&w[i].t, NULL, churn, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(w[i].t, NULL);
        cr_expect_eq(w[i].wrong, 0, "thread %d: %ld wrong answers", i,
                     w[i].wrong);
    }
    pthread_barrier_destroy(&start);
    /* What is left: the odd rounds' ids, each as its thread set it. */
    for (int i = 0; i < THREADS; i++) {
        for (int k = 0; k < ROUNDS; k++) {
            uint64_t id = (uint64_t)(i + k * THREADS);

            if (k % 2 == 0) {
                expect_missing(id);
            } else {
                expect_found(id, i, (long long)id * 10);
            }
        }
    }
}
