/*
 * rcmd: command records and a conn's fifo of them; see rcmd.h.
 */
#include "serve/rcmd.h"

#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "net/waiter.h"
#include "proto/resp_encode.h"
#include "upstream/commands.h"
#include "serve/cplan.h"
#include "serve/outcome.h"
#include "serve/proxy.h"
#include "upstream/idents.h"
#include "upstream/nodes.h"

struct rcmd *
rcmd_new(struct proxy *px, const struct conn *c, enum rcmd_kind kind,
         size_t raw_cap)
{
    struct rcmd *r = malloc(sizeof(*r) + raw_cap);

    if (r == NULL) {
        return NULL;
    }
    memset(r, 0, sizeof(*r));
    atomic_init(&r->state, RCMD_WAITING);
    atomic_init(&r->parts_left, 1);
    r->px = px;
    r->slot = c != NULL ? c->slot : 0;
    r->gen = c != NULL ? c->gen : 0;
    r->kind = (uint8_t)kind;
    r->proto = 2;
    r->raw = raw_cap > 0 ? (char *)(r + 1) : NULL;
    r->parts = &r->part0;
    r->nparts = 1;
    r->part0.r = r;
    atomic_fetch_add_explicit(&px->records, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&px->awaiting, 1, memory_order_relaxed);
    return r;
}

/* r leaves WAITING. */
static void
settled(struct rcmd *r)
{
    atomic_fetch_sub_explicit(&r->px->awaiting, 1, memory_order_relaxed);
}

void
rcmd_settle(struct rcmd *r)
{
    atomic_store_explicit(&r->state, RCMD_DONE, memory_order_release);
    settled(r);
}

void
rcmd_rewait(struct rcmd *r)
{
    atomic_fetch_add_explicit(&r->px->awaiting, 1, memory_order_relaxed);
    atomic_store_explicit(&r->state, RCMD_WAITING, memory_order_relaxed);
}

int
rcmd_partition(const struct rcmd *r)
{
    return idents_partition(r->ident, r->db);
}

/* Drops a reference to h, and n bytes it no longer holds. */
static void
held_put(struct rheld *h, size_t n)
{
    if (h == NULL) {
        return;
    }
    atomic_fetch_sub_explicit(&h->bytes, n, memory_order_relaxed);
    if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1) {
        free(h);
    }
}

/* Completer: counts r's reply in its conn's held bytes, or drops it when
 * that would be over max_output. */
static void
held_add(struct rcmd *r)
{
    struct rheld *h = r->held;
    size_t n = r->reply_len + (r->entry != NULL ? r->entry->vlen : 0), total;
    int64_t max;

    if (h == NULL || n == 0) {
        return;
    }
    max = atomic_load_explicit(h->max, memory_order_relaxed);
    total = atomic_fetch_add_explicit(&h->bytes, n, memory_order_relaxed) + n;
    if (max > 0 && total > (uint64_t)max) {
        atomic_fetch_sub_explicit(&h->bytes, n, memory_order_relaxed);
        atomic_store_explicit(&h->over, 1, memory_order_relaxed);
        if (r->reply != r->inl) {
            free(r->reply);
        }
        r->reply = NULL;
        r->reply_len = 0;
        cache_release(r->entry);
        r->entry = NULL;
        rcmd_fail(r, OUTCOME_ENOMEM, "over max_output");
        return;
    }
    r->held_n = n;
}

void
rcmd_free(struct rcmd *r)
{
    uint32_t i;

    if (r == NULL) {
        return;
    }
    for (i = 0; i < r->nparts; i++) {
        free(r->parts[i].own);
        free(r->parts[i].reply);
        free(r->parts[i].redirect);
    }
    if (r->parts != &r->part0) {
        free(r->parts);
    }
    if (r->plan != NULL) {
        cplan_free(r->plan); /* its arrays; the parts' bytes are theirs */
        free(r->plan);
    }
    cache_release(r->entry);
    if (r->reply != r->inl) {
        free(r->reply);
    }
    free(r->err);
    free(r->getkeys);
    free(r->keys);
    free(r->args);
    held_put(r->held, r->held_n);
    if (atomic_load_explicit(&r->state, memory_order_relaxed) == RCMD_WAITING) {
        settled(r); /* never answered: made, then dropped */
    }
    atomic_fetch_sub_explicit(&r->px->records, 1, memory_order_relaxed);
    free(r);
}

int
rcmd_set_reply(struct rcmd *r, const char *p, size_t len)
{
    char *to = len <= sizeof(r->inl) ? r->inl : malloc(len);

    if (r->reply != r->inl) {
        free(r->reply);
    }
    r->reply = NULL;
    r->reply_len = 0;
    if (to == NULL) {
        return -1;
    }
    memcpy(to, p, len);
    r->reply = to;
    r->reply_len = len;
    return 0;
}

void
rcmd_fail(struct rcmd *r, int o, const char *detail)
{
    r->status = o;
    free(r->err);
    r->err = detail != NULL ? strdup(detail) : NULL;
}

void
rcmd_complete(struct rcmd *r)
{
    struct waiter *w = r->px->waiter;
    uint32_t slot = r->slot, gen = r->gen;

    held_add(r);
    settled(r);
    if (atomic_exchange_explicit(&r->state, RCMD_DONE, memory_order_acq_rel) ==
        RCMD_ORPHAN) {
        rcmd_free(r);
        return;
    }
    /* From here r is its conn's (which may already be freeing it). */
    waiter_wake(w, slot, gen);
}

void
rcmd_abandon(struct rcmd *r)
{
    int waiting = RCMD_WAITING;

    if (!atomic_compare_exchange_strong_explicit(
            &r->state, &waiting, RCMD_ORPHAN, memory_order_acq_rel,
            memory_order_acquire)) {
        rcmd_free(r); /* DONE: nobody else will */
    }
}

/* Gives r f's held-bytes counter (rfifo_push: before r is handed to
 * anything that may complete it on another thread, which counts its reply
 * there). */
static void
rfifo_hold(const struct rfifo *f, struct rcmd *r)
{
    if (f->held != NULL && r->held == NULL) {
        atomic_fetch_add_explicit(&f->held->refs, 1, memory_order_relaxed);
        r->held = f->held;
    }
}

void
rfifo_push(struct rfifo *f, struct rcmd *r)
{
    r->next = NULL;
    if (f->tail != NULL) {
        f->tail->next = r;
    } else {
        f->head = r;
    }
    f->tail = r;
    f->n++;
    rfifo_hold(f, r);
    f->forwards += r->kind == RCMD_FORWARD;
    f->lookups += r->kind == RCMD_LOOKUP;
}

struct rcmd *
rfifo_pop(struct rfifo *f)
{
    struct rcmd *r = f->head;

    if (r != NULL) {
        f->head = r->next;
        if (f->head == NULL) {
            f->tail = NULL;
        }
        f->n--;
        f->forwards -= r->kind == RCMD_FORWARD;
        f->lookups -= r->kind == RCMD_LOOKUP;
        r->next = NULL;
    }
    return r;
}

void
rfifo_abandon_all(struct rfifo *f)
{
    struct rcmd *r;

    while ((r = rfifo_pop(f)) != NULL) {
        rcmd_abandon(r);
    }
    held_put(f->held, 0);
    f->held = NULL;
}

int
rfifo_limit(struct rfifo *f, const _Atomic int64_t *max)
{
    f->held = calloc(1, sizeof(*f->held));
    if (f->held == NULL) {
        return -1;
    }
    atomic_init(&f->held->refs, 1);
    f->held->max = max;
    return 0;
}

/* May w change any key (a write whose keys only Redis can tell, or a
 * write without keys such as FLUSHALL)? A command Redis's table does not
 * list is taken for none: Redis refuses it (the table is Redis's own,
 * read again whenever Redis comes back), and if it ever ran, its reply
 * empties the cache. */
static int
writes_anything(const struct rcmd *w)
{
    return w->keys_asked || ((w->flags & CMD_WRITE) && w->nkeys == 0);
}

int
rfifo_writes_key(const struct rfifo *f, const char *key, size_t klen)
{
    const struct rcmd *r;
    uint32_t i;

    if (f->forwards == 0) {
        return 0;
    }
    for (r = f->head; r != NULL; r = r->next) {
        if (r->kind != RCMD_FORWARD || rcmd_done((struct rcmd *)r)) {
            continue;
        }
        if (writes_anything(r)) {
            return 1;
        }
        for (i = 0; i < r->nkeys; i++) {
            if (r->wkey[i] && r->keys[i].len == klen &&
                memcmp(r->raw + r->keys[i].off, key, klen) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

int
rfifo_reads_keys_of(const struct rfifo *f, const struct rcmd *w)
{
    const struct rcmd *r;
    uint32_t i;

    if (f->lookups == 0) {
        return 0;
    }
    for (r = f->head; r != NULL; r = r->next) {
        if (r->kind != RCMD_LOOKUP || rcmd_done((struct rcmd *)r)) {
            continue;
        }
        if (writes_anything(w)) {
            return 1;
        }
        for (i = 0; i < w->nkeys; i++) {
            if (w->wkey[i] && w->keys[i].len == r->raw_len &&
                memcmp(w->raw + w->keys[i].off, r->raw, r->raw_len) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

size_t
rfifo_held_bytes(const struct rfifo *f)
{
    if (f->held == NULL) {
        return 0;
    }
    if (atomic_load_explicit(&f->held->over, memory_order_relaxed)) {
        return (size_t)INT64_MAX;
    }
    return atomic_load_explicit(&f->held->bytes, memory_order_relaxed);
}

int
rcmd_may_write(const struct rcmd *r)
{
    uint32_t i;

    if (!r->known || (r->flags & CMD_WRITE) || r->keys_asked) {
        return 1;
    }
    for (i = 0; i < r->nkeys; i++) {
        if (r->wkey[i]) {
            return 1;
        }
    }
    return 0;
}

int
rfifo_has_write(const struct rfifo *f)
{
    const struct rcmd *r;

    if (f->forwards == 0) {
        return 0;
    }
    for (r = f->head; r != NULL; r = r->next) {
        if (r->kind == RCMD_FORWARD && rcmd_may_write(r)) {
            return 1;
        }
    }
    return 0;
}

int
rfifo_alone(const struct rfifo *f, const struct rcmd *h)
{
    const struct rcmd *it;

    (void)f;
    for (it = h->next; it != NULL; it = it->next) {
        if (it->kind != RCMD_HELD) {
            return 0;
        }
    }
    return 1;
}

void
rfifo_wait_state(const struct rfifo *f, struct conn *c)
{
    c->waiting = f->head != NULL;
    c->wait_deadline_ms = f->head != NULL ? f->head->deadline_ms : 0;
}

/* Keys as commands_keys finds them: offsets into the record's raw. */
struct key_walk {
    const char *base; /* what the keys' pointers point into */
    struct rkey *keys;
    uint8_t *wkey;
    uint32_t n, cap;
    int writes; /* second pass: mark the keys a write changes */
    uint32_t at;
};

static void
key_found(void *arg, const struct resp_arg *key)
{
    struct key_walk *kw = arg;
    uint32_t off = (uint32_t)(key->p - kw->base), i;

    if (!kw->writes) {
        if (kw->n < kw->cap) {
            kw->keys[kw->n].off = off;
            kw->keys[kw->n].len = (uint32_t)key->len;
            kw->wkey[kw->n] = 0;
            kw->n++;
        }
        return;
    }
    for (i = 0; i < kw->n; i++) {
        if (kw->keys[i].off == off) {
            kw->wkey[i] = 1;
            return;
        }
    }
}

/* Every argument of cmd (whose bytes are raw), as offsets. Returns 0 or
 * -1. */
static int
all_args(struct rcmd *r, const struct resp_command *cmd, const char *raw)
{
    struct resp_iter it;
    struct resp_arg a;

    r->args = malloc((cmd->argc + 1) * sizeof(*r->args));
    if (r->args == NULL) {
        return -1;
    }
    resp_iter_init(&it, cmd, raw);
    while (r->nargs < cmd->argc && resp_iter_next(&it, &a)) {
        r->args[r->nargs].off = (uint32_t)(a.p - raw);
        r->args[r->nargs].len = (uint32_t)a.len;
        r->nargs++;
    }
    return 0;
}

/* The keys of the command (cmd, its bytes in raw) into r. Returns 0 or
 * -1. */
static int
find_keys(struct rcmd *r, const struct resp_command *cmd, const char *raw,
          const struct cmd_info *ci, unsigned what)
{
    struct key_walk kw = {.base = raw};
    int k;

    kw.cap = cmd->argc > 1 ? (uint32_t)(cmd->argc - 1) : 1;
    r->keys = malloc(kw.cap * (sizeof(*r->keys) + 1));
    if (r->keys == NULL) {
        return -1;
    }
    kw.keys = r->keys;
    kw.wkey = (uint8_t *)(r->keys + kw.cap);
    r->wkey = kw.wkey;
    k = commands_keys(ci, cmd, raw, 0, key_found, &kw);
    if (r->flags & CMD_WRITE) {
        memset(kw.wkey, 1, kw.n); /* a write may change any of its keys */
    } else if (k == 0) {
        /* A command that is no write may still change the keys its specs
         * say (EVAL's). */
        kw.writes = 1;
        commands_keys(ci, cmd, raw, 1, key_found, &kw);
    }
    r->nkeys = kw.n;
    r->keys_asked = k == 1 && (r->flags & CMD_WRITE);
    if (!(what & RCMD_KEYS_ALL) && memchr(kw.wkey, 1, kw.n) == NULL) {
        free(r->keys); /* a read outside a cluster: no key matters */
        r->keys = NULL;
        r->wkey = NULL;
        r->nkeys = 0;
    }
    return 0;
}

struct rcmd *
rcmd_command(struct proxy *px, const struct conn *c,
             const struct resp_command *cmd, char *buf,
             const struct cmd_info *ci, int proto, int db, unsigned what)
{
    struct resp_command arr;
    const struct resp_command *use = cmd;
    char *enc = NULL;
    size_t len = cmd->consumed, cap = 0, n;
    const char *err;
    struct rcmd *r;

    if (cmd->is_inline) {
        len = 0;
        if (resp_encode(cmd, buf, &enc, &len, &cap) < 0) {
            free(enc);
            return NULL;
        }
    }
    r = rcmd_new(px, c, RCMD_FORWARD, len);
    if (r == NULL) {
        free(enc);
        return NULL;
    }
    memcpy(r->raw, cmd->is_inline ? enc : buf, len);
    free(enc);
    r->raw_len = len;
    r->proto = (uint8_t)proto;
    r->db = db;
    r->known = ci != NULL;
    r->flags = ci != NULL ? commands_flags(ci) : 0;
    n = cmd->argv[0].len < sizeof(r->name) ? cmd->argv[0].len : sizeof(r->name);
    memcpy(r->name, cmd->argv[0].p, n);
    r->name_len = (uint8_t)n;
    if (cmd->is_inline) {
        /* Keys are found in the array form, where the record keeps them. */
        if (resp_parse(r->raw, r->raw_len, (size_t)-1, &arr, &err) != RESP_OK) {
            rcmd_free(r);
            return NULL;
        }
        use = &arr;
    }
    if (((what & RCMD_KEYS_ALL) && all_args(r, use, r->raw) < 0) ||
        (ci != NULL && find_keys(r, use, r->raw, ci, what) < 0)) {
        rcmd_free(r);
        return NULL;
    }
    return r;
}
