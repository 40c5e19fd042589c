/*
 * Unit tests of base/ratelimit: one line per interval with the count of
 * events it stands for; per source, one line per source per interval and
 * one a second for all sources together; under threads, each event is
 * counted by exactly one line.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <string.h>

#include "base/ratelimit.h"

TestSuite(ratelimit);

Test(ratelimit, one_line_per_interval_counts_the_events_between)
{
    struct ratelimit r;

    memset(&r, 0, sizeof(r));
    cr_assert_eq(ratelimit_hit(&r, 5000, 1000), 1, "the first is logged");
    cr_assert_eq(ratelimit_hit(&r, 5001, 1000), 0);
    cr_assert_eq(ratelimit_hit(&r, 5999, 1000), 0);
    cr_assert_eq(ratelimit_hit(&r, 6000, 1000), 3, "two held, and this one");
    cr_assert_eq(ratelimit_hit(&r, 6500, 1000), 0);
    cr_assert_eq(ratelimit_hit(&r, 9000, 1000), 2);
}

struct storm {
    struct ratelimit *r;
    long lines, counted;
};

static void *
storm_main(void *arg)
{
    struct storm *s = arg;
    int64_t t;

    for (t = 0; t < 100000; t++) {
        long n = ratelimit_hit(s->r, t / 10, 100);

        s->lines += n > 0;
        s->counted += n;
    }
    return NULL;
}

Test(ratelimit, every_event_is_counted_once_across_threads)
{
    struct ratelimit r;
    struct storm s[4];
    pthread_t th[4];
    long lines = 0, counted = 0;
    int i;

    memset(&r, 0, sizeof(r));
    for (i = 0; i < 4; i++) {
        s[i] = (struct storm){.r = &r};
        cr_assert_eq(pthread_create(&th[i], NULL, storm_main, &s[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        lines += s[i].lines;
        counted += s[i].counted;
    }
    /* Clock 0..9999 ms in steps of 100: at most 101 lines in all. */
    cr_assert_leq(lines, 101, "%ld lines", lines);
    cr_assert_geq(lines, 50, "%ld lines", lines);
    cr_assert_eq(counted + atomic_load(&r.pending), 400000,
                 "every event in exactly one line's count, or pending");
}

Test(ratelimit, each_source_once_per_interval_all_once_a_second)
{
    struct ratelimit_sources r;

    memset(&r, 0, sizeof(r));
    cr_assert_eq(ratelimit_source(&r, 0x1111, 10000, 60), 1);
    cr_assert_eq(ratelimit_source(&r, 0x1111, 10500, 60), 0, "same source");
    cr_assert_eq(ratelimit_source(&r, 0x2222, 10600, 60), 0,
                 "another source, within the second");
    cr_assert_eq(ratelimit_source(&r, 0x3333, 11100, 60), 1,
                 "another source, a second later");
    cr_assert_eq(ratelimit_source(&r, 0x1111, 69000, 60), 0,
                 "the first source, within its minute");
    cr_assert_eq(ratelimit_source(&r, 0x1111, 71100, 60), 1,
                 "the first source, a minute later");
}
