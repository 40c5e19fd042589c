/*
 * config_check: the checks no single key can make (config.h): listeners on
 * distinct ports, seeds and db that fit [redis] cluster, sentinels that
 * fit it too, the TLS keys that go together, a bind address that resolves, and
 * protected mode (after Redis's): no password on an address others can reach,
 * unless protected_mode = off says the operator means it. Kept apart from the
 * table-driven loader in config.c, which knows one key at a time. Every error
 * starts where the offending key was set, as the loader's do.
 */
#include "base/config.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
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

/* 1 when ai is a loopback address: 127.0.0.0/8, ::1, or an IPv4-mapped
 * 127.x address. */
static int
config_loopback(const struct addrinfo *ai)
{
    if (ai->ai_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ai->ai_addr;

        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ai->ai_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ai->ai_addr;
        const unsigned char *b = a->sin6_addr.s6_addr;

        return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && b[12] == 127);
    }
    return 0;
}

/* Protected mode: every address bind resolves to (res) is loopback, or
 * clients need a password ([server] password, or [users]), or the
 * operator turned the check off. */
static int
config_check_protected(const struct config *cfg, const struct addrinfo *res,
                       char *err, size_t errlen)
{
    const struct addrinfo *ai;

    if (!cfg->protected_mode || cfg->server_password[0] != '\0' ||
        cfg->nusers > 0) {
        return 0;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (!config_loopback(ai)) {
            snprintf(err, errlen,
                     "%s: [server] bind: '%s' is not a loopback address and "
                     "no [server] password (or password_file) nor [users] "
                     "is set, so "
                     "anyone who reaches it could run Redis commands; set a "
                     "password, bind to 127.0.0.1, or set [server] "
                     "protected_mode = off if that is meant",
                     config_check_from(cfg, "server", "bind"), cfg->bind);
            return -1;
        }
    }
    return 0;
}

/* A listener speaking TLS needs the certificate and its key; verifying
 * client certificates needs the CA they are verified against. */
static int
config_check_tls_listeners(const struct config *cfg, char *err, size_t errlen)
{
    static const char *const on[][2] = {
        {"server", "tls_port"}, {"http", "tls"}, {"admin", "tls"}};
    const int used[] = {cfg->tls_port != 0, cfg->http_tls,
                        cfg->admin_tls && cfg->admin_port != 0};

    for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
        if (used[i] &&
            (cfg->tls_cert_file[0] == '\0' || cfg->tls_key_file[0] == '\0')) {
            snprintf(err, errlen,
                     "%s: [%s] %s: a TLS listener needs [server] "
                     "tls_cert_file and tls_key_file",
                     config_check_from(cfg, on[i][0], on[i][1]), on[i][0],
                     on[i][1]);
            return -1;
        }
    }
    if (cfg->tls_verify_clients != CONFIG_TLS_VERIFY_OFF &&
        cfg->tls_ca_file[0] == '\0') {
        snprintf(err, errlen,
                 "%s: [server] tls_verify_clients: needs tls_ca_file, the CA "
                 "client certificates are verified against",
                 config_check_from(cfg, "server", "tls_verify_clients"));
        return -1;
    }
    return 0;
}

/* The [redis] tls_* keys mean something only with tls = on (as seeds
 * only with cluster = on), and a client certificate needs its key. */
static int
config_check_redis_tls(const struct config *cfg, char *err, size_t errlen)
{
    const struct {
        const char *name;
        int set; /* differs from its default */
    } keys[] = {
        {"tls_ca_file", cfg->redis_tls_ca_file[0] != '\0'},
        {"tls_cert_file", cfg->redis_tls_cert_file[0] != '\0'},
        {"tls_key_file", cfg->redis_tls_key_file[0] != '\0'},
        {"tls_server_name", cfg->redis_tls_server_name[0] != '\0'},
        {"tls_verify", !cfg->redis_tls_verify},
    };

    for (size_t i = 0; !cfg->redis_tls && i < sizeof(keys) / sizeof(keys[0]);
         i++) {
        if (keys[i].set) {
            snprintf(err, errlen, "%s: [redis] %s: only used with tls = on",
                     config_check_from(cfg, "redis", keys[i].name),
                     keys[i].name);
            return -1;
        }
    }
    if (keys[1].set != keys[2].set) {
        const char *key = keys[1].set ? "tls_cert_file" : "tls_key_file";

        snprintf(err, errlen,
                 "%s: [redis] %s: a client certificate needs both "
                 "tls_cert_file and tls_key_file",
                 config_check_from(cfg, "redis", key), key);
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
        {"server", "tls_port", cfg->tls_port},
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
        config_check_tls_listeners(cfg, err, errlen) < 0 ||
        config_check_redis_tls(cfg, err, errlen) < 0 ||
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
    rc = config_check_protected(cfg, res, err, errlen);
    freeaddrinfo(res);
    return rc;
}
