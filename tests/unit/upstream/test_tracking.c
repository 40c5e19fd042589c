/*
 * Unit tests of the invalidation stream (upstream/tracking.h) against a
 * real redis-server: the stream established (state UP with the id of a
 * connection Redis shows subscribed to __redis__:invalidate), a change to
 * a key read on a connection redirected to it reaching the cache (the
 * entry gone from every database) and the fill in flight (marked: its
 * value is not stored), a FLUSHALL emptying the cache, the stream killed
 * (DOWN, entries expired, fills marked, then up again with a new id and
 * generation), a Redis not there yet (DOWN with the cause, then UP once
 * it comes), a Redis without CLIENT TRACKING (OFF), and tracking off
 * (no thread, no connection).
 */
#include "coherence_helpers.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "unit_helpers.h"
#include "upstream/tracking.h"

#define WAIT_MS 5000

static struct unit_redis server;
static struct config cfg;
static struct config_ref ref;
static struct redis_target target;
static struct tracking *tr;

/* The stream to port (tracking on or off), not started. */
static void
make_stream(int port, int on)
{
    config_defaults(&cfg);
    cfg.cache_tracking = on;
    atomic_init(&ref.cur, &cfg);
    target = (struct redis_target){.host = "127.0.0.1",
                                   .port = port,
                                   .user = "",
                                   .password = "",
                                   .cfg = &ref};
    tr = tracking_create(&ref, &target, coh.flights, NULL);
    cr_assert_not_null(tr);
}

static void
setup(void)
{
    coh_init();
    server.pid = 0;
    server.ctx = NULL;
    tr = NULL;
}

static void
teardown(void)
{
    tracking_destroy(tr);
    if (server.pid > 0) {
        unit_redis_stop(&server);
    }
    coh_fini();
}

TestSuite(tracking, .init = setup, .fini = teardown, .timeout = 30);

/* Starts the server (extra arguments, or NULL) and an established stream
 * to it; returns its id. */
static long long
stream_up(const char *const *extra)
{
    long long id;
    uint64_t gen;

    unit_redis_start(&server, 0, extra);
    make_stream(server.port, 1);
    cr_assert_eq(tracking_start(tr), 0);
    tracking_wait_first(tr, WAIT_MS);
    cr_assert_eq(tracking_state(tr, &id, &gen), TRACKING_UP);
    cr_assert_gt(id, 0);
    cr_assert_eq(gen, 1);
    return id;
}

/* A data connection registered with the stream, as the pipes register
 * (CLIENT TRACKING ON REDIRECT id), that has read key. */
static redisContext *
tracked_reader(long long id, const char *key)
{
    redisContext *c = redisConnect("127.0.0.1", server.port);
    char redirect[32];

    cr_assert(c != NULL && !c->err);
    snprintf(redirect, sizeof(redirect), "%lld", id);
    unit_redis_ok(c, "CLIENT TRACKING ON REDIRECT %s", redirect);
    unit_redis_ok(c, "GET %s", key);
    return c;
}

/* The stream's figures now. */
static struct tracking_stats
stats_now(void)
{
    struct tracking_stats st;

    tracking_stats(tr, &st);
    return st;
}

/* Waits (bounded) until drops >= d and messages >= m; returns them. */
static struct tracking_stats
await_stats(long d, long m)
{
    UNIT_AWAIT(WAIT_MS, stats_now().drops >= d && stats_now().messages >= m,
               "drops %ld messages %ld", stats_now().drops,
               stats_now().messages);
    return stats_now();
}

Test(tracking, the_stream_is_a_subscribed_connection_with_that_id)
{
    long long id = stream_up(NULL);
    char want[64];
    redisReply *r;

    snprintf(want, sizeof(want), "%lld", id);
    r = unit_redis_cmd(server.ctx, "CLIENT LIST ID %s", want);
    cr_assert_eq(r->type, REDIS_REPLY_STRING);
    cr_assert_not_null(strstr(r->str, " sub=1 "), "%s", r->str);
    cr_assert_not_null(strstr(r->str, " flags=P "), "pub/sub: %s", r->str);
    freeReplyObject(r);
    r = unit_redis_cmd(server.ctx, "PUBSUB NUMSUB __redis__:invalidate");
    cr_assert_eq(r->elements, 2);
    cr_assert_eq(r->element[1]->integer, 1);
    freeReplyObject(r);
}

Test(tracking, a_changed_key_leaves_the_cache_and_marks_its_fill)
{
    long long id = stream_up(NULL);
    redisContext *reader = tracked_reader(id, "k");
    struct coh_fill fi;
    struct tracking_stats st;

    coh_put("k");
    coh_put_db(2, "k");
    coh_put("other");
    coh_fill_start(&fi, "k");
    unit_redis_ok(server.ctx, "SET %s changed", "k");
    cr_assert(coh_await("k", COH_GONE, WAIT_MS), "the invalidation came");
    cr_assert_eq(coh_state_db(2, "k"), COH_GONE, "from every database");
    cr_assert_eq(coh_state("other"), COH_LIVE, "only the key it names");
    cr_assert_eq(coh_fill_end(&fi), 0, "the fill may have read the old value");
    st = await_stats(0, 1);
    cr_assert_eq(st.state, TRACKING_UP);
    cr_assert_eq(st.drops, 0);
    redisFree(reader);
}

Test(tracking, flushall_empties_the_cache)
{
    long long id = stream_up(NULL);
    redisContext *reader = tracked_reader(id, "k");

    coh_put("a");
    coh_put_db(5, "b");
    unit_redis_ok(server.ctx, "FLUSHALL%s", "");
    cr_assert(coh_await("a", COH_GONE, WAIT_MS), "a null invalidation came");
    cr_assert_eq(coh_state_db(5, "b"), COH_GONE);
    redisFree(reader);
}

Test(tracking, a_killed_stream_expires_and_marks_then_comes_back)
{
    long long id = stream_up(NULL), id2;
    struct coh_fill fi;
    struct tracking_stats st;
    char sid[32];
    uint64_t gen;

    coh_put("k");
    coh_fill_start(&fi, "f");
    snprintf(sid, sizeof(sid), "%lld", id);
    unit_redis_ok(server.ctx, "CLIENT KILL ID %s", sid);
    st = await_stats(1, 0);
    cr_assert_eq(st.drops, 1);
    cr_assert_eq(coh_state("k"), COH_EXPIRED, "kept for stale-if-error only");
    cr_assert_eq(coh_fill_end(&fi), 0, "what it read is no longer tracked");
    /* Reconnected: a new connection, a new generation to register with. */
    UNIT_AWAIT(WAIT_MS,
               tracking_state(tr, &id2, &gen) == TRACKING_UP && gen >= 2,
               "the stream did not come back");
    cr_assert_eq(gen, 2);
    cr_assert_neq(id2, id);
    tracking_stats(tr, &st);
    cr_assert_str_eq(st.reason, "");
}

Test(tracking, a_lost_tracked_connection_expires_and_marks)
{
    struct coh_fill fi;

    stream_up(NULL);
    coh_put("k");
    coh_fill_start(&fi, "f");
    tracking_conn_lost(tr);
    cr_assert_eq(coh_state("k"), COH_EXPIRED);
    cr_assert_eq(coh_fill_end(&fi), 0);
    cr_assert_eq(await_stats(0, 0).drops, 0, "the stream itself stays");
}

Test(tracking, down_while_redis_is_not_there_then_up_when_it_comes)
{
    struct tracking_stats st;
    char want[128];
    long long id;
    uint64_t gen;
    int port = unit_free_port();

    make_stream(port, 1);
    cr_assert_eq(tracking_start(tr), 0);
    tracking_wait_first(tr, WAIT_MS);
    tracking_stats(tr, &st);
    cr_assert_eq(st.state, TRACKING_DOWN);
    snprintf(want, sizeof(want), "connect to 127.0.0.1:%d: ", port);
    cr_assert_eq(strncmp(st.reason, want, strlen(want)), 0, "%s", st.reason);
    /* Redis comes on that port: the backoff's next attempt finds it. */
    snprintf(server.dir, sizeof(server.dir), "/tmp/rp-unit-redis-XXXXXX");
    cr_assert_not_null(mkdtemp(server.dir));
    server.port = port;
    server.pid = unit_redis_spawn(server.dir, port, 0, 0, NULL);
    server.ctx = unit_redis_await(server.pid, port);
    cr_assert_not_null(server.ctx, "port %d was taken meanwhile", port);
    UNIT_AWAIT(WAIT_MS, tracking_state(tr, &id, &gen) == TRACKING_UP,
               "the stream never came up");
    cr_assert_eq(gen, 1);
    tracking_stats(tr, &st);
    cr_assert_eq(st.drops, 0, "never up before: nothing dropped");
}

Test(tracking, a_redis_without_client_tracking_turns_it_off)
{
    const char *const extra[] = {"--rename-command", "CLIENT", "CLIENT_X",
                                 NULL};
    struct tracking_stats st;
    long long id;
    uint64_t gen;

    unit_redis_start(&server, 0, extra);
    make_stream(server.port, 1);
    cr_assert_eq(tracking_state(tr, &id, &gen), TRACKING_DOWN,
                 "wanted, not yet there");
    cr_assert_eq(tracking_start(tr), 0);
    tracking_wait_first(tr, WAIT_MS);
    tracking_stats(tr, &st);
    cr_assert_eq(st.state, TRACKING_OFF, "the cache runs on the TTL");
}

Test(tracking, off_starts_nothing)
{
    struct tracking_stats st;
    long long id = 7;
    uint64_t gen = 7;
    redisReply *r;

    unit_redis_start(&server, 0, NULL);
    make_stream(server.port, 0);
    cr_assert_eq(tracking_start(tr), 0);
    tracking_wait_first(tr, WAIT_MS); /* returns at once: no thread */
    cr_assert_eq(tracking_state(tr, &id, &gen), TRACKING_OFF);
    cr_assert_eq(id, 0);
    cr_assert_eq(gen, 0);
    tracking_stats(tr, &st);
    cr_assert_str_eq(st.reason, "");
    r = unit_redis_cmd(server.ctx, "PUBSUB NUMSUB __redis__:invalidate");
    cr_assert_eq(r->element[1]->integer, 0, "no stream connection");
    freeReplyObject(r);
}
