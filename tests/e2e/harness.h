/*
 * harness: helpers for the end-to-end tests. Each test starts its own
 * redis-server and redis-proxy on free loopback ports (never 6379), talks to
 * them over real sockets, and stops them (killing anything left) when done.
 * The proxy binary is $PROXY_BIN (default build/redis-proxy).
 *
 * One header, one section per file:
 *   harness_proc.c     child processes, redis-server, RSS
 *   harness_proxy.c    the proxy: start, stop, logs, one-shot runs
 *   harness_net.c      the clock, waiting, sockets, a notify socket
 *   harness_http.c     HTTP responses, and assertions on them
 *   harness_resp.c     Redis connections, INFO, RESP replies byte for byte
 *   harness_text.c     Prometheus text, JSON, log lines
 *   harness_cmd.c      commands as RESP, HTTP writes, a twin redis-server
 *   harness_fixture.c  the shared suite fixture and its assertions
 *   harness_cluster.c  a six-node Redis Cluster, and (harness_cluster_
 *                      fixture.c) its fixture, (harness_cluster_tls.c) one
 *                      that speaks only TLS; declared in harness_cluster.h
 *   harness_tls.c      the test certificates, and a TLS client (to the
 *                      proxy's TLS listeners, and to a Redis speaking TLS)
 * Functions of the first six return an error; the fixture's (and the
 * assertions in harness_http.c and harness_resp.c) fail the running
 * Criterion test instead. Nothing here is thread-safe unless it says so.
 */
#ifndef RP_E2E_HARNESS_H
#define RP_E2E_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <hiredis/hiredis.h>

/* ---- processes (harness_proc.c, harness_proxy.c) ---- */

/* A throwaway redis-server (no persistence, data dir under /tmp). */
struct h_redis {
    pid_t pid;     /* 0 when not running */
    int port;      /* its one port: plain TCP, or TLS when tls is set */
    char dir[256]; /* temp dir, removed by h_redis_stop */
    char tls[32];  /* the test certificate it serves TLS with ("server":
                      server.crt and server.key), "" for plain TCP */
};

/* Starts redis-server with extra_args appended (NULL-terminated, or NULL;
 * e.g. {"--rename-command", "CLIENT", "", NULL}) and waits until it
 * answers PING. port <= 0: a free port (retried if another process takes
 * it first); port > 0: that port and r's data dir (a restart). A server
 * r still runs is killed first. Returns 0 or -1. */
int h_redis_start(struct h_redis *r, int port, const char *const *extra_args);
/* The same speaking only TLS (--port 0 --tls-port), with the test
 * certificate cert ("server", "expired", "stranger": CERT.crt and
 * CERT.key, see h_tls_path), trusting ca.crt for client certificates and
 * asking for none (--tls-auth-clients no) unless extra_args say otherwise.
 * Started means listening: a certificate a client would refuse cannot be
 * checked with a PING. Sets r->tls; h_redis_info and h_redis_calls then
 * speak TLS (h_tls_run), the hiredis helpers (h_redis_ctx, h_redis_cmd,
 * h_set...) do not work. Returns 0 or -1. */
int h_redis_start_tls(struct h_redis *r, int port, const char *cert,
                      const char *const *extra_args);
/* SIGKILL (hard=1) or SIGTERM (hard=0), then wait for exit. Keeps r->port. */
void h_redis_kill(struct h_redis *r, int hard);
/* Kills if running and removes the temp dir. Safe to call twice. */
void h_redis_stop(struct h_redis *r);

/* A running proxy. */
struct h_proxy {
    pid_t pid; /* 0 when not running */
    int http_port;
    int resp_port;
    int admin_port; /* 0 unless started with opts->admin */
    int tls_port;   /* 0 unless started with opts->tls */
    char ini[256];  /* generated config file */
    char log[256];  /* its stdout and stderr */
};

/* How to start a proxy; a NULL opts means all defaults. */
struct h_proxy_opts {
    /* INI text appended after the harness's own lines ([server] bind,
     * http_port, resp_port; [redis] host, port; [admin] port when admin),
     * which it must not repeat; it may reopen those sections. */
    const char *ini;
    /* Arguments after "-c INI" (NULL-terminated, or NULL), e.g.
     * {"-s", "cache.ttl=1s", NULL}. */
    const char *const *args;
    int admin;    /* also an admin listener on a free port (p->admin_port) */
    int tls;      /* also [server] tls_port on a free port (p->tls_port);
                     ini names the certificate (h_tls_ini) */
    int resp_off; /* ini or args turn resp_port off: do not wait for it */
    /* "NAME=VALUE" entries added to (or replacing those of) the test's own
     * environment (NULL-terminated, or NULL), e.g. {"NOTIFY_SOCKET=/x",
     * NULL}. */
    const char *const *env;
    /* The binary to run instead of h_proxy_bin() (an installed copy), or
     * NULL. */
    const char *bin;
    /* A configuration file of the test's own, read as it is ("-c config")
     * instead of the harness's INI; the harness's settings (bind, ports,
     * the Redis address, [admin] port: 0 unless admin) then come as "-s"
     * arguments, before args. ini must be NULL with it. */
    const char *config;
};

/* Options as a compound literal: H_OPTS(.ini = "...", .admin = 1). */
#define H_OPTS(...) (&(const struct h_proxy_opts){__VA_ARGS__})

/* Writes the INI, starts the binary with -c INI and waits until it listens
 * on every port it was given. A proxy p still runs is killed first.
 * Returns 0, or -1 after printing its log. */
int h_proxy_start(struct h_proxy *p, int redis_port,
                  const struct h_proxy_opts *o);
/* SIGTERM, wait up to 5 s (then SIGKILL), copy the complete log into log
 * (NUL-terminated, truncated to cap; log may be NULL) and remove the temp
 * dir. Returns the exit status, or -1 if it had to be killed or died of a
 * signal; then its log is printed and the run is marked failed (see
 * tools/run-tests.sh). A proxy not running is only cleaned up (-1). */
int h_proxy_stop(struct h_proxy *p, char *log, size_t cap);
/* Copies the log so far into buf (NUL-terminated, truncated to cap);
 * returns its length (0 if there is none). */
size_t h_proxy_read_log(const struct h_proxy *p, char *buf, size_t cap);
/* Prints the proxy's log to stderr (for diagnosis). */
void h_proxy_dump_log(const struct h_proxy *p);
/* $PROXY_BIN, or build/redis-proxy. */
const char *h_proxy_bin(void);

/* Runs the binary with argv (NULL-terminated, argv[0] ignored), captures
 * stdout+stderr into out (NUL-terminated, truncated to cap), waits up to
 * 5 s; returns the exit status or -1. */
int h_run(char *const argv[], char *out, size_t cap);

/* Runs argv[0] (searched in PATH) with argv and this process's environment
 * changed by env (NULL-terminated, or NULL: "NAME=VALUE" sets NAME, a bare
 * "NAME" removes it), captures stdout+stderr into out (NUL-terminated,
 * truncated to cap), waits up to timeout_ms. Returns the exit status (127:
 * it could not be run), or -1 after killing it at the deadline. */
int h_exec(char *const argv[], const char *const *env, char *out, size_t cap,
           int timeout_ms);

/* Skips the test, saying so, unless /usr/bin/python3 (the interpreter
 * Debian's python3-redis installs for) can import redis. */
void h_need_redis_py(void);
/* Runs /usr/bin/python3 on script (a file beside the end-to-end sources;
 * the tests run from the repository) with args (NULL-terminated),
 * stdout+stderr into out, 45 s at most: its exit status, or -1. */
int h_redis_py(const char *script, const char *const args[], char *out,
               size_t cap);

/* VmRSS of process pid in KiB (from /proc/PID/status), or -1 when there
 * is no such process (or it is a zombie). */
long h_proc_rss_kib(pid_t pid);
/* 1 when process pid maps a sanitizer runtime (ASan, TSan, ...), whose
 * shadow memory and quarantine make its VmRSS no measure of the program's
 * own memory; 0 otherwise (or when it cannot be read). */
int h_proc_sanitized(pid_t pid);

/* ---- the clock, waiting, sockets (harness_net.c) ---- */

/* The monotonic clock in milliseconds. */
int64_t h_now_ms(void);
/* Sleeps ms milliseconds. */
void h_sleep_ms(int ms);
/* Calls cond(arg) until it returns non-zero, every few ms, for at most
 * timeout_ms (at least once). Returns 1 if it did, 0 at the deadline. */
int h_wait_until(int timeout_ms, int (*cond)(void *arg), void *arg);
/* Waits up to timeout_ms for any of fds[0..n) (n <= 32) to be readable
 * (data, EOF or error) and returns the mask of those readable at that
 * moment (bit i for fds[i]), 0 on timeout: which answer came first. */
unsigned h_readable(const int *fds, int n, int timeout_ms);

/* Connects to 127.0.0.1:port (blocking, 2 s timeouts). Returns fd or -1. */
int h_connect(int port);
/* Writes all bytes. Returns 0 or -1. */
int h_send(int fd, const void *buf, size_t len);
int h_sends(int fd, const char *s);
/* Reads until the peer closes or timeout_ms passes; returns bytes read
 * (buf NUL-terminated, at most cap - 1 bytes). */
size_t h_recv_all(int fd, char *buf, size_t cap, int timeout_ms);
/* Reads exactly n bytes from fd within timeout_ms. Returns 0 or -1. */
int h_recv_n(int fd, char *buf, size_t n, int timeout_ms);
/* Returns 1 if the peer closed the connection within timeout_ms (read
 * returns 0 or ECONNRESET), 0 if still open. Discards what it reads. */
int h_wait_closed(int fd, int timeout_ms);

/* A service manager's notify socket: a datagram socket bound at
 * /tmp/rp-e2e-notify-XXXXXX/notify, where a proxy started with env (see
 * h_proxy_opts) sends its sd_notify reports. */
struct h_notify {
    int fd;        /* valid while dir is not "" */
    char dir[128]; /* the socket's directory, "" when not open */
    char env[192]; /* "NOTIFY_SOCKET=<path>" */
};
/* Opens n. Returns 0, or -1 (errno set) with nothing left open. */
int h_notify_open(struct h_notify *n);
/* Waits up to timeout_ms for one report; returns its length (buf
 * NUL-terminated) or -1. */
ssize_t h_notify_recv(const struct h_notify *n, char *buf, size_t cap,
                      int timeout_ms);
/* 1 when a report is waiting. */
int h_notify_pending(const struct h_notify *n);
/* Closes the socket and removes it and its directory. Safe on a zeroed
 * struct, and twice. */
void h_notify_close(struct h_notify *n);

/* ---- HTTP (harness_http.c) ---- */

/* One parsed HTTP response. body is malloc'd (free with h_resp_free). */
struct h_resp {
    int status;
    char headers[8192]; /* raw header block, NUL-terminated */
    char *body;
    size_t body_len;
};

/* A GET request for path on a keep-alive connection. */
#define H_REQ(path) "GET " path " HTTP/1.1\r\nHost: localhost\r\n\r\n"

/* Reads exactly one response (honours Content-Length; HEAD: no body if
 * is_head). Returns 0, or -1 on timeout/close/parse error. */
int h_read_resp(int fd, struct h_resp *r, int is_head, int timeout_ms);
/* Value of header `name` (case-insensitive) copied into out, or NULL. */
const char *h_header(const struct h_resp *r, const char *name, char *out,
                     size_t cap);
void h_resp_free(struct h_resp *r);
/* One-shot: connect, send "GET <path> HTTP/1.1\r\nHost: localhost\r\n\r\n",
 * read one response (5 s), close. Returns 0 or -1. */
int h_http_get(int port, const char *path, struct h_resp *r);
/* Sends "GET <path>" on an open keep-alive connection fd and reads one
 * response within timeout_ms. Returns 0 or -1. Thread-safe. */
int h_http_get_on(int fd, const char *path, struct h_resp *r, int timeout_ms);

/* Assertions. */

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

/* ---- Redis and RESP (harness_resp.c) ---- */

/* A direct hiredis connection to the test redis (2 s timeouts), or NULL. */
redisContext *h_redis_ctx(const struct h_redis *r);
/* A hiredis connection to the proxy's resp_port (2 s timeouts), or NULL. */
redisContext *h_proxy_resp_ctx(const struct h_proxy *p);
/* Runs a command on a fresh direct connection; returns 0 if not an error
 * reply. */
int h_redis_cmd(const struct h_redis *r, const char *fmt, ...);
/* The integer field of INFO section (e.g. "stats",
 * "total_connections_received"), or -1 when absent or unreachable. Over
 * TLS when r speaks it (h_redis_start_tls), as do h_redis_calls. */
long h_redis_info(const struct h_redis *r, const char *section,
                  const char *field);
/* "calls" of cmdstat_<cmd> in the text of an INFO commandstats reply (0
 * if absent). */
long h_cmdstat_calls(const char *info, const char *cmd);
/* "calls" of cmdstat_<cmd> in INFO commandstats (0 if absent, -1 if Redis
 * does not answer), e.g. "get": what Redis counted. */
long h_redis_calls(const struct h_redis *r, const char *cmd);
/* A Lua script that keeps Redis busy for ARGV[1] ms, then returns 'done'
 * (DEBUG SLEEP is off in tests): EVAL H_BUSY_SCRIPT 0 <ms>. */
#define H_BUSY_SCRIPT                                                          \
    "local function now() local t = redis.call('TIME') "                       \
    "return tonumber(t[1]) * 1000000 + tonumber(t[2]) end "                    \
    "local s = now() while now() - s < tonumber(ARGV[1]) * 1000 do end "       \
    "return 'done'"
/* Waits until r runs a busy script sent before (by way of the proxy): a
 * PING on a direct connection left unanswered for 200 ms (one answered
 * means the script has not reached r yet: another is sent). Returns that
 * connection, whose PING's reply not having arrived later says the script
 * still runs (read it with redisGetReply, then redisFree); fails the test
 * after timeout_ms. */
redisContext *h_redis_await_busy(const struct h_redis *r, int timeout_ms);
/* Sends GET key on c. Returns 1 with the value copied into out (truncated
 * to cap, NUL-terminated), 0 for nil, -1 for an error reply or no reply
 * (out holds the error text). Thread-safe per c. */
int h_resp_get(redisContext *c, const char *key, char *out, size_t cap);

/* The byte length of the first n (>= 1) complete replies at p[0..len),
 * RESP2 or RESP3: simple strings, errors, integers, bulk strings (nil
 * "$-1"), arrays (nil "*-1"), and RESP3's null, boolean, double, big
 * number, blob error, verbatim string, map, set and push, nested to any
 * depth. A push counts as one reply, as does an attribute together with
 * the reply it annotates. Returns 0 while they are incomplete and -1 for
 * bytes that are not RESP. Pure: no I/O, no allocation. */
long h_reply_len(const char *p, size_t len, int n);
/* Reads from fd exactly the bytes of the next n replies, never one more,
 * into buf within timeout_ms. Returns their length, or -1 on a timeout, a
 * close, bytes that are not RESP or replies longer than cap; after -1 the
 * connection's position is unknown: close it. */
long h_read_replies(int fd, int n, char *buf, size_t cap, int timeout_ms);
/* Connects to port, sends len bytes of req and reads exactly n replies
 * (as h_read_replies, 3 s), closes. Returns their length or -1. */
long h_replies(int port, const void *req, size_t len, int n, char *buf,
               size_t cap);
/* bytes as C-escaped text (\r, \n, \xNN) for messages; returns out. */
const char *h_escape(const char *p, size_t n, char *out, size_t cap);

/* Assertion: req sent to Redis and to the proxy's resp_port, each on a
 * fresh connection, gets the same n replies byte for byte. */
void h_expect_same_replies(const struct h_redis *r, const struct h_proxy *p,
                           const void *req, size_t len, int n);

/* ---- commands, HTTP writes, a twin redis-server (harness_cmd.c) ---- */

/* Encodes the NULL-terminated argv as a RESP array into out[0..cap)
 * (NUL-terminated). Returns its length, or 0 when it does not fit. */
size_t h_cmd_encode(char *out, size_t cap, const char *const *argv);
/* The same from a list of strings: H_CMD(buf, sizeof(buf), "SET", "k"). */
#define H_CMD(out, cap, ...)                                                   \
    h_cmd_encode((out), (cap), (const char *const[]){__VA_ARGS__, NULL})

/* Assertions on a raw RESP connection fd. h_send_argv sends the
 * NULL-terminated argv as a RESP array; h_expect_reply reads one reply
 * within timeout_ms, which must be exactly want (line names the caller in
 * failure messages). As lists of strings: H_SEND(fd, "GET", "k");
 * H_EXPECT(fd, "$1\r\nv\r\n") waits H_REPLY_MS. Thread-safe per fd. */
void h_send_argv(int fd, const char *const *argv);
void h_expect_reply(int fd, const char *want, int timeout_ms, int line);
#define H_REPLY_MS 3000
#define H_SEND(fd, ...)                                                        \
    h_send_argv((fd), (const char *const[]){__VA_ARGS__, NULL})
#define H_EXPECT(fd, want) h_expect_reply((fd), (want), H_REPLY_MS, __LINE__)
/* Sends HELLO proto (2 or 3) on the raw RESP connection fd and reads its
 * one reply, which must be a map (RESP3) or an array (RESP2) saying
 * "proto" proto; fails the test otherwise. */
void h_hello(int fd, int proto);

/* Sends "<method> <path> HTTP/1.1" with Host, the extra header lines
 * (each ending in CRLF; may be NULL) and, when body is not NULL, its
 * Content-Length and the blen bytes of body; then reads one response
 * within timeout_ms (HEAD: no body). Returns 0 or -1. Thread-safe per fd. */
int h_http_do(int fd, const char *method, const char *path, const char *extra,
              const void *body, size_t blen, struct h_resp *r, int timeout_ms);

/* Assertion: req sent on redis_fd (a connection to a second redis-server
 * holding the same data as the proxy's) and then on proxy_fd (to the
 * proxy's resp_port) gets the same n replies, byte for byte; what names
 * the step in failure messages. Long-lived connections, so a script can
 * run cache hits, transactions and sessions. Copies redis-server's
 * replies into out (NUL-terminated, truncated to cap) unless out is NULL;
 * returns their length. */
long h_expect_same_on(int redis_fd, int proxy_fd, const void *req, size_t len,
                      int n, const char *what, char *out, size_t cap);

/* ---- Prometheus text, JSON, log lines (harness_text.c) ---- */

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

/* ---- the shared fixture (harness_fixture.c) ---- */

/* Config lines for tests of TTL-only caching (a value changed in Redis is
 * still served from the cache): invalidation tracking off. Ends inside
 * [cache], so more [cache] keys may follow. */
#define TTL_ONLY "[cache]\ntracking = off\n"

/*
 * Declares the file's `redis` and `proxy` and the Criterion suite `suite`
 * (timeout in seconds) with the shared fixture: before each test both are
 * zeroed and redis is started; after it, even after a failed assertion,
 * the proxy (if the test started one) and redis are stopped. A test starts
 * its proxy with the settings it needs (h_start_proxy). Expands to
 * TestSuite: include <criterion/criterion.h> first.
 */
#define H_PAIR_SUITE(suite, timeout_s)                                         \
    static struct h_redis redis;                                               \
    static struct h_proxy proxy;                                               \
    static void suite##_pair_setup(void)                                       \
    {                                                                          \
        h_pair_setup(&redis, &proxy);                                          \
    }                                                                          \
    static void suite##_pair_teardown(void)                                    \
    {                                                                          \
        h_pair_teardown(&redis, &proxy);                                       \
    }                                                                          \
    TestSuite(suite, .init = suite##_pair_setup,                               \
              .fini = suite##_pair_teardown, .timeout = (timeout_s))

/* The fixture's halves: zeroes r and p and starts r (or fails); stops p
 * (if started) and r. For suites that need a fixture of their own. */
void h_pair_setup(struct h_redis *r, struct h_proxy *p);
void h_pair_teardown(struct h_redis *r, struct h_proxy *p);
/* Waits until p answers a RESP PING (the proxy answers it itself, with
 * +PONG or an auth error): its ports listen, and connect, before its
 * startup is over (it waits for the invalidation stream first), so a
 * test that pauses Redis right after starting it calls this first. Fails
 * the test after 10 s. Opens and closes one RESP connection. */
void h_proxy_serving(const struct h_proxy *p);

/* h_proxy_start against r, or fails the test. */
void h_start_proxy(struct h_proxy *p, const struct h_redis *r,
                   const struct h_proxy_opts *o);
/* SET key val directly in r, or fails the test. */
void h_set(const struct h_redis *r, const char *key, const char *val);
/* SET key val in database db of r directly, or fails the test. */
void h_set_db(const struct h_redis *r, int db, const char *key,
              const char *val);
/* SET key to v[0..n) (any bytes) in r, or fails the test. */
void h_set_bytes(const struct h_redis *r, const char *key, const char *v,
                 size_t n);
/* SET key in r, then GET /key on port answers MISS, then HIT, with val. */
void h_cache_key(const struct h_redis *r, int port, const char *key,
                 const char *val);

/* GET /metrics on p's admin port; fails the test unless it answers 200
 * with valid exposition. Returns the body (malloc'd: free it). */
char *h_scrape(const struct h_proxy *p);
/* The value of series in one scrape (NAN when absent). */
double h_metric(const struct h_proxy *p, const char *series);
/* Scrapes until series == want or timeout_ms pass; returns the last value
 * seen (counters are bumped after the response is written). */
double h_await_metric(const struct h_proxy *p, const char *series, double want,
                      int timeout_ms);
/* 1 once the proxy's log contains text, 0 if it does not within
 * timeout_ms. */
int h_await_log(const struct h_proxy *p, const char *text, int timeout_ms);

/* ---- TLS (harness_tls.c) ---- */

/* The path of a test certificate file made by tools/tls-certs.sh
 * ("ca.crt", "server.key", ...), in one of 8 per-thread static buffers. */
const char *h_tls_path(const char *name);
/* "[server]\ntls_cert_file = <server.crt>\ntls_key_file = <server.key>\n"
 * followed by extra (may be NULL), in buf; returns buf. */
const char *h_tls_ini(char *buf, size_t cap, const char *extra);

/* A blocking TLS client connection (OpenSSL's own implementation). */
struct h_tls {
    int fd;
    void *ctx; /* SSL_CTX */
    void *ssl; /* SSL */
};
/* Connects to 127.0.0.1:port and completes a handshake, verifying the
 * server's certificate against the test file ca ("ca.crt") and the name
 * localhost (sent as SNI), presenting the test certificate client
 * ("client": client.crt and client.key) unless NULL. Returns 0, or -1
 * with the reason ("handshake: certificate verify failed", ...) in err
 * and nothing left open. Thread-safe (one h_tls per thread). */
int h_tls_connect(struct h_tls *t, int port, const char *ca, const char *client,
                  char *err, size_t cap);
/* Sends close_notify (one try), frees and closes. Safe twice. */
void h_tls_close(struct h_tls *t);
/* Sends all of buf. Returns 0 or -1. */
int h_tls_send(struct h_tls *t, const void *buf, size_t len);
/* One read within timeout_ms: bytes (> 0), 0 when the peer closed (its
 * close_notify, or a bare close), -1 on a timeout or an error. */
long h_tls_recv(struct h_tls *t, void *buf, size_t cap, int timeout_ms);
/* Reads exactly one RESP reply into buf (NUL-terminated) within
 * timeout_ms; returns its length or -1. */
long h_tls_reply(struct h_tls *t, char *buf, size_t cap, int timeout_ms);
/* Sends argv (NULL-terminated) as a RESP command and reads one reply
 * (5 s) into out; returns its length or -1. */
long h_tls_cmd(struct h_tls *t, char *out, size_t cap, const char *const *argv);
#define H_TLS_CMD(t, out, cap, ...)                                            \
    h_tls_cmd((t), (out), (cap), (const char *const[]){__VA_ARGS__, NULL})
/* Runs argv (NULL-terminated) on a fresh TLS connection to a Redis on
 * 127.0.0.1:port (one started with h_redis_start_tls, or a node of
 * h_tls_cluster_start, whose certificate verifies for localhost),
 * presenting the test client certificate (which a Redis asking for none
 * ignores); its one reply, as raw RESP, into out (NUL-terminated).
 * Returns the reply's length, or -1 (out says why: the handshake's
 * failure, or "no reply"). Thread-safe. */
long h_tls_run(int port, char *out, size_t cap, const char *const *argv);
#define H_TLS_RUN(port, out, cap, ...)                                         \
    h_tls_run((port), (out), (cap), (const char *const[]){__VA_ARGS__, NULL})
/* 1 once the proxy closed t within timeout_ms (what it sent meanwhile is
 * discarded), 0 if it is still open. */
int h_tls_closed(struct h_tls *t, int timeout_ms);
/* The serial number (hex) of the certificate the server showed t / in the
 * test file name; returns out. */
const char *h_tls_peer_serial(const struct h_tls *t, char *out, size_t cap);
const char *h_tls_file_serial(const char *name, char *out, size_t cap);
/* The bytes of a real ClientHello (for localhost), made without a
 * connection; returns their length (0 on failure). */
size_t h_tls_client_hello(char *out, size_t cap);

#endif
