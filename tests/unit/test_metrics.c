/* Unit tests of metrics: values from lines (any capture-group count, group 1
 * as the value), the match limit, and line splitting (independent of how the
 * stream is cut into feeds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"
#include "util.h"

typedef struct {
    size_t idx[16];
    double val[16];
    int n;
} got_t;

static void on_point(void *ud, size_t i, double v) {
    got_t *g = ud;
    g->idx[g->n] = i;
    g->val[g->n++] = v;
}

static metrics_set *compile(const char *js) {
    json_t *j = json_loads(js, 0, NULL);
    err_t e = {0};
    metrics_set *m = metrics_compile(j, &e);
    json_decref(j);
    return m;
}

static void test_scan(void **unused) {
    metrics_set *m = compile("[{\"Name\":\"acc\",\"Regex\":\"acc=([-+0-9.eE]+)\"},"
                             "{\"Name\":\"loss\",\"Regex\":\"loss: (\\\\S+)\"},"
                             "{\"Name\":\"whole\",\"Regex\":\"[0-9]+ms\"}]");
    assert_non_null(m);
    assert_int_equal(metrics_count(m), 3);
    got_t g = {0};
    const char *l = "epoch 3 acc=0.925 loss: 1.5e-2";
    assert_int_equal(metrics_scan_line(m, l, strlen(l), on_point, &g), 2);
    assert_int_equal(g.idx[0], 0);
    assert_true(g.val[0] == 0.925);
    assert_true(g.val[1] == 1.5e-2);
    g.n = 0;
    l = "loss: nan-ish acc=abc"; /* not numbers: no points */
    assert_int_equal(metrics_scan_line(m, l, strlen(l), on_point, &g), 0);
    metrics_free(m);
    assert_null(compile("[{\"Name\":\"bad\",\"Regex\":\"([a-\"}]"));
}

static void test_match_limit(void **unused) {
    metrics_set *m = compile("[{\"Name\":\"evil\",\"Regex\":\"^(a+)+$\"}]");
    char line[4096];
    memset(line, 'a', sizeof line - 2);
    line[sizeof line - 2] = 'b';
    line[sizeof line - 1] = 0;
    got_t g = {0};
    int64_t t0 = util_mono_ms();
    assert_int_equal(metrics_scan_line(m, line, strlen(line), on_point, &g), 0);
    assert_true(util_mono_ms() - t0 < 2000); /* bounded, not exponential */
    metrics_free(m);
}

typedef struct {
    char lines[8][64];
    int n;
} lines_t;

static void on_line(void *ud, const char *l, size_t len) {
    lines_t *ls = ud;
    snprintf(ls->lines[ls->n++], 64, "%.*s", (int)(len < 63 ? len : 63), l);
}

static void test_lines(void **unused) {
    static metrics_lines ml;
    lines_t got = {0};
    metrics_lines_feed(&ml, "ab", 2, on_line, &got);
    assert_int_equal(got.n, 0);
    metrics_lines_feed(&ml, "c\r\nde\nf", 7, on_line, &got);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.lines[0], "abc");
    assert_string_equal(got.lines[1], "de");
    assert_int_equal(ml.consumed, 8); /* "abc\r\n" (5) + "de\n" (3); "f" is pending */
    static char big[METRICS_LINE_MAX + 10];
    memset(big, 'x', sizeof big);
    metrics_lines_feed(&ml, big, sizeof big, on_line, &got);
    assert_int_equal(got.n, 3); /* an over-long line is cut at the cap */
}

/* Regex with k capture groups whose group 1 is the value: acc=(..)( x)( x).. */
static void test_any_group_count(void **unused) {
    for (int k = 1; k <= 9; k++) {
        char re[256] = "acc=([-+0-9.eE]+)", line[256];
        int n = snprintf(line, sizeof line, "step 7 acc=%d.25", k);
        for (int j = 1; j < k; j++) {
            strcat(re, "( x[0-9])");
            n += snprintf(line + n, sizeof line - (size_t)n, " x%d", j);
        }
        const char *names[] = {"acc"}, *res[] = {re};
        err_t e = {0};
        metrics_set *m = metrics_new(names, res, 1, &e);
        assert_non_null(m);
        got_t g = {0};
        assert_int_equal(metrics_scan_line(m, line, strlen(line), on_point, &g), 1);
        assert_int_equal(g.idx[0], 0);
        assert_true(g.val[0] == k + 0.25);
        metrics_free(m);
    }
}

static void test_group_one_is_the_value(void **unused) {
    const char *names[] = {"step", "acc", "alt", "opt", "whole", "named"};
    const char *res[] = {
        "step=([0-9]+) acc=([0-9.]+)",       /* group 1, not the last group */
        "(?:epoch [0-9]+ )?acc=([0-9.]+)",   /* a non-capturing group does not count */
        "(?:acc=([0-9.]+)|loss=([0-9.]+))$", /* the line ends with loss=: group 1 unset */
        "[0-9]+(x)?$",                       /* matches with group 1 unset: no point */
        "[0-9]+\\.[0-9]+",                   /* no group: the whole match */
        "(?<v>[0-9.]+)%",                    /* a named group is group 1 */
    };
    err_t e = {0};
    metrics_set *m = metrics_new(names, res, 6, &e);
    assert_non_null(m);
    assert_int_equal(metrics_count(m), 6);
    assert_string_equal(metrics_name(m, 4), "whole");
    got_t g = {0};
    const char *l = "step=12 acc=0.5 50% loss=3";
    assert_int_equal(metrics_scan_line(m, l, strlen(l), on_point, &g), 4);
    assert_int_equal(g.idx[0], 0);
    assert_true(g.val[0] == 12);
    assert_int_equal(g.idx[1], 1);
    assert_true(g.val[1] == 0.5);
    assert_int_equal(g.idx[2], 4);
    assert_true(g.val[2] == 0.5);
    assert_int_equal(g.idx[3], 5);
    assert_true(g.val[3] == 50);
    g.n = 0;
    l = "acc=0.75";
    assert_int_equal(metrics_scan_line(m, l, strlen(l), on_point, &g), 3);
    assert_int_equal(g.idx[0], 1);
    assert_int_equal(g.idx[1], 2); /* "alt" with group 1 set */
    assert_true(g.val[1] == 0.75);
    assert_int_equal(g.idx[2], 4);
    g.n = 0;
    l = "\xff\xfe acc=0.125"; /* invalid UTF-8 elsewhere in the line */
    assert_int_equal(metrics_scan_line(m, l, strlen(l), on_point, &g), 3);
    assert_true(g.val[0] == 0.125);
    metrics_free(m);
}

static void test_new_errors(void **unused) {
    err_t e = {0};
    metrics_set *m = metrics_new(NULL, NULL, 0, &e);
    assert_non_null(m);
    assert_int_equal(metrics_count(m), 0);
    assert_int_equal(metrics_scan_line(m, "acc=1", 5, on_point, NULL), 0);
    metrics_free(m);
    const char *names[] = {"ok", "bad"}, *res[] = {"ok=(\\d+)", "([a-"};
    assert_null(metrics_new(names, res, 2, &e));
    assert_int_equal(e.code, ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "MetricDefinitions[1].Regex does not compile"));
    const char *nonames[] = {"ok", NULL};
    e = (err_t){0};
    assert_null(metrics_new(nonames, res, 2, &e));
    assert_int_equal(e.code, ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "MetricDefinitions[1] needs a Name and a Regex"));
    metrics_free(NULL);
}

typedef struct {
    metrics_set *m;
    size_t n, cap;
    size_t *idx;
    double *val;
    size_t lines;
} stream_t;

static void stream_point(void *ud, size_t i, double v) {
    stream_t *s = ud;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->idx = realloc(s->idx, s->cap * sizeof *s->idx);
        s->val = realloc(s->val, s->cap * sizeof *s->val);
        assert_non_null(s->idx);
        assert_non_null(s->val);
    }
    s->idx[s->n] = i;
    s->val[s->n++] = v;
}

static void stream_line(void *ud, const char *l, size_t len) {
    stream_t *s = ud;
    assert_true(len <= METRICS_LINE_MAX);
    s->lines++;
    metrics_scan_line(s->m, l, len, stream_point, s);
}

static void test_long_line(void **unused) {
    const char *names[] = {"acc"}, *res[] = {"acc=([0-9.]+)"};
    err_t e = {0};
    metrics_set *m = metrics_new(names, res, 1, &e);
    assert_non_null(m);
    size_t pad = METRICS_LINE_MAX + 100;
    char *line = malloc(pad + 64);
    assert_non_null(line);
    memset(line, 'x', pad);
    int n = snprintf(line + pad, 64, " acc=0.5\n");
    size_t len = pad + (size_t)n;
    /* scanned whole, a long line still yields its point */
    got_t g = {0};
    assert_int_equal(metrics_scan_line(m, line, len - 1, on_point, &g), 1);
    assert_true(g.val[0] == 0.5);
    /* through the splitter: a full piece, then the rest with the point */
    static metrics_lines ml;
    stream_t s = {.m = m};
    metrics_lines_feed(&ml, line, len, stream_line, &s);
    assert_int_equal(s.lines, 2);
    assert_int_equal(s.n, 1);
    assert_true(s.val[0] == 0.5);
    assert_int_equal(ml.consumed, (long long)len);
    assert_int_equal(ml.len, 0);
    free(s.idx);
    free(s.val);
    free(line);
    metrics_free(m);
}

/* A log of metric lines, CRLF endings, empty lines, invalid UTF-8 and lines
 * over the cap, ending with an unterminated line. Caller frees. */
static char *make_log(size_t *len) {
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    srand(7);
    while (n < cap - 3 * METRICS_LINE_MAX) {
        int kind = rand() % 100;
        if (kind < 3) { /* over the cap, a value near its end */
            size_t pad = METRICS_LINE_MAX - 50 + (size_t)(rand() % 3000);
            memset(b + n, 'y', pad);
            n += pad;
            n += (size_t)sprintf(b + n, " acc=%d\n", rand() % 1000);
        } else if (kind < 10) {
            n += (size_t)sprintf(b + n, "\r\n\n");
        } else if (kind < 20) {
            n += (size_t)sprintf(b + n, "\xc3(\xff loss: %d.5\r\n", rand() % 100);
        } else {
            n += (size_t)sprintf(b + n, "epoch %d acc=%d.%03d loss: %de-3 n=%d b c d\n", rand(),
                                 rand() % 10, rand() % 1000, rand() % 1000, rand() % 50);
        }
    }
    n += (size_t)sprintf(b + n, "acc=9 pending");
    *len = n;
    return b;
}

static void feed_chunks(const char *log, size_t len, metrics_set *m, unsigned seed,
                        size_t max_chunk, stream_t *s, metrics_lines *ml) {
    *s = (stream_t){.m = m};
    srand(seed);
    for (size_t off = 0; off < len;) {
        size_t c = max_chunk == 1 ? 1 : 1 + (size_t)rand() % max_chunk;
        if (c > len - off)
            c = len - off;
        metrics_lines_feed(ml, log + off, c, stream_line, s);
        off += c;
    }
}

static void test_chunked_feeding(void **unused) {
    const char *names[] = {"acc", "loss", "four"};
    const char *res[] = {"acc=([0-9.]+)", "loss: ([-+0-9.eE]+)", "n=([0-9]+) (b) (c) (d)"};
    err_t e = {0};
    metrics_set *m = metrics_new(names, res, 3, &e);
    assert_non_null(m);
    size_t len;
    char *log = make_log(&len);
    static metrics_lines whole, part;
    stream_t ref, s;
    ref = (stream_t){.m = m};
    metrics_lines_feed(&whole, log, len, stream_line, &ref); /* all at once */
    assert_true(ref.n > 1000);
    assert_true(ref.lines > 1000);
    /* byte by byte, then random chunk sizes up to each bound */
    const size_t maxes[] = {1, 2, 7, 100, 4096, 70000};
    for (size_t k = 0; k < sizeof maxes / sizeof *maxes; k++) {
        part = (metrics_lines){0};
        feed_chunks(log, len, m, (unsigned)k + 11, maxes[k], &s, &part);
        assert_int_equal(s.lines, ref.lines);
        assert_int_equal(s.n, ref.n);
        assert_memory_equal(s.idx, ref.idx, ref.n * sizeof *ref.idx);
        assert_memory_equal(s.val, ref.val, ref.n * sizeof *ref.val);
        assert_int_equal(part.consumed, whole.consumed);
        assert_int_equal(part.len, whole.len);
        assert_memory_equal(part.buf, whole.buf, whole.len);
        free(s.idx);
        free(s.val);
    }
    assert_int_equal(whole.consumed + (long long)whole.len, (long long)len);
    free(ref.idx);
    free(ref.val);
    free(log);
    metrics_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_match_limit),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_any_group_count),
        cmocka_unit_test(test_group_one_is_the_value),
        cmocka_unit_test(test_new_errors),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_chunked_feeding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
