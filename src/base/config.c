/*
 * config: settings from an INI file and "-s SECTION.KEY=VALUE" overrides.
 *
 * One static table drives everything (after twemproxy's nc_conf.c; the rows
 * and the per-kind setters and formatters are in config_table.c). Loading
 * looks a key up in the table and calls the setter of its kind, which
 * validates the text and returns NULL or an error; config_defaults feeds
 * each row's default text through the same setter; config_print and
 * config_diff walk the rows in order and format each field back. Adding a
 * key is adding a row.
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

#include "base/config_row.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_ECHO_MAX 64 /* bytes of a bad value quoted in an error */

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
    int *set_line;  /* per table row: line that set it, 0 = not yet */
    int *user_line; /* per [users] entry: line that set it, 0 = not yet */
};

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
    } else if (row != NULL && (row->flags & CONFIG_SECRET)) {
        snprintf(err, errlen, "-s %s.%s=***: %s", row->section, row->name, msg);
    } else {
        snprintf(err, errlen, "-s %s: %s", o->arg, msg);
    }
    return -1;
}

/* Reports a setter's error: "[SECTION] KEY: MSG, got 'VALUE'" (a secret's
 * value never shown). */
static int
config_fail_value(char *err, size_t errlen, const struct config_origin *o,
                  const struct config_row *row, const char *msg,
                  const char *value)
{
    if (row->flags & CONFIG_SECRET) {
        return config_fail(err, errlen, o, row, "[%s] %s: %s", row->section,
                           row->name, msg);
    }
    return config_fail(err, errlen, o, row, "[%s] %s: %s, got '%.*s%s'",
                       row->section, row->name, msg, CONFIG_ECHO_MAX, value,
                       strlen(value) > CONFIG_ECHO_MAX ? "..." : "");
}

/* Records in cfg->from[idx] where row's value came from. */
static void
config_note_origin(struct config *cfg, size_t idx,
                   const struct config_origin *o, const struct config_row *row)
{
    char *out = cfg->from[idx];

    if (o->path != NULL) {
        snprintf(out, CONFIG_FROM_MAX, "%s:%d", o->path, o->line);
    } else if (row->flags & CONFIG_SECRET) {
        snprintf(out, CONFIG_FROM_MAX, "-s %s.%s=***", row->section, row->name);
    } else {
        snprintf(out, CONFIG_FROM_MAX, "-s %s", o->arg);
    }
}

/*
 * Applies [users] name = value to cfg. user_line (file loads only)
 * records which line set each user, to reject a user set twice.
 */
static int
config_apply_user(struct config *cfg, const char *name, const char *value,
                  int *user_line, const struct config_origin *o, char *err,
                  size_t errlen)
{
    char buf[CONFIG_ERR_MAX];
    const struct config_user *had = config_user_find(cfg, name, strlen(name));
    const char *msg;
    int slot;

    if (user_line != NULL && had != NULL && user_line[had - cfg->users] != 0) {
        return config_fail(err, errlen, o, NULL,
                           "duplicate user '%s' in [%s] (first set at line %d)",
                           name, CONFIG_USERS_SECTION,
                           user_line[had - cfg->users]);
    }
    msg = config__user_set(cfg, name, value, buf, sizeof(buf), &slot);
    if (msg != NULL) {
        return config_fail(err, errlen, o, NULL, "%s", msg);
    }
    if (user_line != NULL) {
        user_line[slot] = o->line;
    }
    return 0;
}

/*
 * Applies section.name = value to cfg. set_line and user_line (file loads
 * only) record which line set each row and each user, to reject a key set
 * twice.
 */
static int
config_apply(struct config *cfg, const char *section, const char *name,
             const char *value, int *set_line, int *user_line,
             const struct config_origin *o, char *err, size_t errlen)
{
    char buf[CONFIG_ERR_MAX];
    const struct config_row *row;
    const char *msg;
    size_t idx;

    if (*section == '\0') {
        return config_fail(err, errlen, o, NULL,
                           "key '%s' is outside any [section]", name);
    }
    if (strcmp(section, CONFIG_USERS_SECTION) == 0) {
        return config_apply_user(cfg, name, value, user_line, o, err, errlen);
    }
    if (!config__section_known(section, strlen(section))) {
        return config_fail(err, errlen, o, NULL, "unknown section [%s]",
                           section);
    }
    row = config__find(section, name);
    if (row == NULL) {
        return config_fail(err, errlen, o, NULL,
                           "unknown key '%s' in section [%s]", name, section);
    }
    idx = (size_t)(row - config__table);
    if (set_line != NULL && set_line[idx] != 0) {
        return config_fail(err, errlen, o, row,
                           "duplicate key [%s] %s (first set at line %d)",
                           section, name, set_line[idx]);
    }
    msg = config__set(row, cfg, value, buf, sizeof(buf));
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
    if (*p == ']' && !config__section_known(line + 1, (size_t)(p - line - 1))) {
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
                     ld->set_line, ld->user_line, &ld->origin, ld->err,
                     ld->errlen) != 0) {
        ld->err_line = ld->origin.line;
        return 0;
    }
    return 1;
}

void
config_defaults(struct config *cfg)
{
    char buf[CONFIG_ERR_MAX];

    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < CONFIG_KEYS; i++) {
        const struct config_row *row = &config__table[i];
        const char *msg = config__set(row, cfg, row->def, buf, sizeof(buf));

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
    int set_line[CONFIG_KEYS] = {0}, user_line[CONFIG_USERS_MAX] = {0};
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
    ld.user_line = user_line;
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
    const struct config_row *row = config__find(section, name);

    return row != NULL ? cfg->from[row - config__table] : NULL;
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
        rc = config_apply(cfg, copy, dot + 1, eq + 1, NULL, NULL, &o, err,
                          errlen);
    }
    free(copy);
    return rc;
}

void
config_print(const struct config *cfg, FILE *out)
{
    const char *section = NULL;
    char value[CONFIG_STR_MAX + 1];

    for (size_t i = 0; i < CONFIG_KEYS; i++) {
        const struct config_row *row = &config__table[i];

        if (section == NULL || strcmp(section, row->section) != 0) {
            fprintf(out, "%s[%s]\n", section != NULL ? "\n" : "", row->section);
            section = row->section;
        }
        config__format(row, cfg, value, sizeof(value));
        fprintf(out, "%s =%s%s\n", row->name, *value != '\0' ? " " : "", value);
    }
    config__users_print(cfg, out);
}

void
config_format_line(const struct config *cfg, char *buf, size_t len)
{
    char value[CONFIG_STR_MAX + 1];
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < CONFIG_KEYS && used < len; i++) {
        const struct config_row *row = &config__table[i];
        int n;

        config__format(row, cfg, value, sizeof(value));
        n = snprintf(buf + used, len - used, "%s%s.%s=%s", i > 0 ? " " : "",
                     row->section, row->name, value);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
    config__users_line(cfg, buf, len, &used);
}

void
config_diff(const struct config *old, const struct config *new,
            void (*fn)(void *arg, const char *section, const char *name,
                       const char *old_text, const char *new_text, int live),
            void *arg)
{
    char old_text[CONFIG_STR_MAX + 1], new_text[CONFIG_STR_MAX + 1];

    for (size_t i = 0; i < CONFIG_KEYS; i++) {
        const struct config_row *row = &config__table[i];

        if (!config__differs(row, old, new)) {
            continue;
        }
        config__format(row, old, old_text, sizeof(old_text));
        config__format(row, new, new_text, sizeof(new_text));
        fn(arg, row->section, row->name, old_text, new_text,
           (row->flags & CONFIG_LIVE) != 0);
    }
    config__users_diff(old, new, fn, arg);
}

int
config_set_is_secret(const char *arg)
{
    const char *dot = strchr(arg, '.'), *eq = strchr(arg, '=');
    char section[32], name[64];
    const struct config_row *row;

    if (dot == NULL || eq == NULL || dot > eq ||
        (size_t)(dot - arg) >= sizeof(section) ||
        (size_t)(eq - dot - 1) >= sizeof(name)) {
        return 0;
    }
    memcpy(section, arg, (size_t)(dot - arg));
    section[dot - arg] = '\0';
    memcpy(name, dot + 1, (size_t)(eq - dot - 1));
    name[eq - dot - 1] = '\0';
    row = config__find(section, name);
    return row != NULL && (row->flags & CONFIG_SECRET) != 0;
}

/* "-s ...: " or "FILE:LINE: " of password_file, for its errors. */
static const char *
config_file_from(const struct config *cfg)
{
    const char *from = config_from(cfg, "server", "password_file");

    return *from != '\0' ? from : "defaults";
}

int
config_read_secrets(struct config *cfg, char *err, size_t errlen)
{
    const char *path = cfg->server_password_file;
    char buf[sizeof(cfg->server_password) + 2];
    const char *why = NULL;
    size_t n;
    FILE *fp;

    if (path[0] == '\0') {
        return 0;
    }
    if (cfg->server_password[0] != '\0') {
        snprintf(err, errlen,
                 "%s: [server] password_file: set [server] password or "
                 "password_file, not both",
                 config_file_from(cfg));
        return -1;
    }
    fp = fopen(path, "re");
    if (fp == NULL) {
        snprintf(err, errlen,
                 "%s: [server] password_file: cannot read '%s': %s",
                 config_file_from(cfg), path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof(buf), fp);
    if (ferror(fp)) {
        why = strerror(errno);
    }
    fclose(fp);
    if (why == NULL && n > 0 && buf[n - 1] == '\n') {
        n -= 1 + (n > 1 && buf[n - 2] == '\r');
    }
    if (why != NULL) {
    } else if (n >= sizeof(cfg->server_password)) {
        why = "longer than 255 bytes";
    } else if (n == 0) {
        why = "empty";
    } else if (memchr(buf, '\0', n) != NULL || memchr(buf, '\n', n) != NULL) {
        why = "a NUL byte or a newline inside the password";
    }
    if (why != NULL) {
        snprintf(err, errlen, "%s: [server] password_file: '%s': %s",
                 config_file_from(cfg), path, why);
        return -1;
    }
    memcpy(cfg->server_password, buf, n);
    cfg->server_password[n] = '\0';
    return 0;
}

int
config_build(struct config *cfg, const char *path, char *const *sets, int nsets,
             char *err, size_t errlen)
{
    int i;

    config_defaults(cfg);
    if (path != NULL && config_load_file(cfg, path, err, errlen) < 0) {
        return -1;
    }
    for (i = 0; i < nsets; i++) {
        if (config_set(cfg, sets[i], err, errlen) < 0) {
            return -1;
        }
    }
    if (config_read_secrets(cfg, err, errlen) < 0) {
        return -1;
    }
    return config_check(cfg, err, errlen);
}

void
config_apply_live(struct config *dst, const struct config *src)
{
    for (size_t i = 0; i < CONFIG_KEYS; i++) {
        const struct config_row *row = &config__table[i];

        if (row->flags & CONFIG_LIVE) {
            memcpy((char *)dst + row->offset, (const char *)src + row->offset,
                   row->size);
            memcpy(dst->from[i], src->from[i], sizeof(dst->from[i]));
        }
    }
    dst->nusers = src->nusers; /* [users] is live */
    memcpy(dst->users, src->users, sizeof(dst->users));
}

int
config_key_live(const char *section, const char *name)
{
    const struct config_row *row = config__find(section, name);

    if (strcmp(section, CONFIG_USERS_SECTION) == 0) {
        return 1;
    }
    return row != NULL && (row->flags & CONFIG_LIVE) != 0;
}
