/* metrics — compiles MetricDefinitions and scans log lines for their values
 * (see metrics.h). Each definition owns match data sized from its own
 * pattern, so a regex with any number of capture groups matches; group 1 (or
 * the whole match when there is none) is the value. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_MATCH_LIMIT 200000
#define METRICS_DEPTH_LIMIT 5000

typedef struct {
    char *name;
    pcre2_code *re;
    pcre2_match_data *md; /* sized for re's capture groups */
    uint32_t groups;      /* capture groups in re */
} metric_def;

struct metrics_set {
    size_t n; /* definitions compiled so far (all of them once built) */
    metric_def *defs;
    pcre2_match_context *mctx;
};

void metrics_free(metrics_set *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->defs[i].name);
        pcre2_match_data_free(m->defs[i].md);
        pcre2_code_free(m->defs[i].re);
    }
    free(m->defs);
    pcre2_match_context_free(m->mctx);
    free(m);
}

/* An empty set with room for n definitions; NULL when out of memory. */
static metrics_set *set_new(size_t n) {
    metrics_set *m = calloc(1, sizeof *m);
    if (!m || !(m->defs = calloc(n ? n : 1, sizeof *m->defs)) ||
        !(m->mctx = pcre2_match_context_create(NULL))) {
        metrics_free(m);
        return NULL;
    }
    pcre2_set_match_limit(m->mctx, METRICS_MATCH_LIMIT);
    pcre2_set_depth_limit(m->mctx, METRICS_DEPTH_LIMIT);
    return m;
}

/* Compiles definition number m->n. 0, ERR_VALIDATION or ERR_INTERNAL (e set). */
static int add_def(metrics_set *m, const char *name, const char *re, err_t *e) {
    size_t i = m->n;
    int errcode;
    PCRE2_SIZE erroff;
    if (!name || !re)
        return err_set(e, ERR_VALIDATION, "MetricDefinitions[%zu] needs a Name and a Regex", i);
    metric_def *d = &m->defs[i];
    d->re = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &errcode, &erroff, NULL);
    if (!d->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        return err_set(e, ERR_VALIDATION,
                       "MetricDefinitions[%zu].Regex does not compile at offset %zu: %s", i,
                       (size_t)erroff, (const char *)msg);
    }
    m->n++; /* from here metrics_free() frees what d holds */
    if (pcre2_pattern_info(d->re, PCRE2_INFO_CAPTURECOUNT, &d->groups))
        return err_set(e, ERR_INTERNAL, "MetricDefinitions[%zu].Regex: no capture count", i);
    if (!(d->md = pcre2_match_data_create_from_pattern(d->re, NULL)) || !(d->name = strdup(name)))
        return err_set(e, ERR_INTERNAL, "out of memory");
    return 0;
}

metrics_set *metrics_new(const char *const *names, const char *const *regexes, size_t n, err_t *e) {
    metrics_set *m = set_new(n);
    int rc = 0;
    if (!m) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = add_def(m, names[i], regexes[i], e);
    if (rc) {
        metrics_free(m);
        return NULL;
    }
    return m;
}

metrics_set *metrics_compile(const json_t *defs, err_t *e) {
    size_t n = json_array_size(defs);
    metrics_set *m = set_new(n);
    int rc = 0;
    if (!m) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        const json_t *d = json_array_get(defs, i);
        rc = add_def(m, json_string_value(json_object_get(d, "Name")),
                     json_string_value(json_object_get(d, "Regex")), e);
    }
    if (rc) {
        metrics_free(m);
        return NULL;
    }
    return m;
}

size_t metrics_count(const metrics_set *m) {
    return m ? m->n : 0;
}

const char *metrics_name(const metrics_set *m, size_t i) {
    return m->defs[i].name;
}

/* Parses a captured number: strtod over the whole capture, after trimming. */
static int parse_capture(const char *s, size_t len, double *v) {
    char buf[128];
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    errno = 0;
    *v = strtod(buf, &end);
    if (errno || *end || !isfinite(*v))
        return -1;
    return 0;
}

int metrics_scan_line(metrics_set *m, const char *line, size_t len,
                      void (*cb)(void *ud, size_t index, double value), void *ud) {
    int found = 0;
    for (size_t i = 0; m && i < m->n; i++) {
        int r = pcre2_match(m->defs[i].re, (PCRE2_SPTR)line, len, 0, 0, m->defs[i].md, m->mctx);
        if (r <= 0)
            continue; /* no match, or a limit hit: no point */
        /* r is the highest set group + 1 (the match data fits every group):
         * r == 1 with groups means group 1 is unset. */
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->defs[i].md);
        int g = m->defs[i].groups ? 1 : 0;
        if (r <= g || ov[2 * g] == PCRE2_UNSET)
            continue;
        double v;
        if (parse_capture(line + ov[2 * g], ov[2 * g + 1] - ov[2 * g], &v))
            continue;
        cb(ud, i, v);
        found++;
    }
    return found;
}

void metrics_lines_feed(metrics_lines *ls, const char *data, size_t n,
                        void (*on_line)(void *ud, const char *line, size_t len), void *ud) {
    for (size_t i = 0; i < n; i++) {
        char c = data[i];
        if (c == '\n') {
            size_t l = ls->len;
            if (l && ls->buf[l - 1] == '\r')
                l--;
            on_line(ud, ls->buf, l);
            ls->consumed += (long long)ls->len + 1;
            ls->len = 0;
            continue;
        }
        if (ls->len == sizeof ls->buf) {
            on_line(ud, ls->buf, ls->len);
            ls->consumed += (long long)ls->len;
            ls->len = 0;
        }
        ls->buf[ls->len++] = c;
    }
}
