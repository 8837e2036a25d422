/* client — the HTTP client of the `hpo` CLI: libcurl, SigV4, error decoding.
 *
 * Talks to an hpod (or any endpoint speaking the same APIs):
 *   - the 2017 HPO API: POST /<Operation>, Content-Type application/json;
 *   - the current SageMaker API: POST / with X-Amz-Target:
 *     SageMaker.<Operation>, Content-Type application/x-amz-json-1.1;
 *   - plain GETs (the /openhpo/... extension endpoints).
 * When credentials are given, every request is signed with SigV4 (service
 * "sagemaker") through sigv4_sign(); without them requests go unsigned.
 *
 * Failures are reported as a client_status, which is also the CLI's exit
 * code: CLIENT_ESERVICE when the service answered with an error (the
 * client_error carries its code, message and HTTP status), CLIENT_ECONN when
 * no answer came (refused, timed out, cut, unreadable), CLIENT_EUSAGE for bad
 * local input (a malformed endpoint, credentials file). Responses are capped
 * at CLIENT_MAX_RESPONSE bytes.
 *
 * A client is not thread-safe; use one per thread. Nothing here keeps global
 * state except libcurl's own global init, which client_new() does once per
 * client (curl_global_init is reference counted by libcurl). */
#ifndef OPENHPO_CLIENT_H
#define OPENHPO_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

#define CLIENT_MAX_RESPONSE (16 << 20) /* bytes of one response body */
#define CLIENT_MAX_URL 2048            /* endpoint + path + query */
#define CLIENT_KEY_ID_MAX 128
#define CLIENT_SECRET_MAX 128
#define CLIENT_TOKEN_MAX 4096 /* session token */
#define CLIENT_REGION_MAX 64
#define CLIENT_RESP_HEADERS 8 /* x-... response headers kept per response */

typedef enum {
    CLIENT_OK = 0,
    CLIENT_ESERVICE = 1, /* the service answered with an error */
    CLIENT_EUSAGE = 2,   /* bad local input */
    CLIENT_ECONN = 3,    /* no usable answer */
} client_status;

/* What went wrong, for the user. Plain values; the caller owns it. */
typedef struct {
    int http_status; /* 0 when no response came */
    char code[128];  /* the service's error code ("ValidationError"), or a local one */
    char message[1024];
} client_error;

/* Credentials to sign with; all fields NUL-terminated, "" when absent. */
typedef struct {
    char access_key_id[CLIENT_KEY_ID_MAX + 1];
    char secret_access_key[CLIENT_SECRET_MAX + 1];
    char session_token[CLIENT_TOKEN_MAX + 1];
} client_credentials;

/* Finds credentials as the AWS CLI does: AWS_ACCESS_KEY_ID +
 * AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) from the environment; else the
 * profile `profile` (NULL: $AWS_PROFILE, else "default") of the shared
 * credentials file ($AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials).
 * Returns 1 and fills *cr when found, 0 when there are none (requests then go
 * unsigned), or -1 with *err set (CLIENT_EUSAGE) when a profile named
 * explicitly is missing or the file is malformed. */
int client_credentials_find(const char *profile, client_credentials *cr, client_error *err);

typedef struct {
    const char *endpoint;         /* base URL, "http://host:port" (copied) */
    const char *region;           /* for the SigV4 scope (copied); NULL: us-east-1 */
    const client_credentials *cr; /* NULL: unsigned requests (copied) */
    long timeout_ms;              /* per request; 0: 30 s */
} client_config;

typedef struct client client;

/* Caller frees with client_free(). NULL with *err set (CLIENT_EUSAGE for a
 * malformed endpoint, else an allocation / libcurl failure). */
client *client_new(const client_config *cfg, client_error *err);
void client_free(client *c);
/* The endpoint in use (borrowed, valid until client_free). */
const char *client_endpoint(const client *c);

/* A raw response. body is NUL-terminated, owned, freed by
 * client_response_clear(). Headers kept: those whose name starts with "x-"
 * (names lowercased, values truncated to 255 bytes). */
typedef struct {
    int status;
    char *body;
    size_t len;
    struct {
        char name[64];
        char value[256];
    } headers[CLIENT_RESP_HEADERS];
    int nheaders;
} client_response;
void client_response_clear(client_response *r);
/* Value of response header `name` (case-insensitive), or NULL. Borrowed. */
const char *client_response_header(const client_response *r, const char *name);

/* Calls operation `op` of API `fl` with `body` (borrowed). On CLIENT_OK sets
 * *out to the decoded JSON answer (caller decrefs; an empty body gives {}).
 * Otherwise returns CLIENT_ESERVICE / CLIENT_ECONN with *err set. */
client_status client_call(client *c, api_flavor fl, const char *op, const json_t *body,
                          json_t **out, client_error *err);

/* GET `path` (e.g. "/openhpo/logs") with the raw, already-encoded `query`
 * (may be NULL). Fills *resp (caller clears) on CLIENT_OK, which is any 2xx
 * status; a non-2xx answer is CLIENT_ESERVICE with *err decoded from it. */
client_status client_get(client *c, const char *path, const char *query, client_response *resp,
                         client_error *err);

/* Percent-encodes `s` for a query value (RFC 3986 unreserved kept) into
 * out[cap]. Returns 0, or -1 when it does not fit. */
int client_query_escape(const char *s, char *out, size_t cap);

#endif
