/* gp — Gaussian-process regression for Bayesian optimisation.
 *
 * Model: y = m + f(x) + eps, f ~ GP(0, k), eps ~ N(0, s2n), with the
 * Matern-5/2 ARD kernel
 *     k(x, x') = s2f (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r),
 *     r^2 = sum_d (x_d - x'_d)^2 / l_d^2.
 * Inputs are expected in (or near) the unit cube, outputs standardised
 * (mean 0, variance 1): the default priors and bounds assume both.
 *
 * Hyperparameters travel as one vector theta of gp_nparams() = dim + 3
 * values: log l_1..log l_dim, log s2f, log s2n, m. Priors (on theta):
 *     log l_d ~ N(sqrt2 + log(dim)/2, sqrt3)   (Hvarfner et al. 2024:
 *                                              dimension-scaled lengthscales)
 *     log s2f ~ N(0, 1),  log s2n ~ N(-9, 3),  m ~ N(0, 1),
 * within hard bounds (gp_bounds()). gp_fit() maximises log marginal
 * likelihood + log prior by L-BFGS (NLopt) from the caller's starts.
 *
 * Linear algebra: the kernel matrix is factorised by LAPACK dpotrf and every
 * solve goes through the Cholesky factor (dpotrs / triangular solves). The
 * only place K^-1 itself appears is the trace term of the likelihood
 * gradient, tr(K^-1 dK/dtheta), which needs its elements; it is formed from
 * the factor by dpotri.
 *
 * A gp owns copies of everything it is given. It is not thread-safe (it
 * keeps scratch space), and carries no global state. */
#ifndef OPENHPO_GP_H
#define OPENHPO_GP_H

#include <stddef.h>

#include "rng.h"

typedef struct gp gp;

/* A GP over inputs of `dim` (>= 1) coordinates, with no data and the
 * default hyperparameters (gp_default_params()). NULL when out of memory.
 * Caller frees with gp_free(). */
gp *gp_new(size_t dim);
void gp_free(gp *g);

size_t gp_dim(const gp *g);
/* Number of hyperparameters: dim + 3. */
size_t gp_nparams(const gp *g);
/* Number of points conditioned on (data plus appended points). */
size_t gp_n(const gp *g);

/* Writes the prior mode (the deterministic default start) to theta. */
void gp_default_params(const gp *g, double *theta);
/* Writes the hard lower and upper bounds of theta to lo and hi. */
void gp_bounds(const gp *g, double *lo, double *hi);
/* Draws theta from the prior (clamped into the bounds) using r. */
void gp_prior_sample(const gp *g, rng_t *r, double *theta);
/* Copies the current hyperparameters to theta. */
void gp_get_params(const gp *g, double *theta);

/* Replaces the data by n points: X is n x dim row-major, y has n values;
 * both are copied. Does not factorise: follow with gp_set_params() or
 * gp_fit(). Returns 0, or -1 when out of memory. */
int gp_set_data(gp *g, const double *X, const double *y, size_t n);

/* Log marginal likelihood of the data plus log prior at theta (not stored).
 * Writes its gradient to grad (gp_nparams() values) unless grad is NULL.
 * Returns -HUGE_VAL when K cannot be factorised even with jitter, or when
 * out of memory. Needs n >= 1. */
double gp_log_posterior(gp *g, const double *theta, double *grad);

/* Sets the hyperparameters and factorises K. Returns 0, or -1 when K is not
 * positive definite even with jitter (the gp then predicts the prior). */
int gp_set_params(gp *g, const double *theta);

/* Fits: runs bounded L-BFGS from each of the nstarts starting points
 * (starts is nstarts x nparams, row-major; values are clamped into the
 * bounds), at most maxeval likelihood evaluations each, and keeps the best
 * posterior found, then factorises with it. Deterministic for given data and
 * starts. Returns 0, or -1 when no start could be evaluated or out of
 * memory; the gp then keeps its previous hyperparameters. The best log
 * posterior is written to *best_lp unless best_lp is NULL. */
int gp_fit(gp *g, const double *starts, size_t nstarts, unsigned maxeval, double *best_lp);

/* Posterior of the latent f at m points Xs (m x dim row-major): mean (plus
 * constant m) and variance (of f, excluding noise; at least a tiny floor) to
 * mean[0..m-1] and var[0..m-1]. Uses the last successful factorisation.
 * Returns 0, or -1 when out of memory. */
int gp_predict(gp *g, const double *Xs, size_t m, double *mean, double *var);

/* Posterior at one point x with gradients of mean and variance w.r.t. x
 * (dim values each, skipped when dmean / dvar is NULL). Returns 0. */
int gp_predict_grad(gp *g, const double *x, double *mean, double *var, double *dmean, double *dvar);

/* Conditions on one more observation (x, y) without refitting the
 * hyperparameters, extending the Cholesky factor by one row (O(n^2)): used
 * for fantasies of pending points (kriging believer). Returns 0, or -1 when
 * out of memory. */
int gp_append(gp *g, const double *x, double y);

/* log h(z), h(z) = phi(z) + z Phi(z) (so EI = sigma h((best - mu)/sigma)),
 * accurate for all finite z (Ament et al. 2023, "Unexpected improvements to
 * expected improvement"). *dlogh (unless NULL) gets d log h / dz. */
double gp_log_h(double z, double *dlogh);

/* Log expected improvement below `best` of N(mean, var), var > 0, for
 * minimisation: log E[max(best - Y, 0)]. Finite for every finite input.
 * Writes d/dmean and d/dvar to *dmean, *dvar unless NULL. */
double gp_log_ei(double mean, double var, double best, double *dmean, double *dvar);

#endif
