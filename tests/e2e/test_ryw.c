/*
 * End-to-end tests of read-your-writes through the proxy, and of entries
 * that end with the key's own expiry in Redis.
 *
 * Writes go through the proxy over RESP (SET) and HTTP (PUT, [http]
 * writes = on) and reads come back over both, from several threads at
 * once: a client always reads back what it just wrote, and a GET that
 * starts after a writer's reply arrived sees that write, even while other
 * clients' fills of the same key are in flight (the invalidation happens
 * before the reply is sent, and a fill it overtook is neither stored nor
 * shared with later requests). The cache is shown to have answered part
 * of the reads, so none of this holds by Redis answering everything.
 *
 * Expiry: with 200,000 other keys holding an hour's TTL (so Redis's active
 * expiry almost never looks at the few short ones), keys set with PX 300
 * and cached are gone through the proxy by 400 ms after their SET, and
 * the proxy's own expiry removed each entry (cache_expirations_total).
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define P "redis_proxy_"
#define IO_MS 5000

H_PAIR_SUITE(ryw, 120);

static const char writes_on[] = "[http]\nwrites = on\n";

/* ---- one client's reads and writes, over either protocol ---- */

struct client {
    redisContext *resp;
    int http;
    long hits; /* HTTP answers with X-Cache: HIT */
    char fail[512];
};

static int
client_open(struct client *c)
{
    memset(c, 0, sizeof(*c));
    c->resp = h_proxy_resp_ctx(&proxy);
    c->http = h_connect(proxy.http_port);
    return c->resp != NULL && c->http >= 0 ? 0 : -1;
}

static void
client_close(struct client *c)
{
    if (c->resp != NULL) {
        redisFree(c->resp);
    }
    if (c->http >= 0) {
        close(c->http);
    }
}

/* Writes key = val, over RESP or HTTP. Returns 0, or -1 with c->fail. */
static int
client_write(struct client *c, int over_http, const char *key, const char *val)
{
    char path[128];
    struct h_resp r;
    int ok;

    if (!over_http) {
        redisReply *rep = redisCommand(c->resp, "SET %s %s", key, val);

        ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;
        freeReplyObject(rep);
        if (!ok) {
            snprintf(c->fail, sizeof(c->fail), "SET %s: no +OK", key);
        }
        return ok ? 0 : -1;
    }
    snprintf(path, sizeof(path), "/%s", key);
    ok = h_http_do(c->http, "PUT", path, NULL, val, strlen(val), &r, IO_MS) ==
             0 &&
         r.status == 204;
    if (!ok) {
        snprintf(c->fail, sizeof(c->fail), "PUT %s: status %d", key, r.status);
    }
    h_resp_free(&r);
    return ok ? 0 : -1;
}

/* Reads key over RESP or HTTP into out. Returns 1 (a value), 0 (none),
 * or -1 with c->fail. */
static int
client_read(struct client *c, int over_http, const char *key, char *out,
            size_t cap)
{
    char path[128], xc[16];
    struct h_resp r;
    int rc;

    if (!over_http) {
        rc = h_resp_get(c->resp, key, out, cap);
        if (rc < 0) {
            snprintf(c->fail, sizeof(c->fail), "GET %s: %s", key, out);
        }
        return rc;
    }
    snprintf(path, sizeof(path), "/%s", key);
    if (h_http_get_on(c->http, path, &r, IO_MS) != 0 ||
        (r.status != 200 && r.status != 404)) {
        snprintf(c->fail, sizeof(c->fail), "GET %s: status %d", path, r.status);
        h_resp_free(&r);
        return -1;
    }
    rc = r.status == 200;
    snprintf(out, cap, "%.*s", rc ? (int)r.body_len : 0, rc ? r.body : "");
    if (h_header(&r, "X-Cache", xc, sizeof(xc)) && strcmp(xc, "HIT") == 0) {
        c->hits++;
    }
    h_resp_free(&r);
    return rc;
}

/* ---- each client its own keys ---- */

#define OWN_THREADS 8
#define OWN_ROUNDS 200
#define OWN_KEYS 3

static struct client own[OWN_THREADS];

static void *
own_keys(void *arg)
{
    struct client *c = arg;
    char key[64], val[64], got[64];
    int id = (int)(c - own);

    for (int i = 0; i < OWN_ROUNDS && c->fail[0] == '\0'; i++) {
        int w_http = i % 2, r_http = (i / 2) % 2;

        snprintf(key, sizeof(key), "own:%d:%d", id, i % OWN_KEYS);
        snprintf(val, sizeof(val), "version-%d", i);
        if (client_write(c, w_http, key, val) < 0) {
            break;
        }
        /* read back at once, then once more over the other protocol (a
         * hit, as nothing wrote in between) */
        for (int k = 0; k < 2; k++) {
            int over_http = k == 0 ? r_http : !r_http;
            int rc = client_read(c, over_http, key, got, sizeof(got));

            if (rc < 0) {
                break;
            }
            if (rc == 0 || strcmp(got, val) != 0) {
                snprintf(c->fail, sizeof(c->fail),
                         "%s written over %s, read back over %s: '%s', want "
                         "'%s'",
                         key, w_http ? "HTTP" : "RESP",
                         over_http ? "HTTP" : "RESP", rc ? got : "(nil)", val);
                break;
            }
        }
    }
    return NULL;
}

Test(ryw, every_client_reads_back_its_own_writes_over_both_protocols)
{
    struct client *cl = own;
    pthread_t t[OWN_THREADS];
    long hits = 0;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = writes_on, .admin = 1));
    for (int i = 0; i < OWN_THREADS; i++) {
        cr_assert_eq(client_open(&cl[i]), 0);
    }
    for (int i = 0; i < OWN_THREADS; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, own_keys, &cl[i]), 0);
    }
    for (int i = 0; i < OWN_THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    for (int i = 0; i < OWN_THREADS; i++) {
        cr_expect_str_empty(cl[i].fail, "client %d: %s", i, cl[i].fail);
        hits += cl[i].hits;
        client_close(&cl[i]);
    }
    cr_assert_gt(hits, OWN_THREADS * OWN_ROUNDS / 8,
                 "HTTP hits: %ld: the cache was hardly used", hits);
    cr_assert_geq(h_metric(&proxy, P "cache_hits_total"), (double)hits);
    cr_assert_eq(h_redis_calls(&redis, "set"), OWN_THREADS * OWN_ROUNDS);
}

/* ---- a writer and the readers of its key ---- */

#define PAIRS 2   /* keys, each with one writer */
#define READERS 3 /* readers per key */
#define WRITER_ROUNDS 300

struct keyed {
    char key[32];
    atomic_int published; /* the last version whose write was answered */
    atomic_int done;
};

struct actor {
    struct client c;
    struct keyed *k;
    int writer;
    long reads, newer; /* reads; reads that saw a version newer than the
                          last published when they started */
    int versions;      /* distinct versions a reader saw */
};

static void *
writer(void *arg)
{
    struct actor *a = arg;
    char val[32], got[32];

    for (int i = 1; i <= WRITER_ROUNDS; i++) {
        snprintf(val, sizeof(val), "%d", i);
        if (client_write(&a->c, i % 2, a->k->key, val) < 0) {
            break;
        }
        atomic_store(&a->k->published, i);
        /* its own write, read back while readers fill the same key */
        if (client_read(&a->c, (i / 2) % 2, a->k->key, got, sizeof(got)) < 0) {
            break;
        }
        if (atoi(got) != i) {
            snprintf(a->c.fail, sizeof(a->c.fail),
                     "the writer read back %s right after writing %d", got, i);
            break;
        }
    }
    atomic_store(&a->k->done, 1);
    return NULL;
}

static void *
reader(void *arg)
{
    struct actor *a = arg;
    char got[32];
    int last = 0, i = 0;

    while (!atomic_load(&a->k->done) && a->c.fail[0] == '\0') {
        int before = atomic_load(&a->k->published), v;

        if (client_read(&a->c, i++ % 2, a->k->key, got, sizeof(got)) < 0) {
            break;
        }
        v = atoi(got);
        a->reads++;
        if (v < before) {
            snprintf(a->c.fail, sizeof(a->c.fail),
                     "read version %d of %s, started after the reply to the "
                     "write of %d",
                     v, a->k->key, before);
        } else if (v < last) {
            snprintf(a->c.fail, sizeof(a->c.fail),
                     "read version %d of %s after having read %d", v, a->k->key,
                     last);
        }
        a->newer += v > before;
        a->versions += v != last;
        last = v;
    }
    return NULL;
}

Test(ryw, a_get_after_a_writers_reply_sees_the_write_despite_fills_in_flight)
{
    static struct keyed keys[PAIRS];
    static struct actor act[PAIRS * (READERS + 1)];
    pthread_t t[PAIRS * (READERS + 1)];
    int n = PAIRS * (READERS + 1);
    long hits = 0, reads = 0;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = writes_on, .admin = 1));
    for (int k = 0; k < PAIRS; k++) {
        snprintf(keys[k].key, sizeof(keys[k].key), "shared:%d", k);
        h_set(&redis, keys[k].key, "0");
    }
    for (int i = 0; i < n; i++) {
        cr_assert_eq(client_open(&act[i].c), 0);
        act[i].k = &keys[i % PAIRS];
        act[i].writer = i < PAIRS;
    }
    for (int i = n - 1; i >= 0; i--) { /* readers first */
        cr_assert_eq(pthread_create(&t[i], NULL,
                                    act[i].writer ? writer : reader, &act[i]),
                     0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    for (int i = 0; i < n; i++) {
        cr_expect_str_empty(act[i].c.fail, "%s %d: %s",
                            act[i].writer ? "writer" : "reader", i,
                            act[i].c.fail);
        if (!act[i].writer) {
            cr_expect_gt(act[i].versions, 2,
                         "reader %d saw %d versions: it did not run alongside "
                         "the writes",
                         i, act[i].versions);
            reads += act[i].reads;
        }
        hits += act[i].c.hits;
        client_close(&act[i].c);
    }
    cr_assert_gt(hits, 0, "no HTTP hits in %ld reads", reads);
    cr_assert_gt(h_metric(&proxy, P "cache_hits_total"), 0);
    for (int k = 0; k < PAIRS; k++) {
        cr_assert_eq(atomic_load(&keys[k].published), WRITER_ROUNDS);
    }
}

/* ---- entries end when the key ends in Redis ---- */

#define FILL_KEYS 200000
#define SHORT_KEYS 20
#define SHORT_PX 300
#define GONE_BY_MS 400

/* SET fill:<i> x EX 3600 for every i, pipelined. */
static void
fill_long_lived(void)
{
    redisContext *c = h_redis_ctx(&redis);
    redisReply *r;

    cr_assert_not_null(c);
    for (int i = 0; i < FILL_KEYS; i += 10000) {
        for (int j = i; j < i + 10000; j++) {
            cr_assert_eq(redisAppendCommand(c, "SET fill:%d x EX 3600", j),
                         REDIS_OK);
        }
        for (int j = i; j < i + 10000; j++) {
            cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK, "fill %d", j);
            cr_assert_eq(r->type, REDIS_REPLY_STATUS);
            freeReplyObject(r);
        }
    }
    redisFree(c);
}

Test(ryw, cached_entries_end_with_the_keys_own_expiry_in_redis)
{
    int64_t set_at[SHORT_KEYS], gone_at[SHORT_KEYS];
    redisContext *direct;
    struct client c;
    char key[32], got[64];
    int left = SHORT_KEYS;
    double expired0;

    h_start_proxy(&proxy, &redis, H_OPTS(.admin = 1));
    fill_long_lived();
    direct = h_redis_ctx(&redis);
    cr_assert_not_null(direct);
    cr_assert_eq(client_open(&c), 0);
    for (int i = 0; i < SHORT_KEYS; i++) {
        redisReply *r;

        snprintf(key, sizeof(key), "short:%d", i);
        set_at[i] = h_now_ms();
        gone_at[i] = -1;
        r = redisCommand(direct, "SET %s v%d PX %d", key, i, SHORT_PX);
        cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
        /* read once (a miss that stores it), then a hit over HTTP */
        cr_assert_eq(client_read(&c, i % 2, key, got, sizeof(got)), 1, "%s",
                     key);
        c.hits = 0;
        cr_assert_eq(client_read(&c, 1, key, got, sizeof(got)), 1, "%s", key);
        cr_assert_eq(c.hits, 1, "%s: the second read was not a hit", key);
    }
    expired0 = h_metric(&proxy, P "cache_expirations_total");

    /* Poll every key until it is gone; a value served to a request sent
     * GONE_BY_MS or more after the key's SET is a failure. */
    while (left > 0 && h_now_ms() < set_at[0] + 5000) {
        for (int i = 0; i < SHORT_KEYS; i++) {
            int64_t sent = h_now_ms();
            int got_value;

            if (gone_at[i] >= 0) {
                continue;
            }
            snprintf(key, sizeof(key), "short:%d", i);
            got_value = client_read(&c, i % 2, key, got, sizeof(got));
            cr_assert_geq(got_value, 0, "%s", c.fail);
            cr_assert(!got_value || sent - set_at[i] < GONE_BY_MS,
                      "%s still served ('%s') %lld ms after its SET PX %d", key,
                      got, (long long)(sent - set_at[i]), SHORT_PX);
            if (!got_value) {
                gone_at[i] = sent - set_at[i];
                left--;
            }
        }
        h_sleep_ms(2);
    }
    cr_assert_eq(left, 0, "%d keys never went away", left);
    /* Each entry was removed by the proxy's own expiry, none by an
     * invalidation from Redis's. (An entry that expired a moment before
     * the key did is filled once more, with the key's last millisecond
     * or so, and expires again: more than one expiration per key.) */
    cr_assert_geq(h_metric(&proxy, P "cache_expirations_total") - expired0,
                  SHORT_KEYS);
    cr_assert_eq(h_metric(&proxy, P "cache_invalidations_total"), 0);
    {
        redisReply *r = redisCommand(direct, "DBSIZE");

        cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
        cr_assert_eq(r->integer, FILL_KEYS, "DBSIZE %lld", r->integer);
        freeReplyObject(r);
    }
    redisFree(direct);
    client_close(&c);
}
