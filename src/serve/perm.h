/*
 * perm: what a client user with the read permission ([users] NAME = read
 * HASH; auth.h) may run on the RESP port. Redis's own command table
 * decides (upstream/commands.h, learned from COMMAND), never a list of
 * the proxy's: a read user may run
 *   - the proxy's own commands (GET from the cache, PING, ECHO, QUIT,
 *     AUTH, HELLO, RESET, SELECT, the CLIENT subcommands about its own
 *     connection: resp_local.h);
 *   - any command Redis lists that it does not flag "write" or "admin"
 *     and does not file under @scripting unless flagged "readonly": so
 *     reads, SCAN, INFO, COMMAND, MULTI/EXEC, WATCH, SUBSCRIBE and
 *     PUBLISH (Redis does not count publishing as writing data), EVAL_RO
 *     and FCALL_RO, but not EVAL, EVALSHA, FCALL, SCRIPT, nor CONFIG,
 *     CLIENT KILL, FLUSHALL...
 * Anything else, a command Redis does not list included, gets Redis's
 * own refusal, -NOPERM this user has no permissions to run the '<name>'
 * command. Inside a transaction the refusal also makes Redis abort it at
 * EXEC (-EXECABORT), as Redis does with a command refused while queued:
 * the caller sends PERM_ABORT_TX in its place, silently.
 *
 * Pure functions; thread-safe.
 */
#ifndef RP_PERM_H
#define RP_PERM_H

#include <stddef.h>

#include "proto/resp.h"
#include "serve/resp_local.h"

struct cmd_info;

/* 1 when a read user may run cmd: local is what resp_local_which says of
 * it, ci its entry in Redis's table (NULL when Redis does not list it). */
int perm_read_allows(enum resp_local_cmd local, const struct cmd_info *ci);

/* Redis's refusal of cmd (ci: as above) as an error line without its '-'
 * and CRLF, into out[0..cap). */
void perm_refusal(const struct resp_command *cmd, const struct cmd_info *ci,
                  char *out, size_t cap);

/* A command no Redis has: queued in a transaction in place of a refused
 * one, Redis refuses it and aborts the transaction at EXEC. */
#define PERM_ABORT_TX "REDIS-PROXY-NOPERM"

#endif
