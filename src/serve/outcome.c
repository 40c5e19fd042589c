/*
 * outcome: failures into RESP error lines and HTTP statuses; see
 * outcome.h.
 */
#include "serve/outcome.h"

#include <stdio.h>

#include "serve/account.h"

static const char *
meaning(int o)
{
    switch (o) {
    case OUTCOME_ETIMEOUT:
        return "redis timeout";
    case OUTCOME_ENOMEM:
        return "out of memory";
    case OUTCOME_ESESSIONS:
        return "max number of sessions reached";
    case OUTCOME_EREDIRECTS:
        return "too many cluster redirects";
    case OUTCOME_EFAILOVER:
        return "the master changed (failover)";
    default:
        return "redis unavailable";
    }
}

size_t
outcome_resp(char *out, size_t cap, int o, const char *detail)
{
    int n;

    if (o == OUTCOME_EREPLY) {
        n = snprintf(out, cap, "-%s\r\n", detail != NULL ? detail : "ERR");
    } else if (o == OUTCOME_ENOMAP && detail != NULL && detail[0]) {
        n = snprintf(out, cap, "-ERR redis unavailable: %s\r\n", detail);
    } else if (o == OUTCOME_ENOMAP) {
        n = snprintf(out, cap,
                     "-ERR redis unavailable: the cluster's slot "
                     "map is not known yet\r\n");
    } else if (o == OUTCOME_ENOMEM || o == OUTCOME_ESESSIONS ||
               o == OUTCOME_EREDIRECTS || detail == NULL || !detail[0]) {
        n = snprintf(out, cap, "-ERR %s\r\n", meaning(o));
    } else {
        n = snprintf(out, cap, "-ERR %s: %s\r\n", meaning(o), detail);
    }
    if (n < 0) {
        return 0;
    }
    if ((size_t)n >= cap && cap >= 3) {
        out[cap - 3] = '\r'; /* cut, still one line */
        out[cap - 2] = '\n';
        return cap - 1;
    }
    return (size_t)n;
}

int
outcome_http(int o, const char *detail)
{
    switch (o) {
    case OUTCOME_EREPLY:
        return account_redis_error_status(detail != NULL ? detail : "");
    case OUTCOME_ETIMEOUT:
        return 504;
    case OUTCOME_ENOMEM:
        return 500;
    case OUTCOME_EREDIRECTS:
        return 502;
    default:
        return 503; /* a failover too: try again */
    }
}

const char *
outcome_text(int o, const char *detail)
{
    if (detail != NULL && detail[0] != '\0') {
        return detail;
    }
    return o == OUTCOME_ENOMAP ? "redis unavailable: the cluster's slot map "
                                 "is not known yet"
                               : meaning(o);
}
