/*
 * harness: helpers for the end-to-end tests. Each test starts its own
 * redis-server and redis-proxy on free loopback ports (never 6379), talks to
 * them over real sockets, and stops them (killing anything left) when done.
 * The proxy binary is $PROXY_BIN (default build/redis-proxy).
 */
#ifndef RP_E2E_HARNESS_H
#define RP_E2E_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <hiredis/hiredis.h>

/* A throwaway redis-server (no persistence, data dir under /tmp). */
struct h_redis {
    pid_t pid;
    int port;
    char dir[256]; /* temp dir, removed by h_redis_stop */
};

/* Starts redis-server on a free port and waits until it answers PING.
 * Returns 0 or -1. If port > 0 that port is used (restart on same port). */
int h_redis_start(struct h_redis *r, int port);
/* SIGKILL (hard=1) or SIGTERM (hard=0), then wait for exit. Keeps r->port. */
void h_redis_kill(struct h_redis *r, int hard);
/* Kills if running and removes the temp dir. Safe to call twice. */
void h_redis_stop(struct h_redis *r);
/* A direct hiredis connection to the test redis (for SET, INFO, CLIENT PAUSE).
 */
redisContext *h_redis_ctx(const struct h_redis *r);
/* Runs a command on a fresh direct connection; returns 0 if not an error reply.
 */
int h_redis_cmd(const struct h_redis *r, const char *fmt, ...);
/* "calls" of cmdstat_<cmd> in INFO commandstats (0 if absent), e.g. "get". */
long h_redis_calls(const struct h_redis *r, const char *cmd);

/* A running proxy. */
struct h_proxy {
    pid_t pid;
    int http_port;
    int resp_port;
    char ini[256]; /* generated config file */
    char log[256]; /* its stderr */
};

/*
 * Writes an INI with [server] bind=127.0.0.1, free http_port and resp_port,
 * [redis] port = redis_port, then appends `extra` verbatim (more lines, may
 * repeat sections: e.g. "[cache]\nttl = 1s\n"; a key set in extra must not
 * also be one the harness sets, except via h_proxy_start_args). Starts the
 * binary with -c INI and waits until the HTTP port accepts. Returns 0 or -1.
 */
int h_proxy_start(struct h_proxy *p, int redis_port, const char *extra);
/* SIGTERM, wait up to 5 s (then SIGKILL); returns the exit status
 * (WEXITSTATUS) or -1 if it had to be killed or died of a signal. */
int h_proxy_stop(struct h_proxy *p);
/* Prints the proxy's stderr log to stderr (call on failure for diagnosis). */
void h_proxy_dump_log(const struct h_proxy *p);

/* Runs the binary with argv (NULL-terminated, argv[0] ignored), captures
 * stdout+stderr into out (NUL-terminated, truncated to cap), waits up to
 * 5 s; returns the exit status or -1. */
int h_run(char *const argv[], char *out, size_t cap);

/* Connects to 127.0.0.1:port (blocking, 2 s timeouts). Returns fd or -1. */
int h_connect(int port);
/* Writes all bytes. Returns 0 or -1. */
int h_send(int fd, const void *buf, size_t len);
int h_sends(int fd, const char *s);
/* Reads until the peer closes or timeout_ms passes; returns bytes read. */
size_t h_recv_all(int fd, char *buf, size_t cap, int timeout_ms);
/* Returns 1 if the peer closed the connection within timeout_ms (read
 * returns 0 or ECONNRESET), 0 if still open. */
int h_wait_closed(int fd, int timeout_ms);

/* One parsed HTTP response. body is malloc'd (free with h_resp_free). */
struct h_resp {
    int status;
    char headers[8192]; /* raw header block, NUL-terminated */
    char *body;
    size_t body_len;
};
/* Reads exactly one response (honours Content-Length; HEAD: no body if
 * is_head). Returns 0, or -1 on timeout/close/parse error. */
int h_read_resp(int fd, struct h_resp *r, int is_head, int timeout_ms);
/* Value of header `name` (case-insensitive) copied into out, or NULL. */
const char *h_header(const struct h_resp *r, const char *name, char *out,
                     size_t cap);
void h_resp_free(struct h_resp *r);
/* One-shot: connect, send "GET <path> HTTP/1.1\r\nHost: x\r\n\r\n", read one
 * response, close. Returns 0 or -1. */
int h_http_get(int port, const char *path, struct h_resp *r);

/* Config lines for tests of TTL-only caching (a value changed in Redis is
 * still served from the cache): invalidation tracking off. Ends inside
 * [cache], so more [cache] keys may follow. */
#define TTL_ONLY "[cache]\ntracking = off\n"

/* Sleeps ms milliseconds. */
void h_sleep_ms(int ms);

/* Added: h_proxy_start with extra command-line arguments (NULL-terminated,
 * may be NULL) appended after "-c INI", e.g. {"-s", "cache.ttl=1s", NULL}. */
int h_proxy_start_args(struct h_proxy *p, int redis_port, const char *extra,
                       char *const args[]);

/* Added: h_proxy_start_args with the admin listener on a free port as well:
 * appends "[admin]\nport = P" to extra and waits until the proxy listens on
 * all three ports. Returns 0 (P in *admin_port) or -1. */
int h_proxy_start_admin(struct h_proxy *p, int redis_port, const char *extra,
                        char *const args[], int *admin_port);
/* Added: copies the proxy's log so far into buf (NUL-terminated, truncated
 * to cap); returns its length (0 if there is none). */
size_t h_proxy_read_log(const struct h_proxy *p, char *buf, size_t cap);
/* Added: h_proxy_stop, but copies the complete log (flushed by the proxy's
 * shutdown) into buf before the temp dir is removed. Returns as
 * h_proxy_stop. */
int h_proxy_stop_log(struct h_proxy *p, char *buf, size_t cap);

/* Added for the coherence and fault tests. */

/* The monotonic clock in milliseconds. */
int64_t h_now_ms(void);

/* h_redis_start with extra redis-server arguments (NULL-terminated, may be
 * NULL) appended, e.g. {"--rename-command", "CLIENT", "", NULL}. */
int h_redis_start_args(struct h_redis *r, int port, char *const extra[]);

/* A hiredis connection to the proxy's resp_port (2 s timeouts), or NULL. */
redisContext *h_proxy_resp_ctx(const struct h_proxy *p);

/* Sends GET key on c. Returns 1 with the value copied into out (truncated
 * to cap, NUL-terminated), 0 for nil, -1 for an error reply or no reply
 * (out holds the error text). */
int h_resp_get(redisContext *c, const char *key, char *out, size_t cap);

/* Sends "GET <path>" on an open keep-alive connection fd and reads one
 * response within timeout_ms. Returns 0 or -1. */
int h_http_get_on(int fd, const char *path, struct h_resp *r, int timeout_ms);

/* Added for the admin and header tests. */

/* Validates Prometheus text exposition (format 0.0.4): every sample line is
 * `name{labels} value` or `name value` with valid names, label syntax and a
 * numeric value; each family has one HELP and one TYPE before its samples,
 * its samples together; counters end in _total; a histogram's buckets have
 * increasing le, non-decreasing counts, a last le="+Inf" equal to _count,
 * and a _sum. Returns 0, or -1 with the reason and line in err. */
int h_prom_validate(const char *text, char *err, size_t cap);
/* The value on the line "<series> <value>" (series exactly as exposed,
 * labels included), or NAN when there is none. */
double h_prom_value(const char *text, const char *series);
/* A JSON sanity check: one top-level value, brackets balanced and nested,
 * strings terminated with valid escapes, only JSON tokens in between.
 * Returns 0 or -1. */
int h_json_check(const char *s);
/* The number right after the first occurrence of needle, or NAN. */
double h_json_num(const char *json, const char *needle);
/* Number of lines of text containing needle. */
int h_count_lines(const char *text, const char *needle);
/* Copies the n-th (0-based) line of text containing needle into out, or
 * "(none)". Returns out. */
const char *h_nth_line(const char *text, const char *needle, int n, char *out,
                       size_t cap);
/* Reads exactly n bytes from fd within timeout_ms. Returns 0 or -1. */
int h_recv_n(int fd, char *buf, size_t n, int timeout_ms);

/* Added: assertion helpers (harness_http.c). These fail the running test
 * with cr_assert instead of returning an error. */

/* A GET request for path on a keep-alive connection. */
#define H_REQ(path) "GET " path " HTTP/1.1\r\nHost: x\r\n\r\n"

/* Suite fixture halves: zeroes r and p and starts r; stops p (if started)
 * and r, even after a failed test. */
void h_pair_setup(struct h_redis *r, struct h_proxy *p);
void h_pair_teardown(struct h_redis *r, struct h_proxy *p);
/* h_proxy_start against r; on failure dumps the log and fails the test. */
void h_start_proxy(struct h_proxy *p, const struct h_redis *r,
                   const char *extra);
/* h_proxy_start_admin (no extra arguments) against r, or fails the test. */
void h_start_proxy_admin(struct h_proxy *p, const struct h_redis *r,
                         const char *extra, int *admin_port);
/* SET key val directly in r, or fails the test. */
void h_set(const struct h_redis *r, const char *key, const char *val);
/* A header's value, or "(none)". The buffer is static and reused by the
 * next call: not for use from several threads. */
const char *h_hdr(const struct h_resp *r, const char *name);
/* 1 if the body is exactly s. */
int h_body_is(const struct h_resp *r, const char *s);
/* h_connect(port), or fails the test. */
int h_conn(int port);
/* Sends req on fd and reads one response (3 s), or fails the test. */
void h_roundtrip(int fd, const char *req, struct h_resp *r, int is_head);
/* Checks status, exact body (when body != NULL) and X-Cache (when xcache !=
 * NULL); what names the request in failure messages. Thread-safe. */
void h_check(const struct h_resp *r, const char *what, int status,
             const char *body, const char *xcache);
/* One-shot GET path on port, checked as in h_check. */
void h_expect_get(int port, const char *path, int status, const char *body,
                  const char *xcache);
/* SET key in r, then GET /key on port answers MISS, then HIT, with val. */
void h_cache_key(const struct h_redis *r, int port, const char *key,
                 const char *val);

#endif
