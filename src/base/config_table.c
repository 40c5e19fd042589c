/*
 * config_table: every key of the proxy's configuration as one row, and one
 * setter and one formatter per kind of value (config_row.h).
 *
 * After twemproxy's nc_conf.c: a row is {section, name, kind, offsetof,
 * sizeof, min, max, default text, flags}, and the kind alone chooses the
 * code that parses and prints the field. A setter validates the whole text
 * before it writes the field, so a rejected value changes nothing; its error
 * says what it expected, with the row's range in the units the key takes.
 * Parsing never uses strtol or sscanf: digits are read by hand, overflow
 * checked, so "+1", " 1" and "1 " are errors like any other stray byte.
 */
#include "base/config.h"
#include "base/config_row.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CONFIG_TIMEOUT_MAX_MS 2145600000 /* 596h: fits an int for poll() */
#define CONFIG_TTL_MAX_MS INT64_C(315360000000) /* 87600h (10 years) */
#define CONFIG_KB INT64_C(1024)
#define CONFIG_MB (CONFIG_KB * 1024)
#define CONFIG_GB (CONFIG_MB * 1024)

/*
 * Strings must print back (config_print, -t) as a line that loads the same:
 * no control bytes, no leading or trailing blanks (inih trims them), no
 * leading ';' or '#' and no " ;" (inih reads a comment), and, except for
 * a masked secret, short enough for inih's 199-byte line.
 */
#define CONFIG_LINE_MAX 199 /* Debian's inih: INI_MAX_LINE 200 */

#define CONFIG_FIELD(f)                                                        \
    offsetof(struct config, f), sizeof(((struct config *)0)->f)

/* Parses value into field; returns NULL or an error (constant, or in buf). */
typedef const char *(*config_setter)(const struct config_row *row, void *field,
                                     const char *value, char *buf, size_t len);
/* Writes field as the text a setter accepts back, into buf[0..len). */
typedef void (*config_formatter)(const struct config_row *row,
                                 const void *field, char *buf, size_t len);

/* A unit of a duration or size: its suffix and what one of it is worth. */
struct config_unit {
    const char *suffix;
    int64_t scale;
};

/* Largest first, for printing a value in the largest exact unit. */
static const struct config_unit config_duration_units[] = {
    {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}, {"", 1000},
};
static const struct config_unit config_size_units[] = {
    {"gb", CONFIG_GB}, {"mb", CONFIG_MB}, {"kb", CONFIG_KB}, {"b", 1}, {"", 1},
};

#define CONFIG_NUNITS 5

static const char *const config_level_names[] = {
    [CONFIG_LOG_ERROR] = "error",
    [CONFIG_LOG_WARN] = "warn",
    [CONFIG_LOG_INFO] = "info",
    [CONFIG_LOG_DEBUG] = "debug",
};

static const char *const config_read_from_names[] = {
    [CONFIG_READ_MASTER] = "master",
    [CONFIG_READ_REPLICA] = "replica",
    [CONFIG_READ_PREFER_REPLICA] = "prefer_replica",
};

/* ---- numbers ---- */

/* Parses a non-empty run of decimal digits (no sign), overflow checked. */
static int
config_parse_digits(const char *s, const char **end, int64_t *out)
{
    const char *p = s;
    int64_t n = 0;

    while (*p >= '0' && *p <= '9') {
        int d = *p - '0';
        if (n > (INT64_MAX - d) / 10) {
            return -1;
        }
        n = n * 10 + d;
        p++;
    }
    if (p == s) {
        return -1;
    }
    *end = p;
    *out = n;
    return 0;
}

/* Parses digits followed by one of units' suffixes, scaled, overflow
 * checked. */
static int
config_parse_scaled(const char *s, const struct config_unit *units,
                    int64_t *out)
{
    const char *end;
    int64_t n;

    if (s == NULL || config_parse_digits(s, &end, &n) != 0) {
        return -1;
    }
    for (size_t i = 0; i < CONFIG_NUNITS; i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (n > INT64_MAX / units[i].scale) {
                return -1;
            }
            *out = n * units[i].scale;
            return 0;
        }
    }
    return -1;
}

/* Writes n in the largest unit that divides it exactly; 0 as "0". */
static void
config_scaled_text(int64_t n, const struct config_unit *units, char *buf,
                   size_t len)
{
    size_t i = 0;

    if (n == 0) {
        snprintf(buf, len, "0");
        return;
    }
    while (units[i].scale > 1 && n % units[i].scale != 0) {
        i++;
    }
    snprintf(buf, len, "%" PRId64 "%s", n / units[i].scale, units[i].suffix);
}

int
config_parse_duration(const char *s, int64_t *ms)
{
    return config_parse_scaled(s, config_duration_units, ms);
}

int
config_parse_size(const char *s, int64_t *bytes)
{
    return config_parse_scaled(s, config_size_units, bytes);
}

/* Parses value as an integer in [row->min, row->max]. */
static int
config_parse_range(const struct config_row *row, const char *value,
                   int64_t *out)
{
    const char *end;
    int64_t n;

    if (config_parse_digits(value, &end, &n) != 0 || *end != '\0' ||
        n < row->min || n > row->max) {
        return -1;
    }
    *out = n;
    return 0;
}

static const char *
config_set_int(const struct config_row *row, void *field, const char *value,
               char *buf, size_t len)
{
    int64_t n;

    if (config_parse_range(row, value, &n) != 0) {
        snprintf(buf, len, "expected an integer %" PRId64 "..%" PRId64,
                 row->min, row->max);
        return buf;
    }
    if (row->kind == CONFIG_LONG) {
        *(long *)field = (long)n;
    } else {
        *(int *)field = (int)n;
    }
    return NULL;
}

static const char *
config_set_port(const struct config_row *row, void *field, const char *value,
                char *buf, size_t len)
{
    int64_t n;

    if (config_parse_range(row, value, &n) != 0) {
        if (row->min == 0) {
            snprintf(buf, len, "expected 0 (off) or a port 1..%" PRId64,
                     row->max);
        } else {
            snprintf(buf, len, "expected a port %" PRId64 "..%" PRId64,
                     row->min, row->max);
        }
        return buf;
    }
    *(int *)field = (int)n;
    return NULL;
}

/* Durations and sizes: a scaled number in [row->min, row->max]. */
static const char *
config_set_scaled(const struct config_row *row, void *field, const char *value,
                  char *buf, size_t len)
{
    int duration = row->kind == CONFIG_DURATION;
    const struct config_unit *units =
        duration ? config_duration_units : config_size_units;
    char lo[32], hi[32];
    int64_t n;

    if (config_parse_scaled(value, units, &n) != 0 || n < row->min ||
        n > row->max) {
        config_scaled_text(row->min, units, lo, sizeof(lo));
        config_scaled_text(row->max, units, hi, sizeof(hi));
        snprintf(buf, len, "expected a %s %s..%s (units %s)",
                 duration ? "duration" : "size", lo, hi,
                 duration ? "ms, s, m, h" : "b, kb, mb, gb");
        return buf;
    }
    *(int64_t *)field = n;
    return NULL;
}

static const char *
config_set_bool(const struct config_row *row, void *field, const char *value,
                char *buf, size_t len)
{
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};

    (void)row, (void)buf, (void)len;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(value, yes[i]) == 0 || strcmp(value, no[i]) == 0) {
            *(int *)field = strcmp(value, yes[i]) == 0;
            return NULL;
        }
    }
    return "expected on or off";
}

static const char *const config_verify_names[] = {
    [CONFIG_TLS_VERIFY_OFF] = "off",
    [CONFIG_TLS_VERIFY_OPTIONAL] = "optional",
    [CONFIG_TLS_VERIFY_ON] = "on",
};

static const char *
config_set_verify(const struct config_row *row, void *field, const char *value,
                  char *buf, size_t len)
{
    (void)row, (void)buf, (void)len;
    for (size_t i = 0; i < sizeof(config_verify_names) / sizeof(char *); i++) {
        if (strcmp(value, config_verify_names[i]) == 0) {
            *(int *)field = (int)i;
            return NULL;
        }
    }
    return "expected off, optional or on";
}

static const char *
config_set_log_level(const struct config_row *row, void *field,
                     const char *value, char *buf, size_t len)
{
    (void)row, (void)buf, (void)len;
    for (size_t i = 0; i < sizeof(config_level_names) / sizeof(char *); i++) {
        if (strcmp(value, config_level_names[i]) == 0) {
            *(int *)field = (int)i;
            return NULL;
        }
    }
    return "expected error, warn, info or debug";
}

static const char *
config_set_read_from(const struct config_row *row, void *field,
                     const char *value, char *buf, size_t len)
{
    (void)row, (void)buf, (void)len;
    for (size_t i = 0; i < sizeof(config_read_from_names) / sizeof(char *);
         i++) {
        if (strcmp(value, config_read_from_names[i]) == 0) {
            *(int *)field = (int)i;
            return NULL;
        }
    }
    return "expected master, replica or prefer_replica";
}

/* ---- strings ---- */

/* Whether value, stored in row's field, would print back as it loads. */
static const char *
config_check_text(const struct config_row *row, const char *value)
{
    size_t len = strlen(value);

    if (len >= row->size) {
        return "too long (at most 255 bytes)";
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
            return "control characters are not allowed";
        }
        if (value[i] == ';' && i > 0 &&
            (value[i - 1] == ' ' || value[i - 1] == '\t')) {
            return "' ;' would start a comment";
        }
    }
    if (len > 0 && (isspace((unsigned char)value[0]) ||
                    isspace((unsigned char)value[len - 1]))) {
        return "leading or trailing blanks are not allowed";
    }
    if (value[0] == ';' || value[0] == '#') {
        return "may not start with ';' or '#'";
    }
    if (!(row->flags & CONFIG_SECRET) &&
        strlen(row->name) + 3 + len > CONFIG_LINE_MAX) {
        return "too long to print back on one line (199 characters)";
    }
    return NULL;
}

static const char *
config_set_string(const struct config_row *row, void *field, const char *value,
                  char *buf, size_t len)
{
    const char *msg = config_check_text(row, value);

    (void)buf, (void)len;
    if (msg != NULL) {
        return msg;
    }
    memcpy(field, value, strlen(value) + 1);
    return NULL;
}

static const char *
config_set_seeds(const struct config_row *row, void *field, const char *value,
                 char *buf, size_t len)
{
    char host[CONFIG_STR_MAX + 1];
    const char *cursor = value;
    const char *msg = config_check_text(row, value);
    int port, rc;

    if (msg != NULL) {
        return msg;
    }
    while ((rc = config_seed_next(&cursor, host, sizeof(host), &port)) == 1) {
    }
    if (rc < 0) {
        return "expected host:port[, host:port...] (port 1..65535)";
    }
    return config_set_string(row, field, value, buf, len);
}

static int
config_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* A byte of a host name or address: letters, digits, '-', '.', '_', and
 * ':' for IPv6. */
static int
config_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == ':';
}

int
config_host_next(const char **cursor, const char **item, size_t *len)
{
    const char *p = *cursor, *start, *end;
    size_t n, i;

    while (config_blank(*p)) {
        p++;
    }
    if (*p == '\0') {
        *cursor = p;
        return 0;
    }
    start = p;
    end = strchr(start, ',');
    if (end == NULL) {
        end = start + strlen(start);
    }
    n = (size_t)(end - start);
    while (n > 0 && config_blank(start[n - 1])) {
        n--;
    }
    if (n == 0 || (n == 1 && start[0] == '.')) {
        return -1;
    }
    i = 0;
    if (start[0] == '[') { /* "[::1]": an IPv6 address in brackets */
        if (n < 3 || start[n - 1] != ']') {
            return -1;
        }
        i = 1;
        n--;
    }
    for (; i < n; i++) {
        if (!config_host_char(start[i]) ||
            (start[0] != '[' && start[i] == ':')) {
            return -1;
        }
    }
    if (start[0] == '[') {
        n++;
    }
    if (*end == ',') {
        for (p = end + 1; config_blank(*p); p++) {
        }
        if (*p == '\0' || *p == ',') {
            return -1; /* a comma promises another item */
        }
        end++;
    }
    *item = start;
    *len = n;
    *cursor = end;
    return 1;
}

static const char *
config_set_hosts(const struct config_row *row, void *field, const char *value,
                 char *buf, size_t len)
{
    const char *cursor = value, *item;
    const char *msg = config_check_text(row, value);
    size_t n;
    int rc;

    if (msg != NULL) {
        return msg;
    }
    while ((rc = config_host_next(&cursor, &item, &n)) == 1) {
    }
    if (rc < 0) {
        return "expected host names or addresses, comma-separated (a name "
               "starting with '.' also matches the names under it)";
    }
    return config_set_string(row, field, value, buf, len);
}

/* Splits item[0..len), blanks trimmed, into host and port. */
static int
config_seed_split(const char *item, size_t len, char *host, size_t hostlen,
                  int *port)
{
    const char *colon = NULL, *end;
    size_t hlen;
    int64_t n;

    for (size_t i = 0; i < len; i++) {
        if (config_blank(item[i])) {
            return -1;
        }
        if (item[i] == ':') {
            colon = item + i;
        }
    }
    if (colon == NULL || config_parse_digits(colon + 1, &end, &n) != 0 ||
        end != item + len || n < 1 || n > 65535) {
        return -1;
    }
    hlen = (size_t)(colon - item);
    if (hlen >= 2 && item[0] == '[' && colon[-1] == ']') {
        item++; /* "[::1]:7000": the host without its brackets */
        hlen -= 2;
    } else if (memchr(item, ':', hlen) != NULL) {
        return -1; /* an IPv6 host needs its brackets */
    }
    if (hlen == 0 || hlen >= hostlen || memchr(item, '[', hlen) != NULL ||
        memchr(item, ']', hlen) != NULL) {
        return -1;
    }
    memcpy(host, item, hlen);
    host[hlen] = '\0';
    *port = (int)n;
    return 0;
}

int
config_seed_next(const char **cursor, char *host, size_t hostlen, int *port)
{
    const char *p = *cursor, *item, *end;
    size_t len;

    while (config_blank(*p)) {
        p++;
    }
    if (*p == '\0') {
        *cursor = p;
        return 0;
    }
    item = p;
    end = strchr(item, ',');
    if (end == NULL) {
        end = item + strlen(item);
    }
    len = (size_t)(end - item);
    while (len > 0 && config_blank(item[len - 1])) {
        len--;
    }
    if (config_seed_split(item, len, host, hostlen, port) != 0) {
        return -1;
    }
    if (*end == ',') {
        /* A comma promises another item: "a:1," is malformed. */
        for (p = end + 1; config_blank(*p); p++) {
        }
        if (*p == '\0' || *p == ',') {
            return -1;
        }
        end++;
    }
    *cursor = end;
    return 1;
}

/* ---- formatters ---- */

static void
config_format_int(const struct config_row *row, const void *field, char *buf,
                  size_t len)
{
    if (row->kind == CONFIG_LONG) {
        snprintf(buf, len, "%ld", *(const long *)field);
    } else {
        snprintf(buf, len, "%d", *(const int *)field);
    }
}

/* Whole seconds as "30s", anything else as "1500ms". */
static void
config_format_duration(const struct config_row *row, const void *field,
                       char *buf, size_t len)
{
    int64_t ms = *(const int64_t *)field;

    (void)row;
    if (ms % 1000 == 0) {
        snprintf(buf, len, "%" PRId64 "s", ms / 1000);
    } else {
        snprintf(buf, len, "%" PRId64 "ms", ms);
    }
}

/* The largest exact unit: "64mb", "1536kb", "7b"; 0 as "0". */
static void
config_format_size(const struct config_row *row, const void *field, char *buf,
                   size_t len)
{
    (void)row;
    config_scaled_text(*(const int64_t *)field, config_size_units, buf, len);
}

static void
config_format_bool(const struct config_row *row, const void *field, char *buf,
                   size_t len)
{
    (void)row;
    snprintf(buf, len, "%s", *(const int *)field ? "on" : "off");
}

static void
config_format_log_level(const struct config_row *row, const void *field,
                        char *buf, size_t len)
{
    int level = *(const int *)field;

    (void)row;
    if (level < CONFIG_LOG_ERROR || level > CONFIG_LOG_DEBUG) {
        level = CONFIG_LOG_INFO;
    }
    snprintf(buf, len, "%s", config_level_names[level]);
}

static void
config_format_verify(const struct config_row *row, const void *field, char *buf,
                     size_t len)
{
    int v = *(const int *)field;

    (void)row;
    if (v < CONFIG_TLS_VERIFY_OFF || v > CONFIG_TLS_VERIFY_ON) {
        v = CONFIG_TLS_VERIFY_OFF;
    }
    snprintf(buf, len, "%s", config_verify_names[v]);
}

static void
config_format_read_from(const struct config_row *row, const void *field,
                        char *buf, size_t len)
{
    int v = *(const int *)field;

    (void)row;
    if (v < CONFIG_READ_MASTER || v > CONFIG_READ_PREFER_REPLICA) {
        v = CONFIG_READ_MASTER;
    }
    snprintf(buf, len, "%s", config_read_from_names[v]);
}

static void
config_format_string(const struct config_row *row, const void *field, char *buf,
                     size_t len)
{
    const char *s = field;

    snprintf(buf, len, "%s",
             (row->flags & CONFIG_SECRET) && *s != '\0' ? "***" : s);
}

/* ---- the kinds and the rows ---- */

static const struct {
    config_setter set;
    config_formatter format;
    size_t size; /* the field's size; 0 = a char array of any size */
} config_kinds[] = {
    [CONFIG_INT] = {config_set_int, config_format_int, sizeof(int)},
    [CONFIG_LONG] = {config_set_int, config_format_int, sizeof(long)},
    [CONFIG_PORT] = {config_set_port, config_format_int, sizeof(int)},
    [CONFIG_DURATION] = {config_set_scaled, config_format_duration,
                         sizeof(int64_t)},
    [CONFIG_SIZE] = {config_set_scaled, config_format_size, sizeof(int64_t)},
    [CONFIG_BOOL] = {config_set_bool, config_format_bool, sizeof(int)},
    [CONFIG_STRING] = {config_set_string, config_format_string, 0},
    [CONFIG_LOGLEVEL] = {config_set_log_level, config_format_log_level,
                         sizeof(int)},
    [CONFIG_SEEDS] = {config_set_seeds, config_format_string, 0},
    [CONFIG_HOSTS] = {config_set_hosts, config_format_string, 0},
    [CONFIG_VERIFY] = {config_set_verify, config_format_verify, sizeof(int)},
    [CONFIG_READFROM] = {config_set_read_from, config_format_read_from,
                         sizeof(int)},
};

#define TIMEOUT 1, CONFIG_TIMEOUT_MAX_MS /* a duration > 0 */
#define SPAN 0, CONFIG_TTL_MAX_MS        /* a duration, 0 allowed */
#define PORT 1, 65535
#define PORT_OR_OFF 0, 65535
#define NO_RANGE 0, 0
#define LIVE CONFIG_LIVE
#define SECRET CONFIG_SECRET

const struct config_row config__table[] = {
    {"server", "bind", CONFIG_STRING, CONFIG_FIELD(bind), NO_RANGE, "127.0.0.1",
     0},
    {"server", "http_port", CONFIG_PORT, CONFIG_FIELD(http_port), PORT, "8080",
     0},
    {"server", "resp_port", CONFIG_PORT, CONFIG_FIELD(resp_port), PORT_OR_OFF,
     "6380", 0},
    {"server", "workers", CONFIG_INT, CONFIG_FIELD(workers), 1, 1024, "8", 0},
    {"server", "max_clients", CONFIG_INT, CONFIG_FIELD(max_clients), 1,
     CONFIG_MAX_CLIENTS, "1024", LIVE},
    {"server", "idle_timeout", CONFIG_DURATION, CONFIG_FIELD(idle_timeout_ms),
     TIMEOUT, "30s", LIVE},
    {"server", "request_timeout", CONFIG_DURATION,
     CONFIG_FIELD(request_timeout_ms), TIMEOUT, "10s", LIVE},
    {"server", "password", CONFIG_STRING, CONFIG_FIELD(server_password),
     NO_RANGE, "", SECRET | LIVE},
    {"server", "max_sessions", CONFIG_INT, CONFIG_FIELD(max_sessions), 0,
     100000, "256", LIVE},
    {"server", "send_timeout", CONFIG_DURATION, CONFIG_FIELD(send_timeout_ms),
     TIMEOUT, "10s", LIVE},
    {"server", "max_request", CONFIG_SIZE, CONFIG_FIELD(max_request), CONFIG_KB,
     512 * CONFIG_MB, "64mb", LIVE},
    {"server", "password_file", CONFIG_STRING,
     CONFIG_FIELD(server_password_file), NO_RANGE, "", LIVE},
    {"server", "protected_mode", CONFIG_BOOL, CONFIG_FIELD(protected_mode),
     NO_RANGE, "on", LIVE},
    {"server", "max_output", CONFIG_SIZE, CONFIG_FIELD(max_output), 0,
     1024 * CONFIG_GB, "64mb", LIVE},
    {"server", "session_idle_timeout", CONFIG_DURATION,
     CONFIG_FIELD(session_idle_timeout_ms), 0, CONFIG_TIMEOUT_MAX_MS, "0",
     LIVE},
    {"server", "tls_port", CONFIG_PORT, CONFIG_FIELD(tls_port), PORT_OR_OFF,
     "0", 0},
    {"server", "tls_cert_file", CONFIG_STRING, CONFIG_FIELD(tls_cert_file),
     NO_RANGE, "", LIVE},
    {"server", "tls_key_file", CONFIG_STRING, CONFIG_FIELD(tls_key_file),
     NO_RANGE, "", LIVE},
    {"server", "tls_ca_file", CONFIG_STRING, CONFIG_FIELD(tls_ca_file),
     NO_RANGE, "", LIVE},
    {"server", "tls_verify_clients", CONFIG_VERIFY,
     CONFIG_FIELD(tls_verify_clients), NO_RANGE, "off", LIVE},
    {"server", "tls_ciphers", CONFIG_STRING, CONFIG_FIELD(tls_ciphers),
     NO_RANGE, "", LIVE},
    {"server", "tls_ciphersuites", CONFIG_STRING,
     CONFIG_FIELD(tls_ciphersuites), NO_RANGE, "", LIVE},
    {"redis", "host", CONFIG_STRING, CONFIG_FIELD(redis_host), NO_RANGE,
     "127.0.0.1", 0},
    {"redis", "port", CONFIG_PORT, CONFIG_FIELD(redis_port), PORT, "6379", 0},
    {"redis", "user", CONFIG_STRING, CONFIG_FIELD(redis_user), NO_RANGE, "", 0},
    {"redis", "password", CONFIG_STRING, CONFIG_FIELD(redis_password), NO_RANGE,
     "", SECRET},
    {"redis", "db", CONFIG_INT, CONFIG_FIELD(redis_db), 0, 1000000, "0", 0},
    {"redis", "pool_size", CONFIG_INT, CONFIG_FIELD(pool_size), 1, 1024, "8",
     0},
    {"redis", "connect_timeout", CONFIG_DURATION,
     CONFIG_FIELD(connect_timeout_ms), TIMEOUT, "1s", LIVE},
    {"redis", "command_timeout", CONFIG_DURATION,
     CONFIG_FIELD(command_timeout_ms), TIMEOUT, "1s", LIVE},
    {"redis", "forward_timeout", CONFIG_DURATION,
     CONFIG_FIELD(forward_timeout_ms), SPAN, "0", LIVE},
    {"redis", "cluster", CONFIG_BOOL, CONFIG_FIELD(cluster), NO_RANGE, "off",
     0},
    {"redis", "seeds", CONFIG_SEEDS, CONFIG_FIELD(seeds), NO_RANGE, "", 0},
    {"redis", "cluster_refresh", CONFIG_DURATION,
     CONFIG_FIELD(cluster_refresh_ms), TIMEOUT, "5s", LIVE},
    {"redis", "tls", CONFIG_BOOL, CONFIG_FIELD(redis_tls), NO_RANGE, "off", 0},
    {"redis", "tls_ca_file", CONFIG_STRING, CONFIG_FIELD(redis_tls_ca_file),
     NO_RANGE, "", 0},
    {"redis", "tls_cert_file", CONFIG_STRING, CONFIG_FIELD(redis_tls_cert_file),
     NO_RANGE, "", 0},
    {"redis", "tls_key_file", CONFIG_STRING, CONFIG_FIELD(redis_tls_key_file),
     NO_RANGE, "", 0},
    {"redis", "tls_server_name", CONFIG_STRING,
     CONFIG_FIELD(redis_tls_server_name), NO_RANGE, "", 0},
    {"redis", "tls_verify", CONFIG_BOOL, CONFIG_FIELD(redis_tls_verify),
     NO_RANGE, "on", 0},
    {"redis", "sentinels", CONFIG_SEEDS, CONFIG_FIELD(sentinels), NO_RANGE, "",
     0},
    {"redis", "master_name", CONFIG_STRING, CONFIG_FIELD(master_name), NO_RANGE,
     "mymaster", 0},
    {"redis", "sentinel_user", CONFIG_STRING, CONFIG_FIELD(sentinel_user),
     NO_RANGE, "", 0},
    {"redis", "sentinel_password", CONFIG_STRING,
     CONFIG_FIELD(sentinel_password), NO_RANGE, "", SECRET},
    {"redis", "read_from", CONFIG_READFROM, CONFIG_FIELD(read_from), NO_RANGE,
     "master", 0},
    {"cache", "ttl", CONFIG_DURATION, CONFIG_FIELD(cache_ttl_ms), SPAN, "60s",
     LIVE},
    {"cache", "capacity", CONFIG_LONG, CONFIG_FIELD(cache_capacity), 0,
     100000000, "10000", LIVE},
    {"cache", "tracking", CONFIG_BOOL, CONFIG_FIELD(cache_tracking), NO_RANGE,
     "on", 0},
    {"cache", "stale_if_error", CONFIG_DURATION, CONFIG_FIELD(cache_stale_ms),
     SPAN, "0", LIVE},
    {"cache", "max_memory", CONFIG_SIZE, CONFIG_FIELD(cache_max_memory), 0,
     1024 * CONFIG_GB, "256mb", LIVE},
    {"cache", "max_value_size", CONFIG_SIZE, CONFIG_FIELD(cache_max_value), 1,
     512 * CONFIG_MB, "1mb", LIVE},
    {"http", "writes", CONFIG_BOOL, CONFIG_FIELD(http_writes), NO_RANGE, "off",
     LIVE},
    {"http", "max_body", CONFIG_SIZE, CONFIG_FIELD(http_max_body), 1,
     512 * CONFIG_MB, "1mb", LIVE},
    {"http", "allowed_hosts", CONFIG_HOSTS, CONFIG_FIELD(http_allowed_hosts),
     NO_RANGE, "", LIVE},
    {"http", "tls", CONFIG_BOOL, CONFIG_FIELD(http_tls), NO_RANGE, "off", 0},
    {"admin", "port", CONFIG_PORT, CONFIG_FIELD(admin_port), PORT_OR_OFF, "0",
     0},
    {"admin", "tls", CONFIG_BOOL, CONFIG_FIELD(admin_tls), NO_RANGE, "off", 0},
    {"log", "level", CONFIG_LOGLEVEL, CONFIG_FIELD(log_level), NO_RANGE, "info",
     LIVE},
    {"log", "access", CONFIG_BOOL, CONFIG_FIELD(log_access), NO_RANGE, "off",
     LIVE},
};

_Static_assert(sizeof(config__table) / sizeof(config__table[0]) == CONFIG_KEYS,
               "CONFIG_KEYS counts the table");

const struct config_row *
config__find(const char *section, const char *name)
{
    for (size_t i = 0; i < CONFIG_KEYS; i++) {
        if (strcmp(config__table[i].section, section) == 0 &&
            strcmp(config__table[i].name, name) == 0) {
            return &config__table[i];
        }
    }
    return NULL;
}

int
config__section_known(const char *section, size_t len)
{
    if (len == sizeof(CONFIG_USERS_SECTION) - 1 &&
        memcmp(section, CONFIG_USERS_SECTION, len) == 0) {
        return 1; /* its keys are users (config_users.c) */
    }
    for (size_t i = 0; i < CONFIG_KEYS; i++) {
        if (strlen(config__table[i].section) == len &&
            memcmp(config__table[i].section, section, len) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *
config__set(const struct config_row *row, struct config *cfg, const char *value,
            char *buf, size_t len)
{
    size_t want = config_kinds[row->kind].size;

    assert(want == 0 ? row->size == CONFIG_STR_MAX + 1 : row->size == want);
    (void)want;
    return config_kinds[row->kind].set(row, (char *)cfg + row->offset, value,
                                       buf, len);
}

void
config__format(const struct config_row *row, const struct config *cfg,
               char *buf, size_t len)
{
    config_kinds[row->kind].format(row, (const char *)cfg + row->offset, buf,
                                   len);
}

int
config__differs(const struct config_row *row, const struct config *a,
                const struct config *b)
{
    const char *fa = (const char *)a + row->offset;
    const char *fb = (const char *)b + row->offset;

    if (config_kinds[row->kind].size == 0) {
        return strcmp(fa, fb) != 0;
    }
    return memcmp(fa, fb, row->size) != 0;
}
