/*
 * route: records to pipelines and back; see route.h.
 *
 * A part's request on the wire is, in order: ASKING (after an ASK
 * redirect), COMMAND GETKEYS with the command's arguments (when only
 * Redis can tell a write's keys), then the command itself; its replies
 * come in the same order, and only the last one is the command's.
 */
#include "serve/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/util.h"
#include "cache/flight.h"
#include "proto/keyslot.h"
#include "proto/resp_reply.h"
#include "serve/cplan.h"
#include "serve/failover.h"
#include "serve/outcome.h"
#include "serve/proxy.h"
#include "upstream/commands.h"
#include "upstream/idents.h"
#include "upstream/nodes.h"
#include "upstream/replicas.h"
#include "upstream/upstream.h"

static void part_reply(struct ureq *u, uint32_t i, const char *p, size_t len,
                       const struct resp_reply *scan);
static void part_done(struct ureq *u, int status, const char *err);

static const struct ureq_ops part_ops = {part_reply, part_done};

/* ---- the cluster's map, for the planner ---- */

static int
map_for_slot(void *arg, unsigned slot)
{
    return nodes_for_slot(arg, slot);
}

static int
map_masters(void *arg, int *out, int max)
{
    return nodes_masters(arg, out, max);
}

static struct cplan_map
map_of(struct proxy *px)
{
    struct cplan_map m = {map_for_slot, map_masters, px->nodes};
    return m;
}

/* ---- sending a part ---- */

/* Fills pt's request on the wire (see the top). */
static void
part_wire(struct rpart *pt)
{
    struct ureq *u = &pt->u;
    int n = 0;

    memset(u, 0, sizeof(*u));
    u->ops = &part_ops;
    u->db = pt->r->db;
    if (pt->asking) {
        u->iov[n++] =
            (struct iovec){(void *)ROUTE_ASKING, sizeof(ROUTE_ASKING) - 1};
    }
    if (pt->getkeys) {
        /* COMMAND GETKEYS and the command's arguments: its bytes after
         * its count line, under a count two higher. */
        const char *nl = memchr(pt->req, '\n', pt->req_len);
        long long argc = strtoll(pt->req + 1, NULL, 10);

        pt->hdr_len = (uint8_t)snprintf(
            pt->hdr, sizeof(pt->hdr),
            "*%lld\r\n$7\r\nCOMMAND\r\n$7\r\nGETKEYS\r\n", argc + 2);
        u->iov[n++] = (struct iovec){pt->hdr, pt->hdr_len};
        u->iov[n++] = (struct iovec){(void *)(nl + 1),
                                     pt->req_len - (size_t)(nl + 1 - pt->req)};
    }
    u->iov[n++] = (struct iovec){(void *)pt->req, pt->req_len};
    u->iovcnt = n;
    u->nreplies = (uint32_t)n - (pt->getkeys ? 1 : 0);
}

/* Queues pt on its node's pipeline. Returns PIPE_QUEUED, PIPE_FULL, or
 * PIPE_DOWN with err set; a node not known gives PIPE_DOWN too. */
static int
part_send(struct proxy *px, struct rpart *pt, int must, char *err)
{
    struct upstream *pool;
    struct pipe *p;

    if (pt->node < 0) {
        snprintf(err, UPSTREAM_ERR_MAX, "%s", route_no_node(px));
        return PIPE_DOWN;
    }
    pool = ident_pool(px->nodes, pt->r->ident, pt->node);
    p = pool != NULL ? upstream_pipe(pool, pt->r->proto, pt->r->token) : NULL;
    if (p == NULL) {
        snprintf(err, UPSTREAM_ERR_MAX, "out of memory");
        return PIPE_DOWN;
    }
    part_wire(pt);
    pt->u.must = must != 0;
    return pipe_submit(p, &pt->u, pt->r->slot, pt->r->gen, err);
}

/* ---- after the last part ---- */

/* Counts the key of a write, for "a write without keys". */
struct key_count {
    struct proxy *px;
    size_t n;
};

/* The cache no longer knows what changed: empty it (and, with replica
 * reads, keep every read on the master until the replicas have it). */
static void
flush_all(struct proxy *px)
{
    if (px->replicas != NULL) {
        replicas_wrote_all(px->replicas);
    }
    flights_invalidate_all(px->flights);
    atomic_fetch_add_explicit(&px->metrics.write_flushes, 1,
                              memory_order_relaxed);
}

/* Key k was changed: first the replicas are told to keep its reads on
 * the master (a fill starting now goes there), then its entry and fills
 * in flight go (one that chose a replica before is marked). */
static void
changed(struct proxy *px, const char *k, size_t klen)
{
    if (px->replicas != NULL) {
        replicas_wrote_key(px->replicas, k, klen);
    }
    flights_invalidate(px->flights, k, klen);
}

/* Invalidates the keys COMMAND GETKEYS named (a RESP array of bulks).
 * Returns 0, or -1 when the reply is no such array. */
static int
drop_asked(struct proxy *px, const char *p, size_t len)
{
    const char *end = p + len, *key;
    long long n = 0;
    size_t klen;

    if (len < 4 || p[0] != '*') {
        return -1;
    }
    n = strtoll(p + 1, NULL, 10);
    p = memchr(p, '\n', len);
    if (p == NULL || n < 0) {
        return -1;
    }
    for (p++; n > 0 && p < end; n--) {
        if (!resp_reply_bulk(p, (size_t)(end - p), &key, &klen) ||
            key == NULL) {
            return -1;
        }
        changed(px, key, klen);
        p = key + klen + 2;
    }
    return n == 0 ? 0 : -1;
}

/* What a forwarded command changed leaves the cache before its reply can
 * be seen. */
static void
invalidate(struct proxy *px, struct rcmd *r)
{
    int refused = r->status == OUTCOME_OK && r->reply_len > 0 &&
                  (r->reply[0] == '-' || r->reply[0] == '!');
    uint32_t i, n = 0;

    if (!r->known) {
        if (!refused) {
            flush_all(px); /* Redis ran what we cannot know: anything */
        }
        return;
    }
    if (r->keys_asked) {
        if (r->getkeys == NULL ||
            drop_asked(px, r->getkeys, r->getkeys_len) < 0) {
            flush_all(px);
        }
        return;
    }
    for (i = 0; i < r->nkeys; i++) {
        if (r->wkey[i]) {
            struct resp_arg k = rcmd_key(r, i);

            changed(px, k.p, k.len);
            n++;
        }
    }
    if (n == 0 && !refused && (r->flags & CMD_WRITE)) {
        flush_all(px); /* FLUSHALL, FLUSHDB, SWAPDB, ... */
    }
}

/* Merges a split command's parts into its reply. */
static void
merge_parts(struct proxy *px, struct rcmd *r)
{
    const char **replies = calloc(r->nparts, sizeof(*replies));
    size_t *lens = calloc(r->nparts, sizeof(*lens));
    struct cplan_map m = map_of(px);
    char *out = NULL;
    size_t out_len = 0;
    uint32_t i;

    if (replies == NULL || lens == NULL) {
        goto fail;
    }
    for (i = 0; i < r->nparts; i++) {
        replies[i] = r->parts[i].reply;
        lens[i] = r->parts[i].reply_len;
    }
    if (cplan_merge(r->plan, &m, replies, lens, r->proto, &out, &out_len) < 0) {
        goto fail;
    }
    if (r->reply != r->inl) {
        free(r->reply);
    }
    r->reply = out;
    r->reply_len = out_len;
    r->status = OUTCOME_OK;
    free(replies);
    free(lens);
    return;
fail:
    free(replies);
    free(lens);
    rcmd_fail(r, OUTCOME_ENOMEM, NULL);
}

/* The last part is over: merge, invalidate, complete. */
static void
finish(struct rcmd *r)
{
    struct proxy *px = r->px;

    if (r->splits) {
        merge_parts(px, r);
    }
    invalidate(px, r);
    atomic_fetch_add_explicit(&px->metrics.forwarded, 1, memory_order_relaxed);
    rcmd_complete(r);
}

/* Part pt ended with a failure. */
static void
part_failed(struct rpart *pt, int status, const char *err)
{
    struct rcmd *r = pt->r;
    char line[UPSTREAM_ERR_MAX + 64];
    size_t n;

    if (!r->splits) {
        rcmd_fail(r, status, err);
        return;
    }
    n = outcome_resp(line, sizeof(line), status, err);
    free(pt->reply);
    pt->reply = malloc(n);
    if (pt->reply != NULL) {
        memcpy(pt->reply, line, n);
        pt->reply_len = n;
    }
}

static char *
copy_of(const char *p, size_t len)
{
    char *c = malloc(len > 0 ? len : 1);

    if (c != NULL) {
        memcpy(c, p, len);
    }
    return c;
}

static void
part_reply(struct ureq *u, uint32_t i, const char *p, size_t len,
           const struct resp_reply *scan)
{
    struct rpart *pt = (struct rpart *)u;
    struct rcmd *r = pt->r;

    (void)scan;
    if (i < pt->asking) {
        return; /* ASKING's +OK */
    }
    if (pt->getkeys && i == pt->asking) {
        free(r->getkeys);
        r->getkeys = copy_of(p, len);
        r->getkeys_len = r->getkeys != NULL ? len : 0;
        return;
    }
    if (len > 9 && memcmp(p, "-READONLY", 9) == 0 && !r->splits &&
        nodes_is_sentinel(r->px->nodes)) {
        pt->readonly = 1; /* not run: a demoted master (part_done) */
        return;
    }
    if (len > 3 && p[0] == '-' && nodes_is_cluster(r->px->nodes) &&
        (memcmp(p + 1, "MOVED ", 6) == 0 || memcmp(p + 1, "ASK ", 4) == 0)) {
        free(pt->redirect);
        pt->redirect = copy_of(p, len);
        pt->redirect_len = pt->redirect != NULL ? len : 0;
        return;
    }
    if (r->splits) {
        free(pt->reply);
        pt->reply = copy_of(p, len);
        pt->reply_len = pt->reply != NULL ? len : 0;
        return;
    }
    r->status = rcmd_set_reply(r, p, len) == 0 ? OUTCOME_OK : OUTCOME_ENOMEM;
}

/* Sends pt to where its redirect points. Returns 0 when it went (its
 * done() comes later), or -1 when it is over (its outcome set). */
static int
follow(struct rpart *pt)
{
    struct rcmd *r = pt->r;
    char err[UPSTREAM_ERR_MAX];
    int ask, node;

    node = route_redirect(r->px, pt->redirect, pt->redirect_len, &ask);
    if (node < 0 || pt->redirects >= NODES_REDIRECTS) {
        if (node >= 0) {
            part_failed(pt, OUTCOME_EREDIRECTS, NULL);
        } else if (r->splits) {
            free(pt->reply);
            pt->reply = pt->redirect; /* as Redis said it */
            pt->reply_len = pt->redirect_len;
            pt->redirect = NULL;
        } else {
            r->status = rcmd_set_reply(r, pt->redirect, pt->redirect_len) == 0
                            ? OUTCOME_OK
                            : OUTCOME_ENOMEM;
        }
        free(pt->redirect);
        pt->redirect = NULL;
        return -1;
    }
    free(pt->redirect);
    pt->redirect = NULL;
    pt->redirects++;
    pt->asking = (uint8_t)ask;
    pt->node = node;
    if (part_send(r->px, pt, 1, err) != PIPE_QUEUED) {
        nodes_want_refresh(r->px->nodes);
        part_failed(pt, OUTCOME_EDOWN, err);
        return -1;
    }
    return 0;
}

/* Redis refused pt as a replica: the master it was sent to was demoted.
 * Nothing ran, so the record waits for the new master (failover.h). */
static void
refused_readonly(struct rpart *pt)
{
    struct rcmd *r = pt->r;

    pt->readonly = 0;
    free(r->getkeys);
    r->getkeys = NULL;
    r->getkeys_len = 0;
    if (r->reroutes >= ROUTE_REROUTES) {
        atomic_fetch_add_explicit(&r->px->metrics.readonly_failed, 1,
                                  memory_order_relaxed);
        rcmd_fail(r, OUTCOME_EFAILOVER,
                  "the new master refused it as a replica too; not run");
        rcmd_complete(r);
        return;
    }
    failover_park(r->px, r, pt->node);
}

static void
part_done(struct ureq *u, int status, const char *err)
{
    struct rpart *pt = (struct rpart *)u;
    struct rcmd *r = pt->r;

    if (status == 0 && pt->readonly) {
        refused_readonly(pt);
        return;
    }
    if (status == 0 && pt->redirect != NULL && follow(pt) == 0) {
        return; /* on its way to the node the redirect named */
    }
    if (status != 0) {
        if (status == UPSTREAM_EDOWN) {
            nodes_want_refresh(r->px->nodes);
        }
        part_failed(pt, status, err);
    }
    if (atomic_fetch_sub_explicit(&r->parts_left, 1, memory_order_acq_rel) ==
        1) {
        finish(r);
    }
}

/* ---- routing ---- */

/* Makes r's parts from plan pl (taken over). Returns 0 or -1. */
static int
take_plan(struct rcmd *r, struct cplan *pl)
{
    uint32_t i;

    if (pl->nparts > 1 || pl->merge != CPLAN_ONE) {
        r->parts = calloc(pl->nparts > 0 ? pl->nparts : 1, sizeof(*r->parts));
        if (r->parts == NULL) {
            r->parts = &r->part0;
            return -1;
        }
        r->splits = 1;
    }
    r->nparts = (uint32_t)pl->nparts;
    for (i = 0; i < r->nparts; i++) {
        struct rpart *pt = &r->parts[i];

        pt->r = r;
        pt->node = pl->parts[i].node;
        pt->own = pl->parts[i].req; /* the plan's bytes are the part's */
        pl->parts[i].req = NULL;
        pt->req = pt->own != NULL ? pt->own : r->raw;
        pt->req_len = pt->own != NULL ? pl->parts[i].len : r->raw_len;
    }
    atomic_store_explicit(&r->parts_left, r->nparts, memory_order_relaxed);
    r->plan = pl;
    return 0;
}

/* The parts of r on a cluster, from the plan. Returns ROUTE_QUEUED (parts
 * made, to be sent), ROUTE_DONE (answered: an answer of the proxy's or a
 * failure). */
static int
plan(struct proxy *px, struct rcmd *r)
{
    struct cplan_map m = map_of(px);
    struct cplan *pl = calloc(1, sizeof(*pl));
    struct resp_arg *argv = NULL, *keys = NULL;
    unsigned *slots = NULL;
    uint32_t i;
    int rc = ROUTE_DONE;

    argv = malloc((r->nargs + 1) * sizeof(*argv));
    keys = malloc((r->nkeys + 1) * sizeof(*keys));
    slots = malloc((r->nkeys + 1) * sizeof(*slots));
    if (pl == NULL || argv == NULL || keys == NULL || slots == NULL) {
        rcmd_fail(r, OUTCOME_ENOMEM, NULL);
        goto out;
    }
    for (i = 0; i < r->nargs; i++) {
        argv[i] = (struct resp_arg){r->raw + r->args[i].off, r->args[i].len};
    }
    for (i = 0; i < r->nkeys; i++) {
        keys[i] = rcmd_key(r, i);
        slots[i] = keyslot_of(keys[i].p, keys[i].len);
    }
    if (cplan_make(pl, &m, argv, r->nargs, keys, slots, r->nkeys) < 0) {
        cplan_free(pl);
        rcmd_fail(r, OUTCOME_ENOMEM, NULL);
        goto out;
    }
    if (pl->merge == CPLAN_LOCAL) {
        r->status = rcmd_set_reply(r, pl->local, strlen(pl->local)) == 0
                        ? OUTCOME_OK
                        : OUTCOME_ENOMEM;
        cplan_free(pl);
        goto out;
    }
    if (take_plan(r, pl) < 0) {
        cplan_free(pl);
        rcmd_fail(r, OUTCOME_ENOMEM, NULL);
        goto out;
    }
    pl = NULL;
    rc = ROUTE_QUEUED;
out:
    free(pl);
    free(argv);
    free(keys);
    free(slots);
    return rc;
}

/* May r go to a replica? A read-only command Redis knows whose keys are
 * known, not a cursor (a SCAN's cursor is only valid on the instance
 * that gave it). */
static int
replica_read(struct proxy *px, const struct rcmd *r)
{
    static const char *const cursors[] = {"scan", "sscan", "hscan", "zscan"};
    size_t i;

    if (px->replicas == NULL || !r->known || !(r->flags & CMD_READONLY) ||
        (r->flags & CMD_WRITE) || r->keys_asked || r->kind != RCMD_FORWARD) {
        return 0;
    }
    for (i = 0; i < RP_ARRAY_LEN(cursors); i++) {
        if (r->name_len == strlen(cursors[i]) &&
            strncasecmp(r->name, cursors[i], r->name_len) == 0) {
            return 0;
        }
    }
    return 1;
}

/* The parts of a read go to replicas where replicas_pick says (the
 * record's pipeline token picks among them). Returns 0, or -1 with err
 * set when read_from = replica finds none. */
static int
to_replicas(struct proxy *px, struct rcmd *r, char *err)
{
    uint64_t need = r->need;
    uint32_t i;

    for (i = 0; i < r->nkeys && need != WRITTEN_PENDING; i++) {
        struct resp_arg k = rcmd_key(r, i);
        uint64_t kn = replicas_need(px->replicas, k.p, k.len);

        need = kn > need ? kn : need;
    }
    if (r->nkeys == 0) {
        uint64_t f = replicas_floor(px->replicas);

        need = f > need ? f : need;
    }
    for (i = 0; i < r->nparts; i++) {
        struct rpart *pt = &r->parts[i];

        if (pt->node >= 0) {
            pt->node = replicas_pick(px->replicas, pt->node, need, r->token,
                                     err, UPSTREAM_ERR_MAX);
            if (pt->node < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Sends r's parts (made); see route_submit. */
static int
send_parts(struct proxy *px, struct rcmd *r, int must)
{
    char err[UPSTREAM_ERR_MAX];
    uint32_t i;
    int rc;

    if (replica_read(px, r) && to_replicas(px, r, err) < 0) {
        rcmd_fail(r, OUTCOME_EDOWN, err);
        r->splits = 0;
        return ROUTE_DONE;
    }
    rc = part_send(px, &r->parts[0], must, err);
    if (rc == PIPE_FULL) {
        return ROUTE_FULL;
    }
    if (rc == PIPE_DOWN) {
        if (nodes_is_cluster(px->nodes)) {
            nodes_want_refresh(px->nodes);
        }
        rcmd_fail(r, r->parts[0].node < 0 ? OUTCOME_ENOMAP : OUTCOME_EDOWN,
                  err);
        r->splits = 0; /* nothing went: the failure answers it whole */
        return ROUTE_DONE;
    }
    /* From here the first part is Redis's: the others must go too, over
     * the bounds if need be, since the record is already on its way. */
    for (i = 1; i < r->nparts; i++) {
        struct rpart *pt = &r->parts[i];

        if (part_send(px, pt, 1, err) != PIPE_QUEUED) {
            part_failed(pt, pt->node < 0 ? OUTCOME_ENOMAP : OUTCOME_EDOWN, err);
            if (atomic_fetch_sub_explicit(&r->parts_left, 1,
                                          memory_order_acq_rel) == 1) {
                finish(r);
            }
        }
    }
    return ROUTE_QUEUED;
}

int
route_submit_every(struct proxy *px, struct rcmd *r)
{
    struct cplan_map m = map_of(px);
    struct cplan *pl = calloc(1, sizeof(*pl));

    if (pl == NULL || cplan_every(pl, &m, CPLAN_OK) < 0 ||
        take_plan(r, pl) < 0) {
        if (pl != NULL) {
            cplan_free(pl);
        }
        free(pl);
        rcmd_fail(r, OUTCOME_ENOMEM, NULL);
        return ROUTE_DONE;
    }
    if (r->nparts == 0) {
        rcmd_fail(r, OUTCOME_ENOMAP, route_no_node(px));
        return ROUTE_DONE;
    }
    return send_parts(px, r, 1);
}

int
route_submit(struct proxy *px, struct rcmd *r, int must)
{
    if (nodes_is_cluster(px->nodes) && !r->pinned) {
        if (plan(px, r) == ROUTE_DONE) {
            return ROUTE_DONE;
        }
    } else {
        r->part0.r = r;
        r->part0.node = r->pinned ? r->pin : nodes_master(px->nodes);
        r->part0.req = r->raw;
        r->part0.req_len = r->raw_len;
    }
    /* Standalone only: in a cluster ASKING would go to GETKEYS. */
    r->part0.getkeys = r->keys_asked && !nodes_is_cluster(px->nodes);
    return send_parts(px, r, must);
}

int
route_redirect(struct proxy *px, const char *reply, size_t len, int *ask)
{
    if (len < 8 || reply[0] != '-' ||
        (memcmp(reply + 1, "MOVED ", 6) != 0 &&
         memcmp(reply + 1, "ASK ", 4) != 0)) {
        return -1;
    }
    return nodes_redirect(px->nodes, reply + 1, len - 3, ask);
}

int
route_again(struct proxy *px, struct rcmd *r, int safe)
{
    struct rpart *pt = &r->part0;

    r->reroute = 0;
    if (!safe) {
        atomic_fetch_add_explicit(&px->metrics.readonly_failed, 1,
                                  memory_order_relaxed);
        rcmd_fail(r, OUTCOME_EFAILOVER,
                  "not run (the old master refused it), and not sent again "
                  "since commands of this connection after it are on their "
                  "way");
        return ROUTE_DONE;
    }
    atomic_fetch_add_explicit(&px->metrics.readonly_rerouted, 1,
                              memory_order_relaxed);
    r->reroutes++;
    r->status = OUTCOME_OK;
    pt->redirects = 0;
    pt->asking = 0;
    atomic_store_explicit(&r->parts_left, 1, memory_order_relaxed);
    rcmd_rewait(r);
    if (route_submit(px, r, 1) == ROUTE_QUEUED) {
        return ROUTE_QUEUED;
    }
    rcmd_settle(r);
    return ROUTE_DONE;
}

const char *
route_no_node(struct proxy *px)
{
    return nodes_is_sentinel(px->nodes)
               ? "the master is not known yet (no sentinel has named one)"
               : "the cluster's slot map is not known yet";
}
