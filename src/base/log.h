/*
 * log: one line per event on stderr, "ts=<UTC ISO-8601> level=<lvl> msg=..."
 * followed by the caller's key=value pairs.
 *
 * Every line is one line: a control byte that reaches it from a field
 * (a client's command name, a key, a file's text) is escaped ("\n" for a
 * newline, "\xHH" for others), so nothing a client sends can forge a
 * line; log_field() also escapes what would end an unquoted value (a
 * space, a quote), so a client's bytes cannot forge a field either.
 *
 * Once log_start() has run, a line is formatted on the caller's stack and
 * copied into a 256 KiB ring under a mutex held for a memcpy; one writer
 * thread drains the ring to stderr. So a worker never waits on a slow
 * stderr: when the ring is full the line is dropped and counted, and the
 * next line written says how many were lost. Before log_start() and after
 * log_stop(), lines are written directly (one write(2) each, so lines from
 * different threads never interleave). Process-wide, like stderr itself.
 * Thread-safe.
 */
#ifndef RP_LOG_H
#define RP_LOG_H

#include <stddef.h>

#include "base/config.h"

/* Sets the most verbose level printed (enum config_log_level). */
void log_set_level(int level);

/* Returns 1 when level would be printed. */
int log_enabled(int level);

/* Starts the writer thread. Returns 0 or -1 (lines stay direct). */
int log_start(void);

/* Writes what is buffered and stops the writer thread. Idempotent. */
void log_stop(void);

/* Lines dropped because the ring was full. */
long log_dropped(void);

/* Writes one line when level is enabled. fmt should produce
 * msg="..." key=value ... Lines longer than 1 KiB are truncated. */
void log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Copies p[0..len) into out[0..cap) as the value of an unquoted field:
 * newline, CR and tab as \n \r \t, a backslash as \\, and every other
 * byte that is not printable ASCII, a space or a '"' as \xHH; NUL-
 * terminated, cut at a whole escape when it does not fit. Returns out.
 */
const char *log_field(char *out, size_t cap, const char *p, size_t len);

#define log_error(...) log_write(CONFIG_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(CONFIG_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_write(CONFIG_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_write(CONFIG_LOG_DEBUG, __VA_ARGS__)

#endif
