/* strategy — how the next hyperparameters are chosen, and when a running
 * trial should stop.
 *
 * A strategy proposes configs (see space.h) given what has finished and what
 * is still running, may stop a running trial early from its intermediate
 * objective values (median stopping, Hyperband/ASHA), may say it has nothing
 * left to propose (Grid), and receives the finished trials of earlier tuning
 * jobs when created (warm start). It is deterministic: the same seed, prior,
 * trial index and history give the same suggestion, so a restarted daemon
 * re-derives the same choices. Strategies minimise: the engine negates
 * Maximize objectives (prior and intermediate values included).
 *
 * Threads. suggest() may run on the engine's worker thread (worker.h); the
 * engine never runs two suggest() calls of one strategy at once, and never
 * frees a strategy while its suggest() runs. should_stop() and exhausted()
 * run on the loop thread and may run WHILE a suggest() of the same strategy
 * runs on the worker: they must only read state that is immutable after
 * create() (a strategy may keep caches or scratch space that suggest()
 * mutates, as long as should_stop() and exhausted() never touch them). The
 * wrappers below add no locking. What suggest() borrows (`done`, their
 * configs, `pending`, `out`) must stay unchanged until it returns: run on
 * the worker, it gets a snapshot the loop does not touch meanwhile (the
 * space is immutable, and outlives the strategy).
 *
 * Adding a strategy is one file plus one registration line: write
 * src/strategy_NAME.c defining `const strategy_ops strategy_NAME_ops` (the
 * Makefile builds every .c file of src/ into the library), and add
 * X(strategy_NAME_ops) to STRATEGY_REGISTRY in strategy.c. Nothing else names
 * a strategy's ops. (The API's validation of the Strategy value is in
 * request.h's table, which already lists Bayesian, Random, Hyperband, Grid.) */
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

/* One trial's intermediate objective values (minimised), in step order.
 * All arrays borrowed for the call: cfg has sp->n values, step and y have n.
 * `finished` is 1 when the trial has ended (its curve is complete). */
typedef struct {
    const double *cfg;
    const int64_t *step;
    const double *y;
    size_t n;
    int finished;
} strategy_curve;

struct strategy_opts; /* below */

typedef struct strategy_ops {
    const char *name; /* the API's Strategy value, e.g. "Bayesian" */
    /* Returns the strategy's private state, or NULL with `e` set. Borrows sp,
     * which outlives the state. `prior` (nprior; NULL when 0) are the
     * finished trials of earlier tuning jobs (warm start), configs of this
     * `sp`, borrowed for the call only: a strategy that uses them copies
     * them. A strategy may ignore them. */
    void *(*create)(const space *sp, uint64_t seed, const strategy_obs *prior, size_t nprior,
                    err_t *e);
    /* Writes sp->n values to `out`. `index` is the number of trials already
     * proposed in this tuning job (0 for the first). `done` (ndone, this
     * job's finished trials in the order they finished) and `pending`
     * (npending configs still running) are borrowed. Returns 0, or an
     * err_code. May run on the worker thread (see Threads above). */
    int (*suggest)(void *state, uint64_t index, const strategy_obs *done, size_t ndone,
                   const double *const *pending, size_t npending, double *out, err_t *e);
    /* Optional (NULL = never stop). Returns 1 to stop the running `trial`
     * now, 0 to let it run. `all` (nall) are the curves of every trial of
     * the job, running and finished (they include `trial`). Runs on the
     * loop; reads only state immutable after create(). */
    int (*should_stop)(void *state, const strategy_curve *trial, const strategy_curve *all,
                       size_t nall);
    /* Optional (NULL = never exhausted). Returns 1 when no config is left
     * to propose at `index` (the engine then launches nothing more and ends
     * the job once the running trials finish), 0 otherwise. Runs on the
     * loop; reads only state immutable after create(). */
    int (*exhausted)(void *state, uint64_t index);
    void (*destroy)(void *state); /* accepts NULL */
    /* Optional (NULL = takes no options). Called once by strategy_configure()
     * right after create(), before any other call: reads `o` (borrowed for
     * the call). Returns 0, or an err_code with `e` set (ERR_VALIDATION for
     * options the strategy cannot run with). State it sets counts as set by
     * create() for the Threads rule above. */
    int (*configure)(void *state, const struct strategy_opts *o, err_t *e);
    /* Optional (NULL = the finished trial with the lowest objective). The
     * index into `done` (ndone, borrowed, as suggest()'s) of the finished
     * trial the strategy believes best: for a model-based strategy the one
     * with the lowest posterior mean, so a lucky draw of a noisy objective
     * is not taken for the best config. Writes it to *best. Returns 0, or
     * an err_code (ERR_NOT_FOUND when no trial has an objective). Like
     * suggest(), may mutate scratch space: never concurrently with it. The
     * engine does not call it (the API's best training job stays the best
     * observed); benchmarks and tools do. */
    int (*incumbent)(void *state, const strategy_obs *done, size_t ndone, size_t *best, err_t *e);
} strategy_ops;

/* The request's options for its strategy (the current API's StrategyConfig
 * and TrainingJobEarlyStoppingType). Zero = none given. */
typedef struct strategy_opts {
    /* Hyperband: resource units are emissions of the objective metric (an
     * emission count, the step of a curve). min: never stopped before it
     * (0 = 1); max: stopped once past it (required by Hyperband). */
    int64_t min_resource, max_resource;
    /* TrainingJobEarlyStoppingType Auto: the median rule (below) stops
     * trials, whatever the strategy (strategy_should_stop applies it after
     * the strategy's own should_stop). */
    int early_stopping;
} strategy_opts;

/* ---- Grid (strategy_grid.c) ---- */
/* Most combinations a Grid runs (the product of the categorical ranges'
 * value counts); over it, a ValidationError. */
#define STRATEGY_GRID_MAX 10000

/* ---- Hyperband (strategy_hyperband.c): asynchronous successive halving ----
 * Reduction factor eta: a trial past a rung (and not yet at the next)
 * continues only while its value there is within the best 1/eta of the
 * values every trial has at that rung. */
#define STRATEGY_HB_ETA 3
#define STRATEGY_HB_MAX_RESOURCE 20000 /* the API's cap of MaxResource */
#define STRATEGY_HB_MAX_BRACKETS 8     /* brackets of successive halving */

/* ---- the median rule (TrainingJobEarlyStoppingType Auto) ----
 * A running trial whose value at its latest step s (s >= START_STEP) is
 * worse (greater: minimised) than the median of the running averages up to
 * s of the finished trials (at least MIN_JOBS of them with a value at or
 * before s) is stopped. */
#define STRATEGY_MEDIAN_MIN_JOBS 3
#define STRATEGY_MEDIAN_START_STEP 4
/* The rule alone (what strategy_should_stop applies with early_stopping):
 * 1 = stop `trial`, 0 = let it run. `all` (nall) as should_stop's. */
int strategy_median_stop(const strategy_curve *trial, const strategy_curve *all, size_t nall);

typedef struct strategy strategy;

/* Looks `name` up in the registry. NULL if unknown. */
const strategy_ops *strategy_find(const char *name);
/* The registry's i-th strategy, or NULL when i is past its end. */
const strategy_ops *strategy_at(size_t i);

/* Creates strategy `name` over `sp` (borrowed; must outlive the strategy),
 * with `prior` (nprior; borrowed for the call) as warm-start history. NULL
 * with `e` set (ERR_VALIDATION for an unknown name). Caller frees with
 * strategy_free(). */
strategy *strategy_new(const char *name, const space *sp, uint64_t seed, const strategy_obs *prior,
                       size_t nprior, err_t *e);
/* The same with `ops` given directly, outside the registry (tests: a fake
 * strategy defined in the test). */
strategy *strategy_from_ops(const strategy_ops *ops, const space *sp, uint64_t seed,
                            const strategy_obs *prior, size_t nprior, err_t *e);
void strategy_free(strategy *s);
/* Gives the strategy the request's options (call once, right after
 * strategy_new(); before it, a strategy runs as with all options zero).
 * Keeps o->early_stopping for strategy_should_stop; passes `o` to the
 * strategy's configure(). 0, or an err_code with `e` set (ERR_VALIDATION:
 * Hyperband without a MaxResource, say). */
int strategy_configure(strategy *s, const strategy_opts *o, err_t *e);
const char *strategy_name(const strategy *s);

/* See strategy_ops.suggest. */
int strategy_suggest(strategy *s, uint64_t index, const strategy_obs *done, size_t ndone,
                     const double *const *pending, size_t npending, double *out, err_t *e);
/* See strategy_ops.should_stop (0 when the strategy has none), or-ed with
 * the median rule when configured with early_stopping. */
int strategy_should_stop(strategy *s, const strategy_curve *trial, const strategy_curve *all,
                         size_t nall);
/* See strategy_ops.incumbent; without one, the finished trial with the
 * lowest objective (the first of ties). */
int strategy_incumbent(strategy *s, const strategy_obs *done, size_t ndone, size_t *best, err_t *e);
/* See strategy_ops.exhausted; 0 when the strategy has none. */
int strategy_exhausted(strategy *s, uint64_t index);
/* The number of configs a strategy can propose, or 0 when unbounded (Grid:
 * its combinations). Works without a strategy: from the space alone. For
 * Grid over `sp`: the product of value counts (categorical ranges only),
 * or 0 with `e` set (ERR_VALIDATION naming the first non-categorical
 * parameter, or over STRATEGY_GRID_MAX). */
uint64_t strategy_grid_size(const space *sp, err_t *e);

#endif
