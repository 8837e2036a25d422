/* telemetry — every series hpod exports at GET /metrics, in the Prometheus
 * text exposition format (version 0.0.4), one home for them all.
 *
 * TELEMETRY_SERIES is the table of the series: name, type, label names and
 * help text; nothing is exported that is not in it, and docs/METRICS.md
 * describes each row. Not to be confused with metrics.h, the metric regexes
 * applied to training logs.
 *
 * Two kinds of values:
 *   - counters and histograms, recorded where the event happens (the API's
 *     requests in api.c, launches and ends in trial.c, suggestion timings in
 *     engine.c: measured on the worker, recorded by its done() on the loop).
 *     They live in a process-wide registry guarded by one mutex, so a record
 *     call is safe from any thread. Counters start at 0 when hpod starts
 *     (Prometheus' rate() and increase() handle the reset).
 *   - gauges (jobs by status, store size, running vs --max-running), read at
 *     scrape time from the store and the engine (telemetry_collect): cheap
 *     queries (an index or the counters' table, no scan of the training
 *     jobs).
 *
 * Label values are bounded: statuses and backends come from their tables,
 * operations from the API's operation table, failure reasons from
 * TELEMETRY_REASONS (a class, never the FailureReason text), codes are HTTP
 * status codes. A series keeps at most TELEMETRY_CELLS_MAX label sets;
 * further ones are counted under the label value "other".
 *
 * Access: GET /metrics carries counts only (no names, accounts,
 * hyperparameters). It is not signed (a Prometheus server cannot SigV4-sign);
 * when hpod is given --metrics-token-file, a scrape must send
 * "Authorization: Bearer <token>" (telemetry_serve). */
#ifndef OPENHPO_TELEMETRY_H
#define OPENHPO_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "http.h"
#include "store.h"

/* Caps. */
#define TELEMETRY_CELLS_MAX 128      /* label sets per counter / histogram series */
#define TELEMETRY_LABEL_MAX 64       /* bytes of a label value, NUL included */
#define TELEMETRY_GAUGES_MAX 256     /* gauge samples of one scrape */
#define TELEMETRY_BODY_MAX (1 << 20) /* bytes of a /metrics answer */
#define TELEMETRY_TOKEN_MAX 256      /* bytes of the --metrics-token-file token */
#define TELEMETRY_OTHER "other"      /* label value past TELEMETRY_CELLS_MAX */
#define TELEMETRY_PATH "/metrics"    /* the route (api.c) */
#define TELEMETRY_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Histogram bucket upper bounds, seconds (one list for every histogram:
 * API requests take 0.1 ms to a second, a suggestion a millisecond to tens
 * of seconds). "+Inf" is implied. */
#define TELEMETRY_BUCKETS                                                                          \
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
#define TELEMETRY_NBUCKETS 15

typedef enum { TELEMETRY_GAUGE, TELEMETRY_COUNTER, TELEMETRY_HISTOGRAM } telemetry_type;

/* clang-format off */
/* X(id, name, type, labels ("a,b", at most two; "" none), help) */
#define TELEMETRY_SERIES(X)                                                                        \
    X(TM_TUNING_JOBS, "openhpo_tuning_jobs", TELEMETRY_GAUGE, "status",                            \
      "Tuning jobs in the store by status (deleted ones and the wrappers of standalone training "  \
      "jobs excluded).")                                                                           \
    X(TM_TRAINING_JOBS, "openhpo_training_jobs", TELEMETRY_GAUGE, "status",                        \
      "Training jobs in the store by status.")                                                     \
    X(TM_TRAINING_ACTIVE, "openhpo_training_jobs_active", TELEMETRY_GAUGE, "backend,status",      \
      "Training jobs the engine holds now (not final) by backend and status.")                     \
    X(TM_RUNNING, "openhpo_training_jobs_running", TELEMETRY_GAUGE, "",                            \
      "Training jobs starting or running now, counted against --max-running.")                     \
    X(TM_MAX_RUNNING, "openhpo_training_jobs_max_running", TELEMETRY_GAUGE, "",                    \
      "Training jobs that may run at once on this machine (--max-running).")                       \
    X(TM_STORE_BYTES, "openhpo_store_size_bytes", TELEMETRY_GAUGE, "",                             \
      "Size of the database (page_count x page_size), bytes.")                                     \
    X(TM_START_TIME, "openhpo_start_time_seconds", TELEMETRY_GAUGE, "",                            \
      "When this hpod started, seconds since the epoch.")                                          \
    X(TM_LAUNCHED, "openhpo_training_jobs_launched_total", TELEMETRY_COUNTER, "backend",           \
      "Training job starts that succeeded (relaunches included) by backend.")                      \
    X(TM_RETRIED, "openhpo_training_jobs_retried_total", TELEMETRY_COUNTER, "backend",             \
      "Training jobs relaunched after a failure for the platform's sake by backend.")              \
    X(TM_ENDED, "openhpo_training_jobs_ended_total", TELEMETRY_COUNTER, "backend,status",          \
      "Training jobs that reached a final status by backend and status.")                          \
    X(TM_FAILED, "openhpo_training_jobs_failed_total", TELEMETRY_COUNTER, "backend,reason",        \
      "Training jobs that failed by backend and reason class (docs/METRICS.md).")                  \
    X(TM_SUGGEST, "openhpo_suggestion_duration_seconds", TELEMETRY_HISTOGRAM, "strategy",          \
      "Time a strategy took to suggest the next hyperparameters (on the worker) by strategy.")     \
    X(TM_API_REQUESTS, "openhpo_api_requests_total", TELEMETRY_COUNTER, "operation,code",          \
      "API requests answered by operation and HTTP status code.")                                  \
    X(TM_API_SECONDS, "openhpo_api_request_duration_seconds", TELEMETRY_HISTOGRAM, "operation",    \
      "Time hpod took to answer an API request (from its whole body to its answer) by operation.")

/* The reason classes of openhpo_training_jobs_failed_total:
 * X(id, label value, what it means). */
#define TELEMETRY_REASONS(X)                                                                       \
    X(TELEMETRY_REASON_START, "start",                                                             \
      "could not be started: policy, image, job directory, input download or the backend's start") \
    X(TELEMETRY_REASON_EXIT, "exit_code", "the training program exited with a code other than 0")  \
    X(TELEMETRY_REASON_SIGNAL, "signal", "the training program was killed by a signal")            \
    X(TELEMETRY_REASON_REPORTED, "reported",                                                       \
      "the training program failed and wrote its reason to output/failure")                        \
    X(TELEMETRY_REASON_BACKEND, "backend", "the backend reported an error running the program")   \
    X(TELEMETRY_REASON_ARTIFACTS, "artifacts",                                                     \
      "the program succeeded but its model could not be packed or stored")                         \
    X(TELEMETRY_REASON_INFRASTRUCTURE, "infrastructure",                                           \
      "lost, or failed for the platform's sake, more times than its retries allow")                \
    X(TELEMETRY_REASON_UNRECORDED, "result_unwritable",                                            \
      "it ended but its result could not be recorded (disk full)")
/* clang-format on */

typedef enum {
#define X(id, name, type, labels, help) id,
    TELEMETRY_SERIES(X)
#undef X
        TM_NSERIES
} telemetry_series;

typedef enum {
#define X(id, label, what) id,
    TELEMETRY_REASONS(X)
#undef X
        TELEMETRY_NREASONS
} telemetry_reason;

/* The label value of a reason class (static). */
const char *telemetry_reason_label(telemetry_reason r);

/* ---- recording (any thread; label strings are copied) ---- */

/* Monotonic seconds, for timing what is recorded below. */
double telemetry_clock(void);
/* An API request answered: its operation (NULL: "Unknown"), HTTP status. */
void telemetry_api_request(const char *operation, int code, double seconds);
/* A suggestion computed by `strategy` (its Strategy name). */
void telemetry_suggestion(const char *strategy, double seconds);
/* A training job started on `backend` (its registry name). */
void telemetry_launched(const char *be);
/* A training job relaunched after a failure for the platform's sake. */
void telemetry_retried(const char *be);
/* A training job reached final status `status` (stored text); when it is
 * "Failed", `why` is its reason class. */
void telemetry_ended(const char *be, const char *status, telemetry_reason why);
/* Forgets every recorded value (tests). */
void telemetry_reset(void);

/* ---- exposition ---- */

/* One gauge sample: its series, label values (as many as the series has;
 * borrowed), value. */
typedef struct {
    telemetry_series id;
    const char *labels[2];
    double value;
} telemetry_sample;

/* The gauges of one scrape. */
typedef struct {
    telemetry_sample s[TELEMETRY_GAUGES_MAX];
    size_t n;
    char text[2 * TELEMETRY_GAUGES_MAX][TELEMETRY_LABEL_MAX]; /* room for copied label values */
    size_t ntext;
} telemetry_gauges;

/* Adds (or, for the same series and labels, sets) a gauge sample; label
 * values are copied. Past TELEMETRY_GAUGES_MAX samples it is dropped. */
void telemetry_gauge(telemetry_gauges *g, telemetry_series id, const char *l0, const char *l1,
                     double value);

/* Fills g from the store (jobs by status, size) and the engine (its jobs by
 * backend and status, running, the cap), both borrowed; on the loop thread.
 * 0, or the store's err_code (g then holds what was read). */
int telemetry_collect(store *st, const engine *en, telemetry_gauges *g);

/* Renders every series of the table, in its order: the gauges of g (may be
 * NULL) and the recorded counters and histograms. A NUL-terminated text the
 * caller frees with free(), its length in *len; NULL when out of memory or
 * over TELEMETRY_BODY_MAX. */
char *telemetry_render(const telemetry_gauges *g, size_t *len);

/* ---- the endpoint ---- */

/* Reads the bearer token of --metrics-token-file: the file's first line,
 * printable ASCII, 16..TELEMETRY_TOKEN_MAX-1 bytes; the file must not be
 * readable by others (like --credentials). 0, or -1 with a message in e. */
int telemetry_load_token(const char *path, char out[TELEMETRY_TOKEN_MAX], err_t *e);

/* Answers GET /metrics: 405 for another method, 401 when `token` is
 * non-empty and the request's "Authorization: Bearer" differs (compared in
 * constant time), 503 when the store cannot be read, else 200 with the
 * exposition. st and en borrowed. */
void telemetry_serve(store *st, const engine *en, const char *token, const http_request *req,
                     http_response *resp);

#endif
