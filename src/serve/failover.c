/*
 * failover: sessions pinned to a node and writes waiting for a new
 * master; see failover.h.
 */
#include "serve/failover.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/util.h"
#include "net/waiter.h"
#include "serve/outcome.h"
#include "serve/proxy.h"
#include "upstream/nodes.h"
#include "upstream/spares.h"

struct failover {
    struct proxy *px;
    pthread_mutex_t lock;
    struct failover_pin pins; /* a ring's head; lock */
    struct rcmd *parked;      /* lock */
    long nparked;             /* lock */
};

struct failover *
failover_create(struct proxy *px)
{
    struct failover *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        free(f);
        return NULL;
    }
    f->px = px;
    f->pins.prev = f->pins.next = &f->pins;
    return f;
}

/* Completes every record of list as taken: with reroute, or failed with
 * why. No lock held. */
static void
complete_all(struct rcmd *list, int reroute, const char *why)
{
    struct rcmd *r;

    while ((r = list) != NULL) {
        list = r->parked;
        r->parked = NULL;
        if (reroute) {
            r->reroute = 1;
            r->status = OUTCOME_OK;
        } else {
            atomic_fetch_add_explicit(&r->px->metrics.readonly_failed, 1,
                                      memory_order_relaxed);
            rcmd_fail(r, OUTCOME_EFAILOVER, why);
        }
        rcmd_complete(r);
    }
}

void
failover_destroy(struct failover *f)
{
    if (f == NULL) {
        return;
    }
    complete_all(f->parked, 0, "the proxy is shutting down; not run");
    pthread_mutex_destroy(&f->lock);
    free(f);
}

void
failover_switched(void *arg, int old, int now)
{
    struct proxy *px = arg;
    struct failover *f = px->failover;
    struct failover_pin *p;
    struct rcmd *list;
    uint64_t *wake = NULL;
    size_t n = 0, cap = 0, i;

    (void)old;
    if (px->spares != NULL) {
        spares_follow(px->spares, nodes_target(px->nodes, now));
    }
    pthread_mutex_lock(&f->lock);
    list = f->parked;
    f->parked = NULL;
    f->nparked = 0;
    for (p = f->pins.next; p != &f->pins; p = p->next) {
        if (p->node == now) {
            continue;
        }
        if (n == cap) {
            uint64_t *nw = realloc(wake, (cap ? cap * 2 : 16) * sizeof(*nw));

            if (nw == NULL) {
                break; /* the rest find out at their next command */
            }
            wake = nw;
            cap = cap ? cap * 2 : 16;
        }
        wake[n++] = (uint64_t)p->gen << 32 | p->slot;
    }
    pthread_mutex_unlock(&f->lock);
    complete_all(list, 1, NULL);
    for (i = 0; i < n; i++) {
        waiter_wake(px->waiter, (uint32_t)wake[i], (uint32_t)(wake[i] >> 32));
    }
    if (n > 0) {
        log_info("msg=\"sessions on the old master end\" sessions=%zu", n);
    }
    free(wake);
}

void
failover_pin(struct proxy *px, struct failover_pin *pin, int node,
             uint32_t slot, uint32_t gen)
{
    struct failover *f = px->failover;

    pin->prev = pin->next = NULL;
    if (f == NULL || !nodes_is_sentinel(px->nodes)) {
        return;
    }
    pin->node = node;
    pin->slot = slot;
    pin->gen = gen;
    pthread_mutex_lock(&f->lock);
    pin->prev = f->pins.prev;
    pin->next = &f->pins;
    f->pins.prev->next = pin;
    f->pins.prev = pin;
    pthread_mutex_unlock(&f->lock);
}

void
failover_unpin(struct proxy *px, struct failover_pin *pin)
{
    struct failover *f = px->failover;

    if (f == NULL || pin->next == NULL) {
        return;
    }
    pthread_mutex_lock(&f->lock);
    pin->prev->next = pin->next;
    pin->next->prev = pin->prev;
    pthread_mutex_unlock(&f->lock);
    pin->prev = pin->next = NULL;
}

int
failover_session_gone(struct proxy *px, int node)
{
    int master;

    if (!nodes_is_sentinel(px->nodes)) {
        return 0;
    }
    master = nodes_master(px->nodes);
    return master >= 0 && master != node;
}

void
failover_park(struct proxy *px, struct rcmd *r, int node)
{
    struct failover *f = px->failover;
    int moved;

    r->parked_until = util_now_ms() + FAILOVER_WAIT_MS;
    r->parked = NULL;
    if (f == NULL) {
        complete_all(r, 0, "not run");
        return;
    }
    pthread_mutex_lock(&f->lock);
    /* The switch publishes the master before its hook takes this list:
     * seen here, or taken there. */
    moved = nodes_master(px->nodes) != node;
    if (!moved) {
        r->parked = f->parked;
        f->parked = r;
        f->nparked++;
    }
    pthread_mutex_unlock(&f->lock);
    if (moved) {
        complete_all(r, 1, NULL);
        return;
    }
    nodes_want_refresh(px->nodes);
}

void
failover_tick(struct proxy *px)
{
    struct failover *f = px->failover;
    struct rcmd **at, *over = NULL, *r;
    int64_t now = util_now_ms();
    char why[160];

    if (f == NULL) {
        return;
    }
    pthread_mutex_lock(&f->lock);
    for (at = &f->parked; (r = *at) != NULL;) {
        if (now < r->parked_until) {
            at = &r->parked;
            continue;
        }
        *at = r->parked;
        r->parked = over;
        over = r;
        f->nparked--;
    }
    pthread_mutex_unlock(&f->lock);
    snprintf(why, sizeof(why),
             "the master answered as a replica (READONLY) and the sentinels "
             "named no other within %d ms; not run",
             FAILOVER_WAIT_MS);
    complete_all(over, 0, why);
}

long
failover_waiting(struct proxy *px)
{
    struct failover *f = px->failover;
    long n;

    if (f == NULL) {
        return 0;
    }
    pthread_mutex_lock(&f->lock);
    n = f->nparked;
    pthread_mutex_unlock(&f->lock);
    return n;
}
