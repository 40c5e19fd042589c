/*
 * Unit tests of serve/resp_state, the connection state the proxy keeps
 * for a RESP client and its own answers about it, byte for byte: HELLO 2
 * and 3 (the reply in each protocol, SETNAME, AUTH inside it, its
 * errors), AUTH without a password configured (as Redis's default user)
 * and with one (failures counted), SELECT's checks and texts (standalone,
 * cluster, the databases Redis has), CLIENT SETNAME, GETNAME, SETINFO, ID,
 * INFO (its line in RESP2 and RESP3), NO-EVICT and NO-TOUCH, and RESET.
 * The proxy is the least resp_state reads: settings, a standalone or
 * cluster node set that was never started, a command table (empty, or
 * loaded from a redis-server of the test's own), and the metrics; the
 * conn is one end of a loopback TCP connection (CLIENT INFO shows its
 * addresses).
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/config.h"
#include "base/pwhash.h"
#include "base/util.h"
#include "net/conn.h"
#include "serve/proxy.h"
#include "serve/resp_local.h"
#include "serve/resp_state.h"
#include "upstream/commands.h"
#include "upstream/nodes.h"
#include "unit_helpers.h"

static struct proxy px; /* big (metrics): not on the stack */
static struct config cfg;
static struct conn conn; /* only its socket is read */
static int peer;         /* the client's end */
static int client_port, listen_port;
static struct resp_state st;

/* The conn: the accepted end of a loopback connection. */
static void
conn_up(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(lfd, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(lfd, 1), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    listen_port = ntohs(sa.sin_port);
    peer = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(peer, (struct sockaddr *)&sa, sizeof(sa)), 0);
    sl = sizeof(sa);
    cr_assert_eq(getsockname(peer, (struct sockaddr *)&sa, &sl), 0);
    client_port = ntohs(sa.sin_port);
    conn.fd = accept(lfd, NULL, NULL);
    cr_assert_geq(conn.fd, 0);
    close(lfd);
}

/* The proxy with cfg as the settings (the caller set them), then a new
 * client's state. */
static void
proxy_up(void)
{
    atomic_init(&px.cfg.cur, &cfg);
    metrics_init(&px.metrics);
    px.nodes = nodes_create(&px.cfg, NULL, NULL, NULL);
    cr_assert_not_null(px.nodes);
    if (px.commands == NULL) {
        px.commands = commands_create();
        cr_assert_not_null(px.commands);
    }
    conn_up();
    resp_state_init(&st, &px);
}

static void
setup_plain(void)
{
    config_defaults(&cfg);
    proxy_up();
}

static void
setup_password(void)
{
    config_defaults(&cfg);
    snprintf(cfg.server_password, sizeof(cfg.server_password), "s3cret");
    proxy_up();
}

/* [users]: reader (read, "rpw") and writer (write, "wpw"). */
static void
setup_users(void)
{
    static const struct {
        const char *name, *pw;
        int perm;
    } u[] = {{"reader", "rpw", CONFIG_PERM_READ},
             {"writer", "wpw", CONFIG_PERM_WRITE}};

    config_defaults(&cfg);
    for (size_t i = 0; i < 2; i++) {
        struct config_user *cu = &cfg.users[cfg.nusers++];

        snprintf(cu->name, sizeof(cu->name), "%s", u[i].name);
        cu->perm = u[i].perm;
        cr_assert_eq(pwhash_of(u[i].pw, strlen(u[i].pw), cu->hash), 0);
    }
    proxy_up();
}

static void
setup_cluster(void)
{
    config_defaults(&cfg);
    cfg.cluster = 1;
    proxy_up();
}

static void
teardown(void)
{
    resp_state_free(&st);
    close(conn.fd);
    close(peer);
    nodes_destroy(px.nodes);
    commands_destroy(px.commands);
}

TestSuite(resp_state, .init = setup_plain, .fini = teardown, .timeout = 30);
TestSuite(resp_state_auth, .init = setup_password, .fini = teardown,
          .timeout = 30);
TestSuite(resp_state_cluster, .init = setup_cluster, .fini = teardown,
          .timeout = 30);
TestSuite(resp_state_users, .init = setup_users, .fini = teardown,
          .timeout = 30);

/* ---- asking ---- */

static char reply[4096];
static size_t reply_len;
static int status;

/* Answers line: words split on spaces, a word in single quotes kept
 * whole ('' is an empty one). Returns the effect; the reply in reply. */
static int
ask(const char *line)
{
    static char copy[1024];
    static struct resp_arg argv[32]; /* ask_user, ask_pass point here */
    size_t argc = 0;
    char *p = copy, *out;
    size_t len;
    int effect;

    snprintf(copy, sizeof(copy), "%s", line);
    while (*p != '\0') {
        char *start;

        if (*p == ' ') {
            p++;
            continue;
        }
        cr_assert_lt(argc, 32);
        if (*p == '\'') {
            start = ++p;
            while (*p != '\'' && *p != '\0') {
                p++;
            }
        } else {
            start = p;
            while (*p != ' ' && *p != '\0') {
                p++;
            }
        }
        argv[argc++] = (struct resp_arg){start, (size_t)(p - start)};
        if (*p != '\0') {
            p++;
        }
    }
    effect =
        resp_state_answer(&px, &conn, &st, argv, argc, &out, &len, &status);
    cr_assert_geq(effect, 0, "%s: out of memory", line);
    cr_assert_lt(len, sizeof(reply));
    if (len > 0) {
        memcpy(reply, out, len);
    }
    reply_len = len;
    free(out);
    return effect;
}

/* line is answered exactly want, with effect and status. */
static void
expect(const char *line, const char *want, int effect, int want_status)
{
    int got = ask(line);

    cr_expect(reply_len == strlen(want) && memcmp(reply, want, reply_len) == 0,
              "%s: got %.*s, want %s", line, (int)reply_len, reply, want);
    cr_expect_eq(got, effect, "%s: effect %d, want %d", line, got, effect);
    cr_expect_eq(status, want_status, "%s: status %d, want %d", line, status,
                 want_status);
}

#define OK "+OK\r\n"

/* ---- HELLO ---- */

/* HELLO's reply for proto, client id 1, version ver. */
static const char *
hello(int proto, const char *ver)
{
    static char out[512];

    snprintf(out, sizeof(out),
             "%s$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$%zu\r\n%s\r\n"
             "$5\r\nproto\r\n:%d\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\n"
             "standalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n"
             "*0\r\n",
             proto == 3 ? "%7\r\n" : "*14\r\n", strlen(ver), ver, proto);
    return out;
}

Test(resp_state, new_client_speaks_resp2_in_the_configured_database)
{
    cr_expect_eq(st.proto, 2);
    cr_expect_eq(st.db, 0);
    cr_expect_eq(st.id, 1);
    cr_expect_eq(st.authed, 1, "no password: authenticated from the start");
    cfg.redis_db = 3;
    resp_state_init(&st, &px);
    cr_expect_eq(st.db, 3);
    cr_expect_eq(st.id, 2, "each client its own id");
}

Test(resp_state, hello_3_switches_to_resp3_and_answers_a_map)
{
    expect("HELLO 3", hello(3, "7.0.0"), STATE_PROTO, 200);
    cr_expect_eq(st.proto, 3);
    expect("hello 3", hello(3, "7.0.0"), STATE_NONE, 200);
    expect("HELLO", hello(3, "7.0.0"), STATE_NONE, 200);
    expect("HELLO 2", hello(2, "7.0.0"), STATE_PROTO, 200);
    cr_expect_eq(st.proto, 2);
    expect("HELLO", hello(2, "7.0.0"), STATE_NONE, 200);
}

Test(resp_state, hello_setname_names_the_client)
{
    expect("HELLO 3 SETNAME app1", hello(3, "7.0.0"), STATE_PROTO, 200);
    expect("CLIENT GETNAME", "$4\r\napp1\r\n", STATE_NONE, 200);
    expect("HELLO 2 SETNAME 'a b'",
           "-ERR Client names cannot contain spaces, newlines or special "
           "characters.\r\n",
           STATE_NONE, 400);
    cr_expect_eq(st.proto, 3, "a refused HELLO changed the protocol");
}

Test(resp_state, hello_refuses_what_redis_refuses)
{
    expect("HELLO 4", "-NOPROTO unsupported protocol version\r\n", STATE_NONE,
           400);
    expect("HELLO three",
           "-ERR Protocol version is not an integer or out of range\r\n",
           STATE_NONE, 400);
    expect("HELLO 3 AUTH default",
           "-ERR Syntax error in HELLO option 'AUTH'\r\n", STATE_NONE, 400);
    expect("HELLO 3 FOO", "-ERR Syntax error in HELLO option 'FOO'\r\n",
           STATE_NONE, 400);
    cr_expect_eq(st.proto, 2);
}

Test(resp_state, hello_auth_without_a_password_asks_redis)
{
    expect("HELLO 3 AUTH default anything", "", STATE_VERIFY, 200);
    cr_assert_not_null(st.ask_user);
    cr_expect_eq(st.ask_user->len, 7);
    cr_expect_eq(memcmp(st.ask_user->p, "default", 7), 0);
    cr_expect_eq(st.ask_pass->len, 8);
    cr_expect_eq(st.proto, 2, "nothing changes before Redis's verdict");
}

/* ---- AUTH ---- */

Test(resp_state, auth_without_a_password_configured_asks_redis)
{
    /* ACL passthrough: Redis checks them (test_verify.c has its
     * verdicts); what is malformed is answered here, as Redis would. */
    expect("AUTH x", "", STATE_VERIFY, 200);
    cr_expect_null(st.ask_user);
    cr_expect_eq(st.ask_pass->len, 1);
    expect("AUTH bob x", "", STATE_VERIFY, 200);
    cr_expect_eq(st.ask_user->len, 3);
    expect("AUTH", "-ERR wrong number of arguments for 'auth' command\r\n",
           STATE_NONE, 400);
    expect("AUTH a b c", "-ERR syntax error\r\n", STATE_NONE, 400);
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_RESP]), 0);
}

#define WRONGPASS                                                              \
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n"

Test(resp_state_auth, auth_lets_in_with_the_password_only)
{
    cr_expect_eq(st.authed, 0);
    expect("AUTH wrong", WRONGPASS, STATE_NONE, 401);
    expect("AUTH s3cre", WRONGPASS, STATE_NONE, 401);
    cr_expect_eq(st.authed, 0);
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_RESP]), 2);
    expect("AUTH s3cret", OK, STATE_AUTHED, 200);
    cr_expect_eq(st.authed, 1);
    expect("AUTH anyone s3cret", OK, STATE_AUTHED, 200);
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_RESP]), 2);
}

Test(resp_state_auth, third_wrong_password_closes_the_connection)
{
    expect("AUTH s3cret0", WRONGPASS, STATE_NONE, 401);
    expect("AUTH S3CRET", WRONGPASS, STATE_NONE, 401);
    expect("AUTH default s3cre", WRONGPASS, STATE_CLOSE, 401);
    cr_expect_eq(st.authed, 0);
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_RESP]), 3);
}

Test(resp_state_auth, hello_needs_authentication_first)
{
    expect("HELLO 3",
           "-NOAUTH HELLO must be called with the client already "
           "authenticated, otherwise the HELLO <proto> AUTH <user> <pass> "
           "option can be used to authenticate the client and select the RESP "
           "protocol version at the same time\r\n",
           STATE_NONE, 401);
    cr_expect_eq(st.proto, 2);
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_RESP]), 1);
    expect("HELLO 3 AUTH default nope",
           "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
           STATE_NONE, 401);
    cr_expect_eq(st.authed, 0);
    expect("HELLO 3 AUTH default s3cret", hello(3, "7.0.0"), STATE_PROTO, 200);
    cr_expect_eq(st.authed, 1);
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_RESP]), 2);
}

Test(resp_state_auth, hello_auth_in_the_same_protocol_is_an_authentication)
{
    expect("HELLO 2 AUTH default s3cret", hello(2, "7.0.0"), STATE_AUTHED, 200);
    cr_expect_eq(st.authed, 1);
}

/* ---- SELECT ---- */

Test(resp_state, select_changes_the_database_once)
{
    expect("SELECT 3", OK, STATE_DB, 200);
    cr_expect_eq(st.db, 3);
    expect("SELECT 3", OK, STATE_NONE, 200);
    expect("select 0", OK, STATE_DB, 200);
    expect("SELECT 15", OK, STATE_DB, 200);
    cr_expect_eq(st.db, 15);
}

Test(resp_state, select_refuses_with_redis_texts)
{
    expect("SELECT 16", "-ERR DB index is out of range\r\n", STATE_NONE, 400);
    expect("SELECT -1", "-ERR DB index is out of range\r\n", STATE_NONE, 400);
    expect("SELECT 2147483648",
           "-ERR value is not an integer or out of range\r\n", STATE_NONE, 400);
    expect("SELECT 99999999999999999999",
           "-ERR value is not an integer or out of range\r\n", STATE_NONE, 400);
    expect("SELECT x", "-ERR value is not an integer or out of range\r\n",
           STATE_NONE, 400);
    expect("SELECT 01", "-ERR value is not an integer or out of range\r\n",
           STATE_NONE, 400);
    expect("SELECT 1x", "-ERR value is not an integer or out of range\r\n",
           STATE_NONE, 400);
    expect("SELECT ''", "-ERR value is not an integer or out of range\r\n",
           STATE_NONE, 400);
    expect("SELECT", "-ERR wrong number of arguments for 'select' command\r\n",
           STATE_NONE, 400);
    expect("SELECT 1 2",
           "-ERR wrong number of arguments for 'select' command\r\n",
           STATE_NONE, 400);
    cr_expect_eq(st.db, 0);
}

Test(resp_state_cluster, select_other_than_0_is_refused_in_a_cluster)
{
    cfg.redis_db = 3; /* not for a cluster */
    resp_state_init(&st, &px);
    cr_expect_eq(st.db, 0);
    expect("SELECT 1", "-ERR SELECT is not allowed in cluster mode\r\n",
           STATE_NONE, 400);
    expect("SELECT 0", OK, STATE_NONE, 200);
}

/* ---- CLIENT ---- */

Test(resp_state, client_setname_and_getname)
{
    expect("CLIENT GETNAME", "$-1\r\n", STATE_NONE, 200);
    expect("CLIENT SETNAME app-1", OK, STATE_NONE, 200);
    expect("CLIENT GETNAME", "$5\r\napp-1\r\n", STATE_NONE, 200);
    expect("client setname 'a b'",
           "-ERR Client names cannot contain spaces, newlines or special "
           "characters.\r\n",
           STATE_NONE, 400);
    expect("CLIENT SETNAME 'a\nb'",
           "-ERR Client names cannot contain spaces, newlines or special "
           "characters.\r\n",
           STATE_NONE, 400);
    expect("CLIENT GETNAME", "$5\r\napp-1\r\n", STATE_NONE, 200);
    expect("CLIENT SETNAME ''", OK, STATE_NONE, 200);
    st.proto = 3;
    expect("CLIENT GETNAME", "_\r\n", STATE_NONE, 200);
    expect("CLIENT SETNAME",
           "-ERR wrong number of arguments for 'client|setname' command\r\n",
           STATE_NONE, 400);
    expect("CLIENT GETNAME x",
           "-ERR wrong number of arguments for 'client|getname' command\r\n",
           STATE_NONE, 400);
}

Test(resp_state, client_setinfo_keeps_the_library)
{
    expect("CLIENT SETINFO lib-name redis-py", OK, STATE_NONE, 200);
    expect("CLIENT SETINFO LIB-VER 5.0.1", OK, STATE_NONE, 200);
    cr_expect_str_eq(st.lib_name, "redis-py");
    cr_expect_str_eq(st.lib_ver, "5.0.1");
    expect("CLIENT SETINFO lib-color red",
           "-ERR Unrecognized option 'lib-color'\r\n", STATE_NONE, 400);
    expect("CLIENT SETINFO lib-name 'a b'",
           "-ERR lib-name cannot contain spaces, newlines or special "
           "characters.\r\n",
           STATE_NONE, 400);
    expect("CLIENT SETINFO lib-name",
           "-ERR wrong number of arguments for 'client|setinfo' command\r\n",
           STATE_NONE, 400);
    cr_expect_str_eq(st.lib_name, "redis-py");
}

Test(resp_state, client_id_is_the_proxys_own)
{
    expect("CLIENT ID", ":1\r\n", STATE_NONE, 200);
    expect("client id", ":1\r\n", STATE_NONE, 200);
    expect("CLIENT ID x",
           "-ERR wrong number of arguments for 'client|id' command\r\n",
           STATE_NONE, 400);
}

/* CLIENT INFO's line for this client, connected age seconds. */
static const char *
info_line(long long age, const char *name, const char *flags, int db, int proto,
          const char *lib, const char *ver)
{
    static char line[1400];

    snprintf(line, sizeof(line),
             "id=1 addr=127.0.0.1:%d laddr=127.0.0.1:%d fd=%d name=%s "
             "age=%lld idle=0 flags=%s db=%d sub=0 psub=0 ssub=0 multi=-1 "
             "qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=%d rbp=0 obl=0 "
             "oll=0 omem=0 tot-mem=0 events=r cmd=client|info user=default "
             "redir=-1 resp=%d lib-name=%s lib-ver=%s\n",
             client_port, listen_port, conn.fd, name, age, flags, db, CONN_RBUF,
             proto, lib, ver);
    return line;
}

/* CLIENT INFO, for a client connected 42 s ago, is exactly the line of
 * these values: a bulk string in RESP2, a verbatim one in RESP3. */
static void
expect_info(const char *name, const char *flags, int db, const char *lib,
            const char *ver)
{
    char want[1500];
    int64_t before, after;
    long long age[2];

    st.since_ms = util_now_ms() - 42000;
    before = util_now_ms();
    ask("CLIENT INFO");
    after = util_now_ms();
    age[0] = (before - st.since_ms) / 1000;
    age[1] = (after - st.since_ms) / 1000; /* a second passed meanwhile */
    for (int i = 0; i < 2; i++) {
        const char *line =
            info_line(age[i], name, flags, db, st.proto, lib, ver);

        if (st.proto == 3) {
            snprintf(want, sizeof(want), "=%zu\r\ntxt:%s\r\n", strlen(line) + 4,
                     line);
        } else {
            snprintf(want, sizeof(want), "$%zu\r\n%s\r\n", strlen(line), line);
        }
        if (reply_len == strlen(want) && memcmp(reply, want, reply_len) == 0) {
            cr_expect_eq(status, 200);
            return;
        }
    }
    cr_expect_fail("CLIENT INFO: got %.*s, want %s", (int)reply_len, reply,
                   want);
}

Test(resp_state, client_info_shows_the_state_in_resp2_and_resp3)
{
    expect_info("", "N", 0, "", "");
    ask("CLIENT SETNAME web");
    ask("SELECT 4");
    ask("CLIENT NO-EVICT on");
    ask("CLIENT SETINFO lib-name jedis");
    ask("CLIENT SETINFO lib-ver 5");
    ask("HELLO 3");
    expect_info("web", "e", 4, "jedis", "5");
    expect("CLIENT INFO now",
           "-ERR wrong number of arguments for 'client|info' command\r\n",
           STATE_NONE, 400);
}

Test(resp_state, client_no_evict_and_no_touch_set_flags)
{
    expect("CLIENT NO-EVICT on", OK, STATE_NONE, 200);
    expect("CLIENT NO-TOUCH ON", OK, STATE_NONE, 200);
    cr_expect_eq(st.no_evict, 1);
    cr_expect_eq(st.no_touch, 1);
    expect_info("", "eT", 0, "", "");
    expect("CLIENT NO-EVICT off", OK, STATE_NONE, 200);
    expect_info("", "T", 0, "", "");
    expect("CLIENT NO-EVICT maybe", "-ERR syntax error\r\n", STATE_NONE, 400);
    expect("CLIENT NO-TOUCH",
           "-ERR wrong number of arguments for 'client|no-touch' command\r\n",
           STATE_NONE, 400);
    expect("CLIENT NO-EVICT on off",
           "-ERR wrong number of arguments for 'client|no-evict' command\r\n",
           STATE_NONE, 400);
    cr_expect_eq(st.no_evict, 0);
    cr_expect_eq(st.no_touch, 1);
}

/* ---- RESET ---- */

Test(resp_state_auth, reset_forgets_everything_but_the_id_and_guesses)
{
    ask("AUTH s3cret");
    ask("HELLO 3 SETNAME n");
    ask("SELECT 5");
    ask("CLIENT NO-EVICT on");
    ask("CLIENT NO-TOUCH on");
    ask("CLIENT SETINFO lib-name x");
    cr_assert_eq(st.proto, 3);
    expect("RESET", "+RESET\r\n", STATE_RESET, 200);
    cr_expect_eq(st.proto, 2);
    cr_expect_eq(st.db, 0);
    cr_expect_eq(st.authed, 0, "RESET keeps the client authenticated");
    cr_expect_null(st.name);
    cr_expect_null(st.lib_name);
    cr_expect_eq(st.no_evict, 0);
    cr_expect_eq(st.no_touch, 0);
    cr_expect_eq(st.id, 1);
}

Test(resp_state, reset_goes_back_to_the_configured_database)
{
    cfg.redis_db = 2;
    ask("SELECT 7");
    expect("reset", "+RESET\r\n", STATE_RESET, 200);
    cr_expect_eq(st.db, 2);
    cr_expect_eq(st.authed, 1);
}

/* ---- what Redis says of itself ---- */

static struct unit_redis server;

/* A proxy whose command table was read from a redis-server with 4
 * databases. */
static void
setup_redis(void)
{
    static const char *const extra[] = {"--databases", "4", NULL};

    config_defaults(&cfg);
    unit_redis_start(&server, 0, extra);
    px.commands = unit_redis_commands(&server);
    proxy_up();
}

static void
teardown_redis(void)
{
    teardown();
    unit_redis_stop(&server);
}

TestSuite(resp_state_redis, .init = setup_redis, .fini = teardown_redis,
          .timeout = 30);

Test(resp_state_redis, hello_reports_the_version_redis_gave)
{
    redisReply *r = redisCommand(server.ctx, "INFO server");
    char ver[32] = "";
    const char *at;

    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING);
    at = strstr(r->str, "redis_version:");
    cr_assert_not_null(at);
    sscanf(at, "redis_version:%31[0-9.]", ver);
    freeReplyObject(r);
    cr_assert_neq(ver[0], '\0');
    expect("HELLO 3", hello(3, ver), STATE_PROTO, 200);
}

Test(resp_state_redis, select_checks_the_databases_redis_has)
{
    cr_expect_eq(resp_state_databases(&px), 4);
    expect("SELECT 3", OK, STATE_DB, 200);
    expect("SELECT 4", "-ERR DB index is out of range\r\n", STATE_NONE, 400);
}

Test(resp_state, select_refuses_what_redis_does_not_read_as_an_integer)
{
    /* Redis's string2ll takes no sign but '-', no leading space, and no
     * "-0"; strtoll takes all three. */
    const char *const lines[] = {"SELECT +1", "SELECT ' 1'", "SELECT -0",
                                 "SELECT '\t2'"};

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        expect(lines[i], "-ERR value is not an integer or out of range\r\n",
               STATE_NONE, 400);
    }
    cr_expect_eq(st.db, 0);
}

Test(resp_state, client_setname_takes_a_long_name_as_redis_does)
{
    char line[300];

    memset(line, 0, sizeof(line));
    memcpy(line, "CLIENT SETNAME ", 15);
    memset(line + 15, 'n', 200);
    expect(line, OK, STATE_NONE, 200);
}

/* ---- [users] ---- */

Test(resp_state_users, auth_gives_the_users_permission)
{
    cr_expect_eq(st.authed, 0, "users: authentication required");
    expect("AUTH reader rpw", OK, STATE_AUTHED, 200);
    cr_expect_eq(st.perm, CONFIG_PERM_READ);
    cr_expect_str_eq(st.user, "reader");
    expect("AUTH writer wpw", OK, STATE_AUTHED, 200);
    cr_expect_eq(st.perm, CONFIG_PERM_WRITE);
    cr_expect_str_eq(st.user, "writer");
    expect("AUTH reader wpw", WRONGPASS, STATE_NONE, 401);
    cr_expect_eq(st.perm, CONFIG_PERM_WRITE, "a refused AUTH changes nothing");
    cr_expect_str_eq(st.user, "writer");
    expect("AUTH rpw", WRONGPASS, STATE_NONE, 401);
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_RESP]), 1,
                 "no user named: the listener's count");
    cr_expect_eq(px.metrics.nusers, 1);
    cr_expect_str_eq(px.metrics.users[0].name, "reader");
    cr_expect_eq(px.metrics.users[0].failures[METRICS_RESP], 1);
}

Test(resp_state_users, hello_auth_and_client_info_name_the_user)
{
    char line[1024];
    long n;

    expect("HELLO 2 AUTH reader rpw", hello(2, "7.0.0"), STATE_AUTHED, 200);
    cr_expect_eq(st.perm, CONFIG_PERM_READ);
    ask("CLIENT INFO");
    n = (long)reply_len;
    snprintf(line, sizeof(line), "%.*s", (int)n, reply);
    cr_expect_not_null(strstr(line, " user=reader "), "%s", line);
}

Test(resp_state_users, reset_logs_out_and_forgets_the_permission)
{
    ask("AUTH reader rpw");
    expect("RESET", "+RESET\r\n", STATE_RESET, 200);
    cr_expect_eq(st.authed, 0);
    cr_expect_eq(st.perm, CONFIG_PERM_WRITE);
    cr_expect_null(st.user);
}
