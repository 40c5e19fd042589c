/*
 * waiter: the readiness of every connection, so that idle keep-alive
 * clients, slow senders and slow readers never occupy a worker (the model
 * of Varnish's waiter and Apache's event MPM).
 *
 * Each conn is attached once, when a worker first takes it: it gets a
 * slot for its whole life and its socket is registered with the waiter's
 * epoll set once, edge-triggered, tagged with the slot and the slot's
 * generation: for reading, and for writing too from the first time its
 * output does not fit the socket (waiter_want_write, once per conn). So
 * parking a conn costs no system call.
 * A slot's atomic state word (generation << 32 | kind | pending bit) says
 * who has the conn:
 *
 *   RUNNING  a worker (or the queue) has it. A readiness report for it
 *            sets the PENDING bit, and the owner, when it tries to park,
 *            finds the bit and serves again instead: an edge is never lost.
 *   PARKED   the waiter has it, until a report claims it for the worker
 *            that got the report (one compare-and-swap: exactly one
 *            claimer wins), or its deadline passes.
 *   FREE     no conn; the generation was bumped when the conn left, so a
 *            report still in flight for it is recognised and dropped
 *            without touching anything.
 *
 * Idle workers wait in the epoll set themselves (waiter_wait): the worker
 * the kernel wakes for a readable or writable conn serves it at once, with
 * no thread in between. The work queue's eventfd is in the same set
 * (edge-triggered), so a waiting worker wakes for either. The waiter's own
 * thread only enforces deadlines: every 100 ms it claims the parked conns
 * whose deadline passed and closes them (after their ops' last word, e.g.
 * HTTP's 408), except that a conn whose input arrived while every worker
 * was busy goes to the work queue, so a request that came in time is never
 * dropped for want of a worker.
 *
 * Other descriptors can be watched on a conn's behalf (waiter_watch: a
 * session's private Redis connection), under the conn's tag: readiness on
 * any of them is readiness of the conn. A descriptor that belongs to no
 * conn (a shared Redis pipeline, upstream/pipe.h) is watched as an event
 * source (waiter_watch_event): the worker that gets its report calls its
 * `ready` function, inside waiter_wait.
 *
 * Other threads reach a conn through its slot and generation
 * (waiter_wake): a reply Redis sent for it is readiness too. A parked
 * conn is claimed for the waking thread (onto its adoption list when it
 * is a worker, see waiter_adopt_into, else onto the work queue); one a
 * worker has is marked pending, so its owner serves it again before it
 * parks. The conn's generation makes a wake-up for a conn that has gone
 * meanwhile harmless.
 *
 * Threads and locks: `lock` guards only the slot free list, the count of
 * slots handed out and the stopped flag, for a few instructions at a time;
 * no lock is held across a system call, and the waiter never holds its
 * lock while calling into the work queue.
 */
#ifndef RP_WAITER_H
#define RP_WAITER_H

#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"
#include "net/workq.h"

struct waiter;

/* Creates the waiter for at most slots conns and starts its deadline
 * thread; workers also wake for items in q. Returns NULL on failure. */
struct waiter *waiter_create(struct workq *q, size_t slots);

/* Gives c (owned by the caller, not yet attached) a slot for life and
 * registers its socket. Returns 0, or -1 when the waiter is stopped or
 * full or epoll refuses the socket (c is still the caller's). */
int waiter_attach(struct waiter *w, struct conn *c);

/* Registers fd (owned by the caller) under attached conn c: its readiness
 * wakes a worker for c. Unregister with waiter_unwatch before closing it.
 * Returns 0 or -1. */
int waiter_watch(struct waiter *w, struct conn *c, int fd);
void waiter_unwatch(struct waiter *w, int fd);

/* An event source that is not a conn (a shared Redis pipeline): its
 * descriptor's readiness calls ready(ev) in the worker that got the
 * report (inside waiter_wait), which must not block. Embedded in its
 * owner. */
struct waiter_event {
    void (*ready)(struct waiter_event *ev);
};

/* Registers fd (owned by the caller) for readability and writability,
 * edge-triggered, reported to ev (which must outlive the registration).
 * Unregister with waiter_unwatch before closing fd. Returns 0 or -1. */
int waiter_watch_event(struct waiter *w, int fd, struct waiter_event *ev);

/* Runs ev->ready(ev) later on the calling worker: before it next sleeps
 * in waiter_wait, or at its next waiter_run_deferred (a shared Redis
 * pipeline with commands queued writes them all in one go then, after
 * the worker has served the other conns that were ready). At once on a
 * thread that is not a worker, or when the list is full. The caller
 * makes sure one ev is deferred once at a time. */
void waiter_defer(struct waiter_event *ev);

/* Runs what waiter_defer put off on the calling thread, in order. */
void waiter_run_deferred(void);

/* Room for the conns other threads' wake-ups claim for the calling
 * worker (waiter_wake): it serves them next. */
#define WAITER_ADOPT_MAX 64
#define WAITER_DEFER_MAX 64
struct waiter_adopted {
    struct conn *c[WAITER_ADOPT_MAX];
    int n;
    struct waiter_event *deferred[WAITER_DEFER_MAX]; /* waiter_defer */
    int ndeferred;
};

/* Makes a (NULL: no) list the calling thread's adoption list. For worker
 * threads, once, before their first waiter_wait. */
void waiter_adopt_into(struct waiter_adopted *a);

/*
 * Something for the conn of slot/gen arrived from another party (a reply
 * Redis sent for it): as a readiness report. A parked conn is claimed and
 * put on the calling thread's adoption list (or, with no room or no list,
 * the work queue); one that is being served is marked pending; a gone one
 * (another generation) is left alone. Thread-safe; never blocks.
 */
void waiter_wake(struct waiter *w, uint32_t slot, uint32_t gen);

/* Adds writability to what fd (c's socket, or one watched for c) reports:
 * call once, the first time output to it stalls. Returns 0 or -1. */
int waiter_want_write(struct waiter *w, struct conn *c, int fd);

/*
 * Hands attached c to the waiter until it is ready or deadline_ms
 * (monotonic; 0 = never) passes. Returns 0 (the caller no longer owns c),
 * 1 when readiness was reported while the caller had it (the caller keeps
 * c and serves it again), or -1 when the waiter is stopped (the caller
 * keeps c and should drop it). Thread-safe.
 */
int waiter_park(struct waiter *w, struct conn *c, int64_t deadline_ms);

/*
 * Waits up to timeout_ms (-1 = no limit) for readiness and claims up to
 * max parked conns it reports, owned by the caller from then on. Returns
 * how many were put in out; 0 when the work queue has items or is shut
 * down, when every report lost its race or was for a conn someone has, or
 * on timeout. A wake-up of the queue that comes with claims is passed on
 * to another waiting worker. For worker threads. Thread-safe.
 */
int waiter_wait(struct waiter *w, struct conn **out, int max, int timeout_ms);

/* Frees c's slot (bumping its generation) and destroys c. For c's owner;
 * also right for a conn that was never attached. */
void waiter_drop(struct waiter *w, struct conn *c);

/* Drops c, whose deadline passed, after its ops' last word (an HTTP conn
 * holding a partial request gets "408 Request Timeout": one non-blocking
 * send), unless output is still queued for c: then it just closes. For
 * c's owner: the deadline thread, or a worker that read a request still
 * incomplete at its deadline. */
void waiter_expire(struct waiter *w, struct conn *c);

/* Stops and joins the deadline thread, then hands parked conns that have
 * bytes waiting (a request in flight) to the queue and closes the rest.
 * Later attaches and parks fail and waiter_wait() returns only 0. Call
 * before workq_shutdown(). Idempotent. */
void waiter_stop(struct waiter *w);

/* Stops (if needed) and frees the waiter. Call after every worker that
 * may be in waiter_wait() has returned and every conn was dropped. NULL is
 * a no-op. */
void waiter_destroy(struct waiter *w);

/* Sets fn(arg) to run on the deadline thread at every tick (100 ms),
 * e.g. to fail Redis connects that passed connect_timeout. Call before
 * any worker starts; one hook. fn must not block. */
void waiter_on_tick(struct waiter *w, void (*fn)(void *arg), void *arg);

/* Conns parked now. Thread-safe. */
int waiter_count(struct waiter *w);

/*
 * Gives every conn parked now a new deadline, deadline(c, now) with now
 * the monotonic clock at the call: what it would get if it were parked at
 * this moment. For a reload that changed the timeouts, so conns already
 * waiting follow them too. Each conn is claimed and parked again (a
 * report that comes meanwhile sends it to the queue, as at a deadline
 * scan); a deadline already passed is acted on by the next scan. Returns
 * how many conns it retimed. O(slots ever used). Thread-safe.
 */
long waiter_retime(struct waiter *w,
                   int64_t (*deadline)(const struct conn *c, int64_t now));

#endif
