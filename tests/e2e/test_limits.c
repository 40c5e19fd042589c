/*
 * End-to-end tests of the proxy's size limits against a real redis-server:
 * [cache] max_memory holds (the cache's bytes and the process's memory
 * stay bounded while every answer stays exact), a value over
 * max_value_size is answered from Redis every time and never stored
 * while one at exactly the limit is, and [server] max_request bounds a
 * RESP command: a 10 MiB SET passes byte for byte under the default,
 * and one byte over a lowered limit is a protocol error that closes the
 * connection before anything reaches Redis.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P "redis_proxy_"

H_PAIR_SUITE(limits, 90);

/* ---- helpers ---- */

/* n bytes of a pattern that differs with seed (NUL-terminated). */
static char *
pattern(size_t n, unsigned seed)
{
    char *v = malloc(n + 1);
    size_t i;

    cr_assert_not_null(v);
    for (i = 0; i < n; i++) {
        v[i] = (char)('!' + (i * 31 + seed * 7 + i / 4093) % 90);
    }
    v[n] = '\0';
    return v;
}

/* GET path on fd: 200, exactly want, X-Cache xcache. */
static void
expect_value_on(int fd, const char *path, const char *want, const char *xcache)
{
    struct h_resp r = {0};

    cr_assert_eq(h_http_get_on(fd, path, &r, 10000), 0, "GET %s", path);
    h_check(&r, path, 200, want, xcache);
    h_resp_free(&r);
}

/* "*n\r\n" then one bulk per (p, len) pair: a RESP command in buf. */
static size_t
command(char *buf, size_t cap, int argc, const char *const *argv,
        const size_t *lens)
{
    size_t n = (size_t)snprintf(buf, cap, "*%d\r\n", argc);
    int i;

    for (i = 0; i < argc; i++) {
        n += (size_t)snprintf(buf + n, cap - n, "$%zu\r\n", lens[i]);
        cr_assert_lt(n + lens[i] + 2, cap);
        memcpy(buf + n, argv[i], lens[i]);
        memcpy(buf + n + lens[i], "\r\n", 2);
        n += lens[i] + 2;
    }
    return n;
}

/* SET key value on the proxy's resp_port (a fresh connection): the exact
 * reply in out (NUL-terminated), and whether the proxy then closed. With
 * head_only, the value's bytes are not sent, only the command up to its
 * bulk header: a proxy that refuses the length closes at once, and a value
 * still being sent then would meet a reset (which may lose the reply). */
static void
resp_set_sent(const char *key, const char *v, size_t vlen, char *out,
              size_t cap, int *closed, int head_only)
{
    const char *argv[] = {"SET", key, v};
    const size_t lens[] = {3, strlen(key), vlen};
    size_t bufcap = vlen + 256;
    char *buf = malloc(bufcap);
    size_t n = command(buf, bufcap, 3, argv, lens);
    int fd = h_conn(proxy.resp_port);
    long got;

    if (head_only) {
        n -= vlen + 2; /* the value and its CRLF */
    }
    cr_assert_eq(h_send(fd, buf, n), 0, "sending SET %s", key);
    got = h_read_replies(fd, 1, out, cap - 1, 10000);
    cr_assert_gt(got, 0, "no reply to SET %s of %zu bytes", key, vlen);
    out[got] = '\0';
    *closed = h_wait_closed(fd, 2000);
    close(fd);
    free(buf);
}

static void
resp_set(const char *key, const char *v, size_t vlen, char *out, size_t cap,
         int *closed)
{
    resp_set_sent(key, v, vlen, out, cap, closed, 0);
}

/* ---- max_memory ---- */

#define VALUES 200
#define VALUE_LEN (256 << 10)
#define MAX_MEMORY (8L << 20)
#define ENTRY_MAX (VALUE_LEN + 8192) /* a footprint: value, key, overhead */
#define RSS_MARGIN_KIB 8192          /* see the test */

static char *
nth_value(int i)
{
    return pattern(VALUE_LEN, (unsigned)i + 1);
}

Test(limits, max_memory_bounds_the_cache_and_every_answer_is_exact)
{
    char path[32], key[32];
    double mem, entries, by_memory, by_capacity;
    long rss0, rss1;
    char *v;
    int fd, i;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\nmax_memory = 8mb\n"
                                "capacity = 100000\n",
                         .admin = 1));
    for (i = 0; i < VALUES; i++) {
        snprintf(key, sizeof(key), "v:%03d", i);
        v = nth_value(i);
        h_set_bytes(&redis, key, v, VALUE_LEN);
        free(v);
    }
    v = nth_value(VALUES);
    h_set_bytes(&redis, "warm", v, VALUE_LEN);
    fd = h_conn(proxy.http_port);
    /* One value of the size first: the buffers a fill of it uses exist
     * before the baseline. */
    expect_value_on(fd, "/warm", v, "MISS");
    free(v);
    rss0 = h_proc_rss_kib(proxy.pid);

    for (i = 0; i < VALUES; i++) {
        snprintf(path, sizeof(path), "/v:%03d", i);
        v = nth_value(i);
        expect_value_on(fd, path, v, "MISS");
        free(v);
        if (i % 20 == 19) {
            mem = h_metric(&proxy, P "cache_memory_bytes");
            cr_assert_leq(mem, MAX_MEMORY,
                          "after %d values the cache holds "
                          "%g bytes",
                          i + 1, mem);
        }
    }
    rss1 = h_proc_rss_kib(proxy.pid);
    mem = h_metric(&proxy, P "cache_memory_bytes");
    entries = h_metric(&proxy, P "cache_entries");
    by_memory = h_metric(&proxy, P "cache_evictions_total{reason=\"memory\"}");
    by_capacity =
        h_metric(&proxy, P "cache_evictions_total{reason=\"capacity\"}");
    /* Full up to the limit, not past it, and by the limit's own count. */
    cr_assert_leq(mem, MAX_MEMORY);
    cr_assert_gt(mem, MAX_MEMORY - ENTRY_MAX, "only %g bytes held", mem);
    cr_assert_eq(h_metric(&proxy, P "cache_max_memory_bytes"), MAX_MEMORY);
    cr_assert_eq(by_capacity, 0);
    cr_assert_gt(by_memory, 0);
    cr_assert_eq(entries + by_memory, VALUES + 1,
                 "%g entries and %g evictions of %d values", entries, by_memory,
                 VALUES + 1);
    cr_assert_eq(h_metric(&proxy, P "cache_bytes"), entries * (5 + VALUE_LEN),
                 "the entries held are not the newest values");
    /* The process: the cache's bytes, plus what malloc keeps of evicted
     * entries for reuse (each worker thread allocates from an arena of its
     * own, and an arena reuses only what was freed into it: with one arena,
     * MALLOC_ARENA_MAX=1, the growth is the cache's bytes and well under a
     * MiB more) and the reply buffer each pooled Redis connection that
     * carried a value keeps (twice a value). A cache that kept evicted
     * entries, or no byte limit, would grow by the 50 MiB fetched. (A
     * sanitizer build's VmRSS is mostly shadow memory and quarantine: not
     * checked.) */
    if (!h_proc_sanitized(proxy.pid)) {
        cr_assert_leq(rss1 - rss0, MAX_MEMORY / 1024 + RSS_MARGIN_KIB,
                      "VmRSS grew from %ld to %ld KiB", rss0, rss1);
    }

    /* The least recently used went: the newest is a hit, the first a miss. */
    snprintf(path, sizeof(path), "/v:%03d", VALUES - 1);
    v = nth_value(VALUES - 1);
    expect_value_on(fd, path, v, "HIT");
    free(v);
    v = nth_value(0);
    expect_value_on(fd, "/v:000", v, "MISS");
    free(v);
    close(fd);
}

/* ---- max_value_size ---- */

#define MAX_VALUE (64 << 10)

Test(limits, value_over_max_value_size_is_fetched_from_redis_every_time)
{
    char *over = pattern(MAX_VALUE + 1, 1), *edge = pattern(MAX_VALUE, 2);
    char *out = malloc(MAX_VALUE + 16);
    redisContext *rc;
    long gets;
    int fd, i;

    cr_assert_not_null(out);
    h_start_proxy(
        &proxy, &redis,
        H_OPTS(.ini = "[cache]\nmax_value_size = 64kb\n", .admin = 1));
    h_set_bytes(&redis, "over", over, MAX_VALUE + 1);
    h_set_bytes(&redis, "edge", edge, MAX_VALUE);
    gets = h_redis_calls(&redis, "get");
    fd = h_conn(proxy.http_port);
    rc = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(rc);
    for (i = 0; i < 5; i++) {
        expect_value_on(fd, "/over", over, "MISS");
    }
    for (i = 0; i < 5; i++) {
        cr_assert_eq(h_resp_get(rc, "over", out, MAX_VALUE + 16), 1);
        cr_assert_str_eq(out, over, "RESP GET over, time %d", i);
    }
    cr_assert_eq(h_redis_calls(&redis, "get"), gets + 10,
                 "Redis did not count one GET per request");
    cr_assert_eq(h_metric(&proxy, P "cache_oversize_total"), 10);
    cr_assert_eq(h_metric(&proxy, P "cache_entries"), 0);

    /* Exactly max_value_size is cached: one GET for all of these. */
    expect_value_on(fd, "/edge", edge, "MISS");
    expect_value_on(fd, "/edge", edge, "HIT");
    cr_assert_eq(h_resp_get(rc, "edge", out, MAX_VALUE + 16), 1);
    cr_assert_str_eq(out, edge);
    cr_assert_eq(h_redis_calls(&redis, "get"), gets + 11);
    cr_assert_eq(h_metric(&proxy, P "cache_oversize_total"), 10);
    cr_assert_eq(h_metric(&proxy, P "cache_entries"), 1);
    redisFree(rc);
    close(fd);
    free(over);
    free(edge);
    free(out);
}

/* ---- max_request ---- */

#define BIG_SET (10 << 20)

Test(limits, ten_mib_set_through_resp_is_stored_exactly)
{
    char *v = pattern(BIG_SET, 5), reply[64];
    redisContext *c;
    redisReply *rep;
    int closed;

    h_start_proxy(&proxy, &redis, NULL);
    resp_set("huge", v, BIG_SET, reply, sizeof(reply), &closed);
    cr_assert_str_eq(reply, "+OK\r\n");
    cr_assert_not(closed, "the proxy closed the connection after the SET");
    c = h_redis_ctx(&redis);
    cr_assert_not_null(c);
    rep = redisCommand(c, "GET huge");
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STRING);
    cr_assert_eq(rep->len, BIG_SET, "Redis holds %zu bytes", (size_t)rep->len);
    cr_assert_eq(memcmp(rep->str, v, BIG_SET), 0, "Redis holds other bytes");
    freeReplyObject(rep);
    redisFree(c);
    cr_assert_eq(h_redis_calls(&redis, "set"), 1);
    free(v);
}

Test(limits, set_over_max_request_is_a_protocol_error_and_closes)
{
    const size_t max = 1 << 20;
    char *v = pattern(max + 1, 6), reply[128];
    redisContext *c;
    redisReply *rep;
    int closed;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nmax_request = 1mb\n"));
    resp_set_sent("over", v, max + 1, reply, sizeof(reply), &closed, 1);
    cr_assert_str_eq(reply, "-ERR Protocol error: invalid bulk length\r\n");
    cr_assert(closed, "the connection stayed open after the protocol error");
    /* Every bulk counts: "SET" and "k" take 4 of the limit's bytes. */
    resp_set_sent("k", v, max - 4 + 1, reply, sizeof(reply), &closed, 1);
    cr_assert_str_eq(reply, "-ERR Protocol error: invalid bulk length\r\n");
    cr_assert(closed);
    cr_assert_eq(h_redis_calls(&redis, "set"), 0,
                 "a refused SET reached Redis");
    resp_set("k", v, max - 4, reply, sizeof(reply), &closed);
    cr_assert_str_eq(reply, "+OK\r\n");
    cr_assert_not(closed);
    c = h_redis_ctx(&redis);
    cr_assert_not_null(c);
    rep = redisCommand(c, "STRLEN k");
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_INTEGER);
    cr_assert_eq(rep->integer, (long long)(max - 4));
    freeReplyObject(rep);
    rep = redisCommand(c, "EXISTS over");
    cr_assert(rep != NULL && rep->type == REDIS_REPLY_INTEGER);
    cr_assert_eq(rep->integer, 0);
    freeReplyObject(rep);
    redisFree(c);
    free(v);
}
