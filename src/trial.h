/* trial — one training job's lifecycle, inside a tuning job.
 *
 *   NEW ──launch──▶ STARTING ──started──▶ RUNNING ──on_exit──▶ ENDED ──log consumed──▶ FINAL
 *    ▲                                                          │
 *    └──── infrastructure failure: relaunch (RetriedAttempt + 1) ◀────┘
 *          (at most RetryStrategy.MaximumRetryAttempts, else TRIAL_MAX_RETRIES)
 *          (never started — the daemon died before the start: relaunch, no retry spent)
 *
 * NEW: its row is in the store (status InProgress, no handle). trial_tick
 * makes the row durable (store_sync: write-ahead) and hands the slow part
 * of the launch — the job directory's preparation (contract.c) and
 * backend_start — to the worker (trial_env.wk), which touches neither the
 * store nor the loop: STARTING. The trial counts as running meanwhile
 * (slots, the machine's cap) and does nothing else. The worker's answer is
 * applied on the loop: the handle is kept, the backend asked to watch the
 * job, a stop asked for meanwhile delivered at once (RUNNING); a start that
 * failed (exec failure included) finishes the job Failed with the reason on
 * the next tick; a launch the worker cancelled (it was freed first) is NEW
 * again. Without a worker (wk NULL: the deterministic tests) the launch
 * runs inline, in the tick. RUNNING: the handle's record
 * (store_training_launched and the Training transition) is written in the
 * next tick's store group and retried on every tick until it is stored —
 * a failure there never fails the running job; the backend is asked to
 * watch it until it can; its log is ingested a slice per tick; a stop
 * asked for (at any time, before the launch included) is delivered as soon
 * as there is something to stop. ENDED: the log is read to its end, a
 * slice per tick, then the outcome is decided (the backend's result and
 * contract.c's failure-reason rule) and stored: FINAL. Every status change
 * goes through trial_move(), which refuses what status.h's table does not
 * allow (a logged bug, nothing stored).
 *
 * Store results: any store failure makes trial_tick return TRIAL_FAULT; the
 * engine then drops its in-memory state and re-adopts from the store (the
 * store is the truth). A trial never acts outside the daemon (launch,
 * signal) on a decision that is not durable. */
#ifndef OPENHPO_TRIAL_H
#define OPENHPO_TRIAL_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "image.h"
#include "loop.h"
#include "metrics.h"
#include "request.h"
#include "status.h"
#include "store.h"
#include "worker.h"

#define TRIAL_MAX_RETRIES 2    /* relaunches after infrastructure failures without RetryStrategy */
#define TRIAL_MAX_UNSTARTED 10 /* relaunches, by one daemon, of a job that never started */
#define TRIAL_RECHECK_SECONDS 10  /* a watched job's end is also asked for this often */
#define TRIAL_RESULT_WAIT_WARN 30 /* seconds an ended job may lack a result before a warning */

/* Why a stop was asked (stored as training_jobs.stop_requested). */
#define TRIAL_STOP_USER 1  /* StopTuningJob / StopTrainingJob */
#define TRIAL_STOP_CLOCK 2 /* the tuning job's clock limit, or a completion criterion met */
#define TRIAL_STOP_EARLY 3 /* the strategy stopped it (its last objective counts) */

/* What every trial shares (borrowed; outlives the trials). */
typedef struct {
    store *st;
    loop *l;
    double (*now)(void *ud);
    void *now_ud;
    long grace;
    worker *wk;                  /* launches run on it; NULL = inline (in the tick) */
    const struct tenant *tenant; /* the policy (tenant.h), checked again at each launch, and
                                    the job's Unix user; NULL = as the daemon's user */
    worker *dl;                  /* s3:// downloads (channels.h) run on it before the launch
                                    goes to wk, so they never hold up suggestions; NULL =
                                    inside the launch, on wk */
    const char *region; /* for the job's TRAINING_JOB_ARN; NULL = CONTRACT_DEFAULT_REGION */
} trial_env;

/* The tuning job's settings a trial runs with (borrowed; outlive it, and
 * any launch of it still on the worker: `ref` (may be NULL when they
 * outlive every launch anyway) is called with +1 when a launch is handed to
 * the worker and with -1 when its answer has been applied or dropped, on
 * the loop thread, so the owner can keep r, img and be alive for a launch
 * that outlives trial_free()). */
typedef struct {
    const req_tuning *r;     /* its definition `def` is run */
    size_t def;              /* index in r->defs (TrainingJobDefinitions), 0 for one */
    const image_spec *img;   /* program, resolved */
    backend *be;             /* the backend that runs it */
    const metrics_set *ms;   /* metric definitions (may be NULL) */
    int objective;           /* index of the objective in ms, or -1 */
    int solo;                /* a training job created on its own */
    const char *tuning_name; /* for log lines */
    void (*ref)(void *ud, int delta);
    void *ref_ud;
} trial_job;

typedef enum { TRIAL_NEW, TRIAL_STARTING, TRIAL_RUNNING, TRIAL_ENDED, TRIAL_FINAL } trial_phase;

typedef enum {
    TRIAL_ACTIVE, /* still running (or waiting for its log to be consumed) */
    TRIAL_DONE,   /* final now: see trial_outcome */
    TRIAL_FAULT   /* a store write failed: reload from the store */
} trial_step;

typedef struct trial trial;

/* A trial for a row of the store (borrowed for the call): a row just
 * inserted (`fresh`: NEW, launched on its first tick) or one found at
 * start (re-adopted: its handle, or "" when none was recorded, is given to
 * the backend on the first tick; a job the backend cannot find is lost and
 * relaunched). `cfg` (sp_n values) is the config it runs. `count0`:
 * objective values already stored (see ingest_new). NULL on allocation
 * failure. Caller frees with trial_free(),
 * which leaves the job running (the next daemon adopts it). A launch still
 * on the worker is left to finish there: its answer is then dropped (and
 * `job.ref` released); a job it started runs on with no handle recorded,
 * its row InProgress, and is adopted through its job directory by the next
 * engine to load the row (or relaunched as lost when it never started). */
trial *trial_new(const trial_env *env, const trial_job *job, const store_training *row,
                 const double *cfg, size_t sp_n, int64_t count0, int fresh);
void trial_free(trial *t);

/* Advances the trial by one tick (see above). */
trial_step trial_tick(trial *t);

/* The retry rule, in one place: whether a job that ended in `bs` with
 * result `r` failed for the platform's sake — an infrastructure failure,
 * retried — rather than its program's. BACKEND_LOST (the runner vanished:
 * killed, the node gone) is one (a job that never started is relaunched
 * without spending a retry before this is asked, up to TRIAL_MAX_UNSTARTED
 * times; past that it counts as one too); so is
 * an exit a backend marks r->infrastructure (a container engine, S3 or node
 * failure). A program that exits non-zero, is killed by a signal of its
 * own, times out or is stopped is not. */
int trial_infrastructure_failure(backend_state bs, const backend_result *r);

/* How many relaunches a training job of definition `d` gets after
 * infrastructure failures: RetryStrategy.MaximumRetryAttempts (1..30) when
 * given, else TRIAL_MAX_RETRIES. (SageMaker retries a tuning job's training
 * jobs that fail with an internal error on its own; openhpo keeps that
 * default.) Its StoppingCondition.MaxRuntimeInSeconds covers all attempts:
 * a relaunch runs for what is left of it, counted from the first start. */
int trial_max_retries(const req_training_def *d);

/* Asks the trial to stop (why: TRIAL_STOP_*). The request is stored
 * (Stopping) and the signal sent once the store has it; a trial not yet
 * launched is then never launched; one STARTING is signalled as soon as its
 * handle is known. 0, or the store's err_code (the stop is
 * then not recorded: retry). A trial already stopping or final: 0. */
int trial_stop(trial *t, int why);

/* Moves the trial's status, if status.h allows it: writes it (with its
 * secondary status) to the store. Returns 0, -1 for an illegal move (logged,
 * nothing stored), or the store's err_code. */
int trial_move(trial *t, training_status to, const char *secondary);

int64_t trial_id(const trial *t);
const char *trial_name(const trial *t);
trial_phase trial_phase_of(const trial *t);
int trial_stop_requested(const trial *t);
const double *trial_cfg(const trial *t);
/* The index of the definition it runs (trial_job.def). */
size_t trial_def(const trial *t);
/* The objective's curve so far, for the strategy (values as printed). */
size_t trial_curve(const trial *t, const int64_t **step, const double **y);
/* An adopted trial's stored curve, point by point in step order, before its
 * first tick (ingest_resume_point): a store_each_point callback, ud = the
 * trial. */
void trial_curve_resume(void *ud, int64_t step, double v);

/* A final trial's outcome: its status, and its objective (1 and *v set when
 * it has one that counts for the strategy). */
training_status trial_status(const trial *t);
int trial_outcome(const trial *t, double *v);

#endif
