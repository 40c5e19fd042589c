/*
 * Unit tests for the configuration keys of a proxy on a network it does
 * not trust (docs/security.md): their defaults, accepted values and exact
 * errors; [http] allowed_hosts lists (config_host_next); [server]
 * password_file read into the password by config_read_secrets (one
 * trailing newline dropped, every unusable file an error naming it); the
 * protected mode of config_check (no password on a bind that is not
 * loopback); and which -s arguments carry a secret.
 */
#include "config_helpers.h"

#include <errno.h>
#include <inttypes.h>

#define HOSTS_MSG                                                              \
    "expected host names or addresses, comma-separated (a name starting "      \
    "with '.' also matches the names under it)"
#define SIZE_MSG "expected a size 0..1024gb (units b, kb, mb, gb)"
#define SPAN_MSG "expected a duration 0..596h (units ms, s, m, h)"

Test(config_security, defaults_are_safe_ones)
{
    struct config cfg;

    memset(&cfg, 0xa5, sizeof(cfg));
    config_defaults(&cfg);
    cr_assert_str_eq(cfg.server_password_file, "");
    cr_assert_eq(cfg.protected_mode, 1);
    cr_assert_eq(cfg.max_output, INT64_C(64) << 20);
    cr_assert_eq(cfg.session_idle_timeout_ms, 0);
    cr_assert_str_eq(cfg.http_allowed_hosts, "");
}

Test(config_security, each_key_takes_its_values)
{
    cr_assert_eq(value_ok("server", "protected_mode", "off").protected_mode, 0);
    cr_assert_eq(value_ok("server", "protected_mode", "yes").protected_mode, 1);
    cr_assert_eq(value_ok("server", "max_output", "0").max_output, 0);
    cr_assert_eq(value_ok("server", "max_output", "1kb").max_output, 1024);
    cr_assert_eq(value_ok("server", "max_output", "1024gb").max_output,
                 INT64_C(1) << 40);
    cr_assert_eq(value_ok("server", "session_idle_timeout", "90s")
                     .session_idle_timeout_ms,
                 90000);
    cr_assert_str_eq(value_ok("server", "password_file", "/run/secrets/pw")
                         .server_password_file,
                     "/run/secrets/pw");
    cr_assert_str_eq(value_ok("http", "allowed_hosts",
                              "proxy, .svc.cluster.local, [::1], 10.0.0.5")
                         .http_allowed_hosts,
                     "proxy, .svc.cluster.local, [::1], 10.0.0.5");
}

Test(config_security, each_key_refuses_what_it_cannot_use)
{
    expect_value_error("server", "protected_mode", "maybe",
                       "expected on or off");
    expect_value_error("server", "max_output", "1025gb", SIZE_MSG);
    expect_value_error("server", "max_output", "-1", SIZE_MSG);
    expect_value_error("server", "session_idle_timeout", "597h", SPAN_MSG);
    expect_value_error("server", "session_idle_timeout", "1d", SPAN_MSG);
    expect_value_error("http", "allowed_hosts", "evil.example:8080", HOSTS_MSG);
    expect_value_error("http", "allowed_hosts", "a,,b", HOSTS_MSG);
    expect_value_error("http", "allowed_hosts", "a,", HOSTS_MSG);
    expect_value_error("http", "allowed_hosts", "a b", HOSTS_MSG);
    expect_value_error("http", "allowed_hosts", "[::1", HOSTS_MSG);
    expect_value_error("http", "allowed_hosts", ".", HOSTS_MSG);
    expect_value_error("http", "allowed_hosts", "*.example", HOSTS_MSG);
}

Test(config_security, host_lists_are_walked_item_by_item)
{
    static const char *const want[] = {"proxy", ".example.com", "[::1]",
                                       "10.0.0.5"};
    const char *cursor = " proxy , .example.com,[::1],\t10.0.0.5 ", *item;
    size_t len, i;

    for (i = 0; i < 4; i++) {
        cr_assert_eq(config_host_next(&cursor, &item, &len), 1, "item %zu", i);
        cr_assert_eq(len, strlen(want[i]), "item %zu", i);
        cr_assert_eq(strncmp(item, want[i], len), 0, "item %zu", i);
    }
    cr_assert_eq(config_host_next(&cursor, &item, &len), 0);
    cursor = "";
    cr_assert_eq(config_host_next(&cursor, &item, &len), 0);
}

/* ---- password_file ---- */

/* A temp file holding len bytes of text; its path in a static buffer. */
static const char *
secret_file(const char *text, size_t len)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/test_secret_XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

/* config_read_secrets with password_file = a file of text[0..len),
 * set with -s; returns its result, the error in err. */
static int
read_secret(struct config *cfg, const char *text, size_t len, char *err,
            size_t errlen)
{
    const char *path = secret_file(text, len);
    char arg[128];
    int rc;

    config_defaults(cfg);
    snprintf(arg, sizeof(arg), "server.password_file=%s", path);
    set_ok(cfg, arg);
    rc = config_read_secrets(cfg, err, errlen);
    unlink(path);
    return rc;
}

Test(config_security, password_file_is_read_without_its_newline)
{
    static const struct {
        const char *text, *password;
    } cases[] = {
        {"hunter2\n", "hunter2"},
        {"hunter2\r\n", "hunter2"},
        {"hunter2", "hunter2"},
        {"with spaces and ; # = \t\n", "with spaces and ; # = \t"},
        {"two\n\n", "two\n"},
    };
    char err[CONFIG_ERR_MAX] = "";
    struct config cfg;
    size_t i;

    for (i = 0; i < 4; i++) {
        cr_assert_eq(read_secret(&cfg, cases[i].text, strlen(cases[i].text),
                                 err, sizeof(err)),
                     0, "%s", err);
        cr_assert_str_eq(cfg.server_password, cases[i].password);
    }
    /* A newline left inside is an error, not part of a password. */
    cr_assert_eq(read_secret(&cfg, cases[4].text, strlen(cases[4].text), err,
                             sizeof(err)),
                 -1);
}

Test(config_security, an_unusable_password_file_is_an_error_naming_it)
{
    char err[CONFIG_ERR_MAX] = "", big[300], want[CONFIG_ERR_MAX];
    struct config cfg;

    memset(big, 'p', sizeof(big));
    cr_assert_eq(read_secret(&cfg, "", 0, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "[server] password_file: '/tmp/test_"
                                   "secret_"),
                       "%s", err);
    cr_assert_not_null(strstr(err, "': empty"), "%s", err);
    cr_assert_eq(read_secret(&cfg, "\n", 1, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "': empty"), "%s", err);
    cr_assert_eq(read_secret(&cfg, big, 256, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "longer than 255 bytes"), "%s", err);
    cr_assert_eq(read_secret(&cfg, big, 255, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(strlen(cfg.server_password), 255);
    cr_assert_eq(read_secret(&cfg, "a\0b\n", 4, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "a NUL byte or a newline"), "%s", err);

    config_defaults(&cfg);
    set_ok(&cfg, "server.password_file=/nonexistent/pw");
    cr_assert_eq(config_read_secrets(&cfg, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "-s server.password_file=/nonexistent/pw: [server] "
             "password_file: cannot read '/nonexistent/pw': %s",
             strerror(ENOENT));
    cr_assert_str_eq(err, want);

    load_ok("[server]\npassword = x\npassword_file = /etc/hostname\n", &cfg);
    cr_assert_eq(config_read_secrets(&cfg, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s:3: [server] password_file: set [server] password or "
             "password_file, not both",
             tmp_path);
    cr_assert_str_eq(err, want);
}

Test(config_security, no_password_file_changes_nothing)
{
    char err[CONFIG_ERR_MAX] = "";
    struct config cfg;

    config_defaults(&cfg);
    set_ok(&cfg, "server.password=pw");
    cr_assert_eq(config_read_secrets(&cfg, err, sizeof(err)), 0);
    cr_assert_str_eq(cfg.server_password, "pw");
}

Test(config_security, build_reads_the_password_file)
{
    char err[CONFIG_ERR_MAX] = "", arg[128];
    const char *path = secret_file("s3cret\n", 7);
    char *sets[] = {arg};
    struct config cfg;

    snprintf(arg, sizeof(arg), "server.password_file=%s", path);
    cr_assert_eq(config_build(&cfg, NULL, sets, 1, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_str_eq(cfg.server_password, "s3cret");
    unlink(path);
    cr_assert_eq(config_build(&cfg, NULL, sets, 1, err, sizeof(err)), -1);
    cr_assert_not_null(strstr(err, "cannot read"), "%s", err);
}

/* ---- protected mode ---- */

#define PROTECTED_MSG(bind)                                                    \
    "[server] bind: '" bind "' is not a loopback address and no [server] "     \
    "password (or password_file) nor [users] is set, so anyone who reaches "   \
    "it could "                                                                \
    "run Redis commands; set a password, bind to 127.0.0.1, or set "           \
    "[server] protected_mode = off if that is meant"

Test(config_security, protected_mode_refuses_an_open_bind_without_password)
{
    expect_check_error("[server]\nbind = 0.0.0.0\n", 2,
                       PROTECTED_MSG("0.0.0.0"));
    expect_check_error("[server]\nhttp_port = 1\nbind = ::\n", 3,
                       PROTECTED_MSG("::"));
}

Test(config_security, protected_mode_lets_loopback_passwords_and_off_through)
{
    static const char *const loopback[] = {"127.0.0.1", "127.1.2.3", "::1",
                                           "localhost", "::ffff:127.0.0.1"};
    struct config cfg;
    char arg[64];
    size_t i;

    for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        config_defaults(&cfg);
        snprintf(arg, sizeof(arg), "server.bind=%s", loopback[i]);
        set_ok(&cfg, arg);
        expect_check_ok(&cfg);
    }
    load_ok("[server]\nbind = 0.0.0.0\npassword = pw\n", &cfg);
    expect_check_ok(&cfg);
    load_ok("[server]\nbind = 0.0.0.0\nprotected_mode = off\n", &cfg);
    expect_check_ok(&cfg);
}

Test(config_security, defaults_pass_the_checks)
{
    struct config cfg;

    config_defaults(&cfg);
    expect_check_ok(&cfg);
}

/* ---- secrets on the command line ---- */

Test(config_security, passwords_are_the_secret_overrides)
{
    cr_assert_eq(config_set_is_secret("server.password=x"), 1);
    cr_assert_eq(config_set_is_secret("redis.password=x"), 1);
    cr_assert_eq(config_set_is_secret("server.password="), 1);
    cr_assert_eq(config_set_is_secret("server.password_file=/f"), 0);
    cr_assert_eq(config_set_is_secret("server.bind=x"), 0);
    cr_assert_eq(config_set_is_secret("nope"), 0);
    cr_assert_eq(config_set_is_secret("server.password"), 0);
    cr_assert_eq(config_set_is_secret("x=server.password=y"), 0);
}
