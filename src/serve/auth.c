/*
 * auth: see auth.h.
 */
#include "serve/auth.h"

#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/pwhash.h"
#include "base/ratelimit.h"
#include "base/util.h"
#include "serve/proxy.h"

#define AUTH_MAX 256 /* = sizeof(struct config.server_password) */

_Static_assert(sizeof(((struct config *)0)->server_password) == AUTH_MAX,
               "the comparison covers every password");
_Static_assert(CONFIG_USER_MAX <= METRICS_USER_NAME,
               "a user's name fits a metrics label");

int
auth_required(const struct proxy *px)
{
    const struct config *cfg = proxy_cfg(px);

    return cfg->server_password[0] != '\0' || cfg->nusers > 0;
}

int
auth_password_ok(const struct proxy *px, const char *p, size_t len)
{
    const char *want = proxy_cfg(px)->server_password;
    size_t wlen = strlen(want), i;
    unsigned diff = len != wlen || wlen == 0;

    /* Always AUTH_MAX rounds, whatever the lengths: what is compared
     * beyond either string is a zero, chosen without a branch. */
    for (i = 0; i < AUTH_MAX; i++) {
        unsigned char a = (unsigned char)(i < len ? p[i] : 0);
        unsigned char b = (unsigned char)want[i < wlen ? i : wlen];

        diff |= (unsigned)(a ^ b);
    }
    return diff == 0 && len < AUTH_MAX;
}

/* The [users] entry named user[0..ulen), or NULL. */
static const struct config_user *
user_of(const struct config *cfg, const char *user, size_t ulen)
{
    return user != NULL ? config_user_find(cfg, user, ulen) : NULL;
}

/* pass against u's hash; for no user, against a hash no password has,
 * so that a name that is no user takes as long as one that is. */
static int
user_ok(const struct config_user *u, const char *pass, size_t plen)
{
    static const unsigned char none[PWHASH_LEN];

    return pwhash_check(u != NULL ? u->hash : none, pass, plen) && u != NULL;
}

int
auth_check(const struct proxy *px, const char *user, size_t ulen,
           const char *pass, size_t plen)
{
    const struct config *cfg = proxy_cfg(px);
    const struct config_user *u = user_of(cfg, user, ulen);
    int has_password = cfg->server_password[0] != '\0';

    if (u == NULL && user == NULL && !has_password) {
        u = config_user_find(cfg, "default", 7); /* AUTH <password> */
        if (u == NULL) {
            return AUTH_DENIED;
        }
    }
    if (u != NULL || !has_password) {
        /* A configured user's own password; with users alone, a name
         * that is none is refused after the same work. */
        return user_ok(u, pass, plen) ? u->perm : AUTH_DENIED;
    }
    return auth_password_ok(px, pass, plen) ? AUTH_WRITE : AUTH_DENIED;
}

static int
b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes standard base64 (padding optional) into out[0..cap). Returns
 * the length, or -1 for bad input or no room. */
static long
b64_decode(const char *in, size_t len, char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t i, n = 0;

    while (len > 0 && in[len - 1] == '=') {
        len--;
    }
    for (i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);

        if (v < 0) {
            return -1;
        }
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap) {
                return -1;
            }
            out[n++] = (char)(acc >> bits & 0xff);
        }
    }
    return (long)n;
}

/* The credentials after "<scheme> " in an Authorization value, or NULL. */
static const char *
after_scheme(const char *v, size_t len, const char *scheme, size_t *rest)
{
    size_t n = strlen(scheme);

    if (len <= n || strncasecmp(v, scheme, n) != 0 || v[n] != ' ') {
        return NULL;
    }
    v += n;
    len -= n;
    while (len > 0 && *v == ' ') {
        v++;
        len--;
    }
    *rest = len;
    return v;
}

int
auth_http(const struct proxy *px, const struct http_request *req, char *buf,
          const char **user, size_t *ulen)
{
    const char *v = req->authorization, *cred, *colon;
    size_t len;
    long n;

    *user = NULL;
    *ulen = 0;
    if (!auth_required(px)) {
        return AUTH_WRITE;
    }
    if (v == NULL) {
        return AUTH_DENIED;
    }
    if ((cred = after_scheme(v, req->authorization_len, "Bearer", &len))) {
        return auth_check(px, NULL, 0, cred, len);
    }
    cred = after_scheme(v, req->authorization_len, "Basic", &len);
    if (cred == NULL || (n = b64_decode(cred, len, buf, AUTH_BASIC_MAX)) < 0 ||
        (colon = memchr(buf, ':', (size_t)n)) == NULL) {
        return AUTH_DENIED;
    }
    *user = buf;
    *ulen = (size_t)(colon - buf);
    colon++;
    return auth_check(px, buf, (size_t)(colon - 1 - buf), colon,
                      (size_t)(buf + n - colon));
}

void
auth_failed(struct proxy *px, enum metrics_listener listener, const char *user,
            size_t ulen)
{
    static const char *const names[] = {"http", "resp", "admin"};
    const struct config *cfg = proxy_cfg(px);
    const struct config_user *u = user_of(cfg, user, ulen);
    const char *label = u != NULL ? u->name : "unknown";
    long n;

    if (user != NULL && cfg->nusers > 0) {
        metrics_user_failure(&px->metrics, listener, label);
    } else {
        atomic_fetch_add_explicit(&px->metrics.auth_failures[listener], 1,
                                  memory_order_relaxed);
        label = NULL;
    }
    /* A guesser must not flood the log: one line per interval, with the
     * failures it stands for (the metric counts each one). */
    n = ratelimit_hit(&px->auth_log[listener], util_now_ms(),
                      AUTH_LOG_INTERVAL_MS);
    if (n > 0 && label != NULL) {
        log_info("msg=\"authentication failed\" listener=%s count=%ld "
                 "user=%s",
                 names[listener], n, label);
    } else if (n > 0) {
        log_info("msg=\"authentication failed\" listener=%s count=%ld",
                 names[listener], n);
    }
}
