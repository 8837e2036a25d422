/* throttle: token-bucket arithmetic on an injected clock (values chosen to be
 * exact in binary floating point), per-key independence, LRU eviction under
 * the key cap, and concurrent use. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "throttle.h"

static void test_bucket(void **unused) {
    throttle *t = throttle_new(2, 3); /* 2 tokens/s, bursts of 3 */
    assert_non_null(t);
    /* A new key starts full: 3 now, then nothing. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(throttle_take(t, "K", 0), ERR_OK);
    assert_int_equal(throttle_take(t, "K", 0), ERR_THROTTLING);
    assert_true(throttle_wait(t, "K", 0) == 0.5);
    /* Half a second earns one token. */
    assert_int_equal(throttle_take(t, "K", 0.5), ERR_OK);
    assert_int_equal(throttle_take(t, "K", 0.5), ERR_THROTTLING);
    /* A quarter second earns half of one: not enough. */
    assert_int_equal(throttle_take(t, "K", 0.75), ERR_THROTTLING);
    assert_true(throttle_wait(t, "K", 0.75) == 0.25);
    /* The refused request took nothing: at 1.0 the token is whole. */
    assert_int_equal(throttle_take(t, "K", 1.0), ERR_OK);
    assert_true(throttle_wait(t, "K", 1.0) == 0.5);
    /* Idle for long: the bucket holds `burst`, no more. */
    assert_true(throttle_wait(t, "K", 1000) == 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(throttle_take(t, "K", 1000), ERR_OK);
    assert_int_equal(throttle_take(t, "K", 1000), ERR_THROTTLING);
    /* Steady state: exactly `rate` a second get through. */
    int ok = 0;
    for (int step = 1; step <= 400; step++) /* 100 s in 1/4 s steps, 4 tries each */
        for (int k = 0; k < 4; k++)
            ok += throttle_take(t, "K", 1000 + step * 0.25) == ERR_OK;
    assert_int_equal(ok, 200);
    throttle_free(t);
}

static void test_keys_independent(void **unused) {
    throttle *t = throttle_new(1, 2);
    assert_int_equal(throttle_take(t, "A", 10), ERR_OK);
    assert_int_equal(throttle_take(t, "A", 10), ERR_OK);
    assert_int_equal(throttle_take(t, "A", 10), ERR_THROTTLING);
    assert_int_equal(throttle_take(t, "B", 10), ERR_OK);
    assert_int_equal(throttle_take(t, "B", 10), ERR_OK);
    assert_int_equal(throttle_take(t, "B", 10), ERR_THROTTLING);
    assert_int_equal(throttle_take(t, "AB", 10), ERR_OK);
    assert_int_equal(throttle_size(t), 3);
    /* NULL is the key "". */
    assert_int_equal(throttle_take(t, NULL, 10), ERR_OK);
    assert_int_equal(throttle_take(t, "", 10), ERR_OK);
    assert_int_equal(throttle_take(t, NULL, 10), ERR_THROTTLING);
    assert_int_equal(throttle_size(t), 4);
    throttle_free(t);
}

static void test_clock(void **unused) {
    throttle *t = throttle_new(4, 1);
    assert_int_equal(throttle_take(t, "K", 10), ERR_OK);
    /* A clock stepping back earns nothing, and does not move the bucket's
     * time back (which would credit the same interval twice). */
    assert_int_equal(throttle_take(t, "K", 5), ERR_THROTTLING);
    assert_int_equal(throttle_take(t, "K", 10.125), ERR_THROTTLING);
    assert_int_equal(throttle_take(t, "K", 10.25), ERR_OK);
    /* NaN and infinity refill nothing. */
    assert_int_equal(throttle_take(t, "K", NAN), ERR_THROTTLING);
    assert_int_equal(throttle_take(t, "K", INFINITY), ERR_THROTTLING);
    assert_int_equal(throttle_take(t, "K", 10.5), ERR_OK);
    throttle_free(t);
}

static void test_lru(void **unused) {
    throttle *t = throttle_new_capped(1, 1, 3);
    assert_non_null(t);
    assert_int_equal(throttle_take(t, "a", 0), ERR_OK);
    assert_int_equal(throttle_take(t, "b", 0), ERR_OK);
    assert_int_equal(throttle_take(t, "c", 0), ERR_OK);
    assert_int_equal(throttle_size(t), 3);
    /* Use a again: b is now the least recently used. */
    assert_int_equal(throttle_take(t, "a", 0), ERR_THROTTLING);
    assert_int_equal(throttle_take(t, "d", 0), ERR_OK); /* evicts b */
    assert_int_equal(throttle_size(t), 3);
    assert_int_equal(throttle_take(t, "a", 0), ERR_THROTTLING); /* still tracked */
    assert_int_equal(throttle_take(t, "d", 0), ERR_THROTTLING);
    assert_int_equal(throttle_take(t, "b", 0), ERR_OK); /* forgotten: full again; evicts c */
    assert_int_equal(throttle_take(t, "b", 0), ERR_THROTTLING);
    assert_int_equal(throttle_take(t, "c", 0), ERR_OK); /* evicts a */
    assert_int_equal(throttle_take(t, "d", 0), ERR_THROTTLING);
    assert_int_equal(throttle_take(t, "a", 0), ERR_OK);
    assert_int_equal(throttle_size(t), 3);
    throttle_free(t);

    /* Churn through many keys: exactly the most recent `max` stay tracked. */
    enum { MAX = 1000, KEYS = 25000 };
    t = throttle_new_capped(1e-9, 1, MAX);
    char key[32];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "AKIA%012d", i);
        assert_int_equal(throttle_take(t, key, 0), ERR_OK);
    }
    assert_int_equal(throttle_size(t), MAX);
    for (int i = KEYS - 1; i >= KEYS - MAX; i--) { /* newest first: no eviction among them */
        snprintf(key, sizeof key, "AKIA%012d", i);
        assert_int_equal(throttle_take(t, key, 0), ERR_THROTTLING);
    }
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "AKIA%012d", i * 17);
        assert_int_equal(throttle_take(t, key, 0), ERR_OK);
    }
    throttle_free(t);
}

static void test_long_keys(void **unused) {
    char a[300], b[300];
    memset(a, 'K', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof b);
    b[200] = 'X'; /* differs after THROTTLE_KEY_MAX bytes: the same bucket */
    throttle *t = throttle_new(1, 1);
    assert_int_equal(throttle_take(t, a, 0), ERR_OK);
    assert_int_equal(throttle_take(t, b, 0), ERR_THROTTLING);
    b[100] = 'X'; /* within the first 128: another bucket */
    assert_int_equal(throttle_take(t, b, 0), ERR_OK);
    /* A key that is a prefix of a tracked one is another key. */
    a[50] = '\0';
    assert_int_equal(throttle_take(t, a, 0), ERR_OK);
    throttle_free(t);
}

static void test_bad_arguments(void **unused) {
    assert_null(throttle_new(0, 1));
    assert_null(throttle_new(-1, 1));
    assert_null(throttle_new(NAN, 1));
    assert_null(throttle_new(INFINITY, 1));
    assert_null(throttle_new(1, 0.5));
    assert_null(throttle_new(1, NAN));
    assert_null(throttle_new(1, INFINITY));
    assert_null(throttle_new_capped(1, 1, 0));
    assert_null(throttle_new_capped(1, 1, ((size_t)1 << 24) + 1));
    throttle_free(NULL);
    assert_int_equal(throttle_take(NULL, "K", 0), ERR_THROTTLING);
    assert_int_equal(throttle_size(NULL), 0);
    assert_true(throttle_wait(NULL, "K", 0) == 0);
    /* A fractional burst above 1 rounds nothing: 1.5 tokens allow one take. */
    throttle *t = throttle_new(1, 1.5);
    assert_int_equal(throttle_take(t, "K", 0), ERR_OK);
    assert_int_equal(throttle_take(t, "K", 0), ERR_THROTTLING);
    assert_int_equal(throttle_take(t, "K", 0.5), ERR_OK);
    throttle_free(t);
}

enum { THREADS = 4, TRIES = 20000, BURST = 5000 };

static void *hammer(void *arg) {
    throttle *t = arg;
    intptr_t ok = 0;
    char key[16];
    for (int i = 0; i < TRIES; i++) {
        ok += throttle_take(t, "shared", 0) == ERR_OK;
        snprintf(key, sizeof key, "k%d", i % 300); /* churn the LRU concurrently */
        throttle_take(t, key, 0);
    }
    return (void *)ok;
}

static void test_threads(void **unused) {
    throttle *t = throttle_new_capped(1, BURST, 64);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, t), 0);
    intptr_t total = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        assert_int_equal(pthread_join(th[i], &r), 0);
        total += (intptr_t)r;
    }
    /* "shared" is used every other call, so it is never the LRU victim. */
    assert_int_equal(total, BURST);
    assert_int_equal(throttle_size(t), 64);
    throttle_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket),    cmocka_unit_test(test_keys_independent),
        cmocka_unit_test(test_clock),     cmocka_unit_test(test_lru),
        cmocka_unit_test(test_long_keys), cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
