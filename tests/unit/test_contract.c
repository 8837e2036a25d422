/* Unit tests of contract.c: the job's environment is built from a clean
 * slate (nothing of the caller's environment leaks in, PATH is the one
 * default, the request's Environment wins), the layout's ownership and
 * modes with and without run_as (run_as needs root: those tests skip with a
 * message otherwise), a relaunch's removal of a job directory the user has
 * written into, and the reading of the program's output/failure. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
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

#include "contract.h"
#include "util.h"

#define TEST_UID 65534 /* nobody on Debian */
#define TEST_GID 65534 /* nogroup */

typedef struct {
    char tmp[256]; /* scratch directory */
    char dir[300]; /* the job directory, inside it (not yet created) */
    char data[300], file[300];
    json_t *hp;
    req_channel ch[2];
    req_kv env[2];
    req_training_def def;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->tmp, sizeof f->tmp, "/tmp/test_contract.XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    snprintf(f->dir, sizeof f->dir, "%s/job", f->tmp);
    snprintf(f->data, sizeof f->data, "%s/data", f->tmp);
    snprintf(f->file, sizeof f->file, "%s/one.csv", f->tmp);
    assert_int_equal(mkdir(f->data, 0755), 0);
    assert_int_equal(util_write_file(f->file, "1,2\n", 4, UTIL_WRITE_PLAIN), 0);
    f->hp = json_pack("{s:s}", "lr", "0.1");
    assert_non_null(f->hp);
    static char dname[] = "train", fname[] = "extra";
    static char k1[] = "TZ", v1[] = "Europe/Paris", k2[] = "FOO", v2[] = "bar";
    char *du = NULL, *fu = NULL;
    assert_true(asprintf(&du, "file://%s", f->data) > 0);
    assert_true(asprintf(&fu, "file://%s", f->file) > 0);
    f->ch[0] = (req_channel){.name = dname, .uri = du};
    f->ch[1] = (req_channel){.name = fname, .uri = fu};
    f->env[0] = (req_kv){k1, v1};
    f->env[1] = (req_kv){k2, v2};
    f->def = (req_training_def){.channels = f->ch, .nchannels = 2, .env = f->env, .nenv = 2};
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    util_rm_rf(f->tmp);
    free(f->ch[0].uri);
    free(f->ch[1].uri);
    json_decref(f->hp);
    free(f);
    return 0;
}

static contract_job job_of(fixture *f, int run_as) {
    return (contract_job){.job_name = "job1",
                          .job_dir = f->dir,
                          .hyperparameters = f->hp,
                          .def = &f->def,
                          .run_as = run_as,
                          .uid = TEST_UID,
                          .gid = TEST_GID};
}

/* The value of `key` in env, or NULL; fails when it is there twice. */
static const char *env_get(char **env, const char *key) {
    const char *found = NULL;
    size_t n = strlen(key);
    for (char **p = env; *p; p++)
        if (!strncmp(*p, key, n) && (*p)[n] == '=') {
            if (found)
                fail_msg("%s is in the environment twice", key);
            found = *p + n + 1;
        }
    return found;
}

static int skip_unless_root(void) {
    if (geteuid() == 0)
        return 0;
    fprintf(stderr, "test_contract: not root: run_as cannot be tested (chown); skipped\n");
    return 1;
}

static void test_env_is_a_clean_slate(void **state) {
    fixture *f = *state;
    static const char *const leaks[] = {
        "OPENHPO_SECRET_TEST",   "LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_ENV", "PYTHONPATH",
        "AWS_SECRET_ACCESS_KEY", "LC_ALL",     "PYENV_VERSION"};
    for (size_t i = 0; i < sizeof leaks / sizeof *leaks; i++)
        assert_int_equal(setenv(leaks[i], "leaked-from-the-daemon", 1), 0);
    assert_int_equal(setenv("PATH", "/evil/bin:/usr/bin", 1), 0);
    assert_int_equal(setenv("HOME", "/root/daemon-home", 1), 0);
    assert_int_equal(setenv("LANG", "xx_XX.daemon", 1), 0);
    assert_int_equal(setenv("USER", "daemon-user", 1), 0);
    contract_job j = job_of(f, 0);
    char **env = contract_env(&j, "/opt/ml");
    assert_non_null(env);
    for (char **p = env; *p; p++)
        if (strstr(*p, "leaked-from-the-daemon") || strstr(*p, "daemon-home") ||
            strstr(*p, "/evil") || strstr(*p, "daemon-user") || strstr(*p, "xx_XX"))
            fail_msg("the daemon's environment leaked in: %s", *p);
    for (size_t i = 0; i < sizeof leaks / sizeof *leaks; i++)
        assert_null(env_get(env, leaks[i]));
    assert_string_equal(env_get(env, "PATH"), CONTRACT_DEFAULT_PATH);
    assert_string_equal(env_get(env, "HOME"), "/opt/ml");
    assert_string_equal(env_get(env, "LANG"), "C.UTF-8");
    /* The request's Environment comes last and wins, once. */
    assert_string_equal(env_get(env, "TZ"), "Europe/Paris");
    assert_string_equal(env_get(env, "FOO"), "bar");
    assert_string_equal(env_get(env, "SM_MODEL_DIR"), "/opt/ml/model");
    assert_string_equal(env_get(env, "SM_HP_LR"), "0.1");
    struct passwd *pw = getpwuid(geteuid());
    if (pw) {
        assert_string_equal(env_get(env, "USER"), pw->pw_name);
        assert_string_equal(env_get(env, "LOGNAME"), pw->pw_name);
    }
    contract_env_free(env);
    /* No Environment: TZ is the default. */
    f->def.nenv = 0;
    env = contract_env(&j, "/opt/ml");
    assert_non_null(env);
    assert_string_equal(env_get(env, "TZ"), "UTC");
    assert_null(env_get(env, "FOO"));
    contract_env_free(env);
    for (size_t i = 0; i < sizeof leaks / sizeof *leaks; i++)
        unsetenv(leaks[i]);
}

static void test_env_names_the_jobs_user(void **state) {
    fixture *f = *state;
    contract_job j = job_of(f, 1);
    j.home = "/home/tenant";
    char **env = contract_env(&j, "/opt/ml");
    assert_non_null(env);
    struct passwd *pw = getpwuid(TEST_UID);
    if (pw) {
        assert_string_equal(env_get(env, "USER"), pw->pw_name);
        assert_string_equal(env_get(env, "LOGNAME"), pw->pw_name);
    } else {
        assert_null(env_get(env, "USER"));
    }
    assert_string_equal(env_get(env, "HOME"), "/home/tenant");
    contract_env_free(env);
    /* A uid without a passwd entry: no USER rather than a wrong one. */
    j.uid = 4123456;
    env = contract_env(&j, "/opt/ml");
    assert_non_null(env);
    if (!getpwuid(j.uid))
        assert_null(env_get(env, "USER"));
    contract_env_free(env);
}

static void assert_owner(const char *dir, const char *sub, uid_t uid, gid_t gid, int mode) {
    char p[600];
    struct stat st;
    snprintf(p, sizeof p, "%s%s%s", dir, sub[0] ? "/" : "", sub);
    if (lstat(p, &st))
        fail_msg("%s: %s", p, strerror(errno));
    if (st.st_uid != uid || st.st_gid != gid)
        fail_msg("%s is %u:%u, not %u:%u", p, (unsigned)st.st_uid, (unsigned)st.st_gid,
                 (unsigned)uid, (unsigned)gid);
    if (mode >= 0 && (int)(st.st_mode & 07777) != mode)
        fail_msg("%s has mode %04o, not %04o", p, (unsigned)(st.st_mode & 07777), mode);
}

static void test_layout_without_run_as_is_unchanged(void **state) {
    fixture *f = *state;
    err_t e = {0};
    contract_job j = job_of(f, 0);
    assert_int_equal(contract_prepare(&j, &e), 0);
    uid_t u = geteuid();
    gid_t g = getegid();
    mode_t um = umask(0);
    umask(um);
    int d = 0777 & ~(int)um, fm = 0666 & ~(int)um;
    assert_owner(f->dir, "", u, g, d & 0755);
    static const char *const dirs[] = {"input",  "input/config", "input/data",  "model",
                                       "output", "output/data",  "checkpoints", "input/data/extra"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        assert_owner(f->dir, dirs[i], u, g, d & 0755);
    assert_owner(f->dir, "input/config/hyperparameters.json", u, g, fm & 0644);
    assert_owner(f->dir, "input/data/train", u, g, -1);
    /* A prepared directory can be prepared again (as before run_as). */
    assert_int_equal(contract_prepare(&j, &e), 0);
}

static void test_layout_with_run_as(void **state) {
    fixture *f = *state;
    err_t e = {0};
    if (skip_unless_root())
        skip();
    contract_job j = job_of(f, 1);
    assert_int_equal(chmod(f->tmp, 0711), 0); /* the user reaches the job directory */
    assert_int_equal(contract_prepare(&j, &e), 0);
    /* The job directory is the daemon's, passable, not listable. */
    assert_owner(f->dir, "", 0, 0, 0711);
    static const char *const dirs[] = {"input",  "input/config", "input/data",  "model",
                                       "output", "output/data",  "checkpoints", "input/data/extra"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        assert_owner(f->dir, dirs[i], TEST_UID, TEST_GID, 0700);
    static const char *const files[] = {"input/config/hyperparameters.json",
                                        "input/config/resourceconfig.json",
                                        "input/config/inputdataconfig.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        assert_owner(f->dir, files[i], TEST_UID, TEST_GID, -1);
    /* The links changed owner; what they point to never did. */
    assert_owner(f->dir, "input/data/train", TEST_UID, TEST_GID, -1);
    assert_owner(f->dir, "input/data/extra/one.csv", TEST_UID, TEST_GID, -1);
    assert_owner(f->data, "", 0, 0, 0755);
    assert_owner(f->file, "", 0, 0, -1);
    struct stat st;
    char p[600];
    snprintf(p, sizeof p, "%s/input/data/train", f->dir);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* Prepared again without removing it first: refused, nothing written
     * through what the user may have left there. */
    assert_int_equal(contract_prepare(&j, &e), ERR_INTERNAL);
    assert_non_null(strstr(e.msg, "exists already"));
    /* The relaunch's removal: the user wrote into its parts, links to
     * outside included; nothing outside is touched. */
    char outside[400], cmd[2000];
    snprintf(outside, sizeof outside, "%s/outside", f->tmp);
    assert_int_equal(mkdir(outside, 0755), 0);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && setpriv --reuid=%d --regid=%d --clear-groups sh -c '"
             "mkdir -p model/a/b && echo w > model/a/b/w && ln -s %s model/escape && "
             "ln -s %s/keep output/keep-link && mkdir output/locked && touch output/locked/f "
             "&& chmod 000 output/locked'",
             f->dir, TEST_UID, TEST_GID, outside, outside);
    snprintf(p, sizeof p, "%s/keep", outside);
    assert_int_equal(util_write_file(p, "k", 1, UTIL_WRITE_PLAIN), 0);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(util_rm_rf(f->dir), 0);
    assert_int_not_equal(access(f->dir, F_OK), 0);
    snprintf(p, sizeof p, "%s/keep", outside);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(access(f->data, F_OK), 0);
    assert_int_equal(access(f->file, F_OK), 0);
    /* ... and a fresh layout is made again. */
    assert_int_equal(contract_prepare(&j, &e), 0);
    assert_owner(f->dir, "model", TEST_UID, TEST_GID, 0700);
}

static void test_read_failure_only_from_the_programs_own_file(void **state) {
    fixture *f = *state;
    err_t e = {0};
    char out[CONTRACT_FAILURE_MAX + 1], p[600], secret[400];
    contract_job j = job_of(f, 0);
    assert_int_equal(contract_prepare(&j, &e), 0);
    snprintf(p, sizeof p, "%s/output/failure", f->dir);
    assert_int_equal(contract_read_failure(f->dir, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(util_write_file(p, "bad lr\n\n", 8, UTIL_WRITE_PLAIN), 0);
    assert_int_equal(contract_read_failure(f->dir, out, sizeof out), 1);
    assert_string_equal(out, "bad lr");
    /* A symlink or a hard link to a file the daemon can read: not read. */
    snprintf(secret, sizeof secret, "%s/secret", f->tmp);
    assert_int_equal(util_write_file(secret, "TOPSECRET", 9, UTIL_WRITE_PLAIN), 0);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink(secret, p), 0);
    assert_int_equal(contract_read_failure(f->dir, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(link(secret, p), 0);
    assert_int_equal(contract_read_failure(f->dir, out, sizeof out), 0);
    assert_string_equal(out, "");
    /* A FIFO does not block the daemon. */
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkfifo(p, 0644), 0);
    assert_int_equal(contract_read_failure(f->dir, out, sizeof out), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_is_a_clean_slate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_names_the_jobs_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout_without_run_as_is_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout_with_run_as, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_failure_only_from_the_programs_own_file, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
