/*
 * http_text: the byte-level helpers of HTTP that are not parsing a head:
 * percent-decoding a request path, the reason phrase of a status, and
 * checking a value is UTF-8 (for its Content-Type). No allocation, no
 * state; thread-safe.
 */
#ifndef RP_HTTP_TEXT_H
#define RP_HTTP_TEXT_H

#include <stddef.h>

/*
 * Percent-decodes s[0..len) in place, exactly once ("%2F" becomes '/', '+'
 * stays '+', "%00" becomes a NUL byte). Returns the decoded length, or -1
 * when a '%' is not followed by two hex digits.
 */
long http_percent_decode(char *s, size_t len);

/* The reason phrase for a status code, e.g. "Not Found"; "" if unknown. */
const char *http_reason(int status);

/* Returns 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int http_is_utf8(const char *s, size_t len);

#endif
