/* engine — scheduling of tuning jobs (see engine.h). A training job's own
 * lifecycle is trial.c's; this file decides when trials start and stop, and
 * when a tuning job ends. */
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"
#include "completion.h"
#include "image.h"
#include "metrics.h"
#include "rng.h"
#include "space.h"
#include "status.h"
#include "strategy.h"
#include "telemetry.h"
#include "tenant.h"
#include "trial.h"
#include "util.h"
#include "warmstart.h"

typedef struct tuning tuning;

/* What a tuning job's trials borrow for their launches (the request, the
 * resolved image): shared with the launches on the worker, which may
 * outlive the tuning job and the engine (trial.h, trial_job.ref). Counted
 * and freed on the loop thread only. */
typedef struct tuning_def {
    struct tuning_def *next; /* the engine's list (while en is set) */
    engine *en;              /* NULL once the engine is gone */
    int refs;                /* the tuning job's own, plus one per launch in flight */
    req_tuning *r;
    image_spec img[REQ_MAX_DEFINITIONS]; /* each definition's, resolved */
} tuning_def;

/* One training job definition's search: a tuning job has one per
 * definition (TrainingJobDefinitions: up to REQ_MAX_DEFINITIONS; else one),
 * each with its own space, strategy, metrics and backend. Which definition
 * a new training job runs: next_def. */
typedef struct {
    space *sp;
    strategy *strat; /* NULL for a training job created on its own */
    metrics_set *ms;
    int objective; /* index of the objective in ms, or -1 */
    backend *be;
    int launched; /* training jobs of this definition: its strategy's next index */
} def_search;

/* A finished trial, for the strategy. */
typedef struct {
    double *cfg; /* sp->n values */
    double y;    /* minimised objective, or NAN */
    int64_t *step;
    double *cy; /* minimised curve */
    size_t n;
    double ended; /* when it finished (the completion criteria's order) */
    size_t def;   /* the definition it ran (its cfg is of that one's space) */
} hist_entry;

/* A suggestion being computed (on the worker, or inline). */
typedef struct suggest_job {
    struct suggest_job *next; /* the engine's list of jobs in flight */
    engine *en;               /* NULL once the engine is gone */
    tuning *tj;               /* NULL once the tuning job is gone */
    strategy *strat;          /* borrowed from tj, or owned once tj is gone */
    space *sp;                /* likewise */
    size_t def;               /* the definition it proposes for */
    uint64_t index;
    strategy_obs *done;
    size_t ndone;
    double *done_cfg;
    const double **pending;
    double *pending_cfg;
    size_t npending;
    double *out;
    int rc;
    err_t e;
    double seconds; /* run()'s time (on the worker), recorded by done() */
} suggest_job;

struct tuning {
    struct tuning *next;
    engine *en;
    int64_t id;
    char account[16];
    char name[STORE_NAME_MAX];
    char arn[256];
    tuning_status status;
    tuning_def *def; /* owns r and img (shared with launches in flight) */
    req_tuning *r;   /* = def->r */
    def_search ds[REQ_MAX_DEFINITIONS];
    size_t nds;   /* r->ndefs once loaded */
    int maximize; /* the objective's direction (every definition's: request_check) */
    int solo;
    uint64_t seed; /* the stored seed (the request may not give one) */
    int max_jobs, max_parallel;
    int64_t max_seconds;
    double started;
    int launched; /* training job rows created (the next index) */
    int clock_expired, exhausted;
    int completed_early; /* a TuningJobCompletionCriteria is met: no more launches */
    int not_improving;   /* as last stored */
    double converged;    /* ConvergenceDetectedTime as stored, 0 = none */
    size_t evaluated;    /* nhist at the last completion check */
    trial **trials;      /* not yet final */
    size_t ntrials, captrials;
    size_t *checked; /* per trial: curve length at the last should_stop */
    hist_entry *hist;
    size_t nhist, caphist;
    suggest_job *inflight;
    double *ready;    /* a suggestion computed, to apply on the next tick */
    size_t ready_def; /* the definition it is for */
    int failed_load;
};

struct engine {
    engine_config cfg;
    trial_env tenv;
    tuning *tunings;
    suggest_job *jobs;
    tuning_def *defs; /* every tuning_def alive */
    int launching;    /* launches on the worker (orphaned ones included) */
    int reload;       /* memory was dropped: re-adopt from the store on the next tick (once no
                         launch of the dropped trials is in flight) */
};

static double now_of(const engine *en) {
    return en->cfg.now ? en->cfg.now(en->cfg.now_ud) : util_now();
}

/* Store results the engine cannot act on (a log line, then on). */
/* ---------- suggestions ---------- */

static void job_free(suggest_job *j) {
    if (!j)
        return;
    if (!j->tj) { /* orphaned: it owns what the tuning job left it */
        strategy_free(j->strat);
        space_free(j->sp);
    }
    free(j->done);
    free(j->done_cfg);
    free(j->pending);
    free(j->pending_cfg);
    free(j->out);
    free(j);
}

static void job_unlink(engine *en, suggest_job *j) {
    for (suggest_job **pp = &en->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            return;
        }
}

static void suggest_run(void *arg) {
    suggest_job *j = arg;
    double t0 = telemetry_clock();
    j->rc = strategy_suggest(j->strat, j->index, j->done, j->ndone, j->pending, j->npending, j->out,
                             &j->e);
    j->seconds = telemetry_clock() - t0;
}

static void suggest_done(void *arg, int cancelled) {
    suggest_job *j = arg;
    if (j->en)
        job_unlink(j->en, j);
    if (!cancelled && !j->rc)
        telemetry_suggestion(strategy_name(j->strat), j->seconds);
    if (j->tj) {
        tuning *tj = j->tj;
        tj->inflight = NULL;
        if (!cancelled && j->rc == 0 && !tj->ready) {
            tj->ready = j->out;
            tj->ready_def = j->def;
            j->out = NULL;
        } else if (!cancelled && j->rc) {
            log_error("tuning job %s: strategy failed: %s", tj->name, j->e.msg);
        }
        if (j->en)
            loop_kick(j->en->cfg.l);
    }
    job_free(j);
}

/* Starts computing the next config of tj's definition k, from that
 * definition's history and pending trials. 0, or -1 when it cannot. */
static int suggest_start(engine *en, tuning *tj, size_t k) {
    const def_search *ds = &tj->ds[k];
    size_t d = ds->sp->n ? ds->sp->n : 1;
    suggest_job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->en = en;
    j->tj = tj;
    j->strat = ds->strat;
    j->sp = ds->sp;
    j->def = k;
    j->index = (uint64_t)ds->launched;
    j->done = calloc(tj->nhist ? tj->nhist : 1, sizeof *j->done);
    j->done_cfg = calloc((tj->nhist ? tj->nhist : 1) * d, sizeof *j->done_cfg);
    j->pending = calloc(tj->ntrials ? tj->ntrials : 1, sizeof *j->pending);
    j->pending_cfg = calloc((tj->ntrials ? tj->ntrials : 1) * d, sizeof *j->pending_cfg);
    j->out = calloc(d, sizeof *j->out);
    if (!j->done || !j->done_cfg || !j->pending || !j->pending_cfg || !j->out) {
        job_free(j);
        return -1;
    }
    /* Copies: the worker must not read what the loop changes. */
    for (size_t i = 0; i < tj->nhist; i++) {
        if (tj->hist[i].def != k)
            continue;
        memcpy(j->done_cfg + j->ndone * d, tj->hist[i].cfg, ds->sp->n * sizeof(double));
        j->done[j->ndone].cfg = j->done_cfg + j->ndone * d;
        j->done[j->ndone++].y = tj->hist[i].y;
    }
    for (size_t i = 0; i < tj->ntrials; i++) {
        if (trial_def(tj->trials[i]) != k)
            continue;
        memcpy(j->pending_cfg + j->npending * d, trial_cfg(tj->trials[i]),
               ds->sp->n * sizeof(double));
        j->pending[j->npending] = j->pending_cfg + j->npending * d;
        j->npending++;
    }
    tj->inflight = j;
    if (en->cfg.wk) {
        j->next = en->jobs;
        en->jobs = j;
        if (worker_submit(en->cfg.wk, suggest_run, suggest_done, j) == 0)
            return 0;
        job_unlink(en, j);
        tj->inflight = NULL;
        job_free(j);
        return -1;
    }
    suggest_run(j);
    suggest_done(j, 0);
    return 0;
}

/* ---------- tuning jobs in memory ---------- */

static tuning_def *def_new(engine *en) {
    tuning_def *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->en = en;
    d->refs = 1;
    d->next = en->defs;
    en->defs = d;
    return d;
}

static void def_release(tuning_def *d) {
    if (!d || --d->refs > 0)
        return;
    for (tuning_def **pp = d->en ? &d->en->defs : NULL; pp && *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    for (size_t k = 0; k < REQ_MAX_DEFINITIONS; k++)
        image_clear(&d->img[k]);
    request_free(d->r);
    free(d);
}

/* trial_job.ref: a launch of one of the def's trials went to the worker
 * (+1) or came back (-1). */
static void def_ref(void *ud, int delta) {
    tuning_def *d = ud;
    if (d->en)
        d->en->launching += delta;
    if (delta > 0)
        d->refs += delta;
    else
        def_release(d);
}

static void hist_clear(hist_entry *h) {
    free(h->cfg);
    free(h->step);
    free(h->cy);
}

static void tuning_free(tuning *tj) {
    if (!tj)
        return;
    for (size_t i = 0; i < tj->ntrials; i++)
        trial_free(tj->trials[i]);
    free(tj->trials);
    free(tj->checked);
    for (size_t i = 0; i < tj->nhist; i++)
        hist_clear(&tj->hist[i]);
    free(tj->hist);
    free(tj->ready);
    if (tj->inflight)
        tj->inflight->tj = NULL;
    for (size_t k = 0; k < tj->nds; k++) {
        def_search *ds = &tj->ds[k];
        if (tj->inflight && tj->inflight->def == k) {
            /* Its suggest() may be running: the job takes the strategy and space. */
            tj->inflight->strat = ds->strat;
            tj->inflight->sp = ds->sp;
        } else {
            strategy_free(ds->strat);
            space_free(ds->sp);
        }
        metrics_free(ds->ms);
    }
    def_release(tj->def); /* and with it r and img, once no launch holds them */
    free(tj);
}

static tuning *find_tuning(engine *en, int64_t id) {
    for (tuning *tj = en->tunings; tj; tj = tj->next)
        if (tj->id == id)
            return tj;
    return NULL;
}

/* The one place a tuning job's status changes. -1 for an illegal move (a
 * logged bug; nothing stored), else the store's result. */
static int tuning_move(engine *en, tuning *tj, tuning_status to, const char *reason, double started,
                       double ended) {
    if (!tuning_status_can_move(tj->status, to)) {
        log_error("BUG: tuning job %s: %s -> %s is not a legal move", tj->name,
                  tuning_status_text(tj->status), tuning_status_text(to));
        return -1;
    }
    int rc =
        store_set_tuning_status(en->cfg.st, tj->id, tuning_status_text(to), reason, started, ended);
    if (!rc)
        tj->status = to;
    return rc;
}

/* The next history entry, zeroed, with room for its config (not yet
 * counted: the caller bumps nhist when it is filled). NULL when out of
 * memory. */
static hist_entry *hist_slot(tuning *tj, size_t def) {
    size_t d = tj->ds[def].sp->n;
    if (tj->nhist == tj->caphist) {
        size_t cap = tj->caphist ? tj->caphist * 2 : 32;
        hist_entry *h = realloc(tj->hist, cap * sizeof *h);
        if (!h)
            return NULL;
        tj->hist = h;
        tj->caphist = cap;
    }
    hist_entry *h = &tj->hist[tj->nhist];
    memset(h, 0, sizeof *h);
    h->def = def;
    if (!(h->cfg = calloc(d ? d : 1, sizeof *h->cfg)))
        return NULL;
    return h;
}

static int hist_add(tuning *tj, trial *t) {
    size_t d = tj->ds[trial_def(t)].sp->n;
    hist_entry *h = hist_slot(tj, trial_def(t));
    if (!h)
        return -1;
    memcpy(h->cfg, trial_cfg(t), d * sizeof *h->cfg);
    double v;
    int has = trial_outcome(t, &v);
    h->y = has ? (tj->maximize ? -v : v) : NAN;
    h->ended = now_of(tj->en);
    const int64_t *step;
    const double *y;
    size_t n = trial_curve(t, &step, &y);
    if (n > ENGINE_HIST_CURVE_MAX) { /* keep the first ones and the last */
        n = ENGINE_HIST_CURVE_MAX;
    }
    if (n && (h->step = malloc(n * sizeof *h->step)) && (h->cy = malloc(n * sizeof *h->cy))) {
        size_t all = trial_curve(t, &step, &y);
        for (size_t i = 0; i < n; i++) {
            size_t k = i + 1 == n ? all - 1 : i;
            h->step[i] = step[k];
            h->cy[i] = tj->maximize ? -y[k] : y[k];
        }
        h->n = n;
    }
    tj->nhist++;
    return 0;
}

/* Loading a finished row's objective curve (the first values and the last
 * of at most ENGINE_HIST_CURVE_MAX). */
typedef struct {
    hist_entry *h;
    int maximize;
} curve_load;

static void curve_point(void *ud, int64_t step, double v) {
    curve_load *c = ud;
    size_t k = c->h->n < ENGINE_HIST_CURVE_MAX ? c->h->n++ : c->h->n - 1;
    c->h->step[k] = step;
    c->h->cy[k] = c->maximize ? -v : v;
}

/* 1 when trials are stopped from their curves (Hyperband, early stopping
 * Auto): the curves of the jobs found at load are then read back. */
static int judges_curves(const tuning *tj, const def_search *ds) {
    return ds->ms && ds->objective >= 0 &&
           (tj->r->strategy == REQ_STRATEGY_HYPERBAND ||
            tj->r->early_stopping == REQ_EARLY_STOPPING_AUTO);
}

/* A finished row found at load, for the strategy's history; with its
 * curve when the strategy stops trials from curves (Hyperband, early
 * stopping Auto), so that its decisions go on across a restart. */
static int hist_add_row(tuning *tj, const store_training *row, size_t def) {
    const def_search *ds = &tj->ds[def];
    hist_entry *h = hist_slot(tj, def);
    if (!h)
        return -1;
    json_t *tuned = json_loads(row->tuned ? row->tuned : "{}", 0, NULL);
    int ok = tuned && space_parse(ds->sp, tuned, h->cfg) == 0;
    json_decref(tuned);
    if (!ok) {
        log_warn("training job %s: cannot read back its hyperparameters", row->name);
        free(h->cfg);
        return 0;
    }
    training_status s;
    int has = row->has_objective && training_status_parse(row->status, &s) == 0 &&
              (s == TRAINING_COMPLETED || s == TRAINING_STOPPED);
    h->y = has ? (tj->maximize ? -row->objective : row->objective) : NAN;
    h->ended = row->ended > 0 ? row->ended : row->created;
    tj->nhist++;
    if (judges_curves(tj, ds)) {
        curve_load c = {h, tj->maximize};
        if (!(h->step = malloc(ENGINE_HIST_CURVE_MAX * sizeof *h->step)) ||
            !(h->cy = malloc(ENGINE_HIST_CURVE_MAX * sizeof *h->cy)))
            return -1;
        if (store_each_point(tj->en->cfg.st, row->id, metrics_name(ds->ms, (size_t)ds->objective),
                             curve_point, &c))
            return -1;
    }
    return 0;
}

static int trials_add(tuning *tj, trial *t) {
    if (tj->ntrials == tj->captrials) {
        size_t cap = tj->captrials ? tj->captrials * 2 : 8;
        trial **a = realloc(tj->trials, cap * sizeof *a);
        if (!a)
            return -1;
        tj->trials = a;
        size_t *c = realloc(tj->checked, cap * sizeof *c);
        if (!c)
            return -1;
        tj->checked = c;
        tj->captrials = cap;
    }
    tj->checked[tj->ntrials] = 0;
    tj->trials[tj->ntrials++] = t;
    return 0;
}

static void trials_remove(tuning *tj, size_t i) {
    trial_free(tj->trials[i]);
    tj->trials[i] = tj->trials[tj->ntrials - 1];
    tj->checked[i] = tj->checked[tj->ntrials - 1];
    tj->ntrials--;
}

/* The seed of definition k's strategy: the tuning job's for the first,
 * one drawn from it for each other (so two definitions do not walk the
 * same random sequence). */
static uint64_t def_seed(const tuning *tj, size_t k) {
    return k ? rng_mix64(tj->seed ^ (uint64_t)k) : tj->seed;
}

static trial_job job_of(tuning *tj, size_t def) {
    trial_job j = {.r = tj->r,
                   .def = def,
                   .img = &tj->def->img[def],
                   .be = tj->ds[def].be,
                   .ms = tj->ds[def].ms,
                   .objective = tj->ds[def].objective,
                   .solo = tj->solo,
                   .tuning_name = tj->name,
                   .ref = def_ref,
                   .ref_ud = tj->def};
    return j;
}

/* ---------- launching ---------- */

/* Training job name: <tuning>-<3-digit index>-<8 hex>, the hex derived from
 * the tuning job's ARN and the index, so it is stable across restarts; try
 * k > 0 appends -<k+1> (the base name is taken). */
static void training_name(const tuning *tj, int idx, int try, char *out, size_t n) {
    if (tj->solo) {
        snprintf(out, n, "%s", tj->name);
        return;
    }
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = tj->arn; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = rng_mix64(h ^ (uint64_t)idx);
    if (try == 0)
        snprintf(out, n, "%s-%03d-%08x", tj->name, idx + 1, (unsigned)(h & 0xffffffffu));
    else
        snprintf(out, n, "%s-%03d-%08x-%d", tj->name, idx + 1, (unsigned)(h & 0xffffffffu),
                 try + 1);
}

/* ARN of a child: the tuning job's ARN with its resource part replaced. */
static void child_arn(const tuning *tj, const char *child, char *out, size_t n) {
    const char *colon = strrchr(tj->arn, ':');
    int pre = colon ? (int)(colon - tj->arn) : 0;
    snprintf(out, n, "%.*s:training-job/%s", pre, tj->arn, child);
}

typedef struct {
    char (*k)[129];
    char (*v)[257];
    size_t n, cap;
} tag_list;

static void tag_cb(void *ud, const char *key, const char *value) {
    tag_list *l = ud;
    if (l->n == l->cap)
        return;
    snprintf(l->k[l->n], sizeof l->k[0], "%s", key);
    snprintf(l->v[l->n], sizeof l->v[0], "%s", value);
    l->n++;
}

/* Copies the tuning job's tags to its training job `child`. */
static int copy_tags(engine *en, tuning *tj, const char *child) {
    char arn[512];
    tag_list l = {calloc(REQ_MAX_TAGS, sizeof *l.k), calloc(REQ_MAX_TAGS, sizeof *l.v), 0,
                  REQ_MAX_TAGS};
    int rc = ERR_INTERNAL;
    if (!l.k || !l.v)
        goto out;
    if ((rc = store_each_tag(en->cfg.st, tj->arn, tag_cb, &l)))
        goto out;
    child_arn(tj, child, arn, sizeof arn);
    for (size_t i = 0; i < l.n && !rc; i++)
        rc = store_tags_add(en->cfg.st, tj->account, arn, l.k[i], l.v[i]);
out:
    free(l.k);
    free(l.v);
    return rc;
}

/* The hyperparameters of a trial of definition k running `cfg` (JSON
 * texts, caller frees). */
static int build_hp(tuning *tj, size_t k, const double *cfg, char **tuned_s, char **hp_s) {
    json_t *tuned = json_object(), *hp = json_object();
    int rc = -1;
    const req_training_def *def = &tj->r->defs[k];
    const def_search *ds = &tj->ds[k];
    if (!tuned || !hp)
        goto out;
    if (ds->sp->n && space_format(ds->sp, cfg, tuned))
        goto out;
    for (size_t i = 0; i < def->nstatic; i++)
        if (json_object_set_new(hp, def->static_hp[i].key, json_string(def->static_hp[i].value)))
            goto out;
    if (json_object_update(hp, tuned))
        goto out;
    /* The current API tells the program which metric is tuned. */
    if (!tj->solo && tj->r->api == API_CURRENT && ds->ms && ds->objective >= 0 &&
        json_object_set_new(hp, "_tuning_objective_metric",
                            json_string(metrics_name(ds->ms, (size_t)ds->objective))))
        goto out;
    *tuned_s = json_dumps(tuned, JSON_COMPACT | JSON_SORT_KEYS);
    *hp_s = json_dumps(hp, JSON_COMPACT | JSON_SORT_KEYS);
    rc = *tuned_s && *hp_s ? 0 : -1;
out:
    json_decref(tuned);
    json_decref(hp);
    return rc;
}

/* Inserts the next training job of tj, of definition k, running `cfg`,
 * and launches it. 0 (launched, or the slot failed with a reason), or a
 * store err_code. */
static int launch_cfg(engine *en, tuning *tj, size_t k, const double *cfg) {
    err_t e = {0};
    char *tuned_s = NULL, *hp_s = NULL;
    int rc = ERR_INTERNAL;
    store_training row = {0};
    def_search *ds = &tj->ds[k];
    if (build_hp(tj, k, cfg, &tuned_s, &hp_s))
        goto out;
    if (tj->r->multi_defs)
        snprintf(row.definition, sizeof row.definition, "%s",
                 tj->r->defs[k].definition_name ? tj->r->defs[k].definition_name : "");
    row.tuning_id = tj->id;
    snprintf(row.account, sizeof row.account, "%s", tj->account);
    row.idx = tj->launched;
    snprintf(row.status, sizeof row.status, "%s", training_status_text(TRAINING_IN_PROGRESS));
    snprintf(row.secondary, sizeof row.secondary, "Starting");
    row.hyperparameters = hp_s;
    row.tuned = tuned_s;
    snprintf(row.strategy, sizeof row.strategy, "%s",
             ds->strat ? strategy_name(ds->strat) : request_strategy_name(tj->r->strategy));
    row.seed = def_seed(tj, k);
    row.created = now_of(en);
    int try = 0;
    for (; try < (tj->solo ? 1 : ENGINE_NAME_TRIES); try++) {
        training_name(tj, tj->launched, try, row.name, sizeof row.name);
        snprintf(row.job_dir, sizeof row.job_dir, "%s/jobs/%s/%s", en->cfg.data_dir, tj->account,
                 row.name);
        rc = store_insert_training(en->cfg.st, &row, &e);
        if (rc != ERR_IN_USE)
            break;
    }
    if (rc == ERR_IN_USE) {
        /* Every name this slot may take is taken: the tuning job cannot go on
         * (nothing retries forever). */
        char reason[STORE_REASON_MAX];
        training_name(tj, tj->launched, 0, row.name, sizeof row.name);
        snprintf(reason, sizeof reason,
                 "Cannot name training job %d: '%s' and its %d variants are taken by other "
                 "training jobs",
                 tj->launched + 1, row.name, tj->solo ? 0 : ENGINE_NAME_TRIES - 1);
        log_error("tuning job %s: %s", tj->name, reason);
        tj->exhausted = 1;
        if (tj->ntrials == 0) {
            rc = tuning_move(en, tj, TUNING_FAILED, reason, 0, now_of(en));
            rc = rc < 0 ? 0 : rc;
        } else {
            rc = 0;
        }
        goto out;
    }
    if (rc)
        goto out;
    if (try > 0)
        log_warn("tuning job %s: training job name taken; using %s", tj->name, row.name);
    if ((rc = store_add_transition(en->cfg.st, row.id, "Starting", row.created,
                                   "Preparing the instances for training")))
        goto out;
    if (!tj->solo && (rc = copy_tags(en, tj, row.name)))
        goto out;
    tj->launched++;
    ds->launched++;
    trial_job job = job_of(tj, k);
    trial *t = trial_new(&en->tenv, &job, &row, cfg, ds->sp->n, 0, 1);
    if (!t || trials_add(tj, t)) {
        trial_free(t);
        rc = ERR_INTERNAL;
        goto out;
    }
    if (trial_tick(t) == TRIAL_FAULT)
        rc = ERR_INTERNAL;
out:
    free(tuned_s);
    free(hp_s);
    return rc;
}

/* ---------- the tuning job's tick ---------- */

/* Curves of every trial, minimised, for should_stop. Returns the count;
 * *bufs holds what the caller frees (free_curves). */
typedef struct {
    strategy_curve *c;
    double **neg;
    size_t n;
} curves;

static void free_curves(curves *cv) {
    for (size_t i = 0; cv->neg && i < cv->n; i++)
        free(cv->neg[i]);
    free(cv->neg);
    free(cv->c);
}

static int build_curves(tuning *tj, curves *cv) {
    size_t n = tj->nhist + tj->ntrials;
    cv->n = 0;
    cv->c = calloc(n ? n : 1, sizeof *cv->c);
    cv->neg = calloc(n ? n : 1, sizeof *cv->neg);
    if (!cv->c || !cv->neg)
        return -1;
    for (size_t i = 0; i < tj->nhist; i++)
        cv->c[cv->n++] =
            (strategy_curve){tj->hist[i].cfg, tj->hist[i].step, tj->hist[i].cy, tj->hist[i].n, 1};
    for (size_t i = 0; i < tj->ntrials; i++) {
        const int64_t *step;
        const double *y;
        size_t m = trial_curve(tj->trials[i], &step, &y);
        if (tj->maximize && m) {
            if (!(cv->neg[cv->n] = malloc(m * sizeof(double))))
                return -1;
            for (size_t k = 0; k < m; k++)
                cv->neg[cv->n][k] = -y[k];
            y = cv->neg[cv->n];
        }
        cv->c[cv->n++] = (strategy_curve){trial_cfg(tj->trials[i]), step, y, m, 0};
    }
    return 0;
}

/* Lets the strategy stop running trials whose curve grew (one definition:
 * early stopping and Hyperband are refused with TrainingJobDefinitions). */
static int early_stops(engine *en, tuning *tj) {
    curves cv = {0};
    int rc = 0, built = 0;
    if (tj->nds != 1)
        return 0;
    for (size_t i = 0; i < tj->ntrials && !rc; i++) {
        trial *t = tj->trials[i];
        const int64_t *step;
        const double *y;
        size_t m = trial_curve(t, &step, &y);
        if (trial_phase_of(t) != TRIAL_RUNNING || trial_stop_requested(t) || m == tj->checked[i])
            continue;
        tj->checked[i] = m;
        if (!built) {
            if (build_curves(tj, &cv)) {
                rc = 0; /* advisory: try again next tick */
                break;
            }
            built = 1;
        }
        const strategy_curve *me = &cv.c[tj->nhist + i];
        if (strategy_should_stop(tj->ds[0].strat, me, cv.c, cv.n)) {
            log_info("tuning job %s: the strategy stops %s early", tj->name, trial_name(t));
            rc = trial_stop(t, TRIAL_STOP_EARLY);
        }
    }
    free_curves(&cv);
    return rc;
}

/* Dropping a finished tuning job's s3:// channel cache (channels.h), on the
 * download worker: the job owns its copies of the paths. */
typedef struct {
    char dir[1100];
    char scope[STORE_NAME_MAX];
} cache_drop;

static void cache_drop_run(void *arg) {
    cache_drop *d = arg;
    int n = channels_drop_scope(d->dir, d->scope);
    if (n > 0)
        log_info("tuning job %s: %d cached s3:// channel(s) removed", d->scope, n);
    else if (n < 0)
        log_warn("cannot read %s to remove the cached channels of %s", d->dir, d->scope);
}

static void cache_drop_done(void *arg, int cancelled) {
    (void)cancelled;
    free(arg);
}

/* The tuning job is final: no launch of it can read its cache any more. */
static void drop_cache(engine *en, const tuning *tj) {
    int uses = 0;
    for (size_t i = 0; i < tj->r->ndefs; i++)
        uses |= channels_uses_s3(&tj->r->defs[i]);
    cache_drop *d = uses && en->cfg.dl ? calloc(1, sizeof *d) : NULL;
    if (!d)
        return; /* none, or no worker: the cache stays (channels.h) */
    snprintf(d->dir, sizeof d->dir, "%s/jobs/%s/%s", en->cfg.data_dir, tj->account,
             CHANNELS_CACHE_DIR);
    snprintf(d->scope, sizeof d->scope, "%s", tj->r->name ? tj->r->name : tj->name);
    if (worker_submit(en->cfg.dl, cache_drop_run, cache_drop_done, d))
        free(d);
}

static int finish_tuning(engine *en, tuning *tj) {
    store_counts c;
    tuning_status to = TUNING_COMPLETED;
    const char *reason = NULL;
    int rc = store_tuning_counts(en->cfg.st, tj->id, now_of(en), &c);
    if (rc)
        return rc;
    if (tj->solo)
        to = c.completed ? TUNING_COMPLETED : c.stopped ? TUNING_STOPPED : TUNING_FAILED;
    else if (tj->status == TUNING_STOPPING)
        to = TUNING_STOPPED;
    else if (c.objective_succeeded == 0) {
        to = TUNING_FAILED;
        reason = "No training job reported a value of the objective metric";
    }
    if (to == TUNING_STOPPED && tj->status != TUNING_STOPPING &&
        (rc = tuning_move(en, tj, TUNING_STOPPING, NULL, 0, 0)))
        return rc < 0 ? 0 : rc;
    rc = tuning_move(en, tj, to, reason, 0, now_of(en));
    if (rc == 0) {
        log_info("tuning job %s: %s (%d training jobs)", tj->name, tuning_status_text(to), c.total);
        drop_cache(en, tj);
    }
    return rc < 0 ? 0 : rc;
}

static int machine_room(engine *en) {
    int cap = engine_max_running(en);
    int n = 0;
    /* A suggestion in flight, or computed and not yet applied, holds its slot. */
    for (const tuning *tj = en->tunings; tj; tj = tj->next)
        n += (int)tj->ntrials + (tj->inflight != NULL) + (tj->ready != NULL);
    return n < cap;
}

static int by_ended(const void *a, const void *b) {
    const hist_entry *x = *(const hist_entry *const *)a, *y = *(const hist_entry *const *)b;
    return x->ended < y->ended ? -1 : x->ended > y->ended ? 1 : (x > y) - (x < y);
}

/* The TuningJobCompletionCriteria (completion.h) over the finished trials
 * with an objective, in the order they finished; run when the history grew
 * (and so once after a load: the details are recomputed from the store's
 * rows). Stores the details when they change; a criterion met stops the
 * running trials and launches no more (the job then ends Completed). 0, or
 * a store err_code. */
static int check_completion(engine *en, tuning *tj) {
    const req_tuning *r = tj->r;
    if (tj->solo || !tj->nds || tj->nhist == tj->evaluated)
        return 0;
    tj->evaluated = tj->nhist;
    const hist_entry **order = malloc((tj->nhist ? tj->nhist : 1) * sizeof *order);
    double *y = malloc((tj->nhist ? tj->nhist : 1) * sizeof *y);
    size_t n = 0;
    int rc = 0;
    if (!order || !y) {
        tj->evaluated = 0; /* try again on the next tick */
        goto out;
    }
    for (size_t i = 0; i < tj->nhist; i++)
        if (!isnan(tj->hist[i].y))
            order[n++] = &tj->hist[i];
    qsort(order, n, sizeof *order, by_ended);
    for (size_t i = 0; i < n; i++)
        y[i] = order[i]->y;
    completion_criteria c = {.has_target = r->has_target,
                             .target_min = tj->maximize ? -r->target_value : r->target_value,
                             .max_not_improving = r->best_not_improving,
                             .on_convergence = r->convergence_detection,
                             .max_jobs = tj->max_jobs};
    completion_result res = completion_eval(&c, y, n);
    double conv = tj->converged;
    if (res.converged && conv <= 0 && r->convergence_detection)
        conv = now_of(en);
    if (res.not_improving != tj->not_improving || conv != tj->converged) {
        if ((rc = store_set_tuning_completion(en->cfg.st, tj->id, res.not_improving, conv)))
            goto out;
        tj->not_improving = res.not_improving;
        tj->converged = conv;
    }
    if (res.met != COMPLETION_NONE && !tj->completed_early && tj->status == TUNING_RUNNING) {
        static const char *const why[] = {"", "its TargetObjectiveMetricValue was reached",
                                          "its best objective stopped improving",
                                          "its search converged"};
        tj->completed_early = 1;
        log_info("tuning job %s completes: %s", tj->name, why[res.met]);
        for (size_t i = 0; i < tj->ntrials && !rc; i++)
            rc = trial_stop(tj->trials[i], TRIAL_STOP_CLOCK);
    }
out:
    free(order);
    free(y);
    return rc;
}

/* The definition the next training job runs: of those whose strategy has
 * something left to propose, the one with the fewest training jobs so far,
 * the first among ties — with nothing exhausted, round-robin (job i runs
 * definition i mod n), so MaxNumberOfTrainingJobs is divided evenly; a
 * definition whose strategy is exhausted (Grid: its combinations run)
 * leaves its share to the others. The counts come from the store's rows
 * (each row names its definition), so a restart goes on the same way. -1
 * when every definition is exhausted. */
static int next_def(tuning *tj) {
    int best = -1;
    for (size_t k = 0; k < tj->nds; k++) {
        const def_search *ds = &tj->ds[k];
        if (ds->strat && strategy_exhausted(ds->strat, (uint64_t)ds->launched))
            continue;
        if (best < 0 || ds->launched < tj->ds[best].launched)
            best = (int)k;
    }
    return best;
}

/* 0, or a store err_code (the tick's writes are then suspect: reload). */
static int tick_tuning(engine *en, tuning *tj) {
    int rc = 0;
    double now = now_of(en);
    /* 1. Advance every trial; take the finished ones out. */
    for (size_t i = 0; i < tj->ntrials;) {
        trial *t = tj->trials[i];
        if (tj->status == TUNING_STOPPING && !trial_stop_requested(t) &&
            (rc = trial_stop(t, TRIAL_STOP_USER)))
            return rc;
        trial_step s = trial_tick(t);
        if (s == TRIAL_FAULT)
            return ERR_INTERNAL;
        if (s == TRIAL_DONE) {
            if (tj->nds && hist_add(tj, t))
                log_warn("tuning job %s: out of memory for its history", tj->name);
            trials_remove(tj, i);
            continue;
        }
        i++;
    }
    if (tj->status != TUNING_RUNNING && tj->status != TUNING_STOPPING)
        return 0;
    /* 2. The completion criteria; the strategy's early stops. */
    if ((rc = check_completion(en, tj)))
        return rc;
    if (tj->nds && tj->ds[0].strat && tj->status == TUNING_RUNNING && !tj->completed_early &&
        (rc = early_stops(en, tj)))
        return rc;
    /* 3. The clock limit. */
    if (!tj->clock_expired && tj->max_seconds > 0 && now - tj->started >= (double)tj->max_seconds) {
        tj->clock_expired = 1;
        log_info("tuning job %s reached its clock limit", tj->name);
        for (size_t i = 0; i < tj->ntrials; i++)
            if ((rc = trial_stop(tj->trials[i], TRIAL_STOP_CLOCK)))
                return rc;
    }
    /* 4. Launch while there is room. */
    for (;;) {
        int room = tj->status == TUNING_RUNNING && !tj->clock_expired && !tj->exhausted &&
                   !tj->completed_early && (int)tj->ntrials < tj->max_parallel &&
                   tj->launched < tj->max_jobs;
        int k = room ? next_def(tj) : 0;
        if (room && k < 0) {
            log_info("tuning job %s: the strategy has nothing left to propose", tj->name);
            tj->exhausted = 1;
            room = 0;
        }
        if (!room) {
            free(tj->ready); /* conditions changed: the suggestion is not used */
            tj->ready = NULL;
            break;
        }
        if (tj->ready) {
            double *cfg = tj->ready;
            tj->ready = NULL;
            rc = launch_cfg(en, tj, tj->ready_def, cfg);
            free(cfg);
            if (rc)
                return rc;
            continue;
        }
        if (!machine_room(en) || tj->inflight)
            break;
        if (!tj->ds[k].strat) { /* one trial, no search */
            double none = 0;
            if ((rc = launch_cfg(en, tj, (size_t)k, &none)))
                return rc;
            continue;
        }
        if (suggest_start(en, tj, (size_t)k))
            break;
        if (!tj->ready)
            break; /* on the worker: applied when it answers */
    }
    /* 5. Done? */
    if (!tuning_status_final(tj->status) && tj->ntrials == 0 && !tj->inflight && !tj->ready &&
        (tj->status == TUNING_STOPPING || tj->clock_expired || tj->exhausted ||
         tj->completed_early || tj->launched >= tj->max_jobs))
        return finish_tuning(en, tj);
    return 0;
}

/* ---------- loading ---------- */

/* Gives the strategy the request's options (StrategyConfig, early
 * stopping). 0, or an err_code with e set. */
static int configure_strategy(strategy *st, const req_tuning *r, err_t *e) {
    long max = request_hb_max_resource(r, NULL);
    strategy_opts o = {.min_resource = r->hb_min_resource,
                       .max_resource = max > 0 ? max : 0,
                       .early_stopping = r->early_stopping == REQ_EARLY_STOPPING_AUTO};
    return strategy_configure(st, &o, e);
}

/* Warm start: the prior of the job's parents (row->parents, resolved at
 * Create), over `sp` (warmstart.h). 0, or a store err_code. */
static int warm_start_prior(engine *en, const store_tuning *row, const space *sp, int maximize,
                            warmstart_prior **wp, err_t *e) {
    size_t n = 0;
    int rc =
        warmstart_prior_load(en->cfg.st, row->parents, (size_t)row->nparents, sp, maximize, wp, e);
    if (!rc && row->nparents) {
        (void)warmstart_prior_obs(*wp, &n);
        log_info("tuning job %s: warm start from %d parent(s): %zu training jobs, %zu outside "
                 "its ranges left out",
                 row->name, row->nparents, n, warmstart_prior_dropped(*wp));
    }
    return rc;
}

static const char *create_op(int api, int solo) {
    return solo              ? "CreateTrainingJob"
           : api == API_2017 ? "CreateTuningJob"
                             : "CreateHyperParameterTuningJob";
}

static backend *find_backend(const engine *en, const char *name) {
    for (size_t i = 0; i < en->cfg.nbackends; i++)
        if (!strcmp(backend_name(en->cfg.backends[i]), name))
            return en->cfg.backends[i];
    return NULL;
}

/* The backend that runs container images (BACKEND_CAP_CONTAINER), or NULL:
 * image_resolve (image_policy.container_backend) runs TrainingImages that are image references on
 * it. */
static const char *container_backend(const engine *en) {
    for (size_t i = 0; i < en->cfg.nbackends; i++)
        if (backend_caps(en->cfg.backends[i]) & BACKEND_CAP_CONTAINER)
            return backend_name(en->cfg.backends[i]);
    return NULL;
}

static metrics_set *compile_metrics(const req_training_def *def, err_t *e) {
    const char *names[REQ_MAX_METRICS], *regexes[REQ_MAX_METRICS];
    size_t n = def->nmetrics < REQ_MAX_METRICS ? def->nmetrics : REQ_MAX_METRICS;
    for (size_t i = 0; i < n; i++) {
        names[i] = def->metrics[i].name;
        regexes[i] = def->metrics[i].regex;
    }
    return metrics_new(names, regexes, n, e);
}

typedef struct {
    tuning *tj;
    int rc;
} load_ctx;

static void load_training(void *ud, const store_training *row) {
    load_ctx *c = ud;
    tuning *tj = c->tj;
    engine *en = tj->en;
    training_status s;
    if (c->rc)
        return;
    if (row->idx + 1 > tj->launched)
        tj->launched = row->idx + 1;
    /* The definition it runs: the one its row names. */
    int k = request_def_index(tj->r, row->definition);
    if (k < 0 || (size_t)k >= tj->nds) {
        log_warn("training job %s: no definition '%s' in its tuning job; taking the first",
                 row->name, row->definition);
        k = 0;
    }
    def_search *ds = &tj->ds[k];
    ds->launched++;
    if (training_status_parse(row->status, &s)) {
        log_error("training job %s: unknown status '%s'", row->name, row->status);
        return;
    }
    if (training_status_final(s)) {
        if (ds->sp && hist_add_row(tj, row, (size_t)k))
            c->rc = ERR_INTERNAL;
        return;
    }
    double *cfg = calloc(ds->sp && ds->sp->n ? ds->sp->n : 1, sizeof *cfg);
    json_t *tuned = json_loads(row->tuned ? row->tuned : "{}", 0, NULL);
    if (cfg && tuned && ds->sp && ds->sp->n && space_parse(ds->sp, tuned, cfg))
        log_warn("training job %s: cannot read back its hyperparameters", row->name);
    json_decref(tuned);
    /* The objective's curve goes on from the steps already stored. */
    int64_t count0 = 0;
    if (ds->ms && ds->objective >= 0 &&
        (c->rc = store_metric_count(en->cfg.st, row->id,
                                    metrics_name(ds->ms, (size_t)ds->objective), &count0))) {
        free(cfg);
        return;
    }
    trial_job job = job_of(tj, (size_t)k);
    trial *t = cfg ? trial_new(&en->tenv, &job, row, cfg, ds->sp ? ds->sp->n : 0, count0, 0) : NULL;
    free(cfg);
    /* Its curve so far, so that the strategy judges all of it (not only
     * what is printed after the restart). */
    if (t && judges_curves(tj, ds) &&
        (c->rc = store_each_point(en->cfg.st, row->id, metrics_name(ds->ms, (size_t)ds->objective),
                                  trial_curve_resume, t))) {
        trial_free(t);
        return;
    }
    if (!t || trials_add(tj, t)) {
        trial_free(t);
        c->rc = ERR_INTERNAL;
    }
}

/* Builds definition k's search (tj->ds[k]): its space, strategy, metrics,
 * image and backend. 0; -1 with e set (the job cannot run); or the err_code
 * of a failed store read (the warm-start prior: retry later). */
static int load_def(engine *en, tuning *tj, const store_tuning *row, size_t k, err_t *e) {
    char field[256];
    def_search *ds = &tj->ds[k];
    const req_training_def *def = &tj->r->defs[k];
    ds->objective = -1;
    if (!(ds->sp = request_space(tj->r, k, e)))
        return -1;
    const char *obj = request_objective(tj->r, k, NULL);
    if (!tj->solo) {
        warmstart_prior *wp = NULL;
        size_t nprior = 0;
        uint64_t seed = def_seed(tj, k);
        int rc = warm_start_prior(en, row, ds->sp, tj->maximize, &wp, e);
        if (rc)
            return rc; /* the store could not be read */
        const strategy_obs *prior = warmstart_prior_obs(wp, &nprior);
        ds->strat = en->cfg.strategy
                        ? strategy_from_ops(en->cfg.strategy, ds->sp, seed, prior, nprior, e)
                        : strategy_new(request_strategy_name(tj->r->strategy), ds->sp, seed, prior,
                                       nprior, e);
        warmstart_prior_free(wp);
        if (!ds->strat || configure_strategy(ds->strat, tj->r, e))
            return -1;
    }
    if (!(ds->ms = compile_metrics(def, e)))
        return -1;
    for (size_t i = 0; obj && i < metrics_count(ds->ms); i++)
        if (!strcmp(metrics_name(ds->ms, i), obj))
            ds->objective = (int)i;
    request_def_path(tj->r, k, "AlgorithmSpecification.TrainingImage", field, sizeof field);
    /* The policy of now (it may have changed since the job was created):
     * an image the account may no longer use fails the job. */
    image_policy pol = tenant_image_policy(en->cfg.tenant, tj->r->account);
    pol.container_backend = container_backend(en);
    if (image_resolve(en->cfg.images, def->image, &pol, field, &tj->def->img[k], e))
        return -1;
    if (!(ds->be = find_backend(en, tj->def->img[k].backend))) {
        err_set(e, ERR_VALIDATION, "%s: backend '%s' is not configured in this daemon", field,
                tj->def->img[k].backend);
        return -1;
    }
    return 0;
}

/* Builds the in-memory tuning job from its row and adopts its training
 * jobs. A job that can no longer run is failed with the reason. 0, or a
 * store err_code (nothing kept: retry later). */
static int load_tuning(engine *en, const store_tuning *row) {
    err_t e = {0};
    int rc = 0;
    tuning *tj = calloc(1, sizeof *tj);
    if (!tj)
        return ERR_INTERNAL;
    tj->en = en;
    tj->id = row->id;
    tj->solo = !strcmp(row->kind, "training");
    snprintf(tj->account, sizeof tj->account, "%s", row->account);
    snprintf(tj->name, sizeof tj->name, "%s", row->name);
    snprintf(tj->arn, sizeof tj->arn, "%s", row->arn);
    if (tuning_status_parse(row->status, &tj->status)) {
        log_error("tuning job %s: unknown status '%s'", row->name, row->status);
        tuning_free(tj);
        return 0;
    }
    tj->max_seconds = row->max_seconds;
    tj->seed = row->seed;
    tj->not_improving = row->not_improving;
    tj->converged = row->converged;
    tj->started = row->started > 0 ? row->started : now_of(en);
    if (!(tj->def = def_new(en))) {
        tuning_free(tj);
        return ERR_INTERNAL;
    }
    if ((rc = request_parse_text((api_flavor)row->api, create_op(row->api, tj->solo), row->request,
                                 row->account, &tj->def->r, &e)))
        goto fail;
    tj->r = tj->def->r;
    tj->max_jobs = tj->solo ? 1 : tj->r->max_jobs;
    tj->max_parallel = tj->solo ? 1 : tj->r->max_parallel;
    if (tj->max_parallel > tj->max_jobs)
        tj->max_parallel = tj->max_jobs;
    request_objective(tj->r, 0, &tj->maximize);
    for (size_t k = 0; k < tj->r->ndefs && k < REQ_MAX_DEFINITIONS; k++) {
        tj->nds = k + 1;
        int lrc = load_def(en, tj, row, k, &e);
        if (lrc > 0) {
            tuning_free(tj); /* the store could not be read: retry later */
            return lrc;
        }
        if (lrc)
            goto fail;
    }
    load_ctx c = {tj, 0};
    if ((rc = store_each_training(en->cfg.st, tj->id, load_training, &c)) || (rc = c.rc)) {
        tuning_free(tj);
        return rc;
    }
    if (tj->nds == 1) /* its strategy's next index is the tuning job's */
        tj->ds[0].launched = tj->launched;
    if (tj->status == TUNING_CREATED &&
        (rc = tuning_move(en, tj, TUNING_RUNNING, NULL, tj->started, 0))) {
        tuning_free(tj);
        return rc < 0 ? 0 : rc;
    }
    tj->next = en->tunings;
    en->tunings = tj;
    return 0;
fail:
    log_error("tuning job %s cannot run: %s", row->name, e.msg);
    rc = tuning_move(en, tj, TUNING_FAILED, e.msg, 0, now_of(en));
    tuning_free(tj);
    return rc < 0 ? 0 : rc;
}

typedef struct {
    engine *en;
    int rc;
} start_ctx;

static void load_one(void *ud, const store_tuning *row) {
    start_ctx *c = ud;
    if (c->rc)
        return;
    c->rc = load_tuning(c->en, row);
}

static void drop_all(engine *en) {
    for (tuning *tj = en->tunings, *n; tj; tj = n) {
        n = tj->next;
        tuning_free(tj);
    }
    en->tunings = NULL;
}

/* Loads every active tuning job. 0, or a store err_code (nothing loaded). */
static int load_all(engine *en) {
    start_ctx c = {en, 0};
    int rc = store_each_active_tuning(en->cfg.st, load_one, &c);
    if (!rc)
        rc = c.rc;
    if (rc)
        drop_all(en);
    return rc;
}

int engine_start(engine *en, err_t *e) {
    int deleted = 0;
    /* A DeleteHyperParameterTuningJob cut short by the daemon's death. */
    int rc = store_finish_deletes(en->cfg.st, &deleted);
    if (rc)
        return err_set(e, rc, "cannot finish the deletions of tuning jobs");
    if (deleted)
        log_info("finished deleting %d tuning jobs", deleted);
    rc = load_all(en);
    if (rc)
        return err_set(e, rc, "cannot read tuning jobs from the store");
    if (en->tunings)
        log_info("resumed tuning jobs; %d training jobs to re-adopt", engine_running(en));
    return 0;
}

void engine_tick(engine *en) {
    store *st = en->cfg.st;
    int rc = store_begin(st);
    if (rc) {
        /* Busy (another connection holds the lock) or failing: try next tick.
         * The group that did not begin is closed; its commit reports the same
         * error, which is expected here (debug only: a held lock would log it
         * ten times a second). */
        if (store_commit(st))
            log_debug("store: tick skipped (%d); trying again on the next one", rc);
        return;
    }
    if (en->reload && en->launching == 0) {
        /* (While a dropped trial's launch is on the worker, its job
         * directory is the worker's: re-adopting it now could launch it
         * twice.) */
        drop_all(en);
        if ((rc = load_all(en)) == 0) {
            en->reload = 0;
            log_info("re-adopted %d running training jobs from the store", engine_running(en));
        }
    }
    for (tuning **pp = &en->tunings; *pp && !rc;) {
        tuning *tj = *pp;
        rc = tick_tuning(en, tj);
        if (!rc && tuning_status_final(tj->status)) {
            *pp = tj->next;
            tuning_free(tj);
            continue;
        }
        pp = &tj->next;
    }
    int crc = store_commit(st);
    if (rc || crc) {
        /* The tick's writes may be gone while memory moved on: the store is
         * the truth, memory is rebuilt from it. */
        log_warn("store: the tick's writes failed (%d/%d); re-adopting from the store", rc, crc);
        drop_all(en);
        en->reload = 1;
    }
}

/* ---------- requests ---------- */

int engine_check_tuning(const engine *en, const req_tuning *r, err_t *e) {
    char field[256];
    image_spec img = {0};
    space *sp = NULL;
    strategy *st = NULL;
    metrics_set *ms = NULL;
    int rc = 0;
    if (!r->ndefs)
        return err_set(e, ERR_VALIDATION, "no training job definition");
    if ((rc = tenant_check_request(en->cfg.tenant, r, e)))
        return rc;
    for (size_t k = 0; k < r->ndefs && !rc; k++) { /* each definition's */
        if (r->kind == REQ_KIND_TUNING) {
            if (!(sp = request_space(r, k, e)) ||
                !(st = strategy_new(request_strategy_name(r->strategy), sp, 1, NULL, 0, e)) ||
                configure_strategy(st, r, e)) {
                rc = e->code ? e->code : ERR_INTERNAL;
                goto next;
            }
        }
        if (!(ms = compile_metrics(&r->defs[k], e))) {
            rc = e->code ? e->code : ERR_INTERNAL;
            goto next;
        }
        request_def_path(r, k, "AlgorithmSpecification.TrainingImage", field, sizeof field);
        image_policy pol = tenant_image_policy(en->cfg.tenant, r->account);
        pol.container_backend = container_backend(en);
        if ((rc = image_resolve(en->cfg.images, r->defs[k].image, &pol, field, &img, e)))
            goto next;
        const backend *be = find_backend(en, img.backend);
        if (!be) {
            rc = err_set(e, ERR_VALIDATION, "%s: backend '%s' is not configured in this daemon",
                         field, img.backend);
        } else if (r->defs[k].instance_count > 1 && !(backend_caps(be) & BACKEND_CAP_MULTI_NODE)) {
            request_def_path(r, k, "ResourceConfig.InstanceCount", field, sizeof field);
            rc = err_set(e, ERR_VALIDATION,
                         "%s: %d instances, but backend '%s' runs a training job on one host (the "
                         "docker and slurm backends run several)",
                         field, r->defs[k].instance_count, img.backend);
        }
    next:
        image_clear(&img);
        metrics_free(ms);
        strategy_free(st);
        space_free(sp);
        ms = NULL;
        st = NULL;
        sp = NULL;
    }
    return rc;
}

int engine_add_tuning(engine *en, int64_t tuning_id, err_t *e) {
    store_tuning row = {0};
    int rc = store_get_tuning_by_id(en->cfg.st, tuning_id, &row);
    if (rc)
        return err_set(e, rc, "tuning job vanished");
    if (find_tuning(en, tuning_id)) {
        store_tuning_clear(&row);
        return 0;
    }
    row.started = now_of(en);
    int solo = !strcmp(row.kind, "training");
    rc = load_tuning(en, &row);
    store_tuning_clear(&row);
    loop_kick(en->cfg.l);
    /* A training job created on its own exists when CreateTrainingJob
     * answers (DescribeTrainingJob and ListTags find it at once): its row is
     * made now, not on a later tick the next request may overtake. */
    tuning *tj = solo && !rc ? find_tuning(en, tuning_id) : NULL;
    if (tj) {
        int trc = store_begin(en->cfg.st);
        if (!trc)
            trc = tick_tuning(en, tj);
        int crc = store_commit(en->cfg.st);
        if (trc || crc) {
            /* As a failed tick: the store is the truth; the next tick reloads. */
            drop_all(en);
            en->reload = 1;
        }
    }
    if (rc) {
        /* Stored but not started: the next reload starts it. */
        en->reload = 1;
        return 0;
    }
    return 0;
}

int engine_stop_tuning(engine *en, int64_t tuning_id, err_t *e) {
    tuning *tj = find_tuning(en, tuning_id);
    if (!tj) {
        /* Not in memory (a reload is pending): the store takes the stop, and
         * the reload finds it Stopping. */
        store_tuning row = {0};
        tuning_status s;
        int rc = store_get_tuning_by_id(en->cfg.st, tuning_id, &row);
        if (!rc && tuning_status_parse(row.status, &s) == 0 && s != TUNING_STOPPING &&
            tuning_status_can_move(s, TUNING_STOPPING))
            rc = store_set_tuning_status(en->cfg.st, tuning_id, tuning_status_text(TUNING_STOPPING),
                                         NULL, 0, 0);
        store_tuning_clear(&row);
        if (rc && rc != ERR_NOT_FOUND)
            return err_set(e, rc, "cannot record the stop");
        loop_kick(en->cfg.l);
        return 0;
    }
    if (tj->status == TUNING_STOPPING || tuning_status_final(tj->status))
        return 0;
    int rc = tuning_move(en, tj, TUNING_STOPPING, NULL, 0, 0);
    if (rc > 0)
        return err_set(e, rc, "cannot record the stop");
    /* The trials are stopped on the tick (each stop durable before its
     * signal). */
    loop_kick(en->cfg.l);
    return 0;
}

int engine_stop_training(engine *en, int64_t training_id, err_t *e) {
    for (tuning *tj = en->tunings; tj; tj = tj->next)
        for (size_t i = 0; i < tj->ntrials; i++) {
            trial *t = tj->trials[i];
            if (trial_id(t) != training_id || trial_phase_of(t) == TRIAL_FINAL)
                continue;
            if (trial_stop_requested(t))
                return 0; /* already stopping */
            if (!training_status_stoppable(trial_status(t)))
                continue;
            int rc = trial_stop(t, TRIAL_STOP_USER);
            if (rc)
                return err_set(e, rc, "cannot record the stop");
            if (tj->solo && tj->status == TUNING_RUNNING &&
                (rc = tuning_move(en, tj, TUNING_STOPPING, NULL, 0, 0)) > 0)
                return err_set(e, rc, "cannot record the stop");
            loop_kick(en->cfg.l);
            return 0;
        }
    return err_set(e, ERR_VALIDATION, "The training job is not running");
}

/* The backend a stored tuning job's image names (NULL when it cannot be
 * told: the request no longer parses or the image no longer resolves), for
 * its definition named `definition` ("" for the one). */
static backend *stored_backend(engine *en, int64_t tuning_id, const char *definition) {
    store_tuning row = {0};
    req_tuning *r = NULL;
    image_spec img = {0};
    backend *be = NULL;
    err_t e = {0};
    if (store_get_tuning_by_id(en->cfg.st, tuning_id, &row))
        goto out;
    if (request_parse_text((api_flavor)row.api, create_op(row.api, !strcmp(row.kind, "training")),
                           row.request, row.account, &r, &e) ||
        !r->ndefs)
        goto out;
    image_policy pol = {.container_backend = container_backend(en)};
    int k = request_def_index(r, definition);
    if (image_resolve(en->cfg.images, r->defs[k > 0 ? k : 0].image, &pol, "TrainingImage", &img,
                      &e) == 0)
        be = find_backend(en, img.backend);
out:
    image_clear(&img);
    request_free(r);
    store_tuning_clear(&row);
    return be;
}

ssize_t engine_read_log(engine *en, const store_training *row, int64_t offset, char *buf,
                        size_t n) {
    tuning *tj = find_tuning(en, row->tuning_id);
    int k = tj ? request_def_index(tj->r, row->definition) : -1;
    backend *be = k >= 0 && (size_t)k < tj->nds && tj->ds[k].be
                      ? tj->ds[k].be
                      : stored_backend(en, row->tuning_id, row->definition);
    if (!be)
        be = find_backend(en, IMAGE_DEFAULT_BACKEND);
    if (!be || !row->job_dir[0])
        return be ? 0 : -1;
    return backend_read_log(be, row->job_dir, row->handle, offset, buf, n);
}

int engine_running(const engine *en) {
    int n = 0;
    for (const tuning *tj = en->tunings; tj; tj = tj->next)
        n += (int)tj->ntrials;
    return n;
}

int engine_max_running(const engine *en) {
    return en->cfg.max_running > 0 ? en->cfg.max_running : ENGINE_DEFAULT_MAX_RUNNING;
}

void engine_each_trial(const engine *en, void (*cb)(void *ud, const char *be, const char *status),
                       void *ud) {
    for (const tuning *tj = en->tunings; tj; tj = tj->next)
        for (size_t i = 0; i < tj->ntrials; i++) {
            size_t k = trial_def(tj->trials[i]);
            const backend *be = k < tj->nds ? tj->ds[k].be : NULL;
            cb(ud, be ? backend_name(be) : "", training_status_text(trial_status(tj->trials[i])));
        }
}

int engine_tunings(const engine *en) {
    int n = 0;
    for (const tuning *tj = en->tunings; tj; tj = tj->next)
        n++;
    return n;
}

engine *engine_new(const engine_config *cfg, err_t *e) {
    engine *en = calloc(1, sizeof *en);
    if (!en) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    en->cfg = *cfg;
    en->tenv = (trial_env){.st = cfg->st,
                           .l = cfg->l,
                           .now = cfg->now,
                           .now_ud = cfg->now_ud,
                           .grace = cfg->grace,
                           .wk = cfg->wk,
                           .tenant = cfg->tenant,
                           .dl = cfg->dl,
                           .region = cfg->region};
    return en;
}

void engine_free(engine *en) {
    if (!en)
        return;
    drop_all(en);
    for (suggest_job *j = en->jobs; j; j = j->next)
        j->en = NULL; /* the worker's done() frees them */
    for (tuning_def *d = en->defs; d; d = d->next)
        d->en = NULL; /* held by launches on the worker: their done() frees them */
    free(en);
}
