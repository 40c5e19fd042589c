/*
 * forward_util: the command table and the burst the transparency suites
 * share (see forward_util.h). The table's wants are RESP2's bytes; a
 * RESP3 suite compares with the twin alone.
 */
#include "forward_util.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BURST_KEYS 40

/* Runs argv on both servers directly; they must answer alike. */
static void
both(const struct h_redis *a, const struct h_redis *b, const char *const *argv)
{
    const struct h_redis *rs[2] = {a, b};
    int type[2];
    size_t argc = 0;

    while (argv[argc] != NULL) {
        argc++;
    }
    for (int i = 0; i < 2; i++) {
        redisContext *c = h_redis_ctx(rs[i]);
        redisReply *r;

        cr_assert_not_null(c);
        r = redisCommandArgv(c, (int)argc, (const char **)argv, NULL);
        cr_assert_not_null(r, "%s: no reply", argv[0]);
        type[i] = r->type;
        cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s: %s", argv[0], r->str);
        freeReplyObject(r);
        redisFree(c);
    }
    cr_assert_eq(type[0], type[1]);
}

#define BOTH(...) both(a, b, (const char *const[]){__VA_ARGS__, NULL})

/* ---- one command at a time ---- */

/* The case's bytes: a RESP array, or an inline line. */
size_t
fwd_encode(const struct fwd_case *t, char *out, size_t cap)
{
    size_t o = 0;

    if (!t->is_inline) {
        size_t n = h_cmd_encode(out, cap, t->argv);

        cr_assert_gt(n, 0);
        return n;
    }
    for (size_t i = 0; t->argv[i] != NULL; i++) {
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? " " : "",
                              t->argv[i]);
    }
    o += (size_t)snprintf(out + o, cap - o, "\r\n");
    cr_assert_lt(o, cap);
    return o;
}

void
fwd_seed(const struct h_redis *a, const struct h_redis *b)
{
    BOTH("SET", "pre:str", "seeded");
    BOTH("HSET", "pre:hash", "a", "1", "b", "2");
    BOTH("RPUSH", "pre:list", "x", "y", "z");
    BOTH("ZADD", "pre:z", "1", "one", "2", "two");
    BOTH("SET", "ev", "old");
    BOTH("SET", "sorted", "old");
    BOTH("SET", "a", "0");
}

const struct fwd_case fwd_cases[] = {
    /* what was there before */
    {{"GET", "pre:str"}, "$6\r\nseeded\r\n", 0},
    {{"HGETALL", "pre:hash"}, NULL, 0},
    {{"LRANGE", "pre:list", "0", "-1"}, NULL, 1},
    {{"ZRANGE", "pre:z", "0", "-1", "WITHSCORES"}, NULL, 0},
    /* strings; each GET after a write must read the write */
    {{"SET", "s", "hello"}, "+OK\r\n", 0},
    {{"GET", "s"}, NULL, 0}, /* a miss, stored */
    {{"GET", "s"}, NULL, 0}, /* a hit */
    {{"APPEND", "s", "-world"}, ":11\r\n", 0},
    {{"GET", "s"}, "$11\r\nhello-world\r\n", 0},
    {{"GETRANGE", "s", "0", "4"}, NULL, 0},
    {{"SETRANGE", "s", "6", "Redis"}, ":11\r\n", 0},
    {{"GET", "s"}, "$11\r\nhello-Redis\r\n", 1},
    {{"STRLEN", "s"}, NULL, 0},
    {{"INCRBYFLOAT", "f", "10.5"}, NULL, 0},
    {{"INCRBYFLOAT", "f", "0.1"}, "$4\r\n10.6\r\n", 0},
    {{"INCRBY", "n", "-7"}, ":-7\r\n", 0},
    {{"GETEX", "s", "EX", "100"}, NULL, 0},
    {{"TTL", "s"}, ":100\r\n", 0},
    {{"GETEX", "s", "PERSIST"}, NULL, 0},
    {{"TTL", "s"}, ":-1\r\n", 0},
    {{"GET", "s"}, NULL, 0},
    {{"GETDEL", "s"}, "$11\r\nhello-Redis\r\n", 0},
    {{"GET", "s"}, "$-1\r\n", 0}, /* the null bulk */
    {{"GET", "a"}, "$1\r\n0\r\n", 0},
    {{"MSET", "a", "1", "b", "2"}, "+OK\r\n", 0},
    {{"GET", "a"}, "$1\r\n1\r\n", 0},
    {{"MGET", "a", "nosuch", "b"}, "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n", 0},
    {{"SETNX", "a", "x"}, ":0\r\n", 0},
    /* lists */
    {{"RPUSH", "l", "a", "b", "c"}, ":3\r\n", 1},
    {{"LPUSH", "l", "z"}, NULL, 0},
    {{"LINSERT", "l", "BEFORE", "b", "x"}, ":5\r\n", 0},
    {{"LRANGE", "l", "0", "-1"}, NULL, 0},
    {{"LPOP", "l"}, NULL, 0},
    {{"RPOP", "l", "2"}, "*2\r\n$1\r\nc\r\n$1\r\nb\r\n", 0},
    {{"LLEN", "l"}, NULL, 0},
    {{"LINDEX", "l", "5"}, "$-1\r\n", 0},
    {{"LPOP", "nosuch", "2"}, "*-1\r\n", 0}, /* the null array */
    {{"OBJECT", "ENCODING", "l"}, NULL, 0},
    /* hashes */
    {{"HSET", "h", "f1", "v1", "f2", "v2"}, ":2\r\n", 0},
    {{"HGETALL", "h"}, NULL, 0},
    {{"HINCRBY", "h", "n", "5"}, ":5\r\n", 0},
    {{"HMGET", "h", "f1", "nosuch", "n"}, NULL, 0},
    {{"HDEL", "h", "f2"}, ":1\r\n", 0},
    {{"HSCAN", "h", "0"}, NULL, 0},
    {{"GET", "h"}, NULL, 0}, /* WRONGTYPE, from the cache's lookup */
    /* sets (an intset's order is its sort order) */
    {{"SADD", "iset", "3", "1", "2"}, ":3\r\n", 0},
    {{"SMEMBERS", "iset"}, "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n", 0},
    {{"SADD", "set", "x", "y"}, NULL, 0},
    {{"SISMEMBER", "set", "x"}, ":1\r\n", 0},
    {{"SMISMEMBER", "set", "x", "q"}, NULL, 0},
    {{"SCARD", "set"}, NULL, 0},
    {{"SINTERCARD", "2", "set", "iset"}, ":0\r\n", 0},
    /* sorted sets */
    {{"ZADD", "z", "1", "a", "2", "b", "3.5", "c"}, ":3\r\n", 0},
    {{"ZRANGE", "z", "0", "-1", "WITHSCORES"}, NULL, 0},
    {{"ZINCRBY", "z", "2.25", "a"}, "$4\r\n3.25\r\n", 0},
    {{"ZSCORE", "z", "c"}, NULL, 0},
    {{"ZRANGEBYSCORE", "z", "(1", "+inf", "LIMIT", "0", "2"}, NULL, 0},
    {{"ZRANK", "z", "nosuch"}, "$-1\r\n", 0},
    {{"ZPOPMIN", "z"}, NULL, 0},
    /* streams, with explicit ids */
    {{"XADD", "st", "1-1", "f", "v"}, "$3\r\n1-1\r\n", 0},
    {{"XADD", "st", "2-5", "f2", "v2", "f3", "v3"}, NULL, 0},
    {{"XADD", "st", "2-1", "f", "v"}, NULL, 0}, /* id too small */
    {{"XRANGE", "st", "-", "+"}, NULL, 0},
    {{"XLEN", "st"}, ":2\r\n", 0},
    {{"XREAD", "COUNT", "5", "STREAMS", "st", "0-0"}, NULL, 0},
    {{"XGROUP", "CREATE", "st", "g", "0"}, "+OK\r\n", 0},
    {{"XINFO", "STREAM", "st"}, NULL, 0},
    {{"XINFO", "GROUPS", "st"}, NULL, 0},
    /* HyperLogLog, and its bytes through the cache */
    {{"PFADD", "hll", "a", "b", "c"}, ":1\r\n", 0},
    {{"PFADD", "hll", "a"}, ":0\r\n", 0},
    {{"PFCOUNT", "hll"}, ":3\r\n", 0},
    {{"GET", "hll"}, NULL, 0},
    /* bitmaps */
    {{"SETBIT", "bm", "7", "1"}, ":0\r\n", 0},
    {{"SETBIT", "bm", "100", "1"}, NULL, 0},
    {{"GETBIT", "bm", "7"}, ":1\r\n", 0},
    {{"BITCOUNT", "bm"}, ":2\r\n", 0},
    {{"BITPOS", "bm", "1"}, ":7\r\n", 0},
    {{"GET", "bm"}, NULL, 0},
    {{"BITFIELD", "bm", "GET", "u8", "0", "INCRBY", "u4", "8", "3"}, NULL, 0},
    {{"GET", "bm"}, NULL, 0},
    /* geo */
    {{"GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269",
      "37.502669", "Catania"},
     ":2\r\n",
     0},
    {{"GEODIST", "g", "Palermo", "Catania", "km"}, NULL, 0},
    {{"GEOPOS", "g", "Palermo", "nosuch"}, NULL, 0},
    {{"GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
      "ASC", "WITHDIST", "WITHCOORD"},
     NULL,
     0},
    /* the keyspace (patterns that match one key: the order of several
     * depends on each server's hash seed) */
    {{"KEYS", "hl*"}, "*1\r\n$3\r\nhll\r\n", 0},
    {{"SCAN", "0", "MATCH", "bm", "COUNT", "1000"}, NULL, 0},
    {{"TYPE", "st"}, "+stream\r\n", 0},
    {{"TYPE", "z"}, NULL, 0},
    {{"TYPE", "nosuch"}, "+none\r\n", 0},
    {{"EXPIRE", "a", "100"}, ":1\r\n", 0},
    {{"TTL", "a"}, ":100\r\n", 0},
    {{"PERSIST", "a"}, ":1\r\n", 0},
    {{"TTL", "a"}, ":-1\r\n", 0},
    {{"TTL", "nosuch"}, ":-2\r\n", 0},
    {{"EXISTS", "a", "b", "nosuch"}, ":2\r\n", 0},
    {{"OBJECT", "ENCODING", "iset"}, "$6\r\nintset\r\n", 0},
    {{"GET", "b"}, NULL, 0},
    {{"RENAME", "b", "b2"}, "+OK\r\n", 0},
    {{"GET", "b"}, "$-1\r\n", 0},
    {{"GET", "b2"}, "$1\r\n2\r\n", 0},
    {{"DBSIZE"}, NULL, 0},
    /* scripts: nested tables, false as the null bulk, a table cut at
     * nil, keys declared with numkeys (the cached ev must be dropped) */
    {{"EVAL", "return {1,'two',{3,false},nil,'after'}", "0"},
     "*3\r\n:1\r\n$3\r\ntwo\r\n*2\r\n:3\r\n$-1\r\n",
     0},
    {{"EVAL", "return false", "0"}, "$-1\r\n", 0},
    {{"GET", "ev"}, "$3\r\nold\r\n", 0},
    {{"GET", "ev"}, "$3\r\nold\r\n", 0},
    {{"EVAL", "return redis.call('SET',KEYS[1],ARGV[1])", "1", "ev", "new"},
     "+OK\r\n",
     0},
    {{"GET", "ev"}, "$3\r\nnew\r\n", 0},
    {{"EVAL", "return {err='My Error'}", "0"}, "-My Error\r\n", 0},
    {{"EVAL", "return redis.call('INCR',KEYS[1])", "1", "h"}, NULL, 0},
    /* SORT ... STORE: only Redis can tell its keys (COMMAND GETKEYS) */
    {{"GET", "sorted"}, "$3\r\nold\r\n", 0},
    {{"GET", "sorted"}, "$3\r\nold\r\n", 0}, /* a hit: it is cached */
    {{"RPUSH", "sl", "3", "1", "2"}, NULL, 0},
    {{"SORT", "sl", "STORE", "sorted"}, ":3\r\n", 0},
    {{"GET", "sorted"}, NULL, 0}, /* WRONGTYPE now, not "old" */
    {{"LRANGE", "sorted", "0", "-1"}, NULL, 0},
    /* errors */
    {{"SET", "k"}, "-ERR wrong number of arguments for 'set' command\r\n", 0},
    {{"LPUSH", "f", "x"}, NULL, 0},
    {{"INCR", "f"}, NULL, 0},
    {{"FOOBAR", "a", "b"}, NULL, 0},
    {{"FOOBAR", "a", "b"}, NULL, 1},
    {{"SET", "k", "v", "XX", "NX"}, "-ERR syntax error\r\n", 0},
    {{"ZADD", "z", "notafloat", "m"}, NULL, 0},
    {{"GETRANGE", "nosuch"}, NULL, 0},
    {{"HGET", "st", "f"}, NULL, 0},
    {{"OBJECT", "NOPE"}, NULL, 0},
    {{"XADD", "st", "bad-id", "f", "v"}, NULL, 0},
    /* a write without keys empties the cache */
    {{"GET", "ev"}, "$3\r\nnew\r\n", 0},
    {{"FLUSHDB"}, "+OK\r\n", 0},
    {{"GET", "ev"}, "$-1\r\n", 0},
    {{"SET", "ev", "again"}, NULL, 0},
    {{"GET", "ev"}, NULL, 0},
    /* a blocking command times out with the null array, and makes the
     * rest run on a session */
    {{"BLPOP", "nosuch", "0.1"}, "*-1\r\n", 0},
    {{"GET", "ev"}, "$5\r\nagain\r\n", 0},
    {{"EVAL", "return {1,{2,{3}},false}", "0"}, NULL, 0},
    {{"LPOP", "nosuch", "2"}, "*-1\r\n", 0},
    {{"GET", "nosuch"}, "$-1\r\n", 1},
};

const size_t fwd_ncases = sizeof(fwd_cases) / sizeof(fwd_cases[0]);

/* ---- a burst of pipelined commands ---- */

/* Makes room for a command of up to 1 KiB. */
static void
room(struct fwd_script *s)
{
    if (s->cap - s->len < 1024) {
        s->cap = s->cap ? s->cap * 2 : 1 << 16;
        s->p = realloc(s->p, s->cap);
        cr_assert_not_null(s->p);
    }
}

static void
add(struct fwd_script *s, const char *const *argv)
{
    size_t n;

    room(s);
    n = h_cmd_encode(s->p + s->len, s->cap - s->len, argv);
    cr_assert_gt(n, 0);
    s->len += n;
}

static void
add_inline(struct fwd_script *s, const char *line)
{
    room(s);
    s->len += (size_t)snprintf(s->p + s->len, s->cap - s->len, "%s\r\n", line);
}

#define ADD(s, ...) add((s), (const char *const[]){__VA_ARGS__, NULL})

void
fwd_build_script(struct fwd_script *s)
{
    unsigned x = 12345;
    char k[32], v[32], h[16], f[16], l[16], line[96];

    for (int i = 0; i < FWD_BURST_CMDS; i++) {
        x = x * 1103515245u + 12345u;
        unsigned r = (x >> 8) % 1000;

        snprintf(k, sizeof(k), "bk:%u", (x >> 20) % BURST_KEYS);
        snprintf(v, sizeof(v), "v%d", i);
        snprintf(h, sizeof(h), "bh:%u", (x >> 20) % 4);
        snprintf(f, sizeof(f), "f%u", (x >> 24) % 7);
        snprintf(l, sizeof(l), "bl:%u", (x >> 20) % 3);
        if (r < 450) {
            ADD(s, "GET", k);
            s->gets++;
        } else if (r < 520) {
            ADD(s, "SET", k, v);
        } else if (r < 540) {
            ADD(s, "APPEND", k, "+");
        } else if (r < 555) {
            ADD(s, "DEL", k);
        } else if (r < 580) {
            ADD(s, "INCR", "bcount");
        } else if (r < 620) {
            ADD(s, "RPUSH", l, v);
        } else if (r < 650) {
            ADD(s, "LRANGE", l, "-3", "-1");
        } else if (r < 690) {
            ADD(s, "HSET", h, f, v);
        } else if (r < 730) {
            ADD(s, "HGET", h, f);
        } else if (r < 750) {
            ADD(s, "GET", h); /* WRONGTYPE */
        } else if (r < 770) {
            ADD(s, "INCR", k); /* often not an integer */
        } else if (r < 790) {
            ADD(s, "NOSUCHCMD", k);
        } else if (r < 810) {
            ADD(s, "SET", k); /* arity */
        } else if (r < 840) {
            ADD(s, "MGET", k, "bk:1", "bk:2", "nosuch");
        } else if (r < 860) {
            ADD(s, "EXISTS", k, "bk:3");
        } else if (r < 880) {
            ADD(s, "ZADD", "bz", "1", v);
        } else if (r < 900) {
            ADD(s, "ZRANGE", "bz", "0", "2", "WITHSCORES");
        } else if (r < 920) {
            ADD(s, "LPOP", "nosuch", "2"); /* null array */
        } else if (r < 940) {
            ADD(s, "EVAL", "return {KEYS[1],redis.call('GET',KEYS[1])}", "1",
                k);
        } else if (r < 970) {
            snprintf(line, sizeof(line), "GET %s", k);
            add_inline(s, line);
            s->gets++;
        } else {
            snprintf(line, sizeof(line), "SET %s inline%d", k, i);
            add_inline(s, line);
        }
    }
}

struct sender {
    int fd;
    const char *p;
    size_t len;
    int rc;
};

static void *
send_all(void *arg)
{
    struct sender *s = arg;

    s->rc = h_send(s->fd, s->p, s->len);
    return NULL;
}

long
fwd_run_burst(int port, const char *hello, const struct fwd_script *s,
              char **out)
{
    size_t cap = (size_t)16 << 20;
    struct sender snd = {h_conn(port), s->p, s->len, -1};
    pthread_t t;
    long n;

    *out = malloc(cap);
    cr_assert_not_null(*out);
    if (hello != NULL) {
        cr_assert_eq(h_sends(snd.fd, hello), 0);
        cr_assert_gt(h_read_replies(snd.fd, 1, *out, cap, 5000), 0,
                     "port %d: no reply to %s", port, hello);
    }
    cr_assert_eq(pthread_create(&t, NULL, send_all, &snd), 0);
    n = h_read_replies(snd.fd, FWD_BURST_CMDS, *out, cap, 30000);
    pthread_join(t, NULL);
    close(snd.fd);
    cr_assert_eq(snd.rc, 0, "port %d: the burst was not all sent", port);
    cr_assert_gt(n, 0, "port %d: no %d replies", port, FWD_BURST_CMDS);
    return n;
}

void
fwd_report_difference(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t oa = 0, ob = 0;
    char e1[512], e2[512];

    for (int i = 0; i < FWD_BURST_CMDS; i++) {
        long la = h_reply_len(a + oa, alen - oa, 1);
        long lb = h_reply_len(b + ob, blen - ob, 1);

        if (la <= 0 || lb <= 0 || la != lb ||
            memcmp(a + oa, b + ob, (size_t)la) != 0) {
            cr_assert_fail(
                "reply %d differs: redis-server \"%s\", the proxy "
                "\"%s\"",
                i, h_escape(a + oa, la > 0 ? (size_t)la : 0, e1, sizeof(e1)),
                h_escape(b + ob, lb > 0 ? (size_t)lb : 0, e2, sizeof(e2)));
        }
        oa += (size_t)la;
        ob += (size_t)lb;
    }
    cr_assert_fail("the streams differ after %d replies", FWD_BURST_CMDS);
}
