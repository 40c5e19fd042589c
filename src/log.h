/*
 * log: one line per event on stderr, "ts=<UTC ISO-8601> level=<lvl> msg=..."
 * followed by the caller's key=value pairs. Each line is formatted on the
 * stack and written with one write(2), so lines from different threads never
 * interleave and logging never allocates. Thread-safe.
 */
#ifndef RP_LOG_H
#define RP_LOG_H

#include "config.h"

/* Sets the most verbose level printed (enum config_log_level). Call before
 * threads start. */
void log_set_level(int level);

/* Returns 1 when level would be printed. Thread-safe. */
int log_enabled(int level);

/* Writes one line when level is enabled. fmt should produce
 * msg="..." key=value ... Lines longer than 1 KiB are truncated. */
void log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(CONFIG_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(CONFIG_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_write(CONFIG_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_write(CONFIG_LOG_DEBUG, __VA_ARGS__)

#endif
