/*
 * End-to-end test with a real client library: client_lib.py (redis-py,
 * Debian's python3-redis, run by /usr/bin/python3) uses the proxy's
 * resp_port for pipelines, transactions (with a WATCH another client
 * breaks), pub/sub, blocking pops and scan_iter; this test checks the
 * script's exit status and every line it prints, and what Redis counted.
 * Skipped, saying so, only where that interpreter has no redis module.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PYTHON "/usr/bin/python3"

H_PAIR_SUITE(client_lib, 60);

/* client_lib.py beside this file (the tests run from the repository). */
static void
script_path(char *out, size_t cap)
{
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash != NULL ? (int)(slash - __FILE__) : 0;

    snprintf(out, cap, "%.*s%sclient_lib.py", dir, __FILE__,
             slash != NULL ? "/" : "");
}

/* Runs cmd (stderr with stdout, 45 s at most); output into out. Returns
 * the exit status, or -1. */
static int
run(const char *cmd, char *out, size_t cap)
{
    char full[1024];
    size_t n = 0, r;
    FILE *f;
    int st;

    snprintf(full, sizeof(full), "timeout -s KILL 45 %s 2>&1 </dev/null", cmd);
    f = popen(full, "r");
    cr_assert_not_null(f);
    while (n + 1 < cap && (r = fread(out + n, 1, cap - 1 - n, f)) > 0) {
        n += r;
    }
    out[n] = '\0';
    st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(client_lib, redis_py_pipelines_transactions_pubsub_blocking_and_scan)
{
    static const char want[] = "ok pipelines\nok transactions\nok watch\n"
                               "ok pubsub\nok blocking\nok scan_iter\n"
                               "ok errors_and_bytes\nall ok\n";
    char path[512], cmd[1024], out[16384];
    int rc;

    if (access(PYTHON, X_OK) != 0 ||
        run(PYTHON " -c 'import redis'", out, sizeof(out)) != 0) {
        cr_skip_test("%s has no redis module (Debian: apt-get install "
                     "python3-redis): %s",
                     PYTHON, out);
    }
    script_path(path, sizeof(path));
    cr_assert_eq(access(path, R_OK), 0, "%s not found (cwd must be the repo)",
                 path);
    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    snprintf(cmd, sizeof(cmd), PYTHON " %s %d %d", path, proxy.resp_port,
             redis.port);
    rc = run(cmd, out, sizeof(out));
    cr_assert_eq(rc, 0, "the script exited %d:\n%s", rc, out);
    cr_assert_str_eq(out, want);
    /* It ran through the proxy: transactions and pub/sub on sessions (a
     * connection stays one, and redis-py reuses its connections), the
     * second read of pl:0..4 from the cache. */
    cr_assert_geq(h_metric(&proxy, "redis_proxy_sessions_total"), 2);
    cr_assert_geq(h_metric(&proxy, "redis_proxy_cache_hits_total"), 4);
    cr_assert_eq(h_await_metric(&proxy, "redis_proxy_sessions_open", 0, 3000),
                 0);
    cr_assert_eq(h_redis_calls(&redis, "exec"), 3);
}
