/* status: the job state tables — texts round-trip, the final/stoppable
 * columns, and the legal moves (exactly the ones the table lists). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "status.h"

static void test_tuning_texts(void **unused) {
    for (int s = 0; s < TUNING__COUNT; s++) {
        tuning_status back = TUNING__COUNT;
        assert_true(tuning_status_text(s)[0]);
        assert_int_equal(tuning_status_parse(tuning_status_text(s), &back), 0);
        assert_int_equal(back, s);
    }
    tuning_status keep = TUNING_RUNNING;
    assert_int_equal(tuning_status_parse("running", &keep), -1); /* exact text only */
    assert_int_equal(tuning_status_parse("InProgress", &keep), -1);
    assert_int_equal(keep, TUNING_RUNNING);
    assert_string_equal(tuning_status_text(TUNING__COUNT), "");
    assert_string_equal(tuning_status_text((tuning_status)-1), "");
    /* The current API shows Created and Running as InProgress. */
    assert_string_equal(tuning_status_current(TUNING_CREATED), "InProgress");
    assert_string_equal(tuning_status_current(TUNING_RUNNING), "InProgress");
    assert_string_equal(tuning_status_2017(TUNING_RUNNING), "Running");
    assert_string_equal(tuning_status_current(TUNING_STOPPED), "Stopped");
}

static void test_training_texts(void **unused) {
    for (int s = 0; s < TRAINING__COUNT; s++) {
        training_status back = TRAINING__COUNT;
        assert_int_equal(training_status_parse(training_status_text(s), &back), 0);
        assert_int_equal(back, s);
        assert_string_equal(training_status_2017(s), training_status_current(s));
    }
    training_status keep = TRAINING_FAILED;
    assert_int_equal(training_status_parse("Running", &keep), -1);
    assert_int_equal(training_status_parse("", &keep), -1);
    assert_int_equal(keep, TRAINING_FAILED);
}

static void test_final_and_stoppable(void **unused) {
    assert_false(tuning_status_final(TUNING_CREATED));
    assert_false(tuning_status_final(TUNING_RUNNING));
    assert_false(tuning_status_final(TUNING_STOPPING));
    assert_true(tuning_status_final(TUNING_COMPLETED));
    assert_true(tuning_status_final(TUNING_FAILED));
    assert_true(tuning_status_final(TUNING_STOPPED));
    assert_true(tuning_status_final(TUNING_DELETING));
    assert_true(tuning_status_final(TUNING_DELETE_FAILED));
    for (int s = 0; s < TUNING__COUNT; s++) /* stoppable = not final */
        assert_int_equal(tuning_status_stoppable(s), !tuning_status_final(s));
    assert_false(training_status_final(TRAINING_IN_PROGRESS));
    assert_false(training_status_final(TRAINING_STOPPING));
    assert_true(training_status_final(TRAINING_COMPLETED));
    assert_true(training_status_stoppable(TRAINING_IN_PROGRESS));
    assert_false(training_status_stoppable(TRAINING_STOPPING)); /* already stopping */
    assert_false(training_status_stoppable(TRAINING_STOPPED));
}

/* Every move the table lists is legal, every other one is not (a state may
 * "become" itself). */
static void test_moves(void **unused) {
    int tun[TUNING__COUNT][TUNING__COUNT] = {{0}};
#define X(f, t) tun[f][t] = 1;
    TUNING_MOVES(X)
#undef X
    int legal = 0;
    for (int f = 0; f < TUNING__COUNT; f++)
        for (int t = 0; t < TUNING__COUNT; t++) {
            assert_int_equal(tuning_status_can_move(f, t), f == t || tun[f][t]);
            legal += f != t && tuning_status_can_move(f, t);
        }
    assert_int_equal(legal, 13);
    /* Nothing leaves a final state but towards deletion: never back to
     * work, and only a final job may be deleted. */
    for (int f = 0; f < TUNING__COUNT; f++)
        for (int t = 0; t < TUNING__COUNT; t++) {
            if (tuning_status_final(f) && f != t)
                assert_int_equal(tuning_status_can_move(f, t),
                                 t == TUNING_DELETING ||
                                     (f == TUNING_DELETING && t == TUNING_DELETE_FAILED));
            if (t == TUNING_DELETING && f != t && tuning_status_can_move(f, t))
                assert_true(tuning_status_final(f));
        }
    assert_false(tuning_status_can_move(TUNING_RUNNING, TUNING_DELETING));
    assert_false(tuning_status_can_move(TUNING_STOPPING, TUNING_DELETING));
    assert_false(tuning_status_can_move(TUNING_DELETING, TUNING_COMPLETED));
    assert_false(tuning_status_can_move(TUNING_DELETE_FAILED, TUNING_COMPLETED));
    /* Deletable: Completed, Failed, Stopped, DeleteFailed (a retry). */
    for (int s = 0; s < TUNING__COUNT; s++)
        assert_int_equal(tuning_status_deletable(s), s == TUNING_COMPLETED || s == TUNING_FAILED ||
                                                         s == TUNING_STOPPED ||
                                                         s == TUNING_DELETE_FAILED);
    assert_string_equal(tuning_status_current(TUNING_DELETING), "Deleting");
    assert_string_equal(tuning_status_current(TUNING_DELETE_FAILED), "DeleteFailed");
    tuning_status d = TUNING_RUNNING;
    assert_int_equal(tuning_status_parse("DeleteFailed", &d), 0);
    assert_int_equal(d, TUNING_DELETE_FAILED);
    assert_false(tuning_status_can_move(TUNING_RUNNING, TUNING_STOPPED)); /* via Stopping */
    assert_false(tuning_status_can_move(TUNING_STOPPING, TUNING_COMPLETED));
    assert_false(tuning_status_can_move(TUNING_RUNNING, TUNING_CREATED));

    int tr[TRAINING__COUNT][TRAINING__COUNT] = {{0}};
#define X(f, t) tr[f][t] = 1;
    TRAINING_MOVES(X)
#undef X
    for (int f = 0; f < TRAINING__COUNT; f++)
        for (int t = 0; t < TRAINING__COUNT; t++) {
            assert_int_equal(training_status_can_move(f, t), f == t || tr[f][t]);
            if (training_status_final(f) && f != t)
                assert_false(training_status_can_move(f, t));
        }
    assert_false(training_status_can_move(TRAINING_STOPPING, TRAINING_IN_PROGRESS));
    assert_true(training_status_can_move(TRAINING_STOPPING, TRAINING_COMPLETED));
    /* Out of range: never. */
    assert_false(training_status_can_move(TRAINING__COUNT, TRAINING_COMPLETED));
    assert_false(tuning_status_can_move(TUNING_RUNNING, TUNING__COUNT));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tuning_texts),
        cmocka_unit_test(test_training_texts),
        cmocka_unit_test(test_final_and_stoppable),
        cmocka_unit_test(test_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
