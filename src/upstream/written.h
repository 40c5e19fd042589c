/*
 * written: the keys written through the proxy that replicas may not have
 * yet, so that reads of them go to the master (read-your-writes with
 * [redis] read_from = replica | prefer_replica).
 *
 * Time is counted in rounds of the replicas' monitor (replicas.h): round
 * s is a sample of every master's replication offset taken after s was
 * announced, and a replica "has reached round s" once it has applied that
 * much of its master's stream. A write whose reply came while round s - 1
 * was the last announced is in every master's offset of round s, so a
 * replica that reached s has it. For each key written, the table keeps
 * that round; a read of the key may go to a replica that reached it.
 *
 * Bounded memory: a fixed table of key hashes (open addressing, a short
 * probe), where an entry every replica has reached (written_settle) is
 * free. When a key finds no free place, the oldest entry of its probe is
 * dropped and the floor (the round every replica must reach before any
 * key is read from it) is raised to that entry's round, so forgetting a
 * key never lets a stale read through: it only keeps every read on the
 * master a little longer. Writes whose keys are not known raise the floor
 * directly (written_all). A key being written (a session's write whose
 * reply has not come) is pending: read only from the master until its
 * round is set. While anything is held (written_hold), every read goes to
 * the master.
 *
 * Keys are hashed without their database: invalidations name keys without
 * one, and a write to k in one database keeping reads of k in another on
 * the master costs nothing but a little offload. Collisions only keep a
 * read on the master.
 *
 * Thread-safe: one mutex around a few memory accesses; no I/O.
 */
#ifndef RP_WRITTEN_H
#define RP_WRITTEN_H

#include <stddef.h>
#include <stdint.h>

#define WRITTEN_PENDING UINT64_MAX /* a round no replica ever reaches */
#define WRITTEN_PROBE 8            /* places a key may take in the table */

struct written;

/* A table of at most capacity keys (rounded up to a power of two, at
 * least WRITTEN_PROBE). Returns NULL when out of memory. */
struct written *written_create(size_t capacity);

/* Frees it. NULL is a no-op. */
void written_destroy(struct written *w);

/* The hash the table keys by. */
uint64_t written_hash(const char *key, size_t klen);

/* Key hash h was written: replicas must reach round (WRITTEN_PENDING:
 * not yet known) before it is read from them. A later call for the same
 * key replaces the round. Returns 0, or -1 when a pending key found no
 * place (every entry of its probe pending too): the caller holds the
 * table instead (written_hold). */
int written_key(struct written *w, uint64_t h, uint64_t round);

/* A write whose keys are not known: every key needs round. */
void written_all(struct written *w, uint64_t round);

/* While held (a count), every read needs WRITTEN_PENDING. */
void written_hold(struct written *w);
void written_release(struct written *w);

/* The round a replica must have reached to serve a read of key hash h:
 * the floor, or the key's round when higher (WRITTEN_PENDING while held
 * or pending). */
uint64_t written_need(struct written *w, uint64_t h);

/* The round every replica must reach before serving anything. */
uint64_t written_floor(struct written *w);

/* Every replica has reached round done: entries at or below it are free. */
void written_settle(struct written *w, uint64_t done);

/* The highest round settled so far. */
uint64_t written_settled(struct written *w);

/* Figures: keys held now (not yet settled), and the floor. */
struct written_stats {
    long keys;
    long dropped; /* entries dropped for room (the floor raised) */
    uint64_t floor;
    uint64_t settled;
};
void written_stats(struct written *w, struct written_stats *out);

#endif
