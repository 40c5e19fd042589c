/*
 * End-to-end test of the connection state in cluster mode (issue 18,
 * harness_cluster.h): after HELLO 3, SELECT other than 0 is refused as
 * before and SELECT 0 accepted, CLIENT SETNAME/GETNAME are answered by
 * the proxy, and GET is served from the cache in RESP3 (nil as `_`), all
 * without a session, across the three masters.
 *
 * Expected to fail until the rewrite lands: the test stops at HELLO 3
 * (-NOPROTO unsupported protocol version).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness_cluster.h"

#define P "redis_proxy_"

H_CLUSTER_SUITE(select_cluster, 120);

Test(select_cluster, resp3_select_and_names_without_a_session)
{
    int m[H_CLUSTER_MASTERS], fd;
    char key[H_CLUSTER_MASTERS][64], want[128];

    h_cl_masters(&cluster, m);
    for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
        h_cl_key_on(&cluster, m[i], "sel:", key[i], sizeof(key[i]));
        h_cl_set(&cluster, m[i], key[i], key[i]);
    }
    h_cl_proxy(&proxy, &cluster, H_OPTS(.admin = 1));
    fd = h_conn(proxy.resp_port);
    h_hello(fd, 3);
    H_CL_EXPECT(fd, "-ERR SELECT is not allowed in cluster mode\r\n", "SELECT",
                "1");
    H_CL_EXPECT(fd, "+OK\r\n", "SELECT", "0");
    H_CL_EXPECT(fd, "_\r\n", "CLIENT", "GETNAME");
    H_CL_EXPECT(fd, "+OK\r\n", "CLIENT", "SETNAME", "cl-app");
    H_CL_EXPECT(fd, "$6\r\ncl-app\r\n", "CLIENT", "GETNAME");
    H_CL_EXPECT(fd, "+OK\r\n", "CLIENT", "SETINFO", "lib-name", "x");
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < H_CLUSTER_MASTERS; i++) {
            snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(key[i]),
                     key[i]);
            H_CL_EXPECT(fd, want, "GET", key[i]);
        }
    }
    H_CL_EXPECT(fd, "_\r\n", "GET", "sel:nosuch");
    cr_assert_eq(
        h_await_metric(&proxy, P "cache_hits_total", H_CLUSTER_MASTERS, 2000),
        H_CLUSTER_MASTERS);
    cr_assert_eq(h_metric(&proxy, P "sessions_total"), 0);
    close(fd);
}
