/*
 * resp_reply: finds where a Redis reply ends, without allocating or
 * copying, so replies can be relayed byte for byte. RESP2 only: simple
 * strings, errors, integers, bulk strings (including the null bulk
 * "$-1"), and arrays of any of these nested to any depth (including the
 * null array "*-1").
 *
 * No stack: arrays are prefix counts, so the scanner only keeps how many
 * elements the reply still needs (an array of n adds n, each element
 * read takes one away), where it stopped, and where the bulk it is inside
 * ends. A reply arriving in pieces is resumed where the previous call
 * stopped; offsets are relative to the reply's first byte, so the caller
 * may move its bytes between calls. Replies come from Redis, which the
 * proxy trusts to speak the protocol; malformed bytes are still an error
 * (RESP_EPROTO), never a crash or a hang. Thread-safe: no state outside
 * the arguments.
 */
#ifndef RP_RESP_REPLY_H
#define RP_RESP_REPLY_H

#include <stddef.h>

/* Where scanning of one reply stands. */
struct resp_reply {
    size_t pos;        /* bytes of the reply checked so far */
    long long pending; /* elements still needed (1 for a fresh reply) */
    size_t bulk_end;   /* inside a bulk: where its payload + CRLF end;
                          0 = not inside one */
    char type;         /* the reply's first byte, once seen */
};

/* Sets r up for a reply starting at the next byte. */
void resp_reply_init(struct resp_reply *r);

/*
 * Scans buf[0..len), the reply's bytes so far from its first, going on
 * from r->pos. Returns RESP_OK when the reply is complete (it is
 * buf[0..r->pos); re-init r for the next one), RESP_INCOMPLETE, or
 * RESP_EPROTO for bytes that are not a RESP2 reply.
 */
int resp_reply_scan(struct resp_reply *r, const char *buf, size_t len);

/* The text of an error reply buf[0..len) ("-ERR ..."), without the '-'
 * and the CRLF, in *msg and *mlen. Returns 1, or 0 when it is no error. */
int resp_reply_error(const char *buf, size_t len, const char **msg,
                     size_t *mlen);

/* The value of an integer reply (":123\r\n"). Returns 1, or 0 when it is
 * no integer reply. */
int resp_reply_integer(const char *buf, size_t len, long long *v);

/* The payload of a bulk reply ("$3\r\nabc\r\n") in *p and *plen; a null
 * bulk gives *p = NULL. Returns 1, or 0 when it is no bulk reply. */
int resp_reply_bulk(const char *buf, size_t len, const char **p, size_t *plen);

#endif
