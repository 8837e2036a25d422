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
} strategy_ops;

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
const char *strategy_name(const strategy *s);

/* See strategy_ops.suggest. */
int strategy_suggest(strategy *s, uint64_t index, const strategy_obs *done, size_t ndone,
                     const double *const *pending, size_t npending, double *out, err_t *e);
/* See strategy_ops.should_stop; 0 when the strategy has none. */
int strategy_should_stop(strategy *s, const strategy_curve *trial, const strategy_curve *all,
                         size_t nall);
/* See strategy_ops.exhausted; 0 when the strategy has none. */
int strategy_exhausted(strategy *s, uint64_t index);

#endif
