/*
 * Tests of the end-to-end harness's own helpers, the ones the suites take
 * as evidence: the RESP2 and RESP3 reply framer (fed every prefix of each
 * reply, as picohttpparser's tests do, so "incomplete" is checked up to the
 * last byte), reading exactly n replies off a socket, VmRSS, and the waiting
 * helpers. No redis-server or proxy is started here.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(harness, .timeout = 20);

/* ---- the reply framer ---- */

#define R(s) s, sizeof(s) - 1

/* One or more complete replies and how many of them there are. */
static const struct framed {
    const char *p;
    size_t len;
    int n;
} framed[] = {
    {R("+OK\r\n"), 1},
    {R("+\r\n"), 1},
    {R("-ERR unknown command 'x'\r\n"), 1},
    {R(":0\r\n"), 1},
    {R(":-42\r\n"), 1},
    {R("$-1\r\n"), 1},
    {R("*-1\r\n"), 1},
    {R("$0\r\n\r\n"), 1},
    {R("$5\r\na\r\nbc\r\n"), 1}, /* CRLF inside a bulk string */
    {R("$3\r\n\0\0\0\r\n"), 1},
    {R("*0\r\n"), 1},
    {R("*2\r\n$1\r\na\r\n:1\r\n"), 1},
    {R("*2\r\n*1\r\n:1\r\n$-1\r\n"), 1},
    {R("*3\r\n*-1\r\n$-1\r\n*2\r\n+a\r\n-b\r\n"), 1},
    {R("*1\r\n*1\r\n*1\r\n*0\r\n"), 1},
    {R("+a\r\n:1\r\n$1\r\nx\r\n"), 3},
    {R("*1\r\n$-1\r\n*1\r\n*-1\r\n"), 2},
    /* RESP3 */
    {R("_\r\n"), 1},
    {R("#t\r\n"), 1},
    {R(",3.14\r\n"), 1},
    {R(",-inf\r\n"), 1},
    {R("(3492890328409238509324850943850943825024385\r\n"), 1},
    {R("!21\r\nSYNTAX invalid syntax\r\n"), 1},
    {R("=15\r\ntxt:Some string\r\n"), 1},
    {R("%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n_\r\n"), 1},
    {R("%0\r\n"), 1},
    {R("~3\r\n:1\r\n#f\r\n,1.5\r\n"), 1},
    {R(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"), 1},
    {R("*2\r\n%1\r\n$1\r\nk\r\n~1\r\n_\r\n>1\r\n:0\r\n"), 1},
    /* an attribute and the reply it annotates are one reply */
    {R("|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n"), 1},
    {R("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n"), 1},
    {R(">2\r\n+pong\r\n$0\r\n\r\n+OK\r\n_\r\n"), 3},
};

Test(harness, reply_len_is_incomplete_on_every_prefix_and_exact_at_the_end)
{
    char buf[128];
    size_t i, k;

    for (i = 0; i < sizeof(framed) / sizeof(framed[0]); i++) {
        const struct framed *f = &framed[i];
        char esc[256];

        h_escape(f->p, f->len, esc, sizeof(esc));
        for (k = 0; k < f->len; k++) {
            cr_assert_eq(h_reply_len(f->p, k, f->n), 0,
                         "\"%s\": prefix of %zu bytes not incomplete", esc, k);
        }
        cr_assert_eq(h_reply_len(f->p, f->len, f->n), (long)f->len, "\"%s\"",
                     esc);
        /* bytes after the last reply are not read */
        memcpy(buf, f->p, f->len);
        memcpy(buf + f->len, "+next\r\n", 7);
        cr_assert_eq(h_reply_len(buf, f->len + 7, f->n), (long)f->len,
                     "\"%s\" followed by another reply", esc);
    }
}

Test(harness, reply_len_tells_nil_bulk_from_nil_array)
{
    /* neither waits for a payload or for elements */
    cr_assert_eq(h_reply_len(R("$-1\r\n"), 1), 5);
    cr_assert_eq(h_reply_len(R("*-1\r\n"), 1), 5);
    /* an empty bulk string does wait for its CRLF; an empty array not */
    cr_assert_eq(h_reply_len(R("$0\r\n"), 1), 0);
    cr_assert_eq(h_reply_len(R("*0\r\n"), 1), 4);
    /* inside an array each is one element */
    cr_assert_eq(h_reply_len(R("*2\r\n$-1\r\n*-1\r\n"), 1), 14);
    cr_assert_eq(h_reply_len(R("*2\r\n*-1\r\n$-1\r\n:7\r\n"), 1), 14);
    cr_assert_eq(h_reply_len(R("*2\r\n*-1\r\n$-1\r\n:7\r\n"), 2), 18);
}

Test(harness, reply_len_counts_replies_one_by_one)
{
    static const char three[] = "+a\r\n:1\r\n$1\r\nx\r\n";

    cr_assert_eq(h_reply_len(R(three), 1), 4);
    cr_assert_eq(h_reply_len(R(three), 2), 8);
    cr_assert_eq(h_reply_len(R(three), 3), 15);
    cr_assert_eq(h_reply_len(R(three), 4), 0, "a fourth is not there yet");
}

Test(harness, reply_len_rejects_bytes_that_are_not_resp)
{
    static const struct {
        const char *p;
        size_t len;
    } bad[] = {
        {R("?x\r\n")},
        {R("PONG\r\n")},
        {R("+a\nb\r\n")},
        {R("+a\rb\r\n")},
        {R(":\r\n")},
        {R(":12a\r\n")},
        {R(":+1\r\n")},
        {R("$\r\n")},
        {R("$abc\r\n")},
        {R("$-2\r\n")},
        {R("$+1\r\nx\r\n")},
        {R("$3\r\nabcXY")},
        {R("*-2\r\n")},
        {R("*x\r\n")},
        {R("*1\r\n?\r\n")},
        {R("$1000000000\r\n")},
        {R("*2\r\n+a\r\n?")},
        /* RESP3 */
        {R("_x\r\n")},
        {R("#x\r\n")},
        {R("#\r\n")},
        {R("#tt\r\n")},
        {R("%-1\r\n")},
        {R("~-1\r\n")},
        {R(">-1\r\n")},
        {R("|-1\r\n")},
        {R("!-1\r\n")},
        {R("=-1\r\n")},
        {R("%x\r\n")},
        {R("=3\r\nabcXY")},
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char esc[128];

        cr_assert_eq(h_reply_len(bad[i].p, bad[i].len, 1), -1, "\"%s\"",
                     h_escape(bad[i].p, bad[i].len, esc, sizeof(esc)));
    }
}

/* ---- reading replies off a socket ---- */

struct dribble {
    int fd;
    const char *p;
    size_t len;
};

/* Writes the bytes one at a time, a millisecond apart. */
static void *
dribble(void *arg)
{
    struct dribble *d = arg;
    size_t i;

    for (i = 0; i < d->len; i++) {
        if (h_send(d->fd, d->p + i, 1) != 0) {
            break;
        }
        h_sleep_ms(1);
    }
    return NULL;
}

Test(harness, read_replies_takes_exactly_n_replies_and_leaves_the_next)
{
    static const char in[] = "+OK\r\n*2\r\n$3\r\nabc\r\n:-7\r\n$-1\r\n";
    struct dribble d;
    char buf[64];
    pthread_t th;
    int sv[2];
    long n;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    d = (struct dribble){sv[1], in, sizeof(in) - 1};
    cr_assert_eq(pthread_create(&th, NULL, dribble, &d), 0);
    n = h_read_replies(sv[0], 2, buf, sizeof(buf), 3000);
    cr_assert_eq(n, 23, "read %ld bytes", n);
    cr_assert_eq(memcmp(buf, "+OK\r\n*2\r\n$3\r\nabc\r\n:-7\r\n", 23), 0);
    n = h_read_replies(sv[0], 1, buf, sizeof(buf), 3000);
    cr_assert_eq(n, 5, "read %ld bytes", n);
    cr_assert_eq(memcmp(buf, "$-1\r\n", 5), 0);
    pthread_join(th, NULL);
    cr_assert_eq(h_read_replies(sv[0], 1, buf, sizeof(buf), 50), -1,
                 "a reply out of nothing");
    close(sv[0]);
    close(sv[1]);
}

Test(harness, read_replies_fails_on_short_buffers_garbage_and_close)
{
    char buf[8];
    int sv[2];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(h_sends(sv[1], "$10\r\n0123456789\r\n"), 0);
    cr_assert_eq(h_read_replies(sv[0], 1, buf, sizeof(buf), 500), -1);
    close(sv[0]);
    close(sv[1]);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(h_sends(sv[1], "HTTP/1.1 200 OK\r\n"), 0);
    cr_assert_eq(h_read_replies(sv[0], 1, buf, sizeof(buf), 500), -1);
    close(sv[0]);
    close(sv[1]);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(h_sends(sv[1], "$3\r\nab"), 0);
    close(sv[1]);
    cr_assert_eq(h_read_replies(sv[0], 1, buf, sizeof(buf), 500), -1);
    close(sv[0]);
}

/* ---- memory ---- */

#define TOUCH_KIB (64 * 1024)

Test(harness, proc_rss_follows_memory_touched_and_unmapped)
{
    size_t len = (size_t)TOUCH_KIB * 1024;
    long before, during, after;
    pid_t child;
    char *p;

    before = h_proc_rss_kib(getpid());
    cr_assert_gt(before, 0);
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
             0);
    cr_assert_neq(p, MAP_FAILED);
    memset(p, 1, len);
    during = h_proc_rss_kib(getpid());
    /* give or take 1 MiB of other pages coming and going meanwhile */
    cr_assert_geq(during - before, TOUCH_KIB - 1024, "RSS %ld -> %ld KiB",
                  before, during);
    cr_assert_eq(munmap(p, len), 0);
    after = h_proc_rss_kib(getpid());
    cr_assert_leq(after, before + 1024, "RSS %ld -> %ld -> %ld KiB", before,
                  during, after);
    /* a process that is gone has none */
    child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        _exit(0);
    }
    cr_assert_eq(waitpid(child, NULL, 0), child);
    cr_assert_eq(h_proc_rss_kib(child), -1);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BUILT_SANITIZED 1
#else
#define BUILT_SANITIZED 0
#endif

Test(harness, proc_sanitized_tells_an_instrumented_process)
{
    pid_t child;

    /* This binary itself: instrumented in the sanitizer runs only. */
    cr_assert_eq(h_proc_sanitized(getpid()), BUILT_SANITIZED);
    child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        _exit(0);
    }
    cr_assert_eq(waitpid(child, NULL, 0), child);
    cr_assert_eq(h_proc_sanitized(child), 0, "a process that is gone");
}

/* ---- waiting ---- */

static int
third_call(void *arg)
{
    int *calls = arg;

    return ++*calls == 3;
}

static int
never(void *arg)
{
    int *calls = arg;

    ++*calls;
    return 0;
}

Test(harness, wait_until_polls_until_true_or_the_deadline)
{
    int calls = 0;
    int64_t t0;

    cr_assert_eq(h_wait_until(5000, third_call, &calls), 1);
    cr_assert_eq(calls, 3, "called %d times", calls);
    calls = 0;
    t0 = h_now_ms();
    cr_assert_eq(h_wait_until(50, never, &calls), 0);
    cr_assert_geq(h_now_ms() - t0, 50);
    cr_assert_geq(calls, 2, "the condition was polled %d times", calls);
    calls = 0;
    cr_assert_eq(h_wait_until(0, never, &calls), 0);
    cr_assert_eq(calls, 1, "a zero timeout still polls once");
}

Test(harness, readable_names_the_connections_that_answered)
{
    int a[2], b[2], fds[2];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    fds[0] = a[0];
    fds[1] = b[0];
    cr_assert_eq(h_readable(fds, 2, 20), 0, "nothing was sent");
    cr_assert_eq(h_sends(b[1], "x"), 0);
    cr_assert_eq(h_readable(fds, 2, 1000), 2u);
    cr_assert_eq(h_sends(a[1], "y"), 0);
    cr_assert_eq(h_readable(fds, 2, 1000), 3u);
    close(a[1]);
    cr_assert_eq(h_readable(fds, 1, 0), 1u, "data and EOF both count");
    close(a[0]);
    close(b[0]);
    close(b[1]);
}
