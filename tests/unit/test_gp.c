/* gp.c and sobol.c against independently computed values (numpy / scipy,
 * see the comments) and against their own finite differences. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gp.h"
#include "rng.h"
#include "sobol.h"

static void close_to(double got, double want, double rel) {
    double tol = rel * (fabs(want) > 1 ? fabs(want) : 1);
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (tol %.3g)", got, want, tol);
}

static const double X5[5 * 2] = {0.1, 0.2, 0.4, 0.9, 0.75, 0.3, 0.5, 0.5, 0.95, 0.8};
static const double Y5[5] = {0.3, -1.2, 0.8, 0.1, -0.4};

/* theta: lengthscales 0.3, 0.6; s2f 1.5; s2n 1e-3; mean 0.2 */
static void theta5(double *th) {
    th[0] = log(0.3);
    th[1] = log(0.6);
    th[2] = log(1.5);
    th[3] = log(1e-3);
    th[4] = 0.2;
}

/* Expected values from numpy (np.linalg.solve / slogdet on the same
 * Matern-5/2 kernel, written out independently). */
static void test_posterior_known(void **unused) {
    gp *g = gp_new(2);
    double th[5], mu[3], var[3];
    const double Xs[6] = {0.2, 0.3, 0.6, 0.6, 0.0, 1.0};
    const double want_mu[3] = {0.16231641, 0.06487034, -0.28605495};
    const double want_var[3] = {0.21076324, 0.19011674, 1.19568944};
    assert_non_null(g);
    assert_int_equal(gp_nparams(g), 5);
    theta5(th);
    assert_int_equal(gp_set_data(g, X5, Y5, 5), 0);
    close_to(gp_log_posterior(g, th, NULL), -8.98266822048858, 1e-9);
    assert_int_equal(gp_set_params(g, th), 0);
    assert_int_equal(gp_predict(g, Xs, 3, mu, var), 0);
    for (int j = 0; j < 3; j++) {
        close_to(mu[j], want_mu[j], 1e-7);
        close_to(var[j], want_var[j], 1e-7);
        double m1, v1;
        gp_predict_grad(g, Xs + 2 * j, &m1, &v1, NULL, NULL);
        close_to(m1, mu[j], 1e-12);
        close_to(v1, var[j], 1e-10);
    }
    gp_free(g);
}

static void test_likelihood_gradient(void **unused) {
    gp *g = gp_new(2);
    double th[5], grad[5], gnum[5];
    theta5(th);
    assert_int_equal(gp_set_data(g, X5, Y5, 5), 0);
    double f0 = gp_log_posterior(g, th, grad);
    close_to(f0, -8.98266822048858, 1e-9);
    for (int k = 0; k < 5; k++) {
        double t[5], h = 1e-6;
        memcpy(t, th, sizeof t);
        t[k] += h;
        double fp = gp_log_posterior(g, t, NULL);
        t[k] -= 2 * h;
        double fm = gp_log_posterior(g, t, NULL);
        gnum[k] = (fp - fm) / (2 * h);
        close_to(grad[k], gnum[k], 1e-5);
    }
    gp_free(g);
}

static void test_predict_gradient(void **unused) {
    gp *g = gp_new(2);
    double th[5], x[2] = {0.33, 0.71}, m, v, dm[2], dv[2];
    theta5(th);
    assert_int_equal(gp_set_data(g, X5, Y5, 5), 0);
    assert_int_equal(gp_set_params(g, th), 0);
    gp_predict_grad(g, x, &m, &v, dm, dv);
    for (int d = 0; d < 2; d++) {
        double xp[2] = {x[0], x[1]}, xm[2] = {x[0], x[1]}, mp, vp, mm, vm, h = 1e-6;
        xp[d] += h;
        xm[d] -= h;
        gp_predict_grad(g, xp, &mp, &vp, NULL, NULL);
        gp_predict_grad(g, xm, &mm, &vm, NULL, NULL);
        close_to(dm[d], (mp - mm) / (2 * h), 1e-5);
        close_to(dv[d], (vp - vm) / (2 * h), 1e-5);
    }
    gp_free(g);
}

/* Appending points one by one (rank-one Cholesky extensions) must give the
 * posterior of conditioning on all of them at once. */
static void test_append_matches_full(void **unused) {
    gp *a = gp_new(2), *b = gp_new(2);
    double th[5], mua[3], vara[3], mub[3], varb[3];
    const double Xs[6] = {0.2, 0.3, 0.6, 0.6, 0.0, 1.0};
    theta5(th);
    assert_int_equal(gp_set_data(a, X5, Y5, 2), 0);
    assert_int_equal(gp_set_params(a, th), 0);
    for (int i = 2; i < 5; i++)
        assert_int_equal(gp_append(a, X5 + 2 * i, Y5[i]), 0);
    for (int i = 0; i < 40; i++) { /* past the initial capacity */
        double x[2] = {0.013 * i, 1 - 0.02 * i};
        assert_int_equal(gp_append(a, x, sin(7.0 * i)), 0);
    }
    double *Xall = malloc(45 * 2 * sizeof *Xall), *Yall = malloc(45 * sizeof *Yall);
    memcpy(Xall, X5, sizeof X5);
    memcpy(Yall, Y5, sizeof Y5);
    for (int i = 0; i < 40; i++) {
        Xall[10 + 2 * i] = 0.013 * i;
        Xall[11 + 2 * i] = 1 - 0.02 * i;
        Yall[5 + i] = sin(7.0 * i);
    }
    assert_int_equal(gp_set_data(b, Xall, Yall, 45), 0);
    assert_int_equal(gp_set_params(b, th), 0);
    assert_int_equal(gp_n(a), 45);
    gp_predict(a, Xs, 3, mua, vara);
    gp_predict(b, Xs, 3, mub, varb);
    for (int j = 0; j < 3; j++) {
        close_to(mua[j], mub[j], 1e-8);
        close_to(vara[j], varb[j], 1e-8);
    }
    free(Xall);
    free(Yall);
    gp_free(a);
    gp_free(b);
}

/* The fit must improve the posterior over its start and learn that the
 * function varies along x0 only (lengthscale of x1 much longer). */
static void test_fit_learns_relevance(void **unused) {
    enum { N = 30 };
    double X[N * 2], y[N], th[5], lp0, lp;
    rng_t r;
    rng_seed(&r, 3, 0);
    for (int i = 0; i < N; i++) {
        X[2 * i] = rng_uniform(&r);
        X[2 * i + 1] = rng_uniform(&r);
        y[i] = sin(6.0 * X[2 * i]);
    }
    gp *g = gp_new(2);
    assert_int_equal(gp_set_data(g, X, y, N), 0);
    gp_default_params(g, th);
    lp0 = gp_log_posterior(g, th, NULL);
    assert_int_equal(gp_fit(g, th, 1, 200, &lp), 0);
    assert_true(lp > lp0 + 1.0);
    gp_get_params(g, th);
    assert_true(th[1] > th[0] + 1.0);
    assert_true(exp(th[0]) < 1.0);
    /* interpolates a held-out point well */
    double xs[2] = {0.37, 0.5}, m, v;
    gp_predict_grad(g, xs, &m, &v, NULL, NULL);
    close_to(m, sin(6.0 * 0.37), 0.05);
    gp_free(g);
}

/* log h against log(phi(z) + z Phi(z)) from scipy where that is accurate,
 * and against the integral log int_{-inf}^z Phi(t) dt (scipy quad on
 * exp(log_ndtr), relative error < 1e-13) far in the tail. */
static void test_log_h_known(void **unused) {
    static const double z[] = {-0.5,  0.0,   1.3,   3.0,   -3.0,   -8.0,
                               -19.5, -20.5, -25.0, -40.0, -100.0, -1000.0};
    static const double want[] = {-1.6205162643873199, -0.9189385332046727, 0.29678647289865856,
                                  1.0987396653277077,  -7.869686059603029,  -37.12236426169264,
                                  -196.99258561722834, -217.09186837038317, -319.861463581496,
                                  -808.2985683566201,  -5010.129578800251,  -500014.7344520912};
    for (size_t i = 0; i < sizeof z / sizeof *z; i++)
        close_to(gp_log_h(z[i], NULL), want[i], 1e-11);
}

/* d log h / dz against finite differences across the branch points, and
 * log EI against the direct formula where the direct formula is stable. */
static void test_log_ei(void **unused) {
    for (double z = -60; z < 8; z += 0.37) {
        double g, h = 1e-6 * (1 + fabs(z));
        gp_log_h(z, &g);
        double num = (gp_log_h(z + h, NULL) - gp_log_h(z - h, NULL)) / (2 * h);
        close_to(g, num, 1e-6);
    }
    for (double mu = -2; mu <= 3; mu += 0.25) {
        double var = 0.49, sd = 0.7, best = 0.4, dm, dv;
        double zz = (best - mu) / sd;
        double phi = exp(-0.5 * zz * zz) / sqrt(2 * M_PI), Phi = 0.5 * erfc(-zz / sqrt(2));
        double direct = log(sd * (phi + zz * Phi));
        double v = gp_log_ei(mu, var, best, &dm, &dv);
        close_to(v, direct, 1e-10);
        double h = 1e-6;
        close_to(
            dm,
            (gp_log_ei(mu + h, var, best, NULL, NULL) - gp_log_ei(mu - h, var, best, NULL, NULL)) /
                (2 * h),
            1e-5);
        close_to(
            dv,
            (gp_log_ei(mu, var + h, best, NULL, NULL) - gp_log_ei(mu, var - h, best, NULL, NULL)) /
                (2 * h),
            1e-5);
    }
    /* finite and ordered far from the incumbent, where EI itself is 0 */
    double a = gp_log_ei(50, 1e-4, 0, NULL, NULL), b = gp_log_ei(60, 1e-4, 0, NULL, NULL);
    assert_true(isfinite(a) && isfinite(b) && a > b);
}

/* Unscrambled points equal SciPy's qmc.Sobol(d=40, scramble=False) in
 * natural order (SciPy returns Gray-code order: row k is natural point
 * k ^ (k >> 1)). */
static void test_sobol_known(void **unused) {
    static const int idx[] = {3, 5, 13, 37, 63};
    static const int dims[] = {0, 1, 2, 5, 17, 39};
    static const double want[5][6] = {{0.75, 0.25, 0.25, 0.75, 0.25, 0.25},
                                      {0.625, 0.125, 0.875, 0.875, 0.625, 0.625},
                                      {0.6875, 0.8125, 0.4375, 0.8125, 0.3125, 0.0625},
                                      {0.640625, 0.921875, 0.734375, 0.765625, 0.765625, 0.546875},
                                      {0.984375, 0.328125, 0.015625, 0.484375, 0.609375, 0.640625}};
    sobol_t s;
    double u[40];
    sobol_init(&s, 40, 0, false);
    for (int i = 0; i < 5; i++) {
        sobol_point(&s, (uint64_t)idx[i], u);
        for (int d = 0; d < 6; d++)
            close_to(u[dims[d]], want[i][d], 1e-15);
    }
}

/* Scrambled: deterministic per seed, different across seeds, in [0,1), and
 * still a net: the first 2^m points put exactly one point in each of the 2^m
 * intervals of every coordinate, and 4 points per cell of a 16x16 grid of
 * any pair of the first coordinates for 1024 points. */
static void test_sobol_scrambled(void **unused) {
    enum { M = 1024, D = 8 };
    sobol_t s, s2, s3;
    double u[D], v[D];
    int cell[16][16];
    sobol_init(&s, D, 99, true);
    sobol_init(&s2, D, 99, true);
    sobol_init(&s3, D, 100, true);
    sobol_point(&s, 5, u);
    sobol_point(&s2, 5, v);
    assert_memory_equal(u, v, sizeof u);
    sobol_point(&s3, 5, v);
    assert_true(memcmp(u, v, sizeof u) != 0);
    for (int m = 1; m <= 6; m++) {
        int n = 1 << m;
        for (int d = 0; d < D; d++) {
            int seen[64] = {0};
            for (int i = 0; i < n; i++) {
                sobol_point(&s, (uint64_t)i, u);
                assert_true(u[d] >= 0 && u[d] < 1);
                seen[(int)(u[d] * n)]++;
            }
            for (int b = 0; b < n; b++)
                assert_int_equal(seen[b], 1);
        }
    }
    memset(cell, 0, sizeof cell);
    for (int i = 0; i < M; i++) {
        sobol_point(&s, (uint64_t)i, u);
        cell[(int)(u[0] * 16)][(int)(u[1] * 16)]++;
    }
    for (int a = 0; a < 16; a++)
        for (int b = 0; b < 16; b++)
            assert_int_equal(cell[a][b], 4);
    /* beyond the table: still in range */
    sobol_t big;
    double w[70];
    sobol_init(&big, 70, 1, true);
    sobol_point(&big, 12345, w);
    for (int d = 0; d < 70; d++)
        assert_true(w[d] >= 0 && w[d] < 1);
}

static void test_free_null(void **unused) {
    gp_free(NULL);
    assert_null(gp_new(0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_posterior_known),
        cmocka_unit_test(test_likelihood_gradient),
        cmocka_unit_test(test_predict_gradient),
        cmocka_unit_test(test_append_matches_full),
        cmocka_unit_test(test_fit_learns_relevance),
        cmocka_unit_test(test_log_h_known),
        cmocka_unit_test(test_log_ei),
        cmocka_unit_test(test_sobol_known),
        cmocka_unit_test(test_sobol_scrambled),
        cmocka_unit_test(test_free_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
