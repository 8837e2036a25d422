/* err — the one error vocabulary of openhpo.
 *
 * Every failure a request can meet is one of these codes. Each row maps the
 * code to its wire form in both APIs: the 2017 HPO API (name, HTTP status) and
 * the current SageMaker JSON 1.1 API (name, HTTP status). The response
 * writers (api.c) use only err_name()/err_status(); nothing else spells an
 * error name. */
#ifndef OPENHPO_ERR_H
#define OPENHPO_ERR_H

#include <stddef.h>

/* clang-format off */
/*        code                  2017 name            st   current name                    st */
#define ERR_TABLE(X)                                                                        \
    X(ERR_OK,                 "OK",                200, "OK",                          200) \
    X(ERR_VALIDATION,         "ValidationError",   400, "ValidationException",         400) \
    X(ERR_IN_USE,             "ResourceInUse",     400, "ResourceInUse",               400) \
    X(ERR_NOT_FOUND,          "ResourceNotFound",  404, "ResourceNotFound",            400) \
    X(ERR_LIMIT_EXCEEDED,     "ValidationError",   400, "ResourceLimitExceeded",       400) \
    X(ERR_FORBIDDEN,          "AccessForbidden",   403, "AccessDeniedException",       400) \
    X(ERR_THROTTLING,         "Throttling",        401, "ThrottlingException",         400) \
    X(ERR_INTERNAL,           "InternalFailure",   500, "InternalFailure",             500) \
    X(ERR_UNAVAILABLE,        "ServiceUnavailable",503, "ServiceUnavailable",          503) \
    X(ERR_UNKNOWN_OPERATION,  "UnknownOperation",  404, "UnknownOperationException",   400) \
    X(ERR_SIG_INVALID,        "AccessForbidden",   403, "InvalidSignatureException",   400) \
    X(ERR_SIG_UNKNOWN_KEY,    "AccessForbidden",   403, "UnrecognizedClientException", 400) \
    X(ERR_SIG_INCOMPLETE,     "AccessForbidden",   403, "IncompleteSignatureException",400) \
    X(ERR_SIG_MISSING,        "AccessForbidden",   403, "MissingAuthenticationToken",  403) \
    X(ERR_SIG_EXPIRED,        "AccessForbidden",   403, "InvalidSignatureException",   400)
/* clang-format on */

typedef enum {
#define X(code, n17, s17, ncur, scur) code,
    ERR_TABLE(X)
#undef X
        ERR__COUNT
} err_code;

typedef enum { API_2017 = 0, API_CURRENT = 1 } api_flavor;

/* Wire name of `code` in API `flavor` (static string). */
const char *err_name(err_code code, api_flavor flavor);
/* HTTP status of `code` in API `flavor`. */
int err_status(err_code code, api_flavor flavor);

/* An error with its detail message, carried from where it is found to the
 * response writer. Fixed-size: no allocation on the error path. */
#define ERR_MSG_MAX 512
typedef struct {
    err_code code;
    char msg[ERR_MSG_MAX];
} err_t;

/* Sets e->code and formats e->msg (truncated to ERR_MSG_MAX). Returns code,
 * so callers can write `return err_set(e, ERR_VALIDATION, "...")`. `e` may be
 * NULL (the message is then dropped). */
err_code err_set(err_t *e, err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
