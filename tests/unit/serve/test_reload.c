/*
 * Unit tests of serve/reload on a proxy struct with a real cache (no
 * threads, no sockets): reload_start publishes the first settings;
 * reload_settings applies the live keys of a changed file (the snapshot,
 * the cache's limits, the listeners' timeouts and max_clients), keeps the
 * running value of keys that need a restart, re-applies every -s, counts
 * both outcomes, and leaves everything as it was for an invalid file;
 * a snapshot a reload replaces is freed once no thread can hold it. And
 * reload_fd_limit raises the soft open file limit to what max_clients
 * needs, up to the hard limit. Each test runs in its own process
 * (Criterion), so the rlimit and log level changes stay there.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"
#include "cache/cache.h"
#include "serve/proxy.h"
#include "serve/reload.h"

TestSuite(reload);

static struct proxy px; /* big (metrics): not on the stack */
static char path[64];

static void
write_file(const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    cr_assert_eq(fputs(text, f) >= 0, 1);
    cr_assert_eq(fclose(f), 0);
}

/* px with its first settings from text (and sets), and a cache made from
 * them as main makes it. */
static void
start(const char *text, char *const *sets, int nsets, struct reload_source *src)
{
    char err[CONFIG_ERR_MAX];
    const struct config *cfg;
    int fd;

    memset(&px, 0, sizeof(px));
    snprintf(path, sizeof(path), "/tmp/test_reload_XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    write_file(text);
    *src = (struct reload_source){.path = path, .sets = sets, .nsets = nsets};
    cr_assert_eq(reload_start(&px, src, err, sizeof(err)), 0, "%s", err);
    cfg = proxy_cfg(&px);
    px.cache = cache_create(cfg->cache_capacity, cfg->cache_ttl_ms,
                            cfg->cache_stale_ms, NULL);
    cr_assert_not_null(px.cache);
    cache_set_limits(px.cache, cfg->cache_capacity, cfg->cache_max_memory,
                     cfg->cache_ttl_ms, cfg->cache_stale_ms);
    for (int i = 0; i < PROXY_KINDS; i++) {
        atomic_init(&px.kinds[i].idle_timeout_ms, cfg->idle_timeout_ms);
        atomic_init(&px.kinds[i].request_timeout_ms, cfg->request_timeout_ms);
        atomic_init(&px.kinds[i].send_timeout_ms, cfg->send_timeout_ms);
    }
    atomic_init(&px.clients.max, cfg->max_clients);
}

static void
finish(void)
{
    cache_destroy(px.cache);
    reload_release(&px);
    unlink(path);
}

/* "PATH:LINE" of the test's file (a static buffer). */
static const char *
at(int line)
{
    static char buf[96];

    snprintf(buf, sizeof(buf), "%s:%d", path, line);
    return buf;
}

static long
reloads(int ok)
{
    return atomic_load(ok ? &px.metrics.reloads_ok
                          : &px.metrics.reloads_failed);
}

Test(reload, live_keys_applied_restart_keys_kept)
{
    struct reload_source src;
    const struct config *after;
    struct cache_stats st;
    uintptr_t before;

    start("[server]\nhttp_port = 18080\nworkers = 4\n[cache]\nttl = 1h\n"
          "capacity = 100\n",
          NULL, 0, &src);
    cr_assert_eq(proxy_cfg(&px)->cache_ttl_ms, 3600000);
    /* The reloading thread holds no snapshot across the reload: the one
     * replaced may be freed in it (see the test of that below). */
    before = (uintptr_t)proxy_cfg(&px);
    write_file("[server]\nhttp_port = 18090\nworkers = 2\nmax_clients = 77\n"
               "idle_timeout = 5s\nrequest_timeout = 2s\nsend_timeout = 3s\n"
               "[cache]\nttl = 2s\ncapacity = 10\nmax_memory = 1mb\n"
               "stale_if_error = 9s\n[http]\nwrites = on\n[log]\n"
               "level = debug\n");
    cr_assert_eq(reload_settings(&px, &src), 0);
    after = proxy_cfg(&px);
    cr_assert_neq((uintptr_t)after, before, "a new snapshot");
    cr_assert_eq(after->http_port, 18080, "restart-only: running value");
    cr_assert_eq(after->workers, 4, "restart-only: running value");
    cr_assert_eq(after->max_clients, 77);
    cr_assert_eq(after->cache_ttl_ms, 2000);
    cr_assert_eq(after->http_writes, 1);
    for (int i = 0; i < PROXY_KINDS; i++) {
        cr_assert_eq(atomic_load(&px.kinds[i].idle_timeout_ms), 5000);
        cr_assert_eq(atomic_load(&px.kinds[i].request_timeout_ms), 2000);
        cr_assert_eq(atomic_load(&px.kinds[i].send_timeout_ms), 3000);
    }
    cr_assert_eq(atomic_load(&px.clients.max), 77);
    cache_stats(px.cache, &st);
    cr_assert_eq(st.capacity, 10);
    cr_assert_eq(st.max_memory, 1 << 20);
    cr_assert(log_enabled(CONFIG_LOG_DEBUG));
    cr_assert_eq(reloads(1), 1);
    cr_assert_eq(reloads(0), 0);
    /* Where each applied key was set follows it; a kept one keeps its. */
    cr_assert_str_eq(config_from(after, "cache", "ttl"), at(9));
    cr_assert_str_eq(config_from(after, "server", "http_port"), at(2));
    finish();
}

Test(reload, invalid_file_changes_nothing)
{
    struct reload_source src;
    const struct config *before;
    struct cache_stats st;

    start("[cache]\nttl = 1h\ncapacity = 100\n", NULL, 0, &src);
    before = proxy_cfg(&px);
    write_file("[cache]\nttl = 2s\ncapacity = 10\nnope = 1\n");
    cr_assert_eq(reload_settings(&px, &src), -1);
    cr_assert_eq(proxy_cfg(&px), before);
    cache_stats(px.cache, &st);
    cr_assert_eq(st.capacity, 100);
    cr_assert_eq(reloads(0), 1);
    cr_assert_eq(reloads(1), 0);
    unlink(path);
    cr_assert_eq(reload_settings(&px, &src), -1, "a missing file");
    cr_assert_eq(proxy_cfg(&px), before);
    cr_assert_eq(reloads(0), 2);
    write_file("[cache]\nttl = 2s\n");
    cr_assert_eq(reload_settings(&px, &src), 0);
    cr_assert_eq(proxy_cfg(&px)->cache_ttl_ms, 2000);
    cr_assert_eq(proxy_cfg(&px)->cache_capacity, 10000, "back to default");
    cr_assert_eq(reloads(1), 1);
    finish();
}

Test(reload, s_overrides_win_on_every_reload)
{
    char *sets[] = {"cache.ttl=7s", "server.workers=2"};
    struct reload_source src;

    start("[server]\nworkers = 4\n[cache]\nttl = 1h\n", sets, 2, &src);
    cr_assert_eq(proxy_cfg(&px)->cache_ttl_ms, 7000);
    write_file("[server]\nworkers = 6\n[cache]\nttl = 2h\ncapacity = 5\n");
    cr_assert_eq(reload_settings(&px, &src), 0);
    cr_assert_eq(proxy_cfg(&px)->cache_ttl_ms, 7000);
    cr_assert_eq(proxy_cfg(&px)->cache_capacity, 5);
    cr_assert_eq(proxy_cfg(&px)->workers, 2);
    finish();
}

/* A thread that took a snapshot and holds it (no quiescent state yet). */
struct holder {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int step;       /* 1 took it, 2 may let go, 3 let go, 4 may exit */
    int64_t ttl_ms; /* what it read from its snapshot after the reloads */
};

static void
holder_wait(struct holder *h, int step)
{
    pthread_mutex_lock(&h->lock);
    while (h->step < step) {
        pthread_cond_wait(&h->cv, &h->lock);
    }
    pthread_mutex_unlock(&h->lock);
}

static void
holder_step(struct holder *h, int step)
{
    pthread_mutex_lock(&h->lock);
    h->step = step;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->lock);
}

static void *
holder_main(void *arg)
{
    struct holder *h = arg;
    const struct config *cfg = proxy_cfg(&px); /* a reader from now on */

    holder_step(h, 1);
    holder_wait(h, 2);
    h->ttl_ms = cfg->cache_ttl_ms; /* still its own snapshot */
    qsbr_quiescent();
    holder_step(h, 3);
    holder_wait(h, 4);
    return NULL;
}

static void
reload_ttl(struct reload_source *src, int s)
{
    char text[64];

    snprintf(text, sizeof(text), "[cache]\nttl = %ds\n", s);
    write_file(text);
    cr_assert_eq(reload_settings(&px, src), 0);
}

/* A snapshot a reload replaces is freed once no thread can hold it: kept
 * while a reader that took it has not passed a quiescent state, freed at
 * the next reload after it has; with no other reader, at once. */
Test(reload, replaced_snapshots_are_freed_once_no_reader_holds_them)
{
    struct holder h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                       0};
    struct reload_source src;
    pthread_t th;

    start("[cache]\nttl = 1s\n", NULL, 0, &src);
    for (int i = 0; i < 50; i++) {
        reload_ttl(&src, 2);
        cr_assert_eq(qsbr_pending(&px.config_gc), 0, "no reader holds one");
    }
    cr_assert_eq(pthread_create(&th, NULL, holder_main, &h), 0);
    holder_wait(&h, 1);
    for (int i = 0; i < 20; i++) {
        reload_ttl(&src, i + 3);
    }
    cr_assert_eq(qsbr_pending(&px.config_gc), 20, "the reader may hold any");
    holder_step(&h, 2);
    holder_wait(&h, 3);
    cr_assert_eq(h.ttl_ms, 2000, "a held snapshot stays as it was");
    reload_ttl(&src, 30);
    cr_assert_eq(qsbr_pending(&px.config_gc), 1,
                 "all it had passed are freed; the last one it may hold");
    holder_step(&h, 4);
    pthread_join(th, NULL);
    reload_ttl(&src, 31);
    cr_assert_eq(qsbr_pending(&px.config_gc), 0, "its thread is gone");
    cr_assert_eq(proxy_cfg(&px)->cache_ttl_ms, 31000);
    finish();
}

static rlim_t
soft_limit(void)
{
    struct rlimit rl;

    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    return rl.rlim_cur;
}

Test(reload, fd_limit_raised_for_max_clients_up_to_the_hard_limit)
{
    struct config cfg;
    struct rlimit rl;

    config_defaults(&cfg);
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    cr_assert_geq(rl.rlim_max, 600, "hard limit %lu too low for the test",
                  (unsigned long)rl.rlim_max);
    rl.rlim_cur = 100;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    cfg.max_clients = 300;
    cfg.max_sessions = 100;
    cfg.pool_size = 8;
    reload_fd_limit(&cfg);
    /* Clients, sessions, one node's pipes (two protocols), its stream and
     * monitor, the admin port, 64 more (listeners, eventfds, spares...). */
    cr_assert_eq(soft_limit(),
                 300 + 100 + (2 * 8 + 2) + PROXY_ADMIN_CONNS + 64);
    cfg.max_clients = 10; /* never lowered */
    reload_fd_limit(&cfg);
    cr_assert_eq(soft_limit(),
                 300 + 100 + (2 * 8 + 2) + PROXY_ADMIN_CONNS + 64);
    rl.rlim_cur = 100;
    rl.rlim_max = 500;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    cfg.max_clients = 1000;
    reload_fd_limit(&cfg);
    cr_assert_eq(soft_limit(), 500, "at most the hard limit");
}
