/*
 * reload: SIGHUP. The settings are built again from their sources (the
 * file and every -s, as at start); an invalid result changes nothing and
 * is logged with its FILE:LINE. Otherwise the keys that can change on a
 * running proxy (config_key_live) are taken into a new snapshot, the keys
 * that need a restart keep their running values and are logged as not
 * applied, and the snapshot is published (struct config_ref) and pushed
 * to the services that keep a copy: the cache's limits (shrinking evicts
 * in batches, without stalling requests), the listeners' timeouts and
 * max_clients, the log level. Everything else reads the snapshot at use.
 * One log line per changed key; config_reloads_total{result} counts both
 * outcomes.
 *
 * A snapshot a reload replaces is retired to px->config_gc and freed once
 * every thread that reads the settings has passed a quiescent state
 * (qsbr.h: a worker between two connections, the keeper, tracking,
 * sentinel and replicas threads while they wait, the main thread itself at
 * each reload), so a
 * request keeps the snapshot it took while it runs, and reloads do not
 * grow memory. Called from the main thread only.
 */
#ifndef RP_RELOAD_H
#define RP_RELOAD_H

#include <stddef.h>

struct config;
struct proxy;

/* Where the settings come from, as the command line said. */
struct reload_source {
    const char *path;  /* the INI file, or NULL */
    char *const *sets; /* the -s arguments */
    int nsets;
};

/* Builds the first settings from src and publishes them (at start).
 * Returns 0, or -1 with the error (FILE:LINE or the -s argument) in err. */
int reload_start(struct proxy *px, const struct reload_source *src, char *err,
                 size_t errlen);

/* Reads the settings again and applies them; see the top of this file.
 * Returns 0 when applied (maybe nothing changed), -1 when invalid. */
int reload_settings(struct proxy *px, const struct reload_source *src);

/* Raises the soft open file limit to what cfg can use: max_clients,
 * max_sessions, each node's pipes (both protocols), stream and monitor
 * connection, the admin connections and a few more (at most the hard
 * limit; a warning when that is below). At start and when a reload raises
 * max_clients. */
void reload_fd_limit(const struct config *cfg);

/* Frees the snapshot in use and every one retired. After every other
 * thread has stopped. A no-op when reload_start never ran. */
void reload_release(struct proxy *px);

#endif
