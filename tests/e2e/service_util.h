/*
 * service_util: what the service suite's files (test_service.c: sd_notify;
 * test_service_install.c: make install, the unit, the man page;
 * test_service_repo.c: the repository's own files) share: the suite's
 * fixture, a scratch directory a test may ask for, and reading the
 * repository's files. These fail the running Criterion test instead of
 * returning an error. Not thread-safe.
 */
#ifndef RP_E2E_SERVICE_UTIL_H
#define RP_E2E_SERVICE_UTIL_H

#include <stddef.h>

#include "harness.h"

#define SV_OUT_CAP 65536 /* what a command may print */

/* The suite `service`'s Redis (started before each test) and proxy (a
 * test starts it with h_start_proxy), both stopped after the test; and
 * its notify socket (a test opens it with h_notify_open), closed after. */
extern struct h_redis sv_redis;
extern struct h_proxy sv_proxy;
extern struct h_notify sv_notify;

/* A fresh /tmp/rp-e2e-KIND-XXXXXX, removed (with all under it) after the
 * test, also when an assertion failed; at most three a test. */
const char *sv_scratch_dir(const char *kind);

/* Fails unless the current directory is the repository's root. */
void sv_expect_repo_root(void);
/* Reads a whole file (malloc'd, NUL-terminated; *len its size unless len
 * is NULL) or fails. */
char *sv_slurp(const char *path, size_t *len);

#endif
