/*
 * rconn_helpers: the fixture shared by the rconn unit tests (test_rconn.c:
 * opening and the handshake; test_rconn_io.c: moving bytes, framing,
 * calls); header-only because each tests/unit/upstream/test_*.c is its
 * own binary.
 *
 * Two kinds of peer: a real redis-server started per test (unit_helpers.h)
 * and a fake one, a listening socket on a free loopback port that the test
 * accepts on and answers (or not) byte by byte (peer_helpers.h). Every wait is
 * bounded (5 s), so a broken rconn fails a test instead of hanging it; the
 * bounds only limit how long a failure takes to show.
 */
#ifndef RP_TEST_RCONN_HELPERS_H
#define RP_TEST_RCONN_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/config.h"
#include "base/util.h"
#include "proto/resp.h"
#include "peer_helpers.h"
#include "unit_helpers.h"
#include "upstream/rconn.h"

static struct unit_redis server;
static int server_port;
static struct config tcfg;
static struct config_ref tref;

/* A target on 127.0.0.1:port with the default timeouts (1 s each; a test
 * changes tcfg to shorten them). */
static inline struct redis_target
target_at(int port, const char *user, const char *password, int db)
{
    struct redis_target t = {
        .host = "127.0.0.1", .port = port, .db = db, .cfg = &tref};

    snprintf(t.user, sizeof(t.user), "%s", user != NULL ? user : "");
    snprintf(t.password, sizeof(t.password), "%s",
             password != NULL ? password : "");
    return t;
}

static inline void
config_setup(void)
{
    config_defaults(&tcfg);
    atomic_init(&tref.cur, &tcfg);
}

/* Starts the test's redis-server (cluster: cluster-enabled) with the
 * arguments in extra (NULL-terminated, or NULL). */
static inline void
start_server(int cluster, const char *const *extra)
{
    config_setup();
    unit_redis_start(&server, cluster, extra);
    server_port = server.port;
}

static inline void
stop_server(void)
{
    unit_redis_stop(&server);
}

/* Opens rc to t with s, blocking; fails the test with the reason. */
static inline void
open_ok(struct rconn *rc, const struct redis_target *t,
        const struct rconn_setup *s)
{
    char err[REDIS_ERR_MAX] = "";

    rconn_init(rc);
    cr_assert_eq(rconn_open(rc, t, s, err), 0, "rconn_open: %s", err);
    cr_assert_eq(rc->state, RCONN_READY);
    cr_assert_eq(rconn_want(rc), RCONN_WANT_NONE);
}

/* A command whose reply is a string or status: its text in out. */
static inline void
call_text(struct rconn *rc, const char *cmd, char *out, size_t cap)
{
    char err[REDIS_ERR_MAX];
    redisReply *r = rconn_call(rc, cmd, err, NULL, cmd);

    cr_assert_not_null(r, "%s: %s", cmd, err);
    cr_assert(r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS,
              "%s: type %d", cmd, r->type);
    snprintf(out, cap, "%s", r->str);
    freeReplyObject(r);
}

/* CLIENT ID of rc. */
static inline long long
client_id(struct rconn *rc)
{
    char err[REDIS_ERR_MAX];
    redisReply *r = rconn_call(rc, "CLIENT ID", err, NULL, "CLIENT ID");
    long long id;

    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER, "%s", err);
    id = r->integer;
    freeReplyObject(r);
    return id;
}

/* Drives an open started with rconn_start by polling for what rconn_want
 * asks, until READY or FAILED. Returns the state. */
static inline enum rconn_state
drive_open(struct rconn *rc)
{
    enum rconn_state st = rc->state;

    for (int i = 0;
         i < 100 && (st == RCONN_CONNECTING || st == RCONN_HANDSHAKE); i++) {
        enum rconn_want w = rconn_want(rc);

        cr_assert(w == RCONN_WANT_READ || w == RCONN_WANT_WRITE,
                  "state %d wants nothing", st);
        wait_fd(rc->fd, w == RCONN_WANT_READ ? POLLIN : POLLOUT);
        st = rconn_step(rc);
    }
    return st;
}

/* Reads until a whole reply is framed (bounded); returns its length, the
 * bytes at *p. */
static inline size_t
next_reply(struct rconn *rc, const char **p)
{
    size_t len = 0;
    int r;

    while ((r = rconn_reply(rc, p, &len)) == RESP_INCOMPLETE) {
        long n = rconn_read(rc);

        cr_assert_geq(n, 0, "rconn_read: %s", rconn_error(rc));
        if (n == 0) {
            wait_fd(rc->fd, POLLIN);
        }
    }
    cr_assert_eq(r, RESP_OK, "rconn_reply: %d (%s)", r, rconn_error(rc));
    return len;
}

/* Writes all of buf[0..len) with rconn_writev, waiting when asked. */
static inline void
write_all(struct rconn *rc, const char *buf, size_t len)
{
    size_t sent = 0;

    while (sent < len) {
        struct iovec v = {(char *)buf + sent, len - sent};
        long n = rconn_writev(rc, &v, 1);

        cr_assert_geq(n, 0, "rconn_writev: %s", rconn_error(rc));
        sent += (size_t)n;
        if (sent < len) {
            cr_assert_eq(rconn_want(rc), RCONN_WANT_WRITE);
            wait_fd(rc->fd, POLLOUT);
        }
    }
}

#endif
