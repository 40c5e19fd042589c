/*
 * commands: what the backing Redis says about its commands, learned from
 * COMMAND rather than kept in a table of our own: arity, flags (write,
 * blocking, pubsub, movablekeys...), the legacy first/last/step key
 * positions, and in Redis 7 the key specs (begin-search index or keyword,
 * find-keys range or keynum, and their RO/RW/OW/RM and NOT_KEY flags),
 * subcommands of container commands included ("client|list").
 *
 * From that, for one command a client sent: whether it writes, and which
 * of its arguments are keys. Where Redis marks a spec as not computable
 * from the arguments alone (type "unknown", or INCOMPLETE; movablekeys on a
 * Redis without key specs), the caller asks Redis itself (COMMAND
 * GETKEYS). A Redis older than 7 (no key specs) is served through
 * first/last/step and the write flag.
 *
 * With it, what the server says of itself that clients see through the
 * proxy: its version (HELLO) and its number of databases (SELECT).
 *
 * The table is loaded at start and again whenever the pool reconnects
 * after Redis was down (it may have been upgraded, or have loaded
 * modules). A table is immutable once built; commands_acquire() hands out
 * the current one under a read lock, so a reload never pulls a table from
 * under a worker. Thread-safe.
 */
#ifndef RP_COMMANDS_H
#define RP_COMMANDS_H

#include <stddef.h>

#include "proto/resp.h"
#include "upstream/redis.h"

/* Command flags we use (from COMMAND's flags). */
#define CMD_WRITE 0x1u
#define CMD_READONLY 0x2u
#define CMD_BLOCKING 0x4u
#define CMD_PUBSUB 0x8u
#define CMD_MOVABLEKEYS 0x10u
#define CMD_NOSCRIPT 0x20u
#define CMD_ADMIN 0x40u     /* the "admin" flag (CONFIG, DEBUG, ...) */
#define CMD_SCRIPTING 0x80u /* in the @scripting ACL category (EVAL, ...) */

struct cmd_info;
struct cmd_table;
struct commands;

/* Creates the holder (with an empty table: every command unknown). */
struct commands *commands_create(void);

/* Frees it and its table. No concurrent use. NULL is a no-op. */
void commands_destroy(struct commands *c);

/* Reads COMMAND from target on a connection of its own and makes it the
 * current table. Returns the number of commands learned, or -1 with err
 * set (the old table stays). */
long commands_load(struct commands *c, const struct redis_target *target,
                   char *err);

/* What the last load learned of the server itself: its version ("" when
 * unknown) into version[0..cap), and its number of databases (0 when
 * unknown). Thread-safe. */
void commands_server(struct commands *c, char *version, size_t cap,
                     int *databases);

/* The current table, read-locked until commands_release(). Never NULL. */
const struct cmd_table *commands_acquire(struct commands *c);
void commands_release(struct commands *c);

/* Commands in t (top level). */
size_t commands_count(const struct cmd_table *t);

/* The entry for the command whose arguments are argv (argc of them; the
 * first one or two used: a container command resolves to its
 * subcommand), or NULL when Redis did not list it. */
const struct cmd_info *commands_find(const struct cmd_table *t,
                                     const struct resp_arg *argv, size_t argc);

/* 1 when ci is a container command (CLIENT, CONFIG...): commands_find
 * returns it for a subcommand Redis does not know. */
int commands_is_container(const struct cmd_info *ci);

/* The entry's name as Redis names it in errors: lower case,
 * "container|sub" for a subcommand. */
const char *commands_name(const struct cmd_info *ci);

/* The entry's flags (CMD_*). */
unsigned commands_flags(const struct cmd_info *ci);

/* Redis's arity: n > 0 exactly n arguments, n < 0 at least -n. */
int commands_arity(const struct cmd_info *ci);

/*
 * Calls fn(arg, key) for each key of the command (argument iterator over
 * the parsed command cmd from buf), in argument order; with writes_only,
 * only keys the command may change (RO and NOT_KEY specs skipped).
 * Returns 0 when every key was found this way, 1 when Redis must be asked
 * (COMMAND GETKEYS: a spec that cannot be computed from the arguments),
 * or -1 when the arguments do not fit the spec (Redis will refuse the
 * command anyway).
 */
int commands_keys(const struct cmd_info *ci, const struct resp_command *cmd,
                  const char *buf, int writes_only,
                  void (*fn)(void *arg, const struct resp_arg *key), void *arg);

#endif
