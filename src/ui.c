/* ui — the dashboard's routes: embedded files, sign-in, the JSON
 * endpoints of docs/DASHBOARD.md (built by ui_data), the stop and the log
 * tail (see ui.h for the security rules). */
#include "ui.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "status.h"
#include "throttle.h"
#include "ui_assets.h"
#include "ui_data.h"
#include "ui_session.h"
#include "util.h"

#define API_PREFIX UI_PREFIX "/api/"
#define NAME_MAX_LEN 63 /* a job name of the APIs: [A-Za-z0-9-], 1-63 */

struct ui {
    ui_config cfg;
    ui_data *data;
    ui_session *sess;
    throttle *logins; /* sign-in attempts by client address (its own mutex) */
};

ui *ui_new(const ui_config *cfg, err_t *e) {
    ui *u = calloc(1, sizeof *u);
    if (!u) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    u->cfg = *cfg;
    if (!(u->data = ui_data_open(cfg->data_dir, e)))
        goto fail;
    if (!(u->sess = ui_session_new(NULL))) {
        err_set(e, ERR_INTERNAL, "cannot make the dashboard's session key");
        goto fail;
    }
    if (!(u->logins = throttle_new(UI_LOGIN_RATE, UI_LOGIN_BURST))) {
        err_set(e, ERR_INTERNAL, "out of memory");
        goto fail;
    }
    return u;
fail:
    ui_free(u);
    return NULL;
}

void ui_free(ui *u) {
    if (!u)
        return;
    ui_data_close(u->data);
    ui_session_free(u->sess);
    throttle_free(u->logins);
    free(u);
}

int ui_owns(const char *path) {
    size_t n = strlen(UI_PREFIX);
    return !strncmp(path, UI_PREFIX, n) && (path[n] == 0 || path[n] == '/');
}

/* ---- answers ---- */

static void security_headers(http_response *resp) {
    http_response_header(resp, "X-Content-Type-Options", "nosniff");
    http_response_header(resp, "X-Frame-Options", "DENY");
    http_response_header(resp, "Referrer-Policy", "no-referrer");
}

/* Writes `o` (stolen) as the JSON answer. */
static void reply(http_response *resp, int status, json_t *o) {
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        status = 500;
        text = strdup("{\"error\":\"out of memory\"}");
    }
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = text;
    resp->body_len = text ? strlen(text) : 0;
    http_response_header(resp, "Cache-Control", "no-store");
    security_headers(resp);
}

static void reply_err(http_response *resp, int status, const char *msg) {
    reply(resp, status, json_pack("{s:s}", "error", msg));
}

/* The HTTP status of an err_code (the 2017 API's table: 400/403/404/5xx). */
static void reply_e(http_response *resp, const err_t *e) {
    err_code c = e->code == ERR_OK ? ERR_INTERNAL : e->code;
    int status = c == ERR_THROTTLING ? 429 : err_status(c, API_2017);
    reply_err(resp, status, e->msg[0] ? e->msg : "internal error");
}

/* ---- files ---- */

static const char *content_type_of(const char *path) {
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".woff", "font/woff"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (!strcasecmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

static const ui_asset *find_asset(const char *rel) {
    for (size_t i = 0; i < ui_assets_count; i++)
        if (!strcmp(ui_assets[i].path, rel))
            return &ui_assets[i];
    return NULL;
}

static void serve_file(const http_request *req, http_response *resp) {
    const char *rel = req->path + strlen(UI_PREFIX "/");
    const ui_asset *a;
    if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
        reply_err(resp, 405, "the dashboard's files are read with GET");
        return;
    }
    if (!strncmp(rel, "assets/", 7)) {
        if (!(a = find_asset(rel))) {
            reply_err(resp, 404, "no such file");
            return;
        }
    } else if (!(a = find_asset(rel)) || !*rel) {
        a = find_asset("index.html"); /* hash routing: every page is index.html */
    }
    if (!a) {
        reply_err(resp, 404, "no such file");
        return;
    }
    security_headers(resp);
    http_response_header(resp, "Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; style-src 'self' "
                         "'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
    /* Revalidated on each load (names are not content-hashed), cheap by ETag. */
    http_response_header(resp, "Cache-Control", "no-cache");
    http_response_header(resp, "ETag", a->etag);
    const char *inm = http_header(req, "If-None-Match");
    if (inm && strstr(inm, a->etag)) {
        resp->status = 304;
        return;
    }
    if (!(resp->body = malloc(a->len ? a->len : 1))) {
        reply_err(resp, 500, "out of memory");
        return;
    }
    memcpy(resp->body, a->data, a->len);
    resp->body_len = a->len;
    resp->status = 200;
    resp->content_type = content_type_of(a->path);
}

/* ---- who is calling ---- */

typedef struct {
    int signed_in;
    char account[UI_SESSION_ACCOUNT_MAX];
    char access_key[UI_SESSION_ACCESS_KEY_MAX];
    char cookie[UI_SESSION_VALUE_MAX]; /* the verified cookie value */
} caller;

/* The value of cookie `name` in a Cookie header, into out[cap]; 0 or -1. */
static int cookie_value(const char *header, const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > n && !strncmp(p, name, n) && p[n] == '=') {
            if (len - n - 1 >= cap)
                return -1;
            memcpy(out, p + n + 1, len - n - 1);
            out[len - n - 1] = 0;
            return 0;
        }
        p = end;
    }
    return -1;
}

static void identify(const ui *u, const http_request *req, caller *c) {
    const char *acct = NULL;
    memset(c, 0, sizeof *c);
    if (!u->cfg.creds) {
        snprintf(c->account, sizeof c->account, "%s", AUTH_DEFAULT_ACCOUNT);
        return;
    }
    if (cookie_value(http_header(req, "Cookie"), UI_COOKIE, c->cookie, sizeof c->cookie) ||
        ui_session_verify(u->sess, c->cookie, (int64_t)util_now(), c->account, c->access_key) ||
        credentials_lookup(u->cfg.creds, c->access_key, NULL, &acct) != ERR_OK ||
        strcmp(acct, c->account)) {
        memset(c, 0, sizeof *c);
        return;
    }
    c->signed_in = 1;
}

/* A Host naming this machine's loopback: 127.x.x.x, [::1] or localhost,
 * with or without a port. */
static int loopback_host(const char *host) {
    char h[256];
    if (!host || strlen(host) >= sizeof h)
        return 0;
    snprintf(h, sizeof h, "%s", host);
    if (h[0] == '[') {
        char *close = strchr(h, ']');
        if (!close)
            return 0;
        *close = 0;
        return !strcmp(h + 1, "::1");
    }
    char *colon = strchr(h, ':');
    if (colon)
        *colon = 0;
    return !strcasecmp(h, "localhost") || !strncmp(h, "127.", 4);
}

/* The checks of every write (see ui.h). 0, or the status with *msg. */
static int check_write(const http_request *req, const char **msg) {
    const char *origin = http_header(req, "Origin"), *host = http_header(req, "Host");
    const char *site = http_header(req, "Sec-Fetch-Site");
    if (!http_json_content_type(http_header(req, "Content-Type"))) {
        *msg = "Content-Type must be application/json";
        return 400;
    }
    if (req->body_too_large) {
        *msg = "request body too large";
        return 400;
    }
    if (site && strcmp(site, "same-origin") && strcmp(site, "none")) {
        *msg = "cross-site request refused";
        return 403;
    }
    if (origin) {
        const char *rest = !strncmp(origin, "http://", 7) ? origin + 7 : NULL;
        if (!rest || !host || strcasecmp(rest, host)) {
            *msg = "cross-origin request refused";
            return 403;
        }
    }
    return 0;
}

static json_t *session_json(const ui *u, const caller *c) {
    char csrf[UI_SESSION_CSRF_MAX];
    int have = c->signed_in && ui_session_csrf(u->sess, c->cookie, csrf) == 0;
    int shown = !u->cfg.creds || c->signed_in;
    return json_pack("{s:b, s:b, s:o, s:o}", "auth_required", u->cfg.creds != NULL, "signed_in",
                     c->signed_in, "account", shown ? json_string(c->account) : json_null(), "csrf",
                     have ? json_string(csrf) : json_null());
}

static void login(ui *u, const http_request *req, http_response *resp) {
    json_error_t je;
    json_t *body = NULL;
    const char *secret = NULL, *acct = NULL;
    char cookie[UI_SESSION_VALUE_MAX], header[HTTP_HEADER_VALUE_MAX];
    char peer[THROTTLE_KEY_MAX + 1];
    if (!u->cfg.creds) {
        reply_err(resp, 400, "sign-in is not enabled (hpod runs without --credentials)");
        goto out;
    }
    snprintf(peer, sizeof peer, "login:%s", req->peer ? req->peer : "?");
    if (throttle_take(u->logins, peer, util_now()) == ERR_THROTTLING) {
        reply_err(resp, 429, "too many sign-in attempts; wait a few seconds");
        goto out;
    }
    body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    const char *key = json_string_value(json_object_get(body, "access_key"));
    const char *given = json_string_value(json_object_get(body, "secret"));
    if (!json_is_object(body) || !key || !given) {
        reply_err(resp, 400, "expected {\"access_key\": \"...\", \"secret\": \"...\"}");
        goto out;
    }
    if (credentials_lookup(u->cfg.creds, key, &secret, &acct) != ERR_OK ||
        !ui_session_equal(secret, given)) {
        log_info("ui: sign-in refused (access key %.32s)", key);
        reply_err(resp, 401, "wrong access key or secret");
        goto out;
    }
    if (ui_session_sign(u->sess, acct, key, (int64_t)util_now() + UI_SESSION_TTL_S, cookie)) {
        reply_err(resp, 500, "cannot sign the session");
        goto out;
    }
    snprintf(header, sizeof header, "%s=%s; HttpOnly; SameSite=Strict; Path=%s; Max-Age=%d",
             UI_COOKIE, cookie, UI_PREFIX, UI_SESSION_TTL_S);
    caller c = {.signed_in = 1};
    snprintf(c.account, sizeof c.account, "%s", acct);
    snprintf(c.cookie, sizeof c.cookie, "%s", cookie);
    log_info("ui: account %s signed in (access key %.32s)", acct, key);
    reply(resp, 200, session_json(u, &c));
    http_response_header(resp, "Set-Cookie", header);
out:
    json_decref(body);
}

static void logout(http_response *resp) {
    reply(resp, 200, json_pack("{s:b}", "signed_in", 0));
    http_response_header(resp, "Set-Cookie",
                         UI_COOKIE "=; HttpOnly; SameSite=Strict; Path=" UI_PREFIX "; Max-Age=0");
}

/* ---- the JSON endpoints ---- */

/* A job name as the APIs allow ([A-Za-z0-9-], 1-63): safe in paths. */
static int plain_name(const char *s, size_t n) {
    if (n == 0 || n > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

/* Splits "<collection>/<name>[/<action>]" of rest: 0, or -1 when not that shape. */
static int split_path(const char *rest, const char *collection, char name[NAME_MAX_LEN + 1],
                      const char **action) {
    size_t n = strlen(collection);
    if (strncmp(rest, collection, n) || rest[n] != '/')
        return -1;
    const char *p = rest + n + 1, *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (!plain_name(p, len))
        return -1;
    memcpy(name, p, len);
    name[len] = 0;
    *action = slash ? slash + 1 : "";
    return 0;
}

static void stop_tuning(ui *u, const caller *c, const http_request *req, const char *name,
                        http_response *resp) {
    json_t *body = json_pack("{s:s}", "HyperParameterTuningJobName", name), *out = NULL;
    err_t e = {0};
    api_call call = {.env = u->cfg.env,
                     .api = API_CURRENT,
                     .op = "StopHyperParameterTuningJob",
                     .account = c->account,
                     .authenticated = c->signed_in,
                     .body = body,
                     .req = req};
    if (!body) {
        reply_err(resp, 500, "out of memory");
        return;
    }
    if (api_current_stop_tuning(&call, &out, &e))
        reply_e(resp, &e);
    else {
        log_info("ui: account %s stops tuning job %s", c->account, name);
        reply(resp, 200, json_pack("{s:s}", "status", "Stopping"));
    }
    json_decref(out);
    json_decref(body);
}

/* Copies n bytes of in as valid UTF-8 (invalid bytes and NULs become
 * U+FFFD); a sequence cut at the end is left for the next read unless
 * `last`: *used = the bytes consumed. Caller frees. */
static char *utf8_clean(const char *in, size_t n, int last, size_t *used) {
    char *out = malloc(3 * n + 1), *o = out;
    size_t i = 0;
    if (!out)
        return NULL;
    while (i < n) {
        size_t len = ui_utf8_seq(in + i, n - i);
        if (!len && !last) {
            /* Maybe a sequence cut by the read: is it a valid prefix? */
            unsigned char b = (unsigned char)in[i];
            size_t want = (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
            int prefix = want > n - i && b >= 0xC2 && b <= 0xF4;
            for (size_t k = 1; prefix && i + k < n; k++)
                prefix = ((unsigned char)in[i + k] & 0xC0) == 0x80;
            if (prefix)
                break; /* the rest comes with the next read */
        }
        if (len && in[i]) {
            memcpy(o, in + i, len);
            o += len;
            i += len;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    *o = 0;
    *used = i;
    return out;
}

static void log_tail(ui *u, const caller *c, const http_request *req, const char *name,
                     http_response *resp) {
    store_training t = {0};
    const char *off_s = http_query(req, "offset");
    char *buf = NULL, *text = NULL, *end;
    long long offset = 0;
    training_status s;
    int rc;
    if (off_s) {
        errno = 0;
        offset = strtoll(off_s, &end, 10);
        if (!*off_s || *end || errno || offset < 0) {
            reply_err(resp, 400, "offset: must be a non-negative integer");
            goto out;
        }
    }
    if ((rc = store_get_training(u->cfg.env->st, c->account, name, &t))) {
        reply_err(resp, rc == ERR_NOT_FOUND ? 404 : 500,
                  rc == ERR_NOT_FOUND ? "no training job of that name" : "cannot read the store");
        goto out;
    }
    if (!(buf = malloc(UI_LOG_CHUNK + 1))) {
        reply_err(resp, 500, "out of memory");
        goto out;
    }
    /* Through the backend that runs the job, as the logs endpoint. */
    ssize_t got = engine_read_log(u->cfg.env->en, &t, (int64_t)offset, buf, UI_LOG_CHUNK);
    if (got < 0) {
        reply_err(resp, 500, "cannot read the log");
        goto out;
    }
    int final = training_status_parse(t.status, &s) == 0 && training_status_final(s);
    int at_end = (size_t)got < UI_LOG_CHUNK;
    size_t used = 0;
    if (!(text = utf8_clean(buf, (size_t)got, final && at_end, &used))) {
        reply_err(resp, 500, "out of memory");
        goto out;
    }
    reply(resp, 200,
          json_pack("{s:s, s:I, s:b}", "text", text, "next_offset", (json_int_t)(offset + used),
                    "complete", final && at_end && used == (size_t)got));
out:
    free(text);
    free(buf);
    store_training_clear(&t);
}

static void api_route(ui *u, const http_request *req, http_response *resp) {
    const char *rest = req->path + strlen(API_PREFIX), *action = NULL, *msg = NULL;
    int get = !strcmp(req->method, "GET"), post = !strcmp(req->method, "POST"), status;
    char name[NAME_MAX_LEN + 1];
    json_t *out = NULL;
    err_t e = {0};
    caller c;
    if (!get && !post) {
        reply_err(resp, 405, "the dashboard's endpoints take GET or POST");
        return;
    }
    if (post && (status = check_write(req, &msg))) {
        reply_err(resp, status, msg);
        return;
    }
    identify(u, req, &c);
    if (!strcmp(rest, "session")) {
        if (!get)
            reply_err(resp, 405, "session is read with GET");
        else
            reply(resp, 200, session_json(u, &c));
        return;
    }
    if (!strcmp(rest, "login") || !strcmp(rest, "logout")) {
        if (!post)
            reply_err(resp, 405, "login and logout take POST");
        else if (rest[3] == 'o')
            logout(resp);
        else
            login(u, req, resp);
        return;
    }
    if (u->cfg.creds && !c.signed_in) {
        reply_err(resp, 401, "sign in first");
        return;
    }
    if (post) {
        char csrf[UI_SESSION_CSRF_MAX];
        if (split_path(rest, "tuning-jobs", name, &action) || strcmp(action, "stop")) {
            reply_err(resp,
                      strncmp(rest, "tuning-jobs", 11) && strncmp(rest, "training-jobs", 13) ? 404
                                                                                             : 405,
                      "no such endpoint for POST");
            return;
        }
        if (u->cfg.creds && (ui_session_csrf(u->sess, c.cookie, csrf) ||
                             !ui_session_equal(csrf, http_header(req, "X-CSRF-Token")))) {
            reply_err(resp, 403, "missing or wrong X-CSRF-Token");
            return;
        }
        stop_tuning(u, &c, req, name, resp);
        return;
    }
    if (!strcmp(rest, "tuning-jobs")) {
        if (ui_data_tunings(u->data, c.account, &out, &e))
            reply_e(resp, &e);
        else
            reply(resp, 200, out);
        return;
    }
    if (!split_path(rest, "tuning-jobs", name, &action)) {
        if (!*action) {
            char *text = NULL;
            size_t len = 0;
            if (ui_data_tuning(u->data, c.account, name, &text, &len, &e)) {
                reply_e(resp, &e);
                return;
            }
            resp->status = 200;
            resp->content_type = "application/json";
            resp->body = text;
            resp->body_len = len;
            http_response_header(resp, "Cache-Control", "no-store");
            security_headers(resp);
        } else if (!strcmp(action, "csv")) {
            char *csv = NULL, disp[HTTP_HEADER_VALUE_MAX];
            size_t len = 0;
            if (ui_data_tuning_csv(u->data, c.account, name, &csv, &len, &e)) {
                reply_e(resp, &e);
                return;
            }
            resp->status = 200;
            resp->content_type = "text/csv; charset=utf-8";
            resp->body = csv;
            resp->body_len = len;
            snprintf(disp, sizeof disp, "attachment; filename=\"%s.csv\"", name);
            http_response_header(resp, "Content-Disposition", disp);
            http_response_header(resp, "Cache-Control", "no-store");
            security_headers(resp);
        } else if (!strcmp(action, "stop"))
            reply_err(resp, 405, "stop takes POST");
        else
            reply_err(resp, 404, "no such endpoint");
        return;
    }
    if (!split_path(rest, "training-jobs", name, &action)) {
        if (!*action) {
            if (ui_data_training(u->data, c.account, name, &out, &e))
                reply_e(resp, &e);
            else
                reply(resp, 200, out);
        } else if (!strcmp(action, "log"))
            log_tail(u, &c, req, name, resp);
        else
            reply_err(resp, 404, "no such endpoint");
        return;
    }
    reply_err(resp, 404, "no such endpoint");
}

void ui_handle(ui *u, const http_request *req, http_response *resp) {
    if (!u) {
        reply_err(resp, 503, "the dashboard is not available");
        return;
    }
    if (!u->cfg.creds && !loopback_host(http_header(req, "Host"))) {
        reply_err(resp, 403,
                  "without --credentials the dashboard answers only to a loopback Host "
                  "(127.0.0.1, [::1], localhost)");
        return;
    }
    if (!strcmp(req->path, UI_PREFIX)) {
        resp->status = 301;
        http_response_header(resp, "Location", UI_PREFIX "/");
        return;
    }
    if (!strncmp(req->path, API_PREFIX, strlen(API_PREFIX)))
        api_route(u, req, resp);
    else
        serve_file(req, resp);
}
