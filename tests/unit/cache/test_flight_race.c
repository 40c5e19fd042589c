/*
 * Unit tests for flight under threads: writers bump a key's version, then
 * invalidate it (as Redis reports a write), while readers fill it through
 * the registry with pauses between "reading Redis" and finishing: no key
 * may end up cached older than its last write, every waiter is told once
 * (a follower by the leader's thread, never its own), and the counts show
 * every path (hits, leads, follows, raced fills) was taken.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flight_helpers.h"

TestSuite(flight_race, .fini = teardown);

/* ---- threads ---- */

#define MT_THREADS 8
#define MT_ITERS 2000
#define MT_KEYS 5

/* A stand-in for Redis: key k holds version[k]; a write bumps the version,
 * then sends the invalidation. */
static atomic_uint mt_version[MT_KEYS];
static atomic_int mt_stop;
/* Followers told, told on a thread other than the one that joined, and
 * told something wrong: done() runs on the leader's thread. */
static atomic_long mt_told, mt_told_elsewhere, mt_told_bad;

struct mt_arg {
    unsigned seed;
    long hits, leads, stored, raced, follows, writes, bad;
};

#define MT_KEY(k, buf) ((size_t)snprintf(buf, 16, "mt:%u", k))
/* The value of key k at version v; its prefix up to '@' names the key. */
#define MT_VALUE(k, v, buf)                                                    \
    ((size_t)snprintf(buf, 48, "value-of-mt:%u@%u", k, v))

/* Whether e holds key k and a value of key k (at any version). */
static int
mt_matches(const struct cache_entry *e, unsigned k)
{
    char key[16], want[48];
    size_t kn = MT_KEY(k, key);
    size_t pn = (size_t)snprintf(want, sizeof(want), "value-of-mt:%u@", k);

    return e != NULL && e->klen == kn &&
           memcmp(cache_entry_key(e), key, kn) == 0 && e->vlen > pn &&
           memcmp(cache_entry_value(e), want, pn) == 0;
}

/* Redis's side of a write: the new version, then the invalidation. */
static void
mt_write(struct mt_arg *a, unsigned k)
{
    char key[16];

    atomic_fetch_add(&mt_version[k], 1);
    flights_invalidate(fl, key, MT_KEY(k, key));
    a->writes++;
}

/* The leader of a fill of k: "reads Redis", then finishes after a pause in
 * which a writer may change the key. Every 4th fill (the first included)
 * also plays a write that lands between Redis's reply and the finish: that
 * fill must not be stored. */
static void
mt_lead(struct mt_arg *a, struct flight *f, struct waiter *own, unsigned k,
        const char *key, size_t kn)
{
    char val[48];
    unsigned v = atomic_load(&mt_version[k]);
    struct cache_entry *e =
        cache_entry_create(c, key, kn, val, MT_VALUE(k, v, val));
    int race = a->leads % 4 == 0, stored;

    if (e == NULL) {
        a->bad++;
        flight_finish(fl, f, -1, NULL, "no memory", 0);
        return;
    }
    if (race) {
        mt_write(a, k);
        a->raced++;
    }
    sched_yield();
    a->leads++;
    stored = flight_finish(fl, f, 0, e, key, 1);
    a->bad += race && stored;
    a->stored += stored;
    /* The leader's own waiter, told by its own finish before it returns. */
    a->bad += atomic_load(&own->calls) != 1 || own->entry != e;
    cache_release(e);
}

/* A follower's waiter: it checks what it is told and frees itself, in
 * done(), on the thread of whichever leader finishes its fill. */
struct mt_waiter {
    struct waiter w; /* first */
    unsigned k;
    char key[16];
    pthread_t joined_on;
};

static void
mt_told_check(struct waiter *w)
{
    struct mt_waiter *m = (struct mt_waiter *)w;

    if (w->status != 0 || !mt_matches(w->entry, m->k) ||
        strcmp(w->err, m->key) != 0) {
        atomic_fetch_add(&mt_told_bad, 1);
    }
    if (!pthread_equal(w->thread, m->joined_on)) {
        atomic_fetch_add(&mt_told_elsewhere, 1);
    }
    atomic_fetch_add(&mt_told, 1);
    free(m);
}

static struct mt_waiter *
mt_waiter_new(unsigned k, const char *key, size_t kn)
{
    struct mt_waiter *m = malloc(sizeof(*m));

    if (m != NULL) {
        waiter_init(&m->w);
        m->w.keep = 0; /* the entry is borrowed for the call */
        m->w.then = mt_told_check;
        m->k = k;
        memcpy(m->key, key, kn + 1);
        m->joined_on = pthread_self();
    }
    return m;
}

/* The proxy's side of a GET: cache, else join the fill. One iteration in
 * 16 is a write instead, so keys keep going missing and fills overlap. */
static void *
mt_reader(void *p)
{
    struct mt_arg *a = p;
    char key[16];
    int i;

    for (i = 0; i < MT_ITERS; i++) {
        unsigned r = (unsigned)rand_r(&a->seed), k = r % MT_KEYS;
        size_t kn = MT_KEY(k, key);
        struct cache_entry *e;
        struct mt_waiter *m;
        struct flight *f;
        int leader;

        if (r / MT_KEYS % 16 == 0) {
            mt_write(a, k);
            continue;
        }
        if ((e = cache_get(c, key, kn)) != NULL) {
            a->hits++;
            a->bad += !mt_matches(e, k);
            cache_release(e);
            continue;
        }
        m = mt_waiter_new(k, key, kn);
        f = m != NULL ? flight_join(fl, 0, key, kn, &m->w.w, &leader) : NULL;
        if (f == NULL) {
            free(m);
            a->bad++;
        } else if (leader) {
            /* Its own waiter: checked here, so not freed in done(). */
            m->w.then = NULL;
            mt_lead(a, f, &m->w, k, key, kn);
            free(m);
        } else {
            a->follows++; /* m is the leader's to tell now */
        }
    }
    return NULL;
}

/* A writer that runs until the readers are done. */
static void *
mt_writer(void *p)
{
    struct mt_arg *a = p;

    while (!atomic_load(&mt_stop)) {
        mt_write(a, (unsigned)rand_r(&a->seed) % MT_KEYS);
        sched_yield();
    }
    return NULL;
}

/* Every cached key holds its latest version, and only the cache holds it.
 * Returns how many keys are cached. */
static long
mt_check_cache(void)
{
    char key[16], want[48];
    long present = 0;
    unsigned k;

    for (k = 0; k < MT_KEYS; k++) {
        size_t kn = MT_KEY(k, key);
        size_t vn = MT_VALUE(k, atomic_load(&mt_version[k]), want);
        struct cache_entry *e = cache_get_stale(c, key, kn);

        if (e != NULL) {
            present++;
            expect_entry(e, key, kn, want, vn);
            cr_assert_eq(refs(e), 2, "key %u: a reference leaked", k);
            cache_release(e);
        }
    }
    return present;
}

Test(flight_race, concurrent_fills_and_invalidations_never_leave_a_stale_value)
{
    struct mt_arg args[MT_THREADS + 1], sum = {0};
    pthread_t th[MT_THREADS + 1];
    struct flight_stats st;
    int i;

    setup(64, 0);
    for (i = 0; i <= MT_THREADS; i++) {
        args[i] = (struct mt_arg){.seed = 777u + (unsigned)i};
        cr_assert_eq(pthread_create(&th[i], NULL,
                                    i < MT_THREADS ? mt_reader : mt_writer,
                                    &args[i]),
                     0);
    }
    for (i = 0; i < MT_THREADS; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
    }
    atomic_store(&mt_stop, 1);
    cr_assert_eq(pthread_join(th[MT_THREADS], NULL), 0);
    for (i = 0; i <= MT_THREADS; i++) {
        sum.hits += args[i].hits;
        sum.leads += args[i].leads;
        sum.stored += args[i].stored;
        sum.raced += args[i].raced;
        sum.follows += args[i].follows;
        sum.writes += args[i].writes;
        sum.bad += args[i].bad;
    }
    cr_assert_eq(sum.bad, 0, "%ld wrong answers", sum.bad);
    cr_assert_eq(atomic_load(&mt_told_bad), 0, "%ld followers told wrong",
                 atomic_load(&mt_told_bad));
    cr_assert_eq(atomic_load(&mt_told), sum.follows,
                 "every follower told once: %ld of %ld", atomic_load(&mt_told),
                 sum.follows);
    cr_assert_eq(atomic_load(&mt_told_elsewhere), sum.follows,
                 "a follower is told on its leader's thread");
    /* Each reader iteration is a hit, a lead, a follow or a write; a raced
     * lead also counts one write. */
    cr_assert_eq(sum.hits + sum.leads + sum.follows + sum.writes - sum.raced -
                     args[MT_THREADS].writes,
                 (long)MT_THREADS * MT_ITERS);
    flights_stats(fl, &st);
    cr_assert_eq(st.fills, sum.leads);
    cr_assert_eq(st.coalesced, sum.follows);
    cr_assert_eq(st.fills, sum.stored + st.discarded,
                 "every fill is stored or discarded");
    cr_assert_leq(st.invalidations, sum.writes);
    cr_assert_geq(st.discarded, sum.raced);
    cr_assert_gt(sum.raced, 0, "the first fill races a write");
    cr_assert_gt(st.coalesced, 0, "the run must exercise followers");
    cr_assert_eq(st.in_flight, 0);
    expect_entries(mt_check_cache());
}
