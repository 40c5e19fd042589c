/*
 * Unit tests of upstream/redis.h: the target the settings name (every
 * field copied, so a snapshot a reload frees leaves it whole, and a
 * connection opened with it reaches that Redis, in that database, as
 * that user) and the helpers over hiredis replies, fed what a real
 * redis-server answers (HELLO's map, CONFIG GET's pairs) and the odd
 * shapes it never sends.
 */
#include <criterion/criterion.h>

#include <hiredis/hiredis.h>
#include <string.h>

#include "rconn_helpers.h"
#include "upstream/redis.h"

static struct config cfg;
static struct config_ref ref;

static void
settings(void)
{
    config_defaults(&cfg);
    atomic_init(&ref.cur, &cfg);
}

Test(redis_target, copies_what_the_settings_name)
{
    struct tls_ctx *tls = (struct tls_ctx *)&cfg; /* only its address */
    struct redis_target t;

    settings();
    snprintf(cfg.redis_host, sizeof(cfg.redis_host), "redis.example");
    cfg.redis_port = 6380;
    snprintf(cfg.redis_user, sizeof(cfg.redis_user), "proxy");
    snprintf(cfg.redis_password, sizeof(cfg.redis_password), "s3cret");
    cfg.redis_db = 4;
    snprintf(cfg.redis_tls_server_name, sizeof(cfg.redis_tls_server_name),
             "r.example");
    t = redis_target_of(&ref, tls);
    /* The snapshot goes (a reload frees it): the target keeps its own. */
    memset(&cfg, 0, sizeof(cfg));
    cr_assert_str_eq(t.host, "redis.example");
    cr_assert_eq(t.port, 6380);
    cr_assert_str_eq(t.user, "proxy");
    cr_assert_str_eq(t.password, "s3cret");
    cr_assert_eq(t.db, 4);
    cr_assert_str_eq(t.tls_name, "r.example");
    cr_assert_eq(t.tls, tls);
    cr_assert_eq(t.cfg, &ref, "timeouts are read at each connect");
    cr_assert_eq(t.readonly, 0);
}

Test(redis_target, reaches_that_redis_in_that_database_as_that_user)
{
    const char *const extra[] = {"--requirepass", "pw", NULL};
    struct redis_target t;
    struct rconn rc;
    char got[64];
    redisReply *r;

    start_server(0, extra);
    r = redisCommand(server.ctx, "AUTH pw");
    freeReplyObject(r);
    r = redisCommand(server.ctx, "ACL SETUSER proxy on >upw ~* &* +@all");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    settings();
    snprintf(cfg.redis_host, sizeof(cfg.redis_host), "127.0.0.1");
    cfg.redis_port = server_port;
    snprintf(cfg.redis_user, sizeof(cfg.redis_user), "proxy");
    snprintf(cfg.redis_password, sizeof(cfg.redis_password), "upw");
    cfg.redis_db = 5;
    t = redis_target_of(&ref, NULL);
    open_ok(&rc, &t, NULL);
    call_text(&rc, "ACL WHOAMI", got, sizeof(got));
    cr_assert_str_eq(got, "proxy");
    r = rconn_call(&rc, "CLIENT INFO", got, NULL, "CLIENT INFO");
    cr_assert_not_null(r);
    cr_assert_not_null(strstr(r->str, " db=5 "), "%s", r->str);
    freeReplyObject(r);
    rconn_close(&rc);
    stop_server();
}

/* ---- replies ---- */

Test(redis_reply, strings_and_statuses_are_text_nothing_else_is)
{
    static const struct {
        const char *resp;
        int is_str;
    } cases[] = {
        {"+OK\r\n", 1}, {"$3\r\nabc\r\n", 1}, {"$0\r\n\r\n", 1},
        {":1\r\n", 0},  {"$-1\r\n", 0},       {"-ERR x\r\n", 0},
        {"*0\r\n", 0},  {"*-1\r\n", 0},       {"*1\r\n+OK\r\n", 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        redisReply *r = unit_reply_of(cases[i].resp);

        cr_assert_eq(redis_reply_is_str(r), cases[i].is_str, "%s",
                     cases[i].resp);
        freeReplyObject(r);
    }
    cr_assert_eq(redis_reply_is_str(NULL), 0);
}

Test(redis_reply, a_real_hello_and_config_get_are_read_as_maps)
{
    const redisReply *v;
    redisReply *r;

    start_server(0, NULL);
    r = redisCommand(server.ctx, "HELLO 2");
    cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
    v = redis_reply_map_get(r, "proto");
    cr_assert(v != NULL && v->type == REDIS_REPLY_INTEGER && v->integer == 2);
    v = redis_reply_map_get(r, "VERSION");
    cr_assert(redis_reply_is_str(v), "keys compare case-insensitively");
    cr_assert_eq(strncmp(v->str, "7.", 2) == 0 || strncmp(v->str, "6.", 2) == 0,
                 1, "version %s", v->str);
    v = redis_reply_map_get(r, "modules");
    cr_assert(v != NULL && v->type == REDIS_REPLY_ARRAY, "any value type");
    cr_assert_null(redis_reply_map_get(r, "redis"), "a value is no key");
    cr_assert_null(redis_reply_map_get(r, "no-such-field"));
    freeReplyObject(r);
    r = redisCommand(server.ctx, "CONFIG GET maxmemory-policy");
    cr_assert_not_null(r);
    v = redis_reply_map_get(r, "maxmemory-policy");
    cr_assert(redis_reply_is_str(v));
    cr_assert_str_eq(v->str, "noeviction");
    freeReplyObject(r);
    stop_server();
}

Test(redis_reply, odd_shapes_find_nothing_they_do_not_have)
{
    redisReply *r = unit_reply_of("*3\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n");

    cr_assert_eq(redis_reply_map_get(r, "a")->integer, 1);
    cr_assert_null(redis_reply_map_get(r, "b"), "a key without a value");
    freeReplyObject(r);
    r = unit_reply_of("*4\r\n:7\r\n$1\r\nx\r\n+k\r\n$1\r\ny\r\n");
    cr_assert_null(redis_reply_map_get(r, "7"), "an integer is no key");
    cr_assert_str_eq(redis_reply_map_get(r, "K")->str, "y", "status keys");
    freeReplyObject(r);
    r = unit_reply_of("$1\r\na\r\n");
    cr_assert_null(redis_reply_map_get(r, "a"), "no array");
    freeReplyObject(r);
    cr_assert_null(redis_reply_map_get(NULL, "a"));
}
