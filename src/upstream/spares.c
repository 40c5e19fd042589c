/*
 * spares: a stack of ready connections and an eventfd to ask for more;
 * see spares.h.
 */
#include "upstream/spares.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define SPARES_MAX 16

struct spares {
    const struct redis_target *target; /* lock */
    pthread_mutex_t lock;
    struct rconn ready[SPARES_MAX]; /* lock: [0..n) open, READY */
    int n;                          /* lock */
    int want;
    int efd;
};

struct spares *
spares_create(const struct redis_target *target, int want)
{
    struct spares *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        return NULL;
    }
    s->target = target;
    s->want = want < SPARES_MAX ? want : SPARES_MAX;
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->efd < 0 || pthread_mutex_init(&s->lock, NULL) != 0) {
        if (s->efd >= 0) {
            close(s->efd);
        }
        free(s);
        return NULL;
    }
    return s;
}

void
spares_destroy(struct spares *s)
{
    int i;

    if (s == NULL) {
        return;
    }
    for (i = 0; i < s->n; i++) {
        rconn_close(&s->ready[i]);
    }
    pthread_mutex_destroy(&s->lock);
    close(s->efd);
    free(s);
}

/* Is a connection that sat unused still open? Nothing is owed on it, so
 * anything readable is an EOF or an error. */
static int
alive(const struct rconn *rc)
{
    struct pollfd pfd = {.fd = rc->fd, .events = POLLIN};

    return poll(&pfd, 1, 0) == 0;
}

static void
wake_refill(struct spares *s)
{
    uint64_t one = 1;

    while (write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
}

void
spares_follow(struct spares *s, const struct redis_target *target)
{
    struct rconn old[SPARES_MAX];
    int n = 0, i;

    pthread_mutex_lock(&s->lock);
    if (s->target != target) {
        s->target = target;
        n = s->n;
        for (i = 0; i < n; i++) {
            old[i] = s->ready[i];
        }
        s->n = 0;
    }
    pthread_mutex_unlock(&s->lock);
    for (i = 0; i < n; i++) {
        rconn_close(&old[i]);
    }
    wake_refill(s);
}

int
spares_take(struct spares *s, const struct redis_target *target,
            struct rconn *out)
{
    int found = 0;

    for (;;) {
        pthread_mutex_lock(&s->lock);
        found = s->n > 0 && s->target == target;
        if (found) {
            *out = s->ready[--s->n];
        }
        pthread_mutex_unlock(&s->lock);
        if (!found || alive(out)) {
            break;
        }
        rconn_close(out);
    }
    wake_refill(s);
    return found ? 0 : -1;
}

int
spares_fd(const struct spares *s)
{
    return s->efd;
}

void
spares_fill(struct spares *s)
{
    char err[REDIS_ERR_MAX];
    uint64_t n;

    while (read(s->efd, &n, sizeof(n)) < 0 && errno == EINTR) {
    }
    while (spares_ready(s) < s->want) {
        const struct redis_target *t;
        struct rconn rc;
        int kept = 0;

        pthread_mutex_lock(&s->lock);
        t = s->target;
        pthread_mutex_unlock(&s->lock);
        rconn_init(&rc);
        /* Its CLIENT ID: sessions are named by it (serve/clients.h). */
        if (t == NULL || rconn_open(&rc, t,
                                    &(struct rconn_setup){
                                        .proto = 2, .db = -1, .client_id = 1},
                                    err) < 0) {
            return;
        }
        pthread_mutex_lock(&s->lock);
        if (s->n < s->want && s->target == t) {
            s->ready[s->n++] = rc;
            kept = 1;
        }
        pthread_mutex_unlock(&s->lock);
        if (!kept) {
            rconn_close(&rc);
        }
    }
}

int
spares_ready(struct spares *s)
{
    int n;

    pthread_mutex_lock(&s->lock);
    n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}
