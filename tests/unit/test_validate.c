/* Unit tests of validate: the built-in models, the generic walker and the
 * model loader (the semantic rules are test_request.c's). Most cases
 * are rows of tables: a valid body, one change (path = new JSON value, or a
 * deletion), and the expected result and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "validate.h"

#include "mutate.h"

/* Applies each case to a fresh copy of `base` and checks the result of
 * validate_request(flavor, op). */
static void run_cases(api_flavor flavor, const char *op, const char *base, const mut_case *cases,
                      size_t n, int semantic) {
    for (size_t i = 0; i < n; i++) {
        json_t *body = load(base);
        err_t e = {0};
        int rc;
        set_path(body, cases[i].path, cases[i].value ? make_value(cases[i].value) : NULL);
        rc = validate_request(flavor, op, body, &e);
        (void)semantic; /* the semantic rules: test_request.c */
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

/* ------------------------------------------------------------------ */

static void test_builtin_models_load(void **unused) {
    err_t e = {0};
    const validate_model *m17 = validate_builtin_model(API_2017, &e);
    const validate_model *mcur = validate_builtin_model(API_CURRENT, &e);
    assert_non_null(m17);
    assert_non_null(mcur);
    assert_ptr_equal(m17, validate_builtin_model(API_2017, &e)); /* cached */
    static const char *const ops17[] = {"CreateTuningJob", "DescribeTuningJob",
                                        "ListTrainingJobsForTuningJob", "StopTuningJob"};
    static const char *const opscur[] = {"CreateHyperParameterTuningJob",
                                         "DescribeHyperParameterTuningJob",
                                         "ListHyperParameterTuningJobs",
                                         "ListTrainingJobsForHyperParameterTuningJob",
                                         "StopHyperParameterTuningJob",
                                         "DescribeTrainingJob",
                                         "ListTrainingJobs",
                                         "StopTrainingJob",
                                         "CreateTrainingJob",
                                         "AddTags",
                                         "ListTags",
                                         "DeleteTags"};
    for (size_t i = 0; i < sizeof ops17 / sizeof *ops17; i++)
        assert_true(validate_model_has_operation(m17, ops17[i]));
    for (size_t i = 0; i < sizeof opscur / sizeof *opscur; i++)
        assert_true(validate_model_has_operation(mcur, opscur[i]));
    assert_false(validate_model_has_operation(m17, "CreateHyperParameterTuningJob"));
    assert_false(validate_model_has_operation(m17, NULL));
    validate_shutdown();
    validate_shutdown();                                   /* twice is fine */
    assert_non_null(validate_builtin_model(API_2017, &e)); /* and loads again */
}

static void test_valid_bodies(void **unused) {
    err_t e = {0};
    json_t *b = load(valid_2017);
    assert_int_equal(validate_request(API_2017, "CreateTuningJob", b, &e), 0);
    json_decref(b);
    b = load(valid_current);
    if (validate_request(API_CURRENT, "CreateHyperParameterTuningJob", b, &e))
        fail_msg("%s", e.msg);
    json_decref(b);
    b = load("{\"AwsAccountId\":\"123456789012\",\"TuningJobName\":\"a-b--c\"}");
    assert_int_equal(validate_request(API_2017, "DescribeTuningJob", b, &e), 0);
    assert_int_equal(validate_request(API_2017, "StopTuningJob", b, &e), 0);
    assert_int_equal(validate_request(API_2017, "ListTrainingJobsForTuningJob", b, &e), 0);
    json_decref(b);
    b = load("{\"HyperParameterTuningJobName\":\"job1\"}");
    assert_int_equal(validate_request(API_CURRENT, "DescribeHyperParameterTuningJob", b, &e), 0);
    json_decref(b);
    b = load("{}");
    assert_int_equal(validate_request(API_CURRENT, "ListTrainingJobs", b, &e), 0);
    json_decref(b);
}

/* Every constraint of the 2017 CreateTuningJob input, one row each. */
static const mut_case create_2017_shape[] = {
    /* top level: required, lengths, patterns (whole-string matches) */
    {"AwsAccountId", DEL, ERR_VALIDATION, "AwsAccountId: is required"},
    {"AwsAccountId", "\"\"", ERR_VALIDATION, "AwsAccountId: must be at least 1 character long"},
    {"AwsAccountId", "\"1234567890123\"", ERR_VALIDATION,
     "AwsAccountId: must be at most 12 characters long"},
    {"AwsAccountId", "\"12345678901\"", ERR_VALIDATION,
     "AwsAccountId: '12345678901' does not match the pattern [0-9]{12}"},
    {"AwsAccountId", "\"12345678901a\"", ERR_VALIDATION, "does not match the pattern [0-9]{12}"},
    {"AwsAccountId", "123456789012", ERR_VALIDATION,
     "AwsAccountId: must be a string, not an integer"},
    {"AwsAccountId", "null", ERR_VALIDATION, "AwsAccountId: must be a string, not null"},
    {"TuningJobName", DEL, ERR_VALIDATION, "TuningJobName: is required"},
    {"TuningJobName", "\"\"", ERR_VALIDATION, "TuningJobName: must be at least 1 character"},
    {"TuningJobName", "\"@rep:33:a\"", ERR_VALIDATION,
     "TuningJobName: must be at most 32 characters long"},
    {"TuningJobName", "\"@rep:32:a\"", 0, NULL},
    {"TuningJobName", "\"a-\"", ERR_VALIDATION,
     "TuningJobName: 'a-' does not match the pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9])*"},
    {"TuningJobName", "\"-a\"", ERR_VALIDATION, "TuningJobName: '-a' does not match"},
    {"TuningJobName", "\"a_b\"", ERR_VALIDATION, "TuningJobName: 'a_b' does not match"},
    {"TuningJobName", "\"a b\"", ERR_VALIDATION, "does not match"},
    {"TuningJobName", "\"job\\n\"", ERR_VALIDATION, "TuningJobName: 'job?' does not match"},
    {"TuningJobName", "\"a--b-c\"", 0, NULL},
    {"TuningJobName", "[\"job1\"]", ERR_VALIDATION,
     "TuningJobName: must be a string, not an array"},
    {"TrainingJobDefinition", DEL, ERR_VALIDATION, "TrainingJobDefinition: is required"},
    {"TrainingJobDefinition", "[]", ERR_VALIDATION,
     "TrainingJobDefinition: must be an object, not an array"},
    {"TuningJobConfig", DEL, ERR_VALIDATION, "TuningJobConfig: is required"},
    {"TuningJobConfig", "\"x\"", ERR_VALIDATION,
     "TuningJobConfig: must be an object, not a string"},
    /* Tags */
    {"Tags", "{}", ERR_VALIDATION, "Tags: must be an array, not an object"},
    {"Tags", "[]", 0, NULL},
    {"Tags[0]", "\"team\"", ERR_VALIDATION, "Tags[0]: must be an object, not a string"},
    {"Tags[0].Key", "\"\"", ERR_VALIDATION, "Tags[0].Key: must be at least 1 character long"},
    {"Tags[0].Key", "\"@rep:129:k\"", ERR_VALIDATION,
     "Tags[0].Key: must be at most 128 characters long"},
    {"Tags[0].Key", "\"@rep:128:\xc3\xa9\"", 0, NULL}, /* 128 code points, 256 bytes */
    {"Tags[0].Key", "\"@rep:129:\xc3\xa9\"", ERR_VALIDATION, "must be at most 128 characters"},
    {"Tags[0].Key", "\"@rep:128:\xf0\x9d\x90\x80\"", 0, NULL}, /* 4-byte letters */
    {"Tags[0].Key", "\"a*b\"", ERR_VALIDATION,
     "Tags[0].Key: 'a*b' does not match the pattern ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$"},
    {"Tags[0].Key", "\"k\\n\"", ERR_VALIDATION, "Tags[0].Key: 'k?' does not match"},
    {"Tags[0].Key", "\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac 2:=+-@/._\"", 0, NULL},
    {"Tags[0].Key", DEL, 0, NULL},
    {"Tags[0].Value", "\"\"", 0, NULL},
    {"Tags[0].Value", "\"@rep:257:v\"", ERR_VALIDATION,
     "Tags[0].Value: must be at most 256 characters long"},
    {"Tags[0].Value", "\"v;\"", ERR_VALIDATION, "Tags[0].Value: 'v;' does not match"},
    {"Tags[0].Value", "7", ERR_VALIDATION, "Tags[0].Value: must be a string, not an integer"},
    /* TrainingJobDefinition */
    {"TrainingJobDefinition.AlgorithmSpecification", DEL, ERR_VALIDATION,
     "TrainingJobDefinition.AlgorithmSpecification: is required"},
    {"TrainingJobDefinition.AlgorithmSpecification.TrainingImage", DEL, ERR_VALIDATION,
     "TrainingJobDefinition.AlgorithmSpecification.TrainingImage: is required"},
    {"TrainingJobDefinition.AlgorithmSpecification.TrainingImage", "\"@rep:256:i\"", ERR_VALIDATION,
     "TrainingJobDefinition.AlgorithmSpecification.TrainingImage: must be at most 255 "
     "characters long"},
    {"TrainingJobDefinition.AlgorithmSpecification.TrainingImage", "\"\"", 0, NULL},
    {"TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode", DEL, ERR_VALIDATION,
     "TrainingInputMode: is required"},
    {"TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode", "\"file\"", ERR_VALIDATION,
     "TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode: 'file' is not one of: "
     "Pipe, File"},
    {"TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode", "\"Pipe\"", 0, NULL},
    {"TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions", "{}", ERR_VALIDATION,
     "MetricDefinitions: must be an array, not an object"},
    {"TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Name", "\"\"",
     ERR_VALIDATION,
     "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Name: must be at least "
     "1 character long"},
    {"TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[1].Name", "\"@rep:256:m\"",
     ERR_VALIDATION, "MetricDefinitions[1].Name: must be at most 255 characters long"},
    {"TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Regex", "\"\"",
     ERR_VALIDATION, "MetricDefinitions[0].Regex: must be at least 1 character long"},
    {"TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions[0].Regex", "\"(@rep:100:x)\"",
     ERR_VALIDATION, "MetricDefinitions[0].Regex: must be at most 100 characters long"},
    {"TrainingJobDefinition.InputDataConfig", DEL, ERR_VALIDATION,
     "TrainingJobDefinition.InputDataConfig: is required"},
    {"TrainingJobDefinition.InputDataConfig", "[]", ERR_VALIDATION,
     "TrainingJobDefinition.InputDataConfig: must have at least 1 item"},
    {"TrainingJobDefinition.InputDataConfig[0].ChannelName", DEL, ERR_VALIDATION,
     "TrainingJobDefinition.InputDataConfig[0].ChannelName: is required"},
    {"TrainingJobDefinition.InputDataConfig[0].ChannelName", "\"\"", ERR_VALIDATION,
     "InputDataConfig[0].ChannelName: must be at least 1 character long"},
    {"TrainingJobDefinition.InputDataConfig[0].ChannelName", "\"@rep:65:c\"", ERR_VALIDATION,
     "InputDataConfig[0].ChannelName: must be at most 64 characters long"},
    {"TrainingJobDefinition.InputDataConfig[0].ChannelName", "\"tr ain\"", ERR_VALIDATION,
     "InputDataConfig[0].ChannelName: 'tr ain' does not match the pattern [A-Za-z0-9\\.\\-_]+"},
    {"TrainingJobDefinition.InputDataConfig[0].ChannelName", "\"tr/ain\"", ERR_VALIDATION,
     "does not match"},
    {"TrainingJobDefinition.InputDataConfig[0].ChannelName", "\"a.b-c_D9\"", 0, NULL},
    {"TrainingJobDefinition.InputDataConfig[0].CompressionType", "\"gzip\"", ERR_VALIDATION,
     "InputDataConfig[0].CompressionType: 'gzip' is not one of: None, Gzip"},
    {"TrainingJobDefinition.InputDataConfig[0].CompressionType", "\"Gzip\"", 0, NULL},
    {"TrainingJobDefinition.InputDataConfig[0].ContentType", "\"@rep:257:t\"", ERR_VALIDATION,
     "InputDataConfig[0].ContentType: must be at most 256 characters long"},
    {"TrainingJobDefinition.InputDataConfig[0].RecordWrapperType", "\"recordio\"", ERR_VALIDATION,
     "InputDataConfig[0].RecordWrapperType: 'recordio' is not one of: None, "
     "RecordIO"},
    {"TrainingJobDefinition.InputDataConfig[0].DataSource", DEL, ERR_VALIDATION,
     "InputDataConfig[0].DataSource: is required"},
    {"TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource", DEL, ERR_VALIDATION,
     "InputDataConfig[0].DataSource.S3DataSource: is required"},
    {"TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3DataType", DEL,
     ERR_VALIDATION, "InputDataConfig[0].DataSource.S3DataSource.S3DataType: is required"},
    {"TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3DataType", "\"Prefix\"",
     ERR_VALIDATION, "S3DataType: 'Prefix' is not one of: ManifestFile, S3Prefix"},
    {"TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3DataDistributionType",
     "\"Sharded\"", ERR_VALIDATION,
     "S3DataDistributionType: 'Sharded' is not one of: FullyReplicated, ShardedByS3Key"},
    {"TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri", DEL, ERR_VALIDATION,
     "InputDataConfig[0].DataSource.S3DataSource.S3Uri: is required"},
    {"TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri",
     "\"file:///@rep:1017:d\"", ERR_VALIDATION, "S3Uri: must be at most 1024 characters long"},
    {"TrainingJobDefinition.OutputDataConfig", DEL, ERR_VALIDATION,
     "TrainingJobDefinition.OutputDataConfig: is required"},
    {"TrainingJobDefinition.OutputDataConfig.S3OutputPath", DEL, ERR_VALIDATION,
     "TrainingJobDefinition.OutputDataConfig.S3OutputPath: is required"},
    {"TrainingJobDefinition.OutputDataConfig.S3OutputPath", "\"file:///@rep:1017:d\"",
     ERR_VALIDATION, "S3OutputPath: must be at most 1024 characters long"},
    {"TrainingJobDefinition.OutputDataConfig.KmsKeyId", "\"@rep:2049:k\"", ERR_VALIDATION,
     "TrainingJobDefinition.OutputDataConfig.KmsKeyId: must be at most 2048 characters long"},
    {"TrainingJobDefinition.ResourceConfig", DEL, ERR_VALIDATION,
     "TrainingJobDefinition.ResourceConfig: is required"},
    {"TrainingJobDefinition.ResourceConfig.InstanceCount", DEL, ERR_VALIDATION,
     "TrainingJobDefinition.ResourceConfig.InstanceCount: is required"},
    {"TrainingJobDefinition.ResourceConfig.InstanceCount", "0", ERR_VALIDATION,
     "TrainingJobDefinition.ResourceConfig.InstanceCount: must be at least 1"},
    {"TrainingJobDefinition.ResourceConfig.InstanceCount", "-3", ERR_VALIDATION,
     "InstanceCount: must be at least 1"},
    {"TrainingJobDefinition.ResourceConfig.InstanceCount", "1.5", ERR_VALIDATION,
     "InstanceCount: must be an integer, not a real number"},
    {"TrainingJobDefinition.ResourceConfig.InstanceCount", "1.0", ERR_VALIDATION,
     "InstanceCount: must be an integer, not a real number"},
    {"TrainingJobDefinition.ResourceConfig.InstanceCount", "\"1\"", ERR_VALIDATION,
     "InstanceCount: must be an integer, not a string"},
    {"TrainingJobDefinition.ResourceConfig.InstanceCount", "true", ERR_VALIDATION,
     "InstanceCount: must be an integer, not a boolean"},
    {"TrainingJobDefinition.ResourceConfig.InstanceCount", "2147483648", ERR_VALIDATION,
     "InstanceCount: must be at most 2147483647"},
    {"TrainingJobDefinition.ResourceConfig.InstanceCount", "2147483647", 0, NULL},
    {"TrainingJobDefinition.ResourceConfig.InstanceType", DEL, ERR_VALIDATION,
     "ResourceConfig.InstanceType: is required"},
    {"TrainingJobDefinition.ResourceConfig.InstanceType", "\"ml.m5.large\"", ERR_VALIDATION,
     "ResourceConfig.InstanceType: 'ml.m5.large' is not one of: ml.m4.xlarge, ml.m4.4xlarge"},
    {"TrainingJobDefinition.ResourceConfig.InstanceType", "\"ml.c5.18xlarge\"", 0, NULL},
    {"TrainingJobDefinition.ResourceConfig.VolumeKmsKeyId", "\"@rep:2049:k\"", ERR_VALIDATION,
     "ResourceConfig.VolumeKmsKeyId: must be at most 2048 characters long"},
    {"TrainingJobDefinition.ResourceConfig.VolumeSizeInGB", DEL, ERR_VALIDATION,
     "ResourceConfig.VolumeSizeInGB: is required"},
    {"TrainingJobDefinition.ResourceConfig.VolumeSizeInGB", "0", ERR_VALIDATION,
     "TrainingJobDefinition.ResourceConfig.VolumeSizeInGB: must be at least 1"},
    {"TrainingJobDefinition.RoleArn", DEL, ERR_VALIDATION,
     "TrainingJobDefinition.RoleArn: is "
     "required"},
    {"TrainingJobDefinition.RoleArn", "\"@rep:19:r\"", ERR_VALIDATION,
     "TrainingJobDefinition.RoleArn: must be at least 20 characters long"},
    {"TrainingJobDefinition.RoleArn", "\"@rep:2049:r\"", ERR_VALIDATION,
     "TrainingJobDefinition.RoleArn: must be at most 2048 characters long"},
    {"TrainingJobDefinition.StaticHyperParameters", "[]", ERR_VALIDATION,
     "TrainingJobDefinition.StaticHyperParameters: must be an object, not an array"},
    {"TrainingJobDefinition.StaticHyperParameters.mode", "1", ERR_VALIDATION,
     "TrainingJobDefinition.StaticHyperParameters[\"mode\"]: must be a string, not an integer"},
    {"TrainingJobDefinition.StaticHyperParameters.mode", "\"@rep:257:v\"", ERR_VALIDATION,
     "StaticHyperParameters[\"mode\"]: must be at most 256 characters long"},
    {"TrainingJobDefinition.StaticHyperParameters.mode", "\"\"", 0, NULL},
    {"TrainingJobDefinition.StoppingCondition", DEL, ERR_VALIDATION,
     "TrainingJobDefinition.StoppingCondition: is required"},
    {"TrainingJobDefinition.StoppingCondition.MaxRuntimeInSeconds", DEL, ERR_VALIDATION,
     "TrainingJobDefinition.StoppingCondition.MaxRuntimeInSeconds: is required"},
    {"TrainingJobDefinition.StoppingCondition.MaxRuntimeInSeconds", "0", ERR_VALIDATION,
     "TrainingJobDefinition.StoppingCondition.MaxRuntimeInSeconds: must be at least 1"},
    {"TrainingJobDefinition.Tags", "[{\"Key\":\"\"}]", ERR_VALIDATION,
     "TrainingJobDefinition.Tags[0].Key: must be at least 1 character long"},
    /* TuningJobConfig */
    {"TuningJobConfig.ParameterRanges", "[]", ERR_VALIDATION,
     "TuningJobConfig.ParameterRanges: must be an object, not an array"},
    {"TuningJobConfig.ParameterRanges.IntegerParameterRanges[0].MinValue", "0", ERR_VALIDATION,
     "TuningJobConfig.ParameterRanges.IntegerParameterRanges[0].MinValue: must be a string, not "
     "an integer"},
    {"TuningJobConfig.ParameterRanges.IntegerParameterRanges[0].MinValue", DEL, ERR_VALIDATION,
     "TuningJobConfig.ParameterRanges.IntegerParameterRanges[0].MinValue: is required"},
    {"TuningJobConfig.ParameterRanges.IntegerParameterRanges[0].MaxValue", DEL, ERR_VALIDATION,
     "IntegerParameterRanges[0].MaxValue: is required"},
    {"TuningJobConfig.ParameterRanges.IntegerParameterRanges[0].MaxValue", "\"@rep:257:1\"",
     ERR_VALIDATION, "IntegerParameterRanges[0].MaxValue: must be at most 256 characters long"},
    {"TuningJobConfig.ParameterRanges.IntegerParameterRanges[0].Name", DEL, ERR_VALIDATION,
     "IntegerParameterRanges[0].Name: is required"},
    {"TuningJobConfig.ParameterRanges.IntegerParameterRanges[0].Type", DEL, ERR_VALIDATION,
     "IntegerParameterRanges[0].Type: is required"},
    {"TuningJobConfig.ParameterRanges.IntegerParameterRanges[0].Type", "\"integer\"",
     ERR_VALIDATION,
     "IntegerParameterRanges[0].Type: 'integer' is not one of: Integer, Continuous, Categorical"},
    {"TuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].Name", "\"@rep:257:n\"",
     ERR_VALIDATION, "ContinuousParameterRanges[0].Name: must be at most 256 characters long"},
    {"TuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].MinValue", DEL, ERR_VALIDATION,
     "ContinuousParameterRanges[0].MinValue: is required"},
    {"TuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].Type", DEL, ERR_VALIDATION,
     "ContinuousParameterRanges[0].Type: is required"},
    {"TuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Values", DEL, ERR_VALIDATION,
     "CategoricalParameterRanges[0].Values: is required"},
    {"TuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Values", "[]", ERR_VALIDATION,
     "CategoricalParameterRanges[0].Values: must have at least 1 item"},
    {"TuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Values[1]", "2", ERR_VALIDATION,
     "TuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Values[1]: must be a string, "
     "not an integer"},
    {"TuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Values[1]", "\"@rep:257:v\"",
     ERR_VALIDATION, "CategoricalParameterRanges[0].Values[1]: must be at most 256 characters"},
    {"TuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Name", DEL, ERR_VALIDATION,
     "CategoricalParameterRanges[0].Name: is required"},
    {"TuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Type", "\"Cat\"",
     ERR_VALIDATION, "CategoricalParameterRanges[0].Type: 'Cat' is not one of"},
    {"TuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs", "0", ERR_VALIDATION,
     "TuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs: must be at least 1"},
    {"TuningJobConfig.ResourceLimits.MaxParallelTrainingJobs", "0", ERR_VALIDATION,
     "TuningJobConfig.ResourceLimits.MaxParallelTrainingJobs: must be at least 1"},
    {"TuningJobConfig.ResourceLimits.MaxClockTimeInHours", "0", ERR_VALIDATION,
     "TuningJobConfig.ResourceLimits.MaxClockTimeInHours: must be at least 1"},
    {"TuningJobConfig.ResourceLimits.MaxClockTimeInHours", "1", 0, NULL},
    {"TuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs", "\"10\"", ERR_VALIDATION,
     "MaxNumberOfTrainingJobs: must be an integer, not a string"},
    {"TuningJobConfig.Strategy", "\"Grid\"", ERR_VALIDATION,
     "TuningJobConfig.Strategy: 'Grid' is not one of: Bayesian, Random"},
    {"TuningJobConfig.Strategy", "\"Random\"", 0, NULL}, /* an openhpo extension */
    {"TuningJobConfig.Strategy", "\"Bayesian\"", 0, NULL},
    {"TuningJobConfig.TuningJobObjective.Type", "\"Max\"", ERR_VALIDATION,
     "TuningJobConfig.TuningJobObjective.Type: 'Max' is not one of: Maximize, Minimize"},
    {"TuningJobConfig.TuningJobObjective.MetricName", "\"\"", ERR_VALIDATION,
     "TuningJobConfig.TuningJobObjective.MetricName: must be at least 1 character long"},
    {"TuningJobConfig.TuningJobObjective.MetricName", "\"@rep:256:m\"", ERR_VALIDATION,
     "TuningJobObjective.MetricName: must be at most 255 characters long"},
    /* unknown members are ignored, at any level */
    {"Extra", "{\"anything\":[1,2,{\"x\":null}]}", 0, NULL},
    {"TrainingJobDefinition.ResourceConfig.Gpus", "\"lots\"", 0, NULL},
    {"TuningJobConfig.ParameterRanges.IntegerParameterRanges[0].Scale", "1", 0, NULL},
    {"TuningJobConfig.ParameterRanges.IntegerParameterRanges[0].ScalingType", "\"Log\"",
     ERR_VALIDATION,
     "IntegerParameterRanges[0].ScalingType: 'Log' is not one of: Auto, Linear, Logarithmic, "
     "ReverseLogarithmic"},
    /* depth: unknown members count too */
    {"Extra", "@deep:31", 0, NULL},
    {"Extra", "@deep:32", ERR_VALIDATION, "nested more than 32 levels deep"},
    {"Extra", "@deep:10000", ERR_VALIDATION, "nested more than 32 levels deep"},
};

static void test_create_2017_shape(void **unused) {
    RUN(API_2017, "CreateTuningJob", valid_2017, create_2017_shape, 0);
}

/* List and map sizes at and past their limits. */
static void test_list_sizes(void **unused) {
    static const struct {
        const char *path; /* a list or map */
        const char *item; /* JSON of one item */
        int max;          /* the model's max; -1: none */
        const char *msg;
    } lists[] = {
        {"Tags", "{\"Key\":\"k\",\"Value\":\"v\"}", 50, "Tags: must have at most 50 items"},
        {"TrainingJobDefinition.Tags", "{\"Key\":\"k\"}", 50,
         "TrainingJobDefinition.Tags: must have at most 50 items"},
        {"TrainingJobDefinition.InputDataConfig",
         "{\"ChannelName\":\"c\",\"DataSource\":{\"S3DataSource\":{\"S3DataType\":\"S3Prefix\","
         "\"S3Uri\":\"file:///tmp\"}}}",
         8, "TrainingJobDefinition.InputDataConfig: must have at most 8 items"},
        {"TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions",
         "{\"Name\":\"m\",\"Regex\":\"m=(.*)\"}", 20,
         "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions: must have at most 20 "
         "items"},
        {"TuningJobConfig.ParameterRanges.ContinuousParameterRanges",
         "{\"Name\":\"p\",\"MinValue\":\"0\",\"MaxValue\":\"1\",\"Type\":\"Continuous\"}", 20,
         "TuningJobConfig.ParameterRanges.ContinuousParameterRanges: must have at most 20 items"},
        {"TuningJobConfig.ParameterRanges.IntegerParameterRanges",
         "{\"Name\":\"p\",\"MinValue\":\"0\",\"MaxValue\":\"1\",\"Type\":\"Integer\"}", 20,
         "TuningJobConfig.ParameterRanges.IntegerParameterRanges: must have at most 20 items"},
        {"TuningJobConfig.ParameterRanges.CategoricalParameterRanges",
         "{\"Name\":\"p\",\"Values\":[\"a\"],\"Type\":\"Categorical\"}", 20,
         "TuningJobConfig.ParameterRanges.CategoricalParameterRanges: must have at most 20 "
         "items"},
        {"TuningJobConfig.ParameterRanges.CategoricalParameterRanges[0].Values", "\"v\"", 20,
         "CategoricalParameterRanges[0].Values: must have at most 20 items"},
        {"TrainingJobDefinition.StaticHyperParameters", NULL, -1, NULL},
    };
    for (size_t l = 0; l < sizeof lists / sizeof *lists; l++) {
        for (int extra = 0; extra < 2; extra++) {
            json_t *body = load(valid_2017);
            json_t *list = json_array();
            err_t e = {0};
            int n = lists[l].max >= 0 ? lists[l].max + extra : 5000;
            int rc;
            if (lists[l].max < 0) { /* a map without a size limit */
                json_t *map = json_object();
                for (int i = 0; i < n; i++) {
                    char k[16];
                    snprintf(k, sizeof k, "k%d", i);
                    json_object_set_new(map, k, json_string("v"));
                }
                json_decref(list);
                set_path(body, lists[l].path, map);
            } else {
                for (int i = 0; i < n; i++)
                    json_array_append_new(list, make_value(lists[l].item));
                set_path(body, lists[l].path, list);
            }
            rc = validate_request(API_2017, "CreateTuningJob", body, &e);
            if (lists[l].max < 0 || !extra) {
                if (rc)
                    fail_msg("%s with %d: %s", lists[l].path, n, e.msg);
            } else {
                assert_int_equal(rc, ERR_VALIDATION);
                if (!strstr(e.msg, lists[l].msg))
                    fail_msg("%s: \"%s\" lacks \"%s\"", lists[l].path, e.msg, lists[l].msg);
            }
            json_decref(body);
        }
    }
}

/* The other three 2017 operations. */
static const mut_case name_ops_2017[] = {
    {"AwsAccountId", DEL, ERR_VALIDATION, "AwsAccountId: is required"},
    {"AwsAccountId", "\"1234\"", ERR_VALIDATION, "AwsAccountId: '1234' does not match"},
    {"TuningJobName", DEL, ERR_VALIDATION, "TuningJobName: is required"},
    {"TuningJobName", "\"bad_name\"", ERR_VALIDATION, "TuningJobName: 'bad_name' does not match"},
    {"TuningJobName", "\"@rep:33:n\"", ERR_VALIDATION, "TuningJobName: must be at most 32"},
    {"Whatever", "1", 0, NULL},
};

static const mut_case list_2017[] = {
    {"MaxResults", "100", 0, NULL},
    {"MaxResults", "101", ERR_VALIDATION, "MaxResults: must be at most 100"},
    {"MaxResults", "\"10\"", ERR_VALIDATION, "MaxResults: must be an integer, not a string"},
    {"NextToken", "\"@rep:8192:t\"", 0, NULL},
    {"NextToken", "\"@rep:8193:t\"", ERR_VALIDATION, "NextToken: must be at most 8192 characters"},
    {"SortBy", "\"Name\"", ERR_VALIDATION,
     "SortBy: 'Name' is not one of: FinalObjectiveMetricValue"},
    {"SortBy", "\"FinalObjectiveMetricValue\"", 0, NULL},
    {"SortOrder", "\"ascending\"", ERR_VALIDATION,
     "SortOrder: 'ascending' is not one of: Ascending, Descending"},
    {"TrainingJobStatusEquals", "\"Running\"", ERR_VALIDATION,
     "TrainingJobStatusEquals: 'Running' is not one of: InProgress, Completed, Failed, Stopping, "
     "Stopped"},
    {"TrainingJobStatusEquals", "\"Stopped\"", 0, NULL},
};

static void test_other_ops_2017(void **unused) {
    static const char base[] = "{\"AwsAccountId\":\"123456789012\",\"TuningJobName\":\"job1\"}";
    RUN(API_2017, "DescribeTuningJob", base, name_ops_2017, 0);
    RUN(API_2017, "StopTuningJob", base, name_ops_2017, 0);
    RUN(API_2017, "ListTrainingJobsForTuningJob", base, name_ops_2017, 0);
    RUN(API_2017, "ListTrainingJobsForTuningJob", base, list_2017, 0);
}

static void test_body_and_operation(void **unused) {
    err_t e = {0};
    json_t *b = load("[1]");
    assert_int_equal(validate_request(API_2017, "DescribeTuningJob", NULL, &e), ERR_VALIDATION);
    assert_string_equal(e.msg, "request body: must be a JSON object");
    assert_int_equal(validate_request(API_2017, "DescribeTuningJob", b, &e), ERR_VALIDATION);
    assert_string_equal(e.msg, "request body: must be an object, not an array");
    json_decref(b);
    b = load("{}");
    assert_int_equal(validate_request(API_2017, "NoSuchOp", b, &e), ERR_UNKNOWN_OPERATION);
    assert_string_equal(e.msg, "unknown operation 'NoSuchOp'");
    assert_int_equal(validate_request(API_2017, NULL, b, &e), ERR_UNKNOWN_OPERATION);
    /* current-API names are not 2017 operations, and the other way round */
    assert_int_equal(validate_request(API_2017, "CreateHyperParameterTuningJob", b, &e),
                     ERR_UNKNOWN_OPERATION);
    assert_int_equal(validate_request(API_CURRENT, "CreateTuningJob", b, &e),
                     ERR_UNKNOWN_OPERATION);
    assert_int_equal(validate_request(API_2017, "DescribeTuningJob", b, &e), ERR_VALIDATION);
    assert_string_equal(e.msg, "AwsAccountId: is required");
    /* a NULL err_t is allowed */
    assert_int_equal(validate_request(API_2017, "DescribeTuningJob", b, NULL), ERR_VALIDATION);
    json_decref(b);
}

static void test_bad_utf8_and_nul(void **unused) {
    err_t e = {0};
    json_t *b = load("{\"AwsAccountId\":\"123456789012\"}");
    static const struct {
        const char *bytes;
        size_t len;
        const char *msg;
    } cases[] = {
        {"job\xff", 4, "TuningJobName: is not valid UTF-8"},
        {"job\xc3", 4, "is not valid UTF-8"},          /* truncated sequence */
        {"\xc0\xaf", 2, "is not valid UTF-8"},         /* overlong '/' */
        {"\xed\xa0\x80", 3, "is not valid UTF-8"},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, "is not valid UTF-8"}, /* past U+10FFFF */
        {"jo\0b", 4, "TuningJobName: must not contain NUL characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_object_set_new(b, "TuningJobName", json_stringn_nocheck(cases[i].bytes, cases[i].len));
        assert_int_equal(validate_request(API_2017, "DescribeTuningJob", b, &e), ERR_VALIDATION);
        if (!strstr(e.msg, cases[i].msg))
            fail_msg("case %zu: %s", i, e.msg);
    }
    /* map keys are checked too, and quoted safely */
    json_decref(b);
    b = load(valid_2017);
    json_object_set_new(
        json_object_get(json_object_get(b, "TrainingJobDefinition"), "StaticHyperParameters"),
        "k\xc3\xa9y", json_string("v"));
    assert_int_equal(validate_request(API_2017, "CreateTuningJob", b, &e), 0);
    json_object_set_new(
        json_object_get(json_object_get(b, "TrainingJobDefinition"), "StaticHyperParameters"),
        "k\xc3\xa9y", json_integer(1));
    assert_int_equal(validate_request(API_2017, "CreateTuningJob", b, &e), ERR_VALIDATION);
    assert_string_equal(e.msg, "TrainingJobDefinition.StaticHyperParameters[\"k?y\"]: must be a "
                               "string, not an integer");
    json_decref(b);
}

static void test_map_keys(void **unused) {
    err_t e = {0};
    json_t *b = load(valid_2017);
    json_t *shp =
        json_object_get(json_object_get(b, "TrainingJobDefinition"), "StaticHyperParameters");
    char key[300];
    memset(key, 'k', 257);
    key[257] = '\0';
    json_object_set_new(shp, key, json_string("v"));
    assert_int_equal(validate_request(API_2017, "CreateTuningJob", b, &e), ERR_VALIDATION);
    if (!strstr(e.msg, "TrainingJobDefinition.StaticHyperParameters: key \"kkkk") ||
        !strstr(e.msg, "...\": must be at most 256 characters long"))
        fail_msg("%s", e.msg);
    json_object_del(shp, key);
    key[256] = '\0';
    json_object_set_new(shp, key, json_string("v"));
    assert_int_equal(validate_request(API_2017, "CreateTuningJob", b, &e), 0);
    json_object_set_new(shp, "", json_string("v")); /* no minimum for keys */
    assert_int_equal(validate_request(API_2017, "CreateTuningJob", b, &e), 0);
    json_decref(b);
}

/* The current API, against botocore's model. */
#define HTC "HyperParameterTuningJobConfig"
static const mut_case create_current[] = {
    {"HyperParameterTuningJobName", DEL, ERR_VALIDATION,
     "HyperParameterTuningJobName: is "
     "required"},
    {"HyperParameterTuningJobName", "\"bad_name\"", ERR_VALIDATION,
     "HyperParameterTuningJobName: 'bad_name' does not match the pattern "
     "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}"},
    {"HyperParameterTuningJobName", "\"@rep:33:a\"", ERR_VALIDATION,
     "HyperParameterTuningJobName: must be at most 32 characters long"},
    {HTC, DEL, ERR_VALIDATION, HTC ": is required"},
    {HTC ".Strategy", DEL, ERR_VALIDATION, HTC ".Strategy: is required"},
    {HTC ".Strategy", "\"Genetic\"", ERR_VALIDATION,
     HTC ".Strategy: 'Genetic' is not one of: Bayesian, Random, Hyperband, Grid"},
    {HTC ".Strategy", "\"Random\"", 0, NULL},
    {HTC ".ResourceLimits.MaxParallelTrainingJobs", DEL, ERR_VALIDATION,
     HTC ".ResourceLimits.MaxParallelTrainingJobs: is required"},
    {HTC ".ResourceLimits.MaxParallelTrainingJobs", "0", ERR_VALIDATION,
     HTC ".ResourceLimits.MaxParallelTrainingJobs: must be at least 1"},
    {HTC ".ParameterRanges.ContinuousParameterRanges[0].ScalingType", "\"Log\"", ERR_VALIDATION,
     HTC ".ParameterRanges.ContinuousParameterRanges[0].ScalingType: 'Log' is not one of: Auto, "
         "Linear, Logarithmic, ReverseLogarithmic"},
    {HTC ".ParameterRanges.CategoricalParameterRanges[0].Values", "[]", ERR_VALIDATION,
     HTC ".ParameterRanges.CategoricalParameterRanges[0].Values: must have at least 1 item"},
    {HTC ".TrainingJobEarlyStoppingType", "\"On\"", ERR_VALIDATION,
     HTC ".TrainingJobEarlyStoppingType: 'On' is not one of: Off, Auto"},
    {"TrainingJobDefinition.ResourceConfig.InstanceCount", "-1", ERR_VALIDATION,
     "TrainingJobDefinition.ResourceConfig.InstanceCount: must be at least 0"},
    {"TrainingJobDefinition.ResourceConfig.InstanceType", "\"ml.bogus\"", ERR_VALIDATION,
     "TrainingJobDefinition.ResourceConfig.InstanceType: 'ml.bogus' is not one of: "},
    {"TrainingJobDefinition.RoleArn", "\"arn:aws:iam::123:role/x\"", ERR_VALIDATION,
     "TrainingJobDefinition.RoleArn: 'arn:aws:iam::123:role/x' does not match"},
    {"TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri",
     "\"s3://bucket/prefix\"", 0, NULL},
    {"TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri", "\"/tmp/x\"",
     ERR_VALIDATION, "S3DataSource.S3Uri: '/tmp/x' does not match the pattern"},
    {"TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode", "\"Stream\"", ERR_VALIDATION,
     "TrainingInputMode: 'Stream' is not one of: Pipe, File, FastFile"},
    {"TrainingJobDefinition.StaticHyperParameters.mode", "\"@rep:2501:v\"", ERR_VALIDATION,
     "TrainingJobDefinition.StaticHyperParameters[\"mode\"]: must be at most 2500 characters"},
    {"TrainingJobDefinitions", "[]", ERR_VALIDATION,
     "TrainingJobDefinitions: must have at least 1 item"},
    {"Tags[0].Key", "\"\"", ERR_VALIDATION, "Tags[0].Key: must be at least 1 character long"},
    {"Tags[0].Value", DEL, ERR_VALIDATION, "Tags[0].Value: is required"},
    {"WarmStartConfig", "{}", ERR_VALIDATION,
     "WarmStartConfig.ParentHyperParameterTuningJobs: "
     "is required"},
    {"SomethingNew", "{\"x\":1}", 0, NULL},
};

static void test_current_api(void **unused) {
    RUN(API_CURRENT, "CreateHyperParameterTuningJob", valid_current, create_current, 0);
    static const mut_case list_jobs[] = {
        {"MaxResults", "0", ERR_VALIDATION, "MaxResults: must be at least 1"},
        {"MaxResults", "101", ERR_VALIDATION, "MaxResults: must be at most 100"},
        {"CreationTimeAfter", "1700000000.5", 0, NULL},
        {"CreationTimeAfter", "\"yesterday\"", ERR_VALIDATION,
         "CreationTimeAfter: must be a number (seconds since the epoch), not a string"},
        {"StatusEquals", "\"Done\"", ERR_VALIDATION, "StatusEquals: 'Done' is not one of"},
        {"SortOrder", "\"Descending\"", 0, NULL},
    };
    RUN(API_CURRENT, "ListTrainingJobs", "{}", list_jobs, 0);
    static const mut_case add_tags[] = {
        {"ResourceArn", DEL, ERR_VALIDATION, "ResourceArn: is required"},
        {"Tags", "[]", 0, NULL},
        {"Tags[51]", "{\"Key\":\"k\",\"Value\":\"v\"}", 0, NULL}, /* appends: 2 tags */
        {"ResourceArn", "\"@rep:257:a\"", ERR_VALIDATION,
         "ResourceArn: must be at most 256 characters long"},
    };
    RUN(API_CURRENT, "AddTags",
        "{\"ResourceArn\":\"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/"
        "job1\",\"Tags\":[{\"Key\":\"k\",\"Value\":\"v\"}]}",
        add_tags, 0);
}

/* Enumerations too long for a message are cut, never the message. */
static void test_long_enum_message(void **unused) {
    err_t e = {0};
    json_t *b = load(valid_current);
    set_path(b, "TrainingJobDefinition.ResourceConfig.InstanceType", json_string("x"));
    assert_int_equal(validate_request(API_CURRENT, "CreateHyperParameterTuningJob", b, &e),
                     ERR_VALIDATION);
    assert_true(strlen(e.msg) < ERR_MSG_MAX);
    assert_non_null(strstr(e.msg, "'x' is not one of: ml."));
    if (!strstr(e.msg, ", ..."))
        fail_msg("%s", e.msg);
    json_decref(b);
}

/* ------------------------------------------------------------------ */
/* The loader and walker on hand-made models                            */

static const char test_model[] =
    "{\"metadata\":{},\"operations\":{"
    " \"Op\":{\"name\":\"Op\",\"input\":{\"shape\":\"In\"}},"
    " \"NoInput\":{\"name\":\"NoInput\"}},"
    "\"shapes\":{"
    " \"In\":{\"type\":\"structure\",\"required\":[\"S\"],\"members\":{"
    "  \"S\":{\"shape\":\"Str\"},\"L\":{\"shape\":\"Long\"},\"D\":{\"shape\":\"Dbl\"},"
    "  \"F\":{\"shape\":\"Flt\"},\"B\":{\"shape\":\"Bool\"},\"T\":{\"shape\":\"Ts\"},"
    "  \"U\":{\"shape\":\"Uni\"},\"M\":{\"shape\":\"Map\"},\"Bl\":{\"shape\":\"Blob\"},"
    "  \"R\":{\"shape\":\"In\"},\"Evil\":{\"shape\":\"Evil\"},"
    "  \"Dot\":{\"shape\":\"Dot\"}}},"
    " \"Str\":{\"type\":\"string\",\"min\":2,\"max\":4,\"pattern\":\"[a-z]+\"},"
    " \"Long\":{\"type\":\"long\",\"min\":-5000000000,\"max\":5000000000},"
    " \"Dbl\":{\"type\":\"double\",\"min\":0.5,\"max\":1.5},"
    " \"Flt\":{\"type\":\"float\",\"min\":0},"
    " \"Bool\":{\"type\":\"boolean\"},"
    " \"Ts\":{\"type\":\"timestamp\"},"
    " \"Blob\":{\"type\":\"blob\",\"max\":8},"
    " \"Uni\":{\"type\":\"structure\",\"union\":true,\"members\":{"
    "  \"A\":{\"shape\":\"Str\"},\"B\":{\"shape\":\"Bool\"}}},"
    " \"Map\":{\"type\":\"map\",\"key\":{\"shape\":\"Str\"},\"value\":{\"shape\":\"Long\"},"
    "  \"min\":1,\"max\":2},"
    " \"Evil\":{\"type\":\"string\",\"pattern\":\"(a+)+[bc]\"},"
    " \"Dot\":{\"type\":\"string\",\"pattern\":\"^a.*$\"}}}";

static const mut_case model_cases[] = {
    {"S", "\"abcd\"", 0, NULL},
    {"S", "\"a\"", ERR_VALIDATION, "S: must be at least 2 characters long"},
    {"S", "\"Ab\"", ERR_VALIDATION, "S: 'Ab' does not match the pattern [a-z]+"},
    {"S", "\"ab1\"", ERR_VALIDATION, "S: 'ab1' does not match"}, /* no partial matches */
    {"L", "4999999999", 0, NULL},
    {"L", "5000000001", ERR_VALIDATION, "L: must be at most 5000000000"},
    {"L", "-5000000001", ERR_VALIDATION, "L: must be at least -5000000000"},
    {"L", "1.0", ERR_VALIDATION, "L: must be an integer, not a real number"},
    {"D", "1", 0, NULL},
    {"D", "0.25", ERR_VALIDATION, "D: must be at least 0.5"},
    {"D", "2", ERR_VALIDATION, "D: must be at most 1.5"},
    {"D", "\"1\"", ERR_VALIDATION, "D: must be a number, not a string"},
    {"F", "-0.1", ERR_VALIDATION, "F: must be at least 0"},
    {"F", "1e300", 0, NULL},
    {"B", "false", 0, NULL},
    {"B", "0", ERR_VALIDATION, "B: must be a boolean, not an integer"},
    {"B", "\"true\"", ERR_VALIDATION, "B: must be a boolean, not a string"},
    {"T", "1700000000", 0, NULL},
    {"T", "\"2023-01-01\"", ERR_VALIDATION, "T: must be a number (seconds since the epoch)"},
    {"Bl", "\"aGVsbG8=\"", 0, NULL},
    {"Bl", "\"aGVsbG8gd29ybGQ=\"", ERR_VALIDATION, "Bl: must be at most 8 characters long"},
    {"U", "{\"A\":\"ab\"}", 0, NULL},
    {"U", "{}", ERR_VALIDATION, "U: must have exactly one member set, not 0"},
    {"U", "{\"A\":\"ab\",\"B\":true}", ERR_VALIDATION,
     "U: must have exactly one member set, not 2"},
    {"U", "{\"A\":\"ab\",\"Other\":1}", 0, NULL},
    {"M", "{\"ab\":1}", 0, NULL},
    {"M", "{}", ERR_VALIDATION, "M: must have at least 1 entry"},
    {"M", "{\"ab\":1,\"cd\":2,\"ef\":3}", ERR_VALIDATION, "M: must have at most 2 entries"},
    {"M", "{\"a\":1}", ERR_VALIDATION, "M: key \"a\": must be at least 2 characters long"},
    {"M", "{\"AB\":1}", ERR_VALIDATION, "M: key \"AB\": 'AB' does not match"},
    {"M", "{\"ab\":true}", ERR_VALIDATION, "M[\"ab\"]: must be an integer, not a boolean"},
    {"R", "{\"S\":\"ab\",\"R\":{\"S\":\"ab\",\"R\":{\"D\":5}}}", ERR_VALIDATION,
     "R.R.S: is "
     "required"},
    {"R", "{\"S\":\"ab\",\"R\":{\"S\":\"ab\",\"R\":{\"S\":\"ab\",\"D\":5}}}", ERR_VALIDATION,
     "R.R.D: must be at most 1.5"},
    {"Evil", "\"aaab\"", 0, NULL},
    /* Java semantics: '.' stops at line terminators, '$' does not end early */
    {"Dot", "\"a b\\tc\"", 0, NULL},
    {"Dot", "\"ab\\n\"", ERR_VALIDATION, "Dot: 'ab?' does not match the pattern ^a.*$"},
    {"Dot", "\"a\\rb\"", ERR_VALIDATION, "Dot: 'a?b' does not match"},
    {"Dot", "\"a\\u2028b\"", ERR_VALIDATION, "Dot: 'a?b' does not match"},
    {"Evil", "\"@rep:40:a\"", ERR_VALIDATION,
     "Evil: could not be checked against the pattern "
     "(a+)+[bc] (too complex)"},
};

static void test_model_walker(void **unused) {
    err_t e = {0};
    validate_model *m = validate_model_load(test_model, strlen(test_model), &e);
    if (!m)
        fail_msg("%s", e.msg);
    for (size_t i = 0; i < sizeof model_cases / sizeof *model_cases; i++) {
        json_t *body = load("{\"S\":\"ok\"}");
        int rc;
        set_path(body, model_cases[i].path,
                 model_cases[i].value ? make_value(model_cases[i].value) : NULL);
        rc = validate_model_check(m, "Op", body, &e);
        if (rc != model_cases[i].rc || (rc && !strstr(e.msg, model_cases[i].msg)))
            fail_msg("case %zu (%s): rc %d, msg %s", i, model_cases[i].path, rc, e.msg);
        json_decref(body);
    }
    /* recursive shapes are bounded by the depth cap */
    json_t *deep = load("{\"S\":\"ab\"}"), *cur = deep;
    for (int i = 0; i < 40; i++) {
        json_t *r = json_pack("{s:s}", "S", "ab");
        json_object_set_new(cur, "R", r);
        cur = r;
    }
    assert_int_equal(validate_model_check(m, "Op", deep, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "nested more than 32 levels deep"));
    json_decref(deep);
    /* an operation without input takes any object */
    json_t *any = load("{\"x\":[1]}");
    assert_int_equal(validate_model_check(m, "NoInput", any, &e), 0);
    json_decref(any);
    any = load("[1]");
    assert_int_equal(validate_model_check(m, "NoInput", any, &e), ERR_VALIDATION);
    json_decref(any);
    /* a shape on its own, with a path */
    json_t *v = load("{\"A\":\"ab\",\"B\":true}");
    assert_int_equal(validate_model_check_shape(m, "Uni", v, "Deep.Inside", &e), ERR_VALIDATION);
    assert_string_equal(e.msg, "Deep.Inside: must have exactly one member set, not 2");
    assert_int_equal(validate_model_check_shape(m, "Uni", v, NULL, &e), ERR_VALIDATION);
    assert_string_equal(e.msg, "request body: must have exactly one member set, not 2");
    assert_int_equal(validate_model_check_shape(m, "Nope", v, NULL, &e), ERR_INTERNAL);
    json_decref(v);
    v = json_string("ab");
    assert_int_equal(validate_model_check_shape(m, "Str", v, "X", &e), 0);
    json_decref(v);
    validate_model_free(m);
    validate_model_free(NULL);
}

static void test_model_load_errors(void **unused) {
    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"not json", "model: not a JSON object"},
        {"[]", "model: not a JSON object"},
        {"{\"operations\":{}}", "\"shapes\" must be a non-empty object"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"tuple\"}}}",
         "shape A: unknown type tuple"},
        {"{\"operations\":{},\"shapes\":{\"A\":{}}}", "shape A: unknown type (none)"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"list\",\"member\":{\"shape\":\"B\"}}}}",
         "shape A: member refers to undefined shape B"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"list\"}}}",
         "shape A: member has no \"shape\" reference"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"string\",\"pattern\":\"(\"}}}",
         "shape A: pattern does not compile"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"string\",\"pattern\":"
         "\"[\\\\p{Alnum}]\"}}}",
         "shape A: pattern does not compile"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"string\",\"min\":\"1\"}}}",
         "shape A: min must be an integer"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"double\",\"max\":\"1\"}}}",
         "shape A: max must be a number"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"string\",\"enum\":[1]}}}",
         "shape A: enum values must be strings"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"string\",\"enum\":[]}}}",
         "shape A: enum must be a non-empty array"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"structure\"}}}",
         "shape A: members must be an object"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"structure\",\"members\":{},"
         "\"required\":[\"X\"]}}}",
         "shape A: required member X is not a member"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"map\",\"key\":{\"shape\":\"A\"},"
         "\"value\":{\"shape\":\"A\"}}}}",
         "shape A: map keys must be strings"},
        {"{\"shapes\":{\"A\":{\"type\":\"string\"}}}", "\"operations\" must be an object"},
        {"{\"operations\":{\"Op\":{\"input\":{\"shape\":\"Z\"}}},\"shapes\":{\"A\":{\"type\":"
         "\"string\"}}}",
         "shape Op: input refers to undefined shape Z"},
        {"{\"operations\":{\"Op\":{\"input\":{\"shape\":\"A\"}}},\"shapes\":{\"A\":{\"type\":"
         "\"string\"}}}",
         "operation Op: input must be a structure"},
        {"{\"operations\":{},\"shapes\":{\"A\":{\"type\":\"string\"},\"A\":{\"type\":\"long\"}}}",
         "model: not a JSON object"}, /* duplicate keys are refused */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err_t e = {0};
        validate_model *m = validate_model_load(bad[i].text, strlen(bad[i].text), &e);
        if (m)
            fail_msg("case %zu loaded", i);
        assert_int_equal(e.code, ERR_INTERNAL);
        if (!strstr(e.msg, bad[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.msg, bad[i].msg);
    }
}

/* Every string shape of the built-in models with a pattern compiled (the
 * loader refuses models whose patterns do not), and botocore's model
 * validates what boto3 would send for each operation's simplest request. */
static void test_current_simple_ops(void **unused) {
    static const struct {
        const char *op;
        const char *body;
        int rc;
    } cases[] = {
        {"DescribeHyperParameterTuningJob", "{\"HyperParameterTuningJobName\":\"j\"}", 0},
        {"StopHyperParameterTuningJob", "{\"HyperParameterTuningJobName\":\"j\"}", 0},
        {"StopHyperParameterTuningJob", "{}", ERR_VALIDATION},
        {"ListHyperParameterTuningJobs", "{\"MaxResults\":10,\"SortBy\":\"Name\"}", 0},
        {"ListTrainingJobsForHyperParameterTuningJob",
         "{\"HyperParameterTuningJobName\":\"j\",\"SortBy\":\"FinalObjectiveMetricValue\"}", 0},
        {"DescribeTrainingJob", "{\"TrainingJobName\":\"j-001-abc\"}", 0},
        {"DescribeTrainingJob", "{\"TrainingJobName\":\"j_1\"}", ERR_VALIDATION},
        {"StopTrainingJob", "{\"TrainingJobName\":\"j\"}", 0},
        {"ListTags",
         "{\"ResourceArn\":\"arn:aws:sagemaker:us-east-1:123456789012:training-job/j\"}", 0},
        {"DeleteTags",
         "{\"ResourceArn\":\"arn:aws:sagemaker:us-east-1:123456789012:training-job/j\","
         "\"TagKeys\":[\"a\"]}",
         0},
        {"DeleteTags",
         "{\"ResourceArn\":\"arn:aws:sagemaker:us-east-1:123456789012:training-job/j\","
         "\"TagKeys\":[]}",
         ERR_VALIDATION},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        err_t e = {0};
        json_t *b = load(cases[i].body);
        int rc = validate_request(API_CURRENT, cases[i].op, b, &e);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): rc %d: %s", i, cases[i].op, rc, e.msg);
        json_decref(b);
    }
}

static int teardown(void **unused) {
    validate_shutdown();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_models_load), cmocka_unit_test(test_valid_bodies),
        cmocka_unit_test(test_create_2017_shape),   cmocka_unit_test(test_list_sizes),
        cmocka_unit_test(test_other_ops_2017),      cmocka_unit_test(test_body_and_operation),
        cmocka_unit_test(test_bad_utf8_and_nul),    cmocka_unit_test(test_map_keys),
        cmocka_unit_test(test_current_api),         cmocka_unit_test(test_long_enum_message),
        cmocka_unit_test(test_model_walker),        cmocka_unit_test(test_model_load_errors),
        cmocka_unit_test(test_current_simple_ops),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
