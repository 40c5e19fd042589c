/*
 * commands: the command table from COMMAND; see commands.h.
 *
 * Parsed with hiredis's reply objects (a one-off blocking rconn) into
 * a sorted array of entries, each with its key specs and subcommands;
 * looked up by binary search on the lowercased name. Key positions follow
 * Redis 7's getKeysUsingKeySpecs() (db.c) step by step, so the proxy finds
 * exactly the keys Redis will use.
 */
#include "upstream/commands.h"

#include <ctype.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "upstream/rconn.h"

#define NAME_MAX_LEN 64 /* "container|subcommand" names are shorter */
#define KEYWORD_MAX 32  /* begin-search keywords ("STREAMS") */
#define STACK_ARGS 256  /* arguments indexed on the stack; more: heap */

/* Key-spec flags we use. */
#define KS_RO 0x1u
#define KS_NOT_KEY 0x2u
#define KS_INCOMPLETE 0x4u

enum bs_type { BS_UNKNOWN, BS_INDEX, BS_KEYWORD };
enum fk_type { FK_UNKNOWN, FK_RANGE, FK_KEYNUM };

struct keyspec {
    unsigned flags;
    enum bs_type bs;
    int index;                 /* BS_INDEX */
    char keyword[KEYWORD_MAX]; /* BS_KEYWORD */
    int startfrom;
    enum fk_type fk;
    int lastkey, keystep, limit; /* FK_RANGE (keystep also FK_KEYNUM) */
    int keynumidx, firstkey;     /* FK_KEYNUM */
};

struct cmd_info {
    char name[NAME_MAX_LEN]; /* lowercase, "container|sub" for a sub */
    int arity;
    unsigned flags;
    int first, last, step; /* legacy key positions */
    int asks_redis;        /* a spec cannot be computed from the args */
    struct keyspec *specs;
    int nspecs;
    struct cmd_info *subs; /* sorted */
    int nsubs;
};

struct cmd_table {
    struct cmd_info *cmds; /* sorted by name */
    size_t n;
};

struct commands {
    pthread_rwlock_t lock; /* readers: a worker using the table */
    struct cmd_table *table;
    char version[32]; /* INFO server's redis_version; lock */
    int databases;    /* CONFIG GET databases; 0 = unknown; lock */
};

static const struct cmd_table empty_table = {NULL, 0};

static void
info_free(struct cmd_info *ci)
{
    int i;

    for (i = 0; i < ci->nsubs; i++) {
        info_free(&ci->subs[i]);
    }
    free(ci->subs);
    free(ci->specs);
}

static void
table_free(struct cmd_table *t)
{
    size_t i;

    if (t == NULL) {
        return;
    }
    for (i = 0; i < t->n; i++) {
        info_free(&t->cmds[i]);
    }
    free(t->cmds);
    free(t);
}

/* ---- reading COMMAND's reply ---- */

static int
str_is(const redisReply *r, const char *s)
{
    return redis_reply_is_str(r) && strcasecmp(r->str, s) == 0;
}

static int
map_int(const redisReply *m, const char *key, int def)
{
    const redisReply *v = redis_reply_map_get(m, key);

    return v != NULL && v->type == REDIS_REPLY_INTEGER ? (int)v->integer : def;
}

static unsigned
command_flags(const redisReply *flags)
{
    static const struct {
        const char *name;
        unsigned bit;
    } known[] = {
        {"write", CMD_WRITE},
        {"readonly", CMD_READONLY},
        {"blocking", CMD_BLOCKING},
        {"pubsub", CMD_PUBSUB},
        {"movablekeys", CMD_MOVABLEKEYS},
        {"noscript", CMD_NOSCRIPT},
        {"admin", CMD_ADMIN},
    };
    unsigned out = 0;
    size_t i, j;

    if (flags == NULL || flags->type != REDIS_REPLY_ARRAY) {
        return 0;
    }
    for (i = 0; i < flags->elements; i++) {
        for (j = 0; j < sizeof(known) / sizeof(known[0]); j++) {
            if (str_is(flags->element[i], known[j].name)) {
                out |= known[j].bit;
            }
        }
    }
    return out;
}

/* CMD_SCRIPTING when Redis files the command under @scripting (its ACL
 * categories, COMMAND's seventh element since Redis 6). */
static unsigned
command_categories(const redisReply *cats)
{
    size_t i;

    for (i = 0;
         cats != NULL && cats->type == REDIS_REPLY_ARRAY && i < cats->elements;
         i++) {
        if (str_is(cats->element[i], "@scripting")) {
            return CMD_SCRIPTING;
        }
    }
    return 0;
}

static void
parse_spec(const redisReply *m, struct keyspec *ks)
{
    const redisReply *flags = redis_reply_map_get(m, "flags");
    const redisReply *bs = redis_reply_map_get(m, "begin_search");
    const redisReply *fk = redis_reply_map_get(m, "find_keys");
    const redisReply *bspec = redis_reply_map_get(bs, "spec"),
                     *fspec = redis_reply_map_get(fk, "spec");
    const redisReply *kw = redis_reply_map_get(bspec, "keyword");
    size_t i;

    memset(ks, 0, sizeof(*ks));
    for (i = 0; flags != NULL && flags->type == REDIS_REPLY_ARRAY &&
                i < flags->elements;
         i++) {
        const redisReply *f = flags->element[i];

        ks->flags |= str_is(f, "RO")           ? KS_RO
                     : str_is(f, "not_key")    ? KS_NOT_KEY
                     : str_is(f, "incomplete") ? KS_INCOMPLETE
                                               : 0;
    }
    if (str_is(redis_reply_map_get(bs, "type"), "index")) {
        ks->bs = BS_INDEX;
        ks->index = map_int(bspec, "index", 0);
    } else if (str_is(redis_reply_map_get(bs, "type"), "keyword") &&
               redis_reply_is_str(kw) && kw->len < KEYWORD_MAX) {
        ks->bs = BS_KEYWORD;
        memcpy(ks->keyword, kw->str, kw->len + 1);
        ks->startfrom = map_int(bspec, "startfrom", 1);
    }
    if (str_is(redis_reply_map_get(fk, "type"), "range")) {
        ks->fk = FK_RANGE;
        ks->lastkey = map_int(fspec, "lastkey", 0);
        ks->keystep = map_int(fspec, "keystep", 1);
        ks->limit = map_int(fspec, "limit", 0);
    } else if (str_is(redis_reply_map_get(fk, "type"), "keynum")) {
        ks->fk = FK_KEYNUM;
        ks->keynumidx = map_int(fspec, "keynumidx", 0);
        ks->firstkey = map_int(fspec, "firstkey", 1);
        ks->keystep = map_int(fspec, "keystep", 1);
    }
    if (ks->keystep < 1) {
        ks->keystep = 1;
    }
}

static int cmp_info(const void *a, const void *b);

/* Fills ci from one COMMAND entry. Returns 0, or -1 for an entry that is
 * not one (skipped) or out of memory. */
static int
parse_info(const redisReply *e, struct cmd_info *ci)
{
    const redisReply *specs, *subs;
    size_t i;

    memset(ci, 0, sizeof(*ci));
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 6 ||
        !redis_reply_is_str(e->element[0]) ||
        e->element[0]->len >= NAME_MAX_LEN ||
        e->element[1]->type != REDIS_REPLY_INTEGER) {
        return -1;
    }
    for (i = 0; i < e->element[0]->len; i++) {
        ci->name[i] = (char)tolower((unsigned char)e->element[0]->str[i]);
    }
    ci->arity = (int)e->element[1]->integer;
    ci->flags = command_flags(e->element[2]) |
                command_categories(e->elements > 6 ? e->element[6] : NULL);
    ci->first = (int)e->element[3]->integer;
    ci->last = (int)e->element[4]->integer;
    ci->step = (int)e->element[5]->integer;
    specs = e->elements > 8 ? e->element[8] : NULL;
    subs = e->elements > 9 ? e->element[9] : NULL;
    if (specs != NULL && specs->type == REDIS_REPLY_ARRAY &&
        specs->elements > 0) {
        ci->specs = calloc(specs->elements, sizeof(*ci->specs));
        if (ci->specs == NULL) {
            return -1;
        }
        for (i = 0; i < specs->elements; i++) {
            struct keyspec *ks = &ci->specs[ci->nspecs++];

            parse_spec(specs->element[i], ks);
            if (!(ks->flags & KS_NOT_KEY) &&
                (ks->bs == BS_UNKNOWN || ks->fk == FK_UNKNOWN ||
                 (ks->flags & KS_INCOMPLETE))) {
                ci->asks_redis = 1;
            }
        }
    } else if (ci->flags & CMD_MOVABLEKEYS) {
        ci->asks_redis = 1; /* before Redis 7: keys only Redis knows */
    }
    if (subs != NULL && subs->type == REDIS_REPLY_ARRAY && subs->elements > 0) {
        ci->subs = calloc(subs->elements, sizeof(*ci->subs));
        if (ci->subs == NULL) {
            return -1;
        }
        for (i = 0; i < subs->elements; i++) {
            if (parse_info(subs->element[i], &ci->subs[ci->nsubs]) == 0) {
                ci->nsubs++;
            }
        }
        qsort(ci->subs, (size_t)ci->nsubs, sizeof(*ci->subs), cmp_info);
    }
    return 0;
}

static int
cmp_info(const void *a, const void *b)
{
    return strcmp(((const struct cmd_info *)a)->name,
                  ((const struct cmd_info *)b)->name);
}

static struct cmd_table *
table_from(const redisReply *r)
{
    struct cmd_table *t = calloc(1, sizeof(*t));
    size_t i;

    if (t == NULL) {
        return NULL;
    }
    t->cmds = calloc(r->elements > 0 ? r->elements : 1, sizeof(*t->cmds));
    if (t->cmds == NULL) {
        free(t);
        return NULL;
    }
    for (i = 0; i < r->elements; i++) {
        if (parse_info(r->element[i], &t->cmds[t->n]) == 0) {
            t->n++;
        } else {
            info_free(&t->cmds[t->n]);
        }
    }
    qsort(t->cmds, t->n, sizeof(*t->cmds), cmp_info);
    return t;
}

/* ---- the holder ---- */

struct commands *
commands_create(void)
{
    struct commands *c = calloc(1, sizeof(*c));

    if (c != NULL && pthread_rwlock_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void
commands_destroy(struct commands *c)
{
    if (c == NULL) {
        return;
    }
    table_free(c->table);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

/* The server's version (INFO server) and how many databases it has
 * (CONFIG GET databases), where it tells: a managed Redis may refuse
 * either, and what is not learned stays as it was. */
static void
learn_server(struct commands *c, struct rconn *rc)
{
    char err[REDIS_ERR_MAX], version[32] = "";
    redisReply *r;
    const char *v;
    int dbs = 0;

    r = rconn_call(rc, "INFO", err, NULL, "INFO server");
    if (r != NULL && r->type == REDIS_REPLY_STRING &&
        (v = strstr(r->str, "redis_version:")) != NULL) {
        v += strlen("redis_version:");
        snprintf(version, sizeof(version), "%.*s", (int)strcspn(v, "\r\n"), v);
    }
    freeReplyObject(r);
    r = rconn_call(rc, "CONFIG", err, NULL, "CONFIG GET databases");
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        dbs = atoi(r->element[1]->str);
    }
    freeReplyObject(r);
    pthread_rwlock_wrlock(&c->lock);
    if (version[0] != '\0') {
        memcpy(c->version, version, sizeof(version));
    }
    if (dbs > 0) {
        c->databases = dbs;
    }
    pthread_rwlock_unlock(&c->lock);
}

long
commands_load(struct commands *c, const struct redis_target *target, char *err)
{
    struct cmd_table *t, *old;
    struct rconn rc;
    redisReply *r;

    rconn_init(&rc);
    if (rconn_open(&rc, target, NULL, err) < 0) {
        return -1;
    }
    r = rconn_call(&rc, "COMMAND", err, NULL, "COMMAND");
    if (r == NULL) {
        rconn_close(&rc);
        return -1;
    }
    t = r->type == REDIS_REPLY_ARRAY ? table_from(r) : NULL;
    freeReplyObject(r);
    if (t == NULL) {
        rconn_close(&rc);
        snprintf(err, REDIS_ERR_MAX, "COMMAND: unexpected reply");
        return -1;
    }
    learn_server(c, &rc);
    rconn_close(&rc);
    pthread_rwlock_wrlock(&c->lock);
    old = c->table;
    c->table = t;
    pthread_rwlock_unlock(&c->lock);
    table_free(old);
    return (long)t->n;
}

const struct cmd_table *
commands_acquire(struct commands *c)
{
    pthread_rwlock_rdlock(&c->lock);
    return c->table != NULL ? c->table : &empty_table;
}

void
commands_release(struct commands *c)
{
    pthread_rwlock_unlock(&c->lock);
}

size_t
commands_count(const struct cmd_table *t)
{
    return t->n;
}

/* Binary search over n entries for name[0..len) (lowercased here). */
static const struct cmd_info *
find_in(const struct cmd_info *v, size_t n, const char *name, size_t len)
{
    char key[NAME_MAX_LEN];
    size_t lo = 0, hi = n, i;

    if (len >= NAME_MAX_LEN) {
        return NULL;
    }
    for (i = 0; i < len; i++) {
        key[i] = (char)tolower((unsigned char)name[i]);
    }
    key[len] = '\0';
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(key, v[mid].name);

        if (c == 0) {
            return &v[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

const struct cmd_info *
commands_find(const struct cmd_table *t, const struct resp_arg *argv,
              size_t argc)
{
    const struct cmd_info *ci;
    char sub[NAME_MAX_LEN];
    int n;

    if (argc == 0 ||
        (ci = find_in(t->cmds, t->n, argv[0].p, argv[0].len)) == NULL) {
        return NULL;
    }
    if (ci->nsubs == 0 || argc < 2) {
        return ci;
    }
    n = snprintf(sub, sizeof(sub), "%s|%.*s", ci->name,
                 (int)(argv[1].len < NAME_MAX_LEN ? argv[1].len : 0),
                 argv[1].p);
    if (n > 0 && (size_t)n < sizeof(sub) && argv[1].len < NAME_MAX_LEN) {
        const struct cmd_info *s =
            find_in(ci->subs, (size_t)ci->nsubs, sub, (size_t)n);
        if (s != NULL) {
            return s;
        }
    }
    return ci;
}

int
commands_is_container(const struct cmd_info *ci)
{
    return ci->nsubs > 0;
}

const char *
commands_name(const struct cmd_info *ci)
{
    return ci->name;
}

unsigned
commands_flags(const struct cmd_info *ci)
{
    return ci->flags;
}

int
commands_arity(const struct cmd_info *ci)
{
    return ci->arity;
}

/* ---- key positions ---- */

/* Parses a non-negative decimal (Redis's string2ll, no sign). */
static int
arg_count(const struct resp_arg *a, long long *out)
{
    long long v = 0;
    size_t i;

    if (a->len == 0 || a->len > 18) {
        return -1;
    }
    for (i = 0; i < a->len; i++) {
        if (a->p[i] < '0' || a->p[i] > '9') {
            return -1;
        }
        v = v * 10 + (a->p[i] - '0');
    }
    *out = v;
    return 0;
}

/* The range [*first, *last] (stepping *step) of spec ks over argv, or -1
 * when the spec finds nothing here (keyword absent), -2 when the arguments
 * do not fit it. */
static int
spec_range(const struct keyspec *ks, const struct resp_arg *argv, int argc,
           int *first, int *last, int *step)
{
    int f = 0, i;

    if (ks->bs == BS_INDEX) {
        f = ks->index;
    } else {
        int start = ks->startfrom > 0 ? ks->startfrom : argc + ks->startfrom;
        int end = ks->startfrom > 0 ? argc - 1 : 1;
        size_t kl = strlen(ks->keyword);

        for (i = start; i != end; i = start <= end ? i + 1 : i - 1) {
            if (i >= argc || i < 1) {
                break;
            }
            if (argv[i].len == kl &&
                strncasecmp(argv[i].p, ks->keyword, kl) == 0) {
                f = i + 1;
                break;
            }
        }
        if (f == 0) {
            return -1;
        }
    }
    if (ks->fk == FK_RANGE) {
        if (ks->lastkey >= 0) {
            *last = f + ks->lastkey;
        } else if (ks->limit == 0) {
            *last = argc + ks->lastkey;
        } else {
            *last = f + ((argc - f) / ks->limit + ks->lastkey);
        }
    } else {
        long long numkeys;

        if (f + ks->keynumidx >= argc ||
            arg_count(&argv[f + ks->keynumidx], &numkeys) < 0 ||
            numkeys > argc) {
            return -2;
        }
        f += ks->firstkey;
        *last = f + (int)numkeys - 1;
    }
    *first = f;
    *step = ks->keystep;
    return 0;
}

/* Calls fn on argv[first..last] stepping step; -1 when out of bounds. */
static int
emit(const struct resp_arg *argv, int argc, int first, int last, int step,
     void (*fn)(void *, const struct resp_arg *), void *arg)
{
    int i;

    for (i = first; i <= last; i += step) {
        if (i >= argc || i < 1) {
            return -1;
        }
    }
    for (i = first; i <= last; i += step) {
        fn(arg, &argv[i]);
    }
    return 0;
}

static int
keys_of(const struct cmd_info *ci, const struct resp_arg *argv, int argc,
        int writes_only, void (*fn)(void *, const struct resp_arg *), void *arg)
{
    int j, first, last, step, rc;

    if (ci->asks_redis) {
        return 1;
    }
    if (ci->nspecs == 0) {
        /* Before Redis 7: first/last/step; every key may be written. */
        if (ci->first <= 0) {
            return 0;
        }
        last = ci->last < 0 ? argc + ci->last : ci->last;
        return emit(argv, argc, ci->first, last, ci->step > 0 ? ci->step : 1,
                    fn, arg);
    }
    for (j = 0; j < ci->nspecs; j++) {
        const struct keyspec *ks = &ci->specs[j];

        if ((ks->flags & KS_NOT_KEY) || (writes_only && (ks->flags & KS_RO))) {
            continue;
        }
        rc = spec_range(ks, argv, argc, &first, &last, &step);
        if (rc == -1) {
            continue;
        }
        if (rc < 0 || emit(argv, argc, first, last, step, fn, arg) < 0) {
            return -1;
        }
    }
    return 0;
}

int
commands_keys(const struct cmd_info *ci, const struct resp_command *cmd,
              const char *buf, int writes_only,
              void (*fn)(void *arg, const struct resp_arg *key), void *arg)
{
    struct resp_arg stack[STACK_ARGS], *argv = stack;
    struct resp_iter it;
    size_t i = 0;
    int rc;

    if (cmd->argc > (size_t)1 << 20) {
        return -1;
    }
    if (cmd->argc > STACK_ARGS &&
        (argv = malloc(cmd->argc * sizeof(*argv))) == NULL) {
        return 1; /* cannot index them: let Redis say */
    }
    resp_iter_init(&it, cmd, buf);
    while (i < cmd->argc && resp_iter_next(&it, &argv[i])) {
        i++;
    }
    rc = i == cmd->argc ? keys_of(ci, argv, (int)i, writes_only, fn, arg) : 1;
    if (argv != stack) {
        free(argv);
    }
    return rc;
}

void
commands_server(struct commands *c, char *version, size_t cap, int *databases)
{
    pthread_rwlock_rdlock(&c->lock);
    snprintf(version, cap, "%s", c->version);
    *databases = c->databases;
    pthread_rwlock_unlock(&c->lock);
}
