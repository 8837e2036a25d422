/* api_current — the current SageMaker API (2017-07-24, JSON 1.1): POST /
 * with X-Amz-Target: SageMaker.<Operation>, over the typed request, the
 * engine and the store. Jobs belong to the caller's account; a job of
 * another account does not exist for the caller. Jobs created through the
 * 2017 API are visible here and the other way round.
 *
 * Before parsing, a declarative table refuses the members openhpo does not
 * support (a ValidationException naming the member: never ignored), and the
 * members newer than the built-in botocore model are checked. */
#include "api_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "reply.h"
#include "status.h"
#include "util.h"
#include "validate.h"
#include "warmstart.h"

/* ---------- members openhpo does not support ----------
 *
 * A member listed here is refused when present, unless its value is one of
 * `allowed` ('|'-separated; booleans and integers spelt as in JSON). Paths
 * are dotted; "[]" means every element of a list. Rows with op NULL apply to
 * the training job definition: under "TrainingJobDefinition." (and each
 * element of "TrainingJobDefinitions") in CreateHyperParameterTuningJob and
 * at the top level in CreateTrainingJob. */
typedef struct {
    const char *op;
    const char *path;
    const char *allowed;
} unsupported_member;

static const unsupported_member unsupported[] = {
    {"CreateHyperParameterTuningJob", "Autotune", NULL},
    {"CreateHyperParameterTuningJob",
     "HyperParameterTuningJobConfig.ParameterRanges.AutoParameters", NULL},
    {"CreateHyperParameterTuningJob", "TrainingJobDefinition.DefinitionName", NULL},
    {"CreateHyperParameterTuningJob", "TrainingJobDefinition.TuningObjective", NULL},
    {"CreateHyperParameterTuningJob", "TrainingJobDefinition.HyperParameterRanges", NULL},
    {"CreateHyperParameterTuningJob", "TrainingJobDefinition.HyperParameterTuningResourceConfig",
     NULL},
    {"CreateHyperParameterTuningJob", "TrainingJobDefinitions[].HyperParameterTuningResourceConfig",
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
    {NULL, "InputDataConfig[].DataSource.S3DataSource.S3DataType", "S3Prefix|ManifestFile"},
    {NULL, "InputDataConfig[].DataSource.S3DataSource.AttributeNames", NULL},
    {NULL, "InputDataConfig[].DataSource.S3DataSource.InstanceGroupNames", NULL},
    {NULL, "OutputDataConfig.KmsKeyId", NULL},
    {NULL, "OutputDataConfig.CompressionType", "GZIP"},
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

/* check_unsupported for each element of TrainingJobDefinitions. */
static int each_definition(const json_t *body, const char *path, const char *allowed, err_t *e) {
    const json_t *list = json_object_get(body, "TrainingJobDefinitions");
    int rc = 0;
    for (size_t i = 0; !rc && i < json_array_size(list); i++) {
        char at[64];
        snprintf(at, sizeof at, "TrainingJobDefinitions[%zu]", i);
        rc = check_unsupported(json_array_get(list, i), path, allowed, at, e);
    }
    return rc;
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
        if (!rc && !u->op && def_prefix && def_prefix[0]) /* each of TrainingJobDefinitions */
            rc = each_definition(body, u->path, u->allowed, e);
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
    /* Environment of each of TrainingJobDefinitions, as TrainingJobDefinition's. */
    const json_t *list = json_object_get(body, "TrainingJobDefinitions");
    for (size_t i = 0; !rc && i < json_array_size(list); i++) {
        const json_t *v = json_object_get(json_array_get(list, i), "Environment");
        char at[64];
        if (!v)
            continue;
        if (!m && !(m = validate_builtin_model(API_CURRENT, e)))
            return e->code;
        snprintf(at, sizeof at, "TrainingJobDefinitions[%zu].Environment", i);
        rc = validate_model_check_shape(m, "TrainingEnvironmentMap", v, at, e);
    }
    return rc;
}

int api_current_refuse(const char *op, const json_t *body, err_t *e) {
    int rc = refuse_unsupported(op, body, e);
    return rc ? rc : check_extensions(body, e);
}

/* ---------- small helpers ---------- */

static const char *str(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static double num(const json_t *o, const char *k) {
    return json_number_value(json_object_get(o, k));
}

static double last_modified(double created, double started, double ended) {
    return ended > 0 ? ended : started > 0 ? started : created;
}

static void training_arn(const api_call *c, const char *account, const char *name, char *out,
                         size_t n) {
    contract_training_arn(c->env->region, account, name, out, n);
}

/* Tuning job status in the current API's words. */
static const char *current_status(const char *s) {
    return !strcmp(s, "Created") || !strcmp(s, "Running") ? "InProgress" : s;
}

/* ---------- creating jobs ---------- */

int api_current_create_tuning(const api_call *c, json_t **out, err_t *e) {
    req_tuning *r = NULL;
    char arn[256];
    int rc;
    if ((rc = request_parse(API_CURRENT, c->op, c->body, c->account, &r, e)) ||
        (rc = engine_check_tuning(c->env->en, r, e)))
        goto out;
    snprintf(arn, sizeof arn, "arn:aws:sagemaker:%s:%s:hyper-parameter-tuning-job/%s",
             c->env->region, r->account, r->name);
    if ((rc = api_create_job(c, r, arn, e)))
        goto out;
    if (!(*out = json_pack("{s:s}", "HyperParameterTuningJobArn", arn)))
        rc = err_set(e, ERR_INTERNAL, "out of memory");
out:
    request_free(r);
    return rc;
}

/* CreateTrainingJob: a tuning-job row of kind "training" that runs one trial
 * with the request's HyperParameters. */
int api_current_create_training(const api_call *c, json_t **out, err_t *e) {
    req_tuning *r = NULL;
    store_training existing = {0};
    char arn[256];
    int rc;
    if ((rc = request_parse(API_CURRENT, c->op, c->body, c->account, &r, e)))
        goto out;
    rc = store_get_training(c->env->st, c->account, r->name, &existing);
    if (rc == 0) {
        rc = err_set(e, ERR_IN_USE, "Training job %s already exists", r->name);
        goto out;
    }
    if (rc != ERR_NOT_FOUND) {
        err_set(e, rc, "cannot read the training jobs");
        goto out;
    }
    if ((rc = engine_check_tuning(c->env->en, r, e)))
        goto out;
    training_arn(c, r->account, r->name, arn, sizeof arn);
    if ((rc = api_create_job(c, r, arn, e)))
        goto out;
    if (!(*out = json_pack("{s:s}", "TrainingJobArn", arn)))
        rc = err_set(e, ERR_INTERNAL, "out of memory");
out:
    request_free(r);
    store_training_clear(&existing);
    return rc;
}

/* ---------- describing ---------- */

static int load_tuning(const api_call *c, const char *name, store_tuning *t, err_t *e) {
    int rc = store_get_tuning(c->env->st, c->account, name, t);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_NOT_FOUND, "Amazon SageMaker can't find a tuning job with name %s",
                       name);
    if (rc)
        return err_set(e, rc, "cannot read the tuning job");
    return 0;
}

/* The stored request of `t`, parsed (caller frees). */
static int load_request(const store_tuning *t, req_tuning **r, err_t *e) {
    const char *op = !strcmp(t->kind, "training") ? "CreateTrainingJob"
                     : t->api == API_CURRENT      ? "CreateHyperParameterTuningJob"
                                                  : "CreateTuningJob";
    if (request_parse_text((api_flavor)t->api, op, t->request, t->account, r, e))
        return err_set(e, ERR_INTERNAL, "the stored request of %s cannot be read: %.300s", t->name,
                       e->msg);
    return 0;
}

/* HyperParameterTrainingJobSummary of a training job of tuning job `tj`
 * (its request `r`, or NULL: the objective is then the tuning job's). A
 * job of one of TrainingJobDefinitions carries its TrainingJobDefinitionName
 * and its definition's objective metric. */
static json_t *hpo_summary(const api_call *c, const store_training *t, const store_tuning *tj,
                           const req_tuning *r) {
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
    const char *metric = tj->objective_metric;
    if (t->definition[0]) {
        int d = r ? request_def_index(r, t->definition) : -1;
        json_object_set_new(s, "TrainingJobDefinitionName", json_string(t->definition));
        if (d >= 0 && request_objective(r, (size_t)d, NULL))
            metric = request_objective(r, (size_t)d, NULL);
    }
    if (t->has_objective)
        json_object_set_new(s, "FinalHyperParameterTuningJobObjectiveMetric",
                            json_pack("{s:s, s:s, s:f}", "MetricName", metric, "Type",
                                      tj->objective_type, "Value", t->objective));
    return s;
}

static int counters(const api_call *c, const store_tuning *t, json_t *out, err_t *e) {
    store_counts n;
    int rc = store_tuning_counts(c->env->st, t->id, util_now(), &n);
    if (rc)
        return err_set(e, rc, "cannot count training jobs");
    int running = n.in_progress + n.stopping + n.pending;
    /* RetryableError: failed for the platform's sake (after the retries
     * RetryStrategy allowed); NonRetryableError: the program's failures. */
    json_object_set_new(out, "TrainingJobStatusCounters",
                        json_pack("{s:i, s:i, s:i, s:i, s:i}", "Completed", n.completed,
                                  "InProgress", running, "RetryableError", n.failed_internal,
                                  "NonRetryableError", n.failed - n.failed_internal, "Stopped",
                                  n.stopped));
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

/* WarmStartConfig as requested, and, for IdenticalDataAndAlgorithm,
 * OverallBestTrainingJob: the best of the job's and its parents' training
 * jobs (warmstart.h), summarised with the tuning job it belongs to. */
static int describe_warm_start(const api_call *c, const store_tuning *t, const req_tuning *r,
                               json_t *o, err_t *e) {
    store_training best = {0};
    store_tuning owner = {0};
    int64_t owner_id = 0;
    json_t *ws = warmstart_config_json(r);
    int rc;
    if (!ws)
        return 0;
    json_object_set_new(o, "WarmStartConfig", ws);
    if (r->warm_start != REQ_WARM_START_IDENTICAL)
        return 0;
    rc = warmstart_overall_best(c->env->st, t->id, t->parents, (size_t)t->nparents,
                                !strcmp(t->objective_type, "Maximize"), &best, &owner_id);
    if (rc == ERR_NOT_FOUND)
        return 0;
    if (!rc && owner_id != t->id)
        rc = store_get_tuning_by_id(c->env->st, owner_id, &owner);
    if (rc) {
        store_training_clear(&best);
        return err_set(e, rc, "cannot read the overall best training job");
    }
    json_object_set_new(
        o, "OverallBestTrainingJob",
        hpo_summary(c, &best, owner_id == t->id ? t : &owner, owner_id == t->id ? r : NULL));
    store_tuning_clear(&owner);
    store_training_clear(&best);
    return 0;
}

int api_current_describe_tuning(const api_call *c, json_t **out, err_t *e) {
    store_tuning t = {0};
    store_training best = {0};
    req_tuning *r = NULL;
    json_t *echo = NULL, *o = NULL;
    int rc;
    if ((rc = load_tuning(c, str(c->body, "HyperParameterTuningJobName"), &t, e)) ||
        (rc = load_request(&t, &r, e)))
        goto out;
    if (!(echo = request_describe_current(r))) {
        rc = err_set(e, ERR_INTERNAL, "cannot build the response");
        goto out;
    }
    /* The echo: HyperParameterTuningJobConfig and TrainingJobDefinition (or
     * TrainingJobDefinitions, as the request gave them). */
    o = json_pack("{s:s, s:s, s:s, s:f, s:f}", "HyperParameterTuningJobName", t.name,
                  "HyperParameterTuningJobArn", t.arn, "HyperParameterTuningJobStatus",
                  current_status(t.status), "CreationTime", t.created, "LastModifiedTime",
                  last_modified(t.created, t.started, t.ended));
    if (!o || json_object_update(o, echo)) {
        rc = err_set(e, ERR_INTERNAL, "cannot build the response");
        goto out;
    }
    if (t.ended > 0)
        json_object_set_new(o, "HyperParameterTuningEndTime", json_real(t.ended));
    if (t.failure_reason[0])
        json_object_set_new(o, "FailureReason", json_string(t.failure_reason));
    if ((rc = counters(c, &t, o, e)))
        goto out;
    /* TuningJobCompletionDetails (kept by the engine, completion.h) and the
     * wall clock the tuning job has run (ConsumedResources). */
    json_t *cd = json_pack("{s:i}", "NumberOfTrainingJobsObjectiveNotImproving", t.not_improving);
    if (cd && t.converged > 0)
        json_object_set_new(cd, "ConvergenceDetectedTime", json_real(t.converged));
    json_object_set_new(o, "TuningJobCompletionDetails", cd ? cd : json_object());
    if (t.started > 0) {
        double end = t.ended > 0 ? t.ended : util_now(), secs = end - t.started;
        json_object_set_new(
            o, "ConsumedResources",
            json_pack("{s:I}", "RuntimeInSeconds", (json_int_t)llround(secs > 0 ? secs : 0)));
    }
    rc = store_best_training(c->env->st, t.id, !strcmp(t.objective_type, "Maximize"), &best);
    if (rc == 0)
        json_object_set_new(o, "BestTrainingJob", hpo_summary(c, &best, &t, r));
    else if (rc != ERR_NOT_FOUND) {
        err_set(e, rc, "cannot read the best training job");
        goto out;
    }
    if ((rc = describe_warm_start(c, &t, r, o, e)))
        goto out;
    *out = o;
    o = NULL;
out:
    json_decref(o);
    json_decref(echo);
    request_free(r);
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

int api_current_describe_training(const api_call *c, json_t **out, err_t *e) {
    store_training t = {0};
    store_tuning tj = {0};
    req_tuning *r = NULL;
    json_t *def = NULL, *o = NULL;
    char arn[256];
    int rc = store_get_training(c->env->st, c->account, str(c->body, "TrainingJobName"), &t);
    if (rc == ERR_NOT_FOUND) {
        rc = err_set(e, ERR_VALIDATION, "Requested resource not found.");
        goto out;
    }
    if (rc || (rc = store_get_tuning_by_id(c->env->st, t.tuning_id, &tj))) {
        rc = err_set(e, rc, "cannot read the training job");
        goto out;
    }
    if ((rc = load_request(&tj, &r, e)))
        goto out;
    json_t *hp = json_loads(t.hyperparameters ? t.hyperparameters : "{}", 0, NULL);
    training_arn(c, c->account, t.name, arn, sizeof arn);
    o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:f, s:f, s:b, s:b, s:b}", "TrainingJobName", t.name,
                  "TrainingJobArn", arn, "TrainingJobStatus", t.status, "SecondaryStatus",
                  t.secondary, "HyperParameters", hp ? hp : json_object(), "CreationTime",
                  t.created, "LastModifiedTime", last_modified(t.created, t.started, t.ended),
                  "EnableNetworkIsolation", 0, "EnableInterContainerTrafficEncryption", 0,
                  "EnableManagedSpotTraining", 0);
    int di = request_def_index(r, t.definition); /* the definition it ran */
    if (!o || !(def = request_definition_json(r, di > 0 ? (size_t)di : 0)) ||
        json_object_update(o, def)) {
        rc = err_set(e, ERR_INTERNAL, "cannot build the response");
        goto out;
    }
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
    if (!x.arr || !finals || store_each_transition(c->env->st, t.id, on_transition, &x) ||
        store_each_final_metric(c->env->st, t.id, on_final_metric, finals)) {
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
    json_decref(def);
    request_free(r);
    store_training_clear(&t);
    store_tuning_clear(&tj);
    return rc;
}

/* ---------- listing: filtered, sorted and paged by the store, in SQL ---------- */

/* The request's filters as a store query, and the pagination scope naming
 * them (a NextToken is only good for the query that made it). `sort_by`
 * defaults to `dflt_sort`. */
static int list_query(const api_call *c, const char *what, const char *dflt_sort,
                      long long dflt_max, store_list_query *q, const char **statuses, char *scope,
                      size_t cap, err_t *e) {
    const json_t *b = c->body;
    const char *sort_by = str(b, "SortBy") ? str(b, "SortBy") : dflt_sort;
    const char *order = str(b, "SortOrder");
    const char *status = str(b, "StatusEquals");
    const json_t *mr = json_object_get(b, "MaxResults");
    long long max = mr ? json_integer_value(mr) : dflt_max, offset = 0;
    int rc;
    q->account = c->account;
    q->name_contains = str(b, "NameContains");
    q->created_after = num(b, "CreationTimeAfter");
    q->created_before = num(b, "CreationTimeBefore");
    q->modified_after = num(b, "LastModifiedTimeAfter");
    q->modified_before = num(b, "LastModifiedTimeBefore");
    q->descending = order && !strcmp(order, "Descending");
    q->sort = !strcmp(sort_by, "Name")           ? STORE_SORT_NAME
              : !strcmp(sort_by, "CreationTime") ? STORE_SORT_CREATED
              : !strcmp(sort_by, "Status")       ? STORE_SORT_STATUS
                                                 : STORE_SORT_OBJECTIVE;
    q->with_objective = q->sort == STORE_SORT_OBJECTIVE;
    /* A tuning job's InProgress is stored as Created or Running. */
    statuses[0] = statuses[1] = statuses[2] = NULL;
    if (status && !strcmp(what, "tuning-jobs") && !strcmp(status, "InProgress")) {
        statuses[0] = "Created";
        statuses[1] = "Running";
    } else {
        statuses[0] = status;
    }
    q->statuses = status ? statuses : NULL;
    snprintf(scope, cap, "%s|%s|%s|%s|%s|%s|%.6f|%.6f|%.6f|%.6f", what, c->account, sort_by,
             order ? order : "", status ? status : "", q->name_contains ? q->name_contains : "",
             q->created_after, q->created_before, q->modified_after, q->modified_before);
    if (str(b, "NextToken") &&
        (rc = reply_token_read(store_secret(c->env->st), scope, str(b, "NextToken"), &offset, e)))
        return rc;
    q->offset = offset;
    q->limit = max < 1 ? 1 : (int)max;
    return 0;
}

/* Ends a list operation: the response `o` (taken) gets a NextToken when
 * rows remain, and becomes *out. */
static int list_reply(const api_call *c, json_t *o, const store_list_query *q, const char *scope,
                      int more, json_t **out, err_t *e) {
    if (!o)
        return err_set(e, ERR_INTERNAL, "cannot build the response");
    if (more)
        json_object_set_new(
            o, "NextToken",
            reply_token_make(store_secret(c->env->st), scope, (long long)(q->offset + q->limit)));
    *out = o;
    return 0;
}

typedef struct {
    const api_call *c;
    const store_tuning *tj; /* ListTrainingJobsForHyperParameterTuningJob */
    json_t *arr;
    const req_tuning *r; /* tj's request (its definitions), or NULL */
} list_ctx;

static void on_hpo_training(void *ud, const store_training *t) {
    list_ctx *x = ud;
    json_array_append_new(x->arr, hpo_summary(x->c, t, x->tj, x->r));
}

int api_current_list_for_tuning(const api_call *c, json_t **out, err_t *e) {
    store_tuning t = {0};
    req_tuning *r = NULL;
    store_list_query q = {0};
    const char *statuses[3];
    char scope[1024];
    int rc, more = 0;
    if ((rc = load_tuning(c, str(c->body, "HyperParameterTuningJobName"), &t, e)))
        goto out;
    if ((rc = list_query(c, t.name, "Name", API_DEFAULT_MAX_RESULTS, &q, statuses, scope,
                         sizeof scope, e)))
        goto out;
    q.tuning_id = t.id;
    if ((rc = load_request(&t, &r, e)))
        goto out;
    list_ctx x = {c, &t, json_array(), r};
    json_t *o = json_pack("{s:o}", "TrainingJobSummaries", x.arr);
    if (o && (rc = store_list_trainings_q(c->env->st, &q, on_hpo_training, &x, &more))) {
        json_decref(o);
        rc = err_set(e, rc, "cannot list training jobs");
        goto out;
    }
    rc = list_reply(c, o, &q, scope, more, out, e);
out:
    request_free(r);
    store_tuning_clear(&t);
    return rc;
}

static void on_training(void *ud, const store_training *t) {
    list_ctx *x = ud;
    char arn[256];
    training_arn(x->c, t->account, t->name, arn, sizeof arn);
    json_t *s =
        json_pack("{s:s, s:s, s:f, s:f, s:s}", "TrainingJobName", t->name, "TrainingJobArn", arn,
                  "CreationTime", t->created, "LastModifiedTime",
                  last_modified(t->created, t->started, t->ended), "TrainingJobStatus", t->status);
    if (s && t->ended > 0)
        json_object_set_new(s, "TrainingEndTime", json_real(t->ended));
    json_array_append_new(x->arr, s);
}

int api_current_list_trainings(const api_call *c, json_t **out, err_t *e) {
    store_list_query q = {0};
    const char *statuses[3];
    char scope[1024];
    int rc, more = 0;
    if ((rc = list_query(c, "training-jobs", "CreationTime", API_DEFAULT_MAX_RESULTS, &q, statuses,
                         scope, sizeof scope, e)))
        return rc;
    list_ctx x = {c, NULL, json_array(), NULL};
    json_t *o = json_pack("{s:o}", "TrainingJobSummaries", x.arr);
    if (o && (rc = store_list_trainings_q(c->env->st, &q, on_training, &x, &more))) {
        json_decref(o);
        return err_set(e, rc, "cannot list training jobs");
    }
    return list_reply(c, o, &q, scope, more, out, e);
}

/* Tuning jobs of one page, copied (their counters are read after the list
 * query, one row each). */
typedef struct {
    store_tuning *v;
    size_t n;
    int failed;
} tuning_page;

static void on_tuning(void *ud, const store_tuning *t) {
    tuning_page *p = ud;
    store_tuning *nv = realloc(p->v, (p->n + 1) * sizeof *nv);
    if (!nv) {
        p->failed = 1;
        return;
    }
    p->v = nv;
    p->v[p->n] = *t;
    p->v[p->n++].request = NULL; /* borrowed by the store; not needed */
}

int api_current_list_tunings(const api_call *c, json_t **out, err_t *e) {
    store_list_query q = {0};
    tuning_page page = {0};
    const char *statuses[3];
    char scope[1024];
    json_t *o = NULL;
    int rc, more = 0;
    if ((rc = list_query(c, "tuning-jobs", "Name", API_DEFAULT_MAX_RESULTS, &q, statuses, scope,
                         sizeof scope, e)))
        goto out;
    if ((rc = store_list_tunings(c->env->st, &q, on_tuning, &page, &more)) || page.failed) {
        rc = err_set(e, rc ? rc : ERR_INTERNAL, "cannot list tuning jobs");
        goto out;
    }
    json_t *arr = json_array();
    o = json_pack("{s:o}", "HyperParameterTuningJobSummaries", arr);
    for (size_t i = 0; o && i < page.n && !rc; i++) {
        const store_tuning *t = &page.v[i];
        json_t *s = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:o}", "HyperParameterTuningJobName",
                              t->name, "HyperParameterTuningJobArn", t->arn,
                              "HyperParameterTuningJobStatus", current_status(t->status),
                              "Strategy", t->strategy, "CreationTime", t->created,
                              "LastModifiedTime", last_modified(t->created, t->started, t->ended),
                              "ResourceLimits", resource_limits(t));
        if (s && t->ended > 0)
            json_object_set_new(s, "HyperParameterTuningEndTime", json_real(t->ended));
        if (s)
            rc = counters(c, t, s, e);
        json_array_append_new(arr, s);
    }
    if (rc)
        goto out;
    rc = list_reply(c, o, &q, scope, more, out, e);
    o = NULL;
out:
    json_decref(o);
    free(page.v);
    return rc;
}

/* ---------- stopping ---------- */

int api_current_stop_tuning(const api_call *c, json_t **out, err_t *e) {
    store_tuning t = {0};
    int rc;
    if ((rc = load_tuning(c, str(c->body, "HyperParameterTuningJobName"), &t, e)))
        goto out;
    if (strcmp(t.status, "Created") && strcmp(t.status, "Running") &&
        strcmp(t.status, "Stopping")) {
        rc = err_set(e, ERR_VALIDATION,
                     "Tuning job %s is %s; only an InProgress tuning job can be stopped", t.name,
                     t.status);
        goto out;
    }
    if ((rc = engine_stop_tuning(c->env->en, t.id, e)))
        goto out;
    log_info("stopping tuning job %s", t.name);
    *out = json_object();
out:
    store_tuning_clear(&t);
    return rc;
}

/* DeleteHyperParameterTuningJob: a job in a final status only (else a
 * ValidationException, as SageMaker answers for one InProgress or
 * Stopping). Two steps, each durable: the status Deleting, then the
 * tombstone (store_delete_tuning: its tags go, its training jobs and their
 * artifacts stay). A daemon killed between them finishes the deletion when
 * it starts (store_finish_deletes). When the second step fails the job is
 * DeleteFailed (deleting it again retries) and the call fails. */
int api_current_delete_tuning(const api_call *c, json_t **out, err_t *e) {
    store_tuning t = {0};
    tuning_status s;
    int rc;
    if ((rc = load_tuning(c, str(c->body, "HyperParameterTuningJobName"), &t, e)))
        goto out;
    if (tuning_status_parse(t.status, &s) || !tuning_status_deletable(s)) {
        rc = err_set(e, ERR_VALIDATION,
                     "Tuning job %s is %s; only a tuning job that is Completed, Failed, Stopped "
                     "or DeleteFailed can be deleted",
                     t.name, current_status(t.status));
        goto out;
    }
    if ((rc = store_set_tuning_status(c->env->st, t.id, tuning_status_text(TUNING_DELETING), NULL,
                                      0, 0))) {
        rc = err_set(e, rc, "cannot record the deletion");
        goto out;
    }
    if ((rc = store_delete_tuning(c->env->st, t.id))) {
        int frc = store_set_tuning_status(c->env->st, t.id,
                                          tuning_status_text(TUNING_DELETE_FAILED), NULL, 0, 0);
        log_error("tuning job %s: the deletion failed (%d); %s", t.name, rc,
                  frc ? "it stays Deleting (finished at the next start)" : "it is DeleteFailed");
        rc = err_set(e, rc == ERR_UNAVAILABLE ? ERR_UNAVAILABLE : ERR_INTERNAL,
                     "cannot delete tuning job %s (it is DeleteFailed); try again", t.name);
        goto out;
    }
    log_info("deleted tuning job %s (its training jobs stay)", t.name);
    *out = json_object();
out:
    store_tuning_clear(&t);
    return rc;
}

int api_current_stop_training(const api_call *c, json_t **out, err_t *e) {
    store_training t = {0};
    const char *name = str(c->body, "TrainingJobName");
    int rc = store_get_training(c->env->st, c->account, name, &t);
    if (rc == ERR_NOT_FOUND) {
        rc = err_set(e, ERR_NOT_FOUND, "Amazon SageMaker can't find a training job with name %s",
                     name);
        goto out;
    }
    if (rc) {
        rc = err_set(e, rc, "cannot read the training job");
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
    if ((rc = engine_stop_training(c->env->en, t.id, e)))
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
static int resolve_arn(const api_call *c, const char *arn, err_t *e) {
    char prefix[128], want[256];
    int rc = ERR_NOT_FOUND;
    int n = snprintf(prefix, sizeof prefix, "arn:aws:sagemaker:%s:%s:", c->env->region, c->account);
    if (n > 0 && (size_t)n < sizeof prefix && !strncmp(arn, prefix, (size_t)n)) {
        const char *res = arn + n, *slash = strchr(res, '/');
        const char *name = slash ? slash + 1 : "";
        size_t tl = slash ? (size_t)(slash - res) : 0;
        if ((tl == 26 && !strncmp(res, "hyper-parameter-tuning-job", tl)) ||
            (tl == 10 && !strncmp(res, "tuning-job", tl))) {
            store_tuning t = {0};
            if (store_get_tuning(c->env->st, c->account, name, &t) == 0 && !strcmp(t.arn, arn))
                rc = 0;
            store_tuning_clear(&t);
        } else if (tl == 12 && !strncmp(res, "training-job", tl)) {
            store_training t = {0};
            training_arn(c, c->account, name, want, sizeof want);
            if (store_get_training(c->env->st, c->account, name, &t) == 0 && !strcmp(want, arn))
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

int api_current_add_tags(const api_call *c, json_t **out, err_t *e) {
    const char *arn = str(c->body, "ResourceArn");
    const json_t *tags = json_object_get(c->body, "Tags");
    json_t *have = json_array();
    int rc, n = 0;
    size_t i, j;
    json_t *t;
    if (!have) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = resolve_arn(c, arn, e)))
        goto out;
    if ((rc = store_each_tag(c->env->st, arn, on_tag, have))) {
        rc = err_set(e, rc, "cannot read the tags");
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
    if (n > API_MAX_TAGS) {
        rc = err_set(e, ERR_LIMIT_EXCEEDED, "A resource can have at most %d tags", API_MAX_TAGS);
        goto out;
    }
    json_array_foreach(tags, i, t) {
        if ((rc = store_tags_add(c->env->st, c->account, arn, str(t, "Key"),
                                 str(t, "Value") ? str(t, "Value") : ""))) {
            rc = err_set(e, rc, "cannot store the tags");
            goto out;
        }
    }
    *out = json_pack("{s:O}", "Tags", tags);
out:
    json_decref(have);
    return rc;
}

int api_current_list_tags(const api_call *c, json_t **out, err_t *e) {
    const char *arn = str(c->body, "ResourceArn");
    json_t *all = json_array(), *page = NULL;
    const json_t *mr = json_object_get(c->body, "MaxResults");
    long long max = mr ? json_integer_value(mr) : API_DEFAULT_TAG_RESULTS, offset = 0;
    char scope[512];
    int rc;
    if ((rc = resolve_arn(c, arn, e)))
        goto out;
    if (!all || (rc = store_each_tag(c->env->st, arn, on_tag, all))) {
        rc = err_set(e, rc ? rc : ERR_INTERNAL, "cannot read the tags");
        goto out;
    }
    snprintf(scope, sizeof scope, "tags|%s|%.300s", c->account, arn);
    if (str(c->body, "NextToken") && (rc = reply_token_read(store_secret(c->env->st), scope,
                                                            str(c->body, "NextToken"), &offset, e)))
        goto out;
    if (max < 1)
        max = 1;
    size_t n = json_array_size(all);
    size_t first = (size_t)offset < n ? (size_t)offset : n;
    size_t count = n - first < (size_t)max ? n - first : (size_t)max;
    page = json_array();
    for (size_t i = first; page && i < first + count; i++)
        json_array_append(page, json_array_get(all, i));
    *out = json_pack("{s:o}", "Tags", page);
    page = NULL;
    if (*out && first + count < n)
        json_object_set_new(
            *out, "NextToken",
            reply_token_make(store_secret(c->env->st), scope, (long long)(first + count)));
    if (!*out)
        rc = err_set(e, ERR_INTERNAL, "cannot build the response");
out:
    json_decref(all);
    return rc;
}

int api_current_delete_tags(const api_call *c, json_t **out, err_t *e) {
    const char *arn = str(c->body, "ResourceArn");
    size_t i;
    json_t *k;
    int rc;
    if ((rc = resolve_arn(c, arn, e)))
        return rc;
    json_array_foreach(json_object_get(c->body, "TagKeys"), i, k) {
        if ((rc = store_tags_delete(c->env->st, arn, json_string_value(k))))
            return err_set(e, rc, "cannot delete the tags");
    }
    *out = json_object();
    return 0;
}
