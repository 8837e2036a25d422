/* strategy — how the next hyperparameters are chosen.
 *
 * A strategy proposes configs (see space.h) given what has finished and what
 * is still running. It is deterministic: the same seed, trial index and
 * history give the same suggestion, so a restarted daemon re-derives the
 * same choices. Strategies minimise: the engine negates Maximize objectives.
 *
 * New strategies add a strategy_ops row to the registry in strategy.c. */
#ifndef OPENHPO_STRATEGY_H
#define OPENHPO_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "space.h"

/* One finished trial. `cfg` has sp->n values (borrowed). `y` is the objective
 * to minimise, or NAN when the trial failed or reported no objective. */
typedef struct {
    const double *cfg;
    double y;
} strategy_obs;

typedef struct strategy_ops {
    const char *name; /* the API's Strategy value, e.g. "Bayesian" */
    /* Returns the strategy's private state, or NULL with `e` set. Borrows sp,
     * which outlives the state. */
    void *(*create)(const space *sp, uint64_t seed, err_t *e);
    /* Writes sp->n values to `out`. `index` is the number of trials already
     * proposed (0 for the first). `done` (ndone) and `pending` (npending
     * configs still running) are borrowed. Returns 0, or an err_code. */
    int (*suggest)(void *state, uint64_t index, const strategy_obs *done, size_t ndone,
                   const double *const *pending, size_t npending, double *out, err_t *e);
    void (*destroy)(void *state);
} strategy_ops;

typedef struct strategy strategy;

/* Looks `name` up in the registry ("Bayesian", "Random"). NULL if unknown. */
const strategy_ops *strategy_find(const char *name);

/* Creates strategy `name` over `sp` (borrowed; must outlive the strategy).
 * NULL with `e` set (ERR_VALIDATION for an unknown name). Caller frees with
 * strategy_free(). */
strategy *strategy_new(const char *name, const space *sp, uint64_t seed, err_t *e);
void strategy_free(strategy *s);
const char *strategy_name(const strategy *s);

/* See strategy_ops.suggest. */
int strategy_suggest(strategy *s, uint64_t index, const strategy_obs *done, size_t ndone,
                     const double *const *pending, size_t npending, double *out, err_t *e);

/* The registered strategies (strategy_random.c, strategy_bayes.c). */
extern const strategy_ops strategy_random_ops;
extern const strategy_ops strategy_bayes_ops;

#endif
