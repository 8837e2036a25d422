#include "client.h"

#include <ctype.h>
#include <stdarg.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sigv4.h"

#define CLIENT_SERVICE "sagemaker"
#define CLIENT_DEFAULT_TIMEOUT_MS 30000L
#define CLIENT_CRED_FILE_MAX (1 << 20)
#define CLIENT_LINE_MAX 8192

struct client {
    CURL *curl;
    char endpoint[CLIENT_MAX_URL]; /* without a trailing '/' */
    char host[512];                /* Host header value */
    char base_path[512];           /* path prefix of the endpoint, "" or "/x" */
    char region[CLIENT_REGION_MAX + 1];
    client_credentials cr;
    int sign;
    long timeout_ms;
};

static void set_err(client_error *err, int http_status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_err(client_error *err, int http_status, const char *code, const char *fmt, ...) {
    if (!err)
        return;
    va_list ap;
    err->http_status = http_status;
    snprintf(err->code, sizeof err->code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* ---------- credentials ---------- */

static void trim(char *s) {
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    size_t i = 0;
    while (s[i] && isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, strlen(s + i) + 1);
}

/* Reads `profile` from the INI file at `path`. 1 found, 0 not, -1 error. */
static int read_profile(const char *path, const char *profile, client_credentials *cr,
                        client_error *err) {
    FILE *f = fopen(path, "r");
    char line[CLIENT_LINE_MAX];
    int in = 0, found = 0, rc = 0, lineno = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        trim(line);
        if (!line[0] || line[0] == '#' || line[0] == ';')
            continue;
        if (line[0] == '[') {
            char *end = strchr(line, ']');
            if (!end) {
                set_err(err, 0, "CredentialsError", "%s:%d: malformed section header", path,
                        lineno);
                rc = -1;
                goto out;
            }
            *end = 0;
            char *name = line + 1;
            trim(name);
            if (!strncmp(name, "profile ", 8)) /* the config file's spelling */
                name += 8;
            in = !strcmp(name, profile);
            found |= in;
            continue;
        }
        if (!in)
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = 0;
        char *k = line, *v = eq + 1;
        trim(k);
        trim(v);
        if (!strcmp(k, "aws_access_key_id"))
            snprintf(cr->access_key_id, sizeof cr->access_key_id, "%s", v);
        else if (!strcmp(k, "aws_secret_access_key"))
            snprintf(cr->secret_access_key, sizeof cr->secret_access_key, "%s", v);
        else if (!strcmp(k, "aws_session_token"))
            snprintf(cr->session_token, sizeof cr->session_token, "%s", v);
    }
    if (found && (!cr->access_key_id[0] || !cr->secret_access_key[0])) {
        set_err(err, 0, "CredentialsError",
                "%s: profile [%s] lacks aws_access_key_id or aws_secret_access_key", path, profile);
        rc = -1;
        goto out;
    }
    rc = found;
out:
    fclose(f);
    return rc;
}

int client_credentials_find(const char *profile, client_credentials *cr, client_error *err) {
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *tok = getenv("AWS_SESSION_TOKEN");
    char path[4096];
    memset(cr, 0, sizeof *cr);
    if (!profile && ak && *ak && sk && *sk) {
        snprintf(cr->access_key_id, sizeof cr->access_key_id, "%s", ak);
        snprintf(cr->secret_access_key, sizeof cr->secret_access_key, "%s", sk);
        snprintf(cr->session_token, sizeof cr->session_token, "%s", tok ? tok : "");
        return 1;
    }
    int explicit_profile = profile != NULL;
    if (!profile && getenv("AWS_PROFILE") && *getenv("AWS_PROFILE")) {
        profile = getenv("AWS_PROFILE");
        explicit_profile = 1;
    }
    if (!profile)
        profile = "default";
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
    if (file && *file)
        snprintf(path, sizeof path, "%s", file);
    else if (getenv("HOME"))
        snprintf(path, sizeof path, "%s/.aws/credentials", getenv("HOME"));
    else
        path[0] = 0;
    int rc = path[0] ? read_profile(path, profile, cr, err) : 0;
    if (rc == 0 && explicit_profile) {
        set_err(err, 0, "CredentialsError", "profile %s not found in %s", profile,
                path[0] ? path : "~/.aws/credentials");
        rc = -1;
    }
    if (rc <= 0) {
        client_error keep;
        if (err)
            keep = *err;
        memset(cr, 0, sizeof *cr);
        if (err)
            *err = keep;
    }
    return rc;
}

/* ---------- the client ---------- */

client *client_new(const client_config *cfg, client_error *err) {
    client *c = calloc(1, sizeof *c);
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    int ok = 0;
    if (!c) {
        set_err(err, 0, "InternalFailure", "out of memory");
        return NULL;
    }
    if (!cfg->endpoint || strlen(cfg->endpoint) >= sizeof c->endpoint - 256) {
        set_err(err, 0, "UsageError", "the endpoint URL is missing or too long");
        goto out;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(c->curl = curl_easy_init()) ||
        !(u = curl_url())) {
        set_err(err, 0, "InternalFailure", "cannot initialise libcurl");
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, cfg->endpoint, 0) ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) ||
        (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
        set_err(err, 0, "UsageError", "endpoint %s: not an http:// or https:// URL", cfg->endpoint);
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    snprintf(c->endpoint, sizeof c->endpoint, "%s://%s%s%s", scheme, host, port ? ":" : "",
             port ? port : "");
    snprintf(c->host, sizeof c->host, "%s%s%s", host, port ? ":" : "", port ? port : "");
    snprintf(c->base_path, sizeof c->base_path, "%s", path && strcmp(path, "/") ? path : "");
    size_t bl = strlen(c->base_path);
    if (bl && c->base_path[bl - 1] == '/')
        c->base_path[bl - 1] = 0;
    snprintf(c->region, sizeof c->region, "%s", cfg->region ? cfg->region : "us-east-1");
    if (cfg->cr && cfg->cr->access_key_id[0]) {
        c->cr = *cfg->cr;
        c->sign = 1;
    }
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS;
    ok = 1;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    if (!ok) {
        client_free(c);
        c = NULL;
    }
    return c;
}

void client_free(client *c) {
    if (!c)
        return;
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        curl_global_cleanup();
    }
    memset(&c->cr, 0, sizeof c->cr);
    free(c);
}

const char *client_endpoint(const client *c) {
    return c->endpoint;
}

void client_response_clear(client_response *r) {
    free(r->body);
    memset(r, 0, sizeof *r);
}

const char *client_response_header(const client_response *r, const char *name) {
    for (int i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name))
            return r->headers[i].value;
    return NULL;
}

int client_query_escape(const char *s, char *out, size_t cap) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            if (o + 1 >= cap)
                return -1;
            out[o++] = (char)ch;
        } else {
            if (o + 3 >= cap)
                return -1;
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    if (o >= cap)
        return -1;
    out[o] = 0;
    return 0;
}

typedef struct {
    client_response *r;
    int too_large;
} sink;

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    sink *s = ud;
    size_t len = size * n;
    if (s->r->len + len > CLIENT_MAX_RESPONSE) {
        s->too_large = 1;
        return 0;
    }
    char *nb = realloc(s->r->body, s->r->len + len + 1);
    if (!nb)
        return 0;
    memcpy(nb + s->r->len, data, len);
    s->r->body = nb;
    s->r->len += len;
    nb[s->r->len] = 0;
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
    sink *s = ud;
    client_response *r = s->r;
    size_t len = size * n;
    if (len >= 2 && (data[0] == 'x' || data[0] == 'X') && data[1] == '-' &&
        r->nheaders < CLIENT_RESP_HEADERS) {
        const char *colon = memchr(data, ':', len);
        if (colon && (size_t)(colon - data) < sizeof r->headers[0].name) {
            size_t nl = (size_t)(colon - data);
            for (size_t i = 0; i < nl; i++)
                r->headers[r->nheaders].name[i] = (char)tolower((unsigned char)data[i]);
            r->headers[r->nheaders].name[nl] = 0;
            const char *v = colon + 1, *end = data + len;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
                end--;
            size_t vl = (size_t)(end - v);
            if (vl >= sizeof r->headers[0].value)
                vl = sizeof r->headers[0].value - 1;
            memcpy(r->headers[r->nheaders].value, v, vl);
            r->headers[r->nheaders].value[vl] = 0;
            r->nheaders++;
        }
    }
    return len;
}

/* Strips the namespace ("a.b#Code") and the suffix ("Code:http://...") AWS
 * may put around an error code. */
static void clean_code(const char *in, char *out, size_t cap) {
    const char *hash = strrchr(in, '#');
    if (hash)
        in = hash + 1;
    size_t n = strcspn(in, ":");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, in, n);
    out[n] = 0;
}

/* Fills *err from an error response. */
static void decode_error(const client_response *r, client_error *err) {
    json_t *js = r->body && r->len ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    const char *code = NULL, *msg = NULL;
    if (json_is_object(js)) {
        code = json_string_value(json_object_get(js, "__type"));
        if (!code)
            code = json_string_value(json_object_get(js, "code"));
        if (!code)
            code = json_string_value(json_object_get(js, "Code"));
        msg = json_string_value(json_object_get(js, "message"));
        if (!msg)
            msg = json_string_value(json_object_get(js, "Message"));
    }
    if (!code)
        code = client_response_header(r, "x-amzn-errortype");
    char clean[128];
    clean_code(code ? code : "HttpError", clean, sizeof clean);
    if (msg)
        set_err(err, r->status, clean, "%s", msg);
    else
        set_err(err, r->status, clean, "HTTP %d: %.200s", r->status,
                r->body && !js ? r->body : "no message");
    json_decref(js);
}

/* Performs one request; `target` is the X-Amz-Target value or NULL; `ctype`
 * NULL for a GET. */
static client_status perform(client *c, const char *method, const char *path, const char *query,
                             const char *ctype, const char *target, const char *body,
                             size_t body_len, client_response *resp, client_error *err) {
    char url[CLIENT_MAX_URL], full_path[CLIENT_MAX_URL], amz_date[SIGV4_DATE_LEN + 1];
    char authz[SIGV4_AUTHZ_MAX], line[CLIENT_TOKEN_MAX + 64];
    struct curl_slist *hl = NULL;
    client_status rc = CLIENT_ECONN;
    sink s = {resp, 0};
    err_t se = {0};
    memset(resp, 0, sizeof *resp);
    int n = snprintf(full_path, sizeof full_path, "%s%s", c->base_path, path);
    if (n < 0 || (size_t)n >= sizeof full_path ||
        (size_t)snprintf(url, sizeof url, "%s%s%s%s", c->endpoint, full_path,
                         query && *query ? "?" : "", query ? query : "") >= sizeof url) {
        set_err(err, 0, "UsageError", "request URL too long");
        return CLIENT_EUSAGE;
    }
    sigv4_header h[6];
    size_t nh = 0;
    h[nh++] = (sigv4_header){"Host", c->host};
    if (ctype)
        h[nh++] = (sigv4_header){"Content-Type", ctype};
    if (target)
        h[nh++] = (sigv4_header){"X-Amz-Target", target};
    if (c->sign) {
        if (sigv4_format_date(time(NULL), amz_date)) {
            set_err(err, 0, "InternalFailure", "cannot format the request date");
            return CLIENT_EUSAGE;
        }
        h[nh++] = (sigv4_header){"X-Amz-Date", amz_date};
        if (c->cr.session_token[0])
            h[nh++] = (sigv4_header){"X-Amz-Security-Token", c->cr.session_token};
        sigv4_request sr = {method, full_path, query, h, nh, body, body_len};
        if (sigv4_sign(&sr, c->cr.access_key_id, c->cr.secret_access_key, c->region, CLIENT_SERVICE,
                       authz, sizeof authz, &se)) {
            set_err(err, 0, "SigningError", "cannot sign the request: %s", se.msg);
            return CLIENT_EUSAGE;
        }
    }
    for (size_t i = 0; i < nh; i++) {
        snprintf(line, sizeof line, "%s: %s", h[i].name, h[i].value);
        struct curl_slist *nl = curl_slist_append(hl, line);
        if (!nl)
            goto oom;
        hl = nl;
    }
    if (c->sign) {
        snprintf(line, sizeof line, "Authorization: %s", authz);
        struct curl_slist *nl = curl_slist_append(hl, line);
        if (!nl)
            goto oom;
        hl = nl;
    }
    {
        struct curl_slist *nl = curl_slist_append(hl, "Expect:");
        if (!nl)
            goto oom;
        hl = nl;
    }
    CURL *k = c->curl;
    curl_easy_reset(k);
    curl_easy_setopt(k, CURLOPT_URL, url);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(k, CURLOPT_USERAGENT, "openhpo-cli/1");
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(k, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(k, CURLOPT_HEADERDATA, &s);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(k, CURLOPT_POST, 1L);
        curl_easy_setopt(k, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else {
        curl_easy_setopt(k, CURLOPT_HTTPGET, 1L);
    }
    CURLcode cc = curl_easy_perform(k);
    if (cc != CURLE_OK) {
        if (s.too_large)
            set_err(err, 0, "ResponseTooLarge", "the response from %s exceeds %d bytes",
                    c->endpoint, CLIENT_MAX_RESPONSE);
        else
            set_err(err, 0, "ConnectionError", "cannot reach %s: %s", c->endpoint,
                    curl_easy_strerror(cc));
        rc = CLIENT_ECONN;
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &status);
    resp->status = (int)status;
    if (!resp->body && !(resp->body = calloc(1, 1)))
        goto oom;
    if (status < 200 || status > 299) {
        decode_error(resp, err);
        rc = CLIENT_ESERVICE;
        goto out;
    }
    rc = CLIENT_OK;
    goto out;
oom:
    set_err(err, 0, "InternalFailure", "out of memory");
    rc = CLIENT_ECONN;
out:
    curl_slist_free_all(hl);
    explicit_bzero(authz, sizeof authz);
    if (rc != CLIENT_OK)
        client_response_clear(resp);
    return rc;
}

client_status client_call(client *c, api_flavor fl, const char *op, const json_t *body,
                          json_t **out, client_error *err) {
    char path[256], target[256];
    client_response r = {0};
    char *text = json_dumps(body, JSON_COMPACT);
    client_status rc;
    *out = NULL;
    if (!text) {
        set_err(err, 0, "InternalFailure", "cannot encode the request");
        return CLIENT_EUSAGE;
    }
    if (fl == API_2017) {
        snprintf(path, sizeof path, "/%s", op);
        rc = perform(c, "POST", path, NULL, "application/json", NULL, text, strlen(text), &r, err);
    } else {
        snprintf(target, sizeof target, "SageMaker.%s", op);
        rc = perform(c, "POST", "/", NULL, "application/x-amz-json-1.1", target, text, strlen(text),
                     &r, err);
    }
    if (rc)
        goto out;
    if (r.len == 0) {
        *out = json_object();
    } else {
        json_error_t je;
        *out = json_loadb(r.body, r.len, 0, &je);
        if (!*out) {
            set_err(err, r.status, "BadResponse", "the answer of %s is not JSON: %s", op, je.text);
            rc = CLIENT_ECONN;
        }
    }
out:
    free(text);
    client_response_clear(&r);
    return rc;
}

client_status client_get(client *c, const char *path, const char *query, client_response *resp,
                         client_error *err) {
    return perform(c, "GET", path, query, NULL, NULL, NULL, 0, resp, err);
}
