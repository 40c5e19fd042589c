/*
 * main: command line, then wiring: config -> cache, fill registry,
 * invalidation tracker, upstream pool, work queue, waiter, worker pool,
 * listeners -> accept loop on this thread until SIGTERM/SIGINT -> orderly
 * shutdown. Only this file calls exit().
 *
 * Shutdown order: stop accepting (close listeners); stop the waiter (closes
 * idle conns); shut the queue so workers finish what is queued or in
 * flight, then join them; stop the tracker; free the services in reverse
 * order of creation.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cache/cache.h"
#include "base/config.h"
#include "cache/flight.h"
#include "net/listener.h"
#include "base/metrics.h"
#include "base/log.h"
#include "serve/proxy.h"
#include "upstream/tracking.h"
#include "upstream/upstream.h"
#include "net/waiter.h"
#include "net/worker.h"
#include "net/workq.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static void
usage(FILE *out)
{
    fprintf(out, "usage: redis-proxy [-c FILE] [-s SECTION.KEY=VALUE]... [-t] "
                 "[-h] [-V]\n"
                 "  -c, --config FILE     INI file (default ./proxy.ini if "
                 "present)\n"
                 "  -s, --set S.K=V       override one setting; repeatable\n"
                 "  -t, --test-config     validate, print effective settings, "
                 "exit\n"
                 "  -h, --help            this help\n"
                 "  -V, --version         print the version\n");
}

/* Parses argv into cfg. Returns -1 to continue, else an exit status. */
static int
load_settings(int argc, char **argv, struct config *cfg, int *test_only)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"test-config", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    char err[CONFIG_ERR_MAX];
    const char *path = NULL;
    int opt, i, nsets = 0;
    char **sets = calloc((size_t)argc + 1, sizeof(char *));

    if (sets == NULL) {
        return EXIT_RUNTIME;
    }
    while ((opt = getopt_long(argc, argv, "c:s:thV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 's':
            sets[nsets++] = optarg;
            break;
        case 't':
            *test_only = 1;
            break;
        case 'h':
            usage(stdout);
            free(sets);
            return 0;
        case 'V':
            printf("redis-proxy %s\n", PROXY_VERSION);
            free(sets);
            return 0;
        default:
            usage(stderr);
            free(sets);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "redis-proxy: unexpected argument '%s'\n",
                argv[optind]);
        usage(stderr);
        free(sets);
        return EXIT_USAGE;
    }
    config_defaults(cfg);
    if (path == NULL && access("proxy.ini", F_OK) == 0) {
        path = "proxy.ini";
    }
    if (path != NULL && config_load_file(cfg, path, err, sizeof(err)) < 0) {
        goto fail;
    }
    for (i = 0; i < nsets; i++) {
        if (config_set(cfg, sets[i], err, sizeof(err)) < 0) {
            goto fail;
        }
    }
    if (config_check(cfg, err, sizeof(err)) < 0) {
        goto fail;
    }
    free(sets);
    return -1;

fail:
    fprintf(stderr, "redis-proxy: %s\n", err);
    free(sets);
    return EXIT_USAGE;
}

/* Makes room for max_clients sockets plus the pool and listeners. */
static void
raise_fd_limit(const struct config *cfg)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)cfg->max_clients + (rlim_t)cfg->pool_size +
                  LISTENER_ADMIN_CLIENTS;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need) {
        return;
    }
    rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need) {
        log_warn("msg=\"open file limit below max_clients\" limit=%lu "
                 "need=%lu",
                 (unsigned long)rl.rlim_cur, (unsigned long)need);
    }
}

/* Blocks SIGINT/SIGTERM in every thread (created later inherit the mask)
 * and returns a signalfd that becomes readable when one arrives. */
static int
stop_signal_fd(void)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        return -1;
    }
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int
run(const struct config *cfg, int stop_fd)
{
    struct proxy px = {.cfg = cfg};
    struct worker_pool *wp = NULL;
    char err[256], line[1536];
    int http_fd = -1, resp_fd = -1, admin_fd = -1;
    int rc = EXIT_RUNTIME;
    size_t conns;

    metrics_init(&px.metrics);
    config_format_line(cfg, line, sizeof(line));
    log_info("msg=\"starting\" version=%s %s", PROXY_VERSION, line);
    raise_fd_limit(cfg);
    http_fd = listener_open(cfg->bind, cfg->http_port, err, sizeof(err));
    if (http_fd < 0) {
        log_error("msg=\"%s\"", err);
        goto out;
    }
    if (cfg->resp_port != 0) {
        resp_fd = listener_open(cfg->bind, cfg->resp_port, err, sizeof(err));
        if (resp_fd < 0) {
            log_error("msg=\"%s\"", err);
            goto out;
        }
    }
    if (cfg->admin_port != 0) {
        admin_fd = listener_open(cfg->bind, cfg->admin_port, err, sizeof(err));
        if (admin_fd < 0) {
            log_error("msg=\"%s\"", err);
            goto out;
        }
    }
    px.cache = cache_create(cfg->cache_capacity, cfg->cache_ttl_ms,
                            cfg->cache_stale_ms, NULL);
    px.flights = px.cache != NULL ? flights_create(px.cache) : NULL;
    px.tracking = px.flights != NULL ? tracking_create(cfg, px.flights) : NULL;
    px.up = px.tracking != NULL ? upstream_create(cfg, px.tracking) : NULL;
    if (px.up != NULL &&
        tracking_start(px.tracking, upstream_check_idle, px.up) < 0) {
        log_error("msg=\"cannot start the tracking thread\"");
        goto out;
    }
    /* Every open client conn fits in the queue and in the waiter. */
    conns = (size_t)cfg->max_clients + LISTENER_ADMIN_CLIENTS;
    px.q = workq_create(conns);
    px.waiter = px.q != NULL ? waiter_create(px.q, conns) : NULL;
    if (px.cache == NULL || px.up == NULL || px.waiter == NULL) {
        log_error("msg=\"cannot allocate the proxy's services\"");
        goto out;
    }
    wp = worker_pool_create(&px, cfg->workers);
    if (wp == NULL) {
        goto out;
    }
    /* Serve with the invalidation stream in place when Redis is there. */
    tracking_wait_first(px.tracking,
                        cfg->connect_timeout_ms + cfg->command_timeout_ms);
    log_info("msg=\"listening\" http=%s:%d resp=%s:%d admin=%s:%d", cfg->bind,
             cfg->http_port, cfg->resp_port ? cfg->bind : "off", cfg->resp_port,
             cfg->admin_port ? cfg->bind : "off", cfg->admin_port);
    rc = listener_run(&px, http_fd, resp_fd, admin_fd, stop_fd) == 0
             ? 0
             : EXIT_RUNTIME;
    log_info("msg=\"shutting down\"");

out:
    if (http_fd >= 0) {
        close(http_fd);
    }
    if (resp_fd >= 0) {
        close(resp_fd);
    }
    if (admin_fd >= 0) {
        close(admin_fd);
    }
    if (px.waiter != NULL) {
        waiter_stop(px.waiter);
    }
    if (px.q != NULL) {
        workq_shutdown(px.q);
    }
    worker_pool_destroy(wp);
    waiter_destroy(px.waiter);
    workq_destroy(px.q);
    tracking_destroy(px.tracking);
    upstream_destroy(px.up);
    flights_destroy(px.flights);
    cache_destroy(px.cache);
    if (rc == 0) {
        log_info("msg=\"stopped\"");
    }
    return rc;
}

int
main(int argc, char **argv)
{
    struct config cfg;
    int test_only = 0, stop_fd;
    int rc = load_settings(argc, argv, &cfg, &test_only);

    if (rc >= 0) {
        return rc;
    }
    if (test_only) {
        config_print(&cfg, stdout);
        return 0;
    }
    log_set_level(cfg.log_level);
    /* Before any thread starts, so every thread inherits the blocked mask
     * and SIGTERM/SIGINT reach only the signalfd. */
    stop_fd = stop_signal_fd();
    if (stop_fd < 0) {
        log_error("msg=\"cannot set up signal handling\" error=\"%s\"",
                  strerror(errno));
        return EXIT_RUNTIME;
    }
    log_start();
    rc = run(&cfg, stop_fd);
    log_stop();
    close(stop_fd);
    return rc;
}
