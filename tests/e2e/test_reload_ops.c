/*
 * End-to-end tests of what a reload does besides applying live keys: keys
 * that need a restart (http_port, workers, pool_size, Redis's port) are
 * logged as not applied and keep their running values while the live
 * keys of the same file are applied; an invalid file (a syntax error, an
 * unknown section or key, a bad value, listeners on one port, no file at
 * all) changes nothing, is logged with the FILE:LINE error that -t prints
 * for it and counted as failed, and the next valid file is applied; -s
 * overrides win over the file again on every reload; and with
 * $NOTIFY_SOCKET, each reload is reported as RELOADING=1 with
 * MONOTONIC_USEC, then READY=1.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "reload_util.h"

#define P "redis_proxy_"
#define IO_MS 3000
#define OK_SERIES P "config_reloads_total{result=\"ok\"}"
#define FAILED_SERIES P "config_reloads_total{result=\"failed\"}"
/* Lines rl_write_ini writes before the test's: [server] bind http_port
 * resp_port, [redis] host port, [admin] port. */
#define INI_OWN_LINES 9

static struct h_notify notify; /* opened by a test, closed after it */
static struct h_redis redis;
static struct h_proxy proxy;

static void
setup(void)
{
    memset(&notify, 0, sizeof(notify));
    h_pair_setup(&redis, &proxy);
}

static void
teardown(void)
{
    h_pair_teardown(&redis, &proxy);
    h_notify_close(&notify);
}

TestSuite(reload_ops, .init = setup, .fini = teardown, .timeout = 60);

/* The Cache-Control of a fresh fill of key (set in Redis first). */
static void
fill_max_age(const char *key, char *out, size_t cap)
{
    struct h_resp r = {0};
    char path[64];

    snprintf(path, sizeof(path), "/%s", key);
    h_set(&redis, key, "v");
    cr_assert_eq(h_http_get(proxy.http_port, path, &r), 0);
    h_check(&r, path, 200, "v", "MISS");
    snprintf(out, cap, "%s", h_hdr(&r, "Cache-Control"));
    h_resp_free(&r);
}

/* A fresh fill is announced with the TTL ttl_s (or a second less, as
 * max-age counts whole seconds left). */
static void
expect_ttl(const char *key, int ttl_s)
{
    char got[64], a[32], b[32];

    fill_max_age(key, got, sizeof(got));
    snprintf(a, sizeof(a), "max-age=%d", ttl_s);
    snprintf(b, sizeof(b), "max-age=%d", ttl_s - 1);
    cr_assert(strcmp(got, a) == 0 || strcmp(got, b) == 0,
              "%s: %s, want a TTL of %d s", key, got, ttl_s);
}

/* A loopback port nobody listens on (bound and closed again). */
static int
unused_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- keys that need a restart ---- */

/*
 * One file changes http_port, workers, pool_size and Redis's port (all
 * restart-only) and the TTL: each restart-only key is logged as not
 * applied with its running and file values, the TTL as changed; the
 * proxy still answers on its old port (nothing listens on the new one),
 * still reads the same Redis, with 8 workers and a pool of 8, and new
 * fills get the new TTL. The same file again logs the same keys again.
 */
Test(reload_ops, restart_keys_not_applied_live_keys_applied)
{
    static const char extra[] =
        "[server]\nworkers = 3\n[redis]\npool_size = 2\n"
        "[cache]\nttl = 5s\n";
    int new_http = unused_port(), other_redis = unused_port();
    struct rl_ports ports = {.http = new_http, .redis = other_redis};
    char running[16], file[16];
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    expect_ttl("before", 60);
    rl_write_ini(&proxy, &redis, &ports, extra);
    cr_assert_eq(rl_sighup(&proxy), 1, "a restart-only change is no error");
    snprintf(running, sizeof(running), "%d", proxy.http_port);
    snprintf(file, sizeof(file), "%d", new_http);
    rl_expect_not_applied(&proxy, "server.http_port", running, file);
    rl_expect_not_applied(&proxy, "server.workers", "8", "3");
    snprintf(running, sizeof(running), "%d", redis.port);
    snprintf(file, sizeof(file), "%d", other_redis);
    rl_expect_not_applied(&proxy, "redis.port", running, file);
    rl_expect_not_applied(&proxy, "redis.pool_size", "8", "2");
    rl_expect_change(&proxy, "cache.ttl", "60s", "5s");
    rl_await_log_count(&proxy, "restart_needed=4", 1);
    cr_assert_eq(rl_last_reload_count(&proxy, "key="), 5);

    expect_ttl("after", 5);
    fd = h_connect(new_http);
    cr_assert_eq(fd, -1, "something listens on the new http_port");
    cr_assert_eq(rl_metric(&proxy, P "workers"), 8);
    cr_assert_eq(rl_metric(&proxy, P "redis_pool_size"), 8);
    h_cache_key(&redis, proxy.http_port, "same", "redis");

    cr_assert_eq(rl_sighup(&proxy), 1);
    rl_expect_not_applied(&proxy, "server.workers", "8", "3");
    rl_await_log_count(&proxy, "restart_needed=4", 2);
    cr_assert_eq(rl_last_reload_count(&proxy, "msg=\"config changed\""), 0);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- invalid files ---- */

/* What `redis-proxy -t -c INI` says about the file, without the
 * "redis-proxy: " prefix and the newline. */
static void
test_config_error(char *out, size_t cap)
{
    char *argv[] = {"redis-proxy", "-t", "-c", proxy.ini, NULL};
    char buf[2048], *nl;

    cr_assert_eq(h_run(argv, buf, sizeof(buf)), 2, "-t accepted it: %s", buf);
    cr_assert(strncmp(buf, "redis-proxy: ", 13) == 0, "%s", buf);
    nl = strchr(buf, '\n');
    if (nl != NULL) {
        *nl = '\0';
    }
    snprintf(out, cap, "%s", buf + 13);
}

/*
 * The file is replaced by one with ports (NULL: the running ones) and
 * extra, invalid at line `line`, or removed (extra NULL). The reload
 * fails, is counted (the failed total becomes `failed`), logs the error -t
 * prints (naming the file and line) and changes nothing: a new fill still
 * gets the TTL of 1h.
 */
static void
expect_rejected(const struct rl_ports *ports, const char *extra, int line,
                double failed)
{
    char err[2048], want[2200], where[300], key[32];

    if (extra != NULL) {
        rl_write_ini(&proxy, &redis, ports, extra);
        test_config_error(err, sizeof(err));
    } else {
        cr_assert_eq(unlink(proxy.ini), 0);
        snprintf(err, sizeof(err), "%s: cannot open: No such file or directory",
                 proxy.ini);
    }
    if (line > 0) {
        snprintf(where, sizeof(where), "%s:%d: ", proxy.ini, line);
        cr_assert(strncmp(err, where, strlen(where)) == 0,
                  "error not at line %d: %s", line, err);
    }
    cr_assert_eq(rl_sighup(&proxy), 0, "an invalid file was applied: %s", err);
    snprintf(want, sizeof(want),
             "level=error msg=\"config reload failed; settings unchanged\" "
             "error=\"%s\"",
             err);
    rl_await_log_count(&proxy, want, 1);
    cr_assert_eq(rl_last_reload_count(&proxy, "key="), 0, "%s", err);
    cr_assert_eq(rl_metric(&proxy, FAILED_SERIES), failed);
    cr_assert_eq(rl_metric(&proxy, OK_SERIES), 0);
    snprintf(key, sizeof(key), "k%d", (int)failed);
    expect_ttl(key, 3600);
}

/*
 * Each kind of invalid file in turn, every one also changing the TTL to
 * 5s: nothing applied, the error logged and counted; then the file fixed
 * and another SIGHUP: applied, counted as ok.
 */
Test(reload_ops, invalid_file_changes_nothing_and_a_fixed_one_applies)
{
    struct rl_ports clash = {0};

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[cache]\nttl = 1h\n", .admin = 1));
    expect_ttl("k0", 3600);
    clash.resp = proxy.http_port;
    expect_rejected(NULL, "[cache]\nttl = 5s\nthis line is not ini\n",
                    INI_OWN_LINES + 3, 1);
    expect_rejected(NULL, "[cache]\nttl = 5s\n[nosuch]\n", INI_OWN_LINES + 3,
                    2);
    expect_rejected(NULL, "[cache]\nttl = 5s\nnope = 1\n", INI_OWN_LINES + 3,
                    3);
    expect_rejected(NULL, "[cache]\nttl = 5s\ncapacity = lots\n",
                    INI_OWN_LINES + 3, 4);
    expect_rejected(NULL, "[cache]\nttl = 5s\nttl = 6s\n", INI_OWN_LINES + 3,
                    5);
    /* resp_port (line 4) on http_port's port (line 3). */
    expect_rejected(&clash, "[cache]\nttl = 5s\n", 4, 6);
    expect_rejected(NULL, NULL, 0, 7);

    rl_apply(&proxy, &redis, "[cache]\nttl = 5s\n");
    rl_expect_change(&proxy, "cache.ttl", "3600s", "5s");
    cr_assert_eq(rl_metric(&proxy, OK_SERIES), 1);
    cr_assert_eq(rl_metric(&proxy, FAILED_SERIES), 7);
    expect_ttl("fixed", 5);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- -s overrides ---- */

/*
 * Started with -s cache.ttl=7s, -s log.access=on and -s server.workers=2
 * over a file saying otherwise: a reload with a file that changes the
 * TTL, access, workers and capacity applies only the capacity; -s still
 * wins (TTL 7s, access lines, no restart needed for workers).
 */
Test(reload_ops, s_overrides_still_win_after_a_reload)
{
    static const char *const args[] = {
        "-s", "cache.ttl=7s",     "-s", "log.access=on",
        "-s", "server.workers=2", NULL};
    int access;

    h_start_proxy(&proxy, &redis,
                  H_OPTS(.ini = "[server]\nworkers = 4\n[cache]\nttl = 1h\n",
                         .args = args, .admin = 1));
    expect_ttl("before", 7);
    rl_apply(&proxy, &redis,
             "[server]\nworkers = 5\n[cache]\nttl = 2h\ncapacity = 500\n"
             "[log]\naccess = off\n");
    rl_expect_change(&proxy, "cache.capacity", "10000", "500");
    rl_await_log_count(&proxy, "msg=\"config reloaded\"", 1);
    cr_assert_eq(rl_last_reload_count(&proxy, "key="), 1,
                 "only the capacity changed");
    cr_assert_eq(rl_metric(&proxy, P "cache_capacity"), 500);
    access = rl_log_count(&proxy, "msg=\"access\"");
    expect_ttl("after", 7);
    rl_await_log_count(&proxy, "msg=\"access\"", access + 1);
    cr_assert_eq(rl_metric(&proxy, P "workers"), 2);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}

/* ---- sd_notify ---- */

static int64_t
monotonic_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The reports of one reload: RELOADING=1 with MONOTONIC_USEC (the
 * CLOCK_MONOTONIC microsecond between from_us and now), then READY=1. */
static void
expect_reload_reports(int64_t from_us)
{
    char buf[256];
    int64_t usec;
    int end = -1;

    cr_assert_gt(h_notify_recv(&notify, buf, sizeof(buf), RL_MS), 0,
                 "no RELOADING");
    cr_assert_eq(
        sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%" SCNd64 "%n", &usec, &end),
        1, "first report: %s", buf);
    cr_assert_eq((size_t)end, strlen(buf), "first report: %s", buf);
    cr_assert(usec >= from_us && usec <= monotonic_us(),
              "MONOTONIC_USEC=%" PRId64 " outside [%" PRId64 ", now]", usec,
              from_us);
    cr_assert_gt(h_notify_recv(&notify, buf, sizeof(buf), RL_MS), 0,
                 "no READY");
    cr_assert_str_eq(buf, "READY=1", "second report");
}

/* READY=1 at start; each SIGHUP, applied or failed, then RELOADING=1 with
 * MONOTONIC_USEC followed by READY=1, and nothing else. */
Test(reload_ops, reload_reported_to_the_service_manager)
{
    const char *envs[] = {notify.env, NULL};
    char buf[256];
    int64_t t;

    cr_assert_eq(h_notify_open(&notify), 0, "notify socket: %s",
                 strerror(errno));
    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1, .env = envs));
    cr_assert_eq(h_notify_recv(&notify, buf, sizeof(buf), RL_MS), 7);
    cr_assert_str_eq(buf, "READY=1");

    t = monotonic_us();
    rl_apply(&proxy, &redis, "[cache]\nttl = 5s\n");
    expect_reload_reports(t);
    expect_ttl("k", 5);

    t = monotonic_us();
    rl_write_ini(&proxy, &redis, NULL, "[cache]\nttl = never\n");
    cr_assert_eq(rl_sighup(&proxy), 0);
    expect_reload_reports(t);
    cr_assert_eq(h_notify_recv(&notify, buf, sizeof(buf), 0), -1,
                 "more reports: %s", buf);
    cr_assert_eq(h_proxy_stop(&proxy, NULL, 0), 0);
}
