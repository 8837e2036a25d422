/* ui_data — the dashboard's JSON (docs/DASHBOARD.md), built from the store.
 *
 * Reads go through a read-only SQLite connection of their own to
 * DATA_DIR/openhpo.db (WAL: they see the last committed state and never
 * block the engine's writes); each endpoint is a fixed, small number of
 * indexed queries, whatever the number of training jobs (no query per
 * job). The schema is store.c's; the column names used here follow it.
 *
 * Everything is scoped to an account: a job of another account is
 * ERR_NOT_FOUND, like an unknown one. Names are looked up as the store
 * does (exact first, then case-insensitively).
 *
 * Hyperparameter importances (ui_importances) are the share of the
 * objective's variance each tuned parameter explains by its binned
 * marginal: the objective values of the finished training jobs are
 * replaced by their ranks (robust to outliers and the same for Minimize
 * and Maximize); for each parameter the jobs are grouped — one group per
 * value of a categorical, equal-count bins (by rank, so scale-free: log
 * ranges bin as linear ones) of a numeric one, UI_IMP_MAX_BINS at most and
 * about sqrt(n) — and the parameter's score is the bias-corrected effect
 * size omega^2 = (SSB - (k-1) MSW) / (SST + MSW) of that one-way grouping,
 * floored at 0; scores are then normalised to sum to 1. With fewer than
 * UI_IMP_MIN_JOBS finished jobs with an objective, no spread in it, or
 * scores summing to less than UI_IMP_MIN_EXPLAINED (the parameters'
 * marginals explain nothing: shares of nothing would mislead), there are
 * none.
 *
 * The answers of a tuning job (its JSON and its CSV, the two that grow
 * with its training jobs) are kept, UI_CACHE_SLOTS of them, each valid while
 * SQLite's data_version is the one it was built at (it changes whenever
 * another connection — the store's — commits): a dashboard polling a job
 * that has not changed costs a copy. Nothing in them depends on the clock.
 *
 * All functions run on the loop thread (one connection, not shared). */
#ifndef OPENHPO_UI_DATA_H
#define OPENHPO_UI_DATA_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

#define UI_IMP_MIN_JOBS 3              /* finished jobs with an objective before importances */
#define UI_IMP_MAX_BINS 10             /* bins of a numeric parameter */
#define UI_BODY_MAX (64 * 1024 * 1024) /* bytes of one answer (a tuning job's JSON, its CSV) */
#define UI_IMP_MIN_EXPLAINED 0.01      /* least total omega^2 for importances to be shown */
#define UI_CACHE_SLOTS 8               /* tuning job answers kept (see below) */
#define UI_CACHE_MAX_BYTES (4 * 1024 * 1024) /* the largest answer kept */

typedef struct ui_data ui_data;

/* Opens DATA_DIR/openhpo.db read-only (the store has created it). Caller
 * frees with ui_data_close(). NULL with e set. */
ui_data *ui_data_open(const char *data_dir, err_t *e);
void ui_data_close(ui_data *d);

/* {"tuning_jobs": [...]} of `account`, newest first. *out is a new
 * reference. 0 or an err_code with e set. */
int ui_data_tunings(ui_data *d, const char *account, json_t **out, err_t *e);
/* One tuning job with its ranges, training jobs and importances, as JSON
 * text: *text (caller frees), *len (the training jobs are written directly,
 * not through jansson objects: the one answer that grows with them). */
int ui_data_tuning(ui_data *d, const char *account, const char *name, char **text, size_t *len,
                   err_t *e);
/* The training jobs of a tuning job as CSV: *csv (caller frees), *len. */
int ui_data_tuning_csv(ui_data *d, const char *account, const char *name, char **csv, size_t *len,
                       err_t *e);
/* One training job: metrics, objective curve, transitions. */
int ui_data_training(ui_data *d, const char *account, const char *name, json_t **out, err_t *e);

/* The importances of p parameters from n jobs (method above): x[i*p + j]
 * is job i's value of parameter j (a number, or for a categorical the
 * index of its value; NaN when missing), levels[j] 0 for a numeric
 * parameter, else its number of values; y[i] the objective. Fills out[p]
 * and returns 1, or returns 0 (out all 0) when there is nothing to say
 * (too few jobs, no spread). -1 when out of memory. */
int ui_importances(size_t n, size_t p, const double *x, const size_t *levels, const double *y,
                   double *out);

/* The length of the valid UTF-8 sequence at s (n bytes available): 1-4, or
 * 0 when it is not one (a stray, overlong or cut sequence, a surrogate). */
size_t ui_utf8_seq(const char *s, size_t n);

#endif
