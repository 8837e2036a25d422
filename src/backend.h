/* backend — where training jobs run: local processes, Docker, Slurm ...
 *
 * The engine talks to every backend through backend_ops. A job is named by
 * its job directory (the job's stand-in for /opt/ml, prepared by contract.c
 * before launch) plus the opaque handle launch() returned, which the engine
 * records in the store so a restarted daemon can find the job again. A
 * backend reports an ended job's outcome through result(); output goes to
 * JOB_DIR/output.log, which the engine tails for metrics. */
#ifndef OPENHPO_BACKEND_H
#define OPENHPO_BACKEND_H

#include <stddef.h>

#include "err.h"
#include "loop.h"

#define BACKEND_HANDLE_MAX 128
#define BACKEND_LOG_NAME "output.log"

typedef struct {
    const char *name;    /* training job name */
    const char *job_dir; /* prepared job directory */
    char *const *argv;   /* program and its arguments (last is "train") */
    char *const *envp;   /* the job's whole environment */
    long max_runtime;    /* seconds; the job is stopped after it */
    long grace;          /* seconds between SIGTERM and SIGKILL */
} backend_launch;

typedef enum {
    BACKEND_RUNNING, /* still running (or starting) */
    BACKEND_EXITED,  /* ended, result known */
    BACKEND_LOST     /* ended or never started, and left no result */
} backend_state;

typedef struct {
    int exited; /* 1: exit code valid; 0: killed by `signal` */
    int code;
    int signal;
    int timed_out; /* stopped because max_runtime passed */
    int stopped;   /* stopped on request */
    double started, ended;
    char error[256]; /* the backend's own failure (e.g. cannot execute), or "" */
} backend_result;

typedef struct backend_watch backend_watch;

typedef struct backend_ops {
    const char *name;
    /* Starts a job; writes its handle (NUL-terminated) to handle[]. */
    int (*launch)(void *self, const backend_launch *l, char handle[BACKEND_HANDLE_MAX], err_t *e);
    /* Watches a job (just launched, or found after a restart). Returns
     * BACKEND_RUNNING and sets *w when on_exit(ud) will be called once, from
     * the loop, when the job ends; BACKEND_RUNNING with *w NULL when the job
     * cannot be watched yet (ask again later); otherwise the job has already
     * ended and on_exit will not be called. */
    backend_state (*watch)(void *self, const char *job_dir, const char *handle,
                           void (*on_exit)(void *ud), void *ud, backend_watch **w);
    /* Stops watching; w may be NULL. Never call from inside on_exit. */
    void (*unwatch)(void *self, backend_watch *w);
    /* Asks a job to stop: SIGTERM, then SIGKILL after the grace period.
     * Idempotent; 0 also when the job has already ended. */
    int (*stop)(void *self, const char *job_dir, const char *handle);
    /* Outcome of an ended job: BACKEND_EXITED with *r filled, BACKEND_LOST
     * when it left no result (it was then killed if any part remained),
     * BACKEND_RUNNING when it has not ended. */
    backend_state (*result)(void *self, const char *job_dir, const char *handle, backend_result *r);
    void (*destroy)(void *self);
} backend_ops;

typedef struct backend {
    const backend_ops *ops;
    void *self;
} backend;

/* The local process backend: each job runs under hpo-runner (runner.c), a
 * small supervisor that outlives the daemon, writes the job's output to
 * JOB_DIR/output.log (capped at log_cap bytes), enforces max_runtime and
 * the grace period, and records the outcome in JOB_DIR/exit.json. Returns
 * a backend the caller frees with backend_free(); NULL on error. */
backend *backend_local_new(loop *l, const char *runner_path, long long log_cap);
void backend_free(backend *b);

#endif
