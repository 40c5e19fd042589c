/*
 * End-to-end tests of clients that do not take their responses: slow
 * readers never stall the other clients (a worker never waits on a
 * client), a client that stops reading is closed by the proxy after
 * send_timeout while one that reads stays, and a client that pipelines
 * without ever reading costs bounded memory because the proxy stops
 * reading its requests (back-pressure). Against a real redis-server.
 *
 * Evidence comes from the proxy's own figures (/metrics: lookups,
 * connections_open, connections_parked), what each side's kernel holds
 * (FIONREAD on the test's socket, the proxy socket's queues in
 * /proc/net/tcp) and the order of events, not from how long things take.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define P "redis_proxy_"
#define BIG_LEN (4 << 20) /* a value far larger than any socket buffer */

H_PAIR_SUITE(hostile, 90);

/* ---- helpers ---- */

/* n bytes of a pattern (NUL-terminated, so h_check can compare it). */
static char *
pattern(size_t n, unsigned seed)
{
    char *v = malloc(n + 1);
    size_t i;

    cr_assert_not_null(v);
    for (i = 0; i < n; i++) {
        v[i] = (char)('A' + (i / 7 + seed) % 58);
    }
    v[n] = '\0';
    return v;
}

/* Bytes the kernel holds for fd to read. */
static long
unread(int fd)
{
    int n = 0;

    cr_assert_eq(ioctl(fd, FIONREAD, &n), 0);
    return n;
}

/* 1 while the peer has not closed fd (data may be waiting). */
static int
still_open(int fd)
{
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    return n == 1 || (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

static int
local_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);

    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    return ntohs(sa.sin_port);
}

/* The tx and rx queues of the established IPv4 socket lport -> rport,
 * from /proc/net/tcp. Returns 0, or -1 when there is none. */
static int
tcp_queues(int lport, int rport, long *tx, long *rx)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    int rc = -1;

    cr_assert_not_null(f);
    while (rc != 0 && fgets(line, sizeof(line), f) != NULL) {
        unsigned lp, rp, st;
        unsigned long t, r;

        if (sscanf(line, " %*u: %*x:%x %*x:%x %x %lx:%lx", &lp, &rp, &st, &t,
                   &r) == 5 &&
            st == 0x01 && (int)lp == lport && (int)rp == rport) {
            *tx = (long)t;
            *rx = (long)r;
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

/* Lookups the proxy has made (hits + misses): one per GET it parsed. */
static double
lookups(void)
{
    char *m = h_scrape(&proxy);
    double v = h_prom_value(m, P "cache_hits_total") +
               h_prom_value(m, P "cache_misses_total");

    free(m);
    return v;
}

/* n copies of req, one after another, in out; returns their length. */
static size_t
pipeline(char *out, const char *req, int n)
{
    size_t len = strlen(req);
    int i;

    for (i = 0; i < n; i++) {
        memcpy(out + (size_t)i * len, req, len);
    }
    return (size_t)n * len;
}

/* GET path on fd: 200, exactly want, X-Cache xcache. */
static void
expect_value_on(int fd, const char *path, const char *want, const char *xcache)
{
    struct h_resp r = {0};

    cr_assert_eq(h_http_get_on(fd, path, &r, 20000), 0, "GET %s", path);
    h_check(&r, path, 200, want, xcache);
    h_resp_free(&r);
}

/* ---- slow readers do not stall others ---- */

#define SLOW 6       /* 3 x workers */
#define PIPELINED 50 /* GET /big each slow reader sends */

struct unread_all {
    const int *fds;
    int n;
};

/* Every slow reader has the start of an answer waiting in its socket. */
static int
each_got_bytes(void *arg)
{
    const struct unread_all *u = arg;
    int i;

    for (i = 0; i < u->n; i++) {
        if (unread(u->fds[i]) == 0) {
            return 0;
        }
    }
    return 1;
}

/* The other client: a miss then a hit over HTTP and over RESP. */
static void
plain_client_is_answered(int hfd, redisContext *rc)
{
    char out[64];

    h_set(&redis, "plain-http", "answered over http");
    h_set(&redis, "plain-resp", "answered over resp");
    expect_value_on(hfd, "/plain-http", "answered over http", "MISS");
    expect_value_on(hfd, "/plain-http", "answered over http", "HIT");
    cr_assert_eq(h_resp_get(rc, "plain-resp", out, sizeof(out)), 1, "%s", out);
    cr_assert_str_eq(out, "answered over resp");
    cr_assert_eq(h_resp_get(rc, "plain-resp", out, sizeof(out)), 1, "%s", out);
    cr_assert_str_eq(out, "answered over resp");
}

static void
slow_readers_do_not_stall_others(int cached)
{
    char ini[256], req[PIPELINED * sizeof(H_REQ("/big"))];
    char *big = pattern(BIG_LEN, 1);
    const char *xcache = cached ? "HIT" : "MISS";
    int fds[SLOW], hfd, i;
    struct unread_all u = {fds, SLOW};
    double before, served;
    redisContext *rc;
    size_t len;

    snprintf(ini, sizeof(ini),
             "[server]\nworkers = 2\nsend_timeout = 60s\n"
             "[cache]\nmax_value_size = %s\n",
             cached ? "8mb" : "1mb");
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = ini, .admin = 1));
    h_set_bytes(&redis, "big", big, BIG_LEN);
    hfd = h_conn(proxy.http_port);
    expect_value_on(hfd, "/big", big, "MISS");
    expect_value_on(hfd, "/big", big, xcache);
    close(hfd);
    before = lookups();
    len = pipeline(req, H_REQ("/big"), PIPELINED);
    for (i = 0; i < SLOW; i++) {
        fds[i] = h_conn(proxy.http_port);
        cr_assert_eq(h_send(fds[i], req, len), 0);
    }
    /* Each was answered in part, and all of them wait in the waiter with
     * output the socket would not take: no worker is theirs. */
    cr_assert(h_wait_until(10000, each_got_bytes, &u),
              "a slow reader got no answer at all");
    cr_assert_eq(h_await_metric(&proxy, P "connections_parked", SLOW, 10000),
                 SLOW, "the slow readers are not all parked");

    hfd = h_conn(proxy.http_port);
    rc = h_proxy_resp_ctx(&proxy);
    cr_assert_not_null(rc);
    plain_client_is_answered(hfd, rc);

    /* Answered while all the slow readers are still connected ... */
    cr_assert_eq(h_metric(&proxy, P "connections_open"), SLOW + 2,
                 "the slow readers (and this client) are not all open");
    served = lookups() - before - 4; /* the plain client's four */
    for (i = 0; i < SLOW; i++) {
        long got = unread(fds[i]);

        cr_assert(still_open(fds[i]), "slow reader %d was closed", i);
        /* ... and really stuck: far from all of their answers out. */
        cr_assert_lt(got, (long)PIPELINED * BIG_LEN,
                     "slow reader %d has %ld bytes: it was never stuck", i,
                     got);
    }
    cr_assert(served >= SLOW && served < SLOW * PIPELINED,
              "%g of the slow readers' %d GETs were answered", served,
              SLOW * PIPELINED);

    /* What they were not given was kept: one reader gets all of it. */
    for (i = 0; i < PIPELINED; i++) {
        struct h_resp r = {0};
        char what[64];

        snprintf(what, sizeof(what), "slow reader 0, response %d", i);
        cr_assert_eq(h_read_resp(fds[0], &r, 0, 20000), 0, "%s", what);
        h_check(&r, what, 200, big, xcache);
        h_resp_free(&r);
    }
    for (i = 0; i < SLOW; i++) {
        close(fds[i]);
    }
    redisFree(rc);
    close(hfd);
    free(big);
}

Test(hostile, slow_readers_of_a_cached_value_do_not_stall_other_clients)
{
    slow_readers_do_not_stall_others(1);
}

Test(hostile, slow_readers_of_an_uncached_value_do_not_stall_other_clients)
{
    slow_readers_do_not_stall_others(0);
}

/* A client that sends all its requests, says it is done (FIN) and only
 * then reads: every answer the output held back still comes, then EOF.
 * Each answer is just over CONN_OUT_HIGH, so the output is over the mark
 * after every one, and the socket, read at once, can take each whole. */
Test(hostile, half_closed_client_gets_every_answer_the_output_held_back)
{
    enum { N = 200, LEN = 96 << 10 };
    char req[N * sizeof(H_REQ("/v"))], *v = pattern(LEN, 4);
    size_t len;
    int fd, i;

    h_start_proxy(&proxy, &redis, NULL);
    h_set_bytes(&redis, "v", v, LEN);
    len = pipeline(req, H_REQ("/v"), N);
    fd = h_conn(proxy.http_port);
    cr_assert_eq(h_send(fd, req, len), 0);
    cr_assert_eq(shutdown(fd, SHUT_WR), 0);
    for (i = 0; i < N; i++) {
        struct h_resp r = {0};
        char what[32];

        snprintf(what, sizeof(what), "response %d", i);
        cr_assert_eq(h_read_resp(fd, &r, 0, 10000), 0, "%s", what);
        h_check(&r, what, 200, v, i == 0 ? "MISS" : "HIT");
        h_resp_free(&r);
    }
    cr_assert(h_wait_closed(fd, 5000), "not closed after the last answer");
    close(fd);
    free(v);
}

/* ---- send_timeout ---- */

#define SEND_TIMEOUT_MS 1000
#define STALLED_GETS 8 /* 32 MiB of answers: more than the sockets hold */

/* Reads fd until the peer closes it; returns the bytes read, *how = 0 for
 * EOF, ECONNRESET for a reset, -1 when still open after timeout_ms. */
static long
drain(int fd, int *how, int timeout_ms)
{
    char *buf = malloc(1 << 16);
    int64_t deadline = h_now_ms() + timeout_ms;
    long total = 0;

    cr_assert_not_null(buf);
    *how = -1;
    while (h_readable(&fd, 1, (int)(deadline - h_now_ms())) != 0) {
        ssize_t n = recv(fd, buf, 1 << 16, MSG_DONTWAIT);

        if (n > 0) {
            total += n;
        } else if (n == 0 || errno == ECONNRESET) {
            *how = n == 0 ? 0 : ECONNRESET;
            break;
        } else if (errno != EAGAIN && errno != EINTR) {
            cr_assert_fail("recv: %s", strerror(errno));
        }
    }
    free(buf);
    return total;
}

Test(hostile, client_that_stops_reading_is_closed_after_send_timeout)
{
    char req[STALLED_GETS * sizeof(H_REQ("/big"))], *log;
    char *big = pattern(BIG_LEN, 2);
    int reader, slow, how, open_seen = 0;
    int64_t t0, closed_at = 0;
    size_t len;
    long got;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nsend_timeout = 1s\n"
                                "[cache]\nmax_value_size = 8mb\n"
                                "[log]\nlevel = debug\n",
                         .admin = 1));
    h_set_bytes(&redis, "big", big, BIG_LEN);
    reader = h_conn(proxy.http_port);
    expect_value_on(reader, "/big", big, "MISS");
    len = pipeline(req, H_REQ("/big"), STALLED_GETS);
    slow = h_conn(proxy.http_port);
    /* The proxy cannot have stalled on this client before it asked. */
    t0 = h_now_ms();
    cr_assert_eq(h_send(slow, req, len), 0);
    while (closed_at == 0 && h_now_ms() < t0 + SEND_TIMEOUT_MS + 10000) {
        double open = h_metric(&proxy, P "connections_open");

        if (open == 1) {
            closed_at = h_now_ms(); /* the close came before this */
            break;
        }
        cr_assert_eq(open, 2, "connections_open %g", open);
        open_seen++;
        /* A client that reads is served all along, however big. */
        expect_value_on(reader, "/big", big, "HIT");
    }
    cr_assert_neq(closed_at, 0, "the stalled client was never closed");
    cr_assert_geq(closed_at - t0, SEND_TIMEOUT_MS,
                  "closed %lld ms after its requests (seen open %d times), "
                  "before send_timeout",
                  (long long)(closed_at - t0), open_seen);
    /* The proxy closed it, this side never did: what it had been sent is
     * there to read, then the end of the stream. */
    got = drain(slow, &how, 5000);
    cr_assert_neq(how, -1, "the stalled client's socket is still open");
    cr_assert(got > 0 && got < (long)STALLED_GETS * BIG_LEN,
              "the stalled client read %ld bytes", got);
    close(slow);

    /* The reader was not closed: it goes on on the same connection. */
    expect_value_on(reader, "/big", big, "HIT");
    cr_assert_eq(h_metric(&proxy, P "connections_open"), 1);
    log = malloc(1 << 20);
    cr_assert_not_null(log);
    h_proxy_read_log(&proxy, log, 1 << 20);
    cr_assert_eq(h_count_lines(log, "msg=\"connection timed out\""), 1,
                 "want exactly one connection closed for its deadline:\n%s",
                 log);
    free(log);
    close(reader);
    free(big);
}

/* ---- a client that never reads ---- */

#define FLOOD_REQ H_REQ("/k")
#define FLOOD_MAX (100L << 20) /* bytes of requests tried at most */
#define VALUE_LEN 4096
#define RSS_SLACK_KIB 4096 /* see the test */

/* What a stalled flood leaves in the proxy and in both sockets. */
struct flood {
    long lookups, proxy_tx, proxy_rx, client_tx, client_rx;
};

struct flood_watch {
    int proxy_port, client_port, fd; /* the flood's connection */
    struct flood last;
};

/* Returns 1 once two looks 300 ms apart agree (nothing moves any more),
 * with the figures in w->last. */
static int
flood_settled(void *arg)
{
    struct flood_watch *w = arg;
    struct flood now;

    now.lookups = (long)lookups();
    cr_assert_eq(
        tcp_queues(w->proxy_port, w->client_port, &now.proxy_tx, &now.proxy_rx),
        0, "no proxy socket for the flood");
    cr_assert_eq(tcp_queues(w->client_port, w->proxy_port, &now.client_tx,
                            &now.client_rx),
                 0, "no client socket for the flood");
    if (memcmp(&now, &w->last, sizeof(now)) == 0) {
        return 1;
    }
    w->last = now;
    h_sleep_ms(300);
    return 0;
}

Test(hostile, client_pipelining_without_reading_costs_bounded_memory)
{
    const size_t rlen = sizeof(FLOOD_REQ) - 1;
    char *value = pattern(VALUE_LEN, 3), *chunk;
    size_t nreq = 65536 / rlen, off = 0, i;
    struct flood_watch w = {.last = {-1, -1, -1, -1, -1}};
    long rss0, rss1, sent = 0, eagain = 0, answered, resp_len, emitted;
    struct h_resp r = {0};
    int fd, blocked = 0;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nsend_timeout = 60s\n", .admin = 1));
    h_set_bytes(&redis, "k", value, VALUE_LEN);
    fd = h_conn(proxy.http_port);
    expect_value_on(fd, "/k", value, "MISS");
    cr_assert_eq(h_http_get_on(fd, "/k", &r, 5000), 0);
    h_check(&r, "/k", 200, value, "HIT");
    resp_len = (long)(strlen(r.headers) + r.body_len); /* a hit's answer */
    h_resp_free(&r);
    close(fd);
    rss0 = h_proc_rss_kib(proxy.pid);

    chunk = malloc(nreq * rlen);
    cr_assert_not_null(chunk);
    for (i = 0; i < nreq; i++) {
        memcpy(chunk + i * rlen, FLOOD_REQ, rlen);
    }
    fd = h_conn(proxy.http_port);
    cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    while (sent < FLOOD_MAX) {
        ssize_t n = send(fd, chunk + off, nreq * rlen - off, MSG_NOSIGNAL);
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};

        if (n > 0) {
            sent += n;
            off = (off + (size_t)n) % (nreq * rlen);
            continue;
        }
        cr_assert(n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK),
                  "send: %s", strerror(errno));
        eagain++;
        if (poll(&pfd, 1, 1000) == 0) {
            blocked = 1; /* a second without room: nobody reads */
            break;
        }
    }
    cr_assert(blocked, "the proxy read all %ld bytes of requests", sent);
    cr_assert_gt(eagain, 0);

    w.proxy_port = proxy.http_port;
    w.client_port = local_port(fd);
    w.fd = fd;
    cr_assert(h_wait_until(20000, flood_settled, &w),
              "the proxy never settled");
    rss1 = h_proc_rss_kib(proxy.pid);
    /* The proxy stopped reading: its socket holds requests it leaves
     * there, and more wait in this side's, which it cannot deliver. */
    cr_assert_gt(w.last.proxy_rx, 0, "the proxy read every request sent");
    cr_assert_gt(w.last.client_tx, 0, "every request sent was delivered");
    /* It answered only what the sockets took plus the output it queues
     * before it stops parsing: more than CONN_OUT_HIGH (64 KiB), by at
     * most one answer. Answers differ in length by a digit or two of Age
     * and max-age at most. */
    answered = w.last.lookups - 2;
    emitted = w.last.proxy_tx + w.last.client_rx;
    cr_assert_lt(answered, sent / (long)rlen);
    cr_assert_gt(answered * (resp_len + 2) - emitted, 65536,
                 "%ld answers of %ld bytes, %ld bytes out: the proxy holds "
                 "too little to have stopped parsing",
                 answered, resp_len, emitted);
    cr_assert_leq(answered * (resp_len - 2) - emitted, 65536 + resp_len + 2,
                  "%ld answers of %ld bytes, %ld bytes out: the proxy holds "
                  "more than its high-water mark",
                  answered, resp_len, emitted);
    /* Its memory: the conn's buffers and that queued output are about
     * 100 KiB; the rest of the slack is for the malloc arenas of the
     * workers that served it. Without back-pressure on the output, every
     * 29-byte request sent would have queued a 4 KiB answer. (A sanitizer
     * build's VmRSS is mostly shadow memory and quarantine: not checked.) */
    if (!h_proc_sanitized(proxy.pid)) {
        cr_assert_leq(rss1 - rss0, RSS_SLACK_KIB,
                      "VmRSS grew from %ld to %ld KiB (%ld bytes of requests "
                      "sent)",
                      rss0, rss1, sent);
    }
    close(fd);
    free(chunk);

    /* Nothing is left of it once it goes. */
    cr_assert_eq(h_await_metric(&proxy, P "connections_open", 0, 5000), 0);
    h_expect_get(proxy.http_port, "/k", 200, value, "HIT");
    free(value);
}
