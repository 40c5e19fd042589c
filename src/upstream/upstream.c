/*
 * upstream: pooled connections with a shared down/backoff state, driven
 * raw with progress-bounded replies that may arrive late; see upstream.h.
 *
 * Every round trip goes through slot_io(): it writes what it has to send
 * and reads replies in one poll() loop, frames each reply with the
 * resp_reply scanner over the slot's input buffer, discards the replies
 * owed from earlier timeouts first, and hands the rest to a sink. The
 * input buffer and the scanner's state belong to the slot, so a reply cut
 * by a timeout is finished (and discarded) by the next user. The cache's
 * fills are in upstream_fetch.c; the types both share, in pool_int.h.
 */
#include "upstream/upstream.h"
#include "upstream/pool_int.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/backoff.h"
#include "base/log.h"
#include "base/util.h"
#include "proto/resp.h"
#include "proto/resp_reply.h"

#define IN_MIN 16384       /* a slot's input buffer to begin with */
#define IN_KEEP (1u << 20) /* an idle slot keeps at most this much */
#define IOV_MAX_BATCH 1024 /* ranges of a batch written per writev */

struct upstream *
upstream_create(const struct config_ref *cfg, const struct redis_target *target,
                struct tracking *t)
{
    int pool_size = config_get(cfg)->pool_size;
    struct upstream *u;
    int i;

    u = calloc(1, sizeof(*u) + (size_t)pool_size * sizeof(u->slots[0]));
    if (u == NULL) {
        return NULL;
    }
    u->free_stack = calloc((size_t)pool_size, sizeof(int));
    if (u->free_stack == NULL) {
        goto fail_stack;
    }
    if (pthread_mutex_init(&u->lock, NULL) != 0) {
        goto fail_mutex;
    }
    if (util_cond_init(&u->slot_free) != 0) {
        goto fail_cond;
    }
    u->cfg = cfg;
    u->target = target;
    u->tracking = t;
    u->nslots = pool_size;
    for (i = u->nslots - 1; i >= 0; i--) {
        u->free_stack[u->nfree++] = i;
    }
    return u;

fail_cond:
    pthread_mutex_destroy(&u->lock);
fail_mutex:
    free(u->free_stack);
fail_stack:
    free(u);
    return NULL;
}

void
upstream_destroy(struct upstream *u)
{
    int i;

    if (u == NULL) {
        return;
    }
    for (i = 0; i < u->nslots; i++) {
        if (u->slots[i].ctx != NULL) {
            redisFree(u->slots[i].ctx);
        }
        free(u->slots[i].in.p);
    }
    pthread_cond_destroy(&u->slot_free);
    pthread_mutex_destroy(&u->lock);
    free(u->free_stack);
    free(u);
}

/* Borrows a free slot, waiting until deadline. Returns its index or -1
 * (err set). */
static int
slot_get(struct upstream *u, int64_t deadline, char *err)
{
    struct timespec ts = util_deadline(deadline);
    int idx = -1;

    pthread_mutex_lock(&u->lock);
    while (u->nfree == 0 && util_now_ms() < deadline) {
        pthread_cond_timedwait(&u->slot_free, &u->lock, &ts);
    }
    if (u->nfree > 0) {
        idx = u->free_stack[--u->nfree];
    } else {
        snprintf(err, UPSTREAM_ERR_MAX,
                 "no free redis connection within %lld ms",
                 (long long)config_get(u->cfg)->command_timeout_ms);
    }
    pthread_mutex_unlock(&u->lock);
    return idx;
}

static void
slot_put(struct upstream *u, int idx)
{
    struct slot *s = &u->slots[idx];

    if (s->in.start == s->in.end && s->in.cap > IN_KEEP) {
        /* A large reply passed through: do not keep its buffer idle. */
        free(s->in.p);
        memset(&s->in, 0, sizeof(s->in));
    }
    pthread_mutex_lock(&u->lock);
    u->free_stack[u->nfree++] = idx;
    pthread_cond_signal(&u->slot_free);
    pthread_mutex_unlock(&u->lock);
}

/* A slot's state for a connection just opened (or none): nothing owed,
 * not tracked, no bytes buffered. */
static void
slot_fresh(struct slot *s)
{
    s->pending = 0;
    s->track_gen = 0;
    s->in.start = s->in.end = 0;
    resp_reply_init(&s->scan);
}

/*
 * Gives slot s a live connection. Fails fast while the pool is down; after
 * the backoff, one thread probes. Returns 0, or -1 with err set.
 */
static int
slot_connect(struct upstream *u, struct slot *s, char *err)
{
    int64_t now = util_now_ms();

    pthread_mutex_lock(&u->lock);
    if (u->backoff_ms > 0 && (now < u->down_until || u->probing)) {
        snprintf(err, UPSTREAM_ERR_MAX, "%s", u->down_reason);
        pthread_mutex_unlock(&u->lock);
        return -1;
    }
    if (u->backoff_ms > 0) {
        u->probing = 1;
    }
    pthread_mutex_unlock(&u->lock);

    s->ctx = redis_open(u->target, err);
    if (s->ctx != NULL && util_set_nonblock(s->ctx->fd) < 0) {
        snprintf(err, UPSTREAM_ERR_MAX, "cannot make the socket non-blocking");
        redisFree(s->ctx);
        s->ctx = NULL;
    }
    slot_fresh(s);

    pthread_mutex_lock(&u->lock);
    u->probing = 0;
    if (s->ctx == NULL) {
        u->errors++;
        if (u->backoff_ms == 0) {
            log_warn("msg=\"redis unreachable\" addr=%s:%d cause=\"%s\"",
                     u->target->host, u->target->port, err);
        }
        u->backoff_ms = backoff_next(u->backoff_ms);
        u->down_until = util_now_ms() + u->backoff_ms;
        snprintf(u->down_reason, sizeof(u->down_reason), "%s", err);
    } else {
        if (u->backoff_ms > 0) {
            log_info("msg=\"redis reachable again\" addr=%s:%d",
                     u->target->host, u->target->port);
        }
        if (u->backoff_ms > 0) {
            u->epoch++;
        }
        u->backoff_ms = 0;
        u->connected++;
        if (s->ever_connected) {
            u->reconnects++;
        }
        s->ever_connected = 1;
    }
    pthread_mutex_unlock(&u->lock);
    return s->ctx != NULL ? 0 : -1;
}

/* Closes the slot's failed connection. What it read is no longer
 * tracked. */
static void
slot_drop(struct upstream *u, struct slot *s)
{
    int was_tracked = s->track_gen != 0;

    redisFree(s->ctx);
    s->ctx = NULL;
    slot_fresh(s);
    pthread_mutex_lock(&u->lock);
    u->errors++;
    u->connected--;
    pthread_mutex_unlock(&u->lock);
    if (was_tracked) {
        tracking_conn_lost(u->tracking);
    }
}

/* Room for more input: compacts, or doubles the buffer. Returns 0 or -1. */
static int
in_room(struct ibuf *in)
{
    char *np;
    size_t cap;

    if (in->start > 0 && (in->start == in->end || in->end == in->cap)) {
        memmove(in->p, in->p + in->start, in->end - in->start);
        in->end -= in->start;
        in->start = 0;
    }
    if (in->end < in->cap) {
        return 0;
    }
    cap = in->cap == 0 ? IN_MIN : in->cap * 2;
    np = realloc(in->p, cap);
    if (np == NULL) {
        return -1;
    }
    in->p = np;
    in->cap = cap;
    return 0;
}

/* Sends what the socket takes of o. Returns 0 or -1 (failed). */
static int
send_some(int fd, struct outbound *o)
{
    struct iovec v[IOV_MAX_BATCH];
    struct msghdr msg = {.msg_iov = v};
    size_t skip = o->sent;
    int i, k = 0;
    ssize_t n;

    for (i = 0; i < o->n && k < IOV_MAX_BATCH; i++) {
        if (skip >= o->iov[i].iov_len) {
            skip -= o->iov[i].iov_len;
            continue;
        }
        v[k].iov_base = (char *)o->iov[i].iov_base + skip;
        v[k].iov_len = o->iov[i].iov_len - skip;
        skip = 0;
        k++;
    }
    msg.msg_iovlen = (size_t)k;
    do {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
    o->sent += (size_t)n;
    return 0;
}

/* Takes every complete reply in the slot's buffer, up to want in all:
 * owed ones are discarded, the others go to sink. *got counts replies
 * taken (owed included). Returns 0, or -1 when the bytes are no reply. */
static int
take_replies(struct slot *s, size_t want, size_t *got, upstream_reply_fn sink,
             void *arg, int *sink_failed)
{
    while (*got < want) {
        int rc = resp_reply_scan(&s->scan, s->in.p + s->in.start,
                                 s->in.end - s->in.start);

        if (rc == RESP_INCOMPLETE) {
            return 0;
        }
        if (rc != RESP_OK) {
            return -1;
        }
        if (*got >= s->pending && sink != NULL &&
            sink(arg, *got - s->pending, s->in.p + s->in.start, s->scan.pos) <
                0) {
            *sink_failed = 1;
        }
        s->in.start += s->scan.pos;
        resp_reply_init(&s->scan);
        (*got)++;
    }
    return 0;
}

/*
 * Writes o (may be empty) and reads the owed replies plus want more,
 * handing those to sink, until command_timeout passes without progress.
 * Returns 0, UPSTREAM_ETIMEOUT (what is still owed stays owed; *done says
 * how many of want were handed over) or UPSTREAM_EDOWN (the connection
 * was dropped), UPSTREAM_ENOMEM (the sink failed; all was read). err is
 * set on errors.
 */
int
slot_io(struct upstream *u, struct slot *s, struct outbound *o, size_t want,
        upstream_reply_fn sink, void *arg, size_t *done, char *err)
{
    int64_t timeout = config_get(u->cfg)->command_timeout_ms;
    int64_t deadline = util_now_ms() + timeout;
    size_t got = 0, owed = s->pending, all = owed + want;
    int sink_failed = 0;

    /* The socket is non-blocking and nearly always has room: send before
     * the first poll, which then waits for the reply alone. */
    if (o->sent < o->total && send_some(s->ctx->fd, o) < 0) {
        snprintf(err, UPSTREAM_ERR_MAX, "connection lost: %s", strerror(errno));
        goto down;
    }
    for (;;) {
        struct pollfd pfd = {.fd = s->ctx->fd, .events = POLLIN};
        int64_t left;
        ssize_t n;
        int pr;

        if (take_replies(s, all, &got, sink, arg, &sink_failed) < 0) {
            snprintf(err, UPSTREAM_ERR_MAX,
                     "redis sent bytes that are no "
                     "reply");
            goto down;
        }
        if (got > owed) {
            s->pending = 0;
        }
        if (got == all && o->sent == o->total) {
            break;
        }
        if (o->sent < o->total) {
            pfd.events |= POLLOUT;
        }
        left = deadline - util_now_ms();
        pr = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr == 0) {
            if (o->sent < o->total) {
                snprintf(err, UPSTREAM_ERR_MAX, "could not send within %lld ms",
                         (long long)timeout);
                goto down_timeout;
            }
            snprintf(err, UPSTREAM_ERR_MAX, "no reply within %lld ms",
                     (long long)timeout);
            s->pending = all - got;
            *done = got > owed ? got - owed : 0;
            return UPSTREAM_ETIMEOUT;
        }
        if (pr < 0 || (pfd.revents & (POLLERR | POLLNVAL))) {
            snprintf(err, UPSTREAM_ERR_MAX, "connection lost: %s",
                     strerror(errno));
            goto down;
        }
        if ((pfd.revents & POLLOUT) && send_some(s->ctx->fd, o) < 0) {
            snprintf(err, UPSTREAM_ERR_MAX, "connection lost: %s",
                     strerror(errno));
            goto down;
        }
        if (!(pfd.revents & (POLLIN | POLLHUP))) {
            deadline = util_now_ms() + timeout; /* sending is progress */
            continue;
        }
        if (in_room(&s->in) < 0) {
            snprintf(err, UPSTREAM_ERR_MAX, "out of memory for a reply");
            goto down;
        }
        do {
            n = recv(s->ctx->fd, s->in.p + s->in.end, s->in.cap - s->in.end, 0);
        } while (n < 0 && errno == EINTR);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            snprintf(err, UPSTREAM_ERR_MAX, "connection lost: %s",
                     n == 0 ? "closed by redis" : strerror(errno));
            goto down;
        }
        if (n > 0) {
            s->in.end += (size_t)n;
            deadline = util_now_ms() + timeout;
        }
    }
    s->pending = 0;
    *done = want;
    if (sink_failed) {
        snprintf(err, UPSTREAM_ERR_MAX, "out of memory");
        return UPSTREAM_ENOMEM;
    }
    return 0;

down_timeout:
    *done = got > owed ? got - owed : 0;
    slot_drop(u, s);
    return UPSTREAM_ETIMEOUT;
down:
    *done = got > owed ? got - owed : 0;
    slot_drop(u, s);
    return UPSTREAM_EDOWN;
}

static int
one_sink(void *arg, size_t i, const char *p, size_t len)
{
    struct one_reply *r = arg;
    const char *msg;
    size_t mlen;

    (void)i;
    r->is_error = resp_reply_error(p, len, &msg, &mlen);
    if (r->is_error) {
        snprintf(r->text, sizeof(r->text), "%.*s", (int)mlen, msg);
    } else if (!resp_reply_integer(p, len, &r->integer)) {
        r->integer = 0;
    }
    r->is_nil = len == 5 && memcmp(p, "$-1\r\n", 5) == 0;
    return 0;
}

/* Sends one command (encoded in cmd[0..len)) and reads its reply into r. */
int
slot_call(struct upstream *u, struct slot *s, const char *cmd, size_t len,
          struct one_reply *r, char *err)
{
    struct iovec v = {.iov_base = (void *)cmd, .iov_len = len};
    struct outbound o = {.iov = &v, .n = 1, .total = len};
    size_t done;

    return slot_io(u, s, &o, 1, one_sink, r, &done, err);
}

static int
slot_alive(const struct slot *s)
{
    struct pollfd pfd = {.fd = s->ctx->fd, .events = POLLIN};

    return s->pending > 0 || poll(&pfd, 1, 0) == 0;
}

/* Runs fn on a borrowed slot with a live connection. A connection Redis
 * closed while it sat idle (Redis restarted) is replaced first; with
 * retry, a reused one that then fails is also retried once on a fresh
 * one (for idempotent lookups only: a batch of writes is never sent
 * twice). */
int
with_slot(struct upstream *u, char *err, int retry,
          int (*fn)(struct upstream *u, struct slot *s, void *arg), void *arg)
{
    int64_t deadline = util_now_ms() + config_get(u->cfg)->command_timeout_ms;
    struct slot *s;
    int idx, rc, fresh = 0;

    idx = slot_get(u, deadline, err);
    if (idx < 0) {
        return UPSTREAM_ETIMEOUT;
    }
    s = &u->slots[idx];
    if (s->ctx != NULL && !slot_alive(s)) {
        log_debug("msg=\"idle redis connection closed by peer\"");
        slot_drop(u, s);
    }
    if (s->ctx == NULL) {
        if (slot_connect(u, s, err) < 0) {
            rc = UPSTREAM_EDOWN;
            goto out;
        }
        fresh = 1;
    }
    rc = fn(u, s, arg);
    if (retry && rc == UPSTREAM_EDOWN && !fresh && s->ctx == NULL &&
        slot_connect(u, s, err) == 0) {
        rc = fn(u, s, arg);
    }
out:
    slot_put(u, idx);
    return rc;
}

struct exec_call {
    const struct iovec *iov;
    int iovcnt;
    size_t ncmds;
    upstream_reply_fn reply;
    void *arg;
    size_t *done;
    char *err;
};

static int
exec_fn(struct upstream *u, struct slot *s, void *arg)
{
    struct exec_call *ec = arg;
    struct outbound o = {.iov = ec->iov, .n = ec->iovcnt};
    int i;

    for (i = 0; i < ec->iovcnt; i++) {
        o.total += ec->iov[i].iov_len;
    }
    return slot_io(u, s, &o, ec->ncmds, ec->reply, ec->arg, ec->done, ec->err);
}

int
upstream_exec(struct upstream *u, const struct iovec *iov, int iovcnt,
              size_t ncmds, upstream_reply_fn reply, void *arg, size_t *done,
              char *err)
{
    struct exec_call ec = {iov, iovcnt, ncmds, reply, arg, done, err};

    *done = 0;
    return with_slot(u, err, 0, exec_fn, &ec);
}

static int
ping_fn(struct upstream *u, struct slot *s, void *arg)
{
    struct one_reply r;
    char *err = arg;
    int rc = slot_call(u, s, "*1\r\n$4\r\nPING\r\n", 14, &r, err);

    if (rc == 0 && r.is_error) {
        snprintf(err, UPSTREAM_ERR_MAX, "%s", r.text);
        rc = UPSTREAM_EREPLY;
    }
    return rc;
}

int
upstream_ping(struct upstream *u, char *err)
{
    return with_slot(u, err, 1, ping_fn, err);
}

void
upstream_check_idle(struct upstream *u)
{
    int i;

    for (i = 0; i < u->nslots; i++) {
        struct slot *s = &u->slots[i];
        struct pollfd pfd;
        int j, idle = 0;

        /* Borrow slot i only if it is free right now. */
        pthread_mutex_lock(&u->lock);
        for (j = 0; j < u->nfree; j++) {
            if (u->free_stack[j] == i) {
                u->free_stack[j] = u->free_stack[--u->nfree];
                idle = 1;
                break;
            }
        }
        pthread_mutex_unlock(&u->lock);
        if (!idle) {
            continue;
        }
        if (s->ctx != NULL && s->pending == 0) {
            pfd.fd = s->ctx->fd;
            pfd.events = POLLIN;
            pfd.revents = 0;
            if (poll(&pfd, 1, 0) > 0) {
                /* Nothing is owed, so any readable state is an EOF, an
                 * error or a protocol violation: the connection is done. */
                log_debug("msg=\"idle redis connection closed by peer\"");
                slot_drop(u, s);
            }
        }
        slot_put(u, i);
    }
}

void
upstream_stats(struct upstream *u, struct upstream_stats *out)
{
    pthread_mutex_lock(&u->lock);
    out->size = u->nslots;
    out->in_use = u->nslots - u->nfree;
    out->errors = u->errors;
    out->reconnects = u->reconnects;
    out->epoch = u->epoch;
    out->connected = u->connected;
    out->down = u->backoff_ms > 0;
    pthread_mutex_unlock(&u->lock);
}
