/*
 * End-to-end tests of the repository's own files: no tracked file points
 * outside the repository (the scan itself checked on texts made to
 * match), and every metric the README's Deploying section names is one
 * /metrics exposes. Run from the repository's root. Suite `service`
 * (service_util.c).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "service_util.h"

/* References that lead out of the repository: the shared folder beside it
 * and absolute paths into the machine it was written on. Spelled in
 * pieces, so this file does not match itself. */
static const char *const outside[] = {"../"
                                      "shared",
                                      "shared/"
                                      "CONTRACT",
                                      "shared/"
                                      "STYLE",
                                      NULL};
static const char workdir[] = "/"
                              "work"; /* matched as a path component */

static int
path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* The length of the outside reference starting at text[i], or 0. */
static size_t
outside_at(const char *text, size_t len, size_t i)
{
    size_t n = strlen(workdir);

    for (size_t k = 0; outside[k] != NULL; k++) {
        size_t m = strlen(outside[k]);

        if (i + m <= len && memcmp(text + i, outside[k], m) == 0) {
            return m;
        }
    }
    if (i + n <= len && memcmp(text + i, workdir, n) == 0 &&
        (i == 0 || !path_char(text[i - 1])) &&
        (i + n == len || !path_char(text[i + n]))) {
        return n;
    }
    return 0;
}

/* Appends "name:line: text" to report for every outside reference in
 * text[0..len); returns how many. */
static int
scan_text(const char *name, const char *text, size_t len, char *report,
          size_t cap)
{
    int hits = 0, line = 1;

    for (size_t i = 0; i < len; i++) {
        size_t m = outside_at(text, len, i);

        if (text[i] == '\n') {
            line++;
        } else if (m > 0) {
            const char *end = memchr(text + i, '\n', len - i);
            int n = end != NULL ? (int)(end - (text + i)) : (int)(len - i);

            hits++;
            snprintf(report + strlen(report), cap - strlen(report),
                     "%s:%d: ...%.*s\n", name, line, n > 60 ? 60 : n, text + i);
            i += m - 1; /* past the match: one hit per reference */
        }
    }
    return hits;
}

/* The repository's files: `git ls-files`, or, where there is no git
 * metadata (a Docker build context, a tarball), every file under the root
 * but build/, .git and node_modules. Into out (zeroed by the caller) as
 * NUL-terminated names, ending at an empty one. */
static void
repo_files(char *out, size_t cap)
{
    char *git[] = {"git", "ls-files", "-z", NULL};
    char *find[] = {"find",   ".",    "(",     "-path", "./build",      "-o",
                    "-name",  ".git", "-o",    "-name", "node_modules", ")",
                    "-prune", "-o",   "-type", "f",     "-print0",      NULL};
    int rc = h_exec(git, NULL, out, cap - 1, 10000);

    if (rc != 0) {
        cr_log_info("git ls-files failed (%d): scanning the tree instead", rc);
        memset(out, 0, cap);
        rc = h_exec(find, NULL, out, cap - 1, 10000);
        cr_assert_eq(rc, 0, "find: %s", out);
    }
}

/* The scan itself, on texts spelled in pieces like its needles. */
Test(service, the_scan_finds_a_reference_outside)
{
    char report[512] = "";
    const char bad[] = "see ../sha"
                       "red/CON"
                       "TRACT.md and cd /"
                       "work/x; ok: net/workq.h /workers";
    const char path_only[] = "/"
                             "work";

    cr_assert_eq(scan_text("t", bad, sizeof(bad) - 1, report, sizeof(report)),
                 2, "%s", report);
    cr_assert_eq(scan_text("t", path_only, 5, report, sizeof(report)), 1);
    cr_assert_eq(scan_text("t", "net/workq.h", 11, report, sizeof(report)), 0);
}

Test(service, no_tracked_file_points_outside_the_repository)
{
    char *names = calloc(1, 1 << 20), *report = calloc(1, SV_OUT_CAP);
    size_t files = 0;
    int hits = 0;

    sv_expect_repo_root();
    cr_assert(names != NULL && report != NULL);
    repo_files(names, 1 << 20);
    for (char *p = names; *p != '\0'; p += strlen(p) + 1) {
        struct stat st;
        size_t n;
        char *text;

        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue; /* deleted in the work tree, or a symlink */
        }
        text = sv_slurp(p, &n);
        files++;
        if (memchr(text, '\0', n) == NULL) { /* text files only */
            hits += scan_text(p, text, n, report, SV_OUT_CAP);
        }
        free(text);
    }
    cr_assert_gt(files, 50, "only %zu files found", files);
    cr_assert_eq(hits, 0, "%d reference(s) outside the repository:\n%s", hits,
                 report);
    free(names);
    free(report);
}

/* ---- the README's Deploying section ---- */

/*
 * Every redis_proxy_* name the scrape config and alerting rules use is a
 * family /metrics exposes (and a {label="value"} selector a series it
 * has), so the rules match what the proxy serves.
 */
Test(service, the_alerting_rules_name_only_real_metrics)
{
    char *readme = sv_slurp("README.md", NULL), *metrics, *start, *end, *p;
    char name[128], series[256], want[160];
    int names = 0;

    sv_expect_repo_root();
    start = strstr(readme, "\n## Deploying\n");
    cr_assert_not_null(start, "README.md has no Deploying section");
    end = strstr(start + 1, "\n## ");
    cr_assert_not_null(end);
    *end = '\0';
    h_start_proxy(&sv_proxy, &sv_redis, H_OPTS(.admin = 1));
    metrics = h_scrape(&sv_proxy);
    for (p = strstr(start, "redis_proxy_"); p != NULL;
         p = strstr(p + 1, "redis_proxy_")) {
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");

        if (n >= sizeof(name) || (p > start && path_char(p[-1]))) {
            continue; /* part of a longer word, not a metric */
        }
        memcpy(name, p, n);
        name[n] = '\0';
        snprintf(want, sizeof(want), "# TYPE %s ", name);
        cr_expect_not_null(strstr(metrics, want),
                           "README names %s, which /metrics does not have",
                           name);
        if (p[n] == '{') {
            size_t m = strcspn(p + n, "}\n");

            snprintf(series, sizeof(series), "%.*s}", (int)(n + m), p);
            cr_expect_not_null(strstr(metrics, series),
                               "README selects %s, which /metrics does not "
                               "have",
                               series);
        }
        names++;
    }
    cr_assert_geq(names, 8, "only %d metric names in Deploying", names);
    free(metrics);
    free(readme);
}
