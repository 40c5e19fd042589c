/*
 * qsbr: quiescent-state-based reclamation (the QSBR flavour of userspace
 * RCU, and the Linux kernel's RCU): memory that readers reach through an
 * atomic pointer is freed once every thread that may have loaded the old
 * pointer has since passed a quiescent state, a point where it holds no
 * such pointer. Readers pay nothing per read but a thread-local check;
 * each reading thread announces a quiescent state where it naturally has
 * one (a worker between connections, a housekeeping thread once per tick)
 * with one load and one store to its own cache line, and goes offline
 * around a wait of unbounded length (a worker waiting for work). The
 * writer unpublishes the old pointer, retires it, and frees whatever
 * every online reader has passed.
 *
 * A thread becomes a reader of a domain on its first qsbr_read(), and
 * stops being one when it exits (a thread-specific destructor), so a
 * thread that reads is never missed; a reader that never announces a
 * quiescent state only delays the frees (qsbr_pending says how many wait),
 * it can never make one early. A thread reads one domain at a time.
 *
 * Ordering (why a free is safe): the writer stores the new pointer, then
 * bumps the epoch (seq_cst) and tags the old pointer with the new epoch;
 * a reader's quiescent state copies the epoch into its slot (acquire load,
 * release store), so a reader whose slot shows the tag loaded the pointer
 * after the bump, and finished with the old one before the store. Going
 * online writes the slot and reads the epoch again (seq_cst, as the
 * writer's bump and scan), until the epoch did not move in between:
 * either the writer's scan sees the reader online with an old epoch and
 * keeps the old pointer, or the reader read the epoch after the bump and
 * so loads the new pointer.
 *
 * Thread-safe. `lock` guards the lists of readers and retired pointers
 * (registration, exit, retire, reclaim); reads never take it.
 */
#ifndef RP_QSBR_H
#define RP_QSBR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct qsbr;

/* One reading thread, in its own cache line. */
struct qsbr_reader {
    _Atomic uint64_t seen; /* 0: offline; else the epoch at its last
                              quiescent state (or since it came online) */
    struct qsbr *q;        /* the domain it reads */
    struct qsbr_reader *next;
    char pad[64 - sizeof(uint64_t) - 2 * sizeof(void *)];
};

/* A pointer retired, freed with free_fn once no reader can hold it. */
struct qsbr_retired {
    struct qsbr_retired *next;
    uint64_t epoch; /* readers must have seen this epoch */
    void *p;
    void (*free_fn)(void *p);
};

/* A domain: what its readers read, and what waits to be freed. */
struct qsbr {
    _Atomic uint64_t epoch;       /* 1 at init; bumped by each retire */
    pthread_mutex_t lock;         /* readers, retired, pending */
    struct qsbr_reader *readers;  /* every registered thread */
    struct qsbr_retired *retired; /* oldest first */
    struct qsbr_retired **tail;
    atomic_long pending; /* retired, not yet freed */
};

/* The calling thread's reader, NULL before its first read. Internal. */
extern _Thread_local struct qsbr_reader *qsbr__self;

/* Sets q up. Returns 0 or -1. */
int qsbr_init(struct qsbr *q);

/* Frees everything still retired in q and forgets its readers (every
 * thread but the caller has exited). NULL is a no-op. */
void qsbr_deinit(struct qsbr *q);

/* Makes the calling thread a reader of q (online), leaving the domain it
 * read before. Internal: qsbr_read does it on first use. */
void qsbr__register(struct qsbr *q);

/* Call before loading a pointer q protects: registers the calling thread
 * on its first read. A read while offline is a bug (assert). */
static inline void
qsbr_read(struct qsbr *q)
{
    struct qsbr_reader *r = qsbr__self;

    if (r == NULL || r->q != q) {
        qsbr__register(q);
    }
}

/* The calling thread holds no protected pointer now. Cheap; a no-op for
 * a thread that reads nothing or is offline. */
static inline void
qsbr_quiescent(void)
{
    struct qsbr_reader *r = qsbr__self;
    uint64_t e, s;

    if (r == NULL) {
        return;
    }
    e = atomic_load_explicit(&r->q->epoch, memory_order_acquire);
    s = atomic_load_explicit(&r->seen, memory_order_relaxed);
    if (s != 0 && s != e) {
        atomic_store_explicit(&r->seen, e, memory_order_release);
    }
}

/* The calling thread is about to wait for an unbounded time holding no
 * protected pointer: it no longer delays frees. No-op for a non-reader. */
void qsbr_offline(void);

/* Back from such a wait: reads may follow. */
void qsbr_online(void);

/* 1 when the calling thread is a reader of q and online (for asserts). */
int qsbr_online_in(const struct qsbr *q);

/*
 * p, reachable until now through a pointer the caller has just replaced
 * (with an atomic store), is to be freed with free_fn once no reader can
 * hold it; frees what it can at once (qsbr_reclaim). The caller, if a
 * reader, passes a quiescent state here: it must hold no protected
 * pointer but what it still owns. Returns 0, or -1 when out of memory (p
 * is then never freed: a leak, never a free too early).
 */
int qsbr_retire(struct qsbr *q, void *p, void (*free_fn)(void *p));

/* Frees every retired pointer that every online reader has passed.
 * Returns how many are still waiting. */
long qsbr_reclaim(struct qsbr *q);

/* Retired pointers not yet freed. */
long qsbr_pending(struct qsbr *q);

#endif
