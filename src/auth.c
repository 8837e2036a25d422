#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "validate.h"

typedef struct {
    sigv4_header h[AUTH_MAX_HEADERS];
    size_t n;
    int overflow;
} header_list;

static void collect_header(void *ud, const char *name, const char *value) {
    header_list *l = ud;
    if (l->n == AUTH_MAX_HEADERS) {
        l->overflow = 1;
        return;
    }
    l->h[l->n].name = name;
    l->h[l->n].value = value ? value : "";
    l->n++;
}

/* Beyond host: the date, the operation of the current API whenever it is
 * named, and the body's type whenever a body or an operation is sent --
 * botocore, the AWS CLI and hpo sign them all; unsigned, a signed request's
 * operation or content type could be changed on the way. */
size_t auth_required_signed(int has_target, size_t body_len,
                            const char *out[AUTH_REQUIRED_SIGNED_MAX]) {
    size_t n = 0;
    out[n++] = "X-Amz-Date";
    if (has_target)
        out[n++] = "X-Amz-Target";
    if (has_target || body_len)
        out[n++] = "Content-Type";
    return n;
}

/* Verifies the signature; fills id on success. */
static int verify(const auth_config *cfg, const http_request *req, double now, auth_identity *id,
                  err_t *e) {
    header_list hl = {.n = 0};
    const char *regions[1] = {cfg->region};
    sigv4_identity who;
    http_headers_each(req, collect_header, &hl);
    if (hl.overflow)
        return err_set(e, ERR_SIG_INCOMPLETE, "Request has more than %d headers", AUTH_MAX_HEADERS);
    const char *required[AUTH_REQUIRED_SIGNED_MAX];
    size_t nrequired =
        auth_required_signed(http_header(req, "X-Amz-Target") != NULL, req->body_len, required);
    sigv4_verifier v = {.service = "sagemaker",
                        .regions = regions,
                        .nregions = 1,
                        .lookup = credentials_sigv4_lookup,
                        .lookup_ctx = (void *)cfg->creds};
    sigv4_request r = {.method = req->method,
                       .path = req->path,
                       .query = NULL,
                       .headers = hl.h,
                       .nheaders = hl.n,
                       .body = req->body,
                       .body_len = req->body_len};
    int rc = sigv4_verify_requiring(&v, &r, required, nrequired, (time_t)now, &who, e);
    if (rc)
        return rc;
    snprintf(id->account, sizeof id->account, "%s", who.account_id);
    snprintf(id->access_key_id, sizeof id->access_key_id, "%s", who.access_key_id);
    id->authenticated = 1;
    return 0;
}

int auth_check(const auth_config *cfg, const http_request *req, double now, auth_identity *id,
               err_t *e) {
    int rc = 0;
    char key[THROTTLE_KEY_MAX + 1];
    memset(id, 0, sizeof *id);
    if (req->body_too_large) { /* not read, so neither verifiable nor usable */
        rc = err_set(e, ERR_VALIDATION, "Request body exceeds %d bytes", VALIDATE_MAX_BODY_BYTES);
        goto out;
    }
    if (cfg->creds) {
        if ((rc = verify(cfg, req, now, id, e)))
            goto out;
    } else {
        snprintf(id->account, sizeof id->account, "%s", AUTH_DEFAULT_ACCOUNT);
    }
    if (cfg->th) {
        if (id->authenticated)
            snprintf(key, sizeof key, "%s", id->access_key_id);
        else
            snprintf(key, sizeof key, "peer:%s", req->peer ? req->peer : "?");
        if (throttle_take(cfg->th, key, now) == ERR_THROTTLING) {
            rc = err_set(e, ERR_THROTTLING, "Rate exceeded");
            goto out;
        }
    }
out:
    return rc;
}
