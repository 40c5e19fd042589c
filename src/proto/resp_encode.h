/*
 * resp_encode: a parsed command (resp.h) as a RESP array, appended to a
 * growable heap buffer, for the requests the proxy sends on (a record's
 * bytes, sessions, the parts of a command split across cluster nodes).
 * An array command is copied as it came; an inline one, or one built from
 * arguments, is encoded.
 */
#ifndef RP_RESP_ENCODE_H
#define RP_RESP_ENCODE_H

#include <stddef.h>

#include "proto/resp.h"

/* Appends cmd (parsed from buf; NULL for a command built from words) to
 * *out of *cap bytes at *len, growing it with realloc. Returns 0, or -1
 * when out of memory (*out as it was, still the caller's to free). */
int resp_encode(const struct resp_command *cmd, const char *buf, char **out,
                size_t *len, size_t *cap);

#endif
