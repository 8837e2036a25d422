/* mutate — what the table-driven request tests share (test_validate.c,
 * test_request.c): valid bodies of both APIs, and one change applied to a
 * copy of a body (path = new JSON value, or a deletion). Included by test
 * files only; everything is static. */
#ifndef OPENHPO_TEST_MUTATE_H
#define OPENHPO_TEST_MUTATE_H

#include <jansson.h>

#include "err.h"

/* A valid 2017 CreateTuningJob body (mirrors tests/e2e/conftest.py's
 * job_request()). */
static const char __attribute__((unused)) valid_2017[] =
    "{\"AwsAccountId\":\"123456789012\",\"TuningJobName\":\"job1\","
    "\"Tags\":[{\"Key\":\"team\",\"Value\":\"ml\"}],"
    "\"TrainingJobDefinition\":{"
    " \"AlgorithmSpecification\":{\"TrainingImage\":\"trainer:latest\","
    "  \"TrainingInputMode\":\"File\",\"MetricDefinitions\":["
    "   {\"Name\":\"accuracy\",\"Regex\":\"accuracy=([-+0-9.eE]+)\"},"
    "   {\"Name\":\"loss\",\"Regex\":\"loss: ([-+0-9.eE]+)\"}]},"
    " \"InputDataConfig\":[{\"ChannelName\":\"train\",\"DataSource\":{\"S3DataSource\":{"
    "  \"S3DataType\":\"S3Prefix\",\"S3Uri\":\"file:///tmp\"}}}],"
    " \"OutputDataConfig\":{\"S3OutputPath\":\"file:///tmp/openhpo-out\"},"
    " \"ResourceConfig\":{\"InstanceCount\":1,\"InstanceType\":\"ml.m4.xlarge\","
    "  \"VolumeSizeInGB\":1},"
    " \"RoleArn\":\"arn:aws:iam::123456789012:role/openhpo\","
    " \"StaticHyperParameters\":{\"mode\":\"normal\"},"
    " \"StoppingCondition\":{\"MaxRuntimeInSeconds\":600}},"
    "\"TuningJobConfig\":{"
    " \"ParameterRanges\":{"
    "  \"ContinuousParameterRanges\":[{\"Name\":\"x\",\"MinValue\":\"-5\",\"MaxValue\":\"10\","
    "   \"Type\":\"Continuous\"}],"
    "  \"IntegerParameterRanges\":[{\"Name\":\"n\",\"MinValue\":\"0\",\"MaxValue\":\"15\","
    "   \"Type\":\"Integer\"}],"
    "  \"CategoricalParameterRanges\":[{\"Name\":\"kind\",\"Values\":[\"a\",\"b\",\"c\"],"
    "   \"Type\":\"Categorical\"}]},"
    " \"ResourceLimits\":{\"MaxNumberOfTrainingJobs\":10,\"MaxParallelTrainingJobs\":2},"
    " \"TuningJobObjective\":{\"MetricName\":\"accuracy\",\"Type\":\"Maximize\"}}}";

/* A valid current-API CreateHyperParameterTuningJob body, as boto3 sends it. */
static const char __attribute__((unused)) valid_current[] =
    "{\"HyperParameterTuningJobName\":\"job1\","
    "\"HyperParameterTuningJobConfig\":{\"Strategy\":\"Bayesian\","
    " \"HyperParameterTuningJobObjective\":{\"Type\":\"Maximize\",\"MetricName\":\"accuracy\"},"
    " \"ResourceLimits\":{\"MaxNumberOfTrainingJobs\":10,\"MaxParallelTrainingJobs\":2},"
    " \"ParameterRanges\":{"
    "  \"ContinuousParameterRanges\":[{\"Name\":\"x\",\"MinValue\":\"-5\",\"MaxValue\":\"10\","
    "   \"ScalingType\":\"Linear\"}],"
    "  \"IntegerParameterRanges\":[{\"Name\":\"n\",\"MinValue\":\"0\",\"MaxValue\":\"15\"}],"
    "  \"CategoricalParameterRanges\":[{\"Name\":\"kind\",\"Values\":[\"a\",\"b\"]}]},"
    " \"TrainingJobEarlyStoppingType\":\"Off\"},"
    "\"TrainingJobDefinition\":{"
    " \"StaticHyperParameters\":{\"mode\":\"normal\"},"
    " \"AlgorithmSpecification\":{\"TrainingImage\":\"trainer:latest\","
    "  \"TrainingInputMode\":\"File\",\"MetricDefinitions\":["
    "   {\"Name\":\"accuracy\",\"Regex\":\"accuracy=([-+0-9.eE]+)\"}]},"
    " \"RoleArn\":\"arn:aws:iam::123456789012:role/openhpo\","
    " \"InputDataConfig\":[{\"ChannelName\":\"train\",\"DataSource\":{\"S3DataSource\":{"
    "  \"S3DataType\":\"S3Prefix\",\"S3Uri\":\"file:///tmp/data\"}}}],"
    " \"OutputDataConfig\":{\"S3OutputPath\":\"file:///tmp/out\"},"
    " \"ResourceConfig\":{\"InstanceType\":\"ml.m5.large\",\"InstanceCount\":1,"
    "  \"VolumeSizeInGB\":1},"
    " \"StoppingCondition\":{\"MaxRuntimeInSeconds\":600}},"
    "\"Tags\":[{\"Key\":\"team\",\"Value\":\"ml\"}]}";

__attribute__((unused)) static json_t *load(const char *js) {
    json_error_t je;
    json_t *j = json_loads(js, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s: %s", je.text, js);
    return j;
}

/* A test value: JSON text, or "@deep:N" for N nested arrays. In a JSON
 * string, "@rep:N:C" stands for N copies of the one character C (e.g.
 * "\"file:///@rep:1017:d\"" for a long path). */
__attribute__((unused)) static json_t *make_value(const char *spec) {
    json_error_t je;
    json_t *v;
    const char *s, *rep;
    if (!strncmp(spec, "@deep:", 6)) {
        long n = strtol(spec + 6, NULL, 10);
        v = json_array();
        for (long i = 1; i < n; i++) {
            json_t *outer = json_array();
            json_array_append_new(outer, v);
            v = outer;
        }
        return v;
    }
    v = json_loads(spec, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test value: %s: %s", je.text, spec);
    s = json_string_value(v);
    if (s && (rep = strstr(s, "@rep:")) != NULL) {
        char *end;
        long n = strtol(rep + 5, &end, 10);
        const char *unit = end + 1, *after = unit + 1;
        size_t pre = (size_t)(rep - s), ul, total;
        char *buf;
        while (((unsigned char)*after & 0xC0) == 0x80) /* the rest of a UTF-8 character */
            after++;
        ul = (size_t)(after - unit);
        total = pre + (size_t)n * ul + strlen(after);
        buf = malloc(total + 1);
        assert_non_null(buf);
        memcpy(buf, s, pre);
        for (long i = 0; i < n; i++)
            memcpy(buf + pre + (size_t)i * ul, unit, ul);
        strcpy(buf + pre + (size_t)n * ul, after);
        json_decref(v);
        v = json_string(buf);
        free(buf);
        assert_non_null(v);
    }
    return v;
}

/* Sets (value != NULL, stolen) or deletes the member at `path` ("A.B[1].C";
 * a "[n]" past the end of an array appends). */
__attribute__((unused)) static void set_path(json_t *root, const char *path, json_t *value) {
    char buf[256];
    char *tok, *save = NULL;
    json_t *cur = root;
    snprintf(buf, sizeof buf, "%s", path);
    tok = strtok_r(buf, ".", &save);
    while (tok) {
        char *next = strtok_r(NULL, ".", &save);
        char *br = strchr(tok, '[');
        if (br)
            *br = '\0';
        if (!br && !next) {
            if (value)
                json_object_set_new(cur, tok, value);
            else
                json_object_del(cur, tok);
            return;
        }
        cur = json_object_get(cur, tok);
        while (br) {
            size_t idx = strtoul(br + 1, NULL, 10);
            br = strchr(br + 1, '[');
            if (!br && !next) {
                if (!value)
                    json_array_remove(cur, idx);
                else if (idx >= json_array_size(cur))
                    json_array_append_new(cur, value);
                else
                    json_array_set_new(cur, idx, value);
                return;
            }
            cur = json_array_get(cur, idx);
        }
        assert_non_null(cur);
        tok = next;
    }
}

#define DEL NULL

typedef struct {
    const char *path;  /* member to change */
    const char *value; /* its new value (see make_value), or DEL */
    int rc;            /* expected result */
    const char *msg;   /* expected substring of the message (NULL: any) */
} mut_case;

/* Whether every byte of s is printable ASCII. */
__attribute__((unused)) static int ascii_only(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7F)
            return 0;
    return 1;
}

#endif
