/*
 * keyslot: table-driven CRC16/XMODEM and hash tags; see keyslot.h.
 */
#include "proto/keyslot.h"

#include <string.h>

/* The table for polynomial 0x1021, built once at first use is not worth
 * a lock: it is computed per byte instead, eight shifts, which is what
 * the table would hold. Keys are short; a route is one call. */
uint16_t
keyslot_crc16(const char *p, size_t n)
{
    uint16_t crc = 0;
    size_t i;
    int b;

    for (i = 0; i < n; i++) {
        crc ^= (uint16_t)((unsigned char)p[i] << 8);
        for (b = 0; b < 8; b++) {
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
        }
    }
    return crc;
}

unsigned
keyslot_of(const char *key, size_t n)
{
    const char *open = memchr(key, '{', n);

    if (open != NULL) {
        size_t rest = n - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);

        if (close != NULL && close > open + 1) {
            key = open + 1;
            n = (size_t)(close - open - 1);
        }
    }
    return keyslot_crc16(key, n) & (KEYSLOT_SLOTS - 1);
}
