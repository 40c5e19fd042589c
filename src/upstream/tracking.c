/*
 * tracking: the invalidation stream's thread; see tracking.h.
 */
#include "upstream/tracking.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/qsbr.h"
#include "base/backoff.h"
#include "base/util.h"
#include "upstream/rconn.h"

#define PING_EVERY_MS 1000
#define SILENCE_MS 3000
#define TRACKING_STEADY_MS 1000 /* a stream up this long reopens at once */
#define CHANNEL "__redis__:invalidate"

struct tracking {
    const struct config_ref *cfg;
    const struct redis_target *target;
    const struct key_scope *scope; /* what this Redis's losses cover */
    struct flights *flights;
    pthread_mutex_t lock;
    pthread_cond_t first_cv;   /* signalled when `tried` is set */
    int tried;                 /* the first attempt ended; lock */
    enum tracking_state state; /* lock */
    long long id;              /* lock */
    uint64_t gen;              /* lock */
    long drops;                /* lock */
    long messages;             /* lock */
    char reason[128];          /* lock */
    int stopfd;                /* eventfd: readable when stopping */
    int running;               /* the thread was started */
    pthread_t thread;
};

static void
set_down(struct tracking *t, const char *why)
{
    int was_up;

    pthread_mutex_lock(&t->lock);
    t->tried = 1;
    pthread_cond_broadcast(&t->first_cv);
    was_up = t->state == TRACKING_UP;
    t->state = TRACKING_DOWN;
    t->drops += was_up;
    snprintf(t->reason, sizeof(t->reason), "%s", why);
    pthread_mutex_unlock(&t->lock);
    if (was_up) {
        /* Only now that DOWN is visible: no fill that starts from here on
         * counts on the old stream, and every earlier one is marked. While
         * DOWN nothing is cached, so later failures have nothing to do. */
        flights_lost_in(t->flights, t->scope);
        log_warn("msg=\"invalidation stream lost; cache expired\" "
                 "cause=\"%s\"",
                 why);
    }
}

/* Sleeps ms or until stop; returns 1 when stopping. */
static int
wait_or_stop(struct tracking *t, int64_t ms)
{
    struct pollfd pfd = {.fd = t->stopfd, .events = POLLIN};
    int n;

    qsbr_offline();
    do {
        n = poll(&pfd, 1, (int)ms);
    } while (n < 0 && errno == EINTR);
    qsbr_online();
    return n > 0;
}

enum open_result { OPEN_OK, OPEN_FAILED, OPEN_UNSUPPORTED };

/* Connects, checks CLIENT TRACKING exists, learns the id, subscribes. On
 * OPEN_OK rc is open (the caller closes it); otherwise it is closed. */
static enum open_result
open_stream(struct tracking *t, struct rconn *rc, long long *id, char *why,
            size_t len)
{
    char err[REDIS_ERR_MAX];
    redisReply *r;
    int refused;

    if (rconn_open(rc, t->target, NULL, err) < 0) {
        goto fail_open;
    }
    r = rconn_call(rc, "CLIENT TRACKING", err, &refused, "CLIENT TRACKING off");
    if (r == NULL) {
        /* Redis 5: "ERR Unknown subcommand or wrong number of arguments
         * for 'TRACKING'"; CLIENT renamed away: "ERR unknown command".
         * Anything else (LOADING...) is worth a retry. */
        int unsupported = refused && (strstr(err, "subcommand") ||
                                      strstr(err, "wrong number") ||
                                      strstr(err, "unknown command"));
        snprintf(why, len, "%.120s", err);
        rconn_close(rc);
        return unsupported ? OPEN_UNSUPPORTED : OPEN_FAILED;
    }
    freeReplyObject(r);
    r = rconn_call(rc, "CLIENT ID", err, NULL, "CLIENT ID");
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        if (r != NULL) {
            snprintf(err, sizeof(err), "CLIENT ID: not an integer");
        }
        freeReplyObject(r);
        goto fail;
    }
    *id = r->integer;
    freeReplyObject(r);
    r = rconn_call(rc, "SUBSCRIBE", err, NULL, "SUBSCRIBE " CHANNEL);
    if (r == NULL) {
        goto fail;
    }
    freeReplyObject(r);
    return OPEN_OK;

fail:
    rconn_close(rc);
fail_open:
    snprintf(why, len, "%.120s", err);
    return OPEN_FAILED;
}

/* Applies one pub/sub message. Returns 1 if it was a pong. */
static int
handle(struct tracking *t, redisReply *r)
{
    redisReply *kind, *payload;
    size_t i;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        return 0;
    }
    kind = r->element[0];
    if (strcmp(kind->str, "pong") == 0) {
        return 1;
    }
    if (strcmp(kind->str, "message") != 0 || r->elements != 3) {
        return 0;
    }
    payload = r->element[2];
    pthread_mutex_lock(&t->lock);
    t->messages++;
    pthread_mutex_unlock(&t->lock);
    if (payload->type == REDIS_REPLY_NIL) {
        log_debug("msg=\"invalidate all\"");
        flights_invalidate_in(t->flights, t->scope);
    } else if (payload->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < payload->elements; i++) {
            redisReply *k = payload->element[i];
            if (k->type == REDIS_REPLY_STRING) {
                flights_invalidate(t->flights, k->str, k->len);
            }
        }
    }
    return 0;
}

/* PINGs sent and not answered yet, oldest first (a small ring: a stream
 * with more outstanding than fit is already past SILENCE_MS). */
struct pings {
    int64_t sent[8];
    unsigned head, n;
};

/* Reads the stream until it fails, goes silent, or stop. Returns 1 when
 * stopping; why says what ended it otherwise. */
static int
follow(struct tracking *t, struct rconn *rc, char *why, size_t len)
{
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    int64_t next_ping = util_now_ms() + PING_EVERY_MS;
    struct pings pings = {{0}, 0, 0};

    for (;;) {
        int64_t now = util_now_ms();
        redisReply *r;
        int timed_out;

        if (pings.n > 0 && now - pings.sent[pings.head] >= SILENCE_MS) {
            snprintf(why, len, "no reply to PING for %d ms", SILENCE_MS);
            return 0;
        }
        if (now >= next_ping) {
            if (rconn_send_all(rc, ping, sizeof(ping) - 1) < 0) {
                break;
            }
            if (pings.n < 8) {
                pings.sent[(pings.head + pings.n++) % 8] = now;
            }
            next_ping = now + PING_EVERY_MS;
        }
        qsbr_offline(); /* holds no settings snapshot while it waits */
        r = rconn_wait_reply(rc, next_ping - now, t->stopfd, &timed_out);
        qsbr_online();
        if (r == NULL && !timed_out) {
            break;
        }
        if (r == NULL) {
            if (wait_or_stop(t, 0)) {
                return 1;
            }
            continue;
        }
        if (handle(t, r) && pings.n > 0) {
            pings.head = (pings.head + 1) % 8;
            pings.n--;
        }
        freeReplyObject(r);
    }
    snprintf(why, len, "%.120s", rconn_error(rc));
    return 0;
}

static void *
tracking_main(void *arg)
{
    struct tracking *t = arg;
    int64_t backoff = 0, up_ms;
    char why[128];

    for (;;) {
        struct rconn rc;
        long long id = 0;
        int stopping;

        qsbr_quiescent();
        rconn_init(&rc);
        switch (open_stream(t, &rc, &id, why, sizeof(why))) {
        case OPEN_UNSUPPORTED:
            pthread_mutex_lock(&t->lock);
            t->state = TRACKING_OFF;
            t->tried = 1;
            pthread_cond_broadcast(&t->first_cv);
            pthread_mutex_unlock(&t->lock);
            log_warn("msg=\"redis has no CLIENT TRACKING; cache runs on "
                     "TTL only\" cause=\"%s\"",
                     why);
            return NULL;
        case OPEN_FAILED:
            set_down(t, why);
            backoff = backoff_next(backoff);
            if (wait_or_stop(t, backoff)) {
                return NULL;
            }
            continue;
        case OPEN_OK:
            break;
        }
        /* Logged before it is published, so the line comes before anything
         * tracking_wait_first's caller logs (or reports) once it returns. */
        log_info("msg=\"invalidation stream established\" client_id=%lld", id);
        pthread_mutex_lock(&t->lock);
        t->state = TRACKING_UP;
        t->id = id;
        t->gen++;
        t->reason[0] = '\0';
        t->tried = 1;
        pthread_cond_broadcast(&t->first_cv);
        pthread_mutex_unlock(&t->lock);
        up_ms = util_now_ms();
        stopping = follow(t, &rc, why, sizeof(why));
        rconn_close(&rc);
        if (stopping) {
            return NULL;
        }
        set_down(t, why);
        /* A stream that stayed up a while is reopened at once; one that
         * keeps dropping as soon as it is up backs off like a failed open,
         * so a Redis that kills it in a loop is not reconnected in one. */
        if (util_now_ms() - up_ms >= TRACKING_STEADY_MS) {
            backoff = 0;
        } else {
            backoff = backoff_next(backoff);
            if (wait_or_stop(t, backoff)) {
                return NULL;
            }
        }
    }
}

struct tracking *
tracking_create(const struct config_ref *cfg, const struct redis_target *target,
                struct flights *fl, const struct key_scope *scope)
{
    struct tracking *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        return NULL;
    }
    t->cfg = cfg;
    t->target = target;
    t->scope = scope;
    t->flights = fl;
    t->state = config_get(cfg)->cache_tracking ? TRACKING_DOWN : TRACKING_OFF;
    snprintf(t->reason, sizeof(t->reason), "%s",
             config_get(cfg)->cache_tracking ? "not yet established" : "");
    t->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->stopfd < 0) {
        goto fail_eventfd;
    }
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        goto fail_mutex;
    }
    if (util_cond_init(&t->first_cv) != 0) {
        goto fail_cond;
    }
    return t;

fail_cond:
    pthread_mutex_destroy(&t->lock);
fail_mutex:
    close(t->stopfd);
fail_eventfd:
    free(t);
    return NULL;
}

int
tracking_start(struct tracking *t)
{
    if (!config_get(t->cfg)->cache_tracking) {
        return 0;
    }
    if (pthread_create(&t->thread, NULL, tracking_main, t) != 0) {
        return -1;
    }
    pthread_mutex_lock(&t->lock);
    t->running = 1;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

void
tracking_destroy(struct tracking *t)
{
    uint64_t one = 1;

    if (t == NULL) {
        return;
    }
    if (t->running) {
        while (write(t->stopfd, &one, sizeof(one)) < 0 && errno == EINTR) {
        }
        pthread_join(t->thread, NULL);
    }
    pthread_cond_destroy(&t->first_cv);
    pthread_mutex_destroy(&t->lock);
    close(t->stopfd);
    free(t);
}

void
tracking_wait_first(struct tracking *t, int64_t timeout_ms)
{
    struct timespec ts = util_deadline(util_now_ms() + timeout_ms);

    pthread_mutex_lock(&t->lock);
    while (t->running && !t->tried) {
        if (pthread_cond_timedwait(&t->first_cv, &t->lock, &ts) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
}

enum tracking_state
tracking_state(struct tracking *t, long long *id, uint64_t *gen)
{
    enum tracking_state st;

    pthread_mutex_lock(&t->lock);
    st = t->state;
    *id = t->id;
    *gen = t->gen;
    pthread_mutex_unlock(&t->lock);
    return st;
}

void
tracking_conn_lost(struct tracking *t)
{
    log_debug("msg=\"tracked redis connection lost; cache expired\"");
    flights_lost_in(t->flights, t->scope);
}

void
tracking_stats(struct tracking *t, struct tracking_stats *out)
{
    pthread_mutex_lock(&t->lock);
    out->state = t->state;
    out->drops = t->drops;
    out->messages = t->messages;
    snprintf(out->reason, sizeof(out->reason), "%s", t->reason);
    pthread_mutex_unlock(&t->lock);
}
