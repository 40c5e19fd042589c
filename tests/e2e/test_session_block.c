/*
 * End-to-end tests of sessions that wait on Redis: with two workers, 20
 * clients blocked in BLPOP and 20 subscribed to a channel hold no worker,
 * so ordinary GETs are answered while all 40 still wait (Redis's own
 * counts say so after the GETs, and none of the 40 has been answered); one
 * RPUSH then wakes exactly one BLPOP client and one PUBLISH reaches all 20
 * subscribers. And pub/sub's replies, byte for byte against a second
 * redis-server.
 */
#include <criterion/criterion.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define REPLY_MS 3000
#define WAITERS 20 /* BLPOP clients, and as many subscribers */

static struct h_redis redis, twin;
static struct h_proxy proxy;

static void
setup(void)
{
    memset(&twin, 0, sizeof(twin));
    h_pair_setup(&redis, &proxy);
}

static void
teardown(void)
{
    h_pair_teardown(&redis, &proxy);
    h_redis_stop(&twin);
}

TestSuite(session_block, .init = setup, .fini = teardown, .timeout = 60);

/* One command sent, one exact reply read (harness.h). */
#define SEND H_SEND
#define EXPECT H_EXPECT

/* How many of fds[0..n) have something to read (or closed) after
 * waiting up to ms for the first. */
static int
readable(const int *fds, int n, int ms)
{
    struct pollfd pfd[2 * WAITERS];
    int got = 0;

    cr_assert_leq(n, 2 * WAITERS);
    for (int i = 0; i < n; i++) {
        pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    }
    if (poll(pfd, (nfds_t)n, ms) <= 0) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        got += pfd[i].revents != 0;
    }
    return got;
}

/* The subscriber count of channel ch in Redis (PUBSUB NUMSUB). */
static long long
numsub(const char *ch)
{
    redisContext *c = h_redis_ctx(&redis);
    redisReply *r;
    long long n = -1;

    cr_assert_not_null(c);
    r = redisCommand(c, "PUBSUB NUMSUB %s", ch);
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_INTEGER) {
        n = r->element[1]->integer;
    }
    freeReplyObject(r);
    redisFree(c);
    return n;
}

struct counts {
    long blocked;
    long long subscribed;
};

static int
counts_are(void *arg)
{
    const struct counts *want = arg;

    return h_redis_info(&redis, "clients", "blocked_clients") ==
               want->blocked &&
           numsub("ch") == want->subscribed;
}

Test(session_block, gets_are_answered_while_forty_clients_wait_on_redis)
{
    static const char msg[] = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\n"
                              "hello\r\n";
    int waiters[2 * WAITERS], *blpop = waiters, *subs = waiters + WAITERS;
    struct counts all = {WAITERS, WAITERS}, one_less = {WAITERS - 1, WAITERS};
    struct h_resp hr = {0};
    char path[32], val[32], want[64];
    int c, h, woken = -1;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nworkers = 2\n", .admin = 1));
    for (int i = 0; i < 10; i++) {
        snprintf(path, sizeof(path), "g%d", i);
        snprintf(val, sizeof(val), "value%d", i);
        h_set(&redis, path, val);
    }
    for (int i = 0; i < WAITERS; i++) {
        blpop[i] = h_conn(proxy.resp_port);
        SEND(blpop[i], "BLPOP", "q", "0");
        subs[i] = h_conn(proxy.resp_port);
        SEND(subs[i], "SUBSCRIBE", "ch");
        EXPECT(subs[i], "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    }
    cr_assert(h_wait_until(5000, counts_are, &all),
              "Redis does not see %d blocked and %d subscribed clients",
              WAITERS, WAITERS);

    /* GETs, hits and misses, over RESP and HTTP, on two workers */
    c = h_conn(proxy.resp_port);
    h = h_conn(proxy.http_port);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 10; i++) {
            snprintf(path, sizeof(path), "g%d", i);
            snprintf(val, sizeof(val), "value%d", i);
            SEND(c, "GET", path);
            snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(val), val);
            EXPECT(c, want);
            snprintf(path, sizeof(path), "/g%d", i);
            cr_assert_eq(h_http_get_on(h, path, &hr, REPLY_MS), 0, "%s", path);
            h_check(&hr, path, 200, val, "HIT");
            h_resp_free(&hr);
        }
    }
    /* ... while all 40 were still waiting, and none was answered */
    cr_assert(counts_are(&all), "a waiting client stopped waiting");
    cr_assert_eq(readable(waiters, 2 * WAITERS, 0), 0,
                 "a waiting client was answered");
    cr_assert_eq(h_metric(&proxy, "redis_proxy_sessions_open"), 2 * WAITERS);

    /* one element wakes exactly one BLPOP */
    SEND(c, "RPUSH", "q", "x");
    EXPECT(c, ":1\r\n");
    cr_assert_eq(readable(blpop, WAITERS, REPLY_MS), 1, "no BLPOP woke");
    for (int i = 0; i < WAITERS; i++) {
        if (readable(&blpop[i], 1, 0)) {
            woken = i;
        }
    }
    EXPECT(blpop[woken], "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    cr_assert(h_wait_until(2000, counts_are, &one_less),
              "Redis still counts %ld blocked clients",
              h_redis_info(&redis, "clients", "blocked_clients"));
    cr_assert_eq(readable(blpop, WAITERS, 200), 0, "another BLPOP woke");

    /* one PUBLISH reaches all 20 */
    SEND(c, "PUBLISH", "ch", "hello");
    EXPECT(c, ":20\r\n");
    for (int i = 0; i < WAITERS; i++) {
        EXPECT(subs[i], msg);
    }

    /* the other 19 are still served, one element each */
    SEND(c, "RPUSH", "q", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10",
         "11", "12", "13", "14", "15", "16", "17", "18", "19");
    EXPECT(c, ":19\r\n");
    for (int i = 0; i < WAITERS; i++) {
        char got[64];

        if (i == woken) {
            continue;
        }
        cr_assert_gt(h_read_replies(blpop[i], 1, got, sizeof(got), REPLY_MS), 0,
                     "BLPOP client %d was not woken", i);
        cr_assert_eq(strncmp(got, "*2\r\n$1\r\nq\r\n$", 12), 0, "%d: %s", i,
                     got);
    }
    SEND(c, "LLEN", "q");
    EXPECT(c, ":0\r\n");
    for (int i = 0; i < 2 * WAITERS; i++) {
        close(waiters[i]);
    }
    close(c);
    close(h);
}

/* ---- pub/sub replies against the twin ---- */

Test(session_block, pubsub_replies_match_redis_byte_for_byte)
{
    char out[4096], req[1024];
    int rfd, pfd, rpub, ppub;
    size_t n;

    cr_assert_eq(h_redis_start(&twin, 0, NULL), 0, "twin did not start");
    h_start_proxy(&proxy, &redis, NULL);
    rfd = h_conn(twin.port);
    pfd = h_conn(proxy.resp_port);
    rpub = h_conn(twin.port);
    ppub = h_conn(proxy.resp_port);

    n = H_CMD(req, sizeof(req), "SUBSCRIBE", "c1", "c2");
    h_expect_same_on(rfd, pfd, req, n, 2, "SUBSCRIBE c1 c2", out, sizeof(out));
    n = H_CMD(req, sizeof(req), "PSUBSCRIBE", "p*");
    h_expect_same_on(rfd, pfd, req, n, 1, "PSUBSCRIBE", out, sizeof(out));
    cr_assert_str_eq(out, "*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n");
    /* a message on each side, published by another client */
    n = H_CMD(req, sizeof(req), "PUBLISH", "c2", "m1");
    h_expect_same_on(rpub, ppub, req, n, 1, "PUBLISH c2", out, sizeof(out));
    cr_assert_str_eq(out, ":1\r\n");
    h_expect_same_on(rfd, pfd, "", 0, 1, "message", out, sizeof(out));
    n = H_CMD(req, sizeof(req), "PUBLISH", "px", "m2");
    h_expect_same_on(rpub, ppub, req, n, 1, "PUBLISH px", NULL, 0);
    h_expect_same_on(rfd, pfd, "", 0, 1, "pmessage", out, sizeof(out));
    cr_assert_str_eq(out, "*4\r\n$8\r\npmessage\r\n$2\r\np*\r\n$2\r\npx\r\n"
                          "$2\r\nm2\r\n");
    /* what a subscribed RESP2 client may send */
    n = H_CMD(req, sizeof(req), "PING");
    h_expect_same_on(rfd, pfd, req, n, 1, "PING", out, sizeof(out));
    cr_assert_str_eq(out, "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    n = H_CMD(req, sizeof(req), "GET", "x");
    h_expect_same_on(rfd, pfd, req, n, 1, "GET while subscribed", NULL, 0);
    n = H_CMD(req, sizeof(req), "UNSUBSCRIBE", "c1", "c2");
    h_expect_same_on(rfd, pfd, req, n, 2, "UNSUBSCRIBE", NULL, 0);
    n = H_CMD(req, sizeof(req), "PUNSUBSCRIBE", "p*");
    h_expect_same_on(rfd, pfd, req, n, 1, "PUNSUBSCRIBE", out, sizeof(out));
    cr_assert_str_eq(out, "*3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n");
    /* out of pub/sub: ordinary replies again */
    n = H_CMD(req, sizeof(req), "GET", "x");
    h_expect_same_on(rfd, pfd, req, n, 1, "GET after", out, sizeof(out));
    cr_assert_str_eq(out, "$-1\r\n");
    close(rfd);
    close(pfd);
    close(rpub);
    close(ppub);
}

/* blocked_clients in Redis is want. */
static int
blocked_is(void *arg)
{
    return h_redis_info(&redis, "clients", "blocked_clients") == *(long *)arg;
}

/* The id the proxy gives the client on fd (CLIENT ID). */
static long long
client_id_of(int fd)
{
    char buf[64];
    size_t n;

    SEND(fd, "CLIENT", "ID");
    n = h_recv_all(fd, buf, sizeof(buf) - 1, REPLY_MS);
    buf[n] = '\0';
    cr_assert(n > 3 && buf[0] == ':', "CLIENT ID: %s", buf);
    return atoll(buf + 1);
}

Test(session_block, client_unblock_and_kill_name_clients_by_the_proxys_ids)
{
    long one = 1, none = 0;
    char id[24], other[24];
    int rd, r, s;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = "[server]\nworkers = 2\n"));
    rd = h_conn(proxy.resp_port);
    r = h_conn(proxy.resp_port);
    snprintf(id, sizeof(id), "%lld", client_id_of(rd));
    snprintf(other, sizeof(other), "%lld", client_id_of(r));

    /* Unblocked with a nil, with TIMEOUT, and with ERROR. */
    SEND(rd, "BLPOP", "l", "0");
    cr_assert(h_wait_until(5000, blocked_is, &one), "BLPOP not blocked");
    SEND(r, "CLIENT", "UNBLOCK", id);
    EXPECT(r, ":1\r\n");
    EXPECT(rd, "*-1\r\n");
    SEND(rd, "BLPOP", "l", "0");
    cr_assert(h_wait_until(5000, blocked_is, &one), "BLPOP not blocked");
    SEND(r, "CLIENT", "UNBLOCK", id, "ERROR");
    EXPECT(r, ":1\r\n");
    EXPECT(rd, "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");

    /* A client without a session is not blocked; a name that is no id is
     * Redis's error; the proxy's own connections are out of reach. */
    SEND(r, "CLIENT", "UNBLOCK", other);
    EXPECT(r, ":0\r\n");
    SEND(r, "CLIENT", "UNBLOCK", "asd");
    EXPECT(r, "-ERR value is not an integer or out of range\r\n");
    SEND(r, "CLIENT", "KILL", "ID", other);
    EXPECT(r, ":0\r\n");

    /* From inside a session of its own too (MULTI holds one). */
    s = h_conn(proxy.resp_port);
    SEND(s, "MULTI");
    EXPECT(s, "+OK\r\n");
    SEND(rd, "BLPOP", "l", "0");
    cr_assert(h_wait_until(5000, blocked_is, &one), "BLPOP not blocked");
    SEND(s, "CLIENT", "UNBLOCK", id);
    EXPECT(s, "+QUEUED\r\n");
    SEND(s, "EXEC");
    EXPECT(s, "*1\r\n:1\r\n");
    EXPECT(rd, "*-1\r\n");

    /* CLIENT KILL ID closes the blocked client's connection. */
    SEND(rd, "BLPOP", "l", "0");
    cr_assert(h_wait_until(5000, blocked_is, &one), "BLPOP not blocked");
    SEND(r, "CLIENT", "KILL", "ID", id);
    EXPECT(r, ":1\r\n");
    cr_assert(h_wait_closed(rd, REPLY_MS), "the killed client is open");
    cr_assert(h_wait_until(5000, blocked_is, &none), "still blocked");
    /* Everyone else goes on. */
    SEND(r, "PING");
    EXPECT(r, "+PONG\r\n");
    close(rd);
    close(r);
    close(s);
}
