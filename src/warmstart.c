/* warmstart — WarmStartConfig: the parents' checks at Create, the prior the
 * strategy is created with, OverallBestTrainingJob (see warmstart.h for the
 * rules and what openhpo chose where the spec leaves it open). */
#include "warmstart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "status.h"

/* ---------- the restrictions (pure) ---------- */

/* One hyperparameter of a request: a tunable range or a static value. */
typedef struct {
    const req_range *range; /* NULL when static */
    const char *value;      /* the static value, when static */
} hp_ref;

static size_t hp_count(const req_tuning *r) {
    return r->nranges + (r->ndefs ? r->defs[0].nstatic : 0);
}

/* The i-th hyperparameter of r (ranges first, then the static ones) and its
 * name. */
static const char *hp_at(const req_tuning *r, size_t i, hp_ref *out) {
    if (i < r->nranges) {
        *out = (hp_ref){&r->ranges[i], NULL};
        return r->ranges[i].name;
    }
    const req_kv *kv = &r->defs[0].static_hp[i - r->nranges];
    *out = (hp_ref){NULL, kv->value};
    return kv->key;
}

/* 1 when r has a hyperparameter `name` (into *out). */
static int hp_find(const req_tuning *r, const char *name, hp_ref *out) {
    for (size_t i = 0; i < hp_count(r); i++) {
        hp_ref h;
        if (!strcmp(hp_at(r, i, &h), name)) {
            *out = h;
            return 1;
        }
    }
    return 0;
}

static const char *kind_name(param_kind k) {
    return k == PARAM_CONTINUOUS ? "Continuous" : k == PARAM_INTEGER ? "Integer" : "Categorical";
}

/* 1 when static value v is a value of a range of kind k. */
static int value_of_kind(param_kind k, const char *v) {
    char *end;
    double d;
    if (k == PARAM_CATEGORICAL)
        return 1;
    if (!v || !*v)
        return 0;
    d = strtod(v, &end);
    if (*end || !isfinite(d))
        return 0;
    return k == PARAM_CONTINUOUS || d == floor(d);
}

static const char *or_default(const char *v, const char *dflt) {
    return v ? v : dflt;
}

/* NULL when the two definitions read the same input data, else the name of
 * a channel that differs. */
static const char *data_differs(const req_training_def *p, const req_training_def *c) {
    if (p->nchannels != c->nchannels)
        return c->nchannels ? c->channels[0].name : p->channels[0].name;
    for (size_t i = 0; i < c->nchannels; i++) {
        const req_channel *cc = &c->channels[i], *pc = NULL;
        for (size_t j = 0; j < p->nchannels && !pc; j++)
            if (!strcmp(p->channels[j].name, cc->name))
                pc = &p->channels[j];
        if (!pc || strcmp(or_default(pc->uri, ""), or_default(cc->uri, "")) ||
            strcmp(or_default(pc->data_type, "S3Prefix"), or_default(cc->data_type, "S3Prefix")) ||
            strcmp(or_default(pc->distribution, "FullyReplicated"),
                   or_default(cc->distribution, "FullyReplicated")))
            return cc->name;
    }
    return NULL;
}

int warmstart_compare(const req_tuning *parent, const req_tuning *child, const char *who,
                      err_t *e) {
    int pmax = 0, cmax = 0, changes = 0;
    const char *pobj = request_objective(parent, 0, &pmax);
    const char *cobj = request_objective(child, 0, &cmax);
    if (!parent->ndefs || !child->ndefs)
        return err_set(e, ERR_VALIDATION, "%s: has no training job definition", who);
    if (!pobj || !cobj || strcmp(pobj, cobj) || pmax != cmax)
        return err_set(e, ERR_VALIDATION,
                       "%s: its objective is %s (%s), this job's %s (%s): a warm start keeps the "
                       "objective metric and its type",
                       who, pobj ? pobj : "none", pmax ? "Maximize" : "Minimize",
                       cobj ? cobj : "none", cmax ? "Maximize" : "Minimize");
    if (hp_count(parent) != hp_count(child))
        return err_set(e, ERR_VALIDATION,
                       "%s: it has %zu hyperparameters (static and tunable), this job %zu: a warm "
                       "start keeps their number",
                       who, hp_count(parent), hp_count(child));
    for (size_t i = 0; i < hp_count(child); i++) {
        hp_ref c, p;
        const char *name = hp_at(child, i, &c);
        if (!hp_find(parent, name, &p))
            return err_set(e, ERR_VALIDATION,
                           "%s: it has no hyperparameter %s: a warm start keeps the "
                           "hyperparameters (static and tunable)",
                           who, name);
        if (p.range && c.range && p.range->kind != c.range->kind)
            return err_set(e, ERR_VALIDATION,
                           "%s: hyperparameter %s is %s there, %s here: a warm start keeps each "
                           "hyperparameter's type",
                           who, name, kind_name(p.range->kind), kind_name(c.range->kind));
        if (p.range && !c.range) {
            if (!value_of_kind(p.range->kind, c.value))
                return err_set(e, ERR_VALIDATION,
                               "%s: hyperparameter %s is %s there; its static value '%.64s' here "
                               "is not: a warm start keeps each hyperparameter's type",
                               who, name, kind_name(p.range->kind), c.value);
            changes += p.range->kind == PARAM_CATEGORICAL ? (int)p.range->nvalues : 1;
        }
        if (!p.range && c.range && !value_of_kind(c.range->kind, p.value))
            return err_set(e, ERR_VALIDATION,
                           "%s: hyperparameter %s is static '%.64s' there, not %s as here: a warm "
                           "start keeps each hyperparameter's type",
                           who, name, p.value, kind_name(c.range->kind));
        if (!p.range && !c.range && strcmp(p.value, c.value))
            changes += 2;
    }
    if (changes > WARMSTART_MAX_CHANGES)
        return err_set(e, ERR_VALIDATION,
                       "%s: %d changes of static hyperparameters, more than %d (a tunable "
                       "hyperparameter made static counts its categorical values, else 1; a "
                       "static value changed counts 2)",
                       who, changes, WARMSTART_MAX_CHANGES);
    if (child->warm_start == REQ_WARM_START_IDENTICAL) {
        const req_training_def *pd = &parent->defs[0], *cd = &child->defs[0];
        const char *ch;
        if (strcmp(or_default(pd->image, ""), or_default(cd->image, "")))
            return err_set(e, ERR_VALIDATION,
                           "%s: its TrainingImage is %.200s: IdenticalDataAndAlgorithm keeps the "
                           "image (TransferLearning may change it)",
                           who, or_default(pd->image, ""));
        if ((ch = data_differs(pd, cd)) != NULL)
            return err_set(e, ERR_VALIDATION,
                           "%s: its input data differs (channel %.64s): IdenticalDataAndAlgorithm "
                           "keeps the input data (TransferLearning may change it)",
                           who, ch);
    }
    return 0;
}

/* ---------- Create: the parents from the store ---------- */

static int is_parent_status(const char *text, tuning_status *s) {
    if (tuning_status_parse(text, s))
        return 0;
    return *s == TUNING_COMPLETED || *s == TUNING_STOPPED || *s == TUNING_FAILED;
}

int warmstart_resolve(store *st, const req_tuning *r, int64_t *ids, int *nids, err_t *e) {
    int64_t total = 0;
    int rc = 0;
    *nids = 0;
    if (r->warm_start == REQ_WARM_START_NONE)
        return 0;
    if (r->multi_defs)
        return err_set(e, ERR_VALIDATION,
                       "WarmStartConfig: a tuning job with TrainingJobDefinitions cannot warm "
                       "start");
    if (!r->nparents || r->nparents > STORE_MAX_PARENTS)
        return err_set(e, ERR_VALIDATION,
                       "WarmStartConfig.ParentHyperParameterTuningJobs: 1 to %d items",
                       STORE_MAX_PARENTS);
    for (size_t i = 0; i < r->nparents && !rc; i++) {
        const char *name = r->parents[i];
        char who[160];
        store_tuning t = {0};
        req_tuning *pr = NULL;
        tuning_status s;
        store_counts n;
        snprintf(who, sizeof who,
                 "WarmStartConfig.ParentHyperParameterTuningJobs[%zu] (tuning job %.64s)", i, name);
        for (size_t j = 0; j < i; j++)
            if (!strcasecmp(r->parents[j], name))
                return err_set(e, ERR_VALIDATION, "%s: is named twice", who);
        /* The caller's account only: another account's job is not found. */
        rc = store_get_tuning(st, r->account, name, &t);
        if (rc == ERR_NOT_FOUND) {
            rc = err_set(e, ERR_VALIDATION, "%s: no such tuning job", who);
        } else if (rc) {
            err_set(e, rc, "cannot read the parent tuning jobs");
        } else if (!is_parent_status(t.status, &s)) {
            rc = err_set(e, ERR_VALIDATION,
                         "%s: it is %s: a parent must be Completed, Stopped or Failed", who,
                         tuning_status_parse(t.status, &s) ? t.status : tuning_status_current(s));
        } else if (request_parse_text((api_flavor)t.api,
                                      t.api == API_2017 ? "CreateTuningJob"
                                                        : "CreateHyperParameterTuningJob",
                                      t.request, t.account, &pr, e)) {
            rc = err_set(e, ERR_VALIDATION, "%s: its stored request cannot be read", who);
        } else if (pr->multi_defs) {
            rc = err_set(e, ERR_VALIDATION,
                         "%s: it has several training job definitions (TrainingJobDefinitions): a "
                         "parent must have one",
                         who);
        } else if (!(rc = warmstart_compare(pr, r, who, e)) &&
                   (rc = store_tuning_counts(st, t.id, 0, &n))) {
            err_set(e, rc, "cannot count the parents' training jobs");
        } else if (!rc && (total += n.total) > WARMSTART_PRIOR_MAX) {
            rc = err_set(e, ERR_VALIDATION,
                         "%s: the parents have %lld training jobs, more than the %d a warm start "
                         "reads",
                         who, (long long)total, WARMSTART_PRIOR_MAX);
        } else if (!rc) {
            ids[(*nids)++] = t.id;
        }
        request_free(pr);
        store_tuning_clear(&t);
    }
    if (rc)
        *nids = 0;
    return rc;
}

/* ---------- the prior ---------- */

struct warmstart_prior {
    size_t dim;        /* sp->n */
    double *cfg;       /* n configs of dim values */
    double *y;         /* n objectives (minimised; NAN = failed) */
    strategy_obs *obs; /* n, pointing into cfg (made at the end) */
    size_t n, cap, dropped;
};

void warmstart_prior_free(warmstart_prior *p) {
    if (!p)
        return;
    free(p->cfg);
    free(p->y);
    free(p->obs);
    free(p);
}

const strategy_obs *warmstart_prior_obs(const warmstart_prior *p, size_t *n) {
    *n = p ? p->n : 0;
    return p && p->n ? p->obs : NULL;
}

size_t warmstart_prior_dropped(const warmstart_prior *p) {
    return p ? p->dropped : 0;
}

int warmstart_map(const space *sp, const json_t *hp, double *cfg) {
    if (!json_is_object(hp) || space_parse(sp, hp, cfg))
        return -1;
    for (size_t i = 0; i < sp->n; i++) {
        const space_param *q = &sp->p[i];
        if (q->kind == PARAM_CATEGORICAL)
            continue;
        if (!(cfg[i] >= q->lo && cfg[i] <= q->hi))
            return -1;
        if (q->kind == PARAM_INTEGER && cfg[i] != floor(cfg[i]))
            return -1;
    }
    return 0;
}

typedef struct {
    warmstart_prior *p;
    const space *sp;
    int maximize;
    int rc;
} load_ctx;

static void add_row(void *ud, const store_training *row) {
    load_ctx *c = ud;
    warmstart_prior *p = c->p;
    training_status s;
    if (c->rc || training_status_parse(row->status, &s) || !training_status_final(s) ||
        p->n >= WARMSTART_PRIOR_MAX)
        return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        double *cfg = realloc(p->cfg, cap * (p->dim ? p->dim : 1) * sizeof *cfg);
        if (cfg)
            p->cfg = cfg;
        double *y = cfg ? realloc(p->y, cap * sizeof *y) : NULL;
        if (y)
            p->y = y;
        if (!cfg || !y) {
            c->rc = ERR_INTERNAL;
            return;
        }
        p->cap = cap;
    }
    json_t *hp = json_loads(row->hyperparameters ? row->hyperparameters : "{}", 0, NULL);
    int ok = warmstart_map(c->sp, hp, p->cfg + p->n * p->dim) == 0;
    json_decref(hp);
    if (!ok) {
        p->dropped++;
        return;
    }
    int has = row->has_objective && (s == TRAINING_COMPLETED || s == TRAINING_STOPPED);
    p->y[p->n++] = has ? (c->maximize ? -row->objective : row->objective) : NAN;
}

int warmstart_prior_load(store *st, const int64_t *parents, size_t n, const space *sp, int maximize,
                         warmstart_prior **out, err_t *e) {
    warmstart_prior *p = calloc(1, sizeof *p);
    load_ctx c = {p, sp, maximize, 0};
    int rc = 0;
    *out = NULL;
    if (!p)
        return err_set(e, ERR_INTERNAL, "out of memory");
    p->dim = sp->n;
    for (size_t i = 0; i < n && !rc; i++) {
        if ((rc = store_each_training(st, parents[i], add_row, &c)) || (rc = c.rc))
            err_set(e, rc, "cannot read the warm start's parent training jobs");
    }
    if (!rc && p->n && !(p->obs = malloc(p->n * sizeof *p->obs)))
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    for (size_t i = 0; !rc && i < p->n; i++)
        p->obs[i] = (strategy_obs){p->cfg + i * p->dim, p->y[i]};
    if (rc) {
        warmstart_prior_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* ---------- Describe ---------- */

int warmstart_overall_best(store *st, int64_t id, const int64_t *parents, size_t n, int maximize,
                           store_training *best, int64_t *owner) {
    int found = 0;
    memset(best, 0, sizeof *best);
    for (size_t i = 0; i <= n; i++) {
        int64_t tid = i == 0 ? id : parents[i - 1];
        store_training t = {0};
        int rc = store_best_training(st, tid, maximize, &t);
        if (rc == ERR_NOT_FOUND)
            continue;
        if (rc) {
            store_training_clear(best);
            return rc;
        }
        if (!found || (maximize ? t.objective > best->objective : t.objective < best->objective)) {
            store_training_clear(best);
            *best = t;
            *owner = tid;
            found = 1;
        } else {
            store_training_clear(&t);
        }
    }
    return found ? 0 : ERR_NOT_FOUND;
}

json_t *warmstart_config_json(const req_tuning *r) {
    if (r->warm_start == REQ_WARM_START_NONE)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < r->nparents; i++)
        if (json_array_append_new(
                arr, json_pack("{s:s}", "HyperParameterTuningJobName", r->parents[i]))) {
            json_decref(arr);
            return NULL;
        }
    if (!arr)
        return NULL;
    return json_pack("{s:o, s:s}", "ParentHyperParameterTuningJobs", arr, "WarmStartType",
                     r->warm_start == REQ_WARM_START_TRANSFER ? "TransferLearning"
                                                              : "IdenticalDataAndAlgorithm");
}
