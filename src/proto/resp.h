/*
 * resp: an incremental, zero-copy parser for Redis-protocol requests
 * (RESP2 multibulk arrays and inline commands), plus reply encoders.
 *
 * Contract: the caller owns the bytes and hands in everything received that
 * has not been consumed yet. resp_parse() either returns one complete command
 * (its arguments are (pointer, length) pairs into the buffer, valid while
 * those bytes stay in place), says RESP_INCOMPLETE, or fails with a protocol
 * error whose text matches Redis's own ("Protocol error: invalid bulk
 * length"). Nothing is allocated: argument count and bulk lengths are checked
 * against the limits below before a single byte of the payload is looked at.
 * Inline commands are split on spaces and tabs with Redis's quoting rules;
 * that is the only case where the buffer is written to (quoted arguments are
 * unescaped in place), which is why buf is not const. Thread-safe: no state
 * outside the arguments.
 */
#ifndef RP_RESP_H
#define RP_RESP_H

#include <stddef.h>

#define RESP_MAX_ARGS 1024    /* arguments (array count or inline words) */
#define RESP_MAX_BULK 8192    /* bytes of one argument (bulk or inline) */
#define RESP_MAX_INLINE 16384 /* inline line; longer: protocol error */
#define RESP_KEEP_ARGS 8      /* argv slots kept; later args only counted */

enum resp_status {
    RESP_OK = 0,
    RESP_INCOMPLETE = -1,
    RESP_EPROTO = -2, /* *err set to Redis's text, e.g.
                         "Protocol error: invalid multibulk length" */
};

struct resp_arg {
    const char *p; /* into the caller's buffer; not NUL-terminated */
    size_t len;
};

/* One parsed command. */
struct resp_command {
    size_t argc;                          /* arguments sent (may be 0 for an
                                             empty inline line or "*0") */
    struct resp_arg argv[RESP_KEEP_ARGS]; /* the first min(argc, 8) */
    size_t consumed;                      /* bytes of buf this command used */
};

/*
 * Parses one command from buf[0..len). Returns RESP_OK with *cmd filled
 * (consumed > 0), RESP_INCOMPLETE, or RESP_EPROTO with *err pointing to a
 * static string. An array element that is not a bulk string is a protocol
 * error ("Protocol error: expected '$', got 'X'"), as in Redis.
 */
int resp_parse(char *buf, size_t len, struct resp_command *cmd,
               const char **err);

/*
 * Reply encoders. Each writes into out[0..cap) and returns the bytes written,
 * or the bytes it would need when cap is too small (like snprintf, but
 * nothing is written then). None of them allocates.
 */
size_t resp_fmt_simple(char *out, size_t cap, const char *s); /* +s\r\n */
size_t resp_fmt_error(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));                      /* -...\r\n */
size_t resp_fmt_bulk_header(char *out, size_t cap, size_t len); /* $len\r\n */
size_t resp_fmt_bulk(char *out, size_t cap, const char *p, size_t len);
size_t resp_fmt_nil(char *out, size_t cap);                    /* $-1\r\n */
size_t resp_fmt_array_header(char *out, size_t cap, size_t n); /* *n\r\n */

#endif
