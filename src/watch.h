/* watch — the progress view of a tuning job (`hpo watch`, `hpo tune`).
 *
 * Pure formatting: watch_state_from() reads a 2017 DescribeTuningJob answer
 * into a plain struct, watch_render() turns it into text. The caller polls
 * and decides where the text goes (redrawn in place on a terminal, appended
 * as plain lines otherwise). No allocation, no I/O, no global state. */
#ifndef OPENHPO_WATCH_H
#define OPENHPO_WATCH_H

#include <jansson.h>
#include <stddef.h>

#define WATCH_HP_MAX 512   /* formatted best hyperparameters, NUL included */
#define WATCH_BAR_WIDTH 30 /* characters of the progress bar */

typedef struct {
    char name[64];
    char status[32];                         /* TuningJobStatus */
    int max_jobs;                            /* ResourceLimits.MaxNumberOfTrainingJobs */
    int completed, failed, running, pending; /* ResourcesStats...Jobs */
    int early_stopped; /* of `completed`: Stopped by the strategy (Hyperband, median rule) with
                          the objective they reached; -1 when not known */
    int has_best;
    double best; /* BestTrainingJob's objective value, when has_best */
    char metric[128];
    char objective_type[16]; /* Maximize|Minimize, "" when unknown */
    char best_job[64];
    char best_hp[WATCH_HP_MAX]; /* "name=value, ..." of the tuned hyperparameters */
    double elapsed;             /* seconds since the start (to the end once ended) */
    double eta;                 /* estimated seconds left, < 0 when unknown */
    int final;                  /* status is Completed, Failed or Stopped */
} watch_state;

/* Fills *s from `describe` (borrowed) at time `now` (epoch seconds).
 * Missing fields read as zero / empty. */
void watch_state_from(const json_t *describe, double now, watch_state *s);

/* The early-stopped training jobs among `summaries` (borrowed; a 2017
 * ListTrainingJobsForTuningJob TrainingJobSummaries array): those Stopped
 * with a FinalTuningJobObjectiveMetric (only an early stop keeps the
 * objective of a Stopped job). */
int watch_count_early_stopped(const json_t *summaries);

/* Whether a plain-line view should print again: counts, status or best
 * changed. */
int watch_changed(const watch_state *a, const watch_state *b);

/* The terminal view: three lines (bar and counts; times; best so far), each
 * ending in '\n', at most `width` columns each (0: no limit). Writes at most
 * cap bytes (NUL included); returns the number of lines. */
int watch_render_tty(const watch_state *s, int width, char *out, size_t cap);

/* The plain view: one line ending in '\n'. */
void watch_render_line(const watch_state *s, char *out, size_t cap);

/* Formats seconds as H:MM:SS or M:SS into out[cap] ("--" when < 0). */
void watch_format_duration(double seconds, char *out, size_t cap);

#endif
