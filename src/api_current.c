#include "api_current.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "reply.h"
#include "util.h"
#include "validate.h"

/* ---------- members openhpo does not support ----------
 *
 * A member listed here is refused when present, unless its value is one of
 * `allowed` ('|'-separated; booleans and integers spelt as in JSON). Paths
 * are dotted; "[]" means every element of a list. Rows with op NULL apply to
 * the training job definition: under "TrainingJobDefinition." in
 * CreateHyperParameterTuningJob and at the top level in CreateTrainingJob. */
typedef struct {
    const char *op;
    const char *path;
    const char *allowed;
} unsupported_member;

static const unsupported_member unsupported[] = {
    {"CreateHyperParameterTuningJob", "WarmStartConfig", NULL},
    {"CreateHyperParameterTuningJob", "TrainingJobDefinitions", NULL},
    {"CreateHyperParameterTuningJob", "Autotune", NULL},
    {"CreateHyperParameterTuningJob", "HyperParameterTuningJobConfig.Strategy", "Bayesian|Random"},
    {"CreateHyperParameterTuningJob", "HyperParameterTuningJobConfig.StrategyConfig", NULL},
    {"CreateHyperParameterTuningJob", "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType",
     "Off"},
    {"CreateHyperParameterTuningJob", "HyperParameterTuningJobConfig.TuningJobCompletionCriteria",
     NULL},
    {"CreateHyperParameterTuningJob",
     "HyperParameterTuningJobConfig.ParameterRanges.AutoParameters", NULL},
    {"CreateHyperParameterTuningJob", "TrainingJobDefinition.DefinitionName", NULL},
    {"CreateHyperParameterTuningJob", "TrainingJobDefinition.TuningObjective", NULL},
    {"CreateHyperParameterTuningJob", "TrainingJobDefinition.HyperParameterRanges", NULL},
    {"CreateHyperParameterTuningJob", "TrainingJobDefinition.HyperParameterTuningResourceConfig",
     NULL},
    {"CreateTrainingJob", "DebugHookConfig", NULL},
    {"CreateTrainingJob", "DebugRuleConfigurations", NULL},
    {"CreateTrainingJob", "TensorBoardOutputConfig", NULL},
    {"CreateTrainingJob", "ExperimentConfig", NULL},
    {"CreateTrainingJob", "ProfilerConfig", NULL},
    {"CreateTrainingJob", "ProfilerRuleConfigurations", NULL},
    {"CreateTrainingJob", "InfraCheckConfig", NULL},
    {"CreateTrainingJob", "RemoteDebugConfig", NULL},
    {"CreateTrainingJob", "SessionChainingConfig", NULL},
    {"CreateTrainingJob", "AlgorithmSpecification.ContainerEntrypoint", NULL},
    {"CreateTrainingJob", "AlgorithmSpecification.ContainerArguments", NULL},
    {"CreateTrainingJob", "AlgorithmSpecification.TrainingImageConfig", NULL},
    {"CreateTrainingJob", "StoppingCondition.MaxPendingTimeInSeconds", NULL},
    {"ListTrainingJobs", "WarmPoolStatusEquals", NULL},
    {"ListTrainingJobs", "TrainingPlanArnEquals", NULL},
    /* the training job definition, in both Create operations */
    {NULL, "VpcConfig", NULL},
    {NULL, "CheckpointConfig", NULL},
    {NULL, "RetryStrategy", NULL},
    {NULL, "EnableManagedSpotTraining", "false"},
    {NULL, "EnableNetworkIsolation", "false"},
    {NULL, "EnableInterContainerTrafficEncryption", "false"},
    {NULL, "AlgorithmSpecification.AlgorithmName", NULL},
    {NULL, "AlgorithmSpecification.TrainingInputMode", "File|FastFile"},
    {NULL, "InputDataConfig[].InputMode", "File|FastFile"},
    {NULL, "InputDataConfig[].CompressionType", "None"},
    {NULL, "InputDataConfig[].RecordWrapperType", "None"},
    {NULL, "InputDataConfig[].ShuffleConfig", NULL},
    {NULL, "InputDataConfig[].DataSource.FileSystemDataSource", NULL},
    {NULL, "InputDataConfig[].DataSource.S3DataSource.S3DataType", "S3Prefix"},
    {NULL, "InputDataConfig[].DataSource.S3DataSource.AttributeNames", NULL},
    {NULL, "InputDataConfig[].DataSource.S3DataSource.InstanceGroupNames", NULL},
    {NULL, "OutputDataConfig.KmsKeyId", NULL},
    {NULL, "OutputDataConfig.CompressionType", "GZIP"},
    {NULL, "ResourceConfig.InstanceCount", "1"},
    {NULL, "ResourceConfig.VolumeKmsKeyId", NULL},
    {NULL, "ResourceConfig.InstanceGroups", NULL},
    {NULL, "ResourceConfig.KeepAlivePeriodInSeconds", NULL},
    {NULL, "StoppingCondition.MaxWaitTimeInSeconds", NULL},
};

/* Members the built-in botocore model (python3-botocore 1.26) predates but
 * the current API has and openhpo supports; checked here, against a shape of
 * the model when there is one. */
typedef struct {
    const char *path;
    const char *shape; /* shape to check the value against, or NULL: a JSON integer >= 0 */
} extension_member;

static const extension_member extensions[] = {
    {"HyperParameterTuningJobConfig.RandomSeed", NULL},
    {"HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds", "MaxRuntimeInSeconds"},
    {"TrainingJobDefinition.Environment", "TrainingEnvironmentMap"},
};

static int allowed_value(const char *allowed, const json_t *v, char *shown, size_t cap) {
    char buf[64];
    if (json_is_string(v))
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else
        buf[0] = 0;
    snprintf(shown, cap, "%s", buf);
    if (!allowed || !buf[0])
        return 0;
    size_t n = strlen(buf);
    for (const char *p = allowed; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, buf, n))
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* Walks `path` from `v`; refuses the first present member that is not
 * allowed. `where` is the path walked so far (for the message). */
static int check_unsupported(const json_t *v, const char *path, const char *allowed,
                             const char *where, err_t *e) {
    char seg[128], here[512], shown[64];
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    int list = len > 2 && !strncmp(path + len - 2, "[]", 2);
    if (len >= sizeof seg)
        return err_set(e, ERR_INTERNAL, "unsupported-member table: path too long");
    memcpy(seg, path, len - (list ? 2 : 0));
    seg[len - (list ? 2 : 0)] = 0;
    const json_t *m = json_object_get(v, seg);
    if (!m)
        return 0;
    snprintf(here, sizeof here, "%s%s%s", where, where[0] ? "." : "", seg);
    if (list) {
        for (size_t i = 0; i < json_array_size(m); i++) {
            char at[540];
            snprintf(at, sizeof at, "%s[%zu]", here, i);
            int rc = dot ? check_unsupported(json_array_get(m, i), dot + 1, allowed, at, e) : 0;
            if (rc)
                return rc;
        }
        return 0;
    }
    if (dot)
        return check_unsupported(m, dot + 1, allowed, here, e);
    if (allowed_value(allowed, m, shown, sizeof shown))
        return 0;
    if (allowed && shown[0])
        return err_set(e, ERR_VALIDATION, "%s: '%s' is not supported by openhpo (supported: %s)",
                       here, shown, allowed);
    return err_set(e, ERR_VALIDATION, "%s: is not supported by openhpo", here);
}

static int refuse_unsupported(const char *op, const json_t *body, err_t *e) {
    int rc = 0;
    const char *def_prefix = !strcmp(op, "CreateHyperParameterTuningJob") ? "TrainingJobDefinition"
                             : !strcmp(op, "CreateTrainingJob")           ? ""
                                                                          : NULL;
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported && !rc; i++) {
        const unsupported_member *u = &unsupported[i];
        if (u->op && !strcmp(u->op, op))
            rc = check_unsupported(body, u->path, u->allowed, "", e);
        else if (!u->op && def_prefix)
            rc = check_unsupported(def_prefix[0] ? json_object_get(body, def_prefix) : body,
                                   u->path, u->allowed, def_prefix, e);
    }
    return rc;
}

static const json_t *at_path(const json_t *v, const char *path) {
    char seg[128];
    while (v && path && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (len >= sizeof seg)
            return NULL;
        memcpy(seg, path, len);
        seg[len] = 0;
        v = json_object_get(v, seg);
        path = dot ? dot + 1 : NULL;
    }
    return v;
}

static int check_extensions(const json_t *body, err_t *e) {
    int rc = 0;
    const validate_model *m = NULL;
    for (size_t i = 0; i < sizeof extensions / sizeof *extensions && !rc; i++) {
        const json_t *v = at_path(body, extensions[i].path);
        if (!v)
            continue;
        if (!extensions[i].shape) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                rc = err_set(e, ERR_VALIDATION, "%s: must be an integer of at least 0",
                             extensions[i].path);
            continue;
        }
        if (!m && !(m = validate_builtin_model(API_CURRENT, e)))
            return e->code;
        rc = validate_model_check_shape(m, extensions[i].shape, v, extensions[i].path, e);
    }
    return rc;
}

/* ---------- small helpers ---------- */

static const char *str(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static uint64_t random_seed(void) {
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s || !s)
        s = (uint64_t)(util_now() * 1e6);
    return s & 0x7fffffffffffffffULL;
}

/* Tuning job status in the current API's words. */
static const char *tuning_status(const char *s) {
    return !strcmp(s, "Created") || !strcmp(s, "Running") ? "InProgress" : s;
}

static double last_modified(double created, double started, double ended) {
    return ended > 0 ? ended : started > 0 ? started : created;
}

static void training_arn(const api_current_ctx *c, const char *account, const char *name, char *out,
                         size_t n) {
    snprintf(out, n, "arn:aws:sagemaker:%s:%s:training-job/%s", c->region, account, name);
}

/* Replaces each `from` in e->msg by `to` (for messages of checks written in
 * the 2017 API's member names). */
static void rename_in_msg(err_t *e, const char *from, const char *to) {
    char out[ERR_MSG_MAX];
    size_t o = 0, fl = strlen(from), tl = strlen(to);
    for (const char *p = e->msg; *p && o + 1 < sizeof out;) {
        if (!strncmp(p, from, fl) && o + tl + 1 < sizeof out) {
            memcpy(out + o, to, tl);
            o += tl;
            p += fl;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = 0;
    memcpy(e->msg, out, o + 1);
}

static int set_copy(json_t *dst, const char *k, const json_t *src) {
    return src ? json_object_set_new(dst, k, json_deep_copy(src)) : 0;
}

/* The engine's TrainingJobDefinition from a current-API definition (the
 * TrainingJobDefinition of a tuning job, or a CreateTrainingJob body, whose
 * HyperParameters become StaticHyperParameters). */
static json_t *internal_definition(const json_t *d, int solo) {
    json_t *out = json_object(), *alg = json_object();
    const json_t *a = json_object_get(d, "AlgorithmSpecification");
    if (!out || !alg) {
        json_decref(out);
        json_decref(alg);
        return NULL;
    }
    set_copy(alg, "TrainingImage", json_object_get(a, "TrainingImage"));
    set_copy(alg, "TrainingInputMode", json_object_get(a, "TrainingInputMode"));
    set_copy(alg, "MetricDefinitions", json_object_get(a, "MetricDefinitions"));
    json_object_set_new(out, "AlgorithmSpecification", alg);
    static const char *const copied[] = {"InputDataConfig", "OutputDataConfig",  "ResourceConfig",
                                         "RoleArn",         "StoppingCondition", "Environment"};
    for (size_t i = 0; i < sizeof copied / sizeof *copied; i++)
        set_copy(out, copied[i], json_object_get(d, copied[i]));
    const json_t *hp = json_object_get(d, solo ? "HyperParameters" : "StaticHyperParameters");
    json_object_set_new(out, "StaticHyperParameters", hp ? json_deep_copy(hp) : json_object());
    return out;
}

/* ParameterRanges with the Type member each list's ranges carry in the
 * engine's (2017) form. */
static json_t *internal_ranges(const json_t *pr) {
    static const char *const lists[][2] = {{"ContinuousParameterRanges", "Continuous"},
                                           {"IntegerParameterRanges", "Integer"},
                                           {"CategoricalParameterRanges", "Categorical"}};
    json_t *out = json_object();
    for (size_t l = 0; out && l < 3; l++) {
        const json_t *arr = json_object_get(pr, lists[l][0]);
        if (!arr)
            continue;
        json_t *copy = json_deep_copy(arr);
        size_t i;
        json_t *r;
        json_array_foreach(copy, i, r) json_object_set_new(r, "Type", json_string(lists[l][1]));
        json_object_set_new(out, lists[l][0], copy);
    }
    return out;
}

/* Ranges as the current API shows them (without Type). */
static json_t *public_ranges(const json_t *pr) {
    json_t *out = json_deep_copy(pr ? pr : json_object());
    const char *k;
    json_t *arr;
    json_object_foreach(out, k, arr) {
        size_t i;
        json_t *r;
        json_array_foreach(arr, i, r) json_object_del(r, "Type");
    }
    return out;
}

/* ---------- creating jobs ---------- */

static int add_tags(const api_current_ctx *c, const char *account, const char *arn,
                    const json_t *tags, err_t *e) {
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        if (store_tags_add(c->st, account, arn, str(t, "Key"),
                           str(t, "Value") ? str(t, "Value") : ""))
            return err_set(e, ERR_INTERNAL, "cannot store the tags");
    }
    return 0;
}

/* Runs the semantic checks of the 2017 API on the internal form and resolves
 * the image; messages are given the current API's member names. */
static int check_internal(const api_current_ctx *c, const json_t *req, int solo, err_t *e) {
    int rc = validate_create_tuning_job(req, e);
    if (rc) {
        if (solo) {
            rename_in_msg(e, "TrainingJobDefinition.StaticHyperParameters", "HyperParameters");
            rename_in_msg(e, "TrainingJobDefinition.", "");
        } else {
            rename_in_msg(e, "TuningJobConfig.", "HyperParameterTuningJobConfig.");
            rename_in_msg(e, "TuningJobObjective", "HyperParameterTuningJobObjective");
        }
        return rc;
    }
    const char *image = str(
        json_object_get(json_object_get(req, "TrainingJobDefinition"), "AlgorithmSpecification"),
        "TrainingImage");
    json_t *argv = engine_resolve_image(c->en, image, e);
    if (!argv) {
        rename_in_msg(e, solo ? "TrainingJobDefinition." : "", "");
        return e->code;
    }
    json_decref(argv);
    return 0;
}

static int op_create_tuning(const api_current_ctx *c, const char *account, json_t *body,
                            json_t **out, err_t *e) {
    int rc;
    json_t *req = NULL;
    char *text = NULL;
    store_tuning t = {0};
    const json_t *cfg = json_object_get(body, "HyperParameterTuningJobConfig");
    const json_t *def = json_object_get(body, "TrainingJobDefinition");
    const json_t *lim = json_object_get(cfg, "ResourceLimits");
    const json_t *objective = json_object_get(cfg, "HyperParameterTuningJobObjective");
    if (!def) {
        rc = err_set(e, ERR_VALIDATION, "TrainingJobDefinition: is required");
        goto out;
    }
    if (!objective) {
        rc = err_set(e, ERR_VALIDATION,
                     "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective: is required");
        goto out;
    }
    if (!str(json_object_get(def, "AlgorithmSpecification"), "TrainingImage")) {
        rc = err_set(e, ERR_VALIDATION,
                     "TrainingJobDefinition.AlgorithmSpecification.TrainingImage: is required");
        goto out;
    }
    if (!json_object_get(def, "ResourceConfig")) {
        rc = err_set(e, ERR_VALIDATION, "TrainingJobDefinition.ResourceConfig: is required");
        goto out;
    }
    const json_t *mj = json_object_get(lim, "MaxNumberOfTrainingJobs");
    json_int_t max_jobs = mj ? json_integer_value(mj) : API_CURRENT_DEFAULT_MAX_JOBS;
    json_t *idef = internal_definition(def, 0);
    req = json_pack("{s:s, s:s, s:{s:s, s:o, s:{s:I, s:O}, s:{s:s, s:s}}, s:o, s:b, s:O}",
                    "AwsAccountId", account, "TuningJobName",
                    str(body, "HyperParameterTuningJobName"), "TuningJobConfig", "Strategy",
                    str(cfg, "Strategy"), "ParameterRanges",
                    internal_ranges(json_object_get(cfg, "ParameterRanges")), "ResourceLimits",
                    "MaxNumberOfTrainingJobs", max_jobs, "MaxParallelTrainingJobs",
                    json_object_get(lim, "MaxParallelTrainingJobs"), "TuningJobObjective",
                    "MetricName", str(objective, "MetricName"), "Type", str(objective, "Type"),
                    "TrainingJobDefinition", idef, "_api_current", 1, "_original", body);
    if (!req) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = check_internal(c, req, 0, e)))
        goto out;
    snprintf(t.account, sizeof t.account, "%s", account);
    snprintf(t.name, sizeof t.name, "%s", str(body, "HyperParameterTuningJobName"));
    snprintf(t.arn, sizeof t.arn, "arn:aws:sagemaker:%s:%s:hyper-parameter-tuning-job/%s",
             c->region, account, t.name);
    snprintf(t.kind, sizeof t.kind, "tuning");
    snprintf(t.status, sizeof t.status, "Created");
    t.api = API_CURRENT;
    snprintf(t.strategy, sizeof t.strategy, "%s", str(cfg, "Strategy"));
    const json_t *seed = json_object_get(cfg, "RandomSeed");
    t.seed = seed ? (uint64_t)json_integer_value(seed) : random_seed();
    snprintf(t.objective_metric, sizeof t.objective_metric, "%s", str(objective, "MetricName"));
    snprintf(t.objective_type, sizeof t.objective_type, "%s", str(objective, "Type"));
    t.max_jobs = (int)max_jobs;
    t.max_parallel = (int)json_integer_value(json_object_get(lim, "MaxParallelTrainingJobs"));
    t.max_seconds = json_integer_value(json_object_get(lim, "MaxRuntimeInSeconds"));
    t.created = util_now();
    if (!(text = json_dumps(req, JSON_COMPACT))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    t.request = text;
    if ((rc = store_create_tuning(c->st, &t, e)))
        goto out;
    if ((rc = add_tags(c, account, t.arn, json_object_get(body, "Tags"), e)))
        goto out;
    if ((rc = engine_add_tuning(c->en, t.id, e)))
        goto out;
    log_info("created tuning job %s (account %s, %d jobs, %d parallel, %s)", t.name, account,
             t.max_jobs, t.max_parallel, t.strategy);
    *out = json_pack("{s:s}", "HyperParameterTuningJobArn", t.arn);
out:
    json_decref(req);
    free(text);
    return rc;
}

/* CreateTrainingJob: a tuning-job row of kind "training" that runs one trial
 * with the request's HyperParameters. */
static int op_create_training(const api_current_ctx *c, const char *account, json_t *body,
                              json_t **out, err_t *e) {
    int rc;
    json_t *req = NULL, *check = NULL;
    char *text = NULL;
    store_tuning t = {0};
    store_training existing = {0};
    const char *name = str(body, "TrainingJobName");
    if (!str(json_object_get(body, "AlgorithmSpecification"), "TrainingImage")) {
        rc = err_set(e, ERR_VALIDATION, "AlgorithmSpecification.TrainingImage: is required");
        goto out;
    }
    if (store_get_training(c->st, account, name, &existing) == 0) {
        rc = err_set(e, ERR_IN_USE, "Training job %s already exists", name);
        goto out;
    }
    json_t *idef = internal_definition(body, 1);
    req =
        json_pack("{s:s, s:s, s:{s:s, s:{}, s:{s:i, s:i}, s:{s:s, s:s}}, s:o, s:b, s:O}",
                  "AwsAccountId", account, "TuningJobName", name, "TuningJobConfig", "Strategy",
                  "Random", "ParameterRanges", "ResourceLimits", "MaxNumberOfTrainingJobs", 1,
                  "MaxParallelTrainingJobs", 1, "TuningJobObjective", "MetricName", "", "Type",
                  "Maximize", "TrainingJobDefinition", idef, "_api_current", 1, "_original", body);
    if (!req || !(check = json_deep_copy(req))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    /* The 2017 checks want a range and an objective: give the copy they see
     * placeholders that cannot clash with the request's own names. */
    json_t *ccfg = json_object_get(check, "TuningJobConfig");
    json_t *calg =
        json_object_get(json_object_get(check, "TrainingJobDefinition"), "AlgorithmSpecification");
    json_object_set_new(ccfg, "ParameterRanges",
                        json_pack("{s:[{s:s, s:[s], s:s}]}", "CategoricalParameterRanges", "Name",
                                  "_openhpo_check", "Values", "x", "Type", "Categorical"));
    if (json_array_size(json_object_get(calg, "MetricDefinitions")) == 0)
        json_object_set_new(calg, "MetricDefinitions",
                            json_pack("[{s:s, s:s}]", "Name", "_openhpo_check", "Regex", "(x)"));
    json_object_set_new(
        json_object_get(ccfg, "TuningJobObjective"), "MetricName",
        json_string(str(json_array_get(json_object_get(calg, "MetricDefinitions"), 0), "Name")));
    if ((rc = check_internal(c, check, 1, e)))
        goto out;
    snprintf(t.account, sizeof t.account, "%s", account);
    snprintf(t.name, sizeof t.name, "%s", name);
    training_arn(c, account, name, t.arn, sizeof t.arn);
    snprintf(t.kind, sizeof t.kind, "training");
    snprintf(t.status, sizeof t.status, "Created");
    t.api = API_CURRENT;
    snprintf(t.strategy, sizeof t.strategy, "Random");
    t.seed = random_seed();
    snprintf(t.objective_type, sizeof t.objective_type, "Maximize");
    t.max_jobs = t.max_parallel = 1;
    t.created = util_now();
    if (!(text = json_dumps(req, JSON_COMPACT))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    t.request = text;
    if ((rc = store_create_tuning(c->st, &t, e))) {
        if (rc == ERR_IN_USE)
            err_set(e, ERR_IN_USE, "Training job %s already exists", name);
        goto out;
    }
    if ((rc = add_tags(c, account, t.arn, json_object_get(body, "Tags"), e)))
        goto out;
    if ((rc = engine_add_tuning(c->en, t.id, e)))
        goto out;
    log_info("created training job %s (account %s)", name, account);
    *out = json_pack("{s:s}", "TrainingJobArn", t.arn);
out:
    json_decref(req);
    json_decref(check);
    free(text);
    store_training_clear(&existing);
    return rc;
}

/* ---------- describing ---------- */

static int load_tuning(const api_current_ctx *c, const char *account, const char *name,
                       store_tuning *t, err_t *e) {
    int rc = store_get_tuning(c->st, account, name, t);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_NOT_FOUND, "Amazon SageMaker can't find a tuning job with name %s",
                       name);
    if (rc)
        return err_set(e, rc, "cannot read the tuning job");
    return 0;
}

/* HyperParameterTrainingJobSummary of a training job of tuning job `tj`. */
static json_t *hpo_summary(const api_current_ctx *c, const store_training *t,
                           const store_tuning *tj) {
    char arn[256];
    training_arn(c, t->account, t->name, arn, sizeof arn);
    json_t *tuned = json_loads(t->tuned ? t->tuned : "{}", 0, NULL);
    json_t *s =
        json_pack("{s:s, s:s, s:s, s:f, s:s, s:o}", "TrainingJobName", t->name, "TrainingJobArn",
                  arn, "TuningJobName", tj->name, "CreationTime", t->created, "TrainingJobStatus",
                  t->status, "TunedHyperParameters", tuned ? tuned : json_object());
    if (!s)
        return NULL;
    if (t->started > 0)
        json_object_set_new(s, "TrainingStartTime", json_real(t->started));
    if (t->ended > 0)
        json_object_set_new(s, "TrainingEndTime", json_real(t->ended));
    if (!strcmp(t->status, "Failed") && t->failure_reason[0])
        json_object_set_new(s, "FailureReason", json_string(t->failure_reason));
    const char *os = t->has_objective ? "Succeeded"
                     : !strcmp(t->status, "InProgress") || !strcmp(t->status, "Stopping")
                         ? "Pending"
                         : "Failed";
    json_object_set_new(s, "ObjectiveStatus", json_string(os));
    if (t->has_objective)
        json_object_set_new(s, "FinalHyperParameterTuningJobObjectiveMetric",
                            json_pack("{s:s, s:s, s:f}", "MetricName", tj->objective_metric, "Type",
                                      tj->objective_type, "Value", t->objective));
    return s;
}

static int counters(const api_current_ctx *c, const store_tuning *t, json_t *out, err_t *e) {
    store_counts n;
    if (store_tuning_counts(c->st, t->id, util_now(), &n))
        return err_set(e, ERR_INTERNAL, "cannot count training jobs");
    int running = n.in_progress + n.stopping + n.pending;
    json_object_set_new(out, "TrainingJobStatusCounters",
                        json_pack("{s:i, s:i, s:i, s:i, s:i}", "Completed", n.completed,
                                  "InProgress", running, "RetryableError", 0, "NonRetryableError",
                                  n.failed, "Stopped", n.stopped));
    json_object_set_new(out, "ObjectiveStatusCounters",
                        json_pack("{s:i, s:i, s:i}", "Succeeded", n.objective_succeeded, "Pending",
                                  running, "Failed", n.total - n.objective_succeeded - running));
    return 0;
}

static json_t *resource_limits(const store_tuning *t) {
    json_t *l = json_pack("{s:i, s:i}", "MaxNumberOfTrainingJobs", t->max_jobs,
                          "MaxParallelTrainingJobs", t->max_parallel);
    if (l && t->max_seconds > 0 && t->api == API_CURRENT)
        json_object_set_new(l, "MaxRuntimeInSeconds", json_integer(t->max_seconds));
    return l;
}

static int op_describe_tuning(const api_current_ctx *c, const char *account, json_t *body,
                              json_t **out, err_t *e) {
    store_tuning t = {0};
    store_training best = {0};
    json_t *req = NULL, *o = NULL;
    int rc;
    if ((rc = load_tuning(c, account, str(body, "HyperParameterTuningJobName"), &t, e)))
        goto out;
    req = json_loads(t.request, 0, NULL);
    const json_t *cfg = json_object_get(req, "TuningJobConfig");
    const json_t *def = json_object_get(req, "TrainingJobDefinition");
    const json_t *orig_cfg =
        json_object_get(json_object_get(req, "_original"), "HyperParameterTuningJobConfig");
    json_t *pub_cfg =
        json_pack("{s:s, s:{s:s, s:s}, s:o, s:o, s:s}", "Strategy", t.strategy,
                  "HyperParameterTuningJobObjective", "Type", t.objective_type, "MetricName",
                  t.objective_metric, "ResourceLimits", resource_limits(&t), "ParameterRanges",
                  public_ranges(json_object_get(cfg, "ParameterRanges")),
                  "TrainingJobEarlyStoppingType", "Off");
    if (pub_cfg && json_object_get(orig_cfg, "RandomSeed"))
        json_object_set(pub_cfg, "RandomSeed", json_object_get(orig_cfg, "RandomSeed"));
    json_t *pub_def = json_deep_copy(def ? def : json_object());
    o = json_pack("{s:s, s:s, s:o, s:o, s:s, s:f, s:f}", "HyperParameterTuningJobName", t.name,
                  "HyperParameterTuningJobArn", t.arn, "HyperParameterTuningJobConfig", pub_cfg,
                  "TrainingJobDefinition", pub_def, "HyperParameterTuningJobStatus",
                  tuning_status(t.status), "CreationTime", t.created, "LastModifiedTime",
                  last_modified(t.created, t.started, t.ended));
    if (!o) {
        rc = err_set(e, ERR_INTERNAL, "cannot build the response");
        goto out;
    }
    if (t.ended > 0)
        json_object_set_new(o, "HyperParameterTuningEndTime", json_real(t.ended));
    if (t.failure_reason[0])
        json_object_set_new(o, "FailureReason", json_string(t.failure_reason));
    if ((rc = counters(c, &t, o, e)))
        goto out;
    if (store_best_training(c->st, t.id, !strcmp(t.objective_type, "Maximize"), &best) == 0)
        json_object_set_new(o, "BestTrainingJob", hpo_summary(c, &best, &t));
    *out = o;
    o = NULL;
out:
    json_decref(o);
    json_decref(req);
    store_tuning_clear(&t);
    store_training_clear(&best);
    return rc;
}

typedef struct {
    json_t *arr;
} transitions_ctx;

static void on_transition(void *ud, const char *status, double start, const char *message) {
    transitions_ctx *x = ud;
    size_t n = json_array_size(x->arr);
    if (n)
        json_object_set_new(json_array_get(x->arr, n - 1), "EndTime", json_real(start));
    json_array_append_new(x->arr, json_pack("{s:s, s:f, s:s}", "Status", status, "StartTime", start,
                                            "StatusMessage", message ? message : ""));
}

static void on_final_metric(void *ud, const char *name, double value, double ts) {
    json_array_append_new(
        ud, json_pack("{s:s, s:f, s:f}", "MetricName", name, "Value", value, "Timestamp", ts));
}

static int is_final_training(const char *status) {
    return !strcmp(status, "Completed") || !strcmp(status, "Failed") || !strcmp(status, "Stopped");
}

static int op_describe_training(const api_current_ctx *c, const char *account, json_t *body,
                                json_t **out, err_t *e) {
    store_training t = {0};
    store_tuning tj = {0};
    json_t *req = NULL, *o = NULL;
    char arn[256];
    int rc = store_get_training(c->st, account, str(body, "TrainingJobName"), &t);
    if (rc == ERR_NOT_FOUND) {
        rc = err_set(e, ERR_VALIDATION, "Requested resource not found.");
        goto out;
    }
    if (rc || (rc = store_get_tuning_by_id(c->st, t.tuning_id, &tj))) {
        rc = err_set(e, ERR_INTERNAL, "cannot read the training job");
        goto out;
    }
    req = json_loads(tj.request, 0, NULL);
    const json_t *def = json_object_get(req, "TrainingJobDefinition");
    json_t *hp = json_loads(t.hyperparameters ? t.hyperparameters : "{}", 0, NULL);
    training_arn(c, account, t.name, arn, sizeof arn);
    o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:f, s:f, s:b, s:b, s:b}", "TrainingJobName", t.name,
                  "TrainingJobArn", arn, "TrainingJobStatus", t.status, "SecondaryStatus",
                  t.secondary, "HyperParameters", hp ? hp : json_object(), "CreationTime",
                  t.created, "LastModifiedTime", last_modified(t.created, t.started, t.ended),
                  "EnableNetworkIsolation", 0, "EnableInterContainerTrafficEncryption", 0,
                  "EnableManagedSpotTraining", 0);
    if (!o) {
        rc = err_set(e, ERR_INTERNAL, "cannot build the response");
        goto out;
    }
    static const char *const copied[] = {
        "AlgorithmSpecification", "RoleArn",           "InputDataConfig", "OutputDataConfig",
        "ResourceConfig",         "StoppingCondition", "Environment"};
    for (size_t i = 0; i < sizeof copied / sizeof *copied; i++)
        set_copy(o, copied[i], json_object_get(def, copied[i]));
    if (strcmp(tj.kind, "training"))
        json_object_set_new(o, "TuningJobArn", json_string(tj.arn));
    if (t.model_artifacts[0])
        json_object_set_new(o, "ModelArtifacts",
                            json_pack("{s:s}", "S3ModelArtifacts", t.model_artifacts));
    if (strcmp(t.status, "Completed") && t.failure_reason[0])
        json_object_set_new(o, "FailureReason", json_string(t.failure_reason));
    if (t.started > 0)
        json_object_set_new(o, "TrainingStartTime", json_real(t.started));
    if (t.ended > 0) {
        json_object_set_new(o, "TrainingEndTime", json_real(t.ended));
        if (t.started > 0) {
            json_int_t secs = (json_int_t)llround(t.ended - t.started);
            json_object_set_new(o, "TrainingTimeInSeconds", json_integer(secs));
            json_object_set_new(o, "BillableTimeInSeconds", json_integer(secs));
        }
    }
    transitions_ctx x = {json_array()};
    json_t *finals = json_array();
    json_object_set_new(o, "SecondaryStatusTransitions", x.arr);
    json_object_set_new(o, "FinalMetricDataList", finals);
    if (!x.arr || !finals || store_each_transition(c->st, t.id, on_transition, &x) ||
        store_each_final_metric(c->st, t.id, on_final_metric, finals)) {
        rc = err_set(e, ERR_INTERNAL, "cannot read the training job's history");
        goto out;
    }
    size_t nt = json_array_size(x.arr);
    json_t *last = nt ? json_array_get(x.arr, nt - 1) : NULL;
    if (last && is_final_training(t.status))
        json_object_set(last, "EndTime", json_object_get(last, "StartTime"));
    *out = o;
    o = NULL;
out:
    json_decref(o);
    json_decref(req);
    store_training_clear(&t);
    store_tuning_clear(&tj);
    return rc;
}

/* ---------- listing ---------- */

/* Rows for list_page (ListTags): how many there are. */
typedef struct {
    size_t n;
    int failed;
} list_rows;

static double num(const json_t *o, const char *k) {
    return json_number_value(json_object_get(o, k));
}

/* The request's filters as a store query (q->statuses points into
 * `statuses`), and the pagination scope naming them. */
static void list_filters(const json_t *body, store_list_query *q, const char *statuses[3],
                         const char *what, const char *account, char *scope, size_t cap) {
    const char *status = str(body, "StatusEquals");
    q->account = account;
    q->name_contains = str(body, "NameContains");
    q->created_after = num(body, "CreationTimeAfter");
    q->created_before = num(body, "CreationTimeBefore");
    q->modified_after = num(body, "LastModifiedTimeAfter");
    q->modified_before = num(body, "LastModifiedTimeBefore");
    q->descending = str(body, "SortOrder") && !strcmp(str(body, "SortOrder"), "Descending");
    statuses[0] = status;
    statuses[1] = statuses[2] = NULL;
    q->statuses = status ? statuses : NULL;
    snprintf(scope, cap, "%s|%s|%s|%s|%s|%s|%.6f|%.6f|%.6f|%.6f", what, account,
             str(body, "SortBy") ? str(body, "SortBy") : "",
             str(body, "SortOrder") ? str(body, "SortOrder") : "", status ? status : "",
             q->name_contains ? q->name_contains : "", q->created_after, q->created_before,
             q->modified_after, q->modified_before);
}

/* SortBy (Name|CreationTime|Status|FinalObjectiveMetricValue) as a store order. */
static store_sort list_sort(const char *sort_by) {
    return !strcmp(sort_by, "Name")           ? STORE_SORT_NAME
           : !strcmp(sort_by, "CreationTime") ? STORE_SORT_CREATED
           : !strcmp(sort_by, "Status")       ? STORE_SORT_STATUS
                                              : STORE_SORT_OBJECTIVE;
}

/* The page the request asks for: q->offset from NextToken, q->limit from
 * MaxResults. */
static int list_window(const api_current_ctx *c, const json_t *body, const char *scope,
                       long long def_max, store_list_query *q, err_t *e) {
    long long offset = 0;
    const json_t *mr = json_object_get(body, "MaxResults");
    long long max = mr ? json_integer_value(mr) : def_max;
    int rc;
    if (str(body, "NextToken") &&
        (rc = reply_token_read(store_secret(c->st), scope, str(body, "NextToken"), &offset, e)))
        return rc;
    q->offset = offset;
    q->limit = max < 1 ? 1 : max > INT_MAX - 1 ? INT_MAX - 1 : (int)max;
    return 0;
}

/* The NextToken after a page of q that had `more`, or NULL. */
static json_t *list_next(const api_current_ctx *c, const char *scope, const store_list_query *q,
                         int more) {
    return more ? reply_token_make(store_secret(c->st), scope, (long long)(q->offset + q->limit))
                : NULL;
}

/* A list operation's page under construction, filled by the store's rows. */
typedef struct {
    const api_current_ctx *c;
    const store_tuning *tj; /* ListTrainingJobsForHyperParameterTuningJob */
    const char *account;
    json_t *arr;
    int rc; /* a failure met in a row */
    err_t *e;
} list_ctx;

static void on_hpo_summary(void *ud, const store_training *t) {
    list_ctx *x = ud;
    json_array_append_new(x->arr, hpo_summary(x->c, t, x->tj));
}

static void on_training_summary(void *ud, const store_training *t) {
    list_ctx *x = ud;
    char arn[256];
    training_arn(x->c, x->account, t->name, arn, sizeof arn);
    json_t *s =
        json_pack("{s:s, s:s, s:f, s:f, s:s}", "TrainingJobName", t->name, "TrainingJobArn", arn,
                  "CreationTime", t->created, "LastModifiedTime",
                  last_modified(t->created, t->started, t->ended), "TrainingJobStatus", t->status);
    if (s && t->ended > 0)
        json_object_set_new(s, "TrainingEndTime", json_real(t->ended));
    json_array_append_new(x->arr, s);
}

static void on_tuning_summary(void *ud, const store_tuning *t) {
    list_ctx *x = ud;
    if (x->rc)
        return;
    json_t *s =
        json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:o}", "HyperParameterTuningJobName", t->name,
                  "HyperParameterTuningJobArn", t->arn, "HyperParameterTuningJobStatus",
                  tuning_status(t->status), "Strategy", t->strategy, "CreationTime", t->created,
                  "LastModifiedTime", last_modified(t->created, t->started, t->ended),
                  "ResourceLimits", resource_limits(t));
    if (s && t->ended > 0)
        json_object_set_new(s, "HyperParameterTuningEndTime", json_real(t->ended));
    if (s)
        x->rc = counters(x->c, t, s, x->e);
    json_array_append_new(x->arr, s);
}

/* The page [offset, offset + max) of the rows: *first and *count, and the
 * NextToken (or NULL) for what remains. */
static int list_page(const api_current_ctx *c, const json_t *body, const list_rows *l,
                     const char *scope, long long def_max, size_t *first, size_t *count,
                     json_t **next, err_t *e) {
    long long offset = 0;
    const json_t *mr = json_object_get(body, "MaxResults");
    long long max = mr ? json_integer_value(mr) : def_max;
    int rc;
    *next = NULL;
    if (l->failed)
        return err_set(e, ERR_INTERNAL, "cannot list more than %d rows", API_CURRENT_LIST_MAX_ROWS);
    if (str(body, "NextToken") &&
        (rc = reply_token_read(store_secret(c->st), scope, str(body, "NextToken"), &offset, e)))
        return rc;
    if (max < 1)
        max = 1;
    *first = (size_t)offset < l->n ? (size_t)offset : l->n;
    *count = l->n - *first < (size_t)max ? l->n - *first : (size_t)max;
    if (*first + *count < l->n)
        *next = reply_token_make(store_secret(c->st), scope, (long long)(*first + *count));
    return 0;
}

/* Ends a list operation: the response `*o` (taken) gets `next` (borrowed)
 * as its NextToken when there is one, and becomes *out. */
static int list_reply(json_t **o, json_t *next, json_t **out, err_t *e) {
    if (!*o)
        return err_set(e, ERR_INTERNAL, "cannot build the response");
    if (next)
        json_object_set(*o, "NextToken", next);
    *out = *o;
    *o = NULL;
    return 0;
}

static int op_list_for_tuning(const api_current_ctx *c, const char *account, json_t *body,
                              json_t **out, err_t *e) {
    store_tuning t = {0};
    store_list_query q = {0};
    const char *statuses[3];
    json_t *o = NULL, *next = NULL;
    char scope[1024];
    int rc, more = 0;
    if ((rc = load_tuning(c, account, str(body, "HyperParameterTuningJobName"), &t, e)))
        goto out;
    const char *sort_by = str(body, "SortBy") ? str(body, "SortBy") : "Name";
    list_filters(body, &q, statuses, t.name, account, scope, sizeof scope);
    q.tuning_id = t.id;
    q.sort = list_sort(sort_by);
    q.with_objective = q.sort == STORE_SORT_OBJECTIVE;
    if ((rc = list_window(c, body, scope, API_CURRENT_DEFAULT_MAX_RESULTS, &q, e)))
        goto out;
    json_t *arr = json_array();
    o = json_pack("{s:o}", "TrainingJobSummaries", arr);
    list_ctx x = {.c = c, .tj = &t, .account = account, .arr = arr, .e = e};
    if (o && (rc = store_list_trainings_q(c->st, &q, on_hpo_summary, &x, &more))) {
        rc = err_set(e, rc, "cannot list training jobs");
        goto out;
    }
    next = list_next(c, scope, &q, more);
    rc = list_reply(&o, next, out, e);
out:
    json_decref(o);
    json_decref(next);
    store_tuning_clear(&t);
    return rc;
}

static int op_list_trainings(const api_current_ctx *c, const char *account, json_t *body,
                             json_t **out, err_t *e) {
    store_list_query q = {0};
    const char *statuses[3];
    json_t *o = NULL, *next = NULL;
    char scope[1024];
    int rc = 0, more = 0;
    list_filters(body, &q, statuses, "training-jobs", account, scope, sizeof scope);
    q.sort = list_sort(str(body, "SortBy") ? str(body, "SortBy") : "CreationTime");
    if ((rc = list_window(c, body, scope, API_CURRENT_DEFAULT_MAX_RESULTS, &q, e)))
        goto out;
    json_t *arr = json_array();
    o = json_pack("{s:o}", "TrainingJobSummaries", arr);
    list_ctx x = {.c = c, .account = account, .arr = arr, .e = e};
    if (o && (rc = store_list_trainings_q(c->st, &q, on_training_summary, &x, &more))) {
        rc = err_set(e, rc, "cannot list training jobs");
        goto out;
    }
    next = list_next(c, scope, &q, more);
    rc = list_reply(&o, next, out, e);
out:
    json_decref(o);
    json_decref(next);
    return rc;
}

static int op_list_tunings(const api_current_ctx *c, const char *account, json_t *body,
                           json_t **out, err_t *e) {
    store_list_query q = {0};
    const char *statuses[3];
    json_t *o = NULL, *next = NULL;
    char scope[1024];
    int rc = 0, more = 0;
    list_filters(body, &q, statuses, "tuning-jobs", account, scope, sizeof scope);
    /* The APIs' InProgress is the stored Created or Running. */
    if (statuses[0] && !strcmp(statuses[0], "InProgress")) {
        statuses[0] = "Created";
        statuses[1] = "Running";
    }
    q.sort = list_sort(str(body, "SortBy") ? str(body, "SortBy") : "Name");
    if ((rc = list_window(c, body, scope, API_CURRENT_DEFAULT_MAX_RESULTS, &q, e)))
        goto out;
    json_t *arr = json_array();
    o = json_pack("{s:o}", "HyperParameterTuningJobSummaries", arr);
    list_ctx x = {.c = c, .account = account, .arr = arr, .e = e};
    if (o && (rc = store_list_tunings(c->st, &q, on_tuning_summary, &x, &more))) {
        rc = err_set(e, rc, "cannot list tuning jobs");
        goto out;
    }
    if ((rc = x.rc))
        goto out;
    next = list_next(c, scope, &q, more);
    rc = list_reply(&o, next, out, e);
out:
    json_decref(o);
    json_decref(next);
    return rc;
}

/* ---------- stopping ---------- */

static int op_stop_tuning(const api_current_ctx *c, const char *account, json_t *body, json_t **out,
                          err_t *e) {
    store_tuning t = {0};
    int rc;
    if ((rc = load_tuning(c, account, str(body, "HyperParameterTuningJobName"), &t, e)))
        goto out;
    if (strcmp(t.status, "Created") && strcmp(t.status, "Running") &&
        strcmp(t.status, "Stopping")) {
        rc = err_set(e, ERR_VALIDATION,
                     "Tuning job %s is %s; only an InProgress tuning job can be stopped", t.name,
                     t.status);
        goto out;
    }
    if ((rc = engine_stop_tuning(c->en, t.id, e)))
        goto out;
    log_info("stopping tuning job %s", t.name);
    *out = json_object();
out:
    store_tuning_clear(&t);
    return rc;
}

static int op_stop_training(const api_current_ctx *c, const char *account, json_t *body,
                            json_t **out, err_t *e) {
    store_training t = {0};
    const char *name = str(body, "TrainingJobName");
    int rc = store_get_training(c->st, account, name, &t);
    if (rc == ERR_NOT_FOUND) {
        rc = err_set(e, ERR_NOT_FOUND, "Amazon SageMaker can't find a training job with name %s",
                     name);
        goto out;
    }
    if (rc) {
        rc = err_set(e, ERR_INTERNAL, "cannot read the training job");
        goto out;
    }
    if (!strcmp(t.status, "Stopping")) {
        *out = json_object();
        goto out;
    }
    if (strcmp(t.status, "InProgress")) {
        rc = err_set(e, ERR_VALIDATION,
                     "Training job %s is %s; only an InProgress training job can be stopped", name,
                     t.status);
        goto out;
    }
    if ((rc = engine_stop_training(c->en, t.id, e)))
        goto out;
    log_info("stopping training job %s", name);
    *out = json_object();
out:
    store_training_clear(&t);
    return rc;
}

/* ---------- tags ---------- */

/* The resource `arn` names must exist in the caller's account: a tuning job
 * (hyper-parameter-tuning-job/ or the 2017 API's tuning-job/) or a training
 * job (training-job/). */
static int resolve_arn(const api_current_ctx *c, const char *account, const char *arn, err_t *e) {
    char prefix[128], want[256];
    int rc = ERR_NOT_FOUND;
    int n = snprintf(prefix, sizeof prefix, "arn:aws:sagemaker:%s:%s:", c->region, account);
    if (n > 0 && (size_t)n < sizeof prefix && !strncmp(arn, prefix, (size_t)n)) {
        const char *res = arn + n, *slash = strchr(res, '/');
        const char *name = slash ? slash + 1 : "";
        size_t tl = slash ? (size_t)(slash - res) : 0;
        if ((tl == 26 && !strncmp(res, "hyper-parameter-tuning-job", tl)) ||
            (tl == 10 && !strncmp(res, "tuning-job", tl))) {
            store_tuning t = {0};
            if (store_get_tuning(c->st, account, name, &t) == 0 && !strcmp(t.arn, arn))
                rc = 0;
            store_tuning_clear(&t);
        } else if (tl == 12 && !strncmp(res, "training-job", tl)) {
            store_training t = {0};
            training_arn(c, account, name, want, sizeof want);
            if (store_get_training(c->st, account, name, &t) == 0 && !strcmp(want, arn))
                rc = 0;
            store_training_clear(&t);
        }
    }
    if (rc)
        return err_set(e, ERR_VALIDATION, "Resource %.300s does not exist", arn);
    return 0;
}

static void on_tag(void *ud, const char *key, const char *value) {
    json_array_append_new(ud, json_pack("{s:s, s:s}", "Key", key, "Value", value));
}

static int op_add_tags(const api_current_ctx *c, const char *account, json_t *body, json_t **out,
                       err_t *e) {
    const char *arn = str(body, "ResourceArn");
    const json_t *tags = json_object_get(body, "Tags");
    json_t *have = json_array();
    int rc, n = 0;
    size_t i, j;
    json_t *t;
    if (!have) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = resolve_arn(c, account, arn, e)))
        goto out;
    if (store_each_tag(c->st, arn, on_tag, have)) {
        rc = err_set(e, ERR_INTERNAL, "cannot read the tags");
        goto out;
    }
    n = (int)json_array_size(have);
    json_array_foreach(tags, i, t) {
        int known = 0;
        json_t *h;
        json_array_foreach(have, j, h) known |= !strcmp(str(h, "Key"), str(t, "Key"));
        for (size_t k = 0; k < i && !known; k++)
            known = !strcmp(str(json_array_get(tags, k), "Key"), str(t, "Key"));
        n += !known;
    }
    if (n > API_CURRENT_MAX_TAGS) {
        rc = err_set(e, ERR_LIMIT_EXCEEDED, "A resource can have at most %d tags",
                     API_CURRENT_MAX_TAGS);
        goto out;
    }
    if ((rc = add_tags(c, account, arn, tags, e)))
        goto out;
    *out = json_pack("{s:O}", "Tags", tags);
out:
    json_decref(have);
    return rc;
}

static int op_list_tags(const api_current_ctx *c, const char *account, json_t *body, json_t **out,
                        err_t *e) {
    const char *arn = str(body, "ResourceArn");
    json_t *all = json_array(), *next = NULL, *page = NULL;
    char scope[512];
    list_rows l = {0};
    size_t first, count;
    int rc;
    if ((rc = resolve_arn(c, account, arn, e)))
        goto out;
    if (!all || store_each_tag(c->st, arn, on_tag, all)) {
        rc = err_set(e, ERR_INTERNAL, "cannot read the tags");
        goto out;
    }
    snprintf(scope, sizeof scope, "tags|%s|%.300s", account, arn);
    l.n = json_array_size(all);
    if ((rc = list_page(c, body, &l, scope, API_CURRENT_DEFAULT_TAG_RESULTS, &first, &count, &next,
                        e)))
        goto out;
    page = json_array();
    for (size_t i = first; page && i < first + count; i++)
        json_array_append(page, json_array_get(all, i));
    *out = json_pack("{s:o}", "Tags", page);
    page = NULL;
    if (*out && next)
        json_object_set(*out, "NextToken", next);
out:
    json_decref(all);
    json_decref(next);
    return rc;
}

static int op_delete_tags(const api_current_ctx *c, const char *account, json_t *body, json_t **out,
                          err_t *e) {
    const char *arn = str(body, "ResourceArn");
    size_t i;
    json_t *k;
    int rc;
    if ((rc = resolve_arn(c, account, arn, e)))
        return rc;
    json_array_foreach(json_object_get(body, "TagKeys"), i, k) {
        if (store_tags_delete(c->st, arn, json_string_value(k)))
            return err_set(e, ERR_INTERNAL, "cannot delete the tags");
    }
    *out = json_object();
    return 0;
}

/* ---------- the dispatcher ---------- */

typedef int (*op_fn)(const api_current_ctx *c, const char *account, json_t *body, json_t **out,
                     err_t *e);

static const struct {
    const char *name;
    op_fn fn;
} ops[] = {
    {"CreateHyperParameterTuningJob", op_create_tuning},
    {"DescribeHyperParameterTuningJob", op_describe_tuning},
    {"ListHyperParameterTuningJobs", op_list_tunings},
    {"ListTrainingJobsForHyperParameterTuningJob", op_list_for_tuning},
    {"StopHyperParameterTuningJob", op_stop_tuning},
    {"CreateTrainingJob", op_create_training},
    {"DescribeTrainingJob", op_describe_training},
    {"ListTrainingJobs", op_list_trainings},
    {"StopTrainingJob", op_stop_training},
    {"AddTags", op_add_tags},
    {"ListTags", op_list_tags},
    {"DeleteTags", op_delete_tags},
};

#define TARGET_PREFIX "SageMaker."

void api_current_handle(const api_current_ctx *c, const char *account, const http_request *req,
                        http_response *resp) {
    err_t e = {0};
    json_t *body = NULL, *out = NULL;
    const char *target = http_header(req, "X-Amz-Target");
    size_t i = sizeof ops / sizeof *ops;
    int rc;
    if (target && !strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX)))
        for (i = 0; i < sizeof ops / sizeof *ops; i++)
            if (!strcmp(target + strlen(TARGET_PREFIX), ops[i].name))
                break;
    if (i == sizeof ops / sizeof *ops) {
        rc = err_set(&e, ERR_UNKNOWN_OPERATION, "Unknown operation %.128s", target ? target : "");
        goto out;
    }
    const char *op = ops[i].name;
    if (strcmp(req->method, "POST")) {
        rc = err_set(&e, ERR_VALIDATION, "%s must be called with POST", op);
        goto out;
    }
    if (!http_json_content_type(http_header(req, "Content-Type"))) {
        rc = err_set(&e, ERR_VALIDATION, "Content-Type must be application/x-amz-json-1.1");
        goto out;
    }
    if (req->body_too_large) {
        rc = err_set(&e, ERR_VALIDATION, "Request body exceeds %d bytes", VALIDATE_MAX_BODY_BYTES);
        goto out;
    }
    json_error_t je;
    body = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je)
                         : json_object();
    if (!body) {
        rc = err_set(&e, ERR_VALIDATION, "Request body is not valid JSON: %s (line %d, column %d)",
                     je.text, je.line, je.column);
        goto out;
    }
    if ((rc = validate_request(API_CURRENT, op, body, &e)) ||
        (rc = refuse_unsupported(op, body, &e)) || (rc = check_extensions(body, &e)))
        goto out;
    if ((rc = ops[i].fn(c, account, body, &out, &e)))
        goto out;
    if (!out) {
        rc = err_set(&e, ERR_INTERNAL, "cannot build the response");
        goto out;
    }
    reply_json(resp, 200, out, API_CURRENT);
    out = NULL;
out:
    if (rc)
        reply_error(resp, &e, API_CURRENT);
    json_decref(out);
    json_decref(body);
}
