/* store — all durable state, in SQLite (WAL) under the data dir.
 *
 * Every state change is a committed transaction before it takes effect
 * outside the daemon: a training job row exists before its process is
 * spawned, a Stopping status before a signal is sent. The schema is
 * versioned (PRAGMA user_version) and migrated forward on open.
 *
 * Rows are plain structs with fixed-size fields; the few variable-size ones
 * (JSON documents) are heap strings released by the matching _clear(). All
 * functions return 0 or an err_code and run on the loop thread only:
 *   ERR_NOT_FOUND   no such row;
 *   ERR_IN_USE      a name (compared case-insensitively) is taken;
 *   ERR_UNAVAILABLE the database is locked by another connection (SQLite's
 *                   SQLITE_BUSY / SQLITE_LOCKED after STORE_BUSY_TIMEOUT_MS):
 *                   nothing was written; retry later (next tick, or answer
 *                   ServiceUnavailable);
 *   ERR_INTERNAL    anything else (I/O error, disk full, ...).
 * Every result must be checked (STORE_MUST_CHECK).
 *
 * Names of tuning jobs (per kind) and of training jobs are unique within an
 * account case-insensitively (ASCII), and looked up case-insensitively; the
 * name keeps the case it was created with.
 *
 * One process at a time: store_open takes an exclusive lock (flock) on
 * DIR/openhpo.lock, holding the owner's pid, until store_close. */
#ifndef OPENHPO_STORE_H
#define OPENHPO_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct store store;

/* Every store function's result is to be checked. */
#define STORE_MUST_CHECK __attribute__((warn_unused_result))

/* How long a statement waits for another connection's lock before it fails
 * with ERR_UNAVAILABLE: short, so that the loop never stalls on it. */
#define STORE_BUSY_TIMEOUT_MS 5
/* The wait while opening (migrations run before the loop starts). */
#define STORE_OPEN_BUSY_TIMEOUT_MS 5000
/* How much of the database file SQLite maps into memory for reading. */
#define STORE_MMAP_BYTES (1LL << 30)
/* Most statuses a store_list_query may name. */
#define STORE_LIST_MAX_STATUSES 16
/* Longest name_contains of a store_list_query, in bytes. */
#define STORE_LIST_MAX_CONTAINS 256

#define STORE_NAME_MAX 64
#define STORE_REASON_MAX 1025   /* FailureReason: 1024 characters + NUL */
#define STORE_DEFINITION_MAX 65 /* DefinitionName: 64 characters + NUL */
/* How the FailureReason of a training job that failed for the platform's
 * sake (a lost runner, a container engine / S3 / node failure, a result
 * that could not be written) begins; a program's own failures are
 * "AlgorithmError: ..." or "ClientError: ...". */
#define STORE_INTERNAL_PREFIX "InternalServerError"
/* The kind of a deleted tuning job's tombstone: this prefix and its id. */
#define STORE_DELETED_KIND "deleted:"
/* Most warm-start parents kept with a tuning job (WarmStartConfig's 5). */
#define STORE_MAX_PARENTS 5

typedef struct {
    int64_t id;
    char account[16];
    char name[STORE_NAME_MAX];
    char arn[256];
    char kind[16];   /* "tuning", or "training": the one-trial wrapper of a training job
                        created on its own (CreateTrainingJob); "" means tuning */
    char status[24]; /* Created|Running|Completed|Failed|Stopping|Stopped */
    int api;         /* api_flavor that created it */
    char *request;   /* normalised CreateTuningJob request, JSON text (owned) */
    char strategy[24];
    uint64_t seed;
    char objective_metric[256];
    char objective_type[16]; /* Maximize|Minimize */
    int max_jobs, max_parallel;
    int64_t max_seconds;            /* tuning clock limit */
    double created, started, ended; /* epoch seconds; 0 = unset */
    char failure_reason[STORE_REASON_MAX];
    int not_improving; /* TuningJobCompletionDetails.NumberOfTrainingJobsObjectiveNotImproving */
    double converged;  /* ConvergenceDetectedTime, 0 = not detected */
    /* The warm-start parents (WarmStartConfig), by row id, in the order the
     * request names them: resolved once at Create, so a parent deleted since
     * (a tombstone) or a new job of its name changes nothing (schema 7). */
    int64_t parents[STORE_MAX_PARENTS];
    int nparents;
} store_tuning;

typedef struct {
    int64_t id;
    int64_t tuning_id; /* 0 for a standalone training job */
    char account[16];
    char name[STORE_NAME_MAX];
    int idx;               /* trial index within the tuning job, 0-based */
    char status[16];       /* InProgress|Completed|Failed|Stopping|Stopped */
    char secondary[32];    /* Starting|Training|Completed|Failed|Stopping|Stopped|
                              MaxRuntimeExceeded */
    char *hyperparameters; /* all hyperparameters (static + tuned), JSON text (owned) */
    char *tuned;           /* tuned hyperparameters only, JSON text (owned) */
    int retried;           /* RetriedAttempt */
    char strategy[24];     /* provenance: strategy and seed that proposed it */
    uint64_t seed;
    double created, started, ended;
    char failure_reason[STORE_REASON_MAX];
    int has_objective;
    double objective;
    char handle[128]; /* backend handle (local: "pid:starttime"), "" before launch */
    char job_dir[1024];
    int64_t log_offset;         /* bytes of the log already scanned for metrics */
    int stop_requested;         /* 1 = stop asked (StopTuningJob), 2 = tuning clock limit */
    char model_artifacts[1100]; /* URI of model.tar.gz, or "" */
    char definition[STORE_DEFINITION_MAX]; /* DefinitionName of the definition it ran (one of
                                              TrainingJobDefinitions), or "" */
} store_training;

typedef struct {
    int completed, failed, stopped, in_progress, stopping, pending;
    int objective_succeeded; /* Completed with an objective value */
    int failed_internal;     /* Failed for the platform's sake (reason STORE_INTERNAL_PREFIX...):
                                the API's RetryableError; the other failed ones are
                                NonRetryableError */
    int total;
    double finished_seconds; /* sum of (ended - started) of finished jobs */
    double inflight_seconds; /* sum of (now - started) of running jobs */
} store_counts;

typedef struct {
    const char *name;
    double ts;
    double value;
} store_point;

/* Opens (creating when absent) DIR/openhpo.db, migrating its schema, and
 * locks DIR (DIR/openhpo.lock). Caller frees with store_close(). NULL on
 * error, with e set; e->msg is "another hpod (pid N) is using DIR" when DIR
 * is locked by another process (or another store of this one). */
STORE_MUST_CHECK store *store_open(const char *dir, err_t *e);
/* Closes the database and releases the lock. Accepts NULL. */
void store_close(store *s);

/* A 32-byte secret made at first open and kept in the database (for
 * tamper-checking pagination tokens). Borrowed; valid until store_close. */
STORE_MUST_CHECK const unsigned char *store_secret(const store *s);

/* Groups the writes that follow into one transaction (one fsync) until the
 * matching store_commit(). Calls nest; only the outermost commit writes.
 * store_sync() commits what is grouped so far and keeps grouping: call it
 * before acting outside the daemon (spawning, signalling) so that the
 * decision is durable first.
 *
 * A group is all or nothing. When its transaction cannot begin (another
 * connection holds the write lock: ERR_UNAVAILABLE), or a write in it fails
 * for the storage's sake (disk full, I/O error), or its COMMIT fails, the
 * group is rolled back and "poisoned": until the outermost store_commit()
 * every write returns that error without writing, store_sync() returns it,
 * and the outermost store_commit() returns it and ends the group (the
 * nesting is kept right: every begin still needs its commit). Reads keep
 * working and see the last committed state. The next store_begin() starts
 * afresh. A write that fails on its own (ERR_IN_USE, ERR_NOT_FOUND) does not
 * poison the group. Each lost group (what was written since the group's
 * begin, or its last successful sync, is gone) adds one to
 * store_commit_failures(): compare it before and after a tick to know
 * whether the tick's writes were discarded, and reload state from the store
 * if so. All three return 0, ERR_UNAVAILABLE or ERR_INTERNAL. */
STORE_MUST_CHECK int store_begin(store *s);
STORE_MUST_CHECK int store_commit(store *s);
STORE_MUST_CHECK int store_sync(store *s);
/* How many groups were lost (see above) since store_open. Never decreases. */
STORE_MUST_CHECK uint64_t store_commit_failures(const store *s);

void store_tuning_clear(store_tuning *t);
void store_training_clear(store_training *t);

/* Inserts a tuning job (with t->parents). t->request is borrowed. Sets t->id. ERR_IN_USE when
 * (account, kind, name) exists, the name compared case-insensitively. */
STORE_MUST_CHECK int store_create_tuning(store *s, store_tuning *t, err_t *e);
/* Fills *t (caller clears it) with the tuning job (kind "tuning") named
 * `name` in `account`, case-insensitively (an exact match first, should an
 * old database hold case variants). ERR_NOT_FOUND if absent. */
STORE_MUST_CHECK int store_get_tuning(store *s, const char *account, const char *name,
                                      store_tuning *t);
STORE_MUST_CHECK int store_get_tuning_by_id(store *s, int64_t id, store_tuning *t);
/* Sets status, and failure_reason / started / ended when non-NULL / > 0. */
STORE_MUST_CHECK int store_set_tuning_status(store *s, int64_t id, const char *status,
                                             const char *reason, double started, double ended);
/* Records a tuning job's completion details: the training jobs not
 * improving, and the time convergence was detected (> 0; kept once set). */
STORE_MUST_CHECK int store_set_tuning_completion(store *s, int64_t id, int not_improving,
                                                 double converged);
/* The second step of DeleteHyperParameterTuningJob, for a job the caller
 * has moved to Deleting: in one savepoint, removes its tags and makes its
 * row a tombstone (kind STORE_DELETED_KIND<id>) that store_get_tuning, the
 * lists and the name check no longer see; store_get_tuning_by_id still
 * reads it (its training jobs stay, and stay describable). */
STORE_MUST_CHECK int store_delete_tuning(store *s, int64_t id);
/* Finishes every deletion a daemon left half done (rows of kind "tuning"
 * in status Deleting): *n of them. At start, before the engine loads. */
STORE_MUST_CHECK int store_finish_deletes(store *s, int *n);
/* Calls cb for each tuning job in a status that is not final, oldest first.
 * The row is borrowed for the call. */
STORE_MUST_CHECK int store_each_active_tuning(store *s, void (*cb)(void *ud, const store_tuning *t),
                                              void *ud);
/* Lists an account's tuning jobs (kind "tuning", newest first). */
STORE_MUST_CHECK int store_each_tuning(store *s, const char *account,
                                       void (*cb)(void *ud, const store_tuning *t), void *ud);

/* Counts of a tuning job's training jobs, as of `now` for inflight_seconds.
 * Reads one row kept up to date by triggers: it does not scan the training
 * jobs (failed_internal reads the failed rows only, when there are any). A
 * tuning job without training jobs has all counts 0. */
STORE_MUST_CHECK int store_tuning_counts(store *s, int64_t tuning_id, double now, store_counts *c);

/* Inserts a training job; t->hyperparameters/tuned borrowed. Sets t->id.
 * ERR_IN_USE when (account, name) exists, the name compared
 * case-insensitively. store_get_training looks names up the same way. */
STORE_MUST_CHECK int store_insert_training(store *s, store_training *t, err_t *e);
STORE_MUST_CHECK int store_get_training(store *s, const char *account, const char *name,
                                        store_training *t);
STORE_MUST_CHECK int store_get_training_by_id(store *s, int64_t id, store_training *t);
/* Records the backend handle and start time after a launch. */
STORE_MUST_CHECK int store_training_launched(store *s, int64_t id, const char *handle,
                                             double started);
/* Status (and secondary status) change of a running job. */
STORE_MUST_CHECK int store_training_status(store *s, int64_t id, const char *status,
                                           const char *secondary);
/* Marks a stop request (1 user stop, 2 clock limit) and status Stopping. */
STORE_MUST_CHECK int store_training_stop_requested(store *s, int64_t id, int why);
/* Re-queues a job whose process was lost: clears the handle, bumps retried. */
STORE_MUST_CHECK int store_training_retry(store *s, int64_t id);
/* Final state. `reason` may be NULL; objective used when has_objective. */
STORE_MUST_CHECK int store_training_finish(store *s, int64_t id, const char *status,
                                           const char *secondary, const char *reason,
                                           int has_objective, double objective, double ended);

/* Calls cb for each training job of a tuning job, by index. Rows borrowed. */
STORE_MUST_CHECK int store_each_training(store *s, int64_t tuning_id,
                                         void (*cb)(void *ud, const store_training *t), void *ud);

/* Options of store_list_trainings. */
typedef struct {
    const char *status; /* filter, or NULL */
    int by_objective;   /* sort by objective (NULLs last), else by index */
    int descending;
    int64_t offset;
    int limit;
} store_list_opts;
/* Lists training jobs of a tuning job; sets *more when rows remain. The
 * objective order puts jobs without one last. (A store_list_trainings_q.) */
STORE_MUST_CHECK int store_list_trainings(store *s, int64_t tuning_id, const store_list_opts *o,
                                          void (*cb)(void *ud, const store_training *t), void *ud,
                                          int *more);
/* Best training job with an objective, Completed or Stopped early (only an
 * early stop keeps the objective of a Stopped job), max or min; the lowest
 * index among ties; by an index on (tuning_id, status, objective, idx).
 * ERR_NOT_FOUND when there is none. */
STORE_MUST_CHECK int store_best_training(store *s, int64_t tuning_id, int maximize,
                                         store_training *t);

/* ---- lists: filtered, sorted and paged in SQL, with indexes ----
 * Ties are broken by id (in the order's direction), so that pages are
 * stable. No row limit: only the page is read. */
typedef enum {
    STORE_SORT_CREATED,
    STORE_SORT_NAME,   /* byte order of the name as stored */
    STORE_SORT_STATUS, /* stored status text; for tuning jobs Created sorts as
                          Running (both are the APIs' InProgress) */
    STORE_SORT_OBJECTIVE /* training only; NULLs last in both orders */,
    STORE_SORT_INDEX /* training only: trial index */
} store_sort;
typedef struct {
    const char *account;                  /* required (may be NULL when tuning_id > 0) */
    int64_t tuning_id;                    /* > 0: only that tuning job's training jobs */
    const char *name_contains;            /* case-insensitive (ASCII) substring, or NULL;
                                             at most STORE_LIST_MAX_CONTAINS bytes */
    const char *const *statuses;          /* NULL-terminated stored status texts (any of), or NULL;
                                             at most STORE_LIST_MAX_STATUSES */
    double created_after, created_before; /* strict bounds, epoch s; 0 = unset */
    double modified_after, modified_before; /* last modified = ended, else started, else created */
    store_sort sort;
    int descending;
    int64_t offset; /* rows to skip */
    int limit;      /* rows to return (>= 1) */
    /* Fields added after the first version: */
    int with_objective; /* training only: 1 = only jobs with an objective value */
} store_list_query;
/* Tuning jobs of kind "tuning" of q->account. Rows borrowed for the call.
 * *more = 1 when rows remain. ERR_VALIDATION for a query out of its caps. */
STORE_MUST_CHECK int store_list_tunings(store *s, const store_list_query *q,
                                        void (*cb)(void *ud, const store_tuning *t), void *ud,
                                        int *more);
/* Training jobs of q->account (all of them, standalone and children), or of q->tuning_id. */
STORE_MUST_CHECK int store_list_trainings_q(store *s, const store_list_query *q,
                                            void (*cb)(void *ud, const store_training *t), void *ud,
                                            int *more);

/* Appends metric points and advances the job's log offset, atomically.
 * At most STORE_MAX_POINTS points are kept per metric; the final value is
 * always updated. */
#define STORE_MAX_POINTS 10000
STORE_MUST_CHECK int store_add_points(store *s, int64_t training_id, const store_point *p, size_t n,
                                      int64_t log_offset);
/* Final (last) value of metric `name` of a training job. ERR_NOT_FOUND if
 * none. */
STORE_MUST_CHECK int store_final_metric(store *s, int64_t training_id, const char *name,
                                        double *value);
/* How many values of metric `name` a training job has reported (0 when
 * none): the step of its last value, for resuming a learning curve. */
STORE_MUST_CHECK int store_metric_count(store *s, int64_t training_id, const char *name,
                                        int64_t *count);
/* Calls cb for each stored value of metric `name` of a job, in the order
 * they were reported, with its step (1 for the first; at most
 * STORE_MAX_POINTS are stored). */
STORE_MUST_CHECK int store_each_point(store *s, int64_t training_id, const char *name,
                                      void (*cb)(void *ud, int64_t step, double value), void *ud);
/* Calls cb for each metric of a job with its final value and time. */
STORE_MUST_CHECK int
store_each_final_metric(store *s, int64_t training_id,
                        void (*cb)(void *ud, const char *name, double value, double ts), void *ud);

/* Secondary-status transitions of a training job, in order. */
STORE_MUST_CHECK int store_add_transition(store *s, int64_t training_id, const char *status,
                                          double start, const char *message);
STORE_MUST_CHECK int store_each_transition(store *s, int64_t training_id,
                                           void (*cb)(void *ud, const char *status, double start,
                                                      const char *message),
                                           void *ud);

/* Tags of a resource (by ARN). add replaces a key's value. */
STORE_MUST_CHECK int store_tags_add(store *s, const char *account, const char *arn, const char *key,
                                    const char *value);
STORE_MUST_CHECK int store_tags_delete(store *s, const char *arn, const char *key);
STORE_MUST_CHECK int store_tags_count(store *s, const char *arn, int *n);
STORE_MUST_CHECK int store_each_tag(store *s, const char *arn,
                                    void (*cb)(void *ud, const char *key, const char *value),
                                    void *ud);

/* Every training job of an account, newest first. Rows borrowed. */
STORE_MUST_CHECK int store_each_training_of_account(store *s, const char *account,
                                                    void (*cb)(void *ud, const store_training *t),
                                                    void *ud);

/* Records where a job's model.tar.gz was written. */
STORE_MUST_CHECK int store_training_artifacts(store *s, int64_t id, const char *uri);

/* For the metrics (telemetry.h): cb(ud, 0, status, n) for each status
 * tuning jobs of kind "tuning" have (by an index on kind and status), then
 * cb(ud, 1, status, n) for each training job status (InProgress, Stopping,
 * Completed, Failed, Stopped; from the counters' table, no scan of the
 * training jobs). */
STORE_MUST_CHECK int
store_count_by_status(store *s, void (*cb)(void *ud, int training, const char *status, int64_t n),
                      void *ud);
/* Size of the database file: page_count x page_size (the WAL not counted). */
STORE_MUST_CHECK int store_size_bytes(store *s, int64_t *bytes);

#endif
