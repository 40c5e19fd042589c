/*
 * resp: an incremental, zero-copy parser for Redis-protocol requests
 * (RESP2 multibulk arrays and inline commands).
 *
 * Contract: the caller owns the bytes and hands in everything received that
 * has not been consumed yet, from the start of the command. The parser
 * either returns one complete command (its arguments are (pointer, length)
 * pairs into the buffer, valid while those bytes stay in place), says
 * RESP_INCOMPLETE, or fails with a protocol error whose text matches
 * Redis's own ("Protocol error: invalid bulk length"). Nothing is
 * allocated: the argument count and every bulk length are checked against
 * the limits before a single byte of the payload is looked at, so a
 * caller may size its buffer from `need` safely.
 *
 * An array command is parsed incrementally: a struct resp_parser keeps
 * where the previous call stopped (the count read, the bulks complete, the
 * current bulk's length), and the next call goes on from there, so a 64 MB
 * command arriving in 16 KiB reads is scanned once, not once per read.
 * Offsets are kept relative to the command's first byte, so the caller may
 * move the unconsumed bytes (compact or grow its buffer) between calls.
 *
 * Inline commands are split on spaces and tabs with Redis's quoting rules;
 * that is the only case where the buffer is written to (quoted arguments are
 * unescaped in place), which is why buf is not const. Thread-safe: no state
 * outside the arguments.
 */
#ifndef RP_RESP_H
#define RP_RESP_H

#include <stddef.h>

#include "proto/resp_out.h"

#define RESP_MAX_ARGS 1048576     /* arguments of an array: Redis's limit */
#define RESP_MAX_INLINE 16384     /* inline line; longer: protocol error */
#define RESP_MAX_INLINE_ARGS 1024 /* words of an inline command */
#define RESP_PREAUTH_ARGS 10      /* arguments before AUTH: Redis's limit */
#define RESP_PREAUTH_BULK 16384   /* bytes of a bulk before AUTH: Redis's */
#define RESP_KEEP_ARGS                                                         \
    8 /* argv slots kept; later args only counted                              \
         (inline: see resp_parser.words) */

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
    int is_inline;                        /* sent as an inline line */
    const struct resp_arg *words;         /* inline only: every word, when
                                             the parser has room for them
                                             (resp_parser.words), else NULL */
};

/* Where parsing of the current command stands, between calls. */
struct resp_parser {
    size_t max_request; /* payload bytes of one command at most */
    size_t need;        /* after RESP_INCOMPLETE: bytes from the command's
                           start that must be buffered before the next call
                           can finish the current bulk (0 = unknown,
                           small: a header line) */
    size_t pos;         /* bytes already checked */
    long long argc;     /* -1 until the count line is read */
    long long argi;     /* bulks complete */
    long long bulk;     /* length of the bulk being read; -1 = its header
                           is next */
    size_t payload;     /* payload bytes of the bulks so far */
    size_t keep_off[RESP_KEEP_ARGS];
    size_t keep_len[RESP_KEEP_ARGS];
    struct resp_arg *words; /* room for RESP_MAX_INLINE_ARGS inline words,
                               or NULL: only the first RESP_KEEP_ARGS kept */
    int preauth;            /* 1: the client has yet to authenticate, and
                               an array may have RESP_PREAUTH_ARGS elements
                               of RESP_PREAUTH_BULK bytes at most (Redis's
                               limits, CVE-2021-32675; over them: "Protocol
                               error: unauthenticated multibulk length" or
                               "... bulk length"). The caller sets it
                               before each feed; resp_parser_init clears
                               it. */
};

/* Sets ps up for a first command of at most max_request payload bytes
 * (the sum of an array's bulk lengths, each also at most that; an inline
 * line is bounded by RESP_MAX_INLINE). words may be NULL. */
void resp_parser_init(struct resp_parser *ps, size_t max_request,
                      struct resp_arg *words);

/*
 * Parses one command from buf[0..len), going on from where the last call
 * on ps stopped (the same command, with more bytes after it). Returns
 * RESP_OK with *cmd filled (consumed > 0) and ps ready for the next
 * command, RESP_INCOMPLETE (ps->need may say how much to buffer), or
 * RESP_EPROTO with *err pointing to a static string (ps is then undefined:
 * the connection ends). An array element that is not a bulk string is a
 * protocol error ("Protocol error: expected '$', got 'X'"), as in Redis.
 */
int resp_parser_feed(struct resp_parser *ps, char *buf, size_t len,
                     struct resp_command *cmd, const char **err);

/*
 * 1 when cmd is the first line of an HTTP request, or one of its header
 * lines, read as a command: its name is POST or "Host:" (any case; as in
 * Redis's securityWarningCommand). A web page can make a browser send
 * such a request to the RESP port (a cross-site POST whose body is read as
 * commands); Redis closes the client at once, without a reply.
 */
int resp_is_http(const struct resp_command *cmd);

/* A one-shot resp_parser_feed with a fresh parser (no inline words
 * kept). */
int resp_parse(char *buf, size_t len, size_t max_request,
               struct resp_command *cmd, const char **err);

/* Walks every argument of a command parsed from buf (multibulk: re-read
 * from the validated bytes; inline: cmd->words, or argv when none). */
struct resp_iter {
    const char *p; /* multibulk: the next "$len" header */
    const struct resp_command *cmd;
    size_t i;
};
void resp_iter_init(struct resp_iter *it, const struct resp_command *cmd,
                    const char *buf);
/* Returns 1 with *arg set, or 0 after the last argument. */
int resp_iter_next(struct resp_iter *it, struct resp_arg *arg);

/* The reply encoders are resp_out's (resp_out.h). These two names are
 * kept for src/serve/respd.c until it includes resp_out.h. */
#define resp_fmt_error resp_out_error
#define resp_fmt_bulk_header resp_out_bulk_header

#endif
