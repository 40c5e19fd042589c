/*
 * keeper: a one-second tick on its own thread; see keeper.h. It sleeps in
 * poll() on an eventfd, which keeper_destroy writes to stop it at once.
 */
#include "upstream/keeper.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "base/qsbr.h"
#include "base/util.h"

#define KEEPER_TICK_MS 1000

struct keeper {
    struct nodes *nodes;
    struct spares *spares; /* NULL in cluster mode */
    struct commands *cmds;
    long epoch; /* the pool's epoch the table was read at */
    int failed; /* the last read failed (and was logged) */
    int stopfd; /* eventfd: readable when stopping */
    pthread_t thread;
};

/* Reads the command table again when the pool's epoch moved (a connect
 * that ended a down period), and until it has one at all (Redis was not
 * there at start). A failure is logged once per outage. */
static void
reload_commands(struct keeper *k)
{
    struct upstream_stats st;
    char err[REDIS_ERR_MAX];
    size_t have;
    long n;

    int any = nodes_any(k->nodes);

    nodes_pool_stats(k->nodes, &st);
    have = commands_count(commands_acquire(k->cmds));
    commands_release(k->cmds);
    if ((st.epoch == k->epoch && have > 0) || any < 0) {
        return;
    }
    n = commands_load(k->cmds, nodes_target(k->nodes, any), err);
    if (n < 0) {
        if (!k->failed) {
            log_warn("msg=\"cannot read the command table\" cause=\"%s\"", err);
        }
        k->failed = 1;
        return;
    }
    k->epoch = st.epoch;
    k->failed = 0;
    log_info("msg=\"command table read\" commands=%ld", n);
}

static void *
keeper_main(void *arg)
{
    struct keeper *k = arg;
    struct pollfd pfd[2] = {
        {.fd = k->stopfd, .events = POLLIN},
        {.fd = k->spares != NULL ? spares_fd(k->spares) : -1,
         .events = POLLIN}};
    int64_t next = util_now_ms() + KEEPER_TICK_MS;

    if (k->spares != NULL) {
        spares_fill(k->spares);
    }
    for (;;) {
        int64_t left = next - util_now_ms();
        int n;

        qsbr_offline(); /* holds no settings snapshot while it waits */
        n = poll(pfd, 2, left > 0 ? (int)left : 0);
        qsbr_online();

        if (n > 0 && pfd[0].revents) {
            return NULL;
        }
        if (n > 0 && pfd[1].revents) {
            spares_fill(k->spares); /* a session took one */
        }
        if (util_now_ms() >= next) {
            nodes_tick(k->nodes);
            reload_commands(k);
            if (k->spares != NULL) {
                spares_fill(k->spares);
            }
            next = util_now_ms() + KEEPER_TICK_MS;
        }
    }
}

struct keeper *
keeper_create(struct nodes *n, struct commands *cmds, struct spares *sp)
{
    struct keeper *k = calloc(1, sizeof(*k));

    if (k == NULL) {
        return NULL;
    }
    k->nodes = n;
    k->spares = sp;
    k->cmds = cmds;
    k->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (k->stopfd < 0) {
        goto fail_eventfd;
    }
    if (pthread_create(&k->thread, NULL, keeper_main, k) != 0) {
        goto fail_thread;
    }
    return k;

fail_thread:
    close(k->stopfd);
fail_eventfd:
    free(k);
    return NULL;
}

void
keeper_destroy(struct keeper *k)
{
    uint64_t one = 1;

    if (k == NULL) {
        return;
    }
    while (write(k->stopfd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
    pthread_join(k->thread, NULL);
    close(k->stopfd);
    free(k);
}
