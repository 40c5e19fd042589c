/*
 * Unit tests of the spare connections sessions start on
 * (upstream/spares.h), against real redis-servers: none until filled;
 * filled to want (at most 16), each open, RESP2, in the target's
 * database, with Redis's CLIENT ID for it known (rconn.redis_id); a take
 * hands one over and asks for a refill (spares_fd readable), which the
 * fill drains; a spare whose Redis closed it meanwhile is dropped when
 * taken and the next one handed over; following another target closes
 * the old spares and hands out only the new target's; a fill to a Redis
 * that is not there stops at once.
 */
#include <criterion/criterion.h>

#include <poll.h>

#include "rconn_helpers.h"
#include "upstream/spares.h"

static struct unit_redis other;
static struct spares *sp;

static void
setup(void)
{
    start_server(0, NULL);
    other.pid = 0;
    sp = NULL;
}

static void
teardown(void)
{
    spares_destroy(sp);
    if (other.pid > 0) {
        unit_redis_stop(&other);
    }
    stop_server();
}

TestSuite(spares, .init = setup, .fini = teardown, .timeout = 30);

/* Connections r's server has, its test connection included. */
static long long
clients_of(const struct unit_redis *r)
{
    redisReply *rep = redisCommand(r->ctx, "INFO clients");
    const char *p;
    long long n;

    cr_assert(rep != NULL && rep->type == REDIS_REPLY_STRING);
    p = strstr(rep->str, "connected_clients:");
    cr_assert_not_null(p);
    n = atoll(p + strlen("connected_clients:"));
    freeReplyObject(rep);
    return n;
}

/* 1 when a refill was asked for (spares_fd readable). */
static int
refill_asked(void)
{
    struct pollfd pfd = {.fd = spares_fd(sp), .events = POLLIN};

    return poll(&pfd, 1, 0) == 1;
}

/* Takes a spare to t; it must be ready, and Redis's id for it known. */
static void
take_ok(const struct redis_target *t, struct rconn *rc)
{
    rconn_init(rc);
    cr_assert_eq(spares_take(sp, t, rc), 0, "no spare ready");
    cr_assert_eq(rc->state, RCONN_READY);
    cr_assert_gt(rc->redis_id, 0);
    cr_assert_eq(rc->redis_id, client_id(rc), "its CLIENT ID, asked ahead");
}

Test(spares, none_is_ready_until_filled)
{
    struct redis_target t = target_at(server_port, NULL, NULL, 0);
    struct rconn rc;

    sp = spares_create(&t, 3);
    cr_assert_not_null(sp);
    cr_assert_eq(spares_ready(sp), 0);
    rconn_init(&rc);
    cr_assert_eq(spares_take(sp, &t, &rc), -1);
    cr_assert_eq(rc.state, RCONN_CLOSED, "*out stays closed");
    cr_assert_eq(rc.fd, -1);
    cr_assert_eq(refill_asked(), 1, "a take asks for more either way");
    cr_assert_eq(clients_of(&server), 1, "nothing opened ahead of a fill");
}

Test(spares, a_fill_opens_want_ready_ones_and_a_take_asks_for_more)
{
    struct redis_target t = target_at(server_port, NULL, NULL, 4);
    char info[512];
    struct rconn rc;

    sp = spares_create(&t, 3);
    cr_assert_not_null(sp);
    spares_fill(sp);
    cr_assert_eq(spares_ready(sp), 3);
    cr_assert_eq(clients_of(&server), 1 + 3);
    cr_assert_eq(refill_asked(), 0);
    take_ok(&t, &rc);
    call_text(&rc, "CLIENT INFO", info, sizeof(info));
    cr_assert_not_null(strstr(info, " db=4 "), "the target's db: %s", info);
    cr_assert_not_null(strstr(info, " resp=2"), "RESP2: %s", info);
    cr_assert_eq(spares_ready(sp), 2);
    cr_assert_eq(refill_asked(), 1);
    spares_fill(sp);
    cr_assert_eq(refill_asked(), 0, "the fill took the request");
    cr_assert_eq(spares_ready(sp), 3);
    cr_assert_eq(clients_of(&server), 1 + 3 + 1, "three spares, one taken");
    rconn_close(&rc);
}

Test(spares, want_is_capped_at_16)
{
    struct redis_target t = target_at(server_port, NULL, NULL, 0);

    sp = spares_create(&t, 100);
    cr_assert_not_null(sp);
    spares_fill(sp);
    cr_assert_eq(spares_ready(sp), 16);
    cr_assert_eq(clients_of(&server), 1 + 16);
}

Test(spares, a_spare_redis_closed_is_dropped_when_taken)
{
    struct redis_target t = target_at(server_port, NULL, NULL, 0);
    long long first, second, dead;
    struct rconn a, b;
    redisReply *r;
    char kill[64];

    sp = spares_create(&t, 2);
    cr_assert_not_null(sp);
    spares_fill(sp);
    /* Learn which is which: the one taken first is the newer. */
    take_ok(&t, &a);
    take_ok(&t, &b);
    second = a.redis_id;
    first = b.redis_id;
    cr_assert_gt(second, first);
    rconn_close(&a);
    rconn_close(&b);
    spares_fill(sp);
    cr_assert_eq(spares_ready(sp), 2);
    /* Redis closes the spare on top (the newer of the two new ones). */
    r = redisCommand(server.ctx, "CLIENT LIST TYPE normal");
    cr_assert_not_null(r);
    dead = 0;
    for (const char *p = r->str; (p = strstr(p, "id=")) != NULL; p++) {
        long long id = atoll(p + 3);

        dead = id > dead ? id : dead;
    }
    freeReplyObject(r);
    cr_assert_gt(dead, second);
    snprintf(kill, sizeof(kill), "%lld", dead);
    r = redisCommand(server.ctx, "CLIENT KILL ID %s", kill);
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    cr_assert_eq(clients_of(&server), 1 + 1);
    sleep_ms(50); /* its FIN on its way through loopback */
    take_ok(&t, &a);
    cr_assert_neq(a.redis_id, dead, "the closed one was handed over");
    cr_assert_eq(a.redis_id + 1, dead, "the one below it");
    cr_assert_eq(spares_ready(sp), 0, "the closed one was dropped");
    rconn_close(&a);
}

Test(spares, following_another_target_closes_the_old_spares)
{
    struct redis_target t = target_at(server_port, NULL, NULL, 0), t2;
    struct rconn rc;

    unit_redis_start(&other, 0, NULL);
    t2 = target_at(other.port, NULL, NULL, 0);
    sp = spares_create(&t, 2);
    cr_assert_not_null(sp);
    spares_fill(sp);
    cr_assert_eq(clients_of(&server), 1 + 2);
    spares_follow(sp, &t2);
    cr_assert_eq(spares_ready(sp), 0);
    cr_assert_eq(refill_asked(), 1, "the keeper is woken to open new ones");
    UNIT_AWAIT(5000, clients_of(&server) == 1, "the old spares stay open");
    spares_fill(sp);
    cr_assert_eq(spares_ready(sp), 2);
    cr_assert_eq(clients_of(&other), 1 + 2);
    rconn_init(&rc);
    cr_assert_eq(spares_take(sp, &t, &rc), -1, "none to the old target");
    take_ok(&t2, &rc);
    rconn_close(&rc);
    spares_follow(sp, &t2);
    cr_assert_eq(spares_ready(sp), 1, "the same target: nothing closed");
}

Test(spares, a_fill_to_a_redis_not_there_stops_at_once)
{
    struct redis_target t = target_at(unit_free_port(), NULL, NULL, 0);

    sp = spares_create(&t, 3);
    cr_assert_not_null(sp);
    spares_fill(sp);
    cr_assert_eq(spares_ready(sp), 0);
    spares_destroy(sp);
    sp = spares_create(NULL, 3);
    cr_assert_not_null(sp);
    spares_fill(sp);
    cr_assert_eq(spares_ready(sp), 0, "no target named yet");
}
