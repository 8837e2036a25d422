/* tenant: the policy — Environment keys, file:// and s3:// roots (symlink
 * escapes included), host programs and catalog entries limited to
 * accounts, and as whom jobs run in each mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pwd.h>
#include <cmocka.h>

#include "credentials.h"
#include "image.h"
#include "request.h"
#include "tenant.h"

#define A "111111111111"
#define B "222222222222"

static char base[64]; /* a temp dir: ra/ (A's root), rb/ (B's), out/ (no one's) */
static char ra[128], rb[128], outside[128], real_ra[4096], real_rb[4096];

/* A user that exists on any Debian system, is not root, and its name. */
static const char *some_user(void) {
    struct passwd *pw = getpwnam("nobody");
    return pw ? "nobody" : NULL;
}

static int setup(void **unused) {
    snprintf(base, sizeof base, "/tmp/openhpo-tenant-XXXXXX");
    if (!mkdtemp(base))
        return -1;
    snprintf(ra, sizeof ra, "%s/ra", base);
    snprintf(rb, sizeof rb, "%s/rb", base);
    snprintf(outside, sizeof outside, "%s/out", base);
    if (mkdir(ra, 0700) || mkdir(rb, 0700) || mkdir(outside, 0700))
        return -1;
    if (!realpath(ra, real_ra) || !realpath(rb, real_rb))
        return -1;
    return 0;
}

static int teardown(void **unused) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

/* Credentials of A (run_as nobody, roots ra, s3://bkt-a/p) and B (roots rb). */
static credentials *two_accounts(const char *a_run_as) {
    char json[2048], runas[64] = "";
    if (a_run_as)
        snprintf(runas, sizeof runas, ",\"run_as\":\"%s\"", a_run_as);
    snprintf(json, sizeof json,
             "{\"credentials\":["
             "{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
             "\"account_id\":\"" A "\"%s,\"file_roots\":[\"%s\"],"
             "\"s3_roots\":[\"s3://bkt-a/p\"]},"
             "{\"access_key_id\":\"AKIA000000000001\",\"secret_access_key\":\"t\","
             "\"account_id\":\"" B "\",\"file_roots\":[\"%s\"]}]}",
             runas, ra, rb);
    err_t e = {0};
    credentials *c = credentials_parse(json, strlen(json), "t", &e);
    if (!c)
        fail_msg("%s", e.msg);
    return c;
}

/* A CreateTrainingJob request of `account` with one Environment key, one
 * channel and an output path. */
static req_tuning *request(const char *account, const char *env_key, const char *chan,
                           const char *out) {
    char body[4096];
    snprintf(body, sizeof body,
             "{\"TrainingJobName\":\"j\",\"AlgorithmSpecification\":{\"TrainingImage\":\"img\","
             "\"TrainingInputMode\":\"File\"},\"RoleArn\":\"arn:aws:iam::%s:role/r\","
             "\"InputDataConfig\":[{\"ChannelName\":\"train\",\"DataSource\":{\"S3DataSource\":"
             "{\"S3DataType\":\"S3Prefix\",\"S3Uri\":\"%s\"}}}],"
             "\"OutputDataConfig\":{\"S3OutputPath\":\"%s\"},"
             "\"ResourceConfig\":{\"InstanceCount\":1,\"InstanceType\":\"ml.m5.large\","
             "\"VolumeSizeInGB\":1},\"StoppingCondition\":{\"MaxRuntimeInSeconds\":60},"
             "\"Environment\":{\"%s\":\"v\"}}",
             account, chan, out, env_key);
    req_tuning *r = NULL;
    err_t e = {0};
    if (request_parse_text(API_CURRENT, "CreateTrainingJob", body, account, &r, &e))
        fail_msg("request: %s", e.msg);
    return r;
}

static void expect_refused(const tenant *t, req_tuning *r, const char *fragment) {
    err_t e = {0};
    int rc = tenant_check_request(t, r, &e);
    if (rc != ERR_VALIDATION)
        fail_msg("accepted (%d), wanted '%s'", rc, fragment);
    if (!strstr(e.msg, fragment))
        fail_msg("message '%s' lacks '%s'", e.msg, fragment);
    request_free(r);
}

static void expect_ok(const tenant *t, req_tuning *r) {
    err_t e = {0};
    if (tenant_check_request(t, r, &e))
        fail_msg("refused: %s", e.msg);
    request_free(r);
}

static void test_env_keys(void **unused) {
    /* Refused in both modes (a NULL tenant is the test default: no policy). */
    err_t e = {0};
    tenant_config one = {0};
    tenant *t = tenant_new(&one, &e);
    assert_non_null(t);
    const char *bad[] = {"LD_PRELOAD",
                         "LD_LIBRARY_PATH",
                         "BASH_ENV",
                         "ENV",
                         "BASH_FUNC_x%%",
                         "PATH",
                         "PYTHONSTARTUP",
                         "PYTHONPATH",
                         "PERL5OPT",
                         "NODE_OPTIONS",
                         "GLIBC_TUNABLES",
                         "MALLOC_CHECK_",
                         "IFS",
                         "PS4",
                         "SHELLOPTS",
                         "JAVA_TOOL_OPTIONS"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (!tenant_env_refused(t, bad[i]))
            fail_msg("%s allowed", bad[i]);
    const char *good[] = {"OPENHPO_TEST", "TMPDIR", "LANG", "ENVX", "MYPATH", "XLD_PRELOAD"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (tenant_env_refused(t, good[i]))
            fail_msg("%s refused", good[i]);
    char chan[256], out[256];
    snprintf(chan, sizeof chan, "file://%s", outside);
    snprintf(out, sizeof out, "file://%s", outside);
    expect_refused(t, request(A, "BASH_ENV", chan, out),
                   "Environment: key 'BASH_ENV' is refused: it changes how programs are loaded");
    expect_refused(t, request(A, "LD_PRELOAD", chan, out), "hpod --allow-env LD_PRELOAD");
    expect_ok(t, request(A, "OPENHPO_TEST", chan, out)); /* one-user, no roots: any path */
    tenant_free(t);
    /* Allowed one by one, or all. */
    const char *allow[] = {"LD_PRELOAD"};
    tenant_config c1 = {.allow_env = allow, .nallow_env = 1};
    assert_non_null(t = tenant_new(&c1, &e));
    assert_null(tenant_env_refused(t, "LD_PRELOAD"));
    assert_non_null(tenant_env_refused(t, "LD_AUDIT"));
    tenant_free(t);
    const char *all[] = {"*"};
    tenant_config c2 = {.allow_env = all, .nallow_env = 1};
    assert_non_null(t = tenant_new(&c2, &e));
    assert_null(tenant_env_refused(t, "BASH_ENV"));
    tenant_free(t);
    /* Multi-tenant: the same rule. */
    credentials *c = two_accounts(some_user());
    tenant_config m = {.creds = c};
    assert_non_null(t = tenant_new(&m, &e));
    snprintf(chan, sizeof chan, "file://%s/data", ra);
    snprintf(out, sizeof out, "file://%s", ra);
    expect_refused(t, request(A, "PYTHONPATH", chan, out), "key 'PYTHONPATH' is refused");
    expect_ok(t, request(A, "OPENHPO_TEST", chan, out));
    tenant_free(t);
    credentials_free(c);
}

static void test_file_roots(void **unused) {
    if (!some_user())
        skip();
    err_t e = {0};
    credentials *c = two_accounts(some_user());
    tenant_config m = {.creds = c};
    tenant *t = tenant_new(&m, &e);
    assert_non_null(t);
    char uri[512], link[256];
    const char *f = "F";
    /* Inside A's root, existing or not yet. */
    snprintf(uri, sizeof uri, "file://%s", ra);
    assert_int_equal(tenant_check_uri(t, A, uri, f, &e), 0);
    snprintf(uri, sizeof uri, "file://%s/new/deeper/", ra);
    assert_int_equal(tenant_check_uri(t, A, uri, f, &e), 0);
    /* B's root, outside both, a sibling sharing a prefix, dots. */
    snprintf(uri, sizeof uri, "file://%s", rb);
    assert_int_equal(tenant_check_uri(t, A, uri, f, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "is outside the directories account " A " may use"));
    assert_non_null(strstr(e.msg, uri));
    assert_non_null(strstr(e.msg, "F: "));
    snprintf(uri, sizeof uri, "file://%s", outside);
    assert_int_equal(tenant_check_uri(t, A, uri, f, &e), ERR_VALIDATION);
    char sib[256];
    snprintf(sib, sizeof sib, "%s-sibling", ra);
    assert_int_equal(mkdir(sib, 0700), 0);
    snprintf(uri, sizeof uri, "file://%s", sib);
    assert_int_equal(tenant_check_uri(t, A, uri, f, &e), ERR_VALIDATION);
    snprintf(uri, sizeof uri, "file://%s/../rb", ra);
    assert_int_equal(tenant_check_uri(t, A, uri, f, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "'..' component"));
    snprintf(uri, sizeof uri, "file://%s/x/../../rb/y", ra);
    assert_int_equal(tenant_check_uri(t, A, uri, f, &e), ERR_VALIDATION);
    /* A symlink inside A's root into B's: resolved, refused. */
    snprintf(link, sizeof link, "%s/tob", ra);
    assert_int_equal(symlink(rb, link), 0);
    snprintf(uri, sizeof uri, "file://%s", link);
    assert_int_equal(tenant_check_uri(t, A, uri, f, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, real_rb));
    snprintf(uri, sizeof uri, "file://%s/sub/dir", link); /* beyond it, not existing */
    assert_int_equal(tenant_check_uri(t, A, uri, f, &e), ERR_VALIDATION);
    assert_int_equal(tenant_check_uri(t, B, uri, f, &e), 0); /* it is B's */
    /* s3: under A's s3_roots only; B has none. */
    assert_int_equal(tenant_check_uri(t, A, "s3://bkt-a/p/x", f, &e), 0);
    assert_int_equal(tenant_check_uri(t, A, "s3://bkt-a/p", f, &e), 0);
    assert_int_equal(tenant_check_uri(t, A, "s3://bkt-a/px", f, &e), ERR_VALIDATION);
    assert_int_equal(tenant_check_uri(t, A, "s3://bkt-b/p/x", f, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "outside the S3 locations account " A));
    assert_int_equal(tenant_check_uri(t, A, "s3://bkt-a/p/../q", f, &e), ERR_VALIDATION);
    assert_int_equal(tenant_check_uri(t, B, "s3://bkt-a/p/x", f, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "has no s3 roots"));
    /* An account without roots. */
    assert_int_equal(tenant_check_uri(t, "333333333333", "file:///tmp", f, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "has no file roots"));
    assert_non_null(strstr(e.msg, "--file-root DIR"));
    /* The request's paths name their fields. */
    snprintf(uri, sizeof uri, "file://%s", rb);
    char chan[512];
    snprintf(chan, sizeof chan, "file://%s/data", ra);
    expect_refused(t, request(A, "X", chan, uri), "OutputDataConfig.S3OutputPath: 'file://");
    expect_refused(t, request(A, "X", uri, chan),
                   "InputDataConfig[0].DataSource.S3DataSource.S3Uri: 'file://");
    expect_ok(t, request(A, "X", chan, chan));
    tenant_free(t);

    /* --file-root DIR in multi-tenant mode: DIR/<account>. */
    const char *roots[] = {outside};
    tenant_config m2 = {.creds = c, .file_roots = roots, .nfile_roots = 1};
    assert_non_null(t = tenant_new(&m2, &e));
    snprintf(uri, sizeof uri, "file://%s/" A "/x", outside);
    assert_int_equal(tenant_check_uri(t, A, uri, f, &e), 0);
    assert_int_equal(tenant_check_uri(t, B, uri, f, &e), ERR_VALIDATION);
    snprintf(uri, sizeof uri, "file://%s/" B, outside);
    assert_int_equal(tenant_check_uri(t, B, uri, f, &e), 0);
    snprintf(uri, sizeof uri, "file://%s", outside);
    assert_int_equal(tenant_check_uri(t, A, uri, f, &e), ERR_VALIDATION);
    tenant_free(t);
    /* ... which must not meet an account's file_roots: a --file-root inside
     * A's root (B's DIR/B would be A's), */
    char inner[256];
    snprintf(inner, sizeof inner, "%s/shared", ra);
    assert_int_equal(mkdir(inner, 0700), 0);
    const char *in_a[] = {inner};
    tenant_config m3 = {.creds = c, .file_roots = in_a, .nfile_roots = 1};
    assert_null(tenant_new(&m3, &e));
    assert_non_null(strstr(e.msg, "contains --file-root"));
    rmdir(inner);
    /* or a root of B's that is A's DIR/A. */
    char json[1024], dir_a[256];
    snprintf(dir_a, sizeof dir_a, "%s/" A, outside);
    assert_int_equal(mkdir(dir_a, 0700), 0);
    snprintf(json, sizeof json,
             "{\"credentials\":["
             "{\"access_key_id\":\"AKIA000000000000\",\"secret_access_key\":\"s\","
             "\"account_id\":\"" A "\"},"
             "{\"access_key_id\":\"AKIA000000000001\",\"secret_access_key\":\"t\","
             "\"account_id\":\"" B "\",\"file_roots\":[\"%s\"]}]}",
             dir_a);
    credentials *c2 = credentials_parse(json, strlen(json), "t", &e);
    assert_non_null(c2);
    tenant_config m4 = {.creds = c2, .file_roots = roots, .nfile_roots = 1};
    assert_null(tenant_new(&m4, &e));
    assert_non_null(strstr(e.msg, "account " A "'s directory under --file-root"));
    credentials_free(c2);
    rmdir(dir_a);
    credentials_free(c);

    /* One-user mode with --file-root: the roots, for the only user. */
    const char *one_roots[] = {ra};
    tenant_config o = {.file_roots = one_roots, .nfile_roots = 1};
    assert_non_null(t = tenant_new(&o, &e));
    snprintf(uri, sizeof uri, "file://%s/x", ra);
    assert_int_equal(tenant_check_uri(t, "123456789012", uri, f, &e), 0);
    snprintf(uri, sizeof uri, "file://%s", rb);
    assert_int_equal(tenant_check_uri(t, "123456789012", uri, f, &e), ERR_VALIDATION);
    assert_int_equal(tenant_check_uri(t, "123456789012", "s3://any/thing", f, &e), 0);
    tenant_free(t);
    const char *missing[] = {"/nonexistent/openhpo-root"};
    tenant_config o2 = {.file_roots = missing, .nfile_roots = 1};
    assert_null(tenant_new(&o2, &e));
    assert_non_null(strstr(e.msg, "--file-root /nonexistent/openhpo-root"));
    unlink(link);
    rmdir(sib);
}

static void test_identity(void **unused) {
    const char *user = some_user();
    if (!user)
        skip();
    struct passwd *pw = getpwnam(user);
    uid_t nuid = pw->pw_uid;
    err_t e = {0};
    tenant_identity id;
    /* One-user mode: the daemon's user, or --run-as. */
    assert_int_equal(tenant_identity_of(NULL, A, &id, &e), 0);
    assert_int_equal(id.run_as, 0);
    assert_int_equal(id.uid, getuid());
    tenant_config one = {.run_as = user};
    tenant *t = tenant_new(&one, &e);
    assert_non_null(t);
    assert_int_equal(tenant_identity_of(t, A, &id, &e), 0);
    assert_int_equal(id.run_as, 1);
    assert_int_equal(id.uid, nuid);
    assert_string_equal(id.user, user);
    tenant_free(t);
    tenant_config bad = {.run_as = "openhpo-no-such-user"};
    assert_null(tenant_new(&bad, &e));
    assert_non_null(strstr(e.msg, "'openhpo-no-such-user' does not exist"));
    /* Multi-tenant: the account's run_as, else --run-as, else refused. */
    credentials *c = two_accounts(user);
    tenant_config m = {.creds = c};
    assert_non_null(t = tenant_new(&m, &e));
    assert_int_equal(tenant_identity_of(t, A, &id, &e), 0);
    assert_int_equal(id.run_as, 1);
    assert_int_equal(id.uid, nuid);
    assert_int_equal(tenant_identity_of(t, B, &id, &e), ERR_VALIDATION);
    assert_string_equal(e.msg, "no Unix user to run account " B
                               "'s jobs as: set \"run_as\" for it in the credentials file or "
                               "start hpod with --run-as USER");
    char chan[256];
    snprintf(chan, sizeof chan, "file://%s", rb);
    expect_refused(t, request(B, "X", chan, chan), "no Unix user to run account " B);
    tenant_free(t);
    tenant_config m2 = {.creds = c, .run_as = "root"}; /* literally root: allowed */
    assert_non_null(t = tenant_new(&m2, &e));
    assert_int_equal(tenant_identity_of(t, B, &id, &e), 0);
    assert_int_equal(id.run_as, 1);
    assert_int_equal(id.uid, 0);
    assert_int_equal(tenant_identity_of(t, A, &id, &e), 0); /* its own user first */
    assert_int_equal(id.uid, nuid);
    tenant_free(t);
    credentials_free(c);
    /* An account's user that does not exist stops the start, naming it. */
    c = two_accounts("openhpo-no-such-user");
    tenant_config m3 = {.creds = c};
    assert_null(tenant_new(&m3, &e));
    assert_non_null(strstr(e.msg, "account " A " (credentials[0])"));
    assert_non_null(strstr(e.msg, "'openhpo-no-such-user' does not exist"));
    credentials_free(c);
    /* A name other than "root" with uid 0 is refused (if the system has one). */
    struct passwd *z = NULL;
    setpwent();
    while ((z = getpwent()))
        if (z->pw_uid == 0 && strcmp(z->pw_name, "root"))
            break;
    if (z) {
        char name[64];
        snprintf(name, sizeof name, "%s", z->pw_name);
        tenant_config m4 = {.run_as = name};
        assert_null(tenant_new(&m4, &e));
        assert_non_null(strstr(e.msg, "uid 0"));
    }
    endpwent();
}

static void test_images(void **unused) {
    json_error_t je;
    json_t *cat =
        json_loads("{\"pub\": [\"/bin/true\"],"
                   " \"only-b\": {\"command\": [\"/bin/true\"], \"accounts\": [\"" B "\"]}}",
                   0, &je);
    assert_non_null(cat);
    err_t e = {0};
    image_spec s;
    credentials *c = two_accounts(some_user());
    tenant_config m = {.creds = c};
    tenant *t = tenant_new(&m, &e);
    assert_non_null(t);
    image_policy pa = tenant_image_policy(t, A), pb = tenant_image_policy(t, B);
    assert_int_equal(image_resolve(cat, "pub", &pa, "F", &s, &e), 0);
    image_clear(&s);
    assert_int_equal(image_resolve(cat, "only-b", &pb, "F", &s, &e), 0);
    image_clear(&s);
    /* A is told the same as for an image that does not exist. */
    assert_int_equal(image_resolve(cat, "only-b", &pa, "F", &s, &e), ERR_VALIDATION);
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", e.msg);
    assert_int_equal(image_resolve(cat, "no-such", &pa, "F", &s, &e), ERR_VALIDATION);
    char *p = strstr(msg, "'only-b'"), *q = strstr(e.msg, "'no-such'");
    assert_non_null(p);
    assert_non_null(q);
    assert_string_equal(p + strlen("'only-b'"), q + strlen("'no-such'"));
    /* Host programs: refused, naming the option, by path and file://. */
    assert_int_equal(image_resolve(cat, "/bin/sh", &pa, "F", &s, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "--allow-host-programs"));
    assert_int_equal(image_resolve(cat, "file:///bin/sh", &pa, "F", &s, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "--allow-host-programs"));
    tenant_free(t);
    tenant_config m2 = {.creds = c, .allow_host_programs = 1};
    assert_non_null(t = tenant_new(&m2, &e));
    pa = tenant_image_policy(t, A);
    assert_int_equal(image_resolve(cat, "/bin/sh", &pa, "F", &s, &e), 0);
    image_clear(&s);
    assert_int_equal(image_resolve(cat, "only-b", &pa, "F", &s, &e), ERR_VALIDATION);
    tenant_free(t);
    /* One-user mode: as before. */
    image_policy po = tenant_image_policy(NULL, A);
    assert_int_equal(image_resolve(cat, "/bin/sh", &po, "F", &s, &e), 0);
    image_clear(&s);
    credentials_free(c);
    json_decref(cat);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_keys),
        cmocka_unit_test(test_file_roots),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_images),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
