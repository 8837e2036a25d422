/* warmstart: the spec's restrictions between a parent's request and the new
 * one (warmstart_compare), a parent's hyperparameters read through the new
 * ranges (warmstart_map), and, against a real store, the parents resolved
 * at Create (unknown, another account's, not final, named twice), the prior
 * (kept, dropped, Maximize negated, failures NAN, a deleted parent's jobs
 * still read) and OverallBestTrainingJob. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <math.h>

#include "store.h"
#include "util.h"
#include "warmstart.h"

#define ACCOUNT "123456789012"

static const char base_text[] =
    "{\"HyperParameterTuningJobName\": \"c\","
    " \"HyperParameterTuningJobConfig\": {\"Strategy\": \"Bayesian\","
    "  \"HyperParameterTuningJobObjective\": {\"Type\": \"Maximize\", \"MetricName\": \"acc\"},"
    "  \"ResourceLimits\": {\"MaxNumberOfTrainingJobs\": 4, \"MaxParallelTrainingJobs\": 1},"
    "  \"ParameterRanges\": {"
    "   \"ContinuousParameterRanges\": [{\"Name\": \"x\", \"MinValue\": \"0\", \"MaxValue\": "
    "\"1\"}],"
    "   \"IntegerParameterRanges\": [{\"Name\": \"n\", \"MinValue\": \"1\", \"MaxValue\": \"9\"}],"
    "   \"CategoricalParameterRanges\": [{\"Name\": \"k\", \"Values\": [\"a\", \"b\", \"c\"]}]}},"
    " \"TrainingJobDefinition\": {"
    "  \"AlgorithmSpecification\": {\"TrainingImage\": \"img\", \"TrainingInputMode\": \"File\","
    "   \"MetricDefinitions\": [{\"Name\": \"acc\", \"Regex\": \"acc=([0-9.]+)\"},"
    "                          {\"Name\": \"loss\", \"Regex\": \"loss=([0-9.]+)\"}]},"
    "  \"RoleArn\": \"arn:aws:iam::123456789012:role/x\","
    "  \"InputDataConfig\": [{\"ChannelName\": \"train\", \"DataSource\": {\"S3DataSource\": {"
    "   \"S3DataType\": \"S3Prefix\", \"S3Uri\": \"file:///data\"}}}],"
    "  \"OutputDataConfig\": {\"S3OutputPath\": \"file:///out\"},"
    "  \"ResourceConfig\": {\"InstanceCount\": 1, \"InstanceType\": \"ml.m5.large\","
    "   \"VolumeSizeInGB\": 1},"
    "  \"StaticHyperParameters\": {\"s1\": \"0\", \"s2\": \"0\", \"s3\": \"0\", \"s4\": \"0\","
    "   \"s5\": \"0\", \"s6\": \"0\"},"
    "  \"StoppingCondition\": {\"MaxRuntimeInSeconds\": 60}},"
    " \"WarmStartConfig\": {\"ParentHyperParameterTuningJobs\": ["
    "  {\"HyperParameterTuningJobName\": \"p\"}], \"WarmStartType\": "
    "\"IdenticalDataAndAlgorithm\"}}";

static json_t *base(void) {
    json_t *b = json_loads(base_text, 0, NULL);
    assert_non_null(b);
    return b;
}

/* The object at dotted `path` of b (borrowed). */
static json_t *at(json_t *b, const char *path) {
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k && b; k = strtok_r(NULL, ".", &save))
        b = json_is_array(b) ? json_array_get(b, (size_t)atoi(k)) : json_object_get(b, k);
    assert_non_null(b);
    return b;
}

static json_t *statics(json_t *b) {
    return at(b, "TrainingJobDefinition.StaticHyperParameters");
}

static json_t *ranges(json_t *b) {
    return at(b, "HyperParameterTuningJobConfig.ParameterRanges");
}

static req_tuning *parse(json_t *b) {
    req_tuning *r = NULL;
    err_t e = {0};
    if (request_parse(API_CURRENT, "CreateHyperParameterTuningJob", b, ACCOUNT, &r, &e))
        fail_msg("request_parse: %s", e.msg);
    json_decref(b);
    return r;
}

/* warmstart_compare(parent = base, child = b): 0, or the message in msg. */
static int compare(json_t *b, char *msg) {
    req_tuning *p = parse(base()), *c = parse(b);
    err_t e = {0};
    int rc = warmstart_compare(p, c, "PARENT", &e);
    snprintf(msg, ERR_MSG_MAX, "%s", e.msg);
    if (rc) {
        assert_int_equal(rc, ERR_VALIDATION);
        assert_non_null(strstr(e.msg, "PARENT: "));
    }
    request_free(p);
    request_free(c);
    return rc;
}

#define REFUSED(b, words)                                                                          \
    do {                                                                                           \
        char m_[ERR_MSG_MAX];                                                                      \
        assert_int_equal(compare((b), m_), ERR_VALIDATION);                                        \
        if (!strstr(m_, (words)))                                                                  \
            fail_msg("'%s' not in '%s'", (words), m_);                                             \
    } while (0)
#define ACCEPTED(b)                                                                                \
    do {                                                                                           \
        char m_[ERR_MSG_MAX];                                                                      \
        if (compare((b), m_))                                                                      \
            fail_msg("refused: %s", m_);                                                           \
    } while (0)

static void test_compare_objective_and_hyperparameters(void **unused) {
    json_t *b;
    ACCEPTED(base());
    /* Ranges may change (both types of warm start). */
    b = base();
    json_object_set_new(at(b, "HyperParameterTuningJobConfig.ParameterRanges."
                              "ContinuousParameterRanges.0"),
                        "MaxValue", json_string("5"));
    ACCEPTED(b);
    b = base();
    json_object_set_new(at(b, "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective"),
                        "MetricName", json_string("loss"));
    REFUSED(b, "objective is acc (Maximize), this job's loss (Maximize)");
    b = base();
    json_object_set_new(at(b, "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective"),
                        "Type", json_string("Minimize"));
    REFUSED(b, "objective");
    b = base();
    json_object_set_new(statics(b), "s7", json_string("0"));
    REFUSED(b, "it has 9 hyperparameters (static and tunable), this job 10");
    b = base();
    json_object_del(statics(b), "s6");
    json_object_set_new(statics(b), "s9", json_string("0"));
    REFUSED(b, "no hyperparameter s9");
    /* x Continuous -> Integer. */
    b = base();
    json_t *x = json_deep_copy(at(b, "HyperParameterTuningJobConfig.ParameterRanges."
                                     "ContinuousParameterRanges.0"));
    json_object_del(ranges(b), "ContinuousParameterRanges");
    json_array_append_new(at(b, "HyperParameterTuningJobConfig.ParameterRanges."
                                "IntegerParameterRanges"),
                          x);
    REFUSED(b, "hyperparameter x is Continuous there, Integer here");
    /* Tunable n made static: of its type, or refused. */
    b = base();
    json_object_del(ranges(b), "IntegerParameterRanges");
    json_object_set_new(statics(b), "n", json_string("2.5"));
    REFUSED(b, "hyperparameter n is Integer there; its static value '2.5' here is not");
    b = base();
    json_object_del(ranges(b), "IntegerParameterRanges");
    json_object_set_new(statics(b), "n", json_string("3"));
    ACCEPTED(b);
}

static void test_compare_changes(void **unused) {
    json_t *b = base();
    /* 5 static values changed: 10 changes, the most allowed. */
    for (int i = 1; i <= 5; i++) {
        char k[8];
        snprintf(k, sizeof k, "s%d", i);
        json_object_set_new(statics(b), k, json_string("1"));
    }
    ACCEPTED(json_deep_copy(b));
    json_object_set_new(statics(b), "s6", json_string("1"));
    REFUSED(b, "12 changes of static hyperparameters, more than 10");
    /* Categorical k (3 values) made static + 4 static values: 11. */
    b = base();
    json_object_del(ranges(b), "CategoricalParameterRanges");
    json_object_set_new(statics(b), "k", json_string("b"));
    for (int i = 1; i <= 4; i++) {
        char k[8];
        snprintf(k, sizeof k, "s%d", i);
        json_object_set_new(statics(b), k, json_string("1"));
    }
    REFUSED(json_deep_copy(b), "11 changes");
    json_object_set_new(statics(b), "s4", json_string("0"));
    ACCEPTED(b); /* 3 + 6 */
    /* Numeric x made static: 1, + 10 = 11. */
    b = base();
    json_object_del(ranges(b), "ContinuousParameterRanges");
    json_object_set_new(statics(b), "x", json_string("0.5"));
    for (int i = 1; i <= 5; i++) {
        char k[8];
        snprintf(k, sizeof k, "s%d", i);
        json_object_set_new(statics(b), k, json_string("1"));
    }
    REFUSED(b, "11 changes");
}

static void test_compare_identical_data_and_algorithm(void **unused) {
    json_t *b = base();
    json_object_set_new(at(b, "TrainingJobDefinition.AlgorithmSpecification"), "TrainingImage",
                        json_string("img2"));
    REFUSED(json_deep_copy(b), "its TrainingImage is img: IdenticalDataAndAlgorithm keeps");
    json_object_set_new(at(b, "WarmStartConfig"), "WarmStartType", json_string("TransferLearning"));
    ACCEPTED(b);
    b = base();
    json_object_set_new(at(b, "TrainingJobDefinition.InputDataConfig.0.DataSource.S3DataSource"),
                        "S3Uri", json_string("file:///data2"));
    REFUSED(json_deep_copy(b), "its input data differs (channel train)");
    json_object_set_new(at(b, "WarmStartConfig"), "WarmStartType", json_string("TransferLearning"));
    ACCEPTED(b);
    b = base();
    json_array_clear(at(b, "TrainingJobDefinition.InputDataConfig"));
    REFUSED(b, "input data differs");
}

static void test_map(void **unused) {
    req_tuning *r = parse(base());
    err_t e = {0};
    space *sp = request_space(r, 0, &e);
    double cfg[3];
    assert_non_null(sp);
    json_t *hp = json_pack("{s:s, s:s, s:s, s:s}", "x", "0.25", "n", "9", "k", "c", "s1", "0");
    assert_int_equal(warmstart_map(sp, hp, cfg), 0);
    assert_true(cfg[0] == 0.25 && cfg[1] == 9 && cfg[2] == 2);
    json_object_set_new(hp, "x", json_string("1.5")); /* above MaxValue */
    assert_int_equal(warmstart_map(sp, hp, cfg), -1);
    json_object_set_new(hp, "x", json_string("-0.1"));
    assert_int_equal(warmstart_map(sp, hp, cfg), -1);
    json_object_set_new(hp, "x", json_string("1"));
    assert_int_equal(warmstart_map(sp, hp, cfg), 0);
    json_object_set_new(hp, "n", json_string("10"));
    assert_int_equal(warmstart_map(sp, hp, cfg), -1);
    json_object_set_new(hp, "n", json_string("2.5"));
    assert_int_equal(warmstart_map(sp, hp, cfg), -1);
    json_object_set_new(hp, "n", json_string("2"));
    json_object_set_new(hp, "k", json_string("d")); /* not among the Values */
    assert_int_equal(warmstart_map(sp, hp, cfg), -1);
    json_object_del(hp, "k");
    assert_int_equal(warmstart_map(sp, hp, cfg), -1);
    assert_int_equal(warmstart_map(sp, NULL, cfg), -1);
    json_decref(hp);
    space_free(sp);
    request_free(r);
}

/* ---------- against a store ---------- */

static char dir[64];

static int64_t add_tuning(store *s, const char *account, const char *name, const char *status) {
    store_tuning t = {0};
    err_t e = {0};
    json_t *b = base();
    json_object_set_new(b, "HyperParameterTuningJobName", json_string(name));
    json_object_del(b, "WarmStartConfig");
    char *text = json_dumps(b, 0);
    json_decref(b);
    snprintf(t.account, sizeof t.account, "%s", account);
    snprintf(t.name, sizeof t.name, "%s", name);
    snprintf(t.arn, sizeof t.arn, "arn:x:%s", name);
    snprintf(t.status, sizeof t.status, "%s", status);
    t.api = API_CURRENT;
    t.request = text;
    snprintf(t.objective_type, sizeof t.objective_type, "Maximize");
    if (store_create_tuning(s, &t, &e))
        fail_msg("store_create_tuning: %s", e.msg);
    free(text);
    return t.id;
}

/* A training job of tuning job `tid`: hyperparameters x, n, k (+ s1); its
 * final status, and its objective when has. */
static void add_training(store *s, int64_t tid, const char *name, int idx, const char *x,
                         const char *n, const char *status, int has, double obj) {
    store_training r = {0};
    err_t e = {0};
    char hp[256];
    snprintf(hp, sizeof hp, "{\"x\": \"%s\", \"n\": \"%s\", \"k\": \"b\", \"s1\": \"0\"}", x, n);
    r.tuning_id = tid;
    snprintf(r.account, sizeof r.account, ACCOUNT);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.idx = idx;
    snprintf(r.status, sizeof r.status, "InProgress");
    snprintf(r.secondary, sizeof r.secondary, "Starting");
    r.hyperparameters = hp;
    r.tuned = hp;
    r.created = 1;
    snprintf(r.job_dir, sizeof r.job_dir, "/tmp/x");
    if (store_insert_training(s, &r, &e))
        fail_msg("store_insert_training: %s", e.msg);
    if (strcmp(status, "InProgress"))
        assert_int_equal(store_training_finish(s, r.id, status, status, NULL, has, obj, 2), 0);
}

static int resolve(store *s, json_t *b, int64_t *ids, int *n, char *msg) {
    req_tuning *r = parse(b);
    err_t e = {0};
    int rc = warmstart_resolve(s, r, ids, n, &e);
    snprintf(msg, ERR_MSG_MAX, "%s", e.msg);
    request_free(r);
    return rc;
}

static json_t *with_parents(const char *a, const char *b2) {
    json_t *b = base();
    json_t *arr = at(b, "WarmStartConfig.ParentHyperParameterTuningJobs");
    json_array_clear(arr);
    json_array_append_new(arr, json_pack("{s:s}", "HyperParameterTuningJobName", a));
    if (b2)
        json_array_append_new(arr, json_pack("{s:s}", "HyperParameterTuningJobName", b2));
    return b;
}

static void test_store_resolve_prior_best(void **unused) {
    err_t e = {0};
    store *s = store_open(dir, &e);
    char msg[ERR_MSG_MAX];
    int64_t ids[STORE_MAX_PARENTS];
    int n = -1;
    assert_non_null(s);
    int64_t p = add_tuning(s, ACCOUNT, "p", "Completed");
    int64_t q = add_tuning(s, ACCOUNT, "q", "Stopped");
    add_tuning(s, ACCOUNT, "busy", "Running");
    add_tuning(s, "210987654321", "theirs", "Completed");
    add_training(s, p, "p-1", 0, "0.5", "3", "Completed", 1, 0.7);
    add_training(s, p, "p-2", 1, "2.5", "3", "Completed", 1, 0.9); /* x outside [0, 1] */
    add_training(s, p, "p-3", 2, "0.1", "4", "Failed", 0, 0);
    add_training(s, q, "q-1", 0, "0.9", "5", "Completed", 1, 0.8);
    add_training(s, q, "q-2", 1, "0.2", "5", "Stopped", 1, 0.75); /* early-stopped */

    /* Unknown, another account's (the same answer), not final, twice. */
    assert_int_equal(resolve(s, with_parents("nosuch", NULL), ids, &n, msg), ERR_VALIDATION);
    assert_string_equal(msg, "WarmStartConfig.ParentHyperParameterTuningJobs[0] (tuning job "
                             "nosuch): no such tuning job");
    assert_int_equal(resolve(s, with_parents("theirs", NULL), ids, &n, msg), ERR_VALIDATION);
    assert_string_equal(msg, "WarmStartConfig.ParentHyperParameterTuningJobs[0] (tuning job "
                             "theirs): no such tuning job");
    assert_int_equal(n, 0);
    assert_int_equal(resolve(s, with_parents("busy", NULL), ids, &n, msg), ERR_VALIDATION);
    assert_non_null(strstr(msg, "(tuning job busy): it is InProgress"));
    assert_int_equal(resolve(s, with_parents("p", "P"), ids, &n, msg), ERR_VALIDATION);
    assert_non_null(strstr(msg, "ParentHyperParameterTuningJobs[1] (tuning job P): is named"));
    assert_int_equal(resolve(s, with_parents("p", "q"), ids, &n, msg), 0);
    assert_int_equal(n, 2);
    assert_true(ids[0] == p && ids[1] == q);
    json_t *cold = base();
    json_object_del(cold, "WarmStartConfig");
    assert_int_equal(resolve(s, cold, ids, &n, msg), 0);
    assert_int_equal(n, 0);

    /* The prior over the child's space: p-2 dropped, p-3 a failure; Maximize
     * negated; in order p then q, each by index. */
    req_tuning *r = parse(with_parents("p", "q"));
    space *sp = request_space(r, 0, &e);
    int64_t both[2] = {p, q};
    warmstart_prior *wp = NULL;
    size_t no = 0;
    assert_int_equal(warmstart_prior_load(s, both, 2, sp, 1, &wp, &e), 0);
    const strategy_obs *obs = warmstart_prior_obs(wp, &no);
    assert_int_equal(no, 4);
    assert_int_equal(warmstart_prior_dropped(wp), 1);
    assert_true(obs[0].cfg[0] == 0.5 && obs[0].y == -0.7);
    assert_true(obs[1].cfg[0] == 0.1 && isnan(obs[1].y));
    assert_true(obs[2].cfg[0] == 0.9 && obs[2].y == -0.8);
    assert_true(obs[3].cfg[0] == 0.2 && obs[3].cfg[1] == 5 && obs[3].cfg[2] == 1 &&
                obs[3].y == -0.75);
    warmstart_prior_free(wp);
    assert_int_equal(warmstart_prior_load(s, both, 0, sp, 1, &wp, &e), 0);
    assert_null(warmstart_prior_obs(wp, &no));
    assert_int_equal(no, 0);
    warmstart_prior_free(wp);

    /* OverallBestTrainingJob: Maximize, p-2 (0.9; outside the child's
     * ranges, but a job of the parent all the same); Minimize, p-1 (0.7). */
    int64_t child = add_tuning(s, ACCOUNT, "child", "Running");
    store_training best = {0};
    int64_t owner = 0;
    assert_int_equal(warmstart_overall_best(s, child, both, 2, 1, &best, &owner), 0);
    assert_string_equal(best.name, "p-2");
    assert_int_equal(owner, p);
    store_training_clear(&best);
    assert_int_equal(warmstart_overall_best(s, child, both, 2, 0, &best, &owner), 0);
    assert_string_equal(best.name, "p-1");
    store_training_clear(&best);
    /* The child's own job wins a tie. */
    add_training(s, child, "child-1", 0, "0.3", "3", "Completed", 1, 0.9);
    assert_int_equal(warmstart_overall_best(s, child, both, 2, 1, &best, &owner), 0);
    assert_string_equal(best.name, "child-1");
    assert_int_equal(owner, child);
    store_training_clear(&best);
    assert_int_equal(warmstart_overall_best(s, child, NULL, 0, 1, &best, &owner), 0);
    store_training_clear(&best);
    int64_t empty = add_tuning(s, ACCOUNT, "empty", "Running");
    assert_int_equal(warmstart_overall_best(s, empty, NULL, 0, 1, &best, &owner), ERR_NOT_FOUND);

    /* A deleted parent: unknown by name, its jobs still read by id. */
    assert_int_equal(store_delete_tuning(s, q), 0);
    assert_int_equal(resolve(s, with_parents("q", NULL), ids, &n, msg), ERR_VALIDATION);
    assert_non_null(strstr(msg, "no such tuning job"));
    assert_int_equal(warmstart_prior_load(s, &q, 1, sp, 1, &wp, &e), 0);
    (void)warmstart_prior_obs(wp, &no);
    assert_int_equal(no, 2);
    warmstart_prior_free(wp);

    /* The row keeps its parents (schema 6). */
    store_tuning t = {0}, got = {0};
    snprintf(t.account, sizeof t.account, ACCOUNT);
    snprintf(t.name, sizeof t.name, "kid");
    snprintf(t.status, sizeof t.status, "Created");
    t.request = "{}";
    t.parents[0] = p;
    t.parents[1] = q;
    t.nparents = 2;
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    assert_int_equal(store_get_tuning(s, ACCOUNT, "kid", &got), 0);
    assert_int_equal(got.nparents, 2);
    assert_true(got.parents[0] == p && got.parents[1] == q);
    store_tuning_clear(&got);
    assert_int_equal(store_get_tuning(s, ACCOUNT, "p", &got), 0);
    assert_int_equal(got.nparents, 0);
    store_tuning_clear(&got);

    space_free(sp);
    request_free(r);
    store_close(s);
}

static void test_config_json(void **unused) {
    req_tuning *r = parse(with_parents("p", "q"));
    json_t *j = warmstart_config_json(r);
    char *s = json_dumps(j, JSON_SORT_KEYS);
    assert_string_equal(s, "{\"ParentHyperParameterTuningJobs\": [{\"HyperParameterTuningJobName\":"
                           " \"p\"}, {\"HyperParameterTuningJobName\": \"q\"}], \"WarmStartType\":"
                           " \"IdenticalDataAndAlgorithm\"}");
    free(s);
    json_decref(j);
    request_free(r);
    json_t *b = base();
    json_object_del(b, "WarmStartConfig");
    r = parse(b);
    assert_null(warmstart_config_json(r));
    request_free(r);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/test_warmstart.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_objective_and_hyperparameters),
        cmocka_unit_test(test_compare_changes),
        cmocka_unit_test(test_compare_identical_data_and_algorithm),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_store_resolve_prior_best),
        cmocka_unit_test(test_config_json),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    util_rm_rf(dir);
    return rc;
}
