/* fuzz_metrics — libFuzzer harness: metric extraction over chunked logs
 * (metrics.h: metrics_compile, metrics_lines_feed, metrics_scan_line).
 *
 * Input: [sel] [regex '\n' when sel >= 8] log ... [chunk lengths] [count]
 *   sel     the MetricDefinitions: sel % 16 below 8 picks one of the fixed
 *           sets in defsets[] below; 8 is one definition whose Regex is the
 *           line after sel; 9 is that plus fixed set 0 (sel % 16 above 9
 *           counts as 8)
 *   count   the last byte: how many bytes before it are chunk lengths (at
 *           most 64, and at most what is there)
 *   chunk lengths  fed in turn, cycling, to metrics_lines_feed; 0 feeds an
 *           empty chunk (a cycle of zeros feeds the rest at once)
 *   log     every byte between them
 *
 * The log is fed once in one piece and once in the chosen chunks, each
 * line scanned. Checked (abort on violation): both give the same lines and
 * the same points (definition index, value bit for bit), the same
 * `consumed` and the same unfinished line; consumed plus the unfinished
 * line's length is every byte fed; no line is longer than METRICS_LINE_MAX;
 * every point's index is a definition's and its value finite (stored values
 * become JSON numbers); metrics_scan_line's count is its callbacks'. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define FUZZ_CHUNKS_MAX 64

static const char *const defsets[8][4] = {
    {"accuracy=([-+0-9.eE]+)", "loss: ([-+0-9.eE]+)", NULL},
    {"accuracy=([-+0-9.eE]+)", "[0-9]+\\.[0-9]+", "loss: ([-+0-9.eE]+)", NULL},
    {"pr\xc3\xa9"
     "cision=([0-9.]+)",
     "\xce\xbb=(\\d+)", "(?i)PRECISION=(\\S+)", NULL},
    {"loss: ([-+0-9.eE]+)", "^x+$", "^(y*)$", NULL},
    {"(?:acc=(\\d+))|(?:err=(\\d+))", "a(=([0-9]+))?", NULL},
    {"(a+)+$", "^(\\s*)([0-9.]+)\\s*$", NULL},
    {"(a)(b)(c)(d)=([0-9]+)", "\\b(\\d+)\\b", "(?<=v=)\\d+", NULL},
    {NULL},
};

/* What one feeding saw: lines and points, appended as records. */
typedef struct {
    metrics_set *m;
    unsigned char *buf;
    size_t len, cap;
    size_t ndefs;
} trace;

static void fail(const char *what) {
    fprintf(stderr, "fuzz_metrics: %s\n", what);
    abort();
}

static void put(trace *t, const void *p, size_t n) {
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + n)
            cap *= 2;
        unsigned char *b = realloc(t->buf, cap);
        if (!b)
            abort();
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

static int points_seen;

static void on_point(void *ud, size_t index, double value) {
    trace *t = ud;
    if (index >= t->ndefs)
        fail("a point for no definition");
    if (!isfinite(value))
        fail("a point that is not finite");
    put(t, "P", 1);
    put(t, &index, sizeof index);
    put(t, &value, sizeof value);
    points_seen++;
}

static void on_line(void *ud, const char *line, size_t len) {
    trace *t = ud;
    if (len > METRICS_LINE_MAX)
        fail("a line longer than METRICS_LINE_MAX");
    /* The line in a buffer of its own length, so ASan sees reads past it. */
    char *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    memcpy(copy, line, len);
    put(t, "L", 1);
    put(t, &len, sizeof len);
    put(t, copy, len);
    points_seen = 0;
    int n = metrics_scan_line(t->m, copy, len, on_point, t);
    if (n != points_seen)
        fail("metrics_scan_line's count is not its callbacks'");
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    unsigned sel = data[0] % 16;
    const uint8_t *p = data + 1, *end = data + size - 1;
    size_t count = data[size - 1];
    json_t *defs = json_array();
    if (!defs)
        abort();
    if (sel >= 8) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        json_t *re =
            json_stringn((const char *)p, n); /* NULL unless valid UTF-8, as a request's JSON */
        p = nl ? nl + 1 : end;
        if (!re) {
            json_decref(defs);
            return 0;
        }
        json_array_append_new(defs, json_pack("{s:s, s:o}", "Name", "custom", "Regex", re));
        if (sel == 9)
            for (int i = 0; defsets[0][i]; i++)
                json_array_append_new(defs,
                                      json_pack("{s:s, s:s}", "Name", "m", "Regex", defsets[0][i]));
    } else {
        for (int i = 0; defsets[sel][i]; i++) {
            char name[8];
            snprintf(name, sizeof name, "m%d", i);
            json_array_append_new(defs,
                                  json_pack("{s:s, s:s}", "Name", name, "Regex", defsets[sel][i]));
        }
    }
    if (count > FUZZ_CHUNKS_MAX)
        count = FUZZ_CHUNKS_MAX;
    if (count > (size_t)(end - p))
        count = (size_t)(end - p);
    const uint8_t *chunks = end - count;
    const char *log = (const char *)p;
    size_t log_len = (size_t)(chunks - p);

    err_t e = {0};
    metrics_set *m = metrics_compile(defs, &e);
    json_decref(defs);
    if (!m) {
        if (e.code != ERR_VALIDATION || !e.msg[0])
            fail("metrics_compile failed without a ValidationError");
        return 0;
    }
    /* The log in a buffer of its own size. */
    char *copy = malloc(log_len ? log_len : 1);
    if (!copy)
        abort();
    memcpy(copy, log, log_len);

    trace whole = {.m = m, .ndefs = metrics_count(m)}, parts = whole;
    metrics_lines *lw = calloc(1, sizeof *lw), *lp = calloc(1, sizeof *lp);
    if (!lw || !lp)
        abort();
    metrics_lines_feed(lw, copy, log_len, on_line, &whole);

    size_t off = 0, ci = 0, fed_in_cycle = 0;
    while (off < log_len) {
        size_t n;
        if (!count) {
            n = log_len - off;
        } else {
            n = chunks[ci];
            if (++ci == count) {
                ci = 0;
                if (!fed_in_cycle && !n)
                    n = log_len - off; /* only zeros: the rest at once */
                fed_in_cycle = 0;
            }
        }
        if (n > log_len - off)
            n = log_len - off;
        fed_in_cycle += n;
        metrics_lines_feed(lp, copy + off, n, on_line, &parts);
        off += n;
    }

    if (whole.len != parts.len || (whole.len && memcmp(whole.buf, parts.buf, whole.len)))
        fail("one piece and chunks give different lines or points");
    if (lw->consumed != lp->consumed)
        fail("one piece and chunks give different `consumed`");
    if (lw->len != lp->len || memcmp(lw->buf, lp->buf, lw->len))
        fail("one piece and chunks leave different unfinished lines");
    if (lw->consumed + (long long)lw->len != (long long)log_len)
        fail("consumed plus the unfinished line is not every byte fed");
    if (lw->len > METRICS_LINE_MAX)
        fail("unfinished line longer than METRICS_LINE_MAX");

    free(whole.buf);
    free(parts.buf);
    free(lw);
    free(lp);
    free(copy);
    metrics_free(m);
    return 0;
}
