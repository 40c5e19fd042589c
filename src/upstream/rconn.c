/*
 * rconn: the one Redis connection; see rconn.h.
 *
 * Every byte that crosses the socket goes through three functions, and
 * nothing else here touches the socket after the connect is started:
 *   - io_connected: whether the connect in progress ended, and how
 *     (the socket writable, then SO_ERROR);
 *   - io_read: bytes in (recv);
 *   - io_writev: bytes out, gathered (sendmsg, MSG_NOSIGNAL).
 * Each retries EINTR, reports "would block" as 0 and a failure by making
 * the rconn FAILED with the reason. With TLS (the target has a context:
 * [redis] tls = on) they go through net/tls instead: the TLS handshake
 * runs in io_connected after the TCP connect, within connect_timeout; a
 * read or write that needs the other direction sets rc->want; nothing
 * else here knows the bytes are encrypted. Decrypted bytes a read leaves
 * inside the TLS connection are not announced by the socket again: every
 * reader here reads until a read returns 0 before it waits, as it does
 * for a plain socket.
 *
 * The input buffer is one heap block, in[start..end) unconsumed. Before a
 * read it is compacted when room runs short and doubled when that is not
 * enough, so a reply of any size is framed whole in place; once a large
 * reply has been consumed and nothing else waits, a buffer over IN_KEEP is
 * freed (the next read starts again at IN_MIN). A connection just opened
 * holds none, so spares and sessions waiting idle cost no buffer.
 *
 * The handshake is pipelined: every setup command is encoded into one
 * buffer at rconn_start and written as soon as the connect ends, then its
 * replies are framed in order; which command a reply answers is recomputed
 * from the setup (hs_plan), so "AUTH failed: ..." names the right one.
 */
#include "upstream/rconn.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "net/standby.h"
#include "net/tls.h"
#include "proto/resp.h"
#include "proto/resp_encode.h"

#define IN_MIN 16384       /* the input buffer to begin with */
#define READ_ROOM 4096     /* room wanted in the buffer before a read */
#define IN_KEEP (1u << 20) /* an idle rconn keeps at most this much */
#define IOV_BATCH 1024     /* ranges written per call (the kernel's limit) */
#define TLS_IOV 64         /* ranges handed to one tls_writev */
/* The setup commands at most: AUTH, HELLO, SELECT, READONLY, CLIENT ID
 * (or, over TLS with none of those, a PING). */
#define HS_MAX 5

/* One setup command: its name for error messages, and its words. */
struct hs_cmd {
    const char *name;
    int argc;
    const char *argv[5];
};

void
rconn_init(struct rconn *rc)
{
    memset(rc, 0, sizeof(*rc));
    rc->fd = -1;
    rc->state = RCONN_CLOSED;
    rc->want = RCONN_WANT_NONE;
    resp_reply_init(&rc->scan);
}

void
rconn_fail(struct rconn *rc, const char *fmt, ...)
{
    va_list ap;

    if (rc->state == RCONN_FAILED) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(rc->err, sizeof(rc->err), fmt, ap);
    va_end(ap);
    rc->state = RCONN_FAILED;
    rc->want = RCONN_WANT_NONE;
}

const char *
rconn_error(const struct rconn *rc)
{
    return rc->err;
}

void
rconn_close(struct rconn *rc)
{
    char err[REDIS_ERR_MAX];

    if (rc->tls != NULL) {
        if (rc->state == RCONN_READY) {
            (void)tls_shutdown(rc->tls); /* close_notify, one attempt */
        }
        tls_free(rc->tls);
    }
    if (rc->fd >= 0) {
        close(rc->fd); /* never retried: the fd is gone even on EINTR */
    }
    free(rc->in);
    free(rc->hs);
    memcpy(err, rc->err, sizeof(err));
    rconn_init(rc);
    memcpy(rc->err, err, sizeof(err)); /* why it failed stays readable */
}

/* ---- the byte movers: the only places that touch the socket ---- */

/* A TLS call's "would block" as rc->want; 0. Its failure as rc's; -1.
 * One while the setup commands go (after the TLS handshake) counts as the
 * TLS handshake's: with TLS 1.3 a server that refuses the client's
 * certificate says so only then (an alert, or a reset that lost it). */
static long
tls_outcome(struct rconn *rc, long n, const char *doing)
{
    char during[96];

    if (*doing == '\0' && rc->state == RCONN_HANDSHAKE) {
        snprintf(during, sizeof(during), "TLS handshake with %.64s:%d",
                 rc->target->host, rc->target->port);
        doing = during;
    }
    switch (n) {
    case TLS_WANT_READ:
        rc->want = RCONN_WANT_READ;
        return 0;
    case TLS_WANT_WRITE:
        rc->want = RCONN_WANT_WRITE;
        return 0;
    case TLS_EOF:
        rconn_fail(rc, "%s%sServer closed the connection", doing,
                   *doing != '\0' ? ": " : "");
        return -1;
    default:
        rconn_fail(rc, "%s%s%.160s", doing, *doing != '\0' ? ": " : "",
                   tls_reason(rc->tls));
        return -1;
    }
}

/* Whether the connect in progress ended: the TCP connect, then with TLS
 * the TLS handshake. Returns 1 connected, 0 not yet (rc->want says what
 * to wait for), or -1 failed (rc FAILED). */
static int
io_connected(struct rconn *rc)
{
    const struct redis_target *t = rc->target;
    char doing[96];
    int n, soerr = 0;

    if (!rc->tcp_up) {
        struct pollfd pfd = {.fd = rc->fd, .events = POLLOUT};
        socklen_t sl = sizeof(int);

        do {
            n = poll(&pfd, 1, 0);
        } while (n < 0 && errno == EINTR);
        if (n == 0) {
            rc->want = RCONN_WANT_WRITE;
            return 0;
        }
        if (n < 0 ||
            getsockopt(rc->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
            soerr = errno;
        }
        if (soerr != 0) {
            rconn_fail(rc, "connect to %.64s:%d: %.120s", t->host, t->port,
                       strerror(soerr));
            return -1;
        }
        rc->tcp_up = 1;
    }
    if (t->tls == NULL) {
        return 1;
    }
    if (rc->tls == NULL &&
        (rc->tls = tls_create(
             t->tls, rc->fd, t->tls_name[0] != '\0' ? t->tls_name : t->host)) ==
            NULL) {
        rconn_fail(rc, "out of memory for a TLS connection");
        return -1;
    }
    n = tls_handshake(rc->tls);
    if (n == TLS_OK) {
        return 1;
    }
    snprintf(doing, sizeof(doing), "TLS handshake with %.64s:%d", t->host,
             t->port);
    return (int)tls_outcome(rc, n, doing);
}

/* Reads up to cap bytes into buf. Returns the bytes read, 0 when there
 * are none yet, or -1 on EOF or an error (rc FAILED). */
static long
io_read(struct rconn *rc, char *buf, size_t cap)
{
    ssize_t n;

    if (rc->tls != NULL) {
        long r = tls_read(rc->tls, buf, cap);

        rc->drained = r <= 0 || tls_drained(rc->tls);
        return r > 0 ? r : tls_outcome(rc, r, "");
    }
    do {
        n = recv(rc->fd, buf, cap, 0);
    } while (n < 0 && errno == EINTR);
    /* A read that left room found the socket empty: with edge-triggered
     * readiness, the next bytes are announced again. */
    rc->drained = n <= 0 || (size_t)n < cap;
    if (n > 0) {
        return (long)n;
    }
    if (n == 0) {
        rconn_fail(rc, "Server closed the connection"); /* hiredis's words */
        return -1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return 0;
    }
    rconn_fail(rc, "%s", strerror(errno));
    return -1;
}

/* io_writev over TLS: tls_writev takes a record's worth at a time, so it
 * is called until everything is taken or the socket is full (a plain
 * write's "fewer bytes than asked"). The call after a full socket starts
 * with the bytes that did not go, as tls_writev needs. */
static long
tls_writev_all(struct rconn *rc, const struct iovec *iov, int n, size_t asked)
{
    struct iovec part[TLS_IOV];
    size_t taken = 0, off = 0;
    int at = 0;

    while (taken < asked) {
        int k = 0;
        long r;

        while (at < n && iov[at].iov_len <= off) {
            off -= iov[at].iov_len; /* empty ranges, and what went */
            at++;
        }
        for (; k < TLS_IOV && at + k < n; k++) {
            part[k] = iov[at + k];
        }
        part[0].iov_base = (char *)part[0].iov_base + off;
        part[0].iov_len -= off;
        r = tls_writev(rc->tls, part, k);
        if (r <= 0) {
            r = tls_outcome(rc, r, ""); /* 0 with rc->want, or -1 */
            return r < 0 ? -1 : (long)taken;
        }
        taken += (size_t)r;
        off += (size_t)r;
    }
    rc->want = RCONN_WANT_NONE;
    return (long)taken;
}

/* Writes what the socket takes of iov[0..n) (the first IOV_BATCH ranges
 * at most). Returns the bytes written (0: none fit; rc->want is WRITE
 * when not all did), or -1 (rc FAILED). With TLS, a write that took
 * fewer bytes than asked is called again with the same bytes first. */
static long
io_writev(struct rconn *rc, const struct iovec *iov, int n)
{
    struct msghdr msg = {.msg_iov = (struct iovec *)iov,
                         .msg_iovlen = (size_t)(n < IOV_BATCH ? n : IOV_BATCH)};
    size_t asked = 0, i;
    ssize_t w;

    for (i = 0; i < msg.msg_iovlen; i++) {
        asked += iov[i].iov_len;
    }
    if (rc->tls != NULL) {
        return tls_writev_all(rc, iov, (int)msg.msg_iovlen, asked);
    }
    do {
        w = sendmsg(rc->fd, &msg, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        rconn_fail(rc, "%s", strerror(errno));
        return -1;
    }
    if (w < 0) {
        w = 0;
    }
    rc->want = (size_t)w < asked ? RCONN_WANT_WRITE : RCONN_WANT_NONE;
    return (long)w;
}

/* ---- the input buffer and the reply scanner ---- */

/* Room for a read: compacts, or doubles the buffer. Returns 0 or -1 (rc
 * FAILED). */
static int
in_room(struct rconn *rc)
{
    size_t cap;
    char *np;

    if (rc->start == rc->end) {
        rc->start = rc->end = 0;
    }
    if (rc->cap - rc->end >= READ_ROOM) {
        return 0;
    }
    if (rc->start > 0) {
        memmove(rc->in, rc->in + rc->start, rc->end - rc->start);
        rc->end -= rc->start;
        rc->start = 0;
        if (rc->cap - rc->end >= READ_ROOM) {
            return 0;
        }
    }
    cap = rc->cap == 0 ? IN_MIN : rc->cap * 2;
    np = realloc(rc->in, cap);
    if (np == NULL) {
        rconn_fail(rc, "out of memory for a %zu-byte reply buffer", cap);
        return -1;
    }
    rc->in = np;
    rc->cap = cap;
    return 0;
}

/* Reads once into the input buffer. Returns as io_read. */
static long
in_fill(struct rconn *rc)
{
    long n;

    if (in_room(rc) < 0) {
        return -1;
    }
    n = io_read(rc, rc->in + rc->end, rc->cap - rc->end);
    if (n > 0) {
        rc->end += (size_t)n;
    }
    return n;
}

/* The one call into the reply scanner: goes on framing the reply at
 * in + start. Returns RESP_OK, RESP_INCOMPLETE or RESP_EPROTO. */
static int
scan_next(struct rconn *rc)
{
    if (rc->start == rc->end) {
        return RESP_INCOMPLETE;
    }
    return resp_reply_scan(&rc->scan, rc->in + rc->start, rc->end - rc->start);
}

/*
 * HELLO 3's reply is a RESP3 map ("%7\r\n", then its keys and values),
 * which the RESP2 scanner refuses. Until the scanner frames RESP3 itself,
 * the map's header is read here and its 2n elements are left to the
 * scanner as the elements it still needs (they are RESP2 values from every
 * Redis to date; "modules" is an empty array unless modules are loaded).
 * With a RESP3 scanner this function goes and HELLO's reply is framed by
 * scan_next like the others.
 */
static int
scan_hello(struct rconn *rc)
{
    const char *p = rc->in + rc->start, *lf;
    size_t n = rc->end - rc->start, i;
    long long count = 0;

    if (rc->scan.pos != 0 || n == 0 || p[0] != '%') {
        return scan_next(rc);
    }
    lf = memchr(p, '\n', n);
    if (lf == NULL) {
        return RESP_INCOMPLETE;
    }
    for (i = 1; p + i < lf - 1 && p[i] >= '0' && p[i] <= '9'; i++) {
        count = count * 10 + (p[i] - '0');
        if (count > 1024) {
            return RESP_EPROTO;
        }
    }
    if (i == 1 || p + i != lf - 1 || p[i] != '\r') {
        return RESP_EPROTO;
    }
    rc->scan.type = '%';
    rc->scan.pos = (size_t)(lf - p) + 1;
    rc->scan.pending = 2 * count;
    return scan_next(rc);
}

int
rconn_reply(struct rconn *rc, const char **p, size_t *len)
{
    int r;

    if (rc->state != RCONN_READY) {
        return RESP_EPROTO;
    }
    r = scan_next(rc);
    if (r == RESP_EPROTO) {
        rconn_fail(rc, "Protocol error: bytes from redis are no reply");
    }
    if (r == RESP_OK) {
        *p = rc->in + rc->start;
        *len = rc->scan.pos;
    }
    return r;
}

void
rconn_consume(struct rconn *rc)
{
    if (rc->scan.pending != 0) {
        return; /* no complete reply framed */
    }
    rc->start += rc->scan.pos;
    resp_reply_init(&rc->scan);
    if (rc->start < rc->end) {
        return;
    }
    rc->start = rc->end = 0;
    if (rc->cap > IN_KEEP) {
        free(rc->in); /* a large reply passed: do not keep its buffer */
        rc->in = NULL;
        rc->cap = 0;
    }
}

int
rconn_buffered(const struct rconn *rc)
{
    return rc->end > rc->start;
}

/* ---- opening: connect, then the handshake ---- */

/* The setup commands, in the order they are sent. Returns how many. */
static int
hs_plan(const struct rconn *rc, struct hs_cmd cmd[HS_MAX], char db[24])
{
    const struct redis_target *t = rc->target;
    const char *user = t->user;
    int dbn = rc->setup.db >= 0 ? rc->setup.db : t->db, n = 0;

    if (t->password[0] != '\0' && user[0] != '\0') {
        cmd[n++] = (struct hs_cmd){"AUTH", 3, {"AUTH", user, t->password}};
    } else if (t->password[0] != '\0') {
        cmd[n++] = (struct hs_cmd){"AUTH", 2, {"AUTH", t->password}};
    }
    if (rc->setup.proto == 3) {
        cmd[n++] = (struct hs_cmd){"HELLO", 2, {"HELLO", "3"}};
    }
    if (dbn != 0) {
        snprintf(db, 24, "%d", dbn);
        cmd[n++] = (struct hs_cmd){"SELECT", 2, {"SELECT", db}};
    }
    if (t->readonly) {
        cmd[n++] = (struct hs_cmd){"READONLY", 1, {"READONLY"}};
    }
    if (rc->setup.client_id) {
        cmd[n++] = (struct hs_cmd){"CLIENT ID", 2, {"CLIENT", "ID"}};
    }
    if (n == 0 && t->tls != NULL) {
        /* With TLS 1.3 a server that refuses the client's certificate
         * says so after the client's side of the handshake is done, at
         * its first read: a reply read makes that part of the open. */
        cmd[n++] = (struct hs_cmd){"PING", 1, {"PING"}};
    }
    return n;
}

/* The name of the setup command whose reply is owed next. */
static const char *
hs_owed_name(const struct rconn *rc)
{
    struct hs_cmd cmd[HS_MAX];
    char db[24];
    int n = hs_plan(rc, cmd, db);

    return rc->setup_owed > 0 && rc->setup_owed <= (size_t)n
               ? cmd[n - (int)rc->setup_owed].name
               : "handshake";
}

/* Encodes the setup commands into rc->hs. Returns 0 or -1. */
static int
hs_build(struct rconn *rc)
{
    struct hs_cmd cmd[HS_MAX];
    char db[24];
    int n = hs_plan(rc, cmd, db), i, j;
    size_t cap = 0;

    for (i = 0; i < n; i++) {
        struct resp_command c = {.argc = (size_t)cmd[i].argc, .is_inline = 1};

        for (j = 0; j < cmd[i].argc; j++) {
            c.argv[j].p = cmd[i].argv[j];
            c.argv[j].len = strlen(cmd[i].argv[j]);
        }
        if (resp_encode(&c, NULL, &rc->hs, &rc->hs_len, &cap) < 0) {
            return -1;
        }
    }
    rc->hs_sent = 0;
    rc->setup_owed = (size_t)n;
    return 0;
}

/* A Redis that vanishes without closing (a host gone, a partition) is
 * noticed by TCP within about KEEPALIVE_IDLE_S + KEEPALIVE_PROBES *
 * KEEPALIVE_INTVL_S seconds, failing the connection: nothing else bounds
 * how long a pipe waits for replies (forward_timeout may be 0). */
#define KEEPALIVE_IDLE_S 15
#define KEEPALIVE_INTVL_S 5
#define KEEPALIVE_PROBES 3

static void
keepalive(int fd)
{
    int on = 1, idle = KEEPALIVE_IDLE_S, intvl = KEEPALIVE_INTVL_S,
        cnt = KEEPALIVE_PROBES;

    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* Starts a non-blocking connect to the first address of the target that
 * takes one. Returns 1 connected at once, 0 in progress, -1 (rc FAILED). */
static int
sock_connect(struct rconn *rc)
{
    const struct redis_target *t = rc->target;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *res = NULL, *ai;
    char port[16];
    int gai, err = 0, one = 1, rv = -1;

    snprintf(port, sizeof(port), "%d", t->port);
    gai = getaddrinfo(t->host, port, &hints, &res);
    if (gai == EAI_NONAME) {
        /* A name: resolving blocks, so a worker doing it hands its turn
         * to one standing by (net/standby.h) meanwhile. */
        hints.ai_flags = AI_NUMERICSERV;
        standby_block_begin();
        gai = getaddrinfo(t->host, port, &hints, &res);
        standby_block_end();
    }
    if (gai != 0) {
        rconn_fail(rc, "connect to %.64s:%d: %.120s", t->host, t->port,
                   gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        return -1;
    }
    for (ai = res; ai != NULL && rv < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family,
                        ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);

        if (fd < 0) {
            err = errno;
            continue;
        }
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        keepalive(fd);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            rv = 1;
        } else if (errno == EINPROGRESS || errno == EINTR) {
            rv = 0; /* EINTR: the connect goes on in the background */
        } else {
            err = errno;
            close(fd);
            continue;
        }
        rc->fd = fd;
    }
    freeaddrinfo(res);
    if (rv < 0) {
        rconn_fail(rc, "connect to %.64s:%d: %.120s", t->host, t->port,
                   strerror(err != 0 ? err : EADDRNOTAVAIL));
    }
    return rv;
}

enum rconn_state
rconn_start(struct rconn *rc, const struct redis_target *t,
            const struct rconn_setup *s)
{
    static const struct rconn_setup plain = {.proto = 2, .db = -1};
    int connected;

    rconn_init(rc);
    rc->target = t;
    rc->setup = s != NULL ? *s : plain;
    rc->state = RCONN_CONNECTING;
    rc->want = RCONN_WANT_WRITE;
    rc->deadline_ms = util_now_ms() + config_get(t->cfg)->connect_timeout_ms;
    if (hs_build(rc) < 0) {
        rconn_fail(rc, "out of memory for the handshake");
        return rc->state;
    }
    connected = sock_connect(rc);
    rc->tcp_up = connected == 1;
    if (connected == 1 && rc->setup_owed == 0 && t->tls == NULL) {
        rc->state = RCONN_READY;
        rc->want = RCONN_WANT_NONE;
    }
    /* Connected at once with a handshake to send: the socket is writable,
     * so the owner's first wait ends at once and rconn_step sends it. */
    return rc->state;
}

/* Sends the handshake, then frames its replies. Returns the state. */
static enum rconn_state
handshake(struct rconn *rc)
{
    while (rc->hs_sent < rc->hs_len) {
        struct iovec v = {.iov_base = rc->hs + rc->hs_sent,
                          .iov_len = rc->hs_len - rc->hs_sent};
        long n = io_writev(rc, &v, 1);

        if (n <= 0) {
            return rc->state; /* FAILED, or wait until writable */
        }
        rc->hs_sent += (size_t)n;
    }
    free(rc->hs);
    rc->hs = NULL;
    rc->want = RCONN_WANT_READ;
    while (rc->setup_owed > 0) {
        const char *name = hs_owed_name(rc), *msg;
        int r = strcmp(name, "HELLO") == 0 ? scan_hello(rc) : scan_next(rc);
        size_t mlen;
        long n;

        if (r == RESP_EPROTO) {
            rconn_fail(rc, "%s: Protocol error: the reply is no RESP", name);
            return rc->state;
        }
        if (r == RESP_INCOMPLETE) {
            n = in_fill(rc);
            if (n <= 0) {
                return rc->state; /* FAILED, or wait until readable */
            }
            continue;
        }
        if (resp_reply_error(rc->in + rc->start, rc->scan.pos, &msg, &mlen)) {
            rconn_fail(rc, "%s failed: %.*s", name,
                       (int)(mlen < 200 ? mlen : 200), msg);
            rc->refused = 1;
            return rc->state;
        }
        if (strcmp(name, "CLIENT ID") == 0) {
            rc->redis_id = strtoll(rc->in + rc->start + 1, NULL, 10); /* :N */
        }
        rc->setup_owed--;
        rconn_consume(rc);
    }
    if (rc->start == rc->end) {
        free(rc->in); /* an idle connection holds no buffer (spares) */
        rc->in = NULL;
        rc->start = rc->end = rc->cap = 0;
    }
    rc->state = RCONN_READY;
    rc->want = RCONN_WANT_NONE;
    return rc->state;
}

enum rconn_state
rconn_step(struct rconn *rc)
{
    switch (rc->state) {
    case RCONN_CONNECTING:
        if (io_connected(rc) <= 0) {
            return rc->state;
        }
        if (rc->setup_owed == 0) {
            rc->state = RCONN_READY;
            rc->want = RCONN_WANT_NONE;
            return rc->state;
        }
        rc->state = RCONN_HANDSHAKE;
        return handshake(rc);
    case RCONN_HANDSHAKE:
        return handshake(rc);
    default:
        return rc->state;
    }
}

enum rconn_want
rconn_want(const struct rconn *rc)
{
    switch (rc->state) {
    case RCONN_CONNECTING:
    case RCONN_HANDSHAKE:
    case RCONN_READY:
        return rc->want;
    default:
        return RCONN_WANT_NONE;
    }
}

int
rconn_overdue(const struct rconn *rc, int64_t now_ms)
{
    return (rc->state == RCONN_CONNECTING || rc->state == RCONN_HANDSHAKE) &&
           now_ms >= rc->deadline_ms;
}

/* ---- moving bytes on an open connection ---- */

/* 1 when rc is READY; otherwise it fails (if it had not) and 0. */
static int
is_ready(struct rconn *rc)
{
    if (rc->state == RCONN_READY) {
        return 1;
    }
    rconn_fail(rc, "not open");
    return 0;
}

long
rconn_writev(struct rconn *rc, const struct iovec *iov, int n)
{
    if (!is_ready(rc)) {
        return -1;
    }
    return io_writev(rc, iov, n);
}

long
rconn_read(struct rconn *rc)
{
    if (!is_ready(rc)) {
        return -1;
    }
    return in_fill(rc);
}

/* ---- blocking use ---- */

static short
events_of(enum rconn_want w)
{
    return w == RCONN_WANT_WRITE ? POLLOUT : POLLIN;
}

/*
 * Waits until rc's socket is ready for events, deadline_ms passes, or
 * stopfd (-1: none) is readable. Returns 1 ready, 0 at the deadline or on
 * stop (*stopped set then), or -1 when poll failed (rc FAILED).
 */
static int
await(struct rconn *rc, short events, int stopfd, int64_t deadline_ms,
      int *stopped)
{
    for (;;) {
        struct pollfd pfd[2] = {{.fd = rc->fd, .events = events},
                                {.fd = stopfd, .events = POLLIN}};
        int64_t left = deadline_ms - util_now_ms();
        int n;

        if (left <= 0) {
            return 0;
        }
        n = poll(pfd, 2, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rconn_fail(rc, "poll: %s", strerror(errno));
            return -1;
        }
        if (n == 0) {
            return 0;
        }
        if (pfd[1].revents != 0) {
            *stopped = 1;
            return 0;
        }
        return 1;
    }
}

int
rconn_open(struct rconn *rc, const struct redis_target *t,
           const struct rconn_setup *s, char *err)
{
    enum rconn_state st = rconn_start(rc, t, s);
    int64_t deadline = rc->deadline_ms, timeout = 0;
    int stopped = 0, w;

    while (st == RCONN_CONNECTING || st == RCONN_HANDSHAKE) {
        if (st == RCONN_HANDSHAKE && timeout == 0) {
            timeout = config_get(t->cfg)->command_timeout_ms;
            deadline = util_now_ms() + timeout;
        }
        w = await(rc, events_of(rconn_want(rc)), -1, deadline, &stopped);
        if (w == 0 && st == RCONN_CONNECTING) {
            rconn_fail(rc, "connect to %.64s:%d: %.120s", t->host, t->port,
                       strerror(ETIMEDOUT));
        } else if (w == 0) {
            rconn_fail(rc, "%s: no reply within %lld ms", hs_owed_name(rc),
                       (long long)timeout);
        }
        st = w > 0 ? rconn_step(rc) : rc->state;
    }
    if (st == RCONN_READY) {
        return 0;
    }
    snprintf(err, REDIS_ERR_MAX, "%s", rc->err);
    rconn_close(rc);
    return -1;
}

/* Writes cmd[0..len) whole within timeout_ms. Returns 0 or -1 (FAILED). */
static int
send_within(struct rconn *rc, const char *cmd, size_t len, int64_t timeout_ms)
{
    int64_t deadline = util_now_ms() + timeout_ms;
    size_t sent = 0;
    int stopped = 0, w;

    while (sent < len) {
        struct iovec v = {.iov_base = (char *)cmd + sent,
                          .iov_len = len - sent};
        long n = rconn_writev(rc, &v, 1);

        if (n < 0) {
            return -1;
        }
        sent += (size_t)n;
        if (sent == len) {
            break;
        }
        w = await(rc, events_of(rconn_want(rc)), -1, deadline, &stopped);
        if (w == 0) {
            rconn_fail(rc, "cannot write within %lld ms",
                       (long long)timeout_ms);
        }
        if (w <= 0) {
            return -1;
        }
    }
    return 0;
}

/* The framed reply p[0..len) as a hiredis reply object, consumed. Returns
 * it, or NULL (rc FAILED). */
static redisReply *
parse_reply(struct rconn *rc, const char *p, size_t len)
{
    redisReader *rd = redisReaderCreate();
    void *r = NULL;

    if (rd == NULL) {
        rconn_fail(rc, "out of memory for a reply reader");
        return NULL;
    }
    if (redisReaderFeed(rd, p, len) != REDIS_OK ||
        redisReaderGetReply(rd, &r) != REDIS_OK || r == NULL) {
        rconn_fail(rc, "%.200s",
                   rd->err ? rd->errstr : "Protocol error: incomplete reply");
        freeReplyObject(r);
        r = NULL;
    }
    redisReaderFree(rd);
    if (r != NULL) {
        rconn_consume(rc);
    }
    return r;
}

/*
 * The next reply, waiting until deadline_ms or stopfd; see
 * rconn_wait_reply. The socket is read until it has nothing before poll is
 * asked, so bytes a TLS layer holds decrypted (which poll cannot see) are
 * never waited on.
 */
static redisReply *
reply_until(struct rconn *rc, int64_t deadline_ms, int stopfd, int *timed_out)
{
    int stopped = 0;

    *timed_out = 0;
    for (;;) {
        const char *p;
        size_t len;
        int r = rconn_reply(rc, &p, &len), w;
        long n;

        if (r == RESP_OK) {
            return parse_reply(rc, p, len);
        }
        if (r != RESP_INCOMPLETE) {
            return NULL;
        }
        n = rconn_read(rc);
        if (n < 0) {
            return NULL;
        }
        if (n > 0) {
            continue;
        }
        w = await(rc, POLLIN, stopfd, deadline_ms, &stopped);
        if (w == 0) {
            *timed_out = 1;
            return NULL;
        }
        if (w < 0) {
            return NULL;
        }
    }
}

struct redisReply *
rconn_wait_reply(struct rconn *rc, int64_t timeout_ms, int stopfd,
                 int *timed_out)
{
    int dummy;

    if (timed_out == NULL) {
        timed_out = &dummy;
    }
    return reply_until(rc, util_now_ms() + timeout_ms, stopfd, timed_out);
}

int
rconn_send_all(struct rconn *rc, const char *cmd, size_t len)
{
    if (!is_ready(rc)) {
        return -1;
    }
    return send_within(rc, cmd, len,
                       config_get(rc->target->cfg)->command_timeout_ms);
}

redisReply *
rconn_call(struct rconn *rc, const char *what, char *err, int *is_error_reply,
           const char *fmt, ...)
{
    int64_t timeout;
    redisReply *r = NULL;
    char *cmd = NULL;
    int len, timed_out = 0;
    va_list ap;

    if (is_error_reply != NULL) {
        *is_error_reply = 0;
    }
    if (!is_ready(rc)) {
        goto fail;
    }
    timeout = config_get(rc->target->cfg)->command_timeout_ms;
    va_start(ap, fmt);
    len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0) {
        snprintf(err, REDIS_ERR_MAX, "%s: cannot format the command", what);
        return NULL;
    }
    if (send_within(rc, cmd, (size_t)len, timeout) == 0) {
        r = reply_until(rc, util_now_ms() + timeout, -1, &timed_out);
    }
    redisFreeCommand(cmd);
    if (r == NULL) {
        if (timed_out) {
            rconn_fail(rc, "no reply within %lld ms", (long long)timeout);
        }
        goto fail;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, REDIS_ERR_MAX, "%s failed: %.*s", what, (int)r->len,
                 r->str);
        if (is_error_reply != NULL) {
            *is_error_reply = 1;
        }
        freeReplyObject(r);
        return NULL;
    }
    return r;

fail:
    snprintf(err, REDIS_ERR_MAX, "%s: %.200s", what, rc->err);
    return NULL;
}
