/*
 * forward_cmd: one command of a forwarded batch, as forward.h collects it
 * and cluster_fwd.h routes it; a type of its own so that neither of the
 * two depends on the other's header.
 */
#ifndef RP_FORWARD_CMD_H
#define RP_FORWARD_CMD_H

#include <stddef.h>

#define FORWARD_MAX_CMDS 128 /* commands in one batch */

struct cmd_info;

struct forward_cmd {
    const struct cmd_info *ci; /* from the table, or NULL (unknown) */
    const char *raw;           /* its bytes, RESP array form */
    size_t len;
    int reply_error; /* Redis answered it with an error */
};

#endif
