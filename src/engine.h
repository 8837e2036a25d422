/* engine — schedules tuning jobs.
 *
 * For every tuning job that is not final, the engine keeps at most
 * MaxParallelTrainingJobs training jobs running and at most
 * MaxNumberOfTrainingJobs in total, within the machine's cap
 * (engine_config.max_running, across all tuning jobs); asks the job's
 * strategy for each next config (on the worker thread when there is one;
 * the answer is applied on the loop), lets the strategy stop a running
 * trial from its intermediate objective values and end the search when it
 * is exhausted, applies the clock limit, and finishes the tuning job. A
 * tuning job with TrainingJobDefinitions has a search per definition (its
 * own space, strategy, metrics, image, backend and history); each new
 * training job runs the definition with the fewest jobs among those not
 * exhausted (round-robin otherwise), named in its row. One
 * training job's lifecycle is trial.c's; reading its log is ingest.c's;
 * TrainingImage resolution is image.c's; the failure-reason rule is
 * contract.c's. It is driven by the loop: engine_tick() runs on every tick
 * and whenever something changed (loop_kick).
 *
 * Durability: the store is the truth. Every decision is written to the
 * store before it acts (a training job row before its launch, Stopping
 * before a signal). A tick is one store group (store_begin/commit); when a
 * write or the commit fails, the engine drops its in-memory tuning jobs
 * and re-adopts them from the store on the next tick — nothing finished is
 * run again, nothing is left InProgress once the fault clears. A busy
 * store (ERR_UNAVAILABLE) skips the tick. engine_start() after a crash
 * finds every job: running ones are watched again, lost ones relaunched
 * (RetriedAttempt + 1), ended ones finalised once their log is consumed
 * (a bounded slice per tick). engine_free() leaves training jobs running;
 * the next start adopts them. A launch still on the worker at
 * engine_free() finishes there and is dropped when the worker answers: a
 * job it started is adopted by the next start through its job directory
 * (its row is InProgress, without a handle), one it never started is
 * relaunched. */
#ifndef OPENHPO_ENGINE_H
#define OPENHPO_ENGINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "err.h"
#include "loop.h"
#include "request.h"
#include "store.h"
#include "worker.h"

#define ENGINE_DEFAULT_MAX_RUNNING 64 /* engine_config.max_running when 0 */
#define ENGINE_NAME_TRIES 10          /* names tried for a training job: NAME, NAME-2 ... NAME-10 */
#define ENGINE_HIST_CURVE_MAX 256     /* objective values kept per finished trial */

typedef struct engine engine;

typedef struct {
    loop *l;                     /* borrowed */
    store *st;                   /* borrowed */
    backend *const *backends;    /* borrowed; the image catalog names one per image */
    size_t nbackends;            /* ("local" for paths and the catalog's short forms) */
    worker *wk;                  /* suggestions and launches (job directory, backend_start) run
                                    on it; NULL = inline (tests). Borrowed: free the engine
                                    first, then the worker (which ends what is in flight) */
    worker *dl;                  /* s3:// channel downloads (trial_env.dl), or NULL */
    const char *data_dir;        /* training job directories go under DATA_DIR/jobs */
    const json_t *images;        /* image catalog (see image.h); borrowed, may be NULL */
    const struct tenant *tenant; /* the tenancy policy (tenant.h): what a request may use,
                                    as whom its jobs run; borrowed; NULL = one-user mode
                                    without limits (jobs run as the daemon's user) */
    long grace;                  /* seconds between SIGTERM and SIGKILL when stopping */
    const char *region;          /* the region of ARNs (TRAINING_JOB_ARN); NULL =
                                    CONTRACT_DEFAULT_REGION */
    int max_running;             /* training jobs running at once across all tuning jobs (a
                                    machine's limit; MaxParallelTrainingJobs is per job); 0 =
                                    ENGINE_DEFAULT_MAX_RUNNING */
    double (*now)(void *ud);     /* the clock, epoch seconds; NULL = util_now */
    void *now_ud;
    const struct strategy_ops *strategy; /* tests: every tuning job uses these ops instead of
                                            its request's Strategy; NULL = the request's */
} engine_config;

/* Caller frees with engine_free(). NULL with e set. */
engine *engine_new(const engine_config *cfg, err_t *e);
void engine_free(engine *en);

/* Loads every tuning job that is not final from the store and re-adopts its
 * training jobs. Call once, before the loop runs. */
int engine_start(engine *en, err_t *e);

/* The loop's tick: launches, reads logs, finalises. */
void engine_tick(engine *en);

/* Checks that a request can run: its space, strategy, metric regexes, the
 * tenancy policy for r->account (tenant_check_request: its Environment,
 * URIs and Unix user), and its image (resolvable under the policy, with a
 * backend this daemon has; messages name
 * AlgorithmSpecification.TrainingImage in r->api's path). Call before
 * storing it, so bad input is refused with nothing stored. 0 or an
 * err_code with e set. */
int engine_check_tuning(const engine *en, const req_tuning *r, err_t *e);

/* Starts a tuning job just stored with status Created: sets it Running.
 * A row of kind "training" (a training job created on its own) runs as a
 * one-trial job: its training job takes the row's name and its
 * HyperParameters, and the row ends with the training job's own status.
 * The row's request text is parsed with request_parse_text (the engine
 * never reads wire JSON otherwise). The tuning job's tags are copied to
 * each training job it launches. */
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

/* The machine's cap on running training jobs (engine_config.max_running,
 * or its default). */
int engine_max_running(const engine *en);
/* Calls cb for every training job the engine holds (not final): its
 * backend's name and its status's stored text, both static. For the
 * metrics (telemetry.h). */
void engine_each_trial(const engine *en, void (*cb)(void *ud, const char *be, const char *status),
                       void *ud);

/* Reads training job `row`'s log (borrowed) from byte `offset` through the
 * backend that runs it (the backend owns the log stream): at most n bytes
 * into buf. The backend is that of the job's tuning job in memory, else the
 * one its stored request's TrainingImage names, else the local backend.
 * Returns the bytes read (0 at the end, or before the job has a log), or -1
 * when it cannot be read. */
ssize_t engine_read_log(engine *en, const store_training *row, int64_t offset, char *buf, size_t n);

/* Number of tuning jobs in memory (not final), for tests. */
int engine_tunings(const engine *en);

#endif
