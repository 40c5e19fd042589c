/*
 * forward: commands the proxy does not answer itself, sent to Redis over
 * the shared pool and answered with Redis's reply, byte for byte.
 *
 * A client's consecutive forwarded commands are collected into a batch
 * (their bytes stay where the parser found them, in the conn's read
 * buffer) and sent together on one pooled connection; the replies are
 * appended to the client's output in order. A command the proxy answers
 * itself (a GET from the cache, PING...) ends the batch first, so replies
 * stay in request order and a GET after a write reads the write.
 *
 * Read-your-writes: before any of the batch's replies can be sent, the
 * keys each writing command changed are removed from the cache and their
 * fills in flight marked (flights_invalidate), with the keys learned from
 * Redis's command table (upstream/commands.h), or from COMMAND GETKEYS on
 * the same connection where the table says only Redis can tell. A write
 * whose keys cannot be determined, and a write without keys (FLUSHALL,
 * FLUSHDB, SWAPDB), empties the cache, and is counted.
 */
#ifndef RP_FORWARD_H
#define RP_FORWARD_H

#include <stddef.h>
#include <sys/uio.h>

#include "net/conn.h"
#include "proto/resp.h"
#include "serve/forward_cmd.h"

#define FORWARD_MAX_BYTES (256 << 10) /* request bytes in one batch */

struct proxy;
struct cmd_table;

/* A batch being collected for one conn. */
struct forward_batch {
    struct proxy *px;
    struct conn *c;
    const struct cmd_table *table; /* acquired by the caller */
    struct forward_cmd cmds[FORWARD_MAX_CMDS];
    struct iovec iov[FORWARD_MAX_CMDS];
    size_t n, bytes;
    char *encoded; /* inline commands re-encoded (heap), freed by flush */
    size_t enc_len, enc_cap;
    /* Where replies go: NULL appends them to the conn's output; else
     * this sink gets each (HTTP writes turn them into a status). */
    int (*sink)(void *arg, size_t i, const char *reply, size_t len);
    void *sink_arg;
};

/* Starts an empty batch for c. */
void forward_init(struct forward_batch *b, struct proxy *px, struct conn *c,
                  const struct cmd_table *table);

/*
 * Adds a parsed command (cmd, parsed from buf) to the batch. An inline
 * command is re-encoded; an array is referenced in place (buf must stay
 * where it is until forward_flush). Returns 0, 1 when the batch is full
 * and must be flushed before another is added, or -1 when out of memory.
 */
int forward_add(struct forward_batch *b, const struct resp_command *cmd,
                const char *buf);

/* Adds the command argv[0..argc) (for the proxy's own requests, e.g. an
 * HTTP PUT's SET). Returns as forward_add. */
int forward_add_args(struct forward_batch *b, const struct resp_arg *argv,
                     size_t argc);

/* Sends the batch, appends every reply (or an -ERR naming why Redis did
 * not answer) to the conn's output (or hands it to the sink),
 * invalidates what the writes changed, and empties the batch. Returns 0
 * or CONN_IO_ERR. */
int forward_flush(struct forward_batch *b);

#endif
