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

/* No 4-character run of `secret` appears in `msg`. */
static void assert_no_secret(const char *msg, const char *secret) {
    size_t n = strlen(secret);
    for (size_t i = 0; i + 4 <= n; i++) {
        char part[5];
        memcpy(part, secret + i, 4);
        part[4] = 0;
        if (strstr(msg, part))
            fail_msg("message '%s' holds '%s' of the secret", msg, part);
    }
}

/* Parses `json` (expected to fail) and checks the message. */
static void expect_secret_safe(const char *json, size_t len, const char *secret,
                               const char *fragment) {
    err_t e = {0};
    credentials *c = credentials_parse(json, len, "sec.json", &e);
    if (c)
        fail_msg("accepted: %s", json);
    assert_int_equal(e.code, ERR_VALIDATION);
    assert_no_secret(e.msg, secret);
    if (fragment && !strstr(e.msg, fragment))
        fail_msg("message '%s' lacks '%s'", e.msg, fragment);
}

static void test_no_secret_in_errors(void **unused) {
    const char *sec = "wJalrXUtnFEMIK7MDENGbPxRfiCYzzKEY";
    char json[2048];
    /* A raw control character inside the secret (the reported leak). */
    snprintf(json, sizeof json,
             "{\"credentials\":[{\"access_key_id\":\"AKIA000000000000\",\n"
             "\"secret_access_key\":\"wJalrXUtnF\x01"
             "EMIK7MDENGbPxRfiCYzzKEY\",\n"
             "\"account_id\":\"000000000000\"}]}");
    expect_secret_safe(json, strlen(json), sec, "line 2, column");
    expect_secret_safe(json, strlen(json), sec, "control character (0x01)");
    /* A tab is allowed between tokens but not inside a string. */
    snprintf(json, sizeof json,
             "{\"credentials\":[{\"access_key_id\":\"AKIA000000000000\","
             "\"secret_access_key\":\"wJalrXUtnF\tEMIK7MDENGbPxRfiCYzzKEY\","
             "\"account_id\":\"000000000000\"}]}");
    expect_secret_safe(json, strlen(json), sec, "line 1");
    /* Escaped control character: parsed, then refused without quoting. */
    snprintf(json, sizeof json,
             LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":"
                  "\"wJalrXUtnF\\u0007EMIK7MDENGbPxRfiCYzzKEY\",\"account_id\":\"000000000000\"}"));
    expect_secret_safe(json, strlen(json), sec, "secret_access_key must be");
    /* Over-long secret. */
    char longsec[200];
    for (int i = 0; i < 150; i++)
        longsec[i] = "wJalrXUtnFEMIK7MDENGbPxRfiCY"[i % 28];
    longsec[150] = 0;
    snprintf(json, sizeof json,
             LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"%s\","
                  "\"account_id\":\"000000000000\"}"),
             longsec);
    expect_secret_safe(json, strlen(json), longsec, "secret_access_key must be 1 to 128");
    /* Bad JSON right after the secret: a missing comma, a missing colon, a
     * cut-off string, a stray token, the file ending inside the secret. */
    const char *after[] = {
        "{\"credentials\":[{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":"
        "\"wJalrXUtnFEMIK7MDENGbPxRfiCYzzKEY\" \"account_id\":\"000000000000\"}]}",
        "{\"credentials\":[{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\" "
        "\"wJalrXUtnFEMIK7MDENGbPxRfiCYzzKEY\",\"account_id\":\"000000000000\"}]}",
        "{\"credentials\":[{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":"
        "\"wJalrXUtnFEMIK7MDENGbPxRfiCYzzKEY",
        "{\"credentials\":[{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":"
        "wJalrXUtnFEMIK7MDENGbPxRfiCYzzKEY,\"account_id\":\"000000000000\"}]}",
        "{\"credentials\":[{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":"
        "\"wJalrXUtnFEMIK7MDENGbPxRfiCYzzKEY\"}]} wJalrXUtnFEMIK7MDENGbPxRfiCYzzKEY",
        /* The secret as an unknown member's name. */
        "{\"credentials\":[{\"access_key_id\":\"AKIA000000000000\","
        "\"wJalrXUtnFEMIK7MDENGbPxRfiCYzzKEY\":\"x\",\"account_id\":\"000000000000\"}]}",
        /* Invalid UTF-8 inside the secret. */
        "{\"credentials\":[{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":"
        "\"wJalrXUtnF\xff\xfe"
        "EMIK7MDENGbPxRfiCYzzKEY\",\"account_id\":\"000000000000\"}]}",
        /* A bad escape inside the secret. */
        "{\"credentials\":[{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":"
        "\"wJalrXUtnF\\qEMIK7MDENGbPxRfiCYzzKEY\",\"account_id\":\"000000000000\"}]}",
    };
    for (size_t i = 0; i < sizeof after / sizeof *after; i++)
        expect_secret_safe(after[i], strlen(after[i]), sec, "sec.json");
    /* Through the file, too. */
    char *path = temp_file(after[0], strlen(after[0]), 0600);
    err_t e = {0};
    assert_null(credentials_load(path, &e));
    assert_no_secret(e.msg, sec);
    assert_non_null(strstr(e.msg, "line 1"));
    drop(path);
}

/* s3_credentials: the account's S3 keys, agreed by its entries; bad ones
 * refused naming the member, never quoting a secret. */
static void test_s3_credentials(void **unused) {
    (void)unused;
    err_t e = {0};
    const char *ok =
        LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
             "\"account_id\":\"111111111111\",\"s3_credentials\":{\"access_key_id\":\"minio\","
             "\"secret_access_key\":\"TopSecret/1\",\"session_token\":\"tok\"}},"
             "{\"access_key_id\":\"AKIA000000000001\",\"secret_access_key\":\"t\","
             "\"account_id\":\"111111111111\"},"
             "{\"access_key_id\":\"AKIA000000000002\",\"secret_access_key\":\"u\","
             "\"account_id\":\"222222222222\"}");
    credentials *c = credentials_parse(ok, strlen(ok), "t", &e);
    if (!c)
        fail_msg("%s", e.msg);
    credentials_account ca;
    assert_int_equal(credentials_account_settings(c, "111111111111", &ca), ERR_OK);
    assert_string_equal(ca.s3_key_id, "minio");
    assert_string_equal(ca.s3_secret, "TopSecret/1");
    assert_string_equal(ca.s3_token, "tok");
    assert_int_equal(credentials_account_settings(c, "222222222222", &ca), ERR_OK);
    assert_null(ca.s3_key_id);
    assert_null(ca.s3_secret);
    credentials_free(c);
    const struct {
        const char *member, *want;
    } bad[] = {
        {"\"s3_credentials\":{\"access_key_id\":\"minio\"}", "s3_credentials.secret_access_key"},
        {"\"s3_credentials\":{\"access_key_id\":\"a b\",\"secret_access_key\":\"TopSecret/1\"}",
         "s3_credentials.access_key_id"},
        {"\"s3_credentials\":{\"access_key_id\":\"k\",\"secret_access_key\":\"Top Secret\"}",
         "s3_credentials.secret_access_key"},
        {"\"s3_credentials\":{\"access_key_id\":\"k\",\"secret_access_key\":\"TopSecret/1\","
         "\"region\":\"x\"}",
         "unknown field"},
        {"\"s3_credentials\":\"TopSecret/1\"", "must be an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char json[1024];
        snprintf(json, sizeof json,
                 LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                      "\"account_id\":\"111111111111\",%s}"),
                 bad[i].member);
        memset(&e, 0, sizeof e);
        assert_null(credentials_parse(json, strlen(json), "t", &e));
        assert_int_equal(e.code, ERR_VALIDATION);
        if (!strstr(e.msg, bad[i].want))
            fail_msg("case %zu: %s", i, e.msg);
        assert_null(strstr(e.msg, "Secret")); /* never the secret itself */
    }
    /* Two entries of one account with other keys: refused. */
    const char *split =
        LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
             "\"account_id\":\"111111111111\",\"s3_credentials\":{\"access_key_id\":\"k\","
             "\"secret_access_key\":\"one\"}},"
             "{\"access_key_id\":\"AKIA000000000001\",\"secret_access_key\":\"t\","
             "\"account_id\":\"111111111111\",\"s3_credentials\":{\"access_key_id\":\"k\","
             "\"secret_access_key\":\"two\"}}");
    memset(&e, 0, sizeof e);
    assert_null(credentials_parse(split, strlen(split), "t", &e));
    assert_non_null(strstr(e.msg, "s3_credentials for account 111111111111"));
    assert_null(strstr(e.msg, "two"));
}

static void test_account_settings(void **unused) {
    char a[] = "/tmp/openhpo-roota-XXXXXX", b[] = "/tmp/openhpo-rootb-XXXXXX";
    assert_non_null(mkdtemp(a));
    assert_non_null(mkdtemp(b));
    char sub[64], link[64], json[4096];
    snprintf(sub, sizeof sub, "%s/in", a);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(link, sizeof link, "%s/lnk", b);
    assert_int_equal(symlink(a, link), 0); /* resolved at load: it is a's */
    snprintf(json, sizeof json,
             LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                  "\"account_id\":\"111111111111\",\"run_as\":\"hpo-a\",\"file_roots\":[\"%s\"],"
                  "\"s3_roots\":[\"s3://bucket-a/pre/\"]},"
                  "{\"access_key_id\":\"AKIA000000000001\",\"secret_access_key\":\"t\","
                  "\"account_id\":\"111111111111\"},"
                  "{\"access_key_id\":\"AKIA000000000002\",\"secret_access_key\":\"u\","
                  "\"account_id\":\"222222222222\",\"file_roots\":[\"%s\"]}"),
             a, b);
    err_t e = {0};
    credentials *c = credentials_parse(json, strlen(json), "t", &e);
    if (!c)
        fail_msg("%s", e.msg);
    assert_int_equal(credentials_account_count(c), 2);
    assert_string_equal(credentials_account_id(c, 0), "111111111111");
    assert_string_equal(credentials_account_id(c, 1), "222222222222");
    assert_null(credentials_account_id(c, 2));
    credentials_account ca;
    assert_int_equal(credentials_account_settings(c, "111111111111", &ca), ERR_OK);
    assert_string_equal(ca.run_as, "hpo-a");
    assert_int_equal(ca.nfile_roots, 1);
    char real[4096];
    assert_non_null(realpath(a, real));
    assert_string_equal(ca.file_roots[0], real);
    assert_int_equal(ca.ns3_roots, 1);
    assert_string_equal(ca.s3_roots[0], "s3://bucket-a/pre"); /* no trailing '/' */
    assert_int_equal(ca.entry, 0);
    assert_int_equal(credentials_account_settings(c, "222222222222", &ca), ERR_OK);
    assert_null(ca.run_as);
    assert_int_equal(ca.ns3_roots, 0);
    assert_int_equal(ca.entry, 2);
    assert_int_equal(credentials_account_settings(c, "333333333333", &ca), ERR_NOT_FOUND);
    assert_int_equal(credentials_account_settings(NULL, "111111111111", &ca), ERR_NOT_FOUND);
    credentials_free(c);

    /* Entries of one account that disagree. */
    snprintf(json, sizeof json,
             LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                  "\"account_id\":\"111111111111\",\"run_as\":\"hpo-a\"},"
                  "{\"access_key_id\":\"AKIA000000000001\",\"secret_access_key\":\"t\","
                  "\"account_id\":\"111111111111\",\"run_as\":\"hpo-b\"}"));
    expect_bad(json, "credentials[1] states a run_as for account 111111111111 other than "
                     "credentials[0]'s");
    snprintf(json, sizeof json,
             LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                  "\"account_id\":\"111111111111\",\"file_roots\":[\"%s\"]},"
                  "{\"access_key_id\":\"AKIA000000000001\",\"secret_access_key\":\"t\","
                  "\"account_id\":\"111111111111\",\"file_roots\":[\"%s\"]}"),
             a, sub);
    expect_bad(json, "states a file_roots");
    /* The same root named through a symlink agrees once resolved. */
    snprintf(json, sizeof json,
             LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                  "\"account_id\":\"111111111111\",\"file_roots\":[\"%s\"]},"
                  "{\"access_key_id\":\"AKIA000000000001\",\"secret_access_key\":\"t\","
                  "\"account_id\":\"111111111111\",\"file_roots\":[\"%s\"]}"),
             a, link);
    c = credentials_parse(json, strlen(json), "t", &e);
    assert_non_null(c);
    credentials_free(c);

    /* Roots of two accounts: equal, inside, containing, through a symlink. */
    const char *pairs[][2] = {{a, a}, {a, sub}, {sub, a}, {link, a}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(json, sizeof json,
                 LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                      "\"account_id\":\"111111111111\",\"file_roots\":[\"%s\"]},"
                      "{\"access_key_id\":\"AKIA000000000001\",\"secret_access_key\":\"t\","
                      "\"account_id\":\"222222222222\",\"file_roots\":[\"%s\"]}"),
                 pairs[i][0], pairs[i][1]);
        expect_bad(json, "an account's roots must be its own");
    }
    /* A sibling whose name extends the other's is not inside it. */
    char a2[80];
    snprintf(a2, sizeof a2, "%s-x", a);
    assert_int_equal(mkdir(a2, 0700), 0);
    snprintf(json, sizeof json,
             LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                  "\"account_id\":\"111111111111\",\"file_roots\":[\"%s\",\"%s\"]},"
                  "{\"access_key_id\":\"AKIA000000000001\",\"secret_access_key\":\"t\","
                  "\"account_id\":\"222222222222\",\"file_roots\":[\"%s\"]}"),
             a, sub, a2);
    c = credentials_parse(json, strlen(json), "t", &e);
    if (!c)
        fail_msg("%s", e.msg);
    credentials_free(c);
    /* S3 roots overlap by bucket and key components. */
    const char *s3ok[][2] = {{"s3://bkt/a", "s3://bkt/ab"}, {"s3://bkt", "s3://bkt2"}};
    const char *s3bad[][2] = {{"s3://bkt", "s3://bkt/a"}, {"s3://bkt/a/", "s3://bkt/a"}};
    for (size_t i = 0; i < 4; i++) {
        const char *const *p = i < 2 ? s3ok[i] : s3bad[i - 2];
        snprintf(json, sizeof json,
                 LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                      "\"account_id\":\"111111111111\",\"s3_roots\":[\"%s\"]},"
                      "{\"access_key_id\":\"AKIA000000000001\",\"secret_access_key\":\"t\","
                      "\"account_id\":\"222222222222\",\"s3_roots\":[\"%s\"]}"),
                 p[0], p[1]);
        c = credentials_parse(json, strlen(json), "t", &e);
        if (i < 2 && !c)
            fail_msg("%s", e.msg);
        if (i >= 2) {
            assert_null(c);
            assert_non_null(strstr(e.msg, "must be its own"));
        }
        credentials_free(c);
    }
    /* Bad values. */
    expect_bad(LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                    "\"account_id\":\"111111111111\",\"run_as\":\"root\"}"),
               "run_as is \"root\"");
    expect_bad(LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                    "\"account_id\":\"111111111111\",\"run_as\":\"-x\"}"),
               "run_as must be a Unix user name");
    expect_bad(LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                    "\"account_id\":\"111111111111\",\"file_roots\":[\"rel/dir\"]}"),
               "not an absolute path");
    expect_bad(LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                    "\"account_id\":\"111111111111\",\"file_roots\":[\"/nonexistent/x\"]}"),
               "not an existing directory");
    expect_bad(LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                    "\"account_id\":\"111111111111\",\"file_roots\":\"/tmp\"}"),
               "file_roots must be a list");
    expect_bad(LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                    "\"account_id\":\"111111111111\",\"s3_roots\":[\"s3://B/x\"]}"),
               "is not s3://bucket");
    expect_bad(LIST("{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
                    "\"account_id\":\"111111111111\",\"s3_roots\":[\"s3://bkt/../x\"]}"),
               "is not s3://bucket");
    /* root_contains by components. */
    assert_true(credentials_root_contains("/a/b", "/a/b"));
    assert_true(credentials_root_contains("/a/b", "/a/b/c"));
    assert_true(credentials_root_contains("/a/b/", "/a/b/c"));
    assert_false(credentials_root_contains("/a/b", "/a/bc"));
    assert_false(credentials_root_contains("/a/b", "/a"));
    assert_true(credentials_root_contains("/", "/x"));
    assert_true(credentials_root_contains("s3://bkt/p", "s3://bkt/p/q"));
    assert_false(credentials_root_contains("s3://bkt/p", "s3://bkt/pq"));
    assert_false(credentials_root_contains("s3://bkt", "/bkt"));
    assert_false(credentials_root_contains(NULL, "/x"));
    rmdir(a2);
    unlink(link);
    rmdir(sub);
    rmdir(a);
    rmdir(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_lookup),
        cmocka_unit_test(test_mode),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_as_sigv4_store),
        cmocka_unit_test(test_no_secret_in_errors),
        cmocka_unit_test(test_account_settings),
        cmocka_unit_test(test_s3_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
