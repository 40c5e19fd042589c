/*
 * reload_util: what the reload suites (test_reload.c, test_reload_ops.c,
 * test_reload_load.c) share: rewriting a running proxy's INI file with the
 * harness's own lines (its ports, the test's Redis) followed by the
 * test's, sending SIGHUP and waiting until the proxy has finished the
 * reload (config_reloads_total moved, so every change was applied before
 * the call returns), and counting lines of its log. Each proxy needs an
 * admin port (H_OPTS(.admin = 1)). These fail the running Criterion test
 * instead of returning an error. Not thread-safe.
 */
#ifndef RP_E2E_RELOAD_UTIL_H
#define RP_E2E_RELOAD_UTIL_H

#include "harness.h"

#define RL_MS 5000 /* a reload, a log line, a metric: within this */

/* The ports the harness writes into the INI; a field 0 means "as the
 * proxy was started with" (redis: the test's redis-server). */
struct rl_ports {
    int http, resp, redis, admin;
};

/* Rewrites p's INI: the harness's lines with ports (NULL: the running
 * ones and r's port; tls_port as running), then extra (may be NULL). Replaced
 * atomically (rename), so the proxy never reads half a file. */
void rl_write_ini(const struct h_proxy *p, const struct h_redis *r,
                  const struct rl_ports *ports, const char *extra);

/* Sends SIGHUP and waits until the reload is over: config_reloads_total
 * moved and its `SIGHUP: reloading` line is in the log (an info line: for
 * a proxy running at level warn or error use rl_sighup_quiet, which only
 * waits for the counter). Returns 1 when it was applied (result="ok"), 0
 * when it failed (result="failed"). */
int rl_sighup(const struct h_proxy *p);
int rl_sighup_quiet(const struct h_proxy *p);

/* rl_write_ini (running ports) + rl_sighup; the reload must succeed. */
void rl_apply(const struct h_proxy *p, const struct h_redis *r,
              const char *extra);

/* The whole log so far (malloc'd, NUL-terminated: free it). */
char *rl_log(const struct h_proxy *p);

/* Lines of the log containing needle. */
int rl_log_count(const struct h_proxy *p, const char *needle);

/* Waits until at least n lines contain needle; fails the test otherwise.
 * Returns the count seen. */
int rl_await_log_count(const struct h_proxy *p, const char *needle, int n);

/* The lines of the last reload (after the last `SIGHUP: reloading`
 * line) must name key (SECTION.KEY) exactly once, in want (waited for up
 * to RL_MS). rl_expect_change: a live key, `msg="config changed"
 * key=SECTION.KEY old="OLD" new="NEW"`; rl_expect_not_applied: a key
 * that needs a restart, `msg="config change not applied: needs a
 * restart" key=SECTION.KEY running="OLD" file="NEW"`. */
void rl_expect_change(const struct h_proxy *p, const char *key,
                      const char *old_text, const char *new_text);
void rl_expect_not_applied(const struct h_proxy *p, const char *key,
                           const char *running, const char *file);
/* Lines of the last reload that contain needle. */
int rl_last_reload_count(const struct h_proxy *p, const char *needle);

/* p's metric series (one scrape of /metrics on the admin port, checked
 * by the harness's validator). */
double rl_metric(const struct h_proxy *p, const char *series);

/* Passwords the scrapes try, in order, after none (for a proxy with
 * [server] password, which the admin port asks for too): up to two, so a
 * reload that changes the password can be waited for. NULL: none. */
void rl_passwords(const char *first, const char *second);

#endif
