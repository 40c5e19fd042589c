/*
 * sdnotify: the sd_notify(3) datagram protocol (see sdnotify.h). The
 * address rules are systemd's: "/path" is a filesystem socket, "@name" the
 * abstract socket "\0name" (its length, not a NUL, ends the name); anything
 * else (a relative path, "vsock:...") is not ours to reach and is refused.
 * The socket is close-on-exec, the send never raises SIGPIPE, is retried on
 * EINTR and waits at most SDNOTIFY_SEND_MS for room in a full socket.
 */
#include "base/sdnotify.h"

#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define SDNOTIFY_SEND_MS 1000 /* longest wait for room in the socket */

/* Fills sa and *len from a $NOTIFY_SOCKET value. Returns 0 or -1 (errno). */
static int
sdnotify_address(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = strlen(name);

    if (name[0] != '/' && name[0] != '@') {
        errno = EAFNOSUPPORT;
        return -1;
    }
    if (n < 2) {
        errno = EINVAL; /* "/" is no socket, "@" no name */
        return -1;
    }
    if (n >= sizeof(sa->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, name, n);
    if (name[0] == '@') {
        sa->sun_path[0] = '\0';
    }
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    return 0;
}

/* Sends msg[0..len) as one datagram to sa. Returns 0 or -1 (errno). */
static int
sdnotify_send(const struct sockaddr_un *sa, socklen_t salen, const char *msg,
              size_t len)
{
    struct timeval tv = {.tv_sec = SDNOTIFY_SEND_MS / 1000,
                         .tv_usec = (SDNOTIFY_SEND_MS % 1000) * 1000};
    int fd, saved, rc = -1;
    ssize_t n;

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
        goto out;
    }
    do {
        n = sendto(fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)sa,
                   salen);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        rc = 0; /* a datagram goes whole or not at all */
    }
out:
    saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Logs the outcome of one report: debug when sent (so a log shows when
 * each report went, among the other lines), warn when it failed. The
 * report is quoted on one line, newlines as blanks; errno is kept. */
static void
sdnotify_log(const char *name, const char *msg, int sent)
{
    char text[128];
    int saved = errno;
    size_t i;

    for (i = 0; msg[i] != '\0' && i < sizeof(text) - 1; i++) {
        text[i] = msg[i] == '\n' ? ' ' : msg[i] == '"' ? '\'' : msg[i];
    }
    text[i] = '\0';
    if (sent) {
        log_debug("msg=\"service manager notified\" report=\"%s\"", text);
    } else {
        log_warn("msg=\"cannot notify the service manager\" "
                 "notify_socket=\"%.100s\" report=\"%s\" error=\"%s\"",
                 name, text, strerror(saved));
    }
    errno = saved;
}

int
sdnotify(const char *msg)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen;
    size_t len = strlen(msg);
    int rc = -1;

    if (name == NULL || name[0] == '\0') {
        return 0;
    }
    if (len > SDNOTIFY_MSG_MAX) {
        errno = EMSGSIZE;
    } else if (sdnotify_address(name, &sa, &salen) == 0 &&
               sdnotify_send(&sa, salen, msg, len) == 0) {
        rc = 1;
    }
    sdnotify_log(name, msg, rc == 1);
    return rc;
}

int
sdnotifyf(const char *fmt, ...)
{
    char msg[SDNOTIFY_MSG_MAX + 1];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(msg)) {
        errno = EMSGSIZE;
        return -1;
    }
    return sdnotify(msg);
}

int
sdnotify_reloading(void)
{
    return sdnotifyf("RELOADING=1\nMONOTONIC_USEC=%" PRId64, util_now_us());
}
