/*
 * clientmap: the proxy's client ids of sessions to Redis's; see
 * clientmap.h. A chained hash table of fixed size: the entries are the
 * sessions open (max_sessions at most), and a chain is a few of them.
 */
#include "serve/clientmap.h"

#include <pthread.h>
#include <stdlib.h>

#define BUCKETS 1024 /* a power of two */

struct entry {
    struct entry *next;
    uint64_t id;
    int node;
    long long redis_id;
};

struct clientmap {
    pthread_mutex_t lock;
    struct entry *bucket[BUCKETS];
};

static struct entry **
slot_of(struct clientmap *m, uint64_t id)
{
    return &m->bucket[id & (BUCKETS - 1)];
}

struct clientmap *
clientmap_create(void)
{
    struct clientmap *m = calloc(1, sizeof(*m));

    if (m != NULL && pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        m = NULL;
    }
    return m;
}

void
clientmap_destroy(struct clientmap *m)
{
    size_t i;

    if (m == NULL) {
        return;
    }
    for (i = 0; i < BUCKETS; i++) {
        while (m->bucket[i] != NULL) {
            struct entry *e = m->bucket[i];

            m->bucket[i] = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int
clientmap_set(struct clientmap *m, uint64_t id, int node, long long redis_id)
{
    struct entry *fresh = malloc(sizeof(*fresh)), **at, *e;

    if (fresh == NULL) {
        clientmap_forget(m, id);
        return -1;
    }
    fresh->id = id;
    fresh->node = node;
    fresh->redis_id = redis_id;
    pthread_mutex_lock(&m->lock);
    at = slot_of(m, id);
    for (e = *at; e != NULL && e->id != id; e = e->next) {
    }
    if (e != NULL) {
        e->node = node;
        e->redis_id = redis_id;
    } else {
        fresh->next = *at;
        *at = fresh;
        fresh = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    free(fresh);
    return 0;
}

void
clientmap_forget(struct clientmap *m, uint64_t id)
{
    struct entry **at, *gone = NULL;

    pthread_mutex_lock(&m->lock);
    for (at = slot_of(m, id); *at != NULL; at = &(*at)->next) {
        if ((*at)->id == id) {
            gone = *at;
            *at = gone->next;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
    free(gone);
}

int
clientmap_find(struct clientmap *m, uint64_t id, int *node, long long *redis_id)
{
    struct entry *e;
    int found = 0;

    pthread_mutex_lock(&m->lock);
    for (e = *slot_of(m, id); e != NULL; e = e->next) {
        if (e->id == id) {
            *node = e->node;
            *redis_id = e->redis_id;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return found;
}
