/*
 * Unit tests of opening an rconn (upstream/rconn): the event-driven open
 * driven by poll on rconn_want, the blocking rconn_open, each part of the
 * handshake checked from Redis's side (ACL WHOAMI, CLIENT INFO's db=,
 * flags= and redir=, a RESP3 reply after HELLO 3), and each way an open
 * fails, with the exact reason: refused, a wrong password, an unknown ACL
 * user, READONLY without cluster support, a connect that never completes
 * (a full backlog) and a handshake nobody answers (a fake server).
 */
#include "rconn_helpers.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>

static void
start_plain(void)
{
    start_server(0, NULL);
}

static void
start_auth(void)
{
    static const char *const extra[] = {"--requirepass", "s3cret", NULL};

    start_server(0, extra);
}

static void
start_cluster(void)
{
    start_server(1, NULL);
}

TestSuite(rconn_open, .init = start_plain, .fini = stop_server, .timeout = 30);
TestSuite(rconn_auth, .init = start_auth, .fini = stop_server, .timeout = 30);
TestSuite(rconn_cluster, .init = start_cluster, .fini = stop_server,
          .timeout = 30);
TestSuite(rconn_fail, .init = config_setup, .timeout = 30);

/* The client's line of CLIENT INFO. */
static void
client_info(struct rconn *rc, char *out, size_t cap)
{
    call_text(rc, "CLIENT INFO", out, cap);
}

/* The value of field name= in a CLIENT INFO line. */
static void
info_field(const char *info, const char *name, char *out, size_t cap)
{
    char key[32];
    const char *p;
    size_t n;

    snprintf(key, sizeof(key), " %s=", name);
    p = strstr(info, key);
    cr_assert_not_null(p, "no %s in %s", name, info);
    p += strlen(key);
    n = strcspn(p, " \n");
    cr_assert_lt(n, cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

Test(rconn_auth, opens_event_driven_through_the_handshake)
{
    struct redis_target t = target_at(server_port, "", "s3cret", 2);
    struct rconn rc;
    char info[1024], db[16], who[64];
    const char *p;

    rconn_init(&rc);
    cr_assert_eq(rconn_start(&rc, &t, NULL), RCONN_CONNECTING);
    cr_assert_eq(rconn_want(&rc), RCONN_WANT_WRITE);
    cr_assert_eq(rconn_overdue(&rc, util_now_ms()), 0);
    cr_assert_eq(drive_open(&rc), RCONN_READY, "%s", rconn_error(&rc));
    cr_assert_eq(rconn_want(&rc), RCONN_WANT_NONE);
    cr_assert_eq(rconn_overdue(&rc, rc.deadline_ms + 1), 0,
                 "an open rconn is never overdue");
    cr_assert_eq(rconn_buffered(&rc), 0, "the handshake replies were taken");
    cr_assert_null(rc.in, "an idle open rconn holds no input buffer");

    write_all(&rc, "*1\r\n$4\r\nPING\r\n", 14);
    cr_assert_eq(next_reply(&rc, &p), 7);
    cr_assert_arr_eq(p, "+PONG\r\n", 7);
    rconn_consume(&rc);

    client_info(&rc, info, sizeof(info));
    info_field(info, "db", db, sizeof(db));
    cr_assert_str_eq(db, "2");
    call_text(&rc, "ACL WHOAMI", who, sizeof(who));
    cr_assert_str_eq(who, "default");
    rconn_close(&rc);
    cr_assert_eq(rc.fd, -1);
    cr_assert_eq(rc.state, RCONN_CLOSED);
}

Test(rconn_auth, authenticates_an_acl_user)
{
    struct redis_target admin = target_at(server_port, "", "s3cret", 0);
    struct redis_target alice = target_at(server_port, "alice", "wonder", 0);
    struct rconn a, b;
    char err[REDIS_ERR_MAX], who[64];
    redisReply *r;

    open_ok(&a, &admin, NULL);
    r = rconn_call(&a, "ACL SETUSER", err, NULL,
                   "ACL SETUSER alice on >wonder ~* +@all");
    cr_assert_not_null(r, "%s", err);
    freeReplyObject(r);

    open_ok(&b, &alice, NULL);
    call_text(&b, "ACL WHOAMI", who, sizeof(who));
    cr_assert_str_eq(who, "alice");
    rconn_close(&b);
    rconn_close(&a);
}

Test(rconn_auth, wrong_password_fails_with_redis_text)
{
    struct redis_target t = target_at(server_port, "", "wrong", 0);
    struct rconn rc;
    char err[REDIS_ERR_MAX];

    rconn_init(&rc);
    cr_assert_eq(rconn_open(&rc, &t, NULL, err), -1);
    cr_assert_str_eq(err, "AUTH failed: WRONGPASS invalid username-password "
                          "pair or user is disabled.");
    cr_assert_eq(rc.fd, -1, "a failed open is closed");

    /* The same through the event-driven open. */
    cr_assert_eq(rconn_start(&rc, &t, NULL), RCONN_CONNECTING);
    cr_assert_eq(drive_open(&rc), RCONN_FAILED);
    cr_assert_str_eq(rconn_error(&rc), err);
    cr_assert_eq(rconn_want(&rc), RCONN_WANT_NONE);
    rconn_close(&rc);
}

Test(rconn_auth, unknown_acl_user_fails)
{
    struct redis_target t = target_at(server_port, "nobody", "s3cret", 0);
    struct rconn rc;
    char err[REDIS_ERR_MAX];

    rconn_init(&rc);
    cr_assert_eq(rconn_open(&rc, &t, NULL, err), -1);
    cr_assert_str_eq(err, "AUTH failed: WRONGPASS invalid username-password "
                          "pair or user is disabled.");
}

Test(rconn_auth, a_later_part_fails_after_auth)
{
    struct redis_target t = target_at(server_port, "", "s3cret", 0);
    struct rconn_setup s = {.proto = 2, .db = 99};
    struct rconn rc;
    char err[REDIS_ERR_MAX];

    rconn_init(&rc);
    cr_assert_eq(rconn_open(&rc, &t, &s, err), -1);
    cr_assert_str_eq(err, "SELECT failed: ERR DB index is out of range");
}

Test(rconn_open, hello_3_gives_resp3_replies)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    struct rconn_setup s3 = {.proto = 3, .db = -1};
    struct rconn r2, r3;

    open_ok(&r3, &t, &s3);
    open_ok(&r2, &t, NULL);
    write_all(&r3, "*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n", 26);
    write_all(&r2, "*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n", 26);

    /* RESP3's null is "_", RESP2's a null bulk: framed raw here, since the
     * RESP2 scanner does not frame "_" (nor hiredis 0.14 parse it). */
    while (r3.end - r3.start < 3) {
        if (rconn_read(&r3) == 0) {
            wait_fd(r3.fd, POLLIN);
        }
        cr_assert_eq(r3.state, RCONN_READY, "%s", rconn_error(&r3));
    }
    cr_assert_eq(r3.end - r3.start, 3);
    cr_assert_arr_eq(r3.in + r3.start, "_\r\n", 3);
    {
        const char *p;

        cr_assert_eq(next_reply(&r2, &p), 5);
        cr_assert_arr_eq(p, "$-1\r\n", 5);
    }
    rconn_close(&r2);
    rconn_close(&r3);
}

Test(rconn_auth, hello_3_between_auth_and_select)
{
    struct redis_target t = target_at(server_port, "", "s3cret", 2);
    struct rconn_setup s3 = {.proto = 3, .db = -1};
    struct rconn rc;

    open_ok(&rc, &t, &s3);
    write_all(&rc, "*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n", 26);
    while (rc.end - rc.start < 3) {
        if (rconn_read(&rc) == 0) {
            wait_fd(rc.fd, POLLIN);
        }
        cr_assert_eq(rc.state, RCONN_READY, "%s", rconn_error(&rc));
    }
    cr_assert_arr_eq(rc.in + rc.start, "_\r\n", 3);
    rconn_close(&rc);
}

Test(rconn_fail, hello_map_split_across_reads)
{
    int port, lfd = fake_listen(&port, 8), peer;
    struct redis_target t = target_at(port, "", "", 0);
    struct rconn_setup s3 = {.proto = 3, .db = -1};
    struct rconn rc;

    rconn_init(&rc);
    cr_assert_eq(rconn_start(&rc, &t, &s3), RCONN_CONNECTING);
    peer = fake_accept(lfd);
    while (rc.state == RCONN_CONNECTING) {
        wait_fd(rc.fd, POLLOUT);
        rconn_step(&rc);
    }
    fake_expect(peer, "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n");
    fake_send(peer, "%2\r");
    wait_fd(rc.fd, POLLIN);
    cr_assert_eq(rconn_step(&rc), RCONN_HANDSHAKE);
    fake_send(peer, "\n$5\r\nproto\r\n:3\r\n$4\r\nmo");
    wait_fd(rc.fd, POLLIN);
    cr_assert_eq(rconn_step(&rc), RCONN_HANDSHAKE);
    fake_send(peer, "de\r\n$10\r\nstandalone\r\n+PONG\r\n");
    wait_fd(rc.fd, POLLIN);
    cr_assert_eq(rconn_step(&rc), RCONN_READY, "%s", rconn_error(&rc));
    {
        const char *p;

        cr_assert_eq(next_reply(&rc, &p), 7, "what followed stays buffered");
        cr_assert_arr_eq(p, "+PONG\r\n", 7);
    }
    rconn_close(&rc);
    close(peer);
    close(lfd);
}

Test(rconn_open, selects_the_db_asked_or_the_targets)
{
    struct redis_target t5 = target_at(server_port, "", "", 5);
    struct rconn_setup db3 = {.proto = 2, .db = 3};
    struct rconn_setup db0 = {.proto = 2, .db = 0};
    struct rconn rc;
    char info[1024], db[16];

    open_ok(&rc, &t5, &db3);
    client_info(&rc, info, sizeof(info));
    info_field(info, "db", db, sizeof(db));
    cr_assert_str_eq(db, "3", "setup->db overrides the target's");
    rconn_close(&rc);

    open_ok(&rc, &t5, NULL);
    client_info(&rc, info, sizeof(info));
    info_field(info, "db", db, sizeof(db));
    cr_assert_str_eq(db, "5", "no setup: the target's db");
    rconn_close(&rc);

    open_ok(&rc, &t5, &db0);
    client_info(&rc, info, sizeof(info));
    info_field(info, "db", db, sizeof(db));
    cr_assert_str_eq(db, "0");
    rconn_close(&rc);
}

Test(rconn_open, a_vanished_redis_is_noticed_by_tcp_keepalive)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    int on = 0, idle = 0, cnt = 0;
    socklen_t sl = sizeof(int);
    struct rconn rc;

    open_ok(&rc, &t, NULL);
    cr_assert_eq(getsockopt(rc.fd, SOL_SOCKET, SO_KEEPALIVE, &on, &sl), 0);
    cr_assert_eq(getsockopt(rc.fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &sl), 0);
    cr_assert_eq(getsockopt(rc.fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, &sl), 0);
    cr_assert(on && idle == 15 && cnt == 3, "keepalive %d idle %d count %d", on,
              idle, cnt);
    rconn_close(&rc);
}

Test(rconn_open, asks_for_its_client_id)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    struct rconn_setup s = {.proto = 2, .db = -1, .client_id = 1};
    struct rconn rc, plain;

    open_ok(&rc, &t, &s);
    cr_assert_gt(rc.redis_id, 0);
    cr_assert_eq(client_id(&rc), rc.redis_id, "not Redis's id for it");
    open_ok(&plain, &t, NULL);
    cr_assert_eq(plain.redis_id, 0, "asked without client_id");
    rconn_close(&plain);
    rconn_close(&rc);
}

Test(rconn_open, readonly_fails_without_cluster_support)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    struct rconn rc;
    char err[REDIS_ERR_MAX];

    t.readonly = 1;
    rconn_init(&rc);
    cr_assert_eq(rconn_open(&rc, &t, NULL, err), -1);
    cr_assert_str_eq(err,
                     "READONLY failed: ERR This instance has cluster support "
                     "disabled");
}

Test(rconn_cluster, readonly_marks_the_client)
{
    struct redis_target t = target_at(server_port, "", "", 0),
                        rot = target_at(server_port, "", "", 0);
    struct rconn ro, rw;
    char info[1024], flags[32];

    rot.readonly = 1;
    open_ok(&ro, &rot, NULL);
    client_info(&ro, info, sizeof(info));
    info_field(info, "flags", flags, sizeof(flags));
    cr_assert_not_null(strchr(flags, 'r'), "flags=%s: not readonly", flags);
    open_ok(&rw, &t, NULL);
    client_info(&rw, info, sizeof(info));
    info_field(info, "flags", flags, sizeof(flags));
    cr_assert_null(strchr(flags, 'r'), "flags=%s without READONLY", flags);
    rconn_close(&rw);
    rconn_close(&ro);
}

Test(rconn_cluster, every_part_in_one_handshake)
{
    struct redis_target t = target_at(server_port, "", "", 0);
    struct rconn_setup s = {.proto = 2, .db = -1, .client_id = 1};
    struct rconn rc;
    char info[1024], flags[32];

    t.readonly = 1;
    open_ok(&rc, &t, &s);
    client_info(&rc, info, sizeof(info));
    info_field(info, "flags", flags, sizeof(flags));
    cr_assert(strchr(flags, 'r') != NULL, "flags=%s", flags);
    cr_assert_gt(rc.redis_id, 0);
    cr_assert_eq(client_id(&rc), rc.redis_id);
    rconn_close(&rc);
}

Test(rconn_fail, connection_refused)
{
    int port = unit_free_port(); /* nothing listens there */
    struct redis_target t = target_at(port, "", "", 0);
    struct rconn rc;
    char err[REDIS_ERR_MAX], want[REDIS_ERR_MAX];
    enum rconn_state st;

    snprintf(want, sizeof(want), "connect to 127.0.0.1:%d: Connection refused",
             port);
    rconn_init(&rc);
    cr_assert_eq(rconn_open(&rc, &t, NULL, err), -1);
    cr_assert_str_eq(err, want);

    st = rconn_start(&rc, &t, NULL);
    if (st == RCONN_CONNECTING) {
        st = drive_open(&rc);
    }
    cr_assert_eq(st, RCONN_FAILED);
    cr_assert_str_eq(rconn_error(&rc), want);
    rconn_close(&rc);
}

Test(rconn_fail, unresolvable_host)
{
    struct redis_target t = target_at(6379, "", "", 0);
    struct rconn rc;
    char err[REDIS_ERR_MAX];

    snprintf(t.host, sizeof(t.host), "no-such-host.invalid");
    rconn_init(&rc);
    cr_assert_eq(rconn_open(&rc, &t, NULL, err), -1);
    cr_assert(strncmp(err, "connect to no-such-host.invalid:6379: ", 38) == 0,
              "%s", err);
}

/* Holds the one connection it accepts, reading what comes, never
 * answering, until the client closes it. */
struct silent {
    int lfd;
    char got[256];
    size_t len;
};

static void *
silent_peer(void *arg)
{
    struct silent *sp = arg;
    int fd = accept(sp->lfd, NULL, NULL);
    ssize_t n;

    if (fd < 0) {
        return NULL;
    }
    while (sp->len < sizeof(sp->got) &&
           (n = recv(fd, sp->got + sp->len, sizeof(sp->got) - sp->len, 0)) >
               0) {
        sp->len += (size_t)n;
    }
    close(fd);
    return NULL;
}

Test(rconn_fail, handshake_nobody_answers_times_out)
{
    struct silent sp = {0};
    int port;
    struct redis_target t;
    struct rconn rc;
    char err[REDIS_ERR_MAX];
    pthread_t th;

    sp.lfd = fake_listen(&port, 8);
    t = target_at(port, "", "pw", 0);
    tcfg.command_timeout_ms = 300;
    cr_assert_eq(pthread_create(&th, NULL, silent_peer, &sp), 0);
    rconn_init(&rc);
    cr_assert_eq(rconn_open(&rc, &t, NULL, err), -1);
    cr_assert_str_eq(err, "AUTH: no reply within 300 ms");
    pthread_join(th, NULL); /* the close ended its reads */
    cr_assert_eq(sp.len, 22, "the handshake was sent: %.*s", (int)sp.len,
                 sp.got);
    cr_assert_arr_eq(sp.got, "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n", 22);
    close(sp.lfd);
}

Test(rconn_fail, handshake_overdue_event_driven)
{
    int port, lfd = fake_listen(&port, 8), peer;
    struct redis_target t = target_at(port, "", "pw", 4);
    struct rconn rc;
    int64_t begun = util_now_ms();

    tcfg.connect_timeout_ms = 400;
    rconn_init(&rc);
    cr_assert_eq(rconn_start(&rc, &t, NULL), RCONN_CONNECTING);
    cr_assert_geq(rc.deadline_ms, begun + 400);
    cr_assert_leq(rc.deadline_ms, util_now_ms() + 400);
    cr_assert_eq(rconn_overdue(&rc, rc.deadline_ms - 1), 0);
    cr_assert_eq(rconn_overdue(&rc, rc.deadline_ms), 1);
    peer = fake_accept(lfd);
    while (rc.state == RCONN_CONNECTING) {
        wait_fd(rc.fd, POLLOUT);
        rconn_step(&rc);
    }
    cr_assert_eq(rc.state, RCONN_HANDSHAKE, "%s", rconn_error(&rc));
    cr_assert_eq(rconn_want(&rc), RCONN_WANT_READ);
    fake_expect(peer, "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n"
                      "*2\r\n$6\r\nSELECT\r\n$1\r\n4\r\n");
    /* Half of the replies: still owed one. */
    fake_send(peer, "+OK\r\n");
    while (!rconn_overdue(&rc, util_now_ms())) {
        struct pollfd pfd = {.fd = rc.fd, .events = POLLIN};

        if (poll(&pfd, 1, 50) > 0) {
            cr_assert_eq(rconn_step(&rc), RCONN_HANDSHAKE);
        }
        cr_assert_lt(util_now_ms(), begun + WAIT_MS);
    }
    cr_assert_eq(rc.state, RCONN_HANDSHAKE);
    cr_assert_eq(rc.setup_owed, 1, "AUTH's reply was taken, SELECT's owed");
    rconn_fail(&rc, "open timed out");
    rconn_fail(&rc, "a second reason is ignored");
    cr_assert_eq(rc.state, RCONN_FAILED);
    cr_assert_str_eq(rconn_error(&rc), "open timed out");
    cr_assert_eq(rconn_overdue(&rc, util_now_ms()), 0);
    rconn_close(&rc);
    close(peer);
    close(lfd);
}

Test(rconn_fail, connect_that_never_completes_times_out)
{
    int port, lfd = fake_listen(&port, 0), fill[3];
    struct redis_target t = target_at(port, "", "", 0);
    struct rconn rc;
    char err[REDIS_ERR_MAX], want[REDIS_ERR_MAX];
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};

    /* A backlog of 0 holds one connection nobody accepts; the SYNs of the
     * next ones are dropped, so their connects stay in progress. */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 3; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    tcfg.connect_timeout_ms = 300;
    snprintf(want, sizeof(want),
             "connect to 127.0.0.1:%d: Connection timed out", port);
    rconn_init(&rc);
    cr_assert_eq(rconn_open(&rc, &t, NULL, err), -1);
    cr_assert_str_eq(err, want);
    for (int i = 0; i < 3; i++) {
        close(fill[i]);
    }
    close(lfd);
}
