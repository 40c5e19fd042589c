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

#define KEEPER_TICK_MS 1000

struct keeper {
    struct upstream *up;
    int stopfd; /* eventfd: readable when stopping */
    pthread_t thread;
};

static void *
keeper_main(void *arg)
{
    struct keeper *k = arg;
    struct pollfd pfd = {.fd = k->stopfd, .events = POLLIN};

    for (;;) {
        int n = poll(&pfd, 1, KEEPER_TICK_MS);

        if (n > 0) {
            return NULL;
        }
        if (n == 0) {
            upstream_check_idle(k->up);
        }
    }
}

struct keeper *
keeper_create(struct upstream *u)
{
    struct keeper *k = calloc(1, sizeof(*k));

    if (k == NULL) {
        return NULL;
    }
    k->up = u;
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
