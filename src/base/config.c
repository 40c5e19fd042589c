/*
 * config: settings from an INI file and "-s SECTION.KEY=VALUE" overrides.
 *
 * One static table drives everything (after twemproxy's nc_conf.c): each
 * row is {section, name, setter, formatter, offsetof(field), ...}. Loading
 * looks a key up in the table and calls its setter, which validates the text
 * and returns NULL or a constant error string; config_defaults feeds each
 * row's default text through the same setter; config_print walks the rows in
 * order and formats each field back. Adding a key is adding a row.
 *
 * inih does the INI syntax. Debian's build calls the handler without a line
 * number, so we hand inih our own line reader over the FILE*: it counts
 * lines (so the handler knows where it is), strips leading whitespace (so an
 * indented key is a key, never an inih "continuation line"), refuses lines
 * longer than inih's buffer instead of letting inih split them, and rejects
 * unknown [section] headers, which inih never reports to the handler. The
 * first error wins and stops the parse; a file is applied to a copy and
 * committed only when it loads cleanly.
 */
#include "base/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_STR_MAX 255               /* bytes in every string field */
#define CONFIG_TIMEOUT_MAX_MS 2145600000 /* 596h: fits an int for poll() */
#define CONFIG_TTL_MAX_MS INT64_C(315360000000) /* 87600h (10 years) */
#define CONFIG_ECHO_MAX 64 /* bytes of a bad value quoted in an error */

#define CONFIG_FIELD(f)                                                        \
    offsetof(struct config, f), sizeof(((struct config *)0)->f)

_Static_assert(sizeof(((struct config *)0)->bind) == CONFIG_STR_MAX + 1,
               "bind size");
_Static_assert(sizeof(((struct config *)0)->redis_host) == CONFIG_STR_MAX + 1,
               "redis_host size");
_Static_assert(sizeof(((struct config *)0)->redis_password) ==
                   CONFIG_STR_MAX + 1,
               "redis_password size");

struct config_row;

/* Parses value into field; returns NULL or a constant error string. */
typedef const char *(*config_setter)(const struct config_row *row, void *field,
                                     const char *value);
/* Writes field as the text a setter accepts back, into buf[0..len). */
typedef void (*config_formatter)(const struct config_row *row,
                                 const void *field, char *buf, size_t len);

struct config_row {
    const char *section;
    const char *name;
    config_setter set;
    config_formatter format;
    size_t offset;   /* offsetof(struct config, field) */
    size_t size;     /* sizeof the field */
    long long min;   /* integer setters: accepted range, shown in errors */
    long long max;   /* (rows where max > min) */
    const char *def; /* default, as file text; config_defaults applies it */
    int secret;      /* masked by config_print, never echoed in errors */
};

/* Where a value came from: a file line, or a -s argument (path NULL). */
struct config_origin {
    const char *path;
    int line;
    const char *arg;
};

/* State of one config_load_file, shared by the line reader and handler. */
struct config_load {
    struct config *cfg;
    FILE *fp;
    struct config_origin origin; /* origin.line: the line last read */
    int err_line;                /* line of the first error; 0 = none */
    char *err;
    size_t errlen;
    int *set_line; /* per table row: line that set it, 0 = not yet */
};

static const char *const config_level_names[] = {
    [CONFIG_LOG_ERROR] = "error",
    [CONFIG_LOG_WARN] = "warn",
    [CONFIG_LOG_INFO] = "info",
    [CONFIG_LOG_DEBUG] = "debug",
};

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

/* Parses value as an integer in [row->min, row->max]. */
static int
config_parse_range(const struct config_row *row, const char *value,
                   long long *out)
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

int
config_parse_duration(const char *s, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
    };
    const char *end;
    int64_t n;

    if (s == NULL || config_parse_digits(s, &end, &n) != 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (n > INT64_MAX / units[i].ms) {
                return -1;
            }
            *ms = n * units[i].ms;
            return 0;
        }
    }
    return -1;
}

static const char *
config_set_port(const struct config_row *row, void *field, const char *value)
{
    long long n;

    if (config_parse_range(row, value, &n) != 0) {
        return "expected a port";
    }
    *(int *)field = (int)n;
    return NULL;
}

static const char *
config_set_port_or_off(const struct config_row *row, void *field,
                       const char *value)
{
    if (strcmp(value, "0") == 0) {
        *(int *)field = 0;
        return NULL;
    }
    if (config_set_port(row, field, value) != NULL) {
        return "expected 0 (off) or a port";
    }
    return NULL;
}

static const char *
config_set_int_range(const struct config_row *row, void *field,
                     const char *value)
{
    long long n;

    if (config_parse_range(row, value, &n) != 0) {
        return "expected an integer";
    }
    *(int *)field = (int)n;
    return NULL;
}

static const char *
config_set_long_range(const struct config_row *row, void *field,
                      const char *value)
{
    long long n;

    if (config_parse_range(row, value, &n) != 0) {
        return "expected an integer";
    }
    *(long *)field = (long)n;
    return NULL;
}

static const char *
config_set_duration(const struct config_row *row, void *field,
                    const char *value)
{
    int64_t ms;

    (void)row;
    if (config_parse_duration(value, &ms) != 0 || ms > CONFIG_TTL_MAX_MS) {
        return "expected a duration 0..87600h (units ms, s, m, h)";
    }
    *(int64_t *)field = ms;
    return NULL;
}

static const char *
config_set_duration_positive(const struct config_row *row, void *field,
                             const char *value)
{
    int64_t ms;

    (void)row;
    if (config_parse_duration(value, &ms) != 0 || ms <= 0 ||
        ms > CONFIG_TIMEOUT_MAX_MS) {
        return "expected a duration 1ms..596h (units ms, s, m, h)";
    }
    *(int64_t *)field = ms;
    return NULL;
}

/*
 * Strings must print back (config_print, -t) as a line that loads the same:
 * no control bytes, no leading or trailing blanks (inih trims them), no
 * leading ';' or '#' and no " ;" (inih reads a comment), and, except for
 * the masked password, short enough for inih's 199-byte line.
 */
#define CONFIG_LINE_MAX 199 /* Debian's inih: INI_MAX_LINE 200 */

static const char *
config_set_string(const struct config_row *row, void *field, const char *value)
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
    if (!row->secret && strlen(row->name) + 3 + len > CONFIG_LINE_MAX) {
        return "too long to print back on one line (199 characters)";
    }
    memcpy(field, value, len + 1);
    return NULL;
}

static const char *
config_set_log_level(const struct config_row *row, void *field,
                     const char *value)
{
    (void)row;
    for (size_t i = 0; i < sizeof(config_level_names) / sizeof(char *); i++) {
        if (strcmp(value, config_level_names[i]) == 0) {
            *(int *)field = (int)i;
            return NULL;
        }
    }
    return "expected error, warn, info or debug";
}

static const char *
config_set_bool(const struct config_row *row, void *field, const char *value)
{
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};

    (void)row;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(value, yes[i]) == 0 || strcmp(value, no[i]) == 0) {
            *(int *)field = strcmp(value, yes[i]) == 0;
            return NULL;
        }
    }
    return "expected on or off";
}

static void
config_format_bool(const struct config_row *row, const void *field, char *buf,
                   size_t len)
{
    (void)row;
    snprintf(buf, len, "%s", *(const int *)field ? "on" : "off");
}

static void
config_format_int(const struct config_row *row, const void *field, char *buf,
                  size_t len)
{
    (void)row;
    snprintf(buf, len, "%d", *(const int *)field);
}

static void
config_format_long(const struct config_row *row, const void *field, char *buf,
                   size_t len)
{
    (void)row;
    snprintf(buf, len, "%ld", *(const long *)field);
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

static void
config_format_string(const struct config_row *row, const void *field, char *buf,
                     size_t len)
{
    const char *s = field;

    snprintf(buf, len, "%s", row->secret && *s != '\0' ? "***" : s);
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

/* Every key, in the order config_print writes them. */
static const struct config_row config_table[] = {
    {"server", "bind", config_set_string, config_format_string,
     CONFIG_FIELD(bind), 0, 0, "127.0.0.1", 0},
    {"server", "http_port", config_set_port, config_format_int,
     CONFIG_FIELD(http_port), 1, 65535, "8080", 0},
    {"server", "resp_port", config_set_port_or_off, config_format_int,
     CONFIG_FIELD(resp_port), 1, 65535, "6380", 0},
    {"server", "workers", config_set_int_range, config_format_int,
     CONFIG_FIELD(workers), 1, 1024, "8", 0},
    {"server", "max_clients", config_set_int_range, config_format_int,
     CONFIG_FIELD(max_clients), 1, 1000000, "1024", 0},
    {"server", "idle_timeout", config_set_duration_positive,
     config_format_duration, CONFIG_FIELD(idle_timeout_ms), 0, 0, "30s", 0},
    {"server", "request_timeout", config_set_duration_positive,
     config_format_duration, CONFIG_FIELD(request_timeout_ms), 0, 0, "10s", 0},
    {"redis", "host", config_set_string, config_format_string,
     CONFIG_FIELD(redis_host), 0, 0, "127.0.0.1", 0},
    {"redis", "port", config_set_port, config_format_int,
     CONFIG_FIELD(redis_port), 1, 65535, "6379", 0},
    {"redis", "password", config_set_string, config_format_string,
     CONFIG_FIELD(redis_password), 0, 0, "", 1},
    {"redis", "db", config_set_int_range, config_format_int,
     CONFIG_FIELD(redis_db), 0, 1000000, "0", 0},
    {"redis", "pool_size", config_set_int_range, config_format_int,
     CONFIG_FIELD(pool_size), 1, 1024, "8", 0},
    {"redis", "connect_timeout", config_set_duration_positive,
     config_format_duration, CONFIG_FIELD(connect_timeout_ms), 0, 0, "1s", 0},
    {"redis", "command_timeout", config_set_duration_positive,
     config_format_duration, CONFIG_FIELD(command_timeout_ms), 0, 0, "1s", 0},
    {"cache", "ttl", config_set_duration, config_format_duration,
     CONFIG_FIELD(cache_ttl_ms), 0, 0, "60s", 0},
    {"cache", "capacity", config_set_long_range, config_format_long,
     CONFIG_FIELD(cache_capacity), 0, 100000000, "10000", 0},
    {"cache", "tracking", config_set_bool, config_format_bool,
     CONFIG_FIELD(cache_tracking), 0, 0, "on", 0},
    {"cache", "stale_if_error", config_set_duration, config_format_duration,
     CONFIG_FIELD(cache_stale_ms), 0, 0, "0", 0},
    {"admin", "port", config_set_port_or_off, config_format_int,
     CONFIG_FIELD(admin_port), 1, 65535, "0", 0},
    {"log", "level", config_set_log_level, config_format_log_level,
     CONFIG_FIELD(log_level), 0, 0, "info", 0},
    {"log", "access", config_set_bool, config_format_bool,
     CONFIG_FIELD(log_access), 0, 0, "off", 0},
};

#define CONFIG_ROWS (sizeof(config_table) / sizeof(config_table[0]))
_Static_assert(CONFIG_ROWS == CONFIG_KEYS, "CONFIG_KEYS counts the table");

static int
config_section_known(const char *section, size_t len)
{
    for (size_t i = 0; i < CONFIG_ROWS; i++) {
        if (strlen(config_table[i].section) == len &&
            memcmp(config_table[i].section, section, len) == 0) {
            return 1;
        }
    }
    return 0;
}

static const struct config_row *
config_find(const char *section, const char *name)
{
    for (size_t i = 0; i < CONFIG_ROWS; i++) {
        if (strcmp(config_table[i].section, section) == 0 &&
            strcmp(config_table[i].name, name) == 0) {
            return &config_table[i];
        }
    }
    return NULL;
}

/*
 * Writes "PATH:LINE: MSG" or "-s ARG: MSG" to err and returns -1. A secret
 * row's -s argument is shown as "SECTION.KEY=***".
 */
__attribute__((format(printf, 5, 6))) static int
config_fail(char *err, size_t errlen, const struct config_origin *o,
            const struct config_row *row, const char *fmt, ...)
{
    char msg[CONFIG_ERR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (o->path != NULL) {
        snprintf(err, errlen, "%s:%d: %s", o->path, o->line, msg);
    } else if (row != NULL && row->secret) {
        snprintf(err, errlen, "-s %s.%s=***: %s", row->section, row->name, msg);
    } else {
        snprintf(err, errlen, "-s %s: %s", o->arg, msg);
    }
    return -1;
}

/* Reports a setter's error: "[SECTION] KEY: MSG[ MIN..MAX], got 'VALUE'". */
static int
config_fail_value(char *err, size_t errlen, const struct config_origin *o,
                  const struct config_row *row, const char *msg,
                  const char *value)
{
    char range[64] = "";

    if (row->max > row->min) {
        snprintf(range, sizeof(range), " %lld..%lld", row->min, row->max);
    }
    if (row->secret) {
        return config_fail(err, errlen, o, row, "[%s] %s: %s%s", row->section,
                           row->name, msg, range);
    }
    return config_fail(err, errlen, o, row, "[%s] %s: %s%s, got '%.*s%s'",
                       row->section, row->name, msg, range, CONFIG_ECHO_MAX,
                       value, strlen(value) > CONFIG_ECHO_MAX ? "..." : "");
}

/* Records in cfg->from[idx] where row's value came from. */
static void
config_note_origin(struct config *cfg, size_t idx,
                   const struct config_origin *o, const struct config_row *row)
{
    char *out = cfg->from[idx];

    if (o->path != NULL) {
        snprintf(out, CONFIG_FROM_MAX, "%s:%d", o->path, o->line);
    } else if (row->secret) {
        snprintf(out, CONFIG_FROM_MAX, "-s %s.%s=***", row->section, row->name);
    } else {
        snprintf(out, CONFIG_FROM_MAX, "-s %s", o->arg);
    }
}

/*
 * Applies section.name = value to cfg. set_line (file loads only) records
 * which line set each row, to reject a key set twice.
 */
static int
config_apply(struct config *cfg, const char *section, const char *name,
             const char *value, int *set_line, const struct config_origin *o,
             char *err, size_t errlen)
{
    const struct config_row *row;
    const char *msg;
    size_t idx;

    if (*section == '\0') {
        return config_fail(err, errlen, o, NULL,
                           "key '%s' is outside any [section]", name);
    }
    if (!config_section_known(section, strlen(section))) {
        return config_fail(err, errlen, o, NULL, "unknown section [%s]",
                           section);
    }
    row = config_find(section, name);
    if (row == NULL) {
        return config_fail(err, errlen, o, NULL,
                           "unknown key '%s' in section [%s]", name, section);
    }
    idx = (size_t)(row - config_table);
    if (set_line != NULL && set_line[idx] != 0) {
        return config_fail(err, errlen, o, row,
                           "duplicate key [%s] %s (first set at line %d)",
                           section, name, set_line[idx]);
    }
    msg = row->set(row, (char *)cfg + row->offset, value);
    if (msg != NULL) {
        return config_fail_value(err, errlen, o, row, msg, value);
    }
    if (set_line != NULL) {
        set_line[idx] = o->line;
    }
    config_note_origin(cfg, idx, o, row);
    return 0;
}

/* Records the load's first error, at line, and returns NULL for the reader. */
__attribute__((format(printf, 3, 4))) static char *
config_load_fail(struct config_load *ld, int line, const char *fmt, ...)
{
    char msg[CONFIG_ERR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ld->origin.line = line;
    ld->err_line = line;
    config_fail(ld->err, ld->errlen, &ld->origin, NULL, "%s", msg);
    return NULL;
}

/* Checks a "[name]" line (inih's rules for where the name ends). */
static char *
config_check_section(struct config_load *ld, char *line)
{
    int was_space = 0;
    char *p;

    for (p = line + 1; *p != '\0' && *p != ']'; p++) {
        if (was_space && *p == ';') {
            return line; /* no ']' before a comment: inih's syntax error */
        }
        was_space = isspace((unsigned char)*p);
    }
    if (*p == ']' && !config_section_known(line + 1, (size_t)(p - line - 1))) {
        return config_load_fail(ld, ld->origin.line, "unknown section [%.*s]",
                                (int)(p - line - 1), line + 1);
    }
    if (*p == ']') {
        /* inih ignores whatever follows "]": "[cache] ttl = 5s" would
         * silently set nothing. Only blanks or a comment may follow. */
        char *q = p + 1;

        while (isspace((unsigned char)*q)) {
            q++;
        }
        if (*q != '\0' && *q != ';' && *q != '#') {
            return config_load_fail(ld, ld->origin.line,
                                    "unexpected text after [%.*s]",
                                    (int)(p - line - 1), line + 1);
        }
    }
    return line;
}

/*
 * inih's fgets-style reader: one whole line per call, leading whitespace
 * and the newline removed; NULL at end of file or after the first error.
 */
static char *
config_read_line(char *str, int num, void *stream)
{
    struct config_load *ld = stream;
    int line = ld->origin.line + 1;
    int c;
    int n = 0;

    if (ld->err_line != 0 || num < 2) {
        return NULL;
    }
    while ((c = getc(ld->fp)) != EOF && c != '\n') {
        if (n == 0 && isspace(c)) {
            continue;
        }
        if (c == '\0') {
            return config_load_fail(ld, line, "unexpected NUL byte");
        }
        if (n == num - 1) {
            if (str[0] == ';' || str[0] == '#') {
                continue; /* a comment may be any length */
            }
            return config_load_fail(
                ld, line, "line too long (at most %d characters)", num - 1);
        }
        str[n++] = (char)c;
    }
    if (ferror(ld->fp)) {
        return config_load_fail(ld, line, "cannot read: %s", strerror(errno));
    }
    if (c == EOF && n == 0) {
        return NULL;
    }
    str[n] = '\0';
    if (line == 1 && n >= 3 && memcmp(str, "\xef\xbb\xbf", 3) == 0) {
        /* A UTF-8 BOM: drop it here, so the section check sees the line
         * as inih will. */
        memmove(str, str + 3, (size_t)n - 2);
    }
    ld->origin.line = line;
    return str[0] == '[' ? config_check_section(ld, str) : str;
}

/* inih's handler: returns 1 to go on, 0 on an error (recorded in ld). */
static int
config_on_key(void *user, const char *section, const char *name,
              const char *value)
{
    struct config_load *ld = user;

    if (ld->err_line != 0) {
        return 1;
    }
    if (config_apply(ld->cfg, section, name, value != NULL ? value : "",
                     ld->set_line, &ld->origin, ld->err, ld->errlen) != 0) {
        ld->err_line = ld->origin.line;
        return 0;
    }
    return 1;
}

void
config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < CONFIG_ROWS; i++) {
        const struct config_row *row = &config_table[i];
        const char *msg = row->set(row, (char *)cfg + row->offset, row->def);

        (void)msg;
        assert(msg == NULL);
    }
}

static int
config_open(const char *path, FILE **fpp, char *err, size_t errlen)
{
    struct stat st;
    FILE *fp = fopen(path, "re");

    if (fp == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(EISDIR));
        fclose(fp);
        return -1;
    }
    *fpp = fp;
    return 0;
}

int
config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    int set_line[CONFIG_ROWS] = {0};
    struct config copy = *cfg;
    struct config_load ld;
    int rc;

    memset(&ld, 0, sizeof(ld));
    if (config_open(path, &ld.fp, err, errlen) != 0) {
        return -1;
    }
    ld.cfg = &copy;
    ld.origin.path = path;
    ld.err = err;
    ld.errlen = errlen;
    ld.set_line = set_line;
    rc = ini_parse_stream(config_read_line, &ld, config_on_key, &ld);
    fclose(ld.fp);
    if (rc > 0 && (ld.err_line == 0 || rc < ld.err_line)) {
        snprintf(err, errlen,
                 "%s:%d: syntax error (expected 'key = value' or "
                 "'[section]')",
                 path, rc);
        return -1;
    }
    if (ld.err_line != 0) {
        return -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot parse: out of memory", path);
        return -1;
    }
    *cfg = copy;
    return 0;
}

const char *
config_from(const struct config *cfg, const char *section, const char *name)
{
    const struct config_row *row = config_find(section, name);

    return row != NULL ? cfg->from[row - config_table] : NULL;
}

int
config_set(struct config *cfg, const char *arg, char *err, size_t errlen)
{
    struct config_origin o = {NULL, 0, arg != NULL ? arg : ""};
    char *copy = strdup(o.arg);
    char *dot;
    char *eq;
    int rc;

    if (copy == NULL) {
        return config_fail(err, errlen, &o, NULL, "out of memory");
    }
    dot = strchr(copy, '.');
    eq = strchr(copy, '=');
    if (dot == NULL || eq == NULL || dot > eq || dot == copy || dot + 1 == eq) {
        rc = config_fail(err, errlen, &o, NULL, "expected SECTION.KEY=VALUE");
    } else {
        *dot = '\0';
        *eq = '\0';
        rc = config_apply(cfg, copy, dot + 1, eq + 1, NULL, &o, err, errlen);
    }
    free(copy);
    return rc;
}

void
config_print(const struct config *cfg, FILE *out)
{
    const char *section = NULL;
    char value[CONFIG_STR_MAX + 1];

    for (size_t i = 0; i < CONFIG_ROWS; i++) {
        const struct config_row *row = &config_table[i];

        if (section == NULL || strcmp(section, row->section) != 0) {
            fprintf(out, "%s[%s]\n", section != NULL ? "\n" : "", row->section);
            section = row->section;
        }
        row->format(row, (const char *)cfg + row->offset, value, sizeof(value));
        fprintf(out, "%s =%s%s\n", row->name, *value != '\0' ? " " : "", value);
    }
}

void
config_format_line(const struct config *cfg, char *buf, size_t len)
{
    char value[CONFIG_STR_MAX + 1];
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < CONFIG_ROWS && used < len; i++) {
        const struct config_row *row = &config_table[i];
        int n;

        row->format(row, (const char *)cfg + row->offset, value, sizeof(value));
        n = snprintf(buf + used, len - used, "%s%s.%s=%s", i > 0 ? " " : "",
                     row->section, row->name, value);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}
