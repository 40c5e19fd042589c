/*
 * log: key=value lines to stderr through a bounded ring and one writer
 * thread; see log.h.
 */
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_RING (256 * 1024)
#define LOG_LINE 4096 /* the startup line lists every setting */

static atomic_int log_level = CONFIG_LOG_INFO;
static atomic_long log_drops;

/* The ring: `lock` guards everything below it. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_cv = PTHREAD_COND_INITIALIZER;
static char log_ring[LOG_RING];
static size_t log_head, log_len; /* bytes at log_ring[head..head+len) */
static long log_unreported;      /* drops not yet announced */
static int log_running, log_stopping;
static pthread_t log_thread;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
log_set_level(int level)
{
    atomic_store(&log_level, level);
}

int
log_enabled(int level)
{
    return level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

long
log_dropped(void)
{
    return atomic_load_explicit(&log_drops, memory_order_relaxed);
}

static void
write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Copies a line into the ring, or drops it. Lock held. */
static void
ring_put(const char *line, size_t n)
{
    size_t tail, first;

    if (n > LOG_RING - log_len) {
        atomic_fetch_add_explicit(&log_drops, 1, memory_order_relaxed);
        log_unreported++;
        return;
    }
    tail = (log_head + log_len) % LOG_RING;
    first = n < LOG_RING - tail ? n : LOG_RING - tail;
    memcpy(log_ring + tail, line, first);
    memcpy(log_ring, line + first, n - first);
    log_len += n;
    pthread_cond_signal(&log_cv);
}

static void *
log_main(void *arg)
{
    static char out[LOG_RING];

    (void)arg;
    pthread_mutex_lock(&log_lock);
    for (;;) {
        size_t n, first;
        long lost;

        while (log_len == 0 && log_unreported == 0 && !log_stopping) {
            pthread_cond_wait(&log_cv, &log_lock);
        }
        if (log_len == 0 && log_unreported == 0 && log_stopping) {
            break;
        }
        n = log_len;
        first = n < LOG_RING - log_head ? n : LOG_RING - log_head;
        memcpy(out, log_ring + log_head, first);
        memcpy(out + first, log_ring, n - first);
        log_head = (log_head + n) % LOG_RING;
        log_len = 0;
        lost = log_unreported;
        log_unreported = 0;
        pthread_mutex_unlock(&log_lock);
        write_all(out, n);
        if (lost > 0) {
            char note[96];
            int k = snprintf(note, sizeof(note),
                             "level=warn msg=\"log lines dropped\" count=%ld\n",
                             lost);
            write_all(note, (size_t)k);
        }
        pthread_mutex_lock(&log_lock);
    }
    pthread_mutex_unlock(&log_lock);
    return NULL;
}

int
log_start(void)
{
    int rc = 0;

    pthread_mutex_lock(&log_lock);
    if (!log_running) {
        log_stopping = 0;
        rc = pthread_create(&log_thread, NULL, log_main, NULL) == 0 ? 0 : -1;
        log_running = rc == 0;
    }
    pthread_mutex_unlock(&log_lock);
    return rc;
}

void
log_stop(void)
{
    int running;

    pthread_mutex_lock(&log_lock);
    running = log_running;
    log_stopping = 1;
    pthread_cond_signal(&log_cv);
    pthread_mutex_unlock(&log_lock);
    if (running) {
        pthread_join(log_thread, NULL);
        pthread_mutex_lock(&log_lock);
        log_running = 0;
        pthread_mutex_unlock(&log_lock);
    }
}

/* Appends the escape of byte c at out[n], if it fits before cap; returns
 * the new length, or cap when it did not fit. */
static size_t
put_escape(char *out, size_t n, size_t cap, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[4];
    size_t k = 2;

    e[0] = '\\';
    switch (c) {
    case '\n':
        e[1] = 'n';
        break;
    case '\r':
        e[1] = 'r';
        break;
    case '\t':
        e[1] = 't';
        break;
    case '\\':
        e[1] = '\\';
        break;
    default:
        e[1] = 'x';
        e[2] = hex[c >> 4];
        e[3] = hex[c & 15];
        k = 4;
    }
    if (cap - n < k) {
        return cap;
    }
    memcpy(out + n, e, k);
    return n + k;
}

const char *
log_field(char *out, size_t cap, const char *p, size_t len)
{
    size_t n = 0, i;

    if (cap == 0) {
        return out;
    }
    for (i = 0; i < len && n < cap - 1; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c > ' ' && c < 0x7f && c != '"' && c != '\\') {
            out[n++] = (char)c;
        } else if ((n = put_escape(out, n, cap - 1, c)) == cap - 1) {
            break;
        }
    }
    out[n < cap ? n : cap - 1] = '\0';
    return out;
}

/* Copies what the caller formatted, p[0..len), into out[0..cap) with its
 * control bytes escaped; returns the length written. */
static size_t
escape_controls(char *out, size_t cap, const char *p, size_t len)
{
    size_t n = 0, i;

    for (i = 0; i < len && n < cap; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c >= ' ' && c != 0x7f) {
            out[n++] = (char)c;
        } else if ((n = put_escape(out, n, cap, c)) == cap) {
            break;
        }
    }
    return n;
}

/* 1 when p[0..len) holds a control byte. */
static int
has_controls(const char *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if ((unsigned char)p[i] < ' ' || p[i] == 0x7f) {
            return 1;
        }
    }
    return 0;
}

void
log_write(int level, const char *fmt, ...)
{
    char line[LOG_LINE], raw[LOG_LINE];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int r;
    va_list ap;

    if (!log_enabled(level)) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, ".%03ldZ level=%s ",
                 ts.tv_nsec / 1000000, level_names[level]);
    n += (size_t)r;
    va_start(ap, fmt);
    r = vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    if (r > 0) {
        size_t len = (size_t)r < sizeof(raw) ? (size_t)r : sizeof(raw) - 1;

        if (has_controls(raw, len)) {
            n += escape_controls(line + n, sizeof(line) - 2 - n, raw, len);
        } else {
            len = len < sizeof(line) - 2 - n ? len : sizeof(line) - 2 - n;
            memcpy(line + n, raw, len);
            n += len;
        }
    }
    line[n++] = '\n';
    pthread_mutex_lock(&log_lock);
    if (log_running && !log_stopping) {
        ring_put(line, n);
        pthread_mutex_unlock(&log_lock);
        return;
    }
    pthread_mutex_unlock(&log_lock);
    write_all(line, n);
}
