/*
 * Unit tests of upstream/pipe's in-order matcher: replies handed to the
 * requests they answer, whatever the pieces Redis's bytes come in and
 * whatever the mix of clients and threads.
 *
 * With the test playing Redis: a batch of requests of one to four
 * commands each in several databases (the pipe's SELECTs checked on the
 * wire, byte for byte), fills marked tracked, RESP2 replies of every type
 * and RESP3 ones (attributes, maps, sets, verbatim and streamed strings,
 * blob errors, pushes between replies that no request may get), sent one
 * byte at a time, split in two at every point of the stream, and in
 * random pieces; after each piece the event loop has read it
 * (loop_sync), and exactly the replies complete by then must have been
 * handed over. Then several client threads submitting to one pipe, each
 * request getting exactly its own replies in order, each client's
 * requests reaching Redis and ending in the order it submitted them, with
 * the invalidation stream up (the pipe registers before the first fill,
 * once) and Redis's bytes in random pieces; the test checks that clients'
 * requests did interleave on the connection, and that replies were
 * handed over on more than one thread.
 */
#include "pipe_helpers.h"

#include <stdlib.h>

TestSuite(pipe, .init = pipe_setup, .fini = pipe_teardown, .timeout = 120);

/* ---- a batch the test answers ---- */

#define BATCH 5

/* What the pipe must write and what the test answers, for one batch. */
struct script {
    char wire[4096];
    size_t wire_len;
    char stream[4096]; /* Redis's bytes: replies, SELECT's +OK, pushes */
    size_t stream_len;
    size_t ends[64]; /* where each reply a request gets ends in stream */
    int nends;
};

static struct treq batch[BATCH];
static struct script sc;

static void
append(char *to, size_t *len, size_t cap, const char *s)
{
    size_t n = strlen(s);

    cr_assert_lt(*len + n, cap);
    memcpy(to + *len, s, n);
    *len += n;
}

/* A command of t's and its reply. */
static void
cmd(struct treq *t, const char *c, const char *reply)
{
    treq_add(t, c, reply);
    append(sc.wire, &sc.wire_len, sizeof(sc.wire), c);
    append(sc.stream, &sc.stream_len, sizeof(sc.stream), reply);
    sc.ends[sc.nends++] = sc.stream_len;
}

/* SELECT db as the pipe puts it before a request, and Redis's +OK. */
static void
select_db(const char *db)
{
    char c[64];

    append(sc.wire, &sc.wire_len, sizeof(sc.wire),
           cmd_of(c, sizeof(c), "SELECT", db, NULL));
    append(sc.stream, &sc.stream_len, sizeof(sc.stream), "+OK\r\n");
}

/* A RESP3 push (an invalidation) between replies. */
static void
push(void)
{
    append(sc.stream, &sc.stream_len, sizeof(sc.stream),
           ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n");
}

/* Five RESP2 requests: db 0, 2, any, 0, and a fill in db 0. */
static void
script_resp2(void)
{
    char c[128];

    memset(&sc, 0, sizeof(sc));
    treq_init(&batch[0], 0, 0, 0);
    cmd(&batch[0], cmd_of(c, sizeof(c), "GET", "a", NULL), "$5\r\nhello\r\n");
    cmd(&batch[0], cmd_of(c, sizeof(c), "INCR", "n", NULL), ":42\r\n");
    treq_init(&batch[1], 0, 1, 2);
    select_db("2");
    cmd(&batch[1], cmd_of(c, sizeof(c), "LRANGE", "l", "0", "-1", NULL),
        "*3\r\n$1\r\nx\r\n$-1\r\n*2\r\n:1\r\n+OK\r\n");
    treq_init(&batch[2], 0, 2, -1);
    cmd(&batch[2], cmd_of(c, sizeof(c), "GET", "crlf", NULL),
        "$6\r\n\r\n\r\n\r\n\r\n");
    cmd(&batch[2], cmd_of(c, sizeof(c), "SET", "k", "v", NULL), "+OK\r\n");
    cmd(&batch[2], cmd_of(c, sizeof(c), "BAD", NULL),
        "-ERR unknown command 'BAD'\r\n");
    treq_init(&batch[3], 0, 3, 0);
    select_db("0");
    cmd(&batch[3], cmd_of(c, sizeof(c), "GET", "big", NULL),
        "$40\r\n0123456789012345678901234567890123456789\r\n");
    cmd(&batch[3], cmd_of(c, sizeof(c), "MGET", "a", "b", "c", "d", NULL),
        "*4\r\n$-1\r\n$0\r\n\r\n:-5\r\n*0\r\n");
    cmd(&batch[3], cmd_of(c, sizeof(c), "BLPOP", "q", "1", NULL), "*-1\r\n");
    treq_init(&batch[4], 0, 4, 0);
    batch[4].u.tracked = 1; /* a fill: PTTL and GET */
    batch[4].u.retry = 1;
    cmd(&batch[4], cmd_of(c, sizeof(c), "PTTL", "f", NULL), ":-2\r\n");
    cmd(&batch[4], cmd_of(c, sizeof(c), "GET", "f", NULL), "$-1\r\n");
}

#define ATTR "|1\r\n+ttl\r\n:3\r\n"

/* Four RESP3 requests: db 0, 1, any, 0; pushes between replies. */
static void
script_resp3(void)
{
    char c[128];

    memset(&sc, 0, sizeof(sc));
    push();
    treq_init(&batch[0], 0, 0, 0);
    cmd(&batch[0], cmd_of(c, sizeof(c), "GET", "a", NULL), ATTR "$1\r\nv\r\n");
    push();
    cmd(&batch[0], cmd_of(c, sizeof(c), "HGETALL", "h", NULL),
        "%2\r\n+a\r\n:1\r\n+b\r\n_\r\n");
    treq_init(&batch[1], 0, 1, 1);
    select_db("1");
    cmd(&batch[1], cmd_of(c, sizeof(c), "SMEMBERS", "s", NULL),
        "~2\r\n,3.14\r\n#t\r\n");
    push();
    push();
    cmd(&batch[1], cmd_of(c, sizeof(c), "LOLWUT", NULL),
        "=15\r\ntxt:Some string\r\n");
    treq_init(&batch[2], 0, 2, -1);
    cmd(&batch[2], cmd_of(c, sizeof(c), "BIG", NULL),
        "(3492890328409238509324850943850943825024385\r\n");
    cmd(&batch[2], cmd_of(c, sizeof(c), "X", NULL),
        "!21\r\nSYNTAX invalid syntax\r\n");
    cmd(&batch[2], cmd_of(c, sizeof(c), "GET", "z", NULL), "_\r\n");
    treq_init(&batch[3], 0, 3, 0);
    select_db("0");
    cmd(&batch[3], cmd_of(c, sizeof(c), "S", NULL),
        "$?\r\n;4\r\nHell\r\n;1\r\no\r\n;0\r\n");
    cmd(&batch[3], cmd_of(c, sizeof(c), "A", NULL), "*?\r\n:1\r\n:2\r\n.\r\n");
    push();
    treq_init(&batch[4], 0, 4, 0);
    batch[4].u.tracked = 1;
    cmd(&batch[4], cmd_of(c, sizeof(c), "GET", "f", NULL), "$2\r\nfv\r\n");
}

/* Opens the pipe on a listener of ours speaking proto, submits the
 * batch (the first time: accepts and, for RESP3, answers HELLO), and
 * checks what the pipe writes, byte for byte. Returns the dones before. */
static long
send_batch(int proto)
{
    long before = tr.dones;

    if (fx.lfd < 0) {
        int port;

        fx.lfd = fake_listen(&port, 8);
        fx_up(port, proto, 0);
    }
    for (int i = 0; i < BATCH; i++) {
        submit(&batch[i]);
    }
    if (fx.peer < 0) {
        fx.peer = fake_accept(fx.lfd);
        if (proto == 3) {
            fake_expect(fx.peer, "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n");
            fake_send(fx.peer, "%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n");
        }
    }
    fake_expect_bytes(fx.peer, sc.wire, sc.wire_len);
    return before;
}

/* Replies of the batch complete in stream[0..at). */
static long
complete_at(size_t at)
{
    long n = 0;

    for (int i = 0; i < sc.nends; i++) {
        n += sc.ends[i] <= at;
    }
    return n;
}

/* Sends stream[from..to), waits until the pipe read it, and checks that
 * exactly the replies complete by then were handed over. */
static void
send_piece(size_t from, size_t to, long base)
{
    fake_send_bytes(fx.peer, sc.stream + from, to - from);
    loop_sync();
    cr_assert_eq(replies_now() - base, complete_at(to),
                 "after %zu of %zu bytes: %ld replies handed over, %ld "
                 "complete",
                 to, sc.stream_len, replies_now() - base, complete_at(to));
}

static void
expect_batch_answered(long dones_before)
{
    wait_dones(dones_before + BATCH);
    for (int i = 0; i < BATCH; i++) {
        expect_answered(&batch[i]);
    }
    /* One request after another, in the order they were submitted. */
    for (int i = 1; i < BATCH; i++) {
        cr_expect_eq(batch[i].done_seq, batch[i - 1].done_seq + 1);
    }
}

/* The batch of proto, answered one byte at a time. */
static void
byte_by_byte(int proto)
{
    long before, base;

    proto == 2 ? script_resp2() : script_resp3();
    before = send_batch(proto);
    base = replies_now();
    for (size_t at = 0; at < sc.stream_len; at++) {
        send_piece(at, at + 1, base);
    }
    expect_batch_answered(before);
}

Test(pipe, resp2_replies_byte_by_byte_reach_each_request_as_they_complete)
{
    byte_by_byte(2);
    /* Tracking off: a fill is cached on its TTL alone, tracked as it
     * came. */
    cr_expect_eq(batch[4].tracked, 1);
}

Test(pipe, resp3_replies_byte_by_byte_skip_pushes_and_keep_attributes)
{
    byte_by_byte(3);
    cr_expect_eq(batch[0].type[0], '$');
    cr_expect_eq(batch[0].attr_len[0], strlen(ATTR));
    cr_expect_eq(batch[0].type[1], '%');
    cr_expect_eq(batch[1].type[0], '~');
    cr_expect_eq(batch[1].type[1], '=');
    cr_expect_eq(batch[2].type[1], '!');
    cr_expect_eq(batch[3].type[0], '$');
    cr_expect_eq(batch[3].type[1], '*');
}

Test(pipe, replies_split_in_two_at_every_point_reach_their_requests)
{
    int proto;

    for (proto = 2; proto <= 3; proto++) {
        size_t len;

        proto == 2 ? script_resp2() : script_resp3();
        len = sc.stream_len;
        for (size_t at = 1; at < len; at++) {
            long before, base;

            proto == 2 ? script_resp2() : script_resp3();
            before = send_batch(proto);
            base = replies_now();
            send_piece(0, at, base);
            send_piece(at, len, base);
            expect_batch_answered(before);
        }
        fx_down();
        close(fx.peer);
        close(fx.lfd);
        fx.peer = fx.lfd = -1;
    }
}

Test(pipe, replies_in_random_pieces_reach_their_requests)
{
    unsigned seed = 20261207;

    for (int round = 0; round < 40; round++) {
        long before, base;
        size_t at = 0;

        script_resp3();
        before = send_batch(3);
        base = replies_now();
        while (at < sc.stream_len) {
            size_t n = 1 + (size_t)rand_r(&seed) % 23;

            if (n > sc.stream_len - at) {
                n = sc.stream_len - at;
            }
            send_piece(at, at + n, base);
            at += n;
        }
        expect_batch_answered(before);
    }
}

/* ---- many clients ---- */

#define CLIENTS 4
#define PER_CLIENT 200
#define STREAM_ID "77"

/* The invalidation stream's connection, served by a thread: CLIENT
 * TRACKING off (does Redis have it), CLIENT ID, SUBSCRIBE, PINGs. */
struct stream_fake {
    int lfd;
    pthread_t thread;
    atomic_int commands; /* answered */
};

static struct stream_fake sf;

/* The reply to one command of the stream's; "" for none known. */
static const char *
stream_reply(const struct resp_command *c)
{
    if (fake_arg_is(c, 0, "CLIENT") && fake_arg_is(c, 1, "TRACKING")) {
        return "+OK\r\n";
    }
    if (fake_arg_is(c, 0, "CLIENT") && fake_arg_is(c, 1, "ID")) {
        return ":" STREAM_ID "\r\n";
    }
    if (fake_arg_is(c, 0, "SUBSCRIBE")) {
        return "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n";
    }
    if (fake_arg_is(c, 0, "PING")) {
        return "*2\r\n$4\r\npong\r\n$0\r\n\r\n";
    }
    return "-ERR unknown\r\n";
}

/* No asserts here (not the test's thread): it ends when the stream's
 * connection closes. */
static void *
stream_main(void *arg)
{
    struct pollfd pfd = {.fd = sf.lfd, .events = POLLIN};
    char buf[4096];
    size_t len = 0;
    int fd;

    (void)arg;
    if (poll(&pfd, 1, WAIT_MS) != 1 || (fd = accept(sf.lfd, NULL, NULL)) < 0) {
        return NULL;
    }
    for (;;) {
        struct resp_command c;
        const char *err;
        ssize_t n;

        while (len > 0 &&
               resp_parse(buf, len, sizeof(buf), &c, &err) == RESP_OK) {
            const char *r = stream_reply(&c);

            if (send(fd, r, strlen(r), MSG_NOSIGNAL) != (ssize_t)strlen(r)) {
                break;
            }
            atomic_fetch_add(&sf.commands, 1);
            memmove(buf, buf + c.consumed, len - c.consumed);
            len -= c.consumed;
        }
        n = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (n <= 0 && !(n < 0 && errno == EINTR)) {
            break;
        }
        len += n > 0 ? (size_t)n : 0;
    }
    close(fd);
    return NULL;
}

static struct treq reqs[CLIENTS][PER_CLIENT];

/* What Redis answers the pipe's tagged commands: a tag's reply shows the
 * database it ran in (and, for a fill's GET, whether the connection was
 * registered for tracking), in one of RESP3's forms on a RESP3 pipe. */
static void
tag_reply(char *out, size_t cap, int proto, const char *kind, int db,
          const char *tag, int registered)
{
    char v[96];
    unsigned h = 0;

    for (const char *p = tag; *p; p++) {
        h = h * 31 + (unsigned char)*p;
    }
    if (strcmp(kind, "ECHO") == 0) {
        snprintf(out, cap, "$%zu\r\n%s\r\n", strlen(tag), tag);
        return;
    }
    if (strcmp(kind, "PTTL") == 0) {
        snprintf(out, cap, ":%u\r\n", h % 100000);
        return;
    }
    if (strcmp(kind, "GET") == 0) {
        snprintf(v, sizeof(v), "%d:%s:%s", db, tag, registered ? "t" : "u");
        snprintf(out, cap, "$%zu\r\n%s\r\n", strlen(v), v);
        return;
    }
    snprintf(v, sizeof(v), "%d:%s", db, tag); /* DBECHO */
    switch (proto == 3 ? h % 4 : 0) {
    case 1:
        snprintf(out, cap, "|1\r\n+db\r\n:%d\r\n$%zu\r\n%s\r\n", db, strlen(v),
                 v);
        break;
    case 2:
        snprintf(out, cap, "=%zu\r\ntxt:%s\r\n", strlen(v) + 4, v);
        break;
    case 3:
        snprintf(out, cap, "%%1\r\n+%s\r\n:%d\r\n", tag, db);
        break;
    default:
        snprintf(out, cap, "$%zu\r\n%s\r\n", strlen(v), v);
    }
}

/* Client c's requests, made before any is sent: one to four commands in
 * one database each (DBECHO), or in any (ECHO), or a fill. */
static void
make_requests(int proto, unsigned seed)
{
    for (int c = 0; c < CLIENTS; c++) {
        for (int s = 0; s < PER_CLIENT; s++) {
            struct treq *t = &reqs[c][s];
            int kind = (int)(rand_r(&seed) % 4), db = (int)(rand_r(&seed) % 4);
            int n = 1 + (int)(rand_r(&seed) % 4);
            char tag[32], line[128], reply[256];

            treq_init(t, c, s, kind == 0 ? -1 : db);
            for (int j = 0; j < (kind == 3 ? 2 : n); j++) {
                const char *what = kind == 0   ? "ECHO"
                                   : kind != 3 ? "DBECHO"
                                   : j == 0    ? "PTTL"
                                               : "GET";

                snprintf(tag, sizeof(tag), "c%d.%d.%d", c, s, j);
                tag_reply(reply, sizeof(reply), proto, what, db, tag, 1);
                treq_add(t, cmd_of(line, sizeof(line), what, tag, NULL), reply);
            }
            t->u.tracked = kind == 3;
            t->u.retry = kind == 3;
        }
    }
}

static atomic_int submit_failures;

static void *
client_main(void *arg)
{
    int c = (int)(intptr_t)arg;
    unsigned seed = (unsigned)c * 7919u + 1;

    for (int s = 0; s < PER_CLIENT; s++) {
        char err[UPSTREAM_ERR_MAX];

        if (pipe_submit(fx.p, &reqs[c][s].u, 0, 0, err) != PIPE_QUEUED) {
            atomic_fetch_add(&submit_failures, 1);
        }
        if (rand_r(&seed) % 8 == 0) {
            struct timespec ts = {0, (long)(rand_r(&seed) % 200) * 1000};

            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* What Redis saw of the pipe's connection. */
struct served {
    int db, registered, proto;
    long user_cmds, selects, registrations, out_of_order;
    int last_seq[CLIENTS];
};

/* The client and request of a tag "c<client>.<seq>.<j>". */
static void
tag_of(const struct resp_arg *a, int *client, int *seq)
{
    char t[32];

    snprintf(t, sizeof(t), "%.*s", (int)(a->len < 31 ? a->len : 31), a->p);
    cr_assert_eq(sscanf(t, "c%d.%d.", client, seq), 2, "tag %s", t);
    cr_assert(*client >= 0 && *client < CLIENTS, "tag %s", t);
}

/* Answers one command of the pipe's into out (sv: the connection). */
static void
serve_command(struct served *sv, const struct resp_command *c, char *out,
              size_t cap)
{
    char kind[16], tag[32];
    int client, seq;

    if (fake_arg_is(c, 0, "SELECT")) {
        sv->db = (int)strtol(c->argv[1].p, NULL, 10);
        sv->selects++;
        snprintf(out, cap, "+OK\r\n");
        return;
    }
    if (fake_arg_is(c, 0, "CLIENT")) {
        cr_assert(fake_arg_is(c, 1, "TRACKING") && fake_arg_is(c, 2, "ON") &&
                      fake_arg_is(c, 3, "REDIRECT") &&
                      fake_arg_is(c, 4, STREAM_ID),
                  "the pipe sent an unexpected CLIENT command");
        sv->registered = 1;
        sv->registrations++;
        snprintf(out, cap, "+OK\r\n");
        return;
    }
    cr_assert_eq(c->argc, 2);
    tag_of(&c->argv[1], &client, &seq);
    sv->out_of_order += seq < sv->last_seq[client];
    sv->last_seq[client] = seq;
    sv->user_cmds++;
    snprintf(kind, sizeof(kind), "%.*s", (int)c->argv[0].len, c->argv[0].p);
    snprintf(tag, sizeof(tag), "%.*s", (int)c->argv[1].len, c->argv[1].p);
    tag_reply(out, cap, sv->proto, kind, sv->db, tag, sv->registered);
}

/* Sends out[0..len) in random pieces, now and then letting the reader in
 * between. */
static void
send_pieces(const char *out, size_t len, unsigned *seed)
{
    size_t at = 0;

    while (at < len) {
        size_t n = 1 + (size_t)rand_r(seed) % 96;

        n = n < len - at ? n : len - at;
        fake_send_bytes(fx.peer, out + at, n);
        at += n;
        if (rand_r(seed) % 16 == 0) {
            sched_yield();
        }
    }
}

/* 1 when in holds a whole command not read yet. */
static int
command_buffered(const struct fake_in *in)
{
    struct resp_command c;
    const char *err;

    return in->len > in->pos &&
           resp_parse(in->buf + in->pos, in->len - in->pos, (size_t)64 << 20,
                      &c, &err) == RESP_OK;
}

static void
many_clients(int proto)
{
    static char out[1 << 20];
    pthread_t th[CLIENTS];
    struct served sv = {.proto = proto};
    struct fake_in in = {0};
    long total_cmds = 0, overlaps = 0;
    size_t out_len = 0;
    unsigned seed = 99;
    int port;

    fx.lfd = fake_listen(&port, 8);
    sf.lfd = fx.lfd;
    cr_assert_eq(pthread_create(&sf.thread, NULL, stream_main, NULL), 0);
    fx_up(port, proto, 1); /* the stream's connection is the first */
    make_requests(proto, 4242u + (unsigned)proto);
    for (int c = 0; c < CLIENTS; c++) {
        for (int s = 0; s < PER_CLIENT; s++) {
            total_cmds += reqs[c][s].u.nreplies;
        }
    }
    for (int c = 0; c < CLIENTS; c++) {
        cr_assert_eq(
            pthread_create(&th[c], NULL, client_main, (void *)(intptr_t)c), 0);
    }
    fx.peer = fake_accept(fx.lfd);
    if (proto == 3) {
        fake_expect(fx.peer, "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n");
        fake_send(fx.peer, "%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n");
    }
    while (sv.user_cmds < total_cmds) {
        struct resp_command c;
        const char *raw;
        size_t raw_len;

        fake_command(fx.peer, &in, &c, &raw, &raw_len);
        if (proto == 3 && rand_r(&seed) % 8 == 0) {
            out_len += (size_t)snprintf(out + out_len, sizeof(out) - out_len,
                                        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1"
                                        "\r\nk\r\n");
        }
        serve_command(&sv, &c, out + out_len, sizeof(out) - out_len);
        out_len += strlen(out + out_len);
        cr_assert_lt(out_len, sizeof(out) - 4096);
        if (!command_buffered(&in)) {
            send_pieces(out, out_len, &seed);
            out_len = 0;
        }
    }
    send_pieces(out, out_len, &seed);
    for (int c = 0; c < CLIENTS; c++) {
        pthread_join(th[c], NULL);
    }
    wait_dones(CLIENTS * PER_CLIENT);
    cr_expect_eq(atomic_load(&submit_failures), 0);
    cr_expect_eq(sv.out_of_order, 0,
                 "a client's commands reached Redis out "
                 "of its order");
    cr_expect_eq(sv.registrations, 1, "the pipe registered %ld times",
                 sv.registrations);
    cr_expect_gt(sv.selects, 0);
    for (int c = 0; c < CLIENTS; c++) {
        for (int s = 0; s < PER_CLIENT; s++) {
            const struct treq *t = &reqs[c][s];

            expect_answered(t);
            if (t->u.retry) {
                cr_expect_eq(t->tracked, 1,
                             "a fill read on a registered "
                             "connection is not tracked");
            }
            if (s > 0) {
                cr_expect_gt(t->done_seq, reqs[c][s - 1].done_seq,
                             "client %d: request %d ended before %d", c, s,
                             s - 1);
            }
        }
    }
    /* The race is there: clients' requests interleaved on the one
     * connection, and replies were handed over on several threads. */
    for (int a = 0; a < CLIENTS; a++) {
        for (int b = a + 1; b < CLIENTS; b++) {
            overlaps +=
                reqs[a][0].done_seq < reqs[b][PER_CLIENT - 1].done_seq &&
                reqs[b][0].done_seq < reqs[a][PER_CLIENT - 1].done_seq;
        }
    }
    cr_expect_gt(overlaps, 0, "no two clients' requests interleaved");
    cr_expect_geq(tr.nthreads, 2, "replies were handed over on %d thread(s)",
                  tr.nthreads);
    cr_log_info("RESP%d: %ld commands, %ld SELECTs, %d delivering threads, "
                "%ld overlapping client pairs",
                proto, total_cmds, sv.selects, tr.nthreads, overlaps);
    fake_in_free(&in);
    fx_down();
    pthread_join(sf.thread, NULL);
    cr_expect_geq(atomic_load(&sf.commands), 3);
}

Test(pipe, many_clients_resp2_each_get_their_own_replies_in_order)
{
    many_clients(2);
}

Test(pipe, many_clients_resp3_each_get_their_own_replies_in_order)
{
    many_clients(3);
}
