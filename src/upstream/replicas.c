/*
 * replicas: the replication monitor and the choice of a replica; see
 * replicas.h. The monitor's connections are blocking rconns (one per
 * node it samples, kept open), each call bounded by command_timeout.
 */
#include "upstream/replicas.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "base/qsbr.h"
#include "base/util.h"
#include "upstream/rconn.h"
#include "upstream/tracking.h"

/* A master's offsets of the last rounds. */
struct sample {
    uint64_t round;
    long long offset;
    int64_t at_ms; /* when the round was announced */
};

/* What is known of node i. */
struct node_state {
    /* Read by workers: */
    atomic_int usable;
    atomic_int tracked;
    _Atomic uint64_t reached;
    /* The monitor's (and, for the admin port, read with relaxed loads): */
    atomic_int watched;
    _Atomic long long lag_bytes;
    atomic_long lag_ms;
    int master;      /* the master reached was counted against */
    int warned;      /* why it is not read from was logged */
    struct rconn rc; /* the monitor's connection */
    char replid[48]; /* a master's replication id */
    struct sample hist[REPLICAS_HISTORY]; /* a master's; by round */
};

struct replicas {
    const struct config_ref *cfg;
    struct nodes *nodes;
    struct written *written;
    int read_from;
    _Atomic uint64_t round; /* the last announced */
    struct node_state node[NODES_MAX];
    atomic_long to_replica, kept_written, fallback, refused;
    int stopfd;
    pthread_t thread;
    int running;
};

/* ---- parsing ---- */

/* The value of "name:" at a line start in text[0..len), copied into
 * out[0..cap); 0 when absent. */
static int
info_field(const char *text, size_t len, const char *name, char *out,
           size_t cap)
{
    size_t n = strlen(name), i = 0;

    while (i + n + 1 <= len) {
        const char *line = text + i, *eol = memchr(line, '\n', len - i);
        size_t ll = eol != NULL ? (size_t)(eol - line) : len - i;

        if (ll > n && memcmp(line, name, n) == 0 && line[n] == ':') {
            size_t vl = ll - n - 1;

            if (vl > 0 && line[n + 1 + vl - 1] == '\r') {
                vl--;
            }
            if (vl >= cap) {
                return 0;
            }
            memcpy(out, line + n + 1, vl);
            out[vl] = '\0';
            return 1;
        }
        i += ll + 1;
    }
    return 0;
}

int
replicas_parse_info(const char *text, size_t len, struct repl_info *out)
{
    char v[NODES_HOST_MAX];
    char *end;

    memset(out, 0, sizeof(*out));
    out->offset = -1;
    if (!info_field(text, len, "role", v, sizeof(v))) {
        return -1;
    }
    out->master = strcmp(v, "master") == 0;
    if (info_field(text, len, "master_link_status", v, sizeof(v))) {
        out->link_up = strcmp(v, "up") == 0;
    }
    info_field(text, len, "master_replid", out->replid, sizeof(out->replid));
    if (info_field(text, len,
                   out->master ? "master_repl_offset" : "slave_repl_offset", v,
                   sizeof(v))) {
        errno = 0;
        out->offset = strtoll(v, &end, 10);
        if (errno != 0 || *end != '\0' || end == v) {
            out->offset = -1;
        }
    }
    info_field(text, len, "master_host", out->master_host,
               sizeof(out->master_host));
    if (info_field(text, len, "master_port", v, sizeof(v))) {
        out->master_port = atoi(v);
    }
    return 0;
}

/* ---- the choice ---- */

int
replicas_choose(const struct replica_view *v, int n, int master, uint64_t need,
                uint64_t hash, int read_from)
{
    int usable = 0, fit = 0, fit_tracked = 0, i, k, pick;

    for (i = 0; i < n; i++) {
        if (!v[i].usable) {
            continue;
        }
        usable++;
        if (need != WRITTEN_PENDING && v[i].reached >= need) {
            fit++;
            fit_tracked += v[i].tracked != 0;
        }
    }
    if (fit == 0) {
        return usable > 0 || read_from != CONFIG_READ_REPLICA ? master : -1;
    }
    /* Among those that fit, those whose stream is up when there are any
     * (what a replica without one serves is never cached). */
    pick = (int)(hash % (uint64_t)(fit_tracked > 0 ? fit_tracked : fit));
    for (i = 0, k = 0; i < n; i++) {
        if (v[i].usable && need != WRITTEN_PENDING && v[i].reached >= need &&
            (fit_tracked == 0 || v[i].tracked) && k++ == pick) {
            return v[i].node;
        }
    }
    return master; /* not reached */
}

int
replicas_pick(struct replicas *r, int m, uint64_t need, uint64_t hash,
              char *err, size_t len)
{
    struct replica_view v[NODES_MAX] = {{0}};
    uint64_t mask = nodes_replicas(r->nodes, m);
    int n = 0, i, to;

    for (i = 0; mask != 0 && i < NODES_MAX; i++) {
        if (mask & (UINT64_C(1) << i)) {
            struct node_state *ns = &r->node[i];

            v[n].node = i;
            v[n].usable =
                atomic_load_explicit(&ns->usable, memory_order_acquire);
            v[n].tracked =
                atomic_load_explicit(&ns->tracked, memory_order_relaxed);
            v[n].reached =
                atomic_load_explicit(&ns->reached, memory_order_acquire);
            n++;
        }
    }
    to = replicas_choose(v, n, m, need, hash, r->read_from);
    if (to < 0) {
        atomic_fetch_add_explicit(&r->refused, 1, memory_order_relaxed);
        snprintf(err, len, "no replica to read from (read_from = replica): %s",
                 n == 0 ? "none known" : "none reachable and in sync");
    } else if (to != m) {
        atomic_fetch_add_explicit(&r->to_replica, 1, memory_order_relaxed);
    } else {
        for (i = 0; i < n && !v[i].usable; i++) {
        }
        atomic_fetch_add_explicit(i < n ? &r->kept_written : &r->fallback, 1,
                                  memory_order_relaxed);
    }
    return to;
}

/* ---- writes ---- */

uint64_t
replicas_next_round(struct replicas *r)
{
    return atomic_load_explicit(&r->round, memory_order_acquire) + 1;
}

void
replicas_wrote_key(struct replicas *r, const char *key, size_t klen)
{
    written_key(r->written, written_hash(key, klen), replicas_next_round(r));
}

void
replicas_wrote_hash(struct replicas *r, uint64_t h)
{
    written_key(r->written, h, replicas_next_round(r));
}

void
replicas_wrote_all(struct replicas *r)
{
    written_all(r->written, replicas_next_round(r));
}

int
replicas_pending(struct replicas *r, uint64_t h)
{
    if (written_key(r->written, h, WRITTEN_PENDING) == 0) {
        return 0;
    }
    written_hold(r->written);
    return -1;
}

void
replicas_hold(struct replicas *r)
{
    written_hold(r->written);
}

void
replicas_unhold(struct replicas *r)
{
    written_all(r->written, replicas_next_round(r));
    written_release(r->written);
}

uint64_t
replicas_need(struct replicas *r, const char *key, size_t klen)
{
    return written_need(r->written, written_hash(key, klen));
}

uint64_t
replicas_floor(struct replicas *r)
{
    return written_floor(r->written);
}

/* ---- the monitor ---- */

/* INFO replication of node i on its monitor connection. Returns 0 or -1
 * (the connection is closed then; the next round opens another). */
static int
sample_node(struct replicas *r, int i, struct repl_info *out)
{
    struct node_state *ns = &r->node[i];
    char err[REDIS_ERR_MAX];
    redisReply *rep;
    int rc = -1;

    if (ns->rc.state != RCONN_READY) {
        rconn_close(&ns->rc);
        if (rconn_open(&ns->rc, nodes_target(r->nodes, i), NULL, err) < 0) {
            return -1;
        }
    }
    rep =
        rconn_call(&ns->rc, "INFO replication", err, NULL, "INFO replication");
    if (rep != NULL && rep->type == REDIS_REPLY_STRING) {
        rc = replicas_parse_info(rep->str, rep->len, out);
    }
    if (rep == NULL) {
        rconn_close(&ns->rc);
    }
    freeReplyObject(rep);
    return rc;
}

/* The latest round of master m's history whose offset off has reached,
 * or 0; its announce time into *at. */
static uint64_t
round_reached(const struct node_state *m, long long off, int64_t *at)
{
    uint64_t best = 0;
    int i;

    for (i = 0; i < REPLICAS_HISTORY; i++) {
        const struct sample *s = &m->hist[i];

        if (s->round > best && s->offset <= off) {
            best = s->round;
            *at = s->at_ms;
        }
    }
    return best;
}

static void
unusable(struct node_state *ns)
{
    atomic_store_explicit(&ns->usable, 0, memory_order_release);
}

/* Samples replica i of master m (sampled as mi this round). Returns the
 * round it reached when usable, else WRITTEN_PENDING. */
static uint64_t
sample_replica(struct replicas *r, int i, int m, const struct repl_info *mi,
               uint64_t settled)
{
    struct node_state *ns = &r->node[i], *ms = &r->node[m];
    struct upstream_stats pool;
    struct tracking_stats ts;
    struct repl_info ri;
    int64_t at = util_now_ms();
    uint64_t reached;

    atomic_store_explicit(&ns->watched, 1, memory_order_relaxed);
    if (ns->master != m) {
        ns->master = m; /* a new master: nothing reached of its stream */
        atomic_store_explicit(&ns->reached, 0, memory_order_release);
    }
    if (sample_node(r, i, &ri) < 0 || ri.master || !ri.link_up ||
        ri.offset < 0 || strcmp(ri.replid, mi->replid) != 0) {
        if (ns->usable || !ns->warned) {
            log_info("msg=\"replica not read from\" addr=%s:%d cause=\"%s\"",
                     nodes_target(r->nodes, i)->host,
                     nodes_target(r->nodes, i)->port,
                     ns->rc.state != RCONN_READY ? "no answer"
                     : ri.master                 ? "it is a master"
                     : !ri.link_up   ? "its link to the master is down"
                     : ri.offset < 0 ? "no replication offset"
                                     : "it replicates another master");
            ns->warned = 1;
        }
        unusable(ns);
        return WRITTEN_PENDING;
    }
    ns->warned = 0;
    reached = round_reached(ms, ri.offset, &at);
    if (reached < atomic_load(&ns->reached)) {
        reached = atomic_load(&ns->reached); /* older than the history */
    } else {
        atomic_store_explicit(&ns->lag_ms, (long)(util_now_ms() - at),
                              memory_order_relaxed);
    }
    atomic_store_explicit(&ns->reached, reached, memory_order_release);
    atomic_store_explicit(&ns->lag_bytes, mi->offset - ri.offset,
                          memory_order_relaxed);
    upstream_stats(nodes_pool(r->nodes, i), &pool);
    tracking_stats(nodes_tracking(r->nodes, i), &ts);
    atomic_store_explicit(&ns->tracked, ts.state != TRACKING_DOWN,
                          memory_order_relaxed);
    if (pool.down || reached < settled) {
        unusable(ns);
        return pool.down ? WRITTEN_PENDING : reached;
    }
    atomic_store_explicit(&ns->usable, 1, memory_order_release);
    return reached;
}

/* Samples master m and its replicas in mask for round. Returns the lowest
 * round a usable replica reached (WRITTEN_PENDING: none). */
static uint64_t
sample_group(struct replicas *r, int m, uint64_t mask, uint64_t round,
             int64_t now, uint64_t settled)
{
    struct node_state *ms = &r->node[m];
    struct repl_info mi;
    uint64_t low = WRITTEN_PENDING;
    int i;

    if (sample_node(r, m, &mi) < 0 || !mi.master || mi.offset < 0) {
        for (i = 0; i < NODES_MAX; i++) {
            if (mask & (UINT64_C(1) << i)) {
                unusable(&r->node[i]);
            }
        }
        return low;
    }
    if (strcmp(ms->replid, mi.replid) != 0) {
        memset(ms->hist, 0, sizeof(ms->hist)); /* another stream */
        snprintf(ms->replid, sizeof(ms->replid), "%s", mi.replid);
    }
    ms->hist[round % REPLICAS_HISTORY] =
        (struct sample){.round = round, .offset = mi.offset, .at_ms = now};
    for (i = 0; i < NODES_MAX; i++) {
        if (mask & (UINT64_C(1) << i)) {
            uint64_t got = sample_replica(r, i, m, &mi, settled);

            low = got < low ? got : low;
        }
    }
    return low;
}

/* One round over every master with replicas. */
static void
sample_round(struct replicas *r)
{
    int masters[NODES_MAX], k = nodes_masters(r->nodes, masters, NODES_MAX), i;
    uint64_t round = atomic_load(&r->round) + 1, low = WRITTEN_PENDING,
             seen = 0;
    int64_t now = util_now_ms();
    uint64_t settled = written_settled(r->written);

    /* Announced before any offset of it is read: a write answered
     * before this store needs round at most. */
    atomic_store_explicit(&r->round, round, memory_order_release);
    for (i = 0; i < k; i++) {
        uint64_t mask = nodes_replicas(r->nodes, masters[i]), got;

        seen |= mask;
        if (mask == 0) {
            continue;
        }
        got = sample_group(r, masters[i], mask, round, now, settled);
        low = got < low ? got : low;
    }
    for (i = 0; i < nodes_count(r->nodes); i++) {
        if (!(seen & (UINT64_C(1) << i))) {
            unusable(&r->node[i]); /* no longer a replica we read from */
            atomic_store_explicit(&r->node[i].watched, 0, memory_order_relaxed);
        }
    }
    if (low != WRITTEN_PENDING) {
        written_settle(r->written, low);
    }
}

static void *
replicas_main(void *arg)
{
    struct replicas *r = arg;
    struct pollfd pfd = {.fd = r->stopfd, .events = POLLIN};

    for (;;) {
        int n;

        qsbr_offline(); /* holds no settings snapshot while it waits */
        n = poll(&pfd, 1, REPLICAS_POLL_MS);
        qsbr_online();

        if (n > 0) {
            return NULL;
        }
        if (n < 0 && errno != EINTR) {
            log_error("msg=\"replica monitor poll failed\" cause=\"%s\"",
                      strerror(errno));
            return NULL;
        }
        sample_round(r);
    }
}

struct replicas *
replicas_start(const struct config_ref *cfg, struct nodes *n, int *err)
{
    struct replicas *r;
    int i;

    *err = 0;
    if (config_get(cfg)->read_from == CONFIG_READ_MASTER) {
        return NULL;
    }
    *err = 1;
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->cfg = cfg;
    r->nodes = n;
    r->read_from = config_get(cfg)->read_from;
    for (i = 0; i < NODES_MAX; i++) {
        rconn_init(&r->node[i].rc);
        r->node[i].master = -1;
    }
    r->written = written_create(REPLICAS_WRITTEN);
    r->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->written == NULL || r->stopfd < 0) {
        goto fail;
    }
    sample_round(r); /* before serving: replicas known to be in sync */
    if (pthread_create(&r->thread, NULL, replicas_main, r) != 0) {
        goto fail;
    }
    r->running = 1;
    *err = 0;
    return r;

fail:
    if (r->stopfd >= 0) {
        close(r->stopfd);
    }
    written_destroy(r->written);
    for (i = 0; i < NODES_MAX; i++) {
        rconn_close(&r->node[i].rc);
    }
    free(r);
    return NULL;
}

void
replicas_stop(struct replicas *r)
{
    uint64_t one = 1;
    int i;

    if (r == NULL) {
        return;
    }
    if (r->running) {
        while (write(r->stopfd, &one, sizeof(one)) < 0 && errno == EINTR) {
        }
        pthread_join(r->thread, NULL);
    }
    for (i = 0; i < NODES_MAX; i++) {
        rconn_close(&r->node[i].rc);
    }
    close(r->stopfd);
    written_destroy(r->written);
    free(r);
}

void
replicas_node_stats(struct replicas *r, int i, struct replica_stats *out)
{
    const struct node_state *ns = &r->node[i];

    out->watched = atomic_load_explicit(&ns->watched, memory_order_relaxed);
    out->usable = atomic_load_explicit(&ns->usable, memory_order_relaxed);
    out->reached = atomic_load_explicit(&ns->reached, memory_order_relaxed);
    out->lag_bytes = atomic_load_explicit(&ns->lag_bytes, memory_order_relaxed);
    out->lag_ms = atomic_load_explicit(&ns->lag_ms, memory_order_relaxed);
}

void
replicas_totals(struct replicas *r, struct replicas_totals *out)
{
    out->to_replica = atomic_load(&r->to_replica);
    out->written = atomic_load(&r->kept_written);
    out->fallback = atomic_load(&r->fallback);
    out->refused = atomic_load(&r->refused);
    out->round = atomic_load(&r->round);
    written_stats(r->written, &out->keys);
}
