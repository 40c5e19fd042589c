/*
 * keyslot: the Redis Cluster hash slot of a key, exactly as the cluster
 * specification defines it: CRC16 (XMODEM: polynomial 0x1021, initial 0,
 * no reflection) of the key, modulo 16384; when the key holds a hash tag,
 * a "{" followed by at least one byte and then a "}", only the bytes
 * between the first "{" and the first "}" after it are hashed. Pure
 * functions, thread-safe.
 */
#ifndef RP_KEYSLOT_H
#define RP_KEYSLOT_H

#include <stddef.h>
#include <stdint.h>

#define KEYSLOT_SLOTS 16384

/* CRC16/XMODEM of p[0..n). */
uint16_t keyslot_crc16(const char *p, size_t n);

/* The slot of key[0..n), 0..16383. */
unsigned keyslot_of(const char *key, size_t n);

#endif
