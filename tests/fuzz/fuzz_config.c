/*
 * fuzz_config: libFuzzer harness for the configuration loader
 * (src/base/config.c and config_table.c over inih).
 *
 * config_load_file() takes a path, so the input is written to one temp file
 * per process (created on the first call, rewritten on every call) and
 * loaded over fresh defaults. The same bytes, cut at the first NUL, are also
 * tried as a "-s SECTION.KEY=VALUE" override, as a duration, as a size and
 * as a seeds list. Whatever loads or is set must satisfy the ranges
 * documented in config.h (its seeds walk to the end without an error); its
 * config_print output is written to /dev/null and, as an INI file, must load
 * back to the same settings (a password comes back as the "***" it was
 * masked with; [users] with their hashes); config_diff against the
 * defaults reports at most every key and user once, passwords masked, no
 * hash, and nothing against itself. An error must be a
 * NUL-terminated message that starts with its "PATH:" or "-s ARG:" prefix.
 * Leaks are LeakSanitizer's.
 */
#include "base/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_TTL_MAX_MS INT64_C(315360000000)
#define FUZZ_TIMEOUT_MAX_MS INT64_C(2145600000)
#define FUZZ_MB (INT64_C(1) << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_config: %s:%d: check failed: %s\n",          \
                    __FILE__, __LINE__, #cond);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

/*
 * A temp file that lives as long as the process: unlinked as soon as it is
 * made (so a crash leaves nothing in /tmp) and opened by its
 * /proc/self/fd/N name.
 */
struct fuzz_file {
    char path[64];
    int fd;
};

static struct fuzz_file fuzz_in = {"", -1};
static struct fuzz_file fuzz_back = {"", -1};
static FILE *fuzz_null;

static void
fuzz_file_open(struct fuzz_file *f)
{
    char tmp[] = "/tmp/fuzz_config_XXXXXX";

    f->fd = mkstemp(tmp);
    FUZZ_CHECK(f->fd >= 0);
    FUZZ_CHECK(unlink(tmp) == 0);
    snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

/*
 * Replaces the file's contents with p[0..n). Writes first, then cuts the
 * rest: truncating to zero first makes ext4 flush the file on close.
 */
static void
fuzz_file_write(const struct fuzz_file *f, const void *p, size_t n)
{
    size_t done = 0;
    ssize_t w;

    while (done < n) {
        w = pwrite(f->fd, (const char *)p + done, n - done, (off_t)done);
        FUZZ_CHECK(w > 0);
        done += (size_t)w;
    }
    FUZZ_CHECK(ftruncate(f->fd, (off_t)n) == 0);
}

static void
fuzz_init(void)
{
    if (fuzz_null != NULL) {
        return;
    }
    fuzz_null = fopen("/dev/null", "w");
    FUZZ_CHECK(fuzz_null != NULL);
    fuzz_file_open(&fuzz_in);
    fuzz_file_open(&fuzz_back);
}

static int
fuzz_port(int port, int may_be_off)
{
    return (may_be_off && port == 0) || (port >= 1 && port <= 65535);
}

static int
fuzz_timeout(int64_t ms)
{
    return ms > 0 && ms <= FUZZ_TIMEOUT_MAX_MS;
}

static int
fuzz_str(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static int
fuzz_size(int64_t n, int64_t lo, int64_t hi)
{
    return n >= lo && n <= hi;
}

/*
 * Walks s with config_seed_next: each seed moves the cursor forward and has
 * a non-empty host and a port; returns the walk's last result (0 = the end,
 * -1 = a malformed item).
 */
static int
fuzz_walk_seeds(const char *s)
{
    char host[256];
    const char *cursor = s, *before;
    int port, rc;

    for (;;) {
        before = cursor;
        rc = config_seed_next(&cursor, host, sizeof(host), &port);
        if (rc != 1) {
            return rc;
        }
        FUZZ_CHECK(cursor > before);
        FUZZ_CHECK(host[0] != '\0' && memchr(host, '\0', sizeof(host)));
        FUZZ_CHECK(port >= 1 && port <= 65535);
    }
}

/* The ranges config.h promises for any loaded configuration. */
static void
fuzz_check_ranges(const struct config *c)
{
    FUZZ_CHECK(fuzz_str(c->bind, sizeof(c->bind)));
    FUZZ_CHECK(fuzz_port(c->http_port, 0));
    FUZZ_CHECK(fuzz_port(c->resp_port, 1));
    FUZZ_CHECK(c->workers >= 1 && c->workers <= 1024);
    FUZZ_CHECK(c->max_clients >= 1 && c->max_clients <= 1000000);
    FUZZ_CHECK(fuzz_timeout(c->idle_timeout_ms));
    FUZZ_CHECK(fuzz_timeout(c->request_timeout_ms));
    FUZZ_CHECK(fuzz_str(c->server_password, sizeof(c->server_password)));
    FUZZ_CHECK(c->max_sessions >= 0 && c->max_sessions <= 100000);
    FUZZ_CHECK(fuzz_timeout(c->send_timeout_ms));
    FUZZ_CHECK(fuzz_size(c->max_request, 1024, 512 * FUZZ_MB));
    FUZZ_CHECK(fuzz_str(c->redis_host, sizeof(c->redis_host)));
    FUZZ_CHECK(fuzz_port(c->redis_port, 0));
    FUZZ_CHECK(fuzz_str(c->redis_password, sizeof(c->redis_password)));
    FUZZ_CHECK(c->redis_db >= 0);
    FUZZ_CHECK(c->pool_size >= 1 && c->pool_size <= 1024);
    FUZZ_CHECK(fuzz_timeout(c->connect_timeout_ms));
    FUZZ_CHECK(fuzz_timeout(c->command_timeout_ms));
    FUZZ_CHECK(c->cluster == 0 || c->cluster == 1);
    FUZZ_CHECK(fuzz_str(c->seeds, sizeof(c->seeds)));
    FUZZ_CHECK(fuzz_walk_seeds(c->seeds) == 0);
    FUZZ_CHECK(fuzz_timeout(c->cluster_refresh_ms));
    FUZZ_CHECK(c->cache_ttl_ms >= 0 && c->cache_ttl_ms <= FUZZ_TTL_MAX_MS);
    FUZZ_CHECK(c->cache_capacity >= 0 && c->cache_capacity <= 100000000);
    FUZZ_CHECK(c->cache_tracking == 0 || c->cache_tracking == 1);
    FUZZ_CHECK(c->cache_stale_ms >= 0 && c->cache_stale_ms <= FUZZ_TTL_MAX_MS);
    FUZZ_CHECK(fuzz_size(c->cache_max_memory, 0, 1024 * 1024 * FUZZ_MB));
    FUZZ_CHECK(fuzz_size(c->cache_max_value, 1, 512 * FUZZ_MB));
    FUZZ_CHECK(c->http_writes == 0 || c->http_writes == 1);
    FUZZ_CHECK(fuzz_size(c->http_max_body, 1, 512 * FUZZ_MB));
    FUZZ_CHECK(fuzz_port(c->admin_port, 1));
    FUZZ_CHECK(c->log_level >= CONFIG_LOG_ERROR &&
               c->log_level <= CONFIG_LOG_DEBUG);
    FUZZ_CHECK(c->log_access == 0 || c->log_access == 1);
}

/* Field by field: struct assignment need not copy padding. */
static void
fuzz_check_same(const struct config *a, const struct config *b)
{
    FUZZ_CHECK(strcmp(a->bind, b->bind) == 0);
    FUZZ_CHECK(a->http_port == b->http_port);
    FUZZ_CHECK(a->resp_port == b->resp_port);
    FUZZ_CHECK(a->workers == b->workers);
    FUZZ_CHECK(a->max_clients == b->max_clients);
    FUZZ_CHECK(a->idle_timeout_ms == b->idle_timeout_ms);
    FUZZ_CHECK(a->request_timeout_ms == b->request_timeout_ms);
    FUZZ_CHECK(strcmp(b->server_password,
                      a->server_password[0] != '\0' ? "***" : "") == 0);
    FUZZ_CHECK(a->max_sessions == b->max_sessions);
    FUZZ_CHECK(a->send_timeout_ms == b->send_timeout_ms);
    FUZZ_CHECK(a->max_request == b->max_request);
    FUZZ_CHECK(strcmp(a->redis_host, b->redis_host) == 0);
    FUZZ_CHECK(a->redis_port == b->redis_port);
    FUZZ_CHECK(strcmp(b->redis_password,
                      a->redis_password[0] != '\0' ? "***" : "") == 0);
    FUZZ_CHECK(a->redis_db == b->redis_db);
    FUZZ_CHECK(a->pool_size == b->pool_size);
    FUZZ_CHECK(a->connect_timeout_ms == b->connect_timeout_ms);
    FUZZ_CHECK(a->command_timeout_ms == b->command_timeout_ms);
    FUZZ_CHECK(a->cluster == b->cluster);
    FUZZ_CHECK(strcmp(a->seeds, b->seeds) == 0);
    FUZZ_CHECK(a->cluster_refresh_ms == b->cluster_refresh_ms);
    FUZZ_CHECK(a->cache_ttl_ms == b->cache_ttl_ms);
    FUZZ_CHECK(a->cache_capacity == b->cache_capacity);
    FUZZ_CHECK(a->cache_tracking == b->cache_tracking);
    FUZZ_CHECK(a->cache_stale_ms == b->cache_stale_ms);
    FUZZ_CHECK(a->cache_max_memory == b->cache_max_memory);
    FUZZ_CHECK(a->cache_max_value == b->cache_max_value);
    FUZZ_CHECK(a->http_writes == b->http_writes);
    FUZZ_CHECK(a->http_max_body == b->http_max_body);
    FUZZ_CHECK(a->admin_port == b->admin_port);
    FUZZ_CHECK(a->log_level == b->log_level);
    FUZZ_CHECK(a->log_access == b->log_access);
    FUZZ_CHECK(a->nusers == b->nusers);
    for (int i = 0; i < a->nusers; i++) {
        FUZZ_CHECK(strcmp(a->users[i].name, b->users[i].name) == 0);
        FUZZ_CHECK(a->users[i].perm == b->users[i].perm);
        FUZZ_CHECK(memcmp(a->users[i].hash, b->users[i].hash,
                          sizeof(a->users[i].hash)) == 0);
    }
}

/* An error message: NUL-terminated inside err, starting with prefix. */
static void
fuzz_check_error(const char *err, const char *prefix)
{
    FUZZ_CHECK(memchr(err, '\0', CONFIG_ERR_MAX) != NULL);
    FUZZ_CHECK(strncmp(err, prefix, strlen(prefix)) == 0);
}

/* config_print of cfg, loaded back as a file, gives the same settings. */
static void
fuzz_check_round_trip(const struct config *cfg)
{
    char err[CONFIG_ERR_MAX], *text = NULL;
    size_t len = 0;
    struct config back;
    FILE *mem = open_memstream(&text, &len);

    FUZZ_CHECK(mem != NULL);
    config_print(cfg, mem);
    FUZZ_CHECK(fclose(mem) == 0);
    fuzz_file_write(&fuzz_back, text, len);
    free(text);
    config_defaults(&back);
    if (config_load_file(&back, fuzz_back.path, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_config: printed config does not load: %s\n", err);
        abort();
    }
    fuzz_check_same(cfg, &back);
}

/* One config_diff callback: counts calls, checks the texts. */
static void
fuzz_on_diff(void *arg, const char *section, const char *name,
             const char *old_text, const char *new_text, int live)
{
    int *calls = arg;

    FUZZ_CHECK(++*calls <= CONFIG_KEYS + CONFIG_USERS_MAX);
    FUZZ_CHECK(live == config_key_live(section, name));
    if (strcmp(section, "users") == 0) {
        /* A user's permission, never its hash. */
        FUZZ_CHECK(strstr(old_text, "sha256") == NULL &&
                   strstr(new_text, "sha256") == NULL);
        FUZZ_CHECK(strcmp(old_text, new_text) != 0);
    } else if (strcmp(name, "password") == 0) {
        FUZZ_CHECK(strcmp(old_text, "") == 0 || strcmp(old_text, "***") == 0);
        FUZZ_CHECK(strcmp(new_text, "") == 0 || strcmp(new_text, "***") == 0);
    } else {
        FUZZ_CHECK(strcmp(old_text, new_text) != 0);
    }
}

/* cfg against the defaults reports each changed key once; against itself,
 * nothing. */
static void
fuzz_check_diff(const struct config *cfg)
{
    struct config def;
    int calls = 0;

    config_defaults(&def);
    config_diff(&def, cfg, fuzz_on_diff, &calls);
    calls = 0;
    config_diff(cfg, cfg, fuzz_on_diff, &calls);
    FUZZ_CHECK(calls == 0);
}

/* The input as an INI file. */
static void
fuzz_load_file(const uint8_t *data, size_t size)
{
    char err[CONFIG_ERR_MAX], prefix[80];
    struct config cfg;

    fuzz_file_write(&fuzz_in, data, size);
    config_defaults(&cfg);
    memset(err, 0x5a, sizeof(err));
    if (config_load_file(&cfg, fuzz_in.path, err, sizeof(err)) == 0) {
        fuzz_check_ranges(&cfg);
        config_print(&cfg, fuzz_null);
        fuzz_check_round_trip(&cfg);
        fuzz_check_diff(&cfg);
    } else {
        snprintf(prefix, sizeof(prefix), "%s:", fuzz_in.path);
        fuzz_check_error(err, prefix);
    }
}

/* The input, cut at its first NUL, as an override and as a duration. */
static void
fuzz_set(const uint8_t *data, size_t size)
{
    char err[CONFIG_ERR_MAX], *line;
    char *arg = malloc(size + 1);
    size_t linelen;
    struct config cfg;
    int64_t ms, bytes;

    FUZZ_CHECK(arg != NULL);
    memcpy(arg, data, size);
    arg[size] = '\0';
    config_defaults(&cfg);
    memset(err, 0x5a, sizeof(err));
    if (config_set(&cfg, arg, err, sizeof(err)) == 0) {
        fuzz_check_ranges(&cfg);
        config_print(&cfg, fuzz_null);
        fuzz_check_round_trip(&cfg);
    } else {
        fuzz_check_error(err, "-s ");
    }
    if (config_parse_duration(arg, &ms) == 0) {
        FUZZ_CHECK(ms >= 0);
    }
    if (config_parse_size(arg, &bytes) == 0) {
        FUZZ_CHECK(bytes >= 0);
    }
    (void)fuzz_walk_seeds(arg);
    /* The startup line, into an exact-size block as short as the input
       says. */
    linelen = size > 0 ? (size_t)data[0] * 4 + 1 : 1024;
    line = malloc(linelen);
    FUZZ_CHECK(line != NULL);
    config_format_line(&cfg, line, linelen);
    FUZZ_CHECK(memchr(line, '\0', linelen) != NULL);
    free(line);
    free(arg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    fuzz_load_file(data, size);
    fuzz_set(data, size);
    return 0;
}
