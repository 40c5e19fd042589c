/*
 * End-to-end tests of the repository's own files: no tracked file points
 * outside the repository (the scan itself checked on texts made to
 * match); every metric docs/operations.md names is one /metrics exposes;
 * every configuration key (src/base/config_table.c, as -t prints it) is in
 * the shipped proxy.ini, the man page and docs/configuration.md, with its
 * default and reload behaviour there; every relative link in README.md and
 * docs/ leads to a file, and heading, of the repository (the link check
 * itself checked on a scratch tree). Run from the repository's root. Suite
 * `service` (service_util.c).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <limits.h>
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

/* ---- docs/operations.md ---- */

/*
 * Every redis_proxy_* name the scrape config and alerting rules use is a
 * family /metrics exposes (and a {label="value"} selector a series it
 * has), so the rules match what the proxy serves.
 */
Test(service, the_alerting_rules_name_only_real_metrics)
{
    char *doc = sv_slurp("docs/operations.md", NULL), *metrics, *start, *p;
    char name[128], series[256], want[160];
    int names = 0;

    sv_expect_repo_root();
    start = strstr(doc, "\n## Prometheus");
    cr_assert_not_null(start, "docs/operations.md has no Prometheus section");
    h_start_proxy(&sv_proxy, &sv_redis, H_OPTS(.admin = 1));
    metrics = h_scrape(&sv_proxy);
    for (p = strstr(doc, "redis_proxy_"); p != NULL;
         p = strstr(p + 1, "redis_proxy_")) {
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");

        if (n >= sizeof(name) || (p > doc && path_char(p[-1])) ||
            p[n - 1] == '_') {
            continue; /* part of a longer word, or the prefix alone */
        }
        memcpy(name, p, n);
        name[n] = '\0';
        snprintf(want, sizeof(want), "# TYPE %s ", name);
        cr_expect_not_null(strstr(metrics, want),
                           "docs/operations.md names %s, which /metrics "
                           "does not have",
                           name);
        if (p[n] == '{') {
            size_t m = strcspn(p + n, "}\n");

            snprintf(series, sizeof(series), "%.*s}", (int)(n + m), p);
            cr_expect_not_null(strstr(metrics, series),
                               "docs/operations.md selects %s, which "
                               "/metrics does not have",
                               series);
        }
        names += p > start;
    }
    cr_assert_geq(names, 8, "only %d metric names in Prometheus", names);
    free(metrics);
    free(doc);
}

/* ---- every configuration key, documented ---- */

#define KEYS_MAX 256

/* One row of src/base/config_table.c, with what -t prints for it. */
struct key_row {
    char section[32];
    char name[48];
    int live;        /* the row has CONFIG_LIVE: SIGHUP applies it */
    char value[128]; /* -t's default ("" for an empty one) */
};

/* Copies the identifier at p (up to the closing quote) into out; returns
 * its length, or 0 when p holds no such quoted identifier. */
static size_t
quoted_ident(const char *p, char *out, size_t cap)
{
    size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");

    if (n == 0 || n >= cap || p[n] != '"') {
        return 0;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

/* The rows of config__table: every {"section", "name", CONFIG_... } entry,
 * in order. Returns how many. */
static int
table_rows(struct key_row *rows, int cap)
{
    char *src = sv_slurp("src/base/config_table.c", NULL), *p;
    int n = 0;

    p = strstr(src, "config__table[] = {");
    cr_assert_not_null(p, "config_table.c has no config__table");
    while ((p = strstr(p, "{\"")) != NULL && n < cap) {
        struct key_row *r = &rows[n];
        size_t a = quoted_ident(p + 2, r->section, sizeof(r->section)), b;
        char *end;

        p += 2;
        if (a == 0 || strncmp(p + a, "\", \"", 4) != 0) {
            continue;
        }
        b = quoted_ident(p + a + 4, r->name, sizeof(r->name));
        if (b == 0 || strncmp(p + a + 4 + b, "\", CONFIG_", 10) != 0) {
            continue;
        }
        end = strchr(p, '}');
        cr_assert_not_null(end);
        *end = '\0';
        r->live = strstr(p, "LIVE") != NULL;
        r->value[0] = '\0';
        p = end + 1;
        n++;
    }
    free(src);
    return n;
}

/* Fills each row's value from `redis-proxy -t -c /dev/null`, and fails
 * unless -t prints exactly the table's keys, in its order. */
static void
defaults_from_t(struct key_row *rows, int n)
{
    char *argv[] = {(char *)h_proxy_bin(), "-t", "-c", "/dev/null", NULL};
    char *out = malloc(SV_OUT_CAP), *line, *save = NULL, section[32] = "";
    int i = 0;

    cr_assert_not_null(out);
    cr_assert_eq(h_exec(argv, NULL, out, SV_OUT_CAP, 5000), 0, "-t: %s", out);
    for (line = strtok_r(out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        size_t k = strcspn(line, " ");

        if (line[0] == '[') {
            snprintf(section, sizeof(section), "%.*s",
                     (int)strcspn(line + 1, "]"), line + 1);
            continue;
        }
        cr_assert_lt(i, n, "-t prints more keys than the table has: %s", line);
        cr_assert(strcmp(section, rows[i].section) == 0 &&
                      strlen(rows[i].name) == k &&
                      strncmp(line, rows[i].name, k) == 0,
                  "-t prints [%s] %s where the table has [%s] %s", section,
                  line, rows[i].section, rows[i].name);
        snprintf(rows[i].value, sizeof(rows[i].value), "%s",
                 line[k] == '\0' || line[k + 2] == '\0' ? "" : line + k + 3);
        i++;
    }
    cr_assert_eq(i, n, "-t prints %d keys, the table has %d", i, n);
    free(out);
}

/* 1 when text has, within the section opened by a line "open" (up to the
 * next line starting with next_open), a line starting with
 * "<prefix><name><suffix>". */
static int
has_key_line(const char *text, const char *open, const char *next_open,
             const char *prefix, const char *name, const char *suffix)
{
    char want[160];
    const char *sec, *end;

    snprintf(want, sizeof(want), "\n%s\n", open);
    sec = strstr(text, want);
    if (sec == NULL) {
        return 0;
    }
    sec += strlen(want) - 1;
    snprintf(want, sizeof(want), "\n%s", next_open);
    end = strstr(sec, want);
    end = end != NULL ? end : sec + strlen(sec);
    snprintf(want, sizeof(want), "\n%s%s%s", prefix, name, suffix);
    for (const char *p = strstr(sec, want); p != NULL && p < end;
         p = strstr(p + 1, want)) {
        return 1;
    }
    return 0;
}

/* The cells of a Markdown table row "| a | b | c |", trimmed, in
 * cells[0..cap) (pointers into row, which is modified). Returns how many. */
static int
row_cells(char *row, char **cells, int cap)
{
    int n = 0;
    char *p = row + 1;

    while (n < cap) {
        char *bar = strchr(p, '|'), *a = p, *b;

        if (bar == NULL) {
            break;
        }
        *bar = '\0';
        while (*a == ' ') {
            a++;
        }
        for (b = a + strlen(a); b > a && b[-1] == ' '; b--) {
        }
        *b = '\0';
        cells[n++] = a;
        p = bar + 1;
    }
    return n;
}

/* Checks docs/configuration.md's row for r: "| `[section] name` |
 * default | value | live or restart | meaning |", the default as -t
 * prints it (in backquotes, or "(empty)"). Returns 1 if the row is there. */
static int
check_doc_row(const char *doc, const struct key_row *r)
{
    char want[160], line[1024], *cells[6], dflt[160];
    const char *p, *eol;
    int n;

    snprintf(want, sizeof(want), "\n| `[%s] %s` |", r->section, r->name);
    p = strstr(doc, want);
    if (p == NULL) {
        return 0;
    }
    eol = strchr(p + 1, '\n');
    snprintf(line, sizeof(line), "%.*s",
             (int)(eol != NULL ? eol - p - 1 : (long)strlen(p + 1)), p + 1);
    n = row_cells(line, cells, 6);
    cr_assert_eq(n, 5, "docs/configuration.md: [%s] %s: %d cells, want 5",
                 r->section, r->name, n);
    snprintf(dflt, sizeof(dflt), r->value[0] ? "`%s`" : "(empty)", r->value);
    cr_expect(strncmp(cells[1], dflt, strlen(dflt)) == 0,
              "docs/configuration.md: [%s] %s: default '%s', -t prints '%s'",
              r->section, r->name, cells[1], dflt);
    cr_expect_str_eq(cells[3], r->live ? "live" : "restart",
                     "docs/configuration.md: [%s] %s: on SIGHUP '%s', the "
                     "table says %s",
                     r->section, r->name, cells[3],
                     r->live ? "live" : "restart");
    return 1;
}

/* Fails for a row of docs/configuration.md naming a key the table lacks. */
static void
expect_no_stale_rows(const char *doc, const struct key_row *rows, int n)
{
    for (const char *p = strstr(doc, "\n| `["); p != NULL;
         p = strstr(p + 1, "\n| `[")) {
        char section[32] = "", name[48] = "";
        int found = 0;

        if (sscanf(p, "\n| `[%31[a-z_]] %47[a-z_]`", section, name) != 2) {
            continue; /* a row of another table */
        }
        for (int i = 0; i < n && !found; i++) {
            found = strcmp(rows[i].section, section) == 0 &&
                    strcmp(rows[i].name, name) == 0;
        }
        cr_expect(found,
                  "docs/configuration.md documents [%s] %s, which "
                  "src/base/config_table.c does not have",
                  section, name);
    }
}

/*
 * src/base/config_table.c is the source of truth: -t prints its keys; the
 * shipped proxy.ini sets each in its section; the man page's CONFIGURATION
 * has a ".B key = " entry for each under ".SS [section]"; and
 * docs/configuration.md has a row for each with -t's default and "live" or
 * "restart" as the row's CONFIG_LIVE flag says, and no row for a key that
 * is not in the table.
 */
Test(service, every_key_is_in_the_shipped_ini_the_man_page_and_the_docs)
{
    struct key_row *rows = calloc(KEYS_MAX, sizeof(*rows));
    char *ini = sv_slurp("proxy.ini", NULL);
    char *man = sv_slurp("docs/redis-proxy.8", NULL);
    char *doc = sv_slurp("docs/configuration.md", NULL);
    int n;

    sv_expect_repo_root();
    cr_assert_not_null(rows);
    n = table_rows(rows, KEYS_MAX);
    cr_assert_geq(n, 30, "only %d rows found in config_table.c", n);
    defaults_from_t(rows, n);
    for (int i = 0; i < n; i++) {
        const struct key_row *r = &rows[i];
        char open[48];

        snprintf(open, sizeof(open), "[%s]", r->section);
        cr_expect(has_key_line(ini, open, "[", "", r->name, " ="),
                  "proxy.ini does not set [%s] %s", r->section, r->name);
        snprintf(open, sizeof(open), ".SS [%s]", r->section);
        cr_expect(has_key_line(man, open, ".S", ".B ", r->name, " ="),
                  "docs/redis-proxy.8 has no entry for [%s] %s", r->section,
                  r->name);
        cr_expect(check_doc_row(doc, r),
                  "docs/configuration.md has no row for `[%s] %s`", r->section,
                  r->name);
    }
    expect_no_stale_rows(doc, rows, n);
    free(doc);
    free(man);
    free(ini);
    free(rows);
}

/* ---- links in README.md and docs/ ---- */

#define SLUG_MAX 256

/* GitHub's anchor for a heading's text: lower case; letters, digits, '-'
 * and '_' kept, spaces made '-', everything else (punctuation, backquotes,
 * and the non-ASCII symbols the docs use in headings) dropped. */
static void
slug(const char *text, size_t len, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c >= 'A' && c <= 'Z') {
            out[o++] = (char)(c - 'A' + 'a');
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            out[o++] = (char)c;
        } else if (c == ' ') {
            out[o++] = '-';
        }
    }
    out[o] = '\0';
}

/* 1 when the Markdown text has a heading whose anchor is anchor: its
 * slug, or the slug with "-N" for the Nth repeat of the same slug.
 * Headings inside fenced code blocks do not count. */
static int
has_anchor(const char *text, const char *anchor)
{
    char seen[64][SLUG_MAX], s[SLUG_MAX], cand[SLUG_MAX + 24];
    int nseen = 0, fenced = 0;

    for (const char *l = text; *l != '\0';) {
        const char *eol = strchr(l, '\n');
        size_t len = eol != NULL ? (size_t)(eol - l) : strlen(l);

        if (strncmp(l, "```", 3) == 0) {
            fenced = !fenced;
        } else if (!fenced && l[0] == '#') {
            size_t h = strspn(l, "#"), dup = 0;

            slug(l + h + 1, len > h ? len - h - 1 : 0, s, SLUG_MAX);
            for (int i = 0; i < nseen; i++) {
                dup += strcmp(seen[i], s) == 0;
            }
            if (nseen < 64) {
                memcpy(seen[nseen++], s, strlen(s) + 1);
            }
            if (dup > 0) {
                snprintf(cand, sizeof(cand), "%s-%zu", s, dup);
            } else {
                memcpy(cand, s, strlen(s) + 1);
            }
            if (strcmp(cand, anchor) == 0) {
                return 1;
            }
        }
        l += len + (eol != NULL);
    }
    return 0;
}

/* Checks one link target of the Markdown file `from` (a path relative to
 * the current directory, or absolute) against the tree whose real path is
 * root; appends to report why it does not resolve. Returns 1 when it
 * resolves. */
static int
check_link(const char *root, const char *from, const char *target, char *report,
           size_t cap)
{
    char path[2 * PATH_MAX], real[PATH_MAX], file[2 * PATH_MAX];
    const char *hash = strchr(target, '#');
    size_t plen = hash != NULL ? (size_t)(hash - target) : strlen(target);
    const char *slash = strrchr(from, '/');
    int ok = 1;

    if (plen == 0) {
        snprintf(file, sizeof(file), "%s", from);
    } else {
        snprintf(path, sizeof(path), "%.*s%s%.*s",
                 slash != NULL ? (int)(slash - from) : 0, from,
                 slash != NULL ? "/" : "", (int)plen, target);
        ok = target[0] != '/' && realpath(path, real) != NULL &&
             strncmp(real, root, strlen(root)) == 0 &&
             (real[strlen(root)] == '/' || real[strlen(root)] == '\0');
        snprintf(file, sizeof(file), "%s", path);
    }
    if (ok && hash != NULL) {
        size_t n = strlen(file);
        char *text;

        ok = n > 3 && strcmp(file + n - 3, ".md") == 0;
        if (ok) {
            text = sv_slurp(file, NULL);
            ok = has_anchor(text, hash + 1);
            free(text);
        }
    }
    if (!ok) {
        snprintf(report + strlen(report), cap - strlen(report), "%s: (%s) %s\n",
                 from, target,
                 hash != NULL && plen == 0 ? "no such heading here"
                 : hash != NULL ? "no such file in the repository, or no "
                                  "such heading in it"
                                : "no such file in the repository");
    }
    return ok;
}

/* Every inline link "[text](target)" and image of the Markdown file
 * `from`, outside fenced code blocks and `code spans`, checked with
 * check_link unless it is a URL (scheme://) or mailto:. Returns how many
 * were checked; *bad counts those that failed. */
static int
check_links_in(const char *root, const char *from, char *report, size_t cap,
               int *bad)
{
    char *text = sv_slurp(from, NULL), target[PATH_MAX];
    int fenced = 0, code = 0, checked = 0;

    for (char *p = text; *p != '\0'; p++) {
        if ((p == text || p[-1] == '\n') && strncmp(p, "```", 3) == 0) {
            fenced = !fenced;
        } else if (*p == '\n') {
            code = 0;
        } else if (*p == '`' && !fenced) {
            code = !code;
        } else if (!fenced && !code && p[0] == ']' && p[1] == '(') {
            size_t n = strcspn(p + 2, ") \n");

            if (p[2 + n] != ')' || n == 0 || n >= sizeof(target)) {
                continue;
            }
            snprintf(target, sizeof(target), "%.*s", (int)n, p + 2);
            if (strstr(target, "://") != NULL ||
                strncmp(target, "mailto:", 7) == 0) {
                continue;
            }
            checked++;
            *bad += !check_link(root, from, target, report, cap);
        }
    }
    free(text);
    return checked;
}

/* The Markdown files under dir (recursively), as paths from the
 * repository's root, appended to names (NUL-separated, ending at an empty
 * one). */
static void
markdown_files(const char *dir, char *names, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    cr_assert_not_null(d, "opendir %s", dir);
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX];
        size_t used = 0, n = strlen(de->d_name);
        struct stat st;

        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        cr_assert_eq(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            markdown_files(path, names, cap);
        } else if (n > 3 && strcmp(de->d_name + n - 3, ".md") == 0) {
            while (names[used] != '\0') {
                used += strlen(names + used) + 1;
            }
            cr_assert_lt(used + strlen(path) + 2, cap);
            memcpy(names + used, path, strlen(path) + 1);
            names[used + strlen(path) + 1] = '\0';
        }
    }
    closedir(d);
}

/*
 * Every relative link in README.md and the Markdown files under docs/
 * leads to a file inside the repository and, with a #fragment into a
 * Markdown file, to one of its headings.
 */
Test(service, every_link_in_the_readme_and_docs_resolves)
{
    char root[PATH_MAX], *names = calloc(1, 8192);
    char *report = calloc(1, SV_OUT_CAP);
    int checked = 0, bad = 0, files = 0;

    sv_expect_repo_root();
    cr_assert(names != NULL && report != NULL);
    cr_assert_not_null(realpath(".", root));
    memcpy(names, "README.md", 10);
    markdown_files("docs", names, 8192);
    for (char *p = names; *p != '\0'; p += strlen(p) + 1) {
        checked += check_links_in(root, p, report, SV_OUT_CAP, &bad);
        files++;
    }
    cr_assert_geq(files, 8, "only %d Markdown files", files);
    cr_assert_geq(checked, 30, "only %d links checked", checked);
    cr_assert_eq(bad, 0, "%d of %d links do not resolve:\n%s", bad, checked,
                 report);
    free(names);
    free(report);
}

/* The link check itself, on a scratch tree: links that resolve (a file, a
 * heading there and here, a repeated heading, a directory) pass, and each
 * way of failing (a missing file, a missing heading, a path out of the
 * tree, an absolute path) is reported. */
Test(service, the_link_check_finds_what_does_not_resolve)
{
    char root[PATH_MAX], path[PATH_MAX + 32], report[2048] = "";
    const char *dir = sv_scratch_dir("links");
    int bad = 0;
    FILE *f;

    cr_assert_not_null(realpath(dir, root));
    snprintf(path, sizeof(path), "%s/sub", root);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/sub/b.md", root);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("# B\n\n## How it works (`[x] y = on`)\n\n## Twice\n\n"
          "## Twice\n\n```\n# not a heading\n```\n",
          f);
    cr_assert_eq(fclose(f), 0);
    snprintf(path, sizeof(path), "%s/a.md", root);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("# A\n\n## Here's one\n[ok](sub/b.md) [ok](sub/b.md#b) "
          "[ok](sub/b.md#how-it-works-x-y--on) [ok](sub/b.md#twice-1) "
          "![ok](sub) [ok](#heres-one) [web](https://example.org/x) "
          "`[code](nowhere.md)`\n"
          "[bad](missing.md) [bad](sub/b.md#nope) [bad](#not-here) "
          "[bad](../outside.md) [bad](/etc/passwd) [bad](sub/b.md#twice-2) "
          "[bad](sub/b.md#not-a-heading)\n```\n[skipped](gone.md)\n```\n",
          f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(check_links_in(root, path, report, sizeof(report), &bad), 13,
                 "%s", report);
    cr_assert_eq(bad, 7, "%s", report);
    cr_assert_not_null(strstr(report, "(missing.md) no such file"), "%s",
                       report);
    cr_assert_not_null(strstr(report, "(#not-here) no such heading here"), "%s",
                       report);
    cr_assert_not_null(strstr(report, "(../outside.md)"), "%s", report);
    cr_assert_not_null(strstr(report, "(/etc/passwd)"), "%s", report);
    cr_assert_null(strstr(report, "(sub/b.md)"), "%s", report);
    cr_assert_null(strstr(report, "twice-1"), "%s", report);
}
