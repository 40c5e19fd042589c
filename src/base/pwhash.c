/*
 * pwhash: SHA-256 password hashes in their text form; see pwhash.h.
 */
#include "base/pwhash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int
pwhash_parse(const char *text, size_t len, unsigned char out[PWHASH_LEN])
{
    size_t plen = sizeof(PWHASH_PREFIX) - 1, i;
    unsigned char h[PWHASH_LEN];

    if (len != plen + 2 * PWHASH_LEN ||
        strncasecmp(text, PWHASH_PREFIX, plen) != 0) {
        return -1;
    }
    text += plen;
    for (i = 0; i < PWHASH_LEN; i++) {
        int hi = OPENSSL_hexchar2int((unsigned char)text[2 * i]);
        int lo = OPENSSL_hexchar2int((unsigned char)text[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return -1;
        }
        h[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(out, h, PWHASH_LEN); /* out untouched when the text is bad */
    return 0;
}

int
pwhash_of(const char *pw, size_t len, unsigned char out[PWHASH_LEN])
{
    unsigned int n = 0;

    /* EVP_Digest: one call, its context on OpenSSL's side and freed. */
    if (EVP_Digest(pw, len, out, &n, EVP_sha256(), NULL) != 1 ||
        n != PWHASH_LEN) {
        return -1;
    }
    return 0;
}

int
pwhash_check(const unsigned char want[PWHASH_LEN], const char *pw, size_t len)
{
    unsigned char got[PWHASH_LEN];

    if (pwhash_of(pw, len, got) < 0) {
        return 0;
    }
    return CRYPTO_memcmp(got, want, PWHASH_LEN) == 0;
}

void
pwhash_format(const unsigned char h[PWHASH_LEN], char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    size_t plen = sizeof(PWHASH_PREFIX) - 1, i;

    if (cap < PWHASH_TEXT) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return;
    }
    snprintf(out, cap, "%s", PWHASH_PREFIX);
    for (i = 0; i < PWHASH_LEN; i++) {
        out[plen + 2 * i] = digits[h[i] >> 4];
        out[plen + 2 * i + 1] = digits[h[i] & 0xf];
    }
    out[plen + 2 * PWHASH_LEN] = '\0';
}
