/* logjson: hpod --log-format json's lines — one JSON object per line with
 * time, level, msg and the line's fields, whatever bytes the message holds
 * (quotes, control characters, text that is not UTF-8); util's log_sink
 * gets the fields of log_fields apart; logjson_write writes one line to
 * stderr per call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>

#include "logjson.h"
#include "util.h"

static json_t *parse(const char *line) {
    json_error_t je;
    assert_null(strchr(line, '\n')); /* one line */
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fail_msg("not JSON (%s): %s", je.text, line);
    assert_true(json_is_object(j));
    return j;
}

static void test_fields_and_order(void **unused) {
    log_kv f[] = {{"method", "POST", 0},
                  {"status", NULL, 404},
                  {"ms", NULL, 1.25},
                  {"msg", "dropped: reserved", 0},
                  {"nan", NULL, NAN}};
    char *line = logjson_format(1796186361.0425, "warn", "http: POST /x", f, 5);
    assert_non_null(line);
    json_t *j = parse(line);
    assert_string_equal(json_string_value(json_object_get(j, "time")), "2026-12-02T04:39:21.042Z");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "http: POST /x");
    assert_string_equal(json_string_value(json_object_get(j, "method")), "POST");
    assert_true(json_is_integer(json_object_get(j, "status")));
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 404);
    assert_true(json_real_value(json_object_get(j, "ms")) == 1.25);
    assert_true(json_is_null(json_object_get(j, "nan")));
    assert_int_equal(json_object_size(j), 7); /* "msg" given twice: kept once */
    /* time, level, msg first, then the fields in order. */
    assert_non_null(strstr(line, "{\"time\":"));
    assert_true(strstr(line, "\"level\"") < strstr(line, "\"msg\""));
    assert_true(strstr(line, "\"method\"") < strstr(line, "\"status\""));
    json_decref(j);
    free(line);
}

static void test_escaping_and_bad_utf8(void **unused) {
    /* Quotes, backslashes, newlines, control bytes, valid UTF-8 kept, and
     * bytes that are not UTF-8 (a lone continuation, an overlong NUL, a
     * surrogate, a cut sequence) each become U+FFFD. */
    const char *msg = "a\"b\\c\nd\te\x01 caf\xc3\xa9 \x80 \xc0\x80 \xed\xa0\x80 \xe2\x82";
    log_kv f[] = {{"path", "/\xff\"x", 0}};
    char *line = logjson_format(0, "info", msg, f, 1);
    assert_non_null(line);
    json_t *j = parse(line);
    const char *got = json_string_value(json_object_get(j, "msg"));
    assert_non_null(got);
    assert_string_equal(got, "a\"b\\c\nd\te\x01 caf\xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
                             "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(j, "path")), "/\xef\xbf\xbd\"x");
    assert_string_equal(json_string_value(json_object_get(j, "time")), "1970-01-01T00:00:00.000Z");
    json_decref(j);
    free(line);
}

/* util's log_sink: what log_fields and log_msg hand it. */
static char sunk_level[16], sunk_msg[LOG_LINE_MAX];
static size_t sunk_n;
static char sunk_key[8][32];
static void capture(const char *level, const char *msg, const log_kv *f, size_t nf) {
    snprintf(sunk_level, sizeof sunk_level, "%s", level);
    snprintf(sunk_msg, sizeof sunk_msg, "%s", msg);
    sunk_n = nf;
    for (size_t i = 0; i < nf && i < 8; i++)
        snprintf(sunk_key[i], sizeof sunk_key[i], "%s", f[i].key);
}

static void test_sink(void **unused) {
    log_sink = capture;
    log_kv f[] = {{"a", "1", 0}, {"b", NULL, 2}};
    log_fields("info", f, 2, "x=%d", 7);
    assert_string_equal(sunk_level, "info");
    assert_string_equal(sunk_msg, "x=7");
    assert_int_equal(sunk_n, 2);
    assert_string_equal(sunk_key[1], "b");
    log_warn("plain %s", "line");
    assert_string_equal(sunk_level, "warn");
    assert_string_equal(sunk_msg, "plain line");
    assert_int_equal(sunk_n, 0);
    /* A message is capped, never overflows. */
    char big[LOG_LINE_MAX * 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    log_info("%s", big);
    assert_int_equal(strlen(sunk_msg), LOG_LINE_MAX - 1);
    log_sink = NULL;
}

/* logjson_write: each call is one complete line on stderr. */
static void test_write_lines(void **unused) {
    int p[2], saved = dup(STDERR_FILENO);
    assert_int_equal(pipe(p), 0);
    assert_true(dup2(p[1], STDERR_FILENO) >= 0);
    log_sink = logjson_write;
    log_kv f[] = {{"request_id", "r-1", 0}};
    log_fields("info", f, 1, "first \"one\"");
    log_error("second\nline");
    log_sink = NULL;
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(p[1]);
    char buf[4096];
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    assert_true(n > 0);
    buf[n] = 0;
    char *save = NULL, *l1 = strtok_r(buf, "\n", &save), *l2 = strtok_r(NULL, "\n", &save);
    assert_non_null(l1);
    assert_non_null(l2);
    assert_null(strtok_r(NULL, "\n", &save));
    json_t *a = parse(l1), *b = parse(l2);
    assert_string_equal(json_string_value(json_object_get(a, "msg")), "first \"one\"");
    assert_string_equal(json_string_value(json_object_get(a, "request_id")), "r-1");
    assert_string_equal(json_string_value(json_object_get(b, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(b, "msg")), "second\nline");
    json_decref(a);
    json_decref(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_and_order),
        cmocka_unit_test(test_escaping_and_bad_utf8),
        cmocka_unit_test(test_sink),
        cmocka_unit_test(test_write_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
