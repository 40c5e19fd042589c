/*
 * log: stderr lines in key=value form; see log.h.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = CONFIG_LOG_INFO;

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

void
log_write(int level, const char *fmt, ...)
{
    char line[1024];
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
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    n = r < 0 ? n : n + (size_t)r;
    if (n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }
    line[n++] = '\n';
    while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR) {
    }
}
