/*
 * hash: the one hash function of the proxy, for the cache's table, the
 * fill registry and the HTTP entity-tags. A seeded multiply-xorshift over
 * 8-byte words: fast on short keys, and with a secret seed (the cache's,
 * from getrandom) clients cannot aim many keys at one chain. Not a
 * cryptographic hash. No state; thread-safe.
 */
#ifndef RP_HASH_H
#define RP_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 64 bits of hash of p[0..n) under seed. */
uint64_t hash_bytes(uint64_t seed, const void *p, size_t n);

#endif
