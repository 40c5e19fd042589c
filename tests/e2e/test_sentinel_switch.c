/*
 * End-to-end tests of a change of master the proxy hears of only when the
 * test says (a scripted sentinel, harness_sentinel.h, names redis-server A
 * or B), so the interleavings Sentinel leaves to chance are forced:
 *   - a switch drops what was cached from the old master, even while the
 *     old one is alive and keeps its values (the new master's stream never
 *     saw them read);
 *   - a write sent to a master demoted meanwhile (A made a replica of B
 *     before the sentinel names B) is refused by Redis with -READONLY; the
 *     client never sees that: the write waits, the proxy asks the sentinel
 *     again at once, and once B is named (+switch-master) it is sent to B
 *     and answered +OK, applied once;
 *   - no new master named: the write gets the failover error after
 *     FAILOVER_WAIT_MS, never -READONLY, and is not applied anywhere;
 *   - two writes pipelined on one connection, both refused: the first,
 *     with a later command of its client behind it, gets the failover
 *     error (sending it after would change the order); the last one is
 *     sent to the new master.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_cluster.h"
#include "harness_sentinel.h"

static struct h_redis a, b;
static struct h_fakesent fake;
static struct h_proxy proxy;

static void
setup(void)
{
    char port[16];

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&proxy, 0, sizeof(proxy));
    memset(&fake, 0, sizeof(fake));
    cr_assert_eq(h_redis_start(&a, 0, NULL), 0);
    snprintf(port, sizeof(port), "%d", a.port);
    cr_assert_eq(h_redis_start(&b, 0,
                               (const char *const[]){"--replicaof", "127.0.0.1",
                                                     port, NULL}),
                 0);
    cr_assert_eq(h_fakesent_start(&fake, a.port), 0);
}

static void
teardown(void)
{
    h_proxy_stop(&proxy, NULL, 0);
    h_fakesent_stop(&fake);
    h_redis_stop(&b);
    h_redis_stop(&a);
}

TestSuite(sentinel_switch, .init = setup, .fini = teardown, .timeout = 60);

static void
start_proxy(void)
{
    char ini[256];

    snprintf(ini, sizeof(ini),
             "[redis]\nsentinels = 127.0.0.1:%d\nmaster_name = %s\n"
             "[http]\nwrites = on\n",
             fake.port, H_SENT_NAME);
    h_start_proxy(&proxy, &a, H_OPTS(.ini = ini, .admin = 1));
    h_proxy_serving(&proxy); /* the sentinel asked: A is the master */
}

/* B becomes a master; with demote, A replicates it (and so refuses
 * writes with -READONLY). */
static void
promote_b(int demote)
{
    char port[16];

    cr_assert_eq(h_redis_cmd(&b, "REPLICAOF NO ONE"), 0);
    if (demote) {
        snprintf(port, sizeof(port), "%d", b.port);
        cr_assert_eq(h_redis_cmd(&a, "REPLICAOF 127.0.0.1 %s", port), 0);
    }
}

/* The value of key in r directly, into out. */
static void
direct_get(const struct h_redis *r, const char *key, char *out, size_t cap)
{
    redisContext *c = h_redis_ctx(r);

    cr_assert_not_null(c);
    cr_assert_geq(h_resp_get(c, key, out, cap), 0, "%s", out);
    redisFree(c);
}

static int
proxy_on_b(void *arg)
{
    char series[160], *text;
    double v;

    (void)arg;
    text = h_scrape(&proxy);
    snprintf(series, sizeof(series),
             "redis_proxy_sentinel_master_info{name=\"%s\","
             "master=\"127.0.0.1:%d\"}",
             H_SENT_NAME, b.port);
    v = h_prom_value(text, series);
    free(text);
    return v == 1;
}

/* A RESP write on its own thread (it waits while the proxy does). */
struct writer {
    pthread_t thread;
    int fd;
    const char *key, *val;
    char reply[512];
    long len;
};

static void *
writer_main(void *arg)
{
    struct writer *w = arg;

    h_send_argv(w->fd, (const char *const[]){"SET", w->key, w->val, NULL});
    w->len = h_read_replies(w->fd, 1, w->reply, sizeof(w->reply), 8000);
    return NULL;
}

static void
writer_start(struct writer *w, const char *key, const char *val)
{
    memset(w, 0, sizeof(*w));
    w->fd = h_conn(proxy.resp_port);
    w->key = key;
    w->val = val;
    cr_assert_eq(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

/* Waits until n writes refused as -READONLY wait for a new master, and
 * the proxy asked the sentinel again since `before`. */
static void
await_refused(int n, long before)
{
    int64_t end = h_now_ms() + 3000;

    cr_assert_eq(
        h_await_metric(&proxy, "redis_proxy_readonly_waiting", n, 3000), n,
        "the write was not refused as READONLY and held");
    while (h_fakesent_asks(&fake) <= before && h_now_ms() < end) {
        h_sleep_ms(5);
    }
    cr_assert_gt(h_fakesent_asks(&fake), before,
                 "the refused write did not make the proxy ask again");
}

Test(sentinel_switch, a_switch_drops_what_was_cached_from_the_old_master)
{
    start_proxy();
    h_set(&a, "k", "from-a");
    h_expect_get(proxy.http_port, "/k", 200, "from-a", "MISS");
    h_expect_get(proxy.http_port, "/k", 200, "from-a", "HIT");
    /* A split brain: B a master of its own, A alive and unchanged. */
    promote_b(0);
    h_set(&b, "k", "from-b");
    h_fakesent_set(&fake, b.port, 1);
    cr_assert(h_wait_until(3000, proxy_on_b, NULL), "no switch to B");
    h_expect_get(proxy.http_port, "/k", 200, "from-b", "MISS");
    /* And B's stream covers what was read from it since. */
    h_set(&b, "k", "again-b");
    h_cl_await_http(&proxy, "k", "again-b", "from-b", 1000, NULL, 0);
}

Test(sentinel_switch, a_write_refused_as_readonly_goes_to_the_new_master)
{
    struct writer w;
    char got[64];
    long asks;

    start_proxy();
    promote_b(1);
    asks = h_fakesent_asks(&fake);
    writer_start(&w, "k", "v1");
    await_refused(1, asks);
    h_fakesent_set(&fake, b.port, 1);
    pthread_join(w.thread, NULL);
    close(w.fd);
    cr_assert_str_eq(w.reply, "+OK\r\n", "the write got %s", w.reply);
    direct_get(&b, "k", got, sizeof(got));
    cr_expect_str_eq(got, "v1");
    cr_expect_eq(h_metric(&proxy, "redis_proxy_readonly_refused_total{outcome="
                                  "\"rerouted\"}"),
                 1);
}

Test(sentinel_switch, a_write_refused_with_no_new_master_gets_the_error)
{
    static const char want[] =
        "-ERR the master changed (failover): the master answered as a "
        "replica (READONLY) and the sentinels named no other within 3000 "
        "ms; not run\r\n";
    struct writer w;
    struct h_resp r = {0};
    int fd;
    char got[64];

    start_proxy();
    promote_b(1);
    writer_start(&w, "k", "v1");
    pthread_join(w.thread, NULL);
    close(w.fd);
    cr_assert_str_eq(w.reply, want);
    direct_get(&b, "k", got, sizeof(got));
    cr_expect_str_eq(got, "(nil)", "the refused write was applied");
    /* HTTP writes too: 503 with the reason, never Redis's READONLY. */
    fd = h_conn(proxy.http_port);
    cr_assert_eq(h_http_do(fd, "PUT", "/k", NULL, "v2", 2, &r, 8000), 0);
    cr_expect_eq(r.status, 503);
    cr_expect(r.body != NULL &&
                  strstr(r.body, "READONLY) and the sentinels") != NULL,
              "%s", r.body != NULL ? r.body : "");
    h_resp_free(&r);
    close(fd);
    cr_expect_eq(h_metric(&proxy, "redis_proxy_readonly_refused_total{outcome="
                                  "\"failed\"}"),
                 2);
}

Test(sentinel_switch, pipelined_writes_refused_keep_their_order)
{
    char req[256], buf[1024], got[64];
    size_t n = 0;
    long asks;
    int fd;

    start_proxy();
    promote_b(1);
    asks = h_fakesent_asks(&fake);
    fd = h_conn(proxy.resp_port);
    n += H_CMD(req + n, sizeof(req) - n, "SET", "first", "1");
    n += H_CMD(req + n, sizeof(req) - n, "SET", "second", "2");
    cr_assert_eq(h_send(fd, req, n), 0);
    await_refused(2, asks);
    h_fakesent_set(&fake, b.port, 1);
    cr_assert_gt(h_read_replies(fd, 2, buf, sizeof(buf), 8000), 0);
    cr_expect_str_eq(buf,
                     "-ERR the master changed (failover): not run (the old "
                     "master refused it), and not sent again since commands "
                     "of this connection after it are on their way\r\n"
                     "+OK\r\n");
    close(fd);
    direct_get(&b, "first", got, sizeof(got));
    cr_expect_str_eq(got, "(nil)");
    direct_get(&b, "second", got, sizeof(got));
    cr_expect_str_eq(got, "2");
}
