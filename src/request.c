/* request — see request.h. Four parts:
 *   1. the struct's helpers (free, strategy names, space, objective, paths);
 *   2. the parsers: the 2017 API's CreateTuningJob, the current API's
 *      CreateHyperParameterTuningJob and CreateTrainingJob (wire JSON that
 *      has passed validate_request -> struct), and the stored text of older
 *      daemons (a 2017-shaped body with "_api_current"/"_original");
 *   3. request_check: the semantic rules, once, against the struct;
 *   4. the emitters: struct -> the request echo of each API's Describe. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "request.h"

#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "strategy.h"
#include "validate.h"

/* ------------------------------------------------------------------ */
/* 1. Helpers                                                           */
/* ------------------------------------------------------------------ */

static const char *const strategy_names[] = {
#define X(code, name) [code] = name,
    REQ_STRATEGY_TABLE(X)
#undef X
};

const char *request_strategy_name(req_strategy s) {
    return (unsigned)s < REQ_STRATEGY__COUNT ? strategy_names[s] : "";
}

int request_strategy_parse(const char *name, req_strategy *s) {
    for (unsigned i = 0; name && i < REQ_STRATEGY__COUNT; i++)
        if (!strcmp(name, strategy_names[i])) {
            *s = (req_strategy)i;
            return 0;
        }
    return -1;
}

static void kvs_free(req_kv *kv, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void ranges_free(req_range *r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(r[i].name);
        free(r[i].lo_text);
        free(r[i].hi_text);
        for (size_t j = 0; j < r[i].nvalues; j++)
            free(r[i].values[j]);
        free(r[i].values);
    }
    free(r);
}

static void def_clear(req_training_def *d) {
    free(d->definition_name);
    free(d->image);
    free(d->input_mode);
    for (size_t i = 0; i < d->nmetrics; i++) {
        free(d->metrics[i].name);
        free(d->metrics[i].regex);
    }
    free(d->metrics);
    kvs_free(d->static_hp, d->nstatic);
    kvs_free(d->env, d->nenv);
    for (size_t i = 0; i < d->nchannels; i++) {
        req_channel *c = &d->channels[i];
        free(c->name);
        free(c->uri);
        free(c->data_type);
        free(c->distribution);
        free(c->content_type);
        free(c->compression);
        free(c->record_wrapper);
        free(c->input_mode);
    }
    free(d->channels);
    free(d->output_path);
    free(d->checkpoint_uri);
    free(d->checkpoint_local);
    free(d->kms_key);
    free(d->role_arn);
    free(d->instance_type);
    ranges_free(d->ranges, d->nranges);
    free(d->objective_metric);
}

void request_free(req_tuning *r) {
    if (!r)
        return;
    free(r->name);
    ranges_free(r->ranges, r->nranges);
    free(r->objective_metric);
    for (size_t i = 0; i < r->nparents; i++)
        free(r->parents[i]);
    free(r->parents);
    kvs_free(r->tags, r->ntags);
    for (size_t i = 0; i < r->ndefs; i++)
        def_clear(&r->defs[i]);
    free(r->defs);
    free(r);
}

/* The ranges of definition `def`: its own, or the tuning job's. */
static const req_range *def_ranges(const req_tuning *r, size_t def, size_t *n) {
    if (def < r->ndefs && r->defs[def].nranges) {
        *n = r->defs[def].nranges;
        return r->defs[def].ranges;
    }
    *n = r->nranges;
    return r->ranges;
}

space *request_space(const req_tuning *r, size_t def, err_t *e) {
    size_t n;
    const req_range *rg = def_ranges(r, def, &n);
    space_param *p = calloc(n ? n : 1, sizeof *p);
    space *sp;
    if (!p) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        p[i].name = rg[i].name;
        p[i].kind = rg[i].kind;
        p[i].scale = rg[i].scale_given    ? rg[i].scale
                     : r->api == API_2017 ? SCALE_LINEAR
                                          : SCALE_AUTO;
        p[i].lo = rg[i].lo;
        p[i].hi = rg[i].hi;
        p[i].values = rg[i].values;
        p[i].nvalues = rg[i].nvalues;
    }
    sp = space_from_params(p, n, e);
    free(p);
    return sp;
}

const char *request_objective(const req_tuning *r, size_t def, int *maximize) {
    if (def < r->ndefs && r->defs[def].objective_metric) {
        if (maximize)
            *maximize = r->defs[def].maximize;
        return r->defs[def].objective_metric;
    }
    if (maximize)
        *maximize = r->maximize;
    return r->objective_metric;
}

const char *request_def_path(const req_tuning *r, size_t def, const char *member, char *buf,
                             size_t n) {
    const char *m = member ? member : "";
    if (r->kind == REQ_KIND_TRAINING) {
        if (!strncmp(m, "StaticHyperParameters", 21))
            snprintf(buf, n, "HyperParameters%s", m + 21);
        else
            snprintf(buf, n, "%s", m[0] ? m : "request body");
    } else if (r->multi_defs) {
        snprintf(buf, n, "TrainingJobDefinitions[%zu]%s%s", def, m[0] ? "." : "", m);
    } else {
        snprintf(buf, n, "TrainingJobDefinition%s%s", m[0] ? "." : "", m);
    }
    return buf;
}

int request_def_index(const req_tuning *r, const char *name) {
    if (!name || !name[0])
        return r->multi_defs ? -1 : 0;
    for (size_t d = 0; d < r->ndefs; d++)
        if (r->defs[d].definition_name && !strcmp(r->defs[d].definition_name, name))
            return (int)d;
    return -1;
}

/* ------------------------------------------------------------------ */
/* 2. Parsers                                                           */
/* ------------------------------------------------------------------ */

/* One parse: the struct being filled, whether an allocation failed, the
 * error. Allocation failures are gathered (oom) and reported once. */
typedef struct {
    req_tuning *r;
    int oom;
    err_t *e;
} parser;

static const json_t *get(const json_t *v, const char *k) {
    return json_is_object(v) ? json_object_get(v, k) : NULL;
}

static const json_t *path_get(const json_t *v, const char *dotted) {
    char seg[96];
    while (v && dotted && *dotted) {
        const char *dot = strchr(dotted, '.');
        size_t len = dot ? (size_t)(dot - dotted) : strlen(dotted);
        if (len >= sizeof seg)
            return NULL;
        memcpy(seg, dotted, len);
        seg[len] = 0;
        v = get(v, seg);
        dotted = dot ? dot + 1 : NULL;
    }
    return v;
}

/* A copy of the string at `dotted` under v, or NULL when it is absent. */
static char *dup_at(parser *p, const json_t *v, const char *dotted) {
    const char *s = json_string_value(path_get(v, dotted));
    char *d;
    if (!s)
        return NULL;
    if (!(d = strdup(s)))
        p->oom = 1;
    return d;
}

static long long int_at(const json_t *v, const char *dotted, long long dflt, int *given) {
    const json_t *x = path_get(v, dotted);
    if (given)
        *given = json_is_integer(x);
    return json_is_integer(x) ? (long long)json_integer_value(x) : dflt;
}

static void *alloc_n(parser *p, size_t n, size_t size) {
    void *v = calloc(n ? n : 1, size);
    if (!v)
        p->oom = 1;
    return v;
}

/* A string -> string map (StaticHyperParameters, Environment, ...). */
static int parse_map(parser *p, const json_t *m, size_t cap, const char *path, req_kv **out,
                     size_t *n) {
    const char *k;
    json_t *v;
    if (!json_is_object(m))
        return 0;
    if (json_object_size(m) > cap)
        return err_set(p->e, ERR_VALIDATION, "%s: must have at most %zu entries", path, cap);
    if (!(*out = alloc_n(p, json_object_size(m), sizeof **out)))
        return 0;
    json_object_foreach((json_t *)m, k, v) {
        req_kv *kv = &(*out)[(*n)++];
        kv->key = strdup(k);
        kv->value = strdup(json_string_value(v) ? json_string_value(v) : "");
        if (!kv->key || !kv->value)
            p->oom = 1;
    }
    return 0;
}

/* Tags: [{Key, Value}]. */
static int parse_tags(parser *p, const json_t *tags) {
    size_t i;
    const json_t *t;
    if (!json_is_array(tags) || !json_array_size(tags))
        return 0;
    if (json_array_size(tags) > REQ_MAX_TAGS)
        return err_set(p->e, ERR_VALIDATION, "Tags: must have at most %d items", REQ_MAX_TAGS);
    if (!(p->r->tags = alloc_n(p, json_array_size(tags), sizeof *p->r->tags)))
        return 0;
    json_array_foreach(tags, i, t) {
        req_kv *kv = &p->r->tags[p->r->ntags++];
        kv->key = dup_at(p, t, "Key");
        kv->value = dup_at(p, t, "Value");
        if (!kv->key)
            kv->key = strdup("");
        if (!kv->value)
            kv->value = strdup("");
        if (!kv->key || !kv->value)
            p->oom = 1;
    }
    return 0;
}

static const struct {
    const char *name;
    param_scale scale;
} scale_names[] = {
    {"Auto", SCALE_AUTO},
    {"Linear", SCALE_LINEAR},
    {"Logarithmic", SCALE_LOG},
    {"ReverseLogarithmic", SCALE_REVLOG},
};

static const char *scale_name(param_scale s) {
    for (size_t i = 0; i < sizeof scale_names / sizeof *scale_names; i++)
        if (scale_names[i].scale == s)
            return scale_names[i].name;
    return "Auto";
}

/* The three range lists, in the order the space takes them. */
static const struct {
    const char *list;
    const char *type; /* the 2017 API's Type of its ranges */
    param_kind kind;
} range_lists[] = {
    {"ContinuousParameterRanges", "Continuous", PARAM_CONTINUOUS},
    {"IntegerParameterRanges", "Integer", PARAM_INTEGER},
    {"CategoricalParameterRanges", "Categorical", PARAM_CATEGORICAL},
};
#define NLISTS (sizeof range_lists / sizeof *range_lists)

/* Printable excerpt of a NUL-terminated string, for messages. */
#define EX(s, buf) validate_excerpt((s), strlen(s), (buf))

/* ParameterRanges (`path` is its path in the request): the three lists,
 * each range with its bounds as given; in the 2017 API each range's Type
 * must be its list's. */
static int parse_ranges(parser *p, const json_t *pr, const char *path, req_range **out, size_t *n) {
    size_t total = 0;
    for (size_t l = 0; l < NLISTS; l++)
        total += json_array_size(get(pr, range_lists[l].list));
    if (!total)
        return 0;
    if (total > REQ_MAX_RANGES)
        return err_set(p->e, ERR_VALIDATION, "%s: at most %d parameter ranges in all", path,
                       REQ_MAX_RANGES);
    if (!(*out = alloc_n(p, total, sizeof **out)))
        return 0;
    for (size_t l = 0; l < NLISTS; l++) {
        size_t i;
        const json_t *j;
        json_array_foreach(get(pr, range_lists[l].list), i, j) {
            req_range *g = &(*out)[(*n)++];
            const char *type = json_string_value(get(j, "Type"));
            const char *st = json_string_value(get(j, "ScalingType"));
            char ex[VALIDATE_EXCERPT_BUF];
            if (p->r->api == API_2017 && strcmp(type ? type : "", range_lists[l].type))
                return err_set(p->e, ERR_VALIDATION, "%s.%s[%zu].Type: must be %s in %s, not '%s'",
                               path, range_lists[l].list, i, range_lists[l].type,
                               range_lists[l].list, EX(type ? type : "", ex));
            g->name = dup_at(p, j, "Name");
            g->kind = range_lists[l].kind;
            g->scale = SCALE_AUTO;
            for (size_t s = 0; st && s < sizeof scale_names / sizeof *scale_names; s++)
                if (!strcmp(st, scale_names[s].name)) {
                    g->scale = scale_names[s].scale;
                    g->scale_given = 1;
                }
            if (st && !g->scale_given)
                return err_set(p->e, ERR_VALIDATION,
                               "%s.%s[%zu].ScalingType: '%s' is not one of: Auto, Linear, "
                               "Logarithmic, ReverseLogarithmic",
                               path, range_lists[l].list, i, EX(st, ex));
            if (g->kind == PARAM_CATEGORICAL) {
                const json_t *vals = get(j, "Values");
                size_t k;
                const json_t *v;
                if (json_array_size(vals) > REQ_MAX_VALUES)
                    return err_set(p->e, ERR_VALIDATION, "%s.%s[%zu].Values: at most %d values",
                                   path, range_lists[l].list, i, REQ_MAX_VALUES);
                if (!(g->values = alloc_n(p, json_array_size(vals), sizeof *g->values)))
                    continue;
                json_array_foreach(vals, k, v) {
                    if (!(g->values[g->nvalues++] =
                              strdup(json_string_value(v) ? json_string_value(v) : "")))
                        p->oom = 1;
                }
                continue;
            }
            g->lo_text = dup_at(p, j, "MinValue");
            g->hi_text = dup_at(p, j, "MaxValue");
            g->lo = g->lo_text ? strtod(g->lo_text, NULL) : NAN;
            g->hi = g->hi_text ? strtod(g->hi_text, NULL) : NAN;
        }
    }
    return 0;
}

/* A training job definition: TrainingJobDefinition of either API, or the
 * body of CreateTrainingJob (`hp_member` "HyperParameters"). */
static int parse_def(parser *p, const json_t *d, const char *hp_member, req_training_def *def) {
    char path[160];
    const json_t *md = path_get(d, "AlgorithmSpecification.MetricDefinitions");
    const json_t *ch = get(d, "InputDataConfig");
    size_t i;
    const json_t *j;
    int rc;
    size_t di = (size_t)(def - p->r->defs); /* its index, for the paths */
    def->definition_name = dup_at(p, d, "DefinitionName");
    def->image = dup_at(p, d, "AlgorithmSpecification.TrainingImage");
    def->input_mode = dup_at(p, d, "AlgorithmSpecification.TrainingInputMode");
    if (json_array_size(md) > REQ_MAX_METRICS)
        return err_set(p->e, ERR_VALIDATION, "%s: must have at most %d items",
                       request_def_path(p->r, di, "AlgorithmSpecification.MetricDefinitions", path,
                                        sizeof path),
                       REQ_MAX_METRICS);
    if (json_array_size(md) &&
        (def->metrics = alloc_n(p, json_array_size(md), sizeof *def->metrics)))
        json_array_foreach(md, i, j) {
            def->metrics[def->nmetrics].name = dup_at(p, j, "Name");
            def->metrics[def->nmetrics++].regex = dup_at(p, j, "Regex");
        }
    if ((rc = parse_map(p, get(d, hp_member), REQ_MAX_STATIC_HP,
                        request_def_path(p->r, di, "StaticHyperParameters", path, sizeof path),
                        &def->static_hp, &def->nstatic)) ||
        (rc = parse_map(p, get(d, "Environment"), REQ_MAX_ENV,
                        request_def_path(p->r, di, "Environment", path, sizeof path), &def->env,
                        &def->nenv)))
        return rc;
    if (json_array_size(ch) > REQ_MAX_CHANNELS)
        return err_set(p->e, ERR_VALIDATION, "%s: must have at most %d items",
                       request_def_path(p->r, di, "InputDataConfig", path, sizeof path),
                       REQ_MAX_CHANNELS);
    if (json_array_size(ch) &&
        (def->channels = alloc_n(p, json_array_size(ch), sizeof *def->channels)))
        json_array_foreach(ch, i, j) {
            req_channel *c = &def->channels[def->nchannels++];
            c->name = dup_at(p, j, "ChannelName");
            c->uri = dup_at(p, j, "DataSource.S3DataSource.S3Uri");
            c->data_type = dup_at(p, j, "DataSource.S3DataSource.S3DataType");
            c->distribution = dup_at(p, j, "DataSource.S3DataSource.S3DataDistributionType");
            c->content_type = dup_at(p, j, "ContentType");
            c->compression = dup_at(p, j, "CompressionType");
            c->record_wrapper = dup_at(p, j, "RecordWrapperType");
            c->input_mode = dup_at(p, j, "InputMode");
        }
    def->output_path = dup_at(p, d, "OutputDataConfig.S3OutputPath");
    def->kms_key = dup_at(p, d, "OutputDataConfig.KmsKeyId");
    def->checkpoint_uri = dup_at(p, d, "CheckpointConfig.S3Uri");
    def->checkpoint_local = dup_at(p, d, "CheckpointConfig.LocalPath");
    def->role_arn = dup_at(p, d, "RoleArn");
    def->instance_type = dup_at(p, d, "ResourceConfig.InstanceType");
    def->instance_count =
        (int)int_at(d, "ResourceConfig.InstanceCount", REQ_DEFAULT_INSTANCE_COUNT, NULL);
    def->volume_gb = (int)int_at(d, "ResourceConfig.VolumeSizeInGB", 0, NULL);
    def->max_runtime =
        (long)int_at(d, "StoppingCondition.MaxRuntimeInSeconds", REQ_DEFAULT_MAX_RUNTIME, NULL);
    def->retry_attempts = (int)int_at(d, "RetryStrategy.MaximumRetryAttempts", 0, NULL);
    def->maximize = REQ_DEFAULT_MAXIMIZE;
    return 0;
}

static int new_request(parser *p, api_flavor api, req_kind kind, const char *account) {
    if (!(p->r = calloc(1, sizeof *p->r)) || !(p->r->defs = calloc(1, sizeof *p->r->defs)))
        return err_set(p->e, ERR_INTERNAL, "out of memory");
    p->r->api = api;
    p->r->kind = kind;
    p->r->ndefs = 1;
    snprintf(p->r->account, sizeof p->r->account, "%s", account ? account : "");
    p->r->maximize = REQ_DEFAULT_MAXIMIZE;
    p->r->max_jobs = REQ_DEFAULT_MAX_JOBS;
    p->r->strategy = REQ_DEFAULT_STRATEGY;
    return 0;
}

/* The number of combinations of one set of ranges' values when every range
 * is categorical (Grid), or 0 when one is not or there are over
 * STRATEGY_GRID_MAX. */
static uint64_t set_combinations(const req_range *rg, size_t nr) {
    uint64_t n = nr ? 1 : 0;
    for (size_t i = 0; i < nr; i++) {
        if (rg[i].kind != PARAM_CATEGORICAL || !rg[i].nvalues ||
            n > STRATEGY_GRID_MAX / rg[i].nvalues)
            return 0;
        n *= rg[i].nvalues;
    }
    return n;
}

/* Grid's MaxNumberOfTrainingJobs: the combinations of the tuning job's
 * ranges or, with TrainingJobDefinitions, the sum of each definition's
 * (each definition runs its own grid); 0 as set_combinations, or when the
 * sum is over STRATEGY_GRID_MAX. */
static uint64_t grid_combinations(const req_tuning *r) {
    uint64_t total = 0;
    for (size_t d = 0; d < (r->multi_defs ? r->ndefs : 1); d++) {
        size_t n;
        const req_range *rg = def_ranges(r, d, &n);
        uint64_t c = set_combinations(rg, n);
        if (!c || total + c > STRATEGY_GRID_MAX)
            return 0;
        total += c;
    }
    return total;
}

/* The static hyperparameters Hyperband infers MaxResource from, in the
 * order they are looked for. */
static const char *const epoch_keys[] = {"epochs", "numepochs", "n-epochs", "n_epochs",
                                         "num_epochs"};

long request_hb_max_resource(const req_tuning *r, const char **from) {
    if (from)
        *from = NULL;
    if (r->hb_max_resource > 0)
        return r->hb_max_resource;
    for (size_t k = 0; k < sizeof epoch_keys / sizeof *epoch_keys; k++)
        for (size_t i = 0; r->ndefs && i < r->defs[0].nstatic; i++) {
            const req_kv *kv = &r->defs[0].static_hp[i];
            char *end;
            if (!kv->key || !kv->value || strcmp(kv->key, epoch_keys[k]))
                continue;
            errno = 0;
            long v = strtol(kv->value, &end, 10);
            if (from)
                *from = epoch_keys[k];
            return errno || end == kv->value || *end || v < 1 ? -1 : v;
        }
    return 0;
}

/* The strategy named at `v` (the model's enum has been checked). */
static int parse_strategy(parser *p, const json_t *v, const char *path) {
    char ex[VALIDATE_EXCERPT_BUF];
    const char *s = json_string_value(v);
    if (s && request_strategy_parse(s, &p->r->strategy))
        return err_set(p->e, ERR_VALIDATION, "%s: '%s' is not a strategy", path, EX(s, ex));
    return 0;
}

/* The objective: Type and MetricName of `obj`; without a MetricName the
 * first metric definition's name (request_check refuses the rest). */
static void parse_objective(parser *p, const json_t *obj) {
    const char *type = json_string_value(get(obj, "Type"));
    p->r->objective_metric = dup_at(p, obj, "MetricName");
    if (type)
        p->r->maximize = !strcmp(type, "Maximize");
    if (!p->r->objective_metric && p->r->defs[0].nmetrics && p->r->defs[0].metrics[0].name &&
        !(p->r->objective_metric = strdup(p->r->defs[0].metrics[0].name)))
        p->oom = 1;
}

static int parse_2017(parser *p, const json_t *b, const char *account) {
    const json_t *cfg = get(b, "TuningJobConfig");
    const json_t *lim = get(cfg, "ResourceLimits");
    int rc;
    if ((rc = new_request(p, API_2017, REQ_KIND_TUNING, account)))
        return rc;
    p->r->name = dup_at(p, b, "TuningJobName");
    if ((rc = parse_strategy(p, get(cfg, "Strategy"), "TuningJobConfig.Strategy")) ||
        (rc = parse_def(p, get(b, "TrainingJobDefinition"), "StaticHyperParameters",
                        &p->r->defs[0])) ||
        (rc = parse_ranges(p, get(cfg, "ParameterRanges"), "TuningJobConfig.ParameterRanges",
                           &p->r->ranges, &p->r->nranges)) ||
        (rc = parse_tags(p, get(b, "Tags"))))
        return rc;
    parse_objective(p, get(cfg, "TuningJobObjective"));
    p->r->max_jobs =
        (int)int_at(lim, "MaxNumberOfTrainingJobs", REQ_DEFAULT_MAX_JOBS, &p->r->max_jobs_given);
    p->r->max_parallel = (int)int_at(
        lim, "MaxParallelTrainingJobs",
        p->r->max_jobs < REQ_DEFAULT_MAX_PARALLEL ? p->r->max_jobs : REQ_DEFAULT_MAX_PARALLEL,
        NULL);
    p->r->max_clock_hours = (long)int_at(lim, "MaxClockTimeInHours", 0, NULL);
    return 0;
}

/* TrainingJobDefinitions (1..REQ_MAX_DEFINITIONS), instead of
 * TrainingJobDefinition: each definition has its DefinitionName,
 * TuningObjective and HyperParameterRanges, so the tuning job's own
 * HyperParameterTuningJobObjective and ParameterRanges are left out. */
static int parse_definitions(parser *p, const json_t *b, const json_t *cfg) {
    const char *cfgp = "HyperParameterTuningJobConfig";
    const json_t *list = get(b, "TrainingJobDefinitions"), *d;
    size_t n = json_array_size(list), i;
    char path[160];
    int rc;
    if (get(b, "TrainingJobDefinition"))
        return err_set(p->e, ERR_VALIDATION,
                       "TrainingJobDefinitions: give either TrainingJobDefinition or "
                       "TrainingJobDefinitions, not both");
    if (!json_is_array(list) || n < 1)
        return err_set(p->e, ERR_VALIDATION, "TrainingJobDefinitions: must have at least 1 item");
    if (n > REQ_MAX_DEFINITIONS)
        return err_set(p->e, ERR_VALIDATION,
                       "TrainingJobDefinitions: must have at most %d items, not %zu",
                       REQ_MAX_DEFINITIONS, n);
    if (get(cfg, "HyperParameterTuningJobObjective"))
        return err_set(p->e, ERR_VALIDATION,
                       "%s.HyperParameterTuningJobObjective: must be left out with "
                       "TrainingJobDefinitions (each definition has its own TuningObjective)",
                       cfgp);
    if (get(cfg, "ParameterRanges"))
        return err_set(p->e, ERR_VALIDATION,
                       "%s.ParameterRanges: must be left out with TrainingJobDefinitions (each "
                       "definition has its own HyperParameterRanges)",
                       cfgp);
    req_training_def *a = calloc(n, sizeof *a);
    if (!a)
        return err_set(p->e, ERR_INTERNAL, "out of memory");
    free(p->r->defs); /* new_request's one, still empty */
    p->r->defs = a;
    p->r->ndefs = 0;
    p->r->multi_defs = 1;
    json_array_foreach(list, i, d) {
        req_training_def *def = &p->r->defs[i];
        const json_t *obj = get(d, "TuningObjective");
        const char *type = json_string_value(get(obj, "Type"));
        static const char *const required[] = {
            "DefinitionName", "TuningObjective", "HyperParameterRanges",
            "AlgorithmSpecification.TrainingImage", "ResourceConfig"};
        p->r->ndefs = i + 1;
        for (size_t k = 0; k < sizeof required / sizeof *required; k++)
            if (!path_get(d, required[k]))
                return err_set(p->e, ERR_VALIDATION, "%s: is required%s",
                               request_def_path(p->r, i, required[k], path, sizeof path),
                               k < 3 ? " in each of TrainingJobDefinitions" : "");
        if ((rc = parse_def(p, d, "StaticHyperParameters", def)) ||
            (rc = parse_ranges(p, get(d, "HyperParameterRanges"),
                               request_def_path(p->r, i, "HyperParameterRanges", path, sizeof path),
                               &def->ranges, &def->nranges)))
            return rc;
        if (!def->nranges)
            return err_set(p->e, ERR_VALIDATION,
                           "%s: at least one parameter range is required (in "
                           "ContinuousParameterRanges, IntegerParameterRanges or "
                           "CategoricalParameterRanges)",
                           path);
        def->objective_metric = dup_at(p, obj, "MetricName");
        def->maximize = type ? !strcmp(type, "Maximize") : REQ_DEFAULT_MAXIMIZE;
    }
    /* The tuning job's direction is its definitions' (check_definitions:
     * one Type for all); its metric, the first definition's. */
    p->r->maximize = p->r->defs[0].maximize;
    return 0;
}

static int parse_current_tuning(parser *p, const json_t *b, const char *account) {
    const char *cfgp = "HyperParameterTuningJobConfig";
    const json_t *cfg = get(b, cfgp);
    const json_t *lim = get(cfg, "ResourceLimits");
    const json_t *obj = get(cfg, "HyperParameterTuningJobObjective");
    const json_t *def = get(b, "TrainingJobDefinition");
    const json_t *seed = get(cfg, "RandomSeed");
    const char *es = json_string_value(get(cfg, "TrainingJobEarlyStoppingType"));
    const json_t *ws = get(b, "WarmStartConfig");
    int rc;
    if ((rc = new_request(p, API_CURRENT, REQ_KIND_TUNING, account)))
        return rc;
    /* One definition (TrainingJobDefinition), or several (parse_definitions). */
    if (get(b, "TrainingJobDefinitions")) {
        if ((rc = parse_definitions(p, b, cfg)))
            return rc;
    } else {
        if (!def)
            return err_set(p->e, ERR_VALIDATION,
                           "TrainingJobDefinition: is required (or TrainingJobDefinitions)");
        if (!obj)
            return err_set(p->e, ERR_VALIDATION, "%s.HyperParameterTuningJobObjective: is required",
                           cfgp);
        if (!json_string_value(path_get(def, "AlgorithmSpecification.TrainingImage")))
            return err_set(p->e, ERR_VALIDATION,
                           "TrainingJobDefinition.AlgorithmSpecification.TrainingImage: is "
                           "required");
        if (!get(def, "ResourceConfig"))
            return err_set(p->e, ERR_VALIDATION,
                           "TrainingJobDefinition.ResourceConfig: is required");
        if ((rc = parse_def(p, def, "StaticHyperParameters", &p->r->defs[0])) ||
            (rc = parse_ranges(p, get(cfg, "ParameterRanges"),
                               "HyperParameterTuningJobConfig.ParameterRanges", &p->r->ranges,
                               &p->r->nranges)))
            return rc;
        parse_objective(p, obj);
    }
    p->r->name = dup_at(p, b, "HyperParameterTuningJobName");
    if ((rc = parse_strategy(p, get(cfg, "Strategy"), "HyperParameterTuningJobConfig.Strategy")) ||
        (rc = parse_tags(p, get(b, "Tags"))))
        return rc;
    p->r->max_jobs =
        (int)int_at(lim, "MaxNumberOfTrainingJobs", REQ_DEFAULT_MAX_JOBS, &p->r->max_jobs_given);
    p->r->max_parallel =
        (int)int_at(lim, "MaxParallelTrainingJobs", REQ_DEFAULT_MAX_PARALLEL, NULL);
    p->r->max_tuning_seconds = (long)int_at(lim, "MaxRuntimeInSeconds", 0, NULL);
    p->r->early_stopping =
        es && !strcmp(es, "Auto") ? REQ_EARLY_STOPPING_AUTO : REQ_EARLY_STOPPING_OFF;
    p->r->hb_min_resource =
        (long)int_at(cfg, "StrategyConfig.HyperbandStrategyConfig.MinResource", 0, NULL);
    p->r->hb_max_resource =
        (long)int_at(cfg, "StrategyConfig.HyperbandStrategyConfig.MaxResource", 0, NULL);
    p->r->has_strategy_config = get(cfg, "StrategyConfig") != NULL;
    if (p->r->strategy == REQ_STRATEGY_GRID && !p->r->max_jobs_given)
        p->r->max_jobs = (int)grid_combinations(p->r); /* 0 over the cap: request_check says */
    const json_t *cc = get(cfg, "TuningJobCompletionCriteria");
    const json_t *target = get(cc, "TargetObjectiveMetricValue");
    p->r->has_target = json_is_number(target);
    p->r->target_value = json_number_value(target);
    p->r->best_not_improving =
        (int)int_at(cc, "BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving", 0, NULL);
    const char *conv = json_string_value(path_get(cc, "ConvergenceDetected.CompleteOnConvergence"));
    p->r->convergence_detection = conv && !strcmp(conv, "Enabled");
    p->r->convergence_given = conv != NULL;
    if (ws) {
        const json_t *parents = get(ws, "ParentHyperParameterTuningJobs");
        const char *wt = json_string_value(get(ws, "WarmStartType"));
        size_t i;
        const json_t *j;
        p->r->warm_start = wt && !strcmp(wt, "TransferLearning") ? REQ_WARM_START_TRANSFER
                                                                 : REQ_WARM_START_IDENTICAL;
        if (json_array_size(parents) > REQ_MAX_PARENTS)
            return err_set(p->e, ERR_VALIDATION,
                           "WarmStartConfig.ParentHyperParameterTuningJobs: at most %d items",
                           REQ_MAX_PARENTS);
        if (json_array_size(parents) &&
            (p->r->parents = alloc_n(p, json_array_size(parents), sizeof *p->r->parents)))
            json_array_foreach(parents, i, j) {
                char *s = dup_at(p, j, "HyperParameterTuningJobName");
                if (s)
                    p->r->parents[p->r->nparents++] = s;
            }
    }
    if (json_is_integer(seed)) {
        p->r->seed_given = 1;
        p->r->seed = (uint64_t)json_integer_value(seed);
    }
    return 0;
}

static int parse_current_training(parser *p, const json_t *b, const char *account) {
    int rc;
    if ((rc = new_request(p, API_CURRENT, REQ_KIND_TRAINING, account)))
        return rc;
    if (!json_string_value(path_get(b, "AlgorithmSpecification.TrainingImage")))
        return err_set(p->e, ERR_VALIDATION, "AlgorithmSpecification.TrainingImage: is required");
    p->r->name = dup_at(p, b, "TrainingJobName");
    p->r->strategy = REQ_STRATEGY_RANDOM;
    p->r->max_jobs = p->r->max_parallel = 1;
    p->r->max_jobs_given = 1;
    if ((rc = parse_def(p, b, "HyperParameters", &p->r->defs[0])) ||
        (rc = parse_tags(p, get(b, "Tags"))))
        return rc;
    return 0;
}

int request_parse(api_flavor api, const char *op, const json_t *body, const char *account,
                  req_tuning **out, err_t *e) {
    parser p = {.e = e};
    int rc;
    *out = NULL;
    if (!json_is_object(body))
        return err_set(e, ERR_VALIDATION, "request body: must be an object");
    if (api == API_2017 && op && !strcmp(op, "CreateTuningJob"))
        rc = parse_2017(&p, body, account);
    else if (api == API_CURRENT && op && !strcmp(op, "CreateHyperParameterTuningJob"))
        rc = parse_current_tuning(&p, body, account);
    else if (api == API_CURRENT && op && !strcmp(op, "CreateTrainingJob"))
        rc = parse_current_training(&p, body, account);
    else
        rc = err_set(e, ERR_INTERNAL, "no request parser for %s", op ? op : "(null)");
    if (!rc && p.oom)
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    if (!rc)
        rc = request_check(p.r, e);
    if (rc) {
        request_free(p.r);
        return rc;
    }
    *out = p.r;
    return 0;
}

/* Members of the current API's CreateHyperParameterTuningJob, at the place
 * a 2017 CreateTuningJob body would carry them, that the 2017 API does not
 * have (its spec ignores unknown members; these are refused rather than
 * silently not honoured). */
static const char *const current_only_2017[] = {
    "TuningJobConfig.TuningJobCompletionCriteria",
    "TuningJobConfig.RandomSeed",
    "TuningJobConfig.ResourceLimits.MaxRuntimeInSeconds",
    "TrainingJobDefinition.RetryStrategy",
    "TrainingJobDefinitions",
    "WarmStartConfig",
};

int request_refuse_2017(const json_t *body, err_t *e) {
    for (size_t i = 0; i < sizeof current_only_2017 / sizeof *current_only_2017; i++)
        if (path_get(body, current_only_2017[i]))
            return err_set(e, ERR_VALIDATION,
                           "%s: is not a member of the 2017 HPO API (the current SageMaker "
                           "API's CreateHyperParameterTuningJob has it)",
                           current_only_2017[i]);
    return 0;
}

int request_parse_text(api_flavor api, const char *op, const char *text, const char *account,
                       req_tuning **out, err_t *e) {
    json_error_t je;
    json_t *b = text ? json_loads(text, JSON_REJECT_DUPLICATES, &je) : NULL;
    const json_t *orig;
    int rc;
    *out = NULL;
    if (!b)
        return err_set(e, ERR_INTERNAL, "the stored request is not JSON");
    /* Rows of earlier daemons hold a 2017-shaped body; a current-API job's
     * carries the caller's body under "_original". */
    if ((orig = get(b, "_original")) != NULL)
        rc = request_parse(API_CURRENT, op, orig, account, out, e);
    else
        rc = request_parse(api, op, b, account, out, e);
    json_decref(b);
    return rc;
}

/* ------------------------------------------------------------------ */
/* 3. The semantic rules                                                */
/* ------------------------------------------------------------------ */

/* Largest magnitude of an integer parameter bound (as space.c accepts). */
#define INT_BOUND_MAX 9e15

/* Path of the tuning job's configuration, ranges, objective, limits. */
static const char *cfg_path(const req_tuning *r) {
    return r->api == API_2017 ? "TuningJobConfig" : "HyperParameterTuningJobConfig";
}

static const char *ranges_path(const req_tuning *r, size_t def, char *buf, size_t n) {
    if (def < r->ndefs && r->defs[def].nranges)
        return request_def_path(r, def, "HyperParameterRanges", buf, n);
    snprintf(buf, n, "%s.ParameterRanges", cfg_path(r));
    return buf;
}

static const char *objective_path(const req_tuning *r, size_t def, char *buf, size_t n) {
    if (def < r->ndefs && r->defs[def].objective_metric)
        return request_def_path(r, def, "TuningObjective", buf, n);
    snprintf(buf, n, "%s.%s", cfg_path(r),
             r->api == API_2017 ? "TuningJobObjective" : "HyperParameterTuningJobObjective");
    return buf;
}

/* Where range `i` of `rg` is: "ContinuousParameterRanges[0]" (its index in
 * its own list). */
static void range_where(const req_range *rg, size_t i, char *buf, size_t n) {
    size_t k = 0;
    for (size_t j = 0; j < i; j++)
        k += rg[j].kind == rg[i].kind;
    snprintf(buf, n, "%s[%zu]", range_lists[rg[i].kind].list, k);
}

/* Parses s as a finite decimal number: [+-]digits[.digits][(e|E)[+-]digits]
 * (digits may also start after the point), or, when `integer`, just
 * [+-]digits with magnitude at most INT_BOUND_MAX. No spaces, hex, inf or
 * nan. Returns 0 and sets *out, or -1. */
static int parse_decimal(const char *s, int integer, double *out) {
    static const char digits[] = "0123456789";
    size_t i = 0, n;
    double v;
    if (!s)
        return -1;
    if (s[i] == '+' || s[i] == '-')
        i++;
    n = strspn(s + i, digits);
    i += n;
    if (!integer && s[i] == '.') {
        size_t frac = strspn(s + i + 1, digits);
        i += 1 + frac;
        n += frac;
    }
    if (!n)
        return -1;
    if (!integer && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp;
        i += (s[i + 1] == '+' || s[i + 1] == '-') ? 2 : 1;
        if (!(exp = strspn(s + i, digits)))
            return -1;
        i += exp;
    }
    if (s[i])
        return -1;
    errno = 0;
    v = strtod(s, NULL);
    if (!isfinite(v) || (integer && fabs(v) > INT_BOUND_MAX))
        return -1;
    *out = v;
    return 0;
}

/* The checks of each definition's ranges (or the tuning job's) run once per
 * set of ranges; `each_ranges` calls `fn` for each. */
typedef int (*ranges_fn)(const req_tuning *r, size_t def, const req_range *rg, size_t n,
                         const char *path, err_t *e);

static int each_ranges(const req_tuning *r, ranges_fn fn, err_t *e) {
    char path[160];
    int rc = 0;
    if (r->nranges || !r->ndefs || !r->defs[0].nranges)
        rc = fn(r, 0, r->ranges, r->nranges, ranges_path(r, SIZE_MAX, path, sizeof path), e);
    for (size_t d = 0; !rc && d < r->ndefs; d++)
        if (r->defs[d].nranges)
            rc = fn(r, d, r->defs[d].ranges, r->defs[d].nranges,
                    ranges_path(r, d, path, sizeof path), e);
    return rc;
}

/* MinValue and MaxValue are numbers of the range's kind, and Min <= Max. */
static int rule_bounds(const req_tuning *r, size_t def, const req_range *rg, size_t n,
                       const char *path, err_t *e) {
    static const char *const ends[] = {"MinValue", "MaxValue"};
    for (size_t i = 0; i < n; i++) {
        char where[64], ex[VALIDATE_EXCERPT_BUF], ex2[VALIDATE_EXCERPT_BUF];
        int integer = rg[i].kind == PARAM_INTEGER;
        const char *text[2] = {rg[i].lo_text, rg[i].hi_text};
        double v[2] = {rg[i].lo, rg[i].hi};
        char shown[2][32];
        if (rg[i].kind == PARAM_CATEGORICAL)
            continue;
        range_where(rg, i, where, sizeof where);
        for (size_t b = 0; b < 2; b++) {
            if (!text[b]) { /* a struct made without the text: its number */
                snprintf(shown[b], sizeof shown[b], "%.17g", v[b]);
                text[b] = shown[b];
                if (!isfinite(v[b]) ||
                    (integer && (v[b] != floor(v[b]) || fabs(v[b]) > INT_BOUND_MAX)))
                    v[b] = NAN;
            } else if (parse_decimal(text[b], integer, &v[b])) {
                v[b] = NAN;
            }
            if (isnan(v[b]))
                return err_set(e, ERR_VALIDATION, "%s.%s.%s: '%s' is not %s", path, where, ends[b],
                               EX(text[b], ex),
                               integer ? "an integer (decimal digits, at most 9e15)"
                                       : "a finite decimal number");
        }
        if (v[0] > v[1])
            return err_set(e, ERR_VALIDATION,
                           "%s.%s.MinValue: %s must not be greater than MaxValue %s", path, where,
                           EX(text[0], ex), EX(text[1], ex2));
    }
    return 0;
}

/* The bounds as numbers (rule_bounds has accepted them). */
static void range_bounds(const req_range *g, double *lo, double *hi) {
    int integer = g->kind == PARAM_INTEGER;
    *lo = g->lo;
    *hi = g->hi;
    if (g->lo_text)
        parse_decimal(g->lo_text, integer, lo);
    if (g->hi_text)
        parse_decimal(g->hi_text, integer, hi);
}

/* A ScalingType fits its range: Logarithmic above 0; ReverseLogarithmic
 * continuous, within [0, 1). Then the width on the scale's line is finite
 * in double precision (the unit-cube encoding divides by it). */
static int rule_scaling(const req_tuning *r, size_t def, const req_range *rg, size_t n,
                        const char *path, err_t *e) {
    for (size_t i = 0; i < n; i++) {
        char where[64];
        double lo, hi;
        param_scale sc = rg[i].scale_given    ? rg[i].scale
                         : r->api == API_2017 ? SCALE_LINEAR
                                              : SCALE_AUTO;
        if (rg[i].kind == PARAM_CATEGORICAL)
            continue;
        range_where(rg, i, where, sizeof where);
        range_bounds(&rg[i], &lo, &hi);
        if (sc == SCALE_LOG && lo <= 0)
            return err_set(e, ERR_VALIDATION,
                           "%s.%s.ScalingType: Logarithmic scaling needs MinValue greater than 0",
                           path, where);
        if (sc == SCALE_REVLOG && rg[i].kind == PARAM_INTEGER)
            return err_set(e, ERR_VALIDATION,
                           "%s.%s.ScalingType: ReverseLogarithmic scaling is only for "
                           "ContinuousParameterRanges",
                           path, where);
        if (sc == SCALE_REVLOG && (lo < 0 || hi >= 1))
            return err_set(e, ERR_VALIDATION,
                           "%s.%s.ScalingType: ReverseLogarithmic scaling needs 0 <= MinValue and "
                           "MaxValue < 1",
                           path, where);
        if (!isfinite(space_range_width(rg[i].kind, sc, lo, hi)))
            return err_set(e, ERR_VALIDATION,
                           "%s.%s: the range's width (MaxValue - MinValue on its %s scale) is not "
                           "finite in double precision; narrow the range of '%s'",
                           path, where, scale_name(space_resolve_scale(sc, lo, hi)),
                           rg[i].name ? rg[i].name : "");
    }
    return 0;
}

/* Categorical values are distinct. */
static int rule_values(const req_tuning *r, size_t def, const req_range *rg, size_t n,
                       const char *path, err_t *e) {
    for (size_t i = 0; i < n; i++) {
        char where[64], ex[VALIDATE_EXCERPT_BUF];
        if (rg[i].kind != PARAM_CATEGORICAL)
            continue;
        range_where(rg, i, where, sizeof where);
        for (size_t a = 0; a < rg[i].nvalues; a++)
            for (size_t b = 0; b < a; b++)
                if (!strcmp(rg[i].values[a], rg[i].values[b]))
                    return err_set(e, ERR_VALIDATION,
                                   "%s.%s.Values[%zu]: '%s' is already Values[%zu]", path, where, a,
                                   EX(rg[i].values[a], ex), b);
    }
    return 0;
}

/* The static hyperparameters that go with definition `def`. */
static const req_training_def *def_of(const req_tuning *r, size_t def) {
    return def < r->ndefs ? &r->defs[def] : NULL;
}

/* No parameter is named twice across the ranges and the static
 * hyperparameters. */
static int rule_names(const req_tuning *r, size_t def, const req_range *rg, size_t n,
                      const char *path, err_t *e) {
    const req_training_def *d = def_of(r, def);
    char spath[160];
    request_def_path(r, def, "StaticHyperParameters", spath, sizeof spath);
    for (size_t i = 0; i < n; i++) {
        char where[64], w2[64], ex[VALIDATE_EXCERPT_BUF];
        const char *name = rg[i].name ? rg[i].name : "";
        range_where(rg, i, where, sizeof where);
        for (size_t k = 0; d && k < d->nstatic; k++)
            if (!strcmp(d->static_hp[k].key, name))
                return err_set(e, ERR_VALIDATION,
                               "%s.%s.Name: '%s' is also a key of %s; a hyperparameter is either "
                               "tuned or static",
                               path, where, EX(name, ex), spath);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(name, rg[j].name ? rg[j].name : "")) {
                range_where(rg, j, w2, sizeof w2);
                return err_set(e, ERR_VALIDATION,
                               "%s.%s.Name: parameter '%s' is already defined by %s", path, where,
                               EX(name, ex), w2);
            }
    }
    return 0;
}

/* No two hyperparameters (tuned or static) map to the same SM_HP_
 * environment variable (contract_hp_var: upper case, non-alphanumerics as
 * '_'), which the program could not tell apart. */
static int rule_env_names(const req_tuning *r, size_t def, const req_range *rg, size_t n,
                          const char *path, err_t *e) {
    const req_training_def *d = def_of(r, def);
    size_t ns = d ? d->nstatic : 0, total = n + ns;
    char spath[160];
    request_def_path(r, def, "StaticHyperParameters", spath, sizeof spath);
    for (size_t a = 0; a < total; a++) {
        const char *na = a < n ? (rg[a].name ? rg[a].name : "") : d->static_hp[a - n].key;
        char va[CONTRACT_HP_VAR_MAX];
        contract_hp_var(na, va, sizeof va);
        for (size_t b = 0; b < a; b++) {
            const char *nb = b < n ? (rg[b].name ? rg[b].name : "") : d->static_hp[b - n].key;
            char vb[CONTRACT_HP_VAR_MAX], wa[200], wb[200];
            char ex[VALIDATE_EXCERPT_BUF], ex2[VALIDATE_EXCERPT_BUF];
            contract_hp_var(nb, vb, sizeof vb);
            if (strcmp(va, vb))
                continue;
            if (a < n) {
                char where[64];
                range_where(rg, a, where, sizeof where);
                snprintf(wa, sizeof wa, "%s.%s.Name", path, where);
            } else {
                snprintf(wa, sizeof wa, "%s", spath);
            }
            if (b < n) {
                char where[64];
                range_where(rg, b, where, sizeof where);
                snprintf(wb, sizeof wb, "%s.%s.Name", path, where);
            } else {
                snprintf(wb, sizeof wb, "%s", spath);
            }
            return err_set(e, ERR_VALIDATION,
                           "%s: hyperparameter '%s' and '%s' (%s) both map to the environment "
                           "variable %.64s; rename one of them",
                           wa, EX(na, ex), EX(nb, ex2), wb, va);
        }
    }
    return 0;
}

static int check_ranges(const req_tuning *r, err_t *e) {
    static const ranges_fn rules[] = {rule_bounds, rule_scaling, rule_values, rule_names,
                                      rule_env_names};
    int rc = 0;
    for (size_t i = 0; i < sizeof rules / sizeof *rules && !rc; i++)
        rc = each_ranges(r, rules[i], e);
    return rc;
}

/* There is something to tune (a tuning job). */
static int check_some_range(const req_tuning *r, err_t *e) {
    char path[160];
    size_t n = r->nranges;
    if (r->kind == REQ_KIND_TRAINING)
        return 0;
    for (size_t d = 0; d < r->ndefs; d++)
        n += r->defs[d].nranges;
    if (!n)
        return err_set(e, ERR_VALIDATION,
                       "%s: at least one parameter range is required (in "
                       "ContinuousParameterRanges, IntegerParameterRanges or "
                       "CategoricalParameterRanges)",
                       ranges_path(r, SIZE_MAX, path, sizeof path));
    return 0;
}

/* Each metric definition is usable: a Name and a Regex that compiles and
 * captures the value; names are distinct. */
static int check_metrics(const req_tuning *r, err_t *e) {
    for (size_t d = 0; d < r->ndefs; d++) {
        const req_training_def *def = &r->defs[d];
        char path[160], ex[VALIDATE_EXCERPT_BUF];
        request_def_path(r, d, "AlgorithmSpecification.MetricDefinitions", path, sizeof path);
        for (size_t i = 0; i < def->nmetrics; i++) {
            const char *name = def->metrics[i].name, *regex = def->metrics[i].regex;
            pcre2_code *re;
            int code;
            PCRE2_SIZE off;
            uint32_t groups = 0;
            if (!name)
                return err_set(e, ERR_VALIDATION,
                               "%s[%zu].Name: is required (a metric is found by its Regex and "
                               "reported under its Name)",
                               path, i);
            if (!regex)
                return err_set(e, ERR_VALIDATION,
                               "%s[%zu].Regex: is required (a metric is found by its Regex and "
                               "reported under its Name)",
                               path, i);
            for (size_t j = 0; j < i; j++)
                if (def->metrics[j].name && !strcmp(name, def->metrics[j].name))
                    return err_set(e, ERR_VALIDATION,
                                   "%s[%zu].Name: metric '%s' is already defined by "
                                   "MetricDefinitions[%zu]",
                                   path, i, EX(name, ex), j);
            re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                               &code, &off, NULL);
            if (!re) {
                PCRE2_UCHAR msg[128];
                pcre2_get_error_message(code, msg, sizeof msg);
                return err_set(e, ERR_VALIDATION,
                               "%s[%zu].Regex: is not a valid regular expression: %s at offset %zu",
                               path, i, (const char *)msg, (size_t)off);
            }
            pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
            pcre2_code_free(re);
            if (groups < 1)
                return err_set(e, ERR_VALIDATION,
                               "%s[%zu].Regex: must have a capture group, e.g. "
                               "'loss=([0-9.eE+-]+)': its first group is the value",
                               path, i);
        }
    }
    return 0;
}

/* The objective names a defined metric, or there is a metric to default to
 * (tuning jobs). */
static int check_objective(const req_tuning *r, err_t *e) {
    if (r->kind == REQ_KIND_TRAINING)
        return 0;
    for (size_t d = 0; d < r->ndefs; d++) {
        const req_training_def *def = &r->defs[d];
        const char *metric = request_objective(r, d, NULL);
        char mpath[160], opath[200], ex[VALIDATE_EXCERPT_BUF];
        request_def_path(r, d, "AlgorithmSpecification.MetricDefinitions", mpath, sizeof mpath);
        objective_path(r, d, opath, sizeof opath);
        if (!metric)
            return err_set(e, ERR_VALIDATION,
                           "%s: at least one metric definition is required: without one (and "
                           "without %s.MetricName) there is nothing to optimise",
                           mpath, opath);
        size_t i;
        for (i = 0; i < def->nmetrics; i++)
            if (def->metrics[i].name && !strcmp(def->metrics[i].name, metric))
                break;
        if (i == def->nmetrics)
            return err_set(e, ERR_VALIDATION, "%s.MetricName: '%s' is not the Name of any of %s",
                           opath, EX(metric, ex), mpath);
    }
    return 0;
}

/* The parallelism does not exceed the job budget. */
static int check_limits(const req_tuning *r, err_t *e) {
    if (r->kind == REQ_KIND_TRAINING || r->max_parallel <= r->max_jobs)
        return 0;
    return err_set(e, ERR_VALIDATION,
                   "%s.ResourceLimits.MaxParallelTrainingJobs: %d must not be greater than "
                   "MaxNumberOfTrainingJobs %d%s",
                   cfg_path(r), r->max_parallel, r->max_jobs,
                   r->max_jobs_given                  ? ""
                   : r->strategy == REQ_STRATEGY_GRID ? " (the number of Grid combinations)"
                                                      : " (its default)");
}

/* The strategy's own rules: Grid runs categorical ranges only, each
 * combination once (MaxNumberOfTrainingJobs, when given, is their number);
 * Hyperband has a MaxResource (given or inferred), MinResource <=
 * MaxResource <= STRATEGY_HB_MAX_RESOURCE, and early stopping Off;
 * StrategyConfig is for Hyperband only. */
static int check_strategy(const req_tuning *r, err_t *e) {
    char path[160], where[64];
    if (r->kind == REQ_KIND_TRAINING)
        return 0;
    if (r->has_strategy_config && r->strategy != REQ_STRATEGY_HYPERBAND)
        return err_set(e, ERR_VALIDATION,
                       "%s.StrategyConfig: is only for Strategy Hyperband (Strategy is %s)",
                       cfg_path(r), request_strategy_name(r->strategy));
    if (r->strategy == REQ_STRATEGY_GRID) {
        for (size_t d = 0; d < (r->multi_defs ? r->ndefs : 1); d++) {
            size_t nr;
            const req_range *rg = def_ranges(r, d, &nr);
            ranges_path(r, r->multi_defs ? d : SIZE_MAX, path, sizeof path);
            for (size_t i = 0; i < nr; i++)
                if (rg[i].kind != PARAM_CATEGORICAL) {
                    range_where(rg, i, where, sizeof where);
                    return err_set(e, ERR_VALIDATION,
                                   "%s.%s: '%s': Strategy Grid supports CategoricalParameterRanges "
                                   "only",
                                   path, where, rg[i].name ? rg[i].name : "");
                }
        }
        if (r->multi_defs)
            snprintf(path, sizeof path, "TrainingJobDefinitions[].HyperParameterRanges");
        uint64_t n = grid_combinations(r);
        if (!n)
            return err_set(e, ERR_VALIDATION,
                           "%s: Strategy Grid: the categorical ranges have more than %d "
                           "combinations",
                           path, STRATEGY_GRID_MAX);
        if (r->max_jobs_given && (uint64_t)r->max_jobs != n)
            return err_set(e, ERR_VALIDATION,
                           "%s.ResourceLimits.MaxNumberOfTrainingJobs: %d must be the number of "
                           "combinations of the categorical ranges for Strategy Grid (%llu), or "
                           "be left out",
                           cfg_path(r), r->max_jobs, (unsigned long long)n);
    }
    if (r->strategy == REQ_STRATEGY_HYPERBAND) {
        const char *from;
        long max = request_hb_max_resource(r, &from);
        long min = r->hb_min_resource > 0 ? r->hb_min_resource : 1;
        snprintf(path, sizeof path, "%s.StrategyConfig.HyperbandStrategyConfig", cfg_path(r));
        if (r->early_stopping != REQ_EARLY_STOPPING_OFF)
            return err_set(e, ERR_VALIDATION,
                           "%s.TrainingJobEarlyStoppingType: must be Off with Strategy Hyperband "
                           "(Hyperband stops training jobs itself)",
                           cfg_path(r));
        if (max < 0)
            return err_set(e, ERR_VALIDATION,
                           "TrainingJobDefinition.StaticHyperParameters.%s: is not a whole number "
                           "of at least 1, so Hyperband cannot take MaxResource from it",
                           from);
        if (max == 0)
            return err_set(e, ERR_VALIDATION,
                           "%s.MaxResource: is required with Strategy Hyperband unless a static "
                           "hyperparameter epochs, numepochs, n-epochs, n_epochs or num_epochs "
                           "gives it",
                           path);
        if (max > STRATEGY_HB_MAX_RESOURCE)
            return from ? err_set(e, ERR_VALIDATION,
                                  "TrainingJobDefinition.StaticHyperParameters.%s: %ld is over "
                                  "Hyperband's largest MaxResource, %d",
                                  from, max, STRATEGY_HB_MAX_RESOURCE)
                        : err_set(e, ERR_VALIDATION, "%s.MaxResource: %ld is over %d", path, max,
                                  STRATEGY_HB_MAX_RESOURCE);
        if (min > max)
            return err_set(e, ERR_VALIDATION,
                           "%s.MinResource: %ld must not be greater than MaxResource %ld", path,
                           min, max);
    }
    return 0;
}

/* Channels are distinct local directories. */
static int check_channels(const req_tuning *r, err_t *e) {
    for (size_t d = 0; d < r->ndefs; d++) {
        const req_training_def *def = &r->defs[d];
        char path[160], ex[VALIDATE_EXCERPT_BUF];
        request_def_path(r, d, "InputDataConfig", path, sizeof path);
        for (size_t i = 0; i < def->nchannels; i++) {
            const char *name = def->channels[i].name ? def->channels[i].name : "";
            const char *uri = def->channels[i].uri ? def->channels[i].uri : "";
            for (size_t j = 0; j < i; j++)
                if (!strcmp(name, def->channels[j].name ? def->channels[j].name : ""))
                    return err_set(
                        e, ERR_VALIDATION,
                        "%s[%zu].ChannelName: channel '%s' is already InputDataConfig[%zu]", path,
                        i, EX(name, ex), j);
            const char *dt = def->channels[i].data_type, *dist = def->channels[i].distribution;
            if (dt && strcmp(dt, "S3Prefix") && strcmp(dt, "ManifestFile"))
                return err_set(e, ERR_VALIDATION,
                               "%s[%zu].DataSource.S3DataSource.S3DataType: '%s' is not "
                               "supported (S3Prefix or ManifestFile)",
                               path, i, EX(dt, ex));
            if (dist && strcmp(dist, "FullyReplicated") && strcmp(dist, "ShardedByS3Key"))
                return err_set(e, ERR_VALIDATION,
                               "%s[%zu].DataSource.S3DataSource.S3DataDistributionType: '%s' is "
                               "not FullyReplicated or ShardedByS3Key",
                               path, i, EX(dist, ex));
            if (!strncmp(uri, "s3://", 5)) {
                if (!uri[5] || uri[5] == '/')
                    return err_set(e, ERR_VALIDATION,
                                   "%s[%zu].DataSource.S3DataSource.S3Uri: '%s' names no bucket "
                                   "(s3://bucket/prefix)",
                                   path, i, EX(uri, ex));
                continue;
            }
            if (dt && !strcmp(dt, "ManifestFile"))
                return err_set(e, ERR_VALIDATION,
                               "%s[%zu].DataSource.S3DataSource.S3DataType: ManifestFile needs "
                               "an s3:// S3Uri",
                               path, i);
            if (strncmp(uri, "file:///", 8))
                return err_set(e, ERR_VALIDATION,
                               "%s[%zu].DataSource.S3DataSource.S3Uri: '%s' is not a file:// URI "
                               "with an absolute path (file:///dir)",
                               path, i, EX(uri, ex));
        }
    }
    return 0;
}

/* Output goes to a local directory or an S3 location. */
static int check_output(const req_tuning *r, err_t *e) {
    for (size_t d = 0; d < r->ndefs; d++) {
        const char *uri = r->defs[d].output_path ? r->defs[d].output_path : "";
        char path[160], ex[VALIDATE_EXCERPT_BUF];
        const char *ck = r->defs[d].checkpoint_uri, *cl = r->defs[d].checkpoint_local;
        if (ck && (strncmp(ck, "s3://", 5) || !ck[5] || ck[5] == '/'))
            return err_set(e, ERR_VALIDATION, "%s: '%s' is not an s3://bucket/prefix URI",
                           request_def_path(r, d, "CheckpointConfig.S3Uri", path, sizeof path),
                           EX(ck, ex));
        if (cl && (strncmp(cl, "/opt/ml/", 8) || strstr(cl, "/..") || strstr(cl, "/./") ||
                   !strncmp(cl, "/opt/ml/input", 13) || !strncmp(cl, "/opt/ml/model", 13) ||
                   !strncmp(cl, "/opt/ml/output", 14) || !cl[8]))
            return err_set(e, ERR_VALIDATION,
                           "%s: '%s' must be a directory under /opt/ml/ outside input/, model/ "
                           "and output/ (default /opt/ml/checkpoints)",
                           request_def_path(r, d, "CheckpointConfig.LocalPath", path, sizeof path),
                           EX(cl, ex));
        if (!strncmp(uri, "file:///", 8) || (!strncmp(uri, "s3://", 5) && uri[5] && uri[5] != '/'))
            continue;
        return err_set(e, ERR_VALIDATION,
                       "%s: '%s' is neither a file:// URI with an absolute path (file:///dir) nor "
                       "an s3://bucket/prefix URI",
                       request_def_path(r, d, "OutputDataConfig.S3OutputPath", path, sizeof path),
                       EX(uri, ex));
    }
    return 0;
}

/* Several definitions (TrainingJobDefinitions): distinct DefinitionNames;
 * one objective Type for all (the best training job is chosen across the
 * definitions by the objective's value, so "best" must mean the same for
 * each; the metric names may differ); none of what openhpo does not run
 * across definitions: Strategy Hyperband, early stopping Auto, warm start. */
static int check_definitions(const req_tuning *r, err_t *e) {
    char path[160], ex[VALIDATE_EXCERPT_BUF];
    if (!r->multi_defs)
        return 0;
    for (size_t d = 0; d < r->ndefs; d++) {
        const char *name = r->defs[d].definition_name ? r->defs[d].definition_name : "";
        for (size_t k = 0; k < d; k++)
            if (r->defs[k].definition_name && !strcmp(name, r->defs[k].definition_name))
                return err_set(e, ERR_VALIDATION,
                               "%s: '%s' is already the DefinitionName of "
                               "TrainingJobDefinitions[%zu]",
                               request_def_path(r, d, "DefinitionName", path, sizeof path),
                               EX(name, ex), k);
        if (r->defs[d].maximize != r->defs[0].maximize)
            return err_set(e, ERR_VALIDATION,
                           "%s: %s differs from TrainingJobDefinitions[0]'s %s; every definition "
                           "must have the same objective Type (the best training job is chosen "
                           "across them)",
                           request_def_path(r, d, "TuningObjective.Type", path, sizeof path),
                           r->defs[d].maximize ? "Maximize" : "Minimize",
                           r->defs[0].maximize ? "Maximize" : "Minimize");
    }
    if (r->strategy == REQ_STRATEGY_HYPERBAND)
        return err_set(e, ERR_VALIDATION,
                       "%s.Strategy: Hyperband is not supported with TrainingJobDefinitions "
                       "(use Bayesian, Random or Grid)",
                       cfg_path(r));
    if (r->early_stopping != REQ_EARLY_STOPPING_OFF)
        return err_set(e, ERR_VALIDATION,
                       "%s.TrainingJobEarlyStoppingType: must be Off with TrainingJobDefinitions",
                       cfg_path(r));
    if (r->warm_start != REQ_WARM_START_NONE)
        return err_set(e, ERR_VALIDATION,
                       "WarmStartConfig: is not supported with TrainingJobDefinitions");
    return 0;
}

/* The rules, in the order they are checked (and documented in request.h). */
static const struct {
    const char *rule;
    int (*check)(const req_tuning *r, err_t *e);
} checks[] = {
    {"several definitions: names, one objective Type, what they support", check_definitions},
    {"ranges: bounds, scaling, width, values, names, SM_HP_ names", check_ranges},
    {"at least one parameter range", check_some_range},
    {"metric definitions are usable", check_metrics},
    {"the objective is a defined metric", check_objective},
    {"the strategy's own rules (Grid, Hyperband)", check_strategy},
    {"parallelism within the job budget", check_limits},
    {"channels are distinct, file:// or s3://, S3Prefix or ManifestFile", check_channels},
    {"output path is local or S3", check_output},
};

int request_check(const req_tuning *r, err_t *e) {
    int rc = 0;
    if (!r || !r->ndefs)
        return err_set(e, ERR_VALIDATION, "request body: no training job definition");
    for (size_t i = 0; i < sizeof checks / sizeof *checks && !rc; i++)
        rc = checks[i].check(r, e);
    return rc;
}

/* ------------------------------------------------------------------ */
/* 4. Emitters                                                          */
/* ------------------------------------------------------------------ */

/* Sets o[k] to a new string of s when s is given. */
static void set_str(json_t *o, const char *k, const char *s) {
    if (o && s)
        json_object_set_new(o, k, json_string(s));
}

json_t *request_kv_json(const req_kv *kv, size_t n) {
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++)
        json_object_set_new(o, kv[i].key, json_string(kv[i].value));
    return o;
}

json_t *request_metrics_json(const req_training_def *d) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < d->nmetrics; i++) {
        json_t *m = json_object();
        set_str(m, "Name", d->metrics[i].name);
        set_str(m, "Regex", d->metrics[i].regex);
        json_array_append_new(a, m);
    }
    return a;
}

json_t *request_channels_json(const req_training_def *d) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < d->nchannels; i++) {
        const req_channel *c = &d->channels[i];
        json_t *s3 = json_object(), *ch = json_object();
        set_str(s3, "S3DataType", c->data_type);
        set_str(s3, "S3Uri", c->uri);
        set_str(s3, "S3DataDistributionType", c->distribution);
        set_str(ch, "ChannelName", c->name);
        if (ch && s3)
            json_object_set_new(ch, "DataSource", json_pack("{s:O}", "S3DataSource", s3));
        json_decref(s3);
        set_str(ch, "ContentType", c->content_type);
        set_str(ch, "CompressionType", c->compression);
        set_str(ch, "RecordWrapperType", c->record_wrapper);
        set_str(ch, "InputMode", c->input_mode);
        json_array_append_new(a, ch);
    }
    return a;
}

json_t *request_ranges_json(const req_tuning *r, size_t def, api_flavor fl) {
    size_t n;
    const req_range *rg = def_ranges(r, def, &n);
    json_t *o = json_object();
    for (size_t l = 0; o && l < NLISTS; l++) {
        json_t *arr = NULL;
        for (size_t i = 0; i < n; i++) {
            if (rg[i].kind != range_lists[l].kind)
                continue;
            json_t *j = json_object();
            if (!arr && !(arr = json_array()))
                break;
            set_str(j, "Name", rg[i].name);
            if (rg[i].kind == PARAM_CATEGORICAL) {
                json_t *vals = json_array();
                for (size_t k = 0; vals && k < rg[i].nvalues; k++)
                    json_array_append_new(vals, json_string(rg[i].values[k]));
                if (j && vals)
                    json_object_set_new(j, "Values", vals);
            } else {
                char lo[32], hi[32];
                snprintf(lo, sizeof lo, "%.17g", rg[i].lo);
                snprintf(hi, sizeof hi, "%.17g", rg[i].hi);
                set_str(j, "MinValue", rg[i].lo_text ? rg[i].lo_text : lo);
                set_str(j, "MaxValue", rg[i].hi_text ? rg[i].hi_text : hi);
                if (rg[i].scale_given)
                    set_str(j, "ScalingType", scale_name(rg[i].scale));
            }
            if (fl == API_2017)
                set_str(j, "Type", range_lists[l].type);
            json_array_append_new(arr, j);
        }
        if (arr)
            json_object_set_new(o, range_lists[l].list, arr);
    }
    return o;
}

json_t *request_describe_2017(const req_tuning *r) {
    json_t *lim = json_pack("{s:i, s:i}", "MaxNumberOfTrainingJobs", r->max_jobs,
                            "MaxParallelTrainingJobs", r->max_parallel);
    if (lim && r->max_clock_hours > 0)
        json_object_set_new(lim, "MaxClockTimeInHours", json_integer(r->max_clock_hours));
    return json_pack("{s:o, s:o, s:o}", "ParameterRanges", request_ranges_json(r, 0, API_2017),
                     "MetricDefinitions", request_metrics_json(&r->defs[0]), "ResourceLimits",
                     lim ? lim : json_object());
}

json_t *request_definition_json(const req_tuning *r, size_t def) {
    const req_training_def *d = &r->defs[def < r->ndefs ? def : 0];
    json_t *alg = json_object(), *o = json_object();
    json_t *out = json_object();
    json_t *res = json_object();
    if (!alg || !o || !out || !res) {
        json_decref(alg);
        json_decref(o);
        json_decref(out);
        json_decref(res);
        return NULL;
    }
    set_str(alg, "TrainingImage", d->image);
    set_str(alg, "TrainingInputMode", d->input_mode);
    if (d->nmetrics)
        json_object_set_new(alg, "MetricDefinitions", request_metrics_json(d));
    json_object_set_new(o, "AlgorithmSpecification", alg);
    set_str(o, "RoleArn", d->role_arn);
    if (d->nchannels)
        json_object_set_new(o, "InputDataConfig", request_channels_json(d));
    set_str(out, "S3OutputPath", d->output_path);
    set_str(out, "KmsKeyId", d->kms_key);
    json_object_set_new(o, "OutputDataConfig", out);
    json_t *ck = d->checkpoint_uri ? json_object() : NULL;
    if (ck) {
        set_str(ck, "S3Uri", d->checkpoint_uri);
        set_str(ck, "LocalPath", d->checkpoint_local);
        json_object_set_new(o, "CheckpointConfig", ck);
    }
    set_str(res, "InstanceType", d->instance_type);
    json_object_set_new(res, "InstanceCount", json_integer(d->instance_count));
    if (d->volume_gb)
        json_object_set_new(res, "VolumeSizeInGB", json_integer(d->volume_gb));
    json_object_set_new(o, "ResourceConfig", res);
    json_object_set_new(o, "StoppingCondition",
                        json_pack("{s:I}", "MaxRuntimeInSeconds", (json_int_t)d->max_runtime));
    if (d->nenv)
        json_object_set_new(o, "Environment", request_kv_json(d->env, d->nenv));
    if (d->retry_attempts > 0)
        json_object_set_new(o, "RetryStrategy",
                            json_pack("{s:i}", "MaximumRetryAttempts", d->retry_attempts));
    return o;
}

/* TrainingJobDefinitions as given: each definition with its DefinitionName,
 * TuningObjective, HyperParameterRanges and StaticHyperParameters. */
static json_t *describe_definitions(const req_tuning *r) {
    json_t *a = json_array();
    for (size_t d = 0; a && d < r->ndefs; d++) {
        const req_training_def *def = &r->defs[d];
        json_t *o = request_definition_json(r, d);
        if (!o)
            continue;
        set_str(o, "DefinitionName", def->definition_name);
        json_object_set_new(o, "TuningObjective",
                            json_pack("{s:s, s:s}", "Type", def->maximize ? "Maximize" : "Minimize",
                                      "MetricName",
                                      def->objective_metric ? def->objective_metric : ""));
        json_object_set_new(o, "HyperParameterRanges", request_ranges_json(r, d, API_CURRENT));
        json_object_set_new(o, "StaticHyperParameters",
                            request_kv_json(def->static_hp, def->nstatic));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *request_describe_current(const req_tuning *r) {
    int maximize;
    const char *metric = request_objective(r, 0, &maximize);
    json_t *lim = json_pack("{s:i, s:i}", "MaxNumberOfTrainingJobs", r->max_jobs,
                            "MaxParallelTrainingJobs", r->max_parallel);
    json_t *def = request_definition_json(r, 0);
    json_t *cfg;
    if (lim && r->max_tuning_seconds > 0)
        json_object_set_new(lim, "MaxRuntimeInSeconds", json_integer(r->max_tuning_seconds));
    if (def)
        json_object_set_new(def, "StaticHyperParameters",
                            request_kv_json(r->defs[0].static_hp, r->defs[0].nstatic));
    cfg = json_pack("{s:s, s:{s:s, s:s}, s:o, s:o, s:s}", "Strategy",
                    request_strategy_name(r->strategy), "HyperParameterTuningJobObjective", "Type",
                    maximize ? "Maximize" : "Minimize", "MetricName", metric ? metric : "",
                    "ResourceLimits", lim ? lim : json_object(), "ParameterRanges",
                    request_ranges_json(r, 0, API_CURRENT), "TrainingJobEarlyStoppingType",
                    r->early_stopping == REQ_EARLY_STOPPING_AUTO ? "Auto" : "Off");
    if (cfg && r->seed_given)
        json_object_set_new(cfg, "RandomSeed", json_integer((json_int_t)r->seed));
    if (cfg && r->has_strategy_config) {
        json_t *hb = json_object();
        if (hb && r->hb_min_resource > 0)
            json_object_set_new(hb, "MinResource", json_integer(r->hb_min_resource));
        if (hb && r->hb_max_resource > 0)
            json_object_set_new(hb, "MaxResource", json_integer(r->hb_max_resource));
        json_object_set_new(cfg, "StrategyConfig",
                            json_pack("{s:o}", "HyperbandStrategyConfig", hb ? hb : json_object()));
    }
    json_t *cc =
        r->has_target || r->best_not_improving || r->convergence_given ? json_object() : NULL;
    if (cc && r->has_target)
        json_object_set_new(cc, "TargetObjectiveMetricValue", json_real(r->target_value));
    if (cc && r->best_not_improving)
        json_object_set_new(
            cc, "BestObjectiveNotImproving",
            json_pack("{s:i}", "MaxNumberOfTrainingJobsNotImproving", r->best_not_improving));
    if (cc && r->convergence_given)
        json_object_set_new(cc, "ConvergenceDetected",
                            json_pack("{s:s}", "CompleteOnConvergence",
                                      r->convergence_detection ? "Enabled" : "Disabled"));
    if (cfg && cc)
        json_object_set_new(cfg, "TuningJobCompletionCriteria", cc);
    else
        json_decref(cc);
    if (r->multi_defs) {
        json_decref(def);
        if (cfg) {
            json_object_del(cfg, "HyperParameterTuningJobObjective");
            json_object_del(cfg, "ParameterRanges");
        }
        return json_pack("{s:o, s:o}", "HyperParameterTuningJobConfig", cfg ? cfg : json_object(),
                         "TrainingJobDefinitions", describe_definitions(r));
    }
    return json_pack("{s:o, s:o}", "HyperParameterTuningJobConfig", cfg ? cfg : json_object(),
                     "TrainingJobDefinition", def ? def : json_object());
}
