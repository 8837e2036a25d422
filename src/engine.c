#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contract.h"
#include "metrics.h"
#include "request.h"
#include "rng.h"
#include "space.h"
#include "strategy.h"
#include "util.h"

#define ENGINE_MAX_RETRIES 2           /* relaunches of a lost training job */
#define ENGINE_READ_PER_TICK (1 << 20) /* log bytes scanned per job per tick */
#define ENGINE_MAX_POINTS_PER_TICK 4096

typedef struct tuning tuning;

typedef struct trial {
    struct trial *next;
    tuning *tj;
    int64_t id;
    char name[STORE_NAME_MAX];
    int idx;
    int retried;
    char job_dir[1024];
    char handle[BACKEND_HANDLE_MAX];
    double *cfg; /* the config it runs (tj->sp->n values) */
    backend_watch *w;
    int exited;         /* set by the backend's on_exit callback */
    int stop_requested; /* 0, 1 user stop, 2 clock limit */
    int stop_sent;
    int log_fd;
    metrics_lines lines;
    store_point *points; /* gathered during one scan */
    size_t npoints;
    double objective_last; /* last objective value seen */
    int has_objective;
} trial;

struct tuning {
    struct tuning *next;
    engine *en;
    int64_t id;
    char account[16];
    char name[STORE_NAME_MAX];
    char arn[256];
    char status[24];
    req_tuning *req; /* the typed request, re-parsed from the stored text */
    space *sp;
    strategy *strat;
    char strategy_name[24];
    uint64_t seed;
    metrics_set *ms;
    int objective_idx;
    int maximize;
    int max_jobs, max_parallel;
    int64_t max_seconds;
    double started;
    long max_runtime;
    json_t *argv; /* resolved program */
    int solo;     /* a training job created on its own (kind "training") */
    int launched; /* training job rows created */
    int clock_expired;
    int stopping;
    trial *trials; /* running (not yet finalised) */
    int nrunning;
    /* History for the strategy: finished configs and their objectives. */
    double *hist_cfg;
    double *hist_y;
    size_t nhist, caphist;
};

struct engine {
    engine_config cfg;
    tuning *tunings;
};

/* ---------- helpers ---------- */

/* A store result the engine cannot act on where it happens is logged (a
 * tick whose writes were lost shows in store_commit_failures()). */
static void warn_store(int rc, const char *what) {
    if (rc)
        log_warn("store: %s failed (%s)", what, err_name(rc, API_CURRENT));
}

static void trial_free(engine *en, trial *t) {
    if (!t)
        return;
    en->cfg.be->ops->unwatch(en->cfg.be->self, t->w);
    if (t->log_fd >= 0)
        close(t->log_fd);
    free(t->points);
    free(t->cfg);
    free(t);
}

static void tuning_free(engine *en, tuning *tj) {
    if (!tj)
        return;
    for (trial *t = tj->trials, *n; t; t = n) {
        n = t->next;
        trial_free(en, t);
    }
    request_free(tj->req);
    json_decref(tj->argv);
    space_free(tj->sp);
    strategy_free(tj->strat);
    metrics_free(tj->ms);
    free(tj->hist_cfg);
    free(tj->hist_y);
    free(tj);
}

static tuning *find_tuning(engine *en, int64_t id) {
    for (tuning *tj = en->tunings; tj; tj = tj->next)
        if (tj->id == id)
            return tj;
    return NULL;
}

static int hist_add(tuning *tj, const double *cfg, double y) {
    size_t n = tj->sp->n ? tj->sp->n : 1;
    if (tj->nhist == tj->caphist) {
        size_t cap = tj->caphist ? tj->caphist * 2 : 32;
        double *c = realloc(tj->hist_cfg, cap * n * sizeof *c);
        if (!c)
            return -1;
        tj->hist_cfg = c;
        double *y2 = realloc(tj->hist_y, cap * sizeof *y2);
        if (!y2)
            return -1;
        tj->hist_y = y2;
        tj->caphist = cap;
    }
    memcpy(tj->hist_cfg + tj->nhist * n, cfg, tj->sp->n * sizeof *cfg);
    tj->hist_y[tj->nhist++] = y;
    return 0;
}

/* engine_resolve_image, its messages naming the field `path`. */
static json_t *resolve_image(const engine *en, const char *image, const char *path, err_t *e) {
    const json_t *entry = en->cfg.images ? json_object_get(en->cfg.images, image) : NULL;
    json_t *argv = NULL;
    if (entry) {
        if (json_is_string(entry)) {
            argv = json_pack("[O]", entry);
        } else if (json_is_array(entry) && json_array_size(entry) > 0) {
            argv = json_deep_copy(entry);
        }
        if (!argv)
            err_set(e, ERR_VALIDATION,
                    "%s: catalog entry for '%.200s' is not a program or an argument list", path,
                    image);
        return argv;
    }
    const char *file = !image ? "" : !strncmp(image, "file://", 7) ? image + 7 : image;
    struct stat st;
    if (file[0] == '/' && stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0)
        return json_pack("[s]", file);
    err_set(e, ERR_VALIDATION,
            "%s: '%.200s' is neither in the image catalog nor an absolute path (or file:// URI) "
            "of an executable file",
            path, image ? image : "");
    return NULL;
}

json_t *engine_resolve_image(const engine *en, const char *image, err_t *e) {
    return resolve_image(en, image, "TrainingJobDefinition.AlgorithmSpecification.TrainingImage",
                         e);
}

/* The image of definition 0 of `r`, messages in r's API's path. */
static json_t *request_image(const engine *en, const req_tuning *r, err_t *e) {
    char path[160];
    return resolve_image(
        en, r->defs[0].image,
        request_def_path(r, 0, "AlgorithmSpecification.TrainingImage", path, sizeof path), e);
}

/* The metric set of definition 0 of `r`. */
static metrics_set *request_metrics(const req_tuning *r, err_t *e) {
    json_t *defs = request_metrics_json(&r->defs[0]);
    metrics_set *ms = defs ? metrics_compile(defs, e) : NULL;
    if (!defs)
        err_set(e, ERR_INTERNAL, "out of memory");
    json_decref(defs);
    return ms;
}

/* ---------- log tailing and metrics ---------- */

typedef struct {
    trial *t;
} scan_ctx;

static void on_point(void *ud, size_t index, double value) {
    trial *t = ud;
    tuning *tj = t->tj;
    if (t->npoints >= ENGINE_MAX_POINTS_PER_TICK)
        return;
    t->points[t->npoints].name = metrics_name(tj->ms, index);
    t->points[t->npoints].ts = util_now();
    t->points[t->npoints].value = value;
    t->npoints++;
    if ((int)index == tj->objective_idx) {
        t->objective_last = value;
        t->has_objective = 1;
    }
}

static void on_line(void *ud, const char *line, size_t len) {
    trial *t = ud;
    metrics_scan_line(t->tj->ms, line, len, on_point, t);
}

/* Reads what is new in the job's log (at most ENGINE_READ_PER_TICK bytes, or
 * everything when `all`), and stores the points found. */
static void tail_log(engine *en, trial *t, int all) {
    char buf[65536];
    size_t total = 0;
    if (t->log_fd < 0) {
        char p[1100];
        snprintf(p, sizeof p, "%s/%s", t->job_dir, BACKEND_LOG_NAME);
        t->log_fd = open(p, O_RDONLY | O_CLOEXEC);
        if (t->log_fd < 0)
            return;
        if (lseek(t->log_fd, (off_t)t->lines.consumed, SEEK_SET) < 0)
            return;
    }
    for (;;) {
        if (!all && total >= ENGINE_READ_PER_TICK)
            break;
        ssize_t r = read(t->log_fd, buf, sizeof buf);
        if (r <= 0)
            break;
        total += (size_t)r;
        metrics_lines_feed(&t->lines, buf, (size_t)r, on_line, t);
        if (t->npoints >= ENGINE_MAX_POINTS_PER_TICK / 2) {
            warn_store(
                store_add_points(en->cfg.st, t->id, t->points, t->npoints, t->lines.consumed),
                "add_points");
            t->npoints = 0;
        }
    }
    if (t->npoints) {
        warn_store(store_add_points(en->cfg.st, t->id, t->points, t->npoints, t->lines.consumed),
                   "add_points");
        t->npoints = 0;
    }
}

/* ---------- launching ---------- */

static void on_trial_exit(void *ud) {
    trial *t = ud;
    t->exited = 1;
    loop_kick(t->tj->en->cfg.l); /* finalise (and refill the slot) on this iteration */
}

static trial *trial_new(tuning *tj, const store_training *row) {
    trial *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cfg = calloc(tj->sp->n ? tj->sp->n : 1, sizeof *t->cfg);
    t->points = calloc(ENGINE_MAX_POINTS_PER_TICK, sizeof *t->points);
    if (!t->cfg || !t->points) {
        free(t->cfg);
        free(t->points);
        free(t);
        return NULL;
    }
    t->tj = tj;
    t->id = row->id;
    snprintf(t->name, sizeof t->name, "%s", row->name);
    t->idx = row->idx;
    t->retried = row->retried;
    snprintf(t->job_dir, sizeof t->job_dir, "%s", row->job_dir);
    snprintf(t->handle, sizeof t->handle, "%s", row->handle);
    t->stop_requested = row->stop_requested;
    t->log_fd = -1;
    t->lines.consumed = row->log_offset;
    json_t *tuned = json_loads(row->tuned ? row->tuned : "{}", 0, NULL);
    if (!tuned || space_parse(tj->sp, tuned, t->cfg))
        log_warn("training job %s: cannot read back its hyperparameters", row->name);
    json_decref(tuned);
    t->next = tj->trials;
    tj->trials = t;
    tj->nrunning++;
    return t;
}

/* Prepares the job directory and starts the program; on failure the training
 * job is finished as Failed. Returns 0 when it runs. */
static int trial_launch(engine *en, trial *t) {
    tuning *tj = t->tj;
    err_t e = {0};
    store_training row = {0};
    json_t *hp = NULL, *channels = NULL, *environment = NULL;
    char **env = NULL, **argv = NULL;
    int rc = store_get_training_by_id(en->cfg.st, t->id, &row);
    if (rc)
        return rc;
    hp = json_loads(row.hyperparameters, 0, NULL);
    const req_training_def *def = &tj->req->defs[0];
    channels = request_channels_json(def);
    environment = def->nenv ? request_kv_json(def->env, def->nenv) : NULL;
    contract_job cj = {
        .job_name = t->name,
        .job_dir = t->job_dir,
        .hyperparameters = hp,
        .channels = channels,
        .input_mode = def->input_mode,
        .environment = environment,
    };
    util_rm_rf(t->job_dir); /* a relaunch starts from a clean directory */
    if (!hp) {
        rc = err_set(&e, ERR_INTERNAL, "cannot read hyperparameters");
        goto out;
    }
    if ((rc = contract_prepare(&cj, &e)))
        goto out;
    if (!(env = contract_env(&cj, t->job_dir))) {
        rc = err_set(&e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    size_t n = json_array_size(tj->argv);
    if (!(argv = calloc(n + 2, sizeof *argv))) {
        rc = err_set(&e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        argv[i] = (char *)json_string_value(json_array_get(tj->argv, i));
    argv[n] = "train";
    backend_launch bl = {.name = t->name,
                         .job_dir = t->job_dir,
                         .argv = argv,
                         .envp = env,
                         .max_runtime = tj->max_runtime,
                         .grace = en->cfg.grace};
    /* Write-ahead: the training job's row is durable before it can run. */
    if ((rc = store_sync(en->cfg.st))) {
        err_set(&e, rc, "cannot record the training job");
        goto out;
    }
    if ((rc = en->cfg.be->ops->launch(en->cfg.be->self, &bl, t->handle, &e)))
        goto out;
    double now = util_now();
    rc = store_training_launched(en->cfg.st, t->id, t->handle, now);
    if (!rc)
        rc = store_add_transition(en->cfg.st, t->id, "Training", now,
                                  "Training image download completed. Training in progress.");
    en->cfg.be->ops->watch(en->cfg.be->self, t->job_dir, t->handle, on_trial_exit, t, &t->w);
    log_debug("launched %s (%s)", t->name, t->handle);
out:
    if (rc) {
        log_warn("training job %s failed to start: %s", t->name, e.msg);
        warn_store(
            store_training_finish(en->cfg.st, t->id, "Failed", "Failed", e.msg, 0, 0, util_now()),
            "training_finish");
        t->exited = -1; /* finalised already: just drop it */
    }
    store_training_clear(&row);
    json_decref(hp);
    json_decref(channels);
    json_decref(environment);
    contract_env_free(env);
    free(argv);
    return rc;
}

/* Training job name: <tuning>-<3-digit index>-<8 hex>, the hex derived from
 * the tuning job's ARN and the index, so it is stable across restarts. */
static void training_name(const tuning *tj, int idx, char *out, size_t n) {
    if (tj->solo) {
        snprintf(out, n, "%s", tj->name);
        return;
    }
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = tj->arn; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = rng_mix64(h ^ (uint64_t)idx);
    snprintf(out, n, "%s-%03d-%08x", tj->name, idx + 1, (unsigned)(h & 0xffffffffu));
}

/* The tuning job's tags, copied to its training job `name` (whose ARN is
 * the tuning job's with training-job/<name> as the resource). */
static int copy_tags(engine *en, const tuning *tj, const char *name) {
    char arn[320];
    const char *p = tj->arn;
    for (int colons = 0; *p && colons < 5; p++)
        colons += *p == ':';
    snprintf(arn, sizeof arn, "%.*straining-job/%s", (int)(p - tj->arn), tj->arn, name);
    for (size_t i = 0; i < tj->req->ntags; i++)
        if (store_tags_add(en->cfg.st, tj->account, arn, tj->req->tags[i].key,
                           tj->req->tags[i].value))
            return ERR_INTERNAL;
    return 0;
}

static int launch_next(engine *en, tuning *tj) {
    err_t e = {0};
    size_t d = tj->sp->n;
    double *cfg = calloc(d ? d : 1, sizeof *cfg);
    strategy_obs *obs = calloc(tj->nhist ? tj->nhist : 1, sizeof *obs);
    const double **pend = calloc((size_t)tj->nrunning + 1, sizeof *pend);
    json_t *tuned = json_object(), *hp = NULL;
    char *tuned_s = NULL, *hp_s = NULL;
    int rc = ERR_INTERNAL;
    if (!cfg || !obs || !pend || !tuned)
        goto out;
    for (size_t i = 0; i < tj->nhist; i++) {
        obs[i].cfg = tj->hist_cfg + i * (d ? d : 1);
        obs[i].y = tj->hist_y[i];
    }
    size_t np = 0;
    for (trial *t = tj->trials; t; t = t->next)
        pend[np++] = t->cfg;
    if ((rc = strategy_suggest(tj->strat, (uint64_t)tj->launched, obs, tj->nhist, pend, np, cfg,
                               &e))) {
        log_error("tuning job %s: strategy failed: %s", tj->name, e.msg);
        goto out;
    }
    rc = ERR_INTERNAL;
    if (space_format(tj->sp, cfg, tuned))
        goto out;
    hp = request_kv_json(tj->req->defs[0].static_hp, tj->req->defs[0].nstatic);
    if (!hp || json_object_update(hp, tuned))
        goto out;
    /* The current API tells the program which metric is tuned. */
    if (tj->ms && tj->objective_idx >= 0 && tj->req->api == API_CURRENT)
        json_object_set_new(hp, "_tuning_objective_metric",
                            json_string(metrics_name(tj->ms, (size_t)tj->objective_idx)));
    tuned_s = json_dumps(tuned, JSON_COMPACT | JSON_SORT_KEYS);
    hp_s = json_dumps(hp, JSON_COMPACT | JSON_SORT_KEYS);
    if (!tuned_s || !hp_s)
        goto out;
    store_training row = {0};
    row.tuning_id = tj->id;
    snprintf(row.account, sizeof row.account, "%s", tj->account);
    training_name(tj, tj->launched, row.name, sizeof row.name);
    row.idx = tj->launched;
    snprintf(row.status, sizeof row.status, "InProgress");
    snprintf(row.secondary, sizeof row.secondary, "Starting");
    row.hyperparameters = hp_s;
    row.tuned = tuned_s;
    snprintf(row.strategy, sizeof row.strategy, "%s", tj->strategy_name);
    row.seed = tj->seed;
    row.created = util_now();
    snprintf(row.job_dir, sizeof row.job_dir, "%s/jobs/%s/%s", en->cfg.data_dir, tj->account,
             row.name);
    if ((rc = store_insert_training(en->cfg.st, &row, &e))) {
        log_error("tuning job %s: %s", tj->name, e.msg);
        goto out;
    }
    warn_store(store_add_transition(en->cfg.st, row.id, "Starting", row.created,
                                    "Preparing the instances for training"),
               "add_transition");
    if (!tj->solo && (rc = copy_tags(en, tj, row.name))) {
        log_error("tuning job %s: cannot tag training job %s", tj->name, row.name);
        goto out;
    }
    tj->launched++;
    trial *t = trial_new(tj, &row);
    if (!t) {
        rc = ERR_INTERNAL;
        goto out;
    }
    memcpy(t->cfg, cfg, d * sizeof *cfg);
    trial_launch(en, t);
    rc = 0;
out:
    free(cfg);
    free(obs);
    free(pend);
    json_decref(tuned);
    json_decref(hp);
    free(tuned_s);
    free(hp_s);
    return rc;
}

/* ---------- finishing training jobs ---------- */

/* Last non-empty line of the job's log, for a failure reason. */
static void last_log_line(const char *job_dir, char *out, size_t n) {
    char p[1100], buf[1024];
    out[0] = 0;
    snprintf(p, sizeof p, "%s/%s", job_dir, BACKEND_LOG_NAME);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t start = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
    ssize_t r = pread(fd, buf, sizeof buf - 1, start);
    close(fd);
    if (r <= 0)
        return;
    buf[r] = 0;
    while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == '\r' || buf[r - 1] == ' '))
        buf[--r] = 0;
    char *nl = strrchr(buf, '\n');
    snprintf(out, n, "%s", nl ? nl + 1 : buf);
}

/* Reads output/failure (first 1024 bytes). */
static int failure_file(const char *job_dir, char *out, size_t n) {
    char p[1100];
    size_t len = 0;
    snprintf(p, sizeof p, "%s/output/failure", job_dir);
    char *s = util_read_file(p, n - 1, &len);
    if (!s)
        return 0;
    while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
        s[--len] = 0;
    snprintf(out, n, "%s", s);
    free(s);
    return len > 0;
}

/* Decides the final state of an ended training job and records it. Returns
 * 1 when the job was relaunched instead (it stays running). */
static int trial_finish(engine *en, trial *t) {
    tuning *tj = t->tj;
    backend_result r;
    char reason[STORE_REASON_MAX] = "", tail[300];
    const char *status = "Failed", *secondary = "Failed";
    backend_state bs = en->cfg.be->ops->result(en->cfg.be->self, t->job_dir, t->handle, &r);
    if (bs == BACKEND_RUNNING)
        return 1; /* not over yet: the lock is still held for a moment */
    tail_log(en, t, 1);
    if (bs == BACKEND_LOST) {
        if (!t->stop_requested && t->retried < ENGINE_MAX_RETRIES) {
            log_warn("training job %s was lost; relaunching it (attempt %d)", t->name,
                     t->retried + 2);
            warn_store(store_training_retry(en->cfg.st, t->id), "training_retry");
            t->retried++;
            t->lines = (metrics_lines){0};
            t->has_objective = 0;
            if (t->log_fd >= 0)
                close(t->log_fd);
            t->log_fd = -1;
            en->cfg.be->ops->unwatch(en->cfg.be->self, t->w);
            t->w = NULL;
            t->exited = 0;
            t->handle[0] = 0;
            return trial_launch(en, t) == 0;
        }
        if (t->stop_requested) {
            status = secondary = "Stopped";
        } else {
            snprintf(reason, sizeof reason,
                     "InternalServerError: the training job's process was lost %d times",
                     t->retried + 1);
        }
    } else if (r.timed_out) {
        status = "Stopped";
        secondary = "MaxRuntimeExceeded";
        snprintf(reason, sizeof reason,
                 "Training job exceeded MaxRuntimeInSeconds (%ld s) and was stopped",
                 tj->max_runtime);
    } else if (r.stopped || (t->stop_requested && !(r.exited && r.code == 0))) {
        status = secondary = "Stopped";
    } else if (r.exited && r.code == 0) {
        status = secondary = "Completed";
        if (!t->has_objective && tj->ms && tj->objective_idx >= 0) {
            double v;
            if (store_final_metric(en->cfg.st, t->id,
                                   metrics_name(tj->ms, (size_t)tj->objective_idx), &v) == 0) {
                t->objective_last = v;
                t->has_objective = 1;
            }
        }
        if (!t->has_objective && !tj->solo)
            snprintf(reason, sizeof reason,
                     "No value of the objective metric '%s' was found in the training job's "
                     "output",
                     tj->ms && tj->objective_idx >= 0
                         ? metrics_name(tj->ms, (size_t)tj->objective_idx)
                         : "");
    } else if (failure_file(t->job_dir, reason, sizeof reason)) {
        /* output/failure says it all */
    } else {
        last_log_line(t->job_dir, tail, sizeof tail);
        if (r.error[0])
            snprintf(reason, sizeof reason, "AlgorithmError: %s", r.error);
        else if (r.exited)
            snprintf(reason, sizeof reason,
                     "AlgorithmError: training program exited with code "
                     "%d%s%s",
                     r.code, tail[0] ? ": " : "", tail);
        else
            snprintf(reason, sizeof reason,
                     "AlgorithmError: training program was killed by "
                     "signal %d%s%s",
                     r.signal, tail[0] ? ": " : "", tail);
    }
    int has_obj = !strcmp(status, "Completed") && t->has_objective;
    double ended = (bs == BACKEND_EXITED && r.ended > 0) ? r.ended : util_now();
    if (!strcmp(status, "Completed")) {
        char uri[1100];
        err_t pe = {0};
        if (contract_pack_model(t->job_dir, t->name, tj->req->defs[0].output_path, uri, sizeof uri,
                                &pe) == 0) {
            if (uri[0])
                warn_store(store_training_artifacts(en->cfg.st, t->id, uri), "training_artifacts");
        } else {
            status = secondary = "Failed";
            snprintf(reason, sizeof reason, "ClientError: %s", pe.msg);
            has_obj = 0;
        }
    }
    warn_store(store_training_finish(en->cfg.st, t->id, status, secondary,
                                     reason[0] ? reason : NULL, has_obj, t->objective_last, ended),
               "training_finish");
    warn_store(
        store_add_transition(en->cfg.st, t->id, secondary, ended,
                             !strcmp(secondary, "Completed") ? "Training job completed"
                             : !strcmp(secondary, "Failed")  ? "Training job failed"
                             : !strcmp(secondary, "MaxRuntimeExceeded")
                                 ? "Training job stopped because it exceeded MaxRuntimeInSeconds"
                                 : "Training job stopped"),
        "add_transition");
    double y = has_obj ? (tj->maximize ? -t->objective_last : t->objective_last) : NAN;
    hist_add(tj, t->cfg, y);
    log_debug("training job %s: %s %s", t->name, status, reason);
    return 0;
}

/* ---------- tuning job lifecycle ---------- */

static void stop_trial(engine *en, trial *t, int why) {
    if (!t->stop_requested) {
        t->stop_requested = why;
        warn_store(store_training_stop_requested(en->cfg.st, t->id, why),
                   "training_stop_requested");
        warn_store(store_add_transition(en->cfg.st, t->id, "Stopping", util_now(),
                                        "Stopping the training job"),
                   "add_transition");
    }
    if (!t->stop_sent && (t->handle[0] || t->w)) {  /* launched: it can be signalled */
        warn_store(store_sync(en->cfg.st), "sync"); /* Stopping is durable before the signal */
        en->cfg.be->ops->stop(en->cfg.be->self, t->job_dir, t->handle);
        t->stop_sent = 1;
    }
}

static void finish_tuning(engine *en, tuning *tj) {
    store_counts c;
    const char *status = "Completed", *reason = NULL;
    warn_store(store_tuning_counts(en->cfg.st, tj->id, util_now(), &c), "tuning_counts");
    if (tj->solo)
        status = c.completed ? "Completed" : c.stopped ? "Stopped" : "Failed";
    else if (tj->stopping)
        status = "Stopped";
    else if (c.objective_succeeded == 0) {
        status = "Failed";
        reason = "No training job reported a value of the objective metric";
    }
    warn_store(store_set_tuning_status(en->cfg.st, tj->id, status, reason, 0, util_now()),
               "set_tuning_status");
    snprintf(tj->status, sizeof tj->status, "%s", status);
    log_info("tuning job %s: %s (%d training jobs)", tj->name, status, c.total);
}

static void tick_tuning(engine *en, tuning *tj) {
    /* 1. Tail logs and finalise the jobs that ended. */
    for (trial **pp = &tj->trials; *pp;) {
        trial *t = *pp;
        if (t->exited == 0 && !t->w) {
            /* Not watched yet (adopted while starting): try again. */
            backend_state s = en->cfg.be->ops->watch(en->cfg.be->self, t->job_dir, t->handle,
                                                     on_trial_exit, t, &t->w);
            if (s != BACKEND_RUNNING)
                t->exited = 1;
        }
        if (t->exited == 0)
            tail_log(en, t, 0);
        /* A stop not yet delivered (the job was not watchable yet) is retried. */
        if (t->exited == 0 && (tj->stopping || t->stop_requested) && !t->stop_sent)
            stop_trial(en, t, t->stop_requested ? t->stop_requested : 1);
        if (t->exited != 0 && (t->exited < 0 || trial_finish(en, t) == 0)) {
            *pp = t->next;
            tj->nrunning--;
            trial_free(en, t);
            continue;
        }
        pp = &t->next;
    }
    if (strcmp(tj->status, "Running") && strcmp(tj->status, "Stopping"))
        return;
    /* 2. The clock limit. */
    if (!tj->clock_expired && tj->max_seconds > 0 && util_now() - tj->started >= tj->max_seconds) {
        tj->clock_expired = 1;
        log_info("tuning job %s reached MaxClockTimeInHours", tj->name);
        for (trial *t = tj->trials; t; t = t->next)
            stop_trial(en, t, 2);
    }
    /* 3. Launch while there is room. */
    int machine_limit = en->cfg.max_running > 0 ? en->cfg.max_running : 64;
    while (!tj->stopping && !tj->clock_expired && tj->nrunning < tj->max_parallel &&
           tj->launched < tj->max_jobs && engine_running(en) < machine_limit) {
        if (launch_next(en, tj))
            break;
    }
    /* 4. Done? */
    if (tj->nrunning == 0 && (tj->stopping || tj->clock_expired || tj->launched >= tj->max_jobs))
        finish_tuning(en, tj);
}

void engine_tick(engine *en) {
    /* One transaction per tick, made durable before every launch and signal
     * (store_sync): a handful of fsyncs per tick instead of several per job. */
    warn_store(store_begin(en->cfg.st), "begin");
    for (tuning **pp = &en->tunings; *pp;) {
        tuning *tj = *pp;
        tick_tuning(en, tj);
        if (strcmp(tj->status, "Running") && strcmp(tj->status, "Stopping") &&
            strcmp(tj->status, "Created")) {
            *pp = tj->next;
            tuning_free(en, tj);
            continue;
        }
        pp = &tj->next;
    }
    warn_store(store_commit(en->cfg.st), "commit");
}

/* Builds the in-memory tuning job from its row; adopts its training jobs. */
static void load_training(void *ud, const store_training *row);

static int load_tuning(engine *en, const store_tuning *row, err_t *e) {
    tuning *tj = calloc(1, sizeof *tj);
    int rc = ERR_INTERNAL;
    if (!tj)
        return err_set(e, ERR_INTERNAL, "out of memory");
    tj->en = en;
    tj->id = row->id;
    tj->solo = !strcmp(row->kind, "training");
    snprintf(tj->account, sizeof tj->account, "%s", row->account);
    snprintf(tj->name, sizeof tj->name, "%s", row->name);
    snprintf(tj->arn, sizeof tj->arn, "%s", row->arn);
    snprintf(tj->status, sizeof tj->status, "%s", row->status);
    snprintf(tj->strategy_name, sizeof tj->strategy_name, "%s", row->strategy);
    tj->seed = row->seed;
    tj->max_jobs = row->max_jobs;
    tj->max_parallel = row->max_parallel < row->max_jobs ? row->max_parallel : row->max_jobs;
    tj->max_seconds = row->max_seconds;
    tj->started = row->started > 0 ? row->started : util_now();
    tj->stopping = !strcmp(row->status, "Stopping");
    tj->maximize = !strcmp(row->objective_type, "Maximize");
    tj->objective_idx = -1;
    const char *op = tj->solo                  ? "CreateTrainingJob"
                     : row->api == API_CURRENT ? "CreateHyperParameterTuningJob"
                                               : "CreateTuningJob";
    if (request_parse_text((api_flavor)row->api, op, row->request, row->account, &tj->req, e))
        goto fail;
    tj->max_runtime = tj->req->defs[0].max_runtime;
    if (!(tj->sp = request_space(tj->req, 0, e)))
        goto fail;
    if (!(tj->strat = strategy_new(row->strategy, tj->sp, row->seed, NULL, 0, e)))
        goto fail;
    if (!(tj->ms = request_metrics(tj->req, e)))
        goto fail;
    for (size_t i = 0; i < metrics_count(tj->ms); i++)
        if (!strcmp(metrics_name(tj->ms, i), row->objective_metric))
            tj->objective_idx = (int)i;
    if (!(tj->argv = request_image(en, tj->req, e)))
        goto fail;
    tj->next = en->tunings;
    en->tunings = tj;
    warn_store(store_each_training(en->cfg.st, tj->id, load_training, tj), "each_training");
    if (!strcmp(tj->status, "Created")) {
        warn_store(store_set_tuning_status(en->cfg.st, tj->id, "Running", NULL, tj->started, 0),
                   "set_tuning_status");
        snprintf(tj->status, sizeof tj->status, "Running");
    }
    return 0;
fail:
    rc = e->code ? e->code : ERR_INTERNAL;
    {
        /* A job that can no longer run fails, with the reason. */
        log_error("tuning job %s cannot run: %s", row->name, e->msg);
        warn_store(store_set_tuning_status(en->cfg.st, row->id, "Failed", e->msg, 0, util_now()),
                   "set_tuning_status");
        tuning_free(en, tj);
    }
    return rc;
}

static void load_training(void *ud, const store_training *row) {
    tuning *tj = ud;
    engine *en = NULL;
    (void)en;
    if (row->idx + 1 > tj->launched)
        tj->launched = row->idx + 1;
    int running = !strcmp(row->status, "InProgress") || !strcmp(row->status, "Stopping");
    if (!running) {
        double *cfg = calloc(tj->sp->n ? tj->sp->n : 1, sizeof *cfg);
        json_t *tuned = json_loads(row->tuned ? row->tuned : "{}", 0, NULL);
        if (cfg && tuned && space_parse(tj->sp, tuned, cfg) == 0) {
            int ok = !strcmp(row->status, "Completed") && row->has_objective;
            hist_add(tj, cfg, ok ? (tj->maximize ? -row->objective : row->objective) : NAN);
        }
        json_decref(tuned);
        free(cfg);
        return;
    }
    trial *t = trial_new(tj, row);
    if (!t)
        return;
    /* Watched on the first tick (it may be starting, running or ended). */
    t->w = NULL;
    if (!row->handle[0] && !row->stop_requested)
        t->exited = 0; /* never launched, or launched without its handle recorded */
}

typedef struct {
    engine *en;
    err_t *e;
} load_ctx;

static void load_one(void *ud, const store_tuning *row) {
    load_ctx *c = ud;
    err_t e = {0};
    load_tuning(c->en, row, &e);
}

int engine_start(engine *en, err_t *e) {
    load_ctx c = {en, e};
    int rc = store_each_active_tuning(en->cfg.st, load_one, &c);
    if (rc)
        return err_set(e, rc, "cannot read tuning jobs from the store");
    /* Training jobs recorded but never launched (crash between the row and the
     * launch) have no runner: their first watch reports them lost, and they are
     * launched then. */
    int n = 0;
    for (tuning *tj = en->tunings; tj; tj = tj->next)
        n += tj->nrunning;
    if (en->tunings)
        log_info("resumed tuning jobs; %d training jobs to re-adopt", n);
    return 0;
}

int engine_check_tuning(const engine *en, const req_tuning *r, err_t *e) {
    space *sp = request_space(r, 0, e);
    strategy *st = sp ? strategy_new(request_strategy_name(r->strategy), sp, 1, NULL, 0, e) : NULL;
    metrics_set *ms = st ? request_metrics(r, e) : NULL;
    json_t *argv = ms ? request_image(en, r, e) : NULL;
    int rc = argv ? 0 : e->code ? e->code : ERR_INTERNAL;
    json_decref(argv);
    metrics_free(ms);
    strategy_free(st);
    space_free(sp);
    return rc;
}

int engine_add_tuning(engine *en, int64_t tuning_id, err_t *e) {
    store_tuning row = {0};
    int rc = store_get_tuning_by_id(en->cfg.st, tuning_id, &row);
    if (rc)
        return err_set(e, rc, "tuning job vanished");
    row.started = util_now();
    rc = load_tuning(en, &row, e);
    store_tuning_clear(&row);
    loop_kick(en->cfg.l);
    return rc;
}

int engine_stop_tuning(engine *en, int64_t tuning_id, err_t *e) {
    tuning *tj = find_tuning(en, tuning_id);
    if (!tj)
        return 0;
    if (!strcmp(tj->status, "Stopping"))
        return 0;
    int rc = store_set_tuning_status(en->cfg.st, tj->id, "Stopping", NULL, 0, 0);
    if (rc)
        return err_set(e, rc, "cannot record the stop");
    snprintf(tj->status, sizeof tj->status, "Stopping");
    tj->stopping = 1;
    for (trial *t = tj->trials; t; t = t->next)
        stop_trial(en, t, 1);
    loop_kick(en->cfg.l);
    return 0;
}

int engine_stop_training(engine *en, int64_t training_id, err_t *e) {
    for (tuning *tj = en->tunings; tj; tj = tj->next)
        for (trial *t = tj->trials; t; t = t->next)
            if (t->id == training_id && t->exited == 0) {
                stop_trial(en, t, 1);
                if (tj->solo) {
                    tj->stopping = 1;
                    warn_store(store_set_tuning_status(en->cfg.st, tj->id, "Stopping", NULL, 0, 0),
                               "set_tuning_status");
                    snprintf(tj->status, sizeof tj->status, "Stopping");
                }
                loop_kick(en->cfg.l);
                return 0;
            }
    return err_set(e, ERR_VALIDATION, "The training job is not running");
}

int engine_running(const engine *en) {
    int n = 0;
    for (const tuning *tj = en->tunings; tj; tj = tj->next)
        n += tj->nrunning;
    return n;
}

engine *engine_new(const engine_config *cfg, err_t *e) {
    engine *en = calloc(1, sizeof *en);
    if (!en) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    en->cfg = *cfg;
    return en;
}

void engine_free(engine *en) {
    if (!en)
        return;
    for (tuning *tj = en->tunings, *n; tj; tj = n) {
        n = tj->next;
        tuning_free(en, tj);
    }
    free(en);
}
