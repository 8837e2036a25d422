/* auth — who is calling: SigV4 authentication, accounts and throttling for
 * both APIs.
 *
 * With credentials configured (`hpod --credentials FILE`), every request
 * except GET /health must carry a valid AWS Signature Version 4 (service
 * "sagemaker", the daemon's region, request time within 15 minutes, constant-
 * time compare: sigv4.h), made with an access key of the credentials file;
 * the caller's account is the key's account. SignedHeaders must name `host`
 * and `x-amz-date` (both APIs), `x-amz-target` whenever the request carries
 * one (the current API's operation) and `content-type` whenever it carries a
 * body or an X-Amz-Target; otherwise ERR_SIG_INCOMPLETE
 * (IncompleteSignatureException 400 / AccessForbidden 403). A request whose
 * body was over the cap (http.h: body_too_large, nothing read) is refused
 * first with ERR_VALIDATION, credentials or not. Without credentials nothing is
 * verified and every caller acts as AUTH_DEFAULT_ACCOUNT (hpod then serves
 * loopback only unless --insecure). With a throttle configured, every request
 * also takes a token from its access key's bucket (unauthenticated callers:
 * one bucket per peer address); an empty bucket is ERR_THROTTLING.
 *
 * Errors are err.h codes, so the caller's reply_error() gives each API its
 * wire form (InvalidSignatureException / UnrecognizedClientException /
 * IncompleteSignatureException / MissingAuthenticationToken /
 * ThrottlingException on the current API; AccessForbidden 403 / Throttling 401
 * on the 2017 API). Nothing is allocated; no state outside the borrowed
 * throttle is kept, so calls are independent. */
#ifndef OPENHPO_AUTH_H
#define OPENHPO_AUTH_H

#include "credentials.h"
#include "err.h"
#include "http.h"
#include "sigv4.h"
#include "throttle.h"

/* The account of unauthenticated requests (no --credentials). */
#define AUTH_DEFAULT_ACCOUNT "123456789012"
/* Most request headers a signed request may carry (more: IncompleteSignature). */
#define AUTH_MAX_HEADERS 64

typedef struct {
    const credentials *creds; /* borrowed; NULL = no authentication */
    throttle *th;             /* borrowed; NULL = no throttling */
    const char *region;       /* borrowed; the region signatures must be scoped to */
} auth_config;

/* The caller of a request (plain values). */
typedef struct {
    char account[SIGV4_ACCOUNT_ID_MAX + 1];
    char access_key_id[SIGV4_KEY_ID_MAX + 1]; /* "" when not authenticated */
    int authenticated;                        /* 1 when a signature was verified */
} auth_identity;

/* The headers a signed request must name in SignedHeaders beyond `host`
 * (which sigv4 always requires), by the rule above, for a request that
 * carries an X-Amz-Target header (`has_target`) and `body_len` bytes of body:
 * fills out[] with static names and returns how many. */
#define AUTH_REQUIRED_SIGNED_MAX 3
size_t auth_required_signed(int has_target, size_t body_len,
                            const char *out[AUTH_REQUIRED_SIGNED_MAX]);

/* Authenticates and throttles `req` at time `now` (epoch seconds). Returns 0
 * and fills *id, or an ERR_VALIDATION (body over the cap) / ERR_SIG_* /
 * ERR_THROTTLING / ERR_INTERNAL code with e set. `cfg` and `req` are borrowed. */
int auth_check(const auth_config *cfg, const http_request *req, double now, auth_identity *id,
               err_t *e);

#endif
