/* status — the job states of openhpo, as tables.
 *
 * A tuning job and a training job each have one state table (an X-macro):
 * the enum, the text the store keeps, the 2017 HPO API's name, the current
 * API's name, whether the state is final, and whether a job in it can be
 * stopped. The legal transitions are a second table, checked in one place
 * (status_*_can_move), so a typo cannot compile and an illegal transition
 * is not stored: every state change goes through one function per kind
 * (tuning_move in engine.c, the trial's move in trial.c), which checks the
 * table first and logs a refused move as a bug. The store itself does not
 * check moves (its writers are those two functions and engine_stop_tuning's
 * Stopping of a job not in memory, which checks the table too).
 *
 * Tuning job (the current API shows Created and Running as InProgress):
 *
 *   Created ──▶ Running ──▶ Completed | Failed
 *      │          │
 *      └──────────┴──▶ Stopping ──▶ Stopped        (Created/Running ──▶ Failed too)
 *
 *   Completed | Failed | Stopped ──▶ Deleting ──▶ (gone)
 *                                       │  ▲
 *                                       ▼  │ (DeleteHyperParameterTuningJob again)
 *                                    DeleteFailed
 *
 * Deleting and DeleteFailed are final for the tuning work (nothing runs,
 * nothing is stoppable); "gone" is not a state: the row becomes a tombstone
 * (store_delete_tuning) that no API shows, kept so that the training jobs
 * stay describable. A job is deletable when it may move to Deleting. The
 * 2017 API has no delete; its names for these two are the stored texts
 * (outside its enum: seen only for jobs deleted through the current API).
 *
 * Training job (the secondary status says more: Starting, Training, ...):
 *
 *   InProgress ──▶ Completed | Failed | Stopped    (MaxRuntime: Stopped)
 *        │
 *        └──▶ Stopping ──▶ Stopped | Completed | Failed
 *
 * A relaunch after a lost runner stays InProgress (RetriedAttempt + 1). */
#ifndef OPENHPO_STATUS_H
#define OPENHPO_STATUS_H

/* clang-format off */
/*  code                 stored        2017 name     current name   final stoppable */
#define TUNING_STATUS_TABLE(X)                                                        \
    X(TUNING_CREATED,    "Created",    "Created",    "InProgress",  0,    1)          \
    X(TUNING_RUNNING,    "Running",    "Running",    "InProgress",  0,    1)          \
    X(TUNING_COMPLETED,  "Completed",  "Completed",  "Completed",   1,    0)          \
    X(TUNING_FAILED,     "Failed",     "Failed",     "Failed",      1,    0)          \
    X(TUNING_STOPPING,   "Stopping",   "Stopping",   "Stopping",    0,    1)          \
    X(TUNING_STOPPED,    "Stopped",    "Stopped",    "Stopped",     1,    0)          \
    X(TUNING_DELETING,   "Deleting",   "Deleting",    "Deleting",    1,    0)          \
    X(TUNING_DELETE_FAILED, "DeleteFailed", "DeleteFailed", "DeleteFailed", 1, 0)

/*  code                   stored         2017 name      current name   final stoppable */
#define TRAINING_STATUS_TABLE(X)                                                         \
    X(TRAINING_IN_PROGRESS, "InProgress", "InProgress",  "InProgress",  0,    1)         \
    X(TRAINING_COMPLETED,   "Completed",  "Completed",   "Completed",   1,    0)         \
    X(TRAINING_FAILED,      "Failed",     "Failed",      "Failed",      1,    0)         \
    X(TRAINING_STOPPING,    "Stopping",   "Stopping",    "Stopping",    0,    0)         \
    X(TRAINING_STOPPED,     "Stopped",    "Stopped",     "Stopped",     1,    0)

/* Legal moves: from, to. */
#define TUNING_MOVES(X)                                                                   \
    X(TUNING_CREATED,  TUNING_RUNNING)   X(TUNING_CREATED,  TUNING_STOPPING)              \
    X(TUNING_CREATED,  TUNING_FAILED)    X(TUNING_RUNNING,  TUNING_COMPLETED)             \
    X(TUNING_RUNNING,  TUNING_FAILED)    X(TUNING_RUNNING,  TUNING_STOPPING)              \
    X(TUNING_STOPPING, TUNING_STOPPED)   X(TUNING_STOPPING, TUNING_FAILED)                \
    X(TUNING_COMPLETED, TUNING_DELETING) X(TUNING_FAILED,   TUNING_DELETING)              \
    X(TUNING_STOPPED,  TUNING_DELETING)  X(TUNING_DELETING, TUNING_DELETE_FAILED)         \
    X(TUNING_DELETE_FAILED, TUNING_DELETING)

#define TRAINING_MOVES(X)                                                                 \
    X(TRAINING_IN_PROGRESS, TRAINING_COMPLETED) X(TRAINING_IN_PROGRESS, TRAINING_FAILED)  \
    X(TRAINING_IN_PROGRESS, TRAINING_STOPPED)   X(TRAINING_IN_PROGRESS, TRAINING_STOPPING)\
    X(TRAINING_STOPPING, TRAINING_STOPPED)      X(TRAINING_STOPPING, TRAINING_COMPLETED)  \
    X(TRAINING_STOPPING, TRAINING_FAILED)
/* clang-format on */

typedef enum {
#define X(code, stored, n17, ncur, final, stoppable) code,
    TUNING_STATUS_TABLE(X)
#undef X
        TUNING__COUNT
} tuning_status;

typedef enum {
#define X(code, stored, n17, ncur, final, stoppable) code,
    TRAINING_STATUS_TABLE(X)
#undef X
        TRAINING__COUNT
} training_status;

/* Texts of a state (static strings): as stored, in the 2017 API, in the
 * current API. An out-of-range value gives "". */
const char *tuning_status_text(tuning_status s);
const char *tuning_status_2017(tuning_status s);
const char *tuning_status_current(tuning_status s);
const char *training_status_text(training_status s);
const char *training_status_2017(training_status s);
const char *training_status_current(training_status s);

/* Parses stored text. 0, or -1 when `text` names no state (*s untouched). */
int tuning_status_parse(const char *text, tuning_status *s);
int training_status_parse(const char *text, training_status *s);

int tuning_status_final(tuning_status s);
int tuning_status_stoppable(tuning_status s);
int training_status_final(training_status s);
int training_status_stoppable(training_status s);

/* Whether `from` may become `to` (a state may always "become" itself). */
int tuning_status_can_move(tuning_status from, tuning_status to);
/* Whether DeleteHyperParameterTuningJob may delete a job in `s`: it may
 * move to Deleting (Completed, Failed, Stopped, DeleteFailed). */
int tuning_status_deletable(tuning_status s);
int training_status_can_move(training_status from, training_status to);

#endif
