/*
 * fetch: cache, then Redis; see fetch.h. The pooled Redis call happens with
 * no cache lock held; the value is copied once, into the new entry.
 */
#include "fetch.h"

#include "http.h"

int
fetch_get(struct proxy *px, const char *key, size_t klen,
          struct fetch_result *out)
{
    struct upstream_value v;
    int rc;

    out->entry = cache_get(px->cache, key, klen);
    if (out->entry != NULL) {
        return FETCH_HIT;
    }
    rc = upstream_get(px->up, key, klen, &v, out->err);
    switch (rc) {
    case UPSTREAM_OK:
        break;
    case UPSTREAM_NIL:
        return FETCH_NOTFOUND;
    case UPSTREAM_EREPLY:
        return FETCH_EREPLY;
    case UPSTREAM_ETIMEOUT:
        return FETCH_ETIMEOUT;
    default:
        return FETCH_EDOWN;
    }
    out->entry = cache_entry_create(px->cache, key, klen, v.data, v.len);
    if (out->entry == NULL) {
        upstream_value_free(&v);
        return FETCH_ENOMEM;
    }
    if (http_is_utf8(v.data, v.len)) {
        out->entry->flags |= FETCH_FLAG_UTF8;
    }
    upstream_value_free(&v);
    cache_put(px->cache, out->entry);
    return FETCH_MISS;
}
