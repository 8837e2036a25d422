#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <time.h>

#include "store.h"
#include "util.h"

static char dir[64];

/* The sqlite3 handle of the last connection opened in this process (an
 * auto extension records it): the store's, to simulate a full disk on it. */
static sqlite3 *last_db;
static int record_db(sqlite3 *db, char **err, const void *api) {
    last_db = db;
    return SQLITE_OK;
}

/* A fresh store in dir/sub. */
static store *open_sub(const char *sub, char *path, size_t cap) {
    err_t e = {0};
    snprintf(path, cap, "%s/%s", dir, sub);
    util_rm_rf(path);
    util_mkdir_p(path, 1);
    store *s = store_open(path, &e);
    if (!s)
        fail_msg("store_open: %s", e.msg);
    return s;
}

static double ms_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void exec_ok(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static store *open_tmp(void) {
    err_t e = {0};
    store *s = store_open(dir, &e);
    assert_non_null(s);
    return s;
}

static void fill(store_tuning *t, const char *name) {
    memset(t, 0, sizeof *t);
    snprintf(t->account, sizeof t->account, "123456789012");
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->arn, sizeof t->arn, "arn:x:%s", name);
    snprintf(t->status, sizeof t->status, "Created");
    t->request = "{}";
    snprintf(t->strategy, sizeof t->strategy, "Random");
    t->seed = 0x7fffffffffffffffULL;
    snprintf(t->objective_metric, sizeof t->objective_metric, "acc");
    snprintf(t->objective_type, sizeof t->objective_type, "Maximize");
    t->max_jobs = 3;
    t->max_parallel = 1;
    t->created = 1.5;
}

static void test_tuning_roundtrip(void **unused) {
    store *s = open_tmp();
    store_tuning t, got;
    err_t e = {0};
    fill(&t, "a");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    assert_int_equal(store_create_tuning(s, &t, &e), ERR_IN_USE);
    assert_int_equal(store_get_tuning(s, "123456789012", "a", &got), 0);
    assert_int_equal(got.seed, 0x7fffffffffffffffULL);
    assert_string_equal(got.request, "{}");
    store_tuning_clear(&got);
    assert_int_equal(store_get_tuning(s, "999999999999", "a", &got), ERR_NOT_FOUND);
    assert_int_equal(store_set_tuning_status(s, t.id, "Running", NULL, 2.0, 0), 0);
    store_close(s);
    /* Reopening keeps the data and the secret; migrations are not re-run. */
    s = open_tmp();
    assert_int_equal(store_get_tuning_by_id(s, t.id, &got), 0);
    assert_string_equal(got.status, "Running");
    assert_true(got.started == 2.0);
    store_tuning_clear(&got);
    store_close(s);
}

typedef struct {
    int n;
    int64_t step[4];
    double v[4];
} points_got;

static void each_point_cb(void *ud, int64_t step, double v) {
    points_got *g = ud;
    if (g->n < 4) {
        g->step[g->n] = step;
        g->v[g->n++] = v;
    }
}

static void test_training_and_metrics(void **unused) {
    store *s = open_tmp();
    store_tuning t;
    err_t e = {0};
    fill(&t, "b");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    for (int i = 0; i < 3; i++) {
        store_training r = {0};
        r.tuning_id = t.id;
        snprintf(r.account, sizeof r.account, "123456789012");
        snprintf(r.name, sizeof r.name, "b-%03d", i);
        r.idx = i;
        snprintf(r.status, sizeof r.status, "InProgress");
        snprintf(r.secondary, sizeof r.secondary, "Starting");
        r.hyperparameters = "{\"x\":\"1\"}";
        snprintf(r.job_dir, sizeof r.job_dir, "/tmp/x");
        assert_int_equal(store_insert_training(s, &r, &e), 0);
        store_point p[2] = {{"acc", 1.0, 0.5 + i}, {"acc", 2.0, 0.1 * i}};
        assert_int_equal(store_add_points(s, r.id, p, 2, 100), 0);
        double v;
        assert_int_equal(store_final_metric(s, r.id, "acc", &v), 0);
        assert_true(v == 0.1 * i);
        int64_t count = -1;
        assert_int_equal(store_metric_count(s, r.id, "acc", &count), 0);
        assert_int_equal(count, 2);
        assert_int_equal(store_metric_count(s, r.id, "none", &count), 0);
        assert_int_equal(count, 0);
        assert_int_equal(store_training_finish(s, r.id, "Completed", "Completed", NULL, 1, v, 3),
                         0);
    }
    store_training best;
    assert_int_equal(store_best_training(s, t.id, 1, &best), 0);
    assert_string_equal(best.name, "b-002");
    assert_int_equal(best.log_offset, 100);
    store_training_clear(&best);
    store_counts c;
    assert_int_equal(store_tuning_counts(s, t.id, 10, &c), 0);
    assert_int_equal(c.completed, 3);
    assert_int_equal(c.objective_succeeded, 3);
    /* An early-stopped job keeps its objective: it counts, and may be the
     * best; a job stopped by the user keeps none and does not. */
    for (int i = 3; i < 5; i++) {
        store_training r = {0};
        r.tuning_id = t.id;
        snprintf(r.account, sizeof r.account, "123456789012");
        snprintf(r.name, sizeof r.name, "b-%03d", i);
        r.idx = i;
        snprintf(r.status, sizeof r.status, "InProgress");
        snprintf(r.secondary, sizeof r.secondary, "Starting");
        r.hyperparameters = "{\"x\":\"1\"}";
        snprintf(r.job_dir, sizeof r.job_dir, "/tmp/x");
        assert_int_equal(store_insert_training(s, &r, &e), 0);
        assert_int_equal(store_training_finish(s, r.id, "Stopped", "Stopped", NULL, i == 3,
                                               i == 3 ? 0.9 : 7.0, 3),
                         0);
    }
    assert_int_equal(store_best_training(s, t.id, 1, &best), 0);
    assert_string_equal(best.name, "b-003");
    store_training_clear(&best);
    assert_int_equal(store_best_training(s, t.id, 0, &best), 0); /* minimum: b-000's 0 */
    assert_string_equal(best.name, "b-000");
    /* its curve, in order, with steps */
    points_got got = {0};
    assert_int_equal(store_each_point(s, best.id, "acc", each_point_cb, &got), 0);
    assert_int_equal(got.n, 2);
    assert_true(got.step[0] == 1 && got.step[1] == 2 && got.v[0] == 0.5 && got.v[1] == 0.0);
    store_training_clear(&best);
    assert_int_equal(store_tuning_counts(s, t.id, 10, &c), 0);
    assert_int_equal(c.stopped, 2);
    assert_int_equal(c.objective_succeeded, 4);
    store_close(s);
}

/* A training job row of tuning job `tuning_id` (0: standalone). */
static void trow(store_training *r, int64_t tuning_id, const char *name, int idx, double created) {
    memset(r, 0, sizeof *r);
    r->tuning_id = tuning_id;
    snprintf(r->account, sizeof r->account, "123456789012");
    snprintf(r->name, sizeof r->name, "%s", name);
    r->idx = idx;
    snprintf(r->status, sizeof r->status, "InProgress");
    snprintf(r->secondary, sizeof r->secondary, "Starting");
    r->hyperparameters = "{}";
    r->created = created;
    snprintf(r->job_dir, sizeof r->job_dir, "/tmp/x");
}

#define NJOBS 40
typedef struct {
    int64_t id[NJOBS + 8];
    char name[NJOBS + 8][STORE_NAME_MAX];
    int n;
} got_rows;

static void on_row(void *ud, const store_training *t) {
    got_rows *g = ud;
    assert_true(g->n < NJOBS + 8);
    g->id[g->n] = t->id;
    snprintf(g->name[g->n], STORE_NAME_MAX, "%s", t->name);
    g->n++;
}

static void on_tuning_row(void *ud, const store_tuning *t) {
    got_rows *g = ud;
    assert_true(g->n < NJOBS + 8);
    g->id[g->n] = t->id;
    snprintf(g->name[g->n], STORE_NAME_MAX, "%s", t->name);
    g->n++;
}

/* What the lists are compared with: every job, its keys, sorted in C. */
typedef struct {
    int64_t id;
    char name[STORE_NAME_MAX], status[16];
    double created, modified;
    int has_obj;
    double obj;
    int idx;
    int tuning; /* child of the tuning job */
} ref_row;
static ref_row refs[NJOBS];
static int ref_sort, ref_desc;

static int ref_cmp(const void *x, const void *y) {
    const ref_row *a = x, *b = y;
    int r = 0;
    switch (ref_sort) {
    case STORE_SORT_CREATED:
        r = (a->created > b->created) - (a->created < b->created);
        break;
    case STORE_SORT_NAME:
        r = strcmp(a->name, b->name);
        break;
    case STORE_SORT_STATUS:
        r = strcmp(a->status, b->status);
        break;
    case STORE_SORT_OBJECTIVE:
        if (a->has_obj != b->has_obj)
            return b->has_obj - a->has_obj; /* NULLs last in both orders */
        if (a->has_obj)
            r = (a->obj > b->obj) - (a->obj < b->obj);
        break;
    case STORE_SORT_INDEX:
        r = a->idx - b->idx;
        break;
    }
    if (!r)
        r = (a->id > b->id) - (a->id < b->id);
    return ref_desc ? -r : r;
}

static int ref_keep(const ref_row *r, const store_list_query *q) {
    if (q->tuning_id > 0 && !r->tuning)
        return 0;
    if (q->name_contains && !strcasestr(r->name, q->name_contains))
        return 0;
    if (q->statuses) {
        int any = 0;
        for (int i = 0; q->statuses[i]; i++)
            any |= !strcmp(q->statuses[i], r->status);
        if (!any)
            return 0;
    }
    if ((q->created_after > 0 && !(r->created > q->created_after)) ||
        (q->created_before > 0 && !(r->created < q->created_before)) ||
        (q->modified_after > 0 && !(r->modified > q->modified_after)) ||
        (q->modified_before > 0 && !(r->modified < q->modified_before)))
        return 0;
    if (q->with_objective && !r->has_obj)
        return 0;
    return 1;
}

/* Pages through query q (page size `limit`) and compares every page with
 * the reference. */
static void check_list(store *s, store_list_query q, int limit) {
    ref_row want[NJOBS];
    int nw = 0;
    for (int i = 0; i < NJOBS; i++)
        if (ref_keep(&refs[i], &q))
            want[nw++] = refs[i];
    ref_sort = (int)q.sort;
    ref_desc = q.descending;
    qsort(want, (size_t)nw, sizeof *want, ref_cmp);
    q.limit = limit;
    int seen = 0;
    for (q.offset = 0;; q.offset += limit) {
        got_rows g = {.n = 0};
        int more = -1;
        assert_int_equal(store_list_trainings_q(s, &q, on_row, &g, &more), 0);
        for (int i = 0; i < g.n; i++) {
            assert_true(seen + i < nw);
            if (g.id[i] != want[seen + i].id)
                fail_msg("sort %d desc %d offset %lld row %d: got %s, want %s", q.sort,
                         q.descending, (long long)q.offset, i, g.name[i], want[seen + i].name);
        }
        seen += g.n;
        assert_int_equal(more, seen < nw);
        if (!more)
            break;
        assert_int_equal(g.n, limit);
    }
    assert_int_equal(seen, nw);
}

static void test_lists(void **unused) {
    char path[128];
    store *s = open_sub("lists", path, sizeof path);
    store_tuning t;
    err_t e = {0};
    fill(&t, "tune");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    static const char *const statuses[] = {"Completed", "Failed", "Stopped", "InProgress"};
    for (int i = 0; i < NJOBS; i++) {
        store_training r;
        ref_row *f = &refs[i];
        int child = i % 4 != 3;
        /* Names not in creation order; some differ in case only in part. */
        snprintf(f->name, sizeof f->name, "%s-%02d", i % 3 ? "job" : "Job", (i * 7) % NJOBS);
        f->created = 100 + (double)((i * 13) % 17); /* not in id order, with ties */
        f->idx = child ? i : 0;
        f->tuning = child;
        int64_t tid = t.id;
        if (!child) { /* a standalone job: its own wrapper */
            store_tuning w;
            fill(&w, f->name);
            snprintf(w.kind, sizeof w.kind, "training");
            assert_int_equal(store_create_tuning(s, &w, &e), 0);
            tid = w.id;
        }
        trow(&r, tid, f->name, f->idx, f->created);
        assert_int_equal(store_insert_training(s, &r, &e), 0);
        f->id = r.id;
        snprintf(f->status, sizeof f->status, "InProgress");
        f->modified = f->created;
        if (i % 6 != 5) {
            assert_int_equal(store_training_launched(s, r.id, "pid:1:1", f->created + 1), 0);
            f->modified = f->created + 1;
        }
        if (i % 6 < 4) {
            const char *st = statuses[i % 3];
            f->has_obj = i % 5 != 1 && !strcmp(st, "Completed");
            f->obj = (double)((i * 11) % 7); /* ties */
            assert_int_equal(store_training_finish(s, r.id, st, st, NULL, f->has_obj, f->obj,
                                                   f->created + 2 + i),
                             0);
            snprintf(f->status, sizeof f->status, "%s", st);
            f->modified = f->created + 2 + i;
        }
    }
    static const char *const done[] = {"Completed", "Failed", NULL};
    static const char *const failed[] = {"Failed", NULL};
    for (int sort = STORE_SORT_CREATED; sort <= STORE_SORT_INDEX; sort++)
        for (int desc = 0; desc < 2; desc++)
            for (int tuning = 0; tuning < 2; tuning++) {
                if (sort >= STORE_SORT_OBJECTIVE && !tuning)
                    continue; /* training-of-a-tuning-job orders */
                store_list_query q = {.account = "123456789012",
                                      .tuning_id = tuning ? t.id : 0,
                                      .sort = (store_sort)sort,
                                      .descending = desc};
                check_list(s, q, 7);
                check_list(s, q, 1);
                check_list(s, q, 100);
                q.statuses = done;
                check_list(s, q, 3);
                q.statuses = failed;
                check_list(s, q, 3);
                q.statuses = NULL;
                q.name_contains = "JOB-1"; /* case-insensitive */
                check_list(s, q, 4);
                q.name_contains = "%"; /* LIKE's wildcards are literal */
                check_list(s, q, 4);
                q.name_contains = NULL;
                q.created_after = 103;
                q.created_before = 110;
                check_list(s, q, 5);
                q.created_after = q.created_before = 0;
                q.modified_after = 104;
                q.modified_before = 130;
                check_list(s, q, 5);
                q.modified_after = q.modified_before = 0;
                q.with_objective = tuning;
                check_list(s, q, 6);
            }
    /* The account's training jobs include the standalone ones. */
    got_rows g = {.n = 0};
    int more;
    store_list_query all = {.account = "123456789012", .limit = 1000};
    assert_int_equal(store_list_trainings_q(s, &all, on_row, &g, &more), 0);
    assert_int_equal(g.n, NJOBS);
    assert_int_equal(more, 0);
    all.account = "999999999999";
    g.n = 0;
    assert_int_equal(store_list_trainings_q(s, &all, on_row, &g, &more), 0);
    assert_int_equal(g.n, 0);
    /* Caps: limit >= 1, no account, too many statuses. */
    all.account = "123456789012";
    all.limit = 0;
    assert_int_equal(store_list_trainings_q(s, &all, on_row, &g, &more), ERR_VALIDATION);
    all.limit = 1;
    all.account = NULL;
    assert_int_equal(store_list_trainings_q(s, &all, on_row, &g, &more), ERR_VALIDATION);
    /* Tuning jobs: kind "tuning" only; Created sorts as Running. */
    store_tuning a, b, c;
    fill(&a, "t-a");
    fill(&b, "t-b");
    fill(&c, "t-c");
    a.created = 5, b.created = 6, c.created = 7;
    assert_int_equal(store_create_tuning(s, &a, &e), 0);
    assert_int_equal(store_create_tuning(s, &b, &e), 0);
    assert_int_equal(store_create_tuning(s, &c, &e), 0);
    assert_int_equal(store_set_tuning_status(s, a.id, "Running", NULL, 8, 0), 0);
    assert_int_equal(store_set_tuning_status(s, c.id, "Failed", NULL, 8, 9), 0);
    /* Statuses: tune Created, t-a Running, t-b Created, t-c Failed. */
    store_list_query tq = {.account = "123456789012", .sort = STORE_SORT_STATUS, .limit = 10};
    g.n = 0;
    assert_int_equal(store_list_tunings(s, &tq, on_tuning_row, &g, &more), 0);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.name[0], "t-c");  /* Failed */
    assert_string_equal(g.name[1], "tune"); /* then Created/Running by id */
    assert_string_equal(g.name[2], "t-a");
    assert_string_equal(g.name[3], "t-b");
    static const char *const active[] = {"Created", "Running", NULL};
    tq.statuses = active;
    tq.sort = STORE_SORT_CREATED;
    tq.descending = 1;
    tq.limit = 2;
    g.n = 0;
    assert_int_equal(store_list_tunings(s, &tq, on_tuning_row, &g, &more), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(more, 1);
    assert_string_equal(g.name[0], "t-b");
    assert_string_equal(g.name[1], "t-a");
    store_close(s);
}

/* The counters as the old code computed them, from every row. */
static store_counts ref_counts;
static double ref_now;
static void count_row(void *ud, const store_training *t) {
    store_counts *c = &ref_counts;
    c->total++;
    if (!strcmp(t->status, "Completed")) {
        c->completed++;
        c->objective_succeeded += t->has_objective;
    } else if (!strcmp(t->status, "Failed")) {
        c->failed++;
    } else if (!strcmp(t->status, "Stopped")) {
        c->stopped++;
    } else if (!strcmp(t->status, "Stopping")) {
        c->stopping++;
    } else if (t->handle[0]) {
        c->in_progress++;
    } else {
        c->pending++;
    }
    if (t->started > 0 && t->ended > 0)
        c->finished_seconds += t->ended - t->started;
    else if (t->started > 0 && ref_now > t->started)
        c->inflight_seconds += ref_now - t->started;
}

static void check_counts(store *s, int64_t tuning_id, double now) {
    store_counts c;
    memset(&ref_counts, 0, sizeof ref_counts);
    ref_now = now;
    assert_int_equal(store_each_training(s, tuning_id, count_row, NULL), 0);
    assert_int_equal(store_tuning_counts(s, tuning_id, now, &c), 0);
    assert_int_equal(c.total, ref_counts.total);
    assert_int_equal(c.completed, ref_counts.completed);
    assert_int_equal(c.failed, ref_counts.failed);
    assert_int_equal(c.stopped, ref_counts.stopped);
    assert_int_equal(c.stopping, ref_counts.stopping);
    assert_int_equal(c.in_progress, ref_counts.in_progress);
    assert_int_equal(c.pending, ref_counts.pending);
    assert_int_equal(c.objective_succeeded, ref_counts.objective_succeeded);
    assert_float_equal(c.finished_seconds, ref_counts.finished_seconds, 1e-5);
    assert_float_equal(c.inflight_seconds, ref_counts.inflight_seconds, 1e-5);
}

static void test_counts(void **unused) {
    char path[128];
    store *s = open_sub("counts", path, sizeof path);
    store_tuning t, u;
    err_t e = {0};
    fill(&t, "tune");
    fill(&u, "other");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    assert_int_equal(store_create_tuning(s, &u, &e), 0);
    check_counts(s, t.id, 1e9); /* no training jobs: all zero */
    int64_t ids[12];
    double base = 1.7e9 + 0.123456;
    for (int i = 0; i < 12; i++) {
        store_training r;
        char name[32];
        snprintf(name, sizeof name, "c-%d", i);
        trow(&r, i == 11 ? u.id : t.id, name, i, base + i);
        assert_int_equal(store_insert_training(s, &r, &e), 0);
        ids[i] = r.id;
    }
    check_counts(s, t.id, base + 100);
    for (int i = 0; i < 10; i++)
        assert_int_equal(store_training_launched(s, ids[i], "pid:1:1", base + i + 0.5), 0);
    check_counts(s, t.id, base + 100);
    assert_int_equal(store_training_stop_requested(s, ids[0], 1), 0);
    assert_int_equal(
        store_training_finish(s, ids[1], "Completed", "Completed", NULL, 1, 0.5, base + 30.25), 0);
    assert_int_equal(
        store_training_finish(s, ids[2], "Completed", "Completed", NULL, 0, 0, base + 31.75), 0);
    assert_int_equal(store_training_finish(s, ids[3], "Failed", "Failed", "x", 0, 0, base + 40), 0);
    assert_int_equal(store_training_finish(s, ids[0], "Stopped", "Stopped", NULL, 0, 0, base + 41),
                     0);
    assert_int_equal(store_training_retry(s, ids[4]), 0); /* handle cleared: pending again */
    assert_int_equal(store_training_status(s, ids[5], "Stopping", "Stopping"), 0);
    check_counts(s, t.id, base + 100);
    check_counts(s, t.id, base + 1000.5);
    check_counts(s, u.id, base + 100);
    /* A job finishing twice (re-finished) is counted once. */
    assert_int_equal(
        store_training_finish(s, ids[1], "Completed", "Completed", NULL, 1, 0.9, base + 30.5), 0);
    check_counts(s, t.id, base + 100);
    store_training best;
    assert_int_equal(store_best_training(s, t.id, 1, &best), 0);
    assert_int_equal(best.id, ids[1]);
    store_training_clear(&best);
    store_close(s);
    /* The counters survive a reopen (and the migration does not re-run). */
    err_t e2 = {0};
    s = store_open(path, &e2);
    assert_non_null(s);
    check_counts(s, t.id, base + 100);
    store_close(s);
}

static void test_names_case_insensitive(void **unused) {
    char path[128];
    store *s = open_sub("names", path, sizeof path);
    store_tuning t, got;
    err_t e = {0};
    fill(&t, "My-Tune");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    fill(&t, "my-TUNE");
    assert_int_equal(store_create_tuning(s, &t, &e), ERR_IN_USE);
    assert_non_null(strstr(e.msg, "already exists"));
    /* Another kind is another namespace (a training job's wrapper). */
    snprintf(t.kind, sizeof t.kind, "training");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    /* Another account too. */
    fill(&t, "MY-TUNE");
    snprintf(t.account, sizeof t.account, "999999999999");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    assert_int_equal(store_get_tuning(s, "123456789012", "MY-tune", &got), 0);
    assert_string_equal(got.name, "My-Tune"); /* the case it was created with */
    store_tuning_clear(&got);
    store_training r, gr;
    trow(&r, 0, "Train-A", 0, 1);
    assert_int_equal(store_insert_training(s, &r, &e), 0);
    trow(&r, 0, "train-a", 0, 1);
    assert_int_equal(store_insert_training(s, &r, &e), ERR_IN_USE);
    assert_int_equal(store_get_training(s, "123456789012", "TRAIN-a", &gr), 0);
    assert_string_equal(gr.name, "Train-A");
    store_training_clear(&gr);
    assert_int_equal(store_get_training(s, "999999999999", "train-a", &gr), ERR_NOT_FOUND);
    store_close(s);
}

/* Schema version 1, as hpod wrote it before the migrations 2 and 3. */
static const char schema_v1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);"
    "CREATE TABLE tuning_jobs("
    " id INTEGER PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL,"
    " kind TEXT NOT NULL DEFAULT 'tuning',"
    " status TEXT NOT NULL, api INTEGER NOT NULL, request TEXT NOT NULL,"
    " strategy TEXT NOT NULL, seed INTEGER NOT NULL, objective_metric TEXT NOT NULL,"
    " objective_type TEXT NOT NULL, max_jobs INTEGER NOT NULL, max_parallel INTEGER NOT NULL,"
    " max_seconds INTEGER NOT NULL, created REAL NOT NULL, started REAL, ended REAL,"
    " failure_reason TEXT, UNIQUE(account, kind, name));"
    "CREATE TABLE training_jobs("
    " id INTEGER PRIMARY KEY, tuning_id INTEGER, account TEXT NOT NULL, name TEXT NOT NULL,"
    " idx INTEGER NOT NULL, status TEXT NOT NULL, secondary TEXT NOT NULL,"
    " hyperparameters TEXT NOT NULL, tuned TEXT NOT NULL, retried INTEGER NOT NULL DEFAULT 0,"
    " strategy TEXT NOT NULL, seed INTEGER NOT NULL, created REAL NOT NULL, started REAL,"
    " ended REAL, failure_reason TEXT, objective REAL, handle TEXT NOT NULL DEFAULT '',"
    " job_dir TEXT NOT NULL, log_offset INTEGER NOT NULL DEFAULT 0,"
    " stop_requested INTEGER NOT NULL DEFAULT 0, model_artifacts TEXT,"
    " UNIQUE(account, name));"
    "CREATE INDEX training_by_tuning ON training_jobs(tuning_id, idx);"
    "CREATE TABLE metric_points(training_id INTEGER NOT NULL, name TEXT NOT NULL,"
    " ts REAL NOT NULL, value REAL NOT NULL);"
    "CREATE INDEX points_by_job ON metric_points(training_id, name);"
    "CREATE TABLE final_metrics(training_id INTEGER NOT NULL, name TEXT NOT NULL,"
    " value REAL NOT NULL, ts REAL NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(training_id, name));"
    "CREATE TABLE transitions(training_id INTEGER NOT NULL, status TEXT NOT NULL,"
    " start REAL NOT NULL, message TEXT NOT NULL);"
    "CREATE INDEX transitions_by_job ON transitions(training_id);"
    "CREATE TABLE tags(account TEXT NOT NULL, arn TEXT NOT NULL, key TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY(arn, key));"
    "PRAGMA user_version=1;";

#define V1_TUNING(id, name)                                                                        \
    "INSERT INTO tuning_jobs VALUES(" #id ", '123456789012', '" name "', 'arn', 'tuning',"         \
    " 'Completed', 1, '{}', 'Random', 1, 'acc', 'Maximize', 9, 1, 0, 1.0, 2.0, 3.0, NULL);"
#define V1_TRAINING(id, tid, name, status, obj, started, ended)                                    \
    "INSERT INTO training_jobs(id, tuning_id, account, name, idx, status, secondary,"              \
    " hyperparameters, tuned, strategy, seed, created, started, ended, objective, handle,"         \
    " job_dir) VALUES(" #id ", " #tid ", '123456789012', '" name "', " #id ", '" status            \
    "', '" status "', '{}', '{}', 'Random', 1, 1.0, " #started ", " #ended ", " #obj               \
    ", 'pid:1:1', '/x');"

/* Writes a version-1 database in dir/sub holding `rows` (SQL). */
static void make_v1(const char *sub, const char *rows, char *path, size_t cap) {
    char db_path[256];
    sqlite3 *db;
    snprintf(path, cap, "%s/%s", dir, sub);
    util_rm_rf(path);
    util_mkdir_p(path, 1);
    snprintf(db_path, sizeof db_path, "%s/openhpo.db", path);
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    exec_ok(db, schema_v1);
    exec_ok(db, rows);
    sqlite3_close(db);
}

/* 1 when index `name` of the database in `path` is UNIQUE. */
static int index_unique(const char *path, const char *name) {
    char db_path[256], sql[256];
    sqlite3 *db;
    sqlite3_stmt *st;
    int unique = -1;
    snprintf(db_path, sizeof db_path, "%s/openhpo.db", path);
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    snprintf(sql, sizeof sql, "SELECT \"unique\" FROM pragma_index_list('%s') WHERE name='%s'",
             !strncmp(name, "tuning", 6) ? "tuning_jobs" : "training_jobs", name);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        unique = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return unique;
}

static void test_migration(void **unused) {
    char path[128];
    err_t e = {0};
    store_counts c;
    /* A version-1 database: counters backfilled, names made unique. */
    make_v1("v1",
            V1_TUNING(1, "Tune") V1_TRAINING(1, 1, "Tune-1", "Completed", 0.5, 10.0, 20.5)
                V1_TRAINING(2, 1, "Tune-2", "Failed", NULL, 10.0, 12.0)
                    V1_TRAINING(3, 1, "Tune-3", "InProgress", NULL, 10.0, NULL),
            path, sizeof path);
    store *s = store_open(path, &e);
    assert_non_null(s);
    assert_int_equal(store_tuning_counts(s, 1, 15, &c), 0);
    assert_int_equal(c.total, 3);
    assert_int_equal(c.completed, 1);
    assert_int_equal(c.failed, 1);
    assert_int_equal(c.in_progress, 1);
    assert_int_equal(c.objective_succeeded, 1);
    assert_float_equal(c.finished_seconds, 12.5, 1e-6);
    assert_float_equal(c.inflight_seconds, 5, 1e-6);
    store_training r;
    trow(&r, 1, "TUNE-1", 9, 1);
    assert_int_equal(store_insert_training(s, &r, &e), ERR_IN_USE);
    store_close(s);
    assert_int_equal(index_unique(path, "training_name_nocase"), 1);
    assert_int_equal(index_unique(path, "tuning_name_nocase"), 1);
    /* One holding names that differ in case only: it still opens; the
     * index is a plain one and new case variants are refused in code. */
    make_v1("v1dup",
            V1_TUNING(1, "Tune") V1_TUNING(2, "tune")
                V1_TRAINING(1, 1, "Dup", "Completed", 0.5, 10.0, 20.0)
                    V1_TRAINING(2, 2, "dup", "Completed", 0.7, 10.0, 20.0),
            path, sizeof path);
    s = store_open(path, &e);
    assert_non_null(s);
    assert_int_equal(index_unique(path, "training_name_nocase"), 0);
    assert_int_equal(index_unique(path, "tuning_name_nocase"), 0);
    store_training got;
    assert_int_equal(store_get_training(s, "123456789012", "dup", &got), 0);
    assert_int_equal(got.id, 2); /* the exact match first */
    store_training_clear(&got);
    assert_int_equal(store_get_training(s, "123456789012", "Dup", &got), 0);
    assert_int_equal(got.id, 1);
    store_training_clear(&got);
    store_tuning gt;
    assert_int_equal(store_get_tuning(s, "123456789012", "tune", &gt), 0);
    assert_int_equal(gt.id, 2);
    store_tuning_clear(&gt);
    trow(&r, 1, "DUP", 9, 1);
    assert_int_equal(store_insert_training(s, &r, &e), ERR_IN_USE);
    trow(&r, 1, "fresh", 9, 1);
    assert_int_equal(store_insert_training(s, &r, &e), 0);
    assert_int_equal(store_tuning_counts(s, 2, 15, &c), 0);
    assert_int_equal(c.total, 1);
    store_close(s);
}

static void on_tag_count(void *ud, const char *k, const char *v) {
    ++*(int *)ud;
}

/* Completion details, the internal failures' count, and a deletion: the
 * row becomes a tombstone (by id only), its tags go, its training jobs stay,
 * its name is free; a deletion left half done is finished. */
static void test_completion_and_delete(void **unused) {
    char path[128];
    store *s = open_sub("delete", path, sizeof path);
    store_tuning t, got, again;
    store_counts c;
    err_t e = {0};
    fill(&t, "gone");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    assert_int_equal(store_tags_add(s, t.account, t.arn, "team", "a"), 0);
    assert_int_equal(store_set_tuning_completion(s, t.id, 3, 100.5), 0);
    assert_int_equal(store_set_tuning_completion(s, t.id, 4, 200), 0); /* the time stays */
    assert_int_equal(store_get_tuning_by_id(s, t.id, &got), 0);
    assert_int_equal(got.not_improving, 4);
    assert_float_equal(got.converged, 100.5, 1e-9);
    store_tuning_clear(&got);
    store_training r1, r2, r3;
    trow(&r1, t.id, "gone-1", 0, 1);
    trow(&r2, t.id, "gone-2", 1, 2);
    trow(&r3, t.id, "gone-3", 2, 3);
    assert_int_equal(store_insert_training(s, &r1, &e), 0);
    assert_int_equal(store_insert_training(s, &r2, &e), 0);
    assert_int_equal(store_insert_training(s, &r3, &e), 0);
    assert_int_equal(store_training_finish(s, r1.id, "Failed", "Failed",
                                           STORE_INTERNAL_PREFIX ": lost 3 times", 0, 0, 5),
                     0);
    assert_int_equal(
        store_training_finish(s, r2.id, "Failed", "Failed", "AlgorithmError: exit 1", 0, 0, 5), 0);
    assert_int_equal(store_training_finish(s, r3.id, "Completed", "Completed", NULL, 1, 0.5, 5), 0);
    assert_int_equal(store_tuning_counts(s, t.id, 10, &c), 0);
    assert_int_equal(c.failed, 2);
    assert_int_equal(c.failed_internal, 1);
    assert_int_equal(store_tags_add(s, t.account, "arn:x:training/gone-1", "team", "a"), 0);
    /* Delete. */
    assert_int_equal(store_set_tuning_status(s, t.id, "Deleting", NULL, 0, 0), 0);
    assert_int_equal(store_delete_tuning(s, t.id), 0);
    assert_int_equal(store_get_tuning(s, t.account, "gone", &got), ERR_NOT_FOUND);
    assert_int_equal(store_get_tuning_by_id(s, t.id, &got), 0);
    assert_int_equal(strncmp(got.kind, STORE_DELETED_KIND, strlen(STORE_DELETED_KIND)), 0);
    store_tuning_clear(&got);
    int ntags = 0;
    assert_int_equal(store_each_tag(s, t.arn, on_tag_count, &ntags), 0);
    assert_int_equal(ntags, 0);
    assert_int_equal(store_each_tag(s, "arn:x:training/gone-1", on_tag_count, &ntags), 0);
    assert_int_equal(ntags, 1); /* a training job's tags stay */
    store_training tr;
    assert_int_equal(store_get_training(s, t.account, "gone-3", &tr), 0);
    assert_int_equal(tr.tuning_id, t.id);
    store_training_clear(&tr);
    got_rows g = {0};
    int more = 0;
    store_list_query tq = {.account = t.account, .sort = STORE_SORT_NAME, .limit = 10};
    assert_int_equal(store_list_tunings(s, &tq, on_tuning_row, &g, &more), 0);
    assert_int_equal(g.n, 0);
    /* The name is free again; a second delete of the tombstone does nothing. */
    fill(&again, "GONE");
    assert_int_equal(store_create_tuning(s, &again, &e), 0);
    assert_int_equal(store_delete_tuning(s, t.id), 0);
    assert_int_equal(store_get_tuning(s, t.account, "gone", &got), 0);
    assert_int_equal(got.id, again.id);
    store_tuning_clear(&got);
    /* Half done (Deleting, no tombstone): finished, and only those. */
    assert_int_equal(store_set_tuning_status(s, again.id, "Deleting", NULL, 0, 0), 0);
    store_tuning other;
    fill(&other, "stays");
    assert_int_equal(store_create_tuning(s, &other, &e), 0);
    assert_int_equal(store_set_tuning_status(s, other.id, "DeleteFailed", NULL, 0, 0), 0);
    int n = -1;
    assert_int_equal(store_finish_deletes(s, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_get_tuning(s, t.account, "gone", &got), ERR_NOT_FOUND);
    assert_int_equal(store_get_tuning(s, t.account, "stays", &got), 0);
    assert_string_equal(got.status, "DeleteFailed");
    store_tuning_clear(&got);
    assert_int_equal(store_finish_deletes(s, &n), 0);
    assert_int_equal(n, 0);
    store_close(s);
}

static void test_dir_lock(void **unused) {
    char path[128], want[256];
    err_t e = {0};
    store *s = open_sub("lock", path, sizeof path);
    store *t = store_open(path, &e);
    assert_null(t);
    snprintf(want, sizeof want, "another hpod (pid %d) is using %s", (int)getpid(), path);
    assert_string_equal(e.msg, want);
    store_close(s);
    /* Released with the store. */
    s = store_open(path, &e);
    assert_non_null(s);
    store_close(s);
}

static void test_busy(void **unused) {
    char path[128], db_path[256];
    store *s = open_sub("busy", path, sizeof path);
    store_tuning t, got;
    err_t e = {0};
    sqlite3 *other;
    fill(&t, "before");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    snprintf(db_path, sizeof db_path, "%s/openhpo.db", path);
    assert_int_equal(sqlite3_open(db_path, &other), SQLITE_OK);
    exec_ok(other, "BEGIN IMMEDIATE");
    uint64_t lost = store_commit_failures(s);
    double t0 = ms_now();
    /* A group that cannot begin: every write in it and its commit say so. */
    assert_int_equal(store_begin(s), ERR_UNAVAILABLE);
    assert_int_equal(store_set_tuning_status(s, t.id, "Running", NULL, 2, 0), ERR_UNAVAILABLE);
    assert_int_equal(store_sync(s), ERR_UNAVAILABLE);
    assert_int_equal(store_commit(s), ERR_UNAVAILABLE);
    assert_int_equal(store_commit_failures(s), lost + 1);
    /* Outside a group: each write fails on its own. */
    fill(&t, "during");
    assert_int_equal(store_create_tuning(s, &t, &e), ERR_UNAVAILABLE);
    store_training r;
    trow(&r, 0, "during", 0, 1);
    assert_int_equal(store_insert_training(s, &r, &e), ERR_UNAVAILABLE);
    double took = ms_now() - t0;
    if (took > 50)
        fail_msg("store calls took %.1f ms while the database was locked", took);
    /* Reads still work (WAL). */
    assert_int_equal(store_get_tuning(s, "123456789012", "before", &got), 0);
    assert_string_equal(got.status, "Created");
    store_tuning_clear(&got);
    exec_ok(other, "COMMIT");
    sqlite3_close(other);
    /* Once the lock is gone, everything works again. */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_get_tuning(s, "123456789012", "during", &got), 0);
    store_tuning_clear(&got);
    store_close(s);
}

static void test_full_disk(void **unused) {
    char path[128], sql[128], big[4096];
    store *s = open_sub("full", path, sizeof path);
    sqlite3 *db = last_db; /* the store's connection */
    store_tuning t, got;
    err_t e = {0};
    fill(&t, "tune");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int pages = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql, "PRAGMA max_page_count=%d", pages + 2);
    exec_ok(db, sql);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    uint64_t lost = store_commit_failures(s);
    /* A nested group whose writes fill the disk. */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_set_tuning_status(s, t.id, "Running", NULL, 2, 0), 0);
    int rc = 0, i;
    for (i = 0; i < 100 && !rc; i++) {
        store_training r;
        char name[32];
        snprintf(name, sizeof name, "big-%d", i);
        trow(&r, t.id, name, i, 1);
        r.hyperparameters = big;
        rc = store_insert_training(s, &r, &e);
    }
    assert_int_equal(rc, ERR_INTERNAL);
    assert_true(i > 1);
    assert_int_equal(store_commit_failures(s), lost + 1);
    /* The group is lost: later writes in it are refused, not autocommitted. */
    assert_int_equal(store_set_tuning_status(s, t.id, "Failed", NULL, 0, 0), ERR_INTERNAL);
    assert_int_equal(store_commit(s), 0); /* inner */
    assert_int_equal(store_commit(s), ERR_INTERNAL);
    /* Nothing of it was kept. */
    assert_int_equal(store_get_tuning_by_id(s, t.id, &got), 0);
    assert_string_equal(got.status, "Created");
    store_tuning_clear(&got);
    store_training gr;
    assert_int_equal(store_get_training(s, "123456789012", "big-0", &gr), ERR_NOT_FOUND);
    store_counts c;
    assert_int_equal(store_tuning_counts(s, t.id, 10, &c), 0);
    assert_int_equal(c.total, 0);
    /* Space is back: begin/commit work, the nesting is right. */
    exec_ok(db, "PRAGMA max_page_count=1000000");
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_set_tuning_status(s, t.id, "Running", NULL, 2, 0), 0);
    store_training r;
    trow(&r, t.id, "big-0", 0, 1);
    r.hyperparameters = big;
    assert_int_equal(store_insert_training(s, &r, &e), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(store_commit(s), 0); /* unmatched: a no-op */
    assert_int_equal(store_commit_failures(s), lost + 1);
    rc = store_get_training(s, "123456789012", "big-0", &gr);
    assert_int_equal(rc, 0);
    store_training_clear(&gr);
    assert_int_equal(store_tuning_counts(s, t.id, 10, &c), 0);
    assert_int_equal(c.total, 1);
    store_close(s);
    /* And it was committed for real. */
    s = store_open(path, &e);
    assert_non_null(s);
    assert_int_equal(store_get_tuning_by_id(s, t.id, &got), 0);
    assert_string_equal(got.status, "Running");
    store_tuning_clear(&got);
    store_close(s);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/openhpo-test-store-%d", (int)getpid());
    util_mkdir_p(dir, 1);
    sqlite3_auto_extension((void (*)(void))record_db);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tuning_roundtrip),
        cmocka_unit_test(test_training_and_metrics),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_names_case_insensitive),
        cmocka_unit_test(test_migration),
        cmocka_unit_test(test_completion_and_delete),
        cmocka_unit_test(test_dir_lock),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_full_disk),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    util_rm_rf(dir);
    return rc;
}
