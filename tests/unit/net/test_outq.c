/*
 * Unit tests for outq, a conn's unsent output as a queue of ranges: small
 * copies coalesce into one range of the inline block; a copy that does not
 * fit goes to a heap block (OUTQ_BLOCK bytes, or its own size when larger);
 * a zero-length copy is a no-op; referenced ranges are released exactly
 * once, in order, when sent in full (a partial send keeps them) or by
 * outq_deinit; interleaved copies and refs come out of outq_iov in order,
 * however the sends are cut; once everything is sent the inline block is
 * the tail again and reused from its start (no heap block left); byte
 * accounting; and many ranges grow the ring (also when it has wrapped)
 * without changing their order.
 *
 * No I/O: the test plays the socket, gathering with outq_iov and reporting
 * what it "wrote" with outq_sent. The queue's struct is public (conns embed
 * it), so tests look at its blocks directly.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "net/outq.h"

#define INLINE_CAP 64
#define OUTQ_BLOCK 16384 /* outq.c's heap block size */
#define MAX_LOG 256

/* The inline memory (the conn's wbuf) and a record of releases. */
static char mem[INLINE_CAP];
static int released[MAX_LOG]; /* owner ids, in release order */
static int nreleased;

static void
record_release(void *owner)
{
    cr_assert_lt(nreleased, MAX_LOG);
    released[nreleased++] = (int)(intptr_t)owner;
}

#define OWNER(id) ((void *)(intptr_t)(id))

static void
init(struct outq *q)
{
    nreleased = 0;
    outq_init(q, mem, sizeof(mem));
}

static void
copy(struct outq *q, const char *s)
{
    cr_assert_eq(outq_copy(q, s, strlen(s)), 0);
}

static void
ref(struct outq *q, const char *s, int id)
{
    cr_assert_eq(outq_ref(q, s, strlen(s), record_release, OWNER(id)), 0);
}

/* The concatenation of what outq_iov gathers (up to max ranges) into
 * buf[0..cap); returns its length. *nranges gets how many ranges. */
static size_t
gather(const struct outq *q, int max, char *buf, size_t cap, int *nranges)
{
    struct iovec iov[MAX_LOG];
    size_t len = 0;
    int i, n;

    cr_assert_leq(max, MAX_LOG);
    n = outq_iov(q, iov, max);
    for (i = 0; i < n; i++) {
        cr_assert_gt(iov[i].iov_len, 0, "range %d is empty", i);
        cr_assert_leq(len + iov[i].iov_len, cap);
        memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    *nranges = n;
    return len;
}

/* Asserts that the queue holds exactly the bytes of want, in order. */
static void
expect_bytes(const struct outq *q, const char *want)
{
    char buf[1024];
    int n;
    size_t len = gather(q, MAX_LOG, buf, sizeof(buf), &n);

    cr_assert_eq(outq_bytes(q), strlen(want));
    cr_assert_eq(len, strlen(want), "gathered %zu bytes, want %zu", len,
                 strlen(want));
    cr_assert_eq(memcmp(buf, want, len), 0, "got '%.*s', want '%s'", (int)len,
                 buf, want);
}

Test(outq, new_queue_is_empty_with_the_inline_block_as_tail)
{
    struct outq q;
    struct iovec iov[4];

    init(&q);
    cr_assert_eq(outq_bytes(&q), 0);
    cr_assert_eq(outq_iov(&q, iov, 4), 0);
    cr_assert_eq(q.tail, &q.inl);
    cr_assert_eq(q.inl.data, mem);
    cr_assert_eq(q.inl.cap, INLINE_CAP);
    outq_deinit(&q);
}

Test(outq, copies_coalesce_into_one_range_of_the_inline_block)
{
    struct outq q;
    struct iovec iov[4];

    init(&q);
    copy(&q, "ab");
    copy(&q, "cd");
    copy(&q, "ef");
    cr_assert_eq(outq_iov(&q, iov, 4), 1);
    cr_assert_eq(iov[0].iov_base, mem, "not copied into the inline block");
    cr_assert_eq(iov[0].iov_len, 6);
    cr_assert_eq(q.count, 1);
    cr_assert_eq(q.inl.refs, 1);
    expect_bytes(&q, "abcdef");
    outq_deinit(&q);
}

Test(outq, copy_is_taken_at_once_so_the_caller_may_reuse_its_buffer)
{
    struct outq q;
    char src[] = "hello";

    init(&q);
    cr_assert_eq(outq_copy(&q, src, 5), 0);
    memcpy(src, "XXXXX", 5);
    expect_bytes(&q, "hello");
    outq_deinit(&q);
}

Test(outq, zero_length_copy_is_a_noop)
{
    struct outq q;

    init(&q);
    cr_assert_eq(outq_copy(&q, "x", 0), 0);
    cr_assert_eq(q.count, 0);
    cr_assert_eq(outq_bytes(&q), 0);
    copy(&q, "ab");
    cr_assert_eq(outq_copy(&q, "x", 0), 0);
    cr_assert_eq(q.count, 1);
    cr_assert_eq(q.inl.used, 2);
    expect_bytes(&q, "ab");
    outq_deinit(&q);
}

Test(outq, copy_that_does_not_fit_goes_to_a_heap_block)
{
    struct outq q;
    char fill[INLINE_CAP - 4 + 1];
    char want[INLINE_CAP + 8];
    struct iovec iov[4];

    init(&q);
    memset(fill, 'a', sizeof(fill) - 1);
    fill[sizeof(fill) - 1] = '\0';
    copy(&q, fill);
    copy(&q, "bbbbbbbb"); /* 4 bytes of room left */
    cr_assert_eq(q.tail->heap, 1);
    cr_assert_eq(q.tail->cap, OUTQ_BLOCK);
    cr_assert_eq(outq_iov(&q, iov, 4), 2);
    cr_assert_eq(iov[0].iov_base, mem);
    cr_assert_eq(iov[1].iov_base, q.tail->data);
    snprintf(want, sizeof(want), "%sbbbbbbbb", fill);
    expect_bytes(&q, want);
    copy(&q, "cc"); /* fits the heap tail: coalesces with its range */
    cr_assert_eq(q.count, 2);
    outq_deinit(&q);
}

Test(outq, large_copy_gets_a_heap_block_of_its_own_size)
{
    enum { BIG = OUTQ_BLOCK + 1000 };
    static char big[BIG];
    struct outq q;
    struct iovec iov[4];

    init(&q);
    for (size_t i = 0; i < BIG; i++) {
        big[i] = (char)('a' + i % 26);
    }
    cr_assert_eq(outq_copy(&q, big, BIG), 0);
    cr_assert_eq(q.tail->heap, 1);
    cr_assert_eq(q.tail->cap, BIG);
    cr_assert_eq(outq_iov(&q, iov, 4), 1);
    cr_assert_eq(iov[0].iov_len, BIG);
    cr_assert_neq(iov[0].iov_base, big, "copied, not referenced");
    cr_assert_eq(memcmp(iov[0].iov_base, big, BIG), 0);
    cr_assert_eq(outq_bytes(&q), BIG);
    outq_deinit(&q);
}

Test(outq, ref_is_queued_without_copying)
{
    static const char value[] = "a value owned by a cache entry";
    struct outq q;
    struct iovec iov[4];

    init(&q);
    ref(&q, value, 1);
    cr_assert_eq(outq_iov(&q, iov, 4), 1);
    cr_assert_eq(iov[0].iov_base, value);
    cr_assert_eq(iov[0].iov_len, strlen(value));
    cr_assert_eq(q.inl.used, 0);
    outq_deinit(&q);
    cr_assert_eq(nreleased, 1);
}

Test(outq, ref_is_released_once_when_fully_sent_not_before)
{
    struct outq q;

    init(&q);
    ref(&q, "0123456789", 1);
    ref(&q, "abcdefghij", 2);
    outq_sent(&q, 5);
    cr_assert_eq(nreleased, 0, "released after a partial send");
    expect_bytes(&q, "56789abcdefghij");
    outq_sent(&q, 5);
    cr_assert_eq(nreleased, 1);
    cr_assert_eq(released[0], 1);
    outq_sent(&q, 9);
    cr_assert_eq(nreleased, 1, "released with one byte unsent");
    expect_bytes(&q, "j");
    outq_sent(&q, 1);
    cr_assert_eq(nreleased, 2);
    cr_assert_eq(released[1], 2);
    cr_assert_eq(outq_bytes(&q), 0);
    cr_assert_eq(q.count, 0);
    outq_deinit(&q);
    cr_assert_eq(nreleased, 2, "deinit released a sent range again");
}

Test(outq, one_send_across_several_refs_releases_them_in_order)
{
    struct outq q;

    init(&q);
    ref(&q, "aa", 1);
    copy(&q, "-");
    ref(&q, "bb", 2);
    ref(&q, "cc", 3);
    outq_sent(&q, 6); /* aa - bb c */
    cr_assert_eq(nreleased, 2);
    cr_assert_eq(released[0], 1);
    cr_assert_eq(released[1], 2);
    expect_bytes(&q, "c");
    outq_sent(&q, 1);
    cr_assert_eq(nreleased, 3);
    cr_assert_eq(released[2], 3);
    outq_deinit(&q);
}

Test(outq, deinit_releases_every_unsent_ref_once_in_order)
{
    static char big[OUTQ_BLOCK + 1];
    struct outq q;

    init(&q);
    ref(&q, "first", 1);
    copy(&q, "x");
    ref(&q, "second", 2);
    cr_assert_eq(outq_copy(&q, big, sizeof(big)), 0); /* a heap block */
    ref(&q, "third", 3);
    outq_sent(&q, 2); /* into the first */
    outq_deinit(&q);  /* frees the heap block too (ASan sees a leak) */
    cr_assert_eq(nreleased, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(released[i], i + 1);
    }
    cr_assert_eq(outq_bytes(&q), 0);
}

Test(outq, interleaved_copies_and_refs_come_out_in_order)
{
    static const char want[] = "aBBBccddEEf";
    struct outq q;
    char buf[64];
    struct iovec iov[8];
    size_t sent = 0;
    int n, step = 1;

    init(&q);
    copy(&q, "a");
    ref(&q, "BBB", 1);
    copy(&q, "cc");
    copy(&q, "dd"); /* coalesces with "cc" */
    ref(&q, "EE", 2);
    copy(&q, "f");
    cr_assert_eq(outq_iov(&q, iov, 8), 5);
    cr_assert_eq(iov[2].iov_len, 4, "cc and dd not coalesced");
    cr_assert_eq(q.inl.refs, 3, "three copied ranges in the inline block");
    expect_bytes(&q, want);
    /* Sends cut at every place: 1, 2, 3, ... bytes at a time. */
    while (outq_bytes(&q) > 0) {
        size_t len = gather(&q, 8, buf, sizeof(buf), &n), k;

        cr_assert_eq(len, strlen(want) - sent);
        cr_assert_eq(memcmp(buf, want + sent, len), 0, "after %zu: '%.*s'",
                     sent, (int)len, buf);
        k = (size_t)step < len ? (size_t)step : len;
        outq_sent(&q, k);
        sent += k;
        step++;
    }
    cr_assert_eq(sent, strlen(want));
    cr_assert_eq(nreleased, 2);
    cr_assert_eq(released[0], 1);
    cr_assert_eq(released[1], 2);
    outq_deinit(&q);
}

Test(outq, partly_sent_copy_still_coalesces)
{
    struct outq q;

    init(&q);
    copy(&q, "abcd");
    outq_sent(&q, 2);
    copy(&q, "ef");
    cr_assert_eq(q.count, 1);
    expect_bytes(&q, "cdef");
    outq_deinit(&q);
}

Test(outq, inline_block_is_reused_from_its_start_once_all_is_sent)
{
    struct outq q;
    struct iovec iov[2];

    init(&q);
    copy(&q, "first response");
    outq_sent(&q, outq_bytes(&q));
    cr_assert_eq(q.inl.refs, 0);
    cr_assert_eq(q.inl.used, 0);
    copy(&q, "second");
    cr_assert_eq(outq_iov(&q, iov, 2), 1);
    cr_assert_eq(iov[0].iov_base, mem, "the inline block was not reused");
    expect_bytes(&q, "second");
    outq_deinit(&q);
}

Test(outq, no_heap_block_is_left_once_everything_is_sent)
{
    static char big[OUTQ_BLOCK + 100];
    struct outq q;
    struct iovec iov[2];

    init(&q);
    memset(big, 'z', sizeof(big));
    copy(&q, "head");
    ref(&q, "value", 1);
    cr_assert_eq(outq_copy(&q, big, sizeof(big)), 0);
    copy(&q, "tail"); /* a second heap block: the first is full */
    cr_assert_neq(q.tail, &q.inl);
    cr_assert_eq(q.tail->heap, 1);
    outq_sent(&q, 4 + 5 + 100); /* head, value, part of big */
    cr_assert_neq(q.tail, &q.inl);
    outq_sent(&q, outq_bytes(&q));
    cr_assert_eq(q.tail, &q.inl, "a heap block is still the tail");
    cr_assert_eq(q.inl.used, 0);
    cr_assert_eq(q.count, 0);
    cr_assert_eq(nreleased, 1);
    copy(&q, "next");
    cr_assert_eq(outq_iov(&q, iov, 2), 1);
    cr_assert_eq(iov[0].iov_base, mem);
    outq_deinit(&q);
}

Test(outq, bytes_count_every_unsent_byte)
{
    static char big[OUTQ_BLOCK * 2];
    struct outq q;

    init(&q);
    copy(&q, "abc");
    cr_assert_eq(outq_bytes(&q), 3);
    ref(&q, "defgh", 1);
    cr_assert_eq(outq_bytes(&q), 8);
    cr_assert_eq(outq_copy(&q, big, sizeof(big)), 0);
    cr_assert_eq(outq_bytes(&q), 8 + sizeof(big));
    cr_assert_eq(outq_ref(&q, "", 0, record_release, OWNER(2)), 0);
    cr_assert_eq(outq_bytes(&q), 8 + sizeof(big));
    outq_sent(&q, 4);
    cr_assert_eq(outq_bytes(&q), 4 + sizeof(big));
    outq_sent(&q, 4 + 1000);
    cr_assert_eq(outq_bytes(&q), sizeof(big) - 1000);
    outq_sent(&q, sizeof(big) - 1000);
    cr_assert_eq(outq_bytes(&q), 0);
    cr_assert_eq(nreleased, 2, "the empty ref after the sent bytes is done");
    outq_deinit(&q);
}

Test(outq, iov_gathers_at_most_max_ranges_from_the_front)
{
    struct outq q;
    struct iovec iov[2];

    init(&q);
    ref(&q, "a", 1);
    ref(&q, "b", 2);
    ref(&q, "c", 3);
    cr_assert_eq(outq_iov(&q, iov, 2), 2);
    cr_assert_eq(*(const char *)iov[0].iov_base, 'a');
    cr_assert_eq(*(const char *)iov[1].iov_base, 'b');
    outq_deinit(&q);
}

#define MANY 100

Test(outq, many_ranges_grow_the_ring_and_keep_their_order)
{
    static char text[MANY][8];
    char want[MANY * 8 + 1] = "", buf[MANY * 8 + 1];
    struct outq q;
    int i, n;

    init(&q);
    for (i = 0; i < MANY; i++) {
        snprintf(text[i], sizeof(text[i]), "<%d>", i);
    }
    /* Wrap the inline ring first: 6 in, 4 out, so head is not 0. */
    for (i = 0; i < 6; i++) {
        ref(&q, text[i], i);
    }
    outq_sent(&q, strlen(text[0]) + strlen(text[1]) + strlen(text[2]) +
                      strlen(text[3]));
    cr_assert_eq(nreleased, 4);
    cr_assert_eq(q.head, 4);
    for (i = 6; i < MANY; i++) {
        ref(&q, text[i], i);
        if (i % 3 == 0) {
            copy(&q, "."); /* copies between refs: ranges of their own */
        }
    }
    cr_assert_neq(q.segs, q.segs_inline, "the ring did not grow");
    cr_assert_geq(q.cap, q.count);
    for (i = 4; i < MANY; i++) {
        strcat(want, text[i]);
        if (i >= 6 && i % 3 == 0) {
            strcat(want, ".");
        }
    }
    cr_assert_eq(q.count, (MANY - 4) + (MANY - 6 + 2) / 3);
    cr_assert_eq(gather(&q, MAX_LOG, buf, sizeof(buf), &n), strlen(want));
    cr_assert_eq(n, (int)q.count);
    cr_assert_eq(memcmp(buf, want, strlen(want)), 0);
    outq_sent(&q, outq_bytes(&q));
    cr_assert_eq(nreleased, MANY);
    for (i = 0; i < MANY; i++) {
        cr_assert_eq(released[i], i, "release %d was of range %d", i,
                     released[i]);
    }
    outq_deinit(&q);
}
