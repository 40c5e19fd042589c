/*
 * session_helpers: a session driven by the test as a conn's owner drives
 * it (respd's pump): a conn on a socketpair attached to the live proxy's
 * waiter (its session's socket is watched under it), commands queued with
 * session_send, and session_pump called until the client's end has read
 * what the test expects, each reply relayed byte for byte. Shared by the
 * unit tests of serve/session and serve/multi_wait; header-only because
 * each tests/unit/serve/test_*.c is its own binary. Include after
 * live_helpers.h and cmd_helpers.h.
 */
#ifndef RP_TEST_SESSION_HELPERS_H
#define RP_TEST_SESSION_HELPERS_H

#include <criterion/criterion.h>
#include <string.h>

#include "serve/session.h"

/* The conn a session belongs to, and the client's end of it. */
struct sconn {
    struct conn *c;
    int peer;
    int last; /* session_pump's last answer */
};

/* The test's conn and its session (NULL when none is open): closed by
 * sconn_down, a suite's .fini. */
static struct sconn sc;
static struct session *s;

/* A RESP conn attached to the live proxy's waiter. */
static inline void
sconn_open(struct sconn *on)
{
    on->c = unit_conn(&live.px.kinds[PROXY_RESP], &on->peer);
    cr_assert_eq(waiter_attach(live.px.waiter, on->c), 0);
    on->last = SESSION_OK;
}

/* Drops the conn (after its session was closed). */
static inline void
sconn_close(struct sconn *on)
{
    waiter_drop(live.px.waiter, on->c);
    close(on->peer);
}

/* Closes the test's session and conn, then stops the proxy. */
static inline void
sconn_down(void)
{
    if (s != NULL) {
        session_close(&live.px, s);
        s = NULL;
    }
    if (sc.c != NULL) {
        sconn_close(&sc);
        sc.c = NULL;
    }
    live_down();
}

/* Queues the words of line (a RESP array) on s as kind. */
static inline void
sconn_send(struct session *on, const char *line, enum session_kind kind)
{
    struct resp_command cmd = arr(line);

    cr_assert_eq(session_send(on, &cmd, cmd_buf, kind), 0, "%s", line);
}

/* Pumps s (bounded) until the client has read strlen(want) bytes or the
 * session ended, failed or was lost, and expects them to be want. */
static inline void
sconn_expect(struct sconn *on, struct session *ses, const char *want)
{
    static char got[65536];
    size_t n = strlen(want), len = 0;
    int64_t until = util_now_ms() + CLIENT_WAIT_MS;

    cr_assert_lt(n, sizeof(got));
    while (len < n && util_now_ms() < until) {
        on->last = session_pump(&live.px, on->c, ses);
        cr_assert_neq(conn_flush(on->c), CONN_IO_ERR);
        len += client_read_for(on->peer, got + len, n - len, 1, NULL);
        if (on->last != SESSION_OK) {
            len += client_read_for(on->peer, got + len, n - len, 50, NULL);
            break;
        }
    }
    cr_expect(len == n && memcmp(got, want, n) == 0,
              "got %zu bytes '%.*s', want '%s' (pump %d)", len, (int)len, got,
              want, on->last);
}

/* Pumps s (bounded) until session_pump answers other than SESSION_OK;
 * returns that. */
static inline int
sconn_pump_until_not_ok(struct sconn *on, struct session *ses)
{
    int64_t until = util_now_ms() + CLIENT_WAIT_MS;

    while ((on->last = session_pump(&live.px, on->c, ses)) == SESSION_OK &&
           util_now_ms() < until) {
        conn_flush(on->c);
        sleep_ms(1);
    }
    conn_flush(on->c);
    return on->last;
}

#endif
