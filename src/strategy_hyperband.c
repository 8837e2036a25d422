/* Hyperband: asynchronous successive halving (ASHA) across brackets.
 *
 * Resource. One emission of the objective metric is one resource unit (an
 * epoch): a curve's step is its emission count. MinResource (r0, default
 * 1) and MaxResource (R, required: strategy_configure; the request infers
 * it from a static epochs hyperparameter) come from the StrategyConfig.
 *
 * Rungs. Rung j is at r0 * eta^j resource units, for every such value
 * below R (eta = STRATEGY_HB_ETA). A trial that reaches R is stopped (it
 * has had its whole budget; one that ends there by itself completes).
 *
 * Brackets. Bracket s (0 <= s < nb, nb = min(number of rungs,
 * STRATEGY_HB_MAX_BRACKETS)) makes its first decision at rung s, so bracket
 * 0 is the most aggressive and bracket nb-1 lets every trial run to rung
 * nb-1 unjudged. As in Hyperband, bracket s receives a share of the trials
 * proportional to eta^(nb-1-s) / (nb-s). A trial's bracket is a function of
 * its config and the seed (a hash: should_stop sees curves, not indexes),
 * so it is the same after a restart.
 *
 * Promotion (should_stop, as results arrive; nothing waits for a rung to
 * fill). A running trial whose curve has reached rung k of its bracket but
 * not rung k+1 (its segment k) is judged at rung k: its value there (the
 * value at that step) is compared with the values every trial has at that
 * rung (running or finished, of any bracket, itself included: a bracket
 * sets only where a trial is first judged, so that the few trials of the
 * later brackets are not judged among themselves alone): it continues only
 * when its value is at most the 1/eta quantile of those values (linear
 * interpolation between order statistics; minimised), that is, when it is
 * in the best 1/eta so far. The first trial at a rung continues. While in
 * segment k a trial is judged again each time its curve grows, against the
 * rung's values as they are then (a trial let through early by a rung
 * that few had reached is stopped once enough better ones reach it); once
 * it reaches rung k+1 it is judged only there, never again for rung k. A
 * curve that jumped over several rungs between two calls is judged at the
 * highest it reached.
 *
 * Restart. The decision is a pure function of the curves (and of the
 * settings and seed): nothing is remembered between calls, so a restarted
 * daemon, fed the same curves, makes the same decisions.
 *
 * New configs are model-based, BOHB-like: Bayesian's (strategy_bayes.c:
 * its Sobol' initial design, then its GP) over the finished trials, each
 * with its last value (one model for every budget; a stopped trial keeps
 * its last value, as the engine's early stop does), warm-started with the
 * prior history as Bayesian is. bench/multifidelity.py measured them
 * ahead of quasi-random proposals at equal epochs (see bench/README.md).
 * Built with -DHB_MODEL_BASED=0 they are quasi-random instead (Sobol', as
 * strategy_random.c; the prior is then ignored): the same index and seed
 * give the same config.
 *
 * Threads (strategy.h): suggest() writes only `u` (and `model`'s state);
 * should_stop() reads only the settings, immutable after configure(). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sobol.h"
#include "strategy.h"

extern const strategy_ops strategy_bayes_ops; /* HB_MODEL_BASED */

#ifndef HB_MODEL_BASED
#define HB_MODEL_BASED 1 /* 0: quasi-random proposals (a build option, for the benchmark) */
#endif

#define HB_RUNGS_MAX 32 /* r0 * 3^32 > STRATEGY_HB_MAX_RESOURCE */
typedef struct {
    const space *sp;
    uint64_t seed;
    sobol_t sobol;
    double *u;   /* suggest()'s scratch */
    void *model; /* HB_MODEL_BASED: Bayesian's state (suggest() only) */
    /* settings (configure) */
    int64_t r0, rmax;
    int64_t rung[HB_RUNGS_MAX];
    int nrungs, nbrackets;
    double cum[STRATEGY_HB_MAX_BRACKETS]; /* cumulative bracket shares, last = 1 */
} hb_state;

static void *hb_create(const space *sp, uint64_t seed, const strategy_obs *prior, size_t nprior,
                       err_t *e) {
    hb_state *st = calloc(1, sizeof *st);
    if (st)
        st->u = calloc(sp->n ? sp->n : 1, sizeof *st->u);
    if (!st || !st->u) {
        free(st);
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    st->sp = sp;
    st->seed = seed;
    sobol_init(&st->sobol, sp->n, seed, true);
    if (HB_MODEL_BASED && !(st->model = strategy_bayes_ops.create(sp, seed, prior, nprior, e))) {
        free(st->u);
        free(st);
        return NULL;
    }
    return st;
}

static int hb_configure(void *state, const strategy_opts *o, err_t *e) {
    hb_state *st = state;
    int64_t r0 = o->min_resource > 0 ? o->min_resource : 1;
    if (o->max_resource <= 0)
        return err_set(
            e, ERR_VALIDATION,
            "Hyperband needs StrategyConfig.HyperbandStrategyConfig.MaxResource (or a "
            "static hyperparameter epochs, numepochs, n-epochs, n_epochs or num_epochs)");
    if (o->max_resource > STRATEGY_HB_MAX_RESOURCE)
        return err_set(e, ERR_VALIDATION, "Hyperband: MaxResource %lld is over %d",
                       (long long)o->max_resource, STRATEGY_HB_MAX_RESOURCE);
    if (r0 > o->max_resource)
        return err_set(e, ERR_VALIDATION,
                       "Hyperband: MinResource %lld must not be greater than MaxResource %lld",
                       (long long)r0, (long long)o->max_resource);
    st->r0 = r0;
    st->rmax = o->max_resource;
    st->nrungs = 0;
    for (int64_t r = r0; r < st->rmax && st->nrungs < HB_RUNGS_MAX; r *= STRATEGY_HB_ETA)
        st->rung[st->nrungs++] = r;
    st->nbrackets = st->nrungs < STRATEGY_HB_MAX_BRACKETS ? st->nrungs : STRATEGY_HB_MAX_BRACKETS;
    if (st->nbrackets < 1)
        st->nbrackets = 1;
    double w[STRATEGY_HB_MAX_BRACKETS], sum = 0;
    for (int s = 0; s < st->nbrackets; s++) {
        w[s] = pow(STRATEGY_HB_ETA, st->nbrackets - 1 - s) / (double)(st->nbrackets - s);
        sum += w[s];
    }
    for (int s = 0; s < st->nbrackets; s++)
        st->cum[s] = (s ? st->cum[s - 1] : 0) + w[s] / sum;
    st->cum[st->nbrackets - 1] = 1;
    return 0;
}

static int hb_suggest(void *state, uint64_t index, const strategy_obs *done, size_t ndone,
                      const double *const *pending, size_t npending, double *out, err_t *e) {
    hb_state *st = state;
    if (st->model)
        return strategy_bayes_ops.suggest(st->model, index, done, ndone, pending, npending, out, e);
    sobol_point(&st->sobol, index, st->u);
    space_from_unit(st->sp, st->u, out);
    return 0;
}

static uint64_t cfg_key(const hb_state *st, const double *cfg) {
    uint64_t h = rng_mix64(st->seed ^ 0x4879706572ULL);
    for (size_t i = 0; i < st->sp->n; i++) {
        uint64_t b;
        double v = cfg[i] == 0 ? 0 : cfg[i]; /* -0 and 0 alike */
        memcpy(&b, &v, sizeof b);
        h = rng_mix64(h ^ b);
    }
    return h;
}

/* The bracket of a config (see Brackets above). */
static int bracket_of(const hb_state *st, uint64_t key) {
    double u = (double)(key >> 11) * 0x1.0p-53;
    for (int s = 0; s < st->nbrackets; s++)
        if (u < st->cum[s])
            return s;
    return st->nbrackets - 1;
}

/* The value of curve c at step r (the last point at or before it), or NAN
 * when the curve has not reached r. */
static double value_at(const strategy_curve *c, int64_t r) {
    double v = NAN;
    if (!c->n || c->step[c->n - 1] < r)
        return NAN;
    for (size_t j = 0; j < c->n && c->step[j] <= r; j++)
        v = c->y[j];
    return v;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* 1 when `v` (trial's value at rung r) is outside the best 1/eta of the
 * values every trial had there; 0 when it continues (or nothing is known). */
static int fails_rung(int64_t r, double v, const strategy_curve *all, size_t nall) {
    double *vals = malloc((nall ? nall : 1) * sizeof *vals);
    size_t k = 0;
    int fail = 0;
    if (!vals)
        return 0; /* advisory */
    for (size_t i = 0; i < nall; i++) {
        double x = value_at(&all[i], r);
        if (isfinite(x))
            vals[k++] = x;
    }
    if (k > 1) {
        qsort(vals, k, sizeof *vals, cmp_double);
        double pos = (double)(k - 1) / STRATEGY_HB_ETA;
        size_t lo = (size_t)pos;
        double cut =
            lo + 1 < k ? vals[lo] + (pos - (double)lo) * (vals[lo + 1] - vals[lo]) : vals[lo];
        fail = v > cut;
    }
    free(vals);
    return fail;
}

static int hb_should_stop(void *state, const strategy_curve *trial, const strategy_curve *all,
                          size_t nall) {
    const hb_state *st = state;
    if (!trial->n || !st->rmax)
        return 0;
    int64_t n = trial->step[trial->n - 1];
    if (n >= st->rmax)
        return 1;
    int top = -1; /* highest rung reached: the trial is in segment top */
    while (top + 1 < st->nrungs && st->rung[top + 1] <= n)
        top++;
    if (top < 0 || top < bracket_of(st, cfg_key(st, trial->cfg)))
        return 0;
    double v = value_at(trial, st->rung[top]);
    return isfinite(v) && fails_rung(st->rung[top], v, all, nall);
}

static void hb_destroy(void *state) {
    hb_state *st = state;
    if (st) {
        if (st->model)
            strategy_bayes_ops.destroy(st->model);
        free(st->u);
    }
    free(st);
}

const strategy_ops strategy_hyperband_ops = {
    .name = "Hyperband",
    .create = hb_create,
    .configure = hb_configure,
    .suggest = hb_suggest,
    .should_stop = hb_should_stop,
    .destroy = hb_destroy,
};
