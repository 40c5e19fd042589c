/*
 * End-to-end tests of SELECT as connection state the proxy keeps (issue
 * 18): the cache keyed by database and key, never a session; readers in
 * db 1 and db 2 only ever seeing their own database's values while a
 * writer in each changes the same keys; FLUSHDB, SWAPDB, MOVE and COPY ...
 * DB keeping the cache right (against a second redis-server, the twin,
 * run through the same steps, with tracking on and off); SELECT's errors
 * as Redis gives them; HTTP staying on [redis] db.
 *
 * Expected to fail until the rewrite lands: every test here, on their
 * metrics. Today SELECT opens a session, which bypasses the cache: the
 * sessions metric moves and no GET after a SELECT is a cache hit (the
 * replies themselves are right, Redis giving them all).
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define P "redis_proxy_"
#define REPLY_MS 3000
#define VISIBLE_MS 1000 /* a write made directly in Redis reaches readers */

static struct h_redis redis, twin;
static struct h_proxy proxy;

static void
setup(void)
{
    memset(&twin, 0, sizeof(twin));
    h_pair_setup(&redis, &proxy);
    cr_assert_eq(h_redis_start(&twin, 0, NULL), 0, "twin did not start");
}

static void
teardown(void)
{
    h_pair_teardown(&redis, &proxy);
    h_redis_stop(&twin);
}

TestSuite(select_db, .init = setup, .fini = teardown, .timeout = 90);

#define SEND H_SEND
#define EXPECT H_EXPECT

/* A RESP connection to the proxy, in database db. */
static int
conn_in(int db)
{
    char n[16];
    int fd = h_conn(proxy.resp_port);

    snprintf(n, sizeof(n), "%d", db);
    SEND(fd, "SELECT", n);
    EXPECT(fd, "+OK\r\n");
    return fd;
}

/* GET key on fd: want's bulk (want NULL: nil). */
static void
expect_get(int fd, const char *key, const char *want, int line)
{
    char w[256];

    if (want != NULL) {
        snprintf(w, sizeof(w), "$%zu\r\n%s\r\n", strlen(want), want);
    } else {
        snprintf(w, sizeof(w), "$-1\r\n");
    }
    SEND(fd, "GET", key);
    h_expect_reply(fd, w, REPLY_MS, line);
}

#define EXPECT_GET(fd, key, want) expect_get((fd), (key), (want), __LINE__)

Test(select_db, the_cache_is_keyed_by_database)
{
    struct h_resp r = {0};
    int64_t end;
    int c0, c1, c2;

    h_set_db(&redis, 0, "k", "zero");
    h_set_db(&redis, 1, "k", "one");
    h_set_db(&redis, 2, "k", "two");
    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    c0 = h_conn(proxy.resp_port);
    c1 = conn_in(1);
    c2 = conn_in(2);
    for (int i = 0; i < 2; i++) {
        EXPECT_GET(c1, "k", "one");
        EXPECT_GET(c2, "k", "two");
        EXPECT_GET(c0, "k", "zero");
    }
    cr_assert_eq(h_await_metric(&proxy, P "cache_hits_total", 3, 2000), 3);
    cr_assert_eq(h_redis_calls(&redis, "get"), 3);
    /* HTTP reads db 0: the entry c0 filled */
    h_expect_get(proxy.http_port, "/k", 200, "zero", "HIT");

    /* SELECT's errors are Redis's, and leave the database as it was */
    SEND(c1, "SELECT", "16");
    EXPECT(c1, "-ERR DB index is out of range\r\n");
    SEND(c1, "SELECT", "x");
    EXPECT(c1, "-ERR value is not an integer or out of range\r\n");
    SEND(c1, "SELECT");
    EXPECT(c1, "-ERR wrong number of arguments for 'select' command\r\n");
    EXPECT_GET(c1, "k", "one");

    /* a write in db 1 made directly in Redis reaches db 1's readers (the
     * invalidation names no database: every database's entry goes) */
    h_set_db(&redis, 1, "k", "one-b");
    for (end = h_now_ms() + VISIBLE_MS;; h_sleep_ms(5)) {
        char got[64];
        long n;

        SEND(c1, "GET", "k");
        n = h_read_replies(c1, 1, got, sizeof(got) - 1, REPLY_MS);
        cr_assert_gt(n, 0);
        got[n] = '\0';
        if (strcmp(got, "$5\r\none-b\r\n") == 0) {
            break;
        }
        cr_assert_str_eq(got, "$3\r\none\r\n");
        cr_assert_lt(h_now_ms(), end, "db 1 still reads 'one'");
    }
    EXPECT_GET(c2, "k", "two");
    EXPECT_GET(c0, "k", "zero");
    cr_assert_eq(h_http_get(proxy.http_port, "/k", &r), 0);
    h_check(&r, "/k", 200, "zero", NULL);
    h_resp_free(&r);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    close(c0);
    close(c1);
    close(c2);
}

/* ---- readers and writers of the same keys in two databases ---- */

#define WRITES 300
#define KEYS 4
#define READERS 2 /* per database */

struct rw {
    int db;        /* 1 or 2 */
    int is_writer; /* else a reader */
    atomic_int *writers_left;
    long reads, changes; /* a reader's GETs, and values it saw change */
    char fail[256];
};

/* A connection to the proxy in database db, for a thread (no assertion):
 * the fd, or -1 with w->fail set. */
static int
open_in(struct rw *w)
{
    char req[64], got[64];
    int fd = h_connect(proxy.resp_port);
    size_t n;

    snprintf(req, sizeof(req), "SELECT %d\r\n", w->db);
    n = strlen(req);
    if (fd < 0 || h_send(fd, req, n) != 0 ||
        h_read_replies(fd, 1, got, sizeof(got), REPLY_MS) != 5) {
        snprintf(w->fail, sizeof(w->fail), "db %d: no connection", w->db);
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

static void *
writer(void *arg)
{
    struct rw *w = arg;
    char key[32], val[64], req[256], want[96], got[96];
    int fd = open_in(w);

    for (int i = 0; fd >= 0 && i < WRITES && w->fail[0] == '\0'; i++) {
        size_t len;
        long n;

        snprintf(key, sizeof(key), "shared:%d", i % KEYS);
        snprintf(val, sizeof(val), "db%d-%d", w->db, i);
        len = h_cmd_encode(req, sizeof(req),
                           (const char *[]){"SET", key, val, NULL});
        len += h_cmd_encode(req + len, sizeof(req) - len,
                            (const char *[]){"GET", key, NULL});
        snprintf(want, sizeof(want), "+OK\r\n$%zu\r\n%s\r\n", strlen(val), val);
        n = h_send(fd, req, len) == 0
                ? h_read_replies(fd, 2, got, sizeof(got) - 1, REPLY_MS)
                : -1;
        got[n > 0 ? n : 0] = '\0';
        if (n <= 0 || strcmp(got, want) != 0) {
            snprintf(w->fail, sizeof(w->fail), "db %d: SET %s %s, GET: %s",
                     w->db, key, val, n > 0 ? got : "(no reply)");
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    atomic_fetch_sub(w->writers_left, 1);
    return NULL;
}

static void *
reader(void *arg)
{
    struct rw *w = arg;
    char key[32], req[64], prefix[16], got[96], last[KEYS][96] = {{0}};
    int fd = open_in(w);

    snprintf(prefix, sizeof(prefix), "db%d-", w->db);
    for (int i = 0;
         fd >= 0 && atomic_load(w->writers_left) > 0 && w->fail[0] == '\0';
         i++) {
        const char *v;
        size_t len;
        long n;

        snprintf(key, sizeof(key), "shared:%d", i % KEYS);
        len =
            h_cmd_encode(req, sizeof(req), (const char *[]){"GET", key, NULL});
        n = h_send(fd, req, len) == 0
                ? h_read_replies(fd, 1, got, sizeof(got) - 1, REPLY_MS)
                : -1;
        got[n > 0 ? n : 0] = '\0';
        w->reads++;
        if (n > 0 && strcmp(got, "$-1\r\n") == 0) {
            continue; /* not written yet */
        }
        v = n > 0 ? strstr(got, "\r\n") : NULL;
        if (v == NULL || strncmp(v + 2, prefix, strlen(prefix)) != 0) {
            snprintf(w->fail, sizeof(w->fail), "a reader in db %d got %s",
                     w->db, n > 0 ? got : "(no reply)");
            break;
        }
        if (strcmp(last[i % KEYS], got) != 0) {
            w->changes++;
            snprintf(last[i % KEYS], sizeof(last[0]), "%s", got);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

Test(select_db, readers_see_only_their_databases_values_under_writers)
{
    struct rw rw[2 * (1 + READERS)];
    pthread_t t[2 * (1 + READERS)];
    atomic_int writers_left = 2;
    int n = 0;
    long changes = 0;
    double hits;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    for (int db = 1; db <= 2; db++) {
        for (int k = 0; k <= READERS; k++) {
            rw[n] = (struct rw){
                .db = db, .is_writer = k == 0, .writers_left = &writers_left};
            n++;
        }
    }
    for (int i = 0; i < n; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL,
                                    rw[i].is_writer ? writer : reader, &rw[i]),
                     0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    for (int i = 0; i < n; i++) {
        cr_assert_str_empty(rw[i].fail, "%s", rw[i].fail);
        if (!rw[i].is_writer) {
            changes += rw[i].changes;
        }
    }
    /* the readers read while the values changed, and the cache answered
     * part of it */
    cr_assert_gt(changes, 2 * READERS * KEYS,
                 "readers saw %ld changes: did they overlap the writers?",
                 changes);
    /* (every write also drops the key's entry in the other database:
     * Redis's invalidations name keys without one; how many reads fall
     * between two writes depends on the machine) */
    hits = h_metric(&proxy, P "cache_hits_total");
    cr_assert_geq(hits, 20, "cache hits: %g", hits);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    /* and Redis holds each database's last values */
    for (int db = 1; db <= 2; db++) {
        int fd = conn_in(db);
        char want[32];

        for (int k = 0; k < KEYS; k++) {
            char key[32];

            snprintf(key, sizeof(key), "shared:%d", k);
            snprintf(want, sizeof(want), "db%d-%d", db,
                     WRITES - KEYS + k); /* the last write of key k */
            EXPECT_GET(fd, key, want);
        }
        close(fd);
    }
    h_expect_get(proxy.http_port, "/shared:0", 404, NULL, NULL);
}

/* ---- commands that move keys between databases, against the twin ---- */

#define C(...) ((const char *const[]){__VA_ARGS__, NULL})

/* argv on the twin's connection rfd and the proxy's pfd: the same reply,
 * which must be want (NULL: any); repeated reads of a key make the
 * second one a cache hit where the proxy can. */
static void
step(int rfd, int pfd, const char *const *argv, const char *want, int line)
{
    char req[1024], out[1024], what[128], e[256];
    size_t n = h_cmd_encode(req, sizeof(req), argv);

    snprintf(what, sizeof(what), "line %d: %s %s", line, argv[0],
             argv[1] ? argv[1] : "");
    h_expect_same_on(rfd, pfd, req, n, 1, what, out, sizeof(out));
    if (want != NULL) {
        cr_assert_str_eq(out, want, "%s: %s", what,
                         h_escape(out, strlen(out), e, sizeof(e)));
    }
}

#define STEP(rfd, pfd, want, ...)                                              \
    step((rfd), (pfd), C(__VA_ARGS__), (want), __LINE__)

static void
seed(const struct h_redis *r)
{
    h_set_db(r, 1, "k", "one");
    h_set_db(r, 1, "c", "c1-old");
    h_set_db(r, 2, "k", "two");
    h_set_db(r, 2, "m", "m2");
    h_set_db(r, 2, "c", "c2");
}

/* Two connections a side: a in db 1, b in db 2. */
static void
moves_keep_the_cache_right(const char *ini)
{
    int ra, rb, pa, pb;
    double hits;

    seed(&redis);
    seed(&twin);
    h_start_proxy(&proxy, &redis, H_OPTS(.ini = ini, .admin = 1));
    ra = h_conn(twin.port);
    rb = h_conn(twin.port);
    pa = h_conn(proxy.resp_port);
    pb = h_conn(proxy.resp_port);
    STEP(ra, pa, "+OK\r\n", "SELECT", "1");
    STEP(rb, pb, "+OK\r\n", "SELECT", "2");
    for (int i = 0; i < 2; i++) {
        STEP(ra, pa, "$3\r\none\r\n", "GET", "k");
        STEP(rb, pb, "$3\r\ntwo\r\n", "GET", "k");
        STEP(ra, pa, "$6\r\nc1-old\r\n", "GET", "c");
        STEP(rb, pb, "$2\r\nm2\r\n", "GET", "m");
    }
    /* SWAPDB: each database's entries are the other's now */
    STEP(ra, pa, "+OK\r\n", "SWAPDB", "1", "2");
    for (int i = 0; i < 2; i++) {
        STEP(ra, pa, "$3\r\ntwo\r\n", "GET", "k");
        STEP(rb, pb, "$3\r\none\r\n", "GET", "k");
        STEP(ra, pa, "$2\r\nc2\r\n", "GET", "c");
        STEP(rb, pb, "$6\r\nc1-old\r\n", "GET", "c");
        STEP(ra, pa, "$2\r\nm2\r\n", "GET", "m");
        STEP(rb, pb, "$-1\r\n", "GET", "m");
    }
    /* MOVE m from db 1 to db 2 */
    STEP(ra, pa, ":1\r\n", "MOVE", "m", "2");
    STEP(ra, pa, "$-1\r\n", "GET", "m");
    STEP(rb, pb, "$2\r\nm2\r\n", "GET", "m");
    STEP(rb, pb, "$2\r\nm2\r\n", "GET", "m");
    /* COPY k from db 2 over c in db 1 */
    STEP(rb, pb, ":1\r\n", "COPY", "k", "c", "DB", "1", "REPLACE");
    STEP(ra, pa, "$3\r\none\r\n", "GET", "c");
    STEP(rb, pb, "$6\r\nc1-old\r\n", "GET", "c");
    STEP(ra, pa, "$3\r\none\r\n", "GET", "c");
    /* FLUSHDB empties db 1 only */
    STEP(ra, pa, "+OK\r\n", "FLUSHDB");
    STEP(ra, pa, "$-1\r\n", "GET", "k");
    STEP(ra, pa, "$-1\r\n", "GET", "c");
    STEP(rb, pb, "$3\r\none\r\n", "GET", "k");
    STEP(rb, pb, "$3\r\none\r\n", "GET", "k");
    STEP(rb, pb, "$2\r\nm2\r\n", "GET", "m");
    /* and the same key written in each */
    STEP(ra, pa, "+OK\r\n", "SET", "k", "one-new");
    STEP(ra, pa, "$7\r\none-new\r\n", "GET", "k");
    STEP(rb, pb, "$3\r\none\r\n", "GET", "k");
    hits = h_metric(&proxy, P "cache_hits_total");
    cr_assert_geq(hits, 8, "cache hits: %g", hits);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    close(ra);
    close(rb);
    close(pa);
    close(pb);
}

Test(select_db, flushdb_swapdb_move_and_copy_keep_the_cache_right)
{
    moves_keep_the_cache_right(NULL);
}

Test(select_db, flushdb_swapdb_move_and_copy_keep_it_right_without_tracking)
{
    /* Without tracking only the proxy's own handling of the command can
     * drop what it changed, before its reply. */
    moves_keep_the_cache_right(TTL_ONLY);
}

/* ---- HTTP ---- */

Test(select_db, http_stays_on_the_configured_database)
{
    int c;

    h_set_db(&redis, 3, "k", "three");
    h_set_db(&redis, 0, "k", "zero");
    h_set_db(&redis, 5, "k", "five");
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[redis]\ndb = 3\n", .admin = 1));
    h_expect_get(proxy.http_port, "/k", 200, "three", "MISS");
    h_expect_get(proxy.http_port, "/k", 200, "three", "HIT");
    c = conn_in(5);
    EXPECT_GET(c, "k", "five");
    EXPECT_GET(c, "k", "five");
    SEND(c, "SELECT", "0");
    EXPECT(c, "+OK\r\n");
    EXPECT_GET(c, "k", "zero");
    h_expect_get(proxy.http_port, "/k", 200, "three", "HIT");
    /* a write in db 3 over RESP is read back over HTTP */
    SEND(c, "SELECT", "3");
    EXPECT(c, "+OK\r\n");
    EXPECT_GET(c, "k", "three");
    SEND(c, "SET", "k", "three-b");
    EXPECT(c, "+OK\r\n");
    h_expect_get(proxy.http_port, "/k", 200, "three-b", "MISS");
    /* one in db 5 is not */
    SEND(c, "SELECT", "5");
    EXPECT(c, "+OK\r\n");
    SEND(c, "SET", "k", "five-b");
    EXPECT(c, "+OK\r\n");
    h_expect_get(proxy.http_port, "/k", 200, "three-b", NULL);
    EXPECT_GET(c, "k", "five-b");
    cr_assert_geq(h_metric(&proxy, P "cache_hits_total"), 3);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    close(c);
}
