/*
 * config: the proxy's settings, loaded from an INI file (inih) and from
 * "-s SECTION.KEY=VALUE" overrides, validated, printed back, and compared
 * (for a reload on SIGHUP).
 *
 * Table-driven (after twemproxy's nc_conf.c): each key is one row of
 * {section, name, kind, offsetof(struct config, field), sizeof(field), min,
 * max, default, flags} (config_table.c), and each kind of value (integer,
 * port, duration, size, bool, string, ...) has one setter and one formatter;
 * a setter parses one value and returns NULL or an error string. Every error
 * names where the value came from: "FILE:LINE: ..." for the file, "-s ARG:
 * ..." for an override. Unknown sections and keys are errors. [users],
 * whose keys are user names, is parsed apart (config_users.c). Not
 * thread-safe while loading; read-only (and so shareable) afterwards.
 */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H

#include <assert.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "base/qsbr.h"

#define CONFIG_ERR_MAX 512
#define CONFIG_KEYS 59             /* keys in all sections: rows of the table */
#define CONFIG_FROM_MAX 96         /* bytes of one "where it was set" text */
#define CONFIG_MAX_CLIENTS 1000000 /* the largest [server] max_clients */
#define CONFIG_USERS_MAX 64        /* [users] entries at most */
#define CONFIG_USER_MAX 64         /* bytes of a user name, NUL included */
#define CONFIG_HASH_LEN 32         /* bytes of a password digest (pwhash.h) */

/* [server] tls_verify_clients; the values of net/tls.h's enum tls_verify. */
enum config_tls_verify {
    CONFIG_TLS_VERIFY_OFF,      /* no client certificate asked for */
    CONFIG_TLS_VERIFY_OPTIONAL, /* asked for, checked when sent */
    CONFIG_TLS_VERIFY_ON,       /* required and checked */
};

/* [redis] read_from: where read-only commands and cache fills go. */
enum config_read_from {
    CONFIG_READ_MASTER,         /* the master only */
    CONFIG_READ_REPLICA,        /* replicas; an error when none is usable */
    CONFIG_READ_PREFER_REPLICA, /* replicas; the master when none is */
};

/* A [users] entry's permission. */
enum config_perm {
    CONFIG_PERM_READ,  /* the cache and read-only commands */
    CONFIG_PERM_WRITE, /* everything */
};

/* One client user ([users] NAME = PERMISSION HASH). */
struct config_user {
    char name[CONFIG_USER_MAX];          /* letters, digits, - _ . @ */
    int perm;                            /* enum config_perm */
    unsigned char hash[CONFIG_HASH_LEN]; /* SHA-256 of the password */
};

enum config_log_level {
    CONFIG_LOG_ERROR,
    CONFIG_LOG_WARN,
    CONFIG_LOG_INFO,
    CONFIG_LOG_DEBUG,
};

/*
 * All settings. Durations are milliseconds, sizes bytes. Strings are
 * NUL-terminated. Booleans are 0 or 1.
 */
struct config {
    /* [server] */
    char bind[256];             /* address both listeners bind to */
    int http_port;              /* 1..65535 */
    int resp_port;              /* 0 = off, else 1..65535 */
    int workers;                /* 1..1024 worker threads */
    int max_clients;            /* 1..CONFIG_MAX_CLIENTS open client conns */
    int64_t idle_timeout_ms;    /* > 0 */
    int64_t request_timeout_ms; /* > 0 */
    char server_password[256];  /* clients must authenticate; "" = off */
    int max_sessions;           /* 0..100000 private Redis connections */
    int64_t send_timeout_ms;    /* > 0: unsent responses, then close */
    int64_t max_request;        /* 1kb..512mb: largest RESP command */
    char server_password_file[256];  /* the password is this file's text
                                        (config_build reads it into
                                        server_password); "" = none */
    int protected_mode;              /* 1 = refuse a bind that is not
                                        loopback without a password */
    int64_t max_output;              /* reply bytes held for one client at
                                        most; 0 = no limit */
    int64_t session_idle_timeout_ms; /* a session idle this long is closed;
                                        0 = never */
    int tls_port;                    /* RESP over TLS; 0 = off, else 1..65535 */
    char tls_cert_file[256];         /* PEM certificate of every TLS listener */
    char tls_key_file[256];          /* its private key */
    char tls_ca_file[256];           /* CA of client certificates; "" = none */
    int tls_verify_clients;          /* enum config_tls_verify */
    char tls_ciphers[256];           /* TLS 1.2 cipher list; "" = OpenSSL's */
    char tls_ciphersuites[256];      /* TLS 1.3 cipher suites; "" = OpenSSL's */
    /* [redis] */
    char redis_host[256];
    int redis_port;             /* 1..65535 */
    char redis_password[256];   /* "" = no AUTH */
    int redis_db;               /* 0.. ; SELECT when not 0 */
    int pool_size;              /* 1..1024 */
    int64_t connect_timeout_ms; /* > 0 */
    int64_t command_timeout_ms; /* > 0: a cache fill */
    int64_t forward_timeout_ms; /* a forwarded command; 0 = none */
    int cluster;                /* 1 = host:port and seeds are cluster nodes */
    char seeds[256];            /* "host:port, ..." (config_seed_next); "" */
    int64_t cluster_refresh_ms; /* > 0: period of slot map refreshes */

    /* [redis]: the ACL user, and TLS towards Redis */
    char redis_user[256];          /* AUTH user password; "" = AUTH password */
    int redis_tls;                 /* 1 = TLS towards Redis */
    char redis_tls_ca_file[256];   /* CA of Redis's certificate; "" = the
                                      system's store */
    char redis_tls_cert_file[256]; /* client certificate (mutual TLS) */
    char redis_tls_key_file[256];  /* its private key */
    char redis_tls_server_name[256]; /* SNI and the name verified; "" =
                                        the host connected to */
    int redis_tls_verify;            /* 0 = Redis's certificate unchecked */

    /* [redis]: Sentinel, and where reads go */
    char sentinels[256];         /* "host:port, ..." of Redis Sentinels
                                    (config_seed_next); "" = none */
    char master_name[256];       /* the master the sentinels watch */
    char sentinel_user[256];     /* AUTH user for the sentinels; "" */
    char sentinel_password[256]; /* AUTH password for them; "" = none */
    int read_from;               /* enum config_read_from */
    /* [cache] */
    int64_t cache_ttl_ms;     /* 0 = no expiry */
    long cache_capacity;      /* 0 = cache off; at most 100000000 */
    int cache_tracking;       /* 1 = invalidate through CLIENT TRACKING */
    int64_t cache_stale_ms;   /* stale_if_error window; 0 = never stale */
    int64_t cache_max_memory; /* bytes of entries at most; 0 = no limit */
    int64_t cache_max_value;  /* 1b..512mb: larger values are not cached */
    /* [http] */
    int http_writes;       /* 1 = PUT and DELETE write through to Redis */
    int64_t http_max_body; /* 1b..512mb: largest PUT body */
    char http_allowed_hosts[256]; /* more names a Host header may carry
                                     without a password (config_host_next)
                                     besides loopback and bind; "" */
    int http_tls;                 /* 1 = HTTPS on http_port */
    /* [admin] */
    int admin_port; /* 0 = off, else 1..65535 */
    int admin_tls;  /* 1 = HTTPS on the admin port */
    /* [log] */
    int log_level;  /* enum config_log_level */
    int log_access; /* 1 = one line per request */
    /* [users]: client users, in the order they were first set; live */
    int nusers;
    struct config_user users[CONFIG_USERS_MAX];
    /* Not a setting: where each key was last set, as "FILE:LINE" or
     * "-s ARG" (a secret's as "-s SECTION.KEY=***"), "" for the built-in
     * default; in the order config_print prints the keys. For
     * config_check's errors. */
    char from[CONFIG_KEYS][CONFIG_FROM_MAX];
};

/*
 * The settings a running proxy uses now. A reload (SIGHUP) publishes a new
 * struct config here; readers load the pointer once per request and use
 * that snapshot. A published config is never changed; one a reload
 * replaced is freed through gc (qsbr.h) once every thread that reads the
 * settings has passed a quiescent state (a worker between connections,
 * the keeper, tracking, sentinel and replicas threads while they wait),
 * so a snapshot stays
 * valid for as long as its reader works on one request.
 */
struct config_ref {
    _Atomic(const struct config *) cur;
    struct qsbr *gc; /* frees replaced snapshots; NULL: the owner keeps
                        every one (tests) */
};

/* The current settings: valid until the calling thread's next quiescent
 * state (qsbr_quiescent) or offline period. Thread-safe; lock-free. */
static inline const struct config *
config_get(const struct config_ref *ref)
{
    if (ref->gc != NULL) {
        qsbr_read(ref->gc);
        assert(qsbr_online_in(ref->gc)); /* not while offline */
    }
    return atomic_load_explicit(&ref->cur, memory_order_acquire);
}

/* Copies every key that can change on a running proxy (config_key_live)
 * from src into dst, leaving the others as they are: what a reload
 * applies. */
void config_apply_live(struct config *dst, const struct config *src);

/*
 * The whole of a proxy's settings from their sources: the built-in
 * defaults, then the file at path (NULL: none), then each "-s" argument
 * of sets[0..nsets), then config_check. At start and on every reload.
 * Returns 0, or -1 with the first error in err (naming FILE:LINE or the
 * -s argument); cfg is then undefined.
 */
int config_build(struct config *cfg, const char *path, char *const *sets,
                 int nsets, char *err, size_t errlen);

/*
 * Reads [server] password_file, when set, into server_password: the file's
 * bytes without one trailing newline (LF or CRLF). An unreadable or empty
 * file, one with a NUL or a newline inside, one longer than 255 bytes, or
 * a password set as well, is an error that starts with where
 * password_file was set. Returns 0 or -1. Part of config_build.
 */
int config_read_secrets(struct config *cfg, char *err, size_t errlen);

/* 1 when "-s" argument arg sets a secret (a password): its value is to be
 * hidden wherever the command line shows. */
int config_set_is_secret(const char *arg);

/*
 * Iterates an allowed_hosts list ("name, .domain, [::1]": blanks around
 * items; each an exact host name or address, or one starting with '.',
 * which also matches every name under it). Start with *cursor at the
 * string. Returns 1 with the next item in *item[0..*len) (into the string)
 * and *cursor moved past it, 0 at the end, or -1 when the next item is
 * malformed (never for a list config accepted). Pure.
 */
int config_host_next(const char **cursor, const char **item, size_t *len);

/* Fills cfg with the built-in defaults (the README's configuration table). */
void config_defaults(struct config *cfg);

/*
 * Applies every key of the INI file at path on top of cfg. Returns 0, or -1
 * with a message in err[0..errlen) that starts with "PATH:LINE: " (or
 * "PATH: " when the file cannot be read); cfg is unchanged on error. A key
 * set twice in one file is an error naming both lines.
 */
int config_load_file(struct config *cfg, const char *path, char *err,
                     size_t errlen);

/*
 * Applies one "SECTION.KEY=VALUE" override. Returns 0, or -1 with a message
 * in err that starts with "-s ARG: " ("-s SECTION.KEY=***: " for a secret).
 */
int config_set(struct config *cfg, const char *arg, char *err, size_t errlen);

/* Where section.name was last set ("FILE:LINE", "-s ARG", or "" for the
 * default), or NULL for a key that does not exist. Valid while cfg is. */
const char *config_from(const struct config *cfg, const char *section,
                        const char *name);

/*
 * Checks what no single key can (config_check.c): the listeners' ports
 * differ (those not 0), seeds are set only with cluster = on, a cluster
 * uses db 0, sentinels are not combined with cluster = on and need a
 * master_name, and bind resolves to an address. Call after the file and every
 * -s. Returns 0, or -1 with a message in err that starts with where the
 * offending key was set ("FILE:LINE: " or "-s ARG: ", "defaults: " for a
 * default) and, for a clash, names the other key and where it was set.
 */
int config_check(const struct config *cfg, char *err, size_t errlen);

/*
 * Parses a duration: a non-negative integer with an optional unit ms, s, m,
 * h (bare = seconds). Returns 0 with *ms set, or -1 (*ms untouched).
 * Exposed for tests.
 */
int config_parse_duration(const char *s, int64_t *ms);

/*
 * Parses a size: a non-negative integer with an optional unit b, kb, mb, gb
 * (powers of 1024; bare = bytes), overflow checked. Returns 0 with *bytes
 * set, or -1 (*bytes untouched). Exposed for tests.
 */
int config_parse_size(const char *s, int64_t *bytes);

/*
 * Iterates a seeds list ("host:port, host:port", blanks around items; an
 * IPv6 host in brackets, "[::1]:7000", is returned without them). Start with
 * *cursor at the string. Returns 1 with the next seed in host[0..hostlen)
 * and *port (1..65535) and *cursor moved past it, 0 at the end, or -1 when
 * the next item is malformed or its host does not fit hostlen (never for a
 * list config accepted, with hostlen >= 256). Pure: no allocation, no
 * state besides *cursor.
 */
int config_seed_next(const char **cursor, char *host, size_t hostlen,
                     int *port);

/* The [users] entry named name[0..len) (case-sensitive), or NULL. */
const struct config_user *config_user_find(const struct config *cfg,
                                           const char *name, size_t len);

/* Prints the effective settings as an INI file, secrets masked as "***";
 * [users] (when it has entries) last, with their hashes. */
void config_print(const struct config *cfg, FILE *out);

/* Writes the effective settings as one line of "section.key=value" pairs
 * (secrets masked; [users] as users=NAME:PERMISSION,... without hashes)
 * into buf[0..len), for the startup log. */
void config_format_line(const struct config *cfg, char *buf, size_t len);

/*
 * For a reload: calls fn once per key whose value differs between old and
 * new, in table (config_print) order, with both values as config_print
 * writes them (a set secret as "***") and live = 1 when the key can change
 * on a running proxy (config_key_live), 0 when it needs a restart; then
 * once per [users] entry added, removed or changed (section "users", the
 * user's name, its permission as text, never its hash: "write" and
 * "write, new password"; "" for none; live). The texts are valid during
 * the call only. Calls nothing when they are equal.
 */
void config_diff(const struct config *old, const struct config *new,
                 void (*fn)(void *arg, const char *section, const char *name,
                            const char *old_text, const char *new_text,
                            int live),
                 void *arg);

/* 1 when section.name can change on a running proxy (SIGHUP), 0 when it
 * needs a restart or is no key. Every [users] name is live. */
int config_key_live(const char *section, const char *name);

#endif
