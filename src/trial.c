/* trial — one training job's lifecycle (see trial.h). */
#include "trial.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "channels.h"
#include "contract.h"
#include "ingest.h"
#include "tenant.h"
#include "pack.h"
#include "telemetry.h"
#include "util.h"

typedef struct launch_job launch_job;

/* A launch's slow part, for the worker: everything it reads is its own or
 * held for it (job.ref), so it may outlive the trial. */
struct launch_job {
    trial *t; /* NULL once the trial is gone (its answer is dropped) */
    void (*ref)(void *ud, int delta);
    void *ref_ud;
    backend *be;
    const req_training_def *def;
    char name[STORE_NAME_MAX];
    char job_dir[1024];
    char scope[STORE_NAME_MAX]; /* the tuning job's name: the channel cache's scope */
    char arn[CONTRACT_ARN_MAX]; /* TRAINING_JOB_ARN */
    worker *dl;                 /* the download worker it went to first, or NULL */
    json_t *hp;
    char **env, **argv;
    backend_launch bl;
    tenant_identity id; /* as whom it runs (tenant.h) */
    char handle[BACKEND_HANDLE_MAX];
    int rc; /* 0: started; else the err_code of e */
    err_t e;
};

struct trial {
    trial_env env;
    trial_job job;
    int64_t id;
    char name[STORE_NAME_MAX];
    int retried;
    int unstarted; /* relaunches of a job that never started, by this daemon */
    char job_dir[1024];
    char handle[BACKEND_HANDLE_MAX];
    double *cfg;
    size_t n;
    trial_phase phase;
    training_status status;
    backend_watch *w;
    int exited;    /* on_exit came */
    int recorded;  /* the handle is in the store */
    int adopted;   /* found at start: the backend is asked about it first */
    int stop_why;  /* TRIAL_STOP_*, 0 = none */
    int stop_sent; /* the backend has been asked to stop it */
    ingest *in;
    double checked;  /* when the backend was last asked whether it ended */
    double ended_at; /* when ENDED began waiting for the backend's result */
    int warned;      /* the wait for the result was logged */
    int has_obj;
    double obj;
    int noted;            /* the Training transition is in the store */
    double started_at;    /* when the backend started it */
    double first_started; /* when its first attempt started (0: not yet): MaxRuntimeInSeconds
                             covers every attempt */
    launch_job *lj;       /* the launch on the worker (STARTING), or NULL */
    int start_failed;     /* the worker's start failed: finish with start_error */
    int start_infra;      /* ... for the platform's sake (ERR_UNAVAILABLE): retried */
    char start_error[ERR_MSG_MAX];
};

static double now_of(const trial *t) {
    return t->env.now ? t->env.now(t->env.now_ud) : util_now();
}

int trial_infrastructure_failure(backend_state bs, const backend_result *r) {
    if (bs == BACKEND_LOST)
        return 1;
    return bs == BACKEND_EXITED && r->infrastructure && !r->stopped && !r->timed_out &&
           !r->result_unwritable;
}

int trial_max_retries(const req_training_def *d) {
    return d && d->retry_attempts > 0 ? d->retry_attempts : TRIAL_MAX_RETRIES;
}

int64_t trial_id(const trial *t) {
    return t->id;
}
const char *trial_name(const trial *t) {
    return t->name;
}
trial_phase trial_phase_of(const trial *t) {
    return t->phase;
}
int trial_stop_requested(const trial *t) {
    return t->stop_why;
}
const double *trial_cfg(const trial *t) {
    return t->cfg;
}
size_t trial_def(const trial *t) {
    return t->job.def;
}
training_status trial_status(const trial *t) {
    return t->status;
}
int trial_outcome(const trial *t, double *v) {
    if (t->has_obj)
        *v = t->obj;
    return t->has_obj;
}
size_t trial_curve(const trial *t, const int64_t **step, const double **y) {
    return ingest_curve(t->in, step, y);
}

void trial_curve_resume(void *ud, int64_t step, double v) {
    trial *t = ud;
    ingest_resume_point(t->in, step, v);
}

trial *trial_new(const trial_env *env, const trial_job *job, const store_training *row,
                 const double *cfg, size_t sp_n, int64_t count0, int fresh) {
    trial *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->env = *env;
    t->job = *job;
    t->id = row->id;
    snprintf(t->name, sizeof t->name, "%s", row->name);
    t->retried = row->retried;
    t->first_started = row->started;
    snprintf(t->job_dir, sizeof t->job_dir, "%s", row->job_dir);
    snprintf(t->handle, sizeof t->handle, "%s", row->handle);
    if (training_status_parse(row->status, &t->status))
        t->status = TRAINING_IN_PROGRESS;
    t->stop_why = row->stop_requested;
    t->stop_sent = 0;
    t->n = sp_n;
    t->checked = now_of(t);
    t->cfg = calloc(sp_n ? sp_n : 1, sizeof *t->cfg);
    t->in = ingest_new(job->ms, job->objective, row->log_offset, count0);
    if (!t->cfg || !t->in) {
        trial_free(t);
        return NULL;
    }
    if (cfg && sp_n)
        memcpy(t->cfg, cfg, sp_n * sizeof *cfg);
    /* A row that had a handle, or ran before (log_offset), or is Stopping,
     * may have a job out there: the backend is asked first. A fresh row with
     * nothing recorded is NEW; the backend is still asked, as its runner may
     * have started before the daemon died (its pid file finds it). */
    t->recorded = row->handle[0] != 0;
    t->noted = 1; /* a fresh launch adds its Training transition */
    t->phase = fresh ? TRIAL_NEW : TRIAL_RUNNING;
    return t;
}

void trial_free(trial *t) {
    if (!t)
        return;
    if (t->lj)
        t->lj->t = NULL; /* on the worker: its answer will be dropped */
    if (t->w)
        backend_unwatch(t->job.be, t->w);
    ingest_free(t->in);
    free(t->cfg);
    free(t);
}

int trial_move(trial *t, training_status to, const char *secondary) {
    if (!training_status_can_move(t->status, to)) {
        log_error("BUG: training job %s: %s -> %s is not a legal move", t->name,
                  training_status_text(t->status), training_status_text(to));
        return -1;
    }
    int rc = store_training_status(t->env.st, t->id, training_status_text(to), secondary);
    if (!rc)
        t->status = to;
    return rc;
}

static int deliver_stop(trial *t);

static void on_exit_cb(void *ud) {
    trial *t = ud;
    t->exited = 1;
    loop_kick(t->env.l); /* finalise (and refill the slot) on this iteration */
}

/* Finishes the job with `to` and records its end. */
static int finish(trial *t, training_status to, const char *secondary, const char *reason,
                  int has_obj, double obj, double ended) {
    if (!training_status_can_move(t->status, to)) {
        log_error("BUG: training job %s: %s -> %s is not a legal move", t->name,
                  training_status_text(t->status), training_status_text(to));
        return -1;
    }
    int rc = store_training_finish(t->env.st, t->id, training_status_text(to), secondary,
                                   reason && reason[0] ? reason : NULL, has_obj, obj, ended);
    if (!rc)
        rc = store_add_transition(
            t->env.st, t->id, secondary, ended,
            to == TRAINING_COMPLETED ? "Training job completed"
            : to == TRAINING_FAILED  ? "Training job failed"
            : !strcmp(secondary, "MaxRuntimeExceeded")
                ? "Training job stopped because it exceeded MaxRuntimeInSeconds"
                : "Training job stopped");
    if (rc)
        return rc;
    if (to != TRAINING_FAILED) /* fail() records its own, with its reason */
        telemetry_ended(backend_name(t->job.be), training_status_text(to), 0);
    t->status = to;
    t->phase = TRIAL_FINAL;
    t->has_obj = has_obj;
    t->obj = obj;
    log_debug("training job %s: %s %s", t->name, training_status_text(to), reason ? reason : "");
    return 0;
}

/* Finishes the job Failed with `reason`, its class `why` for the metrics. */
static int fail(trial *t, telemetry_reason why, const char *reason, double ended) {
    int rc = finish(t, TRAINING_FAILED, "Failed", reason, 0, 0, ended);
    if (!rc)
        telemetry_ended(backend_name(t->job.be), training_status_text(TRAINING_FAILED), why);
    return rc;
}

/* The reason class of a program's failure (contract_failure_reason's cases). */
static telemetry_reason failure_class(const char *failure, const backend_result *r) {
    if (failure[0])
        return TELEMETRY_REASON_REPORTED;
    if (r->error[0])
        return TELEMETRY_REASON_BACKEND;
    return r->exited ? TELEMETRY_REASON_EXIT : TELEMETRY_REASON_SIGNAL;
}

/* Builds the hyperparameters object (string -> string) from the stored row. */
static json_t *load_hp(trial *t, err_t *e) {
    store_training row = {0};
    json_t *hp = NULL;
    int rc = store_get_training_by_id(t->env.st, t->id, &row);
    if (rc) {
        err_set(e, rc, "cannot read the training job back");
        return NULL;
    }
    if (!(hp = json_loads(row.hyperparameters ? row.hyperparameters : "{}", 0, NULL)))
        err_set(e, ERR_INTERNAL, "cannot read hyperparameters");
    store_training_clear(&row);
    return hp;
}

static void launch_job_free(launch_job *lj) {
    if (!lj)
        return;
    json_decref(lj->hp);
    contract_env_free(lj->env);
    free(lj->argv);
    free(lj);
}

/* The contract's view of a launch, with its user. */
static contract_job contract_job_of(const launch_job *lj) {
    return (contract_job){.job_name = lj->name,
                          .job_arn = lj->arn,
                          .job_dir = lj->job_dir,
                          .hyperparameters = lj->hp,
                          .def = lj->def,
                          .run_as = lj->id.run_as,
                          .uid = lj->id.uid,
                          .gid = lj->id.gid,
                          .home = lj->id.home[0] ? lj->id.home : NULL};
}

/* The job directory's parent (DATA/jobs/<account>) is made mode 0711: the
 * job's user must search every directory above its job directory, and may
 * list none (hpod makes DATA and DATA/jobs 0711 too; its umask is 077). */
static int reachable_parent(const char *job_dir, err_t *e) {
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", job_dir);
    char *slash = strrchr(parent, '/');
    if (!slash || slash == parent)
        return 0;
    *slash = 0;
    if (util_mkdir_p(parent, 0) || chmod(parent, 0711))
        return err_set(e, ERR_INTERNAL, "cannot make %s searchable: %s", parent, strerror(errno));
    return 0;
}

/* s3:// channels or checkpoints to download before the job starts? */
static int needs_download(const req_training_def *def) {
    return channels_uses_s3(def) || def->checkpoint_uri;
}

/* The account's cache directory (next to the job's) and, in it, where a
 * job's checkpoints are staged by the download worker. */
static void cache_paths(const launch_job *lj, char *cache, size_t n, char *staged, size_t ns) {
    snprintf(cache, n, "%s", lj->job_dir);
    char *slash = strrchr(cache, '/'); /* the account's jobs directory */
    snprintf(slash ? slash + 1 : cache, n - (size_t)(slash ? slash + 1 - cache : 0), "%s",
             CHANNELS_CACHE_DIR);
    snprintf(staged, ns, "%s/%s.checkpoints", cache, lj->name);
}

static int stopping(void *ud) {
    return worker_stopping(ud);
}

/* The job's s3:// channels (channels.h: cached per tuning job, so only the
 * first training job of a tuning job downloads; parallel ranged parts; at
 * most CHANNELS_DEADLINE_S) and checkpoints. cache_only (on the download
 * worker): fill the cache and stage the checkpoints; else (in the launch)
 * link the channels into the job directory, downloading what is not cached
 * yet, move or download the checkpoints, and write the settings hpo-pack
 * needs to store the artifacts in S3 (pack.h). 0 or an err_code with lj->e
 * the FailureReason. */
static int launch_fetch(launch_job *lj, int cache_only, worker *w) {
    const req_training_def *def = lj->def;
    int s3_out = def->output_path && !strncmp(def->output_path, "s3://", 5);
    if (!needs_download(def) && !s3_out)
        return 0;
    s3_config cfg;
    char cache[1100], staged[1400], ckdir[1200];
    struct stat st;
    int rc = s3_config_from_env(&cfg, &lj->e);
    if (!rc && lj->id.s3_key_id) /* the account's own keys (credentials.h s3_credentials) */
        rc = s3_config_set_keys(&cfg, lj->id.s3_key_id, lj->id.s3_secret, lj->id.s3_token, &lj->e);
    if (rc)
        return rc;
    cache_paths(lj, cache, sizeof cache, staged, sizeof staged);
    channels_job cj = {.def = def,
                       .job_dir = lj->job_dir,
                       .cache_dir = cache,
                       .scope = lj->scope,
                       .s3 = &cfg,
                       .host = 0,
                       .nhosts = 1, /* one host (the local backend): it gets all */
                       .cache_only = cache_only,
                       .cancelled = w ? stopping : NULL,
                       .cancel_ud = w};
    /* Several hosts: host 0 (algo-1) links into JOB_DIR, host H into
     * JOB_DIR/hosts/algo-(H+1) (channels.h), each its own shard. */
    char hdir[1200];
    if ((backend_caps(lj->be) & BACKEND_CAP_MULTI_NODE) && def->instance_count > 1)
        cj.nhosts = def->instance_count;
    for (; cj.host < (cache_only ? 1 : cj.nhosts); cj.host++) {
        if (cj.host > 0)
            snprintf(hdir, sizeof hdir, "%s/" CHANNELS_HOSTS_DIR "/algo-%d", lj->job_dir,
                     cj.host + 1);
        cj.job_dir = cj.host > 0 ? hdir : lj->job_dir;
        if ((rc = channels_fetch(&cj, &lj->e)))
            return rc;
    }
    snprintf(ckdir, sizeof ckdir, "%s/%s", lj->job_dir,
             def->checkpoint_local ? def->checkpoint_local + 8 : "checkpoints");
    if (def->checkpoint_uri && !cache_only && stat(staged, &st) == 0) {
        if (util_mkdir_p(ckdir, 0) || util_rm_rf(ckdir) || rename(staged, ckdir))
            return err_set(&lj->e, ERR_INTERNAL, "cannot move %s to %s: %s", staged, ckdir,
                           strerror(errno));
        if (lj->bl.run_as && (rc = channels_chown_tree(ckdir, lj->bl.uid, lj->bl.gid, &lj->e)))
            return rc; /* the program writes its checkpoints there */
    } else if (def->checkpoint_uri) {
        char uri[S3_URI_MAX + 2];
        size_t n = (size_t)snprintf(uri, sizeof uri, "%s", def->checkpoint_uri);
        if (n && uri[n - 1] != '/' && n + 1 < sizeof uri)
            strcat(uri, "/");
        const char *dest = cache_only ? staged : ckdir;
        util_rm_rf(dest);
        if ((rc = channels_fetch_prefix(&cfg, uri, dest, cj.cancelled, cj.cancel_ud, &lj->e))) {
            char m[ERR_MSG_MAX];
            snprintf(m, sizeof m, "%scheckpoints: %s",
                     rc == ERR_UNAVAILABLE ? "" : "ClientError: ", lj->e.msg);
            snprintf(lj->e.msg, sizeof lj->e.msg, "%s", m);
            return rc;
        }
        if (!cache_only && lj->bl.run_as &&
            (rc = channels_chown_tree(ckdir, lj->bl.uid, lj->bl.gid, &lj->e)))
            return rc;
        if (cache_only && util_mkdir_p(staged, 0)) /* no checkpoints yet: an empty one */
            return err_set(&lj->e, ERR_INTERNAL, "cannot create %s: %s", staged, strerror(errno));
    }
    if (cache_only || (!s3_out && !def->checkpoint_uri))
        return 0; /* hpo-pack needs no S3 settings: no credentials in the job dir */
    return pack_write_settings(lj->job_dir, &cfg, def->checkpoint_uri,
                               def->checkpoint_uri ? ckdir : NULL, lj->bl.run_as, lj->bl.uid,
                               lj->bl.gid, &lj->e);
}

/* On the worker (or inline): lays out the job directory, starts the job.
 * Touches only lj's own data, the filesystem and the backend's start. */
static void launch_run(void *arg) {
    launch_job *lj = arg;
    contract_job cj = contract_job_of(lj);
    util_rm_rf(lj->job_dir); /* a relaunch starts from a clean directory */
    lj->handle[0] = 0;
    if (lj->id.run_as && (lj->rc = reachable_parent(lj->job_dir, &lj->e)))
        return;
    if ((lj->rc = contract_prepare(&cj, &lj->e)) || (lj->rc = launch_fetch(lj, 0, NULL)))
        return;
    lj->rc = backend_start(lj->be, &lj->bl, lj->handle, &lj->e);
}

/* The handle's record: store_training_launched, then the Training
 * transition; each retried (every tick) until it is stored. */
static void record(trial *t) {
    if (!t->recorded && t->handle[0] &&
        store_training_launched(t->env.st, t->id, t->handle, t->started_at) == 0)
        t->recorded = 1;
    if (!t->noted && store_add_transition(t->env.st, t->id, "Training", t->started_at,
                                          "Training image download completed. Training in "
                                          "progress.") == 0)
        t->noted = 1;
}

/* Applies a launch's answer (on the loop): RUNNING and watched, or the
 * start's failure kept for finish(). */
static void launch_apply(trial *t, launch_job *lj) {
    if (lj->rc) {
        log_warn("training job %s failed to start: %s", t->name, lj->e.msg);
        snprintf(t->start_error, sizeof t->start_error, "%s", lj->e.msg);
        t->start_failed = 1;
        t->start_infra = lj->rc == ERR_UNAVAILABLE;
        return;
    }
    snprintf(t->handle, sizeof t->handle, "%s", lj->handle);
    t->phase = TRIAL_RUNNING;
    t->recorded = 0;
    t->noted = 0;
    t->exited = 0;
    t->stop_sent = 0;
    t->started_at = now_of(t);
    if (t->first_started <= 0)
        t->first_started = t->started_at;
    t->checked = t->started_at;
    telemetry_launched(backend_name(t->job.be));
    if (backend_watch_job(t->job.be, t->job_dir, t->handle, on_exit_cb, t, &t->w) !=
        BACKEND_RUNNING)
        t->exited = 1;
    log_debug("launched %s (%s)", t->name, t->handle);
}

/* The worker's answer, on the loop thread. */
static void launch_done(void *arg, int cancelled) {
    launch_job *lj = arg;
    trial *t = lj->t;
    if (t) {
        t->lj = NULL;
        if (cancelled) {
            t->phase = TRIAL_NEW; /* never ran: launched again on a later tick */
        } else {
            launch_apply(t, lj);
            /* A stop that came while it started: the Stopping it recorded
             * is durable (its tick, or its request, has ended), and the
             * handle is known now. A failure here is retried each tick. */
            if (t->phase == TRIAL_RUNNING && deliver_stop(t))
                log_warn("training job %s: the stop will be sent on the next tick", t->name);
        }
        loop_kick(t->env.l);
    }
    void (*ref)(void *, int) = lj->ref;
    void *ref_ud = lj->ref_ud;
    launch_job_free(lj);
    if (ref)
        ref(ref_ud, -1); /* last: it may free what lj borrowed */
}

/* On the download worker (trial_env.dl): fills the channel cache and
 * stages the checkpoints, so the launch that follows only links them. */
static void fetch_run(void *arg) {
    launch_job *lj = arg;
    lj->rc = launch_fetch(lj, 1, lj->dl);
}

/* The download's answer, on the loop: the launch goes on to the engine's
 * worker (inline when it is full); a failure or a cancellation is answered
 * as the launch's own (launch_done). */
static void fetch_done(void *arg, int cancelled) {
    launch_job *lj = arg;
    trial *t = lj->t;
    if (t && !cancelled && !lj->rc) {
        if (worker_submit(t->env.wk, launch_run, launch_done, lj) == 0)
            return; /* lj is the worker's now */
        launch_run(lj);
    }
    launch_done(lj, cancelled);
}

/* A start that failed (start_error): one the platform failed
 * (start_infra: the container engine or S3 unreachable, ERR_UNAVAILABLE) is
 * launched again on a later tick, as a lost job is, while retries are left
 * (RetriedAttempt + 1); any other, or the last, is Failed. Returns as
 * finish() does. */
static int start_failure(trial *t) {
    int infra = t->start_infra, max = trial_max_retries(&t->job.r->defs[t->job.def]);
    char reason[STORE_REASON_MAX];
    t->start_failed = t->start_infra = 0;
    if (infra && !t->stop_why && t->retried < max) {
        log_warn("training job %s could not start for the platform's sake; launching it again "
                 "(attempt %d of %d)",
                 t->name, t->retried + 2, max + 1);
        int rc = store_training_retry(t->env.st, t->id);
        if (rc)
            return rc;
        telemetry_retried(backend_name(t->job.be));
        t->retried++;
        t->phase = TRIAL_NEW;
        return 0;
    }
    if (!infra)
        return fail(t, TELEMETRY_REASON_START, t->start_error, now_of(t));
    snprintf(reason, sizeof reason, STORE_INTERNAL_PREFIX ": %s (%d attempts)", t->start_error,
             t->retried + 1);
    return fail(t, TELEMETRY_REASON_INFRASTRUCTURE, reason, now_of(t));
}

/* NEW -> STARTING (on the worker) or, inline, RUNNING: builds the launch,
 * makes the row durable, starts it. 0 when it is starting or runs (or when
 * it could not start and is now final); TRIAL_FAULT-worthy store codes
 * otherwise. */
static int launch(trial *t) {
    err_t e = {0};
    int rc = 0, store_rc = 0;
    const req_training_def *def = &t->job.r->defs[t->job.def];
    launch_job *lj = NULL;
    if (t->stop_why) /* stopped before it ever ran */
        return finish(t, TRAINING_STOPPED, "Stopped", NULL, 0, 0, now_of(t));
    /* A relaunch runs for what is left of MaxRuntimeInSeconds. */
    long runtime = def->max_runtime;
    if (runtime > 0 && t->first_started > 0) {
        double left = (double)runtime - (now_of(t) - t->first_started);
        if (left < 1) {
            char why[160];
            snprintf(why, sizeof why,
                     "Training job exceeded MaxRuntimeInSeconds (%ld s) over its attempts "
                     "and was stopped",
                     runtime);
            return finish(t, TRAINING_STOPPED, "MaxRuntimeExceeded", why, 0, 0, now_of(t));
        }
        runtime = (long)ceil(left);
    }
    if (!(lj = calloc(1, sizeof *lj))) {
        rc = err_set(&e, ERR_INTERNAL, "out of memory");
        goto fail;
    }
    lj->be = t->job.be;
    lj->def = def;
    lj->ref = t->job.ref;
    lj->ref_ud = t->job.ref_ud;
    snprintf(lj->name, sizeof lj->name, "%s", t->name);
    snprintf(lj->job_dir, sizeof lj->job_dir, "%s", t->job_dir);
    snprintf(lj->scope, sizeof lj->scope, "%s", t->job.r->name ? t->job.r->name : t->name);
    contract_training_arn(t->env.region ? t->env.region : CONTRACT_DEFAULT_REGION,
                          t->job.r->account, t->name, lj->arn, sizeof lj->arn);
    if (!(lj->hp = load_hp(t, &e))) {
        rc = e.code;
        if (rc == ERR_UNAVAILABLE || rc == ERR_INTERNAL) {
            store_rc = rc;
            goto out;
        }
        goto fail;
    }
    /* The policy and the user of now, not of when the job was created: a
     * daemon restarted with other settings must not run it as someone else
     * (nor as itself), nor with URIs it no longer grants. */
    if ((rc = tenant_check_request(t->env.tenant, t->job.r, &e)) ||
        (rc = tenant_identity_of(t->env.tenant, t->job.r->account, &lj->id, &e)))
        goto fail;
    contract_job cj = contract_job_of(lj);
    if (!(lj->env = contract_env(&cj, lj->job_dir))) {
        rc = err_set(&e, ERR_INTERNAL, "out of memory");
        goto fail;
    }
    size_t n = t->job.img->argc;
    if (!(lj->argv = calloc(n + 2, sizeof *lj->argv))) {
        rc = err_set(&e, ERR_INTERNAL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        lj->argv[i] = t->job.img->argv[i];
    lj->argv[n] = "train";
    lj->bl = (backend_launch){.name = lj->name,
                              .job_dir = lj->job_dir,
                              .argv = lj->argv,
                              .envp = lj->env,
                              .max_runtime = runtime,
                              .grace = t->env.grace,
                              .output_path = def->output_path,
                              .image = def->image,
                              .instance_type = def->instance_type,
                              .instance_count = def->instance_count,
                              .account = t->job.r->account,
                              .run_as = lj->id.run_as,
                              .uid = lj->id.uid,
                              .gid = lj->id.gid};
    /* The Downloading secondary status, while the launch fetches s3://
     * channels (Training follows once it has started). */
    if (needs_download(def) &&
        ((store_rc = store_training_status(t->env.st, t->id, "InProgress", "Downloading")) ||
         (store_rc = store_add_transition(t->env.st, t->id, "Downloading", now_of(t),
                                          "Downloading input data"))))
        goto out;
    /* Write-ahead: the training job's row is durable before it can run. */
    if ((store_rc = store_sync(t->env.st)))
        goto out;
    t->handle[0] = 0;
    t->start_failed = 0;
    if (t->env.wk) {
        lj->t = t;
        t->lj = lj;
        t->phase = TRIAL_STARTING;
        if (lj->ref)
            lj->ref(lj->ref_ud, +1);
        lj->dl = t->env.dl;
        if (lj->dl && needs_download(def) && worker_submit(lj->dl, fetch_run, fetch_done, lj) == 0)
            return 0; /* lj is the download worker's, then the worker's */
        if (worker_submit(t->env.wk, launch_run, launch_done, lj) == 0)
            return 0; /* lj is the worker's now */
        if (lj->ref)
            lj->ref(lj->ref_ud, -1);
        t->lj = NULL;
        lj->t = NULL;
        t->phase = TRIAL_NEW;
        log_debug("training job %s: the worker is full; launching inline", t->name);
    }
    launch_run(lj);
    launch_apply(t, lj);
    if (t->start_failed)
        goto failed;
    record(t);
    goto out;
fail:
    log_warn("training job %s failed to start: %s", t->name, e.msg);
    snprintf(t->start_error, sizeof t->start_error, "%s", e.msg);
    t->start_infra = 0;
failed:
    store_rc = start_failure(t);
    if (store_rc < 0)
        store_rc = 0;
out:
    launch_job_free(lj);
    return store_rc;
}

/* A lost trial starts again from NEW (its log re-read from the start). */
static int relaunch(trial *t) {
    ingest_reset(t->in);
    if (t->w)
        backend_unwatch(t->job.be, t->w);
    t->w = NULL;
    t->handle[0] = 0;
    t->phase = TRIAL_NEW;
    return launch(t);
}

/* Reads the end of the log for a failure reason. */
static size_t log_tail(trial *t, char *buf, size_t n) {
    int64_t end = ingest_offset(t->in);
    int64_t off = end > (int64_t)n ? end - (int64_t)n : 0;
    ssize_t r = backend_read_log(t->job.be, t->job_dir, t->handle, off, buf, n);
    return r > 0 ? (size_t)r : 0;
}

/* ENDED and the log consumed: decide and record the outcome. Returns 0
 * (final, or relaunched), 1 when the backend has no result yet, or a
 * store err_code. */
static int decide(trial *t) {
    backend_result r;
    memset(&r, 0, sizeof r);
    char reason[STORE_REASON_MAX] = "";
    backend_state bs = backend_result_of(t->job.be, t->job_dir, t->handle, &r);
    double ended = (bs == BACKEND_EXITED && r.ended > 0) ? r.ended : now_of(t);
    double v = 0;
    int has = ingest_objective(t->in, &v);
    const char *objname =
        t->job.ms && t->job.objective >= 0 ? metrics_name(t->job.ms, (size_t)t->job.objective) : "";
    if (bs == BACKEND_RUNNING)
        return 1;
    if (!has && t->job.ms && t->job.objective >= 0) {
        /* Read before a restart: the store has the last value. */
        int rc = store_final_metric(t->env.st, t->id, objname, &v);
        if (rc == 0)
            has = 1;
        else if (rc != ERR_NOT_FOUND)
            return rc;
    }
    if (bs == BACKEND_LOST && r.never_started && !t->stop_why &&
        t->unstarted < TRIAL_MAX_UNSTARTED) {
        /* The daemon died before the start: nothing ran, no retry is spent. */
        log_info("training job %s never started; launching it", t->name);
        t->unstarted++;
        return relaunch(t);
    }
    if (trial_infrastructure_failure(bs, &r)) {
        int max = trial_max_retries(&t->job.r->defs[t->job.def]);
        if (!t->stop_why && t->retried < max) {
            log_warn("training job %s %s; relaunching it (attempt %d of %d)", t->name,
                     bs == BACKEND_LOST ? "was lost" : "failed for the platform's sake",
                     t->retried + 2, max + 1);
            int rc = store_training_retry(t->env.st, t->id);
            if (rc)
                return rc;
            telemetry_retried(backend_name(t->job.be));
            t->retried++;
            return relaunch(t);
        }
        if (t->stop_why)
            return finish(t, TRAINING_STOPPED, "Stopped", NULL,
                          t->stop_why == TRIAL_STOP_EARLY && has, v, ended);
        if (bs == BACKEND_LOST)
            snprintf(reason, sizeof reason,
                     STORE_INTERNAL_PREFIX ": the training job's process was lost %d times",
                     t->retried + 1);
        else
            snprintf(reason, sizeof reason, STORE_INTERNAL_PREFIX ": %s (%d attempts)",
                     r.error[0]         ? r.error
                     : r.model_error[0] ? r.model_error
                                        : "the platform failed the training job",
                     t->retried + 1);
        return fail(t, TELEMETRY_REASON_INFRASTRUCTURE, reason, ended);
    }
    if (r.result_unwritable) {
        snprintf(reason, sizeof reason,
                 STORE_INTERNAL_PREFIX ": the training job ended but its result could not be "
                                       "recorded%s%s (is the data dir's disk full?)",
                 r.error[0] ? ": " : "", r.error);
        return fail(t, TELEMETRY_REASON_UNRECORDED, reason, ended);
    }
    if (r.timed_out) {
        snprintf(reason, sizeof reason,
                 "Training job exceeded MaxRuntimeInSeconds (%ld s) and was stopped",
                 t->job.r->defs[t->job.def].max_runtime);
        return finish(t, TRAINING_STOPPED, "MaxRuntimeExceeded", reason, 0, 0, ended);
    }
    if (r.stopped || (t->stop_why && !(r.exited && r.code == 0)))
        return finish(t, TRAINING_STOPPED, "Stopped", NULL, t->stop_why == TRIAL_STOP_EARLY && has,
                      v, ended);
    if (r.exited && r.code == 0) {
        if (r.model_error[0]) {
            snprintf(reason, sizeof reason, "ClientError: %s", r.model_error);
            return fail(t, TELEMETRY_REASON_ARTIFACTS, reason, ended);
        }
        if (r.model_uri[0]) {
            int rc = store_training_artifacts(t->env.st, t->id, r.model_uri);
            if (rc)
                return rc;
        }
        if (!has && !t->job.solo)
            snprintf(reason, sizeof reason,
                     "No value of the objective metric '%s' was found in the training job's "
                     "output",
                     objname);
        return finish(t, TRAINING_COMPLETED, "Completed", reason, has, v, ended);
    }
    char failure[CONTRACT_FAILURE_MAX + 1] = "", tail[CONTRACT_TAIL_MAX];
    if (backend_caps(t->job.be) & BACKEND_CAP_HOST_DIR)
        contract_read_failure(t->job_dir, failure, sizeof failure);
    size_t tl = log_tail(t, tail, sizeof tail);
    contract_failure_reason(failure, tail, tl, &r, reason, sizeof reason);
    return fail(t, failure_class(failure, &r), reason, ended);
}

/* Delivers a stop asked for, once the store has it. */
static int deliver_stop(trial *t) {
    if (!t->stop_why || t->stop_sent || t->phase != TRIAL_RUNNING)
        return 0;
    int rc = store_sync(t->env.st); /* Stopping is durable before the signal */
    if (rc)
        return rc;
    if (backend_stop(t->job.be, t->job_dir, t->handle) == 0)
        t->stop_sent = 1;
    return 0;
}

int trial_stop(trial *t, int why) {
    if (t->stop_why || t->phase == TRIAL_FINAL)
        return 0;
    if (!training_status_can_move(t->status, TRAINING_STOPPING)) {
        log_error("BUG: training job %s: %s -> Stopping is not a legal move", t->name,
                  training_status_text(t->status));
        return 0;
    }
    double now = now_of(t);
    int rc = store_training_stop_requested(t->env.st, t->id, why);
    if (!rc)
        rc = store_add_transition(t->env.st, t->id, "Stopping", now, "Stopping the training job");
    if (rc)
        return rc;
    t->status = TRAINING_STOPPING;
    t->stop_why = why;
    return deliver_stop(t);
}

trial_step trial_tick(trial *t) {
    int rc = 0, at_end = 0;
    if (t->phase == TRIAL_FINAL)
        return TRIAL_DONE;
    if (t->phase == TRIAL_NEW) {
        if ((rc = launch(t)))
            return TRIAL_FAULT;
        if (t->phase == TRIAL_FINAL)
            return TRIAL_DONE;
    }
    if (t->phase == TRIAL_STARTING) {
        if (!t->start_failed)
            return TRIAL_ACTIVE; /* on the worker */
        rc = start_failure(t);
        if (rc > 0)
            return TRIAL_FAULT;
        return t->phase == TRIAL_FINAL ? TRIAL_DONE : TRIAL_ACTIVE;
    }
    if (t->phase == TRIAL_RUNNING) {
        /* The launch's record (written here after a launch on the worker;
         * retried when it failed, or was lost with its tick). */
        if (!t->recorded || !t->noted)
            record(t);
        if (!t->w && !t->exited) {
            backend_state s =
                backend_watch_job(t->job.be, t->job_dir, t->handle, on_exit_cb, t, &t->w);
            if (s != BACKEND_RUNNING)
                t->exited = 1;
        }
        double now = now_of(t);
        if (t->w && !t->exited && now - t->checked >= TRIAL_RECHECK_SECONDS) {
            /* A safety net under on_exit: ask the backend now and then. */
            backend_result r;
            t->checked = now;
            if (backend_result_of(t->job.be, t->job_dir, t->handle, &r) != BACKEND_RUNNING) {
                log_warn("training job %s ended without its exit being reported; finishing it",
                         t->name);
                t->exited = 1;
            }
        }
        if (t->exited)
            t->phase = TRIAL_ENDED;
        else if ((rc = deliver_stop(t)))
            return TRIAL_FAULT;
    }
    rc = ingest_slice(t->in, t->job.be, t->job_dir, t->handle, t->env.st, t->id, now_of(t),
                      t->phase == TRIAL_ENDED, &at_end);
    if (rc == INGEST_UNREADABLE) {
        /* An unreadable log: a running job is read again next tick; an ended
         * one is decided without the rest of it. */
        at_end = t->phase == TRIAL_ENDED;
        rc = 0;
    }
    if (rc)
        return TRIAL_FAULT;
    if (t->phase == TRIAL_ENDED && at_end) {
        rc = decide(t);
        if (rc == 1) { /* ended, but the backend has no result yet */
            double now = now_of(t);
            if (!t->ended_at)
                t->ended_at = now;
            else if (!t->warned && now - t->ended_at >= TRIAL_RESULT_WAIT_WARN) {
                log_warn("training job %s: ended %.0f s ago, the backend still reports it "
                         "running",
                         t->name, now - t->ended_at);
                t->warned = 1;
            }
            return TRIAL_ACTIVE;
        }
        if (rc < 0)
            return TRIAL_ACTIVE;
        if (rc)
            return TRIAL_FAULT;
        if (t->phase == TRIAL_FINAL)
            return TRIAL_DONE;
    }
    return TRIAL_ACTIVE;
}
