/*
 * hosts: the names a request may be addressed to; see hosts.h.
 */
#include "serve/hosts.h"

#include <string.h>
#include <strings.h>

#include "base/config.h"
#include "serve/proxy.h"

static const char *const loopback[] = {"localhost", "127.0.0.1", "[::1]"};

const char *
hosts_name_of(const char *h, size_t *len)
{
    const char *colon = memrchr(h, ':', *len);

    if (colon == NULL) {
        return h;
    }
    if (h[0] != '[') {
        *len = (size_t)(colon - h); /* "name:8080" */
    } else if (colon[-1] == ']') {
        *len = (size_t)(colon - h); /* "[::1]:8080": after the bracket */
    }
    return h;
}

static int
same(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

/* 1 when name is bind: as written, or in brackets when it is an IPv6
 * address. */
static int
is_bind(const char *bind, const char *name, size_t len)
{
    size_t blen = strlen(bind);

    if (same(bind, blen, name, len)) {
        return 1;
    }
    return memchr(bind, ':', blen) != NULL && len == blen + 2 &&
           name[0] == '[' && name[len - 1] == ']' &&
           strncasecmp(name + 1, bind, blen) == 0;
}

/* 1 when item (from allowed_hosts) matches name. */
static int
matches(const char *item, size_t ilen, const char *name, size_t len)
{
    if (item[0] != '.') {
        return same(item, ilen, name, len);
    }
    /* ".example.com": example.com and every name under it. */
    return same(item + 1, ilen - 1, name, len) ||
           (len > ilen && same(item, ilen, name + len - ilen, ilen));
}

int
hosts_name_allowed(const struct proxy *px, const char *name, size_t len)
{
    const struct config *cfg = proxy_cfg(px);
    const char *cursor = cfg->http_allowed_hosts, *item;
    size_t ilen, i;

    if (len > 1 && name[len - 1] == '.') {
        len--; /* "localhost." is localhost */
    }
    if (len == 0) {
        return 0;
    }
    for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        if (same(loopback[i], strlen(loopback[i]), name, len)) {
            return 1;
        }
    }
    if (is_bind(cfg->bind, name, len)) {
        return 1;
    }
    while (config_host_next(&cursor, &item, &ilen) == 1) {
        if (matches(item, ilen, name, len)) {
            return 1;
        }
    }
    return 0;
}

int
hosts_allowed(const struct proxy *px, const char *h, size_t len)
{
    if (h == NULL) {
        return 1;
    }
    hosts_name_of(h, &len);
    return hosts_name_allowed(px, h, len);
}
