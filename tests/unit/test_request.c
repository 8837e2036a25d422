/* Unit tests of request: the parsers of both APIs, the semantic rules
 * (request_check) with the 2017 API's messages, the current API's paths,
 * the emitters, the space, and reading the stored requests of earlier
 * daemons. Most cases are rows of tables: a valid body, one change (path =
 * new JSON value, or a deletion), and the expected result and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "request.h"
#include "validate.h"

#include "mutate.h"

/* Applies each case to a fresh copy of `base` and checks the result of
 * request_parse(flavor, op) after validate_request() has accepted it. */
static void run_cases(api_flavor flavor, const char *op, const char *base, const mut_case *cases,
                      size_t n, int semantic) {
    for (size_t i = 0; i < n; i++) {
        json_t *body = load(base);
        err_t e = {0};
        int rc;
        set_path(body, cases[i].path, cases[i].value ? make_value(cases[i].value) : NULL);
        rc = validate_request(flavor, op, body, &e);
        if (semantic) {
            if (rc)
                fail_msg("case %zu (%s = %.40s): shape check failed: %s", i, cases[i].path,
                         cases[i].value ? cases[i].value : "DEL", e.msg);
            req_tuning *r = NULL;
            rc = request_parse(flavor, op, body, "123456789012", &r, &e);
            request_free(r);
        }
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s = %.40s): rc %d, expected %d; msg: %s", i, cases[i].path,
                     cases[i].value ? cases[i].value : "DEL", rc, cases[i].rc, e.msg);
        if (rc && cases[i].msg && !strstr(e.msg, cases[i].msg))
            fail_msg("case %zu (%s): message \"%s\" lacks \"%s\"", i, cases[i].path, e.msg,
                     cases[i].msg);
        if (rc && !ascii_only(e.msg))
            fail_msg("case %zu (%s): message is not printable ASCII: %s", i, cases[i].path, e.msg);
        json_decref(body);
    }
}

#define RUN(flavor, op, base, cases, semantic)                                                     \
    run_cases(flavor, op, base, cases, sizeof cases / sizeof *cases, semantic)

/* The semantic rules (request_check), in the 2017 API's words, one row each
 * (ported from test_validate.c). */
#define CPR "TuningJobConfig.ParameterRanges.ContinuousParameterRanges"
#define IPR "TuningJobConfig.ParameterRanges.IntegerParameterRanges"
#define KPR "TuningJobConfig.ParameterRanges.CategoricalParameterRanges"
#define MDS "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions"
#define S3U "TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri"
static const mut_case create_2017_semantic[] = {
    /* Type matches the list */
    {CPR "[0].Type", "\"Integer\"", ERR_VALIDATION,
     CPR "[0].Type: must be Continuous in ContinuousParameterRanges, not 'Integer'"},
    {IPR "[0].Type", "\"Continuous\"", ERR_VALIDATION,
     IPR "[0].Type: must be Integer in IntegerParameterRanges, not 'Continuous'"},
    {KPR "[0].Type", "\"Integer\"", ERR_VALIDATION,
     KPR "[0].Type: must be Categorical in CategoricalParameterRanges"},
    /* bounds are numbers */
    {CPR "[0].MinValue", "\"abc\"", ERR_VALIDATION,
     CPR "[0].MinValue: 'abc' is not a finite decimal number"},
    {CPR "[0].MaxValue", "\"\"", ERR_VALIDATION, CPR "[0].MaxValue: '' is not a finite decimal"},
    {CPR "[0].MaxValue", "\"1e999\"", ERR_VALIDATION, CPR "[0].MaxValue: '1e999' is not"},
    {CPR "[0].MaxValue", "\"inf\"", ERR_VALIDATION, "is not a finite decimal number"},
    {CPR "[0].MaxValue", "\"nan\"", ERR_VALIDATION, "is not a finite decimal number"},
    {CPR "[0].MaxValue", "\"0x10\"", ERR_VALIDATION, "is not a finite decimal number"},
    {CPR "[0].MaxValue", "\" 10\"", ERR_VALIDATION, "is not a finite decimal number"},
    {CPR "[0].MaxValue", "\"10 \"", ERR_VALIDATION, "is not a finite decimal number"},
    {CPR "[0].MaxValue", "\"1e\"", ERR_VALIDATION, "is not a finite decimal number"},
    {CPR "[0].MaxValue", "\".\"", ERR_VALIDATION, "is not a finite decimal number"},
    {CPR "[0].MaxValue", "\"1.5e+2\"", 0, NULL},
    {CPR "[0].MaxValue", "\".5\"", 0, NULL},
    {CPR "[0].MaxValue", "\"+7.\"", 0, NULL},
    {IPR "[0].MinValue", "\"1.5\"", ERR_VALIDATION, IPR "[0].MinValue: '1.5' is not an integer"},
    {IPR "[0].MaxValue", "\"1e3\"", ERR_VALIDATION, IPR "[0].MaxValue: '1e3' is not an integer"},
    {IPR "[0].MaxValue", "\"10.0\"", ERR_VALIDATION, "is not an integer"},
    {IPR "[0].MaxValue", "\"99999999999999999\"", ERR_VALIDATION, "is not an integer"},
    {IPR "[0].MinValue", "\"-9000000000000000\"", 0, NULL},
    /* Min <= Max */
    {CPR "[0].MinValue", "\"10.5\"", ERR_VALIDATION,
     CPR "[0].MinValue: 10.5 must not be greater than MaxValue 10"},
    {IPR "[0].MinValue", "\"16\"", ERR_VALIDATION,
     IPR "[0].MinValue: 16 must not be greater than MaxValue 15"},
    {IPR "[0].MinValue", "\"15\"", 0, NULL}, /* a one-point range is fine */
    /* scaling types fit their ranges */
    {CPR "[0].ScalingType", "\"Logarithmic\"", ERR_VALIDATION,
     CPR "[0].ScalingType: Logarithmic scaling needs MinValue greater than 0"},
    {IPR "[0].ScalingType", "\"ReverseLogarithmic\"", ERR_VALIDATION,
     IPR "[0].ScalingType: ReverseLogarithmic scaling is only for ContinuousParameterRanges"},
    {CPR "[0].ScalingType", "\"ReverseLogarithmic\"", ERR_VALIDATION,
     CPR "[0].ScalingType: ReverseLogarithmic scaling needs 0 <= MinValue and MaxValue < 1"},
    {CPR "[0]",
     "{\"Name\":\"x\",\"MinValue\":\"0\",\"MaxValue\":\"0.99\",\"Type\":\"Continuous\","
     "\"ScalingType\":\"ReverseLogarithmic\"}",
     0, NULL},
    {IPR "[0]",
     "{\"Name\":\"n\",\"MinValue\":\"1\",\"MaxValue\":\"1000\",\"Type\":\"Integer\","
     "\"ScalingType\":\"Logarithmic\"}",
     0, NULL},
    {CPR "[0].ScalingType", "\"Auto\"", 0, NULL},
    /* categorical values are distinct */
    {KPR "[0].Values[2]", "\"a\"", ERR_VALIDATION, KPR "[0].Values[2]: 'a' is already Values[0]"},
    {KPR "[0].Values", "[\"only\"]", 0, NULL},
    /* names are unique */
    {IPR "[0].Name", "\"x\"", ERR_VALIDATION,
     IPR "[0].Name: parameter 'x' is already defined by ContinuousParameterRanges[0]"},
    {KPR "[0].Name", "\"n\"", ERR_VALIDATION,
     KPR "[0].Name: parameter 'n' is already defined by IntegerParameterRanges[0]"},
    {CPR "[1]", "{\"Name\":\"x\",\"MinValue\":\"0\",\"MaxValue\":\"1\",\"Type\":\"Continuous\"}",
     ERR_VALIDATION,
     CPR "[1].Name: parameter 'x' is already defined by "
         "ContinuousParameterRanges[0]"},
    {"TrainingJobDefinition.StaticHyperParameters.kind", "\"a\"", ERR_VALIDATION,
     KPR "[0].Name: 'kind' is also a key of TrainingJobDefinition.StaticHyperParameters"},
    /* at least one range */
    {"TuningJobConfig.ParameterRanges", "{}", ERR_VALIDATION,
     "TuningJobConfig.ParameterRanges: at least one parameter range is required"},
    {"TuningJobConfig.ParameterRanges", DEL, ERR_VALIDATION,
     "TuningJobConfig.ParameterRanges: at least one parameter range is required"},
    {"TuningJobConfig.ParameterRanges",
     "{\"ContinuousParameterRanges\":[],\"IntegerParameterRanges\":[],"
     "\"CategoricalParameterRanges\":[{\"Name\":\"k\",\"Values\":[\"v\"],\"Type\":"
     "\"Categorical\"}]}",
     0, NULL},
    /* metric definitions */
    {MDS "[0].Name", DEL, ERR_VALIDATION, MDS "[0].Name: is required"},
    {MDS "[1].Regex", DEL, ERR_VALIDATION, MDS "[1].Regex: is required"},
    {MDS "[1].Regex", "\"loss=([0-9\"", ERR_VALIDATION,
     MDS "[1].Regex: is not a valid regular expression: "},
    {MDS "[1].Regex", "\"loss=(\"", ERR_VALIDATION, "is not a valid regular expression"},
    {MDS "[1].Regex", "\"loss=[0-9.]+\"", ERR_VALIDATION,
     MDS "[1].Regex: must have a capture group"},
    {MDS "[1].Regex", "\"loss=(?:[0-9.]+)\"", ERR_VALIDATION, "must have a capture group"},
    {MDS "[1].Regex", "\"(?<v>\\\\d+)\\\\s\\\\p{L}\"", 0, NULL},
    {MDS "[1].Name", "\"accuracy\"", ERR_VALIDATION,
     MDS "[1].Name: metric 'accuracy' is already defined by MetricDefinitions[0]"},
    /* the objective */
    {"TuningJobConfig.TuningJobObjective.MetricName", "\"f1\"", ERR_VALIDATION,
     "TuningJobConfig.TuningJobObjective.MetricName: 'f1' is not the Name of any of " MDS},
    {"TuningJobConfig.TuningJobObjective.MetricName", "\"loss\"", 0, NULL},
    {"TuningJobConfig.TuningJobObjective.MetricName", DEL, 0, NULL},
    {"TuningJobConfig.TuningJobObjective", DEL, 0, NULL},
    {MDS, "[]", ERR_VALIDATION, "'accuracy' is not the Name of any of " MDS},
    {MDS, DEL, ERR_VALIDATION, "is not the Name of any of"},
    /* parallelism within the budget */
    {"TuningJobConfig.ResourceLimits.MaxParallelTrainingJobs", "11", ERR_VALIDATION,
     "TuningJobConfig.ResourceLimits.MaxParallelTrainingJobs: 11 must not be greater than "
     "MaxNumberOfTrainingJobs 10"},
    {"TuningJobConfig.ResourceLimits.MaxParallelTrainingJobs", "10", 0, NULL},
    {"TuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs", DEL, 0, NULL},
    {"TuningJobConfig.ResourceLimits", "{\"MaxParallelTrainingJobs\":50}", ERR_VALIDATION,
     "MaxParallelTrainingJobs: 50 must not be greater than MaxNumberOfTrainingJobs 10 (its "
     "default)"},
    /* edge inputs: a width not finite in double precision; SM_HP_ collisions */
    {CPR "[0].MinValue", "\"-1.7e308\"", 0, NULL},
    {CPR "[0]",
     "{\"Name\":\"x\",\"MinValue\":\"-1.7e308\",\"MaxValue\":\"1.7e308\",\"Type\":\"Continuous\"}",
     ERR_VALIDATION,
     CPR "[0]: the range's width (MaxValue - MinValue on its Linear scale) is not finite"},
    {"TrainingJobDefinition.StaticHyperParameters.X", "\"1\"", ERR_VALIDATION,
     "TrainingJobDefinition.StaticHyperParameters: hyperparameter 'X' and 'x' (" CPR
     "[0].Name) both map to the environment variable SM_HP_X"},
    {"TrainingJobDefinition.StaticHyperParameters.a-b", "\"1\"", 0, NULL},
    {KPR "[0].Name", "\"mo-de\"", 0, NULL},
    {KPR "[0].Name", "\"MODE\"", ERR_VALIDATION,
     "TrainingJobDefinition.StaticHyperParameters: hyperparameter 'mode' and 'MODE' (" KPR
     "[0].Name) both map to the environment variable SM_HP_MODE"},
    {"TuningJobConfig.ResourceLimits", DEL, 0, NULL},
    /* channels */
    {S3U, "\"s3://bucket/train\"", 0, NULL},
    {S3U, "\"s3:///train\"", ERR_VALIDATION,
     S3U ": 's3:///train' names no bucket (s3://bucket/prefix)"},
    {S3U, "\"file://tmp\"", ERR_VALIDATION,
     S3U ": 'file://tmp' is not a file:// URI with an absolute path"},
    {S3U, "\"/tmp\"", ERR_VALIDATION, S3U ": '/tmp' is not a file:// URI"},
    {S3U, "\"https://example.com/x\"", ERR_VALIDATION, "is not a file:// URI"},
    {S3U, "\"\"", ERR_VALIDATION, S3U ": '' is not a file:// URI"},
    {S3U, "\"file:///\"", 0, NULL},
    {"TrainingJobDefinition.InputDataConfig[1]",
     "{\"ChannelName\":\"train\",\"DataSource\":{\"S3DataSource\":{\"S3DataType\":\"S3Prefix\","
     "\"S3Uri\":\"file:///tmp/b\"}}}",
     ERR_VALIDATION,
     "TrainingJobDefinition.InputDataConfig[1].ChannelName: channel 'train' is already "
     "InputDataConfig[0]"},
    {"TrainingJobDefinition.InputDataConfig[1]",
     "{\"ChannelName\":\"test\",\"DataSource\":{\"S3DataSource\":{\"S3DataType\":\"S3Prefix\","
     "\"S3Uri\":\"s3://b/t\"}}}",
     0, NULL},
    {"TrainingJobDefinition.InputDataConfig[1]",
     "{\"ChannelName\":\"test\",\"DataSource\":{\"S3DataSource\":{\"S3DataType\":"
     "\"ManifestFile\",\"S3Uri\":\"file:///tmp/m.json\"}}}",
     ERR_VALIDATION,
     "InputDataConfig[1].DataSource.S3DataSource.S3DataType: ManifestFile needs an s3:// S3Uri"},
    /* output */
    {"TrainingJobDefinition.OutputDataConfig.S3OutputPath", "\"s3://bucket/out\"", 0, NULL},
    {"TrainingJobDefinition.OutputDataConfig.S3OutputPath", "\"s3://bucket\"", 0, NULL},
    {"TrainingJobDefinition.OutputDataConfig.S3OutputPath", "\"s3:///out\"", ERR_VALIDATION,
     "TrainingJobDefinition.OutputDataConfig.S3OutputPath: 's3:///out' is neither a file:// URI "
     "with an absolute path"},
    {"TrainingJobDefinition.OutputDataConfig.S3OutputPath", "\"out\"", ERR_VALIDATION,
     "S3OutputPath: 'out' is neither"},
    {"TrainingJobDefinition.OutputDataConfig.S3OutputPath", "\"file://out\"", ERR_VALIDATION,
     "S3OutputPath: 'file://out' is neither"},
};

static void test_create_2017_semantic(void **unused) {
    RUN(API_2017, "CreateTuningJob", valid_2017, create_2017_semantic, 1);
}

static void test_semantic_order_and_null(void **unused) {
    err_t e = {0};
    json_t *b = load(valid_2017);
    assert_int_equal(request_check(NULL, &e), ERR_VALIDATION);
    /* two problems: the earlier rule (range types) is reported */
    set_path(b, IPR "[0].Type", json_string("Categorical"));
    set_path(b, "TuningJobConfig.ResourceLimits.MaxParallelTrainingJobs", json_integer(99));
    req_tuning *r = NULL;
    assert_int_equal(request_parse(API_2017, "CreateTuningJob", b, "123456789012", &r, &e),
                     ERR_VALIDATION);
    assert_null(r);
    assert_non_null(strstr(e.msg, IPR "[0].Type"));
    json_decref(b);
}

/* The current API's parsers name fields by its own paths. */
static void expect_current(const char *op, const char *base, const char *path, const char *value,
                           const char *msg) {
    json_t *b = load(base);
    err_t e = {0};
    req_tuning *r = NULL;
    set_path(b, path, value ? make_value(value) : NULL);
    if (validate_request(API_CURRENT, op, b, &e))
        fail_msg("%s: shape check failed: %s", path, e.msg);
    int rc = request_parse(API_CURRENT, op, b, "123456789012", &r, &e);
    if (!msg) {
        if (rc)
            fail_msg("%s: %s", path, e.msg);
        assert_non_null(r);
    } else {
        if (rc != ERR_VALIDATION)
            fail_msg("%s = %s: rc %d, expected a ValidationError naming \"%s\"", path,
                     value ? value : "DEL", rc, msg);
        assert_null(r);
        if (!strstr(e.msg, msg))
            fail_msg("message \"%s\" lacks \"%s\"", e.msg, msg);
    }
    request_free(r);
    json_decref(b);
}

static const char valid_training[] =
    "{\"TrainingJobName\":\"train1\",\"HyperParameters\":{\"x\":\"1\"},"
    "\"AlgorithmSpecification\":{\"TrainingImage\":\"trainer:latest\","
    " \"TrainingInputMode\":\"File\"},"
    "\"RoleArn\":\"arn:aws:iam::123456789012:role/openhpo\","
    "\"OutputDataConfig\":{\"S3OutputPath\":\"file:///tmp/out\"},"
    "\"ResourceConfig\":{\"InstanceType\":\"ml.m5.large\",\"InstanceCount\":1,"
    " \"VolumeSizeInGB\":1},"
    "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":60}}";

#define HCPR "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges"
static void test_current_paths(void **unused) {
    const char *op = "CreateHyperParameterTuningJob";
    expect_current(op, valid_current, "HyperParameterTuningJobName", "\"ok\"", NULL);
    expect_current(op, valid_current,
                   "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName",
                   "\"f1\"",
                   "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName: "
                   "'f1' is not the Name of any of TrainingJobDefinition.AlgorithmSpecification."
                   "MetricDefinitions");
    expect_current(op, valid_current, "HyperParameterTuningJobConfig.ResourceLimits",
                   "{\"MaxNumberOfTrainingJobs\":2,\"MaxParallelTrainingJobs\":3}",
                   "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs: 3 must "
                   "not be greater than MaxNumberOfTrainingJobs 2");
    expect_current(op, valid_current, HCPR "[0].MinValue", "\"-1.7e308\"", NULL);
    expect_current(op, valid_current, HCPR "[0]",
                   "{\"Name\":\"x\",\"MinValue\":\"-1.7e308\",\"MaxValue\":\"1.7e308\"}",
                   HCPR "[0]: the range's width");
    expect_current(op, valid_current, "TrainingJobDefinition.StaticHyperParameters.KIND", "\"1\"",
                   "TrainingJobDefinition.StaticHyperParameters: hyperparameter 'KIND' and "
                   "'kind' (HyperParameterTuningJobConfig.ParameterRanges."
                   "CategoricalParameterRanges[0].Name) both map to the environment variable "
                   "SM_HP_KIND");
    expect_current(op, valid_current, "TrainingJobDefinition", DEL,
                   "TrainingJobDefinition: is required");
    expect_current(op, valid_current, "HyperParameterTuningJobConfig.ParameterRanges", "{}",
                   "HyperParameterTuningJobConfig.ParameterRanges: at least one parameter range");
    expect_current(op, valid_current,
                   "TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri",
                   "\"s3://b/k\"", NULL);
    expect_current(op, valid_current, "TrainingJobDefinition.CheckpointConfig",
                   "{\"S3Uri\": \"file:///tmp/c\"}",
                   "TrainingJobDefinition.CheckpointConfig.S3Uri: 'file:///tmp/c' is not an "
                   "s3://bucket/prefix URI");
    expect_current(op, valid_current, "TrainingJobDefinition.CheckpointConfig",
                   "{\"S3Uri\": \"s3://b/c\", \"LocalPath\": \"/opt/ml/input/c\"}",
                   "TrainingJobDefinition.CheckpointConfig.LocalPath: '/opt/ml/input/c' must be");
    expect_current(op, valid_current, "TrainingJobDefinition.CheckpointConfig",
                   "{\"S3Uri\": \"s3://b/c\", \"LocalPath\": \"/opt/ml/ck\"}", NULL);
    /* CreateTrainingJob: no ranges needed; its own paths */
    op = "CreateTrainingJob";
    expect_current(op, valid_training, "TrainingJobName", "\"t2\"", NULL);
    expect_current(op, valid_training, "HyperParameters.X", "\"2\"",
                   "HyperParameters: hyperparameter 'X' and 'x' (HyperParameters) both map to "
                   "the environment variable SM_HP_X");
    expect_current(op, valid_training, "OutputDataConfig.S3OutputPath", "\"https://h/o\"",
                   "OutputDataConfig.S3OutputPath: 'https://h/o' is neither");
    expect_current(op, valid_training, "AlgorithmSpecification.MetricDefinitions",
                   "[{\"Name\":\"m\",\"Regex\":\"m=[0-9]\"}]",
                   "AlgorithmSpecification.MetricDefinitions[0].Regex: must have a capture group");
}

/* Grid and Hyperband's rules on the current API (request_check), in its
 * paths; Grid's MaxNumberOfTrainingJobs default; Hyperband's MaxResource
 * inferred from a static epochs hyperparameter. */
#define HTJC "HyperParameterTuningJobConfig"
#define CAT_ONLY                                                                                   \
    "{\"CategoricalParameterRanges\":[{\"Name\":\"kind\",\"Values\":[\"a\",\"b\",\"c\"]},"         \
    "{\"Name\":\"k2\",\"Values\":[\"u\",\"v\"]}]}"
static req_tuning *parse_with(const char *const *paths, const char *const *values, size_t n,
                              err_t *e) {
    json_t *b = load(valid_current);
    req_tuning *r = NULL;
    for (size_t i = 0; i < n; i++)
        set_path(b, paths[i], values[i] ? make_value(values[i]) : NULL);
    if (validate_request(API_CURRENT, "CreateHyperParameterTuningJob", b, e))
        fail_msg("shape check failed: %s", e->msg);
    request_parse(API_CURRENT, "CreateHyperParameterTuningJob", b, "123456789012", &r, e);
    json_decref(b);
    return r;
}

static void test_strategy_rules(void **unused) {
    const char *op = "CreateHyperParameterTuningJob";
    err_t e = {0};
    expect_current(op, valid_current, HTJC ".Strategy", "\"Grid\"",
                   HTJC ".ParameterRanges.ContinuousParameterRanges[0]: 'x': Strategy Grid "
                        "supports CategoricalParameterRanges only");
    /* Grid: MaxNumberOfTrainingJobs left out = the 6 combinations; given, it must be 6 */
    const char *gp[] = {HTJC ".Strategy", HTJC ".ParameterRanges", HTJC ".ResourceLimits"};
    const char *gv[] = {"\"Grid\"", CAT_ONLY, "{\"MaxParallelTrainingJobs\":2}"};
    req_tuning *r = parse_with(gp, gv, 3, &e);
    assert_non_null(r);
    assert_int_equal(r->max_jobs, 6);
    assert_int_equal(r->max_jobs_given, 0);
    request_free(r);
    gv[2] = "{\"MaxParallelTrainingJobs\":2,\"MaxNumberOfTrainingJobs\":5}";
    assert_null(parse_with(gp, gv, 3, &e));
    assert_non_null(strstr(e.msg, HTJC ".ResourceLimits.MaxNumberOfTrainingJobs: 5 must be the "
                                       "number of combinations"));
    gv[2] = "{\"MaxParallelTrainingJobs\":2,\"MaxNumberOfTrainingJobs\":6}";
    assert_non_null(r = parse_with(gp, gv, 3, &e));
    request_free(r);
    /* Hyperband: MaxResource given, inferred (in the documented key order), or missing */
    const char *hp[] = {HTJC ".Strategy", "TrainingJobDefinition.StaticHyperParameters",
                        HTJC ".StrategyConfig"};
    const char *hv[] = {"\"Hyperband\"", "{\"num_epochs\":\"30\",\"n_epochs\":\"12\"}", NULL};
    assert_non_null(r = parse_with(hp, hv, 3, &e));
    const char *from = NULL;
    assert_int_equal(request_hb_max_resource(r, &from), 12);
    assert_string_equal(from, "n_epochs");
    request_free(r);
    hv[2] = "{\"HyperbandStrategyConfig\":{\"MinResource\":2,\"MaxResource\":40}}";
    assert_non_null(r = parse_with(hp, hv, 3, &e));
    assert_int_equal(request_hb_max_resource(r, NULL), 40);
    assert_int_equal(r->hb_min_resource, 2);
    json_t *d = request_describe_current(r);
    json_t *sc = json_object_get(json_object_get(d, HTJC), "StrategyConfig");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(sc, "HyperbandStrategyConfig"), "MaxResource")),
                     40);
    json_decref(d);
    request_free(r);
    hv[1] = "{\"mode\":\"normal\"}";
    hv[2] = NULL;
    assert_null(parse_with(hp, hv, 3, &e));
    assert_non_null(strstr(e.msg, HTJC ".StrategyConfig.HyperbandStrategyConfig.MaxResource: is "
                                       "required"));
    hv[1] = "{\"epochs\":\"20001\"}";
    assert_null(parse_with(hp, hv, 3, &e));
    assert_non_null(strstr(e.msg, "StaticHyperParameters.epochs: 20001 is over"));
    hv[2] = "{\"HyperbandStrategyConfig\":{\"MinResource\":9,\"MaxResource\":8}}";
    assert_null(parse_with(hp, hv, 3, &e));
    assert_non_null(strstr(e.msg, "MinResource: 9 must not be greater than MaxResource 8"));
    expect_current(op, valid_current, HTJC ".StrategyConfig",
                   "{\"HyperbandStrategyConfig\":{\"MaxResource\":8}}",
                   HTJC ".StrategyConfig: is only for Strategy Hyperband");
    const char *ap[] = {HTJC ".Strategy", HTJC ".TrainingJobEarlyStoppingType",
                        "TrainingJobDefinition.StaticHyperParameters"};
    const char *av[] = {"\"Hyperband\"", "\"Auto\"", "{\"epochs\":\"9\"}"};
    assert_null(parse_with(ap, av, 3, &e));
    assert_non_null(strstr(e.msg, HTJC ".TrainingJobEarlyStoppingType: must be Off"));
    av[0] = "\"Random\""; /* Auto with Random and Bayesian */
    assert_non_null(r = parse_with(ap, av, 3, &e));
    assert_int_equal(r->early_stopping, REQ_EARLY_STOPPING_AUTO);
    request_free(r);
}

/* Defaults, the space, the objective, the def paths and the emitters. */
static void test_struct_and_emitters(void **unused) {
    err_t e = {0};
    json_t *b = load(valid_2017);
    req_tuning *r = NULL;
    char buf[160];
    set_path(b, "TuningJobConfig.ResourceLimits", NULL);
    set_path(b, "TuningJobConfig.TuningJobObjective", NULL);
    assert_int_equal(request_parse(API_2017, "CreateTuningJob", b, "123456789012", &r, &e), 0);
    assert_int_equal(r->max_jobs, REQ_DEFAULT_MAX_JOBS);
    assert_int_equal(r->max_parallel, REQ_DEFAULT_MAX_PARALLEL);
    assert_int_equal(r->strategy, REQ_DEFAULT_STRATEGY);
    int maximize = 0;
    assert_string_equal(request_objective(r, 0, &maximize), "accuracy"); /* the first metric */
    assert_int_equal(maximize, 1);
    assert_int_equal(r->ntags, 1);
    assert_string_equal(r->tags[0].key, "team");
    assert_string_equal(
        request_def_path(r, 0, "AlgorithmSpecification.TrainingImage", buf, sizeof buf),
        "TrainingJobDefinition.AlgorithmSpecification.TrainingImage");
    space *sp = request_space(r, 0, &e);
    assert_non_null(sp);
    assert_int_equal(sp->n, 3);
    assert_int_equal(sp->p[0].scale, SCALE_LINEAR); /* the 2017 API's ranges are linear */
    space_free(sp);
    json_t *d = request_describe_2017(r);
    assert_non_null(d);
    json_t *whole = load(valid_2017);
    json_t *want = json_object_get(json_object_get(whole, "TuningJobConfig"), "ParameterRanges");
    assert_true(json_equal(json_object_get(d, "ParameterRanges"), want));
    json_decref(whole);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "ResourceLimits"),
                                                        "MaxNumberOfTrainingJobs")),
                     10);
    json_decref(d);
    request_free(r);
    json_decref(b);
    /* the current API: Auto scaling, its describe echo */
    b = load(valid_current);
    assert_int_equal(
        request_parse(API_CURRENT, "CreateHyperParameterTuningJob", b, "123456789012", &r, &e), 0);
    sp = request_space(r, 0, &e);
    assert_int_equal(sp->p[1].scale, SCALE_LINEAR); /* Auto over [0, 15] */
    space_free(sp);
    d = request_describe_current(r);
    json_t *cfg = json_object_get(d, "HyperParameterTuningJobConfig");
    assert_string_equal(json_string_value(json_object_get(cfg, "Strategy")), "Bayesian");
    assert_true(json_equal(
        json_object_get(cfg, "ParameterRanges"),
        json_object_get(json_object_get(b, "HyperParameterTuningJobConfig"), "ParameterRanges")));
    assert_true(json_equal(
        json_object_get(json_object_get(d, "TrainingJobDefinition"), "StaticHyperParameters"),
        json_object_get(json_object_get(b, "TrainingJobDefinition"), "StaticHyperParameters")));
    json_decref(d);
    request_free(r);
    json_decref(b);
    assert_string_equal(request_strategy_name(REQ_STRATEGY_RANDOM), "Random");
    req_strategy st;
    assert_int_equal(request_strategy_parse("Hyperband", &st), 0);
    assert_int_equal(st, REQ_STRATEGY_HYPERBAND);
    assert_int_equal(request_strategy_parse("bayesian", &st), -1);
    request_free(NULL);
}

/* Rows of earlier daemons: a 2017-shaped normalised body; a current-API
 * job's with "_api_current" and "_original" (the caller's body). */
static void test_parse_stored_text(void **unused) {
    err_t e = {0};
    req_tuning *r = NULL;
    assert_int_equal(
        request_parse_text(API_2017, "CreateTuningJob", valid_2017, "123456789012", &r, &e), 0);
    assert_int_equal(r->api, API_2017);
    assert_int_equal(r->nranges, 3);
    request_free(r);
    json_t *legacy = load(valid_2017), *orig = load(valid_current);
    json_object_set_new(legacy, "_api_current", json_true());
    json_object_set_new(legacy, "_original", orig);
    char *text = json_dumps(legacy, JSON_COMPACT);
    assert_int_equal(request_parse_text(API_CURRENT, "CreateHyperParameterTuningJob", text,
                                        "123456789012", &r, &e),
                     0);
    assert_int_equal(r->api, API_CURRENT); /* parsed as the current API's body */
    assert_int_equal(r->nranges, 3);
    assert_string_equal(r->ranges[2].values[1], "b"); /* the original's, not the 2017 copy's */
    assert_int_equal(r->max_parallel, 2);
    request_free(r);
    free(text);
    json_decref(legacy);
    /* a legacy CreateTrainingJob row */
    legacy = load(valid_2017);
    json_object_set_new(legacy, "_api_current", json_true());
    json_object_set_new(legacy, "_original", load(valid_training));
    text = json_dumps(legacy, JSON_COMPACT);
    assert_int_equal(
        request_parse_text(API_CURRENT, "CreateTrainingJob", text, "123456789012", &r, &e), 0);
    assert_int_equal(r->kind, REQ_KIND_TRAINING);
    assert_int_equal(r->nranges, 0);
    assert_string_equal(r->defs[0].static_hp[0].key, "x");
    request_free(r);
    free(text);
    json_decref(legacy);
    assert_int_equal(request_parse_text(API_2017, "CreateTuningJob", "{nope", "1", &r, &e),
                     ERR_INTERNAL);
    assert_null(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_2017_semantic), cmocka_unit_test(test_semantic_order_and_null),
        cmocka_unit_test(test_current_paths),        cmocka_unit_test(test_strategy_rules),
        cmocka_unit_test(test_struct_and_emitters),  cmocka_unit_test(test_parse_stored_text),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    validate_shutdown();
    return rc;
}
