/*
 * Unit tests of a server's reachability (upstream/reach.h), the state
 * every pipeline of a node reports to: a failed connect marks it down
 * with the cause, the backoff doubles from 100 ms to its 2 s cap, once it
 * has passed exactly one caller probes (eight threads asking at once, one
 * gets through) while the others keep failing fast, and a connect ends
 * it (the epoch moves: Redis may have restarted). A lost connection is
 * counted; one that had registered with the invalidation stream expires
 * what the cache holds and marks the fills in flight, through the node's
 * stream (tracking.h; its thread is not needed for that).
 */
#include "coherence_helpers.h"

#include <pthread.h>

#include "base/backoff.h"
#include "upstream/reach.h"
#include "upstream/tracking.h"

static struct config cfg;
static struct config_ref ref;
static struct redis_target target;
static struct tracking *tr;
static struct reach rs;

static void
setup(void)
{
    config_defaults(&cfg);
    cfg.cache_tracking = 0; /* the stream's thread is not needed */
    atomic_init(&ref.cur, &cfg);
    target = (struct redis_target){.host = "127.0.0.1",
                                   .port = 1,
                                   .user = "",
                                   .password = "",
                                   .cfg = &ref};
    coh_init();
    tr = tracking_create(&ref, &target, coh.flights, NULL);
    cr_assert_not_null(tr);
    cr_assert_eq(reach_init(&rs, &ref, &target, tr), 0);
}

static void
teardown(void)
{
    reach_deinit(&rs);
    tracking_destroy(tr);
    coh_fini();
}

TestSuite(reach, .init = setup, .fini = teardown, .timeout = 30);

/* The counters and the down flag. */
static void
stats(long *errors, long *reconnects, long *epoch, int *down)
{
    reach_stats(&rs, errors, reconnects, epoch, down);
}

/* Waits (bounded) until a connect may be tried; returns the ms waited. */
static int64_t
await_probe(char *err)
{
    int64_t start = util_now_ms();

    while (reach_may_connect(&rs, err) != 0) {
        cr_assert_lt(util_now_ms() - start, 5000, "no probe after the backoff");
        sleep_ms(5);
    }
    return util_now_ms() - start;
}

Test(reach, healthy_lets_every_connect_through)
{
    char err[REDIS_ERR_MAX] = "untouched";
    long errors, reconnects, epoch;
    int down;

    for (int i = 0; i < 3; i++) {
        cr_assert_eq(reach_may_connect(&rs, err), 0);
    }
    cr_assert_eq(reach_is_down(&rs, err), 0);
    cr_assert_str_eq(err, "untouched", "no reason when healthy");
    stats(&errors, &reconnects, &epoch, &down);
    cr_assert_eq(errors + reconnects + epoch + down, 0);
}

Test(reach, a_failed_connect_fails_fast_with_its_cause)
{
    char err[REDIS_ERR_MAX] = "";
    long errors, reconnects, epoch;
    int down;

    reach_connect_failed(&rs, "connect to 127.0.0.1:1: Connection refused");
    cr_assert_eq(reach_is_down(&rs, err), 1);
    cr_assert_str_eq(err, "connect to 127.0.0.1:1: Connection refused");
    err[0] = '\0';
    cr_assert_eq(reach_may_connect(&rs, err), -1, "in the backoff");
    cr_assert_str_eq(err, "connect to 127.0.0.1:1: Connection refused");
    stats(&errors, &reconnects, &epoch, &down);
    cr_assert_eq(errors, 1);
    cr_assert_eq(down, 1);
    cr_assert_eq(rs.backoff_ms, BACKOFF_MIN_MS);
}

Test(reach, the_backoff_doubles_up_to_its_cap)
{
    static const int64_t want[] = {100, 200, 400, 800, 1600, 2000, 2000, 2000};
    char err[REDIS_ERR_MAX];

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int64_t before = util_now_ms(), after;

        reach_connect_failed(&rs, "refused");
        after = util_now_ms();
        cr_assert_eq(rs.backoff_ms, want[i], "failure %zu", i + 1);
        cr_assert(rs.down_until >= before + want[i] &&
                      rs.down_until <= after + want[i],
                  "down for the backoff from now");
        cr_assert_eq(reach_is_down(&rs, err), 1);
    }
    reach_connected(&rs, 1);
    reach_connect_failed(&rs, "refused again");
    cr_assert_eq(rs.backoff_ms, BACKOFF_MIN_MS, "a success starts it over");
}

Test(reach, one_probe_after_the_backoff_then_recovery)
{
    char err[REDIS_ERR_MAX] = "";
    long errors, reconnects, epoch;
    int down;

    reach_connect_failed(&rs, "refused");
    cr_assert_eq(reach_may_connect(&rs, err), -1);
    cr_assert_geq(await_probe(err), 1, "not before the backoff");
    /* This caller probes; everyone else still fails fast meanwhile. */
    cr_assert_eq(reach_may_connect(&rs, err), -1, "one probe at a time");
    cr_assert_str_eq(err, "refused");
    cr_assert_eq(reach_is_down(&rs, err), 1);
    /* The probe fails: twice the backoff, and again one probe after it. */
    reach_connect_failed(&rs, "still refused");
    cr_assert_eq(rs.backoff_ms, 2 * BACKOFF_MIN_MS);
    cr_assert_eq(reach_may_connect(&rs, err), -1);
    cr_assert_str_eq(err, "still refused");
    cr_assert_geq(await_probe(err), 1);
    /* The probe connects: healthy, and the epoch moved. */
    reach_connected(&rs, 0);
    cr_assert_eq(reach_may_connect(&rs, err), 0);
    cr_assert_eq(reach_may_connect(&rs, err), 0, "everyone connects again");
    cr_assert_eq(reach_is_down(&rs, err), 0);
    stats(&errors, &reconnects, &epoch, &down);
    cr_assert_eq(errors, 2);
    cr_assert_eq(reconnects, 1);
    cr_assert_eq(epoch, 1, "a connect that ended a down period");
    cr_assert_eq(down, 0);
}

Test(reach, a_first_connect_is_no_reconnect_and_no_new_epoch)
{
    long errors, reconnects, epoch;
    int down;

    reach_connected(&rs, 1);
    reach_connected(&rs, 0);
    reach_connected(&rs, 0);
    stats(&errors, &reconnects, &epoch, &down);
    cr_assert_eq(reconnects, 2);
    cr_assert_eq(epoch, 0, "never down: the same Redis");
}

/* ---- eight callers at once after the backoff ---- */

static pthread_barrier_t start;
static atomic_int probes;

static void *
ask(void *arg)
{
    char err[REDIS_ERR_MAX];

    (void)arg;
    pthread_barrier_wait(&start);
    if (reach_may_connect(&rs, err) == 0) {
        atomic_fetch_add(&probes, 1);
    }
    return NULL;
}

Test(reach, of_many_callers_after_the_backoff_exactly_one_probes)
{
    pthread_t th[8];

    reach_connect_failed(&rs, "refused");
    while (util_now_ms() <= rs.down_until) {
        sleep_ms(5); /* the backoff passes; nobody has asked yet */
    }
    for (int round = 0; round < 3; round++) {
        atomic_store(&probes, 0);
        cr_assert_eq(pthread_barrier_init(&start, NULL, 8), 0);
        for (int i = 0; i < 8; i++) {
            cr_assert_eq(pthread_create(&th[i], NULL, ask, NULL), 0);
        }
        for (int i = 0; i < 8; i++) {
            pthread_join(th[i], NULL);
        }
        pthread_barrier_destroy(&start);
        cr_assert_eq(atomic_load(&probes), round == 0 ? 1 : 0,
                     "round %d: %d probes", round, atomic_load(&probes));
    }
}

/* ---- lost connections ---- */

Test(reach, a_lost_connection_is_counted_and_leaves_the_cache_alone)
{
    long errors, reconnects, epoch;
    int down;
    struct coh_fill fi;

    coh_put("k");
    coh_fill_start(&fi, "f");
    reach_conn_lost(&rs, 0, "EOF");
    stats(&errors, &reconnects, &epoch, &down);
    cr_assert_eq(errors, 1);
    cr_assert_eq(down, 0, "a lost connection is no failed connect");
    cr_assert_eq(coh_state("k"), COH_LIVE, "it had read nothing tracked");
    cr_assert_eq(coh_fill_end(&fi), 1);
}

Test(reach, a_lost_tracked_connection_expires_entries_and_marks_fills)
{
    struct coh_fill fi;

    coh_put("k");
    coh_put_db(3, "k3");
    coh_fill_start(&fi, "f");
    reach_conn_lost(&rs, 1, "EOF");
    cr_assert_eq(coh_state("k"), COH_EXPIRED, "kept for stale-if-error");
    cr_assert_eq(coh_state_db(3, "k3"), COH_EXPIRED, "every database");
    cr_assert_eq(coh_fill_end(&fi), 0, "what it read may be stale");
    cr_assert_eq(coh_state("f"), COH_GONE);
}

Test(reach, the_connect_timeout_follows_the_settings)
{
    struct config next = cfg;

    cr_assert_eq(reach_connect_timeout(&rs), cfg.connect_timeout_ms);
    next.connect_timeout_ms = 1234;
    atomic_store(&ref.cur, &next);
    cr_assert_eq(reach_connect_timeout(&rs), 1234, "read at each connect");
    atomic_store(&ref.cur, &cfg);
}
