/*
 * cplan: cluster plans and merges; see cplan.h.
 */
#include "serve/cplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/keyslot.h"
#include "proto/resp_encode.h"
#include "proto/resp_reply.h"

static int
is(const struct resp_arg *a, const char *name)
{
    size_t n = strlen(name);

    return a->len == n && strncasecmp(a->p, name, n) == 0;
}

/* A part sending argv[0..argc) to node (encoded into the part). */
static int
add_args(struct cplan *pl, size_t cap, int node, const struct resp_arg *argv,
         size_t argc)
{
    struct resp_command cmd = {.argc = argc, .is_inline = 1, .words = argv};
    struct cplan_part *pt = &pl->parts[pl->nparts];
    size_t ecap = 0;

    if (pl->nparts == cap) {
        return -1;
    }
    memset(pt, 0, sizeof(*pt));
    pt->node = node;
    if (resp_encode(&cmd, NULL, &pt->req, &pt->len, &ecap) < 0) {
        return -1;
    }
    pl->nparts++;
    return 0;
}

/* A part sending the client's command as it came to node. */
static void
add_whole(struct cplan *pl, int node)
{
    struct cplan_part *pt = &pl->parts[pl->nparts++];

    memset(pt, 0, sizeof(*pt));
    pt->node = node;
}

static int
alloc_parts(struct cplan *pl, size_t n)
{
    pl->parts = calloc(n > 0 ? n : 1, sizeof(*pl->parts));
    return pl->parts != NULL ? 0 : -1;
}

/* Splits MGET/DEL/UNLINK/EXISTS/TOUCH (keys from argv[1]) or MSET (pairs)
 * into one part per slot. */
static int
plan_split(struct cplan *pl, const struct cplan_map *m,
           const struct resp_arg *argv, size_t argc, int pairs)
{
    size_t step = pairs ? 2 : 1, nkeys = (argc - 1) / step, j, k;
    struct resp_arg *part = malloc((argc + 1) * sizeof(*part));
    unsigned *slot = malloc((nkeys + 1) * sizeof(*slot));
    unsigned char *done = calloc(nkeys + 1, 1);
    int rc = -1;

    pl->key_part = malloc((nkeys + 1) * sizeof(size_t));
    pl->key_index = malloc((nkeys + 1) * sizeof(size_t));
    pl->nkeys = nkeys;
    if (part == NULL || slot == NULL || done == NULL || pl->key_part == NULL ||
        pl->key_index == NULL || alloc_parts(pl, nkeys) < 0) {
        goto out;
    }
    for (j = 0; j < nkeys; j++) {
        slot[j] = keyslot_of(argv[1 + j * step].p, argv[1 + j * step].len);
    }
    for (j = 0; j < nkeys; j++) {
        size_t n = 1, idx = 0;

        if (done[j]) {
            continue;
        }
        part[0] = argv[0];
        for (k = j; k < nkeys; k++) {
            if (done[k] || slot[k] != slot[j]) {
                continue;
            }
            done[k] = 1;
            pl->key_part[k] = pl->nparts;
            pl->key_index[k] = idx++;
            part[n++] = argv[1 + k * step];
            if (pairs) {
                part[n++] = argv[2 + k * step];
            }
        }
        if (add_args(pl, nkeys, m->for_slot(m->arg, slot[j]), part, n) < 0) {
            goto out;
        }
    }
    rc = 0;
out:
    free(part);
    free(slot);
    free(done);
    return rc;
}

/* DBSIZE, KEYS, FLUSHALL, FLUSHDB, RANDOMKEY: the command to every
 * master. */
static int
plan_every(struct cplan *pl, const struct cplan_map *m)
{
    int masters[CPLAN_NODES], k = m->masters(m->arg, masters, CPLAN_NODES);
    int i;

    if (alloc_parts(pl, (size_t)k) < 0) {
        return -1;
    }
    if (k == 0) {
        add_whole(pl, -1); /* no master known: the router answers so */
    }
    for (i = 0; i < k; i++) {
        add_whole(pl, masters[i]);
    }
    return 0;
}

/* SCAN: the node the client's cursor is on, with that node's cursor.
 * Returns 0, 1 when the command goes as it is (Redis's own error), or
 * -1. */
static int
plan_scan(struct cplan *pl, const struct cplan_map *m,
          const struct resp_arg *argv, size_t argc)
{
    int masters[CPLAN_NODES], k = m->masters(m->arg, masters, CPLAN_NODES);
    struct resp_arg *copy;
    unsigned long long c = 0;
    char cur[24];
    size_t i;
    int node = -1, rc;

    if (argc < 2 || argv[1].len == 0 || argv[1].len > 19) {
        return 1;
    }
    if (k == 0) {
        pl->merge = CPLAN_ONE; /* no master known: the router answers so */
        return alloc_parts(pl, 1) < 0 ? -1 : (add_whole(pl, -1), 0);
    }
    for (i = 0; i < argv[1].len; i++) {
        if (argv[1].p[i] < '0' || argv[1].p[i] > '9') {
            return 1; /* Redis's "invalid cursor" */
        }
        c = c * 10 + (unsigned long long)(argv[1].p[i] - '0');
    }
    for (i = 0; i < (size_t)k && node < 0; i++) {
        if (masters[i] >= (int)(c % CPLAN_NODES)) {
            node = masters[i]; /* the cursor's node, or the next one */
        }
    }
    if (node < 0) {
        pl->merge = CPLAN_LOCAL;
        pl->local = "*2\r\n$1\r\n0\r\n*0\r\n";
        return 0;
    }
    if (node != (int)(c % CPLAN_NODES)) {
        c = 0; /* its node left the masters: start the next one over */
    }
    copy = malloc(argc * sizeof(*copy));
    if (copy == NULL || alloc_parts(pl, 1) < 0) {
        free(copy);
        return -1;
    }
    memcpy(copy, argv, argc * sizeof(*copy));
    copy[1].len = (size_t)snprintf(cur, sizeof(cur), "%llu", c / CPLAN_NODES);
    copy[1].p = cur;
    pl->scan_node = node;
    rc = add_args(pl, 1, node, copy, argc);
    free(copy);
    return rc;
}

int
cplan_make(struct cplan *pl, const struct cplan_map *m,
           const struct resp_arg *argv, size_t argc,
           const struct resp_arg *keys, const unsigned *slots, size_t nkeys)
{
    static const char *const split[] = {"MGET",   "DEL",   "UNLINK",
                                        "EXISTS", "TOUCH", NULL};
    size_t j;
    int multi = 0, i, rc;

    memset(pl, 0, sizeof(*pl));
    pl->merge = CPLAN_ONE;
    (void)keys;
    if (argc == 0) {
        return -1;
    }
    if (is(&argv[0], "CLUSTER")) {
        pl->merge = CPLAN_LOCAL;
        pl->local = "-" CPLAN_REFUSED "\r\n";
        return 0;
    }
    if (is(&argv[0], "SCAN")) {
        pl->merge = CPLAN_SCAN;
        rc = plan_scan(pl, m, argv, argc);
        if (rc <= 0) {
            return rc;
        }
        pl->merge = CPLAN_ONE;
    }
    if (is(&argv[0], "DBSIZE") || is(&argv[0], "KEYS") ||
        is(&argv[0], "FLUSHALL") || is(&argv[0], "FLUSHDB") ||
        is(&argv[0], "RANDOMKEY")) {
        pl->merge = is(&argv[0], "DBSIZE")      ? CPLAN_SUM
                    : is(&argv[0], "KEYS")      ? CPLAN_CONCAT
                    : is(&argv[0], "RANDOMKEY") ? CPLAN_ANY
                                                : CPLAN_OK;
        return plan_every(pl, m);
    }
    for (j = 1; j < nkeys; j++) {
        multi |= slots[j] != slots[0];
    }
    /* An MSET with a value missing is not split (that would run the
     * complete pairs): Redis answers it its arity error, whole. */
    if (multi && !(is(&argv[0], "MSET") && argc % 2 == 0)) {
        for (i = 0; split[i] != NULL; i++) {
            if (is(&argv[0], split[i])) {
                pl->merge = i == 0 ? CPLAN_MGET : CPLAN_SUM;
                return plan_split(pl, m, argv, argc, 0);
            }
        }
        if (is(&argv[0], "MSET")) {
            pl->merge = CPLAN_OK;
            return plan_split(pl, m, argv, argc, 1);
        }
        pl->merge = CPLAN_LOCAL;
        pl->local = CPLAN_CROSSSLOT;
        return 0;
    }
    if (alloc_parts(pl, 1) < 0) {
        return -1;
    }
    if (nkeys > 0) {
        add_whole(pl, m->for_slot(m->arg, slots[0]));
    } else {
        int any = -1;

        add_whole(pl, m->masters(m->arg, &any, 1) == 1 ? any : -1);
    }
    return 0;
}

int
cplan_every(struct cplan *pl, const struct cplan_map *m, enum cplan_merge merge)
{
    memset(pl, 0, sizeof(*pl));
    pl->merge = merge;
    return plan_every(pl, m);
}

void
cplan_free(struct cplan *pl)
{
    size_t i;

    for (i = 0; pl->parts != NULL && i < pl->nparts; i++) {
        free(pl->parts[i].req);
    }
    free(pl->parts);
    free(pl->key_part);
    free(pl->key_index);
    memset(pl, 0, sizeof(*pl));
}

/* ---- merging ---- */

/* A growable buffer for a merged reply. */
struct out {
    char *p;
    size_t len, cap;
    int failed;
};

static void
put(struct out *o, const void *p, size_t n)
{
    if (o->failed) {
        return;
    }
    if (o->cap - o->len < n) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        char *np;

        while (cap - o->len < n) {
            cap *= 2;
        }
        if ((np = realloc(o->p, cap)) == NULL) {
            o->failed = 1;
            return;
        }
        o->p = np;
        o->cap = cap;
    }
    memcpy(o->p + o->len, p, n);
    o->len += n;
}

static void
put_line(struct out *o, char type, long long v)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "%c%lld\r\n", type, v);

    put(o, line, (size_t)n);
}

/* One part's reply. */
struct rep {
    const char *p;
    size_t len;
};

/* The elements of an array reply: how many, and where the first begins.
 * Returns 0, or -1 when it is no array. */
static int
array_of(const struct rep *r, long long *n, const char **first)
{
    const char *nl;
    long long v = 0;
    size_t i;

    if (r->p == NULL || r->len < 4 || r->p[0] != '*' ||
        (nl = memchr(r->p, '\n', r->len)) == NULL) {
        return -1;
    }
    for (i = 1; r->p + i < nl - 1; i++) {
        if (r->p[i] < '0' || r->p[i] > '9' || v > (1ll << 40)) {
            return -1;
        }
        v = v * 10 + (r->p[i] - '0');
    }
    *n = v;
    *first = nl + 1;
    return 0;
}

/* The length of the element at p inside reply r, or 0. */
static size_t
element_len(const struct rep *r, const char *p)
{
    struct resp_reply sc;

    resp_reply_init(&sc);
    return resp_reply_scan(&sc, p, (size_t)(r->p + r->len - p)) == RESP_OK
               ? sc.pos
               : 0;
}

static int
is_error(const struct rep *r)
{
    return r->p == NULL || r->len == 0 || r->p[0] == '-' || r->p[0] == '!';
}

static int
is_nil(const struct rep *r)
{
    return (r->len == 5 && memcmp(r->p, "$-1\r\n", 5) == 0) ||
           (r->len == 3 && memcmp(r->p, "_\r\n", 3) == 0);
}

static void
merge_mget(const struct cplan *pl, const struct rep *reps, int proto,
           struct out *o)
{
    size_t j;

    put_line(o, '*', (long long)pl->nkeys);
    for (j = 0; j < pl->nkeys; j++) {
        const struct rep *r = &reps[pl->key_part[j]];
        const char *e;
        long long n, k;

        if (array_of(r, &n, &e) < 0 || (long long)pl->key_index[j] >= n) {
            put(o, proto == 3 ? "_\r\n" : "$-1\r\n", proto == 3 ? 3 : 5);
            continue;
        }
        for (k = 0; k < (long long)pl->key_index[j]; k++) {
            e += element_len(r, e);
        }
        put(o, e, element_len(r, e));
    }
}

static void
merge_scan(const struct cplan *pl, const struct cplan_map *m,
           const struct rep *r, struct out *o)
{
    int masters[CPLAN_NODES], k = m->masters(m->arg, masters, CPLAN_NODES);
    unsigned long long c = 0, next = 0;
    const char *e, *cur;
    size_t clen, i;
    long long n;
    char line[32];

    if (array_of(r, &n, &e) < 0 || n != 2 ||
        !resp_reply_bulk(e, (size_t)(r->p + r->len - e), &cur, &clen) ||
        cur == NULL) {
        put(o, r->p, r->len); /* an error: as it is */
        return;
    }
    for (i = 0; i < clen; i++) {
        c = c * 10 + (unsigned long long)(cur[i] - '0');
    }
    if (c != 0) {
        next = c * CPLAN_NODES + (unsigned long long)pl->scan_node;
    } else {
        for (i = 0; i < (size_t)k && next == 0; i++) {
            if (masters[i] > pl->scan_node) {
                next = (unsigned long long)masters[i]; /* its cursor 0 */
            }
        }
    }
    e += element_len(r, e);
    n = snprintf(line, sizeof(line), "%llu", next);
    put(o, "*2\r\n", 4);
    put_line(o, '$', n);
    put(o, line, (size_t)n);
    put(o, "\r\n", 2);
    put(o, e, (size_t)(r->p + r->len - e));
}

static void
merge_into(const struct cplan *pl, const struct cplan_map *m,
           const struct rep *reps, int proto, struct out *o)
{
    long long sum = 0, v, n, total = 0;
    const char *e;
    size_t i;

    if (pl->merge == CPLAN_LOCAL) {
        put(o, pl->local, strlen(pl->local));
        return;
    }
    for (i = 0; i < pl->nparts; i++) {
        if (is_error(&reps[i])) {
            if (reps[i].p == NULL) {
                put(o, "-ERR out of memory\r\n", 20);
            } else {
                put(o, reps[i].p, reps[i].len);
            }
            return;
        }
    }
    switch (pl->merge) {
    case CPLAN_ONE:
        put(o, reps[0].p, reps[0].len);
        return;
    case CPLAN_SCAN:
        merge_scan(pl, m, &reps[0], o);
        return;
    case CPLAN_MGET:
        merge_mget(pl, reps, proto, o);
        return;
    case CPLAN_OK:
        put(o, "+OK\r\n", 5);
        return;
    case CPLAN_SUM:
        for (i = 0; i < pl->nparts; i++) {
            if (resp_reply_integer(reps[i].p, reps[i].len, &v)) {
                sum += v;
            }
        }
        put_line(o, ':', sum);
        return;
    case CPLAN_CONCAT:
        for (i = 0; i < pl->nparts; i++) {
            if (array_of(&reps[i], &n, &e) == 0) {
                total += n;
            }
        }
        put_line(o, '*', total);
        for (i = 0; i < pl->nparts; i++) {
            if (array_of(&reps[i], &n, &e) == 0) {
                put(o, e, (size_t)(reps[i].p + reps[i].len - e));
            }
        }
        return;
    default: /* CPLAN_ANY */
        for (i = 0; i < pl->nparts; i++) {
            if (!is_nil(&reps[i])) {
                put(o, reps[i].p, reps[i].len);
                return;
            }
        }
        put(o, proto == 3 ? "_\r\n" : "$-1\r\n", proto == 3 ? 3 : 5);
        return;
    }
}

int
cplan_merge(const struct cplan *pl, const struct cplan_map *m,
            const char *const *replies, const size_t *lens, int proto,
            char **out, size_t *out_len)
{
    struct rep *reps = calloc(pl->nparts + 1, sizeof(*reps));
    struct out o = {0};
    size_t i;

    if (reps == NULL) {
        return -1;
    }
    for (i = 0; i < pl->nparts; i++) {
        reps[i].p = replies[i];
        reps[i].len = replies[i] != NULL ? lens[i] : 0;
    }
    merge_into(pl, m, reps, proto, &o);
    free(reps);
    if (o.failed) {
        free(o.p);
        return -1;
    }
    *out = o.p;
    *out_len = o.len;
    return 0;
}
