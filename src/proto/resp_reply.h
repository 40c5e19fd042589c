/*
 * resp_reply: finds where a Redis reply ends, without allocating or
 * copying, so replies can be relayed byte for byte; then reads the few
 * things the proxy needs from a complete one (error text, integer, bulk
 * payload, an aggregate's elements). One scanner for both protocols:
 *
 *   RESP2  + simple string, - error, : integer, $ bulk ($-1 null),
 *          * array (*-1 null);
 *   RESP3  _ null, , double, # boolean, ( big number, ! blob error,
 *          = verbatim string, % map (n pairs: 2n elements), ~ set,
 *          > push, | attribute (a map annotating the element after it),
 *          and the streamed forms: "$?" followed by ";len" chunks up to
 *          ";0", and "*?", "%?", "~?" whose elements end at ".".
 *
 * Fixed-size aggregates need no stack: lengths are prefix counts, so the
 * scanner keeps only how many elements the reply still needs (an aggregate
 * of n adds n, each element read takes one away, an attribute adds its 2n
 * without taking the place of the element it annotates). Nesting them is
 * therefore unbounded. Only streamed aggregates, whose end is a marker,
 * keep a frame each (the count of the level around them); more than
 * RESP_REPLY_MAX_STREAMED open inside one another is RESP_EPROTO.
 *
 * A reply arriving in pieces is resumed where the previous call stopped
 * (a long line is not searched again from its start); offsets are
 * relative to the reply's first byte, so the caller may move its bytes
 * between calls. Replies come from Redis, which the proxy trusts to speak
 * the protocol; malformed bytes are still an error (RESP_EPROTO), never a
 * crash, an unbounded loop or a read outside buf[0..len). Nothing recurses.
 * Thread-safe: no state outside the arguments.
 */
#ifndef RP_RESP_REPLY_H
#define RP_RESP_REPLY_H

#include <stddef.h>

#define RESP_REPLY_MAX_STREAMED 8 /* streamed aggregates open at once */

/* A streamed aggregate being read (the scanner's own). */
struct resp_reply_open {
    long long outer; /* elements the level around it still needed,
                        this aggregate included */
    long long count; /* its elements begun so far */
    char type;       /* '*', '%' or '~' */
};

/*
 * Where scanning of one reply stands. Callers read pos, attr_len and type
 * after RESP_OK; the other fields are the scanner's, between calls.
 */
struct resp_reply {
    size_t pos;      /* bytes of the reply checked so far; after RESP_OK,
                        the reply's length (any attribute before it
                        included) */
    size_t attr_len; /* after RESP_OK: bytes of the attribute(s) before
                        the reply proper, 0 when none; the reply proper
                        starts at this offset */
    char type;       /* the reply proper's type byte ('>' for a push),
                        once its header has been read; 0 before */

    long long pending; /* elements still needed at the innermost level */
    size_t bulk_end;   /* inside a bulk or chunk: where its payload + CRLF
                          end; 0 = not inside one */
    size_t verbatim;   /* inside a verbatim string: where its payload
                          starts (its 4th byte must be ':'); 0 = not */
    size_t line_from;  /* the current line has no LF before this offset */
    int chunked;       /* inside a streamed string: chunks follow */
    int depth;         /* streamed aggregates open */
    struct resp_reply_open open[RESP_REPLY_MAX_STREAMED];
};

/* Sets r up for a reply starting at the next byte. */
void resp_reply_init(struct resp_reply *r);

/*
 * Scans buf[0..len), the reply's bytes so far from its first, going on
 * from r->pos. Returns RESP_OK when the reply is complete (it is
 * buf[0..r->pos), r->type and r->attr_len are set; re-init r for the next
 * one), RESP_INCOMPLETE (r->pos <= len; call again with more bytes), or
 * RESP_EPROTO for bytes that are no RESP2 or RESP3 reply (r is then
 * undefined: the connection is lost). A leading attribute and the reply it
 * annotates are one reply; a push is one reply of its own.
 */
int resp_reply_scan(struct resp_reply *r, const char *buf, size_t len);

/*
 * Accessors. Each reads the complete reply at the start of buf[0..len)
 * (bytes after it are ignored), looking through a leading attribute, and
 * returns 1 with the results set, or 0 (results untouched) when the reply
 * is not of the kind asked for or buf holds no complete reply. Pointers
 * returned point into buf and are valid while it is. Pure: thread-safe.
 */

/* The text of an error reply ("-ERR ..." or "!len" blob error), without
 * the type byte, length line and CRLF, in *msg and *mlen. */
int resp_reply_error(const char *buf, size_t len, const char **msg,
                     size_t *mlen);

/* The value of an integer reply (":123\r\n"), any signed 64-bit value. */
int resp_reply_integer(const char *buf, size_t len, long long *v);

/* The payload of a bulk reply ("$3\r\nabc\r\n") in *p and *plen; a null
 * ("$-1" or RESP3 "_") gives *p = NULL, *plen = 0. A streamed string
 * ("$?") has no one payload: 0. */
int resp_reply_bulk(const char *buf, size_t len, const char **p, size_t *plen);

/* Whether the reply is a null: "$-1", "*-1" or "_". */
int resp_reply_is_null(const char *buf, size_t len);

/*
 * An aggregate reply (type '*', '%', '~' or '>', fixed or streamed):
 * *type, *count its elements (a map counts each key and each value, 2 per
 * pair; a streamed aggregate's elements are counted by walking them), and
 * *first the offset in buf of its first element (where the count line
 * ends). A null array ("*-1") is no aggregate: 0. Of a fixed aggregate
 * only the count line is read: walk the elements with
 * resp_reply_element_len, which says 0 where they are cut short.
 */
int resp_reply_aggregate(const char *buf, size_t len, char *type, size_t *count,
                         size_t *first);

/* The length of the complete element at buf[off..len), an attribute
 * before it included: the step from one element of an aggregate to the
 * next. Returns 0 when no complete element starts there (off >= len, the
 * "." that ends a streamed aggregate, malformed or cut-short bytes). */
size_t resp_reply_element_len(const char *buf, size_t len, size_t off);

#endif
