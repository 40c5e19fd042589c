/*
 * harness_int: what the harness's files share among themselves and tests
 * do not use (the h__ prefix). Every wait is against a deadline on the
 * monotonic clock (h_now_ms), so no helper can hang.
 */
#ifndef RP_E2E_HARNESS_INT_H
#define RP_E2E_HARNESS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define H_IO_MS 2000    /* SO_RCVTIMEO / SO_SNDTIMEO of harness sockets */
#define H_STOP_MS 5000  /* a child must exit within this after a signal */
#define H_START_TRIES 3 /* fresh ports tried when a child fails to bind */
#define H_MAX_ARGS 64   /* argv entries of a child, NULL included */

/* ---- sockets (harness_net.c) ---- */

/* Waits until fd is readable (or closed, or errored) or deadline passes;
 * polls at least once. Returns 1 if readable, 0 on timeout. */
int h__wait_readable(int fd, int64_t deadline);
/* Reads exactly len bytes by deadline. Returns 0 or -1. */
int h__read_exact(int fd, char *buf, size_t len, int64_t deadline);

/* ---- cluster nodes (harness_cluster.c) ---- */

struct h_cluster;
/* Starts node i of cl on fresh ports (a client port, TLS when cl->tls,
 * and a bus port), with extra appended to its command line. Returns 0 or
 * -1. */
int h__cnode_start(struct h_cluster *cl, int i, const char *const *extra);

/* ---- child processes (harness_proc.c) ---- */

/* n distinct ports the kernel just handed out for 127.0.0.1; never 6379.
 * Returns 0 or -1. */
int h__free_ports(int *ports, int n);
/* Forks and execs argv with stdout and stderr going to out_fd; the child
 * dies with the test process. Returns the pid or -1. */
pid_t h__spawn(char *const argv[], int out_fd);
/* h__spawn with envp as the child's whole environment (NULL: this
 * process's). */
pid_t h__spawn_env(char *const argv[], char *const envp[], int out_fd);
/* Waits for pid up to ms; returns the wait status or -1 if still running. */
int h__reap(pid_t pid, int ms);
/* Signals pid, waits, SIGKILLs if needed. Returns the wait status or -1. */
int h__terminate(pid_t pid, int sig);
/* Kills *pid if it is a running child of this process (never a stray
 * number), then zeroes it. */
void h__kill_child(pid_t *pid);
/* Removes dir and the plain files in it. */
void h__rmdir(const char *dir);
/* Creates $TMPDIR/rp-e2e-<kind>-XXXXXX (default /tmp). Returns 0 or -1. */
int h__mkdtemp(char *buf, size_t cap, const char *kind);
/* Appends args (NULL-terminated, may be NULL) to argv[*argc..] and the
 * final NULL, at most H_MAX_ARGS entries in all. */
void h__add_args(char **argv, int *argc, const char *const *args);
/* Spawns argv with output appended to log and waits until it listens on
 * every port. Returns 0; or -1 with *pid = 0 if it died, or still running
 * (the caller kills it) if it did not listen in time. */
int h__launch(const char *log, char *const argv[], const int *ports, int nports,
              pid_t *pid);
/* h__launch with envp as the child's environment (NULL: this process's). */
int h__launch_env(const char *log, char *const argv[], char *const envp[],
                  const int *ports, int nports, pid_t *pid);

#endif
