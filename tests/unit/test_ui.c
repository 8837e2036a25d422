/* ui: the dashboard's session cookie signer and CSRF token (ui_session),
 * checked against HMAC-SHA256 vectors computed with Python's hmac module,
 * every one-character tampering, expiry and foreign keys; and the
 * hyperparameter importances (ui_importances) on functions whose answer is
 * known: one parameter that matters, a categorical one, invariance under
 * monotone transforms, missing values, too little data. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ui_data.h"
#include "ui_session.h"

#define ACCOUNT "123456789012"
#define KEY "AKIAOPENHPOTESTKEYAA"
#define EXPIRY 1700000000
/* python3: hmac.new(bytes(range(1, 33)), b"v1|123456789012|AKIAOPENHPOTESTKEYAA|1700000000",
 * hashlib.sha256).hexdigest(), and the CSRF token: the same key over "csrf|" + that. */
#define MAC "7a7704074e2df15e2b5d87f3e3cfc2e0d581c790421b6fbb2dafa30708c33af0"
#define CSRF "e6930918e85c956f2be4a2b08a658a6bd5dda77933bf1aee7d5a78be2b736b65"

static unsigned char key1[UI_SESSION_KEY_BYTES];

static ui_session *signer(void) {
    for (int i = 0; i < UI_SESSION_KEY_BYTES; i++)
        key1[i] = (unsigned char)(i + 1);
    ui_session *s = ui_session_new(key1);
    assert_non_null(s);
    return s;
}

static void test_cookie_vector(void **state) {
    ui_session *s = signer();
    char v[UI_SESSION_VALUE_MAX], acct[UI_SESSION_ACCOUNT_MAX], key[UI_SESSION_ACCESS_KEY_MAX];
    char csrf[UI_SESSION_CSRF_MAX];
    assert_int_equal(ui_session_sign(s, ACCOUNT, KEY, EXPIRY, v), 0);
    assert_string_equal(v, "v1." ACCOUNT ".1700000000." KEY "." MAC);
    assert_int_equal(ui_session_verify(s, v, EXPIRY - 10, acct, key), 0);
    assert_string_equal(acct, ACCOUNT);
    assert_string_equal(key, KEY);
    /* Valid up to and including its expiry second, not after. */
    assert_int_equal(ui_session_verify(s, v, EXPIRY, acct, key), 0);
    assert_int_equal(ui_session_verify(s, v, EXPIRY + 1, acct, key), -1);
    assert_int_equal(ui_session_csrf(s, v, csrf), 0);
    assert_string_equal(csrf, CSRF);
    ui_session_free(s);
}

static void test_cookie_tampered(void **state) {
    ui_session *s = signer();
    char v[UI_SESSION_VALUE_MAX], bad[UI_SESSION_VALUE_MAX], acct[UI_SESSION_ACCOUNT_MAX],
        key[UI_SESSION_ACCESS_KEY_MAX];
    assert_int_equal(ui_session_sign(s, ACCOUNT, KEY, EXPIRY, v), 0);
    size_t n = strlen(v);
    /* Every character changed, one at a time, to every other of a set. */
    static const char alt[] = "0123456789abcdefAZ.x";
    for (size_t i = 0; i < n; i++)
        for (const char *c = alt; *c; c++) {
            if (*c == v[i])
                continue;
            memcpy(bad, v, n + 1);
            bad[i] = *c;
            assert_int_equal(ui_session_verify(s, bad, EXPIRY - 10, acct, key), -1);
        }
    /* Cut, extended, empty, NULL. */
    memcpy(bad, v, n + 1);
    bad[n - 1] = 0;
    assert_int_equal(ui_session_verify(s, bad, 0, acct, key), -1);
    snprintf(bad, sizeof bad, "%s0", v);
    assert_int_equal(ui_session_verify(s, bad, 0, acct, key), -1);
    assert_int_equal(ui_session_verify(s, "", 0, acct, key), -1);
    assert_int_equal(ui_session_verify(s, NULL, 0, acct, key), -1);
    /* Another daemon's key (a restart) does not accept it. */
    ui_session *other = ui_session_new(NULL);
    assert_non_null(other);
    assert_int_equal(ui_session_verify(other, v, EXPIRY - 10, acct, key), -1);
    char c1[UI_SESSION_CSRF_MAX], c2[UI_SESSION_CSRF_MAX];
    assert_int_equal(ui_session_csrf(other, v, c2), 0);
    assert_int_equal(ui_session_csrf(s, v, c1), 0);
    assert_string_not_equal(c1, c2);
    ui_session_free(other);
    ui_session_free(s);
}

static void test_cookie_refuses_bad_input(void **state) {
    ui_session *s = signer();
    char v[UI_SESSION_VALUE_MAX], w[UI_SESSION_VALUE_MAX];
    char long_key[UI_SESSION_ACCESS_KEY_MAX + 1];
    memset(long_key, 'A', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    assert_int_equal(ui_session_sign(s, "12345678901", KEY, EXPIRY, v), -1);  /* 11 digits */
    assert_int_equal(ui_session_sign(s, "12345678901a", KEY, EXPIRY, v), -1); /* a letter */
    assert_int_equal(ui_session_sign(s, ACCOUNT, "AKIA.X", EXPIRY, v), -1);   /* a dot */
    assert_int_equal(ui_session_sign(s, ACCOUNT, "akiaopenhpo", EXPIRY, v), -1);
    assert_int_equal(ui_session_sign(s, ACCOUNT, "", EXPIRY, v), -1);
    assert_int_equal(ui_session_sign(s, ACCOUNT, long_key, EXPIRY, v), -1);
    assert_int_equal(ui_session_sign(s, ACCOUNT, KEY, 0, v), -1);
    /* The longest key fits in a cookie and a header. */
    long_key[UI_SESSION_ACCESS_KEY_MAX - 1] = 0;
    assert_int_equal(ui_session_sign(s, ACCOUNT, long_key, EXPIRY, v), 0);
    char acct[UI_SESSION_ACCOUNT_MAX], key[UI_SESSION_ACCESS_KEY_MAX];
    assert_int_equal(ui_session_verify(s, v, EXPIRY, acct, key), 0);
    assert_string_equal(key, long_key);
    /* Two sessions, two tokens. */
    char c1[UI_SESSION_CSRF_MAX], c2[UI_SESSION_CSRF_MAX];
    assert_int_equal(ui_session_sign(s, ACCOUNT, KEY, EXPIRY + 1, w), 0);
    assert_int_equal(ui_session_csrf(s, v, c1), 0);
    assert_int_equal(ui_session_csrf(s, w, c2), 0);
    assert_string_not_equal(c1, c2);
    assert_int_equal(strlen(c1), UI_SESSION_MAC_HEX);
    ui_session_free(s);
    ui_session_free(NULL);
}

static void test_equal(void **state) {
    assert_int_equal(ui_session_equal("abc", "abc"), 1);
    assert_int_equal(ui_session_equal("abc", "abd"), 0);
    assert_int_equal(ui_session_equal("abc", "abcd"), 0);
    assert_int_equal(ui_session_equal("", ""), 1);
    assert_int_equal(ui_session_equal(NULL, "a"), 0);
    assert_int_equal(ui_session_equal("a", NULL), 0);
}

/* ---- importances ---- */

static uint64_t lcg_state;
static double uniform(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) / 9007199254740992.0;
}

#define N 200
#define P 3

/* x: numeric x0, x1 in [0.001, 1), categorical x2 of 4 values. */
static void fill(double *x, size_t n) {
    lcg_state = 42;
    for (size_t i = 0; i < n; i++) {
        x[i * P + 0] = 0.001 + uniform();
        x[i * P + 1] = 0.001 + uniform();
        x[i * P + 2] = (double)(int)(uniform() * 4);
    }
}

static const size_t levels[P] = {0, 0, 4};

static void test_importance_one_numeric(void **state) {
    double x[N * P], y[N], imp[P];
    fill(x, N);
    for (size_t i = 0; i < N; i++)
        y[i] = (x[i * P] - 0.3) * (x[i * P] - 0.3) + 0.01 * uniform();
    assert_int_equal(ui_importances(N, P, x, levels, y, imp), 1);
    assert_true(imp[0] > 0.9);
    assert_true(fabs(imp[0] + imp[1] + imp[2] - 1) < 1e-12);
    /* Invariant under monotone transforms of a parameter (log scale) and of
     * the objective (its ranks are what count). */
    double x2[N * P], y2[N], imp2[P];
    for (size_t i = 0; i < N; i++) {
        x2[i * P] = log(x[i * P]);
        x2[i * P + 1] = -1.0 / x[i * P + 1];
        x2[i * P + 2] = x[i * P + 2];
        y2[i] = exp(3 * y[i]) - 7;
    }
    assert_int_equal(ui_importances(N, P, x2, levels, y2, imp2), 1);
    for (int j = 0; j < P; j++)
        assert_true(fabs(imp[j] - imp2[j]) < 1e-12);
    /* Maximize or Minimize: the same shares. */
    for (size_t i = 0; i < N; i++)
        y2[i] = -y[i];
    assert_int_equal(ui_importances(N, P, x, levels, y2, imp2), 1);
    for (int j = 0; j < P; j++)
        assert_true(fabs(imp[j] - imp2[j]) < 1e-9);
}

static void test_importance_categorical_and_two(void **state) {
    double x[N * P], y[N], imp[P];
    fill(x, N);
    static const double effect[4] = {0, 3, 1, 2};
    for (size_t i = 0; i < N; i++)
        y[i] = effect[(int)x[i * P + 2]] + 0.3 * x[i * P + 1] + 0.05 * uniform();
    assert_int_equal(ui_importances(N, P, x, levels, y, imp), 1);
    assert_true(imp[2] > imp[1]);
    assert_true(imp[1] > imp[0]);
    assert_true(imp[2] > 0.7);
    assert_true(fabs(imp[0] + imp[1] + imp[2] - 1) < 1e-12);
}

static void test_importance_missing_and_edges(void **state) {
    double x[N * P], y[N], imp[P];
    fill(x, N);
    for (size_t i = 0; i < N; i++)
        y[i] = x[i * P + 1];
    /* Some jobs lack a value (NaN): left out of that parameter's groups. */
    for (size_t i = 0; i < N; i += 7)
        x[i * P + 1] = NAN;
    x[5 * P + 2] = 9; /* out of the categorical's values: left out too */
    assert_int_equal(ui_importances(N, P, x, levels, y, imp), 1);
    assert_true(imp[1] > 0.9);
    /* Too few jobs, no spread: nothing, all zero. */
    assert_int_equal(ui_importances(2, P, x, levels, y, imp), 0);
    assert_true(imp[0] == 0 && imp[1] == 0 && imp[2] == 0);
    for (size_t i = 0; i < N; i++)
        y[i] = 4.0;
    assert_int_equal(ui_importances(N, P, x, levels, y, imp), 0);
    assert_true(imp[0] == 0 && imp[1] == 0 && imp[2] == 0);
    assert_int_equal(ui_importances(N, 0, x, levels, y, imp), 0);
}

static void test_utf8_seq(void **state) {
    assert_int_equal(ui_utf8_seq("a", 1), 1);
    assert_int_equal(ui_utf8_seq("\xc3\xa9", 2), 2);         /* e acute */
    assert_int_equal(ui_utf8_seq("\xe2\x82\xac", 3), 3);     /* euro */
    assert_int_equal(ui_utf8_seq("\xf0\x9f\x98\x80", 4), 4); /* emoji */
    assert_int_equal(ui_utf8_seq("\xe2\x82\xac", 2), 0);     /* cut */
    assert_int_equal(ui_utf8_seq("\xc0\xaf", 2), 0);         /* overlong '/' */
    assert_int_equal(ui_utf8_seq("\xe0\x80\xaf", 3), 0);     /* overlong */
    assert_int_equal(ui_utf8_seq("\xed\xa0\x80", 3), 0);     /* a surrogate */
    assert_int_equal(ui_utf8_seq("\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
    assert_int_equal(ui_utf8_seq("\x80", 1), 0);             /* a stray continuation */
    assert_int_equal(ui_utf8_seq("\xff", 1), 0);
    assert_int_equal(ui_utf8_seq("", 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_vector),
        cmocka_unit_test(test_cookie_tampered),
        cmocka_unit_test(test_cookie_refuses_bad_input),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_importance_one_numeric),
        cmocka_unit_test(test_importance_categorical_and_two),
        cmocka_unit_test(test_importance_missing_and_edges),
        cmocka_unit_test(test_utf8_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
