/* ui_data — the dashboard's JSON from the store, and the hyperparameter
 * importances (see ui_data.h). */
#include "ui_data.h"

#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "request.h"
#include "status.h"
#include "store.h"
#include "trial.h"
#include "util.h"

/* The queries, prepared once (persistent statements). */
enum { Q_TUNINGS, Q_TUNING, Q_TRAININGS, Q_TRAINING, Q_POINTS, Q_TRANSITIONS, Q_VERSION, Q__COUNT };

/* The best objective among a tuning job's Completed and Stopped (early:
 * only they keep one) training jobs: one index seek per status (the
 * training_tuning_best index, min/max optimised), as store_best_training
 * chooses it (the lowest index among ties). */
#define BEST_OF(agg, st)                                                                           \
    "(SELECT " agg "(objective) FROM training_jobs WHERE tuning_id=t.id AND status='" st "')"
#define BEST_BOTH(agg)                                                                             \
    agg "(coalesce(" BEST_OF(agg, "Completed") ", " BEST_OF(                                       \
        agg, "Stopped") "), coalesce(" BEST_OF(agg, "Stopped") ", " BEST_OF(agg, "Completed") "))"

/* One tuning job's columns, shared by the list and the detail: the row,
 * its counters (tuning_counts), its internal failures, its best job. */
#define TUNING_COLS                                                                                \
    "SELECT t.id, t.name, t.status, t.strategy, t.created, t.ended, t.objective_metric,"           \
    " t.objective_type, t.max_jobs, t.max_parallel, COALESCE(c.total, 0),"                         \
    " COALESCE(c.completed, 0), COALESCE(c.failed, 0), COALESCE(c.stopped, 0),"                    \
    " (SELECT count(*) FROM training_jobs f WHERE f.tuning_id=t.id AND f.status='Failed'"          \
    "  AND f.failure_reason LIKE '" STORE_INTERNAL_PREFIX "%'),"                                   \
    " b.name, b.objective, t.failure_reason, t.converged, t.not_improving, t.api, t.request"       \
    " FROM tuning_jobs t LEFT JOIN tuning_counts c ON c.tuning_id=t.id"                            \
    " LEFT JOIN training_jobs b ON b.id = (SELECT x.id FROM training_jobs x"                       \
    "  WHERE x.tuning_id=t.id AND x.status IN ('Completed','Stopped') AND x.objective ="           \
    "  (CASE WHEN t.objective_type='Maximize' THEN " BEST_BOTH("max") " ELSE " BEST_BOTH(          \
        "min") "  END) ORDER BY x.idx LIMIT 1)"
enum {
    TC_ID,
    TC_NAME,
    TC_STATUS,
    TC_STRATEGY,
    TC_CREATED,
    TC_ENDED,
    TC_METRIC,
    TC_TYPE,
    TC_MAX_JOBS,
    TC_MAX_PARALLEL,
    TC_TOTAL,
    TC_COMPLETED,
    TC_FAILED,
    TC_STOPPED,
    TC_FAILED_INTERNAL,
    TC_BEST_NAME,
    TC_BEST_VALUE,
    TC_REASON,
    TC_CONVERGED,
    TC_NOT_IMPROVING,
    TC_API,
    TC_REQUEST
};

static const char *const sql[Q__COUNT] = {
    [Q_TUNINGS] = TUNING_COLS " WHERE t.account=?1 AND t.kind='tuning'"
                              " ORDER BY t.created DESC, t.id DESC",
    [Q_TUNING] = TUNING_COLS " WHERE t.account=?1 AND t.kind='tuning' AND t.name=?2 COLLATE NOCASE"
                             " ORDER BY t.name=?2 DESC LIMIT 1",
    [Q_TRAININGS] =
        ("SELECT name, status, tuned, objective, created, started, ended,"
         " failure_reason, stop_requested, definition FROM training_jobs WHERE tuning_id=?1"
         " ORDER BY idx"), /* by training_tuning_idx, no sort */
    [Q_TRAINING] = ("SELECT t.id, t.name, t.status, t.hyperparameters, t.objective, t.created,"
                    " t.started, t.ended, t.failure_reason, j.name, j.kind, j.objective_metric,"
                    " j.objective_type, j.api, j.request FROM training_jobs t"
                    " LEFT JOIN tuning_jobs j ON j.id=t.tuning_id"
                    " WHERE t.account=?1 AND t.name=?2 COLLATE NOCASE ORDER BY t.name=?2 DESC"
                    " LIMIT 1"),
    /* By points_by_job (training_id, name): in name order, then as reported. */
    [Q_POINTS] = ("SELECT name, ts, value FROM metric_points WHERE training_id=?1"
                  " ORDER BY name, rowid"),
    [Q_TRANSITIONS] = "SELECT status, start FROM transitions WHERE training_id=?1 ORDER BY rowid",
    /* Changes when another connection (the store's) has committed since. */
    [Q_VERSION] = "PRAGMA data_version",
};

/* A built answer of a tuning job (its JSON or its CSV), valid while the
 * database's data_version is the one it was built at: a dashboard polling
 * a job that has not changed is answered without reading it again. */
typedef struct {
    int64_t version; /* data_version when built; -1 = empty slot */
    int csv;
    char account[16];
    char name[STORE_NAME_MAX];
    char *text; /* owned */
    size_t len;
} cached;

struct ui_data {
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];
    cached cache[UI_CACHE_SLOTS]; /* the loop thread's only: no lock */
    size_t next;                  /* the slot to fill next (round robin) */
    /* The last importances computed, and what they were computed from: they
     * change only when a job finishes with an objective, while the answers
     * above go stale at every commit (metric points of running jobs). */
    int64_t imp_tuning;
    uint64_t imp_hash;
    json_t *imp;
};

ui_data *ui_data_open(const char *data_dir, err_t *e) {
    char path[4096];
    ui_data *d = calloc(1, sizeof *d);
    int ok = 0;
    if (!d) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/openhpo.db", data_dir);
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        err_set(e, ERR_INTERNAL, "cannot open %s for the dashboard: %s", path,
                d->db ? sqlite3_errmsg(d->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(d->db, STORE_BUSY_TIMEOUT_MS);
    char mmap[64];
    snprintf(mmap, sizeof mmap, "PRAGMA mmap_size=%lld", (long long)STORE_MMAP_BYTES);
    sqlite3_exec(d->db, mmap, NULL, NULL, NULL);
    for (int i = 0; i < Q__COUNT; i++)
        if (sqlite3_prepare_v3(d->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &d->q[i], NULL) !=
            SQLITE_OK) {
            err_set(e, ERR_INTERNAL, "dashboard query %d: %s", i, sqlite3_errmsg(d->db));
            goto out;
        }
    ok = 1;
out:
    if (!ok) {
        ui_data_close(d);
        return NULL;
    }
    return d;
}

void ui_data_close(ui_data *d) {
    if (!d)
        return;
    for (size_t i = 0; i < UI_CACHE_SLOTS; i++)
        free(d->cache[i].text);
    json_decref(d->imp);
    for (int i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(d->q[i]);
    sqlite3_close(d->db);
    free(d);
}

/* ---- small helpers ---- */

static const char *col_text(sqlite3_stmt *st, int i) {
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

/* A time column: epoch seconds, or null when unset (NULL or 0). */
static json_t *col_time(sqlite3_stmt *st, int i) {
    double v = sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_double(st, i);
    return v > 0 ? json_real(v) : json_null();
}

static json_t *col_real_or_null(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
                                                     : json_real(sqlite3_column_double(st, i));
}

static json_t *col_string_or_null(sqlite3_stmt *st, int i) {
    const char *s = col_text(st, i);
    return *s ? json_string(s) : json_null();
}

/* Sets o[k] = v, stealing v; a NULL v (out of memory) marks *oom. */
static void put(json_t *o, const char *k, json_t *v, int *oom) {
    if (!v || json_object_set_new(o, k, v))
        *oom = 1;
}

static int step_err(ui_data *d, int r, err_t *e) {
    if (r == SQLITE_BUSY || r == SQLITE_LOCKED)
        return err_set(e, ERR_UNAVAILABLE, "the store is busy; try again");
    return err_set(e, ERR_INTERNAL, "cannot read the store: %s", sqlite3_errmsg(d->db));
}

/* The tuning status in the current API's words (InProgress for Created and
 * Running). */
static const char *tuning_status_name(const char *stored) {
    tuning_status s;
    return tuning_status_parse(stored, &s) == 0 ? tuning_status_current(s) : stored;
}

/* Why a tuning job ended, as far as the store tells: its failure reason, a
 * completion criterion's trace, the budget, a stop. NULL while it runs. */
static const char *completion_reason(const char *status, const char *reason, double converged,
                                     int not_improving, const req_tuning *r, int total,
                                     int max_jobs, int has_best, double best) {
    if (!strcmp(status, "Failed"))
        return *reason ? reason : "Failed";
    if (!strcmp(status, "Stopped") || !strcmp(status, "Stopping"))
        return "Stopped (StopHyperParameterTuningJob)";
    if (strcmp(status, "Completed"))
        return NULL;
    if (r && r->has_target && has_best &&
        (r->maximize ? best >= r->target_value : best <= r->target_value))
        return "TargetObjectiveMetricValue reached";
    if (r && r->best_not_improving > 0 && not_improving >= r->best_not_improving)
        return "BestObjectiveNotImproving";
    if (converged > 0)
        return "ConvergenceDetected";
    if (total >= max_jobs)
        return "MaxNumberOfTrainingJobs reached";
    return "Completed";
}

/* The stored request `text` of a row of API `api` and kind `kind`, parsed;
 * NULL when it cannot be (logged). Caller frees with request_free(). */
static req_tuning *parse_request(int api, const char *kind, const char *text, const char *account) {
    req_tuning *r = NULL;
    err_t e = {0};
    const char *op = !strcmp(kind, "training") ? "CreateTrainingJob"
                     : api == API_CURRENT      ? "CreateHyperParameterTuningJob"
                                               : "CreateTuningJob";
    if (request_parse_text((api_flavor)api, op, text, account, &r, &e)) {
        log_warn("dashboard: a stored request cannot be read: %.200s", e.msg);
        return NULL;
    }
    return r;
}

/* The list's fields of the tuning row st is on; r (may be NULL) its request. */
static json_t *tuning_json(sqlite3_stmt *st, const req_tuning *r) {
    int oom = 0;
    json_t *o = json_object();
    if (!o)
        return NULL;
    const char *status = col_text(st, TC_STATUS);
    int total = sqlite3_column_int(st, TC_TOTAL), completed = sqlite3_column_int(st, TC_COMPLETED),
        failed = sqlite3_column_int(st, TC_FAILED), stopped = sqlite3_column_int(st, TC_STOPPED),
        internal = sqlite3_column_int(st, TC_FAILED_INTERNAL);
    int has_best = sqlite3_column_type(st, TC_BEST_NAME) != SQLITE_NULL;
    double best = sqlite3_column_double(st, TC_BEST_VALUE);
    put(o, "name", json_string(col_text(st, TC_NAME)), &oom);
    put(o, "status", json_string(tuning_status_name(status)), &oom);
    put(o, "strategy", json_string(col_text(st, TC_STRATEGY)), &oom);
    put(o, "created", col_time(st, TC_CREATED), &oom);
    put(o, "ended", col_time(st, TC_ENDED), &oom);
    put(o, "objective",
        json_pack("{s:s, s:s}", "metric", col_text(st, TC_METRIC), "type", col_text(st, TC_TYPE)),
        &oom);
    put(o, "best",
        has_best
            ? json_pack("{s:s, s:f}", "training_job", col_text(st, TC_BEST_NAME), "value", best)
            : json_null(),
        &oom);
    put(o, "counts",
        json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "completed", completed, "in_progress",
                  total - completed - failed - stopped, "stopped", stopped, "failed", failed,
                  "retryable_error", internal, "non_retryable_error", failed - internal),
        &oom);
    put(o, "max_jobs", json_integer(sqlite3_column_int(st, TC_MAX_JOBS)), &oom);
    put(o, "max_parallel", json_integer(sqlite3_column_int(st, TC_MAX_PARALLEL)), &oom);
    const char *why = completion_reason(status, col_text(st, TC_REASON),
                                        sqlite3_column_type(st, TC_CONVERGED) == SQLITE_NULL
                                            ? 0
                                            : sqlite3_column_double(st, TC_CONVERGED),
                                        sqlite3_column_int(st, TC_NOT_IMPROVING), r, total,
                                        sqlite3_column_int(st, TC_MAX_JOBS), has_best, best);
    put(o, "completion_reason", why ? json_string(why) : json_null(), &oom);
    if (oom) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int ui_data_tunings(ui_data *d, const char *account, json_t **out, err_t *e) {
    sqlite3_stmt *st = d->q[Q_TUNINGS];
    json_t *list = json_array(), *o = NULL;
    int r, rc = 0;
    *out = NULL;
    if (!list)
        return err_set(e, ERR_INTERNAL, "out of memory");
    sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        /* The list does not parse requests: completion_reason without the
         * criteria (the detail gives the full one). */
        json_t *t = tuning_json(st, NULL);
        if (!t || json_array_append_new(list, t)) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
    }
    if (r != SQLITE_DONE) {
        rc = step_err(d, r, e);
        goto out;
    }
    if (!(o = json_pack("{s:O}", "tuning_jobs", list))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    *out = o;
out:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    json_decref(list);
    return rc;
}

/* ---- one tuning job ---- */

static const char *scale_name(param_scale s) {
    switch (s) {
    case SCALE_LINEAR:
        return "Linear";
    case SCALE_LOG:
        return "Logarithmic";
    case SCALE_REVLOG:
        return "ReverseLogarithmic";
    default:
        return "Auto";
    }
}

static const char *kind_name(param_kind k) {
    return k == PARAM_CONTINUOUS ? "Continuous" : k == PARAM_INTEGER ? "Integer" : "Categorical";
}

/* The scale a numeric range is searched on: as the space resolves it (an
 * absent ScalingType, or Auto, becomes what openhpo applies). */
static param_scale resolved_scale(const space *sp, const req_range *g) {
    for (size_t i = 0; sp && i < sp->n; i++)
        if (!strcmp(sp->p[i].name, g->name))
            return sp->p[i].scale;
    return g->scale;
}

static json_t *ranges_json(const req_tuning *r) {
    json_t *a = json_array();
    err_t e = {0};
    space *sp = r ? request_space(r, 0, &e) : NULL;
    for (size_t i = 0; a && r && i < r->nranges; i++) {
        const req_range *g = &r->ranges[i];
        int num = g->kind != PARAM_CATEGORICAL, oom = 0;
        json_t *vals = json_array(), *o = json_object();
        for (size_t k = 0; vals && !num && k < g->nvalues; k++)
            if (json_array_append_new(vals, json_string(g->values[k])))
                oom = 1;
        if (!o || !vals || oom) {
            json_decref(o);
            json_decref(vals);
            json_decref(a);
            a = NULL;
            break;
        }
        put(o, "name", json_string(g->name), &oom);
        put(o, "type", json_string(kind_name(g->kind)), &oom);
        put(o, "min", num ? json_real(g->lo) : json_null(), &oom);
        put(o, "max", num ? json_real(g->hi) : json_null(), &oom);
        put(o, "scale", json_string(num ? scale_name(resolved_scale(sp, g)) : "Auto"), &oom);
        put(o, "values", vals, &oom);
        if (oom)
            json_decref(o);
        if (oom || json_array_append_new(a, o)) {
            json_decref(a);
            a = NULL;
            break;
        }
    }
    space_free(sp);
    return a;
}

/* ---- answer buffers ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    int over; /* past UI_BODY_MAX, or out of memory */
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->over)
        return;
    if (b->len + n + 1 > UI_BODY_MAX) {
        b->over = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->over = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

/* Makes room for n more bytes at once (an estimate of the answer), so
 * that a large one is not copied while it grows. */
static void sb_reserve(sbuf *b, size_t n) {
    if (b->over || b->len + n + 1 <= b->cap || b->len + n + 1 > UI_BODY_MAX)
        return;
    char *nb = realloc(b->buf, b->len + n + 1);
    if (!nb)
        return; /* sb_add will try again, and fail */
    b->buf = nb;
    b->cap = b->len + n + 1;
}

static void sb_lit(sbuf *b, const char *s) {
    sb_add(b, s, strlen(s));
}

size_t ui_utf8_seq(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    if (!n)
        return 0;
    unsigned char b = p[0];
    size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (!len || len > n || (len == 2 && b < 0xC2) || b > 0xF4)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    if (len == 3 && ((b == 0xE0 && p[1] < 0xA0) || (b == 0xED && p[1] >= 0xA0)))
        return 0; /* overlong, surrogate */
    if (len == 4 && ((b == 0xF0 && p[1] < 0x90) || (b == 0xF4 && p[1] >= 0x90)))
        return 0; /* overlong, past U+10FFFF */
    return len;
}

/* s as a JSON string: escaped, invalid UTF-8 as U+FFFD. */
static void sb_str(sbuf *b, const char *s) {
    static const char hexd[] = "0123456789abcdef";
    size_t n = strlen(s), i = 0, run = 0;
    sb_add(b, "\"", 1);
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            run++, i++;
            continue;
        }
        sb_add(b, s + i - run, run);
        run = 0;
        if (c >= 0x80) {
            size_t len = ui_utf8_seq(s + i, n - i);
            if (len)
                sb_add(b, s + i, len);
            else
                sb_lit(b, "\\ufffd");
            i += len ? len : 1;
            continue;
        }
        char esc[7] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15], 0};
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            esc[2] = 0;
        }
        sb_lit(b, esc);
        i++;
    }
    sb_add(b, s + i - run, run);
    sb_add(b, "\"", 1);
}

/* A number that reads back exactly, or null (not finite). */
static void sb_num(sbuf *b, double v) {
    char t[32];
    if (!isfinite(v)) {
        sb_lit(b, "null");
        return;
    }
    int n = snprintf(t, sizeof t, "%.17g", v);
    sb_add(b, t, (size_t)n);
}

/* A time, to the millisecond (cheaper than %.17g), or null when unset. */
static void sb_time(sbuf *b, double v) {
    char t[32];
    if (!(v > 0) || !isfinite(v) || v > 1e15) {
        sb_lit(b, "null");
        return;
    }
    /* Digits by hand: snprintf is most of the cost of 3000 times. */
    unsigned long long ms = (unsigned long long)llround(v * 1000);
    char *p = t + sizeof t;
    for (int k = 0; k < 3; k++, ms /= 10)
        *--p = (char)('0' + ms % 10);
    *--p = '.';
    do
        *--p = (char)('0' + ms % 10);
    while ((ms /= 10) > 0);
    sb_add(b, p, (size_t)(t + sizeof t - p));
}

/* ---- a tuning job's training jobs, read once ---- */

typedef struct {
    char name[STORE_NAME_MAX];
    char status[16];
    char *tuned; /* the tuned hyperparameters as stored: a JSON object's text (owned) */
    json_t *hp;  /* tuned, parsed (owned); NULL until needed */
    int has_obj;
    double obj;
    double created, started, ended;
    char *reason; /* FailureReason (owned), or NULL */
    int early;
    char definition[STORE_NAME_MAX]; /* its DefinitionName (TrainingJobDefinitions), or "" */
} trow;

typedef struct {
    trow *v;
    size_t n, cap;
} trows;

static void trows_clear(trows *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].tuned);
        free(t->v[i].reason);
        json_decref(t->v[i].hp);
    }
    free(t->v);
    memset(t, 0, sizeof *t);
}

static double col_double0(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_double(st, i);
}

static int read_trainings(ui_data *d, int64_t tuning_id, trows *out, err_t *e) {
    sqlite3_stmt *st = d->q[Q_TRAININGS];
    int r, rc = 0;
    sqlite3_bind_int64(st, 1, tuning_id);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 256;
            trow *v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                rc = err_set(e, ERR_INTERNAL, "out of memory");
                goto out;
            }
            out->v = v;
            out->cap = cap;
        }
        trow *t = &out->v[out->n];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", col_text(st, 0));
        snprintf(t->status, sizeof t->status, "%s", col_text(st, 1));
        const char *tuned = col_text(st, 2), *reason = col_text(st, 7);
        t->has_obj = sqlite3_column_type(st, 3) != SQLITE_NULL;
        t->obj = sqlite3_column_double(st, 3);
        t->created = col_double0(st, 4);
        t->started = col_double0(st, 5);
        t->ended = col_double0(st, 6);
        /* Only a Stopped job was stopped early: a stop that came after the
         * program ended leaves it Completed. */
        t->early = !strcmp(t->status, "Stopped") &&
                   (sqlite3_column_int(st, 8) == TRIAL_STOP_EARLY || t->has_obj);
        snprintf(t->definition, sizeof t->definition, "%s", col_text(st, 9));
        out->n++;
        if (!(t->tuned = strdup(tuned)) || (*reason && !(t->reason = strdup(reason)))) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
    }
    if (r != SQLITE_DONE)
        rc = step_err(d, r, e);
out:
    sqlite3_reset(st);
    return rc;
}

/* The parsed tuned hyperparameters of t (an object; {} when unreadable). */
static const json_t *trow_hp(trow *t) {
    if (!t->hp) {
        t->hp = json_loads(*t->tuned ? t->tuned : "{}", 0, NULL);
        if (!json_is_object(t->hp)) {
            json_decref(t->hp);
            t->hp = json_object();
        }
    }
    return t->hp;
}

/* The stored tuned text, when it is an object's: the daemon wrote it with
 * jansson, so it is JSON; the check keeps a damaged row from breaking the
 * answer's syntax. */
static int tuned_is_object(const char *s) {
    size_t n = strlen(s);
    return n >= 2 && s[0] == '{' && s[n - 1] == '}';
}

/* The training_jobs array of the contract, written directly (1000 rows
 * through jansson objects cost several times more). */
static void write_trows(sbuf *b, trows *t) {
    sb_add(b, "[", 1);
    for (size_t i = 0; i < t->n; i++) {
        trow *r = &t->v[i];
        sb_lit(b, i ? ",{\"name\":" : "{\"name\":");
        sb_str(b, r->name);
        sb_lit(b, ",\"status\":");
        sb_str(b, r->status);
        sb_lit(b, ",\"hyperparameters\":");
        if (tuned_is_object(r->tuned))
            sb_lit(b, r->tuned);
        else
            sb_lit(b, "{}");
        sb_lit(b, ",\"objective\":");
        if (r->has_obj)
            sb_num(b, r->obj);
        else
            sb_lit(b, "null");
        sb_lit(b, ",\"created\":");
        sb_time(b, r->created);
        sb_lit(b, ",\"started\":");
        sb_time(b, r->started);
        sb_lit(b, ",\"ended\":");
        sb_time(b, r->ended);
        sb_lit(b, ",\"failure_reason\":");
        if (r->reason)
            sb_str(b, r->reason);
        else
            sb_lit(b, "null");
        sb_lit(b, r->early ? ",\"early_stopped\":true,\"definition\":"
                           : ",\"early_stopped\":false,\"definition\":");
        if (r->definition[0])
            sb_str(b, r->definition);
        else
            sb_lit(b, "null");
        sb_lit(b, "}");
    }
    sb_add(b, "]", 1);
}

/* Importances of r's ranges over the finished jobs of t. */
static json_t *importances_json(const req_tuning *r, trows *t) {
    size_t n = 0, p = r ? r->nranges : 0;
    double *x = NULL, *y = NULL, *imp = NULL;
    size_t *levels = NULL, *order = NULL;
    json_t *a = json_array();
    if (!a || !p)
        goto out;
    if (!(x = malloc(t->n * p * sizeof *x + 1)) || !(y = malloc(t->n * sizeof *y + 1)) ||
        !(imp = calloc(p, sizeof *imp)) || !(levels = calloc(p, sizeof *levels)) ||
        !(order = malloc(p * sizeof *order)))
        goto fail;
    for (size_t j = 0; j < p; j++)
        levels[j] = r->ranges[j].kind == PARAM_CATEGORICAL ? r->ranges[j].nvalues : 0;
    for (size_t i = 0; i < t->n; i++) {
        trow *row = &t->v[i];
        if (!row->has_obj || !isfinite(row->obj) ||
            (strcmp(row->status, "Completed") && strcmp(row->status, "Stopped")))
            continue;
        const json_t *hp = trow_hp(row);
        for (size_t j = 0; j < p; j++) {
            const req_range *g = &r->ranges[j];
            const char *v = json_string_value(json_object_get(hp, g->name));
            double xv = NAN;
            if (v && g->kind == PARAM_CATEGORICAL) {
                for (size_t k = 0; k < g->nvalues; k++)
                    if (!strcmp(g->values[k], v))
                        xv = (double)k;
            } else if (v) {
                char *end;
                xv = strtod(v, &end);
                if (end == v || *end)
                    xv = NAN;
            }
            x[n * p + j] = xv;
        }
        y[n++] = row->obj;
    }
    int got = ui_importances(n, p, x, levels, y, imp);
    if (got < 0)
        goto fail;
    if (got == 0)
        goto out;
    /* Highest first. */
    for (size_t j = 0; j < p; j++)
        order[j] = j;
    for (size_t i = 1; i < p; i++)
        for (size_t k = i; k > 0 && imp[order[k]] > imp[order[k - 1]]; k--) {
            size_t s = order[k];
            order[k] = order[k - 1];
            order[k - 1] = s;
        }
    for (size_t k = 0; k < p; k++)
        if (json_array_append_new(a, json_pack("{s:s, s:f}", "name", r->ranges[order[k]].name,
                                               "importance", imp[order[k]])))
            goto fail;
    goto out;
fail:
    json_decref(a);
    a = NULL;
out:
    free(x);
    free(y);
    free(imp);
    free(levels);
    free(order);
    return a;
}

/* What the importances of a tuning job are computed from (FNV-1a over the
 * name, status and objective of each job they use). */
static uint64_t importances_hash(const trows *t) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < t->n; i++) {
        const trow *r = &t->v[i];
        if (!r->has_obj)
            continue;
        unsigned char bytes[sizeof r->obj];
        memcpy(bytes, &r->obj, sizeof bytes);
        for (const char *p = r->name; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        for (const char *p = r->status; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        for (size_t k = 0; k < sizeof bytes; k++)
            h = (h ^ bytes[k]) * 1099511628211ULL;
    }
    return h;
}

/* The importances of tuning job `id` (a new reference): the last ones when
 * computed from the same jobs, else computed anew (and kept). */
static json_t *importances_of(ui_data *d, int64_t id, const req_tuning *r, trows *t) {
    uint64_t h = importances_hash(t);
    if (d->imp && d->imp_tuning == id && d->imp_hash == h)
        return json_incref(d->imp);
    json_t *imp = importances_json(r, t);
    if (imp) {
        json_decref(d->imp);
        d->imp = json_incref(imp);
        d->imp_tuning = id;
        d->imp_hash = h;
    }
    return imp;
}

/* The tuning job `name` of `account`: its fields with ranges and
 * importances (*head), its training jobs (*rows), its request (*req, may be
 * NULL when unreadable). */
static int read_tuning(ui_data *d, const char *account, const char *name, json_t **head,
                       trows *rows, req_tuning **req, err_t *e) {
    sqlite3_stmt *st = d->q[Q_TUNING];
    req_tuning *r = NULL;
    json_t *o = NULL;
    int rc = 0, row, oom = 0;
    *head = NULL;
    *req = NULL;
    sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    row = sqlite3_step(st);
    if (row == SQLITE_DONE) {
        rc = err_set(e, ERR_NOT_FOUND, "no tuning job named %s", name);
        goto out;
    }
    if (row != SQLITE_ROW) {
        rc = step_err(d, row, e);
        goto out;
    }
    r = parse_request(sqlite3_column_int(st, TC_API), "tuning", col_text(st, TC_REQUEST), account);
    int64_t id = sqlite3_column_int64(st, TC_ID);
    if (!(o = tuning_json(st, r))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    sqlite3_reset(st);
    if ((rc = read_trainings(d, id, rows, e)))
        goto out;
    put(o, "ranges", ranges_json(r), &oom);
    put(o, "importances", importances_of(d, id, r, rows), &oom);
    if (oom) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    *head = o;
    *req = r;
    o = NULL;
    r = NULL;
out:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    json_decref(o);
    request_free(r);
    if (rc)
        trows_clear(rows);
    return rc;
}

/* The database's data_version now, or -1 when it cannot be read. */
static int64_t data_version(ui_data *d) {
    sqlite3_stmt *st = d->q[Q_VERSION];
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return v;
}

/* A copy of the cached answer (csv, account, name) built at `version`:
 * 0 with *text (caller frees) and *len, or -1 (none). */
static int cache_get(ui_data *d, int64_t version, int csv, const char *account, const char *name,
                     char **text, size_t *len) {
    for (size_t i = 0; version >= 0 && i < UI_CACHE_SLOTS; i++) {
        cached *c = &d->cache[i];
        if (c->text && c->version == version && c->csv == csv && !strcmp(c->account, account) &&
            !strcmp(c->name, name)) {
            if (!(*text = malloc(c->len + 1)))
                return -1;
            memcpy(*text, c->text, c->len + 1);
            *len = c->len;
            return 0;
        }
    }
    return -1;
}

/* Keeps a copy of an answer just built at `version` (when it is small
 * enough; out of memory only skips it). */
static void cache_put(ui_data *d, int64_t version, int csv, const char *account, const char *name,
                      const char *text, size_t len) {
    if (version < 0 || len > UI_CACHE_MAX_BYTES || strlen(account) >= sizeof d->cache[0].account ||
        strlen(name) >= sizeof d->cache[0].name)
        return;
    cached *c = &d->cache[d->next];
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, text, len);
    copy[len] = 0;
    free(c->text);
    *c = (cached){.version = version, .csv = csv, .text = copy, .len = len};
    snprintf(c->account, sizeof c->account, "%s", account);
    snprintf(c->name, sizeof c->name, "%s", name);
    d->next = (d->next + 1) % UI_CACHE_SLOTS;
}

static int build_tuning(ui_data *d, const char *account, const char *name, char **text, size_t *len,
                        err_t *e);
static int build_csv(ui_data *d, const char *account, const char *name, char **csv, size_t *len,
                     err_t *e);

/* An answer of a tuning job: the cached one when the database has not
 * changed since it was built, else built anew (and kept). */
static int cached_answer(ui_data *d, int csv, const char *account, const char *name, char **text,
                         size_t *len, err_t *e) {
    int64_t v = data_version(d);
    int rc;
    *text = NULL;
    *len = 0;
    if (cache_get(d, v, csv, account, name, text, len) == 0)
        return 0;
    rc = csv ? build_csv(d, account, name, text, len, e)
             : build_tuning(d, account, name, text, len, e);
    if (!rc)
        cache_put(d, v, csv, account, name, *text, *len);
    return rc;
}

int ui_data_tuning(ui_data *d, const char *account, const char *name, char **text, size_t *len,
                   err_t *e) {
    return cached_answer(d, 0, account, name, text, len, e);
}

int ui_data_tuning_csv(ui_data *d, const char *account, const char *name, char **csv, size_t *len,
                       err_t *e) {
    return cached_answer(d, 1, account, name, csv, len, e);
}

static int build_tuning(ui_data *d, const char *account, const char *name, char **text, size_t *len,
                        err_t *e) {
    json_t *head = NULL;
    req_tuning *r = NULL;
    trows rows = {0};
    sbuf b = {0};
    char *h = NULL;
    int rc;
    *text = NULL;
    *len = 0;
    if ((rc = read_tuning(d, account, name, &head, &rows, &r, e)))
        goto out;
    /* The small part through jansson, then the rows: {...head..., "training_jobs": [...]} */
    if (!(h = json_dumps(head, JSON_COMPACT)) || strlen(h) < 2) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    size_t want = strlen(h) + 64;
    for (size_t i = 0; i < rows.n; i++)
        want += 240 + strlen(rows.v[i].tuned) + (rows.v[i].reason ? strlen(rows.v[i].reason) : 0);
    sb_reserve(&b, want);
    sb_add(&b, h, strlen(h) - 1);
    sb_lit(&b, ",\"training_jobs\":");
    write_trows(&b, &rows);
    sb_add(&b, "}", 1);
    if (b.over) {
        rc = err_set(e, ERR_INTERNAL, "the answer exceeds %d bytes", UI_BODY_MAX);
        goto out;
    }
    *text = b.buf;
    *len = b.len;
    b.buf = NULL;
out:
    free(b.buf);
    free(h);
    json_decref(head);
    request_free(r);
    trows_clear(&rows);
    return rc;
}

/* ---- CSV ---- */

/* One CSV field (RFC 4180 quoting). Text that a spreadsheet would take for
 * a formula (=, +, -, @ first, and not a number) gets a leading '. */
static void csv_field(sbuf *b, const char *s, int first) {
    if (!first)
        sb_add(b, ",", 1);
    if (!s)
        return;
    char *end;
    int formula = strchr("=+-@\t\r", s[0]) && s[0] && (strtod(s, &end), end == s || *end);
    int quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        sb_add(b, "\"", 1);
    if (formula)
        sb_add(b, "'", 1);
    for (const char *p = s; *p;) {
        size_t run = strcspn(p, "\"");
        sb_add(b, p, run);
        p += run;
        if (*p == '"') {
            sb_add(b, "\"\"", 2);
            p++;
        }
    }
    if (quote)
        sb_add(b, "\"", 1);
}

static void csv_time(sbuf *b, double s) {
    char t[40] = "";
    if (s > 0 && isfinite(s) && s < 1e15) {
        long long ms = (long long)llround(s * 1000);
        time_t sec = (time_t)(ms / 1000);
        struct tm tm;
        if (gmtime_r(&sec, &tm)) {
            size_t n = strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(t + n, sizeof t - n, ".%03dZ", (int)(ms % 1000));
        }
    }
    csv_field(b, t, 0);
}

static int build_csv(ui_data *d, const char *account, const char *name, char **csv, size_t *len,
                     err_t *e) {
    json_t *head = NULL;
    req_tuning *r = NULL;
    trows rows = {0};
    sbuf b = {0};
    int rc;
    *csv = NULL;
    *len = 0;
    if ((rc = read_tuning(d, account, name, &head, &rows, &r, e)))
        goto out;
    size_t p = r ? r->nranges : 0;
    csv_field(&b, "name", 1);
    csv_field(&b, "status", 0);
    csv_field(&b, "objective", 0);
    for (size_t j = 0; j < p; j++)
        csv_field(&b, r->ranges[j].name, 0);
    csv_field(&b, "started", 0);
    csv_field(&b, "ended", 0);
    csv_field(&b, "failure_reason", 0);
    sb_add(&b, "\r\n", 2);
    for (size_t i = 0; i < rows.n; i++) {
        trow *t = &rows.v[i];
        char num[40] = "";
        if (t->has_obj)
            snprintf(num, sizeof num, "%.17g", t->obj);
        csv_field(&b, t->name, 1);
        csv_field(&b, t->status, 0);
        csv_field(&b, num, 0);
        const json_t *hp = trow_hp(t);
        for (size_t j = 0; j < p; j++)
            csv_field(&b, json_string_value(json_object_get(hp, r->ranges[j].name)), 0);
        csv_time(&b, t->started);
        csv_time(&b, t->ended);
        csv_field(&b, t->reason, 0);
        sb_add(&b, "\r\n", 2);
    }
    if (b.over) {
        rc = err_set(e, ERR_INTERNAL, "the CSV export exceeds %d bytes", UI_BODY_MAX);
        goto out;
    }
    *csv = b.buf;
    *len = b.len;
    b.buf = NULL;
out:
    free(b.buf);
    json_decref(head);
    request_free(r);
    trows_clear(&rows);
    return rc;
}

/* ---- one training job ---- */

static int read_points(ui_data *d, int64_t id, json_t *metrics, err_t *e) {
    sqlite3_stmt *st = d->q[Q_POINTS];
    char last[256] = "";
    json_t *cur = NULL;
    int64_t k = 0;
    int r, rc = 0;
    sqlite3_bind_int64(st, 1, id);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = col_text(st, 0);
        if (!cur || strcmp(name, last)) {
            snprintf(last, sizeof last, "%s", name);
            cur = json_object_get(metrics, name);
            if (!cur) {
                cur = json_array();
                if (!cur || json_object_set_new(metrics, name, cur)) {
                    rc = err_set(e, ERR_INTERNAL, "out of memory");
                    goto out;
                }
            }
            k = 0;
        }
        if (json_array_append_new(cur, json_pack("[f, I, f]", sqlite3_column_double(st, 1),
                                                 (json_int_t)++k, sqlite3_column_double(st, 2)))) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
    }
    if (r != SQLITE_DONE)
        rc = step_err(d, r, e);
out:
    sqlite3_reset(st);
    return rc;
}

static int read_transitions(ui_data *d, int64_t id, json_t *a, err_t *e) {
    sqlite3_stmt *st = d->q[Q_TRANSITIONS];
    int r, rc = 0;
    sqlite3_bind_int64(st, 1, id);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        if (json_array_append_new(a, json_pack("{s:s, s:f}", "status", col_text(st, 0), "time",
                                               sqlite3_column_double(st, 1)))) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
    if (r != SQLITE_DONE)
        rc = step_err(d, r, e);
out:
    sqlite3_reset(st);
    return rc;
}

int ui_data_training(ui_data *d, const char *account, const char *name, json_t **out, err_t *e) {
    sqlite3_stmt *st = d->q[Q_TRAINING];
    req_tuning *r = NULL;
    json_t *o = NULL, *metrics = NULL, *curve = NULL, *trans = NULL;
    int rc = 0, row, oom = 0;
    char metric[256] = "";
    *out = NULL;
    sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    row = sqlite3_step(st);
    if (row == SQLITE_DONE) {
        rc = err_set(e, ERR_NOT_FOUND, "no training job named %s", name);
        goto out;
    }
    if (row != SQLITE_ROW) {
        rc = step_err(d, row, e);
        goto out;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    const char *kind = col_text(st, 10);
    if (sqlite3_column_type(st, 14) != SQLITE_NULL)
        r = parse_request(sqlite3_column_int(st, 13), kind, col_text(st, 14), account);
    int maximize = 0;
    const char *m = r ? request_objective(r, 0, &maximize) : NULL;
    if (m)
        snprintf(metric, sizeof metric, "%s", m);
    else
        snprintf(metric, sizeof metric, "%s", col_text(st, 11));
    if (!(o = json_object()) || !(metrics = json_object()) || !(curve = json_array()) ||
        !(trans = json_array())) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    const char *hps = col_text(st, 3);
    json_t *hp = json_loads(*hps ? hps : "{}", 0, NULL);
    put(o, "name", json_string(col_text(st, 1)), &oom);
    put(o, "status", json_string(col_text(st, 2)), &oom);
    put(o, "tuning_job", !strcmp(kind, "tuning") ? json_string(col_text(st, 9)) : json_null(),
        &oom);
    put(o, "hyperparameters", json_is_object(hp) ? hp : (json_decref(hp), json_object()), &oom);
    put(o, "objective",
        *metric ? json_pack("{s:s, s:s}", "metric", metric, "type",
                            r ? (maximize ? "Maximize" : "Minimize") : col_text(st, 12))
                : json_null(),
        &oom);
    put(o, "final_objective", col_real_or_null(st, 4), &oom);
    put(o, "created", col_time(st, 5), &oom);
    put(o, "started", col_time(st, 6), &oom);
    put(o, "ended", col_time(st, 7), &oom);
    put(o, "failure_reason", col_string_or_null(st, 8), &oom);
    if (oom) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    sqlite3_reset(st);
    /* Every MetricDefinition, with or without values yet. */
    for (size_t i = 0; r && r->ndefs && i < r->defs[0].nmetrics; i++)
        if (json_object_set_new(metrics, r->defs[0].metrics[i].name, json_array())) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
    if ((rc = read_points(d, id, metrics, e)) || (rc = read_transitions(d, id, trans, e)))
        goto out;
    /* The objective's values by step: what the median rule and Hyperband
     * read (ingest.h: step = the emission count of the objective). */
    const json_t *pts = *metric ? json_object_get(metrics, metric) : NULL, *pt;
    size_t i;
    json_array_foreach(pts, i, pt) {
        if (json_array_append_new(
                curve, json_pack("[O, O]", json_array_get(pt, 1), json_array_get(pt, 2)))) {
            rc = err_set(e, ERR_INTERNAL, "out of memory");
            goto out;
        }
    }
    put(o, "metrics", metrics, &oom);
    put(o, "objective_curve", curve, &oom);
    put(o, "transitions", trans, &oom);
    metrics = curve = trans = NULL;
    if (oom) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
        goto out;
    }
    *out = o;
    o = NULL;
out:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    json_decref(o);
    json_decref(metrics);
    json_decref(curve);
    json_decref(trans);
    request_free(r);
    return rc;
}

/* ---- importances ---- */

typedef struct {
    double v;
    size_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    double x = ((const keyed *)a)->v, y = ((const keyed *)b)->v;
    return x < y ? -1 : x > y;
}

/* Average ranks (0-based) of v[0..n) into rank[], ties sharing theirs. */
static int ranks(const double *v, size_t n, double *rank) {
    keyed *k = malloc((n ? n : 1) * sizeof *k);
    if (!k)
        return -1;
    for (size_t i = 0; i < n; i++)
        k[i] = (keyed){v[i], i};
    qsort(k, n, sizeof *k, cmp_keyed);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b + 1 < n && k[b + 1].v == k[a].v)
            b++;
        for (size_t c = a; c <= b; c++)
            rank[k[c].i] = (double)(a + b) / 2.0;
        a = b + 1;
    }
    free(k);
    return 0;
}

/* omega^2 of y grouped by group[i] in [0, k) (-1: left out). */
static double omega2(const double *y, const int *group, size_t n, size_t k, double *sum,
                     size_t *cnt) {
    double tot = 0, sst = 0, ssb = 0;
    size_t m = 0, used = 0;
    memset(sum, 0, k * sizeof *sum);
    memset(cnt, 0, k * sizeof *cnt);
    for (size_t i = 0; i < n; i++)
        if (group[i] >= 0) {
            sum[group[i]] += y[i];
            cnt[group[i]]++;
            tot += y[i];
            m++;
        }
    if (m < UI_IMP_MIN_JOBS)
        return 0;
    double mean = tot / (double)m;
    for (size_t i = 0; i < n; i++)
        if (group[i] >= 0)
            sst += (y[i] - mean) * (y[i] - mean);
    for (size_t g = 0; g < k; g++)
        if (cnt[g]) {
            double gm = sum[g] / (double)cnt[g];
            ssb += (double)cnt[g] * (gm - mean) * (gm - mean);
            used++;
        }
    if (used < 2 || m <= used || sst <= 0)
        return 0;
    double msw = (sst - ssb) / (double)(m - used);
    double w = (ssb - (double)(used - 1) * msw) / (sst + msw);
    return w > 0 ? w : 0;
}

int ui_importances(size_t n, size_t p, const double *x, const size_t *levels, const double *y,
                   double *out) {
    double *ry = NULL, *col = NULL, *rcol = NULL, *sum = NULL, s = 0;
    int *group = NULL, rc = -1;
    size_t *cnt = NULL, kmax = UI_IMP_MAX_BINS;
    for (size_t j = 0; j < p; j++) {
        out[j] = 0;
        if (levels[j] > kmax)
            kmax = levels[j];
    }
    if (n < UI_IMP_MIN_JOBS || !p)
        return 0;
    if (!(ry = malloc(n * sizeof *ry)) || !(col = malloc(n * sizeof *col)) ||
        !(rcol = malloc(n * sizeof *rcol)) || !(group = malloc(n * sizeof *group)) ||
        !(sum = malloc(kmax * sizeof *sum)) || !(cnt = malloc(kmax * sizeof *cnt)) ||
        ranks(y, n, ry))
        goto out;
    for (size_t j = 0; j < p; j++) {
        size_t m = 0, k;
        for (size_t i = 0; i < n; i++)
            if (!isnan(x[i * p + j]))
                col[m++] = x[i * p + j];
        if (levels[j]) {
            k = levels[j];
            for (size_t i = 0; i < n; i++) {
                double v = x[i * p + j];
                group[i] = !isnan(v) && v >= 0 && v < (double)k ? (int)v : -1;
            }
        } else {
            /* Equal-count bins by the value's rank among the jobs that have one. */
            k = (size_t)floor(sqrt((double)m));
            k = k < 2 ? 2 : k > UI_IMP_MAX_BINS ? UI_IMP_MAX_BINS : k;
            if (ranks(col, m, rcol))
                goto out;
            for (size_t i = 0, c = 0; i < n; i++)
                if (isnan(x[i * p + j]))
                    group[i] = -1;
                else {
                    size_t b = (size_t)(rcol[c++] * (double)k / (double)m);
                    group[i] = (int)(b < k ? b : k - 1);
                }
        }
        out[j] = omega2(ry, group, n, k, sum, cnt);
        s += out[j];
    }
    if (s < UI_IMP_MIN_EXPLAINED)
        for (size_t j = 0; j < p; j++)
            out[j] = 0;
    else
        for (size_t j = 0; j < p; j++)
            out[j] /= s;
    rc = s >= UI_IMP_MIN_EXPLAINED ? 1 : 0;
out:
    free(ry);
    free(col);
    free(rcol);
    free(group);
    free(sum);
    free(cnt);
    return rc;
}
