/* completion — the tests of a tuning job's TuningJobCompletionCriteria,
 * as pure functions over the objective values of its finished training
 * jobs (the engine calls them; nothing here reads the clock or the store).
 *
 * Input: the objective values, *minimised* (the engine negates a Maximize
 * objective), of the training jobs that ended with one (Completed, or
 * stopped early with a value kept), in the order they finished. Jobs that
 * failed, or were stopped without a value, are not in it: they neither
 * improve nor fail to improve the objective.
 *
 * BestObjectiveNotImproving (the API: "training jobs that have failed to
 * improve model performance by 1% or greater over prior training jobs"):
 * a reference value is the first job's; a later job improves when it is
 * better than the reference by at least COMPLETION_IMPROVE_FRACTION of the
 * reference's magnitude (by any amount when the reference is 0), and then
 * becomes the reference; every other job adds one to the count, an
 * improving one resets it to 0. The count is Describe's
 * NumberOfTrainingJobsObjectiveNotImproving; the job completes when it
 * reaches MaxNumberOfTrainingJobsNotImproving.
 *
 * ConvergenceDetected (openhpo's own test; SageMaker documents only "a lack
 * of significant improvement (1% or less)"): with a window of
 * W = max(COMPLETION_CONV_MIN_WINDOW, ceil(COMPLETION_CONV_WINDOW_FRACTION x
 * MaxNumberOfTrainingJobs)) jobs, the search has converged when at least 2W
 * values are in, and the best value of all of them is better than the best
 * of all but the last W by at most COMPLETION_CONV_EPSILON of the spread of
 * the values seen (max - min): the last W jobs (a fifth of the budget, at
 * least 5) moved the best by no more than 1% of the objective's observed
 * range. Scale-free (no use of the objective's magnitude, so an optimum near
 * 0 is no special case), and never before 2W jobs have ended.
 *
 * TargetObjectiveMetricValue: reached when the best value is at least as
 * good as the target (direction-aware through the minimised values). */
#ifndef OPENHPO_COMPLETION_H
#define OPENHPO_COMPLETION_H

#include <stddef.h>

#define COMPLETION_IMPROVE_FRACTION 0.01    /* BestObjectiveNotImproving: "by 1% or greater" */
#define COMPLETION_CONV_MIN_WINDOW 5        /* convergence window, at least (jobs) */
#define COMPLETION_CONV_WINDOW_FRACTION 0.2 /* ... else this share of MaxNumberOfTrainingJobs */
#define COMPLETION_CONV_EPSILON 0.01        /* of the observed spread */

/* Which criterion ended the search (the first met, in this order). */
typedef enum {
    COMPLETION_NONE,
    COMPLETION_TARGET,        /* TargetObjectiveMetricValue reached */
    COMPLETION_NOT_IMPROVING, /* BestObjectiveNotImproving */
    COMPLETION_CONVERGED      /* ConvergenceDetected (CompleteOnConvergence Enabled) */
} completion_reason;

/* The criteria of a tuning job (from its request). */
typedef struct {
    int has_target;
    double target_min;     /* the target, minimised (negated for Maximize) */
    int max_not_improving; /* 0 = not given */
    int on_convergence;    /* CompleteOnConvergence Enabled */
    int max_jobs;          /* MaxNumberOfTrainingJobs (the window's scale) */
} completion_criteria;

typedef struct {
    int not_improving; /* NumberOfTrainingJobsObjectiveNotImproving */
    int converged;     /* the convergence test holds (whether or not it ends the job) */
    completion_reason met;
} completion_result;

/* The count of BestObjectiveNotImproving over y[0..n). */
int completion_not_improving(const double *y, size_t n);
/* The convergence window W for a budget of max_jobs. */
size_t completion_window(int max_jobs);
/* The convergence test over y[0..n) (1 or 0). */
int completion_converged(const double *y, size_t n, int max_jobs);
/* All of it: the details, and the criterion met (if any). */
completion_result completion_eval(const completion_criteria *c, const double *y, size_t n);

#endif
