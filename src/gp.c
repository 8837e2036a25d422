#include "gp.h"

#include <cblas.h>
#include <math.h>
#include <nlopt.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (Fortran ABI, trailing hidden string lengths). */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info, size_t);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t);

#define SQRT5 2.23606797749978969641
#define LOG_2PI 1.83787706640934548356

/* Bounds of theta, and the prior on it. */
#define LOG_L_MIN (-4.6)   /* l >= 0.01 */
#define LOG_L_MAX (4.6)    /* l <= 100 */
#define LOG_S2F_MIN (-4.6) /* 0.01 <= s2f <= 100 */
#define LOG_S2F_MAX (4.6)
#define LOG_S2N_MIN (-20.7) /* 1e-9 <= s2n <= 1 (in standardised units) */
#define LOG_S2N_MAX (0.0)
#define MEAN_ABS_MAX 5.0
#define PRIOR_L_SD 1.7320508075688772
#define PRIOR_S2F_MU 0.0
#define PRIOR_S2F_SD 1.0
#define PRIOR_S2N_MU (-9.0)
#define PRIOR_S2N_SD 3.0
#define PRIOR_MEAN_SD 1.0
/* Relative diagonal jitter, raised on failed factorisations. */
#define JITTER 1e-10

struct gp {
    size_t dim, n, cap; /* cap: rows allocated for X, y and L */
    double *X;          /* cap x dim, row-major */
    double *y;          /* cap */
    double *theta;      /* dim + 3 */
    double *inv_l2;     /* dim: 1 / l_d^2 */
    double s2f, s2n, mean, jitter;
    int factored;  /* L and alpha valid for the first n points */
    double *L;     /* cap x cap, column-major lower Cholesky factor of K */
    double *alpha; /* K^-1 (y - m) */
    /* fit scratch (sized for the data given to gp_set_data) */
    size_t fit_n;
    double *d2;  /* pairs x dim squared differences, pair (i>j) at i(i-1)/2+j */
    double *kp;  /* pairs: kernel value */
    double *gp_; /* pairs: s2f 5/3 (1 + sqrt5 r) exp(-sqrt5 r) */
    double *K;   /* n x n work */
    double *r;   /* n work */
    /* predict scratch */
    double *ks, *w;
    size_t pcap;
    double *Ks; /* n x pcap */
    /* fit bookkeeping */
    double *tmp_theta;
    size_t nevals;
};

static double clampd(double v, double lo, double hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static double prior_l_mu(size_t dim) {
    return sqrt(2.0) + 0.5 * log((double)dim);
}

gp *gp_new(size_t dim) {
    gp *g = calloc(1, sizeof *g);
    if (!g || !dim)
        goto fail;
    g->dim = dim;
    g->theta = calloc(dim + 3, sizeof *g->theta);
    g->tmp_theta = calloc(dim + 3, sizeof *g->tmp_theta);
    g->inv_l2 = calloc(dim, sizeof *g->inv_l2);
    if (!g->theta || !g->tmp_theta || !g->inv_l2)
        goto fail;
    gp_default_params(g, g->theta);
    g->jitter = JITTER;
    return g;
fail:
    gp_free(g);
    return NULL;
}

void gp_free(gp *g) {
    if (!g)
        return;
    free(g->X);
    free(g->y);
    free(g->theta);
    free(g->tmp_theta);
    free(g->inv_l2);
    free(g->L);
    free(g->alpha);
    free(g->d2);
    free(g->kp);
    free(g->gp_);
    free(g->K);
    free(g->r);
    free(g->ks);
    free(g->w);
    free(g->Ks);
    free(g);
}

size_t gp_dim(const gp *g) {
    return g->dim;
}

size_t gp_nparams(const gp *g) {
    return g->dim + 3;
}

size_t gp_n(const gp *g) {
    return g->n;
}

void gp_default_params(const gp *g, double *theta) {
    /* The prior mode, with lengthscales capped so that a fresh model is not
     * already almost flat across the cube in low dimension. */
    double ll = prior_l_mu(g->dim);
    if (ll > log(2.0))
        ll = log(2.0);
    for (size_t d = 0; d < g->dim; d++)
        theta[d] = ll;
    theta[g->dim] = 0.0;
    theta[g->dim + 1] = log(1e-4);
    theta[g->dim + 2] = 0.0;
}

void gp_bounds(const gp *g, double *lo, double *hi) {
    for (size_t d = 0; d < g->dim; d++) {
        lo[d] = LOG_L_MIN;
        hi[d] = LOG_L_MAX;
    }
    lo[g->dim] = LOG_S2F_MIN;
    hi[g->dim] = LOG_S2F_MAX;
    lo[g->dim + 1] = LOG_S2N_MIN;
    hi[g->dim + 1] = LOG_S2N_MAX;
    lo[g->dim + 2] = -MEAN_ABS_MAX;
    hi[g->dim + 2] = MEAN_ABS_MAX;
}

void gp_prior_sample(const gp *g, rng_t *r, double *theta) {
    double lo[g->dim + 3], hi[g->dim + 3], mu = prior_l_mu(g->dim);
    gp_bounds(g, lo, hi);
    for (size_t d = 0; d < g->dim; d++)
        theta[d] = mu + PRIOR_L_SD * rng_normal(r);
    theta[g->dim] = PRIOR_S2F_MU + PRIOR_S2F_SD * rng_normal(r);
    theta[g->dim + 1] = PRIOR_S2N_MU + PRIOR_S2N_SD * rng_normal(r);
    theta[g->dim + 2] = PRIOR_MEAN_SD * rng_normal(r);
    for (size_t k = 0; k < g->dim + 3; k++)
        theta[k] = clampd(theta[k], lo[k], hi[k]);
}

void gp_get_params(const gp *g, double *theta) {
    memcpy(theta, g->theta, (g->dim + 3) * sizeof *theta);
}

/* Grows X, y, L, alpha to hold `cap` points, keeping the first n (and the
 * factor's layout, whose leading dimension is cap). */
static int reserve(gp *g, size_t cap) {
    if (cap <= g->cap)
        return 0;
    double *X = realloc(g->X, cap * g->dim * sizeof *X);
    if (!X)
        return -1;
    g->X = X;
    double *y = realloc(g->y, cap * sizeof *y);
    if (!y)
        return -1;
    g->y = y;
    double *alpha = realloc(g->alpha, cap * sizeof *alpha);
    if (!alpha)
        return -1;
    g->alpha = alpha;
    double *ks = realloc(g->ks, cap * sizeof *ks);
    if (!ks)
        return -1;
    g->ks = ks;
    double *w = realloc(g->w, cap * sizeof *w);
    if (!w)
        return -1;
    g->w = w;
    double *L = calloc(cap * cap, sizeof *L);
    if (!L)
        return -1;
    if (g->L && g->factored)
        for (size_t j = 0; j < g->n; j++)
            memcpy(L + j * cap, g->L + j * g->cap, g->n * sizeof *L);
    free(g->L);
    g->L = L;
    g->cap = cap;
    return 0;
}

int gp_set_data(gp *g, const double *X, const double *y, size_t n) {
    g->factored = 0;
    g->n = 0;
    if (reserve(g, n + 8))
        return -1;
    memcpy(g->X, X, n * g->dim * sizeof *X);
    memcpy(g->y, y, n * sizeof *y);
    g->n = n;
    size_t pairs = n * (n - (n > 0)) / 2;
    free(g->d2);
    free(g->kp);
    free(g->gp_);
    free(g->K);
    free(g->r);
    g->d2 = malloc((pairs ? pairs : 1) * g->dim * sizeof *g->d2);
    g->kp = malloc((pairs ? pairs : 1) * sizeof *g->kp);
    g->gp_ = malloc((pairs ? pairs : 1) * sizeof *g->gp_);
    g->K = malloc((n ? n * n : 1) * sizeof *g->K);
    g->r = malloc((n ? 2 * n : 1) * sizeof *g->r);
    g->fit_n = n;
    if (!g->d2 || !g->kp || !g->gp_ || !g->K || !g->r) {
        g->fit_n = 0;
        return -1;
    }
    for (size_t i = 1, p = 0; i < n; i++)
        for (size_t j = 0; j < i; j++, p++)
            for (size_t d = 0; d < g->dim; d++) {
                double t = X[i * g->dim + d] - X[j * g->dim + d];
                g->d2[p * g->dim + d] = t * t;
            }
    return 0;
}

/* Matern-5/2 of the scaled distance r (r2 = r^2): value, and the factor
 * a = s2f 5/3 (1 + sqrt5 r) exp(-sqrt5 r) with dk/dr = -a r. */
static double matern(double s2f, double r2, double *a) {
    double r = sqrt(r2), e = exp(-SQRT5 * r);
    if (a)
        *a = s2f * (5.0 / 3.0) * (1.0 + SQRT5 * r) * e;
    return s2f * (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e;
}

static double kern(const gp *g, const double *a, const double *b, double *aa) {
    double r2 = 0;
    for (size_t d = 0; d < g->dim; d++) {
        double t = a[d] - b[d];
        r2 += t * t * g->inv_l2[d];
    }
    return matern(g->s2f, r2, aa);
}

static void unpack(gp *g, const double *theta) {
    for (size_t d = 0; d < g->dim; d++)
        g->inv_l2[d] = exp(-2.0 * theta[d]);
    g->s2f = exp(theta[g->dim]);
    g->s2n = exp(theta[g->dim + 1]);
    g->mean = theta[g->dim + 2];
}

static double log_prior(const gp *g, const double *theta, double *grad) {
    double lp = 0, mu = prior_l_mu(g->dim), t;
    for (size_t d = 0; d < g->dim; d++) {
        t = (theta[d] - mu) / PRIOR_L_SD;
        lp -= 0.5 * t * t;
        if (grad)
            grad[d] -= t / PRIOR_L_SD;
    }
    t = (theta[g->dim] - PRIOR_S2F_MU) / PRIOR_S2F_SD;
    lp -= 0.5 * t * t;
    if (grad)
        grad[g->dim] -= t / PRIOR_S2F_SD;
    t = (theta[g->dim + 1] - PRIOR_S2N_MU) / PRIOR_S2N_SD;
    lp -= 0.5 * t * t;
    if (grad)
        grad[g->dim + 1] -= t / PRIOR_S2N_SD;
    t = theta[g->dim + 2] / PRIOR_MEAN_SD;
    lp -= 0.5 * t * t;
    if (grad)
        grad[g->dim + 2] -= t / PRIOR_MEAN_SD;
    return lp;
}

/* Builds K (lower triangle, column-major, leading dimension ld) of the
 * data at the unpacked hyperparameters, plus diag jitter * s2f, and factors
 * it in place, raising the jitter up to 1e-4 relative on failure. Fills the
 * pair caches kp / gp_ when `pairs` is set. Returns 0 or -1. */
static int build_factor(gp *g, double *A, size_t ld, int pairs, double *jit) {
    /* always from the base jitter: results never depend on earlier calls */
    size_t n = g->n;
    int in = (int)n, ild = (int)ld, info = 0;
    for (double jitter = JITTER; jitter <= 1e-4; jitter *= 100) {
        for (size_t i = 0, p = 0; i < n; i++) {
            A[i + i * ld] = g->s2f * (1.0 + jitter) + g->s2n;
            if (i == 0)
                continue;
            for (size_t j = 0; j < i; j++, p++) {
                double v, a;
                if (pairs && g->fit_n == n) {
                    const double *dd = g->d2 + p * g->dim;
                    double r2 = 0;
                    for (size_t d = 0; d < g->dim; d++)
                        r2 += dd[d] * g->inv_l2[d];
                    v = matern(g->s2f, r2, &a);
                    g->kp[p] = v;
                    g->gp_[p] = a;
                } else {
                    v = kern(g, g->X + i * g->dim, g->X + j * g->dim, NULL);
                }
                A[i + j * ld] = v;
            }
        }
        dpotrf_("L", &in, A, &ild, &info, 1);
        if (info == 0) {
            if (jit)
                *jit = jitter;
            return 0;
        }
    }
    return -1;
}

double gp_log_posterior(gp *g, const double *theta, double *grad) {
    size_t n = g->n, P = gp_nparams(g);
    int in = (int)n, one = 1, info = 0;
    if (!n || g->fit_n != n)
        return -HUGE_VAL;
    unpack(g, theta);
    if (build_factor(g, g->K, n, 1, NULL)) {
        unpack(g, g->theta);
        return -HUGE_VAL;
    }
    double *K = g->K, *r = g->r;
    for (size_t i = 0; i < n; i++)
        r[i] = g->y[i] - g->mean;
    double *al = r + n;
    memcpy(al, r, n * sizeof *al);
    dpotrs_("L", &in, &one, K, &in, al, &in, &info, 1);
    double lml = -0.5 * (double)n * LOG_2PI;
    for (size_t i = 0; i < n; i++)
        lml -= 0.5 * r[i] * al[i] + log(K[i + i * n]);
    if (grad) {
        memset(grad, 0, P * sizeof *grad);
        dpotri_("L", &in, K, &in, &info, 1); /* K^-1 for the trace term only */
        if (info) {
            unpack(g, g->theta);
            return -HUGE_VAL;
        }
        double tr = 0;
        for (size_t i = 0; i < n; i++) {
            double q = al[i] * al[i] - K[i + i * n];
            tr += q;
            grad[g->dim + 2] += al[i];
        }
        /* diagonal: d/dlog s2f of (s2f (1+jitter)) ~ s2f; d/dlog s2n = s2n */
        grad[g->dim] += 0.5 * tr * g->s2f;
        grad[g->dim + 1] += 0.5 * tr * g->s2n;
        for (size_t i = 1, p = 0; i < n; i++)
            for (size_t j = 0; j < i; j++, p++) {
                double q = al[i] * al[j] - K[i + j * n];
                grad[g->dim] += q * g->kp[p];
                double qa = q * g->gp_[p];
                const double *dd = g->d2 + p * g->dim;
                for (size_t d = 0; d < g->dim; d++)
                    grad[d] += qa * dd[d] * g->inv_l2[d];
            }
    }
    double lp = lml + log_prior(g, theta, grad);
    unpack(g, g->theta); /* predictions keep the stored hyperparameters */
    return isfinite(lp) ? lp : -HUGE_VAL;
}

/* Factorises the current data (first n points) at theta into g->L. */
static int factor_current(gp *g) {
    size_t n = g->n;
    int in = (int)n, ild = (int)g->cap, one = 1, info = 0;
    g->factored = 0;
    unpack(g, g->theta);
    if (!n)
        return 0;
    if (build_factor(g, g->L, g->cap, 0, &g->jitter))
        return -1;
    for (size_t i = 0; i < n; i++)
        g->alpha[i] = g->y[i] - g->mean;
    dpotrs_("L", &in, &one, g->L, &ild, g->alpha, &in, &info, 1);
    if (info)
        return -1;
    g->factored = 1;
    return 0;
}

int gp_set_params(gp *g, const double *theta) {
    double lo[g->dim + 3], hi[g->dim + 3];
    gp_bounds(g, lo, hi);
    for (size_t k = 0; k < g->dim + 3; k++)
        g->theta[k] = clampd(theta[k], lo[k], hi[k]);
    g->jitter = JITTER;
    return factor_current(g);
}

static double nlopt_obj(unsigned np, const double *x, double *grad, void *data) {
    gp *g = data;
    g->nevals++;
    double v = gp_log_posterior(g, x, grad);
    if (!isfinite(v)) {
        if (grad)
            memset(grad, 0, np * sizeof *grad);
        return -1e300;
    }
    return v;
}

int gp_fit(gp *g, const double *starts, size_t nstarts, unsigned maxeval, double *best_lp) {
    size_t P = gp_nparams(g);
    double lo[P], hi[P], x[P], best[P];
    double bestv = -HUGE_VAL;
    int rc = -1;
    nlopt_opt opt = NULL;
    if (!g->n)
        return gp_set_params(g, g->theta);
    gp_bounds(g, lo, hi);
    opt = nlopt_create(NLOPT_LD_LBFGS, (unsigned)P);
    if (!opt)
        goto out;
    if (nlopt_set_lower_bounds(opt, lo) < 0 || nlopt_set_upper_bounds(opt, hi) < 0 ||
        nlopt_set_max_objective(opt, nlopt_obj, g) < 0 || nlopt_set_ftol_rel(opt, 1e-6) < 0 ||
        nlopt_set_maxeval(opt, (int)maxeval) < 0)
        goto out;
    for (size_t s = 0; s < nstarts; s++) {
        double v = -HUGE_VAL;
        for (size_t k = 0; k < P; k++)
            x[k] = clampd(starts[s * P + k], lo[k], hi[k]);
        nlopt_result res = nlopt_optimize(opt, x, &v);
        if (res < 0 && res != NLOPT_ROUNDOFF_LIMITED) {
            /* keep whatever it reached if that evaluates */
            v = gp_log_posterior(g, x, NULL);
        }
        if (isfinite(v) && v > -1e299 && v > bestv) {
            bestv = v;
            memcpy(best, x, sizeof best);
        }
    }
    if (!isfinite(bestv))
        goto out;
    rc = gp_set_params(g, best);
    if (best_lp)
        *best_lp = bestv;
out:
    nlopt_destroy(opt);
    if (rc && g->n)
        factor_current(g);
    return rc;
}

static int reserve_pred(gp *g, size_t m) {
    size_t need = g->cap * m;
    if (need <= g->pcap)
        return 0;
    double *Ks = realloc(g->Ks, need * sizeof *Ks);
    if (!Ks)
        return -1;
    g->Ks = Ks;
    g->pcap = need;
    return 0;
}

int gp_predict(gp *g, const double *Xs, size_t m, double *mean, double *var) {
    size_t n = g->n;
    double vfloor = 1e-12 * g->s2f;
    if (!g->factored || !n) {
        for (size_t j = 0; j < m; j++) {
            mean[j] = g->mean;
            var[j] = g->s2f;
        }
        return 0;
    }
    /* in blocks to bound the scratch */
    const size_t B = 256;
    if (reserve_pred(g, m < B ? m : B))
        return -1;
    for (size_t j0 = 0; j0 < m; j0 += B) {
        size_t mb = m - j0 < B ? m - j0 : B;
        double *Ks = g->Ks;
        for (size_t j = 0; j < mb; j++)
            for (size_t i = 0; i < n; i++)
                Ks[i + j * n] = kern(g, g->X + i * g->dim, Xs + (j0 + j) * g->dim, NULL);
        cblas_dgemv(CblasColMajor, CblasTrans, (int)n, (int)mb, 1.0, Ks, (int)n, g->alpha, 1, 0.0,
                    mean + j0, 1);
        cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)n,
                    (int)mb, 1.0, g->L, (int)g->cap, Ks, (int)n);
        for (size_t j = 0; j < mb; j++) {
            double s = 0;
            const double *v = Ks + j * n;
            for (size_t i = 0; i < n; i++)
                s += v[i] * v[i];
            mean[j0 + j] += g->mean;
            double vv = g->s2f - s;
            var[j0 + j] = vv > vfloor ? vv : vfloor;
        }
    }
    return 0;
}

int gp_predict_grad(gp *g, const double *x, double *mean, double *var, double *dmean,
                    double *dvar) {
    size_t n = g->n, D = g->dim;
    double vfloor = 1e-12 * g->s2f;
    if (!g->factored || !n) {
        *mean = g->mean;
        *var = g->s2f;
        for (size_t d = 0; d < D; d++) {
            if (dmean)
                dmean[d] = 0;
            if (dvar)
                dvar[d] = 0;
        }
        return 0;
    }
    double *ks = g->ks, *w = g->w;
    int in = (int)n, ild = (int)g->cap, one = 1, info = 0;
    double mu = g->mean;
    for (size_t i = 0; i < n; i++) {
        ks[i] = kern(g, g->X + i * D, x, NULL);
        mu += ks[i] * g->alpha[i];
    }
    memcpy(w, ks, n * sizeof *w);
    dpotrs_("L", &in, &one, g->L, &ild, w, &in, &info, 1); /* w = K^-1 k */
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += ks[i] * w[i];
    *mean = mu;
    double vv = g->s2f - s;
    *var = vv > vfloor ? vv : vfloor;
    if (dmean)
        memset(dmean, 0, D * sizeof *dmean);
    if (dvar)
        memset(dvar, 0, D * sizeof *dvar);
    if (!dmean && !dvar)
        return 0;
    for (size_t i = 0; i < n; i++) {
        double a;
        const double *xi = g->X + i * D;
        kern(g, xi, x, &a);
        /* dk/dx_d = -a (x_d - xi_d) / l_d^2 */
        for (size_t d = 0; d < D; d++) {
            double dk = -a * (x[d] - xi[d]) * g->inv_l2[d];
            if (dmean)
                dmean[d] += g->alpha[i] * dk;
            if (dvar)
                dvar[d] -= 2.0 * w[i] * dk;
        }
    }
    if (dvar && vv <= vfloor)
        memset(dvar, 0, D * sizeof *dvar);
    return 0;
}

int gp_append(gp *g, const double *x, double y) {
    size_t n = g->n, D = g->dim;
    if (n + 1 > g->cap && reserve(g, 2 * g->cap + 8))
        return -1;
    memcpy(g->X + n * D, x, D * sizeof *x);
    g->y[n] = y;
    if (!g->factored) {
        g->n = n + 1;
        return factor_current(g);
    }
    size_t ld = g->cap;
    double *row = g->L + n; /* row n of L: elements L[n + j*ld] */
    double *l = g->ks;
    for (size_t j = 0; j < n; j++)
        l[j] = kern(g, g->X + j * D, x, NULL);
    if (n)
        cblas_dtrsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)n, g->L, (int)ld, l,
                    1);
    double s = 0;
    for (size_t j = 0; j < n; j++) {
        row[j * ld] = l[j];
        s += l[j] * l[j];
    }
    double dd = g->s2f * (1.0 + g->jitter) + g->s2n - s;
    double floor_ = 1e-10 * g->s2f;
    g->L[n + n * ld] = sqrt(dd > floor_ ? dd : floor_);
    g->n = n + 1;
    int in = (int)g->n, ild = (int)ld, one = 1, info = 0;
    for (size_t i = 0; i < g->n; i++)
        g->alpha[i] = g->y[i] - g->mean;
    dpotrs_("L", &in, &one, g->L, &ild, g->alpha, &in, &info, 1);
    return info ? -1 : 0;
}

/* ---- log expected improvement ---- */

#define INV_SQRT_2PI 0.39894228040143267794
#define SQRT_HALF_PI 1.25331413731550025121
#define HALF_LOG_2PI 0.91893853320467274178

double gp_log_h(double z, double *dlogh) {
    if (z > -1.0) {
        double phi = INV_SQRT_2PI * exp(-0.5 * z * z);
        double Phi = 0.5 * erfc(-z * M_SQRT1_2);
        double h = phi + z * Phi;
        if (dlogh)
            *dlogh = Phi / h;
        return log(h);
    }
    /* h(z) = phi(z) q(z), q = 1 - |z| s, s = Phi(z) / phi(z) */
    double q, s, az = -z;
    if (z > -20.0) {
        double x = az * M_SQRT1_2;
        s = SQRT_HALF_PI * exp(x * x) * erfc(x); /* x <= 14.2: no overflow */
        q = 1.0 - az * s;
    } else {
        /* q = sum_{k>=1} (-1)^(k+1) (2k-1)!! / z^(2k), the asymptotic series
         * of 1 - x sqrt(pi) erfcx(x), x = |z|/sqrt2; converges fast here. */
        double iz2 = 1.0 / (z * z), t = iz2;
        q = 0;
        for (int k = 1; k <= 12; k++) {
            q += (k & 1) ? t : -t;
            t *= (2.0 * k + 1.0) * iz2;
        }
        s = (1.0 - q) / az;
    }
    if (dlogh)
        *dlogh = s / q;
    return -0.5 * z * z - HALF_LOG_2PI + log(q);
}

double gp_log_ei(double mean, double var, double best, double *dmean, double *dvar) {
    double sd = sqrt(var), z = (best - mean) / sd, g;
    double v = log(sd) + gp_log_h(z, &g);
    if (dmean)
        *dmean = -g / sd;
    if (dvar)
        *dvar = (1.0 / sd - z * g / sd) / (2.0 * sd);
    return v;
}
