/*
 * harness_cluster_tls: a Redis Cluster that speaks only TLS, to its
 * clients and on its bus; see harness_cluster.h. Its nodes are started as
 * the plain cluster's (harness_cluster.c, with cl->tls set) and joined
 * the way an operator without redis-cli's helper would: each node takes
 * its slots (CLUSTER ADDSLOTSRANGE), then node 0 meets the others on
 * their TLS ports and bus ports. Every command goes over TLS (h_tls_run),
 * since hiredis here speaks none.
 */
#include "harness_cluster.h"
#include "harness_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H_TLS_SETTLE_MS 20000 /* until every node is ok, after the meets */
#define H_TLS_OUT 8192        /* a node's reply as raw RESP */

/* argv on node i; 0 when it answers +OK, -1 (printed) otherwise. */
static int
h__tls_ok(const struct h_cluster *cl, int i, const char *const *argv)
{
    char out[H_TLS_OUT];

    if (h_tls_run(cl->node[i].port, out, sizeof(out), argv) < 0 ||
        strcmp(out, "+OK\r\n") != 0) {
        fprintf(stderr, "harness: TLS cluster node %d: %s %s: %s\n", i, argv[0],
                argv[1], out);
        return -1;
    }
    return 0;
}

struct h__tls_settle {
    const struct h_cluster *cl;
    int n;
};

/* Every node ok and knowing every node's address and TLS port. */
static int
h__tls_settled(void *arg)
{
    const struct h__tls_settle *w = arg;
    char out[H_TLS_OUT], addr[48];
    int i, j;

    for (i = 0; i < w->n; i++) {
        if (H_TLS_RUN(w->cl->node[i].port, out, sizeof(out), "CLUSTER",
                      "INFO") < 0 ||
            strstr(out, "cluster_state:ok\r\n") == NULL ||
            H_TLS_RUN(w->cl->node[i].port, out, sizeof(out), "CLUSTER",
                      "NODES") < 0) {
            return 0;
        }
        for (j = 0; j < w->n; j++) {
            snprintf(addr, sizeof(addr), " 127.0.0.1:%d@%d ",
                     w->cl->node[j].port, w->cl->node[j].bus);
            if (strstr(out, addr) == NULL) {
                return 0;
            }
        }
    }
    return 1;
}

int
h_tls_cluster_start(struct h_cluster *cl, int n)
{
    struct h__tls_settle settle = {cl, n};
    int i;

    memset(cl, 0, sizeof(*cl));
    cl->tls = 1;
    if (n < 1 || n > H_CLUSTER_NODES ||
        h__mkdtemp(cl->dir, sizeof(cl->dir), "cluster") == -1) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        char from[16], to[16];

        if (h__cnode_start(cl, i, NULL) < 0) {
            return -1;
        }
        snprintf(from, sizeof(from), "%d", i * H_CLUSTER_SLOTS / n);
        snprintf(to, sizeof(to), "%d", (i + 1) * H_CLUSTER_SLOTS / n - 1);
        if (h__tls_ok(cl, i,
                      (const char *const[]){"CLUSTER", "ADDSLOTSRANGE", from,
                                            to, NULL}) < 0) {
            return -1;
        }
    }
    for (i = 1; i < n; i++) {
        char port[16], bus[16];

        snprintf(port, sizeof(port), "%d", cl->node[i].port);
        snprintf(bus, sizeof(bus), "%d", cl->node[i].bus);
        if (h__tls_ok(cl, 0,
                      (const char *const[]){"CLUSTER", "MEET", "127.0.0.1",
                                            port, bus, NULL}) < 0) {
            return -1;
        }
    }
    if (!h_wait_until(H_TLS_SETTLE_MS, h__tls_settled, &settle)) {
        fprintf(stderr, "harness: the TLS cluster did not settle\n");
        return -1;
    }
    return 0;
}
