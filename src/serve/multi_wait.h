/*
 * multi_wait: a MULTI on a Redis Cluster before its node is known.
 *
 * A transaction runs on one node, the one owning its keys, but MULTI
 * itself names none. So the proxy answers MULTI (+OK) and the keyless
 * commands after it (+QUEUED) itself and keeps them here; the first
 * keyed command opens the session on its key's node, and the kept
 * commands are sent first, MULTI included, as SESSION_SILENT (their
 * replies were given already). An EXEC before any keyed command runs the
 * kept commands on any master; an empty one is answered *0, a DISCARD +OK,
 * as Redis would. Belongs to one RESP conn; not thread-safe.
 */
#ifndef RP_MULTI_WAIT_H
#define RP_MULTI_WAIT_H

#include <stddef.h>

#include "proto/resp.h"

struct session;

/* Kept commands at most; one more binds the transaction to any master. */
#define MULTI_WAIT_MAX 64

struct multi_wait {
    int active; /* a MULTI was answered, no session yet */
    size_t n;   /* commands kept after it */
    char *q;    /* their bytes, RESP arrays (heap) */
    size_t len, cap;
};

/* Starts waiting (MULTI answered). */
void multi_wait_begin(struct multi_wait *m);

/* Keeps cmd (parsed from buf). Returns 0, 1 when full (bind now), or -1
 * when out of memory. */
int multi_wait_keep(struct multi_wait *m, const struct resp_command *cmd,
                    const char *buf);

/* Sends MULTI and the kept commands on s, silently, and stops waiting.
 * Returns 0 or -1 (out of memory). */
int multi_wait_bind(struct multi_wait *m, struct session *s);

/* Stops waiting and forgets the kept commands (DISCARD, RESET, close). */
void multi_wait_end(struct multi_wait *m);

#endif
