/*
 * Unit tests of the one hash function (base/hash.h): its values are fixed
 * (the HTTP entity-tags and the written keys' table hash with seed 0, so
 * an ETag must not change between builds or between two proxies), it
 * reads any alignment and nothing past its length, the length and the
 * seed are mixed in, and keys spread evenly over the low bits (the
 * cache's chains) and the high ones, with one flipped input bit changing
 * about half the output.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

static uint64_t
h0(const char *s)
{
    return hash_bytes(0, s, strlen(s));
}

Test(hash, values_are_fixed_across_builds)
{
    /* Any change here changes every ETag the proxy has handed out. */
    cr_assert_eq(h0(""), UINT64_C(0x0000000000000000));
    cr_assert_eq(h0("a"), UINT64_C(0x02173efcf9e19254));
    cr_assert_eq(h0("foo"), UINT64_C(0x63735a5fd4656f1d));
    cr_assert_eq(h0("12345678"), UINT64_C(0x09fb32f301e10dc8));
    cr_assert_eq(h0("123456789"), UINT64_C(0x5b1ad7c6bea9de75));
    cr_assert_eq(h0("the quick brown fox jumps over the lazy dog"),
                 UINT64_C(0xd43855da5e6143dd));
    cr_assert_eq(hash_bytes(1, "", 0), UINT64_C(0x972b3299e057ec90));
    cr_assert_eq(hash_bytes(1, "foo", 3), UINT64_C(0x0916be69ecef4010));
}

Test(hash, the_seed_and_the_length_change_the_value)
{
    cr_assert_neq(hash_bytes(0, "foo", 3), hash_bytes(1, "foo", 3));
    cr_assert_neq(hash_bytes(0, "a", 1), hash_bytes(0, "a\0", 2),
                  "a zero byte more is another key");
    cr_assert_neq(hash_bytes(0, "\0", 1), hash_bytes(0, "", 0));
    cr_assert_neq(hash_bytes(0, "12345678\0", 9), h0("12345678"));
    cr_assert_neq(h0("ab"), h0("ba"), "order counts");
}

Test(hash, any_alignment_and_nothing_past_the_length_is_read)
{
    const char *key = "an unaligned key of 29 bytes!";
    size_t n = strlen(key);
    uint64_t want = hash_bytes(7, key, n);
    char buf[64];

    for (size_t off = 0; off < 8; off++) {
        /* Whatever follows the key in memory does not count. */
        memset(buf, 0xa5 + (int)off, sizeof(buf));
        memcpy(buf + off, key, n);
        cr_assert_eq(hash_bytes(7, buf + off, n), want, "offset %zu", off);
    }
    for (size_t len = 0; len <= 16; len++) {
        memset(buf, 'x', sizeof(buf));
        uint64_t a = hash_bytes(3, buf, len);

        memset(buf + len, 'y', sizeof(buf) - len);
        cr_assert_eq(hash_bytes(3, buf, len), a, "length %zu", len);
    }
}

/* Chi-square of n keys "key:i" over 1024 buckets of bits shift..shift+9. */
static double
chi_square(int n, int shift)
{
    static long count[1024];
    double expect = n / 1024.0, chi = 0;
    char key[32];

    memset(count, 0, sizeof(count));
    for (int i = 0; i < n; i++) {
        int len = snprintf(key, sizeof(key), "key:%d", i);

        count[(hash_bytes(0x1234, key, (size_t)len) >> shift) & 1023]++;
    }
    for (int b = 0; b < 1024; b++) {
        chi += (count[b] - expect) * (count[b] - expect) / expect;
    }
    return chi;
}

Test(hash, keys_spread_evenly_over_low_and_high_bits)
{
    /* 1023 degrees of freedom: mean 1023, sd about 45; a bad spread is
     * thousands. */
    for (int shift = 0; shift <= 54; shift += 18) {
        double chi = chi_square(1 << 17, shift);

        cr_assert(chi > 800 && chi < 1300, "bits %d..%d: chi-square %.0f",
                  shift, shift + 9, chi);
    }
}

Test(hash, sequential_keys_do_not_collide)
{
    enum { N = 1 << 16 };
    uint64_t *v = malloc(N * sizeof(*v));
    char key[32];

    cr_assert_not_null(v);
    for (int i = 0; i < N; i++) {
        int len = snprintf(key, sizeof(key), "user:%08d", i);

        v[i] = hash_bytes(0, key, (size_t)len);
    }
    for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < i + 64 && j < N; j++) {
            cr_assert_neq(v[i], v[j], "user:%08d and user:%08d", i, j);
        }
    }
    free(v);
}

Test(hash, one_flipped_bit_changes_about_half_the_output)
{
    unsigned char key[24];
    long flipped = 0, trials = 0;

    for (int k = 0; k < 64; k++) {
        for (size_t i = 0; i < sizeof(key); i++) {
            key[i] = (unsigned char)(k * 31 + i * 7);
        }
        uint64_t base = hash_bytes(0, key, sizeof(key));

        for (size_t bit = 0; bit < sizeof(key) * 8; bit++) {
            key[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            flipped +=
                __builtin_popcountll(base ^ hash_bytes(0, key, sizeof(key)));
            key[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            trials++;
        }
    }
    double mean = (double)flipped / (double)trials;

    cr_assert(mean > 31.0 && mean < 33.0, "%.2f output bits change on average",
              mean);
}
