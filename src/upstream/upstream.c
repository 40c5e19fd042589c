/*
 * upstream: a node's pipelines and their shared down state; see
 * upstream.h.
 */
#include "upstream/upstream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstream/pipe.h"

#define PROTOS 2 /* RESP2, RESP3 */

struct upstream {
    const struct config_ref *cfg;
    const struct redis_target *target;
    struct tracking *tracking;
    struct waiter *w;
    int size;                      /* pipelines per protocol */
    struct reach reach;            /* what they share about the server */
    _Atomic(struct pipe *) *pipes; /* [proto - 2][i], made on first use */
};

struct upstream *
upstream_create(const struct config_ref *cfg, const struct redis_target *target,
                struct tracking *t, struct waiter *w)
{
    struct upstream *u = calloc(1, sizeof(*u));
    int i;

    if (u == NULL) {
        return NULL;
    }
    u->size = config_get(cfg)->pool_size;
    u->pipes = calloc((size_t)u->size * PROTOS, sizeof(u->pipes[0]));
    if (u->pipes == NULL || reach_init(&u->reach, cfg, target, t) < 0) {
        free(u->pipes);
        free(u);
        return NULL;
    }
    for (i = 0; i < u->size * PROTOS; i++) {
        atomic_init(&u->pipes[i], NULL);
    }
    u->cfg = cfg;
    u->target = target;
    u->tracking = t;
    u->w = w;
    return u;
}

void
upstream_destroy(struct upstream *u)
{
    int i;

    if (u == NULL) {
        return;
    }
    for (i = 0; i < u->size * PROTOS; i++) {
        pipe_destroy(atomic_load(&u->pipes[i]));
    }
    reach_deinit(&u->reach);
    free(u->pipes);
    free(u);
}

struct pipe *
upstream_pipe(struct upstream *u, int proto, uint64_t token)
{
    _Atomic(struct pipe *) *at = &u->pipes[(proto == 3 ? u->size : 0) +
                                           (int)(token % (uint64_t)u->size)];
    struct pipe *p = atomic_load_explicit(at, memory_order_acquire), *none;

    if (p != NULL) {
        return p;
    }
    p = pipe_create(&u->reach, proto == 3 ? 3 : 2, u->w);
    if (p == NULL) {
        return NULL;
    }
    none = NULL;
    if (!atomic_compare_exchange_strong_explicit(
            at, &none, p, memory_order_acq_rel, memory_order_acquire)) {
        pipe_destroy(p); /* another thread made it first */
        return none;
    }
    return p;
}

int
upstream_untracked(const struct upstream *u)
{
    return reach_untracked(&u->reach);
}

void
upstream_tick(struct upstream *u)
{
    int i;

    for (i = 0; i < u->size * PROTOS; i++) {
        struct pipe *p =
            atomic_load_explicit(&u->pipes[i], memory_order_acquire);

        if (p != NULL) {
            pipe_tick(p);
        }
    }
}

void
upstream_stats(struct upstream *u, struct upstream_stats *out)
{
    int i;

    memset(out, 0, sizeof(*out));
    out->size = u->size;
    for (i = 0; i < u->size * PROTOS; i++) {
        struct pipe *p =
            atomic_load_explicit(&u->pipes[i], memory_order_acquire);
        struct pipe_stats ps;

        if (p == NULL) {
            continue;
        }
        pipe_stats(p, &ps);
        out->in_use += ps.inflight > 0;
        out->connected += ps.connected;
        out->inflight += ps.inflight;
        out->commands += ps.commands;
        out->writes += ps.writes;
    }
    reach_stats(&u->reach, &out->errors, &out->reconnects, &out->epoch,
                &out->down);
}
