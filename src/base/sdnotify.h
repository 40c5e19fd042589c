/*
 * sdnotify: reports to the service manager (systemd's Type=notify), the
 * sd_notify(3) datagram protocol implemented here rather than linked from
 * libsystemd.
 *
 * The protocol: when $NOTIFY_SOCKET names an AF_UNIX datagram socket (an
 * absolute path, or an abstract name written with a leading '@'), a report
 * is one datagram of newline-separated VARIABLE=VALUE assignments
 * ("READY=1", "STOPPING=1", "STATUS=...", "RELOADING=1\nMONOTONIC_USEC=N");
 * the manager learns who sent it from the socket's credentials, so any
 * thread of the process may send. systemd documents it as a stable
 * interface and sd_notify(3) shows a standalone implementation of the same
 * size as this one, so it costs no dependency, and libsystemd's sd_notify
 * behaves the same on the wire.
 *
 * A report never fails the proxy: without $NOTIFY_SOCKET nothing happens,
 * and a socket that is missing, refuses, or stays full for a second only
 * makes the call return -1 and log a warning (a report sent is logged at
 * debug level). Stateless (one socket per report, closed before
 * returning), so every function is thread-safe while nobody changes the
 * environment.
 */
#ifndef RP_SDNOTIFY_H
#define RP_SDNOTIFY_H

#define SDNOTIFY_MSG_MAX 4096 /* bytes of one report at most */

/*
 * Sends msg (one or more "VARIABLE=VALUE" lines, without a trailing
 * newline) as one datagram to $NOTIFY_SOCKET. Returns 1 when it was sent, 0
 * when $NOTIFY_SOCKET is unset or empty (not run by a service manager), -1
 * with errno set when it could not be sent: EAFNOSUPPORT for an address
 * that is neither an absolute path nor '@'-abstract, ENAMETOOLONG, EMSGSIZE
 * for a msg over SDNOTIFY_MSG_MAX, or the socket's own error (ENOENT,
 * ECONNREFUSED, EAGAIN after a second of a full socket). Callers may ignore
 * the result: the proxy runs the same either way.
 */
int sdnotify(const char *msg);

/* sdnotify of the text fmt formats (printf-style); -1 with EMSGSIZE, and
 * nothing sent, when it is over SDNOTIFY_MSG_MAX bytes. */
int sdnotifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A reload begins: "RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC now, in
 * microseconds>". Send "READY=1" once it is over, whether the new settings
 * were applied or refused. Returns as sdnotify.
 */
int sdnotify_reloading(void);

#endif
