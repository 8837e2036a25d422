#include "api.h"
#include "api_logs.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_current.h"
#include "reply.h"
#include "util.h"
#include "validate.h"

/* Defaults for what the 2017 API leaves optional (documented in README). */
#define DEFAULT_MAX_JOBS 10
#define DEFAULT_MAX_PARALLEL 1
#define DEFAULT_STRATEGY "Bayesian"
#define DEFAULT_OBJECTIVE_TYPE "Maximize"
#define DEFAULT_LIST_MAX_RESULTS 10

struct api {
    api_config cfg;
};

api *api_new(const api_config *cfg) {
    api *a = calloc(1, sizeof *a);
    if (a)
        a->cfg = *cfg;
    return a;
}

void api_free(api *a) {
    free(a);
}

static double num_or_zero(double v) {
    return v > 0 ? v : 0;
}

/* ---------- the 2017 API ---------- */

static const char *str(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static json_t *obj(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(o, k, v);
    }
    return v;
}

static uint64_t random_seed(void) {
    uint64_t s = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &s, sizeof s) != sizeof s)
            s = 0;
        close(fd);
    }
    if (!s)
        s = (uint64_t)(util_now() * 1e6);
    return s & 0x7fffffffffffffffULL;
}

/* Applies the documented defaults to a validated CreateTuningJob body. */
static int normalise_create(json_t *b, err_t *e) {
    json_t *cfg = obj(b, "TuningJobConfig");
    json_t *lim = obj(cfg, "ResourceLimits");
    if (!json_object_get(lim, "MaxNumberOfTrainingJobs"))
        json_object_set_new(lim, "MaxNumberOfTrainingJobs", json_integer(DEFAULT_MAX_JOBS));
    if (!json_object_get(lim, "MaxParallelTrainingJobs")) {
        json_int_t m = json_integer_value(json_object_get(lim, "MaxNumberOfTrainingJobs"));
        json_object_set_new(lim, "MaxParallelTrainingJobs",
                            json_integer(m < DEFAULT_MAX_PARALLEL ? m : DEFAULT_MAX_PARALLEL));
    }
    if (json_integer_value(json_object_get(lim, "MaxParallelTrainingJobs")) >
        json_integer_value(json_object_get(lim, "MaxNumberOfTrainingJobs")))
        return err_set(e, ERR_VALIDATION,
                       "TuningJobConfig.ResourceLimits.MaxParallelTrainingJobs must not exceed "
                       "MaxNumberOfTrainingJobs (%lld by default)",
                       (long long)DEFAULT_MAX_JOBS);
    if (!json_object_get(cfg, "Strategy"))
        json_object_set_new(cfg, "Strategy", json_string(DEFAULT_STRATEGY));
    json_t *objective = obj(cfg, "TuningJobObjective");
    if (!json_object_get(objective, "MetricName")) {
        const json_t *defs = json_object_get(
            json_object_get(json_object_get(b, "TrainingJobDefinition"), "AlgorithmSpecification"),
            "MetricDefinitions");
        const char *first = str(json_array_get(defs, 0), "Name");
        if (!first)
            return err_set(e, ERR_VALIDATION,
                           "TuningJobConfig.TuningJobObjective.MetricName: no objective metric "
                           "and no MetricDefinitions to take one from");
        json_object_set_new(objective, "MetricName", json_string(first));
    }
    if (!json_object_get(objective, "Type"))
        json_object_set_new(objective, "Type", json_string(DEFAULT_OBJECTIVE_TYPE));
    return 0;
}

static void op_create(api *a, json_t *body, http_response *resp) {
    err_t e = {0};
    json_t *argv = NULL;
    char *text = NULL;
    store_tuning t = {0};
    int rc;
    if ((rc = validate_create_tuning_job(body, &e)))
        goto out;
    const char *image = str(
        json_object_get(json_object_get(body, "TrainingJobDefinition"), "AlgorithmSpecification"),
        "TrainingImage");
    if (!(argv = engine_resolve_image(a->cfg.en, image, &e))) {
        rc = e.code;
        goto out;
    }
    if ((rc = normalise_create(body, &e)) || (rc = engine_check_request(a->cfg.en, body, &e)))
        goto out;
    const json_t *cfg = json_object_get(body, "TuningJobConfig");
    const json_t *lim = json_object_get(cfg, "ResourceLimits");
    const json_t *objective = json_object_get(cfg, "TuningJobObjective");
    snprintf(t.account, sizeof t.account, "%s", str(body, "AwsAccountId"));
    snprintf(t.name, sizeof t.name, "%s", str(body, "TuningJobName"));
    snprintf(t.arn, sizeof t.arn, "arn:aws:sagemaker:%s:%s:tuning-job/%s", a->cfg.region, t.account,
             t.name);
    snprintf(t.status, sizeof t.status, "Created");
    t.api = API_2017;
    snprintf(t.strategy, sizeof t.strategy, "%s", str(cfg, "Strategy"));
    t.seed = random_seed();
    snprintf(t.objective_metric, sizeof t.objective_metric, "%s", str(objective, "MetricName"));
    snprintf(t.objective_type, sizeof t.objective_type, "%s", str(objective, "Type"));
    t.max_jobs = (int)json_integer_value(json_object_get(lim, "MaxNumberOfTrainingJobs"));
    t.max_parallel = (int)json_integer_value(json_object_get(lim, "MaxParallelTrainingJobs"));
    t.max_seconds = json_integer_value(json_object_get(lim, "MaxClockTimeInHours")) *
                    (a->cfg.hour_seconds > 0 ? a->cfg.hour_seconds : 3600);
    t.created = util_now();
    if (!(text = json_dumps(body, JSON_COMPACT))) {
        rc = err_set(&e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    t.request = text;
    if ((rc = store_create_tuning(a->cfg.st, &t, &e)))
        goto out;
    if ((rc = engine_add_tuning(a->cfg.en, t.id, &e)))
        goto out;
    log_info("created tuning job %s (account %s, %d jobs, %d parallel, %s)", t.name, t.account,
             t.max_jobs, t.max_parallel, t.strategy);
    reply_json(resp, 200, json_pack("{s:s}", "TuningJobArn", t.arn), API_2017);
out:
    if (rc)
        reply_error(resp, &e, API_2017);
    json_decref(argv);
    free(text);
}

/* TrainingJobSummary of the 2017 API. */
static json_t *summary_2017(const store_training *t, const store_tuning *tj) {
    json_t *hp = json_loads(t->hyperparameters ? t->hyperparameters : "{}", 0, NULL);
    json_t *s = json_pack("{s:s, s:s, s:i, s:o}", "TrainingJobName", t->name, "TrainingJobStatus",
                          t->status, "RetriedAttempt", t->retried, "HyperParameters",
                          hp ? hp : json_object());
    if (s && t->has_objective)
        json_object_set_new(s, "FinalTuningJobObjectiveMetric",
                            json_pack("{s:s, s:s, s:f}", "MetricName", tj->objective_metric, "Type",
                                      tj->objective_type, "Value", t->objective));
    return s;
}

static int load_tuning_2017(api *a, const json_t *body, store_tuning *t, err_t *e) {
    int rc = store_get_tuning(a->cfg.st, str(body, "AwsAccountId"), str(body, "TuningJobName"), t);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_NOT_FOUND, "Tuning job %s does not exist",
                       str(body, "TuningJobName"));
    if (rc)
        return err_set(e, rc, "cannot read the tuning job");
    return 0;
}

static void op_describe(api *a, json_t *body, http_response *resp) {
    err_t e = {0};
    store_tuning t = {0};
    store_training best = {0};
    store_counts c;
    json_t *req = NULL, *out = NULL;
    int rc;
    if ((rc = load_tuning_2017(a, body, &t, &e)))
        goto out;
    if ((rc = store_tuning_counts(a->cfg.st, t.id, util_now(), &c))) {
        err_set(&e, rc, "cannot count training jobs");
        goto out;
    }
    req = json_loads(t.request, 0, NULL);
    const json_t *cfg = json_object_get(req, "TuningJobConfig");
    const json_t *alg =
        json_object_get(json_object_get(req, "TrainingJobDefinition"), "AlgorithmSpecification");
    const json_t *lim = json_object_get(cfg, "ResourceLimits");
    int failed = c.failed + c.stopped + (c.completed - c.objective_succeeded);
    out = json_pack(
        "{s:s, s:s, s:s, s:f, s:O, s:O, s:{s:{s:{s:I, s:I}, s:{s:i, s:i, s:i, s:i}}, s:O}}",
        "TuningJobName", t.name, "TuningJobStatus", t.status, "Strategy", t.strategy,
        "TuningJobStartTime", t.started > 0 ? t.started : t.created, "ParameterRanges",
        json_object_get(cfg, "ParameterRanges") ? json_object_get(cfg, "ParameterRanges")
                                                : json_object(),
        "MetricDefinitions",
        json_object_get(alg, "MetricDefinitions") ? json_object_get(alg, "MetricDefinitions")
                                                  : json_array(),
        "ResourcesStats", "ConsumedResources", "ComputeHours", "Finished",
        (json_int_t)llround(num_or_zero(c.finished_seconds) / 3600.0), "InFlight",
        (json_int_t)llround(num_or_zero(c.inflight_seconds) / 3600.0), "Jobs", "Completed",
        c.objective_succeeded, "Failed", failed, "Pending", c.pending, "Running",
        c.in_progress + c.stopping, "ResourceLimits", lim ? lim : json_object());
    if (!out) {
        rc = err_set(&e, ERR_INTERNAL, "cannot build the response");
        goto out;
    }
    if (t.ended > 0)
        json_object_set_new(out, "TuningJobEndTime", json_real(t.ended));
    if (t.failure_reason[0])
        json_object_set_new(out, "FailureReason", json_string(t.failure_reason));
    if (store_best_training(a->cfg.st, t.id, !strcmp(t.objective_type, "Maximize"), &best) == 0)
        json_object_set_new(out, "BestTrainingJob", summary_2017(&best, &t));
    reply_json(resp, 200, out, API_2017);
    out = NULL;
out:
    if (rc)
        reply_error(resp, &e, API_2017);
    json_decref(out);
    json_decref(req);
    store_tuning_clear(&t);
    store_training_clear(&best);
}

typedef struct {
    json_t *arr;
    const store_tuning *tj;
} list_ctx;

static void list_one(void *ud, const store_training *t) {
    list_ctx *c = ud;
    json_array_append_new(c->arr, summary_2017(t, c->tj));
}

static void op_list(api *a, json_t *body, http_response *resp) {
    err_t e = {0};
    store_tuning t = {0};
    json_t *out = NULL;
    int rc, more = 0;
    long long offset = 0;
    char scope[512];
    if ((rc = load_tuning_2017(a, body, &t, &e)))
        goto out;
    const json_t *mr = json_object_get(body, "MaxResults");
    long long max = mr ? json_integer_value(mr) : DEFAULT_LIST_MAX_RESULTS;
    if (max < 1) {
        rc = err_set(&e, ERR_VALIDATION, "MaxResults: must be at least 1");
        goto out;
    }
    const char *sort_by = str(body, "SortBy"), *order = str(body, "SortOrder");
    const char *status = str(body, "TrainingJobStatusEquals");
    store_list_opts o = {.status = status,
                         .by_objective = sort_by != NULL,
                         .descending = order ? !strcmp(order, "Descending") : 0,
                         .limit = (int)max};
    snprintf(scope, sizeof scope, "%s|%s|%s|%s|%s", t.account, t.name, sort_by ? sort_by : "",
             order ? order : "", status ? status : "");
    if (json_object_get(body, "NextToken") &&
        (rc =
             reply_token_read(store_secret(a->cfg.st), scope, str(body, "NextToken"), &offset, &e)))
        goto out;
    o.offset = offset;
    list_ctx c = {json_array(), &t};
    out = json_pack("{s:o}", "TrainingJobSummaries", c.arr);
    if (!out || (rc = store_list_trainings(a->cfg.st, t.id, &o, list_one, &c, &more))) {
        rc = err_set(&e, ERR_INTERNAL, "cannot list training jobs");
        goto out;
    }
    if (more)
        json_object_set_new(out, "NextToken",
                            reply_token_make(store_secret(a->cfg.st), scope, offset + max));
    reply_json(resp, 200, out, API_2017);
    out = NULL;
out:
    if (rc)
        reply_error(resp, &e, API_2017);
    json_decref(out);
    store_tuning_clear(&t);
}

static void op_stop(api *a, json_t *body, http_response *resp) {
    err_t e = {0};
    store_tuning t = {0};
    int rc = store_get_tuning(a->cfg.st, str(body, "AwsAccountId"), str(body, "TuningJobName"), &t);
    /* The 2017 API lists no ResourceNotFound for StopTuningJob. */
    if (rc == ERR_NOT_FOUND) {
        rc =
            err_set(&e, ERR_VALIDATION, "Tuning job %s does not exist", str(body, "TuningJobName"));
        goto out;
    }
    if (rc) {
        err_set(&e, rc, "cannot read the tuning job");
        goto out;
    }
    if (strcmp(t.status, "Created") && strcmp(t.status, "Running") &&
        strcmp(t.status, "Stopping")) {
        rc = err_set(&e, ERR_VALIDATION,
                     "Tuning job %s is %s; only a Created or Running tuning job can be stopped",
                     t.name, t.status);
        goto out;
    }
    if ((rc = engine_stop_tuning(a->cfg.en, t.id, &e)))
        goto out;
    log_info("stopping tuning job %s", t.name);
    resp->status = 200;
    resp->content_type = "application/json";
out:
    if (rc)
        reply_error(resp, &e, API_2017);
    store_tuning_clear(&t);
}

typedef void (*op_fn)(api *a, json_t *body, http_response *resp);

static const struct {
    const char *name;
    op_fn fn;
} ops_2017[] = {
    {"CreateTuningJob", op_create},
    {"DescribeTuningJob", op_describe},
    {"ListTrainingJobsForTuningJob", op_list},
    {"StopTuningJob", op_stop},
};

static void handle_2017(api *a, const http_request *req, http_response *resp) {
    err_t e = {0};
    json_t *body = NULL;
    const char *op = req->path + 1;
    size_t i;
    for (i = 0; i < sizeof ops_2017 / sizeof *ops_2017; i++)
        if (!strcmp(op, ops_2017[i].name))
            break;
    if (i == sizeof ops_2017 / sizeof *ops_2017) {
        err_set(&e, ERR_UNKNOWN_OPERATION, "Unknown operation %.64s", req->path);
        goto out;
    }
    if (strcmp(req->method, "POST")) {
        err_set(&e, ERR_VALIDATION, "%s must be called with POST", op);
        goto out;
    }
    if (!http_json_content_type(http_header(req, "Content-Type"))) {
        err_set(&e, ERR_VALIDATION, "Content-Type must be application/json");
        goto out;
    }
    if (req->body_too_large) {
        err_set(&e, ERR_VALIDATION, "Request body exceeds %d bytes", VALIDATE_MAX_BODY_BYTES);
        goto out;
    }
    json_error_t je;
    body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!body) {
        err_set(&e, ERR_VALIDATION, "Request body is not valid JSON: %s (line %d, column %d)",
                je.text, je.line, je.column);
        goto out;
    }
    if (validate_request(API_2017, op, body, &e))
        goto out;
    ops_2017[i].fn(a, body, resp);
    e.code = ERR_OK;
out:
    if (e.code != ERR_OK)
        reply_error(resp, &e, API_2017);
    json_decref(body);
}

void api_handle(void *ud, const http_request *req, http_response *resp) {
    api *a = ud;
    if (!strcmp(req->path, "/health")) {
        reply_json(resp, 200,
                   json_pack("{s:s, s:i}", "Status", "ok", "RunningTrainingJobs",
                             engine_running(a->cfg.en)),
                   API_2017);
        return;
    }
    int current = !strcmp(req->path, "/") && http_header(req, "X-Amz-Target");
    auth_identity who;
    err_t e = {0};
    if (auth_check(&a->cfg.auth, req, util_now(), &who, &e) ||
        (!current && auth_check_2017_account(&a->cfg.auth, &who, req, &e))) {
        reply_error(resp, &e, current ? API_CURRENT : API_2017);
        return;
    }
    if (api_logs_handle(a->cfg.st, who.authenticated ? who.account : NULL, req, resp))
        return;
    if (current) {
        api_current_ctx c = {.st = a->cfg.st, .en = a->cfg.en, .region = a->cfg.region};
        api_current_handle(&c, who.account, req, resp);
        return;
    }
    handle_2017(a, req, resp);
}
