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

/* A RESP conn attached to the live proxy's waiter. */
static inline void
sconn_open(struct sconn *sc)
{
    sc->c = unit_conn(&live.px.kinds[PROXY_RESP], &sc->peer);
    cr_assert_eq(waiter_attach(live.px.waiter, sc->c), 0);
    sc->last = SESSION_OK;
}

/* Drops the conn (after its session was closed). */
static inline void
sconn_close(struct sconn *sc)
{
    waiter_drop(live.px.waiter, sc->c);
    close(sc->peer);
}

/* Queues the words of line (a RESP array) on s as kind. */
static inline void
sconn_send(struct session *s, const char *line, enum session_kind kind)
{
    struct resp_command cmd = arr(line);

    cr_assert_eq(session_send(s, &cmd, cmd_buf, kind), 0, "%s", line);
}

/* Pumps s (bounded) until the client has read strlen(want) bytes or the
 * session ended, failed or was lost, and expects them to be want. */
static inline void
sconn_expect(struct sconn *sc, struct session *s, const char *want)
{
    static char got[65536];
    size_t n = strlen(want), len = 0;
    int64_t until = util_now_ms() + CLIENT_WAIT_MS;

    cr_assert_lt(n, sizeof(got));
    while (len < n && util_now_ms() < until) {
        sc->last = session_pump(&live.px, sc->c, s);
        cr_assert_neq(conn_flush(sc->c), CONN_IO_ERR);
        len += client_read_for(sc->peer, got + len, n - len, 1, NULL);
        if (sc->last != SESSION_OK) {
            len += client_read_for(sc->peer, got + len, n - len, 50, NULL);
            break;
        }
    }
    cr_expect(len == n && memcmp(got, want, n) == 0,
              "got %zu bytes '%.*s', want '%s' (pump %d)", len, (int)len, got,
              want, sc->last);
}

/* Pumps s (bounded) until session_pump answers other than SESSION_OK;
 * returns that. */
static inline int
sconn_pump_until_not_ok(struct sconn *sc, struct session *s)
{
    int64_t until = util_now_ms() + CLIENT_WAIT_MS;

    while ((sc->last = session_pump(&live.px, sc->c, s)) == SESSION_OK &&
           util_now_ms() < until) {
        conn_flush(sc->c);
        sleep_ms(1);
    }
    conn_flush(sc->c);
    return sc->last;
}

#endif
