/*
 * forward_util: what the transparency suites (test_forward.c in RESP2,
 * test_resp3_forward.c in RESP3) share: the table of single commands,
 * every type and every kind of error, that each sends to the proxy and to
 * a second redis-server (the twin) holding the same data; the data both
 * start with; and a burst of thousands of pipelined mixed commands sent
 * on one connection to each, whose whole reply streams are compared.
 * These fail the running Criterion test instead of returning an error.
 * Not thread-safe.
 */
#ifndef RP_E2E_FORWARD_UTIL_H
#define RP_E2E_FORWARD_UTIL_H

#include <stddef.h>

#include "harness.h"

/* One command of the table. */
struct fwd_case {
    const char *argv[14]; /* NULL-terminated */
    const char *want;     /* exact RESP2 reply expected of both, or NULL */
    int is_inline;        /* sent as an inline command (words joined) */
};

/* The table, in the order it must run (later cases read what earlier
 * ones wrote; the last ones open a session with BLPOP). Run through a
 * proxy with tracking off, its GETs hit the cache exactly FWD_CASE_HITS
 * times, and it opens one session. */
extern const struct fwd_case fwd_cases[];
extern const size_t fwd_ncases;
#define FWD_CASE_HITS 4

/* The case's bytes into out: a RESP array, or an inline line. Returns
 * their length. */
size_t fwd_encode(const struct fwd_case *t, char *out, size_t cap);

/* Sets the data the table starts with in a and b, directly. */
void fwd_seed(const struct h_redis *a, const struct h_redis *b);

/* ---- the burst ---- */

#define FWD_BURST_CMDS 5000

/* A script of commands as one buffer. */
struct fwd_script {
    char *p; /* malloc'd (free it) */
    size_t len, cap;
    int gets; /* GETs of string keys (the cache can answer them) */
};

/* FWD_BURST_CMDS commands from a fixed pseudo-random sequence: mostly
 * GETs of a few keys (so many are hits) between the writes that change
 * them, other types, and errors of every kind. None opens a session. */
void fwd_build_script(struct fwd_script *s);

/* Connects to port; when hello is not NULL, sends it (e.g. "HELLO 3"
 * inline) and reads and drops its one reply; then sends the script in
 * one burst while reading its FWD_BURST_CMDS replies (so neither side
 * stalls the other). Returns their length; the bytes in *out (malloc'd). */
long fwd_run_burst(int port, const char *hello, const struct fwd_script *s,
                   char **out);

/* Fails the test naming the first reply where the two streams of
 * FWD_BURST_CMDS replies differ. */
void fwd_report_difference(const char *a, size_t alen, const char *b,
                           size_t blen);

#endif
