/*
 * sentinel: the thread that follows the sentinels' master; see
 * sentinel.h. Every connection here is blocking (rconn's setup calls),
 * bounded by connect_timeout and command_timeout; the thread waits in
 * poll() on a stop eventfd, the node table's want eventfd and every
 * sentinel's +switch-master feed.
 */
#include "upstream/sentinel.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/backoff.h"
#include "base/log.h"
#include "base/qsbr.h"
#include "base/util.h"
#include "upstream/rconn.h"

#define CHANNEL "+switch-master"

/* One sentinel: a connection for commands, one for its feed. */
struct server {
    char host[NODES_HOST_MAX];
    int port;
    struct redis_target target;
    struct rconn cmd, sub;
    int64_t cmd_retry_ms, cmd_backoff; /* the thread's */
    int64_t sub_retry_ms, sub_backoff; /* the thread's */
    int up, subscribed;                /* lock */
    char error[128];                   /* lock */
};

/* An address some sentinel named, with how many did. */
struct candidate {
    char host[NODES_HOST_MAX];
    int port;
    int votes;
};

struct sentinel {
    const struct config_ref *cfg;
    struct nodes *nodes;
    struct tls_ctx *tls; /* TLS towards the sentinels and Redis, or NULL */
    char name[256];
    struct server server[SENTINEL_MAX];
    int n;
    int replicas; /* read_from is not master: ask for the replicas */
    /* The thread's: */
    struct rconn role; /* ROLE checks on the master */
    struct redis_target role_target;
    int master;            /* the node made master, or -1 */
    struct candidate hint; /* named by +switch-master; votes 0: none */
    int64_t next_ask_ms, last_ask_ms;
    int warned; /* "no master" was logged */
    int stopfd;
    pthread_t thread;
    int running;
    pthread_mutex_t lock; /* the figures below and each server's up,
                             subscribed, error */
    char master_addr[NODES_HOST_MAX + 24];
    long failovers, asks;
};

/* ---- parsing ---- */

int
sentinel_parse_master(const redisReply *r, char *host, size_t cap, int *port)
{
    char *end;
    long p;

    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_NIL) {
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        !redis_reply_is_str(r->element[0]) ||
        !redis_reply_is_str(r->element[1]) || r->element[0]->len == 0 ||
        r->element[0]->len >= cap) {
        return -1;
    }
    errno = 0;
    p = strtol(r->element[1]->str, &end, 10);
    if (errno != 0 || *end != '\0' || end == r->element[1]->str || p < 1 ||
        p > 65535) {
        return -1;
    }
    memcpy(host, r->element[0]->str, r->element[0]->len);
    host[r->element[0]->len] = '\0';
    *port = (int)p;
    return 1;
}

/* 1 when the comma-separated flags hold word. */
static int
has_flag(const char *flags, const char *word)
{
    size_t n = strlen(word);
    const char *p = flags;

    while ((p = strstr(p, word)) != NULL) {
        if ((p == flags || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) {
            return 1;
        }
        p += n;
    }
    return 0;
}

int
sentinel_parse_replicas(const redisReply *r, struct nodes_addr *out, int max)
{
    size_t i;
    int k = 0;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        return -1;
    }
    for (i = 0; i < r->elements && k < max; i++) {
        const redisReply *ip = redis_reply_map_get(r->element[i], "ip"),
                         *port = redis_reply_map_get(r->element[i], "port"),
                         *flags = redis_reply_map_get(r->element[i], "flags"),
                         *link = redis_reply_map_get(r->element[i],
                                                     "master-link-status");
        char *end;
        long p;

        if (!redis_reply_is_str(ip) || !redis_reply_is_str(port) ||
            !redis_reply_is_str(flags) || ip->len == 0 ||
            ip->len >= NODES_HOST_MAX || has_flag(flags->str, "s_down") ||
            has_flag(flags->str, "o_down") ||
            has_flag(flags->str, "disconnected") || !redis_reply_is_str(link) ||
            strcmp(link->str, "ok") != 0) {
            continue;
        }
        errno = 0;
        p = strtol(port->str, &end, 10);
        if (errno != 0 || *end != '\0' || p < 1 || p > 65535) {
            continue;
        }
        memcpy(out[k].host, ip->str, ip->len);
        out[k].host[ip->len] = '\0';
        out[k].port = (int)p;
        k++;
    }
    return k;
}

/* The next space-separated word of p[0..len) at *pos: its start and
 * length; 0 at the end. */
static int
next_word(const char *p, size_t len, size_t *pos, const char **w, size_t *wl)
{
    while (*pos < len && p[*pos] == ' ') {
        (*pos)++;
    }
    if (*pos == len) {
        return 0;
    }
    *w = p + *pos;
    while (*pos < len && p[*pos] != ' ') {
        (*pos)++;
    }
    *wl = (size_t)(p + *pos - *w);
    return 1;
}

int
sentinel_parse_switch(const char *payload, size_t len, const char *name,
                      char *host, size_t cap, int *port)
{
    const char *w[5];
    size_t wl[5], pos = 0;
    long p = 0;
    int i;

    for (i = 0; i < 5; i++) {
        if (!next_word(payload, len, &pos, &w[i], &wl[i])) {
            return 0;
        }
    }
    if (next_word(payload, len, &pos, &w[0], &wl[0]) || wl[0] != strlen(name) ||
        memcmp(w[0], name, wl[0]) != 0 || wl[3] >= cap || wl[4] == 0 ||
        wl[4] > 5) {
        return 0;
    }
    for (i = 0; (size_t)i < wl[4]; i++) {
        if (w[4][i] < '0' || w[4][i] > '9') {
            return 0;
        }
        p = p * 10 + (w[4][i] - '0');
    }
    if (p < 1 || p > 65535) {
        return 0;
    }
    memcpy(host, w[3], wl[3]);
    host[wl[3]] = '\0';
    *port = (int)p;
    return 1;
}

int
sentinel_parse_role(const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        !redis_reply_is_str(r->element[0])) {
        return -1;
    }
    return strcmp(r->element[0]->str, "master") == 0;
}

/* ---- one sentinel ---- */

static void
server_state(struct sentinel *s, struct server *sv, int up, const char *err)
{
    pthread_mutex_lock(&s->lock);
    if (up >= 0) {
        sv->up = up;
    }
    if (err != NULL) {
        snprintf(sv->error, sizeof(sv->error), "%.120s", err);
    }
    pthread_mutex_unlock(&s->lock);
}

/* The command connection, opened when needed (and not backing off).
 * Returns 1 when it is open. */
static int
server_cmd(struct sentinel *s, struct server *sv)
{
    char err[REDIS_ERR_MAX];

    if (sv->cmd.state == RCONN_READY) {
        return 1;
    }
    rconn_close(&sv->cmd);
    if (util_now_ms() < sv->cmd_retry_ms) {
        return 0;
    }
    if (rconn_open(&sv->cmd, &sv->target, NULL, err) < 0) {
        sv->cmd_backoff = backoff_next(sv->cmd_backoff);
        sv->cmd_retry_ms = util_now_ms() + sv->cmd_backoff;
        server_state(s, sv, 0, err);
        return 0;
    }
    sv->cmd_backoff = 0;
    return 1;
}

/* Opens the +switch-master feed when it is not (and not backing off). */
static void
server_sub(struct sentinel *s, struct server *sv)
{
    char err[REDIS_ERR_MAX];
    redisReply *r;

    if (sv->sub.state == RCONN_READY || util_now_ms() < sv->sub_retry_ms) {
        return;
    }
    rconn_close(&sv->sub);
    if (rconn_open(&sv->sub, &sv->target, NULL, err) == 0) {
        r = rconn_call(&sv->sub, "SUBSCRIBE", err, NULL, "SUBSCRIBE %s",
                       CHANNEL);
        if (r != NULL) {
            freeReplyObject(r);
            sv->sub_backoff = 0;
            pthread_mutex_lock(&s->lock);
            sv->subscribed = 1;
            pthread_mutex_unlock(&s->lock);
            return;
        }
        rconn_close(&sv->sub);
    }
    sv->sub_backoff = backoff_next(sv->sub_backoff);
    sv->sub_retry_ms = util_now_ms() + sv->sub_backoff;
    log_debug("msg=\"sentinel feed not open\" addr=%s:%d cause=\"%s\"",
              sv->host, sv->port, err);
}

/* Reads what sv's feed has: a +switch-master for our master becomes the
 * hint. Returns 1 when one came. */
static int
server_feed(struct sentinel *s, struct server *sv)
{
    int got = 0, timed_out;
    redisReply *r;

    while ((r = rconn_wait_reply(&sv->sub, 0, -1, &timed_out)) != NULL) {
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            redis_reply_is_str(r->element[0]) &&
            strcmp(r->element[0]->str, "message") == 0 &&
            redis_reply_is_str(r->element[2]) &&
            sentinel_parse_switch(r->element[2]->str, r->element[2]->len,
                                  s->name, s->hint.host, sizeof(s->hint.host),
                                  &s->hint.port)) {
            log_info("msg=\"sentinel announced a new master\" sentinel=%s:%d "
                     "master=%s:%d",
                     sv->host, sv->port, s->hint.host, s->hint.port);
            s->hint.votes = 1;
            got = 1;
        }
        freeReplyObject(r);
    }
    if (!timed_out) {
        rconn_close(&sv->sub);
        sv->sub_retry_ms = util_now_ms() + BACKOFF_MIN_MS;
        pthread_mutex_lock(&s->lock);
        sv->subscribed = 0;
        pthread_mutex_unlock(&s->lock);
    }
    return got;
}

/* ---- asking ---- */

/* Counts a vote for host:port among c[0..*nc). */
static void
vote(struct candidate *c, int *nc, const char *host, int port)
{
    int i;

    for (i = 0; i < *nc; i++) {
        if (c[i].port == port && strcmp(c[i].host, host) == 0) {
            c[i].votes++;
            return;
        }
    }
    if (*nc < SENTINEL_MAX) {
        snprintf(c[*nc].host, sizeof(c[*nc].host), "%s", host);
        c[*nc].port = port;
        c[*nc].votes = 1;
        (*nc)++;
    }
}

/* Asks sv for the master (a vote into c) and, when wanted and not had yet
 * this round, the replicas (into reps, *nreps set). */
static void
ask_one(struct sentinel *s, struct server *sv, struct candidate *c, int *nc,
        struct nodes_addr *reps, int *nreps)
{
    char err[REDIS_ERR_MAX], host[NODES_HOST_MAX];
    redisReply *r;
    int refused, port, rc;

    if (!server_cmd(s, sv)) {
        return;
    }
    r = rconn_call(&sv->cmd, "SENTINEL get-master-addr-by-name", err, &refused,
                   "SENTINEL get-master-addr-by-name %s", s->name);
    if (r == NULL) {
        if (!refused) {
            rconn_close(&sv->cmd);
        }
        server_state(s, sv, refused, err);
        return;
    }
    rc = sentinel_parse_master(r, host, sizeof(host), &port);
    freeReplyObject(r);
    if (rc == 1) {
        vote(c, nc, host, port);
        server_state(s, sv, 1, "");
    } else {
        snprintf(err, sizeof(err), "%s master '%.150s'",
                 rc == 0 ? "does not know the" : "gave no address for the",
                 s->name);
        server_state(s, sv, 1, err);
    }
    if (reps == NULL || *nreps >= 0 || rc != 1) {
        return;
    }
    r = rconn_call(&sv->cmd, "SENTINEL replicas", err, &refused,
                   "SENTINEL replicas %s", s->name);
    if (r != NULL) {
        *nreps = sentinel_parse_replicas(r, reps, NODES_MAX);
    } else if (!refused) {
        rconn_close(&sv->cmd);
    }
    freeReplyObject(r);
}

/* ROLE of host:port: 1 master, 0 something else, -1 unreachable. The
 * connection to the master node stays open for the next check. */
static int
role_of(struct sentinel *s, const char *host, int port, int node)
{
    struct redis_target t = redis_target_of(s->cfg, s->tls);
    struct rconn tmp, *rc = &tmp;
    char err[REDIS_ERR_MAX];
    redisReply *r;
    int role;

    snprintf(t.host, sizeof(t.host), "%.255s", host);
    t.port = port;
    t.db = 0;
    rconn_init(&tmp);
    if (node >= 0 && node == s->master) {
        rc = &s->role;
        if (rc->state != RCONN_READY) {
            rconn_close(rc);
            s->role_target = t;
            if (rconn_open(rc, &s->role_target, NULL, err) < 0) {
                return -1;
            }
        }
    } else if (rconn_open(rc, &t, NULL, err) < 0) {
        return -1;
    }
    r = rconn_call(rc, "ROLE", err, NULL, "ROLE");
    role = sentinel_parse_role(r);
    freeReplyObject(r);
    if (r == NULL) {
        rconn_close(rc);
    }
    rconn_close(&tmp);
    return role;
}

/* The node index of host:port if the table knows it, else -1. */
static int
node_of(struct sentinel *s, const char *host, int port)
{
    int i;

    for (i = 0; i < nodes_count(s->nodes); i++) {
        const struct redis_target *t = nodes_target(s->nodes, i);

        if (t->port == port && strcmp(t->host, host) == 0) {
            return i;
        }
    }
    return -1;
}

/* Makes c the master (it said ROLE master). */
static void
take(struct sentinel *s, const struct candidate *c)
{
    int was = s->master, now = nodes_set_master(s->nodes, c->host, c->port);

    if (now < 0 || now == was) {
        return;
    }
    s->master = now;
    rconn_close(&s->role);
    s->warned = 0;
    pthread_mutex_lock(&s->lock);
    snprintf(s->master_addr, sizeof(s->master_addr), "%.255s:%d", c->host,
             c->port);
    s->failovers += was >= 0;
    pthread_mutex_unlock(&s->lock);
}

/* Orders candidates by votes, most first (stable). */
static void
by_votes(struct candidate *c, int nc)
{
    int i, j;

    for (i = 1; i < nc; i++) {
        struct candidate x = c[i];

        for (j = i; j > 0 && c[j - 1].votes < x.votes; j--) {
            c[j] = c[j - 1];
        }
        c[j] = x;
    }
}

/* One round: every sentinel asked, the candidates checked, the first
 * master taken. */
static void
ask(struct sentinel *s)
{
    struct candidate c[SENTINEL_MAX + 1];
    struct nodes_addr *reps = NULL;
    int nc = 0, nreps = -1, i, reachable = 0;

    if (s->replicas) {
        reps = calloc(NODES_MAX, sizeof(*reps));
    }
    if (s->hint.votes > 0) {
        c[nc] = s->hint;
        c[nc++].votes = SENTINEL_MAX + 1; /* tried first */
        s->hint.votes = 0;
    }
    for (i = 0; i < s->n; i++) {
        ask_one(s, &s->server[i], c, &nc, reps, &nreps);
        reachable += s->server[i].cmd.state == RCONN_READY;
    }
    by_votes(c, nc);
    for (i = 0; i < nc; i++) {
        int role =
            role_of(s, c[i].host, c[i].port, node_of(s, c[i].host, c[i].port));

        if (role == 1) {
            take(s, &c[i]);
            break;
        }
        log_debug("msg=\"named master is not one\" addr=%s:%d role=%d",
                  c[i].host, c[i].port, role);
    }
    if (s->master < 0 && !s->warned) {
        log_warn("msg=\"no master from the sentinels yet\" name=%s "
                 "sentinels_reachable=%d named=%d",
                 s->name, reachable, nc);
        s->warned = 1;
    }
    if (s->master >= 0 && nreps >= 0) {
        nodes_set_replicas(s->nodes, s->master, reps, nreps);
    }
    free(reps);
    pthread_mutex_lock(&s->lock);
    s->asks++;
    pthread_mutex_unlock(&s->lock);
    s->last_ask_ms = util_now_ms();
    s->next_ask_ms = s->last_ask_ms + SENTINEL_ASK_MS;
}

/* ---- the thread ---- */

static void *
sentinel_main(void *arg)
{
    struct sentinel *s = arg;
    struct pollfd pfd[SENTINEL_MAX + 2];
    int i, asked;

    for (;;) {
        int64_t now = util_now_ms(), wait = s->next_ask_ms - now;
        int n;

        for (i = 0; i < s->n; i++) {
            server_sub(s, &s->server[i]);
        }
        pfd[0] = (struct pollfd){.fd = s->stopfd, .events = POLLIN};
        pfd[1] =
            (struct pollfd){.fd = nodes_want_fd(s->nodes), .events = POLLIN};
        for (i = 0; i < s->n; i++) {
            pfd[i + 2] =
                (struct pollfd){.fd = s->server[i].sub.fd, .events = POLLIN};
            if (s->server[i].sub.state != RCONN_READY && wait > 100) {
                wait = 100; /* a feed to reopen soon */
            }
        }
        qsbr_offline(); /* holds no settings snapshot while it waits */
        n = poll(pfd, (nfds_t)s->n + 2, wait > 0 ? (int)wait : 0);
        qsbr_online();
        if (n < 0 && errno != EINTR) {
            log_error("msg=\"sentinel poll failed\" cause=\"%s\"",
                      strerror(errno));
            return NULL;
        }
        if (n > 0 && pfd[0].revents) {
            return NULL;
        }
        asked = n > 0 && pfd[1].revents && nodes_want_taken(s->nodes);
        for (i = 0; n > 0 && i < s->n; i++) {
            if (pfd[i + 2].revents && s->server[i].sub.state == RCONN_READY) {
                asked |= server_feed(s, &s->server[i]);
            }
        }
        now = util_now_ms();
        if (asked && now < s->last_ask_ms + SENTINEL_MIN_GAP_MS) {
            s->next_ask_ms = s->last_ask_ms + SENTINEL_MIN_GAP_MS;
        } else if (asked) {
            s->next_ask_ms = now;
        }
        if (now >= s->next_ask_ms) {
            ask(s);
        }
    }
}

struct sentinel *
sentinel_start(const struct config_ref *cfg, struct nodes *n,
               struct tls_ctx *tls)
{
    const struct config *c = config_get(cfg);
    const char *cursor = c->sentinels;
    struct sentinel *s = calloc(1, sizeof(*s));
    char host[NODES_HOST_MAX];
    int64_t deadline;
    int port;

    if (s == NULL) {
        return NULL;
    }
    s->cfg = cfg;
    s->tls = tls;
    s->nodes = n;
    s->master = -1;
    s->replicas = c->read_from != CONFIG_READ_MASTER;
    snprintf(s->name, sizeof(s->name), "%s", c->master_name);
    snprintf(s->master_addr, sizeof(s->master_addr), "%s", "");
    rconn_init(&s->role);
    while (s->n < SENTINEL_MAX &&
           config_seed_next(&cursor, host, sizeof(host), &port) == 1) {
        struct server *sv = &s->server[s->n++];

        snprintf(sv->host, sizeof(sv->host), "%s", host);
        sv->port = port;
        sv->target = redis_target_of(cfg, tls);
        snprintf(sv->target.host, sizeof(sv->target.host), "%s", host);
        sv->target.port = port;
        snprintf(sv->target.user, sizeof(sv->target.user), "%s",
                 c->sentinel_user);
        snprintf(sv->target.password, sizeof(sv->target.password), "%s",
                 c->sentinel_password);
        sv->target.tls_name[0] = '\0'; /* a sentinel's own name: its host */
        sv->target.db = 0;
        sv->target.readonly = 0;
        rconn_init(&sv->cmd);
        rconn_init(&sv->sub);
    }
    s->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stopfd < 0 || pthread_mutex_init(&s->lock, NULL) != 0) {
        goto fail;
    }
    /* Before serving, so the first requests find the master: asked until
     * one is found, for as long as opening the stream to it may take. */
    deadline = util_now_ms() + c->connect_timeout_ms + c->command_timeout_ms;
    for (;;) {
        ask(s);
        if (s->master >= 0 || util_now_ms() >= deadline) {
            break;
        }
        poll(NULL, 0, SENTINEL_MIN_GAP_MS);
    }
    if (pthread_create(&s->thread, NULL, sentinel_main, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        goto fail;
    }
    s->running = 1;
    return s;

fail:
    if (s->stopfd >= 0) {
        close(s->stopfd);
    }
    free(s);
    return NULL;
}

void
sentinel_stop(struct sentinel *s)
{
    uint64_t one = 1;
    int i;

    if (s == NULL) {
        return;
    }
    if (s->running) {
        while (write(s->stopfd, &one, sizeof(one)) < 0 && errno == EINTR) {
        }
        pthread_join(s->thread, NULL);
    }
    for (i = 0; i < s->n; i++) {
        rconn_close(&s->server[i].cmd);
        rconn_close(&s->server[i].sub);
    }
    rconn_close(&s->role);
    pthread_mutex_destroy(&s->lock);
    close(s->stopfd);
    free(s);
}

void
sentinel_stats(struct sentinel *s, struct sentinel_stats *out)
{
    int i;

    memset(out, 0, sizeof(*out));
    snprintf(out->master_name, sizeof(out->master_name), "%s", s->name);
    out->nservers = s->n;
    pthread_mutex_lock(&s->lock);
    snprintf(out->master, sizeof(out->master), "%s", s->master_addr);
    out->failovers = s->failovers;
    out->asks = s->asks;
    for (i = 0; i < s->n; i++) {
        struct sentinel_server_stats *o = &out->server[i];

        snprintf(o->addr, sizeof(o->addr), "%s:%d", s->server[i].host,
                 s->server[i].port);
        o->up = s->server[i].up;
        o->subscribed = s->server[i].subscribed;
        snprintf(o->error, sizeof(o->error), "%s", s->server[i].error);
        out->reachable += o->up;
    }
    pthread_mutex_unlock(&s->lock);
}
