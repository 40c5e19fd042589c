/*
 * End-to-end tests of the RESP port on a network it does not trust
 * (docs/security.md), each showing an attack of the security review
 * failing against the built binary and a real redis-server: log lines
 * forged through a command name before authentication.
 *
 * Evidence is what Redis counted (INFO commandstats, keys), what the
 * proxy logged and counted, and what the client received, never timing.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define P "redis_proxy_"
#define PW "Sec-Pw.4Rt9"
#define NOAUTH "-NOAUTH Authentication required.\r\n"
#define LOG_CAP (1 << 20)

H_PAIR_SUITE(security_resp, 60);

/* The proxy's whole log once it has stopped (malloc'd). */
static char *
stopped_log(void)
{
    char *log = malloc(LOG_CAP);

    cr_assert_not_null(log);
    cr_assert_eq(h_proxy_stop(&proxy, log, LOG_CAP), 0);
    return log;
}

/* ---- row 9: log injection ---- */

Test(security_resp, a_command_name_cannot_forge_a_log_line_before_auth)
{
    /* A name whose first 16 bytes (what the access line shows) hold a
     * newline and what a forged line would start with. */
    static const char name[] = "X\nlevel=error m";
    char cmd[128], *log;
    int fd;

    h_start_proxy(
        &proxy, &redis,
        H_OPTS(.ini = "[server]\npassword = " PW "\n[log]\naccess = on\n"));
    fd = h_conn(proxy.resp_port);
    snprintf(cmd, sizeof(cmd), "*1\r\n$%zu\r\n%s\r\n", sizeof(name) - 1, name);
    cr_assert_eq(h_sends(fd, cmd), 0);
    H_EXPECT(fd, NOAUTH);
    close(fd);
    cr_assert(h_await_log(&proxy, "status=401", 3000));
    log = stopped_log();
    cr_assert_null(strstr(log, "\nlevel=error"), "a forged line:\n%s", log);
    cr_assert_not_null(strstr(log, " method=X\\nlevel=error\\x20m status=401"),
                       "the name is not escaped:\n%s", log);
    free(log);
}

/* ---- row 13: HELLO's version ---- */

Test(security_resp, hello_with_a_version_past_long_long_is_redis_error)
{
    static const char *const lines[] = {
        "HELLO 9999999999999999999\r\n",
        "HELLO 9223372036854775808\r\n",
        "HELLO -9223372036854775809\r\n",
        "HELLO 9223372036854775807\r\n",
    };
    char got[512];
    long n;
    size_t i;

    h_start_proxy(&proxy, &redis, NULL);
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        h_expect_same_replies(&redis, &proxy, lines[i], strlen(lines[i]), 1);
    }
    n = h_replies(proxy.resp_port, lines[0], strlen(lines[0]), 1, got,
                  sizeof(got) - 1);
    cr_assert_gt(n, 0);
    got[n] = '\0';
    cr_assert_str_eq(got, "-ERR Protocol version is not an integer or out of "
                          "range\r\n");
}
