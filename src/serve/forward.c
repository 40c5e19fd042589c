/*
 * forward: batches of forwarded commands; see forward.h.
 */
#include "serve/forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/flight.h"
#include "net/standby.h"
#include "proto/resp_encode.h"
#include "proto/resp_reply.h"
#include "serve/cluster_fwd.h"
#include "serve/proxy.h"
#include "upstream/commands.h"
#include "upstream/nodes.h"
#include "upstream/upstream.h"

#define ERR_REPLY_MAX 512

void
forward_init(struct forward_batch *b, struct proxy *px, struct conn *c,
             const struct cmd_table *table)
{
    b->px = px;
    b->c = c;
    b->table = table;
    b->n = b->bytes = 0;
    b->encoded = NULL;
    b->enc_len = b->enc_cap = 0;
    b->sink = NULL;
    b->sink_arg = NULL;
}

int
forward_add(struct forward_batch *b, const struct resp_command *cmd,
            const char *buf)
{
    struct forward_cmd *f;

    if (b->n == FORWARD_MAX_CMDS ||
        (b->n > 0 && b->bytes + cmd->consumed > FORWARD_MAX_BYTES)) {
        return 1;
    }
    f = &b->cmds[b->n];
    f->ci =
        commands_find(b->table, cmd->argv,
                      cmd->argc < RESP_KEEP_ARGS ? cmd->argc : RESP_KEEP_ARGS);
    f->reply_error = 0;
    if (cmd->is_inline) {
        /* Bytes in `encoded`, which may move: raw holds the offset until
         * the flush turns it into a pointer. */
        size_t off = b->enc_len;

        if (resp_encode(cmd, buf, &b->encoded, &b->enc_len, &b->enc_cap) < 0) {
            return -1;
        }
        f->raw = NULL;
        f->len = b->enc_len - off;
        b->iov[b->n].iov_base = NULL;
        b->iov[b->n].iov_len = off;
    } else {
        f->raw = buf;
        f->len = cmd->consumed;
    }
    b->bytes += f->len;
    b->n++;
    return 0;
}

/* upstream_reply_fn: one reply, straight into the client's output (or
 * the batch's sink). */
static int
on_reply(void *arg, size_t i, const char *reply, size_t len)
{
    struct forward_batch *b = arg;

    b->cmds[i].reply_error = len > 0 && reply[0] == '-';
    if (b->sink != NULL) {
        return b->sink(b->sink_arg, i, reply, len);
    }
    return conn_write_buf(b->c, reply, len);
}

int
forward_add_args(struct forward_batch *b, const struct resp_arg *argv,
                 size_t argc)
{
    struct resp_command cmd = {.argc = argc, .is_inline = 1, .words = argv};
    size_t i;

    for (i = 0; i < argc && i < RESP_KEEP_ARGS; i++) {
        cmd.argv[i] = argv[i];
    }
    return forward_add(b, &cmd, NULL);
}

/* Invalidation of one key a write changed. */
static void
drop_key(void *arg, const struct resp_arg *key)
{
    struct proxy *px = arg;

    flights_invalidate(px->flights, key->p, key->len);
}

/* Counts the key of a write, for "a write without keys". */
struct key_count {
    struct proxy *px;
    size_t n;
};

static void
drop_and_count(void *arg, const struct resp_arg *key)
{
    struct key_count *kc = arg;

    drop_key(kc->px, key);
    kc->n++;
}

/* The cache no longer knows what changed: empty it. */
static void
flush_all(struct proxy *px)
{
    flights_invalidate_all(px->flights);
    atomic_fetch_add_explicit(&px->metrics.write_flushes, 1,
                              memory_order_relaxed);
}

/* upstream_reply_fn for COMMAND GETKEYS: an array of keys, each
 * invalidated; an error or anything else fails the call. */
static int
on_keys(void *arg, size_t i, const char *reply, size_t len)
{
    struct proxy *px = arg;
    const char *p = reply, *end = reply + len, *nl, *key;
    long long n;
    size_t klen;

    (void)i;
    if (len < 4 || p[0] != '*' || sscanf(p, "*%lld", &n) != 1 || n < 0 ||
        (nl = memchr(p, '\n', len)) == NULL) {
        return -1;
    }
    for (p = nl + 1; n > 0 && p < end; n--) {
        if (!resp_reply_bulk(p, (size_t)(end - p), &key, &klen) ||
            key == NULL) {
            return -1;
        }
        flights_invalidate(px->flights, key, klen);
        p = key + klen + 2;
    }
    return n == 0 ? 0 : -1;
}

/* Asks Redis for the keys of f (COMMAND GETKEYS, the command's own
 * arguments after it) and invalidates them. Returns 0, or -1 when Redis
 * could not tell (the caller empties the cache). */
static int
ask_keys(struct proxy *px, const struct forward_cmd *f)
{
    int node = nodes_any(px->nodes);
    const char *nl = memchr(f->raw, '\n', f->len);
    char err[UPSTREAM_ERR_MAX], head[64];
    long long argc = 0;
    struct iovec v[2];
    size_t done;
    int n, rc;

    if (node < 0 || nl == NULL || sscanf(f->raw, "*%lld", &argc) != 1) {
        return -1;
    }
    n = snprintf(head, sizeof(head),
                 "*%lld\r\n$7\r\nCOMMAND\r\n$7\r\nGETKEYS\r\n", argc + 2);
    v[0] = (struct iovec){head, (size_t)n};
    v[1] = (struct iovec){(void *)(nl + 1), f->len - (size_t)(nl + 1 - f->raw)};
    rc = upstream_exec(nodes_pool(px->nodes, node), v, 2, 1, on_keys, px, &done,
                       err);
    return rc == 0 ? 0 : -1;
}

int
forward_flush(struct forward_batch *b)
{
    struct proxy *px = b->px;
    char err[UPSTREAM_ERR_MAX], line[ERR_REPLY_MAX];
    size_t i, done = 0;
    int rc, wrc = 0;

    if (b->n == 0) {
        return 0;
    }
    for (i = 0; i < b->n; i++) {
        if (b->cmds[i].raw == NULL) {
            size_t off = b->iov[i].iov_len;

            b->cmds[i].raw = b->encoded + off;
        }
        b->iov[i].iov_base = (void *)b->cmds[i].raw;
        b->iov[i].iov_len = b->cmds[i].len;
    }
    standby_block_begin();
    if (nodes_is_cluster(px->nodes)) {
        rc = 0;
        done = b->n;
        wrc = cluster_fwd_run(px, b->cmds, b->n, on_reply, b);
    } else {
        rc = upstream_exec(nodes_pool(px->nodes, 0), b->iov, (int)b->n, b->n,
                           on_reply, b, &done, err);
    }
    if (rc != 0 && rc != UPSTREAM_ENOMEM) {
        size_t n = (size_t)snprintf(
            line, sizeof(line), "-ERR redis %s: %s\r\n",
            rc == UPSTREAM_ETIMEOUT ? "timeout" : "unavailable", err);

        for (i = done; i < b->n; i++) {
            wrc |= on_reply(b, i, line, n < sizeof(line) ? n : 0);
            /* It may still have run: invalidate as if it did. */
            b->cmds[i].reply_error = 0;
        }
    }
    for (i = 0; i < b->n; i++) {
        const struct forward_cmd *f = &b->cmds[i];
        struct key_count kc = {px, 0};
        struct resp_command cmd;
        const char *perr;
        unsigned flags;
        int k;

        if (f->ci == NULL) {
            /* A command the table does not know: if Redis ran it, it
             * may have written anything. */
            if (!f->reply_error) {
                flush_all(px);
            }
            continue;
        }
        flags = commands_flags(f->ci);
        if (resp_parse((char *)f->raw, f->len, (size_t)-1, &cmd, &perr) !=
            RESP_OK) {
            continue;
        }
        k = commands_keys(f->ci, &cmd, f->raw, !(flags & CMD_WRITE),
                          drop_and_count, &kc);
        if (k == 1 && (flags & CMD_WRITE) && ask_keys(px, f) < 0) {
            flush_all(px);
        } else if (k < 0 && !f->reply_error && (flags & CMD_WRITE)) {
            flush_all(px);
        } else if (k == 0 && kc.n == 0 && (flags & CMD_WRITE) &&
                   !f->reply_error) {
            flush_all(px); /* FLUSHALL, FLUSHDB, SWAPDB, ... */
        }
    }
    standby_block_end(); /* ask_keys may have waited on Redis too */
    atomic_fetch_add_explicit(&px->metrics.forwarded, (long)b->n,
                              memory_order_relaxed);
    free(b->encoded);
    b->encoded = NULL;
    b->enc_len = b->enc_cap = 0;
    b->n = b->bytes = 0;
    return wrc != 0 ? CONN_IO_ERR : 0;
}
