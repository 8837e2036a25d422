/* engine: scheduling and every fault of issue 9, with a fake backend (a
 * backend_ops defined here, made with backend_from_ops), an injected clock,
 * suggestions and launches computed inline (no worker) and a real store in
 * a temp dir. Deterministic; nothing sleeps. The last tests run a real
 * worker (launches in flight): the fake start then waits at a gate that
 * the test opens (or the worker's stop does), and the loop runs until what
 * is awaited has happened. Store faults are injected through SQLite
 * itself: sqlite3_auto_extension hands the test the store's connection, on
 * which a commit hook fails COMMITs and an authorizer refuses one statement;
 * a second connection holding the write lock makes the store busy. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pwd.h>
#include <cmocka.h>

#include "backend_impl.h"
#include "contract.h"
#include "engine.h"
#include "image.h"
#include "rng.h"
#include "status.h"
#include "store.h"
#include "strategy.h"
#include "tenant.h"
#include "util.h"
#include "worker.h"

#define ACCOUNT "123456789012"

/* ---------- the fake backend ---------- */

#define FAKE_JOBS 256
typedef struct {
    char job_dir[1024];
    char name[64];
    char handle[32];
    int running, exited_ok, lost, never_started;
    int code, stopped_flag, timed_out;
    int infra;        /* the result says: the platform's failure */
    long max_runtime; /* as launched */
    int stops;        /* backend_stop calls */
    void (*on_exit)(void *);
    void *ud;
    int watched;
    char *log;
    size_t loglen;
    int run_as; /* as the launch named its user */
    uid_t uid;
    gid_t gid;
    char account[16];
} fake_job;

typedef struct {
    fake_job jobs[FAKE_JOBS];
    int n;
    int starts;
} fake;

static fake F;

/* The fake's start may run on a worker thread: F's jobs are appended under
 * F_mu, and a start waits while gate_closed is set (unless gate_wk is
 * stopping), counted in gate_waiting. All three guarded by F_mu. */
static pthread_mutex_t F_mu = PTHREAD_MUTEX_INITIALIZER;
static int gate_closed, gate_waiting;
static worker *gate_wk;

static void gate_set(int closed) {
    pthread_mutex_lock(&F_mu);
    gate_closed = closed;
    pthread_mutex_unlock(&F_mu);
}
static int gate_waiters(void) {
    pthread_mutex_lock(&F_mu);
    int n = gate_waiting;
    pthread_mutex_unlock(&F_mu);
    return n;
}

static fake_job *by_dir(const char *job_dir, const char *handle) {
    fake_job *j = NULL;
    pthread_mutex_lock(&F_mu);
    for (int i = F.n - 1; i >= 0 && !j; i--) /* the latest attempt */
        if ((handle && handle[0] && !strcmp(F.jobs[i].handle, handle)) ||
            ((!handle || !handle[0]) && !strcmp(F.jobs[i].job_dir, job_dir)))
            j = &F.jobs[i];
    pthread_mutex_unlock(&F_mu);
    return j;
}

static int starts_of(const char *name) {
    int n = 0;
    for (int i = 0; i < F.n; i++)
        n += !strcmp(F.jobs[i].name, name);
    return n;
}

static void *f_create(const backend_env *env, err_t *e) {
    return &F;
}
static void f_destroy(void *self) {}
static int f_start(void *self, const backend_launch *l, char handle[BACKEND_HANDLE_MAX], err_t *e) {
    pthread_mutex_lock(&F_mu);
    gate_waiting++;
    while (gate_closed && !(gate_wk && worker_stopping(gate_wk))) {
        struct timespec ms = {0, 1000000L};
        pthread_mutex_unlock(&F_mu);
        nanosleep(&ms, NULL);
        pthread_mutex_lock(&F_mu);
    }
    gate_waiting--;
    if (F.n >= FAKE_JOBS) {
        pthread_mutex_unlock(&F_mu);
        return err_set(e, ERR_INTERNAL, "too many fake jobs");
    }
    fake_job *j = &F.jobs[F.n];
    memset(j, 0, sizeof *j);
    snprintf(j->job_dir, sizeof j->job_dir, "%s", l->job_dir);
    snprintf(j->name, sizeof j->name, "%s", l->name);
    snprintf(j->account, sizeof j->account, "%s", l->account ? l->account : "");
    j->run_as = l->run_as;
    j->uid = l->uid;
    j->gid = l->gid;
    snprintf(j->handle, sizeof j->handle, "fake:%d", F.n);
    j->max_runtime = l->max_runtime;
    j->running = 1;
    snprintf(handle, BACKEND_HANDLE_MAX, "%s", j->handle);
    F.n++;
    F.starts++;
    pthread_mutex_unlock(&F_mu);
    return 0;
}
static backend_state f_watch(void *self, const char *job_dir, const char *handle,
                             void (*on_exit)(void *ud), void *ud, backend_watch **w) {
    fake_job *j = by_dir(job_dir, handle);
    if (!j)
        return BACKEND_LOST;
    if (!j->running)
        return j->lost ? BACKEND_LOST : BACKEND_EXITED;
    j->on_exit = on_exit;
    j->ud = ud;
    j->watched = 1;
    *w = (backend_watch *)j;
    return BACKEND_RUNNING;
}
static void f_unwatch(void *self, backend_watch *w) {
    fake_job *j = (fake_job *)w;
    j->watched = 0;
    j->on_exit = NULL;
}
static int f_stop(void *self, const char *job_dir, const char *handle) {
    fake_job *j = by_dir(job_dir, handle);
    if (j)
        j->stops++;
    return 0;
}
static backend_state f_result(void *self, const char *job_dir, const char *handle,
                              backend_result *r) {
    fake_job *j = by_dir(job_dir, handle);
    if (!j || j->lost) {
        r->never_started = j && j->never_started;
        return BACKEND_LOST;
    }
    if (j->running)
        return BACKEND_RUNNING;
    memset(r, 0, sizeof *r);
    r->exited = 1;
    r->code = j->code;
    r->stopped = j->stopped_flag;
    r->timed_out = j->timed_out;
    r->infrastructure = j->infra;
    if (j->infra)
        snprintf(r->error, sizeof r->error, "the container engine failed");
    return BACKEND_EXITED;
}
static ssize_t f_read_log(void *self, const char *job_dir, const char *handle, int64_t offset,
                          char *buf, size_t n) {
    fake_job *j = by_dir(job_dir, handle);
    if (!j || offset >= (int64_t)j->loglen)
        return 0;
    size_t m = j->loglen - (size_t)offset < n ? j->loglen - (size_t)offset : n;
    memcpy(buf, j->log + offset, m);
    return (ssize_t)m;
}
static const backend_ops fake_ops = {.name = "local",
                                     .caps = BACKEND_CAP_HOST_DIR,
                                     .create = f_create,
                                     .destroy = f_destroy,
                                     .start = f_start,
                                     .watch = f_watch,
                                     .unwatch = f_unwatch,
                                     .stop = f_stop,
                                     .result = f_result,
                                     .read_log = f_read_log};

static void fake_print(fake_job *j, const char *s) {
    size_t n = strlen(s);
    j->log = realloc(j->log, j->loglen + n);
    assert_non_null(j->log);
    memcpy(j->log + j->loglen, s, n);
    j->loglen += n;
}

/* Ends a job: exit code, the stop flag; on_exit as a backend calls it. */
static void fake_end(fake_job *j, int code, int stopped) {
    j->running = 0;
    j->code = code;
    j->stopped_flag = stopped;
    if (j->watched && j->on_exit) {
        void (*cb)(void *) = j->on_exit;
        j->on_exit = NULL;
        cb(j->ud);
    }
}

static void fake_reset(void) {
    for (int i = 0; i < F.n; i++)
        free(F.jobs[i].log);
    memset(&F, 0, sizeof F);
}

/* ---------- the fixture ---------- */

/* Members added to HyperParameterTuningJobConfig and to the definition by
 * add_tuning (each "" or ", \"Member\": ..."). */
static const char *extra_cfg = "", *extra_def = "";
/* The warm-start parents add_tuning() gives the next row (then cleared). */
static int64_t warm_parents[STORE_MAX_PARENTS];
static int nwarm_parents;

static double clock_now = 1000.0;
static double fake_now(void *ud) {
    return clock_now;
}

static sqlite3 *store_db; /* the store's connection (auto extension) */
static int fail_commits;  /* commits to fail from now on */
static int skip_commits;  /* commits to let through before failing */
static int deny_handle;   /* refuse statements writing training_jobs.handle */
static int commit_hook(void *ud) {
    if (skip_commits > 0) {
        skip_commits--;
        return 0;
    }
    if (fail_commits > 0) {
        fail_commits--;
        return 1; /* the COMMIT becomes a ROLLBACK */
    }
    return 0;
}
static int authorizer(void *ud, int op, const char *a, const char *b, const char *c,
                      const char *d) {
    if (deny_handle && op == SQLITE_UPDATE && a && b && !strcmp(a, "training_jobs") &&
        !strcmp(b, "handle"))
        return SQLITE_DENY;
    return SQLITE_OK;
}
static int grab_db(sqlite3 *db, const char **err, const void *api) {
    store_db = db;
    sqlite3_commit_hook(db, commit_hook, NULL);
    sqlite3_set_authorizer(db, authorizer, NULL);
    return SQLITE_OK;
}

typedef struct {
    char dir[64];
    loop *l;
    store *st;
    backend *be;
    backend *bes[1];
    engine *en;
    worker *wk; /* NULL: inline */
    const strategy_ops *strat;
    int max_running;
    const tenant *tn; /* NULL: no policy */
} fx;

static fx X;

static void engine_up(void) {
    err_t e = {0};
    engine_config c = {.l = X.l,
                       .st = X.st,
                       .backends = X.bes,
                       .nbackends = 1,
                       .wk = X.wk,
                       .data_dir = X.dir,
                       .images = NULL,
                       .grace = 1,
                       .max_running = X.max_running,
                       .tenant = X.tn,
                       .now = fake_now,
                       .strategy = X.strat};
    X.en = engine_new(&c, &e);
    assert_non_null(X.en);
    assert_int_equal(engine_start(X.en, &e), 0);
}

static int setup(void **state) {
    fake_reset();
    memset(&X, 0, sizeof X);
    fail_commits = skip_commits = deny_handle = 0;
    extra_cfg = extra_def = "";
    gate_closed = gate_waiting = 0;
    gate_wk = NULL;
    clock_now = 1000.0;
    snprintf(X.dir, sizeof X.dir, "/tmp/test_engine.XXXXXX");
    assert_non_null(mkdtemp(X.dir));
    err_t e = {0};
    X.l = loop_new();
    assert_non_null(X.l);
    sqlite3_auto_extension((void (*)(void))grab_db);
    X.st = store_open(X.dir, &e);
    assert_non_null(X.st);
    sqlite3_cancel_auto_extension((void (*)(void))grab_db);
    X.be = backend_from_ops(&fake_ops, &F);
    X.bes[0] = X.be;
    return 0;
}

static int teardown(void **state) {
    engine_free(X.en);
    gate_set(0);
    worker_free(X.wk); /* after the engine, as hpod does */
    gate_wk = NULL;
    backend_free(X.be);
    store_close(X.st);
    loop_free(X.l);
    util_rm_rf(X.dir);
    fake_reset();
    return 0;
}

/* A tuning job as the current API stores it (the request text). */
static int64_t add_tuning(const char *name, int max_jobs, int max_parallel, int64_t max_seconds) {
    char req[4096];
    snprintf(req, sizeof req,
             "{\"HyperParameterTuningJobName\": \"%s\","
             " \"HyperParameterTuningJobConfig\": {\"Strategy\": \"Random\","
             "  \"ResourceLimits\": {\"MaxNumberOfTrainingJobs\": %d, "
             "\"MaxParallelTrainingJobs\": %d},"
             "  \"HyperParameterTuningJobObjective\": {\"Type\": \"Maximize\", \"MetricName\": "
             "\"acc\"},"
             "  \"ParameterRanges\": {\"ContinuousParameterRanges\": [{\"Name\": \"x\", "
             "\"MinValue\": \"0\", \"MaxValue\": \"1\"}]}%s},"
             " \"TrainingJobDefinition\": {\"AlgorithmSpecification\": {\"TrainingImage\": "
             "\"/bin/true\", \"TrainingInputMode\": \"File\", \"MetricDefinitions\": "
             "[{\"Name\": \"acc\", \"Regex\": \"acc=([0-9.]+)\"}]},"
             "  \"RoleArn\": \"arn:aws:iam::123456789012:role/r\","
             "  \"OutputDataConfig\": {\"S3OutputPath\": \"file:///nonexistent\"},"
             "  \"ResourceConfig\": {\"InstanceType\": \"ml.m5.large\", \"InstanceCount\": 1, "
             "\"VolumeSizeInGB\": 1},"
             "  \"StoppingCondition\": {\"MaxRuntimeInSeconds\": 3600}%s},"
             " \"Tags\": [{\"Key\": \"team\", \"Value\": \"blue\"}]}",
             name, max_jobs, max_parallel, extra_cfg, extra_def);
    store_tuning t = {0};
    err_t e = {0};
    snprintf(t.account, sizeof t.account, ACCOUNT);
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.arn, sizeof t.arn, "arn:aws:sagemaker:us-east-1:%s:hyper-parameter-tuning-job/%s",
             ACCOUNT, name);
    snprintf(t.kind, sizeof t.kind, "tuning");
    snprintf(t.status, sizeof t.status, "Created");
    t.api = API_CURRENT;
    snprintf(t.strategy, sizeof t.strategy, "Random");
    t.seed = 42;
    snprintf(t.objective_metric, sizeof t.objective_metric, "acc");
    snprintf(t.objective_type, sizeof t.objective_type, "Maximize");
    t.max_jobs = max_jobs;
    t.max_parallel = max_parallel;
    t.max_seconds = max_seconds;
    t.created = clock_now;
    t.request = req;
    memcpy(t.parents, warm_parents, sizeof t.parents);
    t.nparents = nwarm_parents;
    nwarm_parents = 0;
    assert_int_equal(store_create_tuning(X.st, &t, &e), 0);
    assert_int_equal(store_tags_add(X.st, ACCOUNT, t.arn, "team", "blue"), 0);
    if (X.en)
        assert_int_equal(engine_add_tuning(X.en, t.id, &e), 0);
    return t.id;
}

static tuning_status tuning_status_of(int64_t id) {
    store_tuning t = {0};
    tuning_status s = TUNING__COUNT;
    assert_int_equal(store_get_tuning_by_id(X.st, id, &t), 0);
    assert_int_equal(tuning_status_parse(t.status, &s), 0);
    store_tuning_clear(&t);
    return s;
}

static store_training training_of(const char *name) {
    store_training t = {0};
    assert_int_equal(store_get_training(X.st, ACCOUNT, name, &t), 0);
    return t;
}

static training_status training_status_of(const char *name) {
    store_training t = training_of(name);
    training_status s = TRAINING__COUNT;
    assert_int_equal(training_status_parse(t.status, &s), 0);
    store_training_clear(&t);
    return s;
}

static void tick(int n) {
    for (int i = 0; i < n; i++)
        engine_tick(X.en);
}

/* Ends every running fake job with "acc=V" printed and exit 0. */
static void end_all_ok(double v) {
    char line[64];
    snprintf(line, sizeof line, "acc=%g\n", v);
    for (int i = 0; i < F.n; i++)
        if (F.jobs[i].running) {
            fake_print(&F.jobs[i], line);
            fake_end(&F.jobs[i], 0, 0);
        }
}

static int running_fakes(void) {
    int n = 0;
    for (int i = 0; i < F.n; i++)
        n += F.jobs[i].running;
    return n;
}

/* ---------- the tests ---------- */

static void test_parallel_and_total_limits(void **unused) {
    engine_up();
    int64_t id = add_tuning("lim", 5, 2, 0);
    tick(3);
    assert_int_equal(F.starts, 2); /* MaxParallel */
    assert_int_equal(engine_running(X.en), 2);
    assert_int_equal(tuning_status_of(id), TUNING_RUNNING);
    for (int round = 0; round < 5 && running_fakes(); round++) {
        end_all_ok(0.5 + round);
        tick(2);
        assert_true(running_fakes() <= 2);
    }
    assert_int_equal(F.starts, 5); /* MaxNumber */
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
    assert_int_equal(engine_tunings(X.en), 0);
    /* Every child got the tuning job's tags; each ran once. */
    for (int i = 0; i < F.n; i++) {
        char arn[256];
        int n = 0;
        assert_int_equal(starts_of(F.jobs[i].name), 1);
        snprintf(arn, sizeof arn, "arn:aws:sagemaker:us-east-1:%s:training-job/%s", ACCOUNT,
                 F.jobs[i].name);
        assert_int_equal(store_tags_count(X.st, arn, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(training_status_of(F.jobs[i].name), TRAINING_COMPLETED);
    }
}

static void test_machine_cap(void **unused) {
    X.max_running = 3;
    engine_up();
    int64_t a = add_tuning("capa", 4, 2, 0), b = add_tuning("capb", 4, 2, 0);
    tick(3);
    assert_int_equal(running_fakes(), 3);
    assert_int_equal(engine_running(X.en), 3);
    for (int round = 0; round < 10 && running_fakes(); round++) {
        end_all_ok(1);
        tick(2);
        assert_true(running_fakes() <= 3);
    }
    assert_int_equal(F.starts, 8);
    assert_int_equal(tuning_status_of(a), TUNING_COMPLETED);
    assert_int_equal(tuning_status_of(b), TUNING_COMPLETED);
}

static void test_clock_limit(void **unused) {
    engine_up();
    int64_t id = add_tuning("clk", 10, 2, 100);
    tick(2);
    assert_int_equal(F.starts, 2);
    fake_print(&F.jobs[0], "acc=0.25\n");
    clock_now += 99;
    tick(1);
    assert_int_equal(F.jobs[0].stops + F.jobs[1].stops, 0);
    clock_now += 2; /* past 100 s */
    tick(1);
    assert_int_equal(F.jobs[0].stops, 1);
    assert_int_equal(F.jobs[1].stops, 1);
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_STOPPING);
    fake_end(&F.jobs[0], 0, 0); /* exited 0 after the signal: Completed, its value counts */
    fake_end(&F.jobs[1], 143, 1);
    tick(2);
    assert_int_equal(F.starts, 2); /* nothing launched after the limit */
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_COMPLETED);
    assert_int_equal(training_status_of(F.jobs[1].name), TRAINING_STOPPED);
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
}

static void test_stop_tuning(void **unused) {
    err_t e = {0};
    engine_up();
    int64_t id = add_tuning("stp", 10, 3, 0);
    tick(1);
    assert_int_equal(F.starts, 3);
    assert_int_equal(engine_stop_tuning(X.en, id, &e), 0);
    assert_int_equal(tuning_status_of(id), TUNING_STOPPING);
    tick(1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(F.jobs[i].stops, 1);
        assert_int_equal(training_status_of(F.jobs[i].name), TRAINING_STOPPING);
    }
    tick(1);
    assert_int_equal(tuning_status_of(id), TUNING_STOPPING); /* until they end */
    for (int i = 0; i < 3; i++)
        fake_end(&F.jobs[i], 143, 1);
    tick(2);
    assert_int_equal(F.starts, 3);
    assert_int_equal(tuning_status_of(id), TUNING_STOPPED);
    for (int i = 0; i < 3; i++)
        assert_int_equal(training_status_of(F.jobs[i].name), TRAINING_STOPPED);
    /* A stop of a final job is a no-op. */
    assert_int_equal(engine_stop_tuning(X.en, id, &e), 0);
    assert_int_equal(tuning_status_of(id), TUNING_STOPPED);
}

/* A stop that arrives before the trial ever launched is not lost: the
 * trial never runs. */
static void test_stop_before_launch(void **unused) {
    err_t e = {0};
    engine_up();
    int64_t id = add_tuning("early", 3, 1, 0);
    assert_int_equal(engine_stop_tuning(X.en, id, &e), 0);
    tick(2);
    assert_int_equal(F.starts, 0);
    assert_int_equal(tuning_status_of(id), TUNING_STOPPED);
}

/* acc=1 ... acc=20000 printed at once: the objective is the last value. */
static void test_objective_is_last_of_20000(void **unused) {
    engine_up();
    add_tuning("fast", 1, 1, 0);
    tick(1);
    assert_int_equal(F.starts, 1);
    char line[32];
    for (int i = 1; i <= 20000; i++) {
        snprintf(line, sizeof line, "acc=%d\n", i);
        fake_print(&F.jobs[0], line);
    }
    fake_end(&F.jobs[0], 0, 0);
    tick(4);
    store_training t = training_of(F.jobs[0].name);
    assert_string_equal(t.status, "Completed");
    assert_true(t.has_objective);
    assert_true(t.objective == 20000);
    assert_int_equal(t.log_offset, (int64_t)F.jobs[0].loglen);
    double v = 0;
    assert_int_equal(store_final_metric(X.st, t.id, "acc", &v), 0);
    assert_true(v == 20000);
    store_training_clear(&t);
}

/* The logs endpoint's reader goes through the job's backend (the fake keeps
 * its log in memory: there is no output.log on disk), while the tuning job
 * runs and after it has ended and left memory. */
static void test_read_log_through_backend(void **unused) {
    engine_up();
    add_tuning("logs", 1, 1, 0);
    tick(1);
    assert_int_equal(F.starts, 1);
    fake_print(&F.jobs[0], "hello acc=1\n");
    store_training t = training_of(F.jobs[0].name);
    char buf[64];
    ssize_t n = engine_read_log(X.en, &t, 0, buf, sizeof buf);
    assert_int_equal(n, 12);
    assert_memory_equal(buf, "hello acc=1\n", 12);
    assert_int_equal(engine_read_log(X.en, &t, 6, buf, sizeof buf), 6);
    assert_int_equal(engine_read_log(X.en, &t, 100, buf, sizeof buf), 0);
    store_training_clear(&t);
    fake_end(&F.jobs[0], 0, 0);
    tick(4);
    t = training_of(F.jobs[0].name);
    assert_string_equal(t.status, "Completed");
    assert_int_equal(engine_read_log(X.en, &t, 0, buf, sizeof buf), 12);
    store_training_clear(&t);
}

/* A long log is read a bounded slice per tick: the job is final only once
 * all of it is consumed. */
static void test_log_read_in_slices(void **unused) {
    engine_up();
    add_tuning("slices", 1, 1, 0);
    tick(1);
    char pad[1025];
    memset(pad, 'x', 1023);
    pad[1023] = '\n';
    pad[1024] = 0;
    for (int i = 0; i < 2048; i++) /* 2 MiB */
        fake_print(&F.jobs[0], pad);
    fake_print(&F.jobs[0], "acc=7\n");
    fake_end(&F.jobs[0], 0, 0);
    int ticks = 0;
    while (training_status_of(F.jobs[0].name) == TRAINING_IN_PROGRESS && ticks < 100) {
        tick(1);
        ticks++;
    }
    assert_true(ticks >= 8); /* 2 MiB / 256 KiB */
    store_training t = training_of(F.jobs[0].name);
    assert_true(t.has_objective && t.objective == 7);
    store_training_clear(&t);
}

/* The name a child would take: <tuning>-<NNN>-<8 hex of the ARN and index>. */
static void child_name(const char *tuning, int idx, char *out, size_t n) {
    char arn[256];
    snprintf(arn, sizeof arn, "arn:aws:sagemaker:us-east-1:%s:hyper-parameter-tuning-job/%s",
             ACCOUNT, tuning);
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = arn; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = rng_mix64(h ^ (uint64_t)idx);
    snprintf(out, n, "%s-%03d-%08x", tuning, idx + 1, (unsigned)(h & 0xffffffffu));
}

static void take_name(const char *name) {
    store_training t = {0};
    err_t e = {0};
    snprintf(t.account, sizeof t.account, ACCOUNT);
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.status, sizeof t.status, "Completed");
    t.hyperparameters = "{}";
    t.tuned = "{}";
    assert_int_equal(store_insert_training(X.st, &t, &e), 0);
}

static void test_taken_child_name(void **unused) {
    char taken[128], want[160];
    child_name("named", 0, taken, sizeof taken);
    take_name(taken);
    engine_up();
    int64_t id = add_tuning("named", 2, 1, 0);
    tick(2);
    assert_int_equal(F.starts, 1);
    snprintf(want, sizeof want, "%s-2", taken);
    assert_string_equal(F.jobs[0].name, want);
    end_all_ok(3);
    tick(3);
    end_all_ok(4);
    tick(3);
    assert_int_equal(F.starts, 2);
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
}

/* Every name a slot may take is taken: the tuning job fails with a reason,
 * nothing retries forever. */
static void test_all_child_names_taken(void **unused) {
    char base[128], v[160];
    child_name("wedge", 0, base, sizeof base);
    take_name(base);
    for (int k = 2; k <= ENGINE_NAME_TRIES; k++) {
        snprintf(v, sizeof v, "%s-%d", base, k);
        take_name(v);
    }
    engine_up();
    int64_t id = add_tuning("wedge", 3, 1, 0);
    tick(3);
    assert_int_equal(F.starts, 0);
    assert_int_equal(tuning_status_of(id), TUNING_FAILED);
    store_tuning t = {0};
    assert_int_equal(store_get_tuning_by_id(X.st, id, &t), 0);
    assert_non_null(strstr(t.failure_reason, "are taken"));
    store_tuning_clear(&t);
    assert_int_equal(engine_tunings(X.en), 0);
}

/* COMMITs fail for a while: memory is rebuilt from the store, nothing runs
 * twice, and everything ends once the fault clears. */
static void test_failed_commits(void **unused) {
    engine_up();
    int64_t id = add_tuning("disk", 6, 2, 0);
    tick(1);
    assert_int_equal(F.starts, 2);
    end_all_ok(1); /* both end while commits fail */
    fail_commits = 3;
    tick(3);
    assert_int_equal(fail_commits, 0);
    for (int round = 0; round < 20 && tuning_status_of(id) != TUNING_COMPLETED; round++) {
        tick(2);
        end_all_ok(2);
        if (round % 3 == 1)
            fail_commits = 1;
    }
    fail_commits = 0;
    tick(4);
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
    assert_int_equal(F.starts, 6);
    for (int i = 0; i < F.n; i++) {
        assert_int_equal(starts_of(F.jobs[i].name), 1);
        assert_int_equal(training_status_of(F.jobs[i].name), TRAINING_COMPLETED);
    }
}

/* store_training_launched fails after a successful launch: the job keeps
 * running, the record is retried (or the job re-adopted from its job
 * directory), it is never marked Failed nor launched again. */
static void test_launch_record_fails(void **unused) {
    engine_up();
    int64_t id = add_tuning("rec", 1, 1, 0);
    deny_handle = 1;
    tick(3);
    assert_int_equal(F.starts, 1);
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_IN_PROGRESS);
    deny_handle = 0;
    tick(2);
    store_training t = training_of(F.jobs[0].name);
    assert_string_equal(t.handle, F.jobs[0].handle);
    store_training_clear(&t);
    end_all_ok(5);
    tick(3);
    assert_int_equal(F.starts, 1);
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_COMPLETED);
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
}

/* The tick that launched a job loses its commit (the row was made durable
 * before the launch, the handle's record after it is lost): the job is
 * re-adopted through its job directory, not launched again. */
static void test_launch_tick_lost(void **unused) {
    engine_up();
    int64_t id = add_tuning("relost", 1, 1, 0);
    skip_commits = 1; /* store_sync before the launch goes through */
    fail_commits = 1; /* the tick's final commit does not */
    tick(1);
    assert_int_equal(F.starts, 1);
    assert_int_equal(fail_commits, 0);
    tick(3);
    assert_int_equal(F.starts, 1);
    assert_true(F.jobs[0].watched);
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_IN_PROGRESS);
    end_all_ok(2);
    tick(3);
    assert_int_equal(F.starts, 1);
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_COMPLETED);
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
}

/* Another connection holds the write lock: ticks do nothing (and return at
 * once); once it lets go, the work is done. */
static void test_busy_store(void **unused) {
    char path[128];
    sqlite3 *other = NULL;
    engine_up();
    snprintf(path, sizeof path, "%s/openhpo.db", X.dir);
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    int64_t id = add_tuning("busy", 2, 2, 0);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    int64_t t0 = util_mono_ms();
    tick(5);
    assert_true(util_mono_ms() - t0 < 1000);
    assert_int_equal(F.starts, 0);
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    tick(2);
    assert_int_equal(F.starts, 2);
    end_all_ok(1);
    tick(3);
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
    for (int i = 0; i < F.n; i++)
        assert_int_equal(starts_of(F.jobs[i].name), 1);
}

/* A new engine (a restarted daemon) adopts what the last one left: a job
 * still running is watched (not relaunched), one that ended is finalised,
 * one that was lost is relaunched with RetriedAttempt 1. */
static void test_restart_adoption(void **unused) {
    engine_up();
    int64_t id = add_tuning("adopt", 3, 3, 0);
    tick(1);
    assert_int_equal(F.starts, 3);
    engine_free(X.en);
    X.en = NULL;
    fake_print(&F.jobs[1], "acc=0.75\n");
    fake_end(&F.jobs[1], 0, 0); /* ended while no daemon ran */
    F.jobs[2].running = 0;
    F.jobs[2].lost = 1; /* its runner vanished */
    char lost_name[64];
    snprintf(lost_name, sizeof lost_name, "%s", F.jobs[2].name);
    engine_up();
    tick(3);
    assert_int_equal(starts_of(F.jobs[0].name), 1);
    assert_true(F.jobs[0].watched);
    assert_int_equal(training_status_of(F.jobs[1].name), TRAINING_COMPLETED);
    assert_int_equal(starts_of(lost_name), 2);
    store_training t = training_of(lost_name);
    assert_int_equal(t.retried, 1);
    assert_string_equal(t.status, "InProgress");
    store_training_clear(&t);
    assert_int_equal(F.starts, 4);
    end_all_ok(0.5);
    tick(3);
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
    assert_int_equal(F.starts, 4);
}

/* A job the last daemon never started (it died between the row and the
 * start) is launched again without spending a retry. */
static void test_never_started_spends_no_retry(void **unused) {
    engine_up();
    add_tuning("unstarted", 1, 1, 0);
    tick(1);
    assert_int_equal(F.starts, 1);
    engine_free(X.en);
    X.en = NULL;
    F.jobs[0].running = 0;
    F.jobs[0].lost = 1;
    F.jobs[0].never_started = 1;
    char name[64];
    snprintf(name, sizeof name, "%s", F.jobs[0].name);
    engine_up();
    tick(3);
    assert_int_equal(starts_of(name), 2);
    store_training t = training_of(name);
    assert_int_equal(t.retried, 0);
    assert_string_equal(t.status, "InProgress");
    store_training_clear(&t);
}

/* A job whose end is never reported (on_exit lost) is still finished: the
 * engine asks the backend every TRIAL_RECHECK_SECONDS. */
static void test_missed_exit_is_caught(void **unused) {
    engine_up();
    int64_t id = add_tuning("missed", 1, 1, 0);
    tick(1);
    fake_print(&F.jobs[0], "acc=9\n");
    F.jobs[0].running = 0; /* ended, and nobody calls on_exit */
    tick(3);
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_IN_PROGRESS);
    clock_now += 10; /* TRIAL_RECHECK_SECONDS */
    tick(3);
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_COMPLETED);
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
    assert_int_equal(F.starts, 1);
}

/* Lost more than TRIAL_MAX_RETRIES times: Failed with the count. */
static void test_lost_too_often(void **unused) {
    engine_up();
    add_tuning("lost", 1, 1, 0);
    tick(1);
    for (int k = 0; k < 3; k++) {
        fake_job *j = &F.jobs[F.n - 1];
        j->lost = 1;
        fake_end(j, 0, 0);
        tick(2);
    }
    assert_int_equal(F.starts, 3);
    store_training t = training_of(F.jobs[0].name);
    assert_string_equal(t.status, "Failed");
    assert_non_null(strstr(t.failure_reason, "lost 3 times"));
    store_training_clear(&t);
}

/* A result the backend marks as the platform's failure is retried like a
 * lost runner, up to RetryStrategy.MaximumRetryAttempts; a program's own
 * failure is not retried. The relaunch runs for what is left of
 * MaxRuntimeInSeconds (3600 s from the first start). */
static void test_retry_strategy(void **unused) {
    extra_def = ", \"RetryStrategy\": {\"MaximumRetryAttempts\": 3}";
    engine_up();
    add_tuning("infra", 1, 1, 0);
    tick(1);
    assert_int_equal(F.jobs[0].max_runtime, 3600);
    for (int k = 0; k < 3; k++) { /* three platform failures: three relaunches */
        fake_job *j = &F.jobs[F.n - 1];
        j->infra = 1;
        clock_now += 100;
        fake_end(j, 1, 0);
        tick(2);
        assert_int_equal(F.starts, k + 2);
        assert_int_equal(F.jobs[F.n - 1].max_runtime, 3600 - 100 * (k + 1));
    }
    store_training t = training_of(F.jobs[0].name);
    assert_string_equal(t.status, "InProgress");
    assert_int_equal(t.retried, 3);
    store_training_clear(&t);
    F.jobs[F.n - 1].infra = 1; /* the fourth: no retry left */
    fake_end(&F.jobs[F.n - 1], 1, 0);
    tick(2);
    assert_int_equal(F.starts, 4);
    t = training_of(F.jobs[0].name);
    assert_string_equal(t.status, "Failed");
    assert_string_equal(t.failure_reason,
                        STORE_INTERNAL_PREFIX ": the container engine failed (4 attempts)");
    store_training_clear(&t);

    /* A program's failure: never retried. */
    add_tuning("prog", 1, 1, 0);
    tick(1);
    fake_end(&F.jobs[F.n - 1], 1, 0);
    tick(2);
    assert_int_equal(F.starts, 5);
    t = training_of(F.jobs[F.n - 1].name);
    assert_string_equal(t.status, "Failed");
    assert_int_equal(t.retried, 0);
    store_training_clear(&t);
}

/* MaxRuntimeInSeconds covers every attempt: a job lost after its time is
 * up is not relaunched but Stopped (MaxRuntimeExceeded). */
static void test_retry_within_runtime(void **unused) {
    engine_up();
    add_tuning("late", 1, 1, 0);
    tick(1);
    clock_now += 3000;
    F.jobs[0].lost = 1;
    fake_end(&F.jobs[0], 0, 0);
    tick(2);
    assert_int_equal(F.starts, 2);
    assert_int_equal(F.jobs[1].max_runtime, 600);
    clock_now += 600;
    F.jobs[1].lost = 1;
    fake_end(&F.jobs[1], 0, 0);
    tick(2);
    assert_int_equal(F.starts, 2);
    store_training t = training_of(F.jobs[0].name);
    assert_string_equal(t.status, "Stopped");
    assert_string_equal(t.secondary, "MaxRuntimeExceeded");
    store_training_clear(&t);
}

/* A completion criterion met: the running trials are stopped, nothing more
 * is launched, the job ends Completed with its details stored. */
static void test_completion_target(void **unused) {
    extra_cfg = ", \"TuningJobCompletionCriteria\": {\"TargetObjectiveMetricValue\": 0.5}";
    engine_up();
    int64_t id = add_tuning("tgt", 10, 2, 0);
    tick(2);
    assert_int_equal(F.starts, 2);
    fake_print(&F.jobs[0], "acc=0.25\n");
    fake_end(&F.jobs[0], 0, 0);
    tick(2);
    assert_int_equal(F.starts, 3); /* 0.25 < 0.5: goes on */
    assert_int_equal(F.jobs[1].stops, 0);
    fake_print(&F.jobs[2], "acc=0.75\n");
    fake_end(&F.jobs[2], 0, 0);
    tick(2);
    assert_int_equal(F.jobs[1].stops, 1); /* the running one is stopped */
    assert_int_equal(F.starts, 3);
    assert_int_equal(tuning_status_of(id), TUNING_RUNNING);
    fake_end(&F.jobs[1], 143, 1);
    tick(2);
    assert_int_equal(F.starts, 3);
    assert_int_equal(training_status_of(F.jobs[1].name), TRAINING_STOPPED);
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
    store_tuning t = {0};
    assert_int_equal(store_get_tuning_by_id(X.st, id, &t), 0);
    assert_int_equal(t.not_improving, 0); /* 0.75 improved on 0.25 */
    assert_true(t.converged == 0);
    store_tuning_clear(&t);
}

/* BestObjectiveNotImproving, and its count rebuilt from the store after a
 * restart (the criterion met then still ends the job). */
static void test_completion_not_improving_restart(void **unused) {
    extra_cfg = ", \"TuningJobCompletionCriteria\": {\"BestObjectiveNotImproving\": "
                "{\"MaxNumberOfTrainingJobsNotImproving\": 3}}";
    engine_up();
    int64_t id = add_tuning("flat", 10, 1, 0);
    for (int k = 0; k < 3; k++) {
        tick(2);
        fake_print(&F.jobs[F.n - 1], "acc=0.5\n");
        clock_now += 1;
        fake_end(&F.jobs[F.n - 1], 0, 0);
        tick(1);
    }
    store_tuning t = {0};
    assert_int_equal(store_get_tuning_by_id(X.st, id, &t), 0);
    assert_int_equal(t.not_improving, 2);
    store_tuning_clear(&t);
    tick(2);
    assert_int_equal(F.starts, 4);
    /* The daemon goes; the fourth job ends while it is away. */
    engine_free(X.en);
    X.en = NULL;
    fake_print(&F.jobs[3], "acc=0.5\n");
    F.jobs[3].running = 0;
    engine_up();
    tick(3);
    assert_int_equal(F.starts, 4);
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
    assert_int_equal(store_get_tuning_by_id(X.st, id, &t), 0);
    assert_int_equal(t.not_improving, 3);
    store_tuning_clear(&t);
}

/* A failing program: the failure reason quotes the last log line. */
static void copy_reason(void *ud, const store_training *t) {
    assert_string_equal(t->status, "Failed");
    snprintf(ud, 512, "%s", t->failure_reason);
}

/* The launch names the job's user as the tenant policy decides, resolved
 * at the launch itself. */
static void test_launch_identity(void **unused) {
    struct passwd *pw = getpwuid(getuid());
    assert_non_null(pw);
    char user[64];
    snprintf(user, sizeof user, "%s", pw->pw_name);
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    err_t e = {0};
    /* No policy: as the daemon's user. */
    engine_up();
    add_tuning("plain", 1, 1, 0);
    tick(1);
    assert_int_equal(F.n, 1);
    assert_int_equal(F.jobs[0].run_as, 0);
    assert_string_equal(F.jobs[0].account, ACCOUNT);
    engine_free(X.en);
    X.en = NULL;
    /* --run-as USER (one-user mode). */
    tenant_config tc = {.run_as = user};
    tenant *tn = tenant_new(&tc, &e);
    assert_non_null(tn);
    X.tn = tn;
    engine_up();
    add_tuning("runas", 1, 1, 0);
    tick(1);
    assert_int_equal(F.n, 2);
    assert_int_equal(F.jobs[1].run_as, geteuid() == 0); /* not root: itself, no drop */
    assert_int_equal(F.jobs[1].uid, uid);
    assert_int_equal(F.jobs[1].gid, gid);
    assert_string_equal(F.jobs[1].account, ACCOUNT);
    engine_free(X.en);
    X.en = NULL;
    tenant_free(tn);
    /* Several tenants, no user for the account (the daemon restarted
     * without one): the launch fails with the reason, nothing starts. */
    const char *json = "{\"credentials\":[{\"access_key_id\":\"AKIA000000000000\","
                       "\"secret_access_key\":\"s\",\"account_id\":\"" ACCOUNT "\","
                       "\"file_roots\":[\"/\"]}]}";
    credentials *c = credentials_parse(json, strlen(json), "t", &e);
    assert_non_null(c);
    tenant_config mt = {.creds = c, .allow_host_programs = 1};
    assert_non_null(tn = tenant_new(&mt, &e));
    X.tn = tn;
    engine_up();
    int64_t id = add_tuning("nouser", 1, 1, 0);
    tick(3);
    assert_int_equal(F.n, 2); /* never started */
    char reason[512] = "";
    assert_int_equal(store_each_training(X.st, id, copy_reason, reason), 0);
    assert_string_equal(reason, "no Unix user to run account " ACCOUNT
                                "'s jobs as: set \"run_as\" for it in the credentials file or "
                                "start hpod with --run-as USER");
    engine_free(X.en);
    X.en = NULL;
    X.tn = NULL;
    tenant_free(tn);
    credentials_free(c);
}

static void test_failure_reason(void **unused) {
    engine_up();
    add_tuning("fail", 1, 1, 0);
    tick(1);
    fake_print(&F.jobs[0], "starting\nTraceback: boom\n");
    fake_end(&F.jobs[0], 3, 0);
    tick(2);
    store_training t = training_of(F.jobs[0].name);
    assert_string_equal(t.status, "Failed");
    assert_string_equal(t.failure_reason,
                        "AlgorithmError: training program exited with code 3: Traceback: boom");
    store_training_clear(&t);
}

/* ---- a fake strategy: stops a trial once its curve has 3 values, and is
 * exhausted after 2 proposals ---- */
static int fs_stops;
static void *fs_create(const space *sp, uint64_t seed, const strategy_obs *prior, size_t nprior,
                       err_t *e) {
    static int st;
    return &st;
}
static int fs_suggest(void *state, uint64_t index, const strategy_obs *done, size_t ndone,
                      const double *const *pending, size_t npending, double *out, err_t *e) {
    out[0] = 0.1 * (double)(index + 1);
    return 0;
}
static int fs_should_stop(void *state, const strategy_curve *trial, const strategy_curve *all,
                          size_t nall) {
    assert_true(nall >= 1);
    int me = 0;
    for (size_t i = 0; i < nall; i++)
        me += &all[i] == trial;
    assert_int_equal(me, 1); /* the trial is among `all` */
    if (trial->n >= 3) {
        /* Minimised: the program printed 1, 2, 3 (Maximize), so -1, -2, -3. */
        assert_true(trial->y[trial->n - 1] == -(double)trial->n);
        assert_int_equal(trial->step[trial->n - 1], (int64_t)trial->n);
        fs_stops++;
        return 1;
    }
    return 0;
}
static int fs_exhausted(void *state, uint64_t index) {
    return index >= 2;
}
static void fs_destroy(void *state) {}
static const strategy_ops fake_strategy = {.name = "Fake",
                                           .create = fs_create,
                                           .suggest = fs_suggest,
                                           .should_stop = fs_should_stop,
                                           .exhausted = fs_exhausted,
                                           .destroy = fs_destroy};

/* ---- a fake strategy that records the prior it is created with ---- */
#define WS_MAX 8
static size_t ws_creates, ws_nprior;
static double ws_x[WS_MAX], ws_y[WS_MAX];
static void *ws_create(const space *sp, uint64_t seed, const strategy_obs *prior, size_t nprior,
                       err_t *e) {
    static int st;
    ws_creates++;
    ws_nprior = nprior;
    for (size_t i = 0; i < nprior && i < WS_MAX; i++) {
        ws_x[i] = prior[i].cfg[0];
        ws_y[i] = prior[i].y;
    }
    return &st;
}
static const strategy_ops ws_strategy = {
    .name = "Fake", .create = ws_create, .suggest = fs_suggest, .destroy = fs_destroy};

static void add_parent_job(int64_t tid, const char *name, int idx, const char *x,
                           const char *status, int has, double acc) {
    store_training r = {0};
    err_t e = {0};
    char hp[128];
    snprintf(hp, sizeof hp, "{\"x\": \"%s\"}", x);
    r.tuning_id = tid;
    snprintf(r.account, sizeof r.account, ACCOUNT);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.idx = idx;
    snprintf(r.status, sizeof r.status, "InProgress");
    snprintf(r.secondary, sizeof r.secondary, "Starting");
    r.hyperparameters = r.tuned = hp;
    r.created = clock_now;
    snprintf(r.job_dir, sizeof r.job_dir, "%s/none", X.dir);
    assert_int_equal(store_insert_training(X.st, &r, &e), 0);
    assert_int_equal(store_training_finish(X.st, r.id, status, status, NULL, has, acc, clock_now),
                     0);
}

/* Warm start: the engine gives the strategy the parents' finished jobs
 * inside the ranges (Maximize negated, failures NAN), at every load: also
 * after a restart once the parent is deleted. */
static void test_warm_start_prior_at_every_load(void **unused) {
    X.strat = &ws_strategy;
    ws_creates = 0;
    int64_t par = add_tuning("par", 3, 1, 0);
    assert_int_equal(store_set_tuning_status(X.st, par, "Completed", NULL, 0, clock_now), 0);
    add_parent_job(par, "par-1", 0, "0.25", "Completed", 1, 0.5);
    add_parent_job(par, "par-2", 1, "2", "Completed", 1, 0.9); /* outside [0, 1] */
    add_parent_job(par, "par-3", 2, "0.75", "Failed", 0, 0);
    warm_parents[0] = par;
    nwarm_parents = 1;
    add_tuning("child", 2, 1, 0);
    for (int round = 0; round < 2; round++) {
        engine_up();
        assert_int_equal(ws_creates, round + 1);
        assert_int_equal(ws_nprior, 2);
        assert_true(ws_x[0] == 0.25 && ws_y[0] == -0.5);
        assert_true(ws_x[1] == 0.75 && isnan(ws_y[1]));
        engine_free(X.en);
        X.en = NULL;
        if (round == 0) /* the parent deleted, then hpod restarted */
            assert_int_equal(store_delete_tuning(X.st, par), 0);
    }
}

static void test_strategy_stops_and_exhausts(void **unused) {
    X.strat = &fake_strategy;
    fs_stops = 0;
    engine_up();
    int64_t id = add_tuning("hb", 10, 4, 0);
    tick(2);
    assert_int_equal(F.starts, 2); /* exhausted after 2, though 4 may run */
    fake_print(&F.jobs[0], "acc=1\nacc=2\n");
    tick(1);
    assert_int_equal(F.jobs[0].stops, 0);
    fake_print(&F.jobs[0], "acc=3\n");
    tick(1);
    assert_int_equal(fs_stops, 1);
    assert_int_equal(F.jobs[0].stops, 1);
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_STOPPING);
    fake_end(&F.jobs[0], 143, 1);
    fake_print(&F.jobs[1], "acc=0.5\n");
    fake_end(&F.jobs[1], 0, 0);
    tick(3);
    assert_int_equal(F.starts, 2);
    store_training t = training_of(F.jobs[0].name);
    assert_string_equal(t.status, "Stopped");
    assert_true(t.has_objective && t.objective == 3); /* its last objective counts */
    store_training_clear(&t);
    assert_int_equal(tuning_status_of(id), TUNING_COMPLETED);
}

/* A restarted engine judges an adopted trial on its whole curve: the
 * values stored before the restart, then the new ones (the fake stops at 3
 * values, and checks their steps and values). */
static void test_strategy_judges_whole_curve_after_restart(void **unused) {
    X.strat = &fake_strategy;
    fs_stops = 0;
    extra_cfg = ", \"TrainingJobEarlyStoppingType\": \"Auto\"";
    engine_up();
    add_tuning("hbr", 10, 1, 0);
    tick(2);
    assert_int_equal(F.starts, 1);
    fake_print(&F.jobs[0], "acc=1\nacc=2\n");
    tick(1);
    assert_int_equal(fs_stops, 0);
    engine_free(X.en);
    X.en = NULL;
    engine_up();
    tick(1);
    assert_int_equal(fs_stops, 0);
    fake_print(&F.jobs[0], "acc=3\n");
    tick(1);
    assert_int_equal(fs_stops, 1);
    assert_int_equal(F.jobs[0].stops, 1);
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_STOPPING);
}

/* The catalog's forms, paths, and messages naming the caller's field. */
static void test_image_resolve(void **unused) {
    err_t e = {0};
    image_spec s;
    json_t *cat =
        json_loads("{\"a\": \"/bin/prog\", \"b\": [\"/bin/sh\", \"t.sh\"],"
                   " \"c\": {\"backend\": \"slurm\", \"command\": [\"run\", \"x\"]},"
                   " \"d\": {\"command\": \"solo\"}, \"e\": {\"backend\": \"x\"},"
                   " \"f\": [], \"g\": [\"\"], \"h\": {\"backend\": 3, \"command\": \"p\"}}",
                   0, NULL);
    assert_non_null(cat);
    assert_int_equal(image_resolve(cat, "a", NULL, "F", &s, &e), 0);
    assert_string_equal(s.backend, "local");
    assert_int_equal(s.argc, 1);
    assert_string_equal(s.argv[0], "/bin/prog");
    assert_null(s.argv[1]);
    image_clear(&s);
    assert_int_equal(image_resolve(cat, "b", NULL, "F", &s, &e), 0);
    assert_int_equal(s.argc, 2);
    assert_string_equal(s.argv[1], "t.sh");
    image_clear(&s);
    assert_int_equal(image_resolve(cat, "c", NULL, "F", &s, &e), 0);
    assert_string_equal(s.backend, "slurm");
    assert_string_equal(s.argv[0], "run");
    image_clear(&s);
    assert_int_equal(image_resolve(cat, "d", NULL, "F", &s, &e), 0);
    assert_string_equal(s.backend, "local");
    assert_string_equal(s.argv[0], "solo");
    image_clear(&s);
    const char *bad[] = {"e", "f", "g", "h"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(image_resolve(cat, bad[i], NULL, "X.TrainingImage", &s, &e),
                         ERR_VALIDATION);
        assert_non_null(strstr(e.msg, "X.TrainingImage: catalog entry"));
        assert_null(s.argv);
    }
    /* Paths: an absolute executable (or file://), not a relative one. */
    assert_int_equal(image_resolve(NULL, "/bin/true", NULL, "F", &s, &e), 0);
    assert_string_equal(s.argv[0], "/bin/true");
    image_clear(&s);
    assert_int_equal(image_resolve(cat, "file:///bin/true", NULL, "F", &s, &e), 0);
    assert_string_equal(s.argv[0], "/bin/true");
    image_clear(&s);
    assert_int_equal(
        image_resolve(cat, "bin/true", NULL, "AlgorithmSpecification.TrainingImage", &s, &e),
        ERR_VALIDATION);
    assert_string_equal(e.msg, "AlgorithmSpecification.TrainingImage: 'bin/true' is neither in "
                               "the image catalog nor an absolute path (or file:// URI) of an "
                               "executable file");
    assert_int_equal(image_resolve(cat, "/etc/passwd", NULL, "F", &s, &e), ERR_VALIDATION);
    json_decref(cat);
}

/* The FailureReason rule: the program's own text, else the backend's
 * error, else the exit code or signal with the log's last line. */
static void test_failure_reason_rule(void **unused) {
    backend_result r;
    char out[STORE_REASON_MAX];
    memset(&r, 0, sizeof r);
    r.exited = 1;
    r.code = 2;
    const char *tail = "a\nlast words\n\n";
    contract_failure_reason("ValueError: lr", tail, strlen(tail), &r, out, sizeof out);
    assert_string_equal(out, "ValueError: lr");
    contract_failure_reason("", tail, strlen(tail), &r, out, sizeof out);
    assert_string_equal(out, "AlgorithmError: training program exited with code 2: last words");
    contract_failure_reason(NULL, NULL, 0, &r, out, sizeof out);
    assert_string_equal(out, "AlgorithmError: training program exited with code 2");
    r.exited = 0;
    r.signal = 9;
    contract_failure_reason(NULL, "only", 4, &r, out, sizeof out);
    assert_string_equal(out, "AlgorithmError: training program was killed by signal 9: only");
    snprintf(r.error, sizeof r.error, "cannot execute /x: No such file or directory");
    contract_failure_reason(NULL, tail, strlen(tail), &r, out, sizeof out);
    assert_string_equal(out, "AlgorithmError: cannot execute /x: No such file or directory");
}

/* engine_check_tuning: an image whose backend this daemon lacks is refused,
 * naming TrainingImage in the caller's path. */
static void test_check_unknown_backend(void **unused) {
    err_t e = {0};
    req_tuning *r = NULL;
    json_t *cat =
        json_loads("{\"img\": {\"backend\": \"slurm\", \"command\": \"/bin/true\"}}", 0, NULL);
    const char *body =
        "{\"TrainingJobName\": \"t\", \"AlgorithmSpecification\": {\"TrainingImage\": "
        "\"img\", \"TrainingInputMode\": \"File\"}, \"RoleArn\": "
        "\"arn:aws:iam::123456789012:role/r\", \"OutputDataConfig\": {\"S3OutputPath\": "
        "\"file:///tmp/o\"}, \"ResourceConfig\": {\"InstanceType\": \"ml.m5.large\", "
        "\"InstanceCount\": 1, \"VolumeSizeInGB\": 1}, \"StoppingCondition\": "
        "{\"MaxRuntimeInSeconds\": 60}}";
    assert_int_equal(request_parse_text(API_CURRENT, "CreateTrainingJob", body, ACCOUNT, &r, &e),
                     0);
    engine_config c = {.l = X.l,
                       .st = X.st,
                       .backends = X.bes,
                       .nbackends = 1,
                       .data_dir = X.dir,
                       .images = cat,
                       .now = fake_now};
    X.en = engine_new(&c, &e);
    assert_int_equal(engine_check_tuning(X.en, r, &e), ERR_VALIDATION);
    assert_string_equal(e.msg, "AlgorithmSpecification.TrainingImage: backend 'slurm' is not "
                               "configured in this daemon");
    json_decref(cat);
    cat = json_loads("{\"img\": {\"command\": \"/bin/true\"}}", 0, NULL);
    engine_free(X.en);
    c.images = cat;
    X.en = engine_new(&c, &e);
    assert_int_equal(engine_check_tuning(X.en, r, &e), 0);
    request_free(r);
    engine_free(X.en);
    X.en = NULL;
    json_decref(cat);
}

/* ---------- with a real worker ---------- */

/* A training job created on its own (kind "training"): no strategy, so its
 * launch goes to the worker with no suggestion before it. */
static int64_t add_training(const char *name) {
    char req[2048];
    snprintf(req, sizeof req,
             "{\"TrainingJobName\": \"%s\", \"AlgorithmSpecification\": {\"TrainingImage\": "
             "\"/bin/true\", \"TrainingInputMode\": \"File\"}, \"RoleArn\": "
             "\"arn:aws:iam::123456789012:role/r\", \"OutputDataConfig\": {\"S3OutputPath\": "
             "\"file:///nonexistent\"}, \"ResourceConfig\": {\"InstanceType\": \"ml.m5.large\", "
             "\"InstanceCount\": 1, \"VolumeSizeInGB\": 1}, \"StoppingCondition\": "
             "{\"MaxRuntimeInSeconds\": 60}}",
             name);
    store_tuning t = {0};
    err_t e = {0};
    snprintf(t.account, sizeof t.account, ACCOUNT);
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.arn, sizeof t.arn, "arn:aws:sagemaker:us-east-1:%s:training-job/%s", ACCOUNT, name);
    snprintf(t.kind, sizeof t.kind, "training");
    snprintf(t.status, sizeof t.status, "Created");
    t.api = API_CURRENT;
    t.max_jobs = t.max_parallel = 1;
    t.created = clock_now;
    t.request = req;
    assert_int_equal(store_create_tuning(X.st, &t, &e), 0);
    if (X.en)
        assert_int_equal(engine_add_tuning(X.en, t.id, &e), 0);
    return t.id;
}

/* Runs the loop (the engine ticking every ms, the worker's answers
 * applied) until cond() holds, for at most 10 s. Returns cond(). */
typedef struct {
    int (*cond)(void);
    int64_t deadline;
} run_ctx;
static void run_tick(loop *l, void *ud) {
    run_ctx *c = ud;
    engine_tick(X.en);
    if (c->cond() || util_mono_ms() > c->deadline)
        loop_stop(l);
}
static int run_until(int (*cond)(void)) {
    run_ctx c = {cond, util_mono_ms() + 10000};
    if (cond())
        return 1;
    loop_set_tick(X.l, 1, run_tick, &c);
    loop_run(X.l);
    loop_set_tick(X.l, 1000, NULL, NULL);
    return cond();
}
/* Waits (without the loop) until a start waits at the gate. */
static void wait_gate(int n) {
    for (int64_t end = util_mono_ms() + 10000; gate_waiters() < n && util_mono_ms() < end;) {
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    assert_int_equal(gate_waiters(), n);
}

static int64_t W_id;
static int one_waiting(void) {
    return gate_waiters() == 1;
}
static int stop_sent(void) {
    pthread_mutex_lock(&F_mu);
    int n = F.n;
    pthread_mutex_unlock(&F_mu);
    return n == 1 && F.jobs[0].stops == 1;
}
static int w_stopped(void) {
    return tuning_status_of(W_id) == TUNING_STOPPED;
}

/* A stop that arrives while the launch is on the worker (the runner not
 * started yet) is not lost: it is recorded at once and delivered as soon
 * as the handle is known; the trial counted as running meanwhile. */
static void test_worker_stop_while_starting(void **unused) {
    err_t e = {0};
    X.wk = worker_new(X.l, &e);
    assert_non_null(X.wk);
    gate_wk = X.wk;
    engine_up();
    gate_set(1);
    W_id = add_tuning("wstop", 3, 1, 0);
    assert_true(run_until(one_waiting)); /* its suggestion came back; its start waits */
    assert_int_equal(engine_running(X.en), 1);
    assert_int_equal(F.starts, 0);
    assert_int_equal(engine_stop_tuning(X.en, W_id, &e), 0);
    tick(2);
    assert_int_equal(tuning_status_of(W_id), TUNING_STOPPING);
    assert_int_equal(engine_running(X.en), 1); /* still starting: counted */
    gate_set(0);
    assert_true(run_until(stop_sent));
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_STOPPING);
    fake_end(&F.jobs[0], 143, 1);
    assert_true(run_until(w_stopped));
    assert_int_equal(training_status_of(F.jobs[0].name), TRAINING_STOPPED);
    assert_int_equal(F.starts, 1); /* nothing launched after the stop */
}

/* The daemon shuts down (engine_free, then worker_free, as hpod does) with
 * one launch running on the worker and one queued: nothing leaks or is
 * freed twice; the one that started is adopted by the next engine through
 * its job directory (not launched again), the cancelled one is relaunched. */
static void test_worker_free_with_launch_queued(void **unused) {
    err_t e = {0};
    X.wk = worker_new(X.l, &e);
    assert_non_null(X.wk);
    gate_wk = X.wk;
    engine_up();
    gate_set(1);
    int64_t a = add_training("solo-a"), b = add_training("solo-b");
    tick(1); /* both launches go to the worker */
    wait_gate(1);
    assert_int_equal(worker_pending(X.wk), 2);
    assert_int_equal(engine_running(X.en), 2);
    engine_free(X.en);
    X.en = NULL;
    worker_free(X.wk); /* its stop opens the gate: one start completes, one is cancelled */
    X.wk = NULL;
    gate_wk = NULL;
    gate_set(0);
    assert_int_equal(F.starts, 1);
    char started[64], other[64];
    snprintf(started, sizeof started, "%s", F.jobs[0].name);
    snprintf(other, sizeof other, "%s", strcmp(started, "solo-a") ? "solo-a" : "solo-b");
    assert_int_equal(training_status_of(started), TRAINING_IN_PROGRESS);
    assert_int_equal(training_status_of(other), TRAINING_IN_PROGRESS);
    engine_up(); /* the next daemon, inline */
    tick(3);
    assert_int_equal(starts_of(started), 1); /* adopted through its job dir */
    assert_true(F.jobs[0].watched);
    assert_int_equal(starts_of(other), 1); /* never ran: launched now */
    end_all_ok(1);
    tick(3);
    assert_int_equal(training_status_of("solo-a"), TRAINING_COMPLETED);
    assert_int_equal(training_status_of("solo-b"), TRAINING_COMPLETED);
    assert_int_equal(tuning_status_of(a), TUNING_COMPLETED);
    assert_int_equal(tuning_status_of(b), TUNING_COMPLETED);
}

/* worker_free while the engine still runs: the answer of the launch that
 * ran is applied (the job is watched), the cancelled one is NEW again. */
static void test_worker_free_before_engine(void **unused) {
    err_t e = {0};
    X.wk = worker_new(X.l, &e);
    assert_non_null(X.wk);
    gate_wk = X.wk;
    engine_up();
    gate_set(1);
    add_training("solo-c");
    add_training("solo-d");
    tick(1);
    wait_gate(1);
    worker_free(X.wk);
    X.wk = NULL;
    gate_wk = NULL;
    gate_set(0);
    assert_int_equal(F.starts, 1);
    assert_true(F.jobs[0].watched); /* done(arg, 0) applied on this thread */
    assert_int_equal(engine_running(X.en), 2);
    engine_free(X.en); /* before any tick: the worker is gone */
    X.en = NULL;
    engine_up();
    tick(3);
    assert_int_equal(F.starts, 2);
    assert_int_equal(starts_of("solo-c"), 1);
    assert_int_equal(starts_of("solo-d"), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_resolve),
        cmocka_unit_test_setup_teardown(test_launch_identity, setup, teardown),
        cmocka_unit_test(test_failure_reason_rule),
        cmocka_unit_test_setup_teardown(test_check_unknown_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parallel_and_total_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_machine_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_tuning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_before_launch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_objective_is_last_of_20000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_log_through_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_read_in_slices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_taken_child_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_child_names_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_launch_record_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_launch_tick_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_adoption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strategy_judges_whole_curve_after_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_never_started_spends_no_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missed_exit_is_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_too_often, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_strategy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_within_runtime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_completion_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_completion_not_improving_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strategy_stops_and_exhausts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warm_start_prior_at_every_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_stop_while_starting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_free_with_launch_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_free_before_engine, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
