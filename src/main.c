/*
 * main: command line, then wiring: config -> listening sockets -> cache,
 * fill registry, invalidation tracker, upstream pool and its keeper, work
 * queue, waiter, worker pool -> accept loop on this thread until
 * SIGTERM/SIGINT -> orderly shutdown. No other file ends the process; main
 * returns its exit status.
 *
 * Shutdown order (each step needs the ones after it still alive): close
 * the listeners; stop the waiter (closes idle conns, queues those with a
 * request in flight); shut the queue so workers finish what is queued or in
 * flight, then join them (nothing uses a service after this); stop the
 * keeper (it uses the pool) and the tracker (its thread marks fills); then
 * free the pool (it reported lost connections to the tracker, so the pool
 * goes before the tracker), the tracker, the registry and the cache. See
 * docs/ARCHITECTURE.md.
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

#include "base/config.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/sdnotify.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "net/listener.h"
#include "net/waiter.h"
#include "net/worker.h"
#include "net/workq.h"
#include "serve/admin.h"
#include "serve/httpd.h"
#include "serve/proxy.h"
#include "serve/respd.h"
#include "upstream/commands.h"
#include "upstream/keeper.h"
#include "upstream/tracking.h"
#include "upstream/upstream.h"

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
    rlim_t need =
        (rlim_t)cfg->max_clients + (rlim_t)cfg->pool_size + PROXY_ADMIN_CONNS;

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

/* The kind of conn each listener accepts: its protocol, budget and
 * timeouts. */
static void
kind_init(struct conn_kind *k, const struct conn_ops *ops, struct proxy *px,
          struct conn_budget *budget)
{
    k->ops = ops;
    k->ctx = px;
    k->budget = budget;
    atomic_init(&k->idle_timeout_ms, px->cfg->idle_timeout_ms);
    atomic_init(&k->request_timeout_ms, px->cfg->request_timeout_ms);
    atomic_init(&k->send_timeout_ms, px->cfg->send_timeout_ms);
}

/* Opens the listeners that are on into ls; returns how many, or -1. */
static int
open_listeners(const struct config *cfg, struct listener *ls,
               struct conn_kind kinds[3])
{
    const int ports[3] = {cfg->http_port, cfg->resp_port, cfg->admin_port};
    char err[256];
    int i, n = 0;

    for (i = 0; i < 3; i++) {
        if (ports[i] == 0) {
            continue;
        }
        ls[n].kind = &kinds[i];
        ls[n].fd = listener_open(cfg->bind, ports[i], err, sizeof(err));
        if (ls[n].fd < 0) {
            log_error("msg=\"%s\"", err);
            while (n-- > 0) {
                close(ls[n].fd);
            }
            return -1;
        }
        n++;
    }
    return n;
}

/* The number of CPUs this process may run on. */
static int
usable_cpus(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    return cpus > 0 ? (int)cpus : 1;
}

static int
run(const struct config *cfg, int stop_fd)
{
    struct proxy px = {.cfg = cfg};
    struct conn_kind kinds[3];
    struct listener ls[3];
    struct keeper *keeper = NULL;
    struct redis_target target;
    char line[1536], err[REDIS_ERR_MAX];
    int nls = -1, i, rc = EXIT_RUNTIME;
    size_t conns;

    metrics_init(&px.metrics);
    atomic_init(&px.clients.max, cfg->max_clients);
    atomic_init(&px.admins.max, PROXY_ADMIN_CONNS);
    kind_init(&kinds[0], &httpd_ops, &px, &px.clients);
    kind_init(&kinds[1], &respd_ops, &px, &px.clients);
    kind_init(&kinds[2], &admin_ops, &px, &px.admins);
    config_format_line(cfg, line, sizeof(line));
    log_info("msg=\"starting\" version=%s %s", PROXY_VERSION, line);
    raise_fd_limit(cfg);
    nls = open_listeners(cfg, ls, kinds);
    if (nls < 0) {
        goto out;
    }
    px.cache = cache_create(cfg->cache_capacity, cfg->cache_ttl_ms,
                            cfg->cache_stale_ms, NULL);
    if (px.cache != NULL) {
        cache_set_limits(px.cache, cfg->cache_capacity, cfg->cache_max_memory,
                         cfg->cache_ttl_ms, cfg->cache_stale_ms);
    }
    px.flights = px.cache != NULL ? flights_create(px.cache) : NULL;
    px.tracking = px.flights != NULL ? tracking_create(cfg, px.flights) : NULL;
    target = redis_target_of(cfg);
    px.up =
        px.tracking != NULL ? upstream_create(cfg, &target, px.tracking) : NULL;
    if (px.up != NULL && tracking_start(px.tracking) < 0) {
        log_error("msg=\"cannot start the tracking thread\"");
        goto out;
    }
    px.commands = commands_create();
    if (px.commands != NULL && commands_load(px.commands, &target, err) < 0) {
        /* Redis is not there yet: the keeper reads the table once the
         * pool connects. Until then writes empty the cache. */
        log_warn("msg=\"cannot read the command table yet\" cause=\"%s\"", err);
    }
    px.spares = spares_create(&target, PROXY_SPARES);
    keeper = px.up != NULL && px.commands != NULL && px.spares != NULL
                 ? keeper_create(px.up, px.commands, px.spares, &target)
                 : NULL;
    /* Every open client conn fits in the queue and in the waiter. */
    conns = (size_t)cfg->max_clients + PROXY_ADMIN_CONNS;
    px.q = workq_create(conns);
    px.waiter = px.q != NULL ? waiter_create(px.q, conns) : NULL;
    if (px.cache == NULL || px.up == NULL || keeper == NULL ||
        px.waiter == NULL) {
        log_error("msg=\"cannot allocate the proxy's services\"");
        goto out;
    }
    px.workers =
        worker_pool_create(cfg->workers, usable_cpus(), px.q, px.waiter);
    if (px.workers == NULL) {
        goto out;
    }
    /* Serve with the invalidation stream in place when Redis is there. */
    tracking_wait_first(px.tracking,
                        cfg->connect_timeout_ms + cfg->command_timeout_ms);
    log_info("msg=\"listening\" http=%s:%d resp=%s:%d admin=%s:%d", cfg->bind,
             cfg->http_port, cfg->resp_port ? cfg->bind : "off", cfg->resp_port,
             cfg->admin_port ? cfg->bind : "off", cfg->admin_port);
    sdnotify("READY=1"); /* systemd Type=notify; no-op without a manager */
    rc = listener_run(ls, nls, px.q, stop_fd) == 0 ? 0 : EXIT_RUNTIME;
    sdnotify("STOPPING=1");
    log_info("msg=\"shutting down\"");

out:
    for (i = 0; i < nls; i++) {
        close(ls[i].fd);
    }
    if (px.waiter != NULL) {
        waiter_stop(px.waiter);
    }
    if (px.q != NULL) {
        workq_shutdown(px.q);
    }
    worker_pool_destroy(px.workers);
    waiter_destroy(px.waiter);
    workq_destroy(px.q);
    keeper_destroy(keeper);
    upstream_destroy(px.up);
    spares_destroy(px.spares);
    commands_destroy(px.commands);
    tracking_destroy(px.tracking);
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
