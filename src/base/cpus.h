/*
 * cpus: how many CPUs this process may really run on: the CPUs in its
 * affinity mask (taskset, cpusets), and no more than a cgroup CPU quota
 * allows (cgroup v2 cpu.max, or v1 cfs_quota_us / cfs_period_us, rounded
 * up), so a proxy pinned to one CPU, or in a container limited to one,
 * counts one. Reads /proc/self/cgroup and /sys/fs/cgroup once per call.
 */
#ifndef RP_CPUS_H
#define RP_CPUS_H

/* The usable CPU count, at least 1. */
int cpus_usable(void);

/* The CPU limit a quota of quota_us per period_us allows (quota <= 0:
 * none, returns 0), rounded up. Exposed for tests. */
int cpus_from_quota(long long quota_us, long long period_us);

#endif
