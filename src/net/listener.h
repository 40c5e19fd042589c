/*
 * listener: the listening sockets and the blocking accept loop.
 *
 * The loop sleeps in poll() on the listeners and a stop fd, accepts every
 * pending connection (non-blocking, close-on-exec, TCP_NODELAY), and either
 * pushes it onto the work queue or, over max_clients, answers it itself
 * (HTTP 503 / -ERR max number of clients reached) and closes it, so a
 * rejected client never reaches the queue or a worker. Runs on the main
 * thread; returns when the stop fd becomes readable.
 */
#ifndef RP_LISTENER_H
#define RP_LISTENER_H

#include <stddef.h>

#include "serve/proxy.h"

/* Admin connections allowed on top of max_clients, so a proxy whose
 * clients took every slot can still be scraped. */
#define LISTENER_ADMIN_CLIENTS 64

/* Opens a listening TCP socket on bind:port (numeric or resolvable
 * address). Returns the fd, or -1 with a message in err[0..errlen). */
int listener_open(const char *bind, int port, char *err, size_t errlen);

/* Accepts on http_fd, resp_fd and admin_fd (-1 = off) until stop_fd is
 * readable. Admin connections have their own budget
 * (LISTENER_ADMIN_CLIENTS), outside max_clients. Returns 0, or -1 if poll
 * itself fails. */
int listener_run(struct proxy *px, int http_fd, int resp_fd, int admin_fd,
                 int stop_fd);

#endif
