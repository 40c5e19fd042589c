/*
 * verify: credentials checked by Redis on a connection of their own; see
 * verify.h.
 */
#include "serve/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "net/waiter.h"
#include "serve/proxy.h"
#include "serve/route.h"
#include "upstream/idents.h"
#include "upstream/nodes.h"
#include "upstream/rconn.h"

#define VERIFY_ERR_MAX 256

struct verify {
    struct rconn rc;
    struct redis_target target; /* the master's, with the credentials */
    int watched;                /* rc's socket is watched for the conn */
    int result;                 /* enum verify_result */
    int has_user;               /* a user name was given */
    int64_t deadline_ms;        /* the open's (connect_timeout) */
    struct ident *ident;        /* OK: the identity, until taken */
    char err[VERIFY_ERR_MAX];   /* REFUSED: Redis's text; FAILED: why */
};

static void
stop(struct proxy *px, struct verify *v)
{
    if (v->watched) {
        waiter_unwatch(px->waiter, v->rc.fd);
        v->watched = 0;
    }
    rconn_close(&v->rc);
}

struct verify *
verify_start(struct proxy *px, struct conn *c, const char *user, size_t ulen,
             const char *pass, size_t plen, char *err)
{
    struct rconn_setup setup = {.proto = 2, .db = 0};
    int node = nodes_master(px->nodes);
    struct verify *v;

    if (node < 0) {
        snprintf(err, VERIFY_ERR_MAX, "%s", route_no_node(px));
        return NULL;
    }
    if ((user != NULL && (ulen == 0 || ulen >= sizeof(v->target.user))) ||
        plen == 0 || plen >= sizeof(v->target.password)) {
        snprintf(err, VERIFY_ERR_MAX,
                 "a user name or password empty or over 255 bytes cannot be "
                 "checked through the proxy");
        return NULL;
    }
    v = calloc(1, sizeof(*v));
    if (v == NULL) {
        snprintf(err, VERIFY_ERR_MAX, "out of memory");
        return NULL;
    }
    v->target = *nodes_target(px->nodes, node);
    v->target.readonly = 0;
    v->target.db = 0; /* the check is AUTH alone */
    memset(v->target.user, 0, sizeof(v->target.user));
    memset(v->target.password, 0, sizeof(v->target.password));
    if (user != NULL) {
        memcpy(v->target.user, user, ulen);
        v->has_user = 1;
    }
    memcpy(v->target.password, pass, plen);
    rconn_init(&v->rc);
    if (rconn_start(&v->rc, &v->target, &setup) == RCONN_FAILED) {
        atomic_fetch_add_explicit(&px->metrics.verifies[METRICS_VERIFY_FAILED],
                                  1, memory_order_relaxed);
        v->result = VERIFY_FAILED;
        snprintf(v->err, sizeof(v->err), "%s", rconn_error(&v->rc));
        rconn_close(&v->rc);
        return v;
    }
    if (waiter_watch(px->waiter, c, v->rc.fd) < 0 ||
        waiter_want_write(px->waiter, c, v->rc.fd) < 0) {
        waiter_unwatch(px->waiter, v->rc.fd); /* harmless if never added */
        rconn_close(&v->rc);
        explicit_bzero(v->target.password, sizeof(v->target.password));
        free(v);
        snprintf(err, VERIFY_ERR_MAX, "cannot watch a redis connection");
        return NULL;
    }
    v->watched = 1;
    v->deadline_ms = v->rc.deadline_ms;
    return v;
}

/* Redis accepted the credentials: the client's identity. */
static void
accepted(struct proxy *px, struct verify *v)
{
    const char *user = v->has_user ? v->target.user : NULL;
    size_t ulen = user != NULL ? strlen(user) : 0;

    v->result = VERIFY_OK;
    if (idents_is_own(px->idents, user, ulen)) {
        return; /* the proxy's own user: no identity needed */
    }
    v->ident = idents_get(px->idents, user != NULL ? user : "default",
                          user != NULL ? ulen : 7, v->target.password,
                          strlen(v->target.password));
    if (v->ident == NULL) {
        v->result = VERIFY_FAILED;
        snprintf(v->err, sizeof(v->err),
                 "no room for another redis identity (at most %d)", IDENTS_MAX);
    }
}

int
verify_step(struct proxy *px, struct verify *v)
{
    static const char failed[] = "AUTH failed: ";
    enum rconn_state st;

    if (v->result != VERIFY_PENDING) {
        return v->result;
    }
    if (rconn_overdue(&v->rc, util_now_ms())) {
        rconn_fail(&v->rc, "connect to %s:%d: no answer within %lld ms",
                   v->target.host, v->target.port,
                   (long long)proxy_cfg(px)->connect_timeout_ms);
    }
    st = rconn_step(&v->rc);
    if (st == RCONN_READY) {
        accepted(px, v);
    } else if (st == RCONN_FAILED && v->rc.refused &&
               strncmp(rconn_error(&v->rc), failed, sizeof(failed) - 1) == 0) {
        v->result = VERIFY_REFUSED;
        snprintf(v->err, sizeof(v->err), "%s",
                 rconn_error(&v->rc) + sizeof(failed) - 1);
    } else if (st == RCONN_FAILED) {
        v->result = VERIFY_FAILED;
        snprintf(v->err, sizeof(v->err), "%s", rconn_error(&v->rc));
    } else {
        return VERIFY_PENDING;
    }
    atomic_fetch_add_explicit(
        &px->metrics
             .verifies[v->result == VERIFY_OK        ? METRICS_VERIFY_OK
                       : v->result == VERIFY_REFUSED ? METRICS_VERIFY_REFUSED
                                                     : METRICS_VERIFY_FAILED],
        1, memory_order_relaxed);
    if (v->result == VERIFY_FAILED) {
        log_debug("msg=\"credentials could not be checked\" cause=\"%s\"",
                  v->err);
    }
    stop(px, v);
    return v->result;
}

int
verify_result(const struct verify *v)
{
    return v->result;
}

int
verify_matches(const struct verify *v, const char *user, size_t ulen,
               const char *pass, size_t plen)
{
    if ((user != NULL) != v->has_user ||
        (user != NULL && (strlen(v->target.user) != ulen ||
                          memcmp(v->target.user, user, ulen) != 0))) {
        return 0;
    }
    return strlen(v->target.password) == plen &&
           memcmp(v->target.password, pass, plen) == 0;
}

const char *
verify_error(const struct verify *v)
{
    return v->err;
}

int
verify_wrong_password(const struct verify *v)
{
    return v->result == VERIFY_REFUSED && strncmp(v->err, "WRONGPASS", 9) == 0;
}

struct ident *
verify_take_ident(struct verify *v)
{
    struct ident *id = v->ident;

    v->ident = NULL;
    return id;
}

const char *
verify_user(const struct verify *v)
{
    return v->has_user ? v->target.user : NULL;
}

const char *
verify_password(const struct verify *v)
{
    return v->target.password;
}

int64_t
verify_deadline(const struct verify *v)
{
    return v->deadline_ms;
}

void
verify_free(struct proxy *px, struct verify *v)
{
    if (v == NULL) {
        return;
    }
    stop(px, v);
    ident_drop(v->ident);
    explicit_bzero(v->target.password, sizeof(v->target.password));
    free(v);
}
