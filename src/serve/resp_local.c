/*
 * resp_local: command classification for the RESP port; see resp_local.h.
 */
#include "serve/resp_local.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

#include "upstream/commands.h"

static int
is(const struct resp_arg *a, const char *name)
{
    size_t n = strlen(name);

    return a->len == n && strncasecmp(a->p, name, n) == 0;
}

static int
is_any(const struct resp_arg *a, const char *const *names)
{
    for (; *names != NULL; names++) {
        if (is(a, *names)) {
            return 1;
        }
    }
    return 0;
}

enum resp_local_cmd
resp_local_which(const struct resp_command *cmd)
{
    const struct resp_arg *a = &cmd->argv[0];

    if (is(a, "GET")) {
        /* Another arity is Redis's error to give. */
        return cmd->argc == 2 ? LOCAL_GET : LOCAL_NONE;
    }
    if (is(a, "PING")) {
        return LOCAL_PING;
    }
    if (is(a, "ECHO")) {
        return LOCAL_ECHO;
    }
    if (is(a, "QUIT")) {
        return LOCAL_QUIT;
    }
    if (is(a, "AUTH")) {
        return LOCAL_AUTH;
    }
    if (is(a, "HELLO")) {
        return LOCAL_HELLO;
    }
    if (is(a, "RESET")) {
        return LOCAL_RESET;
    }
    if (is(a, "SELECT")) {
        return LOCAL_SELECT;
    }
    if (is(a, "CLIENT") && cmd->argc >= 2 &&
        resp_local_client_kind(&cmd->argv[1]) == CLIENT_LOCAL) {
        return LOCAL_CLIENT;
    }
    return LOCAL_NONE;
}

enum resp_client_kind
resp_local_client_kind(const struct resp_arg *sub)
{
    /* The connection's own settings, kept by the proxy. */
    static const char *const local[] = {
        "SETNAME", "GETNAME",  "SETINFO",  "ID",
        "INFO",    "NO-EVICT", "NO-TOUCH", NULL,
    };
    /* About the server or other connections: any connection will do. */
    static const char *const pooled[] = {
        "LIST", "KILL", "PAUSE", "UNPAUSE", "UNBLOCK", "HELP", NULL,
    };

    if (is_any(sub, local)) {
        return CLIENT_LOCAL;
    }
    return is_any(sub, pooled) ? CLIENT_POOLED : CLIENT_SESSION;
}

/* Does any argument after the first say BLOCK (XREAD, XREADGROUP)? */
static int
has_block_option(const struct resp_command *cmd)
{
    size_t i;

    for (i = 1; i < cmd->argc && i < RESP_KEEP_ARGS; i++) {
        if (is(&cmd->argv[i], "BLOCK")) {
            return 1;
        }
    }
    if (cmd->argc > RESP_KEEP_ARGS && cmd->words != NULL) {
        for (; i < cmd->argc; i++) {
            if (is(&cmd->words[i], "BLOCK")) {
                return 1;
            }
        }
    }
    /* BLOCK comes before STREAMS, so within the first few arguments of
     * any real XREAD; a long tail of keys is not searched. */
    return 0;
}

int
resp_local_opens_session(const struct resp_command *cmd,
                         const struct cmd_info *ci)
{
    /* The (un)subscribe family too: one reply per channel, which a
     * pooled connection (one reply per command) cannot carry. */
    static const char *const state[] = {
        "MULTI",      "WATCH",       "SUBSCRIBE",    "PSUBSCRIBE",
        "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
        "MONITOR",    "WAIT",        "WAITAOF",      "READONLY",
        "READWRITE",  "ASKING",      "SYNC",         "PSYNC",
        "REPLCONF",   NULL,
    };
    static const char *const blocking[] = {
        "BLPOP",    "BRPOP",    "BLMOVE", "BRPOPLPUSH", "BLMPOP",
        "BZPOPMIN", "BZPOPMAX", "BZMPOP", NULL,
    };
    const struct resp_arg *a = &cmd->argv[0];

    if (is_any(a, state) || is_any(a, blocking)) {
        return 1;
    }
    if (is(a, "CLIENT")) {
        /* A subcommand Redis does not know (a newer client library's) it
         * refuses, giving no state: no session for it. */
        return cmd->argc < 2 ||
               (resp_local_client_kind(&cmd->argv[1]) == CLIENT_SESSION &&
                !(ci != NULL && commands_is_container(ci)));
    }
    if (is(a, "XREAD") || is(a, "XREADGROUP")) {
        return has_block_option(cmd);
    }
    /* A blocking command the names above do not know (a newer Redis, a
     * module): Redis's own flag says so. */
    return ci != NULL && (commands_flags(ci) & CMD_BLOCKING) != 0;
}

enum session_kind
resp_local_session_kind(const struct resp_command *cmd)
{
    static const char *const pubsub[] = {
        "SUBSCRIBE",    "PSUBSCRIBE",   "SSUBSCRIBE", "UNSUBSCRIBE",
        "PUNSUBSCRIBE", "SUNSUBSCRIBE", NULL,
    };
    const struct resp_arg *a = &cmd->argv[0];

    if (is_any(a, pubsub)) {
        return SESSION_PUBSUB;
    }
    if (is(a, "MONITOR")) {
        return SESSION_MONITOR;
    }
    if (is(a, "RESET")) {
        return SESSION_RESET;
    }
    return SESSION_CMD;
}

/* Parses a protocol version: a decimal long long, as Redis's
 * getLongLongFromObject (string2ll: an optional '-', no '+', no blanks,
 * within LLONG_MIN..LLONG_MAX; leading zeros are Redis's to refuse, and a
 * version other than 2 is refused anyway). Never overflows: a value out of
 * range fails at the digit that crosses it. */
static int
version_of(const struct resp_arg *a, long long *v)
{
    unsigned long long x = 0, limit = (unsigned long long)LLONG_MAX;
    size_t i = 0;
    int neg = 0;

    if (a->len == 0) {
        return -1;
    }
    if (a->p[0] == '-') {
        neg = 1;
        i = 1;
        limit += 1; /* the magnitude of LLONG_MIN */
    }
    if (i == a->len) {
        return -1;
    }
    for (; i < a->len; i++) {
        unsigned d = (unsigned)(unsigned char)a->p[i] - '0';

        if (d > 9 || x > (limit - d) / 10) {
            return -1;
        }
        x = x * 10 + d;
    }
    *v = neg ? (long long)(0 - x) : (long long)x;
    return 0;
}

int
resp_local_hello(const struct resp_arg *argv, size_t argc, struct resp_hello *h,
                 const char **err)
{
    size_t j = 1;
    long long ver;

    memset(h, 0, sizeof(*h));
    if (argc >= 2) {
        if (version_of(&argv[1], &ver) < 0) {
            *err = "ERR Protocol version is not an integer or out of range";
            return -1;
        }
        if (ver != 2 && ver != 3) {
            *err = "NOPROTO unsupported protocol version";
            return -1;
        }
        h->has_version = 1;
        h->version = (int)ver;
        j = 2;
    }
    for (; j < argc; j++) {
        size_t more = argc - 1 - j;

        if (is(&argv[j], "AUTH") && more >= 2) {
            h->user = &argv[j + 1];
            h->password = &argv[j + 2];
            j += 2;
        } else if (is(&argv[j], "SETNAME") && more >= 1) {
            h->name = &argv[j + 1];
            j++;
        } else {
            h->bad_option = &argv[j]; /* the caller names it in the error */
            *err = NULL;
            return -1;
        }
    }
    return 0;
}
