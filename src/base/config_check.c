/*
 * config_check: the checks no single key can make (config.h): listeners on
 * distinct ports, seeds and db that fit [redis] cluster, sentinels that
 * fit it too, and a bind address that resolves. Kept apart from the
 * table-driven loader in config.c, which knows one key at a time. Every error
 * starts where the offending key was set, as the loader's do.
 */
#include "base/config.h"

#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>

/* A listener's port key, for config_check. */
struct config_port {
    const char *section;
    const char *name;
    int port; /* 0 = that listener is off */
};

/*
 * Fails when the ports of a and b (both on) are equal. The error is
 * reported where b was set, or where a was if b kept its default, and
 * names the other key and where it was set.
 */
static int
config_check_ports(const struct config *cfg, const struct config_port *a,
                   const struct config_port *b, char *err, size_t errlen)
{
    const struct config_port *at, *other;
    const char *from, *other_from;

    if (a->port == 0 || b->port == 0 || a->port != b->port) {
        return 0;
    }
    at = *config_from(cfg, b->section, b->name) != '\0' ? b : a;
    other = at == b ? a : b;
    from = config_from(cfg, at->section, at->name);
    other_from = config_from(cfg, other->section, other->name);
    snprintf(err, errlen, "%s: [%s] %s: port %d is also [%s] %s (%s)",
             *from != '\0' ? from : "defaults", at->section, at->name, at->port,
             other->section, other->name,
             *other_from != '\0' ? other_from : "the default");
    return -1;
}

/* Where section.name was set, for the start of an error. */
static const char *
config_check_from(const struct config *cfg, const char *section,
                  const char *name)
{
    const char *from = config_from(cfg, section, name);

    return *from != '\0' ? from : "defaults";
}

/* Seeds only mean something to a cluster, and a cluster has only db 0. */
static int
config_check_cluster(const struct config *cfg, char *err, size_t errlen)
{
    if (!cfg->cluster && cfg->seeds[0] != '\0') {
        snprintf(err, errlen, "%s: [redis] seeds: only used with cluster = on",
                 config_check_from(cfg, "redis", "seeds"));
        return -1;
    }
    if (cfg->cluster && cfg->redis_db != 0) {
        snprintf(err, errlen,
                 "%s: [redis] db: a Redis Cluster has only database 0",
                 config_check_from(cfg, "redis", "db"));
        return -1;
    }
    return 0;
}

/* Sentinels name the master of a standalone Redis, by its name. */
static int
config_check_sentinels(const struct config *cfg, char *err, size_t errlen)
{
    if (cfg->sentinels[0] == '\0') {
        return 0;
    }
    if (cfg->cluster) {
        snprintf(err, errlen,
                 "%s: [redis] sentinels: a Redis Cluster fails over by "
                 "itself; sentinels are for cluster = off",
                 config_check_from(cfg, "redis", "sentinels"));
        return -1;
    }
    if (cfg->master_name[0] == '\0') {
        snprintf(err, errlen,
                 "%s: [redis] master_name: the sentinels need the name of "
                 "the master they watch",
                 config_check_from(cfg, "redis", "master_name"));
        return -1;
    }
    return 0;
}

int
config_check(const struct config *cfg, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    const struct config_port ports[] = {
        {"server", "http_port", cfg->http_port},
        {"server", "resp_port", cfg->resp_port},
        {"admin", "port", cfg->admin_port},
    };
    struct addrinfo *res = NULL;
    size_t i, j;
    int rc;

    for (j = 1; j < sizeof(ports) / sizeof(ports[0]); j++) {
        for (i = 0; i < j; i++) {
            if (config_check_ports(cfg, &ports[i], &ports[j], err, errlen) <
                0) {
                return -1;
            }
        }
    }
    if (config_check_cluster(cfg, err, errlen) < 0 ||
        config_check_sentinels(cfg, err, errlen) < 0) {
        return -1;
    }
    rc = getaddrinfo(cfg->bind, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s: [server] bind: cannot resolve '%s': %s",
                 config_check_from(cfg, "server", "bind"), cfg->bind,
                 gai_strerror(rc));
        return -1;
    }
    freeaddrinfo(res);
    return 0;
}
