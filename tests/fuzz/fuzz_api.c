/* fuzz_api — libFuzzer harness: one request through the daemon's handler,
 * api_handle() (api.h), both APIs end to end, with a real store and engine.
 *
 * The process keeps one data dir (a fresh temporary directory under
 * $FUZZ_TMPDIR, else /dev/shm, else /tmp), holding a real store (store_open)
 * and an engine (engine_new) whose backend cannot launch anything; the
 * loop's tick never runs, so no training job is ever started. Every
 * FUZZ_API_RESET inputs (env, default 256; 1 makes every input independent,
 * for reproducing a crash) the api, engine and store are freed, the dir
 * removed and everything made again, with three base jobs created through
 * api_handle itself (2017 "job1", current "tune1" and "train1", account
 * 123456789012) so Describe / List / Stop / tag inputs find something.
 *
 * FUZZ_VERBOSE=1 in the environment prints every request and its answer.
 * The seed crash-issue8-unknown-image-hang is issue 8's old hang (an
 * unresolvable TrainingImage looped for ever in the old api_current.c's
 * message rewriting); it stays as a regression seed.
 *
 * Input: 3 bytes, then an "extra" string up to the first '\n', then the body.
 *   byte 0  bits 0-1 method: POST, POST, GET, PUT
 *           bits 2-4 route:  0 "/" + X-Amz-Target "SageMaker.<op>" (current API)
 *                            1 "/<op>" (2017 API)
 *                            2 "/" + X-Amz-Target "<op>" (no prefix)
 *                            3 "/" without X-Amz-Target
 *                            4 "/health"
 *                            5 "/openhpo/logs/<extra>"
 *                            6 the extra string as the raw path ("/metrics" in a
 *                              seed; it needs a bearer token on the daemon with
 *                              credentials)
 *                            7 "/<op>" + X-Amz-Target "SageMaker.<op>"
 *           bits 5-7 Content-Type: x-amz-json-1.1, json, x-amz-json-1.0, none,
 *                            text/plain, the extra string,
 *                            "application/json; charset=utf-8", "APPLICATION/JSON;"
 *   byte 1  operation: values below the number of operation names pick one
 *           (both APIs' names, kept in ops[] below), others use the extra
 *           string as the operation name
 *   byte 2  bits 0-1 authentication: 0, 1 none configured (every caller is
 *           account 123456789012); 2 credentials configured, the request
 *           signed with SigV4 by the key of account 123456789012; 3
 *           credentials configured, the extra string (when not empty) sent as
 *           the Authorization header
 *           bit 2 the body is flagged as over the cap (body_too_large)
 *
 * Checked on every answer (abort on violation): a status in 100-599; a JSON
 * content type has a body that is valid JSON (or none); every status >= 400
 * except from /openhpo/logs carries x-amzn-ErrorType and a body
 * {"__type": string, "message": string} (api.h: one error writer). */
#include <jansson.h>
#include <sanitizer/common_interface_defs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "backend_impl.h"
#include "credentials.h"
#include "engine.h"
#include "fake_request.h"
#include "http.h"
#include "loop.h"
#include "sigv4.h"
#include "store.h"
#include "telemetry.h"
#include "ui.h"
#include "util.h"

#define FUZZ_REGION "us-east-1"
#define FUZZ_KEY_ID "AKIAOPENHPOTESTKEYAA"
#define FUZZ_SECRET "secret/A+openhpo-test-key-0001"
#define FUZZ_ACCOUNT "123456789012"
#define FUZZ_EXTRA_MAX 2048 /* bytes of the extra string kept */
#define FUZZ_API_RESET_DEFAULT 256

/* Operation names of both APIs (api.c and api_current.c route tables). */
static const char *const ops[] = {
    "CreateTuningJob",
    "DescribeTuningJob",
    "ListTrainingJobsForTuningJob",
    "StopTuningJob",
    "CreateHyperParameterTuningJob",
    "DescribeHyperParameterTuningJob",
    "ListHyperParameterTuningJobs",
    "ListTrainingJobsForHyperParameterTuningJob",
    "StopHyperParameterTuningJob",
    "CreateTrainingJob",
    "DescribeTrainingJob",
    "ListTrainingJobs",
    "StopTrainingJob",
    "AddTags",
    "ListTags",
    "DeleteTags",
};
#define NOPS (sizeof ops / sizeof *ops)

/* ---- a backend that never launches ---------------------------------------- */

static int nl_start(void *self, const backend_launch *l, char handle[BACKEND_HANDLE_MAX],
                    err_t *e) {
    return err_set(e, ERR_INTERNAL, "the fuzz backend launches nothing");
}
static backend_state nl_watch(void *self, const char *job_dir, const char *handle,
                              void (*on_exit)(void *ud), void *ud, backend_watch **w) {
    *w = NULL;
    return BACKEND_LOST;
}
static void nl_unwatch(void *self, backend_watch *w) {}
static int nl_stop(void *self, const char *job_dir, const char *handle) {
    return 0;
}
static backend_state nl_result(void *self, const char *job_dir, const char *handle,
                               backend_result *r) {
    return BACKEND_LOST;
}
static ssize_t nl_read_log(void *self, const char *job_dir, const char *handle, int64_t offset,
                           char *buf, size_t n) {
    return 0;
}
static void nl_destroy(void *self) {}
/* Named "local" so the catalog's short forms resolve to it. */
static const backend_ops no_launch_ops = {.name = "local",
                                          .destroy = nl_destroy,
                                          .start = nl_start,
                                          .watch = nl_watch,
                                          .unwatch = nl_unwatch,
                                          .stop = nl_stop,
                                          .result = nl_result,
                                          .read_log = nl_read_log};

/* ---- the world: store, engine, two api instances ---------------------------- */

/* Process-wide state of the harness; libFuzzer calls the harness from one
 * thread only. */
static struct {
    char root[256]; /* the temporary dir made once per process */
    char dir[300];  /* root/data: removed and remade at every reset */
    loop *l;
    json_t *images;
    credentials *creds;
    store *st;
    backend *be; /* the never-launching backend, kept across resets */
    engine *en;
    api *open; /* no authentication */
    api *auth; /* credentials configured */
    long inputs, reset_every;
} w;

/* Reports a failed check and aborts. The message also goes to the
 * sanitizers' report fd, which -close_fd_mask=2 (make fuzz: the daemon's
 * log lines are noise) leaves open. */
__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(msg, sizeof msg, "fuzz_api: ");
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", msg);
    __sanitizer_report_error_summary(msg);
    abort();
}

static void world_down(void) {
    api_free(w.open);
    api_free(w.auth);
    engine_free(w.en);
    store_close(w.st);
    w.open = w.auth = NULL;
    w.en = NULL;
    w.st = NULL;
    if (util_rm_rf(w.dir))
        die("cannot remove the data dir");
}

static void send_request(api *a, const char *method, const char *path, const char *target,
                         const char *ctype, const char *authz, const char *body, size_t body_len,
                         int too_large, http_response *resp);

static const char base_2017[] =
    "{\"AwsAccountId\":\"123456789012\",\"TuningJobName\":\"job1\",\"TrainingJobDefinition\":"
    "{\"AlgorithmSpecification\":{\"TrainingImage\":\"trainer:latest\",\"TrainingInputMode\":"
    "\"File\",\"MetricDefinitions\":[{\"Name\":\"accuracy\",\"Regex\":\"accuracy=([-+0-9.eE]+)\"}]}"
    ","
    "\"InputDataConfig\":[{\"ChannelName\":\"train\",\"DataSource\":{\"S3DataSource\":"
    "{\"S3DataType\":\"S3Prefix\",\"S3Uri\":\"file:///tmp\"}}}],\"OutputDataConfig\":"
    "{\"S3OutputPath\":\"file:///tmp/openhpo-out\"},\"ResourceConfig\":{\"InstanceCount\":1,"
    "\"InstanceType\":\"ml.m4.xlarge\",\"VolumeSizeInGB\":1},\"RoleArn\":"
    "\"arn:aws:iam::123456789012:role/openhpo\",\"StaticHyperParameters\":{\"mode\":\"normal\"},"
    "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":600}},\"TuningJobConfig\":{\"ParameterRanges\":"
    "{\"ContinuousParameterRanges\":[{\"Name\":\"x\",\"MinValue\":\"-5\",\"MaxValue\":\"10\","
    "\"Type\":\"Continuous\"}],\"IntegerParameterRanges\":[{\"Name\":\"n\",\"MinValue\":\"0\","
    "\"MaxValue\":\"15\",\"Type\":\"Integer\"}],\"CategoricalParameterRanges\":[{\"Name\":"
    "\"kind\",\"Values\":[\"a\",\"b\",\"c\"],\"Type\":\"Categorical\"}]},\"ResourceLimits\":"
    "{\"MaxNumberOfTrainingJobs\":10,\"MaxParallelTrainingJobs\":2},\"TuningJobObjective\":"
    "{\"MetricName\":\"accuracy\",\"Type\":\"Maximize\"}}}";

static const char base_tuning[] =
    "{\"HyperParameterTuningJobName\":\"tune1\",\"HyperParameterTuningJobConfig\":{\"Strategy\":"
    "\"Bayesian\",\"HyperParameterTuningJobObjective\":{\"Type\":\"Maximize\",\"MetricName\":"
    "\"accuracy\"},\"ResourceLimits\":{\"MaxNumberOfTrainingJobs\":6,\"MaxParallelTrainingJobs\":"
    "2},\"ParameterRanges\":{\"ContinuousParameterRanges\":[{\"Name\":\"x\",\"MinValue\":\"-5\","
    "\"MaxValue\":\"10\",\"ScalingType\":\"Linear\"}],\"IntegerParameterRanges\":[{\"Name\":\"n\","
    "\"MinValue\":\"1\",\"MaxValue\":\"15\",\"ScalingType\":\"Auto\"}],"
    "\"CategoricalParameterRanges\":[{\"Name\":\"kind\",\"Values\":[\"a\",\"b\",\"c\"]}]}},"
    "\"TrainingJobDefinition\":{\"AlgorithmSpecification\":{\"TrainingImage\":\"trainer:latest\","
    "\"TrainingInputMode\":\"File\",\"MetricDefinitions\":[{\"Name\":\"accuracy\",\"Regex\":"
    "\"accuracy=([-+0-9.eE]+)\"}]},\"RoleArn\":\"arn:aws:iam::123456789012:role/openhpo\","
    "\"InputDataConfig\":[{\"ChannelName\":\"train\",\"DataSource\":{\"S3DataSource\":"
    "{\"S3DataType\":\"S3Prefix\",\"S3Uri\":\"file:///tmp\"}}}],\"OutputDataConfig\":"
    "{\"S3OutputPath\":\"file:///tmp/openhpo-out\"},\"ResourceConfig\":{\"InstanceCount\":1,"
    "\"InstanceType\":\"ml.m5.large\",\"VolumeSizeInGB\":1},\"StaticHyperParameters\":{\"mode\":"
    "\"normal\"},\"StoppingCondition\":{\"MaxRuntimeInSeconds\":600}},\"Tags\":[{\"Key\":"
    "\"team\",\"Value\":\"ml\"}]}";

static const char base_training[] =
    "{\"TrainingJobName\":\"train1\",\"HyperParameters\":{\"x\":\"2.5\",\"n\":\"7\",\"kind\":"
    "\"b\"},\"AlgorithmSpecification\":{\"TrainingImage\":\"trainer:latest\","
    "\"TrainingInputMode\":\"File\",\"MetricDefinitions\":[{\"Name\":\"accuracy\",\"Regex\":"
    "\"accuracy=([-+0-9.eE]+)\"}]},\"RoleArn\":\"arn:aws:iam::123456789012:role/openhpo\","
    "\"OutputDataConfig\":{\"S3OutputPath\":\"file:///tmp/openhpo-out\"},\"ResourceConfig\":"
    "{\"InstanceCount\":1,\"InstanceType\":\"ml.m5.large\",\"VolumeSizeInGB\":1},"
    "\"StoppingCondition\":{\"MaxRuntimeInSeconds\":600},\"Environment\":{\"OPENHPO_TEST\":"
    "\"yes\"}}";

static void base_job(const char *path, const char *target, const char *ctype, const char *body) {
    http_response resp = {.status = 500};
    send_request(w.open, "POST", path, target, ctype, NULL, body, strlen(body), 0, &resp);
    if (resp.status != 200) {
        die("base job %s %s refused: %d %.*s", path, target ? target : "", resp.status,
            (int)resp.body_len, resp.body ? resp.body : "");
    }
    free(resp.body);
}

static void world_up(void) {
    err_t e = {0};
    if (util_mkdir_p(w.dir, 1))
        die("cannot make the data dir");
    if (!(w.st = store_open(w.dir, &e)))
        die("%s", e.msg);
    if (!w.be && !(w.be = backend_from_ops(&no_launch_ops, NULL)))
        die("backend_from_ops");
    engine_config ec = {.l = w.l,
                        .st = w.st,
                        .backends = &w.be,
                        .nbackends = 1,
                        .data_dir = w.dir,
                        .images = w.images,
                        .grace = 1,
                        .max_running = 4};
    if (!(w.en = engine_new(&ec, &e)) || engine_start(w.en, &e))
        die("%s", e.msg);
    api_config ac = {.st = w.st,
                     .en = w.en,
                     .region = FUZZ_REGION,
                     .hour_seconds = 3600,
                     .auth = {.creds = NULL, .th = NULL, .region = FUZZ_REGION}};
    if (!(w.open = api_new(&ac)))
        die("api_new");
    ac.auth.creds = w.creds;
    ac.metrics_token = "fuzz-metrics-token-0123456789"; /* /metrics needs it there */
    if (!(w.auth = api_new(&ac)))
        die("api_new");
    base_job("/CreateTuningJob", NULL, "application/json", base_2017);
    base_job("/", "SageMaker.CreateHyperParameterTuningJob", "application/x-amz-json-1.1",
             base_tuning);
    base_job("/", "SageMaker.CreateTrainingJob", "application/x-amz-json-1.1", base_training);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static const char creds_json[] =
        "{\"credentials\":[{\"access_key_id\":\"" FUZZ_KEY_ID
        "\",\"secret_access_key\":\"" FUZZ_SECRET "\",\"account_id\":\"" FUZZ_ACCOUNT
        "\"},{\"access_key_id\":\"AKIAOPENHPOTESTKEYBB\","
        "\"secret_access_key\":\"secret/B+openhpo-test-key-0002\",\"account_id\":"
        "\"210987654321\"}]}";
    err_t e = {0};
    const char *tmp = getenv("FUZZ_TMPDIR");
    const char *env = getenv("FUZZ_API_RESET");
    if (!tmp || !*tmp)
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(w.root, sizeof w.root, "%s/openhpo-fuzz-api-XXXXXX", tmp);
    if (!mkdtemp(w.root))
        die("mkdtemp");
    snprintf(w.dir, sizeof w.dir, "%s/data", w.root);
    w.reset_every = env && atol(env) > 0 ? atol(env) : FUZZ_API_RESET_DEFAULT;
    if (fake_request_check())
        abort();
    if (!(w.l = loop_new()))
        die("loop_new");
    /* The catalog entry runs a program that does nothing; it is never launched. */
    if (!(w.images = json_pack("{s:[s]}", "trainer:latest", "/bin/true")))
        die("images");
    if (!(w.creds = credentials_parse(creds_json, strlen(creds_json), "fuzz", &e)))
        die("%s", e.msg);
    world_up();
    return 0;
}

/* The data dir is removed when the process exits normally. */
__attribute__((destructor)) static void world_cleanup(void) {
    if (w.st)
        world_down();
    if (w.root[0])
        util_rm_rf(w.root);
}

/* ---- one request ----------------------------------------------------------- */

static void send_request(api *a, const char *method, const char *path, const char *target,
                         const char *ctype, const char *authz, const char *body, size_t body_len,
                         int too_large, http_response *resp) {
    fake_request f;
    fake_request_init(&f);
    f.req.method = method;
    f.req.path = path;
    f.req.body = body;
    f.req.body_len = body_len;
    f.req.body_too_large = too_large;
    f.req.peer = "127.0.0.1";
    f.req.request_id = "00000000-0000-4000-8000-000000000000";
    fake_request_header(&f, "Host", "localhost");
    if (ctype)
        fake_request_header(&f, "Content-Type", ctype);
    if (target)
        fake_request_header(&f, "X-Amz-Target", target);
    if (authz)
        fake_request_header(&f, "Authorization", authz);
    api_handle(a, &f.req, resp);
}

/* Signs the request as botocore would (Host, X-Amz-Date, Content-Type,
 * X-Amz-Target), then sends it. Unsigned when signing refuses it. */
static void send_signed(api *a, const char *method, const char *path, const char *target,
                        const char *ctype, const char *body, size_t body_len, int too_large,
                        http_response *resp) {
    char date[SIGV4_DATE_LEN + 1], authz[SIGV4_AUTHZ_MAX];
    sigv4_header h[4];
    size_t n = 0;
    fake_request f;
    if (sigv4_format_date(time(NULL), date))
        die("sigv4_format_date");
    h[n++] = (sigv4_header){"Host", "localhost"};
    h[n++] = (sigv4_header){"X-Amz-Date", date};
    if (ctype)
        h[n++] = (sigv4_header){"Content-Type", ctype};
    if (target)
        h[n++] = (sigv4_header){"X-Amz-Target", target};
    sigv4_request r = {.method = method,
                       .path = path,
                       .headers = h,
                       .nheaders = n,
                       .body = body,
                       .body_len = body_len};
    fake_request_init(&f);
    if (sigv4_sign(&r, FUZZ_KEY_ID, FUZZ_SECRET, FUZZ_REGION, "sagemaker", authz, sizeof authz,
                   NULL) != ERR_OK)
        authz[0] = 0;
    for (size_t i = 0; i < n; i++)
        fake_request_header(&f, h[i].name, h[i].value);
    if (authz[0])
        fake_request_header(&f, "Authorization", authz);
    f.req.method = method;
    f.req.path = path;
    f.req.body = body;
    f.req.body_len = body_len;
    f.req.body_too_large = too_large;
    f.req.peer = "127.0.0.1";
    f.req.request_id = "00000000-0000-4000-8000-000000000000";
    api_handle(a, &f.req, resp);
}

static const char *header_of(const http_response *resp, const char *name) {
    for (int i = 0; i < resp->nheaders && i < HTTP_MAX_HEADERS; i++)
        if (resp->headers[i].name && !strcasecmp(resp->headers[i].name, name))
            return resp->headers[i].value;
    return NULL;
}

/* GET /metrics (telemetry.h) answers text, not the APIs' errors: the
 * exposition, or 401 with its challenge, 405 with Allow, 500/503 text. */
static void check_metrics(const http_response *resp) {
    if (resp->status == 200) {
        if (!resp->content_type || strcmp(resp->content_type, TELEMETRY_CONTENT_TYPE) ||
            resp->body_len < 8 || strncmp(resp->body, "# HELP openhpo_", 15) ||
            resp->body[resp->body_len - 1] != '\n')
            die("/metrics 200 is not the exposition");
    } else if (resp->status == 401) {
        if (!header_of(resp, "WWW-Authenticate"))
            die("/metrics 401 without WWW-Authenticate");
    } else if (resp->status == 405) {
        if (!header_of(resp, "Allow"))
            die("/metrics 405 without Allow");
    } else if (resp->status != 500 && resp->status != 503) {
        die("/metrics answered %d", resp->status);
    }
}

/* The dashboard (ui.h) answers files and its own JSON, not the APIs'
 * errors: an error is {"error": "..."} (docs/DASHBOARD.md), or a 405 with
 * Allow. */
static void check_ui(const http_response *resp, const json_t *js) {
    if (resp->status < 400)
        return;
    if (resp->status == 405 && header_of(resp, "Allow"))
        return;
    if (!json_is_string(json_object_get(js, "error")))
        die("/ui error %d body not {error}: %.*s", resp->status,
            (int)(resp->body_len > 400 ? 400 : resp->body_len), resp->body ? resp->body : "");
}

static void check_response(const http_response *resp, const char *path) {
    if (resp->status < 100 || resp->status > 599)
        die("status out of range");
    if (resp->body_len && !resp->body)
        die("body_len without a body");
    if (resp->nheaders < 0 || resp->nheaders > HTTP_MAX_HEADERS)
        die("header count out of range");
    if (!strcmp(path, TELEMETRY_PATH)) {
        check_metrics(resp);
        return;
    }
    json_t *js = NULL;
    if (resp->body_len && http_json_content_type(resp->content_type)) {
        json_error_t je;
        if (!(js = json_loadb(resp->body, resp->body_len, 0, &je))) {
            die("answer %d is not JSON (%s): %.*s", resp->status, je.text,
                (int)(resp->body_len > 400 ? 400 : resp->body_len), resp->body);
        }
    }
    if (ui_owns(path)) {
        check_ui(resp, js);
        json_decref(js);
        return;
    }
    if (resp->status >= 400 && strncmp(path, "/openhpo/logs/", 14)) {
        const char *type = header_of(resp, "x-amzn-ErrorType");
        if (!type || !*type)
            die("an error without x-amzn-ErrorType");
        if (!json_is_string(json_object_get(js, "__type")) ||
            !json_is_string(json_object_get(js, "message"))) {
            die("error %d body not {__type, message}: %.*s", resp->status,
                (int)(resp->body_len > 400 ? 400 : resp->body_len), resp->body ? resp->body : "");
        }
    }
    json_decref(js);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const methods[] = {"POST", "POST", "GET", "PUT"};
    static const char *const ctypes[] = {"application/x-amz-json-1.1",
                                         "application/json",
                                         "application/x-amz-json-1.0",
                                         NULL,
                                         "text/plain",
                                         "", /* the extra string */
                                         "application/json; charset=utf-8",
                                         "APPLICATION/JSON;"};
    char extra[FUZZ_EXTRA_MAX + 1], op[FUZZ_EXTRA_MAX + 1], path[FUZZ_EXTRA_MAX + 64],
        target[FUZZ_EXTRA_MAX + 16];
    if (size < 3)
        return 0;
    if (++w.inputs % w.reset_every == 0) {
        world_down();
        world_up();
    }
    uint8_t b0 = data[0], b1 = data[1], b2 = data[2];
    const uint8_t *p = data + 3, *end = data + size;
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    size_t elen = (size_t)((nl ? nl : end) - p);
    /* The extra string stops at a NUL: headers and paths are C strings. */
    size_t keep = strnlen((const char *)p, elen < FUZZ_EXTRA_MAX ? elen : FUZZ_EXTRA_MAX);
    memcpy(extra, p, keep);
    extra[keep] = 0;
    p = nl ? nl + 1 : end;
    /* The body in a buffer of its own size (plus the NUL http.c adds), so
     * ASan sees any read past it. */
    size_t blen = (size_t)(end - p);
    char *body = malloc(blen + 1);
    if (!body)
        return 0;
    memcpy(body, p, blen);
    body[blen] = 0;

    const char *method = methods[b0 & 3];
    const char *ctype = ctypes[(b0 >> 5) & 7];
    if (ctype && !*ctype)
        ctype = extra;
    snprintf(op, sizeof op, "%s", b1 < NOPS ? ops[b1] : extra);
    const char *tgt = NULL;
    switch ((b0 >> 2) & 7) {
    case 0:
        snprintf(path, sizeof path, "/");
        snprintf(target, sizeof target, "SageMaker.%s", op);
        tgt = target;
        break;
    case 1:
        snprintf(path, sizeof path, "/%s", op);
        break;
    case 2:
        snprintf(path, sizeof path, "/");
        tgt = op;
        break;
    case 3:
        snprintf(path, sizeof path, "/");
        break;
    case 4:
        snprintf(path, sizeof path, "/health");
        break;
    case 5:
        snprintf(path, sizeof path, "/openhpo/logs/%s", extra);
        break;
    case 6:
        snprintf(path, sizeof path, "%s", extra);
        break;
    default:
        snprintf(path, sizeof path, "/%s", op);
        snprintf(target, sizeof target, "SageMaker.%s", op);
        tgt = target;
        break;
    }
    int too_large = (b2 >> 2) & 1;
    http_response resp = {.status = 500};
    switch (b2 & 3) {
    case 2:
        send_signed(w.auth, method, path, tgt, ctype, body, blen, too_large, &resp);
        break;
    case 3:
        send_request(w.auth, method, path, tgt, ctype, *extra ? extra : NULL, body, blen, too_large,
                     &resp);
        break;
    default:
        send_request(w.open, method, path, tgt, ctype, NULL, body, blen, too_large, &resp);
        break;
    }
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_api: %s %s target=%s -> %d %.*s\n", method, path, tgt ? tgt : "-",
                resp.status, (int)(resp.body_len > 600 ? 600 : resp.body_len),
                resp.body ? resp.body : "");
    check_response(&resp, path);
    free(resp.body);
    free(body);
    return 0;
}
