/*
 * End-to-end tests of the HTTP data port and the admin port on a network
 * they do not trust (docs/security.md), each showing an attack of the
 * security review failing against the built binary and a real
 * redis-server: framing the dashboard.
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
