/* fill_store — fills a data dir with many training jobs through the store
 * API, and times the store's list and describe queries on it.
 *
 *   fill_store fill DIR CHILDREN STANDALONE [POINTS]
 *                                             one tuning job (Completed) holding
 *                                             CHILDREN training jobs, plus STANDALONE
 *                                             training jobs of their own; one transaction;
 *                                             with POINTS, each training job also gets
 *                                             POINTS values of metrics acc and loss and
 *                                             its status transitions (the dashboard's
 *                                             bench, bench/ui_latency.py)
 *   fill_store time DIR REPS                  p50/p99 ms of each store query
 *
 * The jobs are finished (Completed with an objective, a few Failed and
 * Stopped), so that an hpod started on DIR serves them without running
 * anything. Account 123456789012 (the unsigned daemon's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "util.h"

#define ACCOUNT "123456789012"
#define TUNING "bench-tuning"
#define REQUEST                                                                                    \
    "{\"AwsAccountId\":\"" ACCOUNT "\",\"TuningJobName\":\"" TUNING "\","                          \
    "\"TuningJobConfig\":{\"Strategy\":\"Random\",\"ParameterRanges\":{"                           \
    "\"ContinuousParameterRanges\":[{\"Name\":\"lr\",\"MinValue\":\"0.0001\",\"MaxValue\":"        \
    "\"0.1\",\"ScalingType\":\"Logarithmic\"}],\"IntegerParameterRanges\":[{\"Name\":"             \
    "\"depth\",\"MinValue\":\"1\",\"MaxValue\":\"12\"}]},\"ResourceLimits\":{"                     \
    "\"MaxNumberOfTrainingJobs\":500000,\"MaxParallelTrainingJobs\":8},"                           \
    "\"TuningJobObjective\":{\"MetricName\":\"acc\",\"Type\":\"Maximize\"}},"                      \
    "\"TrainingJobDefinition\":{\"AlgorithmSpecification\":{\"TrainingImage\":\"bench\","          \
    "\"TrainingInputMode\":\"File\",\"MetricDefinitions\":[{\"Name\":\"acc\",\"Regex\":"           \
    "\"acc=([0-9.]+)\"}]},\"RoleArn\":\"arn:aws:iam::" ACCOUNT ":role/bench\","                    \
    "\"OutputDataConfig\":{\"S3OutputPath\":\"file:///tmp/out\"},\"ResourceConfig\":{"             \
    "\"InstanceCount\":1,\"InstanceType\":\"ml.m5.large\",\"VolumeSizeInGB\":1},"                  \
    "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":600}},\"_api_current\":true,"                  \
    "\"_original\":{}}"

/* The dashboard's bench reads the ranges back: a whole 2017 request. */
#define REQUEST_2017                                                                               \
    "{\"AwsAccountId\":\"" ACCOUNT "\",\"TuningJobName\":\"" TUNING "\","                          \
    "\"TuningJobConfig\":{\"Strategy\":\"Random\",\"ParameterRanges\":{"                           \
    "\"ContinuousParameterRanges\":[{\"Name\":\"lr\",\"Type\":\"Continuous\",\"MinValue\":\"0."    \
    "0001\",\"MaxValue\":"                                                                         \
    "\"0.1\",\"ScalingType\":\"Logarithmic\"}],\"IntegerParameterRanges\":[{\"Type\":\"Integer\"," \
    "\"Name\":"                                                                                    \
    "\"depth\",\"MinValue\":\"1\",\"MaxValue\":\"12\"}]},\"ResourceLimits\":{"                     \
    "\"MaxNumberOfTrainingJobs\":500000,\"MaxParallelTrainingJobs\":8},"                           \
    "\"TuningJobObjective\":{\"MetricName\":\"acc\",\"Type\":\"Maximize\"}},"                      \
    "\"TrainingJobDefinition\":{\"AlgorithmSpecification\":{\"TrainingImage\":\"bench\","          \
    "\"TrainingInputMode\":\"File\",\"MetricDefinitions\":[{\"Name\":\"acc\",\"Regex\":"           \
    "\"acc=([0-9.]+)\"},{\"Name\":\"loss\",\"Regex\":\"loss=([0-9.]+)\"}]},"                       \
    "\"RoleArn\":\"arn:aws:iam::" ACCOUNT ":role/bench\","                                         \
    "\"OutputDataConfig\":{\"S3OutputPath\":\"file:///tmp/out\"},\"ResourceConfig\":{"             \
    "\"InstanceCount\":1,\"InstanceType\":\"ml.m5.large\",\"VolumeSizeInGB\":1},"                  \
    "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":600}}}"

static int npoints; /* metric points per training job and metric (fill's POINTS) */

static void die(const char *what, int rc) {
    fprintf(stderr, "fill_store: %s failed (%d)\n", what, rc);
    exit(1);
}

static void tuning_row(store_tuning *t, const char *name, const char *kind, double created) {
    memset(t, 0, sizeof *t);
    snprintf(t->account, sizeof t->account, ACCOUNT);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->arn, sizeof t->arn, "arn:aws:sagemaker:us-east-1:" ACCOUNT ":%s/%s",
             strcmp(kind, "tuning") ? "training-job" : "hyper-parameter-tuning-job", name);
    snprintf(t->kind, sizeof t->kind, "%s", kind);
    snprintf(t->status, sizeof t->status, "Completed");
    t->api = 1;
    t->request = REQUEST;
    snprintf(t->strategy, sizeof t->strategy, "Random");
    t->seed = 42;
    snprintf(t->objective_metric, sizeof t->objective_metric, "acc");
    snprintf(t->objective_type, sizeof t->objective_type, "Maximize");
    t->max_jobs = 500000;
    t->max_parallel = 8;
    t->created = created;
}

/* Inserts training job `name` (of tuning job `tuning_id`, index idx) and
 * finishes it: mostly Completed with an objective; every 97th Failed, every
 * 89th Stopped. */
/* POINTS values of acc and loss, as ingest.c writes them, and the
 * transitions of a finished job. */
static void training_metrics(store *s, int64_t id, double created, const char *final) {
    store_point *p = calloc((size_t)npoints * 2, sizeof *p);
    int rc;
    if (!p)
        die("calloc", 0);
    for (int k = 0; k < npoints; k++) {
        double ts = created + 1 + 29.0 * k / npoints;
        p[2 * k] = (store_point){"loss", ts, 1.0 / (k + 1)};
        p[2 * k + 1] = (store_point){"acc", ts, 1.0 - 1.0 / (k + 2)};
    }
    if ((rc = store_add_points(s, id, p, (size_t)npoints * 2, 4096)))
        die("points", rc);
    free(p);
    if ((rc = store_add_transition(s, id, "Starting", created, "Starting")) ||
        (rc = store_add_transition(s, id, "Training", created + 1, "Training")) ||
        (rc = store_add_transition(s, id, final, created + 30, final)))
        die("transitions", rc);
}

static void training_row(store *s, int64_t tuning_id, const char *name, int idx, double created,
                         unsigned *seed) {
    char hp[256], tuned[128];
    store_training r = {0};
    err_t e = {0};
    int rc;
    double lr = 0.0001 + (double)rand_r(seed) / RAND_MAX * 0.1;
    int depth = 1 + rand_r(seed) % 12;
    snprintf(tuned, sizeof tuned, "{\"depth\":\"%d\",\"lr\":\"%.6g\"}", depth, lr);
    snprintf(hp, sizeof hp,
             "{\"_tuning_objective_metric\":\"acc\",\"depth\":\"%d\",\"epochs\":\"10\","
             "\"lr\":\"%.6g\"}",
             depth, lr);
    r.tuning_id = tuning_id;
    snprintf(r.account, sizeof r.account, ACCOUNT);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.idx = idx;
    snprintf(r.status, sizeof r.status, "InProgress");
    snprintf(r.secondary, sizeof r.secondary, "Starting");
    r.hyperparameters = hp;
    r.tuned = tuned;
    snprintf(r.strategy, sizeof r.strategy, "Random");
    r.seed = 42;
    r.created = created;
    snprintf(r.job_dir, sizeof r.job_dir, "/nonexistent/jobs/%s", name);
    if ((rc = store_insert_training(s, &r, &e)))
        die(e.msg, rc);
    if ((rc = store_training_launched(s, r.id, "pid:1:1", created + 1)))
        die("launched", rc);
    const char *st = idx % 97 == 0 ? "Failed" : idx % 89 == 0 ? "Stopped" : "Completed";
    if ((rc = store_training_finish(
             s, r.id, st, st, !strcmp(st, "Failed") ? "AlgorithmError" : NULL,
             !strcmp(st, "Completed"), (double)rand_r(seed) / RAND_MAX, created + 30)))
        die("finish", rc);
    if (npoints > 0)
        training_metrics(s, r.id, created, st);
}

static int fill(const char *dir, int children, int standalone) {
    err_t e = {0};
    util_mkdir_p(dir, 1);
    store *s = store_open(dir, &e);
    if (!s)
        die(e.msg, e.code);
    store_tuning t;
    double t0 = 1.7e9;
    unsigned seed = 1;
    int rc;
    if ((rc = store_begin(s)))
        die("begin", rc);
    tuning_row(&t, TUNING, "tuning", t0);
    if (npoints > 0) {
        t.api = 0;
        t.request = REQUEST_2017;
    }
    if ((rc = store_create_tuning(s, &t, &e)))
        die(e.msg, rc);
    if ((rc = store_set_tuning_status(s, t.id, "Completed", NULL, t0, t0 + children)))
        die("status", rc);
    /* Standalone jobs interleaved with the children in time. */
    int every = standalone ? (children + standalone) / standalone : 0;
    for (int i = 0, c = 0, k = 0; c < children || k < standalone; i++) {
        char name[STORE_NAME_MAX];
        double created = t0 + i;
        if (k < standalone && (c == children || (every && i % every == every - 1))) {
            store_tuning w;
            snprintf(name, sizeof name, "solo-%06d", k);
            tuning_row(&w, name, "training", created);
            if ((rc = store_create_tuning(s, &w, &e)))
                die(e.msg, rc);
            training_row(s, w.id, name, 0, created, &seed);
            k++;
        } else {
            snprintf(name, sizeof name, TUNING "-%06d-%08x", c, (unsigned)rand_r(&seed));
            training_row(s, t.id, name, c, created, &seed);
            c++;
        }
    }
    if ((rc = store_commit(s)))
        die("commit", rc);
    store_close(s);
    return 0;
}

/* ---- timing ---- */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int rows;
static void on_training(void *ud, const store_training *t) {
    rows++;
}
static void on_tuning(void *ud, const store_tuning *t) {
    rows++;
}

typedef struct {
    const char *name;
    store_list_query q;
    int tunings; /* 1: store_list_tunings */
    int op;      /* 0 list, 1 counts, 2 best, 3 get by name */
} timed;

static int run_one(store *s, timed *t, int64_t tid) {
    int more, rc;
    rows = 0;
    if (t->op == 1) {
        store_counts c;
        return store_tuning_counts(s, tid, 1.8e9, &c);
    }
    if (t->op == 2) {
        store_training b;
        rc = store_best_training(s, tid, 1, &b);
        store_training_clear(&b);
        return rc;
    }
    if (t->op == 3) {
        store_training b;
        rc = store_get_training(s, ACCOUNT, "SOLO-000001", &b);
        store_training_clear(&b);
        return rc == ERR_NOT_FOUND ? 0 : rc;
    }
    if (t->q.tuning_id)
        t->q.tuning_id = tid;
    return t->tunings ? store_list_tunings(s, &t->q, on_tuning, NULL, &more)
                      : store_list_trainings_q(s, &t->q, on_training, NULL, &more);
}

static int time_queries(const char *dir, int reps) {
    err_t e = {0};
    store *s = store_open(dir, &e);
    if (!s)
        die(e.msg, e.code);
    store_tuning t;
    int rc = store_get_tuning(s, ACCOUNT, TUNING, &t);
    if (rc)
        die("get tuning", rc);
    store_tuning_clear(&t);
    static const char *const failed[] = {"Failed", NULL};
    static const char *const completed[] = {"Completed", NULL};
#define Q(...) ((store_list_query){.account = ACCOUNT, .limit = 100, __VA_ARGS__})
    timed ops[] = {
        {.name = "trainings: created desc", .q = Q(.sort = STORE_SORT_CREATED, .descending = 1)},
        {.name = "trainings: created asc, page 500",
         .q = Q(.sort = STORE_SORT_CREATED, .offset = 50000)},
        {.name = "trainings: name asc", .q = Q(.sort = STORE_SORT_NAME)},
        {.name = "trainings: status desc", .q = Q(.sort = STORE_SORT_STATUS, .descending = 1)},
        {.name = "trainings: Failed, created desc",
         .q = Q(.sort = STORE_SORT_CREATED, .descending = 1, .statuses = failed)},
        {.name = "trainings: Completed, created desc",
         .q = Q(.sort = STORE_SORT_CREATED, .descending = 1, .statuses = completed)},
        {.name = "trainings: name contains 'solo-0000'",
         .q = Q(.sort = STORE_SORT_CREATED, .descending = 1, .name_contains = "SOLO-0000")},
        {.name = "trainings: created in last 1000 s",
         .q = Q(.sort = STORE_SORT_CREATED, .descending = 1, .created_after = 1.7e9 + 129000)},
        {.name = "trainings: modified before t0+1000",
         .q = Q(.sort = STORE_SORT_CREATED, .modified_before = 1.7e9 + 1000)},
        {.name = "tuning's: name asc", .q = Q(.tuning_id = 1, .sort = STORE_SORT_NAME)},
        {.name = "tuning's: created desc",
         .q = Q(.tuning_id = 1, .sort = STORE_SORT_CREATED, .descending = 1)},
        {.name = "tuning's: objective desc, with",
         .q =
             Q(.tuning_id = 1, .sort = STORE_SORT_OBJECTIVE, .descending = 1, .with_objective = 1)},
        {.name = "tuning's: objective asc, NULLs last",
         .q = Q(.tuning_id = 1, .sort = STORE_SORT_OBJECTIVE)},
        {.name = "tuning's: Failed, name asc",
         .q = Q(.tuning_id = 1, .sort = STORE_SORT_NAME, .statuses = failed)},
        {.name = "tuning's: Completed, name asc",
         .q = Q(.tuning_id = 1, .sort = STORE_SORT_NAME, .statuses = completed)},
        {.name = "tuning's: index desc",
         .q = Q(.tuning_id = 1, .sort = STORE_SORT_INDEX, .descending = 1)},
        {.name = "tunings: name asc", .q = Q(.sort = STORE_SORT_NAME), .tunings = 1},
        {.name = "tuning counts", .q = Q(0), .op = 1},
        {.name = "best training", .q = Q(0), .op = 2},
        {.name = "get training by name (case variant)", .q = Q(0), .op = 3},
    };
    double *ms = calloc((size_t)reps, sizeof *ms);
    printf("%-40s %8s %8s %6s\n", "store query", "p50 ms", "p99 ms", "rows");
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        for (int r = 0; r < reps; r++) {
            double a = now_ms();
            if ((rc = run_one(s, &ops[i], t.id)))
                die(ops[i].name, rc);
            ms[r] = now_ms() - a;
        }
        qsort(ms, (size_t)reps, sizeof *ms, cmp_double);
        printf("%-40s %8.3f %8.3f %6d\n", ops[i].name, ms[reps / 2],
               ms[(int)(reps * 0.99) < reps ? (int)(reps * 0.99) : reps - 1], rows);
    }
    free(ms);
    store_close(s);
    return 0;
}

int main(int argc, char **argv) {
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "fill")) {
        npoints = argc == 6 ? atoi(argv[5]) : 0;
        return fill(argv[2], atoi(argv[3]), atoi(argv[4]));
    }
    if (argc == 4 && !strcmp(argv[1], "time"))
        return time_queries(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1);
    fprintf(stderr, "usage: fill_store fill DIR CHILDREN STANDALONE [POINTS] | time DIR REPS\n");
    return 2;
}
