/* Bayesian strategy: Gaussian-process Bayesian optimisation.
 *
 * Encoding. Each config is mapped to the GP's input cube parameter by
 * parameter: Continuous and Integer values through space_to_unit() (their
 * Linear / Log / ReverseLog scaling; integers at the centre of their cell,
 * so the GP sees exactly what ran); a Categorical parameter of k values as
 * one 0/1 coordinate when k = 2, k one-hot coordinates when k >= 3, nothing
 * when k = 1.
 *
 * Initial design. The first n_init = clamp(d + 1, 5, 20) trials (d the
 * number of parameters) are points of a scrambled Sobol' sequence keyed by
 * the seed: the smallest design that lets the GP see every direction once
 * while spending few evaluations on pure exploration, as budgets of HPO jobs
 * are often tens of trials. The GP also takes over only once two trials have
 * produced an objective.
 *
 * Model. Objectives are standardised, Yeo-Johnson power-transformed (lambda
 * by maximum likelihood; tames heavy tails such as Rosenbrock's) and
 * standardised again. The GP (gp.h: Matern-5/2 ARD, learned noise and
 * constant mean, priors on all hyperparameters) is fitted by L-BFGS from two
 * starts: the prior mode, and the most likely of NPRIOR draws from the
 * prior. It is not warm-started from the previous call's fit on purpose: that
 * would make a suggestion depend on which calls the object happened to serve
 * before, so a restarted daemon could not re-derive it (strategy.h); the two
 * starts cost a few ms. When the fit explains much of the data as noise
 * (log(s2n / s2f) above EXPLOIT_LOG_NOISE), it is refitted from its own
 * result and from a start with s2n = 0.1 (NOISE_START_LOG_S2N), keeping the
 * more probable: from low-noise starts L-BFGS tends to stop at a rough fit
 * that interpolates the noise.
 *
 * Failed trials (y = NAN) never enter the fit: a made-up value would distort
 * the surface (a random crash next to the optimum made the GP rough and
 * stalled the search). Instead they are conditioned on like pending trials,
 * at a value no better than the incumbent, so EI does not return to them;
 * and the acquisition is multiplied by a kernel-smoothed probability of
 * success (log_feasible()), so a region that keeps failing is avoided while
 * scattered failures change nothing.
 *
 * Pending trials are conditioned on as fantasies at their posterior mean
 * (kriging believer) through rank-one Cholesky extensions, which removes
 * their EI; candidates highly correlated with a pending trial rank last
 * (crowding()), so a batch spreads out instead of piling up; where the model
 * sees much noise (Ackley's ripples) fantasies remove little variance, and
 * the exclusion widens to correlation CROWD_CORR_NOISY (with 4 pending,
 * Ackley-5's median regret after 50 trials went from 12.7 at 0.998 to 4.8
 * at 0.9, against 3.6 sequentially; 0.95 keeps that at 50 and lets late
 * trials refine closer to the pending ones: after 100, 2.3 -> 1.5 with a
 * batch of 4, 2.8 -> 2.0 asynchronously; 0.8 and 0.97 were worse;
 * bench/README.md). The incumbent
 * stays the best of the finished trials: lowering it to a pending trial's
 * predicted mean, as plain kriging believer does, made the rest of a batch
 * too timid (with 4 pending, Hartmann6's median regret after 50 trials was
 * 0.053 that way and 0.0032 this way; bench/README.md). Where noise is a
 * large share of the variation (log(s2n / s2f) above RECENT_LOG_NOISE), the
 * last RECENT_CROWD finished trials crowd as pending ones do, so a noisy
 * search does not keep re-drawing next to what it just ran.
 *
 * Acquisition: log expected improvement (Ament et al. 2023) below the
 * incumbent, the lowest posterior mean at a finished trial (or fantasy; with
 * noise-free data the best value seen, with noise not one lucky draw),
 * maximised over NCAND scrambled Sobol' candidates plus NLOCAL perturbations
 * of the best trials; the best NREFINE are polished by bounded L-BFGS over
 * the continuous coordinates, then by a greedy neighbour search over integer
 * (+-1) and categorical (other values) parameters. A suggestion equal to a
 * finished or pending config is skipped for the next-best candidate.
 *
 * Trust region. With TR_MIN_DIM parameters or more, the Sobol' candidates
 * (and the L-BFGS polish of continuous coordinates) are confined to a box
 * around the best trial, TuRBO-like (Eriksson et al. 2019): its side L is
 * scaled per parameter by the fitted lengthscale (geometric mean 1) and each
 * candidate changes a parameter with probability min(1, 20 / n). L follows
 * TuRBO's success/failure rule, replayed over the finished trials in order
 * (tr_length()), so it is a function of the history as everything else is.
 * In 20 dimensions a global GP over ~100 trials spends them on corners
 * (Styblinski-Tang-20 after 100: 363 -> 289, Rosenbrock-20: 8.4e4 -> 5.9e4);
 * at 10 the global search is as good or better (Levy-10 after 100: 0.90
 * global, 5.2 with the region), hence the threshold (bench/README.md).
 *
 * Exploitation steps. Every EXPLOIT_EVERY-th model-based trial (by index,
 * so batches get them too) ranks the same candidates, with the same
 * refinement, by the posterior mean instead of EI: it goes to where the
 * model expects the minimum. EI alone keeps spending trials on the
 * boundary and on other basins long after it has found a good one (Branin's
 * median regret after 30 trials was 1.0e-3 with EI only, 3.9e-5 with a
 * mean step every third trial; bench/README.md has the whole table). The
 * remaining EI steps keep the search global. Only when the fitted noise is
 * below EXPLOIT_LOG_NOISE relative to the signal, though: where the model
 * explains much of the data as noise (Ackley's ripples, noisy training
 * jobs) its mean's minimum is a poor bet, and there mean steps cost
 * Ackley5 a third more regret after 100 trials. With trials pending (fewer
 * than PEND_MEAN_MAX_N parameters), an EI ask also becomes a mean step when
 * no pending trial is at the mean's lowest candidate (PEND_MEAN_CORR): so
 * one parallel worker is always refining where the model expects the
 * minimum, which kriging-believer EI, whose fantasies push the batch away
 * from the incumbent, did not do (bench/README.md has the batch table).
 *
 * Scale. With more than MAX_POINTS finished trials the GP is conditioned on
 * the best KEEP_BEST plus MAX_POINTS - KEEP_BEST others drawn at random
 * (deterministically from seed and index), and on the last MAX_FAILED
 * failures; hyperparameters are fitted on at most FIT_POINTS of those (best
 * half plus a random half). So a suggestion costs O(FIT_POINTS^3) per
 * likelihood evaluation and O((MAX_POINTS + MAX_FAILED)^2) per acquisition
 * evaluation whatever the history's length: on 2 cores, median ask latency
 * ~15 ms at 100 trials and ~30-40 ms at 1000 (d <= 10; bench/run, 2026-12-02).
 *
 * Prior history (warm start). The finished trials of earlier tuning jobs
 * given to create() are copied (at most PRIOR_MAX; configs clamped into this
 * space through the unit cube, so a value outside today's range counts as
 * the nearest one inside; configs with a non-finite value dropped) and used
 * as extra GP data: every suggestion sees them ahead of the job's own
 * finished trials, exactly as if they had finished first (selection,
 * failures, the incumbent, duplicate avoidance). Their objectives are taken
 * as they are, comparable with this job's (the engine negates Maximize
 * ones). Each prior trial with an objective shortens the initial Sobol'
 * design by one trial, so with n_init of them the GP guides the very first
 * trial.
 *
 * Incumbent (strategy_ops.incumbent): the finished trial of this job with
 * the lowest posterior mean, under a model fitted as for a suggestion but
 * always with the noisy refit, so a lucky draw of a noisy objective is not
 * taken for the best config; the engine's best training job stays the best
 * observed, as the API says.
 *
 * Threads (strategy.h): suggest() mutates the GP `g` (a cache of scratch
 * space); the prior, the encoding tables and n_init are immutable after
 * create(). There is no should_stop() or exhausted(); incumbent() mutates
 * the same scratch and must not run concurrently with suggest().
 *
 * Determinism. All randomness comes from rng.h streams of (seed, index) and
 * the state keeps nothing between calls but scratch space: a suggestion is a
 * function of (seed, prior, index, finished trials in order, pending
 * trials). */
#include <math.h>
#include <nlopt.h>
#include <stdlib.h>
#include <string.h>

#include "gp.h"
#include "rng.h"
#include "sobol.h"
#include "strategy.h"

#define SQRT5 2.23606797749978969641
#define MAX_POINTS 300
#define PRIOR_MAX 10000 /* prior trials kept by create() */
#define KEEP_BEST 150
#define FIT_POINTS 80
#define NCAND 1024
#define NLOCAL 256
#define NREFINE 4
#define FIT_MAXEVAL 40
#define ACQ_MAXEVAL 60
#define NPRIOR 8
#define MAX_FAILED 100
#define CROWD_CORR 0.998
#define CROWD_CORR_NOISY 0.95      /* crowding() when the model sees much noise */
#define NOISE_START_LOG_S2N (-2.3) /* the noisy refit's start: s2n = 0.1 */
#define TR_MIN_DIM 12              /* parameters from which candidates come from a trust region */
#define TR_L_INIT 0.8              /* its side (unit cube, before the lengthscale weights) */
#define TR_L_MAX 1.6
#define TR_L_MIN 0.0078125 /* 0.5^7: below it the region starts again at TR_L_INIT */
#define TR_SUCC 3          /* successes in a row that double the side */
#define EXPLOIT_EVERY 3
/* Noisy models: the last RECENT_CROWD finished trials crowd like pending
 * ones (within RECENT_CORR) when log(s2n / s2f) > RECENT_LOG_NOISE. */
#define RECENT_CROWD 3
#define RECENT_LOG_NOISE (-3.5)
#define RECENT_CORR 0.95
/* Pending trials turn an EI ask into a mean step with fewer than
 * PEND_MEAN_MAX_N parameters, unless one is within PEND_MEAN_CORR of the
 * mean's lowest candidate. */
#define PEND_MEAN_MAX_N 10
#define PEND_MEAN_CORR 0.99
#define EXPLOIT_LOG_NOISE (-9.0) /* log(s2n / s2f) above which no exploitation */

/* What the candidates are ranked by: log EI, or (exploitation steps) the
 * negated posterior mean. */
typedef enum { ACQ_LOGEI, ACQ_MEAN } acq_kind;

typedef struct {
    const space *sp;
    uint64_t seed;
    size_t n, D;       /* parameters, encoded coordinates */
    size_t *off, *wid; /* per parameter: first coordinate and width */
    size_t n_init;     /* Sobol' trials before the GP, after the prior's share */
    double *prior_x;   /* nprior configs of n values, clamped into sp */
    strategy_obs *prior;
    size_t nprior;
    gp *g;
} bayes_state;

static void bayes_destroy(void *state) {
    bayes_state *st = state;
    if (!st)
        return;
    free(st->off);
    free(st->wid);
    free(st->prior_x);
    free(st->prior);
    gp_free(st->g);
    free(st);
}

/* Copies the usable prior trials into st (see the file comment). */
static int copy_prior(bayes_state *st, const strategy_obs *prior, size_t nprior) {
    size_t n = st->n, keep = nprior < PRIOR_MAX ? nprior : PRIOR_MAX, nfinite = 0;
    double *u = NULL;
    int rc = -1;
    if (!keep)
        return 0;
    st->prior_x = malloc(keep * (n ? n : 1) * sizeof *st->prior_x);
    st->prior = malloc(keep * sizeof *st->prior);
    u = malloc((n ? n : 1) * sizeof *u);
    if (!st->prior_x || !st->prior || !u)
        goto out;
    for (size_t i = 0; i < keep; i++) {
        double *x = st->prior_x + st->nprior * n;
        int ok = prior[i].cfg != NULL;
        for (size_t j = 0; ok && j < n; j++)
            ok = isfinite(prior[i].cfg[j]);
        if (!ok)
            continue;
        space_to_unit(st->sp, prior[i].cfg, u);
        for (size_t j = 0; j < n; j++)
            u[j] = u[j] < 0 ? 0 : u[j] > 1 ? 1 : u[j];
        space_from_unit(st->sp, u, x);
        st->prior[st->nprior].cfg = x;
        st->prior[st->nprior].y = isfinite(prior[i].y) ? prior[i].y : NAN;
        nfinite += isfinite(prior[i].y) != 0;
        st->nprior++;
    }
    st->n_init = nfinite >= st->n_init ? 0 : st->n_init - nfinite;
    rc = 0;
out:
    free(u);
    return rc;
}

static void *bayes_create(const space *sp, uint64_t seed, const strategy_obs *prior, size_t nprior,
                          err_t *e) {
    bayes_state *st = calloc(1, sizeof *st);
    if (!st)
        goto oom;
    st->sp = sp;
    st->seed = seed;
    st->n = sp->n;
    st->off = calloc(sp->n ? sp->n : 1, sizeof *st->off);
    st->wid = calloc(sp->n ? sp->n : 1, sizeof *st->wid);
    if (!st->off || !st->wid)
        goto oom;
    for (size_t i = 0; i < sp->n; i++) {
        const space_param *p = &sp->p[i];
        size_t w = 1;
        if (p->kind == PARAM_CATEGORICAL)
            w = p->nvalues == 1 ? 0 : p->nvalues == 2 ? 1 : p->nvalues;
        st->off[i] = st->D;
        st->wid[i] = w;
        st->D += w;
    }
    size_t ni = sp->n + 1;
    st->n_init = ni < 5 ? 5 : ni > 20 ? 20 : ni;
    if (st->D) {
        st->g = gp_new(st->D);
        if (!st->g)
            goto oom;
    }
    if (copy_prior(st, prior, nprior))
        goto oom;
    return st;
oom:
    bayes_destroy(st);
    err_set(e, ERR_INTERNAL, "out of memory");
    return NULL;
}

/* config -> GP input (D coordinates); u is n scratch values. */
static void encode(const bayes_state *st, const double *cfg, double *u, double *x) {
    space_to_unit(st->sp, cfg, u);
    for (size_t i = 0; i < st->n; i++) {
        double *xi = x + st->off[i];
        if (st->sp->p[i].kind != PARAM_CATEGORICAL) {
            xi[0] = u[i];
        } else if (st->wid[i] == 1) {
            xi[0] = cfg[i] >= 0.5 ? 1.0 : 0.0;
        } else if (st->wid[i] > 1) {
            memset(xi, 0, st->wid[i] * sizeof *xi);
            size_t k = (size_t)cfg[i];
            xi[k < st->wid[i] ? k : st->wid[i] - 1] = 1.0;
        }
    }
}

/* GP input -> config (categoricals by argmax); u is n scratch values. */
static void decode(const bayes_state *st, const double *x, double *u, double *cfg) {
    for (size_t i = 0; i < st->n; i++) {
        const space_param *p = &st->sp->p[i];
        const double *xi = x + st->off[i];
        if (p->kind != PARAM_CATEGORICAL) {
            u[i] = xi[0];
            continue;
        }
        size_t k = 0;
        if (st->wid[i] == 1)
            k = xi[0] >= 0.5;
        for (size_t j = 1; st->wid[i] > 1 && j < st->wid[i]; j++)
            if (xi[j] > xi[k])
                k = j;
        u[i] = ((double)k + 0.5) / (double)p->nvalues;
    }
    space_from_unit(st->sp, u, cfg);
}

static void sobol_suggest(const bayes_state *st, uint64_t index, double *out, double *u) {
    sobol_t s;
    sobol_init(&s, st->n, rng_mix64(st->seed ^ 0xb0be5ULL), true);
    sobol_point(&s, index, u);
    space_from_unit(st->sp, u, out);
}

/* ---- output transform ---- */

static double yj(double x, double lam) {
    if (x >= 0)
        return fabs(lam) < 1e-8 ? log1p(x) : (pow(x + 1.0, lam) - 1.0) / lam;
    return fabs(lam - 2.0) < 1e-8 ? -log1p(-x) : -(pow(1.0 - x, 2.0 - lam) - 1.0) / (2.0 - lam);
}

/* Profile log-likelihood of the Yeo-Johnson lambda for standardised z. */
static double yj_loglik(const double *z, size_t n, double lam) {
    double m = 0, v = 0, jac = 0;
    for (size_t i = 0; i < n; i++)
        m += yj(z[i], lam);
    m /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double t = yj(z[i], lam) - m;
        v += t * t;
        jac += copysign(log1p(fabs(z[i])), z[i]);
    }
    v /= (double)n;
    if (!(v > 0))
        return -HUGE_VAL;
    return -0.5 * (double)n * log(v) + (lam - 1.0) * jac;
}

static void standardise(double *y, size_t n) {
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++)
        m += y[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        v += (y[i] - m) * (y[i] - m);
    double sd = n > 1 ? sqrt(v / (double)(n - 1)) : 0;
    if (!(sd > 1e-300))
        sd = 1;
    for (size_t i = 0; i < n; i++)
        y[i] = (y[i] - m) / sd;
}

/* In place: y (finite, n >= 1) -> standardised, power-transformed,
 * standardised. */
static void transform_outputs(double *y, size_t n) {
    standardise(y, n);
    if (n < 3)
        return;
    /* golden-section search for lambda in [-2, 4] (concave in practice) */
    double a = -2.0, b = 4.0, gr = 0.6180339887498949;
    double c = b - gr * (b - a), d = a + gr * (b - a);
    double fc = yj_loglik(y, n, c), fd = yj_loglik(y, n, d);
    for (int it = 0; it < 40; it++) {
        if (fc > fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - gr * (b - a);
            fc = yj_loglik(y, n, c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + gr * (b - a);
            fd = yj_loglik(y, n, d);
        }
    }
    double lam = 0.5 * (a + b);
    if (!isfinite(yj_loglik(y, n, lam)))
        return;
    for (size_t i = 0; i < n; i++)
        y[i] = yj(y[i], lam);
    standardise(y, n);
}

/* ---- acquisition ---- */

typedef struct {
    gp *g;
    acq_kind kind;
    double best;
    double *x;         /* full point, D */
    const size_t *idx; /* optimised coordinates */
    double *dm, *dv;   /* D scratch */
} acq_ctx;

static double acq_value(acq_kind kind, double mu, double var, double best, double *dlm,
                        double *dlv) {
    if (kind == ACQ_MEAN) {
        if (dlm)
            *dlm = -1.0;
        if (dlv)
            *dlv = 0.0;
        return -mu;
    }
    return gp_log_ei(mu, var, best, dlm, dlv);
}

static double acq_eval(gp *g, acq_kind kind, const double *x, double best, double *dm, double *dv,
                       double *dlm, double *dlv) {
    double mu, var;
    gp_predict_grad(g, x, &mu, &var, dm, dv);
    return acq_value(kind, mu, var, best, dlm, dlv);
}

static double acq_nlopt(unsigned nv, const double *v, double *grad, void *data) {
    acq_ctx *c = data;
    for (unsigned k = 0; k < nv; k++)
        c->x[c->idx[k]] = v[k];
    double dlm, dlv;
    double f = acq_eval(c->g, c->kind, c->x, c->best, grad ? c->dm : NULL, grad ? c->dv : NULL,
                        &dlm, &dlv);
    if (grad)
        for (unsigned k = 0; k < nv; k++)
            grad[k] = dlm * c->dm[c->idx[k]] + dlv * c->dv[c->idx[k]];
    if (!isfinite(f)) {
        if (grad)
            memset(grad, 0, nv * sizeof *grad);
        return -1e300;
    }
    return f;
}

static int same_cfg(const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

typedef struct {
    double v;
    size_t i;
} ranked;

static int cmp_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_asc(const void *a, const void *b) {
    return -cmp_desc(a, b);
}

/* Partial Fisher-Yates: moves k random elements of a[0..n) to the front. */
static void pick_random(size_t *a, size_t n, size_t k, rng_t *r) {
    for (size_t i = 0; i < k && i < n; i++) {
        size_t j = i + (size_t)rng_below(r, n - i);
        size_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Greedy neighbour search over integer and categorical parameters of the
 * point x (value *fx), at most two passes. */
static void discrete_polish(const bayes_state *st, gp *g, acq_kind kind, double best, double *x,
                            double *fx, double *u, double *cfg, double *xt) {
    for (int pass = 0; pass < 2; pass++) {
        int improved = 0;
        for (size_t i = 0; i < st->n; i++) {
            const space_param *p = &st->sp->p[i];
            if (p->kind == PARAM_CONTINUOUS || st->wid[i] == 0)
                continue;
            decode(st, x, u, cfg);
            double orig = cfg[i];
            size_t nalt = p->kind == PARAM_INTEGER ? 2 : p->nvalues;
            for (size_t a = 0; a < nalt; a++) {
                double v = p->kind == PARAM_INTEGER ? orig + (a ? 1.0 : -1.0) : (double)a;
                if (v == orig || v < p->lo || v > p->hi)
                    continue;
                cfg[i] = v;
                encode(st, cfg, u, xt);
                double f = acq_eval(g, kind, xt, best, NULL, NULL, NULL, NULL);
                if (f > *fx) {
                    *fx = f;
                    memcpy(x, xt, st->D * sizeof *x);
                    orig = v;
                    improved = 1;
                }
                cfg[i] = orig;
            }
        }
        if (!improved)
            break;
    }
}

static double corr(size_t D, const double *il, const double *a, const double *b);

/* Log probability that x runs without failing: a kernel-smoothed success
 * rate, (rho + sum_ok c(x, x_i)) / (1 + sum_all c(x, x_i)) with c the GP's
 * correlation (its fitted lengthscales) and rho the overall success rate.
 * Near failures only it drops towards 0; far from any data, or with failures
 * spread evenly, it is flat and leaves the acquisition's ranking alone. X
 * holds nok successes then nfail failures. */
static double log_feasible(const bayes_state *st, const double *il, const double *x,
                           const double *X, size_t nok, size_t nfail) {
    if (!nfail)
        return 0;
    double wok = 0, wall = 0;
    for (size_t i = 0; i < nok + nfail; i++) {
        double c = corr(st->D, il, x, X + i * st->D);
        wall += c;
        if (i < nok)
            wok += c;
    }
    double rho = (double)nok / (double)(nok + nfail);
    return log((rho + wok) / (1.0 + wall));
}

/* Matern-5/2 correlation of a and b under inverse lengthscales il. */
static double corr(size_t D, const double *il, const double *a, const double *b) {
    double r2 = 0;
    for (size_t d = 0; d < D; d++) {
        double t = (a[d] - b[d]) * il[d];
        r2 += t * t;
    }
    double rr = sqrt(r2);
    return (1 + SQRT5 * rr + (5.0 / 3.0) * r2) * exp(-SQRT5 * rr);
}

/* Kriging-believer fantasies remove EI at a pending point but, when the model
 * is confident, leave its maximum a hair away from it. A point correlated
 * above CROWD_CORR (scaled distance < ~0.05) with a pending one adds nothing a
 * parallel worker should spend a trial on: such points rank below all
 * others. Xp holds np pending trials (held off above cmax), then nr recently
 * finished ones (above RECENT_CORR). */
static double crowding(const bayes_state *st, const double *il, const double *x, const double *Xp,
                       size_t np, double cmax, size_t nr) {
    for (size_t k = 0; k < np + nr; k++)
        if (corr(st->D, il, x, Xp + k * st->D) > (k < np ? cmax : RECENT_CORR))
            return -1e6;
    return 0;
}

/* The fitted GP of a call and what it was fitted on (fit_model). */
typedef struct {
    size_t nsel, nfit, nfail;
    size_t *sel;        /* ndone: indices into done, best first; sel[0..nsel) conditioned on */
    const size_t *fail; /* nfail failed trials' indices (into sel's storage) */
    double *X;          /* (nsel + nfail) x D encoded inputs */
    double *Y;          /* nsel transformed outputs */
    double *theta;      /* D + 3 fitted hyperparameters */
    double *il;         /* D inverse lengthscales */
} model;

static void model_free(model *m) {
    free(m->sel);
    free(m->X);
    free(m->Y);
    free(m->theta);
    free(m->il);
    memset(m, 0, sizeof *m);
}

/* Selects the points to condition on, fits the hyperparameters (randomness
 * from r) and leaves st->g conditioned on the nsel finished trials with an
 * objective (failures are in m->X after them, not conditioned on). Needs at
 * least two finite objectives and D > 0. With noise_refit the noisy refit
 * (below) runs whatever the first fit's noise. Returns 0, or -1 when out of
 * memory (m then holds nothing). */
static int fit_model(bayes_state *st, rng_t *r, const strategy_obs *done, size_t ndone,
                     int noise_refit, model *m) {
    const size_t D = st->D;
    size_t nfinite = 0;
    double *u = NULL, *starts = NULL;
    ranked *rk = NULL;
    int rc = -1;
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < ndone; i++)
        nfinite += isfinite(done[i].y) != 0;
    m->sel = malloc(ndone * sizeof *m->sel);
    rk = malloc(ndone * sizeof *rk);
    u = malloc((st->n + 1) * sizeof *u);
    if (!m->sel || !rk || !u)
        goto out;
    for (size_t i = 0; i < ndone; i++) {
        rk[i].v = isfinite(done[i].y) ? done[i].y : HUGE_VAL;
        rk[i].i = i;
    }
    qsort(rk, ndone, sizeof *rk, cmp_asc); /* best first, failures last */
    for (size_t i = 0; i < ndone; i++)
        m->sel[i] = rk[i].i;
    /* finite objectives: the best KEEP_BEST plus random others */
    m->nsel = nfinite;
    if (m->nsel > MAX_POINTS) {
        pick_random(m->sel + KEEP_BEST, nfinite - KEEP_BEST, MAX_POINTS - KEEP_BEST, r);
        m->nsel = MAX_POINTS;
    }
    /* failures (sorted last, oldest first): the most recent MAX_FAILED */
    m->nfail = ndone - nfinite;
    m->fail = m->sel + nfinite;
    if (m->nfail > MAX_FAILED) {
        m->fail += m->nfail - MAX_FAILED;
        m->nfail = MAX_FAILED;
    }
    /* fit subset: the first FIT_POINTS/2 (best) plus random others, moved to
     * the front of sel */
    m->nfit = m->nsel;
    if (m->nfit > FIT_POINTS) {
        pick_random(m->sel + FIT_POINTS / 2, m->nsel - FIT_POINTS / 2, FIT_POINTS - FIT_POINTS / 2,
                    r);
        m->nfit = FIT_POINTS;
    }
    size_t P = D + 3, nstarts = 1;
    m->X = malloc((m->nsel + m->nfail) * D * sizeof *m->X);
    m->Y = malloc(m->nsel * sizeof *m->Y);
    m->theta = malloc(P * sizeof *m->theta);
    m->il = malloc(D * sizeof *m->il);
    starts = malloc(3 * P * sizeof *starts);
    if (!m->X || !m->Y || !m->theta || !m->il || !starts)
        goto out;
    for (size_t k = 0; k < m->nsel; k++)
        m->Y[k] = done[m->sel[k]].y;
    transform_outputs(m->Y, m->nsel);
    for (size_t k = 0; k < m->nsel; k++)
        encode(st, done[m->sel[k]].cfg, u, m->X + k * D);
    for (size_t k = 0; k < m->nfail; k++)
        encode(st, done[m->fail[k]].cfg, u, m->X + (m->nsel + k) * D);

    /* -- fit hyperparameters on the fit subset, then condition on all -- */
    if (gp_set_data(st->g, m->X, m->Y, m->nfit))
        goto out;
    gp_default_params(st->g, starts);
    {
        /* second start: the best of NPRIOR draws from the prior */
        double bestlp = -HUGE_VAL, *cand = starts + P;
        for (int k = 0; k < NPRIOR; k++) {
            gp_prior_sample(st->g, r, m->theta);
            double lp = gp_log_posterior(st->g, m->theta, NULL);
            if (lp > bestlp) {
                bestlp = lp;
                memcpy(cand, m->theta, P * sizeof *cand);
            }
        }
        nstarts += isfinite(bestlp);
    }
    /* On failure use the default, never what an earlier call left behind. A
     * K that is not positive definite even with jitter leaves the GP at its
     * prior: the acquisition then explores by variance alone. */
    if (gp_fit(st->g, starts, nstarts, FIT_MAXEVAL, NULL))
        gp_set_params(st->g, starts);
    gp_get_params(st->g, m->theta);
    if (noise_refit || m->theta[D + 1] - m->theta[D] > EXPLOIT_LOG_NOISE) {
        /* The model sees noise: L-BFGS from the low-noise starts tends to
         * stop at a rough fit that interpolates much of it, so refit from
         * that fit and from a start that explains a tenth of the variance
         * as noise, keeping the better (a noisy Hartmann-6's regret after
         * 100 trials: 0.31 -> 0.21; bench/README.md). */
        memcpy(starts, m->theta, P * sizeof *starts);
        gp_default_params(st->g, starts + P);
        starts[P + D + 1] = NOISE_START_LOG_S2N;
        if (gp_fit(st->g, starts, 2, FIT_MAXEVAL, NULL))
            gp_set_params(st->g, m->theta);
        gp_get_params(st->g, m->theta);
    }
    for (size_t d = 0; d < D; d++)
        m->il[d] = exp(-m->theta[d]); /* 1 / lengthscale */
    if (m->nfit < m->nsel) {
        if (gp_set_data(st->g, m->X, m->Y, m->nsel))
            goto out;
        gp_set_params(st->g, m->theta);
    }
    rc = 0;
out:
    if (rc)
        model_free(m);
    free(u);
    free(starts);
    free(rk);
    return rc;
}

/* The trust region's side after the finished trials of `done` in order
 * (TuRBO's rule, replayed from the history so that it is a function of it:
 * a trial that improves on the best so far by 1e-3 of its magnitude is a
 * success, any other a failure; TR_SUCC successes in a row double the side,
 * max(4, n) failures in a row halve it, and a side below TR_L_MIN starts
 * again at TR_L_INIT). The prior and the initial design only set the best. */
static double tr_length(const bayes_state *st, const strategy_obs *done, size_t ndone) {
    double L = TR_L_INIT, best = HUGE_VAL;
    size_t succ = 0, fail = 0, tol = st->n > 4 ? st->n : 4;
    size_t start = st->nprior + st->n_init;
    for (size_t i = 0; i < ndone; i++) {
        double y = done[i].y;
        int better = isfinite(y) && y < best - 1e-3 * fabs(best);
        if (isfinite(y) && y < best)
            best = y;
        if (i < start || !isfinite(best))
            continue;
        if (better) {
            succ++;
            fail = 0;
        } else {
            fail++;
            succ = 0;
        }
        if (succ >= TR_SUCC) {
            L = L * 2 < TR_L_MAX ? L * 2 : TR_L_MAX;
            succ = 0;
        } else if (fail >= tol) {
            L /= 2;
            fail = 0;
            if (L < TR_L_MIN)
                L = TR_L_INIT;
        }
    }
    return L;
}

/* The suggestion given `done`, which includes the prior (bayes_suggest). */
static int suggest_all(bayes_state *st, uint64_t index, const strategy_obs *done, size_t ndone,
                       const double *const *pending, size_t npending, double *out, err_t *e) {
    const size_t n = st->n, D = st->D;
    size_t nfinite = 0, nsel = 0, nc = 0, nfail = 0;
    int rc = 0;
    double *u = NULL, *X = NULL, *Xc = NULL, *mu = NULL, *var = NULL, *cfg = NULL, *xt = NULL,
           *dm = NULL, *dv = NULL, *ubest = NULL, *theta = NULL;
    size_t *sel = NULL, *idx = NULL, nidx = 0;
    double *lo = NULL, *hi = NULL, *v = NULL, *il = NULL, *Xp = NULL, *trlo = NULL, *trhi = NULL;
    ranked *rk = NULL;
    model md = {0};
    nlopt_opt opt = NULL;
    rng_t r;

    if (!(u = calloc(n + 1, sizeof *u))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ndone; i++)
        nfinite += isfinite(done[i].y) != 0;
    if (index < st->n_init || nfinite < 2 || !D) {
        sobol_suggest(st, index, out, u);
        goto out;
    }
    rng_seed(&r, st->seed, index ^ 0xba4e5000000000ULL);

    if (fit_model(st, &r, done, ndone, 0, &md)) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    nsel = md.nsel;
    nfail = md.nfail;
    sel = md.sel;
    X = md.X;
    theta = md.theta;
    il = md.il;
    rk = malloc((NCAND + NLOCAL) * sizeof *rk);
    cfg = malloc(n * sizeof *cfg);
    xt = malloc(D * sizeof *xt);
    dm = malloc(D * sizeof *dm);
    dv = malloc(D * sizeof *dv);
    idx = malloc(D * sizeof *idx);
    lo = malloc(D * sizeof *lo);
    hi = malloc(D * sizeof *hi);
    v = malloc(D * sizeof *v);
    Xp = malloc((npending + RECENT_CROWD) * D * sizeof *Xp);
    trlo = malloc(n * sizeof *trlo);
    trhi = malloc(n * sizeof *trhi);
    if (!rk || !cfg || !xt || !dm || !dv || !idx || !lo || !hi || !v || !Xp || !trlo || !trhi) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    double best = HUGE_VAL;

    /* -- the incumbent: the lowest posterior mean at a finished trial. With
     * noise-free data that is the best value seen; with noise it is not
     * fooled by one lucky draw (which would make EI chase variance). -- */
    {
        double *pm = malloc(2 * nsel * sizeof *pm);
        if (!pm || gp_predict(st->g, X, nsel, pm, pm + nsel)) {
            free(pm);
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
        for (size_t k = 0; k < nsel; k++)
            best = pm[k] < best ? pm[k] : best;
        free(pm);
    }

    /* -- failed and pending trials as fantasies at their posterior mean -- */
    for (size_t k = 0; k < nfail + npending; k++) {
        double m, pv;
        if (k < nfail)
            memcpy(xt, X + (nsel + k) * D, D * sizeof *xt);
        else
            encode(st, pending[k - nfail], u, xt);
        gp_predict_grad(st->g, xt, &m, &pv, NULL, NULL);
        if (k < nfail && m < best)
            m = best; /* a failure is no improvement */
        if (k >= nfail)
            memcpy(Xp + (k - nfail) * D, xt, D * sizeof *xt);
        if (gp_append(st->g, xt, m)) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
    }

    /* -- every EXPLOIT_EVERY-th model-based trial goes to the minimum of the
     * posterior mean instead of the maximum of EI, unless the model puts a
     * sizeable share of the variation down to noise -- */
    acq_kind kind = ACQ_LOGEI;
    double log_nr = theta[D + 1] - theta[D]; /* log(s2n / s2f) */
    int noisy = log_nr > EXPLOIT_LOG_NOISE;
    double cmax = noisy ? CROWD_CORR_NOISY : CROWD_CORR;
    /* Where noise is a large share of the variation (log(s2n / s2f) above
     * RECENT_LOG_NOISE: noisy objectives, not Ackley's ripples), the last
     * RECENT_CROWD finished trials crowd like pending ones: one more draw
     * next to a config just run tells the model little that its noise term
     * has not already averaged in, and EI otherwise returns to a lucky
     * draw's neighbourhood again and again (noisy Hartmann-6's median regret
     * after 100 trials 0.29 -> 0.05, noisy Branin's 0.13 -> 0.08;
     * bench/README.md). */
    size_t nrecent = 0;
    if (log_nr > RECENT_LOG_NOISE)
        for (size_t i = ndone; i > st->nprior && nrecent < RECENT_CROWD; i--)
            encode(st, done[i - 1].cfg, u, Xp + (npending + nrecent++) * D);
    if ((index - st->n_init) % EXPLOIT_EVERY == EXPLOIT_EVERY - 1 && !noisy)
        kind = ACQ_MEAN;

    /* -- candidates: Sobol' + perturbations of the best trials -- */
    size_t ntop = nsel < 5 ? nsel : 5;
    Xc = malloc((NCAND + NLOCAL) * D * sizeof *Xc);
    mu = malloc((NCAND + NLOCAL) * sizeof *mu);
    var = malloc((NCAND + NLOCAL) * sizeof *var);
    ubest = malloc(ntop * n * sizeof *ubest);
    if (!Xc || !mu || !var || !ubest) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t t = 0; t < ntop; t++)
        space_to_unit(st->sp, done[sel[t]].cfg, ubest + t * n);
    /* In many dimensions the candidates come from a trust region around
     * the best trial: a box of side L scaled per parameter by its
     * lengthscale (geometric mean 1), each candidate changing each
     * parameter with probability min(1, 20 / n) (TuRBO, Eriksson et al.
     * 2019). */
    int tr = n >= TR_MIN_DIM && ntop;
    if (tr) {
        double L = tr_length(st, done, ndone), lsum = 0;
        size_t nl = 0;
        for (size_t i = 0; i < n; i++)
            if (st->wid[i] == 1 && st->sp->p[i].kind != PARAM_CATEGORICAL) {
                lsum += theta[st->off[i]];
                nl++;
            }
        double lmean = nl ? lsum / (double)nl : 0;
        for (size_t i = 0; i < n; i++) {
            double w = 1;
            if (st->wid[i] == 1 && st->sp->p[i].kind != PARAM_CATEGORICAL)
                w = exp(theta[st->off[i]] - lmean);
            double h = 0.5 * L * w, c0 = ubest[i];
            trlo[i] = c0 - h < 0 ? 0 : c0 - h;
            trhi[i] = c0 + h > 1 ? 1 : c0 + h;
        }
    }
    {
        sobol_t s;
        double ptr = 20.0 / (double)n;
        sobol_init(&s, n, rng_mix64(st->seed ^ rng_mix64(index + 0xca4d)), true);
        for (size_t c = 0; c < NCAND; c++, nc++) {
            sobol_point(&s, c, u);
            if (tr) {
                size_t forced = (size_t)rng_below(&r, n);
                for (size_t i = 0; i < n; i++) {
                    if (i != forced && rng_uniform(&r) >= ptr)
                        u[i] = ubest[i];
                    else if (st->sp->p[i].kind != PARAM_CATEGORICAL)
                        u[i] = trlo[i] + u[i] * (trhi[i] - trlo[i]);
                }
            }
            space_from_unit(st->sp, u, cfg);
            encode(st, cfg, u, Xc + nc * D);
        }
    }
    static const double scales[] = {0.002, 0.01, 0.05, 0.15};
    double pdim = n <= 4 ? 1.0 : 4.0 / (double)n;
    for (size_t c = 0; c < NLOCAL && ntop; c++, nc++) {
        /* half of them around the very best */
        size_t t = c % 2 ? 0 : (size_t)rng_below(&r, ntop);
        double sc = scales[c % 4 == 0 ? 0 : (size_t)rng_below(&r, 4)];
        memcpy(u, ubest + t * n, n * sizeof *u);
        size_t forced = (size_t)rng_below(&r, n);
        for (size_t i = 0; i < n; i++) {
            if (i != forced && rng_uniform(&r) >= pdim)
                continue;
            if (st->sp->p[i].kind == PARAM_CATEGORICAL) {
                if (rng_uniform(&r) < 0.5)
                    u[i] = rng_uniform(&r);
            } else {
                double w = u[i] + sc * rng_normal(&r);
                u[i] = w < 0 ? -w : w > 1 ? 2 - w : w; /* reflect */
            }
        }
        space_from_unit(st->sp, u, cfg);
        encode(st, cfg, u, Xc + nc * D);
    }
    if (gp_predict(st->g, Xc, nc, mu, var)) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    /* -- with trials pending in a confident model of few parameters, an EI
     * ask becomes a mean step when no pending trial is at the mean's lowest
     * candidate: one parallel worker refines where the model expects the
     * minimum while the others explore, which kriging-believer EI alone
     * does not do (its fantasies push the batch away from the incumbent).
     * It depends on the pending configs only, so it holds for a batch and
     * for asynchronous asks alike. -- */
    if (npending && !noisy && kind == ACQ_LOGEI && n < PEND_MEAN_MAX_N) {
        size_t cs = 0;
        int taken = 0;
        for (size_t c = 1; c < nc; c++)
            cs = mu[c] < mu[cs] ? c : cs;
        for (size_t k = 0; k < npending && !taken; k++)
            taken = corr(D, il, Xc + cs * D, Xp + k * D) > PEND_MEAN_CORR;
        if (!taken)
            kind = ACQ_MEAN;
    }
    for (size_t c = 0; c < nc; c++) {
        rk[c].v = acq_value(kind, mu[c], var[c], best, NULL, NULL) +
                  log_feasible(st, il, Xc + c * D, X, nsel, nfail) +
                  crowding(st, il, Xc + c * D, Xp, npending, cmax, nrecent);
        rk[c].i = c;
    }
    qsort(rk, nc, sizeof *rk, cmp_desc);

    /* -- refine the best few -- */
    for (size_t i = 0; i < n; i++)
        if (st->sp->p[i].kind == PARAM_CONTINUOUS) {
            lo[nidx] = tr ? trlo[i] : 0;
            hi[nidx] = tr ? trhi[i] : 1;
            idx[nidx++] = st->off[i];
        }
    if (nidx) {
        opt = nlopt_create(NLOPT_LD_LBFGS, (unsigned)nidx);
        if (!opt || nlopt_set_lower_bounds(opt, lo) < 0 || nlopt_set_upper_bounds(opt, hi) < 0 ||
            nlopt_set_maxeval(opt, ACQ_MAXEVAL) < 0 || nlopt_set_ftol_rel(opt, 1e-9) < 0) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
    }
    for (size_t q = 0; q < NREFINE && q < nc; q++) {
        double *x = Xc + rk[q].i * D;
        double fx = acq_eval(st->g, kind, x, best, NULL, NULL, NULL, NULL);
        if (nidx) {
            acq_ctx ctx = {st->g, kind, best, xt, idx, dm, dv};
            double fv = -HUGE_VAL;
            memcpy(xt, x, D * sizeof *xt);
            for (size_t k = 0; k < nidx; k++) /* a local candidate may lie outside */
                v[k] = x[idx[k]] < lo[k] ? lo[k] : x[idx[k]] > hi[k] ? hi[k] : x[idx[k]];
            nlopt_set_max_objective(opt, acq_nlopt, &ctx);
            nlopt_result res = nlopt_optimize(opt, v, &fv);
            if ((res > 0 || res == NLOPT_ROUNDOFF_LIMITED) && fv > fx) {
                for (size_t k = 0; k < nidx; k++)
                    xt[idx[k]] = v[k];
                /* re-evaluate at the realisable point */
                decode(st, xt, u, cfg);
                encode(st, cfg, u, xt);
                double f = acq_eval(st->g, kind, xt, best, NULL, NULL, NULL, NULL);
                if (f > fx && crowding(st, il, xt, Xp, npending, cmax, nrecent) == 0) {
                    fx = f;
                    memcpy(x, xt, D * sizeof *x);
                }
            }
        }
        discrete_polish(st, st->g, kind, best, x, &fx, u, cfg, xt);
        rk[q].v = fx + log_feasible(st, il, x, X, nsel, nfail) +
                  crowding(st, il, x, Xp, npending, cmax, nrecent);
    }
    qsort(rk, nc, sizeof *rk, cmp_desc);

    /* -- first candidate that is not already finished or pending -- */
    for (size_t q = 0; q < nc; q++) {
        int dup = 0;
        decode(st, Xc + rk[q].i * D, u, cfg);
        for (size_t i = 0; i < ndone && !dup; i++)
            dup = same_cfg(cfg, done[i].cfg, n);
        for (size_t i = 0; i < npending && !dup; i++)
            dup = same_cfg(cfg, pending[i], n);
        if (!dup) {
            memcpy(out, cfg, n * sizeof *out);
            goto out;
        }
    }
    sobol_suggest(st, index, out, u); /* everything nearby has been run */
out:
    nlopt_destroy(opt);
    model_free(&md);
    free(u);
    free(Xc);
    free(mu);
    free(var);
    free(cfg);
    free(xt);
    free(dm);
    free(dv);
    free(ubest);
    free(idx);
    free(lo);
    free(hi);
    free(v);
    free(Xp);
    free(trlo);
    free(trhi);
    free(rk);
    return rc;
}

static int bayes_suggest(void *state, uint64_t index, const strategy_obs *done, size_t ndone,
                         const double *const *pending, size_t npending, double *out, err_t *e) {
    bayes_state *st = state;
    strategy_obs *all;
    int rc;
    if (!st->nprior)
        return suggest_all(st, index, done, ndone, pending, npending, out, e);
    if (!(all = malloc((st->nprior + ndone) * sizeof *all)))
        return err_set(e, ERR_INTERNAL, "out of memory");
    memcpy(all, st->prior, st->nprior * sizeof *all);
    if (ndone)
        memcpy(all + st->nprior, done, ndone * sizeof *all);
    rc = suggest_all(st, index, all, st->nprior + ndone, pending, npending, out, e);
    free(all);
    return rc;
}

/* The incumbent given `done` which includes the prior (its first nprior):
 * the trial of this job (index >= nprior) with the lowest posterior mean
 * among those the GP is conditioned on; with fewer than two objectives, or
 * no encoded coordinate, the lowest objective. */
static int incumbent_all(bayes_state *st, const strategy_obs *done, size_t ndone, size_t nprior,
                         size_t *best, err_t *e) {
    size_t nfinite = 0, k = ndone;
    double *pm = NULL, bm = HUGE_VAL;
    model md = {0};
    rng_t r;
    int rc = 0;
    for (size_t i = 0; i < ndone; i++)
        nfinite += isfinite(done[i].y) != 0;
    for (size_t i = nprior; i < ndone; i++)
        if (isfinite(done[i].y) && (k == ndone || done[i].y < done[k].y))
            k = i;
    if (k == ndone)
        return err_set(e, ERR_NOT_FOUND, "no finished trial has an objective");
    if (nfinite < 2 || !st->D)
        goto out;
    rng_seed(&r, st->seed, (uint64_t)ndone ^ 0x1c0b000000000ULL);
    if (fit_model(st, &r, done, ndone, 1, &md) || !(pm = malloc(2 * md.nsel * sizeof *pm)) ||
        gp_predict(st->g, md.X, md.nsel, pm, pm + md.nsel)) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t j = 0; j < md.nsel; j++)
        if (md.sel[j] >= nprior && pm[j] < bm) {
            bm = pm[j];
            k = md.sel[j];
        }
out:
    if (!rc)
        *best = k - nprior;
    free(pm);
    model_free(&md);
    return rc;
}

static int bayes_incumbent(void *state, const strategy_obs *done, size_t ndone, size_t *best,
                           err_t *e) {
    bayes_state *st = state;
    strategy_obs *all;
    int rc;
    if (!st->nprior)
        return incumbent_all(st, done, ndone, 0, best, e);
    if (!(all = malloc((st->nprior + ndone) * sizeof *all)))
        return err_set(e, ERR_INTERNAL, "out of memory");
    memcpy(all, st->prior, st->nprior * sizeof *all);
    if (ndone)
        memcpy(all + st->nprior, done, ndone * sizeof *all);
    rc = incumbent_all(st, all, st->nprior + ndone, st->nprior, best, e);
    free(all);
    return rc;
}

const strategy_ops strategy_bayes_ops = {
    .name = "Bayesian",
    .create = bayes_create,
    .suggest = bayes_suggest,
    .destroy = bayes_destroy,
    .incumbent = bayes_incumbent,
};
