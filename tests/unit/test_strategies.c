/* Grid, Hyperband (ASHA) and the median rule, on synthetic spaces and
 * curves: Grid's order, exhaustion and cap; Hyperband's settings, stop at
 * MaxResource and promotion decisions at its rungs, the same from a
 * fresh strategy (restart); the median rule's
 * minimum jobs, start step and decision, through strategy_should_stop with
 * any strategy. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "space.h"
#include "strategy.h"

static space *mk(const char *js) {
    json_error_t je;
    json_t *j = json_loads(js, 0, &je);
    assert_non_null(j);
    err_t e = {0};
    space *sp = space_from_json(j, &e);
    json_decref(j);
    assert_non_null(sp);
    return sp;
}

#define CAT23                                                                                      \
    "{\"CategoricalParameterRanges\":[{\"Name\":\"a\",\"Values\":[\"x\",\"y\"]},"                  \
    "{\"Name\":\"b\",\"Values\":[\"1\",\"2\",\"3\"]}]}"

#define CONT1                                                                                      \
    "{\"ContinuousParameterRanges\":[{\"Name\":\"lr\",\"MinValue\":\"0\",\"MaxValue\":\"1\"}]}"

/* Index i is combination i of the lexicographic order (last range fastest);
 * every combination once; exhausted from the count on; the same from a
 * fresh strategy, in any order (restarts, parallel jobs). */
static void test_grid_order(void **unused) {
    space *sp = mk(CAT23);
    err_t e = {0};
    strategy *g = strategy_new("Grid", sp, 1, NULL, 0, &e);
    assert_non_null(g);
    assert_int_equal(strategy_grid_size(sp, &e), 6);
    int seen[2][3] = {{0}};
    for (uint64_t i = 0; i < 6; i++) {
        double c[2];
        assert_int_equal(strategy_exhausted(g, i), 0);
        assert_int_equal(strategy_suggest(g, i, NULL, 0, NULL, 0, c, &e), 0);
        assert_int_equal((int)c[0], (int)(i / 3));
        assert_int_equal((int)c[1], (int)(i % 3));
        seen[(int)c[0]][(int)c[1]]++;
    }
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            assert_int_equal(seen[a][b], 1);
    assert_int_equal(strategy_exhausted(g, 6), 1);
    assert_int_equal(strategy_exhausted(g, UINT64_MAX), 1);
    double c[2];
    assert_int_not_equal(strategy_suggest(g, 6, NULL, 0, NULL, 0, c, &e), 0);
    strategy *h = strategy_new("Grid", sp, 99, NULL, 0, &e);
    for (uint64_t i = 6; i-- > 0;) {
        double x[2], y[2];
        assert_int_equal(strategy_suggest(h, i, NULL, 0, NULL, 0, x, &e), 0);
        assert_int_equal(strategy_suggest(g, i, NULL, 0, NULL, 0, y, &e), 0);
        assert_memory_equal(x, y, sizeof x);
    }
    strategy_free(g);
    strategy_free(h);
    space_free(sp);
}

/* Non-categorical ranges are refused naming them; over the cap, refused. */
static void test_grid_refusals(void **unused) {
    space *sp = mk(CONT1);
    err_t e = {0};
    assert_null(strategy_new("Grid", sp, 1, NULL, 0, &e));
    assert_int_equal(e.code, ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "'lr'"));
    space_free(sp);

    /* 5 ranges of 7 values: 16807 > STRATEGY_GRID_MAX */
    char js[2048];
    size_t n = (size_t)snprintf(js, sizeof js, "{\"CategoricalParameterRanges\":[");
    for (int r = 0; r < 5; r++)
        n += (size_t)snprintf(js + n, sizeof js - n,
                              "%s{\"Name\":\"p%d\",\"Values\":[\"0\",\"1\",\"2\",\"3\",\"4\","
                              "\"5\",\"6\"]}",
                              r ? "," : "", r);
    snprintf(js + n, sizeof js - n, "]}");
    sp = mk(js);
    assert_true(16807 > STRATEGY_GRID_MAX);
    memset(&e, 0, sizeof e);
    assert_int_equal(strategy_grid_size(sp, &e), 0);
    assert_int_equal(e.code, ERR_VALIDATION);
    assert_null(strategy_new("Grid", sp, 1, NULL, 0, &e));
    space_free(sp);
}

/* A curve with values y[0..n) at steps 1..n. */
typedef struct {
    double cfg[1];
    int64_t step[64];
    double y[64];
    strategy_curve c;
} tcurve;

static void curve_set(tcurve *t, double cfg, const double *y, size_t n, int finished) {
    t->cfg[0] = cfg;
    for (size_t i = 0; i < n; i++) {
        t->step[i] = (int64_t)i + 1;
        t->y[i] = y[i];
    }
    t->c = (strategy_curve){t->cfg, t->step, t->y, n, finished};
}

static strategy *hb_new(space *sp, int64_t min, int64_t max) {
    err_t e = {0};
    strategy *s = strategy_new("Hyperband", sp, 3, NULL, 0, &e);
    assert_non_null(s);
    strategy_opts o = {.min_resource = min, .max_resource = max};
    assert_int_equal(strategy_configure(s, &o, &e), 0);
    return s;
}

/* MaxResource is required, within the API's cap and at least MinResource. */
static void test_hb_settings(void **unused) {
    space *sp = mk(CONT1);
    err_t e = {0};
    strategy *s = strategy_new("Hyperband", sp, 3, NULL, 0, &e);
    assert_non_null(s);
    strategy_opts none = {0}, big = {.max_resource = STRATEGY_HB_MAX_RESOURCE + 1},
                  inv = {.min_resource = 10, .max_resource = 9};
    assert_int_equal(strategy_configure(s, &none, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "MaxResource"));
    assert_int_equal(strategy_configure(s, &big, &e), ERR_VALIDATION);
    assert_int_equal(strategy_configure(s, &inv, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "MinResource"));
    strategy_free(s);
    space_free(sp);
}

/* Stopped once it reaches MaxResource, never before MinResource; the
 * first trial at a rung always continues. */
static void test_hb_bounds(void **unused) {
    space *sp = mk(CONT1);
    /* MinResource 9 = MaxResource: no rung at all, only the cap */
    strategy *s = hb_new(sp, 9, 9);
    tcurve a;
    double y[12];
    for (int i = 0; i < 12; i++)
        y[i] = 1.0 / (i + 1);
    for (size_t n = 1; n < 9; n++) {
        curve_set(&a, 0.5, y, n, 0);
        assert_int_equal(strategy_should_stop(s, &a.c, &a.c, 1), 0);
    }
    curve_set(&a, 0.5, y, 9, 0);
    assert_int_equal(strategy_should_stop(s, &a.c, &a.c, 1), 1);
    strategy_free(s);
    space_free(sp);
}

/* The bracket of a config is fixed by hash; find configs in bracket 0
 * (judged from the first rung on) by probing: with MinResource 1,
 * MaxResource 3 there is one rung (1), so one bracket: every config is in
 * bracket 0. A trial worse than the best 1/3 at rung 1 stops; one in the
 * best 1/3 continues; a trial judged at rung 1 is not judged there again
 * when it grows (decisions as results arrive, not re-made). */
static void test_hb_promotion(void **unused) {
    space *sp = mk(CONT1);
    strategy *s = hb_new(sp, 1, 3);
    tcurve t[5];
    /* four finished trials with values 1, 2, 3, 4 at step 1 */
    for (int i = 0; i < 4; i++) {
        double y[2] = {1.0 + i, 0.5 + i};
        curve_set(&t[i], 0.1 * (i + 1), y, 2, 1);
    }
    strategy_curve all[5];
    for (int i = 0; i < 4; i++)
        all[i] = t[i].c;
    /* a new trial at rung 1 with value 1.5: values {1,1.5,2,3,4}; the 1/3
     * quantile is at position 4/3: 1.5 + (1/3) * (2 - 1.5) ≈ 1.667: continues */
    double good[1] = {1.5};
    curve_set(&t[4], 0.77, good, 1, 0);
    all[4] = t[4].c;
    assert_int_equal(strategy_should_stop(s, &all[4], all, 5), 0);
    /* it grows to step 2 with a bad value: rung 1 was decided, no rung at 2 */
    double good2[2] = {1.5, 9};
    curve_set(&t[4], 0.77, good2, 2, 0);
    all[4] = t[4].c;
    assert_int_equal(strategy_should_stop(s, &all[4], all, 5), 0);
    /* and at MaxResource it stops */
    double good3[3] = {1.5, 9, 9};
    curve_set(&t[4], 0.77, good3, 3, 0);
    all[4] = t[4].c;
    assert_int_equal(strategy_should_stop(s, &all[4], all, 5), 1);

    /* another with 2.5: values {1,2,2.5,3,4}, quantile ≈ 2.167 < 2.5: stops */
    double bad[1] = {2.5};
    curve_set(&t[4], 0.33, bad, 1, 0);
    all[4] = t[4].c;
    assert_int_equal(strategy_should_stop(s, &all[4], all, 5), 1);
    /* a trial alone at the rung continues whatever its value */
    double lone[1] = {100};
    curve_set(&t[4], 0.44, lone, 1, 0);
    assert_int_equal(strategy_should_stop(s, &t[4].c, &t[4].c, 1), 0);
    strategy_free(s);
    space_free(sp);
}

/* Brackets and rungs skipped between two calls. With MinResource 1,
 * MaxResource 27: rungs 1, 3, 9, three brackets. 200 configs, each with a
 * bad value at steps 1..4 (past rungs 1 and 3, judged at the highest one
 * when first seen), against 6 good finished trials of any bracket: the
 * trials of brackets 0 and 1 (first judged at rung 1 or 3) stop, those of
 * bracket 2 (first judged at rung 9) run on. */
static void test_hb_brackets(void **unused) {
    space *sp = mk(CONT1);
    strategy *s = hb_new(sp, 1, 27);
    static tcurve fin[6], run;
    strategy_curve all[7];
    double gy[27];
    for (int i = 0; i < 27; i++)
        gy[i] = 1.0;
    for (int i = 0; i < 6; i++) {
        curve_set(&fin[i], -1.0 - i, gy, 27, 1);
        all[i] = fin[i].c;
    }
    double by[27];
    for (int i = 0; i < 27; i++)
        by[i] = 5.0;
    int stopped = 0, ran = 0;
    for (int k = 0; k < 200; k++) {
        curve_set(&run, 0.005 * k, by, 4, 0); /* steps 1..4: past rungs 1 and 3 */
        all[6] = run.c;
        if (strategy_should_stop(s, &all[6], all, 7))
            stopped++;
        else
            ran++;
    }
    /* shares eta^(2-s)/(3-s): 3, 1.5, 0.333 of 4.833: ~62%, ~31%, ~7% (binomial: 200 draws) */
    assert_true(stopped > 150);
    assert_true(ran > 2);
    strategy_free(s);
    space_free(sp);
}

/* A config of bracket 0 with MinResource 1, MaxResource 9 (rungs 1 and 3,
 * brackets 0 and 1), found by probing: alone against better values at
 * rung 1, a trial of bracket 0 stops, one of bracket 1 runs on. */
static double hb_bracket0_cfg(strategy *s) {
    static tcurve fin[3], probe;
    strategy_curve all[4];
    double one[3] = {1, 1, 1}, bad[1] = {5};
    for (int i = 0; i < 3; i++) {
        curve_set(&fin[i], -1.0 - i, one, 3, 1);
        all[i] = fin[i].c;
    }
    for (int k = 0; k < 100; k++) {
        curve_set(&probe, 0.01 * k, bad, 1, 0);
        all[3] = probe.c;
        if (strategy_should_stop(s, &all[3], all, 4))
            return 0.01 * k;
    }
    fail_msg("no config of bracket 0 in 100 probes");
    return 0;
}

/* Segments: a trial let through by a rung that few had reached is stopped
 * while still before the next rung once better values reach that rung;
 * once it has reached the next rung it is judged only there. */
static void test_hb_segments(void **unused) {
    space *sp = mk(CONT1);
    strategy *s = hb_new(sp, 1, 9);
    double c0 = hb_bracket0_cfg(s);
    static tcurve me, other[3];
    strategy_curve all[4];
    double mine[4] = {2, 2, 0.5, 0.5}, good[1] = {1};
    curve_set(&me, c0, mine, 1, 0); /* alone at rung 1: continues */
    all[0] = me.c;
    assert_int_equal(strategy_should_stop(s, &all[0], all, 1), 0);
    for (int i = 0; i < 3; i++) {
        curve_set(&other[i], 10.0 + i, good, 1, 0);
        all[1 + i] = other[i].c;
    }
    curve_set(&me, c0, mine, 2, 0); /* step 2, still before rung 3: cut */
    all[0] = me.c;
    assert_int_equal(strategy_should_stop(s, &all[0], all, 4), 1);
    curve_set(&me, c0, mine, 3, 0); /* at rung 3 (best there): rung 1 is not judged again */
    all[0] = me.c;
    assert_int_equal(strategy_should_stop(s, &all[0], all, 4), 0);
    strategy_free(s);
    space_free(sp);
}

/* Restart: the decisions are a pure function of the curves. A simulated
 * run (MinResource 1, MaxResource 27: rungs 1, 3, 9 and three brackets; 40
 * trials, 3 at a time, one step each per round) asks the live strategy at
 * every step; a fresh strategy created at each call (as after a restart at
 * that moment) and one created halfway through and asked from then on make
 * the same decisions. The run stops some trials at each kind of rung, and
 * lets some run to MaxResource. */
#define SIM_TRIALS 40
#define SIM_MAX 27
static void test_hb_restart(void **unused) {
    space *sp = mk(CONT1);
    strategy *live = hb_new(sp, 1, SIM_MAX), *half = NULL;
    static tcurve t[SIM_TRIALS];
    strategy_curve all[SIM_TRIALS];
    double y[SIM_TRIALS][SIM_MAX];
    size_t len[SIM_TRIALS] = {0};
    int done[SIM_TRIALS] = {0}, started = 0, calls = 0, stops_at[SIM_MAX + 1] = {0};
    for (int i = 0; i < SIM_TRIALS; i++) {
        double q = 0.2 + 0.8 * fmod(0.6180339887 * (i + 1), 1.0); /* quality */
        for (int k = 0; k < SIM_MAX; k++)
            y[i][k] = q * (1 + 3.0 / (k + 1)) + 0.01 * sin(7.0 * i + k);
    }
    while (1) {
        int running = 0;
        for (int i = 0; i < started; i++)
            running += !done[i];
        while (running < 3 && started < SIM_TRIALS) {
            running++;
            started++;
        }
        if (!running)
            break;
        for (int i = 0; i < started; i++) {
            if (done[i])
                continue;
            len[i]++;
            for (int j = 0; j < started; j++) {
                curve_set(&t[j], 0.0123 * (j + 1), y[j], len[j], done[j]);
                all[j] = t[j].c;
            }
            int d = strategy_should_stop(live, &all[i], all, (size_t)started);
            strategy *fresh = hb_new(sp, 1, SIM_MAX);
            assert_int_equal(strategy_should_stop(fresh, &all[i], all, (size_t)started), d);
            strategy_free(fresh);
            if (!half && started > SIM_TRIALS / 2)
                half = hb_new(sp, 1, SIM_MAX);
            if (half)
                assert_int_equal(strategy_should_stop(half, &all[i], all, (size_t)started), d);
            calls++;
            if (d) {
                done[i] = 1;
                stops_at[len[i]]++;
            }
        }
    }
    assert_true(calls > 100);
    int early = 0;
    for (int n = 1; n < SIM_MAX; n++)
        early += stops_at[n];
    assert_true(stops_at[1] + stops_at[2] > 0); /* segment of rung 1 */
    assert_true(stops_at[3] + stops_at[4] + stops_at[5] > 0);
    assert_true(early > SIM_TRIALS / 2);
    assert_true(stops_at[SIM_MAX] > 0);
    strategy_free(live);
    strategy_free(half);
    space_free(sp);
}

/* The median rule: not before START_STEP, not with fewer than MIN_JOBS
 * finished trials; stops a trial worse than the median of the finished
 * trials' running averages up to its step; works over any strategy. */
static void test_median(void **unused) {
    static tcurve fin[4], me;
    strategy_curve all[5];
    /* finished trials with constant values 1, 2, 3, 10: running averages
     * are those; the median of the first three is 2 */
    double ys[4] = {1, 2, 3, 10};
    for (int i = 0; i < 4; i++) {
        double y[8];
        for (int k = 0; k < 8; k++)
            y[k] = ys[i];
        curve_set(&fin[i], 0.1 * i, y, 8, 1);
        all[i] = fin[i].c;
    }
    double bad[8] = {9, 9, 9, 9, 9, 9, 9, 9}, good[8] = {1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5};
    assert_int_equal(STRATEGY_MEDIAN_START_STEP, 4);
    curve_set(&me, 0.9, bad, STRATEGY_MEDIAN_START_STEP - 1, 0);
    all[3] = me.c;
    assert_int_equal(strategy_median_stop(&me.c, all, 4), 0); /* before the start step */
    curve_set(&me, 0.9, bad, STRATEGY_MEDIAN_START_STEP, 0);
    all[3] = me.c;
    assert_int_equal(strategy_median_stop(&me.c, all, 4), 1);     /* 9 > median 2 */
    assert_int_equal(strategy_median_stop(&me.c, all + 1, 3), 0); /* 2 finished: too few */
    curve_set(&me, 0.9, good, 5, 0);
    all[3] = me.c;
    assert_int_equal(strategy_median_stop(&me.c, all, 4), 0); /* 1.5 < 2 */
    /* running trials do not count as earlier jobs */
    all[1].finished = 0;
    curve_set(&me, 0.9, bad, 5, 0);
    all[3] = me.c;
    assert_int_equal(strategy_median_stop(&me.c, all, 4), 0);
    all[1].finished = 1;
    /* running averages up to the step, not final values: a job that was bad
     * early and good late */
    double late[8] = {20, 20, 20, 20, 0, 0, 0, 0};
    curve_set(&fin[3], 0.4, late, 8, 1);
    all[3] = fin[3].c;
    curve_set(&me, 0.9, good, 4, 0); /* averages at 4: 1, 2, 3, 20 -> median 2.5 */
    all[4] = me.c;
    assert_int_equal(strategy_median_stop(&me.c, all, 5), 0);
    double mid[8] = {2.7, 2.7, 2.7, 2.7};
    curve_set(&me, 0.9, mid, 4, 0);
    all[4] = me.c;
    assert_int_equal(strategy_median_stop(&me.c, all, 5), 1);

    /* through the wrapper, for Bayesian and Random, only when configured */
    space *sp = mk(CONT1);
    const char *names[] = {"Bayesian", "Random"};
    for (int i = 0; i < 2; i++) {
        err_t e = {0};
        strategy *s = strategy_new(names[i], sp, 1, NULL, 0, &e);
        assert_non_null(s);
        assert_int_equal(strategy_should_stop(s, &me.c, all, 5), 0);
        strategy_opts o = {.early_stopping = 1};
        assert_int_equal(strategy_configure(s, &o, &e), 0);
        assert_int_equal(strategy_should_stop(s, &me.c, all, 5), 1);
        strategy_free(s);
    }
    space_free(sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_order),   cmocka_unit_test(test_grid_refusals),
        cmocka_unit_test(test_hb_settings),  cmocka_unit_test(test_hb_bounds),
        cmocka_unit_test(test_hb_promotion), cmocka_unit_test(test_hb_brackets),
        cmocka_unit_test(test_hb_segments),  cmocka_unit_test(test_hb_restart),
        cmocka_unit_test(test_median),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
