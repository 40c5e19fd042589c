/*
 * Unit tests of serve/fetch, the one lookup path, through its header on a
 * whole proxy in front of a redis-server of the test's own
 * (live_helpers.h): a miss filled from Redis (PTTL and GET: the entry
 * expires no later than the key) and the hits after it, two misses of
 * one key sharing one fill while Redis is paused, not-found and values
 * over max_value_size answered and never cached, the client's database,
 * stale-if-error entries served while Redis is down, and how a value is
 * written to a conn (copied when small, by reference when large). Lookup
 * records are made as respd makes them and completed on the pipelines'
 * threads; the test waits for each (bounded) and reads its outcome, the
 * metrics and Redis's own command counts.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "cache/cache.h"
#include "cache/flight.h"
#include "serve/account.h"
#include "serve/fetch.h"
#include "serve/outcome.h"
#include "serve/rcmd.h"

#include "live_helpers.h"

TestSuite(fetch, .init = live_defaults, .fini = live_down, .timeout = 30);

/* A lookup record of key in db, as respd's cmd_get makes one, joined to
 * the key's fill with fetch_miss. */
static struct rcmd *
miss(const char *key, int db)
{
    size_t klen = strlen(key);
    struct rcmd *r = rcmd_new(&live.px, NULL, RCMD_LOOKUP, klen);

    cr_assert_not_null(r);
    memcpy(r->raw, key, klen);
    r->raw_len = klen;
    r->deadline_ms = util_now_ms() + live.cfg.command_timeout_ms;
    cr_assert_eq(fetch_miss(&live.px, r, db), 0);
    return r;
}

/* Waits (bounded) until r is completed. */
static void
await_done(struct rcmd *r)
{
    int64_t until = util_now_ms() + CLIENT_WAIT_MS;

    while (!rcmd_done(r) && util_now_ms() < until) {
        sleep_ms(1);
    }
    cr_assert(rcmd_done(r), "the lookup was never completed");
}

/* A lookup of key that missed, once completed. */
static struct rcmd *
lookup(const char *key, int db)
{
    struct rcmd *r = miss(key, db);

    await_done(r);
    return r;
}

/* r ended with e's value being want. */
static void
expect_value(const struct cache_entry *e, const char *want)
{
    cr_assert_not_null(e, "no entry");
    cr_expect(e->vlen == strlen(want) &&
                  memcmp(cache_entry_value(e), want, e->vlen) == 0,
              "value '%.*s', want '%s'", (int)e->vlen, cache_entry_value(e),
              want);
}

static long
cached_entries(void)
{
    struct cache_stats s;

    cache_stats(live.px.cache, &s);
    return s.entries;
}

static struct flight_stats
flight_figures(void)
{
    struct flight_stats s;

    flights_stats(live.px.flights, &s);
    return s;
}

Test(fetch, a_miss_is_filled_from_redis_and_the_next_lookup_hits)
{
    struct cache_entry *e;
    struct rcmd *r;

    live_up();
    redis_do("OK", "SET k hello");
    cr_assert_null(fetch_hit(&live.px, 0, "k", 1));
    r = lookup("k", 0);
    cr_expect_eq(r->status, OUTCOME_OK);
    cr_expect_eq(r->cache, ACCOUNT_MISS);
    expect_value(r->entry, "hello");
    cr_expect_eq(atomic_load(&live.px.metrics.misses), 1);
    rcmd_free(r);

    e = fetch_hit(&live.px, 0, "k", 1);
    expect_value(e, "hello");
    cache_release(e);
    cr_expect_eq(atomic_load(&live.px.metrics.hits), 1);
    cr_expect_eq(redis_calls("get"), 1, "the hit asked Redis");
    cr_expect_eq(redis_calls("pttl"), 1);
    cr_expect_eq(atomic_load(&live.px.records), 0);
}

Test(fetch, an_entry_expires_no_later_than_its_key_in_redis)
{
    struct cache_entry *e;
    struct rcmd *r;
    int64_t left;

    live.cfg.cache_ttl_ms = 600000;
    live_up();
    redis_do("OK", "SET k v PX 5000");
    r = lookup("k", 0);
    rcmd_free(r);
    e = fetch_hit(&live.px, 0, "k", 1);
    cr_assert_not_null(e);
    left = cache_entry_ttl_left(live.px.cache, e);
    cr_expect(left > 0 && left <= 5000, "%lld ms left, want at most the PTTL",
              (long long)left);
    cache_release(e);
}

Test(fetch, two_misses_of_one_key_share_one_fill)
{
    struct rcmd *a, *b;
    struct flight_stats fs;

    live_up();
    redis_do("OK", "SET k shared");
    /* Redis answers nobody for a while: the first fill stays in flight
     * while the second lookup comes. */
    redis_do("OK", "CLIENT PAUSE 500 ALL");
    a = miss("k", 0);
    b = miss("k", 0);
    fs = flight_figures();
    cr_expect_eq(fs.fills, 1, "%ld fills", fs.fills);
    cr_expect_eq(fs.coalesced, 1, "the second lookup did not join the fill");
    await_done(a);
    await_done(b);
    cr_expect_eq(a->status, OUTCOME_OK);
    cr_expect_eq(b->status, OUTCOME_OK);
    expect_value(a->entry, "shared");
    cr_expect_eq(a->entry, b->entry, "both lookups get the one entry filled");
    cr_expect_eq(redis_calls("get"), 1);
    cr_expect_eq(atomic_load(&live.px.metrics.misses), 2);
    rcmd_free(a);
    rcmd_free(b);
}

Test(fetch, a_key_that_does_not_exist_is_answered_nil_and_never_cached)
{
    struct rcmd *r = NULL;

    live_up();
    for (int i = 0; i < 2; i++) {
        r = lookup("nope", 0);
        cr_expect_eq(r->status, OUTCOME_NIL);
        cr_expect_null(r->entry);
        rcmd_free(r);
        cr_expect_null(fetch_hit(&live.px, 0, "nope", 4));
        cr_expect_eq(cached_entries(), 0);
    }
    cr_expect_eq(redis_calls("get"), 2, "the second lookup asks again");
}

Test(fetch, a_value_over_max_value_size_is_answered_but_not_cached)
{
    struct rcmd *r;

    live.cfg.cache_max_value = 8;
    live_up();
    redis_do("OK", "SET big 0123456789abcdef");
    redis_do("OK", "SET small 01234567");
    r = lookup("big", 0);
    cr_expect_eq(r->status, OUTCOME_OK);
    expect_value(r->entry, "0123456789abcdef");
    rcmd_free(r);
    cr_expect_eq(atomic_load(&live.px.metrics.oversize), 1);
    cr_expect_null(fetch_hit(&live.px, 0, "big", 3));

    r = lookup("small", 0); /* at the limit: kept */
    rcmd_free(r);
    cr_expect_eq(atomic_load(&live.px.metrics.oversize), 1);
    cr_expect_eq(cached_entries(), 1);
    cache_release(fetch_hit(&live.px, 0, "small", 5));
    cr_expect_eq(atomic_load(&live.px.metrics.hits), 1);
}

Test(fetch, a_lookup_reads_and_caches_the_clients_database)
{
    struct cache_entry *e;
    struct rcmd *r;

    live_up();
    redis_do("OK", "SELECT 3");
    redis_do("OK", "SET k three");
    r = lookup("k", 3);
    expect_value(r->entry, "three");
    rcmd_free(r);
    r = lookup("k", 0);
    cr_expect_eq(r->status, OUTCOME_NIL, "database 0 has no k");
    rcmd_free(r);
    e = fetch_hit(&live.px, 3, "k", 1);
    expect_value(e, "three");
    cache_release(e);
    cr_expect_null(fetch_hit(&live.px, 0, "k", 1));
}

Test(fetch, a_stale_entry_is_served_while_redis_is_down)
{
    struct cache_entry *e;
    struct rcmd *r;
    int64_t until;

    live.cfg.cache_ttl_ms = 100;
    live.cfg.cache_stale_ms = 60000;
    live_up();
    redis_do("OK", "SET k old");
    rcmd_free(lookup("k", 0));
    unit_redis_stop(&live.redis);
    until = util_now_ms() + CLIENT_WAIT_MS;
    while ((e = fetch_hit(&live.px, 0, "k", 1)) != NULL &&
           util_now_ms() < until) {
        cache_release(e);
        sleep_ms(10);
    }
    cr_assert_null(e, "the entry never expired");

    r = lookup("k", 0);
    cr_expect_eq(r->status, OUTCOME_OK);
    cr_expect_eq(r->cache, ACCOUNT_STALE);
    expect_value(r->entry, "old");
    rcmd_free(r);
    cr_expect_eq(atomic_load(&live.px.metrics.stale), 1);

    e = fetch_stale(&live.px, 0, "k", 1);
    expect_value(e, "old");
    cache_release(e);
    cr_expect_eq(atomic_load(&live.px.metrics.stale), 2);
    cr_expect_null(fetch_stale(&live.px, 0, "other", 5));
}

Test(fetch, a_lookup_with_redis_down_and_nothing_stale_fails)
{
    char line[512];
    struct rcmd *r;
    size_t n;

    live_up();
    unit_redis_stop(&live.redis);
    r = lookup("k", 0);
    cr_expect_eq(r->status, OUTCOME_EDOWN, "status %d", r->status);
    cr_expect_null(r->entry);
    n = outcome_resp(line, sizeof(line), r->status, r->err);
    cr_expect(n > 26 && memcmp(line, "-ERR redis unavailable: ", 24) == 0,
              "%.*s", (int)n, line);
    rcmd_free(r);
    cr_expect_eq(cached_entries(), 0);
}

/* Writes e's value to a fresh conn, then releases the caller's reference
 * and sends it; the peer gets every byte. Returns e's references while
 * the value was queued. */
static unsigned
write_and_send(struct cache_entry *e)
{
    static char got[FETCH_COPY_MAX * 2];
    int peer;
    struct conn *c = unit_conn(&live.px.kinds[PROXY_RESP], &peer);
    unsigned refs;
    size_t len = e->vlen, n;
    char *want = malloc(len);

    cr_assert_not_null(want);
    memcpy(want, cache_entry_value(e), len);
    cr_assert_eq(fetch_write_value(c, e), 0);
    refs = atomic_load(&e->refs);
    cr_expect_eq(outq_bytes(&c->out), len);
    cache_release(e);
    cr_assert_eq(conn_flush(c), CONN_IO_OK);
    n = client_read_for(peer, got, len, CLIENT_WAIT_MS, NULL);
    cr_expect(n == len && memcmp(got, want, len) == 0, "%zu of %zu bytes", n,
              len);
    free(want);
    conn_destroy(c);
    close(peer);
    return refs;
}

Test(fetch, a_small_value_is_copied_and_a_large_one_queued_by_reference)
{
    static char big[FETCH_COPY_MAX + 1];
    struct cache_entry *e;

    live_services();
    memset(big, 'v', sizeof(big));
    e = cache_entry_create_db(live.px.cache, 0, "k", 1, big, FETCH_COPY_MAX);
    cr_assert_not_null(e);
    cr_expect_eq(write_and_send(e), 1, "a small value holds no reference");
    e = cache_entry_create_db(live.px.cache, 0, "k", 1, big, sizeof(big));
    cr_assert_not_null(e);
    cr_expect_eq(write_and_send(e), 2, "a large value is held by reference");
}
