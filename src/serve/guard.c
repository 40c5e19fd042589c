/*
 * guard: the RESP port's rules before and around authentication; see
 * guard.h.
 */
#include "serve/guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "base/hash.h"
#include "base/log.h"
#include "base/ratelimit.h"
#include "base/util.h"
#include "serve/auth.h"
#include "serve/proxy.h"

int
guard_let_in(const struct proxy *px, int authed)
{
    return authed || !auth_required(px);
}

void
guard_parser(const struct proxy *px, struct resp_parser *ps, int authed)
{
    ps->preauth = !guard_let_in(px, authed);
}

/* The peer's address as text ("1.2.3.4:5678", "[::1]:5678") into buf, and
 * a hash of the address alone (the port aside) into *key. */
static void
peer_of(int fd, char *buf, size_t len, uint64_t *key)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    *key = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
            *key = hash_bytes(0, &a->sin_addr, sizeof(a->sin_addr));
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
            *key = hash_bytes(0, &a->sin6_addr, sizeof(a->sin6_addr));
        }
    }
    snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host,
             port);
}

int
guard_http_on_resp(struct proxy *px, struct conn *c,
                   const struct resp_command *cmd)
{
    char peer[INET6_ADDRSTRLEN + 16];
    uint64_t key;

    if (!resp_is_http(cmd)) {
        return 0;
    }
    conn_abort(c);
    atomic_fetch_add_explicit(&px->metrics.closed[METRICS_CLOSE_HTTP_ON_RESP],
                              1, memory_order_relaxed);
    peer_of(c->fd, peer, sizeof(peer), &key);
    if (ratelimit_source(&px->http_on_resp_log, key, util_now_ms(),
                         GUARD_HTTP_LOG_INTERVAL)) {
        log_warn("msg=\"possible security attack: an HTTP request (POST or "
                 "Host:) sent to the RESP port, as a web page can make a "
                 "browser do; connection closed\" client=%s",
                 peer);
    }
    return 1;
}

int
guard_wrong_password(struct proxy *px, struct guard *g, const char *user,
                     size_t ulen)
{
    auth_failed(px, METRICS_RESP, user, ulen);
    if (++g->wrong_passwords < GUARD_AUTH_TRIES) {
        return 0;
    }
    atomic_fetch_add_explicit(&px->metrics.closed[METRICS_CLOSE_AUTH], 1,
                              memory_order_relaxed);
    return 1;
}
