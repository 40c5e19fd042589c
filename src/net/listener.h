/*
 * listener: the listening sockets and the blocking accept loop.
 *
 * The loop sleeps in poll() on the listeners and a stop fd, accepts every
 * pending connection (non-blocking, close-on-exec, TCP_NODELAY), and either
 * pushes it onto the work queue or, over max_clients, answers it itself
 * (its conn_ops busy reply: HTTP 503, RESP -ERR max number of clients
 * reached; nothing on a TLS listener, which could answer only after a
 * handshake) and closes it, so a rejected client never reaches the queue
 * or a worker. A conn of a TLS listener gets its TLS connection here; its
 * handshake is left to the workers. Runs on the main thread; returns when
 * the stop fd becomes readable.
 */
#ifndef RP_LISTENER_H
#define RP_LISTENER_H

#include <stddef.h>

#include "net/conn.h"
#include "net/workq.h"

/* One listening socket and the kind of conn it accepts. */
struct listener {
    int fd;                       /* from listener_open */
    const struct conn_kind *kind; /* protocol, budget, timeouts */
};

/* Opens a listening TCP socket on bind:port (numeric or resolvable
 * address). Returns the fd, or -1 with a message in err[0..errlen). */
int listener_open(const char *bind, int port, char *err, size_t errlen);

/* Accepts on the n listeners until stop_fd is readable, pushing each new
 * conn onto q, or answering it with its kind's busy reply and closing it
 * when its budget is spent. Returns 0, or -1 if poll itself fails. */
int listener_run(const struct listener *ls, int n, struct workq *q,
                 int stop_fd);

#endif
