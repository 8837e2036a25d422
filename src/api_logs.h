/* api_logs — an openhpo extension endpoint serving training-job logs, so
 * `hpo logs` can show (and follow) what a training program prints.
 *
 *   GET /openhpo/logs/<account>/<training-job>/<offset>
 *
 * answers 200 with up to API_LOGS_CHUNK_MAX bytes of
 * DATA_DIR/jobs/<account>/<training-job>/output.log from byte <offset> on
 * (Content-Type text/plain; an empty body when nothing new), and headers
 *   X-Openhpo-Next-Offset  the offset to ask for next
 *   X-Openhpo-Log-Size     the log's size now
 *   X-Openhpo-Job-Status   the training job's status (InProgress, Completed...)
 * so a follower stops once the job is final and the next offset reaches the
 * size. Errors are the 2017 API's: ResourceNotFound 404 for an unknown job,
 * ValidationError 400 for a malformed path or offset, AccessForbidden 403
 * when an authenticated caller asks for another account's job.
 *
 * All parameters are path segments (not a query string) because the request
 * path is what the daemon's HTTP layer hands over and what SigV4 signs. */
#ifndef OPENHPO_API_LOGS_H
#define OPENHPO_API_LOGS_H

#include "http.h"
#include "store.h"

#define API_LOGS_PREFIX "/openhpo/logs/"
#define API_LOGS_CHUNK_MAX (256 * 1024) /* bytes of log per answer */

/* Answers `req` when its path starts with API_LOGS_PREFIX and returns 1;
 * returns 0 (resp untouched) for any other path. `caller_account` is the
 * authenticated caller's account, or NULL when requests are not
 * authenticated (any account may then be read). `st` and `req` are borrowed;
 * resp->body is allocated and owned by resp (the server frees it). */
int api_logs_handle(store *st, const char *caller_account, const http_request *req,
                    http_response *resp);

#endif
