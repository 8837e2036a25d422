/* strategy — the registry of strategies and the wrappers the engine calls
 * (strategy.h). A strategy's own code lives in its src/strategy_NAME.c; this
 * file only names its ops, once, in STRATEGY_REGISTRY. */
#include "strategy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The registry: the Strategy values openhpo runs, one line each. */
#define STRATEGY_REGISTRY(X)                                                                       \
    X(strategy_bayes_ops)                                                                          \
    X(strategy_random_ops)

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

const char *strategy_name(const strategy *s) {
    return s->ops->name;
}

int strategy_suggest(strategy *s, uint64_t index, const strategy_obs *done, size_t ndone,
                     const double *const *pending, size_t npending, double *out, err_t *e) {
    return s->ops->suggest(s->state, index, done, ndone, pending, npending, out, e);
}

int strategy_should_stop(strategy *s, const strategy_curve *trial, const strategy_curve *all,
                         size_t nall) {
    return s->ops->should_stop ? s->ops->should_stop(s->state, trial, all, nall) : 0;
}

int strategy_exhausted(strategy *s, uint64_t index) {
    return s->ops->exhausted ? s->ops->exhausted(s->state, index) : 0;
}
