/*
 * Unit tests of serve/auth, the proxy's own checks of client credentials:
 * [server] password alone (any user name), [users] alone (each user's own
 * password and permission, `AUTH <password>` as the user "default"),
 * both together (a configured name checks only its own password, any
 * other name the shared one), HTTP Bearer and Basic over the same rules,
 * and the failures counted per listener, and per listener and user with
 * [users] set: a configured name as itself, any other as "unknown", and
 * the labels bounded whatever names a guesser sends.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "base/pwhash.h"
#include "serve/auth.h"
#include "serve/proxy.h"

static struct proxy px; /* big (metrics): not on the stack */
static struct config cfg;

/* A [users] entry for name with password pw. */
static void
user(const char *name, int perm, const char *pw)
{
    struct config_user *u = &cfg.users[cfg.nusers++];

    snprintf(u->name, sizeof(u->name), "%s", name);
    u->perm = perm;
    cr_assert_eq(pwhash_of(pw, strlen(pw), u->hash), 0);
}

static void
setup(void)
{
    config_defaults(&cfg);
    atomic_init(&px.cfg.cur, &cfg);
    metrics_init(&px.metrics);
}

TestSuite(auth, .init = setup, .timeout = 30);

static int
check(const char *u, const char *p)
{
    return auth_check(&px, u, u != NULL ? strlen(u) : 0, p, strlen(p));
}

Test(auth, nothing_configured_means_the_proxy_does_not_authenticate)
{
    cr_expect_eq(auth_required(&px), 0);
    cr_expect_eq(check(NULL, ""), AUTH_DENIED);
    cr_expect_eq(auth_password_ok(&px, "", 0), 0, "an empty password is none");
}

Test(auth, server_password_takes_any_user_name)
{
    snprintf(cfg.server_password, sizeof(cfg.server_password), "s3cret");
    cr_expect_eq(auth_required(&px), 1);
    cr_expect_eq(check(NULL, "s3cret"), AUTH_WRITE);
    cr_expect_eq(check("anyone", "s3cret"), AUTH_WRITE);
    cr_expect_eq(check("default", "s3cret"), AUTH_WRITE);
    cr_expect_eq(check(NULL, "s3cre"), AUTH_DENIED);
    cr_expect_eq(check("anyone", "s3cret "), AUTH_DENIED);
}

Test(auth, users_check_their_own_password_and_get_their_permission)
{
    user("reader", CONFIG_PERM_READ, "rpw");
    user("writer", CONFIG_PERM_WRITE, "wpw");
    cr_expect_eq(auth_required(&px), 1);
    cr_expect_eq(check("reader", "rpw"), AUTH_READ);
    cr_expect_eq(check("writer", "wpw"), AUTH_WRITE);
    cr_expect_eq(check("reader", "wpw"), AUTH_DENIED, "another's password");
    cr_expect_eq(check("writer", "rpw"), AUTH_DENIED);
    cr_expect_eq(check("nobody", "rpw"), AUTH_DENIED);
    cr_expect_eq(check("Reader", "rpw"), AUTH_DENIED, "names are exact");
    cr_expect_eq(check(NULL, "rpw"), AUTH_DENIED, "no user \"default\"");
    user("default", CONFIG_PERM_READ, "dpw");
    cr_expect_eq(check(NULL, "dpw"), AUTH_READ, "AUTH <password>: default");
    cr_expect_eq(check("default", "dpw"), AUTH_READ);
}

Test(auth, with_both_a_users_name_checks_only_its_own_password)
{
    snprintf(cfg.server_password, sizeof(cfg.server_password), "shared");
    user("reader", CONFIG_PERM_READ, "rpw");
    user("default", CONFIG_PERM_READ, "dpw");
    cr_expect_eq(check("reader", "rpw"), AUTH_READ);
    cr_expect_eq(check("reader", "shared"), AUTH_DENIED);
    cr_expect_eq(check("someone", "shared"), AUTH_WRITE);
    cr_expect_eq(check("someone", "rpw"), AUTH_DENIED);
    cr_expect_eq(check(NULL, "shared"), AUTH_WRITE,
                 "AUTH <password> keeps meaning [server] password");
    cr_expect_eq(check(NULL, "dpw"), AUTH_DENIED);
}

/* auth_http for the Authorization value v (NULL: none). */
static int
http(const char *v, const char **u, size_t *ulen)
{
    static char buf[AUTH_BASIC_MAX];
    struct http_request req;

    memset(&req, 0, sizeof(req));
    req.authorization = v;
    req.authorization_len = v != NULL ? strlen(v) : 0;
    return auth_http(&px, &req, buf, u, ulen);
}

Test(auth, http_bearer_and_basic_follow_the_same_rules)
{
    const char *u;
    size_t ulen;

    cr_expect_eq(http(NULL, &u, &ulen), AUTH_WRITE, "nothing required");
    snprintf(cfg.server_password, sizeof(cfg.server_password), "shared");
    user("reader", CONFIG_PERM_READ, "rpw");
    cr_expect_eq(http(NULL, &u, &ulen), AUTH_DENIED);
    cr_expect_null(u);
    cr_expect_eq(http("Bearer shared", &u, &ulen), AUTH_WRITE);
    cr_expect_eq(http("Bearer rpw", &u, &ulen), AUTH_DENIED);
    /* "reader:rpw", "reader:shared", "x:shared", "nobody:rpw" */
    cr_expect_eq(http("Basic cmVhZGVyOnJwdw==", &u, &ulen), AUTH_READ);
    cr_expect(ulen == 6 && memcmp(u, "reader", 6) == 0);
    cr_expect_eq(http("Basic cmVhZGVyOnNoYXJlZA==", &u, &ulen), AUTH_DENIED);
    cr_expect(ulen == 6 && memcmp(u, "reader", 6) == 0, "the name is kept");
    cr_expect_eq(http("basic eDpzaGFyZWQ=", &u, &ulen), AUTH_WRITE);
    cr_expect_eq(http("Basic bm9ib2R5OnJwdw==", &u, &ulen), AUTH_DENIED);
    cr_expect(ulen == 6 && memcmp(u, "nobody", 6) == 0);
    cr_expect_eq(http("Basic !!!", &u, &ulen), AUTH_DENIED);
    cr_expect_null(u);
}

/* auth_failures_total{listener=l,user=name} as counted. */
static long
user_failures(const char *name, enum metrics_listener l)
{
    struct metrics_user us[METRICS_USERS];
    int n = metrics_user_failures(&px.metrics, us, METRICS_USERS);

    for (int i = 0; i < n; i++) {
        if (strcmp(us[i].name, name) == 0) {
            return us[i].failures[l];
        }
    }
    return -1;
}

Test(auth, failures_are_counted_per_listener_and_configured_user)
{
    auth_failed(&px, METRICS_RESP, "alice", 5);
    auth_failed(&px, METRICS_HTTP, NULL, 0);
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_RESP]), 1,
                 "without [users], a user name changes nothing");
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_HTTP]), 1);
    cr_expect_eq(user_failures("alice", METRICS_RESP), -1);
    user("reader", CONFIG_PERM_READ, "rpw");
    auth_failed(&px, METRICS_RESP, "reader", 6);
    auth_failed(&px, METRICS_ADMIN, "reader", 6);
    auth_failed(&px, METRICS_RESP, "mallory", 7);
    auth_failed(&px, METRICS_RESP, "eve", 3);
    auth_failed(&px, METRICS_RESP, NULL, 0);
    cr_expect_eq(user_failures("reader", METRICS_RESP), 1);
    cr_expect_eq(user_failures("reader", METRICS_ADMIN), 1);
    cr_expect_eq(user_failures("reader", METRICS_HTTP), 0);
    cr_expect_eq(user_failures("unknown", METRICS_RESP), 2);
    cr_expect_eq(user_failures("mallory", METRICS_RESP), -1);
    cr_expect_eq(atomic_load(&px.metrics.auth_failures[METRICS_RESP]), 2,
                 "no user named: the listener's own count");
}

Test(auth, user_labels_stay_bounded)
{
    char name[32];

    for (int i = 0; i < 3 * METRICS_USERS; i++) {
        snprintf(name, sizeof(name), "u%d", i);
        metrics_user_failure(&px.metrics, METRICS_RESP, name);
    }
    cr_expect_eq(px.metrics.nusers, METRICS_USERS);
    cr_expect_eq(user_failures("u0", METRICS_RESP), 1);
    cr_expect_eq(user_failures("u126", METRICS_RESP), 1);
    cr_expect_eq(user_failures("u127", METRICS_RESP), -1);
    cr_expect_eq(user_failures("unknown", METRICS_RESP),
                 3 * METRICS_USERS - (METRICS_USERS - 1),
                 "the rest counted as unknown");
}
