/* engine — runs tuning jobs.
 *
 * For every tuning job that is not final, the engine keeps at most
 * MaxParallelTrainingJobs training jobs running and at most
 * MaxNumberOfTrainingJobs in total, asks the job's strategy for each next
 * config, tails each training job's log for metrics, applies the clock
 * limit, and finishes the tuning job. It is driven by the loop: engine_tick()
 * runs on every tick and whenever something changed (loop_kick).
 *
 * Durability: every decision is written to the store before it acts
 * (a training job row before its launch, Stopping before a signal), so
 * engine_start() after a crash finds every job: running ones are watched
 * again, lost ones relaunched (RetriedAttempt + 1), finished ones recorded.
 * engine_free() leaves training jobs running; the next start adopts them. */
#ifndef OPENHPO_ENGINE_H
#define OPENHPO_ENGINE_H

#include <jansson.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "loop.h"
#include "request.h"
#include "store.h"

typedef struct engine engine;

typedef struct {
    loop *l;              /* borrowed */
    store *st;            /* borrowed */
    backend *be;          /* borrowed */
    const char *data_dir; /* training job directories go under DATA_DIR/jobs */
    const json_t *images; /* image catalog: URI -> "program" or ["program", args...]
                             (borrowed; may be NULL) */
    long grace;           /* seconds between SIGTERM and SIGKILL when stopping */
    int max_running;      /* training jobs running at once across all tuning jobs (a
                             machine's limit; MaxParallelTrainingJobs is per job); 0 = 64 */
} engine_config;

/* Caller frees with engine_free(). NULL with e set. */
engine *engine_new(const engine_config *cfg, err_t *e);
void engine_free(engine *en);

/* Loads every tuning job that is not final from the store and re-adopts its
 * training jobs. Call once, before the loop runs. */
int engine_start(engine *en, err_t *e);

/* The loop's tick: launches, tails logs, finalises. */
void engine_tick(engine *en);

/* Resolves a TrainingImage to the program to run: the image catalog entry,
 * or an absolute path / file:// URI of an executable. Returns a new JSON
 * array of argument strings (caller decrefs), or NULL with e set
 * (ERR_VALIDATION naming TrainingImage). */
json_t *engine_resolve_image(const engine *en, const char *image, err_t *e);

/* Checks that a typed request (borrowed) can run: its space, strategy,
 * metric regexes and image (messages name AlgorithmSpecification.
 * TrainingImage by r's API's path). Call before storing it, so bad input is
 * refused with nothing stored. 0 or an err_code with e set. */
int engine_check_tuning(const engine *en, const req_tuning *r, err_t *e);

/* Starts a tuning job just stored with status Created: sets it Running.
 * The row's request text (its original request, in row.api's words) is
 * re-parsed with request_parse_text(). A row of kind "training" (a
 * training job created on its own) runs as a one-trial job: its training
 * job takes the row's name, its hyperparameters are the request's
 * HyperParameters, and the row ends with the training job's own status.
 * Training jobs launched for a tuning job carry its tags. */
int engine_add_tuning(engine *en, int64_t tuning_id, err_t *e);

/* Stops a tuning job: status Stopping, then every running training job is
 * stopped; the job becomes Stopped when they have all ended. A job that is
 * already final is left as it is (returns 0). */
int engine_stop_tuning(engine *en, int64_t tuning_id, err_t *e);

/* Stops one running training job (StopTrainingJob): Stopping, then Stopped.
 * ERR_VALIDATION when it is not running. Within a tuning job, the tuning job
 * carries on with its other training jobs. */
int engine_stop_training(engine *en, int64_t training_id, err_t *e);

/* Number of training jobs running now (for /health and tests). */
int engine_running(const engine *en);

#endif
