/*
 * resp_local: what the RESP port decides about one command before it runs
 * it: which commands the proxy answers itself (GET from the cache, PING,
 * ECHO, QUIT, AUTH, HELLO, RESET, SELECT and the CLIENT subcommands
 * about the connection's own settings), which give the connection state
 * in Redis and so open a session, how a command counts in a session, and the
 * replies to AUTH and HELLO with Redis 7's own texts. The names are the
 * contract's; Redis's own flags (blocking) back them up where they say
 * the same. Pure functions, thread-safe.
 */
#ifndef RP_RESP_LOCAL_H
#define RP_RESP_LOCAL_H

#include <stddef.h>

#include "proto/resp.h"
#include "serve/session.h"

struct cmd_info;

enum resp_local_cmd {
    LOCAL_NONE = 0, /* not the proxy's: forward it */
    LOCAL_GET,      /* GET key: the cache (outside sessions) */
    LOCAL_PING,
    LOCAL_ECHO,
    LOCAL_QUIT,
    LOCAL_AUTH,
    LOCAL_HELLO,
    LOCAL_RESET,
    LOCAL_SELECT, /* the conn's database */
    LOCAL_CLIENT, /* a CLIENT subcommand about the conn's own settings */
};

/* Where a CLIENT subcommand is answered. */
enum resp_client_kind {
    CLIENT_LOCAL,   /* by the proxy, per conn: SETNAME, GETNAME, SETINFO,
                       ID, INFO, NO-EVICT, NO-TOUCH */
    CLIENT_POOLED,  /* by Redis on any connection: LIST, KILL, PAUSE,
                       UNPAUSE, UNBLOCK, HELP */
    CLIENT_SESSION, /* by Redis on the conn's own connection: the rest
                       (TRACKING, CACHING, REPLY, GETREDIR, ...) */
};

/* Where CLIENT <sub> is answered. */
enum resp_client_kind resp_local_client_kind(const struct resp_arg *sub);

/* Which of the proxy's own commands cmd is. */
enum resp_local_cmd resp_local_which(const struct resp_command *cmd);

/* 1 when cmd (ci: its table entry, may be NULL) gives the connection state
 * in Redis and must run on a session. */
int resp_local_opens_session(const struct resp_command *cmd,
                             const struct cmd_info *ci);

/* How cmd counts in a session (enum session_kind). */
enum session_kind resp_local_session_kind(const struct resp_command *cmd);

/* A parsed HELLO [protover [AUTH user pass] [SETNAME name]]. */
struct resp_hello {
    int has_version;                   /* a protover was given */
    int version;                       /* ... 2 or 3 */
    const struct resp_arg *user;       /* AUTH's user name, or NULL */
    const struct resp_arg *password;   /* AUTH's password, or NULL */
    const struct resp_arg *name;       /* SETNAME's name, or NULL */
    const struct resp_arg *bad_option; /* on a syntax error */
};

/* Parses HELLO's arguments (argv of argc, all of them). Returns 0, or -1
 * with the error reply (without "-" and CRLF) in *err, or *err NULL for
 * "Syntax error in HELLO option '<bad_option>'". */
int resp_local_hello(const struct resp_arg *argv, size_t argc,
                     struct resp_hello *h, const char **err);

#define RESP_NOAUTH "NOAUTH Authentication required."
#define RESP_WRONGPASS                                                         \
    "WRONGPASS invalid username-password pair or user is disabled."
#define RESP_HELLO_NOAUTH                                                      \
    "NOAUTH HELLO must be called with the client already authenticated, "      \
    "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "    \
    "authenticate the client and select the RESP protocol version at the "     \
    "same time"
#define RESP_AUTH_NOPASS                                                       \
    "ERR AUTH <password> called without any password configured for the "      \
    "default user. Are you sure your configuration is correct?"

#endif
