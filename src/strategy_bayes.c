/* Bayesian strategy — placeholder until the GP optimiser lands (issue 3):
 * it runs only an initial space-filling design, for now the random design of
 * strategy_random.c. */
#include "strategy.h"

static void *bayes_create(const space *sp, uint64_t seed, err_t *e) {
    return strategy_random_ops.create(sp, seed, e);
}

static int bayes_suggest(void *state, uint64_t index, const strategy_obs *done, size_t ndone,
                         const double *const *pending, size_t npending, double *out, err_t *e) {
    return strategy_random_ops.suggest(state, index, done, ndone, pending, npending, out, e);
}

static void bayes_destroy(void *state) {
    strategy_random_ops.destroy(state);
}

const strategy_ops strategy_bayes_ops = {"Bayesian", bayes_create, bayes_suggest, bayes_destroy};
