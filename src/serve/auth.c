/*
 * auth: see auth.h.
 */
#include "serve/auth.h"

#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "base/ratelimit.h"
#include "base/util.h"
#include "serve/proxy.h"

#define AUTH_MAX 256        /* = sizeof(struct config.server_password) */
#define AUTH_BASIC_MAX 1024 /* decoded "user:password" bytes at most */

_Static_assert(sizeof(((struct config *)0)->server_password) == AUTH_MAX,
               "the comparison covers every password");

int
auth_required(const struct proxy *px)
{
    return proxy_cfg(px)->server_password[0] != '\0';
}

int
auth_password_ok(const struct proxy *px, const char *p, size_t len)
{
    const char *want = proxy_cfg(px)->server_password;
    size_t wlen = strlen(want), i;
    unsigned diff = len != wlen;

    /* Always AUTH_MAX rounds, whatever the lengths: what is compared
     * beyond either string is a zero, chosen without a branch. */
    for (i = 0; i < AUTH_MAX; i++) {
        unsigned char a = (unsigned char)(i < len ? p[i] : 0);
        unsigned char b = (unsigned char)want[i < wlen ? i : wlen];

        diff |= (unsigned)(a ^ b);
    }
    return diff == 0 && len < AUTH_MAX;
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
auth_http_ok(const struct proxy *px, const struct http_request *req)
{
    const char *v = req->authorization, *cred, *colon;
    char basic[AUTH_BASIC_MAX];
    size_t len;
    long n;

    if (!auth_required(px)) {
        return 1;
    }
    if (v == NULL) {
        return 0;
    }
    if ((cred = after_scheme(v, req->authorization_len, "Bearer", &len))) {
        return auth_password_ok(px, cred, len);
    }
    cred = after_scheme(v, req->authorization_len, "Basic", &len);
    if (cred == NULL || (n = b64_decode(cred, len, basic, sizeof(basic))) < 0 ||
        (colon = memchr(basic, ':', (size_t)n)) == NULL) {
        return 0;
    }
    colon++;
    return auth_password_ok(px, colon, (size_t)(basic + n - colon));
}

void
auth_failed(struct proxy *px, enum metrics_listener listener)
{
    static const char *const names[] = {"http", "resp", "admin"};
    long n;

    atomic_fetch_add_explicit(&px->metrics.auth_failures[listener], 1,
                              memory_order_relaxed);
    /* A guesser must not flood the log: one line per interval, with the
     * failures it stands for (the metric counts each one). */
    n = ratelimit_hit(&px->auth_log[listener], util_now_ms(),
                      AUTH_LOG_INTERVAL_MS);
    if (n > 0) {
        log_info("msg=\"authentication failed\" listener=%s count=%ld",
                 names[listener], n);
    }
}
