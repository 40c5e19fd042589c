/*
 * service_util: see service_util.h. The suite `service` is declared here,
 * its tests in test_service*.c.
 */
#include "service_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SV_SCRATCH 3

struct h_redis sv_redis;
struct h_proxy sv_proxy;
struct h_notify sv_notify;

/* Scratch directories the test made, removed after it by the fixture. */
static char scratch[SV_SCRATCH][128];
static int nscratch;

static void
sv_setup(void)
{
    nscratch = 0;
    memset(&sv_notify, 0, sizeof(sv_notify));
    h_pair_setup(&sv_redis, &sv_proxy);
}

/* Removes root and everything under it. */
static void
sv_remove_tree(const char *root)
{
    char *argv[] = {"rm", "-rf", (char *)root, NULL};
    char out[256];

    h_exec(argv, NULL, out, sizeof(out), 5000);
}

static void
sv_teardown(void)
{
    h_pair_teardown(&sv_redis, &sv_proxy);
    h_notify_close(&sv_notify);
    while (nscratch > 0) {
        sv_remove_tree(scratch[--nscratch]);
    }
}

TestSuite(service, .init = sv_setup, .fini = sv_teardown, .timeout = 60);

const char *
sv_scratch_dir(const char *kind)
{
    char *dir;

    cr_assert_lt(nscratch, SV_SCRATCH);
    dir = scratch[nscratch];
    snprintf(dir, sizeof(scratch[0]), "/tmp/rp-e2e-%s-XXXXXX", kind);
    cr_assert_not_null(mkdtemp(dir));
    nscratch++;
    return dir;
}

void
sv_expect_repo_root(void)
{
    cr_assert_eq(access("Makefile", R_OK) == 0 &&
                     access("docs/redis-proxy.8", R_OK) == 0 &&
                     access("tools/redis-proxy.service.in", R_OK) == 0,
                 1, "run the end-to-end tests from the repository's root");
}

char *
sv_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len != NULL) {
        *len = (size_t)n;
    }
    return buf;
}
