/* api — the router of both APIs (see api.h and api_ops.h).
 *
 * One route table (/health, the dashboard under /ui/ (ui.h), the logs
 * endpoint, the 2017 operations by path, the current ones by X-Amz-Target)
 * and one operation table. A request is
 * authenticated once (auth_check), routed, checked for its method, content
 * type and size, its body parsed once (JSON) and validated against its
 * API's shape model (and, on the current API, the table of refused
 * members), then its operation runs; this file writes every reply and every
 * error (reply.c). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api_ops.h"
#include "reply.h"
#include "ui.h"
#include "util.h"
#include "validate.h"

struct api {
    api_config cfg;
    api_env env;
    ui *ui; /* the dashboard under /ui/, or NULL */
};

/* The dashboard (ui.h) over this api's env; NULL when it cannot start (logged). */
static ui *api_ui_new(api *a) {
    err_t e = {0};
    ui_config uc = {.env = &a->env, .creds = a->cfg.auth.creds, .data_dir = a->cfg.data_dir};
    ui *u = ui_new(&uc, &e);
    if (!u)
        log_error("the dashboard cannot start: %s", e.msg);
    return u;
}

api *api_new(const api_config *cfg) {
    api *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cfg = *cfg;
    a->env = (api_env){.st = cfg->st,
                       .en = cfg->en,
                       .region = cfg->region,
                       .hour_seconds = cfg->hour_seconds > 0 ? cfg->hour_seconds : 3600};
    if (cfg->data_dir && !(a->ui = api_ui_new(a))) {
        free(a);
        return NULL;
    }
    return a;
}

void api_free(api *a) {
    if (a)
        ui_free(a->ui);
    free(a);
}

static uint64_t random_seed(void) {
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s || !s)
        s = (uint64_t)(util_now() * 1e6);
    return s & 0x7fffffffffffffffULL;
}

int api_create_job(const api_call *c, const req_tuning *r, const char *arn, err_t *e) {
    store_tuning t = {0};
    const char *metric;
    int maximize = 1, rc;
    char *text = NULL;
    snprintf(t.account, sizeof t.account, "%s", r->account);
    snprintf(t.name, sizeof t.name, "%s", r->name ? r->name : "");
    snprintf(t.arn, sizeof t.arn, "%s", arn);
    snprintf(t.kind, sizeof t.kind, "%s", r->kind == REQ_KIND_TRAINING ? "training" : "tuning");
    snprintf(t.status, sizeof t.status, "Created");
    t.api = r->api;
    snprintf(t.strategy, sizeof t.strategy, "%s", request_strategy_name(r->strategy));
    t.seed = r->seed_given ? r->seed : random_seed();
    metric = request_objective(r, 0, &maximize);
    snprintf(t.objective_metric, sizeof t.objective_metric, "%s", metric ? metric : "");
    snprintf(t.objective_type, sizeof t.objective_type, "%s", maximize ? "Maximize" : "Minimize");
    t.max_jobs = r->max_jobs;
    t.max_parallel = r->max_parallel;
    t.max_seconds = r->api == API_2017 ? (int64_t)r->max_clock_hours * c->env->hour_seconds
                                       : (int64_t)r->max_tuning_seconds;
    t.created = util_now();
    /* The original request, as the caller sent it (engine_add_tuning and a
     * restart parse it again). */
    if (!(text = strndup(c->req->body, c->req->body_len))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    t.request = text;
    if ((rc = store_create_tuning(c->env->st, &t, e))) {
        if (rc == ERR_IN_USE && r->kind == REQ_KIND_TRAINING)
            err_set(e, ERR_IN_USE, "Training job %s already exists", t.name);
        goto out;
    }
    for (size_t i = 0; i < r->ntags; i++)
        if (store_tags_add(c->env->st, r->account, arn, r->tags[i].key, r->tags[i].value)) {
            rc = err_set(e, ERR_INTERNAL, "cannot store the tags");
            goto out;
        }
    if ((rc = engine_add_tuning(c->env->en, t.id, e)))
        goto out;
    log_info("created %s %s (account %s, %d jobs, %d parallel, %s, %s API)",
             r->kind == REQ_KIND_TRAINING ? "training job" : "tuning job", t.name, t.account,
             t.max_jobs, t.max_parallel, t.strategy, r->api == API_2017 ? "2017" : "current");
out:
    free(text);
    return rc;
}

/* The one table of operations: the API, the name (the 2017 API's path
 * without "/", the current API's X-Amz-Target without "SageMaker."), the
 * operation. */
static const struct {
    api_flavor api;
    const char *name;
    api_op fn;
} ops[] = {
    {API_2017, "CreateTuningJob", api_2017_create_tuning_job},
    {API_2017, "DescribeTuningJob", api_2017_describe_tuning_job},
    {API_2017, "ListTrainingJobsForTuningJob", api_2017_list_training_jobs},
    {API_2017, "StopTuningJob", api_2017_stop_tuning_job},
    {API_CURRENT, "CreateHyperParameterTuningJob", api_current_create_tuning},
    {API_CURRENT, "DescribeHyperParameterTuningJob", api_current_describe_tuning},
    {API_CURRENT, "ListHyperParameterTuningJobs", api_current_list_tunings},
    {API_CURRENT, "ListTrainingJobsForHyperParameterTuningJob", api_current_list_for_tuning},
    {API_CURRENT, "StopHyperParameterTuningJob", api_current_stop_tuning},
    {API_CURRENT, "DeleteHyperParameterTuningJob", api_current_delete_tuning},
    {API_CURRENT, "CreateTrainingJob", api_current_create_training},
    {API_CURRENT, "DescribeTrainingJob", api_current_describe_training},
    {API_CURRENT, "ListTrainingJobs", api_current_list_trainings},
    {API_CURRENT, "StopTrainingJob", api_current_stop_training},
    {API_CURRENT, "AddTags", api_current_add_tags},
    {API_CURRENT, "ListTags", api_current_list_tags},
    {API_CURRENT, "DeleteTags", api_current_delete_tags},
};
#define NOPS (sizeof ops / sizeof *ops)

#define TARGET_PREFIX "SageMaker."

/* The routes, in the order they are tried. */
typedef enum { ROUTE_HEALTH, ROUTE_UI, ROUTE_LOGS, ROUTE_CURRENT, ROUTE_2017 } route;

static route route_of(const http_request *req) {
    if (!strcmp(req->path, "/health"))
        return ROUTE_HEALTH;
    if (ui_owns(req->path))
        return ROUTE_UI;
    if (!strncmp(req->path, API_LOGS_PREFIX, strlen(API_LOGS_PREFIX)))
        return ROUTE_LOGS;
    if (!strcmp(req->path, "/") && http_header(req, "X-Amz-Target"))
        return ROUTE_CURRENT;
    return ROUTE_2017;
}

/* The operation of a request of API `fl`, or NOPS. */
static size_t find_op(api_flavor fl, const char *name) {
    for (size_t i = 0; name && i < NOPS; i++)
        if (ops[i].api == fl && !strcmp(ops[i].name, name))
            return i;
    return NOPS;
}

/* Reads and checks the body of an API call: method, content type, size,
 * JSON (an empty body is {} on the current API), the 2017 API's
 * AwsAccountId against the signer, the shape model, the refused members. */
static int read_body(const api *a, const api_call *c, const auth_identity *who, json_t **body,
                     err_t *e) {
    const http_request *req = c->req;
    json_error_t je;
    int rc;
    if (strcmp(req->method, "POST"))
        return err_set(e, ERR_VALIDATION, "%s must be called with POST", c->op);
    if (!http_json_content_type(http_header(req, "Content-Type")))
        return err_set(e, ERR_VALIDATION, "Content-Type must be %s",
                       c->api == API_CURRENT ? "application/x-amz-json-1.1" : "application/json");
    if (req->body_too_large)
        return err_set(e, ERR_VALIDATION, "Request body exceeds %d bytes", VALIDATE_MAX_BODY_BYTES);
    *body = c->api == API_CURRENT && !req->body_len
                ? json_object()
                : json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!*body)
        return err_set(e, ERR_VALIDATION, "Request body is not valid JSON: %s (line %d, column %d)",
                       je.text, je.line, je.column);
    if (c->api == API_2017 && who->authenticated) {
        const char *acct = json_string_value(json_object_get(*body, "AwsAccountId"));
        if (acct && strcmp(acct, who->account))
            return err_set(e, ERR_FORBIDDEN,
                           "AwsAccountId %.16s is not the account of access key %s", acct,
                           who->access_key_id);
    }
    if ((rc = validate_request(c->api, c->op, *body, e)))
        return rc;
    if (c->api == API_CURRENT && (rc = api_current_refuse(c->op, *body, e)))
        return rc;
    return 0;
}

void api_handle(void *ud, const http_request *req, http_response *resp) {
    api *a = ud;
    route rt = route_of(req);
    api_call c = {.env = &a->env, .api = rt == ROUTE_CURRENT ? API_CURRENT : API_2017, .req = req};
    auth_identity who;
    json_t *body = NULL, *out = NULL;
    err_t e = {0};
    int rc;
    if (rt == ROUTE_HEALTH) {
        reply_json(resp, 200,
                   json_pack("{s:s, s:i}", "Status", "ok", "RunningTrainingJobs",
                             engine_running(a->cfg.en)),
                   API_2017);
        return;
    }
    if (rt == ROUTE_UI) { /* its own sign-in (a browser cannot sign requests) */
        ui_handle(a->ui, req, resp);
        return;
    }
    if ((rc = auth_check(&a->cfg.auth, req, util_now(), &who, &e)))
        goto out;
    c.account = who.account;
    c.authenticated = who.authenticated;
    if (rt == ROUTE_LOGS) {
        rc = api_logs_get(&c, resp, &e);
        goto out;
    }
    if (rt == ROUTE_CURRENT) {
        const char *target = http_header(req, "X-Amz-Target");
        size_t i = !strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX))
                       ? find_op(API_CURRENT, target + strlen(TARGET_PREFIX))
                       : NOPS;
        if (i == NOPS) {
            rc = err_set(&e, ERR_UNKNOWN_OPERATION, "Unknown operation %.128s", target);
            goto out;
        }
        c.op = ops[i].name;
    } else {
        size_t i = find_op(API_2017, req->path + 1);
        if (i == NOPS) {
            rc = err_set(&e, ERR_UNKNOWN_OPERATION, "Unknown operation %.64s", req->path);
            goto out;
        }
        c.op = ops[i].name;
    }
    if ((rc = read_body(a, &c, &who, &body, &e)))
        goto out;
    c.body = body;
    if ((rc = ops[find_op(c.api, c.op)].fn(&c, &out, &e)))
        goto out;
    reply_json(resp, 200, out, c.api);
    out = NULL;
out:
    if (rc) {
        if (e.code == ERR_OK)
            err_set(&e, ERR_INTERNAL, "internal error");
        reply_error(resp, &e, c.api);
    }
    json_decref(out);
    json_decref(body);
}
