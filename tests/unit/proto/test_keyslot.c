/*
 * Unit tests of the cluster hash slot (proto/keyslot) against Redis
 * itself: a cluster-enabled redis-server started here (one node, no
 * slots needed) answers CLUSTER KEYSLOT for a few thousand keys, random
 * bytes of every length up to 64 and keys built around braces, and
 * keyslot_of must give the same slot for every one; the hash-tag edge
 * cases of the specification ({}, {, }{, {a}{b}, an empty tag, binary
 * bytes inside and outside a tag) are listed by name. And CRC16/XMODEM's
 * check value.
 */
#include <criterion/criterion.h>

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "proto/keyslot.h"

#define RANDOM_KEYS 4000
#define SEED 20261201u

static pid_t server_pid;
static int server_port;
static char server_dir[64];
static redisContext *ctx;

/* n distinct ports the kernel just handed out on 127.0.0.1 (never 6379). */
static void
free_ports(int *ports, int n)
{
    int fds[4];

    cr_assert_leq(n, 4);
    for (int i = 0; i < n; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t sl = sizeof(sa);

        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert(fds[i] >= 0 &&
                  bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                  getsockname(fds[i], (struct sockaddr *)&sa, &sl) == 0);
        ports[i] = ntohs(sa.sin_port);
        if (ports[i] == 6379) {
            i--; /* held open, so the next one differs */
        }
    }
    for (int i = 0; i < n; i++) {
        close(fds[i]);
    }
}

/* A connection once redis-server answers PING on port (within 5 s), or
 * NULL if it exits or never does. */
static redisContext *
await_ping(pid_t pid, int port)
{
    for (int i = 0; i < 500; i++) {
        struct timeval tv = {2, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
        redisReply *r = NULL;

        if (c != NULL && !c->err) {
            r = redisCommand(c, "PING");
            if (r != NULL && r->type == REDIS_REPLY_STATUS) {
                freeReplyObject(r);
                return c;
            }
        }
        freeReplyObject(r);
        redisFree(c);
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            return NULL; /* it died: a port was taken */
        }
        usleep(10000);
    }
    return NULL;
}

static void
setup(void)
{
    snprintf(server_dir, sizeof(server_dir), "/tmp/rp-unit-keyslot-XXXXXX");
    cr_assert_not_null(mkdtemp(server_dir));
    for (int tries = 0; tries < 3 && ctx == NULL; tries++) {
        char port[16], bus[16], conf[128];
        int ports[2];
        pid_t pid;

        free_ports(ports, 2);
        server_port = ports[0];
        snprintf(port, sizeof(port), "%d", ports[0]);
        snprintf(bus, sizeof(bus), "%d", ports[1]);
        snprintf(conf, sizeof(conf), "%s/nodes-%d.conf", server_dir, ports[0]);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            freopen("/dev/null", "w", stdout);
            execlp("redis-server", "redis-server", "--port", port,
                   "--cluster-port", bus, "--bind", "127.0.0.1",
                   "--cluster-enabled", "yes", "--cluster-config-file", conf,
                   "--save", "", "--appendonly", "no", "--dir", server_dir,
                   (char *)NULL);
            _exit(127);
        }
        if ((ctx = await_ping(pid, server_port)) != NULL) {
            server_pid = pid;
            return;
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    cr_assert_fail("a cluster-enabled redis-server did not start");
}

static void
teardown(void)
{
    char conf[128];

    if (ctx != NULL) {
        redisFree(ctx);
        ctx = NULL;
    }
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
    }
    snprintf(conf, sizeof(conf), "%s/nodes-%d.conf", server_dir, server_port);
    unlink(conf);
    rmdir(server_dir);
}

TestSuite(keyslot, .init = setup, .fini = teardown, .timeout = 30);

struct key {
    char p[80];
    size_t n;
};

/* Asks Redis for the slot of every key (pipelined) and compares. */
static void
compare(const struct key *keys, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        redisAppendCommand(ctx, "CLUSTER KEYSLOT %b", keys[i].p, keys[i].n);
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *r;
        char shown[256] = "";
        size_t len = 0;

        cr_assert_eq(redisGetReply(ctx, (void **)&r), REDIS_OK,
                     "no reply from redis-server");
        cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "CLUSTER KEYSLOT: %s",
                     r->type == REDIS_REPLY_ERROR ? r->str : "not an integer");
        for (size_t j = 0; j < keys[i].n && len + 5 < sizeof(shown); j++) {
            unsigned char ch = (unsigned char)keys[i].p[j];

            len += (size_t)snprintf(shown + len, sizeof(shown) - len,
                                    ch >= 0x20 && ch < 0x7f ? "%c" : "\\x%02x",
                                    ch);
        }
        cr_expect_eq(keyslot_of(keys[i].p, keys[i].n), (unsigned)r->integer,
                     "%s key %zu \"%s\": keyslot_of %u, Redis %lld", what, i,
                     shown, keyslot_of(keys[i].p, keys[i].n), r->integer);
        freeReplyObject(r);
    }
}

static struct key
K(const char *p, size_t n) {
    struct key k;

    memcpy(k.p, p, n);
    k.n = n;
    return k;
}

/* A string literal's bytes, NULs included. */
#define LIT(s) K((s), sizeof(s) - 1)

Test(keyslot, crc16_check_value)
{
    /* CRC-16/XMODEM of "123456789" is 0x31c3 (the spec's reference) */
    cr_assert_eq(keyslot_crc16("123456789", 9), 0x31c3);
    cr_assert_eq(keyslot_crc16("", 0), 0);
}

Test(keyslot, hash_tag_edge_cases_match_redis)
{
    const struct key keys[] = {
        LIT(""),           LIT("{"),         LIT("}"),
        LIT("{}"),         LIT("}{"),        LIT("{a}{b}"),
        LIT("{}{a}"),      LIT("{}a"),       LIT("a{}"),
        LIT("a{}b"),       LIT("{{a}}"),     LIT("{{}}"),
        LIT("{a"),         LIT("a}"),        LIT("a}b{c"),
        LIT("}{a}"),       LIT("{ }"),       LIT("{user1}a"),
        LIT("{user1}b"),   LIT("user1"),     LIT("x{y}z"),
        LIT("xyz{"),       LIT("{{"),        LIT("}}"),
        LIT("{\0}"),       LIT("\0{a}\0"),   LIT("{a\0b}"),
        LIT("\xff{\xfe}"), LIT("\x80\x81"),  LIT("{\xff\xff}x"),
        LIT("a\0b"),       LIT("{}}"),       LIT("{{}"),
        LIT("foo"),        LIT("123456789"), LIT("{123456789}x"),
    };

    compare(keys, sizeof(keys) / sizeof(keys[0]), "edge");
    /* a few the spec names, with their slots */
    cr_expect_eq(keyslot_of("{user1}a", 8), keyslot_of("user1", 5));
    cr_expect_eq(keyslot_of("{}a", 3), keyslot_crc16("{}a", 3) & 16383);
    cr_expect_eq(keyslot_of("{a}{b}", 6), keyslot_of("a", 1));
    cr_expect_eq(keyslot_of("}{a}", 4), keyslot_of("a", 1));
}

/* xorshift32: reproducible bytes */
static uint32_t
next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

Test(keyslot, thousands_of_random_keys_match_redis)
{
    static struct key keys[RANDOM_KEYS];
    static const char alphabet[] = "{}{}ab\0\xff";
    uint32_t s = SEED;

    for (size_t i = 0; i < RANDOM_KEYS; i++) {
        size_t n = next(&s) % 65;

        for (size_t j = 0; j < n; j++) {
            uint32_t r = next(&s);

            /* half the keys from a small alphabet heavy in braces, so
             * that tags of every shape come up; the others any byte */
            keys[i].p[j] = i % 2 == 0 ? alphabet[r % (sizeof(alphabet) - 1)]
                                      : (char)(r & 0xff);
        }
        keys[i].n = n;
    }
    compare(keys, RANDOM_KEYS, "random");
}

Test(keyslot, every_slot_is_reached_as_redis_reaches_it)
{
    /* "k<n>" until every one of the 16384 slots has been seen, each
     * checked against Redis: the whole range, not a corner of it */
    static struct key keys[1000];
    static unsigned char seen[KEYSLOT_SLOTS];
    size_t count = 0, n = 0;

    for (unsigned i = 0; count < KEYSLOT_SLOTS && i < 10000000; i++) {
        int len = snprintf(keys[n].p, sizeof(keys[n].p), "k%u", i);
        unsigned slot = keyslot_of(keys[n].p, (size_t)len);

        keys[n].n = (size_t)len;
        if (!seen[slot]) {
            seen[slot] = 1;
            count++;
            if (++n == 1000) {
                compare(keys, n, "slot");
                n = 0;
            }
        }
    }
    compare(keys, n, "slot");
    cr_assert_eq(count, KEYSLOT_SLOTS);
}
