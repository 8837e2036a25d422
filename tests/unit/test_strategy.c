/* The strategy interface: the registry, the optional operations' defaults,
 * determinism of every registered strategy, and prior history (warm start):
 * Bayesian's suggestion follows it, deterministically; Random ignores it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

#define CUBE3                                                                                      \
    "{\"ContinuousParameterRanges\":[{\"Name\":\"a\",\"MinValue\":\"0\",\"MaxValue\":\"1\"},"      \
    "{\"Name\":\"b\",\"MinValue\":\"0\",\"MaxValue\":\"1\"},"                                      \
    "{\"Name\":\"c\",\"MinValue\":\"0\",\"MaxValue\":\"1\"}]}"

#define MIXED                                                                                      \
    "{\"ContinuousParameterRanges\":[{\"Name\":\"lr\",\"MinValue\":\"0.0001\",\"MaxValue\":"       \
    "\"1\"}],\"IntegerParameterRanges\":[{\"Name\":\"n\",\"MinValue\":\"1\",\"MaxValue\":\"9\"}]," \
    "\"CategoricalParameterRanges\":[{\"Name\":\"k\",\"Values\":[\"a\",\"b\",\"c\"]}]}"

static const double OPT[3] = {0.85, 0.15, 0.7};

static double sphere(const double *c) {
    double s = 0;
    for (int i = 0; i < 3; i++)
        s += (c[i] - OPT[i]) * (c[i] - OPT[i]);
    return s;
}

/* NP prior trials on a 3x3x3 lattice, none at the optimum. */
#define NP 27
static void make_prior(double *cfg, strategy_obs *obs, double (*f)(const double *)) {
    for (int i = 0; i < NP; i++) {
        cfg[3 * i] = 0.1 + 0.4 * (i % 3);
        cfg[3 * i + 1] = 0.1 + 0.4 * (i / 3 % 3);
        cfg[3 * i + 2] = 0.1 + 0.4 * (i / 9);
        obs[i].cfg = cfg + 3 * i;
        obs[i].y = f(cfg + 3 * i);
    }
}

static void test_registry(void **unused) {
    size_t n = 0;
    int bayes = 0, rnd = 0;
    for (const strategy_ops *o; (o = strategy_at(n)); n++) {
        assert_non_null(o->name);
        assert_non_null(o->create);
        assert_non_null(o->suggest);
        assert_non_null(o->destroy);
        assert_ptr_equal(strategy_find(o->name), o);
        for (size_t k = 0; k < n; k++)
            assert_string_not_equal(strategy_at(k)->name, o->name);
        bayes += !strcmp(o->name, "Bayesian");
        rnd += !strcmp(o->name, "Random");
    }
    assert_true(n >= 2);
    assert_int_equal(bayes, 1);
    assert_int_equal(rnd, 1);
    assert_null(strategy_at(n));
    assert_null(strategy_find("bayesian"));
    assert_null(strategy_find(NULL));

    space *sp = mk(CUBE3);
    err_t e = {0};
    assert_null(strategy_new("Nope", sp, 1, NULL, 0, &e));
    assert_int_equal(e.code, ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "Nope"));
    assert_non_null(strstr(e.msg, "Bayesian"));
    assert_non_null(strstr(e.msg, "Random"));
    strategy *s = strategy_new("Random", sp, 1, NULL, 0, &e);
    assert_non_null(s);
    assert_string_equal(strategy_name(s), "Random");
    strategy_free(s);
    strategy_free(NULL);
    space_free(sp);
}

/* Bayesian and Random neither stop trials nor run out: the NULL defaults. */
static void test_optional_defaults(void **unused) {
    space *sp = mk(CUBE3);
    double cfg[3] = {0.5, 0.5, 0.5};
    int64_t step[3] = {1, 2, 3};
    double y[3] = {3, 2, 1};
    strategy_curve c = {cfg, step, y, 3, 0};
    const char *names[] = {"Bayesian", "Random"};
    for (size_t i = 0; i < 2; i++) {
        err_t e = {0};
        const strategy_ops *o = strategy_find(names[i]);
        assert_null(o->should_stop);
        assert_null(o->exhausted);
        strategy *s = strategy_new(names[i], sp, 3, NULL, 0, &e);
        assert_non_null(s);
        assert_int_equal(strategy_should_stop(s, &c, &c, 1), 0);
        assert_int_equal(strategy_exhausted(s, 0), 0);
        assert_int_equal(strategy_exhausted(s, UINT64_MAX), 0);
        strategy_free(s);
    }
    space_free(sp);
}

/* Every registered strategy: the same seed, index and history give the same
 * suggestion, from a fresh object or one that has served other calls. */
static void test_deterministic(void **unused) {
    space *sp = mk(MIXED);
    double cfgs[16][3];
    strategy_obs obs[16];
    for (size_t n = 0; strategy_at(n); n++) {
        const char *name = strategy_at(n)->name;
        err_t e = {0};
        if (!strcmp(name, "Grid"))
            continue; /* categorical ranges only: test_strategies.c */
        strategy *a = strategy_new(name, sp, 7, NULL, 0, &e),
                 *b = strategy_new(name, sp, 7, NULL, 0, &e);
        assert_non_null(a);
        assert_non_null(b);
        for (int t = 0; t < 16; t++) {
            assert_int_equal(strategy_suggest(a, (uint64_t)t, obs, (size_t)t, NULL, 0, cfgs[t], &e),
                             0);
            obs[t].cfg = cfgs[t];
            obs[t].y = t % 5 == 4
                           ? NAN
                           : log10(cfgs[t][0]) * log10(cfgs[t][0]) + cfgs[t][1] / 9 + cfgs[t][2];
        }
        /* b never saw the earlier calls; a is asked again, out of order */
        double x[3], y[3];
        for (int t = 15; t >= 8; t--) {
            assert_int_equal(strategy_suggest(b, (uint64_t)t, obs, (size_t)t, NULL, 0, x, &e), 0);
            assert_int_equal(strategy_suggest(a, (uint64_t)t, obs, (size_t)t, NULL, 0, y, &e), 0);
            assert_memory_equal(x, cfgs[t], sizeof x);
            assert_memory_equal(y, cfgs[t], sizeof y);
        }
        strategy_free(a);
        strategy_free(b);
    }
    space_free(sp);
}

/* A prior steers Bayesian's first suggestion towards the prior's optimum,
 * the same way every time; the prior is borrowed only for create(). */
static void test_bayes_prior(void **unused) {
    space *sp = mk(CUBE3);
    double pcfg[NP * 3], other_cfg[NP * 3];
    strategy_obs prior[NP], other[NP];
    double cold[3], warm[3], warm2[3], warm3[3];
    err_t e = {0};
    make_prior(pcfg, prior, sphere);
    make_prior(other_cfg, other, sphere);
    for (int i = 0; i < NP; i++)
        other[i].y = -other[i].y; /* the opposite landscape */

    strategy *c = strategy_new("Bayesian", sp, 5, NULL, 0, &e);
    assert_int_equal(strategy_suggest(c, 0, NULL, 0, NULL, 0, cold, &e), 0);

    /* a heap copy, overwritten and freed right after create() */
    double *hcfg = malloc(sizeof pcfg);
    strategy_obs *hprior = malloc(sizeof prior);
    assert_non_null(hcfg);
    assert_non_null(hprior);
    memcpy(hcfg, pcfg, sizeof pcfg);
    for (int i = 0; i < NP; i++)
        hprior[i] = (strategy_obs){hcfg + 3 * i, prior[i].y};
    strategy *w = strategy_new("Bayesian", sp, 5, hprior, NP, &e);
    assert_non_null(w);
    memset(hcfg, 0, sizeof pcfg);
    free(hcfg);
    free(hprior);
    strategy *w2 = strategy_new("Bayesian", sp, 5, prior, NP, &e);
    strategy *o = strategy_new("Bayesian", sp, 5, other, NP, &e);
    assert_non_null(w2);
    assert_non_null(o);
    assert_int_equal(strategy_suggest(w, 0, NULL, 0, NULL, 0, warm, &e), 0);
    assert_int_equal(strategy_suggest(w2, 0, NULL, 0, NULL, 0, warm2, &e), 0);
    assert_int_equal(strategy_suggest(o, 0, NULL, 0, NULL, 0, warm3, &e), 0);

    assert_memory_equal(warm, warm2, sizeof warm); /* deterministic */
    assert_memory_not_equal(warm, cold, sizeof warm);
    assert_memory_not_equal(warm, warm3, sizeof warm);
    /* guided: closer to the optimum than any prior trial */
    double best = HUGE_VAL;
    for (int i = 0; i < NP; i++)
        best = prior[i].y < best ? prior[i].y : best;
    assert_true(sphere(warm) < best);
    assert_true(sphere(warm) < sphere(cold));
    assert_true(sphere(warm3) > sphere(warm));

    /* with the job's own history too: still deterministic, still used */
    double own_cfg[3] = {0.8, 0.2, 0.6}, s1[3], s2[3], s3[3];
    strategy_obs own = {own_cfg, sphere(own_cfg)};
    assert_int_equal(strategy_suggest(w, 1, &own, 1, NULL, 0, s1, &e), 0);
    assert_int_equal(strategy_suggest(w2, 1, &own, 1, NULL, 0, s2, &e), 0);
    assert_int_equal(strategy_suggest(c, 1, &own, 1, NULL, 0, s3, &e), 0);
    assert_memory_equal(s1, s2, sizeof s1);
    assert_memory_not_equal(s1, s3, sizeof s1);
    strategy_free(c);
    strategy_free(w);
    strategy_free(w2);
    strategy_free(o);
    space_free(sp);
}

/* A prior outside today's ranges is clamped into them, not rejected, and a
 * prior config with a non-finite value is dropped. */
static void test_bayes_prior_out_of_range(void **unused) {
    space *sp = mk(CUBE3);
    double pcfg[NP * 3], out[3], ref[3];
    strategy_obs prior[NP + 1];
    err_t e = {0};
    make_prior(pcfg, prior, sphere);
    double bad[3] = {NAN, 0.5, 0.5};
    prior[NP] = (strategy_obs){bad, 0.0};
    strategy *with_bad = strategy_new("Bayesian", sp, 9, prior, NP + 1, &e);
    strategy *clean = strategy_new("Bayesian", sp, 9, prior, NP, &e);
    assert_non_null(with_bad);
    assert_non_null(clean);
    assert_int_equal(strategy_suggest(with_bad, 0, NULL, 0, NULL, 0, out, &e), 0);
    assert_int_equal(strategy_suggest(clean, 0, NULL, 0, NULL, 0, ref, &e), 0);
    assert_memory_equal(out, ref, sizeof out);
    strategy_free(with_bad);
    strategy_free(clean);

    pcfg[0] = 7.0; /* outside [0, 1]: counts as 1.0 */
    strategy *s = strategy_new("Bayesian", sp, 9, prior, NP, &e);
    assert_non_null(s);
    assert_int_equal(strategy_suggest(s, 0, NULL, 0, NULL, 0, out, &e), 0);
    for (int i = 0; i < 3; i++)
        assert_true(out[i] >= 0 && out[i] <= 1);
    strategy_free(s);
    space_free(sp);
}

static void test_random_ignores_prior(void **unused) {
    space *sp = mk(CUBE3);
    double pcfg[NP * 3], a[3], b[3];
    strategy_obs prior[NP];
    err_t e = {0};
    make_prior(pcfg, prior, sphere);
    strategy *x = strategy_new("Random", sp, 4, prior, NP, &e),
             *y = strategy_new("Random", sp, 4, NULL, 0, &e);
    for (uint64_t i = 0; i < 8; i++) {
        assert_int_equal(strategy_suggest(x, i, NULL, 0, NULL, 0, a, &e), 0);
        assert_int_equal(strategy_suggest(y, i, NULL, 0, NULL, 0, b, &e), 0);
        assert_memory_equal(a, b, sizeof a);
    }
    strategy_free(x);
    strategy_free(y);
    space_free(sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_optional_defaults),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bayes_prior),
        cmocka_unit_test(test_bayes_prior_out_of_range),
        cmocka_unit_test(test_random_ignores_prior),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
