/* api — the operations of both APIs, over the engine and the store.
 *
 * The 2017 HPO API is POST /<Operation> with a JSON body; the current
 * SageMaker API is POST / with X-Amz-Target: SageMaker.<Operation>. Each
 * request is checked (content type, size, JSON, the shape model, semantic
 * checks), carried out, and answered in that API's own shapes; every error
 * goes through one writer that maps err.h codes to the API's wire form:
 * header x-amzn-ErrorType and body {"__type": ..., "message": ...}. */
#ifndef OPENHPO_API_H
#define OPENHPO_API_H

#include "auth.h"
#include "engine.h"
#include "http.h"
#include "store.h"

typedef struct api api;

typedef struct {
    store *st;          /* borrowed */
    engine *en;         /* borrowed */
    const char *region; /* for ARNs */
    int hour_seconds;   /* length of an hour for MaxClockTimeInHours (3600; tests shorten it) */
    auth_config auth;   /* who may call (auth.h): credentials and throttle, borrowed */

    /* The store's directory, for the dashboard (ui.h); NULL = no /ui/. */
    const char *data_dir;
} api_config;

/* Caller frees with api_free(). NULL on allocation failure (or when the
 * dashboard cannot open the store: logged). */
api *api_new(const api_config *cfg);
void api_free(api *a);

/* The http_handler of the daemon (ud is the api). */
void api_handle(void *ud, const http_request *req, http_response *resp);

#endif
