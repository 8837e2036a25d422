/* reply — building HTTP responses in the APIs' shapes, shared by api.c
 * (2017 API) and api_current.c (current SageMaker API).
 *
 * reply_error() is the one place an err_t becomes a wire error: header
 * x-amzn-ErrorType and body {"__type": name, "message": msg}, with the name
 * and status of err.h's table for the API flavor. */
#ifndef OPENHPO_REPLY_H
#define OPENHPO_REPLY_H

#include <jansson.h>

#include "err.h"
#include "http.h"

/* Answers `status` with `body` (takes ownership; may be NULL for an empty
 * body) as JSON of the flavor's content type. */
void reply_json(http_response *resp, int status, json_t *body, api_flavor fl);
/* Answers the error `e`. */
void reply_error(http_response *resp, const err_t *e, api_flavor fl);

/* Pagination tokens: opaque strings "<offset>.<mac>", the mac an HMAC-SHA256
 * (truncated to 128 bits) of `scope` and the offset under `secret` (32
 * bytes). `scope` names the query (account, job, sort, filters), so a token
 * is only good for the query that made it. */
json_t *reply_token_make(const unsigned char *secret, const char *scope, long long offset);
/* Reads a token back; ERR_VALIDATION naming NextToken when it is malformed,
 * changed or from another query. */
int reply_token_read(const unsigned char *secret, const char *scope, const char *tok,
                     long long *offset, err_t *e);

#endif
