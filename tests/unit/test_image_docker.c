/* Image resolution for container backends (image_resolve with image_policy.container_backend):
 * catalog entries naming an image, Docker image references with and without a container backend,
 * and what stays as it was (paths, programs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "image.h"

static const image_policy DOCKER = {.container_backend = "docker"};

static void test_catalog_image_entry(void **unused) {
    json_t *cat = json_loads("{\"a:1\": {\"backend\": \"docker\", \"image\": \"real/a:2\"},"
                             " \"b:1\": {\"backend\": \"docker\", \"image\": \"b:3\","
                             "           \"command\": [\"/bin/sh\", \"/run.sh\"]},"
                             " \"c:1\": {\"backend\": \"docker\", \"image\": \"Bad Name\"},"
                             " \"d:1\": {\"backend\": \"docker\", \"image\": 7}}",
                             0, NULL);
    image_spec s;
    err_t e = {0};
    assert_non_null(cat);
    assert_int_equal(image_resolve(cat, "a:1", NULL, "F", &s, &e), 0);
    assert_string_equal(s.backend, "docker");
    assert_int_equal(s.argc, 1);
    assert_string_equal(s.argv[0], "real/a:2");
    image_clear(&s);
    assert_int_equal(image_resolve(cat, "b:1", &DOCKER, "F", &s, &e), 0);
    assert_int_equal(s.argc, 3);
    assert_string_equal(s.argv[0], "b:3");
    assert_string_equal(s.argv[1], "/bin/sh");
    assert_string_equal(s.argv[2], "/run.sh");
    image_clear(&s);
    assert_int_equal(image_resolve(cat, "c:1", &DOCKER, "F", &s, &e), ERR_VALIDATION);
    assert_non_null(strstr(e.msg, "\"image\""));
    assert_int_equal(image_resolve(cat, "d:1", &DOCKER, "F", &s, &e), ERR_VALIDATION);
    json_decref(cat);
}

static void test_references_need_a_container_backend(void **unused) {
    image_spec s;
    err_t e = {0};
    const char *refs[] = {"x:tag", "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1",
                          "registry.local:5000/team/img@sha256:abc"};
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++) {
        assert_int_equal(image_resolve(NULL, refs[i], &DOCKER, "F", &s, &e), 0);
        assert_string_equal(s.backend, "docker");
        assert_int_equal(s.argc, 1);
        assert_string_equal(s.argv[0], refs[i]);
        image_clear(&s);
        memset(&e, 0, sizeof e);
        assert_int_equal(image_resolve(NULL, refs[i], NULL, "Img", &s, &e), ERR_VALIDATION);
        assert_non_null(strstr(e.msg, "Img: '"));
        assert_non_null(strstr(e.msg, "Docker, which is not configured or not reachable"));
    }
    /* Not references: a path of a missing file, spaces, "..". */
    const char *bad[] = {"/no/such/prog", "has space:1", "a/../b:1", "file:///x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(image_resolve(NULL, bad[i], &DOCKER, "F", &s, &e), ERR_VALIDATION);
}

static void test_paths_and_programs_stay_local(void **unused) {
    image_spec s;
    err_t e = {0};
    json_t *cat = json_loads("{\"t:1\": [\"/bin/true\", \"-x\"]}", 0, NULL);
    assert_int_equal(image_resolve(cat, "t:1", &DOCKER, "F", &s, &e), 0);
    assert_string_equal(s.backend, "local");
    assert_string_equal(s.argv[1], "-x");
    image_clear(&s);
    assert_int_equal(image_resolve(cat, "/bin/true", &DOCKER, "F", &s, &e), 0);
    assert_string_equal(s.backend, "local");
    image_clear(&s);
    /* Without a container backend, a reference is refused. */
    assert_int_equal(image_resolve(cat, "x:1", NULL, "F", &s, &e), ERR_VALIDATION);
    /* A multi-tenant policy refuses host programs, not container images. */
    image_policy mt = {
        .no_host_programs = 1, .account = "111111111111", .container_backend = "docker"};
    assert_int_equal(image_resolve(cat, "x:1", &mt, "F", &s, &e), 0);
    assert_string_equal(s.backend, "docker");
    image_clear(&s);
    assert_int_equal(image_resolve(cat, "/bin/true", &mt, "F", &s, &e), ERR_VALIDATION);
    json_decref(cat);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_image_entry),
        cmocka_unit_test(test_references_need_a_container_backend),
        cmocka_unit_test(test_paths_and_programs_stay_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
