/*
 * resp_out: the replies the proxy writes itself (cache hits, nulls,
 * errors, PING, HELLO, CLIENT INFO, replies merged from cluster nodes), in
 * the protocol the client speaks. One encoder per reply shape; those that
 * differ between the protocols take the client's (proto: 3 for RESP3, any
 * other value RESP2) and write what Redis 7.0 writes to a client of that
 * protocol:
 *
 *   shape          RESP2                  RESP3
 *   null           $-1                    _
 *   null array     *-1                    _
 *   map of n       *2n (keys and values)  %n
 *   set of n       *n                     ~n
 *   push of n      *n                     >n
 *   boolean        :1 / :0                #t / #f
 *   double         $len of "%.17g"        ,%.17g ("inf", "-inf", "nan")
 *   verbatim       $len of the text       =len fmt:text
 *
 * Contract, like snprintf's: each writes into out[0..cap) and returns the
 * bytes the reply takes; when that is more than cap nothing is written
 * (out may then be NULL), so a caller can size its buffer with a first
 * call and never sends a partial reply. Nothing is allocated. Thread-safe:
 * no state outside the arguments.
 */
#ifndef RP_RESP_OUT_H
#define RP_RESP_OUT_H

#include <stddef.h>

/* The same in both protocols. */
size_t resp_out_simple(char *out, size_t cap, const char *s); /* +s\r\n, CR
                                                       and LF as spaces */
size_t resp_out_error(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4))); /* -...\r\n, CR and LF as spaces;
                                              0 for a bad format */
size_t resp_out_integer(char *out, size_t cap, long long v);    /* :v\r\n */
size_t resp_out_bulk_header(char *out, size_t cap, size_t len); /* $len\r\n */
size_t resp_out_bulk(char *out, size_t cap, const char *p,
                     size_t len); /* $len\r\n p[0..len) \r\n; p may be NULL
                                     when len is 0 */
size_t resp_out_array_header(char *out, size_t cap, size_t n); /* *n\r\n */

/* What differs: see the table above. */
size_t resp_out_null(char *out, size_t cap, int proto);
size_t resp_out_null_array(char *out, size_t cap, int proto);
size_t resp_out_map_header(char *out, size_t cap, int proto,
                           size_t npairs); /* then 2 * npairs elements */
size_t resp_out_set_header(char *out, size_t cap, int proto, size_t n);
size_t resp_out_push_header(char *out, size_t cap, int proto, size_t n);
size_t resp_out_bool(char *out, size_t cap, int proto, int v); /* v != 0:
                                                                  true */
size_t resp_out_double(char *out, size_t cap, int proto, double d);
/* format: three characters ("txt" for plain text, "mkd" for markdown);
 * RESP2 sends the text alone. */
size_t resp_out_verbatim(char *out, size_t cap, int proto, const char *format,
                         const char *p, size_t len);

/* The fields of a HELLO reply (every string NUL-terminated, borrowed for
 * the call). */
struct resp_out_hello {
    const char *server;  /* "redis" */
    const char *version; /* the version clients are told, e.g. "7.0.15" */
    long long id;        /* the client's connection id */
    const char *mode;    /* "standalone", "cluster" or "sentinel" */
    const char *role;    /* "master" or "replica" */
};

/*
 * HELLO's reply as Redis 7.0 writes it to a client now speaking proto: a
 * map (RESP2: a flat array of 14 elements) of server, version, proto (the
 * protocol given), id, mode, role and modules (always an empty array),
 * keys and strings as bulk strings, proto and id as integers.
 */
size_t resp_out_hello(char *out, size_t cap, int proto,
                      const struct resp_out_hello *h);

#endif
