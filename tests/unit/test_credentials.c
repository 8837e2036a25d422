/* credentials: the file format, its validation, the mode check, lookups, and
 * the set used as sigv4's key store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "credentials.h"
#include "sigv4.h"

#define K1 "AKIAIOSFODNN7EXAMPLE"
#define S1 "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define K2 "AKIAI44QH8DHBEXAMPLE"
#define S2 "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
#define GOOD                                                                                       \
    "{\"credentials\": [\n"                                                                        \
    "  {\"access_key_id\": \"" K1 "\", \"secret_access_key\": \"" S1 "\",\n"                       \
    "   \"account_id\": \"123456789012\"},\n"                                                      \
    "  {\"access_key_id\": \"" K2 "\", \"secret_access_key\": \"" S2 "\",\n"                       \
    "   \"account_id\": \"210987654321\"}\n"                                                       \
    "]}\n"

/* Writes `text` to a fresh temporary file with `mode`; returns its path. */
static char *temp_file(const char *text, size_t len, mode_t mode) {
    char *path = strdup("/tmp/openhpo-cred-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

static void drop(char *path) {
    unlink(path);
    free(path);
}

static void test_load_and_lookup(void **unused) {
    err_t e = {0};
    char *path = temp_file(GOOD, strlen(GOOD), 0600);
    credentials *c = credentials_load(path, &e);
    assert_non_null(c);
    assert_int_equal(credentials_count(c), 2);
    const char *secret = NULL, *account = NULL;
    assert_int_equal(credentials_lookup(c, K1, &secret, &account), ERR_OK);
    assert_string_equal(secret, S1);
    assert_string_equal(account, "123456789012");
    assert_int_equal(credentials_lookup(c, K2, &secret, &account), ERR_OK);
    assert_string_equal(secret, S2);
    assert_string_equal(account, "210987654321");
    assert_int_equal(credentials_lookup(c, K2, NULL, NULL), ERR_OK);
    assert_int_equal(credentials_lookup(c, "AKIAI44QH8DHBEXAMPLF", &secret, &account),
                     ERR_SIG_UNKNOWN_KEY);
    assert_int_equal(credentials_lookup(c, "akiaiosfodnn7example", &secret, &account),
                     ERR_SIG_UNKNOWN_KEY); /* key ids are case-sensitive */
    assert_int_equal(credentials_lookup(c, "", &secret, &account), ERR_SIG_UNKNOWN_KEY);
    assert_int_equal(credentials_lookup(c, NULL, &secret, &account), ERR_SIG_UNKNOWN_KEY);
    assert_int_equal(credentials_lookup(NULL, K1, &secret, &account), ERR_SIG_UNKNOWN_KEY);
    char longkey[300];
    memset(longkey, 'A', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_int_equal(credentials_lookup(c, longkey, &secret, &account), ERR_SIG_UNKNOWN_KEY);
    assert_int_equal(credentials_sigv4_lookup(c, K1, &secret, &account), ERR_OK);
    assert_string_equal(secret, S1);
    credentials_free(c);
    credentials_free(NULL);
    assert_int_equal(credentials_count(NULL), 0);

    /* Read-only for the owner is fine too. */
    assert_int_equal(chmod(path, 0400), 0);
    c = credentials_load(path, &e);
    assert_non_null(c);
    credentials_free(c);
    drop(path);
}

static void test_mode(void **unused) {
    static const mode_t bad[] = {0640, 0604, 0644, 0660, 0602, 0620, 0610, 0601, 0666, 0700 | 0007};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err_t e = {0};
        char *path = temp_file(GOOD, strlen(GOOD), bad[i]);
        assert_null(credentials_load(path, &e));
        assert_int_equal(e.code, ERR_FORBIDDEN);
        assert_non_null(strstr(e.msg, "chmod 600"));
        assert_non_null(strstr(e.msg, path));
        drop(path);
    }
    err_t e = {0};
    char *path = temp_file(GOOD, strlen(GOOD), 0644);
    credentials_load(path, &e);
    assert_non_null(strstr(e.msg, "mode 0644"));
    drop(path);
}

static void test_file_errors(void **unused) {
    err_t e = {0};
    assert_null(credentials_load("/nonexistent/openhpo/credentials.json", &e));
    assert_int_equal(e.code, ERR_INTERNAL);
    assert_non_null(strstr(e.msg, "No such file"));
    assert_null(credentials_load(NULL, &e));
    /* A directory. */
    char dir[] = "/tmp/openhpo-creddir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0700), 0);
    assert_null(credentials_load(dir, &e));
    assert_int_equal(e.code, ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "regular file"));
    rmdir(dir);
    /* Too big. */
    size_t n = CREDENTIALS_FILE_MAX + 10;
    char *big = malloc(n);
    memset(big, ' ', n);
    char *path = temp_file(big, n, 0600);
    assert_null(credentials_load(path, &e));
    assert_int_equal(e.code, ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "larger than"));
    drop(path);
    free(big);
    /* Not JSON: the message says where. */
    path = temp_file("{\"credentials\": [\n  {,}\n]}", 25, 0600);
    assert_null(credentials_load(path, &e));
    assert_int_equal(e.code, ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "line 2"));
    drop(path);
}

static void expect_bad(const char *json, const char *fragment) {
    err_t e = {0};
    credentials *c = credentials_parse(json, strlen(json), "test.json", &e);
    if (c)
        fail_msg("accepted: %s", json);
    assert_int_equal(e.code, ERR_VALIDATION);
    if (!strstr(e.msg, fragment))
        fail_msg("message '%s' lacks '%s'", e.msg, fragment);
    assert_non_null(strstr(e.msg, "test.json"));
}

#define ENTRY(k, s, a)                                                                             \
    "{\"access_key_id\":\"" k "\",\"secret_access_key\":\"" s "\",\"account_id\":\"" a "\"}"
#define LIST(x) "{\"credentials\":[" x "]}"

static void test_validation(void **unused) {
    err_t e = {0};
    const char *whole = LIST(ENTRY("AKIA0000000000000000", "x", "000000000000"));
    credentials *c = credentials_parse(whole, strlen(whole) - 3, "t", &e); /* cut short */
    assert_null(c);
    c = credentials_parse(whole, strlen(whole), "t", &e);
    assert_non_null(c);
    credentials_free(c);
    c = credentials_parse(GOOD, strlen(GOOD), NULL, &e);
    assert_non_null(c);
    credentials_free(c);
    /* Boundaries that pass. */
    const char *ok[] = {
        LIST(ENTRY("AKIA000000000000", "s", "000000000000")),
        LIST(ENTRY("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "!~", "999999999999")),
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        c = credentials_parse(ok[i], strlen(ok[i]), "t", &e);
        assert_non_null(c);
        credentials_free(c);
    }
    char key128[200], json[1024];
    memset(key128, 'K', 128);
    key128[128] = '\0';
    snprintf(json, sizeof json,
             LIST("{\"access_key_id\":\"%s\",\"secret_access_key\":\"s\",\"account_id\":"
                  "\"000000000000\"}"),
             key128);
    c = credentials_parse(json, strlen(json), "t", &e);
    assert_non_null(c);
    assert_int_equal(credentials_lookup(c, key128, NULL, NULL), ERR_OK);
    credentials_free(c);
    key128[128] = 'K';
    key128[129] = '\0';
    snprintf(json, sizeof json,
             LIST("{\"access_key_id\":\"%s\",\"secret_access_key\":\"s\",\"account_id\":"
                  "\"000000000000\"}"),
             key128);
    expect_bad(json, "access_key_id must be 16 to 128");

    /* Shape. */
    expect_bad("[]", "expected {\"credentials\"");
    expect_bad("{}", "expected {\"credentials\"");
    expect_bad("{\"credentials\":{}}", "expected {\"credentials\"");
    expect_bad("{\"credentials\":[],\"x\":1}", "expected {\"credentials\"");
    expect_bad(LIST(""), "1 to 10000 keys, not 0");
    expect_bad(LIST("1"), "credentials[0] is not an object");
    expect_bad(
        "{\"credentials\":[" ENTRY("AKIA000000000000", "s", "000000000000") "],"
                                                                            "\"credentials\":[]}",
        "duplicate");
    /* Fields. */
    expect_bad(LIST(ENTRY("AKIA000000000000", "s", "000000000000") ",{}"),
               "credentials[1] has no \"access_key_id\"");
    expect_bad(LIST("{\"access_key_id\":\"AKIA000000000000\",\"account_id\":\"000000000000\"}"),
               "credentials[0] has no \"secret_access_key\"");
    expect_bad(LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\"}"),
               "credentials[0] has no \"account_id\"");
    expect_bad(LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_key\":\"s\","
                    "\"account_id\":\"000000000000\"}"),
               "unknown field \"secret_key\"");
    expect_bad(LIST(ENTRY("AKIA00000000000", "s", "000000000000")), "access_key_id must be 16");
    expect_bad(LIST(ENTRY("akia000000000000", "s", "000000000000")), "A-Z and 0-9 only");
    expect_bad(LIST(ENTRY("AKIA-00000000000", "s", "000000000000")), "A-Z and 0-9 only");
    expect_bad(LIST(ENTRY("AKIA000000000000", "", "000000000000")), "secret_access_key must be");
    expect_bad(LIST(ENTRY("AKIA000000000000", "a b", "000000000000")), "without spaces");
    expect_bad(LIST(ENTRY("AKIA000000000000", "caf\\u00e9", "000000000000")), "printable ASCII");
    expect_bad(LIST(ENTRY("AKIA000000000000", "a\\u0000b", "000000000000")),
               "u0000 is not allowed");
    expect_bad(LIST(ENTRY("AKIA000000000000", "s", "00000000000")), "exactly 12 digits");
    expect_bad(LIST(ENTRY("AKIA000000000000", "s", "0000000000000")), "exactly 12 digits");
    expect_bad(LIST(ENTRY("AKIA000000000000", "s", "00000000000a")), "exactly 12 digits");
    expect_bad(LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                    "\"account_id\":123456789012}"),
               "account_id must be exactly 12 digits");
    char secret129[140];
    memset(secret129, 's', 129);
    secret129[129] = '\0';
    snprintf(json, sizeof json,
             LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"%s\","
                  "\"account_id\":\"000000000000\"}"),
             secret129);
    expect_bad(json, "secret_access_key must be 1 to 128");
    /* The same key twice. */
    expect_bad(LIST(ENTRY("AKIA000000000000", "a", "000000000000") "," ENTRY(
                   "AKIA000000000001", "b", "000000000000") "," ENTRY("AKIA000000000000", "c",
                                                                      "111111111111")),
               "AKIA000000000000 is listed twice");
    assert_null(credentials_parse(NULL, 0, "t", &e));
}

static void test_many(void **unused) {
    /* The most keys a file may hold, found by binary search. */
    size_t cap = (size_t)CREDENTIALS_MAX * 120 + 64, len = 0;
    char *json = malloc(cap);
    len += (size_t)snprintf(json + len, cap - len, "{\"credentials\":[");
    for (int i = 0; i < CREDENTIALS_MAX; i++)
        len += (size_t)snprintf(json + len, cap - len,
                                "%s{\"access_key_id\":\"AKIA%012d\",\"secret_access_key\":"
                                "\"s%d\",\"account_id\":\"%012d\"}",
                                i ? "," : "", CREDENTIALS_MAX - i, i, i);
    len += (size_t)snprintf(json + len, cap - len, "]}");
    err_t e = {0};
    credentials *c = credentials_parse(json, len, "many", &e);
    assert_non_null(c);
    assert_int_equal(credentials_count(c), CREDENTIALS_MAX);
    for (int i = 0; i < CREDENTIALS_MAX; i += 97) {
        char key[32], want[16];
        const char *secret, *account;
        snprintf(key, sizeof key, "AKIA%012d", CREDENTIALS_MAX - i);
        snprintf(want, sizeof want, "s%d", i);
        assert_int_equal(credentials_lookup(c, key, &secret, &account), ERR_OK);
        assert_string_equal(secret, want);
    }
    credentials_free(c);
    /* One more is too many. */
    len -= 2;
    len += (size_t)snprintf(json + len, cap - len,
                            ",{\"access_key_id\":\"AKIAX00000000000\",\"secret_access_key\":\"s\","
                            "\"account_id\":\"000000000000\"}]}");
    assert_null(credentials_parse(json, len, "many", &e));
    assert_non_null(strstr(e.msg, "not 10001"));
    free(json);
}

static void test_as_sigv4_store(void **unused) {
    /* A request signed with K2 verifies against the loaded file, and names
     * K2's account; an unknown key is refused. */
    err_t e = {0};
    credentials *c = credentials_parse(GOOD, strlen(GOOD), "t", &e);
    assert_non_null(c);
    const char *body = "{}";
    sigv4_header h[5] = {{"Host", "localhost:8080"},
                         {"Content-Type", "application/x-amz-json-1.1"},
                         {"X-Amz-Target", "SageMaker.ListHyperParameterTuningJobs"},
                         {"X-Amz-Date", "20240115T103000Z"}};
    char authz[SIGV4_AUTHZ_MAX];
    sigv4_request r = {"POST", "/", NULL, h, 4, body, 2};
    assert_int_equal(sigv4_sign(&r, K2, S2, "us-east-1", "sagemaker", authz, sizeof authz, &e),
                     ERR_OK);
    h[4].name = "Authorization";
    h[4].value = authz;
    r.nheaders = 5;
    static const char *const regions[] = {"us-east-1"};
    sigv4_verifier v = {"sagemaker", regions, 1, credentials_sigv4_lookup, c};
    sigv4_identity id;
    assert_int_equal(sigv4_verify(&v, &r, (time_t)1705314600, &id, &e), ERR_OK);
    assert_string_equal(id.access_key_id, K2);
    assert_string_equal(id.account_id, "210987654321");
    assert_int_equal(
        sigv4_sign(&r, "AKIAUNKNOWN00000", S2, "us-east-1", "sagemaker", authz, sizeof authz, &e),
        ERR_OK);
    assert_int_equal(sigv4_verify(&v, &r, (time_t)1705314600, &id, &e), ERR_SIG_UNKNOWN_KEY);
    credentials_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_lookup),
        cmocka_unit_test(test_mode),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_as_sigv4_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
