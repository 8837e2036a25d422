/* api_2017 — the four operations of the 2017 HPO API (POST /<Operation>,
 * application/json) over the typed request, the engine and the store. The
 * router (api.c) has authenticated the caller, checked AwsAccountId against
 * it and validated the body against src/models/hpo-2017-11-08.json. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_ops.h"
#include "reply.h"
#include "util.h"

static const char *str(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

int api_2017_create_tuning_job(const api_call *c, json_t **out, err_t *e) {
    req_tuning *r = NULL;
    char arn[256];
    int rc;
    /* The 2017 API names the account in the body (the router has checked it
     * against a signer's). */
    if ((rc = request_refuse_2017(c->body, e)) ||
        (rc = request_parse(API_2017, "CreateTuningJob", c->body, str(c->body, "AwsAccountId"), &r,
                            e)) ||
        (rc = engine_check_tuning(c->env->en, r, e)))
        goto out;
    snprintf(arn, sizeof arn, "arn:aws:sagemaker:%s:%s:tuning-job/%s", c->env->region, r->account,
             r->name);
    if ((rc = api_create_job(c, r, arn, e)))
        goto out;
    if (!(*out = json_pack("{s:s}", "TuningJobArn", arn)))
        rc = err_set(e, ERR_INTERNAL, "out of memory");
out:
    request_free(r);
    return rc;
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

static int load_tuning(const api_call *c, store_tuning *t, err_t *e) {
    const char *name = str(c->body, "TuningJobName");
    int rc = store_get_tuning(c->env->st, str(c->body, "AwsAccountId"), name, t);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_NOT_FOUND, "Tuning job %s does not exist", name);
    if (rc)
        return err_set(e, rc, "cannot read the tuning job");
    return 0;
}

/* The stored request of `t`, parsed (caller frees). */
static int load_request(const api_call *c, const store_tuning *t, req_tuning **r, err_t *e) {
    const char *op = !strcmp(t->kind, "training") ? "CreateTrainingJob"
                     : t->api == API_CURRENT      ? "CreateHyperParameterTuningJob"
                                                  : "CreateTuningJob";
    int rc = request_parse_text((api_flavor)t->api, op, t->request, t->account, r, e);
    if (rc)
        return err_set(e, ERR_INTERNAL, "the stored request of %s cannot be read: %.300s", t->name,
                       e->msg);
    return 0;
}

static double num_or_zero(double v) {
    return v > 0 ? v : 0;
}

int api_2017_describe_tuning_job(const api_call *c, json_t **out, err_t *e) {
    store_tuning t = {0};
    store_training best = {0};
    store_counts n;
    req_tuning *r = NULL;
    json_t *echo = NULL, *o = NULL;
    int rc;
    if ((rc = load_tuning(c, &t, e)) || (rc = load_request(c, &t, &r, e)))
        goto out;
    if ((rc = store_tuning_counts(c->env->st, t.id, util_now(), &n))) {
        err_set(e, rc, "cannot count training jobs");
        goto out;
    }
    if (!(echo = request_describe_2017(r))) {
        rc = err_set(e, ERR_INTERNAL, "cannot build the response");
        goto out;
    }
    int failed = n.failed + n.stopped + (n.completed - n.objective_succeeded);
    o = json_pack(
        "{s:s, s:s, s:s, s:f, s:O, s:O, s:{s:{s:{s:I, s:I}, s:{s:i, s:i, s:i, s:i}}, s:O}}",
        "TuningJobName", t.name, "TuningJobStatus", t.status, "Strategy", t.strategy,
        "TuningJobStartTime", t.started > 0 ? t.started : t.created, "ParameterRanges",
        json_object_get(echo, "ParameterRanges"), "MetricDefinitions",
        json_object_get(echo, "MetricDefinitions"), "ResourcesStats", "ConsumedResources",
        "ComputeHours", "Finished", (json_int_t)llround(num_or_zero(n.finished_seconds) / 3600.0),
        "InFlight", (json_int_t)llround(num_or_zero(n.inflight_seconds) / 3600.0), "Jobs",
        "Completed", n.objective_succeeded, "Failed", failed, "Pending", n.pending, "Running",
        n.in_progress + n.stopping, "ResourceLimits", json_object_get(echo, "ResourceLimits"));
    if (!o) {
        rc = err_set(e, ERR_INTERNAL, "cannot build the response");
        goto out;
    }
    if (t.ended > 0)
        json_object_set_new(o, "TuningJobEndTime", json_real(t.ended));
    if (t.failure_reason[0])
        json_object_set_new(o, "FailureReason", json_string(t.failure_reason));
    rc = store_best_training(c->env->st, t.id, !strcmp(t.objective_type, "Maximize"), &best);
    if (rc == 0)
        json_object_set_new(o, "BestTrainingJob", summary_2017(&best, &t));
    else if (rc != ERR_NOT_FOUND) {
        err_set(e, rc, "cannot read the best training job");
        goto out;
    }
    rc = 0;
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
    const store_tuning *tj;
} list_ctx;

static void list_one(void *ud, const store_training *t) {
    list_ctx *x = ud;
    json_array_append_new(x->arr, summary_2017(t, x->tj));
}

int api_2017_list_training_jobs(const api_call *c, json_t **out, err_t *e) {
    store_tuning t = {0};
    json_t *o = NULL;
    int rc, more = 0;
    long long offset = 0;
    char scope[512];
    if ((rc = load_tuning(c, &t, e)))
        goto out;
    const json_t *mr = json_object_get(c->body, "MaxResults");
    long long max = mr ? json_integer_value(mr) : API_DEFAULT_MAX_RESULTS;
    if (max < 1) {
        rc = err_set(e, ERR_VALIDATION, "MaxResults: must be at least 1");
        goto out;
    }
    const char *sort_by = str(c->body, "SortBy"), *order = str(c->body, "SortOrder");
    const char *status = str(c->body, "TrainingJobStatusEquals");
    const char *statuses[] = {status, NULL};
    snprintf(scope, sizeof scope, "%s|%s|%s|%s|%s", t.account, t.name, sort_by ? sort_by : "",
             order ? order : "", status ? status : "");
    if (json_object_get(c->body, "NextToken") &&
        (rc = reply_token_read(store_secret(c->env->st), scope, str(c->body, "NextToken"), &offset,
                               e)))
        goto out;
    store_list_query q = {.tuning_id = t.id,
                          .statuses = status ? statuses : NULL,
                          .sort = sort_by ? STORE_SORT_OBJECTIVE : STORE_SORT_INDEX,
                          .descending = order ? !strcmp(order, "Descending") : 0,
                          .offset = offset,
                          .limit = (int)max};
    list_ctx x = {json_array(), &t};
    o = json_pack("{s:o}", "TrainingJobSummaries", x.arr);
    if (!o || (rc = store_list_trainings_q(c->env->st, &q, list_one, &x, &more))) {
        rc = err_set(e, rc ? rc : ERR_INTERNAL, "cannot list training jobs");
        goto out;
    }
    if (more)
        json_object_set_new(o, "NextToken",
                            reply_token_make(store_secret(c->env->st), scope, offset + max));
    *out = o;
    o = NULL;
out:
    json_decref(o);
    store_tuning_clear(&t);
    return rc;
}

int api_2017_stop_tuning_job(const api_call *c, json_t **out, err_t *e) {
    store_tuning t = {0};
    const char *name = str(c->body, "TuningJobName");
    int rc = store_get_tuning(c->env->st, str(c->body, "AwsAccountId"), name, &t);
    /* The 2017 API lists no ResourceNotFound for StopTuningJob. */
    if (rc == ERR_NOT_FOUND) {
        rc = err_set(e, ERR_VALIDATION, "Tuning job %s does not exist", name);
        goto out;
    }
    if (rc) {
        err_set(e, rc, "cannot read the tuning job");
        goto out;
    }
    if (strcmp(t.status, "Created") && strcmp(t.status, "Running") &&
        strcmp(t.status, "Stopping")) {
        rc = err_set(e, ERR_VALIDATION,
                     "Tuning job %s is %s; only a Created or Running tuning job can be stopped",
                     t.name, t.status);
        goto out;
    }
    if ((rc = engine_stop_tuning(c->env->en, t.id, e)))
        goto out;
    log_info("stopping tuning job %s", t.name);
    *out = NULL; /* an empty body */
out:
    store_tuning_clear(&t);
    return rc;
}
