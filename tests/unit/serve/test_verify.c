/*
 * Unit tests of serve/verify, credentials a client gave checked by Redis
 * itself (ACL passthrough), and of resp_state's AUTH and HELLO ... AUTH
 * answered from that check. Against a redis-server of the test's own with
 * ACL users alice and bob (its default user without a password, as the
 * proxy's own): accepted credentials become an identity (none for the
 * proxy's own user), Redis's refusals are its own texts byte for byte
 * (WRONGPASS, and -ERR AUTH <password> called without any password
 * configured for the default user...), a Redis that cannot be reached is
 * a failure saying why, and each outcome is counted. For resp_state: the
 * first answer asks for the check with the command's credentials, the
 * next one is Redis's verdict: +OK and the identity, or Redis's error,
 * the third wrong password closing the connection.
 *
 * The check's connection is stepped here as a worker would when its
 * socket is ready: every millisecond until it is over (at most 3 s).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/config.h"
#include "base/util.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "net/conn.h"
#include "net/waiter.h"
#include "net/workq.h"
#include "serve/proxy.h"
#include "serve/resp_state.h"
#include "serve/verify.h"
#include "upstream/commands.h"
#include "upstream/idents.h"
#include "upstream/nodes.h"
#include "unit_helpers.h"

#define WRONGPASS                                                              \
    "WRONGPASS invalid username-password pair or user is disabled."
#define NOPASS                                                                 \
    "ERR AUTH <password> called without any password configured for the "      \
    "default user. Are you sure your configuration is correct?"

static struct proxy px; /* big (metrics): not on the stack */
static struct config cfg;
static struct cache *cache;
static struct unit_redis server;
static struct conn conn; /* only its fd and waiter tag are read */
static int peer;
static struct resp_state st;

static void
acl(const char *line)
{
    redisReply *r = redisCommand(server.ctx, line);

    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS, "%s", line);
    freeReplyObject(r);
}

static void
setup(void)
{
    int sv[2];

    unit_redis_start(&server, 0, NULL);
    acl("ACL SETUSER alice on >alicepw ~a:* +@all");
    acl("ACL SETUSER bob on >bobpw ~b:* +@read");
    config_defaults(&cfg);
    cfg.cache_tracking = 0;
    cfg.redis_port = server.port;
    atomic_init(&px.cfg.cur, &cfg);
    metrics_init(&px.metrics);
    cache = cache_create(100, 0, 0, NULL);
    px.flights = flights_create(cache);
    px.q = workq_create(16);
    px.waiter = waiter_create(px.q, 16);
    cr_assert_not_null(px.waiter);
    px.nodes = nodes_create(&px.cfg, px.flights, px.waiter, NULL);
    cr_assert_eq(nodes_start(px.nodes), 0);
    px.idents = idents_create(&px.cfg, px.nodes, px.waiter);
    px.commands = commands_create();
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    conn.fd = sv[0];
    peer = sv[1];
    resp_state_init(&st, &px);
}

static void
teardown(void)
{
    resp_state_free(&st);
    close(conn.fd);
    close(peer);
    idents_destroy(px.idents);
    nodes_destroy(px.nodes);
    waiter_destroy(px.waiter);
    workq_destroy(px.q);
    commands_destroy(px.commands);
    flights_destroy(px.flights);
    cache_destroy(cache);
    unit_redis_stop(&server);
}

TestSuite(verify, .init = setup, .fini = teardown, .timeout = 30);

/* Steps v until Redis answered; returns the result. */
static int
settle(struct verify *v)
{
    int64_t end = util_now_ms() + 3000;
    int r;

    while ((r = verify_step(&px, v)) == VERIFY_PENDING && util_now_ms() < end) {
        sleep_ms(1);
    }
    return r;
}

static struct verify *
start(const char *user, const char *pass)
{
    char err[256] = "";
    struct verify *v = verify_start(&px, &conn, user, user ? strlen(user) : 0,
                                    pass, strlen(pass), err);

    cr_assert_not_null(v, "%s", err);
    return v;
}

static long
counted(enum metrics_verify r)
{
    return atomic_load(&px.metrics.verifies[r]);
}

Test(verify, redis_accepts_an_acl_user_as_a_new_identity)
{
    struct verify *v = start("alice", "alicepw");
    struct ident *id;

    cr_assert_eq(verify_result(v), VERIFY_PENDING, "nothing waited for Redis");
    cr_assert_eq(settle(v), VERIFY_OK, "%s", verify_error(v));
    cr_expect_eq(verify_matches(v, "alice", 5, "alicepw", 7), 1);
    cr_expect_eq(verify_matches(v, "alice", 5, "alicepx", 7), 0);
    cr_expect_eq(verify_matches(v, NULL, 0, "alicepw", 7), 0);
    cr_expect_str_eq(verify_user(v), "alice");
    id = verify_take_ident(v);
    cr_assert_not_null(id);
    cr_expect_str_eq(ident_user(id), "alice");
    cr_expect_eq(ident_id(id), 1);
    cr_expect_null(verify_take_ident(v), "once");
    verify_free(&px, v);
    ident_drop(id);
    cr_expect_eq(counted(METRICS_VERIFY_OK), 1);
}

Test(verify, the_proxys_own_user_needs_no_identity)
{
    struct verify *v = start("default", "anything");
    struct idents_stats is;

    cr_assert_eq(settle(v), VERIFY_OK, "%s", verify_error(v));
    cr_expect_null(verify_take_ident(v));
    verify_free(&px, v);
    idents_stats(px.idents, &is);
    cr_expect_eq(is.known, 0);
}

Test(verify, redis_refusals_are_its_own_texts)
{
    struct verify *v = start("alice", "wrong");

    cr_assert_eq(settle(v), VERIFY_REFUSED);
    cr_expect_str_eq(verify_error(v), WRONGPASS);
    cr_expect_eq(verify_wrong_password(v), 1);
    verify_free(&px, v);
    v = start("nobody", "x");
    cr_assert_eq(settle(v), VERIFY_REFUSED);
    cr_expect_str_eq(verify_error(v), WRONGPASS);
    verify_free(&px, v);
    v = start(NULL, "x");
    cr_assert_eq(settle(v), VERIFY_REFUSED);
    cr_expect_str_eq(verify_error(v), NOPASS);
    cr_expect_eq(verify_wrong_password(v), 0, "no password, not a wrong one");
    verify_free(&px, v);
    cr_expect_eq(counted(METRICS_VERIFY_REFUSED), 3);
    cr_expect_eq(counted(METRICS_VERIFY_OK), 0);
}

Test(verify, a_redis_that_cannot_be_reached_is_a_failure_saying_why)
{
    struct verify *v;

    unit_redis_stop(&server);
    v = start("alice", "alicepw");
    cr_assert_eq(settle(v), VERIFY_FAILED);
    cr_expect_not_null(strstr(verify_error(v), "Connection refused"), "%s",
                       verify_error(v));
    cr_expect_null(verify_take_ident(v));
    verify_free(&px, v);
    cr_expect_eq(counted(METRICS_VERIFY_FAILED), 1);
}

Test(verify, credentials_too_long_to_send_do_not_start)
{
    char longer[300], err[256] = "";

    memset(longer, 'x', sizeof(longer));
    cr_expect_null(
        verify_start(&px, &conn, "alice", 5, longer, sizeof(longer), err));
    cr_expect_neq(err[0], '\0');
    cr_expect_null(verify_start(&px, &conn, "alice", 5, "", 0, err));
}

/* ---- resp_state's AUTH from the check ---- */

static char reply[4096];
static int status;

/* Answers argv (argc words); the reply (or "") in reply. */
static int
answer(const char *const *words, size_t argc)
{
    static struct resp_arg argv[8]; /* ask_user, ask_pass point here */
    char *out;
    size_t len;
    int effect;

    for (size_t i = 0; i < argc; i++) {
        argv[i] = (struct resp_arg){words[i], strlen(words[i])};
    }
    effect =
        resp_state_answer(&px, &conn, &st, argv, argc, &out, &len, &status);
    cr_assert_geq(effect, 0);
    if (len > 0) {
        memcpy(reply, out, len);
    }
    reply[len] = '\0';
    free(out);
    return effect;
}

#define ANSWER(...)                                                            \
    answer((const char *const[]){__VA_ARGS__},                                 \
           sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

/* The check resp_state asked for, run to its end. */
static struct verify *
checked(void)
{
    const struct resp_arg *u = st.ask_user, *p = st.ask_pass;
    char user[64] = "", pass[64] = "";
    struct verify *v;

    cr_assert_not_null(p);
    snprintf(pass, sizeof(pass), "%.*s", (int)p->len, p->p);
    if (u != NULL) {
        snprintf(user, sizeof(user), "%.*s", (int)u->len, u->p);
    }
    v = start(u != NULL ? user : NULL, pass);
    settle(v);
    st.vf = v;
    return v;
}

Test(verify, auth_asks_redis_first_then_answers_its_verdict)
{
    struct verify *v;

    cr_assert_eq(ANSWER("AUTH", "alice", "alicepw"), STATE_VERIFY);
    cr_expect_str_eq(reply, "", "no answer before Redis's");
    cr_assert(st.ask_user != NULL && st.ask_user->len == 5);
    v = checked();
    cr_assert_eq(ANSWER("AUTH", "alice", "alicepw"), STATE_AUTHED);
    cr_expect_str_eq(reply, "+OK\r\n");
    cr_assert_not_null(st.ident);
    cr_expect_str_eq(ident_user(st.ident), "alice");
    cr_expect_str_eq(st.user, "alice");
    verify_free(&px, v);
    st.vf = NULL;
    /* Another AUTH: asked again (a verdict is for its own credentials). */
    cr_assert_eq(ANSWER("AUTH", "bob", "bobpw"), STATE_VERIFY);
    v = checked();
    cr_assert_eq(ANSWER("AUTH", "alice", "alicepw"), STATE_VERIFY,
                 "bob's verdict is not alice's");
    cr_assert_eq(ANSWER("AUTH", "bob", "bobpw"), STATE_AUTHED);
    cr_expect_str_eq(ident_user(st.ident), "bob");
    verify_free(&px, v);
}

Test(verify, hello_auth_switches_protocol_and_identity)
{
    struct verify *v;

    cr_assert_eq(ANSWER("HELLO", "3", "AUTH", "bob", "bobpw"), STATE_VERIFY);
    v = checked();
    cr_assert_eq(ANSWER("HELLO", "3", "AUTH", "bob", "bobpw"), STATE_PROTO);
    cr_expect_eq(strncmp(reply, "%7\r\n", 4), 0, "%s", reply);
    cr_expect_eq(st.proto, 3);
    cr_expect_str_eq(ident_user(st.ident), "bob");
    verify_free(&px, v);
}

Test(verify, refusals_are_relayed_and_the_third_wrong_password_closes)
{
    struct verify *v;

    cr_assert_eq(ANSWER("AUTH", "x"), STATE_VERIFY);
    v = checked();
    cr_assert_eq(ANSWER("AUTH", "x"), STATE_NONE);
    cr_expect_str_eq(reply, "-" NOPASS "\r\n");
    cr_expect_eq(status, 400);
    verify_free(&px, v);
    st.vf = NULL;
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_RESP]), 0,
                 "no password configured is no wrong password");
    for (int i = 1; i <= 3; i++) {
        cr_assert_eq(ANSWER("AUTH", "alice", "nope"), STATE_VERIFY);
        v = checked();
        cr_assert_eq(ANSWER("AUTH", "alice", "nope"),
                     i < 3 ? STATE_NONE : STATE_CLOSE, "try %d", i);
        cr_expect_str_eq(reply, "-" WRONGPASS "\r\n");
        cr_expect_eq(status, 401);
        cr_expect_null(st.ident, "a refused AUTH changes nothing");
        verify_free(&px, v);
        st.vf = NULL;
    }
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_RESP]), 3);
}

Test(verify, a_failed_check_is_redis_unavailable)
{
    struct verify *v;

    unit_redis_stop(&server);
    cr_assert_eq(ANSWER("AUTH", "alice", "alicepw"), STATE_VERIFY);
    v = checked();
    cr_assert_eq(ANSWER("AUTH", "alice", "alicepw"), STATE_NONE);
    cr_expect_eq(strncmp(reply, "-ERR redis unavailable: connect to", 34), 0,
                 "%s", reply);
    cr_expect_eq(status, 503);
    verify_free(&px, v);
}
