/*
 * cluster_fwd: routing, splitting and merging a batch on a cluster; see
 * cluster_fwd.h.
 *
 * The batch becomes units (one command for one node: a client command as
 * it came, or a part of one split by slot, or one node's share of a
 * command that covers the keyspace). Units are sent node by node, each
 * node's in one round trip; redirected ones are sent again alone; then
 * each client command's reply is made from its units' replies.
 */
#include "serve/cluster_fwd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/standby.h"
#include "proto/resp_encode.h"
#include "proto/keyslot.h"
#include "proto/resp_reply.h"
#include "serve/proxy.h"
#include "upstream/commands.h"
#include "upstream/nodes.h"
#include "upstream/upstream.h"

#define CROSSSLOT "-CROSSSLOT Keys in request don't hash to the same slot\r\n"

enum merge {
    MERGE_ONE,    /* the one unit's reply, as it is */
    MERGE_MGET,   /* an array in the client's key order */
    MERGE_OK,     /* +OK when every part says so (MSET, FLUSHALL) */
    MERGE_SUM,    /* integers added (DEL, UNLINK, EXISTS, TOUCH, DBSIZE) */
    MERGE_CONCAT, /* arrays joined (KEYS) */
    MERGE_ANY,    /* the first non-nil (RANDOMKEY) */
    MERGE_SCAN,   /* the node's cursor put in ours */
    MERGE_LOCAL,  /* an answer of the proxy's (CROSSSLOT...) */
};

struct unit {
    int node;
    char *req; /* the command, RESP array form (heap) */
    size_t req_len;
    char *reply; /* its reply (heap), or NULL */
    size_t reply_len;
};

struct plan {
    enum merge merge;
    size_t first, n;   /* its units */
    const char *local; /* MERGE_LOCAL's reply */
    size_t *key_unit;  /* MERGE_MGET: for the client's key j, its unit */
    size_t *key_index; /* ... and its place in that unit's array */
    size_t nkeys;
    int scan_node; /* MERGE_SCAN: the node the cursor is on */
};

struct run {
    struct proxy *px;
    struct unit *units;
    size_t nunits, cap;
    struct plan plans[FORWARD_MAX_CMDS];
};

/* ---- building units ---- */

static struct unit *
add_unit(struct run *r, int node)
{
    if (r->nunits == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct unit *nu = realloc(r->units, cap * sizeof(*nu));

        if (nu == NULL) {
            return NULL;
        }
        r->units = nu;
        r->cap = cap;
    }
    memset(&r->units[r->nunits], 0, sizeof(r->units[0]));
    r->units[r->nunits].node = node;
    return &r->units[r->nunits++];
}

/* A unit sending argv[0..argc) to node. Returns 0 or -1. */
static int
unit_args(struct run *r, int node, const struct resp_arg *argv, size_t argc)
{
    struct resp_command cmd = {.argc = argc, .is_inline = 1, .words = argv};
    struct unit *u = add_unit(r, node);
    size_t cap = 0;

    return u == NULL || resp_encode(&cmd, NULL, &u->req, &u->req_len, &cap) < 0
               ? -1
               : 0;
}

/* A unit sending raw[0..len) (a client command as it came) to node. */
static int
unit_raw(struct run *r, int node, const char *raw, size_t len)
{
    struct unit *u = add_unit(r, node);

    if (u == NULL || (u->req = malloc(len)) == NULL) {
        return -1;
    }
    memcpy(u->req, raw, len);
    u->req_len = len;
    return 0;
}

/* Every argument of a parsed command, into a heap array. */
static struct resp_arg *
all_args(const struct resp_command *cmd, const char *raw)
{
    struct resp_arg *argv = malloc((cmd->argc + 1) * sizeof(*argv));
    struct resp_iter it;
    size_t i = 0;

    if (argv == NULL) {
        return NULL;
    }
    resp_iter_init(&it, cmd, raw);
    while (i < cmd->argc && resp_iter_next(&it, &argv[i])) {
        i++;
    }
    return argv;
}

static int
is(const struct resp_arg *a, const char *name)
{
    size_t n = strlen(name);

    return a->len == n && strncasecmp(a->p, name, n) == 0;
}

/* The keys of one command and their slots, learned as commands_keys walks
 * them. */
struct keys {
    const struct resp_arg *first;
    unsigned slot;
    int multi; /* more than one slot */
    size_t n;
};

static void
key_seen(void *arg, const struct resp_arg *key)
{
    struct keys *k = arg;
    unsigned slot = keyslot_of(key->p, key->len);

    if (k->n++ == 0) {
        k->first = key;
        k->slot = slot;
    } else if (slot != k->slot) {
        k->multi = 1;
    }
}

/* Splits MGET/DEL/UNLINK/EXISTS/TOUCH (keys from argv[1]) or MSET (pairs)
 * into one unit per slot. */
static int
plan_split(struct run *r, struct plan *p, const struct resp_arg *argv,
           size_t argc, int pairs)
{
    size_t step = pairs ? 2 : 1, nkeys = (argc - 1) / step, j, k;
    struct resp_arg *part = malloc((argc + 1) * sizeof(*part));
    unsigned char *done = calloc(nkeys, 1);
    int rc = -1;

    p->key_unit = malloc(nkeys * sizeof(size_t));
    p->key_index = malloc(nkeys * sizeof(size_t));
    p->nkeys = nkeys;
    if (part == NULL || done == NULL || p->key_unit == NULL ||
        p->key_index == NULL) {
        goto out;
    }
    p->first = r->nunits;
    for (j = 0; j < nkeys; j++) {
        unsigned slot;
        size_t n = 1, idx = 0;
        int node;

        if (done[j]) {
            continue;
        }
        slot = keyslot_of(argv[1 + j * step].p, argv[1 + j * step].len);
        node = nodes_for_slot(r->px->nodes, slot);
        part[0] = argv[0];
        for (k = j; k < nkeys; k++) {
            const struct resp_arg *key = &argv[1 + k * step];

            if (done[k] || keyslot_of(key->p, key->len) != slot) {
                continue;
            }
            done[k] = 1;
            p->key_unit[k] = r->nunits;
            p->key_index[k] = idx++;
            part[n++] = *key;
            if (pairs) {
                part[n++] = argv[2 + k * step];
            }
        }
        if (unit_args(r, node, part, n) < 0) {
            goto out;
        }
    }
    p->n = r->nunits - p->first;
    rc = 0;
out:
    free(part);
    free(done);
    return rc;
}

/* DBSIZE, KEYS, FLUSHALL, FLUSHDB, RANDOMKEY: the command to every master. */
static int
plan_every(struct run *r, struct plan *p, const char *raw, size_t len)
{
    int masters[NODES_MAX], k = nodes_masters(r->px->nodes, masters, NODES_MAX);
    int i;

    p->first = r->nunits;
    for (i = 0; i < k; i++) {
        if (unit_raw(r, masters[i], raw, len) < 0) {
            return -1;
        }
    }
    p->n = (size_t)k;
    return 0;
}

/* SCAN: the node the client's cursor is on, with that node's cursor. */
static int
plan_scan(struct run *r, struct plan *p, struct resp_arg *argv, size_t argc)
{
    int masters[NODES_MAX], k = nodes_masters(r->px->nodes, masters, NODES_MAX);
    unsigned long long c = 0;
    char cur[24];
    size_t i;
    int node = -1;

    if (argc < 2) {
        return 1; /* Redis's arity error: send it as it is */
    }
    for (i = 0; i < argv[1].len; i++) {
        if (argv[1].p[i] < '0' || argv[1].p[i] > '9') {
            return 1; /* Redis's "invalid cursor" */
        }
        c = c * 10 + (unsigned long long)(argv[1].p[i] - '0');
    }
    for (i = 0; i < (size_t)k && node < 0; i++) {
        if (masters[i] >= (int)(c % NODES_MAX)) {
            node = masters[i]; /* the cursor's node, or the next one */
        }
    }
    if (node < 0) {
        p->merge = MERGE_LOCAL;
        p->local = "*2\r\n$1\r\n0\r\n*0\r\n";
        return 0;
    }
    if (node != (int)(c % NODES_MAX)) {
        c = 0; /* its node left the masters: start the next one over */
    }
    argv[1].len = (size_t)snprintf(cur, sizeof(cur), "%llu", c / NODES_MAX);
    argv[1].p = cur;
    p->scan_node = node;
    p->first = r->nunits;
    p->n = 1;
    return unit_args(r, node, argv, argc);
}

/* One client command's plan. Returns 0 or -1 (out of memory). */
static int
plan_one(struct run *r, struct plan *p, const struct forward_cmd *f)
{
    static const char *const split[] = {"MGET",   "DEL",   "UNLINK",
                                        "EXISTS", "TOUCH", NULL};
    struct resp_command cmd;
    struct keys keys = {0};
    struct resp_arg *argv = NULL;
    const char *perr;
    int rc = 0, i, node;

    memset(p, 0, sizeof(*p));
    p->merge = MERGE_ONE;
    if (resp_parse((char *)f->raw, f->len, (size_t)-1, &cmd, &perr) !=
            RESP_OK ||
        (argv = all_args(&cmd, f->raw)) == NULL) {
        return -1;
    }
    if (is(&argv[0], "CLUSTER")) {
        p->merge = MERGE_LOCAL;
        p->local = "-" CLUSTER_FWD_REFUSED "\r\n";
        goto out;
    }
    if (is(&argv[0], "SCAN")) {
        p->merge = MERGE_SCAN;
        if ((rc = plan_scan(r, p, argv, cmd.argc)) <= 0) {
            goto out;
        }
        p->merge = MERGE_ONE;
    }
    if (is(&argv[0], "DBSIZE") || is(&argv[0], "KEYS") ||
        is(&argv[0], "FLUSHALL") || is(&argv[0], "FLUSHDB") ||
        is(&argv[0], "RANDOMKEY")) {
        p->merge = is(&argv[0], "DBSIZE")      ? MERGE_SUM
                   : is(&argv[0], "KEYS")      ? MERGE_CONCAT
                   : is(&argv[0], "RANDOMKEY") ? MERGE_ANY
                                               : MERGE_OK;
        rc = plan_every(r, p, f->raw, f->len);
        goto out;
    }
    if (f->ci != NULL) {
        commands_keys(f->ci, &cmd, f->raw, 0, key_seen, &keys);
    }
    /* An MSET with a value missing is not split (that would run the
     * complete pairs): Redis answers it its arity error, whole. */
    if (keys.multi && !(is(&argv[0], "MSET") && cmd.argc % 2 == 0)) {
        for (i = 0; split[i] != NULL; i++) {
            if (is(&argv[0], split[i])) {
                p->merge = i == 0 ? MERGE_MGET : MERGE_SUM;
                rc = plan_split(r, p, argv, cmd.argc, 0);
                goto out;
            }
        }
        if (is(&argv[0], "MSET")) {
            p->merge = MERGE_OK;
            rc = plan_split(r, p, argv, cmd.argc, 1);
            goto out;
        }
        p->merge = MERGE_LOCAL;
        p->local = CROSSSLOT;
        goto out;
    }
    node = keys.n > 0 ? nodes_for_slot(r->px->nodes, keys.slot)
                      : nodes_any(r->px->nodes);
    p->first = r->nunits;
    p->n = 1;
    rc = unit_raw(r, node, f->raw, f->len);
out:
    free(argv);
    return rc < 0 ? -1 : 0;
}

/* ---- sending ---- */

static int
unit_sink(void *arg, size_t i, const char *reply, size_t len)
{
    struct unit **todo = arg;
    struct unit *u = todo[i];

    free(u->reply);
    u->reply = malloc(len);
    if (u->reply == NULL) {
        u->reply_len = 0;
        return -1;
    }
    memcpy(u->reply, reply, len);
    u->reply_len = len;
    return 0;
}

/* Gives a unit that got no reply the error that says why. */
static void
unit_failed(struct unit *u, int rc, const char *err)
{
    char line[UPSTREAM_ERR_MAX + 64];
    int n = snprintf(line, sizeof(line), "-ERR redis %s: %s\r\n",
                     rc == UPSTREAM_ETIMEOUT ? "timeout" : "unavailable", err);

    free(u->reply);
    u->reply = strdup(line);
    u->reply_len = u->reply != NULL ? (size_t)n : 0;
}

/* Sends the units in todo[0..n) (all for node) in one round trip. */
static void
send_to(struct run *r, int node, struct unit **todo, size_t n, int asking)
{
    static const char ask[] = "*1\r\n$6\r\nASKING\r\n";
    struct iovec iov[2 * FORWARD_MAX_CMDS];
    char err[UPSTREAM_ERR_MAX] = "the cluster's slot map is not known yet";
    size_t i, k = 0, done = 0;
    int rc = UPSTREAM_EDOWN;

    if (node >= 0 && n <= FORWARD_MAX_CMDS) {
        for (i = 0; i < n; i++) {
            iov[k++] = (struct iovec){todo[i]->req, todo[i]->req_len};
        }
        if (asking) {
            /* one unit: ASKING's +OK is reply 0, the command's reply 1 */
            struct unit *pair[2] = {todo[0], todo[0]};

            iov[1] = iov[0];
            iov[0] = (struct iovec){(void *)ask, sizeof(ask) - 1};
            rc = upstream_exec(nodes_pool(r->px->nodes, node), iov, 2, 2,
                               unit_sink, pair, &done, err);
            done = done >= 2;
        } else {
            rc = upstream_exec(nodes_pool(r->px->nodes, node), iov, (int)k, n,
                               unit_sink, todo, &done, err);
        }
    }
    if (rc == UPSTREAM_EDOWN) {
        nodes_want_refresh(r->px->nodes);
    }
    if (rc != 0 && rc != UPSTREAM_ENOMEM) {
        for (i = done; i < n; i++) {
            unit_failed(todo[i], rc, err);
        }
    }
}

/* Sends every unit, grouped by node. */
static int
send_all(struct run *r)
{
    struct unit **todo = malloc((r->nunits + 1) * sizeof(*todo));
    int node, count = nodes_count(r->px->nodes);
    size_t i, n;

    if (todo == NULL) {
        return -1;
    }
    for (node = -1; node < count; node++) {
        n = 0;
        for (i = 0; i < r->nunits; i++) {
            if (r->units[i].node == node) {
                todo[n++] = &r->units[i];
            }
            if (n == FORWARD_MAX_CMDS) {
                send_to(r, node, todo, n, 0);
                n = 0;
            }
        }
        if (n > 0) {
            send_to(r, node, todo, n, 0);
        }
    }
    free(todo);
    return 0;
}

/* Follows MOVED and ASK replies, unit by unit. */
static void
follow_redirects(struct run *r)
{
    size_t i;
    int round;

    for (round = 0; round < NODES_REDIRECTS; round++) {
        int any = 0;

        for (i = 0; i < r->nunits; i++) {
            struct unit *u = &r->units[i];
            int ask, to;

            if (u->reply == NULL || u->reply_len < 3 || u->reply[0] != '-' ||
                (to = nodes_redirect(r->px->nodes, u->reply + 1,
                                     u->reply_len - 3, &ask)) < 0) {
                continue;
            }
            u->node = to;
            send_to(r, to, &u, 1, ask);
            any = 1;
        }
        if (!any) {
            return;
        }
    }
    for (i = 0; i < r->nunits; i++) {
        struct unit *u = &r->units[i];
        int ask;

        if (u->reply != NULL && u->reply_len > 3 && u->reply[0] == '-' &&
            nodes_redirect(r->px->nodes, u->reply + 1, u->reply_len - 3,
                           &ask) >= 0) {
            free(u->reply);
            u->reply = strdup("-ERR too many cluster redirects\r\n");
            u->reply_len = u->reply != NULL ? strlen(u->reply) : 0;
        }
    }
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

/* The elements of an array reply: *n, and where the first begins. */
static int
array_of(const struct unit *u, long long *n, const char **first)
{
    const char *nl;

    if (u->reply == NULL || u->reply_len < 4 || u->reply[0] != '*' ||
        sscanf(u->reply, "*%lld", n) != 1 ||
        (nl = memchr(u->reply, '\n', u->reply_len)) == NULL) {
        return -1;
    }
    *first = nl + 1;
    return 0;
}

/* The length of the element at p (inside unit u's reply). */
static size_t
element_len(const struct unit *u, const char *p)
{
    struct resp_reply sc;

    resp_reply_init(&sc);
    return resp_reply_scan(&sc, p, (size_t)(u->reply + u->reply_len - p)) ==
                   RESP_OK
               ? sc.pos
               : 0;
}

/* The first error among a plan's units, or NULL. */
static const struct unit *
first_error(const struct run *r, const struct plan *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        const struct unit *u = &r->units[p->first + i];

        if (u->reply == NULL || u->reply[0] == '-') {
            return u;
        }
    }
    return NULL;
}

static void
merge_mget(const struct run *r, const struct plan *p, struct out *o)
{
    size_t j;

    put_line(o, '*', (long long)p->nkeys);
    for (j = 0; j < p->nkeys; j++) {
        const struct unit *u = &r->units[p->key_unit[j]];
        const char *e;
        long long n, m;

        if (array_of(u, &n, &e) < 0 || (long long)p->key_index[j] >= n) {
            put(o, "$-1\r\n", 5);
            continue;
        }
        for (m = 0; m < (long long)p->key_index[j]; m++) {
            e += element_len(u, e);
        }
        put(o, e, element_len(u, e));
    }
}

static void
merge_scan(const struct run *r, const struct plan *p, struct out *o)
{
    const struct unit *u = &r->units[p->first];
    int masters[NODES_MAX], k = nodes_masters(r->px->nodes, masters, NODES_MAX);
    unsigned long long c = 0, next = 0;
    const char *e, *cur;
    size_t clen, i;
    long long n;
    char line[32];

    if (array_of(u, &n, &e) < 0 || n != 2 ||
        !resp_reply_bulk(e, (size_t)(u->reply + u->reply_len - e), &cur,
                         &clen) ||
        cur == NULL) {
        put(o, u->reply, u->reply_len); /* an error: as it is */
        return;
    }
    for (i = 0; i < clen; i++) {
        c = c * 10 + (unsigned long long)(cur[i] - '0');
    }
    if (c != 0) {
        next = c * NODES_MAX + (unsigned long long)p->scan_node;
    } else {
        for (i = 0; i < (size_t)k && next == 0; i++) {
            if (masters[i] > p->scan_node) {
                next = (unsigned long long)masters[i]; /* its cursor 0 */
            }
        }
    }
    e += element_len(u, e);
    n = snprintf(line, sizeof(line), "%llu", next);
    put(o, "*2\r\n", 4);
    put_line(o, '$', n);
    put(o, line, (size_t)n);
    put(o, "\r\n", 2);
    put(o, e, (size_t)(u->reply + u->reply_len - e));
}

/* The reply of plan p into o. */
static void
merge(const struct run *r, const struct plan *p, struct out *o)
{
    const struct unit *err = first_error(r, p);
    long long sum = 0, v, n, total = 0;
    const char *e;
    size_t i;

    if (p->merge == MERGE_LOCAL) {
        put(o, p->local, strlen(p->local));
        return;
    }
    if (p->merge == MERGE_ONE || p->merge == MERGE_SCAN) {
        if (err != NULL || p->merge == MERGE_ONE) {
            const struct unit *u = err != NULL ? err : &r->units[p->first];

            put(o, u->reply != NULL ? u->reply : "-ERR out of memory\r\n",
                u->reply != NULL ? u->reply_len : 20);
            return;
        }
        merge_scan(r, p, o);
        return;
    }
    if (err != NULL) {
        put(o, err->reply != NULL ? err->reply : "-ERR out of memory\r\n",
            err->reply != NULL ? err->reply_len : 20);
        return;
    }
    switch (p->merge) {
    case MERGE_MGET:
        merge_mget(r, p, o);
        return;
    case MERGE_OK:
        put(o, "+OK\r\n", 5);
        return;
    case MERGE_SUM:
        for (i = 0; i < p->n; i++) {
            const struct unit *u = &r->units[p->first + i];

            if (resp_reply_integer(u->reply, u->reply_len, &v)) {
                sum += v;
            }
        }
        put_line(o, ':', sum);
        return;
    case MERGE_CONCAT:
        for (i = 0; i < p->n; i++) {
            if (array_of(&r->units[p->first + i], &n, &e) == 0) {
                total += n;
            }
        }
        put_line(o, '*', total);
        for (i = 0; i < p->n; i++) {
            const struct unit *u = &r->units[p->first + i];

            if (array_of(u, &n, &e) == 0) {
                put(o, e, (size_t)(u->reply + u->reply_len - e));
            }
        }
        return;
    default: /* MERGE_ANY */
        for (i = 0; i < p->n; i++) {
            const struct unit *u = &r->units[p->first + i];

            if (u->reply_len != 5 || memcmp(u->reply, "$-1\r\n", 5) != 0) {
                put(o, u->reply, u->reply_len);
                return;
            }
        }
        put(o, "$-1\r\n", 5);
        return;
    }
}

int
cluster_fwd_run(struct proxy *px, const struct forward_cmd *cmds, size_t n,
                int (*on_reply)(void *arg, size_t i, const char *reply,
                                size_t len),
                void *arg)
{
    struct run r = {.px = px};
    size_t i;
    int rc = 0;

    for (i = 0; i < n && rc == 0; i++) {
        rc = plan_one(&r, &r.plans[i], &cmds[i]);
    }
    if (rc == 0) {
        standby_block_begin();
        rc = send_all(&r);
        follow_redirects(&r);
        standby_block_end();
    }
    for (i = 0; i < n; i++) {
        struct out o = {0};

        if (rc == 0) {
            merge(&r, &r.plans[i], &o);
        }
        if (rc != 0 || o.failed) {
            rc |= on_reply(arg, i, "-ERR out of memory\r\n", 20);
        } else {
            rc |= on_reply(arg, i, o.p, o.len);
        }
        free(o.p);
        free(r.plans[i].key_unit);
        free(r.plans[i].key_index);
    }
    for (i = 0; i < r.nunits; i++) {
        free(r.units[i].req);
        free(r.units[i].reply);
    }
    free(r.units);
    return rc != 0 ? -1 : 0;
}
