/* Unit tests of TrainingJobDefinitions in request: the parse of several
 * definitions (each its ranges, objective, space, path), the rules
 * (request_check) in the current API's field paths, Grid's sum of
 * combinations, the describe echo, the stored text read back, the 2017
 * API's refusal, request_def_index, and the store's column of a training
 * job's definition (schema 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "request.h"
#include "store.h"
#include "util.h"
#include "validate.h"

#include "mutate.h"

#define OP "CreateHyperParameterTuningJob"
#define ACCT "123456789012"

/* valid_current turned into two definitions, "alpha" (its ranges and
 * objective) and "beta" (one range q, objective accuracy). */
static json_t *two_defs(void) {
    json_t *b = load(valid_current);
    json_t *cfg = json_object_get(b, "HyperParameterTuningJobConfig");
    json_t *a = json_deep_copy(json_object_get(b, "TrainingJobDefinition"));
    json_t *z = json_deep_copy(a);
    json_object_set_new(a, "DefinitionName", json_string("alpha"));
    json_object_set_new(a, "TuningObjective",
                        json_deep_copy(json_object_get(cfg, "HyperParameterTuningJobObjective")));
    json_object_set_new(a, "HyperParameterRanges",
                        json_deep_copy(json_object_get(cfg, "ParameterRanges")));
    json_object_set_new(z, "DefinitionName", json_string("beta"));
    json_object_set_new(z, "TuningObjective",
                        json_deep_copy(json_object_get(cfg, "HyperParameterTuningJobObjective")));
    json_object_set_new(z, "HyperParameterRanges",
                        make_value("{\"ContinuousParameterRanges\":[{\"Name\":\"q\","
                                   "\"MinValue\":\"1\",\"MaxValue\":\"2\"}]}"));
    json_object_del(cfg, "HyperParameterTuningJobObjective");
    json_object_del(cfg, "ParameterRanges");
    json_object_del(b, "TrainingJobDefinition");
    json_object_set_new(b, "TrainingJobDefinitions", json_pack("[o, o]", a, z));
    return b;
}

/* request_parse after validate_request; rc expected, and msg in the
 * message when not NULL. */
static req_tuning *parse(json_t *b, int want, const char *msg) {
    err_t e = {0};
    req_tuning *r = NULL;
    int rc = validate_request(API_CURRENT, OP, b, &e);
    if (!rc)
        rc = request_parse(API_CURRENT, OP, b, ACCT, &r, &e);
    if (rc != want)
        fail_msg("rc %d, expected %d: %s", rc, want, e.msg);
    if (rc && msg && !strstr(e.msg, msg))
        fail_msg("message \"%s\" lacks \"%s\"", e.msg, msg);
    if (rc && !ascii_only(e.msg))
        fail_msg("message is not printable ASCII: %s", e.msg);
    return r;
}

static void test_parse_two(void **unused) {
    json_t *b = two_defs();
    req_tuning *r = parse(b, 0, NULL);
    err_t e = {0};
    char buf[160];
    int maximize = 0;
    assert_int_equal(r->ndefs, 2);
    assert_true(r->multi_defs);
    assert_int_equal(r->nranges, 0);
    assert_string_equal(r->defs[1].definition_name, "beta");
    assert_int_equal(r->defs[0].nranges, 3);
    assert_int_equal(r->defs[1].nranges, 1);
    assert_string_equal(request_objective(r, 1, &maximize), "accuracy");
    assert_int_equal(maximize, 1);
    assert_int_equal(r->maximize, 1);
    space *sp = request_space(r, 1, &e);
    assert_non_null(sp);
    assert_int_equal(sp->n, 1);
    assert_string_equal(sp->p[0].name, "q");
    space_free(sp);
    assert_string_equal(
        request_def_path(r, 1, "AlgorithmSpecification.TrainingImage", buf, sizeof buf),
        "TrainingJobDefinitions[1].AlgorithmSpecification.TrainingImage");
    assert_int_equal(request_def_index(r, "beta"), 1);
    assert_int_equal(request_def_index(r, "alpha"), 0);
    assert_int_equal(request_def_index(r, "gamma"), -1);
    assert_int_equal(request_def_index(r, ""), -1); /* several: a row must name its own */
    /* the describe echo: TrainingJobDefinitions as given */
    json_t *d = request_describe_current(r);
    json_t *cfg = json_object_get(d, "HyperParameterTuningJobConfig");
    json_t *defs = json_object_get(d, "TrainingJobDefinitions");
    assert_null(json_object_get(d, "TrainingJobDefinition"));
    assert_null(json_object_get(cfg, "HyperParameterTuningJobObjective"));
    assert_null(json_object_get(cfg, "ParameterRanges"));
    assert_int_equal(json_array_size(defs), 2);
    json_t *given = json_object_get(b, "TrainingJobDefinitions");
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_array_get(defs, i), *g = json_array_get(given, i);
        static const char *const same[] = {"DefinitionName",         "TuningObjective",
                                           "HyperParameterRanges",   "StaticHyperParameters",
                                           "AlgorithmSpecification", "InputDataConfig"};
        for (size_t k = 0; k < sizeof same / sizeof *same; k++)
            if (!json_equal(json_object_get(o, same[k]), json_object_get(g, same[k])))
                fail_msg("definition %zu: %s is not echoed as given", i, same[k]);
    }
    json_decref(d);
    request_free(r);
    /* the stored text reads back the same */
    char *text = json_dumps(b, JSON_COMPACT);
    assert_int_equal(request_parse_text(API_CURRENT, OP, text, ACCT, &r, &e), 0);
    assert_int_equal(r->ndefs, 2);
    assert_string_equal(r->defs[1].ranges[0].name, "q");
    request_free(r);
    free(text);
    json_decref(b);
    /* one definition: "" is definition 0 */
    b = load(valid_current);
    r = parse(b, 0, NULL);
    assert_int_equal(request_def_index(r, NULL), 0);
    assert_int_equal(request_def_index(r, ""), 0);
    assert_false(r->multi_defs);
    request_free(r);
    json_decref(b);
}

#define D0 "TrainingJobDefinitions[0]"
#define D1 "TrainingJobDefinitions[1]"
#define HTJC "HyperParameterTuningJobConfig"
static const mut_case rules[] = {
    {D1 ".DefinitionName", "\"alpha\"", ERR_VALIDATION,
     D1 ".DefinitionName: 'alpha' is already the DefinitionName of TrainingJobDefinitions[0]"},
    {D1 ".TuningObjective.Type", "\"Minimize\"", ERR_VALIDATION,
     D1 ".TuningObjective.Type: Minimize differs from TrainingJobDefinitions[0]'s Maximize"},
    {D1 ".TuningObjective", DEL, ERR_VALIDATION, D1 ".TuningObjective: is required"},
    {D0 ".DefinitionName", DEL, ERR_VALIDATION, D0 ".DefinitionName: is required"},
    {D1 ".HyperParameterRanges", DEL, ERR_VALIDATION, D1 ".HyperParameterRanges: is required"},
    {D1 ".HyperParameterRanges", "{}", ERR_VALIDATION,
     D1 ".HyperParameterRanges: at least one parameter range is required"},
    {D1 ".ResourceConfig", DEL, ERR_VALIDATION, D1 ".ResourceConfig"},
    {D1 ".TuningObjective.MetricName", "\"f1\"", ERR_VALIDATION,
     D1 ".TuningObjective.MetricName: 'f1' is not the Name of any of " D1
        ".AlgorithmSpecification.MetricDefinitions"},
    {D1 ".HyperParameterRanges.ContinuousParameterRanges[0].MaxValue", "\"0.5\"", ERR_VALIDATION,
     D1 ".HyperParameterRanges.ContinuousParameterRanges[0].MinValue: 1 must not be greater than "
        "MaxValue 0.5"},
    {D1 ".StaticHyperParameters.q", "\"1\"", ERR_VALIDATION,
     D1 ".HyperParameterRanges.ContinuousParameterRanges[0].Name: 'q' is also a key of " D1
        ".StaticHyperParameters"},
    {D1 ".AlgorithmSpecification.MetricDefinitions[0].Regex", "\"m=1\"", ERR_VALIDATION,
     D1 ".AlgorithmSpecification.MetricDefinitions[0].Regex: must have a capture group"},
    {D1 ".OutputDataConfig.S3OutputPath", "\"https://h/o\"", ERR_VALIDATION,
     D1 ".OutputDataConfig.S3OutputPath: 'https://h/o' is neither"},
    {HTJC ".HyperParameterTuningJobObjective", "{\"Type\":\"Maximize\",\"MetricName\":\"a\"}",
     ERR_VALIDATION,
     HTJC ".HyperParameterTuningJobObjective: must be left out with "
          "TrainingJobDefinitions"},
    {HTJC ".ParameterRanges", "{}", ERR_VALIDATION,
     HTJC ".ParameterRanges: must be left out with TrainingJobDefinitions"},
    {HTJC ".Strategy", "\"Hyperband\"", ERR_VALIDATION,
     HTJC ".Strategy: Hyperband is not supported with TrainingJobDefinitions"},
    {HTJC ".TrainingJobEarlyStoppingType", "\"Auto\"", ERR_VALIDATION,
     HTJC ".TrainingJobEarlyStoppingType: must be Off with TrainingJobDefinitions"},
    {"WarmStartConfig",
     "{\"ParentHyperParameterTuningJobs\":[{\"HyperParameterTuningJobName\":\"p\"}],"
     "\"WarmStartType\":\"IdenticalDataAndAlgorithm\"}",
     ERR_VALIDATION, "WarmStartConfig: is not supported with TrainingJobDefinitions"},
    {HTJC ".Strategy", "\"Grid\"", ERR_VALIDATION,
     D0 ".HyperParameterRanges.ContinuousParameterRanges[0]: 'x': Strategy Grid supports "
        "CategoricalParameterRanges only"},
    {"TrainingJobDefinitions", "[]", ERR_VALIDATION, "TrainingJobDefinitions"},
    {D1 ".DefinitionName", "\"gamma\"", 0, NULL},
};

static void test_rules(void **unused) {
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        json_t *b = two_defs();
        set_path(b, rules[i].path, rules[i].value ? make_value(rules[i].value) : NULL);
        print_message("case %zu: %s\n", i, rules[i].path);
        request_free(parse(b, rules[i].rc, rules[i].msg));
        json_decref(b);
    }
    /* both TrainingJobDefinition and TrainingJobDefinitions */
    json_t *b = two_defs(), *one = load(valid_current);
    json_object_set(b, "TrainingJobDefinition", json_object_get(one, "TrainingJobDefinition"));
    request_free(parse(b, ERR_VALIDATION,
                       "TrainingJobDefinitions: give either TrainingJobDefinition or "
                       "TrainingJobDefinitions, not both"));
    json_decref(one);
    json_decref(b);
}

/* More than REQ_MAX_DEFINITIONS: refused (by the shape model or the parser). */
static void test_at_most_ten(void **unused) {
    json_t *b = two_defs();
    json_t *list = json_object_get(b, "TrainingJobDefinitions");
    for (int i = 2; i < REQ_MAX_DEFINITIONS; i++) {
        json_t *c = json_deep_copy(json_array_get(list, 1));
        char name[16];
        snprintf(name, sizeof name, "d%d", i);
        json_object_set_new(c, "DefinitionName", json_string(name));
        json_array_append_new(list, c);
    }
    req_tuning *r = parse(b, 0, NULL); /* ten is fine */
    assert_int_equal(r->ndefs, REQ_MAX_DEFINITIONS);
    request_free(r);
    json_t *c = json_deep_copy(json_array_get(list, 1));
    json_object_set_new(c, "DefinitionName", json_string("eleven"));
    json_array_append_new(list, c);
    request_free(parse(b, ERR_VALIDATION, "TrainingJobDefinitions"));
    /* the parser itself, past the shape model */
    err_t e = {0};
    assert_int_equal(request_parse(API_CURRENT, OP, b, ACCT, &r, &e), ERR_VALIDATION);
    assert_null(r);
    assert_non_null(strstr(e.msg, "TrainingJobDefinitions: must have at most 10 items"));
    json_decref(b);
}

/* Grid: each definition's combinations, MaxNumberOfTrainingJobs their sum. */
static void test_grid_sum(void **unused) {
    json_t *b = two_defs();
    set_path(b, HTJC ".Strategy", make_value("\"Grid\""));
    set_path(b, HTJC ".ResourceLimits.MaxNumberOfTrainingJobs", DEL);
    set_path(b, D0 ".HyperParameterRanges",
             make_value("{\"CategoricalParameterRanges\":[{\"Name\":\"kind\",\"Values\":[\"a\","
                        "\"b\"]},{\"Name\":\"k2\",\"Values\":[\"u\",\"v\",\"w\"]}]}"));
    set_path(b, D1 ".HyperParameterRanges",
             make_value("{\"CategoricalParameterRanges\":[{\"Name\":\"q\",\"Values\":[\"1\","
                        "\"2\"]}]}"));
    req_tuning *r = parse(b, 0, NULL);
    assert_int_equal(r->max_jobs, 6 + 2);
    request_free(r);
    set_path(b, HTJC ".ResourceLimits.MaxNumberOfTrainingJobs", make_value("6"));
    request_free(parse(b, ERR_VALIDATION,
                       HTJC ".ResourceLimits.MaxNumberOfTrainingJobs: 6 must be the number of "
                            "combinations of the categorical ranges for Strategy Grid (8)"));
    json_decref(b);
}

/* The 2017 API has no TrainingJobDefinitions. */
static void test_refused_2017(void **unused) {
    json_t *b = load(valid_2017);
    err_t e = {0};
    assert_int_equal(request_refuse_2017(b, &e), 0);
    json_object_set_new(b, "TrainingJobDefinitions", json_array());
    assert_int_equal(request_refuse_2017(b, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "TrainingJobDefinitions: is not a member of the 2017 HPO API"));
    json_decref(b);
}

/* A training job row keeps its definition's name; a row without one
 * reads back "". */
static void test_store_definition(void **unused) {
    char dir[] = "/tmp/openhpo-defs-XXXXXX";
    err_t e = {0};
    assert_non_null(mkdtemp(dir));
    store *s = store_open(dir, &e);
    assert_non_null(s);
    store_tuning t = {0};
    snprintf(t.account, sizeof t.account, ACCT);
    snprintf(t.name, sizeof t.name, "multi");
    snprintf(t.arn, sizeof t.arn, "arn:x:multi");
    snprintf(t.status, sizeof t.status, "Created");
    t.request = "{}";
    snprintf(t.objective_type, sizeof t.objective_type, "Maximize");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    int64_t ids[2];
    for (int i = 0; i < 2; i++) {
        store_training r = {0};
        r.tuning_id = t.id;
        snprintf(r.account, sizeof r.account, ACCT);
        snprintf(r.name, sizeof r.name, "multi-%03d", i + 1);
        r.idx = i;
        snprintf(r.status, sizeof r.status, "InProgress");
        snprintf(r.secondary, sizeof r.secondary, "Starting");
        r.hyperparameters = "{}";
        snprintf(r.definition, sizeof r.definition, "%s",
                 i ? "a-definition-name-of-sixty-four-characters-0123456789-abcdefghij" : "");
        assert_int_equal(strlen(r.definition), i ? 64 : 0);
        assert_int_equal(store_insert_training(s, &r, &e), 0);
        ids[i] = r.id;
    }
    store_close(s);
    s = store_open(dir, &e); /* as a restarted daemon reads them */
    assert_non_null(s);
    for (int i = 0; i < 2; i++) {
        store_training got = {0};
        assert_int_equal(store_get_training_by_id(s, ids[i], &got), 0);
        assert_string_equal(got.definition,
                            i ? "a-definition-name-of-sixty-four-characters-0123456789-abcdefghij"
                              : "");
        store_training_clear(&got);
    }
    store_close(s);
    util_rm_rf(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_two),    cmocka_unit_test(test_rules),
        cmocka_unit_test(test_at_most_ten),  cmocka_unit_test(test_grid_sum),
        cmocka_unit_test(test_refused_2017), cmocka_unit_test(test_store_definition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
