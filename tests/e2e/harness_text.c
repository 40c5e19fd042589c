/*
 * harness_text: checks and look-ups on the text the proxy writes, for the
 * end-to-end tests (see harness.h): a validator of the Prometheus text
 * exposition format, a JSON well-formedness check, and line searches in
 * logs. The validator walks the exposition once, keeping the state of the
 * family whose HELP/TYPE block it is in; nothing here allocates except
 * that state.
 */
#include "harness.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per family: the validator's state inside one HELP/TYPE block. */
struct h__prom_fam {
    int help, typed, samples;
    double le, bucket, inf, count; /* histogram: last le, its count, +Inf */
    int buckets, has_inf, has_sum, has_count;
};

struct h__prom {
    char fam[128], type[16], seen[16384], err[256];
    struct h__prom_fam f;
};

static int
h__prom_err(struct h__prom *p, const char *why, const char *l, size_t len)
{
    snprintf(p->err, sizeof(p->err), "%s: '%.*s'", why,
             (int)(len > 120 ? 120 : len), l);
    return -1;
}

/* Length of the name at s: [a-zA-Z_:][a-zA-Z0-9_:]* (no ':' for labels). */
static size_t
h__name_len(const char *s, int colon)
{
    size_t n = 0;

    while (isalpha((unsigned char)s[n]) || s[n] == '_' ||
           (colon && s[n] == ':') || (n > 0 && isdigit((unsigned char)s[n]))) {
        n++;
    }
    return n;
}

/* A whole token as a float: decimal, or +Inf, -Inf, NaN. 0 or -1. */
static int
h__number(const char *s, size_t len, double *v)
{
    char buf[64], *end;

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strcmp(buf, "+Inf") != 0 && strcmp(buf, "-Inf") != 0 &&
        strcmp(buf, "NaN") != 0 &&
        (strspn(buf, "+-.0123456789eE") != len ||
         !isdigit((unsigned char)buf[len - 1]))) {
        return -1;
    }
    *v = strtod(buf, &end);
    return *end == '\0' ? 0 : -1;
}

/* Ends the current family's block. */
static int
h__prom_end(struct h__prom *p)
{
    if (p->fam[0] != '\0' && (!p->f.help || !p->f.typed)) {
        return h__prom_err(p, "family without HELP and TYPE", p->fam, 128);
    }
    if (strcmp(p->type, "histogram") == 0 &&
        (p->f.buckets == 0 || !p->f.has_inf || !p->f.has_sum ||
         !p->f.has_count || p->f.inf != p->f.count)) {
        return h__prom_err(p, "histogram without buckets, +Inf = _count, _sum",
                           p->fam, 128);
    }
    return 0;
}

/* "# HELP name text" / "# TYPE name type"; other comments are ignored. */
static int
h__prom_comment(struct h__prom *p, const char *l, size_t len)
{
    int help = strncmp(l, "# HELP ", 7) == 0;
    size_t n = h__name_len(l + 7, 1);
    char key[132];

    if (!help && strncmp(l, "# TYPE ", 7) != 0) {
        return 0;
    }
    if (n == 0 || n > 120 || l[7 + n] != ' ') {
        return h__prom_err(p, "bad metric name", l, len);
    }
    if (strlen(p->fam) != n || memcmp(p->fam, l + 7, n) != 0) {
        if (h__prom_end(p) != 0) {
            return -1;
        }
        snprintf(key, sizeof(key), " %.*s ", (int)n, l + 7);
        if (strstr(p->seen, key) != NULL ||
            strlen(p->seen) + n + 2 >= sizeof(p->seen)) {
            return h__prom_err(p, "family declared twice", l, len);
        }
        strcat(p->seen, key);
        snprintf(p->fam, sizeof(p->fam), "%.*s", (int)n, l + 7);
        p->type[0] = '\0';
        p->f = (struct h__prom_fam){.le = -INFINITY};
    }
    if (p->f.samples > 0 || (help ? p->f.help++ : p->f.typed++) > 0) {
        return h__prom_err(p, "HELP/TYPE repeated or after samples", l, len);
    }
    if (!help) {
        snprintf(p->type, sizeof(p->type), "%.*s", (int)(len - 8 - n),
                 l + 8 + n);
        snprintf(key, sizeof(key), " %s ", p->type);
        if (p->type[0] == '\0' || strchr(p->type, ' ') != NULL ||
            strstr(" counter gauge histogram summary untyped ", key) == NULL) {
            return h__prom_err(p, "bad type", l, len);
        }
        if (strcmp(p->type, "counter") == 0 &&
            (n < 6 || strncmp(l + 7 + n - 6, "_total", 6) != 0)) {
            return h__prom_err(p, "counter not named *_total", l, len);
        }
    }
    return 0;
}

/* {name="value",...} at *s; le's value is copied out. *s ends after '}'. */
static int
h__labels(const char **s, char *le, size_t lecap, int *count)
{
    const char *q = *s + 1;

    for (*count = 0; *q != '}'; (*count)++) {
        size_t n = h__name_len(q, 0), vl = 0;
        int is_le = n == 2 && strncmp(q, "le", 2) == 0;

        if (n == 0 || q[n] != '=' || q[n + 1] != '"') {
            return -1;
        }
        for (q += n + 2; *q != '"'; q++) {
            if (*q == '\n' ||
                (*q == '\\' && (q[1] == '\0' || !strchr("\\\"n", *++q)))) {
                return -1;
            }
            if (is_le && vl + 1 < lecap) {
                le[vl++] = *q;
                le[vl] = '\0';
            }
        }
        if (q[1] != ',' && q[1] != '}') {
            return -1;
        }
        q += q[1] == ',' ? 2 : 1;
    }
    *s = q + 1;
    return 0;
}

/* Histogram rules for one sample named fam + sfx (sl bytes). */
static int
h__prom_hist(struct h__prom *p, const char *sfx, size_t sl, const char *le,
             int nl, double v)
{
    double lev;

    if (sl == 4 && strncmp(sfx, "_sum", 4) == 0) {
        p->f.has_sum = 1;
    } else if (sl == 6 && strncmp(sfx, "_count", 6) == 0) {
        p->f.has_count = 1;
        p->f.count = v;
    } else if (sl == 7 && strncmp(sfx, "_bucket", 7) == 0 && nl == 1 &&
               h__number(le, strlen(le), &lev) == 0 && !p->f.has_inf &&
               lev > p->f.le && v >= p->f.bucket) {
        p->f.le = lev;
        p->f.bucket = v;
        p->f.buckets++;
        p->f.has_inf = isinf(lev);
        p->f.inf = v;
    } else {
        return -1;
    }
    return 0;
}

/* name[{labels}] value, inside its family's block. */
static int
h__prom_sample(struct h__prom *p, const char *l, size_t len)
{
    size_t n = h__name_len(l, 1), fl = strlen(p->fam);
    const char *q = l + n;
    char le[64] = "";
    int nl = 0, hist = strcmp(p->type, "histogram") == 0;
    double v;

    if (n == 0 || (*q == '{' && h__labels(&q, le, sizeof(le), &nl) != 0)) {
        return h__prom_err(p, "bad name or labels", l, len);
    }
    if (*q != ' ' || h__number(q + 1, len - (size_t)(q + 1 - l), &v) != 0) {
        return h__prom_err(p, "bad value", l, len);
    }
    if (fl == 0 || !p->f.help || !p->f.typed || n < fl ||
        strncmp(l, p->fam, fl) != 0 || (!hist && n != fl)) {
        return h__prom_err(p, "sample outside its HELP/TYPE block", l, len);
    }
    p->f.samples++;
    if (hist && h__prom_hist(p, l + fl, n - fl, le, nl, v) != 0) {
        return h__prom_err(p, "bad histogram sample or bucket order", l, len);
    }
    return 0;
}

/* Validates a whole exposition; returns 0, or -1 with p->err. */
static int
h__prom_check(struct h__prom *p, const char *text)
{
    const char *l, *eol;

    memset(p, 0, sizeof(*p));
    if (*text == '\0' || text[strlen(text) - 1] != '\n') {
        return h__prom_err(p, "empty or no final newline", "", 0);
    }
    for (l = text; *l != '\0'; l = eol + 1) {
        size_t len;

        eol = strchr(l, '\n');
        len = (size_t)(eol - l);
        if (len == 0) {
            return h__prom_err(p, "empty line", "", 0);
        }
        if ((*l == '#' ? h__prom_comment(p, l, len)
                       : h__prom_sample(p, l, len)) != 0) {
            return -1;
        }
    }
    return h__prom_end(p);
}

double
h_prom_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    const char *s = text;

    while (s != NULL) {
        if (strncmp(s, series, n) == 0 && s[n] == ' ') {
            return strtod(s + n + 1, NULL);
        }
        s = strchr(s, '\n');
        s = s != NULL && s[1] != '\0' ? s + 1 : NULL;
    }
    return NAN;
}

int
h_json_check(const char *s)
{
    char stack[64];
    int depth = 0, done = 0;

    for (; *s != '\0'; s++) {
        if (done && strchr(" \t\r\n", *s) == NULL) {
            return -1; /* bytes after the top-level value */
        }
        if (*s == '"') {
            for (s++; *s != '"'; s++) {
                if ((unsigned char)*s < 0x20 ||
                    (*s == '\\' &&
                     (s[1] == '\0' || strchr("\"\\/bfnrtu", *++s) == NULL))) {
                    return -1;
                }
            }
        } else if (*s == '{' || *s == '[') {
            if (depth == (int)sizeof(stack)) {
                return -1;
            }
            stack[depth++] = *s == '{' ? '}' : ']';
        } else if (*s == '}' || *s == ']') {
            if (depth == 0 || stack[--depth] != *s) {
                return -1;
            }
            done = depth == 0;
        } else if (strchr(" \t\r\n,:-+.eE0123456789truefalsn", *s) == NULL) {
            return -1;
        }
    }
    return done ? 0 : -1;
}

double
h_json_num(const char *json, const char *needle)
{
    const char *p = strstr(json, needle);

    return p != NULL ? strtod(p + strlen(needle), NULL) : NAN;
}

int
h_prom_validate(const char *text, char *err, size_t cap)
{
    struct h__prom *p = malloc(sizeof(*p));
    int rc;

    if (p == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    rc = h__prom_check(p, text);
    snprintf(err, cap, "%s", rc == 0 ? "" : p->err);
    free(p);
    return rc;
}

/* The line of text holding hit, copied into out. */
static void
h__line_at(const char *text, const char *hit, char *out, size_t cap)
{
    const char *start = hit, *end = strchr(hit, '\n');

    while (start > text && start[-1] != '\n') {
        start--;
    }
    if (end == NULL) {
        end = hit + strlen(hit);
    }
    snprintf(out, cap, "%.*s", (int)(end - start), start);
}

int
h_count_lines(const char *text, const char *needle)
{
    const char *hit = text;
    int n = 0;

    while ((hit = strstr(hit, needle)) != NULL) {
        const char *eol = strchr(hit, '\n');

        n++;
        if (eol == NULL) {
            break;
        }
        hit = eol + 1;
    }
    return n;
}

const char *
h_nth_line(const char *text, const char *needle, int n, char *out, size_t cap)
{
    const char *hit = text;

    snprintf(out, cap, "(none)");
    while ((hit = strstr(hit, needle)) != NULL) {
        const char *eol = strchr(hit, '\n');

        if (n-- == 0) {
            h__line_at(text, hit, out, cap);
            break;
        }
        if (eol == NULL) {
            break;
        }
        hit = eol + 1;
    }
    return out;
}
