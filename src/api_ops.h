/* api_ops — the operations of both APIs, private to the api module.
 *
 * Every operation has one signature (api_op): it gets the call (the
 * caller's account, the body parsed once and validated against the API's
 * shape model) and returns 0 with its answer in *out (a JSON object, or
 * NULL for an empty body), or an err_code with e set. It writes nothing:
 * api.c's router writes every reply and every error (reply.c), in the
 * call's API's wire form. The one table of operations is in api.c. */
#ifndef OPENHPO_API_OPS_H
#define OPENHPO_API_OPS_H

#include <jansson.h>

#include "engine.h"
#include "err.h"
#include "http.h"
#include "request.h"
#include "store.h"

/* Defaults where a request leaves a choice (documented in README); the
 * request's own defaults are request.h's. */
#define API_DEFAULT_MAX_RESULTS 10 /* MaxResults of the List operations */
#define API_DEFAULT_TAG_RESULTS 50 /* MaxResults of ListTags */
#define API_MAX_TAGS 50            /* tags per resource */

/* The logs endpoint (an openhpo extension), GET
 * /openhpo/logs/<account>/<training-job>/<offset>: up to API_LOGS_CHUNK_MAX
 * bytes of DATA_DIR/jobs/<account>/<training-job>/output.log from byte
 * <offset> (text/plain), with headers X-Openhpo-Next-Offset (the offset to
 * ask for next), X-Openhpo-Log-Size (the log's size now) and
 * X-Openhpo-Job-Status (the training job's status), so a follower stops
 * once the job is final and the next offset reaches the size. Errors are
 * the 2017 API's: ResourceNotFound for an unknown job, ValidationError for
 * a malformed path or offset, AccessForbidden when an authenticated caller
 * asks for another account's job. */
#define API_LOGS_PREFIX "/openhpo/logs/"
#define API_LOGS_CHUNK_MAX (256 * 1024)

/* What every operation may use. Borrowed. */
typedef struct {
    store *st;
    engine *en;
    const char *region; /* for ARNs */
    int hour_seconds;   /* length of an hour for MaxClockTimeInHours */
} api_env;

/* One call. All borrowed for the call. */
typedef struct {
    const api_env *env;
    api_flavor api;
    const char *op;      /* the operation's name */
    const char *account; /* the caller's account (12 digits) */
    int authenticated;   /* the account was verified by a signature */
    const json_t *body;  /* the parsed, validated body (an object); NULL for GET routes */
    const http_request *req;
} api_call;

typedef int (*api_op)(const api_call *c, json_t **out, err_t *e);

/* The 2017 HPO API (POST /<Operation>). */
int api_2017_create_tuning_job(const api_call *c, json_t **out, err_t *e);
int api_2017_describe_tuning_job(const api_call *c, json_t **out, err_t *e);
int api_2017_list_training_jobs(const api_call *c, json_t **out, err_t *e);
int api_2017_stop_tuning_job(const api_call *c, json_t **out, err_t *e);

/* The current SageMaker API (X-Amz-Target: SageMaker.<Operation>). Before
 * any of them runs, api_current_refuse() refuses what openhpo does not
 * support (a declarative table: never ignored) and checks the members newer
 * than the built-in botocore model. */
int api_current_refuse(const char *op, const json_t *body, err_t *e);
int api_current_create_tuning(const api_call *c, json_t **out, err_t *e);
int api_current_describe_tuning(const api_call *c, json_t **out, err_t *e);
int api_current_list_tunings(const api_call *c, json_t **out, err_t *e);
int api_current_list_for_tuning(const api_call *c, json_t **out, err_t *e);
int api_current_stop_tuning(const api_call *c, json_t **out, err_t *e);
int api_current_delete_tuning(const api_call *c, json_t **out, err_t *e);
int api_current_create_training(const api_call *c, json_t **out, err_t *e);
int api_current_describe_training(const api_call *c, json_t **out, err_t *e);
int api_current_list_trainings(const api_call *c, json_t **out, err_t *e);
int api_current_stop_training(const api_call *c, json_t **out, err_t *e);
int api_current_add_tags(const api_call *c, json_t **out, err_t *e);
int api_current_list_tags(const api_call *c, json_t **out, err_t *e);
int api_current_delete_tags(const api_call *c, json_t **out, err_t *e);

/* The logs endpoint: fills resp (a text body) and returns 0, or an
 * err_code with e set (the router writes the error). */
int api_logs_get(const api_call *c, http_response *resp, err_t *e);

/* Shared by the Create operations of both APIs (api.c): stores the job
 * row of the typed request `r` (the queried columns from r; the request
 * text is the call's original body), adds r's tags to `arn`, and starts it
 * (engine_add_tuning). The seed is r's RandomSeed, or a random one. The
 * row's kind is "training" for a CreateTrainingJob. A WarmStartConfig's
 * parents are checked and kept by id first (warmstart_resolve). 0 or an
 * err_code. */
int api_create_job(const api_call *c, const req_tuning *r, const char *arn, err_t *e);

#endif
