/* ingest — log stream -> metric points -> store (see ingest.h). */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

struct ingest {
    const metrics_set *ms;
    int objective;
    int64_t read_off; /* bytes read from the log */
    metrics_lines lines;
    store_point *pts; /* pending batch */
    size_t npts, cappts;
    double now;
    int oom;
    /* objective */
    int has_obj;
    double obj_last;
    int64_t count; /* values of the objective seen */
    int64_t *step;
    double *y;
    size_t ncurve;
};

ingest *ingest_new(const metrics_set *ms, int objective, int64_t offset, int64_t count0) {
    ingest *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->ms = ms;
    g->objective = ms ? objective : -1;
    g->read_off = offset;
    g->lines.consumed = offset;
    g->count = count0;
    return g;
}

void ingest_free(ingest *g) {
    if (!g)
        return;
    free(g->pts);
    free(g->step);
    free(g->y);
    free(g);
}

void ingest_reset(ingest *g) {
    g->read_off = 0;
    memset(&g->lines, 0, sizeof g->lines);
    g->npts = 0;
    g->has_obj = 0;
    g->count = 0;
    g->ncurve = 0;
}

static void curve_put(ingest *g, int64_t step, double v) {
    if (!g->step) {
        g->step = malloc(INGEST_CURVE_MAX * sizeof *g->step);
        g->y = malloc(INGEST_CURVE_MAX * sizeof *g->y);
        if (!g->step || !g->y) {
            free(g->step);
            free(g->y);
            g->step = NULL;
            g->y = NULL;
            return; /* the curve is advisory; the objective itself is kept below */
        }
    }
    size_t i = g->ncurve < INGEST_CURVE_MAX ? g->ncurve++ : INGEST_CURVE_MAX - 1;
    g->step[i] = step;
    g->y[i] = v;
}

static void curve_add(ingest *g, double v) {
    g->count++;
    curve_put(g, g->count, v);
}

void ingest_resume_point(ingest *g, int64_t step, double v) {
    curve_put(g, step, v);
}

static void on_point(void *ud, size_t index, double value) {
    ingest *g = ud;
    if (g->npts == g->cappts) {
        size_t cap = g->cappts ? g->cappts * 2 : 256;
        store_point *p = realloc(g->pts, cap * sizeof *p);
        if (!p) {
            g->oom = 1;
            return;
        }
        g->pts = p;
        g->cappts = cap;
    }
    g->pts[g->npts].name = metrics_name(g->ms, index);
    g->pts[g->npts].ts = g->now;
    g->pts[g->npts].value = value;
    g->npts++;
    if ((int)index == g->objective) {
        g->obj_last = value;
        g->has_obj = 1;
        curve_add(g, value);
    }
}

static void on_line(void *ud, const char *line, size_t len) {
    ingest *g = ud;
    if (g->ms)
        metrics_scan_line((metrics_set *)g->ms, line, len, on_point, g);
}

/* Writes the pending points in batches of INGEST_BATCH_POINTS. */
static int flush(ingest *g, store *st, int64_t id) {
    size_t done = 0;
    int rc = 0;
    while (done < g->npts && !rc) {
        size_t n = g->npts - done < INGEST_BATCH_POINTS ? g->npts - done : INGEST_BATCH_POINTS;
        rc = store_add_points(st, id, g->pts + done, n, g->lines.consumed);
        done += n;
    }
    g->npts = 0;
    return rc;
}

int ingest_slice(ingest *g, backend *b, const char *job_dir, const char *handle, store *st,
                 int64_t training_id, double now, int final, int *at_end) {
    char buf[INGEST_READ_BYTES];
    size_t total = 0;
    int rc = 0;
    int64_t before = g->lines.consumed;
    *at_end = 0;
    g->now = now;
    while (total < INGEST_SLICE_BYTES) {
        ssize_t r = backend_read_log(b, job_dir, handle, g->read_off, buf, sizeof buf);
        if (r < 0)
            return INGEST_UNREADABLE;
        if (r == 0) {
            *at_end = 1;
            break;
        }
        g->read_off += r;
        total += (size_t)r;
        metrics_lines_feed(&g->lines, buf, (size_t)r, on_line, g);
        if (g->oom)
            return ERR_INTERNAL;
        if (g->npts >= INGEST_BATCH_POINTS && (rc = flush(g, st, training_id)))
            return rc;
    }
    if (*at_end && final && g->lines.len) { /* a last line without a newline */
        on_line(g, g->lines.buf, g->lines.len);
        g->lines.consumed += (long long)g->lines.len;
        g->lines.len = 0;
    }
    if (g->npts)
        rc = flush(g, st, training_id);
    else if (g->lines.consumed != before)
        rc = store_add_points(st, training_id, NULL, 0, g->lines.consumed);
    return g->oom ? ERR_INTERNAL : rc;
}

int ingest_objective(const ingest *g, double *v) {
    if (g->has_obj)
        *v = g->obj_last;
    return g->has_obj;
}

size_t ingest_curve(const ingest *g, const int64_t **step, const double **y) {
    *step = g->step;
    *y = g->y;
    return g->step ? g->ncurve : 0;
}

int64_t ingest_offset(const ingest *g) {
    return g->lines.consumed;
}
