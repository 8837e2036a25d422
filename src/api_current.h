/* api_current — the current SageMaker API (2017-07-24, JSON 1.1) over the
 * engine and the store: POST / with X-Amz-Target: SageMaker.<Operation> and
 * Content-Type application/x-amz-json-1.1 (an empty body counts as {}).
 *
 * Operations: CreateHyperParameterTuningJob, DescribeHyperParameterTuningJob,
 * ListHyperParameterTuningJobs, ListTrainingJobsForHyperParameterTuningJob,
 * StopHyperParameterTuningJob, CreateTrainingJob, DescribeTrainingJob,
 * ListTrainingJobs, StopTrainingJob, AddTags, ListTags, DeleteTags.
 *
 * Each request is checked against botocore's model (validate_request with
 * API_CURRENT), then against a table of members openhpo does not support
 * (refused with a ValidationException naming the member: never ignored),
 * then translated into the engine's internal request form and run through
 * the same semantic checks as the 2017 API (validate_create_tuning_job).
 * Jobs belong to the caller's account (the signer's, see auth.h); a job of
 * another account does not exist for the caller. Jobs created through the
 * 2017 API are visible here and the other way round. Errors are written by
 * reply_error(..., API_CURRENT). */
#ifndef OPENHPO_API_CURRENT_H
#define OPENHPO_API_CURRENT_H

#include "engine.h"
#include "http.h"
#include "store.h"

/* What the operations need. All borrowed for the call. */
typedef struct {
    store *st;
    engine *en;
    const char *region; /* for ARNs */
} api_current_ctx;

/* Defaults where the request leaves a choice (documented in README). */
#define API_CURRENT_DEFAULT_MAX_JOBS 10    /* ResourceLimits.MaxNumberOfTrainingJobs */
#define API_CURRENT_DEFAULT_MAX_RESULTS 10 /* MaxResults of the List operations */
#define API_CURRENT_DEFAULT_TAG_RESULTS 50 /* MaxResults of ListTags */
#define API_CURRENT_MAX_TAGS 50            /* tags per resource */
#define API_CURRENT_LIST_MAX_ROWS 100000   /* rows a List operation considers */

/* Answers one request of the current API (req borrowed; resp filled) for
 * the caller's `account` (12 digits). */
void api_current_handle(const api_current_ctx *c, const char *account, const http_request *req,
                        http_response *resp);

#endif
