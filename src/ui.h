/* ui — the dashboard under /ui/: its embedded files, its JSON endpoints,
 * sign-in (docs/DASHBOARD.md has the contract).
 *
 * The router (api.c) hands every request whose path is /ui or under /ui/
 * to ui_handle(), before SigV4 authentication: a browser cannot sign
 * requests, so the dashboard has its own sign-in. With credentials
 * (`hpod --credentials`), every endpoint but the files, /ui/api/session
 * and /ui/api/login needs a session cookie (ui_session.h: HMAC-signed,
 * HttpOnly, SameSite=Strict, 12 h, random key per daemon), and shows only
 * the signed-in account's jobs; without them there is no sign-in and the
 * account is AUTH_DEFAULT_ACCOUNT, as on the API (hpod then listens on
 * loopback only unless --insecure), and requests must name a loopback
 * Host (127.0.0.1, [::1], localhost), so a page of another site that has
 * its name resolve to 127.0.0.1 (DNS rebinding) reads nothing.
 *
 * Writes (POST) need a JSON Content-Type (which a cross-site form cannot
 * send without a CORS preflight hpod never grants), no cross-site Origin
 * or Sec-Fetch-Site, and, when signed in, the header X-CSRF-Token equal to
 * the session's token. The stop runs StopHyperParameterTuningJob itself
 * (api_current_stop_tuning). Everything runs on the loop thread. */
#ifndef OPENHPO_UI_H
#define OPENHPO_UI_H

#include "api_ops.h"
#include "credentials.h"
#include "http.h"

#define UI_PREFIX "/ui"
#define UI_LOG_CHUNK (64 * 1024) /* bytes of log per /ui/api/training-jobs/<name>/log */
#define UI_COOKIE "hpo_session"
/* Sign-in attempts per client address: a bucket of UI_LOGIN_BURST refilled
 * at UI_LOGIN_RATE a second (throttle.h); past it, 429. */
#define UI_LOGIN_RATE 0.5
#define UI_LOGIN_BURST 10

typedef struct ui ui;

typedef struct {
    const api_env *env;       /* borrowed: store, engine (the stop, the logs) */
    const credentials *creds; /* borrowed; NULL = no sign-in */
    const char *data_dir;     /* the store's directory (ui_data reads openhpo.db) */
} ui_config;

/* Caller frees with ui_free(). NULL with e set. */
ui *ui_new(const ui_config *cfg, err_t *e);
void ui_free(ui *u);

/* 1 when `path` is /ui or under /ui/. */
int ui_owns(const char *path);

/* Answers one request under /ui (fills resp). */
void ui_handle(ui *u, const http_request *req, http_response *resp);

#endif
