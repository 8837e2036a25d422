/* The completion criteria's tests (completion.h) and the retry rule
 * (trial.h): pure functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "completion.h"
#include "trial.h"

static void test_not_improving(void **unused) {
    /* Minimised values: 10 sets the reference; 9.95 is better by 0.5 % only
     * (counts as not improving, and is not the new reference); 9.8 improves
     * on 10 by 2 %: reset; then three more that do not. */
    const double y[] = {10, 9.95, 12, 9.8, 9.75, 9.9, 20};
    assert_int_equal(completion_not_improving(y, 0), 0);
    assert_int_equal(completion_not_improving(y, 1), 0);
    assert_int_equal(completion_not_improving(y, 2), 1);
    assert_int_equal(completion_not_improving(y, 3), 2);
    assert_int_equal(completion_not_improving(y, 4), 0);
    assert_int_equal(completion_not_improving(y, 7), 3);
    /* 1 % of |ref| for negative values too: -10 -> -10.2 improves by 2 %. */
    const double neg[] = {-10, -10.05, -10.2};
    assert_int_equal(completion_not_improving(neg, 2), 1);
    assert_int_equal(completion_not_improving(neg, 3), 0);
    /* A reference of 0: any strict improvement counts; equal values do not. */
    const double zero[] = {0, 0, 0, -1e-9};
    assert_int_equal(completion_not_improving(zero, 3), 2);
    assert_int_equal(completion_not_improving(zero, 4), 0);
}

static void test_window(void **unused) {
    assert_int_equal(completion_window(0), COMPLETION_CONV_MIN_WINDOW);
    assert_int_equal(completion_window(10), 5);
    assert_int_equal(completion_window(25), 5);
    assert_int_equal(completion_window(26), 6); /* ceil(5.2) */
    assert_int_equal(completion_window(100), 20);
}

static void test_converged(void **unused) {
    double y[40];
    /* Still improving by 10 % of the spread every job: never converged. */
    for (int i = 0; i < 40; i++)
        y[i] = -i;
    for (size_t n = 0; n <= 40; n++)
        assert_false(completion_converged(y, n, 20));
    /* Improvements stop after job 12: converged once the last window (5
     * jobs for a budget of 20) holds none, and not before 2 windows. */
    for (int i = 0; i < 40; i++)
        y[i] = i < 12 ? 100 - i : 100 - 11 + (i % 3);
    assert_false(completion_converged(y, 12, 20));
    assert_false(completion_converged(y, 16, 20)); /* job 11 (the best) is in the window */
    assert_true(completion_converged(y, 17, 20));
    /* A constant objective converges at 2 windows exactly. */
    for (int i = 0; i < 40; i++)
        y[i] = 3;
    assert_false(completion_converged(y, 9, 20));
    assert_true(completion_converged(y, 10, 20));
    /* A tiny improvement (< 1 % of the spread) in the window still counts as
     * converged; a larger one does not. Scale-free: the same with values
     * near 0 and near 1e6. */
    for (int k = 0; k < 2; k++) {
        double off = k ? 1e6 : 0;
        double v[10] = {5, 1, 3, 4, 2, 1.5, 2, 3, 4, 0.995};
        for (int i = 0; i < 10; i++)
            v[i] += off;
        assert_true(completion_converged(v, 10, 10)); /* 0.005 of a spread of 4.005 */
        v[9] = off + 0.9;
        assert_false(completion_converged(v, 10, 10));
    }
}

static void test_eval(void **unused) {
    const double y[] = {5, 4, 3.5, 3.49, 3.48, 3.47};
    completion_criteria c = {.max_jobs = 10};
    completion_result r = completion_eval(&c, y, 6);
    assert_int_equal(r.met, COMPLETION_NONE);
    assert_int_equal(r.not_improving, 3);
    c.max_not_improving = 3;
    assert_int_equal(completion_eval(&c, y, 6).met, COMPLETION_NOT_IMPROVING);
    assert_int_equal(completion_eval(&c, y, 5).met, COMPLETION_NONE);
    /* The target, minimised: reached at 3.5 (a Maximize target of -3.5 is
     * given as 3.5 by the engine), and it comes first. */
    c.has_target = 1;
    c.target_min = 3.5;
    assert_int_equal(completion_eval(&c, y, 2).met, COMPLETION_NONE);
    assert_int_equal(completion_eval(&c, y, 3).met, COMPLETION_TARGET);
    assert_int_equal(completion_eval(&c, y, 6).met, COMPLETION_TARGET);
    assert_int_equal(completion_eval(&c, y, 0).met, COMPLETION_NONE);
    /* Convergence ends the job only when enabled. */
    const double flat[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    completion_criteria f = {.max_jobs = 10};
    r = completion_eval(&f, flat, 10);
    assert_true(r.converged);
    assert_int_equal(r.met, COMPLETION_NONE);
    f.on_convergence = 1;
    assert_int_equal(completion_eval(&f, flat, 10).met, COMPLETION_CONVERGED);
}

/* The retry rule: infrastructure failures only. */
static void test_retry_rule(void **unused) {
    backend_result r;
    memset(&r, 0, sizeof r);
    assert_true(trial_infrastructure_failure(BACKEND_LOST, &r)); /* runner killed, node gone */
    r.never_started = 1; /* (relaunched before the rule is asked, a few times) */
    assert_true(trial_infrastructure_failure(BACKEND_LOST, &r));
    memset(&r, 0, sizeof r);
    r.exited = 1;
    r.code = 1; /* the program's failure */
    assert_false(trial_infrastructure_failure(BACKEND_EXITED, &r));
    r.exited = 0;
    r.signal = 9; /* killed by a signal: the program's (OOM, its own kill) */
    assert_false(trial_infrastructure_failure(BACKEND_EXITED, &r));
    r.infrastructure = 1; /* a backend says the platform failed it */
    assert_true(trial_infrastructure_failure(BACKEND_EXITED, &r));
    r.stopped = 1;
    assert_false(trial_infrastructure_failure(BACKEND_EXITED, &r));
    r.stopped = 0;
    r.timed_out = 1;
    assert_false(trial_infrastructure_failure(BACKEND_EXITED, &r));
    r.timed_out = 0;
    r.result_unwritable = 1; /* disk full: retrying would fail the same way */
    assert_false(trial_infrastructure_failure(BACKEND_EXITED, &r));
    r.result_unwritable = 0;
    assert_false(trial_infrastructure_failure(BACKEND_RUNNING, &r));

    req_training_def d;
    memset(&d, 0, sizeof d);
    assert_int_equal(trial_max_retries(&d), TRIAL_MAX_RETRIES);
    assert_int_equal(trial_max_retries(NULL), TRIAL_MAX_RETRIES);
    d.retry_attempts = 1;
    assert_int_equal(trial_max_retries(&d), 1);
    d.retry_attempts = 30;
    assert_int_equal(trial_max_retries(&d), 30);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_improving), cmocka_unit_test(test_window),
        cmocka_unit_test(test_converged),     cmocka_unit_test(test_eval),
        cmocka_unit_test(test_retry_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
