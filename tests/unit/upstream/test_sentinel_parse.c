/*
 * Unit tests of what the sentinel follower reads (upstream/sentinel.h):
 * the replies to SENTINEL get-master-addr-by-name, SENTINEL replicas and
 * ROLE, and the +switch-master message, each built from the bytes a
 * sentinel or a Redis sends (parsed by hiredis's reader, as rconn does).
 */
#include <criterion/criterion.h>

#include <hiredis/hiredis.h>
#include <string.h>

#include "unit_helpers.h"
#include "upstream/sentinel.h"

static int
master_of(const char *resp, char *host, int *port)
{
    redisReply *r = unit_reply_of(resp);
    int rc = sentinel_parse_master(r, host, 64, port);

    freeReplyObject(r);
    return rc;
}

Test(sentinel_parse, master_address_is_host_and_port)
{
    char host[64] = "";
    int port = 0;

    cr_assert_eq(
        master_of("*2\r\n$8\r\n10.0.0.7\r\n$4\r\n6380\r\n", host, &port), 1);
    cr_assert_str_eq(host, "10.0.0.7");
    cr_assert_eq(port, 6380);
    cr_assert_eq(master_of("*2\r\n$3\r\n::1\r\n$5\r\n26379\r\n", host, &port),
                 1);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(port, 26379);
}

Test(sentinel_parse, an_unknown_name_is_nil_and_junk_is_refused)
{
    char host[64] = "keep";
    int port = 7;

    cr_assert_eq(master_of("*-1\r\n", host, &port), 0);
    cr_assert_eq(master_of("$-1\r\n", host, &port), 0);
    cr_assert_eq(master_of("-ERR no such master\r\n", host, &port), -1);
    cr_assert_eq(master_of("*1\r\n$1\r\na\r\n", host, &port), -1);
    cr_assert_eq(master_of("*2\r\n$1\r\na\r\n$1\r\nx\r\n", host, &port), -1);
    cr_assert_eq(master_of("*2\r\n$1\r\na\r\n$1\r\n0\r\n", host, &port), -1);
    cr_assert_eq(master_of("*2\r\n$1\r\na\r\n$5\r\n65536\r\n", host, &port),
                 -1);
    cr_assert_eq(master_of("*2\r\n$0\r\n\r\n$1\r\n1\r\n", host, &port), -1);
    cr_assert_str_eq(host, "keep", "a refused reply changes nothing");
    cr_assert_eq(port, 7);
    cr_assert_eq(sentinel_parse_master(NULL, host, 64, &port), -1);
}

Test(sentinel_parse, replicas_fit_to_read_are_up_with_their_link_up)
{
    const char *resp =
        "*5\r\n"
        /* up, link ok */
        "*10\r\n$4\r\nname\r\n$1\r\na\r\n$2\r\nip\r\n$8\r\n10.0.0.1\r\n"
        "$4\r\nport\r\n$4\r\n6380\r\n$5\r\nflags\r\n$5\r\nslave\r\n"
        "$18\r\nmaster-link-status\r\n$2\r\nok\r\n"
        /* subjectively down */
        "*10\r\n$4\r\nname\r\n$1\r\nb\r\n$2\r\nip\r\n$8\r\n10.0.0.2\r\n"
        "$4\r\nport\r\n$4\r\n6380\r\n$5\r\nflags\r\n$12\r\nslave,s_down\r\n"
        "$18\r\nmaster-link-status\r\n$2\r\nok\r\n"
        /* its link to the master down */
        "*10\r\n$4\r\nname\r\n$1\r\nc\r\n$2\r\nip\r\n$8\r\n10.0.0.3\r\n"
        "$4\r\nport\r\n$4\r\n6380\r\n$5\r\nflags\r\n$5\r\nslave\r\n"
        "$18\r\nmaster-link-status\r\n$3\r\nerr\r\n"
        /* disconnected from the sentinel */
        "*10\r\n$4\r\nname\r\n$1\r\nd\r\n$2\r\nip\r\n$8\r\n10.0.0.4\r\n"
        "$4\r\nport\r\n$4\r\n6380\r\n$5\r\nflags\r\n$18\r\nslave,disconnected"
        "\r\n$18\r\nmaster-link-status\r\n$2\r\nok\r\n"
        /* up again, other port; fields in another order */
        "*10\r\n$5\r\nflags\r\n$5\r\nslave\r\n$4\r\nport\r\n$4\r\n6390\r\n"
        "$18\r\nmaster-link-status\r\n$2\r\nok\r\n$2\r\nip\r\n$8\r\n10.0.0.5"
        "\r\n$4\r\nname\r\n$1\r\ne\r\n";
    struct nodes_addr out[8];
    redisReply *r = unit_reply_of(resp);
    int n = sentinel_parse_replicas(r, out, 8);

    freeReplyObject(r);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(out[0].host, "10.0.0.1");
    cr_assert_eq(out[0].port, 6380);
    cr_assert_str_eq(out[1].host, "10.0.0.5");
    cr_assert_eq(out[1].port, 6390);
}

Test(sentinel_parse, replicas_stop_at_max_and_refuse_no_array)
{
    struct nodes_addr out[1];
    redisReply *r = unit_reply_of(
        "*2\r\n"
        "*8\r\n$2\r\nip\r\n$1\r\na\r\n$4\r\nport\r\n$1\r\n1\r\n$5\r\nflags\r\n"
        "$5\r\nslave\r\n$18\r\nmaster-link-status\r\n$2\r\nok\r\n"
        "*8\r\n$2\r\nip\r\n$1\r\nb\r\n$4\r\nport\r\n$1\r\n2\r\n$5\r\nflags\r\n"
        "$5\r\nslave\r\n$18\r\nmaster-link-status\r\n$2\r\nok\r\n");

    cr_assert_eq(sentinel_parse_replicas(r, out, 1), 1);
    cr_assert_str_eq(out[0].host, "a");
    freeReplyObject(r);
    r = unit_reply_of("*0\r\n");
    cr_assert_eq(sentinel_parse_replicas(r, out, 1), 0);
    freeReplyObject(r);
    r = unit_reply_of("-ERR No such master with that name\r\n");
    cr_assert_eq(sentinel_parse_replicas(r, out, 1), -1);
    freeReplyObject(r);
}

Test(sentinel_parse, switch_master_names_the_new_address_of_our_master)
{
    static const char msg[] = "mymaster 10.0.0.1 6379 10.0.0.2 6380";
    char host[64] = "";
    int port = 0;

    cr_assert_eq(sentinel_parse_switch(msg, strlen(msg), "mymaster", host,
                                       sizeof(host), &port),
                 1);
    cr_assert_str_eq(host, "10.0.0.2");
    cr_assert_eq(port, 6380);
    /* Another master's, or a prefix of our name. */
    cr_assert_eq(sentinel_parse_switch(msg, strlen(msg), "other", host,
                                       sizeof(host), &port),
                 0);
    cr_assert_eq(sentinel_parse_switch(msg, strlen(msg), "mymasterx", host,
                                       sizeof(host), &port),
                 0);
    cr_assert_eq(sentinel_parse_switch(msg, strlen(msg), "mymast", host,
                                       sizeof(host), &port),
                 0);
}

Test(sentinel_parse, switch_master_with_a_word_too_many_or_too_few_is_ignored)
{
    static const char *const bad[] = {
        "mymaster 10.0.0.1 6379 10.0.0.2",
        "mymaster 10.0.0.1 6379 10.0.0.2 6380 extra",
        "mymaster 10.0.0.1 6379 10.0.0.2 63x0",
        "mymaster 10.0.0.1 6379 10.0.0.2 0",
        "mymaster 10.0.0.1 6379 10.0.0.2 123456",
        "",
    };
    char host[64];
    int port, i;

    for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
        cr_assert_eq(sentinel_parse_switch(bad[i], strlen(bad[i]), "mymaster",
                                           host, sizeof(host), &port),
                     0, "'%s'", bad[i]);
    }
    /* Only its length counts: a payload not NUL-terminated. */
    cr_assert_eq(sentinel_parse_switch("mymaster a 1 b 2XYZ", 16, "mymaster",
                                       host, sizeof(host), &port),
                 1);
    cr_assert_str_eq(host, "b");
    cr_assert_eq(port, 2);
}

Test(sentinel_parse, role_says_master_or_not)
{
    redisReply *r = unit_reply_of("*3\r\n$6\r\nmaster\r\n:3129659\r\n*0\r\n");

    cr_assert_eq(sentinel_parse_role(r), 1);
    freeReplyObject(r);
    r = unit_reply_of("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:9753\r\n$9\r\n"
                      "connected\r\n:3167038\r\n");
    cr_assert_eq(sentinel_parse_role(r), 0);
    freeReplyObject(r);
    r = unit_reply_of("*2\r\n$8\r\nsentinel\r\n*0\r\n");
    cr_assert_eq(sentinel_parse_role(r), 0);
    freeReplyObject(r);
    r = unit_reply_of("-NOPERM no ROLE for you\r\n");
    cr_assert_eq(sentinel_parse_role(r), -1);
    freeReplyObject(r);
    cr_assert_eq(sentinel_parse_role(NULL), -1);
}
