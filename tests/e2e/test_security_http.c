/*
 * End-to-end tests of the HTTP data port and the admin port on a network
 * they do not trust (docs/security.md), each showing an attack of the
 * security review failing against the built binary and a real
 * redis-server: DNS rebinding (a Host that is not the proxy's) and CORS
 * for foreign origins, PUT bodies read before the credentials, framing
 * the dashboard.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P "redis_proxy_"
#define PW "Sec-Pw.4Rt9"

H_PAIR_SUITE(security_http, 60);

/* ---- row 15: the dashboard in a frame ---- */

Test(security_http, the_dashboard_refuses_to_be_framed)
{
    struct h_resp r = {0};

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    cr_assert_eq(h_http_get(proxy.admin_port, "/", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(h_hdr(&r, "X-Frame-Options"), "DENY");
    cr_assert_str_eq(h_hdr(&r, "Content-Security-Policy"),
                     "frame-ancestors 'none'");
    h_resp_free(&r);
}

/* Sends raw on a fresh connection to port and reads one response. */
static void
raw_request(int port, const char *raw, struct h_resp *r)
{
    int fd = h_conn(port);

    cr_assert_eq(h_sends(fd, raw), 0);
    cr_assert_eq(h_read_resp(fd, r, 0, 3000), 0, "no response to %s", raw);
    close(fd);
}

/* The status of "GET path" with Host host (and extra lines) on port. */
static int
status_for_host(int port, const char *path, const char *host, const char *extra)
{
    char req[512];
    struct h_resp r = {0};
    int status;

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path,
             host, extra != NULL ? extra : "");
    raw_request(port, req, &r);
    status = r.status;
    h_resp_free(&r);
    return status;
}

/* Redis's value of key, or "(nil)" (a static buffer). */
static const char *
redis_value(const char *key)
{
    static char out[256];
    redisContext *c = h_redis_ctx(&redis);
    redisReply *rep;

    cr_assert_not_null(c);
    rep = redisCommand(c, "GET %s", key);
    cr_assert_not_null(rep);
    snprintf(out, sizeof(out), "%s",
             rep->type == REDIS_REPLY_STRING ? rep->str : "(nil)");
    freeReplyObject(rep);
    redisFree(c);
    return out;
}

/* ---- row 6: DNS rebinding, and CORS for foreign origins ---- */

Test(security_http, without_a_password_a_rebound_name_is_refused)
{
    char host[64], req[512];
    struct h_resp r = {0};
    int h, a;

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.admin = 1, .ini = "[http]\nwrites = on\n"));
    h = proxy.http_port;
    a = proxy.admin_port;
    /* The page of the review: its name rebound to 127.0.0.1. */
    snprintf(req, sizeof(req),
             "PUT /pwned HTTP/1.1\r\nHost: evil.example:%d\r\n"
             "Content-Length: 3\r\n\r\nyes",
             h);
    raw_request(h, req, &r);
    cr_assert_eq(r.status, 421, "PUT from a rebound name: %d", r.status);
    h_resp_free(&r);
    cr_assert_str_eq(redis_value("pwned"), "(nil)", "the PUT was applied");
    snprintf(host, sizeof(host), "evil.example:%d", h);
    cr_assert_eq(status_for_host(h, "/k", host, NULL), 421);
    cr_assert_eq(status_for_host(h, "/k", "EVIL.example", NULL), 421);
    cr_assert_eq(status_for_host(a, "/metrics", host, NULL), 421);
    cr_assert_eq(status_for_host(a, "/", host, NULL), 421);
    cr_assert_eq(status_for_host(a, "/key/k", host, NULL), 421);
    /* The proxy's own names: loopback and the bind address. */
    snprintf(host, sizeof(host), "localhost:%d", h);
    cr_assert_eq(status_for_host(h, "/k", host, NULL), 200);
    cr_assert_eq(status_for_host(h, "/k", "LocalHost.", NULL), 200);
    cr_assert_eq(status_for_host(h, "/k", "127.0.0.1", NULL), 200);
    snprintf(host, sizeof(host), "[::1]:%d", h);
    cr_assert_eq(status_for_host(h, "/k", host, NULL), 200);
    cr_assert_eq(status_for_host(a, "/metrics", "127.0.0.1", NULL), 200);
    /* Probes answer whatever name the prober uses. */
    cr_assert_eq(status_for_host(a, "/healthz", "10.1.2.3:8081", NULL), 200);
    cr_assert_eq(status_for_host(a, "/readyz", "pod.example", NULL), 200);
    /* An HTTP/1.0 client that sends no Host is no browser. */
    raw_request(h, "GET /k HTTP/1.0\r\n\r\n", &r);
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    cr_assert_eq(h_metric(&proxy, P "requests_total{listener=\"http\","
                                    "class=\"4xx\"}"),
                 3);
}

Test(security_http, allowed_hosts_names_more_of_the_proxys_names)
{
    int h;

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.admin = 1, .ini = "[http]\nallowed_hosts = "
                                            "proxy.internal, .svc.example\n"));
    h = proxy.http_port;
    cr_assert_eq(status_for_host(h, "/k", "proxy.internal:80", NULL), 200);
    cr_assert_eq(status_for_host(h, "/k", "PROXY.internal", NULL), 200);
    cr_assert_eq(status_for_host(h, "/k", "svc.example", NULL), 200);
    cr_assert_eq(status_for_host(h, "/k", "a.b.svc.example", NULL), 200);
    cr_assert_eq(status_for_host(h, "/k", "proxy.internal.evil", NULL), 421);
    cr_assert_eq(status_for_host(h, "/k", "evilsvc.example", NULL), 421);
    cr_assert_eq(status_for_host(h, "/k", "internal", NULL), 421);
    cr_assert_eq(
        status_for_host(proxy.admin_port, "/stats.json", "x.svc.example", NULL),
        200);
}

Test(security_http, only_the_dashboards_own_origin_may_read_answers)
{
    char extra[256], host[64];
    struct h_resp r = {0};

    h_set(&redis, "k", "v");
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.admin = 1, .ini = "[server]\npassword = " PW "\n"));
    /* With a password any Host is answered, but a foreign origin never
     * gets Access-Control-Allow-Origin, even one that names itself. */
    snprintf(host, sizeof(host), "evil.example:%d", proxy.http_port);
    snprintf(extra, sizeof(extra),
             "Host: %s\r\nOrigin: http://evil.example:%d\r\n"
             "Authorization: Bearer " PW "\r\n",
             host, proxy.admin_port);
    {
        char req[512];

        snprintf(req, sizeof(req), "GET /k HTTP/1.1\r\n%s\r\n", extra);
        raw_request(proxy.http_port, req, &r);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(h_hdr(&r, "Access-Control-Allow-Origin"), "(none)");
        h_resp_free(&r);
        /* The dashboard's own origin still may. */
        snprintf(req, sizeof(req),
                 "GET /k HTTP/1.1\r\nHost: localhost:%d\r\nOrigin: "
                 "http://localhost:%d\r\nAuthorization: Bearer " PW "\r\n\r\n",
                 proxy.http_port, proxy.admin_port);
        raw_request(proxy.http_port, req, &r);
        cr_assert_eq(r.status, 200);
        snprintf(host, sizeof(host), "http://localhost:%d", proxy.admin_port);
        cr_assert_str_eq(h_hdr(&r, "Access-Control-Allow-Origin"), host);
        h_resp_free(&r);
    }
}

/* ---- row 3: PUT bodies before the credentials ---- */

#define PUTS 40
#define BODY (1 << 20)

Test(security_http, a_put_body_is_never_read_before_the_credentials_pass)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char head[256], got[64], *body = malloc(BODY);
    int fds[PUTS], fd, i;
    struct h_resp r = {0};
    long before, after;

    cr_assert_not_null(body);
    memset(body, 'b', BODY);
    h_start_proxy(&proxy, &redis,
                  H_OPTS(.admin = 1, .ini = "[server]\npassword = " PW
                                            "\n[http]\nwrites = on\n"
                                            "max_body = 2mb\n"));
    /* The review's attack: PUTs without credentials whose bodies keep
     * coming; each would be held until complete. */
    snprintf(head, sizeof(head),
             "PUT /big HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n"
             "\r\n",
             BODY);
    before = h_proc_rss_kib(proxy.pid);
    for (i = 0; i < PUTS; i++) {
        fds[i] = h_conn(proxy.http_port);
        cr_assert_eq(h_sends(fds[i], head), 0);
        (void)h_send(fds[i], body, BODY - 1); /* fails once refused */
    }
    after = h_proc_rss_kib(proxy.pid);
    for (i = 0; i < PUTS; i++) {
        cr_assert(h_wait_closed(fds[i], 3000), "PUT %d still open", i);
        close(fds[i]);
    }
    if (!h_proc_sanitized(proxy.pid)) {
        cr_assert_lt(after - before, 8 << 10,
                     "RSS %ld -> %ld KiB: bodies were held before the "
                     "credentials were checked",
                     before, after);
    }
    cr_assert_eq(h_redis_calls(&redis, "set"), 0, "a PUT reached Redis");

    /* Expect: 100-continue: the refusal comes instead of the 100. */
    fd = h_conn(proxy.http_port);
    cr_assert_eq(h_sends(fd, "PUT /k HTTP/1.1\r\nHost: localhost\r\n"
                             "Content-Length: 5\r\nExpect: 100-continue\r\n"
                             "\r\n"),
                 0);
    cr_assert_eq(h_read_resp(fd, &r, 0, 3000), 0);
    cr_assert_eq(r.status, 401);
    cr_assert_str_eq(h_hdr(&r, "Connection"), "close");
    h_resp_free(&r);
    cr_assert(h_wait_closed(fd, 3000));
    close(fd);

    /* With the credentials: the 100, then the body, then 204. */
    fd = h_conn(proxy.http_port);
    cr_assert_eq(h_sends(fd, "PUT /k HTTP/1.1\r\nHost: localhost\r\n"
                             "Authorization: Bearer " PW "\r\n"
                             "Content-Length: 5\r\nExpect: 100-continue\r\n"
                             "\r\n"),
                 0);
    cr_assert_eq(h_recv_n(fd, got, sizeof(cont) - 1, 3000), 0, "no 100");
    cr_assert_eq(memcmp(got, cont, sizeof(cont) - 1), 0);
    cr_assert_eq(h_sends(fd, "hello"), 0);
    cr_assert_eq(h_read_resp(fd, &r, 0, 3000), 0);
    cr_assert_eq(r.status, 204);
    h_resp_free(&r);
    close(fd);
    cr_assert_str_eq(redis_value("k"), "hello");

    /* A small body without credentials is skipped: the connection goes
     * on with the next request. */
    fd = h_conn(proxy.http_port);
    cr_assert_eq(h_sends(fd, "PUT /k HTTP/1.1\r\nHost: localhost\r\n"
                             "Content-Length: 5\r\n\r\nWRONG"),
                 0);
    cr_assert_eq(h_read_resp(fd, &r, 0, 3000), 0);
    cr_assert_eq(r.status, 401);
    h_resp_free(&r);
    cr_assert_eq(h_http_do(fd, "GET", "/k", "Authorization: Bearer " PW "\r\n",
                           NULL, 0, &r, 3000),
                 0);
    h_check(&r, "GET after a refused PUT", 200, "hello", NULL);
    h_resp_free(&r);
    close(fd);
    cr_assert_str_eq(redis_value("k"), "hello");
    free(body);
}

/* ---- row 4: the admin port under a connection flood ---- */

#define FLOOD 64 /* the admin port's own budget (PROXY_ADMIN_CONNS) */

/* A GET of path on a fresh admin connection: its status. */
static int
admin_status(const char *path, const char *extra)
{
    struct h_resp r = {0};
    int fd = h_conn(proxy.admin_port), status;

    cr_assert_eq(h_http_do(fd, "GET", path, extra, NULL, 0, &r, 3000), 0,
                 "no answer to %s", path);
    status = r.status;
    h_resp_free(&r);
    close(fd);
    return status;
}

Test(security_http, admin_probes_are_answered_under_a_connection_flood)
{
    int idle[FLOOD], refused[FLOOD], i, fd;
    struct h_resp r = {0};
    double room;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.admin = 1, .ini = "[server]\npassword = " PW
                                            "\nrequest_timeout = 1s\n"));
    /* Connections that never send a byte take the whole budget. */
    for (i = 0; i < FLOOD; i++) {
        idle[i] = h_conn(proxy.admin_port);
    }
    cr_assert_eq(admin_status("/healthz", NULL), 200);
    cr_assert_eq(admin_status("/readyz", NULL), 200);
    /* Then connections that asked without the password and stay. */
    for (i = 0; i < FLOOD; i++) {
        refused[i] = h_conn(proxy.admin_port);
        cr_assert_eq(
            h_http_do(refused[i], "GET", "/metrics", NULL, NULL, 0, &r, 3000),
            0, "connection %d", i);
        cr_assert_eq(r.status, 401);
        h_resp_free(&r);
    }
    cr_assert_eq(admin_status("/healthz", NULL), 200);
    cr_assert_eq(admin_status("/readyz", NULL), 200);
    cr_assert_eq(admin_status("/metrics", "Authorization: Bearer " PW "\r\n"),
                 200);
    fd = h_conn(proxy.admin_port);
    cr_assert_eq(h_http_do(fd, "GET", "/metrics",
                           "Authorization: Bearer " PW "\r\n", NULL, 0, &r,
                           3000),
                 0);
    room = h_prom_value(r.body,
                        P "connections_closed_total{reason=\"admin_room\"}");
    h_resp_free(&r);
    close(fd);
    cr_assert_geq(room, FLOOD, "%g made room", room);
    /* The flood's oldest were the ones closed. */
    for (i = 0; i < FLOOD; i++) {
        cr_assert(h_wait_closed(idle[i], 3000), "idle %d still open", i);
        close(idle[i]);
        close(refused[i]);
    }
}

Test(security_http, an_admin_connection_must_send_within_request_timeout)
{
    int fd, used;
    struct h_resp r = {0};

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.admin = 1, .ini = "[server]\nrequest_timeout = 1s\n"
                                            "idle_timeout = 1h\n"));
    fd = h_conn(proxy.admin_port);
    used = h_conn(proxy.admin_port);
    h_roundtrip(used, H_REQ("/healthz"), &r, 0);
    h_resp_free(&r);
    cr_assert(h_wait_closed(fd, 4000), "silent for 4 s and still open");
    /* One that has sent a request is idle: idle_timeout applies. */
    cr_assert(!h_wait_closed(used, 10), "a used connection was closed");
    close(fd);
    close(used);
}
