/*
 * resp_encode: commands as RESP arrays; see resp_encode.h.
 */
#include "proto/resp_encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for n more bytes in a growable buffer. */
static int
grow(char **p, size_t len, size_t *cap, size_t n)
{
    char *np;
    size_t want = *cap > 0 ? *cap : 256;

    if (*cap - len >= n) {
        return 0;
    }
    while (want - len < n) {
        want *= 2;
    }
    np = realloc(*p, want);
    if (np == NULL) {
        return -1;
    }
    *p = np;
    *cap = want;
    return 0;
}

static int
put(char **out, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (grow(out, *len, cap, n) < 0) {
        return -1;
    }
    memcpy(*out + *len, p, n);
    *len += n;
    return 0;
}

int
resp_encode(const struct resp_command *cmd, const char *buf, char **out,
            size_t *len, size_t *cap)
{
    struct resp_iter it;
    struct resp_arg a;
    char head[32];
    int n;

    if (!cmd->is_inline) {
        return put(out, len, cap, buf, cmd->consumed);
    }
    n = snprintf(head, sizeof(head), "*%zu\r\n", cmd->argc);
    if (put(out, len, cap, head, (size_t)n) < 0) {
        return -1;
    }
    resp_iter_init(&it, cmd, buf);
    while (resp_iter_next(&it, &a)) {
        n = snprintf(head, sizeof(head), "$%zu\r\n", a.len);
        if (put(out, len, cap, head, (size_t)n) < 0 ||
            put(out, len, cap, a.p, a.len) < 0 ||
            put(out, len, cap, "\r\n", 2) < 0) {
            return -1;
        }
    }
    return 0;
}
