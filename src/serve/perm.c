/*
 * perm: a read user's commands against Redis's command table; see
 * perm.h.
 */
#include "serve/perm.h"

#include <stdio.h>

#include "upstream/commands.h"

int
perm_read_allows(enum resp_local_cmd local, const struct cmd_info *ci)
{
    unsigned f;

    if (local != LOCAL_NONE) {
        return 1; /* the proxy's own: no data changes */
    }
    if (ci == NULL) {
        return 0; /* what Redis does not list cannot be known to read */
    }
    f = commands_flags(ci);
    if (f & (CMD_WRITE | CMD_ADMIN)) {
        return 0;
    }
    return !(f & CMD_SCRIPTING) || (f & CMD_READONLY);
}

void
perm_refusal(const struct resp_command *cmd, const struct cmd_info *ci,
             char *out, size_t cap)
{
    char name[64];
    size_t i, n = 0;

    if (ci != NULL) {
        snprintf(name, sizeof(name), "%s", commands_name(ci));
    } else {
        for (i = 0; i < cmd->argv[0].len && n + 1 < sizeof(name); i++) {
            char c = cmd->argv[0].p[i];

            /* The client's bytes: one line of printable text. */
            name[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a'
                               : c < ' ' || c > '~' ? '?'
                                                    : c);
        }
        name[n] = '\0';
    }
    snprintf(out, cap,
             "NOPERM this user has no permissions to run the '%s' command",
             name);
}
