#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "space.h"
#include "strategy.h"

static space *mk(const char *js) {
    json_error_t je;
    json_t *j = json_loads(js, 0, &je);
    assert_non_null(j);
    err_t e = {0};
    space *sp = space_from_json(j, &e);
    json_decref(j);
    return sp;
}

static void test_roundtrip(void **unused) {
    space *sp = mk("{\"ContinuousParameterRanges\":[{\"Name\":\"lr\",\"MinValue\":\"0.0001\","
                   "\"MaxValue\":\"1\",\"Type\":\"Continuous\"}],"
                   "\"IntegerParameterRanges\":[{\"Name\":\"n\",\"MinValue\":\"1\","
                   "\"MaxValue\":\"10\",\"Type\":\"Integer\"}],"
                   "\"CategoricalParameterRanges\":[{\"Name\":\"k\",\"Values\":[\"a\",\"b\","
                   "\"c\"],\"Type\":\"Categorical\"}]}");
    assert_non_null(sp);
    assert_int_equal(sp->n, 3);
    assert_int_equal(sp->p[0].scale, SCALE_LOG); /* Auto: 4 decades */
    for (int t = 0; t < 200; t++) {
        double u[3] = {t / 199.0, fmod(t * 0.37, 1.0), fmod(t * 0.71, 1.0)}, cfg[3], u2[3], cfg2[3],
               back[3];
        space_from_unit(sp, u, cfg);
        assert_true(cfg[0] >= 1e-4 && cfg[0] <= 1);
        assert_true(cfg[1] == floor(cfg[1]) && cfg[1] >= 1 && cfg[1] <= 10);
        space_to_unit(sp, cfg, u2);
        space_from_unit(sp, u2, cfg2);
        assert_memory_equal(cfg, cfg2, sizeof cfg);
        json_t *hp = json_object();
        assert_int_equal(space_format(sp, cfg, hp), 0);
        assert_int_equal(space_parse(sp, hp, back), 0);
        assert_memory_equal(cfg, back, sizeof cfg);
        json_decref(hp);
    }
    space_free(sp);
}

static void test_bad(void **unused) {
    assert_null(mk("{\"IntegerParameterRanges\":[{\"Name\":\"n\",\"MinValue\":\"1.5\","
                   "\"MaxValue\":\"10\"}]}"));
    assert_null(mk("{\"IntegerParameterRanges\":[{\"Name\":\"n\",\"MinValue\":\"5\","
                   "\"MaxValue\":\"1\"}]}"));
    assert_null(mk("{\"ContinuousParameterRanges\":[{\"Name\":\"n\",\"MinValue\":\"x\","
                   "\"MaxValue\":\"1\"}]}"));
    assert_null(mk("{\"ContinuousParameterRanges\":[{\"Name\":\"n\",\"MinValue\":\"0\","
                   "\"MaxValue\":\"1\"}],\"CategoricalParameterRanges\":[{\"Name\":\"n\","
                   "\"Values\":[\"a\"]}]}"));
}

static void test_random_deterministic(void **unused) {
    space *sp = mk("{\"ContinuousParameterRanges\":[{\"Name\":\"x\",\"MinValue\":\"-5\","
                   "\"MaxValue\":\"5\"}]}");
    err_t e;
    strategy *a = strategy_new("Random", sp, 42, NULL, 0, &e),
             *b = strategy_new("Random", sp, 42, NULL, 0, &e);
    double sum = 0;
    for (int i = 0; i < 1000; i++) {
        double x, y;
        assert_int_equal(strategy_suggest(a, i, NULL, 0, NULL, 0, &x, &e), 0);
        assert_int_equal(strategy_suggest(b, i, NULL, 0, NULL, 0, &y, &e), 0);
        assert_true(x == y && x >= -5 && x <= 5);
        sum += x;
    }
    assert_true(fabs(sum / 1000) < 0.5); /* uniform on [-5,5]: mean 0, sd of mean ~0.09 */
    assert_null(strategy_new("Grid", sp, 1, NULL, 0, &e));
    strategy_free(a);
    strategy_free(b);
    space_free(sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_random_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
