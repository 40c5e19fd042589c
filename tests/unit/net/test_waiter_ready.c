/*
 * Unit tests for how the waiter turns readiness reports into claims
 * (fixture: waiter_helpers.h): a report that comes while a worker has the
 * conn (RUNNING) is not lost but makes waiter_park answer "serve again",
 * once; the work queue's wake-up that came in a batch with claims is
 * passed on to another waiting worker; a stale report, for a conn that was
 * dropped and whose slot a new conn took, never touches the new conn;
 * writability wakes a conn only after waiter_want_write; readiness of a
 * descriptor watched for a conn claims that conn, until it is unwatched; and
 * four takers racing over 32 conns get every readable conn exactly once, with
 * reports that came while a taker had the conn answered by park() == 1 and no
 * wake-up lost.
 *
 * "Did not wake" is shown by ordering, not by waiting: the kernel queues a
 * report during the send() or recv() that causes it, so a report that was
 * due would be in the same epoll_wait batch as a control conn's report
 * caused after it. waiter_wait(..., -1) is used only when a report is due,
 * so that its return proves the report reached the waiter.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>

#include "waiter_helpers.h"

/* Sends on fd (non-blocking) until the socket takes no more; returns the
 * bytes it took. */
static size_t
fill_socket(int fd)
{
    static const char chunk[4096];
    size_t total = 0;
    ssize_t n;

    while ((n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT)) >
           0) {
        total += (size_t)n;
    }
    cr_assert(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "send: %s",
              strerror(errno));
    cr_assert_gt(total, 0);
    return total;
}

/* Reads from the peer until it has nothing more; returns the bytes. */
static size_t
drain_peer(int peer)
{
    char buf[16384];
    size_t total = 0;
    ssize_t n;

    while ((n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        total += (size_t)n;
    }
    return total;
}

/* ---- a report while the owner has the conn ---- */

Test(waiter_ready, report_while_running_makes_park_serve_again_once,
     .timeout = 10)
{
    struct fixture f;
    struct conn *c, *out[4];
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    /* The test has c, as a worker serving it does. Input comes, and the
     * report reaches another worker (any wait returns only for it). */
    send_byte(peer, 'x');
    cr_assert_eq(waiter_wait(f.w, out, 4, -1), 0, "a running conn claimed");
    send_byte(peer, 'y');
    cr_assert_eq(waiter_wait(f.w, out, 4, -1), 0, "a running conn claimed");
    cr_assert_eq(waiter_count(f.w), 0);
    cr_assert_eq(waiter_park(f.w, c, util_now_ms() + FAR_MS), 1,
                 "the report that came while running was lost");
    cr_assert_eq(waiter_count(f.w), 0, "park() == 1 left it counted");
    cr_assert_eq(drain_conn(c), 2); /* the caller still has it */
    cr_assert_eq(memcmp(c->rbuf, "xy", 2), 0);
    /* Two reports were one mark, and park took it off. */
    cr_assert_eq(waiter_park(f.w, c, util_now_ms() + FAR_MS), 0);
    cr_assert_eq(waiter_count(f.w), 1);
    expect_no_take(&f, 0);
    send_byte(peer, 'z');
    cr_assert_eq(take(&f), c);
    waiter_drop(f.w, c);
    close(peer);
    teardown(&f);
}

Test(waiter_ready, report_for_a_queued_conn_makes_its_park_serve_again,
     .timeout = 10)
{
    struct fixture f;
    struct conn *c, *out[4];
    void *got;
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    cr_assert_eq(workq_push(f.q, c), WORKQ_OK); /* yielded by its worker */
    send_byte(peer, 'x');
    /* The push and the report both wake; neither is a claim. */
    cr_assert_eq(waiter_wait(f.w, out, 4, -1), 0);
    expect_no_take(&f, 0);
    cr_assert_eq(workq_trypop(f.q, &got), WORKQ_OK);
    cr_assert_eq(got, c);
    cr_assert_eq(waiter_park(f.w, c, util_now_ms() + FAR_MS), 1);
    cr_assert_eq(drain_conn(c), 1);
    park(&f, c, util_now_ms() + FAR_MS);
    cr_assert_eq(waiter_count(f.w), 1);
    teardown(&f); /* closes c */
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    close(peer);
}

/* ---- the work queue's wake-up ---- */

/* A worker whose wake-up claimed conns serves them first, and may then
 * wait on Redis for long: the queue's wake-up that came in the same batch
 * must go on to another waiting worker, or queued conns wait for it. */
Test(waiter_ready, queue_wakeup_that_came_with_claims_is_passed_on,
     .timeout = 10)
{
    struct fixture f;
    struct conn *c, *out[4];
    int item = 1, peer;
    void *got;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() + FAR_MS);
    cr_assert_eq(workq_push(f.q, &item), WORKQ_OK);
    send_byte(peer, 'x'); /* both reports wait for the next epoll_wait */
    cr_assert_eq(waiter_wait(f.w, out, 4, -1), 1);
    cr_assert_eq(out[0], c);
    /* Another worker: returns only if the wake-up was passed on. */
    cr_assert_eq(waiter_wait(f.w, out, 4, -1), 0);
    cr_assert_eq(workq_trypop(f.q, &got), WORKQ_OK);
    cr_assert_eq(got, &item);
    expect_no_take(&f, 0); /* nothing more to pass on */
    waiter_drop(f.w, c);
    close(peer);
    teardown(&f);
}

/* ---- stale reports ---- */

/*
 * A report carries the slot and the generation of the conn it was
 * registered for. A dup of old's socket keeps old's registration alive
 * after old is dropped (epoll watches the open file, not the number), so
 * its reports still come, tagged with old's slot, after new took that
 * slot: what a worker sees when a report it fetched is processed after
 * another worker dropped the conn and the slot was reused.
 */
Test(waiter_ready, stale_report_never_claims_the_slots_next_conn, .timeout = 10)
{
    struct fixture f;
    struct conn *old, *new, *out[4];
    uint32_t slot, gen;
    int peer_old, peer_new, keep;

    setup_slots(&f, 1);
    old = new_conn(&f, KIND_RESP, &peer_old);
    slot = old->slot;
    gen = old->gen;
    keep = dup(old->fd);
    cr_assert_geq(keep, 0);
    send_byte(peer_old, 'x'); /* a report queued for old */
    waiter_drop(f.w, old);
    new = new_conn(&f, KIND_RESP, &peer_new);
    cr_assert_eq(new->slot, slot);
    cr_assert_eq(new->gen, gen + 1);

    /* new is running: the stale report must not mark it pending. */
    cr_assert_eq(waiter_wait(f.w, out, 4, -1), 0);
    cr_assert_eq(waiter_park(f.w, new, util_now_ms() + FAR_MS), 0,
                 "a report for the dropped conn marked the new one");

    /* new is parked: a stale report must not claim it. */
    send_byte(peer_old, 'y');
    cr_assert_eq(waiter_wait(f.w, out, 4, -1), 0,
                 "a report for the dropped conn claimed the new one");
    cr_assert_eq(waiter_count(f.w), 1);

    /* Its own report does. */
    send_byte(peer_new, 'z');
    cr_assert_eq(take(&f), new);
    waiter_drop(f.w, new);
    close(keep); /* the last reference: old's registration goes */
    close(peer_old);
    close(peer_new);
    teardown(&f);
}

/* ---- writability ---- */

Test(waiter_ready, full_socket_wakes_when_the_peer_reads_after_want_write,
     .timeout = 10)
{
    struct fixture f;
    struct conn *wants, *plain, *out[16];
    size_t sent_w, sent_p;
    int peer_w, peer_p;

    setup(&f);
    wants = new_conn(&f, KIND_RESP, &peer_w);
    plain = new_conn(&f, KIND_RESP, &peer_p);
    sent_w = fill_socket(wants->fd);
    sent_p = fill_socket(plain->fd);
    cr_assert_eq(waiter_want_write(f.w, wants, wants->fd), 0);
    expect_no_take(&f, 0); /* a full socket is not writable */
    park(&f, wants, util_now_ms() + FAR_MS);
    park(&f, plain, util_now_ms() + FAR_MS);
    cr_assert_eq(waiter_count(f.w), 2);

    /* plain's peer reads first: a writability report for plain would be
     * queued before wants' one and come in the same batch. */
    cr_assert_eq(drain_peer(peer_p), sent_p);
    cr_assert_eq(drain_peer(peer_w), sent_w);
    cr_assert_eq(wait_batch(&f, out), 1);
    cr_assert_eq(out[0], wants, "writability woke the conn that never asked");
    expect_no_take(&f, 0);
    cr_assert_eq(waiter_count(f.w), 1);
    waiter_drop(f.w, wants);
    teardown(&f);
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    close(peer_w);
    close(peer_p);
}

Test(waiter_ready, writable_socket_does_not_wake_a_conn_that_never_asked,
     .timeout = 10)
{
    struct fixture f;
    struct conn *c, *control, *out[16];
    int peer, peer_control;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    park(&f, c, util_now_ms() + FAR_MS);
    control = new_conn(&f, KIND_RESP, &peer_control);
    park(&f, control, util_now_ms() + FAR_MS);
    /* Writable from the start, and its peer reads what it wrote: if the
     * waiter watched writability, c would be reported by now. */
    send_byte(peer_control, 'x');
    cr_assert_eq(wait_batch(&f, out), 1);
    cr_assert_eq(out[0], control, "a writable conn woke without asking");
    expect_no_take(&f, 0);
    cr_assert_eq(waiter_count(f.w), 1);
    waiter_drop(f.w, control);
    close(peer_control);
    teardown(&f);
    close(peer);
}

Test(waiter_ready, want_write_on_a_writable_socket_reports_at_once,
     .timeout = 10)
{
    struct fixture f;
    struct conn *c, *out[16];
    int peer;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    expect_no_take(&f, 0);
    /* Output that stalled, then the peer read it before want_write: the
     * edge came before the registration, which must not miss it. */
    fill_socket(c->fd);
    drain_peer(peer);
    cr_assert_eq(waiter_want_write(f.w, c, c->fd), 0);
    park(&f, c, util_now_ms() + FAR_MS);
    cr_assert_eq(wait_batch(&f, out), 1);
    cr_assert_eq(out[0], c);
    waiter_drop(f.w, c);
    close(peer);
    teardown(&f);
}

/* ---- watched descriptors ---- */

Test(waiter_ready, watched_fd_claims_its_conn_until_unwatched, .timeout = 10)
{
    struct fixture f;
    struct conn *c, *control, *out[16];
    int peer, peer_control, extra[2];
    char b;

    setup(&f);
    c = new_conn(&f, KIND_RESP, &peer);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, extra), 0);
    cr_assert_eq(util_set_nonblock(extra[0]), 0);
    cr_assert_eq(waiter_watch(f.w, c, extra[0]), 0);
    park(&f, c, util_now_ms() + FAR_MS);
    send_byte(extra[1], 'r'); /* "Redis answered" */
    cr_assert_eq(wait_batch(&f, out), 1);
    cr_assert_eq(out[0], c, "the watched fd did not claim its conn");
    cr_assert_eq(recv(extra[0], &b, 1, 0), 1);

    /* While c runs, the watched fd's report marks it pending. */
    send_byte(extra[1], 's');
    cr_assert_eq(waiter_wait(f.w, out, 16, -1), 0);
    cr_assert_eq(waiter_park(f.w, c, util_now_ms() + FAR_MS), 1);
    cr_assert_eq(recv(extra[0], &b, 1, 0), 1);
    cr_assert_eq(b, 's');

    waiter_unwatch(f.w, extra[0]);
    park(&f, c, util_now_ms() + FAR_MS);
    control = new_conn(&f, KIND_RESP, &peer_control);
    park(&f, control, util_now_ms() + FAR_MS);
    send_byte(extra[1], 't'); /* before control's: same batch if reported */
    send_byte(peer_control, 'x');
    cr_assert_eq(wait_batch(&f, out), 1);
    cr_assert_eq(out[0], control, "an unwatched fd still claimed its conn");
    expect_no_take(&f, 0);
    cr_assert_eq(waiter_count(f.w), 1);
    waiter_drop(f.w, control);
    close(extra[0]);
    close(extra[1]);
    close(peer_control);
    teardown(&f);
    close(peer);
}

/* ---- many takers at once ---- */

#define STRESS_CONNS 32
#define STRESS_TAKERS 4
#define STRESS_BYTES 4000   /* sent per round, one at a time */
#define STRESS_ROUNDS 1000  /* at most, until a park() == 1 was seen */
#define STRESS_MIN_ROUNDS 3 /* at least */

struct stress {
    struct fixture *f;
    struct conn *c[STRESS_CONNS];
    atomic_int owner[STRESS_CONNS]; /* 1 while a taker has conn i */
    atomic_long received;
    atomic_long again; /* park() == 1: a report came while running */
    atomic_int broken; /* a conn handed out twice, or park() == -1 */
    atomic_int stop;
};

static int
stress_index(struct stress *st, const struct conn *c)
{
    int i;

    for (i = 0; i < STRESS_CONNS && st->c[i] != c; i++) {
    }
    return i;
}

/* Serves c as a worker does: read all, park; again while park says so. */
static void
stress_serve(struct stress *st, struct conn *c)
{
    int i = stress_index(st, c), rc;

    if (i == STRESS_CONNS) {
        atomic_store(&st->broken, 1);
        return;
    }
    do {
        long n;

        if (atomic_exchange(&st->owner[i], 1) != 0) {
            atomic_store(&st->broken, 1); /* another taker has it */
            return;
        }
        while ((n = conn_read(c)) > 0) {
            atomic_fetch_add(&st->received, n);
            conn_consume(c, (size_t)n);
        }
        sched_yield(); /* a worker answers before it parks */
        atomic_store(&st->owner[i], 0);
        rc = waiter_park(st->f->w, c, util_now_ms() + FAR_MS);
        if (rc == 1) {
            atomic_fetch_add(&st->again, 1);
        }
    } while (rc == 1);
    if (rc < 0) {
        atomic_store(&st->broken, 1);
    }
}

static void *
stress_take(void *arg)
{
    struct stress *st = arg;

    while (!atomic_load(&st->stop)) {
        struct conn *got[4];
        int n = waiter_wait(st->f->w, got, 4, 20);

        for (int i = 0; i < n; i++) {
            stress_serve(st, got[i]);
        }
    }
    return NULL;
}

/* Waits until the takers have read want bytes in all; returns what they
 * read. */
static long
stress_wait_received(struct stress *st, long want)
{
    int64_t until = util_now_ms() + 20000;

    while (atomic_load(&st->received) < want && util_now_ms() < until) {
        sleep_ms(1);
    }
    return atomic_load(&st->received);
}

Test(waiter_ready, concurrent_takers_each_get_a_readable_conn_exactly_once)
{
    struct fixture f;
    struct stress st = {.f = &f};
    pthread_t th[STRESS_TAKERS];
    int peer[STRESS_CONNS], i, round;
    long sent = 0;

    setup(&f);
    for (i = 0; i < STRESS_CONNS; i++) {
        st.c[i] = new_conn(&f, KIND_RESP, &peer[i]);
        park(&f, st.c[i], util_now_ms() + FAR_MS);
    }
    for (i = 0; i < STRESS_TAKERS; i++) {
        cr_assert_eq(pthread_create(&th[i], NULL, stress_take, &st), 0);
    }
    for (round = 0; round < STRESS_ROUNDS; round++) {
        if (round >= STRESS_MIN_ROUNDS && atomic_load(&st.again) > 0) {
            break;
        }
        for (i = 0; i < STRESS_BYTES; i++) {
            send_byte(peer[(i * 7) % STRESS_CONNS], 'x');
        }
        sent += STRESS_BYTES;
        if (stress_wait_received(&st, sent) != sent ||
            atomic_load(&st.broken)) {
            break;
        }
    }
    atomic_store(&st.stop, 1);
    for (i = 0; i < STRESS_TAKERS; i++) {
        pthread_join(th[i], NULL);
    }
    cr_assert_eq(atomic_load(&st.broken), 0,
                 "a conn was handed out while another taker had it");
    cr_assert_eq(atomic_load(&st.received), sent,
                 "%ld of %ld bytes were read: a wake-up was lost",
                 atomic_load(&st.received), sent);
    cr_assert_gt(atomic_load(&st.again), 0,
                 "no report came while a taker had its conn in %d rounds: "
                 "the race this test is about never happened",
                 round);
    cr_assert_eq(waiter_count(f.w), STRESS_CONNS);
    teardown(&f);
    cr_assert_eq(atomic_load(&f.budget.open), 0);
    for (i = 0; i < STRESS_CONNS; i++) {
        close(peer[i]);
    }
}
