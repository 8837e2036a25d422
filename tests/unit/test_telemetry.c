/* telemetry: the text exposition of GET /metrics, checked line by line by
 * a strict parser of the format (TYPE before its samples, each family once,
 * names and label syntax, values, histograms cumulative with +Inf = count,
 * counters named _total); what the record calls add; the overflow label set;
 * records from several threads; the gauges read from a real store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <pthread.h>
#include <regex.h>

#include "backend.h"
#include "status.h"
#include "store.h"
#include "telemetry.h"
#include "util.h"

/* ---- a strict parser of the exposition ---- */

#define MAX_FAMILIES 64

typedef struct {
    char names[MAX_FAMILIES][96];
    char types[MAX_FAMILIES][16];
    size_t n;
    int samples;
} parsed;

/* The family (TYPE line) a sample name belongs to: the name itself, or for
 * a histogram its _bucket, _sum, _count. */
static int belongs(const char *sample, const char *family, const char *type) {
    size_t n = strlen(family);
    if (!strcmp(sample, family))
        return strcmp(type, "histogram") != 0;
    if (strncmp(sample, family, n) || strcmp(type, "histogram"))
        return 0;
    return !strcmp(sample + n, "_bucket") || !strcmp(sample + n, "_sum") ||
           !strcmp(sample + n, "_count");
}

static char why[512]; /* check_text's complaint */
#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(why, sizeof why, __VA_ARGS__);                                                    \
        goto out;                                                                                  \
    } while (0)

/* Checks every line of `text`: NULL, or what is wrong with the first bad
 * one. */
static const char *check_text(const char *text, parsed *p) {
    regex_t sample, help, type;
    const char *label = "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\"";
    char re[1024];
    snprintf(re, sizeof re,
             "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{%s(,%s)*\\})? "
             "([-+]?[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?|[-+]?Inf|NaN)$",
             label, label);
    assert_int_equal(regcomp(&sample, re, REG_EXTENDED), 0);
    assert_int_equal(regcomp(&help, "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* [^\n]*$", REG_EXTENDED), 0);
    assert_int_equal(
        regcomp(&type, "^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram)$", REG_EXTENDED),
        0);
    memset(p, 0, sizeof *p);
    why[0] = 0;
    char *copy = strdup(text), *save = NULL;
    if (!strlen(text) || text[strlen(text) - 1] != '\n')
        BAD("the text does not end with a newline");
    double last_bucket = -1;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        regmatch_t m[2];
        if (!strncmp(line, "# HELP ", 7)) {
            if (regexec(&help, line, 0, NULL, 0))
                BAD("bad HELP line: %s", line);
            continue;
        }
        if (!strncmp(line, "# TYPE ", 7)) {
            char name[96], t[16];
            if (regexec(&type, line, 0, NULL, 0) || p->n >= MAX_FAMILIES ||
                sscanf(line, "# TYPE %95s %15s", name, t) != 2)
                BAD("bad TYPE line: %s", line);
            for (size_t i = 0; i < p->n; i++)
                if (!strcmp(p->names[i], name))
                    BAD("family %s twice", name);
            if (!strcmp(t, "counter") &&
                (strlen(name) <= 6 || strcmp(name + strlen(name) - 6, "_total")))
                BAD("counter %s does not end in _total", name);
            snprintf(p->names[p->n], sizeof p->names[0], "%s", name);
            snprintf(p->types[p->n++], sizeof p->types[0], "%s", t);
            last_bucket = -1;
            continue;
        }
        if (line[0] == '#')
            BAD("stray comment: %s", line);
        if (regexec(&sample, line, 2, m, 0))
            BAD("bad sample line: %s", line);
        if (!p->n)
            BAD("sample before any TYPE: %s", line);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
        if (!belongs(name, p->names[p->n - 1], p->types[p->n - 1]))
            BAD("sample %s outside its family %s", name, p->names[p->n - 1]);
        double v = strtod(strrchr(line, ' ') + 1, NULL);
        size_t nl = strlen(name);
        if (nl > 7 && !strcmp(name + nl - 7, "_bucket")) {
            if (v < last_bucket)
                BAD("buckets not cumulative: %s", line);
            last_bucket = strstr(line, "le=\"+Inf\"") ? -1 : v;
        }
        p->samples++;
    }
out:
    free(copy);
    regfree(&sample);
    regfree(&help);
    regfree(&type);
    return why[0] ? why : NULL;
}

/* Fails the test when `text` is not valid exposition. */
static void parse_strict(const char *text, parsed *p) {
    const char *bad = check_text(text, p);
    if (bad)
        fail_msg("%s", bad);
}

/* The value of the sample line that starts with `head` (name and labels
 * exactly as rendered), or -1 when there is none. */
static double value_of(const char *text, const char *head) {
    size_t n = strlen(head);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, head, n) && l[n] == ' ')
            return strtod(l + n + 1, NULL);
    return -1;
}

static char *render(const telemetry_gauges *g) {
    size_t len = 0;
    char *t = telemetry_render(g, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    return t;
}

/* ---- tests ---- */

/* The parser refuses what the format does not allow (so the tests below
 * that pass it mean something). */
static void test_parser_rejects(void **unused) {
    static const char *const bad[] = {
        "x 1\n",                                           /* no TYPE */
        "# TYPE a_total counter\na_total{l=\"x} 1\n",      /* unterminated value */
        "# TYPE a_total counter\na_total{l=\"a\"b\"} 1\n", /* raw quote */
        "# TYPE a_total counter\na_total{l=\"x\"} one\n",  /* not a number */
        "# TYPE a_total counter\na_total{l=\"x\"}  1\n",   /* two spaces */
        "# TYPE a counter\na 1\n",                         /* counter without _total */
        "# TYPE a gauge\na 1\n# TYPE a gauge\na 2\n",      /* a family twice */
        "# TYPE a gauge\nb 1\n",                           /* outside its family */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n", /* not cumulative */
        "# TYPE a gauge\na 1",                                              /* no final newline */
        "# TYPE a summary\na 1\n", /* a type we do not make */
        "# HELP\n",                /* bad HELP */
    };
    parsed p;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (!check_text(bad[i], &p))
            fail_msg("accepted: %s", bad[i]);
    assert_null(check_text("# HELP a x\n# TYPE a gauge\na{l=\"q\\\"\\n\\\\\"} -1.5e3\n", &p));
}

static void test_every_series_once_and_valid(void **unused) {
    telemetry_reset();
    telemetry_gauges *g = calloc(1, sizeof *g);
    telemetry_gauge(g, TM_RUNNING, NULL, NULL, 3);
    telemetry_gauge(g, TM_MAX_RUNNING, NULL, NULL, 64);
    telemetry_gauge(g, TM_TUNING_JOBS, "Running", NULL, 2);
    telemetry_gauge(g, TM_TUNING_JOBS, "Running", NULL, 5); /* the same sample: set again */
    char *t = render(g);
    parsed p;
    parse_strict(t, &p);
    assert_int_equal(p.n, TM_NSERIES);
    assert_true(value_of(t, "openhpo_training_jobs_running") == 3);
    assert_true(value_of(t, "openhpo_training_jobs_max_running") == 64);
    assert_true(value_of(t, "openhpo_tuning_jobs{status=\"Running\"}") == 5);
    /* Counters of known label sets are there at 0 before any event. */
    assert_true(value_of(t, "openhpo_training_jobs_launched_total{backend=\"local\"}") == 0);
    assert_true(value_of(t, "openhpo_training_jobs_failed_total{backend=\"local\","
                            "reason=\"exit_code\"}") == 0);
    assert_true(value_of(t, "openhpo_training_jobs_ended_total{backend=\"local\","
                            "status=\"Completed\"}") == 0);
    assert_true(value_of(t, "openhpo_training_jobs_ended_total{backend=\"local\","
                            "status=\"InProgress\"}") == -1); /* not final: no such series */
    free(t);
    free(g);
}

static void test_counters_and_histograms(void **unused) {
    telemetry_reset();
    telemetry_api_request("CreateTuningJob", 200, 0.0004);
    telemetry_api_request("CreateTuningJob", 200, 0.003);
    telemetry_api_request("CreateTuningJob", 400, 0.002);
    telemetry_api_request(NULL, 400, 100); /* past the last bucket: +Inf only */
    telemetry_suggestion("Bayesian", 0.02);
    telemetry_launched("local");
    telemetry_launched("local");
    telemetry_retried("local");
    telemetry_ended("local", "Completed", 0);
    telemetry_ended("local", "Failed", TELEMETRY_REASON_SIGNAL);
    telemetry_ended("docker", "Failed", TELEMETRY_REASON_INFRASTRUCTURE);
    char *t = render(NULL);
    parsed p;
    parse_strict(t, &p);
    assert_true(value_of(t, "openhpo_api_requests_total{operation=\"CreateTuningJob\","
                            "code=\"200\"}") == 2);
    assert_true(value_of(t, "openhpo_api_requests_total{operation=\"CreateTuningJob\","
                            "code=\"400\"}") == 1);
    assert_true(value_of(t, "openhpo_api_requests_total{operation=\"Unknown\",code=\"400\"}") == 1);
    const char *h = "openhpo_api_request_duration_seconds";
    char head[256];
    snprintf(head, sizeof head, "%s_bucket{operation=\"CreateTuningJob\",le=\"0.0005\"}", h);
    assert_true(value_of(t, head) == 1);
    snprintf(head, sizeof head, "%s_bucket{operation=\"CreateTuningJob\",le=\"0.0025\"}", h);
    assert_true(value_of(t, head) == 2);
    snprintf(head, sizeof head, "%s_bucket{operation=\"CreateTuningJob\",le=\"0.005\"}", h);
    assert_true(value_of(t, head) == 3);
    snprintf(head, sizeof head, "%s_bucket{operation=\"CreateTuningJob\",le=\"+Inf\"}", h);
    assert_true(value_of(t, head) == 3);
    snprintf(head, sizeof head, "%s_count{operation=\"CreateTuningJob\"}", h);
    assert_true(value_of(t, head) == 3);
    snprintf(head, sizeof head, "%s_sum{operation=\"CreateTuningJob\"}", h);
    assert_true(value_of(t, head) > 0.0053 && value_of(t, head) < 0.0055);
    snprintf(head, sizeof head, "%s_bucket{operation=\"Unknown\",le=\"30\"}", h);
    assert_true(value_of(t, head) == 0);
    snprintf(head, sizeof head, "%s_bucket{operation=\"Unknown\",le=\"+Inf\"}", h);
    assert_true(value_of(t, head) == 1);
    assert_true(value_of(t, "openhpo_suggestion_duration_seconds_count{strategy=\"Bayesian\"}") ==
                1);
    assert_true(value_of(t, "openhpo_suggestion_duration_seconds_bucket{strategy=\"Bayesian\","
                            "le=\"0.025\"}") == 1);
    assert_true(value_of(t, "openhpo_suggestion_duration_seconds_bucket{strategy=\"Bayesian\","
                            "le=\"0.01\"}") == 0);
    assert_true(value_of(t, "openhpo_training_jobs_launched_total{backend=\"local\"}") == 2);
    assert_true(value_of(t, "openhpo_training_jobs_retried_total{backend=\"local\"}") == 1);
    assert_true(value_of(t, "openhpo_training_jobs_ended_total{backend=\"local\","
                            "status=\"Completed\"}") == 1);
    assert_true(value_of(t, "openhpo_training_jobs_ended_total{backend=\"local\","
                            "status=\"Failed\"}") == 1);
    assert_true(value_of(t, "openhpo_training_jobs_failed_total{backend=\"local\","
                            "reason=\"signal\"}") == 1);
    assert_true(value_of(t, "openhpo_training_jobs_failed_total{backend=\"docker\","
                            "reason=\"infrastructure\"}") == 1);
    assert_true(value_of(t, "openhpo_training_jobs_failed_total{backend=\"local\","
                            "reason=\"exit_code\"}") == 0);
    free(t);
    telemetry_reset();
    t = render(NULL);
    assert_true(value_of(t, "openhpo_training_jobs_launched_total{backend=\"local\"}") == 0);
    assert_null(strstr(t, "openhpo_api_requests_total{"));
    free(t);
}

static void test_reason_labels(void **unused) {
    /* Every class has a distinct label value of the label syntax. */
    for (int i = 0; i < TELEMETRY_NREASONS; i++) {
        const char *a = telemetry_reason_label(i);
        assert_true(a[0]);
        for (const char *c = a; *c; c++)
            assert_true((*c >= 'a' && *c <= 'z') || *c == '_');
        for (int k = 0; k < i; k++)
            assert_string_not_equal(a, telemetry_reason_label(k));
    }
    assert_string_equal(telemetry_reason_label(TELEMETRY_NREASONS), TELEMETRY_OTHER);
}

static void test_escaping(void **unused) {
    telemetry_reset();
    telemetry_gauges *g = calloc(1, sizeof *g);
    telemetry_gauge(g, TM_TUNING_JOBS, "a\"b\\c\nd", NULL, 1.25);
    telemetry_gauge(g, TM_STORE_BYTES, NULL, NULL, 1e300);
    telemetry_gauge(g, TM_RUNNING, NULL, NULL, 0.1);
    telemetry_launched("we\"ird");
    char *t = render(g);
    parsed p;
    parse_strict(t, &p);
    assert_non_null(strstr(t, "openhpo_tuning_jobs{status=\"a\\\"b\\\\c\\nd\"} 1.25\n"));
    assert_non_null(strstr(t, "openhpo_training_jobs_launched_total{backend=\"we\\\"ird\"} 1\n"));
    assert_non_null(strstr(t, "openhpo_training_jobs_running 0.1\n"));
    assert_true(value_of(t, "openhpo_store_size_bytes") == 1e300);
    free(t);
    free(g);
}

static void test_overflow_label_sets(void **unused) {
    telemetry_reset();
    int n = TELEMETRY_CELLS_MAX + 50;
    for (int i = 0; i < n; i++) {
        char op[32];
        snprintf(op, sizeof op, "Op%d", i);
        telemetry_api_request(op, 200, 0.001);
    }
    telemetry_api_request("Op0", 200, 0.001); /* an early one keeps its own */
    char *t = render(NULL);
    parsed p;
    parse_strict(t, &p);
    int lines = 0;
    double total = 0;
    for (const char *l = strstr(t, "\nopenhpo_api_requests_total{"); l;
         l = strstr(l + 1, "\nopenhpo_api_requests_total{")) {
        lines++;
        total += strtod(strchr(l, '}') + 2, NULL);
    }
    assert_int_equal(lines, TELEMETRY_CELLS_MAX);
    assert_true(total == n + 1); /* nothing lost: the rest is under "other" */
    assert_true(value_of(t, "openhpo_api_requests_total{operation=\"Op0\",code=\"200\"}") == 2);
    assert_true(value_of(t, "openhpo_api_requests_total{operation=\"other\",code=\"other\"}") ==
                n - (TELEMETRY_CELLS_MAX - 1));
    free(t);
    telemetry_reset();
}

#define THREAD_RECORDS 20000
static void *recorder(void *arg) {
    for (int i = 0; i < THREAD_RECORDS; i++) {
        telemetry_launched("local");
        telemetry_suggestion("Random", 0.001);
    }
    return arg;
}

static void test_threads(void **unused) {
    telemetry_reset();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, recorder, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *t = render(NULL);
    assert_true(value_of(t, "openhpo_training_jobs_launched_total{backend=\"local\"}") ==
                4 * THREAD_RECORDS);
    assert_true(value_of(t, "openhpo_suggestion_duration_seconds_count{strategy=\"Random\"}") ==
                4 * THREAD_RECORDS);
    free(t);
    telemetry_reset();
}

/* The gauges of a real store: tuning jobs by status (wrappers of standalone
 * training jobs and deleted ones not counted), training jobs by status. */
static void test_collect_from_store(void **unused) {
    char dir[64];
    err_t e = {0};
    snprintf(dir, sizeof dir, "/tmp/openhpo-test-telemetry-%d", (int)getpid());
    util_rm_rf(dir);
    util_mkdir_p(dir, 1);
    store *s = store_open(dir, &e);
    assert_non_null(s);
    static const char *const kinds[] = {"tuning", "tuning", "tuning", "training"};
    static const char *const statuses[] = {"Running", "Running", "Completed", "Running"};
    int64_t ids[4];
    for (int i = 0; i < 4; i++) {
        store_tuning t = {0};
        snprintf(t.account, sizeof t.account, "123456789012");
        snprintf(t.name, sizeof t.name, "job%d", i);
        snprintf(t.arn, sizeof t.arn, "arn:x:job%d", i);
        snprintf(t.kind, sizeof t.kind, "%s", kinds[i]);
        snprintf(t.status, sizeof t.status, "%s", statuses[i]);
        t.request = "{}";
        snprintf(t.strategy, sizeof t.strategy, "Random");
        snprintf(t.objective_type, sizeof t.objective_type, "Maximize");
        t.max_jobs = t.max_parallel = 1;
        t.created = 1;
        assert_int_equal(store_create_tuning(s, &t, &e), 0);
        ids[i] = t.id;
    }
    static const char *const tstatus[] = {"InProgress", "InProgress", "Failed", "Completed",
                                          "Stopping"};
    for (int i = 0; i < 5; i++) {
        store_training r = {0};
        r.tuning_id = ids[i % 4];
        snprintf(r.account, sizeof r.account, "123456789012");
        snprintf(r.name, sizeof r.name, "t%d", i);
        r.idx = i;
        snprintf(r.status, sizeof r.status, "%s", tstatus[i]);
        snprintf(r.secondary, sizeof r.secondary, "Starting");
        r.hyperparameters = "{}";
        snprintf(r.job_dir, sizeof r.job_dir, "/tmp/x");
        if (i == 1)
            snprintf(r.handle, sizeof r.handle, "1:2"); /* launched: in_progress, not pending */
        assert_int_equal(store_insert_training(s, &r, &e), 0);
    }
    telemetry_reset();
    telemetry_gauges *g = calloc(1, sizeof *g);
    assert_int_equal(telemetry_collect(s, NULL, g), 0);
    char *t = render(g);
    parsed p;
    parse_strict(t, &p);
    assert_true(value_of(t, "openhpo_tuning_jobs{status=\"Running\"}") == 2);
    assert_true(value_of(t, "openhpo_tuning_jobs{status=\"Completed\"}") == 1);
    assert_true(value_of(t, "openhpo_tuning_jobs{status=\"Failed\"}") == 0);
    assert_true(value_of(t, "openhpo_training_jobs{status=\"InProgress\"}") == 2);
    assert_true(value_of(t, "openhpo_training_jobs{status=\"Failed\"}") == 1);
    assert_true(value_of(t, "openhpo_training_jobs{status=\"Completed\"}") == 1);
    assert_true(value_of(t, "openhpo_training_jobs{status=\"Stopping\"}") == 1);
    assert_true(value_of(t, "openhpo_training_jobs{status=\"Stopped\"}") == 0);
    assert_true(value_of(t, "openhpo_store_size_bytes") >= 4096);
    assert_true(value_of(t, "openhpo_start_time_seconds") > 1.5e9);
    /* Every registered backend's active series, at 0 without an engine. */
    for (size_t i = 0; backend_registered(i); i++) {
        char head[128];
        snprintf(head, sizeof head, "openhpo_training_jobs_active{backend=\"%s\",status=\"%s\"}",
                 backend_registered(i), training_status_text(TRAINING_IN_PROGRESS));
        assert_true(value_of(t, head) == 0);
    }
    free(t);
    /* A deleted tuning job is no longer counted. */
    assert_int_equal(store_set_tuning_status(s, ids[2], "Deleting", NULL, 0, 0), 0);
    assert_int_equal(store_delete_tuning(s, ids[2]), 0);
    memset(g, 0, sizeof *g);
    assert_int_equal(telemetry_collect(s, NULL, g), 0);
    t = render(g);
    assert_true(value_of(t, "openhpo_tuning_jobs{status=\"Completed\"}") == 0);
    assert_true(value_of(t, "openhpo_tuning_jobs{status=\"Deleting\"}") == 0);
    free(t);
    free(g);
    store_close(s);
    util_rm_rf(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parser_rejects),
        cmocka_unit_test(test_every_series_once_and_valid),
        cmocka_unit_test(test_counters_and_histograms),
        cmocka_unit_test(test_reason_labels),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_overflow_label_sets),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_collect_from_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
