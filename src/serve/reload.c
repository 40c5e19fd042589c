/*
 * reload: settings read again on SIGHUP; see reload.h.
 */
#include "serve/reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/config.h"
#include "base/log.h"
#include "cache/cache.h"
#include "net/tls.h"
#include "net/worker.h"
#include "serve/proxy.h"
#include "serve/tls_conf.h"
#include "upstream/nodes.h"

/* Descriptors besides connections: listeners, epoll, eventfds, the
 * signalfd, spares, sentinels, the log. */
#define RELOAD_FD_SPARE 64

void
reload_fd_limit(const struct config *cfg)
{
    /* Every Redis node may have its pipes for both protocols, its
     * invalidation stream and the replica monitor's connection; there is
     * one node standalone, up to NODES_MAX otherwise. */
    rlim_t nodes = cfg->cluster || cfg->sentinels[0] != '\0' ||
                           cfg->read_from != CONFIG_READ_MASTER
                       ? NODES_MAX
                       : 1;
    struct rlimit rl;
    rlim_t need = (rlim_t)cfg->max_clients + (rlim_t)cfg->max_sessions +
                  nodes * (2 * (rlim_t)cfg->pool_size + 2) + PROXY_ADMIN_CONNS +
                  RELOAD_FD_SPARE;

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

/* The services that keep their own copy of a live setting; old: the
 * settings they had. */
static void
push(struct proxy *px, const struct config *old, const struct config *cfg)
{
    int i;

    cache_set_limits(px->cache, cfg->cache_capacity, cfg->cache_max_memory,
                     cfg->cache_ttl_ms, cfg->cache_stale_ms);
    for (i = 0; i < PROXY_KINDS; i++) {
        atomic_store(&px->kinds[i].idle_timeout_ms, cfg->idle_timeout_ms);
        atomic_store(&px->kinds[i].request_timeout_ms, cfg->request_timeout_ms);
        atomic_store(&px->kinds[i].send_timeout_ms, cfg->send_timeout_ms);
        atomic_store(&px->kinds[i].max_output, cfg->max_output);
        atomic_store(&px->kinds[i].session_idle_ms,
                     cfg->session_idle_timeout_ms);
    }
    atomic_store(&px->kinds[PROXY_ADMIN].first_byte_ms,
                 cfg->request_timeout_ms);
    /* Conns already waiting follow the new timeouts too, not only those
     * parked from now on. */
    if (px->workers != NULL &&
        (old->idle_timeout_ms != cfg->idle_timeout_ms ||
         old->request_timeout_ms != cfg->request_timeout_ms ||
         old->send_timeout_ms != cfg->send_timeout_ms ||
         old->session_idle_timeout_ms != cfg->session_idle_timeout_ms)) {
        worker_pool_retime(px->workers);
    }
    if (cfg->max_clients > old->max_clients) {
        reload_fd_limit(cfg);
    }
    atomic_store(&px->clients.max, cfg->max_clients);
    log_set_level(cfg->log_level);
}

int
reload_start(struct proxy *px, const struct reload_source *src, char *err,
             size_t errlen)
{
    struct config *first = malloc(sizeof(*first));

    if (first == NULL || qsbr_init(&px->config_gc) < 0) {
        snprintf(err, errlen, "out of memory");
        free(first);
        return -1;
    }
    px->cfg.gc = &px->config_gc;
    atomic_store(&px->cfg.cur, first);
    if (config_build(first, src->path, src->sets, src->nsets, err, errlen) <
        0) {
        return -1;
    }
    return 0;
}

/* config_diff's callback: one line per changed key. */
static void
log_change(void *arg, const char *section, const char *name,
           const char *old_text, const char *new_text, int live)
{
    int *restart = arg;

    if (live) {
        log_info("msg=\"config changed\" key=%s.%s old=\"%s\" new=\"%s\"",
                 section, name, old_text, new_text);
    } else {
        log_warn("msg=\"config change not applied: needs a restart\" "
                 "key=%s.%s running=\"%s\" file=\"%s\"",
                 section, name, old_text, new_text);
        (*restart)++;
    }
}

int
reload_settings(struct proxy *px, const struct reload_source *src)
{
    const struct config *cur = proxy_cfg(px);
    struct config *fresh = malloc(sizeof(*fresh)), *next;
    struct tls_ctx *tls = NULL;
    char err[CONFIG_ERR_MAX];
    int restart = 0;

    /* The certificates are read again whatever changed: a bad one fails
     * the reload, and the running one stays. */
    if (fresh == NULL ||
        config_build(fresh, src->path, src->sets, src->nsets, err,
                     sizeof(err)) < 0 ||
        tls_conf_prepare(cur, fresh, &tls, err, sizeof(err)) < 0 ||
        (next = malloc(sizeof(*next))) == NULL) {
        log_error("msg=\"config reload failed; settings unchanged\" "
                  "error=\"%s\"",
                  fresh == NULL ? "out of memory" : err);
        atomic_fetch_add_explicit(&px->metrics.reloads_failed, 1,
                                  memory_order_relaxed);
        tls_ctx_release(tls);
        free(fresh);
        return -1;
    }
    config_diff(cur, fresh, log_change, &restart);
    /* The running values of restart-only keys, the file's of live ones. */
    *next = *cur;
    config_apply_live(next, fresh);
    free(fresh);
    atomic_store(&px->cfg.cur, next);
    push(px, cur, next);
    tls_conf_install(px, tls);
    /* Freed once every reader has passed a quiescent state (qsbr.h): no
     * request can hold it then. */
    qsbr_retire(&px->config_gc, (void *)cur, free);
    atomic_fetch_add_explicit(&px->metrics.reloads_ok, 1, memory_order_relaxed);
    log_info("msg=\"config reloaded\" path=%s restart_needed=%d",
             src->path != NULL ? src->path : "(defaults)", restart);
    return 0;
}

void
reload_release(struct proxy *px)
{
    if (px->cfg.gc == NULL) {
        return; /* never started */
    }
    free((void *)atomic_load(&px->cfg.cur));
    atomic_store(&px->cfg.cur, NULL);
    qsbr_deinit(&px->config_gc);
    px->cfg.gc = NULL;
}
