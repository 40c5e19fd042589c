/*
 * Unit tests of a node's pool (upstream/upstream.h) against a real
 * redis-server, driven as the proxy drives it (pipe_helpers.h: an event
 * loop calling waiter_wait as an idle worker does): pipelines made on
 * first use per protocol and token, none connected before a request
 * needs one; a token keeps its pipeline (and so its connection: Redis's
 * CLIENT ID says which) and tokens share pool_size of them per
 * protocol, RESP3 ones speaking RESP3 to Redis; a node that cannot be
 * reached failing at once on every pipeline of the pool, not only the one
 * that tried; a connect that never completes failed by the tick
 * (upstream_tick) once connect_timeout has passed, and only then.
 */
#include "pipe_helpers.h"

#include <stdlib.h>

#include "upstream/upstream.h"

static struct unit_redis server;
static struct upstream *u;

static void
setup(void)
{
    pipe_setup();
    server.pid = 0;
    server.ctx = NULL;
    u = NULL;
}

static void
teardown(void)
{
    fx_loop_stop();
    upstream_destroy(u);
    pipe_teardown();
    if (server.pid > 0) {
        unit_redis_stop(&server);
    }
}

TestSuite(upstream, .init = setup, .fini = teardown, .timeout = 30);

/* A pool of size pipelines per protocol to port, on the event loop. */
static void
pool_at(int port, int size)
{
    fx_base_up(port, 0);
    fx.cfg.pool_size = size;
    u = upstream_create(&fx.ref, &fx.target, fx.tracking, fx.w);
    cr_assert_not_null(u);
}

/* A pool of size to a redis-server of the test's. */
static void
pool_to_redis(int size)
{
    unit_redis_start(&server, 0, NULL);
    pool_at(server.port, size);
}

/* Connections the server has from clients, its own test one included. */
static long
clients(const char *with)
{
    redisReply *r = redisCommand(server.ctx, "CLIENT LIST");
    long n = 0;

    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING);
    for (const char *p = r->str; (p = strstr(p, "id=")) != NULL; p++) {
        const char *end = strchr(p, '\n');

        if (with == NULL || (end != NULL && memmem(p, (size_t)(end - p), with,
                                                   strlen(with)) != NULL)) {
            n++;
        }
    }
    freeReplyObject(r);
    return n;
}

Test(upstream, pipelines_are_made_on_first_use_per_protocol_and_token)
{
    struct upstream_stats st;
    struct pipe *p2, *p3;

    pool_to_redis(3);
    upstream_stats(u, &st);
    cr_assert_eq(st.size, 3);
    cr_assert_eq(st.connected + st.in_use + st.inflight + st.commands, 0);
    p2 = upstream_pipe(u, 2, 0);
    p3 = upstream_pipe(u, 3, 0);
    cr_assert_not_null(p2);
    cr_assert_not_null(p3);
    cr_assert_neq(p2, p3, "each protocol has its own");
    cr_assert_eq(upstream_pipe(u, 2, 0), p2, "made once");
    cr_assert_eq(upstream_pipe(u, 2, 3), p2, "token 3 of 3: the same");
    cr_assert_eq(upstream_pipe(u, 2, 300), p2);
    cr_assert_neq(upstream_pipe(u, 2, 1), p2);
    cr_assert_neq(upstream_pipe(u, 2, 2), upstream_pipe(u, 2, 1));
    cr_assert_eq(upstream_pipe(u, 3, 3), p3);
    cr_assert_eq(upstream_pipe(u, 0, 0), p2, "anything but 3 is RESP2");
    cr_assert_eq(clients(NULL), 1, "no connection before a request");
    upstream_stats(u, &st);
    cr_assert_eq(st.connected, 0);
}

#define TOKENS 10

static struct treq ids[2][TOKENS];

/* CLIENT ID on the pipeline of token (proto 2 or 3); its reply. */
static long long
id_of(const struct treq *t)
{
    char *end;
    long long id;

    cr_assert_eq(t->status, UPSTREAM_OK, "%s", t->err);
    cr_assert_eq(t->got[0], ':', "%.*s", (int)t->got_len, t->got);
    id = strtoll(t->got + 1, &end, 10);
    cr_assert_str_eq(end, "\r\n");
    return id;
}

Test(upstream, tokens_share_pool_size_connections_per_protocol)
{
    char line[64];
    struct upstream_stats st;

    pool_to_redis(3);
    for (int proto = 2; proto <= 3; proto++) {
        for (int k = 0; k < TOKENS; k++) {
            struct treq *t = &ids[proto - 2][k];

            treq_init(t, k, proto, -1);
            treq_add(t, cmd_of(line, sizeof(line), "CLIENT", "ID", NULL), "");
            submit_to(upstream_pipe(u, proto, (uint64_t)k), t);
        }
    }
    wait_dones(2 * TOKENS);
    for (int proto = 0; proto < 2; proto++) {
        for (int k = 0; k < TOKENS; k++) {
            long long id = id_of(&ids[proto][k]);

            for (int j = 0; j < k; j++) {
                cr_assert_eq(id == id_of(&ids[proto][j]), j % 3 == k % 3,
                             "RESP%d tokens %d and %d", proto + 2, j, k);
            }
            cr_assert_neq(id, id_of(&ids[!proto][k]),
                          "RESP2 and RESP3 never share");
        }
    }
    cr_assert_eq(clients(NULL), 1 + 6);
    cr_assert_eq(clients(" resp=3"), 3, "the RESP3 pipelines said HELLO 3");
    upstream_stats(u, &st);
    cr_assert_eq(st.connected, 6);
    cr_assert_eq(st.commands, 2 * TOKENS);
    cr_assert_eq(st.inflight, 0);
    cr_assert_eq(st.errors + st.reconnects + st.down, 0);
}

Test(upstream, a_node_that_cannot_be_reached_fails_at_once_on_every_pipeline)
{
    static struct treq first, other;
    char line[64], err[UPSTREAM_ERR_MAX] = "", want[64];
    struct upstream_stats st;
    int port = unit_free_port(); /* nothing listens there */

    pool_at(port, 4);
    fx.cfg.connect_timeout_ms = 60000;
    treq_init(&first, 0, 0, 0);
    treq_add(&first, cmd_of(line, sizeof(line), "GET", "k", NULL), "");
    submit_to(upstream_pipe(u, 2, 0), &first);
    wait_dones(1); /* refused: well before connect_timeout */
    snprintf(want, sizeof(want), "connect to 127.0.0.1:%d: ", port);
    cr_assert_eq(first.status, UPSTREAM_EDOWN);
    cr_assert_eq(strncmp(first.err, want, strlen(want)), 0, "%s", first.err);
    /* Another token's pipeline, never connected, another protocol too:
     * refused at once with the same cause, not queued. */
    for (int proto = 2; proto <= 3; proto++) {
        treq_init(&other, 1, proto, 0);
        treq_add(&other, cmd_of(line, sizeof(line), "GET", "k", NULL), "");
        cr_assert_eq(
            pipe_submit(upstream_pipe(u, proto, 1), &other.u, 0, 0, err),
            PIPE_DOWN);
        cr_assert_str_eq(err, first.err);
        cr_assert_eq(other.ndone, 0);
    }
    upstream_stats(u, &st);
    cr_assert_eq(st.down, 1);
    cr_assert_eq(st.errors, 1, "one connect was tried, by one pipeline");
    cr_assert_eq(st.connected, 0);
}

Test(upstream, the_tick_fails_a_connect_past_connect_timeout_and_only_then)
{
    static struct treq t;
    char line[64], want[96];
    int port, queued, lfd;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct upstream_stats st;

    /* A listener whose accept queue is full: the next SYN is dropped, so
     * a connect to it neither completes nor fails. */
    lfd = fake_listen(&port, 0);
    fx.lfd = lfd;
    queued = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    cr_assert_eq(connect(queued, (struct sockaddr *)&sa, sizeof(sa)), 0);
    pool_at(port, 2);
    fx.cfg.connect_timeout_ms = 200;
    treq_init(&t, 0, 0, 0);
    treq_add(&t, cmd_of(line, sizeof(line), "GET", "k", NULL), "");
    submit_to(upstream_pipe(u, 2, 0), &t);
    sleep_ms(400); /* twice connect_timeout */
    loop_sync();
    pthread_mutex_lock(&tr.lock);
    cr_assert_eq(t.ndone, 0, "nothing but the tick times a connect out");
    pthread_mutex_unlock(&tr.lock);
    upstream_tick(u);
    wait_dones(1);
    snprintf(want, sizeof(want),
             "connect to 127.0.0.1:%d: no answer within 200 ms", port);
    cr_assert_eq(t.status, UPSTREAM_EDOWN);
    cr_assert_str_eq(t.err, want);
    upstream_stats(u, &st);
    cr_assert_eq(st.down, 1);
    close(queued);
}
