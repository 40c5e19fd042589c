/*
 * End-to-end tests of 10 MiB values both ways: SET through resp_port and
 * GET back byte for byte (a miss, then a hit from the cache), the same
 * through a session and inside a transaction's reply, and PUT then GET
 * over HTTP; Redis holds exactly the bytes sent. The values are binary
 * (NUL, CR, LF and every other byte), so no length is taken from a
 * terminator anywhere on the way.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define BIG ((size_t)10 << 20)
#define BIG_MS 20000

H_PAIR_SUITE(big_values, 90);

/* Large values are cached, bodies that large are taken. */
static const char big_ini[] = "[cache]\nmax_value_size = 16mb\n"
                              "[http]\nwrites = on\nmax_body = 16mb\n";

static char *
big_value(unsigned seed)
{
    char *v = malloc(BIG);

    cr_assert_not_null(v);
    for (size_t i = 0; i < BIG; i++) {
        v[i] = (char)((i * 7 + i / 251 + seed) & 0xff);
    }
    return v;
}

/* *3 SET key <v> as one buffer; returns its length. */
static size_t
encode_set(char **out, const char *key, const char *v)
{
    char head[128];
    int n = snprintf(head, sizeof(head),
                     "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n", strlen(key),
                     key, BIG);

    *out = malloc((size_t)n + BIG + 2);
    cr_assert_not_null(*out);
    memcpy(*out, head, (size_t)n);
    memcpy(*out + n, v, BIG);
    memcpy(*out + n + BIG, "\r\n", 2);
    return (size_t)n + BIG + 2;
}

/* Reads one reply: a bulk of exactly v. */
static void
expect_bulk(int fd, const char *v, const char *what)
{
    size_t cap = BIG + 64;
    char *got = malloc(cap), head[32];
    int hl = snprintf(head, sizeof(head), "$%zu\r\n", BIG);
    long n;

    cr_assert_not_null(got);
    n = h_read_replies(fd, 1, got, cap, BIG_MS);
    cr_assert_eq(n, (long)(hl + BIG + 2), "%s: a reply of %ld bytes", what, n);
    cr_assert_eq(memcmp(got, head, (size_t)hl), 0, "%s: header", what);
    cr_assert_eq(memcmp(got + hl, v, BIG), 0, "%s: the bytes differ", what);
    free(got);
}

static void
expect_line(int fd, const char *want, const char *what)
{
    char got[256];
    long n = h_read_replies(fd, 1, got, sizeof(got) - 1, BIG_MS);

    got[n > 0 ? n : 0] = '\0';
    cr_assert_str_eq(got, want, "%s", what);
}

/* STRLEN key in Redis, and a few of its bytes compared with v. */
static void
redis_holds(const char *key, const char *v)
{
    redisContext *c = h_redis_ctx(&redis);
    redisReply *r;

    cr_assert_not_null(c);
    r = redisCommand(c, "STRLEN %s", key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    cr_assert_eq(r->integer, (long long)BIG, "STRLEN %s: %lld", key,
                 r->integer);
    freeReplyObject(r);
    r = redisCommand(c, "GETRANGE %s %lld %lld", key, (long long)BIG - 4096,
                     (long long)BIG - 1);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING && r->len == 4096);
    cr_assert_eq(memcmp(r->str, v + BIG - 4096, 4096), 0, "%s: tail", key);
    freeReplyObject(r);
    redisFree(c);
}

#define SEND H_SEND /* harness.h */

Test(big_values, ten_mib_set_and_get_through_resp_byte_for_byte)
{
    char *v = big_value(1), *req;
    size_t len = encode_set(&req, "big", v);
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = big_ini));
    fd = h_conn(proxy.resp_port);
    cr_assert_eq(h_send(fd, req, len), 0);
    expect_line(fd, "+OK\r\n", "SET of 10 MiB");
    redis_holds("big", v);
    SEND(fd, "GET", "big");
    expect_bulk(fd, v, "GET (a miss)");
    SEND(fd, "GET", "big");
    expect_bulk(fd, v, "GET (a hit)");
    cr_assert_eq(h_redis_calls(&redis, "get"), 1, "the second was a hit");
    /* and pipelined behind a small command */
    SEND(fd, "PING");
    SEND(fd, "GET", "big");
    expect_line(fd, "+PONG\r\n", "PING");
    expect_bulk(fd, v, "pipelined GET");
    close(fd);
    free(req);
    free(v);
}

Test(big_values, ten_mib_set_and_get_through_a_session)
{
    char *v = big_value(2), *req, head[32];
    size_t len = encode_set(&req, "sbig", v);
    int fd, hl;
    char *got;
    long n;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = big_ini));
    fd = h_conn(proxy.resp_port);
    SEND(fd, "SELECT", "0"); /* a session from here on */
    expect_line(fd, "+OK\r\n", "SELECT");
    cr_assert_eq(h_send(fd, req, len), 0);
    expect_line(fd, "+OK\r\n", "SET of 10 MiB in a session");
    redis_holds("sbig", v);
    SEND(fd, "GET", "sbig");
    expect_bulk(fd, v, "GET in a session");

    /* inside EXEC's array */
    SEND(fd, "MULTI");
    SEND(fd, "GET", "sbig");
    SEND(fd, "EXEC");
    expect_line(fd, "+OK\r\n", "MULTI");
    expect_line(fd, "+QUEUED\r\n", "GET queued");
    got = malloc(BIG + 64);
    cr_assert_not_null(got);
    n = h_read_replies(fd, 1, got, BIG + 64, BIG_MS);
    hl = snprintf(head, sizeof(head), "*1\r\n$%zu\r\n", BIG);
    cr_assert_eq(n, (long)(hl + BIG + 2), "EXEC: %ld bytes", n);
    cr_assert_eq(memcmp(got, head, (size_t)hl), 0);
    cr_assert_eq(memcmp(got + hl, v, BIG), 0, "EXEC: the bytes differ");
    SEND(fd, "PING"); /* still in step */
    expect_line(fd, "+PONG\r\n", "PING after");
    free(got);
    close(fd);
    free(req);
    free(v);
}

Test(big_values, ten_mib_put_and_get_over_http)
{
    char *v = big_value(3);
    struct h_resp r = {0};
    int fd;

    h_start_proxy(&proxy, &redis, H_OPTS(.ini = big_ini));
    fd = h_conn(proxy.http_port);
    cr_assert_eq(h_http_do(fd, "PUT", "/hbig", NULL, v, BIG, &r, BIG_MS), 0);
    h_check(&r, "PUT of 10 MiB", 204, NULL, NULL);
    h_resp_free(&r);
    redis_holds("hbig", v);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(h_http_get_on(fd, "/hbig", &r, BIG_MS), 0);
        h_check(&r, "GET /hbig", 200, NULL, i == 0 ? "MISS" : "HIT");
        cr_assert_eq(r.body_len, BIG);
        cr_assert_eq(memcmp(r.body, v, BIG), 0, "GET %d: the bytes differ", i);
        cr_assert_str_eq(h_hdr(&r, "Content-Type"), "application/octet-stream");
        h_resp_free(&r);
    }
    /* and the RESP port reads the same entry */
    close(fd);
    fd = h_conn(proxy.resp_port);
    SEND(fd, "GET", "hbig");
    expect_bulk(fd, v, "RESP GET of the HTTP PUT");
    cr_assert_eq(h_redis_calls(&redis, "get"), 1);
    close(fd);
    free(v);
}
