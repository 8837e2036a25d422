/* auth: which headers a signed request must sign (auth_required_signed), and
 * that sigv4_verify_requiring enforces them: a request signed without
 * X-Amz-Target, with the header added afterwards (another operation), passes
 * plain sigv4_verify but is refused as IncompleteSignature under the rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth.h"
#include "sigv4.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define NOW ((time_t)1705314600) /* 20240115T103000Z */
#define DATE "20240115T103000Z"
#define MAXH 16

static err_code lookup(void *ctx, const char *akid, const char **secret, const char **account) {
    (void)ctx;
    if (strcmp(akid, AKID))
        return ERR_SIG_UNKNOWN_KEY;
    *secret = SECRET;
    *account = "123456789012";
    return ERR_OK;
}

static const char *const regions[] = {"us-west-2"};

typedef struct {
    sigv4_header h[MAXH];
    size_t nh;
    char authz[SIGV4_AUTHZ_MAX];
    const char *body;
} fixture;

static void add(fixture *f, const char *name, const char *value) {
    assert_true(f->nh < MAXH);
    f->h[f->nh].name = name;
    f->h[f->nh].value = value;
    f->nh++;
}

static sigv4_request freq(const fixture *f) {
    sigv4_request r = {.method = "POST",
                       .path = "/",
                       .headers = f->h,
                       .nheaders = f->nh,
                       .body = f->body,
                       .body_len = f->body ? strlen(f->body) : 0};
    return r;
}

/* Signs the headers added so far and appends the Authorization header. */
static void sign(fixture *f) {
    err_t e = {0};
    sigv4_request r = freq(f);
    assert_int_equal(
        sigv4_sign(&r, AKID, SECRET, "us-west-2", "sagemaker", f->authz, sizeof f->authz, &e),
        ERR_OK);
    add(f, "Authorization", f->authz);
}

/* Verifies f under the auth rule for its own headers and body. */
static err_code verify_rule(const fixture *f, err_t *e) {
    sigv4_verifier v = {.service = "sagemaker",
                        .regions = regions,
                        .nregions = 1,
                        .lookup = lookup,
                        .lookup_ctx = NULL};
    int target = 0;
    for (size_t i = 0; i < f->nh; i++)
        target |= !strcasecmp(f->h[i].name, "X-Amz-Target");
    const char *req[AUTH_REQUIRED_SIGNED_MAX];
    size_t n = auth_required_signed(target, f->body ? strlen(f->body) : 0, req);
    sigv4_request r = freq(f);
    return sigv4_verify_requiring(&v, &r, req, n, NOW, NULL, e);
}

static err_code verify_plain(const fixture *f, err_t *e) {
    sigv4_verifier v = {.service = "sagemaker",
                        .regions = regions,
                        .nregions = 1,
                        .lookup = lookup,
                        .lookup_ctx = NULL};
    sigv4_request r = freq(f);
    return sigv4_verify(&v, &r, NOW, NULL, e);
}

static int has(const char *const *list, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], name))
            return 1;
    return 0;
}

static void test_rule(void **unused) {
    (void)unused;
    const char *out[AUTH_REQUIRED_SIGNED_MAX];
    /* Current API: the date, the operation and the content type. */
    size_t n = auth_required_signed(1, 42, out);
    assert_int_equal(n, 3);
    assert_true(has(out, n, "X-Amz-Date") && has(out, n, "X-Amz-Target") &&
                has(out, n, "Content-Type"));
    n = auth_required_signed(1, 0, out); /* an empty body still has a type */
    assert_int_equal(n, 3);
    /* 2017 API with a body: date and content type. */
    n = auth_required_signed(0, 10, out);
    assert_int_equal(n, 2);
    assert_true(has(out, n, "X-Amz-Date") && has(out, n, "Content-Type"));
    /* A GET without a body (the logs endpoint): the date only. */
    n = auth_required_signed(0, 0, out);
    assert_int_equal(n, 1);
    assert_string_equal(out[0], "X-Amz-Date");
}

static void test_target_added_after_signing(void **unused) {
    (void)unused;
    fixture f = {.nh = 0, .body = "{}"};
    err_t e = {0};
    add(&f, "Host", "127.0.0.1:8080");
    add(&f, "Content-Type", "application/x-amz-json-1.1");
    add(&f, "X-Amz-Date", DATE);
    sign(&f);
    add(&f, "X-Amz-Target", "SageMaker.DeleteEverything");
    /* The signature itself holds: X-Amz-Target is not in SignedHeaders. */
    assert_int_equal(verify_plain(&f, &e), ERR_OK);
    /* The rule refuses it, naming the header. */
    assert_int_equal(verify_rule(&f, &e), ERR_SIG_INCOMPLETE);
    assert_string_equal(e.msg, "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.");
}

static void test_content_type_added_after_signing(void **unused) {
    (void)unused;
    fixture f = {.nh = 0, .body = "{\"AwsAccountId\":\"123456789012\"}"};
    err_t e = {0};
    add(&f, "Host", "h");
    add(&f, "X-Amz-Date", DATE);
    sign(&f);
    add(&f, "Content-Type", "application/json");
    assert_int_equal(verify_plain(&f, &e), ERR_OK);
    assert_int_equal(verify_rule(&f, &e), ERR_SIG_INCOMPLETE);
    assert_non_null(strstr(e.msg, "'Content-Type'"));
}

static void test_date_header_not_enough(void **unused) {
    (void)unused;
    fixture f = {.nh = 0, .body = NULL};
    err_t e = {0};
    add(&f, "Host", "h");
    add(&f, "Date", "Mon, 15 Jan 2024 10:30:00 GMT");
    /* sigv4_sign wants X-Amz-Date: sign with the Date header by hand. */
    char creq[4096], sts[1024], sig[SIGV4_HEX_LEN + 1];
    sigv4_request r = freq(&f);
    assert_int_equal(sigv4_canonical_request(&r, "date;host", NULL, 0, creq, sizeof creq, &e),
                     ERR_OK);
    assert_int_equal(
        sigv4_string_to_sign(DATE, "us-west-2", "sagemaker", creq, sts, sizeof sts, &e), ERR_OK);
    assert_int_equal(sigv4_signature(SECRET, "20240115", "us-west-2", "sagemaker", sts, sig), 0);
    snprintf(f.authz, sizeof f.authz,
             SIGV4_ALGORITHM " Credential=" AKID "/20240115/us-west-2/sagemaker/aws4_request, "
                             "SignedHeaders=date;host, Signature=%s",
             sig);
    add(&f, "Authorization", f.authz);
    assert_int_equal(verify_plain(&f, &e), ERR_OK);
    assert_int_equal(verify_rule(&f, &e), ERR_SIG_INCOMPLETE);
    assert_non_null(strstr(e.msg, "'X-Amz-Date'"));
}

static void test_signed_as_botocore_accepted(void **unused) {
    (void)unused;
    fixture f = {.nh = 0, .body = "{}"};
    err_t e = {0};
    /* Any case in the request; SignedHeaders is lowercase. */
    add(&f, "host", "127.0.0.1:8080");
    add(&f, "content-type", "application/x-amz-json-1.1");
    add(&f, "x-amz-target", "SageMaker.ListTrainingJobs");
    add(&f, "X-AMZ-DATE", DATE);
    sign(&f);
    assert_int_equal(verify_rule(&f, &e), ERR_OK);
    /* Changing the signed operation afterwards breaks the signature. */
    f.h[2].value = "SageMaker.CreateTrainingJob";
    assert_int_equal(verify_rule(&f, &e), ERR_SIG_INVALID);
}

static void test_bad_arguments(void **unused) {
    (void)unused;
    fixture f = {.nh = 0, .body = NULL};
    err_t e = {0};
    add(&f, "Host", "h");
    add(&f, "X-Amz-Date", DATE);
    sign(&f);
    sigv4_verifier v = {.service = "sagemaker",
                        .regions = regions,
                        .nregions = 1,
                        .lookup = lookup,
                        .lookup_ctx = NULL};
    sigv4_request r = freq(&f);
    assert_int_equal(sigv4_verify_requiring(&v, &r, NULL, 1, NOW, NULL, &e), ERR_INTERNAL);
    assert_int_equal(sigv4_verify_requiring(&v, &r, NULL, 0, NOW, NULL, &e), ERR_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule),
        cmocka_unit_test(test_target_added_after_signing),
        cmocka_unit_test(test_content_type_added_after_signing),
        cmocka_unit_test(test_date_header_not_enough),
        cmocka_unit_test(test_signed_as_botocore_accepted),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
