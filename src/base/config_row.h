/*
 * config_row: one key of the configuration table and what the config module
 * does with it. The seam between the two halves of the module: config.c
 * (loading, -s, printing, config_diff) walks the rows; config_table.c holds
 * them and the one setter and one formatter per kind of value. Internal to
 * the config module (config.c, config_table.c); everything here carries
 * "config__".
 *
 * A row says which field a key fills and how: its kind picks the setter
 * and the formatter, and min/max, the default and the flags come from the
 * row, so "0 = off" or "zero allowed" is a property of the row, never a
 * separate setter. This header includes no project header (struct config
 * is only named here), so config.c and config_table.c both stand on it and
 * neither includes the other.
 */
#ifndef RP_CONFIG_ROW_H
#define RP_CONFIG_ROW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config;

#define CONFIG_STR_MAX 255 /* bytes in every string field */

/* What a key's value is; each has one setter and one formatter. */
enum config_kind {
    CONFIG_INT,      /* int in min..max */
    CONFIG_LONG,     /* long in min..max */
    CONFIG_PORT,     /* int port in min..max; min 0 means 0 = off */
    CONFIG_DURATION, /* int64_t ms in min..max (units ms, s, m, h) */
    CONFIG_SIZE,     /* int64_t bytes in min..max (units b, kb, mb, gb) */
    CONFIG_BOOL,     /* int 0 or 1: on/off, yes/no, true/false, 1/0 */
    CONFIG_STRING,   /* char[size], text that prints back as it loads */
    CONFIG_LOGLEVEL, /* int enum config_log_level */
    CONFIG_SEEDS,    /* a string that is a list config_seed_next reads */
    CONFIG_HOSTS,    /* a string that is a list config_host_next reads */
    CONFIG_VERIFY,   /* int enum config_tls_verify: off, optional, on */
    CONFIG_READFROM, /* int enum config_read_from */
};

/* Row flags. */
#define CONFIG_SECRET 1u /* printed as "***", never echoed in errors */
#define CONFIG_LIVE 2u   /* can change on a running proxy (SIGHUP) */

struct config_row {
    const char *section;
    const char *name;
    enum config_kind kind;
    size_t offset; /* offsetof(struct config, field) */
    size_t size;   /* sizeof the field */
    int64_t min;   /* numeric kinds: accepted range, shown in errors */
    int64_t max;
    const char *def; /* default, as file text; config_defaults applies it */
    unsigned flags;  /* CONFIG_SECRET, CONFIG_LIVE */
};

/* Every key, in the order config_print writes them: CONFIG_KEYS rows
 * (config.h). */
extern const struct config_row config__table[];

/* The row of section.name, or NULL. */
const struct config_row *config__find(const char *section, const char *name);

/* 1 when section[0..len) names a section of the table. */
int config__section_known(const char *section, size_t len);

/*
 * Parses value into row's field of cfg with the setter of row's kind.
 * Returns NULL, or an error (a constant, or text written to buf[0..len))
 * that says what was expected, ranges included, without the value; the
 * field is unchanged on error.
 */
const char *config__set(const struct config_row *row, struct config *cfg,
                        const char *value, char *buf, size_t len);

/* Writes row's field of cfg into buf[0..len) as text its setter accepts
 * back (a set secret as "***"). */
void config__format(const struct config_row *row, const struct config *cfg,
                    char *buf, size_t len);

/* 1 when row's field differs between a and b. */
int config__differs(const struct config_row *row, const struct config *a,
                    const struct config *b);

/*
 * [users] (config_users.c), whose keys are the names users choose, so it
 * has no rows: each key is one client user, "NAME = PERMISSION HASH".
 */
#define CONFIG_USERS_SECTION "users"

/* Sets user name to value ("read HASH" or "write HASH") in cfg: replaces
 * the user's entry, or adds one. Returns NULL with the entry's index in
 * *slot, or an error (in buf[0..len), or a constant) that names the user
 * and what is wrong, never the hash text (it may be a password pasted by
 * mistake); cfg is unchanged on error. */
const char *config__user_set(struct config *cfg, const char *name,
                             const char *value, char *buf, size_t len,
                             int *slot);

/* [users] as config_print writes it (nothing when there are none). */
void config__users_print(const struct config *cfg, FILE *out);

/* Appends " users=NAME:PERMISSION,..." (no hashes) to buf[*used..len). */
void config__users_line(const struct config *cfg, char *buf, size_t len,
                        size_t *used);

/* config_diff's part for [users] (see config.h). */
void config__users_diff(const struct config *old, const struct config *new,
                        void (*fn)(void *arg, const char *section,
                                   const char *name, const char *old_text,
                                   const char *new_text, int live),
                        void *arg);

#endif
