#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_match_limit),
        cmocka_unit_test(test_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
