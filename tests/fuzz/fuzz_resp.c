/*
 * fuzz_resp: libFuzzer harness for the Redis-protocol request parser, its
 * argument iterator (src/proto/resp.c) and the RESP2 reply encoders
 * (src/proto/resp_out.c), with max_request = FUZZ_MAX_REQUEST.
 *
 * The input is treated as what one client sent on one connection, read
 * twice. First, one-shot: a mutable exact-size heap copy is parsed the way
 * a pipelining server does, command after command with resp_parse,
 * consuming cmd.consumed each time, until RESP_INCOMPLETE or a protocol
 * error. Each command must lie inside the bytes it was given, fill the
 * first min(argc, RESP_KEEP_ARGS) argv slots with arguments inside the
 * bytes it consumed, keep the limits, leave every later byte as received,
 * give through resp_iter the same arguments as argv, and be
 * RESP_INCOMPLETE on every shorter prefix (re-fed from fresh copies, since
 * inline parsing unescapes in place). Each kept argument is then encoded
 * with resp_out_bulk and parsed back. Second, resumed: a fresh copy is fed
 * to one resp_parser (with room for inline words) in reads whose sizes
 * come from a generator seeded by the input, the unconsumed bytes moved to
 * a fresh buffer after some reads, as a server compacting its read buffer
 * does; every command, the final RESP_INCOMPLETE and any error must be
 * what the one-shot reading gave, and need must stay within its bound.
 * Third, pre-auth: the same bytes as a client that has not authenticated
 * sends them (resp_parser.preauth, max_request FUZZ_PREAUTH_REQUEST, above
 * the pre-auth bulk limit): no command accepted holds more than
 * RESP_PREAUTH_ARGS arguments or a bulk over RESP_PREAUTH_BULK, each is
 * what the same parser without the limits accepts, a refusal names the
 * limit only for an array that crosses it, and every shorter prefix of a
 * command is incomplete (or the same refusal).
 * Last, every encoder is run with lengths and capacities taken from the
 * input to check the snprintf-like contract: the exact size is returned,
 * and nothing is written unless it fits.
 */
#include "proto/resp.h"
#include "proto/resp_out.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ALL_PREFIXES 64 /* every prefix of a command up to this length */
#define FUZZ_PREFIX_STEPS 32 /* then about this many more */
#define FUZZ_CANARY 0x5a
#define FUZZ_MAX_REQUEST 8192 /* tests/fuzz/run.sh's limit seeds assume it */
#define FUZZ_PREAUTH_REQUEST 65536 /* pre-auth reading: over 16 KiB bulks */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_resp: %s:%d: check failed: %s\n", __FILE__,  \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* p[0..n) lies inside base[0..len). */
static int
fuzz_inside(const char *p, size_t n, const char *base, size_t len)
{
    return p != NULL && p >= base && (size_t)(p - base) <= len &&
           n <= len - (size_t)(p - base);
}

/* Parses a fresh exact-size copy of data[0..k): what a server that had
 * received only k bytes would see. */
static int
fuzz_parse_copy(const uint8_t *data, size_t k, struct resp_command *cmd,
                const char **err)
{
    char *copy = malloc(k > 0 ? k : 1);
    int rc;

    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, k);
    *err = NULL;
    rc = resp_parse(copy, k, FUZZ_MAX_REQUEST, cmd, err);
    free(copy);
    return rc;
}

/*
 * The command at data[0..n) (its original bytes) gave rc: a shorter prefix
 * must need more bytes, or, when the whole failed, fail the same way.
 */
static void
fuzz_check_prefixes(const uint8_t *data, size_t n, int rc, const char *err)
{
    struct resp_command cmd;
    const char *e;
    size_t k, step = n <= FUZZ_ALL_PREFIXES ? 1 : n / FUZZ_PREFIX_STEPS + 1;
    int r;

    for (k = 0; k < n; k += k < FUZZ_ALL_PREFIXES ? 1 : step) {
        r = fuzz_parse_copy(data, k, &cmd, &e);
        if (rc == RESP_OK) {
            FUZZ_CHECK(r == RESP_INCOMPLETE);
        } else {
            FUZZ_CHECK(r == RESP_INCOMPLETE ||
                       (r == RESP_EPROTO && strcmp(e, err) == 0));
        }
    }
}

/* One encoder call: which encoder, with which arguments. */
enum fuzz_enc_kind {
    FUZZ_BULK,
    FUZZ_BULK_HEADER,
    FUZZ_ARRAY_HEADER,
    FUZZ_NIL,
    FUZZ_SIMPLE,
    FUZZ_ERROR,
};

struct fuzz_enc {
    enum fuzz_enc_kind kind;
    const char *s; /* FUZZ_BULK: payload; FUZZ_SIMPLE, FUZZ_ERROR: C string */
    size_t n;      /* FUZZ_BULK: payload length; headers: the number */
};

static size_t
fuzz_enc_call(const struct fuzz_enc *e, char *out, size_t cap)
{
    switch (e->kind) {
    case FUZZ_BULK:
        return resp_out_bulk(out, cap, e->s, e->n);
    case FUZZ_BULK_HEADER:
        return resp_out_bulk_header(out, cap, e->n);
    case FUZZ_ARRAY_HEADER:
        return resp_out_array_header(out, cap, e->n);
    case FUZZ_NIL:
        return resp_out_null(out, cap, 2);
    case FUZZ_SIMPLE:
        return resp_out_simple(out, cap, e->s);
    case FUZZ_ERROR:
        return resp_out_error(out, cap, "%s", e->s);
    }
    abort();
}

/*
 * Runs one encoder into an exact-size heap block of cap bytes filled with a
 * canary: it must return need whatever cap is, write exactly need bytes when
 * they fit and nothing when they do not.
 */
static void
fuzz_encode(const struct fuzz_enc *e, size_t cap, size_t need)
{
    char *out = malloc(cap > 0 ? cap : 1);
    size_t i;

    FUZZ_CHECK(out != NULL);
    memset(out, FUZZ_CANARY, cap);
    FUZZ_CHECK(fuzz_enc_call(e, out, cap) == need);
    for (i = need <= cap ? need : 0; i < cap; i++) {
        FUZZ_CHECK(out[i] == FUZZ_CANARY);
    }
    free(out);
}

/* Writes a line "<type><v>\r\n" into out[0..cap) the slow way; its size. */
static size_t
fuzz_ref_line(char *out, size_t cap, char type, size_t v)
{
    int n = snprintf(out, cap, "%c%zu\r\n", type, v);

    FUZZ_CHECK(n > 0);
    return (size_t)n;
}

/* Encodes arg as a bulk string, checks the bytes, parses it back. */
static void
fuzz_check_bulk(const char *p, size_t len, size_t cap_seed)
{
    struct fuzz_enc e = {FUZZ_BULK, p, len};
    char line[32], *out, *frame;
    size_t hl = fuzz_ref_line(line, sizeof(line), '$', len);
    size_t need = hl + len + 2;
    struct resp_command cmd;
    const char *err;

    fuzz_encode(&e, cap_seed % (need + 2), need);
    out = malloc(need);
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(resp_out_bulk(out, need, p, len) == need);
    FUZZ_CHECK(memcmp(out, line, hl) == 0);
    FUZZ_CHECK(len == 0 || memcmp(out + hl, p, len) == 0);
    FUZZ_CHECK(memcmp(out + hl + len, "\r\n", 2) == 0);

    frame = malloc(need + 4);
    FUZZ_CHECK(frame != NULL);
    memcpy(frame, "*1\r\n", 4);
    memcpy(frame + 4, out, need);
    err = NULL;
    if (len <= FUZZ_MAX_REQUEST) {
        FUZZ_CHECK(resp_parse(frame, need + 4, FUZZ_MAX_REQUEST, &cmd, &err) ==
                   RESP_OK);
        FUZZ_CHECK(cmd.argc == 1 && cmd.consumed == need + 4);
        FUZZ_CHECK(cmd.argv[0].len == len);
        FUZZ_CHECK(len == 0 || memcmp(cmd.argv[0].p, p, len) == 0);
    } else {
        FUZZ_CHECK(resp_parse(frame, need + 4, FUZZ_MAX_REQUEST, &cmd, &err) ==
                   RESP_EPROTO);
        FUZZ_CHECK(strcmp(err, "Protocol error: invalid bulk length") == 0);
    }
    free(frame);
    free(out);
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

/* The encoders that take a number or a string, with values from the input. */
static void
fuzz_encoders(const uint8_t *data, size_t size)
{
    size_t n = (size_t)fuzz_u64(data, size, 0);
    size_t cap_seed = (size_t)fuzz_u64(data, size, 8);
    size_t slen = size < 64 ? size : 64;
    struct fuzz_enc e = {FUZZ_NIL, NULL, 0};
    char line[32], *s;
    size_t need, i;

    /* Small numbers matter most: fold the value by a byte from the input. */
    if (size > 16 && (data[16] & 1)) {
        n %= 100000;
    }
    e.kind = FUZZ_BULK_HEADER;
    e.n = n;
    need = fuzz_ref_line(line, sizeof(line), '$', n);
    fuzz_encode(&e, cap_seed % (need + 2), need);
    e.kind = FUZZ_ARRAY_HEADER;
    need = fuzz_ref_line(line, sizeof(line), '*', n);
    fuzz_encode(&e, cap_seed % (need + 2), need);
    e.kind = FUZZ_NIL;
    fuzz_encode(&e, cap_seed % 8, 5);

    /* The input's first bytes as a C string; a NUL cuts it short. */
    s = malloc(slen + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data, slen);
    s[slen] = '\0';
    need = strlen(s) + 3;
    e.s = s;
    e.kind = FUZZ_SIMPLE;
    fuzz_encode(&e, cap_seed % (need + 2), need);
    e.kind = FUZZ_ERROR;
    fuzz_encode(&e, cap_seed % (need + 2), need);
    {
        char *out = malloc(need);
        FUZZ_CHECK(out != NULL);
        FUZZ_CHECK(resp_out_error(out, need, "%s", s) == need);
        FUZZ_CHECK(out[0] == '-' && out[need - 2] == '\r' &&
                   out[need - 1] == '\n');
        for (i = 1; i < need - 2; i++) {
            FUZZ_CHECK(out[i] != '\r' && out[i] != '\n');
        }
        free(out);
    }
    free(s);
}

/*
 * Walks cmd (parsed from cur) with resp_iter: it must give every argument
 * (an inline command without words: the kept ones), the first
 * RESP_KEEP_ARGS being argv's, each inside the command, an array's each
 * followed by CRLF and all together within FUZZ_MAX_REQUEST.
 */
static void
fuzz_check_iter(const struct resp_command *cmd, const char *cur)
{
    size_t n = 0, sum = 0;
    struct resp_iter it;
    struct resp_arg arg;

    resp_iter_init(&it, cmd, cur);
    while (resp_iter_next(&it, &arg)) {
        FUZZ_CHECK(n < cmd->argc);
        FUZZ_CHECK(fuzz_inside(arg.p, arg.len, cur, cmd->consumed));
        if (n < RESP_KEEP_ARGS) {
            FUZZ_CHECK(arg.p == cmd->argv[n].p && arg.len == cmd->argv[n].len);
        }
        if (cmd->words != NULL) {
            FUZZ_CHECK(arg.p == cmd->words[n].p &&
                       arg.len == cmd->words[n].len);
        }
        if (!cmd->is_inline) {
            FUZZ_CHECK((size_t)(arg.p - cur) + arg.len + 2 <= cmd->consumed);
            FUZZ_CHECK(arg.p[arg.len] == '\r' && arg.p[arg.len + 1] == '\n');
            sum += arg.len;
        }
        n++;
    }
    FUZZ_CHECK(resp_iter_next(&it, &arg) == 0);
    if (cmd->is_inline && cmd->words == NULL) {
        FUZZ_CHECK(n ==
                   (cmd->argc < RESP_KEEP_ARGS ? cmd->argc : RESP_KEEP_ARGS));
    } else {
        FUZZ_CHECK(n == cmd->argc);
    }
    FUZZ_CHECK(sum <= FUZZ_MAX_REQUEST);
}

/*
 * Checks one RESP_OK command parsed from cur[0..remaining); multibulk says
 * whether it was one (cur[0] itself may since have been unescaped over).
 */
static void
fuzz_check_command(const struct resp_command *cmd, const char *cur,
                   size_t remaining, int multibulk, size_t cap_seed)
{
    size_t kept = cmd->argc < RESP_KEEP_ARGS ? cmd->argc : RESP_KEEP_ARGS;
    size_t i, sum = 0;

    FUZZ_CHECK(cmd->consumed > 0 && cmd->consumed <= remaining);
    FUZZ_CHECK(cmd->is_inline == !multibulk);
    FUZZ_CHECK(multibulk ? cmd->argc <= RESP_MAX_ARGS
                         : cmd->argc <= RESP_MAX_INLINE_ARGS);
    FUZZ_CHECK(multibulk || cmd->consumed <= RESP_MAX_INLINE + 1);
    for (i = 0; i < kept; i++) {
        FUZZ_CHECK(
            fuzz_inside(cmd->argv[i].p, cmd->argv[i].len, cur, cmd->consumed));
        if (multibulk) {
            FUZZ_CHECK(cmd->argv[i].p[cmd->argv[i].len] == '\r');
            sum += cmd->argv[i].len;
        }
        fuzz_check_bulk(cmd->argv[i].p, cmd->argv[i].len, cap_seed + i);
    }
    FUZZ_CHECK(sum <= FUZZ_MAX_REQUEST);
    fuzz_check_iter(cmd, cur);
}

/* What one command (or the end of the stream) gave, argv as offsets from
 * the command's first byte, so that two readings can be compared. */
struct fuzz_rec {
    int rc;
    const char *err;
    size_t consumed, argc;
    int is_inline;
    size_t off[RESP_KEEP_ARGS], len[RESP_KEEP_ARGS];
};

static void
fuzz_record(struct fuzz_rec *r, int rc, const char *err,
            const struct resp_command *cmd, const char *cur)
{
    size_t i;

    memset(r, 0, sizeof(*r));
    r->rc = rc;
    r->err = err;
    if (rc != RESP_OK) {
        return;
    }
    r->consumed = cmd->consumed;
    r->argc = cmd->argc;
    r->is_inline = cmd->is_inline;
    for (i = 0; i < cmd->argc && i < RESP_KEEP_ARGS; i++) {
        r->off[i] = (size_t)(cmd->argv[i].p - cur);
        r->len[i] = cmd->argv[i].len;
    }
}

/*
 * The one-shot reading of buf (a copy of data[0..size)); returns the
 * number of records written to recs (one per command, then the end), and
 * leaves buf as parsing left it (inline arguments unescaped).
 */
static size_t
fuzz_read_oneshot(char *buf, const uint8_t *data, size_t size,
                  struct fuzz_rec *recs)
{
    size_t off = 0, n = 0, cap_seed = (size_t)fuzz_u64(data, size, 8);
    struct resp_command cmd;
    const char *err;
    int rc;

    for (;;) {
        memset(&cmd, 0, sizeof(cmd));
        err = NULL;
        rc = resp_parse(buf + off, size - off, FUZZ_MAX_REQUEST, &cmd, &err);
        FUZZ_CHECK(rc == RESP_OK || rc == RESP_INCOMPLETE || rc == RESP_EPROTO);
        fuzz_record(&recs[n++], rc, err, &cmd, buf + off);
        if (rc == RESP_INCOMPLETE) {
            /* Kept for the next read: must be as received. */
            FUZZ_CHECK(memcmp(buf + off, data + off, size - off) == 0);
            return n;
        }
        if (rc == RESP_EPROTO) {
            FUZZ_CHECK(err != NULL);
            FUZZ_CHECK(strncmp(err, "Protocol error: ", 16) == 0);
            fuzz_check_prefixes(data + off, size - off, rc, err);
            return n;
        }
        FUZZ_CHECK(cmd.words == NULL);
        fuzz_check_command(&cmd, buf + off, size - off, data[off] == '*',
                           cap_seed);
        fuzz_check_prefixes(data + off, cmd.consumed, rc, NULL);
        off += cmd.consumed;
        /* Only the command's own bytes may have been unescaped over. */
        FUZZ_CHECK(memcmp(buf + off, data + off, size - off) == 0);
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

/* A resumed command must be what the one-shot reading recorded. */
static void
fuzz_check_same(const struct fuzz_rec *want, const struct fuzz_rec *got,
                const char *cur, const char *want_cur)
{
    size_t i;

    FUZZ_CHECK(got->rc == want->rc);
    if (got->rc == RESP_EPROTO) {
        FUZZ_CHECK(strcmp(got->err, want->err) == 0);
    }
    FUZZ_CHECK(got->consumed == want->consumed && got->argc == want->argc);
    FUZZ_CHECK(got->is_inline == want->is_inline);
    for (i = 0; i < got->argc && i < RESP_KEEP_ARGS; i++) {
        FUZZ_CHECK(got->off[i] == want->off[i] && got->len[i] == want->len[i]);
        FUZZ_CHECK(memcmp(cur + got->off[i], want_cur + want->off[i],
                          got->len[i]) == 0);
    }
}

/*
 * The resumed reading of data[0..size): recs[0..nrec) from the one-shot
 * one, whose buffer was oneshot. Reads of random sizes are appended to the
 * window, which is moved to a fresh exact-size buffer when it is full and
 * at random; after each read the parser goes on until RESP_INCOMPLETE,
 * and every outcome must match.
 */
static void
fuzz_read_resumed(const uint8_t *data, size_t size, const struct fuzz_rec *recs,
                  size_t nrec, const char *oneshot)
{
    struct resp_arg *words = malloc(RESP_MAX_INLINE_ARGS * sizeof(*words));
    struct fuzz_conn c = {NULL, 0, 0};
    uint64_t seed = fuzz_seed(data, size);
    size_t got = 0, off = 0, k = 0;
    struct resp_parser ps;
    struct resp_command cmd;
    struct fuzz_rec rec;
    const char *err;
    int rc;

    FUZZ_CHECK(words != NULL);
    resp_parser_init(&ps, FUZZ_MAX_REQUEST, words);
    for (;;) {
        uint64_t r = fuzz_rand(&seed);
        size_t n = 1 + (size_t)(r >> 8) % (r & 1 ? 16 : 4096);

        n = n < size - got ? n : size - got;
        if ((r & 2) || c.have + n > c.cap) {
            fuzz_move(&c, c.have + n); /* exact: ASan sees a read past it */
        }
        memcpy(c.win + c.have, data + got, n);
        c.have += n;
        got += n;
        for (;;) {
            memset(&cmd, 0, sizeof(cmd));
            err = NULL;
            rc = resp_parser_feed(&ps, c.win, c.have, &cmd, &err);
            if (rc == RESP_INCOMPLETE) {
                FUZZ_CHECK(ps.need == 0 ||
                           (ps.need > c.have &&
                            ps.need <= c.have + FUZZ_MAX_REQUEST + 2));
                break;
            }
            FUZZ_CHECK(k < nrec);
            fuzz_record(&rec, rc, err, &cmd, c.win);
            fuzz_check_same(&recs[k], &rec, c.win, oneshot + off);
            if (rc == RESP_EPROTO) {
                FUZZ_CHECK(k == nrec - 1);
                goto done;
            }
            FUZZ_CHECK(cmd.is_inline ? cmd.words == words : cmd.words == NULL);
            fuzz_check_iter(&cmd, c.win);
            off += cmd.consumed;
            c.have -= cmd.consumed;
            memmove(c.win, c.win + cmd.consumed, c.have);
            k++;
        }
        if (got == size) {
            /* The end of the stream: as incomplete as the one-shot one. */
            FUZZ_CHECK(k == nrec - 1 && recs[k].rc == RESP_INCOMPLETE);
            FUZZ_CHECK(off + c.have == size);
            break;
        }
    }
done:
    free(c.win);
    free(words);
}

/* Parses a fresh copy of data[0..k) as one command, with (preauth) or
 * without the pre-auth limits, max_request FUZZ_PREAUTH_REQUEST; the copy
 * is returned in *copy (free it). */
static int
fuzz_parse_limits(const uint8_t *data, size_t k, int preauth, char **copy,
                  struct resp_command *cmd, const char **err)
{
    struct resp_parser ps;

    *copy = malloc(k > 0 ? k : 1);
    FUZZ_CHECK(*copy != NULL);
    memcpy(*copy, data, k);
    resp_parser_init(&ps, FUZZ_PREAUTH_REQUEST, NULL);
    ps.preauth = preauth;
    *err = NULL;
    return resp_parser_feed(&ps, *copy, k, cmd, err);
}

static int
fuzz_unauth_error(const char *err)
{
    return strcmp(err, "Protocol error: unauthenticated multibulk length") ==
               0 ||
           strcmp(err, "Protocol error: unauthenticated bulk length") == 0;
}

/* The pre-auth reading of data[0..size), command after command (see the
 * top of this file). */
static void
fuzz_read_preauth(const uint8_t *data, size_t size)
{
    size_t off = 0;

    for (;;) {
        struct resp_command cmd, full;
        const char *err, *ferr;
        char *copy, *fcopy;
        struct resp_iter it;
        struct resp_arg arg;
        int rc =
            fuzz_parse_limits(data + off, size - off, 1, &copy, &cmd, &err);
        int frc =
            fuzz_parse_limits(data + off, size - off, 0, &fcopy, &full, &ferr);
        size_t k, n = rc == RESP_OK ? cmd.consumed : size - off;

        if (rc == RESP_OK) {
            FUZZ_CHECK(frc == RESP_OK && full.consumed == cmd.consumed &&
                       full.argc == cmd.argc);
            if (!cmd.is_inline) {
                FUZZ_CHECK(cmd.argc <= RESP_PREAUTH_ARGS);
                resp_iter_init(&it, &cmd, copy);
                while (resp_iter_next(&it, &arg)) {
                    FUZZ_CHECK(arg.len <= RESP_PREAUTH_BULK);
                }
            }
        } else if (rc == RESP_EPROTO && fuzz_unauth_error(err)) {
            FUZZ_CHECK(data[off] == '*');
        } else {
            /* No limit of its own reached: as without the limits. */
            FUZZ_CHECK(frc == rc);
            FUZZ_CHECK(rc != RESP_EPROTO || strcmp(err, ferr) == 0);
        }
        free(fcopy);
        free(copy);
        for (k = 0; k < n && k < FUZZ_ALL_PREFIXES; k++) {
            int r = fuzz_parse_limits(data + off, k, 1, &copy, &full, &ferr);

            FUZZ_CHECK(r == RESP_INCOMPLETE ||
                       (rc == RESP_EPROTO && r == RESP_EPROTO &&
                        strcmp(err, ferr) == 0));
            free(copy);
        }
        if (rc != RESP_OK) {
            return;
        }
        off += cmd.consumed;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size > 0 ? size : 1);
    struct fuzz_rec *recs = malloc((size + 1) * sizeof(*recs));
    size_t nrec;

    FUZZ_CHECK(buf != NULL && recs != NULL);
    memcpy(buf, data, size);
    nrec = fuzz_read_oneshot(buf, data, size, recs);
    fuzz_read_resumed(data, size, recs, nrec, buf);
    fuzz_read_preauth(data, size);
    if (size > 0) {
        fuzz_encoders(data, size);
    }
    free(recs);
    free(buf);
    return 0;
}
