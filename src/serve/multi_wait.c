/*
 * multi_wait: a cluster MULTI held until its node is known; see
 * multi_wait.h.
 */
#include "serve/multi_wait.h"

#include <stdlib.h>
#include <string.h>

#include "proto/resp_encode.h"
#include "serve/session.h"

void
multi_wait_begin(struct multi_wait *m)
{
    multi_wait_end(m);
    m->active = 1;
}

int
multi_wait_keep(struct multi_wait *m, const struct resp_command *cmd,
                const char *buf)
{
    if (m->n == MULTI_WAIT_MAX) {
        return 1;
    }
    if (resp_encode(cmd, buf, &m->q, &m->len, &m->cap) < 0) {
        return -1;
    }
    m->n++;
    return 0;
}

int
multi_wait_bind(struct multi_wait *m, struct session *s)
{
    static const struct resp_arg multi = {"MULTI", 5};
    struct resp_command cmd = {.argc = 1, .is_inline = 1, .words = &multi};
    size_t off = 0;
    int rc;

    cmd.argv[0] = multi;
    rc = session_send(s, &cmd, NULL, SESSION_SILENT);

    while (rc == 0 && off < m->len) {
        struct resp_command kept;
        const char *err;

        if (resp_parse(m->q + off, m->len - off, (size_t)-1, &kept, &err) !=
            RESP_OK) {
            break; /* cannot be: the bytes are our own encoding */
        }
        rc = session_send(s, &kept, m->q + off, SESSION_SILENT);
        off += kept.consumed;
    }
    multi_wait_end(m);
    return rc;
}

void
multi_wait_end(struct multi_wait *m)
{
    free(m->q);
    memset(m, 0, sizeof(*m));
}
