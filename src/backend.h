/* backend — where training jobs run: local processes, Docker, Slurm ...
 *
 * A backend is opaque; callers use only the wrappers below (as curl's vtls:
 * an internal vtable in backend_impl.h, capability bits, one file per
 * backend under src/backends/, one registration line in backend.c). Several
 * backends live in one daemon: each job names the backend that runs it (the
 * image catalog entry says which; see image.h), and the handle the backend
 * returns at launch is recorded in the store, so a restarted daemon finds
 * the job again through the same backend.
 *
 * A job is named by its job directory (the stand-in for /opt/ml, prepared by
 * contract.c before launch) plus its handle. The backend owns the job's log
 * stream: callers read it with backend_read_log(), never from a file of
 * their own, so a backend whose logs live elsewhere (Docker's log stream,
 * a Slurm node's file) needs no local file.
 *
 * Guarantees every backend gives:
 *   - exec failure is reported by backend_launch() itself (ERR_VALIDATION
 *     naming the program, e.g. "cannot execute /x: No such file or
 *     directory"), never later as a lost job;
 *   - a launched job reports its end once, through on_exit, on the loop;
 *   - backend_stop() asks the job to stop (SIGTERM or the backend's
 *     equivalent), escalating to a kill of everything the job started after
 *     the grace period; it never blocks;
 *   - nothing of a job (its process session, its cgroup where one is
 *     available, its container) is left running after it has ended;
 *   - when the launch asked for it (output_path), the model is packed to
 *     model.tar.gz before the result is reported (BACKEND_CAP_PACKS_MODEL),
 *     off the daemon's loop. */
#ifndef OPENHPO_BACKEND_H
#define OPENHPO_BACKEND_H

#include <stddef.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "loop.h"

#define BACKEND_HANDLE_MAX 128
#define BACKEND_NAME_MAX 32
#define BACKEND_URI_MAX 1100

/* Capability bits (backend_caps). */
#define BACKEND_CAP_HOST_DIR 0x01    /* the job directory is on this host's filesystem */
#define BACKEND_CAP_PACKS_MODEL 0x02 /* packs model.tar.gz itself (launch.output_path) */
#define BACKEND_CAP_CONTAINER 0x04   /* runs TrainingImage as a container image */
#define BACKEND_CAP_GPU 0x08         /* can give a job GPUs */
#define BACKEND_CAP_MULTI_NODE 0x10  /* InstanceCount > 1 */

typedef struct backend backend;
typedef struct backend_watch backend_watch;

typedef struct {
    const char *name;          /* training job name */
    const char *job_dir;       /* prepared job directory */
    char *const *argv;         /* program and its arguments (last is "train") */
    char *const *envp;         /* the job's whole environment */
    long max_runtime;          /* seconds; the job is stopped after it (0 = none) */
    long grace;                /* seconds between SIGTERM and SIGKILL */
    const char *output_path;   /* S3OutputPath to pack the model under, or NULL */
    const char *image;         /* TrainingImage as requested (container backends) */
    const char *instance_type; /* ResourceConfig.InstanceType, or NULL */
    int instance_count;
    const char *account; /* the owning account (labels, logs), or NULL */
    /* As whom the program runs (tenant.h decides). run_as 0: as the daemon's
     * own user (one-user mode). run_as 1: the backend drops to uid/gid
     * (setgroups to gid alone, setgid, setuid, no_new_privs) before the
     * program, and everything done for the job that touches the caller's
     * files (packing model.tar.gz into its output path) runs as that user. */
    int run_as;
    uid_t uid;
    gid_t gid;
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
    char error[256];                 /* the backend's own failure, or "" */
    int result_unwritable;           /* the job ended but its result could not be fully
                                        recorded (e.g. disk full): not a lost job */
    char model_uri[BACKEND_URI_MAX]; /* where model.tar.gz was written, or "" */
    char model_error[256];           /* packing failed: why (the job is then Failed) */
    int never_started;               /* BACKEND_LOST only: nothing of the job ever ran (the
                                        daemon died before the start), so relaunching it
                                        spends no retry */
    int infrastructure;              /* BACKEND_EXITED: the job failed for the platform's
                                        sake (container engine, S3 transfer, node), not its
                                        program's: retried as a lost job is
                                        (trial_infrastructure_failure); `error` says why */
} backend_result;

/* What a backend may need to start: read by backend_new(); what it points
 * to is borrowed and outlives the backend. */
typedef struct {
    loop *l;
    const char *runner_path; /* hpo-runner, for the local backend */
    long long log_cap;       /* bytes of a job's log kept */
    const char *data_dir;    /* the daemon's data dir (absolute) */
    const json_t *conf;      /* this backend's settings: member NAME of the
                                hpod --backend-config file, or NULL */
} backend_env;

/* Creates backend `name` ("local"). Caller frees with backend_free().
 * NULL with e set (ERR_VALIDATION for an unknown name). */
backend *backend_new(const char *name, const backend_env *env, err_t *e);
/* Name of the i-th registered backend (static), or NULL past the last: the
 * daemon creates every registered backend at start. */
const char *backend_registered(size_t i);
void backend_free(backend *b);
const char *backend_name(const backend *b);
unsigned backend_caps(const backend *b);

/* Starts a job; writes its handle (NUL-terminated) to handle[]. 0 or an
 * err_code with e set (exec failure included). It may block for a while
 * (the local backend waits for the runner's start-up report), so the
 * engine calls it on its worker thread: a backend's start must not touch
 * the loop nor any state its other operations (all on the loop thread)
 * change. */
int backend_start(backend *b, const backend_launch *l, char handle[BACKEND_HANDLE_MAX], err_t *e);

/* Watches a job (just launched, or found after a restart). Returns
 * BACKEND_RUNNING and sets *w when on_exit(ud) will be called once, from the
 * loop, when the job ends; BACKEND_RUNNING with *w NULL when the job cannot
 * be watched yet (ask again later); otherwise the job has already ended and
 * on_exit will not be called. */
backend_state backend_watch_job(backend *b, const char *job_dir, const char *handle,
                                void (*on_exit)(void *ud), void *ud, backend_watch **w);
/* Stops watching; w may be NULL. Never call from inside on_exit. */
void backend_unwatch(backend *b, backend_watch *w);

/* Asks a job to stop (see the guarantees above). Idempotent; 0 also when the
 * job has already ended. */
int backend_stop(backend *b, const char *job_dir, const char *handle);

/* Outcome of an ended job: BACKEND_EXITED with *r filled, BACKEND_LOST when
 * it left no result (whatever remained of it was killed first),
 * BACKEND_RUNNING when it has not ended. */
backend_state backend_result_of(backend *b, const char *job_dir, const char *handle,
                                backend_result *r);

/* Reads the job's log from byte `offset`: at most n bytes into buf. Returns
 * the bytes read, 0 when nothing is there yet (or the job has no log yet),
 * -1 on error. Never blocks. */
ssize_t backend_read_log(backend *b, const char *job_dir, const char *handle, int64_t offset,
                         char *buf, size_t n);

#endif
