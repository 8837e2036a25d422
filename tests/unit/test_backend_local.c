/* Unit tests of the local backend through backend.h's wrappers, with real
 * hpo-runner processes (HPO_RUNNER_BIN, or ../hpo-runner next to this test's
 * directory) on a real loop: launch and result, exec failures at launch,
 * log reads, the stop escalation of a SIGSTOPped runner, the kill of what a
 * job leaves behind, model packing (by hpo-pack, next to the runner) and an
 * unwritable result. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend.h"
#include "loop.h"
#include "util.h"

static char runner[4096];
static char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};

typedef struct {
    loop *l;
    backend *b;
    char dir[256];
    char handle[BACKEND_HANDLE_MAX];
    backend_watch *w;
    int ended;
    int64_t deadline;
} fixture;

static void on_end(void *ud) {
    fixture *f = ud;
    f->ended = 1;
    loop_stop(f->l);
}

static void on_tick(loop *l, void *ud) {
    fixture *f = ud;
    if (util_mono_ms() >= f->deadline)
        loop_stop(l);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    err_t e = {0};
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_backend_local.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->l = loop_new();
    assert_non_null(f->l);
    backend_env env = {.l = f->l, .runner_path = runner, .log_cap = 1 << 20};
    f->b = backend_new("local", &env, &e);
    assert_non_null(f->b);
    loop_set_tick(f->l, 20, on_tick, f);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    backend_unwatch(f->b, f->w);
    backend_free(f->b);
    loop_free(f->l);
    util_rm_rf(f->dir);
    free(f);
    return 0;
}

/* Starts `sh -c script` (argv: sh -c SCRIPT sh train). 0 or the error. */
static int start_sh(fixture *f, const char *script, long grace, const char *output_path, err_t *e) {
    char *argv[] = {"/bin/sh", "-c", (char *)script, "sh", "train", NULL};
    backend_launch bl = {.name = "job1",
                         .job_dir = f->dir,
                         .argv = argv,
                         .envp = envp,
                         .grace = grace,
                         .output_path = output_path};
    return backend_start(f->b, &bl, f->handle, e);
}

/* Watches the job and runs the loop until it ends (or `secs` pass). */
static void run_until_end(fixture *f, int secs) {
    backend_state s = backend_watch_job(f->b, f->dir, f->handle, on_end, f, &f->w);
    assert_int_equal(s, BACKEND_RUNNING);
    assert_non_null(f->w);
    f->deadline = util_mono_ms() + secs * 1000;
    loop_run(f->l);
    assert_true(f->ended);
}

static int alive(int pid) {
    return pid > 0 && util_proc_starttime(pid) != 0;
}

static int read_pid(const char *path) {
    char *s = util_read_file(path, 32, NULL);
    int pid = s ? atoi(s) : 0;
    free(s);
    return pid;
}

static void test_registry(void **state) {
    fixture *f = *state;
    err_t e = {0};
    backend_env env = {.l = f->l, .runner_path = runner};
    assert_null(backend_new("nosuch", &env, &e));
    assert_int_equal(e.code, ERR_VALIDATION);
    assert_string_equal(backend_name(f->b), "local");
    assert_int_equal(backend_caps(f->b), BACKEND_CAP_HOST_DIR | BACKEND_CAP_PACKS_MODEL);
}

static void test_exit_code_and_log(void **state) {
    fixture *f = *state;
    err_t e = {0};
    char buf[64];
    assert_int_equal(start_sh(f, "echo hello; echo world >&2; exit 3", 5, NULL, &e), 0);
    assert_true(strlen(f->handle) > 0);
    run_until_end(f, 10);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_true(r.exited);
    assert_int_equal(r.code, 3);
    assert_false(r.stopped);
    assert_false(r.result_unwritable);
    assert_string_equal(r.model_uri, "");
    ssize_t n = backend_read_log(f->b, f->dir, f->handle, 0, buf, sizeof buf - 1);
    assert_int_equal(n, 12);
    buf[n] = 0;
    assert_string_equal(buf, "hello\nworld\n");
    n = backend_read_log(f->b, f->dir, f->handle, 6, buf, 3);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "wor", 3);
    assert_int_equal(backend_read_log(f->b, f->dir, f->handle, 100, buf, sizeof buf), 0);
    /* A job that has not written a log yet: nothing, not an error. */
    assert_int_equal(backend_read_log(f->b, "/nonexistent", "", 0, buf, sizeof buf), 0);
}

static void test_program_exec_failure_at_launch(void **state) {
    fixture *f = *state;
    err_t e = {0};
    char *argv[] = {"/nonexistent/prog", "train", NULL};
    backend_launch bl = {.name = "job1", .job_dir = f->dir, .argv = argv, .envp = envp};
    int64_t t0 = util_mono_ms();
    assert_int_equal(backend_start(f->b, &bl, f->handle, &e), ERR_VALIDATION);
    assert_true(util_mono_ms() - t0 < 2000);
    assert_string_equal(e.msg, "cannot execute /nonexistent/prog: No such file or directory");
    assert_string_equal(f->handle, "");
    /* Nothing is left running, and no result claims the job ran. */
    backend_watch *w = NULL;
    assert_int_not_equal(backend_watch_job(f->b, f->dir, "", on_end, f, &w), BACKEND_RUNNING);
    assert_null(w);
}

static void test_runner_exec_failure_at_launch(void **state) {
    fixture *f = *state;
    err_t e = {0};
    backend_env env = {.l = f->l, .runner_path = "/nonexistent/hpo-runner"};
    backend *b = backend_new("local", &env, &e);
    assert_non_null(b);
    char *argv[] = {"/bin/true", "train", NULL};
    backend_launch bl = {.name = "job1", .job_dir = f->dir, .argv = argv, .envp = envp};
    assert_int_equal(backend_start(b, &bl, f->handle, &e), ERR_VALIDATION);
    assert_string_equal(e.msg, "cannot execute /nonexistent/hpo-runner: No such file or directory");
    backend_free(b);
}

static void test_stop_escalates_past_a_stopped_runner(void **state) {
    fixture *f = *state;
    err_t e = {0};
    int rpid = 0, cpid = 0;
    assert_int_equal(start_sh(f, "exec sleep 100", 1, NULL, &e), 0);
    assert_int_equal(sscanf(f->handle, "%d:%*u:%d", &rpid, &cpid), 2);
    assert_true(alive(rpid) && alive(cpid));
    kill(rpid, SIGSTOP);
    int64_t t0 = util_mono_ms();
    assert_int_equal(backend_stop(f->b, f->dir, f->handle), 0);
    assert_int_equal(backend_stop(f->b, f->dir, f->handle), 0); /* idempotent */
    assert_true(util_mono_ms() - t0 < 100);                     /* never blocks */
    run_until_end(f, 10);
    int64_t took = util_mono_ms() - t0;
    assert_true(took >= 1000 && took < 4500); /* grace 1 s + margin 2 s */
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_LOST);
    assert_false(alive(rpid));
    assert_false(alive(cpid));
}

static void test_stop_of_a_live_runner(void **state) {
    fixture *f = *state;
    err_t e = {0};
    assert_int_equal(start_sh(f, "trap 'exit 7' TERM; while :; do sleep 0.05; done", 5, NULL, &e),
                     0);
    usleep(200000);
    assert_int_equal(backend_stop(f->b, f->dir, f->handle), 0);
    run_until_end(f, 10);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_true(r.stopped);
    assert_true(r.exited);
    assert_int_equal(r.code, 7);
}

static void test_setsid_grandchild_is_killed(void **state) {
    fixture *f = *state;
    err_t e = {0};
    char script[600], pidf[300];
    snprintf(pidf, sizeof pidf, "%s.pid", f->dir);
    snprintf(script, sizeof script, "setsid sleep 300 & echo $! > %s; sleep 0.2; exit 0", pidf);
    assert_int_equal(start_sh(f, script, 5, NULL, &e), 0);
    run_until_end(f, 10);
    int pid = read_pid(pidf);
    unlink(pidf);
    assert_true(pid > 0);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_int_equal(r.code, 0);
    int gone = !alive(pid);
    if (!gone)
        kill(pid, SIGKILL);
    assert_true(gone);
}

static void test_model_is_packed_before_the_result(void **state) {
    fixture *f = *state;
    err_t e = {0};
    char out[300], uri[400], want[700];
    snprintf(out, sizeof out, "%s.out", f->dir);
    snprintf(uri, sizeof uri, "file://%s", out);
    assert_int_equal(start_sh(f, "mkdir -p model && echo weights > model/w.txt", 5, uri, &e), 0);
    run_until_end(f, 10);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_int_equal(r.code, 0);
    snprintf(want, sizeof want, "file://%s/job1/output/model.tar.gz", out);
    assert_string_equal(r.model_uri, want);
    assert_string_equal(r.model_error, "");
    struct stat st;
    assert_int_equal(stat(want + 7, &st), 0);
    assert_true(st.st_size > 0);
    util_rm_rf(out);
}

static void test_model_error_is_reported(void **state) {
    fixture *f = *state;
    err_t e = {0};
    /* The output location cannot be created: packing fails and says why. */
    assert_int_equal(start_sh(f, "exit 0", 5, "file:///proc/openhpo-no-such-dir", &e), 0);
    run_until_end(f, 10);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_string_equal(r.model_uri, "");
    assert_non_null(strstr(r.model_error, "cannot create /proc/openhpo-no-such-dir"));
}

/* A copy of hpo-runner in DIR.bin, beside an hpo-pack that is the shell
 * script `pack_sh` (none when NULL); a backend that runs it to *b. */
static void private_runner(fixture *f, const char *pack_sh, char *path, size_t n, backend **b) {
    char cmd[1200], bin[300];
    err_t e = {0};
    snprintf(bin, sizeof bin, "%s.bin", f->dir);
    snprintf(path, n, "%s/hpo-runner", bin);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir '%s' && cp '%s' '%s'", bin, bin, runner, path);
    assert_int_equal(system(cmd), 0);
    if (pack_sh) {
        char pack[400], *script = NULL;
        snprintf(pack, sizeof pack, "%s/hpo-pack", bin);
        assert_true(asprintf(&script, "#!/bin/sh\n%s\n", pack_sh) > 0);
        assert_int_equal(util_write_file(pack, script, strlen(script), UTIL_WRITE_PLAIN), 0);
        assert_int_equal(chmod(pack, 0755), 0);
        free(script);
    }
    backend_env env = {.l = f->l, .runner_path = path, .log_cap = 1 << 20};
    *b = backend_new("local", &env, &e);
    assert_non_null(*b);
}

static void test_missing_packer_fails_at_launch(void **state) {
    fixture *f = *state;
    err_t e = {0};
    char path[400], want[600], bin[300];
    backend *b = NULL;
    private_runner(f, NULL, path, sizeof path, &b);
    char *argv[] = {"/bin/true", "train", NULL};
    backend_launch bl = {.name = "job1", .job_dir = f->dir, .argv = argv, .envp = envp};
    /* No model to pack: hpo-pack is not needed. */
    assert_int_equal(backend_start(b, &bl, f->handle, &e), 0);
    while (waitpid(-1, NULL, 0) > 0)
        ;
    /* A model to pack and nothing to pack it with: the launch says so. */
    bl.output_path = "file:///tmp";
    assert_int_equal(backend_start(b, &bl, f->handle, &e), ERR_VALIDATION);
    snprintf(bin, sizeof bin, "%s.bin", f->dir);
    snprintf(want, sizeof want, "hpo-runner: cannot find %s/hpo-pack: No such file or directory",
             bin);
    assert_string_equal(e.msg, want);
    backend_free(b);
    util_rm_rf(bin);
}

/* An hpo-pack that does not report: each way is a model error naming it. */
static void test_packer_without_report_is_a_model_error(void **state) {
    fixture *f = *state;
    const char *cases[][2] = {
        /* a flood of output, no report: read up to the cap, the rest dropped */
        {"head -c 300000 /dev/zero | tr '\\0' x; exit 0", "exited with status 0 without a report"},
        {"kill -9 $$", "was killed by signal 9 while packing the model"},
        {"echo 'ok file:///x'; exit 3", "exited with status 3 without a report"},
        {"echo 'error it broke'; exit 1", "it broke"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err_t e = {0};
        char path[400], bin[300];
        backend *b = NULL;
        private_runner(f, cases[i][0], path, sizeof path, &b);
        char *argv[] = {"/bin/true", "train", NULL};
        backend_launch bl = {.name = "job1",
                             .job_dir = f->dir,
                             .argv = argv,
                             .envp = envp,
                             .output_path = "file:///tmp"};
        assert_int_equal(backend_start(b, &bl, f->handle, &e), 0);
        while (waitpid(-1, NULL, 0) > 0)
            ;
        backend_result r;
        assert_int_equal(backend_result_of(b, f->dir, f->handle, &r), BACKEND_EXITED);
        assert_int_equal(r.code, 0);
        assert_string_equal(r.model_uri, "");
        if (!strstr(r.model_error, cases[i][1]))
            fail_msg("case %zu: model_error \"%s\"", i, r.model_error);
        backend_free(b);
        snprintf(bin, sizeof bin, "%s.bin", f->dir);
        util_rm_rf(bin);
    }
}

static void test_unwritable_result_is_not_lost(void **state) {
    fixture *f = *state;
    err_t e = {0};
    /* exit.json made a non-empty directory: the result cannot be renamed in. */
    assert_int_equal(start_sh(f, "mkdir -p exit.json/x", 5, NULL, &e), 0);
    run_until_end(f, 10);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_true(r.result_unwritable);
    assert_non_null(strstr(r.error, "could not be written"));
}

static void test_killed_runner_is_lost(void **state) {
    fixture *f = *state;
    err_t e = {0};
    int rpid = 0, cpid = 0;
    assert_int_equal(start_sh(f, "exec sleep 100", 5, NULL, &e), 0);
    assert_int_equal(sscanf(f->handle, "%d:%*u:%d", &rpid, &cpid), 2);
    /* Watched first: a runner killed before the watch is (rightly) reported
     * lost at once by the watch itself. */
    assert_int_equal(backend_watch_job(f->b, f->dir, f->handle, on_end, f, &f->w), BACKEND_RUNNING);
    assert_non_null(f->w);
    kill(rpid, SIGKILL);
    f->deadline = util_mono_ms() + 10 * 1000;
    loop_run(f->l);
    assert_true(f->ended);
    backend_result r;
    memset(&r, 0, sizeof r);
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_LOST);
    assert_false(r.never_started); /* it ran: relaunching it spends a retry */
    for (int i = 0; i < 100 && alive(cpid); i++)
        usleep(10000);
    assert_false(alive(cpid));
}

/* A job directory the daemon prepared but never started a runner in (it
 * died first) is lost and never started: no retry is spent on it. */
static void test_never_started_job(void **state) {
    fixture *f = *state;
    backend_result r;
    memset(&r, 0, sizeof r);
    assert_int_equal(backend_result_of(f->b, f->dir, "", &r), BACKEND_LOST);
    assert_true(r.never_started);
}

static void test_adopted_after_a_restart(void **state) {
    fixture *f = *state;
    err_t e = {0};
    assert_int_equal(start_sh(f, "sleep 0.5; exit 4", 5, NULL, &e), 0);
    /* A new daemon: a new backend finds the job by its handle, or by the
     * pid files when the handle was never recorded. */
    backend_free(f->b);
    backend_env env = {.l = f->l, .runner_path = runner, .log_cap = 1 << 20};
    f->b = backend_new("local", &env, &e);
    assert_non_null(f->b);
    backend_watch *w = NULL;
    assert_int_equal(backend_watch_job(f->b, f->dir, "", on_end, f, &w), BACKEND_RUNNING);
    assert_non_null(w);
    backend_unwatch(f->b, w);
    backend_result r;
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_RUNNING);
    run_until_end(f, 10);
    assert_int_equal(backend_result_of(f->b, f->dir, f->handle, &r), BACKEND_EXITED);
    assert_int_equal(r.code, 4);
    /* Ended: watching again says so at once, and a stop is a no-op. */
    w = NULL;
    assert_int_equal(backend_watch_job(f->b, f->dir, f->handle, on_end, f, &w), BACKEND_EXITED);
    assert_null(w);
    assert_int_equal(backend_stop(f->b, f->dir, f->handle), 0);
}

int main(void) {
    const char *env = getenv("HPO_RUNNER_BIN");
    if (env && env[0]) {
        snprintf(runner, sizeof runner, "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", runner, sizeof runner - 32);
        if (n <= 0)
            return 1;
        runner[n] = 0;
        char *slash = strrchr(runner, '/'); /* BUILD/tests/test_backend_local */
        *slash = 0;
        slash = strrchr(runner, '/');
        snprintf(slash, sizeof runner - (size_t)(slash - runner), "/hpo-runner");
    }
    if (access(runner, X_OK)) {
        fprintf(stderr, "test_backend_local: no hpo-runner at %s (set HPO_RUNNER_BIN)\n", runner);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_code_and_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_program_exec_failure_at_launch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runner_exec_failure_at_launch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_escalates_past_a_stopped_runner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_of_a_live_runner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setsid_grandchild_is_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_is_packed_before_the_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_error_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_packer_fails_at_launch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packer_without_report_is_a_model_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_result_is_not_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_runner_is_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_started_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adopted_after_a_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
