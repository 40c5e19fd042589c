/*
 * config_users: the [users] section of proxy.ini, client users that
 * authenticate with a name and a password of their own (serve/auth.h):
 *
 *     [users]
 *     alice = write sha256:<64 hex digits>
 *     reports = read sha256:<64 hex digits>
 *
 * Its keys are names the operator chooses, so it cannot be rows of the
 * table (config_table.c): this file parses, prints and compares it, and
 * config.c calls it where it would call a row's setter and formatter. A
 * name is 1 to 63 letters, digits, '-', '_', '.' or '@' (what fits an
 * INI key, a RESP AUTH and an HTTP Basic user name alike); the value is
 * a permission, read or write, and a password hash (base/pwhash.h).
 * Errors name the user and what is wrong, never the hash text: a
 * password pasted there by mistake must not reach a log.
 */
#include "base/config.h"
#include "base/config_row.h"

#include <stdio.h>
#include <string.h>

#include "base/pwhash.h"

_Static_assert(CONFIG_HASH_LEN == PWHASH_LEN, "a [users] hash is a pwhash");

static const char *const perm_names[] = {
    [CONFIG_PERM_READ] = "read",
    [CONFIG_PERM_WRITE] = "write",
};
#define NPERMS (sizeof(perm_names) / sizeof(perm_names[0]))

/* 1 when name is a valid user name. */
static int
name_ok(const char *name)
{
    size_t n = strlen(name), i;

    if (n == 0 || n >= CONFIG_USER_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
              c == '@')) {
            return 0;
        }
    }
    return 1;
}

/* The next blank-separated word of *p: its start, length in *len; *p
 * moves past it. NULL at the end. */
static const char *
word(const char **p, size_t *len)
{
    const char *s = *p, *e;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '\0') {
        *p = s;
        return NULL;
    }
    for (e = s; *e != '\0' && *e != ' ' && *e != '\t'; e++) {
    }
    *len = (size_t)(e - s);
    *p = e;
    return s;
}

const struct config_user *
config_user_find(const struct config *cfg, const char *name, size_t len)
{
    int i;

    for (i = 0; i < cfg->nusers; i++) {
        if (strlen(cfg->users[i].name) == len &&
            memcmp(cfg->users[i].name, name, len) == 0) {
            return &cfg->users[i];
        }
    }
    return NULL;
}

const char *
config__user_set(struct config *cfg, const char *name, const char *value,
                 char *buf, size_t len, int *slot)
{
    struct config_user u;
    const struct config_user *had;
    const char *p = value, *perm, *hash;
    size_t plen = 0, hlen = 0, extra, k;

    if (!name_ok(name)) {
        snprintf(buf, len,
                 "[users] '%.*s': a user name is 1 to %d letters, digits, "
                 "'-', '_', '.' or '@'",
                 CONFIG_USER_MAX, name, CONFIG_USER_MAX - 1);
        return buf;
    }
    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "%s", name);
    perm = word(&p, &plen);
    hash = perm != NULL ? word(&p, &hlen) : NULL;
    if (hash == NULL || word(&p, &extra) != NULL) {
        snprintf(buf, len,
                 "[users] %s: expected a permission and a password hash "
                 "('read sha256:...' or 'write sha256:...')",
                 name);
        return buf;
    }
    for (k = 0; k < NPERMS; k++) {
        if (strlen(perm_names[k]) == plen &&
            memcmp(perm, perm_names[k], plen) == 0) {
            break;
        }
    }
    u.perm = (int)k;
    if (k == NPERMS) {
        snprintf(buf, len,
                 "[users] %s: unknown permission '%.*s' (expected read or "
                 "write)",
                 name, plen > 32 ? 32 : (int)plen, perm);
        return buf;
    }
    if (pwhash_parse(hash, hlen, u.hash) < 0) {
        snprintf(buf, len,
                 "[users] %s: malformed password hash (expected " PWHASH_PREFIX
                 " and 64 hex digits, as redis-proxy --hash-password prints)",
                 name);
        return buf;
    }
    had = config_user_find(cfg, u.name, strlen(u.name));
    if (had == NULL && cfg->nusers == CONFIG_USERS_MAX) {
        snprintf(buf, len, "[users] %s: too many users (at most %d)", name,
                 CONFIG_USERS_MAX);
        return buf;
    }
    *slot = had != NULL ? (int)(had - cfg->users) : cfg->nusers++;
    cfg->users[*slot] = u;
    return NULL;
}

void
config__users_print(const struct config *cfg, FILE *out)
{
    char hash[PWHASH_TEXT];
    int i;

    if (cfg->nusers == 0) {
        return;
    }
    fprintf(out, "\n[%s]\n", CONFIG_USERS_SECTION);
    for (i = 0; i < cfg->nusers; i++) {
        pwhash_format(cfg->users[i].hash, hash, sizeof(hash));
        fprintf(out, "%s = %s %s\n", cfg->users[i].name,
                perm_names[cfg->users[i].perm], hash);
    }
}

void
config__users_line(const struct config *cfg, char *buf, size_t len,
                   size_t *used)
{
    int i, n;

    for (i = 0; i < cfg->nusers && *used < len; i++) {
        n = snprintf(buf + *used, len - *used, "%s%s:%s",
                     i == 0 ? " users=" : ",", cfg->users[i].name,
                     perm_names[cfg->users[i].perm]);
        if (n < 0) {
            return;
        }
        *used += (size_t)n;
    }
}

void
config__users_diff(const struct config *old, const struct config *new,
                   void (*fn)(void *arg, const char *section, const char *name,
                              const char *old_text, const char *new_text,
                              int live),
                   void *arg)
{
    char text[32];
    int i;

    for (i = 0; i < old->nusers; i++) {
        const struct config_user *o = &old->users[i];
        const struct config_user *n =
            config_user_find(new, o->name, strlen(o->name));

        if (n == NULL) {
            fn(arg, CONFIG_USERS_SECTION, o->name, perm_names[o->perm], "", 1);
        } else if (n->perm != o->perm ||
                   memcmp(n->hash, o->hash, sizeof(o->hash)) != 0) {
            snprintf(text, sizeof(text), "%s%s", perm_names[n->perm],
                     memcmp(n->hash, o->hash, sizeof(o->hash)) != 0
                         ? ", new password"
                         : "");
            fn(arg, CONFIG_USERS_SECTION, o->name, perm_names[o->perm], text,
               1);
        }
    }
    for (i = 0; i < new->nusers; i++) {
        const struct config_user *n = &new->users[i];

        if (config_user_find(old, n->name, strlen(n->name)) == NULL) {
            fn(arg, CONFIG_USERS_SECTION, n->name, "", perm_names[n->perm], 1);
        }
    }
}
