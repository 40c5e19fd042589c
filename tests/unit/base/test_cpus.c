/*
 * Unit tests for cpus: the quota arithmetic, and the affinity mask as the
 * worker gate sees it. The affinity tests change the mask of the test's own
 * thread (cpus_usable reads the calling thread's mask, which is what a
 * process started under taskset has on every thread); Criterion runs each
 * test in its own process, so nothing leaks into other tests.
 */
#include <criterion/criterion.h>

#include <sched.h>

#include "base/cpus.h"

Test(cpus, quota_rounds_up_and_zero_means_none)
{
    cr_assert_eq(cpus_from_quota(0, 100000), 0);
    cr_assert_eq(cpus_from_quota(-1, 100000), 0); /* v1 "no limit" */
    cr_assert_eq(cpus_from_quota(100000, 0), 0);
    cr_assert_eq(cpus_from_quota(100000, 100000), 1);
    cr_assert_eq(cpus_from_quota(50000, 100000), 1); /* half a CPU: one */
    cr_assert_eq(cpus_from_quota(100001, 100000), 2);
    cr_assert_eq(cpus_from_quota(150000, 100000), 2);
    cr_assert_eq(cpus_from_quota(400000, 100000), 4);
    cr_assert_eq(cpus_from_quota(10000000000LL, 100000), 100000);
}

/* The CPUs of the calling thread's mask, in order. */
static int
allowed(int *cpu, int cap)
{
    cpu_set_t set;
    int n = 0;

    cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
    for (int i = 0; i < CPU_SETSIZE && n < cap; i++) {
        if (CPU_ISSET(i, &set)) {
            cpu[n++] = i;
        }
    }
    return n;
}

static void
pin(const int *cpu, int n)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    for (int i = 0; i < n; i++) {
        CPU_SET(cpu[i], &set);
    }
    cr_assert_eq(sched_setaffinity(0, sizeof(set), &set), 0);
}

Test(cpus, pinned_to_one_cpu_counts_one)
{
    int cpu[CPU_SETSIZE], n = allowed(cpu, CPU_SETSIZE);

    cr_assert_gt(n, 0);
    /* every CPU alone, as `taskset -c N` leaves it */
    for (int i = 0; i < n; i++) {
        pin(&cpu[i], 1);
        cr_assert_eq(cpus_usable(), 1, "pinned to CPU %d", cpu[i]);
    }
}

Test(cpus, counts_the_mask_not_the_cpus_online)
{
    int cpu[CPU_SETSIZE], n = allowed(cpu, CPU_SETSIZE), all;

    all = cpus_usable();
    cr_assert(all >= 1 && all <= n, "%d usable of %d in the mask", all, n);
    if (n < 2) {
        cr_skip_test("one CPU in this process's mask");
    }
    pin(cpu, 2);
    /* two CPUs, unless a cgroup quota allows fewer (it allows all at
     * least: it is the same quota) */
    cr_assert_eq(cpus_usable(), all < 2 ? all : 2);
    pin(cpu, n);
    cr_assert_eq(cpus_usable(), all);
}
