/*
 * fuzz_reply: libFuzzer harness for the reply scanner and its accessors
 * (src/proto/resp_reply.c) and the per-protocol reply encoders
 * (src/proto/resp_out.c).
 *
 * The input is what Redis sent on one connection, read twice. First,
 * one-shot: from an exact-size heap copy, reply after reply is scanned
 * with a fresh scanner until RESP_INCOMPLETE or RESP_EPROTO. Every scan
 * must answer one of the three, never leave pos beyond the bytes given;
 * a complete reply must have its type at attr_len (never '|'), scan the
 * same from a copy of exactly its bytes, be RESP_INCOMPLETE at every
 * shorter prefix (all up to FUZZ_ALL_PREFIXES, then about
 * FUZZ_PREFIX_STEPS more; a reply found malformed: RESP_INCOMPLETE or
 * RESP_EPROTO), and agree with the accessors: an error exactly when its
 * type is '-' or '!', an integer when ':', a null when "_", "$-1", "*-1",
 * a bulk when '$' or '_' (its payload inside the reply), an aggregate when
 * '*', '%', '~' or '>' and not null, whose elements, walked with
 * resp_reply_element_len, are count non-empty steps ending at the reply's
 * end (or at a streamed one's ".\r\n"). Second, resumed: one scanner fed
 * the input in reads whose sizes come from a generator seeded by the
 * input, the unconsumed bytes moved to a fresh exact-size buffer when full
 * and at random, as a pooled connection compacting its buffer does; every
 * reply, the final RESP_INCOMPLETE or the RESP_EPROTO must be what the
 * one-shot reading gave, at the same offsets. Last, the encoders are run
 * with values and capacities from the input: each returns its exact size
 * whatever the capacity, writes nothing unless it fits, and what it wrote
 * scans back as one reply of the type the protocol calls for, with the
 * value the accessors read back.
 */
#include "proto/resp.h"
#include "proto/resp_out.h"
#include "proto/resp_reply.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ALL_PREFIXES 64 /* every prefix of a reply up to this length */
#define FUZZ_PREFIX_STEPS 32 /* then about this many more */
#define FUZZ_CANARY 0x5a

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_reply: %s:%d: check failed: %s\n", __FILE__, \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* What one scan gave. */
struct fuzz_rec {
    int rc;
    size_t pos, attr_len;
    char type;
};

/* A fresh scan of a fresh exact-size copy of p[0..n). */
static struct fuzz_rec
fuzz_scan_copy(const uint8_t *p, size_t n)
{
    char *copy = malloc(n > 0 ? n : 1);
    struct resp_reply r;
    struct fuzz_rec rec;

    FUZZ_CHECK(copy != NULL);
    memcpy(copy, p, n);
    resp_reply_init(&r);
    rec.rc = resp_reply_scan(&r, copy, n);
    FUZZ_CHECK(rec.rc == RESP_OK || rec.rc == RESP_INCOMPLETE ||
               rec.rc == RESP_EPROTO);
    FUZZ_CHECK(r.pos <= n);
    rec.pos = r.pos;
    rec.attr_len = rec.rc == RESP_OK ? r.attr_len : 0;
    rec.type = rec.rc == RESP_OK ? r.type : 0;
    free(copy);
    return rec;
}

/* Shorter prefixes of a reply that gave rc on its n bytes. */
static void
fuzz_check_prefixes(const uint8_t *p, size_t n, int rc)
{
    size_t k, step = n <= FUZZ_ALL_PREFIXES ? 1 : n / FUZZ_PREFIX_STEPS + 1;

    for (k = 0; k < n; k += k < FUZZ_ALL_PREFIXES ? 1 : step) {
        struct fuzz_rec r = fuzz_scan_copy(p, k);

        if (rc == RESP_OK) {
            FUZZ_CHECK(r.rc == RESP_INCOMPLETE);
        } else {
            FUZZ_CHECK(r.rc == RESP_INCOMPLETE || r.rc == RESP_EPROTO);
        }
    }
}

/* p[0..n) lies inside base[0..len). */
static int
fuzz_inside(const char *p, size_t n, const char *base, size_t len)
{
    return p != NULL && p >= base && (size_t)(p - base) <= len &&
           n <= len - (size_t)(p - base);
}

/* The elements of the aggregate reply b[0..len): count steps, each a
 * complete element, ending at its end or its ".\r\n". */
static void
fuzz_check_walk(const char *b, size_t len, size_t count, size_t first)
{
    size_t i, at = first, e;

    FUZZ_CHECK(first <= len);
    for (i = 0; i < count; i++) {
        e = resp_reply_element_len(b, len, at);
        FUZZ_CHECK(e > 0 && e <= len - at);
        at += e;
    }
    if (at != len) {
        FUZZ_CHECK(len - at == 3 && memcmp(b + at, ".\r\n", 3) == 0);
        FUZZ_CHECK(resp_reply_element_len(b, len, at) == 0);
    }
}

/* The accessors on the complete reply b[0..len) (a copy of exactly its
 * bytes) of type type, whose reply proper starts at attr. */
static void
fuzz_check_accessors(const char *b, size_t len, char type, size_t attr)
{
    const char *p = b + attr;
    const char *m = NULL;
    size_t ml = 0, count = 0, first = 0;
    long long v = 0;
    int is_null = (len - attr == 3 && memcmp(p, "_\r\n", 3) == 0) ||
                  (len - attr == 5 && (memcmp(p, "$-1\r\n", 5) == 0 ||
                                       memcmp(p, "*-1\r\n", 5) == 0));
    int agg;
    char t = 0;

    FUZZ_CHECK(resp_reply_is_null(b, len) == is_null);
    FUZZ_CHECK(resp_reply_error(b, len, &m, &ml) ==
               (type == '-' || type == '!'));
    if (type == '-' || type == '!') {
        FUZZ_CHECK(fuzz_inside(m, ml, p, len - attr));
    }
    FUZZ_CHECK(resp_reply_integer(b, len, &v) == (type == ':'));
    m = b;
    if (resp_reply_bulk(b, len, &m, &ml)) {
        FUZZ_CHECK(type == '$' || type == '_');
        FUZZ_CHECK(m == NULL ? ml == 0 && is_null
                             : fuzz_inside(m, ml, p, len - attr));
    } else {
        /* a streamed string has no one payload */
        FUZZ_CHECK((type != '$' && type != '_') || p[1] == '?');
    }
    agg = resp_reply_aggregate(b, len, &t, &count, &first);
    FUZZ_CHECK(agg == (strchr("*%~>", type) != NULL && !is_null));
    if (agg) {
        FUZZ_CHECK(t == type && first > attr);
        FUZZ_CHECK(type != '%' || count % 2 == 0);
        fuzz_check_walk(b, len, count, first);
    }
}

/* Checks one complete reply, rec, found at data[0..rec->pos). */
static void
fuzz_check_reply(const uint8_t *data, const struct fuzz_rec *rec)
{
    char *copy = malloc(rec->pos);
    struct fuzz_rec again;

    FUZZ_CHECK(rec->pos > 0 && rec->attr_len < rec->pos);
    FUZZ_CHECK(rec->type == (char)data[rec->attr_len] && rec->type != '|');
    FUZZ_CHECK(rec->attr_len == 0 || data[0] == '|');
    again = fuzz_scan_copy(data, rec->pos);
    FUZZ_CHECK(again.rc == RESP_OK && again.pos == rec->pos &&
               again.type == rec->type && again.attr_len == rec->attr_len);
    fuzz_check_prefixes(data, rec->pos, RESP_OK);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, rec->pos);
    fuzz_check_accessors(copy, rec->pos, rec->type, rec->attr_len);
    free(copy);
}

/* The one-shot reading; returns the records written to recs (one per
 * reply, then the end). */
static size_t
fuzz_read_oneshot(const uint8_t *data, size_t size, struct fuzz_rec *recs)
{
    size_t off = 0, n = 0;

    for (;;) {
        struct fuzz_rec rec = fuzz_scan_copy(data + off, size - off);

        recs[n++] = rec;
        if (rec.rc == RESP_INCOMPLETE) {
            return n;
        }
        if (rec.rc == RESP_EPROTO) {
            fuzz_check_prefixes(data + off, size - off, RESP_EPROTO);
            return n;
        }
        fuzz_check_reply(data + off, &rec);
        off += rec.pos;
    }
}

/* xorshift64*: read sizes and buffer moves, the same for the same input. */
static uint64_t
fuzz_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static uint64_t
fuzz_seed(const uint8_t *data, size_t size)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    size_t i;

    for (i = 0; i < size; i++) {
        h = (h ^ data[i]) * 1099511628211ULL;
    }
    return h | 1;
}

/* The connection of the resumed reading: win[0..have) unconsumed, room
 * for cap bytes. */
struct fuzz_conn {
    char *win;
    size_t have, cap;
};

/* Moves the unconsumed bytes to a fresh buffer of exactly cap bytes,
 * poisoning and freeing the old one. */
static void
fuzz_move(struct fuzz_conn *c, size_t cap)
{
    char *fresh = malloc(cap > 0 ? cap : 1);

    FUZZ_CHECK(fresh != NULL);
    if (c->have > 0) {
        memcpy(fresh, c->win, c->have);
        memset(c->win, FUZZ_CANARY, c->have);
    }
    free(c->win);
    c->win = fresh;
    c->cap = cap;
}

/* The resumed reading of data[0..size), to match recs[0..nrec). */
static void
fuzz_read_resumed(const uint8_t *data, size_t size, const struct fuzz_rec *recs,
                  size_t nrec)
{
    struct fuzz_conn c = {NULL, 0, 0};
    uint64_t seed = fuzz_seed(data, size);
    size_t got = 0, k = 0;
    struct resp_reply r;
    int rc;

    resp_reply_init(&r);
    for (;;) {
        uint64_t x = fuzz_rand(&seed);
        size_t n = 1 + (size_t)(x >> 8) % (x & 1 ? 16 : 4096);

        n = n < size - got ? n : size - got;
        if ((x & 2) || c.have + n > c.cap) {
            fuzz_move(&c, c.have + n); /* exact: ASan sees a read past it */
        }
        if (n > 0) {
            memcpy(c.win + c.have, data + got, n);
        }
        c.have += n;
        got += n;
        for (;;) {
            rc = resp_reply_scan(&r, c.win, c.have);
            FUZZ_CHECK(r.pos <= c.have);
            if (rc == RESP_INCOMPLETE) {
                break;
            }
            FUZZ_CHECK(k < nrec && rc == recs[k].rc);
            if (rc == RESP_EPROTO) {
                FUZZ_CHECK(k == nrec - 1);
                goto done;
            }
            FUZZ_CHECK(r.pos == recs[k].pos && r.type == recs[k].type &&
                       r.attr_len == recs[k].attr_len);
            c.have -= r.pos;
            memmove(c.win, c.win + r.pos, c.have);
            resp_reply_init(&r);
            k++;
        }
        if (got == size) {
            FUZZ_CHECK(k == nrec - 1 && recs[k].rc == RESP_INCOMPLETE);
            break;
        }
    }
done:
    free(c.win);
}

/* Reads up to 8 bytes of data at off as a little-endian number. */
static uint64_t
fuzz_u64(const uint8_t *data, size_t size, size_t off)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < 8 && off + i < size; i++) {
        v |= (uint64_t)data[off + i] << (8 * i);
    }
    return v;
}

/* The encoder calls checked, with their arguments. */
enum fuzz_enc_kind {
    FUZZ_INTEGER,
    FUZZ_NULL,
    FUZZ_NULL_ARRAY,
    FUZZ_MAP,
    FUZZ_SET,
    FUZZ_PUSH,
    FUZZ_BOOL,
    FUZZ_DOUBLE,
    FUZZ_VERBATIM,
    FUZZ_HELLO,
    FUZZ_NKINDS
};

struct fuzz_enc {
    enum fuzz_enc_kind kind;
    int proto;
    long long v; /* integer, bool, header counts */
    double d;
    const char *s; /* verbatim text, HELLO version */
    size_t n;      /* verbatim text's length */
};

static size_t
fuzz_enc_call(const struct fuzz_enc *e, char *out, size_t cap)
{
    struct resp_out_hello h = {"redis", e->s, e->v, "standalone", "master"};
    size_t n = (size_t)e->v;

    switch (e->kind) {
    case FUZZ_INTEGER:
        return resp_out_integer(out, cap, e->v);
    case FUZZ_NULL:
        return resp_out_null(out, cap, e->proto);
    case FUZZ_NULL_ARRAY:
        return resp_out_null_array(out, cap, e->proto);
    case FUZZ_MAP:
        return resp_out_map_header(out, cap, e->proto, n);
    case FUZZ_SET:
        return resp_out_set_header(out, cap, e->proto, n);
    case FUZZ_PUSH:
        return resp_out_push_header(out, cap, e->proto, n);
    case FUZZ_BOOL:
        return resp_out_bool(out, cap, e->proto, (int)(e->v & 1));
    case FUZZ_DOUBLE:
        return resp_out_double(out, cap, e->proto, e->d);
    case FUZZ_VERBATIM:
        return resp_out_verbatim(out, cap, e->proto, "txt", e->s, e->n);
    case FUZZ_HELLO:
        return resp_out_hello(out, cap, e->proto, &h);
    case FUZZ_NKINDS:
        break;
    }
    abort();
}

/* The type byte e's reply must have in its protocol. */
static char
fuzz_enc_type(const struct fuzz_enc *e)
{
    static const char resp2[] = ":$****:$$*", resp3[] = ":__%~>#,=%";

    return e->proto == 3 ? resp3[e->kind] : resp2[e->kind];
}

/* What e wrote, out[0..n), read back. */
static void
fuzz_check_encoded(const struct fuzz_enc *e, const char *out, size_t n)
{
    struct resp_reply r;
    const char *p = NULL;
    size_t plen = 0;
    long long v = 0;
    int rc;

    resp_reply_init(&r);
    rc = resp_reply_scan(&r, out, n);
    if (e->kind == FUZZ_MAP || e->kind == FUZZ_SET || e->kind == FUZZ_PUSH) {
        /* a header: complete only when it counts no element */
        FUZZ_CHECK(rc == (e->v == 0 ? RESP_OK : RESP_INCOMPLETE));
        FUZZ_CHECK(r.pos == n);
        FUZZ_CHECK(e->v != 0 || r.type == fuzz_enc_type(e));
        return;
    }
    FUZZ_CHECK(rc == RESP_OK && r.pos == n && r.type == fuzz_enc_type(e));
    switch (e->kind) {
    case FUZZ_INTEGER:
        FUZZ_CHECK(resp_reply_integer(out, n, &v) && v == e->v);
        break;
    case FUZZ_BOOL:
        FUZZ_CHECK(e->proto == 3 ||
                   (resp_reply_integer(out, n, &v) && v == (e->v & 1)));
        break;
    case FUZZ_NULL:
    case FUZZ_NULL_ARRAY:
        FUZZ_CHECK(resp_reply_is_null(out, n));
        break;
    case FUZZ_VERBATIM:
        if (e->proto != 3) {
            FUZZ_CHECK(resp_reply_bulk(out, n, &p, &plen) && plen == e->n &&
                       (e->n == 0 || memcmp(p, e->s, e->n) == 0));
        }
        break;
    default:
        break;
    }
}

/* Runs e into an exact-size heap block of cap bytes filled with a canary:
 * it must return need whatever cap is, write exactly need bytes when they
 * fit and nothing when they do not. */
static void
fuzz_encode(const struct fuzz_enc *e, size_t cap_seed)
{
    size_t need = fuzz_enc_call(e, NULL, 0), cap = cap_seed % (need + 2), i;
    char *out = malloc(cap > 0 ? cap : 1);

    FUZZ_CHECK(out != NULL && need > 0);
    memset(out, FUZZ_CANARY, cap);
    FUZZ_CHECK(fuzz_enc_call(e, out, cap) == need);
    for (i = need <= cap ? need : 0; i < cap; i++) {
        FUZZ_CHECK(out[i] == FUZZ_CANARY);
    }
    free(out);
    out = malloc(need);
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(fuzz_enc_call(e, out, need) == need);
    fuzz_check_encoded(e, out, need);
    free(out);
}

/* Every encoder, in both protocols, with values from the input. */
static void
fuzz_encoders(const uint8_t *data, size_t size)
{
    uint64_t bits = fuzz_u64(data, size, 0);
    size_t cap_seed = (size_t)fuzz_u64(data, size, 8);
    size_t slen = size < 48 ? size : 48;
    struct fuzz_enc e;
    char *s = malloc(slen + 1);
    int k, proto;

    FUZZ_CHECK(s != NULL);
    memcpy(s, data, slen);
    s[slen] = '\0'; /* a NUL in the input cuts the HELLO version short */
    memset(&e, 0, sizeof(e));
    memcpy(&e.d, &bits, sizeof(e.d)); /* any double: NaN, inf, subnormal */
    e.s = s;
    e.n = slen;
    for (proto = 2; proto <= 3; proto++) {
        for (k = 0; k < FUZZ_NKINDS; k++) {
            e.kind = (enum fuzz_enc_kind)k;
            e.proto = proto;
            e.v = (long long)bits;
            if (k == FUZZ_MAP || k == FUZZ_SET || k == FUZZ_PUSH) {
                e.v = (long long)(bits >> 1) % (size > 16 ? 1000 : 3);
            }
            fuzz_encode(&e, cap_seed + (size_t)k);
        }
    }
    free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_rec *recs = malloc((size + 1) * sizeof(*recs));
    size_t nrec;

    FUZZ_CHECK(recs != NULL);
    nrec = fuzz_read_oneshot(data, size, recs);
    fuzz_read_resumed(data, size, recs, nrec);
    if (size > 0) {
        fuzz_encoders(data, size);
    }
    free(recs);
    return 0;
}
