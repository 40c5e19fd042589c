/*
 * reload: settings read again on SIGHUP; see reload.h.
 */
#include "serve/reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/log.h"
#include "cache/cache.h"
#include "serve/proxy.h"

/* A published snapshot, kept until exit. */
struct reload_kept {
    struct reload_kept *prev;
    struct config cfg;
};

static struct config *
kept_new(struct proxy *px)
{
    struct reload_kept *k = malloc(sizeof(*k));

    if (k == NULL) {
        return NULL;
    }
    k->prev = px->configs;
    px->configs = k;
    return &k->cfg;
}

/* The services that keep their own copy of a live setting. */
static void
push(struct proxy *px, const struct config *cfg)
{
    int i;

    cache_set_limits(px->cache, cfg->cache_capacity, cfg->cache_max_memory,
                     cfg->cache_ttl_ms, cfg->cache_stale_ms);
    for (i = 0; i < PROXY_KINDS; i++) {
        atomic_store(&px->kinds[i].idle_timeout_ms, cfg->idle_timeout_ms);
        atomic_store(&px->kinds[i].request_timeout_ms, cfg->request_timeout_ms);
        atomic_store(&px->kinds[i].send_timeout_ms, cfg->send_timeout_ms);
    }
    atomic_store(&px->clients.max, cfg->max_clients);
    log_set_level(cfg->log_level);
}

int
reload_start(struct proxy *px, const struct reload_source *src, char *err,
             size_t errlen)
{
    struct config *first = kept_new(px);

    if (first == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (config_build(first, src->path, src->sets, src->nsets, err, errlen) <
        0) {
        return -1;
    }
    atomic_store(&px->cfg.cur, first);
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
    char err[CONFIG_ERR_MAX];
    int restart = 0;

    if (fresh == NULL ||
        config_build(fresh, src->path, src->sets, src->nsets, err,
                     sizeof(err)) < 0 ||
        (next = kept_new(px)) == NULL) {
        log_error("msg=\"config reload failed; settings unchanged\" "
                  "error=\"%s\"",
                  fresh == NULL ? "out of memory" : err);
        atomic_fetch_add_explicit(&px->metrics.reloads_failed, 1,
                                  memory_order_relaxed);
        free(fresh);
        return -1;
    }
    config_diff(cur, fresh, log_change, &restart);
    /* The running values of restart-only keys, the file's of live ones. */
    *next = *cur;
    config_apply_live(next, fresh);
    free(fresh);
    atomic_store(&px->cfg.cur, next);
    push(px, next);
    atomic_fetch_add_explicit(&px->metrics.reloads_ok, 1, memory_order_relaxed);
    log_info("msg=\"config reloaded\" path=%s restart_needed=%d",
             src->path != NULL ? src->path : "(defaults)", restart);
    return 0;
}

void
reload_release(struct proxy *px)
{
    while (px->configs != NULL) {
        struct reload_kept *k = px->configs;

        px->configs = k->prev;
        free(k);
    }
    atomic_store(&px->cfg.cur, NULL);
}
