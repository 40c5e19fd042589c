/*
 * outq: a connection's unsent output, in order, as a queue of byte
 * ranges. Small pieces (response heads, short replies) are copied into
 * blocks, the first of which lives inside the conn; large ones are queued
 * by reference with their owner (a cache entry, a reply buffer), so a
 * value is never copied and stays alive until its last byte is written.
 * A range is released (its owner's release function called) as soon as it
 * has been sent in full, or when the queue is dropped.
 *
 * The steady state of a keep-alive connection costs no allocation: its
 * responses are copied into the inline block, coalesced into one range,
 * sent with one send(), and the block is reused. Heap blocks and a larger
 * range array appear only while output waits for a slow reader, and go
 * away when it has been written.
 *
 * Not thread-safe: a queue belongs to its conn's owner. No I/O here: the
 * caller writes what outq_iov() gathers and reports it with outq_sent().
 */
#ifndef RP_OUTQ_H
#define RP_OUTQ_H

#include <stddef.h>
#include <sys/uio.h>

#define OUTQ_INLINE_SEGS 8

/* A block that copied bytes are appended to. */
struct outq_block {
    unsigned refs; /* ranges pointing into it */
    int heap;      /* 1: malloc'd, freed when unused; 0: the inline one */
    size_t used, cap;
    char *data;
};

/* One range of output. */
struct outq_seg {
    const char *p;
    size_t len;
    void (*release)(void *owner); /* NULL for copies (owner: the block) */
    void *owner;
};

struct outq {
    struct outq_seg *segs; /* a ring: segs_inline, or heap when grown */
    unsigned head, count, cap;
    size_t bytes;            /* unsent bytes in all */
    struct outq_block *tail; /* where copies go */
    struct outq_block inl;   /* the inline block (memory from the conn) */
    struct outq_seg segs_inline[OUTQ_INLINE_SEGS];
};

/* Sets q up empty, copying into mem[0..cap) first (owned by the caller,
 * e.g. the conn's write buffer, and outliving q). */
void outq_init(struct outq *q, char *mem, size_t cap);

/* Releases every range still queued and frees what q allocated. */
void outq_deinit(struct outq *q);

/* Appends a copy of p[0..n). Returns 0, or -1 when out of memory. */
int outq_copy(struct outq *q, const void *p, size_t n);

/* Appends p[0..n) by reference: release(owner) is called once the range
 * has been sent or the queue is dropped. Returns 0; on -1 (out of memory)
 * nothing was queued and release was not called. */
int outq_ref(struct outq *q, const void *p, size_t n,
             void (*release)(void *owner), void *owner);

/* Unsent bytes. */
static inline size_t
outq_bytes(const struct outq *q)
{
    return q->bytes;
}

/* Fills iov[0..max) with the oldest unsent ranges; returns how many. */
int outq_iov(const struct outq *q, struct iovec *iov, int max);

/* n bytes from the front were written: drops and releases what is done. */
void outq_sent(struct outq *q, size_t n);

#endif
