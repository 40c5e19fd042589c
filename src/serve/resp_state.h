/*
 * resp_state: the connection state the proxy keeps for each RESP client,
 * so that what clients set on connect never opens a session: the protocol
 * (HELLO 2/3), the database (SELECT), the name and library (CLIENT
 * SETNAME/SETINFO, HELLO SETNAME), the proxy's own client id, NO-EVICT and
 * NO-TOUCH, and whether the client has authenticated. Here also the
 * proxy's answers to HELLO, AUTH, SELECT, RESET and those CLIENT
 * subcommands, with Redis 7's texts, encoded for the client's protocol.
 * Belongs to one conn's owner; not thread-safe.
 */
#ifndef RP_RESP_STATE_H
#define RP_RESP_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/resp.h"
#include "serve/guard.h"

struct proxy;
struct conn;
struct ident;
struct verify;

struct resp_state {
    int authed;          /* AUTH passed, or none required when it opened
                            (guard_let_in decides) */
    struct guard guard;  /* wrong passwords so far */
    int perm;            /* enum auth_perm: what its AUTH lets it do
                            (AUTH_WRITE until a read user's AUTH) */
    char *user;          /* the user it authenticated as (heap; NULL: the
                            default user), for CLIENT INFO */
    struct ident *ident; /* ACL passthrough: the Redis identity its
                            commands run as (a hold; NULL: the proxy's
                            own, upstream/idents.h) */
    struct verify *vf;   /* borrowed from its conn for resp_state_answer:
                            the check of credentials against Redis in
                            progress or done (verify.h), or NULL */
    const struct resp_arg *ask_user, *ask_pass; /* STATE_VERIFY: the
                            credentials to check (NULL user: none);
                            valid until the argv of the call goes */
    int proto;                                  /* 2 or 3 */
    int db;           /* the database its commands run in */
    uint64_t id;      /* the proxy's id for it (CLIENT ID) */
    int64_t since_ms; /* connected at (CLIENT INFO age) */
    unsigned no_evict : 1, no_touch : 1;
    char *name;     /* CLIENT SETNAME / HELLO SETNAME (heap; NULL: none) */
    char *lib_name; /* CLIENT SETINFO lib-name (heap; NULL: none) */
    char *lib_ver;  /* CLIENT SETINFO lib-ver (heap; NULL: none) */
};

/* A new connection's state: RESP2, the configured database... */
void resp_state_init(struct resp_state *s, struct proxy *px);

/* RESET: s back to a new connection's (logged out: the proxy's own
 * identity), keeping its id, age and the wrong passwords counted
 * (guard.h). */
void resp_state_reset(struct resp_state *s, struct proxy *px);

/* Frees what s holds (its names, its identity's hold); s is then as
 * after memset 0. */
void resp_state_free(struct resp_state *s);

/* What one of these answers did besides its reply. */
enum resp_state_effect {
    STATE_NONE = 0,
    STATE_AUTHED, /* the client authenticated */
    STATE_PROTO,  /* the protocol changed (HELLO): a session follows */
    STATE_DB,     /* the database changed (SELECT): a session follows */
    STATE_RESET,  /* RESET: everything back to a new connection's */
    STATE_CLOSE,  /* close after the reply (too many failures) */
    STATE_VERIFY, /* no reply yet: ACL passthrough, Redis must check the
                     credentials in s->ask_user / ask_pass first (the
                     caller starts it, sets s->vf, and asks again with
                     the same command once the check is over) */
};

/* The reply to one of the proxy's own state commands (AUTH, HELLO,
 * SELECT, RESET, CLIENT SETNAME|GETNAME|SETINFO|ID|INFO|NO-EVICT|NO-TOUCH)
 * for the client c with state s: argv[0..argc) are every argument.
 * Writes the reply into a heap buffer *out (*out_len bytes; the caller
 * frees it) and returns an enum resp_state_effect, or -1 when out of
 * memory. *status gets the HTTP-like class for accounting. */
int resp_state_answer(struct proxy *px, struct conn *c, struct resp_state *s,
                      const struct resp_arg *argv, size_t argc, char **out,
                      size_t *out_len, int *status);

/* The databases a client may select (Redis's `databases`; 16 until the
 * proxy has read it, or when Redis does not say: CONFIG refused). */
int resp_state_databases(struct proxy *px);

#endif
