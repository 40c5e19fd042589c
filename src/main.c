/*
 * main: command line, then wiring: settings and TLS contexts -> listening
 * sockets -> cache, fill registry, work queue, waiter, node table (each
 * node's pipelines and invalidation stream), failover, the sentinels'
 * follower and the replica monitor when configured, command table, spares
 * and the keeper, worker pool -> accept loop on this thread until
 * SIGTERM/SIGINT -> orderly shutdown. No other file ends the process; main
 * returns its exit status.
 *
 * Shutdown order (each step needs the ones after it still alive): close
 * the listeners; let commands already on their way to Redis get their
 * replies (drain_in_flight, at most SHUTDOWN_DRAIN_MS); stop the waiter
 * (closes idle conns); shut the queue so workers finish what is queued,
 * then join them (no request runs after this); stop the keeper, the
 * sentinels' follower and the replica monitor; free the failover state,
 * the node table (its pipelines fail what they still hold, their fds leave
 * the waiter), the waiter, the queue, the spares, the command table, the
 * registry and the cache. See docs/ARCHITECTURE.md.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "base/cpus.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/pwhash.h"
#include "base/sdnotify.h"
#include "base/util.h"
#include "cache/cache.h"
#include "cache/flight.h"
#include "net/listener.h"
#include "net/waiter.h"
#include "net/worker.h"
#include "net/workq.h"
#include "serve/admin.h"
#include "serve/clientmap.h"
#include "serve/failover.h"
#include "serve/httpd.h"
#include "serve/proxy.h"
#include "serve/respd.h"
#include "serve/reload.h"
#include "serve/tls_conf.h"
#include "upstream/commands.h"
#include "upstream/idents.h"
#include "upstream/keeper.h"
#include "upstream/nodes.h"
#include "upstream/replicas.h"
#include "upstream/sentinel.h"
#include "upstream/spares.h"
#include "upstream/tracking.h"
#include "upstream/upstream.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static void
usage(FILE *out)
{
    fprintf(out, "usage: redis-proxy [-c FILE] [-s SECTION.KEY=VALUE]... [-t] "
                 "[-h] [-V]\n"
                 "       redis-proxy --hash-password\n"
                 "  -c, --config FILE     INI file (default ./proxy.ini if "
                 "present)\n"
                 "  -s, --set S.K=V       override one setting; repeatable\n"
                 "  -t, --test-config     validate, print effective settings, "
                 "exit\n"
                 "  --hash-password       read a password on standard input, "
                 "print its [users] hash\n"
                 "  -h, --help            this help\n"
                 "  -V, --version         print the version\n");
}

/*
 * Keeps a copy of one -s argument (a reload applies them again) and, when
 * it sets a password, overwrites the value where it lies in argv, which is
 * what /proc/PID/cmdline and ps show (as Redis hides requirepass): "***"
 * and NUL bytes. Returns the copy, or NULL when out of memory.
 */
static char *
keep_set(char *arg)
{
    char *copy = strdup(arg), *v;
    size_t n;

    if (copy != NULL && config_set_is_secret(arg)) {
        v = strchr(arg, '=') + 1;
        n = strlen(v);
        memset(v, 0, n);
        memcpy(v, "***", n < 3 ? n : 3);
    }
    return copy;
}

#define HASH_INPUT_MAX 4096 /* bytes of a password read to hash */

/*
 * --hash-password: reads a password from standard input (one line, its
 * newline dropped; without echo from a terminal) and prints the hash a
 * [users] entry takes ("sha256:<hex>"). Returns the exit status.
 */
static int
hash_password(void)
{
    char pw[HASH_INPUT_MAX + 2], text[PWHASH_TEXT];
    unsigned char h[PWHASH_LEN];
    struct termios was, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &was) == 0, c;
    size_t n = 0;

    if (tty) {
        fprintf(stderr, "password: ");
        quiet = was;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    while ((c = getchar()) != EOF && c != '\n' && n < sizeof(pw) - 1) {
        pw[n++] = (char)c;
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &was);
        fprintf(stderr, "\n");
    }
    if (n > 0 && pw[n - 1] == '\r') {
        n--;
    }
    if (n == 0 || n > HASH_INPUT_MAX || pwhash_of(pw, n, h) < 0) {
        explicit_bzero(pw, sizeof(pw));
        fprintf(stderr, "redis-proxy: --hash-password: %s\n",
                n == 0 ? "no password on standard input"
                       : "password too long (4096 bytes at most)");
        return EXIT_USAGE;
    }
    explicit_bzero(pw, sizeof(pw));
    pwhash_format(h, text, sizeof(text));
    printf("%s\n", text);
    return 0;
}

/* Parses argv into src (sets: a calloc'd array of src->nsets strings the
 * caller frees, each a copy). Returns -1 to continue, else an exit
 * status. */
static int
parse_args(int argc, char **argv, struct reload_source *src, char ***sets,
           int *test_only)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"test-config", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"hash-password", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    src->nsets = 0;
    src->path = NULL;
    *sets = calloc((size_t)argc + 1, sizeof(char *));
    if (*sets == NULL) {
        return EXIT_RUNTIME;
    }
    src->sets = *sets;
    while ((opt = getopt_long(argc, argv, "c:s:thV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            src->path = optarg;
            break;
        case 's':
            if (((*sets)[src->nsets] = keep_set(optarg)) == NULL) {
                return EXIT_RUNTIME;
            }
            src->nsets++;
            break;
        case 't':
            *test_only = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("redis-proxy %s\n", PROXY_VERSION);
            return 0;
        case 'H':
            return hash_password();
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "redis-proxy: unexpected argument '%s'\n",
                argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (src->path == NULL && access("proxy.ini", F_OK) == 0) {
        src->path = "proxy.ini";
    }
    return -1;
}

/* Blocks SIGINT, SIGTERM and SIGHUP in every thread (created later
 * inherit the mask) and returns a signalfd that becomes readable when one
 * arrives. */
static int
signal_fd(void)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
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
    const struct config *cfg = proxy_cfg(px);

    k->ops = ops;
    k->ctx = px;
    k->budget = budget;
    k->tls_stats = &px->tls_stats; /* k->tls: tls_conf_start, before */
    atomic_init(&k->idle_timeout_ms, cfg->idle_timeout_ms);
    atomic_init(&k->request_timeout_ms, cfg->request_timeout_ms);
    atomic_init(&k->send_timeout_ms, cfg->send_timeout_ms);
    atomic_init(&k->max_output, cfg->max_output);
    atomic_init(&k->session_idle_ms, cfg->session_idle_timeout_ms);
    atomic_init(&k->first_byte_ms, 0);
}

/* Opens the listeners that are on into ls; returns how many, or -1. */
static int
open_listeners(const struct config *cfg, struct listener *ls,
               struct conn_kind kinds[PROXY_KINDS])
{
    const int ports[PROXY_KINDS] = {
        [PROXY_HTTP] = cfg->http_port,
        [PROXY_RESP] = cfg->resp_port,
        [PROXY_ADMIN] = cfg->admin_port,
        [PROXY_RESP_TLS] = cfg->tls_port,
    };
    char err[256];
    int i, n = 0;

    for (i = 0; i < PROXY_KINDS; i++) {
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

/* Serves until SIGTERM or SIGINT, reloading on SIGHUP. Returns 0, or -1
 * when the accept loop failed. */
static int
serve_until_stopped(struct proxy *px, const struct listener *ls, int nls,
                    int sig_fd, const struct reload_source *src)
{
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n;

        if (listener_run(ls, nls, px->q, sig_fd) < 0) {
            return -1;
        }
        n = read(sig_fd, &si, sizeof(si));
        if (n == (ssize_t)sizeof(si) && si.ssi_signo == SIGHUP) {
            log_info("msg=\"SIGHUP: reloading the settings\"");
            sdnotify_reloading();
            reload_settings(px, src);
            sdnotify("READY=1");
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            continue;
        }
        return 0;
    }
}

/* Stopping: requests already handed to Redis get their replies first,
 * for at most SHUTDOWN_DRAIN_MS (the listeners are closed already). */
#define SHUTDOWN_DRAIN_MS 10000

static void
drain_in_flight(struct proxy *px)
{
    int64_t until = util_now_ms() + SHUTDOWN_DRAIN_MS;

    while (atomic_load(&px->awaiting) > 0 && util_now_ms() < until) {
        struct timespec ts = {0, 10 * 1000000};

        nanosleep(&ts, NULL);
    }
}

/* The waiter's tick: Redis connects past connect_timeout fail, writes
 * waiting for a new master past their wait get the failover error. */
static void
on_tick(void *arg)
{
    struct proxy *px = arg;

    nodes_tick_pipes(px->nodes);
    idents_tick_pipes(px->idents);
    failover_tick(px);
}

static int
run(struct proxy *px, int sig_fd, const struct reload_source *src)
{
    const struct config *cfg = proxy_cfg(px);
    struct listener ls[PROXY_KINDS];
    struct keeper *keeper = NULL;
    struct redis_target target;
    char line[4096], err[REDIS_ERR_MAX];
    int nls = -1, i, rc = EXIT_RUNTIME;
    size_t conns;
    int running;

    metrics_init(&px->metrics);
    conn_budget_init(&px->clients, cfg->max_clients, 0);
    /* The admin port answers its probes whatever holds its connections:
     * idle ones make room, and one must send within request_timeout. */
    conn_budget_init(&px->admins, PROXY_ADMIN_CONNS, 1);
    kind_init(&px->kinds[PROXY_HTTP], &httpd_ops, px, &px->clients);
    kind_init(&px->kinds[PROXY_RESP], &respd_ops, px, &px->clients);
    kind_init(&px->kinds[PROXY_ADMIN], &admin_ops, px, &px->admins);
    atomic_store(&px->kinds[PROXY_ADMIN].first_byte_ms,
                 cfg->request_timeout_ms);
    kind_init(&px->kinds[PROXY_RESP_TLS], &respd_ops, px, &px->clients);
    config_format_line(cfg, line, sizeof(line));
    log_info("msg=\"starting\" version=%s %s", PROXY_VERSION, line);
    reload_fd_limit(cfg);
    nls = open_listeners(cfg, ls, px->kinds);
    if (nls < 0) {
        goto out;
    }
    px->cache = cache_create(cfg->cache_capacity, cfg->cache_ttl_ms,
                             cfg->cache_stale_ms, NULL);
    if (px->cache != NULL) {
        cache_set_limits(px->cache, cfg->cache_capacity, cfg->cache_max_memory,
                         cfg->cache_ttl_ms, cfg->cache_stale_ms);
    }
    px->flights = px->cache != NULL ? flights_create(px->cache) : NULL;
    /* Every open client conn fits in the queue and in the waiter, for any
     * max_clients a reload may set: both are calloc'd arrays whose pages
     * are touched only as conns use them (about 40 bytes per conn). */
    conns = (size_t)CONFIG_MAX_CLIENTS + 2 * PROXY_ADMIN_CONNS; /* admin
        conns shut down to make room stay open until their owner sees it */
    px->q = workq_create(conns);
    px->waiter = px->q != NULL ? waiter_create(px->q, conns) : NULL;
    px->nodes =
        px->flights != NULL && px->waiter != NULL
            ? nodes_create(&px->cfg, px->flights, px->waiter, px->redis_tls)
            : NULL;
    px->clientmap = clientmap_create();
    px->idents = px->nodes != NULL
                     ? idents_create(&px->cfg, px->nodes, px->waiter)
                     : NULL;
    px->failover = px->idents != NULL && px->clientmap != NULL
                       ? failover_create(px)
                       : NULL;
    if (px->failover != NULL) {
        /* Redis connects that passed connect_timeout fail at its ticks. */
        waiter_on_tick(px->waiter, on_tick, px);
        nodes_on_switch(px->nodes, failover_switched, px);
    }
    if (px->failover == NULL || nodes_start(px->nodes) < 0) {
        log_error("msg=\"cannot start the connections to redis\"");
        goto out;
    }
    if (nodes_is_sentinel(px->nodes)) {
        /* Asks the sentinels once now, so the first requests find the
         * master, then follows them on its thread. */
        px->sentinel = sentinel_start(&px->cfg, px->nodes, px->redis_tls);
        if (px->sentinel == NULL) {
            log_error("msg=\"cannot start following the sentinels\"");
            goto out;
        }
    }
    /* With read_from other than master: the replicas' monitor, after one
     * round, so the first reads find the replicas in sync. */
    px->replicas = replicas_start(&px->cfg, px->nodes, &i);
    if (i) {
        log_error("msg=\"cannot start the replica monitor\"");
        goto out;
    }
    target = redis_target_of(&px->cfg, px->redis_tls);
    px->commands = commands_create();
    if (px->commands != NULL &&
        commands_load(px->commands,
                      nodes_any(px->nodes) >= 0
                          ? nodes_target(px->nodes, nodes_any(px->nodes))
                          : &target,
                      err) < 0) {
        /* Redis is not there yet: the keeper reads the table once the
         * pool connects. Until then writes empty the cache. */
        log_warn("msg=\"cannot read the command table yet\" cause=\"%s\"", err);
    }
    /* Spare connections for sessions, to the master (with sentinels they
     * follow it: failover_switched); in a cluster a session goes to the
     * node of its first key, so it connects when it starts. */
    px->spares = cfg->cluster
                     ? NULL
                     : spares_create(nodes_master(px->nodes) >= 0
                                         ? nodes_target(px->nodes,
                                                        nodes_master(px->nodes))
                                         : NULL,
                                     PROXY_SPARES);
    keeper = px->nodes != NULL && px->commands != NULL &&
                     (cfg->cluster || px->spares != NULL)
                 ? keeper_create(px->nodes, px->commands, px->spares)
                 : NULL;
    if (px->cache == NULL || px->nodes == NULL || keeper == NULL ||
        px->waiter == NULL) {
        log_error("msg=\"cannot allocate the proxy's services\"");
        goto out;
    }
    running = cpus_usable();
    running = running < cfg->workers ? running : cfg->workers;
    px->workers = worker_pool_create(cfg->workers, running, px->q, px->waiter);
    if (px->workers == NULL) {
        goto out;
    }
    /* Serve with the invalidation stream in place when Redis is there. */
    nodes_wait_first(px->nodes,
                     cfg->connect_timeout_ms + cfg->command_timeout_ms);
    log_info("msg=\"listening\" http=%s:%d%s resp=%s:%d resp_tls=%s:%d "
             "admin=%s:%d%s workers=%d running=%d",
             cfg->bind, cfg->http_port, cfg->http_tls ? "/tls" : "",
             cfg->resp_port ? cfg->bind : "off", cfg->resp_port,
             cfg->tls_port ? cfg->bind : "off", cfg->tls_port,
             cfg->admin_port ? cfg->bind : "off", cfg->admin_port,
             cfg->admin_port && cfg->admin_tls ? "/tls" : "", cfg->workers,
             running);
    sdnotify("READY=1"); /* systemd Type=notify; no-op without a manager */
    rc = serve_until_stopped(px, ls, nls, sig_fd, src) == 0 ? 0 : EXIT_RUNTIME;
    sdnotify("STOPPING=1");
    log_info("msg=\"shutting down\"");

out:
    for (i = 0; i < nls; i++) {
        close(ls[i].fd);
    }
    if (px->workers != NULL) {
        drain_in_flight(px);
    }
    if (px->waiter != NULL) {
        waiter_stop(px->waiter);
    }
    if (px->q != NULL) {
        workq_shutdown(px->q);
    }
    worker_pool_destroy(px->workers);
    keeper_destroy(keeper);
    sentinel_stop(px->sentinel);
    replicas_stop(px->replicas);
    failover_destroy(px->failover); /* what waits for a master is failed */
    clientmap_destroy(px->clientmap);
    /* The pipelines fail what they still hold; their fds leave the
     * waiter's set, so it goes after them. An identity's report to its
     * node's stream: the identities go first. */
    idents_destroy(px->idents);
    nodes_destroy(px->nodes);
    waiter_destroy(px->waiter);
    workq_destroy(px->q);
    spares_destroy(px->spares);
    commands_destroy(px->commands);
    flights_destroy(px->flights);
    cache_destroy(px->cache);
    conn_budget_deinit(&px->admins);
    conn_budget_deinit(&px->clients);
    if (rc == 0) {
        log_info("msg=\"stopped\"");
    }
    return rc;
}

int
main(int argc, char **argv)
{
    static struct proxy px; /* zeroed; big (metrics), so not on the stack */
    struct reload_source src;
    char err[CONFIG_ERR_MAX], **sets = NULL;
    int test_only = 0, sig_fd;
    int rc = parse_args(argc, argv, &src, &sets, &test_only);

    if (rc < 0 && (reload_start(&px, &src, err, sizeof(err)) < 0 ||
                   tls_conf_start(&px, err, sizeof(err)) < 0)) {
        fprintf(stderr, "redis-proxy: %s\n", err);
        rc = EXIT_USAGE;
    }
    if (rc >= 0) {
        goto done;
    }
    if (test_only) {
        config_print(proxy_cfg(&px), stdout);
        rc = 0;
        goto done;
    }
    log_set_level(proxy_cfg(&px)->log_level);
    /* Before any thread starts, so every thread inherits the blocked mask
     * and the signals reach only the signalfd. */
    sig_fd = signal_fd();
    if (sig_fd < 0) {
        log_error("msg=\"cannot set up signal handling\" error=\"%s\"",
                  strerror(errno));
        rc = EXIT_RUNTIME;
        goto done;
    }
    log_start();
    rc = run(&px, sig_fd, &src);
    log_stop();
    close(sig_fd);
done:
    tls_conf_release(&px);
    reload_release(&px);
    while (src.nsets > 0) {
        free(sets[--src.nsets]);
    }
    free(sets);
    return rc;
}
