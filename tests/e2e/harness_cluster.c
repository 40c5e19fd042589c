/*
 * harness_cluster: a six-node Redis Cluster on loopback and the proxy in
 * front of it; see harness_cluster.h. The nodes are started with the
 * means of harness_proc.c (a node counts as started only once its pid
 * holds both its listening sockets, so a port taken by a parallel test is
 * retried with fresh ones), and made a cluster by redis-cli, as an
 * operator would.
 */
#include "harness_cluster.h"
#include "harness_int.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define H_CREATE_MS 30000 /* redis-cli --cluster create */
#define H_SETTLE_MS 30000 /* until every node agrees, after the create */
#define H_MAP_CAP 4096    /* a node's view of the cluster as text */

/* ---- nodes ---- */

/* One attempt at starting node i on fresh ports. */
static int
h__cnode_try(struct h_cluster *cl, int i, const char *const *extra)
{
    struct h_cnode *nd = &cl->node[i];
    char port[16], bus[16], conf[320], log[320], rdb[32];
    char *argv[H_MAX_ARGS] = {"redis-server",
                              "--port",
                              port,
                              "--cluster-port",
                              bus,
                              "--bind",
                              "127.0.0.1",
                              "--cluster-enabled",
                              "yes",
                              "--cluster-config-file",
                              conf,
                              "--cluster-node-timeout",
                              "2000",
                              "--save",
                              "",
                              "--appendonly",
                              "no",
                              "--dbfilename",
                              rdb,
                              "--repl-diskless-sync-delay",
                              "0",
                              "--dir",
                              cl->dir,
                              "--daemonize",
                              "no"};
    char tls[3][256];
    int argc = 25, ports[2], j;

    if (h__free_ports(ports, 2) == -1) {
        return -1;
    }
    for (j = 0; j < i; j++) {
        if (cl->node[j].port == ports[0] || cl->node[j].port == ports[1] ||
            cl->node[j].bus == ports[0] || cl->node[j].bus == ports[1]) {
            return -1; /* handed out again: try fresh ones */
        }
    }
    nd->port = ports[0];
    nd->bus = ports[1];
    snprintf(port, sizeof(port), "%d", nd->port);
    snprintf(bus, sizeof(bus), "%d", nd->bus);
    snprintf(conf, sizeof(conf), "%s/nodes-%d.conf", cl->dir, nd->port);
    snprintf(log, sizeof(log), "%s/redis-%d.log", cl->dir, nd->port);
    snprintf(rdb, sizeof(rdb), "dump-%d.rdb", nd->port);
    if (cl->tls) {
        snprintf(tls[0], sizeof(tls[0]), "%s", h_tls_path("server.crt"));
        snprintf(tls[1], sizeof(tls[1]), "%s", h_tls_path("server.key"));
        snprintf(tls[2], sizeof(tls[2]), "%s", h_tls_path("ca.crt"));
        argv[2] = "0"; /* --port 0: no plain port */
        h__add_args(argv, &argc,
                    (const char *const[]){
                        "--tls-port", port, "--tls-cluster", "yes",
                        "--tls-replication", "yes", "--tls-cert-file", tls[0],
                        "--tls-key-file", tls[1], "--tls-ca-cert-file", tls[2],
                        "--tls-auth-clients", "no", NULL});
    }
    h__add_args(argv, &argc, extra);
    return h__launch(log, argv, ports, 2, &nd->pid);
}

int
h__cnode_start(struct h_cluster *cl, int i, const char *const *extra)
{
    int tries;

    for (tries = 0; tries < H_START_TRIES; tries++) {
        if (h__cnode_try(cl, i, extra) == 0) {
            return 0;
        }
        h__kill_child(&cl->node[i].pid);
    }
    fprintf(stderr, "harness: cluster node %d did not start\n", i);
    return -1;
}

redisContext *
h_cnode_ctx(const struct h_cluster *cl, int i)
{
    struct timeval tv = {H_IO_MS / 1000, 0};
    redisContext *c;

    if (i < 0 || i >= H_CLUSTER_NODES || cl->node[i].pid <= 0) {
        return NULL;
    }
    c = redisConnectWithTimeout("127.0.0.1", cl->node[i].port, tv);
    if (c != NULL && (c->err || redisSetTimeout(c, tv) != REDIS_OK)) {
        redisFree(c);
        c = NULL;
    }
    return c;
}

redisReply *
h_cnode_vcmd(const struct h_cluster *cl, int i, const char *fmt, va_list ap)
{
    redisContext *c = h_cnode_ctx(cl, i);
    redisReply *r;

    if (c == NULL) {
        return NULL;
    }
    r = redisvCommand(c, fmt, ap);
    redisFree(c);
    return r;
}

redisReply *
h_cnode_cmd(const struct h_cluster *cl, int i, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = h_cnode_vcmd(cl, i, fmt, ap);
    va_end(ap);
    return r;
}

int
h_cnode_index(const struct h_cluster *cl, int port)
{
    int i;

    for (i = 0; i < H_CLUSTER_NODES; i++) {
        if (cl->node[i].port == port) {
            return i;
        }
    }
    return -1;
}

void
h_cluster_kill(struct h_cluster *cl, int i)
{
    h__kill_child(&cl->node[i].pid);
}

/* ---- what the nodes say ---- */

/* 1 if node i's answer to "<cmd> <arg>" (CLUSTER INFO, INFO replication)
 * holds line ("name:value") as a whole line. */
static int
h__info_has(const struct h_cluster *cl, int i, const char *cmd, const char *arg,
            const char *line)
{
    redisReply *r = h_cnode_cmd(cl, i, "%s %s", cmd, arg);
    int has = 0;

    if (r != NULL && r->type == REDIS_REPLY_STRING) {
        const char *p = strstr(r->str, line);

        has = p != NULL && (p == r->str || p[-1] == '\n') &&
              (p[strlen(line)] == '\r' || p[strlen(line)] == '\n');
    }
    freeReplyObject(r);
    return has;
}

static int
h__int_cmp(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

struct h__range {
    long long from, to;
    int master;      /* port */
    int replicas[4]; /* ports, sorted */
    int nrep;
};

static int
h__range_cmp(const void *a, const void *b)
{
    const struct h__range *x = a, *y = b;

    return x->from < y->from ? -1 : x->from > y->from;
}

/* Node i's CLUSTER SLOTS, sorted by first slot, into ranges[0..max).
 * Returns how many, or -1. */
static int
h__slots(const struct h_cluster *cl, int i, struct h__range *ranges, int max)
{
    redisReply *r = h_cnode_cmd(cl, i, "CLUSTER SLOTS");
    int n = 0;
    size_t j, k;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    for (j = 0; j < r->elements && n < max; j++) {
        const redisReply *e = r->element[j];
        struct h__range *g = &ranges[n];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3) {
            continue;
        }
        memset(g, 0, sizeof(*g));
        g->from = e->element[0]->integer;
        g->to = e->element[1]->integer;
        for (k = 2; k < e->elements; k++) {
            const redisReply *m = e->element[k];
            int port;

            if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
                m->element[1]->type != REDIS_REPLY_INTEGER) {
                continue;
            }
            port = (int)m->element[1]->integer;
            if (k == 2) {
                g->master = port;
            } else if (g->nrep < 4) {
                g->replicas[g->nrep++] = port;
            }
        }
        qsort(g->replicas, (size_t)g->nrep, sizeof(int), h__int_cmp);
        n++;
    }
    freeReplyObject(r);
    qsort(ranges, (size_t)n, sizeof(*ranges), h__range_cmp);
    return n;
}

/* The port of the node with id (known from CLUSTER MYID), or 0. */
static int
h__port_of_id(const struct h_cluster *cl, const char *id, size_t len)
{
    int i;

    for (i = 0; i < H_CLUSTER_NODES; i++) {
        if (strlen(cl->node[i].id) == len &&
            strncmp(cl->node[i].id, id, len) == 0) {
            return cl->node[i].port;
        }
    }
    return 0;
}

static int
h__str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Node i's view of the running nodes (CLUSTER NODES) as text, one line per
 * node sorted by port: "PORT FLAGS MASTERPORT SLOTS...", without what is
 * the viewer's own (the "myself" flag, ping times, epochs, the link's
 * state, slots being migrated), so that every node of a settled cluster
 * says the same. Returns 0 or -1.
 */
static int
h__view_text(const struct h_cluster *cl, int i, char *out, size_t cap)
{
    redisReply *r = h_cnode_cmd(cl, i, "CLUSTER NODES");
    char *lines[64], *save = NULL, *line;
    size_t len = 0;
    int n = 0, j;

    out[0] = '\0';
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return -1;
    }
    for (line = strtok_r(r->str, "\n", &save); line != NULL && n < 64;
         line = strtok_r(NULL, "\n", &save)) {
        char *f[8], *rest, *tok, *s2 = NULL, norm[512], flags[128];
        const char *colon;
        size_t nl = 0;
        int k = 0, port, mport;

        for (tok = strtok_r(line, " ", &s2); tok != NULL && k < 8;
             tok = strtok_r(NULL, " ", &s2)) {
            f[k++] = tok;
        }
        if (k < 8) {
            continue;
        }
        rest = s2;
        colon = strchr(f[1], ':');
        port = colon != NULL ? atoi(colon + 1) : 0;
        if (h_cnode_index(cl, port) < 0 ||
            cl->node[h_cnode_index(cl, port)].pid <= 0) {
            continue; /* not running: what others think of it may lag */
        }
        snprintf(flags, sizeof(flags), "%s",
                 strncmp(f[2], "myself,", 7) == 0 ? f[2] + 7 : f[2]);
        mport = f[3][0] == '-' ? 0 : h__port_of_id(cl, f[3], strlen(f[3]));
        nl = (size_t)snprintf(norm, sizeof(norm), "%d %s %d", port, flags,
                              mport);
        for (tok = rest != NULL ? strtok_r(rest, " ", &s2) : NULL;
             tok != NULL && nl + 32 < sizeof(norm);
             tok = strtok_r(NULL, " ", &s2)) {
            if (tok[0] != '[') {
                nl +=
                    (size_t)snprintf(norm + nl, sizeof(norm) - nl, " %s", tok);
            }
        }
        lines[n++] = strdup(norm);
    }
    freeReplyObject(r);
    qsort(lines, (size_t)n, sizeof(lines[0]), h__str_cmp);
    for (j = 0; j < n; j++) {
        if (lines[j] != NULL && len + strlen(lines[j]) + 2 < cap) {
            len += (size_t)snprintf(out + len, cap - len, "%s\n", lines[j]);
        }
        free(lines[j]);
    }
    return n > 0 ? 0 : -1;
}

struct h__settle {
    const struct h_cluster *cl;
    int replicas; /* replicas every node must see, or -1 */
};

/* Every running node ok and of one mind (and, when asked, seeing that
 * many replicas). */
static int
h__settled(void *arg)
{
    const struct h__settle *w = arg;
    const struct h_cluster *cl = w->cl;
    char first[H_MAP_CAP], map[H_MAP_CAP];
    int i, seen = 0;

    for (i = 0; i < H_CLUSTER_NODES; i++) {
        if (cl->node[i].pid <= 0) {
            continue;
        }
        if (!h__info_has(cl, i, "CLUSTER", "INFO", "cluster_state:ok") ||
            h__view_text(cl, i, seen ? map : first, H_MAP_CAP) < 0 ||
            (seen && strcmp(first, map) != 0)) {
            return 0;
        }
        seen = 1;
        if (h__info_has(cl, i, "INFO", "replication", "role:slave") &&
            !h__info_has(cl, i, "INFO", "replication",
                         "master_link_status:up")) {
            return 0;
        }
    }
    if (seen && w->replicas >= 0) {
        const char *p = first;
        int n = 0;

        while ((p = strstr(p, " slave ")) != NULL) {
            n++;
            p++;
        }
        return n == w->replicas;
    }
    return seen;
}

int
h_cluster_wait_ok(const struct h_cluster *cl, int timeout_ms)
{
    struct h__settle w = {cl, -1};

    return h_wait_until(timeout_ms, h__settled, &w);
}

int
h_cluster_slot_map(const struct h_cluster *cl, int *owner)
{
    struct h__range ranges[64];
    int i, j, n = -1;
    long long s;

    for (i = 0; i < H_CLUSTER_NODES && n < 0; i++) {
        if (cl->node[i].pid > 0 &&
            h__info_has(cl, i, "INFO", "replication", "role:master")) {
            n = h__slots(cl, i, ranges, 64);
        }
    }
    if (n < 0) {
        return -1;
    }
    for (s = 0; s < H_CLUSTER_SLOTS; s++) {
        owner[s] = -1;
    }
    for (j = 0; j < n; j++) {
        int m = h_cnode_index(cl, ranges[j].master);

        for (s = ranges[j].from; s <= ranges[j].to && s < H_CLUSTER_SLOTS;
             s++) {
            owner[s] = m;
        }
    }
    return 0;
}

int
h_cluster_ranges(const int *owner, int i, char *out, size_t cap)
{
    size_t len = 0;
    int s = 0, n = 0;

    out[0] = '\0';
    while (s < H_CLUSTER_SLOTS) {
        int from = s;

        if (owner[s] != i) {
            s++;
            continue;
        }
        while (s < H_CLUSTER_SLOTS && owner[s] == i) {
            s++;
        }
        n += s - from;
        len +=
            (size_t)(from + 1 == s ? snprintf(out + len, cap - len, "%s%d",
                                              len ? "," : "", from)
                                   : snprintf(out + len, cap - len, "%s%d-%d",
                                              len ? "," : "", from, s - 1));
    }
    return n;
}

int
h_cluster_owner(const struct h_cluster *cl, unsigned slot)
{
    int *owner = malloc(H_CLUSTER_SLOTS * sizeof(int));
    int m = -1;

    if (owner != NULL && slot < H_CLUSTER_SLOTS &&
        h_cluster_slot_map(cl, owner) == 0) {
        m = owner[slot];
    }
    free(owner);
    return m;
}

int
h_cluster_masters(const struct h_cluster *cl, int *out, int max)
{
    int *owner = malloc(H_CLUSTER_SLOTS * sizeof(int));
    int n = 0, s, j;

    if (owner == NULL || h_cluster_slot_map(cl, owner) < 0) {
        free(owner);
        return -1;
    }
    for (s = 0; s < H_CLUSTER_SLOTS; s++) {
        if (owner[s] < 0) {
            continue;
        }
        for (j = 0; j < n && out[j] != owner[s]; j++) {
        }
        if (j == n && n < max) {
            out[n++] = owner[s];
        }
    }
    free(owner);
    return n;
}

int
h_cluster_replica_of(const struct h_cluster *cl, int m)
{
    int i;

    for (i = 0; i < H_CLUSTER_NODES; i++) {
        char line[128];

        snprintf(line, sizeof(line), "master_port:%d", cl->node[m].port);
        if (i != m && cl->node[i].pid > 0 &&
            h__info_has(cl, i, "INFO", "replication", "role:slave") &&
            h__info_has(cl, i, "INFO", "replication", line)) {
            return i;
        }
    }
    return -1;
}

/* Any running node's connection. */
static redisContext *
h__any_ctx(const struct h_cluster *cl)
{
    redisContext *c = NULL;
    int i;

    for (i = 0; i < H_CLUSTER_NODES && c == NULL; i++) {
        c = h_cnode_ctx(cl, i);
    }
    return c;
}

long
h_cluster_keyslot(const struct h_cluster *cl, const char *key, size_t len)
{
    redisContext *c = h__any_ctx(cl);
    redisReply *r;
    long slot = -1;

    if (c == NULL) {
        return -1;
    }
    r = redisCommand(c, "CLUSTER KEYSLOT %b", key, len);
    if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
        slot = (long)r->integer;
    }
    freeReplyObject(r);
    redisFree(c);
    return slot;
}

int
h_cluster_key_on(const struct h_cluster *cl, int m, const char *prefix,
                 char *out, size_t cap)
{
    int *owner = malloc(H_CLUSTER_SLOTS * sizeof(int));
    redisContext *c = h__any_ctx(cl);
    int n, rc = -1;

    if (owner == NULL || c == NULL || h_cluster_slot_map(cl, owner) < 0) {
        goto out;
    }
    for (n = 0; n < 100000 && rc < 0; n++) {
        redisReply *r;

        snprintf(out, cap, "%s%d", prefix, n);
        r = redisCommand(c, "CLUSTER KEYSLOT %s", out);
        if (r == NULL) {
            break;
        }
        if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0 &&
            r->integer < H_CLUSTER_SLOTS && owner[r->integer] == m) {
            rc = 0;
        }
        freeReplyObject(r);
    }
out:
    if (c != NULL) {
        redisFree(c);
    }
    free(owner);
    return rc;
}

int
h_cluster_keys_in_slots(const struct h_cluster *cl, const char *prefix,
                        unsigned from, unsigned to, int n, char (*out)[64])
{
    redisContext *c = h__any_ctx(cl);
    int got = 0, base = 0, rc = -1;

    if (c == NULL) {
        return -1;
    }
    while (got < n && base < 10000000) {
        int batch = 1000, i;

        for (i = 0; i < batch; i++) {
            redisAppendCommand(c, "CLUSTER KEYSLOT %s%d", prefix, base + i);
        }
        for (i = 0; i < batch; i++) {
            redisReply *r;

            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                goto out;
            }
            if (r->type == REDIS_REPLY_INTEGER && got < n &&
                r->integer >= from && r->integer <= to) {
                snprintf(out[got++], 64, "%s%d", prefix, base + i);
            }
            freeReplyObject(r);
        }
        base += batch;
    }
    rc = got == n ? 0 : -1;
out:
    redisFree(c);
    return rc;
}

/* ---- the cluster ---- */

int
h_cluster_start(struct h_cluster *cl, const char *const *extra_args)
{
    char *argv[H_MAX_ARGS], addr[H_CLUSTER_NODES][32], out[8192];
    struct h__settle settle;
    int argc = 0, i, rc;

    memset(cl, 0, sizeof(*cl));
    if (h__mkdtemp(cl->dir, sizeof(cl->dir), "cluster") == -1) {
        return -1;
    }
    for (i = 0; i < H_CLUSTER_NODES; i++) {
        redisReply *r;

        if (h__cnode_start(cl, i, extra_args) < 0) {
            return -1;
        }
        r = h_cnode_cmd(cl, i, "CLUSTER MYID");
        if (r == NULL || r->type != REDIS_REPLY_STRING) {
            fprintf(stderr, "harness: cluster node %d: no CLUSTER MYID\n", i);
            freeReplyObject(r);
            return -1;
        }
        snprintf(cl->node[i].id, sizeof(cl->node[i].id), "%s", r->str);
        freeReplyObject(r);
    }
    argv[argc++] = "redis-cli";
    argv[argc++] = "--cluster";
    argv[argc++] = "create";
    for (i = 0; i < H_CLUSTER_NODES; i++) {
        snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", cl->node[i].port);
        argv[argc++] = addr[i];
    }
    argv[argc++] = "--cluster-replicas";
    argv[argc++] = "1";
    argv[argc++] = "--cluster-yes";
    argv[argc] = NULL;
    rc = h_exec(argv, NULL, out, sizeof(out), H_CREATE_MS);
    if (rc != 0) {
        fprintf(stderr, "harness: redis-cli --cluster create: %d\n%s\n", rc,
                out);
        return -1;
    }
    settle.cl = cl;
    settle.replicas = H_CLUSTER_NODES - H_CLUSTER_MASTERS;
    if (!h_wait_until(H_SETTLE_MS, h__settled, &settle)) {
        fprintf(stderr, "harness: the cluster did not settle\n");
        return -1;
    }
    return 0;
}

void
h_cluster_stop(struct h_cluster *cl)
{
    int i;

    for (i = 0; i < H_CLUSTER_NODES; i++) {
        h__kill_child(&cl->node[i].pid);
    }
    if (cl->dir[0] != '\0') {
        if (getenv("E2E_KEEP") != NULL) {
            fprintf(stderr, "harness: kept %s\n", cl->dir);
        } else {
            h__rmdir(cl->dir);
        }
        cl->dir[0] = '\0';
    }
}
