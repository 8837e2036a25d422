/* strategy — the registry of strategies and the wrappers the engine calls
 * (strategy.h). A strategy's own code lives in its src/strategy_NAME.c; this
 * file names its ops, once, in STRATEGY_REGISTRY, and holds what applies to
 * every strategy: the median stopping rule (TrainingJobEarlyStoppingType
 * Auto) and the size of a grid (which the request's checks need without a
 * strategy). */
#include "strategy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The registry: the Strategy values openhpo runs, one line each. */
#define STRATEGY_REGISTRY(X)                                                                       \
    X(strategy_bayes_ops)                                                                          \
    X(strategy_random_ops)                                                                         \
    X(strategy_hyperband_ops)                                                                      \
    X(strategy_grid_ops)

#define STRATEGY_DECLARE(ops) extern const strategy_ops ops;
STRATEGY_REGISTRY(STRATEGY_DECLARE)
#undef STRATEGY_DECLARE

#define STRATEGY_REF(ops) &ops,
static const strategy_ops *const strategy_registry[] = {STRATEGY_REGISTRY(STRATEGY_REF)};
#undef STRATEGY_REF

#define STRATEGY_COUNT (sizeof strategy_registry / sizeof *strategy_registry)
/* Cap of the "not one of ..." message's list of names. */
#define STRATEGY_NAMES_MAX 256

struct strategy {
    const strategy_ops *ops;
    void *state;
    int median; /* the median rule applies (strategy_configure) */
};

const strategy_ops *strategy_find(const char *name) {
    for (size_t i = 0; name && i < STRATEGY_COUNT; i++)
        if (!strcmp(strategy_registry[i]->name, name))
            return strategy_registry[i];
    return NULL;
}

const strategy_ops *strategy_at(size_t i) {
    return i < STRATEGY_COUNT ? strategy_registry[i] : NULL;
}

strategy *strategy_new(const char *name, const space *sp, uint64_t seed, const strategy_obs *prior,
                       size_t nprior, err_t *e) {
    const strategy_ops *ops = strategy_find(name);
    if (!ops) {
        char names[STRATEGY_NAMES_MAX] = "";
        size_t len = 0;
        for (size_t i = 0; i < STRATEGY_COUNT && len < sizeof names; i++) {
            int k = snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
                             strategy_registry[i]->name);
            if (k < 0)
                break;
            len += (size_t)k;
        }
        err_set(e, ERR_VALIDATION, "Strategy '%s' is not one of %s", name ? name : "", names);
        return NULL;
    }
    return strategy_from_ops(ops, sp, seed, prior, nprior, e);
}

strategy *strategy_from_ops(const strategy_ops *ops, const space *sp, uint64_t seed,
                            const strategy_obs *prior, size_t nprior, err_t *e) {
    strategy *s;
    if (!(s = calloc(1, sizeof *s))) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    s->ops = ops;
    if (!(s->state = ops->create(sp, seed, nprior ? prior : NULL, prior ? nprior : 0, e))) {
        free(s);
        return NULL;
    }
    return s;
}

void strategy_free(strategy *s) {
    if (!s)
        return;
    s->ops->destroy(s->state);
    free(s);
}

int strategy_configure(strategy *s, const strategy_opts *o, err_t *e) {
    s->median = o->early_stopping != 0;
    return s->ops->configure ? s->ops->configure(s->state, o, e) : 0;
}

const char *strategy_name(const strategy *s) {
    return s->ops->name;
}

int strategy_suggest(strategy *s, uint64_t index, const strategy_obs *done, size_t ndone,
                     const double *const *pending, size_t npending, double *out, err_t *e) {
    return s->ops->suggest(s->state, index, done, ndone, pending, npending, out, e);
}

int strategy_should_stop(strategy *s, const strategy_curve *trial, const strategy_curve *all,
                         size_t nall) {
    if (s->ops->should_stop && s->ops->should_stop(s->state, trial, all, nall))
        return 1;
    return s->median ? strategy_median_stop(trial, all, nall) : 0;
}

int strategy_incumbent(strategy *s, const strategy_obs *done, size_t ndone, size_t *best,
                       err_t *e) {
    size_t k = ndone;
    if (s->ops->incumbent)
        return s->ops->incumbent(s->state, done, ndone, best, e);
    for (size_t i = 0; i < ndone; i++)
        if (isfinite(done[i].y) && (k == ndone || done[i].y < done[k].y))
            k = i;
    if (k == ndone)
        return err_set(e, ERR_NOT_FOUND, "no finished trial has an objective");
    *best = k;
    return 0;
}

int strategy_exhausted(strategy *s, uint64_t index) {
    return s->ops->exhausted ? s->ops->exhausted(s->state, index) : 0;
}

/* ---------- the median rule ---------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Cap of the finished trials the rule looks at (the latest ones beyond it
 * are left out: a bounded scratch array, no allocation). */
#define MEDIAN_MAX_JOBS 4096

int strategy_median_stop(const strategy_curve *trial, const strategy_curve *all, size_t nall) {
    double *avg;
    size_t k = 0;
    int stop = 0;
    if (!trial->n)
        return 0;
    int64_t s = trial->step[trial->n - 1];
    double v = trial->y[trial->n - 1];
    if (s < STRATEGY_MEDIAN_START_STEP || !isfinite(v) || !nall)
        return 0;
    if (!(avg = malloc((nall < MEDIAN_MAX_JOBS ? nall : MEDIAN_MAX_JOBS) * sizeof *avg)))
        return 0; /* advisory: decided again when the curve grows */
    for (size_t i = 0; i < nall && k < MEDIAN_MAX_JOBS; i++) {
        const strategy_curve *c = &all[i];
        double sum = 0;
        size_t m = 0;
        if (c == trial || !c->finished)
            continue;
        for (size_t j = 0; j < c->n && c->step[j] <= s; j++)
            if (isfinite(c->y[j])) {
                sum += c->y[j];
                m++;
            }
        if (m)
            avg[k++] = sum / (double)m;
    }
    if (k >= STRATEGY_MEDIAN_MIN_JOBS) {
        qsort(avg, k, sizeof *avg, cmp_double);
        double med = k % 2 ? avg[k / 2] : (avg[k / 2 - 1] + avg[k / 2]) / 2;
        stop = v > med;
    }
    free(avg);
    return stop;
}

/* ---------- the size of a grid ---------- */

uint64_t strategy_grid_size(const space *sp, err_t *e) {
    uint64_t n = 1;
    if (!sp->n) {
        err_set(e, ERR_VALIDATION, "Grid needs at least one categorical parameter range");
        return 0;
    }
    for (size_t i = 0; i < sp->n; i++) {
        const space_param *p = &sp->p[i];
        if (p->kind != PARAM_CATEGORICAL) {
            err_set(e, ERR_VALIDATION,
                    "Strategy Grid supports CategoricalParameterRanges only; '%s' is a%s range",
                    p->name, p->kind == PARAM_INTEGER ? "n Integer" : " Continuous");
            return 0;
        }
        if (!p->nvalues || n > STRATEGY_GRID_MAX / p->nvalues) {
            err_set(e, ERR_VALIDATION, "Strategy Grid: the ranges have more than %d combinations",
                    STRATEGY_GRID_MAX);
            return 0;
        }
        n *= p->nvalues;
    }
    return n;
}
