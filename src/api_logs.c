/* api_logs — the logs endpoint (see API_LOGS_PREFIX in api_ops.h), so
 * `hpo logs` can show (and follow) what a training program prints. All
 * parameters are path segments (not a query string) because the request
 * path is what SigV4 signs. */
#include "api_ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies path segment `i` (0-based, after the prefix) into out[cap].
 * Returns 0, or -1 when absent, empty or too long. */
static int segment(const char *rest, int i, char *out, size_t cap) {
    const char *p = rest;
    for (int k = 0; k < i; k++) {
        p = strchr(p, '/');
        if (!p)
            return -1;
        p++;
    }
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= cap)
        return -1;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

/* A name as the APIs allow: [A-Za-z0-9-], so it is safe in a file path. */
static int plain_name(const char *s) {
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-'))
            return 0;
    return 1;
}

int api_logs_get(const api_call *c, http_response *resp, err_t *e) {
    const http_request *req = c->req;
    const char *caller_account = c->authenticated ? c->account : NULL;
    store *st = c->env->st;
    store_training t = {0};
    char account[16], job[STORE_NAME_MAX], off_s[24], num[32];
    char *buf = NULL;
    int rc = 0;
    size_t plen = strlen(API_LOGS_PREFIX);
    const char *rest = req->path + plen;
    if (strcmp(req->method, "GET")) {
        rc = err_set(e, ERR_VALIDATION, "%s must be called with GET", API_LOGS_PREFIX);
        goto out;
    }
    if (segment(rest, 0, account, sizeof account) || segment(rest, 1, job, sizeof job) ||
        segment(rest, 2, off_s, sizeof off_s) || segment(rest, 3, num, sizeof num) == 0 ||
        !plain_name(account) || !plain_name(job)) {
        rc = err_set(e, ERR_VALIDATION, "expected GET %s<account>/<training-job>/<offset>",
                     API_LOGS_PREFIX);
        goto out;
    }
    char *end;
    errno = 0;
    long long offset = strtoll(off_s, &end, 10);
    if (*end || errno || offset < 0) {
        rc = err_set(e, ERR_VALIDATION, "offset: must be a non-negative integer");
        goto out;
    }
    if (caller_account && strcmp(caller_account, account)) {
        rc = err_set(e, ERR_FORBIDDEN, "account %s is not the caller's account", account);
        goto out;
    }
    rc = store_get_training(st, account, job, &t);
    if (rc == ERR_NOT_FOUND) {
        err_set(e, rc, "Training job %s does not exist", job);
        goto out;
    }
    if (rc) {
        err_set(e, rc, "cannot read the training job");
        goto out;
    }
    ssize_t got = 0;
    if (!(buf = malloc(API_LOGS_CHUNK_MAX + 1))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    /* Through the backend that runs the job: it owns the log stream. */
    got = engine_read_log(c->env->en, &t, (int64_t)offset, buf, API_LOGS_CHUNK_MAX);
    if (got < 0) {
        rc = err_set(e, ERR_INTERNAL, "cannot read the log of %s", job);
        goto out;
    }
    buf[got] = 0;
    /* What is known of the log's size: all of it up to the end of this read
     * (the whole log once a read returns less than it asked for). */
    long long size = offset + (long long)got;
    resp->status = 200;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = buf;
    resp->body_len = (size_t)got;
    buf = NULL;
    snprintf(num, sizeof num, "%lld", offset + (long long)got);
    http_response_header(resp, "X-Openhpo-Next-Offset", num);
    snprintf(num, sizeof num, "%lld", size);
    http_response_header(resp, "X-Openhpo-Log-Size", num);
    http_response_header(resp, "X-Openhpo-Job-Status", t.status);
out:
    free(buf);
    store_training_clear(&t);
    return rc;
}
