/*
 * pwhash: the password hashes of client users ([users] in proxy.ini).
 *
 * A hash is written "sha256:" and the SHA-256 of the password in 64 hex
 * digits, the same digest Redis's ACL keeps for a password (ACL SETUSER
 * alice #<hex>), so an operator can move a password between the two
 * without knowing it. `redis-proxy --hash-password` prints one for a
 * password read from standard input; `printf %s PASSWORD | sha256sum`
 * gives the same hex digits.
 *
 * The digest is computed with OpenSSL's libcrypto (EVP), which the proxy
 * links for TLS already; a check compares digests with CRYPTO_memcmp, so
 * how long it takes does not depend on how many bytes match. SHA-256 is
 * fast on purpose (a check runs on a worker, per AUTH): it is as strong
 * as the password is random, as for Redis's own ACL; see docs/security.md.
 *
 * Pure functions, no state; thread-safe.
 */
#ifndef RP_PWHASH_H
#define RP_PWHASH_H

#include <stddef.h>

#define PWHASH_LEN 32 /* bytes of a digest */
#define PWHASH_PREFIX "sha256:"
/* The text form's length, NUL included: "sha256:" and 64 hex digits. */
#define PWHASH_TEXT (sizeof(PWHASH_PREFIX) - 1 + 2 * PWHASH_LEN + 1)

/* Parses text[0..len): "sha256:" (any case) then exactly 64 hex digits
 * (any case). Returns 0 with the digest in out, or -1 (out untouched). */
int pwhash_parse(const char *text, size_t len, unsigned char out[PWHASH_LEN]);

/* The digest of the password pw[0..len) into out. Returns 0, or -1 when
 * libcrypto fails (out of memory). */
int pwhash_of(const char *pw, size_t len, unsigned char out[PWHASH_LEN]);

/* 1 when the password pw[0..len) has the digest want, else 0 (a failure
 * of libcrypto counts as no match). The digests are compared in constant
 * time. */
int pwhash_check(const unsigned char want[PWHASH_LEN], const char *pw,
                 size_t len);

/* The text form of h ("sha256:" and lower-case hex) into out[0..cap),
 * cap >= PWHASH_TEXT. */
void pwhash_format(const unsigned char h[PWHASH_LEN], char *out, size_t cap);

#endif
