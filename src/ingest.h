/* ingest — a training job's log stream -> metric points -> store.
 *
 * Reads what is new in a job's log through the backend (backend_read_log:
 * the backend owns the stream; no local file is assumed), in bounded
 * slices, splits it into lines, applies the job's metric definitions and
 * writes the points to the store (store_add_points, which also advances the
 * job's stored log offset, so a restarted daemon resumes where the last
 * committed slice ended).
 *
 * Nothing read is dropped: points are written in batches of at most
 * INGEST_BATCH_POINTS however many a slice yields; the store keeps at most
 * STORE_MAX_POINTS per metric but always updates the final value, and the
 * objective seen here is always the last value printed.
 *
 * The objective's values also form the trial's learning curve for the
 * strategy (strategy_curve): step = the emission count of the objective
 * metric (1 for its first value), which is also the point's ordinal in the
 * store. At most INGEST_CURVE_MAX values are kept; past that the last slot
 * always holds the latest value (and its step). */
#ifndef OPENHPO_INGEST_H
#define OPENHPO_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "metrics.h"
#include "store.h"

#define INGEST_SLICE_BYTES (256 * 1024) /* log bytes read per job per call */
#define INGEST_READ_BYTES 4096          /* bytes fed to the metric scanner at once */
#define INGEST_BATCH_POINTS 4096        /* points per store_add_points call, at most */
#define INGEST_CURVE_MAX STORE_MAX_POINTS

typedef struct ingest ingest;

/* A reader for one job. `ms` is borrowed (outlives it; may be NULL: no
 * metrics); `objective` is the index of the objective metric in ms, or -1.
 * `offset` is where to resume (the stored log offset; 0 for a new job);
 * `count0` is how many objective values were already seen before it
 * (their steps continue from there). NULL on allocation failure. */
ingest *ingest_new(const metrics_set *ms, int objective, int64_t offset, int64_t count0);
void ingest_free(ingest *g);

/* Reads at most INGEST_SLICE_BYTES of the log from where it stopped, and
 * stores the points (timestamp `now`). *at_end is set to 1 when the log
 * had nothing more to give (a reader at the end of a finished job's log
 * has consumed it all), else 0. With `final`, the log is known complete:
 * a last line without a newline is scanned too, once at_end. 0, or the
 * store's err_code (the slice is then not to be trusted: the caller
 * reloads from the store), or INGEST_UNREADABLE when the backend cannot
 * read the log (try again later). */
#define INGEST_UNREADABLE (-1)
int ingest_slice(ingest *g, backend *b, const char *job_dir, const char *handle, store *st,
                 int64_t training_id, double now, int final, int *at_end);

/* The last objective value (1 and *v set), or 0 when none was seen. */
int ingest_objective(const ingest *g, double *v);
/* The objective's curve (as read; not negated): n values, step[i], y[i]
 * borrowed until the next ingest call. */
size_t ingest_curve(const ingest *g, const int64_t **step, const double **y);
/* Adds a stored point (step, v) to the curve without counting it (count0
 * already did): an adopted job's curve read back from the store, in step
 * order, before its first slice, so that a strategy judging curves sees the
 * whole of it across a restart. */
void ingest_resume_point(ingest *g, int64_t step, double v);
/* Log bytes consumed (complete lines). */
int64_t ingest_offset(const ingest *g);
/* Starts again from the beginning (a relaunched job writes a new log). */
void ingest_reset(ingest *g);

#endif
