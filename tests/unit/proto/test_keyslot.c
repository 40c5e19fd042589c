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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/keyslot.h"
#include "unit_helpers.h"

#define RANDOM_KEYS 4000
#define SEED 20261201u

static struct unit_redis server;

static void
setup(void)
{
    unit_redis_start(&server, 1, NULL);
}

static void
teardown(void)
{
    unit_redis_stop(&server);
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
        redisAppendCommand(server.ctx, "CLUSTER KEYSLOT %b", keys[i].p,
                           keys[i].n);
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *r;
        char shown[256] = "";
        size_t len = 0;

        cr_assert_eq(redisGetReply(server.ctx, (void **)&r), REDIS_OK,
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
