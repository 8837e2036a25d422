/* warmstart — WarmStartConfig of the current API: a tuning job that starts
 * from the finished training jobs of 1..5 parent tuning jobs.
 *
 * At Create (warmstart_resolve): each parent is looked up by name in the
 * caller's account only (another account's job is answered as an unknown
 * one), must be Completed, Stopped or Failed, a single-definition job, and
 * obey the spec's restrictions against the new request (warmstart_compare):
 * the same objective metric and type; the same number of hyperparameters,
 * static plus tunable, and the same names; a hyperparameter tunable on both
 * sides keeps its type (Continuous, Integer, Categorical), and one that
 * moves between static and tunable has a static value of the tunable one's
 * type; at most WARMSTART_MAX_CHANGES changes (a tunable hyperparameter made
 * static counts its categorical values, or 1 when numeric; a static value
 * changed counts 2); IdenticalDataAndAlgorithm also keeps the TrainingImage
 * and the input data (the same channels, each with the same S3Uri,
 * S3DataType and S3DataDistributionType). The parents' training jobs
 * together count toward WARMSTART_PRIOR_MAX. Every refusal is
 * ERR_VALIDATION naming the parent by its path and name. The parents' row
 * ids go into the new tuning job's row (store_tuning.parents), so the job
 * always reads the same parents, even once one is deleted (a tombstone keeps
 * its training jobs) and its name is taken again.
 *
 * Not recursive (as the spec says): a parent that is itself a warm start
 * job gives its own training jobs only, never its parents'.
 *
 * The prior (warmstart_prior_load, when the engine loads the job: at Create
 * and after every restart). Every finished training job of the parents
 * (Completed, Stopped, Failed; the parents in the request's order, each by
 * index) is read through the new job's tunable hyperparameters from its
 * hyperparameters as run (static and tuned alike). Its objective is its
 * final value when Completed or early-stopped with one, else NAN (a failure:
 * strategies avoid it); negated for a Maximize objective. A training job is
 * dropped when one of those hyperparameters is missing or outside the new
 * range (a number below MinValue or above MaxValue, not whole for an
 * Integer range, a value not among the categorical Values): a point the new
 * space does not contain, rather than one clamped to where it did not run.
 * The new job's static hyperparameters are not looked at (their changes are
 * what the limit of WARMSTART_MAX_CHANGES counts). Parents are final and
 * their training jobs too, so the prior is the same on every load, and so
 * are the strategy's suggestions.
 *
 * Which strategies use it: Bayesian (its GP takes the prior as data ahead of
 * the job's own trials, and each prior trial with an objective shortens its
 * initial Sobol' design by one: strategy_bayes.c). Random, Grid and
 * Hyperband ignore it. OverallBestTrainingJob (warmstart_overall_best) is
 * given for IdenticalDataAndAlgorithm, whatever the strategy.
 *
 * All functions run on the loop thread (they read the store). */
#ifndef OPENHPO_WARMSTART_H
#define OPENHPO_WARMSTART_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "request.h"
#include "space.h"
#include "store.h"
#include "strategy.h"

/* The spec's limit on changes of static hyperparameters (see above). */
#define WARMSTART_MAX_CHANGES 10
/* Most training jobs of all parents together (the spec counts them against
 * the training jobs of a tuning job; openhpo's own cap is the prior's). */
#define WARMSTART_PRIOR_MAX 10000

/* Checks r->parents against the store (see above) in r->account and
 * writes their row ids to ids[0..*nids) (room for STORE_MAX_PARENTS). 0
 * (also when r has no warm start: *nids = 0), ERR_VALIDATION naming the
 * parent, or a store err_code. */
int warmstart_resolve(store *st, const req_tuning *r, int64_t *ids, int *nids, err_t *e);

/* The restrictions between one parent's request and the new one, pure.
 * `who` names the parent in messages (e.g.
 * "WarmStartConfig.ParentHyperParameterTuningJobs[0] (tuning job p1)").
 * 0, or ERR_VALIDATION with e set. */
int warmstart_compare(const req_tuning *parent, const req_tuning *child, const char *who, err_t *e);

/* Reads one parent training job's hyperparameters `hp` (borrowed; strings)
 * as a config of `sp` into cfg (sp->n values): 0, or -1 when it is dropped
 * (a hyperparameter missing or outside its range; see above). */
int warmstart_map(const space *sp, const json_t *hp, double *cfg);

typedef struct warmstart_prior warmstart_prior;

/* The prior of a job whose parents are `parents` (n; row ids), over `sp`
 * (borrowed), its objective maximised when `maximize`. *out (caller frees
 * with warmstart_prior_free) is set, with no observations when n is 0.
 * 0, or a store err_code (ERR_INTERNAL out of memory) with e set. */
int warmstart_prior_load(store *st, const int64_t *parents, size_t n, const space *sp, int maximize,
                         warmstart_prior **out, err_t *e);
/* The observations (configs of sp), borrowed from p until it is freed; *n
 * their number. NULL with *n 0 for a NULL p. Also: how many training jobs
 * were dropped. */
const strategy_obs *warmstart_prior_obs(const warmstart_prior *p, size_t *n);
size_t warmstart_prior_dropped(const warmstart_prior *p);
void warmstart_prior_free(warmstart_prior *p);

/* OverallBestTrainingJob: the best training job (store_best_training's
 * rule) of tuning job `id` and of its parents (n); ties go to the job
 * itself, then to the parents in order. Fills *best (caller clears it) and
 * *owner (the row id of the tuning job it belongs to). 0, ERR_NOT_FOUND when
 * none has an objective, or a store err_code. */
int warmstart_overall_best(store *st, int64_t id, const int64_t *parents, size_t n, int maximize,
                           store_training *best, int64_t *owner);

/* WarmStartConfig as Describe echoes it ({ParentHyperParameterTuningJobs:
 * [{HyperParameterTuningJobName}], WarmStartType}), a new reference; NULL
 * when r has no warm start (or out of memory). */
json_t *warmstart_config_json(const req_tuning *r);

#endif
