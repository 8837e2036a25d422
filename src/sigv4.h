/* sigv4 — AWS Signature Version 4 (AWS4-HMAC-SHA256): the server-side
 * verifier hpod runs on every request, and the signing primitive the `hpo`
 * CLI (and the tests) use to make requests boto3 and the AWS CLI would make.
 *
 * What is verified (header authentication, `Authorization: AWS4-HMAC-SHA256
 * Credential=AKID/YYYYMMDD/REGION/SERVICE/aws4_request, SignedHeaders=...,
 * Signature=...`) and query-string authentication (X-Amz-Algorithm,
 * X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
 * X-Amz-Signature in the query string: a presigned URL):
 *   - the canonical request is rebuilt from what was received: the path is
 *     normalised (dot segments and repeated slashes removed) and encoded once
 *     more (the "double encoding" of every service but S3), query parameters
 *     are decoded, re-encoded and sorted, each signed header's values are
 *     trimmed, inner whitespace runs collapsed to one space and repeated
 *     headers joined with ',', and the payload hash is always the SHA-256 of
 *     the body actually received (UNSIGNED-PAYLOAD is refused);
 *   - `host` must be signed, and so must the date header used (X-Amz-Date,
 *     else Date) and X-Amz-Security-Token when present;
 *   - the request time must be within SIGV4_MAX_SKEW_SECONDS of now, either
 *     way (a presigned URL is also refused once X-Amz-Expires has passed);
 *   - the credential scope must be today's date of the request time, an
 *     accepted region, the accepted service and "aws4_request";
 *   - the signature is compared in constant time.
 *
 * Nothing here allocates more than a bounded amount: every input has a cap
 * below (a request over a cap fails with ERR_SIG_INCOMPLETE), and no state is
 * kept between calls, so every function is safe to call from any thread. */
#ifndef OPENHPO_SIGV4_H
#define OPENHPO_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "err.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_HEX_LEN 64           /* a SHA-256 or a signature, in lowercase hex */
#define SIGV4_DATE_LEN 16          /* YYYYMMDDTHHMMSSZ */
#define SIGV4_KEY_ID_MAX 128       /* longest access key id */
#define SIGV4_ACCOUNT_ID_MAX 12    /* an account id: 12 digits */
#define SIGV4_REGION_MAX 64        /* longest region name */
#define SIGV4_SERVICE_MAX 64       /* longest service name */
#define SIGV4_MAX_SKEW_SECONDS 900 /* 15 minutes, as AWS */

/* Caps on what a request may carry to be verified or signed. */
#define SIGV4_PATH_MAX 8192         /* raw path bytes */
#define SIGV4_QUERY_MAX 16384       /* raw query string bytes */
#define SIGV4_QUERY_PARAMS_MAX 256  /* query parameters */
#define SIGV4_SIGNED_HEADERS_MAX 64 /* headers named in SignedHeaders */
#define SIGV4_AUTHZ_MAX 4096        /* an Authorization header value */
#define SIGV4_CANONICAL_MAX 65536   /* a canonical request, NUL included */

/* One received header. Names compare case-insensitively; values are taken as
 * received (the canonical form trims and collapses them). Both strings are
 * NUL-terminated and borrowed. */
typedef struct {
    const char *name;
    const char *value;
} sigv4_header;

/* A request as received (or about to be sent). Every pointer is borrowed and
 * need only live for the duration of the call it is passed to.
 *   method  "GET", "POST", ... (compared and signed as given)
 *   path    the raw request-target path, still percent-encoded as on the
 *           wire, without the query ("/" for the SageMaker JSON API)
 *   query   the raw query string without '?', or NULL / "" for none
 *   headers every header received, in the order received, `nheaders` of them
 *   body    the body bytes (`body_len` of them; body may be NULL when 0) */
typedef struct {
    const char *method;
    const char *path;
    const char *query;
    const sigv4_header *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
} sigv4_request;

/* Looks up an access key id. On success returns ERR_OK and points *secret and
 * *account_id at NUL-terminated strings owned by the callee, which must stay
 * valid until sigv4_verify() returns. Returns ERR_SIG_UNKNOWN_KEY when the key
 * is not known (any other non-zero code is passed through as the result).
 * credentials_sigv4_lookup() (credentials.h) is one. */
typedef err_code (*sigv4_lookup_fn)(void *ctx, const char *access_key_id, const char **secret,
                                    const char **account_id);

/* What the server accepts. All borrowed.
 *   service   the service name the credential scope must carry ("sagemaker")
 *   regions   the accepted regions (`nregions` of them); with nregions == 0
 *             any region is accepted
 *   lookup    the key store, called with `lookup_ctx` */
typedef struct {
    const char *service;
    const char *const *regions;
    size_t nregions;
    sigv4_lookup_fn lookup;
    void *lookup_ctx;
} sigv4_verifier;

/* Who signed a verified request (plain values, owned by the caller). */
typedef struct {
    char access_key_id[SIGV4_KEY_ID_MAX + 1];
    char account_id[SIGV4_ACCOUNT_ID_MAX + 1];
    char region[SIGV4_REGION_MAX + 1];
    time_t signed_at;      /* the request time the signature covers */
    int has_session_token; /* X-Amz-Security-Token was sent (and signed) */
} sigv4_identity;

/* Verifies the signature of `req` at time `now` (seconds since the epoch).
 * Returns ERR_OK and fills *id (may be NULL), or one of:
 *   ERR_SIG_MISSING     no Authorization header and no query-string auth
 *   ERR_SIG_INCOMPLETE  Authorization / query auth malformed or incomplete,
 *                       a required header unsigned, no usable date, or the
 *                       request over a cap above
 *   ERR_SIG_EXPIRED     request time more than 15 min from now ("Signature
 *                       expired: ... is now earlier than ..."), or a
 *                       presigned URL past its X-Amz-Expires
 *   ERR_SIG_INVALID     wrong scope (date, region, service, terminator),
 *                       signed header absent, X-Amz-Content-Sha256 not the
 *                       body's hash (or UNSIGNED-PAYLOAD), or signature wrong
 *   ERR_SIG_UNKNOWN_KEY the lookup does not know the access key id
 *   ERR_INTERNAL        allocation or crypto failure
 * with e->msg (e may be NULL) worded like AWS's own messages. The secret is
 * never copied into e->msg. */
err_code sigv4_verify(const sigv4_verifier *v, const sigv4_request *req, time_t now,
                      sigv4_identity *id, err_t *e);

/* sigv4_verify(), with `nrequired` more headers (`required`, any case, e.g.
 * "X-Amz-Target") that must be named in SignedHeaders beyond `host` and the
 * date header: a request that does not sign one is refused with
 * ERR_SIG_INCOMPLETE ("'X-Amz-Target' must be a 'SignedHeader' in the AWS
 * Authorization.") before its signature is computed. */
err_code sigv4_verify_requiring(const sigv4_verifier *v, const sigv4_request *req,
                                const char *const *required, size_t nrequired, time_t now,
                                sigv4_identity *id, err_t *e);

/* Signs `req` for header authentication: sets *authz to the Authorization
 * header value ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=..."), NUL-terminated in a buffer of `cap` bytes the caller owns
 * (SIGV4_AUTHZ_MAX is enough). The request time is the X-Amz-Date header of
 * `req`, which the caller must have added (see sigv4_format_date()), and a
 * Host header must be present. Every header of `req` is signed except
 * Authorization, User-Agent, Expect and X-Amzn-Trace-Id (as botocore does).
 * If the caller sends X-Amz-Security-Token it must be among req's headers.
 * Returns ERR_OK, ERR_VALIDATION (bad input: missing Host / X-Amz-Date, too
 * large, `cap` too small) or ERR_INTERNAL, with e->msg. */
err_code sigv4_sign(const sigv4_request *req, const char *access_key_id, const char *secret,
                    const char *region, const char *service, char *authz, size_t cap, err_t *e);

/* The building blocks, for the client and tests. */

/* Writes the canonical request of `req` into out[cap] (NUL-terminated).
 * `signed_headers` is the lowercase, ';'-separated, sorted SignedHeaders list;
 * `payload_hash` the hex payload hash to use, or NULL for SHA-256 of the body.
 * With `presigned` set, X-Amz-Signature is left out of the canonical query.
 * Returns ERR_OK, ERR_SIG_INCOMPLETE (malformed list, or the request over a
 * cap / `cap`), or ERR_SIG_INVALID (a signed header absent from `req`). */
err_code sigv4_canonical_request(const sigv4_request *req, const char *signed_headers,
                                 const char *payload_hash, int presigned, char *out, size_t cap,
                                 err_t *e);

/* Writes the string to sign for `canonical_request` made at `amz_date`
 * (YYYYMMDDTHHMMSSZ) under the scope amz_date[0..8)/region/service/aws4_request
 * into out[cap]. Returns ERR_OK, or ERR_VALIDATION when `cap` is too small. */
err_code sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                              const char *canonical_request, char *out, size_t cap, err_t *e);

/* The signature: hex(HMAC(signing key, string_to_sign)), with the signing key
 * derived from `secret` by HMAC over date8 (the YYYYMMDD of the request
 * time), region, service and "aws4_request". Writes SIGV4_HEX_LEN hex digits
 * and a NUL into out. Returns 0, or -1 on a crypto failure / bad date8. */
int sigv4_signature(const char *secret, const char *date8, const char *region, const char *service,
                    const char *string_to_sign, char out[SIGV4_HEX_LEN + 1]);

/* Lowercase hex SHA-256 of n bytes at data (data may be NULL when n is 0). */
int sigv4_sha256_hex(const void *data, size_t n, char out[SIGV4_HEX_LEN + 1]);

/* Formats `t` as the X-Amz-Date value YYYYMMDDTHHMMSSZ (UTC). Returns 0, or
 * -1 when t is outside years 0000-9999. */
int sigv4_format_date(time_t t, char out[SIGV4_DATE_LEN + 1]);

/* Parses an X-Amz-Date (YYYYMMDDTHHMMSSZ) or an HTTP Date header
 * ("Sun, 06 Nov 1994 08:49:37 GMT") into *t. Returns 0, or -1 if `s` is
 * neither (no other format, no trailing text, fields range-checked). */
int sigv4_parse_date(const char *s, time_t *t);

#endif
