/* s3: the signer against AWS's published S3 SigV4 examples ("Signature
 * Calculations for the Authorization Header: Transferring Payload in a
 * Single Chunk", examplebucket, AKIAIOSFODNN7EXAMPLE, 20130524), key
 * encoding as the client uses it, URI parsing, settings and the credentials
 * file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "s3.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HOST "examplebucket.s3.amazonaws.com"
#define DATE "20130524T000000Z"

static const char *signature_of(const char *authz) {
    const char *s = strstr(authz, "Signature=");
    assert_non_null(s);
    return s + 10;
}

static void test_get_object_example(void **unused) {
    const char *names[] = {"host", "range", "x-amz-content-sha256", "x-amz-date"};
    const char *values[] = {HOST, "bytes=0-9", EMPTY, DATE};
    char authz[1024];
    assert_int_equal(s3_sign("GET", "/test.txt", "", names, values, 4, EMPTY, DATE, "us-east-1",
                             AKID, SECRET, authz, sizeof authz),
                     0);
    assert_string_equal(signature_of(authz),
                        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    assert_non_null(strstr(authz, "Credential=" AKID "/20130524/us-east-1/s3/aws4_request"));
    assert_non_null(strstr(authz, "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date"));
}

static void test_put_object_example(void **unused) {
    /* the key "test$file.text", encoded as the client encodes keys */
    char path[64] = "/";
    assert_int_equal(s3_encode_key("test$file.text", path + 1, sizeof path - 1), 0);
    assert_string_equal(path, "/test%24file.text");
    const char *hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    const char *names[] = {"date", "host", "x-amz-content-sha256", "x-amz-date",
                           "x-amz-storage-class"};
    const char *values[] = {"Fri, 24 May 2013 00:00:00 GMT", HOST, hash, DATE,
                            "REDUCED_REDUNDANCY"};
    char authz[1024];
    assert_int_equal(s3_sign("PUT", path, "", names, values, 5, hash, DATE, "us-east-1", AKID,
                             SECRET, authz, sizeof authz),
                     0);
    assert_string_equal(signature_of(authz),
                        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

static void test_bucket_examples(void **unused) {
    const char *names[] = {"host", "x-amz-content-sha256", "x-amz-date"};
    const char *values[] = {HOST, EMPTY, DATE};
    char authz[1024];
    /* GET Bucket Lifecycle: a parameter without a value signs as "lifecycle=",
     * as the client's "uploads=" does */
    assert_int_equal(s3_sign("GET", "/", "lifecycle=", names, values, 3, EMPTY, DATE, "us-east-1",
                             AKID, SECRET, authz, sizeof authz),
                     0);
    assert_string_equal(signature_of(authz),
                        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    /* GET Bucket (List Objects) */
    assert_int_equal(s3_sign("GET", "/", "max-keys=2&prefix=J", names, values, 3, EMPTY, DATE,
                             "us-east-1", AKID, SECRET, authz, sizeof authz),
                     0);
    assert_string_equal(signature_of(authz),
                        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    /* a different secret gives a different signature */
    assert_int_equal(s3_sign("GET", "/", "max-keys=2&prefix=J", names, values, 3, EMPTY, DATE,
                             "us-east-1", AKID, "other", authz, sizeof authz),
                     0);
    assert_string_not_equal(signature_of(authz),
                            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    /* a buffer too small is refused */
    assert_int_equal(s3_sign("GET", "/", "", names, values, 3, EMPTY, DATE, "us-east-1", AKID,
                             SECRET, authz, 40),
                     -1);
}

static void test_encode_key(void **unused) {
    char out[64];
    assert_int_equal(s3_encode_key("a b/c+d~e_f.g-h", out, sizeof out), 0);
    assert_string_equal(out, "a%20b/c%2Bd~e_f.g-h");
    assert_int_equal(s3_encode_key("\xc3\xa9", out, sizeof out), 0);
    assert_string_equal(out, "%C3%A9");
    assert_int_equal(s3_encode_key("abcdef", out, 4), -1);
}

static void test_parse_uri(void **unused) {
    char b[S3_BUCKET_MAX + 1], k[S3_KEY_MAX + 1];
    err_t e = {0};
    assert_int_equal(s3_parse_uri("s3://my-bkt.1/a/b/c.csv", b, k, &e), 0);
    assert_string_equal(b, "my-bkt.1");
    assert_string_equal(k, "a/b/c.csv");
    assert_int_equal(s3_parse_uri("s3://bkt", b, k, &e), 0);
    assert_string_equal(k, "");
    assert_int_equal(s3_parse_uri("s3://bkt/", b, k, &e), 0);
    assert_string_equal(k, "");
    assert_int_equal(s3_parse_uri("s3:///key", b, k, &e), ERR_VALIDATION);
    assert_int_equal(s3_parse_uri("file:///x", b, k, &e), ERR_VALIDATION);
    assert_int_equal(s3_parse_uri("s3://Bad_Upper/x", b, k, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "Bad_Upper"));
    char longb[100] = "s3://";
    memset(longb + 5, 'a', 70);
    assert_int_equal(s3_parse_uri(longb, b, k, &e), ERR_VALIDATION);
    char *longk = malloc(S3_KEY_MAX + 32);
    snprintf(longk, 32, "s3://b/");
    memset(longk + 7, 'k', S3_KEY_MAX + 1);
    longk[7 + S3_KEY_MAX + 1] = 0;
    assert_int_equal(s3_parse_uri(longk, b, k, &e), ERR_VALIDATION);
    free(longk);
}

static void test_credentials_file(void **unused) {
    const char *text = "# comment\n[default]\naws_access_key_id = AK1\naws_secret_access_key=S1\n"
                       "\n[profile dev]\n  aws_access_key_id=AK2  \naws_secret_access_key = S2\n"
                       "aws_session_token = T2\n[other]\naws_access_key_id=AK3\n";
    s3_config c;
    memset(&c, 0, sizeof c);
    assert_int_equal(s3_config_parse_credentials(text, "default", &c), 1);
    assert_string_equal(c.key_id, "AK1");
    assert_string_equal(c.secret, "S1");
    assert_string_equal(c.token, "");
    memset(&c, 0, sizeof c);
    assert_int_equal(s3_config_parse_credentials(text, "dev", &c), 1);
    assert_string_equal(c.key_id, "AK2");
    assert_string_equal(c.token, "T2");
    memset(&c, 0, sizeof c);
    assert_int_equal(s3_config_parse_credentials(text, "other", &c), 0); /* no secret */
    assert_int_equal(s3_config_parse_credentials(text, "missing", &c), 0);
}

static void clear_env(void) {
    static const char *const vars[] = {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL",
                                       "AWS_REGION",          "AWS_DEFAULT_REGION",
                                       "AWS_ACCESS_KEY_ID",   "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",   "AWS_SHARED_CREDENTIALS_FILE",
                                       "AWS_PROFILE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
}

static void test_config_from_env(void **unused) {
    s3_config c;
    err_t e = {0};
    char file[] = "/tmp/test_s3_credsXXXXXX";
    clear_env();
    setenv("HOME", "/nonexistent-home", 1);
    assert_int_equal(s3_config_from_env(&c, &e), 0);
    assert_string_equal(c.region, "us-east-1");
    assert_string_equal(c.endpoint, "https://s3.us-east-1.amazonaws.com");
    assert_string_equal(c.key_id, ""); /* unsigned */
    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/", 1);
    assert_int_equal(s3_config_from_env(&c, &e), 0);
    assert_string_equal(c.region, "eu-west-1");
    assert_string_equal(c.endpoint, "http://127.0.0.1:9000");
    setenv("AWS_REGION", "ap-south-1", 1);                    /* wins over the default */
    setenv("AWS_ENDPOINT_URL_S3", "https://s3.example:1", 1); /* wins over the generic one */
    assert_int_equal(s3_config_from_env(&c, &e), 0);
    assert_string_equal(c.region, "ap-south-1");
    assert_string_equal(c.endpoint, "https://s3.example:1");
    /* the credentials file, profile from AWS_PROFILE */
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    const char *text = "[p1]\naws_access_key_id=FILEKEY\naws_secret_access_key=FILESECRET\n";
    assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    setenv("AWS_SHARED_CREDENTIALS_FILE", file, 1);
    setenv("AWS_PROFILE", "p1", 1);
    assert_int_equal(s3_config_from_env(&c, &e), 0);
    assert_string_equal(c.key_id, "FILEKEY");
    assert_string_equal(c.secret, "FILESECRET");
    /* the environment's keys come first */
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
    setenv("AWS_SESSION_TOKEN", "ENVTOKEN", 1);
    assert_int_equal(s3_config_from_env(&c, &e), 0);
    assert_string_equal(c.key_id, "ENVKEY");
    assert_string_equal(c.token, "ENVTOKEN");
    unlink(file);
    /* a named credentials file that is missing is an error, naming it */
    unsetenv("AWS_ACCESS_KEY_ID");
    assert_int_equal(s3_config_from_env(&c, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, file));
    /* an endpoint with a path, or not http(s), is refused */
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    setenv("AWS_ENDPOINT_URL_S3", "http://host:1/base", 1);
    assert_int_equal(s3_config_from_env(&c, &e), ERR_VALIDATION);
    setenv("AWS_ENDPOINT_URL_S3", "ftp://host", 1);
    assert_int_equal(s3_config_from_env(&c, &e), ERR_VALIDATION);
    clear_env();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_object_example), cmocka_unit_test(test_put_object_example),
        cmocka_unit_test(test_bucket_examples),    cmocka_unit_test(test_encode_key),
        cmocka_unit_test(test_parse_uri),          cmocka_unit_test(test_credentials_file),
        cmocka_unit_test(test_config_from_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
