/*
 * pipe: a shared, pipelined Redis connection with one runner at a time;
 * see pipe.h.
 *
 * A request moves through three lists: the submit queue (qhead, under
 * the lock: submitters append), the write list (whead: taken by the
 * runner, nothing written yet) and the flight list (fhead: written, at
 * least its first byte, replies owed, in the order Redis answers; only
 * its last may still have bytes to write). Only the first list is
 * shared; the other two, the connection and its buffers are the
 * runner's.
 */
#include "upstream/pipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "net/waiter.h"
#include "upstream/rconn.h"
#include "upstream/tracking.h"
#include "upstream/reach.h"
#include "upstream/status.h"

#define WRITE_IOV 512         /* ranges gathered into one write */
#define READS_PER_RUN 64      /* reads before the runner yields */
#define ROOM_WAITERS_MAX 4096 /* conns remembered to wake for room */

struct pipe {
    struct waiter_event ev;    /* the socket's reports */
    struct waiter_event flush; /* the deferred write (waiter_defer) */
    struct reach *u;
    struct waiter *w;
    int proto;

    pthread_mutex_t lock;
    struct ureq *qhead, *qtail; /* submitted, not taken; lock */
    long count;                 /* requests queued or in flight; lock */
    size_t bytes;               /* their request bytes; lock */
    int running;                /* a thread runs the pipe; lock */
    int again;                  /* there is more for the runner; lock */
    int deferred;               /* a deferred run is pending; lock */
    uint64_t *room;             /* slot | gen << 32 of conns to wake when
                                   there is room again; lock */
    size_t nroom, room_cap;     /* lock */

    /* The runner's: */
    struct rconn rc;
    int watched;                /* rc.fd is registered with the waiter */
    struct ureq *whead, *wtail; /* to write (the head maybe in part) */
    struct ureq *fhead, *ftail; /* written, replies owed */
    int cur_db;                 /* the connection's database after
                                   everything written */
    uint64_t track_sent;        /* stream registration written (its gen);
                                   0 = none */
    uint64_t track_ok;          /* ... and confirmed; 0 = none */
    int ever;                   /* it has been connected before */
    long done_count;            /* requests finished this run */
    size_t done_bytes;          /* ... their bytes */

    atomic_long commands, writes, lost;
    atomic_int connected;
};

/* ---- requests of the pipe's own: SELECT and CLIENT TRACKING ---- */

enum inner_kind { INNER_SELECT, INNER_TRACK };

struct inner {
    struct ureq u;
    struct pipe *p;
    enum inner_kind kind;
    uint64_t gen; /* INNER_TRACK: the stream generation it registers */
    char buf[80];
};

static void
inner_reply(struct ureq *u, uint32_t i, const char *r, size_t len,
            const struct resp_reply *scan)
{
    struct inner *in = (struct inner *)u;
    const char *msg;
    size_t mlen;

    (void)i;
    (void)scan;
    if (!resp_reply_error(r, len, &msg, &mlen)) {
        if (in->kind == INNER_TRACK) {
            in->p->track_ok = in->gen;
        }
        return;
    }
    if (in->kind == INNER_TRACK) {
        /* E.g. the stream's connection vanished a moment ago: what this
         * connection reads is not cached until it registers again. A
         * user Redis's ACL does not let track never will. */
        log_debug("msg=\"client tracking refused\" error=\"%.*s\"",
                  (int)(mlen < 200 ? mlen : 200), msg);
        if (mlen >= 6 && memcmp(msg, "NOPERM", 6) == 0) {
            reach_tracking_refused(in->p->u);
        }
        in->p->track_ok = 0;
        in->p->track_sent = 0;
        return;
    }
    /* A database the proxy let a client select that Redis refuses: the
     * connection is in an unknown database; drop it. */
    rconn_fail(&in->p->rc, "SELECT refused: %.*s",
               (int)(mlen < 200 ? mlen : 200), msg);
}

static void
inner_done(struct ureq *u, int status, const char *err)
{
    (void)status;
    (void)err;
    free(u);
}

static const struct ureq_ops inner_ops = {inner_reply, inner_done};

/* A request of the pipe's own, for the write list. NULL when out of
 * memory. */
static struct ureq *
inner_new(struct pipe *p, enum inner_kind kind, long long arg, uint64_t gen)
{
    struct inner *in = calloc(1, sizeof(*in));
    char num[24];
    int n, k;

    if (in == NULL) {
        return NULL;
    }
    in->p = p;
    in->kind = kind;
    in->gen = gen;
    k = snprintf(num, sizeof(num), "%lld", arg);
    n = kind == INNER_SELECT
            ? snprintf(in->buf, sizeof(in->buf),
                       "*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n", k, num)
            : snprintf(in->buf, sizeof(in->buf),
                       "*5\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n"
                       "$8\r\nREDIRECT\r\n$%d\r\n%s\r\n",
                       k, num);
    in->u.ops = &inner_ops;
    in->u.iov[0].iov_base = in->buf;
    in->u.iov[0].iov_len = (size_t)n;
    in->u.iovcnt = 1;
    in->u.len = (size_t)n;
    in->u.nreplies = 1;
    in->u.db = -1;
    return &in->u;
}

static int
is_inner(const struct ureq *u)
{
    return u->ops == &inner_ops;
}

/* ---- lists ---- */

static void
push_tail(struct ureq **head, struct ureq **tail, struct ureq *u)
{
    u->next = NULL;
    if (*tail != NULL) {
        (*tail)->next = u;
    } else {
        *head = u;
    }
    *tail = u;
}

static struct ureq *
pop_head(struct ureq **head, struct ureq **tail)
{
    struct ureq *u = *head;

    if (u != NULL) {
        *head = u->next;
        if (*head == NULL) {
            *tail = NULL;
        }
        u->next = NULL;
    }
    return u;
}

/* Ends u (the pipe no longer touches it afterwards). */
static void
finish(struct pipe *p, struct ureq *u, int status, const char *err)
{
    if (!is_inner(u)) {
        p->done_count++;
        p->done_bytes += u->len;
        if (status == 0) {
            atomic_fetch_add_explicit(&p->commands, 1, memory_order_relaxed);
        }
    }
    u->ops->done(u, status, err);
}

/* Fails every request of list *head with status and err. */
static void
fail_list(struct pipe *p, struct ureq **head, struct ureq **tail, int status,
          const char *err)
{
    struct ureq *u;

    while ((u = pop_head(head, tail)) != NULL) {
        finish(p, u, status, err);
    }
}

static int prepare(struct pipe *p, struct ureq *u);

/* ---- the connection ---- */

static void
conn_close(struct pipe *p)
{
    if (p->watched) {
        waiter_unwatch(p->w, p->rc.fd);
        p->watched = 0;
    }
    /* A connection lost is FAILED by now: not open either way. */
    atomic_store_explicit(&p->connected, 0, memory_order_relaxed);
    rconn_close(&p->rc);
    p->cur_db = 0;
    p->track_sent = p->track_ok = 0;
}

/* Starts a connection when requests wait and the pool lets it. Returns 0
 * (open or opening), or -1 when Redis cannot be reached now (the requests
 * waiting were failed). */
static int
conn_open(struct pipe *p)
{
    struct rconn_setup s = {.proto = p->proto, .db = 0};
    char err[UPSTREAM_ERR_MAX];

    if (reach_may_connect(p->u, err) < 0) {
        fail_list(p, &p->whead, &p->wtail, UPSTREAM_EDOWN, err);
        return -1;
    }
    if (rconn_start(&p->rc, p->u->target, &s) == RCONN_FAILED) {
        snprintf(err, sizeof(err), "%s", rconn_error(&p->rc));
        rconn_close(&p->rc);
        reach_connect_failed(p->u, err);
        fail_list(p, &p->whead, &p->wtail, UPSTREAM_EDOWN, err);
        return -1;
    }
    if (waiter_watch_event(p->w, p->rc.fd, &p->ev) < 0) {
        rconn_close(&p->rc);
        snprintf(err, sizeof(err), "cannot watch a redis connection");
        reach_connect_failed(p->u, err);
        fail_list(p, &p->whead, &p->wtail, UPSTREAM_EDOWN, err);
        return -1;
    }
    p->watched = 1;
    return 0; /* cur_db and the stream registration: reset at the close */
}

/* The open in progress failed: nothing of ours was written on it. */
static void
open_failed(struct pipe *p, const char *why)
{
    char err[UPSTREAM_ERR_MAX];

    snprintf(err, sizeof(err), "%s", why);
    conn_close(p);
    reach_connect_failed(p->u, err);
    fail_list(p, &p->whead, &p->wtail, UPSTREAM_EDOWN, err);
}

/* The open connection was lost (why). Requests written, even in part,
 * fail, except fills, which go out once more; those not written wait
 * for the next connection, behind the fills. */
static void
conn_lost(struct pipe *p, const char *why)
{
    char err[UPSTREAM_ERR_MAX];
    struct ureq *ahead = NULL, *atail = NULL, *u;
    int was_tracked = p->track_sent != 0;

    snprintf(err, sizeof(err), "connection lost: %s", why);
    atomic_fetch_add_explicit(&p->lost, 1, memory_order_relaxed);
    conn_close(p);
    /* Everything on the flight list was written, at least in part. */
    while ((u = pop_head(&p->fhead, &p->ftail)) != NULL) {
        if (!is_inner(u) && u->retry && !u->retried) {
            u->sent = 0;
            u->got = 0;
            u->retried = 1;
            push_tail(&ahead, &atail, u);
        } else {
            finish(p, u, UPSTREAM_EDOWN, err);
        }
    }
    /* What waits to be written is prepared again for the next connection
     * (its database and stream registration start afresh): the pipe's
     * own requests go, the others queue behind the fills to resend. */
    while ((u = pop_head(&p->whead, &p->wtail)) != NULL) {
        if (is_inner(u)) {
            finish(p, u, UPSTREAM_EDOWN, err);
        } else {
            push_tail(&ahead, &atail, u);
        }
    }
    while ((u = pop_head(&ahead, &atail)) != NULL) {
        if (prepare(p, u) < 0) {
            finish(p, u, UPSTREAM_ENOMEM, "out of memory");
        }
    }
    reach_conn_lost(p->u, was_tracked, err);
}

/* ---- taking, writing, reading ---- */

/* Appends a pipe request before u (SELECT, CLIENT TRACKING) as needed;
 * sets u's `tracked` for a fill. Returns 0 or -1 (out of memory). */
static int
prepare(struct pipe *p, struct ureq *u)
{
    struct ureq *in;

    if (u->db >= 0 && u->db != p->cur_db) {
        in = inner_new(p, INNER_SELECT, u->db, 0);
        if (in == NULL) {
            return -1;
        }
        push_tail(&p->whead, &p->wtail, in);
        p->cur_db = u->db;
    }
    if (u->tracked && reach_untracked(p->u)) {
        u->tracked = 0; /* answered, never cached */
    }
    if (u->tracked) {
        struct tracking *t = p->u->tracking;
        long long id = 0;
        uint64_t gen = 0;

        u->track_gen = 0;
        switch (tracking_state(t, &id, &gen)) {
        case TRACKING_OFF:
            break; /* cached on the TTL alone */
        case TRACKING_DOWN:
            u->tracked = 0;
            break;
        case TRACKING_UP:
            u->track_gen = gen;
            if (p->track_sent != gen) {
                in = inner_new(p, INNER_TRACK, id, gen);
                if (in == NULL) {
                    return -1;
                }
                push_tail(&p->whead, &p->wtail, in);
                p->track_sent = gen;
            }
            break;
        }
    }
    push_tail(&p->whead, &p->wtail, u);
    return 0;
}

/* Moves what was submitted to the write list. */
static void
take(struct pipe *p)
{
    struct ureq *u, *list;

    pthread_mutex_lock(&p->lock);
    list = p->qhead;
    p->qhead = p->qtail = NULL;
    pthread_mutex_unlock(&p->lock);
    while ((u = list) != NULL) {
        list = u->next;
        if (prepare(p, u) < 0) {
            finish(p, u, UPSTREAM_ENOMEM, "out of memory");
        }
    }
}

/* Adds the bytes of u not yet written to v[*k..WRITE_IOV). */
static void
gather(const struct ureq *u, struct iovec *v, int *k)
{
    size_t skip = u->sent;
    int i;

    for (i = 0; i < u->iovcnt && *k < WRITE_IOV; i++) {
        if (skip >= u->iov[i].iov_len) {
            skip -= u->iov[i].iov_len;
            continue;
        }
        v[*k].iov_base = (char *)u->iov[i].iov_base + skip;
        v[*k].iov_len = u->iov[i].iov_len - skip;
        skip = 0;
        (*k)++;
    }
}

/* Writes what the socket takes: the rest of the flight list's last
 * request (written in part), then the write list. A request moves to the
 * flight list with its first byte: Redis may answer the commands of its
 * that are complete before the rest of it goes out. Returns 1 when the
 * socket took everything gathered and more waits (call again), 0, or -1
 * when the connection failed. */
static int
write_some(struct pipe *p)
{
    struct iovec v[WRITE_IOV];
    struct ureq *u;
    size_t asked = 0;
    long n;
    int k = 0, i, more = 0;

    if (p->ftail != NULL && p->ftail->sent < p->ftail->len) {
        gather(p->ftail, v, &k);
    }
    for (u = p->whead; u != NULL && k < WRITE_IOV; u = u->next) {
        gather(u, v, &k);
    }
    if (k == 0) {
        return 0;
    }
    for (i = 0; i < k; i++) {
        asked += v[i].iov_len;
    }
    n = rconn_writev(&p->rc, v, k);
    if (n < 0) {
        return -1;
    }
    if ((size_t)n == asked && (p->whead != NULL || k == WRITE_IOV)) {
        more = 1; /* all taken and more to write: go on */
    }
    atomic_fetch_add_explicit(&p->writes, 1, memory_order_relaxed);
    if (n > 0 && p->ftail != NULL && p->ftail->sent < p->ftail->len) {
        size_t left = p->ftail->len - p->ftail->sent;

        p->ftail->sent += (size_t)n < left ? (size_t)n : left;
        n -= (long)((size_t)n < left ? (size_t)n : left);
    }
    while (n > 0 && (u = p->whead) != NULL) {
        size_t left = u->len;

        push_tail(&p->fhead, &p->ftail, pop_head(&p->whead, &p->wtail));
        u->sent = (size_t)n < left ? (size_t)n : left;
        n -= (long)u->sent;
    }
    return more;
}

/* Hands every complete reply buffered to the request it answers. Returns
 * 0, or -1 when the connection must go (bytes that are no reply, or a
 * reply nobody asked for). */
static int
deliver(struct pipe *p)
{
    const char *r;
    size_t len;
    int rc;

    while ((rc = rconn_reply(&p->rc, &r, &len)) == RESP_OK) {
        struct ureq *u = p->fhead;

        if (p->rc.scan.type == '>') {
            rconn_consume(&p->rc); /* a RESP3 push, not a reply */
            continue;
        }
        if (u == NULL) {
            rconn_fail(&p->rc, "redis sent a reply nobody asked for");
            return -1;
        }
        if (u->tracked && u->track_gen != 0) {
            u->tracked = p->track_ok == u->track_gen;
        }
        u->ops->reply(u, u->got++, r, len, &p->rc.scan);
        rconn_consume(&p->rc);
        if (u->got == u->nreplies) {
            pop_head(&p->fhead, &p->ftail);
            finish(p, u, 0, NULL);
        }
        if (p->rc.state == RCONN_FAILED) {
            return -1; /* an inner request dropped the connection */
        }
    }
    return rc == RESP_INCOMPLETE ? 0 : -1;
}

/* Reads and delivers until the socket has nothing more. Returns 0, 1 when
 * it stopped with more maybe waiting, or -1 when the connection failed. */
static int
read_some(struct pipe *p)
{
    int i;

    for (i = 0; i < READS_PER_RUN; i++) {
        long n = rconn_read(&p->rc);

        if (n < 0) {
            return -1;
        }
        if (deliver(p) < 0) {
            return -1;
        }
        if (n == 0 || p->rc.drained) {
            return 0; /* nothing more until the socket's next edge */
        }
    }
    return 1;
}

/* One turn of the runner. Returns 1 when it should go round again. */
static int
run_once(struct pipe *p)
{
    int w;

    take(p);
    if (p->rc.state == RCONN_CLOSED) {
        if (p->whead == NULL || conn_open(p) < 0) {
            return 0;
        }
    }
    if (p->rc.state == RCONN_CONNECTING || p->rc.state == RCONN_HANDSHAKE) {
        if (rconn_overdue(&p->rc, util_now_ms())) {
            rconn_fail(&p->rc, "connect to %s:%d: no answer within %lld ms",
                       p->u->target->host, p->u->target->port,
                       (long long)reach_connect_timeout(p->u));
        }
        switch (rconn_step(&p->rc)) {
        case RCONN_READY:
            atomic_store_explicit(&p->connected, 1, memory_order_relaxed);
            reach_connected(p->u, !p->ever);
            p->ever = 1;
            break;
        case RCONN_FAILED:
            open_failed(p, rconn_error(&p->rc));
            return 0;
        default:
            return 0; /* its socket's report brings us back */
        }
    }
    while ((w = write_some(p)) > 0) {
    }
    if (w < 0) {
        conn_lost(p, rconn_error(&p->rc));
        return p->whead != NULL;
    }
    switch (read_some(p)) {
    case -1:
        conn_lost(p, rconn_error(&p->rc));
        return p->whead != NULL;
    case 1:
        return 1;
    default:
        return 0;
    }
}

/* Wakes the conns that waited for room, once there is some. Called with
 * the lock held; returns how many tokens to wake, moved into *out. */
static size_t
room_now(struct pipe *p, uint64_t **out)
{
    size_t n = p->nroom;

    if (n == 0 || p->count > PIPE_MAX_CMDS / 2 ||
        p->bytes > PIPE_MAX_BYTES / 2) {
        return 0;
    }
    *out = p->room;
    p->room = NULL;
    p->nroom = p->room_cap = 0;
    return n;
}

/* Runs the pipe if nobody does, else tells the runner there is more. */
static void
kick(struct pipe *p)
{
    uint64_t *wake = NULL;
    size_t nwake = 0, i;

    pthread_mutex_lock(&p->lock);
    if (p->running) {
        p->again = 1;
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->running = 1;
    pthread_mutex_unlock(&p->lock);
    for (;;) {
        int more = run_once(p);

        pthread_mutex_lock(&p->lock);
        p->count -= p->done_count;
        p->bytes -= p->done_bytes;
        p->done_count = 0;
        p->done_bytes = 0;
        if (nwake == 0) {
            nwake = room_now(p, &wake);
        }
        if (!more && !p->again) {
            p->running = 0;
            pthread_mutex_unlock(&p->lock);
            break;
        }
        p->again = 0;
        pthread_mutex_unlock(&p->lock);
    }
    for (i = 0; i < nwake; i++) {
        waiter_wake(p->w, (uint32_t)wake[i], (uint32_t)(wake[i] >> 32));
    }
    free(wake);
}

/* The socket reported readiness. */
static void
on_ready(struct waiter_event *ev)
{
    kick((struct pipe *)((char *)ev - offsetof(struct pipe, ev)));
}

/* The deferred write of a submitter. */
static void
on_flush(struct waiter_event *ev)
{
    struct pipe *p = (struct pipe *)((char *)ev - offsetof(struct pipe, flush));

    pthread_mutex_lock(&p->lock);
    p->deferred = 0;
    pthread_mutex_unlock(&p->lock);
    kick(p);
}

struct pipe *
pipe_create(struct reach *u, int proto, struct waiter *w)
{
    struct pipe *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    p->ev.ready = on_ready;
    p->flush.ready = on_flush;
    p->u = u;
    p->w = w;
    p->proto = proto;
    rconn_init(&p->rc);
    return p;
}

void
pipe_destroy(struct pipe *p)
{
    if (p == NULL) {
        return;
    }
    take(p);
    fail_list(p, &p->fhead, &p->ftail, UPSTREAM_EDOWN, "shutting down");
    fail_list(p, &p->whead, &p->wtail, UPSTREAM_EDOWN, "shutting down");
    conn_close(p);
    pthread_mutex_destroy(&p->lock);
    free(p->room);
    free(p);
}

/* Remembers the conn to wake when there is room. Lock held. */
static void
room_wait(struct pipe *p, uint32_t slot, uint32_t gen)
{
    uint64_t tok = (uint64_t)gen << 32 | slot;

    if (p->nroom == p->room_cap) {
        size_t cap = p->room_cap ? p->room_cap * 2 : 16;
        uint64_t *nr;

        if (cap > ROOM_WAITERS_MAX ||
            (nr = realloc(p->room, cap * sizeof(*nr))) == NULL) {
            return; /* its own deadline or next request brings it back */
        }
        p->room = nr;
        p->room_cap = cap;
    }
    p->room[p->nroom++] = tok;
}

int
pipe_submit(struct pipe *p, struct ureq *u, uint32_t wake_slot,
            uint32_t wake_gen, char *err)
{
    int i, defer;

    u->len = 0;
    for (i = 0; i < u->iovcnt; i++) {
        u->len += u->iov[i].iov_len;
    }
    u->sent = 0;
    u->got = 0;
    u->retried = 0;
    u->track_gen = 0;
    u->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (!u->must && (p->count >= PIPE_MAX_CMDS ||
                     (p->count > 0 && p->bytes + u->len > PIPE_MAX_BYTES))) {
        room_wait(p, wake_slot, wake_gen);
        pthread_mutex_unlock(&p->lock);
        return PIPE_FULL;
    }
    if (!atomic_load_explicit(&p->connected, memory_order_relaxed) &&
        reach_is_down(p->u, err)) {
        pthread_mutex_unlock(&p->lock);
        return PIPE_DOWN;
    }
    if (p->qtail != NULL) {
        p->qtail->next = u;
    } else {
        p->qhead = u;
    }
    p->qtail = u;
    p->count++;
    p->bytes += u->len;
    defer = !p->running && !p->deferred;
    if (defer) {
        p->deferred = 1;
    } else if (p->running) {
        p->again = 1;
    }
    pthread_mutex_unlock(&p->lock);
    if (defer) {
        waiter_defer(&p->flush);
    }
    return PIPE_QUEUED;
}

void
pipe_tick(struct pipe *p)
{
    int due;

    pthread_mutex_lock(&p->lock);
    due = !p->running && (p->qhead != NULL || p->count > 0);
    pthread_mutex_unlock(&p->lock);
    if (due) {
        kick(p); /* an open overdue, or requests waiting out a backoff */
    }
}

void
pipe_stats(struct pipe *p, struct pipe_stats *out)
{
    pthread_mutex_lock(&p->lock);
    out->inflight = p->count;
    pthread_mutex_unlock(&p->lock);
    out->connected = atomic_load_explicit(&p->connected, memory_order_relaxed);
    out->commands = atomic_load_explicit(&p->commands, memory_order_relaxed);
    out->writes = atomic_load_explicit(&p->writes, memory_order_relaxed);
    out->lost = atomic_load_explicit(&p->lost, memory_order_relaxed);
}
