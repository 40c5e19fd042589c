/*
 * End-to-end tests of sessions on a real Redis Cluster (see
 * harness_cluster.h), replies byte for byte: transactions in one slot,
 * with a hash tag, on every master; a MULTI whose first command has no key
 * (answered by the proxy until a keyed one names the node); WATCH broken
 * by another client's write (through the proxy and directly on the node);
 * a key of another node inside a session reported as an error naming the
 * session's node; a session that holds nothing closed, so the next
 * command routes by key again; SELECT and CLUSTER refused; BLPOP on a key
 * of a master other than the first, woken by another client; SUBSCRIBE and
 * PUBLISH, also published on another master.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_cluster.h"

#define EXPECT H_CL_EXPECT
#define BLOCK_MS 5000 /* Redis must see the blocked client within this */

H_CLUSTER_SUITE(cluster_session, 60);

static int
proxy_fd(void)
{
    return h_conn(proxy.resp_port);
}

/* "{tagN}" + suffix, for the first tagN whose slot master m owns. */
static void
tagged(int m, const char *suffix, char *out, size_t cap)
{
    char tag[48];

    h_cl_key_on(&cluster, m, "tag", tag, sizeof(tag));
    snprintf(out, cap, "{%s}%s", tag, suffix);
}

/* The value of key on node i, or "(nil)". */
static const char *
node_val(int i, const char *key, char *out, size_t cap)
{
    redisContext *c = h_cnode_ctx(&cluster, i);

    cr_assert_not_null(c, "node %d does not answer", i);
    h_resp_get(c, key, out, cap);
    redisFree(c);
    return out;
}

Test(cluster_session, transactions_run_in_one_slot_on_every_master)
{
    int m[H_CLUSTER_MASTERS], fd;
    char a[64], b[64], plain[64], got[64];

    h_cl_masters(&cluster, m);
    h_cl_proxy(&proxy, &cluster, NULL);
    fd = proxy_fd();
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        tagged(m[i], "a", a, sizeof(a));
        tagged(m[i], "b", b, sizeof(b));
        EXPECT(fd, "+OK\r\n", "MULTI");
        EXPECT(fd, "+QUEUED\r\n", "SET", a, "1");
        EXPECT(fd, "+QUEUED\r\n", "INCR", a);
        EXPECT(fd, "+QUEUED\r\n", "SET", b, "x");
        EXPECT(fd, "+QUEUED\r\n", "MGET", a, b);
        EXPECT(fd, "*4\r\n+OK\r\n:2\r\n+OK\r\n*2\r\n$1\r\n2\r\n$1\r\nx\r\n",
               "EXEC");
        cr_expect_str_eq(node_val(m[i], a, got, sizeof(got)), "2");
        cr_expect_str_eq(node_val(m[i], b, got, sizeof(got)), "x");

        /* one plain key, no tag */
        h_cl_key_on(&cluster, m[i], "tx:", plain, sizeof(plain));
        EXPECT(fd, "+OK\r\n", "MULTI");
        EXPECT(fd, "+QUEUED\r\n", "INCR", plain);
        EXPECT(fd, "+QUEUED\r\n", "INCR", plain);
        EXPECT(fd, "*2\r\n:1\r\n:2\r\n", "EXEC");
        cr_expect_str_eq(node_val(m[i], plain, got, sizeof(got)), "2");
    }
    /* DISCARD and an empty EXEC, before any key */
    EXPECT(fd, "+OK\r\n", "MULTI");
    EXPECT(fd, "+OK\r\n", "DISCARD");
    EXPECT(fd, "+OK\r\n", "MULTI");
    EXPECT(fd, "*0\r\n", "EXEC");
    EXPECT(fd, "-ERR EXEC without MULTI\r\n", "EXEC");
    close(fd);
}

Test(cluster_session, a_keyless_command_first_then_keyed_ones_on_their_node)
{
    int m[H_CLUSTER_MASTERS], fd;
    char k[64], got[64];

    h_cl_masters(&cluster, m);
    /* the last master: not where a keyless command would go by default */
    tagged(m[2], "k", k, sizeof(k));
    h_cl_proxy(&proxy, &cluster, NULL);
    fd = proxy_fd();
    EXPECT(fd, "+OK\r\n", "MULTI");
    EXPECT(fd, "+QUEUED\r\n", "PING");
    EXPECT(fd, "+QUEUED\r\n", "ECHO", "hi");
    EXPECT(fd, "+QUEUED\r\n", "SET", k, "v");
    EXPECT(fd, "+QUEUED\r\n", "GET", k);
    EXPECT(fd, "+QUEUED\r\n", "PING");
    EXPECT(fd, "*5\r\n+PONG\r\n$2\r\nhi\r\n+OK\r\n$1\r\nv\r\n+PONG\r\n",
           "EXEC");
    cr_expect_str_eq(node_val(m[2], k, got, sizeof(got)), "v");
    /* nothing but keyless commands: EXEC runs them on some master */
    EXPECT(fd, "+OK\r\n", "MULTI");
    EXPECT(fd, "+QUEUED\r\n", "PING");
    EXPECT(fd, "+QUEUED\r\n", "ECHO", "x");
    EXPECT(fd, "*2\r\n+PONG\r\n$1\r\nx\r\n", "EXEC");
    /* nested MULTI before the node is known: Redis's error */
    EXPECT(fd, "+OK\r\n", "MULTI");
    EXPECT(fd, "-ERR MULTI calls can not be nested\r\n", "MULTI");
    EXPECT(fd, "+OK\r\n", "DISCARD");
    close(fd);
}

/* WATCH k, a read, MULTI, SET k mine; then `interfere` writes k; EXEC. */
static void
watch_case(int fd, const char *k, void (*interfere)(const char *k), int line)
{
    char want[64];

    h_cl_expect_argv(fd, (const char *const[]){"WATCH", k, NULL}, "+OK\r\n",
                     line);
    snprintf(want, sizeof(want), "$4\r\norig\r\n");
    h_cl_expect_argv(fd, (const char *const[]){"GET", k, NULL}, want, line);
    h_cl_expect_argv(fd, (const char *const[]){"MULTI", NULL}, "+OK\r\n", line);
    h_cl_expect_argv(fd, (const char *const[]){"SET", k, "mine", NULL},
                     "+QUEUED\r\n", line);
    interfere(k);
    h_cl_expect_argv(fd, (const char *const[]){"EXEC", NULL}, "*-1\r\n", line);
}

static int watch_node;

static void
write_on_node(const char *k)
{
    h_cl_set(&cluster, watch_node, k, "theirs");
}

static void
write_through_proxy(const char *k)
{
    int fd = proxy_fd();

    EXPECT(fd, "+OK\r\n", "SET", k, "theirs");
    close(fd);
}

Test(cluster_session, watch_is_broken_by_another_clients_write)
{
    int m[H_CLUSTER_MASTERS], fd;
    char k[64], got[64];

    h_cl_masters(&cluster, m);
    watch_node = m[1];
    h_cl_key_on(&cluster, m[1], "w:", k, sizeof(k));
    h_cl_proxy(&proxy, &cluster, NULL);
    fd = proxy_fd();

    h_cl_set(&cluster, m[1], k, "orig");
    watch_case(fd, k, write_on_node, __LINE__);
    cr_expect_str_eq(node_val(m[1], k, got, sizeof(got)), "theirs");

    h_cl_set(&cluster, m[1], k, "orig");
    watch_case(fd, k, write_through_proxy, __LINE__);
    cr_expect_str_eq(node_val(m[1], k, got, sizeof(got)), "theirs");

    /* unbroken, it runs */
    h_cl_set(&cluster, m[1], k, "orig");
    EXPECT(fd, "+OK\r\n", "WATCH", k);
    EXPECT(fd, "+OK\r\n", "MULTI");
    EXPECT(fd, "+QUEUED\r\n", "SET", k, "mine");
    EXPECT(fd, "*1\r\n+OK\r\n", "EXEC");
    cr_expect_str_eq(node_val(m[1], k, got, sizeof(got)), "mine");
    close(fd);
}

Test(cluster_session, a_key_of_another_node_in_a_session_is_an_error)
{
    int m[H_CLUSTER_MASTERS], fd;
    char k0[64], k1[64], want[512], got[64];

    h_cl_masters(&cluster, m);
    h_cl_key_on(&cluster, m[0], "s0:", k0, sizeof(k0));
    h_cl_key_on(&cluster, m[1], "s1:", k1, sizeof(k1));
    h_cl_proxy(&proxy, &cluster, NULL);
    fd = proxy_fd();
    snprintf(want, sizeof(want),
             "-ERR this connection's session is pinned to the cluster node "
             "127.0.0.1:%d, which does not serve that key's slot (keys of "
             "one session must live on one node: use a hash tag)\r\n",
             cluster.node[m[0]].port);
    EXPECT(fd, "+OK\r\n", "MULTI");
    EXPECT(fd, "+QUEUED\r\n", "SET", k0, "a");
    EXPECT(fd, want, "SET", k1, "b");
    EXPECT(fd,
           "-EXECABORT Transaction discarded because of previous errors.\r\n",
           "EXEC");
    cr_expect_str_eq(node_val(m[0], k0, got, sizeof(got)), "(nil)");
    cr_expect_str_eq(node_val(m[1], k1, got, sizeof(got)), "(nil)");

    /* WATCH holds the session on k0's node too ... */
    EXPECT(fd, "+OK\r\n", "WATCH", k0);
    EXPECT(fd, want, "SET", k1, "b");
    /* ... until UNWATCH: then nothing holds it and k1 routes to its node */
    EXPECT(fd, "+OK\r\n", "UNWATCH");
    EXPECT(fd, "+OK\r\n", "SET", k1, "b");
    cr_expect_str_eq(node_val(m[1], k1, got, sizeof(got)), "b");
    EXPECT(fd, "+OK\r\n", "SET", k0, "a");
    cr_expect_str_eq(node_val(m[0], k0, got, sizeof(got)), "a");
    close(fd);
}

Test(cluster_session, select_and_cluster_commands)
{
    int fd;

    h_cl_proxy(&proxy, &cluster, NULL);
    fd = proxy_fd();
    EXPECT(fd, "-ERR SELECT is not allowed in cluster mode\r\n", "SELECT", "1");
    EXPECT(fd, "+OK\r\n", "SELECT", "0");
    EXPECT(fd, "-ERR value is not an integer or out of range\r\n", "SELECT",
           "x");
    EXPECT(fd, "-ERR wrong number of arguments for 'select' command\r\n",
           "SELECT");
    EXPECT(fd,
           "-ERR CLUSTER commands are not served: this proxy presents the "
           "cluster as one Redis\r\n",
           "CLUSTER", "INFO");
    EXPECT(fd,
           "-ERR CLUSTER commands are not served: this proxy presents the "
           "cluster as one Redis\r\n",
           "cluster", "slots");
    EXPECT(fd, "+PONG\r\n", "PING");
    close(fd);
}

struct blocked {
    int node;
    long want;
};

static int
blocked_is(void *arg)
{
    const struct blocked *b = arg;
    redisReply *r = h_cnode_cmd(&cluster, b->node, "INFO clients");
    const char *p;
    int ok = 0;

    if (r != NULL && r->type == REDIS_REPLY_STRING &&
        (p = strstr(r->str, "blocked_clients:")) != NULL) {
        ok = strtol(p + 16, NULL, 10) == b->want;
    }
    freeReplyObject(r);
    return ok;
}

Test(cluster_session, blpop_on_another_master_is_woken_by_another_client)
{
    int m[H_CLUSTER_MASTERS], a, b;
    char list[64], k0[64], want[128];
    struct blocked on = {0, 1};

    h_cl_masters(&cluster, m);
    h_cl_key_on(&cluster, m[2], "list:", list, sizeof(list));
    h_cl_key_on(&cluster, m[0], "after:", k0, sizeof(k0));
    on.node = m[2];
    h_cl_proxy(&proxy, &cluster, NULL);
    a = proxy_fd();
    b = proxy_fd();
    H_SEND(a, "BLPOP", list, "10");
    cr_assert(h_wait_until(BLOCK_MS, blocked_is, &on),
              "node %d never saw the BLPOP", m[2]);
    EXPECT(b, ":1\r\n", "RPUSH", list, "x");
    snprintf(want, sizeof(want), "*2\r\n$%zu\r\n%s\r\n$1\r\nx\r\n",
             strlen(list), list);
    h_expect_reply(a, want, 5000, __LINE__);
    /* the reply came: the session closed, the next key routes anew */
    EXPECT(a, "+OK\r\n", "SET", k0, "after");
    EXPECT(a, "$5\r\nafter\r\n", "GET", k0);
    /* a timeout reply too */
    EXPECT(a, "*-1\r\n", "BLPOP", list, "0.1");
    close(a);
    close(b);
}

Test(cluster_session, subscribe_and_publish_through_the_proxy)
{
    static const char msg[] = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\n"
                              "hello\r\n";
    static const char msg2[] = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\n"
                               "again\r\n";
    int m[H_CLUSTER_MASTERS], sub, pub;
    redisReply *r;

    h_cl_masters(&cluster, m);
    h_cl_proxy(&proxy, &cluster, NULL);
    sub = proxy_fd();
    pub = proxy_fd();
    EXPECT(sub, "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", "SUBSCRIBE",
           "ch");
    /* PUBLISH through the proxy: the subscriber gets it */
    H_SEND(pub, "PUBLISH", "ch", "hello");
    h_expect_reply(sub, msg, 5000, __LINE__);
    h_expect_reply(pub, ":1\r\n", 5000, __LINE__);
    /* published on each master directly: the cluster bus carries it */
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        r = h_cnode_cmd(&cluster, m[i], "PUBLISH ch again");
        cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
        freeReplyObject(r);
        h_expect_reply(sub, msg2, 5000, __LINE__);
    }
    EXPECT(sub, "*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n", "UNSUBSCRIBE",
           "ch");
    EXPECT(sub, "+PONG\r\n", "PING");
    close(sub);
    close(pub);
}

Test(cluster_session, a_pipeline_through_sessions_on_several_nodes_keeps_order)
{
    int m[H_CLUSTER_MASTERS], fd;
    char k0[64], k1[64], t2[64], list[64], req[8192], got[8192], e1[2048],
        e2[2048], want[1024];
    size_t len = 0;
    long n;

    h_cl_masters(&cluster, m);
    h_cl_key_on(&cluster, m[0], "p0:", k0, sizeof(k0));
    h_cl_key_on(&cluster, m[1], "p1:", k1, sizeof(k1));
    tagged(m[2], "x", t2, sizeof(t2));
    h_cl_key_on(&cluster, m[1], "pl:", list, sizeof(list));
    h_cl_proxy(&proxy, &cluster, NULL);
    len += H_CMD(req + len, sizeof(req) - len, "SET", k0, "a");
    len += H_CMD(req + len, sizeof(req) - len, "MULTI");
    len += H_CMD(req + len, sizeof(req) - len, "PING");
    len += H_CMD(req + len, sizeof(req) - len, "SET", t2, "1");
    len += H_CMD(req + len, sizeof(req) - len, "INCR", t2);
    len += H_CMD(req + len, sizeof(req) - len, "EXEC");
    len += H_CMD(req + len, sizeof(req) - len, "GET", k0);
    len += H_CMD(req + len, sizeof(req) - len, "MGET", k0, k1);
    len += H_CMD(req + len, sizeof(req) - len, "RPUSH", list, "x");
    len += H_CMD(req + len, sizeof(req) - len, "BLPOP", list, "1");
    len += H_CMD(req + len, sizeof(req) - len, "BLPOP", list, "0.05");
    len += H_CMD(req + len, sizeof(req) - len, "SET", k1, "b");
    len += H_CMD(req + len, sizeof(req) - len, "MGET", k1, k0);
    snprintf(want, sizeof(want),
             "+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"
             "*3\r\n+PONG\r\n+OK\r\n:2\r\n$1\r\na\r\n*2\r\n$1\r\na\r\n$-1\r\n"
             ":1\r\n*2\r\n$%zu\r\n%s\r\n$1\r\nx\r\n*-1\r\n+OK\r\n"
             "*2\r\n$1\r\nb\r\n$1\r\na\r\n",
             strlen(list), list);
    fd = proxy_fd();
    cr_assert_eq(h_send(fd, req, len), 0);
    n = h_read_replies(fd, 13, got, sizeof(got) - 1, 5000);
    got[n > 0 ? n : 0] = '\0';
    cr_assert(n > 0 && strcmp(got, want) == 0, "want \"%s\", got \"%s\"",
              h_escape(want, strlen(want), e1, sizeof(e1)),
              h_escape(got, n > 0 ? (size_t)n : 0, e2, sizeof(e2)));
    close(fd);
}
