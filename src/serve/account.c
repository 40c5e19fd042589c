/*
 * account: request accounting and Redis-error classification; see
 * account.h.
 */
#include "serve/account.h"

#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "serve/proxy.h"

static const char *const cache_names[] = {"hit", "miss", "stale"};
static const char *const listener_protos[] = {"http", "resp", "admin"};

void
account_request(struct proxy *px, const struct account_req *r)
{
    int64_t us = util_now_us() - r->start_us;
    char method[16 * 4 + 1]; /* 16 bytes of the name, each maybe \xHH */

    metrics_request(&px->metrics, r->listener, r->status);
    if (r->cache == ACCOUNT_HIT) {
        metrics_observe(&px->metrics.hit, us);
    } else if (r->cache != ACCOUNT_NONE) {
        metrics_observe(&px->metrics.miss, us); /* Redis was asked */
    }
    /* Scrapes are not logged: one line per scrape would drown the log. */
    if (proxy_cfg(px)->log_access && r->listener != METRICS_ADMIN) {
        /* The name as sent, escaped: a client chooses its bytes. */
        log_field(method, sizeof(method), r->method,
                  r->method_len < 16 ? r->method_len : 16);
        log_info("msg=\"access\" proto=%s method=%s status=%d cache=%s "
                 "key_len=%zu bytes=%zu us=%lld",
                 listener_protos[r->listener], method, r->status,
                 r->cache == ACCOUNT_NONE ? "none" : cache_names[r->cache],
                 r->key_len, r->bytes, (long long)us);
    }
}

int
account_redis_error_status(const char *err)
{
    static const char *const transient[] = {"LOADING", "BUSY", "MASTERDOWN",
                                            "TRYAGAIN"};
    size_t i;

    if (strncmp(err, "WRONGTYPE", 9) == 0 &&
        (err[9] == ' ' || err[9] == '\0')) {
        return 409;
    }
    for (i = 0; i < RP_ARRAY_LEN(transient); i++) {
        size_t n = strlen(transient[i]);

        if (strncmp(err, transient[i], n) == 0 &&
            (err[n] == ' ' || err[n] == '\0')) {
            return 503;
        }
    }
    return 502;
}
