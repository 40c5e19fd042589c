/*
 * redis: targets and reply helpers; see redis.h.
 */
#include "upstream/redis.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

struct redis_target
redis_target_of(const struct config_ref *ref, struct tls_ctx *tls)
{
    const struct config *cfg = config_get(ref);
    struct redis_target t = {
        .port = cfg->redis_port,
        .db = cfg->redis_db,
        .cfg = ref,
        .tls = tls,
    };

    snprintf(t.host, sizeof(t.host), "%s", cfg->redis_host);
    snprintf(t.user, sizeof(t.user), "%s", cfg->redis_user);
    snprintf(t.password, sizeof(t.password), "%s", cfg->redis_password);
    snprintf(t.tls_name, sizeof(t.tls_name), "%s", cfg->redis_tls_server_name);
    return t;
}

int
redis_reply_is_str(const redisReply *r)
{
    return r != NULL &&
           (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

const redisReply *
redis_reply_map_get(const redisReply *m, const char *key)
{
    size_t i;

    if (m == NULL || m->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    for (i = 0; i + 1 < m->elements; i += 2) {
        if (redis_reply_is_str(m->element[i]) &&
            strcasecmp(m->element[i]->str, key) == 0) {
            return m->element[i + 1];
        }
    }
    return NULL;
}
