#include "watch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int jint(const json_t *o, const char *k) {
    return (int)json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Whether `name` is one of the tuned parameters (in ParameterRanges). */
static int is_tuned(const json_t *ranges, const char *name) {
    static const char *const kinds[] = {"ContinuousParameterRanges", "IntegerParameterRanges",
                                        "CategoricalParameterRanges"};
    if (!json_is_object(ranges))
        return 1;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        const json_t *arr = json_object_get(ranges, kinds[i]), *r;
        size_t j;
        json_array_foreach(arr, j, r) {
            if (!strcmp(jstr(r, "Name"), name))
                return 1;
        }
    }
    return 0;
}

/* Shortens a long decimal ("0.00123456789012") to 4 significant digits. */
static void short_value(const char *v, char *out, size_t cap) {
    char *end;
    double d = strtod(v, &end);
    if (*v && !*end && strlen(v) > 8 && isfinite(d))
        snprintf(out, cap, "%.4g", d);
    else
        snprintf(out, cap, "%s", v);
}

void watch_state_from(const json_t *d, double now, watch_state *s) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", jstr(d, "TuningJobName"));
    snprintf(s->status, sizeof s->status, "%s", jstr(d, "TuningJobStatus"));
    s->final = !strcmp(s->status, "Completed") || !strcmp(s->status, "Failed") ||
               !strcmp(s->status, "Stopped");
    const json_t *stats = json_object_get(d, "ResourcesStats");
    const json_t *jobs = json_object_get(json_object_get(stats, "ConsumedResources"), "Jobs");
    s->max_jobs = jint(json_object_get(stats, "ResourceLimits"), "MaxNumberOfTrainingJobs");
    s->completed = jint(jobs, "Completed");
    s->failed = jint(jobs, "Failed");
    s->running = jint(jobs, "Running");
    s->pending = jint(jobs, "Pending");
    s->early_stopped = -1;
    const json_t *best = json_object_get(d, "BestTrainingJob");
    const json_t *m = json_object_get(best, "FinalTuningJobObjectiveMetric");
    if (m) {
        s->has_best = 1;
        s->best = json_number_value(json_object_get(m, "Value"));
        snprintf(s->metric, sizeof s->metric, "%s", jstr(m, "MetricName"));
        snprintf(s->objective_type, sizeof s->objective_type, "%s", jstr(m, "Type"));
        snprintf(s->best_job, sizeof s->best_job, "%s", jstr(best, "TrainingJobName"));
        const json_t *hp = json_object_get(best, "HyperParameters"), *v;
        const json_t *ranges = json_object_get(d, "ParameterRanges");
        const char *k;
        size_t off = 0;
        json_object_foreach((json_t *)hp, k, v) {
            char val[64];
            if (!json_is_string(v) || !is_tuned(ranges, k) || off >= sizeof s->best_hp)
                continue;
            short_value(json_string_value(v), val, sizeof val);
            int n = snprintf(s->best_hp + off, sizeof s->best_hp - off, "%s%s=%s", off ? ", " : "",
                             k, val);
            if (n > 0)
                off += (size_t)n;
        }
    }
    double start = json_number_value(json_object_get(d, "TuningJobStartTime"));
    double end = json_number_value(json_object_get(d, "TuningJobEndTime"));
    s->elapsed = start > 0 ? ((end > 0 ? end : now) - start) : 0;
    if (s->elapsed < 0)
        s->elapsed = 0;
    int done = s->completed + s->failed;
    s->eta = -1;
    if (s->final)
        s->eta = 0;
    else if (done > 0 && s->max_jobs > done)
        s->eta = s->elapsed / done * (s->max_jobs - done);
}

int watch_count_early_stopped(const json_t *summaries) {
    size_t i;
    const json_t *j;
    int n = 0;
    json_array_foreach(summaries, i, j) {
        if (!strcmp(jstr(j, "TrainingJobStatus"), "Stopped") &&
            json_object_get(j, "FinalTuningJobObjectiveMetric"))
            n++;
    }
    return n;
}

int watch_changed(const watch_state *a, const watch_state *b) {
    return a->completed != b->completed || a->early_stopped != b->early_stopped ||
           a->failed != b->failed || a->running != b->running || a->has_best != b->has_best ||
           (a->has_best && a->best != b->best) || strcmp(a->status, b->status) != 0;
}

void watch_format_duration(double seconds, char *out, size_t cap) {
    if (seconds < 0 || !isfinite(seconds)) {
        snprintf(out, cap, "--");
        return;
    }
    long t = lround(seconds);
    if (t >= 3600)
        snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

static void bar(const watch_state *s, char *out) {
    int max = s->max_jobs > 0 ? s->max_jobs : 1;
    int done = (s->completed + s->failed) * WATCH_BAR_WIDTH / max;
    int run = s->running * WATCH_BAR_WIDTH / max;
    if (done > WATCH_BAR_WIDTH)
        done = WATCH_BAR_WIDTH;
    if (done + run > WATCH_BAR_WIDTH)
        run = WATCH_BAR_WIDTH - done;
    int i = 0;
    for (; i < done; i++)
        out[i] = '#';
    for (; i < done + run; i++)
        out[i] = '>';
    for (; i < WATCH_BAR_WIDTH; i++)
        out[i] = '.';
    out[i] = 0;
}

/* Appends one line (cut at `width` columns) to out. */
static void add_line(char *out, size_t cap, size_t *off, int width, const char *line) {
    if (*off >= cap)
        return;
    int n = width > 0 ? snprintf(out + *off, cap - *off, "%.*s\n", width, line)
                      : snprintf(out + *off, cap - *off, "%s\n", line);
    if (n > 0)
        *off += (size_t)n < cap - *off ? (size_t)n : cap - *off - 1;
}

int watch_render_tty(const watch_state *s, int width, char *out, size_t cap) {
    char b[WATCH_BAR_WIDTH + 1], el[32], eta[32], line[WATCH_HP_MAX + 256];
    size_t off = 0;
    if (cap)
        out[0] = 0;
    bar(s, b);
    watch_format_duration(s->elapsed, el, sizeof el);
    watch_format_duration(s->eta, eta, sizeof eta);
    int done = s->completed + s->failed;
    snprintf(line, sizeof line, "%s  %-10s [%s] %d/%d", s->name, s->status, b, done, s->max_jobs);
    add_line(out, cap, &off, width, line);
    char es[48] = "";
    if (s->early_stopped > 0)
        snprintf(es, sizeof es, " (%d stopped early)", s->early_stopped);
    snprintf(line, sizeof line,
             "  completed %d%s  failed %d  running %d  pending %d   elapsed %s  ETA %s",
             s->completed, es, s->failed, s->running, s->pending, el, eta);
    add_line(out, cap, &off, width, line);
    if (s->has_best)
        snprintf(line, sizeof line, "  best %s %.6g  %s  (%s)", s->metric, s->best, s->best_hp,
                 s->best_job);
    else
        snprintf(line, sizeof line, "  best: no objective value yet");
    add_line(out, cap, &off, width, line);
    return 3;
}

void watch_render_line(const watch_state *s, char *out, size_t cap) {
    char el[32], eta[32], best[WATCH_HP_MAX + 192], es[48] = "";
    if (s->early_stopped > 0)
        snprintf(es, sizeof es, " (%d stopped early)", s->early_stopped);
    watch_format_duration(s->elapsed, el, sizeof el);
    watch_format_duration(s->eta, eta, sizeof eta);
    if (s->has_best)
        snprintf(best, sizeof best, "best %s=%.6g (%s)", s->metric, s->best, s->best_hp);
    else
        snprintf(best, sizeof best, "best: none yet");
    snprintf(out, cap,
             "[%3d/%d] %s: %d completed%s, %d failed, %d running | %s | elapsed %s, ETA %s\n",
             s->completed + s->failed, s->max_jobs, s->status, s->completed, es, s->failed,
             s->running, best, el, eta);
}
