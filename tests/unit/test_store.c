#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store.h"
#include "util.h"

static char dir[64];

static store *open_tmp(void) {
    err_t e = {0};
    store *s = store_open(dir, &e);
    assert_non_null(s);
    return s;
}

static void fill(store_tuning *t, const char *name) {
    memset(t, 0, sizeof *t);
    snprintf(t->account, sizeof t->account, "123456789012");
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->arn, sizeof t->arn, "arn:x:%s", name);
    snprintf(t->status, sizeof t->status, "Created");
    t->request = "{}";
    snprintf(t->strategy, sizeof t->strategy, "Random");
    t->seed = 0x7fffffffffffffffULL;
    snprintf(t->objective_metric, sizeof t->objective_metric, "acc");
    snprintf(t->objective_type, sizeof t->objective_type, "Maximize");
    t->max_jobs = 3;
    t->max_parallel = 1;
    t->created = 1.5;
}

static void test_tuning_roundtrip(void **unused) {
    store *s = open_tmp();
    store_tuning t, got;
    err_t e = {0};
    fill(&t, "a");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    assert_int_equal(store_create_tuning(s, &t, &e), ERR_IN_USE);
    assert_int_equal(store_get_tuning(s, "123456789012", "a", &got), 0);
    assert_int_equal(got.seed, 0x7fffffffffffffffULL);
    assert_string_equal(got.request, "{}");
    store_tuning_clear(&got);
    assert_int_equal(store_get_tuning(s, "999999999999", "a", &got), ERR_NOT_FOUND);
    assert_int_equal(store_set_tuning_status(s, t.id, "Running", NULL, 2.0, 0), 0);
    store_close(s);
    /* Reopening keeps the data and the secret; migrations are not re-run. */
    s = open_tmp();
    assert_int_equal(store_get_tuning_by_id(s, t.id, &got), 0);
    assert_string_equal(got.status, "Running");
    assert_true(got.started == 2.0);
    store_tuning_clear(&got);
    store_close(s);
}

static void test_training_and_metrics(void **unused) {
    store *s = open_tmp();
    store_tuning t;
    err_t e = {0};
    fill(&t, "b");
    assert_int_equal(store_create_tuning(s, &t, &e), 0);
    for (int i = 0; i < 3; i++) {
        store_training r = {0};
        r.tuning_id = t.id;
        snprintf(r.account, sizeof r.account, "123456789012");
        snprintf(r.name, sizeof r.name, "b-%03d", i);
        r.idx = i;
        snprintf(r.status, sizeof r.status, "InProgress");
        snprintf(r.secondary, sizeof r.secondary, "Starting");
        r.hyperparameters = "{\"x\":\"1\"}";
        snprintf(r.job_dir, sizeof r.job_dir, "/tmp/x");
        assert_int_equal(store_insert_training(s, &r, &e), 0);
        store_point p[2] = {{"acc", 1.0, 0.5 + i}, {"acc", 2.0, 0.1 * i}};
        assert_int_equal(store_add_points(s, r.id, p, 2, 100), 0);
        double v;
        assert_int_equal(store_final_metric(s, r.id, "acc", &v), 0);
        assert_true(v == 0.1 * i);
        assert_int_equal(store_training_finish(s, r.id, "Completed", "Completed", NULL, 1, v, 3),
                         0);
    }
    store_training best;
    assert_int_equal(store_best_training(s, t.id, 1, &best), 0);
    assert_string_equal(best.name, "b-002");
    assert_int_equal(best.log_offset, 100);
    store_training_clear(&best);
    store_counts c;
    assert_int_equal(store_tuning_counts(s, t.id, 10, &c), 0);
    assert_int_equal(c.completed, 3);
    assert_int_equal(c.objective_succeeded, 3);
    store_close(s);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/openhpo-test-store-%d", (int)getpid());
    util_mkdir_p(dir, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tuning_roundtrip),
        cmocka_unit_test(test_training_and_metrics),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    util_rm_rf(dir);
    return rc;
}
