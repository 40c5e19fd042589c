/*
 * config: the proxy's settings, loaded from an INI file (inih) and from
 * "-s SECTION.KEY=VALUE" overrides, validated, and printed back.
 *
 * Table-driven (after twemproxy's nc_conf.c): each key is one row of
 * {section, name, setter, offsetof(struct config, field)}; a setter parses
 * one value and returns NULL or an error string. Every error names where the
 * value came from: "FILE:LINE: ..." for the file, "-s ARG: ..." for an
 * override. Unknown sections and keys are errors. Not thread-safe while
 * loading; read-only (and so shareable) afterwards.
 */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define CONFIG_ERR_MAX 512
#define CONFIG_KEYS 21     /* keys in all sections */
#define CONFIG_FROM_MAX 96 /* bytes of one "where it was set" text */

enum config_log_level {
    CONFIG_LOG_ERROR,
    CONFIG_LOG_WARN,
    CONFIG_LOG_INFO,
    CONFIG_LOG_DEBUG,
};

/* All settings. Durations are milliseconds. Strings are NUL-terminated. */
struct config {
    /* [server] */
    char bind[256];             /* address both listeners bind to */
    int http_port;              /* 1..65535 */
    int resp_port;              /* 0 = off, else 1..65535 */
    int workers;                /* 1..1024 worker threads */
    int max_clients;            /* 1..1000000 open client connections */
    int64_t idle_timeout_ms;    /* > 0 */
    int64_t request_timeout_ms; /* > 0 */
    /* [redis] */
    char redis_host[256];
    int redis_port;             /* 1..65535 */
    char redis_password[256];   /* "" = no AUTH */
    int redis_db;               /* 0.. ; SELECT when not 0 */
    int pool_size;              /* 1..1024 */
    int64_t connect_timeout_ms; /* > 0 */
    int64_t command_timeout_ms; /* > 0 */
    /* [cache] */
    int64_t cache_ttl_ms;   /* 0 = no expiry */
    long cache_capacity;    /* 0 = cache off; at most 100000000 */
    int cache_tracking;     /* 1 = invalidate through CLIENT TRACKING */
    int64_t cache_stale_ms; /* stale_if_error window; 0 = never stale */
    /* [admin] */
    int admin_port; /* 0 = off, else 1..65535 */
    /* [log] */
    int log_level;  /* enum config_log_level */
    int log_access; /* 1 = one line per request */
    /* Not a setting: where each key was last set, as "FILE:LINE" or
     * "-s ARG" (a password as "***"), "" for the built-in default; in the
     * order config_print prints the keys. For config_check's errors. */
    char from[CONFIG_KEYS][CONFIG_FROM_MAX];
};

/* Fills cfg with the built-in defaults (the values in CONTRACT.md). */
void config_defaults(struct config *cfg);

/*
 * Applies every key of the INI file at path on top of cfg. Returns 0, or -1
 * with a message in err[0..errlen) that starts with "PATH:LINE: " (or
 * "PATH: " when the file cannot be read). A key set twice in one file is an
 * error naming both lines.
 */
int config_load_file(struct config *cfg, const char *path, char *err,
                     size_t errlen);

/*
 * Applies one "SECTION.KEY=VALUE" override. Returns 0, or -1 with a message
 * in err that starts with "-s ARG: ".
 */
int config_set(struct config *cfg, const char *arg, char *err, size_t errlen);

/* Where section.name was last set ("FILE:LINE", "-s ARG", or "" for the
 * default), or NULL for a key that does not exist. Valid while cfg is. */
const char *config_from(const struct config *cfg, const char *section,
                        const char *name);

/*
 * Checks what no single key can (config_check.c): the listeners' ports differ
 * (those not 0), and bind resolves to an address. Call after the file and every
 * -s. Returns 0, or -1 with a message in err that starts with where the
 * offending key was set ("FILE:LINE: " or "-s ARG: ") and names the other
 * key and where it was set.
 */
int config_check(const struct config *cfg, char *err, size_t errlen);

/*
 * Parses a duration: a non-negative integer with an optional unit ms, s, m,
 * h (bare = seconds). Returns 0 with *ms set, or -1. Exposed for tests.
 */
int config_parse_duration(const char *s, int64_t *ms);

/* Prints the effective settings as an INI file, password masked as "***". */
void config_print(const struct config *cfg, FILE *out);

/* Writes the effective settings as one line of "section.key=value" pairs
 * (password masked) into buf[0..len), for the startup log. */
void config_format_line(const struct config *cfg, char *buf, size_t len);

#endif
