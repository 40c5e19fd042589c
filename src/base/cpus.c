/*
 * cpus: affinity mask and cgroup quota; see cpus.h.
 */
#include "base/cpus.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
cpus_from_quota(long long quota_us, long long period_us)
{
    if (quota_us <= 0 || period_us <= 0) {
        return 0;
    }
    return (int)((quota_us + period_us - 1) / period_us);
}

/* Is "cpu" one of the comma-separated controllers in c[0..n)? */
static int
has_cpu_controller(const char *c, size_t n)
{
    while (n > 0) {
        const char *comma = memchr(c, ',', n);
        size_t len = comma != NULL ? (size_t)(comma - c) : n;

        if (len == 3 && memcmp(c, "cpu", 3) == 0) {
            return 1;
        }
        if (comma == NULL) {
            break;
        }
        n -= len + 1;
        c = comma + 1;
    }
    return 0;
}

/* The cgroup of this process that sets its CPU quota, into path: the v1
 * hierarchy with the cpu controller when there is one, else the v2 one
 * ("0::/path"). Returns 2 (v2), 1 (v1) or 0 (none found). */
static int
own_cgroup(char *path, size_t cap)
{
    char line[512];
    int v = 0;
    FILE *f = fopen("/proc/self/cgroup", "re");

    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *c = strchr(line, ':'), *p = c != NULL ? strchr(c + 1, ':') : NULL;

        if (p == NULL) {
            continue;
        }
        p[strcspn(p, "\n")] = '\0';
        if (has_cpu_controller(c + 1, (size_t)(p - c - 1))) {
            snprintf(path, cap, "%s", p + 1);
            v = 1;
            break;
        }
        if (p == c + 1 && strncmp(line, "0:", 2) == 0) {
            snprintf(path, cap, "%s", p + 1);
            v = 2;
        }
    }
    fclose(f);
    return v;
}

/* The quota limit of the cgroup, or 0 for none. */
static int
quota_limit(void)
{
    char cg[256], file[512];
    long long quota = 0, period = 0;
    FILE *f;
    int v = own_cgroup(cg, sizeof(cg)), n = 0;

    if (v == 2) {
        char max[32];

        snprintf(file, sizeof(file), "/sys/fs/cgroup%s/cpu.max", cg);
        if ((f = fopen(file, "re")) != NULL) {
            if (fscanf(f, "%31s %lld", max, &period) == 2 &&
                strcmp(max, "max") != 0) {
                sscanf(max, "%lld", &quota);
            }
            fclose(f);
        }
        return cpus_from_quota(quota, period);
    }
    if (v == 1) {
        const char *dirs[] = {"/sys/fs/cgroup/cpu,cpuacct",
                              "/sys/fs/cgroup/cpu"};

        for (size_t i = 0; i < 2 && n == 0; i++) {
            snprintf(file, sizeof(file), "%s%s/cpu.cfs_quota_us", dirs[i], cg);
            if ((f = fopen(file, "re")) == NULL) {
                continue;
            }
            if (fscanf(f, "%lld", &quota) != 1) {
                quota = 0;
            }
            fclose(f);
            snprintf(file, sizeof(file), "%s%s/cpu.cfs_period_us", dirs[i], cg);
            if ((f = fopen(file, "re")) != NULL) {
                if (fscanf(f, "%lld", &period) != 1) {
                    period = 0;
                }
                fclose(f);
            }
            n = cpus_from_quota(quota, period);
        }
    }
    return n;
}

int
cpus_usable(void)
{
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int n = online > 0 ? (int)online : 1, quota;

    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
        n = CPU_COUNT(&set);
    }
    quota = quota_limit();
    if (quota > 0 && quota < n) {
        n = quota;
    }
    return n > 0 ? n : 1;
}
