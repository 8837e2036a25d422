/* The Slurm backend's pure parts (backends/slurm.h): what each Slurm job
 * state means, the --time limit, squeue's and sacct's lines; and that the
 * backend refuses to start when it is not configured or Slurm cannot be
 * reached (hpod then leaves it out). The backend against a real cluster is
 * tests/e2e/test_slurm.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "backend.h"
#include "backends/slurm.h"
#include "loop.h"

static void test_state_kinds(void **unused) {
    assert_int_equal(slurm_state_kind("PENDING"), SLURM_K_ACTIVE);
    assert_int_equal(slurm_state_kind("RUNNING"), SLURM_K_ACTIVE);
    assert_int_equal(slurm_state_kind("COMPLETING"), SLURM_K_ACTIVE); /* not ended yet */
    assert_int_equal(slurm_state_kind("COMPLETED"), SLURM_K_DONE);
    assert_int_equal(slurm_state_kind("CANCELLED"), SLURM_K_CANCEL);
    assert_int_equal(slurm_state_kind("CANCELLED by 0"), SLURM_K_CANCEL); /* sacct */
    assert_int_equal(slurm_state_kind("TIMEOUT"), SLURM_K_TIMEOUT);
    assert_int_equal(slurm_state_kind("DEADLINE"), SLURM_K_TIMEOUT);
    assert_int_equal(slurm_state_kind("FAILED"), SLURM_K_FAILED);
    assert_int_equal(slurm_state_kind("OUT_OF_MEMORY"), SLURM_K_OOM);
    assert_int_equal(slurm_state_kind("NODE_FAIL"), SLURM_K_INFRA);
    assert_int_equal(slurm_state_kind("PREEMPTED"), SLURM_K_INFRA);
    assert_int_equal(slurm_state_kind("BOOT_FAIL"), SLURM_K_INFRA);
    /* Unknown: asked about again, never taken as an end. */
    assert_int_equal(slurm_state_kind("SOMETHING_NEW"), SLURM_K_ACTIVE);
    assert_int_equal(slurm_state_kind("COMPLETEDX"), SLURM_K_ACTIVE);
    assert_int_equal(slurm_state_kind(NULL), SLURM_K_ACTIVE);
}

static void test_time_limit(void **unused) {
    char b[32];
    slurm_time_limit(0, 120, b, sizeof b);
    assert_string_equal(b, ""); /* no limit: the partition's */
    slurm_time_limit(1, 0, b, sizeof b);
    assert_string_equal(b, "2"); /* 1 + 60 s margin -> 2 minutes, rounded up */
    slurm_time_limit(600, 120, b, sizeof b);
    assert_string_equal(b, "13"); /* 780 s */
    slurm_time_limit(86400, 120, b, sizeof b);
    assert_string_equal(b, "1443");
}

static void test_parse_lines(void **unused) {
    slurm_row r;
    assert_int_equal(slurm_parse_line("123|RUNNING|None|hpo-job1-0001-abcd", &r), 0);
    assert_int_equal(r.id, 123);
    assert_string_equal(r.state, "RUNNING");
    assert_string_equal(r.reason, "None");
    assert_string_equal(r.name, "hpo-job1-0001-abcd");
    assert_int_equal(slurm_parse_line("7|NODE_FAIL|NodeDown|n\n", &r), 0);
    assert_string_equal(r.state, "NODE_FAIL");
    assert_string_equal(r.name, "n");
    /* sacct's job steps and error messages are not jobs. */
    assert_int_equal(slurm_parse_line("7.batch|COMPLETED||x", &r), -1);
    assert_int_equal(slurm_parse_line("slurm_load_jobs error: Invalid job id specified", &r), -1);
    assert_int_equal(slurm_parse_line("", &r), -1);
    assert_int_equal(slurm_parse_line("12||None|x", &r), -1);
    assert_int_equal(slurm_parse_line("-3|RUNNING|None|x", &r), -1);
    /* Fields are capped. */
    char longl[600];
    memset(longl, 'A', sizeof longl);
    memcpy(longl, "5|", 2);
    memcpy(longl + sizeof longl - 3, "|x", 3);
    assert_int_equal(slurm_parse_line(longl, &r), 0);
    assert_int_equal(strlen(r.state), SLURM_FIELD_MAX - 1);
}

static void test_create_needs_configuration_and_slurm(void **unused) {
    loop *l = loop_new();
    assert_non_null(l);
    err_t e = {0};
    backend_env env = {.l = l, .runner_path = "/bin/true", .data_dir = "/tmp"};
    assert_null(backend_new("slurm", &env, &e));
    assert_non_null(strstr(e.msg, "not configured"));
    json_t *conf = json_pack("{s:s}", "bin_dir", "/nonexistent/slurm/bin");
    env.conf = conf;
    memset(&e, 0, sizeof e);
    assert_null(backend_new("slurm", &env, &e));
    assert_non_null(strstr(e.msg, "not reachable"));
    json_decref(conf);
    conf = json_pack("{s:s, s:[i]}", "bin_dir", "/nonexistent", "sbatch_args", 3);
    env.conf = conf;
    memset(&e, 0, sizeof e);
    assert_null(backend_new("slurm", &env, &e));
    assert_non_null(strstr(e.msg, "sbatch_args"));
    json_decref(conf);
    loop_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_kinds),
        cmocka_unit_test(test_time_limit),
        cmocka_unit_test(test_parse_lines),
        cmocka_unit_test(test_create_needs_configuration_and_slurm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
