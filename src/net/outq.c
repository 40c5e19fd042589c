/*
 * outq: ranges in a ring, copies in reference-counted blocks; see outq.h.
 *
 * A copy extends the last range when that range ends where the tail block
 * is filled up to, so a batch of small responses is one range. A copy that
 * does not fit the tail block goes into a new heap block (OUTQ_BLOCK bytes,
 * or the copy's size if larger); a block is freed when no range points into
 * it, except the tail, which is reset for reuse, and the inline block,
 * which is never freed.
 */
#include "net/outq.h"

#include <stdlib.h>
#include <string.h>

#define OUTQ_BLOCK 16384

void
outq_init(struct outq *q, char *mem, size_t cap)
{
    memset(q, 0, sizeof(*q));
    q->segs = q->segs_inline;
    q->cap = OUTQ_INLINE_SEGS;
    q->inl.data = mem;
    q->inl.cap = cap;
    q->tail = &q->inl;
}

/* A block lost a range. */
static void
block_unref(struct outq *q, struct outq_block *b)
{
    if (--b->refs > 0) {
        return;
    }
    if (b == q->tail) {
        b->used = 0;
        if (b->heap && q->inl.refs == 0) {
            /* Back to the inline block: the steady state allocates
             * nothing. */
            q->inl.used = 0;
            q->tail = &q->inl;
            free(b);
        }
    } else if (b->heap) {
        free(b);
    } else {
        b->used = 0;
    }
}

static void
seg_release(struct outq *q, struct outq_seg *s)
{
    if (s->release != NULL) {
        s->release(s->owner);
    } else {
        block_unref(q, s->owner);
    }
}

void
outq_deinit(struct outq *q)
{
    while (q->count > 0) {
        struct outq_seg *s = &q->segs[q->head];

        q->head = (q->head + 1) % q->cap;
        q->count--;
        seg_release(q, s);
    }
    if (q->tail->heap) {
        free(q->tail);
    }
    if (q->segs != q->segs_inline) {
        free(q->segs);
    }
    q->bytes = 0;
}

/* Room for one more range. Returns 0 or -1. */
static int
reserve_seg(struct outq *q)
{
    struct outq_seg *n;
    unsigned i, cap;

    if (q->count < q->cap) {
        return 0;
    }
    cap = q->cap * 2;
    n = malloc(cap * sizeof(*n));
    if (n == NULL) {
        return -1;
    }
    for (i = 0; i < q->count; i++) {
        n[i] = q->segs[(q->head + i) % q->cap];
    }
    if (q->segs != q->segs_inline) {
        free(q->segs);
    }
    q->segs = n;
    q->head = 0;
    q->cap = cap;
    return 0;
}

static struct outq_seg *
last_seg(struct outq *q)
{
    return q->count == 0 ? NULL : &q->segs[(q->head + q->count - 1) % q->cap];
}

static void
push_seg(struct outq *q, const char *p, size_t n, void (*release)(void *),
         void *owner)
{
    struct outq_seg *s = &q->segs[(q->head + q->count) % q->cap];

    s->p = p;
    s->len = n;
    s->release = release;
    s->owner = owner;
    q->count++;
    q->bytes += n;
}

/* A tail block with room for n bytes. Returns it, or NULL. */
static struct outq_block *
tail_with_room(struct outq *q, size_t n)
{
    struct outq_block *b = q->tail;
    size_t cap;

    if (b->cap - b->used >= n) {
        return b;
    }
    cap = n > OUTQ_BLOCK ? n : OUTQ_BLOCK;
    b = malloc(sizeof(*b) + cap);
    if (b == NULL) {
        return NULL;
    }
    b->refs = 0;
    b->heap = 1;
    b->used = 0;
    b->cap = cap;
    b->data = (char *)(b + 1);
    if (q->tail->refs == 0 && q->tail->heap) {
        free(q->tail); /* nothing points into it any more */
    }
    q->tail = b;
    return b;
}

int
outq_copy(struct outq *q, const void *p, size_t n)
{
    struct outq_block *b;
    struct outq_seg *last;

    if (n == 0) {
        return 0;
    }
    if (reserve_seg(q) < 0 || (b = tail_with_room(q, n)) == NULL) {
        return -1;
    }
    memcpy(b->data + b->used, p, n);
    last = last_seg(q);
    if (last != NULL && last->release == NULL && last->owner == b &&
        last->p + last->len == b->data + b->used) {
        last->len += n;
        q->bytes += n;
    } else {
        push_seg(q, b->data + b->used, n, NULL, b);
        b->refs++;
    }
    b->used += n;
    return 0;
}

int
outq_ref(struct outq *q, const void *p, size_t n, void (*release)(void *),
         void *owner)
{
    if (reserve_seg(q) < 0) {
        return -1;
    }
    push_seg(q, p, n, release, owner);
    return 0;
}

int
outq_iov(const struct outq *q, struct iovec *iov, int max)
{
    unsigned i;
    int n = 0;

    for (i = 0; i < q->count && n < max; i++) {
        const struct outq_seg *s = &q->segs[(q->head + i) % q->cap];

        if (s->len > 0) {
            iov[n].iov_base = (void *)s->p;
            iov[n].iov_len = s->len;
            n++;
        }
    }
    return n;
}

void
outq_sent(struct outq *q, size_t n)
{
    q->bytes -= n;
    while (q->count > 0) {
        struct outq_seg *s = &q->segs[q->head];

        if (n < s->len) {
            s->p += n;
            s->len -= n;
            return;
        }
        n -= s->len;
        q->head = (q->head + 1) % q->cap;
        q->count--;
        seg_release(q, s);
    }
}
